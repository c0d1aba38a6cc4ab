//! `app_conf/<env>/...`: application configuration files that `app-conf update` copies to
//! the environment's credential bucket, each at `app_conf/<path below the env dir>`.

use std::path::{Path, PathBuf};

use crate::diag::Diagnostic;
use crate::ConfigError;

/// One file of the tree with its bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct AppConfFile {
    pub path: PathBuf,
    /// The path below `app_conf/<env>/`, `/`-separated.
    pub relative: String,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for AppConfFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppConfFile")
            .field("path", &self.path)
            .field("relative", &self.relative)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// Reads every file under `<app_conf dir>/<env>` (recursively, following no symlinked
/// directories, in path order). A missing directory is an error; so is an empty one (there
/// would be nothing to upload, and `--delete` would empty the prefix).
pub fn read_app_conf(app_conf_dir: &Path, env: &str) -> Result<Vec<AppConfFile>, ConfigError> {
    let env_dir = app_conf_dir.join(env);
    if env.is_empty() || env.contains('/') || env.starts_with('.') || !env_dir.is_dir() {
        return Err(ConfigError::Invalid(vec![Diagnostic::error(
            &env_dir,
            None,
            format!("no application configuration for environment {env}"),
            Some(format!("a directory {}", env_dir.display())),
        )]));
    }
    let mut paths = Vec::new();
    collect(&env_dir, &mut paths).map_err(|(path, e)| ConfigError::Io {
        path,
        message: e.to_string(),
    })?;
    paths.sort();
    if paths.is_empty() {
        return Err(ConfigError::Invalid(vec![Diagnostic::error(
            &env_dir,
            None,
            format!("no files for environment {env}"),
            Some(format!("files under {}", env_dir.display())),
        )]));
    }
    let mut out = Vec::new();
    for path in paths {
        let bytes = std::fs::read(&path).map_err(|e| ConfigError::Io {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let relative = path
            .strip_prefix(&env_dir)
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        out.push(AppConfFile {
            path,
            relative,
            bytes,
        });
    }
    Ok(out)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), (PathBuf, std::io::Error)> {
    let rd = std::fs::read_dir(dir).map_err(|e| (dir.to_path_buf(), e))?;
    for e in rd {
        let e = e.map_err(|e| (dir.to_path_buf(), e))?;
        let path = e.path();
        let kind = e.file_type().map_err(|e| (path.clone(), e))?;
        if kind.is_dir() {
            collect(&path, out)?;
        } else if path.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_tree_with_relative_paths() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("ci/app/sub")).unwrap();
        std::fs::write(d.path().join("ci/top.conf"), "t").unwrap();
        std::fs::write(d.path().join("ci/app/sub/x.ini"), "x").unwrap();
        let got = read_app_conf(d.path(), "ci").unwrap();
        let rel: Vec<&str> = got.iter().map(|f| f.relative.as_str()).collect();
        assert_eq!(rel, ["app/sub/x.ini", "top.conf"]);
        assert_eq!(got[1].bytes, b"t");
    }

    #[test]
    fn a_missing_or_empty_directory_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let e = read_app_conf(d.path(), "ci").unwrap_err().to_string();
        assert!(
            e.contains("no application configuration for environment ci"),
            "{e}"
        );
        std::fs::create_dir_all(d.path().join("ci/empty")).unwrap();
        let e = read_app_conf(d.path(), "ci").unwrap_err().to_string();
        assert!(e.contains("no files for environment ci"), "{e}");
        assert!(read_app_conf(d.path(), "../x").is_err());
    }
}
