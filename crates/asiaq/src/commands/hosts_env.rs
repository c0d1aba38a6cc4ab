//! What the host commands (`aws`, `autoscale`, `chaos`, `snapshot`, `elb`) share: loading
//! the configuration for an environment (`asiaq_config::hosts`), observing the environment,
//! and what the configuration says about it once observed.

use asiaq_aws::hosts::env::EnvironmentNetwork;
use asiaq_aws::hosts::spinup::EnvironmentSettings;
use asiaq_aws::AwsContext;
pub use asiaq_config::hosts::HostsConfig;
use asiaq_config::hosts::{owner, Observed};
use asiaq_config::Diagnostic;
use asiaq_engine::report as progress;

use crate::cli::GlobalArgs;
use crate::exit::CliError;

/// Loads disco_aws.ini for `--env` (or its default environment). Exit 2 on problems.
pub fn load(global: &GlobalArgs) -> Result<HostsConfig, CliError> {
    Ok(HostsConfig::load(
        &global.asiaq_config,
        global.env.as_deref(),
    )?)
}

/// `value`, after reporting the configuration's `warnings` (of a pipeline).
pub fn warned<T>((value, warnings): (T, Vec<Diagnostic>)) -> T {
    for w in &warnings {
        progress::warn(w.located());
    }
    value
}

/// What the configuration says about the observed environment (the AMI stages: `stage`, a
/// comma list, else the environment's ami_stage). Exit 2 on problems.
pub fn environment_settings(
    cfg: &HostsConfig,
    network: &EnvironmentNetwork,
    region: &str,
    stage: Option<&str>,
) -> Result<EnvironmentSettings, CliError> {
    if network.env_type.is_none() {
        tracing::warn!(
            "VPC {} has no type tag: no ami_stage or credential_buckets from disco_vpc.ini",
            network.vpc_id
        );
    }
    let observed = Observed {
        env_type: network.env_type.as_deref(),
        environment_class: &network.environment_class,
        metanetworks: &network.metanetworks,
        region,
    };
    let operator = owner(|v| std::env::var(v).ok());
    let (facts, stages) = cfg.environment_facts(observed, operator, stage)?;
    Ok(EnvironmentSettings { facts, stages })
}

/// Observes the environment; it must exist (exit 1 otherwise).
pub async fn environment(ctx: &AwsContext, env: &str) -> Result<EnvironmentNetwork, CliError> {
    Ok(asiaq_aws::hosts::env::require(ctx, env).await?)
}
