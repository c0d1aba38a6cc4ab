//! `asiaq elasticache` against moto: replication groups of the example's `[demo:cache]`,
//! created, updated, listed and deleted, their effects checked through the AWS API.
//!
//! moto quirks met here (see moto-notes): a group is `available` at once; its member cache
//! clusters do not exist (so asiaq reads the settings a group does not carry from its
//! asiaq: tags); ModifyReplicationGroup only changes node type, failover and engine; a
//! deleted group stays `deleting` forever, which is how the delete wait's timeout is tested.

use std::path::Path;
use std::process::Command;

use asiaq_core::elasticache::replication_group_id;
use asiaq_testkit::{AwsAccount, Moto};

use crate::identity_common::*;
use crate::support::{expect, text};

pub(crate) struct Env {
    pub(crate) account: AwsAccount,
    config: tempfile::TempDir,
    rt: tokio::runtime::Runtime,
}

impl Env {
    /// An account with the sandbox environment `demo` and the zone sandbox.example.com.
    pub(crate) fn new() -> Env {
        let account = Moto::shared().new_account();
        let config = example_config();
        let env = Env {
            account,
            config,
            rt: runtime(),
        };
        expect(
            &mut env.cmd(&["vpc", "create", "--type", "sandbox", "--name", "demo"]),
            0,
        );
        let r53 = env.route53();
        env.rt
            .block_on(
                r53.create_hosted_zone()
                    .name("sandbox.example.com")
                    .caller_reference("asiaq-test")
                    .send(),
            )
            .unwrap();
        env
    }

    pub(crate) fn path(&self) -> &Path {
        self.config.path()
    }

    pub(crate) fn cmd(&self, args: &[&str]) -> Command {
        let mut c = asiaq(&self.account, self.path());
        c.args(args);
        c
    }

    fn ec(&self, args: &[&str]) -> Command {
        let mut c = asiaq(&self.account, self.path());
        c.arg("elasticache").args(args);
        c
    }

    pub(crate) fn ok(&self, args: &[&str]) -> String {
        succeed(&mut self.ec(args))
    }

    fn elasticache(&self) -> aws_sdk_elasticache::Client {
        aws_sdk_elasticache::Client::new(&self.rt.block_on(self.account.sdk_config()))
    }

    fn route53(&self) -> aws_sdk_route53::Client {
        aws_sdk_route53::Client::new(&self.rt.block_on(self.account.sdk_config()))
    }

    fn group(&self, id: &str) -> Option<aws_sdk_elasticache::types::ReplicationGroup> {
        let c = self.elasticache();
        self.rt
            .block_on(
                c.describe_replication_groups()
                    .replication_group_id(id)
                    .send(),
            )
            .ok()
            .and_then(|o| o.replication_groups().first().cloned())
    }

    /// The CNAME records of sandbox.example.com: (name, value).
    fn cnames(&self) -> Vec<(String, String)> {
        let c = self.route53();
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

    /// Rewrites disco_elasticache.ini.
    fn edit(&self, from: &str, to: &str) {
        let p = self.path().join("disco_elasticache.ini");
        let s = std::fs::read_to_string(&p).unwrap();
        assert!(s.contains(from), "{from}");
        std::fs::write(&p, s.replacen(from, to, 1)).unwrap();
    }

    pub(crate) fn append(&self, text: &str) {
        let p = self.path().join("disco_elasticache.ini");
        let s = std::fs::read_to_string(&p).unwrap();
        std::fs::write(&p, format!("{s}\n{text}\n")).unwrap();
    }
}

fn stats(cmd: &mut Command) -> (std::process::Output, Vec<String>) {
    let (out, calls) = with_stats(cmd);
    (out, mutating(&calls))
}

#[test]
fn a_cluster_is_created_updated_listed_and_deleted() {
    let e = Env::new();
    let id = replication_group_id("demo", "cache");

    // The dry run shows the subnet group, the group and its CNAME, and changes nothing.
    let (out, calls) = stats(&mut e.ec(&["update", "--dry-run"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(calls, Vec::<String>::new());
    let plan = text(&out.stdout);
    assert!(
        plan.contains("+ create cache subnet group demo-intranet (subnet-"),
        "{plan}"
    );
    assert!(
        plan.contains(&format!("+ create redis 5.0.6 replication group {id} (demo-cache, 1 node(s) of cache.t2.micro, port 6379, parameter group default.redis5.0, maintenance sat:05:00-sat:06:00, automatic failover off, subnet group demo-intranet)")),
        "{plan}"
    );
    assert!(
        plan.contains(&format!(
            "+ CNAME cache-demo.sandbox.example.com -> ${{endpoint:{id}}}"
        )),
        "{plan}"
    );
    assert!(
        plan.ends_with("Plan: 3 to create, 0 to change, 0 to delete.\n"),
        "{plan}"
    );

    let out = e.ok(&["update"]);
    assert!(
        out.contains(&format!("+ create redis 5.0.6 replication group {id}")),
        "{out}"
    );
    let g = e.group(&id).expect("the group exists");
    assert_eq!(g.description(), Some("demo-cache"));
    assert_eq!(g.cache_node_type(), Some("cache.t2.micro"));
    assert_eq!(g.automatic_failover().map(|a| a.as_str()), Some("disabled"));
    let endpoint = g.node_groups()[0]
        .primary_endpoint()
        .unwrap()
        .address()
        .unwrap()
        .to_string();
    let c = e.elasticache();
    let subnets =
        e.rt.block_on(
            c.describe_cache_subnet_groups()
                .cache_subnet_group_name("demo-intranet")
                .send(),
        )
        .unwrap();
    assert_eq!(subnets.cache_subnet_groups()[0].subnets().len(), 3);
    assert_eq!(
        e.cnames(),
        [(
            "cache-demo.sandbox.example.com.".to_string(),
            endpoint.clone()
        )]
    );

    // Unchanged configuration: no mutating call, and the dry run says so.
    let (out, calls) = stats(&mut e.ec(&["update"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(calls, Vec::<String>::new());
    assert_eq!(
        text(&out.stdout),
        "no change: ElastiCache is as configured\n"
    );
    assert_eq!(e.ok(&["update", "--dry-run"]), "No changes.\n");

    // The listing, in text and JSON.
    assert_eq!(
        e.ok(&["list"]),
        "demo-cache                available    1\n"
    );
    let json: serde_json::Value =
        serde_json::from_str(&e.ok(&["list", "--output", "json"])).unwrap();
    assert_eq!(json[0]["id"], id.as_str());
    assert_eq!(json[0]["endpoint"], endpoint.as_str());

    // A changed version and node type: each field before -> after, then applied once.
    e.edit("engine_version=5.0.6", "engine_version=6.2");
    e.edit(
        "instance_type=cache.t2.micro",
        "instance_type=cache.t3.small",
    );
    let plan = e.ok(&["update", "--cluster", "cache", "--dry-run"]);
    assert_eq!(
        plan,
        format!("replication group demo-cache\n  ~ modify {id} (demo-cache): engine_version: 5.0.6 -> 6.2; node_type: cache.t2.micro -> cache.t3.small\nPlan: 0 to create, 1 to change, 0 to delete.\n")
    );
    let (out, calls) = stats(&mut e.ec(&["update"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        calls,
        [
            "elasticache:AddTagsToResource x1",
            "elasticache:ModifyReplicationGroup x1"
        ]
    );
    assert_eq!(
        e.group(&id).unwrap().cache_node_type(),
        Some("cache.t3.small")
    );
    let (_, calls) = stats(&mut e.ec(&["update"]));
    assert_eq!(calls, Vec::<String>::new());

    // Delete: the dry run changes nothing; then the CNAME goes and the group is deleting.
    let (out, calls) = stats(&mut e.ec(&["delete", "--cluster", "cache", "--dry-run"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(calls, Vec::<String>::new());
    assert!(
        text(&out.stdout).contains(&format!("- delete replication group {id} (demo-cache)")),
        "{}",
        text(&out.stdout)
    );
    e.ok(&["delete", "--cluster", "cache"]);
    assert_eq!(e.group(&id).unwrap().status(), Some("deleting"));
    assert_eq!(e.cnames(), Vec::<(String, String)>::new());
    assert_eq!(
        e.ok(&["list"]),
        "demo-cache                deleting     N/A\n"
    );

    // Again: nothing to do. With --wait, the bounded wait fails, saying what it waited for.
    let (out, calls) = stats(&mut e.ec(&["delete", "--cluster", "cache"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(calls, Vec::<String>::new());
    assert!(text(&out.stderr).contains("is already being deleted"));
    let (out, calls) = stats(&mut e.ec(&["delete", "--cluster", "cache", "--wait-timeout", "60"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(calls, Vec::<String>::new());
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "waiting for replication group {id} to be deleted (last state: deleting)"
        )),
        "{err}"
    );
    assert!(err.contains("timed out after"), "{err}");
}

/// Runs with a fault injected into the first mutating call: exit 2 proves none was made.
fn refused(e: &Env, args: &[&str]) -> String {
    let mut c = e.ec(args);
    c.env("ASIAQ_INJECT_FAULT", "mutating:1");
    let (out, calls) = stats(&mut c);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{args:?}\nstdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(calls, Vec::<String>::new(), "{args:?}");
    assert!(text(&out.stdout).is_empty());
    text(&out.stderr)
}

#[test]
fn bad_input_exits_2_before_any_call() {
    let account = Moto::shared().new_account();
    let config = example_config();
    let e = Env {
        account,
        config,
        rt: runtime(),
    };
    let ini = "disco_elasticache.ini";
    for (from, to, want) in [
        (
            "instance_type=cache.t2.micro",
            "instance_type=t2.micro",
            format!("{ini}:5: [demo:cache] instance_type: \"t2.micro\" is not a cache node type (expected a type like cache.t3.micro)"),
        ),
        (
            "maintenance_window=sat:05:00-sat:06:00",
            "maintenance_window=sat:25:00-sat:26:00",
            format!("{ini}:12: [demo:cache] maintenance_window: \"sat:25:00-sat:26:00\" is not a maintenance window"),
        ),
        (
            "port=6379",
            "port=6379\nengine=memcached",
            format!("{ini}:10: [demo:cache] engine: \"memcached\" is not"),
        ),
    ] {
        e.edit(from, to);
        let err = refused(&e, &["update"]);
        assert!(err.contains(&want), "{err}");
        e.edit(to, from);
    }
    let err = refused(&e, &["update", "--cluster", "nope"]);
    assert!(err.contains("section [demo:nope] is missing"), "{err}");
    let err = refused(&e, &["delete"]);
    assert!(err.contains("--cluster"), "{err}");
    let err = refused(
        &e,
        &["delete", "--cluster", "cache", "--wait-timeout", "soon"],
    );
    assert!(err.contains("--wait-timeout"), "{err}");
    // engine=valkey is accepted.
    e.edit("port=6379", "port=6379\nengine=valkey");
    let out = expect(&mut e.ec(&["update", "--dry-run"]), 1);
    // No environment: exit 1, as the original, and no call but the lookups.
    assert!(
        text(&out.stderr).contains("there is no environment demo"),
        "{}",
        text(&out.stderr)
    );
    expect(&mut e.ec(&["list"]), 1);
}

#[test]
fn a_fault_at_each_step_is_finished_by_running_again() {
    let e = Env::new();
    for n in ["f1", "f2", "f3"] {
        e.append(&format!(
            "[demo:{n}]\ninstance_type=cache.m5.large\nengine_version=6.2\nport=6379\nparameter_group=default.redis6.x\nnum_nodes=2\nmeta_network=intranet\n"
        ));
    }
    // f1: the subnet group's creation fails; f2: the group's; f3: the CNAME's.
    for (cluster, nth) in [("f1", 1), ("f2", 1), ("f3", 2)] {
        let mut c = e.ec(&["update", "--cluster", cluster]);
        c.env("ASIAQ_INJECT_FAULT", format!("mutating:{nth}"));
        let out = expect(&mut c, 1);
        assert!(
            text(&out.stderr).contains("injected"),
            "{}",
            text(&out.stderr)
        );
        e.ok(&["update", "--cluster", cluster]);
        let id = replication_group_id("demo", cluster);
        let g = e.group(&id).expect("created by the re-run");
        // m5 nodes, 6.2, two nodes: automatic failover on.
        assert_eq!(g.automatic_failover().map(|a| a.as_str()), Some("enabled"));
        let (_, calls) = stats(&mut e.ec(&["update", "--cluster", cluster]));
        assert_eq!(calls, Vec::<String>::new(), "{cluster}");
    }
    let names: Vec<String> = e.cnames().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "f1-demo.sandbox.example.com.",
            "f2-demo.sandbox.example.com.",
            "f3-demo.sandbox.example.com."
        ]
    );
}

#[test]
fn a_non_sandbox_environments_group_is_deleted_only_when_confirmed() {
    let account = Moto::shared().new_account();
    let config = example_config();
    let e = Env {
        account,
        config,
        rt: runtime(),
    };
    let conf = e.rt.block_on(e.account.sdk_config());
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let id = replication_group_id("prod", "cache");
    let ec = e.elasticache();
    e.rt.block_on(async {
        let vpc = ec2
            .create_vpc()
            .cidr_block("10.50.0.0/16")
            .send()
            .await
            .unwrap()
            .vpc
            .unwrap()
            .vpc_id
            .unwrap();
        for (k, v) in [("Name", "prod"), ("type", "production")] {
            ec2.create_tags()
                .resources(&vpc)
                .tags(aws_sdk_ec2::types::Tag::builder().key(k).value(v).build())
                .send()
                .await
                .unwrap();
        }
        ec.create_replication_group()
            .replication_group_id(&id)
            .replication_group_description("prod-cache")
            .send()
            .await
            .unwrap();
    });
    let err = refused(&e, &["--env", "prod", "delete", "--cluster", "cache"]);
    assert!(
        err.contains("Delete ElastiCache replication group prod-cache of environment prod (type production)?: refusing without confirmation"),
        "{err}"
    );
    assert_eq!(e.group(&id).unwrap().status(), Some("available"));
    let mut c = asiaq(&e.account, e.path());
    c.args([
        "--yes",
        "--env",
        "prod",
        "elasticache",
        "delete",
        "--cluster",
        "cache",
    ]);
    expect(&mut c, 0);
    assert_eq!(e.group(&id).unwrap().status(), Some("deleting"));
}
