//! `asiaq ssm` (disco_ssm.py): the account's own SSM documents, kept in sync with
//! `ssm/documents/*.ssm` of the configuration directory.

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
use crate::output::{print, print_plan};

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
        print(global, ssm::documents_printout(&docs, headers))
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
        print(global, doc.printout())
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
            if let Some(q) = core::text::delete_question(&deleted, ctx.region(), &environments) {
                confirm(global, &q)?;
            }
        }
        ssm::apply_documents(&ctx, &plan, wait).await?;
        print(global, core::text::update_done(&plan))
    })
}
