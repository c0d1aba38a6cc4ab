//! What `asiaq buckets update` and `asiaq account cloudtrail` check on their command line
//! and print.

use serde::Serialize;

use crate::plan::buckets::Step;
use crate::plan::cloudtrail::TrailAction;
use crate::plan::Plan;
use crate::printout::{Printout, Refusal};

/// `--account`: a directory name under `iam/s3/` (not empty, no `/`, not hidden).
pub fn check_account(account: &str) -> Result<(), Refusal> {
    if account.is_empty() || account.contains('/') || account.starts_with('.') {
        return Err(Refusal::usage(format!(
            "--account {account:?}: expected a directory name under iam/s3/"
        )));
    }
    Ok(())
}

/// The audit bucket among `specs` (`(name, audit)`); refused when there is none.
pub fn audit_bucket<'a>(
    mut specs: impl Iterator<Item = (&'a str, bool)>,
) -> Result<String, Refusal> {
    specs
        .find(|(_, audit)| *audit)
        .map(|(name, _)| name.to_string())
        .ok_or_else(|| Refusal::usage("no audit bucket"))
}

/// `buckets update` of `account`: each step (`bucket action`), a note per bucket left out,
/// and for a dry run the plan's `closing` count; JSON: the steps and what was left out.
pub fn update_report(
    account: &str,
    dry_run: bool,
    steps: &[Step],
    skipped: &[String],
    closing: String,
) -> Printout {
    #[derive(Serialize)]
    struct Report<'a> {
        account: &'a str,
        dry_run: bool,
        steps: &'a [Step],
        skipped: &'a [String],
    }
    let steps_text = steps.iter().map(|s| format!("{} {}", s.bucket, s.action));
    let notes = skipped.iter().map(|s| format!("note: {s}"));
    let closing = dry_run.then_some(closing);
    let lines = steps_text.chain(notes).chain(closing).collect();
    let report = Report {
        account,
        dry_run,
        steps,
        skipped,
    };
    Printout::new(&report, lines)
}

/// `account cloudtrail` of `account`: each change made to trail `trail`, then where it
/// logs; JSON: account, trail, bucket and the changes.
pub fn trail_report(
    account: &str,
    trail: &str,
    bucket: &str,
    plan: &Plan<TrailAction>,
) -> Printout {
    #[derive(Serialize)]
    struct Report<'a> {
        account: &'a str,
        trail: &'a str,
        bucket: &'a str,
        changes: Vec<String>,
    }
    let changes: Vec<String> = plan.steps.iter().map(|s| s.action.to_string()).collect();
    let how = if changes.is_empty() {
        "already logs"
    } else {
        "logs"
    };
    let mut lines = changes.clone();
    lines.push(format!("trail {trail} {how} to s3://{bucket}"));
    let report = Report {
        account,
        trail,
        bucket,
        changes,
    };
    Printout::new(&report, lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_is_a_plain_directory_name() {
        assert_eq!(check_account("dev"), Ok(()));
        for bad in ["", "a/b", ".hidden"] {
            let r = check_account(bad).unwrap_err();
            assert!(
                r.usage
                    && r.message
                        .ends_with("expected a directory name under iam/s3/")
            );
        }
    }

    #[test]
    fn the_audit_bucket_is_found_or_refused() {
        let specs = [("logs", false), ("audit", true)];
        assert_eq!(audit_bucket(specs.iter().copied()), Ok("audit".to_string()));
        assert_eq!(
            audit_bucket([("x", false)].iter().copied()),
            Err(Refusal::usage("no audit bucket"))
        );
    }

    #[test]
    fn update_report_lines() {
        let steps = vec![Step {
            bucket: "b".into(),
            action: "create".into(),
        }];
        let skipped = vec!["c: no lifecycle".to_string()];
        let p = update_report("dev", true, &steps, &skipped, "1 to create".into());
        assert_eq!(
            p.lines,
            ["b create", "note: c: no lifecycle", "1 to create"]
        );
        assert_eq!(p.json["account"], "dev");
        let p = update_report("dev", false, &steps, &[], "1 to create".into());
        assert_eq!(p.lines, ["b create"]);
    }

    #[test]
    fn trail_report_says_where_it_logs() {
        let p = trail_report("dev", "Default", "audit", &Plan::default());
        assert_eq!(p.lines, ["trail Default already logs to s3://audit"]);
        assert_eq!(
            serde_json::to_string(&p.json).unwrap(),
            r#"{"account":"dev","trail":"Default","bucket":"audit","changes":[]}"#
        );
        let plan = crate::plan::cloudtrail::plan("Default", "audit", None);
        let p = trail_report("dev", "Default", "audit", &plan);
        assert_eq!(p.lines.last().unwrap(), "trail Default logs to s3://audit");
        assert_eq!(p.lines.len(), plan.steps.len() + 1);
    }
}
