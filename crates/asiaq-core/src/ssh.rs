//! Command lines of the system `ssh` and `rsync` for remote work on instances (bakes; the
//! original's `DiscoRemoteExec`, spec §4.26). Pure: the AWS layer runs what these build.
//!
//! asiaq uses the system clients so that the user's `~/.ssh/config`, agent, jump hosts and
//! `ProxyCommand`s (bastions, SSM tunnels) apply as they do to a plain `ssh`. On top of the
//! user's configuration it always passes the original's options (`BatchMode=yes`,
//! `StrictHostKeyChecking=no`, `UserKnownHostsFile=/dev/null`, `ConnectTimeout=10`: bake
//! instances are new hosts every time, often on a reused address), plus `LogLevel=ERROR` so
//! "permanently added to the list of known hosts" does not fill the captured output.

use serde::Serialize;

/// How to reach instances over ssh, beyond the user's own ssh configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SshOptions {
    /// `ProxyCommand` (`%h`, `%p`, `%r` are expanded by ssh itself, as in ssh_config).
    pub proxy_command: Option<String>,
    /// `ProxyJump` (`[user@]host[:port]`, comma-separated for several hops).
    pub jump_host: Option<String>,
    /// Private key file (`-i`, with `IdentitiesOnly=yes`); otherwise the agent and the
    /// user's configuration decide.
    pub identity: Option<String>,
    /// An ssh client configuration file to use instead of `~/.ssh/config` (`-F`).
    pub config_file: Option<String>,
    /// `ConnectTimeout` in seconds (the original's 10 when 0).
    pub connect_timeout_secs: u32,
}

/// Why a command line cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SshError {
    /// rsync splits its `-e` command at spaces and honours single and double quotes but no
    /// backslashes, so a word with both kinds of quote cannot be passed through it.
    #[error("{0:?} contains both ' and \": it cannot be passed to rsync's -e")]
    Unquotable(String),
}

impl SshOptions {
    fn timeout(&self) -> u32 {
        if self.connect_timeout_secs == 0 {
            10
        } else {
            self.connect_timeout_secs
        }
    }

    /// The options every ssh invocation gets (after `ssh`, before the host).
    pub fn common_args(&self) -> Vec<String> {
        let mut a = Vec::new();
        if let Some(f) = &self.config_file {
            a.push("-F".to_string());
            a.push(f.clone());
        }
        for o in [
            "BatchMode=yes".to_string(),
            "StrictHostKeyChecking=no".to_string(),
            "UserKnownHostsFile=/dev/null".to_string(),
            format!("ConnectTimeout={}", self.timeout()),
            "LogLevel=ERROR".to_string(),
        ] {
            a.push("-o".to_string());
            a.push(o);
        }
        if let Some(id) = &self.identity {
            a.push("-i".to_string());
            a.push(id.clone());
            a.push("-o".to_string());
            a.push("IdentitiesOnly=yes".to_string());
        }
        if let Some(p) = self.proxy_command.as_ref().filter(|p| !p.trim().is_empty()) {
            a.push("-o".to_string());
            a.push(format!("ProxyCommand={p}"));
        }
        if let Some(j) = self.jump_host.as_ref().filter(|j| !j.trim().is_empty()) {
            a.push("-o".to_string());
            a.push(format!("ProxyJump={j}"));
        }
        a
    }

    /// `ssh` argv (program first) running `command` (a shell command line) as `user` on
    /// `host`. `forward_agent` adds `-A` (the init scripts fetch from repositories with the
    /// baker's keys); `tty` adds `-tt` (sudo with `requiretty`).
    pub fn ssh_argv(
        &self,
        user: &str,
        host: &str,
        forward_agent: bool,
        tty: bool,
        command: &str,
    ) -> Vec<String> {
        let mut a = vec!["ssh".to_string()];
        a.extend(self.common_args());
        if forward_agent {
            a.push("-A".to_string());
        }
        if tty {
            a.push("-tt".to_string());
        }
        a.push("-l".to_string());
        a.push(user.to_string());
        a.push("--".to_string());
        a.push(host.to_string());
        a.push(command.to_string());
        a
    }

    /// The ssh command line rsync is given with `-e`.
    pub fn rsync_rsh(&self) -> Result<String, SshError> {
        let mut words = vec!["ssh".to_string()];
        words.extend(self.common_args());
        words
            .iter()
            .map(|w| rsync_quote(w))
            .collect::<Result<Vec<_>, _>>()
            .map(|w| w.join(" "))
    }

    /// `rsync` argv (program first) copying the contents of local directory `source` to
    /// `dest` on `host` as `user`, with the original's flags: `-a -v -z --delete`, and
    /// `--filter=:e /.nosync` (each directory's `.nosync` lists what not to copy) when
    /// `with_filter` (the original retries without it when rsync exits 1, for old rsyncs).
    pub fn rsync_argv(
        &self,
        source: &str,
        user: &str,
        host: &str,
        dest: &str,
        with_filter: bool,
    ) -> Result<Vec<String>, SshError> {
        let mut a = vec![
            "rsync".to_string(),
            "-a".to_string(),
            "-v".to_string(),
            "-z".to_string(),
            "--delete".to_string(),
            "-e".to_string(),
            self.rsync_rsh()?,
        ];
        if with_filter {
            a.push("--filter=:e /.nosync".to_string());
        }
        let source = if source.ends_with('/') {
            source.to_string()
        } else {
            format!("{source}/")
        };
        a.push(source);
        a.push(format!("{user}@{host}:{dest}"));
        Ok(a)
    }
}

/// Quotes a word for a POSIX shell (the remote side of `ssh host command`).
pub fn shell_quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// A shell command line of `words`, each quoted.
pub fn shell_command(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Quotes a word of rsync's `-e` command: rsync honours single and double quotes, not
/// backslashes.
fn rsync_quote(word: &str) -> Result<String, SshError> {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        Ok(word.to_string())
    } else if !word.contains('\'') {
        Ok(format!("'{word}'"))
    } else if !word.contains('"') {
        Ok(format!("\"{word}\""))
    } else {
        Err(SshError::Unquotable(word.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> SshOptions {
        SshOptions {
            proxy_command: Some("nc 127.0.0.1 2222".into()),
            identity: Some("/keys/bake.pem".into()),
            ..SshOptions::default()
        }
    }

    #[test]
    fn ssh_argv_has_the_originals_options_then_ours() {
        let a = opts().ssh_argv("root", "54.1.2.3", true, false, "mkdir -p /opt/x");
        assert_eq!(
            a,
            vec![
                "ssh",
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "ConnectTimeout=10",
                "-o",
                "LogLevel=ERROR",
                "-i",
                "/keys/bake.pem",
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "ProxyCommand=nc 127.0.0.1 2222",
                "-A",
                "-l",
                "root",
                "--",
                "54.1.2.3",
                "mkdir -p /opt/x"
            ]
        );
    }

    #[test]
    fn defaults_leave_everything_to_the_users_configuration() {
        let a = SshOptions::default().ssh_argv("ubuntu", "10.0.0.5", false, true, "true");
        assert!(!a
            .iter()
            .any(|w| w.starts_with("ProxyCommand") || w == "-i" || w == "-F"));
        assert!(a.contains(&"-tt".to_string()));
        let j = SshOptions {
            jump_host: Some("bastion.example.com".into()),
            config_file: Some("/etc/asiaq/ssh_config".into()),
            proxy_command: Some("  ".into()),
            connect_timeout_secs: 3,
            ..SshOptions::default()
        };
        let a = j.common_args();
        assert_eq!(a[..2], ["-F", "/etc/asiaq/ssh_config"]);
        assert!(a.contains(&"ProxyJump=bastion.example.com".to_string()));
        assert!(a.contains(&"ConnectTimeout=3".to_string()));
        assert!(!a.iter().any(|w| w.starts_with("ProxyCommand")));
    }

    #[test]
    fn rsync_argv_quotes_the_rsh_and_syncs_contents() {
        let a = opts()
            .rsync_argv(
                "/cfg/sandbox",
                "root",
                "54.1.2.3",
                "/opt/wgen/discoaws",
                true,
            )
            .unwrap();
        assert_eq!(a[..6], ["rsync", "-a", "-v", "-z", "--delete", "-e"]);
        assert_eq!(
            a[6],
            "ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
             -o ConnectTimeout=10 -o LogLevel=ERROR -i /keys/bake.pem -o IdentitiesOnly=yes \
             -o 'ProxyCommand=nc 127.0.0.1 2222'"
        );
        assert_eq!(
            a[7..],
            [
                "--filter=:e /.nosync",
                "/cfg/sandbox/",
                "root@54.1.2.3:/opt/wgen/discoaws"
            ]
        );
        let b = opts()
            .rsync_argv("/cfg/", "root", "h", "/d", false)
            .unwrap();
        assert_eq!(b[7..], ["/cfg/", "root@h:/d"]);
    }

    #[test]
    fn rsync_quoting_of_proxy_commands() {
        let ssm = SshOptions {
            proxy_command: Some(
                "aws ssm start-session --target %h --parameters 'portNumber=%p'".into(),
            ),
            ..SshOptions::default()
        };
        assert!(ssm.rsync_rsh().unwrap().ends_with(
            "-o \"ProxyCommand=aws ssm start-session --target %h --parameters 'portNumber=%p'\""
        ));
        let both = SshOptions {
            proxy_command: Some("sh -c 'echo \"x\"'".into()),
            ..SshOptions::default()
        };
        assert!(matches!(both.rsync_rsh(), Err(SshError::Unquotable(_))));
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(
            shell_quote("/opt/wgen/init/phase1.sh"),
            "/opt/wgen/init/phase1.sh"
        );
        assert_eq!(shell_quote("#None"), "'#None'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(
            shell_command(&["/d/init/phase2.sh", "mhcweb", "#None", "abc"]),
            "/d/init/phase2.sh mhcweb '#None' abc"
        );
    }
}
