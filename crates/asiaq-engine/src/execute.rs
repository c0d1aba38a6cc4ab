//! Running a plan: every step whose dependencies are done starts at once, up to a bound of
//! steps in flight; `${key}` references are replaced by the ids of what earlier steps
//! created.
//!
//! On the first failure no new step starts, the steps in flight finish, and the error says
//! which step failed, what was created so far and which steps finished (for [`rollback`]).
//! Deletes treat "not found" as done, so a delete plan can always be run again.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::Duration;

use asiaq_core::plan::{refs_of, resolve_refs, Plan, PlanAction};
use futures::stream::{FuturesUnordered, StreamExt};
use tokio::time::Instant;

use crate::report::{Event, Reporter};

/// What the engine needs to know of an error.
pub trait StepError: std::error::Error + Send + Sync + 'static {
    /// The service refused the call for its rate limit (it was not carried out).
    fn is_throttling(&self) -> bool;
    /// The resource named in the call does not exist (or is not visible yet).
    fn is_not_found(&self) -> bool;
    /// A fault injected by a test: never retried, never taken for "already done".
    fn is_injected(&self) -> bool {
        false
    }
    /// The id of what the step created before a later call of the same step failed (a
    /// create whose follow-up tagging was refused): recorded like any created id, so that
    /// the rollback deletes it even though it may carry no ownership tag.
    fn created_before_failure(&self) -> Option<&str> {
        None
    }
}

/// What to do after a step's call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// The step's effect is already there (a delete of something gone): it is done.
    Done,
    /// Transient: send the call again after a pause, within the retry policy's time.
    Retry,
    /// The step failed.
    Fail,
}

/// The calls of one tool group: how each action is carried out.
pub trait Apply<A: PlanAction> {
    type Error: StepError;

    /// Carries out `action` (with every `${key}` resolved); returns the id of what it
    /// created, if it creates something.
    fn apply(&self, action: &A) -> impl Future<Output = Result<Option<String>, Self::Error>>;

    /// The error for an action that still refers to `${key}` nobody created.
    fn unresolved(&self, action: &A, key: &str) -> Self::Error;

    /// How to treat `error` from `action`; [`default_disposition`] unless overridden.
    fn disposition(&self, action: &A, error: &Self::Error) -> Disposition {
        default_disposition(action, error)
    }
}

/// Deletes of something already gone are done; throttled calls are sent again; a create or
/// change that cannot find what it refers to is tried again (AWS's eventual consistency:
/// what was just created may be invisible for a moment); anything else fails. Injected
/// faults always fail.
pub fn default_disposition<A: PlanAction, E: StepError>(action: &A, error: &E) -> Disposition {
    if error.is_injected() {
        return Disposition::Fail;
    }
    let deleting = action.change().is_delete();
    if deleting && error.is_not_found() {
        Disposition::Done
    } else if error.is_throttling() || error.is_not_found() {
        Disposition::Retry
    } else {
        Disposition::Fail
    }
}

/// How long and how often a step is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// First pause.
    pub initial: Duration,
    /// Longest pause.
    pub max: Duration,
    /// Give up (with the last error) once this much time has passed since the first try.
    pub timeout: Duration,
}

impl RetryPolicy {
    /// 2 s, growing by half up to 10 s, for 2 minutes.
    pub const DEFAULT: RetryPolicy = RetryPolicy {
        initial: Duration::from_secs(2),
        max: Duration::from_secs(10),
        timeout: Duration::from_secs(120),
    };

    /// The pause after `n` tries (0-based): `initial * 1.5^n`, capped at `max`.
    pub fn pause(&self, n: u32) -> Duration {
        let factor = 1.5f64.powi(n.min(64) as i32);
        self.initial.mul_f64(factor).min(self.max)
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy::DEFAULT
    }
}

/// How to run a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOptions {
    /// Steps in flight at most. Tool groups set it from their service's rate budget (the
    /// budget itself paces the calls; this bound only keeps a burst inside it).
    pub max_in_flight: usize,
    pub retry: RetryPolicy,
    /// What the plan does, for progress ("create environment demo").
    pub title: String,
}

impl Default for ExecOptions {
    fn default() -> Self {
        ExecOptions {
            max_in_flight: 10,
            retry: RetryPolicy::DEFAULT,
            title: String::new(),
        }
    }
}

/// What ran.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecReport {
    /// Created resources: plan key → id.
    pub created: BTreeMap<String, String>,
    /// Steps that finished, in the order they finished.
    pub completed: Vec<usize>,
    pub steps_done: usize,
}

/// A plan that stopped part-way.
#[derive(Debug, thiserror::Error)]
#[error("{step}: {error}")]
pub struct ExecError<E: std::error::Error + 'static> {
    /// The failed step, as the plan prints it.
    pub step: String,
    pub step_id: usize,
    pub error: E,
    /// What was created before the failure (plan key → id).
    pub created: BTreeMap<String, String>,
    /// Steps that finished, in the order they finished.
    pub completed: Vec<usize>,
    pub steps_done: usize,
}

/// Runs `plan` through `apply`, telling `reporter` what happens.
pub async fn execute<A, P>(
    apply: &P,
    plan: &Plan<A>,
    options: &ExecOptions,
    reporter: &dyn Reporter,
) -> Result<ExecReport, ExecError<P::Error>>
where
    A: PlanAction,
    P: Apply<A>,
{
    let run = run_plan(apply, plan, options, reporter, false).await;
    match run.failures.into_iter().next() {
        Some((step_id, step, error)) => Err(ExecError {
            step,
            step_id,
            error,
            created: run.ids,
            steps_done: run.completed.len(),
            completed: run.completed,
        }),
        None => Ok(ExecReport {
            created: run.ids,
            steps_done: run.completed.len(),
            completed: run.completed,
        }),
    }
}

/// What a run of a plan did.
struct Run<E> {
    ids: BTreeMap<String, String>,
    completed: Vec<usize>,
    /// `(step, text, error)`, in the order they failed.
    failures: Vec<(usize, String, E)>,
}

/// Runs `plan`. After a failure, no new step starts unless `keep_going`; then only the
/// steps that wait (directly or not) for a failed step are left out.
async fn run_plan<A, P>(
    apply: &P,
    plan: &Plan<A>,
    options: &ExecOptions,
    reporter: &dyn Reporter,
    keep_going: bool,
) -> Run<P::Error>
where
    A: PlanAction,
    P: Apply<A>,
{
    let bound = options.max_in_flight.max(1);
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    let mut done: BTreeSet<usize> = BTreeSet::new();
    let mut completed: Vec<usize> = Vec::new();
    let mut started: BTreeSet<usize> = BTreeSet::new();
    let mut failures: Vec<(usize, String, P::Error)> = Vec::new();
    let mut in_flight = FuturesUnordered::new();
    reporter.event(&Event::PlanStarted {
        title: &options.title,
        total: plan.len(),
    });
    loop {
        if failures.is_empty() || keep_going {
            for step in &plan.steps {
                if in_flight.len() >= bound {
                    break;
                }
                if started.contains(&step.id) || !step.after.iter().all(|a| done.contains(a)) {
                    continue;
                }
                started.insert(step.id);
                let action = resolve_refs(&step.action, &ids);
                let id = step.id;
                let retry = options.retry;
                in_flight.push(async move {
                    let text = action.to_string();
                    reporter.event(&Event::StepStarted { id, text: &text });
                    let result = run_step(apply, &action, id, &text, &retry, reporter).await;
                    (id, action, text, result)
                });
            }
        }
        let Some((id, action, text, result)) = in_flight.next().await else {
            break;
        };
        match result {
            Ok(created) => {
                done.insert(id);
                completed.push(id);
                if let (Some(key), Some(new_id)) = (action.creates(), created.as_deref()) {
                    ids.insert(key.to_string(), new_id.to_string());
                }
                reporter.event(&Event::StepDone {
                    id,
                    text: &text,
                    created: created.as_deref().filter(|_| action.creates().is_some()),
                });
            }
            Err(error) => {
                if let (Some(key), Some(new_id)) =
                    (action.creates(), error.created_before_failure())
                {
                    ids.insert(key.to_string(), new_id.to_string());
                }
                reporter.event(&Event::StepFailed {
                    id,
                    text: &text,
                    error: &error.to_string(),
                });
                failures.push((id, text, error));
            }
        }
    }
    reporter.event(&Event::PlanFinished {
        done: done.len(),
        failed: !failures.is_empty(),
    });
    Run {
        ids,
        completed,
        failures,
    }
}

/// One step: its call, sent again while the answer is transient, within `retry`'s time.
async fn run_step<A, P>(
    apply: &P,
    action: &A,
    id: usize,
    text: &str,
    retry: &RetryPolicy,
    reporter: &dyn Reporter,
) -> Result<Option<String>, P::Error>
where
    A: PlanAction,
    P: Apply<A>,
{
    if let Some(key) = refs_of(action).into_iter().next() {
        return Err(apply.unresolved(action, &key));
    }
    let start = Instant::now();
    let mut tries = 0;
    loop {
        let error = match apply.apply(action).await {
            Ok(created) => return Ok(created),
            Err(e) => e,
        };
        // Something was made: sending the step again would make a second one.
        if error.created_before_failure().is_some() {
            return Err(error);
        }
        match apply.disposition(action, &error) {
            Disposition::Done => return Ok(None),
            Disposition::Fail => return Err(error),
            Disposition::Retry => {
                let elapsed = start.elapsed();
                if elapsed >= retry.timeout {
                    return Err(error);
                }
                let pause = retry
                    .pause(tries)
                    .min(retry.timeout.saturating_sub(elapsed));
                reporter.event(&Event::StepRetrying {
                    id,
                    text,
                    reason: &error.to_string(),
                    pause,
                });
                tokio::time::sleep(pause).await;
                tries += 1;
            }
        }
    }
}

/// What a rollback undid and what it could not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RollbackReport {
    /// The undo steps that ran, as the plan prints them, in the order they finished.
    pub undone: Vec<String>,
    /// The undo steps that failed (`step: error`), or were not tried because they wait
    /// for one that failed: what they would have removed is still there.
    pub failed: Vec<String>,
}

impl RollbackReport {
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty()
    }
}

/// Undoes what a failed run did: the [`PlanAction::undo`] of every step that finished (and
/// of a step that made something before it failed), in reverse order of dependency. A
/// step that created nothing (it found its resource already there) has nothing to undo.
/// Every undo step is tried, also after another failed, except those that wait for a
/// failed one. The undo plan is made of deletes, so a rollback that fails can be run again.
pub async fn rollback<A, P>(
    apply: &P,
    plan: &Plan<A>,
    completed: &[usize],
    created: &BTreeMap<String, String>,
    options: &ExecOptions,
    reporter: &dyn Reporter,
) -> RollbackReport
where
    A: PlanAction,
    P: Apply<A>,
{
    // A step that failed after making something (see [`StepError::created_before_failure`])
    // is not complete, but what it made is in `created` and is undone too, first.
    let mut made: Vec<usize> = completed.to_vec();
    made.extend(plan.steps.iter().map(|s| s.id).filter(|id| {
        !completed.contains(id)
            && plan.steps[*id]
                .action
                .creates()
                .is_some_and(|key| created.contains_key(key))
    }));
    let undo = plan.undo_plan(&made, created);
    let run = run_plan(apply, &undo, options, reporter, true).await;
    let undone = run
        .completed
        .iter()
        .map(|&id| undo.steps[id].action.to_string())
        .collect();
    let mut failed: Vec<String> = run
        .failures
        .iter()
        .map(|(_, text, error)| format!("{text}: {error}"))
        .collect();
    failed.extend(
        undo.steps
            .iter()
            .filter(|s| !run.completed.contains(&s.id) && !run.failures.iter().any(|f| f.0 == s.id))
            .map(|s| format!("{}: not tried (it waits for a failed undo)", s.action)),
    );
    RollbackReport { undone, failed }
}

#[cfg(test)]
mod tests;
