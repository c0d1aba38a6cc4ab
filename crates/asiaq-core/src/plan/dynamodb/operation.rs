//! A command's change, prepared: the plan (and notes) it prints, and what running it means
//! (its title, whether a failure is rolled back, what to do after a failure, what `--wait`
//! waits for, the result it prints).

use std::collections::BTreeMap;

use super::{sequence, DynamoAction, BACKUP_KEY};
use crate::dynamodb::{
    latest_backup, BackupMade, BackupSummary, Done, ObservedTable, Outcome, RestoreFrom,
    RestoreRequest,
};
use crate::plan::Plan;

/// The command a plan is of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    /// A delete of a table of environment `env` (whose type decides whether to ask first).
    Delete {
        env: String,
    },
    Backup {
        name: String,
    },
    Restore,
    Pitr {
        on: bool,
    },
}

/// What `--wait` waits for once the plan ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterWait {
    /// The table and its indexes `ACTIVE` (the result shows the table's status).
    Active,
    /// The table gone.
    Gone,
}

impl Operation {
    /// The command, as its plan names it.
    pub fn command(&self) -> &'static str {
        match self {
            Operation::Create => "dynamodb create",
            Operation::Update => "dynamodb update",
            Operation::Delete { .. } => "dynamodb delete",
            Operation::Backup { .. } => "dynamodb backup",
            Operation::Restore => "dynamodb restore",
            Operation::Pitr { .. } => "dynamodb pitr",
        }
    }

    /// The title of the run (progress and errors) on `table`.
    pub fn title(&self, table: &str) -> String {
        match self {
            Operation::Create => format!("create DynamoDB table {table}"),
            Operation::Update => format!("update DynamoDB table {table}"),
            Operation::Delete { .. } => format!("delete DynamoDB table {table}"),
            Operation::Backup { .. } => format!("back up DynamoDB table {table}"),
            Operation::Restore => format!("restore into DynamoDB table {table}"),
            Operation::Pitr { .. } => {
                format!("point-in-time recovery of DynamoDB table {table}")
            }
        }
    }

    /// A failed create undoes what it made: it leaves no half-made table behind.
    pub fn rolls_back(&self) -> bool {
        matches!(self, Operation::Create)
    }

    /// What to do after the plan failed.
    pub fn hint(&self) -> &'static str {
        match self {
            Operation::Create => "nothing was left behind: fix the cause and run the create again",
            Operation::Update => "run the update again: it compares the file with the table as it is now and sends what is left",
            Operation::Delete { .. } => "run the delete again",
            Operation::Backup { .. } => "run the backup again",
            Operation::Restore => "run the restore again",
            Operation::Pitr { .. } => "run the command again",
        }
    }

    /// What `--wait` waits for (a command without `--wait` is never asked).
    pub fn waits_for(&self) -> AfterWait {
        match self {
            Operation::Delete { .. } => AfterWait::Gone,
            _ => AfterWait::Active,
        }
    }

    /// The result of a run of `changes` steps on `table`: `status` is the table's after
    /// `--wait`, `created` what the steps made (by plan key).
    pub fn outcome(
        &self,
        table: &str,
        changes: usize,
        status: Option<String>,
        created: &BTreeMap<String, String>,
    ) -> Outcome {
        let done = |action: &str, changes: Option<usize>| {
            Outcome::Done(Done {
                table: table.to_string(),
                action: action.to_string(),
                status: status.clone(),
                changes,
            })
        };
        match self {
            Operation::Create => done("created", None),
            Operation::Update if changes == 0 => done("unchanged", Some(0)),
            Operation::Update => done("updated", Some(changes)),
            Operation::Delete { .. } => done("deleted", None),
            Operation::Restore => done("restored into new table", None),
            Operation::Pitr { on: true } => done("point-in-time recovery on for", Some(changes)),
            Operation::Pitr { on: false } => done("point-in-time recovery off for", Some(changes)),
            Operation::Backup { name } => Outcome::Backup(BackupMade {
                table: table.to_string(),
                name: name.clone(),
                arn: created.get(BACKUP_KEY).cloned().unwrap_or_default(),
            }),
        }
    }
}

/// A command's change, ready to print and to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    pub operation: Operation,
    /// The table the result names (a restore's: the new one).
    pub table: String,
    pub plan: Plan<DynamoAction>,
    pub notes: Vec<String>,
    /// Wait until the table takes a change before running the plan.
    pub settle_first: bool,
}

impl Prepared {
    /// A plan of `actions` on `table`, one after another, without notes.
    pub fn new(operation: Operation, table: &str, actions: Vec<DynamoAction>) -> Self {
        Prepared {
            operation,
            table: table.to_string(),
            plan: sequence(actions),
            notes: Vec::new(),
            settle_first: false,
        }
    }
}

/// An update waits for a table still busy with an earlier change (it takes no other until
/// it is done) before it sends one; an empty plan sends nothing and waits for nothing.
pub fn settle_first(plan: &Plan<DynamoAction>, observed: &ObservedTable) -> bool {
    !plan.is_empty() && observed.settled().is_err()
}

/// `pitr on|off`: the change, or nothing when recovery is already so.
pub fn pitr_actions(table: &str, now_on: bool, on: bool) -> Vec<DynamoAction> {
    if now_on == on {
        return Vec::new();
    }
    vec![DynamoAction::SetPointInTimeRecovery {
        table: table.to_string(),
        enabled: on,
    }]
}

/// `restore`: the new table from the backup, the point in time, or the newest available
/// of `backups` (the source table's); an error when it has none.
pub fn restore_action(
    request: &RestoreRequest,
    backups: &[BackupSummary],
) -> Result<DynamoAction, String> {
    let target = request.target.clone();
    Ok(match &request.from {
        RestoreFrom::Backup(arn) => DynamoAction::RestoreFromBackup {
            backup_arn: arn.clone(),
            target,
        },
        RestoreFrom::PointInTime(time) => DynamoAction::RestoreToPointInTime {
            source: request.source.clone(),
            target,
            time: time.clone(),
        },
        RestoreFrom::Latest => {
            let latest = latest_backup(backups).ok_or_else(|| {
                format!("there is no available backup of table {}", request.source)
            })?;
            DynamoAction::RestoreFromBackup {
                backup_arn: latest.arn.clone(),
                target,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backup(arn: &str, created: &str, status: &str) -> BackupSummary {
        BackupSummary {
            table: "t_ci".into(),
            name: "n".into(),
            arn: arn.into(),
            created: created.into(),
            status: status.into(),
            size_bytes: None,
            backup_type: "USER".into(),
        }
    }

    fn request(from: RestoreFrom) -> RestoreRequest {
        RestoreRequest {
            source: "t_ci".into(),
            target: "copy_ci".into(),
            from,
        }
    }

    fn observed(status: &str) -> ObservedTable {
        serde_json::from_value(serde_json::json!({
            "TableName": "t_ci",
            "TableStatus": status,
            "AttributeDefinitions": [],
            "KeySchema": [],
            "BillingMode": "PAY_PER_REQUEST",
        }))
        .unwrap()
    }

    #[test]
    fn results_say_what_was_done() {
        let none = BTreeMap::new();
        let text = |op: Operation, n, status: Option<&str>| {
            op.outcome("t_ci", n, status.map(str::to_string), &none)
                .text()
        };
        assert_eq!(
            text(Operation::Create, 2, Some("ACTIVE")),
            "created t_ci (ACTIVE)\n"
        );
        assert_eq!(
            text(Operation::Update, 0, None),
            "unchanged t_ci (0 change(s))\n"
        );
        assert_eq!(
            text(Operation::Update, 3, Some("ACTIVE")),
            "updated t_ci (3 change(s)) (ACTIVE)\n"
        );
        assert_eq!(
            text(Operation::Delete { env: "ci".into() }, 1, None),
            "deleted t_ci\n"
        );
        assert_eq!(
            text(Operation::Restore, 1, Some("ACTIVE")),
            "restored into new table t_ci (ACTIVE)\n"
        );
        assert_eq!(
            text(Operation::Pitr { on: true }, 1, None),
            "point-in-time recovery on for t_ci (1 change(s))\n"
        );
        assert_eq!(
            text(Operation::Pitr { on: false }, 0, None),
            "point-in-time recovery off for t_ci (0 change(s))\n"
        );
        let created = BTreeMap::from([(BACKUP_KEY.to_string(), "arn:b".to_string())]);
        assert_eq!(
            Operation::Backup { name: "n1".into() }
                .outcome("t_ci", 1, None, &created)
                .text(),
            "backup n1 of t_ci: arn:b\n"
        );
    }

    #[test]
    fn only_a_create_rolls_back_and_only_a_delete_waits_for_the_table_to_go() {
        let all = [
            Operation::Create,
            Operation::Update,
            Operation::Delete { env: "ci".into() },
            Operation::Backup { name: "n".into() },
            Operation::Restore,
            Operation::Pitr { on: true },
        ];
        for op in &all {
            assert_eq!(op.rolls_back(), *op == Operation::Create, "{op:?}");
            let gone = matches!(op, Operation::Delete { .. });
            assert_eq!(op.waits_for() == AfterWait::Gone, gone, "{op:?}");
        }
        assert_eq!(
            Operation::Update.title("t_ci"),
            "update DynamoDB table t_ci"
        );
        assert!(Operation::Create
            .hint()
            .starts_with("nothing was left behind"));
    }

    #[test]
    fn an_update_waits_for_a_busy_table_only_when_it_changes_something() {
        let change = sequence(pitr_actions("t_ci", false, true));
        let nothing = sequence(Vec::new());
        assert!(settle_first(&change, &observed("UPDATING")));
        assert!(!settle_first(&change, &observed("ACTIVE")));
        assert!(!settle_first(&nothing, &observed("UPDATING")));
    }

    #[test]
    fn pitr_changes_only_what_differs() {
        assert!(pitr_actions("t_ci", true, true).is_empty());
        assert!(pitr_actions("t_ci", false, false).is_empty());
        assert_eq!(
            pitr_actions("t_ci", false, true),
            vec![DynamoAction::SetPointInTimeRecovery {
                table: "t_ci".into(),
                enabled: true
            }]
        );
        assert_eq!(
            pitr_actions("t_ci", true, false),
            vec![DynamoAction::SetPointInTimeRecovery {
                table: "t_ci".into(),
                enabled: false
            }]
        );
    }

    #[test]
    fn a_restore_takes_the_source_chosen() {
        let b = backup("arn:given", "2026-01-01T00:00:00Z", "AVAILABLE");
        assert_eq!(
            restore_action(&request(RestoreFrom::Backup("arn:x".into())), &[]).unwrap(),
            DynamoAction::RestoreFromBackup {
                backup_arn: "arn:x".into(),
                target: "copy_ci".into()
            }
        );
        assert_eq!(
            restore_action(
                &request(RestoreFrom::PointInTime("2026-01-31T12:00:00Z".into())),
                std::slice::from_ref(&b)
            )
            .unwrap(),
            DynamoAction::RestoreToPointInTime {
                source: "t_ci".into(),
                target: "copy_ci".into(),
                time: "2026-01-31T12:00:00Z".into()
            }
        );
    }

    #[test]
    fn the_latest_restore_takes_the_newest_available_backup() {
        let backups = [
            backup("arn:old", "2026-01-01T00:00:00Z", "AVAILABLE"),
            backup("arn:new", "2026-01-02T00:00:00Z", "AVAILABLE"),
            backup("arn:newest", "2026-01-03T00:00:00Z", "CREATING"),
        ];
        assert_eq!(
            restore_action(&request(RestoreFrom::Latest), &backups).unwrap(),
            DynamoAction::RestoreFromBackup {
                backup_arn: "arn:new".into(),
                target: "copy_ci".into()
            }
        );
        assert_eq!(
            restore_action(&request(RestoreFrom::Latest), &backups[2..]).unwrap_err(),
            "there is no available backup of table t_ci"
        );
    }
}
