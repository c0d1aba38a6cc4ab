//! EBS snapshots of hostclasses (spec §2.21, §2.22, §4.14): tagged `hostclass`, `env`,
//! `productline`; the latest one of a hostclass is mapped into its launch template.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use asiaq_core::snapshots::SnapshotInfo;
use aws_sdk_ec2::types::{ResourceType, Snapshot};

use super::{ec2_tag_map, filter};
use crate::context::AwsContext;
use crate::error::AwsError;
use crate::tags::ec2_tag_spec;
use crate::wait::{wait_for, Backoff, Poll};
use asiaq_engine::report;

fn snapshot_info(s: &Snapshot) -> SnapshotInfo {
    SnapshotInfo {
        id: s.snapshot_id().unwrap_or_default().to_string(),
        description: s.description().unwrap_or_default().to_string(),
        tags: ec2_tag_map(s.tags()),
        start_time: s.start_time().map(|t| t.secs()).unwrap_or(0),
        size_gb: s.volume_size().unwrap_or(0).max(0) as u32,
        state: s
            .state()
            .map(|st| st.as_str().to_string())
            .unwrap_or_default(),
    }
}

/// The account's own snapshots matching `filters`, paginated.
async fn own_snapshots(
    ctx: &AwsContext,
    filters: Vec<aws_sdk_ec2::types::Filter>,
) -> Result<Vec<SnapshotInfo>, AwsError> {
    let mut out = Vec::new();
    let mut pages = ctx
        .ec2()
        .describe_snapshots()
        .owner_ids("self")
        .set_filters((!filters.is_empty()).then(|| filters.clone()))
        .max_results(1000)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::call("ec2", "DescribeSnapshots", e))?;
        out.extend(page.snapshots().iter().map(snapshot_info));
    }
    Ok(out)
}

/// Snapshots tagged `env=<env>` (and one of `hostclasses` when given).
pub async fn env_snapshots(
    ctx: &AwsContext,
    env: &str,
    hostclasses: &[String],
) -> Result<Vec<SnapshotInfo>, AwsError> {
    let mut filters = vec![filter("tag:env", &[env])];
    if !hostclasses.is_empty() {
        let refs: Vec<&str> = hostclasses.iter().map(String::as_str).collect();
        filters.push(filter("tag:hostclass", &refs));
    }
    own_snapshots(ctx, filters).await
}

/// Every snapshot the account owns (purge-snapshots).
pub async fn all_snapshots(ctx: &AwsContext) -> Result<Vec<SnapshotInfo>, AwsError> {
    own_snapshots(ctx, Vec::new()).await
}

/// The account's own image ids, and the snapshots their block devices use.
pub async fn own_images(
    ctx: &AwsContext,
) -> Result<(BTreeSet<String>, BTreeSet<String>), AwsError> {
    let out = ctx
        .ec2()
        .describe_images()
        .owners("self")
        .send()
        .await
        .map_err(|e| AwsError::call("ec2", "DescribeImages", e))?;
    let mut ids = BTreeSet::new();
    let mut snaps = BTreeSet::new();
    for img in out.images() {
        if let Some(id) = img.image_id() {
            ids.insert(id.to_string());
        }
        for m in img.block_device_mappings() {
            if let Some(s) = m.ebs().and_then(|e| e.snapshot_id()) {
                snaps.insert(s.to_string());
            }
        }
    }
    Ok((ids, snaps))
}

/// Waits for a snapshot to complete.
pub async fn wait_completed(ctx: &AwsContext, id: &str) -> Result<(), AwsError> {
    wait_for(
        &format!("snapshot {id} to complete"),
        Backoff::new(
            Duration::from_secs(5),
            Duration::from_secs(30),
            Duration::from_secs(3600),
        ),
        || async {
            let out = ctx
                .ec2()
                .describe_snapshots()
                .snapshot_ids(id)
                .send()
                .await
                .map_err(|e| AwsError::call("ec2", "DescribeSnapshots", e))?;
            let s = out.snapshots().first().map(snapshot_info);
            Ok(match s {
                Some(s) if s.state == "completed" => Poll::Ready(()),
                Some(s) if s.state == "error" => {
                    return Err(AwsError::State(format!("snapshot {id} failed")))
                }
                Some(s) => Poll::Pending(s.state),
                None => Poll::Pending("not visible yet".into()),
            })
        },
    )
    .await
}

/// Deletes a snapshot; already gone is fine.
pub async fn delete(ctx: &AwsContext, id: &str) -> Result<(), AwsError> {
    match ctx.ec2().delete_snapshot().snapshot_id(id).send().await {
        Ok(_) => Ok(()),
        Err(e) => {
            let err = AwsError::call("ec2", "DeleteSnapshot", e);
            if err.is_not_found() {
                Ok(())
            } else {
                Err(err)
            }
        }
    }
}

fn snapshot_tags(hostclass: &str, env: &str, productline: &str) -> Vec<(String, String)> {
    vec![
        ("hostclass".to_string(), hostclass.to_string()),
        ("env".to_string(), env.to_string()),
        ("productline".to_string(), productline.to_string()),
    ]
}

/// `snapshot create`: an empty volume of `size_gb` in `zone`, snapshotted and tagged, the
/// volume deleted again (also when the snapshot fails). Encrypted unless `unencrypted`.
pub async fn create_empty(
    ctx: &AwsContext,
    zone: &str,
    size_gb: u32,
    hostclass: &str,
    env: &str,
    productline: &str,
    unencrypted: bool,
) -> Result<String, AwsError> {
    let tags = snapshot_tags(hostclass, env, productline);
    let vol = ctx
        .ec2()
        .create_volume()
        .availability_zone(zone)
        .size(size_gb as i32)
        .encrypted(!unencrypted)
        .tag_specifications(ec2_tag_spec(ResourceType::Volume, &tags))
        .send()
        .await
        .map_err(|e| AwsError::call("ec2", "CreateVolume", e))?;
    let vol_id = vol.volume_id().unwrap_or_default().to_string();
    let result = async {
        wait_for(
            &format!("volume {vol_id} to become available"),
            Backoff::new(
                Duration::from_secs(2),
                Duration::from_secs(10),
                Duration::from_secs(600),
            ),
            || async {
                let out = ctx
                    .ec2()
                    .describe_volumes()
                    .volume_ids(&vol_id)
                    .send()
                    .await
                    .map_err(|e| AwsError::call("ec2", "DescribeVolumes", e))?;
                let state = out
                    .volumes()
                    .first()
                    .and_then(|v| v.state())
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_else(|| "not visible yet".into());
                Ok(if state == "available" {
                    Poll::Ready(())
                } else {
                    Poll::Pending(state)
                })
            },
        )
        .await?;
        take_snapshot(ctx, &vol_id, &tags).await
    }
    .await;
    let cleanup = ctx
        .ec2()
        .delete_volume()
        .volume_id(&vol_id)
        .send()
        .await
        .map_err(|e| AwsError::call("ec2", "DeleteVolume", e));
    let id = result?;
    cleanup?;
    Ok(id)
}

/// Snapshots a volume with `tags`; returns the snapshot id.
pub async fn take_snapshot(
    ctx: &AwsContext,
    volume_id: &str,
    tags: &[(String, String)],
) -> Result<String, AwsError> {
    report::note(format!("snapshotting volume {volume_id}"));
    let out = ctx
        .ec2()
        .create_snapshot()
        .volume_id(volume_id)
        .description(format!("asiaq snapshot of {volume_id}"))
        .tag_specifications(ec2_tag_spec(ResourceType::Snapshot, tags))
        .send()
        .await
        .map_err(|e| AwsError::call("ec2", "CreateSnapshot", e))?;
    out.snapshot_id()
        .map(str::to_string)
        .ok_or(AwsError::MissingField {
            service: "ec2",
            operation: "CreateSnapshot",
            field: "SnapshotId",
        })
}

/// `snapshot capture --volume-id`: tags from the attached instance's `hostclass`,
/// `environment` and `productline`, plus `extra` (which win).
pub async fn capture_volume(
    ctx: &AwsContext,
    volume_id: &str,
    extra: &[(String, String)],
) -> Result<String, AwsError> {
    let vols = ctx
        .ec2()
        .describe_volumes()
        .volume_ids(volume_id)
        .send()
        .await
        .map_err(|e| AwsError::call("ec2", "DescribeVolumes", e))?;
    let vol = vols
        .volumes()
        .first()
        .ok_or_else(|| AwsError::State(format!("volume {volume_id} does not exist")))?;
    let mut tags: BTreeMap<String, String> = BTreeMap::new();
    if let Some(instance) = vol.attachments().first().and_then(|a| a.instance_id()) {
        let out = ctx
            .ec2()
            .describe_instances()
            .instance_ids(instance)
            .send()
            .await
            .map_err(|e| AwsError::call("ec2", "DescribeInstances", e))?;
        if let Some(i) = out
            .reservations()
            .first()
            .and_then(|r| r.instances().first())
        {
            let it = ec2_tag_map(i.tags());
            for (from, to) in [
                ("hostclass", "hostclass"),
                ("environment", "env"),
                ("productline", "productline"),
            ] {
                if let Some(v) = it.get(from) {
                    tags.insert(to.to_string(), v.clone());
                }
            }
        }
    }
    for (k, v) in extra {
        tags.insert(k.clone(), v.clone());
    }
    let tags: Vec<(String, String)> = tags.into_iter().collect();
    take_snapshot(ctx, volume_id, &tags).await
}

/// The first availability zone of the region (where `snapshot create` puts its volume).
pub async fn first_zone(ctx: &AwsContext) -> Result<String, AwsError> {
    let out = ctx
        .ec2()
        .describe_availability_zones()
        .send()
        .await
        .map_err(|e| AwsError::call("ec2", "DescribeAvailabilityZones", e))?;
    let mut zones: Vec<String> = out
        .availability_zones()
        .iter()
        .filter_map(|z| z.zone_name().map(str::to_string))
        .collect();
    zones.sort();
    zones
        .into_iter()
        .next()
        .ok_or_else(|| AwsError::State("the region has no availability zones".into()))
}

/// `snapshot update`: points the group's launch template at `snapshot` (id, size): a new
/// default version whose hostclass-snapshot device uses it. Returns the new version.
pub async fn point_group_at_snapshot(
    ctx: &AwsContext,
    group: &super::groups::GroupInfo,
    snapshot: &SnapshotInfo,
) -> Result<i64, AwsError> {
    let Some(template_id) = &group.launch_template_id else {
        return Err(AwsError::State(format!(
            "group {} uses a launch configuration; provision it again to switch it to a launch template first",
            group.name
        )));
    };
    let data = super::groups::launch_template_data(ctx, template_id)
        .await?
        .ok_or_else(|| AwsError::State(format!("launch template {template_id} has no data")))?;
    // The snapshot device is the one made from a hostclass snapshot; without one, the
    // first device after the root.
    let current: Vec<String> = data
        .block_device_mappings()
        .iter()
        .filter_map(|m| m.device_name().map(str::to_string))
        .collect();
    let target = data
        .block_device_mappings()
        .iter()
        .find(|m| m.ebs().and_then(|e| e.snapshot_id()).is_some())
        .and_then(|m| m.device_name().map(str::to_string))
        .unwrap_or_else(|| {
            (b'b'..=b'z')
                .map(|c| format!("/dev/sd{}", c as char))
                .find(|d| !current.contains(d))
                .unwrap_or_else(|| "/dev/sdz".to_string())
        });
    let mut mappings = Vec::new();
    let mut replaced = false;
    for m in data.block_device_mappings() {
        let name = m.device_name().unwrap_or_default();
        let mut b = aws_sdk_ec2::types::LaunchTemplateBlockDeviceMappingRequest::builder()
            .device_name(name)
            .set_virtual_name(m.virtual_name().map(str::to_string));
        if name == target {
            replaced = true;
            let iops = m.ebs().and_then(|e| e.iops());
            b = b.ebs(snapshot_device(snapshot, iops));
        } else if let Some(e) = m.ebs() {
            b = b.ebs(
                aws_sdk_ec2::types::LaunchTemplateEbsBlockDeviceRequest::builder()
                    .set_volume_size(e.volume_size())
                    .set_snapshot_id(e.snapshot_id().map(str::to_string))
                    .set_volume_type(e.volume_type().cloned())
                    .set_iops(e.iops())
                    .set_delete_on_termination(e.delete_on_termination())
                    .set_encrypted(e.encrypted())
                    .build(),
            );
        }
        mappings.push(b.build());
    }
    if !replaced {
        mappings.push(
            aws_sdk_ec2::types::LaunchTemplateBlockDeviceMappingRequest::builder()
                .device_name(&target)
                .ebs(snapshot_device(snapshot, None))
                .build(),
        );
    }
    super::groups::add_default_version(
        ctx,
        template_id,
        Some("$Default"),
        aws_sdk_ec2::types::RequestLaunchTemplateData::builder()
            .set_block_device_mappings(Some(mappings))
            .build(),
        format!("snapshot {}", snapshot.id),
    )
    .await
}

fn snapshot_device(
    snapshot: &SnapshotInfo,
    iops: Option<i32>,
) -> aws_sdk_ec2::types::LaunchTemplateEbsBlockDeviceRequest {
    aws_sdk_ec2::types::LaunchTemplateEbsBlockDeviceRequest::builder()
        .snapshot_id(&snapshot.id)
        .volume_size(snapshot.size_gb as i32)
        .delete_on_termination(true)
        .set_volume_type(iops.map(|_| aws_sdk_ec2::types::VolumeType::Io1))
        .set_iops(iops)
        .build()
}

/// `snapshot cleanup --keep N`: the environment's snapshots beyond the newest `keep` of
/// each hostclass (`asiaq_core::snapshots::cleanup_selection`), deleted one by one unless
/// `dry_run` (stopping at the first failure). Returns their ids.
pub async fn cleanup(
    ctx: &AwsContext,
    env: &str,
    keep: usize,
    dry_run: bool,
) -> Result<Vec<String>, AwsError> {
    let list = env_snapshots(ctx, env, &[]).await?;
    let doomed: Vec<String> = asiaq_core::snapshots::cleanup_selection(&list, keep)
        .iter()
        .map(|s| s.id.clone())
        .collect();
    if !dry_run {
        for id in &doomed {
            delete(ctx, id).await?;
        }
    }
    Ok(doomed)
}

/// `snapshot delete`: deletes (unless `dry_run`) those of `ids` that are snapshots of
/// `env`, noting the others, which are left alone. Returns `(deleted, refused)`.
pub async fn delete_in_environment(
    ctx: &AwsContext,
    env: &str,
    ids: &[String],
    dry_run: bool,
) -> Result<(Vec<String>, Vec<String>), AwsError> {
    let list = env_snapshots(ctx, env, &[]).await?;
    let (ok, foreign) = asiaq_core::snapshots::split_by_environment(ids, &list);
    for f in &foreign {
        report::note(format!(
            "{f} is not a snapshot of environment {env}; skipped"
        ));
    }
    if !dry_run {
        for id in &ok {
            delete(ctx, id).await?;
        }
    }
    Ok((ok, foreign))
}

/// `snapshot update`: points the hostclass's group in `env` at its snapshot `id` (default:
/// its latest) with [`point_group_at_snapshot`], unless `dry_run`. Returns the group, the
/// snapshot and the new launch template version (none in a dry run).
pub async fn update(
    ctx: &AwsContext,
    env: &str,
    hostclass: &str,
    id: Option<&str>,
    dry_run: bool,
) -> Result<(super::groups::GroupInfo, SnapshotInfo, Option<i64>), AwsError> {
    let list = env_snapshots(ctx, env, &[hostclass.to_string()]).await?;
    let snap = asiaq_core::snapshots::update_target(&list, hostclass, env, id)
        .map_err(AwsError::State)?
        .clone();
    let all = super::groups::env_groups(ctx, env).await?;
    let names: Vec<&str> = all.iter().map(|g| g.name.as_str()).collect();
    let name = asiaq_core::snapshots::update_group(&names, env, hostclass)
        .map_err(AwsError::State)?
        .to_string();
    let group = all
        .into_iter()
        .find(|g| g.name == name)
        .ok_or_else(|| AwsError::State(format!("group {name} is no longer listed")))?;
    let version = if dry_run {
        None
    } else {
        Some(point_group_at_snapshot(ctx, &group, &snap).await?)
    };
    Ok((group, snap, version))
}

/// `purge-snapshots`: the account's snapshots `opts` select
/// (`asiaq_core::snapshots::purge_selection`), deleted one by one unless `dry_run`; a
/// snapshot that cannot be deleted is noted and reported, and the others still tried.
pub async fn purge(
    ctx: &AwsContext,
    opts: &asiaq_core::snapshots::PurgeOptions,
    dry_run: bool,
) -> Result<Vec<asiaq_core::snapshots::Purged>, AwsError> {
    let (all, (own_amis, in_use)) = futures::try_join!(all_snapshots(ctx), own_images(ctx))?;
    let selected =
        asiaq_core::snapshots::purge_selection(&all, &own_amis, &in_use, opts, super::now_unix());
    let mut out = Vec::new();
    for (s, reason) in selected {
        let mut deleted = false;
        if !dry_run {
            match delete(ctx, &s.id).await {
                Ok(()) => deleted = true,
                Err(e) => report::note(format!("cannot delete {}: {e}", s.id)),
            }
        }
        out.push(asiaq_core::snapshots::Purged {
            id: s.id.clone(),
            reason,
            deleted,
        });
    }
    Ok(out)
}

/// `snapshot capture` of instances: runs the hosts' snapshot script on each running
/// instance of environment `env` that `selector` picks, in turn, over `route`, handing
/// each one's output to `output` as it ends; fails naming the hosts where it failed.
pub async fn capture_hosts(
    ctx: &AwsContext,
    env: &str,
    selector: &super::instances::Selector,
    route: &super::remote::SshRoute,
    mut output: impl FnMut(&[u8]),
) -> Result<(), AwsError> {
    let network = super::env::require(ctx, env).await?;
    let hosts = super::instances::describe(ctx, &network.vpc_id, Some(selector)).await?;
    let mut failed = Vec::new();
    for h in hosts.iter().filter(|h| h.state == "running") {
        let r = super::remote::exec(route, h, "snapshot", "sudo /opt/wgen/bin/take_snapshot.sh")
            .await
            .map_err(|e| AwsError::State(format!("cannot run ssh: {e}")))?;
        output(&r.output);
        if r.code != 0 {
            failed.push(format!("{} (exit {})", h.id, r.code));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(AwsError::State(format!(
            "snapshot script failed on {}",
            failed.join(", ")
        )))
    }
}
