//! `asiaq dynamodb` (the original's `disco_dynamodb.py`, and native backups in place of its
//! Data Pipeline `asiaq ddb_backup`): tables named `<Table>_<env>`, created from and
//! updated to a JSON definition file, and their backups.

use std::io::Write;
use std::path::{Path, PathBuf};

use asiaq_aws::dynamodb::{self as ddb, DynamoError};
use asiaq_aws::AwsContext;
use asiaq_config::dynamodb::{self as input, InputError};
use asiaq_core::dynamodb::{self as core, Purpose, RestoreRequest};
use asiaq_core::plan::dynamodb::Prepared;
use clap::{Args, Subcommand, ValueEnum};

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

fn with_hint(cli: CliError, hint: Option<&str>) -> CliError {
    match hint {
        Some(h) => cli.with_hint(h),
        None => cli,
    }
}

impl From<InputError> for CliError {
    /// Input refused before any call: exit 2.
    fn from(e: InputError) -> Self {
        let hint = e.hint();
        let cli = match e {
            InputError::Config(c) | InputError::NoEnvironment(c) => CliError::from(c),
            InputError::Invalid(m) => CliError::usage(m),
        };
        with_hint(cli, hint)
    }
}

impl From<DynamoError> for CliError {
    /// Bad input: exit 2; AWS's errors as they are; anything else: exit 1.
    fn from(e: DynamoError) -> Self {
        let hint = e.hint();
        let cli = match e {
            DynamoError::Usage(m) => CliError::usage(m),
            DynamoError::Aws(a) => CliError::from(a),
            other => CliError::failed(other.to_string()),
        };
        with_hint(cli, hint)
    }
}

fn environment(global: &GlobalArgs) -> Result<String, CliError> {
    Ok(input::environment(
        &global.asiaq_config,
        global.env.as_deref(),
    )?)
}

fn table_of(table: &str, env: &str) -> Result<String, CliError> {
    core::table_arg(table, env).map_err(CliError::usage)
}

/// Prints the plan; unless a dry run, asks when it must, runs it and prints the result.
async fn finish(
    global: &GlobalArgs,
    ctx: &AwsContext,
    command: &str,
    prepared: Prepared,
    wait: bool,
    dry_run: bool,
) -> Result<(), CliError> {
    print_plan(global, command, &prepared.plan, &prepared.notes, dry_run)?;
    if dry_run {
        return Ok(());
    }
    if let Some(question) = ddb::confirmation(ctx, &prepared, global.yes).await? {
        confirm(global, &question)?;
    }
    let outcome = ddb::execute(ctx, &prepared, wait).await?;
    emit(global.output, &outcome, |out: &mut dyn Write| {
        write!(out, "{}", outcome.text())
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
    aws_session::run(global, |ctx| async move {
        let names = ddb::list_tables(&ctx).await?;
        let rows = core::table_rows(&names, global.env.as_deref());
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
    let def = input::read_definition(&global.asiaq_config, config, Purpose::Create)?;
    let table = core::create_table_name(&def, &env).map_err(CliError::usage)?;
    aws_session::run(global, |ctx| async move {
        let prepared = ddb::prepare_create(&ctx, &table, &env, &def).await?;
        finish(global, &ctx, "dynamodb create", prepared, wait, dry_run).await
    })
}

fn describe(global: &GlobalArgs, table: &str) -> Result<(), CliError> {
    let table = table_of(table, &environment(global)?)?;
    aws_session::run(global, |ctx| async move {
        let value = ddb::describe_json(&ctx, &table).await?;
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
    let physical = table_of(table, &env)?;
    let def = input::read_definition(&global.asiaq_config, config, Purpose::Update)?;
    let file = config.display().to_string();
    core::check_update_file(&def, table, &file).map_err(CliError::usage)?;
    aws_session::run(global, |ctx| async move {
        let prepared = ddb::prepare_update(&ctx, &physical, &def, &file).await?;
        finish(global, &ctx, "dynamodb update", prepared, wait, dry_run).await
    })
}

fn delete(global: &GlobalArgs, table: &str, wait: bool, dry_run: bool) -> Result<(), CliError> {
    let env = environment(global)?;
    let table = table_of(table, &env)?;
    aws_session::run(global, |ctx| async move {
        let prepared = ddb::prepare_delete(&ctx, &table, &env).await?;
        finish(global, &ctx, "dynamodb delete", prepared, wait, dry_run).await
    })
}

fn backup(
    global: &GlobalArgs,
    table: &str,
    name: Option<&str>,
    dry_run: bool,
) -> Result<(), CliError> {
    let table = table_of(table, &environment(global)?)?;
    let name = core::backup_name(&table, name, &now_utc()).map_err(CliError::usage)?;
    aws_session::run(global, |ctx| async move {
        let prepared = ddb::prepare_backup(&ctx, &table, &name).await?;
        finish(global, &ctx, "dynamodb backup", prepared, false, dry_run).await
    })
}

fn list_backups(global: &GlobalArgs, table: Option<&str>) -> Result<(), CliError> {
    let env = environment(global)?;
    let table = table.map(|t| table_of(t, &env)).transpose()?;
    aws_session::run(global, |ctx| async move {
        let all = ddb::list_backups(&ctx, table.as_deref()).await?;
        let backups = core::backups_of_environment(all, &env);
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
    let request = RestoreRequest::new(
        &args.table,
        &env,
        args.to.as_deref(),
        args.source.backup.as_deref(),
        args.source.point_in_time.as_deref(),
        &now_utc(),
    )
    .map_err(CliError::usage)?;
    let (wait, dry_run) = (args.wait, args.dry_run);
    aws_session::run(global, |ctx| async move {
        let prepared = ddb::prepare_restore(&ctx, &request).await?;
        finish(global, &ctx, "dynamodb restore", prepared, wait, dry_run).await
    })
}

fn pitr(global: &GlobalArgs, table: &str, on: bool, dry_run: bool) -> Result<(), CliError> {
    let table = table_of(table, &environment(global)?)?;
    aws_session::run(global, |ctx| async move {
        let prepared = ddb::prepare_pitr(&ctx, &table, on).await?;
        finish(global, &ctx, "dynamodb pitr", prepared, false, dry_run).await
    })
}
