//! The inputs and results of `asiaq dynamodb`'s commands: what is checked before any call
//! (table names of an environment, backup names, what a restore restores), the question a
//! delete asks, and the line a command prints when it is done.

use std::fmt::Write as _;

use serde::Serialize;

use super::{
    backup_table, check_backup_name, check_table_name, default_backup_name, default_restore_target,
    physical_name, split_physical, BackupSummary, TableDefinition,
};

/// `--table` of environment `env`: its physical name, or what is wrong with it.
pub fn table_arg(table: &str, env: &str) -> Result<String, String> {
    physical_name(table, env).map_err(|e| format!("--table: {e}"))
}

/// The table a `create` makes: the file's `TableName` of environment `env`.
pub fn create_table_name(def: &TableDefinition, env: &str) -> Result<String, String> {
    table_arg(def.table_name.as_deref().unwrap_or_default(), env)
}

/// An `update`'s file (shown as `file`) names no table, or the one of `--table`.
pub fn check_update_file(def: &TableDefinition, table: &str, file: &str) -> Result<(), String> {
    match def.table_name.as_deref().filter(|n| *n != table) {
        Some(named) => Err(format!(
            "{file}: TableName is {named:?}, not --table {table:?}"
        )),
        None => Ok(()),
    }
}

/// The name of a backup of `physical`: `--name` when given, else `<physical>-<stamp of
/// now>`; checked either way.
pub fn backup_name(physical: &str, given: Option<&str>, now: &str) -> Result<String, String> {
    let name = match given {
        Some(n) => n.to_string(),
        None => default_backup_name(physical, now),
    };
    check_backup_name(&name).map_err(|e| format!("--name: {e}"))?;
    Ok(name)
}

/// A `--point-in-time` (RFC 3339) as the UTC time a restore asks for.
pub fn parse_point_in_time(time: &str) -> Result<String, String> {
    time.parse::<jiff::Timestamp>()
        .map(|ts| ts.to_string())
        .map_err(|e| {
            format!(
                "--point-in-time {time:?}: expected an RFC 3339 time such as 2026-01-31T12:00:00Z ({e})"
            )
        })
}

/// `--backup` is a DynamoDB backup ARN of table `source`.
pub fn check_backup_of(arn: &str, source: &str) -> Result<(), String> {
    match backup_table(arn) {
        None => Err(format!(
            "--backup {arn:?} is not a DynamoDB backup ARN (arn:aws:dynamodb:REGION:ACCOUNT:table/TABLE/backup/ID)"
        )),
        Some(of) if of != source => Err(format!(
            "--backup is a backup of table {of}, not of {source}"
        )),
        Some(_) => Ok(()),
    }
}

/// What a restore restores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreFrom {
    /// A backup (ARN) of the source table.
    Backup(String),
    /// The source table's newest available backup (found when the restore runs).
    Latest,
    /// The source table as it was at this time (RFC 3339, UTC).
    PointInTime(String),
}

/// A restore, checked: the table restored, the new table, and from what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreRequest {
    /// The physical name of the table restored.
    pub source: String,
    /// The physical name of the table the restore creates.
    pub target: String,
    pub from: RestoreFrom,
}

impl RestoreRequest {
    /// `--table` of `env`, restored into `--to` (default `<table>-restored-<stamp of now>`),
    /// from `--backup` (which must be the table's), else `--point-in-time`, else the newest
    /// backup.
    pub fn new(
        table: &str,
        env: &str,
        to: Option<&str>,
        backup: Option<&str>,
        point_in_time: Option<&str>,
        now: &str,
    ) -> Result<Self, String> {
        let source = table_arg(table, env)?;
        let target_table = match to {
            Some(t) => {
                check_table_name(t).map_err(|e| format!("--to: {e}"))?;
                t.to_string()
            }
            None => default_restore_target(table, now),
        };
        let target = table_arg(&target_table, env)?;
        let time = point_in_time.map(parse_point_in_time).transpose()?;
        if let Some(arn) = backup {
            check_backup_of(arn, &source)?;
        }
        let from = match (backup, time) {
            (Some(arn), _) => RestoreFrom::Backup(arn.to_string()),
            (None, Some(time)) => RestoreFrom::PointInTime(time),
            (None, None) => RestoreFrom::Latest,
        };
        Ok(RestoreRequest {
            source,
            target,
            from,
        })
    }
}

/// A command's input, checked: what it changes (physical names) and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `create` table `table` of `env` from a definition file.
    Create {
        table: String,
        env: String,
        definition: TableDefinition,
    },
    /// `update` table `table` to what a definition file (shown as `file`) says.
    Update {
        table: String,
        definition: TableDefinition,
        file: String,
    },
    Delete {
        table: String,
        env: String,
    },
    Backup {
        table: String,
        name: String,
    },
    Restore(RestoreRequest),
    Pitr {
        table: String,
        on: bool,
    },
}

impl Request {
    /// A `create` of the file's table of `env`.
    pub fn create(env: &str, definition: TableDefinition) -> Result<Self, String> {
        Ok(Request::Create {
            table: create_table_name(&definition, env)?,
            env: env.to_string(),
            definition,
        })
    }

    /// An `update` of `--table` (`table`, physical name `physical`) to what `file` says.
    pub fn update(
        table: &str,
        physical: String,
        definition: TableDefinition,
        file: &str,
    ) -> Result<Self, String> {
        check_update_file(&definition, table, file)?;
        Ok(Request::Update {
            table: physical,
            definition,
            file: file.to_string(),
        })
    }

    /// A `delete` of `--table` of `env`.
    pub fn delete(table: &str, env: &str) -> Result<Self, String> {
        Ok(Request::Delete {
            table: table_arg(table, env)?,
            env: env.to_string(),
        })
    }

    /// `pitr on|off` for `--table` of `env`.
    pub fn pitr(table: &str, env: &str, on: bool) -> Result<Self, String> {
        Ok(Request::Pitr {
            table: table_arg(table, env)?,
            on,
        })
    }

    /// A `backup` of `--table` of `env`, named `--name` or after the table and `now`.
    pub fn backup(table: &str, env: &str, name: Option<&str>, now: &str) -> Result<Self, String> {
        let table = table_arg(table, env)?;
        let name = backup_name(&table, name, now)?;
        Ok(Request::Backup { table, name })
    }
}

/// The question a delete of `table` of `env` asks first, unless the environment (its VPC's
/// type, `env_type`) is a sandbox.
pub fn delete_question(table: &str, env: &str, env_type: Option<&str>) -> Option<String> {
    (env_type != Some("sandbox")).then(|| {
        format!(
            "Delete DynamoDB table {table} of environment {env} (type {})?",
            env_type.unwrap_or("unknown: no such VPC")
        )
    })
}

/// One line of `list`: a physical name split into table and environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableRow {
    pub table: String,
    pub environment: String,
    pub name: String,
}

/// The rows of `list`: every table, or only environment `only`'s; by name.
pub fn table_rows(names: &[String], only: Option<&str>) -> Vec<TableRow> {
    let mut rows: Vec<TableRow> = names
        .iter()
        .map(|name| {
            let (table, env) = split_physical(name);
            TableRow {
                table: table.to_string(),
                environment: env.to_string(),
                name: name.clone(),
            }
        })
        .filter(|r| only.is_none_or(|e| r.environment == e))
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    rows
}

/// The backups of environment `env`'s tables, in the order given.
pub fn backups_of_environment(backups: Vec<BackupSummary>, env: &str) -> Vec<BackupSummary> {
    backups
        .into_iter()
        .filter(|b| split_physical(&b.table).1 == env)
        .collect()
}

/// What a command did to a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Done {
    pub table: String,
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<usize>,
}

/// The backup a `backup` made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupMade {
    pub table: String,
    pub name: String,
    pub arn: String,
}

/// The result of a command that changed something (JSON: the inner object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Outcome {
    Done(Done),
    Backup(BackupMade),
}

impl Outcome {
    /// The line printed: `created T (ACTIVE)`, `updated T (2 change(s))`, `backup N of T:
    /// ARN`, ...
    pub fn text(&self) -> String {
        match self {
            Outcome::Done(d) => {
                let mut line = format!("{} {}", d.action, d.table);
                if let Some(n) = d.changes {
                    let _ = write!(line, " ({n} change(s))");
                }
                if let Some(s) = &d.status {
                    let _ = write!(line, " ({s})");
                }
                line.push('\n');
                line
            }
            Outcome::Backup(b) => format!("backup {} of {}: {}\n", b.name, b.table, b.arn),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamodb::{parse_definition, Purpose};

    const NOW: &str = "2026-12-07T19:51:50Z";
    const ARN: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/notices_ci/backup/01";

    fn def(json: &str) -> TableDefinition {
        parse_definition(json, Purpose::Update).unwrap()
    }

    #[test]
    fn table_arguments_are_physical_names_or_say_what_is_wrong() {
        assert_eq!(table_arg("notices", "ci").unwrap(), "notices_ci");
        let err = table_arg("my_table", "ci").unwrap_err();
        assert!(err.starts_with("--table: "), "{err}");
        assert!(table_arg("t", "none").is_err());
    }

    #[test]
    fn a_create_names_the_files_table_of_the_environment() {
        let d = def(r#"{"TableName": "notices"}"#);
        assert_eq!(create_table_name(&d, "ci").unwrap(), "notices_ci");
        let err = create_table_name(&def("{}"), "ci").unwrap_err();
        assert!(err.contains("table name is empty"), "{err}");
    }

    #[test]
    fn an_update_file_names_no_table_or_the_one_updated() {
        assert!(check_update_file(&def("{}"), "notices", "f.json").is_ok());
        let same = def(r#"{"TableName": "notices"}"#);
        assert!(check_update_file(&same, "notices", "f.json").is_ok());
        assert_eq!(
            check_update_file(&same, "other", "f.json").unwrap_err(),
            "f.json: TableName is \"notices\", not --table \"other\""
        );
    }

    #[test]
    fn backup_names_default_to_the_table_and_time_and_are_checked() {
        assert_eq!(
            backup_name("notices_ci", None, NOW).unwrap(),
            "notices_ci-20261207T195150Z"
        );
        assert_eq!(
            backup_name("notices_ci", Some("nightly"), NOW).unwrap(),
            "nightly"
        );
        let err = backup_name("notices_ci", Some("a b c"), NOW).unwrap_err();
        assert!(err.starts_with("--name: "), "{err}");
        assert!(backup_name("notices_ci", Some("ab"), NOW).is_err());
    }

    #[test]
    fn points_in_time_are_rfc3339_in_utc() {
        assert_eq!(
            parse_point_in_time("2026-01-31T13:00:00+01:00").unwrap(),
            "2026-01-31T12:00:00Z"
        );
        let err = parse_point_in_time("yesterday").unwrap_err();
        assert!(err.starts_with("--point-in-time \"yesterday\": expected an RFC 3339 time"));
    }

    #[test]
    fn a_backup_arn_must_be_one_of_the_table_restored() {
        assert!(check_backup_of(ARN, "notices_ci").is_ok());
        assert!(check_backup_of(ARN, "notices_prod")
            .unwrap_err()
            .contains("a backup of table notices_ci, not of notices_prod"));
        assert!(check_backup_of("nonsense", "notices_ci")
            .unwrap_err()
            .contains("is not a DynamoDB backup ARN"));
    }

    #[test]
    fn a_restore_goes_into_a_new_table_from_what_was_chosen() {
        let r = RestoreRequest::new("notices", "ci", None, None, None, NOW).unwrap();
        assert_eq!(r.source, "notices_ci");
        assert_eq!(r.target, "notices-restored-20261207T195150Z_ci");
        assert_eq!(r.from, RestoreFrom::Latest);
        let r = RestoreRequest::new("notices", "ci", Some("copy"), Some(ARN), None, NOW).unwrap();
        assert_eq!(r.target, "copy_ci");
        assert_eq!(r.from, RestoreFrom::Backup(ARN.to_string()));
        let r = RestoreRequest::new(
            "notices",
            "ci",
            Some("copy"),
            None,
            Some("2026-01-31T12:00:00Z"),
            NOW,
        )
        .unwrap();
        assert_eq!(
            r.from,
            RestoreFrom::PointInTime("2026-01-31T12:00:00Z".to_string())
        );
    }

    #[test]
    fn a_restore_refuses_bad_input() {
        let bad = |to, backup, time| {
            RestoreRequest::new("notices", "ci", to, backup, time, NOW).unwrap_err()
        };
        assert!(bad(Some("co_py"), None, None).starts_with("--to: "));
        assert!(bad(None, None, Some("soon")).starts_with("--point-in-time"));
        assert!(bad(None, Some("arn:x"), None).contains("is not a DynamoDB backup ARN"));
        let other = "arn:aws:dynamodb:us-east-1:1:table/plain_ci/backup/01";
        assert!(bad(None, Some(other), None).contains("not of notices_ci"));
        assert!(RestoreRequest::new("no_tes", "ci", None, None, None, NOW)
            .unwrap_err()
            .starts_with("--table: "));
    }

    #[test]
    fn requests_check_their_input() {
        let named = def(r#"{"TableName": "notices"}"#);
        match Request::create("ci", named.clone()).unwrap() {
            Request::Create { table, env, .. } => {
                assert_eq!((table, env), ("notices_ci".into(), "ci".into()))
            }
            other => panic!("{other:?}"),
        }
        assert!(Request::create("ci", def("{}")).is_err());
        assert_eq!(
            Request::update("notices", "notices_ci".into(), def("{}"), "f.json").unwrap(),
            Request::Update {
                table: "notices_ci".into(),
                definition: def("{}"),
                file: "f.json".into()
            }
        );
        assert!(Request::update("other", "other_ci".into(), named, "f.json")
            .unwrap_err()
            .contains("not --table \"other\""));
        assert_eq!(
            Request::backup("notices", "ci", None, NOW).unwrap(),
            Request::Backup {
                table: "notices_ci".into(),
                name: "notices_ci-20261207T195150Z".into()
            }
        );
        assert!(Request::backup("no_tices", "ci", None, NOW)
            .unwrap_err()
            .starts_with("--table: "));
        assert_eq!(
            Request::delete("notices", "ci").unwrap(),
            Request::Delete {
                table: "notices_ci".into(),
                env: "ci".into()
            }
        );
        assert_eq!(
            Request::pitr("notices", "ci", true).unwrap(),
            Request::Pitr {
                table: "notices_ci".into(),
                on: true
            }
        );
        assert!(Request::pitr("no_tices", "ci", false).is_err());
        assert!(Request::backup("notices", "ci", Some("x"), NOW)
            .unwrap_err()
            .starts_with("--name: "));
    }

    #[test]
    fn only_a_sandbox_deletes_without_asking() {
        assert_eq!(delete_question("t_sb", "sb", Some("sandbox")), None);
        assert_eq!(
            delete_question("t_ci", "ci", Some("production")).unwrap(),
            "Delete DynamoDB table t_ci of environment ci (type production)?"
        );
        assert_eq!(
            delete_question("t_ci", "ci", None).unwrap(),
            "Delete DynamoDB table t_ci of environment ci (type unknown: no such VPC)?"
        );
    }

    #[test]
    fn list_rows_split_names_filter_and_sort() {
        let names: Vec<String> = ["b_ci", "a_ci", "c_prod", "plain"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let all = table_rows(&names, None);
        let listed: Vec<&str> = all.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(listed, vec!["a_ci", "b_ci", "c_prod", "plain"]);
        assert_eq!(all[3].environment, "");
        let ci = table_rows(&names, Some("ci"));
        assert_eq!(ci.len(), 2);
        assert_eq!(
            (ci[0].table.as_str(), ci[0].environment.as_str()),
            ("a", "ci")
        );
    }

    #[test]
    fn backups_are_kept_for_their_environment_only() {
        let backup = |table: &str| BackupSummary {
            table: table.to_string(),
            name: "n".into(),
            arn: format!("arn-{table}"),
            created: NOW.into(),
            status: "AVAILABLE".into(),
            size_bytes: None,
            backup_type: "USER".into(),
        };
        let kept =
            backups_of_environment(vec![backup("a_ci"), backup("a_ci_2"), backup("b_ci")], "ci");
        let arns: Vec<&str> = kept.iter().map(|b| b.arn.as_str()).collect();
        assert_eq!(arns, vec!["arn-a_ci", "arn-b_ci"]);
    }

    #[test]
    fn outcomes_print_one_line_and_their_json_is_the_inner_object() {
        let done = |action: &str, status: Option<&str>, changes| {
            Outcome::Done(Done {
                table: "t_ci".into(),
                action: action.into(),
                status: status.map(str::to_string),
                changes,
            })
        };
        assert_eq!(
            done("created", Some("ACTIVE"), None).text(),
            "created t_ci (ACTIVE)\n"
        );
        assert_eq!(
            done("updated", Some("ACTIVE"), Some(2)).text(),
            "updated t_ci (2 change(s)) (ACTIVE)\n"
        );
        assert_eq!(done("deleted", None, None).text(), "deleted t_ci\n");
        assert_eq!(
            serde_json::to_value(done("deleted", None, None)).unwrap(),
            serde_json::json!({"table": "t_ci", "action": "deleted"})
        );
        let made = Outcome::Backup(BackupMade {
            table: "t_ci".into(),
            name: "n1".into(),
            arn: "arn:1".into(),
        });
        assert_eq!(made.text(), "backup n1 of t_ci: arn:1\n");
        assert_eq!(
            serde_json::to_value(&made).unwrap(),
            serde_json::json!({"table": "t_ci", "name": "n1", "arn": "arn:1"})
        );
    }
}
