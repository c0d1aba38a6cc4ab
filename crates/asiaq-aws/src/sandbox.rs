//! `asiaq sandbox NAME` (spec §2.26): puts the sandbox's configuration files in the sandbox
//! bucket, updates its environment or creates it with type `sandbox`, then spins up its
//! pipeline; `--destroy` takes it all down. The parts are the libraries of `app-conf`
//! (objects that differ), `vpc create|update|destroy` and `aws spinup`;
//! [`asiaq_core::plan::sandbox`] joins their plans into the one plan the dry run prints.
//!
//! A failure in the spinup leaves the environment (and whatever the spinup finished) in
//! place: a second run finds the environment, updates nothing that is already right, and
//! spins up the hostclasses that have no group (those that have one are left as they are).

use std::collections::{BTreeMap, BTreeSet};

use asiaq_core::plan::app_conf::{self, content_md5, AppConfAction};
use asiaq_core::plan::sandbox::{
    destroy_plan, missing_only, sandbox_plan, SandboxAction, SpinupPart,
};
use asiaq_core::plan::Plan;
use asiaq_core::spinup::{SpinupError, SpinupRequests};
use asiaq_core::vpc::reconcile::EnvConfig;
use serde::Serialize;

use crate::context::AwsContext;
use crate::credentials::Bucket;
use crate::environment::{find_environment, ObservedEnvironment};
use crate::error::AwsError;
use crate::hosts::env::EnvironmentNetwork;
use crate::hosts::spinup::{self, EnvironmentSettings, SpinupOptions, SpinupReport};
use crate::vpc::{self, Extras, VpcError};

/// The files to put in the bucket: key -> bytes.
pub type Contents = BTreeMap<String, Vec<u8>>;

/// The ETag of each of `keys` that exists in `bucket` (a HeadObject each; the bucket must
/// exist).
pub async fn observe_objects(
    ctx: &AwsContext,
    bucket: &str,
    keys: &[String],
) -> Result<BTreeMap<String, String>, AwsError> {
    Bucket::new(ctx, bucket).check().await?;
    let heads = futures::future::join_all(keys.iter().map(|key| async move {
        let r = ctx.s3().head_object().bucket(bucket).key(key).send().await;
        (key, r)
    }))
    .await;
    let mut out = BTreeMap::new();
    for (key, r) in heads {
        match r {
            Ok(o) => {
                out.insert(key.clone(), o.e_tag().unwrap_or_default().to_string());
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {}
            Err(e) => return Err(AwsError::call("s3", "HeadObject", e)),
        }
    }
    Ok(out)
}

/// What the environment part does.
#[derive(Debug, Clone)]
pub enum EnvironmentPart {
    Create(vpc::Prepared),
    Update {
        vpc_id: String,
        prepared: vpc::Prepared,
    },
}

/// A sandbox observed and planned; nothing changed yet.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub name: String,
    pub bucket: Option<String>,
    pub sync: Plan<AppConfAction>,
    pub environment: EnvironmentPart,
    /// The spinup, when the environment exists (else planned after its create).
    pub spinup: Option<spinup::Prepared>,
    pub pipeline: String,
    pub hostclasses: Vec<String>,
    /// What the plan leaves alone, and the environment planner's notes.
    pub notes: Vec<String>,
}

impl Prepared {
    /// The one plan of the whole sequence (what the dry run prints).
    pub fn plan(&self) -> Plan<SandboxAction> {
        let env = match &self.environment {
            EnvironmentPart::Create(p) | EnvironmentPart::Update { prepared: p, .. } => {
                p.outcome.plan.clone()
            }
        };
        let spinup = match &self.spinup {
            Some(p) => SpinupPart::Planned(p.steps()),
            None => SpinupPart::Later {
                pipeline: self.pipeline.clone(),
                hostclasses: self.hostclasses.clone(),
            },
        };
        sandbox_plan(self.bucket.as_deref(), self.sync.clone(), env, spinup)
    }
}

/// What a sandbox needs from the configuration, read before any AWS call.
pub struct SandboxInputs<'a> {
    pub name: &'a str,
    /// `sandbox_config_bucket` and the files for it (key -> bytes).
    pub bucket: Option<&'a str>,
    pub contents: &'a Contents,
    pub pipeline: &'a str,
    pub requests: &'a SpinupRequests,
    pub trusted_account_ids: &'a [String],
}

/// Observes and plans the sandbox. `env_config` gives the environment's configuration for
/// its existing type tag (`None`: no environment yet; `Some(None)`: an environment without
/// one), refusing what is not a sandbox; `configure` says what the configuration makes of
/// the observed environment (for the spinup).
pub async fn prepare<E>(
    ctx: &AwsContext,
    inputs: &SandboxInputs<'_>,
    env_config: impl FnOnce(Option<Option<&str>>) -> Result<(EnvConfig, Extras), E>,
    configure: impl FnOnce(&EnvironmentNetwork) -> Result<EnvironmentSettings, E>,
) -> Result<Prepared, E>
where
    E: From<AwsError> + From<VpcError> + From<SpinupError>,
{
    let existing: Option<ObservedEnvironment> = find_environment(ctx, inputs.name).await?;
    let (cfg, extras) = env_config(existing.as_ref().map(|e| e.env_type.as_deref()))?;
    let sync = match inputs.bucket {
        Some(bucket) => {
            let keys: Vec<String> = inputs.contents.keys().cloned().collect();
            let remote = observe_objects(ctx, bucket, &keys).await?;
            let local = inputs
                .contents
                .iter()
                .map(|(k, bytes)| (k.clone(), content_md5(bytes)))
                .collect();
            app_conf::plan(&local, &remote, false)
        }
        None => Plan::default(),
    };
    let mut notes = Vec::new();
    let (environment, spinup) = match &existing {
        Some(found) => {
            let prepared = vpc::prepare_update(ctx, &found.vpc_id, cfg, &extras).await?;
            notes.extend(prepared.outcome.notes.iter().cloned());
            let mut spinup = spinup::prepare(
                ctx,
                inputs.name,
                inputs.requests,
                inputs.trusted_account_ids,
                &BTreeSet::new(),
                configure,
            )
            .await?;
            let (missing, kept) = missing_only(spinup.plans, inputs.name, inputs.pipeline);
            spinup.plans = missing;
            notes.extend(kept);
            (
                EnvironmentPart::Update {
                    vpc_id: found.vpc_id.clone(),
                    prepared,
                },
                Some(spinup),
            )
        }
        None => {
            let prepared = vpc::prepare_create(ctx, cfg, &extras).await?;
            notes.extend(prepared.outcome.notes.iter().cloned());
            (EnvironmentPart::Create(prepared), None)
        }
    };
    Ok(Prepared {
        name: inputs.name.to_string(),
        bucket: inputs.bucket.map(str::to_string),
        sync,
        environment,
        spinup,
        pipeline: inputs.pipeline.to_string(),
        hostclasses: inputs.requests.hostclasses(),
        notes,
    })
}

/// What a sandbox run did.
#[derive(Debug, Serialize)]
pub struct SandboxReport {
    pub name: String,
    pub vpc_id: String,
    /// The environment was created by this run.
    pub created: bool,
    /// Objects written to the bucket.
    pub synced: Vec<String>,
    /// Steps of the environment's create or update.
    pub environment_changes: usize,
    pub spinup: SpinupReport,
}

impl SandboxReport {
    pub fn lines(&self) -> Vec<String> {
        let mut out: Vec<String> = self.synced.iter().map(|k| format!("synced {k}")).collect();
        out.push(if self.created {
            format!("created environment {} ({})", self.name, self.vpc_id)
        } else {
            format!(
                "updated environment {} ({}): {} change(s)",
                self.name, self.vpc_id, self.environment_changes
            )
        });
        out.extend(self.spinup.lines());
        out
    }
}

/// Runs the plan: the uploads, the environment's create (rolled back if it fails) or
/// update, then the spinup (planned now when the environment was just created). The
/// spinup's failures are in the report; the environment stays.
pub async fn apply<E>(
    ctx: &AwsContext,
    prepared: &Prepared,
    inputs: &SandboxInputs<'_>,
    configure: impl FnOnce(&EnvironmentNetwork) -> Result<EnvironmentSettings, E>,
    opts: &SpinupOptions,
) -> Result<SandboxReport, E>
where
    E: From<AwsError> + From<VpcError> + From<SpinupError>,
{
    if let (Some(bucket), false) = (&prepared.bucket, prepared.sync.is_empty()) {
        crate::app_conf::apply_plan(ctx, bucket, &prepared.sync, inputs.contents).await?;
    }
    let synced = prepared
        .sync
        .steps
        .iter()
        .map(|s| {
            format!(
                "s3://{}/{}",
                prepared.bucket.as_deref().unwrap_or_default(),
                s.action.key()
            )
        })
        .collect();
    let (vpc_id, created, environment_changes) = match &prepared.environment {
        EnvironmentPart::Create(p) => {
            let (id, report) = vpc::apply_create(ctx, &prepared.name, &p.outcome.plan).await?;
            (id, true, report.steps_done)
        }
        EnvironmentPart::Update { vpc_id, prepared } => {
            let done = if prepared.outcome.plan.is_empty() {
                0
            } else {
                vpc::execute(ctx, &prepared.outcome.plan, vpc::DEFAULT_CONCURRENCY)
                    .await
                    .map_err(VpcError::from)?
                    .steps_done
            };
            (vpc_id.clone(), false, done)
        }
    };
    let later;
    let spin = match &prepared.spinup {
        Some(p) => p,
        None => {
            later = spinup::prepare(
                ctx,
                &prepared.name,
                inputs.requests,
                inputs.trusted_account_ids,
                &BTreeSet::new(),
                configure,
            )
            .await?;
            &later
        }
    };
    let spinup = spin.apply(ctx, opts).await;
    Ok(SandboxReport {
        name: prepared.name.clone(),
        vpc_id,
        created,
        synced,
        environment_changes,
        spinup,
    })
}

/// A sandbox's destruction, planned.
#[derive(Debug, Clone)]
pub struct PreparedDestroy {
    pub environment: Option<ObservedEnvironment>,
    pub bucket: Option<String>,
    env_plan: asiaq_core::vpc::plan::Plan,
    files: Plan<AppConfAction>,
}

impl PreparedDestroy {
    pub fn plan(&self) -> Plan<SandboxAction> {
        destroy_plan(
            self.bucket.as_deref(),
            self.env_plan.clone(),
            self.files.clone(),
        )
    }
}

/// Plans taking the sandbox down: its environment's destroy (groups, instances and load
/// balancers first), and its files in the bucket. Nothing left: an empty plan.
pub async fn prepare_destroy(
    ctx: &AwsContext,
    name: &str,
    bucket: Option<&str>,
    keys: &[String],
) -> Result<PreparedDestroy, VpcError> {
    let environment = find_environment(ctx, name).await?;
    let env_plan = match &environment {
        Some(e) => vpc::prepare_destroy(ctx, name, &e.vpc_id).await?,
        None => Default::default(),
    };
    let files = match bucket {
        Some(b) => {
            let remote = observe_objects(ctx, b, keys).await?;
            let mut p = asiaq_core::plan::PlanBuilder::new();
            for key in remote.keys() {
                p.add(AppConfAction::Delete { key: key.clone() }, &[]);
            }
            p.build()
        }
        None => Plan::default(),
    };
    Ok(PreparedDestroy {
        environment,
        bucket: bucket.map(str::to_string),
        env_plan,
        files,
    })
}

/// Runs a destroy: the environment first, then the files. A failure stops it; a second
/// run starts from what is left.
pub async fn apply_destroy(ctx: &AwsContext, prepared: &PreparedDestroy) -> Result<(), VpcError> {
    if !prepared.env_plan.is_empty() {
        vpc::execute(ctx, &prepared.env_plan, vpc::DEFAULT_CONCURRENCY).await?;
    }
    if let (Some(bucket), false) = (&prepared.bucket, prepared.files.is_empty()) {
        crate::app_conf::apply_plan(ctx, bucket, &prepared.files, &Contents::new()).await?;
    }
    Ok(())
}
