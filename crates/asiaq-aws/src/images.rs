//! Reading machine images (AMIs) into the core's [`AmiInfo`].

use asiaq_core::ami::AmiInfo;
use aws_sdk_ec2::types::{Filter, Image};

use crate::context::AwsContext;
use crate::error::AwsError;

/// Converts an SDK image.
pub fn ami_info(image: &Image) -> AmiInfo {
    AmiInfo {
        id: image.image_id().unwrap_or_default().to_string(),
        name: image.name().unwrap_or_default().to_string(),
        state: image
            .state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        tags: image
            .tags()
            .iter()
            .filter_map(|t| {
                Some((
                    t.key()?.to_string(),
                    t.value().unwrap_or_default().to_string(),
                ))
            })
            .collect(),
        owner: image.owner_id().unwrap_or_default().to_string(),
        snapshot_ids: image
            .block_device_mappings()
            .iter()
            .filter_map(|m| m.ebs()?.snapshot_id().map(str::to_string))
            .collect(),
        creation_date: image.creation_date().map(str::to_string),
        root_device_name: image.root_device_name().map(str::to_string),
        maps_sda: image
            .block_device_mappings()
            .iter()
            .any(|m| m.device_name() == Some("/dev/sda")),
    }
}

/// Which images to read.
#[derive(Debug, Clone, Default)]
pub struct ImageQuery {
    /// Owners: `self` plus `[bake] trusted_account_ids` (the original's `get_amis`).
    pub owners: Vec<String>,
    /// Server-side name filter, e.g. `mhcweb *`.
    pub name: Option<String>,
    /// Explicit ids.
    pub ids: Vec<String>,
    /// Server-side tag filters (`tag:<key>` = value).
    pub tags: Vec<(String, String)>,
}

impl ImageQuery {
    /// Images owned by `self` and the trusted accounts.
    pub fn visible(trusted_account_ids: &[String]) -> Self {
        let mut owners = vec!["self".to_string()];
        owners.extend(trusted_account_ids.iter().cloned());
        ImageQuery {
            owners,
            ..ImageQuery::default()
        }
    }

    pub fn named(mut self, pattern: impl Into<String>) -> Self {
        self.name = Some(pattern.into());
        self
    }

    pub fn tagged(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.push((key.into(), value.into()));
        self
    }
}

/// One DescribeImages call (it is not paginated when filtered by owner).
pub async fn describe_images(ctx: &AwsContext, q: &ImageQuery) -> Result<Vec<AmiInfo>, AwsError> {
    let mut req = ctx.ec2().describe_images();
    for o in &q.owners {
        req = req.owners(o);
    }
    for id in &q.ids {
        req = req.image_ids(id);
    }
    if let Some(name) = &q.name {
        req = req.filters(Filter::builder().name("name").values(name).build());
    }
    for (k, v) in &q.tags {
        req = req.filters(Filter::builder().name(format!("tag:{k}")).values(v).build());
    }
    let out = req
        .send()
        .await
        .map_err(|e| AwsError::call("ec2", "DescribeImages", e))?;
    Ok(out.images().iter().map(ami_info).collect())
}

/// The image `id` among those of `owners` (all owners when empty), or `None` when AWS does
/// not know it (`InvalidAMIID.NotFound`/`.Malformed`, or an empty answer).
pub async fn get_image(
    ctx: &AwsContext,
    id: &str,
    owners: &[String],
) -> Result<Option<AmiInfo>, AwsError> {
    let q = ImageQuery {
        owners: owners.to_vec(),
        ids: vec![id.to_string()],
        ..ImageQuery::default()
    };
    match describe_images(ctx, &q).await {
        Ok(mut found) => Ok(found.pop()),
        Err(e) if e.is_not_found() || e.code().is_some_and(|c| c.starts_with("InvalidAMIID")) => {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Sets tags on an image (CreateTags overwrites existing values of the same keys).
pub async fn tag_image(
    ctx: &AwsContext,
    image_id: &str,
    tags: &[(String, String)],
) -> Result<(), AwsError> {
    ctx.ec2()
        .create_tags()
        .resources(image_id)
        .set_tags(Some(crate::tags::ec2_tags(tags)))
        .send()
        .await
        .map_err(|e| AwsError::call("ec2", "CreateTags", e))?;
    Ok(())
}

/// Account ids allowed to launch the image (its `launchPermission` attribute).
pub async fn launch_permissions(ctx: &AwsContext, image_id: &str) -> Result<Vec<String>, AwsError> {
    let out = ctx
        .ec2()
        .describe_image_attribute()
        .image_id(image_id)
        .attribute(aws_sdk_ec2::types::ImageAttributeName::LaunchPermission)
        .send()
        .await
        .map_err(|e| AwsError::call("ec2", "DescribeImageAttribute", e))?;
    Ok(out
        .launch_permissions()
        .iter()
        .filter_map(|p| p.user_id().map(str::to_string))
        .collect())
}

/// `is_prod_ami`: every prod account may launch the image. An image whose permissions we
/// cannot read (another account's) is not prod, as in the original.
pub async fn is_prod_image(
    ctx: &AwsContext,
    image_id: &str,
    prod_accounts: &[String],
) -> Result<bool, AwsError> {
    if prod_accounts.is_empty() {
        return Ok(true);
    }
    match launch_permissions(ctx, image_id).await {
        Ok(accounts) => Ok(asiaq_core::ami::is_prod(&accounts, prod_accounts)),
        Err(AwsError::Call { code: Some(_), .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// `promote_ami_to_production`: lets every prod account launch the image, then records them
/// in the tag `shared_with_account_ids` (comma list), together with `extra_tags` (e.g. a new
/// `stage`), in one CreateTags call, so the tags never claim a sharing that failed.
pub async fn share_with_accounts(
    ctx: &AwsContext,
    image_id: &str,
    accounts: &[String],
    extra_tags: &[(String, String)],
) -> Result<(), AwsError> {
    let mut perms = aws_sdk_ec2::types::LaunchPermissionModifications::builder();
    for a in accounts {
        perms = perms.add(
            aws_sdk_ec2::types::LaunchPermission::builder()
                .user_id(a)
                .build(),
        );
    }
    ctx.ec2()
        .modify_image_attribute()
        .image_id(image_id)
        .launch_permission(perms.build())
        .send()
        .await
        .map_err(|e| AwsError::call("ec2", "ModifyImageAttribute", e))?;
    let mut tags = extra_tags.to_vec();
    tags.push(("shared_with_account_ids".to_string(), accounts.join(",")));
    tag_image(ctx, image_id, &tags).await
}

/// What deleting an image left behind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteReport {
    pub deleted_snapshots: Vec<String>,
    /// Snapshots that could not be deleted, with AWS's reason.
    pub failed_snapshots: Vec<(String, String)>,
}

/// Deregisters an image, then deletes the snapshots of its block device mappings (each
/// retried for up to 10 s: AWS may still see it in use right after the deregistration). A
/// snapshot that cannot be deleted is reported, not fatal: the image is gone either way.
pub async fn delete_image(ctx: &AwsContext, ami: &AmiInfo) -> Result<DeleteReport, AwsError> {
    match ctx
        .ec2()
        .deregister_image()
        .image_id(&ami.id)
        .send()
        .await
        .map_err(|e| AwsError::call("ec2", "DeregisterImage", e))
    {
        Ok(_) => {}
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(e),
    }
    let mut report = DeleteReport::default();
    for snap in &ami.snapshot_ids {
        match delete_snapshot(ctx, snap).await {
            Ok(()) => report.deleted_snapshots.push(snap.clone()),
            Err(e) => report.failed_snapshots.push((snap.clone(), e.to_string())),
        }
    }
    Ok(report)
}

async fn delete_snapshot(ctx: &AwsContext, id: &str) -> Result<(), AwsError> {
    use crate::wait::{wait_for, Backoff, Poll};
    use std::time::Duration;
    let last: std::sync::Mutex<Option<AwsError>> = std::sync::Mutex::new(None);
    let backoff = Backoff::new(
        Duration::from_secs(1),
        Duration::from_secs(3),
        Duration::from_secs(10),
    );
    let outcome = wait_for(&format!("snapshot {id} to be deletable"), backoff, || {
        let last = &last;
        async move {
            match ctx
                .ec2()
                .delete_snapshot()
                .snapshot_id(id)
                .send()
                .await
                .map_err(|e| AwsError::call("ec2", "DeleteSnapshot", e))
            {
                Ok(_) => Ok(Poll::Ready(())),
                Err(e) if e.is_not_found() => Ok(Poll::Ready(())),
                Err(e) => {
                    let state = e.to_string();
                    *last.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    Ok(Poll::Pending(state))
                }
            }
        }
    })
    .await;
    match outcome {
        Ok(()) => Ok(()),
        Err(timeout) => Err(last
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .unwrap_or(timeout)),
    }
}

/// Waits until an image is `available` (fails at once on `failed`/`error`/`invalid`).
pub async fn wait_available(
    ctx: &AwsContext,
    image_id: &str,
    timeout: std::time::Duration,
) -> Result<AmiInfo, AwsError> {
    use crate::wait::{wait_for, Backoff, Poll};
    use std::time::Duration;
    let backoff = Backoff::new(Duration::from_secs(5), Duration::from_secs(20), timeout);
    wait_for(
        &format!("image {image_id} to be available"),
        backoff,
        || async {
            let found = get_image(ctx, image_id, &[]).await?;
            match found {
                Some(a) if a.state == "available" => Ok(Poll::Ready(a)),
                Some(a)
                    if matches!(
                        a.state.as_str(),
                        "failed" | "error" | "invalid" | "deregistered"
                    ) =>
                {
                    Err(AwsError::State(format!(
                        "image {image_id} became {} instead of available",
                        a.state
                    )))
                }
                Some(a) => Ok(Poll::Pending(a.state)),
                // Eventual consistency: a new image may not be visible yet.
                None => Ok(Poll::Pending("not visible yet".into())),
            }
        },
    )
    .await
}

/// The image ids instances were launched from (`listamis --instance`).
pub async fn instance_image_ids(
    ctx: &AwsContext,
    instance_ids: &[String],
) -> Result<Vec<String>, AwsError> {
    let out = ctx
        .ec2()
        .describe_instances()
        .set_instance_ids(Some(instance_ids.to_vec()))
        .send()
        .await
        .map_err(|e| AwsError::call("ec2", "DescribeInstances", e))?;
    let mut ids: Vec<String> = out
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .filter_map(|i| i.image_id().map(str::to_string))
        .collect();
    ids.sort();
    ids.dedup();
    Ok(ids)
}

// ---------------------------------------------------------------------------------------
// `asiaq bake` image management: promotion, listings, deletion (the selection is
// `asiaq_core::ami`'s).
// ---------------------------------------------------------------------------------------

/// How many images are inspected or deleted at once.
pub const CONCURRENCY: usize = 8;

/// What an image command did, in the original's words, or with `dry_run` what it would do
/// (the original printed the one on stdout, the other on stderr).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    pub dry_run: bool,
    pub lines: Vec<String>,
}

/// `promote`: sets the `stage` tag of image `id` (of any owner); with `prod` accounts, also
/// shares the image with them ([`share_with_accounts`], the stage going in the same
/// CreateTags call).
pub async fn promote(
    ctx: &AwsContext,
    id: &str,
    stage: &str,
    prod: &[String],
    dry_run: bool,
) -> Result<Done, AwsError> {
    let image = get_image(ctx, id, &[])
        .await?
        .ok_or_else(|| AwsError::State(format!("could not locate image {id}")))?;
    let stage_tag = vec![("stage".to_string(), stage.to_string())];
    let mut lines = Vec::new();
    if dry_run {
        lines.push(format!(
            "would set stage={stage} on {} ({})",
            image.id, image.name
        ));
        if !prod.is_empty() {
            lines.push(format!("would let {} launch {}", prod.join(", "), image.id));
        }
    } else if prod.is_empty() {
        tag_image(ctx, &image.id, &stage_tag).await?;
        lines.push(format!("{}: stage {stage}", image.id));
    } else {
        share_with_accounts(ctx, &image.id, prod, &stage_tag).await?;
        lines.push(format!(
            "{}: stage {stage}, shared with {}",
            image.id,
            prod.join(", ")
        ));
    }
    Ok(Done { dry_run, lines })
}

/// `hostclasspromote`: shares the newest non-private `final_stage` image of `hostclass`
/// (visible with the `trusted` accounts) with the `prod` accounts.
pub async fn promote_hostclass(
    ctx: &AwsContext,
    trusted: &[String],
    hostclass: &str,
    final_stage: &str,
    prod: &[String],
    dry_run: bool,
) -> Result<Done, AwsError> {
    let stages = [final_stage.to_string()];
    let image = latest(ctx, trusted, hostclass, &stages, false)
        .await?
        .ok_or_else(|| {
            AwsError::State(format!(
                "no non-private {final_stage} image of {hostclass} to share with prod"
            ))
        })?;
    let accounts = prod.join(", ");
    let line = if dry_run {
        format!("would let {accounts} launch {} ({})", image.id, image.name)
    } else {
        share_with_accounts(ctx, &image.id, prod, &[]).await?;
        format!("{} ({}): shared with {accounts}", image.id, image.name)
    };
    Ok(Done {
        dry_run,
        lines: vec![line],
    })
}

/// `deleteami`: deregisters image `id` of this account and deletes its snapshots. What
/// was done, and a failure naming the snapshots left behind, if any.
pub async fn delete_own(
    ctx: &AwsContext,
    id: &str,
    dry_run: bool,
) -> Result<(Done, Result<(), AwsError>), AwsError> {
    let image = get_image(ctx, id, &["self".to_string()])
        .await?
        .ok_or_else(|| AwsError::State(format!("image {id} is not an image of this account")))?;
    let (line, left) = if dry_run {
        let snapshots = if image.snapshot_ids.is_empty() {
            "(none)".to_string()
        } else {
            image.snapshot_ids.join(" ")
        };
        let line = format!(
            "would deregister {} ({}) and delete its snapshots {snapshots}",
            image.id, image.name
        );
        (line, Ok(()))
    } else {
        let report = delete_image(ctx, &image).await?;
        let deleted = report.deleted_snapshots.join(" ");
        let line = format!(
            "deleted {} ({}) and snapshots {deleted}",
            image.id, image.name
        );
        (line, report.check())
    };
    Ok((
        Done {
            dry_run,
            lines: vec![line],
        },
        left,
    ))
}

/// The newest image of `hostclass` in the best of `stages` among those visible with the
/// `trusted` accounts (one DescribeImages narrowed to `<hostclass> *`).
pub async fn latest(
    ctx: &AwsContext,
    trusted: &[String],
    hostclass: &str,
    stages: &[String],
    include_private: bool,
) -> Result<Option<AmiInfo>, AwsError> {
    let amis = describe_images(
        ctx,
        &ImageQuery::visible(trusted).named(format!("{hostclass} *")),
    )
    .await?;
    Ok(asiaq_core::ami::find_ami(&amis, stages, Some(hostclass), include_private).cloned())
}

/// `listamis`: the visible images (`--ami`, the image of `--instance`, or all) that pass
/// `filter`, oldest first. An unknown image id is no match, not an error.
pub async fn list(
    ctx: &AwsContext,
    trusted: &[String],
    ami: Option<&str>,
    instance: Option<&str>,
    filter: &asiaq_core::ami::AmiFilter,
) -> Result<Vec<AmiInfo>, AwsError> {
    let of_instance = match instance {
        Some(i) => Some(instance_image_ids(ctx, &[i.to_string()]).await?),
        None => None,
    };
    let amis = match asiaq_core::ami::listed_ids(ami, of_instance) {
        Some(ids) if ids.is_empty() => Vec::new(),
        Some(ids) => {
            let mut q = ImageQuery::visible(trusted);
            q.ids = ids;
            match describe_images(ctx, &q).await {
                Ok(a) => a,
                Err(e) if e.code().is_some_and(|c| c.starts_with("InvalidAMIID")) => Vec::new(),
                Err(e) => return Err(e),
            }
        }
        None => describe_images(ctx, &ImageQuery::visible(trusted)).await?,
    };
    Ok(asiaq_core::ami::listing(&amis, filter)
        .into_iter()
        .cloned()
        .collect())
}

/// Fills the Production column of `rows` ([`is_prod_image`]), a few images at a time.
async fn mark_prod(
    ctx: &AwsContext,
    rows: &mut [asiaq_core::ami::AmiRow],
    prod: &[String],
) -> Result<(), AwsError> {
    use futures::StreamExt;
    let answers: Vec<(usize, Result<bool, AwsError>)> =
        futures::stream::iter(rows.iter().enumerate().map(|(i, r)| {
            let id = r.id.clone();
            async move { (i, is_prod_image(ctx, &id, prod).await) }
        }))
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for (i, answer) in answers {
        rows[i].in_prod = Some(answer?);
    }
    Ok(())
}

/// The listing rows of `amis` at `now_unix`, with the Production column filled when
/// `prod` accounts are given.
pub async fn rows(
    ctx: &AwsContext,
    amis: &[AmiInfo],
    now_unix: u64,
    show_tags: bool,
    prod: Option<&[String]>,
) -> Result<Vec<asiaq_core::ami::AmiRow>, AwsError> {
    let mut rows: Vec<asiaq_core::ami::AmiRow> = amis
        .iter()
        .map(|a| asiaq_core::ami::AmiRow::new(a, now_unix, show_tags))
        .collect();
    if let Some(prod) = prod {
        mark_prod(ctx, &mut rows, prod).await?;
    }
    Ok(rows)
}

/// `cleanupamis`: this account's images tagged `stage` (and `productline`), one call.
pub async fn own_images_of_stage(
    ctx: &AwsContext,
    stage: &str,
    product_line: Option<&str>,
) -> Result<Vec<AmiInfo>, AwsError> {
    let mut q = ImageQuery {
        owners: vec!["self".to_string()],
        ..ImageQuery::default()
    }
    .tagged("stage", stage);
    if let Some(pl) = product_line {
        q = q.tagged("productline", pl);
    }
    describe_images(ctx, &q).await
}

impl DeleteReport {
    /// A failure naming the snapshots left behind, if any.
    pub fn check(&self) -> Result<(), AwsError> {
        if self.failed_snapshots.is_empty() {
            return Ok(());
        }
        Err(AwsError::State(format!(
            "snapshots left behind: {}",
            self.failed_snapshots
                .iter()
                .map(|(s, why)| format!("{s} ({why})"))
                .collect::<Vec<_>>()
                .join("; ")
        )))
    }
}

/// Deletes images with their snapshots ([`delete_image`]), a few at a time; every one is
/// tried, and a failure lists what is left (by image, and image and snapshot).
pub async fn delete_images(ctx: &AwsContext, amis: &[&AmiInfo]) -> Result<(), AwsError> {
    use futures::StreamExt;
    let results: Vec<(String, Result<DeleteReport, AwsError>)> = futures::stream::iter(
        amis.iter()
            .map(|a| async move { (a.id.clone(), delete_image(ctx, a).await) }),
    )
    .buffer_unordered(CONCURRENCY)
    .collect()
    .await;
    deletion_problems(results)
}

/// The failure of [`delete_images`] for these results: problems sorted by what is left.
fn deletion_problems(
    results: Vec<(String, Result<DeleteReport, AwsError>)>,
) -> Result<(), AwsError> {
    let mut problems: std::collections::BTreeMap<String, String> = Default::default();
    for (id, r) in results {
        match r {
            Ok(report) => {
                for (s, why) in report.failed_snapshots {
                    problems.insert(format!("{id} snapshot {s}"), why);
                }
            }
            Err(e) => {
                problems.insert(id, e.to_string());
            }
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(AwsError::State(format!(
        "not everything was deleted (run it again to finish): {}",
        problems
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join("; ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_report_names_snapshots_left_behind() {
        assert!(DeleteReport::default().check().is_ok());
        let r = DeleteReport {
            deleted_snapshots: vec!["snap-1".into()],
            failed_snapshots: vec![
                ("snap-2".into(), "in use".into()),
                ("snap-3".into(), "x".into()),
            ],
        };
        assert_eq!(
            r.check().unwrap_err().to_string(),
            "snapshots left behind: snap-2 (in use); snap-3 (x)"
        );
    }

    #[test]
    fn deletion_problems_are_listed_in_order() {
        assert!(deletion_problems(vec![("ami-1".into(), Ok(DeleteReport::default()))]).is_ok());
        let results = vec![
            ("ami-2".to_string(), Err(AwsError::State("refused".into()))),
            (
                "ami-1".to_string(),
                Ok(DeleteReport {
                    deleted_snapshots: vec![],
                    failed_snapshots: vec![("snap-9".into(), "busy".into())],
                }),
            ),
        ];
        assert_eq!(
            deletion_problems(results).unwrap_err().to_string(),
            "not everything was deleted (run it again to finish): ami-1 snapshot snap-9: busy; ami-2: refused"
        );
    }
}
