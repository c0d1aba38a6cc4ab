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
