//! Per-operation request accounting.
//!
//! Benchmarks and `--debug` summaries need to know how many calls a command made, how many
//! attempts those took (retries), and how many failed. The SDK's interceptor hooks give us
//! exactly those three moments, for every client, without touching call sites.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde::Serialize;

/// Counts of one operation (e.g. `ec2:DescribeVpcs`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OperationStats {
    /// Logical calls made by asiaq.
    pub calls: u64,
    /// HTTP attempts, including retries.
    pub attempts: u64,
    /// Calls that ended in an error after all retries.
    pub failures: u64,
}

/// A snapshot of all counts, keyed by `service:Operation`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ApiCallStats {
    pub operations: BTreeMap<String, OperationStats>,
}

impl ApiCallStats {
    pub fn total_calls(&self) -> u64 {
        self.operations.values().map(|s| s.calls).sum()
    }

    pub fn total_retries(&self) -> u64 {
        self.operations
            .values()
            .map(|s| s.attempts.saturating_sub(s.calls))
            .sum()
    }

    pub fn total_failures(&self) -> u64 {
        self.operations.values().map(|s| s.failures).sum()
    }

    /// The counts as `--debug` shows them: the totals, then a line per operation.
    pub fn debug_lines(&self) -> Vec<String> {
        let (calls, retries) = (self.total_calls(), self.total_retries());
        let failed = self.total_failures();
        let total = format!("AWS calls: {calls} ({retries} retries, {failed} failed)");
        let ops = self.operations.iter().map(|(op, s)| {
            format!(
                "  {op:<50} calls {:>4}  attempts {:>4}  failed {:>3}",
                s.calls, s.attempts, s.failures
            )
        });
        std::iter::once(total).chain(ops).collect()
    }
}

/// An SDK interceptor that records every call; cheap to clone (shared state).
#[derive(Debug, Clone, Default)]
pub struct RequestCounter {
    stats: Arc<Mutex<BTreeMap<String, OperationStats>>>,
}

impl RequestCounter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn snapshot(&self) -> ApiCallStats {
        ApiCallStats {
            operations: self.lock().clone(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, OperationStats>> {
        // A panic while holding this lock cannot leave the counts inconsistent in a way that
        // matters, so a poisoned lock is still usable.
        self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn record(&self, cfg: &ConfigBag, update: impl FnOnce(&mut OperationStats)) {
        let key = match cfg.load::<Metadata>() {
            Some(meta) => format!("{}:{}", service_prefix(meta.service()), meta.name()),
            None => "unknown:unknown".to_string(),
        };
        update(self.lock().entry(key).or_default());
    }
}

/// `Metadata::service()` is the Smithy service name (e.g. `ec2`, `Auto Scaling`, `IAM`);
/// report it in the short lowercase form operators know from IAM actions.
fn service_prefix(service: &str) -> String {
    service
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "asiaq::RequestCounter"
    }

    // Not `read_before_execution`: client-level interceptors run that hook before the
    // operation's configuration (its `Metadata`) is in the bag, so every call would be
    // counted as `unknown:unknown`. This hook also runs exactly once per call.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.record(cfg, |s| s.calls += 1);
        Ok(())
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.record(cfg, |s| s.attempts += 1);
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if matches!(context.output_or_error(), Some(Err(_))) {
            self.record(cfg, |s| s.failures += 1);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_prefix_is_short_lowercase() {
        assert_eq!(service_prefix("Auto Scaling"), "autoscaling");
        assert_eq!(service_prefix("EC2"), "ec2");
    }

    #[test]
    fn debug_lines_total_then_each_operation() {
        let mut stats = ApiCallStats::default();
        stats.operations.insert(
            "ec2:DescribeVpcs".into(),
            OperationStats {
                calls: 3,
                attempts: 5,
                failures: 1,
            },
        );
        assert_eq!(
            stats.debug_lines(),
            [
                "AWS calls: 3 (2 retries, 1 failed)".to_string(),
                format!(
                    "  {:<50} calls    3  attempts    5  failed   1",
                    "ec2:DescribeVpcs"
                )
            ]
        );
    }

    #[test]
    fn totals_add_up() {
        let mut stats = ApiCallStats::default();
        stats.operations.insert(
            "ec2:DescribeVpcs".into(),
            OperationStats {
                calls: 3,
                attempts: 5,
                failures: 1,
            },
        );
        stats.operations.insert(
            "sts:GetCallerIdentity".into(),
            OperationStats {
                calls: 1,
                attempts: 1,
                failures: 0,
            },
        );
        assert_eq!(stats.total_calls(), 4);
        assert_eq!(stats.total_retries(), 2);
        assert_eq!(stats.total_failures(), 1);
    }
}
