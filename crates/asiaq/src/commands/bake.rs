//! `asiaq bake` (the original's `disco_bake.py`): baking images over ssh, and managing them
//! (stages, promotion, prod sharing, listings, cleanup). The settings come from
//! `asiaq_config::bake`, the work is `asiaq_aws::bake` and `asiaq_aws::images`, the
//! selections `asiaq_core::ami`; this is the command line, the signals and the printing.

use std::path::PathBuf;

use asiaq_aws::bake::{self, Plan};
use asiaq_aws::images;
use asiaq_aws::remote::Remote;
use asiaq_aws::AwsContext;
use asiaq_config::aws_ini::AwsIni;
use asiaq_config::bake::{self as config, BakeProcess, BakeRequest};
use asiaq_config::ConfigDir;
use asiaq_core::ami::{self, text, AmiFilter, AmiInfo, AmiRow};
use asiaq_core::syntax;
use clap::{Args, Subcommand};

use crate::cli::GlobalArgs;
use crate::commands::aws_session;
use crate::exit::CliError;
use crate::output::{emit, print};

#[derive(Debug, Subcommand)]
pub enum BakeCommand {
    /// Bake an image: phase 1 without --hostclass, else the hostclass's phase
    Bake(BakeArgs),
    /// Set an image's stage (one of [bake] ami_stages), optionally sharing it with prod
    Promote {
        /// Image id
        #[arg(long)]
        ami: String,
        /// The new stage
        #[arg(long)]
        stage: String,
        /// Also let [bake] prod_account_ids launch it
        #[arg(long)]
        promote_to_prod: bool,
        /// Print what would be done and change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Share the newest non-private final-stage image of a hostclass with prod
    Hostclasspromote {
        #[arg(long, value_parser = crate::cli::hostclass_name)]
        hostclass: String,
        /// Print what would be done and change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// List images (header on stderr; exit 1 when none matches)
    Listamis(ListAmisArgs),
    /// List hostclasses whose images have not been promoted recently
    Liststragglers {
        /// How recently an image must have been promoted, in days
        #[arg(long, default_value_t = 3)]
        days: u64,
        /// The stage that counts as promoted (default: the second of [bake] ami_stages, as
        /// the original)
        #[arg(long)]
        stage: Option<String>,
    },
    /// Show the newest image of a hostclass in the best of the given stages (exit 1 if none)
    Listlatestami {
        /// Stage, or a comma list in order of preference
        #[arg(long)]
        stage: String,
        #[arg(long, value_parser = crate::cli::hostclass_name)]
        hostclass: String,
        /// Add a Production column (shared with every prod account)
        #[arg(long)]
        in_prod: bool,
        /// Add the other tags
        #[arg(long)]
        show_tags: bool,
    },
    /// Delete an image of this account and its snapshots
    Deleteami {
        #[arg(long)]
        ami: String,
        /// Print what would be done and change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Delete this account's images of a stage older than --age days beyond the --keep newest
    Cleanupamis(CleanupArgs),
    /// Create init/<hostclass>.sh from init/template.sh
    Create {
        /// The new hostclass; must start with mhc
        #[arg(long, value_parser = crate::cli::hostclass_name)]
        hostclass: String,
        /// Print what would be done and change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Print the public IP of a running repo host ([bake] repo_hostclass in bakery_environment)
    Listrepo,
}

#[derive(Debug, Args)]
pub struct BakeArgs {
    /// Hostclass to bake (omitted: the phase-1 base image, [bake] phase1_ami_name)
    #[arg(long, value_parser = crate::cli::hostclass_name)]
    pub hostclass: Option<String>,
    /// Leave the instance running after the init script (and after a failure), for debugging
    #[arg(long)]
    pub no_destroy: bool,
    /// Stage tag of the new image (default: the first of [bake] ami_stages)
    #[arg(long)]
    pub stage: Option<String>,
    /// Image to bake from (default: bake_ami for phase 1, the newest final-stage phase-1 image otherwise)
    #[arg(long)]
    pub source_ami: Option<String>,
    /// ssh to the instance's private IP instead of its public one
    #[arg(long)]
    pub use_local_ip: bool,
    /// Extra image tag KEY:VALUE (repeatable; never overrides asiaq's own tags)
    #[arg(long = "tag", value_name = "KEY:VALUE")]
    pub tags: Vec<String>,
    /// Tag the image is_private=True (invisible to deploy and provision)
    #[arg(long)]
    pub private: bool,
    /// Private key for the ssh logins (default: the ssh agent and ~/.ssh/config)
    #[arg(long, value_name = "FILE", env = asiaq_core::env_vars::EnvVars::ASIAQ_SSH_IDENTITY)]
    pub identity: Option<PathBuf>,
    /// Print the plan (source image, subnets, tags, init command) and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct ListAmisArgs {
    /// Only this image
    #[arg(long)]
    pub ami: Option<String>,
    /// Only the image this instance runs
    #[arg(long)]
    pub instance: Option<String>,
    /// Only these stages (comma list)
    #[arg(long)]
    pub stage: Option<String>,
    /// Only this product line
    #[arg(long)]
    pub productline: Option<String>,
    /// Only images in this state (available, pending, ...)
    #[arg(long)]
    pub state: Option<String>,
    /// Only this hostclass
    #[arg(long, value_parser = crate::cli::hostclass_name)]
    pub hostclass: Option<String>,
    /// Add a Production column (shared with every prod account)
    #[arg(long)]
    pub in_prod: bool,
    /// Add the other tags
    #[arg(long)]
    pub show_tags: bool,
}

#[derive(Debug, Args)]
pub struct CleanupArgs {
    /// Stage of the images to clean up
    #[arg(long)]
    pub stage: String,
    /// Newest images of each hostclass to keep whatever their age
    #[arg(long, default_value_t = 3)]
    pub keep: usize,
    /// Only images older than this many days (may be negative)
    #[arg(long, default_value_t = 14, allow_negative_numbers = true)]
    pub age: i64,
    /// Only this hostclass
    #[arg(long, value_parser = crate::cli::hostclass_name)]
    pub hostclass: Option<String>,
    /// Only this product line
    #[arg(long)]
    pub productline: Option<String>,
    /// Print the images that would be deleted and delete nothing
    #[arg(long, alias = "dry-run")]
    pub dryrun: bool,
    /// Comma list of image ids never to delete
    #[arg(long, default_value = "")]
    pub exclude_amis: String,
}

fn now_unix() -> u64 {
    u64::try_from(jiff::Timestamp::now().as_second()).unwrap_or(0)
}

fn load(global: &GlobalArgs) -> Result<(ConfigDir, AwsIni), CliError> {
    let dir = ConfigDir::new(&global.asiaq_config);
    let aws = dir.aws(global.env.as_deref())?;
    Ok((dir, aws))
}

/// What was done on stderr, or with `--dry-run` what would be on stdout (as the original).
fn say(done: &images::Done) {
    for line in &done.lines {
        if done.dry_run {
            println!("{line}");
        } else {
            eprintln!("{line}");
        }
    }
}

pub fn run(global: &GlobalArgs, cmd: &BakeCommand) -> Result<(), CliError> {
    match cmd {
        BakeCommand::Bake(args) => run_bake(global, args),
        BakeCommand::Promote {
            ami,
            stage,
            promote_to_prod,
            dry_run,
        } => {
            let (_, aws) = load(global)?;
            let prod = config::promotion_accounts(&aws, stage, *promote_to_prod)?;
            aws_session::run(global, |ctx| async move {
                say(&images::promote(&ctx, ami, stage, &prod, *dry_run).await?);
                Ok(())
            })
        }
        BakeCommand::Hostclasspromote { hostclass, dry_run } => {
            let (_, aws) = load(global)?;
            let prod = config::prod_accounts(&aws)?;
            let trusted = config::trusted_accounts(&aws)?;
            let stage = config::final_stage(&aws);
            aws_session::run(global, |ctx| async move {
                let done =
                    images::promote_hostclass(&ctx, &trusted, hostclass, &stage, &prod, *dry_run);
                say(&done.await?);
                Ok(())
            })
        }
        BakeCommand::Listamis(args) => list_amis(global, args),
        BakeCommand::Liststragglers { days, stage } => {
            let (_, aws) = load(global)?;
            let trusted = config::trusted_accounts(&aws)?;
            let (promoted, first) = config::straggler_stages(&aws, stage.as_deref())?;
            aws_session::run(global, |ctx| async move {
                let query = images::ImageQuery::visible(&trusted);
                let amis = images::describe_images(&ctx, &query).await?;
                let rows = ami::straggler_rows(&amis, &promoted, &first, now_unix(), *days);
                print(global, text::stragglers(&rows))
            })
        }
        BakeCommand::Listlatestami {
            stage,
            hostclass,
            in_prod,
            show_tags,
        } => {
            let (_, aws) = load(global)?;
            let (trusted, prod) = config::listing_accounts(&aws, *in_prod)?;
            aws_session::run(global, |ctx| async move {
                let stages = AmiFilter::stage_list(stage);
                let found = images::latest(&ctx, &trusted, hostclass, &stages, true).await?;
                let Some(found) = found else {
                    return Err(CliError::failed(format!("no {stage} image of {hostclass}")));
                };
                show(global, &ctx, &[found], in_prod.then_some(&prod), *show_tags).await?;
                Ok(())
            })
        }
        BakeCommand::Deleteami { ami, dry_run } => {
            load(global)?;
            aws_session::run(global, |ctx| async move {
                let (done, left_behind) = images::delete_own(&ctx, ami, *dry_run).await?;
                say(&done);
                Ok(left_behind?)
            })
        }
        BakeCommand::Cleanupamis(args) => cleanup(global, args),
        BakeCommand::Create { hostclass, dry_run } => create(global, hostclass, *dry_run),
        BakeCommand::Listrepo => {
            let (_, aws) = load(global)?;
            let (env, hostclass) = config::repo_settings(&aws)?;
            aws_session::run(global, |ctx| async move {
                let repo = bake::repo_host(&ctx, &env, &hostclass).await?;
                print(global, bake::repo_printout(repo.as_ref(), &env, &hostclass))
            })
        }
    }
}

/// What the bake takes from the process: environment, OS user, executable, clock, the
/// config checkout's git version.
fn process(dir: &ConfigDir) -> BakeProcess {
    let bake_id = ami::bake_id(&mut rand::thread_rng());
    BakeProcess::current(dir.root(), env!("CARGO_PKG_VERSION"), now_unix(), bake_id)
}

fn run_bake(global: &GlobalArgs, args: &BakeArgs) -> Result<(), CliError> {
    let (dir, aws) = load(global)?;
    let request = BakeRequest {
        hostclass: args.hostclass.clone(),
        stage: args.stage.clone(),
        source_ami: args.source_ami.clone(),
        extra_tags: syntax::parse_tag_args(&args.tags).map_err(CliError::usage)?,
        private: args.private,
        identity: args.identity.clone(),
        use_local_ip: args.use_local_ip,
        no_destroy: args.no_destroy,
    };
    let (settings, options) = config::bake_settings(&dir, &aws, &request, &process(&dir))?;
    let remote = Remote {
        options,
        stream: global.debug,
    };
    aws_session::run(global, |ctx| async move {
        let prepared = bake::prepare(&ctx, &settings)
            .await
            .map_err(|e| CliError::failed(e.to_string()))?;
        if args.dry_run {
            let plan = Plan {
                dry_run: true,
                settings: &settings,
                prepared: &prepared,
            };
            return emit(global.output, &plan, |w| {
                plan.lines().iter().try_for_each(|l| writeln!(w, "{l}"))
            });
        }
        let outcome = bake::execute(&ctx, &settings, &prepared, &remote, bake::interrupted())
            .await
            .map_err(|e| e.refusal(&settings.image_name))?;
        emit(global.output, &outcome, |w| {
            writeln!(w, "{}", outcome.line())
        })
    })
}

/// The listing of `amis` (with a Production column given the `prod` accounts): the
/// table's header on stderr, its rows on stdout (or the rows as JSON). How many rows.
async fn show(
    global: &GlobalArgs,
    ctx: &AwsContext,
    amis: &[AmiInfo],
    prod: Option<&Vec<String>>,
    tags: bool,
) -> Result<usize, CliError> {
    let rows = images::rows(ctx, amis, now_unix(), tags, prod.map(Vec::as_slice)).await?;
    print(global, text::listing(&rows, prod.is_some(), tags))?;
    Ok(rows.len())
}

fn list_amis(global: &GlobalArgs, args: &ListAmisArgs) -> Result<(), CliError> {
    let (_, aws) = load(global)?;
    let (trusted, prod) = config::listing_accounts(&aws, args.in_prod)?;
    aws_session::run(global, |ctx| async move {
        let filter = AmiFilter {
            stages: args.stage.as_deref().map(AmiFilter::stage_list),
            product_line: args.productline.clone(),
            state: args.state.clone(),
            hostclass: args.hostclass.clone(),
            include_private: true,
        };
        let (ami, instance) = (args.ami.as_deref(), args.instance.as_deref());
        let amis = images::list(&ctx, &trusted, ami, instance, &filter).await?;
        let prod = args.in_prod.then_some(&prod);
        if show(global, &ctx, &amis, prod, args.show_tags).await? == 0 {
            return Err(CliError::failed("no image matched"));
        }
        Ok(())
    })
}

fn cleanup(global: &GlobalArgs, args: &CleanupArgs) -> Result<(), CliError> {
    load(global)?;
    let exclude = ami::comma_list(&args.exclude_amis);
    aws_session::run(global, |ctx| async move {
        let pl = args.productline.as_deref();
        let amis = images::own_images_of_stage(&ctx, &args.stage, pl).await?;
        let (now, hostclass) = (now_unix(), args.hostclass.as_deref());
        let selected = ami::cleanup_selection(&amis, args.keep, args.age, hostclass, &exclude, now);
        let rows: Vec<AmiRow> = selected
            .iter()
            .map(|a| AmiRow::new(a, now, false))
            .collect();
        print(global, text::cleanup(&rows, args.dryrun))?;
        if args.dryrun || selected.is_empty() {
            return Ok(());
        }
        Ok(images::delete_images(&ctx, &selected).await?)
    })
}

fn create(global: &GlobalArgs, hostclass: &str, dry_run: bool) -> Result<(), CliError> {
    ami::check_new_hostclass(hostclass).map_err(|e| CliError::usage(e.to_string()))?;
    let script = config::init_script(&ConfigDir::new(&global.asiaq_config), hostclass)?;
    script.refuse_existing().map_err(CliError::usage)?;
    let target = script.target.display();
    if dry_run {
        println!("{}", script.dry_run_line());
        return Ok(());
    }
    script
        .write()
        .map_err(|e| CliError::failed(format!("cannot write {target}: {e}")))?;
    eprintln!("created {target}");
    Ok(())
}
