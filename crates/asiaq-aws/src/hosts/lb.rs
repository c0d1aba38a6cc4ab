//! Load balancers of hostclasses (spec §4.10): classic ELBs with their health check,
//! attributes, stickiness, tags and Route53 CNAMEs, and ELBv2 target groups.

use std::collections::BTreeMap;

use asiaq_core::elb::{ElbPlan, Stickiness, TargetGroupPlan, STICKY_POLICY_NAME};
use aws_sdk_elasticloadbalancing::types::{
    ConnectionDraining, ConnectionSettings, CrossZoneLoadBalancing, HealthCheck, Listener,
    LoadBalancerAttributes, Tag,
};
use serde::Serialize;

use crate::context::AwsContext;
use crate::error::AwsError;
use crate::route53;
use asiaq_engine::report;

/// A classic load balancer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ElbInfo {
    pub name: String,
    pub dns_name: String,
    pub availability_zones: Vec<String>,
    pub subnets: Vec<String>,
    pub scheme: String,
    pub listener_ports: Vec<i32>,
    pub instances: Vec<String>,
    /// Names of its stickiness policies.
    pub sticky_policies: Vec<String>,
}

fn build_err(what: &str, e: impl std::fmt::Display) -> AwsError {
    AwsError::State(format!("cannot build {what}: {e}"))
}

/// The load balancer named `name`, if it exists.
pub async fn describe_elb(ctx: &AwsContext, name: &str) -> Result<Option<ElbInfo>, AwsError> {
    match ctx
        .elb()
        .describe_load_balancers()
        .load_balancer_names(name)
        .send()
        .await
    {
        Ok(o) => Ok(o.load_balancer_descriptions().first().map(elb_info)),
        Err(e) => {
            let err = AwsError::call("elasticloadbalancing", "DescribeLoadBalancers", e);
            if err.is_not_found() || err.code() == Some("LoadBalancerNotFound") {
                Ok(None)
            } else {
                Err(err)
            }
        }
    }
}

fn elb_info(d: &aws_sdk_elasticloadbalancing::types::LoadBalancerDescription) -> ElbInfo {
    let mut sticky = Vec::new();
    if let Some(p) = d.policies() {
        sticky.extend(
            p.lb_cookie_stickiness_policies()
                .iter()
                .filter_map(|x| x.policy_name().map(str::to_string)),
        );
        sticky.extend(
            p.app_cookie_stickiness_policies()
                .iter()
                .filter_map(|x| x.policy_name().map(str::to_string)),
        );
    }
    ElbInfo {
        name: d.load_balancer_name().unwrap_or_default().to_string(),
        dns_name: d.dns_name().unwrap_or_default().to_string(),
        availability_zones: d.availability_zones().to_vec(),
        subnets: d.subnets().to_vec(),
        scheme: d.scheme().unwrap_or_default().to_string(),
        listener_ports: d
            .listener_descriptions()
            .iter()
            .filter_map(|l| l.listener().map(|l| l.load_balancer_port()))
            .collect(),
        instances: d
            .instances()
            .iter()
            .filter_map(|i| i.instance_id().map(str::to_string))
            .collect(),
        sticky_policies: sticky,
    }
}

/// Every classic load balancer with its tags (for `elb list` and environment cleanup).
pub async fn all_elbs(
    ctx: &AwsContext,
) -> Result<Vec<(ElbInfo, BTreeMap<String, String>)>, AwsError> {
    let mut elbs = Vec::new();
    let mut pages = ctx.elb().describe_load_balancers().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| AwsError::call("elasticloadbalancing", "DescribeLoadBalancers", e))?;
        elbs.extend(page.load_balancer_descriptions().iter().map(elb_info));
    }
    let mut tags: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for chunk in elbs.chunks(20) {
        let out = ctx
            .elb()
            .describe_tags()
            .set_load_balancer_names(Some(chunk.iter().map(|e| e.name.clone()).collect()))
            .send()
            .await
            .map_err(|e| AwsError::call("elasticloadbalancing", "DescribeTags", e))?;
        for d in out.tag_descriptions() {
            tags.insert(
                d.load_balancer_name().unwrap_or_default().to_string(),
                d.tags()
                    .iter()
                    .map(|t| {
                        (
                            t.key().to_string(),
                            t.value().unwrap_or_default().to_string(),
                        )
                    })
                    .collect(),
            );
        }
    }
    Ok(elbs
        .into_iter()
        .map(|e| {
            let t = tags.remove(&e.name).unwrap_or_default();
            (e, t)
        })
        .collect())
}

/// The ARN of the TLS certificate for `name`: ACM first (exact name or a one-level `*.`
/// wildcard; the longest matching name wins, then the newest), then an IAM server
/// certificate of that name.
pub async fn find_certificate(ctx: &AwsContext, name: &str) -> Result<Option<String>, AwsError> {
    let mut best: Option<(usize, i64, String)> = None;
    let mut pages = ctx
        .acm()
        .list_certificates()
        .certificate_statuses(aws_sdk_acm::types::CertificateStatus::Issued)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::call("acm", "ListCertificates", e))?;
        for c in page.certificate_summary_list() {
            let Some(domain) = c.domain_name() else {
                continue;
            };
            let matches = domain == name
                || domain.strip_prefix("*.").is_some_and(|rest| {
                    name.split_once('.')
                        .is_some_and(|(_, parent)| parent == rest)
                });
            if matches {
                let issued = c.issued_at().map(|t| t.secs()).unwrap_or(0);
                let cand = (
                    domain.len(),
                    issued,
                    c.certificate_arn().unwrap_or_default().to_string(),
                );
                if best.as_ref().is_none_or(|b| (cand.0, cand.1) > (b.0, b.1)) {
                    best = Some(cand);
                }
            }
        }
    }
    if let Some((_, _, arn)) = best {
        return Ok(Some(arn));
    }
    match ctx
        .iam()
        .get_server_certificate()
        .server_certificate_name(name)
        .send()
        .await
    {
        Ok(o) => Ok(o
            .server_certificate()
            .and_then(|c| c.server_certificate_metadata())
            .map(|m| m.arn().to_string())),
        Err(e) => {
            let err = AwsError::call("iam", "GetServerCertificate", e);
            if err.is_not_found() {
                Ok(None)
            } else {
                Err(err)
            }
        }
    }
}

/// Creates the load balancer if it does not exist, then (re)applies its health check,
/// attributes, stickiness and tags. Returns whether it was created, and its DNS name.
pub async fn ensure_elb(
    ctx: &AwsContext,
    plan: &ElbPlan,
    certificate_arn: Option<&str>,
) -> Result<(bool, String), AwsError> {
    let existing = describe_elb(ctx, &plan.name).await?;
    let created = existing.is_none();
    let (dns_name, sticky_now) = match existing {
        Some(e) => (e.dns_name, e.sticky_policies),
        None => {
            report::note(format!(
                "creating load balancer {} ({})",
                plan.name, plan.human_name
            ));
            let mut req = ctx
                .elb()
                .create_load_balancer()
                .load_balancer_name(&plan.name)
                .set_subnets(Some(plan.subnet_ids.clone()))
                .set_security_groups(Some(plan.security_group_ids.clone()));
            if plan.internal {
                req = req.scheme("internal");
            }
            for l in &plan.listeners {
                let mut b = Listener::builder()
                    .protocol(&l.elb_protocol)
                    .load_balancer_port(i32::from(l.elb_port))
                    .instance_protocol(&l.instance_protocol)
                    .instance_port(i32::from(l.instance_port));
                if matches!(l.elb_protocol.as_str(), "HTTPS" | "SSL") {
                    b = b.set_ssl_certificate_id(certificate_arn.map(str::to_string));
                }
                req = req.listeners(b.build().map_err(|e| build_err("a listener", e))?);
            }
            for (k, v) in &plan.tags {
                req = req.tags(
                    Tag::builder()
                        .key(k)
                        .value(v)
                        .build()
                        .map_err(|e| build_err("a tag", e))?,
                );
            }
            let out = req
                .send()
                .await
                .map_err(|e| AwsError::call("elasticloadbalancing", "CreateLoadBalancer", e))?;
            (out.dns_name().unwrap_or_default().to_string(), Vec::new())
        }
    };
    if let Err(e) = configure_elb(ctx, plan, &sticky_now).await {
        // A load balancer this call created is not left half-configured: it goes again
        // (the caller's rollback never heard of it).
        if created {
            if let Err(undo) = delete_elb(ctx, &plan.name).await {
                report::note(format!(
                    "could not delete the new load balancer {} again: {undo}",
                    plan.name
                ));
            }
        }
        return Err(e);
    }
    Ok((created, dns_name))
}

/// Health check, attributes, stickiness and tags of an existing load balancer.
async fn configure_elb(
    ctx: &AwsContext,
    plan: &ElbPlan,
    sticky_now: &[String],
) -> Result<(), AwsError> {
    let name = plan.name.as_str();
    ctx.elb()
        .configure_health_check()
        .load_balancer_name(name)
        .health_check(
            HealthCheck::builder()
                .target(&plan.health_check_target)
                .interval(5)
                .timeout(4)
                .unhealthy_threshold(2)
                .healthy_threshold(2)
                .build()
                .map_err(|e| build_err("the health check", e))?,
        )
        .send()
        .await
        .map_err(|e| AwsError::call("elasticloadbalancing", "ConfigureHealthCheck", e))?;
    let attributes = LoadBalancerAttributes::builder()
        .cross_zone_load_balancing(
            CrossZoneLoadBalancing::builder()
                .enabled(plan.cross_zone)
                .build(),
        )
        .connection_draining(
            ConnectionDraining::builder()
                .enabled(plan.connection_draining > 0)
                .set_timeout(
                    (plan.connection_draining > 0).then_some(plan.connection_draining as i32),
                )
                .build(),
        )
        .connection_settings(
            ConnectionSettings::builder()
                .idle_timeout(plan.idle_timeout as i32)
                .build()
                .map_err(|e| build_err("the connection settings", e))?,
        )
        .build();
    ctx.elb()
        .modify_load_balancer_attributes()
        .load_balancer_name(name)
        .load_balancer_attributes(attributes)
        .send()
        .await
        .map_err(|e| AwsError::call("elasticloadbalancing", "ModifyLoadBalancerAttributes", e))?;

    // Stickiness: remove the policy if present, re-create it when configured.
    let ports: Vec<i32> = plan
        .listeners
        .iter()
        .map(|l| i32::from(l.elb_port))
        .collect();
    let has_policy = sticky_now.iter().any(|p| p == STICKY_POLICY_NAME);
    if has_policy {
        for port in &ports {
            ctx.elb()
                .set_load_balancer_policies_of_listener()
                .load_balancer_name(name)
                .load_balancer_port(*port)
                .set_policy_names(Some(Vec::new()))
                .send()
                .await
                .map_err(|e| {
                    AwsError::call(
                        "elasticloadbalancing",
                        "SetLoadBalancerPoliciesOfListener",
                        e,
                    )
                })?;
        }
        ctx.elb()
            .delete_load_balancer_policy()
            .load_balancer_name(name)
            .policy_name(STICKY_POLICY_NAME)
            .send()
            .await
            .map_err(|e| AwsError::call("elasticloadbalancing", "DeleteLoadBalancerPolicy", e))?;
    }
    if let Some(s) = &plan.stickiness {
        match s {
            Stickiness::LoadBalancerCookie => {
                ctx.elb()
                    .create_lb_cookie_stickiness_policy()
                    .load_balancer_name(name)
                    .policy_name(STICKY_POLICY_NAME)
                    .send()
                    .await
                    .map_err(|e| {
                        AwsError::call("elasticloadbalancing", "CreateLBCookieStickinessPolicy", e)
                    })?;
            }
            Stickiness::AppCookie(cookie) => {
                ctx.elb()
                    .create_app_cookie_stickiness_policy()
                    .load_balancer_name(name)
                    .policy_name(STICKY_POLICY_NAME)
                    .cookie_name(cookie)
                    .send()
                    .await
                    .map_err(|e| {
                        AwsError::call("elasticloadbalancing", "CreateAppCookieStickinessPolicy", e)
                    })?;
            }
        }
        for port in &ports {
            ctx.elb()
                .set_load_balancer_policies_of_listener()
                .load_balancer_name(name)
                .load_balancer_port(*port)
                .policy_names(STICKY_POLICY_NAME)
                .send()
                .await
                .map_err(|e| {
                    AwsError::call(
                        "elasticloadbalancing",
                        "SetLoadBalancerPoliciesOfListener",
                        e,
                    )
                })?;
        }
    }
    let mut tags = Vec::new();
    for (k, v) in &plan.tags {
        tags.push(
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| build_err("a tag", e))?,
        );
    }
    ctx.elb()
        .add_tags()
        .load_balancer_names(name)
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(|e| AwsError::call("elasticloadbalancing", "AddTags", e))?;
    Ok(())
}

/// Deletes a load balancer; already gone is fine.
pub async fn delete_elb(ctx: &AwsContext, name: &str) -> Result<(), AwsError> {
    match ctx
        .elb()
        .delete_load_balancer()
        .load_balancer_name(name)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => {
            let err = AwsError::call("elasticloadbalancing", "DeleteLoadBalancer", e);
            if err.is_not_found() {
                Ok(())
            } else {
                Err(err)
            }
        }
    }
}

/// The ARN of the target group named `name`, if it exists.
pub async fn target_group_arn(ctx: &AwsContext, name: &str) -> Result<Option<String>, AwsError> {
    match ctx
        .elbv2()
        .describe_target_groups()
        .names(name)
        .send()
        .await
    {
        Ok(o) => Ok(o
            .target_groups()
            .first()
            .and_then(|t| t.target_group_arn())
            .map(str::to_string)),
        Err(e) => {
            let err = AwsError::call("elasticloadbalancingv2", "DescribeTargetGroups", e);
            if err.is_not_found() || err.code() == Some("TargetGroupNotFound") {
                Ok(None)
            } else {
                Err(err)
            }
        }
    }
}

/// Creates the target group unless it exists. Returns (created, ARN).
pub async fn ensure_target_group(
    ctx: &AwsContext,
    plan: &TargetGroupPlan,
    vpc_id: &str,
) -> Result<(bool, String), AwsError> {
    if let Some(arn) = target_group_arn(ctx, &plan.name).await? {
        return Ok((false, arn));
    }
    report::note(format!("creating target group {}", plan.name));
    let mut req = ctx
        .elbv2()
        .create_target_group()
        .name(&plan.name)
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::from(
            plan.protocol.as_str(),
        ))
        .port(i32::from(plan.port))
        .vpc_id(vpc_id)
        .health_check_protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::from(
            plan.health_check_protocol.as_str(),
        ))
        .health_check_port(plan.health_check_port.to_string())
        .set_health_check_path(plan.health_check_path.clone());
    for (k, v) in &plan.tags {
        req = req.tags(
            aws_sdk_elasticloadbalancingv2::types::Tag::builder()
                .key(k)
                .value(v)
                .build(),
        );
    }
    let out = req
        .send()
        .await
        .map_err(|e| AwsError::call("elasticloadbalancingv2", "CreateTargetGroup", e))?;
    let arn = out
        .target_groups()
        .first()
        .and_then(|t| t.target_group_arn())
        .ok_or(AwsError::MissingField {
            service: "elasticloadbalancingv2",
            operation: "CreateTargetGroup",
            field: "TargetGroupArn",
        })?
        .to_string();
    Ok((true, arn))
}

/// Deletes a target group; already gone is fine.
pub async fn delete_target_group(ctx: &AwsContext, arn: &str) -> Result<(), AwsError> {
    match ctx
        .elbv2()
        .delete_target_group()
        .target_group_arn(arn)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => {
            let err = AwsError::call("elasticloadbalancingv2", "DeleteTargetGroup", e);
            if err.is_not_found() {
                Ok(())
            } else {
                Err(err)
            }
        }
    }
}

/// A load balancer as `elb list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ElbRow {
    /// Its human name ([`asiaq_core::elb::listed_name`]).
    pub name: String,
    pub availability_zones: Vec<String>,
    pub id: String,
    pub dns_name: String,
}

/// The load balancers of environment `env` (by their `environment` tag), sorted by name.
pub async fn env_elbs(ctx: &AwsContext, env: &str) -> Result<Vec<ElbRow>, AwsError> {
    let mut rows: Vec<ElbRow> = all_elbs(ctx)
        .await?
        .into_iter()
        .filter_map(|(e, tags)| {
            Some(ElbRow {
                name: asiaq_core::elb::listed_name(env, &e.name, &tags)?,
                availability_zones: e.availability_zones,
                id: e.name,
                dns_name: e.dns_name,
            })
        })
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(rows)
}

/// `elb update`: finds the certificate the plan needs (none found is an error before any
/// change), creates or updates the load balancer, then points its CNAME (and alias) at it
/// in the hosted zone of `domain`, when there is one. Returns whether the load balancer
/// was created, and its DNS name.
pub async fn update(
    ctx: &AwsContext,
    plan: &ElbPlan,
    domain: Option<&str>,
) -> Result<(bool, String), AwsError> {
    let certificate = if plan.needs_certificate() {
        let name = plan.certificate_name.clone().unwrap_or_default();
        let arn = find_certificate(ctx, &name).await?;
        Some(arn.ok_or_else(|| {
            AwsError::State(format!("no TLS certificate for {name:?} in ACM or IAM"))
        })?)
    } else {
        None
    };
    let (created, dns) = ensure_elb(ctx, plan, certificate.as_deref()).await?;
    if let (Some(domain), Some(cname)) = (domain, &plan.cname) {
        if let Some(zone) = route53::hosted_zone_id(ctx, domain).await? {
            for name in std::iter::once(cname).chain(&plan.alias) {
                route53::upsert_cname(ctx, &zone, name, &dns).await?;
            }
        }
    }
    Ok((created, dns))
}

/// What deleting a hostclass's load balancer (`human`: its human name) deletes, as a
/// spindown without groups: the load balancer, found by its id or, as the original's oldest
/// ones were named, by its human name, and the DNS records pointing at it. Nothing when it
/// does not exist.
pub async fn hostclass_spindown(
    ctx: &AwsContext,
    hostclass: &str,
    human: &str,
) -> Result<super::spinup::SpindownPlan, AwsError> {
    let mut load_balancers = Vec::new();
    for name in [asiaq_core::elb::elb_id(human), human.to_string()] {
        if let Some(e) = describe_elb(ctx, &name).await? {
            load_balancers.push((hostclass.to_string(), name, e.dns_name));
            break;
        }
    }
    Ok(super::spinup::SpindownPlan {
        load_balancers,
        ..super::spinup::SpindownPlan::default()
    })
}

/// What `elb delete` deleted (`plan`, from [`hostclass_spindown`]), one line per load
/// balancer, or that there was nothing to delete.
pub fn deleted_lines(plan: &super::spinup::SpindownPlan, human: &str) -> Vec<String> {
    if plan.load_balancers.is_empty() {
        return vec![format!("no load balancer {human}: nothing to delete")];
    }
    plan.load_balancers
        .iter()
        .map(|(_, name, dns)| format!("deleted {name} ({human}) {dns}"))
        .collect()
}

/// `elb list`: name, zones and id of each load balancer, under a header on stderr; JSON:
/// the rows.
pub fn elbs_printout(rows: &[ElbRow]) -> asiaq_core::printout::Printout {
    let header = format!("{:<50} {:<33} ELB Id", "ELB Name", "Availability Zones");
    let lines = rows
        .iter()
        .map(|r| {
            let zones = r.availability_zones.join(",");
            format!("{:<50} {zones:<33} {}", r.name, r.id)
        })
        .collect();
    asiaq_core::printout::Printout::new(&rows, lines).with_text_notes(vec![header])
}

#[cfg(test)]
mod printout_tests {
    use super::*;

    #[test]
    fn elb_listing_has_its_header_on_stderr() {
        let row = ElbRow {
            name: "ci-mhcweb".into(),
            availability_zones: vec!["us-east-1a".into(), "us-east-1b".into()],
            id: "abc".into(),
            dns_name: "abc.elb".into(),
        };
        let p = elbs_printout(&[row]);
        assert_eq!(
            p.text_notes,
            [format!(
                "{:<50} {:<33} ELB Id",
                "ELB Name", "Availability Zones"
            )]
        );
        assert_eq!(
            p.lines,
            [format!(
                "{:<50} {:<33} abc",
                "ci-mhcweb", "us-east-1a,us-east-1b"
            )]
        );
        assert_eq!(p.json[0]["dns_name"], "abc.elb");
    }
}
