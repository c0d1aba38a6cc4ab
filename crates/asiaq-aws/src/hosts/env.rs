//! The environment (VPC) that hosts go into: its id, class and metanetworks (security group
//! and per-AZ subnets), as the provisioning core needs them.

use std::collections::BTreeMap;

use asiaq_core::provision::{MetaNetworkFacts, SubnetFacts};
use asiaq_core::syntax::MetaNetworkName;

use super::{ec2_tag_map, filter};
use crate::context::AwsContext;
use crate::error::AwsError;

/// An environment as hosts see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentNetwork {
    pub name: String,
    pub vpc_id: String,
    /// The `type` tag.
    pub env_type: Option<String>,
    /// The `environment_class` tag (default `development`).
    pub environment_class: String,
    pub tags: BTreeMap<String, String>,
    /// In the order intranet, tunnel, dmz, maintenance; subnets sorted by zone.
    pub metanetworks: Vec<MetaNetworkFacts>,
}

impl EnvironmentNetwork {
    pub fn metanetwork(&self, name: MetaNetworkName) -> Option<&MetaNetworkFacts> {
        self.metanetworks.iter().find(|m| m.name == name)
    }

    /// Every subnet id of the environment.
    pub fn subnet_ids(&self) -> Vec<String> {
        self.metanetworks
            .iter()
            .flat_map(|m| m.subnets.iter().map(|s| s.id.clone()))
            .collect()
    }
}

/// The environment named `name` (VPC tag `Name`); `Ok(None)` when there is none, an error
/// when two VPCs carry the name. One filtered describe each of VPCs, security groups and
/// subnets.
pub async fn find(ctx: &AwsContext, name: &str) -> Result<Option<EnvironmentNetwork>, AwsError> {
    let vpcs = ctx
        .ec2()
        .describe_vpcs()
        .filters(filter("tag:Name", &[name]))
        .send()
        .await
        .map_err(|e| AwsError::call("ec2", "DescribeVpcs", e))?
        .vpcs
        .unwrap_or_default();
    let vpc = match vpcs.as_slice() {
        [] => return Ok(None),
        [vpc] => vpc,
        many => {
            return Err(AwsError::State(format!(
                "{} VPCs are named {name:?} ({}); asiaq cannot tell which one is the environment",
                many.len(),
                many.iter()
                    .filter_map(|v| v.vpc_id())
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
    };
    let vpc_id = vpc.vpc_id().unwrap_or_default().to_string();
    let tags = ec2_tag_map(vpc.tags());
    let (sgs, subnets) = futures::try_join!(
        async {
            ctx.ec2()
                .describe_security_groups()
                .filters(filter("vpc-id", &[&vpc_id]))
                .filters(filter("tag-key", &["meta_network"]))
                .send()
                .await
                .map_err(|e| AwsError::call("ec2", "DescribeSecurityGroups", e))
                .map(|o| o.security_groups.unwrap_or_default())
        },
        async {
            ctx.ec2()
                .describe_subnets()
                .filters(filter("vpc-id", &[&vpc_id]))
                .send()
                .await
                .map_err(|e| AwsError::call("ec2", "DescribeSubnets", e))
                .map(|o| o.subnets.unwrap_or_default())
        }
    )?;
    let mut metanetworks = Vec::new();
    for net in MetaNetworkName::ALL {
        let Some(sg) = sgs.iter().find(|g| {
            ec2_tag_map(g.tags())
                .get("meta_network")
                .map(String::as_str)
                == Some(net.as_str())
        }) else {
            continue;
        };
        let mut subs: Vec<SubnetFacts> = subnets
            .iter()
            .filter(|s| {
                ec2_tag_map(s.tags())
                    .get("meta_network")
                    .map(String::as_str)
                    == Some(net.as_str())
            })
            .filter_map(|s| {
                Some(SubnetFacts {
                    id: s.subnet_id()?.to_string(),
                    availability_zone: s.availability_zone().unwrap_or_default().to_string(),
                    cidr: s.cidr_block()?.parse().ok()?,
                })
            })
            .collect();
        subs.sort_by(|a, b| {
            a.availability_zone
                .cmp(&b.availability_zone)
                .then(a.cidr.cmp(&b.cidr))
        });
        metanetworks.push(MetaNetworkFacts {
            name: net,
            security_group_id: sg.group_id().unwrap_or_default().to_string(),
            subnets: subs,
        });
    }
    Ok(Some(EnvironmentNetwork {
        name: name.to_string(),
        vpc_id,
        env_type: tags.get("type").cloned(),
        environment_class: tags
            .get("environment_class")
            .cloned()
            .unwrap_or_else(|| "development".to_string()),
        tags,
        metanetworks,
    }))
}

/// [`find`], or an error saying the environment does not exist.
pub async fn require(ctx: &AwsContext, name: &str) -> Result<EnvironmentNetwork, AwsError> {
    find(ctx, name).await?.ok_or_else(|| {
        AwsError::State(format!(
            "environment {name:?} does not exist (no VPC is tagged Name={name}); create it with `asiaq vpc create --name {name} --type <type>`"
        ))
    })
}
