//! One place that builds SDK clients from the standard credential chain.
//!
//! Credentials, region and endpoint come from where the AWS CLI finds them (profiles,
//! `AWS_PROFILE`, environment, SSO, instance role); `AWS_ENDPOINT_URL` and the per-service
//! `AWS_ENDPOINT_URL_<SERVICE>` variables redirect calls (that is how tests reach moto).
//! Every client shares one [`RequestCounter`]; the EC2 client also waits for the EC2 rate
//! budget ([`crate::budget`], `ASIAQ_EC2_BUDGET_SCALE`).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

use crate::accounting::RequestCounter;
use crate::budget::{budget_ec2_config, Ec2Budget};
use crate::error::AwsError;
use crate::fault::FaultInjector;
use crate::guard::LeaseGuard;

/// Environment variable that caps SDK attempts per call (default 5).
pub const MAX_ATTEMPTS_ENV: &str = asiaq_core::env_vars::EnvVars::ASIAQ_MAX_ATTEMPTS;
const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// What the command line may override; everything else comes from the credential chain.
#[derive(Debug, Clone, Default)]
pub struct ContextOptions {
    pub profile: Option<String>,
    pub region: Option<String>,
    pub max_attempts: Option<u32>,
}

macro_rules! clients {
    ($( $field:ident : $krate:ident ),* $(,)?) => {
        #[derive(Default)]
        struct Clients { $( $field: OnceLock<$krate::Client>, )* }

        impl AwsContext {
            $(
                #[doc = concat!("The shared `", stringify!($krate), "` client.")]
                pub fn $field(&self) -> &$krate::Client {
                    self.clients.$field.get_or_init(|| {
                        let mut conf = $krate::config::Builder::from(&self.sdk)
                            .interceptor(self.counter.clone())
                            .interceptor(self.guard.clone())
                            .retry_partition(retry_partition(stringify!($field)));
                        if let Some(fault) = &self.fault {
                            conf = conf.interceptor(fault.clone());
                        }
                        $krate::Client::from_conf(conf.build())
                    })
                }
            )*
        }
    };
}

clients! {
    autoscaling: aws_sdk_autoscaling,
    iam: aws_sdk_iam,
    sts: aws_sdk_sts,
    route53: aws_sdk_route53,
    elb: aws_sdk_elasticloadbalancing,
    elbv2: aws_sdk_elasticloadbalancingv2,
    dynamodb: aws_sdk_dynamodb,
    elasticache: aws_sdk_elasticache,
    opensearch: aws_sdk_opensearch,
    rds: aws_sdk_rds,
    cloudwatch: aws_sdk_cloudwatch,
    logs: aws_sdk_cloudwatchlogs,
    sns: aws_sdk_sns,
    ssm: aws_sdk_ssm,
    acm: aws_sdk_acm,
    cloudtrail: aws_sdk_cloudtrail,
}

/// The SDK configuration plus lazily built, shared clients.
pub struct AwsContext {
    sdk: SdkConfig,
    counter: RequestCounter,
    /// Set only by `ASIAQ_INJECT_FAULT` (tests of rollback).
    fault: Option<FaultInjector>,
    /// Refuses mutating calls once the environment's lease is lost.
    guard: LeaseGuard,
    clients: Clients,
    s3: OnceLock<aws_sdk_s3::Client>,
    ec2: OnceLock<aws_sdk_ec2::Client>,
    ec2_budget: Option<Arc<Ec2Budget>>,
}

/// The retry partition of one client: the SDK's retry quota, except that throttling does not
/// drain it.
///
/// The SDK's standard retry quota (500 tokens, 5 per retry) is shared by every call of a
/// client, and a retry that is throttled again keeps its tokens forever; under sustained
/// throttling (a spinup sharing the account's buckets with other tools) the quota empties
/// and the SDK then gives up on the first `RequestLimitExceeded`, which is the failure the
/// budget exists to prevent. Throttling answers mean "slow down", not "the service is
/// broken": they are retried with backoff, bounded by max attempts, and cost no quota.
/// Other retryable errors (5xx, timeouts) keep the SDK's costs, so a failing endpoint still
/// stops retry storms.
pub fn retry_partition(name: &'static str) -> aws_smithy_runtime::client::retries::RetryPartition {
    use aws_smithy_runtime::client::retries::{RetryPartition, TokenBucket};
    RetryPartition::custom(name)
        .token_bucket(TokenBucket::builder().throttling_retry_cost(0).build())
        .build()
}

impl std::fmt::Debug for AwsContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print credentials: only where we point.
        f.debug_struct("AwsContext")
            .field("region", &self.region())
            .field("endpoint", &self.endpoint_override())
            .finish()
    }
}

impl AwsContext {
    /// Resolves credentials provider, region and endpoint. Does not call AWS yet.
    pub async fn load(options: ContextOptions) -> Result<Self, AwsError> {
        let max_attempts = options
            .max_attempts
            .or_else(|| std::env::var(MAX_ATTEMPTS_ENV).ok()?.parse().ok())
            .unwrap_or(DEFAULT_MAX_ATTEMPTS)
            .max(1);
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(RetryConfig::standard().with_max_attempts(max_attempts))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(10))
                    .operation_attempt_timeout(Duration::from_secs(120))
                    .build(),
            );
        if let Some(profile) = &options.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &options.region {
            loader = loader.region(Region::new(region.clone()));
        }
        let ec2_budget = Ec2Budget::from_env()?.map(Arc::new);
        let sdk = loader.load().await;
        if sdk.region().is_none() {
            return Err(AwsError::NoRegion);
        }
        Ok(Self {
            sdk,
            counter: RequestCounter::new(),
            fault: FaultInjector::from_env(),
            guard: LeaseGuard::default(),
            clients: Clients::default(),
            s3: OnceLock::new(),
            ec2: OnceLock::new(),
            ec2_budget,
        })
    }

    /// The shared EC2 client; its requests wait for the EC2 rate budget unless
    /// `ASIAQ_EC2_BUDGET_SCALE=0`.
    pub fn ec2(&self) -> &aws_sdk_ec2::Client {
        self.ec2.get_or_init(|| {
            let mut conf = aws_sdk_ec2::config::Builder::from(&self.sdk)
                .interceptor(self.counter.clone())
                .interceptor(self.guard.clone())
                .retry_partition(retry_partition("ec2"));
            if let Some(budget) = &self.ec2_budget {
                conf = budget_ec2_config(conf, &self.sdk, budget.clone());
            }
            if let Some(fault) = &self.fault {
                conf = conf.interceptor(fault.clone());
            }
            aws_sdk_ec2::Client::from_conf(conf.build())
        })
    }

    /// The EC2 budget in use, if any (its statistics say how long requests waited).
    pub fn ec2_budget(&self) -> Option<&Ec2Budget> {
        self.ec2_budget.as_deref()
    }

    pub fn region(&self) -> &str {
        self.sdk.region().map(|r| r.as_ref()).unwrap_or_default()
    }

    /// The endpoint all services are redirected to, if any (`AWS_ENDPOINT_URL` or profile
    /// `endpoint_url`). Per-service overrides are reported by [`Self::service_endpoint`].
    pub fn endpoint_override(&self) -> Option<String> {
        self.sdk.endpoint_url().map(str::to_string)
    }

    /// The override for one service (`AWS_ENDPOINT_URL_<SERVICE>`), falling back to the
    /// global one. `service_env_suffix` is the SDK's env name, e.g. `S3`, `EC2`.
    pub fn service_endpoint(&self, service_env_suffix: &str) -> Option<String> {
        std::env::var(format!("AWS_ENDPOINT_URL_{service_env_suffix}"))
            .ok()
            .filter(|v| !v.is_empty())
            .or_else(|| self.endpoint_override())
    }

    pub fn counter(&self) -> &RequestCounter {
        &self.counter
    }

    /// The flag that, once set, makes every mutating call of this context fail unsent (the
    /// environment's lease was lost).
    pub fn lease_lost_flag(&self) -> std::sync::Arc<std::sync::atomic::AtomicBool> {
        self.guard.flag()
    }

    pub fn sdk_config(&self) -> &SdkConfig {
        &self.sdk
    }

    /// The shared S3 client. Emulators and S3-compatible endpoints serve buckets by path,
    /// not by virtual host, so path style is forced whenever the endpoint is overridden.
    pub fn s3(&self) -> &aws_sdk_s3::Client {
        self.s3.get_or_init(|| {
            let mut conf = aws_sdk_s3::config::Builder::from(&self.sdk)
                .interceptor(self.counter.clone())
                .interceptor(self.guard.clone())
                .retry_partition(retry_partition("s3"))
                .force_path_style(self.service_endpoint("S3").is_some());
            if let Some(fault) = &self.fault {
                conf = conf.interceptor(fault.clone());
            }
            aws_sdk_s3::Client::from_conf(conf.build())
        })
    }
}
