//! Block device mappings of a hostclass (spec §4.14 `DiscoStorage.configure_storage`) and
//! the instance-type facts they depend on (ephemeral disks, EBS optimisation).

use serde::Serialize;

/// An EBS volume of a mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EbsVolume {
    /// GB; `None` keeps the AMI's or snapshot's size.
    pub size_gb: Option<u32>,
    pub snapshot_id: Option<String>,
    /// `io1` with `iops`; `None` is AWS's default type.
    pub volume_type: Option<String>,
    pub iops: Option<u32>,
    pub delete_on_termination: bool,
    /// `Some(true)` for new empty volumes (encryption by default); `None` inherits (root
    /// from the AMI, snapshot volumes from the snapshot).
    pub encrypted: Option<bool>,
}

/// One device of a launch template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlockDevice {
    pub device_name: String,
    pub ebs: Option<EbsVolume>,
    /// `ephemeralN` for instance-store disks.
    pub virtual_name: Option<String>,
}

/// What the mapping is built from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StorageRequest {
    /// The AMI's root device name (e.g. `/dev/sda1`, `/dev/xvda`).
    pub ami_root_device: Option<String>,
    /// Whether the AMI maps `/dev/sda` (then that is the root).
    pub ami_maps_sda: bool,
    /// `extra_space`: the root becomes `8 + extra_space` GB.
    pub extra_space: Option<u32>,
    /// The latest snapshot of the hostclass in the environment: (id, size GB).
    pub snapshot: Option<(String, u32)>,
    /// `extra_disk` GB.
    pub extra_disk: Option<u32>,
    /// Provisioned IOPS of the snapshot and extra volumes (io1).
    pub iops: Option<u32>,
    /// Number of instance-store disks to map.
    pub ephemeral_disks: u32,
}

/// Device names used for the volumes after the root: `/dev/sdb` ... `/dev/sdz`. The root
/// takes the `a` slot whatever its exact name (`/dev/sda`, `/dev/sda1`, `/dev/xvda`).
fn extra_device_names() -> impl Iterator<Item = String> {
    (b'b'..=b'z').map(|c| format!("/dev/sd{}", c as char))
}

/// Too many volumes for the device names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} volumes do not fit the 25 device names /dev/sdb../dev/sdz")]
pub struct TooManyDevices(pub usize);

/// The mapping, in order: the root (only with `extra_space`: `8 + extra_space` GB, delete
/// on termination), the latest hostclass snapshot (its size; io1 with iops), the
/// `extra_disk` volume (io1 with iops; encrypted), then `ephemeral0..N-1`.
pub fn block_device_mappings(req: &StorageRequest) -> Result<Vec<BlockDevice>, TooManyDevices> {
    let root_name = if req.ami_maps_sda {
        "/dev/sda".to_string()
    } else {
        req.ami_root_device
            .clone()
            .unwrap_or_else(|| "/dev/sda1".to_string())
    };
    let io = |iops: Option<u32>| (iops.map(|_| "io1".to_string()), iops);
    // The root is mapped only to resize it: a mapping without size or snapshot is refused
    // by some endpoints, and without extra_space the AMI's own root mapping (size,
    // delete-on-termination) is what the original's mapping amounted to.
    let mut out = Vec::new();
    if let Some(x) = req.extra_space {
        out.push(BlockDevice {
            device_name: root_name,
            ebs: Some(EbsVolume {
                size_gb: Some(8 + x),
                snapshot_id: None,
                volume_type: None,
                iops: None,
                delete_on_termination: true,
                encrypted: None,
            }),
            virtual_name: None,
        });
    }
    let mut extra: Vec<(Option<EbsVolume>, Option<String>)> = Vec::new();
    if let Some((id, size)) = &req.snapshot {
        let (volume_type, iops) = io(req.iops);
        extra.push((
            Some(EbsVolume {
                size_gb: Some(*size),
                snapshot_id: Some(id.clone()),
                volume_type,
                iops,
                delete_on_termination: true,
                encrypted: None,
            }),
            None,
        ));
    }
    if let Some(size) = req.extra_disk {
        let (volume_type, iops) = io(req.iops);
        extra.push((
            Some(EbsVolume {
                size_gb: Some(size),
                snapshot_id: None,
                volume_type,
                iops,
                delete_on_termination: true,
                encrypted: Some(true),
            }),
            None,
        ));
    }
    for n in 0..req.ephemeral_disks {
        extra.push((None, Some(format!("ephemeral{n}"))));
    }
    if extra.len() > 25 {
        return Err(TooManyDevices(extra.len()));
    }
    out.extend(extra.into_iter().zip(extra_device_names()).map(
        |((ebs, virtual_name), device_name)| BlockDevice {
            device_name,
            ebs,
            virtual_name,
        },
    ));
    Ok(out)
}

/// A hostclass's storage options: `extra_space`, `extra_disk`, `iops` (GB, GB, IOPS).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StorageOptions {
    pub extra_space: Option<u32>,
    pub extra_disk: Option<u32>,
    pub iops: Option<u32>,
}

impl StorageOptions {
    /// Whether the mapping names the image's root device: only a resized root
    /// (`extra_space`) does, so only then must the image be described for it.
    pub fn needs_root_device(&self) -> bool {
        self.extra_space.is_some()
    }
}

/// The bake instance's mapping (spec §4.9 step 3, "BDM from storage config without the
/// snapshot"): the hostclass's `extra_space` (root resized to `8 + extra_space` GB),
/// `extra_disk` (io1 with `iops`, encrypted) and the instance-store disks of the bakery
/// instance type, as [`block_device_mappings`] makes them for a launch template, but never
/// the hostclass's latest snapshot: a bake starts from the image alone. Every EBS volume is
/// deleted on termination. Returns the mapping and the instance types whose disks are
/// unknown (counted 0, to warn about).
pub fn bake_block_device_mappings(
    options: &StorageOptions,
    ami_root_device: Option<&str>,
    ami_maps_sda: bool,
    instance_type: &str,
) -> Result<(Vec<BlockDevice>, Vec<String>), TooManyDevices> {
    let (ephemeral_disks, unknown) = ephemeral_disks_for(instance_type);
    let mapping = block_device_mappings(&StorageRequest {
        ami_root_device: ami_root_device.map(str::to_string),
        ami_maps_sda,
        extra_space: options.extra_space,
        snapshot: None,
        extra_disk: options.extra_disk,
        iops: options.iops,
        ephemeral_disks,
    })?;
    Ok((mapping, unknown))
}

/// Instance-store disks of an instance type that need a mapping (`None`: unknown type).
/// NVMe instance stores of current generations (`m5d`, `i3`, ...) are attached
/// automatically and need none, so they count 0.
pub fn ephemeral_disk_count(instance_type: &str) -> Option<u32> {
    const TABLE: &[(&str, u32)] = &[
        ("m1.small", 1),
        ("m1.medium", 1),
        ("m1.large", 2),
        ("m1.xlarge", 4),
        ("c1.medium", 1),
        ("c1.xlarge", 4),
        ("m2.xlarge", 1),
        ("m2.2xlarge", 1),
        ("m2.4xlarge", 2),
        ("m3.medium", 1),
        ("m3.large", 1),
        ("m3.xlarge", 2),
        ("m3.2xlarge", 2),
        ("c3.large", 2),
        ("c3.xlarge", 2),
        ("c3.2xlarge", 2),
        ("c3.4xlarge", 2),
        ("c3.8xlarge", 2),
        ("r3.large", 1),
        ("r3.xlarge", 1),
        ("r3.2xlarge", 1),
        ("r3.4xlarge", 1),
        ("r3.8xlarge", 2),
        ("g2.2xlarge", 1),
        ("g2.8xlarge", 2),
        ("i2.xlarge", 1),
        ("i2.2xlarge", 2),
        ("i2.4xlarge", 4),
        ("i2.8xlarge", 8),
        ("d2.xlarge", 3),
        ("d2.2xlarge", 6),
        ("d2.4xlarge", 12),
        ("d2.8xlarge", 24),
        ("x1.16xlarge", 1),
        ("x1.32xlarge", 2),
    ];
    if let Some((_, n)) = TABLE.iter().find(|(t, _)| *t == instance_type) {
        return Some(*n);
    }
    let family = instance_type.split('.').next().unwrap_or_default();
    let generation = family
        .chars()
        .skip_while(|c| c.is_ascii_alphabetic())
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse::<u32>()
        .ok()?;
    let ebs_only_old = ["t1", "t2", "m4", "c4", "r4", "p2", "x1e", "f1", "g3"];
    if ebs_only_old.contains(&family) || generation >= 5 || family.starts_with("i3") {
        Some(0)
    } else {
        None
    }
}

/// The ephemeral disks to map for a colon list of instance types: the minimum over the
/// list, unknown types counting 0. Returns the count and the unknown types (to warn about).
pub fn ephemeral_disks_for(instance_types: &str) -> (u32, Vec<String>) {
    let mut unknown = Vec::new();
    let mut min: Option<u32> = None;
    for t in instance_types.split(':').filter(|t| !t.is_empty()) {
        let n = ephemeral_disk_count(t).unwrap_or_else(|| {
            unknown.push(t.to_string());
            0
        });
        min = Some(min.map_or(n, |m| m.min(n)));
    }
    (min.unwrap_or(0), unknown)
}

/// Whether to launch an instance type EBS-optimised: the original's hard-coded list of
/// older types that support it, plus the families that are EBS-optimised by default.
pub fn ebs_optimized(instance_type: &str) -> bool {
    const OLD: &[&str] = &[
        "c1.xlarge",
        "c3.xlarge",
        "c3.2xlarge",
        "c3.4xlarge",
        "g2.2xlarge",
        "i2.xlarge",
        "i2.2xlarge",
        "i2.4xlarge",
        "m1.large",
        "m1.xlarge",
        "m2.2xlarge",
        "m2.4xlarge",
        "m3.xlarge",
        "m3.2xlarge",
        "r3.xlarge",
        "r3.2xlarge",
        "r3.4xlarge",
    ];
    if OLD.contains(&instance_type) {
        return true;
    }
    let family = instance_type.split('.').next().unwrap_or_default();
    if ["c4", "d2", "m4", "r4", "x1", "p2", "p3", "i3", "g3"].contains(&family) {
        return true;
    }
    // Nitro generations (5 and later) are EBS-optimised by default; burstable t3/t4g too.
    let generation = family
        .chars()
        .skip_while(|c| c.is_ascii_alphabetic())
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse::<u32>()
        .unwrap_or(0);
    family.starts_with("t3") || family.starts_with("t4") || generation >= 5
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_only_when_resized() {
        let req = StorageRequest {
            ami_root_device: Some("/dev/xvda".into()),
            ..Default::default()
        };
        assert!(block_device_mappings(&req).unwrap().is_empty());
        let m = block_device_mappings(&StorageRequest {
            extra_space: Some(4),
            ..req
        })
        .unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].device_name, "/dev/xvda");
        let ebs = m[0].ebs.as_ref().unwrap();
        assert!(ebs.delete_on_termination);
        assert_eq!(ebs.size_gb, Some(12));
    }

    #[test]
    fn everything_in_order() {
        let m = block_device_mappings(&StorageRequest {
            ami_root_device: Some("/dev/sda1".into()),
            ami_maps_sda: true,
            extra_space: Some(2),
            snapshot: Some(("snap-1".into(), 100)),
            extra_disk: Some(50),
            iops: Some(1000),
            ephemeral_disks: 2,
        })
        .unwrap();
        let names: Vec<&str> = m.iter().map(|d| d.device_name.as_str()).collect();
        assert_eq!(
            names,
            vec!["/dev/sda", "/dev/sdb", "/dev/sdc", "/dev/sdd", "/dev/sde"]
        );
        assert_eq!(m[0].ebs.as_ref().unwrap().size_gb, Some(10));
        let snap = m[1].ebs.as_ref().unwrap();
        assert_eq!(snap.snapshot_id.as_deref(), Some("snap-1"));
        assert_eq!(snap.size_gb, Some(100));
        assert_eq!(
            (snap.volume_type.as_deref(), snap.iops),
            (Some("io1"), Some(1000))
        );
        let extra = m[2].ebs.as_ref().unwrap();
        assert_eq!(extra.size_gb, Some(50));
        assert_eq!(extra.encrypted, Some(true));
        assert_eq!(
            (extra.volume_type.as_deref(), extra.iops),
            (Some("io1"), Some(1000))
        );
        assert_eq!(m[3].virtual_name.as_deref(), Some("ephemeral0"));
        assert_eq!(m[4].virtual_name.as_deref(), Some("ephemeral1"));
        assert!(m[4].ebs.is_none());
    }

    #[test]
    fn extra_disk_without_iops_keeps_default_type() {
        let m = block_device_mappings(&StorageRequest {
            extra_disk: Some(50),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(m[0].device_name, "/dev/sdb");
        let extra = m[0].ebs.as_ref().unwrap();
        assert_eq!((extra.volume_type.clone(), extra.iops), (None, None));
    }

    #[test]
    fn bake_mapping_has_no_snapshot_and_the_bakery_type_s_disks() {
        let opts = StorageOptions {
            extra_space: Some(4),
            extra_disk: Some(20),
            iops: Some(500),
        };
        assert!(opts.needs_root_device());
        let (m, unknown) =
            bake_block_device_mappings(&opts, Some("/dev/xvda"), false, "m3.xlarge").unwrap();
        assert!(unknown.is_empty());
        let names: Vec<&str> = m.iter().map(|d| d.device_name.as_str()).collect();
        assert_eq!(names, ["/dev/xvda", "/dev/sdb", "/dev/sdc", "/dev/sdd"]);
        let root = m[0].ebs.as_ref().unwrap();
        assert_eq!((root.size_gb, root.encrypted), (Some(12), None));
        let extra = m[1].ebs.as_ref().unwrap();
        assert_eq!(extra.size_gb, Some(20));
        assert_eq!(extra.snapshot_id, None);
        assert_eq!(
            (extra.volume_type.as_deref(), extra.iops, extra.encrypted),
            (Some("io1"), Some(500), Some(true))
        );
        assert_eq!(m[2].virtual_name.as_deref(), Some("ephemeral0"));
        assert_eq!(m[3].virtual_name.as_deref(), Some("ephemeral1"));
        assert!(m
            .iter()
            .filter_map(|d| d.ebs.as_ref())
            .all(|e| e.delete_on_termination && e.snapshot_id.is_none()));
    }

    #[test]
    fn bake_mapping_without_options_is_empty_and_needs_no_image_facts() {
        let opts = StorageOptions::default();
        assert!(!opts.needs_root_device());
        let (m, unknown) = bake_block_device_mappings(&opts, None, false, "t2.small").unwrap();
        assert!(m.is_empty());
        assert!(unknown.is_empty());
        // An extra disk alone needs no root name: it takes /dev/sdb whatever the root is.
        let (m, unknown) = bake_block_device_mappings(
            &StorageOptions {
                extra_disk: Some(10),
                ..opts
            },
            None,
            false,
            "foo1.huge",
        )
        .unwrap();
        assert_eq!(unknown, ["foo1.huge"]);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].device_name, "/dev/sdb");
        let e = m[0].ebs.as_ref().unwrap();
        assert_eq!((e.volume_type.clone(), e.iops), (None, None));
    }

    #[test]
    fn bake_mapping_roots_at_sda_when_the_image_maps_it() {
        let (m, _) = bake_block_device_mappings(
            &StorageOptions {
                extra_space: Some(0),
                ..Default::default()
            },
            Some("/dev/sda1"),
            true,
            "t2.small",
        )
        .unwrap();
        assert_eq!(m[0].device_name, "/dev/sda");
        assert_eq!(m[0].ebs.as_ref().unwrap().size_gb, Some(8));
    }

    #[test]
    fn ephemerals() {
        assert_eq!(ephemeral_disk_count("m3.large"), Some(1));
        assert_eq!(ephemeral_disk_count("t2.micro"), Some(0));
        assert_eq!(ephemeral_disk_count("m5.large"), Some(0));
        assert_eq!(ephemeral_disk_count("m5d.large"), Some(0));
        assert_eq!(ephemeral_disk_count("foo1.huge"), None);
        assert_eq!(ephemeral_disks_for("m3.xlarge:c3.large"), (2, vec![]));
        assert_eq!(ephemeral_disks_for("m3.xlarge:m3.large"), (1, vec![]));
        assert_eq!(
            ephemeral_disks_for("m3.xlarge:foo1.huge"),
            (0, vec!["foo1.huge".to_string()])
        );
        assert_eq!(ephemeral_disks_for(""), (0, vec![]));
    }

    #[test]
    fn ebs_optimisation() {
        assert!(ebs_optimized("m4.large"));
        assert!(ebs_optimized("c3.xlarge"));
        assert!(!ebs_optimized("c3.large"));
        assert!(ebs_optimized("m5.large"));
        assert!(ebs_optimized("t3.small"));
        assert!(!ebs_optimized("t2.micro"));
        assert!(!ebs_optimized("m3.medium"));
    }
}
