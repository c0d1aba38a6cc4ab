//! SSH key generation for `keys rotate`, with the system `ssh-keygen`, in a private
//! temporary directory (mode 0700, removed when this returns, also on failure). The private
//! key leaves it only as a [`Secret`].

use std::process::{Command, Stdio};

use asiaq_aws::keys::NewKey;
use asiaq_core::secret::Secret;

/// The key type: RSA of 4096 bits, the type the original script made (its keys were
/// `ssh-keygen` defaults, RSA), which every image's sshd and EC2's ImportKeyPair accept.
const KEYGEN_ARGS: [&str; 4] = ["-t", "rsa", "-b", "4096"];

/// Generates one key pair for each name, commented `<name>@<env>`.
pub fn generate(names: &[String], env: &str) -> Result<Vec<NewKey>, String> {
    let dir = tempfile::Builder::new()
        .prefix("asiaq-keys-")
        .tempdir()
        .map_err(|e| format!("cannot make a private temporary directory: {e}"))?;
    let mut out = Vec::new();
    for name in names {
        let path = dir.path().join(name);
        let status = Command::new("ssh-keygen")
            .args(KEYGEN_ARGS)
            .args(["-q", "-N", "", "-C", &format!("{name}@{env}"), "-f"])
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| format!("cannot run ssh-keygen: {e}"))?;
        if !status.status.success() {
            return Err(format!(
                "ssh-keygen failed for key {name}: {}",
                String::from_utf8_lossy(&status.stderr).trim()
            ));
        }
        let read = |p: &std::path::Path| {
            std::fs::read_to_string(p).map_err(|e| format!("cannot read the new key {name}: {e}"))
        };
        let private = Secret::new(read(&path)?);
        let public = read(&path.with_extension("pub"))?;
        out.push(NewKey {
            name: name.clone(),
            private,
            public,
        });
    }
    Ok(out)
}
