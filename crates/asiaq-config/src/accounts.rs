//! Account records of the credential bucket (`accounts/users/<name>`,
//! `accounts/groups/<name>`): INI files with one `[user]` or `[group]` section.

use asiaq_core::accounts::{
    check_name, group_key, group_template, hash_password, install_plan, next_id, render_ini,
    set_entry, user_key, user_template, AccountError, GroupAccount, InstallStep, RecordStore,
    SystemAccounts, UserAccount, GROUPS_PREFIX, USERS_PREFIX,
};
use asiaq_core::secret::Secret;

use crate::IniFile;

/// The section name and `key = value` entries of an account file, or a message naming only
/// `label` and the line (the text may hold a password hash, so it is never quoted).
pub fn parse_account(label: &str, text: &str) -> Result<(String, Vec<(String, String)>), String> {
    let ini = IniFile::parse(label, text).map_err(|diags| {
        let lines: Vec<String> = diags
            .iter()
            .filter_map(|d| d.line.map(|l| l.to_string()))
            .collect();
        format!("{label}: not an INI file (line {})", lines.join(", "))
    })?;
    for kind in ["user", "group"] {
        if let Some(section) = ini.section(kind) {
            let entries = section
                .entries()
                .map(|(k, e)| (k.to_string(), e.raw.clone()))
                .collect();
            return Ok((kind.to_string(), entries));
        }
    }
    Err(format!("{label}: no [user] or [group] section"))
}

/// The entries of an account edited in `$EDITOR`, which must still be a `[section]`.
pub fn parse_edited(section: &str, text: &str) -> Result<Vec<(String, String)>, String> {
    let (kind, edited) = parse_account("the edited account", text)
        .map_err(|m| format!("{m}; nothing was changed"))?;
    if kind != section {
        return Err(format!(
            "the edited account has a [{kind}] section instead of [{section}]; nothing was changed"
        ));
    }
    Ok(edited)
}

/// Every id of `accounts` (name, text), for `next_id`; broken records are left out.
pub fn used_ids(accounts: &[(String, String)]) -> Vec<u32> {
    accounts
        .iter()
        .filter_map(|(name, text)| {
            let (_, entries) = parse_account(name, text).ok()?;
            entries
                .iter()
                .find(|(k, _)| k == "id")?
                .1
                .trim()
                .parse()
                .ok()
        })
        .collect()
}

/// The groups and users of `install` from their records (name, text); a broken record is
/// a problem (and is skipped, as the original did).
pub fn install_accounts(
    groups: Vec<(String, String)>,
    users: Vec<(String, String)>,
) -> (Vec<GroupAccount>, Vec<UserAccount>, Vec<String>) {
    let mut problems = Vec::new();
    let mut group_accounts = Vec::new();
    for (name, text) in groups {
        match parse_account(&group_key(&name), &text)
            .and_then(|(_, e)| GroupAccount::parse(&name, &e).map_err(|e| e.to_string()))
            .and_then(|g| check_name(&g.name).map(|()| g).map_err(|e| e.to_string()))
        {
            Ok(g) => group_accounts.push(g),
            Err(e) => problems.push(e),
        }
    }
    let mut user_accounts = Vec::new();
    for (name, text) in users {
        match parse_account(&user_key(&name), &text)
            .and_then(|(_, e)| UserAccount::parse(&name, &e).map_err(|e| e.to_string()))
            .and_then(|u| check_name(&u.name).map(|()| u).map_err(|e| e.to_string()))
        {
            Ok(u) => user_accounts.push(u),
            Err(e) => problems.push(e),
        }
    }
    (group_accounts, user_accounts, problems)
}

/// The steps that install the accounts of the records (name, text) on a host with
/// `system`'s accounts, and the problems found (a broken record is reported and skipped).
pub fn install_steps(
    groups: Vec<(String, String)>,
    users: Vec<(String, String)>,
    system: &SystemAccounts,
) -> (Vec<InstallStep>, Vec<String>) {
    let (groups, users, mut problems) = install_accounts(groups, users);
    let (steps, errors) = install_plan(&groups, &users, system);
    problems.extend(errors);
    (steps, problems)
}

/// The entries of one `[user]` or `[group]` record, in file order.
pub type Entries = Vec<(String, String)>;

/// Why an account change was not made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeError<E> {
    /// The request or the edited record is wrong; nothing was changed.
    Usage(String),
    /// Something failed on the way.
    Failed(String),
    /// The store failed.
    Store(E),
}

/// What to change about an account.
#[derive(Debug, Clone, Copy)]
pub enum Change<'a> {
    /// A group with the next free id.
    AddGroup,
    /// A user from its template (password hashed with `salt` and `rounds`), edited, and
    /// its group, each with the next free id.
    AddUser {
        password: &'a Secret,
        salt: &'a [u8],
        rounds: u32,
    },
    /// A user: its `active` field set, or else its record edited.
    EditUser { active: Option<&'a str> },
    /// A group, edited.
    EditGroup,
}

async fn exists<S: RecordStore>(store: &S, key: &str) -> Result<bool, ChangeError<S::Error>> {
    let found = store.get(key).await.map_err(ChangeError::Store)?;
    Ok(found.is_some())
}

/// Lets the user edit `entries` of `[section]` in `editor` (a command line, `$EDITOR`;
/// `vi` when unset or blank) on a temporary file, and reads the result back: it must still
/// be a `[section]`. An editor that cannot run is a usage error; one that fails, a failure.
pub fn edit_in_editor<E>(
    editor: Option<&str>,
    section: &str,
    entries: &[(String, String)],
) -> Result<Entries, ChangeError<E>> {
    use std::io::Write;
    let mut file = tempfile::Builder::new()
        .prefix("asiaq-account.")
        .suffix(".ini")
        .tempfile()
        .map_err(|e| ChangeError::Failed(format!("cannot create a temporary file: {e}")))?;
    file.write_all(render_ini(section, entries).as_bytes())
        .and_then(|()| file.flush())
        .map_err(|e| ChangeError::Failed(format!("cannot write a temporary file: {e}")))?;
    let editor = editor.filter(|e| !e.trim().is_empty()).unwrap_or("vi");
    let mut words = editor.split_whitespace();
    let program = words.next().unwrap_or("vi");
    let status = std::process::Command::new(program)
        .args(words)
        .arg(file.path())
        .status()
        .map_err(|e| {
            ChangeError::Usage(format!("cannot run the editor {program:?} ($EDITOR): {e}"))
        })?;
    if !status.success() {
        return Err(ChangeError::Failed(format!(
            "the editor {program:?} exited with {status}; nothing was changed"
        )));
    }
    let text = std::fs::read_to_string(file.path())
        .map_err(|e| ChangeError::Failed(format!("cannot read the edited file: {e}")))?;
    parse_edited(section, &text).map_err(ChangeError::Usage)
}

/// Every account id used under `prefix`, for `next_id`.
async fn ids<S: RecordStore>(store: &S, prefix: &str) -> Result<Vec<u32>, ChangeError<S::Error>> {
    Ok(used_ids(
        &store.texts(prefix).await.map_err(ChangeError::Store)?,
    ))
}

/// The entries of the `kind` record `key` of account `name`, which must exist.
async fn record<S: RecordStore>(
    store: &S,
    key: &str,
    kind: &str,
    name: &str,
) -> Result<Entries, ChangeError<S::Error>> {
    let Some(bytes) = store.get(key).await.map_err(ChangeError::Store)? else {
        return Err(ChangeError::Usage(format!(
            "no {kind} {name} in {}",
            store.name()
        )));
    };
    let (_, entries) =
        parse_account(key, &String::from_utf8_lossy(&bytes)).map_err(ChangeError::Failed)?;
    Ok(entries)
}

/// The records (key, text) that `change` of account `name` writes, in order; nothing is
/// written here. `edit` lets the user edit a record's entries (of section `user` or
/// `group`).
pub async fn records_to_write<S: RecordStore>(
    store: &S,
    name: &str,
    change: Change<'_>,
    mut edit: impl FnMut(&str, &[(String, String)]) -> Result<Entries, ChangeError<S::Error>>,
) -> Result<Vec<(String, String)>, ChangeError<S::Error>> {
    let not_changed = |e: AccountError| ChangeError::Usage(format!("{e}; nothing was changed"));
    let already = |kind: &str, instead: &str| {
        Err(ChangeError::Usage(format!(
            "{kind} {name} already exists in {}; use {instead}",
            store.name()
        )))
    };
    Ok(match change {
        Change::AddGroup => {
            if exists(store, &group_key(name)).await? {
                return already("group", "editgroup");
            }
            let id = next_id(ids(store, GROUPS_PREFIX).await?);
            vec![(group_key(name), render_ini("group", &group_template(id)))]
        }
        Change::AddUser {
            password,
            salt,
            rounds,
        } => {
            if exists(store, &user_key(name)).await? {
                return already("user", "edituser");
            }
            let user_id = next_id(ids(store, USERS_PREFIX).await?);
            let group_id = next_id(ids(store, GROUPS_PREFIX).await?);
            let hash = hash_password(password, salt, rounds);
            let entries = edit("user", &user_template(&hash, user_id))?;
            UserAccount::parse(name, &entries).map_err(not_changed)?;
            vec![
                (user_key(name), render_ini("user", &entries)),
                (
                    group_key(name),
                    render_ini("group", &group_template(group_id)),
                ),
            ]
        }
        Change::EditUser { active } => {
            let key = user_key(name);
            let mut entries = record(store, &key, "user", name).await?;
            let entries = match active {
                Some(a) => {
                    set_entry(&mut entries, "active", &a.to_ascii_lowercase());
                    entries
                }
                None => edit("user", &entries)?,
            };
            UserAccount::parse(name, &entries).map_err(not_changed)?;
            // As the original: rewrite every group, so that a lifecycle rule moving old
            // objects to Glacier never takes them out of reach.
            let groups = store
                .texts(GROUPS_PREFIX)
                .await
                .map_err(ChangeError::Store)?;
            std::iter::once((key, render_ini("user", &entries)))
                .chain(groups.into_iter().map(|(g, text)| (group_key(&g), text)))
                .collect()
        }
        Change::EditGroup => {
            let key = group_key(name);
            let entries = edit("group", &record(store, &key, "group", name).await?)?;
            GroupAccount::parse(name, &entries).map_err(not_changed)?;
            vec![(key, render_ini("group", &entries))]
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(name: &str, text: &str) -> (String, String) {
        (name.to_string(), text.to_string())
    }

    #[test]
    fn parse_account_finds_the_section_and_never_quotes_the_text() {
        let (kind, entries) = parse_account("g", "[group]\nid = 2001\n").unwrap();
        assert_eq!(kind, "group");
        assert_eq!(entries, [("id".to_string(), "2001".to_string())]);
        let err = parse_account("accounts/users/bob", "password = $6$secret\n").unwrap_err();
        assert!(err.starts_with("accounts/users/bob: "), "{err}");
        assert!(!err.contains("secret"), "{err}");
        assert_eq!(
            parse_account("x", "[other]\na = 1\n").unwrap_err(),
            "x: no [user] or [group] section"
        );
    }

    #[test]
    fn an_edited_account_keeps_its_section() {
        assert_eq!(
            parse_edited("user", "[user]\nid = 2000\n").unwrap(),
            [("id".to_string(), "2000".to_string())]
        );
        assert_eq!(
            parse_edited("user", "[group]\nid = 2000\n").unwrap_err(),
            "the edited account has a [group] section instead of [user]; nothing was changed"
        );
        assert!(parse_edited("user", "nonsense")
            .unwrap_err()
            .ends_with("; nothing was changed"));
    }

    #[test]
    fn used_ids_skip_broken_records() {
        let ids = used_ids(&[
            rec("a", "[group]\nid = 2000\n"),
            rec("b", "[group]\nid = x\n"),
            rec("c", "not ini"),
            rec("d", "[user]\nid = 2005\n"),
        ]);
        assert_eq!(ids, [2000, 2005]);
    }

    #[test]
    fn install_accounts_report_each_broken_record() {
        let (groups, users, problems) = install_accounts(
            vec![rec("ops", "[group]\nid = 2000\n"), rec("bad", "[group]\n")],
            vec![rec("nope", "garbage")],
        );
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].name, "ops");
        assert!(users.is_empty());
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[1].starts_with("accounts/users/nope"),
            "{problems:?}"
        );
    }

    /// Account records in memory.
    struct Store(Vec<(String, String)>);

    impl RecordStore for Store {
        type Error = String;
        fn name(&self) -> &str {
            "bucket"
        }
        async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
            let found = self.0.iter().find(|(k, _)| k == key);
            Ok(found.map(|(_, t)| t.clone().into_bytes()))
        }
        async fn texts(&self, prefix: &str) -> Result<Vec<(String, String)>, String> {
            let under = self.0.iter().filter_map(|(k, t)| {
                let name = k.strip_prefix(prefix)?;
                Some((name.to_string(), t.clone()))
            });
            Ok(under.collect())
        }
    }

    fn store() -> Store {
        Store(vec![
            rec("accounts/groups/ops", "[group]\nid = 2000\n"),
            rec("accounts/groups/dev", "[group]\nid = 2001\n"),
            rec("accounts/users/bob", "[user]\nid = 2000\nactive = yes\n"),
        ])
    }

    /// Runs a future that never waits (the store answers at once).
    fn now<F: std::future::Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(out) => out,
            std::task::Poll::Pending => panic!("the store never waits"),
        }
    }

    type Edited = Result<Entries, ChangeError<String>>;

    fn no_editor(_: &str, _: &[(String, String)]) -> Edited {
        panic!("no editor here")
    }

    #[test]
    fn a_new_group_gets_the_next_free_id_and_an_existing_one_is_refused() {
        let got = now(records_to_write(
            &store(),
            "qa",
            Change::AddGroup,
            no_editor,
        ))
        .unwrap();
        assert_eq!(got, [rec("accounts/groups/qa", "[group]\nid = 2002\n\n")]);
        let err = now(records_to_write(
            &store(),
            "ops",
            Change::AddGroup,
            no_editor,
        ));
        assert_eq!(
            err,
            Err(ChangeError::Usage(
                "group ops already exists in bucket; use editgroup".into()
            ))
        );
    }

    #[test]
    fn a_new_user_is_edited_and_checked_and_gets_its_group() {
        let password = Secret::new("pw");
        let change = Change::AddUser {
            password: &password,
            salt: b"0123456789ab",
            rounds: 1000,
        };
        let mut edited = Vec::new();
        let edit = |section: &str, entries: &[(String, String)]| -> Edited {
            edited.push(section.to_string());
            let mut out = entries.to_vec();
            set_entry(&mut out, "shell", "/bin/zsh");
            Ok(out)
        };
        let got = now(records_to_write(&store(), "amy", change, edit)).unwrap();
        assert_eq!(edited, ["user"]);
        assert_eq!(got[0].0, "accounts/users/amy");
        assert!(got[0].1.contains("shell = /bin/zsh\n"), "{}", got[0].1);
        assert!(got[0].1.contains("password = $6$rounds="), "{}", got[0].1);
        assert!(got[0].1.ends_with("id = 2001\n\n"), "{}", got[0].1);
        assert_eq!(got[1], rec("accounts/groups/amy", "[group]\nid = 2002\n\n"));
        // An edit that loses the id changes nothing.
        let drop_id = |_: &str, entries: &[(String, String)]| -> Edited {
            Ok(entries.iter().filter(|(k, _)| k != "id").cloned().collect())
        };
        let err = now(records_to_write(&store(), "cy", change, drop_id)).unwrap_err();
        assert_eq!(
            err,
            ChangeError::Usage("user cy: option id is missing; nothing was changed".into())
        );
        let err = now(records_to_write(&store(), "bob", change, no_editor)).unwrap_err();
        assert!(matches!(err, ChangeError::Usage(m) if m.ends_with("; use edituser")));
    }

    #[test]
    fn setting_active_rewrites_the_user_and_every_group() {
        let change = Change::EditUser { active: Some("NO") };
        let got = now(records_to_write(&store(), "bob", change, no_editor)).unwrap();
        let keys: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "accounts/users/bob",
                "accounts/groups/ops",
                "accounts/groups/dev"
            ]
        );
        assert_eq!(got[0].1, "[user]\nid = 2000\nactive = no\n\n");
        assert_eq!(got[1].1, "[group]\nid = 2000\n");
    }

    #[test]
    fn editing_a_missing_account_is_refused() {
        let change = Change::EditUser { active: None };
        let err = now(records_to_write(&store(), "zed", change, no_editor)).unwrap_err();
        assert_eq!(err, ChangeError::Usage("no user zed in bucket".into()));
        let err = now(records_to_write(
            &store(),
            "zed",
            Change::EditGroup,
            no_editor,
        ));
        assert_eq!(
            err,
            Err(ChangeError::Usage("no group zed in bucket".into()))
        );
    }

    #[test]
    fn an_edited_group_must_keep_a_numeric_id() {
        let edit = |_: &str, _: &[(String, String)]| -> Edited { Ok(vec![rec("id", "x")]) };
        let err = now(records_to_write(&store(), "ops", Change::EditGroup, edit)).unwrap_err();
        assert_eq!(
            err,
            ChangeError::Usage("group ops: id \"x\" is not a number; nothing was changed".into())
        );
    }

    #[test]
    fn install_steps_carry_the_problems_of_records_and_plan() {
        let (steps, problems) = install_steps(
            vec![rec("ops", "[group]\nid = 2000\n")],
            vec![rec("bob", "[user]\nid = 2000\n"), rec("bad", "[user]\n")],
            &SystemAccounts::default(),
        );
        assert!(matches!(&steps[0], InstallStep::Run { account, .. } if account == "group ops"));
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("user bad"), "{problems:?}");
        assert!(problems[1].contains("bob"), "{problems:?}");
    }

    #[test]
    fn the_editor_edits_the_record_and_its_failures_change_nothing() {
        let entries = vec![rec("id", "2000"), rec("shell", "/bin/bash")];
        let edited: Edited = edit_in_editor(Some("sed -i s/bash/zsh/"), "user", &entries);
        assert_eq!(
            edited.unwrap(),
            [rec("id", "2000"), rec("shell", "/bin/zsh")]
        );
        let kept: Edited = edit_in_editor(Some("true"), "user", &entries);
        assert_eq!(kept.unwrap(), entries);
        let failed: Edited = edit_in_editor(Some("false"), "user", &entries);
        assert!(
            matches!(failed, Err(ChangeError::Failed(m)) if m.starts_with("the editor \"false\" exited with"))
        );
        let missing: Edited = edit_in_editor(Some("/nonexistent/editor"), "user", &entries);
        assert!(
            matches!(missing, Err(ChangeError::Usage(m)) if m.starts_with("cannot run the editor \"/nonexistent/editor\" ($EDITOR): "))
        );
        let emptied: Edited = edit_in_editor(Some("truncate -s0"), "user", &entries);
        assert!(
            matches!(emptied, Err(ChangeError::Usage(m)) if m.ends_with("; nothing was changed"))
        );
    }
}
