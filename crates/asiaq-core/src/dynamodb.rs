//! DynamoDB tables of an environment (the original's `disco_dynamodb.py`, spec §2.11 and
//! §4.19): physical names `<Table>_<env>`, the table definition file (the JSON of
//! `CreateTable`, checked before any call), the table as observed, and the differences an
//! `update` sends. The plans themselves are in [`crate::plan::dynamodb`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

mod command;
pub mod text;
pub use command::*;

// ---------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------

/// Checks the environment part of a physical name: the original refused an empty one and
/// `none`/`-` (any case), which would name tables of no environment.
pub fn check_environment(env: &str) -> Result<(), String> {
    if env.is_empty() || env == "-" || env.eq_ignore_ascii_case("none") {
        return Err(format!(
            "environment {env:?} cannot own DynamoDB tables (expected an environment name, not empty, `none` or `-`)"
        ));
    }
    if let Some(c) = env.chars().find(|c| !is_name_char(*c)) {
        return Err(format!(
            "environment {env:?} contains {c:?} (DynamoDB names are letters, digits, `_`, `-` and `.`)"
        ));
    }
    Ok(())
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

/// Checks a table name as given (`--table`, `TableName`): DynamoDB's characters, and no
/// `_`, which separates the table from its environment in the physical name.
pub fn check_table_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("table name is empty".to_string());
    }
    if name.contains('_') {
        return Err(format!(
            "table name {name:?} contains \"_\", which separates the table from its environment in <Table>_<env>"
        ));
    }
    if let Some(c) = name.chars().find(|c| !is_name_char(*c)) {
        return Err(format!(
            "table name {name:?} contains {c:?} (expected letters, digits, `-` and `.`)"
        ));
    }
    Ok(())
}

/// The physical name of table `table` of environment `env`, checked: DynamoDB takes 3 to
/// 255 characters.
pub fn physical_name(table: &str, env: &str) -> Result<String, String> {
    check_table_name(table)?;
    check_environment(env)?;
    let name = format!("{table}_{env}");
    if !(3..=255).contains(&name.len()) {
        return Err(format!(
            "table name {name:?} has {} characters (DynamoDB takes 3 to 255)",
            name.len()
        ));
    }
    Ok(name)
}

/// A physical name split at its first `_`, as the original's `list` printed it: `(table,
/// environment)`; a name without `_` has an empty environment.
pub fn split_physical(name: &str) -> (&str, &str) {
    name.split_once('_').unwrap_or((name, ""))
}

// ---------------------------------------------------------------------------------------
// The definition file
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ScalarType {
    S,
    N,
    B,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AttributeDefinition {
    pub attribute_name: String,
    pub attribute_type: ScalarType,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KeyType {
    Hash,
    Range,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct KeySchemaElement {
    pub attribute_name: String,
    pub key_type: KeyType,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProjectionType {
    All,
    KeysOnly,
    Include,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Projection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projection_type: Option<ProjectionType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub non_key_attributes: Option<Vec<String>>,
}

impl Projection {
    /// Whether the table's projection `observed` is the one this (wanted) projection asks
    /// for: a type the file leaves out is the table's; the order of non-key attributes does
    /// not matter.
    pub fn satisfied_by(&self, observed: &Projection) -> bool {
        let attrs = |p: &Projection| -> BTreeSet<String> {
            p.non_key_attributes.iter().flatten().cloned().collect()
        };
        self.projection_type
            .is_none_or(|t| Some(t) == observed.projection_type)
            && attrs(self) == attrs(observed)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Throughput {
    pub read_capacity_units: i64,
    pub write_capacity_units: i64,
}

impl fmt::Display for Throughput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "read {}, write {}",
            self.read_capacity_units, self.write_capacity_units
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct GlobalSecondaryIndex {
    pub index_name: String,
    pub key_schema: Vec<KeySchemaElement>,
    pub projection: Projection,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioned_throughput: Option<Throughput>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct LocalSecondaryIndex {
    pub index_name: String,
    pub key_schema: Vec<KeySchemaElement>,
    pub projection: Projection,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BillingMode {
    #[default]
    Provisioned,
    PayPerRequest,
}

impl fmt::Display for BillingMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BillingMode::Provisioned => "PROVISIONED",
            BillingMode::PayPerRequest => "PAY_PER_REQUEST",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StreamViewType {
    NewImage,
    OldImage,
    NewAndOldImages,
    KeysOnly,
}

impl fmt::Display for StreamViewType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StreamViewType::NewImage => "NEW_IMAGE",
            StreamViewType::OldImage => "OLD_IMAGE",
            StreamViewType::NewAndOldImages => "NEW_AND_OLD_IMAGES",
            StreamViewType::KeysOnly => "KEYS_ONLY",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct StreamSpecification {
    pub stream_enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_view_type: Option<StreamViewType>,
}

impl StreamSpecification {
    /// The stream's view type when it is on, `None` when it is off.
    pub fn view(&self) -> Option<StreamViewType> {
        self.stream_view_type.filter(|_| self.stream_enabled)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SseSpecification {
    #[serde(rename = "Enabled", default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(rename = "SSEType", default, skip_serializing_if = "Option::is_none")]
    pub sse_type: Option<String>,
    #[serde(
        rename = "KMSMasterKeyId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub kms_master_key_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// `TimeToLiveSpecification` (as `UpdateTimeToLive` takes it): not part of `CreateTable`,
/// so asiaq sets it right after creating the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TimeToLive {
    pub enabled: bool,
    pub attribute_name: String,
}

/// A table definition file: the request of `CreateTable` (the keys asiaq knows), plus
/// `TimeToLiveSpecification`. Every key is optional here; [`TableDefinition::check`] says
/// which a create needs. An `update` file may hold only what it changes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TableDefinition {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute_definitions: Option<Vec<AttributeDefinition>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_schema: Option<Vec<KeySchemaElement>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_secondary_indexes: Option<Vec<LocalSecondaryIndex>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_secondary_indexes: Option<Vec<GlobalSecondaryIndex>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_mode: Option<BillingMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioned_throughput: Option<Throughput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_specification: Option<StreamSpecification>,
    #[serde(
        rename = "SSESpecification",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sse_specification: Option<SseSpecification>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_class: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_protection_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_live_specification: Option<TimeToLive>,
}

/// What a definition file is read for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// `create`: a whole table.
    Create,
    /// `update --table T`: what to change; keys that are absent are left as they are.
    Update,
}

/// One problem of a definition file, with its line and column when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProblem {
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl FileProblem {
    fn at(position: Option<(usize, usize)>, message: String) -> Self {
        FileProblem {
            line: position.map(|p| p.0),
            column: position.map(|p| p.1),
            message,
        }
    }

    /// `file:line:column: message`, or `file: message` without a position.
    pub fn render(&self, file: &str) -> String {
        match (self.line, self.column) {
            (Some(l), Some(c)) => format!("{file}:{l}:{c}: {}", self.message),
            _ => format!("{file}: {}", self.message),
        }
    }
}

/// The 1-based line and column of byte `offset` of `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Where the string `"value"` first appears after the key `"anchor"` (a best effort that
/// points at the offending entry of a list).
fn locate(text: &str, anchor: &str, value: &str) -> Option<(usize, usize)> {
    let start = text.find(&format!("\"{anchor}\""))?;
    let needle = serde_json::to_string(value).ok()?;
    let at = text[start..].find(&needle)? + start;
    Some(line_column(text, at))
}

/// Reads and checks a definition file's text: JSON syntax and unknown keys (with serde's
/// line and column), then the rules DynamoDB would refuse the request for (see
/// [`TableDefinition::check`]). All problems at once.
pub fn parse_definition(text: &str, purpose: Purpose) -> Result<TableDefinition, Vec<FileProblem>> {
    let def: TableDefinition = serde_json::from_str(text).map_err(|e| {
        let message = e.to_string();
        // serde_json ends its message with " at line L column C"; the position is given apart.
        let message = match message.rfind(" at line ") {
            Some(i) if e.line() > 0 => message[..i].to_string(),
            _ => message,
        };
        vec![FileProblem {
            line: (e.line() > 0).then_some(e.line()),
            column: (e.line() > 0).then_some(e.column()),
            message,
        }]
    })?;
    let problems: Vec<FileProblem> = def
        .check(purpose)
        .into_iter()
        .map(|(anchor, message)| {
            FileProblem::at(anchor.and_then(|(k, v)| locate(text, k, &v)), message)
        })
        .collect();
    if problems.is_empty() {
        Ok(def)
    } else {
        Err(problems)
    }
}

type Located = (Option<(&'static str, String)>, String);

fn check_key_schema(what: &str, keys: &[KeySchemaElement], out: &mut Vec<Located>) {
    let shape: Vec<KeyType> = keys.iter().map(|k| k.key_type).collect();
    if !matches!(
        shape.as_slice(),
        [KeyType::Hash] | [KeyType::Hash, KeyType::Range]
    ) {
        out.push((
            None,
            format!("{what}: expected one HASH key, then at most one RANGE key"),
        ));
    }
}

impl TableDefinition {
    /// Every attribute a key schema or an index of this file uses.
    fn used_attributes(&self) -> BTreeSet<&str> {
        let mut used: BTreeSet<&str> = BTreeSet::new();
        let keys = self.key_schema.iter().flatten();
        let lsi = self
            .local_secondary_indexes
            .iter()
            .flatten()
            .flat_map(|i| &i.key_schema);
        let gsi = self
            .global_secondary_indexes
            .iter()
            .flatten()
            .flat_map(|i| &i.key_schema);
        for k in keys.chain(lsi).chain(gsi) {
            used.insert(&k.attribute_name);
        }
        used
    }

    /// The problems DynamoDB (or asiaq's naming) would refuse, each with the key and value
    /// that locate it in the file when there is one.
    fn check(&self, purpose: Purpose) -> Vec<Located> {
        let mut out: Vec<Located> = Vec::new();
        if purpose == Purpose::Create {
            for (present, key) in [
                (self.table_name.is_some(), "TableName"),
                (self.key_schema.is_some(), "KeySchema"),
                (self.attribute_definitions.is_some(), "AttributeDefinitions"),
            ] {
                if !present {
                    out.push((None, format!("{key} is missing (a create needs it)")));
                }
            }
        }
        if let Some(name) = &self.table_name {
            if let Err(e) = check_table_name(name) {
                out.push((Some(("TableName", name.clone())), e));
            }
        }
        if let Some(keys) = &self.key_schema {
            check_key_schema("KeySchema", keys, &mut out);
        }
        let mut index_names = BTreeSet::new();
        for i in self.local_secondary_indexes.iter().flatten() {
            check_key_schema(&format!("index {}", i.index_name), &i.key_schema, &mut out);
            if !index_names.insert(i.index_name.as_str()) {
                out.push((
                    Some(("LocalSecondaryIndexes", i.index_name.clone())),
                    format!("index {:?} is defined twice", i.index_name),
                ));
            }
        }
        for i in self.global_secondary_indexes.iter().flatten() {
            check_key_schema(&format!("index {}", i.index_name), &i.key_schema, &mut out);
            if !index_names.insert(i.index_name.as_str()) {
                out.push((
                    Some(("GlobalSecondaryIndexes", i.index_name.clone())),
                    format!("index {:?} is defined twice", i.index_name),
                ));
            }
        }
        // Which attributes are used is known from the file alone when it is a whole table
        // (a create, or an update file with the key schema); an update file with only new
        // indexes may define the table's own key attributes, which `update` checks against
        // the table ([`crate::plan::dynamodb::update_plan`]).
        let whole = purpose == Purpose::Create || self.key_schema.is_some();
        if let Some(defs) = self.attribute_definitions.as_ref().filter(|_| whole) {
            let used = self.used_attributes();
            let mut seen = BTreeSet::new();
            for d in defs {
                if !seen.insert(d.attribute_name.as_str()) {
                    out.push((
                        Some(("AttributeDefinitions", d.attribute_name.clone())),
                        format!("attribute {:?} is defined twice", d.attribute_name),
                    ));
                } else if !used.contains(d.attribute_name.as_str()) {
                    out.push((
                        Some(("AttributeDefinitions", d.attribute_name.clone())),
                        format!(
                            "attribute {:?} is defined but no key schema or index uses it (DynamoDB refuses unused attribute definitions)",
                            d.attribute_name
                        ),
                    ));
                }
            }
            // Every key attribute must be defined; an update file may leave the table's own
            // definitions out (they are known from the table), so only a create checks it.
            if purpose == Purpose::Create {
                for a in used.difference(&seen) {
                    out.push((
                        None,
                        format!("key attribute {a:?} has no entry in AttributeDefinitions"),
                    ));
                }
            }
        }
        let billing = self.billing_mode.unwrap_or_default();
        match billing {
            BillingMode::PayPerRequest => {
                if self.provisioned_throughput.is_some() {
                    out.push((
                        None,
                        "ProvisionedThroughput is given with BillingMode PAY_PER_REQUEST".into(),
                    ));
                }
                for i in self.global_secondary_indexes.iter().flatten() {
                    if i.provisioned_throughput.is_some() {
                        out.push((
                            Some(("GlobalSecondaryIndexes", i.index_name.clone())),
                            format!(
                                "index {} has ProvisionedThroughput, but BillingMode is PAY_PER_REQUEST",
                                i.index_name
                            ),
                        ));
                    }
                }
            }
            BillingMode::Provisioned if purpose == Purpose::Create => {
                if self.provisioned_throughput.is_none() {
                    out.push((
                        None,
                        "ProvisionedThroughput is missing (BillingMode PROVISIONED, the default, needs it)".into(),
                    ));
                }
                for i in self.global_secondary_indexes.iter().flatten() {
                    if i.provisioned_throughput.is_none() {
                        out.push((
                            Some(("GlobalSecondaryIndexes", i.index_name.clone())),
                            format!(
                                "index {} has no ProvisionedThroughput (BillingMode PROVISIONED needs it)",
                                i.index_name
                            ),
                        ));
                    }
                }
            }
            BillingMode::Provisioned => {}
        }
        for t in self.provisioned_throughput.iter().chain(
            self.global_secondary_indexes
                .iter()
                .flatten()
                .filter_map(|i| i.provisioned_throughput.as_ref()),
        ) {
            if t.read_capacity_units < 1 || t.write_capacity_units < 1 {
                out.push((
                    None,
                    format!("throughput {t}: capacity units must be at least 1"),
                ));
            }
        }
        if let Some(s) = &self.stream_specification {
            if s.stream_enabled && s.stream_view_type.is_none() {
                out.push((
                    None,
                    "StreamSpecification: StreamEnabled needs a StreamViewType".into(),
                ));
            }
        }
        if let Some(t) = &self.time_to_live_specification {
            if t.attribute_name.is_empty() {
                out.push((
                    None,
                    "TimeToLiveSpecification: AttributeName is empty".into(),
                ));
            }
        }
        out
    }

    /// The keys of an update file that `update` does not change (they are set on create).
    pub fn create_only_keys(&self) -> Vec<&'static str> {
        let mut keys = Vec::new();
        if self.sse_specification.is_some() {
            keys.push("SSESpecification");
        }
        if self.table_class.is_some() {
            keys.push("TableClass");
        }
        if self.deletion_protection_enabled.is_some() {
            keys.push("DeletionProtectionEnabled");
        }
        if self.tags.is_some() {
            keys.push("Tags");
        }
        keys
    }
}

// ---------------------------------------------------------------------------------------
// The table as observed
// ---------------------------------------------------------------------------------------

/// A global secondary index as `DescribeTable` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ObservedIndex {
    pub index_name: String,
    pub index_status: String,
    pub key_schema: Vec<KeySchemaElement>,
    pub projection: Projection,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioned_throughput: Option<Throughput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_count: Option<i64>,
}

/// The time-to-live setting as `DescribeTimeToLive` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ObservedTimeToLive {
    /// `ENABLED`, `DISABLED`, `ENABLING`, `DISABLING`.
    pub time_to_live_status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute_name: Option<String>,
}

impl ObservedTimeToLive {
    /// The attribute when time to live is on (or being turned on).
    pub fn enabled_attribute(&self) -> Option<&str> {
        matches!(self.time_to_live_status.as_str(), "ENABLED" | "ENABLING")
            .then_some(self.attribute_name.as_deref())
            .flatten()
    }
}

/// A table as `DescribeTable` shows it (what `describe` prints, and what `update` compares
/// the file with).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ObservedTable {
    pub table_name: String,
    pub table_status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_date_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_size_bytes: Option<i64>,
    pub attribute_definitions: Vec<AttributeDefinition>,
    pub key_schema: Vec<KeySchemaElement>,
    pub billing_mode: BillingMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioned_throughput: Option<Throughput>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub global_secondary_indexes: Vec<ObservedIndex>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub local_secondary_indexes: Vec<LocalSecondaryIndex>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_specification: Option<StreamSpecification>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_stream_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_class: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_protection_enabled: Option<bool>,
    /// Filled by `describe` (one more call); `update` asks only when its file sets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_live: Option<ObservedTimeToLive>,
}

impl ObservedTable {
    /// True when the table and every index can take a change (`ACTIVE`); otherwise the
    /// state to report while waiting.
    pub fn settled(&self) -> Result<(), String> {
        if self.table_status != "ACTIVE" {
            return Err(format!("table {}", self.table_status));
        }
        match self
            .global_secondary_indexes
            .iter()
            .find(|i| i.index_status != "ACTIVE")
        {
            Some(i) => Err(format!("index {} {}", i.index_name, i.index_status)),
            None => Ok(()),
        }
    }
}

/// A JSON value with every object's keys sorted, as the original printed descriptions
/// (`sort_keys=True`).
pub fn sorted_json(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(o) => {
            let sorted: BTreeMap<String, serde_json::Value> =
                o.into_iter().map(|(k, v)| (k, sorted_json(v))).collect();
            serde_json::Value::Object(sorted.into_iter().collect())
        }
        serde_json::Value::Array(a) => {
            serde_json::Value::Array(a.into_iter().map(sorted_json).collect())
        }
        other => other,
    }
}

// ---------------------------------------------------------------------------------------
// Backups
// ---------------------------------------------------------------------------------------

/// One backup as `ListBackups` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupSummary {
    pub table: String,
    pub name: String,
    pub arn: String,
    /// RFC 3339, UTC.
    pub created: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<i64>,
    /// `USER`, `SYSTEM` or `AWS_BACKUP`.
    pub backup_type: String,
}

/// The newest available backup (by creation time; RFC 3339 UTC times sort as text).
pub fn latest_backup(backups: &[BackupSummary]) -> Option<&BackupSummary> {
    backups
        .iter()
        .filter(|b| b.status == "AVAILABLE")
        .max_by(|a, b| a.created.cmp(&b.created).then(a.arn.cmp(&b.arn)))
}

/// The table a backup ARN belongs to: `arn:aws:dynamodb:<region>:<account>:table/<T>/backup/<id>`.
pub fn backup_table(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:")?;
    let resource = rest.splitn(5, ':').nth(4)?;
    let after = resource.strip_prefix("table/")?;
    let (table, tail) = after.split_once('/')?;
    tail.starts_with("backup/").then_some(table)
}

/// A compact UTC stamp for names: `2026-12-07T19:51:50Z` → `20261207T195150Z`.
pub fn name_stamp(rfc3339_utc: &str) -> String {
    rfc3339_utc
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect()
}

/// The default name of a backup of `physical` made at `now` (RFC 3339, UTC):
/// `<physical>-<stamp>` (backup names take letters, digits, `_`, `-` and `.`).
pub fn default_backup_name(physical: &str, now: &str) -> String {
    format!("{physical}-{}", name_stamp(now))
}

/// Checks a backup name (`--name`): 3 to 255 of letters, digits, `_`, `-` and `.`.
pub fn check_backup_name(name: &str) -> Result<(), String> {
    if !(3..=255).contains(&name.len()) {
        return Err(format!(
            "backup name {name:?} has {} characters (expected 3 to 255)",
            name.len()
        ));
    }
    match name.chars().find(|c| !is_name_char(*c)) {
        Some(c) => Err(format!(
            "backup name {name:?} contains {c:?} (expected letters, digits, `_`, `-` and `.`)"
        )),
        None => Ok(()),
    }
}

/// The table a restore creates when `--to` names none: `<table>-restored-<stamp>`.
pub fn default_restore_target(table: &str, now: &str) -> String {
    format!("{table}-restored-{}", name_stamp(now))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREATE: &str = r#"{
  "TableName": "notices",
  "AttributeDefinitions": [
    {"AttributeName": "id", "AttributeType": "S"},
    {"AttributeName": "sent", "AttributeType": "N"}
  ],
  "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
  "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
  "GlobalSecondaryIndexes": [{
    "IndexName": "by-sent",
    "KeySchema": [{"AttributeName": "sent", "KeyType": "HASH"}],
    "Projection": {"ProjectionType": "KEYS_ONLY"},
    "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}
  }],
  "TimeToLiveSpecification": {"Enabled": true, "AttributeName": "expires"}
}"#;

    fn messages(r: Result<TableDefinition, Vec<FileProblem>>) -> Vec<String> {
        r.unwrap_err().iter().map(|p| p.render("t.json")).collect()
    }

    #[test]
    fn names() {
        assert_eq!(physical_name("notices", "ci").unwrap(), "notices_ci");
        assert!(physical_name("my_table", "ci")
            .unwrap_err()
            .contains("\"_\""));
        assert!(physical_name("t", "").is_err());
        assert!(physical_name("t", "None").is_err());
        assert!(physical_name("t", "-").is_err());
        assert!(physical_name("a", "b").is_ok());
        assert!(physical_name("x", "").is_err());
        assert!(physical_name("tab le", "ci").is_err());
        assert_eq!(split_physical("notices_ci_2"), ("notices", "ci_2"));
        assert_eq!(split_physical("plain"), ("plain", ""));
    }

    #[test]
    fn a_whole_definition_parses() {
        let def = parse_definition(CREATE, Purpose::Create).unwrap();
        assert_eq!(def.table_name.as_deref(), Some("notices"));
        assert_eq!(def.global_secondary_indexes.as_ref().unwrap().len(), 1);
        assert_eq!(
            def.time_to_live_specification.unwrap().attribute_name,
            "expires"
        );
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let text = "{\n  \"TableName\": \"notices\",\n  \"KeySchema\": [,]\n}";
        let m = messages(parse_definition(text, Purpose::Create));
        assert_eq!(m.len(), 1);
        assert!(m[0].starts_with("t.json:3:17: "), "{m:?}");
    }

    #[test]
    fn unknown_keys_are_errors_with_their_position() {
        let text = "{\n  \"TableName\": \"notices\",\n  \"Throughput\": 1\n}";
        let m = messages(parse_definition(text, Purpose::Update));
        assert!(m[0].starts_with("t.json:3:"), "{m:?}");
        assert!(m[0].contains("unknown field `Throughput`"), "{m:?}");
        // Nested keys too.
        let text = r#"{"ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacity": 2}}"#;
        let m = messages(parse_definition(text, Purpose::Update));
        assert!(m[0].contains("unknown field `WriteCapacity`"), "{m:?}");
        // And values of the wrong kind.
        let text = r#"{"BillingMode": "ON_DEMAND"}"#;
        let m = messages(parse_definition(text, Purpose::Update));
        assert!(m[0].contains("unknown variant `ON_DEMAND`"), "{m:?}");
    }

    #[test]
    fn unused_attribute_definitions_are_errors_located_at_the_attribute() {
        let text = CREATE.replace(
            "{\"AttributeName\": \"sent\", \"AttributeType\": \"N\"}",
            "{\"AttributeName\": \"sent\", \"AttributeType\": \"N\"},\n    {\"AttributeName\": \"spare\", \"AttributeType\": \"S\"}",
        );
        let m = messages(parse_definition(&text, Purpose::Create));
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(
            m[0].starts_with("t.json:6:23: attribute \"spare\""),
            "{m:?}"
        );
    }

    #[test]
    fn a_create_needs_the_whole_table() {
        let m = messages(parse_definition(
            r#"{"TableName": "x_y", "BillingMode": "PAY_PER_REQUEST"}"#,
            Purpose::Create,
        ));
        assert!(
            m.iter().any(|m| m.contains("KeySchema is missing")),
            "{m:?}"
        );
        assert!(
            m.iter()
                .any(|m| m.contains("AttributeDefinitions is missing")),
            "{m:?}"
        );
        assert!(m.iter().any(|m| m.contains("contains \"_\"")), "{m:?}");
        // A partial file is an update.
        assert!(parse_definition(
            r#"{"ProvisionedThroughput": {"ReadCapacityUnits": 23, "WriteCapacityUnits": 19}}"#,
            Purpose::Update
        )
        .is_ok());
    }

    #[test]
    fn billing_and_keys_are_checked() {
        let text = CREATE.replace(
            "\"ProvisionedThroughput\": {\"ReadCapacityUnits\": 1, \"WriteCapacityUnits\": 1},\n",
            "",
        );
        let m = messages(parse_definition(&text, Purpose::Create));
        assert!(
            m.iter()
                .any(|m| m.contains("ProvisionedThroughput is missing")),
            "{m:?}"
        );
        let text = r#"{"BillingMode": "PAY_PER_REQUEST", "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}}"#;
        assert!(parse_definition(text, Purpose::Update).is_err());
        let text = r#"{"KeySchema": [{"AttributeName": "a", "KeyType": "RANGE"}]}"#;
        let m = messages(parse_definition(text, Purpose::Update));
        assert!(m[0].contains("one HASH key"), "{m:?}");
        let text = r#"{"StreamSpecification": {"StreamEnabled": true}}"#;
        assert!(parse_definition(text, Purpose::Update).is_err());
    }

    #[test]
    fn backups() {
        let arn = "arn:aws:dynamodb:us-west-2:123456789012:table/notices_ci/backup/0179-abc";
        assert_eq!(backup_table(arn), Some("notices_ci"));
        assert_eq!(backup_table("arn:aws:dynamodb:us-west-2:1:table/x"), None);
        let b = |arn: &str, created: &str, status: &str| BackupSummary {
            table: "t_ci".into(),
            name: arn.into(),
            arn: arn.into(),
            created: created.into(),
            status: status.into(),
            size_bytes: None,
            backup_type: "USER".into(),
        };
        let list = vec![
            b("a", "2026-12-07T10:00:00Z", "AVAILABLE"),
            b("c", "2026-12-07T12:00:00Z", "CREATING"),
            b("b", "2026-12-07T11:00:00Z", "AVAILABLE"),
        ];
        assert_eq!(latest_backup(&list).unwrap().arn, "b");
        assert_eq!(
            default_backup_name("t_ci", "2026-12-07T19:51:50Z"),
            "t_ci-20261207T195150Z"
        );
        assert!(check_backup_name("ab").is_err());
        assert!(check_backup_name("nightly/1").is_err());
        assert!(check_backup_name("nightly-1").is_ok());
        assert_eq!(
            default_restore_target("notices", "2026-12-07T19:51:50Z"),
            "notices-restored-20261207T195150Z"
        );
    }

    #[test]
    fn a_table_is_settled_when_it_and_every_index_are_active() {
        let mut t: ObservedTable = serde_json::from_value(serde_json::json!({
            "TableName": "t_ci", "TableStatus": "UPDATING", "AttributeDefinitions": [],
            "KeySchema": [], "BillingMode": "PAY_PER_REQUEST",
            "GlobalSecondaryIndexes": [{"IndexName": "i", "IndexStatus": "CREATING",
                "KeySchema": [], "Projection": {}}]
        }))
        .unwrap();
        assert_eq!(t.settled(), Err("table UPDATING".to_string()));
        t.table_status = "ACTIVE".into();
        assert_eq!(t.settled(), Err("index i CREATING".to_string()));
        t.global_secondary_indexes[0].index_status = "ACTIVE".into();
        assert_eq!(t.settled(), Ok(()));
    }

    #[test]
    fn descriptions_print_with_sorted_keys() {
        let v = serde_json::json!({"b": 1, "a": {"d": 2, "c": 3}});
        assert_eq!(
            serde_json::to_string(&sorted_json(v)).unwrap(),
            r#"{"a":{"c":3,"d":2},"b":1}"#
        );
    }
}
