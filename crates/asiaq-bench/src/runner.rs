//! Runs one scenario under one condition: a fresh moto account, a proxy in front of moto, the
//! setup steps, the measured steps (timed, counted), the teardown steps.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use asiaq_proxy::{Proxy, ProxyConfig, Summary};
use asiaq_testkit::{AwsAccount, Moto};
use serde::Serialize;

use crate::bound::{lower_bound, ApiStats};
use crate::scenario::{expand, Scenario, Step};

/// asiaq's EC2 budget setting (see asiaq_aws::EC2_BUDGET_SCALE_ENV).
const BUDGET_ENV: &str = "ASIAQ_EC2_BUDGET_SCALE";
/// The file asiaq writes its per-operation call counts to.
const STATS_ENV: &str = "ASIAQ_API_STATS";

/// How asiaq's EC2 budget is set for a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Budget {
    /// The proxy's EC2 scale (the default budget when the proxy does not throttle EC2).
    Match,
    Off,
    Scale(f64),
}

impl FromStr for Budget {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "match" => Ok(Budget::Match),
            "off" | "0" => Ok(Budget::Off),
            _ => match s.parse::<f64>() {
                Ok(f) if f.is_finite() && f > 0.0 => Ok(Budget::Scale(f)),
                _ => Err(format!("`{s}`: expected match, off or a factor > 0")),
            },
        }
    }
}

/// The conditions of one run.
#[derive(Debug, Clone, Copy)]
pub struct Condition {
    pub latency_ms: u64,
    pub jitter_ms: u64,
    /// `None`: the proxy does not throttle EC2.
    pub ec2_scale: Option<f64>,
    pub budget: Budget,
}

impl Condition {
    fn budget_scale(&self) -> f64 {
        match self.budget {
            Budget::Match => self.ec2_scale.unwrap_or(1.0),
            Budget::Off => 0.0,
            Budget::Scale(f) => f,
        }
    }

    pub fn label(&self) -> String {
        let latency = if self.jitter_ms > 0 {
            format!(
                "+{}-{}ms",
                self.latency_ms,
                self.latency_ms + self.jitter_ms
            )
        } else {
            format!("+{}ms", self.latency_ms)
        };
        let limits = match self.ec2_scale {
            Some(s) => format!("ec2 x{s}"),
            None => "ec2 unthrottled".to_string(),
        };
        let scale = self.budget_scale();
        let budget = if scale > 0.0 {
            format!("budget x{scale}")
        } else {
            "budget off".to_string()
        };
        format!("{latency}, {limits}, {budget}")
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum Status {
    Ok,
    /// A command the scenario needs does not exist in this asiaq (not a failure).
    NotAvailable(String),
    SetupFailed(String),
    Failed(String),
}

impl Status {
    pub fn is_failure(&self) -> bool {
        matches!(self, Status::SetupFailed(_) | Status::Failed(_))
    }

    fn text(&self) -> String {
        match self {
            Status::Ok => "ok".into(),
            Status::NotAvailable(d) => format!("command not available: {d}"),
            Status::SetupFailed(d) => format!("setup failed: {d}"),
            Status::Failed(d) => format!("FAILED: {d}"),
        }
    }
}

/// One line of the table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub scenario: String,
    pub condition: String,
    pub status: Status,
    pub wall_ms: Option<f64>,
    /// Logical calls asiaq made (its ASIAQ_API_STATS).
    pub calls: Option<u64>,
    /// HTTP requests the proxy saw.
    pub requests: Option<u64>,
    pub throttled: Option<u64>,
    /// Attempts beyond the first, as asiaq counted them.
    pub retries: Option<u64>,
    pub critical_path_ms: f64,
    pub rate_bound_ms: Option<f64>,
    pub bound_ms: Option<f64>,
    /// wall / bound.
    pub ratio: Option<f64>,
    pub runs: usize,
}

struct Measurement {
    wall: Duration,
    stats: ApiStats,
    proxy: Summary,
}

pub struct Runner {
    asiaq: PathBuf,
    out: Option<PathBuf>,
    moto: &'static Moto,
    config_dir: PathBuf,
    scratch: tempfile::TempDir,
}

impl Runner {
    pub fn new(asiaq: PathBuf, out: Option<PathBuf>) -> anyhow::Result<Self> {
        if let Some(dir) = &out {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let runner = Self {
            asiaq,
            out,
            moto: Moto::shared(),
            config_dir: asiaq_testkit::examples_dir().join("sandbox"),
            scratch: tempfile::tempdir().context("creating a scratch directory")?,
        };
        runner.warm_up();
        Ok(runner)
    }

    /// moto loads each service's code on its first request (seconds for the first EC2
    /// call); one unmeasured `asiaq doctor` touches every service so that no measured run
    /// pays for it.
    fn warm_up(&self) {
        let account = self.moto.new_account();
        let mut command = Command::new(&self.asiaq);
        account.configure(&mut command);
        let ok = command
            .arg("doctor")
            .stdin(Stdio::null())
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            eprintln!("asiaq-bench: warning: the warm-up `asiaq doctor` against moto failed");
        }
    }

    pub fn run(&self, scenario: &Scenario, condition: &Condition, repeat: usize) -> Row {
        let latency = Duration::from_millis(condition.latency_ms);
        let mut row = Row {
            scenario: scenario.name.to_string(),
            condition: condition.label(),
            status: Status::Ok,
            wall_ms: None,
            calls: None,
            requests: None,
            throttled: None,
            retries: None,
            critical_path_ms: ms(latency * scenario.critical_path.len() as u32),
            rate_bound_ms: None,
            bound_ms: None,
            ratio: None,
            runs: 0,
        };
        if let Err(missing) = self.check_available(scenario) {
            row.status = Status::NotAvailable(missing);
            return row;
        }
        let mut measurements = Vec::new();
        for run in 0..repeat {
            match self.run_once(scenario, condition, run) {
                Ok(m) => measurements.push(m),
                Err(status) => {
                    row.status = status;
                    return row;
                }
            }
        }
        measurements.sort_by_key(|m| m.wall);
        let m = &measurements[measurements.len() / 2];
        let bound = lower_bound(
            scenario.critical_path.len(),
            latency,
            &m.stats,
            condition.ec2_scale,
        );
        row.runs = measurements.len();
        row.wall_ms = Some(ms(m.wall));
        row.calls = Some(m.stats.calls());
        row.requests = Some(m.proxy.requests);
        row.throttled = Some(m.proxy.throttled);
        row.retries = Some(m.stats.retries());
        row.rate_bound_ms = Some(ms(bound.rate));
        row.bound_ms = Some(ms(bound.total()));
        row.ratio =
            (!bound.total().is_zero()).then(|| m.wall.as_secs_f64() / bound.total().as_secs_f64());
        if m.stats.failures() > 0 {
            row.status =
                Status::Failed(format!("{} calls failed after retries", m.stats.failures()));
        }
        row
    }

    /// `asiaq GROUP COMMAND --help` exits 0 for every required command.
    fn check_available(&self, scenario: &Scenario) -> Result<(), String> {
        for command in scenario.requires {
            let output = Command::new(&self.asiaq)
                .args(*command)
                .arg("--help")
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("cannot run {}: {e}", self.asiaq.display()))?;
            if !output.status.success() {
                return Err(format!(
                    "asiaq {} ({})",
                    command.join(" "),
                    first_line(&output.stderr)
                ));
            }
        }
        Ok(())
    }

    fn run_once(
        &self,
        scenario: &Scenario,
        condition: &Condition,
        run: usize,
    ) -> Result<Measurement, Status> {
        let account = self.moto.new_account();
        let file_stem = format!(
            "{}-{}ms-x{}-{run}",
            scenario.name,
            condition.latency_ms,
            condition.ec2_scale.unwrap_or(0.0)
        );
        let mut config = ProxyConfig::new(self.moto.endpoint());
        config.latency_ms = condition.latency_ms;
        config.jitter_ms = condition.jitter_ms;
        config.ec2_throttling = condition.ec2_scale.is_some();
        config.ec2_limit_scale = condition.ec2_scale.unwrap_or(1.0);
        config.seed = Some(run as u64);
        if let Some(dir) = &self.out {
            config.log = Some(dir.join(format!("{file_stem}.jsonl")));
            config.summary = Some(dir.join(format!("{file_stem}.summary.json")));
        }
        let proxy = Proxy::start(config).map_err(|e| Status::SetupFailed(e.to_string()))?;
        let ctx = StepContext {
            account: &account,
            proxy: &proxy,
            condition,
            env: scenario.env,
        };

        let mut amis = Vec::new();
        for step in scenario.setup {
            self.step(&ctx, step, &mut amis)
                .map_err(|e| Status::SetupFailed(format!("{e:#}")))?;
        }
        proxy.reset();
        let started = Instant::now();
        let mut stats = ApiStats::default();
        let mut failure = None;
        for step in scenario.measured {
            match self.step(&ctx, step, &mut amis) {
                Ok(s) => stats.add(&s),
                Err(e) => {
                    failure = Some(format!("{e:#}"));
                    break;
                }
            }
        }
        let wall = started.elapsed();
        let summary = proxy.summary();
        for step in scenario.teardown {
            if let Err(e) = self.step(&ctx, step, &mut amis) {
                eprintln!("asiaq-bench: warning: teardown of {}: {e:#}", scenario.name);
            }
        }
        drop(proxy);
        match failure {
            Some(f) => Err(Status::Failed(f)),
            None => Ok(Measurement {
                wall,
                stats,
                proxy: summary,
            }),
        }
    }

    /// Runs one step; an asiaq step returns the calls it made.
    fn step(
        &self,
        ctx: &StepContext<'_>,
        step: &Step,
        amis: &mut Vec<(String, String)>,
    ) -> anyhow::Result<ApiStats> {
        match step {
            Step::Asiaq(args) => self.asiaq(ctx, args, amis),
            Step::RegisterAmis { hostclasses, stage } => {
                amis.extend(register_amis(ctx.account, hostclasses, stage)?);
                Ok(ApiStats::default())
            }
        }
    }

    fn asiaq(
        &self,
        ctx: &StepContext<'_>,
        args: &[&str],
        amis: &[(String, String)],
    ) -> anyhow::Result<ApiStats> {
        let config = self.config_dir.to_string_lossy();
        let args: Vec<String> = args
            .iter()
            .map(|a| expand(a, &config, ctx.env, amis))
            .collect();
        let stats_file = self.scratch.path().join("api-stats.json");
        let _ = std::fs::remove_file(&stats_file);
        let mut command = Command::new(&self.asiaq);
        ctx.account.configure(&mut command);
        command
            .env("AWS_ENDPOINT_URL", ctx.proxy.endpoint())
            // Production retry behaviour, not the test fixture's short one.
            .env_remove("ASIAQ_MAX_ATTEMPTS")
            .env(BUDGET_ENV, ctx.condition.budget_scale().to_string())
            .env(STATS_ENV, &stats_file)
            .args(&args)
            .stdin(Stdio::null());
        let output = command
            .output()
            .with_context(|| format!("running {}", self.asiaq.display()))?;
        if !output.status.success() {
            anyhow::bail!(
                "asiaq {} exited with {}: {}",
                args.join(" "),
                output.status.code().unwrap_or(-1),
                first_line(&output.stderr)
            );
        }
        read_stats(&stats_file)
    }
}

struct StepContext<'a> {
    account: &'a AwsAccount,
    proxy: &'a Proxy,
    condition: &'a Condition,
    env: &'a str,
}

fn read_stats(path: &Path) -> anyhow::Result<ApiStats> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("asiaq wrote no call counts to {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))
}

/// Registers one image per hostclass directly in moto (setup, not measured).
fn register_amis(
    account: &AwsAccount,
    hostclasses: &[&str],
    stage: &str,
) -> anyhow::Result<Vec<(String, String)>> {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&account.sdk_config().await);
        let mut amis = Vec::new();
        for hostclass in hostclasses {
            let tag = |k: &str, v: &str| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build();
            let image = ec2
                .register_image()
                .name(format!("{hostclass} {seconds}"))
                .root_device_name("/dev/sda1")
                .architecture(aws_sdk_ec2::types::ArchitectureValues::X8664)
                .virtualization_type("hvm")
                .send()
                .await
                .with_context(|| format!("registering an image for {hostclass}"))?
                .image_id
                .context("RegisterImage returned no image id")?;
            ec2.create_tags()
                .resources(&image)
                .tags(tag("hostclass", hostclass))
                .tags(tag("stage", stage))
                .send()
                .await
                .with_context(|| format!("tagging {image}"))?;
            amis.push((hostclass.to_string(), image));
        }
        Ok(amis)
    })
}

/// The line that says why asiaq failed: its `error:` line (progress lines come first on
/// stderr), else the first line there is.
fn first_line(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.clone().next();
    lines
        .find(|l| l.starts_with("error:"))
        .or(first)
        .unwrap_or("no message")
        .to_string()
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e4).round() / 10.0
}

/// The results as an aligned text table.
pub fn table(rows: &[Row]) -> String {
    let header = [
        "scenario",
        "condition",
        "wall",
        "calls",
        "requests",
        "throttled",
        "retries",
        "bound",
        "ratio",
        "status",
    ];
    let opt = |v: Option<u64>| v.map(|n| n.to_string()).unwrap_or_else(|| "-".into());
    let time = |v: Option<f64>| match v {
        Some(ms) if ms >= 10_000.0 => format!("{:.1} s", ms / 1000.0),
        Some(ms) => format!("{ms:.0} ms"),
        None => "-".into(),
    };
    let mut lines: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    for r in rows {
        let bound = match (r.bound_ms, r.rate_bound_ms) {
            (Some(b), Some(rate)) if rate > r.critical_path_ms => {
                format!("{} (rate)", time(Some(b)))
            }
            (Some(b), _) => time(Some(b)),
            (None, _) => format!("{} (path)", time(Some(r.critical_path_ms))),
        };
        lines.push(vec![
            r.scenario.clone(),
            r.condition.clone(),
            time(r.wall_ms),
            opt(r.calls),
            opt(r.requests),
            opt(r.throttled),
            opt(r.retries),
            bound,
            r.ratio
                .map(|x| format!("{x:.1}x"))
                .unwrap_or_else(|| "-".into()),
            r.status.text(),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            lines
                .iter()
                .map(|l| l[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in lines {
        let cells: Vec<String> = line
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                if i == header.len() - 1 {
                    cell.clone()
                } else {
                    format!("{cell:<w$}", w = widths[i])
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_settings_parse_and_match_the_proxy() {
        assert_eq!("match".parse::<Budget>(), Ok(Budget::Match));
        assert_eq!("off".parse::<Budget>(), Ok(Budget::Off));
        assert_eq!("0.5".parse::<Budget>(), Ok(Budget::Scale(0.5)));
        assert!("-1".parse::<Budget>().is_err());
        let c = Condition {
            latency_ms: 50,
            jitter_ms: 0,
            ec2_scale: Some(0.1),
            budget: Budget::Match,
        };
        assert_eq!(c.budget_scale(), 0.1);
        assert_eq!(c.label(), "+50ms, ec2 x0.1, budget x0.1");
        let c = Condition {
            ec2_scale: None,
            budget: Budget::Off,
            ..c
        };
        assert_eq!(c.label(), "+50ms, ec2 unthrottled, budget off");
    }

    #[test]
    fn the_table_shows_unavailable_scenarios_without_numbers() {
        let row = Row {
            scenario: "vpc-create".into(),
            condition: "+50ms".into(),
            status: Status::NotAvailable("asiaq vpc create (not built yet)".into()),
            wall_ms: None,
            calls: None,
            requests: None,
            throttled: None,
            retries: None,
            critical_path_ms: 300.0,
            rate_bound_ms: None,
            bound_ms: None,
            ratio: None,
            runs: 0,
        };
        let text = table(&[row]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("scenario"));
        assert!(lines[1].contains("300 ms (path)"));
        assert!(lines[1].ends_with("command not available: asiaq vpc create (not built yet)"));
    }
}
