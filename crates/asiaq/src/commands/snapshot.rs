//! `asiaq snapshot` (disco_snapshot.py): EBS snapshots of hostclasses, tagged `hostclass`,
//! `env`, `productline`; the latest one is mapped into new instances of the hostclass.

use std::collections::BTreeSet;
use std::io::Write;

use asiaq_aws::hosts::remote::{self, SshRoute};
use asiaq_aws::hosts::{groups, instances, snapshots};
use asiaq_config::hostclass as hc_config;
use asiaq_core::autoscale::{existing_group, groups_of_hostclass};
use asiaq_core::snapshots::{cleanup_selection, latest, SnapshotInfo};
use asiaq_core::syntax::parse_tag_arg;
use asiaq_engine::report as progress;
use clap::{ArgGroup, Args, Subcommand};
use serde::Serialize;

use super::aws::Selectors;
use super::aws_session;
use super::hosts_env::{self, HostsConfig};
use crate::cli::GlobalArgs;
use crate::exit::CliError;
use crate::output::emit;

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

#[derive(Serialize)]
struct Row<'a> {
    hostclass: &'a str,
    #[serde(flatten)]
    snapshot: &'a SnapshotInfo,
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
fn rfc3339(t: i64) -> String {
    let day = asiaq_core::snapshots::utc_day(t);
    let s = t.rem_euclid(86_400);
    format!("{day}T{:02}:{:02}:{:02}Z", s / 3600, s % 3600 / 60, s % 60)
}

pub fn run(global: &GlobalArgs, cmd: &SnapshotCommand) -> Result<(), CliError> {
    let cfg = HostsConfig::load(global)?;
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
                    println!("would snapshot an empty {size} GB volume in {zone} for {hc:?}");
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
                emit(global.output, &id, |out: &mut dyn Write| {
                    writeln!(out, "{id}")
                })
            }
            SnapshotCommand::List { hostclass } => {
                let mut list = snapshots::env_snapshots(&ctx, env, hostclass).await?;
                list.sort_by(|a, b| {
                    (a.tag("hostclass"), a.start_time).cmp(&(b.tag("hostclass"), b.start_time))
                });
                let rows: Vec<Row> = list
                    .iter()
                    .map(|s| Row {
                        hostclass: s.tag("hostclass").unwrap_or("-"),
                        snapshot: s,
                    })
                    .collect();
                emit(global.output, &rows, |out: &mut dyn Write| {
                    for r in &rows {
                        writeln!(
                            out,
                            "{:<26} {:<13} {:<9} {} {}",
                            r.hostclass,
                            r.snapshot.id,
                            r.snapshot.state,
                            rfc3339(r.snapshot.start_time),
                            r.snapshot.size_gb
                        )?;
                    }
                    Ok(())
                })
            }
            SnapshotCommand::Cleanup { keep, dry_run } => {
                let list = snapshots::env_snapshots(&ctx, env, &[]).await?;
                let doomed: Vec<String> = cleanup_selection(&list, *keep)
                    .iter()
                    .map(|s| s.id.clone())
                    .collect();
                if !dry_run {
                    for id in &doomed {
                        snapshots::delete(&ctx, id).await?;
                    }
                }
                print_deleted(global, &doomed, *dry_run)
            }
            SnapshotCommand::Delete { snapshot, dry_run } => {
                let list = snapshots::env_snapshots(&ctx, env, &[]).await?;
                let mine: BTreeSet<&str> = list.iter().map(|s| s.id.as_str()).collect();
                let (ok, foreign): (Vec<String>, Vec<String>) = snapshot
                    .iter()
                    .cloned()
                    .partition(|s| mine.contains(s.as_str()));
                for f in &foreign {
                    progress::note(format!(
                        "{f} is not a snapshot of environment {env}; skipped"
                    ));
                }
                if !dry_run {
                    for id in &ok {
                        snapshots::delete(&ctx, id).await?;
                    }
                }
                print_deleted(global, &ok, *dry_run)?;
                if foreign.is_empty() {
                    Ok(())
                } else {
                    Err(CliError::failed(format!(
                        "not deleted (not tagged env={env}): {}",
                        foreign.join(", ")
                    )))
                }
            }
            SnapshotCommand::Capture(a) => {
                if let Some(vol) = &a.volume_id {
                    let id = snapshots::capture_volume(&ctx, vol, &extra_tags).await?;
                    return emit(global.output, &id, |out: &mut dyn Write| {
                        writeln!(out, "{id}")
                    });
                }
                let sel = Selectors {
                    instance: a.instance.clone(),
                    hostname: a.hostname.clone(),
                    hostclass: a.hostclass.clone(),
                    ami: a.ami.clone(),
                    asg: a.asg.clone(),
                }
                .selector();
                let network = hosts_env::environment(&ctx, env).await?;
                let hosts = instances::describe(&ctx, &network.vpc_id, Some(&sel)).await?;
                let route = SshRoute {
                    proxy_command: hc_config::ssh_proxy_command(&cfg.aws),
                    config_file: std::env::var_os(asiaq_core::env_vars::EnvVars::ASIAQ_SSH_CONFIG)
                        .map(Into::into),
                    jump_host: None,
                };
                let mut failed = Vec::new();
                for h in hosts.iter().filter(|h| h.state == "running") {
                    let r =
                        remote::exec(&route, h, "snapshot", "sudo /opt/wgen/bin/take_snapshot.sh")
                            .await
                            .map_err(|e| CliError::failed(format!("cannot run ssh: {e}")))?;
                    std::io::stdout().write_all(&r.output).ok();
                    if r.code != 0 {
                        failed.push(format!("{} (exit {})", h.id, r.code));
                    }
                }
                if failed.is_empty() {
                    Ok(())
                } else {
                    Err(CliError::failed(format!(
                        "snapshot script failed on {}",
                        failed.join(", ")
                    )))
                }
            }
            SnapshotCommand::Update {
                hostclass,
                snapshot_id,
                dry_run,
            } => {
                let list =
                    snapshots::env_snapshots(&ctx, env, std::slice::from_ref(hostclass)).await?;
                let snap = match snapshot_id {
                    Some(id) => list.iter().find(|s| &s.id == id).cloned().ok_or_else(|| {
                        CliError::failed(format!(
                            "snapshot {id} is not a snapshot of {hostclass} in {env}"
                        ))
                    })?,
                    None => latest(&list, hostclass).cloned().ok_or_else(|| {
                        CliError::failed(format!("{hostclass} has no snapshot in {env}"))
                    })?,
                };
                let all = groups::env_groups(&ctx, env).await?;
                let names: Vec<&str> = all.iter().map(|g| g.name.as_str()).collect();
                let mine = groups_of_hostclass(&names, env, hostclass);
                let name = existing_group(&mine, hostclass, false)
                    .map_err(|e| CliError::failed(e.to_string()))?
                    .ok_or_else(|| {
                        CliError::failed(format!("{hostclass} has no group in {env}"))
                    })?;
                let g = all
                    .iter()
                    .find(|g| g.name == name)
                    .ok_or_else(|| CliError::failed(format!("group {name} is no longer listed")))?;
                if *dry_run {
                    println!(
                        "would point {} at {} ({} GB)",
                        g.name, snap.id, snap.size_gb
                    );
                    return Ok(());
                }
                let version = snapshots::point_group_at_snapshot(&ctx, g, &snap).await?;
                emit(global.output, &version, |out: &mut dyn Write| {
                    writeln!(
                        out,
                        "{} now uses {} (launch template version {version})",
                        g.name, snap.id
                    )
                })
            }
        }
    })
}

fn print_deleted(global: &GlobalArgs, ids: &[String], dry_run: bool) -> Result<(), CliError> {
    emit(global.output, &ids, |out: &mut dyn Write| {
        for id in ids {
            writeln!(
                out,
                "{} {id}",
                if dry_run { "would delete" } else { "deleted" }
            )?;
        }
        Ok(())
    })
}
