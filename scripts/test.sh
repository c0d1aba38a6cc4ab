#!/usr/bin/env bash
# Everything CI checks, in order: prerequisites (scripts/setup.sh), formatting, clippy with
# warnings as errors, then every test of the workspace (unit tests, the binary against a
# local moto_server, the confined sshd). Stops at the first failure; exit 0 means all passed.
#
# The cargo target directory defaults to ~/.cache/asiaq-target, outside the clone, so later
# runs (and other clones) build incrementally. Set CARGO_TARGET_DIR to use another.
#
# Tests run under `cargo test`, not cargo-nextest: tests share one moto_server per test
# binary, and nextest's process per test would start one per test (measured: 2.5x slower).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/asiaq-target}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-auto}

started=$SECONDS
step() {
    local name=$1 t0=$SECONDS
    shift
    echo "==> $name" >&2
    if ! "$@"; then
        echo "FAILED: $name ($((SECONDS - t0)) s): $*" >&2
        exit 1
    fi
    echo "    $name: ok ($((SECONDS - t0)) s)" >&2
}

step "setup" scripts/setup.sh
step "format" cargo fmt --all -- --check
step "clippy" cargo clippy --locked --workspace --all-targets -- -D warnings
step "tests" cargo test --locked --workspace
echo "==> all checks passed in $((SECONDS - started)) s (target dir: $CARGO_TARGET_DIR)" >&2
