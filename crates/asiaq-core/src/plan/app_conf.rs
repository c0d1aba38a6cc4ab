//! `app-conf update`: which objects of the credential bucket's `app_conf/` prefix to write
//! and which to delete, from the files of `app_conf/<env>/` and the bucket's listing. A
//! file is uploaded only when the object is missing or its content hash differs (S3's ETag
//! of a single-part object is the MD5 of its bytes, so the listing alone tells).

use std::collections::BTreeMap;
use std::fmt;

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

use super::{Change, Plan, PlanAction, PlanBuilder, Resource};

/// The prefix of every key `app-conf update` manages.
pub const PREFIX: &str = "app_conf/";

/// The key of a file at `relative` (a `/`-separated path below `app_conf/<env>/`).
pub fn key_for(relative: &str) -> String {
    format!("{PREFIX}{}", relative.trim_start_matches('/'))
}

/// The lowercase hex MD5 of `bytes`, as S3 reports it in the ETag of a single-part object.
pub fn content_md5(bytes: &[u8]) -> String {
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// True when an ETag (quoted or not) is the MD5 `md5`. A multipart ETag (`<hash>-<parts>`)
/// never matches, so such an object is written again as one part.
pub fn etag_matches(etag: &str, md5: &str) -> bool {
    etag.trim_matches('"').eq_ignore_ascii_case(md5)
}

/// One change of `app-conf update`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action")]
pub enum AppConfAction {
    /// Write the file's bytes at `key` (`new`: no object there yet).
    Upload { key: String, new: bool },
    /// Delete `key`, which no file stands for (`--delete`).
    Delete { key: String },
}

impl AppConfAction {
    pub fn key(&self) -> &str {
        match self {
            AppConfAction::Upload { key, .. } | AppConfAction::Delete { key } => key,
        }
    }
}

impl fmt::Display for AppConfAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppConfAction::Upload { key, new: true } => write!(f, "upload {key}"),
            AppConfAction::Upload { key, new: false } => {
                write!(f, "upload {key} (content differs)")
            }
            AppConfAction::Delete { key } => write!(f, "delete {key}"),
        }
    }
}

impl PlanAction for AppConfAction {
    fn resource(&self) -> Resource {
        Resource::new("object", self.key())
    }

    fn change(&self) -> Change {
        match self {
            AppConfAction::Upload { new: true, .. } => Change::Create,
            AppConfAction::Upload { new: false, .. } => Change::update(),
            AppConfAction::Delete { .. } => Change::Delete,
        }
    }
}

/// The plan: an upload for each local key (key -> MD5) whose object is missing or differs
/// from `remote` (key -> ETag), and with `delete`, a delete for each remote key under
/// [`PREFIX`] without a local file. Steps are independent; they come in key order.
pub fn plan(
    local: &BTreeMap<String, String>,
    remote: &BTreeMap<String, String>,
    delete: bool,
) -> Plan<AppConfAction> {
    let mut b = PlanBuilder::new();
    for (key, md5) in local {
        match remote.get(key) {
            Some(etag) if etag_matches(etag, md5) => {}
            Some(_) => {
                b.add(
                    AppConfAction::Upload {
                        key: key.clone(),
                        new: false,
                    },
                    &[],
                );
            }
            None => {
                b.add(
                    AppConfAction::Upload {
                        key: key.clone(),
                        new: true,
                    },
                    &[],
                );
            }
        }
    }
    if delete {
        for key in remote.keys() {
            if key.starts_with(PREFIX) && !local.contains_key(key) {
                b.add(AppConfAction::Delete { key: key.clone() }, &[]);
            }
        }
    }
    b.build()
}

/// The objects `app_conf/<env>/` stands for, from its files `(relative path, content)`:
/// each key's content hash (what [`plan`] compares) and its content (what is uploaded).
pub fn local_objects(
    files: impl IntoIterator<Item = (String, Vec<u8>)>,
) -> (BTreeMap<String, String>, BTreeMap<String, Vec<u8>>) {
    let mut hashes = BTreeMap::new();
    let mut contents = BTreeMap::new();
    for (relative, bytes) in files {
        let key = key_for(&relative);
        hashes.insert(key.clone(), content_md5(&bytes));
        contents.insert(key, bytes);
    }
    (hashes, contents)
}

/// What `app-conf update` did to `bucket` for `env`: each object uploaded or deleted, then
/// the counts (`local`: how many files there are); JSON: the keys and counts.
pub fn report(
    env: &str,
    bucket: &str,
    plan: &Plan<AppConfAction>,
    local: usize,
) -> crate::printout::Printout {
    #[derive(Serialize)]
    struct Report<'a> {
        environment: &'a str,
        bucket: &'a str,
        uploaded: Vec<&'a str>,
        deleted: Vec<&'a str>,
        unchanged: usize,
    }
    let keys = |want_delete: bool| -> Vec<&str> {
        plan.steps
            .iter()
            .filter(|s| s.action.change().is_delete() == want_delete)
            .map(|s| s.action.key())
            .collect()
    };
    let report = Report {
        environment: env,
        bucket,
        uploaded: keys(false),
        deleted: keys(true),
        unchanged: local - keys(false).len(),
    };
    let mut lines: Vec<String> = plan
        .steps
        .iter()
        .map(|s| {
            let verb = match s.action {
                AppConfAction::Upload { .. } => "uploaded",
                AppConfAction::Delete { .. } => "deleted",
            };
            format!("{verb} s3://{bucket}/{}", s.action.key())
        })
        .collect();
    lines.push(format!(
        "app_conf of {env} in {bucket}: {} uploaded, {} deleted, {} unchanged",
        report.uploaded.len(),
        report.deleted.len(),
        report.unchanged
    ));
    crate::printout::Printout::new(&report, lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_objects_and_report() {
        let files = vec![("a.conf".to_string(), b"x".to_vec())];
        let (hashes, contents) = local_objects(files);
        let key = key_for("a.conf");
        assert_eq!(hashes[&key], content_md5(b"x"));
        assert_eq!(contents[&key], b"x");
        let remote = BTreeMap::from([("app_conf/old".to_string(), "etag".to_string())]);
        let p = plan(&hashes, &remote, true);
        let r = report("ci", "b", &p, hashes.len());
        assert_eq!(r.lines.len(), p.steps.len() + 1);
        assert_eq!(
            r.lines.last().unwrap(),
            "app_conf of ci in b: 1 uploaded, 1 deleted, 0 unchanged"
        );
        assert!(r.lines.contains(&format!("uploaded s3://b/{key}")));
        assert!(r.lines.contains(&"deleted s3://b/app_conf/old".to_string()));
        assert_eq!(r.json["uploaded"][0], key.as_str());
        let none = report("ci", "b", &Plan::default(), 2);
        assert_eq!(
            none.lines,
            ["app_conf of ci in b: 0 uploaded, 0 deleted, 2 unchanged"]
        );
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn actions(p: &Plan<AppConfAction>) -> Vec<String> {
        p.steps.iter().map(|s| s.action.to_string()).collect()
    }

    #[test]
    fn md5_is_the_single_part_etag() {
        assert_eq!(content_md5(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(content_md5(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert!(etag_matches(
            "\"900150983CD24FB0D6963F7D28E17F72\"",
            "900150983cd24fb0d6963f7d28e17f72"
        ));
        assert!(!etag_matches(
            "\"900150983cd24fb0d6963f7d28e17f72-2\"",
            "900150983cd24fb0d6963f7d28e17f72"
        ));
    }

    #[test]
    fn keys_are_the_relative_paths_under_the_prefix() {
        assert_eq!(key_for("myapp/settings.ini"), "app_conf/myapp/settings.ini");
        assert_eq!(key_for("/top.conf"), "app_conf/top.conf");
    }

    #[test]
    fn only_missing_and_different_objects_are_uploaded() {
        let abc = content_md5(b"abc");
        let local = map(&[
            ("app_conf/a", &abc),
            ("app_conf/b", &abc),
            ("app_conf/c", &abc),
        ]);
        let remote = map(&[
            ("app_conf/a", &format!("\"{abc}\"")),
            ("app_conf/b", "\"0000\""),
            ("app_conf/stale", "\"1111\""),
        ]);
        let p = plan(&local, &remote, false);
        assert_eq!(
            actions(&p),
            ["upload app_conf/b (content differs)", "upload app_conf/c"]
        );
        assert_eq!(p.steps[0].action.change(), Change::update());
        assert_eq!(p.steps[1].action.change(), Change::Create);
        let p = plan(&local, &remote, true);
        assert_eq!(
            actions(&p),
            [
                "upload app_conf/b (content differs)",
                "upload app_conf/c",
                "delete app_conf/stale"
            ]
        );
        assert!(p.steps[2].action.change().is_delete());
    }

    #[test]
    fn nothing_to_do_when_everything_matches() {
        let abc = content_md5(b"abc");
        let local = map(&[("app_conf/a", &abc)]);
        let remote = map(&[("app_conf/a", &abc), ("other/x", "\"1\"")]);
        assert!(plan(&local, &remote, true).is_empty());
    }
}
