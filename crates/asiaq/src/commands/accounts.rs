//! `asiaq accounts` (disco_accounts.py): OS user and group accounts kept in the credential
//! bucket (spec §4.16), edited with `$EDITOR`, and installed on a host by `install`.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::Command;

use asiaq_aws::credentials::Bucket;
use asiaq_config::accounts::{install_accounts, parse_account, parse_edited, used_ids};
use asiaq_core::accounts::{
    check_name, group_key, group_template, hash_password, install_plan, merge_authorized_keys,
    next_id, parse_id_file, primary_gid, render_ini, set_entry, system_accounts, user_key,
    user_template, AccountError, GroupAccount, InstallStep, SystemAccounts, UserAccount,
    GROUPS_PREFIX, SHA512_CRYPT_ROUNDS, USERS_PREFIX,
};
use asiaq_core::secret::Secret;
use asiaq_engine::report as progress;
use rand::RngCore;
use serde::Serialize;

use crate::cli::GlobalArgs;
use crate::commands::creds::prompt_password_twice;
use crate::commands::{aws_session, cred_bucket};
use crate::exit::CliError;
use crate::output::emit;

#[derive(Debug, clap::Args)]
pub struct AccountsArgs {
    /// The bucket to use (default: the first credential bucket of --env)
    #[arg(long, global = true, value_name = "BUCKET")]
    pub bucket: Option<String>,

    #[command(subcommand)]
    pub command: AccountsCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum AccountsCommand {
    /// Create or update the groups and users of the bucket on this host (run as root on
    /// the host), and add their SSH keys to authorized_keys
    Install {
        /// Print the commands that would run and change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Create a group account (next free id from 2000)
    Addgroup {
        #[arg(long, value_name = "NAME")]
        name: String,
        #[arg(long)]
        dry_run: bool,
    },
    /// Edit a group account in $EDITOR
    Editgroup {
        #[arg(long, value_name = "NAME")]
        name: String,
        #[arg(long)]
        dry_run: bool,
    },
    /// Create a user account (and its group) from a template edited in $EDITOR
    Adduser {
        /// Account name (default: $USER)
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// The password (normally omitted: it is then asked twice, without echo)
        #[arg(long, value_name = "PASS")]
        password: Option<String>,
        #[arg(long)]
        dry_run: bool,
    },
    /// Edit a user account in $EDITOR, or just set its active field
    Edituser {
        /// Account name (default: $USER)
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// Set the active field (yes or no) without opening the editor
        #[arg(long, value_name = "ACTIVE")]
        active: Option<String>,
        #[arg(long)]
        dry_run: bool,
    },
    /// Print a sha512_crypt hash of a password asked twice
    Hashpassword,
    /// List group accounts
    Listgroups,
    /// List user accounts
    Listusers,
}

fn salt() -> [u8; 12] {
    let mut s = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut s);
    s
}

fn hash(password: &Secret) -> String {
    hash_password(password, &salt(), SHA512_CRYPT_ROUNDS)
}

fn default_name(name: &Option<String>) -> Result<String, CliError> {
    let name = match name {
        Some(n) => n.clone(),
        None => std::env::var("USER")
            .map_err(|_| CliError::usage("give --name NAME ($USER is not set)"))?,
    };
    check_name(&name).map_err(|e| CliError::usage(e.to_string()))?;
    Ok(name)
}

/// Opens `entries` of `[section]` in `$EDITOR` (default `vi`) and reads the result back.
fn edit(section: &str, entries: &[(String, String)]) -> Result<Vec<(String, String)>, CliError> {
    let mut file = tempfile::Builder::new()
        .prefix("asiaq-account.")
        .suffix(".ini")
        .tempfile()
        .map_err(|e| CliError::failed(format!("cannot create a temporary file: {e}")))?;
    file.write_all(render_ini(section, entries).as_bytes())
        .and_then(|()| file.flush())
        .map_err(|e| CliError::failed(format!("cannot write a temporary file: {e}")))?;
    let editor = std::env::var("EDITOR")
        .ok()
        .filter(|e| !e.trim().is_empty())
        .unwrap_or_else(|| "vi".to_string());
    let mut words = editor.split_whitespace();
    let program = words.next().unwrap_or("vi");
    let status = Command::new(program)
        .args(words)
        .arg(file.path())
        .status()
        .map_err(|e| {
            CliError::usage(format!("cannot run the editor {program:?} ($EDITOR): {e}"))
        })?;
    if !status.success() {
        return Err(CliError::failed(format!(
            "the editor {program:?} exited with {status}; nothing was changed"
        )));
    }
    let text = std::fs::read_to_string(file.path())
        .map_err(|e| CliError::failed(format!("cannot read the edited file: {e}")))?;
    parse_edited(section, &text).map_err(CliError::usage)
}

#[derive(Serialize)]
struct Written<'a> {
    bucket: &'a str,
    keys: Vec<String>,
    dry_run: bool,
}

fn report(
    global: &GlobalArgs,
    bucket: &str,
    keys: Vec<String>,
    dry_run: bool,
) -> Result<(), CliError> {
    let w = Written {
        bucket,
        keys,
        dry_run,
    };
    emit(global.output, &w, |out: &mut dyn Write| {
        for k in &w.keys {
            if dry_run {
                writeln!(
                    out,
                    "would write s3://{bucket}/{k} (dry run: nothing changed)"
                )?;
            } else {
                writeln!(out, "wrote s3://{bucket}/{k}")?;
            }
        }
        Ok(())
    })
}

/// Every account id used under `prefix`, for `next_id`.
async fn ids(bucket: &Bucket<'_>, prefix: &str) -> Result<Vec<u32>, CliError> {
    Ok(used_ids(&bucket.texts(prefix).await?))
}

pub fn run(global: &GlobalArgs, args: &AccountsArgs) -> Result<(), CliError> {
    if let AccountsCommand::Hashpassword = args.command {
        let password = prompt_password_twice("Password: ")?;
        let h = hash(&password);
        return emit(global.output, &h, |out: &mut dyn Write| {
            writeln!(out, "{h}")
        });
    }
    // Everything asked of the user (names, passwords) comes before any AWS call.
    let password = match &args.command {
        AccountsCommand::Adduser { password, .. } => Some(match password {
            Some(p) => Secret::new(p.clone()),
            None => prompt_password_twice("Password: ")?,
        }),
        _ => None,
    };
    let name = match &args.command {
        AccountsCommand::Adduser { name, .. } | AccountsCommand::Edituser { name, .. } => {
            Some(default_name(name)?)
        }
        AccountsCommand::Addgroup { name, .. } | AccountsCommand::Editgroup { name, .. } => {
            check_name(name).map_err(|e| CliError::usage(e.to_string()))?;
            Some(name.clone())
        }
        _ => None,
    };
    if let AccountsCommand::Edituser {
        active: Some(a), ..
    } = &args.command
    {
        if !matches!(a.to_ascii_lowercase().as_str(), "yes" | "no") {
            return Err(CliError::usage(format!(
                "--active {a:?}: expected yes or no"
            )));
        }
    }
    let config = cred_bucket::config_for(global, args.bucket.as_deref(), None)?;
    aws_session::run(global, |ctx| async move {
        let bucket_name =
            cred_bucket::resolve(&ctx, args.bucket.as_deref(), config.as_ref()).await?;
        let bucket = Bucket::new(&ctx, &bucket_name);
        bucket.check().await?;
        let name = name.unwrap_or_default();
        let dry_run = match &args.command {
            AccountsCommand::Listgroups => return list(global, &bucket, GROUPS_PREFIX).await,
            AccountsCommand::Listusers => return list(global, &bucket, USERS_PREFIX).await,
            AccountsCommand::Install { dry_run } => {
                return install(global, &bucket, *dry_run).await
            }
            AccountsCommand::Hashpassword => return Ok(()),
            AccountsCommand::Addgroup { dry_run, .. }
            | AccountsCommand::Adduser { dry_run, .. }
            | AccountsCommand::Edituser { dry_run, .. }
            | AccountsCommand::Editgroup { dry_run, .. } => *dry_run,
        };
        let not_changed = |e: AccountError| CliError::usage(format!("{e}; nothing was changed"));
        // The records to write, in order.
        let writes: Vec<(String, String)> = match &args.command {
            AccountsCommand::Addgroup { .. } => {
                if bucket.get(&group_key(&name)).await?.is_some() {
                    return Err(CliError::usage(format!(
                        "group {name} already exists in {bucket_name}; use editgroup"
                    )));
                }
                let id = next_id(ids(&bucket, GROUPS_PREFIX).await?);
                vec![(group_key(&name), render_ini("group", &group_template(id)))]
            }
            AccountsCommand::Adduser { .. } => {
                if bucket.get(&user_key(&name)).await?.is_some() {
                    return Err(CliError::usage(format!(
                        "user {name} already exists in {bucket_name}; use edituser"
                    )));
                }
                let password = password.unwrap_or_default();
                let user_id = next_id(ids(&bucket, USERS_PREFIX).await?);
                let group_id = next_id(ids(&bucket, GROUPS_PREFIX).await?);
                let entries = edit("user", &user_template(&hash(&password), user_id))?;
                UserAccount::parse(&name, &entries).map_err(not_changed)?;
                vec![
                    (user_key(&name), render_ini("user", &entries)),
                    (
                        group_key(&name),
                        render_ini("group", &group_template(group_id)),
                    ),
                ]
            }
            AccountsCommand::Edituser { active, .. } => {
                let key = user_key(&name);
                let mut entries = record(&bucket, &key, "user", &name).await?;
                let entries = match active {
                    Some(a) => {
                        set_entry(&mut entries, "active", &a.to_ascii_lowercase());
                        entries
                    }
                    None => edit("user", &entries)?,
                };
                UserAccount::parse(&name, &entries).map_err(not_changed)?;
                // As the original: rewrite every group, so that a lifecycle rule moving old
                // objects to Glacier never takes them out of reach.
                let groups = bucket.texts(GROUPS_PREFIX).await?;
                std::iter::once((key, render_ini("user", &entries)))
                    .chain(groups.into_iter().map(|(g, text)| (group_key(&g), text)))
                    .collect()
            }
            AccountsCommand::Editgroup { .. } => {
                let key = group_key(&name);
                let entries = edit("group", &record(&bucket, &key, "group", &name).await?)?;
                GroupAccount::parse(&name, &entries).map_err(not_changed)?;
                vec![(key, render_ini("group", &entries))]
            }
            _ => return Ok(()),
        };
        if !dry_run {
            for (key, text) in &writes {
                bucket.put(key, text.clone().into_bytes()).await?;
            }
        }
        let keys = writes.into_iter().map(|(k, _)| k).collect();
        report(global, &bucket_name, keys, dry_run)
    })
}

/// The names of the records under `prefix`, one per line.
async fn list(global: &GlobalArgs, bucket: &Bucket<'_>, prefix: &str) -> Result<(), CliError> {
    let names = bucket.names(prefix).await?;
    emit(global.output, &names, |out: &mut dyn Write| {
        for n in &names {
            writeln!(out, "{n}")?;
        }
        Ok(())
    })
}

/// The entries of the `kind` record `key` of account `name`, which must exist.
async fn record(
    bucket: &Bucket<'_>,
    key: &str,
    kind: &str,
    name: &str,
) -> Result<Vec<(String, String)>, CliError> {
    let Some(bytes) = bucket.get(key).await? else {
        return Err(CliError::usage(format!(
            "no {kind} {name} in {}",
            bucket.name()
        )));
    };
    let (_, entries) =
        parse_account(key, &String::from_utf8_lossy(&bytes)).map_err(CliError::failed)?;
    Ok(entries)
}

/// `install`: reads every account (a broken one is reported and skipped, as the original
/// did), then runs the plan's commands, carrying on past failures and reporting them all.
async fn install(global: &GlobalArgs, bucket: &Bucket<'_>, dry_run: bool) -> Result<(), CliError> {
    let (groups, users, mut problems) = install_accounts(
        bucket.texts(GROUPS_PREFIX).await?,
        bucket.texts(USERS_PREFIX).await?,
    );
    let system = read_system_accounts();
    let (steps, errors) = install_plan(&groups, &users, &system);
    problems.extend(errors);
    let mut done = Vec::new();
    let mut failed_accounts = BTreeSet::new();
    for step in &steps {
        match step {
            InstallStep::Run { account, command } => {
                done.push(command.to_string());
                if dry_run {
                    continue;
                }
                let status = Command::new(command.program).args(&command.args).status();
                match status {
                    Ok(s) if s.success() => progress::note(format!("done: {command}")),
                    Ok(s) => {
                        failed_accounts.insert(account.clone());
                        problems.push(format!("{account}: {} exited with {s}", command.program));
                    }
                    Err(e) => {
                        failed_accounts.insert(account.clone());
                        problems.push(format!("{account}: cannot run {}: {e}", command.program));
                    }
                }
            }
            InstallStep::AuthorizedKeys { user, keys } => {
                done.push(format!(
                    "add {} ssh key(s) to ~{user}/.ssh/authorized_keys",
                    keys.len()
                ));
                if dry_run || keys.is_empty() || failed_accounts.contains(&format!("user {user}")) {
                    continue;
                }
                if let Err(e) = install_keys(user, keys) {
                    problems.push(format!("user {user}: {e}"));
                }
            }
        }
    }
    #[derive(Serialize)]
    struct Installed<'a> {
        dry_run: bool,
        steps: &'a [String],
        problems: &'a [String],
    }
    emit(
        global.output,
        &Installed {
            dry_run,
            steps: &done,
            problems: &problems,
        },
        |out: &mut dyn Write| {
            if dry_run {
                for s in &done {
                    writeln!(out, "{s}")?;
                }
            }
            Ok(())
        },
    )?;
    if problems.is_empty() {
        Ok(())
    } else {
        Err(CliError::failed(format!(
            "{} account problem(s):\n  {}",
            problems.len(),
            problems.join("\n  ")
        )))
    }
}

/// Local accounts from `/etc/passwd` and `/etc/group` (the files `useradd` and `groupadd`
/// write).
fn read_system_accounts() -> SystemAccounts {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    system_accounts(&read("/etc/passwd"), &read("/etc/group"))
}

/// Adds the keys missing from `~user/.ssh/authorized_keys`; the directory is 0700 and the
/// file 0600, both owned by the user.
fn install_keys(user: &str, keys: &[String]) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let passwd_text = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
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
    std::fs::create_dir_all(&ssh_dir)
        .map_err(|e| format!("cannot create {}: {e}", ssh_dir.display()))?;
    let existing = std::fs::read_to_string(&file).unwrap_or_default();
    if let Some(text) = merge_authorized_keys(&existing, keys) {
        std::fs::write(&file, text).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    }
    for (path, mode) in [(&ssh_dir, 0o700), (&file, 0o600)] {
        std::os::unix::fs::chown(path, Some(*uid), Some(gid))
            .map_err(|e| format!("cannot chown {}: {e}", path.display()))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| format!("cannot chmod {}: {e}", path.display()))?;
    }
    Ok(())
}
