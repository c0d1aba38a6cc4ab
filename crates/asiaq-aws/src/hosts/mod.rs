//! Hosts and pipelines: instances, autoscaling groups with their launch templates, load
//! balancers, spinup/spindown, snapshots, chaos and remote execution (spec §2.1, §2.6,
//! §2.10, §2.21, §2.22, §4.6, §4.7, §4.10, §4.14, §4.17).
//!
//! Every command observes first (one filtered describe per resource type), asks
//! `asiaq_core` what to do, then applies; what it creates is tagged (and named
//! `<env>_<hostclass>_<epoch>`) so it can be found again.

pub mod autoscale;
pub mod chaos;
pub mod env;
pub mod groups;
pub mod instances;
pub mod lb;
pub mod login;
pub mod provision;
pub mod remote;
pub mod snapshots;
pub mod spinup;

use std::collections::BTreeMap;

use aws_sdk_ec2::types::Filter;

/// An EC2 filter.
pub(crate) fn filter(name: &str, values: &[&str]) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.iter().map(|v| v.to_string()).collect()))
        .build()
}

/// EC2 tags as a map.
pub(crate) fn ec2_tag_map(tags: &[aws_sdk_ec2::types::Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
        .collect()
}

/// Seconds since the epoch, now.
pub fn now_unix() -> i64 {
    jiff::Timestamp::now().as_second()
}
