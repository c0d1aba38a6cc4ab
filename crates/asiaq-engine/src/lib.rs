//! The one plan/apply engine of asiaq.
//!
//! A plan ([`asiaq_core::plan::Plan`]) is pure data built by a tool group's planner. This
//! crate runs it: every step whose dependencies are done starts at once, up to a bound of
//! steps in flight; `${key}` references are replaced by the ids earlier steps returned; a
//! call still throttled after the SDK's retries is sent again, and a resource just created
//! that is not visible yet is waited for, both for a bounded time; deletes treat "not found"
//! as done, so a failed delete can be run again; a failed create flow can be rolled back
//! with the undo of every step that finished. What happens is told to a [`Reporter`].
//!
//! The engine knows nothing of AWS: a tool group implements [`Apply`] (the calls) and
//! [`StepError`] (which errors are throttling and which are "not found").

pub mod execute;
pub mod report;

pub use execute::{
    execute, rollback, Apply, Disposition, ExecError, ExecOptions, ExecReport, RetryPolicy,
    RollbackReport, StepError,
};
pub use report::{Event, Reporter};
