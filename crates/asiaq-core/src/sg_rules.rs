//! Security-group rule expansion and diff (spec §4.4).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use ipnet::Ipv4Net;
use serde::Serialize;
use thiserror::Error;

use crate::syntax::{MetaNetworkName, PortRange, SgRuleSpec, SgSource};

/// Errors while expanding rules for a VPC.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SgRuleError {
    #[error("cannot expand security group rules of {0}: the VPC has no {0} metanetwork")]
    UnknownTarget(MetaNetworkName),
    #[error(
        "{target}_sg_rules rule \"{rule}\" refers to {source_net}, which this VPC does not have"
    )]
    UnknownSource {
        target: MetaNetworkName,
        rule: String,
        source_net: MetaNetworkName,
    },
    #[error("customer_ports are set, but this VPC has no dmz metanetwork for {target} to allow them from")]
    CustomerPortsWithoutDmz { target: MetaNetworkName },
}

/// Where an ingress rule allows traffic from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum RuleSource {
    /// Another security group (by id).
    Sg(String),
    /// A CIDR block.
    Cidr(Ipv4Net),
}

impl fmt::Display for RuleSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleSource::Sg(id) => f.write_str(id),
            RuleSource::Cidr(c) => write!(f, "{c}"),
        }
    }
}

/// One concrete ingress permission: the original's tuple
/// `(target_sg_id, proto, from, to, src_sg_id or None, cidr or None)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct SgRule {
    pub target_sg: String,
    pub protocol: String,
    pub from_port: i32,
    pub to_port: i32,
    pub source: RuleSource,
}

impl fmt::Display for SgRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}:{} from {}",
            self.target_sg, self.protocol, self.from_port, self.to_port, self.source
        )
    }
}

/// `customer_ports` and `customer_cidr` of disco_vpc.ini.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CustomerAccess {
    pub ports: Vec<PortRange>,
    pub cidrs: Vec<Ipv4Net>,
}

fn rule(target: &str, proto: &str, p: PortRange, source: RuleSource) -> SgRule {
    SgRule {
        target_sg: target.to_string(),
        protocol: proto.to_string(),
        from_port: p.from,
        to_port: p.to,
        source,
    }
}

/// Expands the `<target>_sg_rules` of one metanetwork into concrete rules
/// (`_get_sg_rule_tuples`). `sg_ids` maps each metanetwork present in the VPC to its SG id.
///
/// For each rule and each of its port specs, in order: `all` gives one rule per metanetwork
/// of the VPC, including the target, in the order intranet, tunnel, dmz, maintenance; a
/// CIDR gives one CIDR rule; a metanetwork gives one rule from its SG. Then customer
/// ports: for `dmz`, per port, one `tcp` rule per customer CIDR followed by one from the
/// dmz SG itself; for `intranet`, per port, one `tcp` rule from the dmz SG.
///
/// Unlike the original (a `KeyError`), a rule naming a metanetwork the VPC lacks is a
/// clear error.
pub fn expand_sg_rules(
    target: MetaNetworkName,
    rules: &[SgRuleSpec],
    sg_ids: &BTreeMap<MetaNetworkName, String>,
    customer: &CustomerAccess,
) -> Result<Vec<SgRule>, SgRuleError> {
    let target_sg = sg_ids
        .get(&target)
        .ok_or(SgRuleError::UnknownTarget(target))?;
    let mut out = Vec::new();
    for spec in rules {
        for p in &spec.ports {
            match &spec.source {
                SgSource::All => {
                    for sg in sg_ids.values() {
                        out.push(rule(
                            target_sg,
                            &spec.protocol,
                            *p,
                            RuleSource::Sg(sg.clone()),
                        ));
                    }
                }
                SgSource::Cidr(c) => {
                    out.push(rule(target_sg, &spec.protocol, *p, RuleSource::Cidr(*c)));
                }
                SgSource::MetaNetwork(n) => {
                    let sg = sg_ids.get(n).ok_or_else(|| SgRuleError::UnknownSource {
                        target,
                        rule: format!(
                            "{} {} {}",
                            spec.protocol,
                            spec.source,
                            spec.ports
                                .iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join(" ")
                        ),
                        source_net: *n,
                    })?;
                    out.push(rule(
                        target_sg,
                        &spec.protocol,
                        *p,
                        RuleSource::Sg(sg.clone()),
                    ));
                }
            }
        }
    }
    if !customer.ports.is_empty()
        && matches!(target, MetaNetworkName::Dmz | MetaNetworkName::Intranet)
    {
        let dmz_sg = sg_ids
            .get(&MetaNetworkName::Dmz)
            .ok_or(SgRuleError::CustomerPortsWithoutDmz { target })?;
        for p in &customer.ports {
            if target == MetaNetworkName::Dmz {
                for c in &customer.cidrs {
                    out.push(rule(target_sg, "tcp", *p, RuleSource::Cidr(*c)));
                }
            }
            out.push(rule(target_sg, "tcp", *p, RuleSource::Sg(dmz_sg.clone())));
        }
    }
    Ok(out)
}

/// Canonical protocol spelling as EC2 reports it: lowercase, IANA numbers of tcp/udp/icmp
/// mapped to names, and `all` mapped to `-1`. Used so `TCP` in a config does not produce a
/// permanent diff against the `tcp` AWS returns.
pub fn normalize_protocol(p: &str) -> String {
    match p.trim().to_ascii_lowercase().as_str() {
        "6" => "tcp".to_string(),
        "17" => "udp".to_string(),
        "1" => "icmp".to_string(),
        "all" => "-1".to_string(),
        other => other.to_string(),
    }
}

/// One observed permission of an existing SG (ports may be absent, as AWS omits them for
/// protocol `-1`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ObservedRule {
    pub target_sg: String,
    pub protocol: String,
    pub from_port: Option<i32>,
    pub to_port: Option<i32>,
    pub source: RuleSource,
}

impl ObservedRule {
    /// The original's normalisation of observed ports: a missing from-port becomes 0 and a
    /// missing to-port 65535.
    ///
    /// Decision: only *missing* ports are defaulted. The original tested truthiness, so an
    /// explicit port 0 also became 0/65535, which made a rule on port 0 differ from itself
    /// forever (re-added and "revoked" on every run).
    pub fn normalized(&self) -> SgRule {
        SgRule {
            target_sg: self.target_sg.clone(),
            protocol: normalize_protocol(&self.protocol),
            from_port: self.from_port.unwrap_or(0),
            to_port: self.to_port.unwrap_or(65535),
            source: self.source.clone(),
        }
    }
}

/// Rules to authorize and to revoke.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SgRuleDiff {
    /// `desired - current`, in desired order, without duplicates.
    pub to_add: Vec<SgRule>,
    /// `current - desired`, in observed order, without duplicates.
    pub to_revoke: Vec<SgRule>,
}

impl SgRuleDiff {
    pub fn is_empty(&self) -> bool {
        self.to_add.is_empty() && self.to_revoke.is_empty()
    }
}

/// Set difference of desired and observed rules (`update_sg_rules`). Protocols are
/// compared after [`normalize_protocol`]; the returned rules carry the normalised protocol.
pub fn diff_sg_rules(desired: &[SgRule], current: &[ObservedRule]) -> SgRuleDiff {
    let norm = |r: &SgRule| SgRule {
        protocol: normalize_protocol(&r.protocol),
        ..r.clone()
    };
    let desired: Vec<SgRule> = desired.iter().map(norm).collect();
    let current: Vec<SgRule> = current.iter().map(ObservedRule::normalized).collect();
    let desired_set: BTreeSet<&SgRule> = desired.iter().collect();
    let current_set: BTreeSet<&SgRule> = current.iter().collect();
    let mut seen = BTreeSet::new();
    let to_add = desired
        .iter()
        .filter(|r| !current_set.contains(r) && seen.insert((*r).clone()))
        .cloned()
        .collect();
    let mut seen = BTreeSet::new();
    let to_revoke = current
        .iter()
        .filter(|r| !desired_set.contains(r) && seen.insert((*r).clone()))
        .cloned()
        .collect();
    SgRuleDiff { to_add, to_revoke }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::{parse_cidr_list, parse_port_list, parse_sg_rules};
    use MetaNetworkName::*;

    fn ids() -> BTreeMap<MetaNetworkName, String> {
        [
            (Intranet, "sg-intranet"),
            (Tunnel, "sg-tunnel"),
            (Dmz, "sg-dmz"),
            (Maintenance, "sg-maintenance"),
        ]
        .into_iter()
        .map(|(n, s)| (n, s.to_string()))
        .collect()
    }

    fn t(target: &str, proto: &str, from: i32, to: i32, src: &str) -> SgRule {
        SgRule {
            target_sg: target.into(),
            protocol: proto.into(),
            from_port: from,
            to_port: to,
            source: if src.contains('/') {
                RuleSource::Cidr(src.parse().unwrap())
            } else {
                RuleSource::Sg(src.into())
            },
        }
    }

    fn customer() -> CustomerAccess {
        CustomerAccess {
            ports: parse_port_list("80 443").unwrap(),
            cidrs: parse_cidr_list("0.0.0.0/0").unwrap(),
        }
    }

    /// The fixture of test_disco_vpc_sg_rules (spec §4.4).
    #[test]
    fn acceptance_fixture() {
        let ids = ids();
        let intranet =
            parse_sg_rules("tcp all 0:65535, udp intranet 0:65535, tcp dmz 2181").unwrap();
        let got = expand_sg_rules(Intranet, &intranet, &ids, &customer()).unwrap();
        let i = "sg-intranet";
        assert_eq!(
            got,
            vec![
                t(i, "tcp", 0, 65535, "sg-intranet"),
                t(i, "tcp", 0, 65535, "sg-tunnel"),
                t(i, "tcp", 0, 65535, "sg-dmz"),
                t(i, "tcp", 0, 65535, "sg-maintenance"),
                t(i, "udp", 0, 65535, "sg-intranet"),
                t(i, "tcp", 2181, 2181, "sg-dmz"),
                t(i, "tcp", 80, 80, "sg-dmz"),
                t(i, "tcp", 443, 443, "sg-dmz"),
            ]
        );

        let tunnel = parse_sg_rules("tcp all 25 80 443, tcp maintenance 22, udp all 123").unwrap();
        let got = expand_sg_rules(Tunnel, &tunnel, &ids, &customer()).unwrap();
        let tn = "sg-tunnel";
        let mut want = Vec::new();
        for p in [25, 80, 443] {
            for src in ["sg-intranet", "sg-tunnel", "sg-dmz", "sg-maintenance"] {
                want.push(t(tn, "tcp", p, p, src));
            }
        }
        want.push(t(tn, "tcp", 22, 22, "sg-maintenance"));
        for src in ["sg-intranet", "sg-tunnel", "sg-dmz", "sg-maintenance"] {
            want.push(t(tn, "udp", 123, 123, src));
        }
        assert_eq!(got, want, "no customer rules for tunnel");

        let dmz = parse_sg_rules("tcp maintenance 22 3212, tcp 66.104.227.162/32 80 443").unwrap();
        let got = expand_sg_rules(Dmz, &dmz, &ids, &customer()).unwrap();
        let d = "sg-dmz";
        assert_eq!(
            got,
            vec![
                t(d, "tcp", 22, 22, "sg-maintenance"),
                t(d, "tcp", 3212, 3212, "sg-maintenance"),
                t(d, "tcp", 80, 80, "66.104.227.162/32"),
                t(d, "tcp", 443, 443, "66.104.227.162/32"),
                t(d, "tcp", 80, 80, "0.0.0.0/0"),
                t(d, "tcp", 80, 80, "sg-dmz"),
                t(d, "tcp", 443, 443, "0.0.0.0/0"),
                t(d, "tcp", 443, 443, "sg-dmz"),
            ]
        );
    }

    #[test]
    fn all_only_covers_present_networks() {
        let mut ids = ids();
        ids.remove(&Maintenance);
        let rules = parse_sg_rules("udp all 53").unwrap();
        let got = expand_sg_rules(Tunnel, &rules, &ids, &CustomerAccess::default()).unwrap();
        assert_eq!(got.len(), 3);
    }

    #[test]
    fn missing_networks_are_errors() {
        let mut ids = ids();
        ids.remove(&Maintenance);
        let rules = parse_sg_rules("tcp maintenance 22").unwrap();
        let e = expand_sg_rules(Tunnel, &rules, &ids, &CustomerAccess::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "tunnel_sg_rules rule \"tcp maintenance 22\" refers to maintenance, which this VPC does not have"
        );
        assert_eq!(
            expand_sg_rules(Maintenance, &[], &ids, &CustomerAccess::default()),
            Err(SgRuleError::UnknownTarget(Maintenance))
        );
        ids.remove(&Dmz);
        assert!(matches!(
            expand_sg_rules(Intranet, &[], &ids, &customer()),
            Err(SgRuleError::CustomerPortsWithoutDmz { .. })
        ));
        // without customer ports a VPC without dmz is fine
        assert_eq!(
            expand_sg_rules(Intranet, &[], &ids, &CustomerAccess::default()).unwrap(),
            vec![]
        );
    }

    fn obs(proto: &str, from: Option<i32>, to: Option<i32>, src: &str) -> ObservedRule {
        let r = t("sg-x", proto, 0, 0, src);
        ObservedRule {
            target_sg: r.target_sg,
            protocol: r.protocol,
            from_port: from,
            to_port: to,
            source: r.source,
        }
    }

    #[test]
    fn diff_adds_and_revokes() {
        let desired = vec![
            t("sg-x", "tcp", 22, 22, "sg-a"),
            t("sg-x", "TCP", 80, 80, "0.0.0.0/0"),
            t("sg-x", "-1", 0, 65535, "sg-b"),
            t("sg-x", "tcp", 22, 22, "sg-a"),
        ];
        let current = vec![
            obs("tcp", Some(22), Some(22), "sg-a"),
            obs("-1", None, None, "sg-b"),
            obs("udp", Some(53), Some(53), "sg-c"),
            obs("udp", Some(53), Some(53), "sg-c"),
        ];
        let d = diff_sg_rules(&desired, &current);
        assert_eq!(d.to_add, vec![t("sg-x", "tcp", 80, 80, "0.0.0.0/0")]);
        assert_eq!(d.to_revoke, vec![t("sg-x", "udp", 53, 53, "sg-c")]);
        assert!(!d.is_empty());
        // port 0 is not treated as missing
        let zero = vec![t("sg-x", "tcp", 0, 0, "sg-a")];
        let d = diff_sg_rules(&zero, &[obs("tcp", Some(0), Some(0), "sg-a")]);
        assert!(d.is_empty(), "{d:?}");
    }

    #[test]
    fn protocols() {
        assert_eq!(normalize_protocol("TCP"), "tcp");
        assert_eq!(normalize_protocol("6"), "tcp");
        assert_eq!(normalize_protocol("17"), "udp");
        assert_eq!(normalize_protocol("1"), "icmp");
        assert_eq!(normalize_protocol("all"), "-1");
        assert_eq!(normalize_protocol("-1"), "-1");
    }
}
