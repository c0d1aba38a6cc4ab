//! `asiaq log-metrics` (disco_log_metrics.py): the CloudWatch Logs metric filters and log
//! groups of a hostclass, from disco_log_metrics.ini.

use std::io::Write;

use asiaq_aws::log_metrics as aws_logs;
use asiaq_config::services::{load_log_metrics, log_metric_rules};
use asiaq_config::ConfigDir;
use asiaq_core::plan::log_metrics::{hostclass_prefix, size_mib};
use asiaq_engine::report as progress;
use clap::Subcommand;
use serde::Serialize;

use super::aws_session;
use crate::cli::GlobalArgs;
use crate::exit::CliError;
use crate::output::{emit, print_plan};

#[derive(Debug, Subcommand)]
pub enum LogMetricsCommand {
    /// List the hostclass's log metrics: namespace and metric name
    ListMetrics {
        #[arg(long)]
        hostclass: String,
    },
    /// List the hostclass's log groups and their stored size
    ListGroups {
        #[arg(long)]
        hostclass: String,
    },
    /// Make the hostclass's log groups and metric filters those of disco_log_metrics.ini
    Update {
        #[arg(long)]
        hostclass: String,
        /// Print the plan and change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Delete the hostclass's metric filters and log groups
    Delete {
        #[arg(long)]
        hostclass: String,
        /// Print the plan and change nothing
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Serialize)]
struct GroupRow<'a> {
    name: &'a str,
    stored_bytes: i64,
    size: String,
}

pub fn run(global: &GlobalArgs, cmd: &LogMetricsCommand) -> Result<(), CliError> {
    let dir = ConfigDir::new(&global.asiaq_config);
    dir.check()?;
    let env = dir
        .aws(global.env.as_deref())?
        .require_environment()
        .map_err(|e| CliError::from(e).with_hint("give --env ENV"))?
        .to_string();
    let (ini, warnings) = load_log_metrics(&dir)?;
    for w in &warnings {
        progress::warn(w.located());
    }
    match cmd {
        LogMetricsCommand::ListMetrics { hostclass } => {
            aws_session::run(global, |ctx| async move {
                let filters =
                    aws_logs::metric_filters(&ctx, &hostclass_prefix(&env, hostclass)).await?;
                emit(global.output, &filters, |out: &mut dyn Write| {
                    for f in &filters {
                        writeln!(out, "{:<40} {}", f.metric_namespace, f.metric_name)?;
                    }
                    Ok(())
                })
            })
        }
        LogMetricsCommand::ListGroups { hostclass } => aws_session::run(global, |ctx| async move {
            let groups = aws_logs::log_groups(&ctx, &hostclass_prefix(&env, hostclass)).await?;
            let rows: Vec<GroupRow> = groups
                .iter()
                .map(|g| GroupRow {
                    name: &g.name,
                    stored_bytes: g.stored_bytes,
                    size: size_mib(g.stored_bytes),
                })
                .collect();
            emit(global.output, &rows, |out: &mut dyn Write| {
                for r in &rows {
                    writeln!(out, "{:<40} {}", r.name, r.size)?;
                }
                Ok(())
            })
        }),
        LogMetricsCommand::Update { hostclass, dry_run } => {
            let rules = log_metric_rules(&ini, hostclass);
            aws_session::run(global, |ctx| async move {
                let plan = aws_logs::plan_update(&ctx, &env, hostclass, &rules).await?;
                print_plan(global, "log-metrics update", &plan, &[], *dry_run)?;
                if *dry_run {
                    return Ok(());
                }
                aws_logs::apply(&ctx, &plan, "log-metrics update").await?;
                super::alarms::done(global, &plan)
            })
        }
        LogMetricsCommand::Delete { hostclass, dry_run } => {
            aws_session::run(global, |ctx| async move {
                let plan = aws_logs::plan_delete(&ctx, &hostclass_prefix(&env, hostclass)).await?;
                print_plan(global, "log-metrics delete", &plan, &[], *dry_run)?;
                if *dry_run {
                    return Ok(());
                }
                if !plan.is_empty() && !asiaq_aws::alarms::is_sandbox(&ctx, &env).await? {
                    let question = format!("delete the log groups of {hostclass} in {env}");
                    crate::confirm::confirm(global, &question)?;
                }
                aws_logs::apply(&ctx, &plan, "log-metrics delete").await?;
                super::alarms::done(global, &plan)
            })
        }
    }
}
