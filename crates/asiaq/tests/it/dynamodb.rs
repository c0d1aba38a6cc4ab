//! `asiaq dynamodb` against moto: tables (create, describe, update, delete, list) and native
//! backups (backup, list-backups, restore, pitr), their effects checked through the AWS API.
//!
//! moto quirks met here (see moto-notes): every table and index is `ACTIVE` at once, so the
//! waits return on their first poll; a table whose stream was ever on cannot have a stream
//! enabled again ("Cannot enable stream"), so no test changes a stream's view type;
//! `UpdateTable` with `AttributeDefinitions` replaces the whole list (asiaq sends the
//! table's with the new index's, which is right for AWS too).

use std::path::{Path, PathBuf};
use std::process::Command;

use asiaq_testkit::{AwsAccount, Moto};

use crate::identity_common::*;
use crate::support::{expect, text};

/// The example definition (examples/sandbox/dynamodb/notices.json): key `id`, provisioned
/// 5/5, index `by-recipient`, stream NEW_IMAGE, time to live on `expires`.
const NOTICES: &str = "dynamodb/notices.json";

/// A small on-demand table: key `id`, no index, no stream.
const PLAIN: &str = r#"{
  "TableName": "plain",
  "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
  "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
  "BillingMode": "PAY_PER_REQUEST"
}"#;

fn client(account: &AwsAccount) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&runtime().block_on(account.sdk_config()))
}

fn tables(account: &AwsAccount) -> Vec<String> {
    let c = client(account);
    runtime().block_on(async { c.list_tables().send().await.unwrap().table_names().to_vec() })
}

fn describe(account: &AwsAccount, name: &str) -> aws_sdk_dynamodb::types::TableDescription {
    let c = client(account);
    runtime().block_on(async {
        c.describe_table()
            .table_name(name)
            .send()
            .await
            .unwrap()
            .table()
            .unwrap()
            .clone()
    })
}

fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    path
}

fn ddb(account: &AwsAccount, config: &Path, args: &[&str]) -> Command {
    let mut c = asiaq(account, config);
    c.arg("dynamodb").args(args);
    c
}

/// Runs with a fault injected into the first mutating call: any mutating call fails the
/// command with exit 1, so exit 2 proves that none was made.
fn refused(account: &AwsAccount, config: &Path, args: &[&str]) -> String {
    let mut c = ddb(account, config, args);
    c.env("ASIAQ_INJECT_FAULT", "mutating:1");
    let (out, calls) = with_stats(&mut c);
    assert_eq!(
        out.status.code(),
        Some(2),
        "asiaq dynamodb {args:?}\nstdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(mutating(&calls), Vec::<String>::new(), "{args:?}");
    text(&out.stderr)
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_table_is_created_described_updated_listed_and_deleted() {
    let account = Moto::shared().new_account();
    let config = example_config();
    let cfg = config.path();

    // The example definition, found in the configuration directory; the environment is
    // the configuration's default_environment (demo).
    let plan = succeed(&mut ddb(
        &account,
        cfg,
        &["create", "--config", NOTICES, "--dry-run"],
    ));
    assert_eq!(
        plan,
        "DynamoDB table notices_demo\n  + create table notices_demo with 1 index(es)\n  ~ time to live: off -> on (expires)\nPlan: 1 to create, 1 to change, 0 to delete.\n"
    );
    assert!(tables(&account).is_empty());
    // Progress on (not a terminal: plain lines), to see what --wait waits for.
    let out = expect(
        ddb(&account, cfg, &["create", "--config", NOTICES, "--wait"]).env_remove("ASIAQ_QUIET"),
        0,
    );
    assert_eq!(text(&out.stdout), "created notices_demo (ACTIVE)\n");
    assert!(
        text(&out.stderr).contains("waiting for DynamoDB table notices_demo"),
        "{}",
        text(&out.stderr)
    );
    let t = describe(&account, "notices_demo");
    assert_eq!(t.key_schema()[0].attribute_name(), "id");
    assert_eq!(
        t.global_secondary_indexes()[0].index_name(),
        Some("by-recipient")
    );
    assert_eq!(
        t.provisioned_throughput().unwrap().read_capacity_units(),
        Some(5)
    );
    assert!(t.stream_specification().unwrap().stream_enabled());
    let c = client(&account);
    runtime().block_on(async {
        let ttl = c
            .describe_time_to_live()
            .table_name("notices_demo")
            .send()
            .await
            .unwrap();
        let ttl = ttl.time_to_live_description().unwrap();
        assert_eq!(ttl.attribute_name(), Some("expires"));
        let tags = c
            .list_tags_of_resource()
            .resource_arn(t.table_arn().unwrap())
            .send()
            .await
            .unwrap();
        let tags: Vec<(&str, &str)> = tags.tags().iter().map(|t| (t.key(), t.value())).collect();
        assert!(tags.contains(&("managed-by", "asiaq")), "{tags:?}");
        assert!(tags.contains(&("environment", "demo")), "{tags:?}");
        assert!(tags.contains(&("team", "messaging")), "{tags:?}");
    });
    // Creating it again is refused, naming the table.
    let out = expect(&mut ddb(&account, cfg, &["create", "--config", NOTICES]), 1);
    assert!(text(&out.stderr).contains("notices_demo already exists"));

    // Listings.
    let other = write(cfg, "plain.json", PLAIN);
    succeed(&mut ddb(
        &account,
        cfg,
        &["--env", "ci", "create", "--config", path_str(&other)],
    ));
    assert_eq!(
        succeed(&mut ddb(&account, cfg, &["list", "--header"])),
        "TABLE_NAME           ENV_NAME\nnotices              demo\nplain                ci\n"
    );
    assert_eq!(
        succeed(&mut ddb(&account, cfg, &["--env", "ci", "list"])),
        "plain                ci\n"
    );
    let json: serde_json::Value = serde_json::from_str(&succeed(&mut ddb(
        &account,
        cfg,
        &["list", "--output", "json"],
    )))
    .unwrap();
    assert_eq!(json[0]["name"], "notices_demo");
    assert_eq!(json[0]["environment"], "demo");
    let json: serde_json::Value = serde_json::from_str(&succeed(&mut ddb(
        &account,
        cfg,
        &["describe", "--table", "notices"],
    )))
    .unwrap();
    assert_eq!(json["TableName"], "notices_demo");
    assert_eq!(json["TimeToLive"]["TimeToLiveStatus"], "ENABLED");
    assert_eq!(
        json["GlobalSecondaryIndexes"][0]["IndexName"],
        "by-recipient"
    );
    let out = expect(
        &mut ddb(&account, cfg, &["describe", "--table", "missing"]),
        1,
    );
    assert!(text(&out.stderr).contains("there is no DynamoDB table missing_demo"));

    // The same file again changes nothing, without a mutating call.
    let update = ["update", "--table", "notices", "--config", NOTICES];
    let (out, calls) = with_stats(&mut ddb(&account, cfg, &update));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(mutating(&calls), Vec::<String>::new());
    assert_eq!(text(&out.stdout), "unchanged notices_demo (0 change(s))\n");

    // The original's sample update: the dry run shows the change and makes none.
    let capacity = "dynamodb/notices-capacity.json";
    let (out, calls) = with_stats(&mut ddb(
        &account,
        cfg,
        &[
            "update",
            "--table",
            "notices",
            "--config",
            capacity,
            "--dry-run",
        ],
    ));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(mutating(&calls), Vec::<String>::new());
    assert_eq!(
        text(&out.stdout),
        "DynamoDB table notices_demo\n  ~ capacity: PROVISIONED (read 5, write 5) -> PROVISIONED (read 23, write 19)\nPlan: 0 to create, 1 to change, 0 to delete.\n"
    );
    let doc: serde_json::Value = serde_json::from_str(&succeed(&mut ddb(
        &account,
        cfg,
        &[
            "update",
            "--table",
            "notices",
            "--config",
            capacity,
            "--dry-run",
            "--output",
            "json",
        ],
    )))
    .unwrap();
    assert_eq!(doc["schema"], "asiaq.plan/1");
    assert_eq!(doc["command"], "dynamodb update");
    assert_eq!(
        doc["steps"]["steps"][0]["action"]["action"],
        "UpdateCapacity"
    );
    assert_eq!(
        doc["steps"]["steps"][0]["change"]["after"],
        "PROVISIONED (read 23, write 19)"
    );
    let (out, calls) = with_stats(&mut ddb(
        &account,
        cfg,
        &[
            "update", "--table", "notices", "--config", capacity, "--wait",
        ],
    ));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(mutating(&calls), vec!["dynamodb:UpdateTable x1"]);
    let t = describe(&account, "notices_demo");
    assert_eq!(
        t.provisioned_throughput().unwrap().read_capacity_units(),
        Some(23)
    );
    assert_eq!(
        t.provisioned_throughput().unwrap().write_capacity_units(),
        Some(19)
    );

    // A second index, and the first one's capacity: one call each.
    let notices = std::fs::read_to_string(cfg.join(NOTICES)).unwrap();
    let two = notices
        .replace(
            "{\"AttributeName\": \"sent\", \"AttributeType\": \"N\"}",
            "{\"AttributeName\": \"sent\", \"AttributeType\": \"N\"},\n    {\"AttributeName\": \"day\", \"AttributeType\": \"S\"}",
        )
        .replace(
            "  \"GlobalSecondaryIndexes\": [\n",
            "  \"GlobalSecondaryIndexes\": [\n    {\"IndexName\": \"by-day\", \"KeySchema\": [{\"AttributeName\": \"day\", \"KeyType\": \"HASH\"}], \"Projection\": {\"ProjectionType\": \"ALL\"}, \"ProvisionedThroughput\": {\"ReadCapacityUnits\": 2, \"WriteCapacityUnits\": 2}},\n",
        )
        .replace(
            "\"Projection\": {\"ProjectionType\": \"KEYS_ONLY\"},\n      \"ProvisionedThroughput\": {\"ReadCapacityUnits\": 5, \"WriteCapacityUnits\": 5}",
            "\"Projection\": {\"ProjectionType\": \"KEYS_ONLY\"},\n      \"ProvisionedThroughput\": {\"ReadCapacityUnits\": 7, \"WriteCapacityUnits\": 7}",
        );
    let two = write(cfg, "two.json", &two);
    let update = ["update", "--table", "notices", "--config", path_str(&two)];
    let plan = succeed(&mut ddb(
        &account,
        cfg,
        &[&update[..], &["--dry-run"]].concat(),
    ));
    assert_eq!(
        plan,
        "DynamoDB table notices_demo\n  ~ capacity: PROVISIONED (read 23, write 19) -> PROVISIONED (read 5, write 5)\n  ~ capacity of index by-recipient: read 5, write 5 -> read 7, write 7\n  + create index by-day\nPlan: 1 to create, 2 to change, 0 to delete.\n"
    );
    let (out, calls) = with_stats(&mut ddb(&account, cfg, &update));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(mutating(&calls), vec!["dynamodb:UpdateTable x3"]);
    let t = describe(&account, "notices_demo");
    let mut indexes: Vec<&str> = t
        .global_secondary_indexes()
        .iter()
        .filter_map(|i| i.index_name())
        .collect();
    indexes.sort();
    assert_eq!(indexes, vec!["by-day", "by-recipient"]);
    let (_, calls) = with_stats(&mut ddb(&account, cfg, &update));
    assert_eq!(mutating(&calls), Vec::<String>::new());
    // Back to the example: the index goes again.
    succeed(&mut ddb(
        &account,
        cfg,
        &["update", "--table", "notices", "--config", NOTICES],
    ));
    assert_eq!(
        describe(&account, "notices_demo")
            .global_secondary_indexes()
            .len(),
        1
    );

    // demo is not a sandbox (there is no such VPC at all): delete asks, and without a
    // terminal it refuses.
    let out = expect(
        &mut ddb(&account, cfg, &["delete", "--table", "notices"]),
        2,
    );
    assert!(
        text(&out.stderr).contains("Delete DynamoDB table notices_demo of environment demo"),
        "{}",
        text(&out.stderr)
    );
    assert!(tables(&account).contains(&"notices_demo".to_string()));
    let plan = succeed(&mut ddb(
        &account,
        cfg,
        &["delete", "--table", "notices", "--dry-run"],
    ));
    assert_eq!(
        plan,
        "DynamoDB table notices_demo\n  - delete table notices_demo\nPlan: 0 to create, 0 to change, 1 to delete.\n"
    );
    let out = expect(
        &mut ddb(
            &account,
            cfg,
            &["delete", "--table", "notices", "--yes", "--wait"],
        ),
        0,
    );
    assert_eq!(text(&out.stdout), "deleted notices_demo\n");
    assert_eq!(tables(&account), vec!["plain_ci".to_string()]);
    let out = expect(
        &mut ddb(&account, cfg, &["delete", "--table", "notices", "--yes"]),
        1,
    );
    assert!(text(&out.stderr).contains("there is no DynamoDB table notices_demo"));
}

#[test]
fn a_sandbox_environments_table_is_deleted_without_asking() {
    let account = Moto::shared().new_account();
    let config = example_config();
    let cfg = config.path();
    let ec2 = aws_sdk_ec2::Client::new(&runtime().block_on(account.sdk_config()));
    runtime().block_on(async {
        let vpc = ec2
            .create_vpc()
            .cidr_block("10.9.0.0/16")
            .send()
            .await
            .unwrap();
        let id = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
        let tag = |k: &str, v: &str| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build();
        ec2.create_tags()
            .resources(id)
            .tags(tag("Name", "sb"))
            .tags(tag("type", "sandbox"))
            .send()
            .await
            .unwrap();
    });
    let plain = write(cfg, "plain.json", PLAIN);
    succeed(&mut ddb(
        &account,
        cfg,
        &["--env", "sb", "create", "--config", path_str(&plain)],
    ));
    assert_eq!(tables(&account), vec!["plain_sb".to_string()]);
    succeed(&mut ddb(
        &account,
        cfg,
        &["--env", "sb", "delete", "--table", "plain"],
    ));
    assert!(tables(&account).is_empty());
}

#[test]
fn bad_input_exits_2_before_any_change() {
    let account = Moto::shared().new_account();
    let config = example_config();
    let cfg = config.path();
    let create = |file: &Path| {
        vec!["--env", "ci", "create", "--config"]
            .into_iter()
            .map(str::to_string)
            .chain([path_str(file).to_string()])
            .collect::<Vec<_>>()
    };
    let run = |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(&account, cfg, &args)
    };

    // Malformed JSON: line and column.
    let f = write(
        cfg,
        "broken.json",
        "{\n  \"TableName\": \"plain\",\n  \"KeySchema\": [,]\n}\n",
    );
    let err = run(create(&f));
    assert!(err.contains("broken.json:3:17: "), "{err}");
    // An unknown key, at its line.
    let f = write(
        cfg,
        "unknown.json",
        &PLAIN.replace("\"BillingMode\"", "\"Billing\": 1,\n  \"BillingMode\""),
    );
    let err = run(create(&f));
    assert!(err.contains("unknown.json:5:"), "{err}");
    assert!(err.contains("unknown field `Billing`"), "{err}");
    // An attribute no key or index uses, at its line.
    let f = write(
        cfg,
        "unused.json",
        &PLAIN.replace(
            "[{\"AttributeName\": \"id\", \"AttributeType\": \"S\"}]",
            "[{\"AttributeName\": \"id\", \"AttributeType\": \"S\"},\n    {\"AttributeName\": \"spare\", \"AttributeType\": \"S\"}]",
        ),
    );
    let err = run(create(&f));
    assert!(
        err.contains(
            "unused.json:4:23: attribute \"spare\" is defined but no key schema or index uses it"
        ),
        "{err}"
    );
    // A table name with "_".
    let f = write(
        cfg,
        "underscore.json",
        &PLAIN.replace("\"plain\"", "\"my_table\""),
    );
    let err = run(create(&f));
    assert!(err.contains("contains \"_\""), "{err}");
    // Environments that cannot own tables.
    let f = write(cfg, "plain.json", PLAIN);
    for env in ["none", "NONE", "-"] {
        let mut args = create(&f);
        args[1] = env.to_string();
        let err = run(args);
        assert!(err.contains("cannot own DynamoDB tables"), "{env}: {err}");
    }
    let err = run(vec!["--env".into(), "".into(), "list".into()]);
    assert!(err.contains("environment name is empty"), "{err}");
    // --table with "_", on every command that takes one.
    for args in [
        &[
            "--env",
            "ci",
            "update",
            "--table",
            "a_b",
            "--config",
            "plain.json",
        ][..],
        &["--env", "ci", "delete", "--table", "a_b", "--yes"],
        &["--env", "ci", "backup", "--table", "a_b"],
        &[
            "--env", "ci", "restore", "--table", "a", "--latest", "--to", "b_c",
        ],
        &["--env", "ci", "pitr", "--table", "a_b", "on"],
    ] {
        let err = refused(&account, cfg, args);
        assert!(err.contains("contains \"_\""), "{args:?}: {err}");
    }
    // A bad backup name, point in time, or backup ARN.
    for (args, says) in [
        (
            &["--env", "ci", "backup", "--table", "plain", "--name", "a/b"][..],
            "--name",
        ),
        (
            &[
                "--env",
                "ci",
                "restore",
                "--table",
                "plain",
                "--point-in-time",
                "yesterday",
            ],
            "RFC 3339",
        ),
        (
            &[
                "--env", "ci", "restore", "--table", "plain", "--backup", "nonsense",
            ],
            "not a DynamoDB backup ARN",
        ),
        (
            &[
                "--env",
                "ci",
                "restore",
                "--table",
                "plain",
                "--backup",
                "arn:aws:dynamodb:us-west-2:123456789012:table/other_ci/backup/01-ab",
            ],
            "a backup of table other_ci, not of plain_ci",
        ),
        (&["--env", "ci", "restore", "--table", "plain"], "required"),
    ] {
        let err = refused(&account, cfg, args);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    assert!(tables(&account).is_empty());

    // What a table cannot change in place is refused after describing it, before any change.
    succeed(&mut ddb(
        &account,
        cfg,
        &["--env", "ci", "create", "--config", path_str(&f)],
    ));
    let key = write(cfg, "key.json", &PLAIN.replace("\"id\"", "\"other\""));
    let err = refused(
        &account,
        cfg,
        &[
            "--env",
            "ci",
            "update",
            "--table",
            "plain",
            "--config",
            path_str(&key),
        ],
    );
    assert!(err.contains("key schema cannot change"), "{err}");
    let err = refused(
        &account,
        cfg,
        &[
            "--env",
            "ci",
            "update",
            "--table",
            "other",
            "--config",
            path_str(&f),
        ],
    );
    assert!(
        err.contains("TableName is \"plain\", not --table \"other\""),
        "{err}"
    );
}

#[test]
fn a_fault_in_create_leaves_nothing_behind() {
    let account = Moto::shared().new_account();
    let config = example_config();
    let cfg = config.path();
    // Two mutating steps: CreateTable, then UpdateTimeToLive. A failure of either removes
    // the table the run made.
    for n in 1..=2 {
        let mut c = ddb(
            &account,
            cfg,
            &["--env", "ci", "create", "--config", NOTICES],
        );
        c.env("ASIAQ_INJECT_FAULT", format!("mutating:{n}"));
        let out = expect(&mut c, 1);
        let err = text(&out.stderr);
        assert!(err.contains("injected"), "{n}: {err}");
        if n == 2 {
            assert!(
                err.contains("rolled back: delete table notices_ci"),
                "{err}"
            );
        }
        assert!(tables(&account).is_empty(), "fault {n}");
    }
    succeed(&mut ddb(
        &account,
        cfg,
        &["--env", "ci", "create", "--config", NOTICES],
    ));
    assert_eq!(tables(&account), vec!["notices_ci".to_string()]);
}

#[test]
fn a_fault_in_update_is_finished_by_running_it_again() {
    let account = Moto::shared().new_account();
    let config = example_config();
    let cfg = config.path();
    let plain = write(cfg, "plain.json", PLAIN);
    // Four changes: provisioned capacity, a new index, a stream, time to live.
    let changed = write(
        cfg,
        "changed.json",
        r#"{
  "AttributeDefinitions": [
    {"AttributeName": "id", "AttributeType": "S"},
    {"AttributeName": "day", "AttributeType": "S"}
  ],
  "ProvisionedThroughput": {"ReadCapacityUnits": 3, "WriteCapacityUnits": 4},
  "GlobalSecondaryIndexes": [{
    "IndexName": "by-day",
    "KeySchema": [{"AttributeName": "day", "KeyType": "HASH"}],
    "Projection": {"ProjectionType": "ALL"},
    "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}
  }],
  "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "KEYS_ONLY"},
  "TimeToLiveSpecification": {"Enabled": true, "AttributeName": "expires"}
}"#,
    );
    for n in 1..=4 {
        let env = format!("f{n}");
        let base = ["--env", env.as_str()];
        succeed(&mut ddb(
            &account,
            cfg,
            &[&base[..], &["create", "--config", path_str(&plain)]].concat(),
        ));
        let update = [
            &base[..],
            &["update", "--table", "plain", "--config", path_str(&changed)],
        ]
        .concat();
        let mut c = ddb(&account, cfg, &update);
        c.env("ASIAQ_INJECT_FAULT", format!("mutating:{n}"));
        let out = expect(&mut c, 1);
        assert!(
            text(&out.stderr).contains("run the update again"),
            "{}",
            text(&out.stderr)
        );
        // Run again, it finishes; a third run has nothing left to do.
        succeed(&mut ddb(&account, cfg, &update));
        let (out, calls) = with_stats(&mut ddb(&account, cfg, &update));
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(mutating(&calls), Vec::<String>::new(), "fault {n}");
        let name = format!("plain_{env}");
        let t = describe(&account, &name);
        assert_eq!(
            t.billing_mode_summary()
                .and_then(|b| b.billing_mode())
                .map(|m| m.as_str()),
            Some("PROVISIONED"),
            "fault {n}"
        );
        assert_eq!(
            t.provisioned_throughput().unwrap().write_capacity_units(),
            Some(4)
        );
        assert_eq!(t.global_secondary_indexes()[0].index_name(), Some("by-day"));
        assert!(t.stream_specification().unwrap().stream_enabled());
        let c = client(&account);
        runtime().block_on(async {
            let ttl = c
                .describe_time_to_live()
                .table_name(&name)
                .send()
                .await
                .unwrap();
            assert_eq!(
                ttl.time_to_live_description().unwrap().attribute_name(),
                Some("expires"),
                "fault {n}"
            );
        });
    }
}

#[test]
fn backups_are_made_listed_and_restored_into_new_tables() {
    let account = Moto::shared().new_account();
    let config = example_config();
    let cfg = config.path();
    let plain = write(cfg, "plain.json", PLAIN);
    let env = ["--env", "ci"];
    let run = |args: &[&str]| succeed(&mut ddb(&account, cfg, &[&env[..], args].concat()));
    run(&["create", "--config", path_str(&plain)]);

    let plan = run(&[
        "backup",
        "--table",
        "plain",
        "--name",
        "nightly-1",
        "--dry-run",
    ]);
    assert_eq!(
        plan,
        "DynamoDB backup nightly-1\n  + back up table plain_ci as nightly-1\nPlan: 1 to create, 0 to change, 0 to delete.\n"
    );
    let made: serde_json::Value = serde_json::from_str(&run(&[
        "backup",
        "--table",
        "plain",
        "--name",
        "nightly-1",
        "--output",
        "json",
    ]))
    .unwrap();
    assert_eq!(made["table"], "plain_ci");
    let first_arn = made["arn"].as_str().unwrap().to_string();
    assert!(first_arn.contains(":table/plain_ci/backup/"), "{first_arn}");
    let out = run(&["backup", "--table", "plain"]);
    assert!(out.starts_with("backup plain_ci-"), "{out}");
    let c = client(&account);
    let listed = runtime().block_on(async {
        c.list_backups()
            .table_name("plain_ci")
            .send()
            .await
            .unwrap()
            .backup_summaries()
            .len()
    });
    assert_eq!(listed, 2);
    let json: serde_json::Value = serde_json::from_str(&run(&[
        "list-backups",
        "--table",
        "plain",
        "--output",
        "json",
    ]))
    .unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);
    assert_eq!(json[0]["name"], "nightly-1");
    assert_eq!(json[0]["status"], "AVAILABLE");
    let text_list = run(&["list-backups"]);
    assert_eq!(text_list.lines().count(), 2, "{text_list}");
    assert!(text_list.contains("nightly-1"), "{text_list}");
    // Another environment's backups are not this one's.
    assert_eq!(
        succeed(&mut ddb(&account, cfg, &["--env", "other", "list-backups"])),
        ""
    );

    // The newest backup, into a table named by --to.
    let out = run(&[
        "restore", "--table", "plain", "--latest", "--to", "copy", "--wait",
    ]);
    assert_eq!(out, "restored into new table copy_ci (ACTIVE)\n");
    assert_eq!(
        describe(&account, "copy_ci").key_schema()[0].attribute_name(),
        "id"
    );
    // Never into a table that exists: exit 1, naming it, and no mutating call.
    for to in ["copy", "plain"] {
        let (out, calls) = with_stats(&mut ddb(
            &account,
            cfg,
            &[
                "--env", "ci", "restore", "--table", "plain", "--latest", "--to", to,
            ],
        ));
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(&format!("DynamoDB table {to}_ci exists")),
            "{}",
            text(&out.stderr)
        );
        assert_eq!(mutating(&calls), Vec::<String>::new());
    }
    // A named backup, into a new table of its own name.
    let plan = run(&[
        "restore",
        "--table",
        "plain",
        "--backup",
        &first_arn,
        "--dry-run",
    ]);
    assert!(plan.starts_with("DynamoDB table plain-restored-"), "{plan}");
    let out = run(&["restore", "--table", "plain", "--backup", &first_arn]);
    assert!(
        out.starts_with("restored into new table plain-restored-"),
        "{out}"
    );
    let names = tables(&account);
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("plain-restored-") && n.ends_with("_ci")),
        "{names:?}"
    );

    // Point-in-time recovery: on (once), a restore from it, off.
    let on = ["pitr", "--table", "plain", "on"];
    assert_eq!(
        run(&[&on[..], &["--dry-run"]].concat()),
        "DynamoDB table plain_ci\n  ~ point-in-time recovery: off -> on\nPlan: 0 to create, 1 to change, 0 to delete.\n"
    );
    run(&on);
    let pitr = |c: &aws_sdk_dynamodb::Client| {
        runtime().block_on(async {
            c.describe_continuous_backups()
                .table_name("plain_ci")
                .send()
                .await
                .unwrap()
                .continuous_backups_description()
                .unwrap()
                .point_in_time_recovery_description()
                .unwrap()
                .point_in_time_recovery_status()
                .unwrap()
                .as_str()
                .to_string()
        })
    };
    assert_eq!(pitr(&c), "ENABLED");
    let (_, calls) = with_stats(&mut ddb(&account, cfg, &[&env[..], &on[..]].concat()));
    assert_eq!(mutating(&calls), Vec::<String>::new());
    let now = jiff::Timestamp::now().to_string();
    run(&[
        "restore",
        "--table",
        "plain",
        "--point-in-time",
        &now,
        "--to",
        "then",
    ]);
    assert!(tables(&account).contains(&"then_ci".to_string()));
    run(&["pitr", "--table", "plain", "off"]);
    assert_eq!(pitr(&c), "DISABLED");
}
