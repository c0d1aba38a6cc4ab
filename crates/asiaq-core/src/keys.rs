//! `keys rotate` (the original's `disco_keys_rotate.sh`): which SSH keys an environment has,
//! where they live in its credential bucket, which one is also an EC2 key pair, and which
//! SSL keys and certificates the host files ask the bucket for.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::plan::{Change, Plan, PlanAction, PlanBuilder, Resource};

/// The key of the build environment, which is also the EC2 key pair the bake launches with.
pub const BAKE_KEY: &str = "bake";

/// The keys of every environment but `build` and `deploy`, as the original script had them.
pub const DEFAULT_KEYS: [&str; 5] = ["test", "smoketest", "snapshot", "dashboard", "jenkins"];

/// The original's table: `bake` for `build`, none for `deploy`, [`DEFAULT_KEYS`] otherwise.
pub fn default_ssh_keys(env: &str) -> Vec<String> {
    match env {
        "build" => vec![BAKE_KEY.to_string()],
        "deploy" => Vec::new(),
        _ => DEFAULT_KEYS.iter().map(|k| k.to_string()).collect(),
    }
}

/// A space-separated list of key names (letters, digits, `_`, `-`), duplicates dropped.
pub fn parse_key_list(text: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for name in text.split_whitespace() {
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(format!(
                "key name {name:?} (expected letters, digits, \"_\" and \"-\")"
            ));
        }
        if !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
    }
    Ok(out)
}

/// Where the private key of `name` is kept in the credential bucket.
pub fn private_key_path(name: &str) -> String {
    format!("private_keys/ssh/{name}.key")
}

/// Where the public key of `name` is kept in the credential bucket.
pub fn public_key_path(name: &str) -> String {
    format!("public_keys/ssh/{name}.pub")
}

/// The keys to rotate: the table, or with `--only`, the one key of it.
pub fn select(table: &[String], only: Option<&str>) -> Result<Vec<String>, String> {
    match only {
        None if table.is_empty() => Err("the environment has no SSH keys".to_string()),
        None => Ok(table.to_vec()),
        Some(name) if table.iter().any(|k| k == name) => Ok(vec![name.to_string()]),
        Some(name) => Err(format!(
            "--only {name}: not a key of the environment (its keys: {})",
            if table.is_empty() {
                "none".to_string()
            } else {
                table.join(" ")
            }
        )),
    }
}

/// One key rotated: both objects written and, for [`BAKE_KEY`], the EC2 key pair replaced;
/// all of it or nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action")]
pub enum KeyAction {
    RotateKey {
        name: String,
        private_key: String,
        public_key: String,
        /// The EC2 key pair replaced with the new public key, if any.
        ec2_key_pair: Option<String>,
    },
}

impl KeyAction {
    pub fn name(&self) -> &str {
        let KeyAction::RotateKey { name, .. } = self;
        name
    }
}

impl fmt::Display for KeyAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let KeyAction::RotateKey {
            name,
            private_key,
            public_key,
            ec2_key_pair,
        } = self;
        write!(f, "new key {name}: {private_key}, {public_key}")?;
        if let Some(pair) = ec2_key_pair {
            write!(f, ", EC2 key pair {pair}")?;
        }
        Ok(())
    }
}

impl PlanAction for KeyAction {
    fn resource(&self) -> Resource {
        Resource::new("SSH key", self.name())
    }

    fn change(&self) -> Change {
        Change::Replace
    }
}

/// The plan: one step per key, each after the one before (a failure stops the rest, so
/// every key is rotated or untouched).
pub fn plan(keys: &[String]) -> Plan<KeyAction> {
    let mut b = PlanBuilder::new();
    let mut before: Vec<usize> = Vec::new();
    for name in keys {
        let id = b.add(
            KeyAction::RotateKey {
                name: name.clone(),
                private_key: private_key_path(name),
                public_key: public_key_path(name),
                ec2_key_pair: (name == BAKE_KEY).then(|| name.clone()),
            },
            &before,
        );
        before = vec![id];
    }
    b.build()
}

/// The SSL keys and certificates (`private_keys/ssl/...`) that host files ask for with
/// `{s3cred://KEY}` (acfg's syntax), in order.
/// Whether each SSL file `wanted` is in the bucket (`present`), as `keys rotate` reports
/// it: `(key, set)`, and the lines it prints (`bucket`: the bucket's name).
pub fn ssl_status(
    wanted: &BTreeSet<String>,
    present: &[String],
    bucket: &str,
) -> (Vec<(String, bool)>, Vec<String>) {
    let status: Vec<(String, bool)> = wanted
        .iter()
        .map(|k| (k.clone(), present.contains(k)))
        .collect();
    let mut lines: Vec<String> = status
        .iter()
        .map(|(k, set)| {
            let state = if *set {
                "set"
            } else {
                "NOT SET: set it with `asiaq creds setfile`"
            };
            format!("SSL: s3://{bucket}/{k}: {state}")
        })
        .collect();
    if status.is_empty() {
        lines.push("SSL: no {s3cred://private_keys/ssl/...} in discoroot/".to_string());
    }
    (status, lines)
}

pub fn ssl_references<'a>(texts: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    const OPEN: &str = "{s3cred://";
    let mut out = BTreeSet::new();
    for text in texts {
        for (i, _) in text.match_indices(OPEN) {
            let rest = &text[i + OPEN.len()..];
            let Some(end) = rest.find('}') else { continue };
            let key = &rest[..end];
            if key.starts_with("private_keys/ssl/")
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_/.".contains(c))
            {
                out.insert(key.to_string());
            }
        }
    }
    out
}

/// The notes of `keys rotate --dry-run`: each SSL file of `status` that is not set in
/// `bucket`.
pub fn ssl_notes(status: &[(String, bool)], bucket: &str) -> Vec<String> {
    status
        .iter()
        .filter(|(_, set)| !set)
        .map(|(k, _)| format!("SSL: s3://{bucket}/{k} is not set (discoroot/ asks for it)"))
        .collect()
}

/// What `keys rotate` did for `environment` in `bucket`: a line per key rotated (the steps
/// of `plan`), then `ssl_lines`; JSON: the keys `rotated` and the SSL `status`.
pub fn rotated(
    environment: &str,
    bucket: &str,
    rotated: &[String],
    status: Vec<(String, bool)>,
    plan: &Plan<KeyAction>,
    ssl_lines: Vec<String>,
) -> crate::printout::Printout {
    #[derive(Serialize)]
    struct Ssl {
        key: String,
        set: bool,
    }
    #[derive(Serialize)]
    struct Report<'a> {
        environment: &'a str,
        bucket: &'a str,
        rotated: &'a [String],
        ssl: Vec<Ssl>,
    }
    let report = Report {
        environment,
        bucket,
        rotated,
        ssl: status
            .into_iter()
            .map(|(key, set)| Ssl { key, set })
            .collect(),
    };
    let lines = plan
        .steps
        .iter()
        .map(|s| format!("rotated: {}", s.action))
        .chain(ssl_lines)
        .collect();
    crate::printout::Printout::new(&report, lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_report_and_ssl_notes() {
        let status = vec![
            ("private_keys/ssl/a.key".to_string(), false),
            ("private_keys/ssl/b.pem".to_string(), true),
        ];
        assert_eq!(
            ssl_notes(&status, "b"),
            ["SSL: s3://b/private_keys/ssl/a.key is not set (discoroot/ asks for it)"]
        );
        let names = vec!["bake".to_string()];
        let p = plan(&names);
        let r = rotated("ci", "b", &names, status, &p, vec!["SSL: x".into()]);
        assert_eq!(r.lines.len(), p.steps.len() + 1);
        assert_eq!(r.lines[0], format!("rotated: {}", p.steps[0].action));
        assert_eq!(r.lines.last().unwrap(), "SSL: x");
        assert_eq!(
            serde_json::to_string(&r.json["ssl"]).unwrap(),
            r#"[{"key":"private_keys/ssl/a.key","set":false},{"key":"private_keys/ssl/b.pem","set":true}]"#
        );
        assert_eq!(r.json["rotated"][0], "bake");
    }

    #[test]
    fn the_original_table_is_the_default() {
        assert_eq!(default_ssh_keys("build"), ["bake"]);
        assert!(default_ssh_keys("deploy").is_empty());
        assert_eq!(
            default_ssh_keys("ci"),
            ["test", "smoketest", "snapshot", "dashboard", "jenkins"]
        );
    }

    #[test]
    fn key_lists_parse_and_reject_odd_names() {
        assert_eq!(
            parse_key_list(" bake  test bake").unwrap(),
            ["bake", "test"]
        );
        assert!(parse_key_list("").unwrap().is_empty());
        assert!(parse_key_list("a/b").unwrap_err().contains("\"a/b\""));
    }

    #[test]
    fn paths_are_the_originals() {
        assert_eq!(private_key_path("bake"), "private_keys/ssh/bake.key");
        assert_eq!(public_key_path("bake"), "public_keys/ssh/bake.pub");
    }

    #[test]
    fn only_picks_one_key_of_the_table() {
        let table = default_ssh_keys("ci");
        assert_eq!(select(&table, None).unwrap().len(), 5);
        assert_eq!(select(&table, Some("jenkins")).unwrap(), ["jenkins"]);
        assert!(select(&table, Some("bake"))
            .unwrap_err()
            .contains("not a key"));
        assert!(select(&[], None).is_err());
    }

    #[test]
    fn one_chained_step_per_key_and_only_bake_is_an_ec2_key_pair() {
        let p = plan(&["bake".to_string(), "test".to_string()]);
        assert_eq!(p.steps.len(), 2);
        assert_eq!(p.steps[1].after, [0]);
        let KeyAction::RotateKey { ec2_key_pair, .. } = &p.steps[0].action;
        assert_eq!(ec2_key_pair.as_deref(), Some("bake"));
        let KeyAction::RotateKey { ec2_key_pair, .. } = &p.steps[1].action;
        assert_eq!(*ec2_key_pair, None);
        assert_eq!(
            p.steps[0].action.to_string(),
            "new key bake: private_keys/ssh/bake.key, public_keys/ssh/bake.pub, EC2 key pair bake"
        );
    }

    #[test]
    fn ssl_references_come_from_s3cred_placeholders() {
        let refs = ssl_references([
            "cert={s3cred://private_keys/ssl/web/crt}\nkey={s3cred://private_keys/ssl/web/key}",
            "{s3cred://app_conf/x} {s3cred://private_keys/ssl/web/crt} {s3cred://private_keys/ssl/bad key}",
        ]);
        assert_eq!(
            refs.into_iter().collect::<Vec<_>>(),
            ["private_keys/ssl/web/crt", "private_keys/ssl/web/key"]
        );
    }

    #[test]
    fn ssl_status_says_what_is_set_and_what_is_missing() {
        let wanted: BTreeSet<String> = [
            "private_keys/ssl/a.key".to_string(),
            "private_keys/ssl/b.crt".to_string(),
        ]
        .into();
        let (status, lines) = ssl_status(&wanted, &["private_keys/ssl/a.key".into()], "bkt");
        assert_eq!(
            status,
            [
                ("private_keys/ssl/a.key".to_string(), true),
                ("private_keys/ssl/b.crt".to_string(), false)
            ]
        );
        assert_eq!(lines[0], "SSL: s3://bkt/private_keys/ssl/a.key: set");
        assert!(lines[1].ends_with("NOT SET: set it with `asiaq creds setfile`"));
        let (_, none) = ssl_status(&BTreeSet::new(), &[], "bkt");
        assert_eq!(
            none,
            ["SSL: no {s3cred://private_keys/ssl/...} in discoroot/"]
        );
    }
}
