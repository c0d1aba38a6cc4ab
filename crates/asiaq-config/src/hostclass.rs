//! A hostclass's options (spec §3.1 hostclass table), looked up with
//! `DiscoAWS.hostclass_option` rules (`[hc] opt@ENV` → `[hc] opt` → `[disco_aws]
//! default_opt@ENV` → `[disco_aws] default_opt`) and typed for provisioning.

use asiaq_core::provision::{ElbSettings, HostclassSettings};
use asiaq_core::syntax::{self, MetaNetworkName};

use crate::aws_ini::AwsIni;
use crate::diag::Diagnostic;
use crate::error::ConfigError;
use crate::ini::Value;
use crate::options::{self, HOSTCLASS_OPTIONS};

fn origin(v: &Value) -> String {
    format!("{}:{}: [{}] {}", v.path.display(), v.line, v.section, v.key)
}

/// An option as the lookup rules find it, checked against its kind in
/// [`HOSTCLASS_OPTIONS`] (a wrong value is reported and treated as unset).
fn option(aws: &AwsIni, hc: &str, opt: &str, errors: &mut Vec<Diagnostic>) -> Option<Value> {
    options::checked(
        HOSTCLASS_OPTIONS,
        opt,
        aws.hostclass_option(hc, opt),
        errors,
    )
}

/// Text of an option, `None` when unset or blank.
fn text(aws: &AwsIni, hc: &str, opt: &str, errors: &mut Vec<Diagnostic>) -> Option<String> {
    option(aws, hc, opt, errors).map(|v| v.text.trim().to_string())
}

fn flag(aws: &AwsIni, hc: &str, opt: &str, default: bool, errors: &mut Vec<Diagnostic>) -> bool {
    options::flag(
        HOSTCLASS_OPTIONS,
        opt,
        aws.hostclass_option(hc, opt),
        default,
        errors,
    )
}

fn number(aws: &AwsIni, hc: &str, opt: &str, default: u32, errors: &mut Vec<Diagnostic>) -> u32 {
    option(aws, hc, opt, errors)
        .and_then(|v| v.text.trim().parse::<u32>().ok())
        .unwrap_or(default)
}

/// The options of `hostclass` for the environment of `aws`. Every problem is reported
/// (file:line), before anything is done with them.
pub fn hostclass_settings(aws: &AwsIni, hc: &str) -> Result<HostclassSettings, ConfigError> {
    let mut errors = Vec::new();
    let e = &mut errors;
    let meta_network = match aws.require_hostclass_option(hc, "meta_network") {
        Ok(v) => match v.parse(|t| t.trim().parse::<MetaNetworkName>()) {
            Ok(n) => Some(n),
            Err(d) => {
                e.push(d);
                None
            }
        },
        Err(err) => {
            e.extend(err.diagnostics());
            None
        }
    };
    let (ip_addresses, ip_origin) = match option(aws, hc, "ip_address", e) {
        Some(v) => match v.parse(syntax::parse_ip_addresses) {
            Ok(ips) => (ips, Some(origin(&v))),
            Err(d) => {
                e.push(d);
                (Vec::new(), None)
            }
        },
        None => (Vec::new(), None),
    };
    let tags = option(aws, hc, "tags", e)
        .and_then(|v| v.parse(syntax::parse_tags).ok())
        .unwrap_or_default();
    let ssh_key_name = text(aws, hc, "ssh_key_name", e).filter(|k| k != "None");
    let elb = if flag(aws, hc, "elb", false, e) {
        let elb_meta_network = option(aws, hc, "elb_meta_network", e)
            .and_then(|v| v.text.trim().parse::<MetaNetworkName>().ok());
        Some(ElbSettings {
            meta_network: elb_meta_network,
            health_check_url: text(aws, hc, "elb_health_check_url", e),
            instance_port: text(aws, hc, "elb_instance_port", e),
            instance_protocol: text(aws, hc, "elb_instance_protocol", e),
            port: text(aws, hc, "elb_port", e),
            protocol: text(aws, hc, "elb_protocol", e),
            public: flag(aws, hc, "elb_public", false, e),
            sticky_app_cookie: text(aws, hc, "elb_sticky_app_cookie", e),
            idle_timeout: number(aws, hc, "elb_idle_timeout", 300, e),
            connection_draining: number(aws, hc, "elb_connection_draining", 300, e),
            cross_zone: flag(aws, hc, "elb_cross_zone_load_balancing", true, e),
            cert_name: text(aws, hc, "elb_cert_name", e),
            dns_alias: text(aws, hc, "elb_dns_alias", e),
        })
    } else {
        None
    };
    let settings = HostclassSettings {
        hostclass: hc.to_string(),
        meta_network: meta_network.unwrap_or(MetaNetworkName::Intranet),
        ip_addresses,
        ip_origin,
        eip: text(aws, hc, "eip", e).filter(|x| x != "None"),
        public_ip: flag(aws, hc, "public_ip", false, e),
        ssh_key_name,
        instance_profile_name: text(aws, hc, "instance_profile_name", e),
        enable_proxy: flag(aws, hc, "enable_proxy", false, e),
        smoketest_termination: flag(aws, hc, "smoketest_termination", true, e),
        domain_name: text(aws, hc, "domain_name", e),
        product_line: text(aws, hc, "product_line", e).unwrap_or_else(|| "unknown".to_string()),
        chaos: flag(aws, hc, "chaos", true, e),
        tags,
        spotinst: flag(aws, hc, "spotinst", false, e),
        instance_type: text(aws, hc, "instance_type", e),
        elb,
        target_group: flag(aws, hc, "target_group", false, e),
        monitoring: Default::default(),
    };
    if !errors.is_empty() {
        return Err(ConfigError::Invalid(errors));
    }
    Ok(settings)
}

/// `[disco_aws] zookeeper_hostclass` (default `mhczookeeper`).
pub fn zookeeper_hostclass(aws: &AwsIni) -> String {
    aws.config("zookeeper_hostclass", crate::aws_ini::DISCO_AWS)
        .map(|v| v.text.trim().to_string())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "mhczookeeper".to_string())
}

/// A `[disco_aws]` hostclass reference (`http_proxy_hostclass`, `logger_hostclass`, ...).
pub fn hostclass_reference(aws: &AwsIni, key: &str) -> Option<String> {
    aws.config(key, crate::aws_ini::DISCO_AWS)
        .map(|v| v.text.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// `[disco_aws] jump_box_hostclasses` (space list, priority order).
pub fn jump_box_hostclasses(aws: &AwsIni) -> Vec<String> {
    aws.config("jump_box_hostclasses", crate::aws_ini::DISCO_AWS)
        .map(|v| v.text.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// `[disco_aws] ssh_proxy_command` (asiaq's own option): a `ProxyCommand` for every ssh
/// connection to instances, e.g. through a bastion or an SSM tunnel.
pub fn ssh_proxy_command(aws: &AwsIni) -> Option<String> {
    aws.config("ssh_proxy_command", crate::aws_ini::DISCO_AWS)
        .map(|v| v.text.trim().to_string())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ini::IniFile;
    use asiaq_core::syntax::StaticIp;

    fn aws(text: &str, env: &str) -> AwsIni {
        AwsIni::new(IniFile::parse("disco_aws.ini", text).unwrap(), Some(env))
    }

    const INI: &str = "\
[disco_aws]
default_meta_network=intranet
default_ssh_key_name=None
default_product_line=platform
default_domain_name=sandbox.example.com
default_domain_name@production=prod.example.com
[mhcntp]
meta_network=tunnel
public_ip=True
chaos=False
ip_address@demo=10.101.16.5
ip_address=+5
[mhcweb]
meta_network=dmz
elb=True
elb_public=True
elb_port@production=443
elb_protocol@production=HTTPS
elb_idle_timeout=60
tags=team:web,tier:front
ssh_key_name=web
[mhcbad]
meta_network=public
ip_address=ten
elb=yes
elb_idle_timeout=soon
";

    #[test]
    fn settings_with_env_rules() {
        let s = hostclass_settings(&aws(INI, "demo"), "mhcntp").unwrap();
        assert_eq!(s.meta_network, MetaNetworkName::Tunnel);
        assert_eq!(
            s.ip_addresses,
            vec![StaticIp::Absolute("10.101.16.5".parse().unwrap())]
        );
        assert_eq!(
            s.ip_origin.as_deref(),
            Some("disco_aws.ini:11: [mhcntp] ip_address@demo")
        );
        assert!(s.public_ip && !s.chaos && s.elb.is_none());
        assert_eq!(s.ssh_key_name, None);
        assert_eq!(s.product_line, "platform");
        let s = hostclass_settings(&aws(INI, "other"), "mhcntp").unwrap();
        assert_eq!(s.ip_addresses, vec![StaticIp::Offset(5)]);
    }

    #[test]
    fn elb_settings() {
        let s = hostclass_settings(&aws(INI, "production"), "mhcweb").unwrap();
        let e = s.elb.unwrap();
        assert_eq!(e.port.as_deref(), Some("443"));
        assert_eq!(e.idle_timeout, 60);
        assert_eq!(e.connection_draining, 300);
        assert!(e.public && e.cross_zone);
        assert_eq!(s.domain_name.as_deref(), Some("prod.example.com"));
        assert_eq!(s.ssh_key_name.as_deref(), Some("web"));
        assert_eq!(s.tags.len(), 2);
        let s = hostclass_settings(&aws(INI, "demo"), "mhcapp").unwrap();
        assert_eq!(s.meta_network, MetaNetworkName::Intranet);
    }

    #[test]
    fn every_problem_with_its_line() {
        let err = hostclass_settings(&aws(INI, "demo"), "mhcbad").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("disco_aws.ini:23: [mhcbad] meta_network"),
            "{text}"
        );
        assert!(
            text.contains("disco_aws.ini:24: [mhcbad] ip_address"),
            "{text}"
        );
        assert!(
            text.contains("disco_aws.ini:26: [mhcbad] elb_idle_timeout"),
            "{text}"
        );
        let no_net = aws("[disco_aws]\n[mhcx]\n", "demo");
        assert!(hostclass_settings(&no_net, "mhcx").is_err());
    }

    #[test]
    fn a_boolean_that_is_not_one_is_an_error_at_its_line() {
        let expected = "is not a boolean (expected true or false (also yes/no, t/f, y/n, aye/nay, 1/0, any case))";
        let a = aws(
            "[disco_aws]\ndefault_meta_network=intranet\ndefault_public_ip@ci=yes\n[mhcx]\nchaos=Ture\n",
            "ci",
        );
        assert_eq!(
            hostclass_settings(&a, "mhcx").unwrap_err().to_string(),
            format!("disco_aws.ini:5: [mhcx] chaos: \"Ture\" {expected}")
        );
        // Through the defaults and @env keys too.
        let a = aws(
            "[disco_aws]\ndefault_meta_network=intranet\ndefault_public_ip@ci=Yse\n[mhcx]\n",
            "ci",
        );
        assert_eq!(
            hostclass_settings(&a, "mhcx").unwrap_err().to_string(),
            format!("disco_aws.ini:3: [disco_aws] default_public_ip@ci: \"Yse\" {expected}")
        );
        // The original's words, any case.
        let a = aws(
            "[disco_aws]\ndefault_meta_network=intranet\n[mhcx]\nchaos=NAY\npublic_ip=aye\n",
            "ci",
        );
        let s = hostclass_settings(&a, "mhcx").unwrap();
        assert!(!s.chaos && s.public_ip);
    }
}
