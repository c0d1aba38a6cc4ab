//! Benchmark, not a test (`#[ignore]`d, never run by CI): `asiaq alarms update_metrics` of
//! 30 hostclasses with 5 alarms each (one run per hostclass, as the command takes one),
//! first when no alarm exists and then again with nothing to change, through asiaq-proxy
//! adding a fixed latency to every AWS call. The fewest calls a run can make: the no-op
//! must read the alarms (1 call); the first run must read them and put 5 (6 calls, 2 rounds
//! of calls one after the other when the puts go at once).
//!
//! ```text
//! ASIAQ_BENCH_LATENCY_MS=50 cargo test --workspace --test it alarms_bench:: -- --ignored --nocapture
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use asiaq_proxy::{Proxy, ProxyConfig};
use asiaq_testkit::{AwsAccount, Moto};

use crate::identity_common::*;

const HOSTCLASSES: usize = 30;

/// disco_alarms.ini with 5 custom-metric alarms (dimension env_hostclass: no group needed)
/// for every hostclass.
fn alarms_ini() -> String {
    let mut s = String::from(
        "[notifications]\nteam_bench_critical=ops@example.com\n[defaults]\nlevel=critical\nstatistic=Average\nperiod=300\nduration=3\ncustom_metric=true\n",
    );
    for m in ["CPU", "MemFree", "Disk", "Load", "Queue"] {
        s.push_str(&format!("[team.EC2/Bench.{m}]\nthreshold_max=90\n"));
    }
    s
}

/// One pass over the hostclasses: (wall seconds, asiaq's calls summed, proxy requests).
fn pass(account: &AwsAccount, config: &Path, latency_ms: u64) -> (f64, BTreeMap<String, u64>, u64) {
    let mut proxy_config = ProxyConfig::new(Moto::shared().endpoint());
    proxy_config.latency_ms = latency_ms;
    proxy_config.ec2_throttling = false;
    let proxy = Proxy::start(proxy_config).expect("start asiaq-proxy");
    let mut total = BTreeMap::new();
    let started = Instant::now();
    for i in 0..HOSTCLASSES {
        let hc = format!("mhcbench{i:02}");
        let mut cmd = asiaq(account, config);
        cmd.env("AWS_ENDPOINT_URL", proxy.endpoint()).args([
            "--env",
            "bench",
            "alarms",
            "update_metrics",
            "--hostclass",
            &hc,
        ]);
        let (out, calls) = with_stats(&mut cmd);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        for (op, n) in calls {
            *total.entry(op).or_insert(0) += n;
        }
    }
    let wall_s = started.elapsed().as_secs_f64();
    let summary = proxy.shutdown();
    (wall_s, total, summary.requests)
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn bench_update_metrics_30_hostclasses_5_alarms() {
    let latency: u64 = std::env::var("ASIAQ_BENCH_LATENCY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    println!(
        "{:<10} {:>8} {:>9} {:>7} {:>10} {:>14}",
        "run", "latency", "wall s", "calls", "min calls", "bound s (+lat)"
    );
    for ms in [0, latency] {
        let account = Moto::shared().new_account();
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&asiaq_testkit::examples_dir().join("sandbox"), dir.path());
        std::fs::write(dir.path().join("disco_alarms.ini"), alarms_ini()).unwrap();
        for (name, min_calls, rounds) in [("first", 6, 2), ("no-op", 1, 1)] {
            let (wall, calls, requests) = pass(&account, dir.path(), ms);
            let n: u64 = calls.values().sum();
            let bound = (HOSTCLASSES * rounds) as f64 * ms as f64 / 1000.0;
            println!(
                "{name:<10} {ms:>6}ms {wall:>9.2} {n:>7} {:>10} {bound:>14.2}",
                min_calls * HOSTCLASSES
            );
            println!("           calls: {calls:?} (proxy saw {requests})");
        }
    }
}
