#!/bin/sh
# Smoke test run at boot; the boot scripts tag the instance smoketest=tested when it passes.
set -eu
test -s /opt/wgen/etc/hostclass
echo "smoke test passed for $(cat /opt/wgen/etc/hostclass)"
