//! Spinup and spindown of pipelines (spec §4.7).
//!
//! Spinup observes everything first (environment, images, groups, snapshots,
//! certificates: one describe per kind, for the whole pipeline), plans every hostclass in
//! `asiaq_core`, and only then changes anything. Sequences run in ascending order; within a
//! sequence every hostclass is provisioned concurrently (bounded), then the smoke-tested
//! ones are waited for before the next sequence starts (the original provisioned one
//! hostclass after another).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use asiaq_core::ami::AmiInfo;
use asiaq_core::autoscale::{existing_group, groups_of_hostclass, TooManyGroups};
use asiaq_core::elb;
use asiaq_core::hosts::SmokeStatus;
use asiaq_core::provision::{EnvironmentFacts, ExistingGroup, HostclassPlan, ProvisionRequest};
use asiaq_core::spinup::{
    plan_spinup, plan_warnings, SpinupError, SpinupObservation, SpinupRequests,
};
use futures::stream::{self, StreamExt};
use serde::Serialize;

use super::env::EnvironmentNetwork;
use super::groups::{self, GroupInfo};
use super::provision::{self, ApplyOptions, ProvisionFailure, Provisioned};
use super::{instances, lb, snapshots};
use crate::context::AwsContext;
use crate::error::AwsError;
use crate::wait::{wait_for, Backoff, Poll};
use asiaq_core::plan::alarms::AlarmAction;
use asiaq_core::plan::hosts::HostsAction;
use asiaq_core::plan::log_metrics::LogAction;
use asiaq_core::plan::Plan;
use asiaq_engine::{report, Apply};

/// The candidate images of the requests: explicit ids in one call, the rest by name
/// `<hostclass> *` in one call. Stages are not needed yet (the core chooses among these
/// afterwards), so this runs while the environment is still being looked up.
pub async fn candidate_images(
    ctx: &AwsContext,
    requests: &[ProvisionRequest],
    trusted_account_ids: &[String],
) -> Result<Vec<AmiInfo>, AwsError> {
    let mut owners = vec!["self".to_string()];
    owners.extend(trusted_account_ids.iter().cloned());
    let explicit: Vec<String> = requests.iter().filter_map(|r| r.ami.clone()).collect();
    let by_name: Vec<String> = requests
        .iter()
        .filter(|r| r.ami.is_none())
        .map(|r| format!("{} *", r.hostclass))
        .collect();
    let mut images = Vec::new();
    if !explicit.is_empty() {
        let out = ctx
            .ec2()
            .describe_images()
            .set_image_ids(Some(explicit.clone()))
            .send()
            .await
            .map_err(|e| AwsError::call("ec2", "DescribeImages", e))?;
        images.extend(out.images().iter().map(crate::images::ami_info));
    }
    if !by_name.is_empty() {
        let out = ctx
            .ec2()
            .describe_images()
            .set_owners(Some(owners))
            .filters(super::filter(
                "name",
                &by_name.iter().map(String::as_str).collect::<Vec<_>>(),
            ))
            .send()
            .await
            .map_err(|e| AwsError::call("ec2", "DescribeImages", e))?;
        images.extend(out.images().iter().map(crate::images::ami_info));
    }
    Ok(images)
}

/// The hostclass of image `ami` (the first word of its name), for `provision --ami`.
pub async fn hostclass_of_image(ctx: &AwsContext, ami: &str) -> Result<String, AwsError> {
    let query = crate::images::ImageQuery {
        ids: vec![ami.to_string()],
        ..Default::default()
    };
    crate::images::describe_images(ctx, &query)
        .await?
        .first()
        .map(|i| i.hostclass().to_string())
        .ok_or_else(|| AwsError::State(format!("AMI {ami} not found")))
}

/// What the configuration says about the environment once it is observed (its type
/// chooses its disco_vpc.ini description): the planner's facts and the AMI stages, best
/// first.
#[derive(Debug, Clone)]
pub struct EnvironmentSettings {
    pub facts: EnvironmentFacts,
    pub stages: Vec<String>,
}

/// A spinup observed and planned, nothing changed yet.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub network: EnvironmentNetwork,
    pub plans: Vec<HostclassPlan>,
    /// The certificate ARN of each hostclass whose load balancer needs one.
    pub certificates: BTreeMap<String, String>,
}

impl Prepared {
    /// The plan as the engine's steps (what `--dry-run --output json` prints).
    pub fn steps(&self) -> Plan<HostsAction> {
        asiaq_core::plan::hosts::spinup_plan(&self.plans)
    }

    /// Runs the plans sequence by sequence ([`run`]).
    pub async fn apply(&self, ctx: &AwsContext, opts: &SpinupOptions) -> SpinupReport {
        run(
            ctx,
            &self.plans,
            &self.network.vpc_id,
            &self.certificates,
            opts,
        )
        .await
    }
}

/// How a spinup runs (`provision`, `spinup`, `spindownandup`).
#[derive(Debug, Clone)]
pub struct SpinupRun {
    pub dry_run: bool,
    pub opts: SpinupOptions,
    /// The dry run of `spindownandup`: its spindown, printed with the spinup's plans.
    pub spindown: Option<SpindownPlan>,
}

/// What a spinup ends with: its plan (a dry run) or what was done.
#[derive(Debug)]
pub enum SpinupOutcome {
    Planned {
        prepared: Box<Prepared>,
        /// The spindown of `spindownandup`'s dry run, before the spinup.
        spindown: Option<SpindownPlan>,
    },
    Applied(SpinupReport),
}

/// Observes and plans `requests` ([`prepare`]; the hostclasses of `run`'s spindown as
/// having no group), then returns the plan (dry run) or applies it ([`Prepared::apply`]).
pub async fn spinup_flow<E>(
    ctx: &AwsContext,
    env: &str,
    requests: &SpinupRequests,
    trusted_account_ids: &[String],
    run: SpinupRun,
    configure: impl FnOnce(&EnvironmentNetwork) -> Result<EnvironmentSettings, E>,
) -> Result<SpinupOutcome, E>
where
    E: From<AwsError> + From<SpinupError>,
{
    let spun_down = run
        .spindown
        .as_ref()
        .map(SpindownPlan::hostclasses)
        .unwrap_or_default();
    let prepared = prepare(
        ctx,
        env,
        requests,
        trusted_account_ids,
        &spun_down,
        configure,
    )
    .await?;
    if run.dry_run {
        let spindown = run.spindown;
        return Ok(SpinupOutcome::Planned {
            prepared: Box::new(prepared),
            spindown,
        });
    }
    Ok(SpinupOutcome::Applied(prepared.apply(ctx, &run.opts).await))
}

impl Prepared {
    /// The dry run as the one plan printer shows it (`--output json`): the command and its
    /// steps, after those of `spindownandup`'s spindown `down`.
    pub fn dry_run_plan(&self, down: Option<&SpindownPlan>) -> (&'static str, Plan<HostsAction>) {
        match down {
            Some(d) => ("aws spindownandup", d.steps().then(self.steps())),
            None => ("aws spinup", self.steps()),
        }
    }

    /// The dry run as text: the spindown's lines (of `down`), each group with its detail
    /// (templates, volumes, schedules, load balancers), then the closing count.
    pub fn dry_run_lines(&self, down: Option<&SpindownPlan>) -> Vec<String> {
        let (_, steps) = self.dry_run_plan(down);
        let down = down.map(|d| d.lines(true)).unwrap_or_default();
        let up = self.plans.iter().flat_map(asiaq_core::spinup::plan_lines);
        let closing = closing_line(&steps);
        down.into_iter()
            .chain(up)
            .chain(std::iter::once(closing))
            .collect()
    }
}

/// The closing line of a text plan (`N to create, M to change, K to delete`).
fn closing_line(plan: &Plan<HostsAction>) -> String {
    use asiaq_core::plan::render;
    render::closing_line(&render::summary(plan))
}

/// Observes everything a spinup of `requests` in `env` needs at once (the environment,
/// candidate images, existing groups, latest snapshots: none needs another's answer), asks
/// `configure` what the configuration says about the observed environment, plans every
/// hostclass in the core ([`plan_spinup`]), and finds the certificates the plans need.
/// Hostclasses in `spun_down` are planned as having no group. Changes nothing.
pub async fn prepare<E>(
    ctx: &AwsContext,
    env: &str,
    requests: &SpinupRequests,
    trusted_account_ids: &[String],
    spun_down: &BTreeSet<String>,
    configure: impl FnOnce(&EnvironmentNetwork) -> Result<EnvironmentSettings, E>,
) -> Result<Prepared, E>
where
    E: From<AwsError> + From<SpinupError>,
{
    if let Some(note) = requests.spotinst_note(std::env::var_os("SPOTINST_TOKEN").is_some()) {
        report::note(note);
    }
    let (reqs, types, hostclasses) = (
        requests.provision_requests(),
        requests.instance_type_needed(),
        requests.hostclasses(),
    );
    let (network, images, existing, snapshots) = futures::try_join!(
        super::env::require(ctx, env),
        candidate_images(ctx, &reqs, trusted_account_ids),
        existing_groups(ctx, env, &types),
        latest_snapshots(ctx, env, &hostclasses),
    )?;
    let settings = configure(&network)?;
    let observed = SpinupObservation {
        images,
        existing,
        snapshots,
    };
    let now = super::now_unix().max(0) as u64;
    let plans = plan_spinup(
        requests,
        &settings.facts,
        &observed,
        &settings.stages,
        spun_down,
        now,
    )?;
    for w in plan_warnings(&plans) {
        tracing::warn!("{w}");
    }
    let certificates = certificates(ctx, &plans).await?;
    Ok(Prepared {
        network,
        plans,
        certificates,
    })
}

/// The existing group of each hostclass (at most one; two or more is an error), with its
/// instance type when `need_type` says the plan may need it.
pub async fn existing_groups(
    ctx: &AwsContext,
    env: &str,
    hostclasses: &[(String, bool)],
) -> Result<BTreeMap<String, ExistingGroup>, AwsError> {
    let all = groups::env_groups(ctx, env).await?;
    let names: Vec<&str> = all.iter().map(|g| g.name.as_str()).collect();
    let mut out = BTreeMap::new();
    for (hc, need_type) in hostclasses {
        let mine = groups_of_hostclass(&names, env, hc);
        let chosen = existing_group(&mine, hc, false)
            .map_err(|e: TooManyGroups| AwsError::State(e.to_string()))?;
        let Some(g) = chosen.and_then(|name| all.iter().find(|g| g.name == name)) else {
            continue;
        };
        let instance_type = if *need_type {
            group_instance_type(ctx, g).await?
        } else {
            None
        };
        out.insert(
            hc.clone(),
            ExistingGroup {
                name: g.name.clone(),
                launch_template_id: g.launch_template_id.clone(),
                launch_template_name: g.launch_template_name.clone(),
                launch_configuration: g.launch_configuration.clone(),
                instance_type,
                load_balancers: g.load_balancers.clone(),
                target_group_arns: g.target_group_arns.clone(),
            },
        );
    }
    Ok(out)
}

async fn group_instance_type(ctx: &AwsContext, g: &GroupInfo) -> Result<Option<String>, AwsError> {
    if let Some(id) = &g.launch_template_id {
        return Ok(groups::launch_template_data(ctx, id)
            .await?
            .and_then(|d| d.instance_type().map(|t| t.as_str().to_string())));
    }
    if let Some(lc) = &g.launch_configuration {
        let out = ctx
            .autoscaling()
            .describe_launch_configurations()
            .launch_configuration_names(lc)
            .send()
            .await
            .map_err(|e| AwsError::call("autoscaling", "DescribeLaunchConfigurations", e))?;
        return Ok(out
            .launch_configurations()
            .first()
            .and_then(|c| c.instance_type())
            .map(str::to_string));
    }
    Ok(None)
}

/// The latest snapshot (id, size) of each hostclass in the environment, waiting for it to
/// complete when it is still being taken.
pub async fn latest_snapshots(
    ctx: &AwsContext,
    env: &str,
    hostclasses: &[String],
) -> Result<BTreeMap<String, (String, u32)>, AwsError> {
    let all = snapshots::env_snapshots(ctx, env, &[]).await?;
    let mut out = BTreeMap::new();
    for hc in hostclasses {
        if let Some(s) = asiaq_core::snapshots::latest(&all, hc) {
            if s.state != "completed" {
                snapshots::wait_completed(ctx, &s.id).await?;
            }
            out.insert(hc.clone(), (s.id.clone(), s.size_gb));
        }
    }
    Ok(out)
}

/// The certificate ARN of each plan whose load balancer has HTTPS/SSL listeners; a missing
/// certificate is an error before anything is created.
pub async fn certificates(
    ctx: &AwsContext,
    plans: &[HostclassPlan],
) -> Result<BTreeMap<String, String>, AwsError> {
    let mut out = BTreeMap::new();
    for p in plans {
        let Some(e) = &p.elb else { continue };
        if !e.needs_certificate() {
            continue;
        }
        let name = e.certificate_name.clone().unwrap_or_default();
        match lb::find_certificate(ctx, &name).await? {
            Some(arn) => {
                out.insert(p.hostclass.clone(), arn);
            }
            None => {
                return Err(AwsError::State(format!(
                    "{}: no TLS certificate for {name:?} in ACM or IAM (set elb_cert_name, or import one)",
                    p.hostclass
                )))
            }
        }
    }
    Ok(out)
}

/// Options of [`run`].
#[derive(Debug, Clone)]
pub struct SpinupOptions {
    pub no_smoke_test: bool,
    /// Hostclasses provisioned at once within a sequence.
    pub max_parallel: usize,
    pub keep_on_failure: bool,
}

/// The outcome of a spinup.
#[derive(Debug, Default, Serialize)]
pub struct SpinupReport {
    /// Provisioned (and smoke-tested when asked).
    pub up: Vec<Provisioned>,
    /// `(hostclass, why)`.
    pub failed: Vec<(String, String)>,
    /// Hostclasses of later sequences that were not started.
    pub not_started: Vec<String>,
    /// `(hostclass, why)`: hostclasses up whose alarms or log metrics could not be made
    /// (their hosts stay; `alarms update_metrics` and `log-metrics update` finish the job).
    pub monitoring_failed: Vec<(String, String)>,
}

impl SpinupReport {
    pub fn ok(&self) -> bool {
        self.failed.is_empty()
    }

    /// The outcome as text: each hostclass up (created or updated), failed, not started.
    pub fn lines(&self) -> Vec<String> {
        let up = self.up.iter().map(|p| {
            let verb = if p.created { "created" } else { "updated" };
            format!("{} {} {verb}", p.hostclass, p.group_name)
        });
        let failed = self
            .failed
            .iter()
            .map(|(hc, why)| format!("{hc} FAILED: {why}"));
        let not_started = self
            .not_started
            .iter()
            .map(|hc| format!("{hc} not started"));
        let monitoring = self.monitoring_failed.iter().map(|(hc, why)| {
            format!(
                "{hc} alarms and log metrics FAILED: {why} (the hosts stay up; run `asiaq log-metrics update --hostclass {hc}` and `asiaq alarms update_metrics --hostclass {hc}`)"
            )
        });
        up.chain(failed)
            .chain(not_started)
            .chain(monitoring)
            .collect()
    }

    /// Why the spinup failed, in one line; `None` when it did not.
    pub fn failure(&self) -> Option<String> {
        if self.ok() && !self.monitoring_failed.is_empty() {
            let hcs: Vec<&str> = self
                .monitoring_failed
                .iter()
                .map(|(h, _)| h.as_str())
                .collect();
            return Some(format!(
                "spinup done, but the alarms or log metrics of {} failed",
                hcs.join(", ")
            ));
        }
        (!self.ok()).then(|| {
            format!(
                "spinup failed: {} up, {} failed{}",
                self.up.len(),
                self.failed.len(),
                if self.not_started.is_empty() {
                    String::new()
                } else {
                    format!(", not started: {}", self.not_started.join(", "))
                }
            )
        })
    }
}

/// Runs the plans sequence by sequence.
pub async fn run(
    ctx: &AwsContext,
    plans: &[HostclassPlan],
    vpc_id: &str,
    certs: &BTreeMap<String, String>,
    opts: &SpinupOptions,
) -> SpinupReport {
    let mut report = SpinupReport::default();
    let sequences: BTreeSet<u32> = plans.iter().map(|p| p.sequence).collect();
    let apply_opts = ApplyOptions {
        keep_on_failure: opts.keep_on_failure,
    };
    for seq in sequences {
        if !report.ok() {
            report.not_started.extend(
                plans
                    .iter()
                    .filter(|p| p.sequence == seq)
                    .map(|p| p.hostclass.clone()),
            );
            continue;
        }
        let batch: Vec<&HostclassPlan> = plans.iter().filter(|p| p.sequence == seq).collect();
        report::note(format!(
            "sequence {seq}: provisioning {}",
            batch
                .iter()
                .map(|p| p.hostclass.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let results: Vec<Result<Provisioned, ProvisionFailure>> = stream::iter(batch.iter())
            .map(|p| {
                provision::apply(
                    ctx,
                    p,
                    vpc_id,
                    certs.get(&p.hostclass).map(String::as_str),
                    &apply_opts,
                )
            })
            .buffer_unordered(opts.max_parallel.max(1))
            .collect()
            .await;
        let mut provisioned = Vec::new();
        for r in results {
            match r {
                Ok(p) => provisioned.push(p),
                Err(f) => {
                    report::note(format!("FAILED {f}"));
                    report.failed.push((f.hostclass.clone(), f.to_string()));
                }
            }
        }
        provisioned.sort_by(|a, b| a.hostclass.cmp(&b.hostclass));
        let smoke: Vec<&HostclassPlan> = if opts.no_smoke_test {
            Vec::new()
        } else {
            batch
                .iter()
                .copied()
                .filter(|p| p.smoke_test && provisioned.iter().any(|x| x.hostclass == p.hostclass))
                .collect()
        };
        if !smoke.is_empty() {
            if let Err(failures) = smoke_test(ctx, &smoke).await {
                for (hc, why) in failures {
                    provisioned.retain(|p| p.hostclass != hc);
                    report.failed.push((hc, why));
                }
            }
        }
        for p in &provisioned {
            let Some(plan) = batch.iter().find(|b| b.hostclass == p.hostclass) else {
                continue;
            };
            if plan.monitoring.is_empty() {
                continue;
            }
            let made =
                crate::alarms::apply_monitoring(ctx, &p.hostclass, &p.group_name, &plan.monitoring)
                    .await;
            match made {
                Ok(n) => report::note(format!(
                    "{}: alarms and log metrics in place ({n} change(s))",
                    p.hostclass
                )),
                Err(e) => report
                    .monitoring_failed
                    .push((p.hostclass.clone(), e.to_string())),
            }
        }
        report.up.extend(provisioned);
    }
    report
}

/// Waits until each group has at least its minimum number of instances, then until every
/// one of them passes its smoke test. Failures are `(hostclass, why)`, naming the instance
/// and its state.
pub async fn smoke_test(
    ctx: &AwsContext,
    plans: &[&HostclassPlan],
) -> Result<(), Vec<(String, String)>> {
    let names: Vec<String> = plans.iter().map(|p| p.group_name.clone()).collect();
    let what = format!(
        "instances of {}",
        plans
            .iter()
            .map(|p| p.hostclass.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let members = wait_for(
        &what,
        Backoff::new(
            Duration::from_secs(15),
            Duration::from_secs(15),
            Duration::from_secs(300),
        ),
        || async {
            let gs = groups::describe(ctx, &names).await?;
            let mut short = Vec::new();
            let mut members: Vec<(String, String)> = Vec::new();
            for p in plans {
                let have: Vec<&groups::GroupInstance> = gs
                    .iter()
                    .find(|g| g.name == p.group_name)
                    .map(|g| g.instances.iter().collect())
                    .unwrap_or_default();
                if (have.len() as u32) < p.min_instances {
                    short.push(format!(
                        "{}: {} of {}",
                        p.hostclass,
                        have.len(),
                        p.min_instances
                    ));
                }
                members.extend(have.iter().map(|i| (p.hostclass.clone(), i.id.clone())));
            }
            Ok(if short.is_empty() {
                Poll::Ready(members)
            } else {
                Poll::Pending(short.join(", "))
            })
        },
    )
    .await
    .map_err(|e| {
        plans
            .iter()
            .map(|p| (p.hostclass.clone(), e.to_string()))
            .collect::<Vec<_>>()
    })?;
    let ids: Vec<String> = members.iter().map(|(_, id)| id.clone()).collect();
    let result = wait_for(
        &format!("smoke tests of {what}"),
        Backoff::new(
            Duration::from_secs(15),
            Duration::from_secs(15),
            Duration::from_secs(1200),
        ),
        || async {
            let statuses = instances::smoke_statuses(ctx, &ids).await?;
            let failed: Vec<(String, String)> = statuses
                .iter()
                .filter_map(|(id, s)| match s {
                    SmokeStatus::Failed(state) => Some((id.clone(), state.clone())),
                    _ => None,
                })
                .collect();
            if !failed.is_empty() {
                return Ok(Poll::Ready(Err(failed)));
            }
            let waiting: Vec<String> = statuses
                .iter()
                .filter_map(|(id, s)| match s {
                    SmokeStatus::NotReady(why) => Some(format!("{id} {why}")),
                    _ => None,
                })
                .collect();
            Ok(if waiting.is_empty() {
                Poll::Ready(Ok(()))
            } else {
                Poll::Pending(waiting.join("; "))
            })
        },
    )
    .await;
    let hostclass_of = |id: &str| {
        members
            .iter()
            .find(|(_, i)| i == id)
            .map(|(hc, _)| hc.clone())
            .unwrap_or_default()
    };
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(failed)) => Err(failed
            .into_iter()
            .map(|(id, state)| {
                (
                    hostclass_of(&id),
                    format!("smoke test failed: instance {id} is {state}"),
                )
            })
            .collect()),
        Err(e) => Err(plans
            .iter()
            .map(|p| (p.hostclass.clone(), format!("smoke test: {e}")))
            .collect()),
    }
}

/// What a spindown deletes.
#[derive(Debug, Default, Clone, Serialize)]
pub struct SpindownPlan {
    pub groups: Vec<GroupInfo>,
    /// `(hostclass, load balancer name, DNS name)`.
    pub load_balancers: Vec<(String, String, String)>,
    /// `(hostclass, target group name, ARN)`.
    pub target_groups: Vec<(String, String, String)>,
    /// The hostclasses' alarms, deleted once their groups are gone.
    pub alarms: Plan<AlarmAction>,
    /// Their metric filters and log groups (`<env>/<hostclass>/...`).
    pub log_metrics: Plan<LogAction>,
}

/// Observes what spinning down `hostclasses` of `env` deletes: their groups, their load
/// balancers (normal and testing) and target groups.
pub async fn spindown_plan(
    ctx: &AwsContext,
    env: &str,
    hostclasses: &[String],
) -> Result<SpindownPlan, AwsError> {
    let groups: Vec<GroupInfo> = groups::env_groups(ctx, env)
        .await?
        .into_iter()
        .filter(|g| hostclasses.contains(&g.hostclass))
        .collect();
    let mut load_balancers = Vec::new();
    let mut target_groups = Vec::new();
    for hc in hostclasses {
        for testing in [false, true] {
            let Ok(human) = elb::human_name(env, hc, testing) else {
                continue;
            };
            let name = elb::elb_id(&human);
            if let Some(e) = lb::describe_elb(ctx, &name).await? {
                load_balancers.push((hc.clone(), name, e.dns_name));
            }
        }
        let tg = elb::target_group_name(env, hc);
        if let Some(arn) = lb::target_group_arn(ctx, &tg).await? {
            target_groups.push((hc.clone(), tg, arn));
        }
    }
    let prefixes: Vec<String> = hostclasses
        .iter()
        .map(|hc| asiaq_core::plan::log_metrics::hostclass_prefix(env, hc))
        .collect();
    let (alarms, log_metrics) = futures::try_join!(
        crate::alarms::plan_hostclass_delete(ctx, env, hostclasses),
        crate::log_metrics::plan_delete_all(ctx, &prefixes),
    )?;
    Ok(SpindownPlan {
        groups,
        load_balancers,
        target_groups,
        alarms,
        log_metrics,
    })
}

/// The environment `env` (which must exist) and what spinning down `hostclasses` in it
/// deletes ([`spindown_plan`]), observed at once.
pub async fn observe_spindown(
    ctx: &AwsContext,
    env: &str,
    hostclasses: &[String],
) -> Result<(EnvironmentNetwork, SpindownPlan), AwsError> {
    futures::try_join!(
        super::env::require(ctx, env),
        spindown_plan(ctx, env, hostclasses)
    )
}

impl SpindownPlan {
    /// The spindown as text: each group, load balancer and target group it deletes
    /// (`dry_run`: would delete).
    pub fn lines(&self, dry_run: bool) -> Vec<String> {
        let verb = if dry_run { "would delete" } else { "deleted" };
        let groups = self
            .groups
            .iter()
            .map(|g| format!("{verb} group {} ({} instances)", g.name, g.instances.len()));
        let balancers = self
            .load_balancers
            .iter()
            .map(|(hc, name, _)| format!("{verb} load balancer {name} ({hc})"));
        let target_groups = self
            .target_groups
            .iter()
            .map(|(hc, name, _)| format!("{verb} target group {name} ({hc})"));
        let monitoring =
            asiaq_core::plan::hosts::monitoring_deletes(&self.alarms, &self.log_metrics)
                .steps
                .into_iter()
                .map(|s| {
                    if dry_run {
                        format!("would {}", s.action)
                    } else {
                        format!("{}: done", s.action)
                    }
                });
        groups
            .chain(balancers)
            .chain(target_groups)
            .chain(monitoring)
            .collect()
    }

    /// What `spindown` prints as text: [`SpindownPlan::lines`], and for a dry run the
    /// closing count of its plan.
    pub fn printed_lines(&self, dry_run: bool) -> Vec<String> {
        let mut lines = self.lines(dry_run);
        if dry_run {
            lines.push(closing_line(&self.steps()));
        }
        lines
    }

    /// The hostclasses whose groups the spindown deletes.
    pub fn hostclasses(&self) -> BTreeSet<String> {
        self.groups.iter().map(|g| g.hostclass.clone()).collect()
    }

    /// The spindown as an engine plan: the groups at once, then the DNS records pointing at
    /// the load balancers (one pass over the hosted zones), then each load balancer and
    /// target group once its hostclass's groups are gone.
    pub fn steps(&self) -> Plan<HostsAction> {
        let groups: Vec<_> = self
            .groups
            .iter()
            .map(|g| (g.name.clone(), g.hostclass.clone(), g.instances.len()))
            .collect();
        let dns: Vec<String> = self
            .load_balancers
            .iter()
            .map(|(_, _, d)| d.clone())
            .filter(|d| !d.is_empty())
            .collect();
        let pairs = |v: &[(String, String, String)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(hc, name, _)| (hc.clone(), name.clone()))
                .collect()
        };
        let hosts = asiaq_core::plan::hosts::spindown_plan(
            &groups,
            &dns,
            &pairs(&self.load_balancers),
            &pairs(&self.target_groups),
        );
        // The alarms and log metrics go once the groups are gone.
        hosts.then(asiaq_core::plan::hosts::monitoring_deletes(
            &self.alarms,
            &self.log_metrics,
        ))
    }
}

/// The calls of a spindown, for the plan/apply engine.
struct SpindownSteps<'a> {
    ctx: &'a AwsContext,
    plan: &'a SpindownPlan,
}

impl Apply<HostsAction> for SpindownSteps<'_> {
    type Error = AwsError;

    async fn apply(&self, action: &HostsAction) -> Result<Option<String>, AwsError> {
        let ctx = self.ctx;
        match action {
            HostsAction::DeleteGroup { name, .. } => {
                let g = self
                    .plan
                    .groups
                    .iter()
                    .find(|g| &g.name == name)
                    .ok_or_else(|| AwsError::State(format!("{action}: not in the plan")))?;
                groups::delete_group(ctx, g, true).await?;
            }
            HostsAction::DeleteDnsRecords { values } => {
                for name in crate::route53::delete_records_by_value(ctx, "CNAME", values).await? {
                    report::note(format!("deleted DNS record {name}"));
                }
            }
            HostsAction::DeleteLoadBalancer { name, .. } => lb::delete_elb(ctx, name).await?,
            HostsAction::DeleteTargetGroup { name, .. } => {
                if let Some((_, _, arn)) =
                    self.plan.target_groups.iter().find(|(_, n, _)| n == name)
                {
                    lb::delete_target_group(ctx, arn).await?;
                }
            }
            HostsAction::DeleteAlarms { names } => {
                ctx.cloudwatch()
                    .delete_alarms()
                    .set_alarm_names(Some(names.clone()))
                    .send()
                    .await
                    .map_err(|e| AwsError::call("cloudwatch", "DeleteAlarms", e))?;
            }
            HostsAction::DeleteMetricFilter { log_group, name } => {
                ctx.logs()
                    .delete_metric_filter()
                    .log_group_name(log_group)
                    .filter_name(name)
                    .send()
                    .await
                    .map_err(|e| AwsError::call("logs", "DeleteMetricFilter", e))?;
            }
            HostsAction::DeleteLogGroup { name } => {
                ctx.logs()
                    .delete_log_group()
                    .log_group_name(name)
                    .send()
                    .await
                    .map_err(|e| AwsError::call("logs", "DeleteLogGroup", e))?;
            }
            HostsAction::CreateLaunchTemplate { .. }
            | HostsAction::CreateGroup { .. }
            | HostsAction::UpdateGroup { .. } => {
                return Err(AwsError::State(format!("{action}: not a spindown step")));
            }
        }
        Ok(None)
    }

    fn unresolved(&self, action: &HostsAction, key: &str) -> AwsError {
        AwsError::State(format!("{action}: nothing created {key}"))
    }
}

/// Deletes what `plan` lists, through the engine: up to `max_parallel` groups at once, then
/// the records, load balancers and target groups. Deleting what is already gone is done,
/// so a spindown that stopped part-way is finished by running it again.
pub async fn spindown(
    ctx: &AwsContext,
    plan: &SpindownPlan,
    max_parallel: usize,
) -> Result<(), AwsError> {
    let calls = SpindownSteps { ctx, plan };
    crate::engine::run_forward(&calls, &plan.steps(), max_parallel, "spindown")
        .await
        .map(drop)
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn report_text_and_failure() {
        let mut report = SpinupReport {
            up: vec![Provisioned {
                hostclass: "mhcapp".into(),
                group_name: "ci_mhcapp_1".into(),
                created: true,
                elb_dns_name: None,
            }],
            ..SpinupReport::default()
        };
        assert_eq!(report.lines(), ["mhcapp ci_mhcapp_1 created"]);
        assert_eq!(report.failure(), None);
        report.failed.push(("mhcweb".into(), "boom".into()));
        report.not_started = vec!["mhcdb".into(), "mhcq".into()];
        assert_eq!(
            report.lines(),
            [
                "mhcapp ci_mhcapp_1 created",
                "mhcweb FAILED: boom",
                "mhcdb not started",
                "mhcq not started"
            ]
        );
        assert_eq!(
            report.failure().as_deref(),
            Some("spinup failed: 1 up, 1 failed, not started: mhcdb, mhcq")
        );
    }

    #[test]
    fn spindown_text() {
        let group = GroupInfo {
            name: "ci_mhcweb_1".into(),
            hostclass: "mhcweb".into(),
            min_size: 1,
            max_size: 1,
            desired_capacity: 1,
            ..GroupInfo::default()
        };
        let plan = SpindownPlan {
            groups: vec![group],
            load_balancers: vec![("mhcweb".into(), "abc".into(), "abc.elb".into())],
            target_groups: vec![("mhcweb".into(), "ci-mhcweb".into(), "arn:tg".into())],
            ..SpindownPlan::default()
        };
        assert_eq!(
            plan.lines(true),
            [
                "would delete group ci_mhcweb_1 (0 instances)",
                "would delete load balancer abc (mhcweb)",
                "would delete target group ci-mhcweb (mhcweb)"
            ]
        );
        assert_eq!(
            plan.lines(false)[0],
            "deleted group ci_mhcweb_1 (0 instances)"
        );
        assert_eq!(plan.hostclasses(), BTreeSet::from(["mhcweb".to_string()]));
    }

    fn one_group_spindown() -> SpindownPlan {
        let group = GroupInfo {
            name: "ci_mhcweb_1".into(),
            hostclass: "mhcweb".into(),
            ..GroupInfo::default()
        };
        SpindownPlan {
            groups: vec![group],
            ..SpindownPlan::default()
        }
    }

    #[test]
    fn spindown_printed_lines_close_a_dry_run_only() {
        let plan = one_group_spindown();
        let dry = plan.printed_lines(true);
        assert_eq!(dry[0], "would delete group ci_mhcweb_1 (0 instances)");
        assert_eq!(dry.len(), 2);
        assert!(dry[1].contains("1 to delete"), "{dry:?}");
        assert_eq!(
            plan.printed_lines(false),
            ["deleted group ci_mhcweb_1 (0 instances)"]
        );
    }

    #[test]
    fn spinup_dry_run_follows_the_spindown() {
        let prepared = Prepared {
            network: EnvironmentNetwork {
                name: "ci".into(),
                vpc_id: "vpc-1".into(),
                env_type: None,
                environment_class: "development".into(),
                tags: BTreeMap::new(),
                metanetworks: Vec::new(),
            },
            plans: Vec::new(),
            certificates: BTreeMap::new(),
        };
        let (command, steps) = prepared.dry_run_plan(None);
        assert_eq!((command, steps.len()), ("aws spinup", 0));
        let down = one_group_spindown();
        let (command, steps) = prepared.dry_run_plan(Some(&down));
        assert_eq!(command, "aws spindownandup");
        assert_eq!(steps.len(), down.steps().len());
        let lines = prepared.dry_run_lines(Some(&down));
        assert_eq!(lines[0], "would delete group ci_mhcweb_1 (0 instances)");
        assert_eq!(lines.last(), Some(&closing_line(&down.steps())));
        assert_eq!(
            prepared.dry_run_lines(None),
            [closing_line(&Plan::default())]
        );
    }
}
