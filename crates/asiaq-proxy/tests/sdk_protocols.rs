//! The proxy's answers as the real AWS SDK reads them: each protocol's throttling and fault
//! bodies must parse into the error code the SDK's retry logic and our error messages use.
//! Requests go through the proxy to a real moto_server.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::future::Future;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use asiaq_core::ec2_limits::BucketLimit;
use asiaq_proxy::{Fault, FaultRule, LogRecord, Outcome, Proxy, ProxyConfig, Summary, Trigger};
use asiaq_testkit::{AwsAccount, Moto};
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::SdkConfig;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};

fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(future)
}

/// A proxy in front of the shared moto, configured by `adjust`, and a fresh account.
fn proxy_with(adjust: impl FnOnce(&mut ProxyConfig)) -> (Proxy, AwsAccount) {
    let moto = Moto::shared();
    let mut config = ProxyConfig::new(moto.endpoint());
    adjust(&mut config);
    let proxy = Proxy::start(config).expect("proxy starts");
    (proxy, moto.new_account())
}

/// The account's SDK configuration pointed at the proxy, with a single attempt per call so
/// that the proxy's answer is what the caller sees.
async fn through(proxy: &Proxy, account: &AwsAccount) -> SdkConfig {
    account
        .sdk_config()
        .await
        .into_builder()
        .endpoint_url(proxy.endpoint())
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .build()
}

fn limit(key: &str, capacity: f64, refill: f64) -> impl FnOnce(&mut ProxyConfig) + '_ {
    move |c: &mut ProxyConfig| {
        c.limits
            .insert(key.to_string(), BucketLimit::new(capacity, refill));
    }
}

fn fault(spec: &str) -> impl FnOnce(&mut ProxyConfig) + '_ {
    move |c: &mut ProxyConfig| c.faults.push(spec.parse().expect("fault spec"))
}

fn status<E>(err: &SdkError<E, aws_sdk_ec2::config::http::HttpResponse>) -> u16 {
    err.raw_response().map(|r| r.status().as_u16()).unwrap_or(0)
}

#[test]
fn ec2_throttling_is_request_limit_exceeded() {
    let (proxy, account) = proxy_with(limit("ec2:DescribeVpcs", 1.0, 0.0));
    block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&through(&proxy, &account).await);
        ec2.describe_vpcs()
            .send()
            .await
            .expect("first call has a token");
        let err = ec2.describe_vpcs().send().await.unwrap_err();
        assert_eq!(err.code(), Some("RequestLimitExceeded"), "{err:?}");
        assert_eq!(status(&err), 503);
        // Another action has its own bucket.
        ec2.describe_subnets().send().await.expect("other action");
    });
    let summary = proxy.summary();
    assert_eq!(summary.throttled, 1);
    assert_eq!(summary.operations["ec2:DescribeVpcs"].throttled, 1);
    assert_eq!(summary.operations["ec2:DescribeSubnets"].requests, 1);
}

#[test]
fn ec2_table_buckets_scale_and_pick_the_unfiltered_bucket() {
    // x0.001: every bucket holds one token and refills one in 50 s or more.
    let (proxy, account) = proxy_with(|c| c.ec2_limit_scale = 0.001);
    block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&through(&proxy, &account).await);
        ec2.describe_instances()
            .send()
            .await
            .expect("unfiltered: 1 token");
        let err = ec2.describe_instances().send().await.unwrap_err();
        assert_eq!(err.code(), Some("RequestLimitExceeded"));
        // A filtered DescribeInstances draws from the non-mutating bucket, still full.
        ec2.describe_instances()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("instance-state-name")
                    .values("running")
                    .build(),
            )
            .send()
            .await
            .expect("filtered: its own bucket");
    });
    assert_eq!(proxy.summary().throttled, 1);
}

#[test]
fn aws_query_throttling_is_throttling() {
    let (proxy, account) = proxy_with(|c| {
        c.limits
            .insert("autoscaling".into(), BucketLimit::new(1.0, 0.0));
        c.limits.insert("iam".into(), BucketLimit::new(1.0, 0.0));
    });
    block_on(async {
        let conf = through(&proxy, &account).await;
        let asg = aws_sdk_autoscaling::Client::new(&conf);
        asg.describe_auto_scaling_groups().send().await.unwrap();
        let err = asg.describe_auto_scaling_groups().send().await.unwrap_err();
        assert_eq!(err.code(), Some("Throttling"), "{err:?}");
        assert_eq!(status(&err), 400);
        let iam = aws_sdk_iam::Client::new(&conf);
        iam.list_roles().send().await.unwrap();
        let err = iam.list_roles().send().await.unwrap_err();
        assert_eq!(err.code(), Some("Throttling"), "{err:?}");
    });
    assert_eq!(proxy.summary().throttled, 2);
}

#[test]
fn json_throttling_is_throttling_exception() {
    let (proxy, account) = proxy_with(|c| {
        c.limits
            .insert("dynamodb".into(), BucketLimit::new(1.0, 0.0));
        c.faults
            .push("ssm:ListDocuments=throttle@nth:1".parse().unwrap());
    });
    block_on(async {
        let conf = through(&proxy, &account).await;
        let ddb = aws_sdk_dynamodb::Client::new(&conf);
        ddb.list_tables().send().await.unwrap();
        let err = ddb.list_tables().send().await.unwrap_err();
        assert_eq!(err.code(), Some("ThrottlingException"), "{err:?}");
        assert_eq!(status(&err), 400);
        let ssm = aws_sdk_ssm::Client::new(&conf);
        let err = ssm.list_documents().send().await.unwrap_err();
        assert_eq!(err.code(), Some("ThrottlingException"), "{err:?}");
        ssm.list_documents()
            .send()
            .await
            .expect("second call passes");
    });
}

#[test]
fn rest_xml_throttling_is_slow_down_for_s3_and_throttling_for_route53() {
    let (proxy, account) = proxy_with(|c| {
        c.faults
            .push("s3:ListBuckets=throttle@nth:1".parse().unwrap());
        c.faults
            .push("route53:ListHostedZones=throttle@nth:1".parse().unwrap());
    });
    block_on(async {
        let conf = through(&proxy, &account).await;
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&conf)
                .force_path_style(true)
                .build(),
        );
        let err = s3.list_buckets().send().await.unwrap_err();
        assert_eq!(err.code(), Some("SlowDown"), "{err:?}");
        s3.list_buckets().send().await.expect("second call passes");
        let r53 = aws_sdk_route53::Client::new(&conf);
        let err = r53.list_hosted_zones().send().await.unwrap_err();
        assert_eq!(err.code(), Some("Throttling"), "{err:?}");
        r53.list_hosted_zones().send().await.expect("second call");
    });
    let summary = proxy.summary();
    assert_eq!(summary.operations["s3:ListBuckets"].requests, 2);
    assert_eq!(summary.operations["route53:ListHostedZones"].faults, 1);
}

#[test]
fn http_faults_carry_the_injected_code_in_every_protocol() {
    let (proxy, account) = proxy_with(|c| {
        for spec in [
            "ec2:DescribeVpcs=http500:InternalError@nth:1",
            "autoscaling:*=http500:InternalFailure@nth:1",
            "dynamodb:ListTables=http503:ServiceUnavailable@nth:1",
        ] {
            c.faults.push(spec.parse().unwrap());
        }
    });
    block_on(async {
        let conf = through(&proxy, &account).await;
        let err = aws_sdk_ec2::Client::new(&conf)
            .describe_vpcs()
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("InternalError"), "{err:?}");
        assert_eq!(status(&err), 500);
        let err = aws_sdk_autoscaling::Client::new(&conf)
            .describe_auto_scaling_groups()
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("InternalFailure"), "{err:?}");
        assert_eq!(status(&err), 500);
        let err = aws_sdk_dynamodb::Client::new(&conf)
            .list_tables()
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("ServiceUnavailable"), "{err:?}");
        assert_eq!(status(&err), 503);
    });
    let summary = proxy.summary();
    assert_eq!(summary.faults, 3);
    assert_eq!(summary.fault_kinds["http500:InternalError"], 1);
}

#[test]
fn a_fault_hits_exactly_the_nth_matching_request() {
    let (proxy, account) = proxy_with(fault("ec2:DescribeVpcs=http500:InternalError@nth:3"));
    let outcomes = block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&through(&proxy, &account).await);
        let mut outcomes = Vec::new();
        // DescribeSubnets does not match and must not move the count.
        for op in [
            "vpcs", "subnets", "vpcs", "subnets", "vpcs", "vpcs", "subnets",
        ] {
            let failed = match op {
                "vpcs" => ec2.describe_vpcs().send().await.is_err(),
                _ => ec2.describe_subnets().send().await.is_err(),
            };
            outcomes.push((op, failed));
        }
        outcomes
    });
    let failed: Vec<usize> = outcomes
        .iter()
        .enumerate()
        .filter(|(_, (_, failed))| *failed)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(failed, vec![4], "{outcomes:?}");
}

#[test]
fn a_reset_fault_is_a_transport_failure_and_the_request_never_arrives() {
    let (proxy, account) = proxy_with(fault("ec2:CreateVpc=reset@nth:1"));
    block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&through(&proxy, &account).await);
        let err = ec2
            .create_vpc()
            .cidr_block("10.10.0.0/16")
            .send()
            .await
            .unwrap_err();
        assert!(
            matches!(err, SdkError::DispatchFailure(_)),
            "a reset is a dispatch failure: {err:?}"
        );
        let vpcs = ec2.describe_vpcs().send().await.unwrap().vpcs.unwrap();
        assert!(
            vpcs.iter()
                .all(|v| v.cidr_block.as_deref() != Some("10.10.0.0/16")),
            "the reset request must not have reached moto"
        );
        ec2.create_vpc()
            .cidr_block("10.10.0.0/16")
            .send()
            .await
            .expect("the next attempt goes through");
    });
    assert_eq!(proxy.summary().fault_kinds["reset"], 1);
}

#[test]
fn a_slow_answer_exceeds_the_client_timeout_but_the_request_was_executed() {
    let (proxy, account) = proxy_with(fault("ec2:CreateVpc=slow:3000@nth:1"));
    block_on(async {
        let conf = through(&proxy, &account)
            .await
            .into_builder()
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_attempt_timeout(Duration::from_millis(500))
                    .build(),
            )
            .build();
        let ec2 = aws_sdk_ec2::Client::new(&conf);
        let err = ec2
            .create_vpc()
            .cidr_block("10.20.0.0/16")
            .send()
            .await
            .unwrap_err();
        assert!(
            matches!(err, SdkError::TimeoutError(_)),
            "expected a timeout: {err:?}"
        );
        let vpcs = ec2.describe_vpcs().send().await.unwrap().vpcs.unwrap();
        assert!(
            vpcs.iter()
                .any(|v| v.cidr_block.as_deref() == Some("10.20.0.0/16")),
            "the upstream acted on the request the client gave up on"
        );
    });
}

#[test]
fn headers_reach_moto_unchanged() {
    // moto keys state by x-moto-account-id when present: a VPC created through the proxy
    // with that header must exist in that account when asked directly.
    let other_account = "444455556666";
    let (proxy, account) = proxy_with(|_| {});
    block_on(async {
        let conf = through(&proxy, &account).await;
        aws_sdk_ec2::Client::new(&conf)
            .create_vpc()
            .cidr_block("10.30.0.0/16")
            .customize()
            .mutate_request(move |req| {
                req.headers_mut().insert("x-moto-account-id", other_account);
            })
            .send()
            .await
            .unwrap();
        let direct = aws_sdk_ec2::Client::new(&account.sdk_config().await);
        let vpcs_of = |id: &'static str| {
            direct
                .describe_vpcs()
                .customize()
                .mutate_request(move |req| {
                    req.headers_mut().insert("x-moto-account-id", id);
                })
                .send()
        };
        let has_it = |vpcs: Vec<aws_sdk_ec2::types::Vpc>| {
            vpcs.iter()
                .any(|v| v.cidr_block.as_deref() == Some("10.30.0.0/16"))
        };
        let vpcs = vpcs_of(other_account).await.unwrap().vpcs.unwrap();
        assert!(has_it(vpcs), "created in the account the header named");
        let own = direct.describe_vpcs().send().await.unwrap().vpcs.unwrap();
        assert!(!has_it(own), "not in the account of the credentials");
    });
}

/// Equal counts; the float total only to within JSON's decimal round trip (serde_json's
/// default float parsing may land one ulp away).
fn assert_same_summary(a: &Summary, b: &Summary) {
    assert!((a.upstream_ms_total - b.upstream_ms_total).abs() < 1e-6);
    let zeroed = |s: &Summary| Summary {
        upstream_ms_total: 0.0,
        ..s.clone()
    };
    assert_eq!(zeroed(a), zeroed(b));
}

fn http(proxy: &Proxy, method: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(proxy.addr()).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        proxy.addr()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn every_request_is_logged_and_summarized_and_reset_starts_over() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("requests.jsonl");
    let summary_file = dir.path().join("summary.json");
    let (proxy, account) = proxy_with(|c| {
        c.log = Some(log.clone());
        c.summary = Some(summary_file.clone());
        c.latency_ms = 5;
        c.jitter_ms = 5;
        c.seed = Some(7);
        c.limits
            .insert("ec2:DescribeVpcs".into(), BucketLimit::new(1.0, 0.0));
        c.faults.push(FaultRule {
            matches: "iam:*".into(),
            fault: Fault::Http {
                status: 500,
                code: Some("Boom".into()),
            },
            trigger: Trigger::Nth(1),
        });
    });
    block_on(async {
        let conf = through(&proxy, &account).await;
        let ec2 = aws_sdk_ec2::Client::new(&conf);
        ec2.describe_vpcs().send().await.unwrap();
        ec2.describe_vpcs().send().await.unwrap_err();
        ec2.describe_subnets().send().await.unwrap();
        aws_sdk_iam::Client::new(&conf)
            .list_roles()
            .send()
            .await
            .unwrap_err();
    });

    let records: Vec<LogRecord> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let seen: Vec<(String, u16, Outcome)> = records
        .iter()
        .map(|r| {
            (
                format!("{}:{}", r.service, r.operation),
                r.status,
                r.outcome,
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("ec2:DescribeVpcs".to_string(), 200, Outcome::Forwarded),
            ("ec2:DescribeVpcs".to_string(), 503, Outcome::Throttled),
            ("ec2:DescribeSubnets".to_string(), 200, Outcome::Forwarded),
            ("iam:ListRoles".to_string(), 500, Outcome::Fault),
        ]
    );
    assert_eq!(records[1].bucket.as_deref(), Some("limit"));
    assert_eq!(records[3].fault.as_deref(), Some("http500:Boom"));
    assert!(records[0].upstream_ms.is_some() && records[1].upstream_ms.is_none());

    let (code, body) = http(&proxy, "GET", "/__proxy/summary");
    assert_eq!(code, 200);
    let over_http: Summary = serde_json::from_str(&body).unwrap();
    assert_same_summary(&over_http, &proxy.summary());
    assert_eq!(over_http.requests, 4);
    assert_eq!(over_http.forwarded, 2);
    assert_eq!(over_http.throttled, 1);
    assert_eq!(over_http.faults, 1);

    let (code, _) = http(&proxy, "POST", "/__proxy/reset");
    assert_eq!(code, 200);
    assert_eq!(proxy.summary(), Summary::default());
    block_on(async {
        let conf = through(&proxy, &account).await;
        // Buckets are full again and fault counting restarted.
        aws_sdk_ec2::Client::new(&conf)
            .describe_vpcs()
            .send()
            .await
            .expect("bucket refilled by reset");
        let err = aws_sdk_iam::Client::new(&conf)
            .list_roles()
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("Boom"));
    });
    assert_eq!(http(&proxy, "GET", "/__proxy/nothing").0, 404);

    let last = proxy.shutdown();
    let written: Summary =
        serde_json::from_str(&std::fs::read_to_string(&summary_file).unwrap()).unwrap();
    assert_same_summary(&written, &last);
    assert_eq!(written.requests, 2);
}
