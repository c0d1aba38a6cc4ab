//! The command line itself: help, usage errors, groups not built yet, completions, man page.
//! No AWS call is involved.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn asiaq() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_asiaq"));
    // Help text shows the value of ASIAQ_CONFIG and wraps at the terminal width.
    cmd.env_remove("ASIAQ_CONFIG")
        .env("COLUMNS", "100")
        .stdin(Stdio::null());
    cmd
}

fn run(args: &[&str]) -> Output {
    asiaq().args(args).output().expect("run asiaq")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("utf-8 stdout")
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("utf-8 stderr")
}

#[test]
fn help_lists_every_tool_group() {
    let out = run(&["--help"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    insta::assert_snapshot!("help", stdout(&out));
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let out = run(&["--bogus", "whoami"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).is_empty());
    assert!(
        stderr(&out).contains("unexpected argument '--bogus'"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn bad_flag_value_is_a_usage_error() {
    let out = run(&["--output", "yaml", "whoami"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).is_empty());
    assert!(
        stderr(&out).contains("invalid value 'yaml'"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn no_command_is_a_usage_error() {
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).is_empty());
    assert!(stderr(&out).contains("Usage: asiaq"), "{}", stderr(&out));
}

#[test]
fn groups_not_built_yet_exit_2_with_a_plain_message() {
    for (args, group) in [
        (&["deploy", "list"][..], "deploy"),
        (&["elasticsearch", "list"][..], "elasticsearch"),
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "asiaq {args:?}");
        assert!(stdout(&out).is_empty());
        let err = stderr(&out);
        assert!(
            err.starts_with(&format!("error: `asiaq {group}` is not built yet")),
            "asiaq {args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn completions_are_generated_for_every_shell() {
    let out = run(&["completions", "bash"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let script = stdout(&out);
    assert!(script.contains("_asiaq()"), "{script}");
    assert!(script.contains("complete -F _asiaq"));
    for word in ["whoami", "doctor", "log-metrics", "--output"] {
        assert!(script.contains(word), "bash completion lacks {word}");
    }
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let out = run(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", stderr(&out));
        assert!(stdout(&out).contains("whoami"), "{shell}");
    }
}

#[test]
fn man_page_is_roff() {
    let out = run(&["man"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let page = stdout(&out);
    assert!(page.contains(".TH asiaq 1"), "{page}");
    assert!(page.contains(".SH SYNOPSIS"));
    assert!(page.contains("whoami"));
}

/// `asiaq completions bash | head -1`: the reader is gone before asiaq writes.
#[test]
fn a_closed_stdout_is_not_an_error() {
    for args in ["completions bash", "man", "--help"] {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!("read go; exec \"$ASIAQ\" {args}"))
            .env("ASIAQ", env!("CARGO_BIN_EXE_asiaq"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run sh");
        // Close the read end of asiaq's stdout, then let asiaq start.
        drop(child.stdout.take());
        writeln!(child.stdin.take().unwrap(), "go").unwrap();
        let out = child.wait_with_output().unwrap();
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "asiaq {args}: {err}");
        assert_eq!(out.status.code(), Some(0), "asiaq {args}: {err}");
    }
}
