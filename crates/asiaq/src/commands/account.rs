//! `asiaq account cloudtrail` (the original README's `aws cloudtrail create-subscription
//! --name Default` step of setting up an account): the trail `Default`, logging to the
//! account's audit bucket (the `s3audit` bucket of `iam/s3/<account>/`), logging started.
//! `asiaq account init`: the README's whole checklist for an account, in order
//! (`asiaq_aws::account_init`).

use asiaq_aws::cloudtrail as aws_cloudtrail;
use asiaq_config::account::account_files;
use asiaq_config::ConfigDir;
use asiaq_core::buckets::{bucket_specs, text};
use asiaq_core::plan::cloudtrail::{plan, TRAIL_NAME};

use crate::cli::GlobalArgs;
use crate::commands::aws_session;
use crate::exit::CliError;
use crate::output::print;

#[derive(Debug, clap::Subcommand)]
pub enum AccountCommand {
    /// Make the trail Default log to the account's audit bucket (the s3audit bucket of
    /// iam/s3/ACCOUNT/) and start its logging; checks first that the bucket exists and that
    /// its policy lets CloudTrail write
    Cloudtrail {
        /// The directory name under iam/s3/ (an account id or name, e.g. dev, prod, audit)
        #[arg(long, value_name = "ACCOUNT")]
        account: String,
        /// Print the plan and change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Set up the account as the README's checklist does, in order: buckets update, account
    /// cloudtrail, iam update; then for each environment of the account (those whose first
    /// credential bucket is one of its buckets; --env ENV for one): app-auth update, keys
    /// rotate (missing keys only, unless --rotate-keys) and app-conf update. A failed step
    /// stops the run; running it again finishes the job
    Init {
        /// The directory name under iam/s3/ (an account id or name, e.g. dev, prod, audit)
        #[arg(long, value_name = "ACCOUNT")]
        account: String,
        /// The IAM environment (account type) to apply (default: iam/group_membership/ACCOUNT,
        /// else the only directory of iam/group_membership/)
        #[arg(long, value_name = "NAME")]
        iam_environment: Option<String>,
        /// Make every SSH key of each environment anew, not only the missing ones
        #[arg(long)]
        rotate_keys: bool,
        /// Print the plan of every step and change nothing
        #[arg(long)]
        dry_run: bool,
    },
}

pub fn run(global: &GlobalArgs, cmd: &AccountCommand) -> Result<(), CliError> {
    let (account, dry_run) = match cmd {
        AccountCommand::Cloudtrail { account, dry_run } => (account, dry_run),
        AccountCommand::Init {
            account,
            iam_environment,
            rotate_keys,
            dry_run,
        } => {
            return super::account_init::run(
                global,
                account,
                iam_environment.as_deref(),
                *rotate_keys,
                *dry_run,
            )
        }
    };
    let dir = ConfigDir::new(&global.asiaq_config);
    dir.check()?;
    let project = dir.aws(global.env.as_deref())?.project_name()?.text;
    let (account_dir, files) = account_files(&dir, account).map_err(|e| {
        CliError::from(e)
            .with_hint("--account names a directory under iam/s3/ (see `buckets update`)")
    })?;
    aws_session::run(global, |ctx| async move {
        let specs = bucket_specs(&files, ctx.region(), &project)
            .map_err(|e| CliError::usage(format!("{}: {e}", account_dir.display())))?;
        let bucket = text::audit_bucket(specs.iter().map(|s| (s.name.as_str(), s.audit)))?;
        aws_cloudtrail::require_audit_bucket(&ctx, &bucket, account).await?;
        let current = aws_cloudtrail::observe(&ctx, TRAIL_NAME).await?;
        let plan = plan(TRAIL_NAME, &bucket, current.as_ref());
        if *dry_run {
            return crate::output::print_plan(global, "account cloudtrail", &plan, &[], true);
        }
        if !plan.is_empty() {
            aws_cloudtrail::apply_plan(&ctx, &plan).await?;
        }
        print(
            global,
            text::trail_report(account, TRAIL_NAME, &bucket, &plan),
        )
    })
}
