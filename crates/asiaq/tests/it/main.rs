//! Integration tests of the `asiaq` binary, in one test binary (each area is a module): one
//! link of the AWS SDK instead of one per file, and one shared moto_server per run.

mod config_validate;
mod iam;
mod identity_common;
mod meta;
mod secrets;
mod vpc;
mod whoami_doctor;
