//! What `vpc show` tells about an observed environment: each metanetwork with its security
//! group rules and subnets (with their routes), then the gateways, peerings, floating
//! interfaces, DHCP options and endpoints, one line each.

use std::collections::BTreeMap;

use serde::Serialize;

use super::state::{PeeringInfo, PermissionSource, VpcState};
use crate::syntax::MetaNetworkName;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShowSubnet {
    pub id: String,
    pub availability_zone: String,
    pub cidr: String,
    pub route_table: Option<String>,
    /// `destination -> target`.
    pub routes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShowNet {
    pub name: MetaNetworkName,
    pub cidr: Option<String>,
    /// `id (name)`.
    pub security_group: String,
    /// Ingress rules, a source group named by its name.
    pub rules: Vec<String>,
    pub subnets: Vec<ShowSubnet>,
}

/// The environment's resources as `vpc show` lists them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Overview {
    pub metanetworks: Vec<ShowNet>,
    pub internet_gateways: Vec<String>,
    pub vpn_gateways: Vec<String>,
    pub nat_gateways: Vec<String>,
    pub peerings: Vec<String>,
    pub floating_interfaces: Vec<String>,
    pub dhcp_options: Vec<String>,
    pub endpoints: Vec<String>,
}

impl Overview {
    /// The one-line lists after the metanetworks, each with its label.
    pub fn labelled(&self) -> [(&'static str, &[String]); 7] {
        [
            ("internet gateway", &self.internet_gateways),
            ("VPN gateway", &self.vpn_gateways),
            ("NAT gateway", &self.nat_gateways),
            ("peering", &self.peerings),
            ("floating interface", &self.floating_interfaces),
            ("DHCP options", &self.dhcp_options),
            ("endpoint", &self.endpoints),
        ]
    }
}

/// `vpc show` of one environment: its VPC, then the [`Overview`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShowEnvironment<'a> {
    pub vpc_id: &'a str,
    pub name: &'a str,
    #[serde(rename = "type")]
    pub env_type: Option<&'a str>,
    pub cidr: String,
    pub tags: &'a BTreeMap<String, String>,
    #[serde(flatten)]
    pub overview: Overview,
}

impl ShowEnvironment<'_> {
    /// The text of `vpc show`: the VPC; each metanetwork with its security group, rules,
    /// subnets and their routes (indented); then the labelled one-line lists.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!(
            "{} {} type {} {}",
            self.vpc_id,
            self.name,
            self.env_type.unwrap_or("-"),
            self.cidr
        )];
        for n in &self.overview.metanetworks {
            out.push(format!(
                "metanetwork {} {}",
                n.name,
                n.cidr.as_deref().unwrap_or("-")
            ));
            out.push(format!("  security group {}", n.security_group));
            out.extend(n.rules.iter().map(|r| format!("    allow {r}")));
            for s in &n.subnets {
                out.push(format!(
                    "  subnet {} {} {} route table {}",
                    s.id,
                    s.availability_zone,
                    s.cidr,
                    s.route_table.as_deref().unwrap_or("-")
                ));
                out.extend(s.routes.iter().map(|r| format!("    route {r}")));
            }
        }
        for (label, items) in self.overview.labelled() {
            out.extend(items.iter().map(|i| format!("{label} {i}")));
        }
        out
    }
}

fn metanetwork(state: &VpcState, net: MetaNetworkName) -> Option<ShowNet> {
    let sg = state.security_group_of(net)?;
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
                            .map(|r| format!("{} -> {}", r.destination, r.target))
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect();
    Some(ShowNet {
        name: net,
        cidr: state.metanetwork_cidr(net).map(|c| c.to_string()),
        security_group: format!("{} ({})", sg.id, sg.name),
        rules,
        subnets,
    })
}

/// What `vpc show` lists of `state` (metanetworks without a security group are left out).
pub fn overview(state: &VpcState) -> Overview {
    let vpc_dhcp = state.vpc.as_ref().and_then(|v| v.dhcp_options_id.as_ref());
    Overview {
        metanetworks: state
            .metanetworks()
            .into_iter()
            .filter_map(|net| metanetwork(state, net))
            .collect(),
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
            .filter(|d| vpc_dhcp == Some(&d.id))
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
    }
}

/// One peering of `vpc peerings --list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeeringRow {
    pub id: String,
    pub status: String,
    pub requester: String,
    pub accepter: String,
    pub requester_cidr: Option<String>,
    pub accepter_cidr: Option<String>,
}

impl PeeringRow {
    /// `id status requester<->accepter requester-cidr<->accepter-cidr` (`-`: unknown).
    pub fn line(&self) -> String {
        format!(
            "{} {} {}<->{} {}<->{}",
            self.id,
            self.status,
            self.requester,
            self.accepter,
            self.requester_cidr.as_deref().unwrap_or("-"),
            self.accepter_cidr.as_deref().unwrap_or("-")
        )
    }
}

/// The rows of `vpc peerings --list`: the live and failed peerings of `list`, each side
/// named by `names` (vpc id, `Name` tag; else its id), by accepter.
pub fn peering_rows(
    mut list: Vec<PeeringInfo>,
    names: &[(String, Option<String>)],
) -> Vec<PeeringRow> {
    let name = |id: &str| {
        names
            .iter()
            .find(|(v, _)| v == id)
            .and_then(|(_, n)| n.clone())
            .unwrap_or_else(|| id.to_string())
    };
    list.retain(|p| p.is_live() || p.status == "failed");
    list.sort_by_key(|p| name(&p.accepter_vpc_id));
    list.iter()
        .map(|p| PeeringRow {
            id: p.id.clone(),
            status: p.status.clone(),
            requester: name(&p.requester_vpc_id),
            accepter: name(&p.accepter_vpc_id),
            requester_cidr: p.requester_cidr.map(|c| c.to_string()),
            accepter_cidr: p.accepter_cidr.map(|c| c.to_string()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peering(id: &str, status: &str, requester: &str, accepter: &str) -> PeeringInfo {
        PeeringInfo {
            id: id.into(),
            status: status.into(),
            requester_vpc_id: requester.into(),
            accepter_vpc_id: accepter.into(),
            requester_cidr: Some("10.0.0.0/16".parse().unwrap()),
            accepter_cidr: None,
            tags: Default::default(),
        }
    }

    #[test]
    fn rows_name_the_vpcs_keep_live_and_failed_and_sort_by_accepter() {
        let names = vec![
            ("vpc-a".to_string(), Some("zeta".to_string())),
            ("vpc-b".to_string(), Some("alpha".to_string())),
            ("vpc-c".to_string(), None),
        ];
        let rows = peering_rows(
            vec![
                peering("pcx-1", "active", "vpc-b", "vpc-a"),
                peering("pcx-2", "deleted", "vpc-a", "vpc-b"),
                peering("pcx-3", "failed", "vpc-a", "vpc-b"),
                peering("pcx-4", "active", "vpc-a", "vpc-x"),
            ],
            &names,
        );
        let got: Vec<(&str, &str, &str)> = rows
            .iter()
            .map(|r| (r.id.as_str(), r.requester.as_str(), r.accepter.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("pcx-3", "zeta", "alpha"),
                ("pcx-4", "zeta", "vpc-x"),
                ("pcx-1", "alpha", "zeta"),
            ]
        );
        assert_eq!(rows[0].requester_cidr.as_deref(), Some("10.0.0.0/16"));
        assert_eq!(rows[0].accepter_cidr, None);
    }

    #[test]
    fn a_peering_line_marks_unknown_cidrs() {
        let row = PeeringRow {
            id: "pcx-1".into(),
            status: "active".into(),
            requester: "ci".into(),
            accepter: "vpc-b".into(),
            requester_cidr: Some("10.0.0.0/16".into()),
            accepter_cidr: None,
        };
        assert_eq!(row.line(), "pcx-1 active ci<->vpc-b 10.0.0.0/16<->-");
    }

    #[test]
    fn show_lines_indent_each_metanetwork_and_label_the_rest() {
        let tags = BTreeMap::new();
        let view = ShowEnvironment {
            vpc_id: "vpc-1",
            name: "ci",
            env_type: None,
            cidr: "10.0.0.0/16".into(),
            tags: &tags,
            overview: Overview {
                metanetworks: vec![ShowNet {
                    name: MetaNetworkName::Intranet,
                    cidr: None,
                    security_group: "sg-1 (ci_intranet)".into(),
                    rules: vec!["tcp 22 from 10.0.0.0/8".into()],
                    subnets: vec![ShowSubnet {
                        id: "subnet-1".into(),
                        availability_zone: "us-west-2a".into(),
                        cidr: "10.0.0.0/24".into(),
                        route_table: None,
                        routes: vec!["0.0.0.0/0 -> igw-1".into()],
                    }],
                }],
                nat_gateways: vec!["nat-1 available".into()],
                endpoints: vec!["vpce-1 s3".into()],
                ..Overview::default()
            },
        };
        assert_eq!(
            view.lines(),
            [
                "vpc-1 ci type - 10.0.0.0/16",
                "metanetwork intranet -",
                "  security group sg-1 (ci_intranet)",
                "    allow tcp 22 from 10.0.0.0/8",
                "  subnet subnet-1 us-west-2a 10.0.0.0/24 route table -",
                "    route 0.0.0.0/0 -> igw-1",
                "NAT gateway nat-1 available",
                "endpoint vpce-1 s3",
            ]
        );
    }
}
