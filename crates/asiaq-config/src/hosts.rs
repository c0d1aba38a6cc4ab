//! What the host commands (`aws`, `autoscale`, `chaos`, `snapshot`, `elb`) read from the
//! configuration: disco_aws.ini for one environment, its hostclasses and pipelines, and
//! what it says about an environment once observed (the planner's facts).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use asiaq_core::ami::AmiFilter;
use asiaq_core::plan::alarms::Monitoring;
use asiaq_core::provision::{
    first_static_ip, EnvironmentFacts, HostclassSettings, MetaNetworkFacts, PlanError,
};
use asiaq_core::spinup::SpinupRequests;

use crate::alarms::AlarmsIni;
use crate::aws_ini::DISCO_AWS;
use crate::hostclass::{self, hostclass_settings};
use crate::services::{load_log_metrics, log_metric_rules};
use crate::validate::load_pipeline;
use crate::{AwsIni, ConfigDir, ConfigError, Diagnostic, EnvironmentSpec, Pipeline};

/// Configuration loaded for one environment.
pub struct HostsConfig {
    pub dir: ConfigDir,
    pub aws: AwsIni,
    pub env: String,
}

/// Why the configuration cannot describe an environment.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A static IP of a referenced hostclass is wrong.
    #[error(transparent)]
    Plan(#[from] PlanError),
}

/// The environment as observed, as far as the configuration is concerned.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    /// The VPC's `type` tag: which disco_vpc.ini description applies (none: no
    /// `ami_stage` or credential buckets from it).
    pub env_type: Option<&'a str>,
    pub environment_class: &'a str,
    pub metanetworks: &'a [MetaNetworkFacts],
    pub region: &'a str,
}

/// Who runs asiaq, for the `owner` tag and user-data (`getpass.getuser()`): the first of
/// `LOGNAME`, `USER`, `LNAME`, `USERNAME` that is set and not empty, as `var` reads them.
pub fn owner(var: impl Fn(&str) -> Option<String>) -> String {
    ["LOGNAME", "USER", "LNAME", "USERNAME"]
        .iter()
        .find_map(|v| var(v).filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown".to_string())
}

impl HostsConfig {
    /// Loads disco_aws.ini of the configuration directory `root` for `env` (or its default
    /// environment).
    pub fn load(root: &Path, env: Option<&str>) -> Result<Self, ConfigError> {
        let dir = ConfigDir::new(root);
        dir.check()?;
        let aws = dir.aws(env)?;
        let env = aws.require_environment()?.to_string();
        Ok(HostsConfig { dir, aws, env })
    }

    /// Settings of `hostclass`; it must have a section. They include its alarms and log
    /// metrics ([`HostsConfig::monitoring`]).
    pub fn settings(&self, hc: &str) -> Result<HostclassSettings, ConfigError> {
        if !self.aws.has_hostclass(hc) {
            return Err(ConfigError::invalid(Diagnostic::error(
                self.aws.ini().path(),
                None,
                format!("hostclass {hc} has no [{hc}] section"),
                None,
            )));
        }
        let mut settings = hostclass_settings(&self.aws, hc)?;
        settings.monitoring = self.monitoring(hc)?;
        Ok(settings)
    }

    /// The alarm rules (disco_alarms.ini) and log metrics (disco_log_metrics.ini) of
    /// `hostclass` in this environment; either file may be absent. A problem in either file
    /// is an error (exit 2 before any call).
    pub fn monitoring(&self, hc: &str) -> Result<Monitoring, ConfigError> {
        let (alarms, _) = AlarmsIni::load(&self.dir)?;
        let (log_metrics, _) = load_log_metrics(&self.dir)?;
        Ok(Monitoring {
            env: self.env.clone(),
            alarms: alarms.rules_for(hc),
            log_metrics: log_metric_rules(&log_metrics, hc),
        })
    }

    /// The pipeline file `path` (relative to the current directory or the configuration
    /// directory), with its warnings.
    pub fn pipeline(&self, path: &Path) -> Result<(Pipeline, Vec<Diagnostic>), ConfigError> {
        load_pipeline(&self.dir, &self.aws, path)
    }

    /// What pipeline `path` asks to spin up (every problem reported, each naming its row),
    /// with the pipeline's warnings.
    pub fn pipeline_requests(
        &self,
        path: &Path,
        testing: bool,
    ) -> Result<(SpinupRequests, Vec<Diagnostic>), ConfigError> {
        let (pipeline, warnings) = self.pipeline(path)?;
        let mut requests = crate::spinup::pipeline_requests(&self.aws, &pipeline, testing)?;
        for (_, settings) in &mut requests.requests {
            settings.monitoring = self.monitoring(&settings.hostclass)?;
        }
        Ok((requests, warnings))
    }

    /// The `chaos` option of every hostclass section (for groups without a `chaos` tag).
    pub fn chaos_options(&self) -> BTreeMap<String, String> {
        self.aws
            .hostclasses()
            .into_iter()
            .filter_map(|hc| {
                self.aws
                    .hostclass_option(hc, "chaos")
                    .map(|v| (hc.to_string(), v.text))
            })
            .collect()
    }

    /// The ssh client configuration file: `from_env` (`ASIAQ_SSH_CONFIG`) when set, else
    /// `[disco_aws] ssh_config_file` (relative to the configuration directory).
    pub fn ssh_config_file(&self, from_env: Option<OsString>) -> Option<PathBuf> {
        if let Some(p) = from_env.filter(|p| !p.is_empty()) {
            return Some(PathBuf::from(p));
        }
        self.aws
            .config("ssh_config_file", DISCO_AWS)
            .map(|v| v.text.trim().to_string())
            .filter(|t| !t.is_empty())
            .map(|t| self.dir.path(t))
    }

    /// The environment's disco_vpc.ini description of type `env_type`.
    fn vpc_spec(&self, env_type: &str) -> Result<EnvironmentSpec, ConfigError> {
        let vpc = self.dir.vpc()?;
        vpc.environment(&self.env, env_type)
            .map_err(ConfigError::Invalid)
    }

    /// What the configuration says about the observed environment: the facts the planner
    /// needs (network, `owner`, project, credential buckets, and the static IPs of the
    /// proxy, logger and log forwarder hostclasses), and the AMI stages, best first
    /// (`stage`, a comma list, else the environment's `ami_stage`).
    pub fn environment_facts(
        &self,
        observed: Observed<'_>,
        owner: String,
        stage: Option<&str>,
    ) -> Result<(EnvironmentFacts, Vec<String>), SettingsError> {
        let spec = observed.env_type.map(|t| self.vpc_spec(t)).transpose()?;
        let project = self.aws.project_name()?.text;
        let mut facts = EnvironmentFacts {
            env: self.env.clone(),
            environment_class: observed.environment_class.to_string(),
            owner,
            credential_buckets: spec
                .as_ref()
                .map(|s| s.credential_bucket_names(observed.region, &project))
                .unwrap_or_default(),
            project_name: project,
            zookeeper_hostclass: hostclass::zookeeper_hostclass(&self.aws),
            http_proxy_ip: None,
            logger_ip: None,
            logforwarder_ip: None,
            metanetworks: observed.metanetworks.to_vec(),
        };
        facts.http_proxy_ip = self.static_ip_of("http_proxy_hostclass", &facts)?;
        facts.logger_ip = self.static_ip_of("logger_hostclass", &facts)?;
        facts.logforwarder_ip = self.static_ip_of("logforwarder_hostclass", &facts)?;
        let stages = match (stage, spec) {
            (Some(s), _) => AmiFilter::stage_list(s),
            (None, spec) => spec.map(|s| s.ami_stages).unwrap_or_default(),
        };
        Ok((facts, stages))
    }

    /// The first static IP of the hostclass that option `key` names, if it has a section.
    fn static_ip_of(
        &self,
        key: &str,
        facts: &EnvironmentFacts,
    ) -> Result<Option<Ipv4Addr>, SettingsError> {
        match hostclass::hostclass_reference(&self.aws, key) {
            Some(hc) if self.aws.has_hostclass(&hc) => {
                Ok(first_static_ip(&self.settings(&hc)?, facts)?)
            }
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(aws_ini: &str) -> (tempfile::TempDir, HostsConfig) {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("disco_aws.ini"), aws_ini).unwrap();
        let cfg = HostsConfig::load(d.path(), None).unwrap();
        (d, cfg)
    }

    const AWS: &str = "[disco_aws]\ndefault_environment = ci\ndefault_meta_network = intranet\n\
        project_name = proj\nhttp_proxy_hostclass = mhcproxy\nssh_config_file = ssh/config\n\n\
        [mhcweb]\nchaos = no\n\n[mhcapp]\n";

    #[test]
    fn owner_is_the_first_name_set() {
        let vars = |v: &str| match v {
            "LOGNAME" => Some(String::new()),
            "USER" => Some("amy".to_string()),
            "USERNAME" => Some("zed".to_string()),
            _ => None,
        };
        assert_eq!(owner(vars), "amy");
        assert_eq!(owner(|_| None), "unknown");
    }

    #[test]
    fn a_hostclass_without_a_section_is_named_with_the_file() {
        let (d, cfg) = config(AWS);
        assert_eq!(cfg.env, "ci");
        let err = cfg.settings("mhcnone").unwrap_err().to_string();
        let file = d.path().join("disco_aws.ini");
        assert_eq!(
            err,
            format!(
                "{}: hostclass mhcnone has no [mhcnone] section",
                file.display()
            )
        );
        let settings = cfg.settings("mhcweb");
        assert!(settings.is_ok(), "{settings:?}");
    }

    #[test]
    fn chaos_options_of_the_hostclasses_that_set_one() {
        let (_d, cfg) = config(AWS);
        let got = cfg.chaos_options();
        assert_eq!(got.len(), 1);
        assert_eq!(got["mhcweb"], "no");
    }

    #[test]
    fn the_ssh_config_file_of_the_environment_wins() {
        let (d, cfg) = config(AWS);
        assert_eq!(
            cfg.ssh_config_file(Some("/x/cfg".into())),
            Some(PathBuf::from("/x/cfg"))
        );
        assert_eq!(
            cfg.ssh_config_file(Some(OsString::new())),
            Some(d.path().join("ssh/config"))
        );
        let (_d, bare) = config("[disco_aws]\ndefault_environment = ci\n");
        assert_eq!(bare.ssh_config_file(None), None);
    }

    #[test]
    fn facts_of_an_untyped_environment_come_from_disco_aws_only() {
        let (_d, cfg) = config(AWS);
        let observed = Observed {
            env_type: None,
            environment_class: "development",
            metanetworks: &[],
            region: "us-west-2",
        };
        let (facts, stages) = cfg
            .environment_facts(observed, "amy".into(), Some("tested,untested"))
            .unwrap();
        assert_eq!(facts.env, "ci");
        assert_eq!(facts.owner, "amy");
        assert_eq!(facts.project_name, "proj");
        assert!(facts.credential_buckets.is_empty());
        // The proxy hostclass has no section: no address.
        assert_eq!(facts.http_proxy_ip, None);
        assert_eq!(stages, ["tested", "untested"]);
        let (_, stages) = cfg.environment_facts(observed, "amy".into(), None).unwrap();
        assert!(stages.is_empty());
    }

    #[test]
    fn a_typed_environment_needs_its_disco_vpc_description() {
        let (_d, cfg) = config(AWS);
        let observed = Observed {
            env_type: Some("sandbox"),
            environment_class: "development",
            metanetworks: &[],
            region: "us-west-2",
        };
        let err = cfg.environment_facts(observed, "amy".into(), None);
        assert!(matches!(err, Err(SettingsError::Config(_))), "{err:?}");
    }
}
