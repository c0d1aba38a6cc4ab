//! `asiaq whoami`: account, ARN, region and endpoint of the credentials in use.

use asiaq_aws::Identity;

use crate::cli::GlobalArgs;
use crate::commands::aws_session;
use crate::exit::CliError;
use crate::output::print;

pub fn run(global: &GlobalArgs) -> Result<(), CliError> {
    aws_session::run(global, |ctx| async move {
        let identity = Identity::fetch(&ctx).await?;
        print(global, identity.printout())
    })
}
