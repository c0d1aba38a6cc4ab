//! A real OpenSSH server on loopback, confined to a chroot of its own, for tests of code that
//! works over SSH (bakes, smoke tests, `exec`).
//!
//! Each [`SshHost`] builds a fresh chroot (a static busybox, `rsync` with its libraries,
//! `/etc/passwd`, `/root/.ssh/authorized_keys`, a world-writable `/tmp`), generates a host key
//! and a client key pair, and runs `sshd -D` as root on `127.0.0.1:<free port>` with
//! `ChrootDirectory`: whatever a test runs "remotely" sees only that chroot, so it cannot
//! change the machine. Hosts are independent, so tests using them run in parallel.
//!
//! Code under test connects to the addresses moto reports for its instances (10.x.y.z, ...):
//! the client options carry a `ProxyCommand` that reaches this server whatever the address.
//! The server also plays a jump host to itself: it forwards TCP (`ssh -J`, `-W`) to its own
//! address only ([`SshHost::jump_ssh_config`]).
//!
//! sshd must run as root (chroot). The fixture runs its setup script directly when the test
//! runs as root, through `sudo -n` otherwise. The chroot lives under the cargo target
//! directory when every component of that path is root-owned and not writable by others (an
//! sshd rule), else under `/run/asiaq-sshd`; `ASIAQ_SSHD_DIR` overrides the choice (the
//! directory must end in `/asiaq-sshd`).
//!
//! Stopping: [`Drop`] stops sshd through its pid file and waits until the chroot is removed,
//! also when a test panics. If the test process dies without unwinding, the setup script
//! notices within half a second and cleans up by itself.

use std::fs;
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::free_port;

/// Environment variable: the directory under which hosts make their chroots. Its name must
/// be `asiaq-sshd`; its ancestors must be root-owned and not writable by group or others.
pub const SSHD_DIR_ENV: &str = "ASIAQ_SSHD_DIR";

/// Builds the host and runs sshd (see the comments in the script).
const SCRIPT: &str = include_str!("sshd.sh");
const BASE_NAME: &str = "asiaq-sshd";
const START_ATTEMPTS: usize = 3;
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// A running, confined SSH test host. Log in as `root` with [`SshHost::ssh`],
/// [`SshHost::ssh_options`] or [`SshHost::ssh_config`].
pub struct SshHost {
    // Dropped first: stops sshd and removes the chroot.
    sshd: Sshd,
    /// The client's key pair, `ssh_config` and the setup logs.
    client: tempfile::TempDir,
}

impl std::fmt::Debug for SshHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshHost")
            .field("port", &self.sshd.port)
            .field("chroot", &self.sshd.chroot)
            .finish()
    }
}

impl SshHost {
    /// Builds a host and starts its sshd; panics with the setup log if that fails.
    pub fn start() -> SshHost {
        let privilege = Privilege::detect();
        let client = tempfile::Builder::new()
            .prefix("asiaq-ssh-client.")
            .tempdir()
            .expect("temp dir for the ssh client key");
        let key = client.path().join("id_ed25519");
        run(Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "asiaq-testkit", "-f"])
            .arg(&key));
        let base = instance_base();

        static NEXT: AtomicU64 = AtomicU64::new(0);
        let mut failures = Vec::new();
        for attempt in 1..=START_ATTEMPTS {
            let name = format!(
                "{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            );
            let dir = base.join(name);
            // Another process may take the port before sshd binds it: then sshd exits and
            // the next attempt picks another port.
            let port = free_port();
            let log_path = client.path().join(format!("setup-{attempt}.log"));
            let log = fs::File::create(&log_path).expect("setup log file");
            let watchdog = privilege
                .command("sh")
                .arg("-c")
                .arg(SCRIPT)
                .arg(BASE_NAME)
                .arg(&dir)
                .arg(port.to_string())
                .arg(key.with_extension("pub"))
                .arg(std::process::id().to_string())
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("setup log file"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run the sshd setup script: {e}"));
            let mut sshd = Sshd {
                chroot: dir.join("chroot"),
                dir,
                port,
                privilege,
                watchdog: Some(watchdog),
            };
            match sshd.wait_until_ready() {
                Ok(()) => {
                    let host = SshHost { sshd, client };
                    host.write_ssh_config();
                    return host;
                }
                Err(why) => {
                    drop(sshd);
                    let log = fs::read_to_string(&log_path).unwrap_or_default();
                    let retry = worth_retrying(&log);
                    failures.push(format!("attempt {attempt} (port {port}): {why}\n{log}"));
                    if !retry {
                        break;
                    }
                }
            }
        }
        panic!("the sshd test host did not start:\n{}", failures.join("\n"));
    }

    /// The loopback port sshd listens on.
    pub fn port(&self) -> u16 {
        self.sshd.port
    }

    /// The user to log in as.
    pub fn user(&self) -> &'static str {
        "root"
    }

    /// The chroot on the machine running the tests: the "remote" host's `/`.
    pub fn chroot(&self) -> &Path {
        &self.sshd.chroot
    }

    /// Where the remote absolute path `remote` (e.g. `/opt/wgen/etc/hostclass`) is on the
    /// machine running the tests, to check files, modes and owners a test produced.
    pub fn path(&self, remote: &str) -> PathBuf {
        self.sshd.chroot.join(remote.trim_start_matches('/'))
    }

    /// The client's private key (authorized for `root`).
    pub fn private_key(&self) -> PathBuf {
        self.client.path().join("id_ed25519")
    }

    /// A `ProxyCommand` that reaches this sshd whatever host name or address ssh was given,
    /// so code under test can connect to the instance addresses moto reports.
    pub fn proxy_command(&self) -> String {
        format!("nc 127.0.0.1 {}", self.sshd.port)
    }

    /// ssh client options (`-i KEY -o ...`) that log in to this host under any address,
    /// without prompts, known-hosts files or agent keys.
    pub fn ssh_options(&self) -> Vec<String> {
        let mut options = vec!["-i".to_string(), path_str(&self.private_key())];
        for option in [
            "IdentitiesOnly=yes".to_string(),
            "StrictHostKeyChecking=no".to_string(),
            "UserKnownHostsFile=/dev/null".to_string(),
            "BatchMode=yes".to_string(),
            "LogLevel=ERROR".to_string(),
            "ConnectTimeout=10".to_string(),
            format!("ProxyCommand={}", self.proxy_command()),
        ] {
            options.push("-o".to_string());
            options.push(option);
        }
        options
    }

    /// An `ssh` command to `root@<address>` that ignores the user's own ssh configuration;
    /// append the remote command with `.arg(...)`.
    pub fn ssh(&self, address: &str) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.args(["-F", "/dev/null"])
            .args(self.ssh_options())
            .arg(format!("{}@{address}", self.user()))
            .stdin(Stdio::null());
        cmd
    }

    /// The same client as one command line, for `rsync -e` and other programs that take
    /// the ssh command as a string.
    pub fn ssh_command_line(&self) -> String {
        std::iter::once("ssh".to_string())
            .chain(["-F".to_string(), "/dev/null".to_string()])
            .chain(self.ssh_options())
            .map(|arg| quote(&arg))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// An ssh client configuration file (`ssh -F FILE <any address>`) with the same
    /// settings, for code under test that takes an ssh configuration.
    pub fn ssh_config(&self) -> PathBuf {
        self.client.path().join("ssh_config")
    }

    /// An ssh client configuration file for code that goes through this host as a jump host
    /// (`ssh -J <any address> <target>`) to itself as one of `targets`: the jump connection
    /// is made with [`SshHost::proxy_command`], and each target address is this server's
    /// loopback address and port as the jump host sees it (the only place it forwards to).
    pub fn jump_ssh_config(&self, targets: &[&str]) -> PathBuf {
        let mut config = String::new();
        for t in targets {
            config.push_str(&format!(
                "Host {t}\n    Hostname 127.0.0.1\n    Port {}\n",
                self.sshd.port
            ));
        }
        config.push_str(&fs::read_to_string(self.ssh_config()).expect("read ssh_config"));
        let path = self.client.path().join("jump_ssh_config");
        fs::write(&path, config).expect("write jump_ssh_config");
        path
    }

    /// sshd's log (connections, authentication, errors), for failure messages.
    pub fn log(&self) -> String {
        fs::read_to_string(self.sshd.dir.join("sshd.log")).unwrap_or_default()
    }

    fn write_ssh_config(&self) {
        let config = format!(
            "Host *\n\
             \x20   User {user}\n\
             \x20   IdentityFile \"{key}\"\n\
             \x20   IdentitiesOnly yes\n\
             \x20   StrictHostKeyChecking no\n\
             \x20   UserKnownHostsFile /dev/null\n\
             \x20   BatchMode yes\n\
             \x20   LogLevel ERROR\n\
             \x20   ConnectTimeout 10\n\
             \x20   ProxyCommand {proxy}\n",
            user = self.user(),
            key = path_str(&self.private_key()),
            proxy = self.proxy_command(),
        );
        fs::write(self.ssh_config(), config).expect("write ssh_config");
    }
}

/// The sshd of a host and the setup script watching it.
struct Sshd {
    dir: PathBuf,
    chroot: PathBuf,
    port: u16,
    privilege: Privilege,
    watchdog: Option<Child>,
}

impl Sshd {
    fn pid_file(&self) -> PathBuf {
        self.dir.join("sshd.pid")
    }

    /// Ready when sshd wrote its pid file and answers with its protocol banner.
    fn wait_until_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let watchdog = self.watchdog.as_mut().expect("watchdog runs");
            if let Some(status) = watchdog.try_wait().map_err(|e| e.to_string())? {
                return Err(format!("the setup script exited ({status})"));
            }
            if self.pid_file().exists() && answers_ssh(self.port) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "sshd did not answer on port {} within {READY_TIMEOUT:?}",
                    self.port
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops sshd by its pid file (or, before it wrote one, the setup script), then waits
    /// for the script to remove the chroot.
    fn stop(&mut self) {
        let Some(mut watchdog) = self.watchdog.take() else {
            return;
        };
        let target = fs::read_to_string(self.pid_file())
            .ok()
            .map(|pid| pid.trim().to_string())
            .filter(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
            .unwrap_or_else(|| watchdog.id().to_string());
        let _ = self
            .privilege
            .command("kill")
            .arg(&target)
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            match watchdog.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() > deadline => {
                    let _ = self
                        .privilege
                        .command("kill")
                        .args(["-KILL", &watchdog.id().to_string()])
                        .status();
                    let _ = watchdog.wait();
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        if self.dir.exists() {
            // The script was killed before its own cleanup ran.
            let _ = self
                .privilege
                .command("rm")
                .arg("-rf")
                .arg(&self.dir)
                .status();
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How root-only steps (chroot setup, sshd, kill) are run.
#[derive(Debug, Clone, Copy)]
enum Privilege {
    Root,
    Sudo,
}

impl Privilege {
    fn detect() -> Privilege {
        let uid = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        if uid == "0" {
            return Privilege::Root;
        }
        let sudo = Command::new("sudo")
            .args(["-n", "true"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if matches!(sudo, Ok(s) if s.success()) {
            return Privilege::Sudo;
        }
        panic!(
            "the sshd test host needs root (sshd's ChrootDirectory): run the tests as root or \
             with password-less sudo"
        );
    }

    fn command(self, program: &str) -> Command {
        match self {
            Privilege::Root => Command::new(program),
            Privilege::Sudo => {
                let mut cmd = Command::new("sudo");
                cmd.arg("-n").arg(program);
                cmd
            }
        }
    }
}

/// The directory holding the hosts' chroots (see the module documentation).
fn instance_base() -> PathBuf {
    if let Some(dir) = std::env::var_os(SSHD_DIR_ENV) {
        let dir = PathBuf::from(dir);
        assert!(
            dir.is_absolute() && dir.file_name() == Some(BASE_NAME.as_ref()),
            "{SSHD_DIR_ENV} must be an absolute path ending in /{BASE_NAME}"
        );
        return dir;
    }
    // Test binaries live in <target>/<profile>/deps/.
    let in_target = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join(BASE_NAME)));
    match in_target {
        Some(dir) if ancestors_fit_chroot(&dir) => dir,
        _ => PathBuf::from("/run").join(BASE_NAME),
    }
}

/// sshd refuses a `ChrootDirectory` with a component that is not root-owned or is writable
/// by group or others. `dir` itself is made by the setup script.
fn ancestors_fit_chroot(dir: &Path) -> bool {
    dir.ancestors().skip(1).all(|a| {
        fs::metadata(a)
            .map(|m| m.uid() == 0 && m.mode() & 0o022 == 0)
            .unwrap_or(false)
    })
}

/// A start that failed on a port someone else took, or on a directory left by a run that was
/// killed with its watchdog, may succeed with another port and name; others would not.
fn worth_retrying(setup_log: &str) -> bool {
    [
        "Address already in use",
        "Cannot bind any address",
        "already exists",
    ]
    .iter()
    .any(|sign| setup_log.contains(sign))
}

/// True when something on `port` speaks the SSH protocol.
fn answers_ssh(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    if stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .is_err()
    {
        return false;
    }
    let mut banner = [0u8; 8];
    stream.read_exact(&mut banner).is_ok() && &banner == b"SSH-2.0-"
}

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

fn path_str(path: &Path) -> String {
    path.to_str()
        .unwrap_or_else(|| panic!("{} is not UTF-8", path.display()))
        .to_string()
}

/// Quotes a word for a command line that rsync or a shell splits: rsync honours single
/// quotes but not backslashes, so words with a single quote are refused.
fn quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else {
        assert!(!word.contains('\''), "cannot quote {word:?}");
        format!("'{word}'")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_leaves_plain_words_and_wraps_the_rest() {
        assert_eq!(quote("-o"), "-o");
        assert_eq!(quote("/tmp/x/id_ed25519"), "/tmp/x/id_ed25519");
        assert_eq!(
            quote("ProxyCommand=nc 127.0.0.1 22"),
            "'ProxyCommand=nc 127.0.0.1 22'"
        );
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn only_port_and_leftover_failures_are_retried() {
        assert!(worth_retrying(
            "Bind to port 4022 on 127.0.0.1 failed: Address already in use.\nCannot bind any address."
        ));
        assert!(worth_retrying(
            "sshd fixture: /srv/asiaq-sshd/7-0 already exists"
        ));
        assert!(!worth_retrying(
            "sshd fixture: busybox not found: install busybox-static (scripts/setup.sh)"
        ));
    }

    #[test]
    fn world_writable_ancestors_do_not_fit_a_chroot() {
        // /tmp is 1777 everywhere.
        assert!(!ancestors_fit_chroot(Path::new("/tmp/x/asiaq-sshd")));
        assert!(ancestors_fit_chroot(Path::new("/asiaq-sshd")));
    }
}
