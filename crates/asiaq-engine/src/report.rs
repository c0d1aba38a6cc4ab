//! Progress: what the executor and the waits tell the operator, as events.
//!
//! Libraries never print. They send [`Event`]s to the [`Reporter`] the binary installed
//! at start-up ([`install`]); the binary's reporter draws a progress bar on a terminal and
//! prints plain lines otherwise, always on stderr. Until one is installed (library tests),
//! events go nowhere but warnings, which go to stderr.

use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

/// Something that happened while running a plan or waiting for AWS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<'a> {
    /// A plan of `total` steps starts running.
    PlanStarted { title: &'a str, total: usize },
    /// A step starts (its first call is about to leave).
    StepStarted { id: usize, text: &'a str },
    /// A step finished; `created` is the id of what it made, if it made something.
    StepDone {
        id: usize,
        text: &'a str,
        created: Option<&'a str>,
    },
    /// A step will be tried again after `pause` (throttled, or a resource not visible yet).
    StepRetrying {
        id: usize,
        text: &'a str,
        reason: &'a str,
        pause: Duration,
    },
    /// A step failed for good.
    StepFailed {
        id: usize,
        text: &'a str,
        error: &'a str,
    },
    /// A plan stopped: `done` of its steps finished, and it `failed` or not.
    PlanFinished { done: usize, failed: bool },
    /// Still waiting for `what`; the last state seen.
    Waiting {
        what: &'a str,
        elapsed: Duration,
        state: &'a str,
    },
    /// A wait that had to poll more than once is over.
    WaitDone { what: &'a str, elapsed: Duration },
    /// Something worth saying about what is being done.
    Note(&'a str),
    /// Something the operator may need to act on; shown even when progress is silenced.
    Warning(&'a str),
}

/// Where events go.
pub trait Reporter: Send + Sync {
    fn event(&self, event: &Event<'_>);
}

/// A reporter that drops everything but warnings (printed on stderr).
#[derive(Debug, Default, Clone, Copy)]
pub struct WarningsOnly;

impl Reporter for WarningsOnly {
    fn event(&self, event: &Event<'_>) {
        if let Event::Warning(w) = event {
            eprintln!("warning: {w}");
        }
    }
}

fn slot() -> &'static RwLock<Arc<dyn Reporter>> {
    static SLOT: OnceLock<RwLock<Arc<dyn Reporter>>> = OnceLock::new();
    SLOT.get_or_init(|| RwLock::new(Arc::new(WarningsOnly)))
}

/// Makes `reporter` the process's reporter (the binary does this once, at start-up).
pub fn install(reporter: Arc<dyn Reporter>) {
    if let Ok(mut s) = slot().write() {
        *s = reporter;
    }
}

/// The process's reporter.
pub fn current() -> Arc<dyn Reporter> {
    match slot().read() {
        Ok(s) => Arc::clone(&s),
        Err(_) => Arc::new(WarningsOnly),
    }
}

/// Sends one event to the process's reporter.
pub fn emit(event: &Event<'_>) {
    current().event(event);
}

/// Reports a note.
pub fn note(message: impl AsRef<str>) {
    emit(&Event::Note(message.as_ref()));
}

/// Reports a warning.
pub fn warn(message: impl AsRef<str>) {
    emit(&Event::Warning(message.as_ref()));
}

/// `1m 05s`, `12s`, `350ms`.
pub fn human(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 60 {
        format!("{}m {:02}s", secs / 60, secs % 60)
    } else if secs >= 1 {
        format!("{secs}s")
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// The plain line an event reads as (for non-terminal output and logs), or `None` for
/// events that only move a progress bar.
pub fn plain_line(event: &Event<'_>) -> Option<String> {
    Some(match event {
        Event::PlanStarted { .. } | Event::StepStarted { .. } | Event::PlanFinished { .. } => {
            return None
        }
        Event::StepDone {
            text,
            created: Some(id),
            ..
        } => format!("{text}: {id}"),
        Event::StepDone { text, .. } => text.to_string(),
        Event::StepRetrying {
            text,
            reason,
            pause,
            ..
        } => format!("{text}: {reason}; trying again in {}", human(*pause)),
        Event::StepFailed { text, error, .. } => format!("failed: {text}: {error}"),
        Event::Waiting {
            what,
            elapsed,
            state,
        } => format!(
            "waiting for {what}: {} so far, last state: {state}",
            human(*elapsed)
        ),
        Event::WaitDone { what, elapsed } => format!("{what}: done after {}", human(*elapsed)),
        Event::Note(n) => n.to_string(),
        Event::Warning(w) => format!("warning: {w}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations() {
        assert_eq!(human(Duration::from_millis(350)), "350ms");
        assert_eq!(human(Duration::from_secs(12)), "12s");
        assert_eq!(human(Duration::from_secs(65)), "1m 05s");
    }

    #[test]
    fn plain_lines_read_as_before() {
        let created = Event::StepDone {
            id: 0,
            text: "create subnet a",
            created: Some("subnet-1"),
        };
        assert_eq!(plain_line(&created).unwrap(), "create subnet a: subnet-1");
        let waiting = Event::Waiting {
            what: "NAT gateway n-1 to be available",
            elapsed: Duration::from_secs(3),
            state: "pending",
        };
        assert_eq!(
            plain_line(&waiting).unwrap(),
            "waiting for NAT gateway n-1 to be available: 3s so far, last state: pending"
        );
        assert!(plain_line(&Event::StepStarted { id: 0, text: "x" }).is_none());
    }
}
