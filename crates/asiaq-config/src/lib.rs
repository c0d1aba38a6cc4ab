//! Reads an asiaq configuration directory exactly as the Python original did (spec §3),
//! into typed models. Every problem is a [`Diagnostic`] naming the file, the line and what
//! was expected; nothing here talks to AWS.

pub mod account;
pub mod accounts;
pub mod acfg_metadata;
pub mod alarms;
pub mod app_auth;
pub mod app_conf;
pub mod aws_ini;
pub mod bake;
pub mod diag;
pub mod dir;
pub mod dynamodb;
pub mod elasticache;
pub mod error;
pub mod host;
pub mod hostclass;
pub mod hosts;
pub mod iam_tree;
pub mod ini;
pub mod keys;
pub mod kinds;
pub mod options;
pub mod pipeline;
pub mod rds;
pub mod s3_accounts;
pub mod sandbox;
pub mod services;
pub mod spinup;
pub mod ssm_documents;
pub mod validate;
pub mod validation;
pub mod vpc_env;
pub mod vpc_ini;

pub use aws_ini::AwsIni;
pub use diag::{Diagnostic, Severity};
pub use dir::ConfigDir;
pub use error::ConfigError;
pub use ini::{IniFile, Value};
pub use pipeline::{Pipeline, PipelineRow};
pub use vpc_ini::{EnvironmentSpec, VpcIni};
