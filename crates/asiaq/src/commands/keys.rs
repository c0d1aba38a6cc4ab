//! `asiaq keys rotate` (the original's `disco_keys_rotate.sh`): new SSH key pairs for an
//! environment in its first credential bucket (`private_keys/ssh/<name>.key`,
//! `public_keys/ssh/<name>.pub`), the `bake` key also as the EC2 key pair of that name, and
//! the SSL keys and certificates the host files ask the bucket for.

use asiaq_aws::credentials::Bucket;
use asiaq_aws::keys as aws_keys;
use asiaq_config::{keys, ConfigDir};
use asiaq_core::keys::{plan, rotated, ssl_notes, ssl_status};

use crate::cli::GlobalArgs;
use crate::commands::{aws_session, cred_bucket};
use crate::exit::CliError;
use crate::output::print;

#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// Make new SSH key pairs for the environment's keys ([keys] ssh_keys@ENV in
    /// disco_aws.ini; by default bake for build, none for deploy, test smoketest snapshot
    /// dashboard jenkins otherwise) and store them in its credential bucket; bake also
    /// becomes the EC2 key pair bake
    Rotate {
        /// Rotate only this key of the environment
        #[arg(long, value_name = "NAME")]
        only: Option<String>,
        /// Print the plan and change nothing
        #[arg(long)]
        dry_run: bool,
    },
}

pub fn run(global: &GlobalArgs, cmd: &KeysCommand) -> Result<(), CliError> {
    let KeysCommand::Rotate { only, dry_run } = cmd;
    let dir = ConfigDir::new(&global.asiaq_config);
    dir.check()?;
    let aws = dir.aws(global.env.as_deref())?;
    let env = aws
        .require_environment()
        .map_err(|e| CliError::from(e).with_hint("give --env ENV"))?
        .to_string();
    let rotation = keys::rotation(&dir, &aws, &env, only.as_deref()).map_err(CliError::usage)?;
    let config = cred_bucket::config_for(global, None, Some(&env))?;
    let plan = plan(&rotation.names);
    aws_session::run(global, |ctx| async move {
        let name = cred_bucket::resolve(&ctx, None, config.as_ref()).await?;
        let bucket = Bucket::new(&ctx, &name);
        bucket.check().await?;
        let present = bucket.list("private_keys/ssl/").await?;
        let (status, ssl_lines) = ssl_status(&rotation.ssl, &present, &name);
        if *dry_run {
            let notes = ssl_notes(&status, &name);
            return crate::output::print_plan(global, "keys rotate", &plan, &notes, true);
        }
        let keys = crate::keygen::generate(&rotation.names, &env).map_err(CliError::failed)?;
        aws_keys::apply_plan(&ctx, &name, &plan, &keys).await?;
        let names = &rotation.names;
        print(
            global,
            rotated(&env, &name, names, status, &plan, ssl_lines),
        )
    })
}
