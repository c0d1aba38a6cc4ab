//! `asiaq purge-snapshots` (disco_purge_snapshots.py): delete the account's stray, unlabelled
//! and old EBS snapshots. With no selection option: `--stray-ami --no-metadata --keep-days
//! 100 --keep-num 5` (the original's intent).

use std::io::Write;

use asiaq_aws::hosts::{now_unix, snapshots};
use asiaq_core::snapshots::{purge_selection, PurgeOptions, PurgeReason};
use asiaq_engine::report as progress;
use clap::Args;
use serde::Serialize;

use super::aws_session;
use crate::cli::GlobalArgs;
use crate::exit::CliError;
use crate::output::emit;

#[derive(Debug, Args)]
pub struct PurgeSnapshotsArgs {
    /// Snapshots made by CreateImage for AMIs that no longer exist
    #[arg(long)]
    pub stray_ami: bool,
    /// Snapshots with neither a description nor tags
    #[arg(long)]
    pub no_metadata: bool,
    /// Deprecated: --keep-days 100
    #[arg(long)]
    pub old: bool,
    /// Snapshots older than DAYS
    #[arg(long, value_name = "DAYS")]
    pub keep_days: Option<u32>,
    /// Always keep the newest NUM of each hostclass and environment (at least 1)
    #[arg(long, value_name = "NUM")]
    pub keep_num: Option<usize>,
    /// For each hostclass and environment, keep only the newest N of each day older than a day
    #[arg(long, value_name = "N")]
    pub max_per_day: Option<usize>,
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Serialize)]
struct Deleted {
    id: String,
    reason: PurgeReason,
    deleted: bool,
}

pub fn run(global: &GlobalArgs, a: &PurgeSnapshotsArgs) -> Result<(), CliError> {
    if a.keep_num == Some(0) {
        return Err(CliError::usage("--keep-num must be at least 1"));
    }
    let mut opts = PurgeOptions {
        stray_ami: a.stray_ami,
        no_metadata: a.no_metadata,
        keep_days: a.keep_days.or(a.old.then_some(100)),
        keep_num: a.keep_num,
        max_per_day: a.max_per_day,
    };
    if opts.is_empty() {
        opts = PurgeOptions::defaults();
    }
    aws_session::run(global, |ctx| async move {
        let (all, (own_amis, in_use)) =
            futures::try_join!(snapshots::all_snapshots(&ctx), snapshots::own_images(&ctx))?;
        let selected = purge_selection(&all, &own_amis, &in_use, &opts, now_unix());
        let mut rows = Vec::new();
        let mut failures = 0;
        for (s, reason) in selected {
            let mut deleted = false;
            if !a.dry_run {
                match snapshots::delete(&ctx, &s.id).await {
                    Ok(()) => deleted = true,
                    Err(e) => {
                        failures += 1;
                        progress::note(format!("cannot delete {}: {e}", s.id));
                    }
                }
            }
            rows.push(Deleted {
                id: s.id.clone(),
                reason,
                deleted,
            });
        }
        emit(global.output, &rows, |out: &mut dyn Write| {
            for r in &rows {
                writeln!(
                    out,
                    "{} {} ({})",
                    if a.dry_run {
                        "would delete"
                    } else if r.deleted {
                        "deleted"
                    } else {
                        "FAILED to delete"
                    },
                    r.id,
                    r.reason
                )?;
            }
            Ok(())
        })?;
        if failures > 0 {
            Err(CliError::failed(format!(
                "{failures} snapshot(s) could not be deleted"
            )))
        } else {
            Ok(())
        }
    })
}
