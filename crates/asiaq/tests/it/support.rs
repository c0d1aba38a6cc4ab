//! Helpers every area's tests use: running the binary, reading its output, and a private
//! copy of the example configuration.

use std::path::PathBuf;
use std::process::{Command, Output};

use asiaq_testkit::examples_dir;

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run asiaq")
}

/// Runs `cmd` and asserts its exit code, showing the command and both outputs otherwise.
pub fn expect(cmd: &mut Command, code: i32) -> Output {
    let out = run(cmd);
    assert_eq!(
        out.status.code(),
        Some(code),
        "{cmd:?}\nstdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

/// A copy of examples/sandbox that a test may edit (modes kept: init scripts stay executable).
pub fn config_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("sandbox");
    let status = Command::new("cp")
        .arg("-a")
        .arg(examples_dir().join("sandbox"))
        .arg(&dst)
        .status()
        .unwrap();
    assert!(status.success());
    (dir, dst)
}
