//! `asiaq autoscale` (disco_autoscale.py): the environment's autoscaling groups, their
//! launch templates (and legacy launch configurations: "configs") and scaling policies.

use std::collections::BTreeSet;
use std::io::Write;

use asiaq_aws::hosts::groups::{self, GroupInfo};
use asiaq_aws::{AwsContext, AwsError};
use asiaq_core::autoscale::{parse_step_adjustment, ScalingPolicySpec};
use asiaq_engine::report as progress;
use clap::{ArgGroup, Args, Subcommand, ValueEnum};
use serde::Serialize;

use super::aws::confirm_destructive;
use super::aws_session;
use super::hosts_env::{self, HostsConfig};
use crate::cli::GlobalArgs;
use crate::exit::CliError;
use crate::output::{emit, write_table};

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
    let steps = a
        .step_adjustments
        .iter()
        .map(|s| {
            parse_step_adjustment(s)
                .map_err(|e| CliError::usage(format!("--step-adjustments: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let step = a.policy_type == PolicyType::StepScaling;
    if step && steps.is_empty() {
        return Err(CliError::usage(
            "--policy-type StepScaling needs at least one --step-adjustments",
        ));
    }
    if !step && a.scaling_adjustment.is_none() {
        return Err(CliError::usage(
            "--policy-type SimpleScaling needs --scaling-adjustment",
        ));
    }
    Ok(ScalingPolicySpec {
        name: a.policy_name.clone(),
        policy_type: a.policy_type.as_str().to_string(),
        adjustment_type: format!("{:?}", a.adjustment_type),
        scaling_adjustment: if step { None } else { a.scaling_adjustment },
        min_adjustment_magnitude: a.min_adjustment_magnitude,
        cooldown: (!step).then_some(a.cooldown),
        metric_aggregation_type: a.metric_aggregation_type.map(|m| format!("{m:?}")),
        step_adjustments: steps,
        estimated_instance_warmup: step.then_some(a.estimated_instance_warmup),
    })
}

/// A group row of `listgroups`.
#[derive(Serialize)]
struct GroupRow {
    name: String,
    ami: String,
    min: i32,
    desired: i32,
    max: i32,
    count: usize,
    r#type: &'static str,
    is_testing: bool,
}

async fn group_image(ctx: &AwsContext, g: &GroupInfo) -> Result<String, AwsError> {
    if let Some(id) = &g.launch_template_id {
        return Ok(groups::launch_template_data(ctx, id)
            .await?
            .and_then(|d| d.image_id().map(str::to_string))
            .unwrap_or_else(|| "-".into()));
    }
    Ok("-".into())
}

/// A config row of `listconfigs`.
#[derive(Serialize)]
struct ConfigRow {
    name: String,
    image_id: String,
    kind: &'static str,
    in_use: bool,
}

async fn configs(ctx: &AwsContext, env: &str) -> Result<Vec<ConfigRow>, AwsError> {
    let (templates, lcs, groups) = futures::try_join!(
        groups::env_launch_templates(ctx, env),
        groups::env_launch_configs(ctx, env),
        groups::env_groups(ctx, env),
    )?;
    let used_t: BTreeSet<&str> = groups
        .iter()
        .flat_map(|g| g.launch_template_id.as_deref())
        .collect();
    let used_c: BTreeSet<&str> = groups
        .iter()
        .flat_map(|g| g.launch_configuration.as_deref())
        .collect();
    let mut rows = Vec::new();
    for t in &templates {
        let image = groups::launch_template_data(ctx, &t.id)
            .await?
            .and_then(|d| d.image_id().map(str::to_string))
            .unwrap_or_else(|| "-".into());
        rows.push(ConfigRow {
            name: t.name.clone(),
            image_id: image,
            kind: "launch-template",
            in_use: used_t.contains(t.id.as_str()),
        });
    }
    for c in &lcs {
        rows.push(ConfigRow {
            name: c.name.clone(),
            image_id: c.image_id.clone(),
            kind: "launch-configuration",
            in_use: used_c.contains(c.name.as_str()),
        });
    }
    Ok(rows)
}

async fn delete_config(ctx: &AwsContext, env: &str, name: &str) -> Result<(), CliError> {
    let templates = groups::env_launch_templates(ctx, env).await?;
    if let Some(t) = templates.iter().find(|t| t.name == name) {
        groups::delete_launch_template(ctx, &t.id).await?;
        return Ok(());
    }
    if groups::env_launch_configs(ctx, env)
        .await?
        .iter()
        .any(|c| c.name == name)
    {
        groups::delete_launch_config(ctx, name).await?;
        return Ok(());
    }
    Err(CliError::failed(format!(
        "no launch template or launch configuration {name} in environment {env}"
    )))
}

fn env_command(global: &GlobalArgs, cmd: &AutoscaleCommand) -> Result<(), CliError> {
    let cfg = HostsConfig::load(global)?;
    aws_session::run(global, |ctx| async move {
        let env = cfg.env.as_str();
        match cmd {
            AutoscaleCommand::Listgroups => {
                let gs = groups::env_groups(&ctx, env).await?;
                let mut rows = Vec::new();
                for g in &gs {
                    rows.push(GroupRow {
                        name: g.name.clone(),
                        ami: group_image(&ctx, g).await?,
                        min: g.min_size,
                        desired: g.desired_capacity,
                        max: g.max_size,
                        count: g.instances.len(),
                        r#type: "asg",
                        is_testing: g.is_testing(),
                    });
                }
                if global.debug {
                    eprintln!("Name AMI min desired max count type is_testing");
                }
                emit(global.output, &rows, |out: &mut dyn Write| {
                    for r in &rows {
                        writeln!(
                            out,
                            "{0} {1:21} {2:3} {3:3} {4:3} {5:3} {6:4} {7:10}",
                            r.name,
                            r.ami,
                            r.min,
                            r.desired,
                            r.max,
                            r.count,
                            r.r#type,
                            if r.is_testing { "y" } else { "n" }
                        )?;
                    }
                    Ok(())
                })
            }
            AutoscaleCommand::Cleangroups { dry_run } => {
                let gs = groups::env_groups(&ctx, env).await?;
                let mut deleted = Vec::new();
                for g in gs.iter().filter(|g| g.instances.is_empty()) {
                    if !dry_run {
                        groups::delete_group(&ctx, g, false).await?;
                    }
                    deleted.push(g.name.clone());
                }
                for g in gs.iter().filter(|g| !g.instances.is_empty()) {
                    progress::note(format!(
                        "{} is in use ({} instances); kept",
                        g.name,
                        g.instances.len()
                    ));
                }
                print_deleted(global, &deleted, *dry_run)
            }
            AutoscaleCommand::Deletegroup(a) => {
                let gs = groups::env_groups(&ctx, env).await?;
                let chosen: Vec<&GroupInfo> = gs
                    .iter()
                    .filter(|g| match (&a.name, &a.hostclass) {
                        (Some(n), _) => &g.name == n,
                        (None, Some(h)) => &g.hostclass == h,
                        _ => false,
                    })
                    .collect();
                if chosen.is_empty() {
                    return Err(CliError::failed(
                        "no matching autoscaling group in the environment",
                    ));
                }
                if !a.force {
                    if let Some(g) = chosen.iter().find(|g| !g.instances.is_empty()) {
                        return Err(CliError::failed(format!(
                            "{} has {} instances; use --force to terminate them with the group",
                            g.name,
                            g.instances.len()
                        )));
                    }
                }
                let names: Vec<String> = chosen.iter().map(|g| g.name.clone()).collect();
                if !a.dry_run {
                    let network = hosts_env::environment(&ctx, env).await?;
                    confirm_destructive(global, &network, &format!("Delete {}", names.join(", ")))?;
                    for g in chosen {
                        groups::delete_group(&ctx, g, a.force).await?;
                    }
                }
                print_deleted(global, &names, a.dry_run)
            }
            AutoscaleCommand::Listconfigs => {
                let rows = configs(&ctx, env).await?;
                emit(global.output, &rows, |out: &mut dyn Write| {
                    for r in &rows {
                        writeln!(out, "{:<24} {}", r.name, r.image_id)?;
                    }
                    Ok(())
                })
            }
            AutoscaleCommand::Cleanconfigs { dry_run } => {
                let rows = configs(&ctx, env).await?;
                let mut deleted = Vec::new();
                for r in rows.iter().filter(|r| !r.in_use) {
                    if !dry_run {
                        delete_config(&ctx, env, &r.name).await?;
                    }
                    deleted.push(r.name.clone());
                }
                for r in rows.iter().filter(|r| r.in_use) {
                    progress::note(format!("{} is in use; kept", r.name));
                }
                print_deleted(global, &deleted, *dry_run)
            }
            AutoscaleCommand::Deleteconfig { config, dry_run } => {
                let rows = configs(&ctx, env).await?;
                match rows.iter().find(|r| &r.name == config) {
                    None => Err(CliError::failed(format!(
                        "no launch template or launch configuration {config} in environment {env}"
                    ))),
                    Some(r) if r.in_use => Err(CliError::failed(format!(
                        "{config} is used by a group; delete the group first"
                    ))),
                    Some(_) => {
                        if !dry_run {
                            delete_config(&ctx, env, config).await?;
                        }
                        print_deleted(global, std::slice::from_ref(config), *dry_run)
                    }
                }
            }
            AutoscaleCommand::Createpolicy(a) => {
                let spec = policy_spec(a)?;
                {
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
                let list = groups::policies(&ctx, a.group_name.as_deref(), &a.policy_names, &types)
                    .await?;
                emit(global.output, &list, |out: &mut dyn Write| {
                    let mut rows = vec![[
                        "ASG",
                        "Name",
                        "Type",
                        "Adjustment Type",
                        "Scaling Adjustment",
                        "Min Adjustment",
                        "Cooldown",
                        "Step Adjustments",
                        "Warmup",
                        "Alarms",
                    ]
                    .map(str::to_string)
                    .to_vec()];
                    let o = |v: Option<i32>| v.map_or("-".to_string(), |n| n.to_string());
                    for p in &list {
                        rows.push(vec![
                            p.group.clone(),
                            p.name.clone(),
                            p.policy_type.clone(),
                            p.adjustment_type.clone(),
                            o(p.scaling_adjustment),
                            o(p.min_adjustment_magnitude),
                            o(p.cooldown),
                            if p.step_adjustments.is_empty() {
                                "-".into()
                            } else {
                                p.step_adjustments.join(",")
                            },
                            o(p.estimated_instance_warmup),
                            if p.alarms.is_empty() {
                                "-".into()
                            } else {
                                p.alarms.join(",")
                            },
                        ]);
                    }
                    write_table(out, &rows)
                })
            }
        }
    })
}

fn print_deleted(global: &GlobalArgs, names: &[String], dry_run: bool) -> Result<(), CliError> {
    emit(global.output, &names, |out: &mut dyn Write| {
        for n in names {
            writeln!(
                out,
                "{} {n}",
                if dry_run { "would delete" } else { "deleted" }
            )?;
        }
        Ok(())
    })
}
