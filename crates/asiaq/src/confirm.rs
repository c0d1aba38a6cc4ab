//! Confirmation of destructive commands: `--yes` answers for the user; otherwise the
//! question is asked on the terminal, and without a terminal the command refuses (exit 2),
//! so a script never destroys something by accident.

use std::io::{BufRead, IsTerminal, Write};

use crate::cli::GlobalArgs;
use crate::exit::CliError;

/// Asks `question` (answered by `y`/`yes`) unless `--yes` was given. `Ok(())` means go on.
pub fn confirm(global: &GlobalArgs, question: &str) -> Result<(), CliError> {
    if global.yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(
            CliError::usage(format!("{question}: refusing without confirmation"))
                .with_hint("run it on a terminal to be asked, or pass --yes"),
        );
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CliError::failed(format!("cannot read the answer: {e}")))?;
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        Err(CliError::failed("not confirmed; nothing was changed"))
    }
}
