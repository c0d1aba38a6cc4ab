//! The `iam/` tree (spec §3.10): policies that become groups and roles, trust documents,
//! instance policies, group membership per account type, and S3 bucket descriptions.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use asiaq_core::buckets::is_empty_document;
use asiaq_core::iam::{Desired, IamOptions, SamlDesired};

use crate::diag::Diagnostic;
use crate::options::{self, IAM_OPTIONS};

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

/// Why the desired IAM state cannot be built; every case is a configuration error (exit 2)
/// found before AWS is called.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DesiredError {
    /// The `iam/` tree has errors (the error diagnostics, one per line).
    #[error("{}", .0.iter().filter(|d| d.is_error()).map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Tree(Vec<Diagnostic>),
    #[error("{}: no user_policies/*.iam and no instance_policies/*.iam", root.display())]
    NoPolicies { root: PathBuf },
    #[error("{}: no directory for IAM environment {env:?} (have: {})", dir.display(), have.join(", "))]
    NoEnvironment {
        dir: PathBuf,
        env: String,
        have: Vec<String>,
    },
    /// An `[iam]` option has a wrong value.
    #[error(transparent)]
    Options(crate::ConfigError),
    #[error("{}: [iam] saml_provider_name and saml_provider_url go together (one is set without the other)", path.display())]
    HalfSaml { path: PathBuf },
}

impl DesiredError {
    /// What to do about it, when there is more to say than the message.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            DesiredError::NoPolicies { .. } => Some("point --asiaq-config (or ASIAQ_CONFIG) at an asiaq configuration directory with an iam/ tree"),
            DesiredError::NoEnvironment { .. } => Some("--environment is the account type of iam/group_membership/<env>; a typo here would sync the wrong roles"),
            _ => None,
        }
    }
}

/// The desired IAM state of environment `env`: the `iam/` tree at `root` with the `[iam]`
/// options of `aws`, and the SAML provider's metadata URL (not yet checked or fetched; the
/// metadata is left empty). Warnings of the tree go to `warnings`, also when it fails.
pub fn desired_state(
    root: &Path,
    aws: &crate::AwsIni,
    env: &str,
    warnings: &mut Vec<Diagnostic>,
) -> Result<(Desired, Option<String>), DesiredError> {
    let tree = match IamTree::load(root) {
        Ok((tree, w)) => {
            warnings.extend(w);
            tree
        }
        Err(diags) => return Err(DesiredError::Tree(diags)),
    };
    if tree.user_policies.is_empty() && tree.instance_policies.is_empty() {
        return Err(DesiredError::NoPolicies {
            root: root.to_path_buf(),
        });
    }
    let membership = if tree.group_membership.is_empty() {
        None
    } else {
        let Some(users) = tree.group_membership.get(env) else {
            return Err(DesiredError::NoEnvironment {
                dir: root.join("group_membership"),
                env: env.to_string(),
                have: tree.group_membership.keys().cloned().collect(),
            });
        };
        Some(
            users
                .iter()
                .map(|(u, m)| (u.clone(), m.groups.iter().cloned().collect::<BTreeSet<_>>()))
                .collect::<BTreeMap<_, _>>(),
        )
    };
    let opt = |key: &str| {
        aws.iam_option(key, env)
            .map(|v| v.text.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let list = |key: &str| -> BTreeSet<String> {
        opt(key)
            .map(|v| v.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    };
    let mut errors = Vec::new();
    let mut flag = |key: &str| {
        options::flag(
            IAM_OPTIONS,
            key,
            aws.iam_option(key, env),
            false,
            &mut errors,
        )
    };
    let (prune_empty_groups, delete_unmanaged) =
        (flag("prune_empty_groups"), flag("delete_unmanaged"));
    if !errors.is_empty() {
        return Err(DesiredError::Options(crate::ConfigError::Invalid(errors)));
    }
    let options = IamOptions {
        role_prefix: opt("role_prefix"),
        naked_roles: list("naked_roles"),
        policy_blacklist: list("policy_blacklist"),
        prune_empty_groups,
        delete_unmanaged,
    };
    let saml = match (opt("saml_provider_name"), opt("saml_provider_url")) {
        (Some(name), Some(url)) => Some((name, url)),
        (None, None) => None,
        (Some(_), None) | (None, Some(_)) => {
            return Err(DesiredError::HalfSaml {
                path: aws.ini().path().to_path_buf(),
            })
        }
    };
    let json = |m: &BTreeMap<String, JsonFile>| {
        m.iter()
            .map(|(k, f)| (k.clone(), f.document.clone()))
            .collect::<BTreeMap<_, _>>()
    };
    let desired = Desired {
        environment: env.to_string(),
        user_policies: json(&tree.user_policies),
        trust_documents: json(&tree.trust_documents),
        instance_policies: json(&tree.instance_policies),
        federation: tree.federation.as_ref().map(|f| f.document.clone()),
        membership,
        saml: saml.as_ref().map(|(name, _)| SamlDesired {
            name: name.clone(),
            metadata: String::new(),
        }),
        options,
    };
    Ok((desired, saml.map(|(_, url)| url)))
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

    fn aws_ini(text: &str) -> crate::AwsIni {
        crate::AwsIni::new(
            crate::IniFile::parse("/cfg/disco_aws.ini", text).unwrap(),
            None,
        )
    }

    #[test]
    fn desired_state_reads_the_tree_and_the_iam_options() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        write(r, "user_policies/admin.iam", POLICY);
        write(r, "user_policies/admin.tr", POLICY);
        write(r, "instance_policies/common.iam", "{\"Statement\": [],}");
        write(r, "group_membership/dev/bob.grp", "admin\n");
        write(r, "group_membership/prod/eve.grp", "admin\n");
        let aws = aws_ini(
            "[iam]\nrole_prefix = dev\nnaked_roles = a b\nprune_empty_groups = true\n\
             saml_provider_name = okta\nsaml_provider_url@dev = https://idp/metadata\n",
        );
        let mut warnings = Vec::new();
        let (desired, url) = desired_state(r, &aws, "dev", &mut warnings).unwrap();
        assert_eq!(warnings.len(), 1, "the trailing comma: {warnings:?}");
        assert_eq!(url.as_deref(), Some("https://idp/metadata"));
        assert_eq!(desired.environment, "dev");
        assert_eq!(desired.user_policies.keys().collect::<Vec<_>>(), ["admin"]);
        assert!(desired.trust_documents.contains_key("admin"));
        assert!(desired.instance_policies.contains_key("common"));
        let membership = desired.membership.unwrap();
        assert_eq!(membership.keys().collect::<Vec<_>>(), ["bob"]);
        assert!(membership["bob"].contains("admin"));
        assert_eq!(desired.saml.unwrap().name, "okta");
        assert_eq!(desired.options.role_prefix.as_deref(), Some("dev"));
        assert_eq!(desired.options.naked_roles.len(), 2);
        assert!(desired.options.prune_empty_groups);
        assert!(!desired.options.delete_unmanaged);
        // In prod the URL is not set: half a SAML provider.
        let err = desired_state(r, &aws, "prod", &mut Vec::new()).unwrap_err();
        assert!(matches!(err, DesiredError::HalfSaml { .. }), "{err}");
        assert!(err.to_string().contains("go together"));
    }

    #[test]
    fn desired_state_without_membership_leaves_users_alone() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "user_policies/admin.iam", POLICY);
        let (desired, url) =
            desired_state(d.path(), &aws_ini("[iam]\n"), "dev", &mut Vec::new()).unwrap();
        assert!(desired.membership.is_none());
        assert!(desired.saml.is_none() && url.is_none());
    }

    #[test]
    fn desired_state_errors_name_the_problem() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        let empty = desired_state(r, &aws_ini(""), "dev", &mut Vec::new()).unwrap_err();
        assert!(matches!(empty, DesiredError::NoPolicies { .. }));
        assert!(empty.hint().unwrap().contains("--asiaq-config"));
        write(r, "user_policies/admin.iam", POLICY);
        write(r, "group_membership/prod/eve.grp", "admin\n");
        let env = desired_state(r, &aws_ini(""), "dve", &mut Vec::new()).unwrap_err();
        assert!(
            env.to_string()
                .ends_with("no directory for IAM environment \"dve\" (have: prod)"),
            "{env}"
        );
        assert!(env.hint().unwrap().contains("--environment"));
        let flag = desired_state(
            r,
            &aws_ini("[iam]\nprune_empty_groups = maybe\n"),
            "prod",
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(matches!(flag, DesiredError::Options(_)), "{flag}");
        assert!(flag.to_string().contains("prune_empty_groups"), "{flag}");
        assert!(flag.hint().is_none());
        write(r, "user_policies/broken.iam", "{");
        let tree = desired_state(r, &aws_ini(""), "prod", &mut Vec::new()).unwrap_err();
        assert!(tree.to_string().contains("broken.iam"), "{tree}");
    }
}
