//! Operations on running hosts against moto (and a confined sshd): isready, tag, stop,
//! terminate, exec over ssh, autoscale commands, snapshots, purge-snapshots and chaos.

use std::collections::BTreeMap;

use crate::hosts_support::*;
use asiaq_testkit::SshHost;

/// The first sequence of the example (mhcntp, mhcadminproxy) plus mhcapp and mhcworker.
fn small_pipeline(w: &World) {
    w.write_pipeline(
        "small.csv",
        "sequence,hostclass,min_size,desired_size,max_size,instance_type,smoke_test\n\
         1,mhcntp,1,1,1,t2.micro,no\n\
         1,mhcadminproxy,1,1,1,t2.micro,no\n\
         1,mhcapp,2,2,2,t2.small,no\n\
         1,mhcworker,3,3,3,t2.small,no\n",
    );
}

fn ids_of(w: &World, hostclass: &str) -> Vec<String> {
    w.instances()
        .iter()
        .filter(|i| tag_value(i.tags(), "hostclass") == Some(hostclass))
        .filter(|i| i.state().and_then(|s| s.name()).map(|n| n.as_str()) != Some("terminated"))
        .filter_map(|i| i.instance_id().map(str::to_string))
        .collect()
}

fn state_of(w: &World, id: &str) -> String {
    let ec2 = w.ec2();
    let out =
        w.rt.block_on(ec2.describe_instances().instance_ids(id).send())
            .unwrap();
    out.reservations()[0].instances()[0]
        .state()
        .and_then(|s| s.name())
        .map(|n| n.as_str().to_string())
        .unwrap_or_default()
}

#[test]
fn isready_tag_stop_terminate() {
    let w = World::new();
    demo_world(&w);
    small_pipeline(&w);
    w.ok(&["aws", "spinup", "--pipeline", "pipelines/small.csv"]);
    let ntp = ids_of(&w, "mhcntp");
    assert_eq!(ntp.len(), 1);

    // Not tagged smoketest yet: not ready, exit 1.
    let out = w.run(&["aws", "isready", "--hostclass", "mhcntp"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains(&format!("...{} is NOT ready", ntp[0])));
    // tag sets it (what the instance would do); then it is ready.
    w.ok(&[
        "aws",
        "tag",
        "--instance",
        &ntp[0],
        "--key",
        "smoketest",
        "--value",
        "tested",
    ]);
    let out = w.ok(&["aws", "isready", "--hostclass", "mhcntp"]);
    assert!(out.contains(&format!("...{} is ready", ntp[0])), "{out}");
    let ec2 = w.ec2();
    let tags =
        w.rt.block_on(ec2.describe_instances().instance_ids(&ntp[0]).send())
            .unwrap();
    assert_eq!(
        tag_value(tags.reservations()[0].instances()[0].tags(), "smoketest"),
        Some("tested")
    );
    // tag without a value removes it.
    w.ok(&["aws", "tag", "--instance", &ntp[0], "--key", "smoketest"]);
    assert_eq!(
        w.run(&["aws", "isready", "--instance", &ntp[0]])
            .status
            .code(),
        Some(1)
    );

    // Selectors are mutually exclusive and one is required.
    assert_eq!(
        w.run(&[
            "aws",
            "terminate",
            "--hostclass",
            "mhcapp",
            "--instance",
            &ntp[0]
        ])
        .status
        .code(),
        Some(2)
    );
    assert_eq!(w.run(&["aws", "terminate"]).status.code(), Some(2));

    // stop, then terminate by hostclass (repeatable selector).
    let app = ids_of(&w, "mhcapp");
    let out = w.ok(&["aws", "stop", "--instance", &app[0]]);
    assert!(out.starts_with("Stopped: "), "{out}");
    assert_eq!(state_of(&w, &app[0]), "stopped");
    let dry = w.ok(&["aws", "terminate", "--hostclass", "mhcapp", "--dry-run"]);
    assert!(dry.contains("Would be terminated"), "{dry}");
    assert_eq!(state_of(&w, &app[1]), "running");
    let out = w.ok(&[
        "aws",
        "terminate",
        "--hostclass",
        "mhcapp",
        "--hostclass",
        "mhcntp",
    ]);
    assert!(out.starts_with("Terminated: "), "{out}");
    for id in app.iter().chain(ntp.iter()) {
        assert_eq!(state_of(&w, id), "terminated", "{id}");
    }
    assert_eq!(ids_of(&w, "mhcadminproxy").len(), 1);
}

#[test]
fn exec_runs_commands_over_ssh_and_returns_remote_exit_codes() {
    let host = SshHost::start();
    let w = World::new();
    demo_world(&w);
    small_pipeline(&w);
    w.ok(&["aws", "spinup", "--pipeline", "pipelines/small.csv"]);
    // The route: a ProxyCommand from disco_aws.ini; the key from an ssh config file.
    w.set_aws_option(
        "disco_aws",
        &format!("ssh_proxy_command={}", host.proxy_command()),
    );
    let ssh_config = w.config_path().join("ssh_config");
    std::fs::write(
        &ssh_config,
        format!(
            "Host *\n    IdentityFile {}\n    IdentitiesOnly yes\n",
            host.private_key().display()
        ),
    )
    .unwrap();
    let exec = |args: &[&str]| {
        w.asiaq()
            .args(["aws", "exec"])
            .args(args)
            .env("ASIAQ_SSH_CONFIG", &ssh_config)
            .output()
            .unwrap()
    };
    let out = exec(&[
        "--hostclass",
        "mhcntp",
        "--user",
        "root",
        "--command",
        "echo hello from $(hostname -s 2>/dev/null || echo box)",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out.stderr),
        host.log()
    );
    assert!(
        text(&out.stdout).contains("hello from"),
        "{}",
        text(&out.stdout)
    );
    // The remote exit code comes back; over two instances, serially and concurrently.
    let out = exec(&[
        "--hostclass",
        "mhcntp",
        "--user",
        "root",
        "--command",
        "exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let out = exec(&[
        "--hostclass",
        "mhcapp",
        "--user",
        "root",
        "--command",
        "exit 4",
    ]);
    assert_eq!(out.status.code(), Some(4));
    let out = exec(&[
        "--hostclass",
        "mhcapp",
        "--user",
        "root",
        "--concurrent",
        "--command",
        "echo concurrent; exit 5",
    ]);
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(text(&out.stdout).matches("concurrent").count(), 2);
    // The command really ran on the host: it leaves a file in the chroot.
    let out = exec(&[
        "--instance",
        &ids_of(&w, "mhcntp")[0],
        "--user",
        "root",
        "--command",
        "echo ran > /tmp/asiaq-exec",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(host.path("/tmp/asiaq-exec"))
            .unwrap()
            .trim(),
        "ran"
    );
}

#[test]
fn autoscale_groups_configs_and_policies() {
    let w = World::new();
    demo_world(&w);
    small_pipeline(&w);
    w.ok(&["aws", "spinup", "--pipeline", "pipelines/small.csv"]);
    let groups = w.ok(&["autoscale", "listgroups"]);
    assert_eq!(groups.lines().count(), 4, "{groups}");
    let app = w.group_of("mhcapp");
    let app_name = app.auto_scaling_group_name().unwrap().to_string();
    let line = groups.lines().find(|l| l.starts_with(&app_name)).unwrap();
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(&cols[2..], ["2", "2", "2", "2", "asg", "n"], "{line}");
    let configs = w.ok(&["autoscale", "listconfigs"]);
    assert_eq!(configs.lines().count(), 4, "{configs}");

    // Policies.
    w.ok(&[
        "autoscale",
        "createpolicy",
        "--group-name",
        &app_name,
        "--policy-name",
        "steps",
        "--policy-type",
        "StepScaling",
        "--adjustment-type",
        "ChangeInCapacity",
        "--step-adjustments",
        "MetricIntervalLowerBound=0,ScalingAdjustment=2",
    ]);
    let listed = w.ok(&["autoscale", "listpolicies", "--group-name", &app_name]);
    assert!(listed.contains("steps"), "{listed}");
    let asg = w.autoscaling();
    let names = |w: &World| -> Vec<String> {
        let mut v: Vec<String> =
            w.rt.block_on(
                asg.describe_policies()
                    .auto_scaling_group_name(&app_name)
                    .send(),
            )
            .unwrap()
            .scaling_policies()
            .iter()
            .filter_map(|p| p.policy_name().map(str::to_string))
            .collect();
        v.sort();
        v
    };
    // moto keys scaling policies by name alone (AWS: per group), so the `up`/`down` of the
    // four groups overwrite one another and only the last group keeps them: check `steps`.
    assert!(names(&w).contains(&"steps".to_string()), "{:?}", names(&w));
    w.ok(&[
        "autoscale",
        "deletepolicy",
        "--policy_name",
        "steps",
        "--group_name",
        &app_name,
    ]);
    assert!(!names(&w).contains(&"steps".to_string()), "{:?}", names(&w));
    // Bad step adjustments: usage error, nothing sent.
    assert_eq!(
        w.run(&[
            "autoscale",
            "createpolicy",
            "--group-name",
            &app_name,
            "--policy-name",
            "bad",
            "--policy-type",
            "StepScaling",
            "--adjustment-type",
            "ChangeInCapacity",
            "--step-adjustments",
            "Cooldown=3,ScalingAdjustment=1",
        ])
        .status
        .code(),
        Some(2)
    );

    // deletegroup refuses a group with instances unless --force.
    assert_eq!(
        w.run(&["autoscale", "deletegroup", "--hostclass", "mhcapp"])
            .status
            .code(),
        Some(1)
    );
    w.ok(&[
        "autoscale",
        "deletegroup",
        "--hostclass",
        "mhcapp",
        "--force",
    ]);
    assert_eq!(w.groups().len(), 3);
    assert_eq!(
        w.launch_templates().len(),
        3,
        "the group's template goes with it"
    );

    // cleanconfigs deletes templates no group uses; cleangroups only empty groups.
    let ec2 = w.ec2();
    w.rt.block_on(
        ec2.create_launch_template()
            .launch_template_name("demo_mhcold_1")
            .launch_template_data(
                aws_sdk_ec2::types::RequestLaunchTemplateData::builder()
                    .image_id("ami-12345678")
                    .build(),
            )
            .send(),
    )
    .unwrap();
    let out = w.ok(&["autoscale", "cleanconfigs"]);
    assert_eq!(out.trim(), "deleted demo_mhcold_1");
    assert_eq!(w.launch_templates().len(), 3);
    let out = w.ok(&["autoscale", "cleangroups"]);
    assert!(out.trim().is_empty(), "{out}");
    assert_eq!(w.groups().len(), 3);
}

#[test]
fn snapshots_map_into_new_groups_and_are_cleaned_up() {
    let w = World::new();
    demo_world(&w);
    // create: a tagged, encrypted snapshot of an empty volume; the volume is gone again.
    let first = w.ok(&[
        "snapshot",
        "create",
        "--size",
        "10",
        "--hostclass",
        "mhcworker",
    ]);
    let first = first.trim().to_string();
    // Start times have one-second resolution: the second must be newer.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = w.ok(&[
        "snapshot",
        "create",
        "--size",
        "20",
        "--hostclass",
        "mhcworker",
    ]);
    let second = second.trim().to_string();
    let ec2 = w.ec2();
    let snaps =
        w.rt.block_on(ec2.describe_snapshots().owner_ids("self").send())
            .unwrap();
    let s = snaps
        .snapshots()
        .iter()
        .find(|s| s.snapshot_id() == Some(first.as_str()))
        .unwrap();
    let tags: BTreeMap<&str, &str> = s
        .tags()
        .iter()
        .map(|t| (t.key().unwrap(), t.value().unwrap()))
        .collect();
    assert_eq!(tags["hostclass"], "mhcworker");
    assert_eq!(tags["env"], "demo");
    assert_eq!(tags["productline"], "platform");
    assert_eq!(s.encrypted(), Some(true));
    let vols = w.rt.block_on(ec2.describe_volumes().send()).unwrap();
    assert!(vols.volumes().is_empty(), "temporary volumes are deleted");
    let list = w.ok(&["snapshot", "list", "--hostclass", "mhcworker"]);
    assert_eq!(list.lines().count(), 2, "{list}");
    assert!(list.lines().all(|l| l.starts_with("mhcworker ")), "{list}");

    // provision maps the latest snapshot of the hostclass.
    w.ok(&[
        "aws",
        "provision",
        "--hostclass",
        "mhcworker",
        "--min-size",
        "0",
        "--desired-size",
        "0",
        "--max-size",
        "1",
        "--no-smoke-test",
    ]);
    let g = w.group_of("mhcworker");
    let name = g.auto_scaling_group_name().unwrap().to_string();
    let snap_device = |w: &World| {
        w.template_data(&name)
            .block_device_mappings()
            .iter()
            .find(|m| m.device_name() == Some("/dev/sdb"))
            .and_then(|m| m.ebs())
            .map(|e| {
                (
                    e.snapshot_id().unwrap_or_default().to_string(),
                    e.volume_size(),
                )
            })
    };
    assert_eq!(snap_device(&w), Some((second.clone(), Some(20))));
    // update points the group at another snapshot.
    w.ok(&[
        "snapshot",
        "update",
        "--hostclass",
        "mhcworker",
        "--snapshot-id",
        &first,
    ]);
    assert_eq!(snap_device(&w), Some((first.clone(), Some(10))));

    // cleanup keeps the newest; delete refuses snapshots of other environments.
    let out = w.ok(&["snapshot", "cleanup", "--keep", "1"]);
    assert_eq!(out.trim(), format!("deleted {first}"));
    let foreign =
        w.rt.block_on(
            ec2.create_volume()
                .availability_zone("us-west-2a")
                .size(1)
                .send(),
        )
        .unwrap()
        .volume_id
        .unwrap();
    let foreign_snap =
        w.rt.block_on(ec2.create_snapshot().volume_id(&foreign).send())
            .unwrap()
            .snapshot_id
            .unwrap();
    let out = w.run(&[
        "snapshot",
        "delete",
        "--snapshot",
        &foreign_snap,
        "--snapshot",
        &second,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let left: Vec<String> =
        w.rt.block_on(ec2.describe_snapshots().owner_ids("self").send())
            .unwrap()
            .snapshots()
            .iter()
            .filter_map(|s| s.snapshot_id().map(str::to_string))
            .collect();
    assert!(left.contains(&foreign_snap));
    assert!(!left.contains(&second));

    // purge-snapshots: the untagged, undescribed one is "no metadata".
    let dry = w.ok(&["purge-snapshots", "--no-metadata", "--dry-run"]);
    assert!(
        dry.contains(&format!(
            "would delete {foreign_snap} (no description and no tags)"
        )),
        "{dry}"
    );
    w.ok(&["purge-snapshots", "--no-metadata"]);
    let left =
        w.rt.block_on(ec2.describe_snapshots().owner_ids("self").send())
            .unwrap();
    let left: Vec<(&str, &str)> = left
        .snapshots()
        .iter()
        .map(|s| {
            (
                s.snapshot_id().unwrap_or_default(),
                s.description().unwrap_or_default(),
            )
        })
        .collect();
    assert!(
        !left.iter().any(|(id, _)| *id == foreign_snap),
        "{foreign_snap} survived: {left:?}"
    );
    assert_eq!(
        w.run(&["purge-snapshots", "--keep-num", "0"]).status.code(),
        Some(2)
    );
}

#[test]
fn chaos_respects_retainage_and_opt_outs() {
    let w = World::new();
    demo_world(&w);
    small_pipeline(&w);
    w.ok(&["aws", "spinup", "--pipeline", "pipelines/small.csv"]);
    let before: BTreeMap<&str, Vec<String>> = ["mhcntp", "mhcadminproxy", "mhcapp", "mhcworker"]
        .iter()
        .map(|hc| (*hc, ids_of(&w, hc)))
        .collect();
    // Dry run: victims printed, nothing terminated. Level 100, retainage 50: per group at
    // most floor(desired/2): mhcapp 1 of 2, mhcworker 1 of 3; mhcntp/mhcadminproxy opt out.
    let dry = w.ok(&["chaos", "--level", "100", "--retainage", "50", "--dry-run"]);
    assert_eq!(dry.lines().count(), 2, "{dry}");
    assert!(
        dry.lines()
            .all(|l| l.starts_with("mhcapp ") || l.starts_with("mhcworker ")),
        "{dry}"
    );
    for ids in before.values() {
        for id in ids {
            assert_eq!(state_of(&w, id), "running");
        }
    }
    let out = w.ok(&["chaos", "--level", "100", "--retainage", "50"]);
    let killed: Vec<String> = out
        .lines()
        .map(|l| l.split_whitespace().nth(1).unwrap().to_string())
        .collect();
    assert_eq!(killed.len(), 2);
    for id in &killed {
        assert_eq!(state_of(&w, id), "terminated");
    }
    let count_killed = |hc: &str| before[hc].iter().filter(|id| killed.contains(id)).count();
    assert_eq!(count_killed("mhcapp"), 1);
    assert_eq!(count_killed("mhcworker"), 1);
    assert_eq!(count_killed("mhcntp") + count_killed("mhcadminproxy"), 0);

    // --hostclass and --az: only that hostclass, only that zone (the zone of a live
    // mhcworker instance, as the autoscaling API reports it).
    let worker = w.group_of("mhcworker");
    let live = worker
        .instances()
        .iter()
        .find(|i| !killed.iter().any(|k| Some(k.as_str()) == i.instance_id()))
        .unwrap();
    let zone = live.availability_zone().unwrap().to_string();
    let out = w.ok(&[
        "chaos",
        "--hostclass",
        "mhcworker",
        "--az",
        &zone,
        "--dry-run",
    ]);
    assert!(out.lines().count() >= 1, "{out}");
    assert!(out.lines().all(|l| l.starts_with("mhcworker ")), "{out}");
    let out = w.ok(&["chaos", "--az", "us-west-2z", "--dry-run"]);
    assert!(out.trim().is_empty(), "{out}");
    assert_eq!(w.run(&["chaos", "--level", "0"]).status.code(), Some(2));
}

/// `isready`'s selectors add up, as in the original (whose `instances_from_args` extends
/// one list with the instances of each): every instance chosen by any of them is checked,
/// once; with none, no instance is (`No instances found`, exit 0).
#[test]
fn isready_selectors_add_up() {
    let w = World::new();
    demo_world(&w);
    small_pipeline(&w);
    w.ok(&["aws", "spinup", "--pipeline", "pipelines/small.csv"]);
    let (ntp, app, worker) = (
        ids_of(&w, "mhcntp"),
        ids_of(&w, "mhcapp"),
        ids_of(&w, "mhcworker"),
    );
    assert_eq!((ntp.len(), app.len(), worker.len()), (1, 2, 3));

    // Two hostclasses, an instance of a third, and ntp's instance a second time.
    let out = w.run(&[
        "aws",
        "isready",
        "--hostclass",
        "mhcntp",
        "--hostclass",
        "mhcapp",
        "--instance",
        &worker[0],
        "--instance",
        &ntp[0],
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let mut checked: Vec<&str> = stdout
        .lines()
        .map(|l| {
            l.trim_start_matches('.')
                .strip_suffix(" is NOT ready")
                .unwrap_or_else(|| panic!("{l:?} in {stdout}"))
        })
        .collect();
    checked.sort();
    let mut expected: Vec<&str> = ntp
        .iter()
        .chain(&app)
        .chain(&worker[..1])
        .map(String::as_str)
        .collect();
    expected.sort();
    assert_eq!(checked, expected, "{stdout}");

    // Once ready, the same selection passes; as JSON, one entry per instance.
    for id in &expected {
        w.ok(&[
            "aws",
            "tag",
            "--instance",
            id,
            "--key",
            "smoketest",
            "--value",
            "y",
        ]);
    }
    let ntp_group = w.group_of("mhcntp");
    let json = w.ok(&[
        "aws",
        "isready",
        "--hostclass",
        "mhcapp",
        "--asg",
        ntp_group.auto_scaling_group_name().unwrap(),
        "--instance",
        &worker[0],
        "--output",
        "json",
    ]);
    let rows: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&json).unwrap();
    let mut ids: Vec<&str> = rows.keys().map(String::as_str).collect();
    ids.sort();
    assert_eq!(ids, expected, "{json}");

    // No selector: nothing is checked (the original's empty selection), not every host.
    let out = w.ok(&["aws", "isready"]);
    assert_eq!(out.trim(), "No instances found");
}

/// `gethostclassoption` reads the configuration; `promoterunning` shares the final-stage,
/// production-baked images of running instances with the production accounts; and
/// `spindownandup` replaces the groups of the pipeline's hostclasses only.
#[test]
fn gethostclassoption_promoterunning_and_spindownandup() {
    let w = World::new();
    demo_world(&w);
    // No alarms: the spindownandup plan below is groups and templates alone (the alarms
    // that follow the hosts are tested in alarms.rs).
    std::fs::remove_file(w.config_path().join("disco_alarms.ini")).unwrap();
    let opt = |o: &str| {
        w.ok(&[
            "aws",
            "gethostclassoption",
            "--hostclass",
            "mhcntp",
            "--option",
            o,
        ])
    };
    assert_eq!(opt("public_ip").trim(), "True");
    assert_eq!(
        opt("nope").trim(),
        "Hostclass mhcntp doesn't have option nope."
    );

    // Production accounts, and the production baker's tag on mhcntp's image only.
    let ini = w.config_path().join("disco_aws.ini");
    let text_ini = std::fs::read_to_string(&ini).unwrap();
    assert!(text_ini.contains("\nprod_account_ids=\n"));
    std::fs::write(
        &ini,
        text_ini.replace("\nprod_account_ids=\n", "\nprod_account_ids=123456789012\n"),
    )
    .unwrap();
    let ec2 = w.ec2();
    let images =
        w.rt.block_on(ec2.describe_images().owners("self").send())
            .unwrap();
    let image_of = |hc: &str| -> String {
        images
            .images()
            .iter()
            .find(|i| i.name().is_some_and(|n| n.starts_with(&format!("{hc} "))))
            .and_then(|i| i.image_id())
            .unwrap()
            .to_string()
    };
    let (ntp_ami, app_ami) = (image_of("mhcntp"), image_of("mhcapp"));
    w.rt.block_on(
        ec2.create_tags()
            .resources(&ntp_ami)
            .tags(tag("baker", "jenkins"))
            .send(),
    )
    .unwrap();
    w.write_pipeline(
        "two.csv",
        "sequence,hostclass,min_size,desired_size,max_size,instance_type,smoke_test\n\
         1,mhcntp,1,1,1,t2.micro,no\n\
         1,mhcapp,1,1,1,t2.small,no\n",
    );
    w.ok(&[
        "aws",
        "spinup",
        "--pipeline",
        "pipelines/two.csv",
        "--no-smoke-test",
    ]);
    // Instances must be older than --hours (0 here): launch times have 1 s resolution.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let dry = w.ok(&["aws", "promoterunning", "--hours", "0", "--dry-run"]);
    assert_eq!(dry.trim(), format!("would promote {ntp_ami} to production"));
    let shared_with = |ami: &str| -> Vec<String> {
        w.rt.block_on(
            ec2.describe_image_attribute()
                .image_id(ami)
                .attribute(aws_sdk_ec2::types::ImageAttributeName::LaunchPermission)
                .send(),
        )
        .unwrap()
        .launch_permissions()
        .iter()
        .filter_map(|p| p.user_id().map(str::to_string))
        .collect()
    };
    assert!(shared_with(&ntp_ami).is_empty(), "dry run shares nothing");
    let out = w.ok(&["aws", "promoterunning", "--hours", "0"]);
    assert_eq!(out.trim(), format!("promoted {ntp_ami} to production"));
    assert_eq!(shared_with(&ntp_ami), ["123456789012"]);
    assert!(
        shared_with(&app_ami).is_empty(),
        "not the production baker's"
    );
    // Shared already: nothing more to do.
    assert_eq!(w.ok(&["aws", "promoterunning", "--hours", "0"]).trim(), "");

    // spindownandup: the pipeline's hostclasses are replaced (mhcntp) or added (mhcworker);
    // a group of another hostclass (mhcapp) is not the pipeline's and stays.
    w.write_pipeline(
        "one.csv",
        "sequence,hostclass,min_size,desired_size,max_size,instance_type,smoke_test\n\
         1,mhcntp,0,0,1,t2.micro,no\n\
         1,mhcworker,0,0,1,t2.small,no\n",
    );
    let names = |w: &World| -> Vec<String> {
        let mut v: Vec<String> = w
            .groups()
            .iter()
            .filter_map(|g| g.auto_scaling_group_name().map(str::to_string))
            .collect();
        v.sort();
        v
    };
    let before = names(&w);
    assert_eq!(before.len(), 2);
    let old_ntp = before
        .iter()
        .find(|g| g.starts_with("demo_mhcntp_"))
        .unwrap()
        .clone();
    let app = before
        .iter()
        .find(|g| g.starts_with("demo_mhcapp_"))
        .unwrap()
        .clone();
    // Group names carry the second they were made: make the new mhcntp's differ.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    // Its dry run with --output json writes one plan document on stdout, and nothing else:
    // the old mhcntp group goes, then a template and a group for each hostclass come.
    let out = w.run(&[
        "aws",
        "spindownandup",
        "--pipeline",
        "pipelines/one.csv",
        "--no-smoke-test",
        "--dry-run",
        "--output",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let plan: asiaq_core::plan::render::PlanDocument = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| {
            panic!(
                "{e}: stdout is not one plan document:\n{}",
                text(&out.stdout)
            )
        });
    assert_eq!(plan.command, "aws spindownandup");
    let going: Vec<&str> = plan
        .steps
        .steps
        .iter()
        .filter(|s| s.change.is_delete())
        .map(|s| s.resource.name.as_str())
        .collect();
    assert_eq!(going, vec![old_ntp.as_str()], "{plan:#?}");
    assert_eq!(plan.summary.create, 4, "{plan:#?}");
    assert_eq!(w.groups().len(), 2, "a dry run changes nothing");
    let dry = w.ok(&[
        "aws",
        "spindownandup",
        "--pipeline",
        "pipelines/one.csv",
        "--no-smoke-test",
        "--dry-run",
    ]);
    assert!(dry.contains(&old_ntp) && !dry.contains(&app), "{dry}");
    w.ok(&[
        "aws",
        "spindownandup",
        "--pipeline",
        "pipelines/one.csv",
        "--no-smoke-test",
    ]);
    let after = names(&w);
    assert_eq!(after.len(), 3, "{after:?}");
    assert!(
        after.contains(&app),
        "another hostclass's group stays: {after:?}"
    );
    assert!(
        !after.contains(&old_ntp),
        "the pipeline's old group goes: {after:?}"
    );
    assert!(
        after.iter().any(|g| g.starts_with("demo_mhcntp_")),
        "{after:?}"
    );
    assert!(
        after.iter().any(|g| g.starts_with("demo_mhcworker_")),
        "{after:?}"
    );
    let mut templates: Vec<String> = w
        .launch_templates()
        .iter()
        .filter_map(|t| t.launch_template_name().map(str::to_string))
        .collect();
    templates.sort();
    assert_eq!(templates, after, "the old group's template went with it");
}

/// `elb update` creates (then updates) a hostclass's load balancer and its CNAME in the
/// environment's hosted zone; `elb list` shows it by its human name.
#[test]
fn elb_update_and_list() {
    let w = World::new();
    demo_world(&w);
    let r53 = w.route53();
    let zone =
        w.rt.block_on(
            r53.create_hosted_zone()
                .name("sandbox.example.com")
                .caller_reference("asiaq-test")
                .send(),
        )
        .unwrap()
        .hosted_zone
        .unwrap()
        .id;
    let dry = w.ok(&["elb", "update", "--hostclass", "mhcweb", "--dry-run"]);
    assert!(dry.starts_with("would create or update "), "{dry}");
    assert!(w.elbs().is_empty(), "dry run creates nothing");
    let out = w.ok(&["elb", "update", "--hostclass", "mhcweb"]);
    assert!(out.starts_with("created "), "{out}");
    let elbs = w.elbs();
    assert_eq!(elbs.len(), 1);
    let lb = &elbs[0];
    let id = lb.load_balancer_name().unwrap().to_string();
    assert_eq!(id.len(), 32);
    let listener = lb.listener_descriptions()[0].listener().unwrap();
    assert_eq!(
        (
            listener.protocol(),
            listener.load_balancer_port(),
            listener.instance_port()
        ),
        ("HTTP", 80, 80)
    );
    let records =
        w.rt.block_on(r53.list_resource_record_sets().hosted_zone_id(&zone).send())
            .unwrap();
    let cname = records
        .resource_record_sets()
        .iter()
        .find(|r| r.name() == "mhcweb-demo.sandbox.example.com.")
        .expect("the hostclass's CNAME");
    assert_eq!(cname.r#type().as_str(), "CNAME");
    assert_eq!(cname.ttl(), Some(5));
    assert_eq!(cname.resource_records()[0].value(), lb.dns_name().unwrap());
    // Again: the same load balancer, updated.
    let out = w.ok(&["elb", "update", "--hostclass", "mhcweb"]);
    assert!(out.starts_with("updated "), "{out}");
    assert_eq!(w.elbs().len(), 1);
    let list = w.ok(&["elb", "list"]);
    let line = list.lines().next().expect("one load balancer");
    assert!(line.starts_with("demo-mhcweb "), "{list}");
    assert!(line.ends_with(&id), "{list}");
    let json: serde_json::Value =
        serde_json::from_str(&w.ok(&["elb", "list", "--output", "json"])).unwrap();
    assert_eq!(json[0]["id"], serde_json::json!(id));
    // A hostclass without elb=True: usage error.
    assert_eq!(
        w.run(&["elb", "update", "--hostclass", "mhcntp"])
            .status
            .code(),
        Some(2)
    );
    // Destroying the environment deletes the load balancer and the CNAME pointing at it.
    w.ok(&["vpc", "destroy", "--name", "demo", "--yes"]);
    assert!(
        w.elbs().is_empty(),
        "the load balancer went with the environment"
    );
    let records =
        w.rt.block_on(r53.list_resource_record_sets().hosted_zone_id(&zone).send())
            .unwrap();
    assert!(
        records
            .resource_record_sets()
            .iter()
            .all(|r| r.r#type().as_str() != "CNAME"),
        "{records:?}"
    );
}

/// `snapshot capture --volume-id`: a snapshot of a running instance's volume, tagged from
/// the instance (`hostclass`, `environment` as `env`, `productline`) plus `--tag`s; a
/// volume that does not exist fails with exit 1 and snapshots nothing.
#[test]
fn capture_snapshots_an_instance_volume_with_its_tags() {
    let w = World::new();
    demo_world(&w);
    w.write_pipeline(
        "one.csv",
        "sequence,hostclass,min_size,desired_size,max_size,instance_type,smoke_test\n\
         1,mhcntp,1,1,1,t2.micro,no\n",
    );
    w.ok(&["aws", "spinup", "--pipeline", "pipelines/one.csv"]);
    let instance = w
        .instances()
        .into_iter()
        .find(|i| tag_value(i.tags(), "hostclass") == Some("mhcntp"))
        .and_then(|i| i.instance_id)
        .expect("an mhcntp instance");
    let ec2 = w.ec2();
    let vols =
        w.rt.block_on(
            ec2.describe_volumes()
                .filters(
                    aws_sdk_ec2::types::Filter::builder()
                        .name("attachment.instance-id")
                        .values(&instance)
                        .build(),
                )
                .send(),
        )
        .unwrap();
    let volume = vols.volumes()[0].volume_id().unwrap().to_string();
    let id = w.ok(&[
        "snapshot",
        "capture",
        "--volume-id",
        &volume,
        "--tag",
        "purpose:before-upgrade",
    ]);
    let id = id.trim();
    let snaps =
        w.rt.block_on(ec2.describe_snapshots().snapshot_ids(id).send())
            .unwrap();
    let s = &snaps.snapshots()[0];
    assert_eq!(s.volume_id(), Some(volume.as_str()));
    let tags: BTreeMap<&str, &str> = s
        .tags()
        .iter()
        .map(|t| (t.key().unwrap(), t.value().unwrap()))
        .collect();
    assert_eq!(tags["hostclass"], "mhcntp");
    assert_eq!(tags["env"], "demo");
    assert_eq!(tags["purpose"], "before-upgrade");
    assert!(tags.contains_key("productline"), "{tags:?}");

    let before =
        w.rt.block_on(ec2.describe_snapshots().owner_ids("self").send())
            .unwrap()
            .snapshots()
            .len();
    let out = w.run(&[
        "snapshot",
        "capture",
        "--volume-id",
        "vol-00000000000000000",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let after =
        w.rt.block_on(ec2.describe_snapshots().owner_ids("self").send())
            .unwrap()
            .snapshots()
            .len();
    assert_eq!(before, after, "nothing snapshotted");
}

/// The original's up/down scripts, ported by the mechanical rename, bring a sandbox
/// environment with a pipeline up and leave nothing behind: `vpc destroy` tears down the
/// groups, their instances and launch templates, then the network (spec §4.25). Its
/// dry-run shows the occupants; a non-sandbox environment with no terminal and no --yes
/// is refused (exit 2, naming --yes) and nothing is changed.
#[test]
fn original_up_and_down_scripts_leave_nothing_behind() {
    let w = World::new();
    for hc in ["mhcntp", "mhcapp", "mhcworker"] {
        w.create_ami(hc, 1_700_000_000, "tested");
    }
    w.write_pipeline(
        "up.csv",
        "sequence,hostclass,min_size,desired_size,max_size,instance_type,smoke_test\n\
         1,mhcntp,1,1,1,t2.micro,no\n\
         2,mhcapp,1,1,1,t2.small,no\n\
         2,mhcworker,2,2,2,t2.small,no\n",
    );
    let script =
        asiaq_testkit::workspace_root().join("crates/asiaq/tests/fixtures/scripts/up_down.sh");
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_asiaq"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // The script runs `asiaq` from PATH, with the environment the harness gives the binary.
    let script_run = |mode: &str| {
        let harness = w.asiaq();
        let mut run = std::process::Command::new("bash");
        for (k, v) in harness.get_envs() {
            match v {
                Some(v) => run.env(k, v),
                None => run.env_remove(k),
            };
        }
        run.env("PATH", &path)
            .arg(&script)
            .args([mode, "ci", "pipelines/up.csv"])
            .current_dir(w.config_path())
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let up = script_run("up");
    assert_eq!(up.status.code(), Some(0), "{}", text(&up.stderr));
    let groups = w.groups();
    assert_eq!(groups.len(), 3, "{groups:?}");
    let running = |w: &World| {
        w.instances()
            .iter()
            .filter(|i| {
                i.state()
                    .and_then(|s| s.name())
                    .is_some_and(|n| n.as_str() != "terminated")
            })
            .count()
    };
    assert_eq!(running(&w), 4);

    // The dry run lists the occupants in the plan and changes nothing.
    let dry = w.ok(&["vpc", "destroy", "--name", "ci", "--dry-run"]);
    for g in &groups {
        let name = g.auto_scaling_group_name().unwrap();
        assert!(
            dry.contains(&format!("delete autoscaling group {name}")),
            "{dry}"
        );
    }
    assert_eq!(w.groups().len(), 3);

    let down = script_run("down");
    assert_eq!(down.status.code(), Some(0), "{}", text(&down.stderr));
    assert!(w.groups().is_empty(), "{:?}", w.groups());
    assert!(
        w.launch_templates().is_empty(),
        "{:?}",
        w.launch_templates()
    );
    assert_eq!(running(&w), 0);
    let ec2 = w.ec2();
    let vpcs = w.rt.block_on(ec2.describe_vpcs().send()).unwrap();
    assert!(
        vpcs.vpcs().iter().all(|v| v.is_default() == Some(true)),
        "{:?}",
        vpcs.vpcs()
    );
    let addresses = w.rt.block_on(ec2.describe_addresses().send()).unwrap();
    assert!(
        addresses.addresses().is_empty(),
        "{:?}",
        addresses.addresses()
    );

    // Not a sandbox: no terminal and no --yes refuses, naming --yes; nothing changes.
    w.ok(&[
        "vpc",
        "create",
        "--type",
        "production",
        "--name",
        "prod",
        "--skip-enis",
    ]);
    let out = w.run(&["vpc", "destroy", "--name", "prod"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--yes"), "{}", text(&out.stderr));
    w.ok(&["vpc", "destroy", "--name", "prod", "--yes"]);
}
