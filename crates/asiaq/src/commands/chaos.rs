//! `asiaq chaos` (disco_chaos.py): terminate random instances of the environment's
//! autoscaling groups, keeping `--retainage` percent of each group; opt out per hostclass
//! with the `chaos` option (the group's `chaos` tag).

use asiaq_aws::hosts::chaos;
use asiaq_core::chaos::{victims_printout, ChaosOptions};
use clap::Args;

use super::aws::confirm_destructive;
use super::aws_session;
use super::hosts_env;
use crate::cli::GlobalArgs;
use crate::exit::CliError;
use crate::output::print;

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
    let opts = ChaosOptions {
        level: a.level,
        retainage: a.retainage,
        hostclass: a.hostclass.clone(),
        availability_zone: a.az.clone(),
    };
    opts.check().map_err(CliError::usage)?;
    let cfg = hosts_env::load(global)?;
    let options = cfg.chaos_options();
    aws_session::run(global, |ctx| async move {
        let mut rng = rand::thread_rng();
        let (network, victims) = chaos::choose(&ctx, &cfg.env, &options, &opts, &mut rng).await?;
        print(global, victims_printout(&victims))?;
        if a.dry_run || victims.is_empty() {
            return Ok(());
        }
        let what = format!("Terminate {} instance(s) for chaos", victims.len());
        confirm_destructive(global, &network, &what)?;
        chaos::kill(&ctx, &network.vpc_id, &victims).await?;
        Ok(())
    })
}
