//! `disco_alarms.ini` (spec §3.3, §4.24): notification endpoints and alarm definitions.

use std::collections::BTreeMap;

use serde::Serialize;

use asiaq_core::plan::alarms::AlarmRule;
use asiaq_core::plan::notifications::DesiredTopic;

use crate::diag::Diagnostic;
use crate::dir::{files, ConfigDir};
use crate::error::ConfigError;
use crate::ini::IniFile;
use crate::kinds::{check_section, Kind};

/// One `[notifications]` entry: the SNS topic `key` with its endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notification {
    /// The key, which is also the topic name: `<team>_<env>_<level>`, or `<env>_<level>`.
    pub topic: String,
    pub team: Option<String>,
    pub env: String,
    pub level: String,
    pub endpoints: Vec<String>,
    pub line: usize,
}

/// The section name of an alarm definition, decoded (spec §3.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlarmSectionName {
    pub team: String,
    pub namespace: String,
    pub metric: String,
    /// `None` for a global alarm (three segments).
    pub hostclass: Option<String>,
}

/// Decodes `<team>.<Namespace>.<Metric>[.<hostclass>]`: with four or more segments the last
/// one is the hostclass and the middle ones form the metric (which may contain dots).
pub fn parse_alarm_section_name(name: &str) -> Option<AlarmSectionName> {
    let parts: Vec<&str> = name.split('.').collect();
    match parts.len() {
        0..=2 => None,
        3 => Some(AlarmSectionName {
            team: parts[0].into(),
            namespace: parts[1].into(),
            metric: parts[2].into(),
            hostclass: None,
        }),
        n => Some(AlarmSectionName {
            team: parts[0].into(),
            namespace: parts[1].into(),
            metric: parts[2..n - 1].join("."),
            hostclass: Some(parts[n - 1].into()),
        }),
    }
    .filter(|a| !a.team.is_empty() && !a.namespace.is_empty() && !a.metric.is_empty())
}

/// Parses a `[notifications]` key. Spec §7.3 #5 decision: the code's `team_env_level`
/// (three or more parts: env is the second, level the last) and the README's
/// `env_level` (two parts, no team) are both accepted; they cannot be confused.
pub fn parse_notification_key(key: &str) -> Option<(Option<String>, String, String)> {
    let parts: Vec<&str> = key.split('_').collect();
    match parts.len() {
        2 => Some((None, parts[0].into(), parts[1].into())),
        n if n >= 3 => Some((Some(parts[0].into()), parts[1].into(), parts[n - 1].into())),
        _ => None,
    }
}

/// Alarm options merged over `[defaults]` and the global section (spec §4.24).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlarmDefinition {
    pub section: String,
    pub name: AlarmSectionName,
    /// Merged options (lowercase keys).
    pub options: BTreeMap<String, String>,
}

/// `disco_alarms.ini`.
#[derive(Debug, Clone)]
pub struct AlarmsIni {
    ini: IniFile,
}

const OPTIONS: &[(&str, Kind)] = &[
    ("custom_metric", Kind::Bool),
    ("log_pattern_metric", Kind::Bool),
    (
        "period",
        Kind::Int {
            min: 10,
            max: 86_400,
        },
    ),
    ("duration", Kind::Int { min: 1, max: 100 }),
    ("threshold_max", Kind::Count),
    ("threshold_min", Kind::Count),
    (
        "statistic",
        Kind::OneOf(&["Average", "Sum", "Minimum", "Maximum", "SampleCount"]),
    ),
    ("level", Kind::OneOf(&["critical", "info"])),
];

impl AlarmsIni {
    pub fn new(ini: IniFile) -> Self {
        AlarmsIni { ini }
    }

    pub fn ini(&self) -> &IniFile {
        &self.ini
    }

    /// `disco_alarms.ini` of `dir` (empty when there is none), checked: its errors are a
    /// [`ConfigError::Invalid`] (exit 2, before any call); its warnings are returned.
    pub fn load(dir: &ConfigDir) -> Result<(AlarmsIni, Vec<Diagnostic>), ConfigError> {
        let ini = AlarmsIni::new(dir.optional_ini(files::DISCO_ALARMS)?);
        let (errors, warnings): (Vec<Diagnostic>, Vec<Diagnostic>) =
            ini.check().into_iter().partition(Diagnostic::is_error);
        if errors.is_empty() {
            Ok((ini, warnings))
        } else {
            Err(ConfigError::Invalid(errors))
        }
    }

    /// The SNS topics of environment `env` with their endpoints.
    pub fn desired_topics(&self, env: &str) -> Vec<DesiredTopic> {
        self.notifications(env)
            .into_iter()
            .map(|n| DesiredTopic {
                name: n.topic,
                endpoints: n.endpoints,
            })
            .collect()
    }

    /// The notifications of environment `env`.
    pub fn notifications(&self, env: &str) -> Vec<Notification> {
        self.all_notifications()
            .into_iter()
            .filter(|n| n.env == env)
            .collect()
    }

    fn all_notifications(&self) -> Vec<Notification> {
        let Some(section) = self.ini.section("notifications") else {
            return Vec::new();
        };
        section
            .entries()
            .filter_map(|(key, entry)| {
                let (team, env, level) = parse_notification_key(key)?;
                Some(Notification {
                    topic: entry.key.clone(),
                    team,
                    env,
                    level,
                    endpoints: split_endpoints(&entry.raw),
                    line: entry.line,
                })
            })
            .collect()
    }

    /// The alarm definitions that apply to `hostclass`: hostclass-specific sections, and
    /// global ones for which no hostclass-specific section of the same metric exists.
    /// Options merge `[defaults]` → global section → hostclass section.
    pub fn definitions_for(&self, hostclass: &str) -> Vec<AlarmDefinition> {
        let parsed: Vec<(String, AlarmSectionName)> = self
            .ini
            .sections()
            .filter_map(|s| parse_alarm_section_name(&s.name).map(|n| (s.name.clone(), n)))
            .collect();
        let mut out = Vec::new();
        for (section, name) in &parsed {
            let global_key = format!("{}.{}.{}", name.team, name.namespace, name.metric);
            let mut options = self.options_of("defaults");
            match &name.hostclass {
                Some(h) if h == hostclass => {
                    options.extend(self.options_of(&global_key));
                    options.extend(self.options_of(section));
                }
                Some(_) => continue,
                None => {
                    let specific = format!("{global_key}.{hostclass}");
                    if self.ini.has_section(&specific) {
                        continue;
                    }
                    options.extend(self.options_of(section));
                }
            }
            out.push(AlarmDefinition {
                section: section.clone(),
                name: name.clone(),
                options,
            });
        }
        out
    }

    /// The alarm rules of `hostclass`, typed (the file was checked first: a value that does
    /// not parse falls back to the original's default of that option).
    pub fn rules_for(&self, hostclass: &str) -> Vec<AlarmRule> {
        self.definitions_for(hostclass)
            .into_iter()
            .map(|d| {
                let o = &d.options;
                let flag = |k: &str| {
                    o.get(k)
                        .and_then(|v| asiaq_core::syntax::parse_bool(v).ok())
                        .unwrap_or(false)
                };
                let int = |k: &str, default: i32| {
                    o.get(k)
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(default)
                };
                let threshold = |k: &str| o.get(k).and_then(|v| v.trim().parse().ok());
                AlarmRule {
                    team: d.name.team,
                    namespace: d.name.namespace,
                    metric: d.name.metric,
                    custom_metric: flag("custom_metric"),
                    log_pattern_metric: flag("log_pattern_metric"),
                    statistic: o
                        .get("statistic")
                        .cloned()
                        .unwrap_or_else(|| "Average".into()),
                    period: int("period", 300),
                    duration: int("duration", 1),
                    threshold_max: threshold("threshold_max"),
                    threshold_min: threshold("threshold_min"),
                    level: o.get("level").cloned().unwrap_or_else(|| "critical".into()),
                }
            })
            .collect()
    }

    /// The hostclasses named by hostclass-specific sections.
    pub fn hostclasses(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .ini
            .sections()
            .filter_map(|s| parse_alarm_section_name(&s.name)?.hostclass)
            .collect();
        out.sort();
        out.dedup();
        out
    }

    fn options_of(&self, section: &str) -> BTreeMap<String, String> {
        self.ini
            .section(section)
            .map(|s| {
                s.keys()
                    .filter_map(|k| self.ini.get(section, k).map(|v| (k.to_string(), v.text)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every problem in the file.
    pub fn check(&self) -> Vec<Diagnostic> {
        let mut out = self.ini.interpolation_problems();
        let path = self.ini.path();
        if let Some(section) = self.ini.section("notifications") {
            for (key, entry) in section.entries() {
                if parse_notification_key(key).is_none() {
                    out.push(Diagnostic::error(
                        path,
                        Some(entry.line),
                        format!(
                            "[notifications] {}: cannot tell environment and level from the key",
                            entry.key
                        ),
                        Some(
                            "<team>_<env>_<level> (or <env>_<level>) with level critical or info"
                                .into(),
                        ),
                    ));
                    continue;
                }
                for endpoint in split_endpoints(&entry.raw) {
                    if !(endpoint.contains('@') || endpoint.starts_with("http")) {
                        out.push(Diagnostic::error(
                            path,
                            Some(entry.line),
                            format!("[notifications] {}: endpoint {endpoint:?} is neither an email address nor an http(s) URL", entry.key),
                            Some("comma-separated email addresses or http(s) URLs".into()),
                        ));
                    }
                }
            }
        }
        out.extend(check_section(&self.ini, "defaults", OPTIONS));
        for s in self.ini.sections() {
            if s.name == "notifications" || s.name == "defaults" {
                continue;
            }
            let Some(name) = parse_alarm_section_name(&s.name) else {
                out.push(Diagnostic::error(
                    path,
                    Some(s.line),
                    format!("section [{}] is not an alarm definition", s.name),
                    Some("[<team>.<Namespace>.<MetricName>] or [<team>.<Namespace>.<MetricName>.<hostclass>]".into()),
                ));
                continue;
            };
            if !namespace_shape_is_known(&name.namespace) {
                out.push(Diagnostic::error(
                    path,
                    Some(s.line),
                    format!(
                        "[{}]: namespace {:?} is not a CloudWatch namespace",
                        s.name, name.namespace
                    ),
                    Some("a namespace like AWS/EC2, EC2/Memory or LogMetrics: letters, digits, ._-# and single / between parts".into()),
                ));
                continue;
            }
            out.extend(check_section(&self.ini, &s.name, OPTIONS));
            let merged =
                {
                    let mut o = self.options_of("defaults");
                    if name.hostclass.is_some() {
                        o.extend(self.options_of(&format!(
                            "{}.{}.{}",
                            name.team, name.namespace, name.metric
                        )));
                    }
                    o.extend(self.options_of(&s.name));
                    o
                };
            if !merged.contains_key("threshold_max") && !merged.contains_key("threshold_min") {
                out.push(Diagnostic::error(
                    path,
                    Some(s.line),
                    format!("[{}] has neither threshold_max nor threshold_min", s.name),
                    Some("threshold_max=N and/or threshold_min=N (here, in [defaults] or in its global section)".into()),
                ));
            }
        }
        out
    }
}

/// Whether `ns` looks like a CloudWatch namespace: parts of letters, digits and `._-#:`
/// separated by single `/` (no empty part, no character CloudWatch rejects).
fn namespace_shape_is_known(ns: &str) -> bool {
    !ns.is_empty()
        && ns.split('/').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-#:".contains(c))
        })
}

fn split_endpoints(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
[notifications]
teamname_ci_critical=https://events.pagerduty.com/x, ops@example.com
ci_info=ops@example.com
[defaults]
level=critical
statistic=Average
period=300
duration=5
custom_metric=true
[astro.AWS/EC2.CPUUtilization]
threshold_max=90
[astro.AWS/EC2.CPUUtilization.mhczookeeper]
threshold_max=99
custom_metric=false
[astro.EC2/Memory.%MemFree.mhczookeeper]
threshold_min=10
[astro.EC2/Disk./dev/xvde.mhczookeeper]
threshold_max=80
";

    fn ini(text: &str) -> AlarmsIni {
        AlarmsIni::new(IniFile::parse("disco_alarms.ini", text).unwrap())
    }

    #[test]
    fn section_names_decode_with_dotted_metrics() {
        let n = parse_alarm_section_name("astro.EC2/Disk./dev/xvde.mhczookeeper").unwrap();
        assert_eq!(
            (n.namespace.as_str(), n.metric.as_str()),
            ("EC2/Disk", "/dev/xvde")
        );
        assert_eq!(n.hostclass.as_deref(), Some("mhczookeeper"));
        let n = parse_alarm_section_name("t.AWS/ES.Cluster.Status.red.mhces").unwrap();
        assert_eq!(n.metric, "Cluster.Status.red");
        assert!(parse_alarm_section_name("t.AWS/EC2.CPU")
            .unwrap()
            .hostclass
            .is_none());
        assert!(parse_alarm_section_name("notifications").is_none());
    }

    #[test]
    fn notifications_both_key_forms() {
        let a = ini(SAMPLE);
        let n = a.notifications("ci");
        assert_eq!(n.len(), 2);
        assert_eq!(n[0].team.as_deref(), Some("teamname"));
        assert_eq!(n[0].endpoints.len(), 2);
        assert_eq!(n[1].team, None);
        assert_eq!(n[1].level, "info");
        assert!(a.notifications("prod").is_empty());
    }

    #[test]
    fn definitions_merge_and_specific_replaces_global() {
        let a = ini(SAMPLE);
        let zk = a.definitions_for("mhczookeeper");
        assert_eq!(zk.len(), 3);
        let cpu = zk
            .iter()
            .find(|d| d.name.metric == "CPUUtilization")
            .unwrap();
        assert_eq!(cpu.options["threshold_max"], "99");
        assert_eq!(cpu.options["custom_metric"], "false");
        assert_eq!(cpu.options["period"], "300");
        let other = a.definitions_for("mhcweb");
        assert_eq!(other.len(), 1);
        assert_eq!(other[0].options["threshold_max"], "90");
    }

    #[test]
    fn rules_are_typed_and_merged() {
        let a = ini(SAMPLE);
        let zk = a.rules_for("mhczookeeper");
        let cpu = zk.iter().find(|r| r.metric == "CPUUtilization").unwrap();
        assert_eq!(cpu.threshold_max, Some(99));
        assert!(!cpu.custom_metric);
        assert_eq!((cpu.period, cpu.duration), (300, 5));
        let mem = zk.iter().find(|r| r.metric == "%MemFree").unwrap();
        assert_eq!((mem.threshold_min, mem.threshold_max), (Some(10), None));
        assert!(mem.custom_metric);
        assert_eq!(mem.level, "critical");
        assert_eq!(a.hostclasses(), ["mhczookeeper"]);
    }

    #[test]
    fn check_rejects_missing_thresholds_and_odd_namespaces() {
        let a = ini("[defaults]\nperiod=300\n[t.AWS/EC2.CPU]\nstatistic=Average\n[t.AWS//EC2.Net]\nthreshold_max=1\n[g.AWS/EC2.Disk]\nthreshold_max=5\n[g.AWS/EC2.Disk.mhcweb]\nduration=2\n");
        let d: Vec<String> = a
            .check()
            .iter()
            .filter(|d| d.is_error())
            .map(ToString::to_string)
            .collect();
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(
            d[0].contains(":3: [t.AWS/EC2.CPU] has neither threshold_max nor threshold_min"),
            "{d:?}"
        );
        assert!(d[1].contains(":5: [t.AWS//EC2.Net]: namespace"), "{d:?}");
    }

    #[test]
    fn check_reports_bad_values() {
        let a = ini("[notifications]\nci=x\nteam_ci_critical=pager\n[defaults]\nperiod=five\n[t.AWS/EC2.CPU]\nthreshold_max=9x\nstatistic=Mean\n[bogus]\n");
        let d: Vec<String> = a
            .check()
            .iter()
            .filter(|d| d.is_error())
            .map(ToString::to_string)
            .collect();
        assert_eq!(d.len(), 6, "{d:?}");
        assert!(
            d[0].contains(":2: [notifications] ci: cannot tell environment"),
            "{d:?}"
        );
        assert!(
            d[1].contains(":3: [notifications] team_ci_critical: endpoint \"pager\""),
            "{d:?}"
        );
        assert!(d[2].contains(":5: [defaults] period:"), "{d:?}");
        assert!(d[3].contains(":7: [t.AWS/EC2.CPU] threshold_max:"), "{d:?}");
        assert!(d[4].contains(":8: [t.AWS/EC2.CPU] statistic:"), "{d:?}");
        assert!(
            d[5].contains(":9: section [bogus] is not an alarm definition"),
            "{d:?}"
        );
    }
}
