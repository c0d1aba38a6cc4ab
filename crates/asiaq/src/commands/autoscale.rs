//! `asiaq autoscale` (disco_autoscale.py): the environment's autoscaling groups, their
//! launch templates (and legacy launch configurations: "configs") and scaling policies.

use std::io::Write;

use asiaq_aws::hosts::{autoscale, groups};
use asiaq_core::autoscale::{parse_step_adjustment, ScalingPolicySpec};
use clap::{ArgGroup, Args, Subcommand, ValueEnum};

use super::aws::confirm_destructive;
use super::aws_session;
use super::hosts_env;
use crate::cli::GlobalArgs;
use crate::exit::CliError;
use crate::output::{emit, print, print_deleted, write_lines};

#[derive(Debug, Subcommand)]
pub enum AutoscaleCommand {
    /// List the environment's groups: name, AMI, min, desired, max, count, type, testing
    Listgroups,
    /// Delete the environment's groups that have no instances (with their templates)
    Cleangroups {
        #[arg(long)]
        dry_run: bool,
    },
    /// Delete the groups of a hostclass, or one group by name
    Deletegroup(DeleteGroupArgs),
    /// List launch templates and legacy launch configurations: name, image
    Listconfigs,
    /// Delete launch templates and launch configurations no group uses
    Cleanconfigs {
        #[arg(long)]
        dry_run: bool,
    },
    /// Delete one launch template or launch configuration
    Deleteconfig {
        #[arg(long)]
        config: String,
        #[arg(long)]
        dry_run: bool,
    },
    /// List scaling policies
    Listpolicies(ListPoliciesArgs),
    /// Create or update a scaling policy
    Createpolicy(CreatePolicyArgs),
    /// Delete a scaling policy
    Deletepolicy {
        #[arg(long = "policy_name", alias = "policy-name")]
        policy_name: String,
        #[arg(long = "group_name", alias = "group-name")]
        group_name: String,
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("which").required(true).args(["hostclass", "name"])))]
pub struct DeleteGroupArgs {
    /// Terminate the group's instances too
    #[arg(long)]
    pub force: bool,
    #[arg(long, value_parser = crate::cli::hostclass_name)]
    pub hostclass: Option<String>,
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct ListPoliciesArgs {
    #[arg(long)]
    pub group_name: Option<String>,
    /// Repeatable
    #[arg(long = "policy-names")]
    pub policy_names: Vec<String>,
    /// Repeatable
    #[arg(long = "policy-types", value_enum)]
    pub policy_types: Vec<PolicyType>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyType {
    #[value(name = "SimpleScaling")]
    SimpleScaling,
    #[value(name = "StepScaling")]
    StepScaling,
}

impl PolicyType {
    fn as_str(self) -> &'static str {
        match self {
            PolicyType::SimpleScaling => "SimpleScaling",
            PolicyType::StepScaling => "StepScaling",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
// The variants are AWS's own adjustment type names.
#[allow(clippy::enum_variant_names)]
pub enum AdjustmentType {
    #[value(name = "ChangeInCapacity")]
    ChangeInCapacity,
    #[value(name = "ExactCapacity")]
    ExactCapacity,
    #[value(name = "PercentChangeInCapacity")]
    PercentChangeInCapacity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Aggregation {
    Average,
    Minimum,
    Maximum,
}

#[derive(Debug, Args)]
pub struct CreatePolicyArgs {
    #[arg(long)]
    pub group_name: String,
    #[arg(long)]
    pub policy_name: String,
    #[arg(long, value_enum)]
    pub policy_type: PolicyType,
    #[arg(long, value_enum)]
    pub adjustment_type: AdjustmentType,
    #[arg(long, allow_hyphen_values = true)]
    pub scaling_adjustment: Option<i32>,
    #[arg(long)]
    pub min_adjustment_magnitude: Option<i32>,
    #[arg(long, value_enum)]
    pub metric_aggregation_type: Option<Aggregation>,
    /// MetricIntervalLowerBound=..,MetricIntervalUpperBound=..,ScalingAdjustment=..
    /// (repeatable)
    #[arg(long = "step-adjustments", allow_hyphen_values = true)]
    pub step_adjustments: Vec<String>,
    #[arg(long, default_value_t = 600)]
    pub cooldown: i32,
    #[arg(long, default_value_t = 300)]
    pub estimated_instance_warmup: i32,
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(global: &GlobalArgs, cmd: &AutoscaleCommand) -> Result<(), CliError> {
    env_command(global, cmd)
}

fn policy_spec(a: &CreatePolicyArgs) -> Result<ScalingPolicySpec, CliError> {
    let steps = a.step_adjustments.iter().map(|s| {
        parse_step_adjustment(s).map_err(|e| CliError::usage(format!("--step-adjustments: {e}")))
    });
    let spec = ScalingPolicySpec {
        name: a.policy_name.clone(),
        policy_type: a.policy_type.as_str().to_string(),
        adjustment_type: format!("{:?}", a.adjustment_type),
        scaling_adjustment: a.scaling_adjustment,
        min_adjustment_magnitude: a.min_adjustment_magnitude,
        cooldown: Some(a.cooldown),
        metric_aggregation_type: a.metric_aggregation_type.map(|m| format!("{m:?}")),
        step_adjustments: steps.collect::<Result<_, _>>()?,
        estimated_instance_warmup: Some(a.estimated_instance_warmup),
    };
    spec.for_its_type().map_err(CliError::usage)
}

fn env_command(global: &GlobalArgs, cmd: &AutoscaleCommand) -> Result<(), CliError> {
    let cfg = hosts_env::load(global)?;
    aws_session::run(global, |ctx| async move {
        let env = cfg.env.as_str();
        match cmd {
            AutoscaleCommand::Listgroups => {
                let rows = autoscale::group_rows(&ctx, env).await?;
                if global.debug {
                    eprintln!("Name AMI min desired max count type is_testing");
                }
                let lines = rows.iter().map(autoscale::GroupRow::line).collect();
                emit(global.output, &rows, |out| write_lines(out, lines))
            }
            AutoscaleCommand::Cleangroups { dry_run } => {
                let deleted = autoscale::clean_groups(&ctx, env, *dry_run).await?;
                print_deleted(global.output, &deleted, *dry_run)
            }
            AutoscaleCommand::Deletegroup(a) => {
                let which = (a.name.as_deref(), a.hostclass.as_deref());
                let confirm = |network: &_, what: &str| confirm_destructive(global, network, what);
                let names =
                    autoscale::delete_groups(&ctx, env, which, a.force, a.dry_run, confirm).await?;
                print_deleted(global.output, &names, a.dry_run)
            }
            AutoscaleCommand::Listconfigs => {
                let rows = autoscale::configs(&ctx, env).await?;
                print(global, autoscale::configs_printout(&rows))
            }
            AutoscaleCommand::Cleanconfigs { dry_run } => {
                let deleted = autoscale::clean_configs(&ctx, env, *dry_run).await?;
                print_deleted(global.output, &deleted, *dry_run)
            }
            AutoscaleCommand::Deleteconfig { config, dry_run } => {
                autoscale::delete_config(&ctx, env, config, *dry_run).await?;
                print_deleted(global.output, std::slice::from_ref(config), *dry_run)
            }
            AutoscaleCommand::Createpolicy(a) => {
                let spec = policy_spec(a)?;
                if a.dry_run {
                    return emit(global.output, &spec, |out: &mut dyn Write| {
                        writeln!(out, "would put policy {} on {}", spec.name, a.group_name)
                    });
                }
                let arn = groups::put_policy(&ctx, &a.group_name, &spec).await?;
                emit(global.output, &arn, |out: &mut dyn Write| {
                    writeln!(out, "{arn}")
                })
            }
            AutoscaleCommand::Deletepolicy {
                policy_name,
                group_name,
                dry_run,
            } => {
                if *dry_run {
                    println!("would delete policy {policy_name} of {group_name}");
                    return Ok(());
                }
                groups::delete_policy(&ctx, group_name, policy_name).await?;
                Ok(())
            }
            AutoscaleCommand::Listpolicies(a) => {
                let types: Vec<String> = a
                    .policy_types
                    .iter()
                    .map(|t| t.as_str().to_string())
                    .collect();
                let group = a.group_name.as_deref();
                let list = groups::policies(&ctx, group, &a.policy_names, &types).await?;
                print(global, autoscale::policies_printout(&list))
            }
        }
    })
}
