//! A loopback proxy in front of moto_server that makes it behave more like AWS.
//!
//! moto answers in a few milliseconds and never throttles; AWS answers in tens to hundreds of
//! milliseconds and refuses requests when a token bucket is empty. Benchmarks and
//! resilience tests put this proxy between asiaq and moto to get:
//!
//! * added latency per request, fixed or jittered;
//! * EC2's request-rate token buckets (`reference/aws-facts.md`), optionally scaled, answering
//!   `RequestLimitExceeded` exactly as EC2 does; buckets for other services or operations on
//!   request, answering each protocol's throttling error;
//! * injected faults (HTTP 5xx with an AWS error body, connection reset, an answer held back
//!   beyond the client's timeout), by probability or on the N-th matching request;
//! * a JSON-lines log of every request and a summary by operation
//!   (`GET /__proxy/summary`, `POST /__proxy/reset`).
//!
//! ```no_run
//! use asiaq_proxy::{Proxy, ProxyConfig};
//!
//! let mut config = ProxyConfig::new("http://127.0.0.1:5000");
//! config.latency_ms = 50;
//! config.ec2_limit_scale = 0.1;
//! let proxy = Proxy::start(config)?;
//! // point AWS_ENDPOINT_URL at proxy.endpoint(), run things, then:
//! println!("{} EC2 requests", proxy.summary().requests_of("ec2:"));
//! # Ok::<(), asiaq_proxy::ProxyError>(())
//! ```
//!
//! The proxy models one account in one region: every request shares the same buckets.

mod config;
mod protocol;
mod server;
mod stats;

pub use config::{parse_limit, ConfigError, Fault, FaultRule, ProxyConfig, Trigger};
pub use protocol::{identify, Protocol, RequestInfo};
pub use server::{Proxy, ProxyError};
pub use stats::{LogRecord, OperationSummary, Outcome, Summary};
