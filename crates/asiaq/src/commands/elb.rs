//! `asiaq elb` (disco_elb.py): the environment's classic load balancers.

use std::io::Write;

use asiaq_aws::hosts::lb;
use asiaq_core::provision::elb_plan;
use clap::Subcommand;

use super::aws_session;
use super::hosts_env::{self, HostsConfig};
use crate::cli::{GlobalArgs, OutputFormat};
use crate::exit::CliError;
use crate::output::emit;

#[derive(Debug, Subcommand)]
pub enum ElbCommand {
    /// List the environment's load balancers: name, zones, id
    List,
    /// Create or update a hostclass's load balancer (and its CNAME)
    Update {
        #[arg(long, value_parser = crate::cli::hostclass_name)]
        hostclass: String,
        #[arg(long)]
        testing: bool,
        #[arg(long)]
        dry_run: bool,
    },
}

pub fn run(global: &GlobalArgs, cmd: &ElbCommand) -> Result<(), CliError> {
    let cfg = hosts_env::load(global)?;
    let (hostclass, testing, dry_run) = match cmd {
        ElbCommand::List => return list(global, &cfg),
        ElbCommand::Update {
            hostclass,
            testing,
            dry_run,
        } => (hostclass, *testing, *dry_run),
    };
    let settings = cfg.settings(hostclass)?;
    aws_session::run(global, |ctx| async move {
        let network = hosts_env::environment(&ctx, &cfg.env).await?;
        let facts = hosts_env::environment_settings(&cfg, &network, ctx.region(), None)?.facts;
        let plan = elb_plan(hostclass, testing, &settings, &facts)?.ok_or_else(|| {
            CliError::usage(format!("{hostclass} has no elb=True in disco_aws.ini"))
        })?;
        let names = format!("{} ({})", plan.name, plan.human_name);
        if dry_run {
            return emit(global.output, &plan, |out: &mut dyn Write| {
                writeln!(out, "would create or update {names}")
            });
        }
        let (created, dns) = lb::update(&ctx, &plan, settings.domain_name.as_deref()).await?;
        let verb = if created { "created" } else { "updated" };
        emit(global.output, &plan, |out: &mut dyn Write| {
            writeln!(out, "{verb} {names} {dns}")
        })
    })
}

fn list(global: &GlobalArgs, cfg: &HostsConfig) -> Result<(), CliError> {
    aws_session::run(global, |ctx| async move {
        let rows = lb::env_elbs(&ctx, &cfg.env).await?;
        if global.output == OutputFormat::Text {
            eprintln!("{:<50} {:<33} ELB Id", "ELB Name", "Availability Zones");
        }
        emit(global.output, &rows, |out: &mut dyn Write| {
            for r in &rows {
                let zones = r.availability_zones.join(",");
                writeln!(out, "{:<50} {zones:<33} {}", r.name, r.id)?;
            }
            Ok(())
        })
    })
}
