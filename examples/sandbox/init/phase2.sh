#!/bin/sh
# Phase-2 bake: turns the base AMI into the AMI of one hostclass.
# asiaq runs it on the bake instance as
#   <data_destination>/init/phase2.sh HOSTCLASS REPO_IP|#None BAKE_ID
# An unquoted "#None" starts a shell comment, so REPO_IP and BAKE_ID may both be missing.
# POSIX sh only (runs under busybox too).
set -eu

HOSTCLASS="${1:?usage: phase2.sh HOSTCLASS [REPO_IP] [BAKE_ID]}"
REPO_IP="${2:-#None}"
BAKE_ID="${3:-none}"
DEST="$(cd "$(dirname "$0")/.." && pwd)"

mkdir -p /opt/wgen/etc
# Boot scripts and acfg1 read the hostclass from here.
echo "$HOSTCLASS" > /opt/wgen/etc/hostclass

# Overlay discoroot/ onto / (honouring ~hostclass variants and acfg.metadata) with the
# asiaq that "asiaq bake" installs on the bake instance, or the original's acfg1.py.
# (No redirection to /dev/null: minimal chroots may not have it.)
if [ -x "$DEST/asiaq/bin/asiaq" ]; then
    "$DEST/asiaq/bin/asiaq" acfg "$DEST/discoroot" / --hostclass "$HOSTCLASS"
else
    ACFG="$(command -v acfg1.py || true)"
    if [ -n "$ACFG" ]; then
        "$ACFG" "$DEST/discoroot" / --hostclass "$HOSTCLASS"
    fi
fi

# Hostclass-specific steps (init/<hostclass>.sh, created from template.sh).
if [ -f "$DEST/init/$HOSTCLASS.sh" ]; then
    sh "$DEST/init/$HOSTCLASS.sh" "$HOSTCLASS" "$REPO_IP" "$BAKE_ID"
fi

{
    echo "phase=2"
    echo "hostclass=$HOSTCLASS"
    echo "repo_ip=$REPO_IP"
    echo "bake_id=$BAKE_ID"
    echo "source=$DEST"
} > /opt/wgen/etc/bake-phase2.done

echo "phase 2 done for $HOSTCLASS (bake $BAKE_ID)"
