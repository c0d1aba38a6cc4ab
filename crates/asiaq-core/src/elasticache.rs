//! ElastiCache replication groups (spec §4.20): their names, the automatic-failover rule,
//! and the plans of `elasticache update` and `delete`, computed from the desired groups and
//! what AWS has. No I/O.

use std::fmt;

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

use crate::plan::{Change, Plan, PlanAction, PlanBuilder, Resource};

/// Tags that keep what asiaq last set on a group, read when the group's member cache
/// clusters cannot be described (their values are not part of the replication group).
pub const TAG_ENGINE_VERSION: &str = "asiaq:engine_version";
pub const TAG_PARAMETER_GROUP: &str = "asiaq:parameter_group";
pub const TAG_MAINTENANCE_WINDOW: &str = "asiaq:maintenance_window";

/// The engines asiaq creates groups with.
pub const ENGINES: [&str; 2] = ["redis", "valkey"];

/// The replication group id: `'A' + md5("<env>-<cluster>")[:15]` (16 characters, starting
/// with a letter, as ElastiCache requires).
pub fn replication_group_id(env: &str, cluster: &str) -> String {
    let hex: String = Md5::digest(description(env, cluster).as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("A{}", &hex[..15])
}

/// The group's description, its human key: `<env>-<cluster>`.
pub fn description(env: &str, cluster: &str) -> String {
    format!("{env}-{cluster}")
}

/// The cache subnet group of a metanetwork: `<env>-<meta_network>`.
pub fn subnet_group_name(env: &str, meta_network: &str) -> String {
    format!("{env}-{meta_network}")
}

/// The CNAME of a group: `<cluster>-<env>.<domain>`.
pub fn cname(cluster: &str, env: &str, domain: &str) -> String {
    format!("{cluster}-{env}.{}", domain.trim_end_matches('.'))
}

/// The numeric parts of a version (`5.0.6` -> [5, 0, 6]; `7.x` -> [7]); `None` when it
/// does not start with a number.
fn version_parts(version: &str) -> Option<Vec<u64>> {
    let parts: Vec<u64> = version
        .split('.')
        .map_while(|p| p.parse::<u64>().ok())
        .collect();
    (!parts.is_empty()).then_some(parts)
}

/// Whether `version` is at least `min` (missing parts count as 0).
fn at_least(version: &str, min: [u64; 3]) -> bool {
    let Some(p) = version_parts(version) else {
        return false;
    };
    let v = [0, 1, 2].map(|i| p.get(i).copied().unwrap_or(0));
    v >= min
}

/// Automatic failover (spec §4.20): not on `t1`/`t2` nodes, only from version 2.8.6, and
/// only with more than one node.
pub fn automatic_failover(node_type: &str, engine_version: &str, num_nodes: u32) -> bool {
    !node_type.contains("t1.")
        && !node_type.contains("t2.")
        && at_least(engine_version, [2, 8, 6])
        && num_nodes > 1
}

/// One `[<env>:<cluster>]` of disco_elasticache.ini, defaults applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CacheCluster {
    pub env: String,
    pub name: String,
    pub instance_type: String,
    /// `redis` (the default) or `valkey`.
    pub engine: String,
    pub engine_version: String,
    pub port: i32,
    pub parameter_group: String,
    pub num_nodes: u32,
    pub maintenance_window: String,
    pub meta_network: crate::syntax::MetaNetworkName,
    /// Where its CNAME goes; `None` when neither the section nor disco_aws.ini names one.
    pub domain_name: Option<String>,
    pub product_line: Option<String>,
}

/// One group as the configuration wants it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredGroup {
    pub id: String,
    pub description: String,
    pub cluster: String,
    pub engine: String,
    pub engine_version: String,
    pub node_type: String,
    pub port: i32,
    pub parameter_group: String,
    pub num_nodes: u32,
    pub maintenance_window: String,
    pub subnet_group: String,
    pub security_group_id: String,
    pub automatic_failover: bool,
    /// Tags: environment, cluster, product_line and the asiaq: values.
    pub tags: Vec<(String, String)>,
}

impl DesiredGroup {
    /// The tags of a group: what finds it again, and the values asiaq set.
    pub fn tags_for(
        env: &str,
        cluster: &str,
        product_line: Option<&str>,
        engine_version: &str,
        parameter_group: &str,
        maintenance_window: &str,
    ) -> Vec<(String, String)> {
        let mut tags = vec![
            ("environment".to_string(), env.to_string()),
            ("cluster".to_string(), cluster.to_string()),
        ];
        if let Some(p) = product_line.filter(|p| !p.is_empty()) {
            tags.push(("product_line".to_string(), p.to_string()));
        }
        tags.extend([
            (TAG_ENGINE_VERSION.to_string(), engine_version.to_string()),
            (TAG_PARAMETER_GROUP.to_string(), parameter_group.to_string()),
            (
                TAG_MAINTENANCE_WINDOW.to_string(),
                maintenance_window.to_string(),
            ),
        ]);
        tags
    }
}

/// One group as AWS has it. The engine version, parameter group and maintenance window
/// come from a member cache cluster, or else from the group's asiaq: tags (`None`: unknown).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedGroup {
    pub id: String,
    pub description: String,
    pub status: String,
    pub engine: String,
    pub node_type: String,
    pub automatic_failover: bool,
    pub engine_version: Option<String>,
    pub parameter_group: Option<String>,
    pub maintenance_window: Option<String>,
    /// Node group members (the nodes).
    pub members: usize,
    pub primary_endpoint: Option<String>,
}

/// Where the CNAME goes: the hosted zone of the domain and what the name is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsTarget {
    pub zone: String,
    pub zone_id: String,
    pub name: String,
    /// The CNAME's current single value, if the name has one.
    pub current: Option<String>,
}

/// One changed setting of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub before: String,
    pub after: String,
}

impl fmt::Display for FieldChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} -> {}", self.field, self.before, self.after)
    }
}

/// One change of `elasticache update` / `delete`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action")]
pub enum CacheAction {
    CreateSubnetGroup {
        name: String,
        subnet_ids: Vec<String>,
    },
    /// Creates the group and waits until it is available; the plan then knows its primary
    /// endpoint as `${endpoint:<id>}`.
    CreateReplicationGroup {
        key: String,
        group: DesiredGroup,
    },
    /// ModifyReplicationGroup with ApplyImmediately, then the group's asiaq: tags.
    ModifyReplicationGroup {
        id: String,
        description: String,
        changes: Vec<FieldChange>,
        group: DesiredGroup,
    },
    /// UPSERT of the CNAME in the zone (through the Route53 module).
    WriteCname {
        zone: String,
        zone_id: String,
        name: String,
        value: String,
        before: Option<String>,
    },
    /// Deletes every CNAME, in every zone, that points at the group's endpoint.
    DeleteCnames {
        endpoint: String,
    },
    DeleteReplicationGroup {
        id: String,
        description: String,
    },
}

/// The plan key of a created group's endpoint.
pub fn endpoint_key(id: &str) -> String {
    format!("endpoint:{id}")
}

impl fmt::Display for CacheAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CacheAction::CreateSubnetGroup { name, subnet_ids } => write!(
                f,
                "create cache subnet group {name} ({})",
                subnet_ids.join(", ")
            ),
            CacheAction::CreateReplicationGroup { group: g, .. } => write!(
                f,
                "create {} {} replication group {} ({}, {} node(s) of {}, port {}, parameter group {}, maintenance {}, automatic failover {}, subnet group {})",
                g.engine,
                g.engine_version,
                g.id,
                g.description,
                g.num_nodes,
                g.node_type,
                g.port,
                g.parameter_group,
                g.maintenance_window,
                on_off(g.automatic_failover),
                g.subnet_group
            ),
            CacheAction::ModifyReplicationGroup {
                id,
                description,
                changes,
                ..
            } => {
                let list: Vec<String> = changes.iter().map(ToString::to_string).collect();
                write!(f, "modify {id} ({description}): {}", list.join("; "))
            }
            CacheAction::WriteCname {
                name,
                value,
                before,
                ..
            } => match before {
                Some(b) => write!(f, "CNAME {name}: {b} -> {value}"),
                None => write!(f, "CNAME {name} -> {value}"),
            },
            CacheAction::DeleteCnames { endpoint } => {
                write!(f, "delete the CNAMEs pointing at {endpoint}")
            }
            CacheAction::DeleteReplicationGroup { id, description } => {
                write!(f, "delete replication group {id} ({description})")
            }
        }
    }
}

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

impl PlanAction for CacheAction {
    fn resource(&self) -> Resource {
        match self {
            CacheAction::CreateSubnetGroup { name, .. } => {
                Resource::new("cache subnet group", name.as_str())
            }
            CacheAction::CreateReplicationGroup { group, .. } => {
                Resource::new("replication group", group.description.as_str())
            }
            CacheAction::ModifyReplicationGroup { description, .. }
            | CacheAction::DeleteReplicationGroup { description, .. } => {
                Resource::new("replication group", description.as_str())
            }
            CacheAction::WriteCname { name, zone, .. } => {
                Resource::new("DNS record", format!("CNAME {name} in {zone}"))
            }
            CacheAction::DeleteCnames { endpoint } => {
                Resource::new("DNS records", format!("CNAMEs of {endpoint}"))
            }
        }
    }

    fn change(&self) -> Change {
        match self {
            CacheAction::CreateSubnetGroup { .. } | CacheAction::CreateReplicationGroup { .. } => {
                Change::Create
            }
            CacheAction::WriteCname { before: None, .. } => Change::Create,
            CacheAction::WriteCname {
                before: Some(b),
                value,
                ..
            } => Change::Update {
                before: Some(b.clone()),
                after: Some(value.clone()),
            },
            // The description lists each field's before -> after.
            CacheAction::ModifyReplicationGroup { .. } => Change::update(),
            CacheAction::DeleteCnames { .. } | CacheAction::DeleteReplicationGroup { .. } => {
                Change::Delete
            }
        }
    }

    fn creates(&self) -> Option<&str> {
        match self {
            CacheAction::CreateReplicationGroup { key, .. } => Some(key),
            _ => None,
        }
    }
}

/// What `update` works from, for one group.
#[derive(Debug, Clone)]
pub struct UpdateInput<'a> {
    pub desired: &'a DesiredGroup,
    pub observed: Option<&'a ObservedGroup>,
    /// The CNAME's zone and current value; `None` when the domain has no hosted zone.
    pub dns: Option<&'a DnsTarget>,
}

/// The subnet group every desired group needs, when it is missing: `(name, subnet ids)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingSubnetGroup {
    pub name: String,
    pub subnet_ids: Vec<String>,
}

fn field(
    changes: &mut Vec<FieldChange>,
    name: &str,
    before: Option<&str>,
    after: &str,
    same: fn(&str, &str) -> bool,
) {
    if before.is_some_and(|b| same(b, after)) {
        return;
    }
    changes.push(FieldChange {
        field: name.to_string(),
        before: before.unwrap_or("unknown").to_string(),
        after: after.to_string(),
    });
}

fn exact(a: &str, b: &str) -> bool {
    a == b
}

fn same_window(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The settings of `observed` that differ from `desired`, each before -> after: engine
/// version, parameter group, maintenance window, automatic failover, node type.
pub fn field_changes(desired: &DesiredGroup, observed: &ObservedGroup) -> Vec<FieldChange> {
    let mut c = Vec::new();
    field(
        &mut c,
        "engine_version",
        observed.engine_version.as_deref(),
        &desired.engine_version,
        exact,
    );
    field(
        &mut c,
        "parameter_group",
        observed.parameter_group.as_deref(),
        &desired.parameter_group,
        exact,
    );
    field(
        &mut c,
        "maintenance_window",
        observed.maintenance_window.as_deref(),
        &desired.maintenance_window,
        same_window,
    );
    field(
        &mut c,
        "automatic_failover",
        Some(on_off(observed.automatic_failover)),
        on_off(desired.automatic_failover),
        exact,
    );
    field(
        &mut c,
        "node_type",
        Some(&observed.node_type),
        &desired.node_type,
        exact,
    );
    c
}

/// The plan of `update` and the notes to print with it. Missing subnet groups first, then
/// per group: create it (waiting for it), or modify what differs when it is `available`;
/// then its CNAME when it does not point at the endpoint yet. Nothing when all is so.
pub fn update_plan(
    subnet_groups: &[MissingSubnetGroup],
    groups: &[UpdateInput<'_>],
) -> (Plan<CacheAction>, Vec<String>) {
    let mut b = PlanBuilder::new();
    let mut notes = Vec::new();
    let mut subnet_steps = std::collections::BTreeMap::new();
    for s in subnet_groups {
        let id = b.add(
            CacheAction::CreateSubnetGroup {
                name: s.name.clone(),
                subnet_ids: s.subnet_ids.clone(),
            },
            &[],
        );
        subnet_steps.insert(s.name.clone(), id);
    }
    for g in groups {
        let d = g.desired;
        let (endpoint, after) = match g.observed {
            None => {
                let deps: Vec<usize> = subnet_steps
                    .get(&d.subnet_group)
                    .into_iter()
                    .copied()
                    .collect();
                let create = CacheAction::CreateReplicationGroup {
                    key: endpoint_key(&d.id),
                    group: d.clone(),
                };
                let step = b.add(create, &deps);
                (crate::plan::new_ref(&endpoint_key(&d.id)), vec![step])
            }
            Some(o) if o.status != "available" => {
                notes.push(format!(
                    "replication group {} ({}) is {}: not updated (a group is updated only when available)",
                    o.id, o.description, o.status
                ));
                continue;
            }
            Some(o) => {
                let changes = field_changes(d, o);
                let mut after = Vec::new();
                if !changes.is_empty() {
                    after.push(b.add(
                        CacheAction::ModifyReplicationGroup {
                            id: o.id.clone(),
                            description: o.description.clone(),
                            changes,
                            group: d.clone(),
                        },
                        &[],
                    ));
                }
                let Some(e) = o.primary_endpoint.clone() else {
                    notes.push(format!(
                        "replication group {} has no primary endpoint: no CNAME written",
                        o.id
                    ));
                    continue;
                };
                (e, after)
            }
        };
        let Some(dns) = g.dns else {
            notes.push(format!(
                "no hosted zone serves the domain of {}: its CNAME is not written",
                d.description
            ));
            continue;
        };
        let same = dns
            .current
            .as_deref()
            .is_some_and(|c| c.trim_end_matches('.') == endpoint.trim_end_matches('.'));
        if !same {
            b.add(
                CacheAction::WriteCname {
                    zone: dns.zone.clone(),
                    zone_id: dns.zone_id.clone(),
                    name: dns.name.clone(),
                    value: endpoint,
                    before: dns.current.clone(),
                },
                &after,
            );
        }
    }
    (b.build(), notes)
}

/// The plan of `delete`: the CNAMEs pointing at the group's endpoint, then the group. A
/// group already `deleting` is not deleted again (a re-run only waits); none at all is
/// nothing to do. The notes say why a plan is empty.
pub fn delete_plan(
    description: &str,
    observed: Option<&ObservedGroup>,
) -> (Plan<CacheAction>, Vec<String>) {
    let mut b = PlanBuilder::new();
    let mut notes = Vec::new();
    match observed {
        None => notes.push(format!("there is no replication group {description}")),
        Some(o) if o.status == "deleting" => {
            notes.push(format!(
                "replication group {} ({description}) is already being deleted",
                o.id
            ));
        }
        Some(o) => {
            let mut after = Vec::new();
            if let Some(e) = &o.primary_endpoint {
                after.push(b.add(
                    CacheAction::DeleteCnames {
                        endpoint: e.clone(),
                    },
                    &[],
                ));
            }
            b.add(
                CacheAction::DeleteReplicationGroup {
                    id: o.id.clone(),
                    description: o.description.clone(),
                },
                &after,
            );
        }
    }
    (b.build(), notes)
}

/// One line of `list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CacheRow {
    pub description: String,
    pub status: String,
    /// The number of nodes when available, else `N/A` (as the original printed).
    pub size: String,
    pub id: String,
    pub endpoint: Option<String>,
}

impl CacheRow {
    /// `Description(25) Status size`, as the original's columns.
    pub fn line(&self) -> String {
        format!("{:<25} {:<12} {}", self.description, self.status, self.size)
    }
}

/// The rows of `list`: the groups of environment `env` (description `<env>-…` whose id is
/// the one asiaq derives from it), by description.
pub fn list_rows(env: &str, groups: &[ObservedGroup]) -> Vec<CacheRow> {
    let prefix = format!("{env}-");
    let mut rows: Vec<CacheRow> = groups
        .iter()
        .filter(|g| {
            g.description
                .strip_prefix(&prefix)
                .is_some_and(|cluster| replication_group_id(env, cluster) == g.id)
        })
        .map(|g| CacheRow {
            description: g.description.clone(),
            status: g.status.clone(),
            size: if g.status == "available" {
                g.members.to_string()
            } else {
                "N/A".to_string()
            },
            id: g.id.clone(),
            endpoint: g.primary_endpoint.clone(),
        })
        .collect();
    rows.sort_by(|a, b| a.description.cmp(&b.description));
    rows
}

/// What a run did, one line per step (`+ create ...`, `~ modify ...`), or that nothing
/// needed to change.
pub fn outcome_lines(plan: &Plan<CacheAction>) -> Vec<String> {
    if plan.is_empty() {
        return vec!["no change: ElastiCache is as configured".to_string()];
    }
    plan.steps
        .iter()
        .map(|s| format!("{} {}", s.action.change().sign(), s.action))
        .collect()
}

/// The question before deleting a group of an environment that is not a sandbox.
pub fn delete_question(description: &str, env: &str, env_type: Option<&str>) -> Option<String> {
    (env_type != Some("sandbox")).then(|| {
        format!(
            "Delete ElastiCache replication group {description} of environment {env} (type {})?",
            env_type.unwrap_or("unknown")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired() -> DesiredGroup {
        DesiredGroup {
            id: replication_group_id("demo", "cache"),
            description: "demo-cache".into(),
            cluster: "cache".into(),
            engine: "redis".into(),
            engine_version: "5.0.6".into(),
            node_type: "cache.t2.micro".into(),
            port: 6379,
            parameter_group: "default.redis5.0".into(),
            num_nodes: 1,
            maintenance_window: "sat:05:00-sat:06:00".into(),
            subnet_group: "demo-intranet".into(),
            security_group_id: "sg-1".into(),
            automatic_failover: false,
            tags: Vec::new(),
        }
    }

    fn observed() -> ObservedGroup {
        ObservedGroup {
            id: replication_group_id("demo", "cache"),
            description: "demo-cache".into(),
            status: "available".into(),
            engine: "redis".into(),
            node_type: "cache.t2.micro".into(),
            automatic_failover: false,
            engine_version: Some("5.0.6".into()),
            parameter_group: Some("default.redis5.0".into()),
            maintenance_window: Some("sat:05:00-sat:06:00".into()),
            members: 1,
            primary_endpoint: Some("master.x.cache.amazonaws.com".into()),
        }
    }

    fn dns(current: Option<&str>) -> DnsTarget {
        DnsTarget {
            zone: "sandbox.example.com.".into(),
            zone_id: "Z1".into(),
            name: "cache-demo.sandbox.example.com".into(),
            current: current.map(str::to_string),
        }
    }

    fn texts(p: &Plan<CacheAction>) -> Vec<String> {
        p.steps.iter().map(|s| s.action.to_string()).collect()
    }

    #[test]
    fn names_follow_the_original() {
        // md5("demo-cache") = 3c0c6a0b8f1f0b1c...: 'A' + its first 15 hex digits.
        let id = replication_group_id("demo", "cache");
        assert_eq!(id.len(), 16);
        assert!(id.starts_with('A'));
        let hex: String = Md5::digest(b"demo-cache")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(&id[1..], &hex[..15]);
        assert_eq!(subnet_group_name("demo", "intranet"), "demo-intranet");
        assert_eq!(
            cname("cache", "demo", "sandbox.example.com."),
            "cache-demo.sandbox.example.com"
        );
    }

    #[test]
    fn automatic_failover_rule() {
        assert!(automatic_failover("cache.m5.large", "2.8.6", 2));
        assert!(automatic_failover("cache.m5.large", "6.2", 3));
        assert!(!automatic_failover("cache.m5.large", "2.8.5", 2));
        assert!(!automatic_failover("cache.m5.large", "2.8", 2));
        assert!(!automatic_failover("cache.t2.micro", "6.2", 2));
        assert!(!automatic_failover("cache.t1.micro", "6.2", 2));
        assert!(!automatic_failover("cache.m5.large", "6.2", 1));
        assert!(!automatic_failover("cache.m5.large", "latest", 2));
        assert!(automatic_failover("cache.t3.micro", "7.x", 2));
    }

    #[test]
    fn a_missing_group_is_created_then_named() {
        let d = desired();
        let missing = [MissingSubnetGroup {
            name: "demo-intranet".into(),
            subnet_ids: vec!["subnet-1".into()],
        }];
        let (p, notes) = update_plan(
            &missing,
            &[UpdateInput {
                desired: &d,
                observed: None,
                dns: Some(&dns(None)),
            }],
        );
        assert!(notes.is_empty());
        assert_eq!(p.len(), 3);
        assert_eq!(p.steps[1].after, [0]);
        assert_eq!(p.steps[2].after, [1]);
        let t = texts(&p);
        assert!(
            t[1].starts_with("create redis 5.0.6 replication group A"),
            "{t:?}"
        );
        assert_eq!(
            t[2],
            format!(
                "CNAME cache-demo.sandbox.example.com -> ${{endpoint:{}}}",
                d.id
            )
        );
    }

    #[test]
    fn an_unchanged_group_plans_nothing() {
        let (d, o) = (desired(), observed());
        let current = dns(Some("master.x.cache.amazonaws.com."));
        let (p, notes) = update_plan(
            &[],
            &[UpdateInput {
                desired: &d,
                observed: Some(&o),
                dns: Some(&current),
            }],
        );
        assert!(p.is_empty(), "{p}");
        assert!(notes.is_empty());
    }

    #[test]
    fn each_changed_field_is_shown_before_and_after() {
        let mut d = desired();
        d.engine_version = "6.2".into();
        d.maintenance_window = "SUN:01:00-sun:02:00".into();
        let mut o = observed();
        o.parameter_group = None;
        let (p, _) = update_plan(
            &[],
            &[UpdateInput {
                desired: &d,
                observed: Some(&o),
                dns: Some(&dns(Some("old.example.com"))),
            }],
        );
        assert_eq!(
            texts(&p),
            [
                format!("modify {} (demo-cache): engine_version: 5.0.6 -> 6.2; parameter_group: unknown -> default.redis5.0; maintenance_window: sat:05:00-sat:06:00 -> SUN:01:00-sun:02:00", d.id),
                "CNAME cache-demo.sandbox.example.com: old.example.com -> master.x.cache.amazonaws.com".to_string(),
            ]
        );
        assert_eq!(p.steps[1].after, [0]);
        // A window differing only in case is the same window.
        let mut o2 = observed();
        o2.maintenance_window = Some("SAT:05:00-SAT:06:00".into());
        assert!(field_changes(&desired(), &o2).is_empty());
    }

    #[test]
    fn a_busy_group_is_left_alone() {
        let d = desired();
        let mut o = observed();
        o.status = "modifying".into();
        o.engine_version = Some("4.0".into());
        let (p, notes) = update_plan(
            &[],
            &[UpdateInput {
                desired: &d,
                observed: Some(&o),
                dns: None,
            }],
        );
        assert!(p.is_empty());
        assert!(notes[0].contains("is modifying: not updated"), "{notes:?}");
    }

    #[test]
    fn no_zone_means_no_cname_and_a_note() {
        let d = desired();
        let o = observed();
        let (p, notes) = update_plan(
            &[],
            &[UpdateInput {
                desired: &d,
                observed: Some(&o),
                dns: None,
            }],
        );
        assert!(p.is_empty());
        assert!(notes[0].contains("no hosted zone"), "{notes:?}");
    }

    #[test]
    fn delete_removes_cnames_then_the_group_once() {
        let o = observed();
        let (p, notes) = delete_plan("demo-cache", Some(&o));
        assert!(notes.is_empty());
        assert_eq!(
            texts(&p),
            [
                "delete the CNAMEs pointing at master.x.cache.amazonaws.com".to_string(),
                format!("delete replication group {} (demo-cache)", o.id)
            ]
        );
        assert_eq!(p.steps[1].after, [0]);
        let mut deleting = observed();
        deleting.status = "deleting".into();
        let (p, notes) = delete_plan("demo-cache", Some(&deleting));
        assert!(p.is_empty());
        assert!(notes[0].contains("already being deleted"));
        let (p, notes) = delete_plan("demo-cache", None);
        assert!(p.is_empty());
        assert_eq!(notes, ["there is no replication group demo-cache"]);
    }

    #[test]
    fn list_keeps_the_environments_groups() {
        let mine = observed();
        let mut other_env = observed();
        other_env.description = "prod-cache".into();
        other_env.id = replication_group_id("prod", "cache");
        let mut foreign = observed();
        foreign.description = "demo-hand-made".into();
        foreign.id = "handmade".into();
        let mut busy = observed();
        busy.description = "demo-b".into();
        busy.id = replication_group_id("demo", "b");
        busy.status = "creating".into();
        let rows = list_rows("demo", &[mine, other_env, foreign, busy]);
        let lines: Vec<String> = rows.iter().map(CacheRow::line).collect();
        assert_eq!(
            lines,
            [
                "demo-b                    creating     N/A",
                "demo-cache                available    1"
            ]
        );
    }

    #[test]
    fn outcome_says_what_was_done_or_nothing() {
        let (p, _) = delete_plan("demo-cache", Some(&observed()));
        let lines = outcome_lines(&p);
        assert!(
            lines[1].starts_with("- delete replication group A"),
            "{lines:?}"
        );
        assert_eq!(
            outcome_lines(&Plan::default()),
            ["no change: ElastiCache is as configured"]
        );
    }

    #[test]
    fn only_non_sandbox_deletes_ask() {
        assert!(delete_question("demo-cache", "demo", Some("sandbox")).is_none());
        let q = delete_question("demo-cache", "prod", Some("production")).unwrap();
        assert!(q.contains("demo-cache") && q.contains("production"), "{q}");
    }
}
