//! Baking an image (spec §4.9 "Bake procedure"): launch one instance in the bakery
//! environment's tunnel metanetwork, reach it over ssh, copy the configuration, run
//! `init/phase<N>.sh`, stop it, make an image of it, tag it, wait for it.
//!
//! [`prepare`] only reads (the environment, the source image, the repo host), so a bake can
//! print its plan (`--dry-run`) and fail before it creates anything; [`execute`] does the
//! work. Whatever happens after the instance is launched (an AWS error, a failing init
//! script, an interrupt), the instance is terminated and an image made by the failed bake is
//! deleted with its snapshots; only `--no-destroy` leaves the instance running. That cleanup
//! is an engine plan (`asiaq_core::plan::bake::cleanup_plan`) of independent steps, so each
//! is tried whatever happens to the others. No key pair or security group is made: the bake
//! uses `[bake] bake_key` and the tunnel security group.
//!
//! The instance gets the storage of the hostclass baked (spec §4.9 step 3, "BDM from storage
//! config without the snapshot"): [`BakeSettings::storage`] (the hostclass's `extra_space`,
//! `extra_disk`, `iops`, read by the binary with the hostclass rule in the bakery
//! environment) and the instance-store disks of the bakery instance type, mapped as
//! provision maps them (`asiaq_core::storage`) but never with the hostclass's snapshot.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use asiaq_core::ami::{bake_tags, find_ami, AmiInfo, BakeSource, BakeTagInputs};
use asiaq_core::plan::bake::{cleanup_plan, BakeCleanupAction, BakeRecord};
use asiaq_core::printout::Printout;
use asiaq_core::ssh::shell_command;
use asiaq_core::storage::{bake_block_device_mappings, BlockDevice};
use asiaq_core::syntax::MetaNetworkName;
use aws_sdk_ec2::types::{
    AttributeValue, BlockDeviceMapping, EbsBlockDevice, IamInstanceProfileSpecification,
    InstanceNetworkInterfaceSpecification, InstanceStateName, InstanceType, ResourceType,
    VolumeType,
};
use rand::seq::SliceRandom;
use serde::Serialize;

use crate::context::AwsContext;
use crate::environment::{filter, find_environment};
use crate::error::AwsError;
use crate::images::{self, ImageQuery};
use crate::remote::{Remote, RemoteError};
use crate::tags::ec2_tag_spec;
use crate::wait::{resend_while_throttled, wait_for, Backoff, Poll};
use asiaq_engine::execute::default_disposition;
use asiaq_engine::report::{self, note};
use asiaq_engine::{Apply, Disposition, ExecOptions};

/// Tag on the bake instance: the bake id, so an instance left by a killed bake can be found.
pub const OWNER_TAG: &str = "asiaq:bake";

pub use asiaq_core::ami::{BakeSettings, DEFAULT_LOGIN_USERS};

/// What [`prepare`] found.
#[derive(Debug, Clone, Serialize)]
pub struct Prepared {
    pub vpc_id: String,
    pub security_group_id: String,
    /// Tunnel subnets; the bake uses one at random.
    pub subnet_ids: Vec<String>,
    pub source_ami: String,
    /// The bake instance's block device mapping (empty: the image's own).
    pub block_devices: Vec<BlockDevice>,
    /// Private IP of a running repo host, or `#None` (passed to the init script as is).
    pub repo_ip: String,
    /// The new image's tags, in the original's order.
    pub tags: Vec<(String, String)>,
    /// The init command run on the instance.
    pub init_command: String,
}

/// Why a bake did not produce an image.
#[derive(Debug, thiserror::Error)]
pub enum BakeError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Remote(#[from] RemoteError),
    #[error("interrupted")]
    Interrupted,
    /// Something about the account's state (no bakery environment, no phase-1 image, ...).
    #[error("{0}")]
    State(String),
}

/// A failed bake: the cause, and what cleaning up could not undo.
#[derive(Debug, thiserror::Error)]
#[error("{error}{}", leftovers_text(.leftovers))]
pub struct BakeFailed {
    pub error: BakeError,
    /// The bake instance, when it was left running (`--no-destroy`, or terminating failed).
    pub instance_left: Option<String>,
    /// Resources cleanup could not delete, as messages.
    pub leftovers: Vec<String>,
}

fn leftovers_text(l: &[String]) -> String {
    if l.is_empty() {
        String::new()
    } else {
        format!("\nleft behind: {}", l.join("; "))
    }
}

/// How a bake ended well.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum BakeOutcome {
    /// The image is available; the bake instance is terminated.
    Created {
        image_id: String,
        image_name: String,
        source_ami: String,
    },
    /// `--no-destroy`: the init script ran; the instance is left running.
    LeftRunning {
        instance_id: String,
        address: String,
    },
}

impl BakeOutcome {
    /// The new image's id, or the instance left running and its address (tab-separated).
    pub fn line(&self) -> String {
        match self {
            BakeOutcome::Created { image_id, .. } => image_id.clone(),
            BakeOutcome::LeftRunning {
                instance_id,
                address,
            } => format!("{instance_id}\t{address}"),
        }
    }
}

/// A future that resolves on Ctrl-C (SIGINT) or SIGTERM, to cancel [`execute`]. The
/// handlers are installed when this is called, not when the future is first polled: a
/// signal that arrives while the bake instance is being launched (before the bake waits on
/// the future) is kept, and the bake then cleans up, instead of the default action killing
/// asiaq with the instance left running. Must be called inside the runtime.
pub fn interrupted() -> impl Future<Output = ()> {
    use tokio::signal::unix::{signal, Signal, SignalKind};
    async fn received(s: Option<Signal>) {
        match s {
            Some(mut s) => {
                s.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    }
    let term = received(signal(SignalKind::terminate()).ok());
    let int = received(signal(SignalKind::interrupt()).ok());
    async move {
        tokio::select! {
            () = term => {}
            () = int => {}
        }
    }
}

impl BakeFailed {
    /// The failed bake of image `image_name` as the command reports it: failed (exit 1),
    /// with what to do about an instance left running.
    pub fn refusal(&self, image_name: &str) -> asiaq_core::printout::Refusal {
        let r = asiaq_core::printout::Refusal::failed(format!(
            "bake of \"{image_name}\" failed: {self}"
        ));
        match self.hint() {
            Some(h) => r.with_hint(h),
            None => r,
        }
    }

    /// What to do about an instance the failed bake left running.
    pub fn hint(&self) -> Option<String> {
        self.instance_left.as_ref().map(|i| {
            format!("instance {i} is still running; terminate it when done (asiaq aws terminate, or the EC2 console)")
        })
    }
}

/// A `--dry-run` bake: what it would do, as JSON (the whole of both) or as [`Plan::lines`].
#[derive(Debug, Clone, Serialize)]
pub struct Plan<'a> {
    pub dry_run: bool,
    pub settings: &'a BakeSettings,
    pub prepared: &'a Prepared,
}

impl Plan<'_> {
    /// The plan in words: image, source, instance, storage, copies, command, tags.
    pub fn lines(&self) -> Vec<String> {
        let (s, p) = (self.settings, self.prepared);
        let mut out = vec![
            format!(
                "would bake image \"{}\" (phase {})",
                s.image_name, s.identity.phase
            ),
            format!("  from:        {}", p.source_ami),
            format!(
                "  instance:    {} with key {}{} in {} (tunnel, one of {}), security group {}",
                s.instance_type,
                s.key_name,
                s.instance_profile
                    .as_deref()
                    .map(|p| format!(", profile {p}"))
                    .unwrap_or_default(),
                s.environment,
                p.subnet_ids.join(" "),
                p.security_group_id
            ),
        ];
        if !p.block_devices.is_empty() {
            let devices: Vec<String> = p
                .block_devices
                .iter()
                .map(|d| match (&d.ebs, &d.virtual_name) {
                    (Some(e), _) => format!(
                        "{} {}{}",
                        d.device_name,
                        e.size_gb
                            .map(|g| format!("{g} GB"))
                            .unwrap_or_else(|| "image size".into()),
                        e.iops.map(|i| format!(" io1 {i} iops")).unwrap_or_default()
                    ),
                    (None, Some(v)) => format!("{} {v}", d.device_name),
                    (None, None) => d.device_name.clone(),
                })
                .collect();
            out.push(format!("  storage:     {}", devices.join(", ")));
        }
        out.push(format!(
            "  copy:        {} -> {}",
            s.config_source.display(),
            s.destination
        ));
        out.push(format!(
            "               {} -> {}/asiaq",
            s.asiaq_source.display(),
            s.destination
        ));
        out.push(format!("  run:         {}", p.init_command));
        let tags: Vec<String> = p.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push(format!("  image tags:  {}", tags.join(", ")));
        if s.no_destroy {
            out.push("  then stop (--no-destroy): the instance is left running".to_string());
        }
        out
    }
}

/// Reads what the bake needs: the bakery environment's tunnel metanetwork, the source
/// image, the repo host; computes the image tags. Creates nothing.
pub async fn prepare(ctx: &AwsContext, s: &BakeSettings) -> Result<Prepared, BakeError> {
    let environment = async {
        let env = find_environment(ctx, &s.environment).await?.ok_or_else(|| {
            BakeError::State(format!(
                "the bakery environment {:?} ([bake] bakery_environment) does not exist; create it with `asiaq vpc create --name {} --type TYPE`",
                s.environment, s.environment
            ))
        })?;
        let tunnel = env.metanetwork(MetaNetworkName::Tunnel).ok_or_else(|| {
            BakeError::State(format!(
                "the bakery environment {} has no tunnel metanetwork (bakes run in it)",
                s.environment
            ))
        })?;
        if tunnel.subnets.is_empty() {
            return Err(BakeError::State(format!(
                "the tunnel metanetwork of {} has no subnets",
                s.environment
            )));
        }
        let repo_ip = match &s.repo_hostclass {
            Some(hc) => repo_instance(ctx, &env.vpc_id, hc)
                .await?
                .and_then(|r| r.private_ip),
            None => None,
        };
        Ok::<_, BakeError>((
            env.vpc_id.clone(),
            tunnel.security_group_id.clone(),
            tunnel
                .subnets
                .iter()
                .map(|s| s.id.clone())
                .collect::<Vec<_>>(),
            repo_ip,
        ))
    };
    // The source image, and its root device (name, maps /dev/sda) when it was described.
    let source = async {
        let given = match &s.identity.source {
            BakeSource::Given { ami } => ami.clone(),
            BakeSource::Upstream { section } => s
                .upstream_ami
                .clone()
                .ok_or_else(|| BakeError::State(format!("no bake_ami for [{section}]")))?,
            BakeSource::LatestPhase1 { name } => {
                let amis = images::describe_images(
                    ctx,
                    &ImageQuery::visible(&s.trusted_accounts).named(format!("{name} *")),
                )
                .await?;
                return find_ami(&amis, std::slice::from_ref(&s.final_stage), Some(name.as_str()), false)
                    .map(|a| (a.id.clone(), Some((a.root_device_name.clone(), a.maps_sda))))
                    .ok_or_else(|| {
                        BakeError::State(format!(
                            "no {} image named \"{name} *\" to bake from (bake and promote a phase-1 image first, or pass --source-ami)",
                            s.final_stage
                        ))
                    });
            }
        };
        // A given image is described only when the mapping names its root device.
        if !s.storage.needs_root_device() {
            return Ok((given, None));
        }
        let image = images::get_image(ctx, &given, &[]).await?.ok_or_else(|| {
            BakeError::State(format!(
                "the source image {given} does not exist (or is not visible to this account)"
            ))
        })?;
        Ok((given, Some((image.root_device_name, image.maps_sda))))
    };
    let ((vpc_id, security_group_id, subnet_ids, repo_ip), (source_ami, root)) =
        futures::try_join!(environment, source)?;
    let (root_device, maps_sda) = root.unwrap_or((None, false));
    let (block_devices, unknown_types) = bake_block_device_mappings(
        &s.storage,
        root_device.as_deref(),
        maps_sda,
        &s.instance_type,
    )
    .map_err(|e| BakeError::State(e.to_string()))?;
    if !unknown_types.is_empty() {
        note(format!(
            "bake: instance-store disks of {} unknown; none mapped",
            unknown_types.join(", ")
        ));
    }
    let tags = bake_tags(&BakeTagInputs {
        hostclass: &s.identity.init_hostclass,
        stage: &s.stage,
        source_ami: &source_ami,
        baker: &s.baker,
        version: &s.version,
        is_private: s.is_private,
        product_line: s.product_line.as_deref(),
        extra: &s.extra_tags,
    });
    let repo_ip = repo_ip.unwrap_or_else(|| "#None".to_string());
    let script = format!(
        "{}/init/phase{}.sh",
        s.destination.trim_end_matches('/'),
        s.identity.phase
    );
    let init_command = shell_command(&[&script, &s.identity.init_hostclass, &repo_ip, &s.bake_id]);
    Ok(Prepared {
        vpc_id,
        security_group_id,
        subnet_ids,
        source_ami,
        block_devices,
        repo_ip,
        tags,
        init_command,
    })
}

/// A running instance of the repo hostclass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepoInstance {
    pub instance_id: String,
    pub private_ip: Option<String>,
    pub public_ip: Option<String>,
}

/// `listrepo`: the repo host's public IP (`-` without one); when none runs, nothing on
/// stdout and a note saying so. JSON: the instance, or null.
pub fn repo_printout(repo: Option<&RepoInstance>, env: &str, hostclass: &str) -> Printout {
    match repo {
        Some(r) => Printout::new(&r, vec![r.public_ip.as_deref().unwrap_or("-").to_string()]),
        None => Printout::new(&repo, Vec::new())
            .with_notes(vec![format!("no running {hostclass} in {env}")]),
    }
}

/// The first running instance tagged `hostclass=<hostclass>` in VPC `vpc_id` (by instance
/// id, so the answer is stable).
pub async fn repo_instance(
    ctx: &AwsContext,
    vpc_id: &str,
    hostclass: &str,
) -> Result<Option<RepoInstance>, AwsError> {
    let mut pages = ctx
        .ec2()
        .describe_instances()
        .filters(filter("vpc-id", &[vpc_id]))
        .filters(filter("tag:hostclass", &[hostclass]))
        .filters(filter("instance-state-name", &["running"]))
        .into_paginator()
        .send();
    let mut found = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::call("ec2", "DescribeInstances", e))?;
        for r in page.reservations() {
            for i in r.instances() {
                found.push(RepoInstance {
                    instance_id: i.instance_id().unwrap_or_default().to_string(),
                    private_ip: i.private_ip_address().map(str::to_string),
                    public_ip: i.public_ip_address().map(str::to_string),
                });
            }
        }
    }
    found.sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
    Ok(found.into_iter().next())
}

/// `listrepo`: the repo host ([`repo_instance`]) of the bakery environment `env`, which
/// must exist.
pub async fn repo_host(
    ctx: &AwsContext,
    env: &str,
    hostclass: &str,
) -> Result<Option<RepoInstance>, AwsError> {
    let Some(found) = find_environment(ctx, env).await? else {
        return Err(AwsError::State(format!(
            "the bakery environment {env} does not exist"
        )));
    };
    repo_instance(ctx, &found.vpc_id, hostclass).await
}

/// What cleanup must know about, recorded as the steps go (also when they are cancelled).
#[derive(Debug, Default)]
struct Progress {
    /// CreateImage was sent (its answer may not have arrived).
    image_requested: bool,
    image_id: Option<String>,
}

/// Runs the bake. `cancel` resolves on an interrupt (Ctrl-C, SIGTERM): the bake stops where
/// it is and cleans up as after a failure.
pub async fn execute(
    ctx: &AwsContext,
    s: &BakeSettings,
    p: &Prepared,
    remote: &Remote,
    cancel: impl Future<Output = ()>,
) -> Result<BakeOutcome, BakeFailed> {
    note(format!(
        "bake {}: launching a {} instance from {} in {} (tunnel)",
        s.image_name, s.instance_type, p.source_ami, s.environment
    ));
    // The launch itself is not cancelled: its answer names the instance to clean up.
    let instance_id = launch(ctx, s, p).await.map_err(|e| BakeFailed {
        error: e.into(),
        instance_left: None,
        leftovers: Vec::new(),
    })?;
    note(format!(
        "bake {}: instance {instance_id} launched",
        s.image_name
    ));
    let progress = Mutex::new(Progress::default());
    let result = tokio::select! {
        r = steps(ctx, s, p, remote, &instance_id, &progress) => r,
        () = cancel => Err(BakeError::Interrupted),
    };
    let progress = progress.into_inner().unwrap_or_else(|e| e.into_inner());
    let plan = cleanup_plan(&BakeRecord {
        image_name: s.image_name.clone(),
        instance_id: instance_id.clone(),
        image_requested: progress.image_requested,
        image_id: progress.image_id,
        failed: result.is_err(),
        no_destroy: s.no_destroy,
    });
    if !s.no_destroy {
        note(format!(
            "bake {}: terminating instance {instance_id}",
            s.image_name
        ));
    }
    let Cleaned {
        mut instance_left,
        leftovers,
    } = clean_up(ctx, s, &instance_id, &plan).await;
    if s.no_destroy {
        instance_left = Some(instance_id.clone());
        if let Err(e) = &result {
            note(format!(
                "bake {}: failed ({e}); --no-destroy: instance {instance_id} is left running for debugging",
                s.image_name
            ));
        }
    }
    match result {
        Ok(outcome) if leftovers.is_empty() => Ok(outcome),
        Ok(BakeOutcome::Created { image_id, .. }) => Err(BakeFailed {
            error: BakeError::State(format!(
                "image {image_id} was made, but cleaning up after the bake failed"
            )),
            instance_left,
            leftovers,
        }),
        Ok(other) => Ok(other),
        Err(error) => Err(BakeFailed {
            error,
            instance_left,
            leftovers,
        }),
    }
}

async fn launch(ctx: &AwsContext, s: &BakeSettings, p: &Prepared) -> Result<String, AwsError> {
    let subnet = p
        .subnet_ids
        .choose(&mut rand::thread_rng())
        .cloned()
        .unwrap_or_default();
    let tags = [
        (
            "hostclass".to_string(),
            format!("bake_{}", s.identity.init_hostclass),
        ),
        (OWNER_TAG.to_string(), s.bake_id.clone()),
    ];
    let mut req = ctx
        .ec2()
        .run_instances()
        .image_id(&p.source_ami)
        .instance_type(InstanceType::from(s.instance_type.as_str()))
        .key_name(&s.key_name)
        .min_count(1)
        .max_count(1)
        .network_interfaces(
            InstanceNetworkInterfaceSpecification::builder()
                .device_index(0)
                .subnet_id(subnet)
                .groups(&p.security_group_id)
                .associate_public_ip_address(true)
                .build(),
        )
        .tag_specifications(ec2_tag_spec(ResourceType::Instance, &tags));
    if !p.block_devices.is_empty() {
        req = req.set_block_device_mappings(Some(
            p.block_devices.iter().map(block_device_mapping).collect(),
        ));
    }
    if let Some(profile) = &s.instance_profile {
        req = req.iam_instance_profile(
            IamInstanceProfileSpecification::builder()
                .name(profile)
                .build(),
        );
    }
    let out = resend_while_throttled("the bake instance", || {
        let req = req.clone();
        async move {
            req.send()
                .await
                .map_err(|e| AwsError::call("ec2", "RunInstances", e))
        }
    })
    .await?;
    out.instances()
        .first()
        .and_then(|i| i.instance_id())
        .map(str::to_string)
        .ok_or(AwsError::MissingField {
            service: "ec2",
            operation: "RunInstances",
            field: "InstanceId",
        })
}

/// The SDK form of one device of [`Prepared::block_devices`].
fn block_device_mapping(d: &BlockDevice) -> BlockDeviceMapping {
    let mut b = BlockDeviceMapping::builder().device_name(&d.device_name);
    if let Some(v) = &d.virtual_name {
        b = b.virtual_name(v);
    }
    if let Some(e) = &d.ebs {
        b = b.ebs(
            EbsBlockDevice::builder()
                .set_volume_size(e.size_gb.map(|s| s as i32))
                .set_snapshot_id(e.snapshot_id.clone())
                .set_volume_type(e.volume_type.as_deref().map(VolumeType::from))
                .set_iops(e.iops.map(|i| i as i32))
                .delete_on_termination(e.delete_on_termination)
                .set_encrypted(e.encrypted)
                .build(),
        );
    }
    b.build()
}

/// The steps after the launch; everything they create is recorded in `progress`.
async fn steps(
    ctx: &AwsContext,
    s: &BakeSettings,
    p: &Prepared,
    remote: &Remote,
    instance_id: &str,
    progress: &Mutex<Progress>,
) -> Result<BakeOutcome, BakeError> {
    let name = &s.image_name;
    let address = wait_running(ctx, instance_id, s.use_local_ip).await?;
    note(format!(
        "bake {name}: {instance_id} is running at {address}"
    ));

    let user = wait_ssh(remote, &address, &s.login_users).await?;
    if user != "root" {
        note(format!(
            "bake {name}: logged in as {user}; moving its authorized keys to root"
        ));
        enable_root_ssh(remote, &address, &user).await;
        wait_ssh(remote, &address, &["root".to_string()]).await?;
    }

    let dest = s.destination.trim_end_matches('/').to_string();
    let asiaq_dest = format!("{dest}/asiaq");
    note(format!(
        "bake {name}: copying the configuration to {address}:{dest}"
    ));
    remote
        .ssh_ok(
            "creating the data directory",
            "root",
            &address,
            &shell_command(&["mkdir", "-p", &asiaq_dest]),
            false,
            None,
        )
        .await?;
    remote
        .rsync(&path_text(&s.config_source), "root", &address, &dest)
        .await?;
    remote
        .rsync(&path_text(&s.asiaq_source), "root", &address, &asiaq_dest)
        .await?;
    if let Some(binary) = &s.asiaq_binary {
        let bin = format!("{asiaq_dest}/bin");
        let part = format!("{bin}/.asiaq.part");
        let command = format!(
            "mkdir -p {b} && cat > {p} && chmod 0755 {p} && mv -f {p} {f}",
            b = shell_command(&[&bin]),
            p = shell_command(&[&part]),
            f = shell_command(&[&format!("{bin}/asiaq")]),
        );
        note(format!("bake {name}: installing asiaq as {bin}/asiaq"));
        remote
            .ssh_ok(
                "installing asiaq",
                "root",
                &address,
                &command,
                false,
                Some(binary),
            )
            .await?;
    }

    note(format!("bake {name}: running {}", p.init_command));
    remote
        .ssh_ok(
            &format!("init/phase{}.sh", s.identity.phase),
            "root",
            &address,
            &p.init_command,
            true,
            None,
        )
        .await?;

    if s.no_destroy {
        note(format!(
            "bake {name}: --no-destroy: stopping here; instance {instance_id} is left running (ssh -o UserKnownHostsFile=/dev/null root@{address})"
        ));
        return Ok(BakeOutcome::LeftRunning {
            instance_id: instance_id.to_string(),
            address,
        });
    }

    note(format!(
        "bake {name}: removing root's authorized keys and shutting down"
    ));
    // The connection drops as the host goes down: the exit status means nothing.
    let _ = remote
        .ssh(
            "root",
            &address,
            "rm -Rf /root/.ssh/authorized_keys ; shutdown now -h",
            false,
            false,
            None,
        )
        .await;
    // Also ask EC2 (a no-op once the guest has halted), so a guest that does not power off
    // by itself does not hold the bake up.
    resend_while_throttled(&format!("stopping {instance_id}"), || async {
        ctx.ec2()
            .stop_instances()
            .instance_ids(instance_id)
            .send()
            .await
            .map_err(|e| AwsError::call("ec2", "StopInstances", e))
    })
    .await?;
    wait_stopped(ctx, instance_id).await?;

    if s.enhanced_networking {
        note(format!(
            "bake {name}: enabling enhanced networking (sriovNetSupport=simple)"
        ));
        ctx.ec2()
            .modify_instance_attribute()
            .instance_id(instance_id)
            .sriov_net_support(AttributeValue::builder().value("simple").build())
            .send()
            .await
            .map_err(|e| AwsError::call("ec2", "ModifyInstanceAttribute", e))?;
    }

    note(format!("bake {name}: creating the image"));
    lock(progress).image_requested = true;
    let out = resend_while_throttled(&format!("the image {name}"), || async {
        ctx.ec2()
            .create_image()
            .instance_id(instance_id)
            .name(name)
            .no_reboot(true)
            .tag_specifications(ec2_tag_spec(ResourceType::Image, &p.tags))
            .send()
            .await
            .map_err(|e| AwsError::call("ec2", "CreateImage", e))
    })
    .await?;
    let image_id = out
        .image_id()
        .map(str::to_string)
        .ok_or(AwsError::MissingField {
            service: "ec2",
            operation: "CreateImage",
            field: "ImageId",
        })?;
    lock(progress).image_id = Some(image_id.clone());
    note(format!("bake {name}: waiting for image {image_id}"));
    images::wait_available(ctx, &image_id, s.available_timeout).await?;
    note(format!("bake {name}: image {image_id} is available"));
    Ok(BakeOutcome::Created {
        image_id,
        image_name: name.clone(),
        source_ami: p.source_ami.clone(),
    })
}

fn lock(m: &Mutex<Progress>) -> std::sync::MutexGuard<'_, Progress> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn path_text(p: &std::path::Path) -> String {
    p.to_string_lossy().into_owned()
}

async fn instance_state(
    ctx: &AwsContext,
    instance_id: &str,
) -> Result<Option<aws_sdk_ec2::types::Instance>, AwsError> {
    match ctx
        .ec2()
        .describe_instances()
        .instance_ids(instance_id)
        .send()
        .await
        .map_err(|e| AwsError::call("ec2", "DescribeInstances", e))
    {
        Ok(out) => Ok(out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .next()
            .cloned()),
        // Eventual consistency right after the launch.
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Waits for `running`; returns the address to ssh to.
async fn wait_running(ctx: &AwsContext, id: &str, use_local_ip: bool) -> Result<String, AwsError> {
    let backoff = Backoff::new(
        Duration::from_secs(2),
        Duration::from_secs(15),
        Duration::from_secs(600),
    );
    wait_for(&format!("instance {id} to run"), backoff, || async {
        let Some(i) = instance_state(ctx, id).await? else {
            return Ok(Poll::Pending("not visible yet".into()));
        };
        let state = i.state().and_then(|s| s.name()).cloned();
        match state {
            Some(InstanceStateName::Running) => {
                let address = if use_local_ip {
                    i.private_ip_address()
                } else {
                    i.public_ip_address()
                };
                match address {
                    Some(a) => Ok(Poll::Ready(a.to_string())),
                    None => Err(AwsError::State(format!(
                        "instance {id} has no {} IP address to ssh to{}",
                        if use_local_ip { "private" } else { "public" },
                        if use_local_ip {
                            ""
                        } else {
                            " (bake from inside the VPC with --use-local-ip)"
                        }
                    ))),
                }
            }
            Some(InstanceStateName::Pending) | None => Ok(Poll::Pending(
                state.map(|s| s.as_str().to_string()).unwrap_or_default(),
            )),
            Some(other) => Err(AwsError::State(format!(
                "instance {id} is {} instead of running",
                other.as_str()
            ))),
        }
    })
    .await
}

async fn wait_stopped(ctx: &AwsContext, id: &str) -> Result<(), AwsError> {
    let backoff = Backoff::new(
        Duration::from_secs(3),
        Duration::from_secs(15),
        Duration::from_secs(300),
    );
    wait_for(&format!("instance {id} to stop"), backoff, || async {
        let state = instance_state(ctx, id)
            .await?
            .and_then(|i| i.state().and_then(|s| s.name()).cloned());
        match state {
            Some(InstanceStateName::Stopped) => Ok(Poll::Ready(())),
            Some(InstanceStateName::Terminated) | Some(InstanceStateName::ShuttingDown) => {
                Err(AwsError::State(format!(
                    "instance {id} is terminating instead of stopping (its shutdown behaviour must be \"stop\")"
                )))
            }
            other => Ok(Poll::Pending(
                other.map(|s| s.as_str().to_string()).unwrap_or_default(),
            )),
        }
    })
    .await
}

/// Waits until one of `users` can run `true` over ssh on `address`; returns that user.
async fn wait_ssh(remote: &Remote, address: &str, users: &[String]) -> Result<String, BakeError> {
    let backoff = Backoff::new(
        Duration::from_secs(3),
        Duration::from_secs(15),
        Duration::from_secs(900),
    );
    let what = format!("ssh to {address} (as {})", users.join(", "));
    let fatal: Mutex<Option<RemoteError>> = Mutex::new(None);
    let outcome = wait_for(&what, backoff, || {
        let fatal = &fatal;
        async move {
            let mut last = String::from("no answer");
            for user in users {
                match remote.ssh(user, address, "true", false, false, None).await {
                    Ok(done) if done.success() => return Ok(Poll::Ready(user.clone())),
                    Ok(done) => {
                        last = format!(
                            "{user}: {}",
                            done.tail.last().map(String::as_str).unwrap_or("refused")
                        );
                    }
                    Err(e) => {
                        let text = e.to_string();
                        *fatal.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                        return Err(AwsError::State(text));
                    }
                }
            }
            Ok(Poll::Pending(last))
        }
    })
    .await;
    match outcome {
        Ok(user) => Ok(user),
        Err(e) => match fatal.into_inner().unwrap_or_else(|p| p.into_inner()) {
            Some(remote_error) => Err(remote_error.into()),
            None => Err(e.into()),
        },
    }
}

/// The original's `_enable_root_ssh`: moves the login user's authorized keys to root (for
/// `ec2-user`, also uncomments `PermitRootLogin` and restarts sshd). Failures are ignored,
/// as in the original: the wait for root's login that follows says whether it worked.
async fn enable_root_ssh(remote: &Remote, address: &str, user: &str) {
    if user == "ec2-user" {
        let _ = remote
            .ssh(
                user,
                address,
                "sudo sed -i 's/#PermitRootLogin/PermitRootLogin/' /etc/ssh/sshd_config; sudo service sshd restart",
                false,
                true,
                None,
            )
            .await;
    }
    let home = format!("/home/{user}/.ssh/authorized_keys");
    let command = format!(
        "sudo mkdir -p /root/.ssh; sudo mv {} /root/.ssh/authorized_keys; sudo chown root:root /root/.ssh/authorized_keys",
        shell_command(&[&home])
    );
    let _ = remote.ssh(user, address, &command, false, true, None).await;
}

/// What the cleanup after a bake could not do.
#[derive(Debug, Default)]
struct Cleaned {
    /// The bake instance, when terminating it failed.
    instance_left: Option<String>,
    /// What is left behind, as messages, in the order of the plan's steps.
    leftovers: Vec<String>,
}

/// Runs the cleanup `plan` ([`cleanup_plan`]) through the engine. Its steps do not depend on
/// each other and all start at once (the engine starts no new step after a failure, so
/// every step is tried only because none waits); deletes of what is already gone are done,
/// so the cleanup can be run again.
async fn clean_up(
    ctx: &AwsContext,
    s: &BakeSettings,
    instance_id: &str,
    plan: &asiaq_core::plan::Plan<BakeCleanupAction>,
) -> Cleaned {
    if plan.is_empty() {
        return Cleaned::default();
    }
    let steps = CleanupSteps {
        ctx,
        image_name: &s.image_name,
        instance_id,
        left: Mutex::new(Vec::new()),
        retried: Mutex::new(BTreeSet::new()),
    };
    let options = ExecOptions {
        max_in_flight: plan.len(),
        retry: crate::vpc::execute::retry_policy(),
        title: format!("clean up after bake {}", s.image_name),
    };
    let reporter = report::current();
    let completed = match asiaq_engine::execute(&steps, plan, &options, reporter.as_ref()).await {
        Ok(done) => done.completed,
        Err(failure) => failure.completed,
    };
    let mut left = steps.left.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut cleaned = Cleaned::default();
    for step in &plan.steps {
        let step_left = match left.iter().position(|(a, _)| *a == step.action) {
            Some(i) => left.swap_remove(i).1,
            None => StepLeft::default(),
        };
        cleaned.leftovers.extend(step_left.snapshots);
        if completed.contains(&step.id) {
            continue;
        }
        if step_left.failure.is_empty() {
            cleaned
                .leftovers
                .push(format!("{} did not finish", step.action));
        }
        cleaned.leftovers.extend(step_left.failure);
        if let BakeCleanupAction::TerminateInstance { instance_id } = &step.action {
            cleaned.instance_left = Some(instance_id.clone());
        }
    }
    cleaned
}

/// What one cleanup step left behind, as messages.
#[derive(Debug, Default)]
struct StepLeft {
    /// Why its last try failed (ignored once the step is done).
    failure: Vec<String>,
    /// Snapshots of deleted images that could not be deleted.
    snapshots: Vec<String>,
}

/// The calls of the cleanup after a bake.
struct CleanupSteps<'a> {
    ctx: &'a AwsContext,
    image_name: &'a str,
    instance_id: &'a str,
    /// Per step (by action): what it could not do.
    left: Mutex<Vec<(BakeCleanupAction, StepLeft)>>,
    /// Instances whose TerminateInstances had its one retry.
    retried: Mutex<BTreeSet<String>>,
}

impl CleanupSteps<'_> {
    fn record(&self, action: &BakeCleanupAction, f: impl FnOnce(&mut StepLeft)) {
        let mut left = self.left.lock().unwrap_or_else(|e| e.into_inner());
        let i = match left.iter().position(|(a, _)| a == action) {
            Some(i) => i,
            None => {
                left.push((action.clone(), StepLeft::default()));
                left.len() - 1
            }
        };
        f(&mut left[i].1);
    }

    fn failed(&self, action: &BakeCleanupAction, messages: Vec<String>) {
        self.record(action, |l| l.failure = messages);
    }

    /// The image lookup failed: what to tell.
    fn lookup_failed(
        &self,
        action: &BakeCleanupAction,
        image_id: Option<&str>,
        e: AwsError,
    ) -> AwsError {
        self.failed(
            action,
            vec![format!(
                "the image of this bake ({}) could not be looked up: {e}; check for \"{}\" with `asiaq bake listamis`",
                image_id.unwrap_or("id unknown"),
                self.image_name
            )],
        );
        e
    }

    /// Deletes `amis` (deregistration, then snapshots), every one tried; the first error.
    async fn delete_images(
        &self,
        action: &BakeCleanupAction,
        amis: Vec<AmiInfo>,
    ) -> Result<(), AwsError> {
        let mut first = None;
        let mut failures = Vec::new();
        for ami in amis {
            note(format!(
                "bake {}: deleting image {} made from {}",
                self.image_name, ami.id, self.instance_id
            ));
            match images::delete_image(self.ctx, &ami).await {
                Ok(report) => {
                    self.record(action, |l| {
                        l.snapshots.extend(report.failed_snapshots.into_iter().map(
                            |(snap, why)| format!("snapshot {snap} of image {} ({why})", ami.id),
                        ))
                    })
                }
                Err(e) => {
                    failures.push(format!(
                        "image {} could not be deleted ({e}); delete it with `asiaq bake deleteami --ami {}`",
                        ami.id, ami.id
                    ));
                    first.get_or_insert(e);
                }
            }
        }
        self.failed(action, failures);
        first.map_or(Ok(()), Err)
    }
}

impl Apply<BakeCleanupAction> for CleanupSteps<'_> {
    type Error = AwsError;

    async fn apply(&self, action: &BakeCleanupAction) -> Result<Option<String>, AwsError> {
        let ctx = self.ctx;
        match action {
            BakeCleanupAction::DeleteImage { image_id } => {
                let own = vec!["self".to_string()];
                let found = images::get_image(ctx, image_id, &own)
                    .await
                    .map_err(|e| self.lookup_failed(action, Some(image_id), e))?;
                self.delete_images(action, found.into_iter().collect())
                    .await?;
            }
            BakeCleanupAction::DeleteImagesNamed { name } => {
                let found =
                    images::describe_images(ctx, &ImageQuery::visible(&[]).named(name.clone()))
                        .await
                        .map_err(|e| self.lookup_failed(action, None, e))?;
                self.delete_images(action, found).await?;
            }
            BakeCleanupAction::TerminateInstance { instance_id } => {
                ctx.ec2()
                    .terminate_instances()
                    .instance_ids(instance_id)
                    .send()
                    .await
                    .map_err(|e| {
                        let e = AwsError::call("ec2", "TerminateInstances", e);
                        self.failed(
                            action,
                            vec![format!(
                                "instance {instance_id} could not be terminated ({e}); terminate it by hand"
                            )],
                        );
                        e
                    })?;
            }
        }
        Ok(None)
    }

    fn unresolved(&self, action: &BakeCleanupAction, key: &str) -> AwsError {
        AwsError::State(format!("{action}: nothing created {key}"))
    }

    /// The engine's, except that a TerminateInstances that fails for good (an injected
    /// fault included) is sent once more after a pause: the instance must not be left.
    fn disposition(&self, action: &BakeCleanupAction, error: &AwsError) -> Disposition {
        let disposition = default_disposition(action, error);
        match action {
            BakeCleanupAction::TerminateInstance { instance_id }
                if disposition == Disposition::Fail =>
            {
                let first = self
                    .retried
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(instance_id.clone());
                if first {
                    note(format!(
                        "terminating {instance_id} failed ({error}); retrying"
                    ));
                    Disposition::Retry
                } else {
                    Disposition::Fail
                }
            }
            _ => disposition,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use asiaq_core::ami::BakeIdentity;
    use asiaq_core::storage::{EbsVolume, StorageOptions};
    use std::path::PathBuf;

    #[test]
    fn repo_host_ip_or_a_note() {
        let r = RepoInstance {
            instance_id: "i-1".into(),
            private_ip: Some("10.0.0.1".into()),
            public_ip: None,
        };
        let p = repo_printout(Some(&r), "build", "mhcrepo");
        assert_eq!(p.lines, ["-"]);
        assert!(p.notes.is_empty());
        assert_eq!(p.json["instance_id"], "i-1");
        let p = repo_printout(None, "build", "mhcrepo");
        assert!(p.lines.is_empty());
        assert_eq!(p.notes, ["no running mhcrepo in build"]);
        assert_eq!(p.json, serde_json::Value::Null);
    }

    #[test]
    fn a_failed_bake_names_its_image_and_the_instance_left() {
        let failed = BakeFailed {
            error: BakeError::State("no tunnel".into()),
            instance_left: Some("i-1".into()),
            leftovers: Vec::new(),
        };
        let r = failed.refusal("mhcweb 1");
        assert!(!r.usage);
        assert_eq!(r.message, "bake of \"mhcweb 1\" failed: no tunnel");
        assert_eq!(r.hint, failed.hint());
        assert!(r.hint.unwrap().starts_with("instance i-1 is still running"));
        let clean = BakeFailed {
            instance_left: None,
            ..failed
        };
        assert_eq!(clean.refusal("x").hint, None);
    }

    fn settings(no_destroy: bool) -> BakeSettings {
        BakeSettings {
            identity: BakeIdentity {
                phase: 2,
                image_base: "mhcweb".into(),
                init_hostclass: "mhcweb".into(),
                source: BakeSource::LatestPhase1 {
                    name: "base".into(),
                },
            },
            upstream_ami: None,
            image_name: "mhcweb 100".into(),
            bake_id: "0".repeat(32),
            environment: "build".into(),
            instance_type: "m5.large".into(),
            storage: StorageOptions::default(),
            key_name: "bake".into(),
            instance_profile: Some("baker".into()),
            repo_hostclass: None,
            final_stage: "tested".into(),
            trusted_accounts: vec![],
            stage: "untested".into(),
            baker: "me".into(),
            version: "main-abc".into(),
            is_private: false,
            product_line: None,
            extra_tags: vec![],
            enhanced_networking: false,
            available_timeout: Duration::from_secs(600),
            use_local_ip: false,
            no_destroy,
            destination: "/opt/wgen".into(),
            config_source: PathBuf::from("cfg"),
            asiaq_source: PathBuf::from("cfg/asiaq"),
            asiaq_binary: None,
            login_users: vec!["root".into()],
        }
    }

    fn prepared(block_devices: Vec<BlockDevice>) -> Prepared {
        Prepared {
            vpc_id: "vpc-1".into(),
            security_group_id: "sg-1".into(),
            subnet_ids: vec!["subnet-1".into(), "subnet-2".into()],
            source_ami: "ami-1".into(),
            block_devices,
            repo_ip: "#None".into(),
            tags: vec![
                ("stage".into(), "untested".into()),
                ("baker".into(), "me".into()),
            ],
            init_command: "sudo init/phase2.sh".into(),
        }
    }

    #[test]
    fn plan_lines_describe_the_bake() {
        let s = settings(false);
        let p = prepared(vec![]);
        let plan = Plan {
            dry_run: true,
            settings: &s,
            prepared: &p,
        };
        assert_eq!(
            plan.lines(),
            vec![
                "would bake image \"mhcweb 100\" (phase 2)",
                "  from:        ami-1",
                "  instance:    m5.large with key bake, profile baker in build (tunnel, one of subnet-1 subnet-2), security group sg-1",
                "  copy:        cfg -> /opt/wgen",
                "               cfg/asiaq -> /opt/wgen/asiaq",
                "  run:         sudo init/phase2.sh",
                "  image tags:  stage=untested, baker=me",
            ]
        );
    }

    #[test]
    fn plan_lines_show_storage_and_no_destroy() {
        let s = settings(true);
        let ebs = |size_gb, iops| EbsVolume {
            size_gb,
            snapshot_id: None,
            volume_type: None,
            iops,
            delete_on_termination: true,
            encrypted: None,
        };
        let p = prepared(vec![
            BlockDevice {
                device_name: "/dev/sda1".into(),
                ebs: Some(ebs(None, None)),
                virtual_name: None,
            },
            BlockDevice {
                device_name: "/dev/sdb".into(),
                ebs: Some(ebs(Some(50), Some(300))),
                virtual_name: None,
            },
            BlockDevice {
                device_name: "/dev/sdc".into(),
                ebs: None,
                virtual_name: Some("ephemeral0".into()),
            },
        ]);
        let lines = Plan {
            dry_run: true,
            settings: &s,
            prepared: &p,
        }
        .lines();
        assert_eq!(
            lines[3],
            "  storage:     /dev/sda1 image size, /dev/sdb 50 GB io1 300 iops, /dev/sdc ephemeral0"
        );
        assert_eq!(
            lines.last().map(String::as_str),
            Some("  then stop (--no-destroy): the instance is left running")
        );
    }

    #[test]
    fn outcome_lines() {
        let created = BakeOutcome::Created {
            image_id: "ami-1".into(),
            image_name: "mhcweb 1".into(),
            source_ami: "ami-0".into(),
        };
        assert_eq!(created.line(), "ami-1");
        let left = BakeOutcome::LeftRunning {
            instance_id: "i-1".into(),
            address: "10.0.0.1".into(),
        };
        assert_eq!(left.line(), "i-1\t10.0.0.1");
    }

    #[test]
    fn failed_bake_hints_at_the_instance_left() {
        let failed = |instance_left: Option<&str>| BakeFailed {
            error: BakeError::Interrupted,
            instance_left: instance_left.map(str::to_string),
            leftovers: vec![],
        };
        assert_eq!(failed(None).hint(), None);
        assert!(failed(Some("i-1"))
            .hint()
            .is_some_and(|h| h.starts_with("instance i-1 is still running")));
    }
}
