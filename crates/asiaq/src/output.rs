//! Where output goes: results on stdout (text or JSON), human chatter and logs on stderr.

use std::io::Write;

use serde::Serialize;

use asiaq_core::plan::{render, Plan, PlanAction};
use asiaq_core::printout::Printout;

use crate::cli::{GlobalArgs, OutputFormat};
use crate::exit::CliError;

/// Sends `tracing` events to stderr: warnings by default, asiaq's own debug events and the
/// SDK's per-call events with `--debug`.
pub fn init_logging(debug: bool) {
    let filter = if debug {
        "warn,asiaq=debug,asiaq_aws=debug,asiaq_core=debug,asiaq_config=debug,aws_smithy_runtime=debug,aws_config=info"
    } else {
        "warn"
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env(asiaq_core::env_vars::EnvVars::ASIAQ_LOG)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter)),
        )
        .with_writer(std::io::stderr)
        .with_target(debug)
        .try_init();
}

/// Prints a result: `text` renders the human form, JSON serializes `value`.
pub fn emit<T: Serialize>(
    format: OutputFormat,
    value: &T,
    text: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), CliError> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let written = match format {
        OutputFormat::Text => text(&mut out),
        OutputFormat::Json => serde_json::to_writer_pretty(&mut out, value)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out)),
    };
    match written {
        Ok(()) => Ok(()),
        // A closed pipe (`asiaq ... | head`) is not an error of ours.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CliError::failed(format!("cannot write output: {e}"))),
    }
}

/// Prints a library's [`Printout`]: its notes on stderr (text notes with text output only),
/// then the result on stdout (its lines, or its JSON).
pub fn print(global: &GlobalArgs, p: Printout) -> Result<(), CliError> {
    if global.output == OutputFormat::Text {
        p.text_notes.iter().for_each(|n| eprintln!("{n}"));
    }
    p.notes.iter().for_each(|n| eprintln!("{n}"));
    emit(global.output, &p.json, |out| write_lines(out, p.lines))
}

/// A dry run with its own detailed text: `lines` as text, the `asiaq.plan/1` document of
/// `plan` as JSON.
pub fn print_dry_run<A: PlanAction>(
    global: &GlobalArgs,
    command: &str,
    plan: &Plan<A>,
    lines: Vec<String>,
) -> Result<(), CliError> {
    if global.output == OutputFormat::Json {
        return print_plan(global, command, plan, &[], true);
    }
    emit(global.output, &(), |out| write_lines(out, lines))
}

/// Prints what was deleted (or, `dry_run`, would be): `deleted NAME` (`would delete NAME`)
/// a line each; JSON: the names.
pub fn print_deleted(
    format: OutputFormat,
    names: &[String],
    dry_run: bool,
) -> Result<(), CliError> {
    let done = if dry_run { "would delete" } else { "deleted" };
    emit(format, &names, |out| {
        names.iter().try_for_each(|n| writeln!(out, "{done} {n}"))
    })
}

/// Writes `lines`, each on a line of its own.
pub fn write_lines(out: &mut dyn Write, lines: Vec<String>) -> std::io::Result<()> {
    lines.iter().try_for_each(|l| writeln!(out, "{l}"))
}

/// The closing line of a text plan ([`render::closing_line`]) for a dry run that prints its
/// own detailed lines first.
pub fn plan_closing_line<A: PlanAction>(plan: &Plan<A>) -> String {
    render::closing_line(&render::summary(plan))
}

/// The one way every command shows a plan: notes on stderr, then (for a dry run) the plan on
/// stdout, as text grouped by resource with a closing count, or as the `asiaq.plan/1` JSON
/// document ([`render::PlanDocument`]).
pub fn print_plan<A: PlanAction>(
    global: &GlobalArgs,
    command: &str,
    plan: &Plan<A>,
    notes: &[String],
    dry_run: bool,
) -> Result<(), CliError> {
    for n in notes {
        eprintln!("note: {n}");
    }
    if !dry_run {
        return Ok(());
    }
    let doc = render::document(command, plan, notes, dry_run);
    emit(global.output, &doc, |w| write!(w, "{}", doc.to_text()))
}
