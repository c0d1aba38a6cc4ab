//! `asiaq app-auth` (disco_app_auth.py): publish application passwords from
//! `app_auth/<env>/` to the environment's credential bucket (spec §4.12).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use asiaq_aws::credentials::Bucket;
use asiaq_config::app_auth::{read_app_auth, AppAuthValue};
use asiaq_config::ConfigDir;
use asiaq_core::app_auth::{plan, Source};
use asiaq_core::secret::Secret;
use asiaq_engine::report as progress;
use serde::Serialize;

use crate::cli::GlobalArgs;
use crate::commands::{aws_session, cred_bucket};
use crate::exit::CliError;
use crate::output::emit;

#[derive(Debug, clap::Args)]
pub struct AppAuthArgs {
    /// The bucket to use (default: the first credential bucket of --env)
    #[arg(long, global = true, value_name = "BUCKET")]
    pub bucket: Option<String>,

    /// The directory that holds app_auth/ (default: the configuration directory)
    #[arg(long, global = true, value_name = "DIR")]
    pub directory: Option<PathBuf>,

    #[command(subcommand)]
    pub command: AppAuthCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum AppAuthCommand {
    /// Write the passwords of app_auth/<env>/ and the passwd files to the bucket
    Update {
        /// Also regenerate GENERATE_WHEN_EMPTY passwords that exist
        #[arg(long)]
        force: bool,
        /// Print the keys that would be written (never their values) and change nothing
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Serialize)]
struct Report<'a> {
    bucket: &'a str,
    environment: &'a str,
    dry_run: bool,
    writes: &'a [asiaq_core::app_auth::Write],
}

pub fn run(global: &GlobalArgs, args: &AppAuthArgs) -> Result<(), CliError> {
    let AppAuthCommand::Update { force, dry_run } = &args.command;
    // The environment: --env, else the last '.'-separated part of --bucket, else the
    // default environment.
    let env_hint = global.env.clone().or_else(|| {
        args.bucket
            .as_deref()
            .and_then(|b| b.rsplit('.').next())
            .map(str::to_string)
    });
    let dir = ConfigDir::new(&global.asiaq_config);
    let env = match &env_hint {
        Some(e) => e.clone(),
        None => dir
            .aws(None)?
            .require_environment()
            .map_err(|e| CliError::from(e).with_hint("give --env ENV or --bucket BUCKET"))?
            .to_string(),
    };
    let app_auth_dir = match &args.directory {
        Some(d) => d.join("app_auth"),
        None => dir.path("app_auth"),
    };
    let entries = read_app_auth(&app_auth_dir, &env).map_err(|diags| {
        CliError::usage(
            diags
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })?;
    let entries: Vec<(String, Source)> = entries
        .into_iter()
        .map(|e| {
            let source = match e.value {
                AppAuthValue::GenerateWhenEmpty => Source::GenerateWhenEmpty,
                AppAuthValue::AlwaysGenerate => Source::AlwaysGenerate,
                AppAuthValue::Literal(v) => Source::Literal(Secret::new(v)),
            };
            (e.key, source)
        })
        .collect();
    let config = cred_bucket::config_for(global, args.bucket.as_deref(), Some(&env))?;
    aws_session::run(global, |ctx| async move {
        let name = cred_bucket::resolve(&ctx, args.bucket.as_deref(), config.as_ref()).await?;
        let bucket = Bucket::new(&ctx, &name);
        bucket.check().await?;
        let mut existing = BTreeMap::new();
        if !force {
            for (key, source) in &entries {
                if *source == Source::GenerateWhenEmpty {
                    if let Some(v) = bucket.get_secret(key).await? {
                        existing.insert(key.clone(), v);
                    }
                }
            }
        }
        let writes = plan(&entries, &existing, *force, &mut rand::rngs::OsRng);
        if !dry_run {
            progress::note(format!("updating environment {env} in bucket {name}"));
            for w in &writes {
                bucket.put_secret(&w.key, &w.value).await?;
                progress::note(format!("wrote {} ({})", w.key, w.reason));
            }
        }
        let report = Report {
            bucket: &name,
            environment: &env,
            dry_run: *dry_run,
            writes: &writes,
        };
        emit(global.output, &report, |out: &mut dyn Write| {
            for w in &writes {
                let verb = if *dry_run { "would write" } else { "wrote" };
                writeln!(out, "{verb} s3://{name}/{} ({})", w.key, w.reason)?;
            }
            Ok(())
        })
    })
}
