//! Instance user-data (spec §4.7 `create_userdata`): `key="value"` lines, in a fixed order,
//! which the instance's init scripts source.

use std::net::Ipv4Addr;

use serde::Serialize;

/// Everything user-data says about an instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserData {
    pub hostclass: String,
    /// `Some` only when the hostclass's `enable_proxy` is truthy (then the line is written,
    /// with `None` when the proxy hostclass has no static IP).
    pub http_proxy_ip: Option<Option<Ipv4Addr>>,
    pub logger_ip: Option<Ipv4Addr>,
    pub logforwarder_ip: Option<Ipv4Addr>,
    pub environment_name: String,
    pub domain_name: Option<String>,
    pub owner: String,
    pub credential_buckets: Vec<String>,
    /// The zookeeper hostclass (`[disco_aws] zookeeper_hostclass`, default `mhczookeeper`).
    pub zookeeper_hostclass: String,
    pub eip: Option<String>,
    pub floating_ips: Vec<Ipv4Addr>,
    pub smoketest_termination: bool,
    pub project_name: String,
    pub is_spotinst: bool,
}

/// How an absent value is written. Decision: `None`, as the original wrote Python's `None`
/// through `'{0}="{1}"'.format(...)`; init scripts baked into existing images test for it.
const ABSENT: &str = "None";

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| ABSENT.to_string(), T::to_string)
}

impl UserData {
    /// The `(key, value)` pairs in the original's order: hostclass, http_proxy_ip (only with
    /// enable_proxy), logger_ip, logforwarder_ip, environment_name, domain_name, owner,
    /// credential_buckets, zookeepers, eip, floating_ips, floating_ip,
    /// smoketest_termination, project_name, is_spotinst.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![("hostclass", self.hostclass.clone())];
        if let Some(proxy) = &self.http_proxy_ip {
            out.push(("http_proxy_ip", opt(proxy)));
        }
        let floating: Vec<String> = self.floating_ips.iter().map(ToString::to_string).collect();
        out.extend([
            ("logger_ip", opt(&self.logger_ip)),
            ("logforwarder_ip", opt(&self.logforwarder_ip)),
            ("environment_name", self.environment_name.clone()),
            ("domain_name", opt(&self.domain_name)),
            ("owner", self.owner.clone()),
            ("credential_buckets", self.credential_buckets.join(" ")),
            (
                "zookeepers",
                format!(
                    "[\\\"{}-{}.{}:2181\\\"]",
                    self.zookeeper_hostclass,
                    self.environment_name,
                    self.domain_name.as_deref().unwrap_or(ABSENT)
                ),
            ),
            ("eip", opt(&self.eip)),
            ("floating_ips", floating.join(" ")),
            ("floating_ip", opt(&self.floating_ips.first())),
            (
                "smoketest_termination",
                if self.smoketest_termination { "1" } else { "0" }.to_string(),
            ),
            ("project_name", self.project_name.clone()),
            (
                "is_spotinst",
                if self.is_spotinst { "1" } else { "0" }.to_string(),
            ),
        ]);
        out
    }

    /// The text: `key="value"` lines joined by `\n` (no trailing newline), as the original.
    pub fn render(&self) -> String {
        self.pairs()
            .iter()
            .map(|(k, v)| format!("{k}=\"{v}\""))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Reads `key="value"` lines back (what an instance, or `asiaq metrics`, does).
pub fn parse(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let (k, v) = line.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            Some((k.trim().to_string(), v.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> UserData {
        UserData {
            hostclass: "mhcfoo".into(),
            http_proxy_ip: None,
            logger_ip: Some("10.0.0.5".parse().unwrap()),
            logforwarder_ip: None,
            environment_name: "ci".into(),
            domain_name: Some("dev.example.com".into()),
            owner: "jenkins".into(),
            credential_buckets: vec!["b1".into(), "b2".into()],
            zookeeper_hostclass: "mhczookeeper".into(),
            eip: Some("54.1.2.3".into()),
            floating_ips: vec!["10.0.16.5".parse().unwrap(), "10.0.16.6".parse().unwrap()],
            smoketest_termination: true,
            project_name: "proj".into(),
            is_spotinst: false,
        }
    }

    #[test]
    fn lines_in_the_original_order() {
        assert_eq!(
            sample().render(),
            "hostclass=\"mhcfoo\"\n\
             logger_ip=\"10.0.0.5\"\n\
             logforwarder_ip=\"None\"\n\
             environment_name=\"ci\"\n\
             domain_name=\"dev.example.com\"\n\
             owner=\"jenkins\"\n\
             credential_buckets=\"b1 b2\"\n\
             zookeepers=\"[\\\"mhczookeeper-ci.dev.example.com:2181\\\"]\"\n\
             eip=\"54.1.2.3\"\n\
             floating_ips=\"10.0.16.5 10.0.16.6\"\n\
             floating_ip=\"10.0.16.5\"\n\
             smoketest_termination=\"1\"\n\
             project_name=\"proj\"\n\
             is_spotinst=\"0\""
        );
    }

    #[test]
    fn proxy_line_only_with_enable_proxy() {
        let mut u = sample();
        u.http_proxy_ip = Some(Some("10.0.16.7".parse().unwrap()));
        let pairs = u.pairs();
        assert_eq!(pairs[1], ("http_proxy_ip", "10.0.16.7".to_string()));
        u.http_proxy_ip = Some(None);
        assert_eq!(u.pairs()[1], ("http_proxy_ip", "None".to_string()));
    }

    #[test]
    fn absent_values_and_spotinst() {
        let mut u = sample();
        u.eip = None;
        u.floating_ips.clear();
        u.is_spotinst = true;
        u.smoketest_termination = false;
        let pairs: std::collections::BTreeMap<_, _> = u.pairs().into_iter().collect();
        assert_eq!(pairs["eip"], "None");
        assert_eq!(pairs["floating_ips"], "");
        assert_eq!(pairs["floating_ip"], "None");
        assert_eq!(pairs["is_spotinst"], "1");
        assert_eq!(pairs["smoketest_termination"], "0");
    }

    #[test]
    fn parse_round_trips() {
        let u = sample();
        let back = parse(&u.render());
        assert_eq!(back[0], ("hostclass".into(), "mhcfoo".into()));
        assert_eq!(back.len(), u.pairs().len());
    }
}
