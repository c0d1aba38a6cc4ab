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
