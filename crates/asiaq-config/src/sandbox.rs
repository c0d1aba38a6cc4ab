//! `asiaq sandbox NAME [--config-dir DIR]` (spec §2.26, §3.1): the sandbox directory
//! `sandboxes/<DIR or NAME>/` of the configuration directory, its `pipeline.csv`, and the
//! files `[disco_aws] sandbox_sync_config` lists for `sandbox_config_bucket`.
//!
//! `sandbox_sync_config` is line-based: each line is `LOCAL_FILE REMOTE_DIR`; the file
//! `sandboxes/<DIR or NAME>/LOCAL_FILE` goes to the bucket at `REMOTE_DIR/NAME`.

use std::path::{Component, Path, PathBuf};

use crate::aws_ini::DISCO_AWS;
use crate::{AwsIni, ConfigDir, ConfigError, Diagnostic};

/// One file to put in the sandbox bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncFile {
    /// The file, as shown in messages (the configuration directory joined with it).
    pub path: PathBuf,
    /// The object key: `REMOTE_DIR/NAME`.
    pub key: String,
    pub bytes: Vec<u8>,
}

/// What a sandbox is made of, read before any AWS call.
#[derive(Debug, Clone)]
pub struct Sandbox {
    /// The environment (VPC) name.
    pub name: String,
    /// `sandboxes/<DIR or NAME>/pipeline.csv`, relative to the configuration directory
    /// (as shown).
    pub pipeline: PathBuf,
    /// The same file, to read (the configuration directory joined with it, so that a
    /// file of the same name under the current directory is not taken instead).
    pub pipeline_file: PathBuf,
    /// `sandbox_config_bucket`, when files are to be synced.
    pub bucket: Option<String>,
    pub files: Vec<SyncFile>,
    /// The environment's `productline` tag: `[disco_aws] default_product_line`.
    pub product_line: Option<String>,
}

fn plain_name(s: &str) -> bool {
    let p = Path::new(s);
    !s.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)))
}

/// Reads the sandbox `name` (from `sandboxes/<config_dir or name>/`). Every problem is a
/// diagnostic: a missing directory or pipeline, a malformed `sandbox_sync_config` line, a
/// sync without a bucket, a listed file that cannot be read.
pub fn load_sandbox(
    dir: &ConfigDir,
    aws: &AwsIni,
    name: &str,
    config_dir: Option<&str>,
) -> Result<Sandbox, ConfigError> {
    let source = config_dir.unwrap_or(name);
    let rel = Path::new("sandboxes").join(source);
    let shown = dir.path(&rel);
    if !plain_name(source) {
        return Err(ConfigError::invalid(Diagnostic::error(
            &shown,
            None,
            format!("sandbox directory name {source:?} is not a plain name"),
            Some("the name of a directory of sandboxes/".into()),
        )));
    }
    if !shown.is_dir() {
        return Err(ConfigError::invalid(Diagnostic::error(
            &shown,
            None,
            "no such sandbox directory",
            Some(format!(
                "a directory sandboxes/{source}/ with a pipeline.csv (or --config-dir naming one)"
            )),
        )));
    }
    let pipeline = rel.join("pipeline.csv");
    if !dir.path(&pipeline).is_file() {
        return Err(ConfigError::invalid(Diagnostic::error(
            dir.path(&pipeline),
            None,
            "the sandbox has no pipeline",
            Some("a pipeline CSV file".into()),
        )));
    }
    let mut problems = Vec::new();
    let mut files = Vec::new();
    let sync = aws
        .config("sandbox_sync_config", DISCO_AWS)
        .filter(|v| !v.text.trim().is_empty());
    let bucket = aws
        .config("sandbox_config_bucket", DISCO_AWS)
        .map(|v| v.text.trim().to_string())
        .filter(|b| !b.is_empty());
    if let Some(sync) = &sync {
        if bucket.is_none() {
            problems.push(sync.error(
                "files to sync, but no sandbox_config_bucket to put them in",
                Some("[disco_aws] sandbox_config_bucket=BUCKET".into()),
            ));
        }
        for (i, line) in sync.text.lines().enumerate() {
            let words: Vec<&str> = line.split_whitespace().collect();
            let at = Some(sync.line + i);
            match words.as_slice() {
                [] => {}
                [local, remote] if plain_relative(local) => {
                    let path = shown.join(local);
                    match std::fs::read(&path) {
                        Ok(bytes) => files.push(SyncFile {
                            key: format!("{}/{name}", remote.trim_end_matches('/')),
                            path,
                            bytes,
                        }),
                        Err(e) => problems.push(Diagnostic::error(
                            &sync.path,
                            at,
                            format!(
                                "[disco_aws] sandbox_sync_config: cannot read {}: {e}",
                                path.display()
                            ),
                            Some(format!("a file of sandboxes/{source}/")),
                        )),
                    }
                }
                _ => problems.push(Diagnostic::error(
                    &sync.path,
                    at,
                    format!("[disco_aws] sandbox_sync_config: {line:?} is not a sync line"),
                    Some(
                        "LOCAL_FILE REMOTE_DIR, LOCAL_FILE a path inside the sandbox directory"
                            .into(),
                    ),
                )),
            }
        }
    }
    if !problems.is_empty() {
        return Err(ConfigError::Invalid(problems));
    }
    Ok(Sandbox {
        name: name.to_string(),
        pipeline_file: dir.path(&pipeline),
        pipeline,
        bucket: bucket.filter(|_| sync.is_some()),
        files,
        product_line: aws
            .asiaq_option("product_line", DISCO_AWS)
            .map(|v| v.text.trim().to_string())
            .filter(|v| !v.is_empty()),
    })
}

/// A relative path that stays inside its directory.
fn plain_relative(s: &str) -> bool {
    Path::new(s)
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        && !s.starts_with('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(aws_text: &str) -> (tempfile::TempDir, ConfigDir, AwsIni) {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("sandboxes/alpha")).unwrap();
        std::fs::write(
            d.path().join("sandboxes/alpha/pipeline.csv"),
            "sequence,hostclass\n1,mhcntp\n",
        )
        .unwrap();
        std::fs::write(d.path().join("sandboxes/alpha/zk_blacklist"), "a\nb\n").unwrap();
        std::fs::write(d.path().join("disco_aws.ini"), aws_text).unwrap();
        let dir = ConfigDir::new(d.path());
        let aws = dir.aws(Some("alpha")).unwrap();
        (d, dir, aws)
    }

    #[test]
    fn sync_lines_become_keys_under_the_remote_dirs() {
        let (_d, dir, aws) = setup(
            "[disco_aws]\ndefault_environment=ci\ndefault_product_line=team\n\
             sandbox_config_bucket=sandboxes.example\n\
             sandbox_sync_config=zk_blacklist zookeeper-sync-black-lists\n\
             \x20   zk_blacklist   firewall/trusted/\n",
        );
        let s = load_sandbox(&dir, &aws, "bob", Some("alpha")).unwrap();
        assert_eq!(s.pipeline, Path::new("sandboxes/alpha/pipeline.csv"));
        assert_eq!(s.bucket.as_deref(), Some("sandboxes.example"));
        let keys: Vec<&str> = s.files.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(
            keys,
            ["zookeeper-sync-black-lists/bob", "firewall/trusted/bob"]
        );
        assert_eq!(s.files[0].bytes, b"a\nb\n");
        assert_eq!(s.product_line.as_deref(), Some("team"));
    }

    #[test]
    fn problems_are_reported_with_their_lines() {
        let (_d, dir, aws) = setup(
            "[disco_aws]\ndefault_environment=ci\n\
             sandbox_sync_config=zk_blacklist\n\
             \x20   missing_file remote\n\
             \x20   ../escape remote\n",
        );
        let err = load_sandbox(&dir, &aws, "alpha", None).unwrap_err();
        let lines: Vec<String> = err.diagnostics().iter().map(|d| d.to_string()).collect();
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert!(lines[0].contains("disco_aws.ini:3: [disco_aws] sandbox_sync_config: files to sync, but no sandbox_config_bucket"), "{}", lines[0]);
        assert!(lines[1].contains("disco_aws.ini:3: [disco_aws] sandbox_sync_config: \"zk_blacklist\" is not a sync line (expected LOCAL_FILE REMOTE_DIR"), "{}", lines[1]);
        assert!(
            lines[2].contains("disco_aws.ini:4: [disco_aws] sandbox_sync_config: cannot read"),
            "{}",
            lines[2]
        );
        assert!(lines[3].contains("disco_aws.ini:5:"), "{}", lines[3]);
    }

    #[test]
    fn missing_directory_or_pipeline() {
        let (d, dir, aws) = setup("[disco_aws]\ndefault_environment=ci\n");
        let err = load_sandbox(&dir, &aws, "nosuch", None).unwrap_err();
        assert!(
            err.to_string().ends_with("sandboxes/nosuch: no such sandbox directory (expected a directory sandboxes/nosuch/ with a pipeline.csv (or --config-dir naming one))"),
            "{err}"
        );
        assert!(load_sandbox(&dir, &aws, "x", Some("../alpha")).is_err());
        std::fs::remove_file(d.path().join("sandboxes/alpha/pipeline.csv")).unwrap();
        let err = load_sandbox(&dir, &aws, "alpha", None).unwrap_err();
        assert!(
            err.to_string().contains("the sandbox has no pipeline"),
            "{err}"
        );
        // No sync configured: no bucket, no files.
        std::fs::write(
            d.path().join("sandboxes/alpha/pipeline.csv"),
            "sequence,hostclass\n",
        )
        .unwrap();
        let s = load_sandbox(&dir, &aws, "alpha", None).unwrap();
        assert_eq!((s.bucket, s.files.len()), (None, 0));
    }
}
