//! `asiaq acfg SOURCE DEST` (the original's `acfg1.py`; spec §2.25, §3.9): overlays a
//! `discoroot/` tree onto a host, choosing `~hostclass` variants, then applies the modes and
//! owners of `acfg.metadata`, creating missing users and groups. It runs on the baked host
//! (a bake installs asiaq as `<data_destination>/asiaq/bin/asiaq`; `init/phase2.sh` calls
//! it); it makes no AWS call and needs no configuration directory.
//!
//! What to install where is decided by `asiaq_core::acfg`; `asiaq_config::acfg_metadata`
//! walks the tree and `asiaq_config::host` does the copying and sets modes and owners.
//! `acfg.metadata` is read and checked before anything is changed.

use std::path::PathBuf;

use asiaq_config::host::{self, AccountFiles, Host};
use asiaq_config::{acfg_metadata, ConfigError};
use asiaq_core::acfg;
use asiaq_core::printout::Printout;
use asiaq_engine::report::note;
use clap::Args;

use crate::cli::GlobalArgs;
use crate::exit::CliError;
use crate::output::print;

#[derive(Debug, Args)]
pub struct AcfgArgs {
    /// The overlay tree (a discoroot/ directory)
    pub source: PathBuf,
    /// Where to overlay it (/ on the host)
    pub destination: PathBuf,
    /// Print what would be done and change nothing
    #[arg(long, alias = "dry-run")]
    pub dry: bool,
    /// Hostclass whose ~variants apply (repeatable, in priority order; default: the first
    /// line of /opt/wgen/etc/hostclass)
    #[arg(long = "hostclass", value_name = "HC", value_parser = crate::cli::hostclass_name)]
    pub hostclasses: Vec<String>,
}

pub fn run(global: &GlobalArgs, args: &AcfgArgs) -> Result<(), CliError> {
    let hostclass_file = std::path::Path::new(acfg::HOSTCLASS_FILE);
    let hostclasses =
        acfg_metadata::hostclasses(&args.hostclasses, hostclass_file).map_err(CliError::usage)?;
    if !args.source.is_dir() {
        return Err(CliError::usage(format!(
            "{}: not a directory",
            args.source.display()
        )));
    }
    // Check acfg.metadata before changing anything (the original failed on a bad line
    // after it had copied every file).
    let rules = match acfg_metadata::read_metadata(&args.source).map_err(config_err)? {
        Some(rules) => rules,
        None => {
            note(format!(
                "warning: {} not found: no modes or owners to apply",
                args.source.join(acfg::METADATA_FILE).display()
            ));
            Vec::new()
        }
    };
    let mut actions =
        acfg_metadata::walk(&args.source, &args.destination, &hostclasses).map_err(config_err)?;
    let mut progress = |m: String| note(m);
    if !args.dry {
        for a in &actions {
            host::overlay(a, &mut progress).map_err(CliError::failed)?;
        }
    }
    let mut this_host = Host {
        files: AccountFiles::host(),
        tool: &mut host::run_tool,
        note: &mut progress,
    };
    let (dest, dry) = (&args.destination, args.dry);
    host::apply_metadata(
        &rules,
        &hostclasses,
        dest,
        dry,
        &mut actions,
        &mut this_host,
    )
    .map_err(CliError::failed)?;
    let lines = match args.dry {
        true => actions.iter().map(ToString::to_string).collect(),
        false => Vec::new(),
    };
    print(global, Printout::new(&actions, lines))
}

/// A read error is a failure (exit 1); a bad `acfg.metadata` a usage error (exit 2).
fn config_err(e: ConfigError) -> CliError {
    match e {
        ConfigError::Io { .. } => CliError::failed(e.to_string()),
        e => e.into(),
    }
}
