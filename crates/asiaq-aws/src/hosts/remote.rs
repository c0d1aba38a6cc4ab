//! Running commands on instances over SSH (spec §4.26 remote exec), with the system `ssh`
//! so the user's ssh configuration, agent and keys apply.
//!
//! The route to an instance: a configured `ProxyCommand` (`[disco_aws] ssh_proxy_command`,
//! e.g. a bastion or an SSM tunnel; ssh expands `%h` and `%p`) when there is one; otherwise
//! directly when port 22 answers within 2 s; otherwise through the jump host (the first
//! `jump_box_hostclasses` hostclass with a running, smoke-tested instance, preferring one
//! with a public IP) as a `ProxyJump`. The command line is [`SshOptions::ssh_argv`]'s.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use asiaq_core::hosts::HostInfo;
use asiaq_core::ssh::SshOptions;
use futures::stream::{self, StreamExt};

use crate::context::AwsContext;
use crate::error::AwsError;

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

pub use asiaq_core::ssh_login::jump_host_address;

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

impl SshRoute {
    /// The ssh options of one connection ([`SshOptions`] builds the command line): the
    /// proxy command when there is one, else the jump host when `use_jump`.
    pub fn options(&self, use_jump: bool) -> SshOptions {
        SshOptions {
            proxy_command: self.proxy_command.clone(),
            jump_host: self
                .jump_host
                .clone()
                .filter(|_| use_jump && self.proxy_command.is_none()),
            config_file: self.config_file.as_ref().map(|f| f.display().to_string()),
            ..SshOptions::default()
        }
    }
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
    let argv = route
        .options(use_jump)
        .ssh_argv(user, &address, false, false, command);
    let out = tokio::process::Command::new(&argv[0])
        .args(&argv[1..])
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

/// The route to the instances of VPC `vpc_id` for `user`: the configured proxy command
/// when there is one; otherwise the jump host ([`jump_host_address`] among the VPC's
/// instances, one describe) for instances not reachable directly.
pub async fn route(
    ctx: &AwsContext,
    vpc_id: &str,
    user: &str,
    proxy_command: Option<String>,
    config_file: Option<PathBuf>,
    jump_hostclasses: &[String],
) -> Result<SshRoute, AwsError> {
    let jump_host = if proxy_command.is_none() {
        let all = super::instances::describe(ctx, vpc_id, None).await?;
        jump_host_address(&all, jump_hostclasses).map(|addr| format!("{user}@{addr}"))
    } else {
        None
    };
    Ok(SshRoute {
        proxy_command,
        config_file,
        jump_host,
    })
}

/// What `aws exec` runs, and how it reaches the instances beyond the route it finds.
#[derive(Debug, Clone, Default)]
pub struct ExecRequest {
    pub user: String,
    pub command: String,
    /// On every instance at once, else one after another.
    pub concurrent: bool,
    /// `[disco_aws] ssh_proxy_command`.
    pub proxy_command: Option<String>,
    /// An ssh client configuration file (`ssh -F`).
    pub config_file: Option<PathBuf>,
    /// `[disco_aws] jump_box_hostclasses`.
    pub jump_hostclasses: Vec<String>,
}

/// `aws exec`: runs the request's command on the running instances `selector` picks in
/// environment `env` (refused when none runs), over the [`route`] to them; each result
/// goes to `done` as it comes. Returns the exit codes ([`exec_all`]).
pub async fn exec_selected(
    ctx: &AwsContext,
    env: &str,
    selector: &super::instances::Selector,
    req: &ExecRequest,
    done: impl FnMut(&RemoteResult),
) -> Result<Vec<i32>, crate::FlowError> {
    use asiaq_core::printout::Refusal;
    let (network, hosts) = super::instances::select(ctx, env, Some(selector)).await?;
    let hosts: Vec<HostInfo> = hosts.into_iter().filter(|h| h.state == "running").collect();
    if hosts.is_empty() {
        return Err(Refusal::failed("no running instances match").into());
    }
    let (proxy, config) = (req.proxy_command.clone(), req.config_file.clone());
    let route = route(
        ctx,
        &network.vpc_id,
        &req.user,
        proxy,
        config,
        &req.jump_hostclasses,
    )
    .await?;
    let (user, command) = (&req.user, &req.command);
    exec_all(&route, &hosts, user, command, req.concurrent, done)
        .await
        .map_err(|e| Refusal::failed(format!("cannot run ssh: {e}")).into())
}

/// Runs `command` as `user` on every one of `hosts`: all at once (up to 32 connections)
/// when `concurrent`, else one after another. Each result goes to `done` as it comes.
/// Returns the exit codes, in the order the results came.
pub async fn exec_all(
    route: &SshRoute,
    hosts: &[HostInfo],
    user: &str,
    command: &str,
    concurrent: bool,
    mut done: impl FnMut(&RemoteResult),
) -> std::io::Result<Vec<i32>> {
    let mut codes = Vec::new();
    let mut results = stream::iter(hosts)
        .map(|h| exec(route, h, user, command))
        .buffer_unordered(if concurrent { 32 } else { 1 });
    while let Some(r) = results.next().await {
        let r = r?;
        done(&r);
        codes.push(r.code);
    }
    Ok(codes)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn options_of_a_route() {
        let route = SshRoute {
            proxy_command: Some("nc 127.0.0.1 2222".into()),
            config_file: Some("/tmp/c".into()),
            jump_host: Some("root@54.0.0.1".into()),
        };
        // A proxy command wins over the jump host.
        let o = route.options(true);
        assert_eq!(o.proxy_command.as_deref(), Some("nc 127.0.0.1 2222"));
        assert_eq!(o.jump_host, None);
        assert_eq!(o.config_file.as_deref(), Some("/tmp/c"));
        let a = o.ssh_argv("root", "10.0.0.5", false, false, "uptime");
        assert_eq!(a[..3], ["ssh", "-F", "/tmp/c"]);
        assert!(a.contains(&"ProxyCommand=nc 127.0.0.1 2222".to_string()));
        assert_eq!(a[a.len() - 5..], ["-l", "root", "--", "10.0.0.5", "uptime"]);
        // Without one, the jump host only when asked (the host is not reachable directly).
        let route = SshRoute {
            jump_host: Some("root@54.0.0.1".into()),
            ..Default::default()
        };
        let a = route
            .options(true)
            .ssh_argv("u", "10.0.0.5", false, false, "true");
        assert!(a.contains(&"ProxyJump=root@54.0.0.1".to_string()));
        assert_eq!(route.options(false).jump_host, None);
    }
}
