//! The confined SSH test host: real sshd, real ssh and rsync clients.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output};

use asiaq_testkit::SshHost;

/// An address no machine answers on: only the ProxyCommand can reach the host.
const FAKE_IP: &str = "10.1.2.3";

fn run(cmd: &mut Command, host: &SshHost) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({})\nstdout: {}\nstderr: {}\nsshd log:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        host.log()
    );
    out
}

fn remote(host: &SshHost, command: &str) -> String {
    let out = run(host.ssh(FAKE_IP).arg(command), host);
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn sshd_pid(host: &SshHost) -> String {
    // The pid file sits next to the chroot.
    let pid_file = host.chroot().parent().unwrap().join("sshd.pid");
    fs::read_to_string(pid_file).unwrap().trim().to_string()
}

#[test]
fn ssh_runs_commands_as_root_inside_the_chroot() {
    let host = SshHost::start();
    assert_eq!(remote(&host, "id -u; pwd; echo $HOME"), "0\n/root\n/root\n");

    remote(&host, "echo written remotely >/tmp/marker");
    assert_eq!(
        fs::read_to_string(host.path("/tmp/marker")).unwrap(),
        "written remotely\n"
    );
}

#[test]
fn the_host_filesystem_is_not_visible_remotely() {
    let host = SshHost::start();
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("host-only");
    fs::write(&secret, "not for the chroot").unwrap();
    let workspace = asiaq_testkit::workspace_root();

    let script = format!(
        "for p in '{}' '{}/Cargo.toml' /usr/sbin/sshd; do \
             if [ -e \"$p\" ]; then echo \"visible $p\"; else echo \"absent $p\"; fi; \
         done",
        secret.display(),
        workspace.display()
    );
    assert_eq!(
        remote(&host, &script),
        format!(
            "absent {}\nabsent {}/Cargo.toml\nabsent /usr/sbin/sshd\n",
            secret.display(),
            workspace.display()
        )
    );

    // The remote root directory is the chroot, entry for entry.
    let mut local: Vec<String> = fs::read_dir(host.chroot())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    local.sort();
    let listed = remote(&host, "ls -1A /");
    let mut listed: Vec<&str> = listed.lines().collect();
    listed.sort();
    assert_eq!(listed, local);
}

#[test]
fn remote_files_keep_their_modes_and_owners_for_inspection() {
    let host = SshHost::start();
    remote(
        &host,
        "mkdir -p /opt/app/etc && echo s3cret >/opt/app/etc/key && \
         chmod 0600 /opt/app/etc/key && chown 65534:65534 /opt/app/etc/key",
    );
    let meta = fs::metadata(host.path("/opt/app/etc/key")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o600);
    assert_eq!((meta.uid(), meta.gid()), (65534, 65534));
}

#[test]
fn rsync_copies_a_directory_in() {
    let host = SshHost::start();
    let src = tempfile::tempdir().unwrap();
    fs::create_dir_all(src.path().join("etc/conf.d")).unwrap();
    fs::write(src.path().join("etc/conf.d/app.conf"), "port=8080\n").unwrap();
    fs::write(src.path().join("run.sh"), "#!/bin/sh\necho run\n").unwrap();
    fs::set_permissions(src.path().join("run.sh"), fs::Permissions::from_mode(0o750)).unwrap();

    run(
        Command::new("rsync")
            .args(["-a", "--mkpath", "-e", &host.ssh_command_line()])
            .arg(format!("{}/", src.path().display()))
            .arg(format!("{}@{FAKE_IP}:/opt/wgen/discoaws/", host.user())),
        &host,
    );

    let dest = host.path("/opt/wgen/discoaws");
    assert_eq!(
        fs::read_to_string(dest.join("etc/conf.d/app.conf")).unwrap(),
        "port=8080\n"
    );
    assert_eq!(
        fs::read_to_string(dest.join("run.sh")).unwrap(),
        "#!/bin/sh\necho run\n"
    );
    let mode = fs::metadata(dest.join("run.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o750);
    // And the copy is usable remotely.
    assert_eq!(remote(&host, "/opt/wgen/discoaws/run.sh"), "run\n");
}

#[test]
fn the_proxy_command_reaches_the_host_under_any_address() {
    let host = SshHost::start();
    for address in [FAKE_IP, "172.31.255.254", "mhcntp-demo.internal"] {
        // With the options on the command line...
        let out = run(host.ssh(address).arg("echo via options"), &host);
        assert_eq!(String::from_utf8_lossy(&out.stdout), "via options\n");
        // ...and with the ssh_config file, as code under test would use it.
        let out = run(
            Command::new("ssh")
                .arg("-F")
                .arg(host.ssh_config())
                .arg(address)
                .arg("echo via config")
                .stdin(std::process::Stdio::null()),
            &host,
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), "via config\n");
    }
    // sshd saw every one of those connections arrive on loopback.
    assert!(host.log().contains("Connection from 127.0.0.1"));
}

#[test]
fn hosts_are_independent() {
    let a = SshHost::start();
    let b = SshHost::start();
    assert_ne!(a.port(), b.port());
    assert_ne!(a.chroot(), b.chroot());
    remote(&a, "echo a >/tmp/which");
    remote(&b, "echo b >/tmp/which");
    assert_eq!(fs::read_to_string(a.path("/tmp/which")).unwrap(), "a\n");
    assert_eq!(fs::read_to_string(b.path("/tmp/which")).unwrap(), "b\n");
    // a's key does not open b.
    let out = Command::new("ssh")
        .args(["-F", "/dev/null", "-i"])
        .arg(a.private_key())
        .args(["-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"])
        .args([
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
        ])
        .args(["-o", "LogLevel=ERROR"])
        .arg("-o")
        .arg(format!("ProxyCommand={}", b.proxy_command()))
        .arg(format!("root@{FAKE_IP}"))
        .arg("true")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn drop_stops_sshd_and_removes_the_chroot() {
    let host = SshHost::start();
    let pid = sshd_pid(&host);
    let chroot = host.chroot().to_path_buf();
    assert!(Path::new("/proc").join(&pid).exists());
    drop(host);
    assert!(
        !Path::new("/proc").join(&pid).exists(),
        "sshd {pid} still runs"
    );
    assert!(!chroot.exists(), "{} still exists", chroot.display());
}

#[test]
fn drop_runs_when_a_test_panics() {
    let seen = std::sync::Mutex::new(None);
    let result = std::panic::catch_unwind(|| {
        let host = SshHost::start();
        *seen.lock().unwrap() = Some((sshd_pid(&host), host.chroot().to_path_buf()));
        panic!("a failing test");
    });
    assert!(result.is_err());
    let (pid, chroot) = seen.lock().unwrap().take().unwrap();
    assert!(
        !Path::new("/proc").join(&pid).exists(),
        "sshd {pid} still runs"
    );
    assert!(!chroot.exists(), "{} still exists", chroot.display());
}
