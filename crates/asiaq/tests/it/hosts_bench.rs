//! Benchmark, not a test (`#[ignore]`d, never run by CI): `asiaq aws spinup` of a generated
//! pipeline of 30 hostclasses in 3 sequences, each hostclass of a sequence provisioned at
//! once (the default) and one after another (`--max-parallel 1`, what the original did), by
//! the same binary, through asiaq-proxy adding a fixed latency to every AWS call (moto answers
//! in about a millisecond, AWS in tens). Each is run at 0 ms and at the latency; the
//! wall time at the latency is compared with the critical-path bound (the longest chain of
//! dependent calls times the latency), which no implementation can beat. The time the
//! latency adds (the difference) can come out below the bound: moto's own service time at
//! 0 ms overlaps with the waiting at higher latencies. Prints the API calls of each run
//! (the binary's `ASIAQ_API_STATS` counts, and the requests the proxy saw).
//!
//! ```text
//! ASIAQ_BENCH_LATENCY_MS=50 cargo test -p asiaq --test it hosts_bench:: -- --ignored --nocapture
//! ```

use std::collections::BTreeMap;
use std::time::Instant;

use asiaq_proxy::{Proxy, ProxyConfig};
use asiaq_testkit::Moto;

use crate::hosts_support::*;

const HOSTCLASSES: usize = 30;
const SEQUENCES: usize = 3;

fn hostclass(i: usize) -> String {
    format!("mhcbench{i:02}")
}

struct Run {
    wall_s: f64,
    calls: BTreeMap<String, u64>,
    proxy_requests: u64,
    groups: usize,
}

fn spinup(max_parallel: usize, latency_ms: u64) -> Run {
    let w = World::new();
    w.create_environment("demo", 101);
    let mut sections = String::new();
    let mut csv = String::from(
        "sequence,hostclass,min_size,desired_size,max_size,instance_type,extra_disk,iops,smoke_test,integration_test,deployable\n",
    );
    for i in 0..HOSTCLASSES {
        let hc = hostclass(i);
        sections.push_str(&format!("[{hc}]\nmeta_network=intranet\n\n"));
        csv.push_str(&format!(
            "{},{hc},1,1,1,t2.micro,,,no,,no\n",
            i * SEQUENCES / HOSTCLASSES + 1
        ));
        w.create_ami(&hc, 1_700_000_000, "tested");
    }
    w.append_aws_ini(&sections);
    w.write_pipeline("bench.csv", &csv);

    let mut config = ProxyConfig::new(Moto::shared().endpoint());
    config.latency_ms = latency_ms;
    // Latency only: EC2 throttling would measure the proxy's buckets, not the plan.
    config.ec2_throttling = false;
    let proxy = Proxy::start(config).expect("start asiaq-proxy");
    let stats = w.config_path().join("api-stats.json");
    let started = Instant::now();
    let out = w
        .asiaq()
        .env("AWS_ENDPOINT_URL", proxy.endpoint())
        .env("ASIAQ_API_STATS", &stats)
        .env("ASIAQ_QUIET", "1")
        .args([
            "aws",
            "spinup",
            "--pipeline",
            "pipelines/bench.csv",
            "--no-smoke-test",
            "--max-parallel",
            &max_parallel.to_string(),
        ])
        .output()
        .expect("run asiaq");
    let wall_s = started.elapsed().as_secs_f64();
    assert_eq!(out.status.code(), Some(0), "spinup: {}", text(&out.stderr));
    let summary = proxy.shutdown();
    let stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).expect("api stats"))
            .expect("api stats json");
    let calls: BTreeMap<String, u64> = stats["operations"]
        .as_object()
        .expect("operations")
        .iter()
        .map(|(op, s)| (op.clone(), s["calls"].as_u64().unwrap_or(0)))
        .collect();
    let groups = w.groups().len();
    Run {
        wall_s,
        calls,
        proxy_requests: summary.requests,
        groups,
    }
}

/// The dependent calls on the longest path of the spinup, whatever the implementation:
/// `DescribeVpcs`, then the environment's subnets, security groups and route tables at
/// once (images, groups and snapshots need only names and go alongside `DescribeVpcs`); then
/// per sequence, which must be up before the next starts, `CreateLaunchTemplate`, then
/// `CreateAutoScalingGroup`, then the two `PutScalingPolicy` at once.
const OBSERVE_DEPTH: u64 = 2;
const HOSTCLASS_DEPTH: u64 = 3;

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn bench_spinup_30_hostclasses_concurrent_vs_one_at_a_time() {
    let latency_ms: u64 = std::env::var("ASIAQ_BENCH_LATENCY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let bound_depth = OBSERVE_DEPTH + SEQUENCES as u64 * HOSTCLASS_DEPTH;
    let bound_s = (bound_depth * latency_ms) as f64 / 1000.0;
    println!(
        "spinup of {HOSTCLASSES} hostclasses in {SEQUENCES} sequences; critical path {bound_depth} dependent calls = {bound_s:.2} s at {latency_ms} ms per call"
    );
    println!(
        "| run | wall at 0 ms | wall at {latency_ms} ms | time the latency adds | wall at {latency_ms} ms / bound | API calls | proxy requests |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut added = Vec::new();
    for (name, max_parallel) in [
        ("--max-parallel 16", 16),
        ("--max-parallel 1 (one at a time)", 1),
    ] {
        let base = spinup(max_parallel, 0);
        let slow = spinup(max_parallel, latency_ms);
        for r in [&base, &slow] {
            assert_eq!(r.groups, HOSTCLASSES, "{name}");
        }
        let total: u64 = slow.calls.values().sum();
        let extra = slow.wall_s - base.wall_s;
        added.push(extra);
        println!(
            "| {name} | {:.2} s | {:.2} s | {extra:.2} s | {:.2}x | {total} | {} |",
            base.wall_s,
            slow.wall_s,
            slow.wall_s / bound_s.max(f64::EPSILON),
            slow.proxy_requests
        );
        if max_parallel == 16 {
            for (op, n) in &slow.calls {
                println!("    {op}: {n}");
            }
        }
    }
    println!(
        "one at a time takes {:.1}x the added time of concurrent",
        added[1] / added[0].max(f64::EPSILON)
    );
}
