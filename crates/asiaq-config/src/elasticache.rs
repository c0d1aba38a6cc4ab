//! `disco_elasticache.ini` (spec §3.5) as typed clusters of one environment: every section
//! `[<env>:<cluster>]` with its defaults applied, after the whole file has been checked
//! (every problem as `file:line`).

use std::path::Path;

use asiaq_core::syntax::MetaNetworkName;
use serde::Serialize;

use crate::dir::files;
use crate::services::{check_elasticache, env_section};
use crate::{ConfigDir, ConfigError, Diagnostic};

/// The maintenance window when a section sets none (the original's default).
pub const DEFAULT_MAINTENANCE_WINDOW: &str = "sat:05:00-sat:06:00";

pub use asiaq_core::elasticache::CacheCluster;

/// The clusters of one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ElastiCacheConfig {
    pub env: String,
    pub clusters: Vec<CacheCluster>,
}

/// The environment a command works on: `env` (`--env`), else the default environment.
pub fn environment(config_dir: &Path, env: Option<&str>) -> Result<String, ConfigError> {
    let aws = ConfigDir::new(config_dir).aws(env)?;
    Ok(aws.require_environment()?.to_string())
}

/// Reads the clusters of environment `env` (`--env`, else the default environment); with
/// `only`, just that cluster, which must be configured. Every problem of the file is
/// reported before any cluster is returned.
pub fn load(
    config_dir: &Path,
    env: Option<&str>,
    only: Option<&str>,
) -> Result<ElastiCacheConfig, ConfigError> {
    let dir = ConfigDir::new(config_dir);
    let aws = dir.aws(env)?;
    let env = aws.require_environment()?.to_string();
    let ini = dir.optional_ini(files::DISCO_ELASTICACHE)?;
    let errors: Vec<Diagnostic> = check_elasticache(&ini)
        .into_iter()
        .filter(Diagnostic::is_error)
        .collect();
    if !errors.is_empty() {
        return Err(ConfigError::Invalid(errors));
    }
    let default = |opt: &str| aws.asiaq_option_in(opt, "disco_aws", Some(&env));
    let mut clusters = Vec::new();
    for s in ini.sections() {
        let Some((e, name)) = env_section(&s.name) else {
            continue;
        };
        if e != env || only.is_some_and(|o| o != name) {
            continue;
        }
        let get = |key: &str| ini.get(&s.name, key);
        let text = |key: &str| get(key).map(|v| v.text).unwrap_or_default();
        let meta = match get("meta_network").or_else(|| default("meta_network")) {
            Some(v) => v
                .parse(|t| t.parse::<MetaNetworkName>())
                .map_err(ConfigError::invalid)?,
            None => {
                return Err(ConfigError::invalid(Diagnostic::error(
                    ini.path(),
                    Some(s.line),
                    format!(
                        "[{}] has no meta_network, and disco_aws.ini no default_meta_network",
                        s.name
                    ),
                    Some("meta_network=intranet (or [disco_aws] default_meta_network)".into()),
                )))
            }
        };
        let number = |key: &str| -> Result<i64, ConfigError> {
            let v = get(key).ok_or_else(|| ConfigError::NoOption {
                path: ini.path().to_path_buf(),
                option: key.to_string(),
                tried: vec![format!("[{}] {key}", s.name)],
            })?;
            v.text.trim().parse::<i64>().map_err(|_| {
                ConfigError::invalid(v.error(format!("{:?} is not a whole number", v.text), None))
            })
        };
        clusters.push(CacheCluster {
            env: env.clone(),
            name: name.to_string(),
            instance_type: text("instance_type"),
            engine: get("engine").map_or_else(|| "redis".to_string(), |v| v.text),
            engine_version: text("engine_version"),
            port: i32::try_from(number("port")?).unwrap_or_default(),
            parameter_group: text("parameter_group"),
            num_nodes: u32::try_from(number("num_nodes")?).unwrap_or_default(),
            maintenance_window: get("maintenance_window")
                .map_or_else(|| DEFAULT_MAINTENANCE_WINDOW.to_string(), |v| v.text),
            meta_network: meta,
            domain_name: get("domain_name")
                .or_else(|| default("domain_name"))
                .map(|v| v.text)
                .filter(|d| !d.is_empty()),
            product_line: get("product_line")
                .or_else(|| default("product_line"))
                .map(|v| v.text)
                .filter(|p| !p.is_empty()),
        });
    }
    if let Some(name) = only {
        if clusters.is_empty() {
            return Err(ConfigError::NoSection {
                path: ini.path().to_path_buf(),
                section: format!("{env}:{name}"),
            });
        }
    }
    Ok(ElastiCacheConfig { env, clusters })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(aws: &str, cache: &str) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("disco_aws.ini"), aws).unwrap();
        std::fs::write(d.path().join("disco_elasticache.ini"), cache).unwrap();
        d
    }

    const AWS: &str = "[disco_aws]\nproject_name=p\ndefault_environment=demo\ndefault_meta_network=intranet\ndefault_domain_name=example.com\ndefault_domain_name@prod=prod.example.com\ndefault_product_line=platform\n";
    const CACHE: &str = "[demo:cache]\ninstance_type=cache.t3.micro\nengine_version=6.2\nport=6379\nparameter_group=default.redis6.x\nnum_nodes=2\n\n[demo:other]\ninstance_type=cache.m5.large\nengine=valkey\nengine_version=7.2\nport=6380\nparameter_group=default.valkey7\nnum_nodes=3\nmaintenance_window=sun:01:00-sun:02:00\nmeta_network=dmz\ndomain_name=other.example.com\nproduct_line=core\n\n[prod:cache]\ninstance_type=cache.t3.micro\nengine_version=6.2\nport=6379\nparameter_group=default.redis6.x\nnum_nodes=1\n";

    #[test]
    fn defaults_fill_in_and_environments_are_kept_apart() {
        let d = dir(AWS, CACHE);
        let c = load(d.path(), None, None).unwrap();
        assert_eq!(c.env, "demo");
        assert_eq!(c.clusters.len(), 2);
        let a = &c.clusters[0];
        assert_eq!(
            (
                a.engine.as_str(),
                a.maintenance_window.as_str(),
                a.meta_network
            ),
            (
                "redis",
                DEFAULT_MAINTENANCE_WINDOW,
                MetaNetworkName::Intranet
            )
        );
        assert_eq!(a.domain_name.as_deref(), Some("example.com"));
        assert_eq!(a.product_line.as_deref(), Some("platform"));
        let b = &c.clusters[1];
        assert_eq!(
            (b.engine.as_str(), b.port, b.num_nodes),
            ("valkey", 6380, 3)
        );
        assert_eq!(b.meta_network, MetaNetworkName::Dmz);
        assert_eq!(b.domain_name.as_deref(), Some("other.example.com"));
        let p = load(d.path(), Some("prod"), Some("cache")).unwrap();
        assert_eq!(
            p.clusters[0].domain_name.as_deref(),
            Some("prod.example.com")
        );
    }

    #[test]
    fn an_unknown_cluster_is_a_missing_section() {
        let d = dir(AWS, CACHE);
        let e = load(d.path(), None, Some("nope")).unwrap_err();
        assert!(
            e.to_string().ends_with("section [demo:nope] is missing"),
            "{e}"
        );
    }

    #[test]
    fn bad_values_are_reported_at_their_line() {
        for (from, to, want) in [
            ("engine=valkey", "engine=memcached", ":10: [demo:other] engine: \"memcached\" is not allowed (expected one of redis, valkey)"),
            (
                "maintenance_window=sun:01:00-sun:02:00",
                "maintenance_window=sat:25:00-sat:26:00",
                ":15: [demo:other] maintenance_window: \"sat:25:00-sat:26:00\" is not a maintenance window",
            ),
            (
                "instance_type=cache.m5.large",
                "instance_type=m5.large",
                ":9: [demo:other] instance_type: \"m5.large\" is not a cache node type",
            ),
        ] {
            let d = dir(AWS, &CACHE.replace(from, to));
            let e = load(d.path(), None, None).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
            assert!(e.contains("disco_elasticache.ini"), "{e}");
        }
    }
}
