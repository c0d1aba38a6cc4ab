//! Benchmark, not a test (`#[ignore]`d, never run by CI): what the environment lease costs a
//! command. `asiaq vpc update` of an environment that needs no change, through asiaq-proxy
//! adding a fixed latency to every AWS call, with the lease and with `--no-lock`, one after
//! the other; the lease's calls (counted apart, `lease` in the stats file) against its bound
//! of one round trip before the work (one conditional UpdateItem) and one after it (the
//! release). The caller's ARN (GetCallerIdentity, counted with the command's calls, and one
//! more UpdateItem) is recorded beside the command's own first calls.
//!
//! ```text
//! ASIAQ_BENCH_LATENCY_MS=50 cargo test --workspace --test it lock_bench:: -- --ignored --nocapture
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use asiaq_proxy::{Proxy, ProxyConfig};
use asiaq_testkit::{AwsAccount, Moto};

use crate::identity_common::*;

const RUNS: usize = 3;

struct Run {
    wall_s: f64,
    calls: u64,
    lease_calls: BTreeMap<String, u64>,
}

fn update(account: &AwsAccount, config: &Path, latency_ms: u64, lock: bool) -> Run {
    let mut proxy_config = ProxyConfig::new(Moto::shared().endpoint());
    proxy_config.latency_ms = latency_ms;
    proxy_config.ec2_throttling = false;
    let proxy = Proxy::start(proxy_config).expect("start asiaq-proxy");
    let stats = tempfile::NamedTempFile::new().unwrap();
    let mut cmd = asiaq(account, config);
    cmd.env("AWS_ENDPOINT_URL", proxy.endpoint())
        .env("ASIAQ_API_STATS", stats.path())
        .args(["vpc", "update", "--name", "demo"]);
    if !lock {
        cmd.arg("--no-lock");
    }
    let started = Instant::now();
    succeed(&mut cmd);
    let wall_s = started.elapsed().as_secs_f64();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(stats.path()).unwrap()).unwrap();
    let count = |v: &serde_json::Value| -> BTreeMap<String, u64> {
        v["operations"]
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, s)| (k.clone(), s["calls"].as_u64().unwrap()))
                    .collect()
            })
            .unwrap_or_default()
    };
    Run {
        wall_s,
        calls: count(&json).values().sum(),
        lease_calls: count(&json["lease"]),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn lease_cost_per_command() {
    let latency_ms: u64 = std::env::var("ASIAQ_BENCH_LATENCY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let account = Moto::shared().new_account();
    let config = example_config();
    let cfg = config.path();
    succeed(asiaq(&account, cfg).args(["vpc", "create", "--name", "demo", "--type", "sandbox"]));
    let mut with = Vec::new();
    let mut without = Vec::new();
    let mut last = None;
    for _ in 0..RUNS {
        let a = update(&account, cfg, latency_ms, true);
        let b = update(&account, cfg, latency_ms, false);
        with.push(a.wall_s);
        without.push(b.wall_s);
        last = Some((a, b));
    }
    let (a, b) = last.unwrap();
    let lease_total: u64 = a.lease_calls.values().sum();
    let added = median(with.clone()) - median(without.clone());
    println!("vpc update (no change) at +{latency_ms} ms per call, median of {RUNS}:");
    println!(
        "  with the lease: {:.3} s, {} command calls + {lease_total} lease calls {:?}",
        median(with),
        a.calls,
        a.lease_calls
    );
    println!(
        "  --no-lock:      {:.3} s, {} command calls",
        median(without),
        b.calls
    );
    println!(
        "  the lease adds {:.3} s = {:.1} round trips of {latency_ms} ms (bound: 1 before the work + 1 after = 2)",
        added,
        added * 1000.0 / latency_ms as f64
    );
}
