//! Spinning up hostclasses (spec §4.7 `spinup`, `provision`), the part that decides: which
//! image each hostclass gets, what each is planned to be, and why a spinup cannot start.
//! The AWS layer observes (images, groups, snapshots), calls [`plan_spinup`], then applies.

use std::collections::{BTreeMap, BTreeSet};

use crate::ami::{find_ami, AmiInfo};
use crate::provision::{
    plan_hostclass, AmiFacts, EnvironmentFacts, ExistingGroup, GroupAction, HostclassObservation,
    HostclassPlan, HostclassSettings, PlanError, ProvisionRequest,
};

/// Why a spinup cannot start. Nothing has been changed when it is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpinupError {
    /// The configuration cannot be applied to the environment (exit 2).
    #[error("{0}")]
    Config(String),
    /// Something the plan needs does not exist, such as an image (exit 1).
    #[error("{0}")]
    Missing(String),
}

impl From<PlanError> for SpinupError {
    /// A missing image is missing; every other planning error is the configuration's.
    fn from(e: PlanError) -> Self {
        match e {
            PlanError::NoAmi { .. } => SpinupError::Missing(e.to_string()),
            other => SpinupError::Config(other.to_string()),
        }
    }
}

/// What to spin up: each hostclass's request with its settings, in pipeline order, and
/// where each was asked for (`file:line` of its pipeline row), for messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpinupRequests {
    pub requests: Vec<(ProvisionRequest, HostclassSettings)>,
    pub origins: BTreeMap<String, String>,
}

impl SpinupRequests {
    /// One request, asked for on the command line (`provision`).
    pub fn one(request: ProvisionRequest, settings: HostclassSettings) -> Self {
        SpinupRequests {
            requests: vec![(request, settings)],
            origins: BTreeMap::new(),
        }
    }

    /// The requests alone.
    pub fn provision_requests(&self) -> Vec<ProvisionRequest> {
        self.requests.iter().map(|(r, _)| r.clone()).collect()
    }

    /// The hostclasses, each once, sorted.
    pub fn hostclasses(&self) -> Vec<String> {
        self.requests
            .iter()
            .map(|(r, _)| r.hostclass.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    /// Each hostclass with whether its plan may need the instance type of its existing
    /// group (neither the request nor the hostclass names one).
    pub fn instance_type_needed(&self) -> Vec<(String, bool)> {
        self.requests
            .iter()
            .map(|(r, s)| {
                let needed = r.instance_type.is_none() && s.instance_type.is_none();
                (r.hostclass.clone(), needed)
            })
            .collect()
    }

    /// The note for hostclasses asking for Spotinst elastigroups, which asiaq gives
    /// autoscaling groups (`token_set`: whether `SPOTINST_TOKEN` is set).
    pub fn spotinst_note(&self, token_set: bool) -> Option<String> {
        let spot: Vec<&str> = self
            .requests
            .iter()
            .filter(|(r, s)| r.spotinst || s.spotinst)
            .map(|(r, _)| r.hostclass.as_str())
            .collect();
        (!spot.is_empty()).then(|| {
            format!(
                "note: Spotinst elastigroups are not supported; {} get autoscaling groups{}",
                spot.join(", "),
                if token_set {
                    ""
                } else {
                    " (as the original did without SPOTINST_TOKEN)"
                }
            )
        })
    }

    /// `message` about `hostclass`, preceded by its pipeline row when it has one.
    pub fn located(&self, hostclass: &str, message: &str) -> String {
        match self.origins.get(hostclass) {
            Some(origin) => format!("{origin}: {message}"),
            None => message.to_string(),
        }
    }
}

/// Chooses the image of each request among the candidates (spec §4.9 `find_ami`, private
/// images excluded): its explicit id, else the newest of its hostclass in the best of
/// `stages`. An image of another hostclass, or none, is an error naming the request.
pub fn choose_images(
    requests: &[ProvisionRequest],
    images: &[AmiInfo],
    stages: &[String],
) -> Result<BTreeMap<String, AmiInfo>, String> {
    let mut out = BTreeMap::new();
    let mut missing = Vec::new();
    for r in requests {
        let chosen = match &r.ami {
            Some(id) => images.iter().find(|i| &i.id == id),
            None => find_ami(images, stages, Some(&r.hostclass), false),
        };
        match chosen {
            Some(i) if i.hostclass() != r.hostclass => {
                return Err(format!(
                    "{}: image {} ({}) is of hostclass {}, not {}",
                    r.hostclass,
                    i.id,
                    i.name,
                    i.hostclass(),
                    r.hostclass
                ));
            }
            Some(i) => {
                out.insert(r.hostclass.clone(), i.clone());
            }
            None => missing.push(match &r.ami {
                Some(id) => format!("{} (image {id} not found)", r.hostclass),
                None => format!(
                    "{} (no image named \"{} <timestamp>\"{})",
                    r.hostclass,
                    r.hostclass,
                    if stages.is_empty() {
                        String::new()
                    } else {
                        format!(" in stage {}", stages.join(" or "))
                    }
                ),
            }),
        }
    }
    if !missing.is_empty() {
        return Err(format!("couldn't find an AMI for {}", missing.join(", ")));
    }
    Ok(out)
}

impl From<&AmiInfo> for AmiFacts {
    fn from(i: &AmiInfo) -> Self {
        AmiFacts {
            id: i.id.clone(),
            name: i.name.clone(),
            root_device_name: i.root_device_name.clone(),
            maps_sda: i.maps_sda,
        }
    }
}

/// What was observed for a spinup, for the whole pipeline at once.
#[derive(Debug, Clone, Default)]
pub struct SpinupObservation {
    /// Candidate images (explicit ids and `<hostclass> *` names).
    pub images: Vec<AmiInfo>,
    /// The existing group of each hostclass.
    pub existing: BTreeMap<String, ExistingGroup>,
    /// The latest snapshot (id, size GB) of each hostclass.
    pub snapshots: BTreeMap<String, (String, u32)>,
}

/// Plans every request: each hostclass's image chosen from the candidates in `stages`,
/// then its plan. Hostclasses in `spun_down` are planned as having no group (the dry run
/// of `spindownandup` plans the spinup as the real run meets it, after the spindown).
/// Every problem is reported, each naming its pipeline row: missing images first (exit 1),
/// then planning errors (exit 2 when any is the configuration's).
pub fn plan_spinup(
    requests: &SpinupRequests,
    facts: &EnvironmentFacts,
    observed: &SpinupObservation,
    stages: &[String],
    spun_down: &BTreeSet<String>,
    now: u64,
) -> Result<Vec<HostclassPlan>, SpinupError> {
    // Each hostclass's image, chosen alone so that a missing one names its pipeline row.
    let mut images = BTreeMap::new();
    let mut missing = Vec::new();
    for (r, _) in &requests.requests {
        match choose_images(std::slice::from_ref(r), &observed.images, stages) {
            Ok(found) => images.extend(found),
            Err(e) => missing.push(requests.located(&r.hostclass, &e)),
        }
    }
    if !missing.is_empty() {
        return Err(SpinupError::Missing(missing.join("\n")));
    }
    let mut plans = Vec::new();
    let mut errors = Vec::new();
    for (r, s) in &requests.requests {
        let hc = &r.hostclass;
        let observation = HostclassObservation {
            ami: images.get(hc).map(AmiFacts::from),
            existing: observed
                .existing
                .get(hc)
                .filter(|_| !spun_down.contains(hc))
                .cloned(),
            snapshot: observed.snapshots.get(hc).cloned(),
        };
        match plan_hostclass(r, s, facts, &observation, now) {
            Ok(p) => plans.push(p),
            Err(e) => errors.push(match SpinupError::from(e) {
                SpinupError::Config(m) => SpinupError::Config(requests.located(hc, &m)),
                SpinupError::Missing(m) => SpinupError::Missing(requests.located(hc, &m)),
            }),
        }
    }
    if errors.is_empty() {
        return Ok(plans);
    }
    let config = errors.iter().any(|e| matches!(e, SpinupError::Config(_)));
    let text = errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    Err(if config {
        SpinupError::Config(text)
    } else {
        SpinupError::Missing(text)
    })
}

/// The warnings of plans whose instance types the ephemeral-disk table does not know.
pub fn plan_warnings(plans: &[HostclassPlan]) -> Vec<String> {
    plans
        .iter()
        .filter(|p| !p.unknown_instance_types.is_empty())
        .map(|p| {
            format!(
                "{}: instance type(s) {} not in the ephemeral-disk table; no ephemeral disks mapped",
                p.hostclass,
                p.unknown_instance_types.join(", ")
            )
        })
        .collect()
}

/// A plan as the text of a dry run: what happens to the group, then its launch template,
/// volumes, schedules, load balancer, target group, floating interfaces and smoke test.
pub fn plan_lines(p: &HostclassPlan) -> Vec<String> {
    let opt = |v: Option<u32>| v.map_or("-".to_string(), |n| n.to_string());
    let what = match &p.action {
        GroupAction::Create { sizes } => format!(
            "create group {} (min {}, desired {}, max {})",
            p.group_name, sizes.min, sizes.desired, sizes.max
        ),
        GroupAction::Update { sizes, .. } => format!(
            "update group {} (min {}, desired {}, max {})",
            p.group_name,
            opt(sizes.min),
            opt(sizes.desired),
            opt(sizes.max)
        ),
    };
    let mut lines = vec![
        format!("sequence {} {}: {what}", p.sequence, p.hostclass),
        format!(
            "  launch template {}: {} ({}), {}, {} in {} subnet(s) of {}, public ip {}, key {}, profile {}",
            p.group_name,
            p.ami_id,
            p.ami_name,
            p.instance_type,
            if p.ebs_optimized { "EBS-optimized" } else { "not EBS-optimized" },
            p.subnet_ids.len(),
            p.meta_network,
            p.public_ip,
            p.key_name.as_deref().unwrap_or("none"),
            p.instance_profile.as_deref().unwrap_or("none"),
        ),
    ];
    for d in &p.block_devices {
        match (&d.ebs, &d.virtual_name) {
            (Some(e), _) => lines.push(format!(
                "  volume {}: {}{}{}{}",
                d.device_name,
                e.size_gb
                    .map_or("image size".to_string(), |s| format!("{s} GB")),
                e.snapshot_id
                    .as_deref()
                    .map_or(String::new(), |s| format!(" from {s}")),
                e.volume_type
                    .as_deref()
                    .map_or(String::new(), |t| format!(" {t}")),
                e.iops.map_or(String::new(), |i| format!(" {i} iops")),
            )),
            (None, Some(v)) => lines.push(format!("  volume {}: {v}", d.device_name)),
            (None, None) => {}
        }
    }
    for a in &p.scheduled_actions {
        lines.push(format!(
            "  schedule {}: min {}, desired {}, max {}",
            a.recurrence,
            opt(a.min),
            opt(a.desired),
            opt(a.max)
        ));
    }
    if let Some(e) = &p.elb {
        lines.push(format!(
            "  load balancer {} ({}), {}, listeners {}, health check {}{}",
            e.name,
            e.human_name,
            if e.internal {
                "internal"
            } else {
                "internet-facing"
            },
            e.listeners
                .iter()
                .map(|l| format!(
                    "{}:{}->{}:{}",
                    l.elb_protocol, l.elb_port, l.instance_protocol, l.instance_port
                ))
                .collect::<Vec<_>>()
                .join(" "),
            e.health_check_target,
            e.cname
                .as_deref()
                .map_or(String::new(), |c| format!(", CNAME {c}")),
        ));
    }
    if let Some(t) = &p.target_group {
        lines.push(format!(
            "  target group {} {}:{}",
            t.name, t.protocol, t.port
        ));
    }
    for (ip, subnet) in &p.floating_ips {
        lines.push(format!("  floating interface {ip} in {subnet}"));
    }
    if p.smoke_test {
        lines.push(format!(
            "  then wait for {} instance(s) to pass their smoke test",
            p.min_instances
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::{MetaNetworkFacts, SubnetFacts};
    use crate::syntax::{parse_size, MetaNetworkName};

    fn image(id: &str, name: &str, stage: &str) -> AmiInfo {
        AmiInfo {
            id: id.into(),
            name: name.into(),
            state: "available".into(),
            tags: BTreeMap::from([("stage".to_string(), stage.to_string())]),
            owner: "self".into(),
            snapshot_ids: vec![],
            creation_date: None,
            root_device_name: Some("/dev/sda1".into()),
            maps_sda: false,
        }
    }

    fn request(hc: &str, ami: Option<&str>) -> ProvisionRequest {
        ProvisionRequest {
            hostclass: hc.into(),
            sequence: 1,
            ami: ami.map(str::to_string),
            min_size: parse_size("1").unwrap(),
            smoke_test: true,
            ..Default::default()
        }
    }

    fn settings(hc: &str, net: MetaNetworkName) -> HostclassSettings {
        HostclassSettings {
            hostclass: hc.into(),
            meta_network: net,
            ip_addresses: vec![],
            ip_origin: None,
            eip: None,
            public_ip: false,
            ssh_key_name: None,
            instance_profile_name: None,
            enable_proxy: false,
            smoketest_termination: true,
            domain_name: None,
            product_line: "platform".into(),
            chaos: true,
            tags: vec![],
            spotinst: false,
            instance_type: None,
            elb: None,
            target_group: false,
            monitoring: Default::default(),
        }
    }

    fn facts() -> EnvironmentFacts {
        EnvironmentFacts {
            env: "demo".into(),
            environment_class: "development".into(),
            project_name: "example".into(),
            owner: "tester".into(),
            credential_buckets: vec![],
            zookeeper_hostclass: "mhczookeeper".into(),
            http_proxy_ip: None,
            logger_ip: None,
            logforwarder_ip: None,
            metanetworks: vec![MetaNetworkFacts {
                name: MetaNetworkName::Intranet,
                security_group_id: "sg-1".into(),
                subnets: vec![SubnetFacts {
                    id: "subnet-1".into(),
                    availability_zone: "us-west-2a".into(),
                    cidr: "10.0.0.0/24".parse().unwrap(),
                }],
            }],
        }
    }

    fn existing(name: &str) -> ExistingGroup {
        ExistingGroup {
            name: name.into(),
            launch_template_id: Some("lt-1".into()),
            launch_template_name: Some(name.into()),
            launch_configuration: None,
            instance_type: Some("t2.small".into()),
            load_balancers: vec![],
            target_group_arns: vec![],
        }
    }

    #[test]
    fn images_by_id_or_by_best_stage_then_newest() {
        let images = vec![
            image("ami-1", "mhcapp 100", "tested"),
            image("ami-2", "mhcapp 200", "untested"),
            image("ami-3", "mhcapp 150", "tested"),
            image("ami-4", "mhcweb 100", "tested"),
        ];
        let stages = vec!["tested".to_string(), "untested".to_string()];
        let chosen = choose_images(&[request("mhcapp", None)], &images, &stages).unwrap();
        assert_eq!(chosen["mhcapp"].id, "ami-3");
        let chosen = choose_images(&[request("mhcapp", Some("ami-2"))], &images, &[]).unwrap();
        assert_eq!(chosen["mhcapp"].id, "ami-2");
        // Another hostclass's image, and none at all, name the request.
        let e = choose_images(&[request("mhcapp", Some("ami-4"))], &images, &[]).unwrap_err();
        assert_eq!(
            e,
            "mhcapp: image ami-4 (mhcweb 100) is of hostclass mhcweb, not mhcapp"
        );
        let e = choose_images(
            &[request("mhcdb", None), request("mhcx", Some("ami-9"))],
            &images,
            &stages,
        )
        .unwrap_err();
        assert_eq!(
            e,
            "couldn't find an AMI for mhcdb (no image named \"mhcdb <timestamp>\" in stage \
             tested or untested), mhcx (image ami-9 not found)"
        );
        // A private image is never chosen by name.
        let mut private = image("ami-5", "mhcapp 300", "tested");
        private.tags.insert("is_private".into(), "True".into());
        let chosen = choose_images(&[request("mhcapp", None)], &[private], &[]);
        assert!(chosen.is_err());
    }

    fn requests() -> SpinupRequests {
        SpinupRequests {
            requests: vec![
                (
                    request("mhcapp", None),
                    settings("mhcapp", MetaNetworkName::Intranet),
                ),
                (
                    ProvisionRequest {
                        instance_type: Some("m5.large".into()),
                        spotinst: true,
                        ..request("mhcweb", None)
                    },
                    settings("mhcweb", MetaNetworkName::Intranet),
                ),
            ],
            origins: BTreeMap::from([
                ("mhcapp".to_string(), "p.csv:2".to_string()),
                ("mhcweb".to_string(), "p.csv:3".to_string()),
            ]),
        }
    }

    #[test]
    fn what_the_requests_ask() {
        let r = requests();
        assert_eq!(r.hostclasses(), ["mhcapp", "mhcweb"]);
        assert_eq!(
            r.instance_type_needed(),
            [("mhcapp".to_string(), true), ("mhcweb".to_string(), false)]
        );
        assert_eq!(
            r.spotinst_note(false).unwrap(),
            "note: Spotinst elastigroups are not supported; mhcweb get autoscaling groups \
             (as the original did without SPOTINST_TOKEN)"
        );
        assert!(r.spotinst_note(true).unwrap().ends_with("groups"));
        assert_eq!(r.located("mhcapp", "x"), "p.csv:2: x");
        let one = SpinupRequests::one(
            request("mhcapp", None),
            settings("mhcapp", MetaNetworkName::Intranet),
        );
        assert_eq!(one.located("mhcapp", "x"), "x");
        assert_eq!(one.spotinst_note(false), None);
    }

    #[test]
    fn plans_update_existing_groups_unless_spun_down() {
        let observed = SpinupObservation {
            images: vec![
                image("ami-1", "mhcapp 100", "tested"),
                image("ami-2", "mhcweb 100", "tested"),
            ],
            existing: BTreeMap::from([("mhcapp".to_string(), existing("demo_mhcapp_1"))]),
            snapshots: BTreeMap::new(),
        };
        let plans = plan_spinup(
            &requests(),
            &facts(),
            &observed,
            &[],
            &BTreeSet::new(),
            1_700_000_000,
        )
        .unwrap();
        assert_eq!(plans.len(), 2);
        assert_eq!(plans[0].group_name, "demo_mhcapp_1");
        assert!(matches!(plans[0].action, GroupAction::Update { .. }));
        // The existing group's instance type, when nothing else names one.
        assert_eq!(plans[0].instance_type, "t2.small");
        assert_eq!(plans[1].group_name, "demo_mhcweb_1700000000");
        assert_eq!(plans[1].ami_id, "ami-2");
        let gone = BTreeSet::from(["mhcapp".to_string()]);
        let plans = plan_spinup(&requests(), &facts(), &observed, &[], &gone, 5).unwrap();
        assert_eq!(plans[0].group_name, "demo_mhcapp_5");
        assert!(matches!(plans[0].action, GroupAction::Create { .. }));
    }

    #[test]
    fn problems_name_their_rows() {
        // No image for mhcweb: missing (exit 1), naming its row.
        let observed = SpinupObservation {
            images: vec![image("ami-1", "mhcapp 100", "tested")],
            ..Default::default()
        };
        let e =
            plan_spinup(&requests(), &facts(), &observed, &[], &BTreeSet::new(), 1).unwrap_err();
        assert_eq!(
            e,
            SpinupError::Missing(
                "p.csv:3: couldn't find an AMI for mhcweb (no image named \"mhcweb <timestamp>\")"
                    .into()
            )
        );
        // A metanetwork the environment lacks: the configuration's fault (exit 2).
        let mut r = requests();
        r.requests[1].1.meta_network = MetaNetworkName::Dmz;
        let observed = SpinupObservation {
            images: vec![
                image("ami-1", "mhcapp 100", "tested"),
                image("ami-2", "mhcweb 100", "tested"),
            ],
            ..Default::default()
        };
        let e = plan_spinup(&r, &facts(), &observed, &[], &BTreeSet::new(), 1).unwrap_err();
        assert_eq!(
            e,
            SpinupError::Config(
                "p.csv:3: mhcweb: metanetwork dmz does not exist in environment demo".into()
            )
        );
    }

    #[test]
    fn unknown_instance_types_are_warned_about() {
        let observed = SpinupObservation {
            images: vec![
                image("ami-1", "mhcapp 100", "tested"),
                image("ami-2", "mhcweb 100", "tested"),
            ],
            ..Default::default()
        };
        let mut r = requests();
        r.requests[1].0.instance_type = Some("q3.huge".into());
        let plans = plan_spinup(&r, &facts(), &observed, &[], &BTreeSet::new(), 1).unwrap();
        assert_eq!(
            plan_warnings(&plans),
            ["mhcweb: instance type(s) q3.huge not in the ephemeral-disk table; no ephemeral disks mapped"]
        );
    }

    #[test]
    fn a_plan_as_text() {
        let observed = SpinupObservation {
            images: vec![
                image("ami-1", "mhcapp 100", "tested"),
                image("ami-2", "mhcweb 100", "tested"),
            ],
            existing: BTreeMap::from([("mhcapp".to_string(), existing("demo_mhcapp_1"))]),
            snapshots: BTreeMap::new(),
        };
        let plans =
            plan_spinup(&requests(), &facts(), &observed, &[], &BTreeSet::new(), 7).unwrap();
        assert_eq!(
            plan_lines(&plans[0]),
            [
                "sequence 1 mhcapp: update group demo_mhcapp_1 (min 1, desired -, max -)",
                "  launch template demo_mhcapp_1: ami-1 (mhcapp 100), t2.small, \
                 not EBS-optimized in 1 subnet(s) of intranet, public ip false, key none, \
                 profile none",
                "  then wait for 1 instance(s) to pass their smoke test",
            ]
        );
        let web = plan_lines(&plans[1]);
        assert_eq!(
            web[0],
            "sequence 1 mhcweb: create group demo_mhcweb_7 (min 1, desired 1, max 1)"
        );
        assert!(web[1].contains("m5.large, EBS-optimized"), "{}", web[1]);
    }
}
