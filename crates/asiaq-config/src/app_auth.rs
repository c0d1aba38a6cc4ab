//! `app_auth/<env>/...` (spec §4.12): application passwords to publish in the credential
//! bucket. File contents are secrets: they are never shown in messages or `Debug` output.

use std::path::{Path, PathBuf};

use asiaq_core::app_auth::Source;
use asiaq_core::secret::Secret;

use crate::diag::Diagnostic;
use crate::ConfigError;

/// What a file asks for.
#[derive(Clone, PartialEq, Eq)]
pub enum AppAuthValue {
    /// `GENERATE_WHEN_EMPTY`: keep the value in S3, generate one if there is none (or with
    /// `--force`).
    GenerateWhenEmpty,
    /// `ALWAYS_GENERATE`: a new value on every update.
    AlwaysGenerate,
    /// Anything else: the file content itself (newlines removed).
    Literal(String),
}

impl std::fmt::Debug for AppAuthValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppAuthValue::GenerateWhenEmpty => f.write_str("GenerateWhenEmpty"),
            AppAuthValue::AlwaysGenerate => f.write_str("AlwaysGenerate"),
            AppAuthValue::Literal(_) => f.write_str("Literal(<redacted>)"),
        }
    }
}

/// One file of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppAuthEntry {
    pub path: PathBuf,
    /// The S3 key: `app_auth/<path below the env dir>`, e.g. `app_auth/myapp/user1`.
    pub key: String,
    pub value: AppAuthValue,
}

impl AppAuthEntry {
    /// The user name: the last path component of the key.
    pub fn user(&self) -> &str {
        self.key.rsplit('/').next().unwrap_or_default()
    }

    /// The key of the directory holding this entry (where its `passwd` file goes).
    pub fn dir_key(&self) -> &str {
        self.key
            .rsplit_once('/')
            .map(|(d, _)| d)
            .unwrap_or_default()
    }
}

fn is_key_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-' || c == '/'
}

/// The S3 key of a file (the original's `(app_auth/[\w/\-]+)$` match with every `/<env>`
/// removed), computed from its path below the `app_auth/<env>` directory.
pub fn app_auth_key(env: &str, relative: &str) -> Option<String> {
    let full = format!("app_auth/{env}/{relative}");
    if !full.chars().all(is_key_char) {
        return None;
    }
    Some(full.replace(&format!("/{env}"), ""))
}

/// Reads `<app_auth dir>/<env>` recursively. An empty or missing directory is an error
/// (the original's MissingAppAuthError), as are file names the original could not map
/// to a key.
pub fn read_app_auth(app_auth_dir: &Path, env: &str) -> Result<Vec<AppAuthEntry>, Vec<Diagnostic>> {
    let env_dir = app_auth_dir.join(env);
    let mut files = Vec::new();
    collect_files(&env_dir, &mut files);
    files.sort();
    if files.is_empty() {
        return Err(vec![Diagnostic::error(
            &env_dir,
            None,
            format!("no application passwords for environment {env}"),
            Some(format!("files under {}", env_dir.display())),
        )]);
    }
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for path in files {
        let relative = path
            .strip_prefix(&env_dir)
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        let Some(key) = app_auth_key(env, &relative) else {
            errors.push(Diagnostic::error(
                &path,
                None,
                "the path cannot be an app_auth key",
                Some("directory and file names of letters, digits, \"_\" and \"-\"".into()),
            ));
            continue;
        };
        if key.ends_with("/passwd") {
            errors.push(Diagnostic::error(
                &path,
                None,
                "a file named passwd would be overwritten by the generated passwd file",
                Some("another user name".into()),
            ));
            continue;
        }
        let content = match std::fs::read_to_string(&path) {
            Ok(c) => c.replace(['\n', '\r'], ""),
            Err(e) => {
                errors.push(Diagnostic::error(
                    &path,
                    None,
                    format!("cannot read: {}", e.kind()),
                    None,
                ));
                continue;
            }
        };
        let value = match content.as_str() {
            "GENERATE_WHEN_EMPTY" => AppAuthValue::GenerateWhenEmpty,
            "ALWAYS_GENERATE" => AppAuthValue::AlwaysGenerate,
            _ => AppAuthValue::Literal(content),
        };
        out.push(AppAuthEntry { path, key, value });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect_files(&p, out);
        } else {
            out.push(p);
        }
    }
}

impl AppAuthValue {
    /// What `asiaq_core::app_auth::plan` makes of the file (its content kept a secret).
    pub fn into_source(self) -> Source {
        match self {
            AppAuthValue::GenerateWhenEmpty => Source::GenerateWhenEmpty,
            AppAuthValue::AlwaysGenerate => Source::AlwaysGenerate,
            AppAuthValue::Literal(v) => Source::Literal(Secret::new(v)),
        }
    }
}

/// The (S3 key, source) of every file of `app_auth_dir/<env>/` ([`read_app_auth`]).
pub fn app_auth_sources(
    app_auth_dir: &Path,
    env: &str,
) -> Result<Vec<(String, Source)>, ConfigError> {
    let entries = read_app_auth(app_auth_dir, env).map_err(ConfigError::Invalid)?;
    Ok(entries
        .into_iter()
        .map(|e| (e.key, e.value.into_source()))
        .collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn sources_keep_the_literal_as_a_secret() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("ci/app")).unwrap();
        std::fs::write(d.path().join("ci/app/a"), "GENERATE_WHEN_EMPTY\n").unwrap();
        std::fs::write(d.path().join("ci/app/b"), "ALWAYS_GENERATE").unwrap();
        std::fs::write(d.path().join("ci/app/c"), "pw\n").unwrap();
        let got = app_auth_sources(d.path(), "ci").unwrap();
        assert_eq!(
            got,
            [
                ("app_auth/app/a".to_string(), Source::GenerateWhenEmpty),
                ("app_auth/app/b".to_string(), Source::AlwaysGenerate),
                (
                    "app_auth/app/c".to_string(),
                    Source::Literal(Secret::new("pw"))
                ),
            ]
        );
        assert!(matches!(
            app_auth_sources(d.path(), "qa"),
            Err(ConfigError::Invalid(_))
        ));
    }

    use super::*;

    #[test]
    fn keys_drop_the_env_component() {
        assert_eq!(
            app_auth_key("ci", "myapp/user1").as_deref(),
            Some("app_auth/myapp/user1")
        );
        assert_eq!(
            app_auth_key("ci", "a/ci/b").as_deref(),
            Some("app_auth/a/b")
        );
        assert_eq!(app_auth_key("ci", "my.app/u"), None);
    }

    #[test]
    fn reads_tree_and_never_shows_literals() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("demo/myapp");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("admin"), "ALWAYS_GENERATE\n").unwrap();
        std::fs::write(dir.join("svc"), "hunter2\n").unwrap();
        let e = read_app_auth(d.path(), "demo").unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].value, AppAuthValue::AlwaysGenerate);
        assert_eq!(e[1].value, AppAuthValue::Literal("hunter2".into()));
        assert_eq!(e[1].user(), "svc");
        assert_eq!(e[1].dir_key(), "app_auth/myapp");
        assert!(!format!("{e:?}").contains("hunter2"));
        assert!(read_app_auth(d.path(), "prod").is_err());
    }
}
