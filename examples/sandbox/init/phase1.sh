#!/bin/sh
# Phase-1 bake: turns the upstream image ([ubuntu_phase1] bake_ami) into the base AMI.
# asiaq runs it on the bake instance as
#   <data_destination>/init/phase1.sh HOSTCLASS REPO_IP|#None BAKE_ID
# An unquoted "#None" starts a shell comment, so REPO_IP and BAKE_ID may both be missing.
# POSIX sh only (runs under busybox too).
set -eu

HOSTCLASS="${1:?usage: phase1.sh HOSTCLASS [REPO_IP] [BAKE_ID]}"
REPO_IP="${2:-#None}"
BAKE_ID="${3:-none}"
DEST="$(cd "$(dirname "$0")/.." && pwd)"

mkdir -p /opt/wgen/etc
{
    echo "phase=1"
    echo "hostclass=$HOSTCLASS"
    echo "repo_ip=$REPO_IP"
    echo "bake_id=$BAKE_ID"
    echo "source=$DEST"
} > /opt/wgen/etc/bake-phase1.done

echo "phase 1 done for $HOSTCLASS (bake $BAKE_ID)"
