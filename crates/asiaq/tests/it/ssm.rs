//! `asiaq ssm` (documents) and `asiaq aws exec-ssm` against moto, effects checked through
//! the SSM API. Every test has its own moto account: moto's SendCommand reaches every
//! instance of the region, whatever InstanceIds say, so what asiaq asked for is checked
//! from its own output and call counts as well as from moto's record of the command.

use std::path::PathBuf;

use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};

use crate::hosts_support::*;
use crate::identity_common::{mutating, with_stats};
use crate::support::text;

const EXAMPLE: &str = "example-run";

fn documents_dir(w: &World) -> PathBuf {
    w.config_path().join("ssm/documents")
}

fn write_doc(w: &World, name: &str, content: &str) {
    std::fs::write(documents_dir(w).join(format!("{name}.ssm")), content).unwrap();
}

fn remove_doc(w: &World, name: &str) {
    std::fs::remove_file(documents_dir(w).join(format!("{name}.ssm"))).unwrap();
}

fn example_text() -> String {
    std::fs::read_to_string(
        asiaq_testkit::examples_dir().join("sandbox/ssm/documents/example-run.ssm"),
    )
    .unwrap()
}

/// The account's own document names, through the API.
fn own_documents(w: &World) -> Vec<String> {
    let ssm = w.ssm();
    let mut names: Vec<String> =
        w.rt.block_on(
            ssm.list_documents()
                .filters(
                    aws_sdk_ssm::types::DocumentKeyValuesFilter::builder()
                        .key("Owner")
                        .values("Self")
                        .build(),
                )
                .max_results(50)
                .send(),
        )
        .unwrap()
        .document_identifiers()
        .iter()
        .filter_map(|d| d.name().map(str::to_string))
        .collect();
    names.sort();
    names
}

/// (default version, latest version, format, default content as JSON) of a document.
fn document(w: &World, name: &str) -> (String, String, String, serde_json::Value) {
    let ssm = w.ssm();
    let d =
        w.rt.block_on(ssm.describe_document().name(name).send())
            .unwrap()
            .document
            .unwrap();
    let content =
        w.rt.block_on(
            ssm.get_document()
                .name(name)
                .document_format(aws_sdk_ssm::types::DocumentFormat::Json)
                .send(),
        )
        .unwrap();
    (
        d.default_version().unwrap().to_string(),
        d.latest_version().unwrap().to_string(),
        d.document_format().unwrap().as_str().to_string(),
        serde_json::from_str(content.content().unwrap()).unwrap(),
    )
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap()
}

const YAML_DOC: &str = "schemaVersion: '2.2'
description: Say the date.
mainSteps:
  - action: aws:runShellScript
    name: date
    inputs:
      runCommand:
        - date
";

/// The documents of ssm/documents/ are created, changed in place (a new version made the
/// default, never deleted and created again) and deleted; the dry run shows each with a
/// diff; a run with nothing to change makes no mutating call; AWS-* documents are left
/// alone; a deletion on an account that is not a sandbox is refused without --yes.
#[test]
fn documents_are_created_updated_and_deleted() {
    let w = World::new();
    assert_eq!(w.ok(&["ssm", "list-documents"]), "");

    let (out, calls) = with_stats(w.asiaq().args(["ssm", "update-documents", "--dry-run"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let dry = text(&out.stdout);
    assert!(
        dry.contains(
            "SSM document example-run\n  + create SSM document example-run (Command, JSON)\n"
        ),
        "{dry}"
    );
    assert!(
        dry.ends_with("Plan: 1 to create, 0 to change, 0 to delete.\n"),
        "{dry}"
    );
    assert_eq!(mutating(&calls), Vec::<String>::new());
    assert!(own_documents(&w).is_empty(), "a dry run creates nothing");

    let out = w.ok(&["ssm", "update-documents"]);
    assert!(
        out.contains("done: create SSM document example-run"),
        "{out}"
    );
    let (default, latest, format, content) = document(&w, EXAMPLE);
    assert_eq!(
        (default.as_str(), latest.as_str(), format.as_str()),
        ("1", "1", "JSON")
    );
    assert_eq!(content, json(&example_text()));

    // Nothing changed: no mutating call, and the dry run says so.
    let (out, calls) = with_stats(w.asiaq().args(["ssm", "update-documents"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(mutating(&calls), Vec::<String>::new());
    assert!(
        text(&out.stdout).starts_with("no change"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(
        w.ok(&["ssm", "update-documents", "--dry-run"]),
        "No changes.\n"
    );

    let listed = w.ok(&["ssm", "list-documents", "--headers"]);
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 2, "{listed}");
    assert!(lines[0].starts_with(&format!("{:<30} {:<20} Platforms", "Name", "Owner")));
    assert!(
        lines[1].starts_with(&format!("{:<30} {:<20} ", EXAMPLE, w.account.account_id)),
        "{listed}"
    );
    let got = w.ok(&["ssm", "get-document", "--name", EXAMPLE]);
    assert_eq!(json(&got), json(&example_text()));
    let out = w.run(&["ssm", "get-document", "--name", "no-such-doc"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("there is no SSM document no-such-doc"));

    // A change and a YAML document; an AWS-* document of the account and an AWS-* file are
    // left alone.
    w.rt.block_on(
        w.ssm()
            .create_document()
            .name("AWS-Mine")
            .content(r#"{"schemaVersion": "2.2", "mainSteps": []}"#)
            .document_type(aws_sdk_ssm::types::DocumentType::Command)
            .send(),
    )
    .unwrap();
    write_doc(&w, "AWS-Other", YAML_DOC);
    let changed = example_text().replace("hello from asiaq", "hello again");
    write_doc(&w, EXAMPLE, &changed);
    write_doc(&w, "date-yaml", YAML_DOC);
    let dry = w.ok(&["ssm", "update-documents", "--dry-run"]);
    assert!(
        dry.contains(
            "  ~ update SSM document example-run (JSON): a new version, made the default\n"
        ),
        "{dry}"
    );
    assert!(
        dry.lines()
            .any(|l| l.trim_start().starts_with('-') && l.contains("\"hello from asiaq\"")),
        "{dry}"
    );
    assert!(
        dry.lines()
            .any(|l| l.trim_start().starts_with('+') && l.contains("\"hello again\"")),
        "{dry}"
    );
    assert!(
        dry.contains("  + create SSM document date-yaml (Command, YAML)\n"),
        "{dry}"
    );
    assert!(
        dry.ends_with("Plan: 1 to create, 1 to change, 0 to delete.\n"),
        "{dry}"
    );
    assert!(!dry.contains("AWS-"), "{dry}");
    let plan = json(&w.ok(&["ssm", "update-documents", "--dry-run", "--output", "json"]));
    assert_eq!(plan["schema"], "asiaq.plan/1");
    assert_eq!(plan["command"], "ssm update-documents");
    assert_eq!(plan["summary"]["update"], 1);

    let (out, calls) = with_stats(w.asiaq().args(["ssm", "update-documents"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        !calls.keys().any(|op| op.ends_with("DeleteDocument")),
        "{calls:?}"
    );
    assert_eq!(calls.get("ssm:UpdateDocument"), Some(&1), "{calls:?}");
    assert_eq!(
        calls.get("ssm:UpdateDocumentDefaultVersion"),
        Some(&1),
        "{calls:?}"
    );
    let (default, latest, _, content) = document(&w, EXAMPLE);
    assert_eq!((default.as_str(), latest.as_str()), ("2", "2"));
    assert_eq!(content, json(&changed));
    let (_, _, format, content) = document(&w, "date-yaml");
    assert_eq!(format, "YAML");
    assert_eq!(content["mainSteps"][0]["inputs"]["runCommand"][0], "date");
    assert_eq!(own_documents(&w), ["AWS-Mine", "date-yaml", EXAMPLE]);
    assert!(!w.ok(&["ssm", "list-documents"]).contains("AWS-"));
    // YAML compared as the JSON it denotes: nothing to do.
    let (_, calls) = with_stats(w.asiaq().args(["ssm", "update-documents"]));
    assert_eq!(mutating(&calls), Vec::<String>::new());

    // A deletion on an account without sandbox environments: refused without --yes.
    remove_doc(&w, "date-yaml");
    let dry = w.ok(&["ssm", "update-documents", "--dry-run"]);
    assert!(dry.contains("  - delete SSM document date-yaml\n"), "{dry}");
    let (out, calls) = with_stats(w.asiaq().args(["ssm", "update-documents"]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("Delete SSM document(s) date-yaml of this account"),
        "{}",
        text(&out.stderr)
    );
    assert!(text(&out.stderr).contains("refusing without confirmation"));
    assert_eq!(mutating(&calls), Vec::<String>::new());
    w.ok(&["ssm", "update-documents", "--yes"]);
    assert_eq!(own_documents(&w), ["AWS-Mine", EXAMPLE]);

    // An account whose environments are all sandboxes: no question.
    w.create_environment("demo", 101);
    write_doc(&w, "date-yaml", YAML_DOC);
    w.ok(&["ssm", "update-documents", "--no-wait"]);
    remove_doc(&w, "date-yaml");
    w.ok(&["ssm", "update-documents"]);
    assert_eq!(own_documents(&w), ["AWS-Mine", EXAMPLE]);

    // Back to the first content, which version 1 has: SSM refuses a version with the same
    // content, so version 1 is made the default again.
    write_doc(&w, EXAMPLE, &example_text());
    w.ok(&["ssm", "update-documents"]);
    let (default, latest, _, content) = document(&w, EXAMPLE);
    assert_eq!((default.as_str(), latest.as_str()), ("1", "2"));
    assert_eq!(content, json(&example_text()));
    let (_, calls) = with_stats(w.asiaq().args(["ssm", "update-documents"]));
    assert_eq!(mutating(&calls), Vec::<String>::new());
}

/// Bad document files exit 2 naming the file (and line), before any AWS call.
#[test]
fn bad_document_files_exit_2_with_file_and_line() {
    let w = World::new();
    let cases: [(&str, &str, &str); 6] = [
        (
            "broken",
            "{\n  \"schemaVersion\": \"2.2\",\n  \"mainSteps\": [\n}\n",
            "broken.ssm:4: invalid JSON",
        ),
        (
            "broken-yaml",
            "schemaVersion: '2.2'\nmainSteps:\n  - a: 1\n - b: 2\n",
            "broken-yaml.ssm:4: invalid YAML",
        ),
        (
            "no-version",
            "{\"description\": \"x\", \"mainSteps\": []}",
            "no-version.ssm: the document has no schemaVersion",
        ),
        (
            "amazon-run",
            "{\"schemaVersion\": \"2.2\"}",
            "amazon-run.ssm: \"amazon-run\" starts with \"amazon\", a prefix AWS keeps",
        ),
        (
            "ab",
            "{\"schemaVersion\": \"2.2\"}",
            "ab.ssm: \"ab\" is not a valid SSM document name",
        ),
        (
            "with space",
            "{\"schemaVersion\": \"2.2\"}",
            "with space.ssm: \"with space\" is not a valid SSM document name",
        ),
    ];
    for (name, content, expected) in cases {
        write_doc(&w, name, content);
        for args in [
            &["ssm", "update-documents"][..],
            &["ssm", "update-documents", "--dry-run"],
        ] {
            let (out, calls) = with_stats(w.asiaq().args(args));
            assert_eq!(out.status.code(), Some(2), "{name}: {}", text(&out.stderr));
            assert!(
                text(&out.stderr).contains(expected),
                "{name}: {}",
                text(&out.stderr)
            );
            assert!(calls.is_empty(), "{name}: no AWS call at all: {calls:?}");
        }
        remove_doc(&w, name);
    }
    assert!(own_documents(&w).is_empty());
    // `config validate` reports the same.
    write_doc(
        &w,
        "broken",
        "{\n  \"schemaVersion\": \"2.2\",\n  \"mainSteps\": [\n}\n",
    );
    let out = w.run(&["config", "validate"]);
    assert_eq!(out.status.code(), Some(2));
    let all = text(&out.stdout) + &text(&out.stderr);
    assert!(all.contains("broken.ssm:4: invalid JSON"), "{all}");
}

/// A fault at each mutating call of a run that creates, updates and deletes documents
/// fails it (exit 1); the same command run again finishes the job.
#[test]
fn a_fault_at_each_mutating_step_is_finished_by_running_again() {
    let w = World::new();
    let before = |w: &World| {
        write_doc(w, EXAMPLE, &example_text());
        write_doc(w, "old-doc", YAML_DOC);
        let _ = std::fs::remove_file(documents_dir(w).join("new-doc.ssm"));
    };
    // A new content each round, so that each round updates (a content an older version
    // has would only be made the default again).
    let changed = |n: u32| example_text().replace("hello from asiaq", &format!("hello {n}"));
    let after = |w: &World, n: u32| {
        write_doc(w, EXAMPLE, &changed(n));
        remove_doc(w, "old-doc");
        write_doc(w, "new-doc", YAML_DOC);
    };
    // CreateDocument, UpdateDocument, UpdateDocumentDefaultVersion, DeleteDocument.
    for n in 1..=4 {
        before(&w);
        w.ok(&["ssm", "update-documents", "--yes"]);
        after(&w, n);
        let out = w
            .asiaq()
            .args(["ssm", "update-documents", "--yes"])
            .env("ASIAQ_INJECT_FAULT", format!("mutating:{n}"))
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "mutating:{n}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains("fault injected"),
            "{}",
            text(&out.stderr)
        );
        w.ok(&["ssm", "update-documents", "--yes"]);
        assert_eq!(own_documents(&w), [EXAMPLE, "new-doc"], "mutating:{n}");
        assert_eq!(document(&w, EXAMPLE).3, json(&changed(n)), "mutating:{n}");
        let (_, calls) = with_stats(w.asiaq().args(["ssm", "update-documents", "--yes"]));
        assert_eq!(mutating(&calls), Vec::<String>::new(), "mutating:{n}");
    }
}

/// Launches `n` instances of `hostclass` in the first subnet of `vpc` (hostnames
/// `<hostclass>-<i>` when `hostnames`); returns their ids.
fn launch(
    w: &World,
    vpc: &str,
    ami: &str,
    hostclass: &str,
    n: i32,
    hostnames: bool,
) -> Vec<String> {
    let ec2 = w.ec2();
    w.rt.block_on(async {
        let subnet = ec2
            .describe_subnets()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("vpc-id")
                    .values(vpc)
                    .build(),
            )
            .send()
            .await
            .unwrap()
            .subnets()[0]
            .subnet_id()
            .unwrap()
            .to_string();
        let ids: Vec<String> = ec2
            .run_instances()
            .image_id(ami)
            .instance_type(aws_sdk_ec2::types::InstanceType::T2Micro)
            .min_count(n)
            .max_count(n)
            .subnet_id(subnet)
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::Instance)
                    .tags(Tag::builder().key("hostclass").value(hostclass).build())
                    .build(),
            )
            .send()
            .await
            .unwrap()
            .instances()
            .iter()
            .map(|i| i.instance_id().unwrap().to_string())
            .collect();
        if hostnames {
            for (i, id) in ids.iter().enumerate() {
                ec2.create_tags()
                    .resources(id)
                    .tags(
                        Tag::builder()
                            .key("hostname")
                            .value(format!("{hostclass}-{i}"))
                            .build(),
                    )
                    .send()
                    .await
                    .unwrap();
            }
        }
        ids
    })
}

/// Gives the copied configuration an output bucket name of its own (bucket names are global
/// in moto too) and returns it.
fn own_bucket_base(w: &World) -> String {
    let base = format!("ssm-test-{}", w.account.account_id);
    let ini = w.config_path().join("disco_aws.ini");
    let text = std::fs::read_to_string(&ini).unwrap();
    assert!(text.contains("s3_bucket_base=asiaq-example-data\n"));
    std::fs::write(
        &ini,
        text.replace(
            "s3_bucket_base=asiaq-example-data\n",
            &format!("s3_bucket_base={base}\n"),
        ),
    )
    .unwrap();
    format!("{base}--ssm--sandbox")
}

/// The commands moto recorded: (document, parameters, comment, bucket, max concurrency,
/// max errors).
fn commands(w: &World) -> Vec<aws_sdk_ssm::types::Command> {
    let ssm = w.ssm();
    w.rt.block_on(ssm.list_commands().send())
        .unwrap()
        .commands()
        .to_vec()
}

/// exec-ssm runs a document on the instances of the selector only (asiaq's records and
/// its one SendCommand), with the parameters, comment and rates given, prints each
/// instance's header with its hostname, and uses the output bucket when it exists.
#[test]
fn exec_ssm_runs_a_document_on_the_selected_instances() {
    let w = World::new();
    let bucket = own_bucket_base(&w);
    let vpc = w.create_environment("demo", 101);
    let ami = w.create_ami("mhcweb", 1_700_000_000, "tested");
    let web = launch(&w, &vpc, &ami, "mhcweb", 2, true);
    let app = launch(&w, &vpc, &ami, "mhcapp", 1, false);
    w.ok(&["ssm", "update-documents"]);

    let args = [
        "aws",
        "exec-ssm",
        "--env",
        "demo",
        "--document",
        EXAMPLE,
        "--hostclass",
        "mhcweb",
        "--parameters",
        "message=hi=there",
        "--comment",
        "from a test",
        "--max-concurrency",
        "50%",
        "--max-errors",
        "1",
    ];
    let (out, calls) = with_stats(w.asiaq().args(args).args(["--output", "json"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("is limited to 2500 characters"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(calls.get("ssm:SendCommand"), Some(&1), "{calls:?}");
    let records = json(&text(&out.stdout));
    let mut ids: Vec<String> = records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["instance_id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    let mut want = web.clone();
    want.sort();
    assert_eq!(ids, want, "only mhcweb, not {app:?}");
    for r in records.as_array().unwrap() {
        assert_eq!(r["status"], "Success", "{r}");
        assert_eq!(r["response_code"], 0, "{r}");
        assert!(
            r["hostname"].as_str().unwrap().starts_with("mhcweb-"),
            "{r}"
        );
    }
    let sent = commands(&w);
    assert_eq!(sent.len(), 1);
    let c = &sent[0];
    assert_eq!(c.document_name(), Some(EXAMPLE));
    assert_eq!(c.comment(), Some("from a test"));
    assert_eq!(c.max_concurrency(), Some("50%"));
    assert_eq!(c.max_errors(), Some("1"));
    assert_eq!(
        c.parameters().unwrap().get("message").unwrap(),
        &vec!["hi=there".to_string()]
    );
    assert!(c.output_s3_bucket_name().unwrap_or_default().is_empty());
    assert!(records[0]["command_id"] == c.command_id().unwrap());

    // With the output bucket: it is passed, and the text output has a header per instance.
    w.rt.block_on(
        w.s3()
            .create_bucket()
            .bucket(&bucket)
            .create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::UsWest2)
                    .build(),
            )
            .send(),
    )
    .unwrap();
    let out = w.run(&[
        "aws",
        "exec-ssm",
        "--env",
        "demo",
        "--document",
        EXAMPLE,
        "--hostname",
        "mhcweb-1",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let one = w
        .instances()
        .into_iter()
        .find(|i| tag_value(i.tags(), "hostname") == Some("mhcweb-1"));
    let one = one.unwrap().instance_id().unwrap().to_string();
    assert_eq!(stdout, format!("==> {one} (mhcweb-1): Success (exit 0)\n"));
    assert!(
        !text(&out.stderr).contains("limited"),
        "{}",
        text(&out.stderr)
    );
    let sent = commands(&w);
    assert_eq!(sent.len(), 2);
    assert!(sent
        .iter()
        .any(|c| c.output_s3_bucket_name() == Some(bucket.as_str())));
}

/// 55 instances go in two SendCommand calls (50 and 5), sent at once; each instance has
/// one record.
#[test]
fn exec_ssm_sends_batches_of_50() {
    let w = World::new();
    let vpc = w.create_environment("demo", 101);
    let ami = w.create_ami("mhcbatch", 1_700_000_000, "tested");
    let ids = launch(&w, &vpc, &ami, "mhcbatch", 55, false);
    w.ok(&["ssm", "update-documents"]);
    let (out, calls) = with_stats(w.asiaq().args([
        "aws",
        "exec-ssm",
        "--env",
        "demo",
        "--document",
        EXAMPLE,
        "--hostclass",
        "mhcbatch",
        "--output",
        "json",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(calls.get("ssm:SendCommand"), Some(&2), "{calls:?}");
    assert_eq!(
        calls.get("ssm:GetCommandInvocation"),
        Some(&55),
        "{calls:?}"
    );
    let records = json(&text(&out.stdout));
    let records = records.as_array().unwrap();
    assert_eq!(records.len(), 55);
    let mut per_command = std::collections::BTreeMap::<String, Vec<String>>::new();
    for r in records {
        per_command
            .entry(r["command_id"].as_str().unwrap().to_string())
            .or_default()
            .push(r["instance_id"].as_str().unwrap().to_string());
    }
    let mut sizes: Vec<usize> = per_command.values().map(Vec::len).collect();
    sizes.sort();
    assert_eq!(sizes, [5, 50]);
    let mut seen: Vec<String> = per_command.into_values().flatten().collect();
    seen.sort();
    let mut want = ids;
    want.sort();
    assert_eq!(seen, want);
}

/// An unknown document, parameters it does not declare or malformed ones, bad rates, and
/// a selection without instances: exit 2 (1 for no instances) and no mutating call.
#[test]
fn exec_ssm_bad_input_is_refused_before_any_change() {
    let w = World::new();
    let vpc = w.create_environment("demo", 101);
    let ami = w.create_ami("mhcweb", 1_700_000_000, "tested");
    launch(&w, &vpc, &ami, "mhcweb", 1, false);
    w.ok(&["ssm", "update-documents"]);
    let base = ["aws", "exec-ssm", "--env", "demo", "--hostclass", "mhcweb"];
    let cases: [(&[&str], i32, &str); 7] = [
        (
            &["--document", "no-such-doc"],
            2,
            "there is no SSM document no-such-doc",
        ),
        (
            &["--document", EXAMPLE, "--parameters", "msg=x"],
            2,
            "document example-run has no parameter \"msg\" (it declares message)",
        ),
        (
            &["--document", EXAMPLE, "--parameters", "message"],
            2,
            "--parameters: \"message\" is not key=value",
        ),
        (
            &[
                "--document",
                EXAMPLE,
                "--parameters",
                "message=a",
                "--parameters",
                "message=b",
            ],
            2,
            "takes one value, given 2",
        ),
        (
            &["--document", EXAMPLE, "--max-concurrency", "lots"],
            2,
            "--max-concurrency \"lots\": expected a number or a percentage",
        ),
        (
            &["--document", EXAMPLE, "--max-errors", "200%"],
            2,
            "--max-errors \"200%\"",
        ),
        (
            &["--document", EXAMPLE, "--hostclass", "mhcnone"],
            1,
            "no running instances match",
        ),
    ];
    for (args, code, expected) in cases {
        let mut all: Vec<&str> = base.to_vec();
        if args.contains(&"mhcnone") {
            all.truncate(4);
        }
        all.extend_from_slice(args);
        let (out, calls) = with_stats(w.asiaq().args(&all).env("ASIAQ_INJECT_FAULT", "mutating:1"));
        assert_eq!(
            out.status.code(),
            Some(code),
            "{all:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(expected),
            "{all:?}: {}",
            text(&out.stderr)
        );
        assert_eq!(mutating(&calls), Vec::<String>::new(), "{all:?}");
    }
    // A selector is required, and only one kind.
    let out = w.run(&["aws", "exec-ssm", "--env", "demo", "--document", EXAMPLE]);
    assert_eq!(out.status.code(), Some(2));
    let out = w.run(&[
        "aws",
        "exec-ssm",
        "--env",
        "demo",
        "--document",
        EXAMPLE,
        "--hostclass",
        "mhcweb",
        "--ami",
        &ami,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(commands(&w).is_empty());
}

/// Benchmark, not a test (`#[ignore]`d, never run by CI): `aws exec-ssm` on 120 instances
/// through asiaq-proxy adding a fixed latency to every call (`ASIAQ_BENCH_LATENCY_MS`,
/// default 50), against the minimum: 3 SendCommand calls (50 + 50 + 20 instances, sent at
/// once: one round) plus the polling (one GetCommandInvocation per instance, as moto ends
/// every invocation at once), after the reads that find the document, the environment, its
/// instances and the output bucket. Prints calls and wall time at 0 ms and at the latency.
///
/// ```text
/// ASIAQ_BENCH_LATENCY_MS=50 cargo test --workspace --test it ssm::bench -- --ignored --nocapture
/// ```
#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn bench_exec_ssm_120_instances() {
    use asiaq_proxy::{Proxy, ProxyConfig};
    use std::time::Instant;

    let latency_ms: u64 = std::env::var("ASIAQ_BENCH_LATENCY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let w = World::new();
    let vpc = w.create_environment("demo", 101);
    let ami = w.create_ami("mhcbench", 1_700_000_000, "tested");
    launch(&w, &vpc, &ami, "mhcbench", 120, false);
    w.ok(&["ssm", "update-documents"]);
    println!("aws exec-ssm on 120 instances (3 batches)");
    println!("| added latency | wall | calls | SendCommand | GetCommandInvocation | other reads | minimum calls (3 + 120) |");
    println!("|---|---|---|---|---|---|---|");
    for latency in [0, latency_ms] {
        let mut config = ProxyConfig::new(asiaq_testkit::Moto::shared().endpoint());
        config.latency_ms = latency;
        config.ec2_throttling = false;
        let proxy = Proxy::start(config).expect("start asiaq-proxy");
        let started = Instant::now();
        let (out, calls) = with_stats(w.asiaq().env("AWS_ENDPOINT_URL", proxy.endpoint()).args([
            "aws",
            "exec-ssm",
            "--env",
            "demo",
            "--document",
            EXAMPLE,
            "--hostclass",
            "mhcbench",
            "--output",
            "json",
        ]));
        let wall = started.elapsed().as_secs_f64();
        proxy.shutdown();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(json(&text(&out.stdout)).as_array().unwrap().len(), 120);
        let total: u64 = calls.values().sum();
        let send = calls.get("ssm:SendCommand").copied().unwrap_or(0);
        let polls = calls.get("ssm:GetCommandInvocation").copied().unwrap_or(0);
        println!(
            "| +{latency} ms | {wall:.2} s | {total} | {send} | {polls} | {} | 123 |",
            total - send - polls
        );
        for (op, n) in &calls {
            println!("    {op}: {n}");
        }
    }
}
