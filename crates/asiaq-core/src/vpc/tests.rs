//! Plans of create, update and destroy on hand-made states.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::SeedableRng;

use super::destroy::{plan_destroy, DestroyError};
use super::plan::{Action, Plan};
use super::reconcile::*;
use super::state::*;
use crate::sg_rules::CustomerAccess;
use crate::syntax::{parse_sg_rules, MetaNetworkCidr, MetaNetworkName, NatGatewaySpec, StaticIp};

use MetaNetworkName::*;

fn net(s: &str) -> ipnet::Ipv4Net {
    s.parse().unwrap()
}

fn config() -> EnvConfig {
    let n = |name, cidr: &str, rules: &str, igw: &[&str], nat| NetConfig {
        name,
        cidr: MetaNetworkCidr::Static(net(cidr)),
        sg_rules: parse_sg_rules(rules).unwrap(),
        igw_routes: igw.iter().map(|c| net(c)).collect(),
        vgw_routes: vec![],
        nat_gateways: nat,
    };
    EnvConfig {
        name: "demo".into(),
        env_type: "sandbox".into(),
        vpc_cidr: VpcCidr::Static(net("10.101.0.0/16")),
        nets: vec![
            n(
                Intranet,
                "10.101.0.0/20",
                "tcp all 0:65535",
                &[],
                NatGatewaySpec::None,
            ),
            n(
                Tunnel,
                "10.101.16.0/20",
                "tcp all 80 443",
                &["0.0.0.0/0"],
                NatGatewaySpec::Auto,
            ),
        ],
        customer: CustomerAccess::default(),
        nat_gateway_routes: vec![(Intranet, Tunnel)],
        dhcp: DhcpConfig {
            internal_dns: Some("AmazonProvidedDNS".into()),
            external_dns: None,
            domain_name: Some("example.internal".into()),
            ntp_servers: vec![],
            ntp_by_offset: Some((Tunnel, StaticIp::Offset(5))),
        },
        application: Some("example".into()),
        extra_tags: vec![("team".into(), "astro".into())],
        notifications: vec![],
    }
}

fn ctx() -> PlanContext {
    PlanContext {
        zones: vec!["az-a".into(), "az-b".into(), "az-c".into(), "az-d".into()],
        now: "2024-01-01T00:00:00Z".into(),
        s3_service_name: "com.amazonaws.us-west-2.s3".into(),
        static_ips: vec![StaticIpRequest {
            hostclass: "mhcntp".into(),
            metanetwork: Tunnel,
            ip: StaticIp::Offset(5),
        }],
        ..PlanContext::default()
    }
}

fn count(plan: &Plan, name: &str) -> usize {
    plan.steps
        .iter()
        .filter(|s| s.action.name() == name)
        .count()
}

fn find(plan: &Plan, f: impl Fn(&Action) -> bool) -> usize {
    plan.position(f).expect("step present")
}

fn create_plan() -> PlanOutcome {
    let state = VpcState {
        name: "demo".into(),
        ..VpcState::default()
    };
    plan_environment(&config(), &state, &ctx(), &mut StdRng::seed_from_u64(1)).unwrap()
}

#[test]
fn create_and_update_make_the_notification_topics_once() {
    use crate::plan::notifications::{DesiredTopic, ObservedSubscription, ObservedTopic};
    let mut cfg = config();
    cfg.notifications = vec![DesiredTopic {
        name: "team_demo_critical".into(),
        endpoints: vec!["ops@example.com".into()],
    }];
    let state = VpcState {
        name: "demo".into(),
        ..VpcState::default()
    };
    let p = plan_environment(&cfg, &state, &ctx(), &mut StdRng::seed_from_u64(1))
        .unwrap()
        .plan;
    assert_eq!(count(&p, "CreateTopic"), 1);
    assert_eq!(count(&p, "Subscribe"), 1);
    let topic = find(&p, |a| a.name() == "CreateTopic");
    let sub = find(&p, |a| a.name() == "Subscribe");
    assert!(p.depends_on(sub, topic));
    let mut with_topic = ctx();
    with_topic.topics = vec![ObservedTopic {
        name: "team_demo_critical".into(),
        arn: "arn:aws:sns:us-west-2:1:team_demo_critical".into(),
        subscriptions: vec![ObservedSubscription {
            arn: "arn:sub".into(),
            protocol: "email".into(),
            endpoint: "ops@example.com".into(),
        }],
    }];
    let p = plan_environment(&cfg, &state, &with_topic, &mut StdRng::seed_from_u64(1))
        .unwrap()
        .plan;
    assert_eq!(count(&p, "CreateTopic") + count(&p, "Subscribe"), 0);
}

#[test]
fn create_plan_makes_every_resource_once() {
    let out = create_plan();
    let p = &out.plan;
    assert_eq!(count(p, "CreateVpc"), 1);
    assert_eq!(count(p, "CreateSecurityGroup"), 2);
    // 2 metanetworks x 3 AZs (of 4): one subnet and one route table each.
    assert_eq!(count(p, "CreateSubnet"), 6);
    assert_eq!(count(p, "CreateRouteTable"), 6);
    assert_eq!(count(p, "AssociateRouteTable"), 6);
    assert_eq!(count(p, "AllocateAddress"), 3);
    assert_eq!(count(p, "CreateNatGateway"), 3);
    assert_eq!(count(p, "CreateInternetGateway"), 1);
    assert_eq!(count(p, "CreateVpcEndpoint"), 1);
    assert_eq!(count(p, "CreateNetworkInterface"), 1);
    // tunnel: 3 igw routes; intranet: 3 NAT routes.
    assert_eq!(count(p, "CreateRoute"), 6);
    assert_eq!(count(p, "AuthorizeIngress"), 2);
    assert!(out.notes.is_empty(), "{:?}", out.notes);
}

#[test]
fn create_plan_tags_and_names() {
    let p = create_plan().plan;
    let Action::CreateVpc { tags, cidr, .. } = &p.steps[0].action else {
        panic!("first step creates the VPC")
    };
    assert_eq!(cidr, "10.101.0.0/16");
    let keys: Vec<&str> = tags.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "Name",
            "type",
            "create_date",
            "application",
            "team",
            OWNER_TAG
        ]
    );
    let sub = p
        .steps
        .iter()
        .find_map(|s| match &s.action {
            Action::CreateSubnet {
                tags,
                cidr,
                availability_zone,
                ..
            } if availability_zone == "az-b" && cidr.starts_with("10.101.20.") => {
                Some((tags.clone(), cidr.clone()))
            }
            _ => None,
        })
        .unwrap();
    // tunnel /20 over 3 AZs: /22 pieces, the second for az-b.
    assert_eq!(sub.1, "10.101.20.0/22");
    let t: BTreeMap<_, _> = sub.0.into_iter().collect();
    assert_eq!(t["Name"], "demo_tunnel_az-b");
    assert_eq!(t["meta_network"], "tunnel");
    assert_eq!(t["subnet"], "az-b");
    assert_eq!(t["type"], "sandbox");
    assert_eq!(t[OWNER_TAG], "demo");
    let sg = p
        .steps
        .iter()
        .find_map(|s| match &s.action {
            Action::CreateSecurityGroup {
                name, description, ..
            } if name == "demo_intranet" => Some(description.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(sg, "Inter host");
}

#[test]
fn create_plan_dhcp_ntp_by_offset_and_floating_ip() {
    let p = create_plan().plan;
    let config = p
        .steps
        .iter()
        .find_map(|s| match &s.action {
            Action::CreateDhcpOptions { config, .. } => Some(config.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(config["ntp-servers"], vec!["10.101.16.5".to_string()]);
    assert_eq!(
        config["domain-name-servers"],
        vec!["AmazonProvidedDNS".to_string()]
    );
    assert_eq!(config["domain-name"], vec!["example.internal".to_string()]);
    assert!(p.steps.iter().any(|s| matches!(&s.action,
        Action::CreateNetworkInterface { private_ip, description, subnet, .. }
            if private_ip == "10.101.16.5" && description == "floating interface" && subnet == "${subnet:tunnel:az-a}")));
}

#[test]
fn create_plan_critical_path_is_short() {
    let p = create_plan().plan;
    // CreateVpc -> CreateSubnet/CreateSecurityGroup/... -> AllocateAddress is independent;
    // CreateNatGateway -> NAT route. Depth: vpc, subnet, nat, route = 4.
    assert_eq!(p.depth(), 4, "{p}");
    let vpc = 0;
    for s in &p.steps[1..] {
        let needs_vpc = !matches!(
            s.action,
            Action::CreateInternetGateway { .. }
                | Action::AllocateAddress { .. }
                | Action::CreateDhcpOptions { .. }
        );
        assert_eq!(p.depends_on(s.id, vpc), needs_vpc, "{}", s.action);
    }
    // NAT routes go through the tunnel NAT of the same AZ.
    let route = find(&p, |a| {
        matches!(a, Action::CreateRoute { route_table, target: RouteTarget::NatGateway(n), .. }
        if route_table == "${rt:intranet:az-c}" && n == "${nat:tunnel:az-c}")
    });
    let nat = find(
        &p,
        |a| matches!(a, Action::CreateNatGateway { key, .. } if key == "nat:tunnel:az-c"),
    );
    assert!(p.depends_on(route, nat));
}

#[test]
fn create_with_random_cidrs() {
    let mut cfg = config();
    cfg.vpc_cidr = VpcCidr::Random {
        ip_space: net("10.0.0.0/24"),
        size: 26,
    };
    for n in &mut cfg.nets {
        n.cidr = MetaNetworkCidr::Auto;
    }
    let mut c = ctx();
    c.occupied = vec![net("10.0.0.0/26")];
    let state = VpcState::default();
    let out = plan_environment(&cfg, &state, &c, &mut StdRng::seed_from_u64(7)).unwrap();
    let cidr = out.vpc_cidr.unwrap();
    assert!(["10.0.0.64/26", "10.0.0.128/26", "10.0.0.192/26"].contains(&cidr.to_string().as_str()));
}

/// An observed environment equal to what the create plan makes.
pub(crate) fn built_state() -> VpcState {
    let tags = |net: &str, az: &str| -> Tags {
        BTreeMap::from([
            ("Name".to_string(), format!("demo_{net}_{az}")),
            ("meta_network".to_string(), net.to_string()),
            (OWNER_TAG.to_string(), "demo".to_string()),
        ])
    };
    let mut s = VpcState {
        name: "demo".into(),
        vpc: Some(VpcInfo {
            id: "vpc-1".into(),
            cidr: net("10.101.0.0/16"),
            tags: BTreeMap::from([
                ("Name".into(), "demo".into()),
                ("type".into(), "sandbox".into()),
            ]),
            dhcp_options_id: Some("dopt-1".into()),
        }),
        ..VpcState::default()
    };
    s.route_tables.push(RouteTableInfo {
        id: "rtb-main".into(),
        vpc_id: "vpc-1".into(),
        tags: Tags::new(),
        main: true,
        subnet_ids: vec![],
        routes: vec![RouteInfo {
            destination: net("10.101.0.0/16"),
            target: RouteTarget::Local,
        }],
    });
    for (net_name, base) in [("intranet", 0), ("tunnel", 16)] {
        let gid = format!("sg-{net_name}");
        s.security_groups.push(SecurityGroupInfo {
            id: gid.clone(),
            name: format!("demo_{net_name}"),
            tags: BTreeMap::from([("meta_network".to_string(), net_name.to_string())]),
            ingress: vec![],
            egress: vec![Permission {
                protocol: "-1".into(),
                from_port: None,
                to_port: None,
                source: PermissionSource::Cidr("0.0.0.0/0".into()),
            }],
        });
        for (i, az) in ["az-a", "az-b", "az-c"].iter().enumerate() {
            let sid = format!("subnet-{net_name}-{az}");
            s.subnets.push(SubnetInfo {
                id: sid.clone(),
                availability_zone: az.to_string(),
                cidr: net(&format!("10.101.{}.0/22", base + 4 * i)),
                tags: tags(net_name, az),
            });
            let mut routes = vec![RouteInfo {
                destination: net("10.101.0.0/16"),
                target: RouteTarget::Local,
            }];
            if net_name == "tunnel" {
                routes.push(RouteInfo {
                    destination: net("0.0.0.0/0"),
                    target: RouteTarget::Gateway("igw-1".into()),
                });
                s.addresses.push(AddressInfo {
                    allocation_id: format!("eipalloc-{az}"),
                    public_ip: format!("52.0.0.{i}"),
                    association_id: Some(format!("eipassoc-{az}")),
                    instance_id: None,
                    network_interface_id: None,
                    tags: BTreeMap::from([("dynamic".to_string(), "true".to_string())]),
                });
                s.nat_gateways.push(NatGatewayInfo {
                    id: format!("nat-{az}"),
                    subnet_id: sid.clone(),
                    state: "available".into(),
                    allocation_ids: vec![format!("eipalloc-{az}")],
                    public_ips: vec![format!("52.0.0.{i}")],
                    tags: tags(net_name, az),
                });
            } else {
                routes.push(RouteInfo {
                    destination: net("0.0.0.0/0"),
                    target: RouteTarget::NatGateway(format!("nat-{az}")),
                });
            }
            s.route_tables.push(RouteTableInfo {
                id: format!("rtb-{net_name}-{az}"),
                vpc_id: "vpc-1".into(),
                tags: tags(net_name, az),
                main: false,
                subnet_ids: vec![sid],
                routes,
            });
        }
    }
    let rule = |_g: &str, src: &str, from: i32, to: i32| Permission {
        protocol: "tcp".into(),
        from_port: Some(from),
        to_port: Some(to),
        source: PermissionSource::Group(src.into()),
    };
    s.security_groups[0].ingress = vec![
        rule("sg-intranet", "sg-intranet", 0, 65535),
        rule("sg-intranet", "sg-tunnel", 0, 65535),
    ];
    s.security_groups[1].ingress = vec![
        rule("sg-tunnel", "sg-intranet", 80, 80),
        rule("sg-tunnel", "sg-tunnel", 80, 80),
        rule("sg-tunnel", "sg-intranet", 443, 443),
        rule("sg-tunnel", "sg-tunnel", 443, 443),
    ];
    s.internet_gateways.push(GatewayInfo {
        id: "igw-1".into(),
        attachments: vec![("vpc-1".into(), "available".into())],
        tags: Tags::new(),
    });
    s.dhcp_options.push(DhcpOptionsInfo {
        id: "dopt-1".into(),
        config: BTreeMap::from([
            (
                "domain-name".to_string(),
                vec!["example.internal".to_string()],
            ),
            (
                "domain-name-servers".to_string(),
                vec!["AmazonProvidedDNS".to_string()],
            ),
            ("ntp-servers".to_string(), vec!["10.101.16.5".to_string()]),
        ]),
        tags: BTreeMap::from([("Name".to_string(), "demo".to_string())]),
    });
    s.network_interfaces.push(InterfaceInfo {
        id: "eni-1".into(),
        subnet_id: "subnet-tunnel-az-a".into(),
        private_ip: "10.101.16.5".into(),
        description: "floating interface".into(),
        attachment_id: None,
        requester_managed: false,
        tags: Tags::new(),
    });
    let mut tables: Vec<String> = s
        .route_tables
        .iter()
        .filter(|t| !t.main)
        .map(|t| t.id.clone())
        .collect();
    tables.sort();
    s.endpoints.push(EndpointInfo {
        id: "vpce-1".into(),
        service_name: "com.amazonaws.us-west-2.s3".into(),
        route_table_ids: tables,
        state: "available".into(),
    });
    s
}

fn update(cfg: &EnvConfig, state: &VpcState) -> PlanOutcome {
    plan_environment(cfg, state, &ctx(), &mut StdRng::seed_from_u64(1)).unwrap()
}

#[test]
fn update_of_an_unchanged_environment_is_empty() {
    let out = update(&config(), &built_state());
    assert!(out.plan.is_empty(), "{}", out.plan);
}

#[test]
fn update_sg_rule_added_and_removed() {
    let mut cfg = config();
    cfg.nets[1].sg_rules = parse_sg_rules("tcp all 80, tcp intranet 22").unwrap();
    let p = update(&cfg, &built_state()).plan;
    assert_eq!(p.len(), 2, "{p}");
    assert!(p.steps.iter().any(
        |s| matches!(&s.action, Action::AuthorizeIngress { group, permissions }
        if group == "sg-tunnel" && permissions.len() == 1 && permissions[0].from_port == Some(22))
    ));
    assert!(p.steps.iter().any(|s| matches!(&s.action, Action::RevokeIngress { group, permissions }
        if group == "sg-tunnel" && permissions.len() == 2 && permissions.iter().all(|p| p.from_port == Some(443)))));
}

#[test]
fn update_igw_route_changed() {
    let mut cfg = config();
    cfg.nets[1].igw_routes = vec![net("54.201.1.1/32")];
    let p = update(&cfg, &built_state()).plan;
    assert_eq!(count(&p, "DeleteRoute"), 3, "{p}");
    assert_eq!(count(&p, "CreateRoute"), 3, "{p}");
}

/// NAT plan: `auto` -> none deletes the NAT gateways after the routes stop using them,
/// then releases their dynamic EIPs.
#[test]
fn update_nat_toggled_off() {
    let mut cfg = config();
    cfg.nets[1].nat_gateways = NatGatewaySpec::None;
    cfg.nat_gateway_routes.clear();
    let p = update(&cfg, &built_state()).plan;
    assert_eq!(count(&p, "DeleteNatGateway"), 3, "{p}");
    assert_eq!(count(&p, "ReleaseAddress"), 3, "{p}");
    assert_eq!(count(&p, "DeleteRoute"), 3, "{p}");
    let route = find(
        &p,
        |a| matches!(a, Action::DeleteRoute { route_table, .. } if route_table == "rtb-intranet-az-a"),
    );
    let nat = find(
        &p,
        |a| matches!(a, Action::DeleteNatGateway { nat_gateway } if nat_gateway == "nat-az-a"),
    );
    let eip = find(
        &p,
        |a| matches!(a, Action::ReleaseAddress { allocation_id, .. } if allocation_id == "eipalloc-az-a"),
    );
    assert!(p.depends_on(nat, route));
    assert!(p.depends_on(eip, nat));
}

/// NAT plan: none -> auto allocates a dynamic EIP and creates a NAT per subnet, and the
/// route of each source subnet goes to the NAT of its AZ.
#[test]
fn update_nat_toggled_on() {
    let mut state = built_state();
    state.nat_gateways.clear();
    state.addresses.clear();
    for t in &mut state.route_tables {
        t.routes
            .retain(|r| !matches!(r.target, RouteTarget::NatGateway(_)));
    }
    let p = update(&config(), &state).plan;
    assert_eq!(count(&p, "AllocateAddress"), 3, "{p}");
    assert_eq!(count(&p, "CreateNatGateway"), 3, "{p}");
    assert_eq!(count(&p, "CreateRoute"), 3, "{p}");
    assert!(p
        .steps
        .iter()
        .any(|s| matches!(&s.action, Action::AllocateAddress { tags, .. }
        if tags.iter().any(|(k, v)| k == "dynamic" && v == "true"))));
}

/// NAT plan: static EIPs must be one per subnet, and must exist.
#[test]
fn nat_static_eips_checked() {
    let mut cfg = config();
    cfg.nets[1].nat_gateways = NatGatewaySpec::Static(vec!["52.1.1.1".parse().unwrap()]);
    let err =
        plan_environment(&cfg, &built_state(), &ctx(), &mut StdRng::seed_from_u64(1)).unwrap_err();
    assert!(
        matches!(
            err,
            PlanError::NatEipCount {
                eips: 1,
                subnets: 3,
                ..
            }
        ),
        "{err}"
    );
    cfg.nets[1].nat_gateways = NatGatewaySpec::Static(vec![
        "52.1.1.1".parse().unwrap(),
        "52.1.1.2".parse().unwrap(),
        "52.1.1.3".parse().unwrap(),
    ]);
    let err =
        plan_environment(&cfg, &built_state(), &ctx(), &mut StdRng::seed_from_u64(1)).unwrap_err();
    assert!(matches!(err, PlanError::UnknownEip { .. }), "{err}");
    // With the EIPs known: the dynamic NATs are replaced by static ones.
    let mut c = ctx();
    for (i, ip) in ["52.1.1.1", "52.1.1.2", "52.1.1.3"].iter().enumerate() {
        c.static_eips.insert(
            ip.parse().unwrap(),
            AddressInfo {
                allocation_id: format!("eipalloc-s{i}"),
                public_ip: ip.to_string(),
                association_id: None,
                instance_id: None,
                network_interface_id: None,
                tags: Tags::new(),
            },
        );
    }
    let p = plan_environment(&cfg, &built_state(), &c, &mut StdRng::seed_from_u64(1))
        .unwrap()
        .plan;
    assert_eq!(count(&p, "CreateNatGateway"), 3, "{p}");
    assert_eq!(count(&p, "DeleteNatGateway"), 3, "{p}");
    assert_eq!(count(&p, "ReleaseAddress"), 3, "{p}");
    assert_eq!(count(&p, "AllocateAddress"), 0, "{p}");
    assert_eq!(count(&p, "ReplaceRoute"), 3, "{p}");
}

#[test]
fn update_dhcp_changed_replaces_options() {
    let mut cfg = config();
    cfg.dhcp.domain_name = Some("other.internal".into());
    let p = update(&cfg, &built_state()).plan;
    let create = find(&p, |a| matches!(a, Action::CreateDhcpOptions { .. }));
    let assoc = find(&p, |a| matches!(a, Action::AssociateDhcpOptions { .. }));
    let delete = find(
        &p,
        |a| matches!(a, Action::DeleteDhcpOptions { dhcp_options } if dhcp_options == "dopt-1"),
    );
    assert!(p.depends_on(assoc, create));
    assert!(p.depends_on(delete, assoc));
    assert_eq!(p.len(), 3);
}

#[test]
fn update_peering_added_and_removed() {
    use super::peering::{Connection, ResolvedEndpoint};
    let mut state = built_state();
    state.peerings.push(PeeringInfo {
        id: "pcx-old".into(),
        requester_vpc_id: "vpc-1".into(),
        accepter_vpc_id: "vpc-gone".into(),
        requester_cidr: None,
        accepter_cidr: None,
        status: "active".into(),
        tags: Tags::new(),
    });
    state.route_tables[1].routes.push(RouteInfo {
        destination: net("10.50.0.0/20"),
        target: RouteTarget::Peering("pcx-old".into()),
    });
    let end = |vpc: &str, name: &str, n| ResolvedEndpoint {
        vpc_id: vpc.into(),
        name: name.into(),
        env_type: "sandbox".into(),
        metanetwork: n,
    };
    let peer_rt = RouteTableInfo {
        id: "rtb-peer".into(),
        vpc_id: "vpc-2".into(),
        tags: BTreeMap::from([("meta_network".to_string(), "tunnel".to_string())]),
        main: false,
        subnet_ids: vec![],
        routes: vec![],
    };
    let old_rt = RouteTableInfo {
        id: "rtb-gone".into(),
        vpc_id: "vpc-gone".into(),
        tags: Tags::new(),
        main: false,
        subnet_ids: vec![],
        routes: vec![RouteInfo {
            destination: net("10.101.0.0/20"),
            target: RouteTarget::Peering("pcx-old".into()),
        }],
    };
    let mut c = ctx();
    c.peering = Some(PeeringInputs {
        connections: vec![Connection {
            a: end("vpc-1", "demo", Intranet),
            b: end("vpc-2", "build", Tunnel),
        }],
        peers: BTreeMap::from([
            (
                "vpc-2".to_string(),
                PeerVpc {
                    vpc_id: "vpc-2".into(),
                    name: "build".into(),
                    nets: BTreeMap::from([(Tunnel, net("10.100.16.0/20"))]),
                    route_tables: vec![peer_rt],
                },
            ),
            (
                "vpc-gone".to_string(),
                PeerVpc {
                    vpc_id: "vpc-gone".into(),
                    name: "gone".into(),
                    nets: BTreeMap::new(),
                    route_tables: vec![old_rt],
                },
            ),
        ]),
    });
    let p = plan_environment(&config(), &state, &c, &mut StdRng::seed_from_u64(1))
        .unwrap()
        .plan;
    let create = find(
        &p,
        |a| matches!(a, Action::CreatePeering { accepter_vpc, .. } if accepter_vpc == "vpc-2"),
    );
    // intranet's 3 tables get a route to build's tunnel; build's tunnel table one back.
    let routes: Vec<usize> = p.steps.iter().filter(|s| matches!(&s.action, Action::CreateRoute { target: RouteTarget::Peering(x), .. } if x == "${pcx:vpc-2}")).map(|s| s.id).collect();
    assert_eq!(routes.len(), 4, "{p}");
    assert!(routes.iter().all(|r| p.depends_on(*r, create)));
    // The unconfigured peering goes, after its routes on both sides.
    let del = find(
        &p,
        |a| matches!(a, Action::DeletePeering { peering } if peering == "pcx-old"),
    );
    let r1 = find(
        &p,
        |a| matches!(a, Action::DeleteRoute { route_table, .. } if route_table == "rtb-gone"),
    );
    let r2 = find(
        &p,
        |a| matches!(a, Action::DeleteRoute { route_table, destination } if route_table == "rtb-intranet-az-a" && destination == "10.50.0.0/20"),
    );
    assert!(p.depends_on(del, r1) && p.depends_on(del, r2));
}

// --- destroy ------------------------------------------------------------------------------

#[test]
fn destroy_order_follows_real_dependencies() {
    let mut state = built_state();
    state.vpn_gateways.push(GatewayInfo {
        id: "vgw-1".into(),
        attachments: vec![("vpc-1".into(), "attached".into())],
        tags: Tags::new(),
    });
    let p = plan_destroy(&state, &[]).unwrap();
    let pos = |f: &dyn Fn(&Action) -> bool| find(&p, f);
    let nat = pos(
        &|a| matches!(a, Action::DeleteNatGateway { nat_gateway } if nat_gateway == "nat-az-a"),
    );
    let eip = pos(
        &|a| matches!(a, Action::ReleaseAddress { allocation_id, .. } if allocation_id == "eipalloc-az-a"),
    );
    let subnet =
        pos(&|a| matches!(a, Action::DeleteSubnet { subnet } if subnet == "subnet-tunnel-az-a"));
    let eni = pos(&|a| matches!(a, Action::DeleteNetworkInterface { .. }));
    let revoke =
        pos(&|a| matches!(a, Action::RevokeIngress { group, .. } if group == "sg-intranet"));
    let sg = pos(&|a| matches!(a, Action::DeleteSecurityGroup { group } if group == "sg-tunnel"));
    let detach = pos(&|a| matches!(a, Action::DetachInternetGateway { .. }));
    let igw = pos(&|a| matches!(a, Action::DeleteInternetGateway { .. }));
    let vgw = pos(&|a| matches!(a, Action::DetachVpnGateway { .. }));
    let endpoint = pos(&|a| matches!(a, Action::DeleteVpcEndpoint { .. }));
    let table = pos(
        &|a| matches!(a, Action::DeleteRouteTable { route_table } if route_table == "rtb-tunnel-az-a"),
    );
    let vpc = pos(&|a| matches!(a, Action::DeleteVpc { .. }));
    let dhcp = pos(&|a| matches!(a, Action::DeleteDhcpOptions { .. }));
    assert!(p.depends_on(eip, nat));
    assert!(p.depends_on(subnet, nat));
    assert!(p.depends_on(subnet, eni));
    assert!(p.depends_on(sg, revoke));
    assert!(p.depends_on(sg, eni));
    assert!(p.depends_on(detach, nat));
    assert!(p.depends_on(igw, detach));
    assert!(p.depends_on(table, subnet));
    assert!(p.depends_on(table, endpoint));
    for x in [nat, subnet, eni, sg, igw, vgw, endpoint, table] {
        assert!(p.depends_on(vpc, x), "{}", p.steps[x].action);
    }
    assert!(p.depends_on(dhcp, vpc));
    // The main table and the default group are never deleted; VGWs only detached.
    assert!(!p.steps.iter().any(|s| matches!(&s.action, Action::DeleteRouteTable { route_table } if route_table == "rtb-main")));
    assert_eq!(count(&p, "DeleteSecurityGroup"), 2);
    // Each of the 4 tables... 6 non-main route tables are deleted.
    assert_eq!(count(&p, "DeleteRouteTable"), 6);
}

#[test]
fn destroy_deletes_occupants_first_and_refuses_unsupported_ones() {
    let mut state = built_state();
    state.occupants.instances = vec!["i-1".into()];
    state.occupants.classic_elbs = vec!["web".into()];
    let p = plan_destroy(&state, &[]).unwrap();
    assert_eq!(count(&p, "DeleteClassicLoadBalancer"), 1);
    let term = find(&p, |a| matches!(a, Action::TerminateInstances { .. }));
    let nat = find(&p, |a| matches!(a, Action::DeleteNatGateway { .. }));
    let sg = find(&p, |a| matches!(a, Action::DeleteSecurityGroup { .. }));
    assert!(p.depends_on(nat, term) && p.depends_on(sg, term));
    state.occupants.rds_instances = vec!["db".into()];
    assert!(matches!(
        plan_destroy(&state, &[]),
        Err(DestroyError::Unsupported(_))
    ));
}

#[test]
fn destroy_deletes_peering_routes_on_both_sides_first() {
    let mut state = built_state();
    state.peerings.push(PeeringInfo {
        id: "pcx-1".into(),
        requester_vpc_id: "vpc-1".into(),
        accepter_vpc_id: "vpc-2".into(),
        requester_cidr: None,
        accepter_cidr: None,
        status: "active".into(),
        tags: Tags::new(),
    });
    let peer = RouteTableInfo {
        id: "rtb-peer".into(),
        vpc_id: "vpc-2".into(),
        tags: Tags::new(),
        main: false,
        subnet_ids: vec![],
        routes: vec![RouteInfo {
            destination: net("10.101.0.0/20"),
            target: RouteTarget::Peering("pcx-1".into()),
        }],
    };
    let p = plan_destroy(&state, &[peer]).unwrap();
    let route = find(
        &p,
        |a| matches!(a, Action::DeleteRoute { route_table, .. } if route_table == "rtb-peer"),
    );
    let pcx = find(&p, |a| matches!(a, Action::DeletePeering { .. }));
    assert!(p.depends_on(pcx, route));
}

#[test]
fn destroy_of_leftovers_without_vpc() {
    // A create that failed after allocating an EIP and creating DHCP options.
    let state = VpcState {
        name: "demo".into(),
        addresses: vec![AddressInfo {
            allocation_id: "eipalloc-9".into(),
            public_ip: "52.9.9.9".into(),
            association_id: None,
            instance_id: None,
            network_interface_id: None,
            tags: BTreeMap::from([(OWNER_TAG.to_string(), "demo".to_string())]),
        }],
        dhcp_options: vec![DhcpOptionsInfo {
            id: "dopt-9".into(),
            config: BTreeMap::new(),
            tags: BTreeMap::from([(OWNER_TAG.to_string(), "demo".to_string())]),
        }],
        internet_gateways: vec![GatewayInfo {
            id: "igw-9".into(),
            attachments: vec![],
            tags: Tags::new(),
        }],
        ..VpcState::default()
    };
    let p = plan_destroy(&state, &[]).unwrap();
    assert_eq!(count(&p, "ReleaseAddress"), 1);
    assert_eq!(count(&p, "DeleteDhcpOptions"), 1);
    assert_eq!(count(&p, "DeleteInternetGateway"), 1);
    assert_eq!(count(&p, "DeleteVpc"), 0);
}

#[test]
fn destroy_deletes_what_watches_the_environment() {
    let state = VpcState {
        name: "demo".into(),
        monitoring: EnvMonitoring {
            alarms: (0..150).map(|i| format!("t_demo_mhc{i}_M_max")).collect(),
            metric_filters: vec![("demo/mhcapp/log".into(), "mhcapp-Errors".into())],
            log_groups: vec!["demo/mhcapp/log".into(), "demo/mhcweb/log".into()],
        },
        ..VpcState::default()
    };
    let p = plan_destroy(&state, &[]).unwrap();
    assert_eq!(count(&p, "DeleteAlarms"), 2);
    assert_eq!(count(&p, "DeleteMetricFilter"), 1);
    assert_eq!(count(&p, "DeleteLogGroup"), 2);
    let filter = p.position(|a| a.name() == "DeleteMetricFilter").unwrap();
    let group = p
        .position(|a| a.to_string() == "delete log group demo/mhcapp/log")
        .unwrap();
    assert!(p.depends_on(group, filter));
}

#[test]
fn destroy_rerun_releases_addresses_of_already_deleted_gateways() {
    // A destroy interrupted after deleting the NAT gateways: the gateways are `deleted` but
    // their owned EIPs may still report the association.
    let mut state = built_state();
    for g in &mut state.nat_gateways {
        g.state = "deleted".into();
    }
    for a in &mut state.addresses {
        a.tags.insert(OWNER_TAG.to_string(), "demo".to_string());
    }
    let p = plan_destroy(&state, &[]).unwrap();
    assert_eq!(count(&p, "DeleteNatGateway"), 0, "{p}");
    assert_eq!(count(&p, "ReleaseAddress"), 3, "{p}");
    // An owned address held by something live is not touched.
    let mut live = built_state();
    live.nat_gateways.clear();
    for a in &mut live.addresses {
        a.tags.insert(OWNER_TAG.to_string(), "demo".to_string());
    }
    let p = plan_destroy(&live, &[]).unwrap();
    assert_eq!(count(&p, "ReleaseAddress"), 0, "{p}");
}

#[test]
fn peerings_deleted_are_only_asiaq_owned_and_of_the_named_vpc() {
    use super::destroy::deletable_peerings;
    let peering = |id: &str, a: &str, b: &str, status: &str, owned: bool| PeeringInfo {
        id: id.into(),
        requester_vpc_id: a.into(),
        accepter_vpc_id: b.into(),
        requester_cidr: None,
        accepter_cidr: None,
        status: status.into(),
        tags: if owned {
            Tags::from([(OWNER_TAG.to_string(), "demo".to_string())])
        } else {
            Tags::new()
        },
    };
    let all = vec![
        peering("pcx-mine", "vpc-1", "vpc-2", "active", true),
        peering("pcx-theirs", "vpc-1", "vpc-3", "active", false),
        peering("pcx-other-env", "vpc-2", "vpc-3", "active", true),
        peering("pcx-dead", "vpc-1", "vpc-2", "deleted", true),
    ];
    let ids = |v: Vec<PeeringInfo>| v.into_iter().map(|p| p.id).collect::<Vec<_>>();
    assert_eq!(
        ids(deletable_peerings(&all, None)),
        vec!["pcx-mine", "pcx-other-env"]
    );
    assert_eq!(
        ids(deletable_peerings(&all, Some("vpc-1"))),
        vec!["pcx-mine"]
    );
    assert_eq!(
        ids(deletable_peerings(&all, Some("vpc-3"))),
        vec!["pcx-other-env"]
    );
}

#[test]
fn show_overview_lists_nets_rules_routes_and_resources() {
    let mut state = built_state();
    // Options not in use by the VPC are not shown.
    state.dhcp_options.push(DhcpOptionsInfo {
        id: "dopt-old".into(),
        config: BTreeMap::new(),
        tags: Tags::new(),
    });
    let o = super::show::overview(&state);
    assert_eq!(o.metanetworks.len(), 2);
    let intranet = &o.metanetworks[0];
    assert_eq!(intranet.name, Intranet);
    assert_eq!(intranet.security_group, "sg-intranet (demo_intranet)");
    // Source groups by name.
    assert!(
        intranet.rules.iter().any(|r| r.contains("demo_tunnel")),
        "{:?}",
        intranet.rules
    );
    assert!(!intranet.rules.iter().any(|r| r.contains("sg-tunnel")));
    assert_eq!(intranet.subnets.len(), 3);
    let a = &intranet.subnets[0];
    assert_eq!(a.route_table.as_deref(), Some("rtb-intranet-az-a"));
    assert_eq!(
        a.routes,
        ["10.101.0.0/16 -> local", "0.0.0.0/0 -> nat-az-a"]
    );
    assert_eq!(o.internet_gateways, ["igw-1"]);
    assert_eq!(
        o.nat_gateways[0],
        "nat-az-a available in subnet-tunnel-az-a (52.0.0.0)"
    );
    assert_eq!(
        o.floating_interfaces,
        ["eni-1 10.101.16.5 in subnet-tunnel-az-a"]
    );
    assert_eq!(
        o.dhcp_options,
        ["dopt-1 domain-name=example.internal domain-name-servers=AmazonProvidedDNS ntp-servers=10.101.16.5"]
    );
    assert_eq!(
        o.endpoints,
        ["vpce-1 com.amazonaws.us-west-2.s3 on 6 route table(s)"]
    );
    assert!(o.peerings.is_empty() && o.vpn_gateways.is_empty());
    assert_eq!(o.labelled()[2], ("NAT gateway", &o.nat_gateways[..]));
    // A VPC that asiaq did not make has no metanetworks.
    assert!(super::show::overview(&VpcState::default())
        .metanetworks
        .is_empty());
}

#[test]
fn vpc_names_may_not_be_empty_or_hold_an_underscore() {
    assert_eq!(super::check_vpc_name("ci-2"), Ok(()));
    for bad in ["", "ci_2"] {
        let err = super::check_vpc_name(bad).unwrap_err();
        assert!(
            err.starts_with(&format!("VPC name {bad:?} is not allowed")),
            "{err}"
        );
    }
}
