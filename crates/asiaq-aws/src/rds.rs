//! `rds`: observing an environment's DB instances and what the core's plans need (the
//! intranet metanetwork, subnet and parameter groups, snapshots, CNAMEs), the master
//! passwords from the credential bucket, and the plan's calls through the engine. Passwords
//! travel as [`Secret`]s, held by the executor, never in a plan or a message.

use std::collections::BTreeMap;
use std::time::Duration;

use asiaq_core::elasticache::DnsTarget;
use asiaq_core::plan::Plan;
use asiaq_core::rds::{
    self as core, ObservedDb, ObservedParameter, RdsAction, RdsInstance, UpdateInput,
};
use asiaq_core::secret::Secret;
use asiaq_core::syntax::MetaNetworkName;
use asiaq_engine::Apply;
use aws_sdk_rds::types::{ApplyMethod, DbInstance, Parameter, Tag};

use crate::context::AwsContext;
use crate::credentials::Bucket;
use crate::error::AwsError;
use crate::route53;
use crate::wait::{wait_for, Backoff, Poll};

/// How long a create, restore, modify or reboot waits for the instance to be available.
pub const AVAILABLE_TIMEOUT: Duration = Duration::from_secs(90 * 60);
/// How long a delete waits for the instance to be gone and its final snapshot available.
pub const DELETE_TIMEOUT: Duration = Duration::from_secs(90 * 60);

fn call<E>(operation: &'static str) -> impl FnOnce(crate::error::CallError<E>) -> AwsError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    move |e| AwsError::call("rds", operation, e)
}

fn code_is(e: &AwsError, codes: &[&str]) -> bool {
    e.code().is_some_and(|c| codes.contains(&c))
}

fn observed(d: &DbInstance) -> ObservedDb {
    let group = d.db_parameter_groups().first();
    ObservedDb {
        id: d.db_instance_identifier().unwrap_or_default().to_string(),
        status: d.db_instance_status().unwrap_or_default().to_string(),
        instance_class: d.db_instance_class().unwrap_or_default().to_string(),
        engine_version: d.engine_version().unwrap_or_default().to_string(),
        allocated_storage: d.allocated_storage().unwrap_or_default(),
        iops: d.iops().unwrap_or_default(),
        multi_az: d.multi_az().unwrap_or_default(),
        auto_minor_version_upgrade: d.auto_minor_version_upgrade().unwrap_or_default(),
        backup_retention_period: d.backup_retention_period().unwrap_or_default(),
        preferred_backup_window: d.preferred_backup_window().map(str::to_string),
        preferred_maintenance_window: d.preferred_maintenance_window().map(str::to_string),
        parameter_group: group
            .and_then(|g| g.db_parameter_group_name())
            .map(str::to_string),
        parameter_apply_status: group
            .and_then(|g| g.parameter_apply_status())
            .map(str::to_string),
        security_group_ids: d
            .vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id().map(str::to_string))
            .collect(),
        endpoint: d.endpoint().and_then(|e| e.address()).map(str::to_string),
        port: d.endpoint().and_then(|e| e.port()),
    }
}

/// The instance `id`, if it exists.
pub async fn observe_db(ctx: &AwsContext, id: &str) -> Result<Option<ObservedDb>, AwsError> {
    match ctx
        .rds()
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .map_err(call("DescribeDBInstances"))
    {
        Ok(out) => Ok(out.db_instances().first().map(observed)),
        Err(e) if code_is(&e, &["DBInstanceNotFound", "DBInstanceNotFoundFault"]) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Every DB instance of the region, page after page.
pub async fn all_dbs(ctx: &AwsContext) -> Result<Vec<ObservedDb>, AwsError> {
    let mut out = Vec::new();
    let mut pages = ctx.rds().describe_db_instances().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(call("DescribeDBInstances"))?;
        out.extend(page.db_instances().iter().map(observed));
    }
    Ok(out)
}

async fn subnet_group_exists(ctx: &AwsContext, name: &str) -> Result<bool, AwsError> {
    match ctx
        .rds()
        .describe_db_subnet_groups()
        .db_subnet_group_name(name)
        .send()
        .await
        .map_err(call("DescribeDBSubnetGroups"))
    {
        Ok(out) => Ok(!out.db_subnet_groups().is_empty()),
        Err(e) if code_is(&e, &["DBSubnetGroupNotFoundFault", "DBSubnetGroupNotFound"]) => {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// The parameters of group `name` (values and apply types); `None` when it does not exist.
async fn parameters(
    ctx: &AwsContext,
    name: &str,
) -> Result<Option<BTreeMap<String, ObservedParameter>>, AwsError> {
    let mut out = BTreeMap::new();
    let mut pages = ctx
        .rds()
        .describe_db_parameters()
        .db_parameter_group_name(name)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = match page.map_err(call("DescribeDBParameters")) {
            Ok(p) => p,
            Err(e)
                if code_is(
                    &e,
                    &["DBParameterGroupNotFound", "DBParameterGroupNotFoundFault"],
                ) =>
            {
                return Ok(None)
            }
            Err(e) => return Err(e),
        };
        for p in page.parameters() {
            if let Some(n) = p.parameter_name() {
                out.insert(
                    n.to_string(),
                    ObservedParameter {
                        value: p.parameter_value().map(str::to_string),
                        apply_type: p.apply_type().map(str::to_string),
                    },
                );
            }
        }
    }
    Ok(Some(out))
}

/// The snapshots of instance `id` (every page): `(snapshot id, status, created)`.
async fn snapshots(ctx: &AwsContext, id: &str) -> Result<Vec<(String, String, i64)>, AwsError> {
    let mut out = Vec::new();
    let mut pages = ctx
        .rds()
        .describe_db_snapshots()
        .db_instance_identifier(id)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(call("DescribeDBSnapshots"))?;
        for s in page.db_snapshots() {
            out.push((
                s.db_snapshot_identifier().unwrap_or_default().to_string(),
                s.status().unwrap_or_default().to_string(),
                s.snapshot_create_time().map_or(0, |t| t.secs()),
            ));
        }
    }
    Ok(out)
}

/// Every manual DB snapshot of the region, page after page (the original read one page).
pub async fn manual_snapshots(ctx: &AwsContext) -> Result<Vec<core::SnapshotInfo>, AwsError> {
    let mut out = Vec::new();
    let mut pages = ctx
        .rds()
        .describe_db_snapshots()
        .snapshot_type("manual")
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(call("DescribeDBSnapshots"))?;
        for s in page.db_snapshots() {
            out.push(core::SnapshotInfo {
                id: s.db_snapshot_identifier().unwrap_or_default().to_string(),
                instance: s.db_instance_identifier().unwrap_or_default().to_string(),
                snapshot_type: s.snapshot_type().unwrap_or_default().to_string(),
                status: s.status().unwrap_or_default().to_string(),
                created: s.snapshot_create_time().map_or(0, |t| t.secs()),
            });
        }
    }
    Ok(out)
}

/// The newest available snapshot of instance `id`.
async fn newest_snapshot(ctx: &AwsContext, id: &str) -> Result<Option<String>, AwsError> {
    Ok(snapshots(ctx, id)
        .await?
        .into_iter()
        .filter(|(_, status, _)| status == "available")
        .max_by_key(|(_, _, t)| *t)
        .map(|(s, _, _)| s))
}

async fn dns_target(ctx: &AwsContext, d: &RdsInstance) -> Result<Option<DnsTarget>, AwsError> {
    let Some(domain) = &d.domain else {
        return Ok(None);
    };
    let Some(zone_id) = route53::hosted_zone_id(ctx, domain).await? else {
        return Ok(None);
    };
    let name = core::cname(&d.id, domain);
    let current = route53::record(ctx, &zone_id, &name, "CNAME")
        .await?
        .and_then(|s| s.values.first().cloned());
    Ok(Some(DnsTarget {
        zone: asiaq_core::route53::fqdn(domain),
        zone_id,
        name,
        current,
    }))
}

/// What the core's plans need of one instance; the newest snapshot (of `snapshot_of`)
/// only when the instance is missing.
async fn gather(
    ctx: &AwsContext,
    d: &RdsInstance,
    snapshot_of: &str,
) -> Result<Gathered, AwsError> {
    let observed = observe_db(ctx, &d.id).await?;
    let snapshot = match observed {
        None => newest_snapshot(ctx, snapshot_of).await?,
        Some(_) => None,
    };
    Ok(Gathered {
        subnets: subnet_group_exists(ctx, &d.id).await?,
        params: parameters(ctx, &d.id).await?,
        dns: dns_target(ctx, d).await?,
        observed,
        snapshot,
    })
}

struct Gathered {
    observed: Option<ObservedDb>,
    subnets: bool,
    params: Option<BTreeMap<String, ObservedParameter>>,
    snapshot: Option<String>,
    dns: Option<DnsTarget>,
}

impl Gathered {
    fn input<'a>(
        &'a self,
        d: &'a RdsInstance,
        security_group_id: &'a str,
        subnet_ids: &'a [String],
    ) -> UpdateInput<'a> {
        UpdateInput {
            desired: d,
            observed: self.observed.as_ref(),
            security_group_id,
            subnet_ids,
            subnet_group_exists: self.subnets,
            parameters: self.params.as_ref(),
            newest_snapshot: self.snapshot.as_deref(),
            dns: self.dns.as_ref(),
        }
    }
}

/// The intranet metanetwork of `env`: its security group and subnets.
async fn intranet(ctx: &AwsContext, env: &str) -> Result<(String, Vec<String>), AwsError> {
    let environment = crate::elasticache::environment(ctx, env).await?;
    let net = environment
        .metanetwork(MetaNetworkName::Intranet)
        .ok_or_else(|| AwsError::State(format!("environment {env} has no intranet metanetwork")))?;
    let subnets = net.subnets.iter().map(|s| s.id.clone()).collect();
    Ok((net.security_group_id.clone(), subnets))
}

/// The plan of `update` for `instances` of environment `env`, and its notes. The instances
/// go in the intranet metanetwork (its subnets and security group).
pub async fn prepare_update(
    ctx: &AwsContext,
    env: &str,
    instances: &[RdsInstance],
) -> Result<(Plan<RdsAction>, Vec<String>), AwsError> {
    let (sg, subnet_ids) = intranet(ctx, env).await?;
    // Every instance is observed at once (their reads are independent).
    let found =
        futures::future::try_join_all(instances.iter().map(|d| gather(ctx, d, &d.id))).await?;
    let inputs: Vec<UpdateInput<'_>> = found
        .iter()
        .zip(instances)
        .map(|(g, d)| g.input(d, &sg, &subnet_ids))
        .collect();
    Ok(core::update_plan(&inputs))
}

/// The plan of `clone`: instance `d` restored from the newest snapshot of `source`.
pub async fn prepare_clone(
    ctx: &AwsContext,
    d: &RdsInstance,
    source: &str,
) -> Result<(Plan<RdsAction>, Vec<String>), AwsError> {
    let (sg, subnet_ids) = intranet(ctx, &d.env).await?;
    let g = gather(ctx, d, source).await?;
    core::clone_plan(&g.input(d, &sg, &subnet_ids), source).map_err(AwsError::State)
}

/// The instances of `plan` that need their master password (creates and restores).
pub fn needs_password(plan: &Plan<RdsAction>) -> Vec<(String, String)> {
    plan.steps
        .iter()
        .filter_map(|s| match &s.action {
            RdsAction::CreateInstance { db, .. } | RdsAction::RestoreInstance { db, .. } => {
                Some((db.id.clone(), db.db.clone()))
            }
            _ => None,
        })
        .collect()
}

/// The master passwords of `dbs` (`(id, db)`) from credential bucket `bucket`:
/// `rds/<id>/master_user_password`, else `rds/<db>/master_user_password`. A missing one is
/// an error that names the keys looked for (never a value).
pub async fn passwords(
    ctx: &AwsContext,
    bucket: &str,
    dbs: &[(String, String)],
) -> Result<BTreeMap<String, Secret>, AwsError> {
    let b = Bucket::new(ctx, bucket);
    let mut out = BTreeMap::new();
    for (id, db) in dbs {
        let keys = [
            format!("rds/{id}/master_user_password"),
            format!("rds/{db}/master_user_password"),
        ];
        let mut found = None;
        for k in &keys {
            if let Some(s) = b.get_secret(k).await? {
                found = Some(s);
                break;
            }
        }
        let secret = found.ok_or_else(|| {
            AwsError::State(format!(
                "no master password for {id} in s3://{bucket}: set {} (or {}) with `asiaq creds set`",
                keys[0], keys[1]
            ))
        })?;
        out.insert(id.clone(), secret);
    }
    Ok(out)
}

/// The plan of `delete` of instance `id`, and its notes.
pub async fn prepare_delete(
    ctx: &AwsContext,
    id: &str,
    skip_final_snapshot: bool,
) -> Result<(Plan<RdsAction>, Vec<String>), AwsError> {
    let o = observe_db(ctx, id).await?;
    let final_id = core::final_snapshot_id(id);
    let old = snapshots(ctx, id)
        .await?
        .iter()
        .any(|(s, _, _)| *s == final_id);
    let subnets = subnet_group_exists(ctx, id).await?;
    Ok(core::delete_plan(
        id,
        o.as_ref(),
        old,
        subnets,
        skip_final_snapshot,
    ))
}

fn tags(db: &RdsInstance) -> Vec<Tag> {
    db.tags()
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Waits until instance `id` is available; its endpoint address.
async fn wait_available(ctx: &AwsContext, id: &str) -> Result<String, AwsError> {
    wait_for(
        &format!("DB instance {id} to be available"),
        Backoff::new(
            Duration::from_secs(30),
            Duration::from_secs(60),
            AVAILABLE_TIMEOUT,
        ),
        || async {
            Ok(match observe_db(ctx, id).await? {
                Some(o) if o.status == "available" => match o.endpoint {
                    Some(e) => Poll::Ready(e),
                    None => Poll::Pending("available, without an endpoint".into()),
                },
                Some(o) => Poll::Pending(o.status),
                None => Poll::Pending("not found".into()),
            })
        },
    )
    .await
}

async fn wait_gone(ctx: &AwsContext, id: &str) -> Result<(), AwsError> {
    wait_for(
        &format!("DB instance {id} to be deleted"),
        Backoff::new(
            Duration::from_secs(30),
            Duration::from_secs(60),
            DELETE_TIMEOUT,
        ),
        || async {
            Ok(match observe_db(ctx, id).await? {
                None => Poll::Ready(()),
                Some(o) => Poll::Pending(o.status),
            })
        },
    )
    .await
}

async fn wait_snapshot(ctx: &AwsContext, id: &str, snapshot: &str) -> Result<(), AwsError> {
    wait_for(
        &format!("final snapshot {snapshot} to be available"),
        Backoff::new(
            Duration::from_secs(30),
            Duration::from_secs(60),
            DELETE_TIMEOUT,
        ),
        || async {
            let found = snapshots(ctx, id)
                .await?
                .into_iter()
                .find(|(s, _, _)| s == snapshot);
            Ok(match found {
                Some((_, status, _)) if status == "available" => Poll::Ready(()),
                Some((_, status, _)) => Poll::Pending(status),
                None => Poll::Pending("not found".into()),
            })
        },
    )
    .await
}

struct RdsSteps<'a> {
    ctx: &'a AwsContext,
    passwords: &'a BTreeMap<String, Secret>,
}

impl RdsSteps<'_> {
    fn password(&self, id: &str) -> Result<&str, AwsError> {
        self.passwords
            .get(id)
            .map(Secret::expose)
            .ok_or_else(|| AwsError::State(format!("no master password was read for {id}")))
    }

    async fn create(&self, db: &RdsInstance, sg: &str) -> Result<String, AwsError> {
        let mut c = self
            .ctx
            .rds()
            .create_db_instance()
            .db_instance_identifier(&db.id)
            .engine(&db.engine)
            .engine_version(&db.engine_version)
            .db_instance_class(&db.instance_class)
            .allocated_storage(db.allocated_storage)
            .master_username(&db.master_username)
            .master_user_password(self.password(&db.id)?)
            .port(db.port)
            .license_model(&db.license_model)
            .storage_encrypted(db.storage_encrypted)
            .multi_az(db.multi_az)
            .publicly_accessible(db.publicly_accessible)
            .auto_minor_version_upgrade(db.auto_minor_version_upgrade)
            .backup_retention_period(db.backup_retention_period)
            .db_subnet_group_name(&db.id)
            .db_parameter_group_name(&db.id)
            .vpc_security_group_ids(sg)
            .set_preferred_backup_window(db.preferred_backup_window.clone())
            .set_preferred_maintenance_window(db.preferred_maintenance_window.clone())
            .set_tags(Some(tags(db)));
        // The original dropped the character set for postgres, which has none.
        if db.family() != "postgres" {
            c = c.set_character_set_name(db.character_set_name.clone());
        }
        if db.iops > 0 {
            c = c.storage_type("io1").iops(db.iops);
        }
        c.send().await.map_err(call("CreateDBInstance"))?;
        wait_available(self.ctx, &db.id).await
    }

    async fn restore(
        &self,
        db: &RdsInstance,
        snapshot: &str,
        sg: &str,
    ) -> Result<String, AwsError> {
        let mut r = self
            .ctx
            .rds()
            .restore_db_instance_from_db_snapshot()
            .db_instance_identifier(&db.id)
            .db_snapshot_identifier(snapshot)
            .db_instance_class(&db.instance_class)
            .port(db.port)
            .multi_az(db.multi_az)
            .publicly_accessible(db.publicly_accessible)
            .auto_minor_version_upgrade(db.auto_minor_version_upgrade)
            .db_subnet_group_name(&db.id)
            .set_tags(Some(tags(db)));
        if db.iops > 0 {
            r = r.storage_type("io1").iops(db.iops);
        }
        r.send()
            .await
            .map_err(call("RestoreDBInstanceFromDBSnapshot"))?;
        wait_available(self.ctx, &db.id).await?;
        self.ctx
            .rds()
            .modify_db_instance()
            .db_instance_identifier(&db.id)
            .apply_immediately(true)
            .vpc_security_group_ids(sg)
            .db_parameter_group_name(&db.id)
            .backup_retention_period(db.backup_retention_period)
            .set_preferred_backup_window(db.preferred_backup_window.clone())
            .set_preferred_maintenance_window(db.preferred_maintenance_window.clone())
            .master_user_password(self.password(&db.id)?)
            .send()
            .await
            .map_err(call("ModifyDBInstance"))?;
        wait_available(self.ctx, &db.id).await
    }
}

impl Apply<RdsAction> for RdsSteps<'_> {
    type Error = AwsError;

    async fn apply(&self, action: &RdsAction) -> Result<Option<String>, AwsError> {
        let (ctx, rds) = (self.ctx, self.ctx.rds());
        match action {
            RdsAction::CreateSubnetGroup { name, subnet_ids } => {
                rds.create_db_subnet_group()
                    .db_subnet_group_name(name)
                    .db_subnet_group_description(name)
                    .set_subnet_ids(Some(subnet_ids.clone()))
                    .send()
                    .await
                    .map_err(call("CreateDBSubnetGroup"))?;
            }
            RdsAction::CreateParameterGroup { name, family } => {
                rds.create_db_parameter_group()
                    .db_parameter_group_name(name)
                    .db_parameter_group_family(family)
                    .description(name)
                    .send()
                    .await
                    .map_err(call("CreateDBParameterGroup"))?;
            }
            RdsAction::SetParameters { group, changes } => {
                // ModifyDBParameterGroup takes at most 20 parameters a call.
                for chunk in changes.chunks(20) {
                    let params = chunk
                        .iter()
                        .map(|c| {
                            Parameter::builder()
                                .parameter_name(&c.name)
                                .parameter_value(&c.after)
                                .apply_method(ApplyMethod::from(c.method.as_str()))
                                .build()
                        })
                        .collect();
                    rds.modify_db_parameter_group()
                        .db_parameter_group_name(group)
                        .set_parameters(Some(params))
                        .send()
                        .await
                        .map_err(call("ModifyDBParameterGroup"))?;
                }
            }
            RdsAction::CreateInstance {
                db,
                security_group_id,
                ..
            } => return self.create(db, security_group_id).await.map(Some),
            RdsAction::RestoreInstance {
                db,
                snapshot,
                security_group_id,
                ..
            } => {
                return self
                    .restore(db, snapshot, security_group_id)
                    .await
                    .map(Some)
            }
            RdsAction::ModifyInstance { id, changes, db } => {
                let mut m = rds
                    .modify_db_instance()
                    .db_instance_identifier(id)
                    .apply_immediately(true);
                for c in changes {
                    m = match c.field.as_str() {
                        "instance_class" => m.db_instance_class(&db.instance_class),
                        "engine_version" => m.engine_version(&db.engine_version),
                        "allocated_storage" => m.allocated_storage(db.allocated_storage),
                        "iops" if db.iops > 0 => m.storage_type("io1").iops(db.iops),
                        "iops" => m.storage_type("gp2"),
                        "multi_az" => m.multi_az(db.multi_az),
                        "auto_minor_version_upgrade" => {
                            m.auto_minor_version_upgrade(db.auto_minor_version_upgrade)
                        }
                        "backup_retention_period" => {
                            m.backup_retention_period(db.backup_retention_period)
                        }
                        "preferred_backup_window" => {
                            m.set_preferred_backup_window(db.preferred_backup_window.clone())
                        }
                        "preferred_maintenance_window" => m.set_preferred_maintenance_window(
                            db.preferred_maintenance_window.clone(),
                        ),
                        "parameter_group" => m.db_parameter_group_name(&db.id),
                        "security_groups" => m.vpc_security_group_ids(&c.after),
                        _ => m,
                    };
                }
                m.send().await.map_err(call("ModifyDBInstance"))?;
                wait_available(ctx, id).await?;
            }
            RdsAction::RebootInstance { id, .. } => {
                rds.reboot_db_instance()
                    .db_instance_identifier(id)
                    .send()
                    .await
                    .map_err(call("RebootDBInstance"))?;
                wait_available(ctx, id).await?;
            }
            RdsAction::WriteCname {
                zone_id,
                name,
                value,
                ..
            } => route53::upsert_cname(ctx, zone_id, name, value).await?,
            RdsAction::DeleteSnapshot { id } | RdsAction::ExpireSnapshot { id, .. } => {
                match rds
                    .delete_db_snapshot()
                    .db_snapshot_identifier(id)
                    .send()
                    .await
                    .map_err(call("DeleteDBSnapshot"))
                {
                    Err(e) if !code_is(&e, &["DBSnapshotNotFound", "DBSnapshotNotFoundFault"]) => {
                        return Err(e)
                    }
                    _ => {}
                }
            }
            RdsAction::DeleteCnames { endpoint } => {
                route53::delete_records_by_value(ctx, "CNAME", std::slice::from_ref(endpoint))
                    .await?;
            }
            RdsAction::DeleteInstance { id, final_snapshot } => {
                let d = rds
                    .delete_db_instance()
                    .db_instance_identifier(id)
                    .skip_final_snapshot(final_snapshot.is_none())
                    .set_final_db_snapshot_identifier(final_snapshot.clone());
                match d.send().await.map_err(call("DeleteDBInstance")) {
                    Err(e) if !code_is(&e, &["DBInstanceNotFound", "DBInstanceNotFoundFault"]) => {
                        return Err(e)
                    }
                    _ => {}
                }
                wait_gone(ctx, id).await?;
                if let Some(s) = final_snapshot {
                    wait_snapshot(ctx, id, s).await?;
                }
            }
            RdsAction::DeleteSubnetGroup { name } => {
                rds.delete_db_subnet_group()
                    .db_subnet_group_name(name)
                    .send()
                    .await
                    .map_err(call("DeleteDBSubnetGroup"))?;
            }
        }
        Ok(None)
    }

    fn unresolved(&self, action: &RdsAction, key: &str) -> AwsError {
        AwsError::State(format!("{action}: nothing created {key}"))
    }
}

/// Runs a plan of `update` or `delete`: one instance's steps at a time, or with `parallel`
/// up to 8 at once. A failure stops it; running the command again finishes the job.
pub async fn apply(
    ctx: &AwsContext,
    plan: &Plan<RdsAction>,
    passwords: &BTreeMap<String, Secret>,
    parallel: bool,
    title: &str,
) -> Result<usize, AwsError> {
    let steps = RdsSteps { ctx, passwords };
    let in_flight = if parallel { 8 } else { 1 };
    crate::engine::run_forward(&steps, plan, in_flight, title)
        .await
        .map(|r| r.steps_done)
}
