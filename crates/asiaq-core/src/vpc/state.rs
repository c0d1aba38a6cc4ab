//! What was observed of an environment in AWS, as plain data (the AWS layer fills it with
//! one filtered describe per resource type; the planners here read it).

use std::collections::BTreeMap;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use crate::syntax::MetaNetworkName;

/// Tags as a map.
pub type Tags = BTreeMap<String, String>;

/// The tag that marks every resource asiaq creates for environment `<name>`, so a failed
/// create can find (and delete) its leftovers.
pub const OWNER_TAG: &str = "asiaq:environment";

/// Where a route sends traffic.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum RouteTarget {
    /// The VPC itself (`local`).
    Local,
    /// An internet or VPN gateway (`igw-…`, `vgw-…`).
    Gateway(String),
    NatGateway(String),
    Peering(String),
    /// Anything asiaq does not manage (instances, ENIs, transit gateways, …).
    Other(String),
}

impl RouteTarget {
    pub fn id(&self) -> &str {
        match self {
            RouteTarget::Local => "local",
            RouteTarget::Gateway(id)
            | RouteTarget::NatGateway(id)
            | RouteTarget::Peering(id)
            | RouteTarget::Other(id) => id,
        }
    }

    /// Targets asiaq reconciles (IGW, VGW, NAT, peering).
    pub fn is_managed(&self) -> bool {
        matches!(
            self,
            RouteTarget::Gateway(_) | RouteTarget::NatGateway(_) | RouteTarget::Peering(_)
        )
    }
}

impl std::fmt::Display for RouteTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VpcInfo {
    pub id: String,
    pub cidr: Ipv4Net,
    pub tags: Tags,
    pub dhcp_options_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubnetInfo {
    pub id: String,
    pub availability_zone: String,
    pub cidr: Ipv4Net,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteInfo {
    /// Destination CIDR (routes to prefix lists, e.g. gateway endpoints, are not listed).
    pub destination: Ipv4Net,
    pub target: RouteTarget,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteTableInfo {
    pub id: String,
    pub vpc_id: String,
    pub tags: Tags,
    pub main: bool,
    /// Subnets explicitly associated with the table.
    pub subnet_ids: Vec<String>,
    pub routes: Vec<RouteInfo>,
}

/// One ingress or egress permission of a security group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Permission {
    pub protocol: String,
    pub from_port: Option<i32>,
    pub to_port: Option<i32>,
    /// A security-group id (or a `${…}` reference to one being created) or a CIDR.
    pub source: PermissionSource,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum PermissionSource {
    Group(String),
    Cidr(String),
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ports = match (self.from_port, self.to_port) {
            (Some(a), Some(b)) if a == b => a.to_string(),
            (Some(a), Some(b)) => format!("{a}:{b}"),
            _ => "all".to_string(),
        };
        let src = match &self.source {
            PermissionSource::Group(g) | PermissionSource::Cidr(g) => g,
        };
        write!(f, "{} {} from {}", self.protocol, ports, src)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityGroupInfo {
    pub id: String,
    pub name: String,
    pub tags: Tags,
    pub ingress: Vec<Permission>,
    pub egress: Vec<Permission>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayInfo {
    pub id: String,
    /// `(vpc id, attachment state)`.
    pub attachments: Vec<(String, String)>,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NatGatewayInfo {
    pub id: String,
    pub subnet_id: String,
    pub state: String,
    pub allocation_ids: Vec<String>,
    pub public_ips: Vec<String>,
    pub tags: Tags,
}

impl NatGatewayInfo {
    /// Pending or available (not deleting, deleted or failed).
    pub fn is_live(&self) -> bool {
        matches!(self.state.as_str(), "pending" | "available")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressInfo {
    pub allocation_id: String,
    pub public_ip: String,
    pub association_id: Option<String>,
    pub instance_id: Option<String>,
    pub network_interface_id: Option<String>,
    pub tags: Tags,
}

impl AddressInfo {
    /// Allocated by asiaq for an `auto` NAT gateway (tag `dynamic=true`).
    pub fn is_dynamic(&self) -> bool {
        self.tags.get("dynamic").is_some_and(|v| v == "true")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceInfo {
    pub id: String,
    pub subnet_id: String,
    pub private_ip: String,
    pub description: String,
    pub attachment_id: Option<String>,
    /// Managed by AWS (NAT gateways, endpoints, …): never deleted directly.
    pub requester_managed: bool,
    pub tags: Tags,
}

impl InterfaceInfo {
    /// A static-IP ENI made by `vpc create` for a hostclass.
    pub fn is_floating(&self) -> bool {
        self.description == "floating interface"
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DhcpOptionsInfo {
    pub id: String,
    /// `domain-name`, `domain-name-servers`, `ntp-servers`, … → values.
    pub config: BTreeMap<String, Vec<String>>,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointInfo {
    pub id: String,
    pub service_name: String,
    pub route_table_ids: Vec<String>,
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeeringInfo {
    pub id: String,
    pub requester_vpc_id: String,
    pub accepter_vpc_id: String,
    pub requester_cidr: Option<Ipv4Net>,
    pub accepter_cidr: Option<Ipv4Net>,
    pub status: String,
    pub tags: Tags,
}

impl PeeringInfo {
    /// `pending-acceptance`, `provisioning` or `active`.
    pub fn is_live(&self) -> bool {
        matches!(
            self.status.as_str(),
            "pending-acceptance" | "provisioning" | "active" | "initiating-request"
        )
    }

    /// The other VPC of the peering, seen from `vpc_id`.
    pub fn other(&self, vpc_id: &str) -> &str {
        if self.requester_vpc_id == vpc_id {
            &self.accepter_vpc_id
        } else {
            &self.requester_vpc_id
        }
    }

    pub fn involves(&self, vpc_id: &str) -> bool {
        self.requester_vpc_id == vpc_id || self.accepter_vpc_id == vpc_id
    }
}

/// Things in the VPC that other commands manage and that block deleting it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Occupants {
    /// Instances not yet terminated.
    pub instances: Vec<String>,
    /// Autoscaling groups with a subnet in the VPC.
    pub autoscaling_groups: Vec<String>,
    /// Classic load balancers in the VPC.
    pub classic_elbs: Vec<String>,
    /// Application/network load balancers in the VPC (`name`, `arn`).
    pub load_balancers: Vec<(String, String)>,
    /// RDS instances in the VPC.
    pub rds_instances: Vec<String>,
    /// ElastiCache clusters in subnet groups of the VPC.
    pub cache_clusters: Vec<String>,
}

impl Occupants {
    pub fn is_empty(&self) -> bool {
        self.instances.is_empty()
            && self.autoscaling_groups.is_empty()
            && self.classic_elbs.is_empty()
            && self.load_balancers.is_empty()
            && self.rds_instances.is_empty()
            && self.cache_clusters.is_empty()
    }

    /// One line per kind that is present, e.g. `2 instances: i-1, i-2`.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut kind = |what: &str, items: Vec<&str>| {
            if !items.is_empty() {
                out.push(format!("{} {what}: {}", items.len(), items.join(", ")));
            }
        };
        kind(
            "instance(s)",
            self.instances.iter().map(String::as_str).collect(),
        );
        kind(
            "autoscaling group(s)",
            self.autoscaling_groups.iter().map(String::as_str).collect(),
        );
        kind(
            "classic load balancer(s)",
            self.classic_elbs.iter().map(String::as_str).collect(),
        );
        kind(
            "load balancer(s)",
            self.load_balancers
                .iter()
                .map(|(n, _)| n.as_str())
                .collect(),
        );
        kind(
            "RDS instance(s)",
            self.rds_instances.iter().map(String::as_str).collect(),
        );
        kind(
            "ElastiCache cluster(s)",
            self.cache_clusters.iter().map(String::as_str).collect(),
        );
        out
    }
}

/// Everything asiaq manages of one environment, as observed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VpcState {
    /// The environment name (the VPC's `Name` tag, or the name being created).
    pub name: String,
    pub vpc: Option<VpcInfo>,
    pub subnets: Vec<SubnetInfo>,
    pub route_tables: Vec<RouteTableInfo>,
    pub security_groups: Vec<SecurityGroupInfo>,
    /// Internet gateways attached to the VPC, plus detached ones owned by the environment.
    pub internet_gateways: Vec<GatewayInfo>,
    /// VPN gateways attached to the VPC, or tagged `Name=<env>`.
    pub vpn_gateways: Vec<GatewayInfo>,
    pub nat_gateways: Vec<NatGatewayInfo>,
    /// EIPs of the VPC's NAT gateways, plus EIPs owned by the environment.
    pub addresses: Vec<AddressInfo>,
    pub network_interfaces: Vec<InterfaceInfo>,
    /// The VPC's DHCP options, plus options owned by the environment.
    pub dhcp_options: Vec<DhcpOptionsInfo>,
    pub endpoints: Vec<EndpointInfo>,
    /// Peerings involving the VPC (any state).
    pub peerings: Vec<PeeringInfo>,
    pub occupants: Occupants,
    /// The environment's alarms, metric filters and `<env>/` log groups (observed for a
    /// destroy, which deletes them).
    pub monitoring: EnvMonitoring,
}

/// What watches an environment: its alarm names (not those of Elasticsearch domains), the
/// metric filters `(log group, name)` and the log groups under `<env>/`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvMonitoring {
    pub alarms: Vec<String>,
    pub metric_filters: Vec<(String, String)>,
    pub log_groups: Vec<String>,
}

impl VpcState {
    pub fn vpc_id(&self) -> Option<&str> {
        self.vpc.as_ref().map(|v| v.id.as_str())
    }

    /// The metanetwork a resource belongs to, from its `meta_network` tag.
    pub fn net_of(tags: &Tags) -> Option<MetaNetworkName> {
        tags.get("meta_network").and_then(|v| v.parse().ok())
    }

    pub fn subnets_of(&self, net: MetaNetworkName) -> Vec<&SubnetInfo> {
        let mut out: Vec<&SubnetInfo> = self
            .subnets
            .iter()
            .filter(|s| Self::net_of(&s.tags) == Some(net))
            .collect();
        out.sort_by(|a, b| a.availability_zone.cmp(&b.availability_zone));
        out
    }

    pub fn security_group_of(&self, net: MetaNetworkName) -> Option<&SecurityGroupInfo> {
        self.security_groups
            .iter()
            .filter(|g| Self::net_of(&g.tags) == Some(net))
            .min_by(|a, b| a.id.cmp(&b.id))
    }

    /// The route table that routes `subnet_id` (its explicit association, else the main
    /// table).
    pub fn route_table_of_subnet(&self, subnet_id: &str) -> Option<&RouteTableInfo> {
        self.route_tables
            .iter()
            .find(|t| t.subnet_ids.iter().any(|s| s == subnet_id))
            .or_else(|| self.route_tables.iter().find(|t| t.main))
    }

    /// The metanetwork CIDR reconstructed from its subnets (spec §4.2).
    pub fn metanetwork_cidr(&self, net: MetaNetworkName) -> Option<Ipv4Net> {
        let nets: Vec<Ipv4Net> = self.subnets_of(net).iter().map(|s| s.cidr).collect();
        crate::network::metanetwork_cidr_from_subnets(&nets)
    }

    /// Metanetworks present (with a security group), in the fixed order.
    pub fn metanetworks(&self) -> Vec<MetaNetworkName> {
        MetaNetworkName::ALL
            .into_iter()
            .filter(|n| self.security_group_of(*n).is_some())
            .collect()
    }
}
