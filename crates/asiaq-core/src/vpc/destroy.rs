//! `vpc destroy` (spec §4.25) as a plan ordered by the dependencies real AWS enforces
//! (moto enforces few of them, so the order is unit-tested here):
//!
//! occupants (groups, instances, load balancers) → NAT gateways (then their dynamic EIPs) → floating ENIs →
//! peering routes and peerings → managed routes of the main table → subnets → SG rules,
//! then SGs (not `default`) → internet gateways detached, then deleted → VPN gateways
//! detached (kept) → VPC endpoints → non-main route tables → the VPC → its DHCP options
//! (tagged `Name=<env>` or owned) and leftover owned EIPs.
//!
//! Every step tolerates a resource that is already gone, so an interrupted destroy is
//! finished by running it again (the executor treats `*.NotFound` as done).

use thiserror::Error;

use super::plan::{Action, Plan, PlanBuilder};
use super::state::{AddressInfo, RouteTableInfo, RouteTarget, VpcState, OWNER_TAG};

/// Why the environment cannot be destroyed as asked; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DestroyError {
    #[error("the VPC still holds resources that vpc destroy does not delete, even with --force:\n  {}\n(delete them with asiaq rds / asiaq elasticache first)", .0.join("\n  "))]
    Unsupported(Vec<String>),
}

/// Plans the destruction of everything in `state`, its instances, autoscaling groups and
/// load balancers first. `peer_route_tables` are the route tables of the VPCs at the other
/// end of its peerings (their routes to the peerings are deleted too).
pub fn plan_destroy(
    state: &VpcState,
    peer_route_tables: &[RouteTableInfo],
) -> Result<Plan, DestroyError> {
    let occ = &state.occupants;
    let unsupported: Vec<String> = {
        let mut o = occ.clone();
        o.instances.clear();
        o.autoscaling_groups.clear();
        o.classic_elbs.clear();
        o.load_balancers.clear();
        o.describe()
    };
    if !unsupported.is_empty() {
        return Err(DestroyError::Unsupported(unsupported));
    }
    let env = state.name.as_str();
    let owned = |tags: &super::state::Tags| tags.get(OWNER_TAG).map(String::as_str) == Some(env);
    let mut b = PlanBuilder::new();

    // What watches the environment (spec §4.25: alarms, then metric filters and log
    // groups); independent of the network, so these run alongside it.
    let m = &state.monitoring;
    for chunk in m.alarms.chunks(crate::plan::alarms::DELETE_BATCH) {
        b.add(
            Action::DeleteAlarms {
                names: chunk.to_vec(),
            },
            &[],
        );
    }
    let filters: Vec<(usize, &str)> = m
        .metric_filters
        .iter()
        .map(|(group, name)| {
            let id = b.add(
                Action::DeleteMetricFilter {
                    log_group: group.clone(),
                    name: name.clone(),
                },
                &[],
            );
            (id, group.as_str())
        })
        .collect();
    for g in &m.log_groups {
        let after: Vec<usize> = filters
            .iter()
            .filter(|(_, group)| group == g)
            .map(|(id, _)| *id)
            .collect();
        b.add(Action::DeleteLogGroup { name: g.clone() }, &after);
    }

    // Occupants (the ones vpc destroy does not delete were refused above).
    let mut gone = Vec::new();
    let mut asgs = Vec::new();
    for name in &occ.autoscaling_groups {
        asgs.push(b.add(Action::DeleteAutoScalingGroup { name: name.clone() }, &[]));
    }
    gone.extend(asgs.iter().copied());
    if !occ.instances.is_empty() {
        gone.push(b.add(
            Action::TerminateInstances {
                instances: occ.instances.clone(),
            },
            &asgs,
        ));
    }
    for name in &occ.classic_elbs {
        gone.push(b.add(
            Action::DeleteClassicLoadBalancer { name: name.clone() },
            &[],
        ));
    }
    for (name, arn) in &occ.load_balancers {
        gone.push(b.add(
            Action::DeleteLoadBalancer {
                name: name.clone(),
                arn: arn.clone(),
            },
            &[],
        ));
    }

    // NAT gateways, then their dynamic EIPs.
    let mut nats = Vec::new();
    let mut released = Vec::new();
    for g in state.nat_gateways.iter().filter(|g| g.is_live()) {
        let del = b.add(
            Action::DeleteNatGateway {
                nat_gateway: g.id.clone(),
            },
            &gone,
        );
        nats.push(del);
        for a in state.addresses.iter().filter(|a| {
            g.allocation_ids.contains(&a.allocation_id) && (a.is_dynamic() || owned(&a.tags))
        }) {
            released.push(a.allocation_id.clone());
            b.add(
                Action::ReleaseAddress {
                    allocation_id: a.allocation_id.clone(),
                    public_ip: a.public_ip.clone(),
                },
                &[del],
            );
        }
    }

    // Floating interfaces (and any other interface asiaq made).
    let mut enis = Vec::new();
    for e in state
        .network_interfaces
        .iter()
        .filter(|e| !e.requester_managed && (e.is_floating() || owned(&e.tags)))
    {
        let mut after = gone.clone();
        if let Some(att) = &e.attachment_id {
            after.push(b.add(
                Action::DetachNetworkInterface {
                    attachment_id: att.clone(),
                },
                &gone,
            ));
        }
        enis.push(b.add(
            Action::DeleteNetworkInterface {
                network_interface: e.id.clone(),
            },
            &after,
        ));
    }

    // Peerings: their routes on both sides, then the connection.
    let mut peering_steps = Vec::new();
    for p in state.peerings.iter().filter(|p| p.is_live()) {
        let mut after = Vec::new();
        for t in state
            .route_tables
            .iter()
            .filter(|t| t.main)
            .chain(peer_route_tables)
        {
            for r in &t.routes {
                if r.target == RouteTarget::Peering(p.id.clone()) {
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
        peering_steps.push(b.add(
            Action::DeletePeering {
                peering: p.id.clone(),
            },
            &after,
        ));
    }

    // Managed routes of the main table (the other tables go with their routes).
    let mut main_routes = Vec::new();
    for t in state.route_tables.iter().filter(|t| t.main) {
        for r in &t.routes {
            if matches!(
                r.target,
                RouteTarget::Gateway(_) | RouteTarget::NatGateway(_)
            ) {
                main_routes.push(b.add(
                    Action::DeleteRoute {
                        route_table: t.id.clone(),
                        destination: r.destination.to_string(),
                    },
                    &[],
                ));
            }
        }
    }

    // Subnets, once nothing runs in them.
    let mut subnet_after = gone.clone();
    subnet_after.extend(&nats);
    subnet_after.extend(&enis);
    let mut subnets = Vec::new();
    for s in &state.subnets {
        subnets.push(b.add(
            Action::DeleteSubnet {
                subnet: s.id.clone(),
            },
            &subnet_after,
        ));
    }

    // Security groups: every rule first (groups refer to each other), then the groups.
    let mut revokes = Vec::new();
    for g in state.security_groups.iter() {
        if !g.ingress.is_empty() {
            revokes.push(b.add(
                Action::RevokeIngress {
                    group: g.id.clone(),
                    permissions: g.ingress.clone(),
                },
                &[],
            ));
        }
        if !g.egress.is_empty() && g.name != "default" {
            revokes.push(b.add(
                Action::RevokeEgress {
                    group: g.id.clone(),
                    permissions: g.egress.clone(),
                },
                &[],
            ));
        }
    }
    let mut sg_after = revokes.clone();
    sg_after.extend(&gone);
    sg_after.extend(&enis);
    let mut groups = Vec::new();
    for g in state.security_groups.iter().filter(|g| g.name != "default") {
        groups.push(b.add(
            Action::DeleteSecurityGroup {
                group: g.id.clone(),
            },
            &sg_after,
        ));
    }

    // Internet gateways: detach once no public address is mapped, then delete.
    let mut igws = Vec::new();
    let mut igw_after = gone.clone();
    igw_after.extend(&nats);
    igw_after.extend(&main_routes);
    for g in &state.internet_gateways {
        let mut after = igw_after.clone();
        for (vpc, _) in &g.attachments {
            if Some(vpc.as_str()) == state.vpc_id() {
                after.push(b.add(
                    Action::DetachInternetGateway {
                        gateway: g.id.clone(),
                        vpc: vpc.clone(),
                    },
                    &igw_after,
                ));
            }
        }
        let attached_elsewhere = g
            .attachments
            .iter()
            .any(|(vpc, _)| Some(vpc.as_str()) != state.vpc_id());
        if !attached_elsewhere {
            igws.push(b.add(
                Action::DeleteInternetGateway {
                    gateway: g.id.clone(),
                },
                &after,
            ));
        }
    }

    // VPN gateways: detached, never deleted.
    let mut vgws = Vec::new();
    if let Some(vpc) = state.vpc_id() {
        for g in &state.vpn_gateways {
            if g.attachments
                .iter()
                .any(|(v, s)| v == vpc && (s == "attached" || s == "attaching"))
            {
                vgws.push(b.add(
                    Action::DetachVpnGateway {
                        gateway: g.id.clone(),
                        vpc: vpc.to_string(),
                    },
                    &main_routes,
                ));
            }
        }
    }

    // VPC endpoints, then the route tables they were on.
    let mut endpoints = Vec::new();
    for e in state
        .endpoints
        .iter()
        .filter(|e| e.state != "deleted" && e.state != "deleting")
    {
        endpoints.push(b.add(
            Action::DeleteVpcEndpoint {
                endpoint: e.id.clone(),
            },
            &[],
        ));
    }
    let mut table_after = subnets.clone();
    table_after.extend(&endpoints);
    table_after.extend(&peering_steps);
    let mut tables = Vec::new();
    for t in state.route_tables.iter().filter(|t| !t.main) {
        tables.push(b.add(
            Action::DeleteRouteTable {
                route_table: t.id.clone(),
            },
            &table_after,
        ));
    }

    // The VPC, after everything in it.
    let mut vpc_step = None;
    if let Some(vpc) = state.vpc_id() {
        let mut after = Vec::new();
        for part in [
            &gone,
            &nats,
            &enis,
            &peering_steps,
            &subnets,
            &groups,
            &igws,
            &vgws,
            &endpoints,
            &tables,
        ] {
            after.extend(part.iter().copied());
        }
        vpc_step = Some(b.add(
            Action::DeleteVpc {
                vpc: vpc.to_string(),
            },
            &after,
        ));
    }

    // DHCP options made for the environment, and owned EIPs left over by a failed create.
    let last: Vec<usize> = vpc_step.into_iter().collect();
    for d in state
        .dhcp_options
        .iter()
        .filter(|d| d.tags.get("Name").map(String::as_str) == Some(env) || owned(&d.tags))
    {
        b.add(
            Action::DeleteDhcpOptions {
                dhcp_options: d.id.clone(),
            },
            &last,
        );
    }
    // An address still associated with a gateway that is already deleted (a destroy
    // interrupted after the deletion; the association can outlive the gateway) is free too.
    let held_by_dead_nat = |a: &AddressInfo| {
        state
            .nat_gateways
            .iter()
            .any(|g| !g.is_live() && g.allocation_ids.contains(&a.allocation_id))
    };
    for a in state.addresses.iter().filter(|a| {
        owned(&a.tags)
            && (a.association_id.is_none() || held_by_dead_nat(a))
            && !released.contains(&a.allocation_id)
    }) {
        b.add(
            Action::ReleaseAddress {
                allocation_id: a.allocation_id.clone(),
                public_ip: a.public_ip.clone(),
            },
            &nats,
        );
    }
    Ok(b.build())
}

/// Deletes `peerings` (`vpc peerings --delete`): first their routes in `route_tables`
/// (of both VPCs), then the connections.
/// The peerings `vpc peerings --delete` may delete: live ones that asiaq created (they
/// carry its ownership tag), touching `vpc_id` when one is given. A peering someone else
/// made is never touched, whatever VPCs it joins.
pub fn deletable_peerings(
    peerings: &[super::state::PeeringInfo],
    vpc_id: Option<&str>,
) -> Vec<super::state::PeeringInfo> {
    peerings
        .iter()
        .filter(|p| p.is_live() && p.tags.contains_key(super::state::OWNER_TAG))
        .filter(|p| vpc_id.is_none_or(|v| p.requester_vpc_id == v || p.accepter_vpc_id == v))
        .cloned()
        .collect()
}

pub fn plan_delete_peerings(
    peerings: &[super::state::PeeringInfo],
    route_tables: &[RouteTableInfo],
) -> Plan {
    let mut b = PlanBuilder::new();
    for p in peerings {
        let mut after = Vec::new();
        for t in route_tables {
            for r in &t.routes {
                if r.target == RouteTarget::Peering(p.id.clone()) {
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
        b.add(
            Action::DeletePeering {
                peering: p.id.clone(),
            },
            &after,
        );
    }
    b.build()
}
