//! `elasticache`: observing an environment's replication groups, the inputs of the core's
//! plans (the environment's metanetwork, subnet groups, each group, its CNAME), and the
//! plan's calls through the engine. CNAMEs are read and written through [`crate::route53`].

use std::time::Duration;

use asiaq_core::elasticache::{
    self as core, CacheAction, CacheCluster, DesiredGroup, DnsTarget, MissingSubnetGroup,
    ObservedGroup, UpdateInput,
};
use asiaq_core::plan::Plan;
use asiaq_engine::Apply;
use aws_sdk_elasticache::types::{ReplicationGroup, Tag};

use crate::context::AwsContext;
use crate::environment::{find_environment, ObservedEnvironment};
use crate::error::AwsError;
use crate::route53;
use crate::wait::{wait_for, Backoff, Poll};

/// How long `delete --wait` waits for a group to be gone, unless told otherwise.
pub const DELETE_TIMEOUT_SECONDS: u64 = 1800;

/// How long `update` waits for a new group to be available.
pub const CREATE_TIMEOUT: Duration = Duration::from_secs(45 * 60);

fn call<E>(operation: &'static str) -> impl FnOnce(crate::error::CallError<E>) -> AwsError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    move |e| AwsError::call("elasticache", operation, e)
}

fn code_is(e: &AwsError, code: &str) -> bool {
    e.code() == Some(code)
}

/// The environment, or the original's error when its VPC does not exist (exit 1).
pub async fn environment(ctx: &AwsContext, env: &str) -> Result<ObservedEnvironment, AwsError> {
    find_environment(ctx, env).await?.ok_or_else(|| {
        AwsError::State(format!(
            "there is no environment {env} (no VPC is named {env}); create it with `asiaq vpc create`"
        ))
    })
}

fn primary_endpoint(g: &ReplicationGroup) -> Option<String> {
    g.node_groups()
        .first()
        .and_then(|n| n.primary_endpoint())
        .and_then(|e| e.address())
        .map(str::to_string)
}

/// What a group is; the settings a replication group does not carry come from its first
/// member cache cluster, or (when that cannot be described) from the asiaq: tags.
async fn observed(ctx: &AwsContext, g: &ReplicationGroup) -> Result<ObservedGroup, AwsError> {
    let mut o = ObservedGroup {
        id: g.replication_group_id().unwrap_or_default().to_string(),
        description: g.description().unwrap_or_default().to_string(),
        status: g.status().unwrap_or_default().to_string(),
        engine: g.engine().unwrap_or("redis").to_string(),
        node_type: g.cache_node_type().unwrap_or_default().to_string(),
        automatic_failover: g
            .automatic_failover()
            .is_some_and(|a| a.as_str().starts_with("enabled")),
        members: g
            .node_groups()
            .iter()
            .map(|n| n.node_group_members().len())
            .sum(),
        primary_endpoint: primary_endpoint(g),
        ..ObservedGroup::default()
    };
    if o.status == "deleting" {
        return Ok(o);
    }
    if let Some(member) = g.member_clusters().first() {
        let described = ctx
            .elasticache()
            .describe_cache_clusters()
            .cache_cluster_id(member)
            .send()
            .await
            .map_err(call("DescribeCacheClusters"));
        match described {
            Ok(out) => {
                if let Some(c) = out.cache_clusters().first() {
                    o.engine_version = c.engine_version().map(str::to_string);
                    o.parameter_group = c
                        .cache_parameter_group()
                        .and_then(|p| p.cache_parameter_group_name())
                        .map(str::to_string);
                    o.maintenance_window = c.preferred_maintenance_window().map(str::to_string);
                    return Ok(o);
                }
            }
            Err(e) if code_is(&e, "CacheClusterNotFound") => {}
            Err(e) => return Err(e),
        }
    }
    if let Some(arn) = g.arn() {
        let tags = ctx
            .elasticache()
            .list_tags_for_resource()
            .resource_name(arn)
            .send()
            .await
            .map_err(call("ListTagsForResource"))?;
        let tag = |k: &str| {
            tags.tag_list()
                .iter()
                .find(|t| t.key() == Some(k))
                .and_then(|t| t.value())
                .map(str::to_string)
        };
        o.engine_version = tag(core::TAG_ENGINE_VERSION);
        o.parameter_group = tag(core::TAG_PARAMETER_GROUP);
        o.maintenance_window = tag(core::TAG_MAINTENANCE_WINDOW);
    }
    Ok(o)
}

async fn describe_group(ctx: &AwsContext, id: &str) -> Result<Option<ReplicationGroup>, AwsError> {
    match ctx
        .elasticache()
        .describe_replication_groups()
        .replication_group_id(id)
        .send()
        .await
        .map_err(call("DescribeReplicationGroups"))
    {
        Ok(out) => Ok(out.replication_groups().first().cloned()),
        Err(e) if code_is(&e, "ReplicationGroupNotFoundFault") => Ok(None),
        Err(e) => Err(e),
    }
}

/// The group `id`, if it exists.
pub async fn observe_group(ctx: &AwsContext, id: &str) -> Result<Option<ObservedGroup>, AwsError> {
    match describe_group(ctx, id).await? {
        Some(g) => observed(ctx, &g).await.map(Some),
        None => Ok(None),
    }
}

/// Every replication group of the region (page after page), without member details.
pub async fn all_groups(ctx: &AwsContext) -> Result<Vec<ObservedGroup>, AwsError> {
    let mut out = Vec::new();
    let mut pages = ctx
        .elasticache()
        .describe_replication_groups()
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(call("DescribeReplicationGroups"))?;
        for g in page.replication_groups() {
            out.push(ObservedGroup {
                id: g.replication_group_id().unwrap_or_default().to_string(),
                description: g.description().unwrap_or_default().to_string(),
                status: g.status().unwrap_or_default().to_string(),
                members: g
                    .node_groups()
                    .iter()
                    .map(|n| n.node_group_members().len())
                    .sum(),
                primary_endpoint: primary_endpoint(g),
                ..ObservedGroup::default()
            });
        }
    }
    Ok(out)
}

async fn subnet_group_exists(ctx: &AwsContext, name: &str) -> Result<bool, AwsError> {
    match ctx
        .elasticache()
        .describe_cache_subnet_groups()
        .cache_subnet_group_name(name)
        .send()
        .await
        .map_err(call("DescribeCacheSubnetGroups"))
    {
        Ok(out) => Ok(!out.cache_subnet_groups().is_empty()),
        Err(e) if code_is(&e, "CacheSubnetGroupNotFoundFault") => Ok(false),
        Err(e) => Err(e),
    }
}

/// The CNAME of `cluster`: its zone and current value; `None` without a domain or zone.
async fn dns_target(ctx: &AwsContext, c: &CacheCluster) -> Result<Option<DnsTarget>, AwsError> {
    let Some(domain) = &c.domain_name else {
        return Ok(None);
    };
    let Some(zone_id) = route53::hosted_zone_id(ctx, domain).await? else {
        return Ok(None);
    };
    let name = core::cname(&c.name, &c.env, domain);
    let current = route53::record(ctx, &zone_id, &name, "CNAME")
        .await?
        .and_then(|s| s.values.first().cloned());
    Ok(Some(DnsTarget {
        zone: asiaq_core::route53::fqdn(domain),
        zone_id,
        name,
        current,
    }))
}

fn desired(c: &CacheCluster, security_group_id: &str) -> DesiredGroup {
    let meta = c.meta_network.as_str();
    DesiredGroup {
        id: core::replication_group_id(&c.env, &c.name),
        description: core::description(&c.env, &c.name),
        cluster: c.name.clone(),
        engine: c.engine.clone(),
        engine_version: c.engine_version.clone(),
        node_type: c.instance_type.clone(),
        port: c.port,
        parameter_group: c.parameter_group.clone(),
        num_nodes: c.num_nodes,
        maintenance_window: c.maintenance_window.clone(),
        subnet_group: core::subnet_group_name(&c.env, meta),
        security_group_id: security_group_id.to_string(),
        automatic_failover: core::automatic_failover(
            &c.instance_type,
            &c.engine_version,
            c.num_nodes,
        ),
        tags: DesiredGroup::tags_for(
            &c.env,
            &c.name,
            c.product_line.as_deref(),
            &c.engine_version,
            &c.parameter_group,
            &c.maintenance_window,
        ),
    }
}

/// The plan of `update` for the configured clusters, and its notes.
pub async fn prepare_update(
    ctx: &AwsContext,
    env: &str,
    clusters: &[CacheCluster],
) -> Result<(Plan<CacheAction>, Vec<String>), AwsError> {
    let env = environment(ctx, env).await?;
    let mut missing: Vec<MissingSubnetGroup> = Vec::new();
    let mut found = Vec::new();
    for c in clusters {
        let meta = env.metanetwork(c.meta_network).ok_or_else(|| {
            AwsError::State(format!(
                "environment {} has no {} metanetwork (cluster {})",
                c.env, c.meta_network, c.name
            ))
        })?;
        let d = desired(c, &meta.security_group_id);
        if !missing.iter().any(|m| m.name == d.subnet_group)
            && !subnet_group_exists(ctx, &d.subnet_group).await?
        {
            missing.push(MissingSubnetGroup {
                name: d.subnet_group.clone(),
                subnet_ids: meta.subnets.iter().map(|s| s.id.clone()).collect(),
            });
        }
        found.push(d);
    }
    // Every group and CNAME is observed at once (their reads are independent).
    let observed =
        futures::future::try_join_all(found.iter().zip(clusters).map(|(d, c)| async move {
            let o = observe_group(ctx, &d.id).await?;
            let dns = dns_target(ctx, c).await?;
            Ok::<_, AwsError>((o, dns))
        }))
        .await?;
    let inputs: Vec<UpdateInput<'_>> = found
        .iter()
        .zip(&observed)
        .map(|(d, (o, dns))| UpdateInput {
            desired: d,
            observed: o.as_ref(),
            dns: dns.as_ref(),
        })
        .collect();
    Ok(core::update_plan(&missing, &inputs))
}

/// The plan of `delete` of one cluster, its notes, and the group's id.
pub async fn prepare_delete(
    ctx: &AwsContext,
    env: &str,
    cluster: &str,
) -> Result<(Plan<CacheAction>, Vec<String>, String), AwsError> {
    environment(ctx, env).await?;
    let id = core::replication_group_id(env, cluster);
    let o = observe_group(ctx, &id).await?;
    let (plan, notes) = core::delete_plan(&core::description(env, cluster), o.as_ref());
    Ok((plan, notes, id))
}

fn tags(pairs: &[(String, String)]) -> Vec<Tag> {
    pairs
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Waits until group `id` is available; its primary endpoint.
async fn wait_available(ctx: &AwsContext, id: &str) -> Result<String, AwsError> {
    wait_for(
        &format!("replication group {id} to be available"),
        Backoff::new(
            Duration::from_secs(15),
            Duration::from_secs(60),
            CREATE_TIMEOUT,
        ),
        || async {
            let g = describe_group(ctx, id).await?;
            Ok(match g {
                Some(g) if g.status() == Some("available") => match primary_endpoint(&g) {
                    Some(e) => Poll::Ready(e),
                    None => Poll::Pending("available, without an endpoint".into()),
                },
                Some(g) => Poll::Pending(g.status().unwrap_or("unknown").to_string()),
                None => Poll::Pending("not found".into()),
            })
        },
    )
    .await
}

/// Waits (at most `timeout`, scaled in tests) until group `id` is gone.
pub async fn wait_deleted(ctx: &AwsContext, id: &str, timeout: Duration) -> Result<(), AwsError> {
    wait_for(
        &format!("replication group {id} to be deleted"),
        Backoff::new(Duration::from_secs(15), Duration::from_secs(60), timeout),
        || async {
            Ok(match describe_group(ctx, id).await? {
                None => Poll::Ready(()),
                Some(g) => Poll::Pending(g.status().unwrap_or("unknown").to_string()),
            })
        },
    )
    .await
}

struct CacheSteps<'a> {
    ctx: &'a AwsContext,
}

impl Apply<CacheAction> for CacheSteps<'_> {
    type Error = AwsError;

    async fn apply(&self, action: &CacheAction) -> Result<Option<String>, AwsError> {
        let (ctx, ec) = (self.ctx, self.ctx.elasticache());
        match action {
            CacheAction::CreateSubnetGroup { name, subnet_ids } => {
                ec.create_cache_subnet_group()
                    .cache_subnet_group_name(name)
                    .cache_subnet_group_description(name)
                    .set_subnet_ids(Some(subnet_ids.clone()))
                    .send()
                    .await
                    .map_err(call("CreateCacheSubnetGroup"))?;
                Ok(None)
            }
            CacheAction::CreateReplicationGroup { group: g, .. } => {
                let num_nodes = i32::try_from(g.num_nodes).unwrap_or(i32::MAX);
                ec.create_replication_group()
                    .replication_group_id(&g.id)
                    .replication_group_description(&g.description)
                    .num_cache_clusters(num_nodes)
                    .cache_node_type(&g.node_type)
                    .engine(&g.engine)
                    .engine_version(&g.engine_version)
                    .cache_parameter_group_name(&g.parameter_group)
                    .cache_subnet_group_name(&g.subnet_group)
                    .security_group_ids(&g.security_group_id)
                    .preferred_maintenance_window(&g.maintenance_window)
                    .port(g.port)
                    .automatic_failover_enabled(g.automatic_failover)
                    .set_tags(Some(tags(&g.tags)))
                    .send()
                    .await
                    .map_err(call("CreateReplicationGroup"))?;
                wait_available(ctx, &g.id).await.map(Some)
            }
            CacheAction::ModifyReplicationGroup {
                id, changes, group, ..
            } => {
                let mut m = ec
                    .modify_replication_group()
                    .replication_group_id(id)
                    .apply_immediately(true);
                for c in changes {
                    m = match c.field.as_str() {
                        "engine_version" => m.engine_version(&group.engine_version),
                        "parameter_group" => m.cache_parameter_group_name(&group.parameter_group),
                        "maintenance_window" => {
                            m.preferred_maintenance_window(&group.maintenance_window)
                        }
                        "automatic_failover" => {
                            m.automatic_failover_enabled(group.automatic_failover)
                        }
                        "node_type" => m.cache_node_type(&group.node_type),
                        _ => m,
                    };
                }
                let out = m.send().await.map_err(call("ModifyReplicationGroup"))?;
                if let Some(arn) = out.replication_group().and_then(|g| g.arn()) {
                    ec.add_tags_to_resource()
                        .resource_name(arn)
                        .set_tags(Some(tags(&group.tags)))
                        .send()
                        .await
                        .map_err(call("AddTagsToResource"))?;
                }
                Ok(None)
            }
            CacheAction::WriteCname {
                zone_id,
                name,
                value,
                ..
            } => {
                route53::upsert_cname(ctx, zone_id, name, value).await?;
                Ok(None)
            }
            CacheAction::DeleteCnames { endpoint } => {
                route53::delete_records_by_value(ctx, "CNAME", std::slice::from_ref(endpoint))
                    .await?;
                Ok(None)
            }
            CacheAction::DeleteReplicationGroup { id, .. } => {
                match ec
                    .delete_replication_group()
                    .replication_group_id(id)
                    .send()
                    .await
                    .map_err(call("DeleteReplicationGroup"))
                {
                    Err(e) if !code_is(&e, "ReplicationGroupNotFoundFault") => Err(e),
                    _ => Ok(None),
                }
            }
        }
    }

    fn unresolved(&self, action: &CacheAction, key: &str) -> AwsError {
        AwsError::State(format!("{action}: nothing created {key}"))
    }
}

/// Runs a plan of `update` or `delete` (groups in parallel, 4 at a time); a failure stops
/// it, and running the command again finishes the job.
pub async fn apply(
    ctx: &AwsContext,
    plan: &Plan<CacheAction>,
    title: &str,
) -> Result<usize, AwsError> {
    crate::engine::run_forward(&CacheSteps { ctx }, plan, 4, title)
        .await
        .map(|r| r.steps_done)
}
