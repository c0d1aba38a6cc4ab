//! Every environment variable asiaq reads, in one place (as uv's `uv-static` keeps its
//! `EnvVars`): a new variable is added here, with what it does, and read by its name.

/// The environment variables asiaq reads.
pub struct EnvVars;

impl EnvVars {
    /// The configuration directory, when `--asiaq-config` is not given (else `.`).
    pub const ASIAQ_CONFIG: &'static str = "ASIAQ_CONFIG";
    /// A `tracing` filter for the log on stderr (`debug`, `asiaq_aws=trace`, ...).
    pub const ASIAQ_LOG: &'static str = "ASIAQ_LOG";
    /// `1`: no progress lines, only warnings and errors.
    pub const ASIAQ_QUIET: &'static str = "ASIAQ_QUIET";
    /// A file to which every AWS operation's calls, attempts and failures are written as
    /// JSON at exit (the benchmarks and tests read it).
    pub const ASIAQ_API_STATS: &'static str = "ASIAQ_API_STATS";
    /// How many attempts the SDK makes of one call (its standard retry mode).
    pub const ASIAQ_MAX_ATTEMPTS: &'static str = "ASIAQ_MAX_ATTEMPTS";
    /// Scales the client-side EC2 rate budget (`0` turns it off; several asiaq runs sharing
    /// one account each take a share).
    pub const ASIAQ_EC2_BUDGET_SCALE: &'static str = "ASIAQ_EC2_BUDGET_SCALE";
    /// The prefix of the `[bake]` overrides: `ASIAQ_BAKE_<KEY>` replaces `[bake] <key>`
    /// (e.g. `ASIAQ_BAKE_SSH_PROXY_COMMAND`).
    pub const ASIAQ_BAKE_PREFIX: &'static str = "ASIAQ_BAKE_";
    /// An ssh client configuration file used by `ssh`, `aws exec`, `snapshot capture` and the
    /// bake.
    pub const ASIAQ_SSH_CONFIG: &'static str = "ASIAQ_SSH_CONFIG";
    /// The private key the bake's ssh uses.
    pub const ASIAQ_SSH_IDENTITY: &'static str = "ASIAQ_SSH_IDENTITY";
    /// Test only: fail the N-th matching AWS call before it is sent (`mutating:N`,
    /// `<Operation>:N`), to prove that a failure at any point leaves nothing behind.
    pub const ASIAQ_INJECT_FAULT: &'static str = "ASIAQ_INJECT_FAULT";
    /// Test only: scale every wait and retry pause (a float; an emulator that reaches every
    /// state at once is tested with a small value).
    pub const ASIAQ_WAIT_SCALE: &'static str = "ASIAQ_WAIT_SCALE";
    /// Test only: the directory `metrics upload` reads `meminfo` and `stat` from (else
    /// `/proc`). The instance metadata endpoint is the SDK's own
    /// `AWS_EC2_METADATA_SERVICE_ENDPOINT`.
    pub const ASIAQ_METRICS_PROC: &'static str = "ASIAQ_METRICS_PROC";
    /// Test kit only: the moto_server program to start (else the workspace's `.venv`).
    pub const ASIAQ_MOTO_SERVER: &'static str = "ASIAQ_MOTO_SERVER";
    /// Test kit only: where the confined test sshd keeps its chroot.
    pub const ASIAQ_SSHD_DIR: &'static str = "ASIAQ_SSHD_DIR";
    /// Benchmarks only: the latency added per call by the proxy, in milliseconds.
    pub const ASIAQ_BENCH_LATENCY_MS: &'static str = "ASIAQ_BENCH_LATENCY_MS";
    /// The demo only (`scripts/demo.sh`): where it writes the picture of its environment.
    pub const ASIAQ_DEMO_PICTURE: &'static str = "ASIAQ_DEMO_PICTURE";

    /// Every variable (and the one prefix), for the check below.
    pub const ALL: [&'static str; 16] = [
        Self::ASIAQ_CONFIG,
        Self::ASIAQ_LOG,
        Self::ASIAQ_QUIET,
        Self::ASIAQ_API_STATS,
        Self::ASIAQ_MAX_ATTEMPTS,
        Self::ASIAQ_EC2_BUDGET_SCALE,
        Self::ASIAQ_BAKE_PREFIX,
        Self::ASIAQ_SSH_CONFIG,
        Self::ASIAQ_SSH_IDENTITY,
        Self::ASIAQ_INJECT_FAULT,
        Self::ASIAQ_WAIT_SCALE,
        Self::ASIAQ_METRICS_PROC,
        Self::ASIAQ_MOTO_SERVER,
        Self::ASIAQ_SSHD_DIR,
        Self::ASIAQ_BENCH_LATENCY_MS,
        Self::ASIAQ_DEMO_PICTURE,
    ];
}

#[cfg(test)]
mod tests {
    use super::EnvVars;
    use std::path::Path;

    fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let p = entry.path();
            if p.is_dir() {
                sources(&p, out);
            } else if p.extension().is_some_and(|e| e == "rs" || e == "sh") {
                out.push(p);
            }
        }
    }

    /// A variable named anywhere in the workspace's code is one of this list: the list is
    /// where a new one is added.
    #[test]
    fn every_variable_read_is_listed() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut files = Vec::new();
        sources(&root.join("crates"), &mut files);
        sources(&root.join("scripts"), &mut files);
        let mut unlisted = Vec::new();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            for (i, _) in text.match_indices("ASIAQ_") {
                // Inside a longer name (`ASIAQ_BAKE_ASIAQ_BINARY`): that name was seen.
                let before = text[..i].chars().next_back();
                if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                    continue;
                }
                let name: String = text[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                if name == "ASIAQ_" {
                    continue;
                }
                let listed = EnvVars::ALL
                    .iter()
                    .any(|v| name == *v || (v.ends_with('_') && name.starts_with(v)));
                if !listed {
                    unlisted.push(format!("{}: {name}", f.display()));
                }
            }
        }
        assert_eq!(unlisted, Vec::<String>::new());
    }
}
