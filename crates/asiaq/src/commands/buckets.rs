//! `asiaq buckets update --account A` (new; the original's
//! `jenkins/disco_bucket_update.sh REGION ACCOUNT`): create and configure the buckets of
//! `iam/s3/<account>/`, the audit bucket (which the others log into) first.

use asiaq_aws::buckets::{self as aws_buckets, UpdateError};
use asiaq_config::account::account_files;
use asiaq_config::{s3_accounts, ConfigDir};
use asiaq_core::buckets::text;

use crate::cli::{GlobalArgs, OutputFormat};
use crate::commands::aws_session;
use crate::exit::CliError;
use crate::output::print;

#[derive(Debug, clap::Subcommand)]
pub enum BucketsCommand {
    /// Create the buckets of iam/s3/ACCOUNT/ that do not exist and apply their lifecycle,
    /// policy, ACL, versioning, website and logging files (default.* when a bucket has none;
    /// an empty file of its own means none of that setting)
    Update {
        /// The directory name under iam/s3/ (an account id or name, e.g. dev, prod, audit)
        #[arg(long, value_name = "ACCOUNT")]
        account: String,
        /// Print the plan and change nothing
        #[arg(long)]
        dry_run: bool,
    },
}

pub fn run(global: &GlobalArgs, cmd: &BucketsCommand) -> Result<(), CliError> {
    let BucketsCommand::Update { account, dry_run } = cmd;
    text::check_account(account)?;
    let dir = ConfigDir::new(&global.asiaq_config);
    dir.check()?;
    let aws = dir.aws(global.env.as_deref())?;
    let project = aws.project_name()?.text;
    let canonical_ids = s3_accounts::audit_canonical_ids(&aws);
    let (account_dir, files) = account_files(&dir, account)?;
    aws_session::run(global, |ctx| async move {
        let update = aws_buckets::prepare_update(
            &ctx,
            account,
            &account_dir,
            &files,
            &project,
            canonical_ids,
        )
        .await
        .map_err(|e| match e {
            UpdateError::Config(m) => CliError::usage(m),
            UpdateError::Aws(e) => e.into(),
        })?;
        if *dry_run && global.output == OutputFormat::Json {
            return crate::output::print_plan(
                global,
                "buckets update",
                &update.plan,
                &update.skipped,
                true,
            );
        }
        if !*dry_run {
            aws_buckets::apply_plan(&ctx, &update.plan, &update.settings).await?;
        }
        let closing = crate::output::plan_closing_line(&update.plan);
        let (steps, skipped) = (&update.steps, &update.skipped);
        print(
            global,
            text::update_report(account, *dry_run, steps, skipped, closing),
        )
    })
}
