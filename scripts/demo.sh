#!/usr/bin/env bash
# The main job, end to end on this machine: builds asiaq, starts a local AWS (moto_server on a
# free loopback port, stopped on exit whatever happens), points asiaq at it and runs the
# environment lifecycle against the example configuration directory examples/sandbox.
#
# Steps come in two blocks:
#   * steps asiaq can do today; each must succeed;
#   * the lifecycle (create an environment, show it, bake, spin up, list hosts, spin down,
#     destroy). A lifecycle step runs only when the binary has its command
#     (`asiaq <group> <command> --help` succeeds); the first one that is not built yet ends
#     the lifecycle, and the teardown undoes what ran. So the script passes at every commit,
#     and each new capability shows up here by itself (append or refine its step below).
#
# Environment:
#   CARGO_TARGET_DIR   cargo target directory (default ~/.cache/asiaq-target)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CONFIG_DIR=$ROOT/examples/sandbox
PIPELINE=pipelines/demo.csv
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/asiaq-target}

say() { echo "$*" >&2; }
die() {
    say "demo: $*"
    exit 1
}

# --- prerequisites and the binary ---------------------------------------------------------
"$ROOT/scripts/setup.sh"
say "==> building asiaq (target dir: $CARGO_TARGET_DIR)"
# Built as the test command builds it (the whole workspace, tests included), so the demo and
# `scripts/test.sh` share one build of the AWS SDK: a narrower build (`-p asiaq`) resolves
# other features and compiles the SDK a second time.
(cd "$ROOT" && cargo test --locked --workspace --no-run)
ASIAQ=$CARGO_TARGET_DIR/debug/asiaq
[ -x "$ASIAQ" ] || die "no binary at $ASIAQ after the build"

# --- a local AWS ------------------------------------------------------------------------------
PYTHON=$ROOT/.venv/bin/python
WORK=$(mktemp -d "${TMPDIR:-/tmp}/asiaq-demo.XXXXXX")
MOTO_PID=
# The ssh test host for bakes (started below when bakes run).
SSHD_DIR=
SUDO=
stop_ssh_host() {
    if [ -n "$SSHD_DIR" ] && [ -f "$SSHD_DIR/sshd.pid" ]; then
        $SUDO kill "$(cat "$SSHD_DIR/sshd.pid")" 2>/dev/null || true
    fi
}
stop_moto() {
    local status=$?
    stop_ssh_host
    if [ -n "$MOTO_PID" ]; then
        kill "$MOTO_PID" 2>/dev/null || true
        wait "$MOTO_PID" 2>/dev/null || true
    fi
    if [ "$status" -ne 0 ] && [ -s "$WORK/moto.log" ]; then
        say "--- last lines of the moto_server log ---"
        tail -n 20 "$WORK/moto.log" >&2
    fi
    rm -rf "$WORK"
    exit "$status"
}
trap stop_moto EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PORT=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ENDPOINT=http://127.0.0.1:$PORT
say "==> starting moto_server on $ENDPOINT"
# As in the test fixture: no stock AMIs (faster listings; the demo makes the images it uses).
MOTO_EC2_LOAD_DEFAULT_AMIS=false MOTO_ACM_VALIDATION_WAIT=0 \
    "$ROOT/.venv/bin/moto_server" -H 127.0.0.1 -p "$PORT" >"$WORK/moto.log" 2>&1 &
MOTO_PID=$!
"$PYTHON" - "$ENDPOINT" "$MOTO_PID" <<'PY' || die "moto_server did not start"
import os, sys, time, urllib.request
endpoint, pid = sys.argv[1], int(sys.argv[2])
deadline = time.time() + 60
while time.time() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("moto_server exited")
    try:
        urllib.request.urlopen(urllib.request.Request(endpoint + "/moto-api/reset", method="POST"), timeout=5)
        sys.exit(0)
    except OSError:
        time.sleep(0.2)
sys.exit("moto_server did not answer within 60 s")
PY

# asiaq talks to moto only: dummy credentials of moto's default account (123456789012, the
# account examples/sandbox/iam/s3 is written for), no profile or credential file of the user.
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE
export AWS_ENDPOINT_URL=$ENDPOINT
export AWS_ACCESS_KEY_ID=demo-access-key
export AWS_SECRET_ACCESS_KEY=demo-secret-key
export AWS_REGION=us-west-2 AWS_DEFAULT_REGION=us-west-2
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export AWS_EC2_METADATA_DISABLED=true
# moto answers operations it does not implement with HTTP 500, which the SDK would retry.
export ASIAQ_MAX_ATTEMPTS=2
# The configuration directory; also the working directory (pipeline paths are relative to it).
export ASIAQ_CONFIG=$CONFIG_DIR
cd "$CONFIG_DIR"
# moto cannot start instances from a launch template with a provisioned-IOPS (io1) volume (it
# drops the template's Iops and refuses the volume), so against moto the pipeline's extra disk
# of mhcapp keeps its size but not its iops; the integration tests do the same.
MOTO_PIPELINE=$WORK/demo_moto.csv
sed 's/^\(2,mhcapp,[^,]*,[^,]*,[^,]*,[^,]*,[^,]*\),1000,/\1,,/' "$PIPELINE" >"$MOTO_PIPELINE"
grep -q '^2,mhcapp,.*,50,,' "$MOTO_PIPELINE" || die "$PIPELINE changed: update the moto copy above"

# --- step machinery -----------------------------------------------------------------------
N=0
PASSED=()
SKIPPED=()
declare -A DONE=()

# run_step TITLE ARGS...: runs `asiaq ARGS...`; returns its exit status.
run_step() {
    local title=$1 status=0
    shift
    N=$((N + 1))
    say ""
    say "==> [$N] $title"
    say "    \$ asiaq $*"
    "$ASIAQ" "$@" || status=$?
    if [ "$status" -eq 0 ]; then
        PASSED+=("$title")
        DONE[$title]=1
    fi
    return "$status"
}

# step TITLE ARGS...: a step asiaq can do today; the demo fails with it.
step() {
    local title=$1 status=0
    run_step "$@" || status=$?
    [ "$status" -eq 0 ] || die "step [$N] '$title' failed (exit $status)"
}

# built GROUP COMMAND: true when the binary has `asiaq GROUP COMMAND`.
built() {
    "$ASIAQ" "$1" "$2" --help >/dev/null 2>&1
}

# lifecycle TITLE GROUP COMMAND ARGS...: runs when built and every lifecycle step before it ran.
LIFECYCLE_STOPPED=
lifecycle() {
    local title=$1 group=$2 command=$3 status=0
    shift 3
    if [ -z "$LIFECYCLE_STOPPED" ] && ! built "$group" "$command"; then
        LIFECYCLE_STOPPED="\`asiaq $group $command\` is not built yet"
    fi
    if [ -n "$LIFECYCLE_STOPPED" ]; then
        SKIPPED+=("$title")
        return 0
    fi
    run_step "$title" "$group" "$command" "$@" || status=$?
    [ "$status" -eq 0 ] || die "step [$N] '$title' failed (exit $status)"
}

# teardown AFTER TITLE GROUP COMMAND ARGS...: undoes lifecycle step AFTER if it ran.
teardown() {
    local after=$1 title=$2 group=$3 command=$4 status=0
    shift 4
    [ -n "${DONE[$after]:-}" ] || return 0
    if ! built "$group" "$command"; then
        SKIPPED+=("$title")
        return 0
    fi
    run_step "$title" "$group" "$command" "$@" || status=$?
    [ "$status" -eq 0 ] || die "step [$N] '$title' failed (exit $status)"
}

# --- an SSH host for bakes ------------------------------------------------------------------
# start_ssh_host: starts the confined sshd; returns 1 when it cannot (not root, no sudo -n).
start_ssh_host() {
    if [ "$(id -u)" -ne 0 ]; then
        sudo -n true 2>/dev/null || return 1
        SUDO="sudo -n"
    fi
    local key=$WORK/bake_key port chroot
    ssh-keygen -q -t ed25519 -N '' -C asiaq-demo -f "$key"
    port=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    SSHD_DIR=/run/asiaq-sshd/demo-$$
    chroot=$SSHD_DIR/chroot
    say "==> starting a confined sshd on 127.0.0.1:$port to play the bake instances"
    # It stops by itself when this script exits (it watches our pid).
    $SUDO sh "$ROOT/crates/asiaq-testkit/src/sshd.sh" "$SSHD_DIR" "$port" "$key.pub" $$ \
        >"$WORK/sshd.log" 2>&1 &
    "$PYTHON" - "$port" <<'PY' || { cat "$WORK/sshd.log" >&2; die "the ssh test host did not start"; }
import socket, sys, time
deadline = time.time() + 30
while time.time() < deadline:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.2)
sys.exit(1)
PY
    # The asiaq the bake installs on the "instance" (for `asiaq acfg` in init/phase2.sh) is
    # dynamically linked: give the chroot its libraries, as a real image has them.
    local lib
    for lib in $(ldd "$ASIAQ" | grep -o '/[^ ]*'); do
        [ -e "$chroot$lib" ] || { $SUDO mkdir -p "$chroot${lib%/*}" && $SUDO cp -L "$lib" "$chroot$lib"; }
    done
    # As EC2 puts the key pair on every new instance, the proxy puts root's key back when a
    # bake removed it before making its image.
    export ASIAQ_BAKE_SSH_PROXY_COMMAND="sh -c '[ -e $chroot/root/.ssh/authorized_keys ] || $SUDO cp $key.pub $chroot/root/.ssh/authorized_keys; exec nc 127.0.0.1 $port'"
    export ASIAQ_SSH_IDENTITY=$key ASIAQ_SSH_CONFIG=/dev/null
}
# create_instance_profile NAME: the bake instance profile ([bake] bake_instance_profile), which
# `asiaq iam` would create; made here through the AWS API of moto.
create_instance_profile() {
    "$PYTHON" - "$1" <<'PY'
import sys, boto3
boto3.client("iam").create_instance_profile(InstanceProfileName=sys.argv[1])
PY
}

# create_bucket NAME: a bucket in the region in use, made through the AWS API of moto.
create_bucket() {
    "$PYTHON" - "$1" <<'PY'
import sys, boto3
s3 = boto3.client("s3")
s3.create_bucket(Bucket=sys.argv[1], CreateBucketConfiguration={"LocationConstraint": s3.meta.region_name})
PY
}

# create_hosted_zone NAME: the environment's DNS zone (domain_name of disco_aws.ini), which
# an operator makes once per account; made here through the AWS API of moto.
create_hosted_zone() {
    "$PYTHON" - "$1" <<'PY'
import sys, boto3
boto3.client("route53").create_hosted_zone(Name=sys.argv[1], CallerReference="asiaq-demo")
PY
}

# --- what asiaq does today ----------------------------------------------------------------
step "validate the configuration directory" config validate
step "show the AWS identity in use (moto's default account)" whoami
step "one read-only call to every AWS service" doctor

# --- the lifecycle --------------------------------------------------------------------------
lifecycle "create environment demo" vpc create --name demo --type sandbox
lifecycle "show the environments" vpc list --type
# Bakes run in the bakery environment ([bake] bakery_environment=build) and reach the bake
# instance over ssh. moto's instances run nothing, so the confined sshd of the test kit
# (crates/asiaq-testkit/src/sshd.sh, a busybox chroot; needs root or `sudo -n`) plays every
# bake instance: asiaq reaches it under the address moto reports through [bake]
# ssh_proxy_command, set for the demo only by its environment override.
lifecycle "create the bakery environment build" vpc create --name build --type sandbox
if [ -z "$LIFECYCLE_STOPPED" ] && built bake bake; then
    if start_ssh_host; then
        create_instance_profile instance_example_common
        lifecycle "bake the phase-1 base image" bake bake
        PHASE1=$("$ASIAQ" bake listlatestami --stage untested --hostclass ubuntu_phase1 | cut -f1 -d' ')
        lifecycle "promote the phase-1 image $PHASE1 to tested" bake promote --ami "$PHASE1" --stage tested
        for hostclass in $(tail -n +2 "$PIPELINE" | cut -d, -f2 | sort -u); do
            lifecycle "bake $hostclass" bake bake --hostclass "$hostclass"
        done
        lifecycle "list the images" bake listamis
    else
        LIFECYCLE_STOPPED="bakes need an SSH test host (root or sudo -n to run sshd in a chroot)"
        SKIPPED+=("bake the phase-1 base image and the hostclasses of $PIPELINE")
    fi
fi
# moto's instances run nothing, so none ever tags itself `smoketest` (the smoke test of a
# real instance); the demo does not wait for it.
lifecycle "spin up $PIPELINE in demo" aws spinup --env demo --pipeline "$MOTO_PIPELINE" --no-smoke-test
lifecycle "list the hosts of demo" aws listhosts --env demo --most
# demo is a sandbox too (sandboxes/demo/pipeline.csv): its plan finds the environment and
# every group of that pipeline already up, so it changes nothing.
lifecycle "plan the sandbox demo: environment and pipeline are up (dry run)" sandbox demo --dry-run
# SSM: the documents of ssm/documents/ (a dry run first, with the plan), then Run Command of
# one of them on the hosts of mhcweb (moto ends every invocation at once, with no output).
lifecycle "plan the SSM documents (dry run)" ssm update-documents --dry-run
lifecycle "create the SSM documents" ssm update-documents
lifecycle "list the SSM documents" ssm list-documents --headers
lifecycle "run the example-run document on mhcweb" aws exec-ssm --env demo --document example-run --hostclass mhcweb --parameters "message=hello from the demo"
# DNS: the load balancer of mhcweb with its CNAME, and a record written by hand.
if [ -z "$LIFECYCLE_STOPPED" ] && built route53 create-record; then
    create_hosted_zone sandbox.example.com
fi
lifecycle "create or update the load balancer of mhcweb and its CNAME" elb create --env demo --hostclass mhcweb
lifecycle "plan a DNS record (dry run)" route53 create-record sandbox.example.com db.sandbox.example.com A 10.101.0.10 --dry-run
lifecycle "write the DNS record" route53 create-record sandbox.example.com db.sandbox.example.com A 10.101.0.10
lifecycle "list the DNS records of sandbox.example.com" route53 list-records --zone sandbox.example.com
# A picture of the environment: metanetworks by zone, hosts, load balancers, rule arrows.
PICTURE=${ASIAQ_DEMO_PICTURE:-${TMPDIR:-/tmp}/asiaq-demo-environment.html}
lifecycle "draw the environment demo into $PICTURE" vpc show --name demo --format html --out "$PICTURE"
# Dry runs print the one plan format (+/~/- per change, grouped by resource, with a count).
lifecycle "plan the IAM sync of demo (dry run)" iam update --environment demo --dry-run
lifecycle "plan destroying demo, its hosts included (dry run)" vpc destroy --name demo --dry-run

# --- DynamoDB: a table of demo (examples/sandbox/dynamodb), its update plan, a native backup
step "create DynamoDB table notices of demo" \
    dynamodb create --env demo --config dynamodb/notices.json --wait
step "plan the original's sample update of notices (dry run)" \
    dynamodb update --env demo --table notices --config dynamodb/notices-capacity.json --dry-run
step "back up notices" dynamodb backup --env demo --table notices --name notices-demo-1
step "list the backups of demo's tables" dynamodb list-backups --env demo
step "delete notices" dynamodb delete --env demo --table notices --yes --wait

# --- bootstrap: app_conf/demo/ and SSH keys into demo's credential bucket, the account's
# buckets and trail
# The bucket is made directly: `buckets update` would also give it the example's policy,
# which denies plain HTTP, and moto serves nothing else.
if built app-conf update && [ -z "$LIFECYCLE_STOPPED" ]; then
    create_bucket us-west-2.example.credentials.demo
fi
lifecycle "plan the upload of app_conf/demo (dry run)" app-conf update --env demo --dry-run
lifecycle "upload app_conf/demo to demo's credential bucket" app-conf update --env demo
lifecycle "upload app_conf/demo again: nothing differs" app-conf update --env demo
lifecycle "plan new SSH keys for demo (dry run)" keys rotate --env demo --dry-run
lifecycle "make new SSH keys for demo in its credential bucket" keys rotate --env demo
# The whole setup of the account as one command, planned: its buckets, the trail, IAM, then
# demo's secrets, keys and app_conf (run before the buckets get the example's policies, which
# deny the plain HTTP moto serves).
step "plan setting up the account and demo (dry run)" account init --account 123456789012 --dry-run
# Managed services of demo: the Redis cluster of disco_elasticache.ini and the database of
# disco_rds.ini (its master password from demo's credential bucket), each with its CNAME.
lifecycle "plan the ElastiCache cluster cache of demo (dry run)" elasticache update --env demo --dry-run
lifecycle "create the ElastiCache cluster cache and its CNAME" elasticache update --env demo
lifecycle "list demo's ElastiCache clusters" elasticache list --env demo
lifecycle "store the master password of appdb in demo's credential bucket" \
    creds set --env demo --key rds/appdb/master_user_password --value demo-Passw0rd-appdb
lifecycle "plan the RDS instance demo-appdb (dry run)" rds update --env demo --dry-run
lifecycle "create the RDS instance demo-appdb, its parameter group and CNAME" rds update --env demo
lifecycle "list demo's RDS instances" rds list --env demo --url
# The account's buckets (after the upload: they give the credential bucket its policy), then
# CloudTrail's trail Default logging to the audit bucket, whose policy lets CloudTrail write.
step "create and configure the account's buckets" buckets update --account 123456789012
step "plan the trail Default (dry run)" account cloudtrail --account 123456789012 --dry-run
step "make the trail Default log to the audit bucket" account cloudtrail --account 123456789012

# --- teardown, in reverse --------------------------------------------------------------------
teardown "create the RDS instance demo-appdb, its parameter group and CNAME" \
    "delete the RDS instance demo-appdb (final snapshot demo-appdb-final-snapshot)" \
    rds delete --env demo --cluster appdb
teardown "create the ElastiCache cluster cache and its CNAME" \
    "delete the ElastiCache cluster cache and its CNAME" \
    elasticache delete --env demo --cluster cache
teardown "write the DNS record" "delete the DNS record" \
    route53 delete-record sandbox.example.com db.sandbox.example.com A
teardown "create or update the load balancer of mhcweb and its CNAME" "delete the load balancer of mhcweb and its CNAME" \
    elb delete --env demo --hostclass mhcweb
teardown "spin up $PIPELINE in demo" "spin down $PIPELINE in demo" \
    aws spindown --env demo --pipeline "$MOTO_PIPELINE"
teardown "create the bakery environment build" "destroy environment build" \
    vpc destroy --name build
teardown "create environment demo" "destroy environment demo" \
    vpc destroy --name demo

say ""
say "demo: ${#PASSED[@]} steps passed against moto_server at $ENDPOINT"
if [ -n "${DONE["draw the environment demo into $PICTURE"]:-}" ]; then
    say "demo: the picture of environment demo is $PICTURE (open it in a browser)"
fi
if [ ${#SKIPPED[@]} -gt 0 ]; then
    say "demo: not run, as asiaq does not have their commands yet${LIFECYCLE_STOPPED:+ (the lifecycle stops where $LIFECYCLE_STOPPED)}:"
    for title in "${SKIPPED[@]}"; do
        say "        $title"
    done
fi
