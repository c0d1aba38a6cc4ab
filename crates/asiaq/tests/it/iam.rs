//! `asiaq iam` against moto: `update` on the example tree (twice, then after edits), scoped
//! deletions, the SAML provider from a local HTTP server, bad trees, fault injection, and
//! the listing and key commands. Effects are checked through the IAM API.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::identity_common::*;
use asiaq_testkit::{AwsAccount, Moto};
use serde_json::Value;

fn iam_client(account: &AwsAccount) -> aws_sdk_iam::Client {
    let conf = runtime().block_on(account.sdk_config());
    aws_sdk_iam::Client::new(&conf)
}

fn decode(doc: &str) -> Value {
    serde_json::from_str(doc).unwrap_or_else(|_| {
        let decoded = percent_decode(doc);
        serde_json::from_str(&decoded).expect("a JSON policy document")
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// The state of the account as the tests look at it.
#[derive(Debug, Default)]
struct IamState {
    /// group -> (members, inline policy name -> document)
    groups: BTreeMap<String, (BTreeSet<String>, BTreeMap<String, Value>)>,
    /// role -> (trust, inline policy name -> document)
    roles: BTreeMap<String, (Value, BTreeMap<String, Value>)>,
    profiles: BTreeMap<String, BTreeSet<String>>,
    users: BTreeSet<String>,
    providers: Vec<String>,
}

fn state(account: &AwsAccount) -> IamState {
    let iam = iam_client(account);
    runtime().block_on(async {
        let mut s = IamState::default();
        for g in iam.list_groups().send().await.unwrap().groups() {
            let name = g.group_name().to_string();
            let members = iam
                .get_group()
                .group_name(&name)
                .send()
                .await
                .unwrap()
                .users()
                .iter()
                .map(|u| u.user_name().to_string())
                .collect();
            let mut policies = BTreeMap::new();
            for p in iam
                .list_group_policies()
                .group_name(&name)
                .send()
                .await
                .unwrap()
                .policy_names()
            {
                let doc = iam
                    .get_group_policy()
                    .group_name(&name)
                    .policy_name(p)
                    .send()
                    .await
                    .unwrap();
                policies.insert(p.clone(), decode(doc.policy_document()));
            }
            s.groups.insert(name, (members, policies));
        }
        for r in iam.list_roles().send().await.unwrap().roles() {
            let name = r.role_name().to_string();
            let trust = decode(r.assume_role_policy_document().unwrap());
            let mut policies = BTreeMap::new();
            for p in iam
                .list_role_policies()
                .role_name(&name)
                .send()
                .await
                .unwrap()
                .policy_names()
            {
                let doc = iam
                    .get_role_policy()
                    .role_name(&name)
                    .policy_name(p)
                    .send()
                    .await
                    .unwrap();
                policies.insert(p.clone(), decode(doc.policy_document()));
            }
            s.roles.insert(name, (trust, policies));
        }
        for p in iam
            .list_instance_profiles()
            .send()
            .await
            .unwrap()
            .instance_profiles()
        {
            s.profiles.insert(
                p.instance_profile_name().to_string(),
                p.roles()
                    .iter()
                    .map(|r| r.role_name().to_string())
                    .collect(),
            );
        }
        s.users = iam
            .list_users()
            .send()
            .await
            .unwrap()
            .users()
            .iter()
            .map(|u| u.user_name().to_string())
            .collect();
        s.providers = iam
            .list_saml_providers()
            .send()
            .await
            .unwrap()
            .saml_provider_list()
            .iter()
            .filter_map(|p| p.arn().map(str::to_string))
            .collect();
        s
    })
}

fn json_file(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn only_policy(policies: &BTreeMap<String, Value>, prefix: &str) -> Value {
    assert_eq!(policies.len(), 1, "{policies:#?}");
    let (name, doc) = policies.iter().next().unwrap();
    assert!(name.starts_with(&format!("{prefix}_")), "{name}");
    doc.clone()
}

/// Things created outside asiaq that `iam update` must not touch.
fn create_unrelated(account: &AwsAccount) {
    let iam = iam_client(account);
    runtime().block_on(async {
        iam.create_group().group_name("Developers").send().await.unwrap();
        iam.create_role()
            .role_name("ci-deployer")
            .assume_role_policy_document(
                r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
            )
            .send()
            .await
            .unwrap();
        iam.create_user().user_name("carol").send().await.unwrap();
        iam.add_user_to_group()
            .group_name("Developers")
            .user_name("carol")
            .send()
            .await
            .unwrap();
    });
}

fn update(account: &AwsAccount, config: &Path, extra: &[&str]) -> std::process::Command {
    let mut cmd = asiaq(account, config);
    cmd.args(["iam", "update", "--environment", "demo"])
        .args(extra);
    cmd
}

#[test]
fn update_syncs_the_example_tree_then_converges_then_follows_edits() {
    let account = Moto::shared().new_account();
    let config = example_config();
    let cfg = config.path();
    create_unrelated(&account);

    // First run: everything is created.
    let (out, calls) = with_stats(&mut update(&account, cfg, &[]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!mutating(&calls).is_empty());
    let s = state(&account);
    let iam_dir = cfg.join("iam");
    for p in ["admin", "billing", "readonly"] {
        let (_, policies) = &s.groups[&format!("disco_{p}")];
        assert_eq!(
            only_policy(policies, p),
            json_file(&iam_dir.join(format!("user_policies/{p}.iam")))
        );
    }
    assert_eq!(
        s.groups["disco_admin"].0,
        BTreeSet::from(["alice@example.com".to_string()])
    );
    assert_eq!(
        s.groups["disco_readonly"].0,
        BTreeSet::from([
            "alice@example.com".to_string(),
            "bob@example.com".to_string()
        ])
    );
    assert_eq!(
        s.groups["disco_billing"].0,
        BTreeSet::from(["bob@example.com".to_string()])
    );
    // Trust roles: <role_prefix>_<env>_<policy>, naked "billing" with its .tr trust.
    let federation = json_file(&iam_dir.join("federation/AssumeRolePolicyDocument.iam"));
    assert_eq!(s.roles["example_demo_admin"].0, federation);
    assert_eq!(s.roles["example_demo_readonly"].0, federation);
    assert_eq!(
        s.roles["billing"].0,
        json_file(&iam_dir.join("user_policies/billing.tr"))
    );
    assert_eq!(
        only_policy(&s.roles["example_demo_readonly"].1, "readonly"),
        json_file(&iam_dir.join("user_policies/readonly.iam"))
    );
    // Instance role and profile.
    let (trust, policies) = &s.roles["instance_example_common"];
    assert_eq!(
        trust["Statement"][0]["Principal"]["Service"][0],
        "ec2.amazonaws.com"
    );
    assert_eq!(
        only_policy(policies, "example_common"),
        json_file(&iam_dir.join("instance_policies/example_common.iam"))
    );
    assert_eq!(
        s.profiles["instance_example_common"],
        BTreeSet::from(["instance_example_common".to_string()])
    );
    // Users are created and tagged as asiaq's.
    assert!(s.users.contains("alice@example.com") && s.users.contains("bob@example.com"));
    let client = iam_client(&account);
    let tags = runtime().block_on(async {
        client
            .list_user_tags()
            .user_name("bob@example.com")
            .send()
            .await
            .unwrap()
    });
    assert!(tags
        .tags()
        .iter()
        .any(|t| t.key() == "managed-by" && t.value() == "asiaq"));
    // Unrelated things survive.
    assert!(s.groups.contains_key("Developers") && s.roles.contains_key("ci-deployer"));
    assert!(s.users.contains("carol"));

    // Second run: an empty plan and not one mutating call.
    let (out, calls) = with_stats(&mut update(&account, cfg, &[]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(mutating(&calls), Vec::<String>::new(), "{calls:#?}");
    assert!(
        text(&out.stdout).contains("nothing to change"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stdout).contains("note: user carol"),
        "{}",
        text(&out.stdout)
    );

    // Edits: a changed policy, a removed user (whose group is then empty), a blacklisted
    // policy for this environment only.
    let readonly = iam_dir.join("user_policies/readonly.iam");
    let mut doc = json_file(&readonly);
    doc["Statement"][0]["Action"] = serde_json::json!(["ec2:Describe*"]);
    std::fs::write(&readonly, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    std::fs::remove_file(iam_dir.join("group_membership/demo/bob@example.com.grp")).unwrap();
    let ini = cfg.join("disco_aws.ini");
    let text_ini = std::fs::read_to_string(&ini)
        .unwrap()
        .replace("[iam]\n", "[iam]\npolicy_blacklist@demo=admin\n");
    std::fs::write(&ini, text_ini).unwrap();

    // The dry run shows the plan and changes nothing.
    let (out, calls) = with_stats(&mut update(&account, cfg, &["--dry-run"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(mutating(&calls), Vec::<String>::new());
    let plan = text(&out.stdout);
    for line in [
        "- delete user bob@example.com",
        "- delete group disco_billing",
        "- delete role example_demo_admin",
        "on group disco_readonly",
        "on role example_demo_readonly",
    ] {
        assert!(plan.contains(line), "{line:?} not in the plan:\n{plan}");
    }
    assert!(state(&account).users.contains("bob@example.com"));

    let out = succeed(&mut update(&account, cfg, &["--output", "json"]));
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["dry_run"], false);
    assert_eq!(
        report["applied"],
        report["actions"].as_array().unwrap().len()
    );
    let s = state(&account);
    assert_eq!(only_policy(&s.groups["disco_readonly"].1, "readonly"), doc);
    assert_eq!(
        only_policy(&s.roles["example_demo_readonly"].1, "readonly"),
        doc
    );
    assert_eq!(
        s.groups["disco_readonly"].0,
        BTreeSet::from(["alice@example.com".to_string()])
    );
    assert!(!s.users.contains("bob@example.com"));
    assert!(
        !s.groups.contains_key("disco_billing"),
        "emptied group pruned"
    );
    assert!(
        s.groups.contains_key("disco_admin"),
        "blacklist keeps the group"
    );
    assert!(
        !s.roles.contains_key("example_demo_admin"),
        "blacklist drops the role"
    );
    assert!(s.roles.contains_key("billing"));
    assert!(s.groups.contains_key("Developers") && s.roles.contains_key("ci-deployer"));
    assert!(s.users.contains("carol"));
    assert_eq!(
        s.groups["Developers"].0,
        BTreeSet::from(["carol".to_string()])
    );

    // And it converges again.
    let (_, calls) = with_stats(&mut update(&account, cfg, &[]));
    assert_eq!(mutating(&calls), Vec::<String>::new());
}

#[test]
fn delete_unmanaged_restores_the_original_reach() {
    let account = Moto::shared().new_account();
    let config = example_config();
    let cfg = config.path();
    create_unrelated(&account);
    let ini = cfg.join("disco_aws.ini");
    let text_ini = std::fs::read_to_string(&ini)
        .unwrap()
        .replace("[iam]\n", "[iam]\ndelete_unmanaged=true\n");
    std::fs::write(&ini, text_ini).unwrap();
    succeed(&mut update(&account, cfg, &[]));
    let s = state(&account);
    assert!(!s.groups.contains_key("Developers"));
    assert!(!s.users.contains("carol"));
    // Not a role_prefix role: the original left it too.
    assert!(s.roles.contains_key("ci-deployer"));
}

/// A one-file HTTP server on loopback; returns its URL and the document it serves.
fn metadata_server() -> (String, Arc<Mutex<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/metadata.xml", listener.local_addr().unwrap());
    let doc = Arc::new(Mutex::new(
        r#"<?xml version="1.0"?><EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example.com/one"/>"#
            .to_string(),
    ));
    let served = doc.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let body = served.lock().unwrap().clone();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, doc)
}

#[test]
fn saml_provider_comes_from_its_url_and_federates_the_roles() {
    let account = Moto::shared().new_account();
    let config = example_config();
    let cfg = config.path();
    let (url, doc) = metadata_server();
    let ini = cfg.join("disco_aws.ini");
    let text_ini = std::fs::read_to_string(&ini).unwrap().replace(
        "saml_provider_name=\nsaml_provider_url=\n",
        &format!("saml_provider_name=exampleidp\nsaml_provider_url={url}\n"),
    );
    assert!(text_ini.contains("exampleidp"));
    std::fs::write(&ini, text_ini).unwrap();

    succeed(&mut update(&account, cfg, &[]));
    let arn = format!(
        "arn:aws:iam::{}:saml-provider/exampleidp",
        account.account_id
    );
    let s = state(&account);
    assert_eq!(s.providers, vec![arn.clone()]);
    assert_eq!(
        s.roles["example_demo_readonly"].0["Statement"][0]["Principal"]["Federated"],
        arn.as_str()
    );
    let iam = iam_client(&account);
    let metadata = || {
        runtime().block_on(async {
            iam.get_saml_provider()
                .saml_provider_arn(&arn)
                .send()
                .await
                .unwrap()
                .saml_metadata_document()
                .unwrap()
                .to_string()
        })
    };
    assert_eq!(metadata(), *doc.lock().unwrap());

    let (_, calls) = with_stats(&mut update(&account, cfg, &[]));
    assert_eq!(mutating(&calls), Vec::<String>::new());

    // New metadata at the URL: the provider is updated in place.
    let two = doc.lock().unwrap().replace("/one", "/two");
    *doc.lock().unwrap() = two;
    let (out, calls) = with_stats(&mut update(&account, cfg, &[]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        mutating(&calls),
        vec!["iam:UpdateSAMLProvider x1".to_string()]
    );
    assert!(metadata().contains("/two"));
}

#[test]
fn saml_url_must_be_https_or_loopback() {
    let account = Moto::shared().new_account();
    let config = example_config();
    let cfg = config.path();
    let ini = cfg.join("disco_aws.ini");
    let text_ini = std::fs::read_to_string(&ini).unwrap().replace(
        "saml_provider_name=\nsaml_provider_url=\n",
        "saml_provider_name=x\nsaml_provider_url=http://idp.example.com/m.xml\n",
    );
    std::fs::write(&ini, text_ini).unwrap();
    let (out, calls) = with_stats(&mut update(&account, cfg, &[]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("only for loopback"),
        "{}",
        text(&out.stderr)
    );
    assert!(calls.is_empty(), "{calls:?}");
}

#[test]
fn bad_trees_fail_before_any_aws_call() {
    let account = Moto::shared().new_account();
    let cases: [(&str, &str, &str); 3] = [
        (
            "iam/user_policies/readonly.iam",
            "{\n  \"Statement\": [\n}\n",
            "readonly.iam:3: invalid JSON",
        ),
        (
            "iam/group_membership/demo/bob@example.com.grp",
            "readonly nosuch\n",
            "bob@example.com.grp: user bob@example.com is in group \"nosuch\"",
        ),
        (
            "iam/user_policies/orphan.tr",
            "{\"Statement\": []}",
            "orphan.tr: trust document for policy \"orphan\"",
        ),
    ];
    for (file, content, expected) in cases {
        let config = example_config();
        std::fs::write(config.path().join(file), content).unwrap();
        let (out, calls) = with_stats(&mut update(&account, config.path(), &[]));
        assert_eq!(out.status.code(), Some(2), "{file}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(expected),
            "{expected:?} not in {}",
            text(&out.stderr)
        );
        assert!(calls.is_empty(), "{file}: {calls:?}");
    }
    // An environment with no group_membership directory is refused (a typo would sync the
    // wrong roles).
    let config = example_config();
    let out = expect_code(
        asiaq(&account, config.path()).args(["iam", "update", "--environment", "dmeo"]),
        2,
    );
    assert!(text(&out.stderr).contains("no directory for IAM environment \"dmeo\""));
    // --environment is required.
    let out = expect_code(asiaq(&account, config.path()).args(["iam", "update"]), 2);
    assert!(text(&out.stderr).contains("--environment"));
    assert!(state(&account).groups.is_empty());
}

#[test]
fn a_failed_sync_is_finished_by_running_it_again() {
    let account = Moto::shared().new_account();
    let config = example_config();
    let cfg = config.path();
    // Each run applies part of what is left: faults at the 1st, then the 2nd change.
    for n in [1, 2] {
        let out = expect_code(
            update(&account, cfg, &[]).env("ASIAQ_INJECT_FAULT", format!("mutating:{n}")),
            1,
        );
        let err = text(&out.stderr);
        assert!(err.contains("fault injected"), "{err}");
        assert!(err.contains("run `asiaq iam update` again"), "{err}");
    }
    succeed(&mut update(&account, cfg, &[]));
    let (_, calls) = with_stats(&mut update(&account, cfg, &[]));
    assert_eq!(mutating(&calls), Vec::<String>::new());
    let s = state(&account);
    assert_eq!(s.groups.len(), 3);
    assert_eq!(s.roles.len(), 4);
    for (name, (_, policies)) in &s.roles {
        assert_eq!(policies.len(), 1, "{name}: {policies:?}");
    }
}

#[test]
fn listings_and_access_keys() {
    let account = Moto::shared().new_account();
    let config = example_config();
    let cfg = config.path();
    succeed(&mut update(&account, cfg, &[]));
    let iam = |args: &[&str]| {
        let mut c = asiaq(&account, cfg);
        c.arg("iam").args(args);
        c
    };
    assert_eq!(
        succeed(&mut iam(&["listgroups"])),
        "disco_admin\ndisco_billing\ndisco_readonly\n"
    );
    let users = succeed(&mut iam(&["listusers"]));
    assert!(
        users.contains("alice@example.com disco_admin,disco_readonly\n"),
        "{users}"
    );
    assert_eq!(
        succeed(&mut iam(&[
            "listusergroups",
            "--user_name",
            "bob@example.com"
        ])),
        "disco_billing\ndisco_readonly\n"
    );
    let policies = succeed(&mut iam(&[
        "listgrouppolicies",
        "--group_name",
        "disco_admin",
    ]));
    let policy = policies.trim();
    assert!(policy.starts_with("admin_"), "{policy}");
    let doc = succeed(&mut iam(&[
        "getgrouppolicy",
        "--group_name",
        "disco_admin",
        "--policy_name",
        policy,
    ]));
    assert_eq!(
        serde_json::from_str::<Value>(&doc).unwrap(),
        json_file(&cfg.join("iam/user_policies/admin.iam"))
    );
    let roles = succeed(&mut iam(&["listroles", "--federation"]));
    assert!(roles.contains("example_demo_admin\tfederated\n"), "{roles}");
    assert!(
        roles.contains("instance_example_common\tunfederated\n"),
        "{roles}"
    );
    assert_eq!(
        succeed(&mut iam(&["listinstanceprofiles"])),
        "instance_example_common\n"
    );
    assert!(
        succeed(&mut iam(&["listrolepolicies", "--role_name", "billing"])).starts_with("billing_")
    );
    assert_eq!(succeed(&mut iam(&["listproviders"])), "");
    let json: Value =
        serde_json::from_str(&succeed(&mut iam(&["--output", "json", "listusers"]))).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);

    // Keys: create (the secret is printed once), list, deactivate, remove.
    let created = succeed(&mut iam(&["createkey", "--user_name", "alice@example.com"]));
    let lines: Vec<&str> = created.lines().collect();
    assert_eq!(lines[0], "[Credentials]");
    let key_id = lines[1]
        .strip_prefix("aws_access_key_id = ")
        .unwrap()
        .to_string();
    assert!(lines[2].starts_with("aws_secret_access_key = "));
    let listed = succeed(&mut iam(&["listkeys", "--user_name", "alice@example.com"]));
    assert!(
        listed.contains(&key_id) && listed.contains("Active"),
        "{listed}"
    );
    assert!(!listed.contains(lines[2].trim_start_matches("aws_secret_access_key = ")));
    let status = |account: &AwsAccount| {
        let client = iam_client(account);
        runtime().block_on(async {
            client
                .list_access_keys()
                .user_name("alice@example.com")
                .send()
                .await
                .unwrap()
                .access_key_metadata()
                .iter()
                .map(|k| k.status().unwrap().as_str().to_string())
                .collect::<Vec<_>>()
        })
    };
    let key = [
        "--user_name",
        "alice@example.com",
        "--access_key_id",
        key_id.as_str(),
    ];
    let (_, calls) = with_stats(iam(&["deactivatekey"]).args(key).arg("--dry-run"));
    assert!(calls.is_empty());
    assert_eq!(status(&account), vec!["Active"]);
    succeed(iam(&["deactivatekey"]).args(key));
    assert_eq!(status(&account), vec!["Inactive"]);
    succeed(iam(&["activatekey"]).args(key));
    assert_eq!(status(&account), vec!["Active"]);
    succeed(iam(&["removekey"]).args(key));
    assert!(status(&account).is_empty());
    // A key of a user the sync manages does not stop the user's deletion.
    succeed(&mut iam(&["createkey", "--user_name", "bob@example.com"]));
    std::fs::remove_file(cfg.join("iam/group_membership/demo/bob@example.com.grp")).unwrap();
    succeed(&mut update(&account, cfg, &[]));
    assert!(!state(&account).users.contains("bob@example.com"));
}
