//! `asiaq ssm` (disco_ssm.py): the account's own SSM documents, kept in sync with
//! `ssm/documents/*.ssm` of the configuration directory.

use std::io::Write;

use asiaq_aws::ssm;
use asiaq_config::dir::files;
use asiaq_config::ssm_documents::read_ssm_documents;
use asiaq_config::{ConfigDir, ConfigError};
use asiaq_core::ssm::{self as core, DesiredDocument};
use asiaq_engine::report as progress;
use clap::Subcommand;

use super::aws_session;
use crate::cli::GlobalArgs;
use crate::confirm::confirm;
use crate::exit::CliError;
use crate::output::{emit, print_plan};

#[derive(Debug, Subcommand)]
pub enum SsmCommand {
    /// List the account's own documents: name, owner, platforms (not AWS-*)
    ListDocuments {
        /// Print a header line first
        #[arg(long)]
        headers: bool,
    },
    /// Print a document's content (its default version)
    GetDocument {
        #[arg(long)]
        name: String,
    },
    /// Create, update and delete the account's documents to match ssm/documents/*.ssm
    UpdateDocuments {
        /// Do not wait for created documents to be Active and deleted ones to be gone
        #[arg(long)]
        no_wait: bool,
        /// Print the plan (with a diff of each changed document) and change nothing
        #[arg(long)]
        dry_run: bool,
    },
}

pub fn run(global: &GlobalArgs, cmd: &SsmCommand) -> Result<(), CliError> {
    match cmd {
        SsmCommand::ListDocuments { headers } => list_documents(global, *headers),
        SsmCommand::GetDocument { name } => get_document(global, name),
        SsmCommand::UpdateDocuments { no_wait, dry_run } => {
            update_documents(global, !*no_wait, *dry_run)
        }
    }
}

fn list_documents(global: &GlobalArgs, headers: bool) -> Result<(), CliError> {
    aws_session::run(global, |ctx| async move {
        let docs = ssm::own_documents(&ctx).await?;
        emit(global.output, &docs, |out: &mut dyn Write| {
            if headers {
                writeln!(out, "{:<30} {:<20} Platforms", "Name", "Owner")?;
            }
            for d in &docs {
                writeln!(
                    out,
                    "{:<30} {:<20} {}",
                    d.name,
                    d.owner,
                    d.platforms.join(",")
                )?;
            }
            Ok(())
        })
    })
}

fn get_document(global: &GlobalArgs, name: &str) -> Result<(), CliError> {
    aws_session::run(global, |ctx| async move {
        let doc = ssm::get_document(&ctx, name, None, None)
            .await?
            .ok_or_else(|| {
                CliError::failed(format!("there is no SSM document {name}"))
                    .with_hint("`asiaq ssm list-documents` lists the account's own")
            })?;
        emit(global.output, &doc, |out: &mut dyn Write| {
            write!(out, "{}", doc.content)?;
            if !doc.content.ends_with('\n') {
                writeln!(out)?;
            }
            Ok(())
        })
    })
}

/// The documents of `ssm/documents/` (exit 2, naming the file and line, when one is bad).
fn desired_documents(global: &GlobalArgs) -> Result<Vec<DesiredDocument>, CliError> {
    let dir = ConfigDir::new(&global.asiaq_config);
    dir.check()?;
    let (docs, warnings) = read_ssm_documents(&dir.path(files::SSM_DOCUMENTS))
        .map_err(|d| CliError::from(ConfigError::Invalid(d)))?;
    for w in &warnings {
        progress::warn(w.located());
    }
    Ok(docs.iter().map(|d| d.desired()).collect())
}

fn update_documents(global: &GlobalArgs, wait: bool, dry_run: bool) -> Result<(), CliError> {
    let desired = desired_documents(global)?;
    aws_session::run(global, |ctx| async move {
        let observed = ssm::observe_documents(&ctx).await?;
        let plan = core::documents_plan(&desired, &observed);
        if dry_run {
            return print_plan(global, "ssm update-documents", &plan, &[], true);
        }
        let deleted = core::deletions(&plan);
        if !deleted.is_empty() {
            let environments = ssm::environment_types(&ctx).await?;
            if !core::is_sandbox_account(&environments) {
                let kinds: Vec<String> = environments
                    .iter()
                    .map(|(name, t)| format!("{name} ({t})"))
                    .collect();
                confirm(
                    global,
                    &format!(
                        "Delete SSM document(s) {} of this account (region {}, environments: {})",
                        deleted.join(", "),
                        ctx.region(),
                        if kinds.is_empty() {
                            "none".to_string()
                        } else {
                            kinds.join(", ")
                        }
                    ),
                )?;
            }
        }
        ssm::apply_documents(&ctx, &plan, wait).await?;
        #[derive(serde::Serialize)]
        struct Done {
            changed: Vec<String>,
        }
        let done = Done {
            changed: plan.steps.iter().map(|s| s.action.to_string()).collect(),
        };
        emit(global.output, &done, |out: &mut dyn Write| {
            if done.changed.is_empty() {
                writeln!(
                    out,
                    "no change: the documents are already as in ssm/documents/"
                )?;
            }
            for c in &done.changed {
                writeln!(out, "done: {c}")?;
            }
            Ok(())
        })
    })
}
