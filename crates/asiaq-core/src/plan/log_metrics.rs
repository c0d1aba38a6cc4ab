//! CloudWatch Logs metric filters of hostclasses (spec §4.23, `log-metrics`): log group
//! `<env>/<hostclass><log_file>`, filter and metric `<hostclass>-<Metric>` in namespace
//! `LogMetrics/<env>`. Pure: the observed groups and filters are given.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Change, Plan, PlanAction, PlanBuilder, Resource};

/// One `[<hostclass>.<Metric>]` of disco_log_metrics.ini.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogMetricRule {
    pub hostclass: String,
    pub metric: String,
    pub log_file: String,
    pub filter_pattern: String,
    pub metric_value: String,
}

pub fn log_group_name(env: &str, hostclass: &str, log_file: &str) -> String {
    format!("{env}/{hostclass}{log_file}")
}

pub fn filter_name(hostclass: &str, metric: &str) -> String {
    format!("{hostclass}-{metric}")
}

pub fn namespace(env: &str) -> String {
    format!("LogMetrics/{env}")
}

/// The prefix of every log group of `hostclass` in `env` (`<env>/<hostclass>/`).
pub fn hostclass_prefix(env: &str, hostclass: &str) -> String {
    format!("{env}/{hostclass}/")
}

/// The prefix of every log group of `env`.
pub fn env_prefix(env: &str) -> String {
    format!("{env}/")
}

/// A metric filter, as it is put and as DescribeMetricFilters reads it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricFilter {
    pub log_group: String,
    pub name: String,
    pub pattern: String,
    pub metric_namespace: String,
    pub metric_name: String,
    pub metric_value: String,
}

/// The filters the rules of a hostclass describe.
pub fn desired_filters(rules: &[LogMetricRule], env: &str) -> Vec<MetricFilter> {
    rules
        .iter()
        .map(|r| MetricFilter {
            log_group: log_group_name(env, &r.hostclass, &r.log_file),
            name: filter_name(&r.hostclass, &r.metric),
            pattern: r.filter_pattern.clone(),
            metric_namespace: namespace(env),
            metric_name: filter_name(&r.hostclass, &r.metric),
            metric_value: r.metric_value.clone(),
        })
        .collect()
}

/// One change to log groups and metric filters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action")]
pub enum LogAction {
    CreateLogGroup { name: String },
    PutMetricFilter { filter: MetricFilter },
    DeleteMetricFilter { log_group: String, name: String },
    DeleteLogGroup { name: String },
}

impl fmt::Display for LogAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogAction::CreateLogGroup { name } => write!(f, "create log group {name}"),
            LogAction::PutMetricFilter { filter } => write!(
                f,
                "put metric filter {} on {} ({:?} -> {}/{} = {})",
                filter.name,
                filter.log_group,
                filter.pattern,
                filter.metric_namespace,
                filter.metric_name,
                filter.metric_value
            ),
            LogAction::DeleteMetricFilter { log_group, name } => {
                write!(f, "delete metric filter {name} of {log_group}")
            }
            LogAction::DeleteLogGroup { name } => write!(f, "delete log group {name}"),
        }
    }
}

impl PlanAction for LogAction {
    fn resource(&self) -> Resource {
        match self {
            LogAction::CreateLogGroup { name } | LogAction::DeleteLogGroup { name } => {
                Resource::new("log group", name.as_str())
            }
            LogAction::PutMetricFilter { filter } => Resource::new(
                "metric filter",
                format!("{} {}", filter.log_group, filter.name),
            ),
            LogAction::DeleteMetricFilter { log_group, name } => {
                Resource::new("metric filter", format!("{log_group} {name}"))
            }
        }
    }

    fn change(&self) -> Change {
        match self {
            LogAction::CreateLogGroup { .. } | LogAction::PutMetricFilter { .. } => Change::Create,
            LogAction::DeleteMetricFilter { .. } | LogAction::DeleteLogGroup { .. } => {
                Change::Delete
            }
        }
    }
}

/// The plan of `log-metrics update`: the hostclass's missing log groups created; each
/// wanted filter that is missing put; each observed filter of the hostclass's groups that
/// is not wanted exactly as it is deleted, and a changed one deleted before it is put again
/// (PutMetricFilter under a name already used adds a duplicate in moto).
/// `groups` are the observed log group names, `observed` the filters of the hostclass's
/// groups.
pub fn update_plan(
    desired: &[MetricFilter],
    groups: &BTreeSet<String>,
    observed: &[MetricFilter],
) -> Plan<LogAction> {
    let mut b = PlanBuilder::new();
    let mut group_steps: BTreeMap<&str, usize> = BTreeMap::new();
    for f in desired {
        if !groups.contains(&f.log_group) && !group_steps.contains_key(f.log_group.as_str()) {
            let id = b.add(
                LogAction::CreateLogGroup {
                    name: f.log_group.clone(),
                },
                &[],
            );
            group_steps.insert(&f.log_group, id);
        }
    }
    let mut delete_steps: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for o in observed {
        if !desired.contains(o) {
            let id = b.add(
                LogAction::DeleteMetricFilter {
                    log_group: o.log_group.clone(),
                    name: o.name.clone(),
                },
                &[],
            );
            delete_steps.insert((&o.log_group, &o.name), id);
        }
    }
    for f in desired {
        if observed.contains(f) {
            continue;
        }
        let mut after = Vec::new();
        if let Some(id) = group_steps.get(f.log_group.as_str()) {
            after.push(*id);
        }
        if let Some(id) = delete_steps.get(&(f.log_group.as_str(), f.name.as_str())) {
            after.push(*id);
        }
        b.add(LogAction::PutMetricFilter { filter: f.clone() }, &after);
    }
    b.build()
}

/// The plan deleting the filters `observed` and the log groups `groups` (a hostclass's on
/// spindown, an environment's on VPC destroy): filters first (they survive their group's
/// deletion in moto), then the groups.
pub fn delete_plan(observed: &[MetricFilter], groups: &[String]) -> Plan<LogAction> {
    let mut b = PlanBuilder::new();
    let filters: Vec<usize> = observed
        .iter()
        .map(|o| {
            b.add(
                LogAction::DeleteMetricFilter {
                    log_group: o.log_group.clone(),
                    name: o.name.clone(),
                },
                &[],
            )
        })
        .collect();
    for g in groups {
        let after: Vec<usize> = observed
            .iter()
            .zip(&filters)
            .filter(|(o, _)| &o.log_group == g)
            .map(|(_, id)| *id)
            .collect();
        b.add(LogAction::DeleteLogGroup { name: g.clone() }, &after);
    }
    b.build()
}

/// A log group's size as `log-metrics list-groups` prints it: Python's
/// `round(bytes / 1 MiB, 2)` followed by `M` (`0.0M`, `1.5M`, `12.35M`).
pub fn size_mib(bytes: i64) -> String {
    let r = (bytes as f64 / 1_048_576.0 * 100.0).round() / 100.0;
    if r.fract() == 0.0 {
        format!("{r:.1}M")
    } else {
        format!("{r}M")
    }
}

/// Whether a filter pattern's brackets, braces and quotes are balanced.
pub fn pattern_is_balanced(pattern: &str) -> bool {
    let mut stack = Vec::new();
    let mut in_quote = false;
    for c in pattern.chars() {
        if c == '"' {
            in_quote = !in_quote;
            continue;
        }
        if in_quote {
            continue;
        }
        match c {
            '[' | '{' | '(' => stack.push(c),
            ']' | '}' | ')' => {
                let open = match c {
                    ']' => '[',
                    '}' => '{',
                    _ => '(',
                };
                if stack.pop() != Some(open) {
                    return false;
                }
            }
            _ => {}
        }
    }
    stack.is_empty() && !in_quote
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(metric: &str, file: &str, pattern: &str) -> LogMetricRule {
        LogMetricRule {
            hostclass: "mhcdummy".into(),
            metric: metric.into(),
            log_file: file.into(),
            filter_pattern: pattern.into(),
            metric_value: "1".into(),
        }
    }

    fn texts(p: &Plan<LogAction>) -> Vec<String> {
        p.steps.iter().map(|s| s.action.to_string()).collect()
    }

    #[test]
    fn naming_follows_the_original() {
        assert_eq!(
            log_group_name("test-env", "mhcdummy", "/error_log"),
            "test-env/mhcdummy/error_log"
        );
        assert_eq!(filter_name("mhcdummy", "ErrorCount"), "mhcdummy-ErrorCount");
        assert_eq!(namespace("test-env"), "LogMetrics/test-env");
        let f = &desired_filters(&[rule("ErrorCount", "/var/log/e", "error")], "ci")[0];
        assert_eq!(f.metric_name, "mhcdummy-ErrorCount");
        assert_eq!(f.log_group, "ci/mhcdummy/var/log/e");
    }

    #[test]
    fn update_creates_groups_replaces_changed_filters_and_deletes_stale_ones() {
        let desired = desired_filters(
            &[
                rule("Errors", "/var/log/e", "ERROR"),
                rule("Warnings", "/var/log/e", "WARN"),
            ],
            "ci",
        );
        let p = update_plan(&desired, &BTreeSet::new(), &[]);
        assert_eq!(p.len(), 3);
        assert_eq!(p.steps[1].after, vec![0]);
        assert_eq!(p.steps[2].after, vec![0]);

        let groups = BTreeSet::from(["ci/mhcdummy/var/log/e".to_string()]);
        assert!(update_plan(&desired, &groups, &desired).is_empty());

        let mut changed = desired[0].clone();
        changed.pattern = "OLD".into();
        let mut stale = desired[1].clone();
        stale.name = "mhcdummy-Gone".into();
        let observed = vec![changed, desired[1].clone(), stale];
        let p = update_plan(&desired, &groups, &observed);
        assert_eq!(
            texts(&p),
            [
                "delete metric filter mhcdummy-Errors of ci/mhcdummy/var/log/e",
                "delete metric filter mhcdummy-Gone of ci/mhcdummy/var/log/e",
                "put metric filter mhcdummy-Errors on ci/mhcdummy/var/log/e (\"ERROR\" -> LogMetrics/ci/mhcdummy-Errors = 1)"
            ]
        );
        assert_eq!(p.steps[2].after, vec![0]);
    }

    #[test]
    fn delete_removes_filters_before_groups() {
        let f = desired_filters(&[rule("Errors", "/a", "E")], "ci");
        let p = delete_plan(&f, &["ci/mhcdummy/a".into(), "ci/mhcdummy/b".into()]);
        assert_eq!(p.len(), 3);
        assert_eq!(p.steps[1].after, vec![0]);
        assert!(p.steps[2].after.is_empty());
    }

    #[test]
    fn sizes_print_as_python_rounds_them() {
        assert_eq!(size_mib(0), "0.0M");
        assert_eq!(size_mib(1_572_864), "1.5M");
        assert_eq!(size_mib(12_950_000), "12.35M");
        assert_eq!(size_mib(2_097_152), "2.0M");
    }

    #[test]
    fn patterns_must_balance() {
        assert!(pattern_is_balanced("ERROR"));
        assert!(pattern_is_balanced("[ip, user, ..., status=5*, size]"));
        assert!(pattern_is_balanced("{ $.level = \"[x\" }"));
        assert!(!pattern_is_balanced("[ip, user"));
        assert!(!pattern_is_balanced("{ $.a = 1 ]"));
        assert!(!pattern_is_balanced("\"open"));
    }
}
