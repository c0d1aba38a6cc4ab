//! The `iam/` tree (spec §3.10): policies that become groups and roles, trust documents,
//! instance policies, group membership per account type, and S3 bucket descriptions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use asiaq_core::buckets::is_empty_document;

use crate::diag::Diagnostic;

/// A JSON document read from the tree.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JsonFile {
    pub path: PathBuf,
    pub document: serde_json::Value,
}

/// One `iam/group_membership/<env>/<user>.grp`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Membership {
    pub path: PathBuf,
    /// Group short names (`g` means IAM group `disco_g`).
    pub groups: Vec<String>,
}

/// The parsed `iam/` tree.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IamTree {
    pub root: PathBuf,
    /// `user_policies/<name>.iam`.
    pub user_policies: BTreeMap<String, JsonFile>,
    /// `user_policies/<name>.tr`.
    pub trust_documents: BTreeMap<String, JsonFile>,
    /// `instance_policies/<name>.iam`.
    pub instance_policies: BTreeMap<String, JsonFile>,
    /// `federation/AssumeRolePolicyDocument.iam`.
    pub federation: Option<JsonFile>,
    /// `group_membership/<env>/<user>.grp`, by environment then user.
    pub group_membership: BTreeMap<String, BTreeMap<String, Membership>>,
    /// `s3/<account>/<file>`, by account.
    pub s3: BTreeMap<String, Vec<PathBuf>>,
}

/// The IAM group of a `.grp` group short name (the prefix is the constant `disco`, not
/// `role_prefix`).
pub fn group_name(short: &str) -> String {
    format!("disco_{short}")
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    out.sort();
    out
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_string()
}

fn ext(path: &Path) -> &str {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
}

fn read_text(path: &Path) -> Result<String, Diagnostic> {
    std::fs::read_to_string(path)
        .map_err(|e| Diagnostic::error(path, None, format!("cannot read: {e}"), None))
}

fn json_error(path: &Path, e: &serde_json::Error) -> Diagnostic {
    // serde_json's message ends with " at line L column C"; the line is ours already.
    let text = e.to_string();
    let message = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(m, _)| m);
    Diagnostic::error(
        path,
        Some(e.line()),
        format!("invalid JSON (column {}): {message}", e.column()),
        Some("a JSON document".into()),
    )
}

/// Reads a JSON file, reporting a syntax error at its line.
pub fn read_json(path: &Path) -> Result<JsonFile, Diagnostic> {
    let text = read_text(path)?;
    serde_json::from_str(&text)
        .map(|document| JsonFile {
            path: path.to_path_buf(),
            document,
        })
        .map_err(|e| json_error(path, &e))
}

/// Reads a policy document (`.iam`, `.tr`, bucket files) as the original's configurations
/// have them: trailing commas are accepted, each with a warning at its line (the document
/// is sent to AWS as canonical JSON, without them).
pub fn read_policy_json(path: &Path) -> Result<(JsonFile, Vec<Diagnostic>), Diagnostic> {
    let text = read_text(path)?;
    parse_policy_json(path, &text)
}

/// [`read_policy_json`] of text already read.
pub fn parse_policy_json(
    path: &Path,
    text: &str,
) -> Result<(JsonFile, Vec<Diagnostic>), Diagnostic> {
    let doc = asiaq_core::json::parse_lenient(text).map_err(|e| json_error(path, &e))?;
    let warnings = doc
        .trailing_commas
        .iter()
        .map(|line| Diagnostic::warning(path, Some(*line), asiaq_core::json::TRAILING_COMMA, None))
        .collect();
    Ok((
        JsonFile {
            path: path.to_path_buf(),
            document: doc.value,
        },
        warnings,
    ))
}

impl IamTree {
    /// Reads the tree under `root` (the config dir's `iam/`). A missing tree is empty.
    /// Returns every problem found; errors make the result `Err`.
    pub fn load(root: &Path) -> Result<(IamTree, Vec<Diagnostic>), Vec<Diagnostic>> {
        let mut tree = IamTree {
            root: root.to_path_buf(),
            ..IamTree::default()
        };
        let mut diags = Vec::new();
        let json = |path: &Path, diags: &mut Vec<Diagnostic>| match read_policy_json(path) {
            Ok((f, warnings)) => {
                diags.extend(warnings);
                Some(f)
            }
            Err(d) => {
                diags.push(d);
                None
            }
        };

        for path in sorted_entries(&root.join("user_policies")) {
            match ext(&path) {
                "iam" => {
                    if let Some(f) = json(&path, &mut diags) {
                        check_policy_document(&f, &mut diags);
                        tree.user_policies.insert(stem(&path), f);
                    }
                }
                "tr" => {
                    if let Some(f) = json(&path, &mut diags) {
                        tree.trust_documents.insert(stem(&path), f);
                    }
                }
                _ => {}
            }
        }
        for path in sorted_entries(&root.join("instance_policies")) {
            if ext(&path) == "iam" {
                if let Some(f) = json(&path, &mut diags) {
                    check_policy_document(&f, &mut diags);
                    tree.instance_policies.insert(stem(&path), f);
                }
            }
        }
        let federation = root.join("federation/AssumeRolePolicyDocument.iam");
        if federation.exists() {
            if let Some(f) = json(&federation, &mut diags) {
                let has_principal = f
                    .document
                    .pointer("/Statement/0/Principal")
                    .is_some_and(serde_json::Value::is_object);
                if !has_principal {
                    diags.push(Diagnostic::error(
                        &f.path,
                        None,
                        "the federation trust document has no Statement[0].Principal object",
                        Some("a trust policy whose first statement has a Principal (its Federated ARN is filled in)".into()),
                    ));
                }
                tree.federation = Some(f);
            }
        }
        for env_dir in sorted_entries(&root.join("group_membership")) {
            if !env_dir.is_dir() {
                continue;
            }
            let env = env_dir
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            let mut users = BTreeMap::new();
            for path in sorted_entries(&env_dir) {
                if ext(&path) != "grp" {
                    continue;
                }
                match std::fs::read_to_string(&path) {
                    Ok(text) => {
                        let groups = text.split_whitespace().map(str::to_string).collect();
                        users.insert(
                            stem(&path),
                            Membership {
                                path: path.clone(),
                                groups,
                            },
                        );
                    }
                    Err(e) => diags.push(Diagnostic::error(
                        &path,
                        None,
                        format!("cannot read: {e}"),
                        None,
                    )),
                }
            }
            tree.group_membership.insert(env, users);
        }
        for account_dir in sorted_entries(&root.join("s3")) {
            if account_dir.is_dir() {
                let account = account_dir
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default()
                    .to_string();
                let files = sorted_entries(&account_dir);
                for f in &files {
                    if !matches!(
                        ext(f),
                        "iam" | "lifecycle" | "logging" | "versioning" | "acp" | "web"
                    ) {
                        continue;
                    }
                    match read_text(f) {
                        Ok(text) if is_empty_document(&text) => {}
                        Ok(text) => match parse_policy_json(f, &text) {
                            Ok((_, warnings)) => diags.extend(warnings),
                            Err(d) => diags.push(d),
                        },
                        Err(d) => diags.push(d),
                    }
                }
                tree.s3.insert(account, files);
            }
        }
        tree.check_references(&mut diags);
        if diags.iter().any(Diagnostic::is_error) {
            Err(diags)
        } else {
            Ok((tree, diags))
        }
    }

    fn check_references(&self, diags: &mut Vec<Diagnostic>) {
        for (name, tr) in &self.trust_documents {
            if !self.user_policies.contains_key(name) {
                diags.push(Diagnostic::error(
                    &tr.path,
                    None,
                    format!(
                        "trust document for policy {name:?}, which has no user_policies/{name}.iam"
                    ),
                    Some(format!(
                        "user_policies/{name}.iam next to it, or no {name}.tr"
                    )),
                ));
            }
        }
        for users in self.group_membership.values() {
            for (user, m) in users {
                for g in &m.groups {
                    if !self.user_policies.contains_key(g) {
                        diags.push(Diagnostic::error(
                            &m.path,
                            None,
                            format!(
                                "user {user} is in group {g:?}, which has no user_policies/{g}.iam"
                            ),
                            Some(format!(
                                "group names among: {}",
                                self.user_policies
                                    .keys()
                                    .cloned()
                                    .collect::<Vec<_>>()
                                    .join(" ")
                            )),
                        ));
                    }
                }
            }
        }
    }
}

fn check_policy_document(f: &JsonFile, diags: &mut Vec<Diagnostic>) {
    if f.document.get("Statement").is_none() {
        diags.push(Diagnostic::error(
            &f.path,
            None,
            "the policy document has no Statement",
            Some("an IAM policy document with Version and Statement".into()),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[]}"#;

    #[test]
    fn loads_a_good_tree() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        write(r, "user_policies/admin.iam", POLICY);
        write(r, "user_policies/billing.iam", POLICY);
        write(r, "user_policies/billing.tr", POLICY);
        write(r, "instance_policies/common.iam", POLICY);
        write(
            r,
            "federation/AssumeRolePolicyDocument.iam",
            r#"{"Statement":[{"Principal":{"Federated":"x"}}]}"#,
        );
        write(
            r,
            "group_membership/dev/bob@example.com.grp",
            "admin\nbilling\n",
        );
        let (t, warnings) = IamTree::load(r).unwrap();
        assert!(warnings.is_empty());
        assert_eq!(
            t.user_policies.keys().collect::<Vec<_>>(),
            vec!["admin", "billing"]
        );
        assert!(t.trust_documents.contains_key("billing"));
        assert_eq!(
            t.group_membership["dev"]["bob@example.com"].groups,
            vec!["admin", "billing"]
        );
        assert_eq!(group_name("admin"), "disco_admin");
    }

    #[test]
    fn trailing_commas_and_empty_bucket_files_are_accepted() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        write(
            r,
            "user_policies/admin.iam",
            "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Effect\": \"Allow\"},\n  ],\n}\n",
        );
        write(
            r,
            "s3/dev/REGION.PROJECT.s3audit.1.lifecycle",
            "{\"Rules\": []}",
        );
        write(r, "s3/dev/REGION.PROJECT.s3audit.1.logging", "\n");
        write(r, "s3/dev/default.logging", "{\"LoggingEnabled\": {},}");
        let (t, warnings) = IamTree::load(r).unwrap();
        let w: Vec<String> = warnings.iter().map(ToString::to_string).collect();
        let admin = r.join("user_policies/admin.iam");
        let default = r.join("s3/dev/default.logging");
        assert_eq!(
            w,
            vec![
                format!(
                    "{}:4: warning: {}",
                    admin.display(),
                    asiaq_core::json::TRAILING_COMMA
                ),
                format!(
                    "{}:5: warning: {}",
                    admin.display(),
                    asiaq_core::json::TRAILING_COMMA
                ),
                format!(
                    "{}:1: warning: {}",
                    default.display(),
                    asiaq_core::json::TRAILING_COMMA
                ),
            ]
        );
        // Sent as canonical JSON.
        assert_eq!(
            asiaq_core::iam::render_document(&t.user_policies["admin"].document),
            "{\n    \"Version\": \"2012-10-17\",\n    \"Statement\": [\n        {\n            \"Effect\": \"Allow\"\n        }\n    ]\n}"
        );
        assert!(is_empty_document(" \n\t"));
    }

    #[test]
    fn bad_trees_are_reported_before_anything_else() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        write(r, "user_policies/admin.iam", "{\n  \"Statement\": [\n}\n");
        write(r, "user_policies/orphan.tr", POLICY);
        write(r, "group_membership/dev/bob.grp", "nosuch");
        let errs: Vec<String> = IamTree::load(r)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(errs[0].contains("admin.iam:3: invalid JSON"), "{errs:?}");
        assert!(errs.iter().any(|e| e.contains("orphan.tr: trust document for policy \"orphan\", which has no user_policies/orphan.iam")));
        assert!(errs
            .iter()
            .any(|e| e.contains("bob.grp: user bob is in group \"nosuch\"")));
    }
}
