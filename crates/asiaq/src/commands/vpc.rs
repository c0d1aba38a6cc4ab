//! `asiaq vpc` (the original's `disco_vpc_ui.py`): environments.

use asiaq_aws::vpc::{self as env, Extras, VpcError};
use asiaq_aws::AwsContext;
use asiaq_config::vpc_env::{config_of, env_config, env_static_ips, peering_config};
use asiaq_config::{ConfigDir, ConfigError, Diagnostic};
use asiaq_core::syntax;
use asiaq_core::vpc::show::{overview, Overview};
use asiaq_core::vpc::state::VpcState;
use clap::{Args, Subcommand};
use serde::Serialize;

use crate::cli::{GlobalArgs, OutputFormat};
use crate::commands::aws_session;
use crate::confirm::confirm;
use crate::exit::CliError;
use crate::output::{emit, print_plan};

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
    /// Show an environment: metanetworks, subnets, routes, rules, gateways, peerings
    Show {
        #[command(flatten)]
        target: Target,
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

fn usage_from(diags: Vec<Diagnostic>) -> CliError {
    CliError::from(ConfigError::Invalid(diags))
}

fn check_name(name: &str) -> Result<(), CliError> {
    if name.is_empty() || name.contains('_') {
        return Err(CliError::usage(format!(
            "VPC name {name:?} is not allowed: it must be non-empty and must not contain \"_\" (alarm names are split on it)"
        )));
    }
    Ok(())
}

fn vpc_error(e: VpcError) -> CliError {
    match e {
        VpcError::Plan(p) => CliError::usage(p.to_string()),
        VpcError::Ntp { .. } | VpcError::Config(_) => CliError::usage(e.to_string()),
        VpcError::Destroy(d) => CliError::failed(d.to_string()),
        VpcError::Aws(a) => a.into(),
        other => CliError::failed(other.to_string()),
    }
}

fn now_iso() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
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
            check_name(name)?;
            let extra_tags = tags
                .iter()
                .map(|t| {
                    syntax::parse_tag_arg(t)
                        .map_err(|e| CliError::usage(format!("--tag {t:?}: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let vpc_ini = dir.vpc()?;
            let spec = vpc_ini.environment(name, env_type).map_err(usage_from)?;
            let peerings = peering_config(&vpc_ini)?;
            let static_ips = if *skip_enis {
                Vec::new()
            } else {
                env_static_ips(&dir, name)?
            };
            let cfg = env_config(&spec, extra_tags);
            let extras = Extras {
                static_ips,
                peerings: Some(peerings),
                now: now_iso(),
            };
            let name = name.clone();
            let dry_run = *dry_run;
            aws_session::run(global, |ctx| async move {
                let prepared = env::prepare_create(&ctx, cfg, &extras)
                    .await
                    .map_err(vpc_error)?;
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
                let (vpc_id, _) = env::apply_create(&ctx, &name, plan)
                    .await
                    .map_err(vpc_error)?;
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
            emit(global.output, &rows, |w| {
                for r in &rows {
                    let name = r.name.as_deref().unwrap_or("-");
                    if *show_type {
                        writeln!(
                            w,
                            "{}\t{:<15}\t{}",
                            r.vpc_id,
                            name,
                            r.env_type.as_deref().unwrap_or("-")
                        )?;
                    } else {
                        writeln!(w, "{}\t{:<15}", r.vpc_id, name)?;
                    }
                }
                Ok(())
            })
        }),
        VpcCommand::Show { target } => aws_session::run(global, |ctx| async move {
            let found = resolve(&ctx, target).await?;
            let state =
                env::observe::observe_state(&ctx, &found.name, Some(&found.vpc_id), false).await?;
            show(global, &found, &state)
        }),
        VpcCommand::Update { target, dry_run } => {
            let vpc_ini = dir.vpc()?;
            let peerings = peering_config(&vpc_ini)?;
            let dry_run = *dry_run;
            aws_session::run(global, |ctx| async move {
                let found = resolve(&ctx, target).await?;
                let env_type = found.env_type.clone().ok_or_else(|| {
                    CliError::usage(format!(
                        "VPC {} has no `type` tag; cannot tell which [envtype:] configures it",
                        found.vpc_id
                    ))
                })?;
                let spec = vpc_ini
                    .environment(&found.name, &env_type)
                    .map_err(usage_from)?;
                let static_ips = env_static_ips(&dir, &found.name)?;
                let cfg = env_config(&spec, Vec::new());
                let extras = Extras {
                    static_ips,
                    peerings: Some(peerings),
                    now: now_iso(),
                };
                let prepared = env::prepare_update(&ctx, &found.vpc_id, cfg, &extras)
                    .await
                    .map_err(vpc_error)?;
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
                let plan = env::prepare_destroy(&ctx, &found.name, &found.vpc_id)
                    .await
                    .map_err(vpc_error)?;
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
            return emit(global.output, &rows, |w| {
                for r in &rows {
                    writeln!(
                        w,
                        "{} {} {}<->{} {}<->{}",
                        r.id,
                        r.status,
                        r.requester,
                        r.accepter,
                        r.requester_cidr.as_deref().unwrap_or("-"),
                        r.accepter_cidr.as_deref().unwrap_or("-")
                    )?;
                }
                Ok(())
            });
        }
        if args.delete {
            let prepared = env::peerings::prepare_delete_peerings(&ctx, vpc_id.as_deref())
                .await
                .map_err(vpc_error)?;
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
            &now_iso(),
            args.dry_run,
        )
        .await
        .map_err(vpc_error)?;
        print_plan(global, "vpc peerings", &plan, &[], args.dry_run)?;
        if !args.dry_run {
            eprintln!("{} peering change(s) made", plan.len());
        }
        Ok(())
    })
}

fn show(
    global: &GlobalArgs,
    found: &asiaq_aws::ObservedEnvironment,
    state: &VpcState,
) -> Result<(), CliError> {
    #[derive(Serialize)]
    struct ShowEnv<'a> {
        vpc_id: &'a str,
        name: &'a str,
        #[serde(rename = "type")]
        env_type: Option<&'a str>,
        cidr: String,
        tags: &'a std::collections::BTreeMap<String, String>,
        #[serde(flatten)]
        overview: Overview,
    }
    let out = ShowEnv {
        vpc_id: &found.vpc_id,
        name: &found.name,
        env_type: found.env_type.as_deref(),
        cidr: found.cidr.to_string(),
        tags: &found.tags,
        overview: overview(state),
    };
    emit(global.output, &out, |w| {
        writeln!(
            w,
            "{} {} type {} {}",
            out.vpc_id,
            out.name,
            out.env_type.unwrap_or("-"),
            out.cidr
        )?;
        for n in &out.overview.metanetworks {
            writeln!(
                w,
                "metanetwork {} {}",
                n.name,
                n.cidr.as_deref().unwrap_or("-")
            )?;
            writeln!(w, "  security group {}", n.security_group)?;
            for r in &n.rules {
                writeln!(w, "    allow {r}")?;
            }
            for s in &n.subnets {
                writeln!(
                    w,
                    "  subnet {} {} {} route table {}",
                    s.id,
                    s.availability_zone,
                    s.cidr,
                    s.route_table.as_deref().unwrap_or("-")
                )?;
                for r in &s.routes {
                    writeln!(w, "    route {r}")?;
                }
            }
        }
        for (label, items) in out.overview.labelled() {
            for i in items {
                writeln!(w, "{label} {i}")?;
            }
        }
        Ok(())
    })?;
    if global.output == OutputFormat::Text && state.metanetworks().is_empty() {
        eprintln!("note: the VPC has no metanetworks (was it made by asiaq?)");
    }
    Ok(())
}
