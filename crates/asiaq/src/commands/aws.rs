//! `asiaq aws` (disco_aws.py): provision, spinup, spindown, spindownandup, listhosts,
//! terminate, stop, exec, isready, tag, gethostclassoption, promoterunning.

use std::io::Write;
use std::path::PathBuf;

use asiaq_aws::hosts::env::EnvironmentNetwork;
use asiaq_aws::hosts::instances::{self, Promotion, Selector};
use asiaq_aws::hosts::now_unix;
use asiaq_aws::hosts::remote;
use asiaq_aws::hosts::spinup::{self, SpinupOptions, SpinupOutcome, SpinupRun};
use asiaq_aws::AwsContext;
use asiaq_config::hostclass as hc_config;
use asiaq_core::hosts::{exec_exit_status, not_ready, text, Columns};
use asiaq_core::printout::Printout;
use asiaq_core::provision::ProvisionRequest;
use asiaq_core::spinup::SpinupRequests;
use asiaq_core::syntax::{self, SizeSpec};
use asiaq_engine::report as progress;
use clap::{ArgGroup, Args, Subcommand};

use super::aws_session;
use super::hosts_env::{self, HostsConfig};
use crate::cli::{GlobalArgs, OutputFormat};
use crate::confirm::confirm;
use crate::exit::CliError;
use crate::output::{emit, print, print_dry_run, write_lines};

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
    /// Run an SSM document on instances (Run Command) and print each instance's output
    #[command(name = "exec-ssm")]
    ExecSsm(ExecSsmArgs),
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

/// `--instance/--hostname/--hostclass/--ami/--asg`, each repeatable. The commands that act
/// on instances take exactly one kind ([`SELECTOR`]); `isready`, as in the original, takes
/// any, and they add up: the instances of every one given, none when none is given.
#[derive(Debug, Clone, Args)]
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

/// The selector arguments, as the group of which a command requires exactly one.
const SELECTOR: [&str; 5] = ["instance", "hostname", "hostclass", "ami", "asg"];

impl Selectors {
    /// One selector per kind given, in the original's order (instances, hostclasses, AMIs,
    /// groups, hostnames).
    pub fn selectors(&self) -> Vec<Selector> {
        let (i, hc, ami) = (&self.instance, &self.hostclass, &self.ami);
        instances::selectors(i, hc, ami, &self.asg, &self.hostname)
    }

    /// The one kind given (clap requires exactly one where this is used).
    pub fn selector(&self) -> Selector {
        let first = self.selectors().into_iter().next();
        first.unwrap_or_else(|| Selector::Asg(self.asg.clone()))
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
#[command(group(ArgGroup::new("selector").required(true).args(SELECTOR)))]
pub struct ActionArgs {
    #[command(flatten)]
    pub selectors: Selectors,
    /// Print the instances, change nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("selector").required(true).args(SELECTOR)))]
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
#[command(group(ArgGroup::new("selector").required(true).args(SELECTOR)))]
pub struct ExecSsmArgs {
    /// The SSM document to run: the account's own, or one of AWS's (AWS-RunShellScript, ...)
    #[arg(long)]
    pub document: String,
    /// A parameter the document declares, KEY=VALUE (repeatable; a key given again adds a
    /// value to a StringList)
    #[arg(long = "parameters", value_name = "KEY=VALUE")]
    pub parameters: Vec<String>,
    /// A comment shown with the command in SSM (100 characters at most)
    #[arg(long)]
    pub comment: Option<String>,
    /// How many instances run the command at once: a number or a percentage (SendCommand's
    /// MaxConcurrency; applies to each batch of 50 instances)
    #[arg(long, value_name = "N|N%")]
    pub max_concurrency: Option<String>,
    /// How many errors stop the command: a number or a percentage (SendCommand's MaxErrors;
    /// applies to each batch of 50 instances)
    #[arg(long, value_name = "N|N%")]
    pub max_errors: Option<String>,
    #[command(flatten)]
    pub selectors: Selectors,
}

#[derive(Debug, Args)]
pub struct IsreadyArgs {
    #[command(flatten)]
    pub selectors: Selectors,
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
        AwsCommand::ExecSsm(a) => exec_ssm(global, a),
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
    let (name, env_type) = (&network.name, network.env_type.as_deref());
    text::destructive_question(name, env_type, what).map_or(Ok(()), |q| confirm(global, &q))
}

impl ProvisionArgs {
    /// The request the flags make (the hostclass filled in later when only --ami is given).
    fn request(&self) -> Result<ProvisionRequest, CliError> {
        let spotinst_reserve = self.spotinst_reserve.as_deref();
        Ok(ProvisionRequest {
            hostclass: self.hostclass.clone().unwrap_or_default(),
            sequence: 1,
            ami: self.ami.clone(),
            instance_type: self.instance_type.clone(),
            extra_space: self.extra_space,
            extra_disk: self.extra_disk,
            iops: self.iops,
            smoke_test: !self.no_smoke_test,
            min_size: size("min-size", &self.min_size)?,
            desired_size: size("desired-size", &self.desired_size)?,
            max_size: size("max-size", &self.max_size)?,
            testing: self.testing,
            chaos: self.no_chaos.then_some(false),
            spotinst: self.spotinst,
            spotinst_reserve: spotinst_reserve
                .map(syntax::parse_spotinst_reserve)
                .transpose()
                .map_err(|e| CliError::usage(format!("--spotinst-reserve: {e}")))?,
            ..ProvisionRequest::default()
        })
    }
}

fn provision_cmd(global: &GlobalArgs, a: &ProvisionArgs) -> Result<(), CliError> {
    let cfg = hosts_env::load(global)?;
    let mut request = a.request()?;
    if a.hostclass.is_none() && a.ami.is_none() {
        return Err(CliError::usage("provision needs --hostclass or --ami"));
    }
    if let Some(hc) = &a.hostclass {
        cfg.settings(hc)?;
    }
    aws_session::run(global, |ctx| async move {
        if let (None, Some(ami)) = (&a.hostclass, &a.ami) {
            request.hostclass = spinup::hostclass_of_image(&ctx, ami).await?;
        }
        let settings = cfg.settings(&request.hostclass)?;
        let run = SpinupRun {
            dry_run: a.dry_run,
            opts: SpinupOptions {
                no_smoke_test: a.no_smoke_test,
                max_parallel: 1,
                keep_on_failure: a.no_destroy,
            },
            spindown: None,
        };
        let requests = SpinupRequests::one(request, settings);
        spinup_flow(global, &cfg, &ctx, &requests, run, None).await
    })
}

/// Observes and plans `requests`, then prints the plan (dry run) or applies it and prints
/// what happened ([`spinup::spinup_flow`]).
async fn spinup_flow(
    global: &GlobalArgs,
    cfg: &HostsConfig,
    ctx: &AwsContext,
    requests: &SpinupRequests,
    run: SpinupRun,
    stage: Option<&str>,
) -> Result<(), CliError> {
    let trusted = cfg.aws.list("bake", "trusted_account_ids");
    let configure = |network: &EnvironmentNetwork| {
        hosts_env::environment_settings(cfg, network, ctx.region(), stage)
    };
    match spinup::spinup_flow(ctx, &cfg.env, requests, &trusted, run, configure).await? {
        SpinupOutcome::Planned { prepared, spindown } => {
            let (command, steps) = prepared.dry_run_plan(spindown.as_ref());
            let lines = prepared.dry_run_lines(spindown.as_ref());
            print_dry_run(global, command, &steps, lines)
        }
        SpinupOutcome::Applied(report) => {
            print(global, Printout::new(&report, report.lines()))?;
            let failure = report.failure();
            failure.map_or(Ok(()), |f| Err(CliError::failed(f)))
        }
    }
}

fn spinup_cmd(global: &GlobalArgs, a: &SpinupArgs, spindown_first: bool) -> Result<(), CliError> {
    let cfg = hosts_env::load(global)?;
    let requests = hosts_env::warned(cfg.pipeline_requests(&a.pipeline, a.testing)?);
    aws_session::run(global, |ctx| async move {
        let mut planned_spindown = None;
        if spindown_first {
            // The pipeline's hostclasses only, as the original: groups of other hostclasses
            // in the environment are not the pipeline's to replace.
            let (network, plan) =
                spinup::observe_spindown(&ctx, &cfg.env, &requests.hostclasses()).await?;
            if a.dry_run {
                planned_spindown = Some(plan);
            } else {
                confirm_destructive(global, &network, "Spin down the pipeline's hostclasses")?;
                spinup::spindown(&ctx, &plan, a.max_parallel).await?;
            }
        }
        let run = SpinupRun {
            dry_run: a.dry_run,
            opts: SpinupOptions {
                no_smoke_test: a.no_smoke_test,
                max_parallel: a.max_parallel,
                keep_on_failure: a.no_destroy,
            },
            spindown: planned_spindown,
        };
        spinup_flow(global, &cfg, &ctx, &requests, run, a.stage.as_deref()).await
    })
}

fn spindown_cmd(global: &GlobalArgs, a: &SpindownArgs) -> Result<(), CliError> {
    let cfg = hosts_env::load(global)?;
    let pipeline = hosts_env::warned(cfg.pipeline(&a.pipeline)?);
    let hostclasses: Vec<String> = pipeline.rows.iter().map(|r| r.hostclass.clone()).collect();
    aws_session::run(global, |ctx| async move {
        let (network, plan) = spinup::observe_spindown(&ctx, &cfg.env, &hostclasses).await?;
        if !a.dry_run {
            confirm_destructive(global, &network, "Spin down the pipeline's hostclasses")?;
            spinup::spindown(&ctx, &plan, a.max_parallel).await?;
        }
        let lines = plan.printed_lines(a.dry_run);
        match a.dry_run {
            true => print_dry_run(global, "aws spindown", &plan.steps(), lines),
            false => print(global, Printout::new(&plan, lines)),
        }
    })
}

fn listhosts(global: &GlobalArgs, a: &ListhostsArgs) -> Result<(), CliError> {
    let cfg = hosts_env::load(global)?;
    let cols = Columns {
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
    }
    .chosen(a.most, a.all);
    aws_session::run(global, |ctx| async move {
        let ages = cols.ami_age || global.output == OutputFormat::Json;
        let hosts = instances::listhosts(&ctx, &cfg.env, a.hostclass.as_deref(), ages).await?;
        print(global, text::listhosts(&hosts, &cols, now_unix()))
    })
}

fn act(global: &GlobalArgs, a: &ActionArgs, terminate: bool) -> Result<(), CliError> {
    let cfg = hosts_env::load(global)?;
    let selector = a.selectors.selector();
    aws_session::run(global, |ctx| async move {
        let (network, hosts) = instances::select(&ctx, &cfg.env, Some(&selector)).await?;
        let ids: Vec<String> = hosts.into_iter().map(|h| h.id).collect();
        if ids.is_empty() {
            progress::note("No instances found");
            return Ok(());
        }
        if !a.dry_run {
            let what = text::act_what(terminate, ids.len());
            confirm_destructive(global, &network, &what)?;
            instances::terminate_or_stop(&ctx, &network.vpc_id, &ids, terminate).await?;
        }
        print(global, text::acted_on(&ids, terminate, a.dry_run))
    })
}

fn exec(global: &GlobalArgs, a: &ExecArgs) -> Result<(), CliError> {
    let cfg = hosts_env::load(global)?;
    let selector = a.selectors.selector();
    let ssh_env = std::env::var_os(asiaq_core::env_vars::EnvVars::ASIAQ_SSH_CONFIG);
    let request = remote::ExecRequest {
        user: a.user.clone(),
        command: a.command.clone(),
        concurrent: a.concurrent,
        proxy_command: hc_config::ssh_proxy_command(&cfg.aws),
        config_file: cfg.ssh_config_file(ssh_env),
        jump_hostclasses: hc_config::jump_box_hostclasses(&cfg.aws),
    };
    aws_session::run(global, |ctx| async move {
        let print = |r: &remote::RemoteResult| {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(&r.output);
            let _ = out.flush();
            progress::note(format!(
                "{} ({}): exit {}",
                r.instance_id, r.address, r.code
            ));
        };
        let codes = remote::exec_selected(&ctx, &cfg.env, &selector, &request, print).await?;
        let status = exec_exit_status(&codes, a.concurrent);
        status.map_or(Ok(()), |code| Err(CliError::remote(code)))
    })
}

/// `exec-ssm`: checks the command line and the document's declared parameters (exit 2 before
/// any call that changes anything), sends the command to the selected running instances
/// in batches of 50 at once, waits for every invocation and prints each instance's output.
fn exec_ssm(global: &GlobalArgs, a: &ExecSsmArgs) -> Result<(), CliError> {
    use asiaq_aws::ssm;
    let parameters = asiaq_core::ssm::check_exec_flags(
        &a.parameters,
        a.max_concurrency.as_deref(),
        a.max_errors.as_deref(),
        a.comment.as_deref(),
    )
    .map_err(CliError::usage)?;
    let cfg = hosts_env::load(global)?;
    let bucket = cfg.aws.asiaq_s3_bucket_name("ssm").ok();
    let selector = a.selectors.selector();
    let request = ssm::CommandRequest {
        document: a.document.clone(),
        parameters,
        comment: a.comment.clone(),
        output_bucket: None,
        max_concurrency: a.max_concurrency.clone(),
        max_errors: a.max_errors.clone(),
    };
    aws_session::run(global, |ctx| async move {
        let invocations = ssm::exec(&ctx, &cfg.env, &selector, request, bucket).await?;
        let lines = invocations.iter().flat_map(|i| i.lines()).collect();
        emit(global.output, &invocations, |out: &mut dyn Write| {
            write_lines(out, lines)
        })?;
        asiaq_core::ssm::failure_summary(&invocations)
            .map_or(Ok(()), |summary| Err(CliError::failed(summary)))
    })
}

fn isready(global: &GlobalArgs, a: &IsreadyArgs) -> Result<(), CliError> {
    let cfg = hosts_env::load(global)?;
    let selectors = a.selectors.selectors();
    aws_session::run(global, |ctx| async move {
        let statuses = instances::readiness(&ctx, &cfg.env, &selectors).await?;
        print(global, text::isready(&statuses))?;
        not_ready(&statuses).map_or(Ok(()), |why| Err(CliError::failed(why)))
    })
}

fn tag(global: &GlobalArgs, a: &TagArgs) -> Result<(), CliError> {
    aws_session::run(global, |ctx| async move {
        if a.dry_run {
            println!(
                "{}",
                text::retag_dry_run(&a.key, &a.instance, a.value.as_deref())
            );
            return Ok(());
        }
        instances::retag(&ctx, &a.instance, &a.key, a.value.as_deref()).await?;
        Ok(())
    })
}

fn get_option(global: &GlobalArgs, a: &GetOptionArgs) -> Result<(), CliError> {
    let cfg = hosts_env::load(global)?;
    let value = cfg.aws.hostclass_option(&a.hostclass, &a.option);
    let value = value.as_ref().map(|v| v.text.as_str());
    print(
        global,
        text::hostclass_option(&a.hostclass, &a.option, value),
    )
}

fn promote_running(global: &GlobalArgs, a: &PromoteArgs) -> Result<(), CliError> {
    let cfg = hosts_env::load(global)?;
    // Only images made by the production baker (`[bake] prod_baker`, tag `baker`) are
    // shared, as the example configuration documents.
    let (final_stage, prod_baker, prod_accounts) = asiaq_config::bake::running_promotion(&cfg.aws);
    let promotion = Promotion {
        hours: a.hours,
        final_stage,
        prod_baker,
        prod_accounts,
        dry_run: a.dry_run,
    };
    aws_session::run(global, |ctx| async move {
        let promoted = instances::promote_running(&ctx, &cfg.env, &promotion).await?;
        print(global, text::promoted(&promoted, a.dry_run))
    })
}
