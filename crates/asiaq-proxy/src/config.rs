//! What one run of the proxy does: where it forwards, how slow and how strict it is, and
//! which faults it injects. Read from JSON (`--config`) and/or command-line flags.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use asiaq_core::ec2_limits::BucketLimit;
use serde::{Deserialize, Serialize};

/// A configuration problem, reported before the proxy starts.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("upstream `{0}` is not an http://host:port URL")]
    Upstream(String),
    #[error("{what} must be {expected}, got {got}")]
    OutOfRange {
        what: String,
        expected: &'static str,
        got: String,
    },
    #[error("fault `{spec}`: {problem} (expected MATCH=KIND@TRIGGER, e.g. ec2:RunInstances=http500@nth:3)")]
    FaultSpec { spec: String, problem: String },
    #[error("limit `{spec}`: expected SERVICE[:OPERATION]=CAPACITY/REFILL_PER_SEC, e.g. autoscaling=20/2")]
    LimitSpec { spec: String },
    #[error("cannot read {path}: {reason}")]
    File { path: PathBuf, reason: String },
}

/// The whole configuration. Every field has a default except `upstream`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProxyConfig {
    /// Where requests go, e.g. `http://127.0.0.1:5000` (a moto_server).
    pub upstream: String,
    /// Address to listen on; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Latency added to every request, in milliseconds (half before the request reaches the
    /// upstream, half before the answer leaves, like a network round trip).
    pub latency_ms: u64,
    /// Up to this many milliseconds more, uniformly at random, per request.
    pub jitter_ms: u64,
    /// Throttle EC2 with its published token buckets.
    pub ec2_throttling: bool,
    /// Multiplies every EC2 bucket's capacity and refill rate (0.1 emulates a busy account).
    pub ec2_limit_scale: f64,
    /// Buckets for other services or single operations, keyed `service` (one bucket per
    /// operation of that service) or `service:Operation`. Taken literally (not scaled); an
    /// entry for an EC2 operation replaces the table's bucket for it.
    pub limits: BTreeMap<String, BucketLimit>,
    /// Injected faults, checked in order before throttling; the first that fires wins.
    pub faults: Vec<FaultRule>,
    /// Seed of the random choices (jitter, probabilistic faults); random when absent.
    pub seed: Option<u64>,
    /// Append a JSON line per request to this file.
    pub log: Option<PathBuf>,
    /// Write the summary as JSON to this file at shutdown.
    pub summary: Option<PathBuf>,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            upstream: String::new(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            latency_ms: 0,
            jitter_ms: 0,
            ec2_throttling: true,
            ec2_limit_scale: 1.0,
            limits: BTreeMap::new(),
            faults: Vec::new(),
            seed: None,
            log: None,
            summary: None,
        }
    }
}

impl ProxyConfig {
    /// A configuration that forwards to `upstream` with EC2's real limits and nothing else.
    pub fn new(upstream: impl Into<String>) -> Self {
        Self {
            upstream: upstream.into(),
            ..Self::default()
        }
    }

    pub fn from_json_file(path: &std::path::Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        serde_json::from_str(&text).map_err(|e| ConfigError::File {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    }

    /// Checks what serde cannot: ranges and the upstream URL.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let upstream: hyper::Uri = self
            .upstream
            .parse()
            .map_err(|_| ConfigError::Upstream(self.upstream.clone()))?;
        if upstream.scheme_str() != Some("http") || upstream.authority().is_none() {
            return Err(ConfigError::Upstream(self.upstream.clone()));
        }
        if !(self.ec2_limit_scale.is_finite() && self.ec2_limit_scale > 0.0) {
            return Err(ConfigError::OutOfRange {
                what: "ec2_limit_scale".into(),
                expected: "a positive number",
                got: self.ec2_limit_scale.to_string(),
            });
        }
        for (key, limit) in &self.limits {
            if !(limit.capacity >= 1.0 && limit.refill_per_sec >= 0.0) {
                return Err(ConfigError::OutOfRange {
                    what: format!("limit {key}"),
                    expected: "capacity >= 1 and refill_per_sec >= 0",
                    got: format!("{}/{}", limit.capacity, limit.refill_per_sec),
                });
            }
        }
        for rule in &self.faults {
            rule.validate()?;
        }
        Ok(())
    }
}

/// Which requests a fault applies to, what happens to them, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// `service:Operation`, `*` matching any run of characters: `ec2:RunInstances`,
    /// `ec2:Describe*`, `autoscaling:*`, `*`.
    #[serde(rename = "match")]
    pub matches: String,
    pub fault: Fault,
    pub trigger: Trigger,
}

/// What an injected fault does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// An error answer in the request's protocol (not forwarded).
    Http {
        status: u16,
        /// The AWS error code; by default `InternalError` for 500 and `ServiceUnavailable`
        /// otherwise.
        #[serde(default)]
        code: Option<String>,
    },
    /// The protocol's throttling error (not forwarded), as if a bucket were empty.
    Throttle,
    /// The connection is reset (TCP RST) before the request is forwarded.
    Reset,
    /// The request is forwarded and the answer held back this long (beyond a client
    /// timeout, the client never sees it although the upstream acted on it).
    Slow { delay_ms: u64 },
}

impl Fault {
    /// A short label for logs and summaries: `http500:InternalError`, `throttle`, ...
    pub fn label(&self) -> String {
        match self {
            Fault::Http { status, .. } => format!("http{status}:{}", self.code()),
            Fault::Throttle => "throttle".into(),
            Fault::Reset => "reset".into(),
            Fault::Slow { delay_ms } => format!("slow:{delay_ms}ms"),
        }
    }

    /// The AWS error code of an `Http` fault.
    pub fn code(&self) -> String {
        match self {
            Fault::Http { code: Some(c), .. } => c.clone(),
            Fault::Http { status: 500, .. } => "InternalError".into(),
            _ => "ServiceUnavailable".into(),
        }
    }
}

/// When a rule fires, counting only the requests its `match` selects.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// Exactly the N-th matching request (1-based), once.
    Nth(u64),
    /// Each matching request with this probability.
    Probability(f64),
    /// The first `hits` of every `period` matching requests (period 3, hits 2: requests
    /// 1, 2, 4, 5, 7, 8, ...).
    Cycle { period: u64, hits: u64 },
}

impl Trigger {
    /// Whether the `n`-th matching request (1-based) fires; `draw` is a uniform sample in
    /// [0, 1) used only by `Probability`.
    pub fn fires(&self, n: u64, draw: f64) -> bool {
        match *self {
            Trigger::Nth(k) => n == k,
            Trigger::Probability(p) => draw < p,
            Trigger::Cycle { period, hits } => (n - 1) % period < hits,
        }
    }
}

impl FaultRule {
    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |problem: &str| ConfigError::FaultSpec {
            spec: self.matches.clone(),
            problem: problem.to_string(),
        };
        match self.trigger {
            Trigger::Nth(0) => return Err(bad("nth counts from 1")),
            Trigger::Probability(p) if !(0.0..=1.0).contains(&p) => {
                return Err(bad("a probability is between 0 and 1"))
            }
            Trigger::Cycle { period, hits } if period == 0 || hits > period => {
                return Err(bad("a cycle needs period >= 1 and hits <= period"))
            }
            _ => {}
        }
        if let Fault::Http { status, .. } = self.fault {
            if !(400..=599).contains(&status) {
                return Err(bad("an injected HTTP error has a 4xx or 5xx status"));
            }
        }
        Ok(())
    }

    /// Whether this rule selects a request of `service` and `operation`.
    pub fn selects(&self, service: &str, operation: &str) -> bool {
        match self.matches.split_once(':') {
            Some((s, o)) => glob(s, service) && glob(o, operation),
            None => glob(&self.matches, service) || glob(&self.matches, operation),
        }
    }
}

/// `*` matches any run of characters; everything else matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || !text.ends_with(last) || text.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

impl FromStr for FaultRule {
    type Err = ConfigError;

    /// `MATCH=KIND@TRIGGER`. KIND: `http500`, `http503:SlowDown`, `throttle`, `reset`,
    /// `slow:130000`. TRIGGER: `nth:3`, `p:0.05`, `cycle:3/2`.
    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let bad = |problem: &str| ConfigError::FaultSpec {
            spec: spec.to_string(),
            problem: problem.to_string(),
        };
        let (matches, rest) = spec.split_once('=').ok_or_else(|| bad("no `=`"))?;
        let (kind, trigger) = rest.split_once('@').ok_or_else(|| bad("no `@`"))?;
        let fault = match kind.split_once(':') {
            None if kind == "throttle" => Fault::Throttle,
            None if kind == "reset" => Fault::Reset,
            Some(("slow", ms)) => Fault::Slow {
                delay_ms: ms.parse().map_err(|_| bad("slow:MILLISECONDS"))?,
            },
            _ if kind.starts_with("http") => {
                let (status, code) = match kind.split_once(':') {
                    Some((s, c)) => (s, Some(c.to_string())),
                    None => (kind, None),
                };
                Fault::Http {
                    status: status["http".len()..]
                        .parse()
                        .map_err(|_| bad("httpSTATUS[:Code]"))?,
                    code,
                }
            }
            _ => return Err(bad("unknown fault kind")),
        };
        let trigger = match trigger.split_once(':') {
            Some(("nth", n)) => Trigger::Nth(n.parse().map_err(|_| bad("nth:N"))?),
            Some(("p", p)) => Trigger::Probability(p.parse().map_err(|_| bad("p:PROBABILITY"))?),
            Some(("cycle", c)) => {
                let (period, hits) = c.split_once('/').ok_or_else(|| bad("cycle:PERIOD/HITS"))?;
                Trigger::Cycle {
                    period: period.parse().map_err(|_| bad("cycle:PERIOD/HITS"))?,
                    hits: hits.parse().map_err(|_| bad("cycle:PERIOD/HITS"))?,
                }
            }
            _ => return Err(bad("unknown trigger")),
        };
        let rule = FaultRule {
            matches: matches.to_string(),
            fault,
            trigger,
        };
        rule.validate()?;
        Ok(rule)
    }
}

/// Parses `SERVICE[:OPERATION]=CAPACITY/REFILL_PER_SEC` (the `--limit` flag).
pub fn parse_limit(spec: &str) -> Result<(String, BucketLimit), ConfigError> {
    let bad = || ConfigError::LimitSpec {
        spec: spec.to_string(),
    };
    let (key, numbers) = spec.split_once('=').ok_or_else(bad)?;
    let (capacity, refill) = numbers.split_once('/').ok_or_else(bad)?;
    let limit = BucketLimit::new(
        capacity.parse().map_err(|_| bad())?,
        refill.parse().map_err(|_| bad())?,
    );
    if key.is_empty() {
        return Err(bad());
    }
    Ok((key.to_string(), limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("*", "anything"));
        assert!(glob("Describe*", "DescribeVpcs"));
        assert!(!glob("Describe*", "CreateVpc"));
        assert!(glob("*Instances", "RunInstances"));
        assert!(glob("Create*Gateway", "CreateNatGateway"));
        assert!(!glob("Create*Gateway", "CreateNatGateways"));
        assert!(glob("a*b*c", "abc"));
        assert!(!glob("ab*ba", "aba"));
        assert!(glob("RunInstances", "RunInstances"));
        assert!(!glob("RunInstances", "RunInstance"));
    }

    #[test]
    fn rules_select_by_service_and_operation() {
        let rule: FaultRule = "ec2:Describe*=throttle@nth:1".parse().unwrap();
        assert!(rule.selects("ec2", "DescribeVpcs"));
        assert!(!rule.selects("ec2", "CreateVpc"));
        assert!(!rule.selects("autoscaling", "DescribeAutoScalingGroups"));
        let any: FaultRule = "*=reset@p:0.5".parse().unwrap();
        assert!(any.selects("iam", "ListRoles"));
    }

    #[test]
    fn fault_specs_parse() {
        let r: FaultRule = "ec2:RunInstances=http500@nth:3".parse().unwrap();
        assert_eq!(
            r.fault,
            Fault::Http {
                status: 500,
                code: None
            }
        );
        assert_eq!(r.fault.label(), "http500:InternalError");
        assert_eq!(r.trigger, Trigger::Nth(3));
        let r: FaultRule = "s3:*=http503:SlowDown@cycle:3/2".parse().unwrap();
        assert_eq!(r.fault.code(), "SlowDown");
        assert_eq!(r.trigger, Trigger::Cycle { period: 3, hits: 2 });
        let r: FaultRule = "*:*=slow:130000@p:0.01".parse().unwrap();
        assert_eq!(r.fault, Fault::Slow { delay_ms: 130_000 });
        for bad in [
            "ec2:RunInstances",
            "ec2=boom@nth:1",
            "ec2=reset@nth:0",
            "ec2=reset@p:2",
            "ec2=reset@cycle:2/3",
            "ec2=http200@nth:1",
            "ec2=reset@sometimes",
        ] {
            assert!(bad.parse::<FaultRule>().is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn triggers_fire_on_the_right_requests() {
        let nth = Trigger::Nth(3);
        let fired: Vec<u64> = (1..=6).filter(|&n| nth.fires(n, 0.0)).collect();
        assert_eq!(fired, vec![3]);
        let cycle = Trigger::Cycle { period: 3, hits: 2 };
        let fired: Vec<u64> = (1..=7).filter(|&n| cycle.fires(n, 0.0)).collect();
        assert_eq!(fired, vec![1, 2, 4, 5, 7]);
        assert!(Trigger::Probability(0.25).fires(1, 0.2));
        assert!(!Trigger::Probability(0.25).fires(1, 0.25));
    }

    #[test]
    fn json_configuration_round_trips() {
        let json = r#"{
            "upstream": "http://127.0.0.1:5000",
            "latency_ms": 50, "jitter_ms": 10, "ec2_limit_scale": 0.1,
            "limits": {"autoscaling": {"capacity": 20, "refill_per_sec": 2}},
            "faults": [{"match": "ec2:RunInstances",
                        "fault": {"kind": "http", "status": 503, "code": "Unavailable"},
                        "trigger": {"nth": 2}}]
        }"#;
        let config: ProxyConfig = serde_json::from_str(json).unwrap();
        config.validate().unwrap();
        assert_eq!(config.latency_ms, 50);
        assert!(config.ec2_throttling);
        assert_eq!(config.limits["autoscaling"], BucketLimit::new(20.0, 2.0));
        assert_eq!(config.faults[0].trigger, Trigger::Nth(2));
        let again: ProxyConfig =
            serde_json::from_str(&serde_json::to_string(&config).unwrap()).unwrap();
        assert_eq!(again, config);
        assert!(serde_json::from_str::<ProxyConfig>(r#"{"latency": 5}"#).is_err());
    }

    #[test]
    fn validation_rejects_bad_upstreams_and_limits() {
        assert!(ProxyConfig::new("127.0.0.1:5000").validate().is_err());
        assert!(ProxyConfig::new("https://example.com").validate().is_err());
        assert!(ProxyConfig::new("http://127.0.0.1:5000").validate().is_ok());
        let mut c = ProxyConfig::new("http://127.0.0.1:5000");
        c.ec2_limit_scale = 0.0;
        assert!(c.validate().is_err());
        let mut c = ProxyConfig::new("http://127.0.0.1:5000");
        c.limits.insert("iam".into(), BucketLimit::new(0.5, 1.0));
        assert!(c.validate().is_err());
        assert_eq!(
            parse_limit("ec2:DescribeVpcs=1/0").unwrap(),
            ("ec2:DescribeVpcs".to_string(), BucketLimit::new(1.0, 0.0))
        );
        assert!(parse_limit("iam=1").is_err());
    }
}
