//! The EC2 calls of an environment plan ([`Plan`]), run by the plan/apply engine
//! (`asiaq-engine`): every step whose dependencies are done runs at once, within EC2's rate
//! budget; `${key}` references are replaced by the ids of what earlier steps created.
//!
//! On the first failure no new step starts, the steps in flight finish, and the error says
//! which step failed and what was created so far (for the rollback). Deletes treat
//! "not found" as done, so a destroy can always be run again.

use std::time::Duration;

use asiaq_core::vpc::plan::{Action, Plan};
use asiaq_core::vpc::state::{Permission, PermissionSource, RouteTarget};
use asiaq_engine::{Apply, Disposition, ExecOptions, RetryPolicy};
use aws_sdk_ec2::types::{
    AttributeBooleanValue, DomainType, IpPermission, IpRange, NewDhcpConfiguration, ResourceType,
    UserIdGroupPair, VpcEndpointType,
};

use crate::context::AwsContext;
use crate::error::AwsError;
use crate::fault::is_injected;
use crate::tags::ec2_tag_spec;
use crate::wait::{wait_for, Backoff, Poll};

/// Steps in flight at most: the capacity of EC2's mutating token bucket. The client-side
/// EC2 budget ([`crate::Ec2Budget`]) paces the calls themselves, so a wide round of a plan
/// (a create's ~35 subnets, tables and groups) goes out at once instead of in waves.
pub const DEFAULT_CONCURRENCY: usize = 50;

/// What ran.
pub type ExecReport = asiaq_engine::ExecReport;

/// A plan that stopped part-way.
pub type ExecError = asiaq_engine::ExecError<AwsError>;

/// The EC2 side of environment plans.
pub struct Ec2Steps<'a> {
    pub ctx: &'a AwsContext,
}

impl Apply<Action> for Ec2Steps<'_> {
    type Error = AwsError;

    async fn apply(&self, action: &Action) -> Result<Option<String>, AwsError> {
        call(self.ctx, action).await
    }

    fn unresolved(&self, action: &Action, key: &str) -> AwsError {
        AwsError::State(format!(
            "{action}: nothing created the resource {key} it needs"
        ))
    }

    /// Besides the engine's defaults: the codes that mean "already done" for a detach, a
    /// delete that meets a dependency still going away is tried again, and a DHCP option
    /// set still used by another VPC is left in place.
    fn disposition(&self, action: &Action, e: &AwsError) -> Disposition {
        let deleting = is_delete(action);
        if deleting && already_done(e) {
            Disposition::Done
        } else if dhcp_options_shared(action, e) {
            asiaq_engine::report::warn(format!(
                "{action}: still associated with another VPC, left in place ({e})"
            ));
            Disposition::Done
        } else if is_injected(e) {
            Disposition::Fail
        } else if (deleting && e.code() == Some("DependencyViolation"))
            || (!deleting && e.is_not_found())
            || e.is_throttling()
        {
            // Throttling that outlasted the SDK's retries: EC2's buckets are per account,
            // shared with every other client (a previous asiaq run included), so this
            // client's own budget cannot always prevent it; wait and send it again.
            Disposition::Retry
        } else {
            Disposition::Fail
        }
    }
}

/// How long a step is tried again: 2 s growing to 10 s, for 2 minutes (scaled by the
/// test-only wait scale).
pub fn retry_policy() -> RetryPolicy {
    let b = Backoff::new(
        Duration::from_secs(2),
        Duration::from_secs(10),
        Duration::from_secs(120),
    )
    .scaled();
    RetryPolicy {
        initial: b.initial,
        max: b.max,
        timeout: b.timeout,
    }
}

/// Runs `plan` with at most `concurrency` steps in flight.
pub async fn execute(
    ctx: &AwsContext,
    plan: &Plan,
    concurrency: usize,
) -> Result<ExecReport, ExecError> {
    let options = ExecOptions {
        max_in_flight: concurrency,
        retry: retry_policy(),
        title: String::new(),
    };
    let reporter = asiaq_engine::report::current();
    asiaq_engine::execute(&Ec2Steps { ctx }, plan, &options, reporter.as_ref()).await
}

fn tags_of(pairs: &[(String, String)]) -> Vec<(String, String)> {
    pairs.to_vec()
}

fn ip_permissions(perms: &[Permission]) -> Vec<IpPermission> {
    perms
        .iter()
        .map(|p| {
            let mut b = IpPermission::builder().ip_protocol(&p.protocol);
            if p.protocol != "-1" {
                b = b.set_from_port(p.from_port).set_to_port(p.to_port);
            }
            match &p.source {
                PermissionSource::Group(g) => {
                    b = b.user_id_group_pairs(UserIdGroupPair::builder().group_id(g).build())
                }
                PermissionSource::Cidr(c) => b = b.ip_ranges(IpRange::builder().cidr_ip(c).build()),
            }
            b.build()
        })
        .collect()
}

fn missing(operation: &'static str, field: &'static str) -> AwsError {
    AwsError::MissingField {
        service: "ec2",
        operation,
        field,
    }
}

/// Codes that mean "already done" for a delete, detach, revoke or release.
fn already_done(e: &AwsError) -> bool {
    e.is_not_found()
        || matches!(
            e.code(),
            Some(
                "Gateway.NotAttached"
                    | "InvalidNetworkInterface.NotAttached"
                    | "InvalidAttachmentID.NotFound"
            )
        )
}

/// A DHCP option set is deleted only after the environment's VPC has been moved to its
/// replacement (update) or deleted (destroy), so a `DependencyViolation` can only mean that
/// another VPC uses the set too: that is not a failure of this environment, and waiting would
/// not change it. (moto also answers this for every set that was ever associated, see
/// README "Decisions".)
fn dhcp_options_shared(action: &Action, e: &AwsError) -> bool {
    matches!(action, Action::DeleteDhcpOptions { .. })
        && e.code() == Some("DependencyViolation")
        && !is_injected(e)
}

fn is_delete(a: &Action) -> bool {
    let name = a.name();
    ["Delete", "Detach", "Revoke", "Release", "Terminate"]
        .iter()
        .any(|p| name.starts_with(p))
}

async fn call(ctx: &AwsContext, action: &Action) -> Result<Option<String>, AwsError> {
    let ec2 = ctx.ec2();
    macro_rules! send {
        ($req:expr, $op:literal) => {
            $req.send()
                .await
                .map_err(|e| AwsError::call("ec2", $op, e))?
        };
    }
    Ok(match action {
        Action::CreateTopic { name, .. } => {
            let out = ctx
                .sns()
                .create_topic()
                .name(name)
                .send()
                .await
                .map_err(|e| AwsError::call("sns", "CreateTopic", e))?;
            out.topic_arn().map(str::to_string)
        }
        Action::Subscribe {
            topic_arn,
            protocol,
            endpoint,
            ..
        } => {
            ctx.sns()
                .subscribe()
                .topic_arn(topic_arn)
                .protocol(protocol)
                .endpoint(endpoint)
                .send()
                .await
                .map_err(|e| AwsError::call("sns", "Subscribe", e))?;
            None
        }
        Action::DeleteAlarms { names } => {
            ctx.cloudwatch()
                .delete_alarms()
                .set_alarm_names(Some(names.clone()))
                .send()
                .await
                .map_err(|e| AwsError::call("cloudwatch", "DeleteAlarms", e))?;
            None
        }
        Action::DeleteMetricFilter { log_group, name } => {
            ctx.logs()
                .delete_metric_filter()
                .log_group_name(log_group)
                .filter_name(name)
                .send()
                .await
                .map_err(|e| AwsError::call("logs", "DeleteMetricFilter", e))?;
            None
        }
        Action::DeleteLogGroup { name } => {
            ctx.logs()
                .delete_log_group()
                .log_group_name(name)
                .send()
                .await
                .map_err(|e| AwsError::call("logs", "DeleteLogGroup", e))?;
            None
        }
        Action::CreateVpc { cidr, tags, .. } => {
            let out = send!(
                ec2.create_vpc()
                    .cidr_block(cidr)
                    .tag_specifications(ec2_tag_spec(ResourceType::Vpc, &tags_of(tags))),
                "CreateVpc"
            );
            let id = out
                .vpc()
                .and_then(|v| v.vpc_id())
                .ok_or_else(|| missing("CreateVpc", "VpcId"))?
                .to_string();
            wait_for(&format!("VPC {id} to be available"), short(), || async {
                let out = ec2.describe_vpcs().vpc_ids(&id).send().await;
                match out {
                    Ok(o) => Ok(match o.vpcs().first().and_then(|v| v.state()) {
                        Some(s) if s.as_str() == "available" => Poll::Ready(()),
                        s => Poll::Pending(
                            s.map(|s| s.as_str().to_string())
                                .unwrap_or("unknown".into()),
                        ),
                    }),
                    Err(e) => {
                        let e = AwsError::call("ec2", "DescribeVpcs", e);
                        if e.is_not_found() {
                            Ok(Poll::Pending("not visible yet".into()))
                        } else {
                            Err(e)
                        }
                    }
                }
            })
            .await
            .map_err(|e| e.after_creating(&id))?;
            Some(id)
        }
        Action::EnableDnsSupport { vpc } => {
            send!(
                ec2.modify_vpc_attribute()
                    .vpc_id(vpc)
                    .enable_dns_support(AttributeBooleanValue::builder().value(true).build()),
                "ModifyVpcAttribute"
            );
            None
        }
        Action::EnableDnsHostnames { vpc } => {
            send!(
                ec2.modify_vpc_attribute()
                    .vpc_id(vpc)
                    .enable_dns_hostnames(AttributeBooleanValue::builder().value(true).build()),
                "ModifyVpcAttribute"
            );
            None
        }
        Action::CreateSubnet {
            vpc,
            cidr,
            availability_zone,
            tags,
            ..
        } => {
            let out = send!(
                ec2.create_subnet()
                    .vpc_id(vpc)
                    .cidr_block(cidr)
                    .availability_zone(availability_zone)
                    .tag_specifications(ec2_tag_spec(ResourceType::Subnet, &tags_of(tags))),
                "CreateSubnet"
            );
            Some(
                out.subnet()
                    .and_then(|s| s.subnet_id())
                    .ok_or_else(|| missing("CreateSubnet", "SubnetId"))?
                    .to_string(),
            )
        }
        Action::DeleteSubnet { subnet } => {
            send!(ec2.delete_subnet().subnet_id(subnet), "DeleteSubnet");
            None
        }
        Action::CreateSecurityGroup {
            vpc,
            name,
            description,
            tags,
            ..
        } => {
            let out = send!(
                ec2.create_security_group()
                    .vpc_id(vpc)
                    .group_name(name)
                    .description(description)
                    .tag_specifications(ec2_tag_spec(ResourceType::SecurityGroup, &tags_of(tags))),
                "CreateSecurityGroup"
            );
            Some(
                out.group_id()
                    .ok_or_else(|| missing("CreateSecurityGroup", "GroupId"))?
                    .to_string(),
            )
        }
        Action::AuthorizeIngress { group, permissions } => {
            send!(
                ec2.authorize_security_group_ingress()
                    .group_id(group)
                    .set_ip_permissions(Some(ip_permissions(permissions))),
                "AuthorizeSecurityGroupIngress"
            );
            None
        }
        Action::RevokeIngress { group, permissions } => {
            send!(
                ec2.revoke_security_group_ingress()
                    .group_id(group)
                    .set_ip_permissions(Some(ip_permissions(permissions))),
                "RevokeSecurityGroupIngress"
            );
            None
        }
        Action::RevokeEgress { group, permissions } => {
            send!(
                ec2.revoke_security_group_egress()
                    .group_id(group)
                    .set_ip_permissions(Some(ip_permissions(permissions))),
                "RevokeSecurityGroupEgress"
            );
            None
        }
        Action::DeleteSecurityGroup { group } => {
            send!(
                ec2.delete_security_group().group_id(group),
                "DeleteSecurityGroup"
            );
            None
        }
        Action::CreateRouteTable { vpc, tags, .. } => {
            let out = send!(
                ec2.create_route_table()
                    .vpc_id(vpc)
                    .tag_specifications(ec2_tag_spec(ResourceType::RouteTable, &tags_of(tags))),
                "CreateRouteTable"
            );
            Some(
                out.route_table()
                    .and_then(|t| t.route_table_id())
                    .ok_or_else(|| missing("CreateRouteTable", "RouteTableId"))?
                    .to_string(),
            )
        }
        Action::AssociateRouteTable {
            route_table,
            subnet,
        } => {
            send!(
                ec2.associate_route_table()
                    .route_table_id(route_table)
                    .subnet_id(subnet),
                "AssociateRouteTable"
            );
            None
        }
        Action::DeleteRouteTable { route_table } => {
            // Explicit associations block the delete (AWS drops them with the subnet,
            // emulators may not): remove what is left first.
            let out = send!(
                ec2.describe_route_tables().route_table_ids(route_table),
                "DescribeRouteTables"
            );
            for a in out.route_tables().iter().flat_map(|t| t.associations()) {
                if a.main() == Some(true) {
                    continue;
                }
                if let Some(id) = a.route_table_association_id() {
                    if let Err(e) = ec2
                        .disassociate_route_table()
                        .association_id(id)
                        .send()
                        .await
                    {
                        let e = AwsError::call("ec2", "DisassociateRouteTable", e);
                        if !already_done(&e) {
                            return Err(e);
                        }
                    }
                }
            }
            send!(
                ec2.delete_route_table().route_table_id(route_table),
                "DeleteRouteTable"
            );
            None
        }
        Action::CreateRoute {
            route_table,
            destination,
            target,
        } => {
            let req = ec2
                .create_route()
                .route_table_id(route_table)
                .destination_cidr_block(destination);
            let req = match target {
                RouteTarget::NatGateway(n) => req.nat_gateway_id(n),
                RouteTarget::Peering(p) => req.vpc_peering_connection_id(p),
                other => req.gateway_id(other.id()),
            };
            send!(req, "CreateRoute");
            None
        }
        Action::ReplaceRoute {
            route_table,
            destination,
            target,
        } => {
            let req = ec2
                .replace_route()
                .route_table_id(route_table)
                .destination_cidr_block(destination);
            let req = match target {
                RouteTarget::NatGateway(n) => req.nat_gateway_id(n),
                RouteTarget::Peering(p) => req.vpc_peering_connection_id(p),
                other => req.gateway_id(other.id()),
            };
            send!(req, "ReplaceRoute");
            None
        }
        Action::DeleteRoute {
            route_table,
            destination,
        } => {
            send!(
                ec2.delete_route()
                    .route_table_id(route_table)
                    .destination_cidr_block(destination),
                "DeleteRoute"
            );
            None
        }
        Action::CreateInternetGateway { tags, .. } => {
            let out = send!(
                ec2.create_internet_gateway()
                    .tag_specifications(ec2_tag_spec(
                        ResourceType::InternetGateway,
                        &tags_of(tags)
                    )),
                "CreateInternetGateway"
            );
            Some(
                out.internet_gateway()
                    .and_then(|g| g.internet_gateway_id())
                    .ok_or_else(|| missing("CreateInternetGateway", "InternetGatewayId"))?
                    .to_string(),
            )
        }
        Action::AttachInternetGateway { gateway, vpc } => {
            send!(
                ec2.attach_internet_gateway()
                    .internet_gateway_id(gateway)
                    .vpc_id(vpc),
                "AttachInternetGateway"
            );
            None
        }
        Action::DetachInternetGateway { gateway, vpc } => {
            send!(
                ec2.detach_internet_gateway()
                    .internet_gateway_id(gateway)
                    .vpc_id(vpc),
                "DetachInternetGateway"
            );
            None
        }
        Action::DeleteInternetGateway { gateway } => {
            send!(
                ec2.delete_internet_gateway().internet_gateway_id(gateway),
                "DeleteInternetGateway"
            );
            None
        }
        Action::AttachVpnGateway { gateway, vpc } => {
            send!(
                ec2.attach_vpn_gateway().vpn_gateway_id(gateway).vpc_id(vpc),
                "AttachVpnGateway"
            );
            wait_vgw(ctx, gateway, vpc, "attached").await?;
            None
        }
        Action::DetachVpnGateway { gateway, vpc } => {
            send!(
                ec2.detach_vpn_gateway().vpn_gateway_id(gateway).vpc_id(vpc),
                "DetachVpnGateway"
            );
            wait_vgw(ctx, gateway, vpc, "detached").await?;
            None
        }
        Action::AllocateAddress { tags, .. } => {
            let out = send!(
                ec2.allocate_address()
                    .domain(DomainType::Vpc)
                    .tag_specifications(ec2_tag_spec(ResourceType::ElasticIp, &tags_of(tags))),
                "AllocateAddress"
            );
            Some(
                out.allocation_id()
                    .ok_or_else(|| missing("AllocateAddress", "AllocationId"))?
                    .to_string(),
            )
        }
        Action::ReleaseAddress { allocation_id, .. } => {
            send!(
                ec2.release_address().allocation_id(allocation_id),
                "ReleaseAddress"
            );
            None
        }
        Action::CreateNatGateway {
            subnet,
            allocation_id,
            tags,
            ..
        } => {
            let out = send!(
                ec2.create_nat_gateway()
                    .subnet_id(subnet)
                    .allocation_id(allocation_id)
                    .tag_specifications(ec2_tag_spec(ResourceType::Natgateway, &tags_of(tags))),
                "CreateNatGateway"
            );
            let id = out
                .nat_gateway()
                .and_then(|n| n.nat_gateway_id())
                .ok_or_else(|| missing("CreateNatGateway", "NatGatewayId"))?
                .to_string();
            wait_nat(ctx, &id, "available").await?;
            Some(id)
        }
        Action::DeleteNatGateway { nat_gateway } => {
            send!(
                ec2.delete_nat_gateway().nat_gateway_id(nat_gateway),
                "DeleteNatGateway"
            );
            wait_nat(ctx, nat_gateway, "deleted").await?;
            None
        }
        Action::CreateDhcpOptions { config, tags, .. } => {
            let configs: Vec<NewDhcpConfiguration> = config
                .iter()
                .map(|(k, v)| {
                    NewDhcpConfiguration::builder()
                        .key(k)
                        .set_values(Some(v.clone()))
                        .build()
                })
                .collect();
            let out = send!(
                ec2.create_dhcp_options()
                    .set_dhcp_configurations(Some(configs))
                    .tag_specifications(ec2_tag_spec(ResourceType::DhcpOptions, &tags_of(tags))),
                "CreateDhcpOptions"
            );
            let opts = out
                .dhcp_options()
                .ok_or_else(|| missing("CreateDhcpOptions", "DhcpOptions"))?;
            let id = opts
                .dhcp_options_id()
                .ok_or_else(|| missing("CreateDhcpOptions", "DhcpOptionsId"))?
                .to_string();
            // Some endpoints (moto) ignore TagSpecifications here: tag it explicitly then.
            // The id is already made: a refused tagging must not lose it (the rollback
            // deletes it by this id, as it carries no ownership tag).
            if opts.tags().is_empty() && !tags.is_empty() {
                ec2.create_tags()
                    .resources(&id)
                    .set_tags(Some(crate::tags::ec2_tags(tags)))
                    .send()
                    .await
                    .map_err(|e| AwsError::call("ec2", "CreateTags", e).after_creating(&id))?;
            }
            Some(id)
        }
        Action::AssociateDhcpOptions { dhcp_options, vpc } => {
            send!(
                ec2.associate_dhcp_options()
                    .dhcp_options_id(dhcp_options)
                    .vpc_id(vpc),
                "AssociateDhcpOptions"
            );
            None
        }
        Action::DeleteDhcpOptions { dhcp_options } => {
            send!(
                ec2.delete_dhcp_options().dhcp_options_id(dhcp_options),
                "DeleteDhcpOptions"
            );
            None
        }
        Action::CreateNetworkInterface {
            subnet,
            private_ip,
            security_group,
            description,
            tags,
            ..
        } => {
            let out = send!(
                ec2.create_network_interface()
                    .subnet_id(subnet)
                    .private_ip_address(private_ip)
                    .groups(security_group)
                    .description(description)
                    .tag_specifications(ec2_tag_spec(
                        ResourceType::NetworkInterface,
                        &tags_of(tags)
                    )),
                "CreateNetworkInterface"
            );
            Some(
                out.network_interface()
                    .and_then(|n| n.network_interface_id())
                    .ok_or_else(|| missing("CreateNetworkInterface", "NetworkInterfaceId"))?
                    .to_string(),
            )
        }
        Action::DetachNetworkInterface { attachment_id } => {
            send!(
                ec2.detach_network_interface()
                    .attachment_id(attachment_id)
                    .force(true),
                "DetachNetworkInterface"
            );
            None
        }
        Action::DeleteNetworkInterface { network_interface } => {
            send!(
                ec2.delete_network_interface()
                    .network_interface_id(network_interface),
                "DeleteNetworkInterface"
            );
            None
        }
        Action::CreateVpcEndpoint {
            vpc,
            service_name,
            route_tables,
            tags,
            ..
        } => {
            let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#;
            let out = send!(
                ec2.create_vpc_endpoint()
                    .vpc_id(vpc)
                    .service_name(service_name)
                    .vpc_endpoint_type(VpcEndpointType::Gateway)
                    .set_route_table_ids(Some(route_tables.clone()))
                    .policy_document(policy)
                    .tag_specifications(ec2_tag_spec(ResourceType::VpcEndpoint, &tags_of(tags))),
                "CreateVpcEndpoint"
            );
            Some(
                out.vpc_endpoint()
                    .and_then(|e| e.vpc_endpoint_id())
                    .ok_or_else(|| missing("CreateVpcEndpoint", "VpcEndpointId"))?
                    .to_string(),
            )
        }
        Action::ModifyVpcEndpoint {
            endpoint,
            add_route_tables,
            remove_route_tables,
        } => {
            send!(
                ec2.modify_vpc_endpoint()
                    .vpc_endpoint_id(endpoint)
                    .set_add_route_table_ids(
                        Some(add_route_tables.clone()).filter(|v| !v.is_empty())
                    )
                    .set_remove_route_table_ids(
                        Some(remove_route_tables.clone()).filter(|v| !v.is_empty())
                    ),
                "ModifyVpcEndpoint"
            );
            None
        }
        Action::DeleteVpcEndpoint { endpoint } => {
            send!(
                ec2.delete_vpc_endpoints().vpc_endpoint_ids(endpoint),
                "DeleteVpcEndpoints"
            );
            None
        }
        Action::CreatePeering {
            requester_vpc,
            accepter_vpc,
            tags,
            ..
        } => {
            let out = send!(
                ec2.create_vpc_peering_connection()
                    .vpc_id(requester_vpc)
                    .peer_vpc_id(accepter_vpc)
                    .tag_specifications(ec2_tag_spec(
                        ResourceType::VpcPeeringConnection,
                        &tags_of(tags)
                    )),
                "CreateVpcPeeringConnection"
            );
            let id = out
                .vpc_peering_connection()
                .and_then(|p| p.vpc_peering_connection_id())
                .ok_or_else(|| missing("CreateVpcPeeringConnection", "VpcPeeringConnectionId"))?
                .to_string();
            let accept = wait_for(&format!("peering {id} to be accepted"), short(), || async {
                match ec2
                    .accept_vpc_peering_connection()
                    .vpc_peering_connection_id(&id)
                    .send()
                    .await
                {
                    Ok(_) => Ok(Poll::Ready(())),
                    Err(e) => {
                        let e = AwsError::call("ec2", "AcceptVpcPeeringConnection", e);
                        if e.is_not_found() && !is_injected(&e) {
                            Ok(Poll::Pending(e.to_string()))
                        } else {
                            Err(e)
                        }
                    }
                }
            })
            .await;
            if let Err(e) = accept {
                // Do not leave a half-made peering behind.
                let _ = ec2
                    .delete_vpc_peering_connection()
                    .vpc_peering_connection_id(&id)
                    .send()
                    .await;
                return Err(e);
            }
            Some(id)
        }
        Action::DeletePeering { peering } => {
            send!(
                ec2.delete_vpc_peering_connection()
                    .vpc_peering_connection_id(peering),
                "DeleteVpcPeeringConnection"
            );
            None
        }
        Action::TerminateInstances { instances } => {
            send!(
                ec2.terminate_instances()
                    .set_instance_ids(Some(instances.clone())),
                "TerminateInstances"
            );
            let ids = instances.clone();
            wait_for(
                &format!("{} instance(s) to terminate", ids.len()),
                long(),
                || async {
                    let out = ec2
                        .describe_instances()
                        .set_instance_ids(Some(ids.clone()))
                        .send()
                        .await
                        .map_err(|e| AwsError::call("ec2", "DescribeInstances", e))?;
                    let left: Vec<String> = out
                        .reservations()
                        .iter()
                        .flat_map(|r| r.instances())
                        .filter(|i| {
                            i.state()
                                .and_then(|s| s.name())
                                .is_none_or(|n| n.as_str() != "terminated")
                        })
                        .filter_map(|i| i.instance_id().map(str::to_string))
                        .collect();
                    Ok(if left.is_empty() {
                        Poll::Ready(())
                    } else {
                        Poll::Pending(format!("{} not terminated", left.join(", ")))
                    })
                },
            )
            .await?;
            None
        }
        Action::DeleteAutoScalingGroup { name } => {
            ctx.autoscaling()
                .delete_auto_scaling_group()
                .auto_scaling_group_name(name)
                .force_delete(true)
                .send()
                .await
                .map_err(|e| AwsError::call("autoscaling", "DeleteAutoScalingGroup", e))?;
            wait_for(
                &format!("autoscaling group {name} to be deleted"),
                long(),
                || async {
                    let out = ctx
                        .autoscaling()
                        .describe_auto_scaling_groups()
                        .auto_scaling_group_names(name)
                        .send()
                        .await
                        .map_err(|e| {
                            AwsError::call("autoscaling", "DescribeAutoScalingGroups", e)
                        })?;
                    Ok(if out.auto_scaling_groups().is_empty() {
                        Poll::Ready(())
                    } else {
                        Poll::Pending("deleting".into())
                    })
                },
            )
            .await?;
            // The template named like the group is the group's own (asiaq names them so).
            if let Some(t) = crate::hosts::groups::launch_template_by_name(ctx, name).await? {
                crate::hosts::groups::delete_launch_template(ctx, &t.id).await?;
            }
            None
        }
        Action::DeleteClassicLoadBalancer { name } => {
            // Its CNAMEs first (spec §4.25: ELBs and their CNAMEs), found by its DNS name.
            if let Some(elb) = crate::hosts::lb::describe_elb(ctx, name).await? {
                crate::route53::delete_records_by_value(
                    ctx,
                    "CNAME",
                    std::slice::from_ref(&elb.dns_name),
                )
                .await?;
            }
            ctx.elb()
                .delete_load_balancer()
                .load_balancer_name(name)
                .send()
                .await
                .map_err(|e| AwsError::call("elasticloadbalancing", "DeleteLoadBalancer", e))?;
            None
        }
        Action::DeleteLoadBalancer { arn, .. } => {
            ctx.elbv2()
                .delete_load_balancer()
                .load_balancer_arn(arn)
                .send()
                .await
                .map_err(|e| AwsError::call("elasticloadbalancingv2", "DeleteLoadBalancer", e))?;
            None
        }
        Action::DeleteVpc { vpc } => {
            send!(ec2.delete_vpc().vpc_id(vpc), "DeleteVpc");
            None
        }
    })
}

fn short() -> Backoff {
    Backoff::new(
        Duration::from_secs(1),
        Duration::from_secs(5),
        Duration::from_secs(300),
    )
}

fn long() -> Backoff {
    Backoff::new(
        Duration::from_secs(5),
        Duration::from_secs(15),
        Duration::from_secs(900),
    )
}

async fn wait_nat(ctx: &AwsContext, id: &str, want: &str) -> Result<(), AwsError> {
    wait_for(
        &format!("NAT gateway {id} to be {want}"),
        long(),
        || async {
            let out = ctx
                .ec2()
                .describe_nat_gateways()
                .nat_gateway_ids(id)
                .send()
                .await;
            let out = match out {
                Ok(o) => o,
                Err(e) => {
                    let e = AwsError::call("ec2", "DescribeNatGateways", e);
                    if e.is_not_found() {
                        return Ok(if want == "deleted" {
                            Poll::Ready(())
                        } else {
                            Poll::Pending("not visible yet".into())
                        });
                    }
                    return Err(e);
                }
            };
            let state = out
                .nat_gateways()
                .first()
                .and_then(|n| n.state())
                .map(|s| s.as_str().to_string());
            match state.as_deref() {
                None if want == "deleted" => Ok(Poll::Ready(())),
                Some(s) if s == want => Ok(Poll::Ready(())),
                Some("failed") => Err(AwsError::State(format!(
                    "NAT gateway {id} failed: {}",
                    out.nat_gateways()
                        .first()
                        .and_then(|n| n.failure_message())
                        .unwrap_or("no reason given")
                ))),
                s => Ok(Poll::Pending(s.unwrap_or("unknown").to_string())),
            }
        },
    )
    .await
}

async fn wait_vgw(ctx: &AwsContext, id: &str, vpc: &str, want: &str) -> Result<(), AwsError> {
    let backoff = Backoff::new(
        Duration::from_secs(2),
        Duration::from_secs(2),
        Duration::from_secs(600),
    );
    wait_for(
        &format!("VPN gateway {id} to be {want} ({vpc})"),
        backoff,
        || async {
            let out = ctx
                .ec2()
                .describe_vpn_gateways()
                .vpn_gateway_ids(id)
                .send()
                .await
                .map_err(|e| AwsError::call("ec2", "DescribeVpnGateways", e))?;
            let state = out
                .vpn_gateways()
                .first()
                .and_then(|g| g.vpc_attachments().iter().find(|a| a.vpc_id() == Some(vpc)))
                .and_then(|a| a.state())
                .map(|s| s.as_str().to_string());
            Ok(match state.as_deref() {
                Some(s) if s == want => Poll::Ready(()),
                None if want == "detached" => Poll::Ready(()),
                s => Poll::Pending(s.unwrap_or("no attachment").to_string()),
            })
        },
    )
    .await
}
