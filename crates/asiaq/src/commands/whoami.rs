//! `asiaq whoami`: account, ARN, region and endpoint of the credentials in use.

use std::io::Write;

use asiaq_aws::Identity;

use crate::cli::GlobalArgs;
use crate::commands::aws_session;
use crate::exit::CliError;
use crate::output::{emit, write_table};

pub fn run(global: &GlobalArgs) -> Result<(), CliError> {
    aws_session::run(global, |ctx| async move {
        let identity = Identity::fetch(&ctx).await?;
        emit(global.output, &identity, |out: &mut dyn Write| {
            write_table(
                out,
                &[
                    vec!["account".into(), identity.account.clone()],
                    vec!["arn".into(), identity.arn.clone()],
                    vec!["user id".into(), identity.user_id.clone()],
                    vec!["region".into(), identity.region.clone()],
                    vec![
                        "endpoint".into(),
                        identity
                            .endpoint
                            .clone()
                            .unwrap_or_else(|| "AWS (default endpoints)".into()),
                    ],
                ],
            )
        })
    })
}
