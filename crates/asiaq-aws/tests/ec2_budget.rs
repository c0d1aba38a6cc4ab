//! The EC2 budget and the retry configuration against EC2-like throttling: moto behind
//! asiaq-proxy, which answers `RequestLimitExceeded` exactly as EC2 does when a bucket is
//! empty.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use asiaq_aws::budget::budget_ec2_config;
use asiaq_aws::{retry_partition, Ec2Budget};
use asiaq_proxy::{Proxy, ProxyConfig};
use asiaq_testkit::{AwsAccount, Moto};
use aws_config::retry::RetryConfig;
use aws_config::SdkConfig;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_smithy_runtime::client::retries::RetryPartition;

fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(future)
}

fn proxy_with(adjust: impl FnOnce(&mut ProxyConfig)) -> (Proxy, AwsAccount) {
    let moto = Moto::shared();
    let mut config = ProxyConfig::new(moto.endpoint());
    adjust(&mut config);
    (
        Proxy::start(config).expect("proxy starts"),
        moto.new_account(),
    )
}

async fn sdk_through(proxy: &Proxy, account: &AwsAccount, retry: RetryConfig) -> SdkConfig {
    account
        .sdk_config()
        .await
        .into_builder()
        .endpoint_url(proxy.endpoint())
        .retry_config(retry)
        .build()
}

/// 15 DescribeVpcs and 8 unfiltered DescribeInstances at once: more than the x0.1 buckets
/// hold (10 and 5 tokens).
async fn burst(ec2: &aws_sdk_ec2::Client) -> Vec<Result<(), String>> {
    let describe_vpcs = (0..15).map(|_| {
        Box::pin(async {
            ec2.describe_vpcs()
                .send()
                .await
                .map(|_| ())
                .map_err(|e| e.code().unwrap_or("other").to_string())
        }) as std::pin::Pin<Box<dyn Future<Output = _> + Send>>
    });
    let describe_instances = (0..8).map(|_| {
        Box::pin(async {
            ec2.describe_instances()
                .send()
                .await
                .map(|_| ())
                .map_err(|e| e.code().unwrap_or("other").to_string())
        }) as std::pin::Pin<Box<dyn Future<Output = _> + Send>>
    });
    futures::future::join_all(describe_vpcs.chain(describe_instances)).await
}

fn throttled_proxy() -> (Proxy, AwsAccount) {
    proxy_with(|c| {
        c.ec2_limit_scale = 0.1;
        c.latency_ms = 10;
        c.jitter_ms = 20;
    })
}

#[test]
fn a_budgeted_burst_is_never_throttled() {
    let (proxy, account) = throttled_proxy();
    let budget = Arc::new(Ec2Budget::new(0.1));
    let results = block_on(async {
        // One attempt per call: a throttle would be a failure, so zero failures means the
        // budget avoided throttling rather than retries absorbing it.
        let sdk = sdk_through(
            &proxy,
            &account,
            RetryConfig::standard().with_max_attempts(1),
        )
        .await;
        let conf = budget_ec2_config(
            aws_sdk_ec2::config::Builder::from(&sdk),
            &sdk,
            budget.clone(),
        );
        burst(&aws_sdk_ec2::Client::from_conf(conf.build())).await
    });
    let failures: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(failures.is_empty(), "failed calls: {failures:?}");
    let summary = proxy.summary();
    assert_eq!(summary.requests_of("ec2:"), 23);
    assert_eq!(summary.throttled, 0);
    assert!(
        budget.stats().delayed > 0,
        "the budget made the calls beyond the burst wait: {:?}",
        budget.stats()
    );
}

#[test]
fn without_the_budget_the_same_burst_is_throttled() {
    // The control: the proxy really does throttle this burst.
    let (proxy, account) = throttled_proxy();
    let results = block_on(async {
        let sdk = sdk_through(
            &proxy,
            &account,
            RetryConfig::standard().with_max_attempts(1),
        )
        .await;
        burst(&aws_sdk_ec2::Client::new(&sdk)).await
    });
    let throttled = results
        .iter()
        .filter(|r| r.as_ref().err().map(String::as_str) == Some("RequestLimitExceeded"))
        .count();
    assert!(throttled >= 5, "{results:?}");
    assert_eq!(proxy.summary().throttled as usize, throttled);
}

/// 120 calls one after another, each throttled twice before it succeeds (the proxy
/// throttles 2 of every 3 DescribeVpcs), with up to 3 attempts per call.
async fn sustained_throttling(
    proxy: &Proxy,
    account: &AwsAccount,
    partition: RetryPartition,
) -> usize {
    let retry = RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(1));
    let sdk = sdk_through(proxy, account, retry).await;
    let ec2 = aws_sdk_ec2::Client::from_conf(
        aws_sdk_ec2::config::Builder::from(&sdk)
            .retry_partition(partition)
            .build(),
    );
    let mut failures = 0;
    for _ in 0..120 {
        if ec2.describe_vpcs().send().await.is_err() {
            failures += 1;
        }
    }
    failures
}

fn cycling_throttle() -> (Proxy, AwsAccount) {
    proxy_with(|c| {
        c.faults
            .push("ec2:DescribeVpcs=throttle@cycle:3/2".parse().unwrap())
    })
}

#[test]
fn sustained_throttling_does_not_exhaust_our_retry_quota() {
    let (proxy, account) = cycling_throttle();
    let failures = block_on(sustained_throttling(
        &proxy,
        &account,
        retry_partition("ec2"),
    ));
    assert_eq!(failures, 0);
    assert_eq!(proxy.summary().faults, 240);
}

#[test]
fn sustained_throttling_exhausts_the_sdk_default_retry_quota() {
    // Why `retry_partition` exists: with the SDK's default quota the same run starts failing
    // once 500 tokens are spent (5 kept per call here), although every call would succeed on
    // its third attempt. A fresh partition name gets a fresh default quota.
    let (proxy, account) = cycling_throttle();
    let failures = block_on(sustained_throttling(
        &proxy,
        &account,
        RetryPartition::new("asiaq-test-default-quota"),
    ));
    assert!(failures > 0, "the SDK default quota did not run out");
}
