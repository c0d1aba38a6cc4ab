//! `asiaq purge-snapshots` (disco_purge_snapshots.py): delete the account's stray, unlabelled
//! and old EBS snapshots. With no selection option: `--stray-ami --no-metadata --keep-days
//! 100 --keep-num 5` (the original's intent). The selection is
//! `asiaq_core::snapshots::purge_selection`, the work `asiaq_aws::hosts::snapshots::purge`.

use asiaq_aws::hosts::snapshots;
use asiaq_core::snapshots::{purge_options, text};
use clap::Args;

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

pub fn run(global: &GlobalArgs, a: &PurgeSnapshotsArgs) -> Result<(), CliError> {
    let opts = purge_options(
        a.stray_ami,
        a.no_metadata,
        a.old,
        a.keep_days,
        a.keep_num,
        a.max_per_day,
    )
    .map_err(CliError::usage)?;
    aws_session::run(global, |ctx| async move {
        let rows = snapshots::purge(&ctx, &opts, a.dry_run).await?;
        emit(global.output, &rows, |out| {
            rows.iter()
                .try_for_each(|r| writeln!(out, "{}", r.line(a.dry_run)))
        })?;
        let failures = rows.iter().filter(|r| !a.dry_run && !r.deleted).count();
        text::purge_failures(failures).map_or(Ok(()), |r| Err(r.into()))
    })
}
