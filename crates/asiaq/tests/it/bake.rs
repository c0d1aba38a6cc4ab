//! `asiaq bake` and `asiaq acfg` against moto and the confined sshd, each test in an AWS
//! account of its own. Effects are checked through the EC2 API and in the test host's
//! chroot, not through asiaq's output.
//!
//! In moto an instance boots nothing: the confined sshd plays every bake instance. asiaq
//! reaches it under the address moto reports through `[bake] ssh_proxy_command` (set with
//! its environment override), which also records the address it was asked for and, like
//! EC2 putting the key pair on a new instance, puts root's authorized key back when a bake
//! removed it.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::{config_copy, expect, text};
use asiaq_testkit::{AwsAccount, Moto, SshHost};
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};

const UPSTREAM_AMI: &str = "ami-785db401";
const PROD_A: &str = "111122223333";
const PROD_B: &str = "444455556666";

fn asiaq(account: &AwsAccount, config: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_asiaq"));
    account
        .configure(&mut cmd)
        .stdin(Stdio::null())
        .env("ASIAQ_WAIT_SCALE", "0.01")
        .env("ASIAQ_QUIET", "1")
        .env_remove("ASIAQ_INJECT_FAULT")
        .env_remove("ASIAQ_SSH_IDENTITY")
        .env_remove("ASIAQ_BAKE_SSH_PROXY_COMMAND")
        .env_remove("ASIAQ_BAKE_SSH_USER")
        .env_remove("ASIAQ_BAKE_ASIAQ_BINARY")
        .env("USER", "jenkins")
        .env("LOGNAME", "jenkins")
        .arg("--asiaq-config")
        .arg(config);
    cmd
}

/// Replaces `from` (which must be there) by `to` in a file of the configuration.
fn edit(config: &Path, file: &str, from: &str, to: &str) {
    let path = config.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file} has no {from:?}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

fn f(name: &str, values: &[&str]) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.iter().map(|v| v.to_string()).collect()))
        .build()
}

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
        .collect()
}

/// `(instance id, state, public ip, private ip, tags)`.
type InstanceRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    BTreeMap<String, String>,
);

struct Ec2 {
    rt: tokio::runtime::Runtime,
    client: aws_sdk_ec2::Client,
    iam: aws_sdk_iam::Client,
}

impl Ec2 {
    fn new(account: &AwsAccount) -> Ec2 {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let conf = rt.block_on(account.sdk_config());
        Ec2 {
            client: aws_sdk_ec2::Client::new(&conf),
            iam: aws_sdk_iam::Client::new(&conf),
            rt,
        }
    }

    fn images(&self) -> Vec<aws_sdk_ec2::types::Image> {
        self.rt
            .block_on(self.client.describe_images().owners("self").send())
            .unwrap()
            .images
            .unwrap_or_default()
    }

    fn image(&self, id: &str) -> Option<aws_sdk_ec2::types::Image> {
        self.images().into_iter().find(|i| i.image_id() == Some(id))
    }

    fn snapshots(&self) -> Vec<String> {
        self.rt
            .block_on(self.client.describe_snapshots().owner_ids("self").send())
            .unwrap()
            .snapshots()
            .iter()
            .filter_map(|s| s.snapshot_id().map(str::to_string))
            .collect()
    }

    fn launch_permissions(&self, id: &str) -> Vec<String> {
        let out = self
            .rt
            .block_on(
                self.client
                    .describe_image_attribute()
                    .image_id(id)
                    .attribute(aws_sdk_ec2::types::ImageAttributeName::LaunchPermission)
                    .send(),
            )
            .unwrap();
        let mut ids: Vec<String> = out
            .launch_permissions()
            .iter()
            .filter_map(|p| p.user_id().map(str::to_string))
            .collect();
        ids.sort();
        ids
    }

    /// `(instance id, state, public ip, private ip, tags)` of every instance.
    fn instances(&self) -> Vec<InstanceRow> {
        let out = self
            .rt
            .block_on(self.client.describe_instances().send())
            .unwrap();
        out.reservations()
            .iter()
            .flat_map(|r| r.instances())
            .map(|i| {
                (
                    i.instance_id().unwrap_or_default().to_string(),
                    i.state()
                        .and_then(|s| s.name())
                        .map(|n| n.as_str().to_string())
                        .unwrap_or_default(),
                    i.public_ip_address().map(str::to_string),
                    i.private_ip_address().map(str::to_string),
                    tag_map(i.tags()),
                )
            })
            .collect()
    }

    /// Instances not terminated.
    fn live_instances(&self) -> Vec<String> {
        self.instances()
            .into_iter()
            .filter(|i| i.1 != "terminated")
            .map(|i| format!("{} ({})", i.0, i.1))
            .collect()
    }

    fn vpc_id(&self, name: &str) -> String {
        let out = self
            .rt
            .block_on(
                self.client
                    .describe_vpcs()
                    .filters(f("tag:Name", &[name]))
                    .send(),
            )
            .unwrap();
        out.vpcs()[0].vpc_id().unwrap().to_string()
    }

    /// A running instance with `tags` in a subnet of `vpc` (of metanetwork `net`).
    fn run_instance(&self, vpc: &str, net: &str, tags: &[(&str, &str)]) -> (String, String) {
        let subnets = self
            .rt
            .block_on(
                self.client
                    .describe_subnets()
                    .filters(f("vpc-id", &[vpc]))
                    .filters(f("tag:meta_network", &[net]))
                    .send(),
            )
            .unwrap();
        let subnet = subnets.subnets()[0].subnet_id().unwrap().to_string();
        let spec = TagSpecification::builder()
            .resource_type(ResourceType::Instance)
            .set_tags(Some(
                tags.iter()
                    .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
                    .collect(),
            ))
            .build();
        let out = self
            .rt
            .block_on(
                self.client
                    .run_instances()
                    .image_id(UPSTREAM_AMI)
                    .instance_type(aws_sdk_ec2::types::InstanceType::T2Micro)
                    .min_count(1)
                    .max_count(1)
                    .subnet_id(subnet)
                    .tag_specifications(spec)
                    .send(),
            )
            .unwrap();
        let i = &out.instances()[0];
        (
            i.instance_id().unwrap().to_string(),
            i.private_ip_address().unwrap().to_string(),
        )
    }

    /// An image made through the API (not by a bake), named `name`, with `tags`.
    fn make_image(&self, name: &str, tags: &[(&str, &str)]) -> String {
        let out = self
            .rt
            .block_on(
                self.client
                    .run_instances()
                    .image_id(UPSTREAM_AMI)
                    .instance_type(aws_sdk_ec2::types::InstanceType::T2Micro)
                    .min_count(1)
                    .max_count(1)
                    .send(),
            )
            .unwrap();
        let instance = out.instances()[0].instance_id().unwrap().to_string();
        let spec = TagSpecification::builder()
            .resource_type(ResourceType::Image)
            .set_tags(Some(
                tags.iter()
                    .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
                    .collect(),
            ))
            .build();
        // (moto answers 500 to an empty tag specification)
        let image = self
            .rt
            .block_on(
                self.client
                    .create_image()
                    .instance_id(&instance)
                    .name(name)
                    .set_tag_specifications((!tags.is_empty()).then(|| vec![spec]))
                    .send(),
            )
            .unwrap()
            .image_id()
            .unwrap()
            .to_string();
        self.rt
            .block_on(
                self.client
                    .terminate_instances()
                    .instance_ids(instance)
                    .send(),
            )
            .unwrap();
        image
    }

    /// The volumes attached to `instance`, by device name.
    fn volumes_of(&self, instance: &str) -> BTreeMap<String, aws_sdk_ec2::types::Volume> {
        let out = self
            .rt
            .block_on(
                self.client
                    .describe_volumes()
                    .filters(f("attachment.instance-id", &[instance]))
                    .send(),
            )
            .unwrap();
        out.volumes()
            .iter()
            .flat_map(|v| {
                v.attachments()
                    .iter()
                    .filter(|a| a.instance_id() == Some(instance))
                    .filter_map(|a| Some((a.device().map(str::to_string)?, v.clone())))
            })
            .collect()
    }

    /// `(device name, delete on termination)` of an instance's block device mappings.
    fn instance_devices(&self, instance: &str) -> Vec<(String, bool)> {
        let out = self
            .rt
            .block_on(
                self.client
                    .describe_instances()
                    .instance_ids(instance)
                    .send(),
            )
            .unwrap();
        let mut devices: Vec<(String, bool)> = out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .flat_map(|i| i.block_device_mappings())
            .map(|m| {
                (
                    m.device_name().unwrap_or_default().to_string(),
                    m.ebs()
                        .and_then(|e| e.delete_on_termination())
                        .unwrap_or(false),
                )
            })
            .collect();
        devices.sort();
        devices
    }

    /// Names of the key pairs and ids of the security groups of the account.
    fn key_pairs_and_groups(&self) -> (Vec<String>, Vec<String>) {
        let keys = self
            .rt
            .block_on(self.client.describe_key_pairs().send())
            .unwrap()
            .key_pairs()
            .iter()
            .filter_map(|k| k.key_name().map(str::to_string))
            .collect();
        let groups = self
            .rt
            .block_on(self.client.describe_security_groups().send())
            .unwrap()
            .security_groups()
            .iter()
            .filter_map(|g| g.group_id().map(str::to_string))
            .collect();
        (keys, groups)
    }

    fn instance_profile(&self, name: &str) {
        self.rt
            .block_on(
                self.iam
                    .create_instance_profile()
                    .instance_profile_name(name)
                    .send(),
            )
            .unwrap();
    }
}

fn image_tags(ec2: &Ec2, id: &str) -> BTreeMap<String, String> {
    tag_map(ec2.image(id).expect("image exists").tags())
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

// ---------------------------------------------------------------------------------------
// Image management (no ssh)
// ---------------------------------------------------------------------------------------

#[test]
fn listing_promotion_prod_sharing_and_cleanup() {
    let account = Moto::shared().new_account();
    let ec2 = Ec2::new(&account);
    let (_tmp, config) = config_copy();
    edit(
        &config,
        "disco_aws.ini",
        "prod_account_ids=\n",
        &format!("prod_account_ids={PROD_A} {PROD_B}\n"),
    );
    let t = now();
    let day = 86_400;
    let old1 = ec2.make_image(
        &format!("mhcweb {}", t - 30 * day),
        &[
            ("stage", "untested"),
            ("is_private", "False"),
            ("productline", "web"),
        ],
    );
    let old2 = ec2.make_image(
        &format!("mhcweb {}", t - 20 * day),
        &[("stage", "untested"), ("is_private", "False")],
    );
    let new_web = ec2.make_image(
        &format!("mhcweb {}", t - day),
        &[
            ("stage", "untested"),
            ("is_private", "False"),
            ("baker", "jenkins"),
        ],
    );
    let private_web = ec2.make_image(
        &format!("mhcweb {}", t - 3600),
        &[("stage", "tested"), ("is_private", "True")],
    );
    let app = ec2.make_image(
        &format!("mhcapp {}", t - 40 * day),
        &[("stage", "untested"), ("is_private", "False")],
    );
    let hand = ec2.make_image("hand made image", &[]);

    // listamis: everything, sorted by name timestamp (hand-made first: timestamp 0).
    let out = expect(asiaq(&account, &config).args(["bake", "listamis"]), 0);
    let ids: Vec<String> = text(&out.stdout)
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect();
    assert_eq!(
        ids,
        [&hand, &app, &old1, &old2, &new_web, &private_web].map(String::clone)
    );
    assert!(text(&out.stderr).contains("ID"), "header on stderr");
    let out = expect(
        asiaq(&account, &config).args(["bake", "listamis", "--stage", "tested,failed"]),
        0,
    );
    assert_eq!(text(&out.stdout).lines().count(), 1);
    let out = expect(
        asiaq(&account, &config).args([
            "bake",
            "listamis",
            "--productline",
            "web",
            "--output",
            "json",
        ]),
        0,
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["id"], old1.as_str());
    expect(
        asiaq(&account, &config).args(["bake", "listamis", "--hostclass", "mhcnone"]),
        1,
    );

    // listlatestami includes private images (as the original), prefers the listed stages.
    let out = expect(
        asiaq(&account, &config).args([
            "bake",
            "listlatestami",
            "--stage",
            "tested",
            "--hostclass",
            "mhcweb",
        ]),
        0,
    );
    assert!(text(&out.stdout).starts_with(&private_web));
    let out = expect(
        asiaq(&account, &config).args([
            "bake",
            "listlatestami",
            "--stage",
            "untested",
            "--hostclass",
            "mhcweb",
        ]),
        0,
    );
    assert!(text(&out.stdout).starts_with(&new_web));

    // promote: an unknown stage is refused before any call; a known one is tagged.
    expect(
        asiaq(&account, &config).args(["bake", "promote", "--ami", &new_web, "--stage", "prod"]),
        2,
    );
    assert_eq!(image_tags(&ec2, &new_web)["stage"], "untested");
    expect(
        asiaq(&account, &config).args([
            "bake",
            "promote",
            "--ami",
            &new_web,
            "--stage",
            "tested",
            "--dry-run",
        ]),
        0,
    );
    assert_eq!(image_tags(&ec2, &new_web)["stage"], "untested");
    expect(
        asiaq(&account, &config).args(["bake", "promote", "--ami", &new_web, "--stage", "tested"]),
        0,
    );
    assert_eq!(image_tags(&ec2, &new_web)["stage"], "tested");
    assert!(ec2.launch_permissions(&new_web).is_empty());
    expect(
        asiaq(&account, &config).args([
            "bake",
            "promote",
            "--ami",
            "ami-12345678",
            "--stage",
            "tested",
        ]),
        1,
    );

    // promote --promote-to-prod shares with every prod account and records it.
    expect(
        asiaq(&account, &config).args([
            "bake",
            "promote",
            "--ami",
            &old2,
            "--stage",
            "failed",
            "--promote-to-prod",
        ]),
        0,
    );
    assert_eq!(ec2.launch_permissions(&old2), vec![PROD_A, PROD_B]);
    let tags = image_tags(&ec2, &old2);
    assert_eq!(tags["stage"], "failed");
    assert_eq!(
        tags["shared_with_account_ids"],
        format!("{PROD_A},{PROD_B}")
    );

    // hostclasspromote: the newest non-private final-stage image (not the private one).
    expect(
        asiaq(&account, &config).args(["bake", "hostclasspromote", "--hostclass", "mhcweb"]),
        0,
    );
    assert_eq!(ec2.launch_permissions(&new_web), vec![PROD_A, PROD_B]);
    assert!(ec2.launch_permissions(&private_web).is_empty());
    expect(
        asiaq(&account, &config).args(["bake", "hostclasspromote", "--hostclass", "mhcapp"]),
        1,
    );

    // listamis --in-prod reads the launch permissions.
    let out = expect(
        asiaq(&account, &config).args([
            "bake",
            "listamis",
            "--hostclass",
            "mhcweb",
            "--in-prod",
            "--output",
            "json",
        ]),
        0,
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let prod: BTreeMap<String, bool> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_string(),
                r["in_prod"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(prod[&new_web] && prod[&old2] && !prod[&old1] && !prod[&private_web]);

    // liststragglers: mhcapp has no recent promoted image (stage 2 of ami_stages is
    // "failed", as the original); mhcweb's old2 is "failed" but 20 days old.
    let out = expect(
        asiaq(&account, &config).args(["bake", "liststragglers", "--days", "3"]),
        0,
    );
    let stragglers = text(&out.stdout);
    assert!(
        stragglers.contains(&format!("mhcapp\t{app}")),
        "{stragglers}"
    );
    assert!(stragglers.contains("mhcweb\t"), "{stragglers}");

    // cleanupamis: older than --age days and beyond the --keep newest, per hostclass.
    let j1 = ec2.make_image(
        &format!("mhcjunk {}", t - 50 * day),
        &[("stage", "untested")],
    );
    let j2 = ec2.make_image(
        &format!("mhcjunk {}", t - 12 * day),
        &[("stage", "untested")],
    );
    let j3 = ec2.make_image(
        &format!("mhcjunk {}", t - 5 * day),
        &[("stage", "untested")],
    );
    let j4 = ec2.make_image(&format!("mhcjunk {}", t - day), &[("stage", "untested")]);
    let snapshots_before = ec2.snapshots().len();
    let count = ec2.images().len();
    let out = expect(
        asiaq(&account, &config).args([
            "bake",
            "cleanupamis",
            "--stage",
            "untested",
            "--keep",
            "1",
            "--age",
            "10",
            "--dryrun",
        ]),
        0,
    );
    assert_eq!(ec2.images().len(), count, "--dryrun deletes nothing");
    let listed = text(&out.stdout);
    assert!(
        listed.contains(&j1) && listed.contains(&j2) && !listed.contains(&j3),
        "{listed}"
    );
    expect(
        asiaq(&account, &config).args([
            "bake",
            "cleanupamis",
            "--stage",
            "untested",
            "--keep",
            "1",
            "--age",
            "10",
            "--hostclass",
            "mhcjunk",
            "--exclude-amis",
            &format!("{j1},ami-00000000"),
        ]),
        0,
    );
    assert!(ec2.image(&j2).is_none());
    assert!(ec2.image(&j1).is_some() && ec2.image(&j3).is_some() && ec2.image(&j4).is_some());
    assert_eq!(ec2.images().len(), count - 1);
    // age -1, keep 0: every untested image except the excluded one (spec acceptance).
    expect(
        asiaq(&account, &config).args([
            "bake",
            "cleanupamis",
            "--stage",
            "untested",
            "--keep",
            "0",
            "--age",
            "-1",
            "--exclude-amis",
            &old1,
        ]),
        0,
    );
    for gone in [&app, &j1, &j3, &j4] {
        assert!(ec2.image(gone).is_none(), "{gone}");
    }
    assert!(ec2.image(&old1).is_some());
    assert!(ec2.image(&hand).is_some() && ec2.image(&new_web).is_some());
    assert!(
        ec2.snapshots().len() < snapshots_before,
        "snapshots deleted with images"
    );

    // deleteami removes the image and its snapshots.
    let snaps: Vec<String> = ec2
        .image(&old2)
        .unwrap()
        .block_device_mappings()
        .iter()
        .filter_map(|m| m.ebs()?.snapshot_id().map(str::to_string))
        .collect();
    assert!(!snaps.is_empty());
    expect(
        asiaq(&account, &config).args(["bake", "deleteami", "--ami", &old2, "--dry-run"]),
        0,
    );
    assert!(ec2.image(&old2).is_some());
    expect(
        asiaq(&account, &config).args(["bake", "deleteami", "--ami", &old2]),
        0,
    );
    assert!(ec2.image(&old2).is_none());
    let remaining = ec2.snapshots();
    assert!(snaps.iter().all(|s| !remaining.contains(s)));
    expect(
        asiaq(&account, &config).args(["bake", "deleteami", "--ami", &old2]),
        1,
    );
}

#[test]
fn promote_to_prod_without_prod_accounts_is_a_usage_error() {
    let account = Moto::shared().new_account();
    let ec2 = Ec2::new(&account);
    let (_tmp, config) = config_copy();
    let id = ec2.make_image(&format!("mhcweb {}", now()), &[("stage", "untested")]);
    expect(
        asiaq(&account, &config).args([
            "bake",
            "promote",
            "--ami",
            &id,
            "--stage",
            "tested",
            "--promote-to-prod",
        ]),
        2,
    );
    assert_eq!(image_tags(&ec2, &id)["stage"], "untested");
}

#[test]
fn create_hostclass_from_template() {
    let account = Moto::shared().new_account();
    let (_tmp, config) = config_copy();
    expect(
        asiaq(&account, &config).args(["bake", "create", "--hostclass", "mhcfoo"]),
        0,
    );
    let made = config.join("init/mhcfoo.sh");
    let script = std::fs::read_to_string(&made).unwrap();
    assert!(script.contains("mhcfoo"));
    assert!(
        script.contains("echo \"foo\" > /opt/wgen/etc/init-foo.done"),
        "{script}"
    );
    assert!(!script.contains("$TEMPLATED"));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&made), mode(&config.join("init/template.sh")));
    // Not a hostclass name, or already there: exit 2, nothing written.
    expect(
        asiaq(&account, &config).args(["bake", "create", "--hostclass", "foo"]),
        2,
    );
    assert!(!config.join("init/foo.sh").exists());
    expect(
        asiaq(&account, &config).args(["bake", "create", "--hostclass", "mhcfoo"]),
        2,
    );
}

// ---------------------------------------------------------------------------------------
// acfg on this machine (no user creation here: owners that exist)
// ---------------------------------------------------------------------------------------

#[test]
fn acfg_overlays_variants_directories_and_modes() {
    let account = Moto::shared().new_account();
    let (_tmp, config) = config_copy();
    let dest = tempfile::tempdir().unwrap();
    let source = config.join("discoroot");
    // Dry run: nothing written, the plan printed.
    let out = expect(
        asiaq(&account, &config)
            .arg("acfg")
            .arg(&source)
            .arg(dest.path())
            .args(["--hostclass", "mhcweb", "--dry"]),
        0,
    );
    assert!(
        text(&out.stdout).contains("web.conf"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(std::fs::read_dir(dest.path()).unwrap().count(), 0);
    expect(
        asiaq(&account, &config)
            .arg("acfg")
            .arg(&source)
            .arg(dest.path())
            .args(["--hostclass", "mhcntp", "--hostclass", "mhcweb"]),
        0,
    );
    let read = |p: &str| std::fs::read_to_string(dest.path().join(p)).unwrap();
    let src = |p: &str| std::fs::read_to_string(source.join(p)).unwrap();
    assert_eq!(read("etc/ntp.conf"), src("etc/ntp.conf~mhcntp"));
    assert_eq!(read("etc/motd"), src("etc/motd"));
    assert_eq!(
        read("etc/nginx/conf.d/web.conf"),
        src("etc/nginx/conf.d/web.conf~mhcweb")
    );
    assert!(!dest.path().join("acfg.metadata").exists());
    assert!(!dest.path().join("etc/motd~mhcadminproxy").exists());
    let mode = |p: &str| {
        std::fs::metadata(dest.path().join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(mode("etc/sudoers.d/operators"), 0o440);
    assert_eq!(mode("opt/wgen/bin/smoketest.sh"), 0o755);
    assert_eq!(
        std::fs::metadata(dest.path().join("etc/motd"))
            .unwrap()
            .uid(),
        0
    );

    // A bad acfg.metadata line stops it before anything is copied.
    std::fs::write(source.join("acfg.metadata"), "/etc/motd 0644 root\n").unwrap();
    let dest2 = tempfile::tempdir().unwrap();
    let out = expect(
        asiaq(&account, &config)
            .arg("acfg")
            .arg(&source)
            .arg(dest2.path())
            .args(["--hostclass", "mhcweb"]),
        2,
    );
    assert!(
        text(&out.stderr).contains("acfg.metadata:1:"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read_dir(dest2.path()).unwrap().count(), 0);
}

// ---------------------------------------------------------------------------------------
// Bakes over ssh
// ---------------------------------------------------------------------------------------

/// A bakery: an account with the environment `build`, the bake instance profile, a
/// configuration copy, and the confined sshd playing the bake instances.
struct Bakery {
    account: AwsAccount,
    ec2: Ec2,
    _tmp: tempfile::TempDir,
    config: PathBuf,
    host: SshHost,
    /// Addresses the ProxyCommand was asked to reach, one per connection.
    proxy_log: PathBuf,
}

impl Bakery {
    fn new() -> Bakery {
        let account = Moto::shared().new_account();
        let ec2 = Ec2::new(&account);
        let (tmp, config) = config_copy();
        expect(
            asiaq(&account, &config)
                .args(["vpc", "create", "--name", "build", "--type", "sandbox"]),
            0,
        );
        ec2.instance_profile("instance_example_common");
        let host = SshHost::start();
        provision_libraries(&host);
        let proxy_log = tmp.path().join("proxy.log");
        Bakery {
            account,
            ec2,
            _tmp: tmp,
            config,
            host,
            proxy_log,
        }
    }

    /// `asiaq` reaching the test host as every bake instance.
    fn asiaq(&self) -> Command {
        let mut cmd = asiaq(&self.account, &self.config);
        let authorized = self.host.path("/root/.ssh/authorized_keys");
        let public = self.host.private_key().with_extension("pub");
        let proxy = format!(
            "sh -c '[ -e {auth} ] || cp {public} {auth}; echo %h >> {log}; exec nc 127.0.0.1 {port}'",
            auth = authorized.display(),
            public = public.display(),
            log = self.proxy_log.display(),
            port = self.host.port(),
        );
        cmd.env("ASIAQ_BAKE_SSH_PROXY_COMMAND", proxy)
            .env("ASIAQ_SSH_IDENTITY", self.host.private_key())
            .env("ASIAQ_SSH_CONFIG", "/dev/null");
        cmd
    }

    fn proxied_addresses(&self) -> Vec<String> {
        std::fs::read_to_string(&self.proxy_log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn remote_text(&self, path: &str) -> String {
        std::fs::read_to_string(self.host.path(path))
            .unwrap_or_else(|e| panic!("{path} on the test host: {e}"))
    }

    /// The uid (or gid) of `name` in the test host's /etc/passwd (or /etc/group).
    fn remote_id(&self, file: &str, name: &str) -> u32 {
        self.remote_text(file)
            .lines()
            .find_map(|l| {
                let mut f = l.split(':');
                (f.next()? == name).then(|| f.nth(1)?.parse().ok())?
            })
            .unwrap_or_else(|| panic!("{name} not in {file}"))
    }
}

/// The test host is a busybox chroot; the asiaq binary the bake installs there (for
/// `asiaq acfg`) is dynamically linked against glibc, as on the images it is meant for.
/// Give the chroot the libraries a real image has (ldd's list), as the fixture does for rsync.
fn provision_libraries(host: &SshHost) {
    let out = Command::new("ldd")
        .arg(env!("CARGO_BIN_EXE_asiaq"))
        .output()
        .unwrap();
    for lib in text(&out.stdout)
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
    {
        let target = host.path(lib);
        if !target.exists() {
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::copy(lib, &target).unwrap();
        }
    }
}

#[test]
fn bake_phase1_then_phase2_with_acfg_on_the_host() {
    let b = Bakery::new();
    // A repo host in the bakery environment: its private IP goes to the init script.
    let vpc = b.ec2.vpc_id("build");
    let (_, repo_ip) = b
        .ec2
        .run_instance(&vpc, "tunnel", &[("hostclass", "mhcadminproxy")]);
    // discoroot: an executable with an owner the host does not have yet.
    std::fs::write(
        b.config.join("discoroot/opt/wgen/bin/take_snapshot.sh"),
        "#!/bin/sh\n",
    )
    .unwrap();
    let mut metadata = std::fs::read_to_string(b.config.join("discoroot/acfg.metadata")).unwrap();
    metadata.push_str("/opt/wgen/bin/take_snapshot.sh 0550 snapshot snapshot\n");
    metadata.push_str("/etc/motd~mhcweb 0600 root root\n");
    std::fs::write(b.config.join("discoroot/acfg.metadata"), metadata).unwrap();

    // Phase 1: the upstream image of [ubuntu_phase1], init'd as mhcbase.
    let out = expect(
        b.asiaq().args([
            "bake",
            "bake",
            "--tag",
            "team:core",
            "--tag",
            "stage:hacked",
        ]),
        0,
    );
    let phase1 = text(&out.stdout).trim().to_string();
    let image = b.ec2.image(&phase1).expect("phase-1 image registered");
    assert_eq!(image.state().map(|s| s.as_str()), Some("available"));
    let name = image.name().unwrap();
    assert!(name.starts_with("ubuntu_phase1 "), "{name}");
    let tags = tag_map(image.tags());
    let keys: Vec<&str> = tags.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        vec![
            "baker",
            "hostclass",
            "is_private",
            "productline",
            "source_ami",
            "stage",
            "team",
            "version-asiaq"
        ]
    );
    assert_eq!(tags["hostclass"], "mhcbase");
    assert_eq!(
        tags["stage"], "untested",
        "--tag never overrides asiaq's tags"
    );
    assert_eq!(tags["source_ami"], UPSTREAM_AMI);
    assert_eq!(tags["baker"], "jenkins");
    assert_eq!(tags["is_private"], "False");
    assert_eq!(tags["productline"], "platform");
    assert_eq!(tags["team"], "core");
    // The bake instance ran where moto put it and is terminated.
    let bake_instances: Vec<_> = b
        .ec2
        .instances()
        .into_iter()
        .filter(|i| i.4.get("hostclass").map(String::as_str) == Some("bake_mhcbase"))
        .collect();
    assert_eq!(bake_instances.len(), 1);
    assert_eq!(bake_instances[0].1, "terminated");
    assert!(bake_instances[0].4.contains_key("asiaq:bake"));
    // moto forgets the public IP of a terminated instance: every connection went to one
    // address, not the private one (no --use-local-ip).
    let private_ip = bake_instances[0].3.clone().expect("private ip");
    let proxied = b.proxied_addresses();
    assert!(!proxied.is_empty());
    assert!(
        proxied.iter().all(|a| a == &proxied[0] && a != &private_ip),
        "{proxied:?}"
    );
    // On the host: the data, the init script's work, root's key removed before the image.
    let done = b.remote_text("/opt/wgen/etc/bake-phase1.done");
    assert!(done.contains("hostclass=mhcbase"), "{done}");
    assert!(done.contains(&format!("repo_ip={repo_ip}")), "{done}");
    let bake_id = done
        .lines()
        .find_map(|l| l.strip_prefix("bake_id="))
        .unwrap();
    assert_eq!(bake_id.len(), 32);
    assert!(b.host.path("/opt/wgen/discoaws/init/phase1.sh").is_file());
    assert!(b
        .host
        .path("/opt/wgen/discoaws/asiaq/disco_aws.ini")
        .is_file());
    assert!(b.host.path("/opt/wgen/discoaws/asiaq/bin/asiaq").is_file());
    assert!(!b.host.path("/root/.ssh/authorized_keys").exists());

    // Phase 2 needs a final-stage phase-1 image.
    let out = expect(b.asiaq().args(["bake", "bake", "--hostclass", "mhcweb"]), 1);
    assert!(
        text(&out.stderr).contains("no tested image"),
        "{}",
        text(&out.stderr)
    );
    expect(
        b.asiaq()
            .args(["bake", "promote", "--ami", &phase1, "--stage", "tested"]),
        0,
    );
    let out = expect(
        b.asiaq()
            .args(["bake", "bake", "--hostclass", "mhcweb", "--private"]),
        0,
    );
    let phase2 = text(&out.stdout).trim().to_string();
    let tags = image_tags(&b.ec2, &phase2);
    assert_eq!(tags["hostclass"], "mhcweb");
    assert_eq!(tags["source_ami"], phase1);
    assert_eq!(tags["is_private"], "True");
    assert!(b
        .ec2
        .image(&phase2)
        .unwrap()
        .name()
        .unwrap()
        .starts_with("mhcweb "));
    assert!(b.ec2.live_instances().iter().all(|i| !i.contains("bake")));

    // acfg ran on the host: variants, modes, owners, the new user and group.
    let done = b.remote_text("/opt/wgen/etc/bake-phase2.done");
    assert!(done.contains("hostclass=mhcweb"), "{done}");
    assert_eq!(b.remote_text("/opt/wgen/etc/hostclass").trim(), "mhcweb");
    assert_eq!(
        b.remote_text("/etc/nginx/conf.d/web.conf"),
        std::fs::read_to_string(b.config.join("discoroot/etc/nginx/conf.d/web.conf~mhcweb"))
            .unwrap()
    );
    assert_eq!(
        b.remote_text("/etc/motd"),
        std::fs::read_to_string(b.config.join("discoroot/etc/motd")).unwrap()
    );
    assert_eq!(
        b.remote_text("/etc/ntp.conf"),
        std::fs::read_to_string(b.config.join("discoroot/etc/ntp.conf")).unwrap()
    );
    let meta = |p: &str| std::fs::metadata(b.host.path(p)).unwrap();
    assert_eq!(
        meta("/etc/sudoers.d/operators").permissions().mode() & 0o7777,
        0o440
    );
    // The mhcweb entry of /etc/motd beats the plain one (there is no motd~mhcweb file: the
    // entry applies to the installed path whatever file it came from).
    assert_eq!(meta("/etc/motd").permissions().mode() & 0o7777, 0o600);
    let snap = meta("/opt/wgen/bin/take_snapshot.sh");
    assert_eq!(snap.permissions().mode() & 0o7777, 0o550);
    assert_eq!(snap.uid(), b.remote_id("/etc/passwd", "snapshot"));
    assert_eq!(snap.gid(), b.remote_id("/etc/group", "snapshot"));
    assert_ne!(snap.uid(), 0);

    // listrepo prints the repo host's public IP.
    let out = expect(b.asiaq().args(["bake", "listrepo", "--output", "json"]), 0);
    let repo: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(repo["private_ip"], repo_ip.as_str());
}

#[test]
fn failing_init_script_terminates_and_registers_nothing() {
    let b = Bakery::new();
    std::fs::write(
        b.config.join("init/phase1.sh"),
        "#!/bin/sh\necho preparing\necho something broke >&2\nexit 3\n",
    )
    .unwrap();
    let out = expect(b.asiaq().args(["bake", "bake"]), 1);
    let err = text(&out.stderr);
    assert!(err.contains("init/phase1.sh failed (exit 3)"), "{err}");
    assert!(err.contains("something broke"), "{err}");
    assert!(b.ec2.images().is_empty());
    assert!(
        b.ec2.live_instances().is_empty(),
        "{:?}",
        b.ec2.live_instances()
    );
}

#[test]
fn no_destroy_leaves_the_instance_running() {
    let b = Bakery::new();
    let out = expect(b.asiaq().args(["bake", "bake", "--no-destroy"]), 0);
    let instance = text(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let live = b.ec2.live_instances();
    assert_eq!(live, vec![format!("{instance} (running)")]);
    assert!(b.ec2.images().is_empty());
    assert!(b.host.path("/opt/wgen/etc/bake-phase1.done").is_file());
    assert!(
        b.host.path("/root/.ssh/authorized_keys").exists(),
        "left as it was"
    );
}

#[test]
fn bad_bake_input_exits_2_before_any_change() {
    let b = Bakery::new();
    let before = b.ec2.instances().len();
    for args in [
        vec!["bake", "bake", "--stage", "bogus"],
        vec!["bake", "bake", "--hostclass", "mhcnope"],
        vec!["bake", "bake", "--tag", "novalue"],
    ] {
        expect(b.asiaq().args(&args), 2);
    }
    std::fs::remove_file(b.config.join("init/phase2.sh")).unwrap();
    let out = expect(b.asiaq().args(["bake", "bake", "--hostclass", "mhcweb"]), 2);
    assert!(
        text(&out.stderr).contains("init/phase2.sh"),
        "{}",
        text(&out.stderr)
    );
    std::fs::remove_dir_all(b.config.join("discoroot")).unwrap();
    expect(b.asiaq().args(["bake", "bake"]), 2);
    // The dry run reads, prints the plan and launches nothing.
    let (_tmp, config) = config_copy();
    let out = expect(
        asiaq(&b.account, &config).args(["bake", "bake", "--dry-run", "--output", "json"]),
        0,
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["prepared"]["source_ami"], UPSTREAM_AMI);
    assert_eq!(b.ec2.instances().len(), before);
}

/// The bake instance gets the storage of the hostclass baked (spec §4.9 step 3): the root
/// resized by `extra_space`, the `extra_disk` volume (io1 with `iops`, encrypted), every
/// volume deleted on termination; options looked up with the hostclass rule in the bakery
/// environment. A bad value stops the bake before any AWS call.
#[test]
fn bake_instance_gets_the_hostclass_storage() {
    let b = Bakery::new();
    // moto knows no upstream image: bake from one of ours (root device /dev/sda1, 8 GB).
    let source = b.ec2.make_image(&format!("ubuntu_phase1 {}", now()), &[]);
    let ini = b.config.join("disco_aws.ini");
    let mut text_ini = std::fs::read_to_string(&ini).unwrap();
    // The phase-1 hostclass (mhcbase) has no section in the example: give it one.
    text_ini.push_str("\n[mhcbase]\nextra_space=1\nextra_space@build=4\nextra_disk=20\n");
    std::fs::write(&ini, format!("{text_ini}iops=200\n")).unwrap();

    // The dry run shows the mapping and launches nothing.
    let out = expect(
        b.asiaq().args([
            "bake",
            "bake",
            "--source-ami",
            &source,
            "--dry-run",
            "--output",
            "json",
        ]),
        0,
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let devices = plan["prepared"]["block_devices"].as_array().unwrap();
    assert_eq!(devices.len(), 2, "{plan}");
    assert_eq!(devices[0]["device_name"], "/dev/sda1");
    assert_eq!(devices[0]["ebs"]["size_gb"], 12);
    assert_eq!(devices[1]["device_name"], "/dev/sdb");
    assert_eq!(devices[1]["ebs"]["volume_type"], "io1");
    assert_eq!(devices[1]["ebs"]["iops"], 200);
    assert_eq!(devices[1]["ebs"]["encrypted"], true);
    assert!(b.ec2.live_instances().is_empty());

    // The bake itself without `iops`: moto's RunInstances drops a mapping's Iops and then
    // refuses io1 without it (AWS takes both).
    std::fs::write(&ini, &text_ini).unwrap();

    let out = expect(
        b.asiaq().env("ASIAQ_BAKE_ASIAQ_BINARY", "none").args([
            "bake",
            "bake",
            "--no-destroy",
            "--source-ami",
            &source,
        ]),
        0,
    );
    let instance = text(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let volumes = b.ec2.volumes_of(&instance);
    let devices: Vec<&str> = volumes.keys().map(String::as_str).collect();
    assert_eq!(devices, ["/dev/sda1", "/dev/sdb"], "{volumes:?}");
    let root = &volumes["/dev/sda1"];
    assert_eq!(root.size(), Some(8 + 4), "extra_space@build wins in build");
    let extra = &volumes["/dev/sdb"];
    assert_eq!(extra.size(), Some(20));
    assert_eq!(extra.encrypted(), Some(true));
    assert_eq!(
        b.ec2.instance_devices(&instance),
        vec![
            ("/dev/sda1".to_string(), true),
            ("/dev/sdb".to_string(), true)
        ]
    );

    // A storage value that is not a number: exit 2, no AWS call at all.
    let before = b.ec2.instances().len();
    std::fs::write(&ini, text_ini.replace("extra_disk=20", "extra_disk=abc")).unwrap();
    let (out, calls) = crate::identity_common::with_stats(b.asiaq().args([
        "bake",
        "bake",
        "--source-ami",
        &source,
    ]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(calls.is_empty(), "{calls:?}");
    let err = text(&out.stderr);
    assert!(
        err.contains("disco_aws.ini:") && err.contains("extra_disk"),
        "{err}"
    );
    assert_eq!(b.ec2.instances().len(), before);
}

/// Polls `ready` (every 200 ms, up to `secs` seconds); panics with `what` on timeout.
fn poll_until<T>(what: &str, secs: u64, mut ready: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(v) = ready() {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// When the bake gets its SIGTERM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Interrupt {
    /// While the init script runs on the instance.
    InInitScript,
    /// As soon as the instance is visible (pending or running) through the API.
    OnceVisible,
    /// While RunInstances is answered slowly: the instance exists, asiaq has not heard so.
    LaunchInFlight,
}

/// A bake interrupted by SIGTERM cleans up: the bake runs as a child process, gets SIGTERM
/// once its instance exists (`when` says how far the bake must have come), and must exit
/// non-zero with the instance terminated, no image, and no key pair or security group
/// beyond those it found.
fn sigterm_cleans_up(b: &Bakery, when: Interrupt) {
    let (keys_before, groups_before) = b.ec2.key_pairs_and_groups();
    let started = b.host.path("/opt/wgen/etc/bake-started");
    let _ = std::fs::remove_file(&started);
    let log_dir = tempfile::tempdir().unwrap();
    let stderr_path = log_dir.path().join("stderr");
    // Files, not pipes: whatever the bake started must not hold the test's reads open.
    // 3 s more per request (half before moto sees it, half after it answered): the
    // instance exists 1.5 s before asiaq hears of it.
    let proxy = (when == Interrupt::LaunchInFlight).then(|| {
        let mut config = asiaq_proxy::ProxyConfig::new(Moto::shared().endpoint());
        config.latency_ms = 3000;
        config.ec2_throttling = false;
        asiaq_proxy::Proxy::start(config).expect("proxy starts")
    });
    let mut cmd = b.asiaq();
    if let Some(p) = &proxy {
        cmd.env("AWS_ENDPOINT_URL", p.endpoint());
    }
    let mut child = cmd
        .env("ASIAQ_BAKE_ASIAQ_BINARY", "none")
        .env_remove("ASIAQ_QUIET")
        .args(["bake", "bake"])
        .stdout(std::fs::File::create(log_dir.path().join("stdout")).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let bake_instance = |states: &[&str]| {
        b.ec2.instances().into_iter().find(|i| {
            i.4.get("hostclass").map(String::as_str) == Some("bake_mhcbase")
                && i.4.contains_key("asiaq:bake")
                && states.contains(&i.1.as_str())
        })
    };
    let instance = poll_until("the bake instance", 60, || {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "the bake ended before it was interrupted ({status}): {}",
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        bake_instance(&["pending", "running"])
    })
    .0;
    if when == Interrupt::InInitScript {
        poll_until("the init script to start", 60, || {
            started.exists().then_some(())
        });
    }
    let pid = child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let status = poll_until("the bake to exit after SIGTERM", 60, || {
        child.try_wait().unwrap()
    });
    let err = std::fs::read_to_string(&stderr_path).unwrap();
    assert!(!status.success(), "{status}: {err}");
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    let state = b
        .ec2
        .instances()
        .into_iter()
        .find(|i| i.0 == instance)
        .map(|i| i.1)
        .unwrap();
    assert!(
        state == "terminated" || state == "shutting-down",
        "{instance} is {state}: {err}"
    );
    assert!(b.ec2.images().is_empty(), "no image registered: {err}");
    assert!(b.ec2.snapshots().is_empty(), "no snapshot left: {err}");
    assert_eq!(
        b.ec2.key_pairs_and_groups(),
        (keys_before, groups_before),
        "no key pair or security group left"
    );
}

/// SIGTERM (what a CI runner or `kill` sends) while the init script runs, as soon as a
/// second bake's instance is visible, and while a third bake's RunInstances answer is still
/// on its way: each time the bake cleans up.
#[test]
fn sigterm_terminates_the_bake_instance_and_leaves_nothing() {
    let b = Bakery::new();
    std::fs::write(
        b.config.join("init/phase1.sh"),
        "#!/bin/sh\nmkdir -p /opt/wgen/etc\necho started > /opt/wgen/etc/bake-started\nsleep 30\n",
    )
    .unwrap();
    sigterm_cleans_up(&b, Interrupt::InInitScript);
    sigterm_cleans_up(&b, Interrupt::OnceVisible);
    sigterm_cleans_up(&b, Interrupt::LaunchInFlight);
    assert!(
        b.ec2.live_instances().is_empty(),
        "{:?}",
        b.ec2.live_instances()
    );
}

/// A failure injected at each AWS step of a bake terminates the bake instance and leaves
/// no image and no snapshot behind.
#[test]
fn fault_at_any_aws_step_cleans_up() {
    let b = Bakery::new();
    for fault in [
        "RunInstances:1",
        "DescribeInstances:2",
        "StopInstances:1",
        "DescribeInstances:3",
        "CreateImage:1",
        "DescribeImages:1",
    ] {
        let out = expect(
            b.asiaq()
                .env("ASIAQ_INJECT_FAULT", fault)
                .env("ASIAQ_BAKE_ASIAQ_BINARY", "none")
                .args(["bake", "bake"]),
            1,
        );
        assert!(
            text(&out.stderr).contains("fault injected"),
            "{fault}: {}",
            text(&out.stderr)
        );
        assert!(
            b.ec2.live_instances().is_empty(),
            "{fault}: {:?}",
            b.ec2.live_instances()
        );
        assert!(b.ec2.images().is_empty(), "{fault}: image left");
        assert!(b.ec2.snapshots().is_empty(), "{fault}: snapshot left");
    }
    // A failed TerminateInstances is retried: the bake still succeeds and leaves nothing.
    let out = expect(
        b.asiaq()
            .env("ASIAQ_INJECT_FAULT", "TerminateInstances:1")
            .env("ASIAQ_BAKE_ASIAQ_BINARY", "none")
            .args(["bake", "bake"]),
        0,
    );
    let image = text(&out.stdout).trim().to_string();
    assert!(b.ec2.image(&image).is_some());
    assert!(b.ec2.live_instances().is_empty());
}

/// The cleanup runs as an engine plan and says what it does: the image of a bake that
/// failed once it had the image's id is deleted (and the instance terminated), and a failed
/// TerminateInstances is sent once more after a pause.
#[test]
fn cleanup_plan_deletes_the_image_and_retries_the_terminate_once() {
    let b = Bakery::new();
    let out = expect(
        b.asiaq()
            .env_remove("ASIAQ_QUIET")
            .env("ASIAQ_INJECT_FAULT", "DescribeImages:1")
            .env("ASIAQ_BAKE_ASIAQ_BINARY", "none")
            .args(["bake", "bake"]),
        1,
    );
    let err = text(&out.stderr);
    assert!(err.contains(": deleting image ami-"), "{err}");
    assert!(err.contains(": terminating instance i-"), "{err}");
    assert!(!err.contains("left behind"), "{err}");
    assert!(b.ec2.images().is_empty(), "{err}");
    assert!(b.ec2.snapshots().is_empty(), "{err}");
    assert!(b.ec2.live_instances().is_empty(), "{err}");

    let out = expect(
        b.asiaq()
            .env_remove("ASIAQ_QUIET")
            .env("ASIAQ_INJECT_FAULT", "TerminateInstances:1")
            .env("ASIAQ_BAKE_ASIAQ_BINARY", "none")
            .args(["bake", "bake"]),
        0,
    );
    let err = text(&out.stderr);
    let retries = err
        .lines()
        .filter(|l| l.starts_with("terminating i-") && l.ends_with("; retrying"))
        .count();
    assert_eq!(retries, 1, "{err}");
    assert!(b.ec2.live_instances().is_empty(), "{err}");
}

// ---------------------------------------------------------------------------------------
// Benchmark (not run by `cargo test`)
// ---------------------------------------------------------------------------------------

/// The AWS calls a phase-1 bake cannot do without, in the order they depend on each other:
/// find the bakery environment (VPC by name, then its subnets and security groups), launch,
/// see it run, stop it, see it stopped, make the image, see it available, terminate. The repo
/// host lookup (DescribeInstances) runs beside the subnet lookup. The ssh work in between
/// makes no AWS call.
const BAKE_MIN_CALLS: &[&str] = &[
    "ec2:DescribeVpcs",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeInstances",
    "ec2:RunInstances",
    "ec2:DescribeInstances",
    "ec2:StopInstances",
    "ec2:DescribeInstances",
    "ec2:CreateImage",
    "ec2:DescribeImages",
    "ec2:TerminateInstances",
];
/// The longest chain of those calls each needing the previous one's answer: DescribeVpcs,
/// DescribeSubnets, RunInstances, DescribeInstances, StopInstances, DescribeInstances,
/// CreateImage, DescribeImages, TerminateInstances.
const BAKE_CRITICAL_PATH: usize = 9;
/// A phase-2 bake needs one call more: the newest final-stage phase-1 image (DescribeImages
/// by name). It runs beside the environment lookup, so the critical path stays 9 long.
const BAKE_PHASE2_EXTRA_CALLS: &[&str] = &["ec2:DescribeImages"];
/// Runs of each bake per latency in the benchmark.
const BENCH_REPEATS: usize = 5;

/// One measured bake: phase, added latency, wall time, asiaq's calls (total and per
/// operation), requests the proxy saw.
struct BakeRun {
    phase: u32,
    latency_ms: u64,
    wall: std::time::Duration,
    calls: u64,
    requests: u64,
    ops: BTreeMap<String, u64>,
}

/// Runs `asiaq bake bake ARGS` through asiaq-proxy with `latency_ms` added per request;
/// returns the measurement and the bake's stdout.
fn measure_bake(b: &Bakery, phase: u32, latency_ms: u64, args: &[&str]) -> (BakeRun, String) {
    let mut config = asiaq_proxy::ProxyConfig::new(Moto::shared().endpoint());
    config.latency_ms = latency_ms;
    config.ec2_throttling = false;
    let proxy = asiaq_proxy::Proxy::start(config).expect("proxy starts");
    let stats = tempfile::NamedTempFile::new().unwrap();
    let started = std::time::Instant::now();
    let out = expect(
        b.asiaq()
            .env("AWS_ENDPOINT_URL", proxy.endpoint())
            .env("ASIAQ_API_STATS", stats.path())
            .args(["bake", "bake"])
            .args(args),
        0,
    );
    let wall = started.elapsed();
    let counts: serde_json::Value =
        serde_json::from_slice(&std::fs::read(stats.path()).unwrap()).unwrap();
    let ops: BTreeMap<String, u64> = counts["operations"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(op, s)| (op.clone(), s["calls"].as_u64().unwrap()))
        .collect();
    let run = BakeRun {
        phase,
        latency_ms,
        wall,
        calls: ops.values().sum(),
        requests: proxy.shutdown().requests,
        ops,
    };
    (run, text(&out.stdout).trim().to_string())
}

/// Benchmark of the AWS side of a phase-1 bake and of a phase-2 bake from its image: the API
/// calls asiaq makes (`ASIAQ_API_STATS`) against the minimum above, and the wall time
/// through asiaq-proxy with 0 and 50 ms added per request (the difference, divided by 50 ms,
/// is the number of requests on the bake's critical path as asiaq runs it). Waits are scaled
/// down (`ASIAQ_WAIT_SCALE=0.01`), so the wall time is the calls plus the ssh and rsync work
/// (phase 2 also installs asiaq and runs `asiaq acfg` on the host). The phase-1 image is
/// promoted to the final stage between the two, outside the measurement. Each bake runs
/// [`BENCH_REPEATS`] times per latency, the latencies interleaved; the table shows the
/// median wall time (the machine is shared: single runs vary by half a second).
///
/// `cargo test --workspace --test it bake::bench_ -- --ignored --nocapture`
#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn bench_bake_aws_side() {
    let b = Bakery::new();
    let mut runs: Vec<BakeRun> = Vec::new();
    for _ in 0..BENCH_REPEATS {
        for latency_ms in [0_u64, 50] {
            let (phase1, image) = measure_bake(&b, 1, latency_ms, &[]);
            runs.push(phase1);
            expect(
                b.asiaq()
                    .args(["bake", "promote", "--ami", &image, "--stage", "tested"]),
                0,
            );
            let (phase2, _) = measure_bake(&b, 2, latency_ms, &["--hostclass", "mhcweb"]);
            runs.push(phase2);
        }
    }
    // Calls do not vary between runs; the wall time does: keep the median run of each.
    let mut rows: Vec<BakeRun> = Vec::new();
    for phase in [1, 2] {
        for latency_ms in [0_u64, 50] {
            let mut same: Vec<BakeRun> = Vec::new();
            let mut rest = Vec::new();
            for r in runs.drain(..) {
                if r.phase == phase && r.latency_ms == latency_ms {
                    same.push(r);
                } else {
                    rest.push(r);
                }
            }
            runs = rest;
            assert!(
                same.iter().all(|r| r.calls == same[0].calls),
                "phase {phase} at {latency_ms} ms: calls vary between runs"
            );
            same.sort_by_key(|r| r.wall);
            rows.push(same.swap_remove(same.len() / 2));
        }
    }
    let minimum = |phase: u32| {
        BAKE_MIN_CALLS.len()
            + if phase == 2 {
                BAKE_PHASE2_EXTRA_CALLS.len()
            } else {
                0
            }
    };
    eprintln!(
        "{:<6} {:>8} {:>8} {:>12} {:>8} {:>9} {:>10}",
        "phase", "latency", "wall s", "asiaq calls", "minimum", "proxied", "crit.path"
    );
    for r in &rows {
        eprintln!(
            "{:<6} {:>5} ms {:>8.2} {:>12} {:>8} {:>9} {:>10}",
            r.phase,
            r.latency_ms,
            r.wall.as_secs_f64(),
            r.calls,
            minimum(r.phase),
            r.requests,
            BAKE_CRITICAL_PATH
        );
    }
    for phase in [1, 2] {
        let at = |ms: u64| {
            rows.iter()
                .find(|r| r.phase == phase && r.latency_ms == ms)
                .unwrap()
        };
        let added = at(50).wall.as_secs_f64() - at(0).wall.as_secs_f64();
        eprintln!(
            "phase {phase}: added by 50 ms per request: {added:.2} s = {:.1} sequential requests",
            added / 0.05
        );
        eprintln!("phase {phase} calls (0 ms):");
        for (op, n) in &at(0).ops {
            eprintln!("    {op:<40} {n}");
        }
    }
    assert!(rows.iter().all(|r| r.calls >= minimum(r.phase) as u64));
}
