//! What `asiaq autoscale` does with an environment's groups and their launch templates
//! (and legacy launch configurations, "configs"): list them, and delete the ones that are
//! not in use, or the ones asked for.

use std::collections::BTreeSet;

use serde::Serialize;

use super::groups::{self, GroupInfo, LaunchConfigInfo, PolicyInfo, TemplateInfo};
use crate::context::AwsContext;
use crate::error::AwsError;
use asiaq_engine::report;

/// A group as `listgroups` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupRow {
    pub name: String,
    /// The image of its launch template's default version (`-` without one).
    pub ami: String,
    pub min: i32,
    pub desired: i32,
    pub max: i32,
    pub count: usize,
    pub r#type: &'static str,
    pub is_testing: bool,
}

impl GroupRow {
    /// The line of `autoscale listgroups`: name, AMI, min, desired, max, count, type and
    /// `y`/`n` for testing, in the original's columns.
    pub fn line(&self) -> String {
        format!(
            "{0} {1:21} {2:3} {3:3} {4:3} {5:3} {6:4} {7:10}",
            self.name,
            self.ami,
            self.min,
            self.desired,
            self.max,
            self.count,
            self.r#type,
            if self.is_testing { "y" } else { "n" }
        )
    }
}

/// The groups of `env`, with the image each launches.
pub async fn group_rows(ctx: &AwsContext, env: &str) -> Result<Vec<GroupRow>, AwsError> {
    let mut rows = Vec::new();
    for g in groups::env_groups(ctx, env).await? {
        let ami = match &g.launch_template_id {
            Some(id) => template_image(ctx, id).await?,
            None => "-".to_string(),
        };
        rows.push(GroupRow {
            ami,
            min: g.min_size,
            desired: g.desired_capacity,
            max: g.max_size,
            count: g.instances.len(),
            r#type: "asg",
            is_testing: g.is_testing(),
            name: g.name,
        });
    }
    Ok(rows)
}

async fn template_image(ctx: &AwsContext, id: &str) -> Result<String, AwsError> {
    Ok(groups::launch_template_data(ctx, id)
        .await?
        .and_then(|d| d.image_id().map(str::to_string))
        .unwrap_or_else(|| "-".into()))
}

/// A launch template or launch configuration as `listconfigs` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigRow {
    pub name: String,
    pub image_id: String,
    pub kind: &'static str,
    /// Whether a group of the environment uses it.
    pub in_use: bool,
    /// The launch template's id (none for a launch configuration).
    #[serde(skip)]
    pub template_id: Option<String>,
}

/// The configs of the environment, templates (each with its image) then launch
/// configurations, each marked in use when one of `groups` uses it.
pub fn config_rows(
    templates: &[(TemplateInfo, String)],
    launch_configs: &[LaunchConfigInfo],
    groups: &[GroupInfo],
) -> Vec<ConfigRow> {
    let used_templates: BTreeSet<&str> = groups
        .iter()
        .flat_map(|g| g.launch_template_id.as_deref())
        .collect();
    let used_configs: BTreeSet<&str> = groups
        .iter()
        .flat_map(|g| g.launch_configuration.as_deref())
        .collect();
    let templates = templates.iter().map(|(t, image)| ConfigRow {
        name: t.name.clone(),
        image_id: image.clone(),
        kind: "launch-template",
        in_use: used_templates.contains(t.id.as_str()),
        template_id: Some(t.id.clone()),
    });
    let configs = launch_configs.iter().map(|c| ConfigRow {
        name: c.name.clone(),
        image_id: c.image_id.clone(),
        kind: "launch-configuration",
        in_use: used_configs.contains(c.name.as_str()),
        template_id: None,
    });
    templates.chain(configs).collect()
}

/// The configs of `env` ([`config_rows`]).
pub async fn configs(ctx: &AwsContext, env: &str) -> Result<Vec<ConfigRow>, AwsError> {
    let (templates, launch_configs, groups) = futures::try_join!(
        groups::env_launch_templates(ctx, env),
        groups::env_launch_configs(ctx, env),
        groups::env_groups(ctx, env),
    )?;
    let mut with_images = Vec::new();
    for t in templates {
        let image = template_image(ctx, &t.id).await?;
        with_images.push((t, image));
    }
    Ok(config_rows(&with_images, &launch_configs, &groups))
}

async fn delete_config_row(ctx: &AwsContext, row: &ConfigRow) -> Result<(), AwsError> {
    match &row.template_id {
        Some(id) => groups::delete_launch_template(ctx, id).await,
        None => groups::delete_launch_config(ctx, &row.name).await,
    }
}

/// `cleanconfigs`: deletes (unless `dry_run`) the configs of `env` no group uses; notes the
/// ones kept. Returns the names deleted (or to delete).
pub async fn clean_configs(
    ctx: &AwsContext,
    env: &str,
    dry_run: bool,
) -> Result<Vec<String>, AwsError> {
    let rows = configs(ctx, env).await?;
    let mut deleted = Vec::new();
    for r in rows.iter().filter(|r| !r.in_use) {
        if !dry_run {
            delete_config_row(ctx, r).await?;
        }
        deleted.push(r.name.clone());
    }
    for r in rows.iter().filter(|r| r.in_use) {
        report::note(format!("{} is in use; kept", r.name));
    }
    Ok(deleted)
}

/// `deleteconfig`: deletes (unless `dry_run`) the config `name` of `env`; one a group uses
/// is refused.
pub async fn delete_config(
    ctx: &AwsContext,
    env: &str,
    name: &str,
    dry_run: bool,
) -> Result<(), AwsError> {
    let rows = configs(ctx, env).await?;
    match rows.iter().find(|r| r.name == name) {
        None => Err(AwsError::State(format!(
            "no launch template or launch configuration {name} in environment {env}"
        ))),
        Some(r) if r.in_use => Err(AwsError::State(format!(
            "{name} is used by a group; delete the group first"
        ))),
        Some(_) if dry_run => Ok(()),
        Some(r) => delete_config_row(ctx, r).await,
    }
}

/// `cleangroups`: deletes (unless `dry_run`) the groups of `env` without instances, with
/// their templates; notes the ones kept. Returns the names deleted (or to delete).
pub async fn clean_groups(
    ctx: &AwsContext,
    env: &str,
    dry_run: bool,
) -> Result<Vec<String>, AwsError> {
    let (empty, in_use): (Vec<GroupInfo>, Vec<GroupInfo>) = groups::env_groups(ctx, env)
        .await?
        .into_iter()
        .partition(|g| g.instances.is_empty());
    for g in &empty {
        if !dry_run {
            groups::delete_group(ctx, g, false).await?;
        }
    }
    for g in &in_use {
        report::note(format!(
            "{} is in use ({} instances); kept",
            g.name,
            g.instances.len()
        ));
    }
    Ok(empty.into_iter().map(|g| g.name).collect())
}

/// The groups `deletegroup` deletes: the one named `name`, else those of `hostclass`. None
/// found, or one with instances without `force`, is an error.
pub fn groups_to_delete<'a>(
    groups: &'a [GroupInfo],
    name: Option<&str>,
    hostclass: Option<&str>,
    force: bool,
) -> Result<Vec<&'a GroupInfo>, AwsError> {
    let chosen: Vec<&GroupInfo> = groups
        .iter()
        .filter(|g| match (name, hostclass) {
            (Some(n), _) => g.name == n,
            (None, Some(h)) => g.hostclass == h,
            (None, None) => false,
        })
        .collect();
    if chosen.is_empty() {
        return Err(AwsError::State(
            "no matching autoscaling group in the environment".into(),
        ));
    }
    match chosen.iter().find(|g| !g.instances.is_empty()) {
        Some(g) if !force => Err(AwsError::State(format!(
            "{} has {} instances; use --force to terminate them with the group",
            g.name,
            g.instances.len()
        ))),
        _ => Ok(chosen),
    }
}

/// The columns of `listpolicies`.
pub const POLICY_HEADERS: [&str; 10] = [
    "ASG",
    "Name",
    "Type",
    "Adjustment Type",
    "Scaling Adjustment",
    "Min Adjustment",
    "Cooldown",
    "Step Adjustments",
    "Warmup",
    "Alarms",
];

/// A policy as a row of `listpolicies` ([`POLICY_HEADERS`]); `-` for what it lacks.
pub fn policy_cells(p: &PolicyInfo) -> Vec<String> {
    let number = |v: Option<i32>| v.map_or("-".to_string(), |n| n.to_string());
    let list = |v: &[String]| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join(",")
        }
    };
    vec![
        p.group.clone(),
        p.name.clone(),
        p.policy_type.clone(),
        p.adjustment_type.clone(),
        number(p.scaling_adjustment),
        number(p.min_adjustment_magnitude),
        number(p.cooldown),
        list(&p.step_adjustments),
        number(p.estimated_instance_warmup),
        list(&p.alarms),
    ]
}

/// `listconfigs`: name (padded to 24) and image of each; JSON: the rows.
pub fn configs_printout(rows: &[ConfigRow]) -> asiaq_core::printout::Printout {
    let lines = rows
        .iter()
        .map(|r| format!("{:<24} {}", r.name, r.image_id))
        .collect();
    asiaq_core::printout::Printout::new(&rows, lines)
}

/// `listpolicies`: the [`POLICY_HEADERS`] and a row per policy, in aligned columns; JSON:
/// the policies.
pub fn policies_printout(list: &[PolicyInfo]) -> asiaq_core::printout::Printout {
    let headers = POLICY_HEADERS.map(str::to_string).to_vec();
    let rows: Vec<Vec<String>> = std::iter::once(headers)
        .chain(list.iter().map(policy_cells))
        .collect();
    let lines = asiaq_core::printout::table_lines(&rows);
    asiaq_core::printout::Printout::new(&list, lines)
}

/// `deletegroup`: the groups named `name`, else of `hostclass` ([`groups_to_delete`]),
/// deleted unless `dry_run`, once `confirm` agrees (asked with the environment and what is
/// deleted). Returns their names.
pub async fn delete_groups<E: From<AwsError>>(
    ctx: &AwsContext,
    env: &str,
    (name, hostclass): (Option<&str>, Option<&str>),
    force: bool,
    dry_run: bool,
    confirm: impl FnOnce(&super::env::EnvironmentNetwork, &str) -> Result<(), E>,
) -> Result<Vec<String>, E> {
    let gs = groups::env_groups(ctx, env).await?;
    let chosen = groups_to_delete(&gs, name, hostclass, force)?;
    let names: Vec<String> = chosen.iter().map(|g| g.name.clone()).collect();
    if !dry_run {
        let network = super::env::require(ctx, env).await?;
        confirm(&network, &format!("Delete {}", names.join(", ")))?;
        for g in chosen {
            groups::delete_group(ctx, g, force).await?;
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    #[test]
    fn config_and_policy_listings() {
        let row = ConfigRow {
            name: "ci_mhcweb".into(),
            image_id: "ami-1".into(),
            kind: "launch-template",
            in_use: true,
            template_id: Some("lt-1".into()),
        };
        let p = configs_printout(&[row]);
        assert_eq!(p.lines, [format!("{:<24} ami-1", "ci_mhcweb")]);
        assert_eq!(p.json[0]["kind"], "launch-template");
        let p = policies_printout(&[]);
        assert_eq!(p.lines.len(), 1);
        assert!(p.lines[0].starts_with("ASG  Name  Type"));
        assert_eq!(p.json, serde_json::json!([]));
    }

    #[test]
    fn a_group_line_has_the_original_columns() {
        let row = GroupRow {
            name: "ci_mhcweb_1".into(),
            ami: "ami-1".into(),
            min: 1,
            desired: 2,
            max: 10,
            count: 2,
            r#type: "asg",
            is_testing: true,
        };
        assert_eq!(
            row.line(),
            "ci_mhcweb_1 ami-1                   1   2  10   2 asg  y         "
        );
    }

    use std::collections::BTreeMap;

    use super::*;
    use crate::hosts::groups::GroupInstance;

    fn group(name: &str, instances: usize, template: Option<&str>, lc: Option<&str>) -> GroupInfo {
        GroupInfo {
            name: name.into(),
            hostclass: asiaq_core::autoscale::hostclass_of_group(name),
            min_size: 0,
            max_size: 2,
            desired_capacity: 1,
            instances: (0..instances)
                .map(|i| GroupInstance {
                    id: format!("i-{i}"),
                    availability_zone: "us-west-2a".into(),
                    lifecycle_state: "InService".into(),
                    health_status: "Healthy".into(),
                })
                .collect(),
            launch_template_id: template.map(str::to_string),
            launch_configuration: lc.map(str::to_string),
            ..GroupInfo::default()
        }
    }

    #[test]
    fn configs_in_use() {
        let template = |id: &str, name: &str| TemplateInfo {
            id: id.into(),
            name: name.into(),
            default_version: 1,
            latest_version: 1,
            tags: BTreeMap::new(),
        };
        let templates = vec![
            (template("lt-1", "ci_mhcapp_1"), "ami-1".to_string()),
            (template("lt-2", "ci_mhcweb_1"), "-".to_string()),
        ];
        let lcs = vec![
            LaunchConfigInfo {
                name: "ci_mhcold_1".into(),
                image_id: "ami-0".into(),
                instance_type: "m3.large".into(),
            },
            LaunchConfigInfo {
                name: "ci_mhcgone_1".into(),
                image_id: "ami-0".into(),
                instance_type: "m3.large".into(),
            },
        ];
        let groups = vec![
            group("ci_mhcapp_1", 1, Some("lt-1"), None),
            group("ci_mhcold_1", 0, None, Some("ci_mhcold_1")),
        ];
        let rows = config_rows(&templates, &lcs, &groups);
        let summary: Vec<(&str, &str, bool)> = rows
            .iter()
            .map(|r| (r.name.as_str(), r.kind, r.in_use))
            .collect();
        assert_eq!(
            summary,
            [
                ("ci_mhcapp_1", "launch-template", true),
                ("ci_mhcweb_1", "launch-template", false),
                ("ci_mhcold_1", "launch-configuration", true),
                ("ci_mhcgone_1", "launch-configuration", false),
            ]
        );
        assert_eq!(rows[1].template_id.as_deref(), Some("lt-2"));
        assert_eq!(rows[3].template_id, None);
        let json = serde_json::to_value(&rows[0]).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"name": "ci_mhcapp_1", "image_id": "ami-1",
                "kind": "launch-template", "in_use": true})
        );
    }

    #[test]
    fn which_groups_deletegroup_deletes() {
        let gs = vec![
            group("ci_mhcapp_1", 0, None, None),
            group("ci_mhcapp_2", 2, None, None),
            group("ci_mhcweb_1", 0, None, None),
        ];
        let names = |r: Result<Vec<&GroupInfo>, AwsError>| -> Vec<String> {
            r.unwrap().iter().map(|g| g.name.clone()).collect()
        };
        assert_eq!(
            names(groups_to_delete(&gs, Some("ci_mhcweb_1"), None, false)),
            ["ci_mhcweb_1"]
        );
        assert_eq!(
            names(groups_to_delete(&gs, None, Some("mhcapp"), true)),
            ["ci_mhcapp_1", "ci_mhcapp_2"]
        );
        let e = groups_to_delete(&gs, None, Some("mhcapp"), false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "ci_mhcapp_2 has 2 instances; use --force to terminate them with the group"
        );
        let e = groups_to_delete(&gs, Some("ci_other_1"), None, true).unwrap_err();
        assert_eq!(
            e.to_string(),
            "no matching autoscaling group in the environment"
        );
    }

    #[test]
    fn policy_rows() {
        let p = PolicyInfo {
            group: "ci_mhcapp_1".into(),
            name: "up".into(),
            policy_type: "StepScaling".into(),
            adjustment_type: "ChangeInCapacity".into(),
            scaling_adjustment: None,
            min_adjustment_magnitude: Some(1),
            cooldown: None,
            step_adjustments: vec!["0:10:1".into(), "10::2".into()],
            estimated_instance_warmup: Some(300),
            alarms: vec![],
        };
        assert_eq!(
            policy_cells(&p),
            [
                "ci_mhcapp_1",
                "up",
                "StepScaling",
                "ChangeInCapacity",
                "-",
                "1",
                "-",
                "0:10:1,10::2",
                "300",
                "-"
            ]
        );
        assert_eq!(policy_cells(&p).len(), POLICY_HEADERS.len());
    }
}
