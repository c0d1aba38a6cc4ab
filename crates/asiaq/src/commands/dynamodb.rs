//! `asiaq dynamodb` (the original's `disco_dynamodb.py`, and native backups in place of its
//! Data Pipeline `asiaq ddb_backup`): tables named `<Table>_<env>`, created from and
//! updated to a JSON definition file, and their backups.

use std::io::Write;
use std::path::{Path, PathBuf};

use asiaq_aws::dynamodb::{self as ddb, ApplyFailure};
use asiaq_aws::AwsContext;
use asiaq_config::ConfigDir;
use asiaq_core::dynamodb::{self as core, Purpose, TableDefinition};
use asiaq_core::plan::dynamodb::{self as plans, DynamoAction, BACKUP_KEY};
use asiaq_core::plan::Plan;
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;

use crate::cli::{GlobalArgs, OutputFormat};
use crate::commands::aws_session;
use crate::confirm::confirm;
use crate::exit::CliError;
use crate::output::{emit, print_plan, write_table};

#[derive(Debug, Subcommand)]
pub enum DynamodbCommand {
    /// List tables: name and environment (the physical name split at its first "_");
    /// with --env, only that environment's
    List {
        /// Print a header line first
        #[arg(long)]
        header: bool,
    },
    /// Create table <TableName>_<env> from a JSON definition (the CreateTable request, plus
    /// TimeToLiveSpecification), checked before any call
    Create {
        /// The definition file (absolute, relative to the current directory, or to the
        /// configuration directory)
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Wait until the table and its indexes are ACTIVE
        #[arg(long)]
        wait: bool,
        /// Print the plan and change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Print a table's description as JSON (keys sorted), with its time to live
    Describe {
        #[command(flatten)]
        table: TableArg,
    },
    /// Change a table to match a definition file: only what differs (capacity, billing
    /// mode, global indexes, stream, time to live) for the keys the file has
    Update {
        #[command(flatten)]
        table: TableArg,
        /// The definition file (a whole one, or only the keys to change)
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Wait until the table and its indexes are ACTIVE
        #[arg(long)]
        wait: bool,
        /// Print the changes and make none
        #[arg(long)]
        dry_run: bool,
    },
    /// Delete a table (a non-sandbox environment's asks first, or needs --yes)
    Delete {
        #[command(flatten)]
        table: TableArg,
        /// Wait until the table is gone
        #[arg(long)]
        wait: bool,
        /// Print the plan and change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Back a table up (DynamoDB's native backups, CreateBackup)
    Backup {
        #[command(flatten)]
        table: TableArg,
        /// The backup's name (default <Table>_<env>-<UTC time>)
        #[arg(long)]
        name: Option<String>,
        /// Print the plan and change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// List backups of a table, or of every table of the environment; oldest first
    ListBackups {
        /// Only this table's
        #[arg(long)]
        table: Option<String>,
    },
    /// Restore a table into a new table, from a backup or a point in time; never into a
    /// table that exists
    Restore(RestoreArgs),
    /// Turn point-in-time recovery of a table on or off (UpdateContinuousBackups)
    Pitr {
        #[command(flatten)]
        table: TableArg,
        #[arg(value_enum)]
        state: OnOff,
        /// Print the plan and change nothing
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Clone, Args)]
pub struct TableArg {
    /// The table's name, without the environment
    #[arg(long)]
    pub table: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

/// What a restore restores: exactly one of a backup, the newest backup, a point in time.
#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false)]
pub struct RestoreSource {
    /// The backup to restore (an ARN of the table's)
    #[arg(long, value_name = "ARN")]
    pub backup: Option<String>,
    /// The table's newest available backup
    #[arg(long)]
    pub latest: bool,
    /// The table as it was at this time (RFC 3339; point-in-time recovery must be on)
    #[arg(long, value_name = "TIME")]
    pub point_in_time: Option<String>,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The table restored (of the backup, or whose history is restored)
    #[arg(long)]
    pub table: String,
    #[command(flatten)]
    pub source: RestoreSource,
    /// The new table's name, without the environment (default <Table>-restored-<UTC time>);
    /// it must not exist
    #[arg(long, value_name = "TABLE")]
    pub to: Option<String>,
    /// Wait until the new table is ACTIVE
    #[arg(long)]
    pub wait: bool,
    /// Print the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

fn now_utc() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The environment: `--env`, else `[disco_aws] default_environment`; never empty, `none`
/// or `-`.
fn environment(global: &GlobalArgs) -> Result<String, CliError> {
    let env = match &global.env {
        Some(e) => e.clone(),
        None => {
            let dir = ConfigDir::new(&global.asiaq_config);
            let aws = dir.aws(None)?;
            aws.require_environment()
                .map_err(|e| CliError::from(e).with_hint("give --env ENV"))?
                .to_string()
        }
    };
    core::check_environment(&env).map_err(CliError::usage)?;
    Ok(env)
}

fn physical(table: &str, env: &str) -> Result<String, CliError> {
    core::physical_name(table, env).map_err(|e| CliError::usage(format!("--table: {e}")))
}

/// A definition file: absolute; else relative to the current directory when it is there;
/// else relative to the configuration directory (where the original looked).
fn definition_path(global: &GlobalArgs, given: &Path) -> PathBuf {
    if given.is_absolute() || given.exists() {
        given.to_path_buf()
    } else {
        global.asiaq_config.join(given)
    }
}

/// Reads and checks a definition file; every problem at once, as `file:line:column`.
fn read_definition(
    global: &GlobalArgs,
    given: &Path,
    purpose: Purpose,
) -> Result<TableDefinition, CliError> {
    let path = definition_path(global, given);
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(&path)
        .map_err(|e| CliError::usage(format!("cannot read {shown}: {e}")))?;
    core::parse_definition(&text, purpose).map_err(|problems| {
        CliError::usage(
            problems
                .iter()
                .map(|p| p.render(&shown))
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })
}

fn apply_error(failure: ApplyFailure, hint: &str) -> CliError {
    let mut message = failure.to_string();
    if let Some(r) = &failure.rollback {
        if !r.undone.is_empty() {
            message.push_str(&format!("; rolled back: {}", r.undone.join(", ")));
        }
        if !r.is_complete() {
            message.push_str(&format!("; NOT rolled back: {}", r.failed.join(", ")));
        }
    }
    CliError::failed(message).with_hint(hint)
}

/// Runs `plan` (nothing for an empty one) and returns what it created.
async fn apply(
    ctx: &AwsContext,
    title: &str,
    plan: &Plan<DynamoAction>,
    roll_back: bool,
    hint: &str,
) -> Result<std::collections::BTreeMap<String, String>, CliError> {
    if plan.is_empty() {
        return Ok(Default::default());
    }
    ddb::apply_plan(ctx, title, plan, roll_back)
        .await
        .map_err(|f| apply_error(f, hint))
}

/// Waits for `table` to settle, saying so first.
async fn wait_active(ctx: &AwsContext, table: &str) -> Result<String, CliError> {
    note(&format!(
        "waiting for DynamoDB table {table} and its indexes to be ACTIVE"
    ));
    Ok(ddb::wait_active(ctx, table).await?.table_status)
}

fn note(text: &str) {
    asiaq_engine::report::emit(&asiaq_engine::Event::Note(text));
}

/// One line of result: the table, and what was done.
#[derive(Debug, Serialize)]
struct Done<'a> {
    table: &'a str,
    action: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    changes: Option<usize>,
}

fn print_done(global: &GlobalArgs, done: &Done<'_>) -> Result<(), CliError> {
    emit(global.output, done, |out: &mut dyn Write| {
        write!(out, "{} {}", done.action, done.table)?;
        if let Some(n) = done.changes {
            write!(out, " ({n} change(s))")?;
        }
        if let Some(s) = &done.status {
            write!(out, " ({s})")?;
        }
        writeln!(out)
    })
}

pub fn run(global: &GlobalArgs, cmd: &DynamodbCommand) -> Result<(), CliError> {
    match cmd {
        DynamodbCommand::List { header } => list(global, *header),
        DynamodbCommand::Create {
            config,
            wait,
            dry_run,
        } => create(global, config, *wait, *dry_run),
        DynamodbCommand::Describe { table } => describe(global, &table.table),
        DynamodbCommand::Update {
            table,
            config,
            wait,
            dry_run,
        } => update(global, &table.table, config, *wait, *dry_run),
        DynamodbCommand::Delete {
            table,
            wait,
            dry_run,
        } => delete(global, &table.table, *wait, *dry_run),
        DynamodbCommand::Backup {
            table,
            name,
            dry_run,
        } => backup(global, &table.table, name.as_deref(), *dry_run),
        DynamodbCommand::ListBackups { table } => list_backups(global, table.as_deref()),
        DynamodbCommand::Restore(args) => restore(global, args),
        DynamodbCommand::Pitr {
            table,
            state,
            dry_run,
        } => pitr(global, &table.table, *state == OnOff::On, *dry_run),
    }
}

fn list(global: &GlobalArgs, header: bool) -> Result<(), CliError> {
    #[derive(Serialize)]
    struct Row {
        table: String,
        environment: String,
        name: String,
    }
    let only = global.env.clone();
    aws_session::run(global, |ctx| async move {
        let mut rows: Vec<Row> = ddb::list_tables(&ctx)
            .await?
            .into_iter()
            .map(|name| {
                let (table, env) = core::split_physical(&name);
                Row {
                    table: table.to_string(),
                    environment: env.to_string(),
                    name: name.clone(),
                }
            })
            .filter(|r| only.as_deref().is_none_or(|e| r.environment == e))
            .collect();
        rows.sort_by(|a, b| a.name.cmp(&b.name));
        emit(global.output, &rows, |out: &mut dyn Write| {
            if header {
                writeln!(out, "{:<20} ENV_NAME", "TABLE_NAME")?;
            }
            for r in &rows {
                writeln!(out, "{:<20} {}", r.table, r.environment)?;
            }
            Ok(())
        })
    })
}

fn create(global: &GlobalArgs, config: &Path, wait: bool, dry_run: bool) -> Result<(), CliError> {
    let env = environment(global)?;
    let def = read_definition(global, config, Purpose::Create)?;
    let table = physical(def.table_name.as_deref().unwrap_or_default(), &env)?;
    aws_session::run(global, |ctx| async move {
        if ddb::describe_table(&ctx, &table).await?.is_some() {
            return Err(
                CliError::failed(format!("DynamoDB table {table} already exists"))
                    .with_hint("`asiaq dynamodb update --table T --config FILE` changes a table"),
            );
        }
        let plan = plans::create_plan(&table, &env, &def);
        print_plan(global, "dynamodb create", &plan, &[], dry_run)?;
        if dry_run {
            return Ok(());
        }
        apply(
            &ctx,
            &format!("create DynamoDB table {table}"),
            &plan,
            true,
            "nothing was left behind: fix the cause and run the create again",
        )
        .await?;
        let status = if wait {
            Some(wait_active(&ctx, &table).await?)
        } else {
            None
        };
        print_done(
            global,
            &Done {
                table: &table,
                action: "created",
                status,
                changes: None,
            },
        )
    })
}

fn describe(global: &GlobalArgs, table: &str) -> Result<(), CliError> {
    let env = environment(global)?;
    let table = physical(table, &env)?;
    aws_session::run(global, |ctx| async move {
        let mut observed = ddb::require_table(&ctx, &table).await?;
        observed.time_to_live = Some(ddb::describe_time_to_live(&ctx, &table).await?);
        let value = serde_json::to_value(&observed)
            .map_err(|e| CliError::failed(format!("cannot render the description: {e}")))?;
        let value = core::sorted_json(value);
        // The original printed the description as JSON whatever the format; so does asiaq.
        emit(OutputFormat::Json, &value, |_| Ok(()))
    })
}

fn update(
    global: &GlobalArgs,
    table: &str,
    config: &Path,
    wait: bool,
    dry_run: bool,
) -> Result<(), CliError> {
    let env = environment(global)?;
    let physical_table = physical(table, &env)?;
    let def = read_definition(global, config, Purpose::Update)?;
    if let Some(named) = def.table_name.as_deref().filter(|n| *n != table) {
        return Err(CliError::usage(format!(
            "{}: TableName is {named:?}, not --table {table:?}",
            config.display()
        )));
    }
    let table = physical_table;
    aws_session::run(global, |ctx| async move {
        let mut observed = ddb::require_table(&ctx, &table).await?;
        if def.time_to_live_specification.is_some() {
            observed.time_to_live = Some(ddb::describe_time_to_live(&ctx, &table).await?);
        }
        let update = plans::update_plan(&def, &observed)
            .map_err(|e| CliError::usage(format!("{}: {e}", config.display())))?;
        print_plan(
            global,
            "dynamodb update",
            &update.plan,
            &update.notes,
            dry_run,
        )?;
        if dry_run {
            return Ok(());
        }
        // A table still busy with an earlier change takes no other until it is done.
        if !update.plan.is_empty() && observed.settled().is_err() {
            wait_active(&ctx, &table).await?;
        }
        apply(
            &ctx,
            &format!("update DynamoDB table {table}"),
            &update.plan,
            false,
            "run the update again: it compares the file with the table as it is now and sends what is left",
        )
        .await?;
        let status = if wait {
            Some(wait_active(&ctx, &table).await?)
        } else {
            None
        };
        print_done(
            global,
            &Done {
                table: &table,
                action: if update.plan.is_empty() {
                    "unchanged"
                } else {
                    "updated"
                },
                status,
                changes: Some(update.plan.len()),
            },
        )
    })
}

fn delete(global: &GlobalArgs, table: &str, wait: bool, dry_run: bool) -> Result<(), CliError> {
    let env = environment(global)?;
    let table = physical(table, &env)?;
    aws_session::run(global, |ctx| async move {
        ddb::require_table(&ctx, &table).await?;
        let plan = plans::sequence(vec![DynamoAction::DeleteTable {
            table: table.clone(),
        }]);
        print_plan(global, "dynamodb delete", &plan, &[], dry_run)?;
        if dry_run {
            return Ok(());
        }
        if !global.yes {
            let env_type = asiaq_aws::credentials::environment_type(&ctx, &env).await?;
            if env_type.as_deref() != Some("sandbox") {
                confirm(
                    global,
                    &format!(
                        "Delete DynamoDB table {table} of environment {env} (type {})?",
                        env_type.as_deref().unwrap_or("unknown: no such VPC")
                    ),
                )?;
            }
        }
        apply(
            &ctx,
            &format!("delete DynamoDB table {table}"),
            &plan,
            false,
            "run the delete again",
        )
        .await?;
        if wait {
            note(&format!("waiting for DynamoDB table {table} to be deleted"));
            ddb::wait_gone(&ctx, &table).await?;
        }
        print_done(
            global,
            &Done {
                table: &table,
                action: "deleted",
                status: None,
                changes: None,
            },
        )
    })
}

fn backup(
    global: &GlobalArgs,
    table: &str,
    name: Option<&str>,
    dry_run: bool,
) -> Result<(), CliError> {
    let env = environment(global)?;
    let table = physical(table, &env)?;
    let name = match name {
        Some(n) => n.to_string(),
        None => core::default_backup_name(&table, &now_utc()),
    };
    core::check_backup_name(&name).map_err(|e| CliError::usage(format!("--name: {e}")))?;
    aws_session::run(global, |ctx| async move {
        ddb::require_table(&ctx, &table).await?;
        let plan = plans::sequence(vec![DynamoAction::CreateBackup {
            table: table.clone(),
            name: name.clone(),
        }]);
        print_plan(global, "dynamodb backup", &plan, &[], dry_run)?;
        if dry_run {
            return Ok(());
        }
        let created = apply(
            &ctx,
            &format!("back up DynamoDB table {table}"),
            &plan,
            false,
            "run the backup again",
        )
        .await?;
        #[derive(Serialize)]
        struct Made<'a> {
            table: &'a str,
            name: &'a str,
            arn: &'a str,
        }
        let made = Made {
            table: &table,
            name: &name,
            arn: created.get(BACKUP_KEY).map_or("", String::as_str),
        };
        emit(global.output, &made, |out: &mut dyn Write| {
            writeln!(out, "backup {} of {}: {}", made.name, made.table, made.arn)
        })
    })
}

fn list_backups(global: &GlobalArgs, table: Option<&str>) -> Result<(), CliError> {
    let env = environment(global)?;
    let table = table.map(|t| physical(t, &env)).transpose()?;
    aws_session::run(global, |ctx| async move {
        let backups: Vec<core::BackupSummary> = ddb::list_backups(&ctx, table.as_deref())
            .await?
            .into_iter()
            .filter(|b| core::split_physical(&b.table).1 == env)
            .collect();
        emit(global.output, &backups, |out: &mut dyn Write| {
            let rows: Vec<Vec<String>> = backups
                .iter()
                .map(|b| {
                    vec![
                        b.created.clone(),
                        b.table.clone(),
                        b.name.clone(),
                        b.status.clone(),
                        b.arn.clone(),
                    ]
                })
                .collect();
            write_table(out, &rows)
        })
    })
}

fn restore(global: &GlobalArgs, args: &RestoreArgs) -> Result<(), CliError> {
    let env = environment(global)?;
    let source = physical(&args.table, &env)?;
    let now = now_utc();
    let target_table = match &args.to {
        Some(t) => {
            core::check_table_name(t).map_err(|e| CliError::usage(format!("--to: {e}")))?;
            t.clone()
        }
        None => core::default_restore_target(&args.table, &now),
    };
    let target = physical(&target_table, &env)?;
    let point_in_time = args
        .source
        .point_in_time
        .as_deref()
        .map(|t| {
            t.parse::<jiff::Timestamp>()
                .map(|ts| ts.to_string())
                .map_err(|e| {
                    CliError::usage(format!(
                        "--point-in-time {t:?}: expected an RFC 3339 time such as 2026-01-31T12:00:00Z ({e})"
                    ))
                })
        })
        .transpose()?;
    if let Some(arn) = &args.source.backup {
        match core::backup_table(arn) {
            None => {
                return Err(CliError::usage(format!(
                    "--backup {arn:?} is not a DynamoDB backup ARN (arn:aws:dynamodb:REGION:ACCOUNT:table/TABLE/backup/ID)"
                )))
            }
            Some(of) if of != source => {
                return Err(CliError::usage(format!(
                    "--backup is a backup of table {of}, not of {source}"
                )))
            }
            Some(_) => {}
        }
    }
    let (wait, dry_run) = (args.wait, args.dry_run);
    aws_session::run(global, |ctx| async move {
        if ddb::describe_table(&ctx, &target).await?.is_some() {
            return Err(CliError::failed(format!(
                "DynamoDB table {target} exists, and a restore never writes into an existing table"
            ))
            .with_hint("name a new table with --to, or delete the existing one first"));
        }
        let action = match (&args.source.backup, point_in_time) {
            (Some(arn), _) => DynamoAction::RestoreFromBackup {
                backup_arn: arn.clone(),
                target: target.clone(),
            },
            (None, Some(time)) => DynamoAction::RestoreToPointInTime {
                source: source.clone(),
                target: target.clone(),
                time,
            },
            (None, None) => {
                let backups = ddb::list_backups(&ctx, Some(&source)).await?;
                let latest = core::latest_backup(&backups).ok_or_else(|| {
                    CliError::failed(format!("there is no available backup of table {source}"))
                })?;
                DynamoAction::RestoreFromBackup {
                    backup_arn: latest.arn.clone(),
                    target: target.clone(),
                }
            }
        };
        let plan = plans::sequence(vec![action]);
        print_plan(global, "dynamodb restore", &plan, &[], dry_run)?;
        if dry_run {
            return Ok(());
        }
        apply(
            &ctx,
            &format!("restore into DynamoDB table {target}"),
            &plan,
            false,
            "run the restore again",
        )
        .await?;
        let status = if wait {
            Some(wait_active(&ctx, &target).await?)
        } else {
            None
        };
        print_done(
            global,
            &Done {
                table: &target,
                action: "restored into new table",
                status,
                changes: None,
            },
        )
    })
}

fn pitr(global: &GlobalArgs, table: &str, on: bool, dry_run: bool) -> Result<(), CliError> {
    let env = environment(global)?;
    let table = physical(table, &env)?;
    aws_session::run(global, |ctx| async move {
        ddb::require_table(&ctx, &table).await?;
        let now_on = ddb::point_in_time_recovery(&ctx, &table).await?;
        let actions = if now_on == on {
            Vec::new()
        } else {
            vec![DynamoAction::SetPointInTimeRecovery {
                table: table.clone(),
                enabled: on,
            }]
        };
        let plan = plans::sequence(actions);
        print_plan(global, "dynamodb pitr", &plan, &[], dry_run)?;
        if dry_run {
            return Ok(());
        }
        apply(
            &ctx,
            &format!("point-in-time recovery of DynamoDB table {table}"),
            &plan,
            false,
            "run the command again",
        )
        .await?;
        print_done(
            global,
            &Done {
                table: &table,
                action: if on {
                    "point-in-time recovery on for"
                } else {
                    "point-in-time recovery off for"
                },
                status: None,
                changes: Some(plan.len()),
            },
        )
    })
}
