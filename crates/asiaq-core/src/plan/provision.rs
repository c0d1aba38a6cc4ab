//! The steps of provisioning one hostclass, as the engine runs them: its load balancer (and
//! the DNS names pointing at it), target group, floating interfaces and launch template at
//! once; then its autoscaling group, which needs all four; then the group's scaling
//! policies and schedule, which need only the group.
//!
//! "Ensure" steps find what is there or create it, and return an id only when they created
//! something, so a rollback after a failure removes what this run made and nothing else
//! (see [`Plan::undo_plan`]).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::hosts::size;
use super::{new_ref, Change, Plan, PlanAction, PlanBuilder, Resource};
use crate::provision::{GroupAction, HostclassPlan};

/// One step of provisioning a hostclass, or of undoing it. The details of each resource
/// (listeners, user data, block devices, ...) stay in the [`HostclassPlan`] the steps are
/// made from; a step names the resource and the key under which it reports a creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action")]
pub enum ProvisionAction {
    /// Creates the classic load balancer if it does not exist, and sets its health check,
    /// attributes, stickiness and tags either way.
    EnsureLoadBalancer {
        key: String,
        name: String,
        hostclass: String,
    },
    /// Points each of `names` in the environment's hosted zone at the load balancer.
    UpsertDnsNames {
        key: String,
        names: Vec<String>,
        domain: String,
        load_balancer: String,
    },
    EnsureTargetGroup {
        key: String,
        name: String,
        hostclass: String,
    },
    /// Creates a floating interface for each of `addresses` that has none.
    EnsureInterfaces {
        key: String,
        hostclass: String,
        addresses: Vec<String>,
    },
    /// Creates the launch template, or adds a default version with this run's image to
    /// the one of that name a killed run left.
    PutLaunchTemplate {
        key: String,
        name: String,
        hostclass: String,
        ami_id: String,
    },
    CreateGroup {
        key: String,
        name: String,
        hostclass: String,
        min: u32,
        desired: u32,
        max: u32,
    },
    /// Sizes, template, subnets, tags, load balancers and target groups of a running group.
    UpdateGroup {
        name: String,
        hostclass: String,
        min: Option<u32>,
        desired: Option<u32>,
        max: Option<u32>,
    },
    PutScalingPolicy {
        group: String,
        policy: String,
    },
    /// Makes the group's recurring scheduled actions the configured ones.
    PutSchedule {
        group: String,
        actions: usize,
    },
    DeleteLoadBalancer {
        name: String,
    },
    DeleteDnsNames {
        zone: String,
        names: Vec<String>,
    },
    DeleteTargetGroup {
        arn: String,
    },
    /// `ids`: comma-separated.
    DeleteInterfaces {
        ids: String,
    },
    DeleteLaunchTemplate {
        id: String,
    },
    /// Deletes the group with its instances.
    DeleteGroup {
        name: String,
    },
}

impl fmt::Display for ProvisionAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ProvisionAction::*;
        match self {
            EnsureLoadBalancer {
                name, hostclass, ..
            } => write!(f, "load balancer {name} ({hostclass})"),
            UpsertDnsNames {
                names,
                load_balancer,
                ..
            } => write!(
                f,
                "DNS {} -> load balancer {load_balancer}",
                names.join(", ")
            ),
            EnsureTargetGroup {
                name, hostclass, ..
            } => write!(f, "target group {name} ({hostclass})"),
            EnsureInterfaces {
                hostclass,
                addresses,
                ..
            } => write!(
                f,
                "floating interfaces {} ({hostclass})",
                addresses.join(", ")
            ),
            PutLaunchTemplate { name, ami_id, .. } => {
                write!(f, "launch template {name} ({ami_id})")
            }
            CreateGroup {
                name,
                min,
                desired,
                max,
                ..
            } => write!(
                f,
                "create autoscaling group {name} (min {min}, desired {desired}, max {max})"
            ),
            UpdateGroup {
                name,
                min,
                desired,
                max,
                ..
            } => write!(
                f,
                "update autoscaling group {name} (min {}, desired {}, max {})",
                size(*min),
                size(*desired),
                size(*max)
            ),
            PutScalingPolicy { group, policy } => write!(f, "scaling policy {policy} of {group}"),
            PutSchedule { group, actions } => {
                write!(f, "schedule of {group} ({actions} scheduled actions)")
            }
            DeleteLoadBalancer { name } => write!(f, "load balancer {name}"),
            DeleteDnsNames { names, .. } => write!(f, "DNS record {}", names.join(", ")),
            DeleteTargetGroup { arn } => write!(f, "target group {arn}"),
            DeleteInterfaces { ids } => write!(f, "network interface {ids}"),
            DeleteLaunchTemplate { id } => write!(f, "launch template {id}"),
            DeleteGroup { name } => write!(f, "autoscaling group {name}"),
        }
    }
}

impl PlanAction for ProvisionAction {
    fn resource(&self) -> Resource {
        use ProvisionAction::*;
        match self {
            EnsureLoadBalancer { name, .. } | DeleteLoadBalancer { name } => {
                Resource::by_ref("load balancer", name)
            }
            UpsertDnsNames { names, .. } | DeleteDnsNames { names, .. } => {
                Resource::new("DNS records", names.join(", "))
            }
            EnsureTargetGroup { name, .. } => Resource::new("target group", name),
            DeleteTargetGroup { arn } => Resource::by_ref("target group", arn),
            EnsureInterfaces { hostclass, .. } => Resource::new("floating interfaces", hostclass),
            DeleteInterfaces { ids } => Resource::by_ref("floating interfaces", ids),
            PutLaunchTemplate { name, .. } => Resource::new("launch template", name),
            DeleteLaunchTemplate { id } => Resource::by_ref("launch template", id),
            CreateGroup { name, .. } | UpdateGroup { name, .. } => {
                Resource::new("autoscaling group", name)
            }
            DeleteGroup { name } => Resource::by_ref("autoscaling group", name),
            PutScalingPolicy { policy, .. } => Resource::new("scaling policy", policy),
            PutSchedule { group, .. } => Resource::new("schedule", group),
        }
    }

    fn change(&self) -> Change {
        use ProvisionAction::*;
        match self {
            EnsureLoadBalancer { .. }
            | EnsureTargetGroup { .. }
            | EnsureInterfaces { .. }
            | PutLaunchTemplate { .. }
            | CreateGroup { .. } => Change::Create,
            UpsertDnsNames { .. }
            | UpdateGroup { .. }
            | PutScalingPolicy { .. }
            | PutSchedule { .. } => Change::update(),
            DeleteLoadBalancer { .. }
            | DeleteDnsNames { .. }
            | DeleteTargetGroup { .. }
            | DeleteInterfaces { .. }
            | DeleteLaunchTemplate { .. }
            | DeleteGroup { .. } => Change::Delete,
        }
    }

    fn creates(&self) -> Option<&str> {
        use ProvisionAction::*;
        match self {
            EnsureLoadBalancer { key, .. }
            | UpsertDnsNames { key, .. }
            | EnsureTargetGroup { key, .. }
            | EnsureInterfaces { key, .. }
            | PutLaunchTemplate { key, .. }
            | CreateGroup { key, .. } => Some(key),
            _ => None,
        }
    }

    /// What each step's id names: the load balancer's name, the hosted zone of the DNS
    /// names (reported only when the load balancer is new: names pointed at one that was
    /// already there are left as they are), the target group's ARN, the new interfaces'
    /// ids, the template's id, the group's name.
    fn undo(&self) -> Option<Self> {
        use ProvisionAction::*;
        match self {
            EnsureLoadBalancer { key, .. } => Some(DeleteLoadBalancer { name: new_ref(key) }),
            UpsertDnsNames { key, names, .. } => Some(DeleteDnsNames {
                zone: new_ref(key),
                names: names.clone(),
            }),
            EnsureTargetGroup { key, .. } => Some(DeleteTargetGroup { arn: new_ref(key) }),
            EnsureInterfaces { key, .. } => Some(DeleteInterfaces { ids: new_ref(key) }),
            PutLaunchTemplate { key, .. } => Some(DeleteLaunchTemplate { id: new_ref(key) }),
            CreateGroup { key, .. } => Some(DeleteGroup { name: new_ref(key) }),
            _ => None,
        }
    }
}

/// The steps of provisioning `plan`'s hostclass. DNS names are written only when the
/// environment has a domain.
pub fn provision_plan(plan: &HostclassPlan) -> Plan<ProvisionAction> {
    let hc = &plan.hostclass;
    let mut b = PlanBuilder::new();
    let mut before_group = Vec::new();
    if let Some(elb) = &plan.elb {
        let key = format!("load balancer {}", elb.name);
        let lb = b.add(
            ProvisionAction::EnsureLoadBalancer {
                key: key.clone(),
                name: elb.name.clone(),
                hostclass: hc.clone(),
            },
            &[],
        );
        before_group.push(lb);
        let names: Vec<String> = elb.cname.iter().chain(elb.alias.iter()).cloned().collect();
        if let (Some(domain), false) = (&plan.user_data.domain_name, names.is_empty()) {
            b.add(
                ProvisionAction::UpsertDnsNames {
                    key: format!("DNS names of {}", elb.name),
                    names,
                    domain: domain.clone(),
                    load_balancer: elb.name.clone(),
                },
                &[lb],
            );
        }
    }
    if let Some(tg) = &plan.target_group {
        before_group.push(b.add(
            ProvisionAction::EnsureTargetGroup {
                key: format!("target group {}", tg.name),
                name: tg.name.clone(),
                hostclass: hc.clone(),
            },
            &[],
        ));
    }
    if !plan.floating_ips.is_empty() {
        before_group.push(
            b.add(
                ProvisionAction::EnsureInterfaces {
                    key: format!("floating interfaces of {hc}"),
                    hostclass: hc.clone(),
                    addresses: plan
                        .floating_ips
                        .iter()
                        .map(|(ip, _)| ip.to_string())
                        .collect(),
                },
                &[],
            ),
        );
    }
    before_group.push(b.add(
        ProvisionAction::PutLaunchTemplate {
            key: format!("launch template {}", plan.group_name),
            name: plan.group_name.clone(),
            hostclass: hc.clone(),
            ami_id: plan.ami_id.clone(),
        },
        &[],
    ));
    let created = matches!(plan.action, GroupAction::Create { .. });
    let group = match &plan.action {
        GroupAction::Create { sizes } => ProvisionAction::CreateGroup {
            key: format!("autoscaling group {}", plan.group_name),
            name: plan.group_name.clone(),
            hostclass: hc.clone(),
            min: sizes.min,
            desired: sizes.desired,
            max: sizes.max,
        },
        GroupAction::Update { sizes, .. } => ProvisionAction::UpdateGroup {
            name: plan.group_name.clone(),
            hostclass: hc.clone(),
            min: sizes.min,
            desired: sizes.desired,
            max: sizes.max,
        },
    };
    let group = b.add(group, &before_group);
    for p in &plan.policies {
        b.add(
            ProvisionAction::PutScalingPolicy {
                group: plan.group_name.clone(),
                policy: p.name.clone(),
            },
            &[group],
        );
    }
    // A running group's schedule is compared with the configured one even when that is
    // empty (recurring actions may have to go); a new group has none.
    if !created || !plan.scheduled_actions.is_empty() {
        b.add(
            ProvisionAction::PutSchedule {
                group: plan.group_name.clone(),
                actions: plan.scheduled_actions.len(),
            },
            &[group],
        );
    }
    b.build()
}

#[cfg(test)]
mod tests;
