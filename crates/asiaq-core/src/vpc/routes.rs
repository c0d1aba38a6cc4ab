//! Route reconciliation (spec §4.5): the routes asiaq manages in one route table (to
//! internet and VPN gateways, NAT gateways and peerings) against the desired ones.

use std::collections::BTreeMap;

use ipnet::Ipv4Net;
use serde::Serialize;

use super::state::RouteTarget;

/// What to do to one route table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RouteDiff {
    /// Destinations only in current: delete.
    pub delete: Vec<Ipv4Net>,
    /// Destinations in both with a different target: replace.
    pub replace: Vec<(Ipv4Net, RouteTarget)>,
    /// Destinations only in desired: create.
    pub create: Vec<(Ipv4Net, RouteTarget)>,
}

impl RouteDiff {
    pub fn is_empty(&self) -> bool {
        self.delete.is_empty() && self.replace.is_empty() && self.create.is_empty()
    }
}

/// Diffs managed routes. `desired` may name a destination more than once; the last one
/// wins (NAT routes are listed after gateway routes, as the original applied them after).
/// Routes of `current` to targets asiaq does not manage (`local`, instances, …) are
/// ignored, and so is a desired route whose destination holds such an unmanaged route.
pub fn diff_routes(
    current: &[(Ipv4Net, RouteTarget)],
    desired: &[(Ipv4Net, RouteTarget)],
) -> RouteDiff {
    let unmanaged: Vec<Ipv4Net> = current
        .iter()
        .filter(|(_, t)| !t.is_managed())
        .map(|(d, _)| *d)
        .collect();
    let current: BTreeMap<Ipv4Net, &RouteTarget> = current
        .iter()
        .filter(|(_, t)| t.is_managed())
        .map(|(d, t)| (*d, t))
        .collect();
    let mut want: BTreeMap<Ipv4Net, &RouteTarget> = BTreeMap::new();
    for (d, t) in desired {
        if !unmanaged.contains(d) {
            want.insert(*d, t);
        }
    }
    let mut diff = RouteDiff::default();
    for (d, t) in &current {
        match want.get(d) {
            None => diff.delete.push(*d),
            Some(w) if w != t => diff.replace.push((*d, (*w).clone())),
            Some(_) => {}
        }
    }
    for (d, t) in &want {
        if !current.contains_key(d) {
            diff.create.push((*d, (*t).clone()));
        }
    }
    diff
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    fn gw(id: &str) -> RouteTarget {
        RouteTarget::Gateway(id.into())
    }

    /// Spec §4.5 acceptance (test_disco_metanetwork.test_update_gateways_and_routes):
    /// current {A→old1, B→old2}, desired {B→new1, C→new2} → delete A, replace B, create C.
    #[test]
    fn acceptance_delete_replace_create() {
        let (a, b, c) = (n("10.1.0.0/16"), n("10.2.0.0/16"), n("10.3.0.0/16"));
        let diff = diff_routes(
            &[(a, gw("old1")), (b, gw("old2"))],
            &[(b, gw("new1")), (c, gw("new2"))],
        );
        assert_eq!(diff.delete, vec![a]);
        assert_eq!(diff.replace, vec![(b, gw("new1"))]);
        assert_eq!(diff.create, vec![(c, gw("new2"))]);
    }

    #[test]
    fn equal_routes_give_no_change_and_local_is_ignored() {
        let a = n("0.0.0.0/0");
        let vpc = n("10.0.0.0/16");
        let diff = diff_routes(
            &[(a, gw("igw-1")), (vpc, RouteTarget::Local)],
            &[(a, gw("igw-1"))],
        );
        assert!(diff.is_empty());
    }

    #[test]
    fn later_desired_route_wins() {
        let a = n("0.0.0.0/0");
        let diff = diff_routes(
            &[],
            &[
                (a, gw("igw-1")),
                (a, RouteTarget::NatGateway("nat-1".into())),
            ],
        );
        assert_eq!(
            diff.create,
            vec![(a, RouteTarget::NatGateway("nat-1".into()))]
        );
    }

    #[test]
    fn unmanaged_route_is_left_alone() {
        let a = n("192.168.0.0/16");
        let other = RouteTarget::Other("eni-1".into());
        let diff = diff_routes(&[(a, other)], &[(a, gw("igw-1"))]);
        assert!(diff.is_empty());
    }

    #[test]
    fn peering_and_nat_routes_are_managed() {
        let a = n("10.9.0.0/16");
        let diff = diff_routes(
            &[
                (a, RouteTarget::Peering("pcx-1".into())),
                (n("0.0.0.0/0"), RouteTarget::NatGateway("nat-1".into())),
            ],
            &[],
        );
        assert_eq!(diff.delete.len(), 2);
    }
}
