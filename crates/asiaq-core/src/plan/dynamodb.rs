//! The changes of `asiaq dynamodb` as plans: create (the table, then its time to live),
//! update (only what differs from the described table, one `UpdateTable` per change as
//! DynamoDB takes them), delete, and the native backups (backup, restore, point-in-time
//! recovery).
//!
//! Every step of a table's update runs after the one before: DynamoDB takes one change of a
//! table at a time (the table is `UPDATING` until it is done), and one index created or
//! deleted per call.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

mod operation;
pub use operation::*;

use super::{new_ref, Change, Plan, PlanAction, PlanBuilder, Resource};
use crate::dynamodb::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, ObservedTable,
    StreamViewType, TableDefinition, Throughput,
};

const TABLE_KIND: &str = "DynamoDB table";
const BACKUP_KIND: &str = "DynamoDB backup";
/// The plan key of the table a create or restore makes (its undo deletes it).
pub const TABLE_KEY: &str = "table";
/// The plan key of a backup a plan makes (its id is the backup's ARN).
pub const BACKUP_KEY: &str = "backup";

/// A table's capacity: its billing mode and, when provisioned, its throughput.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capacity {
    pub billing_mode: BillingMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput: Option<Throughput>,
}

impl fmt::Display for Capacity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.billing_mode, self.throughput) {
            (BillingMode::Provisioned, Some(t)) => write!(f, "PROVISIONED ({t})"),
            (mode, _) => write!(f, "{mode}"),
        }
    }
}

fn stream_text(v: Option<StreamViewType>) -> String {
    v.map_or_else(|| "off".to_string(), |v| v.to_string())
}

/// One call of `asiaq dynamodb`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action")]
pub enum DynamoAction {
    /// `CreateTable` with the definition file (its `TableName` replaced by `table`), tagged.
    CreateTable {
        table: String,
        definition: TableDefinition,
        tags: Vec<(String, String)>,
    },
    DeleteTable {
        table: String,
    },
    /// `UpdateTable` with `BillingMode` and `ProvisionedThroughput` (and, when switching to
    /// provisioned, the throughput of every index).
    UpdateCapacity {
        table: String,
        from: Capacity,
        to: Capacity,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        indexes: BTreeMap<String, Throughput>,
    },
    /// `UpdateTable` with one index's `Update`.
    UpdateIndexCapacity {
        table: String,
        index: String,
        from: Option<Throughput>,
        to: Throughput,
    },
    /// `UpdateTable` with one index's `Create`; `attributes` are the table's attribute
    /// definitions with the new index's.
    CreateIndex {
        table: String,
        index: GlobalSecondaryIndex,
        attributes: Vec<AttributeDefinition>,
    },
    /// `UpdateTable` with one index's `Delete`.
    DeleteIndex {
        table: String,
        index: String,
    },
    /// `UpdateTable` with `StreamSpecification`: `to` the view type, or off.
    SetStream {
        table: String,
        from: Option<StreamViewType>,
        to: Option<StreamViewType>,
    },
    /// `UpdateTimeToLive`: on or off for one attribute.
    SetTimeToLive {
        table: String,
        attribute: String,
        enabled: bool,
    },
    /// `CreateBackup`.
    CreateBackup {
        table: String,
        name: String,
    },
    /// `RestoreTableFromBackup` into the new table `target`.
    RestoreFromBackup {
        backup_arn: String,
        target: String,
    },
    /// `RestoreTableToPointInTime` from `source` into the new table `target`; `time` is
    /// RFC 3339.
    RestoreToPointInTime {
        source: String,
        target: String,
        time: String,
    },
    /// `UpdateContinuousBackups`: point-in-time recovery on or off.
    SetPointInTimeRecovery {
        table: String,
        enabled: bool,
    },
}

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

impl fmt::Display for DynamoAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DynamoAction::CreateTable {
                table, definition, ..
            } => {
                write!(f, "create table {table}")?;
                let indexes = definition
                    .global_secondary_indexes
                    .as_ref()
                    .map_or(0, Vec::len)
                    + definition
                        .local_secondary_indexes
                        .as_ref()
                        .map_or(0, Vec::len);
                if indexes > 0 {
                    write!(f, " with {indexes} index(es)")?;
                }
                Ok(())
            }
            DynamoAction::DeleteTable { table } => write!(f, "delete table {table}"),
            DynamoAction::UpdateCapacity { .. } => write!(f, "capacity"),
            DynamoAction::UpdateIndexCapacity { index, .. } => {
                write!(f, "capacity of index {index}")
            }
            DynamoAction::CreateIndex { index, .. } => {
                write!(f, "create index {}", index.index_name)
            }
            DynamoAction::DeleteIndex { index, .. } => write!(f, "delete index {index}"),
            DynamoAction::SetStream { .. } => write!(f, "stream"),
            DynamoAction::SetTimeToLive { .. } => write!(f, "time to live"),
            DynamoAction::CreateBackup { table, name } => {
                write!(f, "back up table {table} as {name}")
            }
            DynamoAction::RestoreFromBackup { backup_arn, target } => {
                write!(f, "restore backup {backup_arn} into new table {target}")
            }
            DynamoAction::RestoreToPointInTime {
                source,
                target,
                time,
            } => write!(
                f,
                "restore table {source} as of {time} into new table {target}"
            ),
            DynamoAction::SetPointInTimeRecovery { .. } => {
                write!(f, "point-in-time recovery")
            }
        }
    }
}

impl PlanAction for DynamoAction {
    fn resource(&self) -> Resource {
        match self {
            DynamoAction::CreateTable { table, .. }
            | DynamoAction::DeleteTable { table }
            | DynamoAction::UpdateCapacity { table, .. }
            | DynamoAction::UpdateIndexCapacity { table, .. }
            | DynamoAction::CreateIndex { table, .. }
            | DynamoAction::DeleteIndex { table, .. }
            | DynamoAction::SetStream { table, .. }
            | DynamoAction::SetTimeToLive { table, .. }
            | DynamoAction::SetPointInTimeRecovery { table, .. } => {
                Resource::by_ref(TABLE_KIND, table)
            }
            DynamoAction::CreateBackup { name, .. } => Resource::new(BACKUP_KIND, name),
            DynamoAction::RestoreFromBackup { target, .. }
            | DynamoAction::RestoreToPointInTime { target, .. } => {
                Resource::new(TABLE_KIND, target)
            }
        }
    }

    fn change(&self) -> Change {
        let update = |before: String, after: String| Change::Update {
            before: Some(before),
            after: Some(after),
        };
        match self {
            DynamoAction::CreateTable { .. }
            | DynamoAction::CreateBackup { .. }
            | DynamoAction::RestoreFromBackup { .. }
            | DynamoAction::RestoreToPointInTime { .. }
            | DynamoAction::CreateIndex { .. } => Change::Create,
            DynamoAction::DeleteTable { .. } | DynamoAction::DeleteIndex { .. } => Change::Delete,
            DynamoAction::UpdateCapacity { from, to, .. } => {
                update(from.to_string(), to.to_string())
            }
            DynamoAction::UpdateIndexCapacity { from, to, .. } => update(
                from.map_or_else(|| "none".to_string(), |t| t.to_string()),
                to.to_string(),
            ),
            DynamoAction::SetStream { from, to, .. } => {
                update(stream_text(*from), stream_text(*to))
            }
            DynamoAction::SetTimeToLive {
                attribute, enabled, ..
            } => {
                let on = format!("on ({attribute})");
                if *enabled {
                    update("off".into(), on)
                } else {
                    update(on, "off".into())
                }
            }
            DynamoAction::SetPointInTimeRecovery { enabled, .. } => {
                update(on_off(!enabled).into(), on_off(*enabled).into())
            }
        }
    }

    fn creates(&self) -> Option<&str> {
        match self {
            DynamoAction::CreateTable { .. }
            | DynamoAction::RestoreFromBackup { .. }
            | DynamoAction::RestoreToPointInTime { .. } => Some(TABLE_KEY),
            DynamoAction::CreateBackup { .. } => Some(BACKUP_KEY),
            _ => None,
        }
    }

    /// A table this run created is deleted again; a backup is kept (it changes nothing).
    fn undo(&self) -> Option<Self> {
        match self.creates() {
            Some(TABLE_KEY) => Some(DynamoAction::DeleteTable {
                table: new_ref(TABLE_KEY),
            }),
            _ => None,
        }
    }
}

/// A plan whose steps run one after another, in the order given.
pub fn sequence(actions: Vec<DynamoAction>) -> Plan<DynamoAction> {
    let mut b = PlanBuilder::new();
    let mut previous: Option<usize> = None;
    for a in actions {
        let after: Vec<usize> = previous.into_iter().collect();
        previous = Some(b.add(a, &after));
    }
    b.build()
}

/// The tags asiaq puts on a table it creates (the file's own tags are kept; these win).
pub fn table_tags(env: &str) -> Vec<(String, String)> {
    vec![
        ("managed-by".to_string(), "asiaq".to_string()),
        ("environment".to_string(), env.to_string()),
    ]
}

/// `create`: the table, then its time to live when the file turns it on (the table must be
/// `ACTIVE` first, which the apply waits for).
pub fn create_plan(table: &str, env: &str, definition: &TableDefinition) -> Plan<DynamoAction> {
    let mut def = definition.clone();
    def.table_name = Some(table.to_string());
    let ttl = def.time_to_live_specification.take();
    let mut actions = vec![DynamoAction::CreateTable {
        table: table.to_string(),
        definition: def,
        tags: table_tags(env),
    }];
    if let Some(t) = ttl.filter(|t| t.enabled) {
        actions.push(DynamoAction::SetTimeToLive {
            table: table.to_string(),
            attribute: t.attribute_name,
            enabled: true,
        });
    }
    sequence(actions)
}

/// An `update` that the file asks for but DynamoDB cannot do in place (exit 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UpdateRefused(pub String);

/// What `update` sends, and what it leaves alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdatePlan {
    pub plan: Plan<DynamoAction>,
    pub notes: Vec<String>,
}

/// `update`: the changes that make `table` (as described, with its time to live when the
/// file sets one) what the file says, for the keys the file has:
/// * `BillingMode`/`ProvisionedThroughput`: one capacity change;
/// * `GlobalSecondaryIndexes` (the whole list when present): indexes deleted, then the
///   capacity, then index capacities, then indexes created; an index whose key schema or
///   projection differs is deleted and created again;
/// * `StreamSpecification`: on, off, or off then on for another view type;
/// * `TimeToLiveSpecification`: on, off, or off then on for another attribute.
///
/// `KeySchema`, `LocalSecondaryIndexes` and attribute types cannot change in place: a file
/// that changes them is refused. Keys only a create uses are noted.
pub fn update_plan(
    def: &TableDefinition,
    table: &ObservedTable,
) -> Result<UpdatePlan, UpdateRefused> {
    let name = table.table_name.as_str();
    let mut notes = Vec::new();
    if let Some(keys) = &def.key_schema {
        if keys != &table.key_schema {
            return Err(UpdateRefused(format!(
                "KeySchema differs from table {name}'s, and a table's key schema cannot change: create a new table (and restore a backup into it)"
            )));
        }
    }
    if let Some(lsis) = &def.local_secondary_indexes {
        let same = lsis.len() == table.local_secondary_indexes.len()
            && lsis.iter().all(|want| {
                table.local_secondary_indexes.iter().any(|have| {
                    have.index_name == want.index_name
                        && have.key_schema == want.key_schema
                        && want.projection.satisfied_by(&have.projection)
                })
            });
        if !same {
            return Err(UpdateRefused(format!(
                "LocalSecondaryIndexes differ from table {name}'s, and local indexes cannot change after a table is created"
            )));
        }
    }
    // Attribute definitions: the table's, with the file's added; a changed type is refused.
    let mut attributes: BTreeMap<String, AttributeDefinition> = table
        .attribute_definitions
        .iter()
        .map(|a| (a.attribute_name.clone(), a.clone()))
        .collect();
    for a in def.attribute_definitions.iter().flatten() {
        match attributes.get(&a.attribute_name) {
            Some(have) if have.attribute_type != a.attribute_type => {
                return Err(UpdateRefused(format!(
                    "attribute {:?} is of type {:?} in table {name}, not {:?}: an attribute's type cannot change",
                    a.attribute_name, have.attribute_type, a.attribute_type
                )));
            }
            _ => {
                attributes.insert(a.attribute_name.clone(), a.clone());
            }
        }
    }
    // Every attribute the file defines must be used by the table's keys or an index it
    // will have (DynamoDB refuses unused definitions).
    {
        let mut used: BTreeSet<&str> = table
            .key_schema
            .iter()
            .chain(
                table
                    .local_secondary_indexes
                    .iter()
                    .flat_map(|i| &i.key_schema),
            )
            .map(|k| k.attribute_name.as_str())
            .collect();
        let wanted_gsis: Vec<&Vec<KeySchemaElement>> = match &def.global_secondary_indexes {
            Some(list) => list.iter().map(|i| &i.key_schema).collect(),
            None => table
                .global_secondary_indexes
                .iter()
                .map(|i| &i.key_schema)
                .collect(),
        };
        used.extend(
            wanted_gsis
                .into_iter()
                .flatten()
                .map(|k| k.attribute_name.as_str()),
        );
        if let Some(unused) = def
            .attribute_definitions
            .iter()
            .flatten()
            .find(|a| !used.contains(a.attribute_name.as_str()))
        {
            return Err(UpdateRefused(format!(
                "attribute {:?} is defined but no key schema or index of table {name} uses it (DynamoDB refuses unused attribute definitions)",
                unused.attribute_name
            )));
        }
    }
    let extra = def.create_only_keys();
    if !extra.is_empty() {
        notes.push(format!(
            "{} are set when a table is created; update leaves them as they are",
            extra.join(", ")
        ));
    }

    let mut actions = Vec::new();
    let table_ref = || name.to_string();

    // Indexes: which go, which come, which change capacity.
    let mut deletes = Vec::new();
    let mut creates = Vec::new();
    let mut index_updates = Vec::new();
    // The indexes the table has after the update, with their wanted throughput.
    let mut kept: BTreeMap<String, Option<Throughput>> = table
        .global_secondary_indexes
        .iter()
        .map(|i| (i.index_name.clone(), i.provisioned_throughput))
        .collect();
    if let Some(wanted) = &def.global_secondary_indexes {
        for have in &table.global_secondary_indexes {
            if !wanted.iter().any(|w| w.index_name == have.index_name) {
                deletes.push(have.index_name.clone());
                kept.remove(&have.index_name);
            }
        }
        for want in wanted {
            match table
                .global_secondary_indexes
                .iter()
                .find(|h| h.index_name == want.index_name)
            {
                Some(have)
                    if have.key_schema == want.key_schema
                        && want.projection.satisfied_by(&have.projection) =>
                {
                    kept.insert(want.index_name.clone(), want.provisioned_throughput);
                    if let Some(t) = want.provisioned_throughput {
                        if have.provisioned_throughput != Some(t) {
                            index_updates.push((
                                want.index_name.clone(),
                                have.provisioned_throughput,
                                t,
                            ));
                        }
                    }
                }
                Some(_) => {
                    notes.push(format!(
                        "index {} changes its key schema or projection: it is deleted and created again",
                        want.index_name
                    ));
                    deletes.push(want.index_name.clone());
                    creates.push(want.clone());
                    kept.insert(want.index_name.clone(), want.provisioned_throughput);
                }
                None => {
                    creates.push(want.clone());
                }
            }
        }
    }
    for index in &deletes {
        actions.push(DynamoAction::DeleteIndex {
            table: table_ref(),
            index: index.clone(),
        });
    }

    // Capacity.
    let from = Capacity {
        billing_mode: table.billing_mode,
        throughput: table.provisioned_throughput,
    };
    let wanted_mode = def
        .billing_mode
        .or(def.provisioned_throughput.map(|_| BillingMode::Provisioned));
    let mut switched_to_provisioned = false;
    if let Some(mode) = wanted_mode {
        let to = Capacity {
            billing_mode: mode,
            throughput: match mode {
                BillingMode::Provisioned => def.provisioned_throughput.or(from.throughput),
                BillingMode::PayPerRequest => None,
            },
        };
        let differs = match mode {
            BillingMode::PayPerRequest => from.billing_mode != mode,
            BillingMode::Provisioned => {
                from.billing_mode != mode || to.throughput != from.throughput
            }
        };
        if differs {
            if mode == BillingMode::Provisioned && to.throughput.is_none() {
                return Err(UpdateRefused(format!(
                    "table {name} switches to PROVISIONED: the file needs ProvisionedThroughput"
                )));
            }
            let mut indexes = BTreeMap::new();
            if from.billing_mode != mode && mode == BillingMode::Provisioned {
                switched_to_provisioned = true;
                // Every remaining index needs its throughput in the same call.
                let existing = kept
                    .iter()
                    .filter(|(n, _)| !creates.iter().any(|c| &c.index_name == *n));
                for (index, t) in existing {
                    let Some(t) = t else {
                        return Err(UpdateRefused(format!(
                            "table {name} switches to PROVISIONED: index {index} needs ProvisionedThroughput in the file"
                        )));
                    };
                    indexes.insert(index.clone(), *t);
                }
            }
            actions.push(DynamoAction::UpdateCapacity {
                table: table_ref(),
                from,
                to,
                indexes,
            });
        }
    }
    // Index capacities: only for a provisioned table, and not when the switch carried them.
    let provisioned_after = wanted_mode.unwrap_or(table.billing_mode) == BillingMode::Provisioned;
    if provisioned_after && !switched_to_provisioned {
        for (index, from, to) in index_updates {
            actions.push(DynamoAction::UpdateIndexCapacity {
                table: table_ref(),
                index,
                from,
                to,
            });
        }
    }
    for index in creates {
        if provisioned_after && index.provisioned_throughput.is_none() {
            return Err(UpdateRefused(format!(
                "index {} of provisioned table {name} needs ProvisionedThroughput",
                index.index_name
            )));
        }
        let mut used: Vec<AttributeDefinition> = Vec::new();
        let table_keys = table.key_schema.iter();
        let lsi_keys = table
            .local_secondary_indexes
            .iter()
            .flat_map(|i| &i.key_schema);
        let kept_keys = table
            .global_secondary_indexes
            .iter()
            .filter(|i| kept.contains_key(&i.index_name) && !deletes.contains(&i.index_name))
            .flat_map(|i| &i.key_schema);
        for k in table_keys
            .chain(lsi_keys)
            .chain(kept_keys)
            .chain(index.key_schema.iter())
        {
            let Some(a) = attributes.get(&k.attribute_name) else {
                return Err(UpdateRefused(format!(
                    "index {}: attribute {:?} has no entry in AttributeDefinitions (of the file or the table)",
                    index.index_name, k.attribute_name
                )));
            };
            if !used.contains(a) {
                used.push(a.clone());
            }
        }
        used.sort();
        let index = GlobalSecondaryIndex {
            provisioned_throughput: index.provisioned_throughput.filter(|_| provisioned_after),
            ..index
        };
        actions.push(DynamoAction::CreateIndex {
            table: table_ref(),
            index,
            attributes: used,
        });
    }

    // Stream.
    if let Some(s) = &def.stream_specification {
        let (have, want) = (table.stream_specification.and_then(|s| s.view()), s.view());
        if have != want {
            if let (Some(_), Some(_)) = (have, want) {
                actions.push(DynamoAction::SetStream {
                    table: table_ref(),
                    from: have,
                    to: None,
                });
                actions.push(DynamoAction::SetStream {
                    table: table_ref(),
                    from: None,
                    to: want,
                });
            } else {
                actions.push(DynamoAction::SetStream {
                    table: table_ref(),
                    from: have,
                    to: want,
                });
            }
        }
    }

    // Time to live.
    if let Some(t) = &def.time_to_live_specification {
        let have = table
            .time_to_live
            .as_ref()
            .and_then(|o| o.enabled_attribute())
            .map(str::to_string);
        let want = t.enabled.then(|| t.attribute_name.clone());
        if have != want {
            if let Some(a) = have {
                actions.push(DynamoAction::SetTimeToLive {
                    table: table_ref(),
                    attribute: a,
                    enabled: false,
                });
            }
            if let Some(a) = want {
                actions.push(DynamoAction::SetTimeToLive {
                    table: table_ref(),
                    attribute: a,
                    enabled: true,
                });
            }
        }
    }
    Ok(UpdatePlan {
        plan: sequence(actions),
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamodb::{
        parse_definition, KeyType, ObservedIndex, ObservedTimeToLive, Projection, ProjectionType,
        Purpose, ScalarType, StreamSpecification,
    };
    use crate::plan::render;

    fn tp(r: i64, w: i64) -> Throughput {
        Throughput {
            read_capacity_units: r,
            write_capacity_units: w,
        }
    }

    fn hash(a: &str) -> Vec<KeySchemaElement> {
        vec![KeySchemaElement {
            attribute_name: a.into(),
            key_type: KeyType::Hash,
        }]
    }

    fn attr(a: &str) -> AttributeDefinition {
        AttributeDefinition {
            attribute_name: a.into(),
            attribute_type: ScalarType::S,
        }
    }

    fn index(name: &str, key: &str, t: Option<Throughput>) -> ObservedIndex {
        ObservedIndex {
            index_name: name.into(),
            index_status: "ACTIVE".into(),
            key_schema: hash(key),
            projection: Projection {
                projection_type: Some(ProjectionType::All),
                non_key_attributes: None,
            },
            provisioned_throughput: t,
            item_count: None,
        }
    }

    /// `notices_ci`: key `id`, provisioned 1/1, index `by-kind` on `kind` 1/1, no stream.
    fn observed() -> ObservedTable {
        ObservedTable {
            table_name: "notices_ci".into(),
            table_status: "ACTIVE".into(),
            table_arn: None,
            creation_date_time: None,
            item_count: None,
            table_size_bytes: None,
            attribute_definitions: vec![attr("id"), attr("kind")],
            key_schema: hash("id"),
            billing_mode: BillingMode::Provisioned,
            provisioned_throughput: Some(tp(1, 1)),
            global_secondary_indexes: vec![index("by-kind", "kind", Some(tp(1, 1)))],
            local_secondary_indexes: vec![],
            stream_specification: None,
            latest_stream_arn: None,
            table_class: None,
            deletion_protection_enabled: None,
            time_to_live: Some(ObservedTimeToLive {
                time_to_live_status: "DISABLED".into(),
                attribute_name: None,
            }),
        }
    }

    /// The file that describes [`observed`] exactly.
    const SAME: &str = r#"{
      "TableName": "notices",
      "AttributeDefinitions": [
        {"AttributeName": "id", "AttributeType": "S"},
        {"AttributeName": "kind", "AttributeType": "S"}
      ],
      "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
      "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
      "GlobalSecondaryIndexes": [{
        "IndexName": "by-kind",
        "KeySchema": [{"AttributeName": "kind", "KeyType": "HASH"}],
        "Projection": {"ProjectionType": "ALL"},
        "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}
      }],
      "StreamSpecification": {"StreamEnabled": false},
      "TimeToLiveSpecification": {"Enabled": false, "AttributeName": "expires"}
    }"#;

    fn def(text: &str) -> TableDefinition {
        parse_definition(text, Purpose::Update).unwrap()
    }

    fn texts(p: &UpdatePlan) -> Vec<String> {
        render::text(&p.plan).lines().map(str::to_string).collect()
    }

    #[test]
    fn the_same_file_changes_nothing() {
        let p = update_plan(&def(SAME), &observed()).unwrap();
        assert!(p.plan.is_empty(), "{:?}", texts(&p));
        // A partial file compares only what it has.
        let p = update_plan(
            &def(r#"{"ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}}"#),
            &observed(),
        )
        .unwrap();
        assert!(p.plan.is_empty());
    }

    #[test]
    fn throughput_changes_in_one_step_with_before_and_after() {
        let p = update_plan(
            &def(
                r#"{"ProvisionedThroughput": {"ReadCapacityUnits": 23, "WriteCapacityUnits": 19}}"#,
            ),
            &observed(),
        )
        .unwrap();
        assert_eq!(
            texts(&p),
            vec![
                "DynamoDB table notices_ci",
                "  ~ capacity: PROVISIONED (read 1, write 1) -> PROVISIONED (read 23, write 19)",
                "Plan: 0 to create, 1 to change, 0 to delete.",
            ]
        );
    }

    #[test]
    fn indexes_are_deleted_updated_and_created_one_call_each_in_order() {
        let text = SAME
            .replace(
                "\"Projection\": {\"ProjectionType\": \"ALL\"},\n        \"ProvisionedThroughput\": {\"ReadCapacityUnits\": 1, \"WriteCapacityUnits\": 1}",
                "\"Projection\": {\"ProjectionType\": \"ALL\"},\n        \"ProvisionedThroughput\": {\"ReadCapacityUnits\": 5, \"WriteCapacityUnits\": 5}",
            )
            .replace(
                "\"GlobalSecondaryIndexes\": [{",
                "\"GlobalSecondaryIndexes\": [{\"IndexName\": \"by-day\", \"KeySchema\": [{\"AttributeName\": \"day\", \"KeyType\": \"HASH\"}], \"Projection\": {\"ProjectionType\": \"KEYS_ONLY\"}, \"ProvisionedThroughput\": {\"ReadCapacityUnits\": 2, \"WriteCapacityUnits\": 2}}, {",
            )
            .replace(
                "{\"AttributeName\": \"kind\", \"AttributeType\": \"S\"}",
                "{\"AttributeName\": \"kind\", \"AttributeType\": \"S\"}, {\"AttributeName\": \"day\", \"AttributeType\": \"N\"}",
            );
        let mut table = observed();
        table
            .global_secondary_indexes
            .push(index("old", "kind", Some(tp(1, 1))));
        let p = update_plan(&def(&text), &table).unwrap();
        let names: Vec<String> = p.plan.steps.iter().map(|s| s.action.to_string()).collect();
        assert_eq!(
            names,
            vec![
                "delete index old",
                "capacity of index by-kind",
                "create index by-day"
            ]
        );
        // Each after the one before.
        assert_eq!(p.plan.depth(), 3);
        let DynamoAction::CreateIndex { attributes, .. } = &p.plan.steps[2].action else {
            panic!("{:?}", p.plan.steps[2]);
        };
        let names: Vec<&str> = attributes
            .iter()
            .map(|a| a.attribute_name.as_str())
            .collect();
        assert_eq!(names, vec!["day", "id", "kind"]);
        assert_eq!(render::summary(&p.plan).create, 1);
        assert_eq!(render::summary(&p.plan).delete, 1);
    }

    #[test]
    fn an_index_with_another_key_is_replaced() {
        let text = SAME.replace(
            "\"KeySchema\": [{\"AttributeName\": \"kind\", \"KeyType\": \"HASH\"}],\n        \"Projection\"",
            "\"KeySchema\": [{\"AttributeName\": \"id\", \"KeyType\": \"HASH\"}],\n        \"Projection\"",
        );
        let text = text.replace(
            ",\n        {\"AttributeName\": \"kind\", \"AttributeType\": \"S\"}",
            "",
        );
        let p = update_plan(&def(&text), &observed()).unwrap();
        let names: Vec<String> = p.plan.steps.iter().map(|s| s.action.to_string()).collect();
        assert_eq!(names, vec!["delete index by-kind", "create index by-kind"]);
        assert!(
            p.notes[0].contains("deleted and created again"),
            "{:?}",
            p.notes
        );
    }

    #[test]
    fn switching_billing_modes() {
        let p = update_plan(&def(r#"{"BillingMode": "PAY_PER_REQUEST"}"#), &observed()).unwrap();
        assert_eq!(
            texts(&p)[1],
            "  ~ capacity: PROVISIONED (read 1, write 1) -> PAY_PER_REQUEST"
        );
        // Back to provisioned: the index's throughput goes in the same call.
        let mut table = observed();
        table.billing_mode = BillingMode::PayPerRequest;
        table.provisioned_throughput = None;
        table.global_secondary_indexes[0].provisioned_throughput = None;
        let p = update_plan(&def(SAME), &table).unwrap();
        assert_eq!(p.plan.len(), 1);
        let DynamoAction::UpdateCapacity { indexes, .. } = &p.plan.steps[0].action else {
            panic!()
        };
        assert_eq!(indexes.get("by-kind"), Some(&tp(1, 1)));
        // Without the index's throughput in the file it cannot be done.
        let err = update_plan(
            &def(r#"{"BillingMode": "PROVISIONED", "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}}"#),
            &table,
        )
        .unwrap_err();
        assert!(
            err.0.contains("index by-kind needs ProvisionedThroughput"),
            "{err}"
        );
    }

    #[test]
    fn stream_and_time_to_live() {
        let text = SAME
            .replace(
                "{\"StreamEnabled\": false}",
                "{\"StreamEnabled\": true, \"StreamViewType\": \"NEW_IMAGE\"}",
            )
            .replace("{\"Enabled\": false", "{\"Enabled\": true");
        let p = update_plan(&def(&text), &observed()).unwrap();
        assert_eq!(
            texts(&p),
            vec![
                "DynamoDB table notices_ci",
                "  ~ stream: off -> NEW_IMAGE",
                "  ~ time to live: off -> on (expires)",
                "Plan: 0 to create, 2 to change, 0 to delete.",
            ]
        );
        // Another view type or attribute: off, then on.
        let mut table = observed();
        table.stream_specification = Some(StreamSpecification {
            stream_enabled: true,
            stream_view_type: Some(StreamViewType::KeysOnly),
        });
        table.time_to_live = Some(ObservedTimeToLive {
            time_to_live_status: "ENABLED".into(),
            attribute_name: Some("ttl".into()),
        });
        let p = update_plan(&def(&text), &table).unwrap();
        assert_eq!(p.plan.len(), 4);
        assert_eq!(texts(&p)[1], "  ~ stream: KEYS_ONLY -> off");
        assert_eq!(texts(&p)[3], "  ~ time to live: on (ttl) -> off");
    }

    #[test]
    fn what_cannot_change_in_place_is_refused() {
        let err = update_plan(
            &def(r#"{"KeySchema": [{"AttributeName": "kind", "KeyType": "HASH"}]}"#),
            &observed(),
        )
        .unwrap_err();
        assert!(err.0.contains("key schema cannot change"), "{err}");
        let err = update_plan(
            &def(r#"{"AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "N"}], "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}"#),
            &observed(),
        )
        .unwrap_err();
        assert!(err.0.contains("type cannot change"), "{err}");
        // An update file may define the table's own key attributes (they are used), not
        // attributes nothing uses.
        let p = update_plan(
            &def(r#"{"AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}]}"#),
            &observed(),
        )
        .unwrap();
        assert!(p.plan.is_empty());
        let err = update_plan(
            &def(r#"{"AttributeDefinitions": [{"AttributeName": "spare", "AttributeType": "S"}]}"#),
            &observed(),
        )
        .unwrap_err();
        assert!(
            err.0
                .contains("\"spare\" is defined but no key schema or index"),
            "{err}"
        );
        let p = update_plan(
            &def(r#"{"Tags": [{"Key": "a", "Value": "b"}]}"#),
            &observed(),
        )
        .unwrap();
        assert!(p.plan.is_empty());
        assert!(p.notes[0].starts_with("Tags are set when"), "{:?}", p.notes);
    }

    #[test]
    fn create_sets_time_to_live_after_the_table_and_undoes_the_table() {
        let d = parse_definition(
            r#"{"TableName": "notices",
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                "BillingMode": "PAY_PER_REQUEST",
                "TimeToLiveSpecification": {"Enabled": true, "AttributeName": "expires"}}"#,
            Purpose::Create,
        )
        .unwrap();
        let plan = create_plan("notices_ci", "ci", &d);
        assert_eq!(plan.len(), 2);
        assert_eq!(plan.steps[1].after, vec![0]);
        let DynamoAction::CreateTable {
            definition, tags, ..
        } = &plan.steps[0].action
        else {
            panic!()
        };
        assert_eq!(definition.table_name.as_deref(), Some("notices_ci"));
        assert!(definition.time_to_live_specification.is_none());
        assert!(tags.contains(&("managed-by".to_string(), "asiaq".to_string())));
        assert_eq!(
            plan.steps[0].action.undo(),
            Some(DynamoAction::DeleteTable {
                table: "${table}".into()
            })
        );
        assert_eq!(
            render::text(&plan),
            "DynamoDB table notices_ci\n  + create table notices_ci\n\
             \x20 ~ time to live: off -> on (expires)\n\
             Plan: 1 to create, 1 to change, 0 to delete.\n"
        );
    }
}
