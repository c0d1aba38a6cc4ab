//! Helpers shared by the integration tests of the identity commands (iam, secrets, buckets).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub use crate::support::{expect as expect_code, run, text};
use asiaq_testkit::AwsAccount;

/// A copy of `examples/sandbox` the test may edit.
pub fn example_config() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&asiaq_testkit::examples_dir().join("sandbox"), dir.path());
    dir
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// The asiaq binary pointed at `account` and the configuration directory `config`.
pub fn asiaq(account: &AwsAccount, config: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_asiaq"));
    account.configure(&mut cmd).stdin(Stdio::null());
    cmd.arg("--asiaq-config")
        .arg(config)
        .env("ASIAQ_WAIT_SCALE", "0.01")
        .env("ASIAQ_QUIET", "1")
        .env_remove("ASIAQ_INJECT_FAULT")
        .env_remove("ASIAQ_API_STATS");
    cmd
}

pub fn succeed(cmd: &mut Command) -> String {
    text(&expect_code(cmd, 0).stdout)
}

/// Operation prefixes that only read (as the fault injector classifies them).
const READ_PREFIXES: [&str; 8] = [
    "Describe", "List", "Get", "Head", "Lookup", "Search", "Check", "Validate",
];

/// Runs `cmd` with `ASIAQ_API_STATS` and returns (output, calls per operation). The file
/// is absent when the command failed before calling AWS: then the map is empty.
pub fn with_stats(cmd: &mut Command) -> (Output, BTreeMap<String, u64>) {
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("stats.json");
    cmd.env("ASIAQ_API_STATS", &path);
    let out = run(cmd);
    let mut calls = BTreeMap::new();
    if let Ok(text) = std::fs::read_to_string(&path) {
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        for (op, s) in json["operations"].as_object().unwrap() {
            calls.insert(op.clone(), s["calls"].as_u64().unwrap());
        }
    }
    (out, calls)
}

/// The mutating operations among `calls`.
pub fn mutating(calls: &BTreeMap<String, u64>) -> Vec<String> {
    calls
        .iter()
        .filter(|(op, n)| {
            let name = op.rsplit(':').next().unwrap();
            **n > 0 && !READ_PREFIXES.iter().any(|p| name.starts_with(p))
        })
        .map(|(op, n)| format!("{op} x{n}"))
        .collect()
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}
