//! `asiaq vpc` (the original's `disco_vpc_ui.py`): environments.

use asiaq_aws::vpc::{self as env, Extras};
use asiaq_aws::AwsContext;
use asiaq_config::vpc_env::{config_of, environment_inputs, peering_config};
use asiaq_config::ConfigDir;
use asiaq_core::syntax;
use asiaq_core::vpc::check_vpc_name;
use asiaq_core::vpc::picture::{dot, html, svg};
use asiaq_core::vpc::show::{overview, ShowEnvironment};
use asiaq_core::vpc::state::VpcState;
use clap::{Args, Subcommand};
use serde::Serialize;

use crate::cli::{GlobalArgs, OutputFormat};
use crate::commands::aws_session;
use crate::confirm::confirm;
use crate::exit::CliError;
use crate::output::{emit, print_plan, write_lines};

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

/// Resolves `--name`/`--vpc-id` to `(vpc id, name, type)`; exit 2 when there is none.
async fn resolve(
    ctx: &AwsContext,
    target: &Target,
) -> Result<asiaq_aws::ObservedEnvironment, CliError> {
    let found = match (&target.name, &target.vpc_id) {
        (Some(n), _) => asiaq_aws::find_environment(ctx, n).await?,
        (None, Some(id)) => asiaq_aws::find_environment_by_vpc_id(ctx, id).await?,
        (None, None) => None,
    };
    found.ok_or_else(|| CliError::usage("No matching VPC found"))
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
            let extra_tags = tags
                .iter()
                .map(|t| {
                    syntax::parse_tag_arg(t)
                        .map_err(|e| CliError::usage(format!("--tag {t:?}: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let vpc_ini = dir.vpc()?;
            let inputs =
                environment_inputs(&dir, &vpc_ini, name, env_type, extra_tags, !skip_enis)?;
            let (cfg, extras) = (
                inputs.config,
                Extras::now(inputs.static_ips, inputs.peerings),
            );
            let name = name.clone();
            let dry_run = *dry_run;
            aws_session::run(global, |ctx| async move {
                let prepared = env::prepare_create(&ctx, cfg, &extras).await?;
                let plan = &prepared.outcome.plan;
                crate::output::print_plan(
                    global,
                    "vpc create",
                    plan,
                    &prepared.outcome.notes,
                    dry_run,
                )?;
                if dry_run {
                    return Ok(());
                }
                let (vpc_id, _) = env::apply_create(&ctx, &name, plan).await?;
                #[derive(Serialize)]
                struct Created<'a> {
                    name: &'a str,
                    vpc_id: &'a str,
                }
                emit(
                    global.output,
                    &Created {
                        name: &name,
                        vpc_id: &vpc_id,
                    },
                    |w| writeln!(w, "VPC {name}({vpc_id}) has been created"),
                )
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
            let dry_run = *dry_run;
            aws_session::run(global, |ctx| async move {
                let found = resolve(&ctx, target).await?;
                let env_type = found.env_type.clone().ok_or_else(|| {
                    CliError::usage(format!(
                        "VPC {} has no `type` tag; cannot tell which [envtype:] configures it",
                        found.vpc_id
                    ))
                })?;
                let name = &found.name;
                let inputs = environment_inputs(&dir, &vpc_ini, name, &env_type, vec![], true)?;
                let (cfg, extras) = (
                    inputs.config,
                    Extras::now(inputs.static_ips, inputs.peerings),
                );
                let prepared = env::prepare_update(&ctx, &found.vpc_id, cfg, &extras).await?;
                let plan = &prepared.outcome.plan;
                crate::output::print_plan(
                    global,
                    "vpc update",
                    plan,
                    &prepared.outcome.notes,
                    dry_run,
                )?;
                if dry_run {
                    return Ok(());
                }
                let report = env::execute(&ctx, plan, env::DEFAULT_CONCURRENCY)
                    .await
                    .map_err(|e| {
                        CliError::failed(format!("{e}")).with_hint(
                            "run the update again: it starts from what exists and finishes the rest",
                        )
                    })?;
                emit(
                    global.output,
                    &serde_json::json!({"vpc_id": found.vpc_id, "name": found.name, "changes": report.steps_done}),
                    |w| {
                        writeln!(
                            w,
                            "VPC {}({}) has been updated ({} change(s))",
                            found.name, found.vpc_id, report.steps_done
                        )
                    },
                )
            })
        }
        VpcCommand::Destroy {
            target,
            force: _,
            dry_run,
        } => {
            let dry_run = *dry_run;
            aws_session::run(global, |ctx| async move {
                let found = resolve(&ctx, target).await?;
                let plan = env::prepare_destroy(&ctx, &found.name, &found.vpc_id).await?;
                print_plan(global, "vpc destroy", &plan, &[], dry_run)?;
                if dry_run {
                    return Ok(());
                }
                if found.env_type.as_deref() != Some("sandbox") {
                    confirm(
                        global,
                        &format!(
                            "Destroy environment {} ({}, type {})?",
                            found.name,
                            found.vpc_id,
                            found.env_type.as_deref().unwrap_or("unknown")
                        ),
                    )?;
                }
                env::execute(&ctx, &plan, env::DEFAULT_CONCURRENCY)
                    .await
                    .map_err(|e| {
                        CliError::failed(format!("{e}")).with_hint(
                            "run the destroy again: it starts from what is left and finishes the job",
                        )
                    })?;
                emit(
                    global.output,
                    &serde_json::json!({"vpc_id": found.vpc_id, "name": found.name, "destroyed": true}),
                    |w| writeln!(w, "VPC {}({}) has been destroyed", found.name, found.vpc_id),
                )
            })
        }
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
    let specs = if args.create {
        let vpc_ini = dir.vpc()?;
        Some((peering_config(&vpc_ini)?, vpc_ini))
    } else {
        None
    };
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
        if args.delete {
            let prepared = env::peerings::prepare_delete_peerings(&ctx, vpc_id.as_deref()).await?;
            let notes = prepared.notes();
            let plan = &prepared.plan;
            print_plan(global, "vpc peerings", plan, &notes, args.dry_run)?;
            if args.dry_run || plan.is_empty() {
                return Ok(());
            }
            // A sandbox's own peerings go without asking; anything wider is confirmed.
            let sandbox = found
                .as_ref()
                .is_some_and(|f| f.env_type.as_deref() == Some("sandbox"));
            if !sandbox {
                let scope = match &found {
                    Some(f) => format!("of {}", f.name),
                    None => "of every asiaq environment in the region".to_string(),
                };
                confirm(
                    global,
                    &format!(
                        "Delete {} peering(s) {scope} and their routes?",
                        prepared.peerings_deleted()
                    ),
                )?;
            }
            env::execute(&ctx, plan, env::DEFAULT_CONCURRENCY)
                .await
                .map_err(|e| CliError::failed(e.to_string()))?;
            eprintln!("{} peering change(s) made", plan.len());
            return Ok(());
        }
        let Some((specs, vpc_ini)) = specs else {
            return Err(CliError::failed("the peerings configuration was not read"));
        };
        let environments = env::peerings::peerable_environments(&ctx, found).await?;
        let plan = env::peerings::create_missing_peerings(
            &ctx,
            &environments,
            &specs,
            |name, env_type| config_of(&vpc_ini, name, env_type),
            &env::now_iso(),
            args.dry_run,
        )
        .await?;
        print_plan(global, "vpc peerings", &plan, &[], args.dry_run)?;
        if !args.dry_run {
            eprintln!("{} peering change(s) made", plan.len());
        }
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
                let inputs = environment_inputs(dir, ini, &found.name, env_type, vec![], true)?;
                let extras = Extras::now(inputs.static_ips, inputs.peerings);
                Some((inputs.config, extras))
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
    found: &asiaq_aws::ObservedEnvironment,
    state: &VpcState,
) -> Result<(), CliError> {
    let out = ShowEnvironment {
        vpc_id: &found.vpc_id,
        name: &found.name,
        env_type: found.env_type.as_deref(),
        cidr: found.cidr.to_string(),
        tags: &found.tags,
        overview: overview(state),
    };
    emit(global.output, &out, |w| write_lines(w, out.lines()))?;
    if global.output == OutputFormat::Text && state.metanetworks().is_empty() {
        eprintln!("note: the VPC has no metanetworks (was it made by asiaq?)");
    }
    Ok(())
}
