//! What `asiaq config validate` prints of the problems [`crate::validate::validate`] found.

use std::path::Path;

use asiaq_core::printout::Printout;
use serde::Serialize;

use crate::diag::Diagnostic;

/// The diagnostics, a line each (JSON: them with the counts), the summary line for stderr
/// (`root: N errors, M warnings`), and how many are errors.
pub fn report(root: &Path, diagnostics: &[Diagnostic]) -> (Printout, String, usize) {
    #[derive(Serialize)]
    struct Report<'a> {
        errors: usize,
        warnings: usize,
        diagnostics: &'a [Diagnostic],
    }
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let summary = format!(
        "{}: {errors} error{}, {warnings} warning{}",
        root.display(),
        plural(errors),
        plural(warnings)
    );
    let report = Report {
        errors,
        warnings,
        diagnostics,
    };
    let lines = diagnostics.iter().map(ToString::to_string).collect();
    (Printout::new(&report, lines), summary, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_lines() {
        let diags = vec![
            Diagnostic::error(
                "disco_aws.ini",
                Some(3),
                "bad value",
                Some("a number".into()),
            ),
            Diagnostic::warning("disco_vpc.ini", Some(1), "unused key", None),
        ];
        let (p, summary, errors) = report(Path::new("/cfg"), &diags);
        assert_eq!(errors, 1);
        assert_eq!(summary, "/cfg: 1 error, 1 warning");
        assert_eq!(p.lines, [diags[0].to_string(), diags[1].to_string()]);
        assert_eq!(p.json["errors"], 1);
        assert_eq!(p.json["warnings"], 1);
        let (p, summary, errors) = report(Path::new("/cfg"), &[]);
        assert_eq!(
            (summary.as_str(), errors),
            ("/cfg: 0 errors, 0 warnings", 0)
        );
        assert!(p.lines.is_empty());
    }
}
