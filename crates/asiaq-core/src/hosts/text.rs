//! What the host commands (`aws`, `autoscale`, `chaos`, `snapshot`) print and ask, as
//! lines and questions built from what they observed.

use std::collections::BTreeMap;

use super::{host_rows, listhosts_line, Columns, HostInfo, SmokeStatus};
use crate::printout::Printout;

/// The question a destructive command asks before `what` in environment `name` (of type
/// `env_type`); `None` in a sandbox, which is not asked about.
pub fn destructive_question(name: &str, env_type: Option<&str>, what: &str) -> Option<String> {
    if env_type == Some("sandbox") {
        return None;
    }
    let env_type = env_type.unwrap_or("unknown");
    Some(format!("{what} in environment {name} (type {env_type})?"))
}

/// `listhosts`: a line per host with the `cols` asked for; JSON: the host rows at `now`.
pub fn listhosts(hosts: &[HostInfo], cols: &Columns, now: i64) -> Printout {
    let lines = hosts.iter().map(|h| listhosts_line(h, cols, now)).collect();
    Printout::new(&host_rows(hosts, now), lines)
}

/// `terminate` and `stop` (`terminate` false): the instances `ids` that were (`dry_run`:
/// would be) terminated or stopped.
pub fn acted_on(ids: &[String], terminate: bool, dry_run: bool) -> Printout {
    let done = if terminate { "Terminated" } else { "Stopped" };
    let line = if dry_run {
        format!("Would be {}: {}", done.to_lowercase(), ids.join(", "))
    } else {
        format!("{done}: {}", ids.join(", "))
    };
    Printout::new(&ids, vec![line])
}

/// The question `terminate` and `stop` ask before acting on `count` instances.
pub fn act_what(terminate: bool, count: usize) -> String {
    let verb = if terminate { "Terminate" } else { "Stop" };
    format!("{verb} {count} instance(s)")
}

/// `isready`: the original's line per instance ("No instances found" when there is none);
/// JSON: each instance's status by id.
pub fn isready(statuses: &[(String, SmokeStatus)]) -> Printout {
    let rows: BTreeMap<&str, &SmokeStatus> =
        statuses.iter().map(|(i, s)| (i.as_str(), s)).collect();
    let mut lines = Vec::new();
    if statuses.is_empty() {
        lines.push("No instances found".to_string());
    }
    lines.extend(statuses.iter().map(|(id, s)| s.isready_line(id)));
    Printout::new(&rows, lines)
}

/// `tag --dry-run`: what would be done to tag `key` of `instances`.
pub fn retag_dry_run(key: &str, instances: &[String], value: Option<&str>) -> String {
    let set = value.map_or(String::new(), |v| format!(" and set it to {v:?}"));
    format!("would remove tag {key} from {}{set}", instances.join(", "))
}

/// `promoterunning`: a line per image shared (`dry_run`: that would be); JSON: the ids.
pub fn promoted(ids: &[String], dry_run: bool) -> Printout {
    let verb = if dry_run { "would promote" } else { "promoted" };
    let lines = ids
        .iter()
        .map(|id| format!("{verb} {id} to production"))
        .collect();
    Printout::new(&ids, lines)
}

/// `gethostclassoption`: the option's value, or that the hostclass has none (JSON null).
pub fn hostclass_option(hostclass: &str, option: &str, value: Option<&str>) -> Printout {
    match value {
        Some(v) => Printout::new(&v, vec![v.to_string()]),
        None => {
            let msg = format!("Hostclass {hostclass} doesn't have option {option}.");
            Printout::new(&Option::<String>::None, vec![msg])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandboxes_are_not_asked() {
        assert_eq!(destructive_question("ci", Some("sandbox"), "Stop"), None);
        assert_eq!(
            destructive_question("ci", Some("ci"), "Stop 2 instance(s)").as_deref(),
            Some("Stop 2 instance(s) in environment ci (type ci)?")
        );
        assert_eq!(
            destructive_question("x", None, "Go").as_deref(),
            Some("Go in environment x (type unknown)?")
        );
    }

    #[test]
    fn acted_on_lines() {
        let ids = vec!["i-1".to_string(), "i-2".to_string()];
        assert_eq!(
            acted_on(&ids, true, true).lines,
            ["Would be terminated: i-1, i-2"]
        );
        assert_eq!(acted_on(&ids, false, false).lines, ["Stopped: i-1, i-2"]);
        assert_eq!(acted_on(&ids, true, false).json, serde_json::json!(ids));
        assert_eq!(act_what(true, 2), "Terminate 2 instance(s)");
        assert_eq!(act_what(false, 1), "Stop 1 instance(s)");
    }

    #[test]
    fn isready_lines_and_json() {
        assert_eq!(isready(&[]).lines, ["No instances found"]);
        let statuses = vec![
            ("i-2".to_string(), SmokeStatus::Passed),
            ("i-1".to_string(), SmokeStatus::NotReady("pending".into())),
        ];
        let p = isready(&statuses);
        assert_eq!(p.lines, ["...i-2 is ready", "...i-1 is NOT ready"]);
        let keys: Vec<&String> = p.json.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["i-1", "i-2"]);
    }

    #[test]
    fn retag_and_promote_lines() {
        let ids = vec!["i-1".to_string()];
        assert_eq!(
            retag_dry_run("owner", &ids, Some("me")),
            "would remove tag owner from i-1 and set it to \"me\""
        );
        assert_eq!(
            retag_dry_run("owner", &ids, None),
            "would remove tag owner from i-1"
        );
        let amis = vec!["ami-1".to_string()];
        assert_eq!(
            promoted(&amis, true).lines,
            ["would promote ami-1 to production"]
        );
        assert_eq!(
            promoted(&amis, false).lines,
            ["promoted ami-1 to production"]
        );
    }

    #[test]
    fn hostclass_option_found_or_not() {
        let p = hostclass_option("mhcweb", "elb", Some("True"));
        assert_eq!((p.lines, p.json), (vec!["True".to_string()], "True".into()));
        let p = hostclass_option("mhcweb", "nope", None);
        assert_eq!(p.lines, ["Hostclass mhcweb doesn't have option nope."]);
        assert_eq!(p.json, serde_json::Value::Null);
    }

    #[test]
    fn listhosts_lines_follow_the_columns() {
        let host = HostInfo {
            id: "i-1".into(),
            state: "running".into(),
            tags: BTreeMap::new(),
            public_ip: None,
            private_ips: Vec::new(),
            private_ip: None,
            instance_type: "t3.micro".into(),
            image_id: "ami-1".into(),
            launch_time: None,
            ami_creation_time: None,
            security_groups: Vec::new(),
            availability_zone: "us-east-1a".into(),
            subnet_id: None,
        };
        let hosts = vec![host];
        let p = listhosts(&hosts, &Columns::default(), 0);
        assert_eq!(p.lines, [listhosts_line(&hosts[0], &Columns::default(), 0)]);
        assert_eq!(p.json[0]["id"], "i-1");
    }
}
