//! Chaos (spec §4.17): the environment's groups as the core's selection sees them, and the
//! termination of the victims (the groups replace them).

use std::collections::BTreeMap;

use asiaq_core::chaos::{select_victims, ChaosGroup, ChaosInstance, ChaosOptions, Victim};

use super::env::EnvironmentNetwork;
use super::{groups, instances};
use crate::context::AwsContext;
use crate::error::AwsError;

/// The groups of `env`, with each hostclass's `chaos` option (`options`, by hostclass)
/// used where a group has no `chaos` tag. Instances leaving service are left out.
pub async fn chaos_groups(
    ctx: &AwsContext,
    env: &str,
    options: &BTreeMap<String, String>,
) -> Result<Vec<ChaosGroup>, AwsError> {
    Ok(groups::env_groups(ctx, env)
        .await?
        .into_iter()
        .map(|g| ChaosGroup {
            chaos_tag: g.tag("chaos").map(str::to_string),
            chaos_option: options.get(&g.hostclass).cloned(),
            desired_capacity: g.desired_capacity.max(0) as u32,
            instances: g
                .instances
                .iter()
                .filter(|i| !i.lifecycle_state.starts_with("Terminating"))
                .map(|i| ChaosInstance {
                    id: i.id.clone(),
                    availability_zone: i.availability_zone.clone(),
                })
                .collect(),
            name: g.name,
            hostclass: g.hostclass,
        })
        .collect())
}

/// Terminates the victims with EC2 TerminateInstances (routes to them deleted first), so
/// their groups replace them.
pub async fn kill(ctx: &AwsContext, vpc_id: &str, victims: &[Victim]) -> Result<(), AwsError> {
    let ids: Vec<String> = victims.iter().map(|v| v.instance_id.clone()).collect();
    instances::terminate(ctx, vpc_id, &ids).await
}

/// The environment `env` (which must exist) and the victims chosen among its groups
/// ([`chaos_groups`], then the core's [`select_victims`] with `rng`).
pub async fn choose(
    ctx: &AwsContext,
    env: &str,
    options: &BTreeMap<String, String>,
    opts: &ChaosOptions,
    rng: &mut impl rand::Rng,
) -> Result<(EnvironmentNetwork, Vec<Victim>), AwsError> {
    let (network, groups) = futures::try_join!(
        super::env::require(ctx, env),
        chaos_groups(ctx, env, options)
    )?;
    Ok((network, select_victims(&groups, opts, rng)))
}
