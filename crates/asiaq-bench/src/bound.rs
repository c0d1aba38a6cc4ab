//! The lower bound of a scenario's wall time under the proxy's conditions.
//!
//! Two things no client can beat:
//! * the critical path: calls that each need the previous answer take at least one added
//!   latency each;
//! * EC2's buckets: an action called `n` times with a bucket of `capacity` tokens refilled at
//!   `r` per second cannot finish before `(n - capacity) / r` seconds (successful calls only;
//!   each needed a token).
//!
//! The bound is the larger of the two. The ratio wall / bound says how much time went to
//! things other than unavoidable waiting (process start, moto's own time, our inefficiency).

use std::collections::BTreeMap;
use std::time::Duration;

use asiaq_core::ec2_limits::{Ec2Category, QueryRequest};

/// Per-operation counts as the asiaq binary writes them (`ASIAQ_API_STATS`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct ApiStats {
    pub operations: BTreeMap<String, OperationStats>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct OperationStats {
    pub calls: u64,
    pub attempts: u64,
    pub failures: u64,
}

impl ApiStats {
    pub fn add(&mut self, other: &ApiStats) {
        for (op, s) in &other.operations {
            let mine = self.operations.entry(op.clone()).or_default();
            mine.calls += s.calls;
            mine.attempts += s.attempts;
            mine.failures += s.failures;
        }
    }

    pub fn calls(&self) -> u64 {
        self.operations.values().map(|s| s.calls).sum()
    }

    pub fn retries(&self) -> u64 {
        self.operations
            .values()
            .map(|s| s.attempts.saturating_sub(s.calls))
            .sum()
    }

    pub fn failures(&self) -> u64 {
        self.operations.values().map(|s| s.failures).sum()
    }
}

/// The two bounds and the larger one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bound {
    pub critical_path: Duration,
    pub rate: Duration,
}

impl Bound {
    pub fn total(&self) -> Duration {
        self.critical_path.max(self.rate)
    }
}

/// `chain` dependent calls at `latency` each, and EC2's buckets at `ec2_scale` (`None`: the
/// proxy does not throttle EC2) against the successful EC2 calls in `stats`.
pub fn lower_bound(
    chain: usize,
    latency: Duration,
    stats: &ApiStats,
    ec2_scale: Option<f64>,
) -> Bound {
    let critical_path = latency * chain as u32;
    let mut rate = Duration::ZERO;
    if let Some(scale) = ec2_scale {
        for (op, s) in &stats.operations {
            let Some(action) = op.strip_prefix("ec2:") else {
                continue;
            };
            // The stats do not say whether describes were filtered; the larger bucket keeps
            // this a lower bound either way.
            let category = QueryRequest {
                action: action.to_string(),
                filtered_or_paginated: true,
            }
            .ec2_category();
            let limit = Ec2Category::limit(category).scaled(scale);
            let succeeded = s.calls.saturating_sub(s.failures) as f64;
            if succeeded > limit.capacity && limit.refill_per_sec > 0.0 {
                let t = (succeeded - limit.capacity) / limit.refill_per_sec;
                rate = rate.max(Duration::from_secs_f64(t));
            }
        }
    }
    Bound {
        critical_path,
        rate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(entries: &[(&str, u64, u64)]) -> ApiStats {
        ApiStats {
            operations: entries
                .iter()
                .map(|(op, calls, failures)| {
                    (
                        op.to_string(),
                        OperationStats {
                            calls: *calls,
                            attempts: *calls,
                            failures: *failures,
                        },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn the_critical_path_is_chain_times_latency() {
        let b = lower_bound(
            6,
            Duration::from_millis(50),
            &ApiStats::default(),
            Some(1.0),
        );
        assert_eq!(b.critical_path, Duration::from_millis(300));
        assert_eq!(b.rate, Duration::ZERO);
        assert_eq!(b.total(), Duration::from_millis(300));
    }

    #[test]
    fn calls_beyond_a_bucket_take_refill_time() {
        // RunInstances at x1: 5 tokens, 2/s. 25 successful calls need 10 s.
        let s = stats(&[("ec2:RunInstances", 26, 1), ("iam:ListRoles", 500, 0)]);
        let b = lower_bound(1, Duration::from_millis(50), &s, Some(1.0));
        assert_eq!(b.rate, Duration::from_secs(10));
        assert_eq!(b.total(), Duration::from_secs(10));
        // Without EC2 throttling there is no rate bound.
        assert_eq!(
            lower_bound(1, Duration::ZERO, &s, None).rate,
            Duration::ZERO
        );
        // x0.1 limits: DescribeVpcs bucket 10, 2/s.
        let s = stats(&[("ec2:DescribeVpcs", 30, 0)]);
        assert_eq!(
            lower_bound(1, Duration::ZERO, &s, Some(0.1)).rate,
            Duration::from_secs(10)
        );
    }

    #[test]
    fn stats_add_up() {
        let mut total = stats(&[("ec2:DescribeVpcs", 2, 0)]);
        let mut other = stats(&[("ec2:DescribeVpcs", 1, 1)]);
        other
            .operations
            .get_mut("ec2:DescribeVpcs")
            .unwrap()
            .attempts = 3;
        total.add(&other);
        assert_eq!(total.calls(), 3);
        assert_eq!(total.retries(), 2);
        assert_eq!(total.failures(), 1);
    }
}
