//! The text of every listing and every dry-run plan, as users read them, in insta snapshots:
//! a change of columns or layout shows up as a snapshot diff and is made on purpose.
//!
//! Ids, addresses, account numbers, key ids and times differ from run to run; filters turn
//! them into placeholders so that what remains is the layout and the values asiaq decides.

use crate::hosts_support::{demo_world, World};

/// The placeholders: AWS resource ids keep their prefix, addresses keep a CIDR's prefix
/// length (so a CIDR asiaq computed still reads as one), times and key ids go.
fn filters() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            r"\b(vpc|subnet|sg|rtb|igw|nat|eipalloc|eipassoc|eni|acl|dopt|vgw|lt|ami|i|snap|vol|pcx|r)-[0-9a-f]{8,17}\b",
            "$1-[ID]",
        ),
        (
            r"\d{4}-\d{2}-\d{2}[T ]\d{2}[:.]\d{2}([:.]\d{2})?(\.\d+)?(Z|[+-]\d{2}:?\d{2})?",
            "[TIME]",
        ),
        (r"\b\d{12}\b", "[ACCOUNT]"),
        // A group's name ends in the Unix time of its creation.
        (r"_\d{10}\b", "_[UNIX-TIME]"),
        (r"\bA(KIA|SIA|ROA|IDA|GPA|NPA)[A-Z0-9]{12,}\b", "[KEY-ID]"),
        (r"\b(\d{1,3}\.){3}\d{1,3}\b([^/]|$)", "[IP]$2"),
        // A column of addresses is as wide as its longest address.
        (r"\[IP\] +", "[IP] "),
    ]
}

fn snapshot(name: &str, text: &str) {
    snapshot_with(name, text, &[]);
}

/// With filters of its own, for columns that change as time passes.
fn snapshot_with(name: &str, text: &str, extra: &[(&'static str, &'static str)]) {
    let mut all = filters();
    all.extend_from_slice(extra);
    insta::with_settings!({filters => all, prepend_module_to_snapshot => true}, {
        insta::assert_snapshot!(name, text);
    });
}

/// The age in hours of an image made at a fixed time grows with the clock.
const AMI_AGE_LAST: (&str, &str) = (r"(?m)\b\d+$", "[AGE-HOURS]");
const AMI_AGE_BEFORE_UPTIME: (&str, &str) = (r"(?m)\b\d+ (\d+)$", "[AGE-HOURS] $1");

#[test]
fn listings_and_plans_read_as_before() {
    let w = World::new();
    demo_world(&w);
    w.rename_project("listings");
    w.write_pipeline(
        "ntp.csv",
        "sequence,hostclass,min_size,desired_size,max_size,instance_type,smoke_test\n\
         1,mhcntp,1,1,2,t2.micro,no\n",
    );

    snapshot("vpc_list", &w.ok(&["vpc", "list"]));
    snapshot("vpc_show", &w.ok(&["vpc", "show", "--name", "demo"]));
    snapshot(
        "spinup_dry_run",
        &w.ok(&[
            "aws",
            "spinup",
            "--pipeline",
            "pipelines/ntp.csv",
            "--dry-run",
        ]),
    );
    w.ok(&[
        "aws",
        "spinup",
        "--pipeline",
        "pipelines/ntp.csv",
        "--no-smoke-test",
    ]);
    snapshot("aws_listhosts", &w.ok(&["aws", "listhosts"]));
    snapshot_with(
        "aws_listhosts_most",
        &w.ok(&["aws", "listhosts", "--most"]),
        &[AMI_AGE_BEFORE_UPTIME],
    );
    snapshot("autoscale_listgroups", &w.ok(&["autoscale", "listgroups"]));
    snapshot(
        "autoscale_listconfigs",
        &w.ok(&["autoscale", "listconfigs"]),
    );
    snapshot("elb_list", &w.ok(&["elb", "list"]));
    snapshot("eip_list", &w.ok(&["eip", "list"]));
    // One hostclass: the example's images share a timestamp, and ties are ordered by id,
    // which moto draws at random.
    snapshot_with(
        "bake_listamis",
        &w.ok(&["bake", "listamis", "--hostclass", "mhcntp"]),
        &[AMI_AGE_LAST],
    );
    snapshot(
        "spindown_dry_run",
        &w.ok(&[
            "aws",
            "spindown",
            "--pipeline",
            "pipelines/ntp.csv",
            "--dry-run",
        ]),
    );
    snapshot(
        "vpc_destroy_dry_run",
        &w.ok(&["vpc", "destroy", "--name", "demo", "--dry-run"]),
    );

    snapshot(
        "buckets_update_dry_run",
        &w.ok(&[
            "buckets",
            "update",
            "--account",
            "123456789012",
            "--dry-run",
        ]),
    );
    w.ok(&["iam", "update", "--environment", "demo"]);
    snapshot("iam_listgroups", &w.ok(&["iam", "listgroups"]));
    snapshot("iam_listusers", &w.ok(&["iam", "listusers"]));
    snapshot("iam_listroles", &w.ok(&["iam", "listroles"]));
    snapshot(
        "iam_listinstanceprofiles",
        &w.ok(&["iam", "listinstanceprofiles"]),
    );
    snapshot("iam_listproviders", &w.ok(&["iam", "listproviders"]));
    snapshot(
        "iam_update_again_dry_run",
        &w.ok(&["iam", "update", "--environment", "demo", "--dry-run"]),
    );
}

/// `dynamodb list`, `list-backups` and the dry runs of `create` and `update`, on an account
/// of their own (DynamoDB needs no environment).
#[test]
fn dynamodb_listings_and_plans_read_as_before() {
    use crate::identity_common::{asiaq, example_config, succeed};
    let account = asiaq_testkit::Moto::shared().new_account();
    let config = example_config();
    let ddb = |args: &[&str]| {
        let mut c = asiaq(&account, config.path());
        c.args(["--env", "ci", "dynamodb"]).args(args);
        succeed(&mut c)
    };
    let notices = "dynamodb/notices.json";
    snapshot(
        "dynamodb_create_dry_run",
        &ddb(&["create", "--config", notices, "--dry-run"]),
    );
    ddb(&["create", "--config", notices]);
    snapshot(
        "dynamodb_update_dry_run",
        &ddb(&[
            "update",
            "--table",
            "notices",
            "--config",
            "dynamodb/notices-capacity.json",
            "--dry-run",
        ]),
    );
    snapshot("dynamodb_list", &ddb(&["list", "--header"]));
    ddb(&["backup", "--table", "notices", "--name", "nightly-1"]);
    snapshot_with(
        "dynamodb_list_backups",
        &ddb(&["list-backups"]),
        &[(r"/backup/\d+-[0-9a-f]+", "/backup/[BACKUP-ID]")],
    );
}
