//! Peering resolution (spec §4.11): `[peerings]` endpoints `name[:type]/metanetwork`, with
//! `*` names, expanded against the VPCs that exist.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::syntax::{MetaNetworkName, PeeringEndpoint};

/// A VPC that can take part in peerings: it has both a `Name` and a `type` tag.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct PeerableVpc {
    pub vpc_id: String,
    pub name: String,
    pub env_type: String,
}

/// One end of a resolved connection.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ResolvedEndpoint {
    pub vpc_id: String,
    pub name: String,
    pub env_type: String,
    pub metanetwork: MetaNetworkName,
}

impl std::fmt::Display for ResolvedEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}/{}", self.name, self.env_type, self.metanetwork)
    }
}

/// A connection between two metanetworks of two VPCs; `a < b` (unordered identity).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Connection {
    pub a: ResolvedEndpoint,
    pub b: ResolvedEndpoint,
}

impl Connection {
    /// The end in `vpc_id` and the other end, if the connection involves it.
    pub fn sides(&self, vpc_id: &str) -> Option<(&ResolvedEndpoint, &ResolvedEndpoint)> {
        if self.a.vpc_id == vpc_id {
            Some((&self.a, &self.b))
        } else if self.b.vpc_id == vpc_id {
            Some((&self.b, &self.a))
        } else {
            None
        }
    }
}

fn expand(end: &PeeringEndpoint, vpcs: &[PeerableVpc]) -> Vec<ResolvedEndpoint> {
    vpcs.iter()
        .filter(|v| v.env_type == end.vpc_type)
        .filter(|v| end.name.as_ref().is_none_or(|n| *n == v.name))
        .map(|v| ResolvedEndpoint {
            vpc_id: v.vpc_id.clone(),
            name: v.name.clone(),
            env_type: v.env_type.clone(),
            metanetwork: end.metanetwork,
        })
        .collect()
}

/// Expands `connections` against `vpcs`: the cross product of both endpoints' matches,
/// minus pairs of an endpoint with itself, as a set of unordered pairs. With `only_vpc`,
/// keeps the connections involving that VPC.
///
/// Decision: a pair whose two ends are in the same VPC (e.g. `demo/intranet
/// demo/tunnel`) is dropped too, since a VPC cannot peer with itself (the original would
/// have failed calling AWS).
pub fn resolve_connections(
    connections: &[(PeeringEndpoint, PeeringEndpoint)],
    vpcs: &[PeerableVpc],
    only_vpc: Option<&str>,
) -> Vec<Connection> {
    let mut out = BTreeSet::new();
    for (x, y) in connections {
        for a in expand(x, vpcs) {
            for b in expand(y, vpcs) {
                if a == b || a.vpc_id == b.vpc_id {
                    continue;
                }
                let c = if a <= b {
                    Connection { a: a.clone(), b }
                } else {
                    Connection { a: b, b: a.clone() }
                };
                if only_vpc.is_none_or(|v| c.sides(v).is_some()) {
                    out.insert(c);
                }
            }
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse_peering_connection;

    fn vpcs() -> Vec<PeerableVpc> {
        (1..=3)
            .map(|i| PeerableVpc {
                vpc_id: format!("vpc-{i}"),
                name: format!("mock-vpc-{i}"),
                env_type: "sandbox".into(),
            })
            .collect()
    }

    fn pairs(conns: &[Connection]) -> BTreeSet<(String, String)> {
        conns
            .iter()
            .map(|c| (c.a.name.clone(), c.b.name.clone()))
            .collect()
    }

    fn set(items: &[(&str, &str)]) -> BTreeSet<(String, String)> {
        items
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    /// Spec §4.11 acceptance (test_disco_vpc_peerings).
    #[test]
    fn wildcard_to_one() {
        let c = parse_peering_connection("*:sandbox/intranet mock-vpc-3:sandbox/intranet").unwrap();
        let got = resolve_connections(&[c], &vpcs(), None);
        assert_eq!(
            pairs(&got),
            set(&[("mock-vpc-1", "mock-vpc-3"), ("mock-vpc-2", "mock-vpc-3")])
        );
    }

    /// Spec §4.11 acceptance (test_disco_vpc_peerings).
    #[test]
    fn wildcard_to_wildcard() {
        let c = parse_peering_connection("*:sandbox/intranet *:sandbox/intranet").unwrap();
        let got = resolve_connections(&[c], &vpcs(), None);
        assert_eq!(
            pairs(&got),
            set(&[
                ("mock-vpc-1", "mock-vpc-2"),
                ("mock-vpc-1", "mock-vpc-3"),
                ("mock-vpc-2", "mock-vpc-3")
            ])
        );
    }

    #[test]
    fn only_connections_of_one_vpc_and_reversed_duplicates_merge() {
        let c1 = parse_peering_connection("*:sandbox/intranet *:sandbox/intranet").unwrap();
        let c2 =
            parse_peering_connection("mock-vpc-2:sandbox/intranet mock-vpc-1:sandbox/intranet")
                .unwrap();
        let got = resolve_connections(&[c1, c2], &vpcs(), Some("vpc-1"));
        assert_eq!(
            pairs(&got),
            set(&[("mock-vpc-1", "mock-vpc-2"), ("mock-vpc-1", "mock-vpc-3")])
        );
    }

    #[test]
    fn type_defaults_to_name_and_other_types_do_not_match() {
        let c = parse_peering_connection("ci/intranet mock-vpc-1:sandbox/tunnel").unwrap();
        let mut v = vpcs();
        v.push(PeerableVpc {
            vpc_id: "vpc-ci".into(),
            name: "ci".into(),
            env_type: "ci".into(),
        });
        let got = resolve_connections(&[c], &v, None);
        assert_eq!(got.len(), 1);
        let (mine, other) = got[0].sides("vpc-ci").unwrap();
        assert_eq!(mine.metanetwork, MetaNetworkName::Intranet);
        assert_eq!(other.metanetwork, MetaNetworkName::Tunnel);
    }

    #[test]
    fn same_vpc_pairs_are_dropped() {
        let c = parse_peering_connection("mock-vpc-1:sandbox/intranet mock-vpc-1:sandbox/tunnel")
            .unwrap();
        assert!(resolve_connections(&[c], &vpcs(), None).is_empty());
    }
}
