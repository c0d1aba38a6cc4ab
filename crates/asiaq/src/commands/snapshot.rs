//! `asiaq snapshot` (disco_snapshot.py): EBS snapshots of hostclasses, tagged `hostclass`,
//! `env`, `productline`; the latest one is mapped into new instances of the hostclass. The
//! work is `asiaq_aws::hosts::snapshots`, the selections `asiaq_core::snapshots`.

use std::io::Write;

use asiaq_aws::hosts::remote::SshRoute;
use asiaq_aws::hosts::snapshots;
use asiaq_config::hostclass as hc_config;
use asiaq_core::printout::Printout;
use asiaq_core::snapshots::{list_rows, text};
use asiaq_core::syntax::parse_tag_arg;
use clap::{ArgGroup, Args, Subcommand};

use super::aws::Selectors;
use super::aws_session;
use super::hosts_env;
use crate::cli::GlobalArgs;
use crate::exit::CliError;
use crate::output::{emit, print, print_deleted};

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Snapshot an empty volume of SIZE GB for a hostclass (its first data volume)
    Create {
        #[arg(long, value_name = "GB")]
        size: u32,
        #[arg(long, value_parser = crate::cli::hostclass_name)]
        hostclass: Option<String>,
        /// Do not encrypt the volume (and so the snapshot)
        #[arg(long)]
        unencrypted: bool,
        #[arg(long)]
        dry_run: bool,
    },
    /// List the environment's snapshots: hostclass, id, state, start time, size
    List {
        /// Repeatable
        #[arg(long)]
        hostclass: Vec<String>,
    },
    /// Delete all but the newest KEEP snapshots of each hostclass
    Cleanup {
        #[arg(long, default_value_t = 3)]
        keep: usize,
        #[arg(long)]
        dry_run: bool,
    },
    /// Delete snapshots (only ones tagged with this environment)
    Delete {
        #[arg(long = "snapshot", value_name = "ID", required = true, num_args = 1..)]
        snapshot: Vec<String>,
        #[arg(long)]
        dry_run: bool,
    },
    /// Snapshot a volume, or run the snapshot script on instances
    Capture(CaptureArgs),
    /// Point a hostclass's group at a snapshot (default: its latest)
    Update {
        #[arg(long, value_parser = crate::cli::hostclass_name)]
        hostclass: String,
        #[arg(long)]
        snapshot_id: Option<String>,
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("what").required(true).args(["instance", "hostname", "hostclass", "ami", "asg", "volume_id"])))]
pub struct CaptureArgs {
    #[arg(long = "instance", value_name = "ID")]
    pub instance: Vec<String>,
    #[arg(long)]
    pub hostname: Vec<String>,
    #[arg(long, value_parser = crate::cli::hostclass_name)]
    pub hostclass: Vec<String>,
    #[arg(long)]
    pub ami: Vec<String>,
    #[arg(long)]
    pub asg: Vec<String>,
    /// Snapshot this volume directly (tags from the instance it is attached to)
    #[arg(long, value_name = "VOLUME")]
    pub volume_id: Option<String>,
    /// Extra tag key:value (repeatable)
    #[arg(long = "tag", value_name = "KEY:VALUE")]
    pub tag: Vec<String>,
}

pub fn run(global: &GlobalArgs, cmd: &SnapshotCommand) -> Result<(), CliError> {
    let cfg = hosts_env::load(global)?;
    let extra_tags = match cmd {
        SnapshotCommand::Capture(a) => a
            .tag
            .iter()
            .map(|t| parse_tag_arg(t).map_err(|e| CliError::usage(format!("--tag: {e}"))))
            .collect::<Result<Vec<_>, _>>()?,
        _ => Vec::new(),
    };
    aws_session::run(global, |ctx| async move {
        let env = cfg.env.as_str();
        match cmd {
            SnapshotCommand::Create {
                size,
                hostclass,
                unencrypted,
                dry_run,
            } => {
                let productline = match hostclass {
                    Some(hc) => cfg.settings(hc)?.product_line,
                    None => "unknown".to_string(),
                };
                let hc = hostclass.clone().unwrap_or_default();
                let zone = snapshots::first_zone(&ctx).await?;
                if *dry_run {
                    println!("{}", text::create_dry_run(*size, &zone, &hc));
                    return Ok(());
                }
                let id = snapshots::create_empty(
                    &ctx,
                    &zone,
                    *size,
                    &hc,
                    env,
                    &productline,
                    *unencrypted,
                )
                .await?;
                emit(global.output, &id, |out| writeln!(out, "{id}"))
            }
            SnapshotCommand::List { hostclass } => {
                let list = snapshots::env_snapshots(&ctx, env, hostclass).await?;
                let rows = list_rows(&list);
                emit(global.output, &rows, |out| {
                    rows.iter().try_for_each(|r| writeln!(out, "{}", r.line()))
                })
            }
            SnapshotCommand::Cleanup { keep, dry_run } => {
                let doomed = snapshots::cleanup(&ctx, env, *keep, *dry_run).await?;
                print_deleted(global.output, &doomed, *dry_run)
            }
            SnapshotCommand::Delete { snapshot, dry_run } => {
                let (ok, foreign) =
                    snapshots::delete_in_environment(&ctx, env, snapshot, *dry_run).await?;
                print_deleted(global.output, &ok, *dry_run)?;
                text::not_deleted(env, &foreign).map_or(Ok(()), |r| Err(r.into()))
            }
            SnapshotCommand::Capture(a) => {
                if let Some(vol) = &a.volume_id {
                    let id = snapshots::capture_volume(&ctx, vol, &extra_tags).await?;
                    return emit(global.output, &id, |out| writeln!(out, "{id}"));
                }
                let sel = Selectors {
                    instance: a.instance.clone(),
                    hostname: a.hostname.clone(),
                    hostclass: a.hostclass.clone(),
                    ami: a.ami.clone(),
                    asg: a.asg.clone(),
                }
                .selector();
                let route = SshRoute {
                    proxy_command: hc_config::ssh_proxy_command(&cfg.aws),
                    config_file: std::env::var_os(asiaq_core::env_vars::EnvVars::ASIAQ_SSH_CONFIG)
                        .map(Into::into),
                    jump_host: None,
                };
                let stdout = |output: &[u8]| {
                    std::io::stdout().write_all(output).ok();
                };
                Ok(snapshots::capture_hosts(&ctx, env, &sel, &route, stdout).await?)
            }
            SnapshotCommand::Update {
                hostclass,
                snapshot_id,
                dry_run,
            } => {
                let id = snapshot_id.as_deref();
                let (g, snap, version) =
                    snapshots::update(&ctx, env, hostclass, id, *dry_run).await?;
                let line = text::update_line(&g.name, &snap.id, snap.size_gb, version);
                match version {
                    None => {
                        println!("{line}");
                        Ok(())
                    }
                    Some(v) => print(global, Printout::new(&v, vec![line])),
                }
            }
        }
    })
}
