//! `asiaq app-conf update` (the original's `disco_app_conf_update.sh`): copy the files of
//! `app_conf/<env>/` to the environment's first credential bucket at `app_conf/<path>`,
//! only those whose content differs, and with `--delete` remove the keys without a file.

use asiaq_aws::app_conf as aws_app_conf;
use asiaq_aws::credentials::Bucket;
use asiaq_config::app_conf::read_app_conf;
use asiaq_config::ConfigDir;
use asiaq_core::plan::app_conf::{local_objects, plan, report};

use crate::cli::GlobalArgs;
use crate::commands::{aws_session, cred_bucket};
use crate::exit::CliError;
use crate::output::print;

#[derive(Debug, clap::Subcommand)]
pub enum AppConfCommand {
    /// Upload the files of app_conf/ENV/ that differ from the credential bucket's
    /// app_conf/ objects (compared by content hash)
    Update {
        /// Also delete the objects under app_conf/ that no file stands for
        #[arg(long)]
        delete: bool,
        /// Print the plan and change nothing
        #[arg(long)]
        dry_run: bool,
    },
}

pub fn run(global: &GlobalArgs, cmd: &AppConfCommand) -> Result<(), CliError> {
    let AppConfCommand::Update { delete, dry_run } = cmd;
    let dir = ConfigDir::new(&global.asiaq_config);
    dir.check()?;
    let env = dir
        .aws(global.env.as_deref())?
        .require_environment()
        .map_err(|e| CliError::from(e).with_hint("give --env ENV"))?
        .to_string();
    let files = read_app_conf(&dir.path("app_conf"), &env)?;
    let (local, contents) = local_objects(files.into_iter().map(|f| (f.relative, f.bytes)));
    let config = cred_bucket::config_for(global, None, Some(&env))?;
    aws_session::run(global, |ctx| async move {
        let name = cred_bucket::resolve(&ctx, None, config.as_ref()).await?;
        Bucket::new(&ctx, &name).check().await?;
        let remote = aws_app_conf::observe(&ctx, &name).await?;
        let plan = plan(&local, &remote, *delete);
        if *dry_run {
            return crate::output::print_plan(global, "app-conf update", &plan, &[], true);
        }
        if !plan.is_empty() {
            aws_app_conf::apply_plan(&ctx, &name, &plan, &contents).await?;
        }
        print(global, report(&env, &name, &plan, local.len()))
    })
}
