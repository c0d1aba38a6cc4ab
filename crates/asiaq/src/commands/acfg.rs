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

use asiaq_config::acfg_metadata::parse_metadata;
use asiaq_config::{ConfigError, Diagnostic};
use asiaq_core::acfg::{self, MetadataRule};
use asiaq_engine::report::note;
use clap::Args;
use serde::Serialize;

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

/// One thing acfg does (or would do with `--dry`).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
enum Action {
    MakeDirectory {
        path: String,
    },
    Copy {
        source: String,
        dest: String,
    },
    Skip {
        source: String,
    },
    Metadata {
        path: String,
        mode: String,
        owner: String,
        group: String,
        /// Accounts that do not exist and are (or would be) created.
        creates: Vec<String>,
    },
    MissingPath {
        path: String,
        line: usize,
    },
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::MakeDirectory { path } => write!(f, "make directory {path}"),
            Action::Copy { source, dest } => write!(f, "copy {source} to {dest}"),
            Action::Skip { source } => write!(f, "skip {source}"),
            Action::Metadata {
                path,
                mode,
                owner,
                group,
                creates,
            } => {
                write!(f, "set {path} to {mode} {owner}:{group}")?;
                if !creates.is_empty() {
                    write!(f, " (creating {})", creates.join(", "))?;
                }
                Ok(())
            }
            Action::MissingPath { path, line } => write!(
                f,
                "skip permissions of {path} (acfg.metadata line {line}): not found"
            ),
        }
    }
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
    let rules = read_metadata(&args.source)?;
    let mut actions = Vec::new();
    let mut walker = Walker {
        hostclasses: &hostclasses,
        dry: args.dry,
        actions: &mut actions,
    };
    walker.walk(&args.source, &args.destination)?;
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

fn read_metadata(source: &Path) -> Result<Vec<MetadataRule>, CliError> {
    let path = source.join(acfg::METADATA_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            note(format!(
                "warning: {} not found: no modes or owners to apply",
                path.display()
            ));
            return Ok(Vec::new());
        }
        Err(e) => return Err(io_err("read", &path, e)),
    };
    let entries =
        parse_metadata(&path, &text).map_err(|d| CliError::from(ConfigError::Invalid(d)))?;
    let mut bad = Vec::new();
    for e in &entries {
        for name in [&e.owner, &e.group] {
            if !acfg::valid_account_name(name) {
                bad.push(Diagnostic::error(
                    &path,
                    Some(e.line),
                    format!("{name:?} is not a valid user or group name"),
                    Some("letters, digits, _ - . (not starting with -)".into()),
                ));
            }
        }
    }
    if !bad.is_empty() {
        return Err(CliError::from(ConfigError::Invalid(bad)));
    }
    Ok(entries
        .into_iter()
        .map(|e| {
            // acfg splits a name at its first "~" (see asiaq_core::acfg).
            let joined = match &e.hostclass {
                Some(hc) => format!("{}~{hc}", e.path),
                None => e.path.clone(),
            };
            let (path, hostclass) = acfg::split_variant(&joined);
            MetadataRule {
                path: path.to_string(),
                hostclass: hostclass.map(str::to_string),
                mode: e.mode,
                owner: e.owner,
                group: e.group,
                line: e.line,
            }
        })
        .collect())
}

struct Walker<'a> {
    hostclasses: &'a [String],
    dry: bool,
    actions: &'a mut Vec<Action>,
}

impl Walker<'_> {
    /// The original's `os.walk` top-down: in each directory, first every subdirectory is
    /// made (with the source's mode and times), then the chosen files are copied; then each
    /// subdirectory is walked. Symbolic links to directories are made as directories but
    /// not followed (as `os.walk`); links to files are copied as files.
    fn walk(&mut self, source: &Path, dest: &Path) -> Result<(), CliError> {
        let mut dirs: Vec<(String, PathBuf)> = Vec::new();
        let mut files: Vec<String> = Vec::new();
        let entries = fs::read_dir(source).map_err(|e| io_err("read", source, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| io_err("read", source, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            let kind = entry.file_type().map_err(|e| io_err("read", &path, e))?;
            let is_dir = kind.is_dir() || (kind.is_symlink() && path.is_dir());
            if is_dir {
                dirs.push((name, path));
            } else {
                files.push(name);
            }
        }
        dirs.sort();
        for (name, spath) in &dirs {
            let dpath = dest.join(name);
            self.actions.push(Action::MakeDirectory {
                path: dpath.display().to_string(),
            });
            if !self.dry {
                note(format!("make directory {}", dpath.display()));
                if !dpath.is_dir() {
                    fs::create_dir_all(&dpath).map_err(|e| io_err("make directory", &dpath, e))?;
                }
                copy_stat(spath, &dpath)?;
            }
        }
        let chosen = acfg::select_files(&files, self.hostclasses);
        for s in &chosen.skipped {
            self.actions.push(Action::Skip {
                source: source.join(s).display().to_string(),
            });
        }
        for c in &chosen.install {
            let spath = source.join(&c.source);
            let dpath = dest.join(&c.dest);
            self.actions.push(Action::Copy {
                source: spath.display().to_string(),
                dest: dpath.display().to_string(),
            });
            if !self.dry {
                note(format!(
                    "copying {} to {}",
                    spath.display(),
                    dpath.display()
                ));
                fs::copy(&spath, &dpath).map_err(|e| io_err("copy to", &dpath, e))?;
            }
        }
        for (name, spath) in &dirs {
            let is_link = fs::symlink_metadata(spath)
                .map(|m| m.file_type().is_symlink())
                .unwrap_or(false);
            if !is_link {
                self.walk(spath, &dest.join(name))?;
            }
        }
        Ok(())
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
        let mut creates = Vec::new();
        let groups = read_ids(GROUP)?;
        if acfg::lookup_id(&groups, &rule.group).is_none() {
            creates.push(format!("group {}", rule.group));
        }
        let users = read_ids(PASSWD)?;
        if acfg::lookup_id(&users, &rule.owner).is_none() {
            creates.push(format!("user {}", rule.owner));
        }
        actions.push(Action::Metadata {
            path: path.display().to_string(),
            mode: format!("{:04o}", rule.mode),
            owner: rule.owner.clone(),
            group: rule.group.clone(),
            creates,
        });
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
    match fs::read_to_string(file) {
        Ok(t) => Ok(acfg::parse_id_file(&t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(io_err("read", Path::new(file), e)),
    }
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
