//! Machine images: naming, stages, selection and cleanup (spec §4.9). Pure: images are
//! described by [`AmiInfo`] values the AWS layer fills in, and "now" is a parameter.

use std::collections::BTreeMap;

use serde::Serialize;

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

    /// `is_private` tag is `True` (any case).
    pub fn is_private(&self) -> bool {
        self.tag("is_private")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
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
        stage
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
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

/// `liststragglers` (spec §2.2): for each hostclass among `amis`, whether it has an image in
/// `stage` newer than `cutoff_unix`; returns `(hostclass, its newest image in first_stage)`
/// for those that do not.
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
    hostclasses
        .into_iter()
        .filter(|hc| {
            !amis.iter().any(|a| {
                a.hostclass() == *hc && a.stage() == Some(stage) && a.timestamp() > cutoff_unix
            })
        })
        .map(|hc| {
            let latest = amis
                .iter()
                .filter(|a| a.hostclass() == hc && a.stage() == Some(first_stage))
                .max_by_key(|a| a.timestamp());
            (hc.to_string(), latest)
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
        let mut amis = vec![timed("ami-1", "mhcfoo", 100), timed("ami-2", "mhcbar", 300)];
        amis[0].tags.insert("stage".into(), "untested".into());
        let s = stragglers(&amis, "tested", "untested", 200);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].0, "mhcfoo");
        assert_eq!(s[0].1.unwrap().id, "ami-1");
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
}
