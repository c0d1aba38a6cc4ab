//! The configuration directory (`ASIAQ_CONFIG`, `--asiaq-config`).

use std::path::{Path, PathBuf};

use crate::aws_ini::AwsIni;
use crate::error::ConfigError;
use crate::ini::IniFile;
use crate::vpc_ini::VpcIni;

/// File names inside the configuration directory.
pub mod files {
    pub const DISCO_AWS: &str = "disco_aws.ini";
    pub const DISCO_VPC: &str = "disco_vpc.ini";
    pub const DISCO_ALARMS: &str = "disco_alarms.ini";
    pub const DISCO_LOG_METRICS: &str = "disco_log_metrics.ini";
    pub const DISCO_ELASTICACHE: &str = "disco_elasticache.ini";
    pub const DISCO_ELASTICSEARCH: &str = "disco_elasticsearch.ini";
    pub const DISCO_RDS: &str = "disco_rds.ini";
    pub const RDS_ENGINE_SPECIFIC: &str = "rds/engine_specific";
    pub const PIPELINES: &str = "pipelines";
    pub const IAM: &str = "iam";
    pub const DISCOROOT: &str = "discoroot";
    pub const ACFG_METADATA: &str = "discoroot/acfg.metadata";
    pub const APP_AUTH: &str = "app_auth";
    pub const SSM_DOCUMENTS: &str = "ssm/documents";
    pub const INIT: &str = "init";
}

/// A configuration directory. Every file is resolved relative to it (the original's
/// `normalize_path`). Decision: the `iam/` and `ssm/documents/` trees are also resolved
/// relative to it, where the original used the current working directory (spec §1 caveat);
/// running from the config directory, as the original required, gives the same result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigDir {
    root: PathBuf,
}

impl ConfigDir {
    /// The directory as the user gave it (kept as given, so messages show familiar paths).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        ConfigDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `root/relative`, as shown in messages and used for I/O.
    pub fn path(&self, relative: impl AsRef<Path>) -> PathBuf {
        let relative = relative.as_ref();
        if relative.is_absolute() {
            return relative.to_path_buf();
        }
        if self.root == Path::new(".") {
            relative.to_path_buf()
        } else {
            self.root.join(relative)
        }
    }

    /// `normalize_path`: the path must exist.
    pub fn existing(&self, relative: impl AsRef<Path>) -> Result<PathBuf, ConfigError> {
        let path = self.path(relative);
        if path.exists() {
            Ok(path)
        } else {
            Err(ConfigError::NotFound { path })
        }
    }

    /// Checks that the directory itself exists and holds `disco_aws.ini`.
    pub fn check(&self) -> Result<(), ConfigError> {
        if !self.root.is_dir() {
            return Err(ConfigError::NotFound {
                path: self.root.clone(),
            });
        }
        self.existing(files::DISCO_AWS).map(|_| ())
    }

    /// Reads an INI file that must exist.
    pub fn ini(&self, name: &str) -> Result<IniFile, ConfigError> {
        let path = self.path(name);
        IniFile::read(&path, &path)
    }

    /// Reads an INI file that may be absent (then it is empty).
    pub fn optional_ini(&self, name: &str) -> Result<IniFile, ConfigError> {
        match self.ini(name) {
            Err(ConfigError::NotFound { path }) => Ok(IniFile::empty(path)),
            other => other,
        }
    }

    /// `disco_aws.ini`, with the environment that `@env` lookups use: `env`, or else
    /// `[disco_aws] default_environment`.
    /// Its hostclass and environment names must be usable in AWS ([`AwsIni::check_names`]).
    pub fn aws(&self, env: Option<&str>) -> Result<AwsIni, ConfigError> {
        let aws = AwsIni::new(self.ini(files::DISCO_AWS)?, env);
        let bad = aws.check_names();
        if bad.is_empty() {
            Ok(aws)
        } else {
            Err(ConfigError::Invalid(bad))
        }
    }

    /// `disco_vpc.ini`.
    pub fn vpc(&self) -> Result<VpcIni, ConfigError> {
        Ok(VpcIni::new(self.ini(files::DISCO_VPC)?))
    }

    /// A pipeline file: absolute, relative to the current directory if it exists there
    /// (as the original's `--pipeline` was), else relative to the configuration directory.
    pub fn pipeline_path(&self, given: &Path) -> PathBuf {
        if given.is_absolute() || given.exists() {
            given.to_path_buf()
        } else {
            self.path(given)
        }
    }
}
