//! `asiaq log-metrics` against moto: log groups and metric filters of a hostclass, checked
//! through the CloudWatch Logs API.

use crate::hosts_support::*;
use crate::identity_common::{mutating, with_stats};

/// (log group, filter name, pattern, namespace/metric = value) of every filter under `prefix`.
fn filters(w: &World, prefix: &str) -> Vec<String> {
    let logs = w.logs();
    let mut out = Vec::new();
    let groups =
        w.rt.block_on(
            logs.describe_log_groups()
                .log_group_name_prefix(prefix)
                .send(),
        )
        .unwrap();
    for g in groups.log_groups() {
        let name = g.log_group_name().unwrap();
        let f =
            w.rt.block_on(logs.describe_metric_filters().log_group_name(name).send())
                .unwrap();
        for f in f.metric_filters() {
            let t = &f.metric_transformations()[0];
            out.push(format!(
                "{} {} {:?} {}/{} = {}",
                f.log_group_name().unwrap(),
                f.filter_name().unwrap(),
                f.filter_pattern().unwrap(),
                t.metric_namespace(),
                t.metric_name(),
                t.metric_value()
            ));
        }
    }
    out.sort();
    out
}

fn groups(w: &World, prefix: &str) -> Vec<String> {
    let out =
        w.rt.block_on(
            w.logs()
                .describe_log_groups()
                .log_group_name_prefix(prefix)
                .send(),
        )
        .unwrap();
    out.log_groups()
        .iter()
        .map(|g| g.log_group_name().unwrap().to_string())
        .collect()
}

fn set_pattern(w: &World, from: &str, to: &str) {
    let path = w.config_path().join("disco_log_metrics.ini");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from));
    std::fs::write(path, text.replace(from, to)).unwrap();
}

/// update creates the group and the filter; a second run changes nothing; a changed pattern
/// replaces the filter without leaving a duplicate; the listings show them; delete removes
/// the filters and the groups.
#[test]
fn update_list_and_delete_a_hostclass_log_metrics() {
    let w = World::new();
    let dry = w.ok(&[
        "log-metrics",
        "update",
        "--hostclass",
        "mhcapp",
        "--dry-run",
    ]);
    assert!(
        dry.contains("+ create log group demo/mhcapp/var/log/app/error.log"),
        "{dry}"
    );
    assert!(
        dry.ends_with("Plan: 2 to create, 0 to change, 0 to delete.\n"),
        "{dry}"
    );
    assert!(groups(&w, "demo/").is_empty());

    w.ok(&["log-metrics", "update", "--hostclass", "mhcapp"]);
    let expected = "demo/mhcapp/var/log/app/error.log mhcapp-ErrorCount \"ERROR\" LogMetrics/demo/mhcapp-ErrorCount = 1";
    assert_eq!(filters(&w, "demo/"), [expected]);

    let (out, calls) =
        with_stats(
            w.asiaq()
                .args(["log-metrics", "update", "--hostclass", "mhcapp"]),
        );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(mutating(&calls), Vec::<String>::new());
    assert_eq!(text(&out.stdout), "no change\n");

    set_pattern(
        &w,
        "filter_pattern=ERROR",
        "filter_pattern=[level=ERROR, msg]",
    );
    let (out, calls) =
        with_stats(
            w.asiaq()
                .args(["log-metrics", "update", "--hostclass", "mhcapp"]),
        );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        mutating(&calls),
        [
            "cloudwatchlogs:DeleteMetricFilter x1",
            "cloudwatchlogs:PutMetricFilter x1"
        ]
    );
    let f = filters(&w, "demo/");
    assert_eq!(f.len(), 1, "no duplicate remains: {f:?}");
    assert!(f[0].contains("\"[level=ERROR, msg]\""), "{f:?}");

    let listed = w.ok(&["log-metrics", "list-metrics", "--hostclass", "mhcapp"]);
    assert_eq!(
        listed,
        format!("{:<40} mhcapp-ErrorCount\n", "LogMetrics/demo")
    );
    let listed = w.ok(&["log-metrics", "list-groups", "--hostclass", "mhcapp"]);
    assert_eq!(listed, "demo/mhcapp/var/log/app/error.log        0.0M\n");
    let json: serde_json::Value = serde_json::from_str(&w.ok(&[
        "--output",
        "json",
        "log-metrics",
        "list-groups",
        "--hostclass",
        "mhcapp",
    ]))
    .unwrap();
    assert_eq!(json[0]["name"], "demo/mhcapp/var/log/app/error.log");

    // demo is no VPC of type sandbox: delete asks, --yes answers.
    let out = w.run(&["log-metrics", "delete", "--hostclass", "mhcapp"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(groups(&w, "demo/").len(), 1);
    w.ok(&["--yes", "log-metrics", "delete", "--hostclass", "mhcapp"]);
    assert!(groups(&w, "demo/").is_empty());
    assert!(filters(&w, "demo/").is_empty());
}

/// A filter pattern with unbalanced brackets is exit 2 naming file and line, before any
/// call.
#[test]
fn bad_log_metrics_configuration_exits_2_before_any_call() {
    let w = World::new();
    set_pattern(
        &w,
        "filter_pattern=ERROR",
        "filter_pattern=[level=ERROR, msg",
    );
    let (out, calls) =
        with_stats(
            w.asiaq()
                .args(["log-metrics", "update", "--hostclass", "mhcapp"]),
        );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("disco_log_metrics.ini:8: [mhcapp.ErrorCount] filter_pattern: \"[level=ERROR, msg\" has unbalanced brackets"),
        "{}",
        text(&out.stderr)
    );
    assert!(calls.is_empty(), "{calls:?}");
}
