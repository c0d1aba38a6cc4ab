//! `disco_rds.ini` and `rds/engine_specific/*.ini` (spec §3.7) as typed instances of one
//! environment: every section `[<env>-<db>]` with its defaults applied, after both files
//! have been checked (every problem as `file:line`).

use std::path::Path;

use asiaq_core::rds::{default_license_model, default_port, RdsInstance};

use crate::dir::files;
use crate::options::boolean;
use crate::services::{check_rds, rds_parameter_group_family, rds_section, read_engine_specific};
use crate::{ConfigDir, ConfigError, Diagnostic};

/// The instances of one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdsConfig {
    pub env: String,
    pub instances: Vec<RdsInstance>,
}

/// The environment a command works on: `env` (`--env`), else the default environment.
pub fn environment(config_dir: &Path, env: Option<&str>) -> Result<String, ConfigError> {
    let aws = ConfigDir::new(config_dir).aws(env)?;
    Ok(aws.require_environment()?.to_string())
}

/// Reads the instances of environment `env` (`--env`, else the default environment); with
/// `only` (a database name, or the whole `<env>-<db>`), just that one, which must be
/// configured. Decision: the CNAME's domain is `default_domain_name@<env>`, else
/// `default_domain_name`, for every environment (the original applied `@env` only to
/// environments named exactly `staging` or `production`).
pub fn load(
    config_dir: &Path,
    env: Option<&str>,
    only: Option<&str>,
) -> Result<RdsConfig, ConfigError> {
    let dir = ConfigDir::new(config_dir);
    let aws = dir.aws(env)?;
    let env = aws.require_environment()?.to_string();
    let ini = dir.optional_ini(files::DISCO_RDS)?;
    let specific = read_engine_specific(&dir.path(files::RDS_ENGINE_SPECIFIC));
    let errors: Vec<Diagnostic> = check_rds(&ini, &specific)
        .into_iter()
        .filter(Diagnostic::is_error)
        .collect();
    if !errors.is_empty() {
        return Err(ConfigError::Invalid(errors));
    }
    let default = |opt: &str| aws.asiaq_option_in(opt, "disco_aws", Some(&env));
    let only = only.map(|o| o.strip_prefix(&format!("{env}-")).unwrap_or(o));
    let mut instances = Vec::new();
    for s in ini.sections() {
        let Some((e, db)) = rds_section(&s.name) else {
            continue;
        };
        if e != env || only.is_some_and(|o| o != db) {
            continue;
        }
        let get = |key: &str| ini.get(&s.name, key);
        let text = |key: &str| get(key).map(|v| v.text).unwrap_or_default();
        let int = |key: &str, default: i32| -> Result<i32, ConfigError> {
            match get(key) {
                None => Ok(default),
                Some(v) => v.text.trim().parse::<i32>().map_err(|_| {
                    ConfigError::invalid(
                        v.error(format!("{:?} is not a whole number", v.text), None),
                    )
                }),
            }
        };
        let flag = |key: &str, default: bool| -> Result<bool, ConfigError> {
            get(key).map_or(Ok(default), |v| boolean(&v).map_err(ConfigError::invalid))
        };
        let engine = text("engine");
        let family = engine.split('-').next().unwrap_or_default().to_string();
        let version = text("engine_version");
        let parameters = match specific.get(db) {
            Some(Ok(f)) => f
                .section(&env)
                .map(|sec| {
                    sec.keys()
                        .filter_map(|k| f.get(&env, k).map(|v| (k.to_string(), v.text)))
                        .collect()
                })
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        instances.push(RdsInstance {
            env: env.clone(),
            db: db.to_string(),
            id: s.name.clone(),
            parameter_group_family: rds_parameter_group_family(&engine, &version),
            engine_version: version,
            instance_class: text("db_instance_class"),
            allocated_storage: int("allocated_storage", 0)?,
            iops: int("iops", 0)?,
            master_username: text("master_username"),
            port: int("port", default_port(&family).unwrap_or_default())?,
            license_model: get("license_model").map_or_else(
                || {
                    default_license_model(&family)
                        .unwrap_or_default()
                        .to_string()
                },
                |v| v.text,
            ),
            character_set_name: get("character_set_name").map(|v| v.text),
            storage_encrypted: flag("storage_encrypted", true)?,
            multi_az: flag("multi_az", true)?,
            publicly_accessible: flag("publicly_accessible", false)?,
            auto_minor_version_upgrade: flag("auto_minor_version_upgrade", true)?,
            backup_retention_period: int("backup_retention_period", 1)?,
            preferred_backup_window: get("preferred_backup_window").map(|v| v.text),
            preferred_maintenance_window: get("preferred_maintenance_window").map(|v| v.text),
            product_line: get("product_line").map_or_else(|| "unknown".to_string(), |v| v.text),
            parameters,
            domain: default("domain_name")
                .map(|v| v.text)
                .filter(|d| !d.is_empty()),
            engine,
        });
    }
    if let Some(db) = only {
        if instances.is_empty() {
            return Err(ConfigError::NoSection {
                path: ini.path().to_path_buf(),
                section: format!("{env}-{db}"),
            });
        }
    }
    Ok(RdsConfig { env, instances })
}

/// `clone --source-db DB --source-env SRC`: the source's section `[<SRC>-<DB>]` (and its
/// parameters), as instance `<env>-<DB>` of environment `env` (`--env`, else the default
/// environment), with that environment's domain.
pub fn load_clone(
    config_dir: &Path,
    env: Option<&str>,
    source_env: &str,
    db: &str,
) -> Result<RdsInstance, ConfigError> {
    let target = environment(config_dir, env)?;
    let source = load(config_dir, Some(source_env), Some(db))?;
    let mut i = source
        .instances
        .into_iter()
        .next()
        .ok_or_else(|| ConfigError::NoSection {
            path: ConfigDir::new(config_dir).path(files::DISCO_RDS),
            section: format!("{source_env}-{db}"),
        })?;
    let aws = ConfigDir::new(config_dir).aws(Some(&target))?;
    i.domain = aws
        .asiaq_option_in("domain_name", "disco_aws", Some(&target))
        .map(|v| v.text)
        .filter(|d| !d.is_empty());
    i.id = format!("{target}-{}", i.db);
    i.env = target;
    Ok(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    const AWS: &str = "[disco_aws]\nproject_name=p\ndefault_environment=demo\ndefault_domain_name=example.com\ndefault_domain_name@prod=prod.example.com\n";
    const RDS: &str = "[demo-appdb]\nengine=postgres\nengine_version=9.6.20\ndb_instance_class=db.t2.micro\nallocated_storage=20\nmaster_username=admin\n\n[prod-oradb]\nengine=oracle-se2\nengine_version=12.1.0.2.v2\ndb_instance_class=db.m4.2xlarge\nallocated_storage=100\niops=1000\nmaster_username=oracle\nmulti_az=False\ncharacter_set_name=WE8ISO8859P1\n";

    fn dir(rds: &str) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("disco_aws.ini"), AWS).unwrap();
        std::fs::write(d.path().join("disco_rds.ini"), rds).unwrap();
        std::fs::create_dir_all(d.path().join("rds/engine_specific")).unwrap();
        std::fs::write(
            d.path().join("rds/engine_specific/oradb.ini"),
            "[prod]\nprocesses=1000\naudit_trail=db\n[demo]\nprocesses=5\n",
        )
        .unwrap();
        d
    }

    #[test]
    fn defaults_by_engine_and_parameters_by_environment() {
        let d = dir(RDS);
        let c = load(d.path(), None, None).unwrap();
        assert_eq!(c.instances.len(), 1);
        let a = &c.instances[0];
        assert_eq!((a.id.as_str(), a.port), ("demo-appdb", 5432));
        assert_eq!(a.license_model, "postgresql-license");
        assert_eq!(a.parameter_group_family, "postgres9.6");
        assert!(a.storage_encrypted && a.multi_az && !a.publicly_accessible);
        assert_eq!(a.product_line, "unknown");
        assert!(a.parameters.is_empty());
        assert_eq!(a.domain.as_deref(), Some("example.com"));
        let p = load(d.path(), Some("prod"), Some("prod-oradb")).unwrap();
        let o = &p.instances[0];
        assert_eq!((o.port, o.iops, o.multi_az), (1521, 1000, false));
        assert_eq!(o.license_model, "bring-your-own-license");
        assert_eq!(o.parameter_group_family, "oracle-se2-12.1");
        assert_eq!(
            o.parameters,
            [
                ("processes".to_string(), "1000".to_string()),
                ("audit_trail".to_string(), "db".to_string())
            ]
        );
        assert_eq!(o.domain.as_deref(), Some("prod.example.com"));
    }

    #[test]
    fn a_clone_takes_the_source_section_into_its_environment() {
        let d = dir(RDS);
        let c = load_clone(d.path(), Some("demo"), "prod", "oradb").unwrap();
        assert_eq!((c.id.as_str(), c.env.as_str()), ("demo-oradb", "demo"));
        assert_eq!(c.engine, "oracle-se2");
        assert_eq!(c.parameters.len(), 2);
        assert_eq!(c.domain.as_deref(), Some("example.com"));
        let e = load_clone(d.path(), None, "prod", "nope").unwrap_err();
        assert!(
            e.to_string().ends_with("section [prod-nope] is missing"),
            "{e}"
        );
    }

    #[test]
    fn bad_values_are_reported_at_their_line() {
        for (from, to, want) in [
            (
                "engine=postgres",
                "engine=postgress",
                ":2: [demo-appdb] engine: \"postgress\" is not an RDS engine asiaq knows",
            ),
            (
                "iops=1000",
                "iops=900",
                ":13: [prod-oradb] iops: 900 provisioned IOPS are fewer than io1's minimum of 1000",
            ),
            (
                "allocated_storage=20",
                "allocated_storage=20\niops=2000",
                ":6: [demo-appdb] iops: 2000 provisioned IOPS need at least 40 GB",
            ),
        ] {
            let d = dir(&RDS.replacen(from, to, 1));
            let e = load(d.path(), None, None).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
        let d = dir(RDS);
        let e = load(d.path(), None, Some("nope")).unwrap_err().to_string();
        assert!(e.ends_with("section [demo-nope] is missing"), "{e}");
    }
}
