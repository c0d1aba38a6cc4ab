//! The steps of a spinup or spindown as the one plan printer shows them (`--dry-run`, text
//! or the `asiaq.plan/1` document). Groups of one pipeline sequence start once every group
//! of the sequence before is up; a group starts once its launch template exists; a
//! hostclass's load balancer and target groups go once its groups are gone.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Change, Plan, PlanAction, PlanBuilder, Resource};
use crate::provision::{GroupAction, HostclassPlan};

/// One change of `aws spinup`/`spindown`/`spindownandup`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action")]
pub enum HostsAction {
    CreateLaunchTemplate {
        name: String,
        hostclass: String,
        ami_id: String,
        instance_type: String,
    },
    CreateGroup {
        name: String,
        hostclass: String,
        sequence: u32,
        min: u32,
        desired: u32,
        max: u32,
    },
    UpdateGroup {
        name: String,
        hostclass: String,
        sequence: u32,
        min: Option<u32>,
        desired: Option<u32>,
        max: Option<u32>,
    },
    /// Deletes the group with its instances and its launch template.
    DeleteGroup {
        name: String,
        hostclass: String,
        instances: usize,
    },
    /// Deletes every DNS record (in any hosted zone) whose value is one of `values`: the
    /// CNAMEs of the load balancers about to go, in one pass over the zones.
    DeleteDnsRecords {
        values: Vec<String>,
    },
    DeleteLoadBalancer {
        name: String,
        hostclass: String,
    },
    DeleteTargetGroup {
        name: String,
        hostclass: String,
    },
    /// DeleteAlarms of up to 100 alarms of the spun-down hostclasses.
    DeleteAlarms {
        names: Vec<String>,
    },
    DeleteMetricFilter {
        log_group: String,
        name: String,
    },
    DeleteLogGroup {
        name: String,
    },
}

/// A requested group size as the plans print it: the number, or `-` when left as it is.
pub(super) fn size(v: Option<u32>) -> String {
    v.map_or_else(|| "-".to_string(), |n| n.to_string())
}

impl fmt::Display for HostsAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use HostsAction::*;
        match self {
            CreateLaunchTemplate {
                name,
                ami_id,
                instance_type,
                ..
            } => write!(f, "create launch template {name} ({ami_id}, {instance_type})"),
            CreateGroup {
                name,
                hostclass,
                sequence,
                min,
                desired,
                max,
            } => write!(
                f,
                "sequence {sequence} {hostclass}: create group {name} (min {min}, desired {desired}, max {max})"
            ),
            UpdateGroup {
                name,
                hostclass,
                sequence,
                min,
                desired,
                max,
            } => write!(
                f,
                "sequence {sequence} {hostclass}: update group {name} (min {}, desired {}, max {})",
                size(*min),
                size(*desired),
                size(*max)
            ),
            DeleteGroup {
                name, instances, ..
            } => write!(f, "delete group {name} ({instances} instances)"),
            DeleteDnsRecords { values } => {
                write!(f, "delete the DNS records pointing at {}", values.join(", "))
            }
            DeleteLoadBalancer { name, hostclass } => {
                write!(f, "delete load balancer {name} ({hostclass})")
            }
            DeleteTargetGroup { name, hostclass } => {
                write!(f, "delete target group {name} ({hostclass})")
            }
            DeleteAlarms { names } => write!(f, "delete alarm(s) {}", names.join(", ")),
            DeleteMetricFilter { log_group, name } => {
                write!(f, "delete metric filter {name} of {log_group}")
            }
            DeleteLogGroup { name } => write!(f, "delete log group {name}"),
        }
    }
}

impl PlanAction for HostsAction {
    fn resource(&self) -> Resource {
        use HostsAction::*;
        match self {
            CreateLaunchTemplate { name, .. } => Resource::new("launch template", name),
            CreateGroup { name, .. } | UpdateGroup { name, .. } | DeleteGroup { name, .. } => {
                Resource::new("autoscaling group", name)
            }
            DeleteDnsRecords { .. } => Resource::new("DNS records", "load balancer CNAMEs"),
            DeleteLoadBalancer { name, .. } => Resource::new("load balancer", name),
            DeleteTargetGroup { name, .. } => Resource::new("target group", name),
            DeleteAlarms { names } => Resource::new("alarms", names.join(",")),
            DeleteMetricFilter { log_group, name } => {
                Resource::new("metric filter", format!("{log_group} {name}"))
            }
            DeleteLogGroup { name } => Resource::new("log group", name),
        }
    }

    fn change(&self) -> Change {
        use HostsAction::*;
        match self {
            CreateLaunchTemplate { .. } | CreateGroup { .. } => Change::Create,
            UpdateGroup { .. } => Change::update(),
            DeleteGroup { .. }
            | DeleteDnsRecords { .. }
            | DeleteLoadBalancer { .. }
            | DeleteTargetGroup { .. }
            | DeleteAlarms { .. }
            | DeleteMetricFilter { .. }
            | DeleteLogGroup { .. } => Change::Delete,
        }
    }
}

/// The plan of a spinup: per hostclass its launch template then its group, sequence after
/// sequence.
pub fn spinup_plan(plans: &[HostclassPlan]) -> Plan<HostsAction> {
    let mut b = PlanBuilder::new();
    let mut by_sequence: BTreeMap<u32, Vec<&HostclassPlan>> = BTreeMap::new();
    for p in plans {
        by_sequence.entry(p.sequence).or_default().push(p);
    }
    let mut previous: Vec<usize> = Vec::new();
    for group in by_sequence.values() {
        let mut this = Vec::new();
        for p in group {
            let template = b.add(
                HostsAction::CreateLaunchTemplate {
                    name: p.group_name.clone(),
                    hostclass: p.hostclass.clone(),
                    ami_id: p.ami_id.clone(),
                    instance_type: p.instance_type.clone(),
                },
                &previous,
            );
            let action = match &p.action {
                GroupAction::Create { sizes } => HostsAction::CreateGroup {
                    name: p.group_name.clone(),
                    hostclass: p.hostclass.clone(),
                    sequence: p.sequence,
                    min: sizes.min,
                    desired: sizes.desired,
                    max: sizes.max,
                },
                GroupAction::Update { sizes, .. } => HostsAction::UpdateGroup {
                    name: p.group_name.clone(),
                    hostclass: p.hostclass.clone(),
                    sequence: p.sequence,
                    min: sizes.min,
                    desired: sizes.desired,
                    max: sizes.max,
                },
            };
            this.push(b.add(action, &[template]));
        }
        previous = this;
    }
    b.build()
}

/// A group to spin down: (name, hostclass, number of instances).
pub type GroupToDelete = (String, String, usize);

/// The plan of a spindown: the groups, then the DNS records pointing at the load
/// balancers (`dns_values`), then each hostclass's load balancers (`(hostclass, name)`),
/// then its target groups, each once its hostclass's groups are gone.
/// The deletions of what watched spun-down hostclasses (their alarm plan and their log
/// metrics plan) as spindown steps: alarms, filters, then each log group after its filters.
pub fn monitoring_deletes(
    alarms: &Plan<crate::plan::alarms::AlarmAction>,
    logs: &Plan<crate::plan::log_metrics::LogAction>,
) -> Plan<HostsAction> {
    use crate::plan::alarms::AlarmAction;
    use crate::plan::log_metrics::LogAction;
    let mut b = PlanBuilder::new();
    for s in &alarms.steps {
        if let AlarmAction::DeleteAlarms { names } = &s.action {
            b.add(
                HostsAction::DeleteAlarms {
                    names: names.clone(),
                },
                &[],
            );
        }
    }
    let mut filters: Vec<(String, usize)> = Vec::new();
    for s in &logs.steps {
        if let LogAction::DeleteMetricFilter { log_group, name } = &s.action {
            let id = b.add(
                HostsAction::DeleteMetricFilter {
                    log_group: log_group.clone(),
                    name: name.clone(),
                },
                &[],
            );
            filters.push((log_group.clone(), id));
        }
    }
    for s in &logs.steps {
        if let LogAction::DeleteLogGroup { name } = &s.action {
            let after: Vec<usize> = filters
                .iter()
                .filter(|(g, _)| g == name)
                .map(|(_, id)| *id)
                .collect();
            b.add(HostsAction::DeleteLogGroup { name: name.clone() }, &after);
        }
    }
    b.build()
}

pub fn spindown_plan(
    groups: &[GroupToDelete],
    dns_values: &[String],
    load_balancers: &[(String, String)],
    target_groups: &[(String, String)],
) -> Plan<HostsAction> {
    let mut b = PlanBuilder::new();
    let mut group_steps: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut all_groups = Vec::new();
    for (name, hostclass, instances) in groups {
        let id = b.add(
            HostsAction::DeleteGroup {
                name: name.clone(),
                hostclass: hostclass.clone(),
                instances: *instances,
            },
            &[],
        );
        group_steps.entry(hostclass).or_default().push(id);
        all_groups.push(id);
    }
    let records = (!dns_values.is_empty()).then(|| {
        b.add(
            HostsAction::DeleteDnsRecords {
                values: dns_values.to_vec(),
            },
            &all_groups,
        )
    });
    let mut balancers: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (hostclass, name) in load_balancers {
        let mut after = group_steps
            .get(hostclass.as_str())
            .cloned()
            .unwrap_or_default();
        after.extend(records);
        let id = b.add(
            HostsAction::DeleteLoadBalancer {
                name: name.clone(),
                hostclass: hostclass.clone(),
            },
            &after,
        );
        balancers.entry(hostclass).or_default().push(id);
    }
    for (hostclass, name) in target_groups {
        let mut after = group_steps
            .get(hostclass.as_str())
            .cloned()
            .unwrap_or_default();
        after.extend(
            balancers
                .get(hostclass.as_str())
                .cloned()
                .unwrap_or_default(),
        );
        b.add(
            HostsAction::DeleteTargetGroup {
                name: name.clone(),
                hostclass: hostclass.clone(),
            },
            &after,
        );
    }
    b.build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::render;

    #[test]
    fn spindown_deletes_balancers_after_their_groups() {
        let p = spindown_plan(
            &[
                ("demo_web_1".into(), "web".into(), 2),
                ("demo_db_1".into(), "db".into(), 1),
            ],
            &["demo-web-1.elb.example.com".into()],
            &[("web".into(), "demo-web".into())],
            &[("web".into(), "demo-web-tg".into())],
        );
        assert_eq!(p.len(), 5);
        // Records after every group; the balancer after its groups and the records; the
        // target group after the balancer.
        assert!(p.depends_on(2, 0) && p.depends_on(2, 1));
        assert!(p.depends_on(3, 0) && p.depends_on(3, 2) && p.depends_on(4, 3));
        assert!(!p.steps[3].after.contains(&1));
        let text = render::text(&p);
        assert!(
            text.contains(
                "autoscaling group demo_web_1\n  - delete group demo_web_1 (2 instances)\n"
            ),
            "{text}"
        );
        assert!(
            text.ends_with("Plan: 0 to create, 0 to change, 5 to delete.\n"),
            "{text}"
        );
        let doc = render::document("aws spindown", &p, &[], true);
        let json = serde_json::to_string(&doc).unwrap();
        let back: render::PlanDocument = serde_json::from_str(&json).unwrap();
        assert_eq!(back.steps.steps[0].action["action"], "DeleteGroup");
    }
}
