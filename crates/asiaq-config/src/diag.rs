//! Diagnostics: one problem in one configuration file, with its location and the form that
//! was expected.

use std::fmt;
use std::path::{Path, PathBuf};

use asiaq_core::syntax::SyntaxError;
use serde::Serialize;

/// How bad a [`Diagnostic`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The original would fail (or silently do the wrong thing AWS then rejects).
    Error,
    /// The original accepts it, and it still works, but it is probably a slip (for example
    /// a trailing comma in a policy document, or a pipeline hostclass without a section).
    Warning,
}

/// One problem found in a configuration file.
///
/// `Display` is `path:line: message (expected ...)`. `:line` is left out when the problem
/// is not tied to a line (a missing file, a missing section); ` (expected ...)` is left out
/// when there is nothing useful to say. Warnings carry a `warning: ` prefix before the
/// message; errors have no prefix.
///
/// `path` is the configuration directory as the user gave it joined with the file's path
/// inside it (`examples/sandbox/disco_vpc.ini`), so the message can be pasted into an
/// editor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub path: PathBuf,
    /// 1-based line number (for CSV files, the line on which the row starts).
    pub line: Option<usize>,
    pub message: String,
    pub expected: Option<String>,
    pub severity: Severity,
}

impl Diagnostic {
    /// An error at `path:line`.
    pub fn error(
        path: impl Into<PathBuf>,
        line: Option<usize>,
        message: impl Into<String>,
        expected: Option<String>,
    ) -> Self {
        Diagnostic {
            path: path.into(),
            line,
            message: message.into(),
            expected,
            severity: Severity::Error,
        }
    }

    /// A warning at `path:line`.
    pub fn warning(
        path: impl Into<PathBuf>,
        line: Option<usize>,
        message: impl Into<String>,
        expected: Option<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(path, line, message, expected)
        }
    }

    /// An error made from a value-grammar error of `asiaq_core::syntax`.
    pub fn syntax(path: &Path, line: Option<usize>, err: SyntaxError) -> Self {
        Diagnostic::error(path, line, err.message, Some(err.expected))
    }

    /// Same diagnostic, with `prefix: ` in front of the message.
    #[must_use]
    pub fn prefixed(mut self, prefix: impl fmt::Display) -> Self {
        self.message = format!("{prefix}: {}", self.message);
        self
    }

    /// `path:line: message (expected ...)` without the severity word, for a reporter that
    /// marks warnings itself.
    pub fn located(&self) -> String {
        Diagnostic {
            severity: Severity::Error,
            ..self.clone()
        }
        .to_string()
    }

    /// True for [`Severity::Error`].
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        f.write_str(": ")?;
        if self.severity == Severity::Warning {
            f.write_str("warning: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(expected) = &self.expected {
            write!(f, " (expected {expected})")?;
        }
        Ok(())
    }
}

/// Sorts diagnostics by file, then line (file-level ones first), keeping the order in
/// which they were found for equal locations.
pub fn sort_diagnostics(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| a.path.cmp(&b.path).then(a.line.cmp(&b.line)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_forms() {
        let d = Diagnostic::error(
            "examples/sandbox/disco_vpc.ini",
            Some(12),
            "bad",
            Some("good".into()),
        );
        assert_eq!(
            d.to_string(),
            "examples/sandbox/disco_vpc.ini:12: bad (expected good)"
        );
        let d = Diagnostic::warning("x/disco_aws.ini", None, "hmm", None);
        assert_eq!(d.to_string(), "x/disco_aws.ini: warning: hmm");
        let d = Diagnostic::syntax(Path::new("a.ini"), Some(1), SyntaxError::new("m", "e"));
        assert_eq!(d.to_string(), "a.ini:1: m (expected e)");
        assert_eq!(
            d.prefixed("ctx").to_string(),
            "a.ini:1: ctx: m (expected e)"
        );
    }
}
