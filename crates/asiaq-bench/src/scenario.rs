//! The scenarios the runner knows. Each is plain data: the asiaq command lines to run before
//! (setup), during (measured) and after (teardown) the measurement, and the longest chain of
//! AWS calls that must happen one after another, which bounds how fast the measured commands
//! can possibly be.
//!
//! Arguments may use placeholders, replaced per run:
//! `{config}` the example configuration directory, `{env}` the environment name of the
//! scenario, `{ami:HOSTCLASS}` the id of an image registered by a [`Step::RegisterAmis`].

/// One step of a scenario.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    /// `asiaq ARGS...`
    Asiaq(&'static [&'static str]),
    /// Registers one image per hostclass in the account (moto starts without any), named
    /// `<hostclass> <unix-seconds>` and tagged `hostclass` and `stage`, as bakes leave them.
    RegisterAmis {
        hostclasses: &'static [&'static str],
        stage: &'static str,
    },
}

/// A named, declarative benchmark scenario.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    pub name: &'static str,
    pub summary: &'static str,
    /// The environment name `{env}` stands for.
    pub env: &'static str,
    /// asiaq commands that must exist (`asiaq GROUP COMMAND --help` succeeds); when one does
    /// not, the scenario is reported as not available instead of run.
    pub requires: &'static [&'static [&'static str]],
    pub setup: &'static [Step],
    pub measured: &'static [Step],
    pub teardown: &'static [Step],
    /// The longest chain of calls each of which needs the previous one's result. Its length
    /// times the added latency is a lower bound of the measured wall time.
    pub critical_path: &'static [&'static str],
    /// What the scenario's numbers depend on that is not settled yet.
    pub note: Option<&'static str>,
}

/// The example pipeline as moto can run it and as the bound below counts it: without
/// mhcweb (its load balancer is another chain) and without mhcapp's io1 iops (moto launches
/// io1 volumes from a launch template without their iops and then refuses them).
const DEMO_PIPELINE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/pipelines/demo-moto.csv");

/// Every scenario, in the order `--list` shows them.
pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "doctor",
        summary: "asiaq doctor: one read-only call to each of 16 services, all concurrently",
        env: "-",
        requires: &[&["doctor"]],
        setup: &[],
        measured: &[Step::Asiaq(&["doctor"])],
        teardown: &[],
        // Every probe, STS included, starts at once and none needs another's answer.
        critical_path: &["ec2:DescribeAvailabilityZones"],
        note: None,
    },
    Scenario {
        name: "vpc-create",
        summary: "asiaq vpc create of the example sandbox environment (4 metanetworks, NAT)",
        env: "demo",
        requires: &[&["vpc", "create"], &["vpc", "destroy"]],
        setup: &[],
        measured: &[Step::Asiaq(&[
            "vpc", "create", "--name", "{env}", "--type", "sandbox", "--asiaq-config", "{config}",
        ])],
        teardown: &[Step::Asiaq(&[
            "vpc", "destroy", "--name", "{env}", "--asiaq-config", "{config}", "--yes",
        ])],
        // The NAT gateway route of intranet needs the NAT gateway, which needs a tunnel
        // subnet, which needs the VPC; the NAT gateway must be available before routing.
        critical_path: &[
            "ec2:DescribeVpcs",
            "ec2:CreateVpc",
            "ec2:CreateSubnet",
            "ec2:CreateNatGateway",
            "ec2:DescribeNatGateways",
            "ec2:CreateRoute",
        ],
        note: None,
    },
    Scenario {
        name: "vpc-destroy",
        summary: "asiaq vpc destroy of the example sandbox environment",
        env: "demo",
        requires: &[&["vpc", "create"], &["vpc", "destroy"]],
        setup: &[Step::Asiaq(&[
            "vpc", "create", "--name", "{env}", "--type", "sandbox", "--asiaq-config", "{config}",
        ])],
        measured: &[Step::Asiaq(&[
            "vpc", "destroy", "--name", "{env}", "--asiaq-config", "{config}", "--yes",
        ])],
        teardown: &[],
        // Subnets cannot go before the NAT gateways in them are gone, nor the VPC before its
        // subnets.
        critical_path: &[
            "ec2:DescribeVpcs",
            "ec2:DescribeNatGateways",
            "ec2:DeleteNatGateway",
            "ec2:DescribeNatGateways",
            "ec2:DeleteSubnet",
            "ec2:DeleteVpc",
        ],
        note: None,
    },
    Scenario {
        name: "spinup",
        summary: "asiaq aws spinup of the example pipeline (4 hostclasses in 2 sequences)",
        env: "demo",
        requires: &[
            &["vpc", "create"],
            &["vpc", "destroy"],
            &["aws", "spinup"],
            &["aws", "spindown"],
        ],
        setup: &[
            Step::Asiaq(&[
                "vpc", "create", "--name", "{env}", "--type", "sandbox", "--asiaq-config", "{config}",
            ]),
            Step::RegisterAmis {
                hostclasses: &["mhcntp", "mhcadminproxy", "mhcapp", "mhcworker"],
                stage: "tested",
            },
        ],
        measured: &[Step::Asiaq(&[
            "aws",
            "spinup",
            "--pipeline",
            DEMO_PIPELINE,
            "--no-smoke-test",
            "--env",
            "{env}",
            "--asiaq-config",
            "{config}",
        ])],
        teardown: &[
            Step::Asiaq(&[
                "aws",
                "spindown",
                "--pipeline",
                DEMO_PIPELINE,
                "--env",
                "{env}",
                "--asiaq-config",
                "{config}",
                "--yes",
            ]),
            Step::Asiaq(&[
                "vpc", "destroy", "--name", "{env}", "--asiaq-config", "{config}", "--yes",
            ]),
        ],
        // The environment's VPC, then its subnets, security groups and route tables at once
        // (images, groups and snapshots go alongside the VPC lookup). Per sequence, which
        // is up before the next starts: the launch template, the group, then its scaling
        // policies and schedule at once.
        critical_path: &[
            "ec2:DescribeVpcs",
            "ec2:DescribeSubnets",
            "ec2:CreateLaunchTemplate",
            "autoscaling:CreateAutoScalingGroup",
            "autoscaling:PutScalingPolicy",
            "ec2:CreateLaunchTemplate",
            "autoscaling:CreateAutoScalingGroup",
            "autoscaling:PutScalingPolicy",
        ],
        note: None,
    },
    Scenario {
        name: "bake",
        summary: "asiaq bake bake of mhcntp from a registered source image (AWS side)",
        env: "build",
        requires: &[&["vpc", "create"], &["vpc", "destroy"], &["bake", "bake"]],
        setup: &[
            Step::Asiaq(&[
                "vpc", "create", "--name", "{env}", "--type", "sandbox", "--asiaq-config", "{config}",
            ]),
            Step::RegisterAmis {
                hostclasses: &["ubuntu_phase1"],
                stage: "tested",
            },
        ],
        measured: &[Step::Asiaq(&[
            "bake",
            "bake",
            "--hostclass",
            "mhcntp",
            "--source-ami",
            "{ami:ubuntu_phase1}",
            "--asiaq-config",
            "{config}",
        ])],
        teardown: &[Step::Asiaq(&[
            "vpc", "destroy", "--name", "{env}", "--asiaq-config", "{config}", "--yes",
        ])],
        // Packer's 19-call flow without its waits' repetitions.
        critical_path: &[
            "ec2:DescribeImages",
            "ec2:RunInstances",
            "ec2:DescribeInstances",
            "ec2:StopInstances",
            "ec2:DescribeInstances",
            "ec2:CreateImage",
            "ec2:CreateTags",
            "ec2:DescribeImages",
            "ec2:TerminateInstances",
        ],
        note: Some(
            "requires `asiaq bake bake` able to reach the bake host's sshd (test-sshd fixture); AWS side only",
        ),
    },
];

pub fn find(name: &str) -> Option<&'static Scenario> {
    SCENARIOS.iter().find(|s| s.name == name)
}

/// Replaces the placeholders of one argument.
pub fn expand(arg: &str, config: &str, env: &str, amis: &[(String, String)]) -> String {
    let mut out = arg.replace("{config}", config).replace("{env}", env);
    for (hostclass, ami) in amis {
        out = out.replace(&format!("{{ami:{hostclass}}}"), ami);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_names_are_unique_and_every_scenario_measures_something() {
        let mut names: Vec<&str> = SCENARIOS.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SCENARIOS.len());
        for s in SCENARIOS {
            assert!(!s.measured.is_empty(), "{}", s.name);
            assert!(!s.critical_path.is_empty(), "{}", s.name);
            assert!(!s.requires.is_empty(), "{}", s.name);
        }
        assert!(find("doctor").is_some());
        assert!(find("nothing").is_none());
    }

    #[test]
    fn placeholders_expand() {
        let amis = vec![("mhcntp".to_string(), "ami-123".to_string())];
        assert_eq!(expand("{config}/p.csv", "/c", "demo", &amis), "/c/p.csv");
        assert_eq!(expand("{env}", "/c", "demo", &amis), "demo");
        assert_eq!(expand("{ami:mhcntp}", "/c", "demo", &amis), "ami-123");
        assert_eq!(expand("plain", "/c", "demo", &amis), "plain");
    }

    #[test]
    fn every_registered_image_placeholder_has_a_setup_step() {
        for s in SCENARIOS {
            let registered: Vec<&str> = s
                .setup
                .iter()
                .filter_map(|step| match step {
                    Step::RegisterAmis { hostclasses, .. } => Some(*hostclasses),
                    Step::Asiaq(_) => None,
                })
                .flatten()
                .copied()
                .collect();
            for step in s.setup.iter().chain(s.measured).chain(s.teardown) {
                if let Step::Asiaq(args) = step {
                    for arg in *args {
                        if let Some(rest) = arg.strip_prefix("{ami:") {
                            let hostclass = rest.trim_end_matches('}');
                            assert!(registered.contains(&hostclass), "{}: {arg}", s.name);
                        }
                    }
                }
            }
        }
    }
}
