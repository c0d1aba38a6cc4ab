//! The environment lease (`asiaq_aws::lock`) against moto, whose conditional writes behave
//! as DynamoDB's: a leased environment refuses a second run and says by whom, `--wait-lock`
//! waits, a run gives the lease back, a killed holder's lease runs out, two runs at once
//! make one proceed, and `lock list|status|break`.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use asiaq_testkit::{AwsAccount, Moto};
use aws_sdk_dynamodb::types::AttributeValue;

use crate::identity_common::*;
use crate::support::{expect, text};

fn dynamodb(account: &AwsAccount) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&runtime().block_on(account.sdk_config()))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The lease item of `env`, if any: its attributes as text.
fn lease(account: &AwsAccount, env: &str) -> Option<HashMap<String, String>> {
    let db = dynamodb(account);
    runtime().block_on(async {
        let out = db
            .get_item()
            .table_name("asiaq-locks")
            .key("environment", AttributeValue::S(env.into()))
            .consistent_read(true)
            .send()
            .await
            .ok()?;
        out.item().map(|i| {
            i.iter()
                .map(|(k, v)| {
                    let t = v.as_s().or_else(|_| v.as_n()).cloned().unwrap_or_default();
                    (k.clone(), t)
                })
                .collect()
        })
    })
}

/// Another operator's lease of `env`, written directly, lasting `seconds` more.
fn someone_else_holds(account: &AwsAccount, env: &str, seconds: i64) {
    let db = dynamodb(account);
    let s = |v: &str| AttributeValue::S(v.into());
    let n = |v: i64| AttributeValue::N(v.to_string());
    runtime().block_on(async {
        db.put_item()
            .table_name("asiaq-locks")
            .item("environment", s(env))
            .item("arn", s("arn:aws:iam::123456789012:user/alice"))
            .item("who", s("alice@host1:4242"))
            .item("command", s("asiaq aws spinup --pipeline pipelines/ci.csv"))
            .item("started_at", n(now() - 180))
            .item("expires_at", n(now() + seconds))
            .item("generation", n(7))
            .send()
            .await
            .unwrap();
    });
}

fn release_theirs(account: &AwsAccount, env: &str) {
    let db = dynamodb(account);
    runtime().block_on(async {
        db.delete_item()
            .table_name("asiaq-locks")
            .key("environment", AttributeValue::S(env.into()))
            .send()
            .await
            .unwrap();
    });
}

fn create(account: &AwsAccount, config: &Path, name: &str) -> Command {
    let mut c = asiaq(account, config);
    c.args(["vpc", "create", "--name", name, "--type", "sandbox"]);
    c
}

fn update(account: &AwsAccount, config: &Path, name: &str) -> Command {
    let mut c = asiaq(account, config);
    c.args(["vpc", "update", "--name", name]);
    c
}

#[test]
fn a_leased_environment_refuses_a_second_run_and_says_who_holds_it() {
    let account = Moto::shared().new_account();
    let config = example_config();
    let cfg = config.path();
    // The first run makes the table, leases demo, and gives the lease back.
    let (out, calls) = with_stats(&mut create(&account, cfg, "demo"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(calls.contains_key("ec2:CreateVpc"), "{calls:?}");
    assert_eq!(lease(&account, "demo"), None);

    // Held by someone else: exit 1, who/what/since/until, and no change at all.
    someone_else_holds(&account, "demo", 420);
    let (out, calls) = with_stats(&mut update(&account, cfg, "demo"));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "environment demo is locked by arn:aws:iam::123456789012:user/alice (alice@host1:4242, asiaq aws spinup --pipeline pipelines/ci.csv, started 3 min ago, expires in 7 min)"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("--wait-lock"), "{stderr}");
    assert!(mutating(&calls).is_empty(), "{calls:?}");
    assert_eq!(lease(&account, "demo").unwrap()["generation"], "7");

    // Read-only commands and dry runs take no lease.
    expect(asiaq(&account, cfg).args(["vpc", "list"]), 0);
    expect(update(&account, cfg, "demo").arg("--dry-run"), 0);

    // lock status and lock list name the holder.
    let status = succeed(asiaq(&account, cfg).args(["lock", "status", "demo"]));
    assert!(
        status.contains("is locked by arn:aws:iam::123456789012:user/alice"),
        "{status}"
    );
    let list = succeed(asiaq(&account, cfg).args(["lock", "list", "--output", "json"]));
    let rows: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(rows[0]["environment"], "demo");
    assert_eq!(rows[0]["who"], "alice@host1:4242");
    assert_eq!(rows[0]["expired"], false);

    // --wait-lock waits for it: the holder gives it back after 2 s, then the run goes on.
    let waiting = update(&account, cfg, "demo")
        .args(["--wait-lock", "60s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    release_theirs(&account, "demo");
    let out = waiting.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(lease(&account, "demo"), None);

    // --no-lock runs past a lease, and says it does.
    someone_else_holds(&account, "demo", 420);
    let out = expect(update(&account, cfg, "demo").arg("--no-lock"), 0);
    assert!(
        text(&out.stderr).contains("--no-lock"),
        "{}",
        text(&out.stderr)
    );

    // lock break asks first (no terminal: refused), then with --yes removes it.
    let out = expect(
        asiaq(&account, cfg)
            .args(["lock", "break", "demo"])
            .stdin(Stdio::null()),
        2,
    );
    assert!(
        text(&out.stderr).contains("alice@host1:4242"),
        "{}",
        text(&out.stderr)
    );
    assert!(lease(&account, "demo").is_some());
    succeed(asiaq(&account, cfg).args(["lock", "break", "demo", "--yes"]));
    assert_eq!(lease(&account, "demo").unwrap()["expires_at"], "0");
    let status = succeed(asiaq(&account, cfg).args(["lock", "status", "demo"]));
    assert!(status.contains("environment demo is free"), "{status}");

    // A bad duration is a usage error before any AWS call.
    let (out, calls) = with_stats(update(&account, cfg, "demo").args(["--lock-timeout", "1s"]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(calls.is_empty(), "{calls:?}");
}

#[test]
fn an_expired_lease_is_taken_over_with_the_next_generation() {
    let account = Moto::shared().new_account();
    let config = example_config();
    let cfg = config.path();
    expect(&mut create(&account, cfg, "demo"), 0);
    // A lease that ran out (its holder died) does not stop the next run.
    someone_else_holds(&account, "demo", -5);
    let status = succeed(asiaq(&account, cfg).args(["lock", "status", "demo"]));
    assert!(
        status.contains("is free (the lease of alice@host1:4242 expired"),
        "{status}"
    );
    let (out, calls) = with_stats(&mut update(&account, cfg, "demo"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!calls.is_empty());
}

#[test]
fn a_killed_holder_leaves_a_lease_that_runs_out_then_the_next_run_proceeds() {
    let account = Moto::shared().new_account();
    let config = example_config();
    let cfg = config.path();
    expect(&mut create(&account, cfg, "demo"), 0);
    // A slow run (300 ms more per call) with a 3 s lease, killed once it holds the lease.
    let mut proxy_config = asiaq_proxy::ProxyConfig::new(Moto::shared().endpoint());
    proxy_config.latency_ms = 300;
    proxy_config.ec2_throttling = false;
    let proxy = asiaq_proxy::Proxy::start(proxy_config).expect("proxy starts");
    let mut holder = update(&account, cfg, "demo")
        .args(["--lock-timeout", "3s"])
        .env("AWS_ENDPOINT_URL", proxy.endpoint())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while lease(&account, "demo").is_none() {
        assert!(started.elapsed() < Duration::from_secs(60), "never leased");
        std::thread::sleep(Duration::from_millis(100));
    }
    holder.kill().unwrap(); // SIGKILL: no chance to give the lease back
    holder.wait().unwrap();
    let left = lease(&account, "demo").expect("a killed holder leaves its lease");
    let out = expect(&mut update(&account, cfg, "demo"), 1);
    assert!(
        text(&out.stderr).contains("environment demo is locked by"),
        "{}",
        text(&out.stderr)
    );
    // Once the lease ran out, the next run proceeds and takes the next generation.
    let expires: i64 = left["expires_at"].parse().unwrap();
    while now() <= expires {
        std::thread::sleep(Duration::from_millis(200));
    }
    expect(&mut update(&account, cfg, "demo"), 0);
    assert_eq!(lease(&account, "demo"), None);
}

#[test]
fn two_runs_at_once_on_one_environment_make_exactly_one_proceed() {
    let account = Moto::shared().new_account();
    let config = example_config();
    let cfg = config.path();
    // Both through a proxy adding 100 ms per call, so the first run lasts well beyond the
    // second's start.
    let mut proxy_config = asiaq_proxy::ProxyConfig::new(Moto::shared().endpoint());
    proxy_config.latency_ms = 100;
    proxy_config.ec2_throttling = false;
    let proxy = asiaq_proxy::Proxy::start(proxy_config).expect("proxy starts");
    let spawn = || {
        create(&account, cfg, "race")
            .env("AWS_ENDPOINT_URL", proxy.endpoint())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    // The second starts once the first holds the lease (its first calls take a few hundred
    // ms through the proxy), while the first is still working (its whole run takes seconds).
    // Two conditional writes arriving in the same instant are DynamoDB's to order; moto, a
    // threaded Python server, does not make them atomic, so they are not raced here.
    let a = spawn();
    let started = Instant::now();
    while lease(&account, "race").is_none() {
        assert!(started.elapsed() < Duration::from_secs(60), "never leased");
        std::thread::sleep(Duration::from_millis(50));
    }
    let b = spawn();
    let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
    let codes: Vec<Option<i32>> = outs.iter().map(|o| o.status.code()).collect();
    assert!(
        codes.contains(&Some(0)) && codes.contains(&Some(1)),
        "{codes:?}"
    );
    let loser = outs.iter().find(|o| o.status.code() == Some(1)).unwrap();
    assert!(
        text(&loser.stderr).contains("environment race is locked by"),
        "{}",
        text(&loser.stderr)
    );
    // One environment, made once.
    let ec2 = aws_sdk_ec2::Client::new(&runtime().block_on(account.sdk_config()));
    let vpcs = runtime().block_on(async {
        ec2.describe_vpcs()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("tag:Name")
                    .values("race")
                    .build(),
            )
            .send()
            .await
            .unwrap()
            .vpcs()
            .len()
    });
    assert_eq!(vpcs, 1);
    assert_eq!(lease(&account, "race"), None);
}
