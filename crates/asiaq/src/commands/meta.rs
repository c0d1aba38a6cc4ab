//! Shell completions and the man page, generated from the same definitions as the parser.

use clap::CommandFactory;

use crate::cli::Cli;
use crate::exit::CliError;

pub fn completions(shell: clap_complete::Shell) -> Result<(), CliError> {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "asiaq", &mut std::io::stdout());
    Ok(())
}

pub fn man() -> Result<(), CliError> {
    clap_mangen::Man::new(Cli::command())
        .render(&mut std::io::stdout())
        .map_err(|e| CliError::failed(format!("cannot write the man page: {e}")))
}
