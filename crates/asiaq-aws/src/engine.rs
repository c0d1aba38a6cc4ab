//! Running a plan forward through the engine, as every tool group without a rollback does:
//! asiaq's retry policy (scaled by `ASIAQ_WAIT_SCALE` in tests), the installed reporter, and
//! the first failure's error as the result.

use asiaq_core::plan::{Plan, PlanAction};
use asiaq_engine::{report, Apply, ExecOptions, ExecReport};

use crate::error::AwsError;

/// Runs `plan` through `calls`, at most `max_in_flight` steps at once; `title` names it in
/// the progress output.
pub async fn run_forward<A, P>(
    calls: &P,
    plan: &Plan<A>,
    max_in_flight: usize,
    title: &str,
) -> Result<ExecReport, AwsError>
where
    A: PlanAction,
    P: Apply<A, Error = AwsError>,
{
    let options = ExecOptions {
        max_in_flight: max_in_flight.max(1),
        retry: crate::vpc::execute::retry_policy(),
        title: title.to_string(),
    };
    let reporter = report::current();
    asiaq_engine::execute(calls, plan, &options, reporter.as_ref())
        .await
        .map_err(|failure| failure.error)
}
