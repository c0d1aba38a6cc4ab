//! Waiting for AWS to reach a state: poll with backoff, say what is being waited for, how
//! long so far and the last state seen, and fail with all of that rather than an opaque
//! "exceeded wait attempts".

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::AwsError;
use asiaq_engine::report::{self, Event};

/// The outcome of one poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Poll<T> {
    /// Done, with the result.
    Ready(T),
    /// Not yet; the state seen (for progress messages and the timeout error).
    Pending(String),
}

/// How to poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// First pause between polls.
    pub initial: Duration,
    /// Longest pause between polls.
    pub max: Duration,
    /// Give up after this long.
    pub timeout: Duration,
}

impl Backoff {
    /// Polls every `initial`, growing by half each time up to `max`, for at most `timeout`.
    pub const fn new(initial: Duration, max: Duration, timeout: Duration) -> Self {
        Backoff {
            initial,
            max,
            timeout,
        }
    }

    /// The pause after `n` polls (0-based): `initial * 1.5^n`, capped at `max`.
    pub fn pause(&self, n: u32) -> Duration {
        let factor = 1.5f64.powi(n.min(64) as i32);
        self.initial.mul_f64(factor).min(self.max)
    }

    /// Scales every duration by `ASIAQ_WAIT_SCALE` (a float; tests against an emulator that
    /// reaches every state at once use a small value). Timeouts are never scaled below 1 s.
    pub fn scaled(self) -> Self {
        let scale = wait_scale();
        Backoff {
            initial: self.initial.mul_f64(scale),
            max: self.max.mul_f64(scale),
            timeout: self.timeout.mul_f64(scale).max(Duration::from_secs(1)),
        }
    }
}

/// The test-only wait scale (`ASIAQ_WAIT_SCALE`), read once.
fn wait_scale() -> f64 {
    static SCALE: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *SCALE.get_or_init(|| {
        std::env::var(asiaq_core::env_vars::EnvVars::ASIAQ_WAIT_SCALE)
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|s| *s > 0.0)
            .unwrap_or(1.0)
    })
}

/// Polls `poll` until it is ready, with `backoff` (scaled by `ASIAQ_WAIT_SCALE`). `what` says
/// what is awaited ("instance i-123 to stop"); progress is reported on stderr at most every
/// 15 s of waiting. An error from `poll` ends the wait at once.
pub async fn wait_for<T, F, Fut>(what: &str, backoff: Backoff, mut poll: F) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, AwsError>>,
{
    let backoff = backoff.scaled();
    let start = Instant::now();
    let mut last_report = Instant::now();
    let mut n = 0;
    loop {
        let last_state = match poll().await? {
            Poll::Ready(t) => {
                if n > 0 {
                    report::emit(&Event::WaitDone {
                        what,
                        elapsed: start.elapsed(),
                    });
                }
                return Ok(t);
            }
            Poll::Pending(state) => state,
        };
        let elapsed = start.elapsed();
        if elapsed >= backoff.timeout {
            return Err(AwsError::Timeout {
                what: what.to_string(),
                waited: human(elapsed),
                last_state,
            });
        }
        if last_report.elapsed() >= Duration::from_secs(15) || n == 0 {
            report::emit(&Event::Waiting {
                what,
                elapsed,
                state: &last_state,
            });
            last_report = Instant::now();
        }
        let pause = backoff
            .pause(n)
            .min(backoff.timeout.saturating_sub(elapsed));
        tokio::time::sleep(pause).await;
        n += 1;
    }
}

/// Makes one call, and makes it again while AWS still answers that it is throttled after the
/// SDK's own retries. Rate limits are per account and shared with every other client (an
/// earlier asiaq run included), so this client's own budget cannot always prevent that; a
/// throttled call was not carried out, so sending it again is safe. `call` must be a single
/// AWS call (a function that made two would repeat the first). Gives up after 2 minutes
/// with AWS's last answer. Injected faults are never re-sent.
pub async fn resend_while_throttled<T, F, Fut>(what: &str, mut call: F) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let backoff = Backoff::new(
        Duration::from_secs(2),
        Duration::from_secs(10),
        Duration::from_secs(120),
    );
    let last: std::sync::Mutex<Option<AwsError>> = std::sync::Mutex::new(None);
    let last_ref = &last;
    let result = wait_for(&format!("AWS to accept {what}"), backoff, || {
        let sent = call();
        async move {
            match sent.await {
                Ok(v) => Ok(Poll::Ready(Ok(v))),
                Err(e) if e.is_throttling() && !crate::fault::is_injected(&e) => {
                    let state = e.to_string();
                    if let Ok(mut l) = last_ref.lock() {
                        *l = Some(e);
                    }
                    Ok(Poll::Pending(state))
                }
                Err(e) => Ok(Poll::Ready(Err(e))),
            }
        }
    })
    .await;
    match result {
        Ok(r) => r,
        Err(timeout) => Err(last.into_inner().ok().flatten().unwrap_or(timeout)),
    }
}

pub use asiaq_engine::report::human;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pause_grows_and_caps() {
        let b = Backoff::new(
            Duration::from_secs(2),
            Duration::from_secs(10),
            Duration::from_secs(60),
        );
        assert_eq!(b.pause(0), Duration::from_secs(2));
        assert_eq!(b.pause(1), Duration::from_secs(3));
        assert_eq!(b.pause(2), Duration::from_millis(4500));
        assert_eq!(b.pause(10), Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn ready_after_some_polls() {
        let mut calls = 0;
        let b = Backoff::new(
            Duration::from_secs(1),
            Duration::from_secs(5),
            Duration::from_secs(60),
        );
        let out = wait_for("thing", b, || {
            calls += 1;
            let c = calls;
            async move {
                Ok(if c < 3 {
                    Poll::Pending(format!("state{c}"))
                } else {
                    Poll::Ready(c)
                })
            }
        })
        .await
        .unwrap();
        assert_eq!(out, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn timeout_names_what_and_last_state() {
        let b = Backoff::new(
            Duration::from_secs(1),
            Duration::from_secs(5),
            Duration::from_secs(20),
        );
        let err = wait_for::<(), _, _>("instance i-1 to stop", b, || async {
            Ok(Poll::Pending("stopping".into()))
        })
        .await
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(
                "timed out after 20s waiting for instance i-1 to stop (last state: stopping)"
            ),
            "{text}"
        );
    }
}
