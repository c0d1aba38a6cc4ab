//! Benchmark, not a test (`#[ignore]`d, never run by CI): `asiaq dynamodb update` of a table
//! that already matches its file (no-op) and of one that lacks one global index (one GSI
//! change), through asiaq-proxy adding a fixed latency to every AWS call, against the
//! fewest calls either can make: a no-op must describe the table (1 call); a GSI change
//! must describe it and send one `UpdateTable` (2 calls, one after the other). Each run is
//! made at 0 ms and at the latency; the time the latency adds is compared with that bound.
//!
//! ```text
//! ASIAQ_BENCH_LATENCY_MS=50 cargo test --workspace --test it dynamodb_bench:: -- --ignored --nocapture
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use asiaq_proxy::{Proxy, ProxyConfig};
use asiaq_testkit::{AwsAccount, Moto};

use crate::identity_common::*;

const TABLE: &str = r#"{
  "TableName": "bench",
  "AttributeDefinitions": [
    {"AttributeName": "id", "AttributeType": "S"},
    {"AttributeName": "day", "AttributeType": "S"}
  ],
  "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
  "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
  "GlobalSecondaryIndexes": [{
    "IndexName": "by-day",
    "KeySchema": [{"AttributeName": "day", "KeyType": "HASH"}],
    "Projection": {"ProjectionType": "ALL"},
    "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}
  }]
}"#;

/// The same table without its index.
const WITHOUT_INDEX: &str = r#"{
  "TableName": "bench",
  "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
  "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
  "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
}"#;

const RUNS: usize = 3;

struct Run {
    wall_s: f64,
    calls: BTreeMap<String, u64>,
    proxy_requests: u64,
}

fn update(account: &AwsAccount, config: &Path, env: &str, latency_ms: u64) -> Run {
    let mut proxy_config = ProxyConfig::new(Moto::shared().endpoint());
    proxy_config.latency_ms = latency_ms;
    proxy_config.ec2_throttling = false;
    let proxy = Proxy::start(proxy_config).expect("start asiaq-proxy");
    let file = config.join("table.json");
    let mut cmd = asiaq(account, config);
    cmd.env("AWS_ENDPOINT_URL", proxy.endpoint()).args([
        "--env",
        env,
        "dynamodb",
        "update",
        "--table",
        "bench",
        "--config",
        file.to_str().unwrap(),
    ]);
    let started = Instant::now();
    let (out, calls) = with_stats(&mut cmd);
    let wall_s = started.elapsed().as_secs_f64();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let summary = proxy.shutdown();
    Run {
        wall_s,
        calls,
        proxy_requests: summary.requests,
    }
}

/// The median run of `RUNS`, each on a table made for it from `start` (straight to moto).
fn measure(account: &AwsAccount, config: &Path, start: &str, latency_ms: u64, tag: &str) -> Run {
    let mut runs: Vec<Run> = (0..RUNS)
        .map(|i| {
            let env = format!("{tag}{latency_ms}x{i}");
            std::fs::write(config.join("table.json"), start).unwrap();
            succeed(asiaq(account, config).args([
                "--env",
                &env,
                "dynamodb",
                "create",
                "--config",
                config.join("table.json").to_str().unwrap(),
            ]));
            std::fs::write(config.join("table.json"), TABLE).unwrap();
            update(account, config, &env, latency_ms)
        })
        .collect();
    runs.sort_by(|a, b| a.wall_s.total_cmp(&b.wall_s));
    runs.swap_remove(RUNS / 2)
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn bench_dynamodb_update_no_op_and_one_index() {
    let latency_ms: u64 = std::env::var("ASIAQ_BENCH_LATENCY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let account = Moto::shared().new_account();
    let config = example_config();
    let cfg = config.path();
    println!(
        "dynamodb update, median of {RUNS} runs; bound = fewest dependent calls x {latency_ms} ms"
    );
    println!(
        "| run | minimum calls | API calls | proxy requests | wall at 0 ms | wall at {latency_ms} ms | time the latency adds | bound |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (name, start, minimum, tag) in [
        ("no-op", TABLE, 1u64, "noop"),
        ("one GSI created", WITHOUT_INDEX, 2, "gsi"),
    ] {
        let base = measure(&account, cfg, start, 0, tag);
        let slow = measure(&account, cfg, start, latency_ms, tag);
        let total: u64 = slow.calls.values().sum();
        println!(
            "| {name} | {minimum} | {total} | {} | {:.3} s | {:.3} s | {:.3} s | {:.3} s |",
            slow.proxy_requests,
            base.wall_s,
            slow.wall_s,
            slow.wall_s - base.wall_s,
            (minimum * latency_ms) as f64 / 1000.0
        );
        for (op, n) in &slow.calls {
            println!("    {op}: {n}");
        }
        assert_eq!(total, minimum, "{name}: {:?}", slow.calls);
    }
}
