//! Finding an environment (a VPC created by `asiaq vpc create`) and its metanetworks.
//!
//! This is the small, stable view other commands build on: spinup needs the subnets and
//! the security group of a metanetwork, bake needs the tunnel metanetwork of the bakery
//! environment. It makes one filtered describe per resource type (VPC, security groups,
//! subnets, route tables), never one per resource.
//!
//! An environment is a VPC tagged `Name=<name>`; its type is the `type` tag. A metanetwork
//! is the security group tagged `meta_network=<net>` in the VPC, with the subnets and route
//! tables carrying the same tag.

use std::collections::BTreeMap;

use asiaq_core::syntax::MetaNetworkName;
use aws_sdk_ec2::types::{Filter, Vpc};
use ipnet::Ipv4Net;
use serde::Serialize;

use crate::context::AwsContext;
use crate::error::AwsError;

/// One environment as found in AWS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObservedEnvironment {
    pub vpc_id: String,
    /// The `Name` tag.
    pub name: String,
    /// The `type` tag (an `[envtype:<type>]` of disco_vpc.ini), if set.
    pub env_type: Option<String>,
    pub cidr: Ipv4Net,
    /// Every tag of the VPC.
    pub tags: BTreeMap<String, String>,
    /// Metanetworks present, in the fixed order intranet, tunnel, dmz, maintenance.
    pub metanetworks: Vec<ObservedMetaNetwork>,
}

impl ObservedEnvironment {
    /// `vpc show` of the environment in `state`: its overview as text or JSON, and a note
    /// (text only) when it has no metanetworks.
    pub fn show_printout(
        &self,
        state: &asiaq_core::vpc::state::VpcState,
    ) -> asiaq_core::printout::Printout {
        use asiaq_core::vpc::show::{overview, ShowEnvironment};
        let out = ShowEnvironment {
            vpc_id: &self.vpc_id,
            name: &self.name,
            env_type: self.env_type.as_deref(),
            cidr: self.cidr.to_string(),
            tags: &self.tags,
            overview: overview(state),
        };
        let notes = match state.metanetworks().is_empty() {
            true => vec!["note: the VPC has no metanetworks (was it made by asiaq?)".to_string()],
            false => Vec::new(),
        };
        asiaq_core::printout::Printout::new(&out, out.lines()).with_text_notes(notes)
    }
}

/// One metanetwork of an environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObservedMetaNetwork {
    pub name: MetaNetworkName,
    /// The security group `<env>_<net>`.
    pub security_group_id: String,
    /// One subnet per availability zone, sorted by zone name.
    pub subnets: Vec<ObservedSubnet>,
    /// Route tables tagged with this metanetwork (one per subnet, or one shared table for
    /// environments made by the original tool before it switched to per-subnet tables).
    pub route_table_ids: Vec<String>,
}

/// One per-AZ subnet of a metanetwork.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObservedSubnet {
    pub id: String,
    pub availability_zone: String,
    pub cidr: Ipv4Net,
}

impl ObservedEnvironment {
    /// The metanetwork `name`, if the environment has it.
    pub fn metanetwork(&self, name: MetaNetworkName) -> Option<&ObservedMetaNetwork> {
        self.metanetworks.iter().find(|m| m.name == name)
    }
}

impl ObservedMetaNetwork {
    /// The metanetwork's CIDR, reconstructed from its subnets (spec §4.2).
    pub fn cidr(&self) -> Option<Ipv4Net> {
        let nets: Vec<Ipv4Net> = self.subnets.iter().map(|s| s.cidr).collect();
        asiaq_core::network::metanetwork_cidr_from_subnets(&nets)
    }

    /// The subnet containing `ip`, if any.
    pub fn subnet_containing(&self, ip: std::net::Ipv4Addr) -> Option<&ObservedSubnet> {
        self.subnets.iter().find(|s| s.cidr.contains(&ip))
    }
}

pub(crate) fn filter(name: &str, values: &[&str]) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.iter().map(|v| v.to_string()).collect()))
        .build()
}

pub(crate) fn tag_map(tags: &[aws_sdk_ec2::types::Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
        .collect()
}

pub(crate) fn parse_cidr(operation: &'static str, cidr: Option<&str>) -> Result<Ipv4Net, AwsError> {
    cidr.and_then(|c| c.parse::<Ipv4Net>().ok())
        .ok_or(AwsError::MissingField {
            service: "ec2",
            operation,
            field: "CidrBlock",
        })
}

/// The environment named `name` (VPC tag `Name`). `Ok(None)` when there is none; an error
/// when two VPCs carry the name (the original silently took the first).
pub async fn find_environment(
    ctx: &AwsContext,
    name: &str,
) -> Result<Option<ObservedEnvironment>, AwsError> {
    let vpcs = describe_vpcs(ctx, vec![filter("tag:Name", &[name])]).await?;
    match vpcs.as_slice() {
        [] => Ok(None),
        [vpc] => observe(ctx, vpc).await.map(Some),
        many => Err(AwsError::State(format!(
            "{} VPCs are named {name:?} ({}); asiaq cannot tell which one is the environment",
            many.len(),
            many.iter()
                .filter_map(|v| v.vpc_id())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// The environment named `name`, else the one of VPC `vpc_id` (`--name`/`--vpc-id`);
/// refused (bad input) when there is none.
pub async fn resolve_environment(
    ctx: &AwsContext,
    name: Option<&str>,
    vpc_id: Option<&str>,
) -> Result<ObservedEnvironment, crate::FlowError> {
    let found = match (name, vpc_id) {
        (Some(n), _) => find_environment(ctx, n).await?,
        (None, Some(id)) => find_environment_by_vpc_id(ctx, id).await?,
        (None, None) => None,
    };
    let none = || asiaq_core::printout::Refusal::usage("No matching VPC found").into();
    found.ok_or_else(none)
}

/// The environment whose VPC is `vpc_id`. `Ok(None)` when there is no such VPC.
pub async fn find_environment_by_vpc_id(
    ctx: &AwsContext,
    vpc_id: &str,
) -> Result<Option<ObservedEnvironment>, AwsError> {
    let vpcs = match ctx.ec2().describe_vpcs().vpc_ids(vpc_id).send().await {
        Ok(out) => out.vpcs.unwrap_or_default(),
        Err(e) => {
            let err = AwsError::call("ec2", "DescribeVpcs", e);
            if err.is_not_found() {
                return Ok(None);
            }
            return Err(err);
        }
    };
    match vpcs.first() {
        None => Ok(None),
        Some(vpc) => observe(ctx, vpc).await.map(Some),
    }
}

/// Every VPC of the region matching `filters` (paginated).
pub(crate) async fn describe_vpcs(
    ctx: &AwsContext,
    filters: Vec<Filter>,
) -> Result<Vec<Vpc>, AwsError> {
    let mut out = Vec::new();
    let mut pages = ctx
        .ec2()
        .describe_vpcs()
        .set_filters(if filters.is_empty() {
            None
        } else {
            Some(filters)
        })
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::call("ec2", "DescribeVpcs", e))?;
        out.extend(page.vpcs.unwrap_or_default());
    }
    Ok(out)
}

async fn observe(ctx: &AwsContext, vpc: &Vpc) -> Result<ObservedEnvironment, AwsError> {
    let vpc_id = vpc.vpc_id().unwrap_or_default().to_string();
    let tags = tag_map(vpc.tags());
    let by_vpc = || vec![filter("vpc-id", &[vpc_id.as_str()])];
    let ec2 = ctx.ec2();
    let sgs = async {
        let mut out = Vec::new();
        let mut pages = ec2
            .describe_security_groups()
            .set_filters(Some(by_vpc()))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::call("ec2", "DescribeSecurityGroups", e))?;
            out.extend(page.security_groups.unwrap_or_default());
        }
        Ok::<_, AwsError>(out)
    };
    let subnets = async {
        let mut out = Vec::new();
        let mut pages = ec2
            .describe_subnets()
            .set_filters(Some(by_vpc()))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::call("ec2", "DescribeSubnets", e))?;
            out.extend(page.subnets.unwrap_or_default());
        }
        Ok::<_, AwsError>(out)
    };
    let tables = async {
        let mut out = Vec::new();
        let mut pages = ec2
            .describe_route_tables()
            .set_filters(Some(by_vpc()))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::call("ec2", "DescribeRouteTables", e))?;
            out.extend(page.route_tables.unwrap_or_default());
        }
        Ok::<_, AwsError>(out)
    };
    let (sgs, subnets, tables) = futures::try_join!(sgs, subnets, tables)?;

    let net_of = |t: &[aws_sdk_ec2::types::Tag]| {
        crate::tags::ec2_tag(t, "meta_network").and_then(|v| v.parse::<MetaNetworkName>().ok())
    };
    let mut metanetworks = Vec::new();
    for name in MetaNetworkName::ALL {
        let Some(sg) = sgs
            .iter()
            .filter(|g| net_of(g.tags()) == Some(name))
            .min_by_key(|g| g.group_id().unwrap_or_default().to_string())
        else {
            continue;
        };
        let mut subs = Vec::new();
        for s in subnets.iter().filter(|s| net_of(s.tags()) == Some(name)) {
            subs.push(ObservedSubnet {
                id: s.subnet_id().unwrap_or_default().to_string(),
                availability_zone: s.availability_zone().unwrap_or_default().to_string(),
                cidr: parse_cidr("DescribeSubnets", s.cidr_block())?,
            });
        }
        subs.sort_by(|a, b| a.availability_zone.cmp(&b.availability_zone));
        let mut route_table_ids: Vec<String> = tables
            .iter()
            .filter(|t| net_of(t.tags()) == Some(name))
            .filter_map(|t| t.route_table_id().map(str::to_string))
            .collect();
        route_table_ids.sort();
        metanetworks.push(ObservedMetaNetwork {
            name,
            security_group_id: sg.group_id().unwrap_or_default().to_string(),
            subnets: subs,
            route_table_ids,
        });
    }
    Ok(ObservedEnvironment {
        name: tags.get("Name").cloned().unwrap_or_default(),
        env_type: tags.get("type").cloned(),
        cidr: parse_cidr("DescribeVpcs", vpc.cidr_block())?,
        vpc_id,
        tags,
        metanetworks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_environment_without_metanetworks_is_noted() {
        let env = ObservedEnvironment {
            vpc_id: "vpc-1".into(),
            name: "ci".into(),
            env_type: Some("ci".into()),
            cidr: "10.0.0.0/16".parse().unwrap(),
            tags: BTreeMap::new(),
            metanetworks: Vec::new(),
        };
        let state = asiaq_core::vpc::state::VpcState::default();
        let p = env.show_printout(&state);
        assert_eq!(
            p.text_notes,
            ["note: the VPC has no metanetworks (was it made by asiaq?)"]
        );
        assert_eq!(p.json["vpc_id"], "vpc-1");
        assert_eq!(p.json["type"], "ci");
        assert!(!p.lines.is_empty());
    }
}
