//! Account buckets described by `iam/s3/<account>/` (spec §3.10), which the original
//! configured with `jenkins/disco_bucket_update.sh REGION ACCOUNT`: every `<NAME>.lifecycle`
//! file is a bucket; its other files (`.iam` policy, `.acp` ACL, `.versioning`, `.web`
//! website, `.logging`) come from `<NAME>.<ext>`, else `default.<ext>`.

pub mod text;

use std::collections::BTreeMap;

use serde::Serialize;

/// The configuration files a bucket can have, in the order they are applied.
pub const KINDS: [Kind; 6] = [
    Kind::Lifecycle,
    Kind::Policy,
    Kind::Acl,
    Kind::Versioning,
    Kind::Website,
    Kind::Logging,
];

/// One kind of bucket configuration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Lifecycle,
    Policy,
    Acl,
    Versioning,
    Website,
    Logging,
}

impl Kind {
    /// The file extension.
    pub fn ext(self) -> &'static str {
        match self {
            Kind::Lifecycle => "lifecycle",
            Kind::Policy => "iam",
            Kind::Acl => "acp",
            Kind::Versioning => "versioning",
            Kind::Website => "web",
            Kind::Logging => "logging",
        }
    }

    /// What it configures, for plans.
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Lifecycle => "lifecycle rules",
            Kind::Policy => "bucket policy",
            Kind::Acl => "ACL",
            Kind::Versioning => "versioning",
            Kind::Website => "website configuration",
            Kind::Logging => "access logging",
        }
    }
}

/// The values substituted in the files (`interpret_file`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Vars {
    /// The `<account>` directory name (the script's ACCOUNT argument).
    pub account: String,
    pub region: String,
    /// `[disco_aws] project_name`.
    pub project: String,
    /// The canonical id of the account's S3 owner.
    pub canonical_id: String,
    /// `[audit] dev_canonical_id` and `prod_canonical_id`.
    pub dev_canonical_id: String,
    pub prod_canonical_id: String,
}

/// `$ACCOUNT`, `$REGION`, `$PROJECT`, `$DEV_CANONICAL_ID`, `$PROD_CANONICAL_ID`,
/// `$CANONICAL_ID` and `$BUCKET_NAME`, replaced in the script's order (so the longer
/// `$*_CANONICAL_ID` names are replaced before `$CANONICAL_ID`).
pub fn substitute(text: &str, vars: &Vars, bucket: &str) -> String {
    text.replace("$ACCOUNT", &vars.account)
        .replace("$REGION", &vars.region)
        .replace("$PROJECT", &vars.project)
        .replace("$DEV_CANONICAL_ID", &vars.dev_canonical_id)
        .replace("$PROD_CANONICAL_ID", &vars.prod_canonical_id)
        .replace("$CANONICAL_ID", &vars.canonical_id)
        .replace("$BUCKET_NAME", bucket)
}

/// The bucket of a lifecycle file: its stem with the first `REGION` and the first
/// `PROJECT` replaced (the script's `sed` without `g`).
pub fn bucket_name(stem: &str, region: &str, project: &str) -> String {
    stem.replacen("REGION", region, 1)
        .replacen("PROJECT", project, 1)
}

/// Whether a bucket file is empty (only whitespace). An empty `<bucket>.<ext>` means "none
/// of this for this bucket": the bucket gets no such setting and `default.<ext>` does not
/// apply either (an empty `default.<ext>` gives no default). The original's bucket script
/// skipped an empty document; an audit bucket's empty `.logging` is how it avoids logging
/// into itself.
pub fn is_empty_document(text: &str) -> bool {
    text.trim().is_empty()
}

/// One bucket and the file of each kind it uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BucketSpec {
    pub name: String,
    /// The lifecycle file's stem (e.g. `REGION.PROJECT.credentials.demo`).
    pub stem: String,
    /// Kind -> file name in the account directory (the bucket's own or `default.<ext>`).
    /// An own file is used even when it is empty ([`is_empty_document`]), so an empty one
    /// keeps the default away.
    pub files: BTreeMap<Kind, String>,
    /// The audit bucket, which the others log into.
    pub audit: bool,
}

/// Why the account directory cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BucketsError {
    #[error(
        "{count} *s3audit*.lifecycle files (expected exactly one: the bucket the others log into)"
    )]
    AuditCount { count: usize },
}

/// The buckets of an account directory from its file names, the audit bucket first.
pub fn bucket_specs(
    file_names: &[String],
    region: &str,
    project: &str,
) -> Result<Vec<BucketSpec>, BucketsError> {
    let has = |n: &str| file_names.iter().any(|f| f == n);
    let mut specs: Vec<BucketSpec> = file_names
        .iter()
        .filter_map(|f| f.strip_suffix(".lifecycle"))
        .filter(|stem| *stem != "default")
        .map(|stem| {
            let files = KINDS
                .iter()
                .filter_map(|k| {
                    let own = format!("{stem}.{}", k.ext());
                    let default = format!("default.{}", k.ext());
                    if has(&own) {
                        Some((*k, own))
                    } else if *k != Kind::Lifecycle && has(&default) {
                        Some((*k, default))
                    } else {
                        None
                    }
                })
                .collect();
            BucketSpec {
                name: bucket_name(stem, region, project),
                stem: stem.to_string(),
                files,
                audit: stem.contains("s3audit"),
            }
        })
        .collect();
    let audits = specs.iter().filter(|s| s.audit).count();
    if audits != 1 {
        return Err(BucketsError::AuditCount { count: audits });
    }
    specs.sort_by(|a, b| b.audit.cmp(&a.audit).then(a.name.cmp(&b.name)));
    Ok(specs)
}

/// The files' JSON: the shapes of the AWS CLI (`put-bucket-lifecycle`, `put-bucket-acl`,
/// `put-bucket-versioning`, `put-bucket-website`, `put-bucket-logging`; `.iam` is a bucket
/// policy), every unknown field an error. Whether a value is one AWS accepts is checked
/// when the AWS layer turns them into requests.
pub mod files {
    use serde::Deserialize;

    use super::Kind;

    #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "PascalCase")]
    pub struct LifecycleJson {
        pub rules: Vec<RuleJson>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "PascalCase")]
    pub struct RuleJson {
        #[serde(rename = "ID")]
        pub id: Option<String>,
        pub prefix: Option<String>,
        pub filter: Option<FilterJson>,
        pub status: String,
        pub expiration: Option<ExpirationJson>,
        pub transition: Option<TransitionJson>,
        pub transitions: Option<Vec<TransitionJson>>,
        pub noncurrent_version_transition: Option<NoncurrentTransitionJson>,
        pub noncurrent_version_transitions: Option<Vec<NoncurrentTransitionJson>>,
        pub noncurrent_version_expiration: Option<NoncurrentExpirationJson>,
        pub abort_incomplete_multipart_upload: Option<AbortJson>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "PascalCase")]
    pub struct FilterJson {
        pub prefix: Option<String>,
        pub object_size_greater_than: Option<i64>,
        pub object_size_less_than: Option<i64>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "PascalCase")]
    pub struct ExpirationJson {
        pub date: Option<String>,
        pub days: Option<i32>,
        pub expired_object_delete_marker: Option<bool>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "PascalCase")]
    pub struct TransitionJson {
        pub date: Option<String>,
        pub days: Option<i32>,
        pub storage_class: String,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "PascalCase")]
    pub struct NoncurrentTransitionJson {
        pub noncurrent_days: Option<i32>,
        pub storage_class: String,
        pub newer_noncurrent_versions: Option<i32>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "PascalCase")]
    pub struct NoncurrentExpirationJson {
        pub noncurrent_days: Option<i32>,
        pub newer_noncurrent_versions: Option<i32>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "PascalCase")]
    pub struct AbortJson {
        pub days_after_initiation: Option<i32>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "PascalCase")]
    pub struct AclJson {
        pub grants: Vec<GrantJson>,
        pub owner: Option<OwnerJson>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "PascalCase")]
    pub struct GrantJson {
        pub grantee: GranteeJson,
        pub permission: String,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "PascalCase")]
    pub struct GranteeJson {
        #[serde(rename = "Type")]
        pub kind: String,
        #[serde(rename = "ID")]
        pub id: Option<String>,
        #[serde(rename = "URI")]
        pub uri: Option<String>,
        pub email_address: Option<String>,
        pub display_name: Option<String>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "PascalCase")]
    pub struct OwnerJson {
        #[serde(rename = "ID")]
        pub id: Option<String>,
        pub display_name: Option<String>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "PascalCase")]
    pub struct VersioningJson {
        pub status: Option<String>,
        #[serde(rename = "MFADelete")]
        pub mfa_delete: Option<String>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "PascalCase")]
    pub struct WebsiteJson {
        pub index_document: Option<SuffixJson>,
        pub error_document: Option<KeyJson>,
        pub redirect_all_requests_to: Option<RedirectAllJson>,
        pub routing_rules: Option<Vec<RoutingRuleJson>>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "PascalCase")]
    pub struct SuffixJson {
        pub suffix: String,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "PascalCase")]
    pub struct KeyJson {
        pub key: String,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "PascalCase")]
    pub struct RedirectAllJson {
        pub host_name: String,
        pub protocol: Option<String>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "PascalCase")]
    pub struct RoutingRuleJson {
        pub condition: Option<ConditionJson>,
        pub redirect: RedirectJson,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "PascalCase")]
    pub struct ConditionJson {
        pub http_error_code_returned_equals: Option<String>,
        pub key_prefix_equals: Option<String>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "PascalCase")]
    pub struct RedirectJson {
        pub host_name: Option<String>,
        pub http_redirect_code: Option<String>,
        pub protocol: Option<String>,
        pub replace_key_prefix_with: Option<String>,
        pub replace_key_with: Option<String>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "PascalCase")]
    pub struct LoggingJson {
        pub logging_enabled: Option<LoggingEnabledJson>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "PascalCase")]
    pub struct LoggingEnabledJson {
        pub target_bucket: String,
        pub target_prefix: String,
        pub target_grants: Option<Vec<GrantJson>>,
    }

    /// One file, parsed.
    #[derive(Debug)]
    pub enum Document {
        Lifecycle(LifecycleJson),
        /// The policy as canonical JSON, whatever the file's layout.
        Policy(String),
        Acl(AclJson),
        Versioning(VersioningJson),
        Website(WebsiteJson),
        Logging(LoggingJson),
    }

    /// Parses one file (already substituted, trailing commas removed) of `kind`. The error
    /// says what is wrong (with the line of a JSON error), not the file name.
    pub fn parse(kind: Kind, text: &str) -> Result<Document, String> {
        fn json<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, String> {
            serde_json::from_str(text).map_err(|e| format!("line {}: {e}", e.line()))
        }
        Ok(match kind {
            Kind::Lifecycle => Document::Lifecycle(json(text)?),
            Kind::Policy => {
                let v: serde_json::Value = json(text)?;
                if v.get("Statement").is_none() {
                    return Err("the bucket policy has no Statement".into());
                }
                Document::Policy(v.to_string())
            }
            Kind::Acl => Document::Acl(json(text)?),
            Kind::Versioning => Document::Versioning(json(text)?),
            Kind::Website => Document::Website(json(text)?),
            Kind::Logging => Document::Logging(json(text)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn names_and_substitutions_follow_the_script() {
        assert_eq!(
            bucket_name(
                "REGION.PROJECT.credentials.ci",
                "us-west-2",
                "sample_project"
            ),
            "us-west-2.sample_project.credentials.ci"
        );
        assert_eq!(bucket_name("REGION.REGION", "r", "p"), "r.REGION");
        let vars = Vars {
            account: "dev".into(),
            region: "us-west-2".into(),
            project: "p".into(),
            canonical_id: "C".into(),
            dev_canonical_id: "D".into(),
            prod_canonical_id: "P".into(),
        };
        assert_eq!(
            substitute(
                "$ACCOUNT $REGION $PROJECT $CANONICAL_ID $DEV_CANONICAL_ID $PROD_CANONICAL_ID $BUCKET_NAME/x",
                &vars,
                "b"
            ),
            "dev us-west-2 p C D P b/x"
        );
    }

    #[test]
    fn specs_use_own_files_then_defaults_and_put_the_audit_bucket_first() {
        let files = names(&[
            "REGION.PROJECT.credentials.demo.iam",
            "REGION.PROJECT.credentials.demo.lifecycle",
            "REGION.PROJECT.s3audit.123.lifecycle",
            "REGION.PROJECT.s3audit.123.acp",
            "default.iam",
            "default.logging",
            "default.versioning",
        ]);
        let specs = bucket_specs(&files, "us-west-2", "example").unwrap();
        assert_eq!(specs[0].name, "us-west-2.example.s3audit.123");
        assert!(specs[0].audit);
        assert_eq!(
            specs[0].files,
            BTreeMap::from([
                (
                    Kind::Lifecycle,
                    "REGION.PROJECT.s3audit.123.lifecycle".to_string()
                ),
                (Kind::Policy, "default.iam".to_string()),
                (Kind::Acl, "REGION.PROJECT.s3audit.123.acp".to_string()),
                (Kind::Versioning, "default.versioning".to_string()),
                (Kind::Logging, "default.logging".to_string()),
            ])
        );
        assert_eq!(specs[1].name, "us-west-2.example.credentials.demo");
        assert_eq!(
            specs[1].files[&Kind::Policy],
            "REGION.PROJECT.credentials.demo.iam"
        );
        assert!(!specs[1].files.contains_key(&Kind::Acl));
    }

    #[test]
    fn exactly_one_audit_bucket() {
        let none = names(&["a.lifecycle"]);
        assert_eq!(
            bucket_specs(&none, "r", "p").unwrap_err(),
            BucketsError::AuditCount { count: 0 }
        );
        let two = names(&["x.s3audit.1.lifecycle", "y.s3audit.2.lifecycle"]);
        assert!(bucket_specs(&two, "r", "p").is_err());
    }

    #[test]
    fn files_parse_the_cli_shapes_and_refuse_typos() {
        use files::{parse, Document};
        let Document::Lifecycle(l) = parse(
            Kind::Lifecycle,
            r#"{"Rules":[{"ID":"x","Prefix":"","Status":"Enabled","Expiration":{"Days":30},
                "Transitions":[{"Days":10,"StorageClass":"GLACIER"}]}]}"#,
        )
        .unwrap() else {
            panic!("not a lifecycle")
        };
        assert_eq!(l.rules[0].id.as_deref(), Some("x"));
        assert_eq!(l.rules[0].expiration.as_ref().unwrap().days, Some(30));
        assert_eq!(
            l.rules[0].transitions.as_ref().unwrap()[0].storage_class,
            "GLACIER"
        );
        let typo = parse(
            Kind::Lifecycle,
            "{\"Rules\":[{\"Status\":\"Enabled\",\n\"Expiraton\":{}}]}",
        )
        .unwrap_err();
        assert!(
            typo.starts_with("line 2: unknown field `Expiraton`"),
            "{typo}"
        );
        // Values are the AWS layer's to check.
        assert!(parse(Kind::Lifecycle, r#"{"Rules":[{"Status":"On"}]}"#).is_ok());
        let Document::Policy(p) = parse(Kind::Policy, "{ \"Statement\" : [] }").unwrap() else {
            panic!("not a policy")
        };
        assert_eq!(p, r#"{"Statement":[]}"#);
        assert_eq!(
            parse(Kind::Policy, "{}").unwrap_err(),
            "the bucket policy has no Statement"
        );
        let Document::Acl(a) = parse(
            Kind::Acl,
            r#"{"Grants":[{"Grantee":{"Type":"CanonicalUser","ID":"abc"},"Permission":"READ"}]}"#,
        )
        .unwrap() else {
            panic!("not an ACL")
        };
        assert_eq!(a.grants[0].grantee.kind, "CanonicalUser");
        assert!(matches!(
            parse(Kind::Versioning, r#"{"Status":"Enabled","MFADelete":"Disabled"}"#).unwrap(),
            Document::Versioning(v) if v.mfa_delete.as_deref() == Some("Disabled")
        ));
        assert!(matches!(
            parse(Kind::Website, r#"{"IndexDocument":{"Suffix":"index.html"}}"#).unwrap(),
            Document::Website(w) if w.index_document.as_ref().unwrap().suffix == "index.html"
        ));
        assert!(matches!(
            parse(Kind::Logging, r#"{"LoggingEnabled":{"TargetBucket":"t","TargetPrefix":"p/"}}"#).unwrap(),
            Document::Logging(l) if l.logging_enabled.as_ref().unwrap().target_bucket == "t"
        ));
        assert!(parse(Kind::Logging, "{}").is_ok(), "logging off");
        assert!(parse(Kind::Logging, "[]").is_err());
    }
}
