//! `asiaq doctor`: one read-only call to every service, concurrently; exit 1 if any fails.

use asiaq_aws::{probe_failure, probe_printout, probe_services};

use crate::cli::GlobalArgs;
use crate::commands::aws_session;
use crate::exit::CliError;
use crate::output::print;

pub fn run(global: &GlobalArgs) -> Result<(), CliError> {
    aws_session::run(global, |ctx| async move {
        let outcomes = probe_services(&ctx).await;
        print(global, probe_printout(&outcomes))?;
        probe_failure(&outcomes).map_or(Ok(()), |f| Err(CliError::failed(f)))
    })
}
