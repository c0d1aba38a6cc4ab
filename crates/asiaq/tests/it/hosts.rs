//! `asiaq aws` against moto: spinup of the example pipeline, listhosts, provision (scale),
//! spindown, rollback of a failed hostclass, and bad pipelines; every effect is checked
//! through the AWS API.

use std::collections::BTreeMap;

use crate::hosts_support::*;

/// Provision mhcntp as a group without instances: what these tests check is the launch
/// template and the group, not instances.
const PROVISION_EMPTY_MHCNTP: [&str; 11] = [
    "aws",
    "provision",
    "--hostclass",
    "mhcntp",
    "--min-size",
    "0",
    "--desired-size",
    "0",
    "--max-size",
    "0",
    "--no-smoke-test",
];

fn asg_tags(g: &aws_sdk_autoscaling::types::AutoScalingGroup) -> BTreeMap<String, (String, bool)> {
    g.tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                (
                    t.value().unwrap_or_default().to_string(),
                    t.propagate_at_launch().unwrap_or(false),
                ),
            )
        })
        .collect()
}

fn user_data(w: &World, group: &str) -> BTreeMap<String, String> {
    let data = w.template_data(group);
    let text = String::from_utf8(
        aws_smithy_types::base64::decode(data.user_data().expect("user data")).unwrap(),
    )
    .unwrap();
    text.lines()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect()
}

#[test]
fn spinup_of_the_example_pipeline_and_everything_it_makes() {
    let w = World::new();
    let vpc = demo_world(&w);
    demo_pipeline_for_moto(&w);

    // Dry run: the plan, and nothing created.
    let dry = w.ok(&[
        "aws",
        "spinup",
        "--pipeline",
        "pipelines/demo_moto.csv",
        "--dry-run",
    ]);
    assert!(
        dry.contains("sequence 1 mhcntp: create group demo_mhcntp_"),
        "{dry}"
    );
    assert!(
        dry.contains("schedule 0 8 * * 1-5: min -, desired 2, max -"),
        "{dry}"
    );
    assert!(w.groups().is_empty() && w.launch_templates().is_empty());

    let tagger = w.smoke_tagger();
    let stats_file = w.config_path().join("spinup-stats.json");
    let spun = w
        .asiaq()
        .env("ASIAQ_API_STATS", &stats_file)
        .args(["aws", "spinup", "--pipeline", "pipelines/demo_moto.csv"])
        .output()
        .unwrap();
    assert_eq!(spun.status.code(), Some(0), "{}", text(&spun.stderr));
    let out = text(&spun.stdout);
    let stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats_file).unwrap()).unwrap();
    // Two policies (up, down) per group. moto keys scaling policies by name alone (AWS
    // keys them per group), so the groups' `up`/`down` overwrite one another there and
    // only one group keeps them: the calls are counted here, the values checked below.
    assert_eq!(
        stats["operations"]["autoscaling:PutScalingPolicy"]["calls"],
        serde_json::json!(10),
        "{stats}"
    );
    drop(tagger);
    for hc in DEMO_HOSTCLASSES {
        assert!(out.contains(&format!("{hc} demo_{hc}_")), "{out}");
    }

    // Groups: names, sizes, subnets, tags, termination policies, templates, policies.
    let sizes = [
        ("mhcntp", 1, 1, 1),
        ("mhcadminproxy", 1, 1, 1),
        ("mhcapp", 1, 2, 4),
        ("mhcworker", 0, 2, 2),
        ("mhcweb", 1, 1, 2),
    ];
    let asg = w.autoscaling();
    for (hc, min, desired, max) in sizes {
        let g = w.group_of(hc);
        let name = g.auto_scaling_group_name().unwrap().to_string();
        assert_eq!(
            (g.min_size(), g.desired_capacity(), g.max_size()),
            (Some(min), Some(desired), Some(max)),
            "{name}"
        );
        assert_eq!(g.termination_policies(), ["OldestLaunchTemplate"]);
        let lt = g.launch_template().expect("a launch template");
        assert_eq!(lt.launch_template_name(), Some(name.as_str()));
        let tags = asg_tags(&g);
        for (k, v) in [
            ("hostclass", hc),
            ("application", hc),
            ("owner", "tester"),
            ("environment", "demo"),
            ("environment_class", "development"),
            ("is_testing", "0"),
        ] {
            assert_eq!(tags.get(k), Some(&(v.to_string(), true)), "{name} tag {k}");
        }
        let chaos = if matches!(hc, "mhcntp" | "mhcadminproxy") {
            "False"
        } else {
            "True"
        };
        assert_eq!(tags["chaos"].0, chaos, "{name}");
        let policies =
            w.rt.block_on(
                asg.describe_policies()
                    .auto_scaling_group_name(&name)
                    .send(),
            )
            .unwrap();
        let mut p: Vec<(String, i32, i32, i32)> = policies
            .scaling_policies()
            .iter()
            .map(|p| {
                (
                    p.policy_name().unwrap().to_string(),
                    p.scaling_adjustment().unwrap(),
                    p.min_adjustment_magnitude().unwrap_or(0),
                    p.cooldown().unwrap_or(0),
                )
            })
            .collect();
        p.sort();
        // moto keys policies by name alone, so concurrently provisioned groups overwrite
        // each other's: whichever this group kept must carry the configured values.
        let expected: Vec<(String, i32, i32, i32)> =
            vec![("down".into(), -10, 1, 600), ("up".into(), 10, 1, 600)];
        assert!(p.iter().all(|x| expected.contains(x)), "{name}: {p:?}");
        // Launch template data.
        let data = w.template_data(&name);
        assert!(data.image_id().unwrap().starts_with("ami-"));
        assert_eq!(
            data.iam_instance_profile().and_then(|p| p.name()),
            Some("instance_example_common")
        );
        assert_eq!(
            data.key_name(),
            None,
            "default_ssh_key_name=None means no key"
        );
        let ud = user_data(&w, &name);
        assert_eq!(ud["hostclass"], format!("\"{hc}\""));
        assert_eq!(ud["environment_name"], "\"demo\"");
        assert_eq!(
            ud["credential_buckets"],
            "\"us-west-2.example.credentials.demo\""
        );
        assert_eq!(ud["project_name"], "\"example\"");
        assert_eq!(ud["owner"], "\"tester\"");
        assert_eq!(
            ud["zookeepers"],
            "\"[\\\"mhczookeeper-demo.sandbox.example.com:2181\\\"]\""
        );
    }
    let tags = asg_tags(&w.group_of("mhcapp"));
    assert_eq!(tags["team"].0, "core");
    assert_eq!(tags["tier"].0, "app");
    assert_eq!(tags["productline"].0, "core");

    // Static IPs: the group sits in the one subnet holding the address; the floating
    // interface exists; user-data names it; public IP through the interface spec.
    let ec2 = w.ec2();
    let subnet_cidr = |id: &str| {
        w.rt.block_on(ec2.describe_subnets().subnet_ids(id).send())
            .unwrap()
            .subnets()[0]
            .cidr_block()
            .unwrap()
            .to_string()
    };
    let ntp = w.group_of("mhcntp");
    assert_eq!(
        subnet_cidr(ntp.vpc_zone_identifier().unwrap()),
        "10.101.16.0/22"
    );
    let admin = w.group_of("mhcadminproxy");
    assert_eq!(
        subnet_cidr(admin.vpc_zone_identifier().unwrap()),
        "10.101.48.0/22"
    );
    assert_eq!(
        w.group_of("mhcapp")
            .vpc_zone_identifier()
            .unwrap()
            .split(',')
            .count(),
        3
    );
    let floating: Vec<String> = w
        .floating_interfaces()
        .iter()
        .filter_map(|n| n.private_ip_address().map(str::to_string))
        .collect();
    assert!(
        floating.contains(&"10.101.16.5".to_string()),
        "{floating:?}"
    );
    assert!(
        floating.contains(&"10.101.48.10".to_string()),
        "{floating:?}"
    );
    let ntp_name = ntp.auto_scaling_group_name().unwrap();
    let ud = user_data(&w, ntp_name);
    assert_eq!(ud["floating_ips"], "\"10.101.16.5\"");
    assert_eq!(ud["floating_ip"], "\"10.101.16.5\"");
    let ntp_data = w.template_data(ntp_name);
    let nic = &ntp_data.network_interfaces()[0];
    assert_eq!(nic.associate_public_ip_address(), Some(true));
    assert_eq!(nic.groups().len(), 1);

    // Extra disk of mhcapp: /dev/sdb 50 GB, encrypted.
    let app = w.group_of("mhcapp");
    let app_data = w.template_data(app.auto_scaling_group_name().unwrap());
    let sdb = app_data
        .block_device_mappings()
        .iter()
        .find(|m| m.device_name() == Some("/dev/sdb"))
        .expect("extra disk");
    let ebs = sdb.ebs().unwrap();
    assert_eq!((ebs.volume_size(), ebs.encrypted()), (Some(50), Some(true)));
    assert_eq!(app_data.instance_type().unwrap().as_str(), "m5.large");
    assert_eq!(app_data.ebs_optimized(), Some(true));

    // Scheduled sizes of mhcworker.
    let worker = w.group_of("mhcworker");
    let worker_name = worker.auto_scaling_group_name().unwrap().to_string();
    let actions =
        w.rt.block_on(
            asg.describe_scheduled_actions()
                .auto_scaling_group_name(&worker_name)
                .send(),
        )
        .unwrap();
    let mut got: Vec<(String, String, Option<i32>)> = actions
        .scheduled_update_group_actions()
        .iter()
        .map(|a| {
            (
                a.scheduled_action_name().unwrap().to_string(),
                a.recurrence().unwrap().to_string(),
                a.desired_capacity(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            (
                format!("{worker_name}_0_20_star_star_1-5"),
                "0 20 * * 1-5".to_string(),
                Some(0)
            ),
            (
                format!("{worker_name}_0_8_star_star_1-5"),
                "0 8 * * 1-5".to_string(),
                Some(2)
            ),
        ]
    );

    // The web ELB: hashed name, listener, health check, attributes, tags, attached.
    let elbs = w.elbs();
    assert_eq!(elbs.len(), 1);
    let lb = &elbs[0];
    let lb_name = lb.load_balancer_name().unwrap().to_string();
    assert_eq!(lb_name.len(), 32);
    assert_eq!(lb.scheme(), Some("internet-facing"));
    let hc = lb.health_check().unwrap();
    assert_eq!(hc.target(), "HTTP:80/health");
    assert_eq!(
        (
            hc.interval(),
            hc.timeout(),
            hc.unhealthy_threshold(),
            hc.healthy_threshold()
        ),
        (5, 4, 2, 2)
    );
    let listener = lb.listener_descriptions()[0].listener().unwrap();
    assert_eq!(
        (listener.load_balancer_port(), listener.instance_port()),
        (80, 80)
    );
    let elb = w.elb();
    let attrs =
        w.rt.block_on(
            elb.describe_load_balancer_attributes()
                .load_balancer_name(&lb_name)
                .send(),
        )
        .unwrap();
    let attrs = attrs.load_balancer_attributes().unwrap();
    assert_eq!(
        attrs.connection_settings().map(|c| c.idle_timeout()),
        Some(60)
    );
    assert_eq!(
        attrs
            .connection_draining()
            .map(|c| (c.enabled(), c.timeout())),
        Some((true, Some(30)))
    );
    let lb_tags =
        w.rt.block_on(elb.describe_tags().load_balancer_names(&lb_name).send())
            .unwrap();
    let lb_tags: BTreeMap<&str, &str> = lb_tags.tag_descriptions()[0]
        .tags()
        .iter()
        .map(|t| (t.key(), t.value().unwrap_or_default()))
        .collect();
    assert_eq!(lb_tags["hostclass"], "mhcweb");
    assert_eq!(lb_tags["environment"], "demo");
    assert_eq!(lb_tags["is_testing"], "0");
    assert_eq!(
        w.group_of("mhcweb").load_balancer_names(),
        std::slice::from_ref(&lb_name)
    );

    // Instances carry the propagated tags.
    let instances = w.instances();
    assert_eq!(instances.len(), 1 + 1 + 2 + 2 + 1);
    for i in &instances {
        assert_eq!(tag_value(i.tags(), "environment"), Some("demo"));
        assert!(tag_value(i.tags(), "hostclass").is_some());
    }

    // listhosts: one line per instance, JSON with the columns.
    let lines = w.ok(&["aws", "listhosts", "--most"]);
    assert_eq!(lines.lines().count(), instances.len(), "{lines}");
    assert!(lines.lines().all(|l| l.starts_with("i-")), "{lines}");
    let json: serde_json::Value =
        serde_json::from_str(&w.ok(&["aws", "listhosts", "--output", "json"])).unwrap();
    let rows = json.as_array().unwrap();
    assert_eq!(rows.len(), instances.len());
    let ntp_row = rows.iter().find(|r| r["hostclass"] == "mhcntp").unwrap();
    assert!(ntp_row["address"].is_string());
    let only_app = w.ok(&["aws", "listhosts", "--hostclass", "mhcapp"]);
    assert_eq!(only_app.lines().count(), 2, "{only_app}");

    // Scale by provisioning again: the same group is updated; a plain size replaces the
    // schedule (recurring actions are deleted).
    w.ok(&[
        "aws",
        "provision",
        "--hostclass",
        "mhcworker",
        "--min-size",
        "1",
        "--desired-size",
        "1",
        "--max-size",
        "3",
        "--no-smoke-test",
    ]);
    let worker = w.group_of("mhcworker");
    assert_eq!(worker.auto_scaling_group_name(), Some(worker_name.as_str()));
    assert_eq!(
        (
            worker.min_size(),
            worker.desired_capacity(),
            worker.max_size()
        ),
        (Some(1), Some(1), Some(3))
    );
    let actions =
        w.rt.block_on(
            asg.describe_scheduled_actions()
                .auto_scaling_group_name(&worker_name)
                .send(),
        )
        .unwrap();
    assert!(actions.scheduled_update_group_actions().is_empty());
    let versions =
        w.rt.block_on(
            ec2.describe_launch_templates()
                .launch_template_names(&worker_name)
                .send(),
        )
        .unwrap();
    let t = &versions.launch_templates()[0];
    assert_eq!(
        (t.latest_version_number(), t.default_version_number()),
        (Some(2), Some(2))
    );

    // Spindown: nothing of the pipeline is left.
    let dry = w.ok(&[
        "aws",
        "spindown",
        "--pipeline",
        "pipelines/demo_moto.csv",
        "--dry-run",
    ]);
    assert_eq!(
        dry.lines()
            .filter(|l| l.starts_with("would delete group"))
            .count(),
        5,
        "{dry}"
    );
    assert_eq!(w.groups().len(), 5);
    w.ok(&["aws", "spindown", "--pipeline", "pipelines/demo_moto.csv"]);
    assert!(w.groups().is_empty());
    assert!(w.launch_templates().is_empty());
    assert!(w.elbs().is_empty());
    assert!(w.instances().is_empty());
    let _ = vpc;
}

#[test]
fn provision_with_iops_and_a_target_group() {
    let w = World::new();
    demo_world(&w);
    w.set_aws_option("mhcweb", "target_group=True");
    // An empty group: moto cannot launch instances with io1 volumes (see
    // demo_pipeline_for_moto), the template is what is checked here.
    w.ok(&[
        "aws",
        "provision",
        "--hostclass",
        "mhcapp",
        "--extra-disk",
        "50",
        "--iops",
        "1000",
        "--min-size",
        "0",
        "--desired-size",
        "0",
        "--max-size",
        "0",
        "--no-smoke-test",
    ]);
    let g = w.group_of("mhcapp");
    let data = w.template_data(g.auto_scaling_group_name().unwrap());
    let sdb = data
        .block_device_mappings()
        .iter()
        .find(|m| m.device_name() == Some("/dev/sdb"))
        .unwrap();
    let ebs = sdb.ebs().unwrap();
    assert_eq!(ebs.volume_type().map(|t| t.as_str()), Some("io1"));
    assert_eq!(ebs.iops(), Some(1000));

    w.ok(&[
        "aws",
        "provision",
        "--hostclass",
        "mhcweb",
        "--no-smoke-test",
        "--testing",
    ]);
    let web = w.group_of("mhcweb");
    let tgs =
        w.rt.block_on(
            w.elbv2()
                .describe_target_groups()
                .names("demo-mhcweb")
                .send(),
        )
        .unwrap();
    let tg = &tgs.target_groups()[0];
    assert_eq!(tg.port(), Some(80));
    assert_eq!(tg.health_check_path(), Some("/health"));
    assert_eq!(
        web.target_group_arns(),
        [tg.target_group_arn().unwrap().to_string()]
    );
    assert_eq!(asg_tags(&web)["is_testing"].0, "1");
    // The testing load balancer: -test in its (hashed) name.
    let elbs = w.elbs();
    assert_eq!(elbs.len(), 1);
    assert_eq!(
        web.load_balancer_names(),
        [elbs[0].load_balancer_name().unwrap().to_string()]
    );
}

#[test]
fn bad_pipelines_fail_before_any_aws_change() {
    let w = World::new();
    demo_world(&w);
    let cases = [
        (
            "sequence,hostclass,min_size\n1,mhcnöpe,1\n1,mhcapp,1\n",
            "bad.csv:2: hostclass: hostclass name \"mhcnöpe\" contains 'ö'",
        ),
        (
            "sequence,hostclass,smoke_test\n1,mhcapp,Ture\n",
            "bad.csv:2: smoke_test: \"Ture\" is not a boolean (expected true or false",
        ),
        (
            "sequence,hostclass,min_size\n1,mhcapp,lots\n",
            "bad.csv:2: min_size:",
        ),
        (
            "sequence,hostclass,desired_size\n1,mhcapp,2@61 * * * *\n",
            "bad.csv:2: desired_size:",
        ),
        (
            "hostclass,min_size\nmhcapp,1\n",
            "bad.csv:2: hostclass mhcapp has no sequence",
        ),
    ];
    for (csv, expected) in cases {
        w.write_pipeline("bad.csv", csv);
        let out = w
            .asiaq()
            .args(["aws", "spinup", "--pipeline", "pipelines/bad.csv"])
            // Any mutating call would fail (exit 1) instead of passing unseen.
            .env("ASIAQ_INJECT_FAULT", "mutating:1")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{csv}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(expected),
            "{csv}: {}",
            text(&out.stderr)
        );
    }
    // A hostclass option that is not a boolean fails the same way, naming its line.
    w.set_aws_option("mhcapp", "elb=Ture");
    w.write_pipeline("bad.csv", "sequence,hostclass\n1,mhcapp\n");
    let out = w
        .asiaq()
        .args(["aws", "spinup", "--pipeline", "pipelines/bad.csv"])
        .env("ASIAQ_INJECT_FAULT", "mutating:1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let ini = w.config_path().join("disco_aws.ini");
    let line = std::fs::read_to_string(&ini)
        .unwrap()
        .lines()
        .position(|l| l == "elb=Ture")
        .unwrap()
        + 1;
    assert!(
        text(&out.stderr).contains(&format!(
            "disco_aws.ini:{line}: [mhcapp] elb: \"Ture\" is not a boolean (expected true or false"
        )),
        "{}",
        text(&out.stderr)
    );
    let s = std::fs::read_to_string(&ini)
        .unwrap()
        .replace("elb=Ture\n", "");
    std::fs::write(&ini, s).unwrap();

    // A pipeline row whose static IP is outside its metanetwork: found while planning,
    // after observing, still before any change.
    w.set_aws_option("mhcworker", "ip_address=10.9.9.9");
    w.write_pipeline("bad.csv", "sequence,hostclass\n1,mhcapp\n1,mhcworker\n");
    let out = w
        .asiaq()
        .args(["aws", "spinup", "--pipeline", "pipelines/bad.csv"])
        .env("ASIAQ_INJECT_FAULT", "mutating:1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("[mhcworker] ip_address: 10.9.9.9 is not in any subnet"),
        "{}",
        text(&out.stderr)
    );
    assert!(w.groups().is_empty());
    assert!(w.launch_templates().is_empty());
    assert!(w.floating_interfaces().is_empty());
}

/// A pipeline row whose hostclass has no section in disco_aws.ini runs on the
/// `[disco_aws] default_*` options, as in the original (a warning names the row). What the
/// defaults cannot give, its image, still fails before any change, naming the row.
#[test]
fn a_hostclass_without_a_section_runs_on_the_defaults() {
    let w = World::new();
    demo_world(&w);
    w.write_pipeline(
        "nosection.csv",
        "sequence,hostclass,min_size,desired_size,max_size,instance_type\n1,mhcapp,1,1,1,t2.micro\n1,mhcextra,1,1,1,t2.micro\n",
    );
    let warning = "pipelines/nosection.csv:3: hostclass: mhcextra has no [mhcextra] section";
    let warned = |stderr: &str| {
        stderr
            .lines()
            .any(|l| l.starts_with("warning: ") && l.contains(warning))
    };
    // No image for it: exit 1 before any change, naming the row.
    let out = w
        .asiaq()
        .args(["aws", "spinup", "--pipeline", "pipelines/nosection.csv"])
        .env("ASIAQ_INJECT_FAULT", "mutating:1")
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(warned(&stderr), "{stderr}");
    assert!(
        stderr.contains("pipelines/nosection.csv:3: couldn't find an AMI for mhcextra"),
        "{stderr}"
    );
    assert!(!stderr.contains("injected"), "{stderr}");
    assert!(w.groups().is_empty());
    assert!(w.launch_templates().is_empty());

    // With an image, the plan uses the defaults: intranet, the default instance profile.
    w.create_ami("mhcextra", 1_700_000_000, "tested");
    let out = w
        .asiaq()
        .args([
            "aws",
            "spinup",
            "--dry-run",
            "--pipeline",
            "pipelines/nosection.csv",
        ])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(warned(&stderr), "{stderr}");
    let plan = text(&out.stdout);
    let template = plan
        .lines()
        .find(|l| l.starts_with("  launch template demo_mhcextra_"))
        .unwrap_or_else(|| panic!("{plan}"));
    assert!(template.contains(" subnet(s) of intranet,"), "{template}");
    assert!(
        template.ends_with("profile instance_example_common"),
        "{template}"
    );
    assert!(w.groups().is_empty());
}

/// Every mutating call of provisioning a load-balanced hostclass with a target group, in
/// turn, fails: each time the command exits 1, names the hostclass, and leaves nothing of
/// it behind.
#[test]
fn a_failed_hostclass_is_rolled_back_at_every_step() {
    let w = World::new();
    demo_world(&w);
    w.set_aws_option("mhcweb", "target_group=True");
    w.write_pipeline(
        "web.csv",
        // t2.small: the default m3.large maps an ephemeral disk, and moto fails to launch
        // a group's instances from a template with a non-EBS mapping (KeyError 'Ebs').
        "sequence,hostclass,min_size,desired_size,max_size,instance_type,smoke_test\n1,mhcweb,1,1,1,t2.small,no\n",
    );
    // Mutating calls: CreateLoadBalancer, ConfigureHealthCheck, ModifyLoadBalancerAttributes,
    // AddTags, CreateTargetGroup, CreateLaunchTemplate, CreateAutoScalingGroup,
    // PutScalingPolicy x2.
    let steps = 9;
    for n in 1..=steps {
        let stats = w.config_path().join(format!("stats-{n}.json"));
        let out = w
            .asiaq()
            .args(["aws", "spinup", "--pipeline", "pipelines/web.csv"])
            .env("ASIAQ_INJECT_FAULT", format!("mutating:{n}"))
            .env("ASIAQ_API_STATS", &stats)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "mutating:{n}: {}",
            text(&out.stderr)
        );
        let stdout = text(&out.stdout);
        assert!(stdout.contains("mhcweb FAILED"), "mutating:{n}: {stdout}");
        assert!(stdout.contains("fault injected"), "mutating:{n}: {stdout}");
        assert!(w.groups().is_empty(), "mutating:{n}: group left");
        assert!(
            w.launch_templates().is_empty(),
            "mutating:{n}: template left\n{stdout}\n{}",
            text(&out.stderr)
        );
        assert!(w.elbs().is_empty(), "mutating:{n}: load balancer left");
        let tgs =
            w.rt.block_on(w.elbv2().describe_target_groups().send())
                .unwrap();
        assert!(
            tgs.target_groups().is_empty(),
            "mutating:{n}: target group left"
        );
    }
    // Past the sweep and the hostclass's alarm (PutMetricAlarm, made once the group is up;
    // its failure is tested in alarms.rs): it succeeds.
    let out = w
        .asiaq()
        .args(["aws", "spinup", "--pipeline", "pipelines/web.csv"])
        .env("ASIAQ_INJECT_FAULT", format!("mutating:{}", steps + 2))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(w.groups().len(), 1);
}

/// A failed spinup removes what it created and nothing it found: with the load balancer
/// and target group of an earlier run still there (only its group and template gone), a
/// fault at the group's creation removes the new launch template and leaves the load
/// balancer and the target group.
#[test]
fn a_rollback_leaves_what_the_run_found() {
    let w = World::new();
    demo_world(&w);
    w.set_aws_option("mhcweb", "target_group=True");
    w.write_pipeline(
        "web.csv",
        "sequence,hostclass,min_size,desired_size,max_size,instance_type,smoke_test\n1,mhcweb,1,1,1,t2.small,no\n",
    );
    w.ok(&["aws", "spinup", "--pipeline", "pipelines/web.csv"]);
    let group = w.group_of("mhcweb");
    let autoscaling = w.autoscaling();
    let ec2 = w.ec2();
    let templates = w.launch_templates();
    w.rt.block_on(async {
        autoscaling
            .delete_auto_scaling_group()
            .auto_scaling_group_name(group.auto_scaling_group_name().unwrap())
            .force_delete(true)
            .send()
            .await
            .unwrap();
        for t in templates {
            ec2.delete_launch_template()
                .launch_template_id(t.launch_template_id().unwrap())
                .send()
                .await
                .unwrap();
        }
    });
    assert_eq!(w.elbs().len(), 1);
    let out = w
        .asiaq()
        .args(["aws", "spinup", "--pipeline", "pipelines/web.csv"])
        .env("ASIAQ_INJECT_FAULT", "CreateAutoScalingGroup:1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("mhcweb FAILED"), "{stdout}");
    assert!(
        stdout.contains("removed again: launch template lt-"),
        "{stdout}"
    );
    assert!(!stdout.contains("removed again: load balancer"), "{stdout}");
    assert!(!stdout.contains("COULD NOT"), "{stdout}");
    assert!(w.groups().is_empty());
    assert!(
        w.launch_templates().is_empty(),
        "the new template is removed"
    );
    assert_eq!(w.elbs().len(), 1, "the load balancer found is left");
    let tgs =
        w.rt.block_on(w.elbv2().describe_target_groups().send())
            .unwrap();
    assert_eq!(
        tgs.target_groups().len(),
        1,
        "the target group found is left"
    );
}

/// A failure in the second sequence: the report says which hostclasses are up and which
/// failed; the failing one leaves nothing behind, the others stay.
#[test]
fn failed_spinup_reports_up_and_failed() {
    let w = World::new();
    demo_world(&w);
    demo_pipeline_for_moto(&w);
    let _tagger = w.smoke_tagger();
    let out = w
        .asiaq()
        .args(["aws", "spinup", "--pipeline", "pipelines/demo_moto.csv"])
        .env("ASIAQ_INJECT_FAULT", "CreateLoadBalancer:1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for hc in ["mhcntp", "mhcadminproxy", "mhcapp", "mhcworker"] {
        assert!(stdout.contains(&format!("{hc} demo_{hc}_")), "{stdout}");
    }
    assert!(stdout.contains("mhcweb FAILED"), "{stdout}");
    assert!(
        text(&out.stderr).contains("spinup failed: 4 up, 1 failed"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(w.groups().len(), 4);
    assert!(w.elbs().is_empty());
    assert!(!w.launch_templates().iter().any(|t| t
        .launch_template_name()
        .unwrap_or_default()
        .contains("mhcweb")));
}

/// Hosts go into an environment made by `asiaq vpc create` (not the SDK-made one of the
/// other tests): the static-IP hostclass gets its floating interface at its address in the
/// tunnel metanetwork, the groups use that metanetwork's subnets, and spindown removes them.
#[test]
fn spinup_into_an_environment_made_by_vpc_create() {
    let w = World::new();
    w.ok(&["vpc", "create", "--type", "sandbox", "--name", "demo"]);
    for hc in ["mhcntp", "mhcadminproxy"] {
        w.create_ami(hc, 1_700_000_000, "tested");
    }
    w.write_pipeline(
        "edge.csv",
        "sequence,hostclass,min_size,desired_size,max_size,instance_type,smoke_test\n\
         1,mhcntp,1,1,1,t2.micro,no\n\
         1,mhcadminproxy,1,1,1,t2.micro,no\n",
    );
    w.ok(&[
        "aws",
        "spinup",
        "--pipeline",
        "pipelines/edge.csv",
        "--no-smoke-test",
    ]);
    let ec2 = w.ec2();
    let tunnel: Vec<String> =
        w.rt.block_on(
            ec2.describe_subnets()
                .filters(
                    aws_sdk_ec2::types::Filter::builder()
                        .name("tag:meta_network")
                        .values("tunnel")
                        .build(),
                )
                .send(),
        )
        .unwrap()
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_id().map(str::to_string))
        .collect();
    assert!(!tunnel.is_empty());
    let ntp = w.group_of("mhcntp");
    let zones: Vec<&str> = ntp
        .vpc_zone_identifier()
        .unwrap_or_default()
        .split(',')
        .collect();
    assert!(
        zones.iter().all(|s| tunnel.iter().any(|t| t == s)),
        "{zones:?} not in tunnel {tunnel:?}"
    );
    let floating = w.floating_interfaces();
    assert!(
        floating
            .iter()
            .any(|n| n.private_ip_address() == Some("10.101.16.5")),
        "{floating:?}"
    );
    // mhcadminproxy's `ip_address=+10`: offset from the start of maintenance.
    assert!(
        floating
            .iter()
            .any(|n| n.private_ip_address() == Some("10.101.48.10")),
        "{floating:?}"
    );
    w.ok(&["aws", "spindown", "--pipeline", "pipelines/edge.csv"]);
    assert!(w.groups().is_empty());
    assert!(w.launch_templates().is_empty());
}

/// A launch template left by a run killed between creating it and creating its group (the
/// name is taken) is reused: a new default version with this run's image, no second
/// template.
#[test]
fn a_template_left_by_a_killed_run_is_reused() {
    let w = World::new();
    demo_world(&w);
    // The group's name ends with the epoch second of the run, so a template is left for
    // every second of the next minute.
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let ec2 = w.ec2();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let left: BTreeMap<String, String> = rt.block_on(async {
        let mut left = BTreeMap::new();
        for epoch in start..start + 60 {
            let name = format!("demo_mhcntp_{epoch}");
            let out = ec2
                .create_launch_template()
                .launch_template_name(&name)
                .launch_template_data(
                    aws_sdk_ec2::types::RequestLaunchTemplateData::builder()
                        .image_id("ami-12c6146b")
                        .build(),
                )
                .send()
                .await
                .unwrap();
            let id = out.launch_template().unwrap().launch_template_id().unwrap();
            left.insert(name, id.to_string());
        }
        left
    });
    w.ok(&PROVISION_EMPTY_MHCNTP);
    let g = w.group_of("mhcntp");
    let name = g.auto_scaling_group_name().unwrap();
    let used = g
        .launch_template()
        .and_then(|t| t.launch_template_id())
        .expect("the group uses a launch template");
    assert_eq!(Some(&used.to_string()), left.get(name), "{name}");
    let image = w.template_data(name).image_id().unwrap().to_string();
    assert_ne!(image, "ami-12c6146b", "the default version is this run's");
    let templates = rt.block_on(async {
        // moto answers at most MaxResults (default 15) and no NextToken.
        let mut pages = ec2
            .describe_launch_templates()
            .max_results(200)
            .into_paginator()
            .send();
        let mut count = 0;
        while let Some(page) = pages.next().await {
            count += page
                .unwrap()
                .launch_templates()
                .iter()
                .filter(|t| {
                    t.launch_template_name()
                        .unwrap_or_default()
                        .starts_with("demo_mhcntp_")
                })
                .count();
        }
        count
    });
    assert_eq!(templates, 60);
}

/// A call AWS still throttles after the SDK's retries (2 attempts here) is sent again:
/// behind a proxy that throttles two of every three requests of each creating call, the
/// hostclass is provisioned, and the proxy saw more requests than the SDK alone would make.
#[test]
fn throttling_that_outlasts_the_sdk_retries_is_sent_again() {
    use asiaq_proxy::{Fault, FaultRule, Proxy, ProxyConfig, Trigger};

    let w = World::new();
    demo_world(&w);
    let mut config = ProxyConfig::new(asiaq_testkit::Moto::shared().endpoint());
    config.ec2_throttling = false;
    config.faults = [
        "ec2:CreateLaunchTemplate",
        "autoscaling:CreateAutoScalingGroup",
        "autoscaling:PutScalingPolicy",
    ]
    .iter()
    .map(|op| FaultRule {
        matches: op.to_string(),
        fault: Fault::Throttle,
        trigger: Trigger::Cycle { period: 3, hits: 2 },
    })
    .collect();
    let proxy = Proxy::start(config).expect("start asiaq-proxy");
    let out = w
        .asiaq()
        .env("AWS_ENDPOINT_URL", proxy.endpoint())
        .args(PROVISION_EMPTY_MHCNTP)
        .output()
        .unwrap();
    let summary = proxy.shutdown();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for op in [
        "ec2:CreateLaunchTemplate",
        "autoscaling:CreateAutoScalingGroup",
    ] {
        let seen = &summary.operations[op];
        assert_eq!(seen.requests, 3, "{op}: {seen:?}");
        assert_eq!(seen.faults + seen.throttled, 2, "{op}: {seen:?}");
    }
    let g = w.group_of("mhcntp");
    let autoscaling = w.autoscaling();
    let policies = w.rt.block_on(async {
        autoscaling
            .describe_policies()
            .auto_scaling_group_name(g.auto_scaling_group_name().unwrap())
            .send()
            .await
            .unwrap()
            .scaling_policies()
            .len()
    });
    assert_eq!(policies, 2);
}
