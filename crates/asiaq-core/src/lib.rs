//! Pure domain core of asiaq: the value grammars of the configuration files and the
//! algorithms that turn configuration plus observed state into desired state and diffs.
//!
//! Nothing in this crate performs I/O: no AWS types, no files, no clocks (the current time
//! is always a parameter), and randomness comes from an injected [`rand::Rng`].

pub mod account;
pub mod accounts;
pub mod acfg;
pub mod ami;
pub mod app_auth;
pub mod autoscale;
pub mod buckets;
pub mod chaos;
pub mod creds;
pub mod dynamodb;
pub mod ec2_limits;
pub mod eip;
pub mod elasticache;
pub mod elb;
pub mod env_vars;
pub mod host_metrics;
pub mod hosts;
pub mod iam;
pub mod json;
pub mod keys;
pub mod lock;
pub mod network;
pub mod plan;
pub mod printout;
pub mod provision;
pub mod rds;
pub mod route53;
pub mod schedule;
pub mod secret;
pub mod sg_rules;
pub mod snapshots;
pub mod spinup;
pub mod ssh;
pub mod ssh_login;
pub mod ssm;
pub mod storage;
pub mod syntax;
pub mod textdiff;
pub mod userdata;
pub mod vpc;
