//! `asiaq elasticache` (the original's `disco_elasticache.py`): the environment's Redis (or
//! Valkey) replication groups from `disco_elasticache.ini`, and their CNAMEs.

use std::io::Write;
use std::time::Duration;

use asiaq_aws::elasticache as aws;
use asiaq_config::elasticache as config;
use asiaq_core::elasticache as core;
use clap::Subcommand;

use crate::cli::GlobalArgs;
use crate::commands::aws_session;
use crate::confirm::confirm;
use crate::exit::CliError;
use crate::output::{emit, print_plan, write_lines};

#[derive(Debug, Subcommand)]
pub enum ElasticacheCommand {
    /// List the environment's replication groups: description, status, number of nodes
    List,
    /// Create the configured groups that are missing, and bring the others (when
    /// available) to their configuration; then point each CNAME at its group
    Update {
        /// Only this cluster (a [<env>:<cluster>] section)
        #[arg(long)]
        cluster: Option<String>,
        /// Print the plan and change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Delete a cluster's replication group and the CNAMEs pointing at it (a non-sandbox
    /// environment's asks first, or needs --yes)
    Delete {
        /// The cluster (the <cluster> of [<env>:<cluster>])
        #[arg(long)]
        cluster: String,
        /// Wait until the group is gone
        #[arg(long)]
        wait: bool,
        /// How long the wait lasts before it fails (exit 1); implies --wait
        #[arg(long, value_name = "SECONDS")]
        wait_timeout: Option<u64>,
        /// Print the plan and change nothing
        #[arg(long)]
        dry_run: bool,
    },
}

pub fn run(global: &GlobalArgs, cmd: &ElasticacheCommand) -> Result<(), CliError> {
    let dir = &global.asiaq_config;
    match cmd {
        ElasticacheCommand::List => {
            let env = config::environment(dir, global.env.as_deref())?;
            aws_session::run(global, |ctx| async move {
                aws::environment(&ctx, &env).await?;
                let rows = core::list_rows(&env, &aws::all_groups(&ctx).await?);
                emit(global.output, &rows, |out: &mut dyn Write| {
                    write_lines(out, rows.iter().map(core::CacheRow::line).collect())
                })
            })
        }
        ElasticacheCommand::Update { cluster, dry_run } => {
            let conf = config::load(dir, global.env.as_deref(), cluster.as_deref())?;
            aws_session::run(global, |ctx| async move {
                let (plan, notes) = aws::prepare_update(&ctx, &conf.env, &conf.clusters).await?;
                print_plan(global, "elasticache update", &plan, &notes, *dry_run)?;
                if *dry_run {
                    return Ok(());
                }
                aws::apply(&ctx, &plan, "elasticache update").await?;
                let lines = core::outcome_lines(&plan);
                emit(global.output, &lines, |out| write_lines(out, lines.clone()))
            })
        }
        ElasticacheCommand::Delete {
            cluster,
            wait,
            wait_timeout,
            dry_run,
        } => {
            let env = config::environment(dir, global.env.as_deref())?;
            aws_session::run(global, |ctx| async move {
                let (plan, notes, id) = aws::prepare_delete(&ctx, &env, cluster).await?;
                print_plan(global, "elasticache delete", &plan, &notes, *dry_run)?;
                if *dry_run {
                    return Ok(());
                }
                if !plan.is_empty() && !global.yes {
                    let env_type = asiaq_aws::credentials::environment_type(&ctx, &env).await?;
                    let desc = core::description(&env, cluster);
                    if let Some(q) = core::delete_question(&desc, &env, env_type.as_deref()) {
                        confirm(global, &q)?;
                    }
                }
                aws::apply(&ctx, &plan, "elasticache delete").await?;
                if *wait || wait_timeout.is_some() {
                    let timeout = wait_timeout.unwrap_or(aws::DELETE_TIMEOUT_SECONDS);
                    aws::wait_deleted(&ctx, &id, Duration::from_secs(timeout)).await?;
                }
                let lines = core::outcome_lines(&plan);
                emit(global.output, &lines, |out| write_lines(out, lines.clone()))
            })
        }
    }
}
