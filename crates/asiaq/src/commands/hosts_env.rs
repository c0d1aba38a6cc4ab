//! What the host commands (`aws`, `autoscale`, `chaos`, `snapshot`, `elb`) share: loading
//! the configuration for an environment, observing the environment, and building the facts
//! the provisioning core plans with.

use std::collections::BTreeMap;

use asiaq_aws::hosts::env::EnvironmentNetwork;
use asiaq_aws::AwsContext;
use asiaq_config::hostclass::{self, hostclass_settings};
use asiaq_config::{AwsIni, ConfigDir, EnvironmentSpec, VpcIni};
use asiaq_core::provision::{first_static_ip, EnvironmentFacts, HostclassSettings, PlanError};

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

    /// Settings of the hostclass of a pipeline row, which may have no section (then the
    /// `[disco_aws] default_*` options apply, as in the original). A problem names the
    /// row (`file:line`) as well as the option. Exit 2 on problems.
    pub fn row_settings(
        &self,
        pipeline: &std::path::Path,
        row: &asiaq_config::PipelineRow,
    ) -> Result<HostclassSettings, CliError> {
        hostclass_settings(&self.aws, &row.hostclass).map_err(|e| {
            CliError::usage(format!(
                "{}:{}: hostclass {}:\n{e}",
                pipeline.display(),
                row.line,
                row.hostclass
            ))
        })
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
    pub fn vpc_spec(
        &self,
        network: &EnvironmentNetwork,
    ) -> Result<Option<EnvironmentSpec>, CliError> {
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
}

/// The operator's name for the `owner` tag and user-data (`getpass.getuser()`).
pub fn owner() -> String {
    ["LOGNAME", "USER", "LNAME", "USERNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown".to_string())
}

/// Observes the environment; it must exist (exit 1 otherwise).
pub async fn environment(ctx: &AwsContext, env: &str) -> Result<EnvironmentNetwork, CliError> {
    Ok(asiaq_aws::hosts::env::require(ctx, env).await?)
}

/// Facts the planner needs about the environment: network, owner, project, buckets, and
/// the static IPs of the proxy, logger and log forwarder hostclasses.
pub fn environment_facts(
    cfg: &HostsConfig,
    network: &EnvironmentNetwork,
    spec: Option<&EnvironmentSpec>,
    region: &str,
) -> Result<EnvironmentFacts, CliError> {
    let project = cfg.aws.project_name()?.text;
    let mut facts = EnvironmentFacts {
        env: cfg.env.clone(),
        environment_class: network.environment_class.clone(),
        owner: owner(),
        credential_buckets: spec
            .map(|s| s.credential_bucket_names(region, &project))
            .unwrap_or_default(),
        project_name: project,
        zookeeper_hostclass: hostclass::zookeeper_hostclass(&cfg.aws),
        http_proxy_ip: None,
        logger_ip: None,
        logforwarder_ip: None,
        metanetworks: network.metanetworks.clone(),
    };
    let ip_of = |key: &str, facts: &EnvironmentFacts| -> Result<_, CliError> {
        let Some(hc) = hostclass::hostclass_reference(&cfg.aws, key) else {
            return Ok(None);
        };
        if !cfg.aws.has_hostclass(&hc) {
            return Ok(None);
        }
        let s = cfg.settings(&hc)?;
        first_static_ip(&s, facts).map_err(plan_error)
    };
    facts.http_proxy_ip = ip_of("http_proxy_hostclass", &facts)?;
    facts.logger_ip = ip_of("logger_hostclass", &facts)?;
    facts.logforwarder_ip = ip_of("logforwarder_hostclass", &facts)?;
    Ok(facts)
}

/// A planning error: configuration at fault (exit 2) except a missing image (exit 1).
pub fn plan_error(e: PlanError) -> CliError {
    match e {
        PlanError::NoAmi { .. } => CliError::failed(e.to_string()),
        other => CliError::usage(other.to_string()),
    }
}
