//! `asiaq doctor`: one read-only call to every service, concurrently; exit 1 if any fails.

use std::io::Write;

use asiaq_aws::probe_services;

use crate::cli::GlobalArgs;
use crate::commands::aws_session;
use crate::exit::CliError;
use crate::output::{emit, write_table};

pub fn run(global: &GlobalArgs) -> Result<(), CliError> {
    aws_session::run(global, |ctx| async move {
        let outcomes = probe_services(&ctx).await;
        emit(global.output, &outcomes, |out: &mut dyn Write| {
            let rows: Vec<Vec<String>> = outcomes
                .iter()
                .map(|o| {
                    vec![
                        o.service.to_string(),
                        o.operation.to_string(),
                        if o.ok { "ok" } else { "FAILED" }.to_string(),
                        o.detail.clone(),
                    ]
                })
                .collect();
            write_table(out, &rows)
        })?;
        let failed: Vec<&str> = outcomes
            .iter()
            .filter(|o| !o.ok)
            .map(|o| o.service)
            .collect();
        if failed.is_empty() {
            Ok(())
        } else {
            Err(CliError::failed(format!(
                "{} of {} services failed: {}",
                failed.len(),
                outcomes.len(),
                failed.join(", ")
            )))
        }
    })
}
