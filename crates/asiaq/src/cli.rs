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
        ASIAQ_CONFIG            the configuration directory (as --asiaq-config)\n  \
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

    // Not `--config`: commands of the original have their own (`autoscale deleteconfig
    // --config NAME`, `dynamodb create --config FILE`), and a global option shares its id
    // with every subcommand's argument of the same name.
    /// Configuration directory
    #[arg(
        long = "asiaq-config",
        global = true,
        value_name = "DIR",
        env = asiaq_core::env_vars::EnvVars::ASIAQ_CONFIG,
        default_value = "."
    )]
    pub asiaq_config: PathBuf,

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

    /// Do not lease the environment (break-glass use only: another run may change it at
    /// the same time)
    #[arg(long, global = true)]
    pub no_lock: bool,

    /// How long the environment's lease lasts without renewal (90s, 10m, 1h; default 10m);
    /// it is renewed every third of that while the run goes on
    #[arg(long, global = true, value_name = "DURATION")]
    pub lock_timeout: Option<String>,

    /// Wait up to DURATION for another run's lease of the environment instead of stopping
    #[arg(long, global = true, value_name = "DURATION")]
    pub wait_lock: Option<String>,
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
    Aws(TruncatingGroup<crate::commands::aws::AwsCommand>),
    /// Machine images (disco_bake.py): bake, promote, listamis, cleanupamis, ...
    Bake(TruncatingGroup<crate::commands::bake::BakeCommand>),
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
    /// Application configuration files (disco_app_conf_update.sh)
    #[command(subcommand)]
    AppConf(crate::commands::app_conf::AppConfCommand),
    /// Terminate random instances of an environment (disco_chaos.py)
    Chaos(crate::commands::chaos::ChaosArgs),
    /// DynamoDB tables and their native backups (disco_dynamodb.py, asiaq ddb_backup)
    #[command(subcommand)]
    Dynamodb(crate::commands::dynamodb::DynamodbCommand),
    /// Classic load balancers of hostclasses (disco_elb.py)
    #[command(subcommand)]
    Elb(crate::commands::elb::ElbCommand),
    /// Route53 zones and records (disco_route53.py)
    #[command(subcommand)]
    Route53(crate::commands::route53::Route53Command),
    /// ElastiCache Redis clusters (disco_elasticache.py)
    #[command(subcommand)]
    Elasticache(crate::commands::elasticache::ElasticacheCommand),
    /// Elasticsearch domains (disco_elasticsearch.py)
    Elasticsearch(PendingGroup),
    /// RDS databases (disco_rds.py)
    #[command(subcommand)]
    Rds(crate::commands::rds::RdsCommand),
    /// SSM documents (disco_ssm.py)
    #[command(subcommand)]
    Ssm(crate::commands::ssm::SsmCommand),
    /// CloudWatch alarms and notifications (disco_alarms.py)
    #[command(subcommand)]
    Alarms(crate::commands::alarms::AlarmsCommand),
    /// CloudWatch Logs metric filters (disco_log_metrics.py)
    #[command(subcommand)]
    LogMetrics(crate::commands::log_metrics::LogMetricsCommand),
    /// EBS snapshots of hostclasses (disco_snapshot.py)
    Snapshot(TruncatingGroup<crate::commands::snapshot::SnapshotCommand>),
    /// Delete stray and old EBS snapshots (disco_purge_snapshots.py)
    PurgeSnapshots(crate::commands::purge_snapshots::PurgeSnapshotsArgs),
    /// Upload host metrics to CloudWatch, run on an instance (disco_metrics.py)
    Metrics(crate::commands::metrics::MetricsArgs),
    /// SSH to a host of an environment, through the jump host if needed (disco_ssh.py)
    Ssh(crate::commands::ssh::SshArgs),
    /// Overlay discoroot/ onto a host, run on the baked host (acfg1.py)
    Acfg(crate::commands::acfg::AcfgArgs),
    /// Create or update a sandbox environment and spin up its pipeline (asiaq sandbox)
    Sandbox(crate::commands::sandbox::SandboxArgs),
    /// Create and configure the S3 buckets described by iam/s3/<account>/
    #[command(subcommand)]
    Buckets(crate::commands::buckets::BucketsCommand),
    /// Set up an account: the README's whole checklist (init), or its CloudTrail trail
    #[command(subcommand)]
    Account(crate::commands::account::AccountCommand),
    /// SSH keys of an environment in its credential bucket (disco_keys_rotate.sh)
    #[command(subcommand)]
    Keys(crate::commands::keys::KeysCommand),
    /// Environment leases: which run changes which environment (DynamoDB table asiaq-locks)
    #[command(subcommand)]
    Lock(crate::commands::lock::LockCommand),
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

/// A tool group whose original script took `--truncate` (disco_aws.py, disco_bake.py,
/// disco_snapshot.py). The original parsed it and never read it; so does asiaq, before or
/// after the command name, so that old command lines keep working.
#[derive(Debug, Args)]
pub struct TruncatingGroup<C: Subcommand> {
    /// Accepted for compatibility with the original; has no effect
    #[arg(long, global = true)]
    pub truncate: bool,

    #[command(subcommand)]
    pub command: C,
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
            Command::Elasticsearch(_) => "elasticsearch",
            Command::Config(_)
            | Command::Aws(_)
            | Command::PurgeSnapshots(_)
            | Command::Snapshot(_)
            | Command::Elb(_)
            | Command::Route53(_)
            | Command::Dynamodb(_)
            | Command::Elasticache(_)
            | Command::Rds(_)
            | Command::Ssm(_)
            | Command::Alarms(_)
            | Command::LogMetrics(_)
            | Command::Metrics(_)
            | Command::Chaos(_)
            | Command::Autoscale(_)
            | Command::Bake(_)
            | Command::Acfg(_)
            | Command::Ssh(_)
            | Command::Sandbox(_)
            | Command::Iam(_)
            | Command::Buckets(_)
            | Command::Account(_)
            | Command::Keys(_)
            | Command::Lock(_)
            | Command::Accounts(_)
            | Command::Creds(_)
            | Command::AppAuth(_)
            | Command::AppConf(_)
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
    use clap::{CommandFactory, FromArgMatches};

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// `--truncate` of disco_aws.py, disco_bake.py and disco_snapshot.py parses, before the
    /// command name (where the original took it) or after it, and changes nothing else.
    #[test]
    fn truncate_is_accepted_where_the_original_took_it() {
        for argv in [
            &["asiaq", "aws", "--truncate", "listhosts"][..],
            &["asiaq", "aws", "listhosts", "--truncate"],
            &["asiaq", "bake", "--truncate", "listamis"],
            &["asiaq", "snapshot", "--truncate", "list"],
            &[
                "asiaq",
                "snapshot",
                "list",
                "--truncate",
                "--hostclass",
                "mhcntp",
            ],
        ] {
            let cli = Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
            let truncate = match &cli.command {
                Command::Aws(g) => g.truncate,
                Command::Bake(g) => g.truncate,
                Command::Snapshot(g) => g.truncate,
                other => panic!("{argv:?}: {other:?}"),
            };
            assert!(truncate, "{argv:?}");
        }
        // Only those three took it.
        assert!(Cli::try_parse_from(["asiaq", "vpc", "--truncate", "list"]).is_err());
        // Its help says that it does nothing.
        let mut cmd = Cli::command();
        let help = cmd
            .find_subcommand_mut("aws")
            .unwrap()
            .render_long_help()
            .to_string();
        assert!(help.contains("has no effect"), "{help}");
    }

    /// The names by which an argument is matched or read: its id, long name and aliases,
    /// short name and aliases.
    fn names(arg: &clap::Arg) -> Vec<String> {
        let mut out = vec![format!("id {}", arg.get_id())];
        out.extend(
            arg.get_long_and_visible_aliases()
                .into_iter()
                .flatten()
                .map(|l| format!("--{l}")),
        );
        out.extend(
            arg.get_aliases()
                .into_iter()
                .flatten()
                .map(|l| format!("--{l}")),
        );
        out.extend(
            arg.get_short_and_visible_aliases()
                .into_iter()
                .flatten()
                .map(|c| format!("-{c}")),
        );
        out
    }

    /// Every argument of `cmd` and below, against the global arguments of its ancestors
    /// (the root's `--env`, `--asiaq-config`, ... and a group's own, e.g. `--truncate`).
    fn collisions(
        cmd: &clap::Command,
        path: &str,
        globals: &[(String, String)],
        found: &mut Vec<String>,
    ) {
        let mut inherited = globals.to_vec();
        for arg in cmd.get_arguments() {
            for name in names(arg) {
                if let Some((_, owner)) = globals.iter().find(|(n, _)| *n == name) {
                    found.push(format!(
                        "`{path}`: {name} is also a global argument of `{owner}`"
                    ));
                }
                if arg.is_global_set() {
                    inherited.push((name, path.to_string()));
                }
            }
        }
        for sub in cmd.get_subcommands() {
            collisions(
                sub,
                &format!("{path} {}", sub.get_name()),
                &inherited,
                found,
            );
        }
    }

    /// A global argument shares its id with every same-named argument below it, so that a
    /// command's own `--config` (`autoscale deleteconfig --config NAME`) would be read as
    /// the global one's type and panic: no command may reuse a global argument's names.
    #[test]
    fn no_argument_shares_a_name_with_a_global_one() {
        let mut found = Vec::new();
        collisions(&Cli::command(), "asiaq", &[], &mut found);
        assert!(found.is_empty(), "{}", found.join("\n"));
    }

    /// A value clap accepts for `arg`: its first possible value, else a number (every
    /// option of asiaq that takes a value takes a string, a path or a number).
    fn value_for(arg: &clap::Arg) -> String {
        arg.get_possible_values()
            .iter()
            .find(|v| !v.is_hide_set())
            .map_or_else(|| "1".to_string(), |v| v.get_name().to_string())
    }

    /// `arg` on a command line: its flag, and as many values as it needs.
    fn tokens(arg: &clap::Arg) -> (Vec<String>, Vec<String>) {
        let takes = arg
            .get_num_args()
            .map_or(0, |r| r.min_values().max(usize::from(r.takes_values())));
        let values = vec![value_for(arg); takes];
        match (arg.get_long(), arg.get_short()) {
            (Some(l), _) => (
                std::iter::once(format!("--{l}")).chain(values).collect(),
                vec![],
            ),
            (None, Some(c)) => (
                std::iter::once(format!("-{c}")).chain(values).collect(),
                vec![],
            ),
            (None, None) => (vec![], values),
        }
    }

    fn is_meta(arg: &clap::Arg) -> bool {
        matches!(
            arg.get_action(),
            clap::ArgAction::Help
                | clap::ArgAction::HelpShort
                | clap::ArgAction::HelpLong
                | clap::ArgAction::Version
        )
    }

    /// The command line of `cmd` (its name already written) with `extra` given, plus what
    /// it requires: required arguments, one member of each required group that has none,
    /// and a first subcommand when one is required.
    fn complete(cmd: &clap::Command, extra: Option<&clap::Arg>, argv: &mut Vec<String>) {
        let mut given: Vec<&clap::Arg> = extra.into_iter().collect();
        for group in cmd.get_groups().filter(|g| g.is_required_set()) {
            let members: Vec<_> = group.get_args().collect();
            if !given.iter().any(|a| members.contains(&a.get_id())) {
                let first = cmd.get_arguments().find(|a| members.contains(&a.get_id()));
                given.extend(first);
            }
        }
        for arg in cmd
            .get_arguments()
            .filter(|a| a.is_required_set() && !a.is_global_set())
        {
            if !given.iter().any(|g| g.get_id() == arg.get_id()) {
                given.push(arg);
            }
        }
        let mut positionals = Vec::new();
        for arg in &given {
            let (options, values) = tokens(arg);
            argv.extend(options);
            if arg.is_positional() {
                positionals.push((arg.get_index().unwrap_or(0), values));
            }
        }
        positionals.sort();
        argv.extend(positionals.into_iter().flat_map(|(_, v)| v));
        if cmd.is_subcommand_required_set() {
            let sub = cmd
                .get_subcommands()
                .find(|s| s.get_name() != "help")
                .expect("a required subcommand");
            argv.push(sub.get_name().to_string());
            complete(sub, None, argv);
        }
    }

    /// Every command line made of one command and one of its arguments (plus what they
    /// require): the path of the command, and the argument tested.
    /// `inherited`: the global arguments of the ancestors, which clap copies into every
    /// command below them and which are tested where they are defined.
    fn command_lines(
        cmd: &clap::Command,
        path: &[String],
        inherited: &[String],
        out: &mut Vec<(Vec<String>, String)>,
    ) {
        let mut globals = inherited.to_vec();
        for arg in cmd.get_arguments().filter(|a| !is_meta(a)) {
            if inherited.iter().any(|g| g == arg.get_id().as_str()) {
                continue;
            }
            if arg.is_global_set() {
                globals.push(arg.get_id().to_string());
            }
            let mut argv = path.to_vec();
            // `--type` of `config validate` requires `--env`; give it unless `--env` is tested.
            if arg.get_id().as_str() != "env" {
                argv.extend(["--env".to_string(), "demo".to_string()]);
            }
            complete(cmd, Some(arg), &mut argv);
            out.push((argv, format!("{} {}", path.join(" "), arg.get_id())));
        }
        if !cmd.has_subcommands() {
            let mut argv = path.to_vec();
            complete(cmd, None, &mut argv);
            out.push((argv, path.join(" ")));
        }
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let mut sub_path = path.to_vec();
            sub_path.push(sub.get_name().to_string());
            command_lines(sub, &sub_path, &globals, out);
        }
    }

    /// No command line can make asiaq panic (exit 101) while it reads its arguments: every
    /// command, with each of its arguments in turn (and what they require), parses, and
    /// the parsed matches convert to `Cli` without a panic.
    #[test]
    fn every_argument_of_every_command_parses() {
        let mut root = Cli::command();
        root.build();
        let mut lines = Vec::new();
        command_lines(&root, &["asiaq".to_string()], &[], &mut lines);
        let mut failures = Vec::new();
        for (argv, what) in &lines {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                Cli::command()
                    .try_get_matches_from(argv)
                    .map_err(|e| e.to_string())
                    .and_then(|m| {
                        Cli::from_arg_matches(&m)
                            .map(|_| ())
                            .map_err(|e| e.to_string())
                    })
            }));
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failures.push(format!("{what}: {argv:?}: {e}")),
                Err(_) => failures.push(format!("{what}: {argv:?}: PANIC")),
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} command lines failed:\n{}",
            failures.len(),
            lines.len(),
            failures.join("\n")
        );
        assert!(lines.len() > 300, "only {} command lines", lines.len());
    }
}
