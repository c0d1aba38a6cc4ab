//! What `keys rotate` reads from the configuration directory: the environment's key table
//! (`[keys] ssh_keys@ENV` of disco_aws.ini, else the original's table) narrowed by
//! `--only`, and the SSL files `discoroot/` asks the credential bucket for.

use std::collections::BTreeSet;
use std::path::Path;

use asiaq_core::keys::{default_ssh_keys, parse_key_list, select, ssl_references};

use crate::{AwsIni, ConfigDir};

/// The keys to rotate and the SSL files to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub names: Vec<String>,
    /// `private_keys/ssl/…` keys referenced by `{s3cred://…}` in `discoroot/`.
    pub ssl: BTreeSet<String>,
}

/// Every file's text under `dir` (lossy), for the `{s3cred://...}` references.
fn texts(dir: &Path, out: &mut Vec<String>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            texts(&p, out);
        } else if let Ok(bytes) = std::fs::read(&p) {
            out.push(String::from_utf8_lossy(&bytes).into_owned());
        }
    }
}

/// The rotation of environment `env` (`only`: one key of it); the error says what is wrong.
pub fn rotation(
    dir: &ConfigDir,
    aws: &AwsIni,
    env: &str,
    only: Option<&str>,
) -> Result<Rotation, String> {
    let table = match aws.config("ssh_keys", "keys") {
        Some(v) => parse_key_list(&v.text).map_err(|e| format!("[keys] ssh_keys of {env}: {e}"))?,
        None => default_ssh_keys(env),
    };
    let names = select(&table, only)?;
    let mut files = Vec::new();
    texts(&dir.path("discoroot"), &mut files);
    Ok(Rotation {
        names,
        ssl: ssl_references(files.iter().map(String::as_str)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_has_a_table_and_finds_the_ssl_files_discoroot_asks_for() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sandbox");
        let dir = ConfigDir::new(&root);
        let aws = dir.aws(Some("demo")).unwrap();
        let r = rotation(&dir, &aws, "demo", None).unwrap();
        assert!(!r.names.is_empty());
        assert!(
            r.ssl.iter().all(|k| k.starts_with("private_keys/ssl/")),
            "{r:?}"
        );
        let one = rotation(&dir, &aws, "demo", Some(&r.names[0])).unwrap();
        assert_eq!(one.names, [r.names[0].clone()]);
        assert!(rotation(&dir, &aws, "demo", Some("no-such-key")).is_err());
    }
}
