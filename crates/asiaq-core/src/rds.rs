//! RDS instances (spec §4.22): the plans of `rds update` and `rds delete`, computed from
//! the configured instances and what AWS has, and the rows of `rds list`. No I/O. Master
//! passwords never enter a plan: the executor holds them.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::elasticache::{DnsTarget, FieldChange};
use crate::plan::{new_ref, Change, Plan, PlanAction, PlanBuilder, Resource};

/// One `[<env>-<db>]` of disco_rds.ini, defaults applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RdsInstance {
    pub env: String,
    pub db: String,
    /// `<env>-<db>`: the instance, parameter group and subnet group name.
    pub id: String,
    pub engine: String,
    pub engine_version: String,
    pub parameter_group_family: String,
    pub instance_class: String,
    pub allocated_storage: i32,
    /// 0: general-purpose storage; otherwise provisioned IOPS (io1).
    pub iops: i32,
    pub master_username: String,
    pub port: i32,
    pub license_model: String,
    pub character_set_name: Option<String>,
    pub storage_encrypted: bool,
    pub multi_az: bool,
    pub publicly_accessible: bool,
    pub auto_minor_version_upgrade: bool,
    pub backup_retention_period: i32,
    pub preferred_backup_window: Option<String>,
    pub preferred_maintenance_window: Option<String>,
    pub product_line: String,
    /// DB parameters of `rds/engine_specific/<db>.ini` `[<env>]`, in file order.
    pub parameters: Vec<(String, String)>,
    /// Where its CNAME `<id>.<domain>` goes.
    pub domain: Option<String>,
}

impl RdsInstance {
    /// The engine family: the text before the first `-` (`oracle-se2` -> `oracle`).
    pub fn family(&self) -> &str {
        self.engine.split('-').next().unwrap_or_default()
    }

    /// The tags of the instance.
    pub fn tags(&self) -> Vec<(String, String)> {
        vec![
            ("environment".to_string(), self.env.clone()),
            ("db".to_string(), self.db.clone()),
            ("product_line".to_string(), self.product_line.clone()),
        ]
    }
}

/// The default port of an engine family (postgres 5432, oracle 1521).
pub fn default_port(family: &str) -> Option<i32> {
    match family {
        "postgres" => Some(5432),
        "oracle" => Some(1521),
        "mysql" | "mariadb" => Some(3306),
        "sqlserver" => Some(1433),
        _ => None,
    }
}

/// The default license model of an engine family.
pub fn default_license_model(family: &str) -> Option<&'static str> {
    match family {
        "postgres" => Some("postgresql-license"),
        "oracle" => Some("bring-your-own-license"),
        "mysql" | "mariadb" => Some("general-public-license"),
        "sqlserver" => Some("license-included"),
        _ => None,
    }
}

/// The engines asiaq accepts.
pub const ENGINES: [&str; 14] = [
    "postgres",
    "mysql",
    "mariadb",
    "oracle-se",
    "oracle-se1",
    "oracle-se2",
    "oracle-se2-cdb",
    "oracle-ee",
    "oracle-ee-cdb",
    "sqlserver-ee",
    "sqlserver-se",
    "sqlserver-ex",
    "sqlserver-web",
    "aurora-postgresql",
];

/// Why provisioned IOPS do not fit the storage (io1: 1000 at least, 0.5 to 50 per GB).
pub fn iops_problem(iops: i32, allocated_storage: i32) -> Option<String> {
    if iops == 0 {
        return None;
    }
    if iops < 1000 {
        return Some(format!(
            "{iops} provisioned IOPS are fewer than io1's minimum of 1000"
        ));
    }
    if iops > allocated_storage.saturating_mul(50) {
        return Some(format!(
            "{iops} provisioned IOPS need at least {} GB of storage (io1 allows 50 IOPS per GB), not {allocated_storage}",
            (iops + 49) / 50
        ));
    }
    if iops.saturating_mul(2) < allocated_storage {
        return Some(format!(
            "{iops} provisioned IOPS are fewer than io1's 0.5 per GB of {allocated_storage} GB"
        ));
    }
    None
}

/// The instance `--cluster` names: `<env>-<cluster>`, or the whole id when given so.
pub fn instance_id(env: &str, cluster: &str) -> String {
    if cluster.starts_with(&format!("{env}-")) {
        cluster.to_string()
    } else {
        format!("{env}-{cluster}")
    }
}

/// The snapshot `delete` takes: `<id>-final-snapshot`.
pub fn final_snapshot_id(id: &str) -> String {
    format!("{id}-final-snapshot")
}

/// The CNAME of an instance: `<id>.<domain>`.
pub fn cname(id: &str, domain: &str) -> String {
    format!("{id}.{}", domain.trim_end_matches('.'))
}

/// One instance as AWS has it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedDb {
    pub id: String,
    pub status: String,
    pub instance_class: String,
    pub engine_version: String,
    pub allocated_storage: i32,
    pub iops: i32,
    pub multi_az: bool,
    pub auto_minor_version_upgrade: bool,
    pub backup_retention_period: i32,
    pub preferred_backup_window: Option<String>,
    pub preferred_maintenance_window: Option<String>,
    pub parameter_group: Option<String>,
    /// `in-sync`, `pending-reboot`, ...
    pub parameter_apply_status: Option<String>,
    pub security_group_ids: Vec<String>,
    pub endpoint: Option<String>,
    pub port: Option<i32>,
}

/// One parameter as the group has it: its value and apply type (`static`/`dynamic`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedParameter {
    pub value: Option<String>,
    pub apply_type: Option<String>,
}

/// One changed DB parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamChange {
    pub name: String,
    pub before: Option<String>,
    pub after: String,
    /// `immediate` for a dynamic parameter, else `pending-reboot` (then a reboot follows).
    pub method: String,
}

impl fmt::Display for ParamChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} -> {} ({})",
            self.name,
            self.before.as_deref().unwrap_or("default"),
            self.after,
            self.method
        )
    }
}

/// One change of `rds update` / `rds delete`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action")]
pub enum RdsAction {
    CreateSubnetGroup {
        name: String,
        subnet_ids: Vec<String>,
    },
    CreateParameterGroup {
        name: String,
        family: String,
    },
    SetParameters {
        group: String,
        changes: Vec<ParamChange>,
    },
    /// Creates the instance (its master password from the credential bucket) and waits
    /// until it is available; its endpoint is then `${endpoint:<id>}`.
    CreateInstance {
        key: String,
        db: RdsInstance,
        security_group_id: String,
    },
    /// Restores the instance from its newest snapshot, waits, then applies what a restore
    /// cannot set (security group, parameter group, backups, windows, master password).
    RestoreInstance {
        key: String,
        snapshot: String,
        db: RdsInstance,
        security_group_id: String,
    },
    /// ModifyDBInstance with ApplyImmediately, then waits until it is available.
    ModifyInstance {
        id: String,
        changes: Vec<FieldChange>,
        db: RdsInstance,
    },
    /// Reboots the instance (parameters waiting for one) and waits until it is available.
    RebootInstance {
        id: String,
        reason: String,
    },
    WriteCname {
        zone: String,
        zone_id: String,
        name: String,
        value: String,
        before: Option<String>,
    },
    /// Deletes an older final snapshot, so that the new one can take its name.
    DeleteSnapshot {
        id: String,
    },
    DeleteCnames {
        endpoint: String,
    },
    /// Deletes the instance (taking the final snapshot unless there is none), then waits
    /// until it is gone and the final snapshot is available.
    DeleteInstance {
        id: String,
        final_snapshot: Option<String>,
    },
    DeleteSubnetGroup {
        name: String,
    },
    /// `cleanup_snapshots`: a manual snapshot past its age.
    ExpireSnapshot {
        id: String,
        instance: String,
        age_days: i64,
    },
}

fn endpoint_key(id: &str) -> String {
    format!("endpoint:{id}")
}

fn joined<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl fmt::Display for RdsAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RdsAction::CreateSubnetGroup { name, subnet_ids } => write!(
                f,
                "create DB subnet group {name} ({})",
                subnet_ids.join(", ")
            ),
            RdsAction::CreateParameterGroup { name, family } => {
                write!(f, "create DB parameter group {name} (family {family})")
            }
            RdsAction::SetParameters { group, changes } => {
                write!(f, "parameters of {group}: {}", joined(changes))
            }
            RdsAction::CreateInstance { db, .. } => write!(
                f,
                "create {} {} instance {} ({}, {} GB{}, port {}, multi-AZ {}, master user {})",
                db.engine,
                db.engine_version,
                db.id,
                db.instance_class,
                db.allocated_storage,
                if db.iops > 0 {
                    format!(", {} IOPS", db.iops)
                } else {
                    String::new()
                },
                db.port,
                db.multi_az,
                db.master_username
            ),
            RdsAction::RestoreInstance { db, snapshot, .. } => write!(
                f,
                "restore instance {} from snapshot {snapshot} ({}, {} GB), then apply its configuration",
                db.id, db.instance_class, db.allocated_storage
            ),
            RdsAction::ModifyInstance { id, changes, .. } => {
                write!(f, "modify {id} (apply immediately): {}", joined(changes))
            }
            RdsAction::RebootInstance { id, reason } => write!(f, "reboot {id} ({reason})"),
            RdsAction::WriteCname {
                name,
                value,
                before,
                ..
            } => match before {
                Some(b) => write!(f, "CNAME {name}: {b} -> {value}"),
                None => write!(f, "CNAME {name} -> {value}"),
            },
            RdsAction::DeleteSnapshot { id } => write!(f, "delete the older snapshot {id}"),
            RdsAction::DeleteCnames { endpoint } => {
                write!(f, "delete the CNAMEs pointing at {endpoint}")
            }
            RdsAction::DeleteInstance { id, final_snapshot } => match final_snapshot {
                Some(s) => write!(f, "delete instance {id}, final snapshot {s}"),
                None => write!(f, "delete instance {id} without a final snapshot"),
            },
            RdsAction::DeleteSubnetGroup { name } => write!(f, "delete DB subnet group {name}"),
            RdsAction::ExpireSnapshot {
                id,
                instance,
                age_days,
            } => write!(f, "delete snapshot {id} of {instance} ({age_days} days old)"),
        }
    }
}

impl PlanAction for RdsAction {
    fn resource(&self) -> Resource {
        match self {
            RdsAction::CreateSubnetGroup { name, .. } | RdsAction::DeleteSubnetGroup { name } => {
                Resource::new("DB subnet group", name.as_str())
            }
            RdsAction::CreateParameterGroup { name, .. } => {
                Resource::new("DB parameter group", name.as_str())
            }
            RdsAction::SetParameters { group, .. } => {
                Resource::new("DB parameter group", group.as_str())
            }
            RdsAction::CreateInstance { db, .. } | RdsAction::RestoreInstance { db, .. } => {
                Resource::new("DB instance", db.id.as_str())
            }
            RdsAction::ModifyInstance { id, .. }
            | RdsAction::RebootInstance { id, .. }
            | RdsAction::DeleteInstance { id, .. } => Resource::new("DB instance", id.as_str()),
            RdsAction::WriteCname { name, zone, .. } => {
                Resource::new("DNS record", format!("CNAME {name} in {zone}"))
            }
            RdsAction::DeleteSnapshot { id } | RdsAction::ExpireSnapshot { id, .. } => {
                Resource::new("DB snapshot", id.as_str())
            }
            RdsAction::DeleteCnames { endpoint } => {
                Resource::new("DNS records", format!("CNAMEs of {endpoint}"))
            }
        }
    }

    fn change(&self) -> Change {
        match self {
            RdsAction::CreateSubnetGroup { .. }
            | RdsAction::CreateParameterGroup { .. }
            | RdsAction::CreateInstance { .. }
            | RdsAction::RestoreInstance { .. }
            | RdsAction::WriteCname { before: None, .. } => Change::Create,
            RdsAction::WriteCname {
                before: Some(b),
                value,
                ..
            } => Change::Update {
                before: Some(b.clone()),
                after: Some(value.clone()),
            },
            RdsAction::SetParameters { .. }
            | RdsAction::ModifyInstance { .. }
            | RdsAction::RebootInstance { .. } => Change::update(),
            RdsAction::DeleteSnapshot { .. }
            | RdsAction::DeleteCnames { .. }
            | RdsAction::DeleteInstance { .. }
            | RdsAction::DeleteSubnetGroup { .. }
            | RdsAction::ExpireSnapshot { .. } => Change::Delete,
        }
    }

    fn creates(&self) -> Option<&str> {
        match self {
            RdsAction::CreateInstance { key, .. } | RdsAction::RestoreInstance { key, .. } => {
                Some(key)
            }
            _ => None,
        }
    }
}

/// What `update` works from, for one instance.
#[derive(Debug, Clone)]
pub struct UpdateInput<'a> {
    pub desired: &'a RdsInstance,
    pub observed: Option<&'a ObservedDb>,
    pub security_group_id: &'a str,
    pub subnet_ids: &'a [String],
    pub subnet_group_exists: bool,
    /// The parameter group's parameters; `None` when the group does not exist.
    pub parameters: Option<&'a BTreeMap<String, ObservedParameter>>,
    /// The newest available snapshot of the instance, for a missing instance.
    pub newest_snapshot: Option<&'a str>,
    pub dns: Option<&'a DnsTarget>,
}

fn push(c: &mut Vec<FieldChange>, field: &str, before: String, after: String) {
    if before != after {
        c.push(FieldChange {
            field: field.to_string(),
            before,
            after,
        });
    }
}

/// The settings of `o` that differ from `d`, each before -> after. A window the
/// configuration leaves out is AWS's to choose, and not compared.
pub fn field_changes(d: &RdsInstance, o: &ObservedDb, security_group_id: &str) -> Vec<FieldChange> {
    let mut c = Vec::new();
    push(
        &mut c,
        "instance_class",
        o.instance_class.clone(),
        d.instance_class.clone(),
    );
    push(
        &mut c,
        "engine_version",
        o.engine_version.clone(),
        d.engine_version.clone(),
    );
    push(
        &mut c,
        "allocated_storage",
        o.allocated_storage.to_string(),
        d.allocated_storage.to_string(),
    );
    push(&mut c, "iops", o.iops.to_string(), d.iops.to_string());
    push(
        &mut c,
        "multi_az",
        o.multi_az.to_string(),
        d.multi_az.to_string(),
    );
    push(
        &mut c,
        "auto_minor_version_upgrade",
        o.auto_minor_version_upgrade.to_string(),
        d.auto_minor_version_upgrade.to_string(),
    );
    push(
        &mut c,
        "backup_retention_period",
        o.backup_retention_period.to_string(),
        d.backup_retention_period.to_string(),
    );
    let window = |o: &Option<String>| o.clone().unwrap_or_default().to_ascii_lowercase();
    if let Some(w) = &d.preferred_backup_window {
        push(
            &mut c,
            "preferred_backup_window",
            window(&o.preferred_backup_window),
            w.to_ascii_lowercase(),
        );
    }
    if let Some(w) = &d.preferred_maintenance_window {
        push(
            &mut c,
            "preferred_maintenance_window",
            window(&o.preferred_maintenance_window),
            w.to_ascii_lowercase(),
        );
    }
    push(
        &mut c,
        "parameter_group",
        o.parameter_group.clone().unwrap_or_default(),
        d.id.clone(),
    );
    push(
        &mut c,
        "security_groups",
        o.security_group_ids.join(","),
        security_group_id.to_string(),
    );
    c
}

/// The parameters to set: those whose value differs from the configuration's.
pub fn parameter_changes(
    desired: &[(String, String)],
    observed: &BTreeMap<String, ObservedParameter>,
) -> Vec<ParamChange> {
    desired
        .iter()
        .filter_map(|(name, value)| {
            let o = observed.get(name);
            let before = o.and_then(|p| p.value.clone());
            (before.as_deref() != Some(value.as_str())).then(|| ParamChange {
                name: name.clone(),
                before,
                after: value.clone(),
                method: if o.and_then(|p| p.apply_type.as_deref()) == Some("dynamic") {
                    "immediate".to_string()
                } else {
                    "pending-reboot".to_string()
                },
            })
        })
        .collect()
}

/// The plan of `update` and its notes. Per instance: the subnet group and parameter group
/// when missing, the parameters that differ; a missing instance is restored from its newest
/// snapshot, or else created; an available one is modified where it differs (and rebooted
/// when a parameter waits for a reboot); then its CNAME. Nothing when all is so.
pub fn update_plan(inputs: &[UpdateInput<'_>]) -> (Plan<RdsAction>, Vec<String>) {
    let mut b = PlanBuilder::new();
    let mut notes = Vec::new();
    for i in inputs {
        let d = i.desired;
        if let Some(o) = i.observed.filter(|o| o.status != "available") {
            notes.push(format!(
                "DB instance {} is {}: not updated (an instance is updated only when available)",
                d.id, o.status
            ));
            continue;
        }
        let mut before_instance = Vec::new();
        if !i.subnet_group_exists {
            before_instance.push(b.add(
                RdsAction::CreateSubnetGroup {
                    name: d.id.clone(),
                    subnet_ids: i.subnet_ids.to_vec(),
                },
                &[],
            ));
        }
        let empty = BTreeMap::new();
        let observed_params = match i.parameters {
            Some(p) => p,
            None => {
                before_instance.push(b.add(
                    RdsAction::CreateParameterGroup {
                        name: d.id.clone(),
                        family: d.parameter_group_family.clone(),
                    },
                    &[],
                ));
                &empty
            }
        };
        let params = parameter_changes(&d.parameters, observed_params);
        let static_change = params.iter().any(|p| p.method == "pending-reboot");
        if !params.is_empty() {
            let after = before_instance.clone();
            before_instance.push(b.add(
                RdsAction::SetParameters {
                    group: d.id.clone(),
                    changes: params,
                },
                &after,
            ));
        }
        let (endpoint, last) = match i.observed {
            None => {
                let key = endpoint_key(&d.id);
                let step = match i.newest_snapshot {
                    Some(s) => b.add(
                        RdsAction::RestoreInstance {
                            key: key.clone(),
                            snapshot: s.to_string(),
                            db: d.clone(),
                            security_group_id: i.security_group_id.to_string(),
                        },
                        &before_instance,
                    ),
                    None => b.add(
                        RdsAction::CreateInstance {
                            key: key.clone(),
                            db: d.clone(),
                            security_group_id: i.security_group_id.to_string(),
                        },
                        &before_instance,
                    ),
                };
                (Some(new_ref(&key)), vec![step])
            }
            Some(o) => {
                let mut last = before_instance.clone();
                let changes = field_changes(d, o, i.security_group_id);
                let group_changes = changes.iter().any(|c| c.field == "parameter_group");
                if !changes.is_empty() {
                    last = vec![b.add(
                        RdsAction::ModifyInstance {
                            id: d.id.clone(),
                            changes,
                            db: d.clone(),
                        },
                        &before_instance,
                    )];
                }
                let pending = o.parameter_apply_status.as_deref() == Some("pending-reboot");
                if static_change || group_changes || pending {
                    let reason = if pending {
                        "its parameters wait for a reboot"
                    } else if group_changes {
                        "another parameter group"
                    } else {
                        "a static parameter changed"
                    };
                    last = vec![b.add(
                        RdsAction::RebootInstance {
                            id: d.id.clone(),
                            reason: reason.to_string(),
                        },
                        &last,
                    )];
                }
                (o.endpoint.clone(), last)
            }
        };
        let (Some(endpoint), Some(dns)) = (endpoint, i.dns) else {
            if i.dns.is_none() {
                notes.push(format!(
                    "no hosted zone serves the domain of {}: its CNAME is not written",
                    d.id
                ));
            }
            continue;
        };
        let same = dns
            .current
            .as_deref()
            .is_some_and(|c| c.trim_end_matches('.') == endpoint.trim_end_matches('.'));
        if !same {
            b.add(
                RdsAction::WriteCname {
                    zone: dns.zone.clone(),
                    zone_id: dns.zone_id.clone(),
                    name: dns.name.clone(),
                    value: endpoint,
                    before: dns.current.clone(),
                },
                &last,
            );
        }
    }
    (b.build(), notes)
}

/// The plan of `clone`: the instance `input` describes, restored from `source`'s newest
/// snapshot (`input.newest_snapshot`). It makes a new instance only: an existing one, or a
/// source without an available snapshot, is an error saying so.
pub fn clone_plan(
    input: &UpdateInput<'_>,
    source: &str,
) -> Result<(Plan<RdsAction>, Vec<String>), String> {
    if input.observed.is_some() {
        return Err(format!(
            "DB instance {} exists; clone makes a new instance only (delete it first)",
            input.desired.id
        ));
    }
    if input.newest_snapshot.is_none() {
        return Err(format!(
            "DB instance {source} has no available snapshot to clone"
        ));
    }
    Ok(update_plan(std::slice::from_ref(input)))
}

/// The plan of `delete`: an older final snapshot (unless none is taken), the CNAMEs, the
/// instance (with its final snapshot), then its subnet group.
pub fn delete_plan(
    id: &str,
    observed: Option<&ObservedDb>,
    old_final_snapshot: bool,
    subnet_group_exists: bool,
    skip_final_snapshot: bool,
) -> (Plan<RdsAction>, Vec<String>) {
    let mut b = PlanBuilder::new();
    let mut notes = Vec::new();
    let mut before_group = Vec::new();
    match observed {
        None => notes.push(format!("there is no DB instance {id}")),
        Some(o) if o.status == "deleting" => {
            notes.push(format!("DB instance {id} is already being deleted"));
        }
        Some(o) => {
            let mut before = Vec::new();
            let snapshot = (!skip_final_snapshot).then(|| final_snapshot_id(id));
            if old_final_snapshot && snapshot.is_some() {
                before.push(b.add(
                    RdsAction::DeleteSnapshot {
                        id: final_snapshot_id(id),
                    },
                    &[],
                ));
            }
            if let Some(e) = &o.endpoint {
                before.push(b.add(
                    RdsAction::DeleteCnames {
                        endpoint: e.clone(),
                    },
                    &[],
                ));
            }
            before_group.push(b.add(
                RdsAction::DeleteInstance {
                    id: id.to_string(),
                    final_snapshot: snapshot,
                },
                &before,
            ));
        }
    }
    if subnet_group_exists && observed.is_none_or(|o| o.status != "deleting") {
        b.add(
            RdsAction::DeleteSubnetGroup {
                name: id.to_string(),
            },
            &before_group,
        );
    }
    (b.build(), notes)
}

/// The question before a delete on an environment that is not a sandbox; it names the
/// database and says whether a final snapshot is kept.
pub fn delete_question(
    id: &str,
    env: &str,
    env_type: Option<&str>,
    skip_final_snapshot: bool,
) -> Option<String> {
    (env_type != Some("sandbox")).then(|| {
        let snapshot = if skip_final_snapshot {
            "WITHOUT a final snapshot"
        } else {
            "with a final snapshot"
        };
        format!(
            "Delete DB instance {id} of environment {env} (type {}) {snapshot}?",
            env_type.unwrap_or("unknown")
        )
    })
}

/// One DB snapshot as observed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    pub id: String,
    pub instance: String,
    /// `manual` or `automated`.
    pub snapshot_type: String,
    pub status: String,
    /// Creation time, seconds since the epoch.
    pub created: i64,
}

/// Which snapshots `cleanup_snapshots` deletes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanupRule<'a> {
    /// Only the snapshots of this environment's instances (`<env>-…`); `None`: every one.
    pub env: Option<&'a str>,
    /// Snapshots created this many days before `now` or earlier.
    pub age_days: i64,
    /// Also the final snapshots (`<id>-final-snapshot`) that `delete` takes.
    pub include_final: bool,
    /// Seconds since the epoch.
    pub now: i64,
}

/// The plan of `cleanup_snapshots`: every manual, available snapshot that the rule
/// selects, oldest first. Automated snapshots are RDS's to expire.
pub fn cleanup_plan(rule: &CleanupRule<'_>, snapshots: &[SnapshotInfo]) -> Plan<RdsAction> {
    let cutoff = rule.now - rule.age_days * 86_400;
    let mut chosen: Vec<&SnapshotInfo> = snapshots
        .iter()
        .filter(|s| s.snapshot_type == "manual" && s.status == "available")
        .filter(|s| s.created <= cutoff)
        .filter(|s| {
            rule.env
                .is_none_or(|e| s.instance.starts_with(&format!("{e}-")))
        })
        .filter(|s| rule.include_final || s.id != final_snapshot_id(&s.instance))
        .collect();
    chosen.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
    let mut b = PlanBuilder::new();
    for s in chosen {
        b.add(
            RdsAction::ExpireSnapshot {
                id: s.id.clone(),
                instance: s.instance.clone(),
                age_days: (rule.now - s.created).max(0) / 86_400,
            },
            &[],
        );
    }
    b.build()
}

/// What `cleanup_snapshots` did, one line per snapshot deleted, or that none was due.
pub fn cleanup_outcome(plan: &Plan<RdsAction>) -> Vec<String> {
    if plan.is_empty() {
        return vec!["no snapshot to delete".to_string()];
    }
    outcome_lines(plan)
}

/// One line of `list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DbRow {
    pub id: String,
    pub allocated_storage: i32,
    pub status: String,
    pub url: Option<String>,
}

impl DbRow {
    /// `id(20) storageGB status(12) [addr:port]`, as the original's columns.
    pub fn line(&self, url: bool) -> String {
        let mut line = format!(
            "{:<20} {:>5}GB {:<12}",
            self.id, self.allocated_storage, self.status
        );
        if url {
            line.push(' ');
            line.push_str(self.url.as_deref().unwrap_or("-"));
        }
        line.trim_end().to_string()
    }
}

/// The rows of `list`: the instances of environment `env` (`<env>-…`), by id.
pub fn list_rows(env: &str, dbs: &[ObservedDb]) -> Vec<DbRow> {
    let prefix = format!("{env}-");
    let mut rows: Vec<DbRow> = dbs
        .iter()
        .filter(|d| d.id.starts_with(&prefix))
        .map(|d| DbRow {
            id: d.id.clone(),
            allocated_storage: d.allocated_storage,
            status: d.status.clone(),
            url: d
                .endpoint
                .as_ref()
                .map(|e| format!("{e}:{}", d.port.unwrap_or_default())),
        })
        .collect();
    rows.sort_by(|a, b| a.id.cmp(&b.id));
    rows
}

/// What a run did, one line per step, or that nothing needed to change.
pub fn outcome_lines(plan: &Plan<RdsAction>) -> Vec<String> {
    if plan.is_empty() {
        return vec!["no change: RDS is as configured".to_string()];
    }
    plan.steps
        .iter()
        .map(|s| format!("{} {}", s.action.change().sign(), s.action))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> RdsInstance {
        RdsInstance {
            env: "demo".into(),
            db: "appdb".into(),
            id: "demo-appdb".into(),
            engine: "postgres".into(),
            engine_version: "9.6.20".into(),
            parameter_group_family: "postgres9.6".into(),
            instance_class: "db.t2.micro".into(),
            allocated_storage: 20,
            iops: 0,
            master_username: "appadmin".into(),
            port: 5432,
            license_model: "postgresql-license".into(),
            character_set_name: None,
            storage_encrypted: false,
            multi_az: false,
            publicly_accessible: false,
            auto_minor_version_upgrade: true,
            backup_retention_period: 1,
            preferred_backup_window: Some("06:00-07:00".into()),
            preferred_maintenance_window: Some("sun:07:30-sun:08:30".into()),
            product_line: "core".into(),
            parameters: vec![("max_connections".into(), "100".into())],
            domain: Some("example.com".into()),
        }
    }

    fn observed() -> ObservedDb {
        ObservedDb {
            id: "demo-appdb".into(),
            status: "available".into(),
            instance_class: "db.t2.micro".into(),
            engine_version: "9.6.20".into(),
            allocated_storage: 20,
            iops: 0,
            multi_az: false,
            auto_minor_version_upgrade: true,
            backup_retention_period: 1,
            preferred_backup_window: Some("06:00-07:00".into()),
            preferred_maintenance_window: Some("Sun:07:30-Sun:08:30".into()),
            parameter_group: Some("demo-appdb".into()),
            parameter_apply_status: Some("in-sync".into()),
            security_group_ids: vec!["sg-1".into()],
            endpoint: Some("demo-appdb.x.rds.amazonaws.com".into()),
            port: Some(5432),
        }
    }

    fn params(value: &str, apply: Option<&str>) -> BTreeMap<String, ObservedParameter> {
        BTreeMap::from([(
            "max_connections".to_string(),
            ObservedParameter {
                value: Some(value.into()),
                apply_type: apply.map(str::to_string),
            },
        )])
    }

    fn dns(current: Option<&str>) -> DnsTarget {
        DnsTarget {
            zone: "example.com.".into(),
            zone_id: "Z1".into(),
            name: "demo-appdb.example.com".into(),
            current: current.map(str::to_string),
        }
    }

    fn texts(p: &Plan<RdsAction>) -> Vec<String> {
        p.steps.iter().map(|s| s.action.to_string()).collect()
    }

    fn input<'a>(
        d: &'a RdsInstance,
        o: Option<&'a ObservedDb>,
        p: Option<&'a BTreeMap<String, ObservedParameter>>,
        snap: Option<&'a str>,
        dns: Option<&'a DnsTarget>,
        subnets: &'a [String],
    ) -> UpdateInput<'a> {
        UpdateInput {
            desired: d,
            observed: o,
            security_group_id: "sg-1",
            subnet_ids: subnets,
            subnet_group_exists: o.is_some(),
            parameters: p,
            newest_snapshot: snap,
            dns,
        }
    }

    #[test]
    fn cluster_names_take_the_environment() {
        assert_eq!(instance_id("demo", "appdb"), "demo-appdb");
        assert_eq!(instance_id("demo", "demo-appdb"), "demo-appdb");
        assert_eq!(
            cname("demo-appdb", "example.com."),
            "demo-appdb.example.com"
        );
        assert_eq!(final_snapshot_id("demo-appdb"), "demo-appdb-final-snapshot");
    }

    #[test]
    fn iops_must_fit_io1() {
        assert_eq!(iops_problem(0, 20), None);
        assert_eq!(iops_problem(1000, 100), None);
        assert!(iops_problem(500, 100).unwrap().contains("minimum of 1000"));
        assert!(iops_problem(1000, 10).unwrap().contains("at least 20 GB"));
        assert!(iops_problem(1000, 3000).unwrap().contains("0.5 per GB"));
    }

    #[test]
    fn a_missing_instance_is_created_with_its_groups() {
        let d = db();
        let subnets = vec!["subnet-1".to_string()];
        let z = dns(None);
        let (p, notes) = update_plan(&[input(&d, None, None, None, Some(&z), &subnets)]);
        assert!(notes.is_empty());
        assert_eq!(
            texts(&p),
            [
                "create DB subnet group demo-appdb (subnet-1)",
                "create DB parameter group demo-appdb (family postgres9.6)",
                "parameters of demo-appdb: max_connections: default -> 100 (pending-reboot)",
                "create postgres 9.6.20 instance demo-appdb (db.t2.micro, 20 GB, port 5432, multi-AZ false, master user appadmin)",
                "CNAME demo-appdb.example.com -> ${endpoint:demo-appdb}",
            ]
        );
        assert_eq!(p.steps[2].after, [0, 1]);
        assert_eq!(p.steps[3].after, [0, 1, 2]);
        assert_eq!(p.steps[4].after, [3]);
    }

    #[test]
    fn a_missing_instance_with_a_snapshot_is_restored() {
        let d = db();
        let ps = params("100", None);
        let mut i = input(
            &d,
            None,
            Some(&ps),
            Some("demo-appdb-final-snapshot"),
            None,
            &[],
        );
        i.subnet_group_exists = true;
        let (p, notes) = update_plan(&[i]);
        assert_eq!(
            texts(&p),
            ["restore instance demo-appdb from snapshot demo-appdb-final-snapshot (db.t2.micro, 20 GB), then apply its configuration"]
        );
        assert!(notes[0].contains("no hosted zone"), "{notes:?}");
    }

    #[test]
    fn an_unchanged_instance_plans_nothing() {
        let (d, o) = (db(), observed());
        let ps = params("100", Some("dynamic"));
        let z = dns(Some("demo-appdb.x.rds.amazonaws.com."));
        let (p, notes) = update_plan(&[input(&d, Some(&o), Some(&ps), None, Some(&z), &[])]);
        assert!(p.is_empty(), "{p}");
        assert!(notes.is_empty());
    }

    #[test]
    fn changes_show_before_and_after_and_reboot_only_when_needed() {
        let mut d = db();
        d.instance_class = "db.t3.small".into();
        let o = observed();
        let z = dns(Some("demo-appdb.x.rds.amazonaws.com"));
        // A dynamic parameter: set at once, no reboot.
        let dynamic = params("50", Some("dynamic"));
        let (p, _) = update_plan(&[input(&d, Some(&o), Some(&dynamic), None, Some(&z), &[])]);
        assert_eq!(
            texts(&p),
            [
                "parameters of demo-appdb: max_connections: 50 -> 100 (immediate)",
                "modify demo-appdb (apply immediately): instance_class: db.t2.micro -> db.t3.small",
            ]
        );
        // A static one: a reboot after the modify.
        let fixed = params("50", Some("static"));
        let (p, _) = update_plan(&[input(&d, Some(&o), Some(&fixed), None, Some(&z), &[])]);
        assert_eq!(
            texts(&p)[2],
            "reboot demo-appdb (a static parameter changed)"
        );
        assert_eq!(p.steps[2].after, [1]);
        // Parameters already waiting for a reboot: only the reboot.
        let mut pending = observed();
        pending.parameter_apply_status = Some("pending-reboot".into());
        let same = params("100", Some("static"));
        let (p, _) = update_plan(&[input(
            &db(),
            Some(&pending),
            Some(&same),
            None,
            Some(&z),
            &[],
        )]);
        assert_eq!(
            texts(&p),
            ["reboot demo-appdb (its parameters wait for a reboot)"]
        );
    }

    #[test]
    fn a_clone_is_a_restore_of_the_sources_snapshot_into_a_new_instance() {
        let mut d = db();
        d.id = "test-appdb".into();
        let ps = params("100", None);
        let mut i = input(&d, None, Some(&ps), Some("rds:demo-appdb-2020"), None, &[]);
        i.subnet_group_exists = true;
        let (p, _) = clone_plan(&i, "demo-appdb").unwrap();
        assert_eq!(
            texts(&p),
            ["restore instance test-appdb from snapshot rds:demo-appdb-2020 (db.t2.micro, 20 GB), then apply its configuration"]
        );
        i.newest_snapshot = None;
        assert_eq!(
            clone_plan(&i, "demo-appdb").unwrap_err(),
            "DB instance demo-appdb has no available snapshot to clone"
        );
        let o = observed();
        i.observed = Some(&o);
        assert!(clone_plan(&i, "demo-appdb").unwrap_err().contains("exists"));
    }

    #[test]
    fn a_busy_instance_is_left_alone() {
        let mut o = observed();
        o.status = "modifying".into();
        let d = db();
        let (p, notes) = update_plan(&[input(&d, Some(&o), None, None, None, &[])]);
        assert!(p.is_empty());
        assert!(notes[0].contains("is modifying"));
    }

    #[test]
    fn delete_takes_a_final_snapshot_unless_skipped() {
        let o = observed();
        let (p, _) = delete_plan("demo-appdb", Some(&o), true, true, false);
        assert_eq!(
            texts(&p),
            [
                "delete the older snapshot demo-appdb-final-snapshot",
                "delete the CNAMEs pointing at demo-appdb.x.rds.amazonaws.com",
                "delete instance demo-appdb, final snapshot demo-appdb-final-snapshot",
                "delete DB subnet group demo-appdb",
            ]
        );
        assert_eq!(p.steps[2].after, [0, 1]);
        assert_eq!(p.steps[3].after, [2]);
        let (p, _) = delete_plan("demo-appdb", Some(&o), true, false, true);
        assert_eq!(
            texts(&p)[1],
            "delete instance demo-appdb without a final snapshot"
        );
        let (p, notes) = delete_plan("demo-appdb", None, true, false, false);
        assert!(p.is_empty());
        assert_eq!(notes, ["there is no DB instance demo-appdb"]);
    }

    #[test]
    fn cleanup_keeps_young_automated_final_and_other_environments_snapshots() {
        let day = 86_400;
        let now = 100 * day;
        let snap = |id: &str, instance: &str, kind: &str, days_old: i64| SnapshotInfo {
            id: id.into(),
            instance: instance.into(),
            snapshot_type: kind.into(),
            status: "available".into(),
            created: now - days_old * day,
        };
        let all = [
            snap("old", "demo-appdb", "manual", 40),
            snap("older", "demo-appdb", "manual", 60),
            snap("young", "demo-appdb", "manual", 10),
            snap("rds:demo-appdb-1", "demo-appdb", "automated", 90),
            snap("demo-appdb-final-snapshot", "demo-appdb", "manual", 50),
            snap("prod", "prod-appdb", "manual", 90),
        ];
        let mut rule = CleanupRule {
            env: Some("demo"),
            age_days: 30,
            include_final: false,
            now,
        };
        let ids = |p: Plan<RdsAction>| -> Vec<String> { texts(&p) };
        assert_eq!(
            ids(cleanup_plan(&rule, &all)),
            [
                "delete snapshot older of demo-appdb (60 days old)",
                "delete snapshot old of demo-appdb (40 days old)"
            ]
        );
        rule.include_final = true;
        assert_eq!(cleanup_plan(&rule, &all).len(), 3);
        rule.env = None;
        assert_eq!(cleanup_plan(&rule, &all).len(), 4);
        rule.age_days = 100;
        let none = cleanup_plan(&rule, &all);
        assert!(none.is_empty());
        assert_eq!(cleanup_outcome(&none), ["no snapshot to delete"]);
    }

    #[test]
    fn questions_name_the_database() {
        assert!(delete_question("demo-appdb", "demo", Some("sandbox"), true).is_none());
        let q = delete_question("prod-appdb", "prod", Some("production"), true).unwrap();
        assert!(
            q.contains("prod-appdb") && q.contains("WITHOUT a final snapshot"),
            "{q}"
        );
    }

    #[test]
    fn list_rows_of_the_environment() {
        let mut other = observed();
        other.id = "prod-appdb".into();
        let rows = list_rows("demo", &[observed(), other]);
        assert_eq!(rows.len(), 1);
        assert_eq!(
            rows[0].line(false),
            "demo-appdb              20GB available"
        );
        assert_eq!(
            rows[0].line(true),
            "demo-appdb              20GB available    demo-appdb.x.rds.amazonaws.com:5432"
        );
    }
}
