//! CloudWatch alarms of hostclasses (spec §4.24): the alarms a hostclass's rules describe,
//! the alarm names and how they decode, and the plans of `alarms update_metrics`, of the
//! deletion of a hostclass's or an environment's alarms. Pure: the observed alarms are
//! given, the plan says which to put and which to delete.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Change, Plan, PlanAction, PlanBuilder, Resource};

/// DeleteAlarms takes at most this many names.
pub const DELETE_BATCH: usize = 100;

/// One alarm rule of `disco_alarms.ini`, merged over `[defaults]` and its global section,
/// for one hostclass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmRule {
    pub team: String,
    pub namespace: String,
    pub metric: String,
    pub custom_metric: bool,
    pub log_pattern_metric: bool,
    pub statistic: String,
    pub period: i32,
    pub duration: i32,
    pub threshold_max: Option<u64>,
    pub threshold_min: Option<u64>,
    pub level: String,
}

/// What watches a hostclass once its group exists (provision and spinup): its alarm rules
/// of disco_alarms.ini and its log metrics of disco_log_metrics.ini, in environment `env`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Monitoring {
    pub env: String,
    pub alarms: Vec<AlarmRule>,
    pub log_metrics: Vec<crate::plan::log_metrics::LogMetricRule>,
}

impl Monitoring {
    pub fn is_empty(&self) -> bool {
        self.alarms.is_empty() && self.log_metrics.is_empty()
    }
}

/// Where a hostclass's alarms point: its environment, its current autoscaling group (if it
/// has one), and the region and account of the SNS topics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmTarget<'a> {
    pub env: &'a str,
    pub hostclass: &'a str,
    pub group: Option<&'a str>,
    pub region: &'a str,
    pub account: &'a str,
}

/// A CloudWatch metric alarm, as asiaq puts it and as DescribeAlarms reads it back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmSpec {
    pub name: String,
    pub namespace: String,
    pub metric: String,
    pub statistic: String,
    pub period: i32,
    pub evaluation_periods: i32,
    pub threshold: f64,
    /// `GreaterThanThreshold` or `LessThanThreshold`.
    pub comparison: String,
    /// (name, value), sorted.
    pub dimensions: Vec<(String, String)>,
    pub alarm_actions: Vec<String>,
    pub ok_actions: Vec<String>,
}

impl AlarmSpec {
    /// `CPUUtilization > 95 (Average of 300s, 3 periods)`.
    pub fn summary(&self) -> String {
        let op = match self.comparison.as_str() {
            "GreaterThanThreshold" => ">",
            "LessThanThreshold" => "<",
            other => other,
        };
        format!(
            "{} {op} {} ({} of {}s, {} periods)",
            self.metric, self.threshold, self.statistic, self.period, self.evaluation_periods
        )
    }

    /// The fields that differ from `other`, as `field: before -> after` lines.
    pub fn differences(&self, other: &AlarmSpec) -> Vec<String> {
        let mut out = Vec::new();
        let mut cmp = |field: &str, a: String, b: String| {
            if a != b {
                out.push(format!("{field}: {a} -> {b}"));
            }
        };
        cmp("namespace", other.namespace.clone(), self.namespace.clone());
        cmp("metric", other.metric.clone(), self.metric.clone());
        cmp("statistic", other.statistic.clone(), self.statistic.clone());
        cmp("period", other.period.to_string(), self.period.to_string());
        cmp(
            "evaluation_periods",
            other.evaluation_periods.to_string(),
            self.evaluation_periods.to_string(),
        );
        cmp(
            "threshold",
            other.threshold.to_string(),
            self.threshold.to_string(),
        );
        cmp(
            "comparison",
            other.comparison.clone(),
            self.comparison.clone(),
        );
        let dims = |d: &[(String, String)]| {
            d.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        cmp(
            "dimensions",
            dims(&other.dimensions),
            dims(&self.dimensions),
        );
        cmp(
            "alarm_actions",
            other.alarm_actions.join(","),
            self.alarm_actions.join(","),
        );
        cmp(
            "ok_actions",
            other.ok_actions.join(","),
            self.ok_actions.join(","),
        );
        out
    }
}

/// The name `<team>_<env>_<hostclass>_<metric>_<max|min>`.
pub fn alarm_name(team: &str, env: &str, hostclass: &str, metric: &str, kind: &str) -> String {
    format!("{team}_{env}_{hostclass}_{metric}_{kind}")
}

/// What an alarm name tells (spec §4.24 decode).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecodedName {
    pub team: Option<String>,
    pub env: String,
    pub hostclass: String,
    pub metric: String,
    /// `max` or `min`.
    pub kind: String,
}

/// Decodes an alarm name: five parts or more are team, env, hostclass, metric (the middle
/// parts joined with `_`) and kind; four are the same without team; anything else is not
/// an asiaq alarm (`None`).
pub fn decode_alarm_name(name: &str) -> Option<DecodedName> {
    let parts: Vec<&str> = name.split('_').collect();
    let n = parts.len();
    let (team, rest) = match n {
        4 => (None, &parts[..]),
        n if n >= 5 => (Some(parts[0].to_string()), &parts[1..]),
        _ => return None,
    };
    Some(DecodedName {
        team,
        env: rest[0].to_string(),
        hostclass: rest[1].to_string(),
        metric: rest[2..rest.len() - 1].join("_"),
        kind: rest[rest.len() - 1].to_string(),
    })
}

/// The SNS topic ARN of a team's level in an environment.
pub fn topic_arn(region: &str, account: &str, team: &str, env: &str, level: &str) -> String {
    format!("arn:aws:sns:{region}:{account}:{team}_{env}_{level}")
}

/// The namespace and metric of a log pattern metric: `<ns>/<env>` and `<hostclass>-<metric>`.
pub fn log_pattern_metric(
    namespace: &str,
    metric: &str,
    env: &str,
    hostclass: &str,
) -> (String, String) {
    (
        format!("{namespace}/{env}"),
        format!("{hostclass}-{metric}"),
    )
}

/// The alarms `rules` describe for `target`, and a note for each rule left out (an
/// `AWS/ES` rule, which belongs to an Elasticsearch domain; an autoscaling-group alarm of a
/// hostclass without a group).
pub fn desired_alarms(rules: &[AlarmRule], t: &AlarmTarget<'_>) -> (Vec<AlarmSpec>, Vec<String>) {
    let mut out = Vec::new();
    let mut notes = Vec::new();
    for r in rules {
        let label = format!("{}.{}.{}", r.team, r.namespace, r.metric);
        let (namespace, metric, dimensions) = if r.log_pattern_metric {
            let (ns, m) = log_pattern_metric(&r.namespace, &r.metric, t.env, t.hostclass);
            (ns, m, Vec::new())
        } else if r.namespace == "AWS/ES" {
            notes.push(format!(
                "{label}: AWS/ES alarms belong to an Elasticsearch domain; left out"
            ));
            continue;
        } else {
            let dims = if r.namespace == "AWS/RDS" {
                vec![(
                    "DBInstanceIdentifier".to_string(),
                    format!("{}-{}", t.env, t.hostclass),
                )]
            } else if r.namespace == "AWS/ELB" {
                match crate::elb::human_name(t.env, t.hostclass, false) {
                    Ok(human) => vec![("LoadBalancerName".to_string(), crate::elb::elb_id(&human))],
                    Err(e) => {
                        notes.push(format!("{label}: {e}; left out"));
                        continue;
                    }
                }
            } else if r.custom_metric {
                vec![(
                    "env_hostclass".to_string(),
                    format!("{}_{}", t.env, t.hostclass),
                )]
            } else {
                match t.group {
                    Some(g) => vec![("AutoScalingGroupName".to_string(), g.to_string())],
                    None => {
                        notes.push(format!(
                            "{label}: {} has no autoscaling group in {}; left out until it has one",
                            t.hostclass, t.env
                        ));
                        continue;
                    }
                }
            };
            (r.namespace.clone(), r.metric.clone(), dims)
        };
        let topic = topic_arn(t.region, t.account, &r.team, t.env, &r.level);
        for (kind, threshold, comparison) in [
            ("max", r.threshold_max, "GreaterThanThreshold"),
            ("min", r.threshold_min, "LessThanThreshold"),
        ] {
            let Some(threshold) = threshold else { continue };
            out.push(AlarmSpec {
                name: alarm_name(&r.team, t.env, t.hostclass, &r.metric, kind),
                namespace: namespace.clone(),
                metric: metric.clone(),
                statistic: r.statistic.clone(),
                period: r.period,
                evaluation_periods: r.duration,
                threshold: threshold as f64,
                comparison: comparison.to_string(),
                dimensions: dimensions.clone(),
                alarm_actions: vec![topic.clone()],
                ok_actions: vec![topic.clone()],
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    (out, notes)
}

/// One change to alarms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action")]
pub enum AlarmAction {
    /// PutMetricAlarm; `changes` is empty for a new alarm, else the differing fields.
    PutAlarm {
        alarm: Box<AlarmSpec>,
        changes: Vec<String>,
        new: bool,
    },
    /// DeleteAlarms of up to [`DELETE_BATCH`] names.
    DeleteAlarms { names: Vec<String> },
}

impl fmt::Display for AlarmAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AlarmAction::PutAlarm {
                alarm, new: true, ..
            } => write!(f, "create alarm {}: {}", alarm.name, alarm.summary()),
            AlarmAction::PutAlarm { alarm, changes, .. } => {
                write!(f, "update alarm {}: {}", alarm.name, changes.join("; "))
            }
            AlarmAction::DeleteAlarms { names } => {
                write!(f, "delete alarm(s) {}", names.join(", "))
            }
        }
    }
}

impl PlanAction for AlarmAction {
    fn resource(&self) -> Resource {
        match self {
            AlarmAction::PutAlarm { alarm, .. } => Resource::new("alarm", alarm.name.as_str()),
            AlarmAction::DeleteAlarms { names } if names.len() == 1 => {
                Resource::new("alarm", names[0].as_str())
            }
            AlarmAction::DeleteAlarms { names } => Resource::new(
                "alarms",
                format!(
                    "{}..{}",
                    names.first().map(String::as_str).unwrap_or(""),
                    names.last().map(String::as_str).unwrap_or("")
                ),
            ),
        }
    }

    fn change(&self) -> Change {
        match self {
            AlarmAction::PutAlarm { new: true, .. } => Change::Create,
            AlarmAction::PutAlarm { changes, .. } => Change::Update {
                before: None,
                after: Some(changes.join("\n")),
            },
            AlarmAction::DeleteAlarms { .. } => Change::Delete,
        }
    }
}

/// Delete steps for `names`, [`DELETE_BATCH`] at a time.
fn add_deletes(b: &mut PlanBuilder<AlarmAction>, names: &[String]) {
    for chunk in names.chunks(DELETE_BATCH) {
        b.add(
            AlarmAction::DeleteAlarms {
                names: chunk.to_vec(),
            },
            &[],
        );
    }
}

/// The plan of `alarms update_metrics`: a put for each desired alarm that is missing or
/// differs from the observed one of the same name; with `delete`, a deletion of the
/// hostclass's observed alarms (by their decoded name) that no rule describes any more.
pub fn metrics_plan(
    desired: &[AlarmSpec],
    observed: &[AlarmSpec],
    env: &str,
    hostclass: &str,
    delete: bool,
) -> Plan<AlarmAction> {
    let by_name: BTreeMap<&str, &AlarmSpec> =
        observed.iter().map(|a| (a.name.as_str(), a)).collect();
    let mut b = PlanBuilder::new();
    for a in desired {
        match by_name.get(a.name.as_str()) {
            None => {
                b.add(
                    AlarmAction::PutAlarm {
                        alarm: Box::new(a.clone()),
                        changes: Vec::new(),
                        new: true,
                    },
                    &[],
                );
            }
            Some(old) => {
                let changes = a.differences(old);
                if !changes.is_empty() {
                    b.add(
                        AlarmAction::PutAlarm {
                            alarm: Box::new(a.clone()),
                            changes,
                            new: false,
                        },
                        &[],
                    );
                }
            }
        }
    }
    if delete {
        let wanted: BTreeSet<&str> = desired.iter().map(|a| a.name.as_str()).collect();
        let stale: Vec<String> = hostclass_alarms(observed, env, hostclass)
            .into_iter()
            .filter(|n| !wanted.contains(n.as_str()))
            .collect();
        add_deletes(&mut b, &stale);
    }
    b.build()
}

/// The names of the observed alarms of `hostclass` in `env`, sorted.
pub fn hostclass_alarms(observed: &[AlarmSpec], env: &str, hostclass: &str) -> Vec<String> {
    let mut out: Vec<String> = observed
        .iter()
        .filter(|a| {
            decode_alarm_name(&a.name).is_some_and(|d| d.env == env && d.hostclass == hostclass)
        })
        .map(|a| a.name.clone())
        .collect();
    out.sort();
    out
}

/// The plan deleting the alarms of `hostclasses` in `env` (spindown, termination).
pub fn hostclass_delete_plan(
    observed: &[AlarmSpec],
    env: &str,
    hostclasses: &[String],
) -> Plan<AlarmAction> {
    let mut names: Vec<String> = hostclasses
        .iter()
        .flat_map(|hc| hostclass_alarms(observed, env, hc))
        .collect();
    names.sort();
    names.dedup();
    let mut b = PlanBuilder::new();
    add_deletes(&mut b, &names);
    b.build()
}

/// The plan deleting every alarm of `env` (`alarms delete`, `vpc destroy`), except those of
/// namespace `AWS/ES` (they belong to Elasticsearch domains), in batches of 100.
pub fn env_delete_plan(observed: &[AlarmSpec], env: &str) -> Plan<AlarmAction> {
    let mut names: Vec<String> = observed
        .iter()
        .filter(|a| a.namespace != "AWS/ES")
        .filter(|a| decode_alarm_name(&a.name).is_some_and(|d| d.env == env))
        .map(|a| a.name.clone())
        .collect();
    names.sort();
    let mut b = PlanBuilder::new();
    add_deletes(&mut b, &names);
    b.build()
}

/// How many alarms the plan deletes.
pub fn deleted_count(plan: &Plan<AlarmAction>) -> usize {
    plan.steps
        .iter()
        .map(|s| match &s.action {
            AlarmAction::DeleteAlarms { names } => names.len(),
            AlarmAction::PutAlarm { .. } => 0,
        })
        .sum()
}

/// The states CloudWatch gives an alarm.
pub const STATES: &[&str] = &["OK", "ALARM", "INSUFFICIENT_DATA"];

/// One line of `alarms list`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlarmRow {
    pub name: String,
    pub state: String,
    pub hostclass: String,
    pub namespace: String,
    pub metric: String,
    pub comparison: String,
    pub threshold: f64,
}

/// The rows of `alarms list`: the alarms of `env` (and of `hostclass` when given, and in
/// `state` when given), sorted by name. `observed` pairs each alarm with its state.
pub fn list_rows(
    observed: &[(AlarmSpec, String)],
    env: &str,
    hostclass: Option<&str>,
    state: Option<&str>,
) -> Vec<AlarmRow> {
    let mut rows: Vec<AlarmRow> = observed
        .iter()
        .filter_map(|(a, st)| {
            let d = decode_alarm_name(&a.name)?;
            (d.env == env
                && hostclass.is_none_or(|h| h == d.hostclass)
                && state.is_none_or(|s| s == st))
            .then(|| AlarmRow {
                name: a.name.clone(),
                state: st.clone(),
                hostclass: d.hostclass,
                namespace: a.namespace.clone(),
                metric: a.metric.clone(),
                comparison: a.comparison.clone(),
                threshold: a.threshold,
            })
        })
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(ns: &str, metric: &str) -> AlarmRule {
        AlarmRule {
            team: "astro".into(),
            namespace: ns.into(),
            metric: metric.into(),
            custom_metric: false,
            log_pattern_metric: false,
            statistic: "Average".into(),
            period: 300,
            duration: 3,
            threshold_max: Some(90),
            threshold_min: None,
            level: "critical".into(),
        }
    }

    fn target(group: Option<&str>) -> AlarmTarget<'_> {
        AlarmTarget {
            env: "ci",
            hostclass: "mhcweb",
            group,
            region: "us-west-2",
            account: "123456789012",
        }
    }

    #[test]
    fn names_decode_as_the_original() {
        let d = decode_alarm_name("rocket_ci_mhcscone_HTTPCode_Backend_5xx_max").unwrap();
        assert_eq!(d.team.as_deref(), Some("rocket"));
        assert_eq!(
            (
                d.env.as_str(),
                d.hostclass.as_str(),
                d.metric.as_str(),
                d.kind.as_str()
            ),
            ("ci", "mhcscone", "HTTPCode_Backend_5xx", "max")
        );
        let d = decode_alarm_name("ci_mhcscone_CPUUtilization_max").unwrap();
        assert_eq!(d.team, None);
        assert_eq!(d.metric, "CPUUtilization");
        assert!(decode_alarm_name("a_b_c").is_none());
        assert!(decode_alarm_name("plain").is_none());
    }

    #[test]
    fn dimensions_follow_the_namespace() {
        let mut custom = rule("EC2/Memory", "%MemFree");
        custom.custom_metric = true;
        custom.threshold_max = None;
        custom.threshold_min = Some(10);
        let mut log = rule("LogMetrics", "ErrorCount");
        log.log_pattern_metric = true;
        let rules = vec![
            rule("AWS/EC2", "CPUUtilization"),
            rule("AWS/RDS", "FreeStorageSpace"),
            rule("AWS/ELB", "Latency"),
            rule("AWS/ES", "ClusterStatus.red"),
            custom,
            log,
        ];
        let (alarms, notes) = desired_alarms(&rules, &target(Some("ci_mhcweb_1")));
        let by: BTreeMap<&str, &AlarmSpec> = alarms.iter().map(|a| (a.name.as_str(), a)).collect();
        assert_eq!(alarms.len(), 5, "{:?}", by.keys());
        let ec2 = by["astro_ci_mhcweb_CPUUtilization_max"];
        assert_eq!(
            ec2.dimensions,
            vec![("AutoScalingGroupName".into(), "ci_mhcweb_1".into())]
        );
        assert_eq!(ec2.comparison, "GreaterThanThreshold");
        assert_eq!(
            ec2.alarm_actions,
            vec!["arn:aws:sns:us-west-2:123456789012:astro_ci_critical".to_string()]
        );
        assert_eq!(ec2.alarm_actions, ec2.ok_actions);
        assert_eq!(
            by["astro_ci_mhcweb_FreeStorageSpace_max"].dimensions,
            vec![("DBInstanceIdentifier".into(), "ci-mhcweb".into())]
        );
        assert_eq!(
            by["astro_ci_mhcweb_Latency_max"].dimensions[0].1,
            crate::elb::elb_id("ci-mhcweb")
        );
        let mem = by["astro_ci_mhcweb_%MemFree_min"];
        assert_eq!(mem.comparison, "LessThanThreshold");
        assert_eq!(
            mem.dimensions,
            vec![("env_hostclass".into(), "ci_mhcweb".into())]
        );
        let log = by["astro_ci_mhcweb_ErrorCount_max"];
        assert_eq!(
            (log.namespace.as_str(), log.metric.as_str()),
            ("LogMetrics/ci", "mhcweb-ErrorCount")
        );
        assert!(log.dimensions.is_empty());
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("AWS/ES"), "{notes:?}");
    }

    #[test]
    fn both_thresholds_make_two_alarms_and_no_group_leaves_asg_alarms_out() {
        let mut r = rule("AWS/EC2", "CPUUtilization");
        r.threshold_min = Some(5);
        let (alarms, notes) = desired_alarms(&[r.clone()], &target(Some("g")));
        let names: Vec<&str> = alarms.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "astro_ci_mhcweb_CPUUtilization_max",
                "astro_ci_mhcweb_CPUUtilization_min"
            ]
        );
        assert!(notes.is_empty());
        let (alarms, notes) = desired_alarms(&[r], &target(None));
        assert!(alarms.is_empty());
        assert!(notes[0].contains("no autoscaling group"), "{notes:?}");
    }

    #[test]
    fn update_plan_puts_only_what_differs_and_deletes_stale_with_delete() {
        let (desired, _) = desired_alarms(
            &[
                rule("AWS/EC2", "CPUUtilization"),
                rule("AWS/EC2", "NetworkIn"),
            ],
            &target(Some("g")),
        );
        assert!(metrics_plan(&desired, &desired, "ci", "mhcweb", true).is_empty());
        let mut changed = desired[0].clone();
        changed.threshold = 80.0;
        let mut stale = desired[1].clone();
        stale.name = "astro_ci_mhcweb_Old_max".into();
        let mut other = desired[1].clone();
        other.name = "astro_ci_mhcother_Old_max".into();
        let observed = vec![changed, stale, other];
        let p = metrics_plan(&desired, &observed, "ci", "mhcweb", false);
        let texts: Vec<String> = p.steps.iter().map(|s| s.action.to_string()).collect();
        assert_eq!(
            texts,
            [
                "update alarm astro_ci_mhcweb_CPUUtilization_max: threshold: 80 -> 90",
                "create alarm astro_ci_mhcweb_NetworkIn_max: NetworkIn > 90 (Average of 300s, 3 periods)"
            ]
        );
        let p = metrics_plan(&desired, &observed, "ci", "mhcweb", true);
        assert_eq!(
            p.steps[2].action.to_string(),
            "delete alarm(s) astro_ci_mhcweb_Old_max"
        );
    }

    fn named(name: &str, ns: &str) -> AlarmSpec {
        let (mut a, _) = desired_alarms(&[rule("AWS/EC2", "M")], &target(Some("g")));
        let mut a = a.remove(0);
        a.name = name.into();
        a.namespace = ns.into();
        a
    }

    #[test]
    fn environment_deletion_skips_es_and_other_environments_in_batches() {
        let mut observed: Vec<AlarmSpec> = (0..150)
            .map(|i| named(&format!("t_ci_mhc{i:03}_M_max"), "AWS/EC2"))
            .collect();
        observed.push(named("t_ci_mhces_M_max", "AWS/ES"));
        observed.push(named("t_prod_mhcweb_M_max", "AWS/EC2"));
        observed.push(named("unrelated", "AWS/EC2"));
        let p = env_delete_plan(&observed, "ci");
        assert_eq!(p.len(), 2);
        assert_eq!(deleted_count(&p), 150);
        let counts: Vec<usize> = p
            .steps
            .iter()
            .map(|s| match &s.action {
                AlarmAction::DeleteAlarms { names } => names.len(),
                AlarmAction::PutAlarm { .. } => 0,
            })
            .collect();
        assert_eq!(counts, [100, 50]);
        let h = hostclass_delete_plan(&observed, "prod", &["mhcweb".to_string()]);
        assert_eq!(
            h.steps[0].action.to_string(),
            "delete alarm(s) t_prod_mhcweb_M_max"
        );
    }

    #[test]
    fn list_rows_filter_by_hostclass_and_state() {
        let observed = vec![
            (named("t_ci_mhca_M_max", "AWS/EC2"), "OK".to_string()),
            (named("t_ci_mhcb_M_max", "AWS/EC2"), "ALARM".to_string()),
            (named("t_prod_mhca_M_max", "AWS/EC2"), "OK".to_string()),
        ];
        assert_eq!(list_rows(&observed, "ci", None, None).len(), 2);
        assert_eq!(list_rows(&observed, "ci", Some("mhca"), None).len(), 1);
        let alarm = list_rows(&observed, "ci", None, Some("ALARM"));
        assert_eq!(alarm.len(), 1);
        assert_eq!(alarm[0].hostclass, "mhcb");
    }
}
