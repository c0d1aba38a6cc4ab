//! What `asiaq dynamodb` reads before any call: the environment (`--env`, else
//! `[disco_aws] default_environment`) and a table definition file, every problem of which
//! is reported at once as `file:line:column`.

use std::path::{Path, PathBuf};

use asiaq_core::dynamodb::{check_environment, parse_definition, Purpose, TableDefinition};

use crate::{ConfigDir, ConfigError};

/// Input refused before any call (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The configuration directory at fault.
    #[error(transparent)]
    Config(ConfigError),
    /// No `--env` and no default environment.
    #[error(transparent)]
    NoEnvironment(ConfigError),
    /// A bad environment name, an unreadable or invalid definition file.
    #[error("{0}")]
    Invalid(String),
}

impl InputError {
    /// What to do about it, when there is something to say.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            InputError::NoEnvironment(_) => Some("give --env ENV"),
            _ => None,
        }
    }
}

/// The environment whose tables a command works on: `given` (`--env`), else the default
/// environment of `config_dir`; never empty, `none` or `-`.
pub fn environment(config_dir: &Path, given: Option<&str>) -> Result<String, InputError> {
    let env = match given {
        Some(e) => e.to_string(),
        None => ConfigDir::new(config_dir)
            .aws(None)
            .map_err(InputError::Config)?
            .require_environment()
            .map_err(InputError::NoEnvironment)?
            .to_string(),
    };
    check_environment(&env).map_err(InputError::Invalid)?;
    Ok(env)
}

/// A definition file: absolute; else relative to the current directory when it is there;
/// else relative to the configuration directory (where the original looked).
pub fn definition_path(config_dir: &Path, given: &Path) -> PathBuf {
    if given.is_absolute() || given.exists() {
        given.to_path_buf()
    } else {
        config_dir.join(given)
    }
}

/// Reads and checks a definition file for `purpose`; every problem at once, as
/// `file:line:column: ...` a line.
pub fn read_definition(
    config_dir: &Path,
    given: &Path,
    purpose: Purpose,
) -> Result<TableDefinition, InputError> {
    let path = definition_path(config_dir, given);
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(&path)
        .map_err(|e| InputError::Invalid(format!("cannot read {shown}: {e}")))?;
    parse_definition(&text, purpose).map_err(|problems| {
        InputError::Invalid(
            problems
                .iter()
                .map(|p| p.render(&shown))
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    fn the_environment_is_the_given_one_or_the_default_and_is_checked() {
        let d = dir();
        std::fs::write(
            d.path().join("disco_aws.ini"),
            "[disco_aws]\ndefault_environment=ci\n",
        )
        .unwrap();
        assert_eq!(environment(d.path(), Some("prod")).unwrap(), "prod");
        assert_eq!(environment(d.path(), None).unwrap(), "ci");
        let err = environment(d.path(), Some("none")).unwrap_err();
        assert!(matches!(err, InputError::Invalid(_)), "{err:?}");
        assert!(err.hint().is_none());
    }

    #[test]
    fn no_default_environment_says_to_give_one() {
        let d = dir();
        std::fs::write(d.path().join("disco_aws.ini"), "[disco_aws]\n").unwrap();
        let err = environment(d.path(), None).unwrap_err();
        assert!(matches!(err, InputError::NoEnvironment(_)), "{err:?}");
        assert_eq!(err.hint(), Some("give --env ENV"));
    }

    #[test]
    fn definition_files_are_found_here_or_in_the_configuration_directory() {
        let d = dir();
        let absolute = d.path().join("t.json");
        assert_eq!(definition_path(Path::new("/cfg"), &absolute), absolute);
        assert_eq!(
            definition_path(Path::new("/cfg"), Path::new("no/such/t.json")),
            Path::new("/cfg/no/such/t.json")
        );
    }

    #[test]
    fn definition_files_report_every_problem_with_its_position() {
        let d = dir();
        std::fs::write(d.path().join("t.json"), "{\n  \"Billing\": 1\n}\n").unwrap();
        let err = read_definition(d.path(), Path::new("t.json"), Purpose::Create).unwrap_err();
        let shown = d.path().join("t.json").display().to_string();
        assert!(err.to_string().starts_with(&format!("{shown}:2:")), "{err}");
        let err = read_definition(d.path(), Path::new("gone.json"), Purpose::Create).unwrap_err();
        assert!(err.to_string().starts_with("cannot read "), "{err}");
        std::fs::write(d.path().join("ok.json"), r#"{"TableName": "t"}"#).unwrap();
        let def = read_definition(d.path(), Path::new("ok.json"), Purpose::Update).unwrap();
        assert_eq!(def.table_name.as_deref(), Some("t"));
    }
}
