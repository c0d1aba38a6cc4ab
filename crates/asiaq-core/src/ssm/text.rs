//! What `asiaq ssm update-documents` asks and prints.

use serde::Serialize;

use super::{is_sandbox_account, SsmAction};
use crate::plan::Plan;
use crate::printout::Printout;

/// The question asked before deleting the documents `deleted` of the account (in
/// `region`, whose asiaq environments are `environments`, `(name, type)`); `None` in a
/// sandbox account, which is not asked about.
pub fn delete_question(
    deleted: &[String],
    region: &str,
    environments: &[(String, String)],
) -> Option<String> {
    if deleted.is_empty() || is_sandbox_account(environments) {
        return None;
    }
    let kinds: Vec<String> = environments
        .iter()
        .map(|(name, t)| format!("{name} ({t})"))
        .collect();
    let kinds = match kinds.is_empty() {
        true => "none".to_string(),
        false => kinds.join(", "),
    };
    Some(format!(
        "Delete SSM document(s) {} of this account (region {region}, environments: {kinds})",
        deleted.join(", ")
    ))
}

/// What `update-documents` did: each change, or that there was none; JSON: the changes.
pub fn update_done(plan: &Plan<SsmAction>) -> Printout {
    #[derive(Serialize)]
    struct Done {
        changed: Vec<String>,
    }
    let changed: Vec<String> = plan.steps.iter().map(|s| s.action.to_string()).collect();
    let lines = match changed.is_empty() {
        true => vec!["no change: the documents are already as in ssm/documents/".to_string()],
        false => changed.iter().map(|c| format!("done: {c}")).collect(),
    };
    Printout::new(&Done { changed }, lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect()
    }

    #[test]
    fn deletions_are_asked_about_outside_sandbox_accounts() {
        let deleted = vec!["a".to_string(), "b".to_string()];
        assert_eq!(
            delete_question(&deleted, "us-east-1", &envs(&[("s", "sandbox")])),
            None
        );
        assert_eq!(delete_question(&[], "us-east-1", &[]), None);
        assert_eq!(
            delete_question(&deleted, "us-east-1", &[]).as_deref(),
            Some("Delete SSM document(s) a, b of this account (region us-east-1, environments: none)")
        );
        assert_eq!(
            delete_question(&deleted, "r", &envs(&[("ci", "ci"), ("s", "sandbox")])).as_deref(),
            Some("Delete SSM document(s) a, b of this account (region r, environments: ci (ci), s (sandbox))")
        );
    }

    #[test]
    fn done_lines() {
        let p = update_done(&Plan::default());
        assert_eq!(
            p.lines,
            ["no change: the documents are already as in ssm/documents/"]
        );
        assert_eq!(p.json, serde_json::json!({"changed": []}));
        let mut b = crate::plan::PlanBuilder::default();
        b.add(SsmAction::DeleteDocument { name: "old".into() }, &[]);
        let plan = b.build();
        let p = update_done(&plan);
        assert_eq!(p.lines, [format!("done: {}", plan.steps[0].action)]);
    }
}
