//! `asiaq metrics upload` (the original's `disco_metrics.py`, spec §2.23): what an instance
//! reports to CloudWatch, computed from the texts of `/proc/meminfo`, `/proc/stat`, `df` and
//! `rabbitmqctl list_queues`, with the instance's environment and hostclass from its user
//! data. Pure: the texts are given.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::plan::{Change, Plan, PlanAction, PlanBuilder, Resource};

/// The queues whose length is sent (namespace `RabbitMQ`), as in the original.
pub const RABBIT_QUEUES: [&str; 2] = ["inference_workflow", "ingestion_workflow"];

/// The identity `--dummy` uses, as the original's.
pub const DUMMY: (&str, &str, &str) = ("us-west-2", "mhccloudwatchtest", "desktop");

/// One value to send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Datum {
    pub namespace: String,
    pub name: String,
    pub value: f64,
    /// CloudWatch's unit name: `Megabytes`, `Percent`, `Count`.
    pub unit: String,
}

/// `key="value"` lines of the user data (other lines ignored).
pub fn parse_userdata(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| {
            let (k, rest) = line.split_once('=')?;
            let key = k.trim_start();
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return None;
            }
            let v = rest.strip_prefix('"')?;
            let end = v.find('"')?;
            Some((key.to_string(), v[..end].to_string()))
        })
        .collect()
}

/// `Key:   123 kB` lines of `/proc/meminfo`: key -> number (kB).
pub fn parse_meminfo(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter_map(|line| {
            let (k, rest) = line.split_once(':')?;
            let n = rest.split_whitespace().next()?.parse().ok()?;
            Some((k.trim().to_string(), n))
        })
        .collect()
}

/// The CPU percentages since boot from the `cpu` line of `/proc/stat`, as `iostat -c`'s
/// first report gives them: user, nice, system (with irq and softirq), iowait, steal, idle.
pub fn cpu_percentages(stat: &str) -> BTreeMap<String, f64> {
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return BTreeMap::new();
    };
    let f: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    if f.len() < 8 {
        return BTreeMap::new();
    }
    let (user, nice, system, idle, iowait, irq, softirq, steal) =
        (f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]);
    let total = user + nice + system + idle + iowait + irq + softirq + steal;
    if total <= 0.0 {
        return BTreeMap::new();
    }
    let pct = |x: f64| (x * 10_000.0 / total).round() / 100.0;
    BTreeMap::from([
        ("user".to_string(), pct(user)),
        ("nice".to_string(), pct(nice)),
        ("system".to_string(), pct(system + irq + softirq)),
        ("iowait".to_string(), pct(iowait)),
        ("steal".to_string(), pct(steal)),
        ("idle".to_string(), pct(idle)),
    ])
}

/// `df` lines `filesystem blocks used available N% mount`: filesystem -> N, for the
/// devices the original reported (`/dev/sd*`, `/dev/xvd*`, `/dev/mapper/*`) and the NVMe
/// devices of current instance types (`/dev/nvme*`).
pub fn parse_df(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 5 || !f[1..4].iter().all(|x| x.parse::<u64>().is_ok()) {
                return None;
            }
            let pct = f[4].strip_suffix('%')?.parse().ok()?;
            let dev = f[0];
            ["/dev/sd", "/dev/xvd", "/dev/mapper", "/dev/nvme"]
                .iter()
                .any(|p| dev.starts_with(p))
                .then(|| (dev.to_string(), pct))
        })
        .collect()
}

/// `rabbitmqctl list_queues` lines `name count`: the lengths of [`RABBIT_QUEUES`].
pub fn parse_queues(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter_map(|line| {
            let mut it = line.split_whitespace();
            let (name, n) = (it.next()?, it.next()?.parse().ok()?);
            RABBIT_QUEUES.contains(&name).then(|| (name.to_string(), n))
        })
        .collect()
}

fn datum(namespace: &str, name: &str, value: f64, unit: &str) -> Datum {
    Datum {
        namespace: namespace.into(),
        name: name.into(),
        value,
        unit: unit.into(),
    }
}

/// The values to send, in the original's namespaces: `EC2/Memory` (MemTotal, MemFree,
/// Buffers, Cached in MiB, and `%MemFree` counting buffers and cache as free), `EC2/CPU`
/// (iowait, steal, user, system, idle), `EC2/Disk` (use % per device) and `RabbitMQ`.
pub fn datums(
    mem: &BTreeMap<String, f64>,
    cpu: &BTreeMap<String, f64>,
    disk: &BTreeMap<String, f64>,
    queues: &BTreeMap<String, f64>,
) -> Vec<Datum> {
    let mut out = Vec::new();
    for (q, n) in queues {
        out.push(datum("RabbitMQ", q, *n, "Count"));
    }
    for key in ["MemTotal", "MemFree", "Buffers", "Cached"] {
        if let Some(v) = mem.get(key) {
            out.push(datum("EC2/Memory", key, v / 1024.0, "Megabytes"));
        }
    }
    if let (Some(total), Some(free), Some(buffers), Some(cached)) = (
        mem.get("MemTotal"),
        mem.get("MemFree"),
        mem.get("Buffers"),
        mem.get("Cached"),
    ) {
        if *total > 0.0 {
            let pct = 100.0 * (free + buffers + cached) / total;
            out.push(datum("EC2/Memory", "%MemFree", pct, "Percent"));
        }
    }
    for key in ["iowait", "steal", "user", "system", "idle"] {
        if let Some(v) = cpu.get(key) {
            out.push(datum("EC2/CPU", key, *v, "Percent"));
        }
    }
    for (dev, pct) in disk {
        out.push(datum("EC2/Disk", dev, *pct, "Percent"));
    }
    out
}

/// The values of the texts that could be read (a missing one contributes nothing).
pub fn values(
    meminfo: Option<&str>,
    stat: Option<&str>,
    df: Option<&str>,
    queues: Option<&str>,
) -> Vec<Datum> {
    datums(
        &meminfo.map(parse_meminfo).unwrap_or_default(),
        &stat.map(cpu_percentages).unwrap_or_default(),
        &df.map(parse_df).unwrap_or_default(),
        &queues.map(parse_queues).unwrap_or_default(),
    )
}

/// The dimension every value carries: `env_hostclass=<env>_<hostclass>`.
pub fn dimension(env: &str, hostclass: &str) -> (String, String) {
    ("env_hostclass".into(), format!("{env}_{hostclass}"))
}

/// The region of an availability zone (`us-west-2a` -> `us-west-2`).
pub fn region_of_zone(zone: &str) -> &str {
    zone.strip_suffix(|c: char| c.is_ascii_lowercase())
        .unwrap_or(zone)
}

/// The one change `metrics upload` makes: PutMetricData of one namespace's values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action")]
pub enum MetricsAction {
    PutMetricData {
        namespace: String,
        dimension: (String, String),
        /// Seconds since the epoch.
        timestamp: i64,
        data: Vec<Datum>,
    },
}

impl std::fmt::Display for MetricsAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let MetricsAction::PutMetricData {
            namespace,
            dimension,
            data,
            ..
        } = self;
        let values: Vec<String> = data
            .iter()
            .map(|d| format!("{}={} {}", d.name, d.value, d.unit))
            .collect();
        write!(
            f,
            "put {namespace} ({}={}): {}",
            dimension.0,
            dimension.1,
            values.join(", ")
        )
    }
}

impl PlanAction for MetricsAction {
    fn resource(&self) -> Resource {
        let MetricsAction::PutMetricData { namespace, .. } = self;
        Resource::new("metrics", namespace.as_str())
    }

    fn change(&self) -> Change {
        Change::Create
    }
}

/// One PutMetricData per namespace (in the order the values come), all with the
/// `env_hostclass` dimension and the time of collection.
pub fn upload_plan(
    data: &[Datum],
    env: &str,
    hostclass: &str,
    timestamp: i64,
) -> Plan<MetricsAction> {
    let mut namespaces: Vec<&str> = Vec::new();
    for d in data {
        if !namespaces.contains(&d.namespace.as_str()) {
            namespaces.push(&d.namespace);
        }
    }
    let mut b = PlanBuilder::new();
    for ns in namespaces {
        b.add(
            MetricsAction::PutMetricData {
                namespace: ns.to_string(),
                dimension: dimension(env, hostclass),
                timestamp,
                data: data.iter().filter(|d| d.namespace == ns).cloned().collect(),
            },
            &[],
        );
    }
    b.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userdata_and_zone() {
        let u =
            parse_userdata("#!/bin/bash\nhostclass=\"mhcapp\"\nenvironment_name=\"demo\"\nx=1\n");
        assert_eq!(u["hostclass"], "mhcapp");
        assert_eq!(u["environment_name"], "demo");
        assert!(!u.contains_key("x"));
        assert_eq!(region_of_zone("us-west-2a"), "us-west-2");
    }

    #[test]
    fn memory_values_and_free_percentage() {
        let mem = parse_meminfo(
            "MemTotal:        2048000 kB\nMemFree:          512000 kB\nBuffers:  102400 kB\nCached:  409600 kB\nHugePages_Total:       0\n",
        );
        assert_eq!(mem["MemTotal"], 2_048_000.0);
        let d = datums(&mem, &BTreeMap::new(), &BTreeMap::new(), &BTreeMap::new());
        let by: BTreeMap<&str, f64> = d.iter().map(|d| (d.name.as_str(), d.value)).collect();
        assert_eq!(by["MemTotal"], 2000.0);
        assert_eq!(by["MemFree"], 500.0);
        assert_eq!(by["%MemFree"], 50.0);
        assert!(d.iter().all(|d| d.namespace == "EC2/Memory"));
    }

    #[test]
    fn cpu_from_proc_stat_as_iostat_reports_it() {
        let c = cpu_percentages("cpu  100 0 50 800 20 10 10 10 0 0\ncpu0 1 2 3 4 5 6 7 8\n");
        assert_eq!(c["user"], 10.0);
        assert_eq!(c["system"], 7.0);
        assert_eq!(c["idle"], 80.0);
        assert_eq!(c["iowait"], 2.0);
        assert_eq!(c["steal"], 1.0);
        assert!(cpu_percentages("nothing").is_empty());
    }

    #[test]
    fn disks_and_queues() {
        let df = "Filesystem     1K-blocks    Used Available Use% Mounted on\n/dev/xvda1      8123812 4061906   4061906  50% /\ntmpfs            1024       0      1024   0% /dev/shm\n/dev/nvme1n1p1  100 25 75 25% /data\n";
        let d = parse_df(df);
        assert_eq!(d.len(), 2);
        assert_eq!(d["/dev/xvda1"], 50.0);
        let q = parse_queues("Listing queues ...\ninference_workflow\t12\nother 3\n");
        assert_eq!(q.len(), 1);
        assert_eq!(q["inference_workflow"], 12.0);
        let all = datums(&BTreeMap::new(), &BTreeMap::new(), &d, &q);
        assert_eq!(all[0].namespace, "RabbitMQ");
        assert_eq!(all[1].name, "/dev/nvme1n1p1");
        assert_eq!(dimension("demo", "mhcapp").1, "demo_mhcapp");
        let p = upload_plan(&all, "demo", "mhcapp", 1_700_000_000);
        assert_eq!(p.len(), 2);
        assert_eq!(
            p.steps[0].action.to_string(),
            "put RabbitMQ (env_hostclass=demo_mhcapp): inference_workflow=12 Count"
        );
    }
}
