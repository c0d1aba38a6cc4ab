//! `asiaq alarms` against moto: SNS topics and subscriptions, CloudWatch alarms of a
//! hostclass, the listing with states, the environment's deletion; effects checked through
//! the SNS and CloudWatch APIs, and calls counted.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::{MetricAlarm, StateValue};

use crate::hosts_support::*;
use crate::identity_common::{mutating, with_stats};

/// Topic name -> sorted "protocol endpoint" of its subscriptions.
fn topics(w: &World) -> BTreeMap<String, Vec<String>> {
    let sns = w.sns();
    let mut out = BTreeMap::new();
    let listed = w.rt.block_on(sns.list_topics().send()).unwrap();
    for t in listed.topics() {
        let arn = t.topic_arn().unwrap();
        let subs =
            w.rt.block_on(sns.list_subscriptions_by_topic().topic_arn(arn).send())
                .unwrap();
        let mut s: Vec<String> = subs
            .subscriptions()
            .iter()
            .map(|s| format!("{} {}", s.protocol().unwrap(), s.endpoint().unwrap()))
            .collect();
        s.sort();
        out.insert(arn.rsplit(':').next().unwrap().to_string(), s);
    }
    out
}

fn alarms(w: &World) -> BTreeMap<String, MetricAlarm> {
    let out =
        w.rt.block_on(w.cloudwatch().describe_alarms().send())
            .unwrap();
    out.metric_alarms()
        .iter()
        .map(|a| (a.alarm_name().unwrap().to_string(), a.clone()))
        .collect()
}

fn replace_in(w: &World, file: &str, from: &str, to: &str) {
    let path = w.config_path().join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file} lacks {from:?}");
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

/// An autoscaling group `demo_mhcapp_1700000000` (no instances), so that the AWS/EC2 alarm
/// of mhcapp has its dimension.
fn mhcapp_group(w: &World) -> String {
    let asg = w.autoscaling();
    let name = "demo_mhcapp_1700000000".to_string();
    w.rt.block_on(async {
        asg.create_launch_configuration()
            .launch_configuration_name("lc-alarms")
            .image_id("ami-12c6146b")
            .instance_type("t3.micro")
            .send()
            .await
            .unwrap();
        asg.create_auto_scaling_group()
            .auto_scaling_group_name(&name)
            .launch_configuration_name("lc-alarms")
            .availability_zones("us-west-2a")
            .min_size(0)
            .max_size(0)
            .desired_capacity(0)
            .send()
            .await
            .unwrap();
    });
    name
}

/// The topics of the environment's [notifications] keys are created and subscribed; a
/// second run changes nothing; `--delete` removes the environment's other topics and the
/// extra subscriptions, and leaves other environments' topics alone.
#[test]
fn notifications_are_created_subscribed_and_pruned() {
    let w = World::new();
    let (out, calls) = with_stats(
        w.asiaq()
            .args(["alarms", "update_notifications", "--dry-run"]),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let dry = text(&out.stdout);
    assert!(
        dry.contains("+ create SNS topic team_demo_critical"),
        "{dry}"
    );
    assert!(
        dry.contains("+ subscribe oncall@example.com (email) to team_demo_critical"),
        "{dry}"
    );
    assert!(
        dry.ends_with("Plan: 4 to create, 0 to change, 0 to delete.\n"),
        "{dry}"
    );
    assert_eq!(mutating(&calls), Vec::<String>::new());
    assert!(topics(&w).is_empty());

    w.ok(&["alarms", "update_notifications"]);
    let t = topics(&w);
    assert_eq!(
        t.keys().collect::<Vec<_>>(),
        ["team_demo_critical", "team_demo_info"]
    );
    assert_eq!(t["team_demo_critical"], ["email oncall@example.com"]);
    assert_eq!(t["team_demo_info"], ["email team@example.com"]);

    let (out, calls) = with_stats(w.asiaq().args(["alarms", "update_notifications"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(mutating(&calls), Vec::<String>::new());
    assert_eq!(text(&out.stdout), "no change\n");
    assert_eq!(
        w.ok(&["alarms", "update_notifications", "--dry-run"]),
        "No changes.\n"
    );

    // Another topic of demo, an extra subscription, and a topic of another environment.
    let sns = w.sns();
    w.rt.block_on(async {
        sns.create_topic()
            .name("team_demo_old")
            .send()
            .await
            .unwrap();
        sns.create_topic()
            .name("team_production_info")
            .send()
            .await
            .unwrap();
        let arn = format!(
            "arn:aws:sns:us-west-2:{}:team_demo_critical",
            w.account.account_id
        );
        sns.subscribe()
            .topic_arn(arn)
            .protocol("email")
            .endpoint("gone@example.com")
            .send()
            .await
            .unwrap();
    });
    // Without --delete they stay.
    w.ok(&["alarms", "update_notifications"]);
    assert_eq!(topics(&w).len(), 4);
    let out = w.ok(&["alarms", "update_notifications", "--delete"]);
    assert!(
        out.contains("done: delete SNS topic team_demo_old"),
        "{out}"
    );
    let t = topics(&w);
    assert_eq!(
        t.keys().collect::<Vec<_>>(),
        [
            "team_demo_critical",
            "team_demo_info",
            "team_production_info"
        ]
    );
    assert_eq!(t["team_demo_critical"], ["email oncall@example.com"]);
}

/// The alarms of mhcapp are created from disco_alarms.ini (the hostclass section over the
/// global one, the log pattern metric in LogMetrics/demo); an unchanged second run makes no
/// mutating call; a changed threshold is one put, shown as a diff in the dry run;
/// `--delete` removes the alarms the file no longer describes.
#[test]
fn metrics_follow_the_configuration_and_change_only_what_differs() {
    let w = World::new();
    let group = mhcapp_group(&w);
    let args = ["alarms", "update_metrics", "--hostclass", "mhcapp"];

    let (out, calls) = with_stats(w.asiaq().args(args).arg("--dry-run"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let dry = text(&out.stdout);
    assert!(
        dry.contains("+ create alarm team_demo_mhcapp_CPUUtilization_max: CPUUtilization > 80 (Average of 300s, 2 periods)"),
        "{dry}"
    );
    assert!(
        dry.ends_with("Plan: 2 to create, 0 to change, 0 to delete.\n"),
        "{dry}"
    );
    assert_eq!(mutating(&calls), Vec::<String>::new());
    assert!(alarms(&w).is_empty());

    let out = w.ok(&args);
    assert!(
        out.contains("done: create alarm team_demo_mhcapp_ErrorCount_max"),
        "{out}"
    );
    let a = alarms(&w);
    assert_eq!(a.len(), 2, "{:?}", a.keys());
    let topic = |level: &str| {
        format!(
            "arn:aws:sns:us-west-2:{}:team_demo_{level}",
            w.account.account_id
        )
    };
    let cpu = &a["team_demo_mhcapp_CPUUtilization_max"];
    assert_eq!(cpu.namespace(), Some("AWS/EC2"));
    assert_eq!(cpu.threshold(), Some(80.0));
    assert_eq!(cpu.evaluation_periods(), Some(2));
    assert_eq!(cpu.period(), Some(300));
    assert_eq!(
        cpu.comparison_operator().unwrap().as_str(),
        "GreaterThanThreshold"
    );
    assert_eq!(cpu.dimensions().len(), 1);
    assert_eq!(cpu.dimensions()[0].name(), Some("AutoScalingGroupName"));
    assert_eq!(cpu.dimensions()[0].value(), Some(group.as_str()));
    assert_eq!(cpu.alarm_actions(), [topic("critical")]);
    assert_eq!(cpu.ok_actions(), [topic("critical")]);
    let log = &a["team_demo_mhcapp_ErrorCount_max"];
    assert_eq!(log.namespace(), Some("LogMetrics/demo"));
    assert_eq!(log.metric_name(), Some("mhcapp-ErrorCount"));
    assert!(log.dimensions().is_empty());
    assert_eq!(log.statistic().unwrap().as_str(), "Sum");
    assert_eq!(log.alarm_actions(), [topic("info")]);

    let (out, calls) = with_stats(w.asiaq().args(args));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(mutating(&calls), Vec::<String>::new());
    assert_eq!(text(&out.stdout), "no change\n");
    assert_eq!(w.ok(&[&args[..], &["--dry-run"]].concat()), "No changes.\n");

    replace_in(
        &w,
        "disco_alarms.ini",
        "threshold_max=80",
        "threshold_max=85",
    );
    let dry = w.ok(&[&args[..], &["--dry-run"]].concat());
    assert!(
        dry.contains("~ update alarm team_demo_mhcapp_CPUUtilization_max: threshold: 80 -> 85"),
        "{dry}"
    );
    assert!(
        dry.ends_with("Plan: 0 to create, 1 to change, 0 to delete.\n"),
        "{dry}"
    );
    let (out, calls) = with_stats(w.asiaq().args(args));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(mutating(&calls), ["cloudwatch:PutMetricAlarm x1"]);
    assert_eq!(
        alarms(&w)["team_demo_mhcapp_CPUUtilization_max"].threshold(),
        Some(85.0)
    );

    // The log metric alarm leaves the file: without --delete it stays, with it it goes.
    replace_in(
        &w,
        "disco_alarms.ini",
        "[team.LogMetrics.ErrorCount.mhcapp]",
        "[team.LogMetrics.ErrorCount.mhcother]",
    );
    w.ok(&args);
    assert_eq!(alarms(&w).len(), 2);
    let out = w.ok(&[&args[..], &["--delete"]].concat());
    assert!(
        out.contains("done: delete alarm(s) team_demo_mhcapp_ErrorCount_max"),
        "{out}"
    );
    assert_eq!(
        alarms(&w).keys().collect::<Vec<_>>(),
        ["team_demo_mhcapp_CPUUtilization_max"]
    );
}

/// `list` shows the environment's alarms with their state, filtered by hostclass and
/// state, in text and JSON.
#[test]
fn list_shows_states_and_filters() {
    let w = World::new();
    mhcapp_group(&w);
    w.ok(&["alarms", "update_metrics", "--hostclass", "mhcapp"]);
    let cw = w.cloudwatch();
    w.rt.block_on(
        cw.set_alarm_state()
            .alarm_name("team_demo_mhcapp_ErrorCount_max")
            .state_value(StateValue::Alarm)
            .state_reason("test")
            .send(),
    )
    .unwrap();
    // An alarm of another environment is not listed.
    w.rt.block_on(
        cw.put_metric_alarm()
            .alarm_name("team_prod_mhcapp_CPUUtilization_max")
            .namespace("AWS/EC2")
            .metric_name("CPUUtilization")
            .statistic(aws_sdk_cloudwatch::types::Statistic::Average)
            .period(300)
            .evaluation_periods(1)
            .threshold(1.0)
            .comparison_operator(
                aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold,
            )
            .send(),
    )
    .unwrap();

    let out = w.ok(&["alarms", "list"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with("team_demo_mhcapp_CPUUtilization_max"));
    assert!(lines[0].contains(" OK "), "{out}");
    assert!(lines[1].contains(" ALARM "), "{out}");
    assert!(
        lines[1].ends_with("LogMetrics/demo mhcapp-ErrorCount"),
        "{out}"
    );

    let out = w.ok(&["alarms", "list", "--state", "ALARM"]);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.starts_with("team_demo_mhcapp_ErrorCount_max"), "{out}");
    assert_eq!(w.ok(&["alarms", "list", "--hostclass", "mhcweb"]), "");

    let json: serde_json::Value =
        serde_json::from_str(&w.ok(&["--output", "json", "alarms", "list"])).unwrap();
    let rows = json.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1]["state"], "ALARM");
    assert_eq!(rows[1]["hostclass"], "mhcapp");
    assert_eq!(rows[0]["threshold"], 80.0);

    let out = w.run(&["alarms", "list", "--state", "RED"]);
    assert_eq!(out.status.code(), Some(2));
}

/// `delete` removes every alarm of the environment, 100 names a call, but not the
/// Elasticsearch ones nor other environments'; outside a sandbox it asks first.
#[test]
fn delete_removes_the_environments_alarms_in_batches() {
    let w = World::new();
    let cw = w.cloudwatch();
    let put = |name: String, ns: &str| {
        w.rt.block_on(
            cw.put_metric_alarm()
                .alarm_name(name)
                .namespace(ns)
                .metric_name("M")
                .statistic(aws_sdk_cloudwatch::types::Statistic::Average)
                .period(60)
                .evaluation_periods(1)
                .threshold(1.0)
                .comparison_operator(
                    aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold,
                )
                .send(),
        )
        .unwrap();
    };
    for i in 0..120 {
        put(format!("team_demo_mhc{i:03}_M_max"), "AWS/EC2");
    }
    put("team_demo_mhces_M_max".into(), "AWS/ES");
    put("team_prod_mhcapp_M_max".into(), "AWS/EC2");

    let dry = w.ok(&["alarms", "delete", "--dry-run"]);
    assert!(
        dry.ends_with("Plan: 0 to create, 0 to change, 2 to delete.\n"),
        "{dry}"
    );

    // No VPC says demo is a sandbox: without a terminal or --yes, nothing is deleted.
    let (out, calls) = with_stats(w.asiaq().args(["alarms", "delete"]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("delete the 120 alarm(s) of demo"));
    assert_eq!(mutating(&calls), Vec::<String>::new());
    assert_eq!(alarms(&w).len(), 122);

    let (out, calls) = with_stats(w.asiaq().args(["--yes", "alarms", "delete"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(mutating(&calls), ["cloudwatch:DeleteAlarms x2"]);
    assert_eq!(
        alarms(&w).keys().collect::<Vec<_>>(),
        ["team_demo_mhces_M_max", "team_prod_mhcapp_M_max"]
    );
    let (out, calls) = with_stats(w.asiaq().args(["alarms", "delete"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(mutating(&calls), Vec::<String>::new());
}

/// A bad disco_alarms.ini is exit 2 naming file and line, before any AWS call.
#[test]
fn bad_alarm_configuration_exits_2_before_any_call() {
    let cases: [(&str, &str, &str); 5] = [
        ("threshold_max=95", "duration=9", "disco_alarms.ini:22: [team.AWS/EC2.CPUUtilization] has neither threshold_max nor threshold_min"),
        ("statistic=Average", "statistic=Mean", "disco_alarms.ini:14: [defaults] statistic:"),
        ("period=300", "period=5m", "disco_alarms.ini:15: [defaults] period:"),
        ("[team.AWS/EC2.CPUUtilization.mhcapp]", "[team.AWS/EC2/.CPUUtilization.mhcapp]", "namespace \"AWS/EC2/\" is not a CloudWatch namespace"),
        ("team_demo_info=team@example.com", "team_demo_info=team", "disco_alarms.ini:7: [notifications] team_demo_info: endpoint \"team\""),
    ];
    for (from, to, expected) in cases {
        let w = World::new();
        replace_in(&w, "disco_alarms.ini", from, to);
        for args in [
            &["alarms", "update_metrics", "--hostclass", "mhcapp"][..],
            &["alarms", "update_notifications"],
        ] {
            let (out, calls) = with_stats(w.asiaq().args(args));
            assert_eq!(out.status.code(), Some(2), "{to}: {}", text(&out.stderr));
            assert!(
                text(&out.stderr).contains(expected),
                "{to}: {}",
                text(&out.stderr)
            );
            assert!(calls.is_empty(), "{to}: {calls:?}");
        }
    }
}

fn app_pipeline(w: &World) {
    w.write_pipeline(
        "app.csv",
        "sequence,hostclass,min_size,desired_size,max_size,instance_type,smoke_test\n1,mhcapp,0,0,0,t2.small,no\n",
    );
}

fn log_groups(w: &World) -> Vec<String> {
    let out =
        w.rt.block_on(
            w.logs()
                .describe_log_groups()
                .log_group_name_prefix("demo/")
                .send(),
        )
        .unwrap();
    out.log_groups()
        .iter()
        .map(|g| g.log_group_name().unwrap().to_string())
        .collect()
}

/// A spinup makes the hostclass's log metrics and alarms once its group exists (the
/// group is the alarm's dimension); a second spinup changes none of them; spindown deletes
/// them with the group.
#[test]
fn alarms_and_log_metrics_follow_the_hosts() {
    let w = World::new();
    demo_world(&w);
    app_pipeline(&w);
    w.ok(&["aws", "spinup", "--pipeline", "pipelines/app.csv"]);
    let group = w.group_of("mhcapp");
    let a = alarms(&w);
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        [
            "team_demo_mhcapp_CPUUtilization_max",
            "team_demo_mhcapp_ErrorCount_max"
        ]
    );
    let cpu = &a["team_demo_mhcapp_CPUUtilization_max"];
    assert_eq!(cpu.dimensions()[0].value(), group.auto_scaling_group_name());
    assert_eq!(log_groups(&w), ["demo/mhcapp/var/log/app/error.log"]);
    // The alarms are as `alarms update_metrics` makes them: it has nothing to change.
    let (out, calls) =
        with_stats(
            w.asiaq()
                .args(["alarms", "update_metrics", "--hostclass", "mhcapp"]),
        );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(mutating(&calls), Vec::<String>::new());

    let dry = w.ok(&[
        "aws",
        "spindown",
        "--pipeline",
        "pipelines/app.csv",
        "--dry-run",
    ]);
    assert!(
        dry.contains("would delete alarm(s) team_demo_mhcapp_CPUUtilization_max, team_demo_mhcapp_ErrorCount_max"),
        "{dry}"
    );
    assert!(
        dry.contains("would delete log group demo/mhcapp/var/log/app/error.log"),
        "{dry}"
    );
    assert_eq!(alarms(&w).len(), 2);
    w.ok(&["aws", "spindown", "--pipeline", "pipelines/app.csv"]);
    assert!(alarms(&w).is_empty());
    assert!(log_groups(&w).is_empty());
    assert!(w.groups().is_empty());
}

/// When the alarm step fails after the group is up, the spinup says so and exits 1, the
/// hosts stay, and `alarms update_metrics` finishes the job.
#[test]
fn a_failed_alarm_step_keeps_the_hosts_and_is_finished_by_update_metrics() {
    let w = World::new();
    demo_world(&w);
    app_pipeline(&w);
    let out = w
        .asiaq()
        .args(["aws", "spinup", "--pipeline", "pipelines/app.csv"])
        .env("ASIAQ_INJECT_FAULT", "PutMetricAlarm:1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("mhcapp alarms and log metrics FAILED"),
        "{stdout}"
    );
    assert!(
        stdout.contains("asiaq alarms update_metrics --hostclass mhcapp"),
        "{stdout}"
    );
    assert_eq!(w.groups().len(), 1, "the hosts stay");
    assert!(alarms(&w).len() < 2);
    w.ok(&["alarms", "update_metrics", "--hostclass", "mhcapp"]);
    assert_eq!(alarms(&w).len(), 2);
}

/// `vpc create` makes the environment's SNS topics; `vpc destroy` deletes the
/// environment's alarms (not the Elasticsearch ones nor other environments'), its metric
/// filters and `<env>/` log groups, and keeps its SNS topics.
#[test]
fn vpc_destroy_deletes_the_environments_alarms_and_log_groups() {
    let w = World::new();
    w.ok(&["vpc", "create", "--type", "sandbox", "--name", "demo"]);
    // vpc create made the environment's topics and subscriptions.
    let t = topics(&w);
    assert_eq!(t["team_demo_critical"], ["email oncall@example.com"]);
    assert_eq!(t["team_demo_info"], ["email team@example.com"]);
    let dry = w.ok(&["vpc", "update", "--name", "demo", "--dry-run"]);
    assert_eq!(dry, "No changes.\n", "topics are not made twice");
    let cw = w.cloudwatch();
    let put = |name: &str, ns: &str| {
        w.rt.block_on(
            cw.put_metric_alarm()
                .alarm_name(name)
                .namespace(ns)
                .metric_name("M")
                .statistic(aws_sdk_cloudwatch::types::Statistic::Average)
                .period(60)
                .evaluation_periods(1)
                .threshold(1.0)
                .comparison_operator(
                    aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold,
                )
                .send(),
        )
        .unwrap();
    };
    put("team_demo_mhcapp_M_max", "AWS/EC2");
    put("team_demo_mhces_M_max", "AWS/ES");
    put("team_prod_mhcapp_M_max", "AWS/EC2");
    w.ok(&["log-metrics", "update", "--hostclass", "mhcapp"]);
    w.rt.block_on(
        w.logs()
            .create_log_group()
            .log_group_name("prod/mhcapp/var/log/x")
            .send(),
    )
    .unwrap();
    let (out, calls) = with_stats(w.asiaq().args(["alarms", "update_notifications"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(mutating(&calls), Vec::<String>::new());

    let dry = w.ok(&["vpc", "destroy", "--name", "demo", "--dry-run"]);
    assert!(
        dry.contains("delete alarm(s) team_demo_mhcapp_M_max"),
        "{dry}"
    );
    assert!(
        dry.contains("delete log group demo/mhcapp/var/log/app/error.log"),
        "{dry}"
    );
    assert!(
        dry.contains("delete metric filter mhcapp-ErrorCount of demo/mhcapp/var/log/app/error.log"),
        "{dry}"
    );
    w.ok(&["vpc", "destroy", "--name", "demo"]);
    assert_eq!(
        alarms(&w).keys().collect::<Vec<_>>(),
        ["team_demo_mhces_M_max", "team_prod_mhcapp_M_max"]
    );
    assert!(log_groups(&w).is_empty());
    let groups =
        w.rt.block_on(w.logs().describe_log_groups().send())
            .unwrap();
    assert_eq!(
        groups.log_groups().len(),
        1,
        "other environments' groups stay"
    );
    let filters =
        w.rt.block_on(
            w.logs()
                .describe_metric_filters()
                .log_group_name("demo/mhcapp/var/log/app/error.log")
                .send(),
        )
        .unwrap();
    assert!(
        filters.metric_filters().is_empty(),
        "filters survive their group in moto"
    );
    assert_eq!(topics(&w).len(), 2, "topics are never deleted on destroy");
}
