//! `asiaq buckets update` against moto on examples/sandbox/iam/s3/123456789012.

use asiaq_testkit::{AwsAccount, Moto};

use crate::identity_common::*;
use crate::support::{expect, text};

const ACCOUNT_DIR: &str = "123456789012";
const AUDIT: &str = "us-west-2.example.s3audit.123456789012";
const DEMO: &str = "us-west-2.example.credentials.demo";

/// The example configuration with its project renamed: S3 bucket names are global (in moto
/// too, across accounts), so tests that create the example's buckets at the same time need
/// names of their own. `names` are the example's bucket names with the project replaced.
fn config_with_project(project: &str, names: &[&str]) -> (tempfile::TempDir, Vec<String>) {
    let config = example_config();
    let ini = config.path().join("disco_aws.ini");
    let text = std::fs::read_to_string(&ini).unwrap();
    std::fs::write(
        &ini,
        text.replace("project_name=example", &format!("project_name={project}")),
    )
    .unwrap();
    let names = names
        .iter()
        .map(|n| n.replace(".example.", &format!(".{project}.")))
        .collect();
    (config, names)
}

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
    c.args(["buckets", "update", "--account", ACCOUNT_DIR])
        .args(extra);
    c
}

/// Whether versioning is on, seen from its effect: an object written twice keeps both
/// versions. (moto answers GetBucketVersioning with a root element the SDK rejects.) The
/// bucket's policy is removed first: it denies plain HTTP, which is all moto serves.
async fn keeps_versions(s3: &aws_sdk_s3::Client, bucket: &str) -> bool {
    s3.delete_bucket_policy()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    for body in ["one", "two"] {
        s3.put_object()
            .bucket(bucket)
            .key("versioning-probe")
            .body(body.as_bytes().to_vec().into())
            .send()
            .await
            .unwrap();
    }
    let listed = s3
        .list_object_versions()
        .bucket(bucket)
        .prefix("versioning-probe")
        .send()
        .await
        .unwrap();
    listed.versions().len() == 2
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
    let (config, names) = config_with_project(
        "configured",
        &[
            AUDIT,
            DEMO,
            "us-west-2.example.credentials.build",
            "us-west-2.example.credentials.production",
        ],
    );
    let cfg = config.path();
    let (audit, demo, build, production) = (&names[0], &names[1], &names[2], &names[3]);

    let (out, calls) = with_stats(&mut update(&account, cfg, &["--dry-run"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(mutating(&calls), Vec::<String>::new());
    let plan = text(&out.stdout);
    // The audit bucket comes first, and its ACL comes before any logging into it.
    assert!(plan.starts_with(&format!("{audit} create\n")), "{plan}");
    let position = |line: &str| plan.find(line).unwrap_or_else(|| panic!("{line}: {plan}"));
    assert!(
        position(&format!("{audit} put ACL")) < position(&format!("{demo} put access logging")),
        "{plan}"
    );
    assert!(
        position(&format!("{demo} put access logging"))
            < position(&format!("{demo} put bucket policy")),
        "{plan}"
    );
    assert!(
        plan.contains(&format!("{demo} put bucket policy")),
        "{plan}"
    );
    assert!(buckets(&account).is_empty());

    succeed(&mut update(&account, cfg, &[]));
    let mut names = buckets(&account);
    names.sort();
    assert_eq!(
        names,
        vec![
            "asiaq-example-data--ssm--sandbox",
            build.as_str(),
            demo.as_str(),
            production.as_str(),
            audit.as_str(),
        ]
    );
    let s3 = s3(&account);
    runtime().block_on(async {
        // Own policy file, with $BUCKET_NAME and $ACCOUNT substituted.
        let policy = s3.get_bucket_policy().bucket(demo).send().await.unwrap();
        let policy: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
        assert_eq!(
            policy["Statement"][1]["Principal"]["AWS"],
            "arn:aws:iam::123456789012:role/instance_example_common"
        );
        assert_eq!(
            policy["Statement"][0]["Resource"][0],
            format!("arn:aws:s3:::{demo}")
        );
        // default.iam for a bucket without its own.
        let policy = s3.get_bucket_policy().bucket(build).send().await.unwrap();
        assert!(policy
            .policy()
            .unwrap()
            .contains(&format!("arn:aws:s3:::{build}/*")));
        let lifecycle = s3
            .get_bucket_lifecycle_configuration()
            .bucket(audit)
            .send()
            .await
            .unwrap();
        assert_eq!(lifecycle.rules()[0].id(), Some("expire_access_logs"));
        assert_eq!(lifecycle.rules()[0].expiration().unwrap().days(), Some(365));
        assert!(keeps_versions(&s3, demo).await);
        let logging = s3.get_bucket_logging().bucket(demo).send().await.unwrap();
        let enabled = logging.logging_enabled().unwrap();
        assert_eq!(enabled.target_bucket(), audit);
        assert_eq!(enabled.target_prefix(), format!("S3/{demo}/"));
        let acl = s3.get_bucket_acl().bucket(audit).send().await.unwrap();
        let log_delivery: Vec<&str> = acl
            .grants()
            .iter()
            .filter(|g| {
                g.grantee().and_then(|g| g.uri())
                    == Some("http://acs.amazonaws.com/groups/s3/LogDelivery")
            })
            .filter_map(|g| g.permission().map(|p| p.as_str()))
            .collect();
        assert!(
            log_delivery.contains(&"WRITE") && log_delivery.contains(&"READ_ACP"),
            "{log_delivery:?}"
        );
        let tags = s3.get_bucket_tagging().bucket(demo).send().await.unwrap();
        assert!(tags
            .tag_set()
            .iter()
            .any(|t| t.key() == "managed-by" && t.value() == "asiaq"));
    });

    // Running it again creates nothing and leaves logging that is already right alone.
    let (out, calls) = with_stats(&mut update(&account, cfg, &[]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!calls.contains_key("s3:CreateBucket"), "{calls:?}");
    assert!(!calls.contains_key("s3:PutBucketLogging"), "{calls:?}");
    // The check of versioning above removed demo's policy; running once more puts it back,
    // and then no setting is put again that a bucket already has: no mutating call at all.
    assert_eq!(mutating(&calls), vec!["s3:PutBucketPolicy x1".to_string()]);
    let (_, calls) = with_stats(&mut update(&account, cfg, &[]));
    assert_eq!(mutating(&calls), Vec::<String>::new());
    let plan = succeed(&mut update(&account, cfg, &["--dry-run"]));
    assert!(plan.ends_with("No changes.\n"), "{plan}");
}

#[test]
fn an_interrupted_update_is_finished_by_running_it_again() {
    let account = Moto::shared().new_account();
    let (config, names) = config_with_project("resumed", &[AUDIT]);
    let cfg = config.path();
    let audit = names[0].clone();
    // The one bucket whose name has no project in it is left out: the test above makes it.
    std::fs::remove_file(
        cfg.join("iam/s3")
            .join(ACCOUNT_DIR)
            .join("asiaq-example-data--ssm--sandbox.lifecycle"),
    )
    .unwrap();
    // The 4th change fails: some buckets exist, none is fully configured.
    let out = expect(
        update(&account, cfg, &[]).env("ASIAQ_INJECT_FAULT", "mutating:4"),
        1,
    );
    assert!(
        text(&out.stderr).contains("injected"),
        "{}",
        text(&out.stderr)
    );
    let before = buckets(&account).len();
    assert!((1..4).contains(&before), "{before} buckets after the fault");

    succeed(&mut update(&account, cfg, &[]));
    let all = buckets(&account);
    assert_eq!(all.len(), 4, "{all:?}");
    let s3 = s3(&account);
    runtime().block_on(async {
        for bucket in &all {
            let logging = s3.get_bucket_logging().bucket(bucket).send().await.unwrap();
            assert_eq!(
                logging.logging_enabled().map(|l| l.target_bucket()),
                Some(audit.as_str()),
                "{bucket}"
            );
            assert!(keeps_versions(&s3, bucket).await, "{bucket}");
        }
    });
}

#[test]
fn bad_bucket_files_fail_before_any_change() {
    let account = Moto::shared().new_account();
    let config = example_config();
    let dir = config.path().join("iam/s3").join(ACCOUNT_DIR);
    std::fs::write(dir.join("default.versioning"), r#"{"Status": "Sometimes"}"#).unwrap();
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
    let out = expect(&mut update(&account, config.path(), &[]), 2);
    assert!(text(&out.stderr).contains("2 *s3audit*.lifecycle files"));
    let out = expect(
        asiaq(&account, config.path()).args(["buckets", "update", "--account", "nosuch"]),
        2,
    );
    assert!(text(&out.stderr).contains("iam/s3/nosuch"));
}

/// `iam/s3/123456789012/` of `tests/fixtures/config-compat`, a directory the original's
/// bucket script accepted: an empty file of a bucket's own means none of that setting, with
/// no fallback to `default.*` (the audit bucket does not log into itself, the credentials
/// bucket gets no lifecycle), and a policy with trailing commas is sent as canonical JSON.
#[test]
fn empty_files_opt_out_of_defaults_and_trailing_commas_are_dropped() {
    let account = Moto::shared().new_account();
    let config = tempfile::tempdir().unwrap();
    copy_dir(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config-compat"),
        config.path(),
    );
    let audit = "us-west-2.compat.s3audit.123456789012";
    let ci = "us-west-2.compat.credentials.ci";

    let (out, calls) = with_stats(&mut update(&account, config.path(), &[]));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.lines().any(|l| l.starts_with("warning: ")
            && l.ends_with("REGION.PROJECT.credentials.ci.iam:8: trailing comma (AWS rejects it; the document is sent without)")),
        "{stderr}"
    );
    assert!(
        stdout.contains(&format!(
            "note: {audit}: no access logging (REGION.PROJECT.s3audit.123456789012.logging is empty)"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "note: {ci}: no lifecycle rules (REGION.PROJECT.credentials.ci.lifecycle is empty)"
        )),
        "{stdout}"
    );
    // Logging only for the credentials bucket; lifecycle only for the audit bucket.
    assert_eq!(calls.get("s3:PutBucketLogging"), Some(&1), "{calls:?}");
    assert_eq!(
        calls.get("s3:PutBucketLifecycleConfiguration"),
        Some(&1),
        "{calls:?}"
    );
    let s3 = s3(&account);
    runtime().block_on(async {
        let logging = s3.get_bucket_logging().bucket(audit).send().await.unwrap();
        assert_eq!(logging.logging_enabled(), None);
        let logging = s3.get_bucket_logging().bucket(ci).send().await.unwrap();
        assert_eq!(
            logging.logging_enabled().map(|l| l.target_bucket()),
            Some(audit)
        );
        assert!(s3
            .get_bucket_lifecycle_configuration()
            .bucket(ci)
            .send()
            .await
            .is_err());
        let policy = s3.get_bucket_policy().bucket(ci).send().await.unwrap();
        let policy: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
        assert_eq!(
            policy["Statement"][0]["Action"],
            serde_json::json!(["s3:GetObject", "s3:ListBucket"])
        );
        assert_eq!(
            policy["Statement"][0]["Resource"][1],
            format!("arn:aws:s3:::{ci}/*")
        );
    });
}
