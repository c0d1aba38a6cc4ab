//! Route53: the one module through which asiaq reads and writes DNS records (`asiaq
//! route53`, the CNAMEs of load balancers, and those of the managed services). It pages
//! through zones and record sets, and waits for a change to be `INSYNC` with progress.

use std::time::Duration;

use asiaq_core::plan::Plan;
use asiaq_core::route53::{self as names, RecordAction, RecordSet, ZoneRef};
use asiaq_engine::Apply;
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ChangeStatus, ResourceRecord, ResourceRecordSet, RrType,
};
use serde::Serialize;

use crate::context::AwsContext;
use crate::error::AwsError;
use crate::wait::{wait_for, Backoff, Poll};

/// A hosted zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Zone {
    /// Without the `/hostedzone/` prefix.
    pub id: String,
    /// With its final dot, as Route53 gives it.
    pub name: String,
    pub private: bool,
    pub records: i64,
}

impl Zone {
    pub fn as_ref(&self) -> ZoneRef {
        ZoneRef {
            id: self.id.clone(),
            name: self.name.clone(),
        }
    }
}

fn zone_id(id: &str) -> String {
    id.trim_start_matches("/hostedzone/").to_string()
}

fn build_err(what: &str, e: impl std::fmt::Display) -> AwsError {
    AwsError::State(format!("cannot build {what}: {e}"))
}

/// `list-zones`: `name id private` each; JSON: the zones.
pub fn zones_printout(zones: &[Zone]) -> asiaq_core::printout::Printout {
    let lines = zones
        .iter()
        .map(|z| format!("{} {} {}", z.name, z.id, z.private))
        .collect();
    asiaq_core::printout::Printout::new(&zones, lines)
}

/// Every hosted zone of the account, sorted by name.
pub async fn zones(ctx: &AwsContext) -> Result<Vec<Zone>, AwsError> {
    let mut zones = Vec::new();
    let mut pages = ctx.route53().list_hosted_zones().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::call("route53", "ListHostedZones", e))?;
        zones.extend(page.hosted_zones().iter().map(|z| Zone {
            id: zone_id(z.id()),
            name: z.name().to_string(),
            private: z.config().is_some_and(|c| c.private_zone()),
            records: z.resource_record_set_count().unwrap_or(0),
        }));
    }
    zones.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    Ok(zones)
}

/// The zones named `name` (with or without its final dot, in any case): a public and a
/// private zone may share a name.
pub async fn zones_named(ctx: &AwsContext, name: &str) -> Result<Vec<Zone>, AwsError> {
    Ok(zones(ctx)
        .await?
        .into_iter()
        .filter(|z| names::same_name(&z.name, name))
        .collect())
}

/// The one zone named `name`; `Err` says why there is none to choose (see
/// [`names::choose_zone`]).
pub async fn one_zone(ctx: &AwsContext, name: &str) -> Result<Result<Zone, String>, AwsError> {
    let mut found = zones_named(ctx, name).await?;
    let ids: Vec<String> = found.iter().map(|z| z.id.clone()).collect();
    Ok(names::choose_zone(name, &ids).map(|i| found.swap_remove(i)))
}

/// The record sets of the zone `zone` (see [`one_zone`]), or of every zone: `(zone name,
/// set)`.
pub async fn zone_records(
    ctx: &AwsContext,
    zone: Option<&str>,
) -> Result<Result<Vec<(String, RecordSet)>, String>, AwsError> {
    let zones = match zone {
        Some(name) => match one_zone(ctx, name).await? {
            Ok(z) => vec![z],
            Err(why) => return Ok(Err(why)),
        },
        None => zones(ctx).await?,
    };
    let mut rows = Vec::new();
    for z in &zones {
        for set in records(ctx, &z.id).await? {
            rows.push((z.name.clone(), set));
        }
    }
    Ok(Ok(rows))
}

/// The public or private hosted zone serving exactly `domain`, if any (one call: the
/// zones are listed from that name on).
pub async fn hosted_zone_id(ctx: &AwsContext, domain: &str) -> Result<Option<String>, AwsError> {
    let want = names::fqdn(domain);
    let out = ctx
        .route53()
        .list_hosted_zones_by_name()
        .dns_name(&want)
        .max_items(10)
        .send()
        .await
        .map_err(|e| AwsError::call("route53", "ListHostedZonesByName", e))?;
    Ok(out
        .hosted_zones()
        .iter()
        .find(|z| names::same_name(z.name(), &want))
        .map(|z| zone_id(z.id())))
}

fn record_set(s: &ResourceRecordSet) -> RecordSet {
    RecordSet {
        name: s.name().to_string(),
        rtype: s.r#type().as_str().to_string(),
        ttl: s.ttl(),
        values: s
            .resource_records()
            .iter()
            .map(|r| r.value().to_string())
            .collect(),
        alias: s.alias_target().map(|a| a.dns_name().to_string()),
    }
}

/// Every record set of `zone_id`, page after page, as the SDK has them.
async fn raw_records(ctx: &AwsContext, zone_id: &str) -> Result<Vec<ResourceRecordSet>, AwsError> {
    let mut out = Vec::new();
    let mut start: Option<(String, RrType)> = None;
    loop {
        let mut req = ctx
            .route53()
            .list_resource_record_sets()
            .hosted_zone_id(zone_id);
        if let Some((name, t)) = &start {
            req = req.start_record_name(name).start_record_type(t.clone());
        }
        let page = req
            .send()
            .await
            .map_err(|e| AwsError::call("route53", "ListResourceRecordSets", e))?;
        out.extend(page.resource_record_sets().iter().cloned());
        start = match (
            page.is_truncated(),
            page.next_record_name(),
            page.next_record_type(),
        ) {
            (true, Some(n), Some(t)) => Some((n.to_string(), t.clone())),
            _ => None,
        };
        if start.is_none() {
            return Ok(out);
        }
    }
}

/// Every record set of `zone_id`.
pub async fn records(ctx: &AwsContext, zone_id: &str) -> Result<Vec<RecordSet>, AwsError> {
    Ok(raw_records(ctx, zone_id)
        .await?
        .iter()
        .map(record_set)
        .collect())
}

/// The record set `name` of type `rtype` in `zone_id`, if there is one (one call: the
/// listing starts at that name and type).
pub async fn record(
    ctx: &AwsContext,
    zone_id: &str,
    name: &str,
    rtype: &str,
) -> Result<Option<RecordSet>, AwsError> {
    let out = ctx
        .route53()
        .list_resource_record_sets()
        .hosted_zone_id(zone_id)
        .start_record_name(names::fqdn(name))
        .start_record_type(RrType::from(rtype))
        .max_items(1)
        .send()
        .await
        .map_err(|e| AwsError::call("route53", "ListResourceRecordSets", e))?;
    Ok(out
        .resource_record_sets()
        .iter()
        .find(|s| names::same_name(s.name(), name) && s.r#type().as_str() == rtype)
        .map(record_set))
}

fn single_value_change(
    action: ChangeAction,
    name: &str,
    rtype: &str,
    ttl: i64,
    value: &str,
) -> Result<Change, AwsError> {
    let set = ResourceRecordSet::builder()
        .name(names::fqdn(name))
        .r#type(RrType::from(rtype))
        .ttl(ttl)
        .resource_records(
            ResourceRecord::builder()
                .value(value)
                .build()
                .map_err(|e| build_err("a DNS record", e))?,
        )
        .build()
        .map_err(|e| build_err("a DNS record set", e))?;
    Change::builder()
        .action(action)
        .resource_record_set(set)
        .build()
        .map_err(|e| build_err("a DNS change", e))
}

fn delete_change(set: &RecordSet) -> Result<Change, AwsError> {
    let mut b = ResourceRecordSet::builder()
        .name(&set.name)
        .r#type(RrType::from(set.rtype.as_str()))
        .set_ttl(set.ttl);
    for v in &set.values {
        b = b.resource_records(
            ResourceRecord::builder()
                .value(v)
                .build()
                .map_err(|e| build_err("a DNS record", e))?,
        );
    }
    if set.alias.is_some() {
        return Err(AwsError::State(format!(
            "{} {} is an alias record; asiaq does not delete alias records",
            set.rtype, set.name
        )));
    }
    Change::builder()
        .action(ChangeAction::Delete)
        .resource_record_set(b.build().map_err(|e| build_err("a DNS record set", e))?)
        .build()
        .map_err(|e| build_err("a DNS change", e))
}

/// Sends `changes` to `zone_id` in one atomic batch; returns the change's id.
async fn send_changes(
    ctx: &AwsContext,
    zone_id: &str,
    changes: Vec<Change>,
) -> Result<String, AwsError> {
    let out = ctx
        .route53()
        .change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(
            ChangeBatch::builder()
                .set_changes(Some(changes))
                .build()
                .map_err(|e| build_err("a DNS change batch", e))?,
        )
        .send()
        .await
        .map_err(|e| AwsError::call("route53", "ChangeResourceRecordSets", e))?;
    Ok(out
        .change_info()
        .map(|c| c.id().trim_start_matches("/change/").to_string())
        .unwrap_or_default())
}

/// Waits until the change `id` is `INSYNC` (served by every Route53 name server): AWS
/// says within 60 seconds; asiaq gives it 5 minutes.
pub async fn wait_insync(ctx: &AwsContext, id: &str) -> Result<(), AwsError> {
    if id.is_empty() {
        return Ok(());
    }
    wait_for(
        &format!("DNS change {id} to be INSYNC"),
        Backoff::new(
            Duration::from_secs(2),
            Duration::from_secs(10),
            Duration::from_secs(300),
        ),
        || async {
            let out = ctx
                .route53()
                .get_change()
                .id(id)
                .send()
                .await
                .map_err(|e| AwsError::call("route53", "GetChange", e))?;
            let status = out.change_info().map(|c| c.status().clone());
            Ok(match status {
                Some(ChangeStatus::Insync) => Poll::Ready(()),
                Some(s) => Poll::Pending(s.as_str().to_string()),
                None => Poll::Pending("unknown".to_string()),
            })
        },
    )
    .await
}

/// UPSERTs the single-value record `name` → `value` with asiaq's TTL in `zone_id`; returns
/// the change's id (see [`wait_insync`]).
pub async fn upsert(
    ctx: &AwsContext,
    zone_id: &str,
    name: &str,
    rtype: &str,
    value: &str,
) -> Result<String, AwsError> {
    let change = single_value_change(ChangeAction::Upsert, name, rtype, names::RECORD_TTL, value)?;
    send_changes(ctx, zone_id, vec![change]).await
}

/// UPSERTs the CNAME `name` → `value` (a load balancer's or a service's endpoint).
pub async fn upsert_cname(
    ctx: &AwsContext,
    zone_id: &str,
    name: &str,
    value: &str,
) -> Result<(), AwsError> {
    upsert(ctx, zone_id, name, "CNAME", value).await.map(|_| ())
}

/// Deletes the record set `name` of type `rtype` in `zone_id` (whatever its values);
/// `false` when there is none.
pub async fn delete_record(
    ctx: &AwsContext,
    zone_id: &str,
    name: &str,
    rtype: &str,
) -> Result<bool, AwsError> {
    let Some(set) = record(ctx, zone_id, name, rtype).await? else {
        return Ok(false);
    };
    send_changes(ctx, zone_id, vec![delete_change(&set)?]).await?;
    Ok(true)
}

/// Deletes every record of type `rtype`, in every hosted zone, whose value is one of
/// `values` (the original's `delete_records_by_value`), one batch per zone. Returns the
/// names deleted.
pub async fn delete_records_by_value(
    ctx: &AwsContext,
    rtype: &str,
    values: &[String],
) -> Result<Vec<String>, AwsError> {
    if values.is_empty() {
        return Ok(Vec::new());
    }
    let wanted = |v: &str| values.iter().any(|x| names::same_name(x, v));
    let mut deleted = Vec::new();
    for zone in zones(ctx).await? {
        let mut changes = Vec::new();
        for set in raw_records(ctx, &zone.id).await? {
            if set.r#type().as_str() == rtype
                && set.resource_records().iter().any(|r| wanted(r.value()))
            {
                deleted.push(set.name().to_string());
                changes.push(
                    Change::builder()
                        .action(ChangeAction::Delete)
                        .resource_record_set(set)
                        .build()
                        .map_err(|e| build_err("a DNS change", e))?,
                );
            }
        }
        if !changes.is_empty() {
            send_changes(ctx, &zone.id, changes).await?;
        }
    }
    Ok(deleted)
}

/// The calls of a record plan, for the engine; `wait` waits for each change to be INSYNC.
struct RecordSteps<'a> {
    ctx: &'a AwsContext,
    wait: bool,
}

impl Apply<RecordAction> for RecordSteps<'_> {
    type Error = AwsError;

    async fn apply(&self, action: &RecordAction) -> Result<Option<String>, AwsError> {
        let change = match action {
            RecordAction::UpsertRecord {
                zone_id,
                name,
                rtype,
                value,
                ..
            } => upsert(self.ctx, zone_id, name, rtype, value).await?,
            RecordAction::DeleteRecord { zone_id, set, .. } => {
                send_changes(self.ctx, zone_id, vec![delete_change(set)?]).await?
            }
        };
        if self.wait {
            wait_insync(self.ctx, &change).await?;
        }
        Ok(None)
    }

    fn unresolved(&self, action: &RecordAction, key: &str) -> AwsError {
        AwsError::State(format!("{action}: nothing created {key}"))
    }
}

/// Applies a record plan (`route53 create-record` / `delete-record`).
pub async fn apply(
    ctx: &AwsContext,
    plan: &Plan<RecordAction>,
    wait: bool,
    title: &str,
) -> Result<(), AwsError> {
    crate::engine::run_forward(&RecordSteps { ctx, wait }, plan, 4, title)
        .await
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_lines() {
        let zone = Zone {
            id: "Z1".into(),
            name: "example.com.".into(),
            private: true,
            records: 2,
        };
        let p = zones_printout(&[zone]);
        assert_eq!(p.lines, ["example.com. Z1 true"]);
        assert_eq!(p.json[0]["records"], 2);
    }
}
