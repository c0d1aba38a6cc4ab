//! Request accounting as the SDK drives it: calls, attempts and failures land under the
//! operation's own name.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use asiaq_aws::RequestCounter;
use asiaq_testkit::Moto;
use aws_config::retry::RetryConfig;

#[test]
fn calls_attempts_and_failures_are_counted_per_operation() {
    let account = Moto::shared().new_account();
    let counter = RequestCounter::new();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let sdk = account.sdk_config().await;
            let ec2 = aws_sdk_ec2::Client::from_conf(
                aws_sdk_ec2::config::Builder::from(&sdk)
                    .interceptor(counter.clone())
                    .retry_config(RetryConfig::standard().with_max_attempts(1))
                    .build(),
            );
            ec2.describe_vpcs().send().await.unwrap();
            ec2.describe_vpcs().send().await.unwrap();
            ec2.delete_vpc()
                .vpc_id("vpc-00000000000000000")
                .send()
                .await
                .unwrap_err();
        });
    let stats = counter.snapshot();
    let keys: Vec<&str> = stats.operations.keys().map(String::as_str).collect();
    assert_eq!(keys, vec!["ec2:DeleteVpc", "ec2:DescribeVpcs"]);
    let vpcs = &stats.operations["ec2:DescribeVpcs"];
    assert_eq!((vpcs.calls, vpcs.attempts, vpcs.failures), (2, 2, 0));
    let delete = &stats.operations["ec2:DeleteVpc"];
    assert_eq!((delete.calls, delete.attempts, delete.failures), (1, 1, 1));
    assert_eq!(stats.total_retries(), 0);
}
