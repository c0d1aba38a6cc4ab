//! Classic load balancers, target groups and their DNS names for hostclasses with
//! `elb=True` / `target_group=True` (spec §4.10).

use serde::Serialize;
use sha2::{Digest, Sha256};

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A name that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ElbError {
    #[error("load balancer name {0:?} is longer than 255 characters")]
    NameTooLong(String),
    #[error("{option}: {message} (expected {expected})")]
    PortConfig {
        option: &'static str,
        message: String,
        expected: &'static str,
    },
}

/// The human name `<env>-<hostclass>[-test]` with everything outside `[a-zA-Z0-9-]` removed.
pub fn human_name(env: &str, hostclass: &str, testing: bool) -> Result<String, ElbError> {
    let raw = format!("{env}-{hostclass}{}", if testing { "-test" } else { "" });
    let name: String = raw
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    if name.len() > 255 {
        return Err(ElbError::NameTooLong(name));
    }
    Ok(name)
}

/// The load balancer's real name: `sha256(human_name).hexdigest()[:32]`.
pub fn elb_id(human_name: &str) -> String {
    sha256_hex(human_name)[..32].to_string()
}

/// The name `elb list` shows for load balancer `id` with tags `tags`: its human name when
/// the `hostclass` and `is_testing` tags give back the id, else the id itself. `None` when
/// the load balancer is not of environment `env` (its `environment` tag).
pub fn listed_name(
    env: &str,
    id: &str,
    tags: &std::collections::BTreeMap<String, String>,
) -> Option<String> {
    if tags.get("environment").map(String::as_str) != Some(env) {
        return None;
    }
    let hostclass = tags.get("hostclass").map_or("", String::as_str);
    let testing = tags.get("is_testing").map(String::as_str) == Some("1");
    Some(
        human_name(env, hostclass, testing)
            .ok()
            .filter(|h| elb_id(h) == id)
            .unwrap_or_else(|| id.to_string()),
    )
}

/// The CNAME `<hostclass>[-test]-<env>.<domain>`.
pub fn cname(hostclass: &str, env: &str, domain: &str, testing: bool) -> String {
    format!(
        "{hostclass}{}-{env}.{domain}",
        if testing { "-test" } else { "" }
    )
}

/// The target group name: `<env>-<hostclass>` with `_` → `-`; longer than 32 characters →
/// the first 27 characters plus the first 5 hex digits of its sha256. Counted in
/// characters, not bytes (names are checked to be ASCII when they are read, but a slice in
/// the middle of a character must not be possible here either).
pub fn target_group_name(env: &str, hostclass: &str) -> String {
    let full = format!("{env}-{hostclass}").replace('_', "-");
    if full.chars().count() <= 32 {
        return full;
    }
    let head: String = full.chars().take(27).collect();
    format!("{head}{}", &sha256_hex(&full)[..5])
}

/// One listener: instance side and load-balancer side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortMapping {
    pub instance_port: u16,
    pub instance_protocol: String,
    pub elb_port: u16,
    pub elb_protocol: String,
}

/// The four comma lists of a hostclass (each `None` when not set).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortOptions<'a> {
    pub elb_instance_port: Option<&'a str>,
    pub elb_instance_protocol: Option<&'a str>,
    pub elb_port: Option<&'a str>,
    pub elb_protocol: Option<&'a str>,
}

fn list(v: Option<&str>) -> Vec<String> {
    v.map(|v| {
        v.split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

/// Pairs ports and protocols of one side with zip-longest: a missing protocol defaults from
/// the port (80 → HTTP, 443 → HTTPS, else TCP), a missing port from the protocol (HTTP → 80,
/// HTTPS → 443). An empty side is `[(80, HTTP)]`.
fn side(
    ports: Option<&str>,
    protocols: Option<&str>,
    port_option: &'static str,
    protocol_option: &'static str,
) -> Result<Vec<(u16, String)>, ElbError> {
    let ports = list(ports);
    let protocols: Vec<String> = list(protocols)
        .into_iter()
        .map(|p| p.to_ascii_uppercase())
        .collect();
    let n = ports.len().max(protocols.len());
    if n == 0 {
        return Ok(vec![(80, "HTTP".to_string())]);
    }
    (0..n)
        .map(|i| {
            let port = match ports.get(i) {
                Some(p) => Some(p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                    ElbError::PortConfig {
                        option: port_option,
                        message: format!("{p:?} is not a port"),
                        expected: "comma-separated ports like \"80, 443\"",
                    }
                })?),
                None => None,
            };
            let protocol = protocols.get(i).cloned();
            match (port, protocol) {
                (Some(port), Some(proto)) => Ok((port, proto)),
                (Some(port), None) => Ok((
                    port,
                    match port {
                        80 => "HTTP",
                        443 => "HTTPS",
                        _ => "TCP",
                    }
                    .to_string(),
                )),
                (None, Some(proto)) => match proto.as_str() {
                    "HTTP" => Ok((80, proto)),
                    "HTTPS" => Ok((443, proto)),
                    _ => Err(ElbError::PortConfig {
                        option: port_option,
                        message: format!(
                            "{protocol_option} lists {proto} without a port, and only HTTP and HTTPS have a default port"
                        ),
                        expected: "as many ports as protocols",
                    }),
                },
                (None, None) => unreachable!("i < max of both lengths"),
            }
        })
        .collect()
}

/// `DiscoELBPortConfig.from_config` (spec §4.10): if the instance side has exactly one
/// entry it is used for every load-balancer entry; otherwise the sides are zipped and a
/// missing side copies the other.
#[allow(
    clippy::expect_used,
    reason = "i < max(len) of the two lists, so one of them has an i-th element"
)]
pub fn port_mappings(o: &PortOptions<'_>) -> Result<Vec<PortMapping>, ElbError> {
    let internal = side(
        o.elb_instance_port,
        o.elb_instance_protocol,
        "elb_instance_port",
        "elb_instance_protocol",
    )?;
    let external = side(o.elb_port, o.elb_protocol, "elb_port", "elb_protocol")?;
    let internal = if internal.len() == 1 {
        vec![internal[0].clone(); external.len()]
    } else {
        internal
    };
    let n = internal.len().max(external.len());
    Ok((0..n)
        .map(|i| {
            let (ip, ipr) = internal
                .get(i)
                .or_else(|| external.get(i))
                .cloned()
                .expect("one side has it");
            let (ep, epr) = external
                .get(i)
                .or_else(|| internal.get(i))
                .cloned()
                .expect("one side has it");
            PortMapping {
                instance_port: ip,
                instance_protocol: ipr,
                elb_port: ep,
                elb_protocol: epr,
            }
        })
        .collect())
}

/// The listeners to create: one per load-balancer port (the first mapping of a port wins;
/// AWS refuses two listeners on one port).
pub fn listeners(mappings: &[PortMapping]) -> Vec<PortMapping> {
    let mut out: Vec<PortMapping> = Vec::new();
    for m in mappings {
        if !out.iter().any(|x| x.elb_port == m.elb_port) {
            out.push(m.clone());
        }
    }
    out
}

fn is_http(protocol: &str) -> bool {
    matches!(protocol, "HTTP" | "HTTPS")
}

/// The health check target `"<PROTO>:<port><path>"` of the first mapping with an HTTP(S)
/// instance protocol, else of the first mapping; the path (default `/`) only for HTTP(S).
pub fn health_check_target(mappings: &[PortMapping], path: Option<&str>) -> String {
    let m = mappings
        .iter()
        .find(|m| is_http(&m.instance_protocol))
        .or_else(|| mappings.first());
    let Some(m) = m else {
        return "HTTP:80/".to_string();
    };
    if is_http(&m.instance_protocol) {
        let path = path.filter(|p| !p.is_empty()).unwrap_or("/");
        format!("{}:{}{path}", m.instance_protocol, m.instance_port)
    } else {
        format!("{}:{}", m.instance_protocol, m.instance_port)
    }
}

/// Stickiness of `elb_sticky_app_cookie`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Stickiness {
    /// `ELB`/`AWSELB`: a load-balancer generated cookie.
    LoadBalancerCookie,
    /// An application cookie of this name.
    AppCookie(String),
}

impl Stickiness {
    pub fn from_option(v: Option<&str>) -> Option<Stickiness> {
        let v = v?.trim();
        if v.is_empty() {
            return None;
        }
        Some(match v {
            "ELB" | "AWSELB" => Stickiness::LoadBalancerCookie,
            other => Stickiness::AppCookie(other.to_string()),
        })
    }
}

/// The name of the sticky policy.
pub const STICKY_POLICY_NAME: &str = "session-cookie-policy";

/// Everything about a hostclass's classic load balancer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ElbPlan {
    pub human_name: String,
    /// The LoadBalancerName.
    pub name: String,
    /// `<hostclass>[-test]-<env>.<domain>`, when the hostclass has a domain.
    pub cname: Option<String>,
    /// `<elb_dns_alias>.<domain>` (not in testing mode).
    pub alias: Option<String>,
    pub listeners: Vec<PortMapping>,
    /// `internet-facing` when `elb_public`, else `internal`.
    pub internal: bool,
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
    pub health_check_target: String,
    pub idle_timeout: u32,
    /// 0 disables connection draining.
    pub connection_draining: u32,
    pub cross_zone: bool,
    pub stickiness: Option<Stickiness>,
    /// Name to look the TLS certificate up by (`elb_cert_name`, else the CNAME).
    pub certificate_name: Option<String>,
    pub tags: Vec<(String, String)>,
}

impl ElbPlan {
    /// `elb create`/`update`: what it would do (`done`: `None`), or what it did (`Some((created,
    /// DNS name))`); JSON: the plan.
    pub fn update_printout(&self, done: Option<(bool, &str)>) -> crate::printout::Printout {
        let names = format!("{} ({})", self.name, self.human_name);
        let line = match done {
            None => format!("would create or update {names}"),
            Some((true, dns)) => format!("created {names} {dns}"),
            Some((false, dns)) => format!("updated {names} {dns}"),
        };
        crate::printout::Printout::new(self, vec![line])
    }

    /// Whether any listener needs a certificate.
    pub fn needs_certificate(&self) -> bool {
        self.listeners
            .iter()
            .any(|l| matches!(l.elb_protocol.as_str(), "HTTPS" | "SSL"))
    }
}

/// A target group (ELBv2) of a hostclass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetGroupPlan {
    pub name: String,
    /// The first mapping's load-balancer protocol (`SSL` → `TLS`).
    pub protocol: String,
    pub port: u16,
    pub health_check_protocol: String,
    pub health_check_port: u16,
    /// Only for HTTP(S).
    pub health_check_path: Option<String>,
    pub tags: Vec<(String, String)>,
}

/// The target group of a hostclass from its first port mapping (spec §4.10).
pub fn target_group_plan(
    env: &str,
    hostclass: &str,
    mappings: &[PortMapping],
    health_check_path: Option<&str>,
    tags: Vec<(String, String)>,
) -> TargetGroupPlan {
    let first = mappings.first().cloned().unwrap_or(PortMapping {
        instance_port: 80,
        instance_protocol: "HTTP".into(),
        elb_port: 80,
        elb_protocol: "HTTP".into(),
    });
    let protocol = if first.elb_protocol == "SSL" {
        "TLS".to_string()
    } else {
        first.elb_protocol.clone()
    };
    let hc_protocol = if is_http(&first.instance_protocol) {
        first.instance_protocol.clone()
    } else {
        "TCP".to_string()
    };
    TargetGroupPlan {
        name: target_group_name(env, hostclass),
        protocol,
        port: first.elb_port,
        health_check_path: is_http(&hc_protocol).then(|| {
            health_check_path
                .filter(|p| !p.is_empty())
                .unwrap_or("/")
                .to_string()
        }),
        health_check_protocol: hc_protocol,
        health_check_port: first.instance_port,
        tags,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_lines_say_what_was_done() {
        let plan = ElbPlan {
            human_name: "ci-mhcweb".into(),
            name: "abc".into(),
            cname: None,
            alias: None,
            listeners: Vec::new(),
            internal: true,
            subnet_ids: Vec::new(),
            security_group_ids: Vec::new(),
            health_check_target: "TCP:80".into(),
            idle_timeout: 60,
            connection_draining: 300,
            cross_zone: true,
            stickiness: None,
            certificate_name: None,
            tags: Vec::new(),
        };
        assert_eq!(
            plan.update_printout(None).lines,
            ["would create or update abc (ci-mhcweb)"]
        );
        assert_eq!(
            plan.update_printout(Some((true, "abc.elb"))).lines,
            ["created abc (ci-mhcweb) abc.elb"]
        );
        let p = plan.update_printout(Some((false, "abc.elb")));
        assert_eq!(p.lines, ["updated abc (ci-mhcweb) abc.elb"]);
        assert_eq!(p.json["human_name"], "ci-mhcweb");
    }

    fn rows(o: PortOptions<'_>) -> Vec<(u16, String, u16, String)> {
        port_mappings(&o)
            .unwrap()
            .into_iter()
            .map(|m| {
                (
                    m.instance_port,
                    m.instance_protocol,
                    m.elb_port,
                    m.elb_protocol,
                )
            })
            .collect()
    }

    fn r(ip: u16, ipr: &str, ep: u16, epr: &str) -> (u16, String, u16, String) {
        (ip, ipr.into(), ep, epr.into())
    }

    #[test]
    fn port_matrix_acceptance() {
        assert_eq!(
            rows(PortOptions::default()),
            vec![r(80, "HTTP", 80, "HTTP")]
        );
        assert_eq!(
            rows(PortOptions {
                elb_instance_port: Some("80, 80"),
                elb_instance_protocol: Some("HTTP"),
                elb_port: Some("443"),
                elb_protocol: Some("HTTPS, HTTPS"),
            }),
            vec![r(80, "HTTP", 443, "HTTPS"), r(80, "HTTP", 443, "HTTPS")]
        );
        assert_eq!(
            rows(PortOptions {
                elb_instance_port: Some("80, 80, 27017"),
                elb_instance_protocol: Some("HTTP, HTTP, TCP"),
                elb_port: Some("443, 443, 27017"),
                elb_protocol: Some("HTTPS, HTTPS, TCP"),
            }),
            vec![
                r(80, "HTTP", 443, "HTTPS"),
                r(80, "HTTP", 443, "HTTPS"),
                r(27017, "TCP", 27017, "TCP")
            ]
        );
        assert_eq!(
            rows(PortOptions {
                elb_instance_port: Some("80, 80"),
                elb_instance_protocol: Some("http"),
                elb_port: Some("443"),
                elb_protocol: Some("https, https"),
            }),
            vec![r(80, "HTTP", 443, "HTTPS"), r(80, "HTTP", 443, "HTTPS")]
        );
        assert_eq!(
            rows(PortOptions {
                elb_instance_port: Some("80, 9001"),
                elb_instance_protocol: Some("HTTP, HTTP"),
                elb_port: Some("443, 80, 9002"),
                elb_protocol: Some("HTTPS, HTTP, HTTP"),
            }),
            vec![
                r(80, "HTTP", 443, "HTTPS"),
                r(9001, "HTTP", 80, "HTTP"),
                r(9002, "HTTP", 9002, "HTTP")
            ]
        );
        assert_eq!(
            rows(PortOptions {
                elb_instance_port: Some("80"),
                elb_instance_protocol: Some("HTTP"),
                ..Default::default()
            }),
            vec![r(80, "HTTP", 80, "HTTP")]
        );
        assert_eq!(
            rows(PortOptions {
                elb_instance_port: Some("80"),
                elb_instance_protocol: Some("HTTP"),
                elb_port: Some("443, 9001"),
                elb_protocol: Some("HTTPS, HTTP"),
            }),
            vec![r(80, "HTTP", 443, "HTTPS"), r(80, "HTTP", 9001, "HTTP")]
        );
    }

    #[test]
    fn port_config_errors() {
        assert!(port_mappings(&PortOptions {
            elb_port: Some("eighty"),
            ..Default::default()
        })
        .is_err());
        assert!(port_mappings(&PortOptions {
            elb_protocol: Some("TCP"),
            ..Default::default()
        })
        .is_err());
        // A port alone takes its protocol from the port.
        assert_eq!(
            rows(PortOptions {
                elb_port: Some("8080"),
                ..Default::default()
            }),
            vec![r(80, "HTTP", 8080, "TCP")]
        );
    }

    #[test]
    fn names_acceptance() {
        assert_eq!(
            cname("mhcunit", "unittestenv", "test.example.com", false),
            "mhcunit-unittestenv.test.example.com"
        );
        assert_eq!(
            cname("mhcunit", "unittestenv", "test.example.com", true),
            "mhcunit-test-unittestenv.test.example.com"
        );
        assert_eq!(
            human_name("unittestenv", "mhcbar", false).unwrap(),
            "unittestenv-mhcbar"
        );
        assert_eq!(
            human_name("unittestenv", "mhcfoo", true).unwrap(),
            "unittestenv-mhcfoo-test"
        );
        assert_eq!(human_name("e", "mhc_x.y", false).unwrap(), "e-mhcxy");
        let id = elb_id("unittestenv-mhcbar");
        assert_eq!(id.len(), 32);
        assert_eq!(id, sha256_hex("unittestenv-mhcbar")[..32]);
        assert!(human_name(&"x".repeat(250), "mhcfoo", false).is_err());
    }

    #[test]
    fn target_group_names() {
        assert_eq!(target_group_name("ci", "mhc_foo"), "ci-mhc-foo");
        let long = target_group_name("production", "mhcverylonghostclassname");
        assert_eq!(long.len(), 32);
        assert!(long.starts_with("production-mhcverylonghostc"));
        assert_eq!(
            &long[27..],
            &sha256_hex("production-mhcverylonghostclassname")[..5]
        );
        // A multi-byte character at the cut (byte 27 falls inside "é") must not panic.
        let accented = target_group_name("production", "mhcverylonghostéclassname");
        assert_eq!(accented.chars().count(), 32);
        assert!(accented.starts_with("production-mhcverylonghosté"));
    }

    #[test]
    fn health_checks_and_listeners() {
        let m = port_mappings(&PortOptions {
            elb_instance_port: Some("27017, 80"),
            elb_instance_protocol: Some("TCP, HTTP"),
            elb_port: Some("27017, 443"),
            elb_protocol: Some("TCP, HTTPS"),
        })
        .unwrap();
        assert_eq!(health_check_target(&m, Some("/health")), "HTTP:80/health");
        assert_eq!(health_check_target(&m[..1], Some("/health")), "TCP:27017");
        assert_eq!(health_check_target(&m[1..], None), "HTTP:80/");
        let dup = port_mappings(&PortOptions {
            elb_instance_port: Some("80, 80"),
            elb_port: Some("443, 443"),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(listeners(&dup).len(), 1);
    }

    #[test]
    fn target_group_from_first_mapping() {
        let m = port_mappings(&PortOptions {
            elb_instance_port: Some("8080"),
            elb_instance_protocol: Some("HTTP"),
            elb_port: Some("443"),
            elb_protocol: Some("SSL"),
        })
        .unwrap();
        let tg = target_group_plan("ci", "mhcweb", &m, Some("/ok"), vec![]);
        assert_eq!((tg.protocol.as_str(), tg.port), ("TLS", 443));
        assert_eq!(
            (tg.health_check_protocol.as_str(), tg.health_check_port),
            ("HTTP", 8080)
        );
        assert_eq!(tg.health_check_path.as_deref(), Some("/ok"));
        let tcp = port_mappings(&PortOptions {
            elb_instance_port: Some("27017"),
            elb_port: Some("27017"),
            ..Default::default()
        })
        .unwrap();
        let tg = target_group_plan("ci", "mhcdb", &tcp, None, vec![]);
        assert_eq!(tg.health_check_protocol, "TCP");
        assert_eq!(tg.health_check_path, None);
        let dflt = target_group_plan("ci", "mhcweb", &[], None, vec![]);
        assert_eq!((dflt.protocol.as_str(), dflt.port), ("HTTP", 80));
        assert_eq!(dflt.health_check_path.as_deref(), Some("/"));
    }

    #[test]
    fn stickiness() {
        assert_eq!(
            Stickiness::from_option(Some("AWSELB")),
            Some(Stickiness::LoadBalancerCookie)
        );
        assert_eq!(
            Stickiness::from_option(Some("JSESSIONID")),
            Some(Stickiness::AppCookie("JSESSIONID".into()))
        );
        assert_eq!(Stickiness::from_option(Some(" ")), None);
        assert_eq!(Stickiness::from_option(None), None);
    }

    #[test]
    fn names_in_the_list() {
        let tags = |pairs: &[(&str, &str)]| -> std::collections::BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let web = tags(&[("environment", "ci"), ("hostclass", "mhcweb")]);
        let id = elb_id("ci-mhcweb");
        assert_eq!(listed_name("ci", &id, &web).as_deref(), Some("ci-mhcweb"));
        let test = tags(&[
            ("environment", "ci"),
            ("hostclass", "mhcweb"),
            ("is_testing", "1"),
        ]);
        let test_id = elb_id("ci-mhcweb-test");
        assert_eq!(
            listed_name("ci", &test_id, &test).as_deref(),
            Some("ci-mhcweb-test")
        );
        // Tags that do not give back the id: the id; another environment: not listed.
        assert_eq!(listed_name("ci", "custom", &web).as_deref(), Some("custom"));
        assert_eq!(listed_name("prod", &id, &web), None);
        assert_eq!(listed_name("ci", &id, &tags(&[])), None);
    }
}
