//! `asiaq app-auth` (disco_app_auth.py): publish application passwords from
//! `app_auth/<env>/` to the environment's credential bucket (spec §4.12).

use std::path::PathBuf;

use asiaq_aws::credentials::Bucket;
use asiaq_config::app_auth::app_auth_sources;
use asiaq_config::ConfigDir;
use asiaq_core::app_auth::{environment_hint, keys_to_keep, plan, report};
use asiaq_engine::report as progress;

use crate::cli::GlobalArgs;
use crate::commands::{aws_session, cred_bucket};
use crate::exit::CliError;
use crate::output::print;

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

pub fn run(global: &GlobalArgs, args: &AppAuthArgs) -> Result<(), CliError> {
    let AppAuthCommand::Update { force, dry_run } = &args.command;
    let env_hint = environment_hint(global.env.as_deref(), args.bucket.as_deref());
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
    let entries = app_auth_sources(&app_auth_dir, &env)?;
    let config = cred_bucket::config_for(global, args.bucket.as_deref(), Some(&env))?;
    aws_session::run(global, |ctx| async move {
        let name = cred_bucket::resolve(&ctx, args.bucket.as_deref(), config.as_ref()).await?;
        let bucket = Bucket::new(&ctx, &name);
        bucket.check().await?;
        let existing = bucket.secrets(&keys_to_keep(&entries, *force)).await?;
        let writes = plan(&entries, &existing, *force, &mut rand::rngs::OsRng);
        if !dry_run {
            progress::note(format!("updating environment {env} in bucket {name}"));
            for w in &writes {
                bucket.put_secret(&w.key, &w.value).await?;
                progress::note(format!("wrote {} ({})", w.key, w.reason));
            }
        }
        print(global, report(&name, &env, *dry_run, &writes))
    })
}
