//! SSM documents and Run Command (`asiaq ssm`, `asiaq aws exec-ssm`): document content
//! (JSON or YAML) and its comparison, the plan that syncs `ssm/documents/` with the
//! account's own documents, and the checks of an `exec-ssm` command line (parameters
//! against the document's declared ones, batches, invocation states).
//!
//! Documents are compared as parsed content: JSON whatever its formatting or key order,
//! YAML as the JSON it denotes (AWS, and moto, return a YAML document as JSON when asked
//! for JSON), so a document is changed only when its content is.

pub mod text;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::plan::{Change, Plan, PlanAction, PlanBuilder, Resource};

/// Names starting so are AWS's own documents: never created, changed or deleted.
pub const AWS_PREFIX: &str = "AWS-";

/// Prefixes AWS reserves for its own documents (case-insensitive): CreateDocument refuses
/// them.
pub const RESERVED_PREFIXES: [&str; 3] = ["aws", "amazon", "amzn"];

/// At most this many instances per SendCommand (AWS's limit).
pub const SEND_COMMAND_BATCH: usize = 50;

/// How much of an instance's output SSM keeps without an output bucket.
pub const INLINE_OUTPUT_LIMIT: usize = 2500;

/// The format of a document's content, as SSM names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DocFormat {
    #[serde(rename = "JSON")]
    Json,
    #[serde(rename = "YAML")]
    Yaml,
}

impl DocFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            DocFormat::Json => "JSON",
            DocFormat::Yaml => "YAML",
        }
    }
}

impl fmt::Display for DocFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why content is not a document: the message, the 1-based line when known, and what was
/// expected there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentError {
    pub line: Option<usize>,
    pub message: String,
    pub expected: &'static str,
}

const EXPECTED_JSON: &str = "a JSON document";
const EXPECTED_YAML: &str = "a YAML document";
const EXPECTED_DOCUMENT: &str = "an SSM document with schemaVersion";

/// Parsed document content.
#[derive(Debug, Clone, PartialEq)]
pub struct Content {
    pub format: DocFormat,
    pub value: Value,
}

/// Parses document content: JSON when it starts with `{`, YAML otherwise. The document must
/// be an object with a `schemaVersion`.
pub fn parse_content(text: &str) -> Result<Content, ContentError> {
    let (format, value) = if text.trim_start().starts_with('{') {
        let value = serde_json::from_str::<Value>(text).map_err(|e| {
            let full = e.to_string();
            let message = full
                .rsplit_once(" at line ")
                .map_or(full.as_str(), |(m, _)| m);
            ContentError {
                line: Some(e.line()),
                message: format!("invalid JSON (column {}): {message}", e.column()),
                expected: EXPECTED_JSON,
            }
        })?;
        (DocFormat::Json, value)
    } else {
        let value = serde_yaml::from_str::<Value>(text).map_err(|e| ContentError {
            line: e.location().map(|l| l.line()),
            message: format!("invalid YAML: {e}"),
            expected: EXPECTED_YAML,
        })?;
        (DocFormat::Yaml, value)
    };
    let Some(object) = value.as_object() else {
        return Err(ContentError {
            line: None,
            message: "the document is not a mapping of keys to values".into(),
            expected: EXPECTED_DOCUMENT,
        });
    };
    match object.get("schemaVersion") {
        Some(Value::String(_)) | Some(Value::Number(_)) => Ok(Content { format, value }),
        Some(_) => Err(ContentError {
            line: line_of(text, "schemaVersion"),
            message: "schemaVersion is not a version such as \"2.2\"".into(),
            expected: EXPECTED_DOCUMENT,
        }),
        None => Err(ContentError {
            line: None,
            message: "the document has no schemaVersion".into(),
            expected: EXPECTED_DOCUMENT,
        }),
    }
}

fn line_of(text: &str, key: &str) -> Option<usize> {
    text.lines().position(|l| l.contains(key)).map(|i| i + 1)
}

/// Why SSM would refuse `name` for a document of this account, if it would: 3 to 128
/// letters, digits, `_`, `-` and `.`, not starting with a reserved prefix.
pub fn name_problem(name: &str) -> Option<String> {
    if name.len() < 3
        || name.len() > 128
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Some(format!("{name:?} is not a valid SSM document name"));
    }
    let lower = name.to_ascii_lowercase();
    RESERVED_PREFIXES
        .iter()
        .find(|p| lower.starts_with(*p))
        .map(|p| format!("{name:?} starts with {p:?}, a prefix AWS keeps for its own documents"))
}

/// The SSM document type of content: `Automation` for schema 0.3, else `Command`.
pub fn document_type(value: &Value) -> &'static str {
    let schema = match value.get("schemaVersion") {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => String::new(),
    };
    if schema == "0.3" {
        "Automation"
    } else {
        "Command"
    }
}

/// `value` as pretty JSON (4 spaces, as the original compared documents) with every
/// object's keys sorted: the text plans diff.
pub fn canonical(value: &Value) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(o) => {
                let mut keys: Vec<&String> = o.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&o[k])))
                        .collect(),
                )
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    if sorted(value).serialize(&mut ser).is_err() {
        return value.to_string();
    }
    String::from_utf8(out).unwrap_or_default()
}

/// Whether two documents have the same content (objects compared without regard to key
/// order).
pub fn same_content(a: &Value, b: &Value) -> bool {
    a == b
}

/// A document of `ssm/documents/`.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredDocument {
    pub name: String,
    /// The file's text, sent as it is.
    pub text: String,
    pub content: Content,
}

/// A document of the account as observed: its default version's content and, when the
/// latest version is another, the latest's.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedDocument {
    pub name: String,
    pub default_version: String,
    /// `None` when AWS's content could not be parsed (it is then replaced).
    pub default_content: Option<Value>,
    pub latest_version: String,
    pub latest_content: Option<Value>,
}

/// One call (or pair of calls) of `ssm update-documents`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action")]
pub enum SsmAction {
    CreateDocument {
        name: String,
        document_type: String,
        format: DocFormat,
        content: String,
    },
    /// `UpdateDocument` (a new version) then `UpdateDocumentDefaultVersion` to it. `before`
    /// and `after` are the canonical content, for the plan's diff.
    UpdateDocument {
        name: String,
        format: DocFormat,
        content: String,
        before: String,
        after: String,
    },
    /// The latest version already has the content: only make it the default (what a run
    /// stopped between the two calls of an update leaves).
    SetDefaultVersion {
        name: String,
        version: String,
        before: String,
        after: String,
    },
    DeleteDocument {
        name: String,
    },
}

impl SsmAction {
    pub fn document(&self) -> &str {
        match self {
            SsmAction::CreateDocument { name, .. }
            | SsmAction::UpdateDocument { name, .. }
            | SsmAction::SetDefaultVersion { name, .. }
            | SsmAction::DeleteDocument { name } => name,
        }
    }
}

impl fmt::Display for SsmAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SsmAction::CreateDocument {
                name,
                document_type,
                format,
                ..
            } => write!(f, "create SSM document {name} ({document_type}, {format})"),
            SsmAction::UpdateDocument { name, format, .. } => write!(
                f,
                "update SSM document {name} ({format}): a new version, made the default"
            ),
            SsmAction::SetDefaultVersion { name, version, .. } => write!(
                f,
                "make version {version} of SSM document {name} the default"
            ),
            SsmAction::DeleteDocument { name } => write!(f, "delete SSM document {name}"),
        }
    }
}

impl PlanAction for SsmAction {
    fn resource(&self) -> Resource {
        Resource::new("SSM document", self.document())
    }

    fn change(&self) -> Change {
        match self {
            SsmAction::CreateDocument { .. } => Change::Create,
            SsmAction::UpdateDocument { before, after, .. }
            | SsmAction::SetDefaultVersion { before, after, .. } => Change::Update {
                before: Some(before.clone()),
                after: Some(after.clone()),
            },
            SsmAction::DeleteDocument { .. } => Change::Delete,
        }
    }
}

/// The plan that makes the account's own documents those of `desired`: new ones created,
/// changed ones updated in place (a new version made the default), documents no longer in
/// the directory deleted. `AWS-*` names are left out on both sides. Every step is
/// independent of the others.
pub fn documents_plan(
    desired: &[DesiredDocument],
    observed: &[ObservedDocument],
) -> Plan<SsmAction> {
    let ours = |name: &str| !name.starts_with(AWS_PREFIX);
    let seen: BTreeMap<&str, &ObservedDocument> = observed
        .iter()
        .filter(|o| ours(&o.name))
        .map(|o| (o.name.as_str(), o))
        .collect();
    let mut b = PlanBuilder::new();
    for d in desired.iter().filter(|d| ours(&d.name)) {
        let want = &d.content.value;
        let Some(o) = seen.get(d.name.as_str()) else {
            b.add(
                SsmAction::CreateDocument {
                    name: d.name.clone(),
                    document_type: document_type(want).to_string(),
                    format: d.content.format,
                    content: d.text.clone(),
                },
                &[],
            );
            continue;
        };
        if o.default_content
            .as_ref()
            .is_some_and(|c| same_content(c, want))
        {
            continue;
        }
        let before = o
            .default_content
            .as_ref()
            .map(canonical)
            .unwrap_or_else(|| "(content not readable)".into());
        let after = canonical(want);
        let latest_is_it = o.latest_version != o.default_version
            && o.latest_content
                .as_ref()
                .is_some_and(|c| same_content(c, want));
        let action = if latest_is_it {
            SsmAction::SetDefaultVersion {
                name: d.name.clone(),
                version: o.latest_version.clone(),
                before,
                after,
            }
        } else {
            SsmAction::UpdateDocument {
                name: d.name.clone(),
                format: d.content.format,
                content: d.text.clone(),
                before,
                after,
            }
        };
        b.add(action, &[]);
    }
    let wanted: std::collections::BTreeSet<&str> =
        desired.iter().map(|d| d.name.as_str()).collect();
    for name in seen.keys().filter(|n| !wanted.contains(*n)) {
        b.add(
            SsmAction::DeleteDocument {
                name: name.to_string(),
            },
            &[],
        );
    }
    b.build()
}

/// The names of the documents a plan deletes.
pub fn deletions(plan: &Plan<SsmAction>) -> Vec<String> {
    plan.steps
        .iter()
        .filter(|s| matches!(s.action, SsmAction::DeleteDocument { .. }))
        .map(|s| s.action.document().to_string())
        .collect()
}

/// Whether the account is a sandbox account, from its asiaq environments (name, `type` tag):
/// it has at least one, and every one is of type `sandbox`. An account with an environment
/// of another type, or with none, is not (its deletions are confirmed).
pub fn is_sandbox_account(environments: &[(String, String)]) -> bool {
    !environments.is_empty() && environments.iter().all(|(_, t)| t == "sandbox")
}

/// A parameter a document declares (DescribeDocument's `Parameters`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclaredParameter {
    pub name: String,
    /// `String`, `StringList`, `Boolean`, `Integer`, `MapList`, `StringMap`.
    #[serde(rename = "type")]
    pub ptype: String,
    pub has_default: bool,
}

/// `--parameters key=value` arguments as SendCommand takes them: each split on its first
/// `=`, the values of a key repeated collected in order.
pub fn parse_parameters(args: &[String]) -> Result<BTreeMap<String, Vec<String>>, String> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for a in args {
        let Some((k, v)) = a.split_once('=') else {
            return Err(format!("{a:?} is not key=value"));
        };
        let k = k.trim();
        if k.is_empty() {
            return Err(format!("{a:?} has no parameter name before ="));
        }
        out.entry(k.to_string()).or_default().push(v.to_string());
    }
    Ok(out)
}

/// Checks parameters against the document's declared ones: every name declared, every
/// parameter without a default given, a single value unless the type takes a list, and
/// `Boolean`/`Integer` values of their type.
pub fn check_parameters(
    document: &str,
    given: &BTreeMap<String, Vec<String>>,
    declared: &[DeclaredParameter],
) -> Result<(), String> {
    let by_name: BTreeMap<&str, &DeclaredParameter> =
        declared.iter().map(|p| (p.name.as_str(), p)).collect();
    let names = || {
        if declared.is_empty() {
            "it declares none".to_string()
        } else {
            format!(
                "it declares {}",
                declared
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    };
    for (k, values) in given {
        let Some(p) = by_name.get(k.as_str()) else {
            return Err(format!(
                "document {document} has no parameter {k:?} ({})",
                names()
            ));
        };
        if values.len() > 1 && p.ptype != "StringList" {
            return Err(format!(
                "parameter {k} of {document} is a {} and takes one value, given {}",
                p.ptype,
                values.len()
            ));
        }
        for v in values {
            let ok = match p.ptype.as_str() {
                "Boolean" => matches!(v.as_str(), "true" | "false"),
                "Integer" => v.parse::<i64>().is_ok(),
                _ => true,
            };
            if !ok {
                return Err(format!(
                    "parameter {k} of {document} is a {}: {v:?} is not one",
                    p.ptype
                ));
            }
        }
    }
    let missing: Vec<&str> = declared
        .iter()
        .filter(|p| !p.has_default && !given.contains_key(&p.name))
        .map(|p| p.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "document {document} needs {} (no default)",
            missing.join(", ")
        ));
    }
    Ok(())
}

/// Whether `value` is a SendCommand `MaxConcurrency`/`MaxErrors`: a number or a percentage.
pub fn is_rate(value: &str) -> bool {
    let digits = value.strip_suffix('%').unwrap_or(value);
    !digits.is_empty()
        && digits.len() <= 7
        && digits.chars().all(|c| c.is_ascii_digit())
        && (!value.ends_with('%') || digits.parse::<u32>().is_ok_and(|n| n <= 100))
}

/// The instance ids in SendCommand batches of at most [`SEND_COMMAND_BATCH`].
pub fn batches(ids: &[String]) -> Vec<Vec<String>> {
    ids.chunks(SEND_COMMAND_BATCH)
        .map(<[String]>::to_vec)
        .collect()
}

/// Whether an invocation status is final (GetCommandInvocation's `Status`).
pub fn is_final(status: &str) -> bool {
    !matches!(
        status,
        "Pending" | "InProgress" | "Delayed" | "Cancelling" | ""
    )
}

/// What one instance did with the command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invocation {
    pub instance_id: String,
    pub hostname: Option<String>,
    pub command_id: String,
    pub status: String,
    pub status_details: String,
    pub response_code: i32,
    pub stdout: String,
    pub stderr: String,
    /// Where the whole output is, with an output bucket.
    pub stdout_url: Option<String>,
    pub stderr_url: Option<String>,
}

/// Checks the flags of `aws exec-ssm` that need no AWS call: `--parameters` as `k=v`,
/// `--max-concurrency`/`--max-errors` as a number or a percentage, a comment of at most
/// 100 characters (SSM's limit). Returns the parameters; the error names the flag.
pub fn check_exec_flags(
    parameters: &[String],
    max_concurrency: Option<&str>,
    max_errors: Option<&str>,
    comment: Option<&str>,
) -> Result<BTreeMap<String, Vec<String>>, String> {
    let parameters = parse_parameters(parameters).map_err(|e| format!("--parameters: {e}"))?;
    for (flag, value) in [
        ("max-concurrency", max_concurrency),
        ("max-errors", max_errors),
    ] {
        if let Some(v) = value.filter(|v| !is_rate(v)) {
            return Err(format!(
                "--{flag} {v:?}: expected a number or a percentage (10, 25%)"
            ));
        }
    }
    if comment.is_some_and(|c| c.chars().count() > 100) {
        return Err("--comment: 100 characters at most (SSM's limit)".to_string());
    }
    Ok(parameters)
}

impl Invocation {
    /// The invocation as `exec-ssm` prints it: a heading with its status and exit code,
    /// then its stdout and stderr (each with the address of the whole of it, when it went
    /// to an output bucket).
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "==> {}: {} (exit {})",
            self.label(),
            self.status,
            self.response_code
        )];
        for (name, text, url) in [
            ("stdout", &self.stdout, &self.stdout_url),
            ("stderr", &self.stderr, &self.stderr_url),
        ] {
            if text.is_empty() && url.is_none() {
                continue;
            }
            lines.push(format!("--- {name}"));
            lines.extend(text.lines().map(str::to_string));
            if let Some(u) = url {
                lines.push(format!("(all of it: {u})"));
            }
        }
        lines
    }

    pub fn succeeded(&self) -> bool {
        self.status == "Success"
    }

    /// `i-123 (web-1)`, or the id alone.
    pub fn label(&self) -> String {
        match &self.hostname {
            Some(h) => format!("{} ({h})", self.instance_id),
            None => self.instance_id.clone(),
        }
    }
}

/// The failure summary of invocations, `None` when every one succeeded.
pub fn failure_summary(invocations: &[Invocation]) -> Option<String> {
    let failed: Vec<String> = invocations
        .iter()
        .filter(|i| !i.succeeded())
        .map(|i| {
            if i.response_code >= 0 && i.status == "Failed" {
                format!("{} ({}, exit {})", i.label(), i.status, i.response_code)
            } else {
                format!("{} ({})", i.label(), i.status)
            }
        })
        .collect();
    (!failed.is_empty()).then(|| {
        format!(
            "{} of {} instances did not succeed: {}",
            failed.len(),
            invocations.len(),
            failed.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::render;

    fn desired(name: &str, text: &str) -> DesiredDocument {
        DesiredDocument {
            name: name.into(),
            text: text.into(),
            content: parse_content(text).unwrap(),
        }
    }

    fn observed(name: &str, text: &str) -> ObservedDocument {
        ObservedDocument {
            name: name.into(),
            default_version: "1".into(),
            default_content: Some(parse_content(text).unwrap().value),
            latest_version: "1".into(),
            latest_content: None,
        }
    }

    const RUN: &str = r#"{"schemaVersion": "2.2", "description": "run", "mainSteps": [{"action": "aws:runShellScript", "name": "run", "inputs": {"runCommand": ["uptime"]}}]}"#;

    #[test]
    fn json_is_compared_as_content_and_yaml_as_the_json_it_denotes() {
        let reordered = r#"{
            "mainSteps": [{"inputs": {"runCommand": ["uptime"]}, "name": "run", "action": "aws:runShellScript"}],
            "description": "run",
            "schemaVersion": "2.2"
        }"#;
        let yaml = "schemaVersion: '2.2'\ndescription: run\nmainSteps:\n  - action: aws:runShellScript\n    name: run\n    inputs:\n      runCommand:\n        - uptime\n";
        let a = parse_content(RUN).unwrap();
        let b = parse_content(reordered).unwrap();
        let c = parse_content(yaml).unwrap();
        assert_eq!(a.format, DocFormat::Json);
        assert_eq!(c.format, DocFormat::Yaml);
        assert!(same_content(&a.value, &b.value));
        assert!(same_content(&a.value, &c.value));
        assert_eq!(canonical(&a.value), canonical(&c.value));
        let changed = parse_content(&RUN.replace("uptime", "date")).unwrap();
        assert!(!same_content(&a.value, &changed.value));
        // List order matters.
        let two = parse_content(&RUN.replace("[\"uptime\"]", "[\"a\", \"b\"]")).unwrap();
        let swapped = parse_content(&RUN.replace("[\"uptime\"]", "[\"b\", \"a\"]")).unwrap();
        assert!(!same_content(&two.value, &swapped.value));
    }

    #[test]
    fn bad_content_says_where() {
        let e = parse_content("{\n  \"schemaVersion\": \"2.2\",\n  \"x\": \n}").unwrap_err();
        assert_eq!(e.line, Some(4));
        assert!(e.message.starts_with("invalid JSON"), "{}", e.message);
        let e = parse_content("schemaVersion: '2.2'\nmainSteps:\n  - a: 1\n - b: 2\n").unwrap_err();
        assert!(e.message.starts_with("invalid YAML"), "{}", e.message);
        assert_eq!(e.line, Some(4));
        let e = parse_content("{\"description\": \"x\"}").unwrap_err();
        assert_eq!(e.message, "the document has no schemaVersion");
        let e = parse_content("just text").unwrap_err();
        assert_eq!(e.message, "the document is not a mapping of keys to values");
        let e = parse_content("schemaVersion:\n  - 1\n").unwrap_err();
        assert_eq!(e.line, Some(1));
    }

    #[test]
    fn names_aws_refuses() {
        assert_eq!(name_problem("example-run"), None);
        assert!(name_problem("ab").is_some());
        assert!(name_problem("has space").is_some());
        assert!(name_problem(&"x".repeat(129)).is_some());
        assert!(name_problem("Amazon-thing").unwrap().contains("\"amazon\""));
        assert!(name_problem("awsRun").is_some());
        assert!(name_problem("amznx").is_some());
    }

    #[test]
    fn plan_creates_updates_and_deletes_what_differs() {
        let changed = RUN.replace("uptime", "date");
        let plan = documents_plan(
            &[
                desired("same", RUN),
                desired("changed", &changed),
                desired("new", RUN),
                desired("AWS-Mine", RUN),
            ],
            &[
                observed("same", RUN),
                observed("changed", RUN),
                observed("gone", RUN),
                observed("AWS-RunShellScript", RUN),
            ],
        );
        let text = render::text(&plan);
        assert!(
            text.contains("SSM document new\n  + create SSM document new (Command, JSON)\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "  ~ update SSM document changed (JSON): a new version, made the default\n"
            ),
            "{text}"
        );
        let diff_line = |sign: char, value: &str| {
            text.lines()
                .any(|l| l.trim_start().starts_with(sign) && l.ends_with(&format!("\"{value}\"")))
        };
        assert!(diff_line('-', "uptime"), "{text}");
        assert!(diff_line('+', "date"), "{text}");
        assert!(text.contains("  - delete SSM document gone\n"), "{text}");
        assert!(
            text.ends_with("Plan: 1 to create, 1 to change, 1 to delete.\n"),
            "{text}"
        );
        assert!(!text.contains("AWS-"), "{text}");
        assert_eq!(deletions(&plan), ["gone"]);
        assert_eq!(plan.depth(), 1, "every step is independent");
        // Unchanged: no step at all.
        let none = documents_plan(&[desired("same", RUN)], &[observed("same", RUN)]);
        assert!(none.is_empty());
    }

    #[test]
    fn a_latest_version_with_the_content_is_only_made_the_default() {
        let changed = RUN.replace("uptime", "date");
        let mut o = observed("doc", RUN);
        o.latest_version = "2".into();
        o.latest_content = Some(parse_content(&changed).unwrap().value);
        let plan = documents_plan(&[desired("doc", &changed)], std::slice::from_ref(&o));
        assert!(matches!(
            &plan.steps[0].action,
            SsmAction::SetDefaultVersion { version, .. } if version == "2"
        ));
        // Unreadable content is replaced.
        o.default_content = None;
        o.latest_content = None;
        let plan = documents_plan(&[desired("doc", &changed)], &[o]);
        assert!(matches!(
            &plan.steps[0].action,
            SsmAction::UpdateDocument { before, .. } if before == "(content not readable)"
        ));
    }

    #[test]
    fn a_sandbox_account_has_only_sandbox_environments() {
        let env = |n: &str, t: &str| (n.to_string(), t.to_string());
        assert!(is_sandbox_account(&[
            env("demo", "sandbox"),
            env("build", "sandbox")
        ]));
        assert!(!is_sandbox_account(&[
            env("demo", "sandbox"),
            env("ci", "staging")
        ]));
        assert!(!is_sandbox_account(&[]));
    }

    #[test]
    fn automation_documents_are_created_as_such() {
        let v = parse_content("{\"schemaVersion\": \"0.3\"}").unwrap().value;
        assert_eq!(document_type(&v), "Automation");
        let v = parse_content("schemaVersion: 2.2\n").unwrap().value;
        assert_eq!(document_type(&v), "Command");
    }

    fn declared(name: &str, ptype: &str, has_default: bool) -> DeclaredParameter {
        DeclaredParameter {
            name: name.into(),
            ptype: ptype.into(),
            has_default,
        }
    }

    #[test]
    fn parameters_are_parsed_and_checked_against_the_document() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let p = parse_parameters(&args(&["message=a=b", "list=1", "list=2"])).unwrap();
        assert_eq!(p["message"], ["a=b"]);
        assert_eq!(p["list"], ["1", "2"]);
        assert!(parse_parameters(&args(&["novalue"]))
            .unwrap_err()
            .contains("not key=value"));
        assert!(parse_parameters(&args(&["=x"])).is_err());

        let decl = [
            declared("message", "String", true),
            declared("list", "StringList", false),
            declared("count", "Integer", true),
            declared("force", "Boolean", true),
        ];
        assert_eq!(check_parameters("d", &p, &decl), Ok(()));
        let err = check_parameters(
            "d",
            &parse_parameters(&args(&["msg=x", "list=1"])).unwrap(),
            &decl,
        )
        .unwrap_err();
        assert_eq!(
            err,
            "document d has no parameter \"msg\" (it declares message, list, count, force)"
        );
        let err = check_parameters(
            "d",
            &parse_parameters(&args(&["message=x"])).unwrap(),
            &decl,
        )
        .unwrap_err();
        assert_eq!(err, "document d needs list (no default)");
        let err = check_parameters(
            "d",
            &parse_parameters(&args(&["list=1", "message=a", "message=b"])).unwrap(),
            &decl,
        )
        .unwrap_err();
        assert!(err.contains("takes one value, given 2"), "{err}");
        for bad in ["count=ten", "force=yes"] {
            let err = check_parameters(
                "d",
                &parse_parameters(&args(&["list=1", bad])).unwrap(),
                &decl,
            )
            .unwrap_err();
            assert!(err.contains("is not one"), "{err}");
        }
        assert!(
            check_parameters("d", &parse_parameters(&args(&["x=1"])).unwrap(), &[])
                .unwrap_err()
                .contains("it declares none")
        );
    }

    #[test]
    fn rates_batches_and_states() {
        for ok in ["1", "50", "10%", "100%", "0"] {
            assert!(is_rate(ok), "{ok}");
        }
        for bad in ["", "%", "101%", "ten", "5 %", "-1"] {
            assert!(!is_rate(bad), "{bad}");
        }
        let ids: Vec<String> = (0..120).map(|i| format!("i-{i}")).collect();
        let b = batches(&ids);
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), [50, 50, 20]);
        assert_eq!(b.concat(), ids);
        assert!(batches(&[]).is_empty());
        for pending in ["Pending", "InProgress", "Delayed", "Cancelling"] {
            assert!(!is_final(pending));
        }
        for done in ["Success", "Failed", "TimedOut", "Cancelled"] {
            assert!(is_final(done));
        }
    }

    #[test]
    fn the_summary_names_what_failed() {
        let inv = |id: &str, status: &str, code: i32| Invocation {
            instance_id: id.into(),
            hostname: (id == "i-1").then(|| "web-1".into()),
            command_id: "c".into(),
            status: status.into(),
            status_details: status.into(),
            response_code: code,
            stdout: String::new(),
            stderr: String::new(),
            stdout_url: None,
            stderr_url: None,
        };
        assert_eq!(failure_summary(&[inv("i-1", "Success", 0)]), None);
        assert_eq!(
            failure_summary(&[
                inv("i-1", "Failed", 2),
                inv("i-2", "Success", 0),
                inv("i-3", "TimedOut", -1)
            ])
            .unwrap(),
            "2 of 3 instances did not succeed: i-1 (web-1) (Failed, exit 2), i-3 (TimedOut)"
        );
    }

    #[test]
    fn exec_flags_are_checked_before_any_call() {
        let p =
            check_exec_flags(&["a=1".into(), "a=2".into()], Some("25%"), Some("3"), None).unwrap();
        assert_eq!(p["a"], ["1", "2"]);
        assert!(check_exec_flags(&["a".into()], None, None, None)
            .unwrap_err()
            .starts_with("--parameters: "));
        assert_eq!(
            check_exec_flags(&[], Some("lots"), None, None).unwrap_err(),
            "--max-concurrency \"lots\": expected a number or a percentage (10, 25%)"
        );
        assert!(check_exec_flags(&[], None, None, Some(&"x".repeat(101)))
            .unwrap_err()
            .starts_with("--comment"));
    }

    #[test]
    fn an_invocation_prints_its_heading_output_and_addresses() {
        let inv = Invocation {
            instance_id: "i-1".into(),
            hostname: Some("web-1".into()),
            command_id: "c-1".into(),
            status: "Success".into(),
            status_details: "Success".into(),
            response_code: 0,
            stdout: "one\ntwo\n".into(),
            stderr: String::new(),
            stdout_url: Some("s3://b/k".into()),
            stderr_url: None,
        };
        assert_eq!(
            inv.lines(),
            [
                "==> i-1 (web-1): Success (exit 0)",
                "--- stdout",
                "one",
                "two",
                "(all of it: s3://b/k)"
            ]
        );
    }
}
