//! `account cloudtrail`: the account's trail `Default`, logging to the audit bucket, and the
//! check that the bucket's policy lets CloudTrail write there (pure: the policy is text).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Change, Plan, PlanAction, PlanBuilder, Resource};

/// The trail's name, as the original's `aws cloudtrail create-subscription --name Default`.
pub const TRAIL_NAME: &str = "Default";

/// The service principal CloudTrail writes as.
pub const SERVICE: &str = "cloudtrail.amazonaws.com";

/// What the account has of the trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailState {
    pub bucket: String,
    pub logging: bool,
}

/// One change of `account cloudtrail`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action")]
pub enum TrailAction {
    CreateTrail {
        name: String,
        bucket: String,
    },
    /// Point an existing trail at the audit bucket.
    UpdateTrail {
        name: String,
        from: String,
        bucket: String,
    },
    StartLogging {
        name: String,
    },
}

impl fmt::Display for TrailAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrailAction::CreateTrail { name, bucket } => {
                write!(f, "create trail {name} logging to s3://{bucket}")
            }
            TrailAction::UpdateTrail { name, from, bucket } => {
                write!(f, "trail {name}: log to s3://{bucket} (was s3://{from})")
            }
            TrailAction::StartLogging { name } => write!(f, "trail {name}: start logging"),
        }
    }
}

impl PlanAction for TrailAction {
    fn resource(&self) -> Resource {
        match self {
            TrailAction::CreateTrail { name, .. }
            | TrailAction::UpdateTrail { name, .. }
            | TrailAction::StartLogging { name } => Resource::new("trail", name),
        }
    }

    fn change(&self) -> Change {
        match self {
            TrailAction::CreateTrail { .. } => Change::Create,
            // The action's text already says before and after.
            TrailAction::UpdateTrail { .. } | TrailAction::StartLogging { .. } => Change::update(),
        }
    }
}

/// The plan that makes trail `name` log to `bucket`: create it (or point it at the bucket),
/// then start logging; nothing when it already does both.
pub fn plan(name: &str, bucket: &str, current: Option<&TrailState>) -> Plan<TrailAction> {
    let mut b = PlanBuilder::new();
    let mut before = Vec::new();
    match current {
        None => before.push(b.add(
            TrailAction::CreateTrail {
                name: name.into(),
                bucket: bucket.into(),
            },
            &[],
        )),
        Some(t) if t.bucket != bucket => before.push(b.add(
            TrailAction::UpdateTrail {
                name: name.into(),
                from: t.bucket.clone(),
                bucket: bucket.into(),
            },
            &[],
        )),
        Some(_) => {}
    }
    if !current.is_some_and(|t| t.logging) {
        b.add(TrailAction::StartLogging { name: name.into() }, &before);
    }
    b.build()
}

/// `pattern` (IAM's `*` and `?` wildcards) matches `text`.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn strings(v: Option<&Value>) -> Vec<&str> {
    match v {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Whether a statement's principal covers CloudTrail (`"*"`, `{"AWS": "*"}` or the service).
fn names_cloudtrail(statement: &Value) -> bool {
    match statement.get("Principal") {
        Some(Value::String(s)) => s == "*",
        Some(Value::Object(o)) => {
            strings(o.get("Service")).contains(&SERVICE) || strings(o.get("AWS")).contains(&"*")
        }
        _ => false,
    }
}

fn covers(statement: &Value, action: &str, resource: &str) -> bool {
    let action_ok = strings(statement.get("Action"))
        .iter()
        .any(|a| wildcard_match(&a.to_ascii_lowercase(), &action.to_ascii_lowercase()));
    let resource_ok = strings(statement.get("Resource"))
        .iter()
        .any(|r| wildcard_match(r, resource));
    action_ok && resource_ok
}

/// Checks that `policy` (a bucket policy document) lets CloudTrail read the ACL of `bucket`
/// and write its log files for `account_id` (`AWSLogs/<account>/...`), as AWS requires
/// before `CreateTrail`. An unconditional `Deny` of either wins over any `Allow`; a
/// conditional one (such as the deny of plain HTTP) is not CloudTrail's concern. The error
/// says what is missing.
pub fn check_policy(policy: Option<&str>, bucket: &str, account_id: &str) -> Result<(), String> {
    let Some(policy) = policy else {
        return Err(format!(
            "bucket {bucket} has no policy, so CloudTrail may not write to it"
        ));
    };
    let doc: Value = serde_json::from_str(policy)
        .map_err(|e| format!("the policy of bucket {bucket} is not JSON: {e}"))?;
    let statements: Vec<&Value> = match doc.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(s @ Value::Object(_)) => vec![s],
        _ => Vec::new(),
    };
    let needs = [
        ("s3:GetBucketAcl", format!("arn:aws:s3:::{bucket}")),
        (
            "s3:PutObject",
            format!("arn:aws:s3:::{bucket}/AWSLogs/{account_id}/CloudTrail/x.json.gz"),
        ),
    ];
    for (action, resource) in &needs {
        let applies = |s: &&&Value| names_cloudtrail(s) && covers(s, action, resource);
        let effect = |s: &&Value, e: &str| s.get("Effect").and_then(Value::as_str) == Some(e);
        let denied = statements
            .iter()
            .filter(|s| effect(s, "Deny") && s.get("Condition").is_none())
            .any(|s| applies(&s));
        let allowed = statements
            .iter()
            .filter(|s| effect(s, "Allow"))
            .any(|s| applies(&s));
        if denied || !allowed {
            let what = if *action == "s3:GetBucketAcl" {
                "read its ACL (s3:GetBucketAcl on the bucket)".to_string()
            } else {
                format!("write its logs (s3:PutObject on {bucket}/AWSLogs/{account_id}/*)")
            };
            return Err(format!(
                "the policy of bucket {bucket} does not let {SERVICE} {what}"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"{
      "Version": "2012-10-17",
      "Statement": [
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": ["arn:aws:s3:::audit", "arn:aws:s3:::audit/*"],
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Sid": "AclCheck", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
         "Action": "s3:GetBucketAcl", "Resource": "arn:aws:s3:::audit"},
        {"Sid": "Write", "Effect": "Allow", "Principal": {"Service": ["cloudtrail.amazonaws.com"]},
         "Action": ["s3:PutObject"], "Resource": "arn:aws:s3:::audit/AWSLogs/123456789012/*",
         "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}}
      ]
    }"#;

    #[test]
    fn the_documented_policy_allows_cloudtrail() {
        assert_eq!(check_policy(Some(POLICY), "audit", "123456789012"), Ok(()));
    }

    #[test]
    fn what_is_missing_is_named() {
        let e = check_policy(None, "audit", "1").unwrap_err();
        assert!(e.contains("has no policy"), "{e}");
        let e = check_policy(Some(POLICY), "audit", "999999999999").unwrap_err();
        assert!(
            e.contains("s3:PutObject on audit/AWSLogs/999999999999/*"),
            "{e}"
        );
        let no_acl = POLICY.replace("s3:GetBucketAcl", "s3:GetObject");
        let e = check_policy(Some(&no_acl), "audit", "123456789012").unwrap_err();
        assert!(e.contains("s3:GetBucketAcl"), "{e}");
        let other = POLICY.replace("cloudtrail.amazonaws.com", "config.amazonaws.com");
        assert!(check_policy(Some(&other), "audit", "123456789012").is_err());
        assert!(check_policy(Some("nope"), "audit", "1")
            .unwrap_err()
            .contains("not JSON"));
    }

    #[test]
    fn an_unconditional_deny_wins() {
        let denied = POLICY.replace(
            r#""Condition": {"Bool": {"aws:SecureTransport": "false"}}"#,
            r#""Sid2": "x""#,
        );
        assert!(check_policy(Some(&denied), "audit", "123456789012").is_err());
    }

    #[test]
    fn wildcards_match_as_iam_does() {
        assert!(wildcard_match(
            "arn:aws:s3:::b/*",
            "arn:aws:s3:::b/AWSLogs/1/x"
        ));
        assert!(wildcard_match("s3:*", "s3:putobject"));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("a?c", "abc"));
        assert!(!wildcard_match("arn:aws:s3:::b/*", "arn:aws:s3:::b"));
        assert!(!wildcard_match("arn:aws:s3:::bb*", "arn:aws:s3:::b/x"));
    }

    #[test]
    fn plans_create_update_start_or_nothing() {
        let show = |p: Plan<TrailAction>| -> Vec<String> {
            p.steps.iter().map(|s| s.action.to_string()).collect()
        };
        let p = plan("Default", "audit", None);
        assert_eq!(p.steps[1].after, [0]);
        assert_eq!(
            show(p),
            [
                "create trail Default logging to s3://audit",
                "trail Default: start logging"
            ]
        );
        let stopped = TrailState {
            bucket: "audit".into(),
            logging: false,
        };
        assert_eq!(
            show(plan("Default", "audit", Some(&stopped))),
            ["trail Default: start logging"]
        );
        let elsewhere = TrailState {
            bucket: "old".into(),
            logging: true,
        };
        assert_eq!(
            show(plan("Default", "audit", Some(&elsewhere))),
            ["trail Default: log to s3://audit (was s3://old)"]
        );
        let done = TrailState {
            bucket: "audit".into(),
            logging: true,
        };
        assert!(plan("Default", "audit", Some(&done)).is_empty());
    }
}
