//! `asiaq ssh HOST` (the original's `disco_ssh.py` and `disco_ssh.sh`, spec §2.24): which
//! instance HOST names, which route reaches it, and the command line of the system `ssh`.
//! Pure: the AWS layer describes the instances and probes port 22, this module decides.
//!
//! - HOST is an IPv4 address, an instance id (`i-...`), or a part of the `hostname` or
//!   `hostclass` tag of a running instance of the environment. Several matches are an error
//!   that lists them, unless `--first`, and then they must all be of one hostclass (as in
//!   the original); the first is the one whose hostname (else id) sorts first.
//! - The route is direct to the first address whose port 22 answers with an SSH banner
//!   within 2 s (the public IP, then each interface's private IP); otherwise through the jump host (the first
//!   `jump_box_hostclasses` hostclass with a running, smoke-tested instance, preferring its
//!   public IP) to the instance's private IP. An IPv4 address of no instance of the
//!   environment is used as given, directly, as the original did.
//! - The command is the system `ssh` with agent forwarding (`-A`) and `-J` for the jump,
//!   so the user's ssh configuration, agent and keys apply to both hops.

use std::net::Ipv4Addr;

use serde::Serialize;

use crate::hosts::HostInfo;
use crate::ssh::shell_command;

/// What HOST names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostQuery {
    Ipv4(String),
    InstanceId(String),
    /// A part of the hostname or hostclass tag.
    Name(String),
}

/// Why `asiaq ssh` cannot pick a host, a route or a tunnel (all are the user's input but
/// [`LoginError::NoRoute`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    #[error("HOST is empty (expected an IPv4 address, an instance id, or part of a hostname or hostclass)")]
    EmptyHost,
    #[error("no running instance of environment {env} matches {query:?} (by IPv4 address, instance id, or part of the hostname or hostclass tag)")]
    NoMatch { env: String, query: String },
    #[error("{} running instances of environment {env} match {query:?}: {}; name one (its instance id, IP, or more of its hostname), or take the first with --first", names.len(), names.join(", "))]
    TooMany {
        env: String,
        query: String,
        names: Vec<String>,
    },
    #[error("--first: the instances matching {query:?} are of several hostclasses ({}); name one hostclass", hostclasses.join(", "))]
    SeveralHostclasses {
        query: String,
        hostclasses: Vec<String>,
    },
    #[error("{name} has no IP address")]
    NoAddress { name: String },
    #[error("no direct route to {name} (port 22 does not answer on {}) and no jump host in {env}: no running, smoke-tested instance of jump_box_hostclasses ({})", if tried.is_empty() { "any address".to_string() } else { tried.join(", ") }, if jump_hostclasses.is_empty() { "none configured".to_string() } else { jump_hostclasses.join(" ") })]
    NoRoute {
        name: String,
        env: String,
        tried: Vec<String>,
        jump_hostclasses: Vec<String>,
    },
    #[error("-L {0:?}: expected PORT, LOCAL_PORT:REMOTE_PORT or LOCAL_PORT:HOST:REMOTE_PORT (ports 1-65535)")]
    BadTunnel(String),
}

impl HostQuery {
    pub fn parse(host: &str) -> Result<HostQuery, LoginError> {
        let host = host.trim();
        if host.is_empty() {
            return Err(LoginError::EmptyHost);
        }
        if host.parse::<Ipv4Addr>().is_ok() {
            return Ok(HostQuery::Ipv4(host.to_string()));
        }
        let is_id = host
            .strip_prefix("i-")
            .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_hexdigit()));
        Ok(if is_id {
            HostQuery::InstanceId(host.to_string())
        } else {
            HostQuery::Name(host.to_string())
        })
    }

    fn text(&self) -> &str {
        match self {
            HostQuery::Ipv4(s) | HostQuery::InstanceId(s) | HostQuery::Name(s) => s,
        }
    }

    fn matches(&self, h: &HostInfo) -> bool {
        match self {
            HostQuery::Ipv4(ip) => {
                h.public_ip.as_deref() == Some(ip)
                    || h.private_ip.as_deref() == Some(ip)
                    || h.private_ips.iter().any(|p| p == ip)
            }
            HostQuery::InstanceId(id) => &h.id == id,
            HostQuery::Name(part) => [h.tag("hostname"), h.hostclass()]
                .into_iter()
                .flatten()
                .any(|v| v.contains(part.as_str())),
        }
    }
}

/// What HOST turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target<'a> {
    Instance(&'a HostInfo),
    /// An IPv4 address of no instance of the environment: used as given.
    Address(String),
}

/// How an instance is called in messages: its hostname tag (else its id) and its id.
pub fn display_name(h: &HostInfo) -> String {
    match h.tag("hostname") {
        Some(name) if !name.is_empty() => format!("{name} ({})", h.id),
        _ => h.id.clone(),
    }
}

fn sort_key(h: &HostInfo) -> (String, String) {
    (h.tag("hostname").unwrap_or(&h.id).to_string(), h.id.clone())
}

/// The instance among `hosts` (the environment's live instances) that `query` names;
/// only running instances count.
pub fn find_target<'a>(
    hosts: &'a [HostInfo],
    query: &HostQuery,
    first: bool,
    env: &str,
) -> Result<Target<'a>, LoginError> {
    let mut matched: Vec<&HostInfo> = hosts
        .iter()
        .filter(|h| h.state == "running" && query.matches(h))
        .collect();
    matched.sort_by_key(|h| sort_key(h));
    match matched.as_slice() {
        [] => match query {
            HostQuery::Ipv4(ip) => Ok(Target::Address(ip.clone())),
            _ => Err(LoginError::NoMatch {
                env: env.to_string(),
                query: query.text().to_string(),
            }),
        },
        [one] => Ok(Target::Instance(one)),
        many if first => {
            let mut hostclasses: Vec<String> = many
                .iter()
                .map(|h| h.hostclass().unwrap_or("(no hostclass)").to_string())
                .collect();
            hostclasses.dedup();
            hostclasses.sort();
            hostclasses.dedup();
            if hostclasses.len() > 1 {
                return Err(LoginError::SeveralHostclasses {
                    query: query.text().to_string(),
                    hostclasses,
                });
            }
            Ok(Target::Instance(many[0]))
        }
        many => Err(LoginError::TooMany {
            env: env.to_string(),
            query: query.text().to_string(),
            names: many.iter().map(|h| display_name(h)).collect(),
        }),
    }
}

/// The addresses to probe for a direct route, in order: the public IP, then each
/// interface's private IP (the primary one first when it is not listed).
pub fn direct_candidates(h: &HostInfo) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let all = h
        .public_ip
        .iter()
        .chain(h.private_ips.iter())
        .chain(h.private_ip.iter());
    for a in all {
        if !a.is_empty() && !out.contains(a) {
            out.push(a.clone());
        }
    }
    out
}

/// Whether the first bytes a server sent on port 22 are an SSH identification string
/// (`SSH-2.0-...`, RFC 4253 §4.2). A firewall or proxy that accepts every connection sends
/// none, so an accepted connection alone does not make a direct route.
pub fn is_ssh_banner(first_bytes: &[u8]) -> bool {
    first_bytes.starts_with(b"SSH-")
}

/// The jump host among `hosts`: the first of `jump_hostclasses` with a running,
/// smoke-tested instance, preferring one with a public IP. Returns its address (public,
/// else preferred private).
pub fn jump_host_address(hosts: &[HostInfo], jump_hostclasses: &[String]) -> Option<String> {
    for hc in jump_hostclasses {
        let mut candidates: Vec<&HostInfo> = hosts
            .iter()
            .filter(|h| h.hostclass() == Some(hc) && h.state == "running" && h.is_smoke_tested())
            .collect();
        candidates.sort_by_key(|h| h.public_ip.is_none());
        if let Some(h) = candidates.first() {
            return h.address().map(str::to_string);
        }
    }
    None
}

/// How the connection goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Route {
    /// Straight to `address`.
    Direct { address: String },
    /// Through the jump host at `jump` to `address` (a private IP).
    Jump { jump: String, address: String },
    /// Through the configured `ProxyCommand` (`[disco_aws] ssh_proxy_command`).
    Proxy { address: String },
}

impl Route {
    /// The address of the instance itself.
    pub fn address(&self) -> &str {
        match self {
            Route::Direct { address } | Route::Jump { address, .. } | Route::Proxy { address } => {
                address
            }
        }
    }
}

/// The route to `target`: the first address of [`direct_candidates`] found reachable
/// (`reachable`), else through `jump` (the [`jump_host_address`]) to its private IP.
pub fn choose_route(
    target: &HostInfo,
    reachable: Option<&str>,
    jump: Option<&str>,
    env: &str,
    jump_hostclasses: &[String],
) -> Result<Route, LoginError> {
    if let Some(address) = reachable {
        return Ok(Route::Direct {
            address: address.to_string(),
        });
    }
    let private = target
        .private_ip
        .as_deref()
        .or_else(|| target.preferred_private_ip())
        .ok_or_else(|| LoginError::NoAddress {
            name: display_name(target),
        })?;
    match jump {
        Some(jump) => Ok(Route::Jump {
            jump: jump.to_string(),
            address: private.to_string(),
        }),
        None => Err(LoginError::NoRoute {
            name: display_name(target),
            env: env.to_string(),
            tried: direct_candidates(target),
            jump_hostclasses: jump_hostclasses.to_vec(),
        }),
    }
}

/// The address a tunnel's remote end defaults to: the instance's private IP (where the
/// original's `disco_ssh.sh` pointed its tunnels), else the route's address.
pub fn tunnel_host(target: &Target<'_>, route: &Route) -> String {
    match target {
        Target::Instance(h) => h
            .private_ip
            .as_deref()
            .or_else(|| h.preferred_private_ip())
            .unwrap_or(route.address())
            .to_string(),
        Target::Address(a) => a.clone(),
    }
}

/// A local port forwarding (`ssh -L`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tunnel {
    pub local_port: u16,
    /// The remote end's host, as the instance sees it; `None`: [`tunnel_host`].
    pub host: Option<String>,
    pub remote_port: u16,
}

impl Tunnel {
    /// `PORT` (the same port on the instance), `LOCAL:REMOTE`, or `LOCAL:HOST:REMOTE`.
    pub fn parse(spec: &str) -> Result<Tunnel, LoginError> {
        let bad = || LoginError::BadTunnel(spec.to_string());
        let port = |s: &str| s.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(bad);
        let parts: Vec<&str> = spec.split(':').collect();
        match parts.as_slice() {
            [p] => Ok(Tunnel {
                local_port: port(p)?,
                host: None,
                remote_port: port(p)?,
            }),
            [l, r] => Ok(Tunnel {
                local_port: port(l)?,
                host: None,
                remote_port: port(r)?,
            }),
            [l, h, r] if !h.is_empty() && !h.contains(char::is_whitespace) => Ok(Tunnel {
                local_port: port(l)?,
                host: Some(h.to_string()),
                remote_port: port(r)?,
            }),
            _ => Err(bad()),
        }
    }

    /// The argument of `-L`.
    pub fn arg(&self, default_host: &str) -> String {
        format!(
            "{}:{}:{}",
            self.local_port,
            self.host.as_deref().unwrap_or(default_host),
            self.remote_port
        )
    }
}

/// Everything the `ssh` command line is made of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Login {
    pub route: Route,
    /// `-l`, and the jump host's user; `None`: the user's ssh configuration decides.
    pub user: Option<String>,
    /// `-L` arguments, complete.
    pub tunnels: Vec<String>,
    /// `-F`: an ssh client configuration file instead of `~/.ssh/config`.
    pub config_file: Option<String>,
    /// `ProxyCommand`, when the route is [`Route::Proxy`].
    pub proxy_command: Option<String>,
    /// A command to run instead of a login shell (the words as given, like `ssh HOST CMD`).
    pub command: Vec<String>,
}

impl Login {
    /// The `ssh` argv (program first): the original's options (`StrictHostKeyChecking=no`,
    /// `UserKnownHostsFile=/dev/null`, `ConnectTimeout=7`), `-A`, `-J` through the jump
    /// host, `-L` per tunnel, `-l USER`, then `--`, the address and the command.
    pub fn argv(&self) -> Vec<String> {
        let mut a: Vec<String> = vec!["ssh".into()];
        if let Some(f) = &self.config_file {
            a.extend(["-F".into(), f.clone()]);
        }
        a.push("-A".into());
        for o in [
            "StrictHostKeyChecking=no",
            "UserKnownHostsFile=/dev/null",
            "ConnectTimeout=7",
        ] {
            a.extend(["-o".into(), o.into()]);
        }
        match &self.route {
            Route::Jump { jump, .. } => {
                let hop = match &self.user {
                    Some(u) => format!("{u}@{jump}"),
                    None => jump.clone(),
                };
                a.extend(["-J".into(), hop]);
            }
            Route::Proxy { .. } => {
                if let Some(p) = &self.proxy_command {
                    a.extend(["-o".into(), format!("ProxyCommand={p}")]);
                }
            }
            Route::Direct { .. } => {}
        }
        for t in &self.tunnels {
            a.extend(["-L".into(), t.clone()]);
        }
        if let Some(u) = &self.user {
            a.extend(["-l".into(), u.clone()]);
        }
        // After `--`, ssh takes the words that follow the address as the command only.
        a.push("--".into());
        a.push(self.route.address().to_string());
        a.extend(self.command.iter().cloned());
        a
    }

    /// The command line as one line a shell would run (`--print`).
    pub fn command_line(&self) -> String {
        let argv = self.argv();
        shell_command(&argv.iter().map(String::as_str).collect::<Vec<_>>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn host(id: &str, hc: &str, hostname: &str, public: Option<&str>, private: &str) -> HostInfo {
        let mut tags = BTreeMap::from([("hostclass".to_string(), hc.to_string())]);
        if !hostname.is_empty() {
            tags.insert("hostname".into(), hostname.into());
        }
        HostInfo {
            id: id.into(),
            state: "running".into(),
            tags,
            public_ip: public.map(str::to_string),
            private_ips: vec![private.to_string()],
            private_ip: Some(private.to_string()),
            instance_type: "t2.micro".into(),
            image_id: "ami-1".into(),
            launch_time: None,
            ami_creation_time: None,
            security_groups: vec![],
            availability_zone: "us-west-2a".into(),
            subnet_id: None,
        }
    }

    fn hosts() -> Vec<HostInfo> {
        let mut stopped = host("i-0dead", "mhcweb", "mhcweb-9", None, "10.0.1.9");
        stopped.state = "stopped".into();
        let mut proxy = host(
            "i-0a1",
            "mhcadminproxy",
            "mhcadminproxy-1",
            Some("54.1.1.1"),
            "10.0.3.10",
        );
        proxy.tags.insert("smoketest".into(), "tested".into());
        vec![
            host("i-0b2", "mhcapp", "mhcapp-2", None, "10.0.1.12"),
            host("i-0b1", "mhcapp", "mhcapp-1", None, "10.0.1.11"),
            host("i-0c1", "mhcworker", "", None, "10.0.1.21"),
            proxy,
            stopped,
        ]
    }

    fn id(t: Target<'_>) -> String {
        match t {
            Target::Instance(h) => h.id.clone(),
            Target::Address(a) => a,
        }
    }

    #[test]
    fn host_queries() {
        assert_eq!(
            HostQuery::parse("10.0.1.11").unwrap(),
            HostQuery::Ipv4("10.0.1.11".into())
        );
        assert_eq!(
            HostQuery::parse("i-0b1").unwrap(),
            HostQuery::InstanceId("i-0b1".into())
        );
        // Not hex after i-: a name part.
        assert_eq!(
            HostQuery::parse("i-zone").unwrap(),
            HostQuery::Name("i-zone".into())
        );
        assert_eq!(
            HostQuery::parse("10.0.1").unwrap(),
            HostQuery::Name("10.0.1".into())
        );
        assert_eq!(HostQuery::parse("  "), Err(LoginError::EmptyHost));
    }

    #[test]
    fn matching_by_id_ip_hostname_and_hostclass() {
        let hs = hosts();
        let find = |q: &str, first: bool| {
            find_target(&hs, &HostQuery::parse(q).unwrap(), first, "ci").map(id)
        };
        assert_eq!(find("i-0b2", false).unwrap(), "i-0b2");
        assert_eq!(find("10.0.1.11", false).unwrap(), "i-0b1");
        assert_eq!(find("54.1.1.1", false).unwrap(), "i-0a1");
        assert_eq!(find("adminproxy", false).unwrap(), "i-0a1");
        assert_eq!(find("mhcapp-2", false).unwrap(), "i-0b2");
        // By hostclass when there is no hostname tag.
        assert_eq!(find("worker", false).unwrap(), "i-0c1");
        // An address of no instance is used as given.
        assert_eq!(find("192.168.7.7", false).unwrap(), "192.168.7.7");
        // Stopped instances do not count.
        assert!(matches!(
            find("mhcweb", false),
            Err(LoginError::NoMatch { .. })
        ));
        assert!(matches!(
            find("i-0dead", false),
            Err(LoginError::NoMatch { .. })
        ));
    }

    #[test]
    fn several_matches_are_an_error_unless_first_of_one_hostclass() {
        let hs = hosts();
        let q = HostQuery::parse("mhcapp").unwrap();
        let err = find_target(&hs, &q, false, "ci").unwrap_err();
        assert_eq!(
            err,
            LoginError::TooMany {
                env: "ci".into(),
                query: "mhcapp".into(),
                names: vec!["mhcapp-1 (i-0b1)".into(), "mhcapp-2 (i-0b2)".into()],
            }
        );
        assert!(err.to_string().starts_with(
            "2 running instances of environment ci match \"mhcapp\": mhcapp-1 (i-0b1), mhcapp-2 (i-0b2);"
        ));
        // --first: the first by hostname.
        assert_eq!(id(find_target(&hs, &q, true, "ci").unwrap()), "i-0b1");
        // ... but not across hostclasses.
        let q = HostQuery::parse("mhc").unwrap();
        assert_eq!(
            find_target(&hs, &q, true, "ci").unwrap_err(),
            LoginError::SeveralHostclasses {
                query: "mhc".into(),
                hostclasses: vec!["mhcadminproxy".into(), "mhcapp".into(), "mhcworker".into()],
            }
        );
        let err = find_target(&hs, &HostQuery::parse("nope").unwrap(), false, "ci").unwrap_err();
        assert_eq!(
            err.to_string(),
            "no running instance of environment ci matches \"nope\" (by IPv4 address, instance id, or part of the hostname or hostclass tag)"
        );
    }

    #[test]
    fn routes() {
        let hs = hosts();
        let jumps = vec!["mhcnone".to_string(), "mhcadminproxy".to_string()];
        assert_eq!(jump_host_address(&hs, &jumps).as_deref(), Some("54.1.1.1"));
        assert_eq!(jump_host_address(&hs[..3], &jumps), None);
        let proxy = &hs[3];
        assert_eq!(direct_candidates(proxy), vec!["54.1.1.1", "10.0.3.10"]);
        let app = &hs[1];
        assert_eq!(direct_candidates(app), vec!["10.0.1.11"]);
        assert_eq!(
            choose_route(app, Some("10.0.1.11"), Some("54.1.1.1"), "ci", &jumps).unwrap(),
            Route::Direct {
                address: "10.0.1.11".into()
            }
        );
        assert_eq!(
            choose_route(app, None, Some("54.1.1.1"), "ci", &jumps).unwrap(),
            Route::Jump {
                jump: "54.1.1.1".into(),
                address: "10.0.1.11".into()
            }
        );
        let err = choose_route(app, None, None, "ci", &jumps).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no direct route to mhcapp-1 (i-0b1) (port 22 does not answer on 10.0.1.11) and no jump host in ci: no running, smoke-tested instance of jump_box_hostclasses (mhcnone mhcadminproxy)"
        );
    }

    #[test]
    fn banners() {
        assert!(is_ssh_banner(b"SSH-2.0-OpenSSH_9.6\r\n"));
        assert!(!is_ssh_banner(b""));
        assert!(!is_ssh_banner(b"HTTP/1.1 400 Bad Request"));
    }

    #[test]
    fn tunnels() {
        assert_eq!(
            Tunnel::parse("8080").unwrap().arg("10.0.1.11"),
            "8080:10.0.1.11:8080"
        );
        assert_eq!(
            Tunnel::parse("15432:5432").unwrap().arg("10.0.1.11"),
            "15432:10.0.1.11:5432"
        );
        assert_eq!(
            Tunnel::parse("3306:db.internal:3306").unwrap().arg("x"),
            "3306:db.internal:3306"
        );
        for bad in ["", "0", "70000", "a", "1:2:3:4", "1::3", "http"] {
            assert_eq!(
                Tunnel::parse(bad),
                Err(LoginError::BadTunnel(bad.to_string())),
                "{bad}"
            );
        }
    }

    #[test]
    fn command_lines() {
        let login = Login {
            route: Route::Jump {
                jump: "54.1.1.1".into(),
                address: "10.0.1.11".into(),
            },
            user: Some("root".into()),
            tunnels: vec!["8080:10.0.1.11:8080".into()],
            config_file: Some("/home/u/.ssh/asiaq config".into()),
            proxy_command: None,
            command: vec!["uptime".into()],
        };
        assert_eq!(
            login.command_line(),
            "ssh -F '/home/u/.ssh/asiaq config' -A -o StrictHostKeyChecking=no \
             -o UserKnownHostsFile=/dev/null -o ConnectTimeout=7 -J root@54.1.1.1 \
             -L 8080:10.0.1.11:8080 -l root -- 10.0.1.11 uptime"
        );
        let direct = Login {
            route: Route::Direct {
                address: "54.1.1.1".into(),
            },
            user: None,
            tunnels: vec![],
            config_file: None,
            proxy_command: Some("ignored unless the route is a proxy".into()),
            command: vec![],
        };
        assert_eq!(
            direct.argv(),
            vec![
                "ssh",
                "-A",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "ConnectTimeout=7",
                "--",
                "54.1.1.1"
            ]
        );
        let proxied = Login {
            route: Route::Proxy {
                address: "10.0.1.11".into(),
            },
            proxy_command: Some("nc 127.0.0.1 2222".into()),
            ..direct
        };
        assert!(proxied
            .argv()
            .contains(&"ProxyCommand=nc 127.0.0.1 2222".to_string()));
    }
}
