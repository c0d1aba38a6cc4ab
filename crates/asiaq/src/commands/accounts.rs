//! `asiaq accounts` (disco_accounts.py): OS user and group accounts kept in the credential
//! bucket (spec §4.16), edited with `$EDITOR`, and installed on a host by `install`. What a
//! change writes is `asiaq_config::accounts`; what `install` does to the host,
//! `asiaq_core::accounts::Installed` with `asiaq_config::host`.

use std::io::Write;

use asiaq_aws::credentials::Bucket;
use asiaq_aws::AwsError;
use asiaq_config::accounts::{
    edit_in_editor, install_steps, records_to_write, Change, ChangeError, Entries,
};
use asiaq_config::host::{self, AccountFiles};
use asiaq_core::accounts::{
    check_name, hash_password, text, Installed, GROUPS_PREFIX, SHA512_CRYPT_ROUNDS, USERS_PREFIX,
};
use asiaq_core::printout::Printout;
use asiaq_core::secret::Secret;
use asiaq_engine::report as progress;
use rand::RngCore;

use crate::cli::GlobalArgs;
use crate::commands::creds::prompt_password_twice;
use crate::commands::{aws_session, cred_bucket};
use crate::exit::CliError;
use crate::output::{emit, print};

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

fn default_name(name: &Option<String>) -> Result<String, CliError> {
    let user = std::env::var("USER").ok();
    text::account_name(name.as_deref(), user).map_err(CliError::usage)
}

/// Opens `entries` of `[section]` in `$EDITOR` (default `vi`) and reads the result back.
fn edit(section: &str, entries: &[(String, String)]) -> Result<Entries, ChangeError<AwsError>> {
    edit_in_editor(std::env::var("EDITOR").ok().as_deref(), section, entries)
}

pub fn run(global: &GlobalArgs, args: &AccountsArgs) -> Result<(), CliError> {
    if let AccountsCommand::Hashpassword = args.command {
        let password = prompt_password_twice("Password: ")?;
        let h = hash_password(&password, &salt(), SHA512_CRYPT_ROUNDS);
        return emit(global.output, &h, |out: &mut dyn Write| {
            writeln!(out, "{h}")
        });
    }
    // Everything asked of the user (names, passwords) comes before any AWS call.
    let password = match &args.command {
        AccountsCommand::Adduser {
            password: Some(p), ..
        } => Secret::new(p.clone()),
        AccountsCommand::Adduser { password: None, .. } => prompt_password_twice("Password: ")?,
        _ => Secret::default(),
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
        text::check_active(a).map_err(CliError::usage)?;
    }
    let salt = salt();
    let change = match &args.command {
        AccountsCommand::Adduser { .. } => Change::AddUser {
            password: &password,
            salt: &salt,
            rounds: SHA512_CRYPT_ROUNDS,
        },
        AccountsCommand::Edituser { active, .. } => Change::EditUser {
            active: active.as_deref(),
        },
        AccountsCommand::Editgroup { .. } => Change::EditGroup,
        _ => Change::AddGroup,
    };
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
        let writes = records_to_write(&bucket, &name, change, edit).await?;
        if !dry_run {
            for (key, text) in &writes {
                bucket.put(key, text.clone().into_bytes()).await?;
            }
        }
        let keys = writes.into_iter().map(|(k, _)| k).collect();
        print(global, text::written(&bucket_name, keys, dry_run))
    })
}

/// The names of the records under `prefix`, one per line.
async fn list(global: &GlobalArgs, bucket: &Bucket<'_>, prefix: &str) -> Result<(), CliError> {
    let names = bucket.names(prefix).await?;
    print(global, Printout::names(&names))
}

/// `install`: reads every account (a broken one is reported and skipped, as the original
/// did), then runs the plan's commands, carrying on past failures and reporting them all.
async fn install(global: &GlobalArgs, bucket: &Bucket<'_>, dry_run: bool) -> Result<(), CliError> {
    let files = AccountFiles::host();
    let groups = bucket.texts(GROUPS_PREFIX).await?;
    let users = bucket.texts(USERS_PREFIX).await?;
    let (steps, problems) = install_steps(groups, users, &host::read_system_accounts(&files));
    let installed = Installed::carry_out(
        &steps,
        dry_run,
        problems,
        host::run_command,
        |user, keys| host::install_keys(&files, user, keys),
        progress::note,
    );
    print(global, installed.printout())?;
    installed
        .failure()
        .map_or(Ok(()), |f| Err(CliError::failed(f)))
}
