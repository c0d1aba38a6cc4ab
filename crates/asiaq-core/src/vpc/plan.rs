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

/// A `${key}` reference to a resource created by the plan.
pub fn new_ref(key: &str) -> String {
    format!("${{{key}}}")
}

/// The key of a `${key}` reference, or `None` for a real id.
pub fn ref_key(value: &str) -> Option<&str> {
    value.strip_prefix("${")?.strip_suffix('}')
}

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
            | Action::CreatePeering { key, .. } => Some(key),
            _ => None,
        }
    }

    /// The action's name (the variant, e.g. `CreateSubnet`).
    pub fn name(&self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.get("action").and_then(|a| a.as_str().map(str::to_string)))
            .unwrap_or_default()
    }

    /// Every `${key}` this action refers to (excluding the key it creates).
    pub fn refs(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let own = self.creates().map(str::to_string);
        if let Ok(v) = serde_json::to_value(self) {
            collect_refs(&v, &mut out);
        }
        if let Some(own) = own {
            out.remove(&own);
        }
        out
    }

    /// The same action with every `${key}` replaced by `ids[key]`. Keys without an id are
    /// left as they are.
    pub fn resolve(&self, ids: &BTreeMap<String, String>) -> Action {
        let Ok(mut v) = serde_json::to_value(self) else {
            return self.clone();
        };
        substitute(&mut v, ids);
        serde_json::from_value(v).unwrap_or_else(|_| self.clone())
    }
}

fn collect_refs(v: &serde_json::Value, out: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::String(s) => {
            if let Some(k) = ref_key(s) {
                out.insert(k.to_string());
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_refs(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}

fn substitute(v: &mut serde_json::Value, ids: &BTreeMap<String, String>) {
    match v {
        serde_json::Value::String(s) => {
            if let Some(id) = ref_key(s).and_then(|k| ids.get(k)) {
                *s = id.clone();
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| substitute(x, ids)),
        serde_json::Value::Object(o) => o.values_mut().for_each(|x| substitute(x, ids)),
        _ => {}
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
        }
    }
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub id: usize,
    pub action: Action,
    /// Steps that must finish first (refs and explicit ordering).
    pub after: Vec<usize>,
}

/// The steps of a plan in a valid order (every step after the steps it depends on).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub steps: Vec<Step>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// The length of the longest dependency chain (the number of rounds of calls that
    /// must follow each other, whatever the concurrency).
    pub fn depth(&self) -> usize {
        let mut depth = vec![0usize; self.steps.len()];
        for s in &self.steps {
            depth[s.id] = 1 + s.after.iter().map(|a| depth[*a]).max().unwrap_or(0);
        }
        depth.into_iter().max().unwrap_or(0)
    }

    /// The steps whose action matches, renumbered; dependencies on dropped steps are
    /// dropped (callers keep whole groups, e.g. a peering with its routes).
    pub fn retain(&self, keep: impl Fn(&Action) -> bool) -> Plan {
        let mut map = BTreeMap::new();
        let mut steps = Vec::new();
        for s in &self.steps {
            if keep(&s.action) {
                map.insert(s.id, steps.len());
                steps.push(s.clone());
            }
        }
        for s in &mut steps {
            s.id = map[&s.id];
            s.after = s.after.iter().filter_map(|a| map.get(a).copied()).collect();
        }
        Plan { steps }
    }

    /// Index of the first step whose action matches.
    pub fn position(&self, f: impl Fn(&Action) -> bool) -> Option<usize> {
        self.steps.iter().position(|s| f(&s.action))
    }

    /// Whether step `b` (transitively) depends on step `a`.
    pub fn depends_on(&self, b: usize, a: usize) -> bool {
        let mut stack = vec![b];
        let mut seen = BTreeSet::new();
        while let Some(x) = stack.pop() {
            for p in &self.steps[x].after {
                if *p == a {
                    return true;
                }
                if seen.insert(*p) {
                    stack.push(*p);
                }
            }
        }
        false
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.steps {
            writeln!(f, "{:>3}. {}", s.id + 1, s.action)?;
        }
        Ok(())
    }
}

/// Builds a plan: each added step depends on the creators of the keys it refers to.
#[derive(Debug, Default)]
pub struct PlanBuilder {
    steps: Vec<Step>,
    creators: BTreeMap<String, usize>,
}

impl PlanBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `action` after the creators of its refs and after `after`. Refs to keys no
    /// step creates are left for the executor (it fails them clearly).
    pub fn add(&mut self, action: Action, after: &[usize]) -> usize {
        let id = self.steps.len();
        let mut deps: BTreeSet<usize> = after.iter().copied().collect();
        for k in action.refs() {
            if let Some(c) = self.creators.get(&k) {
                deps.insert(*c);
            }
        }
        if let Some(k) = action.creates() {
            self.creators.insert(k.to_string(), id);
        }
        self.steps.push(Step {
            id,
            action,
            after: deps.into_iter().collect(),
        });
        id
    }

    /// The step creating `key`, if any.
    pub fn creator(&self, key: &str) -> Option<usize> {
        self.creators.get(key).copied()
    }

    /// Ids of steps added so far that match.
    pub fn matching(&self, f: impl Fn(&Action) -> bool) -> Vec<usize> {
        self.steps
            .iter()
            .filter(|s| f(&s.action))
            .map(|s| s.id)
            .collect()
    }

    pub fn build(self) -> Plan {
        Plan { steps: self.steps }
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
