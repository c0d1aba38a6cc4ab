//! CloudWatch alarms and SNS notification topics (`asiaq alarms`, spec §4.24): observe the
//! account's alarms and topics, plan with `asiaq_core::plan::{alarms, notifications}`, and
//! run the plans through the engine.

use std::collections::BTreeMap;

use asiaq_core::autoscale::{belongs_to_env, hostclass_of_group};
use asiaq_core::plan::alarms::{
    self as core, AlarmAction, AlarmRule, AlarmSpec, AlarmTarget, Monitoring,
};
use asiaq_core::plan::notifications::{
    notifications_plan, DesiredTopic, ObservedSubscription, ObservedTopic, TopicAction,
};
use asiaq_core::plan::Plan;
use asiaq_engine::{Apply, ExecReport};
use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, MetricAlarm, Statistic};

use crate::context::AwsContext;
use crate::engine::run_forward;
use crate::error::AwsError;
use crate::identity::Identity;

fn spec_of(a: &MetricAlarm) -> AlarmSpec {
    let mut dimensions: Vec<(String, String)> = a
        .dimensions()
        .iter()
        .map(|d| {
            (
                d.name().unwrap_or_default().to_string(),
                d.value().unwrap_or_default().to_string(),
            )
        })
        .collect();
    dimensions.sort();
    AlarmSpec {
        name: a.alarm_name().unwrap_or_default().to_string(),
        namespace: a.namespace().unwrap_or_default().to_string(),
        metric: a.metric_name().unwrap_or_default().to_string(),
        statistic: a
            .statistic()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        period: a.period().unwrap_or(0),
        evaluation_periods: a.evaluation_periods().unwrap_or(0),
        threshold: a.threshold().unwrap_or(0.0),
        comparison: a
            .comparison_operator()
            .map(|c| c.as_str().to_string())
            .unwrap_or_default(),
        dimensions,
        alarm_actions: a.alarm_actions().to_vec(),
        ok_actions: a.ok_actions().to_vec(),
    }
}

/// Every metric alarm of the account with its state (`OK`, `ALARM`, `INSUFFICIENT_DATA`).
pub async fn observe_alarms(ctx: &AwsContext) -> Result<Vec<(AlarmSpec, String)>, AwsError> {
    let mut out = Vec::new();
    let mut pages = ctx.cloudwatch().describe_alarms().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::call("cloudwatch", "DescribeAlarms", e))?;
        for a in page.metric_alarms() {
            out.push((
                spec_of(a),
                a.state_value()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
            ));
        }
    }
    Ok(out)
}

async fn put_alarm(ctx: &AwsContext, a: &AlarmSpec) -> Result<(), AwsError> {
    ctx.cloudwatch()
        .put_metric_alarm()
        .alarm_name(&a.name)
        .namespace(&a.namespace)
        .metric_name(&a.metric)
        .statistic(Statistic::from(a.statistic.as_str()))
        .period(a.period)
        .evaluation_periods(a.evaluation_periods)
        .threshold(a.threshold)
        .comparison_operator(ComparisonOperator::from(a.comparison.as_str()))
        .set_dimensions(Some(
            a.dimensions
                .iter()
                .map(|(k, v)| Dimension::builder().name(k).value(v).build())
                .collect(),
        ))
        .set_alarm_actions(Some(a.alarm_actions.clone()))
        .set_ok_actions(Some(a.ok_actions.clone()))
        .send()
        .await
        .map_err(|e| AwsError::call("cloudwatch", "PutMetricAlarm", e))?;
    Ok(())
}

struct AlarmCalls<'a> {
    ctx: &'a AwsContext,
}

impl Apply<AlarmAction> for AlarmCalls<'_> {
    type Error = AwsError;

    async fn apply(&self, action: &AlarmAction) -> Result<Option<String>, AwsError> {
        match action {
            AlarmAction::PutAlarm { alarm, .. } => put_alarm(self.ctx, alarm).await?,
            AlarmAction::DeleteAlarms { names } => {
                self.ctx
                    .cloudwatch()
                    .delete_alarms()
                    .set_alarm_names(Some(names.clone()))
                    .send()
                    .await
                    .map_err(|e| AwsError::call("cloudwatch", "DeleteAlarms", e))?;
            }
        }
        Ok(None)
    }

    fn unresolved(&self, action: &AlarmAction, key: &str) -> AwsError {
        AwsError::State(format!("{action}: nothing created {key}"))
    }
}

/// Runs an alarm plan, up to eight calls at once. Puts are idempotent: a failed run is
/// finished by running again.
pub async fn apply_alarms(
    ctx: &AwsContext,
    plan: &Plan<AlarmAction>,
    title: &str,
) -> Result<ExecReport, AwsError> {
    run_forward(&AlarmCalls { ctx }, plan, 8, title).await
}

/// The current (newest, not testing) autoscaling group of `hostclass` in `env`.
pub async fn current_group(
    ctx: &AwsContext,
    env: &str,
    hostclass: &str,
) -> Result<Option<String>, AwsError> {
    let groups = crate::hosts::groups::describe(ctx, &[]).await?;
    Ok(groups
        .into_iter()
        .filter(|g| {
            belongs_to_env(&g.name, env)
                && hostclass_of_group(&g.name) == hostclass
                && !g.is_testing()
        })
        .map(|g| g.name)
        .max())
}

/// The plan of `alarms update_metrics` for one hostclass, with the notes of the rules left
/// out.
#[derive(Debug, Clone)]
pub struct MetricsUpdate {
    pub plan: Plan<AlarmAction>,
    pub notes: Vec<String>,
    /// How many alarms the rules describe.
    pub desired: usize,
}

/// Observes the account and plans the alarms of `hostclass` in `env` from `rules`; `group`
/// is the hostclass's group when the caller knows it (else it is looked up).
pub async fn plan_metrics(
    ctx: &AwsContext,
    env: &str,
    hostclass: &str,
    rules: &[AlarmRule],
    group: Option<&str>,
    delete: bool,
) -> Result<MetricsUpdate, AwsError> {
    // The account (for the topic ARNs), the group (when a rule needs it and the caller does
    // not know it) and the alarms: three independent reads, made at once.
    let lookup_group = group.is_none() && rules.iter().any(needs_group);
    let (identity, found_group, observed) = futures::try_join!(
        Identity::fetch(ctx),
        async {
            if lookup_group {
                current_group(ctx, env, hostclass).await
            } else {
                Ok(None)
            }
        },
        observe_alarms(ctx),
    )?;
    let account = identity.account;
    let group = group.map(str::to_string).or(found_group);
    let target = AlarmTarget {
        env,
        hostclass,
        group: group.as_deref(),
        region: ctx.region(),
        account: &account,
    };
    let (desired, notes) = core::desired_alarms(rules, &target);
    let observed: Vec<AlarmSpec> = observed.into_iter().map(|(a, _)| a).collect();
    Ok(MetricsUpdate {
        plan: core::metrics_plan(&desired, &observed, env, hostclass, delete),
        notes,
        desired: desired.len(),
    })
}

fn needs_group(r: &AlarmRule) -> bool {
    !r.log_pattern_metric
        && !r.custom_metric
        && !matches!(r.namespace.as_str(), "AWS/RDS" | "AWS/ELB" | "AWS/ES")
}

/// The plan deleting the alarms of `hostclasses` in `env`.
pub async fn plan_hostclass_delete(
    ctx: &AwsContext,
    env: &str,
    hostclasses: &[String],
) -> Result<Plan<AlarmAction>, AwsError> {
    let observed: Vec<AlarmSpec> = observe_alarms(ctx)
        .await?
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    Ok(core::hostclass_delete_plan(&observed, env, hostclasses))
}

/// Makes the log metrics, then the alarms, of `hostclass` whose group `group` now exists
/// (provision and spinup); returns the number of changes. Each half changes only what
/// differs, so a re-run (or `alarms update_metrics`) finishes a failed one.
pub async fn apply_monitoring(
    ctx: &AwsContext,
    hostclass: &str,
    group: &str,
    m: &Monitoring,
) -> Result<usize, AwsError> {
    let mut changes = 0;
    if !m.log_metrics.is_empty() {
        let plan = crate::log_metrics::plan_update(ctx, &m.env, hostclass, &m.log_metrics).await?;
        if !plan.is_empty() {
            crate::log_metrics::apply(ctx, &plan, "log metrics of the hostclass").await?;
        }
        changes += plan.len();
    }
    if !m.alarms.is_empty() {
        let u = plan_metrics(ctx, &m.env, hostclass, &m.alarms, Some(group), false).await?;
        for n in &u.notes {
            asiaq_engine::report::note(n.clone());
        }
        if !u.plan.is_empty() {
            apply_alarms(ctx, &u.plan, "alarms of the hostclass").await?;
        }
        changes += u.plan.len();
    }
    Ok(changes)
}

/// The plan deleting every alarm of `env` but those of Elasticsearch domains.
pub async fn plan_env_delete(ctx: &AwsContext, env: &str) -> Result<Plan<AlarmAction>, AwsError> {
    let observed: Vec<AlarmSpec> = observe_alarms(ctx)
        .await?
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    Ok(core::env_delete_plan(&observed, env))
}

/// Every topic of the account with its subscriptions (ListTopics and ListSubscriptions,
/// both paginated).
pub async fn observe_topics(ctx: &AwsContext) -> Result<Vec<ObservedTopic>, AwsError> {
    let mut topics = Vec::new();
    let mut pages = ctx.sns().list_topics().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::call("sns", "ListTopics", e))?;
        for t in page.topics() {
            if let Some(arn) = t.topic_arn() {
                topics.push(ObservedTopic {
                    name: arn.rsplit(':').next().unwrap_or(arn).to_string(),
                    arn: arn.to_string(),
                    subscriptions: Vec::new(),
                });
            }
        }
    }
    let mut subs: BTreeMap<String, Vec<ObservedSubscription>> = BTreeMap::new();
    let mut pages = ctx.sns().list_subscriptions().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::call("sns", "ListSubscriptions", e))?;
        for s in page.subscriptions() {
            subs.entry(s.topic_arn().unwrap_or_default().to_string())
                .or_default()
                .push(ObservedSubscription {
                    arn: s.subscription_arn().unwrap_or_default().to_string(),
                    protocol: s.protocol().unwrap_or_default().to_string(),
                    endpoint: s.endpoint().unwrap_or_default().to_string(),
                });
        }
    }
    for t in &mut topics {
        t.subscriptions = subs.remove(&t.arn).unwrap_or_default();
    }
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(topics)
}

struct TopicCalls<'a> {
    ctx: &'a AwsContext,
}

impl Apply<TopicAction> for TopicCalls<'_> {
    type Error = AwsError;

    async fn apply(&self, action: &TopicAction) -> Result<Option<String>, AwsError> {
        let sns = self.ctx.sns();
        match action {
            TopicAction::CreateTopic { name, .. } => {
                let out = sns
                    .create_topic()
                    .name(name)
                    .send()
                    .await
                    .map_err(|e| AwsError::call("sns", "CreateTopic", e))?;
                return Ok(out.topic_arn().map(str::to_string));
            }
            TopicAction::Subscribe {
                topic_arn,
                protocol,
                endpoint,
                ..
            } => {
                sns.subscribe()
                    .topic_arn(topic_arn)
                    .protocol(protocol)
                    .endpoint(endpoint)
                    .send()
                    .await
                    .map_err(|e| AwsError::call("sns", "Subscribe", e))?;
            }
            TopicAction::Unsubscribe {
                subscription_arn, ..
            } => {
                sns.unsubscribe()
                    .subscription_arn(subscription_arn)
                    .send()
                    .await
                    .map_err(|e| AwsError::call("sns", "Unsubscribe", e))?;
            }
            TopicAction::DeleteTopic { arn, .. } => {
                sns.delete_topic()
                    .topic_arn(arn)
                    .send()
                    .await
                    .map_err(|e| AwsError::call("sns", "DeleteTopic", e))?;
            }
        }
        Ok(None)
    }

    fn unresolved(&self, action: &TopicAction, key: &str) -> AwsError {
        AwsError::State(format!("{action}: nothing created {key}"))
    }
}

/// Observes the topics and plans the notifications of `env`.
pub async fn plan_notifications(
    ctx: &AwsContext,
    desired: &[DesiredTopic],
    env: &str,
    delete: bool,
) -> Result<Plan<TopicAction>, AwsError> {
    let observed = observe_topics(ctx).await?;
    Ok(notifications_plan(desired, &observed, env, delete))
}

/// Runs a notifications plan, up to four calls at once.
pub async fn apply_notifications(
    ctx: &AwsContext,
    plan: &Plan<TopicAction>,
) -> Result<ExecReport, AwsError> {
    run_forward(&TopicCalls { ctx }, plan, 4, "alarms update_notifications").await
}

/// Plans and applies the notifications of `env` (what `vpc create` and `vpc update` do);
/// returns the number of changes made.
pub async fn ensure_notifications(
    ctx: &AwsContext,
    desired: &[DesiredTopic],
    env: &str,
) -> Result<usize, AwsError> {
    let plan = plan_notifications(ctx, desired, env, false).await?;
    if !plan.is_empty() {
        apply_notifications(ctx, &plan).await?;
    }
    Ok(plan.len())
}

/// Whether `env` is a VPC of type `sandbox` (destructive commands confirm otherwise).
pub async fn is_sandbox(ctx: &AwsContext, env: &str) -> Result<bool, AwsError> {
    Ok(crate::find_environment(ctx, env)
        .await?
        .is_some_and(|e| e.env_type.as_deref() == Some("sandbox")))
}
