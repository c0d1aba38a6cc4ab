//! The binary's [`Reporter`]: progress on stderr, never on stdout (which carries results).
//!
//! On a terminal a running plan is one progress bar (steps done of the total, the step
//! that started last, the time so far) with notes printed above it; elsewhere (pipes, CI,
//! tests) every event that has a plain line prints it. Quiet mode (`ASIAQ_QUIET=1`, or
//! `creds --silent`) keeps only warnings.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use asiaq_engine::report::{plain_line, Event, Reporter};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Environment variable: silence progress (tests that compare stderr set it).
pub const QUIET_ENV: &str = asiaq_core::env_vars::EnvVars::ASIAQ_QUIET;

/// Whether `ASIAQ_QUIET` asks for quiet, read once by [`install`].
fn quiet_from_env() -> bool {
    std::env::var(QUIET_ENV).is_ok_and(|v| !v.is_empty() && v != "0")
}

pub struct StderrReporter {
    quiet: bool,
    terminal: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl StderrReporter {
    pub fn new(quiet: bool) -> Self {
        StderrReporter {
            quiet,
            terminal: std::io::stderr().is_terminal(),
            bar: Mutex::new(None),
        }
    }

    fn line(&self, line: &str) {
        let bar = self.bar.lock().ok().and_then(|b| b.clone());
        match bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    fn with_bar(&self, f: impl FnOnce(&ProgressBar)) {
        if let Ok(b) = self.bar.lock() {
            if let Some(bar) = b.as_ref() {
                f(bar);
            }
        }
    }
}

impl Reporter for StderrReporter {
    fn event(&self, event: &Event<'_>) {
        if let Event::Warning(_) = event {
            if let Some(line) = plain_line(event) {
                self.line(&line);
            }
            return;
        }
        if self.quiet {
            return;
        }
        match event {
            Event::PlanStarted { title, total } if self.terminal && *total > 1 => {
                let bar = ProgressBar::with_draw_target(
                    Some(*total as u64),
                    ProgressDrawTarget::stderr(),
                );
                if let Ok(style) =
                    ProgressStyle::with_template("{spinner} [{elapsed}] {pos}/{len} {wide_msg}")
                {
                    bar.set_style(style);
                }
                bar.set_message(title.to_string());
                bar.enable_steady_tick(Duration::from_millis(200));
                if let Ok(mut b) = self.bar.lock() {
                    *b = Some(bar);
                }
            }
            Event::StepStarted { text, .. } => self.with_bar(|b| b.set_message(text.to_string())),
            Event::PlanFinished { .. } => {
                if let Ok(mut b) = self.bar.lock() {
                    if let Some(bar) = b.take() {
                        bar.finish_and_clear();
                    }
                }
            }
            other => {
                if let Event::StepDone { .. } = other {
                    self.with_bar(|b| b.inc(1));
                }
                if let Some(line) = plain_line(other) {
                    self.line(&line);
                }
            }
        }
    }
}

/// Installs the process's reporter; `force_quiet` for commands whose user asked for
/// silence (`creds --silent`).
pub fn install(force_quiet: bool) {
    asiaq_engine::report::install(Arc::new(StderrReporter::new(
        force_quiet || quiet_from_env(),
    )));
}
