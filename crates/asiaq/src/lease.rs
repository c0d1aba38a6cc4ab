//! Which runs hold an environment's lease, and holding it around a command's AWS session:
//! acquire (or wait for it with `--wait-lock`), renew from a heartbeat, and release on every
//! way out (success, failure, Ctrl-C, SIGTERM). The lease itself is `asiaq_aws::lock`.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use asiaq_aws::lock::{self, Acquired, LeaseClient};
use asiaq_aws::{ApiCallStats, AwsContext, Identity};
use asiaq_config::ConfigDir;
use asiaq_core::lock::{parse_duration, renew_every, Holder, DEFAULT_LEASE};

use crate::cli::{Cli, Command, GlobalArgs};
use crate::commands::alarms::AlarmsCommand;
use crate::commands::aws::AwsCommand;
use crate::commands::elasticache::ElasticacheCommand;
use crate::commands::log_metrics::LogMetricsCommand;
use crate::commands::rds::RdsCommand;
use crate::commands::vpc::{Target, VpcCommand};
use crate::exit::CliError;

/// The environment a run leases: by name, or by VPC id (named by its `Name` tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Name(String),
    VpcId(String),
}

/// What the run asked for.
#[derive(Debug, Clone)]
pub struct Request {
    pub scope: Scope,
    pub ttl: Duration,
    pub wait: Option<Duration>,
    /// The command line, for whoever finds the environment leased.
    pub command: String,
}

static REQUEST: Mutex<Option<Request>> = Mutex::new(None);

fn target(t: &Target) -> Option<Scope> {
    t.name
        .clone()
        .map(Scope::Name)
        .or_else(|| t.vpc_id.clone().map(Scope::VpcId))
}

/// The environment of the configuration (`--env`, else `[disco_aws] default_environment`);
/// `None` when there is none, and the command then says so itself.
fn configured(global: &GlobalArgs) -> Option<Scope> {
    let aws = ConfigDir::new(&global.asiaq_config)
        .aws(global.env.as_deref())
        .ok()?;
    aws.require_environment()
        .ok()
        .map(|e| Scope::Name(e.to_string()))
}

/// The environment a command changes, if it is one that takes the lease: the commands that
/// change one environment, unless they only plan (`--dry-run`).
pub fn scope(cli: &Cli) -> Option<Scope> {
    let g = &cli.global;
    match &cli.command {
        Command::Vpc(v) => match v {
            VpcCommand::Create { name, dry_run, .. } if !dry_run => Some(Scope::Name(name.clone())),
            VpcCommand::Update { target: t, dry_run } if !dry_run => target(t),
            VpcCommand::Destroy {
                target: t, dry_run, ..
            } if !dry_run => target(t),
            VpcCommand::Peerings(p) if (p.create || p.delete) && !p.dry_run => p
                .name
                .clone()
                .map(Scope::Name)
                .or_else(|| p.vpc_id.clone().map(Scope::VpcId)),
            _ => None,
        },
        Command::Aws(group) => match &group.command {
            AwsCommand::Provision(_) => configured(g),
            AwsCommand::Terminate(a) | AwsCommand::Stop(a) if !a.dry_run => configured(g),
            AwsCommand::Spinup(a) | AwsCommand::Spindownandup(a) if !a.dry_run => configured(g),
            AwsCommand::Spindown(a) if !a.dry_run => configured(g),
            _ => None,
        },
        Command::Chaos(c) if !c.dry_run => configured(g),
        Command::Sandbox(a) if !a.dry_run => Some(Scope::Name(a.name.clone())),
        Command::Elasticache(c) => match c {
            ElasticacheCommand::Update { dry_run, .. }
            | ElasticacheCommand::Delete { dry_run, .. }
                if !dry_run =>
            {
                configured(g)
            }
            _ => None,
        },
        Command::Alarms(c) => match c {
            AlarmsCommand::UpdateNotifications { dry_run, .. }
            | AlarmsCommand::UpdateMetrics { dry_run, .. }
            | AlarmsCommand::Delete { dry_run, .. }
                if !dry_run =>
            {
                configured(g)
            }
            _ => None,
        },
        Command::LogMetrics(c) => match c {
            LogMetricsCommand::Update { dry_run, .. }
            | LogMetricsCommand::Delete { dry_run, .. }
                if !dry_run =>
            {
                configured(g)
            }
            _ => None,
        },
        Command::Rds(c) => match c {
            RdsCommand::Update { dry_run, .. }
            | RdsCommand::Delete { dry_run, .. }
            | RdsCommand::Clone { dry_run, .. }
                if !dry_run =>
            {
                configured(g)
            }
            _ => None,
        },
        _ => None,
    }
}

/// Records the lease the run is to hold (checked before any AWS call: a bad duration is a
/// usage error). `--no-lock` records none, with a warning.
pub fn prepare(cli: &Cli, command: String) -> Result<(), CliError> {
    let g = &cli.global;
    let ttl = match &g.lock_timeout {
        Some(t) => {
            parse_duration(t, true).map_err(|e| CliError::usage(format!("--lock-timeout {e}")))?
        }
        None => DEFAULT_LEASE,
    };
    let wait = match &g.wait_lock {
        Some(t) => Some(
            parse_duration(t, false).map_err(|e| CliError::usage(format!("--wait-lock {e}")))?,
        ),
        None => None,
    };
    let Some(scope) = scope(cli) else {
        return Ok(());
    };
    if g.no_lock {
        asiaq_engine::report::warn(
            "--no-lock: this run does not lease the environment; another run may change it at the same time",
        );
        return Ok(());
    }
    *REQUEST.lock().unwrap_or_else(|e| e.into_inner()) = Some(Request {
        scope,
        ttl,
        wait,
        command,
    });
    Ok(())
}

/// The recorded lease, taken once (the first AWS session of the run holds it).
pub fn take() -> Option<Request> {
    REQUEST.lock().unwrap_or_else(|e| e.into_inner()).take()
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn who() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".to_string());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown".to_string());
    format!("{user}@{host}:{}", std::process::id())
}

/// Runs `body` holding the lease of `request`. Returns the body's result and the lease's
/// own calls.
pub async fn hold<Fut>(
    ctx: &AwsContext,
    request: Request,
    body: Fut,
) -> (Result<(), CliError>, ApiCallStats)
where
    Fut: Future<Output = Result<(), CliError>>,
{
    let client = LeaseClient::new(ctx);
    let held = match acquire(ctx, &client, &request).await {
        Ok(h) => h,
        Err(e) => return (Err(e), client.stats()),
    };
    let stop = Arc::new(tokio::sync::Notify::new());
    let beat = tokio::spawn(lock::heartbeat(
        client.clone(),
        held.clone(),
        request.ttl,
        renew_every(request.ttl),
        ctx.lease_lost_flag(),
        stop.clone(),
        now,
    ));
    let record_arn = async {
        let recorded = match Identity::fetch(ctx).await {
            Ok(id) => lock::record_arn(&client, &held, &id.arn).await,
            Err(e) => Err(e),
        };
        if let Err(e) = recorded {
            asiaq_engine::report::warn(format!(
                "could not record who holds the lease of environment {} ({e})",
                held.environment
            ));
        }
    };
    let work = async {
        let (r, ()) = tokio::join!(body, record_arn);
        r
    };
    let result = tokio::select! {
        r = work => r,
        s = interrupted() => Err(CliError::failed(format!(
            "interrupted by {s}: the lease of environment {} is given back; run the command again to finish",
            held.environment
        ))),
    };
    stop.notify_one();
    let _ = beat.await;
    let lost = ctx.lease_lost_flag().load(Ordering::SeqCst);
    if let Err(e) = lock::release(&client, &held).await {
        asiaq_engine::report::warn(format!(
            "could not give back the lease of environment {} ({e}); it runs out by itself",
            held.environment
        ));
    }
    let result = match result {
        Err(e) if lost => Err(CliError::failed(format!(
            "the lease of environment {} was lost (broken or taken over) and the run stopped before its next change",
            held.environment
        ))
        .with_hint(format!("{e}: see `asiaq lock status {}`", held.environment))),
        r => r,
    };
    (result, client.stats())
}

/// Ctrl-C or SIGTERM, whichever comes first.
async fn interrupted() -> &'static str {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "Ctrl-C",
        _ = term => "SIGTERM",
    }
}

async fn acquire(
    ctx: &AwsContext,
    client: &LeaseClient,
    request: &Request,
) -> Result<Holder, CliError> {
    let environment = match &request.scope {
        Scope::Name(n) => n.clone(),
        Scope::VpcId(id) => match asiaq_aws::find_environment_by_vpc_id(ctx, id).await? {
            Some(env) => env.name.clone(),
            // The command says the VPC is missing itself; there is nothing to lease.
            None => id.clone(),
        },
    };
    // The caller's ARN is recorded once the lease is held, beside the command's first calls
    // (see `hold`): one round trip fewer before the work.
    let want = Holder {
        environment: environment.clone(),
        arn: String::new(),
        who: who(),
        command: request.command.clone(),
        started_at: 0,
        expires_at: 0,
        generation: 0,
    };
    let started = Instant::now();
    let mut said = Instant::now() - Duration::from_secs(3600);
    loop {
        match lock::try_acquire(client, want.clone(), request.ttl, now()).await? {
            Acquired::Held(h) => return Ok(h),
            Acquired::Busy(other) => {
                let message = other.busy_message(now());
                match request.wait {
                    Some(w) if started.elapsed() < w => {
                        if said.elapsed() >= Duration::from_secs(30) {
                            asiaq_engine::report::note(format!(
                                "waiting for the lease ({} of {} so far): {message}",
                                asiaq_core::lock::human(started.elapsed().as_secs() as i64),
                                asiaq_core::lock::human(w.as_secs() as i64)
                            ));
                            said = Instant::now();
                        }
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    Some(_) => {
                        return Err(CliError::failed(message).with_hint(
                            "waited as long as --wait-lock allows; try again later, or see `asiaq lock status`",
                        ))
                    }
                    None => {
                        return Err(CliError::failed(message).with_hint(format!(
                            "wait for it with --wait-lock DURATION; see `asiaq lock status {environment}`"
                        )))
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn scope_of(args: &[&str]) -> Option<Scope> {
        let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/sandbox");
        let mut argv = vec!["asiaq", "--asiaq-config", example];
        argv.extend_from_slice(args);
        scope(&Cli::try_parse_from(argv).unwrap())
    }

    fn name(n: &str) -> Option<Scope> {
        Some(Scope::Name(n.to_string()))
    }

    #[test]
    fn runs_that_change_one_environment_lease_it_and_plans_and_reads_do_not() {
        assert_eq!(
            scope_of(&["vpc", "create", "--name", "ci", "--type", "sandbox"]),
            name("ci")
        );
        assert_eq!(
            scope_of(&["vpc", "destroy", "--vpc-id", "vpc-1"]),
            Some(Scope::VpcId("vpc-1".into()))
        );
        assert_eq!(
            scope_of(&["vpc", "update", "--name", "ci", "--dry-run"]),
            None
        );
        assert_eq!(scope_of(&["vpc", "list"]), None);
        assert_eq!(
            scope_of(&["--env", "qa", "aws", "spinup", "--pipeline", "p.csv"]),
            name("qa")
        );
        // Without --env: the configuration's default environment.
        assert_eq!(
            scope_of(&["aws", "spindown", "--pipeline", "p.csv"]),
            name("demo")
        );
        assert_eq!(scope_of(&["aws", "listhosts"]), None);
        assert_eq!(
            scope_of(&["--env", "qa", "chaos", "--level", "10"]),
            name("qa")
        );
        assert_eq!(scope_of(&["sandbox", "mine"]), name("mine"));
        assert_eq!(scope_of(&["sandbox", "mine", "--dry-run"]), None);
        assert_eq!(scope_of(&["--env", "qa", "rds", "update"]), name("qa"));
        assert_eq!(scope_of(&["--env", "qa", "rds", "list"]), None);
        assert_eq!(
            scope_of(&["--env", "qa", "elasticache", "delete", "--cluster", "c"]),
            name("qa")
        );
        assert_eq!(
            scope_of(&[
                "--env",
                "qa",
                "alarms",
                "update_metrics",
                "--hostclass",
                "mhcweb"
            ]),
            name("qa")
        );
        assert_eq!(scope_of(&["--env", "qa", "alarms", "list"]), None);
        assert_eq!(
            scope_of(&[
                "--env",
                "qa",
                "log-metrics",
                "update",
                "--hostclass",
                "h",
                "--dry-run"
            ]),
            None
        );
        assert_eq!(scope_of(&["lock", "list"]), None);
    }
}
