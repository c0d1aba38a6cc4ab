//! CloudWatch Logs metric filters and log groups of hostclasses (`asiaq log-metrics`, spec
//! §4.23): observe by log group prefix, plan with `asiaq_core::plan::log_metrics`, apply
//! through the engine.

use std::collections::BTreeSet;

use asiaq_core::plan::log_metrics::{
    self as core, desired_filters, LogAction, LogMetricRule, MetricFilter,
};
use asiaq_core::plan::Plan;
use asiaq_engine::{Apply, ExecReport};
use aws_sdk_cloudwatchlogs::types::MetricTransformation;
use serde::Serialize;

use crate::context::AwsContext;
use crate::engine::run_forward;
use crate::error::AwsError;

/// A log group with its stored size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogGroup {
    pub name: String,
    pub stored_bytes: i64,
}

/// The log groups whose name starts with `prefix`.
pub async fn log_groups(ctx: &AwsContext, prefix: &str) -> Result<Vec<LogGroup>, AwsError> {
    let mut out = Vec::new();
    let mut pages = ctx
        .logs()
        .describe_log_groups()
        .log_group_name_prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::call("logs", "DescribeLogGroups", e))?;
        for g in page.log_groups() {
            if let Some(name) = g.log_group_name() {
                out.push(LogGroup {
                    name: name.to_string(),
                    stored_bytes: g.stored_bytes().unwrap_or(0),
                });
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The metric filters of the log groups whose name starts with `prefix` (one filter per
/// transformation; asiaq puts one).
pub async fn metric_filters(ctx: &AwsContext, prefix: &str) -> Result<Vec<MetricFilter>, AwsError> {
    let mut out = Vec::new();
    for g in log_groups(ctx, prefix).await? {
        let mut pages = ctx
            .logs()
            .describe_metric_filters()
            .log_group_name(&g.name)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::call("logs", "DescribeMetricFilters", e))?;
            for f in page.metric_filters() {
                let t = f.metric_transformations().first();
                out.push(MetricFilter {
                    log_group: f.log_group_name().unwrap_or(&g.name).to_string(),
                    name: f.filter_name().unwrap_or_default().to_string(),
                    pattern: f.filter_pattern().unwrap_or_default().to_string(),
                    metric_namespace: t
                        .map(|t| t.metric_namespace().to_string())
                        .unwrap_or_default(),
                    metric_name: t.map(|t| t.metric_name().to_string()).unwrap_or_default(),
                    metric_value: t.map(|t| t.metric_value().to_string()).unwrap_or_default(),
                });
            }
        }
    }
    Ok(out)
}

struct LogCalls<'a> {
    ctx: &'a AwsContext,
}

impl Apply<LogAction> for LogCalls<'_> {
    type Error = AwsError;

    async fn apply(&self, action: &LogAction) -> Result<Option<String>, AwsError> {
        let logs = self.ctx.logs();
        match action {
            LogAction::CreateLogGroup { name } => {
                logs.create_log_group()
                    .log_group_name(name)
                    .send()
                    .await
                    .map_err(|e| AwsError::call("logs", "CreateLogGroup", e))?;
            }
            LogAction::PutMetricFilter { filter } => {
                let t = MetricTransformation::builder()
                    .metric_namespace(&filter.metric_namespace)
                    .metric_name(&filter.metric_name)
                    .metric_value(&filter.metric_value)
                    .build()
                    .map_err(|e| AwsError::State(format!("{action}: {e}")))?;
                logs.put_metric_filter()
                    .log_group_name(&filter.log_group)
                    .filter_name(&filter.name)
                    .filter_pattern(&filter.pattern)
                    .metric_transformations(t)
                    .send()
                    .await
                    .map_err(|e| AwsError::call("logs", "PutMetricFilter", e))?;
            }
            LogAction::DeleteMetricFilter { log_group, name } => {
                logs.delete_metric_filter()
                    .log_group_name(log_group)
                    .filter_name(name)
                    .send()
                    .await
                    .map_err(|e| AwsError::call("logs", "DeleteMetricFilter", e))?;
            }
            LogAction::DeleteLogGroup { name } => {
                logs.delete_log_group()
                    .log_group_name(name)
                    .send()
                    .await
                    .map_err(|e| AwsError::call("logs", "DeleteLogGroup", e))?;
            }
        }
        Ok(None)
    }

    fn unresolved(&self, action: &LogAction, key: &str) -> AwsError {
        AwsError::State(format!("{action}: nothing created {key}"))
    }
}

/// Runs a log-metrics plan, up to four calls at once.
pub async fn apply(
    ctx: &AwsContext,
    plan: &Plan<LogAction>,
    title: &str,
) -> Result<ExecReport, AwsError> {
    run_forward(&LogCalls { ctx }, plan, 4, title).await
}

/// Observes the hostclass's log groups and filters and plans `log-metrics update`.
pub async fn plan_update(
    ctx: &AwsContext,
    env: &str,
    hostclass: &str,
    rules: &[LogMetricRule],
) -> Result<Plan<LogAction>, AwsError> {
    let desired = desired_filters(rules, env);
    let prefix = core::hostclass_prefix(env, hostclass);
    // log_file is an absolute path (checked with the configuration): every group of the
    // hostclass is under the prefix.
    let groups: BTreeSet<String> = log_groups(ctx, &prefix)
        .await?
        .into_iter()
        .map(|g| g.name)
        .collect();
    let observed = metric_filters(ctx, &prefix).await?;
    Ok(core::update_plan(&desired, &groups, &observed))
}

/// The plan deleting the filters and log groups under `prefix` (a hostclass's
/// `<env>/<hostclass>/`, or an environment's `<env>/`).
pub async fn plan_delete(ctx: &AwsContext, prefix: &str) -> Result<Plan<LogAction>, AwsError> {
    plan_delete_all(ctx, &[prefix.to_string()]).await
}

/// The plan deleting the filters and log groups under each of `prefixes`.
pub async fn plan_delete_all(
    ctx: &AwsContext,
    prefixes: &[String],
) -> Result<Plan<LogAction>, AwsError> {
    let mut observed = Vec::new();
    let mut groups = Vec::new();
    for prefix in prefixes {
        observed.extend(metric_filters(ctx, prefix).await?);
        groups.extend(log_groups(ctx, prefix).await?.into_iter().map(|g| g.name));
    }
    Ok(core::delete_plan(&observed, &groups))
}
