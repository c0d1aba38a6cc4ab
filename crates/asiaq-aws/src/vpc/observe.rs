//! Observing an environment: one filtered describe per resource type, into the pure
//! [`VpcState`] the planners of `asiaq-core` read.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use asiaq_core::vpc::peering::PeerableVpc;
use asiaq_core::vpc::reconcile::PeerVpc;
use asiaq_core::vpc::state::*;
use aws_sdk_ec2::types::Filter;

use crate::context::AwsContext;
use crate::environment::{describe_vpcs, filter, parse_cidr, tag_map};
use crate::error::AwsError;

macro_rules! paged {
    ($req:expr, $field:ident, $op:literal) => {{
        let mut out = Vec::new();
        let mut pages = $req.into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::call("ec2", $op, e))?;
            out.extend(page.$field.unwrap_or_default());
        }
        Ok::<_, AwsError>(out)
    }};
}

fn owner_filter(name: &str) -> Filter {
    filter(&format!("tag:{OWNER_TAG}"), &[name])
}

fn route_target(r: &aws_sdk_ec2::types::Route) -> RouteTarget {
    if let Some(g) = r.gateway_id() {
        if g == "local" {
            return RouteTarget::Local;
        }
        if g.starts_with("igw-") || g.starts_with("vgw-") {
            return RouteTarget::Gateway(g.to_string());
        }
        return RouteTarget::Other(g.to_string());
    }
    if let Some(n) = r.nat_gateway_id() {
        return RouteTarget::NatGateway(n.to_string());
    }
    if let Some(p) = r.vpc_peering_connection_id() {
        return RouteTarget::Peering(p.to_string());
    }
    RouteTarget::Other(
        r.network_interface_id()
            .or(r.instance_id())
            .or(r.transit_gateway_id())
            .unwrap_or("unknown")
            .to_string(),
    )
}

pub(crate) fn route_table_info(t: &aws_sdk_ec2::types::RouteTable) -> RouteTableInfo {
    RouteTableInfo {
        id: t.route_table_id().unwrap_or_default().to_string(),
        vpc_id: t.vpc_id().unwrap_or_default().to_string(),
        tags: tag_map(t.tags()),
        main: t.associations().iter().any(|a| a.main() == Some(true)),
        subnet_ids: t
            .associations()
            .iter()
            .filter_map(|a| a.subnet_id().map(str::to_string))
            .collect(),
        routes: t
            .routes()
            .iter()
            .filter_map(|r| {
                Some(RouteInfo {
                    destination: r.destination_cidr_block()?.parse().ok()?,
                    target: route_target(r),
                })
            })
            .collect(),
    }
}

fn permissions(perms: &[aws_sdk_ec2::types::IpPermission]) -> Vec<Permission> {
    let mut out = Vec::new();
    for p in perms {
        let protocol = p.ip_protocol().unwrap_or("-1").to_string();
        let (from, to) = if protocol == "-1" {
            (None, None)
        } else {
            (p.from_port(), p.to_port())
        };
        for g in p.user_id_group_pairs() {
            if let Some(id) = g.group_id() {
                out.push(Permission {
                    protocol: protocol.clone(),
                    from_port: from,
                    to_port: to,
                    source: PermissionSource::Group(id.to_string()),
                });
            }
        }
        for r in p.ip_ranges() {
            if let Some(c) = r.cidr_ip() {
                out.push(Permission {
                    protocol: protocol.clone(),
                    from_port: from,
                    to_port: to,
                    source: PermissionSource::Cidr(c.to_string()),
                });
            }
        }
    }
    out
}

fn gateway_attachments(
    atts: &[aws_sdk_ec2::types::InternetGatewayAttachment],
) -> Vec<(String, String)> {
    atts.iter()
        .filter_map(|a| {
            Some((
                a.vpc_id()?.to_string(),
                a.state()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
            ))
        })
        .collect()
}

pub(crate) fn vgw_info(g: &aws_sdk_ec2::types::VpnGateway) -> GatewayInfo {
    GatewayInfo {
        id: g.vpn_gateway_id().unwrap_or_default().to_string(),
        attachments: g
            .vpc_attachments()
            .iter()
            .filter_map(|a| {
                Some((
                    a.vpc_id()?.to_string(),
                    a.state()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                ))
            })
            .collect(),
        tags: tag_map(g.tags()),
    }
}

pub(crate) fn address_info(a: &aws_sdk_ec2::types::Address) -> AddressInfo {
    AddressInfo {
        allocation_id: a.allocation_id().unwrap_or_default().to_string(),
        public_ip: a.public_ip().unwrap_or_default().to_string(),
        association_id: a.association_id().map(str::to_string),
        instance_id: a
            .instance_id()
            .map(str::to_string)
            .filter(|s| !s.is_empty()),
        network_interface_id: a.network_interface_id().map(str::to_string),
        tags: tag_map(a.tags()),
    }
}

pub(crate) fn peering_info(p: &aws_sdk_ec2::types::VpcPeeringConnection) -> PeeringInfo {
    let req = p.requester_vpc_info();
    let acc = p.accepter_vpc_info();
    PeeringInfo {
        id: p
            .vpc_peering_connection_id()
            .unwrap_or_default()
            .to_string(),
        requester_vpc_id: req.and_then(|v| v.vpc_id()).unwrap_or_default().to_string(),
        accepter_vpc_id: acc.and_then(|v| v.vpc_id()).unwrap_or_default().to_string(),
        requester_cidr: req
            .and_then(|v| v.cidr_block())
            .and_then(|c| c.parse().ok()),
        accepter_cidr: acc
            .and_then(|v| v.cidr_block())
            .and_then(|c| c.parse().ok()),
        status: p
            .status()
            .and_then(|s| s.code())
            .map(|c| c.as_str().to_string())
            .unwrap_or_default(),
        tags: tag_map(p.tags()),
    }
}

/// The VGW of environment `name` (tagged `Name=<name>`, not deleted).
pub async fn find_vpn_gateway(
    ctx: &AwsContext,
    name: &str,
) -> Result<Option<GatewayInfo>, AwsError> {
    let out = ctx
        .ec2()
        .describe_vpn_gateways()
        .filters(filter("tag:Name", &[name]))
        .send()
        .await
        .map_err(|e| AwsError::call("ec2", "DescribeVpnGateways", e))?;
    Ok(out
        .vpn_gateways()
        .iter()
        .filter(|g| {
            g.state()
                .is_some_and(|s| s.as_str() == "available" || s.as_str() == "pending")
        })
        .map(vgw_info)
        .next())
}

/// Everything of environment `name`: the VPC `vpc_id` (if it exists) and what is in it,
/// plus resources outside it that carry the environment's ownership tag (left by a failed
/// create). With `occupants`, also what other commands put in the VPC.
pub async fn observe_state(
    ctx: &AwsContext,
    name: &str,
    vpc_id: Option<&str>,
    occupants: bool,
) -> Result<VpcState, AwsError> {
    let ec2 = ctx.ec2();
    let mut state = VpcState {
        name: name.to_string(),
        ..VpcState::default()
    };
    if let Some(id) = vpc_id {
        let vpcs = describe_vpcs(ctx, vec![filter("vpc-id", &[id])]).await?;
        if let Some(v) = vpcs.first() {
            state.vpc = Some(VpcInfo {
                id: id.to_string(),
                cidr: parse_cidr("DescribeVpcs", v.cidr_block())?,
                tags: tag_map(v.tags()),
                dhcp_options_id: v
                    .dhcp_options_id()
                    .map(str::to_string)
                    .filter(|d| d != "default"),
            });
        }
    }
    let vpc = state.vpc.as_ref().map(|v| v.id.clone());

    // Owned resources, wherever they are (no VPC filter exists for these kinds).
    let owned_igws = async {
        paged!(
            ec2.describe_internet_gateways().filters(owner_filter(name)),
            internet_gateways,
            "DescribeInternetGateways"
        )
    };
    let owned_eips = async {
        ec2.describe_addresses()
            .filters(owner_filter(name))
            .send()
            .await
            .map(|o| o.addresses.unwrap_or_default())
            .map_err(|e| AwsError::call("ec2", "DescribeAddresses", e))
    };
    let owned_dhcp = async {
        let dhcp_id = state.vpc.as_ref().and_then(|v| v.dhcp_options_id.clone());
        let mut out = paged!(
            ec2.describe_dhcp_options().filters(owner_filter(name)),
            dhcp_options,
            "DescribeDhcpOptions"
        )?;
        let named = paged!(
            ec2.describe_dhcp_options()
                .filters(filter("tag:Name", &[name])),
            dhcp_options,
            "DescribeDhcpOptions"
        )?;
        out.extend(named);
        if let Some(id) = dhcp_id {
            if !out.iter().any(|d| d.dhcp_options_id() == Some(&id)) {
                match ec2
                    .describe_dhcp_options()
                    .dhcp_options_ids(&id)
                    .send()
                    .await
                {
                    Ok(o) => out.extend(o.dhcp_options.unwrap_or_default()),
                    Err(e) => {
                        let e = AwsError::call("ec2", "DescribeDhcpOptions", e);
                        if !e.is_not_found() {
                            return Err(e);
                        }
                    }
                }
            }
        }
        Ok(out)
    };
    let owned_peerings = async {
        paged!(
            ec2.describe_vpc_peering_connections()
                .filters(owner_filter(name)),
            vpc_peering_connections,
            "DescribeVpcPeeringConnections"
        )
    };
    let (igws, eips, dhcps, pcxs) =
        futures::try_join!(owned_igws, owned_eips, owned_dhcp, owned_peerings)?;
    let mut seen = std::collections::BTreeSet::new();
    for d in dhcps {
        let id = d.dhcp_options_id().unwrap_or_default().to_string();
        if !seen.insert(id.clone()) {
            continue;
        }
        let mut config = BTreeMap::new();
        for c in d.dhcp_configurations() {
            if let Some(k) = c.key() {
                config.insert(
                    k.to_string(),
                    c.values()
                        .iter()
                        .filter_map(|v| v.value().map(str::to_string))
                        .collect(),
                );
            }
        }
        state.dhcp_options.push(DhcpOptionsInfo {
            id,
            config,
            tags: tag_map(d.tags()),
        });
    }
    for g in &igws {
        state.internet_gateways.push(GatewayInfo {
            id: g.internet_gateway_id().unwrap_or_default().to_string(),
            attachments: gateway_attachments(g.attachments()),
            tags: tag_map(g.tags()),
        });
    }
    state.addresses = eips.iter().map(address_info).collect();
    state.peerings = pcxs.iter().map(peering_info).collect();

    let Some(vpc) = vpc else {
        return Ok(state);
    };
    let by_vpc = || filter("vpc-id", &[vpc.as_str()]);
    let subnets = async {
        paged!(
            ec2.describe_subnets().filters(by_vpc()),
            subnets,
            "DescribeSubnets"
        )
    };
    let tables = async {
        paged!(
            ec2.describe_route_tables().filters(by_vpc()),
            route_tables,
            "DescribeRouteTables"
        )
    };
    let sgs = async {
        paged!(
            ec2.describe_security_groups().filters(by_vpc()),
            security_groups,
            "DescribeSecurityGroups"
        )
    };
    let igws = async {
        paged!(
            ec2.describe_internet_gateways()
                .filters(filter("attachment.vpc-id", &[vpc.as_str()])),
            internet_gateways,
            "DescribeInternetGateways"
        )
    };
    let vgws = async {
        ec2.describe_vpn_gateways()
            .filters(filter("attachment.vpc-id", &[vpc.as_str()]))
            .send()
            .await
            .map(|o| o.vpn_gateways.unwrap_or_default())
            .map_err(|e| AwsError::call("ec2", "DescribeVpnGateways", e))
    };
    let nats = async {
        paged!(
            ec2.describe_nat_gateways().filter(by_vpc()),
            nat_gateways,
            "DescribeNatGateways"
        )
    };
    let enis = async {
        paged!(
            ec2.describe_network_interfaces().filters(by_vpc()),
            network_interfaces,
            "DescribeNetworkInterfaces"
        )
    };
    let endpoints = async {
        paged!(
            ec2.describe_vpc_endpoints().filters(by_vpc()),
            vpc_endpoints,
            "DescribeVpcEndpoints"
        )
    };
    let pcx_req = async {
        paged!(
            ec2.describe_vpc_peering_connections()
                .filters(filter("requester-vpc-info.vpc-id", &[vpc.as_str()])),
            vpc_peering_connections,
            "DescribeVpcPeeringConnections"
        )
    };
    let pcx_acc = async {
        paged!(
            ec2.describe_vpc_peering_connections()
                .filters(filter("accepter-vpc-info.vpc-id", &[vpc.as_str()])),
            vpc_peering_connections,
            "DescribeVpcPeeringConnections"
        )
    };
    let (subnets, tables, sgs, igws, vgws, nats, enis, endpoints, pcx_req, pcx_acc) = futures::try_join!(
        subnets, tables, sgs, igws, vgws, nats, enis, endpoints, pcx_req, pcx_acc
    )?;
    for s in &subnets {
        state.subnets.push(SubnetInfo {
            id: s.subnet_id().unwrap_or_default().to_string(),
            availability_zone: s.availability_zone().unwrap_or_default().to_string(),
            cidr: parse_cidr("DescribeSubnets", s.cidr_block())?,
            tags: tag_map(s.tags()),
        });
    }
    state.route_tables = tables.iter().map(route_table_info).collect();
    state.security_groups = sgs
        .iter()
        .map(|g| SecurityGroupInfo {
            id: g.group_id().unwrap_or_default().to_string(),
            name: g.group_name().unwrap_or_default().to_string(),
            tags: tag_map(g.tags()),
            ingress: permissions(g.ip_permissions()),
            egress: permissions(g.ip_permissions_egress()),
        })
        .collect();
    for g in &igws {
        let id = g.internet_gateway_id().unwrap_or_default();
        if !state.internet_gateways.iter().any(|x| x.id == id) {
            state.internet_gateways.push(GatewayInfo {
                id: id.to_string(),
                attachments: gateway_attachments(g.attachments()),
                tags: tag_map(g.tags()),
            });
        }
    }
    state.vpn_gateways = vgws.iter().map(vgw_info).collect();
    state.nat_gateways = nats
        .iter()
        .map(|n| NatGatewayInfo {
            id: n.nat_gateway_id().unwrap_or_default().to_string(),
            subnet_id: n.subnet_id().unwrap_or_default().to_string(),
            state: n
                .state()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            allocation_ids: n
                .nat_gateway_addresses()
                .iter()
                .filter_map(|a| a.allocation_id().map(str::to_string))
                .collect(),
            public_ips: n
                .nat_gateway_addresses()
                .iter()
                .filter_map(|a| a.public_ip().map(str::to_string))
                .collect(),
            tags: tag_map(n.tags()),
        })
        .collect();
    // EIPs of the NAT gateways (for dynamic ones to release).
    let nat_allocs: Vec<String> = state
        .nat_gateways
        .iter()
        .flat_map(|n| n.allocation_ids.clone())
        .filter(|a| !state.addresses.iter().any(|x| &x.allocation_id == a))
        .collect();
    if !nat_allocs.is_empty() {
        // A filter, not `AllocationIds`: a deleted gateway still names the addresses it had,
        // and asking for a released one by id fails the whole call.
        let out = ec2
            .describe_addresses()
            .filters(filter(
                "allocation-id",
                &nat_allocs.iter().map(String::as_str).collect::<Vec<_>>(),
            ))
            .send()
            .await
            .map_err(|e| AwsError::call("ec2", "DescribeAddresses", e))?;
        state
            .addresses
            .extend(out.addresses().iter().map(address_info));
    }
    state.network_interfaces = enis
        .iter()
        .map(|e| InterfaceInfo {
            id: e.network_interface_id().unwrap_or_default().to_string(),
            subnet_id: e.subnet_id().unwrap_or_default().to_string(),
            private_ip: e.private_ip_address().unwrap_or_default().to_string(),
            description: e.description().unwrap_or_default().to_string(),
            attachment_id: e
                .attachment()
                .and_then(|a| a.attachment_id())
                .map(str::to_string),
            requester_managed: e.requester_managed().unwrap_or(false),
            tags: tag_map(e.tag_set()),
        })
        .collect();
    state.endpoints = endpoints
        .iter()
        .map(|e| EndpointInfo {
            id: e.vpc_endpoint_id().unwrap_or_default().to_string(),
            service_name: e.service_name().unwrap_or_default().to_string(),
            route_table_ids: e.route_table_ids().to_vec(),
            state: e
                .state()
                .map(|s| s.as_str().to_ascii_lowercase())
                .unwrap_or_default(),
        })
        .collect();
    for p in pcx_req.iter().chain(pcx_acc.iter()) {
        let info = peering_info(p);
        if !state.peerings.iter().any(|x| x.id == info.id) {
            state.peerings.push(info);
        }
    }
    if occupants {
        let subnet_ids: Vec<String> = state.subnets.iter().map(|s| s.id.clone()).collect();
        state.occupants = observe_occupants(ctx, &vpc, &subnet_ids).await?;
    }
    if occupants {
        state.monitoring = observe_monitoring(ctx, name).await?;
    }
    Ok(state)
}

/// The alarms of environment `env` (not those of Elasticsearch domains), and the metric
/// filters and log groups under `<env>/`.
async fn observe_monitoring(ctx: &AwsContext, env: &str) -> Result<EnvMonitoring, AwsError> {
    let prefix = asiaq_core::plan::log_metrics::env_prefix(env);
    let (alarms, filters, groups) = futures::try_join!(
        crate::alarms::observe_alarms(ctx),
        crate::log_metrics::metric_filters(ctx, &prefix),
        crate::log_metrics::log_groups(ctx, &prefix),
    )?;
    let observed: Vec<_> = alarms.into_iter().map(|(a, _)| a).collect();
    let alarms = asiaq_core::plan::alarms::env_delete_plan(&observed, env)
        .steps
        .into_iter()
        .flat_map(|s| match s.action {
            asiaq_core::plan::alarms::AlarmAction::DeleteAlarms { names } => names,
            asiaq_core::plan::alarms::AlarmAction::PutAlarm { .. } => Vec::new(),
        })
        .collect();
    Ok(EnvMonitoring {
        alarms,
        metric_filters: filters.into_iter().map(|f| (f.log_group, f.name)).collect(),
        log_groups: groups.into_iter().map(|g| g.name).collect(),
    })
}

async fn observe_occupants(
    ctx: &AwsContext,
    vpc: &str,
    subnet_ids: &[String],
) -> Result<Occupants, AwsError> {
    let instances = async {
        let res = paged!(
            ctx.ec2()
                .describe_instances()
                .filters(filter("vpc-id", &[vpc]))
                .filters(filter(
                    "instance-state-name",
                    &["pending", "running", "shutting-down", "stopping", "stopped"]
                )),
            reservations,
            "DescribeInstances"
        )?;
        Ok::<_, AwsError>(
            res.iter()
                .flat_map(|r| r.instances())
                .filter_map(|i| i.instance_id().map(str::to_string))
                .collect::<Vec<_>>(),
        )
    };
    let asgs = async {
        let mut out = Vec::new();
        let mut pages = ctx
            .autoscaling()
            .describe_auto_scaling_groups()
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| AwsError::call("autoscaling", "DescribeAutoScalingGroups", e))?;
            for g in page.auto_scaling_groups() {
                let zones = g.vpc_zone_identifier().unwrap_or_default();
                if zones
                    .split(',')
                    .any(|s| subnet_ids.iter().any(|x| x == s.trim()))
                {
                    out.push(g.auto_scaling_group_name().unwrap_or_default().to_string());
                }
            }
        }
        Ok::<_, AwsError>(out)
    };
    let elbs = async {
        let out = ctx
            .elb()
            .describe_load_balancers()
            .send()
            .await
            .map_err(|e| AwsError::call("elasticloadbalancing", "DescribeLoadBalancers", e))?;
        Ok::<_, AwsError>(
            out.load_balancer_descriptions()
                .iter()
                .filter(|l| l.vpc_id() == Some(vpc))
                .filter_map(|l| l.load_balancer_name().map(str::to_string))
                .collect::<Vec<_>>(),
        )
    };
    let albs = async {
        let out = ctx
            .elbv2()
            .describe_load_balancers()
            .send()
            .await
            .map_err(|e| AwsError::call("elasticloadbalancingv2", "DescribeLoadBalancers", e))?;
        Ok::<_, AwsError>(
            out.load_balancers()
                .iter()
                .filter(|l| l.vpc_id() == Some(vpc))
                .map(|l| {
                    (
                        l.load_balancer_name().unwrap_or_default().to_string(),
                        l.load_balancer_arn().unwrap_or_default().to_string(),
                    )
                })
                .collect::<Vec<_>>(),
        )
    };
    let rds = async {
        let out = ctx
            .rds()
            .describe_db_instances()
            .send()
            .await
            .map_err(|e| AwsError::call("rds", "DescribeDBInstances", e))?;
        Ok::<_, AwsError>(
            out.db_instances()
                .iter()
                .filter(|d| d.db_subnet_group().and_then(|g| g.vpc_id()) == Some(vpc))
                .filter_map(|d| d.db_instance_identifier().map(str::to_string))
                .collect::<Vec<_>>(),
        )
    };
    let cache = async {
        let groups = ctx
            .elasticache()
            .describe_cache_subnet_groups()
            .send()
            .await
            .map_err(|e| AwsError::call("elasticache", "DescribeCacheSubnetGroups", e))?;
        let names: Vec<String> = groups
            .cache_subnet_groups()
            .iter()
            .filter(|g| g.vpc_id() == Some(vpc))
            .filter_map(|g| g.cache_subnet_group_name().map(str::to_string))
            .collect();
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let clusters = ctx
            .elasticache()
            .describe_cache_clusters()
            .send()
            .await
            .map_err(|e| AwsError::call("elasticache", "DescribeCacheClusters", e))?;
        Ok::<_, AwsError>(
            clusters
                .cache_clusters()
                .iter()
                .filter(|c| {
                    c.cache_subnet_group_name()
                        .is_some_and(|n| names.iter().any(|x| x == n))
                })
                .filter(|c| c.cache_cluster_status() != Some("deleted"))
                .filter_map(|c| c.cache_cluster_id().map(str::to_string))
                .collect(),
        )
    };
    let (
        instances,
        autoscaling_groups,
        classic_elbs,
        load_balancers,
        rds_instances,
        cache_clusters,
    ) = futures::try_join!(instances, asgs, elbs, albs, rds, cache)?;
    Ok(Occupants {
        instances,
        autoscaling_groups,
        classic_elbs,
        load_balancers,
        rds_instances,
        cache_clusters,
    })
}

/// Availability zones of the region, in API order.
pub async fn availability_zones(ctx: &AwsContext) -> Result<Vec<String>, AwsError> {
    let out = ctx
        .ec2()
        .describe_availability_zones()
        .filters(filter("state", &["available"]))
        .send()
        .await
        .map_err(|e| AwsError::call("ec2", "DescribeAvailabilityZones", e))?;
    Ok(out
        .availability_zones()
        .iter()
        .filter(|z| z.zone_type().is_none_or(|t| t == "availability-zone"))
        .filter_map(|z| z.zone_name().map(str::to_string))
        .collect())
}

/// Every VPC of the region: `(id, cidr, tags)`.
pub async fn all_vpcs(ctx: &AwsContext) -> Result<Vec<(String, ipnet::Ipv4Net, Tags)>, AwsError> {
    let vpcs = describe_vpcs(ctx, Vec::new()).await?;
    let mut out = Vec::new();
    for v in vpcs {
        out.push((
            v.vpc_id().unwrap_or_default().to_string(),
            parse_cidr("DescribeVpcs", v.cidr_block())?,
            tag_map(v.tags()),
        ));
    }
    Ok(out)
}

/// VPCs that can be peered: those with both `Name` and `type` tags.
pub fn peerable(vpcs: &[(String, ipnet::Ipv4Net, Tags)]) -> Vec<PeerableVpc> {
    vpcs.iter()
        .filter_map(|(id, _, tags)| {
            Some(PeerableVpc {
                vpc_id: id.clone(),
                name: tags.get("Name")?.clone(),
                env_type: tags.get("type")?.clone(),
            })
        })
        .collect()
}

/// The peers' metanetwork CIDRs and route tables (two describes for all of them).
pub async fn observe_peers(
    ctx: &AwsContext,
    vpcs: &[(String, ipnet::Ipv4Net, Tags)],
    ids: &[String],
) -> Result<BTreeMap<String, PeerVpc>, AwsError> {
    let mut out = BTreeMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let ec2 = ctx.ec2();
    let subnets = async {
        paged!(
            ec2.describe_subnets().filters(filter("vpc-id", &refs)),
            subnets,
            "DescribeSubnets"
        )
    };
    let tables = async {
        paged!(
            ec2.describe_route_tables().filters(filter("vpc-id", &refs)),
            route_tables,
            "DescribeRouteTables"
        )
    };
    let (subnets, tables) = futures::try_join!(subnets, tables)?;
    for id in ids {
        let name = vpcs
            .iter()
            .find(|(v, _, _)| v == id)
            .and_then(|(_, _, t)| t.get("Name").cloned())
            .unwrap_or_default();
        let mut nets = BTreeMap::new();
        for net in asiaq_core::syntax::MetaNetworkName::ALL {
            let cidrs: Vec<ipnet::Ipv4Net> = subnets
                .iter()
                .filter(|s| s.vpc_id() == Some(id.as_str()))
                .filter(|s| VpcState::net_of(&tag_map(s.tags())) == Some(net))
                .filter_map(|s| s.cidr_block()?.parse().ok())
                .collect();
            if let Some(c) = asiaq_core::network::metanetwork_cidr_from_subnets(&cidrs) {
                nets.insert(net, c);
            }
        }
        out.insert(
            id.clone(),
            PeerVpc {
                vpc_id: id.clone(),
                name,
                nets,
                route_tables: tables
                    .iter()
                    .filter(|t| t.vpc_id() == Some(id.as_str()))
                    .map(route_table_info)
                    .collect(),
            },
        );
    }
    Ok(out)
}

/// Elastic IPs by public IP (for static `<net>_nat_gateways`).
pub async fn addresses_by_ip(
    ctx: &AwsContext,
    ips: &[Ipv4Addr],
) -> Result<BTreeMap<Ipv4Addr, AddressInfo>, AwsError> {
    if ips.is_empty() {
        return Ok(BTreeMap::new());
    }
    let values: Vec<String> = ips.iter().map(ToString::to_string).collect();
    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
    let out = ctx
        .ec2()
        .describe_addresses()
        .filters(filter("public-ip", &refs))
        .send()
        .await
        .map_err(|e| AwsError::call("ec2", "DescribeAddresses", e))?;
    Ok(out
        .addresses()
        .iter()
        .filter_map(|a| Some((a.public_ip()?.parse().ok()?, address_info(a))))
        .collect())
}
