//! The host side of `acfg` and `accounts install`: overlay copies, modes and owners, the
//! account files (`/etc/passwd`, `/etc/group` and their shadows), the account tools
//! (`groupadd`, `useradd`, ...) and `authorized_keys`. What to do is decided by
//! `asiaq_core::acfg` and `asiaq_core::accounts`; this module does it. Errors are one line
//! each (the operation failed); progress goes to the `note` callback.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use asiaq_core::accounts::{
    merge_authorized_keys, parse_id_file, primary_gid, system_accounts, HostCommand, SystemAccounts,
};
use asiaq_core::acfg::{self, Action, IdEntry, MetadataRule};

use crate::acfg_metadata;

/// Where account tools are looked for besides PATH (a root ssh session's PATH may lack them).
const SBIN_DIRS: &str = "/usr/local/sbin:/usr/sbin:/sbin";

fn io_err(what: impl std::fmt::Display, path: &Path, e: std::io::Error) -> String {
    format!("cannot {what} {}: {e}", path.display())
}

/// The account files of a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountFiles {
    pub passwd: PathBuf,
    pub group: PathBuf,
    pub shadow: PathBuf,
    pub gshadow: PathBuf,
}

impl AccountFiles {
    /// This host's (whatever the overlay's destination).
    pub fn host() -> Self {
        AccountFiles {
            passwd: "/etc/passwd".into(),
            group: "/etc/group".into(),
            shadow: "/etc/shadow".into(),
            gshadow: "/etc/gshadow".into(),
        }
    }
}

/// How `acfg` changes a host: its account files, how an account tool is run (`false` when
/// it is missing or failed; [`run_tool`] on a real host) and where progress goes.
pub struct Host<'a> {
    pub files: AccountFiles,
    pub tool: &'a mut dyn FnMut(&[String]) -> bool,
    pub note: &'a mut dyn FnMut(String),
}

/// Runs an account tool if it is installed (PATH plus the sbin directories, no terminal);
/// `false` when it is not, could not run, or failed.
pub fn run_tool(argv: &[String]) -> bool {
    let path = format!(
        "{}:{SBIN_DIRS}",
        std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".to_string())
    );
    let Some((program, args)) = argv.split_first() else {
        return false;
    };
    Command::new(program)
        .args(args)
        .env("PATH", path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Carries out an overlay action: makes a directory (with the source's mode and times) or
/// copies a file; other actions do nothing here.
pub fn overlay(action: &Action, note: &mut dyn FnMut(String)) -> Result<(), String> {
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
fn copy_stat(source: &Path, dest: &Path) -> Result<(), String> {
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

/// Applies the metadata `rules` chosen for `hostclasses` under `dest`, appending what it
/// does (or would do, `dry`) to `actions`: a missing path is skipped with a warning; a
/// missing owner or group is created first.
pub fn apply_metadata(
    rules: &[MetadataRule],
    hostclasses: &[String],
    dest: &Path,
    dry: bool,
    actions: &mut Vec<Action>,
    host: &mut Host<'_>,
) -> Result<(), String> {
    let dest_text = dest.to_string_lossy();
    for rule in acfg::select_metadata(rules, hostclasses) {
        let path = PathBuf::from(acfg::dest_path(&dest_text, &rule.path));
        if fs::symlink_metadata(&path).is_err() {
            (host.note)(format!(
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
            &read_ids(&host.files.group)?,
            &read_ids(&host.files.passwd)?,
        ));
        if dry {
            continue;
        }
        let gid = ensure_group(host, &rule.group)?;
        let uid = ensure_user(host, &rule.owner, &rule.group, gid)?;
        (host.note)(format!(
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

fn read_ids(file: &Path) -> Result<Vec<IdEntry>, String> {
    acfg_metadata::read_ids(file).map_err(|e| e.to_string())
}

/// Appends a line to an account file (and to its shadow file when that exists).
fn append_account(file: &Path, line: &str, shadow: &Path, shadow_line: &str) -> Result<(), String> {
    let text = fs::read_to_string(file).unwrap_or_default();
    fs::write(file, acfg::append_line(&text, line)).map_err(|e| io_err("write", file, e))?;
    if let Ok(s) = fs::read_to_string(shadow) {
        fs::write(shadow, acfg::append_line(&s, shadow_line))
            .map_err(|e| io_err("write", shadow, e))?;
    }
    Ok(())
}

/// The gid of `group`, creating the group when it is missing: with the first account tool
/// that makes it, else (a minimal image without tools) by writing the entry as they do.
pub fn ensure_group(host: &mut Host<'_>, group: &str) -> Result<u32, String> {
    let file = host.files.group.clone();
    if let Some(gid) = acfg::lookup_id(&read_ids(&file)?, group) {
        return Ok(gid);
    }
    (host.note)(format!("creating group {group}"));
    for argv in acfg::group_commands(group) {
        if (host.tool)(&argv) {
            if let Some(gid) = acfg::lookup_id(&read_ids(&file)?, group) {
                return Ok(gid);
            }
        }
    }
    let used: Vec<u32> = read_ids(&file)?.iter().map(|e| e.id).collect();
    let gid = acfg::free_system_id(&used)
        .ok_or_else(|| format!("no free system group id for {group}"))?;
    append_account(
        &file,
        &acfg::group_line(group, gid),
        &host.files.gshadow,
        &acfg::gshadow_line(group),
    )?;
    Ok(gid)
}

/// The uid of `user`, creating a system user (primary group `gid`, no login shell) when it
/// is missing, as [`ensure_group`] does.
pub fn ensure_user(host: &mut Host<'_>, user: &str, group: &str, gid: u32) -> Result<u32, String> {
    let file = host.files.passwd.clone();
    if let Some(uid) = acfg::lookup_id(&read_ids(&file)?, user) {
        return Ok(uid);
    }
    (host.note)(format!("creating user {user}"));
    for argv in acfg::user_commands(user, group, gid) {
        if (host.tool)(&argv) {
            if let Some(uid) = acfg::lookup_id(&read_ids(&file)?, user) {
                return Ok(uid);
            }
        }
    }
    let used: Vec<u32> = read_ids(&file)?.iter().map(|e| e.id).collect();
    let uid =
        acfg::free_system_id(&used).ok_or_else(|| format!("no free system user id for {user}"))?;
    append_account(
        &file,
        &acfg::passwd_line(user, uid, gid),
        &host.files.shadow,
        &acfg::shadow_line(user),
    )?;
    Ok(uid)
}

/// Local accounts from the passwd and group files (the files `useradd` and `groupadd`
/// write); an unreadable file has none.
pub fn read_system_accounts(files: &AccountFiles) -> SystemAccounts {
    let read = |p: &Path| fs::read_to_string(p).unwrap_or_default();
    system_accounts(&read(&files.passwd), &read(&files.group))
}

/// Runs an `accounts install` command; the error says why it did not succeed.
pub fn run_command(command: &HostCommand) -> Result<(), String> {
    match Command::new(command.program).args(&command.args).status() {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!("{} exited with {s}", command.program)),
        Err(e) => Err(format!("cannot run {}: {e}", command.program)),
    }
}

/// Adds the keys missing from `~user/.ssh/authorized_keys` (the user's home from the passwd
/// file); the directory is 0700 and the file 0600, both owned by the user.
pub fn install_keys(files: &AccountFiles, user: &str, keys: &[String]) -> Result<(), String> {
    let passwd_text = fs::read_to_string(&files.passwd).unwrap_or_default();
    let passwd = parse_id_file(&passwd_text);
    let Some((uid, home)) = passwd.get(user) else {
        return Err("not in /etc/passwd after installing".into());
    };
    let gid = primary_gid(&passwd_text, user).unwrap_or(*uid);
    if home.is_empty() {
        return Err("has no home directory".into());
    }
    let ssh_dir = Path::new(home).join(".ssh");
    let file = ssh_dir.join("authorized_keys");
    fs::create_dir_all(&ssh_dir).map_err(|e| io_err("create", &ssh_dir, e))?;
    let existing = fs::read_to_string(&file).unwrap_or_default();
    if let Some(text) = merge_authorized_keys(&existing, keys) {
        fs::write(&file, text).map_err(|e| io_err("write", &file, e))?;
    }
    for (path, mode) in [(&ssh_dir, 0o700), (&file, 0o600)] {
        std::os::unix::fs::chown(path, Some(*uid), Some(gid))
            .map_err(|e| io_err("chown", path, e))?;
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
            .map_err(|e| io_err("chmod", path, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &Path) -> AccountFiles {
        AccountFiles {
            passwd: dir.join("passwd"),
            group: dir.join("group"),
            shadow: dir.join("shadow"),
            gshadow: dir.join("gshadow"),
        }
    }

    fn rule(path: &str, mode: u32, owner: &str, group: &str, line: usize) -> MetadataRule {
        MetadataRule {
            path: path.into(),
            hostclass: None,
            mode,
            owner: owner.into(),
            group: group.into(),
            line,
        }
    }

    #[test]
    fn ensure_group_finds_an_existing_group_without_running_tools() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("group"), "wheel:x:10:\n").unwrap();
        let mut tools = Vec::new();
        let mut notes = Vec::new();
        let mut tool = |a: &[String]| {
            tools.push(a.join(" "));
            false
        };
        let mut note = |n: String| notes.push(n);
        let mut host = Host {
            files: files(d.path()),
            tool: &mut tool,
            note: &mut note,
        };
        assert_eq!(ensure_group(&mut host, "wheel"), Ok(10));
        assert!(tools.is_empty() && notes.is_empty());
    }

    #[test]
    fn without_tools_accounts_are_written_with_free_system_ids() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("group"), "top:x:999:").unwrap();
        fs::write(d.path().join("gshadow"), "").unwrap();
        fs::write(d.path().join("passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
        // No shadow file: none is written.
        let mut tried = 0;
        let mut tool = |_: &[String]| {
            tried += 1;
            false
        };
        let mut notes = Vec::new();
        let mut note = |n: String| notes.push(n);
        let mut host = Host {
            files: files(d.path()),
            tool: &mut tool,
            note: &mut note,
        };
        assert_eq!(ensure_group(&mut host, "app"), Ok(998));
        assert_eq!(ensure_user(&mut host, "app", "app", 998), Ok(999));
        let read = |f: &str| fs::read_to_string(d.path().join(f)).unwrap();
        assert_eq!(read("group"), "top:x:999:\napp:x:998:\n");
        assert_eq!(read("gshadow"), "app:!::\n");
        assert!(read("passwd").ends_with("app:x:999:998::/nonexistent:/sbin/nologin\n"));
        assert!(!d.path().join("shadow").exists());
        assert_eq!(notes, ["creating group app", "creating user app"]);
        assert_eq!(tried, 3 + 4);
    }

    #[test]
    fn a_tool_that_creates_the_group_ends_the_search() {
        let d = tempfile::tempdir().unwrap();
        let group = d.path().join("group");
        let mut tried = Vec::new();
        let mut tool = |a: &[String]| {
            tried.push(a[0].clone());
            fs::write(&group, "app:x:321:\n").unwrap();
            true
        };
        let mut note = |_: String| {};
        let mut host = Host {
            files: files(d.path()),
            tool: &mut tool,
            note: &mut note,
        };
        assert_eq!(ensure_group(&mut host, "app"), Ok(321));
        assert_eq!(tried, ["groupadd"]);
    }

    #[test]
    fn dry_metadata_reports_missing_paths_and_accounts_and_changes_nothing() {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("root");
        fs::create_dir_all(dest.join("etc")).unwrap();
        fs::write(dest.join("etc/app.conf"), "").unwrap();
        fs::write(d.path().join("group"), "wheel:x:10:\n").unwrap();
        let rules = [
            rule("/etc/app.conf", 0o640, "app", "wheel", 1),
            rule("/etc/gone", 0o600, "root", "root", 2),
        ];
        let mut tool = |_: &[String]| panic!("a dry run runs no tool");
        let mut notes = Vec::new();
        let mut note = |n: String| notes.push(n);
        let mut host = Host {
            files: files(d.path()),
            tool: &mut tool,
            note: &mut note,
        };
        let mut actions = Vec::new();
        apply_metadata(&rules, &[], &dest, true, &mut actions, &mut host).unwrap();
        assert_eq!(actions.len(), 2);
        let Action::Metadata { mode, creates, .. } = &actions[0] else {
            panic!("{:?}", actions[0]);
        };
        assert_eq!(
            (mode.as_str(), creates.clone()),
            ("0640", vec!["user app".to_string()])
        );
        assert!(matches!(&actions[1], Action::MissingPath { line: 2, .. }));
        assert_eq!(notes.len(), 1);
        assert!(notes[0].starts_with("warning: skipping permissions (file not found): "));
        assert_eq!(
            fs::read_to_string(d.path().join("group")).unwrap(),
            "wheel:x:10:\n"
        );
    }

    #[test]
    fn overlay_copies_files_and_makes_directories_with_the_source_mode() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        fs::create_dir_all(&src).unwrap();
        fs::set_permissions(&src, fs::Permissions::from_mode(0o750)).unwrap();
        fs::write(d.path().join("f"), "x").unwrap();
        let mut notes = Vec::new();
        let mut note = |n: String| notes.push(n);
        let made = d.path().join("made/deep");
        let mkdir = Action::MakeDirectory {
            path: made.display().to_string(),
            source: src.display().to_string(),
        };
        overlay(&mkdir, &mut note).unwrap();
        let mode = fs::metadata(&made).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o750);
        let copy = Action::Copy {
            source: d.path().join("f").display().to_string(),
            dest: made.join("f").display().to_string(),
        };
        overlay(&copy, &mut note).unwrap();
        assert_eq!(fs::read_to_string(made.join("f")).unwrap(), "x");
        let missing = Action::Copy {
            source: d.path().join("none").display().to_string(),
            dest: made.join("g").display().to_string(),
        };
        assert!(overlay(&missing, &mut note)
            .unwrap_err()
            .starts_with("cannot copy to "));
        assert!(notes[1].starts_with("copying "));
    }

    #[test]
    fn system_accounts_of_unreadable_files_are_none() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(
            read_system_accounts(&files(d.path())),
            SystemAccounts::default()
        );
        fs::write(d.path().join("group"), "wheel:x:10:\n").unwrap();
        assert_eq!(read_system_accounts(&files(d.path())).groups["wheel"], 10);
    }

    #[test]
    fn keys_of_a_user_without_a_home_are_refused() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("passwd"), "svc:x:500:500::::\n").unwrap();
        let keys = ["ssh-ed25519 AAAA".to_string()];
        assert_eq!(
            install_keys(&files(d.path()), "svc", &keys),
            Err("has no home directory".to_string())
        );
        assert_eq!(
            install_keys(&files(d.path()), "nobody", &keys),
            Err("not in /etc/passwd after installing".to_string())
        );
    }
}
