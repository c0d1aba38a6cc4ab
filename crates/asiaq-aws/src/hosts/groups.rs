//! Autoscaling groups of an environment, their launch templates (and legacy launch
//! configurations), scaling policies and scheduled actions.
//!
//! Decision: groups use EC2 launch templates, one per group with the group's name
//! (`<env>_<hostclass>_<epoch>`); re-provisioning an existing group adds a template version
//! and makes it the default, which the group uses (`$Default`). AWS is retiring launch
//! configurations; groups the original made with one are switched to a template on their
//! next provision, and `autoscale listconfigs/cleanconfigs` still list and clean both kinds.

use std::collections::BTreeMap;
use std::time::Duration;

use asiaq_core::autoscale::{belongs_to_env, hostclass_of_group, ScalingPolicySpec};
use asiaq_core::schedule::ScheduledAction;
use aws_sdk_autoscaling::types::{
    AutoScalingGroup, ScheduledUpdateGroupActionRequest, StepAdjustment, Tag,
};
use serde::Serialize;

use crate::context::AwsContext;
use crate::error::AwsError;
use crate::wait::{wait_for, Backoff, Poll};
use asiaq_engine::report;

/// An instance of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupInstance {
    pub id: String,
    pub availability_zone: String,
    pub lifecycle_state: String,
    pub health_status: String,
}

/// A group as asiaq sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GroupInfo {
    pub name: String,
    pub hostclass: String,
    pub min_size: i32,
    pub max_size: i32,
    pub desired_capacity: i32,
    pub instances: Vec<GroupInstance>,
    pub launch_template_id: Option<String>,
    pub launch_template_name: Option<String>,
    pub launch_template_version: Option<String>,
    pub launch_configuration: Option<String>,
    pub load_balancers: Vec<String>,
    pub target_group_arns: Vec<String>,
    pub subnet_ids: Vec<String>,
    pub tags: BTreeMap<String, String>,
    pub termination_policies: Vec<String>,
    /// `Delete in progress` while being deleted.
    pub status: Option<String>,
}

impl GroupInfo {
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.get(key).map(String::as_str)
    }

    pub fn is_testing(&self) -> bool {
        self.tag("is_testing") == Some("1")
    }
}

fn group_info(g: &AutoScalingGroup) -> GroupInfo {
    let name = g.auto_scaling_group_name().unwrap_or_default().to_string();
    GroupInfo {
        hostclass: hostclass_of_group(&name),
        name,
        min_size: g.min_size().unwrap_or(0),
        max_size: g.max_size().unwrap_or(0),
        desired_capacity: g.desired_capacity().unwrap_or(0),
        instances: g
            .instances()
            .iter()
            .map(|i| GroupInstance {
                id: i.instance_id().unwrap_or_default().to_string(),
                availability_zone: i.availability_zone().unwrap_or_default().to_string(),
                lifecycle_state: i
                    .lifecycle_state()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                health_status: i.health_status().unwrap_or_default().to_string(),
            })
            .collect(),
        launch_template_id: g
            .launch_template()
            .and_then(|t| t.launch_template_id())
            .map(str::to_string),
        launch_template_name: g
            .launch_template()
            .and_then(|t| t.launch_template_name())
            .map(str::to_string),
        launch_template_version: g
            .launch_template()
            .and_then(|t| t.version())
            .map(str::to_string),
        launch_configuration: g.launch_configuration_name().map(str::to_string),
        load_balancers: g.load_balancer_names().to_vec(),
        target_group_arns: g.target_group_arns().to_vec(),
        subnet_ids: g
            .vpc_zone_identifier()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        tags: g
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
            .collect(),
        termination_policies: g.termination_policies().to_vec(),
        status: g.status().map(str::to_string),
    }
}

/// Groups named in `names` (all groups when empty), paginated.
pub async fn describe(ctx: &AwsContext, names: &[String]) -> Result<Vec<GroupInfo>, AwsError> {
    let mut out = Vec::new();
    for chunk in if names.is_empty() {
        vec![Vec::new()]
    } else {
        names.chunks(50).map(<[String]>::to_vec).collect()
    } {
        let mut pages = ctx
            .autoscaling()
            .describe_auto_scaling_groups()
            .set_auto_scaling_group_names((!chunk.is_empty()).then(|| chunk.clone()))
            .max_records(100)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| AwsError::call("autoscaling", "DescribeAutoScalingGroups", e))?;
            out.extend(page.auto_scaling_groups().iter().map(group_info));
        }
    }
    Ok(out)
}

/// The groups of environment `env` (name prefix `<env>_`), sorted by name.
pub async fn env_groups(ctx: &AwsContext, env: &str) -> Result<Vec<GroupInfo>, AwsError> {
    let mut groups: Vec<GroupInfo> = describe(ctx, &[])
        .await?
        .into_iter()
        .filter(|g| belongs_to_env(&g.name, env))
        .collect();
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(groups)
}

/// One group, if it exists.
pub async fn group(ctx: &AwsContext, name: &str) -> Result<Option<GroupInfo>, AwsError> {
    Ok(describe(ctx, &[name.to_string()]).await?.into_iter().next())
}

/// A launch template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TemplateInfo {
    pub id: String,
    pub name: String,
    pub default_version: i64,
    pub latest_version: i64,
    pub tags: BTreeMap<String, String>,
}

/// Adds a version to a launch template and makes it the default, so that the group's
/// `$Default` reference picks it up. `source_version` keeps what `data` does not set.
/// Returns the new version number.
pub async fn add_default_version(
    ctx: &AwsContext,
    template_id: &str,
    source_version: Option<&str>,
    data: aws_sdk_ec2::types::RequestLaunchTemplateData,
    description: String,
) -> Result<i64, AwsError> {
    let out = ctx
        .ec2()
        .create_launch_template_version()
        .launch_template_id(template_id)
        .set_source_version(source_version.map(str::to_string))
        .launch_template_data(data)
        .version_description(description)
        .send()
        .await
        .map_err(|e| AwsError::call("ec2", "CreateLaunchTemplateVersion", e))?;
    let version = out
        .launch_template_version()
        .and_then(|v| v.version_number())
        .ok_or(AwsError::MissingField {
            service: "ec2",
            operation: "CreateLaunchTemplateVersion",
            field: "VersionNumber",
        })?;
    ctx.ec2()
        .modify_launch_template()
        .launch_template_id(template_id)
        .default_version(version.to_string())
        .send()
        .await
        .map_err(|e| AwsError::call("ec2", "ModifyLaunchTemplate", e))?;
    Ok(version)
}

/// Launch templates of `env` (name prefix `<env>_`), paginated.
pub async fn env_launch_templates(
    ctx: &AwsContext,
    env: &str,
) -> Result<Vec<TemplateInfo>, AwsError> {
    let mut out = Vec::new();
    let mut pages = ctx
        .ec2()
        .describe_launch_templates()
        .max_results(200)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::call("ec2", "DescribeLaunchTemplates", e))?;
        for t in page.launch_templates() {
            let name = t.launch_template_name().unwrap_or_default();
            if belongs_to_env(name, env) {
                out.push(TemplateInfo {
                    id: t.launch_template_id().unwrap_or_default().to_string(),
                    name: name.to_string(),
                    default_version: t.default_version_number().unwrap_or(1),
                    latest_version: t.latest_version_number().unwrap_or(1),
                    tags: super::ec2_tag_map(t.tags()),
                });
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The launch template named `name`, if any.
pub async fn launch_template_by_name(
    ctx: &AwsContext,
    name: &str,
) -> Result<Option<TemplateInfo>, AwsError> {
    match ctx
        .ec2()
        .describe_launch_templates()
        .launch_template_names(name)
        .send()
        .await
    {
        Ok(o) => Ok(o.launch_templates().first().map(|t| TemplateInfo {
            id: t.launch_template_id().unwrap_or_default().to_string(),
            name: t.launch_template_name().unwrap_or_default().to_string(),
            default_version: t.default_version_number().unwrap_or(1),
            latest_version: t.latest_version_number().unwrap_or(1),
            tags: super::ec2_tag_map(t.tags()),
        })),
        Err(e) => {
            let err = AwsError::call("ec2", "DescribeLaunchTemplates", e);
            if err.is_not_found()
                || err.code() == Some("InvalidLaunchTemplateName.NotFoundException")
            {
                Ok(None)
            } else {
                Err(err)
            }
        }
    }
}

/// The default version's data of a launch template (image, instance type, block devices).
pub async fn launch_template_data(
    ctx: &AwsContext,
    id: &str,
) -> Result<Option<aws_sdk_ec2::types::ResponseLaunchTemplateData>, AwsError> {
    let out = ctx
        .ec2()
        .describe_launch_template_versions()
        .launch_template_id(id)
        .versions("$Default")
        .send()
        .await
        .map_err(|e| AwsError::call("ec2", "DescribeLaunchTemplateVersions", e))?;
    Ok(out
        .launch_template_versions()
        .first()
        .and_then(|v| v.launch_template_data().cloned()))
}

/// Deletes a launch template; already gone is fine.
pub async fn delete_launch_template(ctx: &AwsContext, id: &str) -> Result<(), AwsError> {
    match ctx
        .ec2()
        .delete_launch_template()
        .launch_template_id(id)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => {
            let err = AwsError::call("ec2", "DeleteLaunchTemplate", e);
            if err.is_not_found() || err.code().is_some_and(|c| c.contains("NotFound")) {
                Ok(())
            } else {
                Err(err)
            }
        }
    }
}

/// A legacy launch configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LaunchConfigInfo {
    pub name: String,
    pub image_id: String,
    pub instance_type: String,
}

/// Launch configurations of `env` (name prefix), paginated.
pub async fn env_launch_configs(
    ctx: &AwsContext,
    env: &str,
) -> Result<Vec<LaunchConfigInfo>, AwsError> {
    let mut out = Vec::new();
    let mut pages = ctx
        .autoscaling()
        .describe_launch_configurations()
        .max_records(100)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| AwsError::call("autoscaling", "DescribeLaunchConfigurations", e))?;
        for c in page.launch_configurations() {
            let name = c.launch_configuration_name().unwrap_or_default();
            if belongs_to_env(name, env) {
                out.push(LaunchConfigInfo {
                    name: name.to_string(),
                    image_id: c.image_id().unwrap_or_default().to_string(),
                    instance_type: c.instance_type().unwrap_or_default().to_string(),
                });
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Deletes a launch configuration; already gone is fine. In use is an error.
pub async fn delete_launch_config(ctx: &AwsContext, name: &str) -> Result<(), AwsError> {
    match ctx
        .autoscaling()
        .delete_launch_configuration()
        .launch_configuration_name(name)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => {
            let err = AwsError::call("autoscaling", "DeleteLaunchConfiguration", e);
            if err.is_not_found()
                || err.code() == Some("ValidationError") && err.to_string().contains("not found")
            {
                Ok(())
            } else {
                Err(err)
            }
        }
    }
}

/// Waits until a group no longer exists (a forced delete terminates its instances first).
pub async fn wait_deleted(ctx: &AwsContext, name: &str) -> Result<(), AwsError> {
    wait_for(
        &format!("autoscaling group {name} to be deleted"),
        Backoff::new(
            Duration::from_secs(5),
            Duration::from_secs(20),
            Duration::from_secs(900),
        ),
        || async {
            Ok(match group(ctx, name).await? {
                None => Poll::Ready(()),
                Some(g) => Poll::Pending(format!(
                    "{} ({} instances)",
                    g.status.unwrap_or_else(|| "exists".into()),
                    g.instances.len()
                )),
            })
        },
    )
    .await
}

/// Deletes a group (`force`: terminate its instances too), waits until it is gone, then
/// deletes its launch template (or legacy launch configuration) when that belongs to the
/// group. Already gone is fine, so a deletion can be re-run.
pub async fn delete_group(ctx: &AwsContext, g: &GroupInfo, force: bool) -> Result<(), AwsError> {
    report::note(format!("deleting autoscaling group {}", g.name));
    match ctx
        .autoscaling()
        .delete_auto_scaling_group()
        .auto_scaling_group_name(&g.name)
        .force_delete(force)
        .send()
        .await
    {
        Ok(_) => {}
        Err(e) => {
            let err = AwsError::call("autoscaling", "DeleteAutoScalingGroup", e);
            let gone = err.code() == Some("ValidationError")
                && err.to_string().to_ascii_lowercase().contains("not found");
            if !gone && !err.is_not_found() {
                return Err(err);
            }
        }
    }
    wait_deleted(ctx, &g.name).await?;
    // The template named like the group is the group's own.
    if let Some(t) = launch_template_by_name(ctx, &g.name).await? {
        delete_launch_template(ctx, &t.id).await?;
    }
    if let Some(lc) = &g.launch_configuration {
        delete_launch_config(ctx, lc).await?;
    }
    Ok(())
}

/// Upserts a scaling policy on a group; returns its ARN.
pub async fn put_policy(
    ctx: &AwsContext,
    group: &str,
    p: &ScalingPolicySpec,
) -> Result<String, AwsError> {
    let mut req = ctx
        .autoscaling()
        .put_scaling_policy()
        .auto_scaling_group_name(group)
        .policy_name(&p.name)
        .policy_type(&p.policy_type)
        .adjustment_type(&p.adjustment_type)
        .set_scaling_adjustment(p.scaling_adjustment)
        .set_min_adjustment_magnitude(p.min_adjustment_magnitude)
        .set_metric_aggregation_type(p.metric_aggregation_type.clone());
    if p.policy_type == "StepScaling" {
        req = req.set_estimated_instance_warmup(p.estimated_instance_warmup);
        for s in &p.step_adjustments {
            req = req.step_adjustments(
                StepAdjustment::builder()
                    .set_metric_interval_lower_bound(s.lower_bound)
                    .set_metric_interval_upper_bound(s.upper_bound)
                    .scaling_adjustment(s.scaling_adjustment)
                    .build(),
            );
        }
    } else {
        req = req.set_cooldown(p.cooldown);
    }
    let out = req
        .send()
        .await
        .map_err(|e| AwsError::call("autoscaling", "PutScalingPolicy", e))?;
    Ok(out.policy_arn().unwrap_or_default().to_string())
}

/// A scaling policy as listed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyInfo {
    pub group: String,
    pub name: String,
    pub policy_type: String,
    pub adjustment_type: String,
    pub scaling_adjustment: Option<i32>,
    pub min_adjustment_magnitude: Option<i32>,
    pub cooldown: Option<i32>,
    pub step_adjustments: Vec<String>,
    pub estimated_instance_warmup: Option<i32>,
    pub alarms: Vec<String>,
}

/// Policies of one group, or of every group when `group` is `None`, filtered by names and
/// types when given.
pub async fn policies(
    ctx: &AwsContext,
    group: Option<&str>,
    names: &[String],
    types: &[String],
) -> Result<Vec<PolicyInfo>, AwsError> {
    let mut out = Vec::new();
    let mut pages = ctx
        .autoscaling()
        .describe_policies()
        .set_auto_scaling_group_name(group.map(str::to_string))
        .set_policy_names((!names.is_empty()).then(|| names.to_vec()))
        .set_policy_types((!types.is_empty()).then(|| types.to_vec()))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::call("autoscaling", "DescribePolicies", e))?;
        for p in page.scaling_policies() {
            out.push(PolicyInfo {
                group: p.auto_scaling_group_name().unwrap_or_default().to_string(),
                name: p.policy_name().unwrap_or_default().to_string(),
                policy_type: p.policy_type().unwrap_or_default().to_string(),
                adjustment_type: p.adjustment_type().unwrap_or_default().to_string(),
                scaling_adjustment: p.scaling_adjustment(),
                min_adjustment_magnitude: p.min_adjustment_magnitude(),
                cooldown: p.cooldown(),
                step_adjustments: p
                    .step_adjustments()
                    .iter()
                    .map(|s| {
                        format!(
                            "{}..{}:{}",
                            s.metric_interval_lower_bound()
                                .map_or("-inf".to_string(), |b| b.to_string()),
                            s.metric_interval_upper_bound()
                                .map_or("+inf".to_string(), |b| b.to_string()),
                            s.scaling_adjustment().unwrap_or_default()
                        )
                    })
                    .collect(),
                estimated_instance_warmup: p.estimated_instance_warmup(),
                alarms: p
                    .alarms()
                    .iter()
                    .filter_map(|a| a.alarm_name().map(str::to_string))
                    .collect(),
            });
        }
    }
    Ok(out)
}

/// Deletes a scaling policy.
pub async fn delete_policy(ctx: &AwsContext, group: &str, name: &str) -> Result<(), AwsError> {
    ctx.autoscaling()
        .delete_policy()
        .auto_scaling_group_name(group)
        .policy_name(name)
        .send()
        .await
        .map_err(|e| AwsError::call("autoscaling", "DeletePolicy", e))?;
    Ok(())
}

/// Names of the group's recurring scheduled actions.
pub async fn recurring_actions(ctx: &AwsContext, group: &str) -> Result<Vec<String>, AwsError> {
    let mut out = Vec::new();
    let mut pages = ctx
        .autoscaling()
        .describe_scheduled_actions()
        .auto_scaling_group_name(group)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| AwsError::call("autoscaling", "DescribeScheduledActions", e))?;
        out.extend(
            page.scheduled_update_group_actions()
                .iter()
                .filter(|a| a.recurrence().is_some_and(|r| !r.is_empty()))
                .filter_map(|a| a.scheduled_action_name().map(str::to_string)),
        );
    }
    Ok(out)
}

/// `create_scaling_schedule`: deletes every recurring action of the group, then creates
/// `actions` (batches of 50, AWS's limit). A batch item AWS refuses is an error.
pub async fn replace_schedule(
    ctx: &AwsContext,
    group: &str,
    actions: &[ScheduledAction],
    existing: &[String],
) -> Result<(), AwsError> {
    for chunk in existing.chunks(50) {
        let out = ctx
            .autoscaling()
            .batch_delete_scheduled_action()
            .auto_scaling_group_name(group)
            .set_scheduled_action_names(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| AwsError::call("autoscaling", "BatchDeleteScheduledAction", e))?;
        if let Some(f) = out.failed_scheduled_actions().first() {
            return Err(AwsError::State(format!(
                "cannot delete scheduled action {} of {group}: {}",
                f.scheduled_action_name().unwrap_or_default(),
                f.error_message().unwrap_or_default()
            )));
        }
    }
    for chunk in actions.chunks(50) {
        let requests: Vec<ScheduledUpdateGroupActionRequest> = chunk
            .iter()
            .map(|a| {
                ScheduledUpdateGroupActionRequest::builder()
                    .scheduled_action_name(&a.name)
                    .recurrence(&a.recurrence)
                    .set_min_size(a.min.map(|n| n as i32))
                    .set_max_size(a.max.map(|n| n as i32))
                    .set_desired_capacity(a.desired.map(|n| n as i32))
                    .build()
            })
            .collect();
        let out = ctx
            .autoscaling()
            .batch_put_scheduled_update_group_action()
            .auto_scaling_group_name(group)
            .set_scheduled_update_group_actions(Some(requests))
            .send()
            .await
            .map_err(|e| AwsError::call("autoscaling", "BatchPutScheduledUpdateGroupAction", e))?;
        if let Some(f) = out.failed_scheduled_update_group_actions().first() {
            return Err(AwsError::State(format!(
                "cannot create scheduled action {} of {group}: {}",
                f.scheduled_action_name().unwrap_or_default(),
                f.error_message().unwrap_or_default()
            )));
        }
    }
    Ok(())
}

/// Group tags (propagated at launch).
pub fn asg_tags(group: &str, tags: &[(String, String)]) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .resource_id(group)
                .resource_type("auto-scaling-group")
                .key(k)
                .value(v)
                .propagate_at_launch(true)
                .build()
        })
        .collect()
}
