//! `asiaq buckets update` against moto on examples/sandbox/iam/s3/123456789012.

mod common;

use asiaq_testkit::{AwsAccount, Moto};
use common::*;

const ACCOUNT_DIR: &str = "123456789012";
const AUDIT: &str = "us-west-2.example.s3audit.123456789012";
const DEMO: &str = "us-west-2.example.credentials.demo";

fn s3(account: &AwsAccount) -> aws_sdk_s3::Client {
    let conf = runtime().block_on(account.sdk_config());
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(true)
            .build(),
    )
}

fn update(account: &AwsAccount, config: &std::path::Path, extra: &[&str]) -> std::process::Command {
    let mut c = asiaq(account, config);
    c.args(["buckets", "update", "--account", ACCOUNT_DIR]).args(extra);
    c
}

fn buckets(account: &AwsAccount) -> Vec<String> {
    let s3 = s3(account);
    runtime().block_on(async {
        s3.list_buckets()
            .send()
            .await
            .unwrap()
            .buckets()
            .iter()
            .filter_map(|b| b.name().map(str::to_string))
            .collect()
    })
}

#[test]
fn update_creates_and_configures_the_example_buckets() {
    let account = Moto::shared().new_account();
    let config = example_config();
    let cfg = config.path();

    let (out, calls) = with_stats(&mut update(&account, cfg, &["--dry-run"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(mutating(&calls), Vec::<String>::new());
    let plan = text(&out.stdout);
    assert!(plan.starts_with(&format!("{AUDIT} create\n{AUDIT} put ACL")), "{plan}");
    assert!(plan.contains(&format!("{DEMO} put bucket policy")), "{plan}");
    assert!(buckets(&account).is_empty());

    succeed(&mut update(&account, cfg, &[]));
    let mut names = buckets(&account);
    names.sort();
    assert_eq!(
        names,
        vec![
            "asiaq-example-data--ssm--sandbox",
            "us-west-2.example.credentials.build",
            DEMO,
            "us-west-2.example.credentials.production",
            AUDIT,
        ]
    );
    let s3 = s3(&account);
    runtime().block_on(async {
        // Own policy file, with $BUCKET_NAME and $ACCOUNT substituted.
        let policy = s3.get_bucket_policy().bucket(DEMO).send().await.unwrap();
        let policy: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
        assert_eq!(
            policy["Statement"][1]["Principal"]["AWS"],
            "arn:aws:iam::123456789012:role/instance_example_common"
        );
        assert_eq!(
            policy["Statement"][0]["Resource"][0],
            format!("arn:aws:s3:::{DEMO}")
        );
        // default.iam for a bucket without its own.
        let policy = s3
            .get_bucket_policy()
            .bucket("us-west-2.example.credentials.build")
            .send()
            .await
            .unwrap();
        assert!(policy
            .policy()
            .unwrap()
            .contains("arn:aws:s3:::us-west-2.example.credentials.build/*"));
        let lifecycle = s3
            .get_bucket_lifecycle_configuration()
            .bucket(AUDIT)
            .send()
            .await
            .unwrap();
        assert_eq!(lifecycle.rules()[0].id(), Some("expire_access_logs"));
        assert_eq!(lifecycle.rules()[0].expiration().unwrap().days(), Some(365));
        let versioning = s3.get_bucket_versioning().bucket(DEMO).send().await.unwrap();
        assert_eq!(versioning.status().map(|s| s.as_str()), Some("Enabled"));
        let logging = s3.get_bucket_logging().bucket(DEMO).send().await.unwrap();
        let enabled = logging.logging_enabled().unwrap();
        assert_eq!(enabled.target_bucket(), AUDIT);
        assert_eq!(enabled.target_prefix(), format!("S3/{DEMO}/"));
        let acl = s3.get_bucket_acl().bucket(AUDIT).send().await.unwrap();
        let log_delivery: Vec<&str> = acl
            .grants()
            .iter()
            .filter(|g| g.grantee().and_then(|g| g.uri()) == Some("http://acs.amazonaws.com/groups/s3/LogDelivery"))
            .filter_map(|g| g.permission().map(|p| p.as_str()))
            .collect();
        assert!(log_delivery.contains(&"WRITE") && log_delivery.contains(&"READ_ACP"), "{log_delivery:?}");
        let tags = s3.get_bucket_tagging().bucket(DEMO).send().await.unwrap();
        assert!(tags.tag_set().iter().any(|t| t.key() == "managed-by" && t.value() == "asiaq"));
    });

    // Running it again only re-applies the same settings: nothing is created.
    let (out, calls) = with_stats(&mut update(&account, cfg, &[]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!calls.contains_key("s3:CreateBucket"), "{calls:?}");
}

#[test]
fn bad_bucket_files_fail_before_any_change() {
    let account = Moto::shared().new_account();
    let config = example_config();
    let dir = config.path().join("iam/s3").join(ACCOUNT_DIR);
    std::fs::write(
        dir.join("default.versioning"),
        r#"{"Status": "Sometimes"}"#,
    )
    .unwrap();
    let (out, calls) = with_stats(&mut update(&account, config.path(), &[]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("default.versioning: Status \"Sometimes\" is not one of"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(mutating(&calls), Vec::<String>::new());
    assert!(buckets(&account).is_empty());

    // A second audit lifecycle file is refused too.
    std::fs::write(dir.join("default.versioning"), r#"{"Status": "Enabled"}"#).unwrap();
    std::fs::write(dir.join("other.s3audit.lifecycle"), r#"{"Rules": []}"#).unwrap();
    let out = expect_code(&mut update(&account, config.path(), &[]), 2);
    assert!(text(&out.stderr).contains("2 *s3audit*.lifecycle files"));
    let out = expect_code(
        asiaq(&account, config.path()).args(["buckets", "update", "--account", "nosuch"]),
        2,
    );
    assert!(text(&out.stderr).contains("iam/s3/nosuch"));
}
