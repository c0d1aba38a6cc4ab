//! `asiaq config validate`.

use crate::cli::{ConfigCommand, GlobalArgs};
use crate::exit::CliError;

pub fn run(_global: &GlobalArgs, _cmd: &ConfigCommand) -> Result<(), CliError> {
    Err(CliError::usage("`asiaq config validate` is not built yet"))
}
