//! The environment (VPC) that hosts go into: its id, class and metanetworks (security group
//! and per-AZ subnets), as the provisioning core needs them.

use std::collections::BTreeMap;

use asiaq_core::provision::{MetaNetworkFacts, SubnetFacts};
use asiaq_core::syntax::MetaNetworkName;

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

/// The environment named `name` (VPC tag `Name`), as [`crate::environment::find_environment`]
/// observes it (the one lookup shared with `asiaq vpc`); `Ok(None)` when there is none, an
/// error when two VPCs carry the name.
pub async fn find(ctx: &AwsContext, name: &str) -> Result<Option<EnvironmentNetwork>, AwsError> {
    let Some(env) = crate::environment::find_environment(ctx, name).await? else {
        return Ok(None);
    };
    let metanetworks = env
        .metanetworks
        .iter()
        .map(|m| MetaNetworkFacts {
            name: m.name,
            security_group_id: m.security_group_id.clone(),
            subnets: m
                .subnets
                .iter()
                .map(|s| SubnetFacts {
                    id: s.id.clone(),
                    availability_zone: s.availability_zone.clone(),
                    cidr: s.cidr,
                })
                .collect(),
        })
        .collect();
    Ok(Some(EnvironmentNetwork {
        name: name.to_string(),
        vpc_id: env.vpc_id,
        env_type: env.env_type,
        environment_class: env
            .tags
            .get("environment_class")
            .cloned()
            .unwrap_or_else(|| "development".to_string()),
        tags: env.tags,
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
