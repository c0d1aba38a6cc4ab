//! The client-side EC2 rate budget (DESIGN promise 5: a big spinup never hits
//! `RequestLimitExceeded`).
//!
//! EC2 refuses a request when its API's token bucket is empty. We keep the same buckets on
//! our side ([`asiaq_core::ec2_limits`]) and wait for a token before a request leaves, so the
//! server-side bucket is never found empty by us. The wait happens in a wrapper around the
//! SDK's HTTP client: the connector is the one async point every attempt of every EC2
//! operation goes through (retries included), and it sees the serialized request, whose
//! `Action=` and filter/pagination parameters decide the bucket. No call site changes.
//!
//! Budgets are per process: two asiaq processes against one account share EC2's buckets but
//! not ours, so each should run with a smaller `ASIAQ_EC2_BUDGET_SCALE`.
//!
//! The wait is inside the attempt, so it counts against the SDK's attempt timeout
//! (120 s in [`crate::AwsContext`]); a wait that long means hundreds of queued requests of
//! one action, and the timeout then turns into an ordinary retry.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use asiaq_core::ec2_limits::{Ec2Buckets, QueryRequest};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::behavior_version::BehaviorVersion;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_runtime_api::client::runtime_plugin::RuntimePlugin;
use aws_smithy_types::config_bag::ConfigBag;

use crate::error::AwsError;

/// Environment variable: multiply every EC2 budget bucket (capacity and refill) by this
/// factor; `0` turns the budget off. Default 1 (EC2's published limits).
pub const EC2_BUDGET_SCALE_ENV: &str = asiaq_core::env_vars::EnvVars::ASIAQ_EC2_BUDGET_SCALE;

/// How much more the network may delay one of our requests than another on its way to EC2
/// without the budget letting it find EC2's bucket empty. It costs a little burst (5 of the
/// 100 non-mutating tokens, half a RunInstances token).
pub const HEADROOM: Duration = Duration::from_millis(250);

/// Where the budget reads the time and how it waits; replaced in tests.
pub trait BudgetClock: Send + Sync + std::fmt::Debug + 'static {
    fn now(&self) -> Instant;
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// The real clock and tokio's timer.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioClock;

impl BudgetClock for TokioClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// What the budget did, for `--debug` and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BudgetStats {
    /// Requests that passed through the budget.
    pub requests: u64,
    /// Requests that had to wait for a token.
    pub delayed: u64,
    /// Total time spent waiting, summed over requests.
    pub waited: Duration,
}

/// Token buckets mirroring EC2's, one per action, shared by every EC2 request of a process.
#[derive(Debug)]
pub struct Ec2Budget {
    buckets: Mutex<Ec2Buckets>,
    clock: Arc<dyn BudgetClock>,
    requests: AtomicU64,
    delayed: AtomicU64,
    waited_micros: AtomicU64,
}

impl Ec2Budget {
    /// EC2's limits multiplied by `scale` (> 0).
    pub fn new(scale: f64) -> Self {
        Self::with_clock(scale, Arc::new(TokioClock))
    }

    pub fn with_clock(scale: f64, clock: Arc<dyn BudgetClock>) -> Self {
        Self {
            buckets: Mutex::new(Ec2Buckets::with_headroom(scale, HEADROOM)),
            clock,
            requests: AtomicU64::new(0),
            delayed: AtomicU64::new(0),
            waited_micros: AtomicU64::new(0),
        }
    }

    /// The budget `ASIAQ_EC2_BUDGET_SCALE` asks for: `None` when it is `0`.
    pub fn from_env() -> Result<Option<Self>, AwsError> {
        Self::from_setting(std::env::var(EC2_BUDGET_SCALE_ENV).ok().as_deref())
    }

    fn from_setting(value: Option<&str>) -> Result<Option<Self>, AwsError> {
        let scale = match value.map(str::trim) {
            None | Some("") => 1.0,
            Some(text) => match text.parse::<f64>() {
                Ok(scale) if scale.is_finite() && scale >= 0.0 => scale,
                _ => {
                    return Err(AwsError::InvalidSetting {
                        name: EC2_BUDGET_SCALE_ENV,
                        value: text.to_string(),
                        expected: "a number >= 0 (0 turns the EC2 budget off)",
                    })
                }
            },
        };
        Ok((scale > 0.0).then(|| Self::new(scale)))
    }

    pub fn scale(&self) -> f64 {
        self.lock().scale()
    }

    pub fn stats(&self) -> BudgetStats {
        BudgetStats {
            requests: self.requests.load(Ordering::Relaxed),
            delayed: self.delayed.load(Ordering::Relaxed),
            waited: Duration::from_micros(self.waited_micros.load(Ordering::Relaxed)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Ec2Buckets> {
        // A panic elsewhere while holding the lock leaves the buckets usable.
        self.buckets.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until the request's bucket has a token for it. Waiters are served in arrival
    /// order; a waiter that is cancelled gives its token back.
    pub async fn acquire(&self, request: &QueryRequest) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let wait = {
            let now = self.clock.now();
            self.lock().bucket(request, now).reserve(now)
        };
        let Some(wait) = wait.filter(|w| !w.is_zero()) else {
            return;
        };
        self.delayed.fetch_add(1, Ordering::Relaxed);
        if wait >= Duration::from_secs(1) {
            tracing::debug!(
                "EC2 budget: {} waits {:.1} s for a token ({} bucket)",
                request.action,
                wait.as_secs_f64(),
                request.ec2_category().name()
            );
        }
        let refund = Refund {
            budget: self,
            request,
            armed: true,
        };
        self.clock.sleep(wait).await;
        refund.disarm();
        self.waited_micros
            .fetch_add(wait.as_micros() as u64, Ordering::Relaxed);
    }
}

/// Gives a reserved token back if the waiting future is dropped before its turn.
struct Refund<'a> {
    budget: &'a Ec2Budget,
    request: &'a QueryRequest,
    armed: bool,
}

impl Refund<'_> {
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for Refund<'_> {
    fn drop(&mut self) {
        if self.armed {
            let now = self.budget.clock.now();
            self.budget.lock().bucket(self.request, now).give_back();
        }
    }
}

/// Makes an EC2 client configuration wait for `budget`: what [`crate::AwsContext::ec2`] does,
/// usable on its own by tests and tools that build their own clients.
pub fn budget_ec2_config(
    builder: aws_sdk_ec2::config::Builder,
    sdk: &aws_types::SdkConfig,
    budget: Arc<Ec2Budget>,
) -> aws_sdk_ec2::config::Builder {
    let behavior = sdk
        .behavior_version()
        .unwrap_or_else(BehaviorVersion::latest);
    match budgeted_http_client(sdk.http_client(), behavior, budget) {
        Some(client) => builder.http_client(client),
        None => {
            tracing::warn!("the SDK has no default HTTP client to wrap: EC2 budget off");
            builder
        }
    }
}

/// The SDK's default HTTP client for `behavior_version`, wrapped so that every query-protocol
/// request waits for its EC2 budget token first. `None` if the SDK was built without a
/// default client (then the caller keeps the SDK's own choice, unbudgeted).
pub fn budgeted_http_client(
    inner: Option<SharedHttpClient>,
    behavior_version: BehaviorVersion,
    budget: Arc<Ec2Budget>,
) -> Option<SharedHttpClient> {
    let inner = inner.or_else(|| default_http_client(behavior_version))?;
    Some(SharedHttpClient::new(BudgetedHttpClient { inner, budget }))
}

/// The client the SDK would pick itself, taken from the SDK's own default plugin so that TLS,
/// proxy settings and timeouts stay exactly as without the budget.
fn default_http_client(behavior_version: BehaviorVersion) -> Option<SharedHttpClient> {
    let plugin =
        aws_smithy_runtime::client::defaults::default_http_client_plugin_v2(behavior_version)?;
    plugin
        .runtime_components(&RuntimeComponentsBuilder::new("asiaq ec2 budget"))
        .http_client()
}

#[derive(Debug)]
struct BudgetedHttpClient {
    inner: SharedHttpClient,
    budget: Arc<Ec2Budget>,
}

impl HttpClient for BudgetedHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(BudgetedConnector {
            inner: self.inner.http_connector(settings, components),
            budget: self.budget.clone(),
        })
    }

    fn validate_base_client_config(
        &self,
        runtime_components: &RuntimeComponentsBuilder,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner
            .validate_base_client_config(runtime_components, cfg)
    }

    fn validate_final_config(
        &self,
        runtime_components: &RuntimeComponents,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner.validate_final_config(runtime_components, cfg)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.inner.connector_metadata()
    }
}

#[derive(Debug)]
struct BudgetedConnector {
    inner: SharedHttpConnector,
    budget: Arc<Ec2Budget>,
}

impl HttpConnector for BudgetedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        // EC2 requests are small in-memory form bodies; anything else (a streaming body, no
        // Action) is not an EC2 API call and passes untouched.
        let query = request.body().bytes().and_then(QueryRequest::parse);
        let inner = self.inner.clone();
        let budget = self.budget.clone();
        HttpConnectorFuture::new(async move {
            if let Some(query) = &query {
                budget.acquire(query).await;
            }
            inner.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clock that only moves when someone sleeps on it, and remembers every sleep.
    #[derive(Debug)]
    struct ManualClock {
        state: Mutex<(Instant, Vec<Duration>)>,
    }

    impl ManualClock {
        fn new() -> Arc<Self> {
            Arc::new(Self {
                state: Mutex::new((Instant::now(), Vec::new())),
            })
        }

        fn advance(&self, d: Duration) {
            self.state.lock().unwrap().0 += d;
        }

        fn sleeps(&self) -> Vec<Duration> {
            self.state.lock().unwrap().1.clone()
        }
    }

    impl BudgetClock for ManualClock {
        fn now(&self) -> Instant {
            self.state.lock().unwrap().0
        }

        fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
            let mut state = self.state.lock().unwrap();
            state.0 += duration;
            state.1.push(duration);
            Box::pin(std::future::ready(()))
        }
    }

    fn query(action: &str) -> QueryRequest {
        QueryRequest::parse(format!("Action={action}").as_bytes()).unwrap()
    }

    #[tokio::test]
    async fn waits_when_the_bucket_is_empty_and_not_before() {
        let clock = ManualClock::new();
        // RunInstances: 5 tokens, 2/s; x0.2 -> 1 token, 0.4/s.
        let budget = Ec2Budget::with_clock(0.2, clock.clone());
        let run = query("RunInstances");
        budget.acquire(&run).await;
        assert!(clock.sleeps().is_empty(), "a full bucket lets one through");
        budget.acquire(&run).await;
        assert_eq!(clock.sleeps(), vec![Duration::from_millis(2500)]);
        // The sleep moved the clock to the moment the token existed; idle time refills.
        clock.advance(Duration::from_secs(10));
        budget.acquire(&run).await;
        assert_eq!(clock.sleeps().len(), 1);
        // Another action has a bucket of its own.
        budget.acquire(&query("CreateVpc")).await;
        assert_eq!(clock.sleeps().len(), 1);
        let stats = budget.stats();
        assert_eq!(stats.requests, 4);
        assert_eq!(stats.delayed, 1);
        assert_eq!(stats.waited, Duration::from_millis(2500));
    }

    #[tokio::test]
    async fn a_cancelled_wait_gives_its_token_back() {
        let clock = ManualClock::new();
        let budget = Ec2Budget::with_clock(0.2, clock.clone());
        let run = query("RunInstances");
        budget.acquire(&run).await;
        // What a waiting acquire() holds: a reservation and its refund guard, dropped here as
        // if the call had been cancelled mid-wait.
        {
            let now = clock.now();
            let wait = budget.lock().bucket(&run, now).reserve(now);
            assert_eq!(wait, Some(Duration::from_millis(2500)));
            let refund = Refund {
                budget: &budget,
                request: &run,
                armed: true,
            };
            drop(refund);
        }
        budget.acquire(&run).await;
        assert_eq!(clock.sleeps(), vec![Duration::from_millis(2500)]);
    }

    #[test]
    fn the_environment_setting_scales_or_disables() {
        assert_eq!(Ec2Budget::from_setting(None).unwrap().unwrap().scale(), 1.0);
        assert_eq!(
            Ec2Budget::from_setting(Some("0.1"))
                .unwrap()
                .unwrap()
                .scale(),
            0.1
        );
        assert!(Ec2Budget::from_setting(Some("0")).unwrap().is_none());
        assert!(Ec2Budget::from_setting(Some("-1")).is_err());
        assert!(Ec2Budget::from_setting(Some("fast")).is_err());
    }

    #[test]
    fn the_sdk_default_client_is_available_to_wrap() {
        assert!(default_http_client(BehaviorVersion::latest()).is_some());
    }
}
