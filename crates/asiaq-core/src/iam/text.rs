//! What `asiaq iam` prints: documents, created keys, dry runs and `iam update`'s report.

use serde::Serialize;

use super::{IamAction, IamPlan};
use crate::printout::{Printout, Refusal};

/// A policy document or decoded message as JSON when it parses, else as a string.
fn json_or_text(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or(serde_json::Value::String(text.to_string()))
}

/// `getgrouppolicy`: the document as it is; JSON: parsed.
pub fn policy_document(doc: &str) -> Printout {
    Printout::new(&json_or_text(doc), vec![doc.to_string()])
}

/// `decode`: the decoded authorization message under a heading; JSON: parsed.
pub fn decoded_message(decoded: &str) -> Printout {
    let heading = "---------- Decoded message ----------".to_string();
    Printout::new(&json_or_text(decoded), vec![heading, decoded.to_string()])
}

/// `createkey`: the new key as a credentials file section (the one place a secret key is
/// printed).
pub fn created_key(user: &str, access_key_id: &str, secret_access_key: &str) -> Printout {
    #[derive(Serialize)]
    struct Created<'a> {
        user: &'a str,
        access_key_id: &'a str,
        secret_access_key: &'a str,
    }
    let created = Created {
        user,
        access_key_id,
        secret_access_key,
    };
    let lines = vec![
        "[Credentials]".to_string(),
        format!("aws_access_key_id = {access_key_id}"),
        format!("aws_secret_access_key = {secret_access_key}"),
    ];
    Printout::new(&created, lines)
}

/// A dry run of a key command: what it would do.
pub fn dry_run(would: &str) -> Printout {
    #[derive(Serialize)]
    struct DryRun<'a> {
        dry_run: bool,
        would: &'a str,
    }
    let line = format!("{would} (dry run: nothing changed)");
    Printout::new(
        &DryRun {
            dry_run: true,
            would,
        },
        vec![line],
    )
}

/// What a key command (`verb`: delete, activate, deactivate) does.
pub fn key_change(verb: &str, access_key_id: &str, user: &str) -> String {
    format!("{verb} access key {access_key_id} of user {user}")
}

/// The IAM environment `iam update` applies (`--environment`), required.
pub fn update_environment(env: Option<&str>) -> Result<&str, Refusal> {
    env.ok_or_else(|| {
        Refusal::usage("`asiaq iam update` needs --environment ENV: the IAM environment (account type) whose iam/group_membership/ENV to apply")
    })
}

/// An applied `iam update` of `env`: [`IamPlan::update_lines`]; JSON: the environment,
/// the actions, the notes and how many were `applied`.
pub fn update_report(env: &str, plan: &IamPlan, applied: usize) -> Printout {
    #[derive(Serialize)]
    struct UpdateReport<'a> {
        environment: &'a str,
        dry_run: bool,
        actions: &'a [IamAction],
        notes: &'a [String],
        applied: usize,
    }
    let report = UpdateReport {
        environment: env,
        dry_run: false,
        actions: &plan.actions,
        notes: &plan.notes,
        applied,
    };
    Printout::new(&report, plan.update_lines())
}

/// An `iam update` that stopped part-way: what was done stays done.
pub fn sync_stopped(error: impl std::fmt::Display) -> Refusal {
    Refusal::failed(format!("IAM sync stopped: {error}")).with_hint(
        "what was done stays done; run `asiaq iam update` again to finish (it plans from what exists)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_json_when_they_parse() {
        let p = policy_document(r#"{"Version":"2012-10-17"}"#);
        assert_eq!(p.json["Version"], "2012-10-17");
        assert_eq!(p.lines, [r#"{"Version":"2012-10-17"}"#]);
        assert_eq!(policy_document("not json").json, "not json");
        let d = decoded_message("plain");
        assert_eq!(d.lines, ["---------- Decoded message ----------", "plain"]);
        assert_eq!(d.json, "plain");
    }

    #[test]
    fn created_key_reads_as_a_credentials_section() {
        let p = created_key("bob", "AKIA1", "s3cr3t");
        assert_eq!(
            p.lines,
            [
                "[Credentials]",
                "aws_access_key_id = AKIA1",
                "aws_secret_access_key = s3cr3t"
            ]
        );
        assert_eq!(
            serde_json::to_string(&p.json).unwrap(),
            r#"{"user":"bob","access_key_id":"AKIA1","secret_access_key":"s3cr3t"}"#
        );
    }

    #[test]
    fn dry_runs_and_key_changes() {
        let what = key_change("delete", "AKIA1", "bob");
        assert_eq!(what, "delete access key AKIA1 of user bob");
        let p = dry_run(&format!("would {what}"));
        assert_eq!(
            p.lines,
            ["would delete access key AKIA1 of user bob (dry run: nothing changed)"]
        );
        assert_eq!(
            serde_json::to_string(&p.json).unwrap(),
            r#"{"dry_run":true,"would":"would delete access key AKIA1 of user bob"}"#
        );
    }

    #[test]
    fn update_report_and_refusals() {
        let plan = IamPlan {
            actions: Vec::new(),
            notes: vec!["a note".into()],
        };
        let p = update_report("dev", &plan, 0);
        assert_eq!(p.lines, plan.update_lines());
        assert_eq!(p.json["environment"], "dev");
        assert_eq!(p.json["dry_run"], false);
        assert_eq!(p.json["applied"], 0);
        assert_eq!(update_environment(Some("dev")), Ok("dev"));
        assert!(update_environment(None).unwrap_err().usage);
        let s = sync_stopped("boom");
        assert_eq!(s.message, "IAM sync stopped: boom");
        assert!(!s.usage && s.hint.is_some());
    }
}
