//! Provisioning one hostclass (spec §4.7 `provision`): from the hostclass's options, the
//! pipeline row (or `provision` flags) and what was observed in AWS, everything its
//! autoscaling group, launch template, load balancer and target group will be. The AWS
//! layer applies this plan; `--dry-run` prints it.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::Serialize;

use crate::autoscale::{self, ScalingPolicySpec};
use crate::elb::{self, ElbError, ElbPlan, PortOptions, Stickiness, TargetGroupPlan};
use crate::network::{self, NetworkError};
use crate::plan::alarms::Monitoring;
use crate::schedule::{self, GroupSizes, RequestedSizes, ScheduledAction};
use crate::storage::{self, BlockDevice, StorageRequest, TooManyDevices};
use crate::syntax::{MetaNetworkName, SizeSpec, SpotinstReserve, StaticIp};
use crate::userdata::UserData;

/// The instance type when nothing else gives one (the original's default).
pub const DEFAULT_INSTANCE_TYPE: &str = "m3.large";

/// A hostclass's load-balancer options (only for `elb=True`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ElbSettings {
    /// `elb_meta_network`: the ELB's subnets and security group; default the hostclass's.
    pub meta_network: Option<MetaNetworkName>,
    pub health_check_url: Option<String>,
    pub instance_port: Option<String>,
    pub instance_protocol: Option<String>,
    pub port: Option<String>,
    pub protocol: Option<String>,
    pub public: bool,
    pub sticky_app_cookie: Option<String>,
    pub idle_timeout: u32,
    pub connection_draining: u32,
    pub cross_zone: bool,
    pub cert_name: Option<String>,
    pub dns_alias: Option<String>,
}

/// A hostclass's options from disco_aws.ini, resolved for one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostclassSettings {
    pub hostclass: String,
    pub meta_network: MetaNetworkName,
    pub ip_addresses: Vec<StaticIp>,
    /// Where `ip_address` was written (`file:line: [section] key`), for errors.
    pub ip_origin: Option<String>,
    pub eip: Option<String>,
    pub public_ip: bool,
    /// `None` (also for the string `None`): launch without a key pair.
    pub ssh_key_name: Option<String>,
    pub instance_profile_name: Option<String>,
    pub enable_proxy: bool,
    pub smoketest_termination: bool,
    pub domain_name: Option<String>,
    /// `product_line` (tags; `unknown` when unset).
    pub product_line: String,
    pub chaos: bool,
    /// The `tags` option.
    pub tags: Vec<(String, String)>,
    pub spotinst: bool,
    /// The hostclass option `instance_type`, if set.
    pub instance_type: Option<String>,
    pub elb: Option<ElbSettings>,
    pub target_group: bool,
    /// The alarms and log metrics the hostclass gets once its group exists.
    pub monitoring: Monitoring,
}

/// Environment-wide facts: from configuration and from the environment's VPC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvironmentFacts {
    pub env: String,
    /// The VPC's `environment_class` tag (default `development`).
    pub environment_class: String,
    pub project_name: String,
    pub owner: String,
    /// Full credential bucket names, in order.
    pub credential_buckets: Vec<String>,
    pub zookeeper_hostclass: String,
    pub http_proxy_ip: Option<Ipv4Addr>,
    pub logger_ip: Option<Ipv4Addr>,
    pub logforwarder_ip: Option<Ipv4Addr>,
    pub metanetworks: Vec<MetaNetworkFacts>,
}

/// One metanetwork of the environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetaNetworkFacts {
    pub name: MetaNetworkName,
    pub security_group_id: String,
    /// Sorted by availability zone.
    pub subnets: Vec<SubnetFacts>,
}

/// One subnet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubnetFacts {
    pub id: String,
    pub availability_zone: String,
    pub cidr: Ipv4Net,
}

impl EnvironmentFacts {
    pub fn metanetwork(&self, name: MetaNetworkName) -> Option<&MetaNetworkFacts> {
        self.metanetworks.iter().find(|m| m.name == name)
    }
}

impl MetaNetworkFacts {
    pub fn cidrs(&self) -> Vec<Ipv4Net> {
        self.subnets.iter().map(|s| s.cidr).collect()
    }
}

/// What one pipeline row (or `asiaq aws provision`) asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ProvisionRequest {
    pub hostclass: String,
    pub sequence: u32,
    /// An explicit AMI id (the `ami` column or `--ami`).
    pub ami: Option<String>,
    pub instance_type: Option<String>,
    pub extra_space: Option<u32>,
    pub extra_disk: Option<u32>,
    pub iops: Option<u32>,
    pub smoke_test: bool,
    pub min_size: SizeSpec,
    pub desired_size: SizeSpec,
    pub max_size: SizeSpec,
    pub testing: bool,
    /// The `chaos` column / `--no-chaos`; `None`: the hostclass option decides.
    pub chaos: Option<bool>,
    pub termination_policies: Vec<String>,
    pub spotinst: bool,
    pub spotinst_reserve: Option<SpotinstReserve>,
    /// Make a new group even if one exists (blue/green deploys).
    pub create_if_exists: bool,
}

// `SizeSpec` lives in `syntax`; an absent size is `Unset`.
#[allow(clippy::derivable_impls)]
impl Default for SizeSpec {
    fn default() -> Self {
        SizeSpec::Unset
    }
}

/// The image chosen for a hostclass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AmiFacts {
    pub id: String,
    pub name: String,
    pub root_device_name: Option<String>,
    /// Whether its block device mappings include `/dev/sda`.
    pub maps_sda: bool,
}

/// The group a hostclass already has in the environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExistingGroup {
    pub name: String,
    /// Its launch template, when it uses one.
    pub launch_template_id: Option<String>,
    pub launch_template_name: Option<String>,
    /// Its legacy launch configuration, when it uses one.
    pub launch_configuration: Option<String>,
    pub instance_type: Option<String>,
    pub load_balancers: Vec<String>,
    pub target_group_arns: Vec<String>,
}

/// What was observed about one hostclass.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct HostclassObservation {
    pub ami: Option<AmiFacts>,
    pub existing: Option<ExistingGroup>,
    /// The latest snapshot tagged with the hostclass and environment: (id, size GB).
    pub snapshot: Option<(String, u32)>,
}

/// Create a new group, or update one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum GroupAction {
    Create {
        sizes: GroupSizes,
    },
    Update {
        sizes: RequestedSizes,
        existing: ExistingGroup,
    },
}

/// Everything `provision` does for one hostclass.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostclassPlan {
    pub hostclass: String,
    pub sequence: u32,
    /// The group (and its launch template) name.
    pub group_name: String,
    pub action: GroupAction,
    pub ami_id: String,
    pub ami_name: String,
    pub instance_type: String,
    pub meta_network: MetaNetworkName,
    pub subnet_ids: Vec<String>,
    pub security_group_id: String,
    pub key_name: Option<String>,
    pub instance_profile: Option<String>,
    pub public_ip: bool,
    pub ebs_optimized: bool,
    pub user_data: UserData,
    pub block_devices: Vec<BlockDevice>,
    /// Group tags, propagated to instances.
    pub tags: Vec<(String, String)>,
    pub termination_policies: Vec<String>,
    pub scheduled_actions: Vec<ScheduledAction>,
    pub policies: Vec<ScalingPolicySpec>,
    pub elb: Option<ElbPlan>,
    pub target_group: Option<TargetGroupPlan>,
    /// Static IPs with the subnet holding each (floating interfaces).
    pub floating_ips: Vec<(Ipv4Addr, String)>,
    pub smoke_test: bool,
    /// How many instances the smoke test waits for (the group's minimum, at least 1 when
    /// the group has a desired capacity).
    pub min_instances: u32,
    pub testing: bool,
    /// Instance types of the pipeline row that the ephemeral-disk table does not know.
    pub unknown_instance_types: Vec<String>,
    /// The alarms and log metrics made once the group exists (none for a testing group,
    /// as in the original).
    pub monitoring: Monitoring,
}

/// Why a hostclass cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("{hostclass}: no image (AMI) was found for it")]
    NoAmi { hostclass: String },
    #[error("{hostclass}: metanetwork {network} does not exist in environment {env}")]
    NoMetaNetwork {
        hostclass: String,
        network: MetaNetworkName,
        env: String,
    },
    #[error("{origin}: {ip}: {error}")]
    StaticIp {
        origin: String,
        ip: String,
        error: NetworkError,
    },
    #[error("{origin}: {ip} is not in any subnet of metanetwork {network} ({subnets})")]
    StaticIpOutside {
        origin: String,
        ip: Ipv4Addr,
        network: MetaNetworkName,
        subnets: String,
    },
    #[error("{hostclass}: {error}")]
    Elb { hostclass: String, error: ElbError },
    #[error("{hostclass}: {error}")]
    Storage {
        hostclass: String,
        error: TooManyDevices,
    },
}

/// Resolves a hostclass's static IPs against its metanetwork, with the subnet of each.
pub fn static_ips(
    settings: &HostclassSettings,
    net: &MetaNetworkFacts,
) -> Result<Vec<(Ipv4Addr, String)>, PlanError> {
    let origin = || {
        settings
            .ip_origin
            .clone()
            .unwrap_or_else(|| format!("[{}] ip_address", settings.hostclass))
    };
    let cidrs = net.cidrs();
    settings
        .ip_addresses
        .iter()
        .map(|ip| {
            let addr =
                network::resolve_static_ip(&cidrs, *ip).map_err(|error| PlanError::StaticIp {
                    origin: origin(),
                    ip: ip.to_string(),
                    error,
                })?;
            let subnet = net
                .subnets
                .iter()
                .find(|s| s.cidr.contains(&addr))
                .ok_or_else(|| PlanError::StaticIpOutside {
                    origin: origin(),
                    ip: addr,
                    network: net.name,
                    subnets: cidrs
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                })?;
            Ok((addr, subnet.id.clone()))
        })
        .collect()
}

/// The first static IP of another hostclass (proxy, logger, ...), for user-data.
pub fn first_static_ip(
    settings: &HostclassSettings,
    env: &EnvironmentFacts,
) -> Result<Option<Ipv4Addr>, PlanError> {
    if settings.ip_addresses.is_empty() {
        return Ok(None);
    }
    let Some(net) = env.metanetwork(settings.meta_network) else {
        return Ok(None);
    };
    Ok(static_ips(settings, net)?.first().map(|(ip, _)| *ip))
}

fn bool_str(b: bool) -> String {
    if b { "True" } else { "False" }.to_string()
}

/// The tags of a group (propagated to its instances), spec §4.7 step 11, plus
/// `productline`: `hostclass`, `application`, `owner`, `environment`,
/// `environment_class`, `chaos`, `is_testing`, `productline`, then the `tags` option.
pub fn group_tags(
    req: &ProvisionRequest,
    settings: &HostclassSettings,
    env: &EnvironmentFacts,
    chaos: bool,
) -> Vec<(String, String)> {
    let mut tags: Vec<(String, String)> = vec![
        ("hostclass".into(), req.hostclass.clone()),
        ("application".into(), req.hostclass.clone()),
        ("owner".into(), env.owner.clone()),
        ("environment".into(), env.env.clone()),
        ("environment_class".into(), env.environment_class.clone()),
        ("chaos".into(), bool_str(chaos)),
        (
            "is_testing".into(),
            if req.testing { "1" } else { "0" }.into(),
        ),
        ("productline".into(), settings.product_line.clone()),
    ];
    for (k, v) in &settings.tags {
        if let Some(existing) = tags.iter_mut().find(|(ek, _)| ek == k) {
            existing.1 = v.clone();
        } else {
            tags.push((k.clone(), v.clone()));
        }
    }
    tags
}

fn mappings_of(hc: &str, e: &ElbSettings) -> Result<Vec<elb::PortMapping>, PlanError> {
    elb::port_mappings(&PortOptions {
        elb_instance_port: e.instance_port.as_deref(),
        elb_instance_protocol: e.instance_protocol.as_deref(),
        elb_port: e.port.as_deref(),
        elb_protocol: e.protocol.as_deref(),
    })
    .map_err(|error| PlanError::Elb {
        hostclass: hc.to_string(),
        error,
    })
}

/// The classic load balancer of a hostclass with `elb=True` (spec §4.10), `None` without:
/// listeners from the port matrix, subnets and security group of `elb_meta_network` (else
/// the hostclass's metanetwork), CNAME `<hostclass>[-test]-<env>.<domain>`, tags
/// `hostclass`, `is_testing`, `environment`, `productline`.
pub fn elb_plan(
    hc: &str,
    testing: bool,
    settings: &HostclassSettings,
    env: &EnvironmentFacts,
) -> Result<Option<ElbPlan>, PlanError> {
    let Some(e) = &settings.elb else {
        return Ok(None);
    };
    let mappings = mappings_of(hc, e)?;
    let net_name = e.meta_network.unwrap_or(settings.meta_network);
    let net = env
        .metanetwork(net_name)
        .ok_or_else(|| PlanError::NoMetaNetwork {
            hostclass: hc.to_string(),
            network: net_name,
            env: env.env.clone(),
        })?;
    let human = elb::human_name(&env.env, hc, testing).map_err(|error| PlanError::Elb {
        hostclass: hc.to_string(),
        error,
    })?;
    let cname = settings
        .domain_name
        .as_deref()
        .map(|d| elb::cname(hc, &env.env, d, testing));
    let alias = match (&e.dns_alias, &settings.domain_name) {
        (Some(a), Some(d)) if !testing => Some(format!("{a}.{d}")),
        _ => None,
    };
    Ok(Some(ElbPlan {
        name: elb::elb_id(&human),
        human_name: human,
        certificate_name: e.cert_name.clone().or_else(|| cname.clone()),
        cname,
        alias,
        health_check_target: elb::health_check_target(&mappings, e.health_check_url.as_deref()),
        listeners: elb::listeners(&mappings),
        internal: !e.public,
        subnet_ids: net.subnets.iter().map(|s| s.id.clone()).collect(),
        security_group_ids: vec![net.security_group_id.clone()],
        idle_timeout: e.idle_timeout,
        connection_draining: e.connection_draining,
        cross_zone: e.cross_zone,
        stickiness: Stickiness::from_option(e.sticky_app_cookie.as_deref()),
        tags: vec![
            ("hostclass".into(), hc.to_string()),
            ("is_testing".into(), if testing { "1" } else { "0" }.into()),
            ("environment".into(), env.env.clone()),
            ("productline".into(), settings.product_line.clone()),
        ],
    }))
}

/// Plans one hostclass. `now` (unix seconds) names a new group.
pub fn plan_hostclass(
    req: &ProvisionRequest,
    settings: &HostclassSettings,
    env: &EnvironmentFacts,
    observed: &HostclassObservation,
    now: u64,
) -> Result<HostclassPlan, PlanError> {
    let hc = &req.hostclass;
    let ami = observed.ami.as_ref().ok_or_else(|| PlanError::NoAmi {
        hostclass: hc.clone(),
    })?;
    let net = env
        .metanetwork(settings.meta_network)
        .ok_or_else(|| PlanError::NoMetaNetwork {
            hostclass: hc.clone(),
            network: settings.meta_network,
            env: env.env.clone(),
        })?;
    let floating_ips = static_ips(settings, net)?;
    let subnet_ids: Vec<String> = if floating_ips.is_empty() {
        net.subnets.iter().map(|s| s.id.clone()).collect()
    } else {
        net.subnets
            .iter()
            .filter(|s| floating_ips.iter().any(|(_, id)| id == &s.id))
            .map(|s| s.id.clone())
            .collect()
    };

    let instance_types = req
        .instance_type
        .clone()
        .or_else(|| settings.instance_type.clone())
        .or_else(|| {
            observed
                .existing
                .as_ref()
                .and_then(|e| e.instance_type.clone())
        })
        .unwrap_or_else(|| DEFAULT_INSTANCE_TYPE.to_string());
    let instance_type = instance_types
        .split(':')
        .next()
        .filter(|t| !t.is_empty())
        .unwrap_or(DEFAULT_INSTANCE_TYPE)
        .to_string();
    let (ephemeral_disks, unknown_instance_types) = storage::ephemeral_disks_for(&instance_types);

    let is_spotinst = false;
    let user_data = UserData {
        hostclass: hc.clone(),
        http_proxy_ip: settings.enable_proxy.then_some(env.http_proxy_ip),
        logger_ip: env.logger_ip,
        logforwarder_ip: env.logforwarder_ip,
        environment_name: env.env.clone(),
        domain_name: settings.domain_name.clone(),
        owner: env.owner.clone(),
        credential_buckets: env.credential_buckets.clone(),
        zookeeper_hostclass: env.zookeeper_hostclass.clone(),
        eip: settings.eip.clone(),
        floating_ips: floating_ips.iter().map(|(ip, _)| *ip).collect(),
        smoketest_termination: settings.smoketest_termination,
        project_name: env.project_name.clone(),
        is_spotinst,
    };

    let block_devices = storage::block_device_mappings(&StorageRequest {
        ami_root_device: ami.root_device_name.clone(),
        ami_maps_sda: ami.maps_sda,
        extra_space: req.extra_space,
        snapshot: observed.snapshot.clone(),
        extra_disk: req.extra_disk,
        iops: req.iops,
        ephemeral_disks,
    })
    .map_err(|error| PlanError::Storage {
        hostclass: hc.clone(),
        error,
    })?;

    let chaos = req.chaos.unwrap_or(settings.chaos);
    let tags = group_tags(req, settings, env, chaos);

    let requested = RequestedSizes::from_specs(&req.min_size, &req.desired_size, &req.max_size);
    let existing = if req.create_if_exists {
        None
    } else {
        observed.existing.clone()
    };
    let (group_name, action) = match existing {
        Some(existing) => (
            existing.name.clone(),
            GroupAction::Update {
                sizes: requested,
                existing,
            },
        ),
        None => (
            autoscale::group_name(&env.env, hc, now),
            GroupAction::Create {
                sizes: requested.for_create(),
            },
        ),
    };
    let min_instances = match &action {
        GroupAction::Create { sizes } => sizes.min.max(u32::from(sizes.desired > 0)),
        GroupAction::Update { sizes, .. } => sizes
            .min
            .unwrap_or(0)
            .max(u32::from(sizes.desired.unwrap_or(0) > 0)),
    };
    let scheduled_actions =
        schedule::scaling_schedule(&group_name, &req.min_size, &req.desired_size, &req.max_size);

    let elb_plan = elb_plan(hc, req.testing, settings, env)?;
    let target_group = if settings.target_group {
        let mappings = match &settings.elb {
            Some(e) => mappings_of(hc, e)?,
            None => Vec::new(),
        };
        Some(elb::target_group_plan(
            &env.env,
            hc,
            &mappings,
            settings
                .elb
                .as_ref()
                .and_then(|e| e.health_check_url.as_deref()),
            tags.clone(),
        ))
    } else {
        None
    };

    Ok(HostclassPlan {
        hostclass: hc.clone(),
        sequence: req.sequence,
        group_name,
        action,
        ami_id: ami.id.clone(),
        ami_name: ami.name.clone(),
        ebs_optimized: storage::ebs_optimized(&instance_type),
        instance_type,
        meta_network: settings.meta_network,
        subnet_ids,
        security_group_id: net.security_group_id.clone(),
        key_name: settings.ssh_key_name.clone(),
        instance_profile: settings.instance_profile_name.clone(),
        public_ip: settings.public_ip,
        user_data,
        block_devices,
        tags,
        termination_policies: autoscale::termination_policies(&req.termination_policies),
        scheduled_actions,
        policies: autoscale::default_policies(),
        elb: elb_plan,
        target_group,
        floating_ips,
        smoke_test: req.smoke_test,
        min_instances,
        testing: req.testing,
        unknown_instance_types,
        monitoring: if req.testing {
            Monitoring::default()
        } else {
            settings.monitoring.clone()
        },
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::syntax::parse_size;

    pub(crate) fn env() -> EnvironmentFacts {
        let net = |name, sg: &str, base: u8| MetaNetworkFacts {
            name,
            security_group_id: sg.into(),
            subnets: (0..3)
                .map(|i| SubnetFacts {
                    id: format!("subnet-{sg}-{i}"),
                    availability_zone: format!("us-west-2{}", (b'a' + i) as char),
                    cidr: format!("10.101.{}.0/22", base + 4 * i).parse().unwrap(),
                })
                .collect(),
        };
        EnvironmentFacts {
            env: "demo".into(),
            environment_class: "development".into(),
            project_name: "example".into(),
            owner: "tester".into(),
            credential_buckets: vec!["us-west-2.example.credentials.demo".into()],
            zookeeper_hostclass: "mhczookeeper".into(),
            http_proxy_ip: None,
            logger_ip: None,
            logforwarder_ip: None,
            metanetworks: vec![
                net(MetaNetworkName::Intranet, "sg-intranet", 0),
                net(MetaNetworkName::Tunnel, "sg-tunnel", 16),
                net(MetaNetworkName::Dmz, "sg-dmz", 32),
            ],
        }
    }

    pub(crate) fn settings(hc: &str, net: MetaNetworkName) -> HostclassSettings {
        HostclassSettings {
            hostclass: hc.into(),
            meta_network: net,
            ip_addresses: vec![],
            ip_origin: None,
            eip: None,
            public_ip: false,
            ssh_key_name: None,
            instance_profile_name: Some("instance_example_common".into()),
            enable_proxy: false,
            smoketest_termination: true,
            domain_name: Some("sandbox.example.com".into()),
            product_line: "platform".into(),
            chaos: true,
            tags: vec![],
            spotinst: false,
            instance_type: None,
            elb: None,
            target_group: false,
            monitoring: Monitoring::default(),
        }
    }

    pub(crate) fn observed() -> HostclassObservation {
        HostclassObservation {
            ami: Some(AmiFacts {
                id: "ami-1".into(),
                name: "mhcapp 1700000000".into(),
                root_device_name: Some("/dev/sda1".into()),
                maps_sda: false,
            }),
            existing: None,
            snapshot: None,
        }
    }

    pub(crate) fn request(hc: &str) -> ProvisionRequest {
        ProvisionRequest {
            hostclass: hc.into(),
            sequence: 1,
            min_size: parse_size("1").unwrap(),
            desired_size: parse_size("2").unwrap(),
            max_size: parse_size("4").unwrap(),
            instance_type: Some("m5.large".into()),
            extra_disk: Some(50),
            iops: Some(1000),
            smoke_test: true,
            ..Default::default()
        }
    }

    #[test]
    fn new_group() {
        let mut s = settings("mhcapp", MetaNetworkName::Intranet);
        s.tags = vec![("team".into(), "core".into()), ("owner".into(), "x".into())];
        let p = plan_hostclass(&request("mhcapp"), &s, &env(), &observed(), 1_700_000_123).unwrap();
        assert_eq!(p.group_name, "demo_mhcapp_1700000123");
        assert_eq!(
            p.action,
            GroupAction::Create {
                sizes: GroupSizes {
                    min: 1,
                    desired: 2,
                    max: 4
                }
            }
        );
        assert_eq!(p.subnet_ids.len(), 3);
        assert_eq!(p.security_group_id, "sg-intranet");
        assert_eq!(p.instance_type, "m5.large");
        assert!(p.ebs_optimized);
        assert_eq!(p.block_devices.len(), 1);
        assert_eq!(p.termination_policies, vec!["OldestLaunchTemplate"]);
        assert_eq!(p.policies.len(), 2);
        assert!(p.scheduled_actions.is_empty());
        assert_eq!(p.min_instances, 1);
        let tags: std::collections::BTreeMap<_, _> = p.tags.iter().cloned().collect();
        assert_eq!(tags["hostclass"], "mhcapp");
        assert_eq!(tags["application"], "mhcapp");
        assert_eq!(tags["environment"], "demo");
        assert_eq!(tags["chaos"], "True");
        assert_eq!(tags["is_testing"], "0");
        assert_eq!(tags["team"], "core");
        assert_eq!(tags["owner"], "x");
        assert!(p.user_data.render().starts_with("hostclass=\"mhcapp\"\n"));
    }

    #[test]
    fn existing_group_is_updated() {
        let mut o = observed();
        o.existing = Some(ExistingGroup {
            name: "demo_mhcapp_1".into(),
            launch_template_id: Some("lt-1".into()),
            launch_template_name: Some("demo_mhcapp_1".into()),
            launch_configuration: None,
            instance_type: Some("t2.small".into()),
            load_balancers: vec![],
            target_group_arns: vec![],
        });
        let mut r = request("mhcapp");
        r.instance_type = None;
        let s = settings("mhcapp", MetaNetworkName::Intranet);
        let p = plan_hostclass(&r, &s, &env(), &o, 5).unwrap();
        assert_eq!(p.group_name, "demo_mhcapp_1");
        assert!(matches!(p.action, GroupAction::Update { .. }));
        assert_eq!(p.instance_type, "t2.small");
        r.create_if_exists = true;
        let p = plan_hostclass(&r, &s, &env(), &o, 5).unwrap();
        assert_eq!(p.group_name, "demo_mhcapp_5");
    }

    #[test]
    fn static_ips_pin_subnets() {
        let mut s = settings("mhcntp", MetaNetworkName::Tunnel);
        s.ip_addresses = vec![StaticIp::Offset(5)];
        s.public_ip = true;
        let p = plan_hostclass(&request("mhcntp"), &s, &env(), &observed(), 1).unwrap();
        assert_eq!(
            p.floating_ips,
            vec![(
                "10.101.16.5".parse().unwrap(),
                "subnet-sg-tunnel-0".to_string()
            )]
        );
        assert_eq!(p.subnet_ids, vec!["subnet-sg-tunnel-0"]);
        assert_eq!(p.user_data.floating_ips.len(), 1);
        s.ip_addresses = vec![StaticIp::Absolute("10.101.99.1".parse().unwrap())];
        s.ip_origin = Some("disco_aws.ini:9: [mhcntp] ip_address".into());
        let err = plan_hostclass(&request("mhcntp"), &s, &env(), &observed(), 1).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "disco_aws.ini:9: [mhcntp] ip_address: 10.101.99.1 is not in any subnet"
            ),
            "{err}"
        );
    }

    #[test]
    fn missing_metanetwork_and_ami() {
        let s = settings("mhcx", MetaNetworkName::Maintenance);
        assert!(matches!(
            plan_hostclass(&request("mhcx"), &s, &env(), &observed(), 1),
            Err(PlanError::NoMetaNetwork { .. })
        ));
        let s = settings("mhcx", MetaNetworkName::Intranet);
        assert!(matches!(
            plan_hostclass(
                &request("mhcx"),
                &s,
                &env(),
                &HostclassObservation::default(),
                1
            ),
            Err(PlanError::NoAmi { .. })
        ));
    }

    #[test]
    fn scheduled_sizes() {
        let mut r = request("mhcworker");
        r.min_size = parse_size("0").unwrap();
        r.desired_size = parse_size("2@0 8 * * 1-5:0@0 20 * * 1-5").unwrap();
        r.max_size = parse_size("2").unwrap();
        let s = settings("mhcworker", MetaNetworkName::Intranet);
        let p = plan_hostclass(&r, &s, &env(), &observed(), 7).unwrap();
        assert_eq!(
            p.action,
            GroupAction::Create {
                sizes: GroupSizes {
                    min: 0,
                    desired: 2,
                    max: 2
                }
            }
        );
        assert_eq!(p.scheduled_actions.len(), 2);
        assert_eq!(
            p.scheduled_actions[0].name,
            "demo_mhcworker_7_0_20_star_star_1-5"
        );
        assert_eq!(p.min_instances, 1);
    }

    #[test]
    fn elb_and_target_group() {
        let mut s = settings("mhcweb", MetaNetworkName::Dmz);
        s.elb = Some(ElbSettings {
            port: Some("80".into()),
            protocol: Some("HTTP".into()),
            instance_port: Some("80".into()),
            instance_protocol: Some("HTTP".into()),
            health_check_url: Some("/health".into()),
            public: true,
            idle_timeout: 60,
            connection_draining: 30,
            cross_zone: true,
            ..Default::default()
        });
        s.target_group = true;
        let mut r = request("mhcweb");
        r.testing = true;
        let p = plan_hostclass(&r, &s, &env(), &observed(), 1).unwrap();
        let e = p.elb.unwrap();
        assert_eq!(e.human_name, "demo-mhcweb-test");
        assert_eq!(e.name, elb::elb_id("demo-mhcweb-test"));
        assert_eq!(
            e.cname.as_deref(),
            Some("mhcweb-test-demo.sandbox.example.com")
        );
        assert_eq!(e.health_check_target, "HTTP:80/health");
        assert!(!e.internal);
        assert_eq!(e.subnet_ids.len(), 3);
        assert_eq!(e.security_group_ids, vec!["sg-dmz"]);
        let tg = p.target_group.unwrap();
        assert_eq!(tg.name, "demo-mhcweb");
        assert_eq!(tg.health_check_path.as_deref(), Some("/health"));
    }

    #[test]
    fn first_static_ip_of_other_hostclass() {
        let mut s = settings("mhcproxy", MetaNetworkName::Tunnel);
        assert_eq!(first_static_ip(&s, &env()).unwrap(), None);
        s.ip_addresses = vec![StaticIp::Offset(7)];
        assert_eq!(
            first_static_ip(&s, &env()).unwrap(),
            Some("10.101.16.7".parse().unwrap())
        );
    }
}
