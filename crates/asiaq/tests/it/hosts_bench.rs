//! Benchmark, not a test (`#[ignore]`d, never run by CI): `asiaq aws spinup` of a generated
//! pipeline of 30 hostclasses in 3 sequences, each hostclass of a sequence provisioned at
//! once (the default) and one after another (`--max-parallel 1`, what the original did), by
//! the same binary, through asiaq-proxy adding a fixed latency to every AWS call (moto answers
//! in about a millisecond, AWS in tens). Prints wall time and the API calls of each run (the
//! binary's `ASIAQ_API_STATS` counts, and the requests the proxy saw).
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

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn bench_spinup_30_hostclasses_concurrent_vs_one_at_a_time() {
    let latency_ms: u64 = std::env::var("ASIAQ_BENCH_LATENCY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let concurrent = spinup(16, latency_ms);
    let serial = spinup(1, latency_ms);
    for (name, r) in [
        ("--max-parallel 16", &concurrent),
        ("--max-parallel 1", &serial),
    ] {
        assert_eq!(r.groups, HOSTCLASSES, "{name}");
        let total: u64 = r.calls.values().sum();
        println!(
            "spinup of {HOSTCLASSES} hostclasses in {SEQUENCES} sequences, {latency_ms} ms added per call, {name}: {:.1} s wall, {total} API calls counted by asiaq, {} requests seen by the proxy",
            r.wall_s, r.proxy_requests
        );
        for (op, n) in &r.calls {
            println!("    {op}: {n}");
        }
    }
    println!(
        "speed-up: {:.1}x",
        serial.wall_s / concurrent.wall_s.max(f64::EPSILON)
    );
}
