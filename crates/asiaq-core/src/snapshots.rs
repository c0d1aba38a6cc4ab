//! Which EBS snapshots to delete: `asiaq snapshot cleanup` (keep the newest N per hostclass)
//! and `asiaq purge-snapshots` (spec §2.21, §2.22). Times are unix seconds; "now" is a
//! parameter.

pub mod text;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

/// What is known about one snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotInfo {
    pub id: String,
    pub description: String,
    pub tags: BTreeMap<String, String>,
    /// Start time, unix seconds.
    pub start_time: i64,
    pub size_gb: u32,
    pub state: String,
}

impl SnapshotInfo {
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.get(key).map(String::as_str)
    }

    /// The grouping key `<hostclass>_<env>` when both tags are set.
    pub fn hostclass_env(&self) -> Option<String> {
        Some(format!("{}_{}", self.tag("hostclass")?, self.tag("env")?))
    }
}

/// The newest snapshot of each hostclass, for block device mappings: newest start time,
/// then the larger id (a stable tie-break).
pub fn latest<'a>(snapshots: &'a [SnapshotInfo], hostclass: &str) -> Option<&'a SnapshotInfo> {
    snapshots
        .iter()
        .filter(|s| s.tag("hostclass") == Some(hostclass))
        .max_by(|a, b| a.start_time.cmp(&b.start_time).then(a.id.cmp(&b.id)))
}

/// `snapshot cleanup --keep N`: per hostclass (tag), all but the newest `keep`. Snapshots
/// without a hostclass tag are never selected. Sorted by hostclass, then newest first.
pub fn cleanup_selection(snapshots: &[SnapshotInfo], keep: usize) -> Vec<&SnapshotInfo> {
    let mut by_hc: BTreeMap<&str, Vec<&SnapshotInfo>> = BTreeMap::new();
    for s in snapshots {
        if let Some(hc) = s.tag("hostclass") {
            by_hc.entry(hc).or_default().push(s);
        }
    }
    let mut out = Vec::new();
    for (_, mut list) in by_hc {
        list.sort_by(|a, b| b.start_time.cmp(&a.start_time).then(b.id.cmp(&a.id)));
        out.extend(list.into_iter().skip(keep));
    }
    out
}

/// A `snapshot list` row: the hostclass (`-` when untagged) and the snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotRow<'a> {
    pub hostclass: &'a str,
    #[serde(flatten)]
    pub snapshot: &'a SnapshotInfo,
}

impl SnapshotRow<'_> {
    /// `hostclass id state start size`, in columns.
    pub fn line(&self) -> String {
        let s = self.snapshot;
        format!(
            "{:<26} {:<13} {:<9} {} {}",
            self.hostclass,
            s.id,
            s.state,
            utc_time(s.start_time),
            s.size_gb
        )
    }
}

/// `snapshot list`: a row per snapshot, by hostclass tag (untagged first), then oldest
/// first.
pub fn list_rows(snapshots: &[SnapshotInfo]) -> Vec<SnapshotRow<'_>> {
    let mut sorted: Vec<&SnapshotInfo> = snapshots.iter().collect();
    sorted.sort_by(|a, b| {
        (a.tag("hostclass"), a.start_time).cmp(&(b.tag("hostclass"), b.start_time))
    });
    sorted
        .into_iter()
        .map(|s| SnapshotRow {
            hostclass: s.tag("hostclass").unwrap_or("-"),
            snapshot: s,
        })
        .collect()
}

/// `YYYY-MM-DDTHH:MM:SSZ` of a unix time (`snapshot list`).
pub fn utc_time(unix: i64) -> String {
    let s = unix.rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        utc_day(unix),
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

/// `snapshot delete`: the requested ids split into those among `env_snapshots` (the
/// environment's own, deleted) and the others (refused), each in the order given.
pub fn split_by_environment(
    requested: &[String],
    env_snapshots: &[SnapshotInfo],
) -> (Vec<String>, Vec<String>) {
    let mine: BTreeSet<&str> = env_snapshots.iter().map(|s| s.id.as_str()).collect();
    requested
        .iter()
        .cloned()
        .partition(|s| mine.contains(s.as_str()))
}

/// `snapshot update`: the snapshot `id` among the hostclass's snapshots in `env`, or
/// without an id its latest; `Err` says why there is none.
pub fn update_target<'a>(
    snapshots: &'a [SnapshotInfo],
    hostclass: &str,
    env: &str,
    id: Option<&str>,
) -> Result<&'a SnapshotInfo, String> {
    match id {
        Some(id) => snapshots
            .iter()
            .find(|s| s.id == id)
            .ok_or_else(|| format!("snapshot {id} is not a snapshot of {hostclass} in {env}")),
        None => latest(snapshots, hostclass)
            .ok_or_else(|| format!("{hostclass} has no snapshot in {env}")),
    }
}

/// `snapshot update`: the name of the hostclass's one group in `env` among the group
/// `names` (the newest when there are two); `Err` says why there is none.
pub fn update_group<'a>(names: &[&'a str], env: &str, hostclass: &str) -> Result<&'a str, String> {
    let mine = crate::autoscale::groups_of_hostclass(names, env, hostclass);
    crate::autoscale::existing_group(&mine, hostclass, false)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{hostclass} has no group in {env}"))
}

/// Options of `purge-snapshots`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PurgeOptions {
    /// Snapshots made by CreateImage for an AMI that no longer exists.
    pub stray_ami: bool,
    /// Snapshots with neither a description nor tags.
    pub no_metadata: bool,
    /// Snapshots older than this many days.
    pub keep_days: Option<u32>,
    /// Always keep the newest N of each `hostclass_env` key (>= 1).
    pub keep_num: Option<usize>,
    /// For each key and each calendar day (UTC) older than one day, keep only the N newest.
    pub max_per_day: Option<usize>,
}

impl PurgeOptions {
    /// Whether no selection option is given (then the defaults apply).
    pub fn is_empty(&self) -> bool {
        !self.stray_ami
            && !self.no_metadata
            && self.keep_days.is_none()
            && self.keep_num.is_none()
            && self.max_per_day.is_none()
    }

    /// The original's intended default: `--stray-ami --no-metadata --keep-days 100
    /// --keep-num 5`.
    pub fn defaults() -> Self {
        PurgeOptions {
            stray_ami: true,
            no_metadata: true,
            keep_days: Some(100),
            keep_num: Some(5),
            max_per_day: None,
        }
    }
}

/// The flags of `purge-snapshots` as options: `--old` is `--keep-days 100`, no selection
/// flag at all means [`PurgeOptions::defaults`]; `--keep-num 0` is refused.
pub fn purge_options(
    stray_ami: bool,
    no_metadata: bool,
    old: bool,
    keep_days: Option<u32>,
    keep_num: Option<usize>,
    max_per_day: Option<usize>,
) -> Result<PurgeOptions, String> {
    if keep_num == Some(0) {
        return Err("--keep-num must be at least 1".into());
    }
    let opts = PurgeOptions {
        stray_ami,
        no_metadata,
        keep_days: keep_days.or(old.then_some(100)),
        keep_num,
        max_per_day,
    };
    Ok(if opts.is_empty() {
        PurgeOptions::defaults()
    } else {
        opts
    })
}

/// A snapshot `purge-snapshots` selected, and whether deleting it worked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Purged {
    pub id: String,
    pub reason: PurgeReason,
    pub deleted: bool,
}

impl Purged {
    /// `would delete|deleted|FAILED to delete <id> (<reason>)`.
    pub fn line(&self, dry_run: bool) -> String {
        let what = if dry_run {
            "would delete"
        } else if self.deleted {
            "deleted"
        } else {
            "FAILED to delete"
        };
        format!("{what} {} ({})", self.id, self.reason)
    }
}

/// Why a snapshot is deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum PurgeReason {
    /// Made by CreateImage for this AMI, which no longer exists.
    StrayAmi(String),
    NoMetadata,
    /// Older than `keep_days` (its age in days).
    Old(i64),
    /// More than `max_per_day` on that day (the day as `YYYY-MM-DD`).
    TooManyPerDay(String),
}

impl std::fmt::Display for PurgeReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PurgeReason::StrayAmi(ami) => write!(f, "stray: its AMI {ami} is gone"),
            PurgeReason::NoMetadata => write!(f, "no description and no tags"),
            PurgeReason::Old(days) => write!(f, "{days} days old"),
            PurgeReason::TooManyPerDay(day) => write!(f, "too many on {day}"),
        }
    }
}

/// The AMI a `Created by CreateImage(i-…) for ami-… [from vol-…]` description names.
pub fn created_by_image(description: &str) -> Option<&str> {
    let rest = description.strip_prefix("Created by CreateImage(")?;
    let (instance, rest) = rest.split_once(')')?;
    if !instance.starts_with("i-") {
        return None;
    }
    let rest = rest.strip_prefix(" for ")?;
    let ami = rest.split_whitespace().next()?;
    ami.starts_with("ami-").then_some(ami)
}

/// The UTC calendar day of a unix time, as `YYYY-MM-DD` (empty beyond jiff's range of
/// years -9999 to 9999).
pub fn utc_day(unix: i64) -> String {
    jiff::Timestamp::from_second(unix)
        .map(|t| t.strftime("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// `purge-snapshots` selection (spec §2.22). Rules, in this order for each snapshot:
/// 1. `stray_ami`: a CreateImage snapshot whose AMI is not in `own_amis` → delete.
/// 2. `no_metadata`: empty description and no tags → delete.
/// 3. Snapshots backing an existing AMI (`in_use`) are never deleted by the age rules
///    (AWS refuses it anyway).
/// 4. Per key (`hostclass_env`, or one key for all snapshots without both tags), the
///    newest `keep_num` are protected from the age rules.
/// 5. `keep_days`: older than that many days → delete.
/// 6. `max_per_day`: for each key and each UTC day that ended more than a day ago, all but
///    the newest N of that day → delete.
///
/// Returns `(snapshot, reason)` sorted by start time, oldest first.
pub fn purge_selection<'a>(
    snapshots: &'a [SnapshotInfo],
    own_amis: &BTreeSet<String>,
    in_use: &BTreeSet<String>,
    opts: &PurgeOptions,
    now: i64,
) -> Vec<(&'a SnapshotInfo, PurgeReason)> {
    let mut out: Vec<(&SnapshotInfo, PurgeReason)> = Vec::new();
    let mut rest: Vec<&SnapshotInfo> = Vec::new();
    for s in snapshots {
        if opts.stray_ami {
            if let Some(ami) = created_by_image(&s.description) {
                if !own_amis.contains(ami) {
                    out.push((s, PurgeReason::StrayAmi(ami.to_string())));
                    continue;
                }
            }
        }
        if opts.no_metadata && s.description.trim().is_empty() && s.tags.is_empty() {
            out.push((s, PurgeReason::NoMetadata));
            continue;
        }
        if !in_use.contains(&s.id) {
            rest.push(s);
        }
    }
    let mut by_key: BTreeMap<String, Vec<&SnapshotInfo>> = BTreeMap::new();
    for s in rest {
        by_key
            .entry(s.hostclass_env().unwrap_or_default())
            .or_default()
            .push(s);
    }
    let today = now.div_euclid(86_400);
    for (_, mut list) in by_key {
        list.sort_by(|a, b| b.start_time.cmp(&a.start_time).then(b.id.cmp(&a.id)));
        let protected = opts.keep_num.unwrap_or(0);
        let mut per_day: BTreeMap<i64, usize> = BTreeMap::new();
        for (i, s) in list.iter().enumerate() {
            let day = s.start_time.div_euclid(86_400);
            let kept_today = per_day.entry(day).or_insert(0);
            *kept_today += 1;
            if i < protected {
                continue;
            }
            let age_days = (now - s.start_time).div_euclid(86_400);
            if let Some(days) = opts.keep_days {
                if age_days > i64::from(days) {
                    out.push((s, PurgeReason::Old(age_days)));
                    continue;
                }
            }
            if let Some(max) = opts.max_per_day {
                if day < today - 1 && *kept_today > max {
                    out.push((s, PurgeReason::TooManyPerDay(utc_day(s.start_time))));
                }
            }
        }
    }
    out.sort_by(|a, b| {
        a.0.start_time
            .cmp(&b.0.start_time)
            .then(a.0.id.cmp(&b.0.id))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;
    const NOW: i64 = 1_700_000_000;

    fn snap(id: &str, hc: Option<&str>, env: &str, age_secs: i64) -> SnapshotInfo {
        let mut tags = BTreeMap::new();
        if let Some(hc) = hc {
            tags.insert("hostclass".to_string(), hc.to_string());
            tags.insert("env".to_string(), env.to_string());
        }
        SnapshotInfo {
            id: id.to_string(),
            description: String::new(),
            tags,
            start_time: NOW - age_secs,
            size_gb: 1,
            state: "completed".into(),
        }
    }

    fn ids(sel: &[(&SnapshotInfo, PurgeReason)]) -> Vec<String> {
        let mut v: Vec<String> = sel.iter().map(|(s, _)| s.id.clone()).collect();
        v.sort();
        v
    }

    #[test]
    fn description_of_create_image() {
        assert_eq!(
            created_by_image("Created by CreateImage(i-0abc) for ami-123 from vol-9"),
            Some("ami-123")
        );
        assert_eq!(
            created_by_image("Created by CreateImage(i-1) for ami-7"),
            Some("ami-7")
        );
        assert_eq!(created_by_image("my snapshot"), None);
    }

    #[test]
    fn days() {
        assert_eq!(utc_day(0), "1970-01-01");
        assert_eq!(utc_day(1_700_000_000), "2023-11-14");
        assert_eq!(utc_day(951_782_400), "2000-02-29");
    }

    #[test]
    fn stray_and_no_metadata() {
        let mut stray = snap("snap-stray", None, "", DAY);
        stray.description = "Created by CreateImage(i-1) for ami-gone from vol-1".into();
        let mut kept = snap("snap-ami", None, "", DAY);
        kept.description = "Created by CreateImage(i-1) for ami-here from vol-1".into();
        let bare = snap("snap-bare", None, "", DAY);
        let tagged = snap("snap-tagged", Some("mhca"), "ci", DAY);
        let all = vec![stray, kept, bare, tagged];
        let own: BTreeSet<String> = ["ami-here".to_string()].into();
        let sel = purge_selection(
            &all,
            &own,
            &BTreeSet::new(),
            &PurgeOptions {
                stray_ami: true,
                no_metadata: true,
                ..Default::default()
            },
            NOW,
        );
        assert_eq!(ids(&sel), vec!["snap-bare", "snap-stray"]);
    }

    #[test]
    fn keep_days_with_keep_num_protection() {
        // Five snapshots of one key, 10..50 days old; keep-days 20, keep-num 3.
        let all: Vec<SnapshotInfo> = (1..=5)
            .map(|i| snap(&format!("snap-{i}"), Some("mhca"), "ci", i * 10 * DAY))
            .collect();
        let o = PurgeOptions {
            keep_days: Some(20),
            keep_num: Some(3),
            ..Default::default()
        };
        let sel = purge_selection(&all, &BTreeSet::new(), &BTreeSet::new(), &o, NOW);
        // snap-1..3 are the newest three (protected, though 30 days is old); 4 and 5 go.
        assert_eq!(ids(&sel), vec!["snap-4", "snap-5"]);
        let o = PurgeOptions {
            keep_days: Some(20),
            keep_num: Some(1),
            ..Default::default()
        };
        let sel = purge_selection(&all, &BTreeSet::new(), &BTreeSet::new(), &o, NOW);
        assert_eq!(ids(&sel), vec!["snap-3", "snap-4", "snap-5"]);
    }

    #[test]
    fn keys_are_separate_and_in_use_is_kept() {
        let all = vec![
            snap("a1", Some("mhca"), "ci", 200 * DAY),
            snap("b1", Some("mhcb"), "ci", 200 * DAY),
            snap("b2", Some("mhcb"), "ci", 300 * DAY),
            snap("x1", Some("mhca"), "prod", 300 * DAY),
        ];
        let o = PurgeOptions {
            keep_days: Some(100),
            keep_num: Some(1),
            ..Default::default()
        };
        let in_use: BTreeSet<String> = BTreeSet::new();
        let sel = purge_selection(&all, &BTreeSet::new(), &in_use, &o, NOW);
        assert_eq!(ids(&sel), vec!["b2"]);
        let sel = purge_selection(&all, &BTreeSet::new(), &["b2".to_string()].into(), &o, NOW);
        assert!(sel.is_empty());
    }

    #[test]
    fn max_per_day() {
        // Three on a day a week ago, three today; max 1 per day, keep-num 1.
        let mut all = Vec::new();
        for i in 0..3 {
            all.push(snap(
                &format!("old{i}"),
                Some("mhca"),
                "ci",
                7 * DAY + i * 60,
            ));
            all.push(snap(&format!("new{i}"), Some("mhca"), "ci", i * 60));
        }
        let o = PurgeOptions {
            max_per_day: Some(1),
            keep_num: Some(1),
            ..Default::default()
        };
        let sel = purge_selection(&all, &BTreeSet::new(), &BTreeSet::new(), &o, NOW);
        // Today is never thinned; a week ago keeps its newest (old0).
        assert_eq!(ids(&sel), vec!["old1", "old2"]);
        assert!(matches!(sel[0].1, PurgeReason::TooManyPerDay(_)));
    }

    #[test]
    fn default_options() {
        assert!(PurgeOptions::default().is_empty());
        let d = PurgeOptions::defaults();
        assert!(d.stray_ami && d.no_metadata);
        assert_eq!((d.keep_days, d.keep_num), (Some(100), Some(5)));
    }

    #[test]
    fn cleanup_keeps_newest_per_hostclass() {
        let all = vec![
            snap("a1", Some("mhca"), "ci", DAY),
            snap("a2", Some("mhca"), "ci", 2 * DAY),
            snap("a3", Some("mhca"), "ci", 3 * DAY),
            snap("b1", Some("mhcb"), "ci", DAY),
            snap("n1", None, "", 9 * DAY),
        ];
        let sel: Vec<&str> = cleanup_selection(&all, 1)
            .iter()
            .map(|s| s.id.as_str())
            .collect();
        assert_eq!(sel, vec!["a2", "a3"]);
        assert_eq!(latest(&all, "mhca").unwrap().id, "a1");
        assert!(latest(&all, "mhcz").is_none());
    }

    #[test]
    fn listing_order_lines_and_times() {
        let all = vec![
            snap("b2", Some("mhcb"), "ci", DAY),
            snap("b1", Some("mhcb"), "ci", 2 * DAY),
            snap("a1", Some("mhca"), "ci", DAY),
            snap("n1", None, "", 0),
        ];
        let rows = list_rows(&all);
        let ids: Vec<&str> = rows.iter().map(|r| r.snapshot.id.as_str()).collect();
        assert_eq!(ids, vec!["n1", "a1", "b1", "b2"]);
        assert_eq!(rows[0].hostclass, "-");
        assert_eq!(
            rows[1].line(),
            "mhca                       a1            completed 2023-11-13T22:13:20Z 1"
        );
        let json = serde_json::to_value(&rows[1]).unwrap();
        assert_eq!(
            (json["hostclass"].as_str(), json["id"].as_str()),
            (Some("mhca"), Some("a1"))
        );
        assert_eq!(utc_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_time(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn delete_refuses_other_environments_snapshots() {
        let env = vec![snap("a1", Some("mhca"), "ci", DAY)];
        let asked = vec!["x9".to_string(), "a1".to_string(), "x8".to_string()];
        let (ok, foreign) = split_by_environment(&asked, &env);
        assert_eq!(ok, vec!["a1"]);
        assert_eq!(foreign, vec!["x9", "x8"]);
    }

    #[test]
    fn update_target_by_id_or_latest() {
        let all = vec![
            snap("a1", Some("mhca"), "ci", DAY),
            snap("a2", Some("mhca"), "ci", 2 * DAY),
        ];
        assert_eq!(update_target(&all, "mhca", "ci", None).unwrap().id, "a1");
        assert_eq!(
            update_target(&all, "mhca", "ci", Some("a2")).unwrap().id,
            "a2"
        );
        assert_eq!(
            update_target(&all, "mhca", "ci", Some("zz")).unwrap_err(),
            "snapshot zz is not a snapshot of mhca in ci"
        );
        assert_eq!(
            update_target(&[], "mhca", "ci", None).unwrap_err(),
            "mhca has no snapshot in ci"
        );
    }

    #[test]
    fn purge_flags_become_options() {
        assert_eq!(
            purge_options(false, false, false, None, None, None),
            Ok(PurgeOptions::defaults())
        );
        let o = purge_options(false, false, true, None, None, None).unwrap();
        assert_eq!((o.keep_days, o.stray_ami), (Some(100), false));
        let o = purge_options(false, false, true, Some(7), Some(2), None).unwrap();
        assert_eq!((o.keep_days, o.keep_num), (Some(7), Some(2)));
        assert!(purge_options(true, false, false, None, Some(0), None).is_err());
    }

    #[test]
    fn purged_lines() {
        let p = Purged {
            id: "snap-1".into(),
            reason: PurgeReason::NoMetadata,
            deleted: false,
        };
        assert_eq!(
            p.line(true),
            "would delete snap-1 (no description and no tags)"
        );
        assert_eq!(
            p.line(false),
            "FAILED to delete snap-1 (no description and no tags)"
        );
        let p = Purged { deleted: true, ..p };
        assert_eq!(p.line(false), "deleted snap-1 (no description and no tags)");
    }

    #[test]
    fn update_group_is_the_hostclass_group_of_the_environment() {
        let names = ["ci_mhca_1", "ci_mhcb_1", "prod_mhca_1"];
        assert_eq!(update_group(&names, "ci", "mhca"), Ok("ci_mhca_1"));
        assert_eq!(
            update_group(&names, "ci", "mhcz"),
            Err("mhcz has no group in ci".to_string())
        );
        assert!(update_group(&["ci_mhca_1", "ci_mhca_2"], "ci", "mhca")
            .is_err_and(|e| e.contains("autoscaling groups")));
    }
}
