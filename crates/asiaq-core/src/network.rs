//! CIDR math for VPCs and metanetworks (spec §4.1-§4.3).
//!
//! Randomness is injected (`rng`), so callers can use a seeded RNG in tests and
//! `rand::thread_rng()` in production.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use rand::Rng;
use thiserror::Error;

use crate::syntax::{MetaNetworkCidr, MetaNetworkName, StaticIp};

/// At most this many availability zones get a subnet of a metanetwork.
pub const MAX_AZS: usize = 3;

/// Errors of the CIDR computations; the messages name the offending values.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NetworkError {
    #[error(
        "neither vpc_cidr nor both of ip_space and vpc_cidr_size are set (missing: {missing})"
    )]
    MissingVpcCidrConfig { missing: &'static str },
    #[error("vpc_cidr_size /{size} does not fit in ip_space {ip_space}")]
    BadVpcCidrSize { ip_space: Ipv4Net, size: u8 },
    #[error("no free /{prefix} block left in {space} (occupied: {occupied})")]
    NoFreeSubnet {
        space: Ipv4Net,
        prefix: u8,
        occupied: String,
    },
    #[error("no metanetwork has a *_cidr option; a VPC needs at least one")]
    NoMetaNetworks,
    #[error("{count} metanetworks need /{prefix} blocks, which do not fit in VPC {vpc}")]
    VpcTooSmall {
        vpc: Ipv4Net,
        count: usize,
        prefix: u32,
    },
    #[error("{network}_cidr {cidr} is not inside the VPC CIDR {vpc}")]
    StaticCidrOutsideVpc {
        network: MetaNetworkName,
        cidr: Ipv4Net,
        vpc: Ipv4Net,
    },
    #[error("{a}_cidr {a_cidr} overlaps {b}_cidr {b_cidr}")]
    StaticCidrsOverlap {
        a: MetaNetworkName,
        a_cidr: Ipv4Net,
        b: MetaNetworkName,
        b_cidr: Ipv4Net,
    },
    #[error("no availability zones to place subnets of {network} in")]
    NoZones { network: Ipv4Net },
    #[error("{network} is too small to split into {zones} availability-zone subnets")]
    NetworkTooSmallForZones { network: Ipv4Net, zones: usize },
    #[error("metanetwork has no subnets")]
    NoSubnets,
    #[error(
        "offset {offset} gives {ip}, which is not in any subnet of the metanetwork ({subnets})"
    )]
    OffsetOutOfRange {
        offset: i64,
        ip: String,
        subnets: String,
    },
}

/// `ceil(log2(n))`, with `n <= 1` giving 0.
pub fn ceil_log2(n: usize) -> u32 {
    if n <= 1 {
        0
    } else {
        usize::BITS - (n - 1).leading_zeros()
    }
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    if items.is_empty() {
        return "none".to_string();
    }
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Picks uniformly at random one of the `/prefix` blocks of `space` that overlap none of
/// `used` (the original's `get_random_free_subnet`). Blocks are not enumerated, so even a
/// `/8` split into `/28`s is cheap.
#[allow(
    clippy::expect_used,
    reason = "the prefix is the requested size, checked to be at most 32"
)]
pub fn random_free_subnet<R: Rng + ?Sized>(
    space: Ipv4Net,
    prefix: u8,
    used: &[Ipv4Net],
    rng: &mut R,
) -> Result<Ipv4Net, NetworkError> {
    let space = space.trunc();
    if prefix < space.prefix_len() || prefix > 32 {
        return Err(NetworkError::NoFreeSubnet {
            space,
            prefix,
            occupied: join(used),
        });
    }
    let shift = 32 - u32::from(prefix);
    let base = u64::from(u32::from(space.network()));
    let last = u64::from(u32::from(space.broadcast()));
    let total: u64 = 1u64 << (prefix - space.prefix_len());
    // Index intervals (inclusive) of blocks that overlap a used CIDR.
    let mut taken: Vec<(u64, u64)> = used
        .iter()
        .filter_map(|u| {
            let lo = u64::from(u32::from(u.network())).max(base);
            let hi = u64::from(u32::from(u.broadcast())).min(last);
            (lo <= hi).then(|| ((lo - base) >> shift, (hi - base) >> shift))
        })
        .collect();
    taken.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::new();
    for (lo, hi) in taken {
        match merged.last_mut() {
            Some((_, mhi)) if lo <= *mhi + 1 => *mhi = (*mhi).max(hi),
            _ => merged.push((lo, hi)),
        }
    }
    let taken_count: u64 = merged.iter().map(|(lo, hi)| hi - lo + 1).sum();
    let free = total - taken_count;
    if free == 0 {
        return Err(NetworkError::NoFreeSubnet {
            space,
            prefix,
            occupied: join(used),
        });
    }
    // The k-th free index, skipping the taken intervals in order.
    let mut idx = rng.gen_range(0..free);
    for (lo, hi) in &merged {
        if idx >= *lo {
            idx += hi - lo + 1;
        } else {
            break;
        }
    }
    let addr = (base + (idx << shift)) as u32;
    Ok(Ipv4Net::new(Ipv4Addr::from(addr), prefix).expect("prefix <= 32"))
}

/// Chooses the VPC CIDR (spec §4.1): a static `vpc_cidr` wins; otherwise a random free
/// `/vpc_cidr_size` block of `ip_space` that overlaps none of `occupied` (the CIDRs of every
/// VPC in the account and region).
///
/// Spec §7.3 #9 fix: the original only complained when `ip_space` was missing *and* the
/// size was present; here it is an error whenever either is missing.
pub fn choose_vpc_cidr<R: Rng + ?Sized>(
    vpc_cidr: Option<Ipv4Net>,
    ip_space: Option<Ipv4Net>,
    vpc_cidr_size: Option<u8>,
    occupied: &[Ipv4Net],
    rng: &mut R,
) -> Result<Ipv4Net, NetworkError> {
    if let Some(c) = vpc_cidr {
        return Ok(c);
    }
    let (space, size) = match (ip_space, vpc_cidr_size) {
        (Some(s), Some(n)) => (s, n),
        (None, Some(_)) => {
            return Err(NetworkError::MissingVpcCidrConfig {
                missing: "ip_space",
            })
        }
        (Some(_), None) => {
            return Err(NetworkError::MissingVpcCidrConfig {
                missing: "vpc_cidr_size",
            })
        }
        (None, None) => {
            return Err(NetworkError::MissingVpcCidrConfig {
                missing: "vpc_cidr, ip_space and vpc_cidr_size",
            })
        }
    };
    if size < space.prefix_len() || size > 32 {
        return Err(NetworkError::BadVpcCidrSize {
            ip_space: space,
            size,
        });
    }
    random_free_subnet(space, size, occupied, rng)
}

/// Resolves the CIDR of every configured metanetwork of a new VPC (spec §4.2).
///
/// * The metanetwork prefix is `vpc prefix + ceil(log2(#networks))`.
/// * Static CIDRs are kept; `auto` networks get random free blocks of that prefix, visited
///   in the fixed order intranet, tunnel, dmz, maintenance (the original's order was
///   Python 2 dict order, i.e. arbitrary), each avoiding the static ones and the ones
///   chosen before it.
/// * Improvement over the original: static CIDRs must lie inside the VPC and must not
///   overlap each other (the original let AWS fail later, mid-creation).
pub fn metanetwork_cidrs<R: Rng + ?Sized>(
    vpc: Ipv4Net,
    configured: &BTreeMap<MetaNetworkName, MetaNetworkCidr>,
    rng: &mut R,
) -> Result<BTreeMap<MetaNetworkName, Ipv4Net>, NetworkError> {
    if configured.is_empty() {
        return Err(NetworkError::NoMetaNetworks);
    }
    let vpc = vpc.trunc();
    let prefix = u32::from(vpc.prefix_len()) + ceil_log2(configured.len());
    if prefix > 32 {
        return Err(NetworkError::VpcTooSmall {
            vpc,
            count: configured.len(),
            prefix,
        });
    }
    let statics: Vec<(MetaNetworkName, Ipv4Net)> = configured
        .iter()
        .filter_map(|(n, c)| match c {
            MetaNetworkCidr::Static(cidr) => Some((*n, *cidr)),
            MetaNetworkCidr::Auto => None,
        })
        .collect();
    for (i, (n, c)) in statics.iter().enumerate() {
        if !vpc.contains(c) {
            return Err(NetworkError::StaticCidrOutsideVpc {
                network: *n,
                cidr: *c,
                vpc,
            });
        }
        for (m, d) in &statics[i + 1..] {
            if c.contains(d) || d.contains(c) {
                return Err(NetworkError::StaticCidrsOverlap {
                    a: *n,
                    a_cidr: *c,
                    b: *m,
                    b_cidr: *d,
                });
            }
        }
    }
    let mut used: Vec<Ipv4Net> = statics.iter().map(|(_, c)| *c).collect();
    let mut out: BTreeMap<MetaNetworkName, Ipv4Net> = statics.into_iter().collect();
    for name in MetaNetworkName::ALL {
        if configured.get(&name) == Some(&MetaNetworkCidr::Auto) {
            let cidr = random_free_subnet(vpc, prefix as u8, &used, rng)?;
            used.push(cidr);
            out.insert(name, cidr);
        }
    }
    Ok(out)
}

/// Splits a metanetwork into per-AZ subnets (spec §4.2): the first [`MAX_AZS`] zones (in the
/// order given), each getting one of the `/(prefix + ceil(log2(#zones)))` blocks in address
/// order. The rest of the space stays unused, as in the original.
#[allow(
    clippy::expect_used,
    reason = "the subnet prefix is checked above to lie between the network's and 32"
)]
pub fn az_subnets<S: AsRef<str>>(
    network: Ipv4Net,
    zones: &[S],
) -> Result<Vec<(String, Ipv4Net)>, NetworkError> {
    let zones = &zones[..zones.len().min(MAX_AZS)];
    if zones.is_empty() {
        return Err(NetworkError::NoZones { network });
    }
    let network = network.trunc();
    let prefix = u32::from(network.prefix_len()) + ceil_log2(zones.len());
    if prefix > 32 {
        return Err(NetworkError::NetworkTooSmallForZones {
            network,
            zones: zones.len(),
        });
    }
    let blocks = network
        .subnets(prefix as u8)
        .expect("prefix checked to be within range");
    Ok(zones
        .iter()
        .zip(blocks)
        .map(|(z, b)| (z.as_ref().to_string(), b))
        .collect())
}

/// Reconstructs the CIDR of an existing metanetwork from its subnets: the lowest subnet's
/// prefix shortened by `ceil(log2(#subnets))`, normalised to its network address.
pub fn metanetwork_cidr_from_subnets(subnets: &[Ipv4Net]) -> Option<Ipv4Net> {
    let first = subnets.iter().min()?;
    let shorten = ceil_log2(subnets.len());
    let prefix = u32::from(first.prefix_len()).checked_sub(shorten)?;
    Ipv4Net::new(first.network(), prefix as u8)
        .ok()
        .map(|n| n.trunc())
}

/// The subnet (of `subnets`) that contains `ip`, if any.
pub fn subnet_containing(subnets: &[Ipv4Net], ip: Ipv4Addr) -> Option<Ipv4Net> {
    subnets.iter().copied().find(|s| s.contains(&ip))
}

/// `ip_by_offset` (spec §4.3): offsets `>= 0` count from the network address of the lowest
/// subnet, negative ones from the broadcast address of the highest. The result must lie
/// inside one of `subnets`.
pub fn ip_by_offset(subnets: &[Ipv4Net], offset: i64) -> Result<Ipv4Addr, NetworkError> {
    let mut sorted = subnets.to_vec();
    sorted.sort();
    let (Some(lowest), Some(highest)) = (sorted.first(), sorted.last()) else {
        return Err(NetworkError::NoSubnets);
    };
    let base = if offset >= 0 {
        i64::from(u32::from(lowest.network()))
    } else {
        i64::from(u32::from(highest.broadcast()))
    };
    let out_of_range = |ip: String| NetworkError::OffsetOutOfRange {
        offset,
        ip,
        subnets: join(&sorted),
    };
    let value = base
        .checked_add(offset)
        .ok_or_else(|| out_of_range("an address beyond IPv4".into()))?;
    let ip = u32::try_from(value)
        .map(Ipv4Addr::from)
        .map_err(|_| out_of_range("an address beyond IPv4".into()))?;
    if subnet_containing(&sorted, ip).is_none() {
        return Err(out_of_range(ip.to_string()));
    }
    Ok(ip)
}

/// Resolves a hostclass `ip_address` entry against a metanetwork's subnets: absolute
/// addresses are returned as they are, offsets go through [`ip_by_offset`].
pub fn resolve_static_ip(subnets: &[Ipv4Net], ip: StaticIp) -> Result<Ipv4Addr, NetworkError> {
    match ip {
        StaticIp::Absolute(a) => Ok(a),
        StaticIp::Offset(n) => ip_by_offset(subnets, n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use std::collections::BTreeSet;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn vpc_cidr_from_ip_space_acceptance() {
        let allowed: BTreeSet<Ipv4Net> = [
            "10.0.0.0/26",
            "10.0.0.64/26",
            "10.0.0.128/26",
            "10.0.0.192/26",
        ]
        .into_iter()
        .map(net)
        .collect();
        let mut seen = BTreeSet::new();
        for seed in 0..64 {
            let mut rng = StdRng::seed_from_u64(seed);
            let c =
                choose_vpc_cidr(None, Some(net("10.0.0.0/24")), Some(26), &[], &mut rng).unwrap();
            assert!(allowed.contains(&c), "{c}");
            seen.insert(c);
        }
        assert_eq!(seen, allowed, "all four blocks should be reachable");
    }

    #[test]
    fn vpc_cidr_static_and_errors() {
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(
            choose_vpc_cidr(Some(net("10.1.0.0/16")), None, None, &[], &mut rng).unwrap(),
            net("10.1.0.0/16")
        );
        // §7.3 #9: an error whenever either is missing
        assert!(matches!(
            choose_vpc_cidr(None, Some(net("10.0.0.0/8")), None, &[], &mut rng),
            Err(NetworkError::MissingVpcCidrConfig {
                missing: "vpc_cidr_size"
            })
        ));
        assert!(matches!(
            choose_vpc_cidr(None, None, Some(16), &[], &mut rng),
            Err(NetworkError::MissingVpcCidrConfig {
                missing: "ip_space"
            })
        ));
        assert!(choose_vpc_cidr(None, None, None, &[], &mut rng).is_err());
        assert!(matches!(
            choose_vpc_cidr(None, Some(net("10.0.0.0/16")), Some(8), &[], &mut rng),
            Err(NetworkError::BadVpcCidrSize { .. })
        ));
        let full = [
            net("10.0.0.0/25"),
            net("10.0.0.128/26"),
            net("10.0.0.200/32"),
        ];
        let e =
            choose_vpc_cidr(None, Some(net("10.0.0.0/24")), Some(26), &full, &mut rng).unwrap_err();
        assert!(
            e.to_string()
                .contains("no free /26 block left in 10.0.0.0/24"),
            "{e}"
        );
    }

    #[test]
    fn vpc_cidr_avoids_occupied() {
        let occupied = [
            net("10.0.0.0/26"),
            net("10.0.0.130/32"),
            net("192.168.0.0/16"),
        ];
        for seed in 0..32 {
            let mut rng = StdRng::seed_from_u64(seed);
            let c = choose_vpc_cidr(
                None,
                Some(net("10.0.0.0/24")),
                Some(26),
                &occupied,
                &mut rng,
            )
            .unwrap();
            assert!(c == net("10.0.0.64/26") || c == net("10.0.0.192/26"), "{c}");
        }
        // an occupied supernet blocks everything
        let mut rng = StdRng::seed_from_u64(0);
        assert!(choose_vpc_cidr(
            None,
            Some(net("10.0.0.0/24")),
            Some(26),
            &[net("10.0.0.0/8")],
            &mut rng
        )
        .is_err());
    }

    #[test]
    fn auto_metanetworks_acceptance() {
        let all_auto: BTreeMap<_, _> = MetaNetworkName::ALL
            .into_iter()
            .map(|n| (n, MetaNetworkCidr::Auto))
            .collect();
        let want: BTreeSet<Ipv4Net> = ["10.0.0.0/30", "10.0.0.4/30", "10.0.0.8/30", "10.0.0.12/30"]
            .into_iter()
            .map(net)
            .collect();
        for seed in 0..16 {
            let mut rng = StdRng::seed_from_u64(seed);
            let got = metanetwork_cidrs(net("10.0.0.0/28"), &all_auto, &mut rng).unwrap();
            assert_eq!(got.values().copied().collect::<BTreeSet<_>>(), want);
        }
        let mut mixed = all_auto.clone();
        mixed.insert(
            MetaNetworkName::Dmz,
            MetaNetworkCidr::Static(net("10.0.0.4/31")),
        );
        let want_others: BTreeSet<Ipv4Net> = ["10.0.0.0/30", "10.0.0.8/30", "10.0.0.12/30"]
            .into_iter()
            .map(net)
            .collect();
        for seed in 0..16 {
            let mut rng = StdRng::seed_from_u64(seed);
            let got = metanetwork_cidrs(net("10.0.0.0/28"), &mixed, &mut rng).unwrap();
            assert_eq!(got[&MetaNetworkName::Dmz], net("10.0.0.4/31"));
            let others: BTreeSet<_> = got
                .iter()
                .filter(|(n, _)| **n != MetaNetworkName::Dmz)
                .map(|(_, c)| *c)
                .collect();
            assert_eq!(others, want_others);
        }
    }

    #[test]
    fn metanetwork_errors() {
        let mut rng = StdRng::seed_from_u64(0);
        assert_eq!(
            metanetwork_cidrs(net("10.0.0.0/16"), &BTreeMap::new(), &mut rng),
            Err(NetworkError::NoMetaNetworks)
        );
        let all_auto: BTreeMap<_, _> = MetaNetworkName::ALL
            .into_iter()
            .map(|n| (n, MetaNetworkCidr::Auto))
            .collect();
        assert!(matches!(
            metanetwork_cidrs(net("10.0.0.0/31"), &all_auto, &mut rng),
            Err(NetworkError::VpcTooSmall { prefix: 33, .. })
        ));
        let outside = BTreeMap::from([(
            MetaNetworkName::Tunnel,
            MetaNetworkCidr::Static(net("10.2.0.0/20")),
        )]);
        assert!(matches!(
            metanetwork_cidrs(net("10.1.0.0/16"), &outside, &mut rng),
            Err(NetworkError::StaticCidrOutsideVpc { .. })
        ));
        let overlap = BTreeMap::from([
            (
                MetaNetworkName::Tunnel,
                MetaNetworkCidr::Static(net("10.1.0.0/20")),
            ),
            (
                MetaNetworkName::Dmz,
                MetaNetworkCidr::Static(net("10.1.8.0/21")),
            ),
        ]);
        assert!(matches!(
            metanetwork_cidrs(net("10.1.0.0/16"), &overlap, &mut rng),
            Err(NetworkError::StaticCidrsOverlap { .. })
        ));
        // the sample sandbox config: four statics
        let sample = BTreeMap::from([
            (
                MetaNetworkName::Intranet,
                MetaNetworkCidr::Static(net("10.101.0.0/20")),
            ),
            (
                MetaNetworkName::Tunnel,
                MetaNetworkCidr::Static(net("10.101.16.0/20")),
            ),
            (
                MetaNetworkName::Dmz,
                MetaNetworkCidr::Static(net("10.101.32.0/20")),
            ),
            (
                MetaNetworkName::Maintenance,
                MetaNetworkCidr::Static(net("10.101.48.0/20")),
            ),
        ]);
        let got = metanetwork_cidrs(net("10.101.0.0/16"), &sample, &mut rng).unwrap();
        assert_eq!(got[&MetaNetworkName::Tunnel], net("10.101.16.0/20"));
    }

    #[test]
    fn az_split_acceptance() {
        let got = az_subnets(
            net("10.101.0.0/16"),
            &["aws-zone1", "aws-zone2", "aws-zone3", "aws-zone4"],
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                ("aws-zone1".to_string(), net("10.101.0.0/18")),
                ("aws-zone2".to_string(), net("10.101.64.0/18")),
                ("aws-zone3".to_string(), net("10.101.128.0/18")),
            ]
        );
        let two = az_subnets(net("10.0.0.0/20"), &["a", "b"]).unwrap();
        assert_eq!(two[1].1, net("10.0.8.0/21"));
        let one = az_subnets(net("10.0.0.0/20"), &["a"]).unwrap();
        assert_eq!(one, vec![("a".to_string(), net("10.0.0.0/20"))]);
        assert!(az_subnets::<&str>(net("10.0.0.0/20"), &[]).is_err());
        assert!(az_subnets(net("10.0.0.0/31"), &["a", "b", "c"]).is_err());
    }

    #[test]
    fn reconstruct_metanetwork() {
        let subnets = [
            net("10.101.64.0/18"),
            net("10.101.0.0/18"),
            net("10.101.128.0/18"),
        ];
        assert_eq!(
            metanetwork_cidr_from_subnets(&subnets),
            Some(net("10.101.0.0/16"))
        );
        assert_eq!(
            metanetwork_cidr_from_subnets(&[net("10.0.8.0/21")]),
            Some(net("10.0.8.0/21"))
        );
        assert_eq!(metanetwork_cidr_from_subnets(&[]), None);
    }

    #[test]
    fn offsets() {
        let subnets = [
            net("10.0.0.0/18"),
            net("10.0.64.0/18"),
            net("10.0.128.0/18"),
        ];
        assert_eq!(
            ip_by_offset(&subnets, 5).unwrap(),
            Ipv4Addr::new(10, 0, 0, 5)
        );
        assert_eq!(
            ip_by_offset(&[net("10.0.0.0/16")], 5).unwrap(),
            Ipv4Addr::new(10, 0, 0, 5)
        );
        assert_eq!(
            ip_by_offset(&subnets, -10).unwrap(),
            Ipv4Addr::new(10, 0, 191, 245)
        );
        assert_eq!(
            ip_by_offset(&subnets, 0).unwrap(),
            Ipv4Addr::new(10, 0, 0, 0)
        );
        // beyond the highest used subnet
        assert!(ip_by_offset(&subnets, 3 * 16384).is_err());
        assert!(ip_by_offset(&subnets, -(3 * 16384)).is_err());
        assert!(ip_by_offset(&[], 1).is_err());
        assert!(ip_by_offset(&[net("255.255.255.0/24")], 300).is_err());
        assert_eq!(
            resolve_static_ip(&subnets, StaticIp::Offset(7)).unwrap(),
            Ipv4Addr::new(10, 0, 0, 7)
        );
        assert_eq!(
            resolve_static_ip(&subnets, StaticIp::Absolute(Ipv4Addr::new(1, 2, 3, 4))).unwrap(),
            Ipv4Addr::new(1, 2, 3, 4)
        );
        assert_eq!(
            subnet_containing(&subnets, Ipv4Addr::new(10, 0, 70, 1)),
            Some(net("10.0.64.0/18"))
        );
    }

    proptest! {
        #[test]
        fn random_free_subnet_is_free_and_aligned(
            seed in any::<u64>(),
            space_prefix in 8u8..24,
            extra in 0u8..8,
            used_raw in proptest::collection::vec((any::<u32>(), 8u8..32), 0..6),
        ) {
            let space = Ipv4Net::new(Ipv4Addr::new(10, 0, 0, 0), space_prefix).unwrap().trunc();
            let prefix = space_prefix + extra;
            // put some of the used blocks inside the space
            let used: Vec<Ipv4Net> = used_raw
                .iter()
                .map(|(a, p)| {
                    let inside = u32::from(space.network()) | (a & !u32::from(space.netmask()));
                    Ipv4Net::new(Ipv4Addr::from(inside), *p).unwrap().trunc()
                })
                .collect();
            let mut rng = StdRng::seed_from_u64(seed);
            let all: Vec<Ipv4Net> = space.subnets(prefix).unwrap().collect();
            let free: Vec<Ipv4Net> = all
                .iter()
                .copied()
                .filter(|c| used.iter().all(|u| !u.contains(c) && !c.contains(u)))
                .collect();
            match random_free_subnet(space, prefix, &used, &mut rng) {
                Ok(c) => {
                    prop_assert!(free.contains(&c), "{} not free", c);
                }
                Err(_) => prop_assert!(free.is_empty()),
            }
        }

        #[test]
        fn auto_metanetworks_never_overlap(
            seed in any::<u64>(),
            vpc_prefix in 16u8..28,
            autos in proptest::collection::btree_set(0usize..4, 1..=4),
        ) {
            let vpc = Ipv4Net::new(Ipv4Addr::new(10, 1, 0, 0), vpc_prefix).unwrap().trunc();
            let configured: BTreeMap<_, _> = autos
                .iter()
                .map(|i| (MetaNetworkName::ALL[*i], MetaNetworkCidr::Auto))
                .collect();
            let mut rng = StdRng::seed_from_u64(seed);
            let got = metanetwork_cidrs(vpc, &configured, &mut rng).unwrap();
            let cidrs: Vec<Ipv4Net> = got.values().copied().collect();
            prop_assert_eq!(cidrs.len(), configured.len());
            for (i, a) in cidrs.iter().enumerate() {
                prop_assert!(vpc.contains(a));
                for b in &cidrs[i + 1..] {
                    prop_assert!(!a.contains(b) && !b.contains(a));
                }
            }
        }

        #[test]
        fn az_subnets_partition(prefix in 8u8..30, zones in 1usize..6) {
            let network = Ipv4Net::new(Ipv4Addr::new(10, 0, 0, 0), prefix).unwrap();
            let names: Vec<String> = (0..zones).map(|i| format!("z{i}")).collect();
            let got = az_subnets(network, &names).unwrap();
            prop_assert_eq!(got.len(), zones.min(MAX_AZS));
            let cidrs: Vec<Ipv4Net> = got.iter().map(|(_, c)| *c).collect();
            prop_assert_eq!(metanetwork_cidr_from_subnets(&cidrs), Some(network));
        }
    }
}
