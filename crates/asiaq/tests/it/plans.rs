//! Every `--dry-run --output json` that plans changes to AWS prints one document of the
//! one schema (`asiaq.plan/1`): vpc create, update and destroy; aws spinup and spindown;
//! iam update; buckets update.

use asiaq_core::plan::render::{PlanDocument, PLAN_SCHEMA};

use crate::hosts_support::{demo_world, World};

fn plan_of(w: &World, args: &[&str]) -> PlanDocument {
    let mut all = vec!["--output", "json"];
    all.extend_from_slice(args);
    let out = w.ok(&all);
    let doc: PlanDocument = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("asiaq {args:?}: not a plan document ({e}):\n{out}"));
    assert_eq!(doc.schema, PLAN_SCHEMA, "{args:?}");
    assert!(doc.dry_run, "{args:?}");
    assert_eq!(doc.summary.total(), doc.steps.steps.len(), "{args:?}");
    for s in &doc.steps.steps {
        assert!(s.action["action"].is_string(), "{args:?}: {s:?}");
        assert!(
            s.after.iter().all(|a| *a < doc.steps.steps.len()),
            "{args:?}"
        );
    }
    doc
}

#[test]
fn every_dry_run_prints_one_plan_document() {
    let w = World::new();
    demo_world(&w);
    w.rename_project("plandocs");
    // No alarms: the spindown's plan below is its group alone (the alarms that follow the
    // hosts are tested in alarms.rs).
    std::fs::remove_file(w.config_path().join("disco_alarms.ini")).unwrap();

    let create = plan_of(
        &w,
        &[
            "vpc",
            "create",
            "--type",
            "dynamic",
            "--name",
            "other",
            "--dry-run",
        ],
    );
    assert_eq!(create.command, "vpc create");
    assert!(create.summary.create > 20, "{:?}", create.summary);
    assert_eq!(create.summary.delete, 0);
    w.ok(&["vpc", "create", "--type", "dynamic", "--name", "other"]);
    let update = plan_of(&w, &["vpc", "update", "--name", "other", "--dry-run"]);
    assert_eq!(update.summary.total(), 0, "a second run changes nothing");
    let destroy = plan_of(&w, &["vpc", "destroy", "--name", "other", "--dry-run"]);
    assert!(destroy.summary.delete > 20, "{:?}", destroy.summary);
    assert_eq!(destroy.summary.create, 0);

    w.write_pipeline(
        "ntp.csv",
        "sequence,hostclass,min_size,desired_size,max_size,instance_type,smoke_test\n\
         1,mhcntp,0,0,1,t2.micro,no\n",
    );
    let spinup = plan_of(
        &w,
        &[
            "aws",
            "spinup",
            "--pipeline",
            "pipelines/ntp.csv",
            "--dry-run",
        ],
    );
    assert_eq!(spinup.summary.create, 2, "a launch template and a group");
    assert_eq!(spinup.steps.depth, 2, "the group after its template");
    w.ok(&[
        "aws",
        "spinup",
        "--pipeline",
        "pipelines/ntp.csv",
        "--no-smoke-test",
    ]);
    let spindown = plan_of(
        &w,
        &[
            "aws",
            "spindown",
            "--pipeline",
            "pipelines/ntp.csv",
            "--dry-run",
        ],
    );
    assert_eq!(spindown.summary.delete, 1, "{:?}", spindown.steps.steps);

    let iam = plan_of(&w, &["iam", "update", "--environment", "demo", "--dry-run"]);
    assert!(iam.summary.create > 0, "{:?}", iam.summary);
    let buckets = plan_of(
        &w,
        &[
            "buckets",
            "update",
            "--account",
            "123456789012",
            "--dry-run",
        ],
    );
    assert!(buckets.summary.create > 0, "{:?}", buckets.summary);
}

/// The text of dry-run plans, as users read them: a change of layout is deliberate.
#[test]
fn dry_run_text_snapshots() {
    let w = World::new();
    let create = w.ok(&[
        "vpc",
        "create",
        "--type",
        "sandbox",
        "--name",
        "demo",
        "--dry-run",
    ]);
    insta::assert_snapshot!("vpc_create_dry_run", create);
    let iam = w.ok(&["iam", "update", "--environment", "demo", "--dry-run"]);
    insta::with_settings!({filters => vec![(r"\d{4}-\d{2}-\d{2}T\d{2}\.\d{2}\.\d{2}(\.\d+)?", "[TIMESTAMP]")]}, {
        insta::assert_snapshot!("iam_update_dry_run", iam);
    });
}
