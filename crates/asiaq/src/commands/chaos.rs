//! `asiaq chaos` (disco_chaos.py): terminate random instances of the environment's
//! autoscaling groups, keeping `--retainage` percent of each group; opt out per hostclass
//! with the `chaos` option (the group's `chaos` tag).

use std::io::Write;

use asiaq_aws::hosts::chaos;
use asiaq_core::chaos::{select_victims, ChaosOptions};
use clap::Args;

use super::aws::confirm_destructive;
use super::aws_session;
use super::hosts_env::{self, HostsConfig};
use crate::cli::GlobalArgs;
use crate::exit::CliError;
use crate::output::emit;

#[derive(Debug, Args)]
pub struct ChaosArgs {
    /// Percent of the instances of chaotic groups to terminate (at least one)
    #[arg(long, default_value_t = 1.0)]
    pub level: f64,
    /// Percent of each group's desired capacity that is never terminated
    #[arg(long, default_value_t = 0.0)]
    pub retainage: f64,
    /// Print the victims, terminate nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Terminate every instance of the environment in this availability zone (still keeping
    /// each group's retainage), instead of a random level-based draw
    #[arg(long, value_name = "ZONE")]
    pub az: Option<String>,
    /// Only groups of this hostclass
    #[arg(long, value_name = "HOSTCLASS", value_parser = crate::cli::hostclass_name)]
    pub hostclass: Option<String>,
}

pub fn run(global: &GlobalArgs, a: &ChaosArgs) -> Result<(), CliError> {
    if !(a.level > 0.0 && a.level <= 100.0) {
        return Err(CliError::usage(format!(
            "--level {}: expected a percentage above 0 and at most 100",
            a.level
        )));
    }
    if !(0.0..=100.0).contains(&a.retainage) {
        return Err(CliError::usage(format!(
            "--retainage {}: expected a percentage from 0 to 100",
            a.retainage
        )));
    }
    let cfg = HostsConfig::load(global)?;
    let options = cfg.chaos_options();
    let opts = ChaosOptions {
        level: a.level,
        retainage: a.retainage,
        hostclass: a.hostclass.clone(),
        availability_zone: a.az.clone(),
    };
    aws_session::run(global, |ctx| async move {
        let network = hosts_env::environment(&ctx, &cfg.env).await?;
        let groups = chaos::chaos_groups(&ctx, &cfg.env, &options).await?;
        let victims = select_victims(&groups, &opts, &mut rand::thread_rng());
        emit(global.output, &victims, |out: &mut dyn Write| {
            for v in &victims {
                writeln!(out, "{:<20} {}", v.hostclass, v.instance_id)?;
            }
            Ok(())
        })?;
        if a.dry_run || victims.is_empty() {
            return Ok(());
        }
        confirm_destructive(
            global,
            &network,
            &format!("Terminate {} instance(s) for chaos", victims.len()),
        )?;
        chaos::kill(&ctx, &network.vpc_id, &victims).await?;
        Ok(())
    })
}
