//! The one table of option kinds: for each section of `disco_aws.ini`, the options asiaq
//! reads and what their values must look like. `config validate` checks every option of a
//! file against it, and the typed loaders ([`crate::hostclass`], `iam update`, `bake`) read
//! each option through [`checked`], so a value is judged the same way whether it is
//! validated or acted on.

use asiaq_core::syntax;

use crate::diag::Diagnostic;
use crate::ini::Value;
use crate::kinds::{check, Kind};

/// Options a hostclass section (or `[disco_aws] default_<opt>`) may set, with their kinds.
pub const HOSTCLASS_OPTIONS: &[(&str, Kind)] = &[
    ("meta_network", Kind::MetaNetwork),
    ("ip_address", Kind::StaticIps),
    ("eip", Kind::Ipv4),
    ("public_ip", Kind::Bool),
    ("ssh_key_name", Kind::Text),
    ("instance_profile_name", Kind::Text),
    ("enable_proxy", Kind::Bool),
    ("smoketest_termination", Kind::Bool),
    ("domain_name", Kind::NonEmpty),
    ("product_line", Kind::Text),
    ("chaos", Kind::Bool),
    ("tags", Kind::Tags),
    ("spotinst", Kind::Bool),
    ("spotinst_reserve", Kind::SpotinstReserve),
    ("elb", Kind::Bool),
    ("elb_meta_network", Kind::MetaNetwork),
    ("elb_health_check_url", Kind::UrlPath),
    ("elb_port", Kind::PortList),
    ("elb_protocol", Kind::ElbProtocols),
    ("elb_instance_port", Kind::PortList),
    ("elb_instance_protocol", Kind::ElbProtocols),
    ("elb_public", Kind::Bool),
    ("elb_sticky_app_cookie", Kind::Text),
    ("elb_idle_timeout", Kind::Int { min: 1, max: 4000 }),
    ("elb_connection_draining", Kind::Int { min: 0, max: 3600 }),
    ("elb_cross_zone_load_balancing", Kind::Bool),
    ("elb_cert_name", Kind::NonEmpty),
    ("elb_dns_alias", Kind::NonEmpty),
    ("target_group", Kind::Bool),
    ("phase", Kind::OneOf(&["1", "2"])),
    ("phase1_ami_name", Kind::NonEmpty),
    ("bake_instance_profile", Kind::Text),
    ("enhanced_networking", Kind::Bool),
    (
        "ami_available_wait_time",
        Kind::Int {
            min: 1,
            max: 86_400,
        },
    ),
    ("bake_ami", Kind::AmiId),
    ("test_hostclass", Kind::NonEmpty),
    ("test_command", Kind::NonEmpty),
    ("test_user", Kind::NonEmpty),
    ("deployment_strategy", Kind::OneOf(&["blue_green"])),
    ("ssm_doc_testing_mode", Kind::NonEmpty),
    ("ssm_doc_integration_tests", Kind::NonEmpty),
    ("instance_type", Kind::NonEmpty),
    ("smoke_test", Kind::Bool),
    ("deployable", Kind::Bool),
    ("min_size", Kind::Size),
    ("desired_size", Kind::Size),
    ("max_size", Kind::Size),
];

/// `[disco_aws]` options that are not `default_<hostclass option>`.
pub const DISCO_AWS_OPTIONS: &[(&str, Kind)] = &[
    ("default_environment", Kind::NonEmpty),
    ("project_name", Kind::NonEmpty),
    ("jump_box_hostclasses", Kind::Text),
    ("http_proxy_hostclass", Kind::NonEmpty),
    ("zookeeper_hostclass", Kind::NonEmpty),
    ("logger_hostclass", Kind::NonEmpty),
    ("logforwarder_hostclass", Kind::NonEmpty),
    ("s3_bucket_base", Kind::NonEmpty),
    ("s3_bucket_suffix", Kind::Text),
    ("sandbox_config_bucket", Kind::NonEmpty),
    ("sandbox_sync_config", Kind::Text),
    ("user_timezone", Kind::NonEmpty),
    ("default_spotinst_account_id", Kind::Text),
];

pub const BAKE_OPTIONS: &[(&str, Kind)] = &[
    ("bake_key", Kind::Text),
    ("bakery_instance_type", Kind::NonEmpty),
    ("bakery_environment", Kind::NonEmpty),
    ("repo_hostclass", Kind::Text),
    ("phase1_ami_name", Kind::NonEmpty),
    ("phase1_hostclass", Kind::NonEmpty),
    ("no_repo_hostclasses", Kind::Text),
    ("config_data_source", Kind::NonEmpty),
    ("asiaq_data_source", Kind::NonEmpty),
    ("data_destination", Kind::AbsolutePath),
    ("ami_stages", Kind::NonEmpty),
    ("prod_baker", Kind::Text),
    ("phase", Kind::OneOf(&["1", "2"])),
    (
        "ami_available_wait_time",
        Kind::Int {
            min: 1,
            max: 86_400,
        },
    ),
    ("prod_account_ids", Kind::AccountIds),
    ("trusted_account_ids", Kind::AccountIds),
    ("bake_instance_profile", Kind::Text),
    ("ssh_proxy_command", Kind::Text),
    ("ssh_user", Kind::Text),
    ("enhanced_networking", Kind::Bool),
];

pub const TEST_OPTIONS: &[(&str, Kind)] = &[
    ("deployment_strategy", Kind::OneOf(&["blue_green"])),
    ("test_hostclass", Kind::NonEmpty),
    ("hostclass", Kind::NonEmpty),
    ("env", Kind::NonEmpty),
];

pub const IAM_OPTIONS: &[(&str, Kind)] = &[
    ("prune_empty_groups", Kind::Bool),
    ("role_prefix", Kind::Text),
    ("policy_blacklist", Kind::Text),
    ("naked_roles", Kind::Text),
    ("saml_provider_name", Kind::Text),
    ("saml_provider_url", Kind::Text),
    ("delete_unmanaged", Kind::Bool),
];

/// The kind of `key` (without `@env`) in `table`.
pub fn kind_of(table: &[(&str, Kind)], key: &str) -> Option<Kind> {
    let base = key.split('@').next().unwrap_or(key);
    table
        .iter()
        .find(|(k, _)| *k == base)
        .map(|(_, kind)| *kind)
}

/// `value` (an option `opt` of `table`) if it fits its kind; otherwise the problem is
/// added to `errors` and the option is treated as unset. Blank values are unset.
///
/// Panics when `opt` is not in `table`: every option a loader reads is in the table, so
/// that `config validate` checks it too (a unit test reads every one).
pub fn checked(
    table: &[(&str, Kind)],
    opt: &str,
    value: Option<Value>,
    errors: &mut Vec<Diagnostic>,
) -> Option<Value> {
    let kind = kind_of(table, opt)
        .unwrap_or_else(|| panic!("option {opt} is read but missing from its kind table"));
    let value = value.filter(|v| !v.text.trim().is_empty())?;
    match check(kind, &value) {
        Some(d) if d.is_error() => {
            errors.push(d);
            None
        }
        _ => Some(value),
    }
}

/// A boolean option's value (an error at its line when it is not a boolean word).
pub fn boolean(value: &Value) -> Result<bool, Diagnostic> {
    value.parse(syntax::parse_bool)
}

/// A boolean option of `table` read through [`checked`]; `default` when unset or wrong.
pub fn flag(
    table: &[(&str, Kind)],
    opt: &str,
    value: Option<Value>,
    default: bool,
    errors: &mut Vec<Diagnostic>,
) -> bool {
    debug_assert_eq!(
        kind_of(table, opt),
        Some(Kind::Bool),
        "{opt} is not a boolean"
    );
    checked(table, opt, value, errors)
        .and_then(|v| boolean(&v).ok())
        .unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(key: &str, text: &str) -> Value {
        Value {
            text: text.into(),
            path: "disco_aws.ini".into(),
            section: "iam".into(),
            key: key.into(),
            line: 7,
        }
    }

    #[test]
    fn one_table_for_validation_and_loading() {
        assert_eq!(
            kind_of(IAM_OPTIONS, "prune_empty_groups@prod"),
            Some(Kind::Bool)
        );
        assert_eq!(kind_of(IAM_OPTIONS, "nosuch"), None);
        let mut errors = Vec::new();
        let on = flag(
            IAM_OPTIONS,
            "prune_empty_groups",
            Some(v("prune_empty_groups", "Ture")),
            true,
            &mut errors,
        );
        // Wrong: reported, and the default is used.
        assert!(on);
        assert_eq!(errors.len(), 1);
        assert_eq!(
            errors[0].to_string(),
            check(Kind::Bool, &v("prune_empty_groups", "Ture"))
                .unwrap()
                .to_string()
        );
        assert!(errors[0]
            .to_string()
            .starts_with("disco_aws.ini:7: [iam] prune_empty_groups:"));
        let off = flag(
            IAM_OPTIONS,
            "prune_empty_groups",
            Some(v("prune_empty_groups", " no ")),
            true,
            &mut errors,
        );
        assert!(!off);
        assert_eq!(errors.len(), 1);
        assert!(flag(
            IAM_OPTIONS,
            "delete_unmanaged",
            None,
            true,
            &mut errors
        ));
    }

    #[test]
    #[should_panic(expected = "missing from its kind table")]
    fn an_option_read_outside_the_table_is_a_bug() {
        checked(IAM_OPTIONS, "nosuch", None, &mut Vec::new());
    }
}
