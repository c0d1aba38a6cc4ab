//! The AWS side of asiaq: one place that builds SDK clients, counts the calls they make,
//! and turns SDK errors into messages an operator can act on.
//!
//! Everything here talks to AWS (or to a local emulator through the standard endpoint
//! override variables); the pure decisions live in `asiaq-core`.

pub mod account_init;
mod accounting;
pub mod alarms;
pub mod app_auth;
pub mod app_conf;
pub mod bake;
pub mod buckets;
pub mod budget;
pub mod cloudtrail;
mod context;
pub mod credentials;
pub mod dynamodb;
pub mod eip;
pub mod elasticache;
pub mod engine;
pub mod environment;
mod error;
pub mod fault;
pub mod guard;
pub mod host_metrics;
pub mod hosts;
pub mod iam;
mod identity;
pub mod images;
pub mod keys;
pub mod lock;
pub mod log_metrics;
mod probe;
pub mod rds;
pub mod remote;
pub mod route53;
pub mod saml;
pub mod sandbox;
pub mod ssm;
pub mod tags;
pub mod vpc;
pub mod wait;

pub use accounting::{ApiCallStats, OperationStats, RequestCounter};
pub use budget::{Ec2Budget, EC2_BUDGET_SCALE_ENV};
pub use context::{retry_partition, AwsContext, ContextOptions};
pub use environment::{
    find_environment, find_environment_by_vpc_id, ObservedEnvironment, ObservedMetaNetwork,
    ObservedSubnet,
};
pub use error::{describe_sdk_error, AwsError, FlowError};
pub use identity::Identity;
pub use probe::{probe_failure, probe_printout, probe_services, ProbeOutcome};
