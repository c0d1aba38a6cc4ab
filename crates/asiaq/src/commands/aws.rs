//! `asiaq aws` (disco_aws.py): provision, spinup, spindown, spindownandup, listhosts,
//! terminate, stop, exec, isready, tag, gethostclassoption, promoterunning.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use asiaq_aws::hosts::env::EnvironmentNetwork;
use asiaq_aws::hosts::instances::{self, Selector};
use asiaq_aws::hosts::now_unix;
use asiaq_aws::hosts::remote::{self, SshRoute};
use asiaq_aws::hosts::spinup::{self, SpindownPlan, SpinupOptions, SpinupReport};
use asiaq_aws::AwsContext;
use asiaq_config::hostclass as hc_config;
use asiaq_config::validate::load_pipeline;
use asiaq_core::ami::AmiFilter;
use asiaq_core::hosts::{exec_exit_code, listhosts_line, listhosts_order, Columns, HostInfo};
use asiaq_core::provision::{
    plan_hostclass, GroupAction, HostclassObservation, HostclassPlan, HostclassSettings,
    ProvisionRequest,
};
use asiaq_core::syntax::{self, is_truthy, SizeSpec};
use asiaq_engine::report as progress;
use clap::{Args, Subcommand};
use futures::stream::{self, StreamExt};
use serde::Serialize;

use super::aws_session;
use super::hosts_env::{self, HostsConfig};
use crate::cli::{GlobalArgs, OutputFormat, PendingGroup};
use crate::confirm::confirm;
use crate::exit::CliError;
use crate::output::emit;

/// Hostclasses provisioned at once within a sequence, by default.
pub const DEFAULT_MAX_PARALLEL: usize = 16;

#[derive(Debug, Subcommand)]
pub enum AwsCommand {
    /// Create or update the autoscaling group of one hostclass
    Provision(ProvisionArgs),
    /// List the instances of the environment
    Listhosts(ListhostsArgs),
    /// Terminate instances (and delete routes to them)
    Terminate(ActionArgs),
    /// Stop instances
    Stop(ActionArgs),
    /// Run a command on instances over ssh
    Exec(ExecArgs),
    /// Run an SSM document on instances (not built yet)
    #[command(name = "exec-ssm")]
    ExecSsm(PendingGroup),
    /// Say whether instances passed their smoke test
    Isready(IsreadyArgs),
    /// Set or remove a tag on instances
    Tag(TagArgs),
    /// Spin up every hostclass of a pipeline, sequence by sequence
    Spinup(SpinupArgs),
    /// Delete the groups, load balancers and target groups of a pipeline's hostclasses
    Spindown(SpindownArgs),
    /// Spin down every hostclass of the environment, then spin up a pipeline
    Spindownandup(SpinupArgs),
    /// Print a hostclass option as the environment sees it
    Gethostclassoption(GetOptionArgs),
    /// Share the final-stage AMIs of long-running instances with production accounts
    Promoterunning(PromoteArgs),
}

/// `--instance/--hostname/--hostclass/--ami/--asg`: one kind, repeatable.
#[derive(Debug, Clone, Args)]
#[group(id = "selector", required = true, multiple = false)]
pub struct Selectors {
    /// Instance id (repeatable)
    #[arg(long = "instance", value_name = "ID")]
    pub instance: Vec<String>,
    /// Hostname tag (repeatable)
    #[arg(long, value_name = "HOSTNAME")]
    pub hostname: Vec<String>,
    /// Hostclass (repeatable)
    #[arg(long, value_name = "HOSTCLASS", value_parser = crate::cli::hostclass_name)]
    pub hostclass: Vec<String>,
    /// AMI id (repeatable)
    #[arg(long, value_name = "AMI")]
    pub ami: Vec<String>,
    /// Autoscaling group name (repeatable)
    #[arg(long, value_name = "NAME")]
    pub asg: Vec<String>,
}

/// The same selectors for `isready`, where (as in the original) they are all optional and
/// add up: the instances of every one given, none when none is given.
#[derive(Debug, Clone, Args)]
pub struct CombinedSelectors {
    /// Instance id (repeatable)
    #[arg(long = "instance", value_name = "ID")]
    pub instance: Vec<String>,
    /// Hostname tag (repeatable)
    #[arg(long, value_name = "HOSTNAME")]
    pub hostname: Vec<String>,
    /// Hostclass (repeatable)
    #[arg(long, value_name = "HOSTCLASS", value_parser = crate::cli::hostclass_name)]
    pub hostclass: Vec<String>,
    /// AMI id (repeatable)
    #[arg(long, value_name = "AMI")]
    pub ami: Vec<String>,
    /// Autoscaling group name (repeatable)
    #[arg(long, value_name = "NAME")]
    pub asg: Vec<String>,
}

impl CombinedSelectors {
    /// One selector per kind given, in the original's order (instances, hostclasses, AMIs,
    /// groups, hostnames).
    pub fn selectors(&self) -> Vec<Selector> {
        [
            (
                Selector::Instance as fn(Vec<String>) -> Selector,
                &self.instance,
            ),
            (Selector::Hostclass, &self.hostclass),
            (Selector::Ami, &self.ami),
            (Selector::Asg, &self.asg),
            (Selector::Hostname, &self.hostname),
        ]
        .into_iter()
        .filter(|(_, values)| !values.is_empty())
        .map(|(kind, values)| kind(values.clone()))
        .collect()
    }
}

impl Selectors {
    pub fn selector(&self) -> Selector {
        if !self.instance.is_empty() {
            Selector::Instance(self.instance.clone())
        } else if !self.hostname.is_empty() {
            Selector::Hostname(self.hostname.clone())
        } else if !self.hostclass.is_empty() {
            Selector::Hostclass(self.hostclass.clone())
        } else if !self.ami.is_empty() {
            Selector::Ami(self.ami.clone())
        } else {
            assert!(!self.asg.is_empty(), "clap requires one selector");
            Selector::Asg(self.asg.clone())
        }
    }
}

#[derive(Debug, Args)]
pub struct ProvisionArgs {
    /// AMI to launch (default: the newest of the environment's ami_stage)
    #[arg(long)]
    pub ami: Option<String>,
    /// Hostclass (default: the AMI's)
    #[arg(long, value_parser = crate::cli::hostclass_name)]
    pub hostclass: Option<String>,
    /// On failure, keep what was created (for debugging) instead of removing it
    #[arg(long)]
    pub no_destroy: bool,
    #[arg(long, value_name = "TYPE")]
    pub instance_type: Option<String>,
    /// Grow the root volume by this many GB (deprecated in favour of --extra-disk)
    #[arg(long, value_name = "GB")]
    pub extra_space: Option<u32>,
    /// An extra EBS volume of this many GB
    #[arg(long, value_name = "GB")]
    pub extra_disk: Option<u32>,
    /// Provisioned IOPS of the extra volume
    #[arg(long)]
    pub iops: Option<u32>,
    #[arg(long)]
    pub no_smoke_test: bool,
    /// A number or a schedule N@cron:M@cron
    #[arg(long, value_name = "SIZE")]
    pub min_size: Option<String>,
    #[arg(long, value_name = "SIZE")]
    pub max_size: Option<String>,
    #[arg(long, value_name = "SIZE")]
    pub desired_size: Option<String>,
    /// A testing group (blue/green): is_testing=1, load balancer and CNAME with -test
    #[arg(long)]
    pub testing: bool,
    /// Opt the group out of chaos
    #[arg(long)]
    pub no_chaos: bool,
    /// Spotinst elastigroup (not supported: an autoscaling group is used)
    #[arg(long)]
    pub spotinst: bool,
    #[arg(long, value_name = "RESERVE")]
    pub spotinst_reserve: Option<String>,
    /// Print what would be done, change nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct ListhostsArgs {
    /// Only this hostclass
    #[arg(long, value_parser = crate::cli::hostclass_name)]
    pub hostclass: Option<String>,
    #[arg(long)]
    pub state: bool,
    /// y if the instance has a hostname tag
    #[arg(long = "hostname")]
    pub hostname: bool,
    #[arg(long)]
    pub owner: bool,
    #[arg(long)]
    pub productline: bool,
    #[arg(long)]
    pub instance_type: bool,
    #[arg(long)]
    pub private_ip: bool,
    #[arg(long)]
    pub ami: bool,
    /// y if the instance passed its smoke test
    #[arg(long)]
    pub smoke: bool,
    /// Hours since the AMI was made
    #[arg(long)]
    pub ami_age: bool,
    /// Hours since launch
    #[arg(long)]
    pub uptime: bool,
    #[arg(long)]
    pub securitygroup: bool,
    #[arg(long)]
    pub availability_zone: bool,
    /// state, hostname, owner, instance-type, ami, smoke, ami-age, uptime
    #[arg(long)]
    pub most: bool,
    /// every column
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct ActionArgs {
    #[command(flatten)]
    pub selectors: Selectors,
    /// Print the instances, change nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// The command to run
    #[arg(long)]
    pub command: String,
    /// The user to log in as
    #[arg(long)]
    pub user: String,
    /// Run on every instance at once (exit code: the largest); otherwise one after another
    /// (exit code: the last non-zero)
    #[arg(long)]
    pub concurrent: bool,
    #[command(flatten)]
    pub selectors: Selectors,
}

#[derive(Debug, Args)]
pub struct IsreadyArgs {
    #[command(flatten)]
    pub selectors: CombinedSelectors,
}

#[derive(Debug, Args)]
pub struct TagArgs {
    /// Instance id (repeatable)
    #[arg(long = "instance", value_name = "ID", required = true)]
    pub instance: Vec<String>,
    #[arg(long)]
    pub key: String,
    /// The new value; without it the tag is only removed
    #[arg(long)]
    pub value: Option<String>,
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct SpinupArgs {
    /// Pipeline CSV (relative to the current directory or the configuration directory)
    #[arg(long, value_name = "FILE")]
    pub pipeline: PathBuf,
    #[arg(long)]
    pub no_smoke_test: bool,
    /// AMI stage(s), best first (comma list); default the environment's ami_stage
    #[arg(long)]
    pub stage: Option<String>,
    #[arg(long)]
    pub testing: bool,
    /// Print the plan, change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Hostclasses provisioned at once within a sequence (1: one after another, as the
    /// original did)
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_PARALLEL)]
    pub max_parallel: usize,
    /// On failure, keep what was created for the failing hostclass
    #[arg(long)]
    pub no_destroy: bool,
}

#[derive(Debug, Args)]
pub struct SpindownArgs {
    #[arg(long, value_name = "FILE")]
    pub pipeline: PathBuf,
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_PARALLEL)]
    pub max_parallel: usize,
}

#[derive(Debug, Args)]
pub struct GetOptionArgs {
    #[arg(long, value_parser = crate::cli::hostclass_name)]
    pub hostclass: String,
    #[arg(long)]
    pub option: String,
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// Only AMIs whose youngest running instance is older than this
    #[arg(long, default_value_t = 3)]
    pub hours: u32,
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(global: &GlobalArgs, cmd: &AwsCommand) -> Result<(), CliError> {
    match cmd {
        AwsCommand::Provision(a) => provision_cmd(global, a),
        AwsCommand::Listhosts(a) => listhosts(global, a),
        AwsCommand::Terminate(a) => act(global, a, true),
        AwsCommand::Stop(a) => act(global, a, false),
        AwsCommand::Exec(a) => exec(global, a),
        AwsCommand::ExecSsm(_) => Err(CliError::usage("`asiaq aws exec-ssm` is not built yet")
            .with_hint("run commands over ssh with `asiaq aws exec`")),
        AwsCommand::Isready(a) => isready(global, a),
        AwsCommand::Tag(a) => tag(global, a),
        AwsCommand::Spinup(a) => spinup_cmd(global, a, false),
        AwsCommand::Spindown(a) => spindown_cmd(global, a),
        AwsCommand::Spindownandup(a) => spinup_cmd(global, a, true),
        AwsCommand::Gethostclassoption(a) => get_option(global, a),
        AwsCommand::Promoterunning(a) => promote_running(global, a),
    }
}

fn size(flag: &str, v: &Option<String>) -> Result<SizeSpec, CliError> {
    match v {
        None => Ok(SizeSpec::Unset),
        Some(t) => syntax::parse_size(t).map_err(|e| CliError::usage(format!("--{flag}: {e}"))),
    }
}

/// Asks for confirmation of a destructive command on a non-sandbox environment.
pub(crate) fn confirm_destructive(
    global: &GlobalArgs,
    network: &EnvironmentNetwork,
    what: &str,
) -> Result<(), CliError> {
    if network.env_type.as_deref() == Some("sandbox") {
        return Ok(());
    }
    confirm(
        global,
        &format!(
            "{what} in environment {} (type {})?",
            network.name,
            network.env_type.as_deref().unwrap_or("unknown")
        ),
    )
}

fn provision_cmd(global: &GlobalArgs, a: &ProvisionArgs) -> Result<(), CliError> {
    let cfg = HostsConfig::load(global)?;
    let min_size = size("min-size", &a.min_size)?;
    let desired_size = size("desired-size", &a.desired_size)?;
    let max_size = size("max-size", &a.max_size)?;
    let spotinst_reserve = a
        .spotinst_reserve
        .as_deref()
        .map(syntax::parse_spotinst_reserve)
        .transpose()
        .map_err(|e| CliError::usage(format!("--spotinst-reserve: {e}")))?;
    if a.hostclass.is_none() && a.ami.is_none() {
        return Err(CliError::usage("provision needs --hostclass or --ami"));
    }
    if let Some(hc) = &a.hostclass {
        cfg.settings(hc)?;
    }
    aws_session::run(global, |ctx| async move {
        let hostclass = match &a.hostclass {
            Some(hc) => hc.clone(),
            None => {
                let ami = a
                    .ami
                    .clone()
                    .ok_or_else(|| CliError::usage("provision needs --hostclass or --ami"))?;
                let imgs = asiaq_aws::images::describe_images(
                    &ctx,
                    &asiaq_aws::images::ImageQuery {
                        ids: vec![ami.clone()],
                        ..Default::default()
                    },
                )
                .await?;
                let img = imgs
                    .first()
                    .ok_or_else(|| CliError::failed(format!("AMI {ami} not found")))?;
                img.hostclass().to_string()
            }
        };
        let settings = cfg.settings(&hostclass)?;
        let request = ProvisionRequest {
            hostclass: hostclass.clone(),
            sequence: 1,
            ami: a.ami.clone(),
            instance_type: a.instance_type.clone(),
            extra_space: a.extra_space,
            extra_disk: a.extra_disk,
            iops: a.iops,
            smoke_test: !a.no_smoke_test,
            min_size: min_size.clone(),
            desired_size: desired_size.clone(),
            max_size: max_size.clone(),
            testing: a.testing,
            chaos: a.no_chaos.then_some(false),
            termination_policies: Vec::new(),
            spotinst: a.spotinst,
            spotinst_reserve,
            create_if_exists: false,
        };
        let run = SpinupRun {
            stage: None,
            origins: BTreeMap::new(),
            dry_run: a.dry_run,
            opts: SpinupOptions {
                no_smoke_test: a.no_smoke_test,
                max_parallel: 1,
                keep_on_failure: a.no_destroy,
            },
            spindown: None,
        };
        spinup_flow(global, &cfg, &ctx, vec![(request, settings)], &run).await
    })
}

struct SpinupRun {
    stage: Option<String>,
    /// The pipeline row (`file:line`) of each hostclass, for messages.
    origins: BTreeMap<String, String>,
    dry_run: bool,
    opts: SpinupOptions,
    /// The dry run of `spindownandup`: its spindown, printed with the spinup's plans.
    spindown: Option<SpindownPlan>,
}

fn spotinst_note(requests: &[(ProvisionRequest, HostclassSettings)]) {
    let spot: Vec<&str> = requests
        .iter()
        .filter(|(r, s)| r.spotinst || s.spotinst)
        .map(|(r, _)| r.hostclass.as_str())
        .collect();
    if !spot.is_empty() {
        progress::note(format!(
            "note: Spotinst elastigroups are not supported; {} get autoscaling groups{}",
            spot.join(", "),
            if std::env::var_os("SPOTINST_TOKEN").is_none() {
                " (as the original did without SPOTINST_TOKEN)"
            } else {
                ""
            }
        ));
    }
}

/// Observes, plans, and (unless dry-run) applies `requests`.
async fn spinup_flow(
    global: &GlobalArgs,
    cfg: &HostsConfig,
    ctx: &Arc<AwsContext>,
    requests: Vec<(ProvisionRequest, HostclassSettings)>,
    run: &SpinupRun,
) -> Result<(), CliError> {
    spotinst_note(&requests);
    let trusted = cfg.aws.list("bake", "trusted_account_ids");
    let reqs: Vec<ProvisionRequest> = requests.iter().map(|(r, _)| r.clone()).collect();
    let hostclasses: Vec<String> = reqs.iter().map(|r| r.hostclass.clone()).collect();
    let need_type: Vec<(String, bool)> = requests
        .iter()
        .map(|(r, s)| {
            (
                r.hostclass.clone(),
                r.instance_type.is_none() && s.instance_type.is_none(),
            )
        })
        .collect();
    // Every observation at once: none needs another's answer (the stages, which depend on
    // the environment's type, only choose among the images afterwards).
    let (network, candidates, mut existing, snaps) = futures::try_join!(
        hosts_env::environment(ctx, &cfg.env),
        async { Ok(spinup::candidate_images(ctx, &reqs, &trusted).await?) },
        async { Ok(spinup::existing_groups(ctx, &cfg.env, &need_type).await?) },
        async { Ok(spinup::latest_snapshots(ctx, &cfg.env, &hostclasses).await?) },
    )?;
    // A dry run of spindownandup plans the spinup as the real run meets it: after the
    // spindown, the spun-down hostclasses have no group to update.
    if let Some(down) = &run.spindown {
        existing.retain(|hc, _| !down.groups.iter().any(|g| &g.hostclass == hc));
    }
    let spec = cfg.vpc_spec(&network)?;
    let facts = hosts_env::environment_facts(cfg, &network, spec.as_ref(), ctx.region())?;
    let stages: Vec<String> = match &run.stage {
        Some(s) => AmiFilter::stage_list(s),
        None => spec
            .as_ref()
            .map(|s| s.ami_stages.clone())
            .unwrap_or_default(),
    };
    // Each hostclass's image, chosen alone so that a missing one names its pipeline row.
    let mut images = BTreeMap::new();
    let mut missing = Vec::new();
    for r in &reqs {
        match spinup::choose_images(std::slice::from_ref(r), &candidates, &stages) {
            Ok(found) => images.extend(found),
            Err(e) => missing.push(match run.origins.get(&r.hostclass) {
                Some(origin) => format!("{origin}: {e}"),
                None => e.to_string(),
            }),
        }
    }
    if !missing.is_empty() {
        return Err(CliError::failed(missing.join("\n")));
    }
    let now = now_unix() as u64;
    let mut plans = Vec::new();
    let mut errors = Vec::new();
    for (r, s) in &requests {
        let observed = HostclassObservation {
            ami: images.get(&r.hostclass).map(|i| i.facts.clone()),
            existing: existing.get(&r.hostclass).cloned(),
            snapshot: snaps.get(&r.hostclass).cloned(),
        };
        match plan_hostclass(r, s, &facts, &observed, now) {
            Ok(p) => plans.push(p),
            Err(e) => {
                let err = hosts_env::plan_error(e);
                errors.push(match run.origins.get(&r.hostclass) {
                    Some(origin) if err.status() == crate::exit::ExitStatus::Usage => {
                        CliError::usage(format!("{origin}: {err}"))
                    }
                    Some(origin) => CliError::failed(format!("{origin}: {err}")),
                    None => err,
                });
            }
        }
    }
    if !errors.is_empty() {
        let usage = errors
            .iter()
            .any(|e| e.status() == crate::exit::ExitStatus::Usage);
        let text = errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n");
        return Err(if usage {
            CliError::usage(text)
        } else {
            CliError::failed(text)
        });
    }
    for p in &plans {
        if !p.unknown_instance_types.is_empty() {
            tracing::warn!(
                "{}: instance type(s) {} not in the ephemeral-disk table; no ephemeral disks mapped",
                p.hostclass,
                p.unknown_instance_types.join(", ")
            );
        }
    }
    let certs = spinup::certificates(ctx, &plans).await?;
    if run.dry_run {
        // JSON: the one plan document; text keeps its detail (templates, volumes,
        // schedules, load balancers) under each group.
        if global.output == OutputFormat::Json {
            let up = asiaq_core::plan::hosts::spinup_plan(&plans);
            return match &run.spindown {
                Some(down) => crate::output::print_plan(
                    global,
                    "aws spindownandup",
                    &down.steps().then(up),
                    &[],
                    true,
                ),
                None => crate::output::print_plan(global, "aws spinup", &up, &[], true),
            };
        }
        return match &run.spindown {
            Some(down) => print_spindownandup(global.output, down, &plans),
            None => print_plans(global.output, &plans),
        };
    }
    let report = spinup::run(ctx, &plans, &network.vpc_id, &certs, &run.opts).await;
    print_report(global.output, &report)?;
    if report.ok() {
        Ok(())
    } else {
        Err(CliError::failed(format!(
            "spinup failed: {} up, {} failed{}",
            report.up.len(),
            report.failed.len(),
            if report.not_started.is_empty() {
                String::new()
            } else {
                format!(", not started: {}", report.not_started.join(", "))
            }
        )))
    }
}

fn print_plans(format: OutputFormat, plans: &[HostclassPlan]) -> Result<(), CliError> {
    emit(format, &plans, |out: &mut dyn Write| {
        write_plans(out, plans)
    })
}

/// The dry run of `spindownandup`: what goes, then what comes, as one result (one JSON
/// document with `--output json`).
fn print_spindownandup(
    format: OutputFormat,
    down: &SpindownPlan,
    up: &[HostclassPlan],
) -> Result<(), CliError> {
    #[derive(Serialize)]
    struct Both<'a> {
        spindown: &'a SpindownPlan,
        spinup: &'a [HostclassPlan],
    }
    let both = Both {
        spindown: down,
        spinup: up,
    };
    emit(format, &both, |out: &mut dyn Write| {
        write_spindown(out, down, true)?;
        write_plans(out, up)
    })
}

fn write_plans(out: &mut dyn Write, plans: &[HostclassPlan]) -> std::io::Result<()> {
    for p in plans {
        let what = match &p.action {
            GroupAction::Create { sizes } => format!(
                "create group {} (min {}, desired {}, max {})",
                p.group_name, sizes.min, sizes.desired, sizes.max
            ),
            GroupAction::Update { sizes, .. } => format!(
                "update group {} (min {}, desired {}, max {})",
                p.group_name,
                opt(sizes.min),
                opt(sizes.desired),
                opt(sizes.max)
            ),
        };
        writeln!(out, "sequence {} {}: {what}", p.sequence, p.hostclass)?;
        writeln!(
            out,
            "  launch template {}: {} ({}), {}, {} in {} subnet(s) of {}, public ip {}, key {}, profile {}",
            p.group_name,
            p.ami_id,
            p.ami_name,
            p.instance_type,
            if p.ebs_optimized { "EBS-optimized" } else { "not EBS-optimized" },
            p.subnet_ids.len(),
            p.meta_network,
            p.public_ip,
            p.key_name.as_deref().unwrap_or("none"),
            p.instance_profile.as_deref().unwrap_or("none"),
        )?;
        for d in &p.block_devices {
            match (&d.ebs, &d.virtual_name) {
                (Some(e), _) => writeln!(
                    out,
                    "  volume {}: {}{}{}{}",
                    d.device_name,
                    e.size_gb
                        .map_or("image size".to_string(), |s| format!("{s} GB")),
                    e.snapshot_id
                        .as_deref()
                        .map_or(String::new(), |s| format!(" from {s}")),
                    e.volume_type
                        .as_deref()
                        .map_or(String::new(), |t| format!(" {t}")),
                    e.iops.map_or(String::new(), |i| format!(" {i} iops")),
                )?,
                (None, Some(v)) => writeln!(out, "  volume {}: {v}", d.device_name)?,
                (None, None) => {}
            }
        }
        for a in &p.scheduled_actions {
            writeln!(
                out,
                "  schedule {}: min {}, desired {}, max {}",
                a.recurrence,
                opt(a.min),
                opt(a.desired),
                opt(a.max)
            )?;
        }
        if let Some(e) = &p.elb {
            writeln!(
                out,
                "  load balancer {} ({}), {}, listeners {}, health check {}{}",
                e.name,
                e.human_name,
                if e.internal {
                    "internal"
                } else {
                    "internet-facing"
                },
                e.listeners
                    .iter()
                    .map(|l| format!(
                        "{}:{}->{}:{}",
                        l.elb_protocol, l.elb_port, l.instance_protocol, l.instance_port
                    ))
                    .collect::<Vec<_>>()
                    .join(" "),
                e.health_check_target,
                e.cname
                    .as_deref()
                    .map_or(String::new(), |c| format!(", CNAME {c}")),
            )?;
        }
        if let Some(t) = &p.target_group {
            writeln!(out, "  target group {} {}:{}", t.name, t.protocol, t.port)?;
        }
        for (ip, subnet) in &p.floating_ips {
            writeln!(out, "  floating interface {ip} in {subnet}")?;
        }
        if p.smoke_test {
            writeln!(
                out,
                "  then wait for {} instance(s) to pass their smoke test",
                p.min_instances
            )?;
        }
    }
    Ok(())
}

fn opt(v: Option<u32>) -> String {
    v.map_or("-".to_string(), |n| n.to_string())
}

fn print_report(format: OutputFormat, report: &SpinupReport) -> Result<(), CliError> {
    emit(format, report, |out: &mut dyn Write| {
        for p in &report.up {
            writeln!(
                out,
                "{} {} {}",
                p.hostclass,
                p.group_name,
                if p.created { "created" } else { "updated" }
            )?;
        }
        for (hc, why) in &report.failed {
            writeln!(out, "{hc} FAILED: {why}")?;
        }
        for hc in &report.not_started {
            writeln!(out, "{hc} not started")?;
        }
        Ok(())
    })
}

/// Requests with their settings, and the pipeline row (`file:line`) of each hostclass.
type PipelineRequests = (
    Vec<(ProvisionRequest, HostclassSettings)>,
    BTreeMap<String, String>,
);

/// Pipeline rows → requests with their hostclass settings (every problem reported).
fn pipeline_requests(
    cfg: &HostsConfig,
    pipeline: &std::path::Path,
    testing: bool,
) -> Result<PipelineRequests, CliError> {
    let (p, warnings) = load_pipeline(&cfg.dir, &cfg.aws, pipeline)?;
    for w in &warnings {
        progress::warn(w.located());
    }
    let sequences = p.sequences()?;
    let origins = p
        .rows
        .iter()
        .map(|r| {
            (
                r.hostclass.clone(),
                format!("{}:{}", p.path.display(), r.line),
            )
        })
        .collect();
    let mut out = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    for (seq, rows) in sequences {
        for row in rows {
            match cfg.row_settings(&p.path, row) {
                Ok(settings) => out.push((
                    ProvisionRequest {
                        hostclass: row.hostclass.clone(),
                        sequence: seq,
                        ami: row.ami.clone(),
                        instance_type: row.instance_type.clone(),
                        extra_space: row.extra_space,
                        extra_disk: row.extra_disk,
                        iops: row.iops,
                        smoke_test: row.smoke_test,
                        min_size: row.min_size.clone(),
                        desired_size: row.desired_size.clone(),
                        max_size: row.max_size.clone(),
                        testing,
                        chaos: row.chaos.as_deref().map(is_truthy),
                        termination_policies: row.termination_policies.clone(),
                        spotinst: row.spotinst,
                        spotinst_reserve: row.spotinst_reserve,
                        create_if_exists: false,
                    },
                    settings,
                )),
                Err(e) => problems.push(e.to_string()),
            }
        }
    }
    if !problems.is_empty() {
        return Err(CliError::usage(problems.join("\n")));
    }
    Ok((out, origins))
}

fn spinup_cmd(global: &GlobalArgs, a: &SpinupArgs, spindown_first: bool) -> Result<(), CliError> {
    let cfg = HostsConfig::load(global)?;
    let (requests, origins) = pipeline_requests(&cfg, &a.pipeline, a.testing)?;
    aws_session::run(global, |ctx| async move {
        let mut planned_spindown = None;
        if spindown_first {
            // The pipeline's hostclasses only, as the original: groups of other hostclasses
            // in the environment are not the pipeline's to replace.
            let network = hosts_env::environment(&ctx, &cfg.env).await?;
            let hostclasses: Vec<String> = requests
                .iter()
                .map(|(r, _)| r.hostclass.clone())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let plan = spinup::spindown_plan(&ctx, &cfg.env, &hostclasses).await?;
            if a.dry_run {
                planned_spindown = Some(plan);
            } else {
                confirm_destructive(global, &network, "Spin down the pipeline's hostclasses")?;
                spinup::spindown(&ctx, &plan, a.max_parallel).await?;
            }
        }
        let run = SpinupRun {
            stage: a.stage.clone(),
            origins,
            dry_run: a.dry_run,
            opts: SpinupOptions {
                no_smoke_test: a.no_smoke_test,
                max_parallel: a.max_parallel,
                keep_on_failure: a.no_destroy,
            },
            spindown: planned_spindown,
        };
        spinup_flow(global, &cfg, &ctx, requests, &run).await
    })
}

fn print_spindown(
    format: OutputFormat,
    plan: &SpindownPlan,
    dry_run: bool,
) -> Result<(), CliError> {
    if dry_run && format == OutputFormat::Json {
        let doc = asiaq_core::plan::render::document("aws spindown", &plan.steps(), &[], true);
        return emit(format, &doc, |w| write!(w, "{}", doc.to_text()));
    }
    emit(format, plan, |out: &mut dyn Write| {
        write_spindown(out, plan, dry_run)
    })
}

fn write_spindown(out: &mut dyn Write, plan: &SpindownPlan, dry_run: bool) -> std::io::Result<()> {
    let verb = if dry_run { "would delete" } else { "deleted" };
    for g in &plan.groups {
        writeln!(
            out,
            "{verb} group {} ({} instances)",
            g.name,
            g.instances.len()
        )?;
    }
    for (hc, name, _) in &plan.load_balancers {
        writeln!(out, "{verb} load balancer {name} ({hc})")?;
    }
    for (hc, name, _) in &plan.target_groups {
        writeln!(out, "{verb} target group {name} ({hc})")?;
    }
    Ok(())
}

fn spindown_cmd(global: &GlobalArgs, a: &SpindownArgs) -> Result<(), CliError> {
    let cfg = HostsConfig::load(global)?;
    let (p, warnings) = load_pipeline(&cfg.dir, &cfg.aws, &a.pipeline)?;
    for w in &warnings {
        progress::warn(w.located());
    }
    let hostclasses: Vec<String> = p.rows.iter().map(|r| r.hostclass.clone()).collect();
    aws_session::run(global, |ctx| async move {
        let network = hosts_env::environment(&ctx, &cfg.env).await?;
        let plan = spinup::spindown_plan(&ctx, &cfg.env, &hostclasses).await?;
        if !a.dry_run {
            confirm_destructive(global, &network, "Spin down the pipeline's hostclasses")?;
            spinup::spindown(&ctx, &plan, a.max_parallel).await?;
        }
        print_spindown(global.output, &plan, a.dry_run)
    })
}

/// listhosts as JSON: the host plus the computed columns.
#[derive(Serialize)]
struct HostRow<'a> {
    #[serde(flatten)]
    host: &'a HostInfo,
    hostclass: Option<&'a str>,
    address: Option<&'a str>,
    ami_age_hours: Option<i64>,
    uptime_hours: Option<i64>,
    smoke_tested: bool,
}

fn listhosts(global: &GlobalArgs, a: &ListhostsArgs) -> Result<(), CliError> {
    let cfg = HostsConfig::load(global)?;
    let mut cols = Columns {
        state: a.state,
        hostname: a.hostname,
        owner: a.owner,
        productline: a.productline,
        instance_type: a.instance_type,
        private_ip: a.private_ip,
        ami: a.ami,
        smoke: a.smoke,
        ami_age: a.ami_age,
        uptime: a.uptime,
        securitygroup: a.securitygroup,
        availability_zone: a.availability_zone,
    };
    if a.most {
        cols = cols.with_most();
    }
    if a.all {
        cols = cols.with_all();
    }
    aws_session::run(global, |ctx| async move {
        let network = hosts_env::environment(&ctx, &cfg.env).await?;
        let selector = a.hostclass.clone().map(|h| Selector::Hostclass(vec![h]));
        let mut hosts = instances::describe(&ctx, &network.vpc_id, selector.as_ref()).await?;
        if cols.ami_age || global.output == OutputFormat::Json {
            instances::add_ami_ages(&ctx, &mut hosts).await?;
        }
        listhosts_order(&mut hosts);
        let now = now_unix();
        let rows: Vec<HostRow> = hosts
            .iter()
            .map(|h| HostRow {
                host: h,
                hostclass: h.hostclass(),
                address: h.address(),
                ami_age_hours: h
                    .ami_creation_time
                    .map(|t| asiaq_core::hosts::hours_between(now, t)),
                uptime_hours: h
                    .launch_time
                    .map(|t| asiaq_core::hosts::hours_between(now, t)),
                smoke_tested: h.is_smoke_tested(),
            })
            .collect();
        emit(global.output, &rows, |out: &mut dyn Write| {
            for h in &hosts {
                writeln!(out, "{}", listhosts_line(h, &cols, now))?;
            }
            Ok(())
        })
    })
}

fn act(global: &GlobalArgs, a: &ActionArgs, terminate: bool) -> Result<(), CliError> {
    let cfg = HostsConfig::load(global)?;
    let selector = a.selectors.selector();
    aws_session::run(global, |ctx| async move {
        let network = hosts_env::environment(&ctx, &cfg.env).await?;
        let hosts = instances::describe(&ctx, &network.vpc_id, Some(&selector)).await?;
        let ids: Vec<String> = hosts.iter().map(|h| h.id.clone()).collect();
        let verb = if terminate { "Terminated" } else { "Stopped" };
        if ids.is_empty() {
            progress::note("No instances found");
            return Ok(());
        }
        if a.dry_run {
            return emit(global.output, &ids, |out: &mut dyn Write| {
                writeln!(out, "Would be {}: {}", verb.to_lowercase(), ids.join(", "))
            });
        }
        confirm_destructive(
            global,
            &network,
            &format!(
                "{} {} instance(s)",
                if terminate { "Terminate" } else { "Stop" },
                ids.len()
            ),
        )?;
        if terminate {
            instances::terminate(&ctx, &network.vpc_id, &ids).await?;
        } else {
            instances::stop(&ctx, &ids).await?;
        }
        emit(global.output, &ids, |out: &mut dyn Write| {
            writeln!(out, "{verb}: {}", ids.join(", "))
        })
    })
}

/// The ssh client configuration file: `ASIAQ_SSH_CONFIG`, else `[disco_aws]
/// ssh_config_file` (relative to the configuration directory).
fn ssh_config_file(cfg: &HostsConfig) -> Option<PathBuf> {
    if let Some(p) =
        std::env::var_os(asiaq_core::env_vars::EnvVars::ASIAQ_SSH_CONFIG).filter(|p| !p.is_empty())
    {
        return Some(PathBuf::from(p));
    }
    cfg.aws
        .config("ssh_config_file", asiaq_config::aws_ini::DISCO_AWS)
        .map(|v| v.text.trim().to_string())
        .filter(|t| !t.is_empty())
        .map(|t| cfg.dir.path(t))
}

fn exec(global: &GlobalArgs, a: &ExecArgs) -> Result<(), CliError> {
    let cfg = HostsConfig::load(global)?;
    let selector = a.selectors.selector();
    aws_session::run(global, |ctx| async move {
        let network = hosts_env::environment(&ctx, &cfg.env).await?;
        let hosts = instances::describe(&ctx, &network.vpc_id, Some(&selector)).await?;
        let hosts: Vec<HostInfo> = hosts.into_iter().filter(|h| h.state == "running").collect();
        if hosts.is_empty() {
            return Err(CliError::failed("no running instances match"));
        }
        let proxy_command = hc_config::ssh_proxy_command(&cfg.aws);
        let jump_host = if proxy_command.is_none() {
            let all = instances::describe(&ctx, &network.vpc_id, None).await?;
            remote::jump_host_address(&all, &hc_config::jump_box_hostclasses(&cfg.aws))
                .map(|addr| format!("{}@{addr}", a.user))
        } else {
            None
        };
        let route = SshRoute {
            proxy_command,
            config_file: ssh_config_file(&cfg),
            jump_host,
        };
        let print = |r: &remote::RemoteResult| {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            let _ = out.write_all(&r.output);
            let _ = out.flush();
            progress::note(format!(
                "{} ({}): exit {}",
                r.instance_id, r.address, r.code
            ));
        };
        let mut codes = Vec::new();
        if a.concurrent {
            let results: Vec<std::io::Result<remote::RemoteResult>> = stream::iter(hosts.iter())
                .map(|h| remote::exec(&route, h, &a.user, &a.command))
                .buffer_unordered(32)
                .collect()
                .await;
            for r in results {
                let r = r.map_err(|e| CliError::failed(format!("cannot run ssh: {e}")))?;
                print(&r);
                codes.push(r.code);
            }
        } else {
            for h in &hosts {
                let r = remote::exec(&route, h, &a.user, &a.command)
                    .await
                    .map_err(|e| CliError::failed(format!("cannot run ssh: {e}")))?;
                print(&r);
                codes.push(r.code);
            }
        }
        let code = exec_exit_code(&codes, a.concurrent);
        if code == 0 {
            Ok(())
        } else {
            Err(CliError::remote(code.clamp(1, 255) as u8))
        }
    })
}

fn isready(global: &GlobalArgs, a: &IsreadyArgs) -> Result<(), CliError> {
    let cfg = HostsConfig::load(global)?;
    let selectors = a.selectors.selectors();
    aws_session::run(global, |ctx| async move {
        let network = hosts_env::environment(&ctx, &cfg.env).await?;
        let hosts = instances::describe_union(&ctx, &network.vpc_id, &selectors).await?;
        let ids: Vec<String> = hosts.iter().map(|h| h.id.clone()).collect();
        let statuses = instances::smoke_statuses(&ctx, &ids).await?;
        let ready = statuses
            .iter()
            .filter(|(_, s)| matches!(s, asiaq_core::hosts::SmokeStatus::Passed))
            .count();
        let rows: BTreeMap<&str, &asiaq_core::hosts::SmokeStatus> =
            statuses.iter().map(|(i, s)| (i.as_str(), s)).collect();
        emit(global.output, &rows, |out: &mut dyn Write| {
            if statuses.is_empty() {
                writeln!(out, "No instances found")?;
            }
            for (id, s) in &statuses {
                match s {
                    asiaq_core::hosts::SmokeStatus::Passed => writeln!(out, "...{id} is ready")?,
                    asiaq_core::hosts::SmokeStatus::Failed(_) => {
                        writeln!(out, "..{id} failed smoke test")?
                    }
                    asiaq_core::hosts::SmokeStatus::NotReady(_) => {
                        writeln!(out, "...{id} is NOT ready")?
                    }
                }
            }
            Ok(())
        })?;
        if ready < statuses.len() {
            Err(CliError::failed(format!(
                "{} of {} instances are not ready",
                statuses.len() - ready,
                statuses.len()
            )))
        } else {
            Ok(())
        }
    })
}

fn tag(global: &GlobalArgs, a: &TagArgs) -> Result<(), CliError> {
    aws_session::run(global, |ctx| async move {
        if a.dry_run {
            println!(
                "would remove tag {} from {}{}",
                a.key,
                a.instance.join(", "),
                a.value
                    .as_deref()
                    .map_or(String::new(), |v| format!(" and set it to {v:?}"))
            );
            return Ok(());
        }
        instances::retag(&ctx, &a.instance, &a.key, a.value.as_deref()).await?;
        Ok(())
    })
}

fn get_option(global: &GlobalArgs, a: &GetOptionArgs) -> Result<(), CliError> {
    let cfg = HostsConfig::load(global)?;
    match cfg.aws.hostclass_option(&a.hostclass, &a.option) {
        Some(v) => emit(global.output, &v.text, |out: &mut dyn Write| {
            writeln!(out, "{}", v.text)
        }),
        None => {
            let msg = format!(
                "Hostclass {} doesn't have option {}.",
                a.hostclass, a.option
            );
            emit(
                global.output,
                &Option::<String>::None,
                |out: &mut dyn Write| writeln!(out, "{msg}"),
            )
        }
    }
}

fn promote_running(global: &GlobalArgs, a: &PromoteArgs) -> Result<(), CliError> {
    let cfg = HostsConfig::load(global)?;
    let prod_accounts = cfg.aws.list("bake", "prod_account_ids");
    let final_stage = cfg.aws.ami_stages().last().cloned().unwrap_or_default();
    // Only images made by the production baker (`[bake] prod_baker`, tag `baker`) are
    // shared, as the example configuration documents.
    let prod_baker = cfg
        .aws
        .ini()
        .get("bake", "prod_baker")
        .map(|v| v.text.clone());
    aws_session::run(global, |ctx| async move {
        let network = hosts_env::environment(&ctx, &cfg.env).await?;
        let hosts = instances::describe(&ctx, &network.vpc_id, None).await?;
        let old = asiaq_core::hosts::long_running_amis(&hosts, now_unix(), a.hours);
        let mut promoted = Vec::new();
        if !old.is_empty() && !prod_accounts.is_empty() {
            let imgs = asiaq_aws::images::describe_images(
                &ctx,
                &asiaq_aws::images::ImageQuery {
                    ids: old,
                    ..Default::default()
                },
            )
            .await?;
            for img in imgs {
                if img.stage() != Some(final_stage.as_str())
                    || img.tag("baker") != prod_baker.as_deref()
                {
                    continue;
                }
                let shared = img
                    .tag("shared_with_account_ids")
                    .map(|s| s.split(',').map(str::to_string).collect::<Vec<_>>())
                    .unwrap_or_default();
                if prod_accounts.iter().all(|p| shared.contains(p)) {
                    continue;
                }
                if !a.dry_run {
                    instances::share_image(&ctx, &img.id, &prod_accounts).await?;
                }
                promoted.push(img.id.clone());
            }
        }
        emit(global.output, &promoted, |out: &mut dyn Write| {
            for id in &promoted {
                writeln!(
                    out,
                    "{} {id} to production",
                    if a.dry_run {
                        "would promote"
                    } else {
                        "promoted"
                    }
                )?;
            }
            Ok(())
        })
    })
}
