//! `asiaq-bench`: runs named scenarios with the real asiaq binary against moto behind the
//! emulation proxy (added latency, EC2 throttling) and prints one table.
//!
//! A binary rather than a `cargo bench` target: a scenario is a few end-to-end runs of another
//! program against two servers (moto, the proxy), chosen and parameterised from the command
//! line, not a statistical loop over an in-process function; and `cargo test` must never run
//! it.
//!
//! ```text
//! cargo build -p asiaq -p asiaq-bench
//! $CARGO_TARGET_DIR/debug/asiaq-bench doctor --latency-ms 0,50 --ec2-limit-scale 1,0.1
//! ```

mod bound;
mod runner;
mod scenario;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use crate::runner::{Budget, Condition, Runner};

/// Runs asiaq scenarios against moto behind asiaq-proxy and prints wall time, API calls,
/// throttles, retries and the critical-path lower bound of each.
#[derive(Debug, Parser)]
#[command(name = "asiaq-bench", version)]
struct Args {
    /// Scenarios to run (see --list)
    #[arg(value_name = "SCENARIO")]
    scenarios: Vec<String>,

    /// List the scenarios and exit
    #[arg(long)]
    list: bool,

    /// Added latency per request, a comma list to compare several
    #[arg(
        long,
        value_name = "MS,...",
        value_delimiter = ',',
        default_value = "50"
    )]
    latency_ms: Vec<u64>,

    /// Up to this much more latency per request, uniformly at random
    #[arg(long, value_name = "MS", default_value_t = 0)]
    jitter_ms: u64,

    /// EC2 limit scale of the proxy, a comma list to compare several (0: no EC2 throttling)
    #[arg(
        long,
        value_name = "FACTOR,...",
        value_delimiter = ',',
        default_value = "1"
    )]
    ec2_limit_scale: Vec<f64>,

    /// asiaq's EC2 budget (ASIAQ_EC2_BUDGET_SCALE): `match` (the proxy's scale), `off`, or
    /// a factor
    #[arg(long, value_name = "BUDGET", default_value = "match")]
    budget: Budget,

    /// Runs per scenario and condition; the table shows the run of median wall time
    #[arg(long, default_value_t = 1)]
    repeat: usize,

    /// The asiaq binary (default: next to this one)
    #[arg(long, value_name = "PATH")]
    asiaq: Option<PathBuf>,

    /// Keep each run's request log and summary here
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,

    /// Print the results as JSON instead of a table
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.list {
        for s in scenario::SCENARIOS {
            println!("{:<12} {}", s.name, s.summary);
            if let Some(note) = s.note {
                println!("{:<12} ({note})", "");
            }
        }
        return ExitCode::SUCCESS;
    }
    if args.scenarios.is_empty() {
        eprintln!("asiaq-bench: name at least one scenario (see --list)");
        return ExitCode::from(2);
    }
    let mut scenarios = Vec::new();
    for name in &args.scenarios {
        match scenario::find(name) {
            Some(s) => scenarios.push(s),
            None => {
                eprintln!("asiaq-bench: no scenario `{name}` (see --list)");
                return ExitCode::from(2);
            }
        }
    }
    let asiaq = match args.asiaq.clone().or_else(default_asiaq) {
        Some(path) if path.exists() => path,
        other => {
            eprintln!(
                "asiaq-bench: asiaq binary not found{}; build it (cargo build -p asiaq) or pass --asiaq",
                other.map(|p| format!(" at {}", p.display())).unwrap_or_default()
            );
            return ExitCode::from(2);
        }
    };
    let mut conditions = Vec::new();
    for &latency_ms in &args.latency_ms {
        for &scale in &args.ec2_limit_scale {
            if !(scale.is_finite() && scale >= 0.0) {
                eprintln!("asiaq-bench: --ec2-limit-scale must be >= 0, got {scale}");
                return ExitCode::from(2);
            }
            conditions.push(Condition {
                latency_ms,
                jitter_ms: args.jitter_ms,
                ec2_scale: (scale > 0.0).then_some(scale),
                budget: args.budget,
            });
        }
    }
    let runner = match Runner::new(asiaq, args.out.clone()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("asiaq-bench: {e:#}");
            return ExitCode::from(1);
        }
    };
    let mut rows = Vec::new();
    for scenario in &scenarios {
        for condition in &conditions {
            eprintln!("asiaq-bench: {} [{}]", scenario.name, condition.label());
            rows.push(runner.run(scenario, condition, args.repeat.max(1)));
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
    } else {
        print!("{}", runner::table(&rows));
    }
    if rows.iter().any(|r| r.status.is_failure()) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// `asiaq` in the same directory as this executable (both are built into one target dir).
fn default_asiaq() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.join("asiaq"))
}
