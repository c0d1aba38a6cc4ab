//! Shared pieces of the host/pipeline integration tests: a copy of the example
//! configuration, an environment and images made through the SDK, a thread that plays the
//! instances' own smoke-test tagging, and helpers to run the binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub use crate::support::text;
use asiaq_testkit::{examples_dir, AwsAccount, Moto};
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};

/// One test's world: an isolated account and its own copy of the example configuration.
pub struct World {
    pub account: AwsAccount,
    pub config: tempfile::TempDir,
    pub rt: tokio::runtime::Runtime,
}

impl World {
    pub fn new() -> World {
        let account = Moto::shared().new_account();
        let config = tempfile::tempdir().expect("temp config dir");
        copy_dir(&examples_dir().join("sandbox"), config.path());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        World {
            account,
            config,
            rt,
        }
    }

    pub fn config_path(&self) -> &Path {
        self.config.path()
    }

    /// Gives the copied configuration a project name of its own: S3 bucket names are global
    /// in moto too, so tests that create buckets at the same time must not share names.
    pub fn rename_project(&self, project: &str) {
        let ini = self.config_path().join("disco_aws.ini");
        let text = std::fs::read_to_string(&ini).unwrap();
        std::fs::write(
            &ini,
            text.replace("project_name=example", &format!("project_name={project}")),
        )
        .unwrap();
    }

    /// Appends lines to a section of the copied disco_aws.ini (a new section at the end).
    pub fn append_aws_ini(&self, text: &str) {
        let path = self.config.path().join("disco_aws.ini");
        let mut s = std::fs::read_to_string(&path).unwrap();
        s.push('\n');
        s.push_str(text);
        s.push('\n');
        std::fs::write(path, s).unwrap();
    }

    /// Inserts `line` right after the `[section]` header of disco_aws.ini.
    pub fn set_aws_option(&self, section: &str, line: &str) {
        let path = self.config.path().join("disco_aws.ini");
        let s = std::fs::read_to_string(&path).unwrap();
        let header = format!("[{section}]\n");
        let i = s.find(&header).expect("section") + header.len();
        let s = format!("{}{line}\n{}", &s[..i], &s[i..]);
        std::fs::write(path, s).unwrap();
    }

    pub fn write_pipeline(&self, name: &str, csv: &str) -> PathBuf {
        let path = self.config.path().join("pipelines").join(name);
        std::fs::write(&path, csv).unwrap();
        path
    }

    pub fn ec2(&self) -> aws_sdk_ec2::Client {
        let conf = self.rt.block_on(self.account.sdk_config());
        aws_sdk_ec2::Client::new(&conf)
    }

    pub fn autoscaling(&self) -> aws_sdk_autoscaling::Client {
        let conf = self.rt.block_on(self.account.sdk_config());
        aws_sdk_autoscaling::Client::new(&conf)
    }

    pub fn elb(&self) -> aws_sdk_elasticloadbalancing::Client {
        let conf = self.rt.block_on(self.account.sdk_config());
        aws_sdk_elasticloadbalancing::Client::new(&conf)
    }

    pub fn elbv2(&self) -> aws_sdk_elasticloadbalancingv2::Client {
        let conf = self.rt.block_on(self.account.sdk_config());
        aws_sdk_elasticloadbalancingv2::Client::new(&conf)
    }

    pub fn route53(&self) -> aws_sdk_route53::Client {
        let conf = self.rt.block_on(self.account.sdk_config());
        aws_sdk_route53::Client::new(&conf)
    }

    pub fn ssm(&self) -> aws_sdk_ssm::Client {
        let conf = self.rt.block_on(self.account.sdk_config());
        aws_sdk_ssm::Client::new(&conf)
    }

    pub fn cloudwatch(&self) -> aws_sdk_cloudwatch::Client {
        let conf = self.rt.block_on(self.account.sdk_config());
        aws_sdk_cloudwatch::Client::new(&conf)
    }

    pub fn sns(&self) -> aws_sdk_sns::Client {
        let conf = self.rt.block_on(self.account.sdk_config());
        aws_sdk_sns::Client::new(&conf)
    }

    pub fn logs(&self) -> aws_sdk_cloudwatchlogs::Client {
        let conf = self.rt.block_on(self.account.sdk_config());
        aws_sdk_cloudwatchlogs::Client::new(&conf)
    }

    pub fn s3(&self) -> aws_sdk_s3::Client {
        let conf = self.rt.block_on(self.account.sdk_config());
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&conf)
                .force_path_style(true)
                .build(),
        )
    }

    /// The asiaq binary pointed at this account and configuration.
    pub fn asiaq(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_asiaq"));
        self.account.configure(&mut cmd);
        cmd.env("ASIAQ_CONFIG", self.config.path())
            .env("ASIAQ_WAIT_SCALE", "0.01")
            .env("USER", "tester")
            .env("LOGNAME", "tester")
            .env_remove("ASIAQ_INJECT_FAULT")
            .env_remove("ASIAQ_SSH_CONFIG")
            .stdin(Stdio::null());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.asiaq().args(args).output().expect("run asiaq")
    }

    /// Runs and expects exit 0; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "asiaq {args:?}\nstdout: {}\nstderr: {}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// Runs with extra environment variables and expects exit 0; returns stdout.
    pub fn ok_with(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let mut cmd = self.asiaq();
        cmd.args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run asiaq");
        assert_eq!(
            out.status.code(),
            Some(0),
            "asiaq {args:?}\nstdout: {}\nstderr: {}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// Creates the `demo` environment of the example (type sandbox, 10.101.0.0/16, four
    /// metanetworks over three zones) through the SDK, tagged as `asiaq vpc create` tags it.
    pub fn create_environment(&self, name: &str, cidr_second_octet: u8) -> String {
        let ec2 = self.ec2();
        self.rt.block_on(async {
            let o = cidr_second_octet;
            let vpc = ec2
                .create_vpc()
                .cidr_block(format!("10.{o}.0.0/16"))
                .tag_specifications(spec(
                    ResourceType::Vpc,
                    &[("Name", name), ("type", "sandbox")],
                ))
                .send()
                .await
                .unwrap()
                .vpc
                .unwrap()
                .vpc_id
                .unwrap();
            for (i, net) in ["intranet", "tunnel", "dmz", "maintenance"]
                .iter()
                .enumerate()
            {
                let sg_name = format!("{name}_{net}");
                ec2.create_security_group()
                    .vpc_id(&vpc)
                    .group_name(&sg_name)
                    .description(format!("{net} of {name}"))
                    .tag_specifications(spec(
                        ResourceType::SecurityGroup,
                        &[("Name", &sg_name), ("meta_network", net)],
                    ))
                    .send()
                    .await
                    .unwrap();
                for (z, zone) in ["us-west-2a", "us-west-2b", "us-west-2c"]
                    .iter()
                    .enumerate()
                {
                    let cidr = format!("10.{o}.{}.0/22", i * 16 + z * 4);
                    let sub_name = format!("{name}_{net}_{zone}");
                    ec2.create_subnet()
                        .vpc_id(&vpc)
                        .cidr_block(cidr)
                        .availability_zone(*zone)
                        .tag_specifications(spec(
                            ResourceType::Subnet,
                            &[("Name", &sub_name), ("meta_network", net), ("subnet", zone)],
                        ))
                        .send()
                        .await
                        .unwrap();
                }
            }
            vpc
        })
    }

    /// Registers `<hostclass> <ts>` images tagged stage=`stage`, is_private=False.
    pub fn create_ami(&self, hostclass: &str, ts: u64, stage: &str) -> String {
        let ec2 = self.ec2();
        self.rt.block_on(async {
            let id = ec2
                .register_image()
                .name(format!("{hostclass} {ts}"))
                .root_device_name("/dev/sda1")
                .architecture(aws_sdk_ec2::types::ArchitectureValues::X8664)
                .virtualization_type("hvm")
                .send()
                .await
                .unwrap()
                .image_id
                .unwrap();
            ec2.create_tags()
                .resources(&id)
                .tags(tag("stage", stage))
                .tags(tag("is_private", "False"))
                .tags(tag("hostclass", hostclass))
                .send()
                .await
                .unwrap();
            id
        })
    }

    /// Live instances of the account (not terminated), as (id, tags).
    pub fn instances(&self) -> Vec<aws_sdk_ec2::types::Instance> {
        let ec2 = self.ec2();
        self.rt.block_on(async {
            ec2.describe_instances()
                .filters(
                    Filter::builder()
                        .name("instance-state-name")
                        .values("pending")
                        .values("running")
                        .values("stopped")
                        .values("stopping")
                        .build(),
                )
                .send()
                .await
                .unwrap()
                .reservations()
                .iter()
                .flat_map(|r| r.instances().to_vec())
                .collect()
        })
    }

    /// Autoscaling groups of the account.
    pub fn groups(&self) -> Vec<aws_sdk_autoscaling::types::AutoScalingGroup> {
        let asg = self.autoscaling();
        self.rt.block_on(async {
            asg.describe_auto_scaling_groups()
                .send()
                .await
                .unwrap()
                .auto_scaling_groups()
                .to_vec()
        })
    }

    /// Launch templates of the account.
    pub fn launch_templates(&self) -> Vec<aws_sdk_ec2::types::LaunchTemplate> {
        let ec2 = self.ec2();
        self.rt.block_on(async {
            ec2.describe_launch_templates()
                .send()
                .await
                .unwrap()
                .launch_templates()
                .to_vec()
        })
    }

    /// The default version's data of the launch template named `name`.
    pub fn template_data(&self, name: &str) -> aws_sdk_ec2::types::ResponseLaunchTemplateData {
        let ec2 = self.ec2();
        self.rt.block_on(async {
            ec2.describe_launch_template_versions()
                .launch_template_name(name)
                .versions("$Default")
                .send()
                .await
                .unwrap()
                .launch_template_versions()
                .first()
                .expect("a default version")
                .launch_template_data()
                .cloned()
                .expect("template data")
        })
    }

    /// The group of `hostclass` (exactly one).
    pub fn group_of(&self, hostclass: &str) -> aws_sdk_autoscaling::types::AutoScalingGroup {
        let mine: Vec<_> = self
            .groups()
            .into_iter()
            .filter(|g| {
                let n = g.auto_scaling_group_name().unwrap_or_default();
                n.starts_with("demo_")
                    && n.rsplit_once('_').map(|(a, _)| a) == Some(&format!("demo_{hostclass}"))
            })
            .collect();
        assert_eq!(mine.len(), 1, "groups of {hostclass}: {mine:?}");
        mine.into_iter().next().unwrap()
    }

    /// Classic load balancer names of the account.
    pub fn elbs(&self) -> Vec<aws_sdk_elasticloadbalancing::types::LoadBalancerDescription> {
        let elb = self.elb();
        self.rt.block_on(async {
            elb.describe_load_balancers()
                .send()
                .await
                .unwrap()
                .load_balancer_descriptions()
                .to_vec()
        })
    }

    /// Network interfaces described "floating interface".
    pub fn floating_interfaces(&self) -> Vec<aws_sdk_ec2::types::NetworkInterface> {
        let ec2 = self.ec2();
        self.rt.block_on(async {
            ec2.describe_network_interfaces()
                .send()
                .await
                .unwrap()
                .network_interfaces()
                .iter()
                .filter(|n| n.description() == Some("floating interface"))
                .cloned()
                .collect()
        })
    }

    /// Starts tagging every running instance `smoketest=tested` (what an instance's own
    /// boot script does), until the returned guard is dropped.
    pub fn smoke_tagger(&self) -> SmokeTagger {
        let stop = Arc::new(AtomicBool::new(false));
        let ec2 = self.ec2();
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            while !flag.load(Ordering::Relaxed) {
                rt.block_on(async {
                    let Ok(out) = ec2
                        .describe_instances()
                        .filters(
                            Filter::builder()
                                .name("instance-state-name")
                                .values("running")
                                .build(),
                        )
                        .send()
                        .await
                    else {
                        return;
                    };
                    let ids: Vec<String> = out
                        .reservations()
                        .iter()
                        .flat_map(|r| r.instances())
                        .filter(|i| !i.tags().iter().any(|t| t.key() == Some("smoketest")))
                        .filter_map(|i| i.instance_id().map(str::to_string))
                        .collect();
                    if !ids.is_empty() {
                        let _ = ec2
                            .create_tags()
                            .set_resources(Some(ids))
                            .tags(tag("smoketest", "tested"))
                            .send()
                            .await;
                    }
                });
                std::thread::sleep(Duration::from_millis(150));
            }
        });
        SmokeTagger {
            stop,
            handle: Some(handle),
        }
    }
}

/// Stops the smoke tagger thread on drop.
pub struct SmokeTagger {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Drop for SmokeTagger {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

pub fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build()
}

pub fn spec(rt: ResourceType, tags: &[(&str, &str)]) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(rt)
        .set_tags(Some(tags.iter().map(|(k, v)| tag(k, v)).collect()))
        .build()
}

pub fn tag_value<'a>(tags: &'a [Tag], key: &str) -> Option<&'a str> {
    tags.iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The hostclasses of the example pipeline, with their AMIs.
pub const DEMO_HOSTCLASSES: [&str; 5] =
    ["mhcntp", "mhcadminproxy", "mhcapp", "mhcworker", "mhcweb"];

/// Environment + AMIs for the demo pipeline; returns the VPC id.
pub fn demo_world(w: &World) -> String {
    let vpc = w.create_environment("demo", 101);
    for hc in DEMO_HOSTCLASSES {
        w.create_ami(hc, 1_700_000_000, "tested");
    }
    vpc
}

/// The example pipeline as moto can run it: moto drops the Iops of a launch template's
/// io1 volume when it launches the group's instances and then refuses the volume
/// ("VolumeType requires Iops"), so the `iops` cell of mhcapp is emptied here; that iops
/// reach the launch template is checked by a test with an empty group.
pub fn demo_pipeline_for_moto(w: &World) -> PathBuf {
    let csv = std::fs::read_to_string(w.config_path().join("pipelines/demo.csv")).unwrap();
    let csv = csv.replace(
        "2,mhcapp,1,2,4,m5.large,50,1000,",
        "2,mhcapp,1,2,4,m5.large,50,,",
    );
    assert!(csv.contains("m5.large,50,,"), "demo.csv changed: {csv}");
    w.write_pipeline("demo_moto.csv", &csv)
}
