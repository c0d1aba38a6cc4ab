//! `asiaq vpc` (the original's `disco_vpc_ui.py`): environments.

use asiaq_aws::vpc::{self as env, Extras, VpcError};
use asiaq_aws::AwsContext;
use asiaq_config::aws_ini::AwsIni;
use asiaq_config::dir::files;
use asiaq_config::vpc_ini::{EnvironmentSpec, VpcCidrSpec};
use asiaq_config::{ConfigDir, ConfigError, Diagnostic};
use asiaq_core::sg_rules::CustomerAccess;
use asiaq_core::syntax::{self, MetaNetworkName};
use asiaq_core::vpc::plan::{Action, Plan};
use asiaq_core::vpc::reconcile::{DhcpConfig, EnvConfig, NetConfig, StaticIpRequest, VpcCidr};
use asiaq_core::vpc::state::{PermissionSource, RouteTarget, VpcState, OWNER_TAG};
use clap::{Args, Subcommand};
use serde::Serialize;

use crate::cli::{GlobalArgs, OutputFormat};
use crate::commands::aws_session;
use crate::confirm::confirm;
use crate::exit::CliError;
use crate::output::emit;

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

/// The environment's configuration as the planner wants it.
fn env_config(spec: &EnvironmentSpec, extra_tags: Vec<(String, String)>) -> EnvConfig {
    EnvConfig {
        name: spec.name.clone(),
        env_type: spec.env_type.clone(),
        vpc_cidr: match spec.vpc_cidr {
            VpcCidrSpec::Static(c) => VpcCidr::Static(c),
            VpcCidrSpec::Random { ip_space, size } => VpcCidr::Random { ip_space, size },
        },
        nets: spec
            .metanetworks
            .iter()
            .map(|m| NetConfig {
                name: m.name,
                cidr: m.cidr,
                sg_rules: m.sg_rules.clone(),
                igw_routes: m.igw_routes.clone(),
                vgw_routes: m.vgw_routes.clone(),
                nat_gateways: m.nat_gateways.clone(),
            })
            .collect(),
        customer: CustomerAccess {
            ports: spec.customer_ports.clone(),
            cidrs: spec.customer_cidrs.clone(),
        },
        nat_gateway_routes: spec.nat_gateway_routes.clone(),
        dhcp: DhcpConfig {
            internal_dns: spec.dhcp.internal_dns.clone(),
            external_dns: spec.dhcp.external_dns.clone(),
            domain_name: spec.dhcp.domain_name.clone(),
            ntp_servers: spec.dhcp.ntp_servers.clone(),
            ntp_by_offset: spec.dhcp.ntp_by_offset,
        },
        application: spec.application.clone(),
        extra_tags,
    }
}

/// Hostclasses with `ip_address` for environment `name` (with `@env` lookups).
fn static_ips(dir: &ConfigDir, name: &str) -> Result<Vec<StaticIpRequest>, CliError> {
    let aws = AwsIni::new(dir.optional_ini(files::DISCO_AWS)?, Some(name));
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for hc in aws.hostclasses() {
        let Some(v) = aws.hostclass_option(hc, "ip_address") else {
            continue;
        };
        if v.text.trim().is_empty() {
            continue;
        }
        let ips = match v.parse(syntax::parse_ip_addresses) {
            Ok(ips) => ips,
            Err(d) => {
                errors.push(d);
                continue;
            }
        };
        let net = match aws.hostclass_option(hc, "meta_network") {
            Some(m) => match m.parse(|t| t.trim().parse::<MetaNetworkName>()) {
                Ok(n) => n,
                Err(d) => {
                    errors.push(d);
                    continue;
                }
            },
            None => MetaNetworkName::Intranet,
        };
        for ip in ips {
            out.push(StaticIpRequest {
                hostclass: hc.to_string(),
                metanetwork: net,
                ip,
            });
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(usage_from(errors))
    }
}

fn peering_config(
    vpc_ini: &asiaq_config::VpcIni,
) -> Result<Vec<(syntax::PeeringEndpoint, syntax::PeeringEndpoint)>, CliError> {
    Ok(vpc_ini
        .peerings()
        .map_err(usage_from)?
        .into_iter()
        .map(|p| (p.a, p.b))
        .collect())
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

/// Prints the notes on stderr and, for a dry run, the plan on stdout in the one plan format
/// (text or the `asiaq.plan/1` JSON document).
fn print_plan(
    global: &GlobalArgs,
    command: &str,
    plan: &Plan,
    notes: &[String],
    dry_run: bool,
) -> Result<(), CliError> {
    crate::output::print_plan(global, command, plan, notes, dry_run)
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
                static_ips(&dir, name)?
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
                print_plan(global, "vpc create", plan, &prepared.outcome.notes, dry_run)?;
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
            let mut vpcs = env::observe::all_vpcs(&ctx).await?;
            vpcs.sort_by(|a, b| a.2.get("Name").cmp(&b.2.get("Name")).then(a.0.cmp(&b.0)));
            #[derive(Serialize)]
            struct Row {
                vpc_id: String,
                name: Option<String>,
                #[serde(rename = "type")]
                env_type: Option<String>,
                cidr: String,
            }
            let rows: Vec<Row> = vpcs
                .iter()
                .map(|(id, cidr, tags)| Row {
                    vpc_id: id.clone(),
                    name: tags.get("Name").cloned(),
                    env_type: tags.get("type").cloned(),
                    cidr: cidr.to_string(),
                })
                .collect();
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
                let static_ips = static_ips(&dir, &found.name)?;
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
                print_plan(global, "vpc update", plan, &prepared.outcome.notes, dry_run)?;
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
            let (mut list, vpcs) = futures_join(
                env::list_peerings(&ctx, vpc_id.as_deref()),
                env::observe::all_vpcs(&ctx),
            )
            .await?;
            let name = |id: &str| {
                vpcs.iter()
                    .find(|(v, _, _)| v == id)
                    .and_then(|(_, _, t)| t.get("Name").cloned())
                    .unwrap_or_else(|| id.to_string())
            };
            list.retain(|p| p.is_live() || p.status == "failed");
            list.sort_by_key(|p| name(&p.accepter_vpc_id));
            #[derive(Serialize)]
            struct Row {
                id: String,
                status: String,
                requester: String,
                accepter: String,
                requester_cidr: Option<String>,
                accepter_cidr: Option<String>,
            }
            let rows: Vec<Row> = list
                .iter()
                .map(|p| Row {
                    id: p.id.clone(),
                    status: p.status.clone(),
                    requester: name(&p.requester_vpc_id),
                    accepter: name(&p.accepter_vpc_id),
                    requester_cidr: p.requester_cidr.map(|c| c.to_string()),
                    accepter_cidr: p.accepter_cidr.map(|c| c.to_string()),
                })
                .collect();
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
            let notes: Vec<String> = prepared
                .not_owned
                .iter()
                .map(|id| format!("{id}: not made by asiaq (no {OWNER_TAG} tag), left alone"))
                .collect();
            let plan = prepared.plan;
            print_plan(global, "vpc peerings", &plan, &notes, args.dry_run)?;
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
                let peerings = plan
                    .steps
                    .iter()
                    .filter(|s| matches!(s.action, Action::DeletePeering { .. }))
                    .count();
                confirm(
                    global,
                    &format!("Delete {peerings} peering(s) {scope} and their routes?"),
                )?;
            }
            env::execute(&ctx, &plan, env::DEFAULT_CONCURRENCY)
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
            |name, env_type| {
                vpc_ini
                    .environment(name, env_type)
                    .map(|spec| env_config(&spec, Vec::new()))
                    .map_err(|diags| {
                        diags
                            .iter()
                            .map(|d| d.to_string())
                            .collect::<Vec<_>>()
                            .join("; ")
                    })
            },
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

async fn futures_join<A, B, E>(
    a: impl std::future::Future<Output = Result<A, E>>,
    b: impl std::future::Future<Output = Result<B, E>>,
) -> Result<(A, B), E> {
    let (a, b) = tokio::join!(a, b);
    Ok((a?, b?))
}

#[derive(Serialize)]
struct ShowSubnet {
    id: String,
    availability_zone: String,
    cidr: String,
    route_table: Option<String>,
    routes: Vec<String>,
}

#[derive(Serialize)]
struct ShowNet {
    name: MetaNetworkName,
    cidr: Option<String>,
    security_group: String,
    rules: Vec<String>,
    subnets: Vec<ShowSubnet>,
}

#[derive(Serialize)]
struct ShowEnv<'a> {
    vpc_id: &'a str,
    name: &'a str,
    #[serde(rename = "type")]
    env_type: Option<&'a str>,
    cidr: String,
    tags: &'a std::collections::BTreeMap<String, String>,
    metanetworks: Vec<ShowNet>,
    internet_gateways: Vec<String>,
    vpn_gateways: Vec<String>,
    nat_gateways: Vec<String>,
    peerings: Vec<String>,
    floating_interfaces: Vec<String>,
    dhcp_options: Vec<String>,
    endpoints: Vec<String>,
}

fn route_text(d: &ipnet::Ipv4Net, t: &RouteTarget) -> String {
    format!("{d} -> {t}")
}

fn show(
    global: &GlobalArgs,
    found: &asiaq_aws::ObservedEnvironment,
    state: &VpcState,
) -> Result<(), CliError> {
    let mut nets = Vec::new();
    for net in state.metanetworks() {
        let Some(sg) = state.security_group_of(net) else {
            continue;
        };
        let name_of = |id: &str| {
            state
                .security_groups
                .iter()
                .find(|g| g.id == id)
                .map(|g| g.name.clone())
                .unwrap_or_else(|| id.to_string())
        };
        let rules = sg
            .ingress
            .iter()
            .map(|p| {
                let mut p = p.clone();
                if let PermissionSource::Group(g) = &p.source {
                    p.source = PermissionSource::Group(name_of(g));
                }
                p.to_string()
            })
            .collect();
        let subnets = state
            .subnets_of(net)
            .into_iter()
            .map(|s| {
                let t = state.route_table_of_subnet(&s.id);
                ShowSubnet {
                    id: s.id.clone(),
                    availability_zone: s.availability_zone.clone(),
                    cidr: s.cidr.to_string(),
                    route_table: t.map(|t| t.id.clone()),
                    routes: t
                        .map(|t| {
                            t.routes
                                .iter()
                                .map(|r| route_text(&r.destination, &r.target))
                                .collect()
                        })
                        .unwrap_or_default(),
                }
            })
            .collect();
        nets.push(ShowNet {
            name: net,
            cidr: state.metanetwork_cidr(net).map(|c| c.to_string()),
            security_group: format!("{} ({})", sg.id, sg.name),
            rules,
            subnets,
        });
    }
    let out = ShowEnv {
        vpc_id: &found.vpc_id,
        name: &found.name,
        env_type: found.env_type.as_deref(),
        cidr: found.cidr.to_string(),
        tags: &found.tags,
        metanetworks: nets,
        internet_gateways: state
            .internet_gateways
            .iter()
            .map(|g| g.id.clone())
            .collect(),
        vpn_gateways: state.vpn_gateways.iter().map(|g| g.id.clone()).collect(),
        nat_gateways: state
            .nat_gateways
            .iter()
            .map(|n| {
                format!(
                    "{} {} in {} ({})",
                    n.id,
                    n.state,
                    n.subnet_id,
                    n.public_ips.join(",")
                )
            })
            .collect(),
        peerings: state
            .peerings
            .iter()
            .map(|p| {
                format!(
                    "{} {} {}<->{}",
                    p.id, p.status, p.requester_vpc_id, p.accepter_vpc_id
                )
            })
            .collect(),
        floating_interfaces: state
            .network_interfaces
            .iter()
            .filter(|e| e.is_floating())
            .map(|e| format!("{} {} in {}", e.id, e.private_ip, e.subnet_id))
            .collect(),
        dhcp_options: state
            .dhcp_options
            .iter()
            .filter(|d| state.vpc.as_ref().and_then(|v| v.dhcp_options_id.as_ref()) == Some(&d.id))
            .map(|d| {
                format!(
                    "{} {}",
                    d.id,
                    d.config
                        .iter()
                        .map(|(k, v)| format!("{k}={}", v.join(",")))
                        .collect::<Vec<_>>()
                        .join(" ")
                )
            })
            .collect(),
        endpoints: state
            .endpoints
            .iter()
            .map(|e| {
                format!(
                    "{} {} on {} route table(s)",
                    e.id,
                    e.service_name,
                    e.route_table_ids.len()
                )
            })
            .collect(),
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
        for n in &out.metanetworks {
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
        for (label, items) in [
            ("internet gateway", &out.internet_gateways),
            ("VPN gateway", &out.vpn_gateways),
            ("NAT gateway", &out.nat_gateways),
            ("peering", &out.peerings),
            ("floating interface", &out.floating_interfaces),
            ("DHCP options", &out.dhcp_options),
            ("endpoint", &out.endpoints),
        ] {
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
