//! `asiaq elb` (disco_elb.py): the environment's classic load balancers.

use std::io::Write;

use asiaq_aws::hosts::lb;
use asiaq_core::elb::{elb_id, human_name};
use asiaq_core::provision::elb_plan;
use clap::Subcommand;
use serde::Serialize;

use super::aws_session;
use super::hosts_env::{self, HostsConfig};
use crate::cli::GlobalArgs;
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

#[derive(Serialize)]
struct Row {
    name: String,
    availability_zones: Vec<String>,
    id: String,
    dns_name: String,
}

pub fn run(global: &GlobalArgs, cmd: &ElbCommand) -> Result<(), CliError> {
    let cfg = HostsConfig::load(global)?;
    let settings = match cmd {
        ElbCommand::Update { hostclass, .. } => Some(cfg.settings(hostclass)?),
        ElbCommand::List => None,
    };
    aws_session::run(global, |ctx| async move {
        match cmd {
            ElbCommand::List => {
                let mut rows: Vec<Row> = lb::all_elbs(&ctx)
                    .await?
                    .into_iter()
                    .filter(|(_, t)| t.get("environment") == Some(&cfg.env))
                    .map(|(e, t)| {
                        let hc = t.get("hostclass").cloned().unwrap_or_default();
                        let testing = t.get("is_testing").map(String::as_str) == Some("1");
                        let name = human_name(&cfg.env, &hc, testing)
                            .ok()
                            .filter(|h| elb_id(h) == e.name)
                            .unwrap_or_else(|| e.name.clone());
                        Row {
                            name,
                            availability_zones: e.availability_zones.clone(),
                            id: e.name.clone(),
                            dns_name: e.dns_name.clone(),
                        }
                    })
                    .collect();
                rows.sort_by(|a, b| a.name.cmp(&b.name));
                if global.output == crate::cli::OutputFormat::Text {
                    eprintln!("{:<50} {:<33} ELB Id", "ELB Name", "Availability Zones");
                }
                emit(global.output, &rows, |out: &mut dyn Write| {
                    for r in &rows {
                        writeln!(
                            out,
                            "{:<50} {:<33} {}",
                            r.name,
                            r.availability_zones.join(","),
                            r.id
                        )?;
                    }
                    Ok(())
                })
            }
            ElbCommand::Update {
                hostclass,
                testing,
                dry_run,
            } => {
                let settings = settings.ok_or_else(|| {
                    CliError::failed("the hostclass's settings were not loaded for update")
                })?;
                let network = hosts_env::environment(&ctx, &cfg.env).await?;
                let spec = cfg.vpc_spec(&network)?;
                let facts =
                    hosts_env::environment_facts(&cfg, &network, spec.as_ref(), ctx.region())?;
                let plan = elb_plan(hostclass, *testing, &settings, &facts)
                    .map_err(hosts_env::plan_error)?
                    .ok_or_else(|| {
                        CliError::usage(format!("{hostclass} has no elb=True in disco_aws.ini"))
                    })?;
                if *dry_run {
                    return emit(global.output, &plan, |out: &mut dyn Write| {
                        writeln!(
                            out,
                            "would create or update {} ({})",
                            plan.name, plan.human_name
                        )
                    });
                }
                let cert = if plan.needs_certificate() {
                    let name = plan.certificate_name.clone().unwrap_or_default();
                    Some(lb::find_certificate(&ctx, &name).await?.ok_or_else(|| {
                        CliError::failed(format!("no TLS certificate for {name:?} in ACM or IAM"))
                    })?)
                } else {
                    None
                };
                let (created, dns) = lb::ensure_elb(&ctx, &plan, cert.as_deref()).await?;
                if let (Some(domain), Some(cname)) = (&settings.domain_name, &plan.cname) {
                    if let Some(zone) = lb::hosted_zone_id(&ctx, domain).await? {
                        lb::upsert_cname(&ctx, &zone, cname, &dns).await?;
                        if let Some(alias) = &plan.alias {
                            lb::upsert_cname(&ctx, &zone, alias, &dns).await?;
                        }
                    }
                }
                emit(global.output, &plan, |out: &mut dyn Write| {
                    writeln!(
                        out,
                        "{} {} ({}) {dns}",
                        if created { "created" } else { "updated" },
                        plan.name,
                        plan.human_name
                    )
                })
            }
        }
    })
}
