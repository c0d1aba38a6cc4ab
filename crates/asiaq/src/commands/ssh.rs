//! `asiaq ssh HOST` (the original's `disco_ssh.py` and `disco_ssh.sh`): a login on an
//! instance of the environment, directly or through the jump host
//! ([`asiaq_aws::hosts::login`], [`asiaq_core::ssh_login`]).

use asiaq_aws::hosts::login::{self, LoginFailure, LoginRequest};
use asiaq_config::hostclass as hc_config;
use asiaq_core::env_vars::EnvVars;
use asiaq_core::ssh_login::{Login, LoginError};
use asiaq_engine::report as progress;
use clap::Args;
use serde::Serialize;

use crate::cli::GlobalArgs;
use crate::commands::{aws_session, hosts_env};
use crate::exit::CliError;
use crate::output::emit;

#[derive(Debug, Args)]
pub struct SshArgs {
    /// An IPv4 address, an instance id, or part of a hostname or hostclass
    pub host: String,
    /// When several instances (of one hostclass) match, take the first by hostname
    #[arg(long)]
    pub first: bool,
    /// User to log in as, on the jump host too (default: your ssh configuration's)
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Local tunnel: PORT, LOCAL:REMOTE or LOCAL:HOST:REMOTE (repeatable); HOST defaults to
    /// the instance's private IP
    #[arg(short = 'L', value_name = "PORT")]
    pub tunnels: Vec<String>,
    /// Print the ssh command instead of running it
    #[arg(long)]
    pub print: bool,
    /// A command to run on the host instead of a login shell (its words after HOST, as for
    /// ssh; after `--` when one starts with `-`)
    #[arg(trailing_var_arg = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

fn failure(e: LoginFailure) -> CliError {
    match e {
        LoginFailure::Aws(e) => e.into(),
        LoginFailure::Login(e @ LoginError::NoRoute { .. }) => CliError::failed(e.to_string()),
        LoginFailure::Login(e) => CliError::usage(e.to_string()),
    }
}

pub fn run(global: &GlobalArgs, a: &SshArgs) -> Result<(), CliError> {
    let cfg = hosts_env::load(global)?;
    let req = LoginRequest {
        env: cfg.env.clone(),
        host: a.host.clone(),
        first: a.first,
        user: a.user.clone(),
        tunnels: a.tunnels.clone(),
        command: a.command.clone(),
        config_file: cfg.ssh_config_file(std::env::var_os(EnvVars::ASIAQ_SSH_CONFIG)),
        proxy_command: hc_config::ssh_proxy_command(&cfg.aws),
        jump_hostclasses: hc_config::jump_box_hostclasses(&cfg.aws),
    };
    login::check(&req).map_err(|e| CliError::usage(e.to_string()))?;
    let mut planned: Option<Login> = None;
    let slot = &mut planned;
    aws_session::run(global, |ctx| async move {
        *slot = Some(login::plan(&ctx, &req).await.map_err(failure)?);
        Ok(())
    })?;
    let login = planned.ok_or_else(|| CliError::failed("no login was planned"))?;
    if a.print {
        #[derive(Serialize)]
        struct Printed<'a> {
            #[serde(flatten)]
            login: &'a Login,
            argv: Vec<String>,
        }
        let printed = Printed {
            login: &login,
            argv: login.argv(),
        };
        return emit(global.output, &printed, |w| {
            writeln!(w, "{}", login.command_line())
        });
    }
    progress::note(login.command_line());
    match login::run(&login) {
        Ok(0) => Ok(()),
        Ok(code) => Err(CliError::remote(code.clamp(1, 255) as u8)),
        Err(e) => Err(CliError::failed(format!("cannot run ssh: {e}"))),
    }
}
