//! `asiaq eip` (the original's `disco_eip.py`): elastic IPs.

use asiaq_aws::eip::{self, Release};
use clap::Subcommand;
use serde::Serialize;

use crate::cli::GlobalArgs;
use crate::commands::aws_session;
use crate::exit::CliError;
use crate::output::emit;

#[derive(Debug, Subcommand)]
pub enum EipCommand {
    /// List elastic IPs: public_ip, instance id (or -), sorted
    List,
    /// Allocate a VPC elastic IP and print it
    Allocate {
        /// Print what would be done and change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Release an elastic IP (refused while it is associated, unless --force)
    Release {
        /// The elastic IP to release
        #[arg(long, value_name = "IP")]
        eip: String,
        /// Disassociate it first if it is associated
        #[arg(long)]
        force: bool,
        /// Print what would be done and change nothing
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Serialize)]
struct Row {
    public_ip: String,
    instance_id: Option<String>,
    allocation_id: String,
}

pub fn run(global: &GlobalArgs, cmd: &EipCommand) -> Result<(), CliError> {
    match cmd {
        EipCommand::List => aws_session::run(global, |ctx| async move {
            let rows: Vec<Row> = eip::list(&ctx)
                .await?
                .into_iter()
                .map(|a| Row {
                    public_ip: a.public_ip,
                    instance_id: a.instance_id,
                    allocation_id: a.allocation_id,
                })
                .collect();
            emit(global.output, &rows, |w| {
                for r in &rows {
                    writeln!(
                        w,
                        "{}\t{}",
                        r.public_ip,
                        r.instance_id.as_deref().unwrap_or("-")
                    )?;
                }
                Ok(())
            })
        }),
        EipCommand::Allocate { dry_run } => {
            if *dry_run {
                println!("would allocate one VPC elastic IP");
                return Ok(());
            }
            aws_session::run(global, |ctx| async move {
                let a = eip::allocate(&ctx).await?;
                emit(
                    global.output,
                    &Row {
                        public_ip: a.public_ip.clone(),
                        instance_id: None,
                        allocation_id: a.allocation_id.clone(),
                    },
                    |w| writeln!(w, "{}", a.public_ip),
                )
            })
        }
        EipCommand::Release {
            eip: ip,
            force,
            dry_run,
        } => {
            if ip.parse::<std::net::Ipv4Addr>().is_err() {
                return Err(CliError::usage(format!(
                    "--eip {ip:?} is not an IPv4 address"
                )));
            }
            let (force, dry_run) = (*force, *dry_run);
            aws_session::run(global, |ctx| async move {
                match (eip::release(&ctx, ip, force, dry_run).await?, dry_run) {
                    (Release::NotFound, true) => Err(CliError::failed(format!(
                        "elastic IP {ip} is not allocated here"
                    ))),
                    (Release::NotFound, false) => Err(CliError::failed(format!(
                        "elastic IP {ip} is not allocated in this account and region"
                    ))),
                    (Release::Refused { .. }, true) => {
                        println!("would refuse: {ip} is associated (use --force)");
                        Ok(())
                    }
                    (Release::Refused { association }, false) => Err(CliError::failed(format!(
                        "elastic IP {ip} is associated with {association}; not released"
                    ))
                    .with_hint("pass --force to disassociate it first")),
                    (Release::Released { disassociated }, true) => {
                        let what = if disassociated {
                            "disassociate and release"
                        } else {
                            "release"
                        };
                        println!("would {what} {ip}");
                        Ok(())
                    }
                    (Release::Released { disassociated }, false) => {
                        if disassociated {
                            eprintln!("disassociated {ip}");
                        }
                        eprintln!("released {ip}");
                        Ok(())
                    }
                }
            })
        }
    }
}
