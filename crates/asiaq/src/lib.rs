//! The `asiaq` command line: argument parsing, dispatch, printing and exit codes.
//! Domain logic lives in `asiaq-core`, configuration in `asiaq-config`, AWS calls in
//! `asiaq-aws`; this crate only wires them to a terminal.

mod cli;
mod commands;
mod confirm;
mod exit;
mod keygen;
mod lease;
mod output;
mod report;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

pub use cli::Cli;
pub use exit::{CliError, ExitStatus};

/// Parses `args`, runs the command and maps the outcome to the documented exit code:
/// 0 success, 1 the operation failed, 2 usage or configuration error.
pub fn run<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let command_line = std::iter::once("asiaq".to_string())
        .chain(
            args.iter()
                .skip(1)
                .map(|a| a.to_string_lossy().into_owned()),
        )
        .collect::<Vec<_>>()
        .join(" ");
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { 2 } else { 0 });
        }
    };
    output::init_logging(cli.global.debug);
    report::install(false);
    if let Err(err) = lease::prepare(&cli, command_line) {
        err.print();
        return err.status().into();
    }
    match commands::dispatch(cli) {
        Ok(()) => ExitStatus::Success.into(),
        Err(err) => {
            err.print();
            err.status().into()
        }
    }
}
