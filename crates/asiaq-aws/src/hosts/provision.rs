//! Applying a [`HostclassPlan`]: load balancer, target group, floating interfaces, launch
//! template, autoscaling group, scaling policies and schedule, in that order. A failure
//! undoes what this run created (newest first), so a failed hostclass leaves nothing
//! half-made; an update that fails part-way can simply be re-run.

use std::net::Ipv4Addr;

use asiaq_core::provision::{GroupAction, HostclassPlan};
use asiaq_core::storage::BlockDevice;
use aws_sdk_autoscaling::types::LaunchTemplateSpecification;
use aws_sdk_ec2::types::{
    LaunchTemplateBlockDeviceMappingRequest, LaunchTemplateEbsBlockDeviceRequest,
    LaunchTemplateIamInstanceProfileSpecificationRequest,
    LaunchTemplateInstanceNetworkInterfaceSpecificationRequest,
    LaunchTemplateTagSpecificationRequest, RequestLaunchTemplateData, ResourceType,
};

use super::{filter, groups, lb};
use crate::context::AwsContext;
use crate::error::AwsError;
use crate::tags::{ec2_tag_spec, ec2_tags};
use crate::wait::resend_while_throttled;
use asiaq_engine::report;

/// Something this run created, to undo on failure.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Undo {
    Elb(String),
    Cname { zone: String, name: String },
    TargetGroup(String),
    Interface(String),
    Template(String),
    Group(String),
}

impl std::fmt::Display for Undo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Undo::Elb(n) => write!(f, "load balancer {n}"),
            Undo::Cname { name, .. } => write!(f, "DNS record {name}"),
            Undo::TargetGroup(a) => write!(f, "target group {a}"),
            Undo::Interface(i) => write!(f, "network interface {i}"),
            Undo::Template(i) => write!(f, "launch template {i}"),
            Undo::Group(n) => write!(f, "autoscaling group {n}"),
        }
    }
}

/// What provisioning one hostclass did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Provisioned {
    pub hostclass: String,
    pub group_name: String,
    pub created: bool,
    pub elb_dns_name: Option<String>,
}

/// Provisioning one hostclass failed.
#[derive(Debug, thiserror::Error)]
#[error("{hostclass}: {error}{}", rollback_note(.rolled_back, .rollback_errors, *.kept))]
pub struct ProvisionFailure {
    pub hostclass: String,
    pub error: AwsError,
    /// What was removed again.
    pub rolled_back: Vec<String>,
    /// Undo steps that failed themselves (the resource is still there).
    pub rollback_errors: Vec<String>,
    /// `--no-destroy`: nothing was undone.
    pub kept: bool,
}

fn rollback_note(done: &[String], failed: &[String], kept: bool) -> String {
    let mut s = String::new();
    if kept {
        s.push_str("; kept what was created (--no-destroy)");
    } else if !done.is_empty() {
        s.push_str(&format!("; removed again: {}", done.join(", ")));
    }
    if !failed.is_empty() {
        s.push_str(&format!("; COULD NOT remove: {}", failed.join("; ")));
    }
    s
}

/// Options of [`apply`].
#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    /// Do not undo on failure (`--no-destroy`).
    pub keep_on_failure: bool,
}

fn launch_template_data(plan: &HostclassPlan) -> RequestLaunchTemplateData {
    let user_data = aws_smithy_types::base64::encode(plan.user_data.render());
    let mut data = RequestLaunchTemplateData::builder()
        .image_id(&plan.ami_id)
        .instance_type(aws_sdk_ec2::types::InstanceType::from(
            plan.instance_type.as_str(),
        ))
        .user_data(user_data)
        .ebs_optimized(plan.ebs_optimized)
        .set_key_name(plan.key_name.clone())
        .set_block_device_mappings(Some(plan.block_devices.iter().map(block_device).collect()))
        .tag_specifications(
            LaunchTemplateTagSpecificationRequest::builder()
                .resource_type(ResourceType::Volume)
                .set_tags(Some(ec2_tags(&volume_tags(plan))))
                .build(),
        );
    if let Some(profile) = &plan.instance_profile {
        data = data.iam_instance_profile(
            LaunchTemplateIamInstanceProfileSpecificationRequest::builder()
                .name(profile)
                .build(),
        );
    }
    if plan.public_ip {
        // A public address needs an interface specification, which then carries the
        // security group; the group supplies the subnet.
        data = data.network_interfaces(
            LaunchTemplateInstanceNetworkInterfaceSpecificationRequest::builder()
                .device_index(0)
                .associate_public_ip_address(true)
                .delete_on_termination(true)
                .groups(&plan.security_group_id)
                .build(),
        );
    } else {
        data = data.security_group_ids(&plan.security_group_id);
    }
    data.build()
}

/// Volumes carry the hostclass, environment and product line (snapshots taken of them are
/// found by these).
fn volume_tags(plan: &HostclassPlan) -> Vec<(String, String)> {
    plan.tags
        .iter()
        .filter(|(k, _)| matches!(k.as_str(), "hostclass" | "environment" | "productline"))
        .cloned()
        .collect()
}

fn block_device(d: &BlockDevice) -> LaunchTemplateBlockDeviceMappingRequest {
    let mut b = LaunchTemplateBlockDeviceMappingRequest::builder().device_name(&d.device_name);
    if let Some(v) = &d.virtual_name {
        b = b.virtual_name(v);
    }
    if let Some(e) = &d.ebs {
        b = b.ebs(
            LaunchTemplateEbsBlockDeviceRequest::builder()
                .set_volume_size(e.size_gb.map(|s| s as i32))
                .set_snapshot_id(e.snapshot_id.clone())
                .set_volume_type(
                    e.volume_type
                        .as_deref()
                        .map(aws_sdk_ec2::types::VolumeType::from),
                )
                .set_iops(e.iops.map(|i| i as i32))
                .delete_on_termination(e.delete_on_termination)
                .set_encrypted(e.encrypted)
                .build(),
        );
    }
    b.build()
}

fn template_tags(plan: &HostclassPlan) -> Vec<(String, String)> {
    let mut t: Vec<(String, String)> = plan
        .tags
        .iter()
        .filter(|(k, _)| matches!(k.as_str(), "hostclass" | "environment" | "is_testing"))
        .cloned()
        .collect();
    t.push(("group_name".to_string(), plan.group_name.clone()));
    t
}

/// Ensures a floating interface exists for each static IP (the instance attaches it at
/// boot). Returns the ids of the interfaces created.
async fn ensure_interfaces(
    ctx: &AwsContext,
    plan: &HostclassPlan,
    vpc_id: &str,
    undo: &mut Vec<Undo>,
) -> Result<(), AwsError> {
    if plan.floating_ips.is_empty() {
        return Ok(());
    }
    let ips: Vec<String> = plan
        .floating_ips
        .iter()
        .map(|(ip, _)| ip.to_string())
        .collect();
    let refs: Vec<&str> = ips.iter().map(String::as_str).collect();
    let existing = ctx
        .ec2()
        .describe_network_interfaces()
        .filters(filter("vpc-id", &[vpc_id]))
        .filters(filter("addresses.private-ip-address", &refs))
        .send()
        .await
        .map_err(|e| AwsError::call("ec2", "DescribeNetworkInterfaces", e))?
        .network_interfaces
        .unwrap_or_default();
    let taken: Vec<Ipv4Addr> = existing
        .iter()
        .flat_map(|n| n.private_ip_addresses())
        .filter_map(|a| a.private_ip_address()?.parse().ok())
        .collect();
    for (ip, subnet) in &plan.floating_ips {
        if taken.contains(ip) {
            continue;
        }
        report::note(format!(
            "creating floating interface {ip} for {}",
            plan.hostclass
        ));
        let out = ctx
            .ec2()
            .create_network_interface()
            .subnet_id(subnet)
            .private_ip_address(ip.to_string())
            .groups(&plan.security_group_id)
            .description("floating interface")
            .tag_specifications(ec2_tag_spec(
                ResourceType::NetworkInterface,
                &[
                    (
                        "Name".to_string(),
                        format!("{}_{}", env_of(plan), plan.hostclass),
                    ),
                    ("hostclass".to_string(), plan.hostclass.clone()),
                    ("environment".to_string(), env_of(plan)),
                    ("floating".to_string(), "true".to_string()),
                ],
            ))
            .send()
            .await
            .map_err(|e| AwsError::call("ec2", "CreateNetworkInterface", e))?;
        if let Some(id) = out
            .network_interface()
            .and_then(|n| n.network_interface_id())
        {
            undo.push(Undo::Interface(id.to_string()));
        }
    }
    Ok(())
}

fn env_of(plan: &HostclassPlan) -> String {
    plan.user_data.environment_name.clone()
}

async fn load_balancer(
    ctx: &AwsContext,
    plan: &HostclassPlan,
    certificate_arn: Option<&str>,
    undo: &mut Vec<Undo>,
) -> Result<Option<String>, AwsError> {
    let Some(elb) = &plan.elb else {
        return Ok(None);
    };
    let (created, dns) = lb::ensure_elb(ctx, elb, certificate_arn).await?;
    if created {
        undo.push(Undo::Elb(elb.name.clone()));
    }
    if let Some(domain) = &plan.user_data.domain_name {
        if let Some(zone) = lb::hosted_zone_id(ctx, domain).await? {
            for name in elb.cname.iter().chain(elb.alias.iter()) {
                lb::upsert_cname(ctx, &zone, name, &dns).await?;
                if created {
                    undo.push(Undo::Cname {
                        zone: zone.clone(),
                        name: name.clone(),
                    });
                }
            }
        }
    }
    Ok(Some(dns))
}

/// Creates or updates the group's launch template; returns its id.
async fn launch_template(
    ctx: &AwsContext,
    plan: &HostclassPlan,
    undo: &mut Vec<Undo>,
) -> Result<String, AwsError> {
    let data = launch_template_data(plan);
    // A new group has a new name (`<env>_<hostclass>_<epoch>`), so its template cannot
    // exist unless an earlier run was killed between the two creations: create it straight
    // away (one call fewer on the critical path of every hostclass) and look the template
    // up only when AWS says the name is taken.
    if matches!(plan.action, GroupAction::Create { .. }) {
        let what = format!("the launch template {}", plan.group_name);
        match resend_while_throttled(&what, || create_launch_template(ctx, plan, data.clone()))
            .await
        {
            Ok(id) => {
                undo.push(Undo::Template(id.clone()));
                return Ok(id);
            }
            Err(e) if e.code() == Some(TEMPLATE_NAME_TAKEN) => {}
            Err(e) => return Err(e),
        }
    }
    if let Some(t) = groups::launch_template_by_name(ctx, &plan.group_name).await? {
        groups::add_default_version(
            ctx,
            &t.id,
            None,
            data,
            format!("{} {}", plan.hostclass, plan.ami_name),
        )
        .await?;
        return Ok(t.id);
    }
    let id = create_launch_template(ctx, plan, data).await?;
    undo.push(Undo::Template(id.clone()));
    Ok(id)
}

/// EC2's error code for a launch template name that is already in use.
const TEMPLATE_NAME_TAKEN: &str = "InvalidLaunchTemplateName.AlreadyExistsException";

async fn create_launch_template(
    ctx: &AwsContext,
    plan: &HostclassPlan,
    data: RequestLaunchTemplateData,
) -> Result<String, AwsError> {
    let out = ctx
        .ec2()
        .create_launch_template()
        .launch_template_name(&plan.group_name)
        .launch_template_data(data)
        .version_description(format!("{} {}", plan.hostclass, plan.ami_name))
        .tag_specifications(ec2_tag_spec(
            ResourceType::LaunchTemplate,
            &template_tags(plan),
        ))
        .send()
        .await
        .map_err(|e| AwsError::call("ec2", "CreateLaunchTemplate", e))?;
    let id = out
        .launch_template()
        .and_then(|t| t.launch_template_id())
        .ok_or(AwsError::MissingField {
            service: "ec2",
            operation: "CreateLaunchTemplate",
            field: "LaunchTemplateId",
        })?
        .to_string();
    Ok(id)
}

fn template_spec(id: &str) -> LaunchTemplateSpecification {
    LaunchTemplateSpecification::builder()
        .launch_template_id(id)
        .version("$Default")
        .build()
}

async fn create_or_update_group(
    ctx: &AwsContext,
    plan: &HostclassPlan,
    template_id: &str,
    target_group_arn: Option<&str>,
    undo: &mut Vec<Undo>,
) -> Result<bool, AwsError> {
    let subnets = plan.subnet_ids.join(",");
    let elb_names: Vec<String> = plan.elb.iter().map(|e| e.name.clone()).collect();
    let tg_arns: Vec<String> = target_group_arn.iter().map(|a| a.to_string()).collect();
    match &plan.action {
        GroupAction::Create { sizes } => {
            report::note(format!(
                "creating autoscaling group {} (min {}, desired {}, max {})",
                plan.group_name, sizes.min, sizes.desired, sizes.max
            ));
            let request = ctx
                .autoscaling()
                .create_auto_scaling_group()
                .auto_scaling_group_name(&plan.group_name)
                .launch_template(template_spec(template_id))
                .min_size(sizes.min as i32)
                .max_size(sizes.max as i32)
                .desired_capacity(sizes.desired as i32)
                .vpc_zone_identifier(&subnets)
                .set_load_balancer_names((!elb_names.is_empty()).then(|| elb_names.clone()))
                .set_target_group_arns((!tg_arns.is_empty()).then(|| tg_arns.clone()))
                .set_termination_policies(Some(plan.termination_policies.clone()))
                .set_tags(Some(groups::asg_tags(&plan.group_name, &plan.tags)));
            resend_while_throttled(&format!("the group {}", plan.group_name), || {
                let request = request.clone();
                async move {
                    request
                        .send()
                        .await
                        .map_err(|e| AwsError::call("autoscaling", "CreateAutoScalingGroup", e))
                }
            })
            .await?;
            undo.push(Undo::Group(plan.group_name.clone()));
            Ok(true)
        }
        GroupAction::Update { sizes, existing } => {
            report::note(format!("updating autoscaling group {}", plan.group_name));
            ctx.autoscaling()
                .update_auto_scaling_group()
                .auto_scaling_group_name(&plan.group_name)
                .launch_template(template_spec(template_id))
                .set_min_size(sizes.min.map(|n| n as i32))
                .set_max_size(sizes.max.map(|n| n as i32))
                .set_desired_capacity(sizes.desired.map(|n| n as i32))
                .vpc_zone_identifier(&subnets)
                .set_termination_policies(Some(plan.termination_policies.clone()))
                .send()
                .await
                .map_err(|e| AwsError::call("autoscaling", "UpdateAutoScalingGroup", e))?;
            ctx.autoscaling()
                .create_or_update_tags()
                .set_tags(Some(groups::asg_tags(&plan.group_name, &plan.tags)))
                .send()
                .await
                .map_err(|e| AwsError::call("autoscaling", "CreateOrUpdateTags", e))?;
            let attach: Vec<String> = elb_names
                .iter()
                .filter(|n| !existing.load_balancers.contains(n))
                .cloned()
                .collect();
            let detach: Vec<String> = existing
                .load_balancers
                .iter()
                .filter(|n| !elb_names.contains(n))
                .cloned()
                .collect();
            if !attach.is_empty() {
                ctx.autoscaling()
                    .attach_load_balancers()
                    .auto_scaling_group_name(&plan.group_name)
                    .set_load_balancer_names(Some(attach))
                    .send()
                    .await
                    .map_err(|e| AwsError::call("autoscaling", "AttachLoadBalancers", e))?;
            }
            if !detach.is_empty() {
                ctx.autoscaling()
                    .detach_load_balancers()
                    .auto_scaling_group_name(&plan.group_name)
                    .set_load_balancer_names(Some(detach))
                    .send()
                    .await
                    .map_err(|e| AwsError::call("autoscaling", "DetachLoadBalancers", e))?;
            }
            let tg_attach: Vec<String> = tg_arns
                .iter()
                .filter(|a| !existing.target_group_arns.contains(a))
                .cloned()
                .collect();
            let tg_detach: Vec<String> = existing
                .target_group_arns
                .iter()
                .filter(|a| !tg_arns.contains(a))
                .cloned()
                .collect();
            if !tg_attach.is_empty() {
                ctx.autoscaling()
                    .attach_load_balancer_target_groups()
                    .auto_scaling_group_name(&plan.group_name)
                    .set_target_group_arns(Some(tg_attach))
                    .send()
                    .await
                    .map_err(|e| {
                        AwsError::call("autoscaling", "AttachLoadBalancerTargetGroups", e)
                    })?;
            }
            if !tg_detach.is_empty() {
                ctx.autoscaling()
                    .detach_load_balancer_target_groups()
                    .auto_scaling_group_name(&plan.group_name)
                    .set_target_group_arns(Some(tg_detach))
                    .send()
                    .await
                    .map_err(|e| {
                        AwsError::call("autoscaling", "DetachLoadBalancerTargetGroups", e)
                    })?;
            }
            Ok(false)
        }
    }
}

/// Provisions one hostclass. `certificate_arn` is the TLS certificate of its HTTPS/SSL
/// listeners (looked up beforehand).
pub async fn apply(
    ctx: &AwsContext,
    plan: &HostclassPlan,
    vpc_id: &str,
    certificate_arn: Option<&str>,
    opts: &ApplyOptions,
) -> Result<Provisioned, ProvisionFailure> {
    let mut undo = Vec::new();
    let result = apply_steps(ctx, plan, vpc_id, certificate_arn, &mut undo).await;
    match result {
        Ok(p) => Ok(p),
        Err(error) => {
            if opts.keep_on_failure {
                return Err(ProvisionFailure {
                    hostclass: plan.hostclass.clone(),
                    error,
                    rolled_back: Vec::new(),
                    rollback_errors: Vec::new(),
                    kept: true,
                });
            }
            let (rolled_back, rollback_errors) = rollback(ctx, undo).await;
            Err(ProvisionFailure {
                hostclass: plan.hostclass.clone(),
                error,
                rolled_back,
                rollback_errors,
                kept: false,
            })
        }
    }
}

async fn apply_steps(
    ctx: &AwsContext,
    plan: &HostclassPlan,
    vpc_id: &str,
    certificate_arn: Option<&str>,
    undo: &mut Vec<Undo>,
) -> Result<Provisioned, AwsError> {
    let elb_dns_name = load_balancer(ctx, plan, certificate_arn, undo).await?;
    let tg_arn = match &plan.target_group {
        Some(tg) => {
            let (created, arn) = lb::ensure_target_group(ctx, tg, vpc_id).await?;
            if created {
                undo.push(Undo::TargetGroup(arn.clone()));
            }
            Some(arn)
        }
        None => None,
    };
    ensure_interfaces(ctx, plan, vpc_id, undo).await?;
    let template_id = launch_template(ctx, plan, undo).await?;
    let created = create_or_update_group(ctx, plan, &template_id, tg_arn.as_deref(), undo).await?;
    // The up and down policies and the schedule only need the group, not each other.
    let policies = futures::future::try_join_all(plan.policies.iter().map(|p| {
        let what = format!("a scaling policy of {}", plan.group_name);
        async move {
            resend_while_throttled(&what, || groups::put_policy(ctx, &plan.group_name, p)).await
        }
    }));
    let schedule = async {
        let existing = if created {
            Vec::new()
        } else {
            groups::recurring_actions(ctx, &plan.group_name).await?
        };
        if !plan.scheduled_actions.is_empty() || !existing.is_empty() {
            groups::replace_schedule(ctx, &plan.group_name, &plan.scheduled_actions, &existing)
                .await?;
        }
        Ok(())
    };
    futures::try_join!(policies, schedule)?;
    Ok(Provisioned {
        hostclass: plan.hostclass.clone(),
        group_name: plan.group_name.clone(),
        created,
        elb_dns_name,
    })
}

/// Undoes, newest first. Returns what was undone and what could not be.
async fn rollback(ctx: &AwsContext, undo: Vec<Undo>) -> (Vec<String>, Vec<String>) {
    let mut done = Vec::new();
    let mut failed = Vec::new();
    for u in undo.into_iter().rev() {
        let result = match &u {
            Undo::Group(name) => {
                let g = groups::GroupInfo {
                    name: name.clone(),
                    hostclass: String::new(),
                    min_size: 0,
                    max_size: 0,
                    desired_capacity: 0,
                    instances: Vec::new(),
                    launch_template_id: None,
                    launch_template_name: None,
                    launch_template_version: None,
                    launch_configuration: None,
                    load_balancers: Vec::new(),
                    target_group_arns: Vec::new(),
                    subnet_ids: Vec::new(),
                    tags: Default::default(),
                    termination_policies: Vec::new(),
                    status: None,
                };
                groups::delete_group(ctx, &g, true).await
            }
            Undo::Template(id) => groups::delete_launch_template(ctx, id).await,
            Undo::Interface(id) => match ctx
                .ec2()
                .delete_network_interface()
                .network_interface_id(id)
                .send()
                .await
            {
                Ok(_) => Ok(()),
                Err(e) => {
                    let err = AwsError::call("ec2", "DeleteNetworkInterface", e);
                    if err.is_not_found() {
                        Ok(())
                    } else {
                        Err(err)
                    }
                }
            },
            Undo::TargetGroup(arn) => lb::delete_target_group(ctx, arn).await,
            Undo::Cname { zone, name } => delete_cname(ctx, zone, name).await,
            Undo::Elb(name) => lb::delete_elb(ctx, name).await,
        };
        match result {
            Ok(()) => done.push(u.to_string()),
            Err(e) => failed.push(format!("{u}: {e}")),
        }
    }
    (done, failed)
}

/// Deletes the CNAME `name` of `zone` (whatever its value).
async fn delete_cname(ctx: &AwsContext, zone: &str, name: &str) -> Result<(), AwsError> {
    let out = ctx
        .route53()
        .list_resource_record_sets()
        .hosted_zone_id(zone)
        .start_record_name(name)
        .start_record_type(aws_sdk_route53::types::RrType::Cname)
        .max_items(1)
        .send()
        .await
        .map_err(|e| AwsError::call("route53", "ListResourceRecordSets", e))?;
    let want = format!("{}.", name.trim_end_matches('.'));
    let Some(set) = out
        .resource_record_sets()
        .iter()
        .find(|s| s.name() == want && s.r#type() == &aws_sdk_route53::types::RrType::Cname)
    else {
        return Ok(());
    };
    ctx.route53()
        .change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(
            aws_sdk_route53::types::ChangeBatch::builder()
                .changes(
                    aws_sdk_route53::types::Change::builder()
                        .action(aws_sdk_route53::types::ChangeAction::Delete)
                        .resource_record_set(set.clone())
                        .build()
                        .map_err(|e| AwsError::State(format!("cannot build a DNS change: {e}")))?,
                )
                .build()
                .map_err(|e| AwsError::State(format!("cannot build a DNS change: {e}")))?,
        )
        .send()
        .await
        .map_err(|e| AwsError::call("route53", "ChangeResourceRecordSets", e))?;
    Ok(())
}
