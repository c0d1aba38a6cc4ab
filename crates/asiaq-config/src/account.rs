//! What setting up an account reads: the bucket files of `iam/s3/<account>/`, the IAM
//! environments of `iam/group_membership/`, which environments belong to the account, and
//! each environment's app_auth, app_conf and SSH key table.

use std::collections::BTreeMap;
use std::path::PathBuf;

use asiaq_core::app_auth::Source;
use asiaq_core::plan::app_conf::{content_md5, key_for};

use crate::app_auth::app_auth_sources;
use crate::app_conf::read_app_conf;
use crate::vpc_env::BucketConfig;
use crate::{ConfigDir, ConfigError, Diagnostic, VpcIni};

/// The directory `iam/s3/<account>/` and the names of its files (sorted). `account` must be
/// a plain directory name.
pub fn account_files(
    dir: &ConfigDir,
    account: &str,
) -> Result<(PathBuf, Vec<String>), ConfigError> {
    if account.is_empty() || account.contains('/') || account.starts_with('.') {
        return Err(ConfigError::invalid(Diagnostic::error(
            dir.path("iam/s3"),
            None,
            format!("--account {account:?} is not a directory name"),
            Some("a directory name under iam/s3/".to_string()),
        )));
    }
    let account_dir = dir.existing(format!("iam/s3/{account}"))?;
    let mut files =
        crate::s3_accounts::bucket_files(&account_dir).map_err(|message| ConfigError::Io {
            path: account_dir.clone(),
            message,
        })?;
    files.sort();
    Ok((account_dir, files))
}

/// The names of the directories under `iam/group_membership/` (sorted; none when it is
/// missing).
pub fn iam_environments(dir: &ConfigDir) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir.path("iam/group_membership"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.path().is_dir())
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// The environments of the account among those of the region (`live`: name and type of
/// each), with the first credential bucket of each: those whose first credential bucket is
/// one of `account_buckets`. With `only` (`--env`), that environment alone, which must
/// exist and belong to the account.
pub fn account_environments(
    vpc: &VpcIni,
    project: &str,
    region: &str,
    live: &[(String, String)],
    account_buckets: &[String],
    only: Option<&str>,
) -> Result<Vec<(String, String)>, ConfigError> {
    let usage = |message: String, expected: &str| {
        ConfigError::invalid(Diagnostic::error(
            vpc.ini().path(),
            None,
            message,
            Some(expected.to_string()),
        ))
    };
    if let Some(name) = only {
        if !live.iter().any(|(n, _)| n == name) {
            return Err(usage(
                format!(
                    "environment {name} does not exist in {region} (no VPC tagged Name={name})"
                ),
                "an environment created with `asiaq vpc create`",
            ));
        }
    }
    let mut out = Vec::new();
    for (name, env_type) in live {
        if only.is_some_and(|o| o != name) {
            continue;
        }
        let config = BucketConfig {
            env: name.clone(),
            project: project.to_string(),
            vpc: vpc.clone(),
        };
        match config.first_bucket(env_type, region) {
            Ok(bucket) if account_buckets.contains(&bucket) => out.push((name.clone(), bucket)),
            Ok(bucket) if only.is_some() => {
                return Err(usage(
                    format!(
                        "environment {name}'s credential bucket {bucket} is not one of this account's buckets ({})",
                        account_buckets.join(", ")
                    ),
                    "an environment whose first credential bucket has a file in iam/s3/<account>/",
                ))
            }
            Ok(_) => {}
            // Only an environment asked for by name must resolve; others of the region may
            // belong to configurations of other accounts.
            Err(e) if only.is_some() => return Err(e),
            Err(_) => {}
        }
    }
    Ok(out)
}

/// What one environment's stages read.
#[derive(Debug, Clone)]
pub struct EnvironmentFiles {
    pub app_auth: Vec<(String, Source)>,
    /// `app_conf/<key>` -> (content MD5, bytes).
    pub app_conf: BTreeMap<String, (String, Vec<u8>)>,
    pub ssh_keys: Vec<String>,
    /// What is left out and why (a directory the environment has none of).
    pub notes: Vec<String>,
}

/// Reads `app_auth/<env>/`, `app_conf/<env>/` and the SSH key table of `env`. With
/// `required` (the environment was asked for by name, `--env`), each directory must be
/// there; otherwise a missing one means nothing to do for that step, with a note.
pub fn environment_files(
    dir: &ConfigDir,
    env: &str,
    required: bool,
) -> Result<EnvironmentFiles, ConfigError> {
    let mut notes = Vec::new();
    let mut optional = |what: &str| {
        let there = dir.path(what).join(env).is_dir();
        if !there && !required {
            notes.push(format!(
                "environment {env} has no {what}/{env}/: its {what} step has nothing to do"
            ));
        }
        there || required
    };
    let app_auth = if optional("app_auth") {
        app_auth_sources(&dir.path("app_auth"), env)?
    } else {
        Vec::new()
    };
    let app_conf = if optional("app_conf") {
        read_app_conf(&dir.path("app_conf"), env)?
            .into_iter()
            .map(|f| (key_for(&f.relative), (content_md5(&f.bytes), f.bytes)))
            .collect()
    } else {
        BTreeMap::new()
    };
    let aws = dir.aws(Some(env))?;
    let rotation = crate::keys::rotation(dir, &aws, env, None)
        .map_err(|m| ConfigError::invalid(Diagnostic::error(aws.ini().path(), None, m, None)))?;
    Ok(EnvironmentFiles {
        app_auth,
        app_conf,
        ssh_keys: rotation.names,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> ConfigDir {
        ConfigDir::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/sandbox"
        ))
    }

    #[test]
    fn the_example_account_has_its_bucket_files_and_one_iam_environment() {
        let dir = example();
        let (path, files) = account_files(&dir, "123456789012").unwrap();
        assert!(path.ends_with("iam/s3/123456789012"));
        assert!(files.contains(&"default.iam".to_string()));
        assert!(files.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(iam_environments(&dir), vec!["demo".to_string()]);
        assert!(account_files(&dir, "../x").is_err());
        assert!(matches!(
            account_files(&dir, "999"),
            Err(ConfigError::NotFound { .. })
        ));
    }

    #[test]
    fn environments_belong_to_the_account_of_their_first_credential_bucket() {
        let dir = example();
        let vpc = dir.vpc().unwrap();
        let region = "us-west-2";
        let demo = "us-west-2.PROJECT.credentials.demo".to_string();
        let live = vec![
            ("demo".to_string(), "sandbox".to_string()),
            ("build".to_string(), "sandbox".to_string()),
            ("ci".to_string(), "nosuchtype".to_string()),
        ];
        let buckets = vec![demo.clone()];
        let got = account_environments(&vpc, "PROJECT", region, &live, &buckets, None).unwrap();
        assert_eq!(got, vec![("demo".to_string(), demo.clone())]);
        assert_eq!(
            account_environments(&vpc, "PROJECT", region, &live, &buckets, Some("demo")).unwrap(),
            got
        );
        let other = account_environments(&vpc, "PROJECT", region, &live, &buckets, Some("build"))
            .unwrap_err()
            .to_string();
        assert!(other.contains("credentials.build is not one of"), "{other}");
        let missing = account_environments(&vpc, "PROJECT", region, &live, &buckets, Some("qa"))
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("environment qa does not exist"),
            "{missing}"
        );
        assert!(
            account_environments(&vpc, "PROJECT", region, &live, &buckets, Some("ci")).is_err()
        );
    }

    #[test]
    fn an_environment_reads_its_app_auth_app_conf_and_keys() {
        let dir = example();
        let files = environment_files(&dir, "demo", true).unwrap();
        assert!(!files.app_auth.is_empty());
        assert!(files.app_conf.keys().all(|k| k.starts_with("app_conf/")));
        assert!(!files.ssh_keys.is_empty());
        assert!(files.notes.is_empty());
        assert!(environment_files(&dir, "nosuchenv", true).is_err());
        // Found rather than asked for: missing directories are steps with nothing to do.
        let build = environment_files(&dir, "build", false).unwrap();
        assert!(build.app_auth.is_empty() && build.app_conf.is_empty());
        assert_eq!(build.notes.len(), 2, "{:?}", build.notes);
    }
}
