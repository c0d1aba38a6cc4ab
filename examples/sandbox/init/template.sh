#!/bin/sh
# Init script of hostclass $TEMPLATED_HOSTCLASS, run by init/phase2.sh during its bake.
# Created from init/template.sh by "asiaq bake create --hostclass $TEMPLATED_HOSTCLASS";
# the template's placeholders are the hostclass and the hostclass without "mhc".
# POSIX sh only (runs under busybox too).
set -eu

mkdir -p /opt/wgen/etc
# Hostclass-specific smoke-test checks go here.
echo "$TEMPLATED_NAME" > /opt/wgen/etc/init-$TEMPLATED_NAME.done
