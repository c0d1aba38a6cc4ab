use std::collections::BTreeMap;

use super::*;
use crate::vpc::state::{
    InterfaceInfo, NatGatewayInfo, Permission, RouteInfo, RouteTableInfo, SecurityGroupInfo,
    SubnetInfo, VpcInfo,
};
use crate::vpc::tests::built_state;

/// The test environment of the vpc tests (intranet and tunnel in three zones, NAT in
/// tunnel, a floating interface), with the tunnel also open to the internet on 443.
fn state() -> VpcState {
    let mut s = built_state();
    let tunnel = s
        .security_groups
        .iter_mut()
        .find(|g| g.id == "sg-tunnel")
        .unwrap();
    tunnel.ingress.push(Permission {
        protocol: "tcp".into(),
        from_port: Some(443),
        to_port: Some(443),
        source: PermissionSource::Cidr("0.0.0.0/0".into()),
    });
    s
}

fn observed() -> Observed {
    Observed {
        env_type: Some("sandbox".into()),
        free_ips: BTreeMap::from([("subnet-intranet-az-a".to_string(), 1019)]),
        groups: vec![HostGroup {
            name: "demo_mhcapp_1".into(),
            hostclass: "mhcapp".into(),
            min: 1,
            desired: 2,
            max: 4,
            instances: 2,
            instance_type: Some("m5.large".into()),
            ami: Some("ami-1".into()),
            stage: Some("tested".into()),
            subnet_ids: vec!["subnet-intranet-az-b".into()],
            load_balancers: vec![],
        }],
        load_balancers: vec![LoadBalancer {
            name: "demo-mhcweb".into(),
            id: "abc123".into(),
            dns_name: "abc123.elb.example.net".into(),
            cnames: vec!["mhcweb-demo.example.com.".into()],
            subnet_ids: vec!["subnet-tunnel-az-a".into()],
        }],
        ..Observed::default()
    }
}

/// The text nodes under `n`, joined.
fn text_of(n: &roxmltree::Node) -> String {
    n.descendants()
        .filter(|d| d.is_text())
        .filter_map(|d| d.text())
        .collect()
}

/// The shown text of `n`, without its tooltip.
fn shown(n: &roxmltree::Node) -> String {
    n.children()
        .filter(|d| d.is_text())
        .filter_map(|d| d.text())
        .collect()
}

/// Every text of the SVG (as shown, and tooltips), for looking things up.
fn texts(doc: &roxmltree::Document) -> Vec<String> {
    doc.descendants()
        .filter(|n| n.has_tag_name("text") || n.has_tag_name("title"))
        .map(|n| shown(&n))
        .collect()
}

fn has_class(n: &roxmltree::Node, class: &str) -> bool {
    n.attribute("class")
        .is_some_and(|c| c.split_whitespace().any(|x| x == class))
}

#[test]
fn every_subnet_route_rule_host_and_balancer_is_drawn() {
    let s = state();
    let p = Picture::new("demo", &s, &observed());
    let (svg_text, layout) = svg(&p);
    let doc = roxmltree::Document::parse(&svg_text).expect("the SVG is well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.attribute("width"), Some("1600"));
    assert_eq!(
        root.attribute("height"),
        Some(layout.height.to_string().as_str())
    );
    let all = texts(&doc).join("\n");
    // Every subnet in its own cell, with its CIDR.
    for subnet in &s.subnets {
        let cell = doc
            .descendants()
            .find(|n| has_class(n, "cell") && n.attribute("data-subnet") == Some(&subnet.id))
            .unwrap_or_else(|| panic!("no cell for {}", subnet.id));
        let cell_text = text_of(&cell);
        assert!(cell_text.contains(&subnet.cidr.to_string()), "{cell_text}");
    }
    assert!(all.contains("1019 free IPs"), "{all}");
    // Zones as columns, metanetworks as rows.
    for z in ["az-a", "az-b", "az-c"] {
        assert!(doc
            .descendants()
            .any(|n| has_class(&n, "zone") && n.text() == Some(z)));
    }
    let rows: Vec<&str> = doc
        .descendants()
        .filter(|n| has_class(n, "row"))
        .filter_map(|n| n.attribute("data-net"))
        .collect();
    assert_eq!(rows, ["intranet", "tunnel"]);
    // Route targets: the internet gateway of tunnel, the NAT gateways of intranet, and the
    // NAT gateway in each tunnel subnet with its address.
    assert_eq!(p.rows[0].targets, ["NAT gateway of its zone (0.0.0.0/0)"]);
    assert_eq!(p.rows[1].targets, ["internet gateway igw-1 (0.0.0.0/0)"]);
    assert!(
        all.contains("→ internet gateway igw-1 (0.0.0.0/0)"),
        "{all}"
    );
    assert!(all.contains("→ NAT gateway of its zone"), "{all}");
    assert!(all.contains("NAT gateway 52.0.0.1"), "{all}");
    assert!(all.contains("nat-az-b"), "{all}");
    // Rules: intranet <- tunnel (all ports), tunnel <- intranet (80, 443), each an arrow
    // labelled with its ports; rules from a group itself are in its header; the internet
    // rule is an arrow of its own kind from the internet source.
    let arrows: Vec<(String, String)> = doc
        .descendants()
        .filter(|n| n.has_tag_name("path") && has_class(n, "arrow"))
        .map(|n| (n.attribute("data-to").unwrap().to_string(), text_of(&n)))
        .collect();
    assert!(
        arrows.contains(&("intranet".into(), "tcp 0-65535".into())),
        "{arrows:?}"
    );
    assert!(
        arrows.contains(&("tunnel".into(), "tcp 443, tcp 80".into())),
        "{arrows:?}"
    );
    assert!(all.contains("allows from itself: tcp 0-65535"), "{all}");
    let internet: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("path") && has_class(n, "internet-arrow"))
        .collect();
    assert_eq!(internet.len(), 1);
    assert_eq!(internet[0].attribute("data-to"), Some("tunnel"));
    assert!(doc
        .descendants()
        .any(|n| has_class(&n, "source") && n.attribute("data-cidr") == Some("0.0.0.0/0")));
    assert!(all.contains("open to the internet (0.0.0.0/0)"));
    // Hosts, load balancers, floating interfaces, in their metanetworks.
    assert!(all.contains("group demo_mhcapp_1 1/2/4 (2 running) m5.large ami-1 tested"));
    assert!(all.contains("load balancer demo-mhcweb abc123 <- mhcweb-demo.example.com."));
    assert!(all.contains("floating interface eni-1 10.101.16.5"));
    assert_eq!(p.rows[0].hosts.len(), 1);
    assert_eq!(p.rows[1].load_balancers.len(), 1);
    // No pending-changes box without --diff.
    assert!(!doc.descendants().any(|n| has_class(&n, "changes")));
}

#[test]
fn with_diff_the_changed_metanetwork_and_the_pending_steps_stand_out() {
    let mut o = observed();
    o.changes = Some(vec![PendingChange {
        sign: "+".into(),
        resource: "security group sg-tunnel".into(),
        text: "authorize ingress tcp 22 from sg-intranet".into(),
    }]);
    let p = Picture::new("demo", &state(), &o);
    let (svg_text, _) = svg(&p);
    let doc = roxmltree::Document::parse(&svg_text).unwrap();
    let changed: Vec<bool> = doc
        .descendants()
        .filter(|n| has_class(n, "row-box"))
        .map(|n| has_class(&n, "changed"))
        .collect();
    assert_eq!(changed, [false, true]);
    let all = texts(&doc).join("\n");
    assert!(all.contains("Pending changes (vpc update): 1"), "{all}");
    assert!(doc.descendants().any(
        |n| has_class(&n, "change-add") && shown(&n).starts_with("+ security group sg-tunnel")
    ));
    // A diff with nothing to do says so.
    o.changes = Some(vec![]);
    let (svg_text, _) = svg(&Picture::new("demo", &state(), &o));
    assert!(svg_text.contains("none, the environment is as configured"));
}

/// Six zones, four metanetworks and thirty hostclasses at 1600 px: rows do not overlap,
/// no subnet's text is cut, every host is listed whole.
#[test]
fn six_zones_four_metanetworks_and_thirty_hostclasses_stay_legible() {
    let zones = ["a", "b", "c", "d", "e", "f"].map(|z| format!("us-east-1{z}"));
    let mut s = VpcState {
        name: "big".into(),
        vpc: Some(VpcInfo {
            id: "vpc-0123456789abcdef0".into(),
            cidr: "10.0.0.0/16".parse().unwrap(),
            tags: Default::default(),
            dhcp_options_id: None,
        }),
        ..VpcState::default()
    };
    let mut groups = Vec::new();
    for (n, net) in MetaNetworkName::ALL.iter().enumerate() {
        let sg = format!("sg-0{n}23456789abcdef0");
        s.security_groups.push(SecurityGroupInfo {
            id: sg.clone(),
            name: format!("big_{}", net.as_str()),
            tags: BTreeMap::from([("meta_network".to_string(), net.as_str().to_string())]),
            ingress: vec![Permission {
                protocol: "tcp".into(),
                from_port: Some(22),
                to_port: Some(22),
                source: PermissionSource::Cidr("203.0.113.0/24".into()),
            }],
            egress: vec![],
        });
        for (z, zone) in zones.iter().enumerate() {
            let id = format!("subnet-{n}{z}23456789abcdef0");
            s.subnets.push(SubnetInfo {
                id: id.clone(),
                availability_zone: zone.clone(),
                cidr: format!("10.0.{}.0/22", n * 24 + z * 4).parse().unwrap(),
                tags: BTreeMap::from([("meta_network".to_string(), net.as_str().to_string())]),
            });
            s.route_tables.push(RouteTableInfo {
                id: format!("rtb-{n}{z}"),
                vpc_id: "vpc-0123456789abcdef0".into(),
                tags: Default::default(),
                main: false,
                subnet_ids: vec![id.clone()],
                routes: vec![RouteInfo {
                    destination: "0.0.0.0/0".parse().unwrap(),
                    target: RouteTarget::NatGateway(format!("nat-{z}")),
                }],
            });
            if n == 1 {
                s.nat_gateways.push(NatGatewayInfo {
                    id: format!("nat-0{z}23456789abcdef0"),
                    subnet_id: id.clone(),
                    state: "available".into(),
                    allocation_ids: vec![],
                    public_ips: vec![format!("198.51.100.{z}")],
                    tags: Default::default(),
                });
                s.network_interfaces.push(InterfaceInfo {
                    id: format!("eni-0{z}23456789abcdef0"),
                    subnet_id: id.clone(),
                    private_ip: format!("10.0.{}.5", n * 24 + z * 4),
                    description: "floating interface".into(),
                    attachment_id: None,
                    requester_managed: false,
                    tags: Default::default(),
                });
            }
        }
    }
    for h in 0..30 {
        let n = h % 4;
        groups.push(HostGroup {
            name: format!("big_mhchostclass{h:02}_1700000000"),
            hostclass: format!("mhchostclass{h:02}"),
            min: 1,
            desired: 3,
            max: 6,
            instances: 3,
            instance_type: Some("m5.2xlarge".into()),
            ami: Some("ami-0123456789abcdef0".into()),
            stage: Some("tested".into()),
            subnet_ids: vec![format!("subnet-{n}023456789abcdef0")],
            load_balancers: vec![],
        });
    }
    let o = Observed {
        free_ips: s.subnets.iter().map(|x| (x.id.clone(), 1019)).collect(),
        groups,
        ..Observed::default()
    };
    let p = Picture::new("big", &s, &o);
    let (svg_text, layout) = svg(&p);
    let doc = roxmltree::Document::parse(&svg_text).unwrap();
    assert_eq!(doc.root_element().attribute("width"), Some("1600"));
    for w in layout.rows.windows(2) {
        assert!(w[0].0 + w[0].1 <= w[1].0, "rows overlap: {:?}", layout.rows);
    }
    // Subnet cells: every text whole (a cut text carries its whole as a tooltip) and
    // inside its cell.
    for cell in doc.descendants().filter(|n| has_class(n, "cell")) {
        let rect = cell.children().find(|c| c.has_tag_name("rect")).unwrap();
        let right: f64 = rect.attribute("x").unwrap().parse::<f64>().unwrap()
            + rect.attribute("width").unwrap().parse::<f64>().unwrap();
        for t in cell.children().filter(|c| c.has_tag_name("text")) {
            assert!(
                !t.children().any(|c| c.has_tag_name("title")),
                "cut: {}",
                text_of(&t)
            );
            let x: f64 = t.attribute("x").unwrap().parse().unwrap();
            let chars = shown(&t).chars().count() as f64;
            let width = char_width(t.attribute("class").unwrap());
            assert!(
                x + chars * width <= right,
                "{} runs out of its cell",
                shown(&t)
            );
        }
    }
    let hosts = doc
        .descendants()
        .filter(|n| has_class(n, "host") && !n.children().any(|c| c.has_tag_name("title")))
        .count();
    assert_eq!(hosts, 30);
    assert_eq!(p.zones.len(), 6);
    assert_eq!(p.rows.len(), 4);
}

#[test]
fn a_source_inside_a_peer_environment_is_named_after_it() {
    let mut s = state();
    s.security_groups[0].ingress.push(Permission {
        protocol: "tcp".into(),
        from_port: Some(22),
        to_port: Some(22),
        source: PermissionSource::Cidr("10.100.16.0/20".into()),
    });
    let mut o = observed();
    o.peers
        .insert("vpc-2".into(), ("build".into(), "10.100.0.0/16".into()));
    let p = Picture::new("demo", &s, &o);
    let source = p
        .sources
        .iter()
        .find(|x| x.cidr == "10.100.16.0/20")
        .unwrap();
    assert_eq!(source.label, "build (peer)");
    assert!(!source.internet);
}

#[test]
fn html_is_self_contained_and_dot_has_a_cluster_per_metanetwork() {
    let p = Picture::new("demo", &state(), &observed());
    let page = html(&p);
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1600\""));
    assert!(!page.contains("<script"));
    // No resource fetched from anywhere: the only URL is the SVG namespace.
    assert_eq!(page.matches("http").count(), 1, "{page}");
    let d = dot(&p);
    assert!(d.starts_with("digraph \"demo\" {"));
    assert_eq!(d.matches("subgraph cluster_").count(), 2);
    assert_eq!(d.matches(" -> ").count(), p.arrows.len());
    assert!(
        d.contains("source_0 [label=\"internet\\n0.0.0.0/0\", shape=ellipse, color=red]"),
        "{d}"
    );
    assert!(
        d.contains("\"subnet-tunnel-az-a\" [label=\"10.101.16.0/22\\nsubnet-tunnel-az-a"),
        "{d}"
    );
}
