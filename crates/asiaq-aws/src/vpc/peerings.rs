//! `vpc peerings`: list the region's peerings, create the configured ones that are missing,
//! and delete the ones asiaq made (never one it did not make).

use asiaq_core::syntax::PeeringEndpoint;
use asiaq_core::vpc::destroy::{deletable_peerings, plan_delete_peerings};
use asiaq_core::vpc::plan::{Action, Plan};
use asiaq_core::vpc::reconcile::EnvConfig;
use asiaq_core::vpc::state::PeeringInfo;

use super::{execute, observe, prepare_update, Extras, VpcError, DEFAULT_CONCURRENCY};
use crate::context::AwsContext;
use crate::environment::ObservedEnvironment;
use crate::error::AwsError;

/// Peerings of `vpc_id` (or of the region), any state.
pub async fn list_peerings(
    ctx: &AwsContext,
    vpc_id: Option<&str>,
) -> Result<Vec<asiaq_core::vpc::state::PeeringInfo>, AwsError> {
    let mut out = Vec::new();
    let filters: Vec<Option<aws_sdk_ec2::types::Filter>> = match vpc_id {
        Some(v) => vec![
            Some(crate::environment::filter(
                "requester-vpc-info.vpc-id",
                &[v],
            )),
            Some(crate::environment::filter("accepter-vpc-info.vpc-id", &[v])),
        ],
        None => vec![None],
    };
    for f in filters {
        let mut pages = ctx
            .ec2()
            .describe_vpc_peering_connections()
            .set_filters(f.map(|f| vec![f]))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| AwsError::call("ec2", "DescribeVpcPeeringConnections", e))?;
            for p in page.vpc_peering_connections() {
                let info = observe::peering_info(p);
                if !out
                    .iter()
                    .any(|x: &asiaq_core::vpc::state::PeeringInfo| x.id == info.id)
                {
                    out.push(info);
                }
            }
        }
    }
    Ok(out)
}

/// What `vpc peerings --delete` would do.
#[derive(Debug, Clone)]
pub struct DeletePeerings {
    pub plan: Plan,
    /// Live peerings in scope that asiaq did not make (no ownership tag): left alone.
    pub not_owned: Vec<String>,
}

impl DeletePeerings {
    /// One note per peering left alone.
    pub fn notes(&self) -> Vec<String> {
        self.not_owned
            .iter()
            .map(|id| {
                format!(
                    "{id}: not made by asiaq (no {} tag), left alone",
                    asiaq_core::vpc::state::OWNER_TAG
                )
            })
            .collect()
    }

    /// How many peerings the plan deletes (besides their routes).
    pub fn peerings_deleted(&self) -> usize {
        self.plan
            .steps
            .iter()
            .filter(|s| matches!(s.action, Action::DeletePeering { .. }))
            .count()
    }
}

/// Plans the deletion of the live peerings asiaq made (those of `vpc_id` when given) and
/// of the routes through them.
pub async fn prepare_delete_peerings(
    ctx: &AwsContext,
    vpc_id: Option<&str>,
) -> Result<DeletePeerings, VpcError> {
    let peerings = list_peerings(ctx, vpc_id).await?;
    let live: Vec<PeeringInfo> = deletable_peerings(&peerings, vpc_id);
    let not_owned = peerings
        .iter()
        .filter(|p| p.is_live() && !live.iter().any(|l| l.id == p.id))
        .map(|p| p.id.clone())
        .collect();
    let mut vpcs: Vec<String> = live
        .iter()
        .flat_map(|p| [p.requester_vpc_id.clone(), p.accepter_vpc_id.clone()])
        .collect();
    vpcs.sort();
    vpcs.dedup();
    let tables = super::route_tables_of(ctx, &vpcs).await?;
    Ok(DeletePeerings {
        plan: plan_delete_peerings(&live, &tables),
        not_owned,
    })
}

/// The environments `vpc peerings --create` brings in line: `target`, or every VPC of the
/// region that is an asiaq environment (tagged with a name and a type).
pub async fn peerable_environments(
    ctx: &AwsContext,
    target: Option<ObservedEnvironment>,
) -> Result<Vec<ObservedEnvironment>, AwsError> {
    if let Some(t) = target {
        return Ok(vec![t]);
    }
    let mut out = Vec::new();
    for (id, _, tags) in observe::all_vpcs(ctx).await? {
        if tags.contains_key("Name") && tags.contains_key("type") {
            if let Some(e) = crate::environment::find_environment_by_vpc_id(ctx, &id).await? {
                out.push(e);
            }
        }
    }
    Ok(out)
}

/// `vpc peerings --create`: the configured peerings missing for `target`, or for every
/// environment of the region ([`peerable_environments`], [`create_missing_peerings`]),
/// created now unless `dry_run`. Returns the plan (what ran, or would run first).
pub async fn create_peerings(
    ctx: &AwsContext,
    target: Option<ObservedEnvironment>,
    connections: &[(PeeringEndpoint, PeeringEndpoint)],
    config_of: impl Fn(&str, &str) -> Result<EnvConfig, String>,
    dry_run: bool,
) -> Result<Plan, VpcError> {
    let environments = peerable_environments(ctx, target).await?;
    let now = super::now_iso();
    create_missing_peerings(ctx, &environments, connections, config_of, &now, dry_run).await
}

/// Creates the configured peerings (and their routes) that are missing for each of
/// `environments`; `config_of(name, type)` reads an environment's configuration. Each
/// VPC's steps run before the next VPC is planned, so a peering made for one is seen (not
/// made twice) by the other. A configuration that does not load stops the command before
/// any change. With `dry_run`, nothing runs and the plan is what would run first.
pub async fn create_missing_peerings(
    ctx: &AwsContext,
    environments: &[ObservedEnvironment],
    connections: &[(PeeringEndpoint, PeeringEndpoint)],
    config_of: impl Fn(&str, &str) -> Result<EnvConfig, String>,
    now: &str,
    dry_run: bool,
) -> Result<Plan, VpcError> {
    let mut configs = Vec::new();
    for e in environments {
        let Some(env_type) = &e.env_type else {
            continue;
        };
        let config = config_of(&e.name, env_type).map_err(|reason| {
            VpcError::Config(format!(
                "cannot plan the peerings of {} ({}): {reason}",
                e.name, e.vpc_id
            ))
        })?;
        configs.push((e.vpc_id.clone(), config));
    }
    let mut steps = Vec::new();
    for (vpc_id, config) in configs {
        let extras = Extras {
            static_ips: Vec::new(),
            peerings: Some(connections.to_vec()),
            now: now.to_string(),
        };
        let prepared = prepare_update(ctx, &vpc_id, config, &extras).await?;
        let p = peering_steps(&prepared.outcome.plan)
            .retain(|a| !matches!(a, Action::DeletePeering { .. }));
        if !dry_run {
            execute(ctx, &p, DEFAULT_CONCURRENCY).await?;
        }
        steps.extend(p.steps);
    }
    let mut plan = Plan::default();
    for (i, mut s) in steps.into_iter().enumerate() {
        s.id = i;
        s.after.clear();
        plan.steps.push(s);
    }
    Ok(plan)
}

/// The peering steps of an environment plan: peerings and the routes through them.
pub fn peering_steps(plan: &Plan) -> Plan {
    plan.retain(|a| match a {
        Action::CreatePeering { .. } | Action::DeletePeering { .. } => true,
        Action::CreateRoute { target, .. } | Action::ReplaceRoute { target, .. } => {
            matches!(target, asiaq_core::vpc::state::RouteTarget::Peering(_))
        }
        _ => false,
    })
}
