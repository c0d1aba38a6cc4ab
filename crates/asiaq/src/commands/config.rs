//! `asiaq config validate`: every problem of the configuration directory, as
//! `file:line: what is wrong (expected ...)`. No AWS call; exit 2 on any error.

use std::io::Write;

use asiaq_config::validate::{validate, ValidateOptions};
use asiaq_config::{ConfigDir, Diagnostic};
use serde::Serialize;

use crate::cli::{ConfigCommand, GlobalArgs, OutputFormat};
use crate::exit::CliError;
use crate::output::emit;

#[derive(Serialize)]
struct Report<'a> {
    errors: usize,
    warnings: usize,
    diagnostics: &'a [Diagnostic],
}

pub fn run(global: &GlobalArgs, cmd: &ConfigCommand) -> Result<(), CliError> {
    let ConfigCommand::Validate { pipeline, env_type } = cmd;
    let dir = ConfigDir::new(&global.asiaq_config);
    let opts = ValidateOptions {
        env: global.env.clone(),
        env_type: env_type.clone(),
        pipelines: pipeline.iter().cloned().collect(),
    };
    let diagnostics = validate(&dir, &opts);
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    let report = Report {
        errors,
        warnings,
        diagnostics: &diagnostics,
    };
    emit(global.output, &report, |out: &mut dyn Write| {
        for d in &diagnostics {
            writeln!(out, "{d}")?;
        }
        Ok(())
    })?;
    if global.output == OutputFormat::Text {
        eprintln!(
            "{}: {errors} error{}, {warnings} warning{}",
            dir.root().display(),
            if errors == 1 { "" } else { "s" },
            if warnings == 1 { "" } else { "s" }
        );
    }
    if errors > 0 {
        Err(CliError::usage(String::new()).reported())
    } else {
        Ok(())
    }
}
