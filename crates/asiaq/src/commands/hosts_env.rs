//! What the host commands (`aws`, `autoscale`, `chaos`, `snapshot`, `elb`) share: loading
//! the configuration for an environment, observing the environment, and what the
//! configuration says about it once observed.

use std::collections::BTreeMap;
use std::path::Path;

use asiaq_aws::hosts::env::EnvironmentNetwork;
use asiaq_aws::hosts::spinup::EnvironmentSettings;
use asiaq_aws::AwsContext;
use asiaq_config::hostclass::{self, hostclass_settings};
use asiaq_config::validate::load_pipeline;
use asiaq_config::{AwsIni, ConfigDir, EnvironmentSpec, Pipeline, VpcIni};
use asiaq_core::ami::AmiFilter;
use asiaq_core::provision::{first_static_ip, EnvironmentFacts, HostclassSettings};
use asiaq_core::spinup::SpinupRequests;
use asiaq_engine::report as progress;

use crate::cli::GlobalArgs;
use crate::exit::CliError;

/// Configuration loaded for one environment.
pub struct HostsConfig {
    pub dir: ConfigDir,
    pub aws: AwsIni,
    pub env: String,
}

impl HostsConfig {
    /// Loads disco_aws.ini for `--env` (or its default environment). Exit 2 on problems.
    pub fn load(global: &GlobalArgs) -> Result<Self, CliError> {
        let dir = ConfigDir::new(&global.asiaq_config);
        dir.check()?;
        let aws = dir.aws(global.env.as_deref())?;
        let env = aws.require_environment()?.to_string();
        Ok(HostsConfig { dir, aws, env })
    }

    /// Settings of `hostclass`; it must have a section. Exit 2 on problems.
    pub fn settings(&self, hc: &str) -> Result<HostclassSettings, CliError> {
        if !self.aws.has_hostclass(hc) {
            return Err(CliError::usage(format!(
                "{}: hostclass {hc} has no [{hc}] section",
                self.aws.ini().path().display()
            )));
        }
        Ok(hostclass_settings(&self.aws, hc)?)
    }

    /// The pipeline file `path` (relative to the current directory or the configuration
    /// directory); its warnings are reported. Exit 2 on problems.
    pub fn pipeline(&self, path: &Path) -> Result<Pipeline, CliError> {
        let (pipeline, warnings) = load_pipeline(&self.dir, &self.aws, path)?;
        for w in &warnings {
            progress::warn(w.located());
        }
        Ok(pipeline)
    }

    /// What pipeline `path` asks to spin up (every problem reported, each naming its row).
    pub fn pipeline_requests(
        &self,
        path: &Path,
        testing: bool,
    ) -> Result<SpinupRequests, CliError> {
        let pipeline = self.pipeline(path)?;
        Ok(asiaq_config::spinup::pipeline_requests(
            &self.aws, &pipeline, testing,
        )?)
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

    /// The environment's disco_vpc.ini description (for `ami_stage` and credential
    /// buckets), when the VPC has a `type` tag. Exit 2 when that description is broken.
    fn vpc_spec(&self, network: &EnvironmentNetwork) -> Result<Option<EnvironmentSpec>, CliError> {
        let Some(env_type) = &network.env_type else {
            tracing::warn!(
                "VPC {} has no type tag: no ami_stage or credential_buckets from disco_vpc.ini",
                network.vpc_id
            );
            return Ok(None);
        };
        let vpc: VpcIni = self.dir.vpc()?;
        vpc.environment(&self.env, env_type)
            .map(Some)
            .map_err(|d| CliError::from(asiaq_config::ConfigError::Invalid(d)))
    }

    /// What the configuration says about the observed environment: the facts the planner
    /// needs (network, owner, project, buckets, and the static IPs of the proxy, logger and
    /// log forwarder hostclasses), and the AMI stages (`stage`, a comma list, else the
    /// environment's ami_stage). Exit 2 on problems.
    pub fn environment_settings(
        &self,
        network: &EnvironmentNetwork,
        region: &str,
        stage: Option<&str>,
    ) -> Result<EnvironmentSettings, CliError> {
        let spec = self.vpc_spec(network)?;
        let project = self.aws.project_name()?.text;
        let mut facts = EnvironmentFacts {
            env: self.env.clone(),
            environment_class: network.environment_class.clone(),
            owner: owner(),
            credential_buckets: spec
                .as_ref()
                .map(|s| s.credential_bucket_names(region, &project))
                .unwrap_or_default(),
            project_name: project,
            zookeeper_hostclass: hostclass::zookeeper_hostclass(&self.aws),
            http_proxy_ip: None,
            logger_ip: None,
            logforwarder_ip: None,
            metanetworks: network.metanetworks.clone(),
        };
        let ip_of = |key: &str, facts: &EnvironmentFacts| -> Result<_, CliError> {
            match hostclass::hostclass_reference(&self.aws, key) {
                Some(hc) if self.aws.has_hostclass(&hc) => {
                    Ok(first_static_ip(&self.settings(&hc)?, facts)?)
                }
                _ => Ok(None),
            }
        };
        facts.http_proxy_ip = ip_of("http_proxy_hostclass", &facts)?;
        facts.logger_ip = ip_of("logger_hostclass", &facts)?;
        facts.logforwarder_ip = ip_of("logforwarder_hostclass", &facts)?;
        let stages = match (stage, spec) {
            (Some(s), _) => AmiFilter::stage_list(s),
            (None, spec) => spec.map(|s| s.ami_stages).unwrap_or_default(),
        };
        Ok(EnvironmentSettings { facts, stages })
    }
}

/// The operator's name for the `owner` tag and user-data (`getpass.getuser()`).
fn owner() -> String {
    ["LOGNAME", "USER", "LNAME", "USERNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown".to_string())
}

/// Observes the environment; it must exist (exit 1 otherwise).
pub async fn environment(ctx: &AwsContext, env: &str) -> Result<EnvironmentNetwork, CliError> {
    Ok(asiaq_aws::hosts::env::require(ctx, env).await?)
}
