//! `buckets update`: create and configure the account buckets of `iam/s3/<account>/`
//! (replaces the original's `jenkins/disco_bucket_update.sh`).
//!
//! The files hold the AWS CLI's JSON shapes (`put-bucket-lifecycle`, `put-bucket-acl`,
//! `put-bucket-versioning`, `put-bucket-website`, `put-bucket-logging`; `.iam` is a bucket
//! policy). [`parse`] turns them into SDK values first, so that a typo fails the whole run
//! before anything is changed.

use std::collections::BTreeMap;
use std::path::Path;

use asiaq_core::buckets::files::{
    self, AclJson, Document, GrantJson, GranteeJson, LifecycleJson, LoggingJson, WebsiteJson,
};
use asiaq_core::buckets::{bucket_specs, is_empty_document, substitute, BucketSpec, Kind, Vars};
use asiaq_core::json::{strip_trailing_commas, TRAILING_COMMA};
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, AccessControlPolicy, BucketLifecycleConfiguration,
    BucketLocationConstraint, BucketLoggingStatus, BucketVersioningStatus, Condition,
    CreateBucketConfiguration, ErrorDocument, ExpirationStatus, Grant, Grantee, IndexDocument,
    LifecycleExpiration, LifecycleRule, LifecycleRuleFilter, LoggingEnabled, MfaDelete,
    NoncurrentVersionExpiration, NoncurrentVersionTransition, Owner, Permission, Protocol,
    Redirect, RedirectAllRequestsTo, RoutingRule, Tag, Tagging, TargetGrant, Transition,
    TransitionStorageClass, Type, VersioningConfiguration, WebsiteConfiguration,
};

use asiaq_core::plan::buckets::{
    plan_update, BucketAction, BucketFacts, BucketWork, UpdateError as PlanUpdateError, UpdatePlan,
};
use asiaq_core::plan::Plan;
use asiaq_engine::{report, Apply};

use crate::context::AwsContext;
use crate::error::AwsError;

/// The grantee URI of S3's log delivery group.
pub const LOG_DELIVERY_URI: &str = "http://acs.amazonaws.com/groups/s3/LogDelivery";

fn s3err<E>(operation: &'static str) -> impl FnOnce(crate::error::CallError<E>) -> AwsError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    move |e| AwsError::call("s3", operation, e)
}

/// An SDK enum value checked against the values AWS documents.
fn enum_value<T: From<&'static str>>(
    field: &str,
    value: &str,
    values: &'static [&'static str],
) -> Result<T, String> {
    values
        .iter()
        .find(|v| **v == value)
        .map(|v| T::from(*v))
        .ok_or_else(|| format!("{field} {value:?} is not one of {}", values.join(", ")))
}

fn date(field: &str, value: &str) -> Result<aws_smithy_types::DateTime, String> {
    aws_smithy_types::DateTime::from_str(value, aws_smithy_types::date_time::Format::DateTime)
        .map_err(|e| format!("{field} {value:?}: {e}"))
}

/// One configuration, ready to send.
#[derive(Debug, Clone)]
pub enum Setting {
    Lifecycle(BucketLifecycleConfiguration),
    Policy(String),
    Acl(AccessControlPolicy),
    Versioning(VersioningConfiguration),
    Website(WebsiteConfiguration),
    Logging(BucketLoggingStatus),
}

impl Setting {
    /// The target bucket of a logging setting.
    pub fn log_target(&self) -> Option<&str> {
        match self {
            Setting::Logging(s) => s.logging_enabled().map(|l| l.target_bucket()),
            _ => None,
        }
    }
}

fn grantee(g: GranteeJson) -> Result<Grantee, String> {
    Grantee::builder()
        .r#type(enum_value::<Type>("Grantee Type", &g.kind, Type::values())?)
        .set_id(g.id)
        .set_uri(g.uri)
        .set_email_address(g.email_address)
        .set_display_name(g.display_name)
        .build()
        .map_err(|e| e.to_string())
}

fn grant(g: GrantJson) -> Result<Grant, String> {
    Ok(Grant::builder()
        .grantee(grantee(g.grantee)?)
        .permission(enum_value::<Permission>(
            "Permission",
            &g.permission,
            Permission::values(),
        )?)
        .build())
}

fn lifecycle(json: LifecycleJson) -> Result<BucketLifecycleConfiguration, String> {
    let mut rules = Vec::new();
    for r in json.rules {
        let mut b = LifecycleRule::builder()
            .set_id(r.id)
            .status(enum_value::<ExpirationStatus>(
                "Status",
                &r.status,
                ExpirationStatus::values(),
            )?);
        let filter = match (r.prefix, r.filter) {
            (Some(_), Some(_)) => return Err("a rule has both Prefix and Filter".into()),
            (Some(p), None) => LifecycleRuleFilter::builder().prefix(p).build(),
            (None, Some(f)) => LifecycleRuleFilter::builder()
                .set_prefix(f.prefix)
                .set_object_size_greater_than(f.object_size_greater_than)
                .set_object_size_less_than(f.object_size_less_than)
                .build(),
            (None, None) => LifecycleRuleFilter::builder().prefix("").build(),
        };
        b = b.filter(filter);
        if let Some(e) = r.expiration {
            b = b.expiration(
                LifecycleExpiration::builder()
                    .set_date(e.date.map(|d| date("Expiration Date", &d)).transpose()?)
                    .set_days(e.days)
                    .set_expired_object_delete_marker(e.expired_object_delete_marker)
                    .build(),
            );
        }
        for t in r
            .transition
            .into_iter()
            .chain(r.transitions.into_iter().flatten())
        {
            b = b.transitions(
                Transition::builder()
                    .set_date(t.date.map(|d| date("Transition Date", &d)).transpose()?)
                    .set_days(t.days)
                    .storage_class(enum_value::<TransitionStorageClass>(
                        "StorageClass",
                        &t.storage_class,
                        TransitionStorageClass::values(),
                    )?)
                    .build(),
            );
        }
        for t in r
            .noncurrent_version_transition
            .into_iter()
            .chain(r.noncurrent_version_transitions.into_iter().flatten())
        {
            b = b.noncurrent_version_transitions(
                NoncurrentVersionTransition::builder()
                    .set_noncurrent_days(t.noncurrent_days)
                    .set_newer_noncurrent_versions(t.newer_noncurrent_versions)
                    .storage_class(enum_value::<TransitionStorageClass>(
                        "StorageClass",
                        &t.storage_class,
                        TransitionStorageClass::values(),
                    )?)
                    .build(),
            );
        }
        if let Some(e) = r.noncurrent_version_expiration {
            b = b.noncurrent_version_expiration(
                NoncurrentVersionExpiration::builder()
                    .set_noncurrent_days(e.noncurrent_days)
                    .set_newer_noncurrent_versions(e.newer_noncurrent_versions)
                    .build(),
            );
        }
        if let Some(a) = r.abort_incomplete_multipart_upload {
            b = b.abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder()
                    .set_days_after_initiation(a.days_after_initiation)
                    .build(),
            );
        }
        rules.push(b.build().map_err(|e| e.to_string())?);
    }
    BucketLifecycleConfiguration::builder()
        .set_rules(Some(rules))
        .build()
        .map_err(|e| e.to_string())
}

fn acl(json: AclJson) -> Result<AccessControlPolicy, String> {
    let grants = json
        .grants
        .into_iter()
        .map(grant)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(AccessControlPolicy::builder()
        .set_grants(Some(grants))
        .set_owner(json.owner.map(|o| {
            Owner::builder()
                .set_id(o.id)
                .set_display_name(o.display_name)
                .build()
        }))
        .build())
}

fn protocol(p: Option<String>) -> Result<Option<Protocol>, String> {
    p.map(|p| enum_value::<Protocol>("Protocol", &p, Protocol::values()))
        .transpose()
}

fn website(json: WebsiteJson) -> Result<WebsiteConfiguration, String> {
    let rules = json
        .routing_rules
        .map(|rules| {
            rules
                .into_iter()
                .map(|r| {
                    Ok(RoutingRule::builder()
                        .set_condition(r.condition.map(|c| {
                            Condition::builder()
                                .set_http_error_code_returned_equals(
                                    c.http_error_code_returned_equals,
                                )
                                .set_key_prefix_equals(c.key_prefix_equals)
                                .build()
                        }))
                        .redirect(
                            Redirect::builder()
                                .set_host_name(r.redirect.host_name)
                                .set_http_redirect_code(r.redirect.http_redirect_code)
                                .set_protocol(protocol(r.redirect.protocol)?)
                                .set_replace_key_prefix_with(r.redirect.replace_key_prefix_with)
                                .set_replace_key_with(r.redirect.replace_key_with)
                                .build(),
                        )
                        .build())
                })
                .collect::<Result<Vec<_>, String>>()
        })
        .transpose()?;
    Ok(WebsiteConfiguration::builder()
        .set_index_document(
            json.index_document
                .map(|i| IndexDocument::builder().suffix(i.suffix).build())
                .transpose()
                .map_err(|e| e.to_string())?,
        )
        .set_error_document(
            json.error_document
                .map(|e| ErrorDocument::builder().key(e.key).build())
                .transpose()
                .map_err(|e| e.to_string())?,
        )
        .set_redirect_all_requests_to(
            json.redirect_all_requests_to
                .map(|r| -> Result<_, String> {
                    RedirectAllRequestsTo::builder()
                        .host_name(r.host_name)
                        .set_protocol(protocol(r.protocol)?)
                        .build()
                        .map_err(|e| e.to_string())
                })
                .transpose()?,
        )
        .set_routing_rules(rules)
        .build())
}

fn logging(json: LoggingJson) -> Result<BucketLoggingStatus, String> {
    let enabled = json
        .logging_enabled
        .map(|l| -> Result<LoggingEnabled, String> {
            let grants = l
                .target_grants
                .unwrap_or_default()
                .into_iter()
                .map(|g| -> Result<TargetGrant, String> {
                    Ok(TargetGrant::builder()
                        .grantee(grantee(g.grantee)?)
                        .permission(enum_value(
                            "Permission",
                            &g.permission,
                            aws_sdk_s3::types::BucketLogsPermission::values(),
                        )?)
                        .build())
                })
                .collect::<Result<Vec<_>, _>>()?;
            LoggingEnabled::builder()
                .target_bucket(l.target_bucket)
                .target_prefix(l.target_prefix)
                .set_target_grants(if grants.is_empty() {
                    None
                } else {
                    Some(grants)
                })
                .build()
                .map_err(|e| e.to_string())
        })
        .transpose()?;
    Ok(BucketLoggingStatus::builder()
        .set_logging_enabled(enabled)
        .build())
}

/// Parses one file (already substituted, trailing commas removed) of `kind` into what S3
/// is sent: the JSON shape first (`asiaq_core::buckets::parse`), then the values AWS
/// documents. The error says what is wrong, not the file name (the caller adds it).
pub fn parse(kind: Kind, text: &str) -> Result<Setting, String> {
    Ok(match files::parse(kind, text)? {
        Document::Lifecycle(l) => Setting::Lifecycle(lifecycle(l)?),
        Document::Policy(p) => Setting::Policy(p),
        Document::Acl(a) => Setting::Acl(acl(a)?),
        Document::Versioning(v) => Setting::Versioning(
            VersioningConfiguration::builder()
                .set_status(
                    v.status
                        .map(|s| {
                            enum_value::<BucketVersioningStatus>(
                                "Status",
                                &s,
                                BucketVersioningStatus::values(),
                            )
                        })
                        .transpose()?,
                )
                .set_mfa_delete(
                    v.mfa_delete
                        .map(|s| enum_value::<MfaDelete>("MFADelete", &s, MfaDelete::values()))
                        .transpose()?,
                )
                .build(),
        ),
        Document::Website(w) => Setting::Website(website(w)?),
        Document::Logging(l) => Setting::Logging(logging(l)?),
    })
}

/// What exists before the update.
#[derive(Debug, Clone, Default)]
pub struct Existing {
    pub buckets: std::collections::BTreeSet<String>,
    /// The canonical id of the account's S3 owner.
    pub canonical_id: String,
}

/// The account's buckets and canonical id (ListBuckets).
pub async fn observe(ctx: &AwsContext) -> Result<Existing, AwsError> {
    let out = ctx
        .s3()
        .list_buckets()
        .send()
        .await
        .map_err(s3err("ListBuckets"))?;
    Ok(Existing {
        buckets: out
            .buckets()
            .iter()
            .filter_map(|b| b.name().map(str::to_string))
            .collect(),
        canonical_id: out
            .owner()
            .and_then(|o| o.id())
            .unwrap_or_default()
            .to_string(),
    })
}

/// The region of an existing bucket.
pub async fn bucket_region(ctx: &AwsContext, bucket: &str) -> Result<String, AwsError> {
    let out = ctx
        .s3()
        .get_bucket_location()
        .bucket(bucket)
        .send()
        .await
        .map_err(s3err("GetBucketLocation"))?;
    Ok(match out.location_constraint().map(|c| c.as_str()) {
        None | Some("") => "us-east-1".to_string(),
        Some("EU") => "eu-west-1".to_string(),
        Some(r) => r.to_string(),
    })
}

/// Creates a bucket in the context's region, tagged as asiaq's.
pub async fn create_bucket(ctx: &AwsContext, bucket: &str) -> Result<(), AwsError> {
    let region = ctx.region();
    let mut req = ctx.s3().create_bucket().bucket(bucket);
    if region != "us-east-1" {
        req = req.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    req.send().await.map_err(s3err("CreateBucket"))?;
    let tag = AwsError::built(
        "the bucket's tag",
        Tag::builder()
            .key(asiaq_core::iam::MANAGED_TAG_KEY)
            .value(asiaq_core::iam::MANAGED_TAG_VALUE)
            .build(),
    )?;
    let tagging = AwsError::built(
        "the bucket's tagging",
        Tagging::builder().tag_set(tag).build(),
    )?;
    ctx.s3()
        .put_bucket_tagging()
        .bucket(bucket)
        .tagging(tagging)
        .send()
        .await
        .map(drop)
        .map_err(s3err("PutBucketTagging"))
}

/// The ACL of the audit bucket: its own grants (or the owner's full control) plus write
/// and read-ACP for S3's log delivery group, which the script granted.
pub fn with_log_delivery(
    acl: Option<&AccessControlPolicy>,
    canonical_id: &str,
) -> Result<AccessControlPolicy, AwsError> {
    let log_delivery = AwsError::built(
        "the log delivery grantee",
        Grantee::builder()
            .r#type(Type::Group)
            .uri(LOG_DELIVERY_URI)
            .build(),
    )?;
    let owner = AwsError::built(
        "the owner grantee",
        Grantee::builder()
            .r#type(Type::CanonicalUser)
            .id(canonical_id)
            .build(),
    )?;
    let log_delivery = |p: Permission| {
        Grant::builder()
            .grantee(log_delivery.clone())
            .permission(p)
            .build()
    };
    let owner_full = Grant::builder()
        .grantee(owner)
        .permission(Permission::FullControl)
        .build();
    let mut grants: Vec<Grant> = match acl {
        Some(a) => a.grants().to_vec(),
        None => vec![owner_full],
    };
    for p in [Permission::Write, Permission::ReadAcp] {
        let present = grants.iter().any(|g| {
            g.permission() == Some(&p)
                && g.grantee().and_then(|g| g.uri()) == Some(LOG_DELIVERY_URI)
        });
        if !present {
            grants.push(log_delivery(p));
        }
    }
    Ok(AccessControlPolicy::builder()
        .set_grants(Some(grants))
        .owner(
            acl.and_then(|a| a.owner().cloned())
                .unwrap_or_else(|| Owner::builder().id(canonical_id).build()),
        )
        .build())
}

/// The logging an existing bucket has now (GetBucketLogging); `None` when it logs nowhere.
pub async fn current_logging(
    ctx: &AwsContext,
    bucket: &str,
) -> Result<Option<LoggingEnabled>, AwsError> {
    let out = ctx
        .s3()
        .get_bucket_logging()
        .bucket(bucket)
        .send()
        .await
        .map_err(s3err("GetBucketLogging"))?;
    Ok(out.logging_enabled().cloned())
}

/// True when `current` already is the logging `wanted` asks for, so the call can be left
/// out (a grant list that is absent and one that is empty mean the same).
pub fn logging_matches(wanted: &BucketLoggingStatus, current: Option<&LoggingEnabled>) -> bool {
    match (wanted.logging_enabled(), current) {
        (None, None) => true,
        (Some(w), Some(c)) => {
            w.target_bucket() == c.target_bucket()
                && w.target_prefix() == c.target_prefix()
                && w.target_grants() == c.target_grants()
        }
        _ => false,
    }
}

/// True when the existing `bucket` already has `setting` (read with the matching Get
/// call; a setting the bucket has none of never matches). Logging is compared by
/// [`logging_matches`].
pub async fn current_matches(
    ctx: &AwsContext,
    bucket: &str,
    setting: &Setting,
) -> Result<bool, AwsError> {
    let s3 = ctx.s3();
    // A bucket without the setting at all answers with an error code of its own.
    let absent = |e: AwsError, code: &str| {
        if e.code() == Some(code) {
            Ok(false)
        } else {
            Err(e)
        }
    };
    match setting {
        Setting::Logging(wanted) => Ok(logging_matches(
            wanted,
            current_logging(ctx, bucket).await?.as_ref(),
        )),
        Setting::Policy(wanted) => match s3.get_bucket_policy().bucket(bucket).send().await {
            Ok(out) => Ok(same_json(out.policy().unwrap_or_default(), wanted)),
            Err(e) => absent(s3err("GetBucketPolicy")(e), "NoSuchBucketPolicy"),
        },
        Setting::Versioning(wanted) => {
            let out = s3
                .get_bucket_versioning()
                .bucket(bucket)
                .send()
                .await
                .map_err(s3err("GetBucketVersioning"))?;
            Ok(out.status() == wanted.status()
                && (wanted.mfa_delete().is_none()
                    || out.mfa_delete().map(|m| m.as_str())
                        == wanted.mfa_delete().map(|m| m.as_str())))
        }
        Setting::Lifecycle(wanted) => {
            match s3
                .get_bucket_lifecycle_configuration()
                .bucket(bucket)
                .send()
                .await
            {
                Ok(out) => Ok(out.rules() == wanted.rules()),
                Err(e) => absent(
                    s3err("GetBucketLifecycleConfiguration")(e),
                    "NoSuchLifecycleConfiguration",
                ),
            }
        }
        Setting::Acl(wanted) => {
            let out = s3
                .get_bucket_acl()
                .bucket(bucket)
                .send()
                .await
                .map_err(s3err("GetBucketAcl"))?;
            Ok(grant_set(out.grants()) == grant_set(wanted.grants()))
        }
        Setting::Website(wanted) => match s3.get_bucket_website().bucket(bucket).send().await {
            Ok(out) => Ok(out.index_document() == wanted.index_document()
                && out.error_document() == wanted.error_document()
                && out.redirect_all_requests_to() == wanted.redirect_all_requests_to()
                && out.routing_rules() == wanted.routing_rules()),
            Err(e) => absent(s3err("GetBucketWebsite")(e), "NoSuchWebsiteConfiguration"),
        },
    }
}

/// Two JSON documents with the same content (key order and spacing aside).
fn same_json(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<serde_json::Value>(a),
        serde_json::from_str::<serde_json::Value>(b),
    ) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// An ACL's grants as (grantee type, id, URI, e-mail, permission), display names and order
/// aside (S3 fills in display names).
fn grant_set(grants: &[Grant]) -> std::collections::BTreeSet<[String; 5]> {
    grants
        .iter()
        .map(|g| {
            let grantee = g.grantee();
            let text = |v: Option<&str>| v.unwrap_or_default().to_string();
            [
                text(grantee.map(|x| x.r#type().as_str())),
                text(grantee.and_then(|x| x.id())),
                text(grantee.and_then(|x| x.uri())),
                text(grantee.and_then(|x| x.email_address())),
                text(g.permission().map(|p| p.as_str())),
            ]
        })
        .collect()
}

/// Applies one setting to a bucket.
pub async fn apply(ctx: &AwsContext, bucket: &str, setting: &Setting) -> Result<(), AwsError> {
    let s3 = ctx.s3();
    match setting {
        Setting::Lifecycle(c) => s3
            .put_bucket_lifecycle_configuration()
            .bucket(bucket)
            .lifecycle_configuration(c.clone())
            .send()
            .await
            .map(drop)
            .map_err(s3err("PutBucketLifecycleConfiguration")),
        Setting::Policy(p) => s3
            .put_bucket_policy()
            .bucket(bucket)
            .policy(p)
            .send()
            .await
            .map(drop)
            .map_err(s3err("PutBucketPolicy")),
        Setting::Acl(a) => s3
            .put_bucket_acl()
            .bucket(bucket)
            .access_control_policy(a.clone())
            .send()
            .await
            .map(drop)
            .map_err(s3err("PutBucketAcl")),
        Setting::Versioning(v) => s3
            .put_bucket_versioning()
            .bucket(bucket)
            .versioning_configuration(v.clone())
            .send()
            .await
            .map(drop)
            .map_err(s3err("PutBucketVersioning")),
        Setting::Website(w) => s3
            .put_bucket_website()
            .bucket(bucket)
            .website_configuration(w.clone())
            .send()
            .await
            .map(drop)
            .map_err(s3err("PutBucketWebsite")),
        Setting::Logging(l) => s3
            .put_bucket_logging()
            .bucket(bucket)
            .bucket_logging_status(l.clone())
            .send()
            .await
            .map(drop)
            .map_err(s3err("PutBucketLogging")),
    }
}

/// The spec's kinds that have a file, for plans.
pub fn kinds(spec: &BucketSpec) -> impl Iterator<Item = Kind> + '_ {
    spec.files.keys().copied()
}

/// The S3 calls of `buckets update`, for the plan/apply engine: each step's setting is
/// looked up by bucket and by what it configures (`Kind::describe`).
struct BucketSteps<'a> {
    ctx: &'a AwsContext,
    settings: &'a BTreeMap<(String, String), Setting>,
}

impl Apply<BucketAction> for BucketSteps<'_> {
    type Error = AwsError;

    async fn apply(&self, action: &BucketAction) -> Result<Option<String>, AwsError> {
        let setting = |bucket: &str, what: &str| {
            self.settings
                .get(&(bucket.to_string(), what.to_string()))
                .ok_or_else(|| AwsError::State(format!("{action}: no such setting planned")))
        };
        match action {
            BucketAction::CreateBucket { bucket } => create_bucket(self.ctx, bucket).await?,
            BucketAction::PutAuditAcl { bucket } => {
                apply(self.ctx, bucket, setting(bucket, Kind::Acl.describe())?).await?
            }
            BucketAction::PutSetting {
                bucket,
                setting: what,
            } => apply(self.ctx, bucket, setting(bucket, what)?).await?,
        }
        Ok(None)
    }

    fn unresolved(&self, action: &BucketAction, key: &str) -> AwsError {
        AwsError::State(format!("{action}: nothing created {key}"))
    }
}

/// Applies a `buckets update` plan through the engine, stage after stage, up to four calls
/// at once; `settings` holds each step's setting by `(bucket, what it configures)`. Stops at
/// the first failure; what was done stays done, and running the update again finishes it.
pub async fn apply_plan(
    ctx: &AwsContext,
    plan: &Plan<BucketAction>,
    settings: &BTreeMap<(String, String), Setting>,
) -> Result<usize, AwsError> {
    let calls = BucketSteps { ctx, settings };
    crate::engine::run_forward(&calls, plan, 4, "buckets update")
        .await
        .map(|done| done.steps_done)
}

/// What `buckets update` asks S3 while planning.
struct S3Facts<'a> {
    ctx: &'a AwsContext,
    canonical_id: &'a str,
}

impl BucketFacts<Setting> for S3Facts<'_> {
    type Error = AwsError;

    async fn region(&self, bucket: &str) -> Result<String, AwsError> {
        bucket_region(self.ctx, bucket).await
    }

    async fn logging_unchanged(&self, bucket: &str, setting: &Setting) -> Result<bool, AwsError> {
        let Setting::Logging(wanted) = setting else {
            return Ok(false);
        };
        Ok(logging_matches(
            wanted,
            current_logging(self.ctx, bucket).await?.as_ref(),
        ))
    }

    async fn setting_unchanged(&self, bucket: &str, setting: &Setting) -> Result<bool, AwsError> {
        current_matches(self.ctx, bucket, setting).await
    }

    fn log_target<'a>(&self, setting: &'a Setting) -> Option<&'a str> {
        setting.log_target()
    }

    fn audit_acl(&self, own: Option<&Setting>) -> Result<Setting, AwsError> {
        let own = match own {
            Some(Setting::Acl(a)) => Some(a),
            _ => None,
        };
        Ok(Setting::Acl(with_log_delivery(own, self.canonical_id)?))
    }
}

/// Why `buckets update` cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// The account directory or a bucket is not usable as it is (a usage error).
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Aws(#[from] AwsError),
}

/// The buckets of an account directory with their settings, and the notes of its empty
/// files.
pub type Loaded = (Vec<BucketWork<Setting>>, Vec<String>);

/// Reads, substitutes and parses every file of `specs` in `account_dir` before anything is
/// changed: the buckets with their settings and the notes of empty files, or every problem.
/// Trailing commas are warned about through the reporter.
pub fn load_settings(
    account_dir: &Path,
    specs: &[BucketSpec],
    vars: &Vars,
    existing: &Existing,
) -> Result<Loaded, Vec<String>> {
    let mut problems = Vec::new();
    let mut empty = Vec::new();
    let mut work = Vec::new();
    for spec in specs {
        let mut settings = Vec::new();
        for (kind, file) in &spec.files {
            let path = account_dir.join(file);
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) => {
                    problems.push(format!("{}: cannot read: {e}", path.display()));
                    continue;
                }
            };
            if is_empty_document(&text) {
                empty.push(format!(
                    "{}: no {} ({file} is empty)",
                    spec.name,
                    kind.describe()
                ));
                continue;
            }
            let (text, commas) = strip_trailing_commas(&substitute(&text, vars, &spec.name));
            for line in commas {
                report::warn(format!("{}:{line}: {TRAILING_COMMA}", path.display()));
            }
            match parse(*kind, &text) {
                Ok(s) => settings.push((*kind, s)),
                Err(e) => problems.push(format!("{}: {e}", path.display())),
            }
        }
        work.push(BucketWork {
            name: spec.name.clone(),
            exists: existing.buckets.contains(&spec.name),
            audit: spec.audit,
            settings,
        });
    }
    if problems.is_empty() {
        Ok((work, empty))
    } else {
        Err(problems)
    }
}

/// The plan of `buckets update --account ACCOUNT` in the context's region from the files
/// of `account_dir` (`files`: their names); `audit_ids` are the dev and prod canonical ids
/// of `[audit]`.
pub async fn prepare_update(
    ctx: &AwsContext,
    account: &str,
    account_dir: &Path,
    files: &[String],
    project: &str,
    audit_ids: (String, String),
) -> Result<UpdatePlan<Setting>, UpdateError> {
    let region = ctx.region().to_string();
    let specs = bucket_specs(files, &region, project)
        .map_err(|e| UpdateError::Config(format!("{}: {e}", account_dir.display())))?;
    let existing = observe(ctx).await?;
    let vars = Vars {
        account: account.to_string(),
        region: region.clone(),
        project: project.to_string(),
        canonical_id: existing.canonical_id.clone(),
        dev_canonical_id: audit_ids.0,
        prod_canonical_id: audit_ids.1,
    };
    let (work, empty) = load_settings(account_dir, &specs, &vars, &existing)
        .map_err(|problems| UpdateError::Config(problems.join("\n")))?;
    let facts = S3Facts {
        ctx,
        canonical_id: &existing.canonical_id,
    };
    plan_update(&work, &existing.buckets, &region, empty, &facts)
        .await
        .map_err(|e| match e {
            PlanUpdateError::WrongRegion { .. } => UpdateError::Config(e.to_string()),
            PlanUpdateError::Facts(e) => UpdateError::Aws(e),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_shapes_parse_and_typos_fail() {
        let l = parse(
            Kind::Lifecycle,
            r#"{"Rules":[{"ID":"x","Prefix":"","Status":"Enabled","Expiration":{"Days":30},
                "NoncurrentVersionExpiration":{"NoncurrentDays":90},
                "Transitions":[{"Days":10,"StorageClass":"GLACIER"}]}]}"#,
        )
        .unwrap();
        let Setting::Lifecycle(l) = l else { panic!() };
        assert_eq!(l.rules()[0].expiration().unwrap().days(), Some(30));
        assert!(parse(
            Kind::Lifecycle,
            r#"{"Rules":[{"Status":"Enabled","Expiraton":{}}]}"#
        )
        .unwrap_err()
        .contains("Expiraton"));
        assert!(parse(Kind::Lifecycle, r#"{"Rules":[{"Status":"On"}]}"#)
            .unwrap_err()
            .contains("Status \"On\" is not one of"));
        let Setting::Logging(g) = parse(
            Kind::Logging,
            r#"{"LoggingEnabled":{"TargetBucket":"t","TargetPrefix":"S3/b/"}}"#,
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(g.logging_enabled().unwrap().target_bucket(), "t");
        let same = LoggingEnabled::builder()
            .target_bucket("t")
            .target_prefix("S3/b/")
            .build()
            .unwrap();
        let other_prefix = LoggingEnabled::builder()
            .target_bucket("t")
            .target_prefix("S3/c/")
            .build()
            .unwrap();
        assert!(logging_matches(&g, Some(&same)));
        assert!(!logging_matches(&g, Some(&other_prefix)));
        assert!(!logging_matches(&g, None));
        assert!(logging_matches(
            &BucketLoggingStatus::builder().build(),
            None
        ));
        assert!(matches!(
            parse(Kind::Versioning, r#"{"Status":"Enabled"}"#).unwrap(),
            Setting::Versioning(_)
        ));
        assert!(parse(Kind::Policy, "{}").is_err());
        let acl = parse(
            Kind::Acl,
            r#"{"Grants":[{"Grantee":{"Type":"CanonicalUser","ID":"abc"},"Permission":"READ"}],"Owner":{"ID":"abc"}}"#,
        )
        .unwrap();
        let Setting::Acl(acl) = acl else { panic!() };
        let audit = with_log_delivery(Some(&acl), "abc").unwrap();
        assert_eq!(audit.grants().len(), 3);
        assert_eq!(with_log_delivery(None, "abc").unwrap().grants().len(), 3);
        assert!(matches!(
            parse(
                Kind::Website,
                r#"{"IndexDocument":{"Suffix":"index.html"},"ErrorDocument":{"Key":"e.html"}}"#
            )
            .unwrap(),
            Setting::Website(_)
        ));
    }
}
