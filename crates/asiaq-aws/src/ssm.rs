//! SSM: the account's own documents (listing, reading, the calls and waits of `ssm
//! update-documents` on the engine) and Run Command (`aws exec-ssm`: SendCommand in
//! batches, all at once, then GetCommandInvocation per instance until each is final).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use asiaq_core::plan::Plan;
use asiaq_core::printout::Printout;
use asiaq_core::ssm::{
    self as core, DeclaredParameter, DocFormat, Invocation, ObservedDocument, SsmAction,
};
use asiaq_engine::{report, Apply, Disposition, StepError};
use aws_sdk_ssm::types::{DocumentFormat, DocumentKeyValuesFilter, DocumentStatus, DocumentType};
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;

use crate::context::AwsContext;
use crate::error::AwsError;
use crate::wait::{wait_for, Backoff, Poll};

/// How long a document may take to become Active, or to be gone: the original's 300 s.
pub const DOCUMENT_WAIT: Duration = Duration::from_secs(300);

/// How long `exec-ssm` waits for every invocation to end.
pub const COMMAND_WAIT: Duration = Duration::from_secs(1800);

/// GetCommandInvocation calls in flight at once while polling.
const POLL_CONCURRENCY: usize = 16;

/// SSM's answer for a document that does not exist.
const NO_DOCUMENT: &str = "InvalidDocument";

/// One document of the account, as `ssm list-documents` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocumentSummary {
    pub name: String,
    pub owner: String,
    pub platforms: Vec<String>,
    pub document_type: String,
    pub format: String,
    pub version: String,
}

/// `list-documents`: name, owner and platforms of each document (after a header with
/// `headers`); JSON: the documents.
pub fn documents_printout(docs: &[DocumentSummary], headers: bool) -> Printout {
    let header = headers.then(|| format!("{:<30} {:<20} Platforms", "Name", "Owner"));
    let rows = docs.iter().map(|d| {
        let platforms = d.platforms.join(",");
        format!("{:<30} {:<20} {platforms}", d.name, d.owner)
    });
    Printout::new(&docs, header.into_iter().chain(rows).collect())
}

impl DocumentContent {
    /// `get-document`: the content as it is, ending with a newline; JSON: the document.
    pub fn printout(&self) -> Printout {
        let text = self.content.strip_suffix('\n').unwrap_or(&self.content);
        Printout::new(self, vec![text.to_string()])
    }
}

fn format_of(f: DocFormat) -> DocumentFormat {
    match f {
        DocFormat::Json => DocumentFormat::Json,
        DocFormat::Yaml => DocumentFormat::Yaml,
    }
}

/// The account's own documents (Owner=Self), without `AWS-*`, sorted by name.
pub async fn own_documents(ctx: &AwsContext) -> Result<Vec<DocumentSummary>, AwsError> {
    let mut out = Vec::new();
    let mut pages = ctx
        .ssm()
        .list_documents()
        .filters(
            DocumentKeyValuesFilter::builder()
                .key("Owner")
                .values("Self")
                .build(),
        )
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::call("ssm", "ListDocuments", e))?;
        for d in page.document_identifiers() {
            let name = d.name().unwrap_or_default();
            if name.is_empty() || name.starts_with(core::AWS_PREFIX) {
                continue;
            }
            out.push(DocumentSummary {
                name: name.to_string(),
                owner: d.owner().unwrap_or_default().to_string(),
                platforms: d
                    .platform_types()
                    .iter()
                    .map(|p| p.as_str().to_string())
                    .collect(),
                document_type: d
                    .document_type()
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_default(),
                format: d
                    .document_format()
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_default(),
                version: d.document_version().unwrap_or_default().to_string(),
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out.dedup_by(|a, b| a.name == b.name);
    Ok(out)
}

/// A document's content as stored (its default version unless `version`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocumentContent {
    pub name: String,
    pub version: String,
    pub format: String,
    pub content: String,
}

/// The content of `name` (its default version, or `version`), in its own format, or in
/// `format` when given. `None` when there is no such document.
pub async fn get_document(
    ctx: &AwsContext,
    name: &str,
    version: Option<&str>,
    format: Option<DocFormat>,
) -> Result<Option<DocumentContent>, AwsError> {
    let out = ctx
        .ssm()
        .get_document()
        .name(name)
        .set_document_version(version.map(str::to_string))
        .set_document_format(format.map(format_of))
        .send()
        .await
        .map_err(|e| AwsError::call("ssm", "GetDocument", e));
    match out {
        Ok(o) => Ok(Some(DocumentContent {
            name: o.name().unwrap_or(name).to_string(),
            version: o.document_version().unwrap_or_default().to_string(),
            format: o
                .document_format()
                .map(|f| f.as_str().to_string())
                .unwrap_or_default(),
            content: o.content().unwrap_or_default().to_string(),
        })),
        Err(e) if e.code() == Some(NO_DOCUMENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A document's description: versions, status and declared parameters. `None` when there
/// is no such document (or not that version).
async fn describe(
    ctx: &AwsContext,
    name: &str,
    version: Option<&str>,
) -> Result<Option<aws_sdk_ssm::types::DocumentDescription>, AwsError> {
    match ctx
        .ssm()
        .describe_document()
        .name(name)
        .set_document_version(version.map(str::to_string))
        .send()
        .await
        .map_err(|e| AwsError::call("ssm", "DescribeDocument", e))
    {
        Ok(o) => Ok(o.document),
        Err(e) if e.code() == Some(NO_DOCUMENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The parameters `name` declares, or `None` when there is no such document.
pub async fn declared_parameters(
    ctx: &AwsContext,
    name: &str,
) -> Result<Option<Vec<DeclaredParameter>>, AwsError> {
    Ok(describe(ctx, name, None).await?.map(|d| {
        d.parameters()
            .iter()
            .map(|p| DeclaredParameter {
                name: p.name().unwrap_or_default().to_string(),
                ptype: p
                    .r#type()
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_else(|| "String".into()),
                has_default: p.default_value().is_some(),
            })
            .collect()
    }))
}

/// Parsed content of one version (as JSON: SSM converts YAML), `None` when unreadable.
async fn content_of(
    ctx: &AwsContext,
    name: &str,
    version: &str,
) -> Result<Option<serde_json::Value>, AwsError> {
    Ok(
        get_document(ctx, name, Some(version), Some(DocFormat::Json))
            .await?
            .and_then(|d| core::parse_content(&d.content).ok())
            .map(|c| c.value),
    )
}

/// Observes every own document: its default version's content and, when the latest
/// version is another, the latest's (a few at a time).
pub async fn observe_documents(ctx: &AwsContext) -> Result<Vec<ObservedDocument>, AwsError> {
    let names: Vec<String> = own_documents(ctx)
        .await?
        .into_iter()
        .map(|d| d.name)
        .collect();
    let observed: Vec<Option<ObservedDocument>> = stream::iter(names)
        .map(|name| async move {
            let Some(d) = describe(ctx, &name, None).await? else {
                return Ok::<_, AwsError>(None);
            };
            let default_version = d.default_version().unwrap_or("1").to_string();
            let latest_version = d.latest_version().unwrap_or(&default_version).to_string();
            let default_content = content_of(ctx, &name, &default_version).await?;
            let latest_content = if latest_version != default_version {
                content_of(ctx, &name, &latest_version).await?
            } else {
                None
            };
            Ok(Some(ObservedDocument {
                name,
                default_version,
                default_content,
                latest_version,
                latest_content,
            }))
        })
        .buffered(8)
        .try_collect()
        .await?;
    Ok(observed.into_iter().flatten().collect())
}

fn document_backoff() -> Backoff {
    Backoff::new(
        Duration::from_secs(2),
        Duration::from_secs(15),
        DOCUMENT_WAIT,
    )
}

/// Waits until version `version` (the default when `None`) of `name` is Active; a version
/// that failed is an error with SSM's reason.
pub async fn wait_active(
    ctx: &AwsContext,
    name: &str,
    version: Option<&str>,
) -> Result<(), AwsError> {
    let what = match version {
        Some(v) => format!("SSM document {name} version {v} to be Active"),
        None => format!("SSM document {name} to be Active"),
    };
    wait_for(&what, document_backoff(), || async {
        let Some(d) = describe(ctx, name, version).await? else {
            // Just created: not visible yet.
            return Ok(Poll::Pending("not found yet".into()));
        };
        match d.status() {
            Some(DocumentStatus::Active) => Ok(Poll::Ready(())),
            Some(DocumentStatus::Failed) => Err(AwsError::State(format!(
                "SSM document {name} failed: {}",
                d.status_information().unwrap_or("no reason given")
            ))),
            Some(s) => Ok(Poll::Pending(s.as_str().to_string())),
            None => Ok(Poll::Pending("no status".into())),
        }
    })
    .await
}

/// Waits until `name` is gone.
pub async fn wait_deleted(ctx: &AwsContext, name: &str) -> Result<(), AwsError> {
    wait_for(
        &format!("SSM document {name} to be deleted"),
        document_backoff(),
        || async {
            Ok(match describe(ctx, name, None).await? {
                None => Poll::Ready(()),
                Some(d) => Poll::Pending(
                    d.status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_else(|| "still there".into()),
                ),
            })
        },
    )
    .await
}

/// The version of `name` whose content is `content` (parsed), searched from the latest
/// down: what UpdateDocument answers `DuplicateDocumentContent` about. SSM numbers
/// versions 1, 2, ...; versions deleted since are skipped.
async fn version_with_content(
    ctx: &AwsContext,
    name: &str,
    content: &serde_json::Value,
) -> Result<Option<String>, AwsError> {
    let Some(d) = describe(ctx, name, None).await? else {
        return Ok(None);
    };
    let latest: u64 = d.latest_version().and_then(|v| v.parse().ok()).unwrap_or(1);
    for v in (1..=latest).rev() {
        let v = v.to_string();
        if content_of(ctx, name, &v)
            .await?
            .is_some_and(|c| core::same_content(&c, content))
        {
            return Ok(Some(v));
        }
    }
    Ok(None)
}

/// The calls of a documents plan, for the engine; `wait` waits for each create to be
/// Active and each delete to be done.
struct DocumentSteps<'a> {
    ctx: &'a AwsContext,
    wait: bool,
}

impl DocumentSteps<'_> {
    async fn update(&self, name: &str, format: DocFormat, content: &str) -> Result<(), AwsError> {
        let sent = self
            .ctx
            .ssm()
            .update_document()
            .name(name)
            .content(content)
            .document_format(format_of(format))
            .document_version("$LATEST")
            .send()
            .await
            .map_err(|e| AwsError::call("ssm", "UpdateDocument", e));
        let version = match sent {
            Ok(o) => {
                let d = o.document_description();
                let version = d
                    .and_then(|d| d.document_version())
                    .ok_or(AwsError::MissingField {
                        service: "ssm",
                        operation: "UpdateDocument",
                        field: "DocumentVersion",
                    })?
                    .to_string();
                // The new version must be Active before it can be the default.
                if d.and_then(|d| d.status()) != Some(&DocumentStatus::Active) {
                    wait_active(self.ctx, name, Some(&version)).await?;
                }
                version
            }
            Err(e) if e.code() == Some("DuplicateDocumentContent") => {
                // An older version has this content (a change undone): make it the default.
                let wanted = core::parse_content(content)
                    .map_err(|e| AwsError::State(format!("{name}: {}", e.message)))?
                    .value;
                match version_with_content(self.ctx, name, &wanted).await? {
                    Some(v) => {
                        report::note(format!(
                            "SSM document {name}: version {v} already has this content"
                        ));
                        v
                    }
                    None => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        self.set_default(name, &version).await
    }

    async fn set_default(&self, name: &str, version: &str) -> Result<(), AwsError> {
        self.ctx
            .ssm()
            .update_document_default_version()
            .name(name)
            .document_version(version)
            .send()
            .await
            .map_err(|e| AwsError::call("ssm", "UpdateDocumentDefaultVersion", e))?;
        Ok(())
    }
}

impl Apply<SsmAction> for DocumentSteps<'_> {
    type Error = AwsError;

    async fn apply(&self, action: &SsmAction) -> Result<Option<String>, AwsError> {
        match action {
            SsmAction::CreateDocument {
                name,
                document_type,
                format,
                content,
            } => {
                let out = self
                    .ctx
                    .ssm()
                    .create_document()
                    .name(name)
                    .content(content)
                    .document_type(DocumentType::from(document_type.as_str()))
                    .document_format(format_of(*format))
                    .send()
                    .await
                    .map_err(|e| AwsError::call("ssm", "CreateDocument", e))?;
                let active = out
                    .document_description()
                    .and_then(|d| d.status())
                    .is_some_and(|s| *s == DocumentStatus::Active);
                if self.wait && !active {
                    wait_active(self.ctx, name, None).await?;
                }
            }
            SsmAction::UpdateDocument {
                name,
                format,
                content,
                ..
            } => self.update(name, *format, content).await?,
            SsmAction::SetDefaultVersion { name, version, .. } => {
                self.set_default(name, version).await?
            }
            SsmAction::DeleteDocument { name } => {
                self.ctx
                    .ssm()
                    .delete_document()
                    .name(name)
                    .send()
                    .await
                    .map_err(|e| AwsError::call("ssm", "DeleteDocument", e))?;
                if self.wait {
                    wait_deleted(self.ctx, name).await?;
                }
            }
        }
        Ok(None)
    }

    fn unresolved(&self, action: &SsmAction, key: &str) -> AwsError {
        AwsError::State(format!("{action}: nothing created {key}"))
    }

    /// SSM says `InvalidDocument` for a document that does not exist: a delete of one is
    /// done.
    fn disposition(&self, action: &SsmAction, error: &AwsError) -> Disposition {
        if matches!(action, SsmAction::DeleteDocument { .. })
            && !error.is_injected()
            && error.code() == Some(NO_DOCUMENT)
        {
            return Disposition::Done;
        }
        asiaq_engine::execute::default_disposition(action, error)
    }
}

/// Applies a documents plan (`ssm update-documents`), every step at once (four in flight:
/// SSM's document calls have low rate limits).
pub async fn apply_documents(
    ctx: &AwsContext,
    plan: &Plan<SsmAction>,
    wait: bool,
) -> Result<(), AwsError> {
    let calls = DocumentSteps { ctx, wait };
    crate::engine::run_forward(&calls, plan, 4, "ssm update-documents")
        .await
        .map(drop)
}

/// Whether the bucket exists and is ours to write to (HeadBucket); the reason when not.
pub async fn output_bucket(ctx: &AwsContext, bucket: &str) -> Result<(), String> {
    ctx.s3()
        .head_bucket()
        .bucket(bucket)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            let e = AwsError::call("s3", "HeadBucket", e);
            match e.code() {
                Some("NotFound") | Some("NoSuchBucket") => {
                    format!("bucket {bucket} does not exist")
                }
                Some("Forbidden") | Some("AccessDenied") => {
                    format!("bucket {bucket} is not this account's to write to")
                }
                _ => format!("bucket {bucket} cannot be used: {e}"),
            }
        })
}

/// Why `exec-ssm` did not run.
#[derive(Debug, thiserror::Error)]
pub enum ExecSsmError {
    /// Bad input (an unknown document, parameters it does not declare): nothing was sent.
    #[error("{0}")]
    Usage(String),
    /// Nothing to run it on.
    #[error("{0}")]
    NoInstances(String),
    #[error(transparent)]
    Aws(#[from] AwsError),
}

/// `aws exec-ssm`: checks `request`'s document and parameters, runs it on the running
/// instances `selector` picks in environment `env` (with the output bucket `bucket` when it
/// exists, else saying the output is cut), waits for every invocation and returns them,
/// each with its instance's hostname.
pub async fn exec(
    ctx: &AwsContext,
    env: &str,
    selector: &crate::hosts::instances::Selector,
    mut request: CommandRequest,
    bucket: Option<String>,
) -> Result<Vec<Invocation>, ExecSsmError> {
    // The document, the instances and the output bucket are looked up at once.
    let (declared, selected, bucket_state) = tokio::join!(
        declared_parameters(ctx, &request.document),
        crate::hosts::instances::select(ctx, env, Some(selector)),
        async {
            match &bucket {
                Some(b) => output_bucket(ctx, b).await.map(|()| b.clone()),
                None => Err("no s3_bucket_base in disco_aws.ini, so no output bucket".into()),
            }
        }
    );
    let declared = declared?.ok_or_else(|| {
        ExecSsmError::Usage(format!(
            "there is no SSM document {} (`asiaq ssm list-documents` lists the account's own)",
            request.document
        ))
    })?;
    asiaq_core::ssm::check_parameters(&request.document, &request.parameters, &declared)
        .map_err(|e| ExecSsmError::Usage(format!("--parameters: {e}")))?;
    let (_, hosts) = selected?;
    let hosts: Vec<_> = hosts.into_iter().filter(|h| h.state == "running").collect();
    if hosts.is_empty() {
        return Err(ExecSsmError::NoInstances(
            "no running instances match".into(),
        ));
    }
    request.output_bucket = match bucket_state {
        Ok(b) => Some(b),
        Err(why) => {
            report::note(format!(
                "{why}: each instance's output is limited to {} characters (SSM keeps no more without an output bucket)",
                asiaq_core::ssm::INLINE_OUTPUT_LIMIT
            ));
            None
        }
    };
    let ids: Vec<String> = hosts.iter().map(|h| h.id.clone()).collect();
    let sent = send_command(ctx, &request, &ids).await?;
    for (command, batch) in &sent {
        report::note(format!(
            "command {command}: {} on {} instance(s)",
            request.document,
            batch.len()
        ));
    }
    let mut invocations = wait_invocations(ctx, &sent).await?;
    for inv in &mut invocations {
        inv.hostname = hosts
            .iter()
            .find(|h| h.id == inv.instance_id)
            .and_then(|h| h.tag("hostname"))
            .map(str::to_string);
    }
    Ok(invocations)
}

/// What `exec-ssm` sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandRequest {
    pub document: String,
    pub parameters: BTreeMap<String, Vec<String>>,
    pub comment: Option<String>,
    pub output_bucket: Option<String>,
    pub max_concurrency: Option<String>,
    pub max_errors: Option<String>,
}

/// Sends `request` to `instance_ids` in batches of at most 50, every batch at once.
/// Returns, per batch, the command id and its instances. When a batch is refused, the
/// error names the commands already sent (they run).
pub async fn send_command(
    ctx: &AwsContext,
    request: &CommandRequest,
    instance_ids: &[String],
) -> Result<Vec<(String, Vec<String>)>, AwsError> {
    let parameters: HashMap<String, Vec<String>> = request
        .parameters
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let sends = core::batches(instance_ids).into_iter().map(|batch| {
        let parameters = parameters.clone();
        async move {
            let out = ctx
                .ssm()
                .send_command()
                .document_name(&request.document)
                .set_instance_ids(Some(batch.clone()))
                .set_parameters((!parameters.is_empty()).then_some(parameters))
                .set_comment(request.comment.clone())
                .set_output_s3_bucket_name(request.output_bucket.clone())
                .set_max_concurrency(request.max_concurrency.clone())
                .set_max_errors(request.max_errors.clone())
                .send()
                .await
                .map_err(|e| AwsError::call("ssm", "SendCommand", e))?;
            let id = out
                .command()
                .and_then(|c| c.command_id())
                .ok_or(AwsError::MissingField {
                    service: "ssm",
                    operation: "SendCommand",
                    field: "CommandId",
                })?
                .to_string();
            Ok::<_, AwsError>((id, batch))
        }
    });
    let results = futures::future::join_all(sends).await;
    let sent: Vec<String> = results
        .iter()
        .filter_map(|r| {
            r.as_ref()
                .ok()
                .map(|(id, b)| format!("{id} ({} instances)", b.len()))
        })
        .collect();
    let mut out = Vec::new();
    for r in results {
        match r {
            Ok(x) => out.push(x),
            Err(e) if sent.is_empty() => return Err(e),
            Err(e) => {
                return Err(AwsError::State(format!(
                    "{e}; commands already sent, and running: {}",
                    sent.join(", ")
                )))
            }
        }
    }
    Ok(out)
}

/// One poll of an invocation; `None` while it is not visible yet or not final.
async fn invocation(
    ctx: &AwsContext,
    command_id: &str,
    instance_id: &str,
) -> Result<Option<Invocation>, AwsError> {
    let out = match ctx
        .ssm()
        .get_command_invocation()
        .command_id(command_id)
        .instance_id(instance_id)
        .send()
        .await
        .map_err(|e| AwsError::call("ssm", "GetCommandInvocation", e))
    {
        Ok(o) => o,
        // Just sent: not visible yet.
        Err(e) if e.code() == Some("InvocationDoesNotExist") => return Ok(None),
        Err(e) => return Err(e),
    };
    let status = out
        .status()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default();
    if !core::is_final(&status) {
        return Ok(None);
    }
    let url = |u: Option<&str>| u.filter(|u| !u.is_empty()).map(str::to_string);
    Ok(Some(Invocation {
        instance_id: instance_id.to_string(),
        hostname: None,
        command_id: command_id.to_string(),
        status,
        status_details: out.status_details().unwrap_or_default().to_string(),
        response_code: out.response_code(),
        stdout: out
            .standard_output_content()
            .unwrap_or_default()
            .to_string(),
        stderr: out.standard_error_content().unwrap_or_default().to_string(),
        stdout_url: url(out.standard_output_url()),
        stderr_url: url(out.standard_error_url()),
    }))
}

/// Polls GetCommandInvocation for every (command, instance) until each is final, with
/// backoff, progress (`N of M done`) and a timeout of [`COMMAND_WAIT`]. ListCommandInvocations
/// would need fewer calls, but moto does not implement it. In the order of `sent`.
pub async fn wait_invocations(
    ctx: &AwsContext,
    sent: &[(String, Vec<String>)],
) -> Result<Vec<Invocation>, AwsError> {
    poll_until_final(sent, |command, instance| async move {
        invocation(ctx, &command, &instance).await
    })
    .await
}

/// [`wait_invocations`] with the poll of one (command, instance) given: `None` while it
/// is not final. Each round polls only the invocations not final yet,
/// [`POLL_CONCURRENCY`] at a time.
async fn poll_until_final<F, Fut>(
    sent: &[(String, Vec<String>)],
    poll: F,
) -> Result<Vec<Invocation>, AwsError>
where
    F: Fn(String, String) -> Fut,
    Fut: std::future::Future<Output = Result<Option<Invocation>, AwsError>>,
{
    let pairs: Vec<(String, String)> = sent
        .iter()
        .flat_map(|(c, ids)| ids.iter().map(move |i| (c.clone(), i.clone())))
        .collect();
    let total = pairs.len();
    let done: std::sync::Mutex<BTreeMap<usize, Invocation>> =
        std::sync::Mutex::new(BTreeMap::new());
    let poisoned = || AwsError::State("the invocation table was poisoned".into());
    let (done_ref, pairs_ref, poll_ref) = (&done, &pairs, &poll);
    let commands: Vec<&str> = sent.iter().map(|(c, _)| c.as_str()).collect();
    wait_for(
        &format!(
            "{total} invocation(s) of command {} to end",
            commands.join(", ")
        ),
        Backoff::new(
            Duration::from_secs(1),
            Duration::from_secs(15),
            COMMAND_WAIT,
        ),
        || async move {
            let pending: Vec<usize> = {
                let d = done_ref.lock().map_err(|_| poisoned())?;
                (0..total).filter(|i| !d.contains_key(i)).collect()
            };
            let found: Vec<(usize, Option<Invocation>)> = stream::iter(pending)
                .map(|i| async move {
                    let (c, id) = &pairs_ref[i];
                    poll_ref(c.clone(), id.clone()).await.map(|inv| (i, inv))
                })
                .buffer_unordered(POLL_CONCURRENCY)
                .try_collect()
                .await?;
            let mut d = done_ref.lock().map_err(|_| poisoned())?;
            for (i, inv) in found {
                if let Some(inv) = inv {
                    d.insert(i, inv);
                }
            }
            Ok(if d.len() == total {
                Poll::Ready(())
            } else {
                Poll::Pending(format!("{} of {total} done", d.len()))
            })
        },
    )
    .await?;
    let done = done.into_inner().map_err(|_| poisoned())?;
    Ok(done.into_values().collect())
}

/// The asiaq environments of the region (VPCs with a `type` tag): (name, type), for
/// deciding whether the account is a sandbox account.
pub async fn environment_types(ctx: &AwsContext) -> Result<Vec<(String, String)>, AwsError> {
    let out = ctx
        .ec2()
        .describe_vpcs()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("tag-key")
                .values("type")
                .build(),
        )
        .send()
        .await
        .map_err(|e| AwsError::call("ec2", "DescribeVpcs", e))?;
    Ok(out
        .vpcs()
        .iter()
        .map(|v| {
            let tag = |k: &str| {
                v.tags()
                    .iter()
                    .find(|t| t.key() == Some(k))
                    .and_then(|t| t.value())
                    .unwrap_or_default()
                    .to_string()
            };
            let name = tag("Name");
            (
                if name.is_empty() {
                    v.vpc_id().unwrap_or_default().to_string()
                } else {
                    name
                },
                tag("type"),
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_listing_and_content() {
        let doc = DocumentSummary {
            name: "doc".into(),
            owner: "123".into(),
            platforms: vec!["Linux".into(), "MacOS".into()],
            document_type: "Command".into(),
            format: "JSON".into(),
            version: "1".into(),
        };
        let p = documents_printout(std::slice::from_ref(&doc), true);
        assert_eq!(
            p.lines[0],
            format!("{:<30} {:<20} Platforms", "Name", "Owner")
        );
        assert_eq!(
            p.lines[1],
            format!("{:<30} {:<20} Linux,MacOS", "doc", "123")
        );
        assert_eq!(documents_printout(&[doc], false).lines.len(), 1);
        let content = |c: &str| DocumentContent {
            name: "doc".into(),
            version: "1".into(),
            format: "JSON".into(),
            content: c.into(),
        };
        // Printed a line each: the content, with a newline at its end either way.
        assert_eq!(content("{}").printout().lines, ["{}"]);
        assert_eq!(content("a\n\n").printout().lines, ["a\n"]);
        assert_eq!(content("a").printout().json["content"], "a");
    }
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn final_invocation(command: &str, instance: &str) -> Invocation {
        Invocation {
            instance_id: instance.into(),
            hostname: None,
            command_id: command.into(),
            status: "Success".into(),
            status_details: "Success".into(),
            response_code: 0,
            stdout: String::new(),
            stderr: String::new(),
            stdout_url: None,
            stderr_url: None,
        }
    }

    /// Invocations end at different polls; each is polled until it ends and no more, and
    /// the result keeps the order of the batches.
    #[tokio::test(start_paused = true)]
    async fn polls_each_invocation_until_it_ends() {
        let sent = vec![
            (
                "c-1".to_string(),
                vec!["i-1".to_string(), "i-2".to_string()],
            ),
            ("c-2".to_string(), vec!["i-3".to_string()]),
        ];
        // i-1 ends at its 3rd poll, i-2 at its 1st, i-3 at its 2nd.
        let ends_at = BTreeMap::from([("i-1", 3), ("i-2", 1), ("i-3", 2)]);
        let polls: std::sync::Mutex<BTreeMap<String, usize>> = Default::default();
        let total = AtomicUsize::new(0);
        let out = poll_until_final(&sent, |c, i| {
            total.fetch_add(1, Ordering::Relaxed);
            let n = {
                let mut p = polls.lock().unwrap();
                let n = p.entry(i.clone()).or_default();
                *n += 1;
                *n
            };
            let end = ends_at[i.as_str()];
            async move { Ok((n >= end).then(|| final_invocation(&c, &i))) }
        })
        .await
        .unwrap();
        let ids: Vec<(&str, &str)> = out
            .iter()
            .map(|i| (i.command_id.as_str(), i.instance_id.as_str()))
            .collect();
        assert_eq!(ids, [("c-1", "i-1"), ("c-1", "i-2"), ("c-2", "i-3")]);
        assert_eq!(total.load(Ordering::Relaxed), 3 + 1 + 2);
    }

    /// An invocation that never ends stops the wait at its timeout, saying how many did.
    #[tokio::test(start_paused = true)]
    async fn stops_at_the_timeout_with_the_count() {
        let sent = vec![(
            "c-1".to_string(),
            vec!["i-1".to_string(), "i-2".to_string()],
        )];
        let err = poll_until_final(&sent, |c, i| async move {
            Ok((i == "i-1").then(|| final_invocation(&c, &i)))
        })
        .await
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("timed out after 30m") || text.starts_with("timed out after 30 m"),
            "{text}"
        );
        assert!(
            text.contains("2 invocation(s) of command c-1 to end"),
            "{text}"
        );
        assert!(text.contains("(last state: 1 of 2 done)"), "{text}");
    }
}
