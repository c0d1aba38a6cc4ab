//! `asiaq dynamodb` (the original's `disco_dynamodb.py`, and native backups in place of its
//! Data Pipeline `asiaq ddb_backup`): tables named `<Table>_<env>`, created from and
//! updated to a JSON definition file, and their backups.

use std::io::Write;
use std::path::PathBuf;

use asiaq_aws::dynamodb as ddb;
use asiaq_config::dynamodb as input;
use asiaq_core::dynamodb::{self as core, Purpose, Request, RestoreRequest};
use clap::{Args, Subcommand, ValueEnum};

use crate::cli::{GlobalArgs, OutputFormat};
use crate::commands::aws_session;
use crate::confirm::confirm;
use crate::exit::CliError;
use crate::output::{emit, print, print_plan};

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

pub fn run(global: &GlobalArgs, cmd: &DynamodbCommand) -> Result<(), CliError> {
    use DynamodbCommand as C;
    let environment = || input::environment(&global.asiaq_config, global.env.as_deref());
    let definition = |file, purpose| input::read_definition(&global.asiaq_config, file, purpose);
    let usage = CliError::usage;
    let (request, wait, dry_run) = match cmd {
        C::List { header } => {
            return aws_session::run(global, |ctx| async move {
                let names = ddb::list_tables(&ctx).await?;
                let rows = core::table_rows(&names, global.env.as_deref());
                print(global, core::text::tables(&rows, *header))
            });
        }
        C::Describe { table } => {
            let table = core::table_arg(&table.table, &environment()?).map_err(usage)?;
            return aws_session::run(global, |ctx| async move {
                let value = ddb::describe_json(&ctx, &table).await?;
                // The original printed the description as JSON whatever the format.
                emit(OutputFormat::Json, &value, |_| Ok(()))
            });
        }
        C::ListBackups { table } => {
            let env = environment()?;
            let table = table.as_deref().map(|t| core::table_arg(t, &env));
            let table = table.transpose().map_err(usage)?;
            return aws_session::run(global, |ctx| async move {
                let all = ddb::list_backups(&ctx, table.as_deref()).await?;
                let backups = core::backups_of_environment(all, &env);
                print(global, core::text::backups(&backups))
            });
        }
        C::Create {
            config,
            wait,
            dry_run,
        } => {
            let env = environment()?;
            let def = definition(config, Purpose::Create)?;
            (Request::create(&env, def), *wait, *dry_run)
        }
        C::Update {
            table,
            config,
            wait,
            dry_run,
        } => {
            let physical = core::table_arg(&table.table, &environment()?).map_err(usage)?;
            let def = definition(config, Purpose::Update)?;
            let file = config.display().to_string();
            let request = Request::update(&table.table, physical, def, &file);
            (request, *wait, *dry_run)
        }
        C::Delete {
            table,
            wait,
            dry_run,
        } => {
            let request = Request::delete(&table.table, &environment()?);
            (request, *wait, *dry_run)
        }
        C::Backup {
            table,
            name,
            dry_run,
        } => {
            let (env, name) = (environment()?, name.as_deref());
            let request = Request::backup(&table.table, &env, name, &now_utc());
            (request, false, *dry_run)
        }
        C::Restore(a) => {
            let (env, source) = (environment()?, &a.source);
            let (backup, time) = (source.backup.as_deref(), source.point_in_time.as_deref());
            let r = RestoreRequest::new(&a.table, &env, a.to.as_deref(), backup, time, &now_utc());
            (r.map(Request::Restore), a.wait, a.dry_run)
        }
        C::Pitr {
            table,
            state,
            dry_run,
        } => {
            let request = Request::pitr(&table.table, &environment()?, *state == OnOff::On);
            (request, false, *dry_run)
        }
    };
    let request = request.map_err(usage)?;
    aws_session::run(global, |ctx| async move {
        let prepared = ddb::prepare(&ctx, &request).await?;
        let command = prepared.operation.command();
        print_plan(global, command, &prepared.plan, &prepared.notes, dry_run)?;
        if dry_run {
            return Ok(());
        }
        if let Some(question) = ddb::confirmation(&ctx, &prepared, global.yes).await? {
            confirm(global, &question)?;
        }
        let outcome = ddb::execute(&ctx, &prepared, wait).await?;
        emit(global.output, &outcome, |out: &mut dyn Write| {
            write!(out, "{}", outcome.text())
        })
    })
}
