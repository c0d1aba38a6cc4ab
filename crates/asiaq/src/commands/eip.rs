//! `asiaq eip` (the original's `disco_eip.py`): elastic IPs.

use asiaq_aws::eip;
use asiaq_core::eip as core;
use clap::Subcommand;

use crate::cli::GlobalArgs;
use crate::commands::aws_session;
use crate::exit::CliError;
use crate::output::print;

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

pub fn run(global: &GlobalArgs, cmd: &EipCommand) -> Result<(), CliError> {
    match cmd {
        EipCommand::List => aws_session::run(global, |ctx| async move {
            let addresses = eip::list(&ctx).await?;
            print(global, core::listing(&addresses))
        }),
        EipCommand::Allocate { dry_run } => {
            if *dry_run {
                println!("would allocate one VPC elastic IP");
                return Ok(());
            }
            aws_session::run(global, |ctx| async move {
                let a = eip::allocate(&ctx).await?;
                print(global, core::allocated(&a))
            })
        }
        EipCommand::Release {
            eip: ip,
            force,
            dry_run,
        } => {
            core::check_ip(ip).map_err(CliError::usage)?;
            let (force, dry_run) = (*force, *dry_run);
            aws_session::run(global, |ctx| async move {
                let released = eip::release(&ctx, ip, force, dry_run).await?;
                let (stdout, stderr) = released.report(ip, dry_run)?;
                stdout.iter().for_each(|l| println!("{l}"));
                stderr.iter().for_each(|l| eprintln!("{l}"));
                Ok(())
            })
        }
    }
}
