//! Instances of an environment as `asiaq aws` sees them: the `listhosts` columns and order
//! (spec §2.1), the smoke test of one instance (spec §4.7), and the exit code of `exec`.

use std::collections::BTreeMap;

use serde::Serialize;

pub mod text;

/// One instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostInfo {
    pub id: String,
    /// `pending`, `running`, `stopped`, ...
    pub state: String,
    pub tags: BTreeMap<String, String>,
    pub public_ip: Option<String>,
    /// The private IP of each network interface, by device index.
    pub private_ips: Vec<String>,
    /// The instance's primary private IP.
    pub private_ip: Option<String>,
    pub instance_type: String,
    pub image_id: String,
    /// Launch time, unix seconds.
    pub launch_time: Option<i64>,
    /// The AMI's creation time (its name timestamp), unix seconds.
    pub ami_creation_time: Option<i64>,
    /// Security group names.
    pub security_groups: Vec<String>,
    pub availability_zone: String,
    pub subnet_id: Option<String>,
}

impl HostInfo {
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.get(key).map(String::as_str)
    }

    pub fn hostclass(&self) -> Option<&str> {
        self.tag("hostclass")
    }

    /// The "preferred private IP": the second interface's if there are two (a floating
    /// static-IP interface attached at boot), else the first.
    pub fn preferred_private_ip(&self) -> Option<&str> {
        match self.private_ips.as_slice() {
            [_, second] => Some(second.as_str()),
            [first, ..] => Some(first.as_str()),
            [] => self.private_ip.as_deref(),
        }
    }

    /// The address `listhosts` shows: the public IP, else the preferred private IP.
    pub fn address(&self) -> Option<&str> {
        self.public_ip
            .as_deref()
            .or_else(|| self.preferred_private_ip())
    }

    pub fn is_smoke_tested(&self) -> bool {
        self.tags.contains_key("smoketest")
    }
}

/// Whole hours between two unix times, floored (the original's `time_diff_in_hours`).
pub fn hours_between(now: i64, then: i64) -> i64 {
    (now - then).div_euclid(3600)
}

/// The optional columns of `listhosts`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Columns {
    pub state: bool,
    pub hostname: bool,
    pub owner: bool,
    pub productline: bool,
    pub instance_type: bool,
    pub private_ip: bool,
    pub ami: bool,
    pub smoke: bool,
    pub ami_age: bool,
    pub uptime: bool,
    pub securitygroup: bool,
    pub availability_zone: bool,
}

impl Columns {
    /// `--most`: state, hostname, owner, instance-type, ami, smoke, ami-age, uptime.
    pub fn with_most(mut self) -> Self {
        self.state = true;
        self.hostname = true;
        self.owner = true;
        self.instance_type = true;
        self.ami = true;
        self.smoke = true;
        self.ami_age = true;
        self.uptime = true;
        self
    }

    /// The columns asked for, with those of `--most` and `--all` when given.
    pub fn chosen(self, most: bool, all: bool) -> Self {
        match (most, all) {
            (_, true) => self.with_all(),
            (true, false) => self.with_most(),
            (false, false) => self,
        }
    }

    /// `--all`: everything.
    pub fn with_all(self) -> Self {
        Columns {
            private_ip: true,
            availability_zone: true,
            productline: true,
            securitygroup: true,
            ..self.with_most()
        }
    }
}

fn dash(v: Option<&str>) -> String {
    v.filter(|s| !s.is_empty()).unwrap_or("-").to_string()
}

fn yes_dash(b: bool) -> String {
    if b { "y" } else { "-" }.to_string()
}

/// One `listhosts` line: `id hostclass(30) address(15)` then the selected columns, in the
/// order state(10), hostname(y/-), owner(11), productline(15), instance-type(10),
/// private-ip(16), ami(12), smoke(y/-), ami-age(4), uptime(4), securitygroup(15),
/// availability-zone(12). Widths are minimums; nothing is cut.
pub fn listhosts_line(h: &HostInfo, cols: &Columns, now: i64) -> String {
    let mut line = format!(
        "{} {:<30} {:<15}",
        h.id,
        dash(h.hostclass()),
        dash(h.address())
    );
    let mut add = |on: bool, width: usize, value: String| {
        if on {
            line.push_str(&format!(" {value:<width$}"));
        }
    };
    add(cols.state, 10, h.state.clone());
    add(cols.hostname, 1, yes_dash(h.tag("hostname").is_some()));
    add(cols.owner, 11, dash(h.tag("owner")));
    add(cols.productline, 15, dash(h.tag("productline")));
    add(cols.instance_type, 10, h.instance_type.clone());
    add(cols.private_ip, 16, dash(h.private_ip.as_deref()));
    add(cols.ami, 12, h.image_id.clone());
    add(cols.smoke, 1, yes_dash(h.is_smoke_tested()));
    add(
        cols.ami_age,
        4,
        h.ami_creation_time
            .map_or_else(|| "-".to_string(), |t| hours_between(now, t).to_string()),
    );
    add(
        cols.uptime,
        4,
        h.launch_time
            .map_or_else(|| "-".to_string(), |t| hours_between(now, t).to_string()),
    );
    add(
        cols.securitygroup,
        15,
        dash(h.security_groups.first().map(String::as_str)),
    );
    add(cols.availability_zone, 12, h.availability_zone.clone());
    line.trim_end().to_string()
}

/// `listhosts` order: non-terminated instances by (state, hostclass tag, hostname tag),
/// then id.
pub fn listhosts_order(hosts: &mut Vec<HostInfo>) {
    hosts.retain(|h| h.state != "terminated");
    hosts.sort_by(|a, b| {
        (
            a.state.as_str(),
            a.hostclass(),
            a.tag("hostname"),
            a.id.as_str(),
        )
            .cmp(&(
                b.state.as_str(),
                b.hostclass(),
                b.tag("hostname"),
                b.id.as_str(),
            ))
    });
}

/// The smoke test of one instance (`smoketest_once`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum SmokeStatus {
    /// Tagged `smoketest` by itself.
    Passed,
    /// Not yet: the state it is in.
    NotReady(String),
    /// `failed` or `terminated` (or gone): it never will be.
    Failed(String),
}

/// `smoketest_once`: `failed`/`terminated` → failed; tagged `smoketest` → passed;
/// otherwise not ready.
pub fn smoke_status(state: &str, smoketest_tag: bool) -> SmokeStatus {
    match state {
        "failed" | "terminated" | "shutting-down" => SmokeStatus::Failed(state.to_string()),
        _ if smoketest_tag => SmokeStatus::Passed,
        other => SmokeStatus::NotReady(format!("{other}, not tagged smoketest yet")),
    }
}

/// The exit code of `exec` over several instances: the maximum when they ran concurrently,
/// the last non-zero one when they ran one after another (0 if all succeeded).
pub fn exec_exit_code(codes: &[i32], concurrent: bool) -> i32 {
    if concurrent {
        codes.iter().copied().max().unwrap_or(0)
    } else {
        codes.iter().copied().rev().find(|c| *c != 0).unwrap_or(0)
    }
}

/// The exit status `exec` ends with ([`exec_exit_code`], kept within 1..=255); `None` when
/// every command succeeded.
pub fn exec_exit_status(codes: &[i32], concurrent: bool) -> Option<u8> {
    match exec_exit_code(codes, concurrent) {
        0 => None,
        code => Some(code.clamp(1, 255) as u8),
    }
}

/// `promoterunning`: the AMIs of running instances whose youngest instance has run longer
/// than `hours`.
pub fn long_running_amis(hosts: &[HostInfo], now: i64, hours: u32) -> Vec<String> {
    let mut youngest: BTreeMap<&str, i64> = BTreeMap::new();
    for h in hosts.iter().filter(|h| h.state == "running") {
        let t = h.launch_time.unwrap_or(now);
        let e = youngest.entry(h.image_id.as_str()).or_insert(t);
        *e = (*e).max(t);
    }
    youngest
        .into_iter()
        .filter(|(_, t)| now - t > i64::from(hours) * 3600)
        .map(|(id, _)| id.to_string())
        .collect()
}

/// A host as `listhosts --output json` shows it: the host plus the computed columns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostRow<'a> {
    #[serde(flatten)]
    pub host: &'a HostInfo,
    pub hostclass: Option<&'a str>,
    pub address: Option<&'a str>,
    pub ami_age_hours: Option<i64>,
    pub uptime_hours: Option<i64>,
    pub smoke_tested: bool,
}

/// The JSON rows of `listhosts` at `now` (unix seconds).
pub fn host_rows(hosts: &[HostInfo], now: i64) -> Vec<HostRow<'_>> {
    hosts
        .iter()
        .map(|h| HostRow {
            host: h,
            hostclass: h.hostclass(),
            address: h.address(),
            ami_age_hours: h.ami_creation_time.map(|t| hours_between(now, t)),
            uptime_hours: h.launch_time.map(|t| hours_between(now, t)),
            smoke_tested: h.is_smoke_tested(),
        })
        .collect()
}

impl SmokeStatus {
    /// The original's `isready` line for instance `id`.
    pub fn isready_line(&self, id: &str) -> String {
        match self {
            SmokeStatus::Passed => format!("...{id} is ready"),
            SmokeStatus::Failed(_) => format!("..{id} failed smoke test"),
            SmokeStatus::NotReady(_) => format!("...{id} is NOT ready"),
        }
    }
}

/// Why `isready` fails: how many of the instances have not passed their smoke test;
/// `None` when all have.
pub fn not_ready(statuses: &[(String, SmokeStatus)]) -> Option<String> {
    let waiting = statuses
        .iter()
        .filter(|(_, s)| *s != SmokeStatus::Passed)
        .count();
    (waiting > 0).then(|| format!("{waiting} of {} instances are not ready", statuses.len()))
}

/// Whether `promoterunning` shares image `ami` with the production accounts: it is in the
/// final stage, was made by the production baker (`[bake] prod_baker`, tag `baker`; both
/// unset also matches), and is not yet shared with every one of `prod_accounts`.
pub fn needs_promotion(
    ami: &crate::ami::AmiInfo,
    final_stage: &str,
    prod_baker: Option<&str>,
    prod_accounts: &[String],
) -> bool {
    let shared: Vec<&str> = ami
        .tag("shared_with_account_ids")
        .map(|s| s.split(',').collect())
        .unwrap_or_default();
    ami.stage() == Some(final_stage)
        && ami.tag("baker") == prod_baker
        && !prod_accounts.iter().all(|p| shared.contains(&p.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chosen_columns_add_most_and_all() {
        let own = Columns {
            ami_age: true,
            ..Columns::default()
        };
        assert_eq!(own.chosen(false, false), own);
        assert_eq!(own.chosen(true, false), own.with_most());
        assert_eq!(own.chosen(false, true), own.with_all());
        assert_eq!(own.chosen(true, true), own.with_most().with_all());
    }

    #[test]
    fn exec_exit_status_is_within_a_byte() {
        assert_eq!(exec_exit_status(&[0, 0], true), None);
        assert_eq!(exec_exit_status(&[3, 0], false), Some(3));
        assert_eq!(exec_exit_status(&[-1], true), Some(1));
        assert_eq!(exec_exit_status(&[300, 2], true), Some(255));
    }

    fn host(id: &str, state: &str, hc: Option<&str>, hostname: Option<&str>) -> HostInfo {
        let mut tags = BTreeMap::new();
        if let Some(hc) = hc {
            tags.insert("hostclass".into(), hc.into());
        }
        if let Some(h) = hostname {
            tags.insert("hostname".into(), h.into());
        }
        HostInfo {
            id: id.into(),
            state: state.into(),
            tags,
            public_ip: None,
            private_ips: vec!["10.0.0.1".into()],
            private_ip: Some("10.0.0.1".into()),
            instance_type: "t2.micro".into(),
            image_id: "ami-1".into(),
            launch_time: Some(0),
            ami_creation_time: None,
            security_groups: vec!["ci_intranet".into()],
            availability_zone: "us-west-2a".into(),
            subnet_id: None,
        }
    }

    #[test]
    fn preferred_ip() {
        let mut h = host("i-1", "running", None, None);
        assert_eq!(h.address(), Some("10.0.0.1"));
        h.private_ips.push("10.0.16.5".into());
        assert_eq!(h.address(), Some("10.0.16.5"));
        h.private_ips.push("10.0.16.6".into());
        assert_eq!(h.preferred_private_ip(), Some("10.0.0.1"));
        h.public_ip = Some("54.0.0.1".into());
        assert_eq!(h.address(), Some("54.0.0.1"));
    }

    #[test]
    fn order_and_terminated() {
        let mut hs = vec![
            host("i-3", "running", Some("mhcb"), Some("b")),
            host("i-2", "running", Some("mhca"), Some("z")),
            host("i-1", "pending", Some("mhcz"), None),
            host("i-4", "terminated", Some("mhca"), None),
            host("i-5", "running", Some("mhca"), Some("a")),
        ];
        listhosts_order(&mut hs);
        let ids: Vec<&str> = hs.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, vec!["i-1", "i-5", "i-2", "i-3"]);
    }

    #[test]
    fn lines() {
        let h = host("i-1", "running", Some("mhcweb"), Some("web-1"));
        assert_eq!(
            listhosts_line(&h, &Columns::default(), 7200),
            format!("i-1 {:<30} 10.0.0.1", "mhcweb")
        );
        let most = listhosts_line(&h, &Columns::default().with_most(), 7200);
        assert_eq!(
            most,
            format!(
                "i-1 {:<30} {:<15} {:<10} y {:<11} {:<10} {:<12} - {:<4} 2",
                "mhcweb", "10.0.0.1", "running", "-", "t2.micro", "ami-1", "-"
            )
        );
        let all = listhosts_line(&h, &Columns::default().with_all(), 7200);
        assert!(all.ends_with("ci_intranet     us-west-2a"), "{all}");
        let bare = host("i-9", "running", None, None);
        assert!(listhosts_line(&bare, &Columns::default(), 0).starts_with("i-9 -  "));
    }

    #[test]
    fn smoke() {
        assert_eq!(smoke_status("running", true), SmokeStatus::Passed);
        assert!(matches!(
            smoke_status("running", false),
            SmokeStatus::NotReady(_)
        ));
        assert!(matches!(
            smoke_status("pending", false),
            SmokeStatus::NotReady(_)
        ));
        assert_eq!(
            smoke_status("terminated", true),
            SmokeStatus::Failed("terminated".into())
        );
        assert_eq!(
            smoke_status("failed", false),
            SmokeStatus::Failed("failed".into())
        );
    }

    #[test]
    fn exec_codes() {
        assert_eq!(exec_exit_code(&[0, 3, 1], true), 3);
        assert_eq!(exec_exit_code(&[0, 3, 1, 0], false), 1);
        assert_eq!(exec_exit_code(&[0, 0], false), 0);
        assert_eq!(exec_exit_code(&[], true), 0);
    }

    #[test]
    fn long_running() {
        let mut a = host("i-1", "running", None, None);
        a.image_id = "ami-a".into();
        a.launch_time = Some(0);
        let mut b = host("i-2", "running", None, None);
        b.image_id = "ami-a".into();
        b.launch_time = Some(10 * 3600);
        let mut c = host("i-3", "running", None, None);
        c.image_id = "ami-c".into();
        c.launch_time = Some(0);
        let mut d = host("i-4", "stopped", None, None);
        d.image_id = "ami-d".into();
        d.launch_time = Some(0);
        // At 12h with 3h: ami-a's youngest is 2h old (not yet), ami-c is 12h old.
        assert_eq!(
            long_running_amis(&[a, b, c, d], 12 * 3600, 3),
            vec!["ami-c"]
        );
    }

    #[test]
    fn hours() {
        assert_eq!(hours_between(7199, 0), 1);
        assert_eq!(hours_between(7200, 0), 2);
    }

    #[test]
    fn json_rows() {
        let mut h = host("i-1", "running", Some("mhcweb"), None);
        h.ami_creation_time = Some(0);
        h.tags.insert("smoketest".into(), "tested".into());
        let hosts = [h];
        let rows = host_rows(&hosts, 3 * 3600);
        assert_eq!(rows[0].hostclass, Some("mhcweb"));
        assert_eq!(rows[0].address, Some("10.0.0.1"));
        assert_eq!(
            (rows[0].ami_age_hours, rows[0].uptime_hours),
            (Some(3), Some(3))
        );
        assert!(rows[0].smoke_tested);
        let json = serde_json::to_value(&rows[0]).unwrap();
        assert_eq!(json["id"], "i-1");
        assert_eq!(json["uptime_hours"], 3);
    }

    #[test]
    fn isready_lines_and_summary() {
        let statuses = vec![
            ("i-1".to_string(), SmokeStatus::Passed),
            ("i-2".to_string(), SmokeStatus::Failed("terminated".into())),
            ("i-3".to_string(), SmokeStatus::NotReady("pending".into())),
        ];
        let lines: Vec<String> = statuses.iter().map(|(i, s)| s.isready_line(i)).collect();
        assert_eq!(
            lines,
            [
                "...i-1 is ready",
                "..i-2 failed smoke test",
                "...i-3 is NOT ready"
            ]
        );
        assert_eq!(
            not_ready(&statuses).as_deref(),
            Some("2 of 3 instances are not ready")
        );
        assert_eq!(not_ready(&statuses[..1]), None);
        assert_eq!(not_ready(&[]), None);
    }

    #[test]
    fn promotion_needs_stage_baker_and_an_unshared_account() {
        let ami = |stage: &str, baker: Option<&str>, shared: Option<&str>| {
            let mut tags = BTreeMap::from([("stage".to_string(), stage.to_string())]);
            if let Some(b) = baker {
                tags.insert("baker".into(), b.into());
            }
            if let Some(s) = shared {
                tags.insert("shared_with_account_ids".into(), s.into());
            }
            crate::ami::AmiInfo {
                id: "ami-1".into(),
                name: "mhcapp 1".into(),
                state: "available".into(),
                tags,
                owner: "1".into(),
                snapshot_ids: vec![],
                creation_date: None,
                root_device_name: None,
                maps_sda: false,
            }
        };
        let prod = ["111".to_string(), "222".to_string()];
        assert!(needs_promotion(
            &ami("tested", Some("prod"), None),
            "tested",
            Some("prod"),
            &prod
        ));
        assert!(needs_promotion(
            &ami("tested", None, Some("111")),
            "tested",
            None,
            &prod
        ));
        assert!(!needs_promotion(
            &ami("tested", None, Some("222,111")),
            "tested",
            None,
            &prod
        ));
        assert!(!needs_promotion(
            &ami("untested", None, None),
            "tested",
            None,
            &prod
        ));
        assert!(!needs_promotion(
            &ami("tested", Some("dev"), None),
            "tested",
            Some("prod"),
            &prod
        ));
        assert!(!needs_promotion(
            &ami("tested", Some("prod"), None),
            "tested",
            None,
            &prod
        ));
    }
}
