//! Account and environment bootstrap against moto: `app-conf update` (and, as they are
//! built, the other commands of issue 21). Effects are checked through the S3 API.
//!
//! S3 bucket names are global in moto, so every test renames the example's project and so
//! gets a credential bucket of its own (`us-west-2.<project>.credentials.demo`).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use asiaq_testkit::{AwsAccount, Moto};

use crate::identity_common::*;
use crate::support::{expect, text};

/// A copy of the example configuration with project `project`; returns it and the demo
/// environment's credential bucket.
fn config_for(project: &str) -> (tempfile::TempDir, String) {
    let config = example_config();
    let ini = config.path().join("disco_aws.ini");
    let t = std::fs::read_to_string(&ini).unwrap();
    std::fs::write(
        &ini,
        t.replace("project_name=example", &format!("project_name={project}")),
    )
    .unwrap();
    (config, format!("us-west-2.{project}.credentials.demo"))
}

fn s3(account: &AwsAccount) -> aws_sdk_s3::Client {
    let conf = runtime().block_on(account.sdk_config());
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(true)
            .build(),
    )
}

/// The environment "demo" (a VPC tagged Name=demo, type=sandbox) and, with `bucket`, its
/// credential bucket.
fn demo_environment(account: &AwsAccount, bucket: Option<&str>) {
    let conf = runtime().block_on(account.sdk_config());
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let s3 = s3(account);
    runtime().block_on(async {
        let vpc = ec2
            .create_vpc()
            .cidr_block("10.102.0.0/16")
            .send()
            .await
            .unwrap();
        let id = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
        let tag = |k: &str, v: &str| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build();
        ec2.create_tags()
            .resources(id)
            .tags(tag("Name", "demo"))
            .tags(tag("type", "sandbox"))
            .send()
            .await
            .unwrap();
        if let Some(bucket) = bucket {
            s3.create_bucket()
                .bucket(bucket)
                .create_bucket_configuration(
                    aws_sdk_s3::types::CreateBucketConfiguration::builder()
                        .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::UsWest2)
                        .build(),
                )
                .send()
                .await
                .unwrap();
        }
    });
}

/// Every object of `bucket` under `prefix` with its content.
fn objects(account: &AwsAccount, bucket: &str, prefix: &str) -> BTreeMap<String, String> {
    let s3 = s3(account);
    runtime().block_on(async {
        let list = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .send()
            .await
            .unwrap();
        let mut out = BTreeMap::new();
        for o in list.contents() {
            let key = o.key().unwrap().to_string();
            let got = s3
                .get_object()
                .bucket(bucket)
                .key(&key)
                .send()
                .await
                .unwrap();
            let body = got.body.collect().await.unwrap().into_bytes();
            out.insert(key, String::from_utf8_lossy(&body).into_owned());
        }
        out
    })
}

fn put(account: &AwsAccount, bucket: &str, key: &str, body: &str) {
    let s3 = s3(account);
    runtime().block_on(async {
        s3.put_object()
            .bucket(bucket)
            .key(key)
            .body(body.as_bytes().to_vec().into())
            .send()
            .await
            .unwrap();
    });
}

fn app_conf(account: &AwsAccount, config: &Path, extra: &[&str]) -> Command {
    let mut c = asiaq(account, config);
    c.args(["--env", "demo", "app-conf", "update"]).args(extra);
    c
}

/// The example's app_conf/demo tree as the bucket should hold it.
fn expected_app_conf(config: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for rel in ["myapp/settings.ini", "nginx.conf"] {
        out.insert(
            format!("app_conf/{rel}"),
            std::fs::read_to_string(config.join("app_conf/demo").join(rel)).unwrap(),
        );
    }
    out
}

#[test]
fn app_conf_update_uploads_what_differs_and_deletes_with_delete() {
    let account = Moto::shared().new_account();
    let (config, bucket) = config_for("bootconf1");
    let cfg = config.path();
    demo_environment(&account, Some(&bucket));
    // Something that is not app_conf stays whatever happens.
    put(&account, &bucket, "app_auth/myapp/admin", "keep");

    // Dry run: the plan, no mutating call.
    let (out, calls) = with_stats(&mut app_conf(&account, cfg, &["--dry-run"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(mutating(&calls).is_empty(), "{calls:?}");
    let plan = text(&out.stdout);
    assert!(
        plan.contains("+ upload app_conf/myapp/settings.ini"),
        "{plan}"
    );
    assert!(plan.contains("+ upload app_conf/nginx.conf"), "{plan}");
    assert!(
        plan.contains("Plan: 2 to create, 0 to change, 0 to delete."),
        "{plan}"
    );
    insta::assert_snapshot!("app_conf_update_dry_run", plan);
    assert!(objects(&account, &bucket, "app_conf/").is_empty());

    // The update: every file at app_conf/<relative path>, encrypted at rest.
    let out = succeed(&mut app_conf(&account, cfg, &[]));
    assert!(out.contains("2 uploaded, 0 deleted, 0 unchanged"), "{out}");
    assert_eq!(
        objects(&account, &bucket, "app_conf/"),
        expected_app_conf(cfg)
    );

    // A second run makes no mutating call.
    let (out, calls) = with_stats(&mut app_conf(&account, cfg, &[]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(mutating(&calls).is_empty(), "{calls:?}");
    assert!(text(&out.stdout).contains("0 uploaded, 0 deleted, 2 unchanged"));

    // One file changed, one object without a file: only the change is uploaded; the stray
    // object stays without --delete and goes with it.
    std::fs::write(cfg.join("app_conf/demo/nginx.conf"), "changed\n").unwrap();
    put(&account, &bucket, "app_conf/stale.conf", "old");
    let plan = succeed(&mut app_conf(&account, cfg, &["--dry-run", "--delete"]));
    assert!(
        plan.contains("~ upload app_conf/nginx.conf (content differs)"),
        "{plan}"
    );
    assert!(plan.contains("- delete app_conf/stale.conf"), "{plan}");
    assert!(
        plan.contains("Plan: 0 to create, 1 to change, 1 to delete."),
        "{plan}"
    );
    let json: serde_json::Value = serde_json::from_str(&succeed(asiaq(&account, cfg).args([
        "--env",
        "demo",
        "--output",
        "json",
        "app-conf",
        "update",
        "--dry-run",
        "--delete",
    ])))
    .unwrap();
    assert_eq!(json["schema"], "asiaq.plan/1", "{json}");

    let (out, calls) = with_stats(&mut app_conf(&account, cfg, &[]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(calls.get("s3:PutObject"), Some(&1), "{calls:?}");
    assert_eq!(calls.get("s3:DeleteObject"), None, "{calls:?}");
    assert!(objects(&account, &bucket, "app_conf/").contains_key("app_conf/stale.conf"));

    let json: serde_json::Value = serde_json::from_str(&succeed(asiaq(&account, cfg).args([
        "--env", "demo", "--output", "json", "app-conf", "update", "--delete",
    ])))
    .unwrap();
    assert_eq!(
        json["deleted"],
        serde_json::json!(["app_conf/stale.conf"]),
        "{json}"
    );
    assert_eq!(
        objects(&account, &bucket, "app_conf/"),
        expected_app_conf(cfg)
    );
    assert_eq!(
        objects(&account, &bucket, "app_auth/")
            .get("app_auth/myapp/admin")
            .map(String::as_str),
        Some("keep")
    );
}

#[test]
fn app_conf_update_refuses_bad_input_before_any_mutating_call() {
    let account = Moto::shared().new_account();
    let (config, bucket) = config_for("bootconf2");
    let cfg = config.path();
    demo_environment(&account, Some(&bucket));

    // No app_conf/<env> directory: exit 2 before any AWS call.
    let (out, calls) =
        with_stats(asiaq(&account, cfg).args(["--env", "nosuch", "app-conf", "update"]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(calls.is_empty(), "{calls:?}");
    assert!(text(&out.stderr).contains("no application configuration for environment nosuch"));

    // An environment whose type has no credential buckets: exit 2, nothing written.
    let vpc_ini = cfg.join("disco_vpc.ini");
    let t = std::fs::read_to_string(&vpc_ini).unwrap();
    std::fs::write(&vpc_ini, t.replace("credential_buckets=demo\n", "")).unwrap();
    let (out, calls) = with_stats(&mut app_conf(&account, cfg, &[]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(mutating(&calls).is_empty(), "{calls:?}");
    assert!(
        text(&out.stderr).contains("has no credential_buckets"),
        "{}",
        text(&out.stderr)
    );
    std::fs::write(&vpc_ini, t).unwrap();

    // An environment that does not exist (no VPC): exit 2.
    std::fs::create_dir_all(cfg.join("app_conf/ghost")).unwrap();
    std::fs::write(cfg.join("app_conf/ghost/a.conf"), "a").unwrap();
    let (out, calls) =
        with_stats(asiaq(&account, cfg).args(["--env", "ghost", "app-conf", "update"]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(mutating(&calls).is_empty(), "{calls:?}");
    assert!(objects(&account, &bucket, "app_conf/").is_empty());
}

#[test]
fn app_conf_update_resumes_after_a_failure_at_any_step() {
    let account = Moto::shared().new_account();
    let (config, bucket) = config_for("bootconf3");
    let cfg = config.path();
    demo_environment(&account, Some(&bucket));
    put(&account, &bucket, "app_conf/stale.conf", "old");
    // Three mutating calls: two uploads and one delete.
    for n in 1..=3 {
        let fault = format!("mutating:{n}");
        let out = expect(
            app_conf(&account, cfg, &["--delete"]).env("ASIAQ_INJECT_FAULT", &fault),
            1,
        );
        assert!(
            text(&out.stderr).contains("injected"),
            "{fault}: {}",
            text(&out.stderr)
        );
        succeed(&mut app_conf(&account, cfg, &["--delete"]));
        assert_eq!(
            objects(&account, &bucket, "app_conf/"),
            expected_app_conf(cfg),
            "{fault}"
        );
        let (_, calls) = with_stats(&mut app_conf(&account, cfg, &["--delete"]));
        assert!(mutating(&calls).is_empty(), "{fault}: {calls:?}");
        put(&account, &bucket, "app_conf/stale.conf", "old");
        put(&account, &bucket, "app_conf/nginx.conf", "drifted");
        put(&account, &bucket, "app_conf/myapp/settings.ini", "drifted");
    }
}

// --- account cloudtrail ----------------------------------------------------------------------

/// A request mutator that sends CloudTrail's long `X-Amz-Target` (moto_server answers the
/// SDK's short form with HTTP 404; see `asiaq_aws::cloudtrail`).
macro_rules! long_target {
    () => {
        |req| {
            let long = req
                .headers()
                .get("x-amz-target")
                .map(|t| format!("com.amazonaws.cloudtrail.v20131101.{t}"));
            if let Some(long) = long {
                req.headers_mut().insert("x-amz-target", long);
            }
        }
    };
}

fn cloudtrail_client(account: &AwsAccount) -> aws_sdk_cloudtrail::Client {
    aws_sdk_cloudtrail::Client::new(&runtime().block_on(account.sdk_config()))
}

/// The trail `Default`: its bucket and whether it logs.
fn trail(account: &AwsAccount) -> Option<(String, bool)> {
    let ct = cloudtrail_client(account);
    runtime().block_on(async {
        let out = ct
            .describe_trails()
            .customize()
            .mutate_request(long_target!())
            .send()
            .await
            .unwrap();
        let t = out
            .trail_list()
            .iter()
            .find(|t| t.name() == Some("Default"))?;
        let status = ct
            .get_trail_status()
            .name("Default")
            .customize()
            .mutate_request(long_target!())
            .send()
            .await
            .unwrap();
        Some((
            t.s3_bucket_name().unwrap().to_string(),
            status.is_logging().unwrap(),
        ))
    })
}

fn cloudtrail(account: &AwsAccount, config: &Path, extra: &[&str]) -> Command {
    let mut c = asiaq(account, config);
    c.args(["account", "cloudtrail", "--account", "123456789012"])
        .args(extra);
    c
}

/// The account's audit bucket with the example's policy for it (`buckets update` would
/// make it, with every other bucket of the account; but one of those has a fixed name, and
/// bucket names are global in moto); returns its name. Without the bucket's own policy
/// file, it gets `default.iam`, as `buckets update` would give it.
fn audit_bucket(account: &AwsAccount, config: &Path, project: &str) -> String {
    let name = format!("us-west-2.{project}.s3audit.123456789012");
    let dir = config.join("iam/s3/123456789012");
    let own = dir.join("REGION.PROJECT.s3audit.123456789012.iam");
    let file = if own.exists() {
        own
    } else {
        dir.join("default.iam")
    };
    let policy = std::fs::read_to_string(file)
        .unwrap()
        .replace("$BUCKET_NAME", &name)
        .replace("$ACCOUNT", "123456789012");
    let s3 = s3(account);
    runtime().block_on(async {
        s3.create_bucket()
            .bucket(&name)
            .create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::UsWest2)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        s3.put_bucket_policy()
            .bucket(&name)
            .policy(policy)
            .send()
            .await
            .unwrap();
    });
    name
}

#[test]
fn account_cloudtrail_creates_the_trail_on_the_audit_bucket_and_starts_it() {
    let account = Moto::shared().new_account();
    let (config, _) = config_for("boottrail1");
    let cfg = config.path();
    let audit = audit_bucket(&account, cfg, "boottrail1");

    let (out, calls) = with_stats(&mut cloudtrail(&account, cfg, &["--dry-run"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(mutating(&calls).is_empty(), "{calls:?}");
    let plan = text(&out.stdout);
    assert!(
        plan.contains(&format!("+ create trail Default logging to s3://{audit}")),
        "{plan}"
    );
    assert!(plan.contains("~ trail Default: start logging"), "{plan}");
    assert!(
        plan.contains("Plan: 1 to create, 1 to change, 0 to delete."),
        "{plan}"
    );
    insta::assert_snapshot!("account_cloudtrail_dry_run", plan);
    assert_eq!(trail(&account), None);

    let out = succeed(&mut cloudtrail(&account, cfg, &[]));
    assert!(
        out.contains(&format!("trail Default logs to s3://{audit}")),
        "{out}"
    );
    assert_eq!(trail(&account), Some((audit.clone(), true)));
    let ct = cloudtrail_client(&account);
    let tagged = runtime().block_on(async {
        let arn = ct
            .describe_trails()
            .customize()
            .mutate_request(long_target!())
            .send()
            .await
            .unwrap()
            .trail_list()[0]
            .trail_arn()
            .unwrap()
            .to_string();
        let tags = ct
            .list_tags()
            .resource_id_list(arn)
            .customize()
            .mutate_request(long_target!())
            .send()
            .await
            .unwrap();
        tags.resource_tag_list()[0]
            .tags_list()
            .iter()
            .any(|t| t.key() == "managed-by" && t.value() == Some("asiaq"))
    });
    assert!(tagged);

    // Idempotent: the second run makes no mutating call.
    let (out, calls) = with_stats(&mut cloudtrail(&account, cfg, &[]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(mutating(&calls).is_empty(), "{calls:?}");
    assert!(text(&out.stdout).contains("already logs"));
    let json: serde_json::Value = serde_json::from_str(&succeed(asiaq(&account, cfg).args([
        "--output",
        "json",
        "account",
        "cloudtrail",
        "--account",
        "123456789012",
    ])))
    .unwrap();
    assert_eq!(json["bucket"], audit.as_str(), "{json}");
    assert_eq!(json["changes"], serde_json::json!([]), "{json}");

    // Stopped logging is started again.
    runtime().block_on(async {
        ct.stop_logging()
            .name("Default")
            .customize()
            .mutate_request(long_target!())
            .send()
            .await
            .unwrap();
    });
    let (_, calls) = with_stats(&mut cloudtrail(&account, cfg, &[]));
    assert_eq!(
        mutating(&calls),
        ["cloudtrail:StartLogging x1"],
        "{calls:?}"
    );
    assert_eq!(trail(&account), Some((audit, true)));
}

#[test]
fn account_cloudtrail_checks_the_bucket_and_its_policy_before_creating_the_trail() {
    let account = Moto::shared().new_account();
    let (config, _) = config_for("boottrail2");
    let cfg = config.path();

    // An unknown account directory: exit 2 before any call.
    let (out, calls) =
        with_stats(asiaq(&account, cfg).args(["account", "cloudtrail", "--account", "nosuch"]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(calls.is_empty(), "{calls:?}");
    assert!(
        text(&out.stderr).contains("iam/s3/nosuch"),
        "{}",
        text(&out.stderr)
    );

    // No audit bucket yet: exit 1, said so, no trail.
    let (out, calls) = with_stats(&mut cloudtrail(&account, cfg, &[]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(mutating(&calls).is_empty(), "{calls:?}");
    let err = text(&out.stderr);
    assert!(
        err.contains("the audit bucket us-west-2.boottrail2.s3audit.123456789012 does not exist"),
        "{err}"
    );

    // A bucket whose policy does not let CloudTrail write: exit 1, said so, no trail.
    std::fs::remove_file(cfg.join("iam/s3/123456789012/REGION.PROJECT.s3audit.123456789012.iam"))
        .unwrap();
    audit_bucket(&account, cfg, "boottrail2");
    let (out, calls) = with_stats(&mut cloudtrail(&account, cfg, &[]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(mutating(&calls).is_empty(), "{calls:?}");
    let err = text(&out.stderr);
    assert!(
        err.contains("does not let cloudtrail.amazonaws.com read its ACL"),
        "{err}"
    );
    assert_eq!(trail(&account), None);
}

#[test]
fn account_cloudtrail_resumes_after_a_failure_at_any_step() {
    let account = Moto::shared().new_account();
    let (config, _) = config_for("boottrail3");
    let cfg = config.path();
    let audit = audit_bucket(&account, cfg, "boottrail3");
    // Two mutating calls: CreateTrail, then StartLogging.
    for n in 1..=2 {
        let fault = format!("mutating:{n}");
        let out = expect(
            cloudtrail(&account, cfg, &[]).env("ASIAQ_INJECT_FAULT", &fault),
            1,
        );
        assert!(
            text(&out.stderr).contains("injected"),
            "{fault}: {}",
            text(&out.stderr)
        );
        succeed(&mut cloudtrail(&account, cfg, &[]));
        assert_eq!(trail(&account), Some((audit.clone(), true)), "{fault}");
        let (_, calls) = with_stats(&mut cloudtrail(&account, cfg, &[]));
        assert!(mutating(&calls).is_empty(), "{fault}: {calls:?}");
        let ct = cloudtrail_client(&account);
        runtime().block_on(async {
            ct.delete_trail()
                .name("Default")
                .customize()
                .mutate_request(long_target!())
                .send()
                .await
                .unwrap();
        });
    }
}

// --- keys rotate -----------------------------------------------------------------------------

/// The example with project `project` and the keys `bake test` for demo (so that the bake
/// key, the EC2 key pair, is one of them); its demo environment and credential bucket.
fn keys_world(account: &AwsAccount, project: &str) -> (tempfile::TempDir, String) {
    let (config, bucket) = config_for(project);
    let ini = config.path().join("disco_aws.ini");
    let t = std::fs::read_to_string(&ini).unwrap();
    std::fs::write(
        &ini,
        t.replace("[keys]\n", "[keys]\nssh_keys@demo=bake test\n"),
    )
    .unwrap();
    demo_environment(account, Some(&bucket));
    (config, bucket)
}

fn keys(account: &AwsAccount, config: &Path, extra: &[&str]) -> Command {
    let mut c = asiaq(account, config);
    c.args(["--env", "demo", "keys", "rotate"]).args(extra);
    c
}

/// The fingerprint of EC2 key pair `name`, if it exists.
fn key_pair(account: &AwsAccount, name: &str) -> Option<String> {
    let ec2 = aws_sdk_ec2::Client::new(&runtime().block_on(account.sdk_config()));
    runtime().block_on(async {
        let out = ec2.describe_key_pairs().send().await.unwrap();
        out.key_pairs()
            .iter()
            .find(|k| k.key_name() == Some(name))
            .map(|k| k.key_fingerprint().unwrap_or_default().to_string())
    })
}

/// The public key `ssh-keygen -y` derives from a private key (type and material).
fn public_of(private: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k");
    std::fs::write(&path, private).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let out = Command::new("ssh-keygen")
        .arg("-y")
        .arg("-f")
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    first_two(&text(&out.stdout))
}

fn first_two(public: &str) -> String {
    public
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Each key's (private, public) in the bucket.
fn key_objects(account: &AwsAccount, bucket: &str) -> BTreeMap<String, (String, String)> {
    let private = objects(account, bucket, "private_keys/ssh/");
    let public = objects(account, bucket, "public_keys/ssh/");
    let mut out = BTreeMap::new();
    for (k, v) in private {
        let name = k
            .trim_start_matches("private_keys/ssh/")
            .trim_end_matches(".key")
            .to_string();
        let p = public
            .get(&format!("public_keys/ssh/{name}.pub"))
            .cloned()
            .unwrap_or_default();
        out.insert(name, (v, p));
    }
    out
}

#[test]
fn keys_rotate_stores_both_halves_imports_bake_and_never_shows_a_private_key() {
    let account = Moto::shared().new_account();
    let (config, bucket) = keys_world(&account, "bootkeys1");
    let cfg = config.path();

    let (out, calls) = with_stats(&mut keys(&account, cfg, &["--dry-run"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(mutating(&calls).is_empty(), "{calls:?}");
    let plan = text(&out.stdout);
    assert!(
        plan.contains("-/+ new key bake: private_keys/ssh/bake.key, public_keys/ssh/bake.pub, EC2 key pair bake"),
        "{plan}"
    );
    assert!(
        plan.contains("-/+ new key test: private_keys/ssh/test.key, public_keys/ssh/test.pub\n"),
        "{plan}"
    );
    assert!(key_objects(&account, &bucket).is_empty());

    let out = expect(
        asiaq(&account, cfg).args(["--debug", "--env", "demo", "keys", "rotate"]),
        0,
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    let first = key_objects(&account, &bucket);
    assert_eq!(first.keys().collect::<Vec<_>>(), ["bake", "test"]);
    for (name, (private, public)) in &first {
        assert!(private.contains("PRIVATE KEY"), "{name}");
        assert_eq!(
            public_of(private),
            first_two(public),
            "{name}: the halves match"
        );
        assert!(
            public.trim_end().ends_with(&format!("{name}@demo")),
            "{public}"
        );
        // No line of the private key's material in any output.
        for line in private.lines().filter(|l| !l.starts_with("-----")) {
            assert!(
                !stdout.contains(line) && !stderr.contains(line),
                "{name}: private key in the output"
            );
        }
    }
    assert!(!stdout.contains("PRIVATE KEY") && !stderr.contains("PRIVATE KEY"));
    assert!(stdout.contains("rotated: new key bake"), "{stdout}");
    let pair = key_pair(&account, "bake").expect("EC2 key pair bake");

    // --only: one key; the bake key pair follows its new public key.
    succeed(&mut keys(&account, cfg, &["--only", "bake"]));
    let second = key_objects(&account, &bucket);
    assert_eq!(second["test"], first["test"]);
    assert_ne!(second["bake"], first["bake"]);
    assert_eq!(public_of(&second["bake"].0), first_two(&second["bake"].1));
    assert_ne!(key_pair(&account, "bake").unwrap(), pair);

    // Bad input: exit 2 before any call.
    let (out, calls) = with_stats(&mut keys(&account, cfg, &["--only", "nosuch"]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(calls.is_empty(), "{calls:?}");
    let ini = cfg.join("disco_aws.ini");
    let t = std::fs::read_to_string(&ini).unwrap();
    std::fs::write(
        &ini,
        t.replace("ssh_keys@demo=bake test", "ssh_keys@demo=bad/name"),
    )
    .unwrap();
    let (out, calls) = with_stats(&mut keys(&account, cfg, &[]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(calls.is_empty(), "{calls:?}");
    std::fs::write(&ini, &t).unwrap();
    let vpc_ini = cfg.join("disco_vpc.ini");
    let v = std::fs::read_to_string(&vpc_ini).unwrap();
    std::fs::write(&vpc_ini, v.replace("credential_buckets=demo\n", "")).unwrap();
    let (out, calls) = with_stats(&mut keys(&account, cfg, &[]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(mutating(&calls).is_empty(), "{calls:?}");
    assert_eq!(key_objects(&account, &bucket), second);
}

#[test]
fn keys_rotate_leaves_each_key_rotated_or_untouched_after_a_failure_at_any_step() {
    let account = Moto::shared().new_account();
    let (config, bucket) = keys_world(&account, "bootkeys2");
    let cfg = config.path();
    succeed(&mut keys(&account, cfg, &[]));
    // Six mutating calls: bake's two objects, its key pair deleted and imported, then
    // test's two objects.
    for n in 1..=6 {
        let fault = format!("mutating:{n}");
        let before = key_objects(&account, &bucket);
        let pair_before = key_pair(&account, "bake").unwrap();
        let out = expect(
            keys(&account, cfg, &[]).env("ASIAQ_INJECT_FAULT", &fault),
            1,
        );
        let err = text(&out.stderr);
        assert!(err.contains("injected"), "{fault}: {err}");
        assert!(!err.contains("PARTLY"), "{fault}: {err}");
        let after = key_objects(&account, &bucket);
        for (name, (private, public)) in &after {
            assert_eq!(
                public_of(private),
                first_two(public),
                "{fault}: {name} is whole"
            );
            let rotated = after[name] != before[name];
            if name == "bake" {
                let pair = key_pair(&account, "bake").expect("the key pair is there");
                assert_eq!(
                    pair != pair_before,
                    rotated,
                    "{fault}: bake's pair follows its objects"
                );
                // bake fails on calls 1-4: untouched; after, rotated.
                assert_eq!(rotated, n > 4, "{fault}: {err}");
            } else {
                assert!(!rotated, "{fault}: {name} fails or is not started");
            }
        }
        if n <= 4 {
            assert!(err.contains("key bake is untouched"), "{fault}: {err}");
        } else {
            assert!(
                err.contains("key test is untouched") && err.contains("rotated: bake"),
                "{fault}: {err}"
            );
        }
        succeed(&mut keys(&account, cfg, &[]));
        let done = key_objects(&account, &bucket);
        assert!(
            done.iter().all(|(n, v)| *v != after[n]),
            "{fault}: a re-run rotates every key"
        );
    }
}

// --- account init ----------------------------------------------------------------------------

/// The example configuration for `account init` with project `project`: its demo
/// environment has two SSH keys (bake and test), and the account's fixed-name bucket is left
/// out (bucket names are global in moto, and every test makes its own buckets). Returns it,
/// the demo credential bucket and the audit bucket.
fn init_world(project: &str) -> (tempfile::TempDir, String, String) {
    let (config, bucket) = config_for(project);
    let cfg = config.path();
    let ini = cfg.join("disco_aws.ini");
    let t = std::fs::read_to_string(&ini).unwrap();
    std::fs::write(
        &ini,
        t.replace("[keys]\n", "[keys]\nssh_keys@demo=bake test\n"),
    )
    .unwrap();
    std::fs::remove_file(
        cfg.join("iam/s3/123456789012/asiaq-example-data--ssm--sandbox.lifecycle"),
    )
    .unwrap();
    // moto serves plain HTTP and enforces bucket policies, and the example's policy of the
    // credential bucket denies insecure transport: an empty policy file of its own means none.
    std::fs::write(
        cfg.join("iam/s3/123456789012/REGION.PROJECT.credentials.demo.iam"),
        "",
    )
    .unwrap();
    let audit = format!("us-west-2.{project}.s3audit.123456789012");
    (config, bucket, audit)
}

fn init(account: &AwsAccount, config: &Path, extra: &[&str]) -> Command {
    let mut c = asiaq(account, config);
    c.args(["account", "init", "--account", "123456789012"])
        .args(extra);
    c
}

fn bucket_names(account: &AwsAccount) -> Vec<String> {
    let s3 = s3(account);
    runtime().block_on(async {
        let out = s3.list_buckets().send().await.unwrap();
        out.buckets()
            .iter()
            .filter_map(|b| b.name().map(str::to_string))
            .collect()
    })
}

fn iam_groups(account: &AwsAccount) -> Vec<String> {
    let iam = aws_sdk_iam::Client::new(&runtime().block_on(account.sdk_config()));
    runtime().block_on(async {
        let out = iam.list_groups().send().await.unwrap();
        out.groups()
            .iter()
            .map(|g| g.group_name().to_string())
            .collect()
    })
}

#[test]
fn account_init_sets_up_the_account_and_its_environment_then_changes_nothing() {
    let account = Moto::shared().new_account();
    let (config, bucket, audit) = init_world("bootinit1");
    let cfg = config.path();
    demo_environment(&account, None);

    // The dry run plans every step, the environment's on a bucket not made yet, and
    // changes nothing.
    let (out, calls) = with_stats(&mut init(&account, cfg, &["--dry-run"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(mutating(&calls).is_empty(), "{calls:?}");
    let plan = text(&out.stdout);
    for (i, step) in [
        "buckets update --account 123456789012",
        "account cloudtrail --account 123456789012",
        "iam update --environment demo",
        "--env demo app-auth update",
        "--env demo keys rotate",
        "--env demo app-conf update",
    ]
    .iter()
    .enumerate()
    {
        assert!(
            plan.contains(&format!("[{}/6] asiaq {step}\n", i + 1)),
            "{step}: {plan}"
        );
    }
    assert!(
        plan.contains(&format!("+ create bucket {bucket}")),
        "{plan}"
    );
    assert!(
        plan.contains(&format!("+ create trail Default logging to s3://{audit}")),
        "{plan}"
    );
    assert!(plan.contains("write app_auth/"), "{plan}");
    assert!(plan.contains("new key bake"), "{plan}");
    assert!(plan.contains("+ upload app_conf/nginx.conf"), "{plan}");
    assert!(
        plan.trim_end()
            .lines()
            .last()
            .unwrap()
            .starts_with("Plan: "),
        "{plan}"
    );
    assert!(bucket_names(&account).is_empty());

    // The same plan as the one JSON document every dry run writes.
    let out = expect(
        init(&account, cfg, &["--dry-run"]).args(["--output", "json"]),
        0,
    );
    let doc: asiaq_core::plan::render::PlanDocument = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc.schema, "asiaq.plan/1");
    assert_eq!(doc.command, "account init");
    assert!(doc.summary.create > 0);
    // Every stage's first steps wait for the stage before it.
    let upload = doc
        .steps
        .steps
        .iter()
        .find(|s| s.description.starts_with("upload app_conf/"))
        .unwrap();
    assert!(!upload.after.is_empty());

    // The run: every effect through the API, and no private key in the output.
    let out = expect(&mut init(&account, cfg, &[]), 0);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(stdout.contains("account init: done ("), "{stdout}");
    for shown in [&stdout, &stderr] {
        assert!(!shown.contains("PRIVATE KEY"), "{shown}");
    }
    let names = bucket_names(&account);
    assert!(
        names.contains(&bucket) && names.contains(&audit),
        "{names:?}"
    );
    assert_eq!(trail(&account), Some((audit.clone(), true)));
    assert!(!iam_groups(&account).is_empty());
    assert_eq!(
        objects(&account, &bucket, "app_conf/"),
        expected_app_conf(cfg)
    );
    let keys = key_objects(&account, &bucket);
    assert_eq!(keys.keys().collect::<Vec<_>>(), vec!["bake", "test"]);
    for (name, (private, public)) in &keys {
        assert!(!stdout.contains(private.trim()), "{name}");
        assert_eq!(public_of(private), first_two(public), "{name}");
    }
    assert!(key_pair(&account, "bake").is_some());
    assert!(!objects(&account, &bucket, "app_auth/").is_empty());

    // A second run changes nothing: no mutating call, the same keys, and says so.
    let (out, calls) = with_stats(&mut init(&account, cfg, &[]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(mutating(&calls).is_empty(), "{calls:?}");
    assert!(
        text(&out.stdout).ends_with("account init: nothing to change\n"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(key_objects(&account, &bucket), keys);
    let plan = succeed(&mut init(&account, cfg, &["--dry-run"]));
    assert!(plan.ends_with("No changes.\n"), "{plan}");

    // --rotate-keys makes every key anew, and only the keys change.
    let (out, calls) = with_stats(&mut init(&account, cfg, &["--rotate-keys"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        mutating(&calls)
            .iter()
            .all(|c| c.contains("PutObject") || c.contains("KeyPair")),
        "{calls:?}"
    );
    let rotated = key_objects(&account, &bucket);
    assert!(rotated.iter().all(|(n, k)| keys[n] != *k));
}

#[test]
fn account_init_refuses_bad_input_before_any_change() {
    let account = Moto::shared().new_account();
    let (config, _, _) = init_world("bootinit2");
    let cfg = config.path();
    demo_environment(&account, None);

    let refused = |cmd: &mut Command, says: &str| {
        let (out, calls) = with_stats(cmd);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        assert!(mutating(&calls).is_empty(), "{calls:?}");
        assert!(
            text(&out.stderr).contains(says),
            "{says}: {}",
            text(&out.stderr)
        );
    };
    // An account without a directory, and no AWS call at all.
    let (out, calls) =
        with_stats(asiaq(&account, cfg).args(["account", "init", "--account", "999999999999"]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(calls.is_empty(), "{calls:?}");
    assert!(text(&out.stderr).contains("iam/s3/999999999999"));
    refused(
        &mut init(&account, cfg, &["--iam-environment", "prod"]),
        "no iam/group_membership/prod/",
    );
    refused(
        asiaq(&account, cfg).args(["--env", "ghost"]).args([
            "account",
            "init",
            "--account",
            "123456789012",
        ]),
        "environment ghost does not exist",
    );
    // The environment asked for has no app_conf/demo (found rather than asked for, it
    // would be a step with nothing to do).
    std::fs::rename(cfg.join("app_conf/demo"), cfg.join("app_conf/elsewhere")).unwrap();
    refused(
        asiaq(&account, cfg).args(["--env", "demo"]).args([
            "account",
            "init",
            "--account",
            "123456789012",
        ]),
        "no application configuration for environment demo",
    );
    let plan = succeed(&mut init(&account, cfg, &["--dry-run"]));
    assert!(!plan.contains("upload app_conf/"), "{plan}");
    std::fs::rename(cfg.join("app_conf/elsewhere"), cfg.join("app_conf/demo")).unwrap();
    // Its environment type has no credential buckets: asked for by name, an error.
    let vpc_ini = cfg.join("disco_vpc.ini");
    let t = std::fs::read_to_string(&vpc_ini).unwrap();
    std::fs::write(&vpc_ini, t.replace("credential_buckets=demo\n", "")).unwrap();
    refused(
        asiaq(&account, cfg).args(["--env", "demo"]).args([
            "account",
            "init",
            "--account",
            "123456789012",
        ]),
        "has no credential_buckets",
    );
    std::fs::write(&vpc_ini, t).unwrap();
    // A broken bucket file of the account.
    std::fs::write(
        cfg.join("iam/s3/123456789012/default.versioning"),
        "{not json",
    )
    .unwrap();
    refused(&mut init(&account, cfg, &[]), "default.versioning");
    assert!(bucket_names(&account).is_empty());
}

#[test]
fn account_init_is_finished_by_running_it_again_after_a_failure_at_any_step() {
    // The mutating calls of a whole run, counted once.
    let count = {
        let account = Moto::shared().new_account();
        let (config, _, _) = init_world("bootinit30");
        demo_environment(&account, None);
        let (out, calls) = with_stats(&mut init(&account, config.path(), &[]));
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let ops = &calls;
        ops.iter()
            .filter(|(op, _)| !mutating(&BTreeMap::from([((*op).clone(), 1)])).is_empty())
            .map(|(_, n)| *n)
            .sum::<u64>()
    };
    assert!(count > 10, "{count}");
    for (i, n) in [1, count / 4, count / 2, 3 * count / 4, count]
        .into_iter()
        .enumerate()
    {
        let account = Moto::shared().new_account();
        let project = format!("bootinit3{}", i + 1);
        let (config, bucket, audit) = init_world(&project);
        let cfg = config.path();
        demo_environment(&account, None);
        let fault = format!("mutating:{n}");
        let out = expect(
            init(&account, cfg, &[]).env("ASIAQ_INJECT_FAULT", &fault),
            1,
        );
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("account init stopped at `asiaq "),
            "{fault}: {stderr}"
        );
        succeed(&mut init(&account, cfg, &[]));
        let (out, calls) = with_stats(&mut init(&account, cfg, &[]));
        assert_eq!(out.status.code(), Some(0), "{fault}: {}", text(&out.stderr));
        assert!(mutating(&calls).is_empty(), "{fault}: {calls:?}");
        assert_eq!(trail(&account), Some((audit, true)), "{fault}");
        assert_eq!(
            objects(&account, &bucket, "app_conf/"),
            expected_app_conf(cfg),
            "{fault}"
        );
        assert_eq!(key_objects(&account, &bucket).len(), 2, "{fault}");
    }
}
