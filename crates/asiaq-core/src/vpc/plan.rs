//! A plan: the exact list of AWS changes a command will make, with the dependencies
//! between them. It is data: `--dry-run` prints it, the AWS layer executes it with bounded
//! concurrency along its edges.
//!
//! A resource that the plan itself creates is referred to as `${key}` (for example
//! `${subnet:intranet:us-west-2a}`) until the step that creates it has run; the executor
//! substitutes the real id. A step depends on every step that creates a key it refers to,
//! plus the steps listed in its `after`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::state::{Permission, RouteTarget};
pub use crate::plan::{new_ref, ref_key};
use crate::plan::{Change, PlanAction, Resource};

/// A plan of environment changes.
pub type Plan = crate::plan::Plan<Action>;
/// One step of an environment plan.
pub type Step = crate::plan::Step<Action>;
/// Builds an environment plan.
pub type PlanBuilder = crate::plan::PlanBuilder<Action>;

/// Tags as ordered pairs (the order is kept in output).
pub type TagList = Vec<(String, String)>;

/// One AWS change. Fields naming resources hold an id or a `${key}` reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action")]
pub enum Action {
    CreateVpc {
        key: String,
        cidr: String,
        tags: TagList,
    },
    /// EnableDnsSupport and EnableDnsHostnames (two calls, independent of each other).
    EnableDnsSupport {
        vpc: String,
    },
    EnableDnsHostnames {
        vpc: String,
    },
    CreateSubnet {
        key: String,
        vpc: String,
        cidr: String,
        availability_zone: String,
        tags: TagList,
    },
    DeleteSubnet {
        subnet: String,
    },
    CreateSecurityGroup {
        key: String,
        vpc: String,
        name: String,
        description: String,
        tags: TagList,
    },
    /// One AuthorizeSecurityGroupIngress call with every permission.
    AuthorizeIngress {
        group: String,
        permissions: Vec<Permission>,
    },
    RevokeIngress {
        group: String,
        permissions: Vec<Permission>,
    },
    RevokeEgress {
        group: String,
        permissions: Vec<Permission>,
    },
    DeleteSecurityGroup {
        group: String,
    },
    CreateRouteTable {
        key: String,
        vpc: String,
        tags: TagList,
    },
    AssociateRouteTable {
        route_table: String,
        subnet: String,
    },
    DeleteRouteTable {
        route_table: String,
    },
    CreateRoute {
        route_table: String,
        destination: String,
        target: RouteTarget,
    },
    ReplaceRoute {
        route_table: String,
        destination: String,
        target: RouteTarget,
    },
    DeleteRoute {
        route_table: String,
        destination: String,
    },
    CreateInternetGateway {
        key: String,
        tags: TagList,
    },
    AttachInternetGateway {
        gateway: String,
        vpc: String,
    },
    DetachInternetGateway {
        gateway: String,
        vpc: String,
    },
    DeleteInternetGateway {
        gateway: String,
    },
    /// Attaches the VPN gateway and waits until it is attached.
    AttachVpnGateway {
        gateway: String,
        vpc: String,
    },
    /// Detaches the VPN gateway and waits until it is detached (it is never deleted).
    DetachVpnGateway {
        gateway: String,
        vpc: String,
    },
    /// Allocates a VPC elastic IP; the key names its allocation id.
    AllocateAddress {
        key: String,
        tags: TagList,
    },
    ReleaseAddress {
        allocation_id: String,
        public_ip: String,
    },
    /// Creates a NAT gateway and waits until it is available.
    CreateNatGateway {
        key: String,
        subnet: String,
        allocation_id: String,
        tags: TagList,
    },
    /// Deletes a NAT gateway and waits until it is deleted.
    DeleteNatGateway {
        nat_gateway: String,
    },
    CreateDhcpOptions {
        key: String,
        config: BTreeMap<String, Vec<String>>,
        tags: TagList,
    },
    AssociateDhcpOptions {
        dhcp_options: String,
        vpc: String,
    },
    DeleteDhcpOptions {
        dhcp_options: String,
    },
    CreateNetworkInterface {
        key: String,
        subnet: String,
        private_ip: String,
        security_group: String,
        description: String,
        tags: TagList,
    },
    DetachNetworkInterface {
        attachment_id: String,
    },
    DeleteNetworkInterface {
        network_interface: String,
    },
    CreateVpcEndpoint {
        key: String,
        vpc: String,
        service_name: String,
        route_tables: Vec<String>,
        tags: TagList,
    },
    ModifyVpcEndpoint {
        endpoint: String,
        add_route_tables: Vec<String>,
        remove_route_tables: Vec<String>,
    },
    DeleteVpcEndpoint {
        endpoint: String,
    },
    /// Requests a peering between two VPCs of this account and accepts it.
    CreatePeering {
        key: String,
        requester_vpc: String,
        accepter_vpc: String,
        description: String,
        tags: TagList,
    },
    DeletePeering {
        peering: String,
    },
    /// Terminates instances and waits until they are terminated.
    TerminateInstances {
        instances: Vec<String>,
    },
    /// Force-deletes an autoscaling group (with its instances) and waits until it is gone.
    DeleteAutoScalingGroup {
        name: String,
    },
    DeleteClassicLoadBalancer {
        name: String,
    },
    DeleteLoadBalancer {
        name: String,
        arn: String,
    },
    DeleteVpc {
        vpc: String,
    },
    /// An SNS topic of the environment's notifications; creates key `key` (its ARN).
    CreateTopic {
        key: String,
        name: String,
    },
    /// Subscribes `endpoint` to the topic `topic_arn` (an ARN or `${topic:<name>}`).
    Subscribe {
        topic: String,
        topic_arn: String,
        protocol: String,
        endpoint: String,
    },
    /// DeleteAlarms of up to 100 of the environment's alarms.
    DeleteAlarms {
        names: Vec<String>,
    },
    DeleteMetricFilter {
        log_group: String,
        name: String,
    },
    DeleteLogGroup {
        name: String,
    },
}

impl Action {
    /// The key of the resource this action creates, if it creates one.
    pub fn creates(&self) -> Option<&str> {
        match self {
            Action::CreateVpc { key, .. }
            | Action::CreateSubnet { key, .. }
            | Action::CreateSecurityGroup { key, .. }
            | Action::CreateRouteTable { key, .. }
            | Action::CreateInternetGateway { key, .. }
            | Action::AllocateAddress { key, .. }
            | Action::CreateNatGateway { key, .. }
            | Action::CreateDhcpOptions { key, .. }
            | Action::CreateNetworkInterface { key, .. }
            | Action::CreateVpcEndpoint { key, .. }
            | Action::CreatePeering { key, .. }
            | Action::CreateTopic { key, .. } => Some(key),
            _ => None,
        }
    }

    /// The action's name (the variant, e.g. `CreateSubnet`).
    pub fn name(&self) -> String {
        PlanAction::name(self)
    }

    /// Every `${key}` this action refers to (excluding the key it creates).
    pub fn refs(&self) -> BTreeSet<String> {
        crate::plan::refs_of(self)
    }

    /// The same action with every `${key}` replaced by `ids[key]`. Keys without an id are
    /// left as they are.
    pub fn resolve(&self, ids: &BTreeMap<String, String>) -> Action {
        crate::plan::resolve_refs(self, ids)
    }
}

fn tags_text(tags: &TagList) -> String {
    tags.iter()
        .find(|(k, _)| k == "Name")
        .map(|(_, v)| format!(" {v}"))
        .unwrap_or_default()
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Action::*;
        match self {
            CreateVpc { cidr, tags, .. } => write!(f, "create VPC{} {cidr}", tags_text(tags)),
            EnableDnsSupport { vpc } => write!(f, "enable DNS support in {vpc}"),
            EnableDnsHostnames { vpc } => write!(f, "enable DNS hostnames in {vpc}"),
            CreateSubnet {
                cidr,
                availability_zone,
                tags,
                ..
            } => write!(
                f,
                "create subnet{} {cidr} in {availability_zone}",
                tags_text(tags)
            ),
            CreateSecurityGroup {
                name, description, ..
            } => write!(f, "create security group {name} ({description})"),
            AuthorizeIngress { group, permissions } => write!(
                f,
                "allow into {group}: {}",
                permissions
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            RevokeIngress { group, permissions } => write!(
                f,
                "revoke from {group}: {}",
                permissions
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            RevokeEgress { group, permissions } => write!(
                f,
                "revoke egress of {group}: {}",
                permissions
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            DeleteSecurityGroup { group } => write!(f, "delete security group {group}"),
            DeleteSubnet { subnet } => write!(f, "delete subnet {subnet}"),
            CreateRouteTable { tags, .. } => write!(f, "create route table{}", tags_text(tags)),
            AssociateRouteTable {
                route_table,
                subnet,
            } => write!(f, "associate route table {route_table} with {subnet}"),
            DeleteRouteTable { route_table } => write!(f, "delete route table {route_table}"),
            CreateRoute {
                route_table,
                destination,
                target,
            } => write!(f, "add route {destination} -> {target} in {route_table}"),
            ReplaceRoute {
                route_table,
                destination,
                target,
            } => write!(
                f,
                "replace route {destination} -> {target} in {route_table}"
            ),
            DeleteRoute {
                route_table,
                destination,
            } => write!(f, "delete route {destination} in {route_table}"),
            CreateInternetGateway { tags, .. } => {
                write!(f, "create internet gateway{}", tags_text(tags))
            }
            AttachInternetGateway { gateway, vpc } => {
                write!(f, "attach internet gateway {gateway} to {vpc}")
            }
            DetachInternetGateway { gateway, vpc } => {
                write!(f, "detach internet gateway {gateway} from {vpc}")
            }
            DeleteInternetGateway { gateway } => write!(f, "delete internet gateway {gateway}"),
            AttachVpnGateway { gateway, vpc } => {
                write!(f, "attach VPN gateway {gateway} to {vpc}")
            }
            DetachVpnGateway { gateway, vpc } => {
                write!(f, "detach VPN gateway {gateway} from {vpc} (it is kept)")
            }
            AllocateAddress { key, .. } => write!(f, "allocate elastic IP for {key}"),
            ReleaseAddress {
                allocation_id,
                public_ip,
            } => write!(f, "release elastic IP {public_ip} ({allocation_id})"),
            CreateNatGateway {
                subnet,
                allocation_id,
                tags,
                ..
            } => write!(
                f,
                "create NAT gateway{} in {subnet} with {allocation_id}",
                tags_text(tags)
            ),
            DeleteNatGateway { nat_gateway } => write!(f, "delete NAT gateway {nat_gateway}"),
            CreateDhcpOptions { config, tags, .. } => write!(
                f,
                "create DHCP options{} {}",
                tags_text(tags),
                config
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.join(",")))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            AssociateDhcpOptions { dhcp_options, vpc } => {
                write!(f, "associate DHCP options {dhcp_options} with {vpc}")
            }
            DeleteDhcpOptions { dhcp_options } => write!(f, "delete DHCP options {dhcp_options}"),
            CreateNetworkInterface {
                subnet,
                private_ip,
                tags,
                ..
            } => write!(
                f,
                "create floating interface{} {private_ip} in {subnet}",
                tags_text(tags)
            ),
            DetachNetworkInterface { attachment_id } => {
                write!(f, "detach network interface ({attachment_id})")
            }
            DeleteNetworkInterface { network_interface } => {
                write!(f, "delete network interface {network_interface}")
            }
            CreateVpcEndpoint {
                service_name,
                route_tables,
                ..
            } => write!(
                f,
                "create VPC endpoint {service_name} on {} route table(s)",
                route_tables.len()
            ),
            ModifyVpcEndpoint {
                endpoint,
                add_route_tables,
                remove_route_tables,
            } => write!(
                f,
                "update VPC endpoint {endpoint}: add [{}] remove [{}]",
                add_route_tables.join(", "),
                remove_route_tables.join(", ")
            ),
            DeleteVpcEndpoint { endpoint } => write!(f, "delete VPC endpoint {endpoint}"),
            CreatePeering { description, .. } => write!(f, "create peering {description}"),
            DeletePeering { peering } => write!(f, "delete peering {peering}"),
            TerminateInstances { instances } => {
                write!(f, "terminate instances {}", instances.join(", "))
            }
            DeleteAutoScalingGroup { name } => write!(f, "delete autoscaling group {name}"),
            DeleteClassicLoadBalancer { name } => write!(f, "delete load balancer {name}"),
            DeleteLoadBalancer { name, .. } => write!(f, "delete load balancer {name}"),
            DeleteVpc { vpc } => write!(f, "delete VPC {vpc}"),
            CreateTopic { name, .. } => write!(f, "create SNS topic {name}"),
            Subscribe {
                topic,
                protocol,
                endpoint,
                ..
            } => write!(f, "subscribe {endpoint} ({protocol}) to {topic}"),
            DeleteAlarms { names } => write!(f, "delete alarm(s) {}", names.join(", ")),
            DeleteMetricFilter { log_group, name } => {
                write!(f, "delete metric filter {name} of {log_group}")
            }
            DeleteLogGroup { name } => write!(f, "delete log group {name}"),
        }
    }
}

impl PlanAction for Action {
    fn resource(&self) -> Resource {
        use Action::*;
        let by_ref = Resource::by_ref;
        match self {
            CreateVpc { key, .. } => Resource::new("VPC", key.as_str()),
            EnableDnsSupport { vpc }
            | EnableDnsHostnames { vpc }
            | AssociateDhcpOptions { vpc, .. }
            | DeleteVpc { vpc } => by_ref("VPC", vpc),
            CreateSubnet { key, .. } => Resource::new("subnet", key.as_str()),
            DeleteSubnet { subnet } => by_ref("subnet", subnet),
            CreateSecurityGroup { key, .. } => Resource::new("security group", key.as_str()),
            AuthorizeIngress { group, .. }
            | RevokeIngress { group, .. }
            | RevokeEgress { group, .. }
            | DeleteSecurityGroup { group } => by_ref("security group", group),
            CreateRouteTable { key, .. } => Resource::new("route table", key.as_str()),
            AssociateRouteTable { route_table, .. } | DeleteRouteTable { route_table } => {
                by_ref("route table", route_table)
            }
            CreateRoute {
                route_table,
                destination,
                ..
            }
            | ReplaceRoute {
                route_table,
                destination,
                ..
            }
            | DeleteRoute {
                route_table,
                destination,
            } => Resource::new(
                "route",
                format!(
                    "{destination} in {}",
                    ref_key(route_table).unwrap_or(route_table)
                ),
            ),
            CreateInternetGateway { key, .. } => Resource::new("internet gateway", key.as_str()),
            AttachInternetGateway { gateway, .. }
            | DetachInternetGateway { gateway, .. }
            | DeleteInternetGateway { gateway } => by_ref("internet gateway", gateway),
            AttachVpnGateway { gateway, .. } | DetachVpnGateway { gateway, .. } => {
                by_ref("VPN gateway", gateway)
            }
            AllocateAddress { key, .. } => Resource::new("elastic IP", key.as_str()),
            ReleaseAddress { allocation_id, .. } => by_ref("elastic IP", allocation_id),
            CreateNatGateway { key, .. } => Resource::new("NAT gateway", key.as_str()),
            DeleteNatGateway { nat_gateway } => by_ref("NAT gateway", nat_gateway),
            CreateDhcpOptions { key, .. } => Resource::new("DHCP options", key.as_str()),
            DeleteDhcpOptions { dhcp_options } => by_ref("DHCP options", dhcp_options),
            CreateNetworkInterface { key, .. } => Resource::new("network interface", key.as_str()),
            DetachNetworkInterface { attachment_id } => {
                by_ref("network interface attachment", attachment_id)
            }
            DeleteNetworkInterface { network_interface } => {
                by_ref("network interface", network_interface)
            }
            CreateVpcEndpoint { key, .. } => Resource::new("VPC endpoint", key.as_str()),
            ModifyVpcEndpoint { endpoint, .. } | DeleteVpcEndpoint { endpoint } => {
                by_ref("VPC endpoint", endpoint)
            }
            CreatePeering { key, .. } => Resource::new("peering", key.as_str()),
            DeletePeering { peering } => by_ref("peering", peering),
            TerminateInstances { instances } => Resource::new("instances", instances.join(",")),
            DeleteAutoScalingGroup { name } => Resource::new("autoscaling group", name.as_str()),
            DeleteClassicLoadBalancer { name } | DeleteLoadBalancer { name, .. } => {
                Resource::new("load balancer", name.as_str())
            }
            CreateTopic { name, .. } => Resource::new("SNS topic", name.as_str()),
            Subscribe {
                topic, endpoint, ..
            } => Resource::new("SNS subscription", format!("{topic} {endpoint}")),
            DeleteAlarms { names } => Resource::new("alarms", names.join(",")),
            DeleteMetricFilter { log_group, name } => {
                Resource::new("metric filter", format!("{log_group} {name}"))
            }
            DeleteLogGroup { name } => Resource::new("log group", name.as_str()),
        }
    }

    fn change(&self) -> Change {
        use Action::*;
        match self {
            CreateVpc { .. }
            | CreateSubnet { .. }
            | CreateSecurityGroup { .. }
            | CreateRouteTable { .. }
            | CreateRoute { .. }
            | CreateInternetGateway { .. }
            | AllocateAddress { .. }
            | CreateNatGateway { .. }
            | CreateDhcpOptions { .. }
            | CreateNetworkInterface { .. }
            | CreateVpcEndpoint { .. }
            | CreatePeering { .. }
            | CreateTopic { .. }
            | Subscribe { .. } => Change::Create,
            DeleteSubnet { .. }
            | DeleteSecurityGroup { .. }
            | DeleteRouteTable { .. }
            | DeleteRoute { .. }
            | DeleteInternetGateway { .. }
            | ReleaseAddress { .. }
            | DeleteNatGateway { .. }
            | DeleteDhcpOptions { .. }
            | DetachNetworkInterface { .. }
            | DeleteNetworkInterface { .. }
            | DeleteVpcEndpoint { .. }
            | DeletePeering { .. }
            | TerminateInstances { .. }
            | DeleteAutoScalingGroup { .. }
            | DeleteClassicLoadBalancer { .. }
            | DeleteLoadBalancer { .. }
            | DeleteVpc { .. }
            | DeleteAlarms { .. }
            | DeleteMetricFilter { .. }
            | DeleteLogGroup { .. } => Change::Delete,
            EnableDnsSupport { .. }
            | EnableDnsHostnames { .. }
            | AuthorizeIngress { .. }
            | RevokeIngress { .. }
            | RevokeEgress { .. }
            | AssociateRouteTable { .. }
            | ReplaceRoute { .. }
            | AttachInternetGateway { .. }
            | DetachInternetGateway { .. }
            | AttachVpnGateway { .. }
            | DetachVpnGateway { .. }
            | AssociateDhcpOptions { .. }
            | ModifyVpcEndpoint { .. } => Change::update(),
        }
    }

    fn creates(&self) -> Option<&str> {
        Action::creates(self)
    }

    fn undo(&self) -> Option<Self> {
        use Action::*;
        let own = |key: &String| new_ref(key);
        Some(match self {
            CreateVpc { key, .. } => DeleteVpc { vpc: own(key) },
            CreateSubnet { key, .. } => DeleteSubnet { subnet: own(key) },
            CreateSecurityGroup { key, .. } => DeleteSecurityGroup { group: own(key) },
            CreateRouteTable { key, .. } => DeleteRouteTable {
                route_table: own(key),
            },
            CreateRoute {
                route_table,
                destination,
                ..
            } => DeleteRoute {
                route_table: route_table.clone(),
                destination: destination.clone(),
            },
            CreateInternetGateway { key, .. } => DeleteInternetGateway { gateway: own(key) },
            AttachInternetGateway { gateway, vpc } => DetachInternetGateway {
                gateway: gateway.clone(),
                vpc: vpc.clone(),
            },
            AttachVpnGateway { gateway, vpc } => DetachVpnGateway {
                gateway: gateway.clone(),
                vpc: vpc.clone(),
            },
            AllocateAddress { key, .. } => ReleaseAddress {
                allocation_id: own(key),
                public_ip: key.clone(),
            },
            CreateNatGateway { key, .. } => DeleteNatGateway {
                nat_gateway: own(key),
            },
            CreateDhcpOptions { key, .. } => DeleteDhcpOptions {
                dhcp_options: own(key),
            },
            CreateNetworkInterface { key, .. } => DeleteNetworkInterface {
                network_interface: own(key),
            },
            CreateVpcEndpoint { key, .. } => DeleteVpcEndpoint { endpoint: own(key) },
            CreatePeering { key, .. } => DeletePeering { peering: own(key) },
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_and_resolution() {
        let a = Action::CreateSubnet {
            key: "subnet:a".into(),
            vpc: new_ref("vpc"),
            cidr: "10.0.0.0/24".into(),
            availability_zone: "az1".into(),
            tags: vec![],
        };
        assert_eq!(a.refs(), BTreeSet::from(["vpc".to_string()]));
        assert_eq!(a.name(), "CreateSubnet");
        let ids = BTreeMap::from([("vpc".to_string(), "vpc-1".to_string())]);
        match a.resolve(&ids) {
            Action::CreateSubnet { vpc, .. } => assert_eq!(vpc, "vpc-1"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn builder_derives_dependencies_from_refs() {
        let mut b = PlanBuilder::new();
        let vpc = b.add(
            Action::CreateVpc {
                key: "vpc".into(),
                cidr: "10.0.0.0/16".into(),
                tags: vec![],
            },
            &[],
        );
        let igw = b.add(
            Action::CreateInternetGateway {
                key: "igw".into(),
                tags: vec![],
            },
            &[],
        );
        let attach = b.add(
            Action::AttachInternetGateway {
                gateway: new_ref("igw"),
                vpc: new_ref("vpc"),
            },
            &[],
        );
        let plan = b.build();
        assert_eq!(plan.steps[attach].after, vec![vpc, igw]);
        assert_eq!(plan.depth(), 2);
        assert!(plan.depends_on(attach, vpc));
        assert!(!plan.depends_on(igw, vpc));
    }
}
