//! Integration tests of the `asiaq` binary, in one test binary (each area is a module): one
//! link of the AWS SDK instead of one per file, and one shared moto_server per run.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod alarms;
mod alarms_bench;
mod bake;
mod bootstrap;
mod buckets;
mod config_validate;
mod dynamodb;
mod dynamodb_bench;
mod elasticache;
mod hosts;
mod hosts_bench;
mod hosts_ops;
mod hosts_support;
mod iam;
mod identity_common;
mod listings;
mod lock;
mod lock_bench;
mod log_metrics;
mod managed_bench;
mod meta;
mod metrics;
mod plans;
mod rds;
mod route53;
mod sandbox;
mod secrets;
mod ssh;
mod ssm;
mod support;
mod vpc;
mod whoami_doctor;
