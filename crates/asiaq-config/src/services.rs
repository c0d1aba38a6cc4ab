//! The managed-service files: `disco_log_metrics.ini` (§3.4), `disco_elasticache.ini`
//! (§3.5), `disco_elasticsearch.ini` (§3.6), `disco_rds.ini` and `rds/engine_specific/`
//! (§3.7). Each section names the environment it belongs to.

use std::collections::BTreeMap;
use std::path::Path;

use asiaq_core::plan::log_metrics::{pattern_is_balanced, LogMetricRule};
use serde::Serialize;

use crate::diag::Diagnostic;
use crate::dir::{files, ConfigDir};
use crate::error::ConfigError;
use crate::ini::IniFile;
use crate::kinds::{check, check_section, Kind};

/// One `[<hostclass>.<MetricName>]` of disco_log_metrics.ini.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogMetric {
    pub hostclass: String,
    pub metric: String,
    pub log_file: String,
    pub filter_pattern: String,
    pub metric_value: String,
}

/// The log metrics of a hostclass.
pub fn log_metrics_for(ini: &IniFile, hostclass: &str) -> Vec<LogMetric> {
    ini.sections()
        .filter_map(|s| {
            let (hc, metric) = s.name.split_once('.')?;
            (hc == hostclass).then(|| LogMetric {
                hostclass: hc.to_string(),
                metric: metric.to_string(),
                log_file: ini
                    .get(&s.name, "log_file")
                    .map(|v| v.text)
                    .unwrap_or_default(),
                filter_pattern: ini
                    .get(&s.name, "filter_pattern")
                    .map(|v| v.text)
                    .unwrap_or_default(),
                metric_value: ini
                    .get(&s.name, "metric_value")
                    .map(|v| v.text)
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// `disco_log_metrics.ini` of `dir` (empty when there is none), checked: its errors are a
/// [`ConfigError::Invalid`] (exit 2, before any call); its warnings are returned.
pub fn load_log_metrics(dir: &ConfigDir) -> Result<(IniFile, Vec<Diagnostic>), ConfigError> {
    let ini = dir.optional_ini(files::DISCO_LOG_METRICS)?;
    let (errors, warnings): (Vec<Diagnostic>, Vec<Diagnostic>) = check_log_metrics(&ini)
        .into_iter()
        .partition(Diagnostic::is_error);
    if errors.is_empty() {
        Ok((ini, warnings))
    } else {
        Err(ConfigError::Invalid(errors))
    }
}

/// The log metrics of a hostclass as the planner takes them.
pub fn log_metric_rules(ini: &IniFile, hostclass: &str) -> Vec<LogMetricRule> {
    log_metrics_for(ini, hostclass)
        .into_iter()
        .map(|m| LogMetricRule {
            hostclass: m.hostclass,
            metric: m.metric,
            log_file: m.log_file,
            filter_pattern: m.filter_pattern,
            metric_value: m.metric_value,
        })
        .collect()
}

fn missing(ini: &IniFile, section: &str, line: usize, key: &str, expected: &str) -> Diagnostic {
    Diagnostic::error(
        ini.path(),
        Some(line),
        format!("[{section}] has no {key}"),
        Some(expected.to_string()),
    )
}

/// Problems in disco_log_metrics.ini.
pub fn check_log_metrics(ini: &IniFile) -> Vec<Diagnostic> {
    let mut out = ini.interpolation_problems();
    for s in ini.sections() {
        if !s
            .name
            .split_once('.')
            .is_some_and(|(hc, m)| hc.starts_with("mhc") && !m.is_empty())
        {
            out.push(Diagnostic::error(
                ini.path(),
                Some(s.line),
                format!("section [{}] is not <hostclass>.<MetricName>", s.name),
                Some("[mhcfoo.ErrorCount]".into()),
            ));
            continue;
        }
        for key in ["log_file", "filter_pattern", "metric_value"] {
            if ini.get(&s.name, key).is_none() {
                out.push(missing(
                    ini,
                    &s.name,
                    s.line,
                    key,
                    "log_file, filter_pattern and metric_value",
                ));
            }
        }
        if let Some(v) = ini.get(&s.name, "log_file") {
            out.extend(check(Kind::AbsolutePath, &v));
        }
        if let Some(v) = ini.get(&s.name, "filter_pattern") {
            if !pattern_is_balanced(&v.text) {
                out.push(
                    v.error(
                        format!(
                            "{:?} has unbalanced brackets, braces or quotes",
                            v.text.trim()
                        ),
                        Some(
                            "a CloudWatch Logs filter pattern like ERROR or [ip, user, status=5*]"
                                .into(),
                        ),
                    ),
                );
            }
        }
        if let Some(v) = ini.get(&s.name, "metric_value") {
            let t = v.text.trim();
            if t.parse::<f64>().is_err() && !t.starts_with('$') {
                out.push(v.error(
                    format!("{t:?} is neither a number nor a $field"),
                    Some("a number like 1, or $field".into()),
                ));
            }
        }
    }
    out
}

/// Splits an `[<env>:<name>]` section name.
pub fn env_section(name: &str) -> Option<(&str, &str)> {
    name.split_once(':')
        .filter(|(e, n)| !e.is_empty() && !n.is_empty())
}

const ELASTICACHE: &[(&str, Kind)] = &[
    ("instance_type", Kind::NonEmpty),
    ("engine_version", Kind::NonEmpty),
    (
        "port",
        Kind::Int {
            min: 1,
            max: 65_535,
        },
    ),
    ("num_nodes", Kind::Int { min: 1, max: 6 }),
    ("maintenance_window", Kind::MaintenanceWindow),
    ("meta_network", Kind::MetaNetwork),
    ("engine", Kind::OneOf(&asiaq_core::elasticache::ENGINES)),
];

/// Problems in disco_elasticache.ini.
pub fn check_elasticache(ini: &IniFile) -> Vec<Diagnostic> {
    let mut out = ini.interpolation_problems();
    for s in ini.sections() {
        if env_section(&s.name).is_none() {
            out.push(Diagnostic::error(
                ini.path(),
                Some(s.line),
                format!("section [{}] is not <env>:<cluster>", s.name),
                Some("[ci:sessions]".into()),
            ));
            continue;
        }
        for key in [
            "instance_type",
            "engine_version",
            "port",
            "parameter_group",
            "num_nodes",
        ] {
            if ini.get(&s.name, key).is_none() {
                out.push(missing(
                    ini,
                    &s.name,
                    s.line,
                    key,
                    "instance_type, engine_version, port, parameter_group and num_nodes",
                ));
            }
        }
        if let Some(v) = ini.get(&s.name, "instance_type") {
            if !v.text.starts_with("cache.") {
                out.push(v.error(
                    format!("{:?} is not a cache node type", v.text),
                    Some("a type like cache.t3.micro".into()),
                ));
            }
        }
        out.extend(check_section(ini, &s.name, ELASTICACHE));
    }
    out
}

const ELASTICSEARCH: &[(&str, Kind)] = &[
    ("instance_count", Kind::Int { min: 1, max: 200 }),
    ("dedicated_master", Kind::Bool),
    ("dedicated_master_count", Kind::Int { min: 1, max: 5 }),
    ("zone_awareness", Kind::Bool),
    ("ebs_enabled", Kind::Bool),
    (
        "volume_type",
        Kind::OneOf(&["standard", "gp2", "gp3", "io1"]),
    ),
    (
        "volume_size",
        Kind::Int {
            min: 1,
            max: 16_384,
        },
    ),
    (
        "iops",
        Kind::Int {
            min: 1,
            max: 64_000,
        },
    ),
    ("snapshot_start_hour", Kind::Int { min: 0, max: 23 }),
    ("allowed_source_ips", Kind::IpOrCidrList),
    ("archive_threshold", Kind::Fraction),
    (
        "archive_max_shards",
        Kind::Int {
            min: 1,
            max: 1_000_000,
        },
    ),
    ("api_use_ssl", Kind::Bool),
    ("api_verify_certs", Kind::Bool),
];

/// The options every Elasticsearch domain needs from its section or `[defaults]`.
const ELASTICSEARCH_REQUIRED: [&str; 4] =
    ["instance_type", "instance_count", "ebs_enabled", "version"];

/// An Elasticsearch option: the domain's section, then `[defaults]` (the original raised
/// RuntimeError when both lacked it).
pub fn elasticsearch_option(ini: &IniFile, section: &str, key: &str) -> Option<String> {
    ini.get(section, key)
        .or_else(|| ini.get("defaults", key))
        .map(|v| v.text)
}

/// Problems in disco_elasticsearch.ini.
pub fn check_elasticsearch(ini: &IniFile) -> Vec<Diagnostic> {
    let mut out = ini.interpolation_problems();
    out.extend(check_section(ini, "defaults", ELASTICSEARCH));
    for s in ini.sections() {
        if s.name == "defaults" {
            continue;
        }
        if env_section(&s.name).is_none() {
            out.push(Diagnostic::error(
                ini.path(),
                Some(s.line),
                format!("section [{}] is not <env>:<domain name>", s.name),
                Some("[ci:logs] (or [defaults])".into()),
            ));
            continue;
        }
        for key in ELASTICSEARCH_REQUIRED {
            if elasticsearch_option(ini, &s.name, key).is_none() {
                out.push(missing(
                    ini,
                    &s.name,
                    s.line,
                    key,
                    "the option in this section or in [defaults]",
                ));
            }
        }
        let truthy = |k| {
            elasticsearch_option(ini, &s.name, k).is_some_and(|v| asiaq_core::syntax::is_truthy(&v))
        };
        if truthy("dedicated_master") {
            for key in ["dedicated_master_type", "dedicated_master_count"] {
                if elasticsearch_option(ini, &s.name, key).is_none() {
                    out.push(missing(ini, &s.name, s.line, key, "dedicated_master_type and dedicated_master_count when dedicated_master is true"));
                }
            }
        }
        if truthy("ebs_enabled") {
            for key in ["volume_type", "volume_size"] {
                if elasticsearch_option(ini, &s.name, key).is_none() {
                    out.push(missing(
                        ini,
                        &s.name,
                        s.line,
                        key,
                        "volume_type and volume_size when ebs_enabled is true",
                    ));
                }
            }
        }
        out.extend(check_section(ini, &s.name, ELASTICSEARCH));
    }
    out
}

const RDS: &[(&str, Kind)] = &[
    (
        "allocated_storage",
        Kind::Int {
            min: 5,
            max: 65_536,
        },
    ),
    (
        "iops",
        Kind::Int {
            min: 0,
            max: 256_000,
        },
    ),
    (
        "port",
        Kind::Int {
            min: 1_150,
            max: 65_535,
        },
    ),
    ("storage_encrypted", Kind::Bool),
    ("multi_az", Kind::Bool),
    ("publicly_accessible", Kind::Bool),
    ("auto_minor_version_upgrade", Kind::Bool),
    ("backup_retention_period", Kind::Int { min: 0, max: 35 }),
    ("preferred_backup_window", Kind::TimeWindow),
    ("preferred_maintenance_window", Kind::MaintenanceWindow),
];

/// `[<env>-<db>]`: splits at the first `-`.
pub fn rds_section(name: &str) -> Option<(&str, &str)> {
    name.split_once('-')
        .filter(|(e, d)| !e.is_empty() && !d.is_empty())
}

/// RDS parameter group family (spec §4.22): `engine.lower() + ("-" if "-" in engine) +
/// major.minor`.
pub fn rds_parameter_group_family(engine: &str, version: &str) -> String {
    let major_minor: Vec<&str> = version.split('.').take(2).collect();
    let sep = if engine.contains('-') { "-" } else { "" };
    format!("{}{sep}{}", engine.to_lowercase(), major_minor.join("."))
}

/// Problems in disco_rds.ini and `rds/engine_specific/*.ini`.
pub fn check_rds(
    ini: &IniFile,
    engine_specific: &BTreeMap<String, Result<IniFile, Vec<Diagnostic>>>,
) -> Vec<Diagnostic> {
    let mut out = ini.interpolation_problems();
    for s in ini.sections() {
        if rds_section(&s.name).is_none() {
            out.push(Diagnostic::error(
                ini.path(),
                Some(s.line),
                format!("section [{}] is not <env>-<database>", s.name),
                Some("[ci-appdb]".into()),
            ));
            continue;
        }
        for key in [
            "engine",
            "engine_version",
            "db_instance_class",
            "allocated_storage",
            "master_username",
        ] {
            if ini.get(&s.name, key).is_none() {
                out.push(missing(ini, &s.name, s.line, key, "engine, engine_version, db_instance_class, allocated_storage and master_username"));
            }
        }
        if let Some(v) = ini.get(&s.name, "engine") {
            if !asiaq_core::rds::ENGINES.contains(&v.text.as_str()) {
                out.push(v.error(
                    format!("{:?} is not an RDS engine asiaq knows", v.text),
                    Some(format!("one of {}", asiaq_core::rds::ENGINES.join(", "))),
                ));
            } else if ini.get(&s.name, "port").is_none()
                && asiaq_core::rds::default_port(v.text.split('-').next().unwrap_or_default())
                    .is_none()
            {
                out.push(missing(
                    ini,
                    &s.name,
                    s.line,
                    "port",
                    "port for this engine",
                ));
            }
        }
        let int = |key: &str| {
            ini.get(&s.name, key)
                .and_then(|v| v.text.trim().parse::<i32>().ok())
        };
        if let (Some(v), Some(iops), Some(storage)) = (
            ini.get(&s.name, "iops"),
            int("iops"),
            int("allocated_storage"),
        ) {
            if let Some(problem) = asiaq_core::rds::iops_problem(iops, storage) {
                out.push(v.error(
                    problem,
                    Some("iops=0, or from 1000 and 0.5 to 50 per GB of allocated_storage".into()),
                ));
            }
        }
        if let Some(v) = ini.get(&s.name, "db_instance_class") {
            if !v.text.starts_with("db.") {
                out.push(v.error(
                    format!("{:?} is not a DB instance class", v.text),
                    Some("a class like db.t3.micro".into()),
                ));
            }
        }
        out.extend(check_section(ini, &s.name, RDS));
    }
    for result in engine_specific.values() {
        if let Err(d) = result {
            out.extend(d.iter().cloned());
        }
    }
    out
}

/// Reads every `rds/engine_specific/*.ini` under `dir` (keyed by database name).
pub fn read_engine_specific(dir: &Path) -> BTreeMap<String, Result<IniFile, Vec<Diagnostic>>> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.extension().and_then(|e| e.to_str()) != Some("ini") {
            continue;
        }
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let parsed = match std::fs::read_to_string(&path) {
            Ok(text) => IniFile::parse(&path, &text),
            Err(e) => Err(vec![Diagnostic::error(
                &path,
                None,
                format!("cannot read: {e}"),
                None,
            )]),
        };
        out.insert(stem.to_string(), parsed);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ini(text: &str) -> IniFile {
        IniFile::parse("f.ini", text).unwrap()
    }

    fn errors(d: Vec<Diagnostic>) -> Vec<String> {
        d.iter()
            .filter(|d| d.is_error())
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn log_metrics() {
        let f = ini("[mhcdummy.ErrorCount]\nlog_file=/var/log/httpd/error_log\nfilter_pattern=error\nmetric_value=1\n[mhcother.X]\nlog_file=rel\nfilter_pattern=x\nmetric_value=lots\n[nodot]\n");
        let m = log_metrics_for(&f, "mhcdummy");
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].metric, "ErrorCount");
        let e = errors(check_log_metrics(&f));
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(e[0].contains(":6: [mhcother.X] log_file:"));
        assert!(e[1].contains(":8: [mhcother.X] metric_value:"));
        assert!(e[2].contains(":9: section [nodot]"));
    }

    #[test]
    fn elasticache() {
        let ok = ini("[ci:sessions]\ninstance_type=cache.t3.micro\nengine_version=6.2\nport=6379\nparameter_group=default.redis6.x\nnum_nodes=2\n");
        assert!(errors(check_elasticache(&ok)).is_empty());
        let bad = ini("[ci:sessions]\ninstance_type=t3.micro\nengine_version=6.2\nport=99999\nparameter_group=x\nnum_nodes=2\nmaintenance_window=sat\n");
        let e = errors(check_elasticache(&bad));
        assert_eq!(e.len(), 3, "{e:?}");
    }

    #[test]
    fn elasticsearch_defaults_fill_in() {
        let f = ini("[defaults]\ninstance_type=t3.small.elasticsearch\ninstance_count=1\nebs_enabled=true\nvolume_type=gp2\nvolume_size=10\nversion=7.10\n[ci:logs]\n[ci:other]\nebs_enabled=false\ndedicated_master=true\n");
        let e = errors(check_elasticsearch(&f));
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e
            .iter()
            .all(|m| m.contains("[ci:other] has no dedicated_master")));
        assert_eq!(
            elasticsearch_option(&f, "ci:logs", "version").as_deref(),
            Some("7.10")
        );
    }

    #[test]
    fn rds_checks_and_family() {
        let f = ini("[ci-appdb]\nengine=postgres\nengine_version=13.4\ndb_instance_class=m5.large\nallocated_storage=100\nmaster_username=admin\nmulti_az=maybe\n");
        let all = check_rds(&f, &BTreeMap::new());
        let e = errors(all.clone());
        assert_eq!(e.len(), 2, "{e:?}");
        assert_eq!(all.len(), 2);
        assert!(
            e.iter()
                .any(|m| m.contains("[ci-appdb] multi_az: \"maybe\" is not a boolean")),
            "{e:?}"
        );
        assert_eq!(
            rds_parameter_group_family("postgresql", "9.3.1"),
            "postgresql9.3"
        );
        assert_eq!(
            rds_parameter_group_family("oracle-se2", "12.1.0.2.v2"),
            "oracle-se2-12.1"
        );
        assert_eq!(rds_parameter_group_family("MySQL", "123.5"), "mysql123.5");
    }
}
