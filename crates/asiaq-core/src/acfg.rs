//! The on-host file overlay (`asiaq acfg`, the original's `acfg1.py`; spec §2.25, §3.9):
//! which source file installs to which path, which `acfg.metadata` entry applies to a path,
//! and how missing owners and groups are created. Pure: the binary walks the tree, asks
//! these functions, and does the copying.
//!
//! Decisions (also in README.md, "Decisions", "Images"):
//! * A name is split at its **first** `~`, as the original's `str.partition("~")`:
//!   `a~b~c` is a variant of `a` for hostclass `b~c` (which never matches).
//! * A file whose name ends in `~` (`motd~`, an editor backup) is skipped. The original read
//!   it as a plain `motd` and installed whichever of the two `os.walk` listed last.
//! * When several `acfg.metadata` entries name one path, only the winner (best hostclass
//!   priority; the first of equals) is applied. The original applied a plain entry first and
//!   then overrode it, creating the plain entry's owner on the way.
//! * Owners and groups missing from the host are created with the first tool that exists
//!   and works: `groupadd -f` (shadow-utils), `addgroup --system` (Debian's adduser),
//!   busybox `addgroup -S`; for users `adduser --system --gid GID --shell /sbin/nologin`
//!   (the original's command), `useradd -r`, the original's fallback `adduser -r`, busybox
//!   `adduser -S -D -H`. When none is installed (a minimal image), the entry is appended to
//!   `/etc/group` / `/etc/passwd` (and `/etc/gshadow` / `/etc/shadow` when they exist) as
//!   those tools do, with the highest free system id below 1000.

use serde::Serialize;

/// The `acfg.metadata` file at the root of the source tree; never installed.
pub const METADATA_FILE: &str = "acfg.metadata";
/// Where the hostclass is read from when none is given (`--hostclass`).
pub const HOSTCLASS_FILE: &str = "/opt/wgen/etc/hostclass";
/// Login shell of the users acfg creates (downstream init scripts change it if needed).
pub const NOLOGIN_SHELL: &str = "/sbin/nologin";

/// Splits a file name at its first `~`: `("httpd.conf", Some("mhcweb"))` for
/// `httpd.conf~mhcweb`; `(name, None)` without a `~`.
pub fn split_variant(name: &str) -> (&str, Option<&str>) {
    match name.split_once('~') {
        Some((base, hc)) => (base, Some(hc)),
        None => (name, None),
    }
}

/// Priority of a variant: index of its hostclass in the active list (lower wins); plain
/// names rank after every variant. `None` when the variant is not for an active hostclass.
fn priority(variant: Option<&str>, hostclasses: &[String]) -> Option<usize> {
    match variant {
        None => Some(usize::MAX),
        Some(hc) => hostclasses.iter().position(|h| h == hc),
    }
}

/// One file to install: `source` (a name in the source directory) to `dest` (a name in the
/// matching destination directory).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileChoice {
    pub source: String,
    pub dest: String,
}

/// What to do with the files of one source directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DirSelection {
    /// Files to copy, sorted by destination name.
    pub install: Vec<FileChoice>,
    /// Source names not installed (other hostclasses' variants, plain files overridden by a
    /// variant, editor backups), sorted.
    pub skipped: Vec<String>,
}

/// Chooses the files of one source directory for the active hostclasses (in priority
/// order). A file named `acfg.metadata` is never installed (in any directory, as the
/// original) and not reported as skipped.
pub fn select_files(names: &[String], hostclasses: &[String]) -> DirSelection {
    // dest name -> (priority, source name)
    let mut best: std::collections::BTreeMap<&str, (usize, &str)> =
        std::collections::BTreeMap::new();
    let mut skipped = Vec::new();
    let mut sorted: Vec<&String> = names.iter().collect();
    sorted.sort();
    for name in sorted {
        if name == METADATA_FILE {
            continue;
        }
        let (base, variant) = split_variant(name);
        if base.is_empty() || variant == Some("") {
            skipped.push(name.clone());
            continue;
        }
        let Some(p) = priority(variant, hostclasses) else {
            skipped.push(name.clone());
            continue;
        };
        match best.get(base).copied() {
            Some((q, _)) if q <= p => skipped.push(name.clone()),
            Some((_, previous)) => {
                skipped.push(previous.to_string());
                best.insert(base, (p, name));
            }
            None => {
                best.insert(base, (p, name));
            }
        }
    }
    skipped.sort();
    DirSelection {
        install: best
            .into_iter()
            .map(|(dest, (_, source))| FileChoice {
                source: source.to_string(),
                dest: dest.to_string(),
            })
            .collect(),
        skipped,
    }
}

/// One `acfg.metadata` entry, as far as selection is concerned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetadataRule {
    /// Absolute path on the host (without the `~hostclass` suffix).
    pub path: String,
    pub hostclass: Option<String>,
    pub mode: u32,
    pub owner: String,
    pub group: String,
    /// Line in `acfg.metadata`.
    pub line: usize,
}

/// One thing acfg does (or would do with `--dry`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    MakeDirectory {
        path: String,
        /// The source directory, whose mode and times the new one gets.
        #[serde(skip)]
        source: String,
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
            Action::MakeDirectory { path, .. } => write!(f, "make directory {path}"),
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

/// The metadata action of `rule` at `path`: the accounts of `groups` and `users` (the
/// host's) that are missing are to be created.
pub fn metadata_action(
    path: &str,
    rule: &MetadataRule,
    groups: &[IdEntry],
    users: &[IdEntry],
) -> Action {
    let mut creates = Vec::new();
    if lookup_id(groups, &rule.group).is_none() {
        creates.push(format!("group {}", rule.group));
    }
    if lookup_id(users, &rule.owner).is_none() {
        creates.push(format!("user {}", rule.owner));
    }
    Action::Metadata {
        path: path.to_string(),
        mode: format!("{:04o}", rule.mode),
        owner: rule.owner.clone(),
        group: rule.group.clone(),
        creates,
    }
}

/// The entries to apply: per path, the one of the best hostclass priority (the first of
/// equals); entries of inactive hostclasses are dropped. In line order. Whether the path
/// exists at the destination is for the caller to check.
pub fn select_metadata<'a>(
    rules: &'a [MetadataRule],
    hostclasses: &[String],
) -> Vec<&'a MetadataRule> {
    let mut best: std::collections::BTreeMap<&str, (usize, &MetadataRule)> =
        std::collections::BTreeMap::new();
    for rule in rules {
        let Some(p) = priority(rule.hostclass.as_deref(), hostclasses) else {
            continue;
        };
        match best.get(rule.path.as_str()) {
            Some((q, _)) if *q <= p => {}
            _ => {
                best.insert(rule.path.as_str(), (p, rule));
            }
        }
    }
    let mut out: Vec<&MetadataRule> = best.into_values().map(|(_, r)| r).collect();
    out.sort_by_key(|r| r.line);
    out
}

/// Where a metadata path is under `dest` (`/etc/x` under `/mnt/root` is `/mnt/root/etc/x`).
pub fn dest_path(dest_root: &str, absolute: &str) -> String {
    let rel = absolute.trim_start_matches('/');
    if dest_root.ends_with('/') {
        format!("{dest_root}{rel}")
    } else {
        format!("{dest_root}/{rel}")
    }
}

/// The hostclass in the first line of the hostclass file (`/opt/wgen/etc/hostclass`).
pub fn hostclass_from_file(text: &str) -> Option<String> {
    let first = text.lines().next()?.trim();
    (!first.is_empty()).then(|| first.to_string())
}

/// One entry of `/etc/passwd` or `/etc/group`: name and numeric id (uid or gid), plus the
/// primary gid for users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdEntry {
    pub name: String,
    pub id: u32,
}

/// Names and ids of an `/etc/passwd` or `/etc/group` text (fields 1 and 3; malformed lines
/// and `+`/`-` NIS lines are ignored).
pub fn parse_id_file(text: &str) -> Vec<IdEntry> {
    text.lines()
        .filter(|l| !l.starts_with('+') && !l.starts_with('-') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut fields = l.split(':');
            let name = fields.next()?.trim();
            let _password = fields.next()?;
            let id = fields.next()?.trim().parse().ok()?;
            (!name.is_empty()).then(|| IdEntry {
                name: name.to_string(),
                id,
            })
        })
        .collect()
}

/// The id of `name` in a parsed id file.
pub fn lookup_id(entries: &[IdEntry], name: &str) -> Option<u32> {
    entries.iter().find(|e| e.name == name).map(|e| e.id)
}

/// The highest id in 100..=999 (the system range of shadow-utils) not in `used`.
pub fn free_system_id(used: &[u32]) -> Option<u32> {
    (100..=999).rev().find(|id| !used.contains(id))
}

/// Commands that create group `group`, in the order they are tried.
pub fn group_commands(group: &str) -> Vec<Vec<String>> {
    let v = |args: &[&str]| args.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    vec![
        v(&["groupadd", "-f", group]),
        v(&["addgroup", "--system", group]),
        v(&["addgroup", "-S", group]),
    ]
}

/// Commands that create system user `user` with primary group `gid` (named `group`) and no
/// login shell, in the order they are tried.
pub fn user_commands(user: &str, group: &str, gid: u32) -> Vec<Vec<String>> {
    let gid = gid.to_string();
    let v = |args: &[&str]| args.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    vec![
        v(&[
            "adduser",
            "--system",
            "--gid",
            &gid,
            "--shell",
            NOLOGIN_SHELL,
            user,
        ]),
        v(&[
            "useradd",
            "-r",
            "--gid",
            &gid,
            "--shell",
            NOLOGIN_SHELL,
            user,
        ]),
        v(&[
            "adduser",
            "-r",
            "--gid",
            &gid,
            "--shell",
            NOLOGIN_SHELL,
            user,
        ]),
        v(&[
            "adduser",
            "-S",
            "-D",
            "-H",
            "-G",
            group,
            "-s",
            NOLOGIN_SHELL,
            user,
        ]),
    ]
}

/// The `/etc/group` line of a new group.
pub fn group_line(group: &str, gid: u32) -> String {
    format!("{group}:x:{gid}:")
}

/// The `/etc/gshadow` line of a new group.
pub fn gshadow_line(group: &str) -> String {
    format!("{group}:!::")
}

/// The `/etc/passwd` line of a new system user (no home directory, no login shell).
pub fn passwd_line(user: &str, uid: u32, gid: u32) -> String {
    format!("{user}:x:{uid}:{gid}::/nonexistent:{NOLOGIN_SHELL}")
}

/// The `/etc/shadow` line of a new system user (locked password).
pub fn shadow_line(user: &str) -> String {
    format!("{user}:!:::::::")
}

/// `text` with `line` appended on a line of its own.
pub fn append_line(text: &str, line: &str) -> String {
    let mut out = text.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(line);
    out.push('\n');
    out
}

/// Whether a user or group name is safe to pass to the tools and write to `/etc/passwd`
/// (what shadow-utils accepts: letters, digits, `_`, `-`, `.`, not starting with `-`, at
/// most 32 characters).
pub fn valid_account_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn installed(sel: &DirSelection) -> Vec<(&str, &str)> {
        sel.install
            .iter()
            .map(|c| (c.source.as_str(), c.dest.as_str()))
            .collect()
    }

    #[test]
    fn variant_of_an_active_hostclass_replaces_the_plain_file() {
        let sel = select_files(
            &names(&["motd", "motd~mhcadminproxy", "ntp.conf", "ntp.conf~mhcntp"]),
            &names(&["mhcadminproxy"]),
        );
        assert_eq!(
            installed(&sel),
            vec![("motd~mhcadminproxy", "motd"), ("ntp.conf", "ntp.conf")]
        );
        assert_eq!(sel.skipped, names(&["motd", "ntp.conf~mhcntp"]));
    }

    #[test]
    fn plain_file_is_used_without_an_active_variant() {
        let sel = select_files(&names(&["motd", "motd~mhcweb"]), &names(&["mhcapp"]));
        assert_eq!(installed(&sel), vec![("motd", "motd")]);
        assert_eq!(sel.skipped, names(&["motd~mhcweb"]));
    }

    #[test]
    fn variant_without_plain_file_installs_only_for_its_hostclass() {
        let files = names(&["web.conf~mhcweb"]);
        assert_eq!(
            installed(&select_files(&files, &names(&["mhcweb"]))),
            vec![("web.conf~mhcweb", "web.conf")]
        );
        assert!(select_files(&files, &names(&["mhcapp"])).install.is_empty());
    }

    #[test]
    fn earlier_hostclass_in_the_list_wins() {
        // The spec's sample: httpd.conf, httpd.conf~for_centos7 (virtual, phase 1),
        // httpd.conf~mhcadminproxy.
        let files = names(&[
            "httpd.conf",
            "httpd.conf~for_centos7",
            "httpd.conf~mhcadminproxy",
        ]);
        let sel = select_files(&files, &names(&["for_centos7", "mhcadminproxy"]));
        assert_eq!(
            installed(&sel),
            vec![("httpd.conf~for_centos7", "httpd.conf")]
        );
        assert_eq!(
            sel.skipped,
            names(&["httpd.conf", "httpd.conf~mhcadminproxy"])
        );
        let sel = select_files(&files, &names(&["mhcadminproxy", "for_centos7"]));
        assert_eq!(
            installed(&sel),
            vec![("httpd.conf~mhcadminproxy", "httpd.conf")]
        );
    }

    #[test]
    fn metadata_file_backups_and_odd_names() {
        let sel = select_files(
            &names(&["acfg.metadata", "motd~", "a~b~c", "~x", "plain"]),
            &names(&["b", "b~c"]),
        );
        // a~b~c is a variant of "a" for hostclass "b~c" (first "~"), as the original's
        // partition; "~x" has no base name; "motd~" is an editor backup.
        assert_eq!(installed(&sel), vec![("a~b~c", "a"), ("plain", "plain")]);
        assert_eq!(sel.skipped, names(&["motd~", "~x"]));
    }

    fn rule(path: &str, hc: Option<&str>, mode: u32, owner: &str, line: usize) -> MetadataRule {
        MetadataRule {
            path: path.into(),
            hostclass: hc.map(str::to_string),
            mode,
            owner: owner.into(),
            group: owner.into(),
            line,
        }
    }

    #[test]
    fn metadata_selection_by_priority() {
        let rules = vec![
            rule("/etc/sudoers", None, 0o440, "root", 1),
            rule(
                "/home/jenkins/.ssh/id_rsa",
                Some("mhcdiscojenkins"),
                0o600,
                "jenkins",
                2,
            ),
            rule("/etc/motd", None, 0o644, "root", 3),
            rule("/etc/motd", Some("mhcadminproxy"), 0o600, "proxy", 4),
            rule("/etc/motd", Some("mhcother"), 0o666, "other", 5),
            rule("/etc/x", Some("mhcadminproxy"), 0o600, "a", 6),
            rule("/etc/x", Some("for_centos7"), 0o640, "b", 7),
            rule("/etc/x", None, 0o644, "c", 8),
            rule("/etc/sudoers", None, 0o400, "late", 9),
        ];
        let active = names(&["for_centos7", "mhcadminproxy"]);
        let chosen: Vec<(usize, &str)> = select_metadata(&rules, &active)
            .iter()
            .map(|r| (r.line, r.owner.as_str()))
            .collect();
        assert_eq!(chosen, vec![(1, "root"), (4, "proxy"), (7, "b")]);
        // Without any active hostclass only plain entries apply.
        let chosen: Vec<usize> = select_metadata(&rules, &[])
            .iter()
            .map(|r| r.line)
            .collect();
        assert_eq!(chosen, vec![1, 3, 8]);
    }

    #[test]
    fn metadata_paths_under_the_destination() {
        assert_eq!(dest_path("/", "/etc/motd"), "/etc/motd");
        assert_eq!(dest_path("/mnt/root", "/etc/motd"), "/mnt/root/etc/motd");
        assert_eq!(dest_path("/mnt/root/", "/etc/motd"), "/mnt/root/etc/motd");
    }

    #[test]
    fn hostclass_file_first_line() {
        assert_eq!(
            hostclass_from_file("mhcweb\nx\n").as_deref(),
            Some("mhcweb")
        );
        assert_eq!(hostclass_from_file("  mhcweb  ").as_deref(), Some("mhcweb"));
        assert_eq!(hostclass_from_file("\nmhcweb"), None);
        assert_eq!(hostclass_from_file(""), None);
    }

    #[test]
    fn id_files() {
        let passwd =
            "root:x:0:0:root:/root:/bin/sh\n+nis\nbad line\nnobody:x:65534:65534::/:/bin/false\n";
        let e = parse_id_file(passwd);
        assert_eq!(lookup_id(&e, "root"), Some(0));
        assert_eq!(lookup_id(&e, "nobody"), Some(65534));
        assert_eq!(lookup_id(&e, "nis"), None);
        assert_eq!(e.len(), 2);
        let group = "root:x:0:\nsnapshot:x:999:\n";
        assert_eq!(lookup_id(&parse_id_file(group), "snapshot"), Some(999));
    }

    #[test]
    fn system_ids_from_the_top() {
        assert_eq!(free_system_id(&[0, 65534]), Some(999));
        assert_eq!(free_system_id(&[999, 998, 0]), Some(997));
        let all: Vec<u32> = (100..=999).collect();
        assert_eq!(free_system_id(&all), None);
    }

    #[test]
    fn account_lines_and_commands() {
        assert_eq!(group_line("snapshot", 999), "snapshot:x:999:");
        assert_eq!(
            passwd_line("snapshot", 998, 999),
            "snapshot:x:998:999::/nonexistent:/sbin/nologin"
        );
        assert_eq!(append_line("a", "b"), "a\nb\n");
        assert_eq!(append_line("a\n", "b"), "a\nb\n");
        assert_eq!(append_line("", "b"), "b\n");
        assert_eq!(group_commands("g")[0], vec!["groupadd", "-f", "g"]);
        let u = user_commands("u", "g", 7);
        assert_eq!(
            u[0],
            vec![
                "adduser",
                "--system",
                "--gid",
                "7",
                "--shell",
                "/sbin/nologin",
                "u"
            ]
        );
        assert_eq!(u.last().unwrap()[..5], ["adduser", "-S", "-D", "-H", "-G"]);
        assert!(valid_account_name("jenkins"));
        assert!(valid_account_name("www-data"));
        assert!(!valid_account_name("-rf"));
        assert!(!valid_account_name("a:b"));
        assert!(!valid_account_name(""));
    }
}
