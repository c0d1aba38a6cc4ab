//! Environments (`asiaq vpc`): observe, ask `asiaq_core::vpc` for a plan, execute it.
//!
//! A create that fails part-way deletes everything it made (found by the ownership tag
//! `asiaq:environment=<name>` and by the ids it recorded), then reports the failure.

pub mod execute;
pub mod listing;
pub mod observe;
pub mod peerings;
pub mod picture;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use asiaq_core::syntax::{NatGatewaySpec, PeeringEndpoint};
use asiaq_core::vpc::destroy::{plan_destroy, DestroyError};
use asiaq_core::vpc::peering::{resolve_connections, PeerableVpc};
use asiaq_core::vpc::plan::Plan;
use asiaq_core::vpc::reconcile::{
    plan_environment, EnvConfig, PeeringInputs, PlanContext, PlanError, PlanOutcome,
    StaticIpRequest,
};
use asiaq_core::vpc::state::{RouteTableInfo, VpcState};

use crate::context::AwsContext;
use crate::error::AwsError;
use asiaq_engine::report;

pub use execute::{execute, ExecError, ExecReport, DEFAULT_CONCURRENCY};
pub use peerings::{list_peerings, peering_steps};

/// Failures of the environment commands, each mapped to an exit code by the CLI.
#[derive(Debug, thiserror::Error)]
pub enum VpcError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The configuration cannot be applied to what exists (exit 2, nothing changed).
    #[error("{0}")]
    Plan(#[from] PlanError),
    #[error("{0}")]
    Destroy(#[from] DestroyError),
    #[error("VPC with same name already exists.")]
    Exists,
    /// A configuration the command needs does not load (exit 2, nothing changed).
    #[error("{0}")]
    Config(String),
    #[error("cannot resolve NTP server {host:?}: {reason}")]
    Ntp { host: String, reason: String },
    /// A plan failed part-way.
    #[error("{0}")]
    Exec(#[from] ExecError),
    /// A create failed part-way and what it made was deleted (or not: `rollback`).
    #[error("{failure}\n{rollback}")]
    CreateFailed {
        failure: ExecError,
        rollback: String,
    },
}

/// What a create or update needs besides disco_vpc.ini's environment.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    /// Hostclasses with static IPs (empty with `--skip-enis`).
    pub static_ips: Vec<StaticIpRequest>,
    /// `[peerings]` connections; `None` leaves peerings alone.
    pub peerings: Option<Vec<(PeeringEndpoint, PeeringEndpoint)>>,
    /// UTC time for the `create_date` tag.
    pub now: String,
}

impl Extras {
    /// Static IPs and peerings to apply, stamped with the current time.
    pub fn now(
        static_ips: Vec<StaticIpRequest>,
        peerings: Vec<(PeeringEndpoint, PeeringEndpoint)>,
    ) -> Self {
        Extras {
            static_ips,
            peerings: Some(peerings),
            now: now_iso(),
        }
    }
}

/// The current UTC time as the `create_date` tag has it (`2024-01-31T12:00:00Z`).
pub fn now_iso() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// A computed change, ready to print or to apply.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub state: VpcState,
    pub outcome: PlanOutcome,
}

async fn resolve_ntp(cfg: &mut EnvConfig) -> Result<(), VpcError> {
    let mut out = Vec::new();
    for host in &cfg.dhcp.ntp_servers {
        if host.parse::<Ipv4Addr>().is_ok() {
            out.push(host.clone());
            continue;
        }
        let addrs = tokio::net::lookup_host((host.as_str(), 123))
            .await
            .map_err(|e| VpcError::Ntp {
                host: host.clone(),
                reason: e.to_string(),
            })?;
        let ip = addrs
            .filter_map(|a| match a.ip() {
                std::net::IpAddr::V4(v4) => Some(v4),
                std::net::IpAddr::V6(_) => None,
            })
            .next()
            .ok_or_else(|| VpcError::Ntp {
                host: host.clone(),
                reason: "no IPv4 address".into(),
            })?;
        out.push(ip.to_string());
    }
    cfg.dhcp.ntp_servers = out;
    Ok(())
}

/// What the plan needs to know of the account, read in one round of concurrent describes.
/// With `refuse_existing`, a VPC already named `cfg.name` fails it with [`VpcError::Exists`]
/// (found in the same DescribeVpcs, so a create waits for no separate lookup).
async fn plan_context(
    ctx: &AwsContext,
    cfg: &EnvConfig,
    state: &VpcState,
    extras: &Extras,
    refuse_existing: bool,
) -> Result<PlanContext, VpcError> {
    let static_ips: Vec<Ipv4Addr> = cfg
        .nets
        .iter()
        .filter_map(|n| match &n.nat_gateways {
            NatGatewaySpec::Static(ips) => Some(ips.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    let (zones, vpcs, vgw, eips, topics) = futures::try_join!(
        observe::availability_zones(ctx),
        observe::all_vpcs(ctx),
        observe::find_vpn_gateway(ctx, &cfg.name),
        observe::addresses_by_ip(ctx, &static_ips),
        async {
            if cfg.notifications.is_empty() {
                Ok(Vec::new())
            } else {
                crate::alarms::observe_topics(ctx).await
            }
        },
    )?;
    if refuse_existing
        && vpcs
            .iter()
            .any(|(_, _, tags)| tags.get("Name") == Some(&cfg.name))
    {
        return Err(VpcError::Exists);
    }
    let peering = match &extras.peerings {
        None => None,
        Some(specs) => {
            let mut candidates = observe::peerable(&vpcs);
            let me = match state.vpc_id() {
                Some(id) => id.to_string(),
                None => {
                    candidates.push(PeerableVpc {
                        vpc_id: asiaq_core::vpc::plan::new_ref("vpc"),
                        name: cfg.name.clone(),
                        env_type: cfg.env_type.clone(),
                    });
                    asiaq_core::vpc::plan::new_ref("vpc")
                }
            };
            let connections = resolve_connections(specs, &candidates, Some(&me));
            let mut others: Vec<String> = connections
                .iter()
                .filter_map(|c| c.sides(&me).map(|(_, o)| o.vpc_id.clone()))
                .collect();
            for p in state.peerings.iter().filter(|p| p.is_live()) {
                others.push(p.other(&me).to_string());
            }
            others.sort();
            others.dedup();
            let peers = observe::observe_peers(ctx, &vpcs, &others).await?;
            Some(PeeringInputs { connections, peers })
        }
    };
    Ok(PlanContext {
        zones,
        occupied: vpcs.iter().map(|(_, c, _)| *c).collect(),
        now: extras.now.clone(),
        s3_service_name: format!("com.amazonaws.{}.s3", ctx.region()),
        vpn_gateway: vgw,
        static_eips: eips,
        static_ips: extras.static_ips.clone(),
        peering,
        topics,
    })
}

/// Plans the creation of environment `cfg.name`. Fails with [`VpcError::Exists`] when a
/// VPC already carries the name.
pub async fn prepare_create(
    ctx: &AwsContext,
    mut cfg: EnvConfig,
    extras: &Extras,
) -> Result<Prepared, VpcError> {
    resolve_ntp(&mut cfg).await?;
    let state = VpcState {
        name: cfg.name.clone(),
        ..VpcState::default()
    };
    let pctx = plan_context(ctx, &cfg, &state, extras, true).await?;
    let outcome = plan_environment(&cfg, &state, &pctx, &mut rand::thread_rng())?;
    Ok(Prepared { state, outcome })
}

/// Plans an update of the existing environment in VPC `vpc_id`.
pub async fn prepare_update(
    ctx: &AwsContext,
    vpc_id: &str,
    mut cfg: EnvConfig,
    extras: &Extras,
) -> Result<Prepared, VpcError> {
    resolve_ntp(&mut cfg).await?;
    let state = observe::observe_state(ctx, &cfg.name, Some(vpc_id), false).await?;
    let pctx = plan_context(ctx, &cfg, &state, extras, false).await?;
    let outcome = plan_environment(&cfg, &state, &pctx, &mut rand::thread_rng())?;
    Ok(Prepared { state, outcome })
}

/// Runs a create plan; on failure deletes everything the environment owns and returns
/// [`VpcError::CreateFailed`]. Returns the new VPC id.
pub async fn apply_create(
    ctx: &AwsContext,
    name: &str,
    plan: &Plan,
) -> Result<(String, ExecReport), VpcError> {
    match execute(ctx, plan, DEFAULT_CONCURRENCY).await {
        Ok(report) => {
            let id = report.created.get("vpc").cloned().unwrap_or_default();
            Ok((id, report))
        }
        Err(failure) => {
            report::note(format!(
                "creating {name} failed ({failure}); deleting what was created"
            ));
            let rollback = match rollback(ctx, name, &failure.created).await {
                Ok(n) => format!("rolled back: deleted the {n} resource(s) created for {name}"),
                Err(e) => format!(
                    "rollback did not finish ({e}); run `asiaq vpc destroy --name {name}` to delete the rest"
                ),
            };
            Err(VpcError::CreateFailed { failure, rollback })
        }
    }
}

/// Deletes everything of a failed create: the VPC it made (if any) with its content, and
/// everything tagged as owned by the environment. Returns the number of deletions.
pub async fn rollback(
    ctx: &AwsContext,
    name: &str,
    created: &BTreeMap<String, String>,
) -> Result<usize, VpcError> {
    let vpc = created.get("vpc").map(String::as_str);
    let mut state = observe::observe_state(ctx, name, vpc, false).await?;
    // Owned resources that the observation could not see by tag (untaggable at creation).
    if let Some(d) = created.get("dhcp") {
        if !state.dhcp_options.iter().any(|x| &x.id == d) {
            state
                .dhcp_options
                .push(asiaq_core::vpc::state::DhcpOptionsInfo {
                    id: d.clone(),
                    config: BTreeMap::new(),
                    tags: BTreeMap::from([(
                        asiaq_core::vpc::state::OWNER_TAG.to_string(),
                        name.to_string(),
                    )]),
                });
        }
    }
    let peer_tables = peer_route_tables(ctx, &state).await?;
    let plan = plan_destroy(&state, &peer_tables)?;
    let n = plan.len();
    execute(ctx, &plan, DEFAULT_CONCURRENCY).await?;
    Ok(n)
}

async fn peer_route_tables(
    ctx: &AwsContext,
    state: &VpcState,
) -> Result<Vec<RouteTableInfo>, AwsError> {
    let Some(me) = state.vpc_id() else {
        return Ok(Vec::new());
    };
    let others: Vec<String> = state
        .peerings
        .iter()
        .filter(|p| p.is_live())
        .map(|p| p.other(me).to_string())
        .collect();
    route_tables_of(ctx, &others).await
}

/// Every route table of the VPCs `vpc_ids` (none asked: none read).
pub(crate) async fn route_tables_of(
    ctx: &AwsContext,
    vpc_ids: &[String],
) -> Result<Vec<RouteTableInfo>, AwsError> {
    if vpc_ids.is_empty() {
        return Ok(Vec::new());
    }
    let refs: Vec<&str> = vpc_ids.iter().map(String::as_str).collect();
    let mut out = Vec::new();
    let mut pages = ctx
        .ec2()
        .describe_route_tables()
        .filters(crate::environment::filter("vpc-id", &refs))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::call("ec2", "DescribeRouteTables", e))?;
        out.extend(page.route_tables().iter().map(observe::route_table_info));
    }
    Ok(out)
}

/// Plans the destruction of the environment in `vpc_id`, as the original's destroy did
/// (spec §4.25): its autoscaling groups (with their launch templates), instances and load
/// balancers (with their CNAMEs) first, then the network. RDS instances and ElastiCache
/// clusters still stop it (they have their own commands).
pub async fn prepare_destroy(ctx: &AwsContext, name: &str, vpc_id: &str) -> Result<Plan, VpcError> {
    let state = observe::observe_state(ctx, name, Some(vpc_id), true).await?;
    let peer_tables = peer_route_tables(ctx, &state).await?;
    Ok(plan_destroy(&state, &peer_tables)?)
}
