# Builds a confined SSH test host and runs its sshd in the foreground until the sshd is
# stopped (kill of the pid in DIR/sshd.pid) or the test process OWNER exits; then removes
# everything it made. Runs as root, directly or through `sudo -n`.
#
# Arguments: DIR PORT PUBKEY OWNER
#   DIR     instance directory to create, .../asiaq-sshd/<name>; its parent's ancestors must be
#           root-owned and not writable by group or others (sshd's ChrootDirectory rule)
#   PORT    loopback port to listen on
#   PUBKEY  public key file allowed to log in as root
#   OWNER   pid of the test process
set -eu
umask 022
PATH=$PATH:/usr/sbin:/sbin
dir=$1 port=$2 pubkey=$3 owner=$4
case $dir in
    /*/asiaq-sshd/?*) ;;
    *) echo "sshd fixture: refusing instance directory '$dir'" >&2; exit 1 ;;
esac
base=${dir%/*}
chroot=$dir/chroot

sshd= monitor=
cleanup() {
    [ -z "$monitor" ] || kill "$monitor" 2>/dev/null || true
    [ -z "$sshd" ] || kill "$sshd" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 143' INT TERM HUP

die() { echo "sshd fixture: $*" >&2; exit 1; }

# Copies an executable and every shared library it loads to the same paths in the chroot.
copy_with_libs() {
    mkdir -p "$chroot${2%/*}"
    cp "$1" "$chroot$2"
    for lib in $(ldd "$1" 2>/dev/null | grep -o '/[^ ]*' || true); do
        if [ ! -e "$chroot$lib" ]; then
            mkdir -p "$chroot${lib%/*}"
            cp -L "$lib" "$chroot$lib"
        fi
    done
}

sshd_bin=$(command -v sshd) || die "sshd not found: install openssh-server (scripts/setup.sh)"
busybox_bin=$(command -v busybox) || die "busybox not found: install busybox-static (scripts/setup.sh)"
rsync_bin=$(command -v rsync) || die "rsync not found: install rsync (scripts/setup.sh)"

# sshd's privilege separation directory.
mkdir -p /run/sshd
chmod 0755 /run/sshd

install -d -m 0755 -o 0 -g 0 "$base"
chown 0:0 "$base"
chmod 0755 "$base"
[ ! -e "$dir" ] || die "$dir already exists"
install -d -m 0755 -o 0 -g 0 "$dir" "$chroot"
for d in bin sbin usr/bin usr/sbin etc root; do
    install -d -m 0755 "$chroot/$d"
done
install -d -m 0700 "$chroot/root/.ssh"
install -d -m 1777 "$chroot/tmp"

# A shell and the usual tools, all from one static busybox.
copy_with_libs "$busybox_bin" /bin/busybox
chroot "$chroot" /bin/busybox --install -s
rm -f "$chroot/linuxrc"
# sshd starts root's login shell from the host's passwd entry (/bin/bash on Debian); busybox
# has no bash applet, so that path runs busybox's sh.
login_shell=$(getent passwd root | cut -d: -f7)
login_shell=${login_shell:-/bin/sh}
if [ ! -e "$chroot$login_shell" ]; then
    mkdir -p "$chroot${login_shell%/*}"
    printf '#!/bin/sh\nexec /bin/sh "$@"\n' >"$chroot$login_shell"
    chmod 0755 "$chroot$login_shell"
fi
# rsync needs its own binary on the remote side.
copy_with_libs "$rsync_bin" /usr/bin/rsync

printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$chroot/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$chroot/etc/group"
cp "$pubkey" "$chroot/root/.ssh/authorized_keys"
chmod 0600 "$chroot/root/.ssh/authorized_keys"

ssh-keygen -q -t ed25519 -N '' -C asiaq-test-host -f "$dir/host_key"
cat >"$dir/sshd_config" <<CONFIG
ListenAddress 127.0.0.1:$port
HostKey $dir/host_key
PidFile $dir/sshd.pid
PermitRootLogin prohibit-password
AllowUsers root
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile $chroot/root/.ssh/authorized_keys
ChrootDirectory $chroot
UsePAM no
StrictModes no
X11Forwarding no
AllowTcpForwarding local
PermitOpen 127.0.0.1:$port
AllowStreamLocalForwarding no
PermitTunnel no
PermitUserEnvironment no
PrintMotd no
LogLevel VERBOSE
CONFIG
"$sshd_bin" -t -f "$dir/sshd_config" || die "sshd rejects $dir/sshd_config"

"$sshd_bin" -D -f "$dir/sshd_config" -E "$dir/sshd.log" </dev/null &
sshd=$!
# Stops sshd when the test process is gone (a test binary killed before its Drop ran).
(
    while kill -0 "$owner" 2>/dev/null; do sleep 0.5; done
    kill "$sshd" 2>/dev/null
) &
monitor=$!
status=0
wait "$sshd" || status=$?
sshd=
echo "sshd exited with status $status" >&2
cat "$dir/sshd.log" >&2 2>/dev/null || true
exit "$status"
