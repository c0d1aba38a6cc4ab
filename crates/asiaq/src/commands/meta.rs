//! Shell completions and the man page, generated from the same definitions as the parser.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::exit::CliError;

pub fn completions(shell: clap_complete::Shell) -> Result<(), CliError> {
    let mut cmd = Cli::command();
    // Generated into memory first: clap_complete panics when its writer fails, and a closed
    // pipe (`asiaq completions bash | head`) is not an error.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "asiaq", &mut script);
    write_stdout(&script)
}

pub fn man() -> Result<(), CliError> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .map_err(|e| CliError::failed(format!("cannot render the man page: {e}")))?;
    write_stdout(&page)
}

fn write_stdout(bytes: &[u8]) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CliError::failed(format!("cannot write output: {e}"))),
    }
}
