//! `asiaq acfg SOURCE DEST` (the original's `acfg1.py`; spec §2.25, §3.9): overlays a
//! `discoroot/` tree onto a host, choosing `~hostclass` variants, then applies the modes and
//! owners of `acfg.metadata`, creating missing users and groups. It runs on the baked host
//! (a bake installs asiaq as `<data_destination>/asiaq/bin/asiaq`; `init/phase2.sh` calls
//! it); it makes no AWS call and needs no configuration directory.
//!
//! What to install where is decided by `asiaq_core::acfg`; this module walks the tree and
//! does the copying. `acfg.metadata` is read and checked before anything is changed.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use asiaq_config::acfg_metadata;
use asiaq_config::ConfigError;
use asiaq_core::acfg::{self, Action, MetadataRule};
use asiaq_engine::report::note;
use clap::Args;

use crate::cli::GlobalArgs;
use crate::exit::CliError;
use crate::output::emit;

/// Where users and groups live (the host's, whatever the destination).
const PASSWD: &str = "/etc/passwd";
const GROUP: &str = "/etc/group";
const SHADOW: &str = "/etc/shadow";
const GSHADOW: &str = "/etc/gshadow";
/// Where account tools are looked for besides PATH (a root ssh session's PATH may lack them).
const SBIN_DIRS: &str = "/usr/local/sbin:/usr/sbin:/sbin";

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

fn io_err(what: impl std::fmt::Display, path: &Path, e: std::io::Error) -> CliError {
    CliError::failed(format!("cannot {what} {}: {e}", path.display()))
}

pub fn run(global: &GlobalArgs, args: &AcfgArgs) -> Result<(), CliError> {
    let hostclasses = if args.hostclasses.is_empty() {
        let text = fs::read_to_string(acfg::HOSTCLASS_FILE).map_err(|e| {
            CliError::usage(format!(
                "no --hostclass given and cannot read {}: {e}",
                acfg::HOSTCLASS_FILE
            ))
        })?;
        vec![acfg::hostclass_from_file(&text)
            .ok_or_else(|| CliError::usage(format!("{} is empty", acfg::HOSTCLASS_FILE)))?]
    } else {
        args.hostclasses.clone()
    };
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
    if !args.dry {
        for a in &actions {
            overlay(a)?;
        }
    }
    apply_metadata(
        &rules,
        &hostclasses,
        &args.destination,
        args.dry,
        &mut actions,
    )?;
    if args.dry {
        emit(global.output, &actions, |w| {
            for a in &actions {
                writeln!(w, "{a}")?;
            }
            Ok(())
        })
    } else {
        emit(global.output, &actions, |_| Ok(()))
    }
}

/// A read error is a failure (exit 1); a bad `acfg.metadata` a usage error (exit 2).
fn config_err(e: ConfigError) -> CliError {
    match e {
        ConfigError::Io { .. } => CliError::failed(e.to_string()),
        e => e.into(),
    }
}

/// Makes a directory (with the source's mode and times) or copies a file.
fn overlay(action: &Action) -> Result<(), CliError> {
    match action {
        Action::MakeDirectory { path, source } => {
            let dpath = Path::new(path);
            note(format!("make directory {path}"));
            if !dpath.is_dir() {
                fs::create_dir_all(dpath).map_err(|e| io_err("make directory", dpath, e))?;
            }
            copy_stat(Path::new(source), dpath)
        }
        Action::Copy { source, dest } => {
            note(format!("copying {source} to {dest}"));
            fs::copy(source, dest)
                .map(drop)
                .map_err(|e| io_err("copy to", Path::new(dest), e))
        }
        _ => Ok(()),
    }
}

/// `shutil.copystat` of a directory: mode bits, access and modification times.
fn copy_stat(source: &Path, dest: &Path) -> Result<(), CliError> {
    let meta = fs::metadata(source).map_err(|e| io_err("read", source, e))?;
    fs::set_permissions(
        dest,
        fs::Permissions::from_mode(meta.permissions().mode() & 0o7777),
    )
    .map_err(|e| io_err("set the mode of", dest, e))?;
    let times = fs::FileTimes::new()
        .set_accessed(meta.accessed().map_err(|e| io_err("read", source, e))?)
        .set_modified(meta.modified().map_err(|e| io_err("read", source, e))?);
    fs::File::open(dest)
        .and_then(|f| f.set_times(times))
        .map_err(|e| io_err("set the times of", dest, e))
}

fn apply_metadata(
    rules: &[MetadataRule],
    hostclasses: &[String],
    dest: &Path,
    dry: bool,
    actions: &mut Vec<Action>,
) -> Result<(), CliError> {
    let dest_text = dest.to_string_lossy();
    for rule in acfg::select_metadata(rules, hostclasses) {
        let path = PathBuf::from(acfg::dest_path(&dest_text, &rule.path));
        if fs::symlink_metadata(&path).is_err() {
            note(format!(
                "warning: skipping permissions (file not found): {}",
                path.display()
            ));
            actions.push(Action::MissingPath {
                path: path.display().to_string(),
                line: rule.line,
            });
            continue;
        }
        actions.push(acfg::metadata_action(
            &path.display().to_string(),
            rule,
            &read_ids(GROUP)?,
            &read_ids(PASSWD)?,
        ));
        if dry {
            continue;
        }
        let gid = ensure_group(&rule.group)?;
        let uid = ensure_user(&rule.owner, &rule.group, gid)?;
        note(format!(
            "setting {} to {:04o} {}:{}",
            path.display(),
            rule.mode,
            rule.owner,
            rule.group
        ));
        std::os::unix::fs::chown(&path, Some(uid), Some(gid))
            .map_err(|e| io_err("change the owner of", &path, e))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(rule.mode))
            .map_err(|e| io_err("set the mode of", &path, e))?;
    }
    Ok(())
}

fn read_ids(file: &str) -> Result<Vec<acfg::IdEntry>, CliError> {
    acfg_metadata::read_ids(Path::new(file)).map_err(config_err)
}

/// Runs an account tool if it is installed; `false` when it is not (or could not run).
fn try_tool(argv: &[String]) -> bool {
    let path = format!(
        "{}:{SBIN_DIRS}",
        std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".to_string())
    );
    let Some((program, args)) = argv.split_first() else {
        return false;
    };
    match std::process::Command::new(program)
        .args(args)
        .env("PATH", path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
    {
        Ok(status) => status.success(),
        Err(_) => false,
    }
}

/// Appends a line to an account file (and to its shadow file when that exists).
fn append_account(file: &str, line: &str, shadow: &str, shadow_line: &str) -> Result<(), CliError> {
    let text = fs::read_to_string(file).unwrap_or_default();
    fs::write(file, acfg::append_line(&text, line))
        .map_err(|e| io_err("write", Path::new(file), e))?;
    if let Ok(s) = fs::read_to_string(shadow) {
        fs::write(shadow, acfg::append_line(&s, shadow_line))
            .map_err(|e| io_err("write", Path::new(shadow), e))?;
    }
    Ok(())
}

/// The gid of `group`, creating the group when it is missing.
fn ensure_group(group: &str) -> Result<u32, CliError> {
    if let Some(gid) = acfg::lookup_id(&read_ids(GROUP)?, group) {
        return Ok(gid);
    }
    note(format!("creating group {group}"));
    for argv in acfg::group_commands(group) {
        if try_tool(&argv) {
            if let Some(gid) = acfg::lookup_id(&read_ids(GROUP)?, group) {
                return Ok(gid);
            }
        }
    }
    // No tool on this host (a minimal image): write the entry as the tools do.
    let used: Vec<u32> = read_ids(GROUP)?.iter().map(|e| e.id).collect();
    let gid = acfg::free_system_id(&used)
        .ok_or_else(|| CliError::failed(format!("no free system group id for {group}")))?;
    append_account(
        GROUP,
        &acfg::group_line(group, gid),
        GSHADOW,
        &acfg::gshadow_line(group),
    )?;
    Ok(gid)
}

/// The uid of `user`, creating a system user (primary group `gid`, no login shell) when it
/// is missing.
fn ensure_user(user: &str, group: &str, gid: u32) -> Result<u32, CliError> {
    if let Some(uid) = acfg::lookup_id(&read_ids(PASSWD)?, user) {
        return Ok(uid);
    }
    note(format!("creating user {user}"));
    for argv in acfg::user_commands(user, group, gid) {
        if try_tool(&argv) {
            if let Some(uid) = acfg::lookup_id(&read_ids(PASSWD)?, user) {
                return Ok(uid);
            }
        }
    }
    let used: Vec<u32> = read_ids(PASSWD)?.iter().map(|e| e.id).collect();
    let uid = acfg::free_system_id(&used)
        .ok_or_else(|| CliError::failed(format!("no free system user id for {user}")))?;
    append_account(
        PASSWD,
        &acfg::passwd_line(user, uid, gid),
        SHADOW,
        &acfg::shadow_line(user),
    )?;
    Ok(uid)
}
