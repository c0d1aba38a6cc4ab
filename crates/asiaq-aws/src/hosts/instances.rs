//! Instances of an environment: reading them (listhosts), choosing them by selector
//! (`--instance/--hostname/--hostclass/--ami/--asg`), terminating, stopping, tagging and
//! smoke-testing them.

use std::collections::{BTreeMap, BTreeSet};

use asiaq_core::hosts::{
    listhosts_order, long_running_amis, needs_promotion, smoke_status, HostInfo, SmokeStatus,
};
use aws_sdk_ec2::types::{Filter, Instance, Tag};

use super::env::EnvironmentNetwork;
use super::{ec2_tag_map, filter};
use crate::context::AwsContext;
use crate::error::AwsError;

/// States of instances that still exist.
pub const LIVE_STATES: [&str; 5] = ["pending", "running", "shutting-down", "stopping", "stopped"];

/// How instances are chosen (one kind per command, repeatable values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    Instance(Vec<String>),
    Hostname(Vec<String>),
    Hostclass(Vec<String>),
    Ami(Vec<String>),
    Asg(Vec<String>),
}

/// One selector per kind given (values not empty), in the original's order: instances,
/// hostclasses, AMIs, groups, hostnames.
pub fn selectors(
    instance: &[String],
    hostclass: &[String],
    ami: &[String],
    asg: &[String],
    hostname: &[String],
) -> Vec<Selector> {
    [
        (Selector::Instance as fn(Vec<String>) -> Selector, instance),
        (Selector::Hostclass, hostclass),
        (Selector::Ami, ami),
        (Selector::Asg, asg),
        (Selector::Hostname, hostname),
    ]
    .into_iter()
    .filter(|(_, values)| !values.is_empty())
    .map(|(kind, values)| kind(values.to_vec()))
    .collect()
}

impl Selector {
    fn filter(&self) -> Option<Filter> {
        let (name, values) = match self {
            Selector::Instance(_) => return None,
            Selector::Hostname(v) => ("tag:hostname", v),
            Selector::Hostclass(v) => ("tag:hostclass", v),
            Selector::Ami(v) => ("image-id", v),
            Selector::Asg(v) => ("tag:aws:autoscaling:groupName", v),
        };
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        Some(filter(name, &refs))
    }
}

/// Converts an SDK instance.
pub fn host_info(i: &Instance) -> HostInfo {
    let mut enis: Vec<(i32, String)> = i
        .network_interfaces()
        .iter()
        .filter_map(|n| {
            Some((
                n.attachment().and_then(|a| a.device_index()).unwrap_or(0),
                n.private_ip_address()?.to_string(),
            ))
        })
        .collect();
    enis.sort();
    HostInfo {
        id: i.instance_id().unwrap_or_default().to_string(),
        state: i
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_string())
            .unwrap_or_default(),
        tags: ec2_tag_map(i.tags()),
        public_ip: i.public_ip_address().map(str::to_string),
        private_ips: enis.into_iter().map(|(_, ip)| ip).collect(),
        private_ip: i.private_ip_address().map(str::to_string),
        instance_type: i
            .instance_type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        image_id: i.image_id().unwrap_or_default().to_string(),
        launch_time: i.launch_time().map(|t| t.secs()),
        ami_creation_time: None,
        security_groups: i
            .security_groups()
            .iter()
            .filter_map(|g| g.group_name().map(str::to_string))
            .collect(),
        availability_zone: i
            .placement()
            .and_then(|p| p.availability_zone())
            .unwrap_or_default()
            .to_string(),
        subnet_id: i.subnet_id().map(str::to_string),
    }
}

/// Live instances of the VPC matching any of `selectors` (none when empty), each instance
/// once, in the order of the selectors: what the original's `isready` checked, whose
/// selectors add up instead of excluding each other.
pub async fn describe_union(
    ctx: &AwsContext,
    vpc_id: &str,
    selectors: &[Selector],
) -> Result<Vec<HostInfo>, AwsError> {
    let found =
        futures::future::try_join_all(selectors.iter().map(|s| describe(ctx, vpc_id, Some(s))))
            .await?;
    let mut seen = BTreeSet::new();
    Ok(found
        .into_iter()
        .flatten()
        .filter(|h| seen.insert(h.id.clone()))
        .collect())
}

/// Live instances of the VPC matching `selector` (all when `None`), paginated.
pub async fn describe(
    ctx: &AwsContext,
    vpc_id: &str,
    selector: Option<&Selector>,
) -> Result<Vec<HostInfo>, AwsError> {
    let mut out = Vec::new();
    let mut req = ctx
        .ec2()
        .describe_instances()
        .filters(filter("vpc-id", &[vpc_id]))
        .filters(filter("instance-state-name", &LIVE_STATES));
    if let Some(sel) = selector {
        if let Selector::Instance(ids) = sel {
            req = req.set_instance_ids(Some(ids.clone()));
        } else if let Some(f) = sel.filter() {
            req = req.filters(f);
        }
    }
    if !matches!(selector, Some(Selector::Instance(_))) {
        req = req.max_results(1000);
    }
    let mut pages = req.into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(p) => p,
            Err(e) => {
                let err = AwsError::call("ec2", "DescribeInstances", e);
                // Unknown ids: nothing to select rather than a failure.
                if err.code() == Some("InvalidInstanceID.NotFound") {
                    return Ok(out);
                }
                return Err(err);
            }
        };
        for r in page.reservations() {
            out.extend(r.instances().iter().map(host_info));
        }
    }
    Ok(out)
}

/// Fills `ami_creation_time` from the AMIs' name timestamps (or creation dates), one
/// DescribeImages call for all of them.
pub async fn add_ami_ages(ctx: &AwsContext, hosts: &mut [HostInfo]) -> Result<(), AwsError> {
    let ids: BTreeSet<String> = hosts.iter().map(|h| h.image_id.clone()).collect();
    if ids.is_empty() {
        return Ok(());
    }
    let images = match ctx
        .ec2()
        .describe_images()
        .set_image_ids(Some(ids.into_iter().collect()))
        .send()
        .await
    {
        Ok(o) => o.images.unwrap_or_default(),
        Err(e) => {
            let err = AwsError::call("ec2", "DescribeImages", e);
            // An AMI deregistered since launch: no age to show.
            if err.code().is_some_and(|c| c.starts_with("InvalidAMIID")) {
                Vec::new()
            } else {
                return Err(err);
            }
        }
    };
    let created: BTreeMap<String, i64> = images
        .iter()
        .filter_map(|img| {
            let id = img.image_id()?.to_string();
            let from_name = asiaq_core::ami::name_timestamp(img.name().unwrap_or_default());
            let t = if from_name > 0 {
                Some(from_name as i64)
            } else {
                img.creation_date().and_then(|d| {
                    aws_smithy_types::DateTime::from_str(
                        d,
                        aws_smithy_types::date_time::Format::DateTime,
                    )
                    .ok()
                    .map(|t| t.secs())
                })
            };
            Some((id, t?))
        })
        .collect();
    for h in hosts {
        h.ami_creation_time = created.get(&h.image_id).copied();
    }
    Ok(())
}

/// Deletes the VPC routes that send traffic to any of `ids` (an instance acting as a NAT or
/// router), as the original's terminate did.
pub async fn delete_instance_routes(
    ctx: &AwsContext,
    vpc_id: &str,
    ids: &[String],
) -> Result<usize, AwsError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let tables = ctx
        .ec2()
        .describe_route_tables()
        // Every table of the VPC, routes matched here: the `route.instance-id` filter is
        // not implemented by moto, and a VPC has few tables.
        .filters(filter("vpc-id", &[vpc_id]))
        .send()
        .await
        .map_err(|e| AwsError::call("ec2", "DescribeRouteTables", e))?
        .route_tables
        .unwrap_or_default();
    let mut deleted = 0;
    for t in &tables {
        for r in t.routes() {
            if r.instance_id().is_some_and(|i| ids.iter().any(|x| x == i)) {
                if let Some(cidr) = r.destination_cidr_block() {
                    match ctx
                        .ec2()
                        .delete_route()
                        .route_table_id(t.route_table_id().unwrap_or_default())
                        .destination_cidr_block(cidr)
                        .send()
                        .await
                    {
                        Ok(_) => deleted += 1,
                        Err(e) => {
                            let err = AwsError::call("ec2", "DeleteRoute", e);
                            if !err.is_not_found() {
                                return Err(err);
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(deleted)
}

/// Terminates instances (after deleting routes to them).
pub async fn terminate(ctx: &AwsContext, vpc_id: &str, ids: &[String]) -> Result<(), AwsError> {
    if ids.is_empty() {
        return Ok(());
    }
    delete_instance_routes(ctx, vpc_id, ids).await?;
    for chunk in ids.chunks(1000) {
        ctx.ec2()
            .terminate_instances()
            .set_instance_ids(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| AwsError::call("ec2", "TerminateInstances", e))?;
    }
    Ok(())
}

/// Stops instances.
pub async fn stop(ctx: &AwsContext, ids: &[String]) -> Result<(), AwsError> {
    for chunk in ids.chunks(1000) {
        ctx.ec2()
            .stop_instances()
            .set_instance_ids(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| AwsError::call("ec2", "StopInstances", e))?;
    }
    Ok(())
}

/// `tag`: removes `key` from the instances, then sets it to `value` when given.
pub async fn retag(
    ctx: &AwsContext,
    ids: &[String],
    key: &str,
    value: Option<&str>,
) -> Result<(), AwsError> {
    ctx.ec2()
        .delete_tags()
        .set_resources(Some(ids.to_vec()))
        .tags(Tag::builder().key(key).build())
        .send()
        .await
        .map_err(|e| AwsError::call("ec2", "DeleteTags", e))?;
    if let Some(value) = value {
        ctx.ec2()
            .create_tags()
            .set_resources(Some(ids.to_vec()))
            .tags(Tag::builder().key(key).value(value).build())
            .send()
            .await
            .map_err(|e| AwsError::call("ec2", "CreateTags", e))?;
    }
    Ok(())
}

/// The smoke status of each of `ids` (`smoketest_once`); an instance not found (yet) is not
/// ready.
pub async fn smoke_statuses(
    ctx: &AwsContext,
    ids: &[String],
) -> Result<Vec<(String, SmokeStatus)>, AwsError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut found: BTreeMap<String, HostInfo> = BTreeMap::new();
    for chunk in ids.chunks(200) {
        let out = match ctx
            .ec2()
            .describe_instances()
            .set_instance_ids(Some(chunk.to_vec()))
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) => {
                let err = AwsError::call("ec2", "DescribeInstances", e);
                if err.code() == Some("InvalidInstanceID.NotFound") {
                    continue;
                }
                return Err(err);
            }
        };
        for r in out.reservations() {
            for i in r.instances() {
                let h = host_info(i);
                found.insert(h.id.clone(), h);
            }
        }
    }
    Ok(ids
        .iter()
        .map(|id| {
            let status = match found.get(id) {
                Some(h) => smoke_status(&h.state, h.is_smoke_tested()),
                None => SmokeStatus::NotReady("not found yet".to_string()),
            };
            (id.clone(), status)
        })
        .collect())
}

/// Shares an image with `accounts` (launch permission) and records them in its
/// `shared_with_account_ids` tag (spec §4.9 prod sharing).
pub async fn share_image(ctx: &AwsContext, ami: &str, accounts: &[String]) -> Result<(), AwsError> {
    let mut perms = aws_sdk_ec2::types::LaunchPermissionModifications::builder();
    for acct in accounts {
        perms = perms.add(
            aws_sdk_ec2::types::LaunchPermission::builder()
                .user_id(acct)
                .build(),
        );
    }
    ctx.ec2()
        .modify_image_attribute()
        .image_id(ami)
        .launch_permission(perms.build())
        .send()
        .await
        .map_err(|e| AwsError::call("ec2", "ModifyImageAttribute", e))?;
    ctx.ec2()
        .create_tags()
        .resources(ami)
        .tags(
            Tag::builder()
                .key("shared_with_account_ids")
                .value(accounts.join(","))
                .build(),
        )
        .send()
        .await
        .map_err(|e| AwsError::call("ec2", "CreateTags", e))?;
    Ok(())
}

/// The environment `env` (which must exist) and its live instances matching `selector`
/// (all when `None`).
pub async fn select(
    ctx: &AwsContext,
    env: &str,
    selector: Option<&Selector>,
) -> Result<(EnvironmentNetwork, Vec<HostInfo>), AwsError> {
    let network = super::env::require(ctx, env).await?;
    let hosts = describe(ctx, &network.vpc_id, selector).await?;
    Ok((network, hosts))
}

/// `listhosts`: the live instances of `env` (of `hostclass` only, when given), with the
/// ages of their AMIs when `ami_ages`, in the original's order.
pub async fn listhosts(
    ctx: &AwsContext,
    env: &str,
    hostclass: Option<&str>,
    ami_ages: bool,
) -> Result<Vec<HostInfo>, AwsError> {
    let selector = hostclass.map(|h| Selector::Hostclass(vec![h.to_string()]));
    let (_, mut hosts) = select(ctx, env, selector.as_ref()).await?;
    if ami_ages {
        add_ami_ages(ctx, &mut hosts).await?;
    }
    listhosts_order(&mut hosts);
    Ok(hosts)
}

/// Terminates (after deleting routes to them) or stops instances of the VPC.
pub async fn terminate_or_stop(
    ctx: &AwsContext,
    vpc_id: &str,
    ids: &[String],
    terminate_them: bool,
) -> Result<(), AwsError> {
    if terminate_them {
        terminate(ctx, vpc_id, ids).await
    } else {
        stop(ctx, ids).await
    }
}

/// `isready`: the smoke status of every live instance of `env` matching any of
/// `selectors` (none when empty).
pub async fn readiness(
    ctx: &AwsContext,
    env: &str,
    selectors: &[Selector],
) -> Result<Vec<(String, SmokeStatus)>, AwsError> {
    let network = super::env::require(ctx, env).await?;
    let hosts = describe_union(ctx, &network.vpc_id, selectors).await?;
    let ids: Vec<String> = hosts.iter().map(|h| h.id.clone()).collect();
    smoke_statuses(ctx, &ids).await
}

/// What `promoterunning` shares, and with whom.
#[derive(Debug, Clone, Default)]
pub struct Promotion {
    /// Only AMIs whose youngest running instance is older than this.
    pub hours: u32,
    /// The last AMI stage.
    pub final_stage: String,
    /// `[bake] prod_baker`: only images it made (tag `baker`).
    pub prod_baker: Option<String>,
    pub prod_accounts: Vec<String>,
    /// Choose, share nothing.
    pub dry_run: bool,
}

/// `promoterunning`: shares the final-stage AMIs of the long-running instances of `env`
/// with the production accounts ([`asiaq_core::hosts::needs_promotion`]). Returns the ids
/// of the images shared (or, in a dry run, to share).
pub async fn promote_running(
    ctx: &AwsContext,
    env: &str,
    p: &Promotion,
) -> Result<Vec<String>, AwsError> {
    let (_, hosts) = select(ctx, env, None).await?;
    let old = long_running_amis(&hosts, super::now_unix(), p.hours);
    if old.is_empty() || p.prod_accounts.is_empty() {
        return Ok(Vec::new());
    }
    let query = crate::images::ImageQuery {
        ids: old,
        ..Default::default()
    };
    let mut promoted = Vec::new();
    for img in crate::images::describe_images(ctx, &query).await? {
        if !needs_promotion(
            &img,
            &p.final_stage,
            p.prod_baker.as_deref(),
            &p.prod_accounts,
        ) {
            continue;
        }
        if !p.dry_run {
            share_image(ctx, &img.id, &p.prod_accounts).await?;
        }
        promoted.push(img.id);
    }
    Ok(promoted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_of_the_kinds_given_in_the_original_order() {
        let v = |s: &str| vec![s.to_string()];
        assert_eq!(
            selectors(&[], &v("mhcweb"), &[], &v("ci_g"), &v("web-1")),
            [
                Selector::Hostclass(v("mhcweb")),
                Selector::Asg(v("ci_g")),
                Selector::Hostname(v("web-1"))
            ]
        );
        assert!(selectors(&[], &[], &[], &[], &[]).is_empty());
    }
}
