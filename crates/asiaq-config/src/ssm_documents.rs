//! `ssm/documents/<Name>.ssm` (spec §4.15): SSM documents kept in sync with the account.

use std::path::{Path, PathBuf};

use asiaq_core::ssm::{name_problem, parse_content, Content, DesiredDocument};

use crate::diag::Diagnostic;

/// One document: its name (the file's basename), text and parsed content (JSON or YAML).
#[derive(Debug, Clone, PartialEq)]
pub struct SsmDocument {
    pub name: String,
    pub path: PathBuf,
    pub text: String,
    pub content: Content,
}

impl SsmDocument {
    /// The document as `ssm update-documents` plans it.
    pub fn desired(&self) -> DesiredDocument {
        DesiredDocument {
            name: self.name.clone(),
            text: self.text.clone(),
            content: self.content.clone(),
        }
    }
}

/// Reads every `*.ssm` file of `dir` (a missing directory has none). Names starting with
/// `AWS-` are AWS's own and are skipped with a warning, as the original ignored them. A
/// file that is not a document (invalid JSON or YAML, no `schemaVersion`) or whose name SSM
/// refuses is an error at its line.
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
        if name.starts_with(asiaq_core::ssm::AWS_PREFIX) {
            diags.push(Diagnostic::warning(
                &path,
                None,
                "documents named AWS-* belong to AWS and are skipped",
                None,
            ));
            continue;
        }
        if let Some(problem) = name_problem(&name) {
            diags.push(Diagnostic::error(
                &path,
                None,
                problem,
                Some(
                    "3-128 characters of letters, digits, _, - and ., not starting with aws, amazon or amzn"
                        .into(),
                ),
            ));
            continue;
        }
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                diags.push(Diagnostic::error(
                    &path,
                    None,
                    format!("cannot read: {e}"),
                    None,
                ));
                continue;
            }
        };
        match parse_content(&text) {
            Ok(content) => docs.push(SsmDocument {
                name,
                path,
                text,
                content,
            }),
            Err(e) => diags.push(Diagnostic::error(
                &path,
                e.line,
                e.message,
                Some(e.expected.into()),
            )),
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
        std::fs::write(d.path().join("yaml.ssm"), "schemaVersion: '2.2'\n").unwrap();
        let (docs, _) = read_ssm_documents(d.path()).unwrap();
        assert_eq!(docs[1].content.format, asiaq_core::ssm::DocFormat::Yaml);
        std::fs::write(
            d.path().join("bad.ssm"),
            "{\n\"schemaVersion\": \"2.2\",\n}",
        )
        .unwrap();
        let errs = read_ssm_documents(d.path()).unwrap_err();
        let errs: Vec<String> = errs
            .iter()
            .filter(|d| d.is_error())
            .map(ToString::to_string)
            .collect();
        assert!(errs[0].contains("bad.ssm:3: invalid JSON"), "{errs:?}");
        std::fs::remove_file(d.path().join("bad.ssm")).unwrap();
        std::fs::write(d.path().join("nover.ssm"), "{\"description\": \"x\"}").unwrap();
        let errs = read_ssm_documents(d.path()).unwrap_err();
        assert!(
            errs.iter().any(|e| e.is_error()
                && e.to_string()
                    .contains("nover.ssm: the document has no schemaVersion")),
            "{errs:?}"
        );
        std::fs::remove_file(d.path().join("nover.ssm")).unwrap();
        std::fs::write(
            d.path().join("amazon-x.ssm"),
            "{\"schemaVersion\": \"2.2\"}",
        )
        .unwrap();
        let errs = read_ssm_documents(d.path()).unwrap_err();
        assert!(
            errs.iter()
                .any(|e| e.is_error() && e.to_string().contains("a prefix AWS keeps")),
            "{errs:?}"
        );
    }
}
