//! Machine images: naming, stages, selection and cleanup (spec §4.9). Pure: images are
//! described by [`AmiInfo`] values the AWS layer fills in, and "now" is a parameter.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::storage::StorageOptions;

pub mod text;

/// What asiaq needs to know about one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AmiInfo {
    pub id: String,
    pub name: String,
    /// `available`, `pending`, `failed`, ...
    pub state: String,
    pub tags: BTreeMap<String, String>,
    /// Owner account id.
    pub owner: String,
    /// Snapshot ids of its EBS block device mappings.
    pub snapshot_ids: Vec<String>,
    /// `CreationDate` as AWS gives it (ISO 8601), if any.
    pub creation_date: Option<String>,
    /// The root device name (e.g. `/dev/sda1`), for block device mappings (spec §4.14).
    #[serde(skip)]
    pub root_device_name: Option<String>,
    /// Whether its block device mappings include `/dev/sda` (then that is the root).
    #[serde(skip)]
    pub maps_sda: bool,
}

impl AmiInfo {
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.get(key).map(String::as_str)
    }

    /// The hostclass: the first word of the name (`mhcfoo 1466000000` → `mhcfoo`).
    pub fn hostclass(&self) -> &str {
        self.name.split_whitespace().next().unwrap_or_default()
    }

    /// The name's timestamp: its last word as an integer, or 0.
    pub fn timestamp(&self) -> u64 {
        name_timestamp(&self.name)
    }

    /// Whether the image is private (invisible to deploy and provision): as the original's
    /// `ami_filter`, it is public only when the `is_private` tag is missing or exactly
    /// `False` (so an unexpected value hides the image rather than exposing it).
    pub fn is_private(&self) -> bool {
        self.tag("is_private").is_some_and(|v| v != "False")
    }

    /// When the image was made, as unix seconds: the name's timestamp when it has one, else
    /// AWS's `CreationDate`. (The original fell back to the newest snapshot's start time,
    /// one more call per image for the same instant.)
    pub fn creation_time(&self) -> Option<u64> {
        match self.timestamp() {
            0 => self.creation_date.as_deref().and_then(parse_utc_timestamp),
            ts => Some(ts),
        }
    }

    /// The `stage` tag.
    pub fn stage(&self) -> Option<&str> {
        self.tag("stage")
    }
}

/// The timestamp of an image name: its last whitespace-separated word as an integer, or 0.
pub fn name_timestamp(name: &str) -> u64 {
    name.split_whitespace()
        .last()
        .and_then(|w| w.parse().ok())
        .unwrap_or(0)
}

/// Whether a name matches the original's pattern `^\w+\s(?:[0-9]+\s)?[0-9]{10,50}` (a prefix
/// match, as Python's `re.match`).
pub fn is_asiaq_ami_name(name: &str) -> bool {
    fn leading_digits(s: &str) -> usize {
        s.chars().take_while(char::is_ascii_digit).count()
    }
    fn after_one_space(s: &str) -> Option<&str> {
        let c = s.chars().next().filter(|c| c.is_whitespace())?;
        Some(&s[c.len_utf8()..])
    }
    let word_len: usize = name
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .map(char::len_utf8)
        .sum();
    if word_len == 0 {
        return false;
    }
    let Some(rest) = after_one_space(&name[word_len..]) else {
        return false;
    };
    let n = leading_digits(rest);
    if n >= 10 {
        return true;
    }
    n >= 1 && after_one_space(&rest[n..]).is_some_and(|r| leading_digits(r) >= 10)
}

/// The name of a new image: `"<base> <unix seconds>"`.
pub fn ami_name(base: &str, now_unix: u64) -> String {
    format!("{base} {now_unix}")
}

/// Filters of `ami_filter` (spec §4.9).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AmiFilter {
    /// Stages the `stage` tag must be one of (`None`: any).
    pub stages: Option<Vec<String>>,
    pub product_line: Option<String>,
    pub state: Option<String>,
    pub hostclass: Option<String>,
    pub include_private: bool,
}

impl AmiFilter {
    /// Parses a stage argument that may be a comma list (`tested,untested`).
    pub fn stage_list(stage: &str) -> Vec<String> {
        comma_list(stage)
    }

    pub fn matches(&self, ami: &AmiInfo) -> bool {
        if let Some(stages) = &self.stages {
            if !ami.stage().is_some_and(|s| stages.iter().any(|x| x == s)) {
                return false;
            }
        }
        if let Some(pl) = &self.product_line {
            if ami.tag("productline") != Some(pl.as_str()) {
                return false;
            }
        }
        if let Some(state) = &self.state {
            if ami.state != *state {
                return false;
            }
        }
        if let Some(hc) = &self.hostclass {
            if ami.hostclass() != hc {
                return false;
            }
        }
        self.include_private || !ami.is_private()
    }
}

/// Priority of a stage in a best-first list; unlisted stages rank last.
fn stage_priority(stages: &[String], ami: &AmiInfo) -> usize {
    ami.stage()
        .and_then(|s| stages.iter().position(|x| x == s))
        .unwrap_or(100_000_000)
}

/// `find_ami` without an explicit id (spec §4.9): among `amis` (already narrowed to
/// `<hostclass> *` names), those passing the filter for `stages` (a best-first list) and
/// `hostclass`, the best stage first, then the newest name timestamp. The state is not
/// filtered, as in the original.
pub fn find_ami<'a>(
    amis: &'a [AmiInfo],
    stages: &[String],
    hostclass: Option<&str>,
    include_private: bool,
) -> Option<&'a AmiInfo> {
    let filter = AmiFilter {
        stages: (!stages.is_empty()).then(|| stages.to_vec()),
        hostclass: hostclass.map(str::to_string),
        include_private,
        ..AmiFilter::default()
    };
    amis.iter().filter(|a| filter.matches(a)).min_by(|a, b| {
        stage_priority(stages, a)
            .cmp(&stage_priority(stages, b))
            .then(b.timestamp().cmp(&a.timestamp()))
    })
}

/// The images `cleanupamis` deletes (spec §4.9): per hostclass (names matching the
/// pattern), those older than `age_days` **and** beyond the `keep` newest. `amis` are the
/// account's own images already narrowed to the stage (and product line); `exclude` ids are
/// never selected. The result is sorted by hostclass, then name.
pub fn cleanup_selection<'a>(
    amis: &'a [AmiInfo],
    keep: usize,
    age_days: i64,
    hostclass: Option<&str>,
    exclude: &[String],
    now_unix: u64,
) -> Vec<&'a AmiInfo> {
    let cutoff = now_unix as i128 - i128::from(age_days) * 86_400;
    let mut by_hostclass: BTreeMap<&str, Vec<&AmiInfo>> = BTreeMap::new();
    for a in amis {
        if exclude.iter().any(|e| e == &a.id) || !is_asiaq_ami_name(&a.name) {
            continue;
        }
        if hostclass.is_some_and(|h| h != a.hostclass()) {
            continue;
        }
        by_hostclass.entry(a.hostclass()).or_default().push(a);
    }
    let mut out = Vec::new();
    for (_, mut list) in by_hostclass {
        // Newest first, as the original's "<hostclass> <timestamp zero-padded to 12>" sort.
        list.sort_by(|a, b| b.timestamp().cmp(&a.timestamp()).then(b.name.cmp(&a.name)));
        for a in list.into_iter().skip(keep) {
            if (a.timestamp() as i128) < cutoff {
                out.push(a);
            }
        }
    }
    out.sort_by(|a, b| a.hostclass().cmp(b.hostclass()).then(a.name.cmp(&b.name)));
    out
}

/// `liststragglers` (spec §2.2): every hostclass among `amis` (the first word of every
/// visible image's name) whose newest non-private image in `stage` is missing or older than
/// `cutoff_unix`, with its newest non-private image in `first_stage` (the best candidate for
/// promotion), sorted by hostclass.
pub fn stragglers<'a>(
    amis: &'a [AmiInfo],
    stage: &str,
    first_stage: &str,
    cutoff_unix: u64,
) -> Vec<(String, Option<&'a AmiInfo>)> {
    let mut hostclasses: Vec<&str> = amis
        .iter()
        .map(AmiInfo::hostclass)
        .filter(|h| !h.is_empty())
        .collect();
    hostclasses.sort_unstable();
    hostclasses.dedup();
    let stage = [stage.to_string()];
    let first_stage = [first_stage.to_string()];
    hostclasses
        .into_iter()
        .filter(|hc| {
            find_ami(amis, &stage, Some(hc), false).is_none_or(|a| a.timestamp() < cutoff_unix)
        })
        .map(|hc| {
            (
                hc.to_string(),
                find_ami(amis, &first_stage, Some(hc), false),
            )
        })
        .collect()
}

/// The non-empty items of a comma list, trimmed (`--stage a,b`, `--exclude_amis`).
pub fn comma_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// `listamis --ami/--instance`: the image ids to describe. `None`: every visible image;
/// `Some(empty)`: nothing can match (the original then listed everything). With both, the
/// given id only if the instance runs it.
pub fn listed_ids(ami: Option<&str>, instance_images: Option<Vec<String>>) -> Option<Vec<String>> {
    let given = ami.map(|a| vec![a.to_string()]);
    match (given, instance_images) {
        (Some(given), Some(of_instance)) => Some(
            given
                .into_iter()
                .filter(|g| of_instance.contains(g))
                .collect(),
        ),
        (given, None) => given,
        (None, of_instance) => of_instance,
    }
}

/// `listamis`: the images passing `filter`, oldest first (name timestamp, then id).
pub fn listing<'a>(amis: &'a [AmiInfo], filter: &AmiFilter) -> Vec<&'a AmiInfo> {
    let mut matched: Vec<&AmiInfo> = amis.iter().filter(|a| filter.matches(a)).collect();
    matched.sort_by(|a, b| a.timestamp().cmp(&b.timestamp()).then(a.id.cmp(&b.id)));
    matched
}

/// One row of `liststragglers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Straggler {
    pub hostclass: String,
    /// Its newest non-private image of the first stage, the candidate for promotion.
    pub latest_unpromoted: Option<String>,
}

impl Straggler {
    /// `<hostclass>\t<image id or ->`.
    pub fn line(&self) -> String {
        format!(
            "{}\t{}",
            self.hostclass,
            self.latest_unpromoted.as_deref().unwrap_or("-")
        )
    }
}

/// `liststragglers --days`: [`stragglers`] with a cutoff `days` before `now_unix`.
pub fn straggler_rows(
    amis: &[AmiInfo],
    stage: &str,
    first_stage: &str,
    now_unix: u64,
    days: u64,
) -> Vec<Straggler> {
    let cutoff = now_unix.saturating_sub(days.saturating_mul(86_400));
    stragglers(amis, stage, first_stage, cutoff)
        .into_iter()
        .map(|(hostclass, a)| Straggler {
            hostclass,
            latest_unpromoted: a.map(|a| a.id.clone()),
        })
        .collect()
}

/// Inputs of the tags a baked image gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BakeTagInputs<'a> {
    pub hostclass: &'a str,
    pub stage: &'a str,
    pub source_ami: &'a str,
    pub baker: &'a str,
    pub version: &'a str,
    pub is_private: bool,
    pub product_line: Option<&'a str>,
    /// `--tag k:v` extras; they never override asiaq's own tags.
    pub extra: &'a [(String, String)],
}

/// The tags of a baked image, in the original's order (spec §4.9 step 12).
pub fn bake_tags(i: &BakeTagInputs<'_>) -> Vec<(String, String)> {
    let mut tags: Vec<(String, String)> = vec![
        ("hostclass".into(), i.hostclass.into()),
        ("stage".into(), i.stage.into()),
        ("source_ami".into(), i.source_ami.into()),
        ("baker".into(), i.baker.into()),
        ("version-asiaq".into(), i.version.into()),
        (
            "is_private".into(),
            if i.is_private { "True" } else { "False" }.into(),
        ),
    ];
    if let Some(pl) = i.product_line {
        tags.push(("productline".into(), pl.into()));
    }
    for (k, v) in i.extra {
        if !tags.iter().any(|(t, _)| t == k) {
            tags.push((k.clone(), v.clone()));
        }
    }
    tags
}

/// Parses an ISO 8601 UTC time as AWS writes it (`2016-06-15T12:34:56.000Z`,
/// `2016-06-15T12:34:56Z`) into unix seconds.
pub fn parse_utc_timestamp(text: &str) -> Option<u64> {
    let t = text.trim();
    // With an offset (`Z`, `+00:00`) it is an instant; without, a UTC civil time (the
    // original wrote both, with or without seconds and fractions).
    let instant = t.parse::<jiff::Timestamp>().ok().or_else(|| {
        let civil: jiff::civil::DateTime = t.parse().ok()?;
        civil
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp())
    })?;
    u64::try_from(instant.as_second()).ok()
}

/// `YYYY-MM-DD HH:MM:SS` of unix seconds, UTC (what the original printed: Python's
/// `str(datetime)`).
pub fn format_utc(unix: u64) -> String {
    i64::try_from(unix)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// One row of `listamis` / `listlatestami` (spec §2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AmiRow {
    pub id: String,
    /// `YYYY-MM-DD HH:MM:SS` UTC, if known.
    pub created: Option<String>,
    /// The hostclass when the name follows the asiaq pattern, else the whole name.
    pub name: String,
    pub state: String,
    pub stage: Option<String>,
    pub product_line: Option<String>,
    /// Whole hours since creation.
    pub age_hours: Option<u64>,
    /// Every other tag, `key:value`, in key order (only with `--show-tags`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Whether every prod account may launch it (only with `--in-prod`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_prod: Option<bool>,
}

impl AmiRow {
    /// The row of `ami` at `now_unix`; `show_tags` fills [`AmiRow::tags`].
    pub fn new(ami: &AmiInfo, now_unix: u64, show_tags: bool) -> AmiRow {
        let created = ami.creation_time();
        AmiRow {
            id: ami.id.clone(),
            created: created.map(format_utc),
            name: if is_asiaq_ami_name(&ami.name) {
                ami.hostclass().to_string()
            } else {
                ami.name.clone()
            },
            state: ami.state.clone(),
            stage: ami.stage().map(str::to_string),
            product_line: ami.tag("productline").map(str::to_string),
            age_hours: created.map(|c| now_unix.saturating_sub(c) / 3600),
            tags: show_tags.then(|| {
                ami.tags
                    .iter()
                    .filter(|(k, _)| k.as_str() != "stage" && k.as_str() != "productline")
                    .map(|(k, v)| format!("{k}:{v}"))
                    .collect()
            }),
            in_prod: None,
        }
    }

    /// Headers of the table, with the optional columns asked for.
    pub fn headers(in_prod: bool, show_tags: bool) -> Vec<&'static str> {
        let mut h = vec![
            "ID",
            "Created",
            "Name",
            "State",
            "Stage",
            "Product Line",
            "Age",
        ];
        if in_prod {
            h.push("Production");
        }
        if show_tags {
            h.push("Tags");
        }
        h
    }

    /// The table of `rows` ([`table_lines`] with a gap of 4): the header line first.
    pub fn table(rows: &[AmiRow], in_prod: bool, show_tags: bool) -> Vec<String> {
        let cells: Vec<Vec<String>> = rows.iter().map(|r| r.cells(in_prod, show_tags)).collect();
        table_lines(&AmiRow::headers(in_prod, show_tags), &cells, 4)
    }

    /// The cells under [`AmiRow::headers`]; empty values are `-`.
    pub fn cells(&self, in_prod: bool, show_tags: bool) -> Vec<String> {
        let or_dash = |v: Option<&str>| match v {
            Some(s) if !s.is_empty() => s.to_string(),
            _ => "-".to_string(),
        };
        let mut c = vec![
            or_dash(Some(&self.id)),
            or_dash(self.created.as_deref()),
            or_dash(Some(&self.name)),
            or_dash(Some(&self.state)),
            or_dash(self.stage.as_deref()),
            or_dash(self.product_line.as_deref()),
            self.age_hours
                .map(|a| a.to_string())
                .unwrap_or_else(|| "-".into()),
        ];
        if in_prod {
            c.push(match self.in_prod {
                Some(true) => "prod".into(),
                Some(false) => "non-prod".into(),
                None => "-".into(),
            });
        }
        if show_tags {
            c.push(or_dash(self.tags.as_ref().map(|t| t.join(", ")).as_deref()));
        }
        c
    }
}

/// Lines of a table as the original's `print_table`: every column padded to its widest
/// cell (header included) plus `gap` spaces; trailing spaces are trimmed. The first line is
/// the header (which the original printed on stderr).
pub fn table_lines(headers: &[&str], rows: &[Vec<String>], gap: usize) -> Vec<String> {
    let widths: Vec<usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .chain(std::iter::once(h.chars().count()))
                .max()
                .unwrap_or(0)
                + gap
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (cell, w) in cells.iter().zip(&widths) {
            out.push_str(&format!("{cell:<w$}"));
        }
        out.trim_end().to_string()
    };
    std::iter::once(line(headers.to_vec()))
        .chain(
            rows.iter()
                .map(|r| line(r.iter().map(String::as_str).collect())),
        )
        .collect()
}

/// `is_prod_ami`: every prod account may launch the image (true when there are none).
pub fn is_prod(launch_permission_accounts: &[String], prod_accounts: &[String]) -> bool {
    prod_accounts
        .iter()
        .all(|p| launch_permission_accounts.iter().any(|a| a == p))
}

/// A bake id: 32 lowercase hex digits (the original used `uuid1().hex`, which has the same
/// form; this one is random, so it reveals neither the host nor the time).
pub fn bake_id(rng: &mut impl rand::Rng) -> String {
    let bits: u128 = rng.gen();
    format!("{bits:032x}")
}

/// Where a bake starts from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BakeSource {
    /// `--source-ami`.
    Given { ami: String },
    /// Phase 1: the upstream image `bake_ami` of section `section` (`[<phase-1 image>]`
    /// or the hostclass).
    Upstream { section: String },
    /// Phase 2 and later: the newest final-stage, non-private image named `<name> *`.
    LatestPhase1 { name: String },
}

/// What a bake is, from the command line and configuration (spec §4.9 steps 2 and 12).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BakeIdentity {
    pub phase: u32,
    /// The new image's name without the timestamp: the phase-1 image section name (phase
    /// 1 without a hostclass), else the hostclass.
    pub image_base: String,
    /// The hostclass passed to `init/phase<N>.sh` and tagged on the image and instance.
    pub init_hostclass: String,
    pub source: BakeSource,
}

/// Users tried, in order, for the first login when `[bake] ssh_user` is not set (the
/// original's `_enable_root_ssh` order, then root itself).
pub const DEFAULT_LOGIN_USERS: [&str; 4] = ["ubuntu", "centos", "ec2-user", "root"];

/// Everything a bake needs, resolved from the command line and configuration (built by
/// `asiaq_config::bake::bake_settings`, run by `asiaq_aws::bake`).
#[derive(Debug, Clone, Serialize)]
pub struct BakeSettings {
    pub identity: BakeIdentity,
    /// `bake_ami` of the phase-1 source section (for [`BakeSource::Upstream`]).
    pub upstream_ami: Option<String>,
    /// `"<image base> <unix seconds>"`.
    pub image_name: String,
    pub bake_id: String,
    pub environment: String,
    pub instance_type: String,
    /// Storage options of the hostclass baked (`identity.init_hostclass`), read in the
    /// bakery environment: they shape the bake instance's block device mapping.
    pub storage: StorageOptions,
    pub key_name: String,
    pub instance_profile: Option<String>,
    pub repo_hostclass: Option<String>,
    /// The last of `ami_stages` (phase-2 sources must be in it).
    pub final_stage: String,
    /// `[bake] trusted_account_ids`: whose images are visible besides ours.
    pub trusted_accounts: Vec<String>,
    /// Stage tag of the new image.
    pub stage: String,
    pub baker: String,
    pub version: String,
    pub is_private: bool,
    pub product_line: Option<String>,
    pub extra_tags: Vec<(String, String)>,
    pub enhanced_networking: bool,
    #[serde(skip)]
    pub available_timeout: Duration,
    pub use_local_ip: bool,
    pub no_destroy: bool,
    /// `[bake] data_destination` on the instance.
    pub destination: String,
    /// Local directories synced to `<destination>` and `<destination>/asiaq`.
    pub config_source: PathBuf,
    pub asiaq_source: PathBuf,
    /// The asiaq executable installed as `<destination>/asiaq/bin/asiaq`, if any.
    pub asiaq_binary: Option<PathBuf>,
    /// Users to try for the first login, in order.
    pub login_users: Vec<String>,
}

/// Inputs of [`bake_identity`]; options are looked up by the caller with the bake rule
/// (`[hc] key` -> `[bake] key` -> `[disco_aws] default_key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BakeIdentityInputs<'a> {
    /// `--hostclass` (none: a phase-1 bake).
    pub hostclass: Option<&'a str>,
    /// `phase` of the hostclass, when one is given.
    pub hostclass_phase: Option<u32>,
    /// `[bake] phase1_ami_name` (the phase-1 image section).
    pub bake_phase1_ami_name: &'a str,
    /// `phase1_ami_name` looked up for the hostclass (phase 2 source name).
    pub hostclass_phase1_ami_name: &'a str,
    /// `[bake] phase1_hostclass`.
    pub phase1_hostclass: &'a str,
    /// `--source-ami`.
    pub source_ami: Option<&'a str>,
}

/// Phase, image name, init hostclass and source of a bake (spec §4.9 step 2): no hostclass
/// is a phase-1 bake of `[bake] phase1_ami_name`; a hostclass bakes at its `phase`; a
/// phase-1 hostclass bake is named after the hostclass but runs `phase1.sh` for
/// `[bake] phase1_hostclass`, as in the original.
pub fn bake_identity(i: &BakeIdentityInputs<'_>) -> BakeIdentity {
    let phase = match i.hostclass {
        None => 1,
        Some(_) => i.hostclass_phase.unwrap_or(1),
    };
    if phase == 1 {
        let base = i.hostclass.unwrap_or(i.bake_phase1_ami_name).to_string();
        BakeIdentity {
            phase,
            source: match i.source_ami {
                Some(ami) => BakeSource::Given { ami: ami.into() },
                None => BakeSource::Upstream {
                    section: base.clone(),
                },
            },
            image_base: base,
            init_hostclass: i.phase1_hostclass.to_string(),
        }
    } else {
        let hc = i.hostclass.unwrap_or_default().to_string();
        BakeIdentity {
            phase,
            source: match i.source_ami {
                Some(ami) => BakeSource::Given { ami: ami.into() },
                None => BakeSource::LatestPhase1 {
                    name: i.hostclass_phase1_ami_name.to_string(),
                },
            },
            image_base: hc.clone(),
            init_hostclass: hc,
        }
    }
}

/// Why a hostclass name cannot be used for `bake create`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostclassNameError {
    #[error("hostclass {0:?} does not start with \"mhc\"")]
    NoPrefix(String),
    #[error(
        "hostclass {0:?} may only contain letters, digits and \"_\" (it names an image and a file)"
    )]
    BadCharacters(String),
}

/// Checks a new hostclass name: `mhc` plus at least one more word character (image names
/// must match `^\w+ <timestamp>`).
pub fn check_new_hostclass(name: &str) -> Result<(), HostclassNameError> {
    if !name.starts_with("mhc") || name.len() == 3 {
        return Err(HostclassNameError::NoPrefix(name.into()));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(HostclassNameError::BadCharacters(name.into()));
    }
    Ok(())
}

/// `init/template.sh` made into `init/<hostclass>.sh`: `$TEMPLATED_HOSTCLASS` becomes the
/// hostclass and `$TEMPLATED_NAME` the hostclass without `mhc`.
pub fn render_hostclass_template(template: &str, hostclass: &str) -> String {
    let name = hostclass.strip_prefix("mhc").unwrap_or(hostclass);
    template
        .replace("$TEMPLATED_HOSTCLASS", hostclass)
        .replace("$TEMPLATED_NAME", name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ami(id: &str, name: &str, stage: &str, state: &str, private: bool) -> AmiInfo {
        let mut tags = BTreeMap::new();
        tags.insert("stage".to_string(), stage.to_string());
        tags.insert(
            "is_private".to_string(),
            if private { "True" } else { "False" }.to_string(),
        );
        AmiInfo {
            id: id.into(),
            name: name.into(),
            state: state.into(),
            tags,
            owner: "self".into(),
            snapshot_ids: vec![],
            creation_date: None,
            root_device_name: None,
            maps_sda: false,
        }
    }

    fn acceptance_amis() -> Vec<AmiInfo> {
        vec![
            ami("ami-1", "mhcfoo 1", "tested", "unavailable", false),
            ami("ami-2", "mhcfoo 2", "tested", "available", false),
            ami("ami-3", "mhcfoo 3", "tested", "available", true),
            ami("ami-4", "mhcfoo 4", "tested", "available", true),
            ami("ami-5", "mhcfoo 5", "failed", "available", false),
        ]
    }

    #[test]
    fn find_ami_acceptance() {
        let amis = acceptance_amis();
        let tested = vec!["tested".to_string()];
        assert_eq!(
            find_ami(&amis, &tested, Some("mhcfoo"), false).unwrap().id,
            "ami-2"
        );
        assert_eq!(
            find_ami(&amis, &tested, Some("mhcfoo"), true).unwrap().id,
            "ami-4"
        );
    }

    #[test]
    fn find_ami_best_stage_first_then_newest() {
        let amis = acceptance_amis();
        let pref = AmiFilter::stage_list("failed,tested");
        assert_eq!(
            find_ami(&amis, &pref, Some("mhcfoo"), false).unwrap().id,
            "ami-5"
        );
        let pref = AmiFilter::stage_list("tested,failed");
        assert_eq!(
            find_ami(&amis, &pref, Some("mhcfoo"), false).unwrap().id,
            "ami-2"
        );
        assert!(find_ami(&amis, &["untested".to_string()], Some("mhcfoo"), false).is_none());
        assert_eq!(find_ami(&amis, &[], None, true).unwrap().id, "ami-5");
    }

    #[test]
    fn filter_by_every_field() {
        let mut amis = acceptance_amis();
        amis[1].tags.insert("productline".into(), "core".into());
        let f = AmiFilter {
            product_line: Some("core".into()),
            include_private: true,
            ..Default::default()
        };
        assert_eq!(amis.iter().filter(|a| f.matches(a)).count(), 1);
        let f = AmiFilter {
            state: Some("unavailable".into()),
            include_private: true,
            ..Default::default()
        };
        assert_eq!(amis.iter().filter(|a| f.matches(a)).count(), 1);
        let f = AmiFilter {
            stages: Some(AmiFilter::stage_list("failed, tested")),
            ..Default::default()
        };
        assert_eq!(amis.iter().filter(|a| f.matches(a)).count(), 3);
        let f = AmiFilter {
            hostclass: Some("mhcbar".into()),
            include_private: true,
            ..Default::default()
        };
        assert_eq!(amis.iter().filter(|a| f.matches(a)).count(), 0);
    }

    #[test]
    fn names() {
        assert!(is_asiaq_ami_name("mhcfoo 1466000000"));
        assert!(is_asiaq_ami_name("centos6_phase1 1466000000"));
        assert!(is_asiaq_ami_name("mhcfoo 2 1466000000"));
        assert!(!is_asiaq_ami_name("mhcfoo 146600"));
        assert!(!is_asiaq_ami_name("my image 1466000000"));
        assert_eq!(name_timestamp("mhcfoo 1466000000"), 1_466_000_000);
        assert_eq!(name_timestamp("mhcfoo"), 0);
        assert_eq!(ami_name("mhcweb", 1_700_000_000), "mhcweb 1700000000");
        assert_eq!(acceptance_amis()[0].hostclass(), "mhcfoo");
    }

    fn timed(id: &str, hc: &str, ts: u64) -> AmiInfo {
        ami(id, &format!("{hc} {ts}"), "tested", "available", false)
    }

    #[test]
    fn cleanup_acceptance_age_minus_one_keep_zero_with_exclusions() {
        let now = 1_700_000_000;
        let amis = vec![
            timed("ami-a", "mhcfoo", 1_600_000_000),
            timed("ami-b", "mhcfoo", 1_650_000_000),
            timed("ami-c", "mhcbar", 1_690_000_000),
        ];
        let ids: Vec<&str> = cleanup_selection(&amis, 0, -1, None, &["ami-b".into()], now)
            .iter()
            .map(|a| a.id.as_str())
            .collect();
        assert_eq!(ids, vec!["ami-c", "ami-a"]);
    }

    #[test]
    fn cleanup_is_older_than_age_and_beyond_keep() {
        let day = 86_400;
        let now = 1_700_000_000;
        let amis: Vec<AmiInfo> = (0..5)
            .map(|i| timed(&format!("ami-{i}"), "mhcfoo", now - (i + 1) * 10 * day))
            .collect();
        // ages 10, 20, 30, 40, 50 days; keep 3 newest -> candidates ami-3, ami-4; both older than 14 days.
        let sel: Vec<&str> = cleanup_selection(&amis, 3, 14, None, &[], now)
            .iter()
            .map(|a| a.id.as_str())
            .collect();
        assert_eq!(sel, vec!["ami-4", "ami-3"]);
        // age 45: only ami-4 (50 days) is old enough.
        let sel: Vec<&str> = cleanup_selection(&amis, 3, 45, None, &[], now)
            .iter()
            .map(|a| a.id.as_str())
            .collect();
        assert_eq!(sel, vec!["ami-4"]);
        // keep 5: nothing.
        assert!(cleanup_selection(&amis, 5, 0, None, &[], now).is_empty());
        assert!(cleanup_selection(&amis, 0, 0, Some("mhcbar"), &[], now).is_empty());
    }

    #[test]
    fn stragglers_report_hostclasses_without_recent_stage_images() {
        let mut amis = vec![
            timed("ami-1", "mhcfoo", 100),
            timed("ami-2", "mhcbar", 300),
            timed("ami-3", "mhcbaz", 200),
            timed("ami-4", "mhcqux", 400),
            timed("ami-5", "mhcqux", 150),
        ];
        amis[0].tags.insert("stage".into(), "untested".into());
        // mhcbaz's promoted image is exactly at the cutoff: recent enough, as the original
        // (`timestamp < cutoff` is a straggler).
        // mhcqux's only recent tested image is private: it does not count.
        amis[3].tags.insert("is_private".into(), "True".into());
        amis[4].tags.insert("stage".into(), "untested".into());
        let s = stragglers(&amis, "tested", "untested", 200);
        let got: Vec<(&str, Option<&str>)> = s
            .iter()
            .map(|(h, a)| (h.as_str(), a.map(|a| a.id.as_str())))
            .collect();
        assert_eq!(
            got,
            vec![("mhcfoo", Some("ami-1")), ("mhcqux", Some("ami-5"))]
        );
        // No first-stage image: the hostclass is reported without one.
        let s = stragglers(&amis, "tested", "untested", 10_000);
        assert!(s.iter().any(|(h, a)| h == "mhcbar" && a.is_none()));
    }

    #[test]
    fn bake_tags_never_overridden_by_extras() {
        let extra = vec![
            ("stage".to_string(), "hacked".to_string()),
            ("team".to_string(), "core".to_string()),
        ];
        let tags = bake_tags(&BakeTagInputs {
            hostclass: "mhcweb",
            stage: "untested",
            source_ami: "ami-1",
            baker: "jenkins",
            version: "main-abc123",
            is_private: false,
            product_line: Some("core"),
            extra: &extra,
        });
        let keys: Vec<&str> = tags.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            vec![
                "hostclass",
                "stage",
                "source_ami",
                "baker",
                "version-asiaq",
                "is_private",
                "productline",
                "team"
            ]
        );
        assert_eq!(tags[1].1, "untested");
        assert_eq!(tags[5].1, "False");
    }

    #[test]
    fn private_unless_exactly_false() {
        let mut a = ami("ami-1", "mhcfoo 1", "tested", "available", false);
        assert!(!a.is_private());
        a.tags.remove("is_private");
        assert!(!a.is_private());
        for v in ["True", "true", "yes", "false", ""] {
            a.tags.insert("is_private".into(), v.into());
            assert!(a.is_private(), "{v}");
        }
    }

    #[test]
    fn utc_times() {
        assert_eq!(parse_utc_timestamp("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_utc_timestamp("2016-06-15T12:34:56.000Z"),
            Some(1_465_994_096)
        );
        assert_eq!(
            parse_utc_timestamp("2000-02-29T23:59:59Z"),
            Some(951_868_799)
        );
        assert_eq!(parse_utc_timestamp("yesterday"), None);
        assert_eq!(parse_utc_timestamp("2016-13-01T00:00:00Z"), None);
        assert_eq!(format_utc(0), "1970-01-01 00:00:00");
        assert_eq!(format_utc(1_465_994_096), "2016-06-15 12:34:56");
        assert_eq!(format_utc(951_868_799), "2000-02-29 23:59:59");
        for t in [0u64, 86_399, 951_868_800, 1_700_000_000, 4_102_444_800] {
            let text = format_utc(t).replace(' ', "T") + "Z";
            assert_eq!(parse_utc_timestamp(&text), Some(t));
        }
    }

    #[test]
    fn creation_time_from_name_else_creation_date() {
        let mut a = ami("ami-1", "mhcfoo 1465994096", "tested", "available", false);
        a.creation_date = Some("2020-01-01T00:00:00.000Z".into());
        assert_eq!(a.creation_time(), Some(1_465_994_096));
        a.name = "some image".into();
        assert_eq!(a.creation_time(), Some(1_577_836_800));
        a.creation_date = None;
        assert_eq!(a.creation_time(), None);
    }

    #[test]
    fn listing_rows_and_table() {
        let mut a = ami("ami-1", "mhcfoo 1465994096", "tested", "available", false);
        a.tags.insert("productline".into(), "core".into());
        a.tags.insert("baker".into(), "jenkins".into());
        let row = AmiRow::new(&a, 1_465_994_096 + 7_200 + 59, true);
        assert_eq!(row.name, "mhcfoo");
        assert_eq!(row.created.as_deref(), Some("2016-06-15 12:34:56"));
        assert_eq!(row.age_hours, Some(2));
        assert_eq!(
            row.cells(false, true),
            vec![
                "ami-1",
                "2016-06-15 12:34:56",
                "mhcfoo",
                "available",
                "tested",
                "core",
                "2",
                "baker:jenkins, is_private:False"
            ]
        );
        let mut other = ami("ami-22", "hand made", "", "pending", false);
        other.tags.clear();
        let mut row2 = AmiRow::new(&other, 0, false);
        row2.in_prod = Some(false);
        assert_eq!(row2.name, "hand made");
        assert_eq!(
            row2.cells(true, false),
            vec![
                "ami-22",
                "-",
                "hand made",
                "pending",
                "-",
                "-",
                "-",
                "non-prod"
            ]
        );
        let lines = table_lines(&AmiRow::headers(true, false), &[row2.cells(true, false)], 4);
        assert_eq!(
            lines[0],
            "ID        Created    Name         State      Stage    Product Line    Age    Production"
        );
        assert_eq!(
            lines[1],
            "ami-22    -          hand made    pending    -        -               -      non-prod"
        );
        assert_eq!(AmiRow::table(&[row2], true, false), lines);
        assert_eq!(
            AmiRow::table(&[], false, false).len(),
            1,
            "the header alone"
        );
    }

    #[test]
    fn prod_sharing_check() {
        let perms = vec!["111111111111".to_string(), "222222222222".to_string()];
        assert!(is_prod(&perms, &[]));
        assert!(is_prod(&perms, &["222222222222".to_string()]));
        assert!(!is_prod(&perms, &["333333333333".to_string()]));
        assert!(!is_prod(&[], &["333333333333".to_string()]));
    }

    #[test]
    fn bake_ids_are_32_hex_digits() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let a = bake_id(&mut rng);
        let b = bake_id(&mut rng);
        assert_eq!(a.len(), 32);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b);
    }

    fn inputs<'a>(
        hc: Option<&'a str>,
        phase: Option<u32>,
        src: Option<&'a str>,
    ) -> BakeIdentityInputs<'a> {
        BakeIdentityInputs {
            hostclass: hc,
            hostclass_phase: phase,
            bake_phase1_ami_name: "centos6_phase1",
            hostclass_phase1_ami_name: "centos7_phase1",
            phase1_hostclass: "mhcgeneric",
            source_ami: src,
        }
    }

    #[test]
    fn bake_identity_of_each_kind() {
        // No hostclass: phase 1 of [bake] phase1_ami_name from its bake_ami.
        let id = bake_identity(&inputs(None, None, None));
        assert_eq!(id.phase, 1);
        assert_eq!(id.image_base, "centos6_phase1");
        assert_eq!(id.init_hostclass, "mhcgeneric");
        assert_eq!(
            id.source,
            BakeSource::Upstream {
                section: "centos6_phase1".into()
            }
        );
        // A phase-2 hostclass: from the newest final-stage image of its phase1_ami_name.
        let id = bake_identity(&inputs(Some("mhcweb"), Some(2), None));
        assert_eq!(id.phase, 2);
        assert_eq!(id.image_base, "mhcweb");
        assert_eq!(id.init_hostclass, "mhcweb");
        assert_eq!(
            id.source,
            BakeSource::LatestPhase1 {
                name: "centos7_phase1".into()
            }
        );
        // A phase-1 hostclass: named after it, upstream of its own section, init'd as
        // [bake] phase1_hostclass.
        let id = bake_identity(&inputs(Some("mhcbase"), Some(1), None));
        assert_eq!(id.image_base, "mhcbase");
        assert_eq!(id.init_hostclass, "mhcgeneric");
        assert_eq!(
            id.source,
            BakeSource::Upstream {
                section: "mhcbase".into()
            }
        );
        // --source-ami wins in every phase.
        let id = bake_identity(&inputs(Some("mhcweb"), Some(3), Some("ami-9")));
        assert_eq!(id.phase, 3);
        assert_eq!(
            id.source,
            BakeSource::Given {
                ami: "ami-9".into()
            }
        );
    }

    #[test]
    fn hostclass_templates() {
        assert!(check_new_hostclass("mhcfoo").is_ok());
        assert!(check_new_hostclass("mhc_foo2").is_ok());
        assert!(matches!(
            check_new_hostclass("foo"),
            Err(HostclassNameError::NoPrefix(_))
        ));
        assert!(check_new_hostclass("mhc").is_err());
        assert!(matches!(
            check_new_hostclass("mhcfoo.sh"),
            Err(HostclassNameError::BadCharacters(_))
        ));
        assert_eq!(
            render_hostclass_template(
                "# $TEMPLATED_HOSTCLASS\necho $TEMPLATED_NAME > /x-$TEMPLATED_NAME\n",
                "mhcfoo"
            ),
            "# mhcfoo\necho foo > /x-foo\n"
        );
    }

    #[test]
    fn comma_lists_drop_blanks() {
        assert_eq!(comma_list(" ami-1, ,ami-2,"), vec!["ami-1", "ami-2"]);
        assert!(comma_list("").is_empty());
    }

    #[test]
    fn listed_ids_narrow_to_the_instance_image() {
        let of = |v: &[&str]| Some(v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(listed_ids(None, None), None);
        assert_eq!(listed_ids(Some("ami-1"), None), of(&["ami-1"]));
        assert_eq!(listed_ids(None, of(&["ami-2"])), of(&["ami-2"]));
        assert_eq!(
            listed_ids(Some("ami-1"), of(&["ami-1", "ami-2"])),
            of(&["ami-1"])
        );
        // The instance runs another image: nothing matches.
        assert_eq!(listed_ids(Some("ami-1"), of(&["ami-2"])), of(&[]));
    }

    #[test]
    fn listing_filters_then_sorts_oldest_first() {
        let mut amis = vec![
            timed("ami-b", "mhcfoo", 300),
            timed("ami-a", "mhcfoo", 300),
            timed("ami-c", "mhcbar", 100),
            timed("ami-d", "mhcbar", 200),
        ];
        amis[3].tags.insert("stage".into(), "untested".into());
        let filter = AmiFilter {
            stages: Some(vec!["tested".into()]),
            include_private: true,
            ..AmiFilter::default()
        };
        let ids: Vec<&str> = listing(&amis, &filter)
            .iter()
            .map(|a| a.id.as_str())
            .collect();
        assert_eq!(ids, vec!["ami-c", "ami-a", "ami-b"]);
    }

    #[test]
    fn straggler_rows_use_a_cutoff_days_back() {
        let day = 86_400;
        let mut amis = vec![
            timed("ami-1", "mhcold", 10 * day),
            timed("ami-2", "mhcold", 10 * day + 5),
            timed("ami-3", "mhcnew", 19 * day),
        ];
        amis[1].tags.insert("stage".into(), "untested".into());
        let rows = straggler_rows(&amis, "tested", "untested", 20 * day, 3);
        assert_eq!(
            rows,
            vec![Straggler {
                hostclass: "mhcold".into(),
                latest_unpromoted: Some("ami-2".into()),
            }]
        );
        assert_eq!(rows[0].line(), "mhcold\tami-2");
        let none = Straggler {
            hostclass: "mhcx".into(),
            latest_unpromoted: None,
        };
        assert_eq!(none.line(), "mhcx\t-");
        // A huge --days reaches back to the epoch rather than overflowing.
        assert_eq!(
            straggler_rows(&amis, "tested", "untested", 20 * day, u64::MAX),
            vec![]
        );
    }
}
