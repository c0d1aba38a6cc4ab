//! The AWS side of asiaq: one place that builds SDK clients, counts the calls they make,
//! and turns SDK errors into messages an operator can act on.
//!
//! Everything here talks to AWS (or to a local emulator through the standard endpoint
//! override variables); the pure decisions live in `asiaq-core`.

mod accounting;
pub mod buckets;
mod context;
pub mod credentials;
mod error;
pub mod fault;
pub mod iam;
mod identity;
mod probe;
pub mod progress;
pub mod saml;
pub mod tags;
pub mod wait;

pub use accounting::{ApiCallStats, OperationStats, RequestCounter};
pub use context::{AwsContext, ContextOptions};
pub use error::{describe_sdk_error, AwsError};
pub use identity::Identity;
pub use probe::{probe_services, ProbeOutcome};
