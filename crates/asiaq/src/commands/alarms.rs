//! `asiaq alarms` (disco_alarms.py): the environment's SNS notification topics and the
//! CloudWatch alarms of its hostclasses, from disco_alarms.ini.

use std::io::Write;

use asiaq_aws::alarms as aws_alarms;
use asiaq_config::alarms::AlarmsIni;
use asiaq_config::ConfigDir;
use asiaq_core::plan::alarms::{deleted_count, list_rows, STATES};
use asiaq_core::plan::{Plan, PlanAction};
use asiaq_engine::report as progress;
use clap::Subcommand;

use super::aws_session;
use crate::cli::GlobalArgs;
use crate::confirm::confirm;
use crate::exit::CliError;
use crate::output::{emit, print_plan};

#[derive(Debug, Subcommand)]
pub enum AlarmsCommand {
    /// Create the environment's SNS topics ([notifications]) and subscribe their endpoints
    #[command(name = "update_notifications", alias = "update-notifications")]
    UpdateNotifications {
        /// Also delete the environment's other topics and the extra subscriptions
        #[arg(long)]
        delete: bool,
        /// Print the plan and change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Create or change the alarms of a hostclass that differ from disco_alarms.ini
    #[command(name = "update_metrics", alias = "update-metrics")]
    UpdateMetrics {
        #[arg(long)]
        hostclass: String,
        /// Also delete the hostclass's alarms that disco_alarms.ini no longer describes
        #[arg(long)]
        delete: bool,
        /// Print the plan (with each changed alarm's differences) and change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// List the environment's alarms with their state
    List {
        #[arg(long)]
        hostclass: Option<String>,
        /// Only the alarms in this state
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(STATES))]
        state: Option<String>,
    },
    /// Delete every alarm of the environment (not those of Elasticsearch domains)
    Delete {
        /// Print the plan and change nothing
        #[arg(long)]
        dry_run: bool,
    },
}

fn environment(global: &GlobalArgs) -> Result<(ConfigDir, String), CliError> {
    let dir = ConfigDir::new(&global.asiaq_config);
    dir.check()?;
    let env = dir
        .aws(global.env.as_deref())?
        .require_environment()
        .map_err(|e| CliError::from(e).with_hint("give --env ENV"))?
        .to_string();
    Ok((dir, env))
}

fn load(dir: &ConfigDir) -> Result<AlarmsIni, CliError> {
    let (ini, warnings) = AlarmsIni::load(dir)?;
    for w in &warnings {
        progress::warn(w.located());
    }
    Ok(ini)
}

pub fn run(global: &GlobalArgs, cmd: &AlarmsCommand) -> Result<(), CliError> {
    let (dir, env) = environment(global)?;
    match cmd {
        AlarmsCommand::UpdateNotifications { delete, dry_run } => {
            let topics = load(&dir)?.desired_topics(&env);
            aws_session::run(global, |ctx| async move {
                let plan = aws_alarms::plan_notifications(&ctx, &topics, &env, *delete).await?;
                let title = "alarms update_notifications";
                print_plan(global, title, &plan, &[], *dry_run)?;
                if *dry_run {
                    return Ok(());
                }
                aws_alarms::apply_notifications(&ctx, &plan).await?;
                done(global, &plan)
            })
        }
        AlarmsCommand::UpdateMetrics {
            hostclass,
            delete,
            dry_run,
        } => {
            let rules = load(&dir)?.rules_for(hostclass);
            aws_session::run(global, |ctx| async move {
                let u =
                    aws_alarms::plan_metrics(&ctx, &env, hostclass, &rules, None, *delete).await?;
                print_plan(global, "alarms update_metrics", &u.plan, &u.notes, *dry_run)?;
                if *dry_run {
                    return Ok(());
                }
                aws_alarms::apply_alarms(&ctx, &u.plan, "alarms update_metrics").await?;
                done(global, &u.plan)
            })
        }
        AlarmsCommand::List { hostclass, state } => {
            load(&dir)?;
            aws_session::run(global, |ctx| async move {
                let observed = aws_alarms::observe_alarms(&ctx).await?;
                let rows = list_rows(&observed, &env, hostclass.as_deref(), state.as_deref());
                emit(global.output, &rows, |out: &mut dyn Write| {
                    for r in &rows {
                        writeln!(
                            out,
                            "{:<60} {:<17} {} {}",
                            r.name, r.state, r.namespace, r.metric
                        )?;
                    }
                    Ok(())
                })
            })
        }
        AlarmsCommand::Delete { dry_run } => aws_session::run(global, |ctx| async move {
            let plan = aws_alarms::plan_env_delete(&ctx, &env).await?;
            print_plan(global, "alarms delete", &plan, &[], *dry_run)?;
            if *dry_run {
                return Ok(());
            }
            if !plan.is_empty() && !aws_alarms::is_sandbox(&ctx, &env).await? {
                let n = deleted_count(&plan);
                confirm(global, &format!("delete the {n} alarm(s) of {env}"))?;
            }
            aws_alarms::apply_alarms(&ctx, &plan, "alarms delete").await?;
            done(global, &plan)
        }),
    }
}

/// What a plan that ran did: `done: <step>` lines, or `no change`.
pub(crate) fn done<A: PlanAction>(global: &GlobalArgs, plan: &Plan<A>) -> Result<(), CliError> {
    #[derive(serde::Serialize)]
    struct Done {
        changed: Vec<String>,
    }
    let changed: Vec<String> = plan.steps.iter().map(|s| s.action.to_string()).collect();
    emit(
        global.output,
        &Done {
            changed: changed.clone(),
        },
        |out: &mut dyn Write| {
            if changed.is_empty() {
                writeln!(out, "no change")?;
            }
            for c in &changed {
                writeln!(out, "done: {c}")?;
            }
            Ok(())
        },
    )
}
