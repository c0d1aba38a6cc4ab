//! `account cloudtrail`: the account's trail (observe, then the plan's calls through the
//! engine) and the audit bucket's policy as text for the core's check.

use asiaq_core::iam::{MANAGED_TAG_KEY, MANAGED_TAG_VALUE};
use asiaq_core::plan::cloudtrail::{TrailAction, TrailState};
use asiaq_core::plan::Plan;
use asiaq_engine::{Apply, ExecOptions};
use aws_sdk_cloudtrail::types::Tag;

use crate::context::AwsContext;
use crate::error::AwsError;

fn cterr<E>(operation: &'static str) -> impl FnOnce(crate::error::CallError<E>) -> AwsError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    move |e| AwsError::call("cloudtrail", operation, e)
}

/// Sends the long form of the operation's `X-Amz-Target` (`com.amazonaws.cloudtrail.
/// v20131101.CloudTrail_20131101.<Operation>`, as boto3 and the AWS CLI do) in place of the
/// SDK's short `CloudTrail_20131101.<Operation>`: CloudTrail accepts both, and moto_server
/// answers the short one with HTTP 404. Runs before signing, so the signature covers it.
fn long_target(req: &mut aws_smithy_runtime_api::http::Request) {
    const SHORT: &str = "CloudTrail_20131101.";
    let long = req
        .headers()
        .get("x-amz-target")
        .filter(|t| t.starts_with(SHORT))
        .map(|t| format!("com.amazonaws.cloudtrail.v20131101.{t}"));
    if let Some(long) = long {
        req.headers_mut().insert("x-amz-target", long);
    }
}

/// The trail `name` of this region (not a shadow of another region's trail), with its
/// bucket and whether it logs; `None` when there is none.
pub async fn observe(ctx: &AwsContext, name: &str) -> Result<Option<TrailState>, AwsError> {
    let out = ctx
        .cloudtrail()
        .describe_trails()
        // All of the region's trails, filtered here: moto answers a name it does not know
        // with HTTP 404 instead of an empty list.
        .include_shadow_trails(false)
        .customize()
        .mutate_request(long_target)
        .send()
        .await
        .map_err(cterr("DescribeTrails"))?;
    let Some(trail) = out
        .trail_list()
        .iter()
        .find(|t| t.name() == Some(name) && t.home_region().is_none_or(|r| r == ctx.region()))
    else {
        return Ok(None);
    };
    let status = ctx
        .cloudtrail()
        .get_trail_status()
        .name(name)
        .customize()
        .mutate_request(long_target)
        .send()
        .await
        .map_err(cterr("GetTrailStatus"))?;
    Ok(Some(TrailState {
        bucket: trail.s3_bucket_name().unwrap_or_default().to_string(),
        logging: status.is_logging().unwrap_or(false),
    }))
}

/// What the audit bucket is: missing, or existing with its policy (if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditBucket {
    Missing,
    Exists { policy: Option<String> },
}

/// The audit bucket `bucket` of `account` (the directory under iam/s3/) must exist and its
/// policy must let CloudTrail write to it for this account; refused otherwise, saying how
/// to fix it.
pub async fn require_audit_bucket(
    ctx: &AwsContext,
    bucket: &str,
    account: &str,
) -> Result<(), crate::FlowError> {
    use asiaq_core::printout::Refusal;
    match audit_bucket(ctx, bucket).await? {
        AuditBucket::Missing => Err(Refusal::failed(format!(
            "the audit bucket {bucket} does not exist"
        ))
        .with_hint(format!(
            "create it with `asiaq buckets update --account {account}`"
        ))
        .into()),
        AuditBucket::Exists { policy } => {
            let id = crate::Identity::fetch(ctx).await?;
            asiaq_core::plan::cloudtrail::check_policy(policy.as_deref(), bucket, &id.account)
                .map_err(|m| {
                    Refusal::failed(m).with_hint(format!(
                        "give the bucket a policy that allows CloudTrail (iam/s3/{account}/<bucket>.iam) and run `asiaq buckets update --account {account}`"
                    )).into()
                })
        }
    }
}

/// Looks the bucket up (HeadBucket), then reads its policy (GetBucketPolicy).
pub async fn audit_bucket(ctx: &AwsContext, bucket: &str) -> Result<AuditBucket, AwsError> {
    if let Err(e) = crate::credentials::Bucket::new(ctx, bucket).check().await {
        return match e {
            AwsError::State(_) => Ok(AuditBucket::Missing),
            e => Err(e),
        };
    }
    match ctx.s3().get_bucket_policy().bucket(bucket).send().await {
        Ok(out) => Ok(AuditBucket::Exists {
            policy: out.policy().map(str::to_string),
        }),
        Err(e) => {
            let e = AwsError::call("s3", "GetBucketPolicy", e);
            if e.code() == Some("NoSuchBucketPolicy") {
                Ok(AuditBucket::Exists { policy: None })
            } else {
                Err(e)
            }
        }
    }
}

struct TrailSteps<'a> {
    ctx: &'a AwsContext,
}

impl Apply<TrailAction> for TrailSteps<'_> {
    type Error = AwsError;

    async fn apply(&self, action: &TrailAction) -> Result<Option<String>, AwsError> {
        let ct = self.ctx.cloudtrail();
        match action {
            TrailAction::CreateTrail { name, bucket } => {
                let tag = Tag::builder()
                    .key(MANAGED_TAG_KEY)
                    .value(MANAGED_TAG_VALUE)
                    .build()
                    .map_err(|e| AwsError::State(e.to_string()))?;
                ct.create_trail()
                    .name(name)
                    .s3_bucket_name(bucket)
                    .include_global_service_events(true)
                    .tags_list(tag)
                    .customize()
                    .mutate_request(long_target)
                    .send()
                    .await
                    .map_err(cterr("CreateTrail"))?;
            }
            TrailAction::UpdateTrail { name, bucket, .. } => {
                ct.update_trail()
                    .name(name)
                    .s3_bucket_name(bucket)
                    .customize()
                    .mutate_request(long_target)
                    .send()
                    .await
                    .map_err(cterr("UpdateTrail"))?;
            }
            TrailAction::StartLogging { name } => {
                ct.start_logging()
                    .name(name)
                    .customize()
                    .mutate_request(long_target)
                    .send()
                    .await
                    .map_err(cterr("StartLogging"))?;
            }
        }
        Ok(None)
    }

    fn unresolved(&self, action: &TrailAction, key: &str) -> AwsError {
        AwsError::State(format!("{action}: nothing created {key}"))
    }
}

/// Runs the plan, one call at a time (each step waits for the one before). A failure stops
/// it; a second run finishes what is left (a created trail that does not log yet is
/// started).
pub async fn apply_plan(ctx: &AwsContext, plan: &Plan<TrailAction>) -> Result<usize, AwsError> {
    let options = ExecOptions {
        max_in_flight: 1,
        retry: crate::vpc::execute::retry_policy(),
        title: "account cloudtrail".to_string(),
    };
    let reporter = asiaq_engine::report::current();
    asiaq_engine::execute(&TrailSteps { ctx }, plan, &options, reporter.as_ref())
        .await
        .map(|done| done.steps_done)
        .map_err(|failure| failure.error)
}
