//! `asiaq rds` (the original's `disco_rds.py`): the environment's DB instances from
//! `disco_rds.ini` and `rds/engine_specific/`, their master passwords from the credential
//! bucket, and their CNAMEs.

use std::collections::BTreeMap;
use std::io::Write;

use asiaq_aws::rds as aws;
use asiaq_config::rds as config;
use asiaq_core::rds as core;
use clap::Subcommand;

use crate::cli::GlobalArgs;
use crate::commands::{aws_session, cred_bucket};
use crate::confirm::confirm;
use crate::exit::CliError;
use crate::output::{emit, print_plan, write_lines};

#[derive(Debug, Subcommand)]
pub enum RdsCommand {
    /// List the environment's DB instances: id, storage, status (and address with --url)
    List {
        /// Also print each instance's address:port
        #[arg(long)]
        url: bool,
    },
    /// Create the configured instances that are missing (restored from their newest
    /// snapshot when there is one), and bring the others to their configuration; then
    /// point each CNAME at its instance
    Update {
        /// Only this database (the <db> of [<env>-<db>], or the whole id)
        #[arg(long, conflicts_with = "parallel")]
        cluster: Option<String>,
        /// Work on every instance at once (default: one after the other)
        #[arg(long)]
        parallel: bool,
        /// Print the plan and change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Delete an instance, after a final snapshot <id>-final-snapshot, and its subnet group
    /// (a non-sandbox environment's asks first, or needs --yes)
    Delete {
        /// The database (the <db> of [<env>-<db>], or the whole id)
        #[arg(long)]
        cluster: String,
        /// Take no final snapshot
        #[arg(long)]
        skip_final_snapshot: bool,
        /// Print the plan and change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Make instance <env>-<db> from the newest snapshot of <source-env>-<db>, configured as
    /// the source's section says
    Clone {
        /// The database (the <db> of [<source-env>-<db>])
        #[arg(long)]
        source_db: String,
        /// The environment whose instance is cloned
        #[arg(long)]
        source_env: String,
        /// Print the plan and change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Delete the manual snapshots older than --age days of the environment's instances
    #[command(name = "cleanup_snapshots", visible_alias = "cleanup-snapshots")]
    CleanupSnapshots {
        /// Age in days
        #[arg(long, default_value_t = 30)]
        age: u32,
        /// Every instance's snapshots, of every environment
        #[arg(long)]
        all_environments: bool,
        /// Also the final snapshots (<id>-final-snapshot) that delete takes
        #[arg(long)]
        include_final: bool,
        /// Print the plan and change nothing
        #[arg(long)]
        dry_run: bool,
    },
}

pub fn run(global: &GlobalArgs, cmd: &RdsCommand) -> Result<(), CliError> {
    let dir = &global.asiaq_config;
    match cmd {
        RdsCommand::List { url } => {
            let env = config::environment(dir, global.env.as_deref())?;
            aws_session::run(global, |ctx| async move {
                let rows = core::list_rows(&env, &aws::all_dbs(&ctx).await?);
                emit(global.output, &rows, |out: &mut dyn Write| {
                    write_lines(out, rows.iter().map(|r| r.line(*url)).collect())
                })
            })
        }
        RdsCommand::Update {
            cluster,
            parallel,
            dry_run,
        } => {
            let conf = config::load(dir, global.env.as_deref(), cluster.as_deref())?;
            let buckets = cred_bucket::config_for(global, None, Some(&conf.env))?;
            aws_session::run(global, |ctx| async move {
                let (plan, notes) = aws::prepare_update(&ctx, &conf.env, &conf.instances).await?;
                print_plan(global, "rds update", &plan, &notes, *dry_run)?;
                if *dry_run {
                    return Ok(());
                }
                let needs = aws::needs_password(&plan);
                let passwords = if needs.is_empty() {
                    BTreeMap::new()
                } else {
                    let bucket = cred_bucket::resolve(&ctx, None, buckets.as_ref()).await?;
                    aws::passwords(&ctx, &bucket, &needs).await?
                };
                aws::apply(&ctx, &plan, &passwords, *parallel, "rds update").await?;
                let lines = core::outcome_lines(&plan);
                emit(global.output, &lines, |out| write_lines(out, lines.clone()))
            })
        }
        RdsCommand::Clone {
            source_db,
            source_env,
            dry_run,
        } => {
            let db = config::load_clone(dir, global.env.as_deref(), source_env, source_db)?;
            let buckets = cred_bucket::config_for(global, None, Some(&db.env))?;
            let source = core::instance_id(source_env, source_db);
            aws_session::run(global, |ctx| async move {
                let (plan, notes) = aws::prepare_clone(&ctx, &db, &source).await?;
                print_plan(global, "rds clone", &plan, &notes, *dry_run)?;
                if *dry_run {
                    return Ok(());
                }
                let bucket = cred_bucket::resolve(&ctx, None, buckets.as_ref()).await?;
                let passwords = aws::passwords(&ctx, &bucket, &aws::needs_password(&plan)).await?;
                aws::apply(&ctx, &plan, &passwords, false, "rds clone").await?;
                let lines = core::outcome_lines(&plan);
                emit(global.output, &lines, |out| write_lines(out, lines.clone()))
            })
        }
        RdsCommand::CleanupSnapshots {
            age,
            all_environments,
            include_final,
            dry_run,
        } => {
            let env = config::environment(dir, global.env.as_deref())?;
            aws_session::run(global, |ctx| async move {
                let rule = core::CleanupRule {
                    env: (!*all_environments).then_some(env.as_str()),
                    age_days: i64::from(*age),
                    include_final: *include_final,
                    now: jiff::Timestamp::now().as_second(),
                };
                let plan = core::cleanup_plan(&rule, &aws::manual_snapshots(&ctx).await?);
                print_plan(global, "rds cleanup_snapshots", &plan, &[], *dry_run)?;
                if *dry_run {
                    return Ok(());
                }
                aws::apply(&ctx, &plan, &BTreeMap::new(), true, "rds cleanup_snapshots").await?;
                let lines = core::cleanup_outcome(&plan);
                emit(global.output, &lines, |out| write_lines(out, lines.clone()))
            })
        }
        RdsCommand::Delete {
            cluster,
            skip_final_snapshot,
            dry_run,
        } => {
            let env = config::environment(dir, global.env.as_deref())?;
            let id = core::instance_id(&env, cluster);
            aws_session::run(global, |ctx| async move {
                let (plan, notes) = aws::prepare_delete(&ctx, &id, *skip_final_snapshot).await?;
                print_plan(global, "rds delete", &plan, &notes, *dry_run)?;
                if *dry_run {
                    return Ok(());
                }
                if !plan.is_empty() && !global.yes {
                    let env_type = asiaq_aws::credentials::environment_type(&ctx, &env).await?;
                    let skip = *skip_final_snapshot;
                    if let Some(q) = core::delete_question(&id, &env, env_type.as_deref(), skip) {
                        confirm(global, &q)?;
                    }
                }
                aws::apply(&ctx, &plan, &BTreeMap::new(), false, "rds delete").await?;
                let lines = core::outcome_lines(&plan);
                emit(global.output, &lines, |out| write_lines(out, lines.clone()))
            })
        }
    }
}
