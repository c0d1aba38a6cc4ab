//! `app-conf update`: the `app_conf/` objects of a credential bucket (with their ETags) and
//! the uploads and deletes of a plan (`asiaq_core::plan::app_conf`), run by the engine.

use std::collections::BTreeMap;

use asiaq_core::plan::app_conf::{AppConfAction, PREFIX};
use asiaq_core::plan::Plan;
use asiaq_engine::Apply;

use crate::context::AwsContext;
use crate::credentials::Bucket;
use crate::error::AwsError;

/// The objects under `app_conf/` of `bucket`: key -> ETag (one listing, paginated).
pub async fn observe(ctx: &AwsContext, bucket: &str) -> Result<BTreeMap<String, String>, AwsError> {
    let mut out = BTreeMap::new();
    let mut pages = ctx
        .s3()
        .list_objects_v2()
        .bucket(bucket)
        .prefix(PREFIX)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::call("s3", "ListObjectsV2", e))?;
        for o in page.contents() {
            if let Some(key) = o.key() {
                out.insert(key.to_string(), o.e_tag().unwrap_or_default().to_string());
            }
        }
    }
    Ok(out)
}

struct AppConfSteps<'a> {
    bucket: Bucket<'a>,
    contents: &'a BTreeMap<String, Vec<u8>>,
}

impl Apply<AppConfAction> for AppConfSteps<'_> {
    type Error = AwsError;

    async fn apply(&self, action: &AppConfAction) -> Result<Option<String>, AwsError> {
        match action {
            AppConfAction::Upload { key, .. } => {
                let bytes = self
                    .contents
                    .get(key)
                    .ok_or_else(|| AwsError::State(format!("{action}: no file planned")))?;
                self.bucket.put(key, bytes.clone()).await?;
            }
            AppConfAction::Delete { key } => self.bucket.delete(key).await?,
        }
        Ok(None)
    }

    fn unresolved(&self, action: &AppConfAction, key: &str) -> AwsError {
        AwsError::State(format!("{action}: nothing created {key}"))
    }
}

/// Runs the plan, up to four calls at once; `contents` holds each key's bytes. Stops at the
/// first failure: what was written stays written, and a second run finishes the update.
pub async fn apply_plan(
    ctx: &AwsContext,
    bucket: &str,
    plan: &Plan<AppConfAction>,
    contents: &BTreeMap<String, Vec<u8>>,
) -> Result<usize, AwsError> {
    let steps = AppConfSteps {
        bucket: Bucket::new(ctx, bucket),
        contents,
    };
    crate::engine::run_forward(&steps, plan, 4, &format!("app-conf update of {bucket}"))
        .await
        .map(|done| done.steps_done)
}
