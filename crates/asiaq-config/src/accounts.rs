//! Account records of the credential bucket (`accounts/users/<name>`,
//! `accounts/groups/<name>`): INI files with one `[user]` or `[group]` section.

use asiaq_core::accounts::{check_name, group_key, user_key, GroupAccount, UserAccount};

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
}
