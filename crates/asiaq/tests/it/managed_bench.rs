//! Benchmark, not a test (`#[ignore]`d, never run by CI): `rds update` of 5 new databases
//! with `--parallel` against one after the other, and `elasticache update` of 5 new clusters
//! (the groups in parallel) against five `update --cluster` runs one after the other; every
//! AWS call goes through asiaq-proxy with a fixed added latency. Prints the API calls and
//! the wall time of each.
//!
//! ```text
//! ASIAQ_BENCH_LATENCY_MS=50 cargo test --workspace --test it managed_bench:: -- --ignored --nocapture
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use asiaq_proxy::{Proxy, ProxyConfig};
use asiaq_testkit::{AwsAccount, Moto};

use crate::identity_common::*;

const N: usize = 5;

fn latency() -> u64 {
    std::env::var("ASIAQ_BENCH_LATENCY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50)
}

/// Runs each of `runs` (asiaq arguments) one after the other through a proxy adding
/// `latency_ms`; the wall time and the calls of them all.
fn timed(
    account: &AwsAccount,
    config: &Path,
    runs: &[Vec<String>],
    latency_ms: u64,
) -> (f64, BTreeMap<String, u64>) {
    let mut proxy_config = ProxyConfig::new(Moto::shared().endpoint());
    proxy_config.latency_ms = latency_ms;
    proxy_config.ec2_throttling = false;
    let proxy = Proxy::start(proxy_config).expect("start asiaq-proxy");
    let mut calls = BTreeMap::new();
    let started = Instant::now();
    for args in runs {
        let mut cmd: Command = asiaq(account, config);
        cmd.env("AWS_ENDPOINT_URL", proxy.endpoint()).args(args);
        let (out, c) = with_stats(&mut cmd);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        for (op, n) in c {
            *calls.entry(op).or_default() += n;
        }
    }
    let wall = started.elapsed().as_secs_f64();
    proxy.shutdown();
    (wall, calls)
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

fn report(what: &str, wall: f64, calls: &BTreeMap<String, u64>) {
    let total: u64 = calls.values().sum();
    println!("| {what} | {total} | {wall:.2} s |");
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn bench_rds_and_elasticache_updates_of_five() {
    let ms = latency();
    println!("5 new databases / clusters, every AWS call +{ms} ms");
    println!("| run | API calls | wall |");
    println!("|---|---|---|");
    for parallel in [false, true] {
        let project = if parallel { "rdsbenchp" } else { "rdsbenchs" };
        let e = crate::rds::Env::new(project, true);
        let mut ini = String::new();
        for i in 1..=N {
            ini.push_str(&format!("\n[demo-b{i}]\nengine=postgres\nengine_version=13.4\ndb_instance_class=db.t3.micro\nallocated_storage=20\nmaster_username=admin\nmulti_az=False\n"));
            succeed(&mut e.cmd(&[
                "--env",
                "demo",
                "creds",
                "set",
                "--key",
                &format!("rds/b{i}/master_user_password"),
                "--value",
                "bench-Passw0rd",
            ]));
        }
        let path = e.path().join("disco_rds.ini");
        let s = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{s}{ini}")).unwrap();
        std::fs::remove_file(e.path().join("rds/engine_specific/appdb.ini")).unwrap();
        let run = if parallel {
            args(&["rds", "update", "--parallel"])
        } else {
            args(&["rds", "update"])
        };
        let (wall, calls) = timed(&e.account, e.path(), &[run], ms);
        let what = if parallel {
            "rds update --parallel (6 databases)"
        } else {
            "rds update, one at a time (6 databases)"
        };
        report(what, wall, &calls);
    }
    for together in [false, true] {
        let e = crate::elasticache::Env::new();
        for i in 1..=N {
            e.append(&format!("[demo:c{i}]\ninstance_type=cache.t3.micro\nengine_version=6.2\nport=6379\nparameter_group=default.redis6.x\nnum_nodes=1\n"));
        }
        let runs: Vec<Vec<String>> = if together {
            vec![args(&["elasticache", "update"])]
        } else {
            (0..=N)
                .map(|i| {
                    let c = if i == 0 {
                        "cache".to_string()
                    } else {
                        format!("c{i}")
                    };
                    args(&["elasticache", "update", "--cluster", &c])
                })
                .collect()
        };
        let (wall, calls) = timed(&e.account, e.path(), &runs, ms);
        let what = if together {
            "elasticache update (6 clusters, 4 at a time)"
        } else {
            "elasticache update --cluster, 6 runs one after the other"
        };
        report(what, wall, &calls);
    }
}
