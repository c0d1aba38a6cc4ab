//! `asiaq vpc` (the original's `disco_vpc_ui.py`): environments.

use asiaq_aws::vpc::{self as env, Extras};
use asiaq_aws::{AwsContext, ObservedEnvironment};
use asiaq_config::vpc_env::{config_of, environment_inputs, peering_config};
use asiaq_config::vpc_ini::VpcIni;
use asiaq_config::ConfigDir;
use asiaq_core::syntax;
use asiaq_core::vpc::check_vpc_name;
use asiaq_core::vpc::picture::{dot, html, svg};
use asiaq_core::vpc::reconcile::EnvConfig;
use asiaq_core::vpc::state::VpcState;
use asiaq_core::vpc::text;
use clap::{Args, Subcommand};

use crate::cli::GlobalArgs;
use crate::commands::aws_session;
use crate::confirm::confirm;
use crate::exit::CliError;
use crate::output::{emit, print, print_plan, write_lines};

/// Which environment: exactly one of `--name` and `--vpc-id`.
#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false)]
pub struct Target {
    /// Environment (VPC) name
    #[arg(long)]
    pub name: Option<String>,
    /// VPC id
    #[arg(long)]
    pub vpc_id: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum VpcCommand {
    /// Create an environment of a type ([envtype:TYPE] of disco_vpc.ini)
    Create {
        /// Environment (VPC) name; no "_"
        #[arg(long)]
        name: String,
        /// Environment type: an [envtype:TYPE] section of disco_vpc.ini
        #[arg(long = "type", value_name = "TYPE")]
        env_type: String,
        /// Extra VPC tag key:value (repeatable)
        #[arg(long = "tag", value_name = "KEY:VALUE")]
        tags: Vec<String>,
        /// Do not pre-create the floating interfaces of hostclasses with static IPs
        #[arg(long)]
        skip_enis: bool,
        /// Print the plan and change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// List environments: vpc-id, name[, type]
    List {
        /// Also print each environment's type
        #[arg(long = "type")]
        show_type: bool,
    },
    /// Show an environment: metanetworks, subnets, routes, rules, gateways, peerings, as
    /// text or as a picture (html, svg, dot)
    Show {
        #[command(flatten)]
        target: Target,
        /// text (the default), or a picture: html (one self-contained page), svg, dot
        #[arg(long, value_enum, default_value_t = ShowFormat::Text)]
        format: ShowFormat,
        /// Write the picture to this file instead of stdout
        #[arg(long, value_name = "FILE")]
        out: Option<std::path::PathBuf>,
        /// Mark on the picture what `vpc update` would change (reads disco_vpc.ini)
        #[arg(long)]
        diff: bool,
    },
    /// Bring an environment in line with disco_vpc.ini (rules, routes, NAT, DHCP, peerings)
    Update {
        #[command(flatten)]
        target: Target,
        /// Print the plan and change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Destroy an environment and everything asiaq made in it
    Destroy {
        #[command(flatten)]
        target: Target,
        /// Accepted for compatibility: destroy always terminates the environment's
        /// instances and deletes its autoscaling groups and load balancers first, as the
        /// original did (a non-sandbox environment still asks first, or needs --yes)
        #[arg(long)]
        force: bool,
        /// Print the plan and change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Create, delete or list VPC peerings
    Peerings(PeeringsArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ShowFormat {
    Text,
    Html,
    Svg,
    Dot,
}

#[derive(Debug, Args)]
pub struct PeeringsArgs {
    /// Create the configured peerings that are missing (of --name/--vpc-id, or of all)
    #[arg(long, conflicts_with_all = ["delete", "list"])]
    pub create: bool,
    /// Delete live peerings (of --name/--vpc-id, or all)
    #[arg(long, conflicts_with = "list")]
    pub delete: bool,
    /// List peerings, including failed ones
    #[arg(long)]
    pub list: bool,
    #[arg(long, conflicts_with = "vpc_id")]
    pub name: Option<String>,
    #[arg(long)]
    pub vpc_id: Option<String>,
    /// Print the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// Resolves `--name`/`--vpc-id` to the environment; exit 2 when there is none.
async fn resolve(ctx: &AwsContext, target: &Target) -> Result<ObservedEnvironment, CliError> {
    let (name, vpc_id) = (target.name.as_deref(), target.vpc_id.as_deref());
    Ok(asiaq_aws::environment::resolve_environment(ctx, name, vpc_id).await?)
}

/// What `vpc create`, `update` and `show --diff` apply to environment `name` of `env_type`:
/// its configuration and the static IPs and peerings, stamped now.
fn inputs(
    dir: &ConfigDir,
    vpc_ini: &VpcIni,
    (name, env_type): (&str, &str),
    extra_tags: Vec<(String, String)>,
    with_enis: bool,
) -> Result<(EnvConfig, Extras), CliError> {
    let inputs = environment_inputs(dir, vpc_ini, name, env_type, extra_tags, with_enis)?;
    let extras = Extras::now(inputs.static_ips, inputs.peerings);
    Ok((inputs.config, extras))
}

pub fn run(global: &GlobalArgs, cmd: &VpcCommand) -> Result<(), CliError> {
    let dir = ConfigDir::new(&global.asiaq_config);
    match cmd {
        VpcCommand::Create {
            name,
            env_type,
            tags,
            skip_enis,
            dry_run,
        } => {
            check_vpc_name(name).map_err(CliError::usage)?;
            let extra_tags = syntax::parse_tag_args(tags).map_err(CliError::usage)?;
            let vpc_ini = dir.vpc()?;
            let (cfg, extras) = inputs(&dir, &vpc_ini, (name, env_type), extra_tags, !skip_enis)?;
            aws_session::run(global, |ctx| async move {
                let prepared = env::prepare_create(&ctx, cfg, &extras).await?;
                let (plan, notes) = (&prepared.outcome.plan, &prepared.outcome.notes);
                print_plan(global, "vpc create", plan, notes, *dry_run)?;
                if *dry_run {
                    return Ok(());
                }
                let (vpc_id, _) = env::apply_create(&ctx, name, plan).await?;
                print(global, text::created(name, &vpc_id))
            })
        }
        VpcCommand::List { show_type } => aws_session::run(global, |ctx| async move {
            let rows = env::listing::list_vpcs(&ctx).await?;
            let lines = rows.iter().map(|r| r.line(*show_type)).collect();
            emit(global.output, &rows, |w| write_lines(w, lines))
        }),
        VpcCommand::Show {
            target,
            format: ShowFormat::Text,
            out,
            diff,
        } => {
            if out.is_some() || *diff {
                return Err(CliError::usage(
                    "--out and --diff go with a picture: --format html, svg or dot",
                ));
            }
            aws_session::run(global, |ctx| async move {
                let found = resolve(&ctx, target).await?;
                let state =
                    env::observe::observe_state(&ctx, &found.name, Some(&found.vpc_id), false)
                        .await?;
                show(global, &found, &state)
            })
        }
        VpcCommand::Show {
            target,
            format,
            out,
            diff,
        } => picture(global, &dir, target, *format, out.as_deref(), *diff),
        VpcCommand::Update { target, dry_run } => {
            let vpc_ini = dir.vpc()?;
            peering_config(&vpc_ini)?;
            aws_session::run(global, |ctx| async move {
                let found = resolve(&ctx, target).await?;
                let env_type = text::required_type(&found.vpc_id, found.env_type.as_deref())?;
                let (cfg, extras) = inputs(&dir, &vpc_ini, (&found.name, env_type), vec![], true)?;
                let prepared = env::prepare_update(&ctx, &found.vpc_id, cfg, &extras).await?;
                let (plan, notes) = (&prepared.outcome.plan, &prepared.outcome.notes);
                print_plan(global, "vpc update", plan, notes, *dry_run)?;
                if *dry_run {
                    return Ok(());
                }
                let report = env::execute(&ctx, plan, env::DEFAULT_CONCURRENCY)
                    .await
                    .map_err(text::update_failed)?;
                print(
                    global,
                    text::updated(&found.name, &found.vpc_id, report.steps_done),
                )
            })
        }
        VpcCommand::Destroy {
            target,
            force: _,
            dry_run,
        } => aws_session::run(global, |ctx| async move {
            let found = resolve(&ctx, target).await?;
            let plan = env::prepare_destroy(&ctx, &found.name, &found.vpc_id).await?;
            print_plan(global, "vpc destroy", &plan, &[], *dry_run)?;
            if *dry_run {
                return Ok(());
            }
            let (name, vpc_id) = (&found.name, &found.vpc_id);
            if let Some(q) = text::destroy_question(name, vpc_id, found.env_type.as_deref()) {
                confirm(global, &q)?;
            }
            env::execute(&ctx, &plan, env::DEFAULT_CONCURRENCY)
                .await
                .map_err(text::destroy_failed)?;
            print(global, text::destroyed(name, vpc_id))
        }),
        VpcCommand::Peerings(args) => peerings(global, &dir, args),
    }
}

fn peerings(global: &GlobalArgs, dir: &ConfigDir, args: &PeeringsArgs) -> Result<(), CliError> {
    if !(args.create || args.delete || args.list) {
        return Err(CliError::usage(
            "vpc peerings needs one of --create, --delete, --list",
        ));
    }
    let target = (args.name.is_some() || args.vpc_id.is_some()).then(|| Target {
        name: args.name.clone(),
        vpc_id: args.vpc_id.clone(),
    });
    let vpc_ini = if args.create { Some(dir.vpc()?) } else { None };
    let specs = vpc_ini.as_ref().map(peering_config).transpose()?;
    aws_session::run(global, |ctx| async move {
        let found = match &target {
            Some(t) => Some(resolve(&ctx, t).await?),
            None => None,
        };
        let vpc_id = found.as_ref().map(|f| f.vpc_id.clone());
        if args.list {
            let rows = env::listing::list_peering_rows(&ctx, vpc_id.as_deref()).await?;
            let lines = rows.iter().map(|r| r.line()).collect();
            return emit(global.output, &rows, |w| write_lines(w, lines));
        }
        let plan = if args.delete {
            let prepared = env::peerings::prepare_delete_peerings(&ctx, vpc_id.as_deref()).await?;
            let plan = &prepared.plan;
            print_plan(
                global,
                "vpc peerings",
                plan,
                &prepared.notes(),
                args.dry_run,
            )?;
            if args.dry_run || plan.is_empty() {
                return Ok(());
            }
            // A sandbox's own peerings go without asking; anything wider is confirmed.
            let target = found
                .as_ref()
                .map(|f| (f.name.as_str(), f.env_type.as_deref()));
            let count = prepared.peerings_deleted();
            if let Some(q) = text::delete_peerings_question(target, count) {
                confirm(global, &q)?;
            }
            env::execute(&ctx, plan, env::DEFAULT_CONCURRENCY)
                .await
                .map_err(|e| CliError::failed(e.to_string()))?;
            prepared.plan
        } else {
            let (Some(specs), Some(vpc_ini)) = (specs, vpc_ini) else {
                return Err(CliError::failed("the peerings configuration was not read"));
            };
            let config_of = |name: &str, env_type: &str| config_of(&vpc_ini, name, env_type);
            let plan = env::peerings::create_peerings(&ctx, found, &specs, config_of, args.dry_run)
                .await?;
            print_plan(global, "vpc peerings", &plan, &[], args.dry_run)?;
            if args.dry_run {
                return Ok(());
            }
            plan
        };
        eprintln!("{} peering change(s) made", plan.len());
        Ok(())
    })
}

/// `vpc show --format html|svg|dot`: the picture of the environment, with what `vpc
/// update` would change marked when `diff`.
fn picture(
    global: &GlobalArgs,
    dir: &ConfigDir,
    target: &Target,
    format: ShowFormat,
    out: Option<&std::path::Path>,
    diff: bool,
) -> Result<(), CliError> {
    let vpc_ini = if diff {
        let ini = dir.vpc()?;
        peering_config(&ini)?;
        Some(ini)
    } else {
        None
    };
    aws_session::run(global, |ctx| async move {
        let found = resolve(&ctx, target).await?;
        let update = match (&vpc_ini, &found.env_type) {
            (None, _) => None,
            (Some(_), None) => {
                return Err(CliError::usage(format!(
                    "VPC {} has no `type` tag",
                    found.vpc_id
                )))
            }
            (Some(ini), Some(env_type)) => {
                Some(inputs(dir, ini, (&found.name, env_type), vec![], true)?)
            }
        };
        let p = env::picture::draw(&ctx, &found, update).await?;
        let text = match format {
            ShowFormat::Html => html(&p),
            ShowFormat::Svg => svg(&p).0,
            ShowFormat::Dot | ShowFormat::Text => dot(&p),
        };
        match out {
            Some(path) => {
                std::fs::write(path, &text).map_err(|e| {
                    CliError::failed(format!("cannot write {}: {e}", path.display()))
                })?;
                eprintln!("wrote {}", path.display());
                Ok(())
            }
            None => {
                print!("{text}");
                Ok(())
            }
        }
    })
}

fn show(
    global: &GlobalArgs,
    found: &ObservedEnvironment,
    state: &VpcState,
) -> Result<(), CliError> {
    print(global, found.show_printout(state))
}
