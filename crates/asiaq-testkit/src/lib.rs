//! Fixtures for integration tests against real parts.
//!
//! * [`Moto`]: a moto_server on a free loopback port, started from the project's virtual
//!   environment. A watchdog shell kills it when the test process exits, even when a test
//!   panics or the process aborts, so nothing is left running.
//! * [`AwsAccount`]: a fresh, isolated AWS account inside that server (moto keys state by
//!   account; credentials from its STS AssumeRole belong to the role's account), so tests run
//!   in parallel without resetting each other's state.
//! * [`SshHost`]: a real OpenSSH server on loopback, confined to a chroot of its own, reached
//!   under any address through a `ProxyCommand`; for code that works over SSH.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod moto;
mod sshd;

pub use moto::{AwsAccount, Moto, MOTO_SERVER_ENV, TEST_REGION};
pub use sshd::{SshHost, SSHD_DIR_ENV};

/// The workspace root (where `.venv/` and `examples/` live). Cargo sets `CARGO_MANIFEST_DIR`
/// when it runs a test binary, and that is preferred over the directory this crate was
/// compiled in: a target directory shared between clones keeps the first clone's path.
pub fn workspace_root() -> std::path::PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into());
    manifest_dir
        .join("../..")
        .canonicalize()
        .expect("workspace root exists")
}

/// The example configuration directory shipped in the repository.
pub fn examples_dir() -> std::path::PathBuf {
    workspace_root().join("examples")
}

/// A loopback port that was free a moment ago.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}
