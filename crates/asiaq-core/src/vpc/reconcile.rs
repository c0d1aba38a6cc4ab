//! `vpc create` and `vpc update` as one reconciliation: the desired environment (from
//! disco_vpc.ini) against what exists (nothing, for a create) gives a [`Plan`].
//!
//! Decisions (see the README's Decisions, "Environments"):
//! * Every metanetwork gets one route table per AZ subnet from the start (the original's
//!   "per-subnet mode"). Routing is the same as the original's centralized table for
//!   networks without NAT routes, and no table ever has to be switched when NAT gateways
//!   are added later.
//! * `update` never changes CIDRs and never adds or removes metanetworks (as the original);
//!   it reports configured metanetworks the VPC lacks.
//! * NAT gateways with dynamic EIPs are recognised by the EIP tag `dynamic=true` (or the
//!   original's subnet tag `dynonat`).
//! * Peerings no longer configured are deleted with their routes (the original raised
//!   "not implemented").

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use rand::Rng;
use serde::Serialize;
use thiserror::Error;

use super::peering::Connection;
use super::plan::{new_ref, Action, Plan, PlanBuilder, TagList};
use super::routes::diff_routes;
use super::state::{
    AddressInfo, GatewayInfo, Permission, PermissionSource, RouteTableInfo, RouteTarget, VpcState,
    OWNER_TAG,
};
use crate::network::{self, NetworkError};
use crate::plan::notifications::{notifications_plan, DesiredTopic, ObservedTopic, TopicAction};
use crate::sg_rules::{self, CustomerAccess, ObservedRule, RuleSource, SgRule, SgRuleError};
use crate::syntax::{MetaNetworkCidr, MetaNetworkName, NatGatewaySpec, SgRuleSpec, StaticIp};

/// How the VPC CIDR is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum VpcCidr {
    Static(Ipv4Net),
    Random { ip_space: Ipv4Net, size: u8 },
}

/// One metanetwork as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetConfig {
    pub name: MetaNetworkName,
    pub cidr: MetaNetworkCidr,
    pub sg_rules: Vec<SgRuleSpec>,
    pub igw_routes: Vec<Ipv4Net>,
    pub vgw_routes: Vec<Ipv4Net>,
    pub nat_gateways: NatGatewaySpec,
}

/// DHCP options as configured; NTP host names already resolved to addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DhcpConfig {
    pub internal_dns: Option<String>,
    pub external_dns: Option<String>,
    pub domain_name: Option<String>,
    pub ntp_servers: Vec<String>,
    pub ntp_by_offset: Option<(MetaNetworkName, StaticIp)>,
}

/// A hostclass with a static IP (`ip_address`), for its floating interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaticIpRequest {
    pub hostclass: String,
    pub metanetwork: MetaNetworkName,
    pub ip: StaticIp,
}

/// The environment as configured (disco_vpc.ini plus command-line tags).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvConfig {
    pub name: String,
    pub env_type: String,
    pub vpc_cidr: VpcCidr,
    pub nets: Vec<NetConfig>,
    pub customer: CustomerAccess,
    pub nat_gateway_routes: Vec<(MetaNetworkName, MetaNetworkName)>,
    pub dhcp: DhcpConfig,
    pub application: Option<String>,
    /// `--tag key:value` of `vpc create`.
    pub extra_tags: Vec<(String, String)>,
    /// The SNS topics of the environment's `[notifications]` (disco_alarms.ini), made and
    /// subscribed by create and update (spec §4.24).
    pub notifications: Vec<DesiredTopic>,
}

/// A VPC at the other end of a peering, as observed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeerVpc {
    pub vpc_id: String,
    pub name: String,
    /// Metanetwork CIDRs (from subnets).
    pub nets: BTreeMap<MetaNetworkName, Ipv4Net>,
    /// Route tables of the VPC, with their `meta_network` tags.
    pub route_tables: Vec<RouteTableInfo>,
}

impl PeerVpc {
    fn tables_of(&self, net: MetaNetworkName) -> Vec<&RouteTableInfo> {
        self.route_tables
            .iter()
            .filter(|t| VpcState::net_of(&t.tags) == Some(net))
            .collect()
    }
}

/// Peering inputs: the connections involving this VPC (this VPC's id is `${vpc}` while it
/// is being created) and the VPCs at their other ends.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PeeringInputs {
    pub connections: Vec<Connection>,
    pub peers: BTreeMap<String, PeerVpc>,
}

/// Everything else the planner needs, observed beforehand.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PlanContext {
    /// Availability zones of the region, in API order (the first 3 are used).
    pub zones: Vec<String>,
    /// The CIDR of every VPC in the region (for a random VPC CIDR).
    pub occupied: Vec<Ipv4Net>,
    /// UTC ISO time, the `create_date` tag.
    pub now: String,
    /// `com.amazonaws.<region>.s3`.
    pub s3_service_name: String,
    /// The VPN gateway tagged `Name=<env>`, if any.
    pub vpn_gateway: Option<GatewayInfo>,
    /// Elastic IPs named by static `<net>_nat_gateways`, by public IP.
    pub static_eips: BTreeMap<Ipv4Addr, AddressInfo>,
    /// Hostclasses with static IPs (empty with `--skip-enis`).
    pub static_ips: Vec<StaticIpRequest>,
    /// `None` skips peerings altogether.
    pub peering: Option<PeeringInputs>,
    /// The account's SNS topics (read only when the environment has notifications).
    pub topics: Vec<ObservedTopic>,
}

/// Why no plan can be made; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PlanError {
    #[error(transparent)]
    Network(#[from] NetworkError),
    #[error(transparent)]
    SgRules(#[from] SgRuleError),
    #[error("{net}_nat_gateways lists {eips} elastic IP(s) but {net} has {subnets} subnet(s); give one per subnet")]
    NatEipCount {
        net: MetaNetworkName,
        eips: usize,
        subnets: usize,
    },
    #[error("{net}_nat_gateways: elastic IP {ip} is not allocated in this account and region")]
    UnknownEip { net: MetaNetworkName, ip: Ipv4Addr },
    #[error("{net} uses one route table for several subnets (made by the original tool); per-AZ NAT routes need one table per subnet. Recreate the environment with asiaq, or give each subnet its own table")]
    SharedRouteTable { net: MetaNetworkName },
}

/// A plan plus remarks worth showing (things skipped and why).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PlanOutcome {
    pub plan: Plan,
    pub notes: Vec<String>,
    /// The VPC CIDR (chosen now for a create).
    pub vpc_cidr: Option<Ipv4Net>,
}

/// Route table of one subnet in the desired layout.
#[derive(Debug, Clone)]
struct SubnetSlot {
    az: String,
    cidr: Ipv4Net,
    subnet: String,
    route_table: String,
    /// The table is shared with other subnets (original's centralized mode).
    shared_table: bool,
}

fn tag(k: &str, v: &str) -> (String, String) {
    (k.to_string(), v.to_string())
}

fn merged(base: &TagList, extra: &[(String, String)]) -> TagList {
    let mut out: TagList = base
        .iter()
        .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k))
        .cloned()
        .collect();
    out.extend(extra.iter().cloned());
    out
}

/// The VPC tags of a new environment: `Name`, `type`, `create_date`, `application`, the
/// `--tag`s and the ownership tag.
pub fn vpc_tags(cfg: &EnvConfig, now: &str) -> TagList {
    let mut tags = vec![
        tag("Name", &cfg.name),
        tag("type", &cfg.env_type),
        tag("create_date", now),
    ];
    if let Some(app) = &cfg.application {
        tags.push(tag("application", app));
    }
    for (k, v) in &cfg.extra_tags {
        tags.retain(|(x, _)| x != k);
        tags.push((k.clone(), v.clone()));
    }
    tags.retain(|(k, _)| k != OWNER_TAG);
    tags.push(tag(OWNER_TAG, &cfg.name));
    tags
}

fn to_permission(r: &SgRule) -> Permission {
    Permission {
        protocol: r.protocol.clone(),
        from_port: Some(r.from_port),
        to_port: Some(r.to_port),
        source: match &r.source {
            RuleSource::Sg(g) => PermissionSource::Group(g.clone()),
            RuleSource::Cidr(c) => PermissionSource::Cidr(c.to_string()),
        },
    }
}

fn to_observed(group: &str, p: &Permission) -> Option<ObservedRule> {
    Some(ObservedRule {
        target_sg: group.to_string(),
        protocol: p.protocol.clone(),
        from_port: p.from_port,
        to_port: p.to_port,
        source: match &p.source {
            PermissionSource::Group(g) => RuleSource::Sg(g.clone()),
            PermissionSource::Cidr(c) => RuleSource::Cidr(c.parse().ok()?),
        },
    })
}

/// The DHCP configuration map (`domain-name`, `domain-name-servers`, `ntp-servers`).
pub fn dhcp_map(
    dhcp: &DhcpConfig,
    net_subnets: &BTreeMap<MetaNetworkName, Vec<Ipv4Net>>,
) -> Result<BTreeMap<String, Vec<String>>, PlanError> {
    let mut out = BTreeMap::new();
    if let Some(d) = &dhcp.domain_name {
        out.insert("domain-name".to_string(), vec![d.clone()]);
    }
    let dns: Vec<String> = [&dhcp.internal_dns, &dhcp.external_dns]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    if !dns.is_empty() {
        out.insert("domain-name-servers".to_string(), dns);
    }
    let ntp = if !dhcp.ntp_servers.is_empty() {
        dhcp.ntp_servers.clone()
    } else if let Some((net, ip)) = dhcp.ntp_by_offset {
        let subnets = net_subnets.get(&net).cloned().unwrap_or_default();
        vec![network::resolve_static_ip(&subnets, ip)?.to_string()]
    } else {
        Vec::new()
    };
    if !ntp.is_empty() {
        out.insert("ntp-servers".to_string(), ntp);
    }
    Ok(out)
}

/// Plans `vpc create` (when `state.vpc` is `None`) or `vpc update`.
pub fn plan_environment<R: Rng + ?Sized>(
    cfg: &EnvConfig,
    state: &VpcState,
    ctx: &PlanContext,
    rng: &mut R,
) -> Result<PlanOutcome, PlanError> {
    let mut b = PlanBuilder::new();
    let mut notes = Vec::new();
    let creating = state.vpc.is_none();
    let env = cfg.name.as_str();

    // --- VPC ------------------------------------------------------------------------
    let base_tags: TagList = match &state.vpc {
        None => vpc_tags(cfg, &ctx.now),
        Some(v) => {
            let mut t: TagList = v
                .tags
                .iter()
                .filter(|(k, _)| !k.starts_with("aws:"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if !t.iter().any(|(k, _)| k == OWNER_TAG) {
                t.push(tag(OWNER_TAG, env));
            }
            t
        }
    };
    let (vpc, vpc_cidr) = match &state.vpc {
        Some(v) => (v.id.clone(), v.cidr),
        None => {
            let cidr = match cfg.vpc_cidr {
                VpcCidr::Static(c) => c,
                VpcCidr::Random { ip_space, size } => {
                    network::choose_vpc_cidr(None, Some(ip_space), Some(size), &ctx.occupied, rng)?
                }
            };
            b.add(
                Action::CreateVpc {
                    key: "vpc".into(),
                    cidr: cidr.to_string(),
                    tags: base_tags.clone(),
                },
                &[],
            );
            b.add(
                Action::EnableDnsSupport {
                    vpc: new_ref("vpc"),
                },
                &[],
            );
            b.add(
                Action::EnableDnsHostnames {
                    vpc: new_ref("vpc"),
                },
                &[],
            );
            (new_ref("vpc"), cidr)
        }
    };

    // --- Metanetworks: security groups, subnets, route tables ------------------------
    let mut sg_ids: BTreeMap<MetaNetworkName, String> = BTreeMap::new();
    let mut slots: BTreeMap<MetaNetworkName, Vec<SubnetSlot>> = BTreeMap::new();
    let nets: Vec<&NetConfig> = if creating {
        cfg.nets.iter().collect()
    } else {
        let present = state.metanetworks();
        for n in &cfg.nets {
            if !present.contains(&n.name) {
                notes.push(format!(
                    "{} is configured but the VPC has no {} metanetwork; update does not add metanetworks (recreate the environment to get it)",
                    n.name, n.name
                ));
            }
        }
        for p in &present {
            if !cfg.nets.iter().any(|n| n.name == *p) {
                notes.push(format!(
                    "the VPC has a {p} metanetwork that disco_vpc.ini does not configure; it is left as it is"
                ));
            }
        }
        cfg.nets
            .iter()
            .filter(|n| present.contains(&n.name))
            .collect()
    };
    if creating {
        let configured: BTreeMap<MetaNetworkName, MetaNetworkCidr> =
            cfg.nets.iter().map(|n| (n.name, n.cidr)).collect();
        let cidrs = network::metanetwork_cidrs(vpc_cidr, &configured, rng)?;
        for n in &nets {
            let net = n.name.as_str();
            let sg_key = format!("sg:{net}");
            b.add(
                Action::CreateSecurityGroup {
                    key: sg_key.clone(),
                    vpc: vpc.clone(),
                    name: format!("{env}_{net}"),
                    description: n.name.sg_description().to_string(),
                    tags: merged(
                        &vec![tag(OWNER_TAG, env)],
                        &[
                            tag("Name", &format!("{env}_{net}")),
                            tag("meta_network", net),
                        ],
                    ),
                },
                &[],
            );
            sg_ids.insert(n.name, new_ref(&sg_key));
            let mut v = Vec::new();
            for (az, cidr) in network::az_subnets(cidrs[&n.name], &ctx.zones)? {
                let sub_tags = merged(
                    &base_tags,
                    &[
                        tag("Name", &format!("{env}_{net}_{az}")),
                        tag("meta_network", net),
                        tag("subnet", &az),
                    ],
                );
                let sk = format!("subnet:{net}:{az}");
                let rk = format!("rt:{net}:{az}");
                b.add(
                    Action::CreateSubnet {
                        key: sk.clone(),
                        vpc: vpc.clone(),
                        cidr: cidr.to_string(),
                        availability_zone: az.clone(),
                        tags: sub_tags.clone(),
                    },
                    &[],
                );
                b.add(
                    Action::CreateRouteTable {
                        key: rk.clone(),
                        vpc: vpc.clone(),
                        tags: sub_tags,
                    },
                    &[],
                );
                b.add(
                    Action::AssociateRouteTable {
                        route_table: new_ref(&rk),
                        subnet: new_ref(&sk),
                    },
                    &[],
                );
                v.push(SubnetSlot {
                    az,
                    cidr,
                    subnet: new_ref(&sk),
                    route_table: new_ref(&rk),
                    shared_table: false,
                });
            }
            slots.insert(n.name, v);
        }
    } else {
        for net in state.metanetworks() {
            if let Some(g) = state.security_group_of(net) {
                sg_ids.insert(net, g.id.clone());
            }
            let subnets = state.subnets_of(net);
            let v = subnets
                .iter()
                .filter_map(|s| {
                    let t = state.route_table_of_subnet(&s.id)?;
                    let shared = t.main
                        || state
                            .subnets
                            .iter()
                            .filter(|o| {
                                o.id != s.id
                                    && state.route_table_of_subnet(&o.id).map(|x| &x.id)
                                        == Some(&t.id)
                            })
                            .count()
                            > 0;
                    Some(SubnetSlot {
                        az: s.availability_zone.clone(),
                        cidr: s.cidr,
                        subnet: s.id.clone(),
                        route_table: t.id.clone(),
                        shared_table: shared,
                    })
                })
                .collect();
            slots.insert(net, v);
        }
    }
    let net_subnets: BTreeMap<MetaNetworkName, Vec<Ipv4Net>> = slots
        .iter()
        .map(|(n, v)| (*n, v.iter().map(|s| s.cidr).collect()))
        .collect();

    // --- DHCP options -----------------------------------------------------------------
    let want_dhcp = dhcp_map(&cfg.dhcp, &net_subnets)?;
    let current_dhcp = state
        .vpc
        .as_ref()
        .and_then(|v| v.dhcp_options_id.as_ref())
        .and_then(|id| state.dhcp_options.iter().find(|d| &d.id == id));
    if !want_dhcp.is_empty() && current_dhcp.map(|d| &d.config) != Some(&want_dhcp) {
        b.add(
            Action::CreateDhcpOptions {
                key: "dhcp".into(),
                config: want_dhcp,
                tags: vec![tag("Name", env), tag(OWNER_TAG, env)],
            },
            &[],
        );
        let assoc = b.add(
            Action::AssociateDhcpOptions {
                dhcp_options: new_ref("dhcp"),
                vpc: vpc.clone(),
            },
            &[],
        );
        if let Some(old) = current_dhcp {
            if old.tags.get("Name").map(String::as_str) == Some(env) {
                b.add(
                    Action::DeleteDhcpOptions {
                        dhcp_options: old.id.clone(),
                    },
                    &[assoc],
                );
            }
        }
    }

    // --- Floating interfaces for static IPs --------------------------------------------
    for req in &ctx.static_ips {
        let Some(v) = slots.get(&req.metanetwork) else {
            notes.push(format!(
                "{}: no floating interface, this environment has no {} metanetwork",
                req.hostclass, req.metanetwork
            ));
            continue;
        };
        let cidrs: Vec<Ipv4Net> = v.iter().map(|s| s.cidr).collect();
        let ip = match network::resolve_static_ip(&cidrs, req.ip) {
            Ok(ip) => ip,
            Err(e) => {
                notes.push(format!(
                    "{}: no floating interface for ip_address {}: {e}",
                    req.hostclass, req.ip
                ));
                continue;
            }
        };
        let Some(slot) = v.iter().find(|s| s.cidr.contains(&ip)) else {
            notes.push(format!(
                "{}: no floating interface, {ip} is not in a subnet of {}",
                req.hostclass, req.metanetwork
            ));
            continue;
        };
        if state
            .network_interfaces
            .iter()
            .any(|e| e.private_ip == ip.to_string())
        {
            continue;
        }
        let net = req.metanetwork.as_str();
        b.add(
            Action::CreateNetworkInterface {
                key: format!("eni:{}:{ip}", req.hostclass),
                subnet: slot.subnet.clone(),
                private_ip: ip.to_string(),
                security_group: sg_ids[&req.metanetwork].clone(),
                description: "floating interface".into(),
                tags: vec![
                    tag("Name", &format!("{env}_{net}_{}", req.hostclass)),
                    tag("hostclass", &req.hostclass),
                    tag("meta_network", net),
                    tag(OWNER_TAG, env),
                ],
            },
            &[],
        );
    }

    // --- Security-group rules ---------------------------------------------------------
    for n in &nets {
        let Some(group) = sg_ids.get(&n.name) else {
            continue;
        };
        let desired = sg_rules::expand_sg_rules(n.name, &n.sg_rules, &sg_ids, &cfg.customer)?;
        let current: Vec<ObservedRule> = state
            .security_group_of(n.name)
            .map(|g| {
                g.ingress
                    .iter()
                    .filter_map(|p| to_observed(&g.id, p))
                    .collect()
            })
            .unwrap_or_default();
        let diff = sg_rules::diff_sg_rules(&desired, &current);
        if !diff.to_add.is_empty() {
            b.add(
                Action::AuthorizeIngress {
                    group: group.clone(),
                    permissions: diff.to_add.iter().map(to_permission).collect(),
                },
                &[],
            );
        }
        if !diff.to_revoke.is_empty() {
            b.add(
                Action::RevokeIngress {
                    group: group.clone(),
                    permissions: diff.to_revoke.iter().map(to_permission).collect(),
                },
                &[],
            );
        }
    }

    // --- Internet gateway -------------------------------------------------------------
    let attached_igw = state.vpc_id().and_then(|id| {
        state
            .internet_gateways
            .iter()
            .find(|g| g.attachments.iter().any(|(v, _)| v == id))
    });
    let (igw, igw_ready) = match attached_igw {
        Some(g) => (g.id.clone(), None),
        None => {
            b.add(
                Action::CreateInternetGateway {
                    key: "igw".into(),
                    tags: vec![tag("Name", env), tag(OWNER_TAG, env)],
                },
                &[],
            );
            let attach = b.add(
                Action::AttachInternetGateway {
                    gateway: new_ref("igw"),
                    vpc: vpc.clone(),
                },
                &[],
            );
            (new_ref("igw"), Some(attach))
        }
    };

    // --- VPN gateway --------------------------------------------------------------------
    let mut vgw: Option<(String, Option<usize>)> = None;
    let wants_vgw = nets.iter().any(|n| !n.vgw_routes.is_empty());
    match &ctx.vpn_gateway {
        Some(g) => {
            let here = state.vpc_id().is_some_and(|id| {
                g.attachments
                    .iter()
                    .any(|(v, s)| v == id && (s == "attached" || s == "attaching"))
            });
            if here {
                vgw = Some((g.id.clone(), None));
            } else {
                let mut after = Vec::new();
                for (other, s) in &g.attachments {
                    if s == "attached" || s == "attaching" {
                        after.push(b.add(
                            Action::DetachVpnGateway {
                                gateway: g.id.clone(),
                                vpc: other.clone(),
                            },
                            &[],
                        ));
                    }
                }
                let attach = b.add(
                    Action::AttachVpnGateway {
                        gateway: g.id.clone(),
                        vpc: vpc.clone(),
                    },
                    &after,
                );
                vgw = Some((g.id.clone(), Some(attach)));
            }
        }
        None if wants_vgw => notes.push(format!(
            "no VPN gateway is tagged Name={env}: the *_vgw_routes are skipped"
        )),
        None => {}
    }

    // --- NAT gateways -----------------------------------------------------------------
    let nat_cfg: Vec<(MetaNetworkName, &NatGatewaySpec)> =
        nets.iter().map(|n| (n.name, &n.nat_gateways)).collect();
    let nat = plan_nat(
        env,
        &base_tags,
        &nat_cfg,
        &slots,
        state,
        &ctx.static_eips,
        &mut b,
    )?;

    // --- Peerings: create the missing ones ----------------------------------------------
    let mut pcx_of: BTreeMap<String, String> = BTreeMap::new();
    let mut peering_deletes: Vec<(String, String)> = Vec::new();
    if let Some(p) = &ctx.peering {
        let me = state
            .vpc_id()
            .map(str::to_string)
            .unwrap_or_else(|| new_ref("vpc"));
        let mut others: BTreeSet<String> = BTreeSet::new();
        for c in &p.connections {
            if let Some((_, o)) = c.sides(&me) {
                others.insert(o.vpc_id.clone());
            }
        }
        let live: Vec<_> = state.peerings.iter().filter(|x| x.is_live()).collect();
        for o in &others {
            if let Some(x) = live.iter().find(|x| x.other(&me) == o) {
                pcx_of.insert(o.clone(), x.id.clone());
            } else {
                let key = format!("pcx:{o}");
                let peer_name = p.peers.get(o).map(|v| v.name.clone()).unwrap_or_default();
                b.add(
                    Action::CreatePeering {
                        key: key.clone(),
                        requester_vpc: me.clone(),
                        accepter_vpc: o.clone(),
                        description: format!("{env} <-> {peer_name}"),
                        tags: vec![
                            tag("Name", &format!("{env}-{peer_name}")),
                            tag(OWNER_TAG, env),
                        ],
                    },
                    &[],
                );
                pcx_of.insert(o.clone(), new_ref(&key));
            }
        }
        for x in live {
            let o = x.other(&me).to_string();
            if !others.contains(&o) {
                peering_deletes.push((x.id.clone(), o));
            }
        }
    }

    // --- Routes of this VPC's tables ------------------------------------------------------
    let mut route_steps = Vec::new();
    let mut done_tables: BTreeSet<String> = BTreeSet::new();
    let nat_sources: BTreeMap<MetaNetworkName, MetaNetworkName> =
        cfg.nat_gateway_routes.iter().copied().collect();
    for n in &nets {
        let Some(v) = slots.get(&n.name) else {
            continue;
        };
        for slot in v {
            let mut desired: Vec<(Ipv4Net, RouteTarget)> = Vec::new();
            let mut after: Vec<usize> = Vec::new();
            for c in &n.igw_routes {
                desired.push((*c, RouteTarget::Gateway(igw.clone())));
            }
            after.extend(igw_ready);
            if let Some((g, attach)) = &vgw {
                for c in &n.vgw_routes {
                    desired.push((*c, RouteTarget::Gateway(g.clone())));
                }
                after.extend(attach);
            }
            if let Some(p) = &ctx.peering {
                let me = state
                    .vpc_id()
                    .map(str::to_string)
                    .unwrap_or_else(|| new_ref("vpc"));
                for c in &p.connections {
                    let Some((mine, other)) = c.sides(&me) else {
                        continue;
                    };
                    if mine.metanetwork != n.name {
                        continue;
                    }
                    if let (Some(cidr), Some(pcx)) = (
                        p.peers
                            .get(&other.vpc_id)
                            .and_then(|pv| pv.nets.get(&other.metanetwork)),
                        pcx_of.get(&other.vpc_id),
                    ) {
                        desired.push((*cidr, RouteTarget::Peering(pcx.clone())));
                    }
                }
            }
            if let Some(dest) = nat_sources.get(&n.name) {
                if let Some(target) = nat.target_for(*dest, &slot.az) {
                    if slot.shared_table {
                        return Err(PlanError::SharedRouteTable { net: n.name });
                    }
                    desired.push((
                        // 0.0.0.0/0, the default route.
                        Ipv4Net::default(),
                        RouteTarget::NatGateway(target),
                    ));
                }
            }
            if !done_tables.insert(slot.route_table.clone()) {
                continue;
            }
            let current: Vec<(Ipv4Net, RouteTarget)> = state
                .route_tables
                .iter()
                .find(|t| t.id == slot.route_table)
                .map(|t| {
                    t.routes
                        .iter()
                        .map(|r| (r.destination, r.target.clone()))
                        .collect()
                })
                .unwrap_or_default();
            let diff = diff_routes(&current, &desired);
            for d in diff.delete {
                route_steps.push(b.add(
                    Action::DeleteRoute {
                        route_table: slot.route_table.clone(),
                        destination: d.to_string(),
                    },
                    &[],
                ));
            }
            for (d, t) in diff.replace {
                route_steps.push(b.add(
                    Action::ReplaceRoute {
                        route_table: slot.route_table.clone(),
                        destination: d.to_string(),
                        target: t,
                    },
                    &after,
                ));
            }
            for (d, t) in diff.create {
                route_steps.push(b.add(
                    Action::CreateRoute {
                        route_table: slot.route_table.clone(),
                        destination: d.to_string(),
                        target: t,
                    },
                    &after,
                ));
            }
        }
    }

    // --- Routes on the peers' side, and peerings to delete ---------------------------------
    if let Some(p) = &ctx.peering {
        let me = state
            .vpc_id()
            .map(str::to_string)
            .unwrap_or_else(|| new_ref("vpc"));
        for c in &p.connections {
            let Some((mine, other)) = c.sides(&me) else {
                continue;
            };
            let (Some(peer), Some(pcx)) = (p.peers.get(&other.vpc_id), pcx_of.get(&other.vpc_id))
            else {
                continue;
            };
            let Some(my_cidr) = slots.get(&mine.metanetwork).and_then(|v| {
                network::metanetwork_cidr_from_subnets(
                    &v.iter().map(|s| s.cidr).collect::<Vec<_>>(),
                )
            }) else {
                continue;
            };
            for t in peer.tables_of(other.metanetwork) {
                match t.routes.iter().find(|r| r.destination == my_cidr) {
                    Some(r) if r.target == RouteTarget::Peering(pcx.clone()) => {}
                    Some(_) => {
                        b.add(
                            Action::ReplaceRoute {
                                route_table: t.id.clone(),
                                destination: my_cidr.to_string(),
                                target: RouteTarget::Peering(pcx.clone()),
                            },
                            &[],
                        );
                    }
                    None => {
                        b.add(
                            Action::CreateRoute {
                                route_table: t.id.clone(),
                                destination: my_cidr.to_string(),
                                target: RouteTarget::Peering(pcx.clone()),
                            },
                            &[],
                        );
                    }
                }
            }
        }
        for (pcx, other) in &peering_deletes {
            let mut after = route_steps.clone();
            if let Some(peer) = p.peers.get(other) {
                for t in &peer.route_tables {
                    for r in &t.routes {
                        if r.target == RouteTarget::Peering(pcx.clone()) {
                            after.push(b.add(
                                Action::DeleteRoute {
                                    route_table: t.id.clone(),
                                    destination: r.destination.to_string(),
                                },
                                &[],
                            ));
                        }
                    }
                }
            }
            b.add(
                Action::DeletePeering {
                    peering: pcx.clone(),
                },
                &after,
            );
        }
    }

    // --- NAT gateways no longer wanted go after the routes stop using them -----------------
    for (id, release) in nat.deletes {
        let del = b.add(Action::DeleteNatGateway { nat_gateway: id }, &route_steps);
        for (alloc, ip) in release {
            b.add(
                Action::ReleaseAddress {
                    allocation_id: alloc,
                    public_ip: ip,
                },
                &[del],
            );
        }
    }

    // --- S3 gateway endpoint on every route table --------------------------------------
    // Every table that routes a subnet (the main table routes none: each subnet has its own).
    let mut tables: Vec<String> = state
        .route_tables
        .iter()
        .filter(|t| !t.main)
        .map(|t| t.id.clone())
        .collect();
    for v in slots.values() {
        for s in v {
            if !tables.contains(&s.route_table) {
                tables.push(s.route_table.clone());
            }
        }
    }
    match state.endpoints.iter().find(|e| {
        e.service_name == ctx.s3_service_name && e.state != "deleted" && e.state != "deleting"
    }) {
        None => {
            b.add(
                Action::CreateVpcEndpoint {
                    key: "endpoint:s3".into(),
                    vpc: vpc.clone(),
                    service_name: ctx.s3_service_name.clone(),
                    route_tables: tables,
                    tags: vec![tag("Name", &format!("{env}_s3")), tag(OWNER_TAG, env)],
                },
                &[],
            );
        }
        Some(e) => {
            let add: Vec<String> = tables
                .iter()
                .filter(|t| !e.route_table_ids.contains(t))
                .cloned()
                .collect();
            let remove: Vec<String> = e
                .route_table_ids
                .iter()
                .filter(|t| !tables.contains(t))
                .cloned()
                .collect();
            if !add.is_empty() || !remove.is_empty() {
                b.add(
                    Action::ModifyVpcEndpoint {
                        endpoint: e.id.clone(),
                        add_route_tables: add,
                        remove_route_tables: remove,
                    },
                    &[],
                );
            }
        }
    }

    // --- SNS notifications (independent of the network) ------------------------------
    if !cfg.notifications.is_empty() {
        for step in notifications_plan(&cfg.notifications, &ctx.topics, env, false).steps {
            let action = match step.action {
                TopicAction::CreateTopic { key, name } => Action::CreateTopic { key, name },
                TopicAction::Subscribe {
                    topic,
                    topic_arn,
                    protocol,
                    endpoint,
                } => Action::Subscribe {
                    topic,
                    topic_arn,
                    protocol,
                    endpoint,
                },
                TopicAction::Unsubscribe { .. } | TopicAction::DeleteTopic { .. } => continue,
            };
            b.add(action, &[]);
        }
    }

    Ok(PlanOutcome {
        plan: b.build(),
        notes,
        vpc_cidr: Some(vpc_cidr),
    })
}

/// NAT gateways of the plan: the id (or `${key}`) of each metanetwork's NAT per AZ, and
/// the NAT gateways to delete with the dynamic EIPs to release after them.
#[derive(Debug, Default)]
pub struct NatPlan {
    pub by_net_az: BTreeMap<(MetaNetworkName, String), String>,
    /// `(nat id, [(allocation id, public ip)] to release after it is deleted)`.
    pub deletes: Vec<(String, Vec<(String, String)>)>,
}

impl NatPlan {
    /// The NAT that `dest`'s subnet in `az` routes through (the first AZ's, if `dest` has
    /// none in that AZ).
    pub fn target_for(&self, dest: MetaNetworkName, az: &str) -> Option<String> {
        self.by_net_az
            .get(&(dest, az.to_string()))
            .cloned()
            .or_else(|| {
                self.by_net_az
                    .iter()
                    .find(|((n, _), _)| *n == dest)
                    .map(|(_, id)| id.clone())
            })
    }
}

/// NAT gateways (spec §4.5 "NAT"): per metanetwork and subnet, keep, create (with a new
/// dynamic EIP for `auto`) or delete.
fn plan_nat(
    env: &str,
    base_tags: &TagList,
    nets: &[(MetaNetworkName, &NatGatewaySpec)],
    slots: &BTreeMap<MetaNetworkName, Vec<SubnetSlot>>,
    state: &VpcState,
    static_eips: &BTreeMap<Ipv4Addr, AddressInfo>,
    b: &mut PlanBuilder,
) -> Result<NatPlan, PlanError> {
    let mut out = NatPlan::default();
    let address = |alloc: &str| state.addresses.iter().find(|a| a.allocation_id == alloc);
    let is_dynamic = |nat: &super::state::NatGatewayInfo| {
        nat.allocation_ids
            .iter()
            .any(|a| address(a).is_some_and(AddressInfo::is_dynamic))
            || state
                .subnets
                .iter()
                .any(|s| s.id == nat.subnet_id && s.tags.contains_key("dynonat"))
    };
    let releases = |nat: &super::state::NatGatewayInfo| -> Vec<(String, String)> {
        nat.allocation_ids
            .iter()
            .filter_map(|a| address(a))
            .filter(|a| a.is_dynamic())
            .map(|a| (a.allocation_id.clone(), a.public_ip.clone()))
            .collect()
    };
    for (net, spec) in nets {
        let Some(v) = slots.get(net) else { continue };
        if let NatGatewaySpec::Static(ips) = spec {
            if ips.len() != v.len() {
                return Err(PlanError::NatEipCount {
                    net: *net,
                    eips: ips.len(),
                    subnets: v.len(),
                });
            }
        }
        for (i, slot) in v.iter().enumerate() {
            let existing: Vec<_> = state
                .nat_gateways
                .iter()
                .filter(|g| g.subnet_id == slot.subnet && g.is_live())
                .collect();
            let n = net.as_str();
            let az = &slot.az;
            let nat_tags = merged(
                base_tags,
                &[
                    tag("Name", &format!("{env}_{n}_{az}")),
                    tag("meta_network", n),
                    tag("subnet", az),
                ],
            );
            let nat_key = format!("nat:{n}:{az}");
            match spec {
                NatGatewaySpec::None => {
                    for g in existing {
                        out.deletes.push((g.id.clone(), releases(g)));
                    }
                }
                NatGatewaySpec::Auto => {
                    if let Some(keep) = existing.iter().find(|g| is_dynamic(g)) {
                        out.by_net_az.insert((*net, az.clone()), keep.id.clone());
                        for g in existing.iter().filter(|g| g.id != keep.id) {
                            out.deletes.push((g.id.clone(), releases(g)));
                        }
                        continue;
                    }
                    for g in &existing {
                        out.deletes.push((g.id.clone(), releases(g)));
                    }
                    let eip_key = format!("eip:{n}:{az}");
                    b.add(
                        Action::AllocateAddress {
                            key: eip_key.clone(),
                            tags: vec![
                                tag("Name", &format!("{env}_{n}_{az}")),
                                tag("dynamic", "true"),
                                tag(OWNER_TAG, env),
                            ],
                        },
                        &[],
                    );
                    b.add(
                        Action::CreateNatGateway {
                            key: nat_key.clone(),
                            subnet: slot.subnet.clone(),
                            allocation_id: new_ref(&eip_key),
                            tags: nat_tags,
                        },
                        &[],
                    );
                    out.by_net_az.insert((*net, az.clone()), new_ref(&nat_key));
                }
                NatGatewaySpec::Static(ips) => {
                    let ip = ips[i];
                    let eip = static_eips
                        .get(&ip)
                        .ok_or(PlanError::UnknownEip { net: *net, ip })?;
                    if let Some(keep) = existing
                        .iter()
                        .find(|g| g.allocation_ids.contains(&eip.allocation_id))
                    {
                        out.by_net_az.insert((*net, az.clone()), keep.id.clone());
                        for g in existing.iter().filter(|g| g.id != keep.id) {
                            out.deletes.push((g.id.clone(), releases(g)));
                        }
                        continue;
                    }
                    for g in &existing {
                        out.deletes.push((g.id.clone(), releases(g)));
                    }
                    b.add(
                        Action::CreateNatGateway {
                            key: nat_key.clone(),
                            subnet: slot.subnet.clone(),
                            allocation_id: eip.allocation_id.clone(),
                            tags: nat_tags,
                        },
                        &[],
                    );
                    out.by_net_az.insert((*net, az.clone()), new_ref(&nat_key));
                }
            }
        }
    }
    Ok(out)
}
