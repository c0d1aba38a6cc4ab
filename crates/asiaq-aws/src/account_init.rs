//! `account init`: the README's checklist for setting up an account, run as one sequence of
//! stages (buckets, CloudTrail, IAM, then for each environment of the account: app_auth,
//! SSH keys, app_conf). Each stage is planned from what exists and applied by the engine
//! through its own tool group's executor.
//!
//! The whole sequence is planned first, before any change: a problem any stage can see in
//! advance (a bad bucket file, an unreadable SAML provider, a missing audit bucket that no
//! stage creates) stops the run with nothing changed. Then each stage is planned again, from
//! what the stages before it made, and applied. A failed stage stops the run; what the stages
//! before it did stays done, and a second run finishes the job (every stage plans from what
//! exists, so a finished stage has nothing left to do).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use asiaq_core::account::{keys_to_make, Stage, StageOutcome};
use asiaq_core::app_auth::{setup_keys, setup_plan, Source, Write};
use asiaq_core::buckets::bucket_specs;
use asiaq_core::iam::{Desired, IamPlan};
use asiaq_core::keys::KeyAction;
use asiaq_core::plan::app_auth::AppAuthAction;
use asiaq_core::plan::app_conf::AppConfAction;
use asiaq_core::plan::buckets::UpdatePlan;
use asiaq_core::plan::cloudtrail::{check_policy, TrailAction, TRAIL_NAME};
use asiaq_core::plan::render::{document, PlanDocument};
use asiaq_core::plan::{Plan, PlanAction};

use crate::buckets::{Setting, UpdateError};
use crate::cloudtrail::AuditBucket;
use crate::context::AwsContext;
use crate::credentials::Bucket;
use crate::error::AwsError;
use crate::keys::NewKey;

/// What the account's stages need, read from the configuration directory.
#[derive(Debug, Clone)]
pub struct AccountInputs {
    /// The directory name under `iam/s3/`.
    pub account: String,
    pub account_dir: PathBuf,
    /// The names of the bucket files of `account_dir`.
    pub files: Vec<String>,
    pub project: String,
    /// `[audit] dev_canonical_id` and `prod_canonical_id`.
    pub audit_ids: (String, String),
    /// The IAM environment (account type) whose `iam/` state is applied.
    pub iam_environment: String,
    pub iam_desired: Desired,
    pub saml_url: Option<String>,
}

/// What one environment's stages need.
#[derive(Debug, Clone)]
pub struct EnvInputs {
    pub name: String,
    /// Its first credential bucket (one of the account's buckets).
    pub bucket: String,
    /// The (key, source) of every file of `app_auth/<env>/`.
    pub app_auth: Vec<(String, Source)>,
    /// `app_conf/<key>` -> (content MD5, bytes) of every file of `app_conf/<env>/`.
    pub app_conf: BTreeMap<String, (String, Vec<u8>)>,
    /// The environment's SSH key table.
    pub ssh_keys: Vec<String>,
}

/// Makes new SSH key pairs (names, environment); the error says why it could not.
pub type Keygen<'a> = &'a (dyn Fn(&[String], &str) -> Result<Vec<NewKey>, String> + Sync);

/// How the run goes.
pub struct InitOptions<'a> {
    pub dry_run: bool,
    /// Make every SSH key anew (`--rotate-keys`); without it only missing keys are made.
    pub rotate_keys: bool,
    /// The time stamp of IAM policies written now.
    pub now: String,
    pub keygen: Keygen<'a>,
}

/// Why the run stopped.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// The configuration is wrong (a usage error): nothing was changed.
    #[error("{0}")]
    Config(String),
    /// A stage failed. `done` holds what the stages before it did.
    #[error("{stage}: {message}")]
    Failed {
        stage: Stage,
        message: String,
        done: Vec<StageOutcome>,
        /// Whether anything was changed before the failure.
        changed: bool,
    },
}

/// An environment of the region: its `Name` and `type` tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveEnvironment {
    pub name: String,
    pub env_type: String,
}

/// The environments of the region (VPCs with both a `Name` and a `type` tag).
pub async fn live_environments(ctx: &AwsContext) -> Result<Vec<LiveEnvironment>, AwsError> {
    Ok(crate::vpc::listing::list_vpcs(ctx)
        .await?
        .into_iter()
        .filter_map(|row| match (row.name, row.env_type) {
            (Some(name), Some(env_type)) if !env_type.is_empty() => {
                Some(LiveEnvironment { name, env_type })
            }
            _ => None,
        })
        .collect())
}

/// The names of the account's buckets in the context's region.
pub fn account_buckets(
    ctx: &AwsContext,
    account: &AccountInputs,
) -> Result<Vec<String>, InitError> {
    Ok(specs(ctx, account)?.into_iter().map(|s| s.name).collect())
}

fn specs(
    ctx: &AwsContext,
    account: &AccountInputs,
) -> Result<Vec<asiaq_core::buckets::BucketSpec>, InitError> {
    bucket_specs(&account.files, ctx.region(), &account.project)
        .map_err(|e| InitError::Config(format!("{}: {e}", account.account_dir.display())))
}

/// The stages of a run, in order.
pub fn stages(account: &AccountInputs, envs: &[EnvInputs]) -> Vec<Stage> {
    let mut out = vec![
        Stage::Buckets {
            account: account.account.clone(),
        },
        Stage::Cloudtrail {
            account: account.account.clone(),
        },
        Stage::Iam {
            environment: account.iam_environment.clone(),
        },
    ];
    for e in envs {
        let environment = e.name.clone();
        out.push(Stage::AppAuth {
            environment: environment.clone(),
        });
        out.push(Stage::Keys {
            environment: environment.clone(),
        });
        out.push(Stage::AppConf { environment });
    }
    out
}

/// A stage's plan, with what applying it needs.
enum Prepared {
    Buckets(UpdatePlan<Setting>),
    Cloudtrail(Plan<TrailAction>, Vec<String>),
    Iam(IamPlan),
    AppAuth(Plan<AppAuthAction>, Vec<Write>),
    Keys(Plan<KeyAction>, Vec<String>),
    AppConf(Plan<AppConfAction>),
}

impl Prepared {
    fn document(&self, stage: &Stage) -> PlanDocument {
        let command = stage.to_string();
        match self {
            Prepared::Buckets(u) => document(&command, &u.plan, &u.skipped, true),
            Prepared::Cloudtrail(p, notes) => document(&command, p, notes, true),
            Prepared::Iam(p) => document(&command, &p.to_plan(), &p.notes, true),
            Prepared::AppAuth(p, _) => document(&command, p, &[], true),
            Prepared::Keys(p, _) => document(&command, p, &[], true),
            Prepared::AppConf(p) => document(&command, p, &[], true),
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Prepared::Buckets(u) => u.plan.is_empty(),
            Prepared::Cloudtrail(p, _) => p.is_empty(),
            Prepared::Iam(p) => p.is_empty(),
            Prepared::AppAuth(p, _) => p.is_empty(),
            Prepared::Keys(p, _) => p.is_empty(),
            Prepared::AppConf(p) => p.is_empty(),
        }
    }
}

/// What the planning pass knows that the account does not have yet: the buckets the
/// buckets stage creates or changes. Stages that read such a bucket plan as if it were
/// already right (empty, for a new one).
#[derive(Default)]
struct Pending {
    created: BTreeSet<String>,
    changed: BTreeSet<String>,
}

/// A failure while planning or applying a stage.
enum StageError {
    Config(String),
    Failed(String),
}

impl From<AwsError> for StageError {
    fn from(e: AwsError) -> Self {
        StageError::Failed(e.to_string())
    }
}

/// Runs (or, with `dry_run`, plans) every stage. Returns what each stage changed (or would).
pub async fn run(
    ctx: &AwsContext,
    account: &AccountInputs,
    envs: &[EnvInputs],
    options: &InitOptions<'_>,
) -> Result<Vec<StageOutcome>, InitError> {
    let all = stages(account, envs);
    // The planning pass: every stage, from what exists and what the stages before it plan.
    let mut pending = Pending::default();
    let mut planned = Vec::new();
    for stage in &all {
        let prepared = prepare(ctx, account, envs, stage, options, &pending)
            .await
            .map_err(|e| match e {
                StageError::Config(m) => InitError::Config(format!("{stage}: {m}")),
                StageError::Failed(message) => InitError::Failed {
                    stage: stage.clone(),
                    message,
                    done: Vec::new(),
                    changed: false,
                },
            })?;
        if let Prepared::Buckets(u) = &prepared {
            for s in &u.plan.steps {
                let bucket = s.action.resource().name;
                if s.action.change() == asiaq_core::plan::Change::Create {
                    pending.created.insert(bucket.clone());
                }
                pending.changed.insert(bucket);
            }
        }
        planned.push(StageOutcome {
            stage: stage.clone(),
            plan: prepared.document(stage),
        });
    }
    if options.dry_run {
        return Ok(planned);
    }
    // The applying pass: each stage planned again from what now exists, then applied.
    let mut done: Vec<StageOutcome> = Vec::new();
    let none = Pending::default();
    for stage in &all {
        let fail = |message: String, done: Vec<StageOutcome>| {
            let changed = done.iter().any(|o| o.plan.summary.total() > 0);
            InitError::Failed {
                stage: stage.clone(),
                message,
                done,
                changed,
            }
        };
        let prepared = match prepare(ctx, account, envs, stage, options, &none).await {
            Ok(p) => p,
            Err(StageError::Config(m) | StageError::Failed(m)) => return Err(fail(m, done)),
        };
        asiaq_engine::report::note(format!("asiaq {stage}"));
        if !prepared.is_empty() {
            if let Err(e) = apply(ctx, envs, stage, &prepared, options).await {
                return Err(fail(e, done));
            }
        }
        done.push(StageOutcome {
            stage: stage.clone(),
            plan: prepared.document(stage),
        });
    }
    for o in &mut done {
        o.plan.dry_run = false;
    }
    Ok(done)
}

fn env_of<'a>(envs: &'a [EnvInputs], name: &str) -> Result<&'a EnvInputs, String> {
    envs.iter()
        .find(|e| e.name == name)
        .ok_or_else(|| format!("environment {name} is not one of this run's"))
}

async fn prepare(
    ctx: &AwsContext,
    account: &AccountInputs,
    envs: &[EnvInputs],
    stage: &Stage,
    options: &InitOptions<'_>,
    pending: &Pending,
) -> Result<Prepared, StageError> {
    Ok(match stage {
        Stage::Buckets { .. } => Prepared::Buckets(
            crate::buckets::prepare_update(
                ctx,
                &account.account,
                &account.account_dir,
                &account.files,
                &account.project,
                account.audit_ids.clone(),
            )
            .await
            .map_err(|e| match e {
                UpdateError::Config(m) => StageError::Config(m),
                UpdateError::Aws(e) => e.into(),
            })?,
        ),
        Stage::Cloudtrail { .. } => {
            let specs = specs(ctx, account).map_err(|e| StageError::Config(e.to_string()))?;
            let bucket = specs
                .iter()
                .find(|s| s.audit)
                .map(|s| s.name.clone())
                .ok_or_else(|| {
                    StageError::Config(format!(
                        "{} has no audit bucket (a file <region>.<project>.s3audit.<account>.*)",
                        account.account_dir.display()
                    ))
                })?;
            let mut notes = Vec::new();
            if pending.changed.contains(&bucket) {
                notes.push(format!(
                    "the audit bucket {bucket} is created or changed by the buckets stage; its policy is checked then"
                ));
            } else {
                check_audit_bucket(ctx, &bucket).await?;
            }
            let current = crate::cloudtrail::observe(ctx, TRAIL_NAME).await?;
            Prepared::Cloudtrail(
                asiaq_core::plan::cloudtrail::plan(TRAIL_NAME, &bucket, current.as_ref()),
                notes,
            )
        }
        Stage::Iam { .. } => Prepared::Iam(
            crate::iam::plan_update(
                ctx,
                account.iam_desired.clone(),
                account.saml_url.as_deref(),
                &options.now,
            )
            .await
            .map_err(|e| StageError::Failed(e.to_string()))?,
        ),
        Stage::AppAuth { environment } => {
            let env = env_of(envs, environment).map_err(StageError::Config)?;
            let existing = if pending.created.contains(&env.bucket) {
                BTreeMap::new()
            } else {
                let bucket = Bucket::new(ctx, &env.bucket);
                bucket.check().await?;
                let keys = setup_keys(&env.app_auth);
                let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
                bucket.secrets(&keys).await?
            };
            let writes = setup_plan(&env.app_auth, &existing, &mut rand::rngs::OsRng);
            Prepared::AppAuth(asiaq_core::plan::app_auth::plan(&writes), writes)
        }
        Stage::Keys { environment } => {
            let env = env_of(envs, environment).map_err(StageError::Config)?;
            let present = if pending.created.contains(&env.bucket) {
                Vec::new()
            } else {
                Bucket::new(ctx, &env.bucket)
                    .list("private_keys/ssh/")
                    .await?
            };
            let names = keys_to_make(&env.ssh_keys, &present, options.rotate_keys);
            Prepared::Keys(asiaq_core::keys::plan(&names), names)
        }
        Stage::AppConf { environment } => {
            let env = env_of(envs, environment).map_err(StageError::Config)?;
            let remote = if pending.created.contains(&env.bucket) {
                BTreeMap::new()
            } else {
                crate::app_conf::observe(ctx, &env.bucket).await?
            };
            let local: BTreeMap<String, String> = env
                .app_conf
                .iter()
                .map(|(k, (md5, _))| (k.clone(), md5.clone()))
                .collect();
            Prepared::AppConf(asiaq_core::plan::app_conf::plan(&local, &remote, false))
        }
    })
}

/// The audit bucket exists and lets CloudTrail write (as `account cloudtrail` checks).
async fn check_audit_bucket(ctx: &AwsContext, bucket: &str) -> Result<(), StageError> {
    match crate::cloudtrail::audit_bucket(ctx, bucket).await? {
        AuditBucket::Missing => Err(StageError::Failed(format!(
            "the audit bucket {bucket} does not exist, and the buckets stage does not create it"
        ))),
        AuditBucket::Exists { policy } => {
            let id = crate::Identity::fetch(ctx).await?;
            check_policy(policy.as_deref(), bucket, &id.account).map_err(StageError::Failed)
        }
    }
}

async fn apply(
    ctx: &AwsContext,
    envs: &[EnvInputs],
    stage: &Stage,
    prepared: &Prepared,
    options: &InitOptions<'_>,
) -> Result<(), String> {
    let e = |e: AwsError| e.to_string();
    match (stage, prepared) {
        (_, Prepared::Buckets(u)) => crate::buckets::apply_plan(ctx, &u.plan, &u.settings)
            .await
            .map(drop)
            .map_err(e),
        (_, Prepared::Cloudtrail(p, _)) => {
            let bucket = p.steps.iter().find_map(|s| match &s.action {
                TrailAction::CreateTrail { bucket, .. }
                | TrailAction::UpdateTrail { bucket, .. } => Some(bucket.clone()),
                TrailAction::StartLogging { .. } => None,
            });
            if let Some(bucket) = bucket {
                // The planning pass may have deferred this check to after the buckets stage.
                check_audit_bucket(ctx, &bucket)
                    .await
                    .map_err(|e| match e {
                        StageError::Config(m) | StageError::Failed(m) => m,
                    })?;
            }
            crate::cloudtrail::apply_plan(ctx, p)
                .await
                .map(drop)
                .map_err(e)
        }
        (_, Prepared::Iam(p)) => crate::iam::apply(ctx, p).await.map(drop).map_err(e),
        (Stage::AppAuth { environment }, Prepared::AppAuth(p, writes)) => {
            let env = env_of(envs, environment)?;
            crate::app_auth::apply_plan(ctx, &env.bucket, p, writes)
                .await
                .map(drop)
                .map_err(e)
        }
        (Stage::Keys { environment }, Prepared::Keys(p, names)) => {
            let env = env_of(envs, environment)?;
            let keys = (options.keygen)(names, &env.name)?;
            crate::keys::apply_plan(ctx, &env.bucket, p, &keys)
                .await
                .map(drop)
                .map_err(e)
        }
        (Stage::AppConf { environment }, Prepared::AppConf(p)) => {
            let env = env_of(envs, environment)?;
            let contents: BTreeMap<String, Vec<u8>> = env
                .app_conf
                .iter()
                .map(|(k, (_, bytes))| (k.clone(), bytes.clone()))
                .collect();
            crate::app_conf::apply_plan(ctx, &env.bucket, p, &contents)
                .await
                .map(drop)
                .map_err(e)
        }
        (stage, _) => Err(format!("{stage}: the plan is not of this stage")),
    }
}
