//! The command-line definition. `disco_<tool>.py <command> [flags]` of the original becomes
//! `asiaq <tool> <command> [flags]` with the same flags, so old scripts port by renaming.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "asiaq",
    version,
    about = "Run production infrastructure in AWS from a directory of configuration files",
    long_about = "Run production infrastructure in AWS from a directory of configuration files.\n\n\
        asiaq reads an asiaq/disco configuration directory (disco_aws.ini, disco_vpc.ini, \
        pipelines/*.csv, iam/, ...) and creates environments, bakes images, spins up \
        pipelines of autoscaling groups and keeps the managed services around them in sync.\n\n\
        Exit codes: 0 success, 1 the operation failed, 2 usage or configuration error \
        (nothing was changed).",
    after_long_help = "Environment:\n  \
        ASIAQ_CONFIG            the configuration directory (as --config)\n  \
        ASIAQ_MAX_ATTEMPTS      attempts per AWS call, retries included (default 5)\n  \
        ASIAQ_EC2_BUDGET_SCALE  client-side EC2 request budget, as a multiple of EC2's published \
        rate limits (default 1; lower it when other tools share the account, 0 turns it off)\n  \
        ASIAQ_API_STATS         write this run's AWS call counts per operation as JSON to this file",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// `--env`: environment names go into resource names and tags, so they are checked before
/// anything is looked up (exit 2).
pub fn env_name(v: &str) -> Result<String, String> {
    asiaq_core::syntax::check_name("environment", v)
        .map(|()| v.to_string())
        .map_err(|e| e.to_string())
}

/// `--hostclass`: checked like the hostclass names of the configuration files.
pub fn hostclass_name(v: &str) -> Result<String, String> {
    asiaq_core::syntax::check_name("hostclass", v)
        .map(|()| v.to_string())
        .map_err(|e| e.to_string())
}

/// Flags every command accepts.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Environment (VPC name) to act on; defaults to [disco_aws] default_environment
    #[arg(
        long,
        global = true,
        value_name = "ENV",
        alias = "environment",
        value_parser = env_name
    )]
    pub env: Option<String>,

    /// Configuration directory
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        env = "ASIAQ_CONFIG",
        default_value = "."
    )]
    pub config: PathBuf,

    /// Log what is being done, including AWS calls, to stderr
    #[arg(long, short = 'd', global = true)]
    pub debug: bool,

    /// Output format of listings and results
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,

    /// Answer yes to confirmation prompts (destructive commands on non-sandbox environments)
    #[arg(long, short = 'y', global = true)]
    pub yes: bool,

    /// AWS profile to use (as AWS_PROFILE)
    #[arg(long, global = true, value_name = "PROFILE")]
    pub profile: Option<String>,

    /// AWS region to use (as AWS_REGION)
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the configuration directory (no AWS call)
    #[command(subcommand)]
    Config(ConfigCommand),

    /// Show the AWS identity, region and endpoint in use
    Whoami,

    /// Check credentials and make one read-only call to every AWS service asiaq uses
    Doctor,

    /// Print a shell completion script
    Completions {
        /// The shell to generate completions for
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },

    /// Print the man page (roff) to stdout
    Man,

    // Tool groups of the original, one per disco_<tool>.py script. They are listed here so
    // that `asiaq --help` shows the whole tool; the ones not built yet say so and exit 2.
    /// Instances and pipelines (disco_aws.py): provision, spinup, spindown, listhosts, ...
    #[command(subcommand)]
    Aws(crate::commands::aws::AwsCommand),
    /// Machine images (disco_bake.py): bake, promote, listamis, cleanupamis, ...
    #[command(subcommand)]
    Bake(crate::commands::bake::BakeCommand),
    /// Environments (disco_vpc_ui.py): create, list, update, destroy, peerings, show
    #[command(subcommand)]
    Vpc(crate::commands::vpc::VpcCommand),
    /// Elastic IPs (disco_eip.py): list, allocate, release
    #[command(subcommand)]
    Eip(crate::commands::eip::EipCommand),
    /// IAM sync and keys (disco_iam.py)
    #[command(subcommand)]
    Iam(crate::commands::iam::IamCommand),
    /// Blue/green deployment of new images (disco_deploy.py)
    Deploy(PendingGroup),
    /// Autoscaling groups, launch configurations and policies (disco_autoscale.py)
    #[command(subcommand)]
    Autoscale(crate::commands::autoscale::AutoscaleCommand),
    /// OS user accounts stored in S3 (disco_accounts.py)
    Accounts(crate::commands::accounts::AccountsArgs),
    /// Credentials in the environment's credential bucket (disco_creds.py)
    Creds(crate::commands::creds::CredsArgs),
    /// Application passwords (disco_app_auth.py)
    AppAuth(crate::commands::app_auth::AppAuthArgs),
    /// Terminate random instances of an environment (disco_chaos.py)
    Chaos(crate::commands::chaos::ChaosArgs),
    /// DynamoDB tables (disco_dynamodb.py)
    Dynamodb(PendingGroup),
    /// Classic load balancers of hostclasses (disco_elb.py)
    #[command(subcommand)]
    Elb(crate::commands::elb::ElbCommand),
    /// Route53 zones and records (disco_route53.py)
    Route53(PendingGroup),
    /// ElastiCache Redis clusters (disco_elasticache.py)
    Elasticache(PendingGroup),
    /// Elasticsearch domains (disco_elasticsearch.py)
    Elasticsearch(PendingGroup),
    /// RDS databases (disco_rds.py)
    Rds(PendingGroup),
    /// SSM documents (disco_ssm.py)
    Ssm(PendingGroup),
    /// CloudWatch alarms and notifications (disco_alarms.py)
    Alarms(PendingGroup),
    /// CloudWatch Logs metric filters (disco_log_metrics.py)
    LogMetrics(PendingGroup),
    /// EBS snapshots of hostclasses (disco_snapshot.py)
    #[command(subcommand)]
    Snapshot(crate::commands::snapshot::SnapshotCommand),
    /// Delete stray and old EBS snapshots (disco_purge_snapshots.py)
    PurgeSnapshots(crate::commands::purge_snapshots::PurgeSnapshotsArgs),
    /// Upload host metrics to CloudWatch, run on an instance (disco_metrics.py)
    Metrics(PendingGroup),
    /// SSH to a host of an environment, through the jump host if needed (disco_ssh.py)
    Ssh(PendingGroup),
    /// Overlay discoroot/ onto a host, run on the baked host (acfg1.py)
    Acfg(crate::commands::acfg::AcfgArgs),
    /// Create or update a sandbox environment and spin up its pipeline (asiaq sandbox)
    Sandbox(PendingGroup),
    /// Create and configure the S3 buckets described by iam/s3/<account>/
    #[command(subcommand)]
    Buckets(crate::commands::buckets::BucketsCommand),
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Load every configuration file and report every problem as file:line (exit 2 on errors)
    Validate {
        /// Also check one pipeline file (relative to the configuration directory or absolute)
        #[arg(long, value_name = "FILE")]
        pipeline: Option<PathBuf>,

        /// The environment type of --env (an [envtype:TYPE] section), to check its network
        #[arg(long = "type", value_name = "TYPE", requires = "env")]
        env_type: Option<String>,
    },
}

/// The arguments of a tool group that is not built yet, accepted as given so that the
/// message about the group (not a parsing error about its flags) is what the user sees.
#[derive(Debug, Args)]
pub struct PendingGroup {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    pub args: Vec<String>,
}

impl Command {
    /// The name a user typed for this group (`log-metrics`, `app-auth`, ...).
    pub fn pending_group(&self) -> Option<&'static str> {
        Some(match self {
            Command::Deploy(_) => "deploy",
            Command::Dynamodb(_) => "dynamodb",
            Command::Route53(_) => "route53",
            Command::Elasticache(_) => "elasticache",
            Command::Elasticsearch(_) => "elasticsearch",
            Command::Rds(_) => "rds",
            Command::Ssm(_) => "ssm",
            Command::Alarms(_) => "alarms",
            Command::LogMetrics(_) => "log-metrics",
            Command::Metrics(_) => "metrics",
            Command::Ssh(_) => "ssh",
            Command::Sandbox(_) => "sandbox",
            Command::Config(_)
            | Command::Aws(_)
            | Command::PurgeSnapshots(_)
            | Command::Snapshot(_)
            | Command::Elb(_)
            | Command::Chaos(_)
            | Command::Autoscale(_)
            | Command::Bake(_)
            | Command::Acfg(_)
            | Command::Iam(_)
            | Command::Buckets(_)
            | Command::Accounts(_)
            | Command::Creds(_)
            | Command::AppAuth(_)
            | Command::Vpc(_)
            | Command::Eip(_)
            | Command::Whoami
            | Command::Doctor
            | Command::Completions { .. }
            | Command::Man => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
