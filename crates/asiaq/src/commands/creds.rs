//! `asiaq creds` (disco_creds.py): the objects of an environment's credential bucket.
//! Values are secrets: only `get` prints one, on stdout.

use std::io::Read;
use std::path::PathBuf;

use asiaq_aws::credentials::Bucket;
use asiaq_core::creds;
use asiaq_core::printout::Printout;
use asiaq_core::secret::Secret;
use asiaq_engine::report as progress;

use crate::cli::GlobalArgs;
use crate::commands::{aws_session, cred_bucket};
use crate::exit::CliError;
use crate::output::{emit, print};

#[derive(Debug, clap::Args)]
pub struct CredsArgs {
    /// The bucket to use (default: the first credential bucket of --env)
    #[arg(long, global = true, value_name = "BUCKET")]
    pub bucket: Option<String>,

    /// No progress messages (the original's --silent)
    #[arg(long, global = true)]
    pub silent: bool,

    #[command(subcommand)]
    pub command: CredsCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum CredsCommand {
    /// List the keys of the bucket
    List {
        /// Only keys starting with this prefix
        #[arg(long, value_name = "PREFIX", default_value = "")]
        prefix: String,
    },
    /// Print the value of a key
    Get {
        #[arg(long, value_name = "KEY")]
        key: String,
    },
    /// Set the value of a key (encrypted at rest)
    #[command(group(clap::ArgGroup::new("source").required(true).args(["value", "password"])))]
    Set {
        #[arg(long, value_name = "KEY")]
        key: String,
        /// The value; `-` reads it from stdin
        #[arg(long, value_name = "VALUE", allow_hyphen_values = true)]
        value: Option<String>,
        /// Prompt for the value twice, without echo
        #[arg(long)]
        password: bool,
        /// Say what would be done and do nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Delete a key
    Delete {
        #[arg(long, value_name = "KEY")]
        key: String,
        /// Say what would be done and do nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Upload a file as the value of a key
    Setfile {
        #[arg(long, value_name = "KEY")]
        key: String,
        #[arg(long, value_name = "FILE")]
        filename: PathBuf,
        /// Say what would be done and do nothing
        #[arg(long)]
        dry_run: bool,
    },
}

/// Reads a password twice from the terminal without echo.
pub fn prompt_password_twice(prompt: &str) -> Result<Secret, CliError> {
    let read = |p: &str| {
        rpassword::prompt_password(p).map(Secret::new).map_err(|e| {
            CliError::usage(format!("cannot read a password from the terminal: {e}"))
                .with_hint("run it on a terminal, or pass the value another way")
        })
    };
    let first = read(prompt)?;
    let second = read("Again: ")?;
    if first != second {
        return Err(CliError::usage(
            "the two passwords do not match; nothing was changed",
        ));
    }
    Ok(first)
}

pub fn run(global: &GlobalArgs, args: &CredsArgs) -> Result<(), CliError> {
    if args.silent {
        if global.debug {
            return Err(CliError::usage("--silent and --debug exclude each other"));
        }
        crate::report::install(true);
    }
    // Everything from the user is read before AWS is called: a bad file or a mismatched
    // password changes nothing.
    let value: Option<Vec<u8>> = match &args.command {
        CredsCommand::Set {
            value: Some(v),
            password: false,
            ..
        } => {
            if v == "-" {
                let mut buf = Vec::new();
                std::io::stdin().read_to_end(&mut buf).map_err(|e| {
                    CliError::usage(format!("cannot read the value from stdin: {e}"))
                })?;
                Some(buf)
            } else {
                Some(v.clone().into_bytes())
            }
        }
        CredsCommand::Set { password: true, .. } => Some(
            prompt_password_twice("Value: ")?
                .expose()
                .as_bytes()
                .to_vec(),
        ),
        CredsCommand::Setfile { filename, .. } => Some(std::fs::read(filename).map_err(|e| {
            CliError::usage(format!("cannot read {}: {}", filename.display(), e.kind()))
        })?),
        _ => None,
    };
    let config = cred_bucket::config_for(global, args.bucket.as_deref(), None)?;
    aws_session::run(global, |ctx| async move {
        let name = cred_bucket::resolve(&ctx, args.bucket.as_deref(), config.as_ref()).await?;
        let bucket = Bucket::new(&ctx, &name);
        match &args.command {
            CredsCommand::List { prefix } => {
                let keys = bucket.list(prefix).await?;
                print(global, Printout::names(&keys))
            }
            CredsCommand::Get { key } => {
                let Some(value) = bucket.get(key).await? else {
                    return Err(CliError::failed(format!(
                        "s3://{name}/{key} does not exist"
                    )));
                };
                emit(global.output, &creds::got(key, &value), |out| {
                    out.write_all(&value)?;
                    writeln!(out)
                })
            }
            CredsCommand::Set { key, dry_run, .. } | CredsCommand::Setfile { key, dry_run, .. } => {
                let value = value.unwrap_or_default();
                let len = value.len();
                if *dry_run {
                    return done(global, &name, key, "would set", len, true);
                }
                bucket.put(key, value).await?;
                progress::note(format!("set s3://{name}/{key} ({len} bytes, encrypted)"));
                done(global, &name, key, "set", len, false)
            }
            CredsCommand::Delete { key, dry_run } => {
                if *dry_run {
                    return done(global, &name, key, "would delete", 0, true);
                }
                bucket.delete(key).await?;
                progress::note(format!("deleted s3://{name}/{key}"));
                done(global, &name, key, "deleted", 0, false)
            }
        }
    })
}

fn done(
    global: &GlobalArgs,
    bucket: &str,
    key: &str,
    what: &str,
    bytes: usize,
    dry_run: bool,
) -> Result<(), CliError> {
    print(global, creds::done(bucket, key, what, bytes, dry_run))
}
