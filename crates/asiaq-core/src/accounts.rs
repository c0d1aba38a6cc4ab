//! OS accounts kept in the credential bucket (spec §4.16, the original's
//! `S3AccountBackend`): the INI templates of new users and groups, id allocation, and the
//! commands `accounts install` runs on a host to create them.
//!
//! S3 keys are `accounts/users/<name>` and `accounts/groups/<name>`; each is an INI file
//! with one `[user]` or `[group]` section. The INI text is parsed by the caller (with the
//! configuration crate's ConfigParser-compatible parser) and handed over as key/value
//! pairs in file order.

pub mod text;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use crate::secret::Secret;
use crate::syntax::is_truthy;

/// The smallest user or group id asiaq assigns.
pub const MIN_ID: u32 = 2000;
/// S3 prefix of user accounts.
pub const USERS_PREFIX: &str = "accounts/users/";
/// S3 prefix of group accounts.
pub const GROUPS_PREFIX: &str = "accounts/groups/";

/// Why an account file is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    #[error("{kind} {name}: option id is missing")]
    MissingId { kind: &'static str, name: String },
    #[error("{kind} {name}: id {value:?} is not a number")]
    BadId {
        kind: &'static str,
        name: String,
        value: String,
    },
    #[error("{name}: the file has no [user] or [group] section")]
    UnknownType { name: String },
    #[error(
        "{name}: invalid account name (letters, digits, '.', '_', '-', '@'; not starting with '-')"
    )]
    BadName { name: String },
}

/// Account names must be safe to pass to groupadd/useradd and to use as S3 key parts.
pub fn check_name(name: &str) -> Result<(), AccountError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(AccountError::BadName { name: name.into() })
    }
}

/// The S3 key of user `name`.
pub fn user_key(name: &str) -> String {
    format!("{USERS_PREFIX}{name}")
}

/// The S3 key of group `name`.
pub fn group_key(name: &str) -> String {
    format!("{GROUPS_PREFIX}{name}")
}

/// The first id from [`MIN_ID`] up that is not in `used` (`_next_id`).
pub fn next_id(used: impl IntoIterator<Item = u32>) -> u32 {
    let used: BTreeSet<u32> = used.into_iter().collect();
    (MIN_ID..).find(|id| !used.contains(id)).unwrap_or(MIN_ID)
}

/// Rounds of the sha512_crypt hashes asiaq makes: passlib's default, which the original
/// used (`sha512_crypt.encrypt`). The host's `crypt(3)` reads the count from the hash.
pub const SHA512_CRYPT_ROUNDS: u32 = 656_000;

/// A sha512_crypt hash (`$6$rounds=N$salt$hash`) of `password` with a salt made from
/// `salt` (random bytes from the caller: 12 bytes make the usual 16-character salt).
#[allow(
    clippy::expect_used,
    reason = "hashing fails only for a salt or rounds out of range; rounds are clamped and the salt is the caller's random bytes"
)]
pub fn hash_password(password: &Secret, salt: &[u8], rounds: u32) -> String {
    use sha_crypt::{Algorithm, Params, PasswordHasher, ShaCrypt};
    let params = Params::new(rounds.clamp(Params::ROUNDS_MIN, Params::ROUNDS_MAX))
        .unwrap_or(Params::RECOMMENDED);
    ShaCrypt::new(Algorithm::Sha512Crypt, params)
        .hash_password_with_salt(password.expose().as_bytes(), salt)
        .map(|h| h.to_string())
        // Hashing fails only for salts or parameters out of range, which were checked.
        .expect("valid sha512_crypt parameters")
}

/// Whether `password` matches a sha512_crypt `hash`.
pub fn verify_password(password: &Secret, hash: &str) -> bool {
    use sha_crypt::{PasswordHashRef, PasswordVerifier, ShaCrypt};
    PasswordHashRef::new(hash).ok().is_some_and(|h| {
        ShaCrypt::default()
            .verify_password(password.expose().as_bytes(), h)
            .is_ok()
    })
}

/// Renders one section as Python's `ConfigParser.write` does.
pub fn render_ini(section: &str, entries: &[(String, String)]) -> String {
    let mut out = format!("[{section}]\n");
    for (k, v) in entries {
        out.push_str(&format!("{k} = {v}\n"));
    }
    out.push('\n');
    out
}

/// The entries of a new user (`new_user_config`).
pub fn user_template(password_hash: &str, id: u32) -> Vec<(String, String)> {
    [
        ("password", password_hash),
        ("ssh_key_0", "Insert SSH key"),
        ("shell", "/bin/bash"),
        ("groups", "users,disco_operators"),
        ("active", "yes"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .chain(std::iter::once(("id".to_string(), id.to_string())))
    .collect()
}

/// The entries of a new group (`new_group_config`).
pub fn group_template(id: u32) -> Vec<(String, String)> {
    vec![("id".to_string(), id.to_string())]
}

/// Sets `key` to `value` in `entries`, appending it if absent.
pub fn set_entry(entries: &mut Vec<(String, String)>, key: &str, value: &str) {
    match entries.iter_mut().find(|(k, _)| k == key) {
        Some(e) => e.1 = value.to_string(),
        None => entries.push((key.to_string(), value.to_string())),
    }
}

/// A user account from `accounts/users/<name>`. The password hash is a [`Secret`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAccount {
    pub name: String,
    pub id: u32,
    pub password: Option<Secret>,
    pub home: Option<String>,
    pub groups: Option<String>,
    pub shell: Option<String>,
    pub active: bool,
    pub ssh_keys: Vec<String>,
}

/// A group account from `accounts/groups/<name>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupAccount {
    pub name: String,
    pub id: u32,
}

fn parse_id(
    kind: &'static str,
    name: &str,
    entries: &[(String, String)],
) -> Result<u32, AccountError> {
    let value = entries
        .iter()
        .find(|(k, _)| k == "id")
        .map(|(_, v)| v.trim())
        .ok_or_else(|| AccountError::MissingId {
            kind,
            name: name.into(),
        })?;
    value.parse().map_err(|_| AccountError::BadId {
        kind,
        name: name.into(),
        value: value.into(),
    })
}

impl UserAccount {
    /// `User(name, config)`: every `ssh_key*` option is a key; `id` is required.
    pub fn parse(name: &str, entries: &[(String, String)]) -> Result<Self, AccountError> {
        let id = parse_id("user", name, entries)?;
        let get = |key: &str| {
            entries
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        Ok(UserAccount {
            name: name.into(),
            id,
            password: get("password").map(Secret::new),
            home: get("home"),
            groups: get("groups"),
            shell: get("shell"),
            active: is_truthy(&get("active").unwrap_or_else(|| "yes".into())),
            ssh_keys: entries
                .iter()
                .filter(|(k, _)| k.starts_with("ssh_key"))
                .map(|(_, v)| v.clone())
                .collect(),
        })
    }
}

impl GroupAccount {
    pub fn parse(name: &str, entries: &[(String, String)]) -> Result<Self, AccountError> {
        Ok(GroupAccount {
            name: name.into(),
            id: parse_id("group", name, entries)?,
        })
    }
}

/// A command to run on the host. `secret_arg` is the index of an argument never shown.
#[derive(Clone, PartialEq, Eq)]
pub struct HostCommand {
    pub program: &'static str,
    pub args: Vec<String>,
    pub secret_arg: Option<usize>,
}

impl fmt::Display for HostCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.program)?;
        for (i, a) in self.args.iter().enumerate() {
            if Some(i) == self.secret_arg {
                f.write_str(" -p<redacted>")?;
            } else if a.is_empty() {
                f.write_str(" ''")?;
            } else {
                write!(f, " {a}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for HostCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HostCommand({self})")
    }
}

/// One step of `install`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallStep {
    /// Create or update a group or user (`account` names it for error messages).
    Run {
        account: String,
        command: HostCommand,
    },
    /// Add these keys to the user's `~/.ssh/authorized_keys` (after the user exists).
    AuthorizedKeys { user: String, keys: Vec<String> },
}

/// The accounts that exist on the host: name -> id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SystemAccounts {
    pub users: BTreeMap<String, u32>,
    pub groups: BTreeMap<String, u32>,
}

/// The steps of `install_all`: groups first (`groupmod`/`groupadd -g<id>`), then users
/// (`usermod`/`useradd` with `-d -p -G -u -s`, `-e ''` when active or `-e1970-01-01` to
/// expire, and `-g<gid of the group of the same name>`), each followed by its SSH keys.
/// A user without a group of its name (neither in S3 nor on the host) is an error, and
/// the other accounts are still installed.
///
/// Decision: `useradd` also gets `-m`, so the home directory exists on systems whose
/// `login.defs` does not create it by default (Debian); CentOS created it anyway.
pub fn install_plan(
    groups: &[GroupAccount],
    users: &[UserAccount],
    system: &SystemAccounts,
) -> (Vec<InstallStep>, Vec<String>) {
    let mut steps = Vec::new();
    let mut errors = Vec::new();
    for g in groups {
        let program = if system.groups.contains_key(&g.name) {
            "groupmod"
        } else {
            "groupadd"
        };
        steps.push(InstallStep::Run {
            account: format!("group {}", g.name),
            command: HostCommand {
                program,
                args: vec![format!("-g{}", g.id), g.name.clone()],
                secret_arg: None,
            },
        });
    }
    for u in users {
        let gid = groups
            .iter()
            .find(|g| g.name == u.name)
            .map(|g| g.id)
            .or_else(|| system.groups.get(&u.name).copied());
        let Some(gid) = gid else {
            errors.push(format!(
                "user {}: no group {} to be its primary group",
                u.name, u.name
            ));
            continue;
        };
        let exists = system.users.contains_key(&u.name);
        let mut args = Vec::new();
        let mut secret_arg = None;
        if !exists {
            args.push("-m".to_string());
        }
        if let Some(home) = &u.home {
            args.push(format!("-d{home}"));
        }
        if let Some(p) = &u.password {
            secret_arg = Some(args.len());
            args.push(format!("-p{}", p.expose()));
        }
        if let Some(groups) = &u.groups {
            args.push(format!("-G{groups}"));
        }
        args.push(format!("-u{}", u.id));
        if let Some(shell) = &u.shell {
            args.push(format!("-s{shell}"));
        }
        if u.active {
            args.push("-e".into());
            args.push(String::new());
        } else {
            args.push("-e1970-01-01".into());
        }
        args.push(format!("-g{gid}"));
        args.push(u.name.clone());
        steps.push(InstallStep::Run {
            account: format!("user {}", u.name),
            command: HostCommand {
                program: if exists { "usermod" } else { "useradd" },
                args,
                secret_arg,
            },
        });
        steps.push(InstallStep::AuthorizedKeys {
            user: u.name.clone(),
            keys: u.ssh_keys.clone(),
        });
    }
    (steps, errors)
}

/// `authorized_keys` with `keys` added: each key not already present (as a line) is
/// appended. `None` when nothing is missing.
///
/// Decision: the original appended every key on every install, so the file grew by one
/// copy of each key per boot; asiaq adds only missing ones.
pub fn merge_authorized_keys(existing: &str, keys: &[String]) -> Option<String> {
    let present: BTreeSet<&str> = existing.lines().map(str::trim).collect();
    let mut out = existing.to_string();
    let mut added = false;
    let mut seen = BTreeSet::new();
    for k in keys {
        let k = k.trim();
        if k.is_empty() || present.contains(k) || !seen.insert(k) {
            continue;
        }
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(k);
        out.push('\n');
        added = true;
    }
    added.then_some(out)
}

/// Parses `/etc/passwd` or `/etc/group` text into name -> (id, home-or-empty).
pub fn parse_id_file(text: &str) -> BTreeMap<String, (u32, String)> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            let id = f.get(2)?.parse().ok()?;
            Some((
                f[0].to_string(),
                (id, f.get(5).map(|s| s.to_string()).unwrap_or_default()),
            ))
        })
        .collect()
}

/// The local accounts of `/etc/passwd` and `/etc/group` texts, by name.
pub fn system_accounts(passwd: &str, group: &str) -> SystemAccounts {
    let ids = |text: &str| {
        parse_id_file(text)
            .into_iter()
            .map(|(k, (id, _))| (k, id))
            .collect()
    };
    SystemAccounts {
        users: ids(passwd),
        groups: ids(group),
    }
}

/// The primary group id of `user` (field 4 of its line in the `/etc/passwd` text).
pub fn primary_gid(passwd: &str, user: &str) -> Option<u32> {
    passwd
        .lines()
        .find(|l| l.split(':').next() == Some(user))?
        .split(':')
        .nth(3)?
        .parse()
        .ok()
}

/// Where account records live (the credential bucket): reads only, so that what a change
/// writes can be decided (and tested) apart from the writing.
#[allow(async_fn_in_trait)]
pub trait RecordStore {
    type Error;
    /// The store's name, for messages.
    fn name(&self) -> &str;
    /// The value of `key`, `None` when it does not exist.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Self::Error>;
    /// Every record under `prefix`: (name without the prefix, text).
    async fn texts(&self, prefix: &str) -> Result<Vec<(String, String)>, Self::Error>;
}

/// What `install` did (or, dry, would do): each step as a line, and every problem.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Installed {
    pub dry_run: bool,
    pub steps: Vec<String>,
    pub problems: Vec<String>,
}

impl Installed {
    /// Carries out `steps` (nothing when `dry_run`) with `run` (a host command; the error
    /// says why it failed) and `authorize` (adds SSH keys to a user's authorized_keys),
    /// carrying on past failures: each is a problem of its account, after `problems`
    /// (found before), and a user whose command failed gets no keys. `note` hears of each
    /// command done.
    pub fn carry_out(
        steps: &[InstallStep],
        dry_run: bool,
        problems: Vec<String>,
        mut run: impl FnMut(&HostCommand) -> Result<(), String>,
        mut authorize: impl FnMut(&str, &[String]) -> Result<(), String>,
        mut note: impl FnMut(String),
    ) -> Self {
        let mut out = Installed {
            dry_run,
            steps: Vec::new(),
            problems,
        };
        let mut failed_accounts = BTreeSet::new();
        for step in steps {
            match step {
                InstallStep::Run { account, command } => {
                    out.steps.push(command.to_string());
                    if dry_run {
                        continue;
                    }
                    match run(command) {
                        Ok(()) => note(format!("done: {command}")),
                        Err(e) => {
                            failed_accounts.insert(account.clone());
                            out.problems.push(format!("{account}: {e}"));
                        }
                    }
                }
                InstallStep::AuthorizedKeys { user, keys } => {
                    out.steps.push(format!(
                        "add {} ssh key(s) to ~{user}/.ssh/authorized_keys",
                        keys.len()
                    ));
                    if dry_run
                        || keys.is_empty()
                        || failed_accounts.contains(&format!("user {user}"))
                    {
                        continue;
                    }
                    if let Err(e) = authorize(user, keys) {
                        out.problems.push(format!("user {user}: {e}"));
                    }
                }
            }
        }
        out
    }

    /// The error of an install with problems: how many, then one per line.
    pub fn failure(&self) -> Option<String> {
        (!self.problems.is_empty()).then(|| {
            format!(
                "{} account problem(s):\n  {}",
                self.problems.len(),
                self.problems.join("\n  ")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_accounts_and_primary_gids_from_etc_files() {
        let passwd =
            "root:x:0:0:root:/root:/bin/bash\nbob:x:2001:3000::/home/bob:/bin/sh\n# c\nbroken\n";
        let group = "wheel:x:10:bob\n";
        let s = system_accounts(passwd, group);
        assert_eq!(s.users.get("bob"), Some(&2001));
        assert_eq!(s.users.len(), 2);
        assert_eq!(s.groups.get("wheel"), Some(&10));
        assert_eq!(primary_gid(passwd, "bob"), Some(3000));
        assert_eq!(primary_gid(passwd, "eve"), None);
        assert_eq!(primary_gid(passwd, "broken"), None);
    }

    fn entries(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn sha512_crypt_matches_glibc() {
        // From the glibc test vectors (Ulrich Drepper's SHA-crypt specification).
        assert!(verify_password(
            &Secret::new("Hello world!"),
            "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"
        ));
        let h = hash_password(&Secret::new("pw"), b"0123456789ab", 1000);
        assert!(h.starts_with("$6$rounds=1000$"), "{h}");
        assert!(verify_password(&Secret::new("pw"), &h));
        assert!(!verify_password(&Secret::new("other"), &h));
    }

    #[test]
    fn ids_start_at_2000_and_fill_gaps() {
        assert_eq!(next_id([]), 2000);
        assert_eq!(next_id([2000, 2001, 2003]), 2002);
        assert_eq!(next_id([5, 2000]), 2001);
    }

    #[test]
    fn templates_render_like_configparser() {
        let t = render_ini("user", &user_template("$6$x$y", 2001));
        assert_eq!(
            t,
            "[user]\npassword = $6$x$y\nssh_key_0 = Insert SSH key\nshell = /bin/bash\ngroups = users,disco_operators\nactive = yes\nid = 2001\n\n"
        );
        assert_eq!(
            render_ini("group", &group_template(2000)),
            "[group]\nid = 2000\n\n"
        );
        let mut e = user_template("h", 1);
        set_entry(&mut e, "active", "no");
        set_entry(&mut e, "home", "/srv/x");
        assert!(render_ini("user", &e).contains("active = no\nid = 1\nhome = /srv/x\n"));
    }

    #[test]
    fn accounts_parse_and_require_an_id() {
        let u = UserAccount::parse(
            "alice",
            &entries(&[
                ("password", "$6$s$h"),
                ("ssh_key_0", "ssh-ed25519 A"),
                ("ssh_key_1", "ssh-ed25519 B"),
                ("active", "no"),
                ("id", "2002"),
            ]),
        )
        .unwrap();
        assert_eq!(u.id, 2002);
        assert!(!u.active);
        assert_eq!(u.ssh_keys, vec!["ssh-ed25519 A", "ssh-ed25519 B"]);
        assert!(!format!("{u:?}").contains("$6$s$h"));
        assert_eq!(
            UserAccount::parse("bob", &entries(&[("shell", "/bin/sh")])).unwrap_err(),
            AccountError::MissingId {
                kind: "user",
                name: "bob".into()
            }
        );
        assert!(GroupAccount::parse("g", &entries(&[("id", "x")])).is_err());
        assert!(check_name("alice.smith@x").is_ok());
        assert!(check_name("-rf").is_err());
        assert!(check_name("a b").is_err());
        assert!(check_name("../x").is_err());
    }

    #[test]
    fn install_plan_groups_then_users_with_the_original_flags() {
        let groups = vec![
            GroupAccount {
                name: "alice".into(),
                id: 2000,
            },
            GroupAccount {
                name: "disco_operators".into(),
                id: 2001,
            },
        ];
        let users = vec![
            UserAccount::parse(
                "alice",
                &entries(&[
                    ("password", "$6$s$h"),
                    ("ssh_key_0", "k1"),
                    ("shell", "/bin/bash"),
                    ("groups", "disco_operators"),
                    ("active", "yes"),
                    ("id", "2000"),
                ]),
            )
            .unwrap(),
            UserAccount::parse("bob", &entries(&[("active", "no"), ("id", "2001")])).unwrap(),
            UserAccount::parse("carol", &entries(&[("id", "2002")])).unwrap(),
        ];
        let system = SystemAccounts {
            users: [("bob".to_string(), 2001)].into(),
            groups: [
                ("disco_operators".to_string(), 2001),
                ("bob".to_string(), 1500),
            ]
            .into(),
        };
        let (steps, errors) = install_plan(&groups, &users, &system);
        let shown: Vec<String> = steps
            .iter()
            .map(|s| match s {
                InstallStep::Run { command, .. } => command.to_string(),
                InstallStep::AuthorizedKeys { user, keys } => format!("keys {user} {}", keys.len()),
            })
            .collect();
        assert_eq!(
            shown,
            vec![
                "groupadd -g2000 alice",
                "groupmod -g2001 disco_operators",
                "useradd -m -p<redacted> -Gdisco_operators -u2000 -s/bin/bash -e '' -g2000 alice",
                "keys alice 1",
                "usermod -u2001 -e1970-01-01 -g1500 bob",
                "keys bob 0",
            ]
        );
        assert_eq!(
            errors,
            vec!["user carol: no group carol to be its primary group"]
        );
        let InstallStep::Run { command, .. } = &steps[2] else {
            panic!()
        };
        assert_eq!(command.args[1], "-p$6$s$h");
        assert!(!format!("{command:?}").contains("$6$s$h"));
    }

    #[test]
    fn authorized_keys_are_added_once() {
        let keys = vec!["ssh-ed25519 A a".to_string(), "ssh-ed25519 B b".to_string()];
        assert_eq!(
            merge_authorized_keys("", &keys).unwrap(),
            "ssh-ed25519 A a\nssh-ed25519 B b\n"
        );
        assert_eq!(
            merge_authorized_keys("ssh-ed25519 A a", &keys).unwrap(),
            "ssh-ed25519 A a\nssh-ed25519 B b\n"
        );
        assert_eq!(
            merge_authorized_keys("ssh-ed25519 B b\nssh-ed25519 A a\n", &keys),
            None
        );
        assert_eq!(merge_authorized_keys("x\n", &[]), None);
    }

    #[test]
    fn passwd_and_group_files_parse() {
        let p = parse_id_file(
            "root:x:0:0:root:/root:/bin/sh\n# c\nalice:x:2000:2000::/home/alice:/bin/bash\nbad\n",
        );
        assert_eq!(p["alice"], (2000, "/home/alice".to_string()));
        assert_eq!(p.len(), 2);
        let g = parse_id_file("root:x:0:\nusers:x:100:alice\n");
        assert_eq!(g["users"].0, 100);
    }

    fn cmd(program: &'static str, arg: &str) -> HostCommand {
        HostCommand {
            program,
            args: vec![arg.to_string()],
            secret_arg: None,
        }
    }

    fn install_steps() -> Vec<InstallStep> {
        vec![
            InstallStep::Run {
                account: "group ops".into(),
                command: cmd("groupadd", "ops"),
            },
            InstallStep::Run {
                account: "user bob".into(),
                command: cmd("useradd", "bob"),
            },
            InstallStep::AuthorizedKeys {
                user: "bob".into(),
                keys: vec!["ssh-ed25519 B".into()],
            },
            InstallStep::Run {
                account: "user amy".into(),
                command: cmd("useradd", "amy"),
            },
            InstallStep::AuthorizedKeys {
                user: "amy".into(),
                keys: vec!["ssh-ed25519 A".into()],
            },
            InstallStep::AuthorizedKeys {
                user: "cy".into(),
                keys: vec![],
            },
        ]
    }

    #[test]
    fn install_carries_on_past_failures_and_skips_the_keys_of_failed_users() {
        let mut notes = Vec::new();
        let mut authorized = Vec::new();
        let got = Installed::carry_out(
            &install_steps(),
            false,
            vec!["found before".into()],
            |c| match c.args[0].as_str() {
                "bob" => Err("useradd exited with exit status: 1".into()),
                _ => Ok(()),
            },
            |user, keys| {
                authorized.push((user.to_string(), keys.len()));
                Err("cannot chown x".into())
            },
            |n| notes.push(n),
        );
        assert_eq!(
            got.problems,
            [
                "found before",
                "user bob: useradd exited with exit status: 1",
                "user amy: cannot chown x"
            ]
        );
        assert_eq!(authorized, [("amy".to_string(), 1)]);
        assert_eq!(notes, ["done: groupadd ops", "done: useradd amy"]);
        assert_eq!(got.steps.len(), 6);
        assert_eq!(
            got.steps[2],
            "add 1 ssh key(s) to ~bob/.ssh/authorized_keys"
        );
        assert_eq!(
            got.failure().unwrap(),
            "3 account problem(s):\n  found before\n  user bob: useradd exited with exit status: 1\n  user amy: cannot chown x"
        );
    }

    #[test]
    fn a_dry_install_runs_nothing_and_lists_every_step() {
        let got = Installed::carry_out(
            &install_steps(),
            true,
            Vec::new(),
            |_| panic!("dry run"),
            |_, _| panic!("dry run"),
            |_| panic!("dry run"),
        );
        assert!(got.dry_run);
        assert_eq!(got.steps[0], "groupadd ops");
        assert_eq!(got.steps[5], "add 0 ssh key(s) to ~cy/.ssh/authorized_keys");
        assert_eq!(got.failure(), None);
    }
}
