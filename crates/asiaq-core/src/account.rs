//! `account init`: the README's checklist for setting up an account as one command. Pure
//! parts: which IAM environment the account's IAM update applies, which SSH keys an
//! environment still lacks, the names of the stages, and how the whole run reads.

use serde::Serialize;

use crate::plan::render::{closing_line, PlanDocument, Summary};

/// The IAM environment (the original's `disco_iam.py --environment`, an account type such
/// as dev or prod) whose `iam/group_membership/<name>` the account's IAM update applies:
/// `given` (`--iam-environment`), else the directory named like the account, else the only
/// directory there is. `dirs` are the names under `iam/group_membership/`.
pub fn iam_environment(
    given: Option<&str>,
    account: &str,
    dirs: &[String],
) -> Result<String, String> {
    if let Some(g) = given {
        return if dirs.iter().any(|d| d == g) {
            Ok(g.to_string())
        } else {
            Err(format!(
                "--iam-environment {g}: no iam/group_membership/{g}/ (expected one of: {})",
                list(dirs)
            ))
        };
    }
    if dirs.iter().any(|d| d == account) {
        return Ok(account.to_string());
    }
    match dirs {
        [only] => Ok(only.clone()),
        [] => Err("iam/group_membership/ has no directory: nothing says whom IAM update is for (expected iam/group_membership/<account type>/)".to_string()),
        _ => Err(format!(
            "iam/group_membership/ has several IAM environments ({}) and none is named {account}: choose one with --iam-environment",
            list(dirs)
        )),
    }
}

fn list(dirs: &[String]) -> String {
    if dirs.is_empty() {
        "none".to_string()
    } else {
        dirs.join(", ")
    }
}

/// The SSH keys of `table` to make: all of them when `rotate_all` (`--rotate-keys`), else
/// those whose private key (`private_keys/ssh/<name>.key`) is not among `present` keys.
pub fn keys_to_make(table: &[String], present: &[String], rotate_all: bool) -> Vec<String> {
    table
        .iter()
        .filter(|name| rotate_all || !present.contains(&crate::keys::private_key_path(name)))
        .cloned()
        .collect()
}

/// The stages of `account init`, in the order they run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "stage", rename_all = "kebab-case")]
pub enum Stage {
    Buckets { account: String },
    Cloudtrail { account: String },
    Iam { environment: String },
    AppAuth { environment: String },
    Keys { environment: String },
    AppConf { environment: String },
}

impl std::fmt::Display for Stage {
    /// The command the stage stands for, as the README's list runs it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stage::Buckets { account } => write!(f, "buckets update --account {account}"),
            Stage::Cloudtrail { account } => write!(f, "account cloudtrail --account {account}"),
            Stage::Iam { environment } => write!(f, "iam update --environment {environment}"),
            Stage::AppAuth { environment } => write!(f, "--env {environment} app-auth update"),
            Stage::Keys { environment } => write!(f, "--env {environment} keys rotate"),
            Stage::AppConf { environment } => write!(f, "--env {environment} app-conf update"),
        }
    }
}

/// What one stage did (or, in a dry run, would do).
#[derive(Debug, Clone, Serialize)]
pub struct StageOutcome {
    pub stage: Stage,
    /// The stage's plan (what it changes, or changed).
    pub plan: PlanDocument,
}

/// Each stage under its command with its changes (or `No changes.`), and their count.
fn stages_text(outcomes: &[StageOutcome]) -> (String, Summary) {
    let mut out = String::new();
    let mut total = Summary::default();
    for (i, o) in outcomes.iter().enumerate() {
        out.push_str(&format!(
            "[{}/{}] asiaq {}\n",
            i + 1,
            outcomes.len(),
            o.stage
        ));
        for line in o.plan.to_text().lines() {
            out.push_str(&format!("    {line}\n"));
        }
        total.create += o.plan.summary.create;
        total.update += o.plan.summary.update;
        total.delete += o.plan.summary.delete;
        total.replace += o.plan.summary.replace;
    }
    (out, total)
}

/// The text of a whole run: each stage under its command, its changes (or `No changes.`),
/// and the closing count of all of them.
pub fn text(outcomes: &[StageOutcome], dry_run: bool) -> String {
    let (mut out, total) = stages_text(outcomes);
    if dry_run {
        out.push_str(&format!("{}\n", closing_line(&total)));
    } else if total.total() == 0 {
        out.push_str("account init: nothing to change\n");
    } else {
        out.push_str(&format!("account init: done ({total})\n"));
    }
    out
}

/// The text of the stages that finished before a failure.
pub fn partial_text(outcomes: &[StageOutcome]) -> String {
    let (mut out, total) = stages_text(outcomes);
    out.push_str(&format!(
        "account init: {} of the steps finished before the failure ({total})\n",
        outcomes.len()
    ));
    out
}

/// The stages of a run as one plan document (`--dry-run --output json`).
pub fn document(outcomes: &[StageOutcome], dry_run: bool) -> PlanDocument {
    let stages: Vec<(String, PlanDocument)> = outcomes
        .iter()
        .map(|o| (o.stage.to_string(), o.plan.clone()))
        .collect();
    PlanDocument::sequence("account init", &stages, dry_run)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_iam_environment_is_given_named_like_the_account_or_the_only_one() {
        let two = dirs(&["dev", "prod"]);
        assert_eq!(iam_environment(Some("prod"), "x", &two).unwrap(), "prod");
        assert!(iam_environment(Some("qa"), "x", &two)
            .unwrap_err()
            .contains("expected one of: dev, prod"));
        assert_eq!(iam_environment(None, "dev", &two).unwrap(), "dev");
        assert!(iam_environment(None, "123", &two)
            .unwrap_err()
            .contains("--iam-environment"));
        assert_eq!(
            iam_environment(None, "123", &dirs(&["demo"])).unwrap(),
            "demo"
        );
        assert!(iam_environment(None, "123", &[])
            .unwrap_err()
            .contains("no directory"));
    }

    #[test]
    fn only_missing_keys_are_made_unless_all_are_rotated() {
        let table = dirs(&["bake", "test"]);
        let present = dirs(&["private_keys/ssh/bake.key", "public_keys/ssh/test.pub"]);
        assert_eq!(keys_to_make(&table, &present, false), dirs(&["test"]));
        assert_eq!(keys_to_make(&table, &present, true), table);
        assert!(keys_to_make(&dirs(&["bake"]), &present, false).is_empty());
    }

    #[test]
    fn stages_read_as_the_commands_they_stand_for() {
        let env = || "ci".to_string();
        assert_eq!(
            Stage::Buckets {
                account: "dev".into()
            }
            .to_string(),
            "buckets update --account dev"
        );
        assert_eq!(
            Stage::Keys { environment: env() }.to_string(),
            "--env ci keys rotate"
        );
        assert_eq!(
            Stage::Iam { environment: env() }.to_string(),
            "iam update --environment ci"
        );
    }

    #[test]
    fn the_text_lists_each_stage_and_closes_with_the_total() {
        let empty = crate::plan::render::document(
            "x",
            &crate::plan::Plan::<crate::plan::app_auth::AppAuthAction>::default(),
            &[],
            true,
        );
        let writes = vec![crate::app_auth::Write {
            key: "app_auth/a/b".into(),
            value: crate::secret::Secret::new("s".to_string()),
            reason: "literal",
        }];
        let one =
            crate::plan::render::document("x", &crate::plan::app_auth::plan(&writes), &[], true);
        let outcomes = vec![
            StageOutcome {
                stage: Stage::Cloudtrail {
                    account: "dev".into(),
                },
                plan: empty,
            },
            StageOutcome {
                stage: Stage::AppAuth {
                    environment: "ci".into(),
                },
                plan: one,
            },
        ];
        let t = text(&outcomes, true);
        assert!(
            t.starts_with("[1/2] asiaq account cloudtrail --account dev\n    No changes.\n"),
            "{t}"
        );
        assert!(t.contains("[2/2] asiaq --env ci app-auth update\n"), "{t}");
        assert!(t.contains("      ~ write app_auth/a/b (literal)\n"), "{t}");
        assert!(
            t.ends_with("Plan: 0 to create, 1 to change, 0 to delete.\n"),
            "{t}"
        );
        assert!(text(&outcomes, false)
            .ends_with("account init: done (0 to create, 1 to change, 0 to delete)\n"));
        assert!(partial_text(&outcomes[..1]).ends_with(
            "account init: 1 of the steps finished before the failure (0 to create, 0 to change, 0 to delete)\n"
        ));
        let doc = document(&outcomes, true);
        assert_eq!(doc.command, "account init");
        assert_eq!(doc.summary.update, 1);
    }
}
