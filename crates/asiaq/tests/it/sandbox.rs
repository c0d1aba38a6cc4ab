//! `asiaq sandbox` against moto: the files synced to the bucket, the environment created
//! with type sandbox, the pipeline spun up; a re-run that changes nothing; a failed spinup
//! finished by a re-run; bad input stopped before any change; `--destroy`.

use crate::hosts_support::*;
use aws_sdk_ec2::types::Filter;

/// The sandbox `bob`: two hostclasses, a synced file, a bucket of its own.
fn sandbox_world(w: &World, bucket: &str) {
    for hc in ["mhcntp", "mhcapp"] {
        w.create_ami(hc, 1_700_000_000, "tested");
    }
    let dir = w.config_path().join("sandboxes/bob");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("pipeline.csv"),
        "sequence,hostclass,min_size,desired_size,max_size,instance_type,smoke_test\n\
         1,mhcntp,1,1,1,t2.micro,no\n\
         2,mhcapp,1,1,1,t2.small,no\n",
    )
    .unwrap();
    std::fs::write(dir.join("zk_blacklist"), "mhcworker\n").unwrap();
    w.set_aws_option("disco_aws", &format!("sandbox_config_bucket={bucket}"));
    w.set_aws_option(
        "disco_aws",
        "sandbox_sync_config=zk_blacklist zookeeper-sync-black-lists",
    );
    let s3 = w.s3();
    w.rt.block_on(
        s3.create_bucket()
            .bucket(bucket)
            .create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::UsWest2)
                    .build(),
            )
            .send(),
    )
    .unwrap();
}

/// `(vpc id, tags)` of the VPCs named `name`.
fn vpcs_named(w: &World, name: &str) -> Vec<(String, Vec<(String, String)>)> {
    let ec2 = w.ec2();
    let out =
        w.rt.block_on(
            ec2.describe_vpcs()
                .filters(Filter::builder().name("tag:Name").values(name).build())
                .send(),
        )
        .unwrap();
    out.vpcs()
        .iter()
        .map(|v| {
            (
                v.vpc_id().unwrap().to_string(),
                v.tags()
                    .iter()
                    .map(|t| {
                        (
                            t.key().unwrap_or_default().to_string(),
                            t.value().unwrap_or_default().to_string(),
                        )
                    })
                    .collect(),
            )
        })
        .collect()
}

fn object(w: &World, bucket: &str, key: &str) -> Option<String> {
    let s3 = w.s3();
    w.rt.block_on(async {
        let o = s3.get_object().bucket(bucket).key(key).send().await.ok()?;
        let bytes = o.body.collect().await.ok()?.into_bytes();
        Some(String::from_utf8_lossy(&bytes).to_string())
    })
}

/// Replaces `from` by `to` in the copied disco_aws.ini.
fn edit_aws_ini(w: &World, from: &str, to: &str) {
    let path = w.config_path().join("disco_aws.ini");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{from:?} not in disco_aws.ini");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

fn bob_groups(w: &World) -> Vec<String> {
    let mut names: Vec<String> = w
        .groups()
        .iter()
        .filter_map(|g| g.auto_scaling_group_name().map(str::to_string))
        .filter(|n| n.starts_with("bob_"))
        .collect();
    names.sort();
    names
}

#[test]
fn sandbox_syncs_creates_spins_up_reruns_clean_and_destroys() {
    let w = World::new();
    let bucket = format!("asiaq-sandbox-test-{}", std::process::id());
    sandbox_world(&w, &bucket);
    let key = "zookeeper-sync-black-lists/bob";

    // The dry run: one plan of the whole sequence; nothing changes.
    let dry = w.ok(&["sandbox", "bob", "--dry-run"]);
    assert!(
        dry.contains(&format!("upload {key} in s3://{bucket}")),
        "{dry}"
    );
    assert!(dry.contains("create VPC"), "{dry}");
    assert!(
        dry.contains(
            "spin up sandboxes/bob/pipeline.csv (mhcapp, mhcntp), planned in full once the environment exists"
        ),
        "{dry}"
    );
    assert!(
        dry.trim_end().lines().last().unwrap().starts_with("Plan: "),
        "{dry}"
    );
    let json = w.ok(&["sandbox", "bob", "--dry-run", "--output", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["command"], "sandbox");
    assert!(vpcs_named(&w, "bob").is_empty());
    assert_eq!(object(&w, &bucket, key), None);

    // The run: file synced, environment of type sandbox with its productline, groups up.
    let out = w.ok(&["sandbox", "bob"]);
    assert!(
        out.contains(&format!("synced s3://{bucket}/{key}")),
        "{out}"
    );
    assert!(out.contains("created environment bob (vpc-"), "{out}");
    assert_eq!(object(&w, &bucket, key).as_deref(), Some("mhcworker\n"));
    let vpcs = vpcs_named(&w, "bob");
    assert_eq!(vpcs.len(), 1);
    let tags = &vpcs[0].1;
    assert!(
        tags.contains(&("type".into(), "sandbox".into())),
        "{tags:?}"
    );
    assert!(
        tags.contains(&("productline".into(), "platform".into())),
        "{tags:?}"
    );
    let groups = bob_groups(&w);
    assert_eq!(groups.len(), 2, "{groups:?}");
    assert!(groups[0].starts_with("bob_mhcapp_") && groups[1].starts_with("bob_mhcntp_"));

    // A second run: everything is as asked; the groups are left as they are.
    let again = w.run(&["sandbox", "bob", "--dry-run"]);
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(text(&again.stdout).trim(), "No changes.");
    assert!(
        text(&again.stderr).contains("note: mhcapp: group bob_mhcapp_")
            && text(&again.stderr).contains("exists and is left as it is"),
        "{}",
        text(&again.stderr)
    );
    let templates = w.launch_templates().len();
    let stats_file = w.config_path().join("sandbox-stats.json");
    let run = w
        .asiaq()
        .args(["sandbox", "bob"])
        .env("ASIAQ_API_STATS", &stats_file)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let out = text(&run.stdout);
    assert!(out.contains("updated environment bob (vpc-"), "{out}");
    // Only reads: no call changed anything.
    let stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats_file).unwrap()).unwrap();
    let ops: Vec<&String> = stats["operations"].as_object().unwrap().keys().collect();
    assert!(!ops.is_empty());
    for op in ops {
        let name = op.split(':').nth(1).unwrap_or(op);
        assert!(
            ["Describe", "List", "Get", "Head"]
                .iter()
                .any(|p| name.starts_with(p)),
            "a second run called {op}"
        );
    }
    assert!(out.contains(": 0 change(s)"), "{out}");
    assert!(!out.contains("synced"), "{out}");
    assert_eq!(vpcs_named(&w, "bob").len(), 1);
    assert_eq!(bob_groups(&w), groups);
    assert_eq!(w.launch_templates().len(), templates);

    // A changed file is uploaded again.
    std::fs::write(
        w.config_path().join("sandboxes/bob/zk_blacklist"),
        "mhcweb\n",
    )
    .unwrap();
    let dry = w.ok(&["sandbox", "bob", "--dry-run"]);
    assert!(
        dry.contains(&format!("upload {key} (content differs) in s3://{bucket}")),
        "{dry}"
    );

    // --destroy asks first; without a terminal or --yes, nothing happens.
    let out = w.run(&["sandbox", "bob", "--destroy"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--yes"), "{}", text(&out.stderr));
    assert_eq!(vpcs_named(&w, "bob").len(), 1);
    let dry = w.ok(&["sandbox", "bob", "--destroy", "--dry-run"]);
    assert!(
        dry.contains(&format!("delete {key} in s3://{bucket}")),
        "{dry}"
    );
    w.ok(&["sandbox", "bob", "--destroy", "--yes"]);
    assert!(vpcs_named(&w, "bob").is_empty());
    assert!(bob_groups(&w).is_empty());
    assert_eq!(object(&w, &bucket, key), None);
    // Again: nothing left to do.
    let dry = w.ok(&["sandbox", "bob", "--destroy", "--dry-run"]);
    assert_eq!(dry.trim(), "No changes.");
    w.ok(&["sandbox", "bob", "--destroy", "--yes"]);
}

#[test]
fn a_failed_spinup_leaves_the_environment_and_a_rerun_finishes() {
    let w = World::new();
    let bucket = format!("asiaq-sandbox-rerun-{}", std::process::id());
    sandbox_world(&w, &bucket);
    // The second group's creation fails (mhcapp, sequence 2).
    let out = w
        .asiaq()
        .args(["sandbox", "bob"])
        .env("ASIAQ_INJECT_FAULT", "CreateAutoScalingGroup:2")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("the environment stays; run `asiaq sandbox bob` again"),
        "{err}"
    );
    assert_eq!(vpcs_named(&w, "bob").len(), 1, "the environment stays");
    let groups = bob_groups(&w);
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert!(groups[0].starts_with("bob_mhcntp_"));
    // The re-run finds the environment and spins up what is missing.
    let out = w.ok(&["sandbox", "bob"]);
    assert!(out.contains("updated environment bob"), "{out}");
    let groups = bob_groups(&w);
    assert_eq!(groups.len(), 2, "{groups:?}");
    assert_eq!(vpcs_named(&w, "bob").len(), 1);
}

#[test]
fn sandbox_bad_input_changes_nothing() {
    let w = World::new();
    let bucket = format!("asiaq-sandbox-bad-{}", std::process::id());
    sandbox_world(&w, &bucket);
    let check = |args: &[&str], expect: &str| {
        let out = w.run(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(expect),
            "{args:?}: {}",
            text(&out.stderr)
        );
    };
    check(
        &["sandbox", "nosuch"],
        "sandboxes/nosuch: no such sandbox directory",
    );
    check(&["sandbox", "bad_name"], "is not allowed");
    check(
        &["sandbox", "other", "--config-dir", "../bob"],
        "is not a plain name",
    );
    check(
        &["--env", "ci", "sandbox", "bob"],
        "the sandbox's environment is its NAME",
    );
    // --config-dir: another name from bob's directory (its dry run works).
    let dry = w.ok(&["sandbox", "alice", "--config-dir", "bob", "--dry-run"]);
    assert!(dry.contains("zookeeper-sync-black-lists/alice"), "{dry}");
    let same = w.ok(&["sandbox", "alice", "--reference-name", "bob", "--dry-run"]);
    assert!(same.contains("zookeeper-sync-black-lists/alice"), "{same}");
    // A bad sync line, pointed at by its line.
    let good = "sandbox_sync_config=zk_blacklist zookeeper-sync-black-lists\n";
    let bad = "sandbox_sync_config=zk_blacklist\n";
    edit_aws_ini(&w, good, bad);
    let out = w.run(&["sandbox", "bob"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("disco_aws.ini:18: [disco_aws] sandbox_sync_config: \"zk_blacklist\" is not a sync line (expected LOCAL_FILE REMOTE_DIR"),
        "{err}"
    );
    assert!(vpcs_named(&w, "bob").is_empty());
    assert_eq!(object(&w, &bucket, "zookeeper-sync-black-lists/bob"), None);
    // An existing environment that is not a sandbox is refused.
    w.create_environment("staging", 120);
    let ec2 = w.ec2();
    let id = vpcs_named(&w, "staging")[0].0.clone();
    w.rt.block_on(
        ec2.create_tags()
            .resources(&id)
            .tags(tag("type", "production"))
            .send(),
    )
    .unwrap();
    std::fs::create_dir_all(w.config_path().join("sandboxes/staging")).unwrap();
    std::fs::copy(
        w.config_path().join("sandboxes/bob/pipeline.csv"),
        w.config_path().join("sandboxes/staging/pipeline.csv"),
    )
    .unwrap();
    std::fs::copy(
        w.config_path().join("sandboxes/bob/zk_blacklist"),
        w.config_path().join("sandboxes/staging/zk_blacklist"),
    )
    .unwrap();
    edit_aws_ini(&w, bad, good);
    for args in [
        &["sandbox", "staging", "--dry-run"][..],
        &["sandbox", "staging", "--destroy", "--yes"][..],
    ] {
        let out = w.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            text(&out.stderr).contains("exists and is of type production, not a sandbox"),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    assert_eq!(vpcs_named(&w, "staging").len(), 1);
}
