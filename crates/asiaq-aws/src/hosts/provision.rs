//! Applying a [`HostclassPlan`] through the plan/apply engine: the steps of
//! [`provision_plan`] (load balancer, DNS names, target group, floating interfaces and
//! launch template at once, then the autoscaling group, then its scaling policies and
//! schedule). A failure undoes what this run created (dependants first), so a failed
//! hostclass leaves nothing half-made; an update that fails part-way can simply be re-run.

use std::net::Ipv4Addr;
use std::sync::{Mutex, MutexGuard};

use asiaq_core::plan::provision::{provision_plan, ProvisionAction};
use asiaq_core::provision::{GroupAction, HostclassPlan};
use asiaq_core::storage::BlockDevice;
use asiaq_engine::{Apply, ExecOptions};
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
use crate::route53;
use crate::tags::{ec2_tag_spec, ec2_tags};
use asiaq_engine::report;

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
/// boot). Returns the ids of the interfaces created; when one creation fails after others,
/// the error carries the ids made so far, for the rollback.
async fn ensure_interfaces(
    ctx: &AwsContext,
    plan: &HostclassPlan,
    vpc_id: &str,
) -> Result<Vec<String>, AwsError> {
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
    let mut created = Vec::new();
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
            .map_err(|e| AwsError::call("ec2", "CreateNetworkInterface", e));
        match out {
            Ok(out) => created.extend(
                out.network_interface()
                    .and_then(|n| n.network_interface_id())
                    .map(str::to_string),
            ),
            Err(e) if created.is_empty() => return Err(e),
            Err(e) => return Err(e.after_creating(&created.join(","))),
        }
    }
    Ok(created)
}

fn env_of(plan: &HostclassPlan) -> String {
    plan.user_data.environment_name.clone()
}

/// Creates or updates the group's launch template; returns whether it created it, and its
/// id.
async fn launch_template(
    ctx: &AwsContext,
    plan: &HostclassPlan,
) -> Result<(bool, String), AwsError> {
    let data = launch_template_data(plan);
    // A new group has a new name (`<env>_<hostclass>_<epoch>`), so its template cannot
    // exist unless an earlier run was killed between the two creations: create it straight
    // away (one call fewer on the critical path of every hostclass) and look the template
    // up only when AWS says the name is taken.
    if matches!(plan.action, GroupAction::Create { .. }) {
        match create_launch_template(ctx, plan, data.clone()).await {
            Ok(id) => return Ok((true, id)),
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
        return Ok((false, t.id));
    }
    Ok((true, create_launch_template(ctx, plan, data).await?))
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

async fn create_group(
    ctx: &AwsContext,
    plan: &HostclassPlan,
    template_id: &str,
    target_group_arn: Option<&str>,
) -> Result<(), AwsError> {
    let GroupAction::Create { sizes } = &plan.action else {
        return Err(AwsError::State(format!(
            "{}: the group is to be updated, not created",
            plan.group_name
        )));
    };
    let elb_names: Vec<String> = plan.elb.iter().map(|e| e.name.clone()).collect();
    let tg_arns: Vec<String> = target_group_arn.iter().map(|a| a.to_string()).collect();
    ctx.autoscaling()
        .create_auto_scaling_group()
        .auto_scaling_group_name(&plan.group_name)
        .launch_template(template_spec(template_id))
        .min_size(sizes.min as i32)
        .max_size(sizes.max as i32)
        .desired_capacity(sizes.desired as i32)
        .vpc_zone_identifier(plan.subnet_ids.join(","))
        .set_load_balancer_names((!elb_names.is_empty()).then_some(elb_names))
        .set_target_group_arns((!tg_arns.is_empty()).then_some(tg_arns))
        .set_termination_policies(Some(plan.termination_policies.clone()))
        .set_tags(Some(groups::asg_tags(&plan.group_name, &plan.tags)))
        .send()
        .await
        .map_err(|e| AwsError::call("autoscaling", "CreateAutoScalingGroup", e))?;
    Ok(())
}

/// `wanted` minus `have`.
fn missing(wanted: &[String], have: &[String]) -> Vec<String> {
    wanted
        .iter()
        .filter(|w| !have.contains(w))
        .cloned()
        .collect()
}

async fn update_group(
    ctx: &AwsContext,
    plan: &HostclassPlan,
    template_id: &str,
    target_group_arn: Option<&str>,
) -> Result<(), AwsError> {
    let GroupAction::Update { sizes, existing } = &plan.action else {
        return Err(AwsError::State(format!(
            "{}: the group is to be created, not updated",
            plan.group_name
        )));
    };
    let name = plan.group_name.as_str();
    let elb_names: Vec<String> = plan.elb.iter().map(|e| e.name.clone()).collect();
    let tg_arns: Vec<String> = target_group_arn.iter().map(|a| a.to_string()).collect();
    ctx.autoscaling()
        .update_auto_scaling_group()
        .auto_scaling_group_name(name)
        .launch_template(template_spec(template_id))
        .set_min_size(sizes.min.map(|n| n as i32))
        .set_max_size(sizes.max.map(|n| n as i32))
        .set_desired_capacity(sizes.desired.map(|n| n as i32))
        .vpc_zone_identifier(plan.subnet_ids.join(","))
        .set_termination_policies(Some(plan.termination_policies.clone()))
        .send()
        .await
        .map_err(|e| AwsError::call("autoscaling", "UpdateAutoScalingGroup", e))?;
    ctx.autoscaling()
        .create_or_update_tags()
        .set_tags(Some(groups::asg_tags(name, &plan.tags)))
        .send()
        .await
        .map_err(|e| AwsError::call("autoscaling", "CreateOrUpdateTags", e))?;
    let attach = missing(&elb_names, &existing.load_balancers);
    if !attach.is_empty() {
        ctx.autoscaling()
            .attach_load_balancers()
            .auto_scaling_group_name(name)
            .set_load_balancer_names(Some(attach))
            .send()
            .await
            .map_err(|e| AwsError::call("autoscaling", "AttachLoadBalancers", e))?;
    }
    let detach = missing(&existing.load_balancers, &elb_names);
    if !detach.is_empty() {
        ctx.autoscaling()
            .detach_load_balancers()
            .auto_scaling_group_name(name)
            .set_load_balancer_names(Some(detach))
            .send()
            .await
            .map_err(|e| AwsError::call("autoscaling", "DetachLoadBalancers", e))?;
    }
    let tg_attach = missing(&tg_arns, &existing.target_group_arns);
    if !tg_attach.is_empty() {
        ctx.autoscaling()
            .attach_load_balancer_target_groups()
            .auto_scaling_group_name(name)
            .set_target_group_arns(Some(tg_attach))
            .send()
            .await
            .map_err(|e| AwsError::call("autoscaling", "AttachLoadBalancerTargetGroups", e))?;
    }
    let tg_detach = missing(&existing.target_group_arns, &tg_arns);
    if !tg_detach.is_empty() {
        ctx.autoscaling()
            .detach_load_balancer_target_groups()
            .auto_scaling_group_name(name)
            .set_target_group_arns(Some(tg_detach))
            .send()
            .await
            .map_err(|e| AwsError::call("autoscaling", "DetachLoadBalancerTargetGroups", e))?;
    }
    Ok(())
}

/// What the steps found or made that later steps use. The engine keeps only the ids of
/// what a step created (those are what a rollback removes); a load balancer, target group
/// or template that was already there is used too, so it is kept here.
#[derive(Debug, Default)]
struct Found {
    dns_name: Option<String>,
    load_balancer_created: bool,
    target_group_arn: Option<String>,
    template_id: Option<String>,
}

/// The calls of provisioning one hostclass, for the plan/apply engine.
struct ProvisionSteps<'a> {
    ctx: &'a AwsContext,
    plan: &'a HostclassPlan,
    vpc_id: &'a str,
    certificate_arn: Option<&'a str>,
    found: Mutex<Found>,
}

impl ProvisionSteps<'_> {
    fn found(&self) -> MutexGuard<'_, Found> {
        self.found.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn missing_from_plan(&self, action: &ProvisionAction) -> AwsError {
        AwsError::State(format!(
            "{action}: not in the plan of {}",
            self.plan.hostclass
        ))
    }

    /// The template's id, once its step ran.
    fn template_id(&self, action: &ProvisionAction) -> Result<String, AwsError> {
        self.found().template_id.clone().ok_or_else(|| {
            AwsError::State(format!("{action}: the launch template step has not run"))
        })
    }
}

impl Apply<ProvisionAction> for ProvisionSteps<'_> {
    type Error = AwsError;

    async fn apply(&self, action: &ProvisionAction) -> Result<Option<String>, AwsError> {
        use ProvisionAction::*;
        let (ctx, plan) = (self.ctx, self.plan);
        match action {
            EnsureLoadBalancer { name, .. } => {
                let elb = plan
                    .elb
                    .as_ref()
                    .ok_or_else(|| self.missing_from_plan(action))?;
                let (created, dns) = lb::ensure_elb(ctx, elb, self.certificate_arn).await?;
                let mut found = self.found();
                found.dns_name = Some(dns);
                found.load_balancer_created = created;
                Ok(created.then(|| name.clone()))
            }
            UpsertDnsNames { names, domain, .. } => {
                let Some(zone) = route53::hosted_zone_id(ctx, domain).await? else {
                    return Ok(None);
                };
                let (dns, new_balancer) = {
                    let found = self.found();
                    (
                        found.dns_name.clone().unwrap_or_default(),
                        found.load_balancer_created,
                    )
                };
                for (i, name) in names.iter().enumerate() {
                    if let Err(e) = route53::upsert_cname(ctx, &zone, name, &dns).await {
                        return Err(if new_balancer && i > 0 {
                            e.after_creating(&zone)
                        } else {
                            e
                        });
                    }
                }
                Ok(new_balancer.then_some(zone))
            }
            EnsureTargetGroup { .. } => {
                let tg = plan
                    .target_group
                    .as_ref()
                    .ok_or_else(|| self.missing_from_plan(action))?;
                let (created, arn) = lb::ensure_target_group(ctx, tg, self.vpc_id).await?;
                self.found().target_group_arn = Some(arn.clone());
                Ok(created.then_some(arn))
            }
            EnsureInterfaces { .. } => {
                let created = ensure_interfaces(ctx, plan, self.vpc_id).await?;
                Ok((!created.is_empty()).then(|| created.join(",")))
            }
            PutLaunchTemplate { .. } => {
                let (created, id) = launch_template(ctx, plan).await?;
                self.found().template_id = Some(id.clone());
                Ok(created.then_some(id))
            }
            CreateGroup { name, .. } => {
                let template = self.template_id(action)?;
                let tg = self.found().target_group_arn.clone();
                create_group(ctx, plan, &template, tg.as_deref()).await?;
                Ok(Some(name.clone()))
            }
            UpdateGroup { .. } => {
                let template = self.template_id(action)?;
                let tg = self.found().target_group_arn.clone();
                update_group(ctx, plan, &template, tg.as_deref()).await?;
                Ok(None)
            }
            PutScalingPolicy { group, policy } => {
                let spec = plan
                    .policies
                    .iter()
                    .find(|p| &p.name == policy)
                    .ok_or_else(|| self.missing_from_plan(action))?;
                groups::put_policy(ctx, group, spec).await?;
                Ok(None)
            }
            PutSchedule { group, .. } => {
                let existing = match plan.action {
                    GroupAction::Create { .. } => Vec::new(),
                    GroupAction::Update { .. } => groups::recurring_actions(ctx, group).await?,
                };
                if !plan.scheduled_actions.is_empty() || !existing.is_empty() {
                    groups::replace_schedule(ctx, group, &plan.scheduled_actions, &existing)
                        .await?;
                }
                Ok(None)
            }
            DeleteLoadBalancer { name } => lb::delete_elb(ctx, name).await.map(|()| None),
            DeleteDnsNames { zone, names } => {
                for name in names {
                    route53::delete_record(ctx, zone, name, "CNAME").await?;
                }
                Ok(None)
            }
            DeleteTargetGroup { arn } => lb::delete_target_group(ctx, arn).await.map(|()| None),
            DeleteInterfaces { ids } => {
                for id in ids.split(',').filter(|i| !i.is_empty()) {
                    delete_interface(ctx, id).await?;
                }
                Ok(None)
            }
            DeleteLaunchTemplate { id } => {
                groups::delete_launch_template(ctx, id).await.map(|()| None)
            }
            DeleteGroup { name } => {
                let group = groups::GroupInfo {
                    name: name.clone(),
                    ..groups::GroupInfo::default()
                };
                groups::delete_group(ctx, &group, true).await.map(|()| None)
            }
        }
    }

    fn unresolved(&self, action: &ProvisionAction, key: &str) -> AwsError {
        AwsError::State(format!("{action}: nothing created {key}"))
    }
}

async fn delete_interface(ctx: &AwsContext, id: &str) -> Result<(), AwsError> {
    match ctx
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
    let steps = provision_plan(plan);
    let calls = ProvisionSteps {
        ctx,
        plan,
        vpc_id,
        certificate_arn,
        found: Mutex::new(Found::default()),
    };
    let options = ExecOptions {
        // A handful of steps; the rate budgets pace the calls.
        max_in_flight: steps.len().max(1),
        retry: crate::vpc::execute::retry_policy(),
        title: format!("provision {}", plan.hostclass),
    };
    let reporter = report::current();
    match asiaq_engine::execute(&calls, &steps, &options, reporter.as_ref()).await {
        Ok(_) => Ok(Provisioned {
            hostclass: plan.hostclass.clone(),
            group_name: plan.group_name.clone(),
            created: matches!(plan.action, GroupAction::Create { .. }),
            elb_dns_name: calls.found().dns_name.clone(),
        }),
        Err(failure) if opts.keep_on_failure => Err(ProvisionFailure {
            hostclass: plan.hostclass.clone(),
            error: failure.error,
            rolled_back: Vec::new(),
            rollback_errors: Vec::new(),
            kept: true,
        }),
        Err(failure) => {
            let undone = asiaq_engine::rollback(
                &calls,
                &steps,
                &failure.completed,
                &failure.created,
                &options,
                reporter.as_ref(),
            )
            .await;
            Err(ProvisionFailure {
                hostclass: plan.hostclass.clone(),
                error: failure.error,
                rolled_back: undone.undone,
                rollback_errors: undone.failed,
                kept: false,
            })
        }
    }
}
