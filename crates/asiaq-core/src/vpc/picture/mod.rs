//! A picture of an environment (`vpc show --format html|svg|dot`): what is observed of it,
//! arranged as the environment is built, metanetworks as rows and availability zones as
//! columns, with the hosts, load balancers and floating interfaces of each metanetwork,
//! the route targets of each row, and the security-group rules as arrows between rows and
//! from outside sources. With `--diff`, what `vpc update` would change is marked.
//!
//! [`Picture::new`] computes the model from observed state (pure); [`svg`] and [`dot`]
//! render it.

mod dot;
mod svg;

pub use dot::dot;
pub use svg::{char_width, html, svg, SvgLayout, WIDTH};

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::state::{PermissionSource, RouteTarget, VpcState};
use crate::plan::{Plan, PlanAction};
use crate::syntax::MetaNetworkName;

/// An autoscaling group of the environment, as observed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HostGroup {
    pub name: String,
    pub hostclass: String,
    pub min: i32,
    pub desired: i32,
    pub max: i32,
    /// Instances in service or on their way.
    pub instances: usize,
    pub instance_type: Option<String>,
    pub ami: Option<String>,
    /// The AMI's `stage` tag.
    pub stage: Option<String>,
    pub subnet_ids: Vec<String>,
    /// Classic load balancers (by id) the group is attached to.
    pub load_balancers: Vec<String>,
}

/// A load balancer of the environment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LoadBalancer {
    /// The human name, `<env>-<hostclass>[-test]`.
    pub name: String,
    /// Its id (the LoadBalancerName).
    pub id: String,
    pub dns_name: String,
    /// DNS names pointing at it.
    pub cnames: Vec<String>,
    /// Its subnets (which place it in a metanetwork).
    pub subnet_ids: Vec<String>,
}

/// What the picture is drawn from, besides the environment's network state.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub env_type: Option<String>,
    /// Subnet id → available addresses.
    pub free_ips: BTreeMap<String, u32>,
    pub groups: Vec<HostGroup>,
    pub load_balancers: Vec<LoadBalancer>,
    /// VPC id → (name, CIDR) of the peer environments.
    pub peers: BTreeMap<String, (String, String)>,
    /// With `--diff`: the steps `vpc update --dry-run` prints.
    pub changes: Option<Vec<PendingChange>>,
}

/// A step of the plan `vpc update` would run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingChange {
    /// `+`, `~` or `-`.
    pub sign: String,
    /// The resource it changes, `kind name` (the name holds its id when it exists).
    pub resource: String,
    pub text: String,
}

/// One subnet, in its metanetwork's row and its zone's column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cell {
    pub subnet_id: String,
    pub cidr: String,
    pub free_ips: Option<u32>,
    /// `(nat-…, 203.0.113.7)` when a NAT gateway lives in the subnet.
    pub nat: Option<(String, String)>,
    /// A pending change names the subnet.
    pub changed: bool,
}

/// A metanetwork.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub net: MetaNetworkName,
    pub cidr: String,
    /// `sg-… (name)`.
    pub security_group: String,
    /// Where its traffic goes, one line per target: internet gateway, NAT gateways, VPN
    /// gateway, peerings.
    pub targets: Vec<String>,
    /// One per zone column; `None` where the metanetwork has no subnet in that zone.
    pub cells: Vec<Option<Cell>>,
    /// One line per group: `group hostclass min/desired/max (n running) type ami stage`.
    pub hosts: Vec<String>,
    /// One line per load balancer: `name id -> cnames`.
    pub load_balancers: Vec<String>,
    /// `eni-… 10.0.0.5`.
    pub floating: Vec<String>,
    /// Rules its security group allows from itself.
    pub self_rules: Vec<String>,
    /// Some rule lets the whole internet (`0.0.0.0/0`) in.
    pub open_to_internet: bool,
    /// A pending change names its security group, a route table or a subnet of it.
    pub changed: bool,
}

/// Where an arrow starts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum From {
    /// Another metanetwork (its row index).
    Row(usize),
    /// A CIDR outside the environment (index into [`Picture::sources`]).
    Source(usize),
}

/// The rules that let one source into one metanetwork.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Arrow {
    pub from: From,
    /// Row index.
    pub to: usize,
    /// `tcp 22, tcp 443`.
    pub label: String,
    pub internet: bool,
}

/// A source of traffic outside the environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    pub cidr: String,
    /// `internet` for `0.0.0.0/0`, the peer environment's name for a peer's CIDR.
    pub label: String,
    pub internet: bool,
}

/// The picture of one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Picture {
    pub name: String,
    /// `vpc-… 10.0.0.0/16 type sandbox`.
    pub subtitle: String,
    pub zones: Vec<String>,
    pub rows: Vec<Row>,
    pub sources: Vec<Source>,
    pub arrows: Vec<Arrow>,
    /// Groups and load balancers in no metanetwork of the environment.
    pub elsewhere: Vec<String>,
    /// With `--diff`: the pending changes; `None` without `--diff`.
    pub changes: Option<Vec<PendingChange>>,
}

fn ports(from: Option<i32>, to: Option<i32>) -> String {
    match (from, to) {
        (Some(-1), _) | (None, _) | (_, Some(-1)) => "all".to_string(),
        (Some(a), Some(b)) if a == b => a.to_string(),
        (Some(a), Some(b)) => format!("{a}-{b}"),
        (Some(a), None) => a.to_string(),
    }
}

fn protocol(p: &str) -> &str {
    match p {
        "-1" => "all",
        other => other,
    }
}

impl Picture {
    /// The picture of `state` (the environment `name`) with what else was `observed`.
    pub fn new(name: &str, state: &VpcState, observed: &Observed) -> Picture {
        let nets = state.metanetworks();
        let zones: Vec<String> = nets
            .iter()
            .flat_map(|n| state.subnets_of(*n))
            .map(|s| s.availability_zone.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let changes = observed.changes.clone();
        let mentioned = |id: &str| {
            changes
                .as_ref()
                .is_some_and(|c| c.iter().any(|change| change.resource.contains(id)))
        };
        let net_of_subnet: BTreeMap<&str, MetaNetworkName> = nets
            .iter()
            .flat_map(|n| {
                state
                    .subnets_of(*n)
                    .into_iter()
                    .map(|s| (s.id.as_str(), *n))
            })
            .collect();
        let net_of = |subnets: &[String]| {
            subnets
                .iter()
                .find_map(|s| net_of_subnet.get(s.as_str()).copied())
        };
        let peer = |pcx: &str| {
            let p = state.peerings.iter().find(|p| p.id == pcx)?;
            let vpc = state.vpc_id().map(|v| p.other(v).to_string())?;
            Some(
                observed
                    .peers
                    .get(&vpc)
                    .map(|(n, c)| format!("{n} {c}"))
                    .unwrap_or(vpc),
            )
        };
        let mut rows: Vec<Row> = Vec::new();
        for net in &nets {
            let Some(sg) = state.security_group_of(*net) else {
                continue;
            };
            let subnets = state.subnets_of(*net);
            let mut changed = mentioned(&sg.id);
            let mut targets: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for s in &subnets {
                if let Some(t) = state.route_table_of_subnet(&s.id) {
                    changed |= mentioned(&t.id);
                    for r in &t.routes {
                        let label = match &r.target {
                            RouteTarget::Local => continue,
                            RouteTarget::Gateway(id) if id.starts_with("igw-") => {
                                format!("internet gateway {id}")
                            }
                            RouteTarget::Gateway(id) => format!("VPN gateway {id}"),
                            RouteTarget::NatGateway(_) => "NAT gateway of its zone".to_string(),
                            RouteTarget::Peering(id) => match peer(id) {
                                Some(p) => format!("peering {id} to {p}"),
                                None => format!("peering {id}"),
                            },
                            RouteTarget::Other(id) => id.to_string(),
                        };
                        targets
                            .entry(label)
                            .or_default()
                            .insert(r.destination.to_string());
                    }
                }
                changed |= mentioned(&s.id);
            }
            let cells = zones
                .iter()
                .map(|z| {
                    subnets.iter().find(|s| &s.availability_zone == z).map(|s| {
                        let nat = state
                            .nat_gateways
                            .iter()
                            .find(|n| n.subnet_id == s.id && n.is_live())
                            .map(|n| (n.id.clone(), n.public_ips.join(",")));
                        Cell {
                            subnet_id: s.id.clone(),
                            cidr: s.cidr.to_string(),
                            free_ips: observed.free_ips.get(&s.id).copied(),
                            nat,
                            changed: mentioned(&s.id),
                        }
                    })
                })
                .collect();
            let subnet_ids: BTreeSet<&str> = subnets.iter().map(|s| s.id.as_str()).collect();
            rows.push(Row {
                net: *net,
                cidr: state
                    .metanetwork_cidr(*net)
                    .map(|c| c.to_string())
                    .unwrap_or_default(),
                security_group: format!("{} ({})", sg.id, sg.name),
                targets: targets
                    .into_iter()
                    .map(|(t, dest)| {
                        format!("{t} ({})", dest.into_iter().collect::<Vec<_>>().join(", "))
                    })
                    .collect(),
                cells,
                hosts: Vec::new(),
                load_balancers: Vec::new(),
                floating: state
                    .network_interfaces
                    .iter()
                    .filter(|e| e.is_floating() && subnet_ids.contains(e.subnet_id.as_str()))
                    .map(|e| format!("{} {}", e.id, e.private_ip))
                    .collect(),
                self_rules: Vec::new(),
                open_to_internet: false,
                changed,
            });
        }
        let row_nets: Vec<MetaNetworkName> = rows.iter().map(|r| r.net).collect();
        let row_of = |net: MetaNetworkName| row_nets.iter().position(|n| *n == net);
        let mut elsewhere = Vec::new();
        let mut placed: Vec<(usize, String)> = Vec::new();
        let mut groups = observed.groups.clone();
        groups.sort_by(|a, b| a.hostclass.cmp(&b.hostclass).then(a.name.cmp(&b.name)));
        for g in &groups {
            let line = format!(
                "{} {}/{}/{} ({} running) {} {}{}",
                g.name,
                g.min,
                g.desired,
                g.max,
                g.instances,
                g.instance_type.as_deref().unwrap_or("-"),
                g.ami.as_deref().unwrap_or("-"),
                g.stage
                    .as_deref()
                    .map(|s| format!(" {s}"))
                    .unwrap_or_default()
            );
            match net_of(&g.subnet_ids).and_then(row_of) {
                Some(r) => placed.push((r, line)),
                None => elsewhere.push(format!("group {line}")),
            }
        }
        let mut lb_lines: Vec<(usize, String)> = Vec::new();
        for lb in &observed.load_balancers {
            let line = if lb.cnames.is_empty() {
                format!("{} {}", lb.name, lb.id)
            } else {
                format!("{} {} <- {}", lb.name, lb.id, lb.cnames.join(", "))
            };
            match net_of(&lb.subnet_ids).and_then(row_of) {
                Some(r) => lb_lines.push((r, line)),
                None => elsewhere.push(format!("load balancer {line}")),
            }
        }
        for (r, line) in placed {
            rows[r].hosts.push(line);
        }
        for (r, line) in lb_lines {
            rows[r].load_balancers.push(line);
        }
        // Rules: one arrow per (source, metanetwork), its label every protocol and port.
        let mut sources: Vec<Source> = Vec::new();
        let mut arrows: BTreeMap<(From, usize), BTreeSet<String>> = BTreeMap::new();
        let placed_nets: Vec<(usize, MetaNetworkName)> = nets
            .iter()
            .filter_map(|n| row_of(*n).map(|r| (r, *n)))
            .collect();
        for (to, net) in placed_nets {
            let Some(sg) = state.security_group_of(net) else {
                continue;
            };
            for p in &sg.ingress {
                let what = format!(
                    "{} {}",
                    protocol(&p.protocol),
                    ports(p.from_port, p.to_port)
                );
                let from = match &p.source {
                    PermissionSource::Group(g) => {
                        match rows
                            .iter()
                            .position(|r| r.security_group.starts_with(g.as_str()))
                        {
                            Some(r) if r == to => {
                                rows[to].self_rules.push(what);
                                continue;
                            }
                            Some(r) => From::Row(r),
                            None => From::Source(source(&mut sources, g, g, false)),
                        }
                    }
                    PermissionSource::Cidr(c) => {
                        let inside = rows.iter().position(|r| &r.cidr == c);
                        match inside {
                            Some(r) if r == to => {
                                rows[to].self_rules.push(what);
                                continue;
                            }
                            Some(r) => From::Row(r),
                            None => {
                                let internet = c == "0.0.0.0/0";
                                let label = if internet {
                                    "internet".to_string()
                                } else {
                                    peer_of(&observed.peers, c)
                                        .unwrap_or_else(|| "outside".to_string())
                                };
                                if internet {
                                    rows[to].open_to_internet = true;
                                }
                                From::Source(source(&mut sources, c, &label, internet))
                            }
                        }
                    }
                };
                arrows.entry((from, to)).or_default().insert(what);
            }
        }
        let arrows = arrows
            .into_iter()
            .map(|((from, to), what)| Arrow {
                internet: matches!(from, From::Source(s) if sources[s].internet),
                from,
                to,
                label: what.into_iter().collect::<Vec<_>>().join(", "),
            })
            .collect();
        let vpc = state.vpc.as_ref();
        Picture {
            name: name.to_string(),
            subtitle: format!(
                "{} {} type {}",
                vpc.map(|v| v.id.as_str()).unwrap_or("-"),
                vpc.map(|v| v.cidr.to_string()).unwrap_or_default(),
                observed.env_type.as_deref().unwrap_or("-")
            ),
            zones,
            rows,
            sources,
            arrows,
            elsewhere,
            changes,
        }
    }
}

/// The steps of `plan` (what `vpc update --dry-run` prints) as the picture marks them.
pub fn pending_changes<A: PlanAction>(plan: &Plan<A>) -> Vec<PendingChange> {
    plan.steps
        .iter()
        .map(|s| PendingChange {
            sign: s.action.change().sign().to_string(),
            resource: s.action.resource().to_string(),
            text: s.action.to_string(),
        })
        .collect()
}

/// The peer environment whose CIDR holds `cidr` (`build (peer)`), if any.
fn peer_of(peers: &BTreeMap<String, (String, String)>, cidr: &str) -> Option<String> {
    let inner: ipnet::Ipv4Net = cidr.parse().ok()?;
    peers.values().find_map(|(name, peer_cidr)| {
        let outer: ipnet::Ipv4Net = peer_cidr.parse().ok()?;
        outer.contains(&inner).then(|| format!("{name} (peer)"))
    })
}

/// The index of the source `cidr`, added when new.
fn source(sources: &mut Vec<Source>, cidr: &str, label: &str, internet: bool) -> usize {
    if let Some(i) = sources.iter().position(|s| s.cidr == cidr) {
        return i;
    }
    sources.push(Source {
        cidr: cidr.to_string(),
        label: label.to_string(),
        internet,
    });
    sources.len() - 1
}

#[cfg(test)]
mod tests;
