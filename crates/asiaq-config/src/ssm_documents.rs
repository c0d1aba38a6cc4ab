//! `ssm/documents/<Name>.ssm` (spec §4.15): SSM documents kept in sync with the account.

use std::path::Path;

use crate::diag::Diagnostic;
use crate::iam_tree::{read_json, JsonFile};

/// One document: its name (the file's basename) and content.
#[derive(Debug, Clone, PartialEq)]
pub struct SsmDocument {
    pub name: String,
    pub file: JsonFile,
}

/// Reads every `*.ssm` file of `dir` (a missing directory has none). Names starting with
/// `AWS-` are AWS's own and are skipped with a warning, as the original ignored them.
pub fn read_ssm_documents(
    dir: &Path,
) -> Result<(Vec<SsmDocument>, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    paths.sort();
    let mut docs = Vec::new();
    let mut diags = Vec::new();
    for path in paths {
        if path.extension().and_then(|e| e.to_str()) != Some("ssm") {
            continue;
        }
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        if name.starts_with("AWS-") {
            diags.push(Diagnostic::warning(
                &path,
                None,
                "documents named AWS-* belong to AWS and are skipped",
                None,
            ));
            continue;
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            || name.len() < 3
        {
            diags.push(Diagnostic::error(
                &path,
                None,
                format!("{name:?} is not a valid SSM document name"),
                Some("3-128 characters of letters, digits, _, - and .".into()),
            ));
            continue;
        }
        match read_json(&path) {
            Ok(file) => {
                if file.document.get("schemaVersion").is_none() {
                    diags.push(Diagnostic::error(
                        &path,
                        None,
                        "the document has no schemaVersion",
                        Some("an SSM document with schemaVersion".into()),
                    ));
                }
                docs.push(SsmDocument { name, file });
            }
            Err(d) => diags.push(d),
        }
    }
    if diags.iter().any(Diagnostic::is_error) {
        Err(diags)
    } else {
        Ok((docs, diags))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_documents() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("run.ssm"), r#"{"schemaVersion":"2.2"}"#).unwrap();
        std::fs::write(d.path().join("AWS-Mine.ssm"), "{}").unwrap();
        std::fs::write(d.path().join("notes.txt"), "x").unwrap();
        let (docs, warnings) = read_ssm_documents(d.path()).unwrap();
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].name, "run");
        assert_eq!(warnings.len(), 1);
        std::fs::write(d.path().join("bad.ssm"), "{").unwrap();
        assert!(read_ssm_documents(d.path()).is_err());
    }
}
