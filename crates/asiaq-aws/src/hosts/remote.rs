//! Running commands on instances over SSH (spec §4.26 remote exec), with the system `ssh`
//! so the user's ssh configuration, agent and keys apply.
//!
//! The route to an instance: a configured `ProxyCommand` (`[disco_aws] ssh_proxy_command`,
//! e.g. a bastion or an SSM tunnel; ssh expands `%h` and `%p`) when there is one; otherwise
//! directly when port 22 answers within 2 s; otherwise through the jump host (the first
//! `jump_box_hostclasses` hostclass with a running, smoke-tested instance, preferring one
//! with a public IP) with `ssh -J`.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use asiaq_core::hosts::HostInfo;

/// How to reach instances.
#[derive(Debug, Clone, Default)]
pub struct SshRoute {
    /// `ProxyCommand` for every connection.
    pub proxy_command: Option<String>,
    /// An ssh client configuration file (`ssh -F`), e.g. with keys for the environment.
    pub config_file: Option<PathBuf>,
    /// `user@address` of the jump host, used when an instance is not reachable directly.
    pub jump_host: Option<String>,
}

/// The outcome of one remote command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteResult {
    pub instance_id: String,
    pub address: String,
    /// The remote exit status (255 is ssh's own failure).
    pub code: i32,
    /// stdout and stderr of the command, merged in order of arrival per stream.
    pub output: Vec<u8>,
}

/// The jump host among `hosts`: the first of `jump_hostclasses` with a running, smoke-tested
/// instance, preferring one with a public IP. Returns its address.
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

/// Whether something accepts TCP connections on `address:22` within 2 s.
pub async fn port_22_open(address: &str) -> bool {
    matches!(
        tokio::time::timeout(
            Duration::from_secs(2),
            tokio::net::TcpStream::connect((address, 22))
        )
        .await,
        Ok(Ok(_))
    )
}

/// The ssh arguments (without the program) to run `command` as `user` on `address`.
pub fn ssh_args(
    route: &SshRoute,
    user: &str,
    address: &str,
    use_jump: bool,
    command: &str,
) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(f) = &route.config_file {
        args.push("-F".to_string());
        args.push(f.display().to_string());
    }
    for o in [
        "ConnectTimeout=10",
        "BatchMode=yes",
        "StrictHostKeyChecking=no",
        "UserKnownHostsFile=/dev/null",
        "LogLevel=ERROR",
    ] {
        args.push("-o".to_string());
        args.push(o.to_string());
    }
    if let Some(p) = &route.proxy_command {
        args.push("-o".to_string());
        args.push(format!("ProxyCommand={p}"));
    } else if use_jump {
        if let Some(j) = &route.jump_host {
            args.push("-J".to_string());
            args.push(j.clone());
        }
    }
    args.push(format!("-l{user}"));
    args.push(address.to_string());
    args.push(command.to_string());
    args
}

/// Runs `command` on one instance and collects its output and exit status.
pub async fn exec(
    route: &SshRoute,
    host: &HostInfo,
    user: &str,
    command: &str,
) -> std::io::Result<RemoteResult> {
    let address = host
        .address()
        .ok_or_else(|| std::io::Error::other(format!("{} has no IP address", host.id)))?
        .to_string();
    let use_jump =
        route.proxy_command.is_none() && route.jump_host.is_some() && !port_22_open(&address).await;
    let out = tokio::process::Command::new("ssh")
        .args(ssh_args(route, user, &address, use_jump, command))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output()
        .await?;
    let mut output = out.stdout;
    output.extend_from_slice(&out.stderr);
    Ok(RemoteResult {
        instance_id: host.id.clone(),
        address,
        code: out.status.code().unwrap_or(255),
        output,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn host(id: &str, hc: &str, public: Option<&str>, smoke: bool) -> HostInfo {
        let mut tags = BTreeMap::from([("hostclass".to_string(), hc.to_string())]);
        if smoke {
            tags.insert("smoketest".into(), "tested".into());
        }
        HostInfo {
            id: id.into(),
            state: "running".into(),
            tags,
            public_ip: public.map(str::to_string),
            private_ips: vec![format!("10.0.0.{}", id.len())],
            private_ip: None,
            instance_type: "t2.micro".into(),
            image_id: "ami-1".into(),
            launch_time: None,
            ami_creation_time: None,
            security_groups: vec![],
            availability_zone: "a".into(),
            subnet_id: None,
        }
    }

    #[test]
    fn jump_host_choice() {
        let hosts = vec![
            host("i-1", "mhcadminproxy", None, true),
            host("i-22", "mhcadminproxy", Some("54.0.0.1"), true),
            host("i-333", "mhcadminproxy", Some("54.0.0.2"), false),
        ];
        let jumps = vec!["mhcnone".to_string(), "mhcadminproxy".to_string()];
        assert_eq!(
            jump_host_address(&hosts, &jumps).as_deref(),
            Some("54.0.0.1")
        );
        assert_eq!(jump_host_address(&hosts, &["mhcx".to_string()]), None);
    }

    #[test]
    fn args() {
        let route = SshRoute {
            proxy_command: Some("nc 127.0.0.1 2222".into()),
            config_file: Some("/tmp/c".into()),
            jump_host: Some("root@54.0.0.1".into()),
        };
        let a = ssh_args(&route, "root", "10.0.0.5", true, "uptime");
        assert_eq!(&a[..2], ["-F", "/tmp/c"]);
        assert!(a.contains(&"ProxyCommand=nc 127.0.0.1 2222".to_string()));
        assert!(!a.contains(&"-J".to_string()));
        assert_eq!(&a[a.len() - 3..], ["-lroot", "10.0.0.5", "uptime"]);
        let route = SshRoute {
            jump_host: Some("root@54.0.0.1".into()),
            ..Default::default()
        };
        let a = ssh_args(&route, "u", "10.0.0.5", true, "true");
        assert!(a.windows(2).any(|w| w == ["-J", "root@54.0.0.1"]));
    }
}
