use std::collections::BTreeMap;

use super::*;
use crate::provision::tests::{env, observed, request, settings};
use crate::provision::{plan_hostclass, ElbSettings, ExistingGroup};
use crate::schedule::RequestedSizes;
use crate::syntax::{MetaNetworkName, StaticIp};

fn web() -> HostclassPlan {
    let mut s = settings("mhcweb", MetaNetworkName::Dmz);
    s.elb = Some(ElbSettings {
        port: Some("80".into()),
        protocol: Some("HTTP".into()),
        instance_port: Some("80".into()),
        instance_protocol: Some("HTTP".into()),
        health_check_url: Some("/health".into()),
        ..Default::default()
    });
    s.target_group = true;
    s.ip_addresses = vec![StaticIp::Offset(7)];
    plan_hostclass(&request("mhcweb"), &s, &env(), &observed(), 1).unwrap()
}

fn texts(plan: &Plan<ProvisionAction>) -> Vec<String> {
    plan.steps.iter().map(|s| s.action.to_string()).collect()
}

fn position(plan: &Plan<ProvisionAction>, prefix: &str) -> usize {
    plan.position(|a| a.to_string().starts_with(prefix))
        .unwrap_or_else(|| panic!("no step {prefix}: {:?}", texts(plan)))
}

#[test]
fn the_group_waits_for_what_it_uses_and_nothing_else() {
    let p = web();
    let plan = provision_plan(&p);
    let lb = position(&plan, "load balancer");
    let dns = position(&plan, "DNS");
    let tg = position(&plan, "target group");
    let eni = position(&plan, "floating interfaces");
    let lt = position(&plan, "launch template");
    let group = position(&plan, "create autoscaling group");
    // Load balancer, target group, interfaces and template go at once.
    for a in [lb, tg, eni, lt] {
        assert!(plan.steps[a].after.is_empty(), "{}", plan.steps[a].action);
        assert!(plan.depends_on(group, a));
    }
    // The DNS names wait for the load balancer only; the group does not wait for them.
    assert_eq!(plan.steps[dns].after, vec![lb]);
    assert!(!plan.depends_on(group, dns));
    // Two policies (up and down) after the group; a new group without a schedule has no
    // schedule step.
    let policies: Vec<usize> = plan
        .steps
        .iter()
        .filter(|s| matches!(s.action, ProvisionAction::PutScalingPolicy { .. }))
        .map(|s| s.id)
        .collect();
    assert_eq!(policies.len(), p.policies.len());
    assert!(policies.iter().all(|&i| plan.steps[i].after == vec![group]));
    assert!(!texts(&plan).iter().any(|t| t.starts_with("schedule")));
    assert_eq!(plan.depth(), 3);
}

#[test]
fn a_plain_hostclass_is_a_template_a_group_and_its_policies() {
    let p = plan_hostclass(
        &request("mhcapp"),
        &settings("mhcapp", MetaNetworkName::Intranet),
        &env(),
        &observed(),
        1,
    )
    .unwrap();
    let plan = provision_plan(&p);
    assert_eq!(
        texts(&plan)[..2],
        [
            "launch template demo_mhcapp_1 (ami-1)".to_string(),
            "create autoscaling group demo_mhcapp_1 (min 1, desired 2, max 4)".to_string()
        ]
    );
    assert_eq!(plan.len(), 2 + p.policies.len());
}

/// An update compares the schedule even when none is configured (old recurring actions
/// may have to go), and has no undo: a failed update is finished by running it again.
#[test]
fn an_update_always_puts_the_schedule_and_has_no_undo() {
    let mut p = web();
    p.action = GroupAction::Update {
        sizes: RequestedSizes {
            min: Some(2),
            desired: None,
            max: None,
        },
        existing: ExistingGroup {
            name: "demo_mhcweb_1".into(),
            launch_template_id: None,
            launch_template_name: None,
            launch_configuration: None,
            instance_type: None,
            load_balancers: vec![],
            target_group_arns: vec![],
        },
    };
    p.scheduled_actions.clear();
    let plan = provision_plan(&p);
    let group = position(&plan, "update autoscaling group");
    assert_eq!(
        plan.steps[group].action.to_string(),
        "update autoscaling group demo_mhcweb_1 (min 2, desired -, max -)"
    );
    let schedule = position(&plan, "schedule of demo_mhcweb_1");
    assert_eq!(plan.steps[schedule].after, vec![group]);
    assert_eq!(plan.steps[group].action.undo(), None);
}

/// The rollback of a run that failed at the group removes what the run created, the
/// dependants first, and leaves what it found (no id was reported for it).
#[test]
fn rollback_removes_only_what_was_created() {
    let plan = provision_plan(&web());
    let lb = position(&plan, "load balancer");
    let dns = position(&plan, "DNS");
    let tg = position(&plan, "target group");
    let eni = position(&plan, "floating interfaces");
    let lt = position(&plan, "launch template");
    let group = position(&plan, "create autoscaling group");
    // The load balancer was there already (no id, and so no zone for its DNS names); the
    // rest was made.
    let created = BTreeMap::from([
        ("target group demo-mhcweb".to_string(), "arn:tg".to_string()),
        (
            "floating interfaces of mhcweb".to_string(),
            "eni-1".to_string(),
        ),
        (
            "launch template demo_mhcweb_1".to_string(),
            "lt-1".to_string(),
        ),
        (
            "autoscaling group demo_mhcweb_1".to_string(),
            "demo_mhcweb_1".to_string(),
        ),
    ]);
    let undo = plan.undo_plan(&[lb, dns, tg, eni, lt, group], &created);
    let t = texts(&undo);
    assert_eq!(t[0], "autoscaling group demo_mhcweb_1");
    assert_eq!(t.len(), 4, "{t:?}");
    for (i, text) in t.iter().enumerate().skip(1) {
        assert_eq!(undo.steps[i].after, vec![0], "{text} waits for the group");
    }
    assert!(t.contains(&"launch template lt-1".to_string()));
    assert!(t.contains(&"target group arn:tg".to_string()));
    assert!(t.contains(&"network interface eni-1".to_string()));
}

#[test]
fn steps_round_trip_through_json() {
    let plan = provision_plan(&web());
    for s in &plan.steps {
        let json = serde_json::to_string(&s.action).unwrap();
        let back: ProvisionAction = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s.action);
        assert!(!s.action.name().is_empty());
    }
}
