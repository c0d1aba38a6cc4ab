//! Loading and lookup failures.

use std::path::PathBuf;

use crate::diag::Diagnostic;

/// Why a configuration file could not be read or a value could not be produced.
///
/// Every variant names the file (as the user's config dir joined with the file), and where
/// possible the line, so the CLI can print it as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The file or directory does not exist (the original's `AsiaqConfigError("Config path
    /// not found: ...")`).
    #[error("config path not found: {}", path.display())]
    NotFound { path: PathBuf },

    /// The file exists but could not be read.
    #[error("cannot read {}: {message}", path.display())]
    Io { path: PathBuf, message: String },

    /// The file is malformed, or a value does not match its grammar. Never empty.
    #[error("{}", display_diagnostics(.0))]
    Invalid(Vec<Diagnostic>),

    /// No candidate key of a lookup rule is set (the original's `NoOptionError`). `tried`
    /// lists the `[section] key` candidates in lookup order.
    #[error("{}: option {option:?} is not set (looked for {})", path.display(), tried.join(", "))]
    NoOption {
        path: PathBuf,
        option: String,
        tried: Vec<String>,
    },

    /// A section that must exist does not (the original's `NoSectionError` /
    /// `CommandError("... section missing ...")`).
    #[error("{}: section [{section}] is missing", path.display())]
    NoSection { path: PathBuf, section: String },
}

fn display_diagnostics(diags: &[Diagnostic]) -> String {
    diags
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl ConfigError {
    /// The problem(s) as diagnostics (one per line of `Display`).
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            ConfigError::Invalid(d) => d.clone(),
            ConfigError::NotFound { path } => {
                vec![Diagnostic::error(
                    path.clone(),
                    None,
                    "file not found",
                    None,
                )]
            }
            ConfigError::Io { path, message } => {
                vec![Diagnostic::error(
                    path.clone(),
                    None,
                    format!("cannot read: {message}"),
                    None,
                )]
            }
            ConfigError::NoOption {
                path,
                option,
                tried,
            } => vec![Diagnostic::error(
                path.clone(),
                None,
                format!("option {option:?} is not set"),
                Some(if tried.len() == 1 {
                    tried[0].clone()
                } else {
                    format!("one of {}", tried.join(", "))
                }),
            )],
            ConfigError::NoSection { path, section } => vec![Diagnostic::error(
                path.clone(),
                None,
                format!("section [{section}] is missing"),
                None,
            )],
        }
    }

    /// A single-diagnostic [`ConfigError::Invalid`].
    pub fn invalid(diag: Diagnostic) -> Self {
        ConfigError::Invalid(vec![diag])
    }
}
