//! Which credential bucket `creds`, `app-auth` and `accounts` work on: `--bucket`, or the
//! first of the environment's `credential_buckets` (spec §4.13). The environment's type
//! comes from the `type` tag of its VPC (found by tag `Name`), its buckets from
//! `disco_vpc.ini`.

use asiaq_aws::credentials::require_environment_type;
use asiaq_aws::AwsContext;
pub use asiaq_config::vpc_env::BucketConfig;
use asiaq_config::ConfigDir;

use crate::cli::GlobalArgs;
use crate::exit::CliError;

/// Reads what [`resolve`] needs, unless `--bucket` makes it unnecessary. `env` is the
/// environment to use (from `--env` or elsewhere); without one, `[disco_aws]
/// default_environment`.
pub fn config_for(
    global: &GlobalArgs,
    bucket: Option<&str>,
    env: Option<&str>,
) -> Result<Option<BucketConfig>, CliError> {
    if bucket.is_some() {
        if global.env.is_some() {
            return Err(CliError::usage("--bucket and --env exclude each other"));
        }
        return Ok(None);
    }
    let dir = ConfigDir::new(&global.asiaq_config);
    dir.check()?;
    let aws = dir.aws(env.or(global.env.as_deref()))?;
    let env = aws
        .require_environment()
        .map_err(|e| CliError::from(e).with_hint("give --env ENV or --bucket BUCKET"))?
        .to_string();
    let project = aws.project_name()?.text;
    let vpc = dir.vpc()?;
    Ok(Some(BucketConfig { env, project, vpc }))
}

/// The bucket to use.
pub async fn resolve(
    ctx: &AwsContext,
    bucket: Option<&str>,
    config: Option<&BucketConfig>,
) -> Result<String, CliError> {
    if let Some(b) = bucket {
        return Ok(b.to_string());
    }
    let Some(c) = config else {
        return Err(CliError::usage("give --env ENV or --bucket BUCKET"));
    };
    let env_type = require_environment_type(ctx, &c.env).await?;
    Ok(c.first_bucket(&env_type, ctx.region())?)
}
