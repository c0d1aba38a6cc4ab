//! What the proxy saw: one JSON line per request, and a summary by operation.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// What happened to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Sent upstream, answer passed back (whatever its status).
    Forwarded,
    /// Refused by a token bucket.
    Throttled,
    /// An injected fault decided the answer.
    Fault,
}

/// One line of the request log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    /// Milliseconds since the proxy started (or was last reset) when the request arrived.
    pub at_ms: f64,
    pub service: String,
    pub operation: String,
    pub protocol: String,
    /// The HTTP status sent back; 0 when the connection was reset instead.
    pub status: u16,
    pub outcome: Outcome,
    /// Time in the proxy, added latency included.
    pub latency_ms: f64,
    /// Time the upstream took, when the request was forwarded.
    pub upstream_ms: Option<f64>,
    /// The injected fault (`http500:InternalError`, `reset`, ...).
    pub fault: Option<String>,
    /// The EC2 bucket category, or `limit` for a configured bucket, of a throttled request.
    pub bucket: Option<String>,
}

/// Counts of one `service:Operation`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationSummary {
    pub requests: u64,
    pub throttled: u64,
    pub faults: u64,
    /// Forwarded requests the upstream answered with a 4xx/5xx status.
    pub upstream_errors: u64,
}

/// Everything since start (or the last reset).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub requests: u64,
    pub forwarded: u64,
    pub throttled: u64,
    pub faults: u64,
    pub upstream_errors: u64,
    /// Sum of the upstream's own time over forwarded requests.
    pub upstream_ms_total: f64,
    pub operations: BTreeMap<String, OperationSummary>,
    /// Injected faults by label.
    pub fault_kinds: BTreeMap<String, u64>,
}

impl Summary {
    pub(crate) fn record(&mut self, key: &str, record: &LogRecord) {
        self.requests += 1;
        let op = self.operations.entry(key.to_string()).or_default();
        op.requests += 1;
        match record.outcome {
            Outcome::Forwarded => {
                self.forwarded += 1;
                if record.status >= 400 {
                    self.upstream_errors += 1;
                    op.upstream_errors += 1;
                }
            }
            Outcome::Throttled => {
                self.throttled += 1;
                op.throttled += 1;
            }
            Outcome::Fault => {
                self.faults += 1;
                op.faults += 1;
            }
        }
        self.upstream_ms_total += record.upstream_ms.unwrap_or(0.0);
        if let Some(fault) = &record.fault {
            *self.fault_kinds.entry(fault.clone()).or_default() += 1;
        }
    }

    /// Requests of the operations whose key starts with `prefix` (e.g. `ec2:`).
    pub fn requests_of(&self, prefix: &str) -> u64 {
        self.operations
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, o)| o.requests)
            .sum()
    }
}

/// The JSON-lines log, written line by line so that it is complete even if the process
/// is killed.
pub(crate) struct RequestLog {
    file: Mutex<BufWriter<File>>,
}

impl RequestLog {
    pub(crate) fn create(path: &Path) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Self {
            file: Mutex::new(BufWriter::new(file)),
        })
    }

    pub(crate) fn write(&self, record: &LogRecord) {
        let Ok(line) = serde_json::to_string(record) else {
            return;
        };
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = writeln!(file, "{line}").and_then(|_| file.flush()) {
            tracing::warn!("cannot write the request log: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(outcome: Outcome, status: u16, fault: Option<&str>) -> LogRecord {
        LogRecord {
            at_ms: 0.0,
            service: "ec2".into(),
            operation: "DescribeVpcs".into(),
            protocol: "ec2-query".into(),
            status,
            outcome,
            latency_ms: 1.0,
            upstream_ms: (outcome == Outcome::Forwarded).then_some(2.0),
            fault: fault.map(str::to_string),
            bucket: None,
        }
    }

    #[test]
    fn summary_counts_by_outcome_and_operation() {
        let mut s = Summary::default();
        s.record("ec2:DescribeVpcs", &record(Outcome::Forwarded, 200, None));
        s.record("ec2:DescribeVpcs", &record(Outcome::Forwarded, 400, None));
        s.record("ec2:DescribeVpcs", &record(Outcome::Throttled, 503, None));
        s.record(
            "iam:ListRoles",
            &record(Outcome::Fault, 500, Some("http500:InternalError")),
        );
        assert_eq!(s.requests, 4);
        assert_eq!(s.forwarded, 2);
        assert_eq!(s.upstream_errors, 1);
        assert_eq!(s.throttled, 1);
        assert_eq!(s.faults, 1);
        assert_eq!(s.upstream_ms_total, 4.0);
        assert_eq!(s.operations["ec2:DescribeVpcs"].requests, 3);
        assert_eq!(s.operations["ec2:DescribeVpcs"].throttled, 1);
        assert_eq!(s.fault_kinds["http500:InternalError"], 1);
        assert_eq!(s.requests_of("ec2:"), 3);
    }
}
