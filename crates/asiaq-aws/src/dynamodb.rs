//! DynamoDB: tables observed as [`ObservedTable`], backups as [`BackupSummary`], and the
//! calls of the plans of [`asiaq_core::plan::dynamodb`] for the engine.
//!
//! A table takes one change at a time: a step that changes a table this run already
//! changed first waits until the table and its indexes are `ACTIVE` again (with progress).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use asiaq_core::dynamodb::{
    AttributeDefinition, BackupSummary, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    LocalSecondaryIndex, ObservedIndex, ObservedTable, ObservedTimeToLive, Projection,
    StreamSpecification, TableDefinition, Throughput,
};
use asiaq_core::plan::dynamodb::DynamoAction;
use asiaq_core::plan::{Plan, PlanAction};
use asiaq_engine::{report, Apply, Disposition, ExecOptions, RollbackReport, StepError};
use aws_sdk_dynamodb::types as ddb;
use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;
use serde::de::DeserializeOwned;

use crate::error::AwsError;
use crate::wait::{wait_for, Backoff, Poll};
use crate::AwsContext;

mod prepare;
pub use prepare::*;

fn err<E>(operation: &'static str) -> impl FnOnce(crate::error::CallError<E>) -> AwsError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    move |e| AwsError::call("dynamodb", operation, e)
}

/// A value of one of the core's enums from the text AWS uses for it.
fn from_aws<T: DeserializeOwned>(text: &str) -> Result<T, AwsError> {
    serde_json::from_value(serde_json::Value::String(text.to_string()))
        .map_err(|_| AwsError::State(format!("DynamoDB answered an unknown value {text:?}")))
}

/// The text AWS uses for one of the core's enums.
fn to_aws<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

fn time_text(t: &DateTime) -> String {
    t.fmt(Format::DateTime).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Observing
// ---------------------------------------------------------------------------------------

fn keys_of(keys: &[ddb::KeySchemaElement]) -> Result<Vec<KeySchemaElement>, AwsError> {
    keys.iter()
        .map(|k| {
            Ok(KeySchemaElement {
                attribute_name: k.attribute_name().to_string(),
                key_type: from_aws(k.key_type().as_str())?,
            })
        })
        .collect()
}

fn projection_of(p: Option<&ddb::Projection>) -> Result<Projection, AwsError> {
    Ok(Projection {
        projection_type: p
            .and_then(|p| p.projection_type())
            .map(|t| from_aws(t.as_str()))
            .transpose()?,
        non_key_attributes: p
            .map(|p| p.non_key_attributes().to_vec())
            .filter(|a| !a.is_empty()),
    })
}

/// Provisioned throughput as DynamoDB describes it; an on-demand table shows 0/0.
fn throughput_of(t: Option<&ddb::ProvisionedThroughputDescription>) -> Option<Throughput> {
    let t = t?;
    let (read, write) = (t.read_capacity_units()?, t.write_capacity_units()?);
    (read > 0 || write > 0).then_some(Throughput {
        read_capacity_units: read,
        write_capacity_units: write,
    })
}

/// The core's view of a table description.
pub fn observed_table(t: &ddb::TableDescription) -> Result<ObservedTable, AwsError> {
    let billing_mode: BillingMode = match t.billing_mode_summary().and_then(|b| b.billing_mode()) {
        Some(m) => from_aws(m.as_str())?,
        None => BillingMode::Provisioned,
    };
    let on_demand = billing_mode == BillingMode::PayPerRequest;
    let attribute_definitions = t
        .attribute_definitions()
        .iter()
        .map(|a| {
            Ok(AttributeDefinition {
                attribute_name: a.attribute_name().to_string(),
                attribute_type: from_aws(a.attribute_type().as_str())?,
            })
        })
        .collect::<Result<Vec<_>, AwsError>>()?;
    let global_secondary_indexes = t
        .global_secondary_indexes()
        .iter()
        .map(|i| {
            Ok(ObservedIndex {
                index_name: i.index_name().unwrap_or_default().to_string(),
                index_status: i
                    .index_status()
                    .map_or("ACTIVE", |s| s.as_str())
                    .to_string(),
                key_schema: keys_of(i.key_schema())?,
                projection: projection_of(i.projection())?,
                provisioned_throughput: throughput_of(i.provisioned_throughput())
                    .filter(|_| !on_demand),
                item_count: i.item_count(),
            })
        })
        .collect::<Result<Vec<_>, AwsError>>()?;
    let local_secondary_indexes = t
        .local_secondary_indexes()
        .iter()
        .map(|i| {
            Ok(LocalSecondaryIndex {
                index_name: i.index_name().unwrap_or_default().to_string(),
                key_schema: keys_of(i.key_schema())?,
                projection: projection_of(i.projection())?,
            })
        })
        .collect::<Result<Vec<_>, AwsError>>()?;
    let stream_specification = t
        .stream_specification()
        .map(|s| {
            Ok::<_, AwsError>(StreamSpecification {
                stream_enabled: s.stream_enabled(),
                stream_view_type: s
                    .stream_view_type()
                    .map(|v| from_aws(v.as_str()))
                    .transpose()?,
            })
        })
        .transpose()?;
    Ok(ObservedTable {
        table_name: t.table_name().unwrap_or_default().to_string(),
        table_status: t
            .table_status()
            .map_or("ACTIVE", |s| s.as_str())
            .to_string(),
        table_arn: t.table_arn().map(str::to_string),
        creation_date_time: t.creation_date_time().map(time_text),
        item_count: t.item_count(),
        table_size_bytes: t.table_size_bytes(),
        attribute_definitions,
        key_schema: keys_of(t.key_schema())?,
        billing_mode,
        provisioned_throughput: throughput_of(t.provisioned_throughput()).filter(|_| !on_demand),
        global_secondary_indexes,
        local_secondary_indexes,
        stream_specification,
        latest_stream_arn: t.latest_stream_arn().map(str::to_string),
        table_class: t
            .table_class_summary()
            .and_then(|c| c.table_class())
            .map(|c| c.as_str().to_string()),
        deletion_protection_enabled: t.deletion_protection_enabled(),
        time_to_live: None,
    })
}

/// The table `name`, or `None` when there is none.
pub async fn describe_table(
    ctx: &AwsContext,
    name: &str,
) -> Result<Option<ObservedTable>, AwsError> {
    match ctx
        .dynamodb()
        .describe_table()
        .table_name(name)
        .send()
        .await
    {
        Ok(out) => out.table().map(observed_table).transpose(),
        Err(e) => {
            let e = err("DescribeTable")(e);
            if e.is_not_found() {
                Ok(None)
            } else {
                Err(e)
            }
        }
    }
}

/// The table `name`, which must exist (exit 1 otherwise, naming it).
pub async fn require_table(ctx: &AwsContext, name: &str) -> Result<ObservedTable, AwsError> {
    describe_table(ctx, name).await?.ok_or_else(|| {
        AwsError::State(format!(
            "there is no DynamoDB table {name} (in {})",
            ctx.region()
        ))
    })
}

/// The table's time-to-live setting.
pub async fn describe_time_to_live(
    ctx: &AwsContext,
    name: &str,
) -> Result<ObservedTimeToLive, AwsError> {
    let out = ctx
        .dynamodb()
        .describe_time_to_live()
        .table_name(name)
        .send()
        .await
        .map_err(err("DescribeTimeToLive"))?;
    let d = out.time_to_live_description();
    Ok(ObservedTimeToLive {
        time_to_live_status: d
            .and_then(|d| d.time_to_live_status())
            .map_or("DISABLED", |s| s.as_str())
            .to_string(),
        attribute_name: d.and_then(|d| d.attribute_name()).map(str::to_string),
    })
}

/// Whether point-in-time recovery is on.
pub async fn point_in_time_recovery(ctx: &AwsContext, name: &str) -> Result<bool, AwsError> {
    let out = ctx
        .dynamodb()
        .describe_continuous_backups()
        .table_name(name)
        .send()
        .await
        .map_err(err("DescribeContinuousBackups"))?;
    Ok(out
        .continuous_backups_description()
        .and_then(|d| d.point_in_time_recovery_description())
        .and_then(|p| p.point_in_time_recovery_status())
        .is_some_and(|s| *s == ddb::PointInTimeRecoveryStatus::Enabled))
}

/// Every table name of the region, all pages.
pub async fn list_tables(ctx: &AwsContext) -> Result<Vec<String>, AwsError> {
    let mut names = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let out = ctx
            .dynamodb()
            .list_tables()
            .set_exclusive_start_table_name(start.take())
            .send()
            .await
            .map_err(err("ListTables"))?;
        names.extend(out.table_names().iter().cloned());
        match out.last_evaluated_table_name() {
            Some(n) => start = Some(n.to_string()),
            None => break,
        }
    }
    Ok(names)
}

/// The backups of table `table` (of every table without one), all pages, oldest first.
pub async fn list_backups(
    ctx: &AwsContext,
    table: Option<&str>,
) -> Result<Vec<BackupSummary>, AwsError> {
    let mut backups = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let out = ctx
            .dynamodb()
            .list_backups()
            .set_table_name(table.map(str::to_string))
            .set_exclusive_start_backup_arn(start.take())
            .send()
            .await
            .map_err(err("ListBackups"))?;
        for b in out.backup_summaries() {
            backups.push(BackupSummary {
                table: b.table_name().unwrap_or_default().to_string(),
                name: b.backup_name().unwrap_or_default().to_string(),
                arn: b.backup_arn().unwrap_or_default().to_string(),
                created: b
                    .backup_creation_date_time()
                    .map(time_text)
                    .unwrap_or_default(),
                status: b
                    .backup_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                size_bytes: b.backup_size_bytes(),
                backup_type: b
                    .backup_type()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
            });
        }
        match out.last_evaluated_backup_arn() {
            Some(a) => start = Some(a.to_string()),
            None => break,
        }
    }
    backups.sort_by(|a, b| a.created.cmp(&b.created).then(a.arn.cmp(&b.arn)));
    Ok(backups)
}

// ---------------------------------------------------------------------------------------
// Waiting
// ---------------------------------------------------------------------------------------

fn table_backoff() -> Backoff {
    Backoff::new(
        Duration::from_secs(2),
        Duration::from_secs(20),
        Duration::from_secs(30 * 60),
    )
}

/// Waits until table `name` and every index of it are `ACTIVE` (after a create, an update,
/// a restore), reporting what it waits for and the last state.
pub async fn wait_active(ctx: &AwsContext, name: &str) -> Result<ObservedTable, AwsError> {
    let what = format!("DynamoDB table {name} and its indexes to be ACTIVE");
    wait_for(&what, table_backoff(), || async {
        Ok(match describe_table(ctx, name).await? {
            None => Poll::Pending("not visible yet".to_string()),
            Some(t) => match t.settled() {
                Ok(()) => Poll::Ready(t),
                Err(state) => Poll::Pending(state),
            },
        })
    })
    .await
}

/// Waits until table `name` is gone.
pub async fn wait_gone(ctx: &AwsContext, name: &str) -> Result<(), AwsError> {
    let what = format!("DynamoDB table {name} to be deleted");
    wait_for(&what, table_backoff(), || async {
        Ok(match describe_table(ctx, name).await? {
            None => Poll::Ready(()),
            Some(t) => Poll::Pending(t.table_status),
        })
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Applying
// ---------------------------------------------------------------------------------------

fn built<T, E: std::fmt::Display>(what: &str, r: Result<T, E>) -> Result<T, AwsError> {
    AwsError::built(what, r)
}

fn sdk_keys(keys: &[KeySchemaElement]) -> Result<Vec<ddb::KeySchemaElement>, AwsError> {
    keys.iter()
        .map(|k| {
            built(
                "key schema element",
                ddb::KeySchemaElement::builder()
                    .attribute_name(&k.attribute_name)
                    .key_type(ddb::KeyType::from(to_aws(&k.key_type).as_str()))
                    .build(),
            )
        })
        .collect()
}

fn sdk_attributes(
    attrs: &[AttributeDefinition],
) -> Result<Vec<ddb::AttributeDefinition>, AwsError> {
    attrs
        .iter()
        .map(|a| {
            built(
                "attribute definition",
                ddb::AttributeDefinition::builder()
                    .attribute_name(&a.attribute_name)
                    .attribute_type(ddb::ScalarAttributeType::from(
                        to_aws(&a.attribute_type).as_str(),
                    ))
                    .build(),
            )
        })
        .collect()
}

fn sdk_projection(p: &Projection) -> ddb::Projection {
    ddb::Projection::builder()
        .set_projection_type(
            p.projection_type
                .map(|t| ddb::ProjectionType::from(to_aws(&t).as_str())),
        )
        .set_non_key_attributes(p.non_key_attributes.clone())
        .build()
}

fn sdk_throughput(t: &Throughput) -> Result<ddb::ProvisionedThroughput, AwsError> {
    built(
        "provisioned throughput",
        ddb::ProvisionedThroughput::builder()
            .read_capacity_units(t.read_capacity_units)
            .write_capacity_units(t.write_capacity_units)
            .build(),
    )
}

fn sdk_gsi(i: &GlobalSecondaryIndex) -> Result<ddb::GlobalSecondaryIndex, AwsError> {
    built(
        "global secondary index",
        ddb::GlobalSecondaryIndex::builder()
            .index_name(&i.index_name)
            .set_key_schema(Some(sdk_keys(&i.key_schema)?))
            .projection(sdk_projection(&i.projection))
            .set_provisioned_throughput(
                i.provisioned_throughput
                    .as_ref()
                    .map(sdk_throughput)
                    .transpose()?,
            )
            .build(),
    )
}

fn sdk_stream(
    view: Option<asiaq_core::dynamodb::StreamViewType>,
) -> Result<ddb::StreamSpecification, AwsError> {
    built(
        "stream specification",
        ddb::StreamSpecification::builder()
            .stream_enabled(view.is_some())
            .set_stream_view_type(view.map(|v| ddb::StreamViewType::from(v.to_string().as_str())))
            .build(),
    )
}

async fn create_table(
    ctx: &AwsContext,
    table: &str,
    def: &TableDefinition,
    tags: &[(String, String)],
) -> Result<(), AwsError> {
    let mut all_tags: Vec<ddb::Tag> = Vec::new();
    for t in def.tags.iter().flatten() {
        if !tags.iter().any(|(k, _)| *k == t.key) {
            all_tags.push(built(
                "tag",
                ddb::Tag::builder().key(&t.key).value(&t.value).build(),
            )?);
        }
    }
    for (k, v) in tags {
        all_tags.push(built("tag", ddb::Tag::builder().key(k).value(v).build())?);
    }
    let lsis = def
        .local_secondary_indexes
        .iter()
        .flatten()
        .map(|i| {
            built(
                "local secondary index",
                ddb::LocalSecondaryIndex::builder()
                    .index_name(&i.index_name)
                    .set_key_schema(Some(sdk_keys(&i.key_schema)?))
                    .projection(sdk_projection(&i.projection))
                    .build(),
            )
        })
        .collect::<Result<Vec<_>, AwsError>>()?;
    let gsis = def
        .global_secondary_indexes
        .iter()
        .flatten()
        .map(sdk_gsi)
        .collect::<Result<Vec<_>, AwsError>>()?;
    let sse = def.sse_specification.as_ref().map(|s| {
        ddb::SseSpecification::builder()
            .set_enabled(s.enabled)
            .set_sse_type(s.sse_type.as_deref().map(ddb::SseType::from))
            .set_kms_master_key_id(s.kms_master_key_id.clone())
            .build()
    });
    ctx.dynamodb()
        .create_table()
        .table_name(table)
        .set_attribute_definitions(Some(sdk_attributes(
            def.attribute_definitions.as_deref().unwrap_or_default(),
        )?))
        .set_key_schema(Some(sdk_keys(
            def.key_schema.as_deref().unwrap_or_default(),
        )?))
        .set_local_secondary_indexes((!lsis.is_empty()).then_some(lsis))
        .set_global_secondary_indexes((!gsis.is_empty()).then_some(gsis))
        .set_billing_mode(
            def.billing_mode
                .map(|m| ddb::BillingMode::from(m.to_string().as_str())),
        )
        .set_provisioned_throughput(
            def.provisioned_throughput
                .as_ref()
                .map(sdk_throughput)
                .transpose()?,
        )
        .set_stream_specification(
            def.stream_specification
                .as_ref()
                .map(|s| sdk_stream(s.view()))
                .transpose()?,
        )
        .set_sse_specification(sse)
        .set_table_class(def.table_class.as_deref().map(ddb::TableClass::from))
        .set_deletion_protection_enabled(def.deletion_protection_enabled)
        .set_tags(Some(all_tags))
        .send()
        .await
        .map(drop)
        .map_err(err("CreateTable"))
}

/// The table an action changes (after which it is busy for a while), or deletes.
fn changed_table(action: &DynamoAction) -> Option<&str> {
    match action {
        DynamoAction::CreateTable { table, .. }
        | DynamoAction::DeleteTable { table }
        | DynamoAction::UpdateCapacity { table, .. }
        | DynamoAction::UpdateIndexCapacity { table, .. }
        | DynamoAction::CreateIndex { table, .. }
        | DynamoAction::DeleteIndex { table, .. }
        | DynamoAction::SetStream { table, .. }
        | DynamoAction::SetTimeToLive { table, .. } => Some(table),
        DynamoAction::RestoreFromBackup { target, .. }
        | DynamoAction::RestoreToPointInTime { target, .. } => Some(target),
        DynamoAction::CreateBackup { .. } | DynamoAction::SetPointInTimeRecovery { .. } => None,
    }
}

/// The calls of `asiaq dynamodb` for the engine. `busy` holds the tables this run has
/// changed: the next change of one waits until it is `ACTIVE` again.
struct DynamoSteps<'a> {
    ctx: &'a AwsContext,
    busy: Mutex<BTreeSet<String>>,
}

impl DynamoSteps<'_> {
    fn is_busy(&self, table: &str) -> bool {
        self.busy.lock().map(|b| b.contains(table)).unwrap_or(true)
    }

    fn mark_busy(&self, table: &str) {
        if let Ok(mut b) = self.busy.lock() {
            b.insert(table.to_string());
        }
    }

    async fn call(&self, action: &DynamoAction) -> Result<Option<String>, AwsError> {
        let ddb = self.ctx.dynamodb();
        let update = |table: &str| ddb.update_table().table_name(table);
        match action {
            DynamoAction::CreateTable {
                table,
                definition,
                tags,
            } => {
                create_table(self.ctx, table, definition, tags).await?;
                return Ok(Some(table.clone()));
            }
            DynamoAction::DeleteTable { table } => ddb
                .delete_table()
                .table_name(table)
                .send()
                .await
                .map(drop)
                .map_err(err("DeleteTable"))?,
            DynamoAction::UpdateCapacity {
                table, to, indexes, ..
            } => {
                let mut index_updates = Vec::new();
                for (index, t) in indexes {
                    index_updates.push(
                        ddb::GlobalSecondaryIndexUpdate::builder()
                            .update(built(
                                "index update",
                                ddb::UpdateGlobalSecondaryIndexAction::builder()
                                    .index_name(index)
                                    .provisioned_throughput(sdk_throughput(t)?)
                                    .build(),
                            )?)
                            .build(),
                    );
                }
                update(table)
                    .billing_mode(ddb::BillingMode::from(to.billing_mode.to_string().as_str()))
                    .set_provisioned_throughput(
                        to.throughput.as_ref().map(sdk_throughput).transpose()?,
                    )
                    .set_global_secondary_index_updates(
                        (!index_updates.is_empty()).then_some(index_updates),
                    )
                    .send()
                    .await
                    .map(drop)
                    .map_err(err("UpdateTable"))?
            }
            DynamoAction::UpdateIndexCapacity {
                table, index, to, ..
            } => update(table)
                .global_secondary_index_updates(
                    ddb::GlobalSecondaryIndexUpdate::builder()
                        .update(built(
                            "index update",
                            ddb::UpdateGlobalSecondaryIndexAction::builder()
                                .index_name(index)
                                .provisioned_throughput(sdk_throughput(to)?)
                                .build(),
                        )?)
                        .build(),
                )
                .send()
                .await
                .map(drop)
                .map_err(err("UpdateTable"))?,
            DynamoAction::CreateIndex {
                table,
                index,
                attributes,
            } => {
                let gsi = sdk_gsi(index)?;
                let create = built(
                    "index creation",
                    ddb::CreateGlobalSecondaryIndexAction::builder()
                        .index_name(&index.index_name)
                        .set_key_schema(Some(gsi.key_schema().to_vec()))
                        .set_projection(gsi.projection().cloned())
                        .set_provisioned_throughput(gsi.provisioned_throughput().cloned())
                        .build(),
                )?;
                update(table)
                    .set_attribute_definitions(Some(sdk_attributes(attributes)?))
                    .global_secondary_index_updates(
                        ddb::GlobalSecondaryIndexUpdate::builder()
                            .create(create)
                            .build(),
                    )
                    .send()
                    .await
                    .map(drop)
                    .map_err(err("UpdateTable"))?
            }
            DynamoAction::DeleteIndex { table, index } => update(table)
                .global_secondary_index_updates(
                    ddb::GlobalSecondaryIndexUpdate::builder()
                        .delete(built(
                            "index deletion",
                            ddb::DeleteGlobalSecondaryIndexAction::builder()
                                .index_name(index)
                                .build(),
                        )?)
                        .build(),
                )
                .send()
                .await
                .map(drop)
                .map_err(err("UpdateTable"))?,
            DynamoAction::SetStream { table, to, .. } => update(table)
                .stream_specification(sdk_stream(*to)?)
                .send()
                .await
                .map(drop)
                .map_err(err("UpdateTable"))?,
            DynamoAction::SetTimeToLive {
                table,
                attribute,
                enabled,
            } => ddb
                .update_time_to_live()
                .table_name(table)
                .time_to_live_specification(built(
                    "time to live",
                    ddb::TimeToLiveSpecification::builder()
                        .enabled(*enabled)
                        .attribute_name(attribute)
                        .build(),
                )?)
                .send()
                .await
                .map(drop)
                .map_err(err("UpdateTimeToLive"))?,
            DynamoAction::CreateBackup { table, name } => {
                let out = ddb
                    .create_backup()
                    .table_name(table)
                    .backup_name(name)
                    .send()
                    .await
                    .map_err(err("CreateBackup"))?;
                return Ok(out.backup_details().map(|d| d.backup_arn().to_string()));
            }
            DynamoAction::RestoreFromBackup { backup_arn, target } => {
                ddb.restore_table_from_backup()
                    .backup_arn(backup_arn)
                    .target_table_name(target)
                    .send()
                    .await
                    .map_err(err("RestoreTableFromBackup"))?;
                return Ok(Some(target.clone()));
            }
            DynamoAction::RestoreToPointInTime {
                source,
                target,
                time,
            } => {
                let at = DateTime::from_str(time, Format::DateTime).map_err(|e| {
                    AwsError::State(format!("point in time {time:?} is not RFC 3339: {e}"))
                })?;
                ddb.restore_table_to_point_in_time()
                    .source_table_name(source)
                    .target_table_name(target)
                    .restore_date_time(at)
                    .send()
                    .await
                    .map_err(err("RestoreTableToPointInTime"))?;
                return Ok(Some(target.clone()));
            }
            DynamoAction::SetPointInTimeRecovery { table, enabled } => ddb
                .update_continuous_backups()
                .table_name(table)
                .point_in_time_recovery_specification(built(
                    "point-in-time recovery",
                    ddb::PointInTimeRecoverySpecification::builder()
                        .point_in_time_recovery_enabled(*enabled)
                        .build(),
                )?)
                .send()
                .await
                .map(drop)
                .map_err(err("UpdateContinuousBackups"))?,
        }
        Ok(None)
    }
}

impl Apply<DynamoAction> for DynamoSteps<'_> {
    type Error = AwsError;

    async fn apply(&self, action: &DynamoAction) -> Result<Option<String>, AwsError> {
        let changed = changed_table(action);
        if let Some(table) = changed.filter(|t| self.is_busy(t)) {
            wait_active(self.ctx, table).await?;
        }
        let out = self.call(action).await?;
        if let Some(table) = changed {
            self.mark_busy(table);
        }
        Ok(out)
    }

    fn unresolved(&self, action: &DynamoAction, key: &str) -> AwsError {
        AwsError::State(format!("{action}: nothing created {key}"))
    }

    /// Tables are described before every plan and waited for between changes, so "not
    /// found" is final, except for a delete (then it is done); throttling is sent again.
    fn disposition(&self, action: &DynamoAction, error: &AwsError) -> Disposition {
        if error.is_injected() {
            Disposition::Fail
        } else if action.change().is_delete() && error.is_not_found() {
            Disposition::Done
        } else if error.is_throttling() {
            Disposition::Retry
        } else {
            Disposition::Fail
        }
    }
}

/// A plan that failed: the step and AWS's error, and what the rollback (if any) undid.
#[derive(Debug, thiserror::Error)]
#[error("{step}: {error}")]
pub struct ApplyFailure {
    pub step: String,
    pub error: AwsError,
    pub rollback: Option<RollbackReport>,
}

/// Runs a plan, one step after another. With `roll_back`, a failure undoes what the run
/// created (the table of a create or restore), so a failed create leaves nothing behind.
/// Returns what the steps created by plan key (`table`: its name, `backup`: its ARN).
pub async fn apply_plan(
    ctx: &AwsContext,
    title: &str,
    plan: &Plan<DynamoAction>,
    roll_back: bool,
) -> Result<BTreeMap<String, String>, ApplyFailure> {
    let options = ExecOptions {
        max_in_flight: 1,
        retry: crate::vpc::execute::retry_policy(),
        title: title.to_string(),
    };
    let steps = DynamoSteps {
        ctx,
        busy: Mutex::new(BTreeSet::new()),
    };
    let reporter = report::current();
    match asiaq_engine::execute(&steps, plan, &options, reporter.as_ref()).await {
        Ok(done) => Ok(done.created),
        Err(failure) => {
            let rollback = if roll_back {
                Some(
                    asiaq_engine::rollback(
                        &steps,
                        plan,
                        &failure.completed,
                        &failure.created,
                        &options,
                        reporter.as_ref(),
                    )
                    .await,
                )
            } else {
                None
            };
            Err(ApplyFailure {
                step: failure.step,
                error: failure.error,
                rollback,
            })
        }
    }
}
