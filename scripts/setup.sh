#!/usr/bin/env bash
# Installs what asiaq's tests and demo need, and only what is missing:
#   * Debian packages openssh-server busybox-static rsync netcat-openbsd (the confined SSH
#     test host), chromium and fonts-dejavu-core (the `vpc show --format html` test renders
#     the page headless) and python3-venv when Python cannot make a virtual environment;
#   * a Python virtual environment .venv in the repository with moto[server] 5.2.x (the local
#     AWS the tests and the demo run against);
#   * a check that cargo (with rustfmt and clippy) is there.
# Idempotent and quiet when everything is already there; on failure it says what and why.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=$ROOT/.venv
MOTO_REQUIREMENT='moto[server]>=5.2.5,<5.3'
# ca-certificates and passwd: the accounts test copies the trust store and useradd into the
# confined test host. chromium: the picture of `vpc show --format html` is rendered headless.
PACKAGES=(openssh-server busybox-static rsync netcat-openbsd ca-certificates passwd chromium fonts-dejavu-core)

die() {
    echo "setup: $*" >&2
    exit 1
}

# Runs a command quietly; on failure prints its output and stops.
quietly() {
    local log
    log=$(mktemp)
    if ! "$@" >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        die "failed: $*"
    fi
    rm -f "$log"
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root to run '$*' (not root, and no sudo)"
    fi
}

package_installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

# Only the programs are wanted: while apt runs, a policy-rc.d keeps package scripts from
# starting the system's sshd (unless the machine has a policy of its own).
POLICY=/usr/sbin/policy-rc.d
POLICY_ADDED=no
remove_policy() {
    if [ "$POLICY_ADDED" = yes ]; then
        as_root rm -f "$POLICY"
        POLICY_ADDED=no
    fi
}
trap remove_policy EXIT

# True when python3 can make a virtual environment with pip (Debian splits that off into
# python3-venv).
python_makes_venvs() {
    local probe status=0
    command -v python3 >/dev/null 2>&1 || return 1
    probe=$(mktemp -d)
    python3 -m venv "$probe/venv" >/dev/null 2>&1 || status=1
    rm -rf "$probe"
    return "$status"
}

install_packages() {
    local missing=()
    for pkg in "${PACKAGES[@]}"; do
        package_installed "$pkg" || missing+=("$pkg")
    done
    if ! moto_ready && [ ! -x "$VENV/bin/python" ] && ! python_makes_venvs; then
        missing+=(python3 python3-venv)
    fi
    [ ${#missing[@]} -eq 0 ] && return 0

    command -v apt-get >/dev/null 2>&1 ||
        die "missing ${missing[*]}, and this is not a Debian-like system (no apt-get): install them by hand"
    echo "setup: installing ${missing[*]}" >&2
    if [ ! -e "$POLICY" ]; then
        as_root sh -c "printf '#!/bin/sh\\nexit 101\\n' >$POLICY && chmod 0755 $POLICY"
        POLICY_ADDED=yes
    fi
    quietly as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    quietly as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}"
    remove_policy
}

moto_ready() {
    [ -x "$VENV/bin/moto_server" ] &&
        "$VENV/bin/python" - "$MOTO_REQUIREMENT" >/dev/null 2>&1 <<'PY'
import sys
from importlib.metadata import version
major, minor, patch = (int(x) for x in version("moto").split(".")[:3])
# Keep in step with MOTO_REQUIREMENT.
sys.exit(0 if (major, minor) == (5, 2) and patch >= 5 else 1)
PY
}

install_moto() {
    moto_ready && return 0
    if [ ! -x "$VENV/bin/python" ]; then
        echo "setup: creating $VENV" >&2
        quietly python3 -m venv "$VENV"
    fi
    echo "setup: installing $MOTO_REQUIREMENT into $VENV" >&2
    quietly "$VENV/bin/python" -m pip install --disable-pip-version-check -q "$MOTO_REQUIREMENT"
    moto_ready || die "$VENV has no working moto_server after installing $MOTO_REQUIREMENT"
}

check_rust() {
    if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
        die "cargo is in ~/.cargo/bin but not on PATH: run 'source ~/.cargo/env'"
    fi
    command -v cargo >/dev/null 2>&1 ||
        die "cargo not found: install Rust (https://rustup.rs), then run this again"
    cargo fmt --version >/dev/null 2>&1 ||
        die "rustfmt is missing: rustup component add rustfmt"
    cargo clippy --version >/dev/null 2>&1 ||
        die "clippy is missing: rustup component add clippy"
}

install_packages
install_moto
check_rust
