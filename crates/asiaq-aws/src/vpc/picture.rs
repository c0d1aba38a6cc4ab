//! What the picture of an environment needs beyond its network state (`vpc show --format
//! html|svg|dot`): free addresses per subnet, the groups with their instances' type and
//! image (and the image's stage), the load balancers with the DNS names pointing at them,
//! and the names of peer environments. All observed at once; nothing is changed.

use std::collections::{BTreeMap, BTreeSet};

use asiaq_core::vpc::picture::{pending_changes, HostGroup, LoadBalancer, Observed, Picture};
use asiaq_core::vpc::reconcile::EnvConfig;
use asiaq_core::vpc::state::VpcState;

use crate::context::AwsContext;
use crate::error::AwsError;
use crate::hosts::{groups, instances, lb};
use crate::images::ami_info;
use crate::route53;

async fn free_ips(ctx: &AwsContext, vpc_id: &str) -> Result<BTreeMap<String, u32>, AwsError> {
    let mut out = BTreeMap::new();
    let mut pages = ctx
        .ec2()
        .describe_subnets()
        .filters(crate::hosts::filter("vpc-id", &[vpc_id]))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::call("ec2", "DescribeSubnets", e))?;
        for s in page.subnets() {
            if let (Some(id), Some(n)) = (s.subnet_id(), s.available_ip_address_count()) {
                out.insert(id.to_string(), n.max(0) as u32);
            }
        }
    }
    Ok(out)
}

/// The groups of `env`, each with the type and image of its first instance.
async fn host_groups(
    ctx: &AwsContext,
    env: &str,
    vpc_id: &str,
) -> Result<Vec<HostGroup>, AwsError> {
    let (groups, hosts) = futures::try_join!(
        groups::env_groups(ctx, env),
        instances::describe(ctx, vpc_id, None)
    )?;
    let images: BTreeSet<String> = hosts.iter().map(|h| h.image_id.clone()).collect();
    let stages: BTreeMap<String, String> = if images.is_empty() {
        BTreeMap::new()
    } else {
        ctx.ec2()
            .describe_images()
            .set_image_ids(Some(images.into_iter().collect()))
            .send()
            .await
            .map_err(|e| AwsError::call("ec2", "DescribeImages", e))?
            .images()
            .iter()
            .map(ami_info)
            .filter_map(|a| a.tags.get("stage").map(|s| (a.id.clone(), s.clone())))
            .collect()
    };
    Ok(groups
        .into_iter()
        .map(|g| {
            let first = g
                .instances
                .iter()
                .find_map(|i| hosts.iter().find(|h| h.id == i.id));
            let ami = first.map(|h| h.image_id.clone());
            HostGroup {
                name: g.name.clone(),
                hostclass: g.hostclass.clone(),
                min: g.min_size,
                desired: g.desired_capacity,
                max: g.max_size,
                instances: g.instances.len(),
                instance_type: first.map(|h| h.instance_type.clone()),
                stage: ami.as_ref().and_then(|a| stages.get(a).cloned()),
                ami,
                subnet_ids: g.subnet_ids.clone(),
                load_balancers: g.load_balancers.clone(),
            }
        })
        .collect())
}

/// The load balancers of `env`, each with the CNAMEs (in any hosted zone) pointing at it.
async fn load_balancers(ctx: &AwsContext, env: &str) -> Result<Vec<LoadBalancer>, AwsError> {
    let mut out: Vec<LoadBalancer> = lb::all_elbs(ctx)
        .await?
        .into_iter()
        .filter_map(|(e, tags)| {
            let name = asiaq_core::elb::listed_name(env, &e.name, &tags)?;
            Some(LoadBalancer {
                name,
                id: e.name,
                dns_name: e.dns_name,
                cnames: Vec::new(),
                subnet_ids: e.subnets,
            })
        })
        .collect();
    if out.is_empty() {
        return Ok(out);
    }
    for zone in route53::zones(ctx).await? {
        for set in route53::records(ctx, &zone.id).await? {
            if set.rtype != "CNAME" {
                continue;
            }
            for lb in out.iter_mut() {
                if set
                    .values
                    .iter()
                    .any(|v| asiaq_core::route53::same_name(v, &lb.dns_name))
                {
                    lb.cnames.push(set.name.clone());
                }
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The names and CIDRs of the VPCs `state` is peered with.
async fn peers(
    ctx: &AwsContext,
    state: &VpcState,
) -> Result<BTreeMap<String, (String, String)>, AwsError> {
    let Some(me) = state.vpc_id() else {
        return Ok(BTreeMap::new());
    };
    let others: BTreeSet<&str> = state.peerings.iter().map(|p| p.other(me)).collect();
    if others.is_empty() {
        return Ok(BTreeMap::new());
    }
    Ok(super::observe::all_vpcs(ctx)
        .await?
        .into_iter()
        .filter(|(id, _, _)| others.contains(id.as_str()))
        .map(|(id, cidr, tags)| {
            let name = tags.get("Name").cloned().unwrap_or_else(|| id.clone());
            (id, (name, cidr.to_string()))
        })
        .collect())
}

/// What the picture of environment `env` (VPC `vpc_id`, observed as `state`) shows besides
/// `state`.
pub async fn observe(
    ctx: &AwsContext,
    env: &str,
    vpc_id: &str,
    env_type: Option<String>,
    state: &VpcState,
) -> Result<Observed, AwsError> {
    let (free_ips, groups, load_balancers, peers) = futures::try_join!(
        free_ips(ctx, vpc_id),
        host_groups(ctx, env, vpc_id),
        load_balancers(ctx, env),
        peers(ctx, state)
    )?;
    Ok(Observed {
        env_type,
        free_ips,
        groups,
        load_balancers,
        peers,
        changes: None,
    })
}

/// The picture of the environment `found`: its network state and what [`observe`] adds;
/// with `update` (its configuration), the steps `vpc update` would take are marked.
pub async fn draw(
    ctx: &AwsContext,
    found: &crate::ObservedEnvironment,
    update: Option<(EnvConfig, super::Extras)>,
) -> Result<Picture, super::VpcError> {
    let state = super::observe::observe_state(ctx, &found.name, Some(&found.vpc_id), false).await?;
    let mut observed = observe(
        ctx,
        &found.name,
        &found.vpc_id,
        found.env_type.clone(),
        &state,
    )
    .await?;
    if let Some((cfg, extras)) = update {
        let prepared = super::prepare_update(ctx, &found.vpc_id, cfg, &extras).await?;
        observed.changes = Some(pending_changes(&prepared.outcome.plan));
    }
    Ok(Picture::new(&found.name, &state, &observed))
}
