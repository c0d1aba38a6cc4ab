//! `asiaq lock list | status ENV | break ENV`: the environment leases of the account and
//! region (`asiaq_aws::lock`), and breaking one a dead run left (with confirmation).

use asiaq_aws::lock::{self, LeaseClient};
use asiaq_core::lock::Holder;
use serde::Serialize;

use crate::cli::GlobalArgs;
use crate::commands::aws_session;
use crate::exit::CliError;
use crate::output::{emit, write_lines};

#[derive(Debug, clap::Subcommand)]
pub enum LockCommand {
    /// List the environments leased now (and leases run out but not given back)
    List,
    /// Show who holds the lease of an environment
    Status {
        #[arg(value_name = "ENV")]
        environment: String,
    },
    /// Remove the lease of an environment, whoever holds it (asks first, naming the holder;
    /// the holder stops before its next change)
    Break {
        #[arg(value_name = "ENV")]
        environment: String,
    },
}

#[derive(Serialize)]
struct Row<'a> {
    #[serde(flatten)]
    holder: &'a Holder,
    expired: bool,
}

fn line(h: &Holder, now: i64) -> String {
    format!(
        "{}\t{}\t{}\t{}\t{}",
        h.environment,
        h.arn,
        h.who,
        h.expiry(now),
        h.command
    )
}

pub fn run(global: &GlobalArgs, cmd: &LockCommand) -> Result<(), CliError> {
    let now = jiff::Timestamp::now().as_second();
    aws_session::run(global, |ctx| async move {
        let client = LeaseClient::new(&ctx);
        match cmd {
            LockCommand::List => {
                let all = lock::list(&client).await?;
                let rows: Vec<Row> = all
                    .iter()
                    .map(|h| Row {
                        holder: h,
                        expired: h.expired(now),
                    })
                    .collect();
                let lines = all.iter().map(|h| line(h, now)).collect();
                emit(global.output, &rows, |out| write_lines(out, lines))
            }
            LockCommand::Status { environment } => {
                let held = lock::current(&client, environment).await.or_else(|e| {
                    // No table yet: nobody has ever leased anything here.
                    if e.code() == Some("ResourceNotFoundException") {
                        Ok(None)
                    } else {
                        Err(e)
                    }
                })?;
                let row = held.as_ref().map(|h| Row {
                    holder: h,
                    expired: h.expired(now),
                });
                let text = match &held {
                    Some(h) if !h.expired(now) => h.busy_message(now),
                    Some(h) => format!(
                        "environment {environment} is free (the lease of {} {})",
                        h.who,
                        h.expiry(now)
                    ),
                    None => format!("environment {environment} is free"),
                };
                emit(global.output, &row, |out| write_lines(out, vec![text]))
            }
            LockCommand::Break { environment } => {
                let h = match lock::current(&client, environment).await? {
                    Some(h) if !h.expired(now) => h,
                    _ => {
                        return Err(CliError::failed(format!(
                            "environment {environment} has no lease in force to break"
                        )))
                    }
                };
                crate::confirm::confirm(
                    global,
                    &format!("break the lease of {}", h.busy_message(now)),
                )?;
                lock::break_lease(&client, environment).await?;
                emit(global.output, &h, |out| {
                    write_lines(
                        out,
                        vec![format!(
                            "broke the lease of environment {environment} held by {} ({})",
                            h.arn, h.who
                        )],
                    )
                })
            }
        }
    })
}
