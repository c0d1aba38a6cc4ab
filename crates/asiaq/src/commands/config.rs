//! `asiaq config validate`: every problem of the configuration directory, as
//! `file:line: what is wrong (expected ...)`. No AWS call; exit 2 on any error.

use asiaq_config::validate::{validate, ValidateOptions};
use asiaq_config::{validation, ConfigDir};

use crate::cli::{ConfigCommand, GlobalArgs, OutputFormat};
use crate::exit::CliError;
use crate::output::print;

pub fn run(global: &GlobalArgs, cmd: &ConfigCommand) -> Result<(), CliError> {
    let ConfigCommand::Validate { pipeline, env_type } = cmd;
    let dir = ConfigDir::new(&global.asiaq_config);
    let opts = ValidateOptions {
        env: global.env.clone(),
        env_type: env_type.clone(),
        pipelines: pipeline.iter().cloned().collect(),
    };
    let diagnostics = validate(&dir, &opts);
    let (printout, summary, errors) = validation::report(dir.root(), &diagnostics);
    print(global, printout)?;
    if global.output == OutputFormat::Text {
        eprintln!("{summary}");
    }
    if errors > 0 {
        Err(CliError::usage(String::new()).reported())
    } else {
        Ok(())
    }
}
