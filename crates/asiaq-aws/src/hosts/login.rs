//! `asiaq ssh HOST`: finds the instance (one describe of the environment's instances),
//! probes port 22 for a direct route (an SSH banner within 2 s per address), else picks the
//! jump host, and runs the system `ssh` ([`asiaq_core::ssh_login`] decides all of it).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use asiaq_core::ssh_login::{
    choose_route, direct_candidates, find_target, is_ssh_banner, jump_host_address, tunnel_host,
    HostQuery, Login, LoginError, Route, Target, Tunnel,
};
use tokio::io::AsyncReadExt;

use crate::context::AwsContext;
use crate::error::AwsError;

/// Why no login could be put together.
#[derive(Debug, thiserror::Error)]
pub enum LoginFailure {
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// HOST, a tunnel, or (for [`LoginError::NoRoute`]) the environment.
    #[error(transparent)]
    Login(#[from] LoginError),
}

/// What `asiaq ssh` was asked.
#[derive(Debug, Clone, Default)]
pub struct LoginRequest {
    pub env: String,
    pub host: String,
    pub first: bool,
    pub user: Option<String>,
    /// `-L` specifications as given.
    pub tunnels: Vec<String>,
    pub command: Vec<String>,
    /// `-F` (`ASIAQ_SSH_CONFIG`, else `[disco_aws] ssh_config_file`).
    pub config_file: Option<PathBuf>,
    /// `[disco_aws] ssh_proxy_command`: when set, every connection goes through it.
    pub proxy_command: Option<String>,
    /// `[disco_aws] jump_box_hostclasses`.
    pub jump_hostclasses: Vec<String>,
}

/// Checks what needs no AWS call: HOST and the tunnels (exit 2 material).
pub fn check(req: &LoginRequest) -> Result<(HostQuery, Vec<Tunnel>), LoginError> {
    let query = HostQuery::parse(&req.host)?;
    let tunnels = req
        .tunnels
        .iter()
        .map(|t| Tunnel::parse(t))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((query, tunnels))
}

/// The login for `req`: the instance HOST names among the environment's running instances,
/// and the route to it.
pub async fn plan(ctx: &AwsContext, req: &LoginRequest) -> Result<Login, LoginFailure> {
    let (query, tunnels) = check(req)?;
    let (_, hosts) = super::instances::select(ctx, &req.env, None).await?;
    let target = find_target(&hosts, &query, req.first, &req.env)?;
    let route = match (&target, &req.proxy_command) {
        (Target::Address(a), _) => Route::Direct { address: a.clone() },
        (Target::Instance(h), Some(_)) => Route::Proxy {
            address: h
                .address()
                .ok_or_else(|| LoginError::NoAddress { name: h.id.clone() })?
                .to_string(),
        },
        (Target::Instance(h), None) => {
            let mut reachable = None;
            for address in direct_candidates(h) {
                tracing::info!("probing port 22 of {address}");
                if ssh_answers(&address).await {
                    reachable = Some(address);
                    break;
                }
            }
            let jump = match reachable {
                Some(_) => None,
                None => jump_host_address(&hosts, &req.jump_hostclasses),
            };
            choose_route(
                h,
                reachable.as_deref(),
                jump.as_deref(),
                &req.env,
                &req.jump_hostclasses,
            )?
        }
    };
    let tunnel_to = tunnel_host(&target, &route);
    Ok(Login {
        tunnels: tunnels.iter().map(|t| t.arg(&tunnel_to)).collect(),
        route,
        user: req.user.clone(),
        config_file: req.config_file.as_ref().map(|f| f.display().to_string()),
        proxy_command: req.proxy_command.clone(),
        command: req.command.clone(),
    })
}

/// Whether an SSH server answers on `address:22` within 2 s: the connection is accepted and
/// the server's identification string arrives ([`is_ssh_banner`]).
pub async fn ssh_answers(address: &str) -> bool {
    let probe = async {
        let mut stream = tokio::net::TcpStream::connect((address, 22)).await.ok()?;
        let mut buf = [0u8; 4];
        stream.read_exact(&mut buf).await.ok()?;
        Some(is_ssh_banner(&buf))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), probe).await,
        Ok(Some(true))
    )
}

/// Runs the login's `ssh` on this terminal (stdin, stdout and stderr inherited) and returns
/// its exit status (255 when ssh itself failed or was killed).
pub fn run(login: &Login) -> std::io::Result<i32> {
    let argv = login.argv();
    let status = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .status()?;
    Ok(status.code().unwrap_or(255))
}
