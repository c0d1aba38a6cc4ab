#!/bin/sh
# [test] test_command: run by "asiaq deploy" on the test host (mhcadminproxy) as
#   run_integration_tests.sh <integration_test column of the pipeline>
set -eu
SUITE="${1:-}"
if [ -z "$SUITE" ]; then
    echo "usage: $0 SUITE" >&2
    exit 2
fi
echo "running integration test suite: $SUITE"
mkdir -p /var/tmp/asiaq
date > "/var/tmp/asiaq/integration-$SUITE.ran"
