//! One module per command; `dispatch` routes a parsed command line to it.

pub mod account;
pub mod account_init;
pub mod accounts;
pub mod acfg;
pub mod alarms;
pub mod app_auth;
pub mod app_conf;
pub mod autoscale;
pub mod aws;
mod aws_session;
pub mod bake;
pub mod buckets;
pub mod chaos;
mod config;
mod cred_bucket;
pub mod creds;
mod doctor;
pub mod dynamodb;
pub mod eip;
pub mod elasticache;
pub mod elb;
mod hosts_env;
pub mod iam;
pub mod keys;
pub mod lock;
pub mod log_metrics;
mod meta;
pub mod metrics;
pub mod purge_snapshots;
pub mod rds;
pub mod route53;
pub mod sandbox;
pub mod snapshot;
pub mod ssh;
pub mod ssm;
pub mod vpc;
mod whoami;

use crate::cli::{Cli, Command};
use crate::exit::CliError;

pub fn dispatch(cli: Cli) -> Result<(), CliError> {
    if let Some(group) = cli.command.pending_group() {
        return Err(CliError::usage(format!(
            "`asiaq {group}` is not built yet: none of its commands is available in this version"
        ))
        .with_hint("`asiaq --help` lists the commands that are; the README's migration table says what each replaces"));
    }
    let global = &cli.global;
    match &cli.command {
        Command::Config(cmd) => config::run(global, cmd),
        Command::Whoami => whoami::run(global),
        Command::Doctor => doctor::run(global),
        Command::Completions { shell } => meta::completions(*shell),
        Command::Man => meta::man(),
        Command::Aws(group) => aws::run(global, &group.command),
        Command::Autoscale(cmd) => autoscale::run(global, cmd),
        Command::Chaos(args) => chaos::run(global, args),
        Command::Elb(cmd) => elb::run(global, cmd),
        Command::Route53(cmd) => route53::run(global, cmd),
        Command::Ssm(cmd) => ssm::run(global, cmd),
        Command::Alarms(cmd) => alarms::run(global, cmd),
        Command::LogMetrics(cmd) => log_metrics::run(global, cmd),
        Command::Metrics(args) => metrics::run(global, args),
        Command::Snapshot(group) => snapshot::run(global, &group.command),
        Command::PurgeSnapshots(args) => purge_snapshots::run(global, args),
        Command::Iam(cmd) => iam::run(global, cmd),
        Command::Creds(args) => creds::run(global, args),
        Command::AppAuth(args) => app_auth::run(global, args),
        Command::AppConf(cmd) => app_conf::run(global, cmd),
        Command::Accounts(args) => accounts::run(global, args),
        Command::Vpc(cmd) => vpc::run(global, cmd),
        Command::Eip(cmd) => eip::run(global, cmd),
        Command::Bake(group) => bake::run(global, &group.command),
        Command::Acfg(args) => acfg::run(global, args),
        Command::Ssh(args) => ssh::run(global, args),
        Command::Sandbox(args) => sandbox::run(global, args),
        Command::Buckets(cmd) => buckets::run(global, cmd),
        Command::Account(cmd) => account::run(global, cmd),
        Command::Keys(cmd) => keys::run(global, cmd),
        Command::Lock(cmd) => lock::run(global, cmd),
        Command::Dynamodb(cmd) => dynamodb::run(global, cmd),
        Command::Elasticache(cmd) => elasticache::run(global, cmd),
        Command::Rds(cmd) => rds::run(global, cmd),
        _ => unreachable!("every pending group returned above"),
    }
}
