//! `asiaq whoami` and `asiaq doctor` against moto, each test in an account of its own.

use std::collections::BTreeMap;
use std::process::{Command, Output, Stdio};

use asiaq_testkit::{AwsAccount, Moto};

/// Every service `asiaq doctor` probes, in its order.
const SERVICES: [&str; 17] = [
    "sts",
    "ec2",
    "autoscaling",
    "iam",
    "s3",
    "route53",
    "elasticloadbalancing",
    "elasticloadbalancingv2",
    "dynamodb",
    "elasticache",
    "opensearch",
    "rds",
    "cloudwatch",
    "logs",
    "sns",
    "ssm",
    "acm",
];

fn asiaq(account: &AwsAccount) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_asiaq"));
    account.configure(&mut cmd).stdin(Stdio::null());
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run asiaq")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("utf-8 output")
}

fn succeed(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{cmd:?}\nstdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// "key   value" lines of a two-column table.
fn table(output: &str) -> BTreeMap<String, String> {
    output
        .lines()
        .map(|line| {
            let (key, value) = line.split_once("  ").expect("two columns");
            (key.trim().to_string(), value.trim().to_string())
        })
        .collect()
}

#[test]
fn whoami_shows_account_region_and_endpoint() {
    let account = Moto::shared().new_account();
    let rows = table(&succeed(asiaq(&account).arg("whoami")));
    assert_eq!(rows["account"], account.account_id);
    assert_eq!(rows["region"], "us-west-2");
    assert_eq!(rows["endpoint"], account.endpoint);
    assert!(
        rows["arn"].starts_with(&format!("arn:aws:sts::{}:", account.account_id)),
        "{}",
        rows["arn"]
    );
    assert!(!rows["user id"].is_empty());
}

#[test]
fn whoami_as_json() {
    let account = Moto::shared().new_account();
    let out = succeed(asiaq(&account).args(["--output", "json", "whoami"]));
    let json: serde_json::Value = serde_json::from_str(&out).expect("JSON output");
    assert_eq!(json["account"], account.account_id.as_str());
    assert_eq!(json["region"], "us-west-2");
    assert_eq!(json["endpoint"], account.endpoint.as_str());
    assert!(json["arn"]
        .as_str()
        .unwrap()
        .starts_with(&format!("arn:aws:sts::{}:", account.account_id)));
}

#[test]
fn region_flag_overrides_the_environment() {
    let account = Moto::shared().new_account();
    let out =
        succeed(asiaq(&account).args(["--region", "eu-west-1", "--output", "json", "whoami"]));
    let json: serde_json::Value = serde_json::from_str(&out).expect("JSON output");
    assert_eq!(json["region"], "eu-west-1");
}

#[test]
fn debug_output_never_shows_the_secret_key_or_session_token() {
    let account = Moto::shared().new_account();
    let out = run(asiaq(&account).args(["--debug", "whoami"]));
    assert_eq!(out.status.code(), Some(0));
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(all.contains("GetCallerIdentity"), "--debug logs the calls");
    for (var, value) in account.env() {
        if var == "AWS_SECRET_ACCESS_KEY" || var == "AWS_SESSION_TOKEN" {
            assert!(!all.contains(&value), "{var} appears in the --debug output");
        }
    }
}

#[test]
fn doctor_probes_every_service_successfully() {
    let account = Moto::shared().new_account();
    let out = succeed(asiaq(&account).args(["--output", "json", "doctor"]));
    let outcomes: Vec<serde_json::Value> = serde_json::from_str(&out).expect("JSON output");
    let services: Vec<&str> = outcomes
        .iter()
        .map(|o| o["service"].as_str().unwrap())
        .collect();
    assert_eq!(services, SERVICES);
    for outcome in &outcomes {
        assert_eq!(outcome["ok"], true, "{outcome}");
    }
    let sts = &outcomes[0];
    assert_eq!(sts["detail"], format!("account {}", account.account_id));
}

#[test]
fn doctor_text_output() {
    let account = Moto::shared().new_account();
    let out = succeed(asiaq(&account).arg("doctor"));
    insta::with_settings!({filters => vec![(r"account \d{12}", "account [ACCOUNT]")]}, {
        insta::assert_snapshot!("doctor", out);
    });
}

#[test]
fn doctor_fails_with_exit_1_when_aws_cannot_be_reached() {
    let account = Moto::shared().new_account();
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = run(asiaq(&account)
        .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{closed}"))
        .args(["--output", "json", "doctor"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let outcomes: Vec<serde_json::Value> =
        serde_json::from_slice(&out.stdout).expect("JSON output");
    assert_eq!(outcomes.len(), SERVICES.len());
    assert!(outcomes.iter().all(|o| o["ok"] == false));
    assert!(
        text(&out.stderr).contains(&format!(
            "error: {n} of {n} services failed",
            n = SERVICES.len()
        )),
        "{}",
        text(&out.stderr)
    );
}
