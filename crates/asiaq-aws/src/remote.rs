//! Running the system `ssh` and `rsync` against instances (bakes; spec §4.26 remote exec).
//!
//! The command lines come from [`asiaq_core::ssh`]; this module runs them with stdout and
//! stderr merged (as the original did), keeps the last lines for error messages, and with
//! `stream` (`--debug`) echoes every line to stderr as it comes. Children are killed when
//! their future is dropped, so an interrupted bake does not leave an ssh session behind.

use std::collections::VecDeque;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use asiaq_core::ssh::{SshError, SshOptions};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;

/// Lines of output kept for an error message.
const TAIL_LINES: usize = 40;

/// Why a remote step failed.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("cannot run {program}: {source} (is it installed and on PATH?)")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Input {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} failed ({status}){}", tail_text(.tail))]
    Failed {
        what: String,
        status: String,
        tail: Vec<String>,
    },
    #[error(transparent)]
    Options(#[from] SshError),
}

fn tail_text(tail: &[String]) -> String {
    if tail.is_empty() {
        String::new()
    } else {
        format!("; last output:\n    {}", tail.join("\n    "))
    }
}

/// The result of a command that ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// Exit code; `None` when killed by a signal.
    pub code: Option<i32>,
    /// The last lines of merged stdout and stderr.
    pub tail: Vec<String>,
}

impl Finished {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    fn status_text(&self) -> String {
        match self.code {
            Some(c) => format!("exit {c}"),
            None => "killed by a signal".to_string(),
        }
    }
}

/// Runs ssh and rsync with one set of options.
#[derive(Debug, Clone)]
pub struct Remote {
    pub options: SshOptions,
    /// Echo the output of remote commands to stderr as it comes (`--debug`).
    pub stream: bool,
}

impl Remote {
    /// Runs `command` (a shell command line) on `host` as `user`; returns how it ended,
    /// whatever the exit code.
    pub async fn ssh(
        &self,
        user: &str,
        host: &str,
        command: &str,
        forward_agent: bool,
        tty: bool,
        stdin: Option<&Path>,
    ) -> Result<Finished, RemoteError> {
        let argv = self
            .options
            .ssh_argv(user, host, forward_agent, tty, command);
        run(&argv, stdin, self.stream).await
    }

    /// Like [`Remote::ssh`], but a non-zero exit is an error that says `what` failed.
    pub async fn ssh_ok(
        &self,
        what: &str,
        user: &str,
        host: &str,
        command: &str,
        forward_agent: bool,
        stdin: Option<&Path>,
    ) -> Result<Finished, RemoteError> {
        let done = self
            .ssh(user, host, command, forward_agent, false, stdin)
            .await?;
        if done.success() {
            Ok(done)
        } else {
            Err(RemoteError::Failed {
                what: what.to_string(),
                status: done.status_text(),
                tail: done.tail,
            })
        }
    }

    /// rsync of the contents of `source` to `dest` on `host`, with the original's flags;
    /// retried without the `.nosync` filter when rsync exits 1 (an rsync too old for it).
    pub async fn rsync(
        &self,
        source: &str,
        user: &str,
        host: &str,
        dest: &str,
    ) -> Result<Finished, RemoteError> {
        let argv = self.options.rsync_argv(source, user, host, dest, true)?;
        let mut done = run(&argv, None, self.stream).await?;
        if done.code == Some(1) {
            let argv = self.options.rsync_argv(source, user, host, dest, false)?;
            done = run(&argv, None, self.stream).await?;
        }
        if done.success() {
            Ok(done)
        } else {
            Err(RemoteError::Failed {
                what: format!("rsync of {source} to {host}:{dest}"),
                status: done.status_text(),
                tail: done.tail,
            })
        }
    }
}

/// Runs `argv` (program first) with merged output; `stdin` is a file fed to it (else
/// nothing).
pub async fn run(
    argv: &[String],
    stdin: Option<&Path>,
    stream: bool,
) -> Result<Finished, RemoteError> {
    let (program, args) = argv.split_first().ok_or_else(|| RemoteError::Spawn {
        program: String::new(),
        source: std::io::Error::other("empty command line"),
    })?;
    let input = match stdin {
        Some(path) => {
            Stdio::from(
                std::fs::File::open(path).map_err(|source| RemoteError::Input {
                    path: path.display().to_string(),
                    source,
                })?,
            )
        }
        None => Stdio::null(),
    };
    tracing::debug!("running {}", argv.join(" "));
    let mut child = Command::new(program)
        .args(args)
        .stdin(input)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| RemoteError::Spawn {
            program: program.clone(),
            source,
        })?;
    let tail = Arc::new(Mutex::new(VecDeque::with_capacity(TAIL_LINES)));
    let out = collect(child.stdout.take(), tail.clone(), stream);
    let err = collect(child.stderr.take(), tail.clone(), stream);
    let (status, (), ()) = tokio::join!(child.wait(), out, err);
    let status = status.map_err(|source| RemoteError::Spawn {
        program: program.clone(),
        source,
    })?;
    let tail = tail
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .drain(..)
        .collect();
    Ok(Finished {
        code: status.code(),
        tail,
    })
}

async fn collect<R: AsyncRead + Unpin>(
    reader: Option<R>,
    tail: Arc<Mutex<VecDeque<String>>>,
    stream: bool,
) {
    let Some(reader) = reader else {
        return;
    };
    let mut lines = BufReader::new(reader).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let line = line.trim_end_matches('\r').to_string();
        if stream {
            // Through the reporter, so a progress bar on the terminal is not broken.
            asiaq_engine::report::note(format!("  | {line}"));
        }
        let mut t = tail.lock().unwrap_or_else(|p| p.into_inner());
        if t.len() == TAIL_LINES {
            t.pop_front();
        }
        t.push_back(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|s| s.to_string()).collect()
    }

    #[tokio::test]
    async fn merges_output_and_reports_the_exit_code() {
        let done = run(
            &argv(&["sh", "-c", "echo out; echo err >&2; exit 3"]),
            None,
            false,
        )
        .await
        .unwrap();
        assert_eq!(done.code, Some(3));
        let mut tail = done.tail.clone();
        tail.sort();
        assert_eq!(tail, vec!["err", "out"]);
    }

    #[tokio::test]
    async fn keeps_only_the_last_lines() {
        let done = run(&argv(&["sh", "-c", "seq 1 100"]), None, false)
            .await
            .unwrap();
        assert!(done.success());
        assert_eq!(done.tail.len(), TAIL_LINES);
        assert_eq!(done.tail.last().map(String::as_str), Some("100"));
    }

    #[tokio::test]
    async fn feeds_a_file_to_stdin() {
        let dir = tempfile_dir();
        let path = dir.join("input");
        std::fs::write(&path, "hello\n").unwrap();
        let done = run(&argv(&["cat"]), Some(&path), false).await.unwrap();
        assert_eq!(done.tail, vec!["hello"]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn missing_program_is_a_spawn_error() {
        let err = run(&argv(&["asiaq-no-such-program"]), None, false)
            .await
            .unwrap_err();
        assert!(matches!(err, RemoteError::Spawn { .. }), "{err}");
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "asiaq-remote-test-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
