//! `asiaq rds` against moto: the example's `[demo-appdb]` created (its master password from
//! the credential bucket), updated, listed, deleted with a final snapshot and restored from
//! it; effects checked through the AWS API.
//!
//! moto quirks met here (see moto-notes): an instance is `available` at once and gone at
//! once when deleted; an automated snapshot `rds:<id>-…` comes with each instance (and goes
//! with it); DescribeDBParameters returns the parameters set, without their apply type (so
//! asiaq treats them as static and reboots after a change).

use std::path::Path;
use std::process::Command;

use asiaq_testkit::{AwsAccount, Moto};

use crate::identity_common::*;
use crate::support::{expect, text};

const PASSWORD: &str = "Sup3r-Secret-Pa55word";

pub(crate) struct Env {
    pub(crate) account: AwsAccount,
    config: tempfile::TempDir,
    rt: tokio::runtime::Runtime,
    project: String,
}

impl Env {
    /// An account with the sandbox environment `demo`, the zone sandbox.example.com and the
    /// credential bucket (of a project of its own: bucket names are global in moto).
    pub(crate) fn new(project: &str, password: bool) -> Env {
        let account = Moto::shared().new_account();
        let config = example_config();
        let ini = config.path().join("disco_aws.ini");
        let s = std::fs::read_to_string(&ini).unwrap();
        std::fs::write(
            &ini,
            s.replace("project_name=example", &format!("project_name={project}")),
        )
        .unwrap();
        let env = Env {
            account,
            config,
            rt: runtime(),
            project: project.to_string(),
        };
        expect(
            &mut env.cmd(&["vpc", "create", "--type", "sandbox", "--name", "demo"]),
            0,
        );
        let conf = env.rt.block_on(env.account.sdk_config());
        let r53 = aws_sdk_route53::Client::new(&conf);
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&conf)
                .force_path_style(true)
                .build(),
        );
        let bucket = env.bucket();
        env.rt.block_on(async {
            r53.create_hosted_zone()
                .name("sandbox.example.com")
                .caller_reference("asiaq-test")
                .send()
                .await
                .unwrap();
            s3.create_bucket()
                .bucket(&bucket)
                .create_bucket_configuration(
                    aws_sdk_s3::types::CreateBucketConfiguration::builder()
                        .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::UsWest2)
                        .build(),
                )
                .send()
                .await
                .unwrap();
        });
        if password {
            expect(
                &mut env.cmd(&[
                    "--env",
                    "demo",
                    "creds",
                    "set",
                    "--key",
                    "rds/appdb/master_user_password",
                    "--value",
                    PASSWORD,
                ]),
                0,
            );
        }
        env
    }

    fn bucket(&self) -> String {
        format!("us-west-2.{}.credentials.demo", self.project)
    }

    pub(crate) fn path(&self) -> &Path {
        self.config.path()
    }

    pub(crate) fn cmd(&self, args: &[&str]) -> Command {
        let mut c = asiaq(&self.account, self.path());
        c.args(args);
        c
    }

    fn rds_cmd(&self, args: &[&str]) -> Command {
        let mut c = asiaq(&self.account, self.path());
        c.arg("rds").args(args);
        c
    }

    pub(crate) fn ok(&self, args: &[&str]) -> String {
        succeed(&mut self.rds_cmd(args))
    }

    fn client(&self) -> aws_sdk_rds::Client {
        aws_sdk_rds::Client::new(&self.rt.block_on(self.account.sdk_config()))
    }

    fn instance(&self, id: &str) -> Option<aws_sdk_rds::types::DbInstance> {
        let c = self.client();
        self.rt
            .block_on(c.describe_db_instances().db_instance_identifier(id).send())
            .ok()
            .and_then(|o| o.db_instances().first().cloned())
    }

    fn snapshots(&self, id: &str) -> Vec<String> {
        let c = self.client();
        self.rt
            .block_on(c.describe_db_snapshots().db_instance_identifier(id).send())
            .unwrap()
            .db_snapshots()
            .iter()
            .filter_map(|s| s.db_snapshot_identifier().map(str::to_string))
            .collect()
    }

    fn cnames(&self) -> Vec<(String, String)> {
        let c = aws_sdk_route53::Client::new(&self.rt.block_on(self.account.sdk_config()));
        self.rt.block_on(async {
            let zones = c.list_hosted_zones().send().await.unwrap();
            let zone = zones.hosted_zones()[0].id().to_string();
            let sets = c
                .list_resource_record_sets()
                .hosted_zone_id(zone)
                .send()
                .await
                .unwrap();
            sets.resource_record_sets()
                .iter()
                .filter(|s| s.r#type().as_str() == "CNAME")
                .map(|s| {
                    (
                        s.name().to_string(),
                        s.resource_records()[0].value().to_string(),
                    )
                })
                .collect()
        })
    }

    fn edit(&self, file: &str, from: &str, to: &str) {
        let p = self.path().join(file);
        let s = std::fs::read_to_string(&p).unwrap();
        assert!(s.contains(from), "{from}");
        std::fs::write(&p, s.replacen(from, to, 1)).unwrap();
    }
}

fn stats(cmd: &mut Command) -> (std::process::Output, Vec<String>) {
    let (out, calls) = with_stats(cmd);
    (out, mutating(&calls))
}

#[test]
fn an_instance_is_created_updated_listed_deleted_and_restored() {
    let e = Env::new("rdslife", true);
    let id = "demo-appdb";

    let (out, calls) = stats(&mut e.rds_cmd(&["update", "--dry-run"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(calls, Vec::<String>::new());
    let plan = text(&out.stdout);
    for want in [
        "+ create DB subnet group demo-appdb (subnet-",
        "+ create DB parameter group demo-appdb (family postgres9.6)",
        "~ parameters of demo-appdb: max_connections: default -> 100 (pending-reboot); log_min_duration_statement: default -> 1000 (pending-reboot); timezone: default -> UTC (pending-reboot)",
        "+ create postgres 9.6.20 instance demo-appdb (db.t2.micro, 20 GB, port 5432, multi-AZ false, master user appadmin)",
        "+ CNAME demo-appdb.sandbox.example.com -> ${endpoint:demo-appdb}",
        "Plan: 4 to create, 1 to change, 0 to delete.",
    ] {
        assert!(plan.contains(want), "{want}\n{plan}");
    }
    assert!(!plan.contains(PASSWORD));

    e.ok(&["update"]);
    let db = e.instance(id).expect("created");
    assert_eq!(db.db_instance_class(), Some("db.t2.micro"));
    assert_eq!(db.engine(), Some("postgres"));
    assert_eq!(db.master_username(), Some("appadmin"));
    assert_eq!(db.db_subnet_group().unwrap().subnets().len(), 3);
    assert_eq!(
        db.db_parameter_groups()[0].db_parameter_group_name(),
        Some("demo-appdb")
    );
    let address = db.endpoint().unwrap().address().unwrap().to_string();
    assert_eq!(
        e.cnames(),
        [(
            "demo-appdb.sandbox.example.com.".to_string(),
            address.clone()
        )]
    );
    let c = e.client();
    let params =
        e.rt.block_on(
            c.describe_db_parameters()
                .db_parameter_group_name(id)
                .send(),
        )
        .unwrap();
    let value = |n: &str| {
        params
            .parameters()
            .iter()
            .find(|p| p.parameter_name() == Some(n))
            .and_then(|p| p.parameter_value())
            .map(str::to_string)
    };
    assert_eq!(value("max_connections").as_deref(), Some("100"));
    assert_eq!(value("timezone").as_deref(), Some("UTC"));

    // Unchanged: no mutating call; the dry run says so.
    let (out, calls) = stats(&mut e.rds_cmd(&["update"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(calls, Vec::<String>::new());
    assert_eq!(text(&out.stdout), "no change: RDS is as configured\n");
    assert_eq!(e.ok(&["update", "--dry-run"]), "No changes.\n");

    assert_eq!(e.ok(&["list"]), "demo-appdb              20GB available\n");
    assert_eq!(
        e.ok(&["list", "--url"]),
        format!("demo-appdb              20GB available    {address}:5432\n")
    );
    let json: serde_json::Value =
        serde_json::from_str(&e.ok(&["list", "--output", "json"])).unwrap();
    assert_eq!(json[0]["id"], id);

    // A changed class and a changed (static) parameter: modify, then reboot, once.
    e.edit(
        "disco_rds.ini",
        "db_instance_class=db.t2.micro",
        "db_instance_class=db.t3.small",
    );
    e.edit(
        "rds/engine_specific/appdb.ini",
        "max_connections=100",
        "max_connections=150",
    );
    let plan = e.ok(&["update", "--cluster", "appdb", "--dry-run"]);
    assert_eq!(
        plan,
        "DB parameter group demo-appdb\n  ~ parameters of demo-appdb: max_connections: 100 -> 150 (pending-reboot)\nDB instance demo-appdb\n  ~ modify demo-appdb (apply immediately): instance_class: db.t2.micro -> db.t3.small\n  ~ reboot demo-appdb (a static parameter changed)\nPlan: 0 to create, 3 to change, 0 to delete.\n"
    );
    let (out, calls) = stats(&mut e.rds_cmd(&["update", "--parallel"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        calls,
        [
            "rds:ModifyDBInstance x1",
            "rds:ModifyDBParameterGroup x1",
            "rds:RebootDBInstance x1"
        ]
    );
    assert_eq!(
        e.instance(id).unwrap().db_instance_class(),
        Some("db.t3.small")
    );
    let (_, calls) = stats(&mut e.rds_cmd(&["update"]));
    assert_eq!(calls, Vec::<String>::new());

    // Delete: a final snapshot, the CNAME and the subnet group go.
    let plan = e.ok(&["delete", "--cluster", "appdb", "--dry-run"]);
    assert!(
        plan.contains("- delete instance demo-appdb, final snapshot demo-appdb-final-snapshot"),
        "{plan}"
    );
    e.ok(&["delete", "--cluster", "appdb"]);
    assert!(e.instance(id).is_none());
    assert_eq!(e.snapshots(id), ["demo-appdb-final-snapshot"]);
    assert_eq!(e.cnames(), Vec::<(String, String)>::new());
    let (out, calls) = stats(&mut e.rds_cmd(&["delete", "--cluster", "appdb"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(calls, Vec::<String>::new());
    assert!(text(&out.stderr).contains("there is no DB instance demo-appdb"));

    // Update again: restored from the final snapshot, configured, named.
    let plan = e.ok(&["update", "--dry-run"]);
    assert!(
        plan.contains("+ restore instance demo-appdb from snapshot demo-appdb-final-snapshot (db.t3.small, 20 GB), then apply its configuration"),
        "{plan}"
    );
    let (out, calls) = stats(&mut e.rds_cmd(&["update"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        calls.contains(&"rds:RestoreDBInstanceFromDBSnapshot x1".to_string()),
        "{calls:?}"
    );
    let db = e.instance(id).expect("restored");
    assert_eq!(
        db.db_parameter_groups()[0].db_parameter_group_name(),
        Some("demo-appdb")
    );
    assert_eq!(e.cnames().len(), 1);
    let (_, calls) = stats(&mut e.rds_cmd(&["update"]));
    assert_eq!(calls, Vec::<String>::new());
}

#[test]
fn the_master_password_never_appears_in_output() {
    let e = Env::new("rdssecret", true);
    let mut outputs = Vec::new();
    for args in [
        &["update", "--dry-run"][..],
        &["update"][..],
        &["--output", "json", "update", "--dry-run"][..],
        &["list", "--url"][..],
        &["delete", "--cluster", "appdb", "--skip-final-snapshot"][..],
    ] {
        let mut c = e.rds_cmd(&[]);
        c.arg("--debug").env_remove("ASIAQ_QUIET").args(args);
        let out = expect(&mut c, 0);
        outputs.push((args.join(" "), out));
    }
    for (label, out) in &outputs {
        for stream in [&out.stdout, &out.stderr] {
            assert!(
                !text(stream).contains(PASSWORD),
                "{label} printed the password"
            );
        }
    }
    assert!(e.instance("demo-appdb").is_none());
    assert_eq!(e.snapshots("demo-appdb"), Vec::<String>::new());
}

#[test]
fn a_missing_password_or_bad_input_stops_before_any_change() {
    let e = Env::new("rdsbad", false);
    let out = expect(&mut e.rds_cmd(&["update"]), 1);
    let err = text(&out.stderr);
    assert!(
        err.contains("no master password for demo-appdb in s3://us-west-2.rdsbad.credentials.demo: set rds/demo-appdb/master_user_password (or rds/appdb/master_user_password)"),
        "{err}"
    );
    assert!(e.instance("demo-appdb").is_none());

    for (file, from, to, want) in [
        (
            "disco_rds.ini",
            "engine=postgres",
            "engine=postgresql",
            "disco_rds.ini:9: [demo-appdb] engine: \"postgresql\" is not an RDS engine asiaq knows",
        ),
        (
            "disco_rds.ini",
            "iops=0",
            "iops=5000",
            "disco_rds.ini:14: [demo-appdb] iops: 5000 provisioned IOPS need at least 100 GB",
        ),
        (
            "disco_rds.ini",
            "preferred_maintenance_window=sun:07:30-sun:08:30",
            "preferred_maintenance_window=sat:25:00-sat:26:00",
            "[demo-appdb] preferred_maintenance_window: \"sat:25:00-sat:26:00\" is not a maintenance window",
        ),
    ] {
        e.edit(file, from, to);
        let mut c = e.rds_cmd(&["update"]);
        c.env("ASIAQ_INJECT_FAULT", "mutating:1");
        let (out, calls) = stats(&mut c);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        assert_eq!(calls, Vec::<String>::new());
        assert!(text(&out.stderr).contains(want), "{}", text(&out.stderr));
        e.edit(file, to, from);
    }
    let out = expect(&mut e.rds_cmd(&["update", "--cluster", "nope"]), 2);
    assert!(text(&out.stderr).contains("section [demo-nope] is missing"));
    expect(
        &mut e.rds_cmd(&["update", "--cluster", "appdb", "--parallel"]),
        2,
    );
}

#[test]
fn a_fault_at_each_step_of_a_create_is_finished_by_running_again() {
    let e = Env::new("rdsfault", false);
    let steps = [
        "CreateDBSubnetGroup",
        "CreateDBParameterGroup",
        "ModifyDBParameterGroup",
        "CreateDBInstance",
        "ChangeResourceRecordSets",
    ];
    let mut extra = String::new();
    for n in 1..=steps.len() {
        extra.push_str(&format!(
            "\n[demo-f{n}]\nengine=postgres\nengine_version=13.4\ndb_instance_class=db.t3.micro\nallocated_storage=20\nmaster_username=admin\nmulti_az=False\n"
        ));
        std::fs::write(
            e.path().join(format!("rds/engine_specific/f{n}.ini")),
            "[demo]\nmax_connections=50\n",
        )
        .unwrap();
        expect(
            &mut e.cmd(&[
                "--env",
                "demo",
                "creds",
                "set",
                "--key",
                &format!("rds/f{n}/master_user_password"),
                "--value",
                PASSWORD,
            ]),
            0,
        );
    }
    let ini = e.path().join("disco_rds.ini");
    let s = std::fs::read_to_string(&ini).unwrap();
    std::fs::write(&ini, format!("{s}{extra}")).unwrap();
    for (n, step) in steps.iter().enumerate() {
        let db = format!("f{}", n + 1);
        let mut c = e.rds_cmd(&["update", "--cluster", &db]);
        c.env("ASIAQ_INJECT_FAULT", format!("{step}:1"));
        let out = expect(&mut c, 1);
        assert!(
            text(&out.stderr).contains("injected"),
            "{}",
            text(&out.stderr)
        );
        e.ok(&["update", "--cluster", &db]);
        let id = format!("demo-{db}");
        assert_eq!(
            e.instance(&id)
                .and_then(|d| d.db_instance_status().map(str::to_string)),
            Some("available".to_string()),
            "{step}"
        );
        let (_, calls) = stats(&mut e.rds_cmd(&["update", "--cluster", &db]));
        assert_eq!(calls, Vec::<String>::new(), "{step}");
    }
    assert_eq!(e.cnames().len(), steps.len());
}

#[test]
fn cleanup_snapshots_deletes_the_environments_old_manual_snapshots() {
    let e = Env::new("rdsclean", true);
    e.ok(&["update"]);
    let c = e.client();
    e.rt.block_on(async {
        c.create_db_instance()
            .db_instance_identifier("prod-other")
            .engine("postgres")
            .db_instance_class("db.t3.micro")
            .allocated_storage(20)
            .master_username("admin")
            .master_user_password("irrelevant-1")
            .send()
            .await
            .unwrap();
        for (instance, snapshot) in [
            ("demo-appdb", "demo-manual-1"),
            ("demo-appdb", "demo-appdb-final-snapshot"),
            ("prod-other", "prod-manual-1"),
        ] {
            c.create_db_snapshot()
                .db_instance_identifier(instance)
                .db_snapshot_identifier(snapshot)
                .send()
                .await
                .unwrap();
        }
    });
    // Everything is younger than 30 days.
    assert_eq!(e.ok(&["cleanup_snapshots", "--dry-run"]), "No changes.\n");
    let (out, calls) = stats(&mut e.rds_cmd(&["cleanup_snapshots", "--age", "0", "--dry-run"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(calls, Vec::<String>::new());
    assert_eq!(
        text(&out.stdout),
        "DB snapshot demo-manual-1\n  - delete snapshot demo-manual-1 of demo-appdb (0 days old)\nPlan: 0 to create, 0 to change, 1 to delete.\n"
    );
    let wide = e.ok(&[
        "cleanup_snapshots",
        "--age",
        "0",
        "--all-environments",
        "--include-final",
        "--dry-run",
    ]);
    assert!(
        wide.contains("Plan: 0 to create, 0 to change, 3 to delete."),
        "{wide}"
    );
    e.ok(&["cleanup-snapshots", "--age", "0"]);
    let left: Vec<String> = e.snapshots("demo-appdb");
    assert!(!left.contains(&"demo-manual-1".to_string()), "{left:?}");
    assert!(
        left.contains(&"demo-appdb-final-snapshot".to_string()),
        "{left:?}"
    );
    assert_eq!(
        e.snapshots("prod-other").len(),
        2,
        "automated and manual kept"
    );
    let (out, calls) = stats(&mut e.rds_cmd(&["cleanup_snapshots", "--age", "0"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(calls, Vec::<String>::new());
    assert_eq!(text(&out.stdout), "no snapshot to delete\n");
}

#[test]
fn clone_restores_the_sources_newest_snapshot_into_another_environment() {
    let e = Env::new("rdsclone", true);
    e.ok(&["update"]);
    expect(
        &mut e.cmd(&["vpc", "create", "--type", "sandbox", "--name", "test"]),
        0,
    );
    let clone = [
        "--env",
        "test",
        "rds",
        "clone",
        "--source-db",
        "appdb",
        "--source-env",
        "demo",
    ];
    let mut dry = e.cmd(&clone);
    dry.arg("--dry-run");
    let (out, calls) = stats(&mut dry);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(calls, Vec::<String>::new());
    let plan = text(&out.stdout);
    assert!(
        plan.contains("+ restore instance test-appdb from snapshot rds:demo-appdb"),
        "{plan}"
    );
    assert!(
        plan.contains("+ CNAME test-appdb.sandbox.example.com -> ${endpoint:test-appdb}"),
        "{plan}"
    );
    let out = expect(&mut e.cmd(&clone), 0);
    assert!(!text(&out.stdout).contains(PASSWORD));
    let db = e.instance("test-appdb").expect("cloned");
    assert_eq!(
        db.db_parameter_groups()[0].db_parameter_group_name(),
        Some("test-appdb")
    );
    assert_eq!(
        db.db_subnet_group().unwrap().db_subnet_group_name(),
        Some("test-appdb")
    );
    assert!(e
        .cnames()
        .iter()
        .any(|(n, _)| n == "test-appdb.sandbox.example.com."));
    // A second clone does not overwrite it.
    let (out, calls) = stats(&mut e.cmd(&clone));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(calls, Vec::<String>::new());
    assert!(text(&out.stderr).contains("DB instance test-appdb exists"));
    let out = expect(
        &mut e.cmd(&[
            "rds",
            "clone",
            "--source-db",
            "nope",
            "--source-env",
            "demo",
        ]),
        2,
    );
    assert!(text(&out.stderr).contains("section [demo-nope] is missing"));
}
