//! `asiaq bake` (the original's `disco_bake.py`): baking images over ssh, and managing them
//! (stages, promotion, prod sharing, listings, cleanup).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use asiaq_aws::bake::{self, BakeOutcome, BakeSettings, DEFAULT_LOGIN_USERS};
use asiaq_aws::images::{self, ImageQuery};
use asiaq_aws::remote::Remote;
use asiaq_aws::AwsContext;
use asiaq_config::aws_ini::AwsIni;
use asiaq_config::dir::files;
use asiaq_config::{ConfigDir, ConfigError, Diagnostic};
use asiaq_core::ami::{self, AmiFilter, AmiInfo, AmiRow, BakeIdentityInputs, BakeSource};
use asiaq_core::ssh::SshOptions;
use asiaq_core::storage::StorageOptions;
use asiaq_core::syntax;
use clap::{Args, Subcommand};
use futures::StreamExt;
use serde::Serialize;

use crate::cli::{GlobalArgs, OutputFormat};
use crate::commands::aws_session;
use crate::exit::CliError;
use crate::output::emit;

/// Environment variable: the private key for bake ssh logins (as `--identity`).
pub const SSH_IDENTITY_ENV: &str = asiaq_core::env_vars::EnvVars::ASIAQ_SSH_IDENTITY;
/// Environment variable: an ssh client configuration file used instead of `~/.ssh/config`.
pub const SSH_CONFIG_ENV: &str = asiaq_core::env_vars::EnvVars::ASIAQ_SSH_CONFIG;
/// Environment variables that override `[bake]` options of the same name (upper-cased).
const OVERRIDABLE: [&str; 4] = [
    "ssh_proxy_command",
    "ssh_jump_host",
    "ssh_user",
    "asiaq_binary",
];
/// How many images are inspected or deleted at once.
const CONCURRENCY: usize = 8;

#[derive(Debug, Subcommand)]
pub enum BakeCommand {
    /// Bake an image: phase 1 without --hostclass, else the hostclass's phase
    Bake(BakeArgs),
    /// Set an image's stage (one of [bake] ami_stages), optionally sharing it with prod
    Promote {
        /// Image id
        #[arg(long)]
        ami: String,
        /// The new stage
        #[arg(long)]
        stage: String,
        /// Also let [bake] prod_account_ids launch it
        #[arg(long)]
        promote_to_prod: bool,
        /// Print what would be done and change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Share the newest non-private final-stage image of a hostclass with prod
    Hostclasspromote {
        #[arg(long, value_parser = crate::cli::hostclass_name)]
        hostclass: String,
        /// Print what would be done and change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// List images (header on stderr; exit 1 when none matches)
    Listamis(ListAmisArgs),
    /// List hostclasses whose images have not been promoted recently
    Liststragglers {
        /// How recently an image must have been promoted, in days
        #[arg(long, default_value_t = 3)]
        days: u64,
        /// The stage that counts as promoted (default: the second of [bake] ami_stages, as
        /// the original)
        #[arg(long)]
        stage: Option<String>,
    },
    /// Show the newest image of a hostclass in the best of the given stages (exit 1 if none)
    Listlatestami {
        /// Stage, or a comma list in order of preference
        #[arg(long)]
        stage: String,
        #[arg(long, value_parser = crate::cli::hostclass_name)]
        hostclass: String,
        /// Add a Production column (shared with every prod account)
        #[arg(long)]
        in_prod: bool,
        /// Add the other tags
        #[arg(long)]
        show_tags: bool,
    },
    /// Delete an image of this account and its snapshots
    Deleteami {
        #[arg(long)]
        ami: String,
        /// Print what would be done and change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Delete this account's images of a stage older than --age days beyond the --keep newest
    Cleanupamis(CleanupArgs),
    /// Create init/<hostclass>.sh from init/template.sh
    Create {
        /// The new hostclass; must start with mhc
        #[arg(long, value_parser = crate::cli::hostclass_name)]
        hostclass: String,
        /// Print what would be done and change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Print the public IP of a running repo host ([bake] repo_hostclass in bakery_environment)
    Listrepo,
}

#[derive(Debug, Args)]
pub struct BakeArgs {
    /// Hostclass to bake (omitted: the phase-1 base image, [bake] phase1_ami_name)
    #[arg(long, value_parser = crate::cli::hostclass_name)]
    pub hostclass: Option<String>,
    /// Leave the instance running after the init script (and after a failure), for debugging
    #[arg(long)]
    pub no_destroy: bool,
    /// Stage tag of the new image (default: the first of [bake] ami_stages)
    #[arg(long)]
    pub stage: Option<String>,
    /// Image to bake from (default: bake_ami for phase 1, the newest final-stage phase-1 image otherwise)
    #[arg(long)]
    pub source_ami: Option<String>,
    /// ssh to the instance's private IP instead of its public one
    #[arg(long)]
    pub use_local_ip: bool,
    /// Extra image tag KEY:VALUE (repeatable; never overrides asiaq's own tags)
    #[arg(long = "tag", value_name = "KEY:VALUE")]
    pub tags: Vec<String>,
    /// Tag the image is_private=True (invisible to deploy and provision)
    #[arg(long)]
    pub private: bool,
    /// Private key for the ssh logins (default: the ssh agent and ~/.ssh/config)
    #[arg(long, value_name = "FILE", env = SSH_IDENTITY_ENV)]
    pub identity: Option<PathBuf>,
    /// Print the plan (source image, subnets, tags, init command) and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct ListAmisArgs {
    /// Only this image
    #[arg(long)]
    pub ami: Option<String>,
    /// Only the image this instance runs
    #[arg(long)]
    pub instance: Option<String>,
    /// Only these stages (comma list)
    #[arg(long)]
    pub stage: Option<String>,
    /// Only this product line
    #[arg(long)]
    pub productline: Option<String>,
    /// Only images in this state (available, pending, ...)
    #[arg(long)]
    pub state: Option<String>,
    /// Only this hostclass
    #[arg(long, value_parser = crate::cli::hostclass_name)]
    pub hostclass: Option<String>,
    /// Add a Production column (shared with every prod account)
    #[arg(long)]
    pub in_prod: bool,
    /// Add the other tags
    #[arg(long)]
    pub show_tags: bool,
}

#[derive(Debug, Args)]
pub struct CleanupArgs {
    /// Stage of the images to clean up
    #[arg(long)]
    pub stage: String,
    /// Newest images of each hostclass to keep whatever their age
    #[arg(long, default_value_t = 3)]
    pub keep: usize,
    /// Only images older than this many days (may be negative)
    #[arg(long, default_value_t = 14, allow_negative_numbers = true)]
    pub age: i64,
    /// Only this hostclass
    #[arg(long, value_parser = crate::cli::hostclass_name)]
    pub hostclass: Option<String>,
    /// Only this product line
    #[arg(long)]
    pub productline: Option<String>,
    /// Print the images that would be deleted and delete nothing
    #[arg(long, alias = "dry-run")]
    pub dryrun: bool,
    /// Comma list of image ids never to delete
    #[arg(long, default_value = "")]
    pub exclude_amis: String,
}

fn now_unix() -> u64 {
    u64::try_from(jiff::Timestamp::now().as_second()).unwrap_or(0)
}

/// The value of a lookup, or `None` with its problems added to `errors`.
fn take(
    errors: &mut Vec<Diagnostic>,
    r: Result<asiaq_config::ini::Value, ConfigError>,
) -> Option<asiaq_config::ini::Value> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            errors.extend(e.diagnostics());
            None
        }
    }
}

fn usage(diags: Vec<Diagnostic>) -> CliError {
    CliError::from(ConfigError::Invalid(diags))
}

/// `[bake] key` (the original's `DiscoBake.option`), required.
fn bake_required(aws: &AwsIni, key: &str) -> Result<asiaq_config::ini::Value, ConfigError> {
    aws.ini()
        .get("bake", key)
        .filter(|v| !v.text.trim().is_empty())
        .ok_or_else(|| ConfigError::NoOption {
            path: aws.ini().path().to_path_buf(),
            option: key.to_string(),
            tried: vec![format!("[bake] {key}")],
        })
}

/// A space list of 12-digit account ids from `[bake] key` (empty when unset).
fn account_ids(aws: &AwsIni, key: &str) -> Result<Vec<String>, CliError> {
    let Some(v) = aws.ini().get("bake", key) else {
        return Ok(Vec::new());
    };
    let ids: Vec<String> = v.text.split_whitespace().map(str::to_string).collect();
    let bad: Vec<Diagnostic> = ids
        .iter()
        .filter(|id| id.len() != 12 || !id.chars().all(|c| c.is_ascii_digit()))
        .map(|id| {
            v.error(
                format!("{id:?} is not an AWS account id"),
                Some("a space list of 12-digit account ids".into()),
            )
        })
        .collect();
    if bad.is_empty() {
        Ok(ids)
    } else {
        Err(usage(bad))
    }
}

/// `[bake] ami_stages`; the original indexes it, so it must not be empty.
fn stages(aws: &AwsIni) -> Vec<String> {
    aws.ami_stages()
}

fn check_stage(aws: &AwsIni, stage: &str) -> Result<(), CliError> {
    let stages = stages(aws);
    if stages.iter().any(|s| s == stage) {
        Ok(())
    } else {
        Err(CliError::usage(format!(
            "unknown image stage {stage:?}: [bake] ami_stages of {} is \"{}\"",
            aws.ini().path().display(),
            stages.join(" ")
        )))
    }
}

fn load(global: &GlobalArgs) -> Result<(ConfigDir, AwsIni), CliError> {
    let dir = ConfigDir::new(&global.asiaq_config);
    let aws = dir.aws(global.env.as_deref())?;
    Ok((dir, aws))
}

pub fn run(global: &GlobalArgs, cmd: &BakeCommand) -> Result<(), CliError> {
    match cmd {
        BakeCommand::Bake(args) => run_bake(global, args),
        BakeCommand::Promote {
            ami,
            stage,
            promote_to_prod,
            dry_run,
        } => promote(global, ami, stage, *promote_to_prod, *dry_run),
        BakeCommand::Hostclasspromote { hostclass, dry_run } => {
            hostclass_promote(global, hostclass, *dry_run)
        }
        BakeCommand::Listamis(args) => list_amis(global, args),
        BakeCommand::Liststragglers { days, stage } => {
            list_stragglers(global, *days, stage.as_deref())
        }
        BakeCommand::Listlatestami {
            stage,
            hostclass,
            in_prod,
            show_tags,
        } => list_latest(global, stage, hostclass, *in_prod, *show_tags),
        BakeCommand::Deleteami { ami, dry_run } => delete_ami(global, ami, *dry_run),
        BakeCommand::Cleanupamis(args) => cleanup(global, args),
        BakeCommand::Create { hostclass, dry_run } => create(global, hostclass, *dry_run),
        BakeCommand::Listrepo => list_repo(global),
    }
}

// ---------------------------------------------------------------------------------------
// bake
// ---------------------------------------------------------------------------------------

/// An option of the bake rule (`[hc] key` -> `[bake] key` -> `[disco_aws] default_key`),
/// overridden by the environment variable `ASIAQ_BAKE_<KEY>` for the keys in
/// [`OVERRIDABLE`].
fn bake_text(aws: &AwsIni, hostclass: &str, key: &str) -> Option<String> {
    if OVERRIDABLE.contains(&key) {
        if let Ok(v) = std::env::var(format!(
            "{}{}",
            asiaq_core::env_vars::EnvVars::ASIAQ_BAKE_PREFIX,
            key.to_ascii_uppercase()
        )) {
            return Some(v).filter(|v| !v.trim().is_empty());
        }
    }
    aws.bake_option(hostclass, key)
        .map(|v| v.text)
        .filter(|v| !v.trim().is_empty())
}

/// The OS user, as Python's `getpass.getuser()`.
fn os_user() -> String {
    ["LOGNAME", "USER", "LNAME", "USERNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "unknown".to_string())
}

/// `version-asiaq`: `<branch>-<short hash>` of the configuration directory's git checkout
/// (what the bake copies), as the original's `git rev-parse` in its working directory; else
/// asiaq's own version.
fn version_tag(dir: &Path) -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|s| !s.is_empty())
    };
    match (
        git(&["rev-parse", "--abbrev-ref", "HEAD"]),
        git(&["rev-parse", "--short", "HEAD"]),
    ) {
        (Some(branch), Some(hash)) => format!("{branch}-{hash}"),
        _ => format!("asiaq-{}", env!("CARGO_PKG_VERSION")),
    }
}

/// Everything of a bake that comes from configuration and flags; every problem is reported
/// here, before any AWS call (exit 2).
fn bake_settings(global: &GlobalArgs, args: &BakeArgs) -> Result<(BakeSettings, Remote), CliError> {
    let (dir, aws) = load(global)?;
    let mut errors: Vec<Diagnostic> = Vec::new();
    let environment = take(&mut errors, bake_required(&aws, "bakery_environment"));
    let key_name = take(&mut errors, bake_required(&aws, "bake_key"));
    let instance_type = take(&mut errors, bake_required(&aws, "bakery_instance_type"));
    let destination = take(&mut errors, bake_required(&aws, "data_destination"));
    let config_source = take(&mut errors, bake_required(&aws, "config_data_source"));
    let asiaq_source = take(&mut errors, bake_required(&aws, "asiaq_data_source"));
    let bake_phase1_name = take(&mut errors, bake_required(&aws, "phase1_ami_name"));
    let phase1_hostclass = take(&mut errors, bake_required(&aws, "phase1_hostclass"));
    let hostclass = args.hostclass.as_deref();
    if let Some(hc) = hostclass {
        if !aws.has_hostclass(hc) {
            errors.push(Diagnostic::error(
                aws.ini().path(),
                None,
                format!("--hostclass {hc}: there is no [{hc}] section"),
                Some("a hostclass (or phase-1 image) section of disco_aws.ini".into()),
            ));
        }
    }
    let hostclass_phase = match hostclass {
        Some(hc) => match take(&mut errors, aws.require_bake_option(hc, "phase")) {
            Some(v) => match v.text.trim().parse::<u32>() {
                Ok(p) if p >= 1 => Some(p),
                _ => {
                    errors.push(v.error(
                        format!("{:?} is not a phase number", v.text),
                        Some("1, 2, ...".into()),
                    ));
                    None
                }
            },
            None => None,
        },
        None => None,
    };
    let hostclass_phase1_name = hostclass
        .and_then(|hc| aws.bake_option(hc, "phase1_ami_name"))
        .map(|v| v.text)
        .or_else(|| bake_phase1_name.as_ref().map(|v| v.text.clone()))
        .unwrap_or_default();
    let bake_phase1_name_text = bake_phase1_name
        .as_ref()
        .map(|v| v.text.trim().to_string())
        .unwrap_or_default();
    let phase1_hostclass_text = phase1_hostclass
        .as_ref()
        .map(|v| v.text.trim().to_string())
        .unwrap_or_default();
    let identity = ami::bake_identity(&BakeIdentityInputs {
        hostclass,
        hostclass_phase,
        bake_phase1_ami_name: &bake_phase1_name_text,
        hostclass_phase1_ami_name: hostclass_phase1_name.trim(),
        phase1_hostclass: &phase1_hostclass_text,
        source_ami: args.source_ami.as_deref(),
    });
    let upstream_ami = match &identity.source {
        BakeSource::Upstream { section } => {
            take(&mut errors, aws.require_bake_option(section, "bake_ami"))
                .map(|v| v.text.trim().to_string())
        }
        _ => None,
    };
    let init_hc = identity.init_hostclass.clone();

    // Files the bake copies.
    let config_dir = config_source.as_ref().map(|v| dir.path(v.text.trim()));
    let asiaq_dir = asiaq_source.as_ref().map(|v| dir.path(v.text.trim()));
    if let Some(c) = &config_dir {
        if !c.join(files::DISCOROOT).is_dir() {
            errors.push(Diagnostic::error(
                c.join(files::DISCOROOT),
                None,
                "directory not found ([bake] config_data_source must hold discoroot/)",
                None,
            ));
        }
        let script = c.join(format!("init/phase{}.sh", identity.phase));
        if !script.is_file() {
            errors.push(Diagnostic::error(
                script,
                None,
                format!("init script of phase {} not found", identity.phase),
                None,
            ));
        }
    }
    if let Some(a) = &asiaq_dir {
        if !a.is_dir() {
            errors.push(Diagnostic::error(
                a.clone(),
                None,
                "directory not found ([bake] asiaq_data_source)",
                None,
            ));
        }
    }

    // Stage and tags.
    let all_stages = stages(&aws);
    let stage = args
        .stage
        .clone()
        .unwrap_or_else(|| all_stages.first().cloned().unwrap_or_default());
    if !all_stages.contains(&stage) {
        errors.push(Diagnostic::error(
            aws.ini().path(),
            None,
            format!(
                "--stage {stage:?} is not one of [bake] ami_stages (\"{}\")",
                all_stages.join(" ")
            ),
            None,
        ));
    }
    let mut extra_tags = Vec::new();
    for t in &args.tags {
        match syntax::parse_tag_arg(t) {
            Ok(kv) => extra_tags.push(kv),
            Err(e) => {
                return Err(CliError::usage(format!("--tag {t:?}: {e}")));
            }
        }
    }

    let enhanced_networking = asiaq_config::options::flag(
        asiaq_config::options::BAKE_OPTIONS,
        "enhanced_networking",
        aws.bake_option(&init_hc, "enhanced_networking"),
        false,
        &mut errors,
    );
    let wait_secs = match aws.bake_option(&init_hc, "ami_available_wait_time") {
        None => 600,
        Some(v) => match v.text.trim().parse::<u64>() {
            Ok(n) => n,
            Err(_) => {
                errors.push(v.error(
                    format!("{:?} is not a number of seconds", v.text),
                    Some("seconds, e.g. 600".into()),
                ));
                600
            }
        },
    };

    // Remote access.
    let asiaq_binary = match bake_text(&aws, &init_hc, "asiaq_binary") {
        Some(v) if v.trim().eq_ignore_ascii_case("none") => None,
        Some(v) => Some(dir.path(v.trim())),
        None => std::env::current_exe().ok(),
    };
    if let Some(b) = &asiaq_binary {
        if !b.is_file() {
            errors.push(Diagnostic::error(
                b.clone(),
                None,
                "asiaq executable to install on the bake instance not found ([bake] asiaq_binary)",
                None,
            ));
        }
    }
    if let Some(id) = &args.identity {
        if !id.is_file() {
            errors.push(Diagnostic::error(
                id.clone(),
                None,
                format!("private key not found (--identity / {SSH_IDENTITY_ENV})"),
                None,
            ));
        }
    }
    let ssh = SshOptions {
        proxy_command: bake_text(&aws, &init_hc, "ssh_proxy_command"),
        jump_host: bake_text(&aws, &init_hc, "ssh_jump_host"),
        identity: args
            .identity
            .as_ref()
            .map(|p| p.to_string_lossy().into_owned()),
        config_file: std::env::var(SSH_CONFIG_ENV).ok().filter(|v| !v.is_empty()),
        connect_timeout_secs: 10,
    };
    if let Err(e) = ssh.rsync_rsh() {
        errors.push(Diagnostic::error(
            aws.ini().path(),
            None,
            format!("[bake] ssh_proxy_command: {e}"),
            None,
        ));
    }
    let login_users = match bake_text(&aws, &init_hc, "ssh_user") {
        Some(u) => vec![u.trim().to_string()],
        None => DEFAULT_LOGIN_USERS.iter().map(|u| u.to_string()).collect(),
    };
    let trusted = account_ids(&aws, "trusted_account_ids");
    let storage = storage_options(&aws, environment.as_ref(), &init_hc, &mut errors);

    if !errors.is_empty() {
        return Err(usage(errors));
    }
    let trusted = trusted?;
    let text = |v: Option<asiaq_config::ini::Value>| {
        v.map(|v| v.text.trim().to_string()).unwrap_or_default()
    };
    let now = now_unix();
    let settings = BakeSettings {
        image_name: ami::ami_name(&identity.image_base, now),
        bake_id: ami::bake_id(&mut rand::thread_rng()),
        upstream_ami,
        environment: text(environment),
        instance_type: text(instance_type),
        storage,
        key_name: text(key_name),
        instance_profile: aws
            .bake_option(&init_hc, "bake_instance_profile")
            .map(|v| v.text.trim().to_string())
            .filter(|v| !v.is_empty()),
        repo_hostclass: aws
            .ini()
            .get("bake", "repo_hostclass")
            .map(|v| v.text.trim().to_string())
            .filter(|v| !v.is_empty()),
        final_stage: all_stages.last().cloned().unwrap_or_default(),
        trusted_accounts: trusted,
        stage,
        baker: os_user(),
        version: version_tag(dir.root()),
        is_private: args.private,
        product_line: aws
            .bake_option(&init_hc, "product_line")
            .map(|v| v.text.trim().to_string())
            .filter(|v| !v.is_empty()),
        extra_tags,
        enhanced_networking,
        available_timeout: Duration::from_secs(wait_secs),
        use_local_ip: args.use_local_ip,
        no_destroy: args.no_destroy,
        destination: text(destination),
        config_source: config_dir.unwrap_or_default(),
        asiaq_source: asiaq_dir.unwrap_or_default(),
        asiaq_binary,
        login_users,
        identity,
    };
    let remote = Remote {
        options: ssh,
        stream: global.debug,
    };
    Ok((settings, remote))
}

/// The storage options of the bake instance (spec §4.9 step 3: "BDM from storage config
/// without the snapshot"): `extra_space`, `extra_disk` and `iops` of the hostclass whose
/// init script runs (`[bake] phase1_hostclass` for phase 1, else the hostclass), looked up
/// with the hostclass rule as provision does (`[hc] key@ENV` -> `[hc] key` ->
/// `[disco_aws] default_key@ENV` -> `[disco_aws] default_key`), ENV being the bakery
/// environment, where the instance runs. Each must be a whole number (`extra_disk` at least
/// 1 GB); problems go to `errors`.
fn storage_options(
    aws: &AwsIni,
    bakery: Option<&asiaq_config::ini::Value>,
    hostclass: &str,
    errors: &mut Vec<Diagnostic>,
) -> StorageOptions {
    let aws = match bakery.map(|v| v.text.trim()).filter(|e| !e.is_empty()) {
        Some(env) => aws.with_environment(env),
        None => aws.clone(),
    };
    let mut number = |key: &str, min: u32, expected: &str| {
        let v = aws.hostclass_option(hostclass, key)?;
        if v.text.trim().is_empty() {
            return None;
        }
        match v.text.trim().parse::<u32>() {
            Ok(n) if n >= min => Some(n),
            _ => {
                errors.push(v.error(
                    format!("{:?} is not {expected}", v.text.trim()),
                    Some(format!("{expected} (it sizes the bake instance's storage)")),
                ));
                None
            }
        }
    };
    StorageOptions {
        extra_space: number("extra_space", 0, "a whole number of GB"),
        extra_disk: number("extra_disk", 1, "a size in GB of at least 1"),
        iops: number("iops", 0, "a whole number of IOPS"),
    }
}

/// A future that resolves on Ctrl-C (SIGINT) or SIGTERM. The handlers are installed when
/// this is called, not when the future is first polled: a signal that arrives while the
/// bake instance is being launched (before the bake waits on the future) is kept, and the
/// bake then cleans up, instead of the default action killing asiaq with the instance left
/// running. Must be called inside the runtime.
fn interrupted() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, Signal, SignalKind};
    async fn received(s: Option<Signal>) {
        match s {
            Some(mut s) => {
                s.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    }
    let term = received(signal(SignalKind::terminate()).ok());
    let int = received(signal(SignalKind::interrupt()).ok());
    async move {
        tokio::select! {
            () = term => {}
            () = int => {}
        }
    }
}

fn run_bake(global: &GlobalArgs, args: &BakeArgs) -> Result<(), CliError> {
    let (settings, remote) = bake_settings(global, args)?;
    let dry_run = args.dry_run;
    aws_session::run(global, |ctx| async move {
        let prepared = bake::prepare(&ctx, &settings)
            .await
            .map_err(|e| CliError::failed(e.to_string()))?;
        if dry_run {
            #[derive(Serialize)]
            struct Plan<'a> {
                dry_run: bool,
                settings: &'a BakeSettings,
                prepared: &'a asiaq_aws::bake::Prepared,
            }
            let plan = Plan {
                dry_run,
                settings: &settings,
                prepared: &prepared,
            };
            return emit(global.output, &plan, |w| {
                writeln!(
                    w,
                    "would bake image \"{}\" (phase {})",
                    settings.image_name, settings.identity.phase
                )?;
                writeln!(w, "  from:        {}", prepared.source_ami)?;
                writeln!(
                    w,
                    "  instance:    {} with key {}{} in {} (tunnel, one of {}), security group {}",
                    settings.instance_type,
                    settings.key_name,
                    settings
                        .instance_profile
                        .as_deref()
                        .map(|p| format!(", profile {p}"))
                        .unwrap_or_default(),
                    settings.environment,
                    prepared.subnet_ids.join(" "),
                    prepared.security_group_id
                )?;
                if !prepared.block_devices.is_empty() {
                    let devices: Vec<String> = prepared
                        .block_devices
                        .iter()
                        .map(|d| match (&d.ebs, &d.virtual_name) {
                            (Some(e), _) => format!(
                                "{} {}{}",
                                d.device_name,
                                e.size_gb
                                    .map(|g| format!("{g} GB"))
                                    .unwrap_or_else(|| "image size".into()),
                                e.iops.map(|i| format!(" io1 {i} iops")).unwrap_or_default()
                            ),
                            (None, Some(v)) => format!("{} {v}", d.device_name),
                            (None, None) => d.device_name.clone(),
                        })
                        .collect();
                    writeln!(w, "  storage:     {}", devices.join(", "))?;
                }
                writeln!(
                    w,
                    "  copy:        {} -> {}",
                    settings.config_source.display(),
                    settings.destination
                )?;
                writeln!(
                    w,
                    "               {} -> {}/asiaq",
                    settings.asiaq_source.display(),
                    settings.destination
                )?;
                writeln!(w, "  run:         {}", prepared.init_command)?;
                let tags: Vec<String> = prepared
                    .tags
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                writeln!(w, "  image tags:  {}", tags.join(", "))?;
                if settings.no_destroy {
                    writeln!(
                        w,
                        "  then stop (--no-destroy): the instance is left running"
                    )?;
                }
                Ok(())
            });
        }
        let outcome = bake::execute(&ctx, &settings, &prepared, &remote, interrupted())
            .await
            .map_err(|e| {
                let mut err = CliError::failed(format!("bake of \"{}\" failed: {e}", settings.image_name));
                if let Some(i) = &e.instance_left {
                    err = err.with_hint(format!("instance {i} is still running; terminate it when done (asiaq aws terminate, or the EC2 console)"));
                }
                err
            })?;
        emit(global.output, &outcome, |w| match &outcome {
            BakeOutcome::Created { image_id, .. } => writeln!(w, "{image_id}"),
            BakeOutcome::LeftRunning {
                instance_id,
                address,
            } => writeln!(w, "{instance_id}\t{address}"),
        })
    })
}

// ---------------------------------------------------------------------------------------
// promotion
// ---------------------------------------------------------------------------------------

fn prod_accounts(aws: &AwsIni) -> Result<Vec<String>, CliError> {
    let ids = account_ids(aws, "prod_account_ids")?;
    if ids.is_empty() {
        return Err(CliError::usage(format!(
            "{}: [bake] prod_account_ids is empty: there is no prod account to share with",
            aws.ini().path().display()
        )));
    }
    Ok(ids)
}

fn promote(
    global: &GlobalArgs,
    ami_id: &str,
    stage: &str,
    to_prod: bool,
    dry_run: bool,
) -> Result<(), CliError> {
    let (_, aws) = load(global)?;
    check_stage(&aws, stage)?;
    let prod = if to_prod {
        prod_accounts(&aws)?
    } else {
        Vec::new()
    };
    aws_session::run(global, |ctx| async move {
        let image = images::get_image(&ctx, ami_id, &[])
            .await?
            .ok_or_else(|| CliError::failed(format!("could not locate image {ami_id}")))?;
        let stage_tag = vec![("stage".to_string(), stage.to_string())];
        if dry_run {
            println!("would set stage={stage} on {} ({})", image.id, image.name);
            if to_prod {
                println!("would let {} launch {}", prod.join(", "), image.id);
            }
            return Ok(());
        }
        if to_prod {
            images::share_with_accounts(&ctx, &image.id, &prod, &stage_tag).await?;
            eprintln!(
                "{}: stage {stage}, shared with {}",
                image.id,
                prod.join(", ")
            );
        } else {
            images::tag_image(&ctx, &image.id, &stage_tag).await?;
            eprintln!("{}: stage {stage}", image.id);
        }
        Ok(())
    })
}

fn hostclass_promote(global: &GlobalArgs, hostclass: &str, dry_run: bool) -> Result<(), CliError> {
    let (_, aws) = load(global)?;
    let prod = prod_accounts(&aws)?;
    let trusted = account_ids(&aws, "trusted_account_ids")?;
    let final_stage = stages(&aws).last().cloned().unwrap_or_default();
    aws_session::run(global, |ctx| async move {
        let amis = images::describe_images(
            &ctx,
            &ImageQuery::visible(&trusted).named(format!("{hostclass} *")),
        )
        .await?;
        let image = ami::find_ami(
            &amis,
            std::slice::from_ref(&final_stage),
            Some(hostclass),
            false,
        )
        .ok_or_else(|| {
            CliError::failed(format!(
                "no non-private {final_stage} image of {hostclass} to share with prod"
            ))
        })?;
        if dry_run {
            println!(
                "would let {} launch {} ({})",
                prod.join(", "),
                image.id,
                image.name
            );
            return Ok(());
        }
        images::share_with_accounts(&ctx, &image.id, &prod, &[]).await?;
        eprintln!(
            "{} ({}): shared with {}",
            image.id,
            image.name,
            prod.join(", ")
        );
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------
// listings
// ---------------------------------------------------------------------------------------

/// Fills the Production column, a few images at a time.
async fn mark_prod(ctx: &AwsContext, rows: &mut [AmiRow], prod: &[String]) -> Result<(), CliError> {
    let answers: Vec<(usize, Result<bool, asiaq_aws::AwsError>)> =
        futures::stream::iter(rows.iter().enumerate().map(|(i, r)| {
            let id = r.id.clone();
            async move { (i, images::is_prod_image(ctx, &id, prod).await) }
        }))
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for (i, answer) in answers {
        rows[i].in_prod = Some(answer?);
    }
    Ok(())
}

fn print_rows(
    global: &GlobalArgs,
    rows: &[AmiRow],
    in_prod: bool,
    show_tags: bool,
) -> Result<(), CliError> {
    if global.output == OutputFormat::Text {
        let cells: Vec<Vec<String>> = rows.iter().map(|r| r.cells(in_prod, show_tags)).collect();
        let lines = ami::table_lines(&AmiRow::headers(in_prod, show_tags), &cells, 4);
        if let Some((header, body)) = lines.split_first() {
            eprintln!("{header}");
            return emit(global.output, &rows, |w| {
                for l in body {
                    writeln!(w, "{l}")?;
                }
                Ok(())
            });
        }
    }
    emit(global.output, &rows, |_| Ok(()))
}

fn list_amis(global: &GlobalArgs, args: &ListAmisArgs) -> Result<(), CliError> {
    let (_, aws) = load(global)?;
    let trusted = account_ids(&aws, "trusted_account_ids")?;
    let prod = if args.in_prod {
        account_ids(&aws, "prod_account_ids")?
    } else {
        Vec::new()
    };
    aws_session::run(global, |ctx| async move {
        let mut ids: Option<Vec<String>> = args.ami.clone().map(|a| vec![a]);
        if let Some(instance) = &args.instance {
            let of_instance =
                images::instance_image_ids(&ctx, std::slice::from_ref(instance)).await?;
            ids = Some(match ids {
                Some(given) => given
                    .into_iter()
                    .filter(|g| of_instance.contains(g))
                    .collect(),
                None => of_instance,
            });
        }
        let amis: Vec<AmiInfo> = match &ids {
            // An empty id list means nothing matched (the original then listed everything).
            Some(list) if list.is_empty() => Vec::new(),
            Some(list) => {
                let mut q = ImageQuery::visible(&trusted);
                q.ids = list.clone();
                match images::describe_images(&ctx, &q).await {
                    Ok(a) => a,
                    Err(e) if e.code().is_some_and(|c| c.starts_with("InvalidAMIID")) => Vec::new(),
                    Err(e) => return Err(e.into()),
                }
            }
            None => images::describe_images(&ctx, &ImageQuery::visible(&trusted)).await?,
        };
        let filter = AmiFilter {
            stages: args.stage.as_deref().map(AmiFilter::stage_list),
            product_line: args.productline.clone(),
            state: args.state.clone(),
            hostclass: args.hostclass.clone(),
            include_private: true,
        };
        let mut matched: Vec<&AmiInfo> = amis.iter().filter(|a| filter.matches(a)).collect();
        matched.sort_by(|a, b| a.timestamp().cmp(&b.timestamp()).then(a.id.cmp(&b.id)));
        let now = now_unix();
        let mut rows: Vec<AmiRow> = matched
            .iter()
            .map(|a| AmiRow::new(a, now, args.show_tags))
            .collect();
        if args.in_prod {
            mark_prod(&ctx, &mut rows, &prod).await?;
        }
        print_rows(global, &rows, args.in_prod, args.show_tags)?;
        if rows.is_empty() {
            return Err(CliError::failed("no image matched"));
        }
        Ok(())
    })
}

fn list_latest(
    global: &GlobalArgs,
    stage: &str,
    hostclass: &str,
    in_prod: bool,
    show_tags: bool,
) -> Result<(), CliError> {
    let (_, aws) = load(global)?;
    let trusted = account_ids(&aws, "trusted_account_ids")?;
    let prod = if in_prod {
        account_ids(&aws, "prod_account_ids")?
    } else {
        Vec::new()
    };
    aws_session::run(global, |ctx| async move {
        let amis = images::describe_images(
            &ctx,
            &ImageQuery::visible(&trusted).named(format!("{hostclass} *")),
        )
        .await?;
        let stages = AmiFilter::stage_list(stage);
        let Some(found) = ami::find_ami(&amis, &stages, Some(hostclass), true) else {
            return Err(CliError::failed(format!("no {stage} image of {hostclass}")));
        };
        let mut rows = vec![AmiRow::new(found, now_unix(), show_tags)];
        if in_prod {
            mark_prod(&ctx, &mut rows, &prod).await?;
        }
        print_rows(global, &rows, in_prod, show_tags)
    })
}

fn list_stragglers(global: &GlobalArgs, days: u64, stage: Option<&str>) -> Result<(), CliError> {
    let (_, aws) = load(global)?;
    let trusted = account_ids(&aws, "trusted_account_ids")?;
    let all = stages(&aws);
    let first = all.first().cloned().unwrap_or_default();
    let promoted = match stage {
        Some(s) => {
            check_stage(&aws, s)?;
            s.to_string()
        }
        None => all.get(1).cloned().ok_or_else(|| {
            CliError::usage(format!(
                "{}: [bake] ami_stages needs at least two stages for liststragglers (or pass --stage)",
                aws.ini().path().display()
            ))
        })?,
    };
    aws_session::run(global, |ctx| async move {
        let amis = images::describe_images(&ctx, &ImageQuery::visible(&trusted)).await?;
        let cutoff = now_unix().saturating_sub(days * 86_400);
        let found = ami::stragglers(&amis, &promoted, &first, cutoff);
        #[derive(Serialize)]
        struct Row {
            hostclass: String,
            latest_unpromoted: Option<String>,
        }
        let rows: Vec<Row> = found
            .into_iter()
            .map(|(hostclass, a)| Row {
                hostclass,
                latest_unpromoted: a.map(|a| a.id.clone()),
            })
            .collect();
        emit(global.output, &rows, |w| {
            for r in &rows {
                writeln!(
                    w,
                    "{}\t{}",
                    r.hostclass,
                    r.latest_unpromoted.as_deref().unwrap_or("-")
                )?;
            }
            Ok(())
        })
    })
}

// ---------------------------------------------------------------------------------------
// deletion
// ---------------------------------------------------------------------------------------

fn delete_ami(global: &GlobalArgs, ami_id: &str, dry_run: bool) -> Result<(), CliError> {
    let (_, _aws) = load(global)?;
    aws_session::run(global, |ctx| async move {
        let image = images::get_image(&ctx, ami_id, &["self".to_string()])
            .await?
            .ok_or_else(|| {
                CliError::failed(format!("image {ami_id} is not an image of this account"))
            })?;
        if dry_run {
            println!(
                "would deregister {} ({}) and delete its snapshots {}",
                image.id,
                image.name,
                if image.snapshot_ids.is_empty() {
                    "(none)".to_string()
                } else {
                    image.snapshot_ids.join(" ")
                }
            );
            return Ok(());
        }
        let report = images::delete_image(&ctx, &image).await?;
        eprintln!(
            "deleted {} ({}) and snapshots {}",
            image.id,
            image.name,
            report.deleted_snapshots.join(" ")
        );
        failed_snapshots(&report)
    })
}

fn failed_snapshots(report: &images::DeleteReport) -> Result<(), CliError> {
    if report.failed_snapshots.is_empty() {
        return Ok(());
    }
    Err(CliError::failed(format!(
        "snapshots left behind: {}",
        report
            .failed_snapshots
            .iter()
            .map(|(s, why)| format!("{s} ({why})"))
            .collect::<Vec<_>>()
            .join("; ")
    )))
}

fn cleanup(global: &GlobalArgs, args: &CleanupArgs) -> Result<(), CliError> {
    let (_, _aws) = load(global)?;
    let exclude: Vec<String> = args
        .exclude_amis
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    aws_session::run(global, |ctx| async move {
        let mut q = ImageQuery {
            owners: vec!["self".to_string()],
            ..ImageQuery::default()
        }
        .tagged("stage", args.stage.clone());
        if let Some(pl) = &args.productline {
            q = q.tagged("productline", pl.clone());
        }
        let amis = images::describe_images(&ctx, &q).await?;
        let now = now_unix();
        let selected = ami::cleanup_selection(
            &amis,
            args.keep,
            args.age,
            args.hostclass.as_deref(),
            &exclude,
            now,
        );
        let rows: Vec<AmiRow> = selected
            .iter()
            .map(|a| AmiRow::new(a, now, false))
            .collect();
        #[derive(Serialize)]
        struct Out<'a> {
            dry_run: bool,
            images: &'a [AmiRow],
        }
        if global.output == OutputFormat::Text {
            if !rows.is_empty() {
                eprintln!(
                    "{} {} image(s):",
                    if args.dryrun {
                        "would delete"
                    } else {
                        "deleting"
                    },
                    rows.len()
                );
            }
            let cells: Vec<Vec<String>> = rows.iter().map(|r| r.cells(false, false)).collect();
            for line in ami::table_lines(&AmiRow::headers(false, false), &cells, 4)
                .iter()
                .skip(1)
            {
                println!("{line}");
            }
        } else {
            emit(
                global.output,
                &Out {
                    dry_run: args.dryrun,
                    images: &rows,
                },
                |_| Ok(()),
            )?;
        }
        if args.dryrun || selected.is_empty() {
            return Ok(());
        }
        let results: Vec<(String, Result<images::DeleteReport, asiaq_aws::AwsError>)> =
            futures::stream::iter(selected.iter().map(|a| {
                let ctx = &ctx;
                async move { (a.id.clone(), images::delete_image(ctx, a).await) }
            }))
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut problems: BTreeMap<String, String> = BTreeMap::new();
        for (id, r) in results {
            match r {
                Ok(report) => {
                    for (s, why) in report.failed_snapshots {
                        problems.insert(format!("{id} snapshot {s}"), why);
                    }
                }
                Err(e) => {
                    problems.insert(id, e.to_string());
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(CliError::failed(format!(
                "not everything was deleted (run it again to finish): {}",
                problems
                    .iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            )))
        }
    })
}

// ---------------------------------------------------------------------------------------
// create, listrepo
// ---------------------------------------------------------------------------------------

fn create(global: &GlobalArgs, hostclass: &str, dry_run: bool) -> Result<(), CliError> {
    use std::os::unix::fs::PermissionsExt;
    ami::check_new_hostclass(hostclass).map_err(|e| CliError::usage(e.to_string()))?;
    let dir = ConfigDir::new(&global.asiaq_config);
    let template_path = dir.path(format!("{}/template.sh", files::INIT));
    let target = dir.path(format!("{}/{hostclass}.sh", files::INIT));
    let template = std::fs::read_to_string(&template_path).map_err(|e| {
        CliError::usage(format!(
            "{}: cannot read the template: {e}",
            template_path.display()
        ))
    })?;
    if target.exists() {
        return Err(CliError::usage(format!(
            "{} already exists; not overwritten",
            target.display()
        )));
    }
    let mode = std::fs::metadata(&template_path)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0o755);
    if dry_run {
        println!(
            "would write {} (mode {mode:04o}) from {}",
            target.display(),
            template_path.display()
        );
        return Ok(());
    }
    let text = ami::render_hostclass_template(&template, hostclass);
    std::fs::write(&target, text)
        .and_then(|()| std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode)))
        .map_err(|e| CliError::failed(format!("cannot write {}: {e}", target.display())))?;
    eprintln!("created {}", target.display());
    Ok(())
}

fn list_repo(global: &GlobalArgs) -> Result<(), CliError> {
    let (_, aws) = load(global)?;
    let env = bake_required(&aws, "bakery_environment")?
        .text
        .trim()
        .to_string();
    let hostclass = bake_required(&aws, "repo_hostclass")?
        .text
        .trim()
        .to_string();
    aws_session::run(global, |ctx| async move {
        let Some(found) = asiaq_aws::find_environment(&ctx, &env).await? else {
            return Err(CliError::failed(format!(
                "the bakery environment {env} does not exist"
            )));
        };
        let repo = bake::repo_instance(&ctx, &found.vpc_id, &hostclass).await?;
        if repo.is_none() {
            eprintln!("no running {hostclass} in {env}");
        }
        emit(global.output, &repo, |w| match &repo {
            Some(r) => writeln!(w, "{}", r.public_ip.as_deref().unwrap_or("-")),
            None => Ok(()),
        })
    })
}
