//! `app-auth update`: the writes of a plan (`asiaq_core::plan::app_auth`) to the credential
//! bucket, run by the engine. The values come from the writes; the plan holds none.

use asiaq_core::app_auth::Write;
use asiaq_core::plan::app_auth::AppAuthAction;
use asiaq_core::plan::Plan;
use asiaq_engine::Apply;

use crate::context::AwsContext;
use crate::credentials::Bucket;
use crate::error::AwsError;

struct AppAuthSteps<'a> {
    bucket: Bucket<'a>,
    writes: &'a [Write],
}

impl Apply<AppAuthAction> for AppAuthSteps<'_> {
    type Error = AwsError;

    async fn apply(&self, action: &AppAuthAction) -> Result<Option<String>, AwsError> {
        let write = self
            .writes
            .iter()
            .find(|w| w.key == action.key())
            .ok_or_else(|| AwsError::State(format!("{action}: no value planned")))?;
        self.bucket.put_secret(&write.key, &write.value).await?;
        Ok(None)
    }

    fn unresolved(&self, action: &AppAuthAction, key: &str) -> AwsError {
        AwsError::State(format!("{action}: nothing created {key}"))
    }
}

/// Runs the plan, up to four writes at once. Stops at the first failure: what was written
/// stays written, and a second run writes the rest (a kept password is read again, so it
/// stays the same).
pub async fn apply_plan(
    ctx: &AwsContext,
    bucket: &str,
    plan: &Plan<AppAuthAction>,
    writes: &[Write],
) -> Result<usize, AwsError> {
    let steps = AppAuthSteps {
        bucket: Bucket::new(ctx, bucket),
        writes,
    };
    crate::engine::run_forward(&steps, plan, 4, &format!("app-auth update of {bucket}"))
        .await
        .map(|done| done.steps_done)
}
