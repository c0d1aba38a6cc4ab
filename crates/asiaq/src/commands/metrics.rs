//! `asiaq metrics upload` (disco_metrics.py), run on an instance: memory, CPU, disk and
//! RabbitMQ queue figures sent to CloudWatch with the `env_hostclass` dimension.

use std::io::Write;
use std::path::PathBuf;

use asiaq_aws::host_metrics as aws_metrics;
use asiaq_core::env_vars::EnvVars;
use asiaq_core::host_metrics::{upload_plan, values, DUMMY};
use clap::{Args, Subcommand};

use super::aws_session;
use crate::cli::GlobalArgs;
use crate::exit::CliError;
use crate::output::{emit, print_plan};

#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// Print the values (as region us-west-2, hostclass mhccloudwatchtest, environment
    /// desktop) instead of reading the instance metadata and sending them
    #[arg(long, global = true)]
    pub dummy: bool,

    #[command(subcommand)]
    pub command: MetricsCommand,
}

#[derive(Debug, Subcommand)]
pub enum MetricsCommand {
    /// Collect the instance's figures and send them to CloudWatch
    Upload {
        /// Wait a random time of up to SECONDS first
        #[arg(long, value_name = "SECONDS", default_value_t = 0)]
        jitter: u64,
    },
}

pub fn run(global: &GlobalArgs, args: &MetricsArgs) -> Result<(), CliError> {
    let MetricsCommand::Upload { jitter } = args.command;
    let proc_root = std::env::var_os(EnvVars::ASIAQ_METRICS_PROC)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/proc"));
    let s = aws_metrics::read_sources(&proc_root);
    let data = values(
        s.meminfo.as_deref(),
        s.stat.as_deref(),
        s.df.as_deref(),
        s.rabbit_queues.as_deref(),
    );
    let now = asiaq_aws::hosts::now_unix();
    if args.dummy {
        let (_, hostclass, env) = DUMMY;
        let plan = upload_plan(&data, env, hostclass, now);
        return print_plan(global, "metrics upload", &plan, &[], true);
    }
    aws_session::run(global, |ctx| async move {
        let id = aws_metrics::instance_identity().await?;
        let plan = upload_plan(&data, &id.env, &id.hostclass, now);
        aws_metrics::jitter(jitter).await;
        aws_metrics::upload(&ctx, &plan).await?;
        #[derive(serde::Serialize)]
        struct Sent<'a> {
            environment: &'a str,
            hostclass: &'a str,
            values: usize,
        }
        let sent = Sent {
            environment: &id.env,
            hostclass: &id.hostclass,
            values: data.len(),
        };
        emit(global.output, &sent, |out: &mut dyn Write| {
            writeln!(
                out,
                "sent {} value(s) for {}_{}",
                sent.values, sent.environment, sent.hostclass
            )
        })
    })
}
