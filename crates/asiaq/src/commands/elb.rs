//! `asiaq elb` (disco_elb.py): the environment's classic load balancers.

use asiaq_aws::hosts::lb;
use asiaq_aws::hosts::spinup;
use asiaq_core::printout::Printout;
use asiaq_core::provision::elb_plan;
use clap::Subcommand;

use super::aws_session;
use super::hosts_env::{self, HostsConfig};
use crate::cli::GlobalArgs;
use crate::confirm::confirm;
use crate::exit::CliError;
use crate::output::{print, print_plan};

#[derive(Debug, Subcommand)]
pub enum ElbCommand {
    /// List the environment's load balancers: name, zones, id
    List,
    /// Create or update a hostclass's load balancer (and its CNAME)
    Update(ElbArgs),
    /// Create a hostclass's load balancer and its CNAME (updates it when it exists)
    Create(ElbArgs),
    /// Delete a hostclass's load balancer and the DNS records pointing at it (nothing to
    /// delete is not an error)
    Delete(ElbArgs),
}

#[derive(Debug, clap::Args)]
pub struct ElbArgs {
    #[arg(long, value_parser = crate::cli::hostclass_name)]
    hostclass: String,
    /// The testing load balancer (`<env>-<hostclass>-test`) of a deploy
    #[arg(long)]
    testing: bool,
    /// Show what would change without changing it
    #[arg(long)]
    dry_run: bool,
}

pub fn run(global: &GlobalArgs, cmd: &ElbCommand) -> Result<(), CliError> {
    let cfg = hosts_env::load(global)?;
    let args = match cmd {
        ElbCommand::List => return list(global, &cfg),
        ElbCommand::Delete(args) => return delete(global, &cfg, args),
        ElbCommand::Update(args) | ElbCommand::Create(args) => args,
    };
    let (hostclass, testing, dry_run) = (&args.hostclass, args.testing, args.dry_run);
    let settings = cfg.settings(hostclass)?;
    aws_session::run(global, |ctx| async move {
        let network = hosts_env::environment(&ctx, &cfg.env).await?;
        let facts = hosts_env::environment_settings(&cfg, &network, ctx.region(), None)?.facts;
        let plan = elb_plan(hostclass, testing, &settings, &facts)?.ok_or_else(|| {
            CliError::usage(format!("{hostclass} has no elb=True in disco_aws.ini"))
        })?;
        if dry_run {
            return print(global, plan.update_printout(None));
        }
        let (created, dns) = lb::update(&ctx, &plan, settings.domain_name.as_deref()).await?;
        print(global, plan.update_printout(Some((created, dns.as_str()))))
    })
}

/// `elb delete`: the hostclass's load balancer (found by its id, or by its human name as
/// the original's oldest ones were named) and every CNAME pointing at it, through the same
/// engine steps as a spindown. On an environment that is not a sandbox it asks first.
fn delete(global: &GlobalArgs, cfg: &HostsConfig, args: &ElbArgs) -> Result<(), CliError> {
    let human = asiaq_core::elb::human_name(&cfg.env, &args.hostclass, args.testing)
        .map_err(|e| CliError::usage(e.to_string()))?;
    aws_session::run(global, |ctx| async move {
        let (network, plan) = futures::try_join!(
            asiaq_aws::hosts::env::require(&ctx, &cfg.env),
            lb::hostclass_spindown(&ctx, &args.hostclass, &human),
        )?;
        let steps = plan.steps();
        if args.dry_run {
            return print_plan(global, "elb delete", &steps, &[], true);
        }
        if !steps.is_empty() && network.env_type.as_deref() != Some("sandbox") {
            let env = &cfg.env;
            let question = format!("delete the load balancer {human} of {env} and its DNS records");
            confirm(global, &question)?;
        }
        spinup::spindown(&ctx, &plan, 1).await?;
        let lines = lb::deleted_lines(&plan, &human);
        print(global, Printout::new(&plan.load_balancers, lines))
    })
}

fn list(global: &GlobalArgs, cfg: &HostsConfig) -> Result<(), CliError> {
    aws_session::run(global, |ctx| async move {
        let rows = lb::env_elbs(&ctx, &cfg.env).await?;
        print(global, lb::elbs_printout(&rows))
    })
}
