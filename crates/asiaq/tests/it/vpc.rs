//! `asiaq vpc` and `asiaq eip` against moto, each test in an account of its own. Effects
//! are checked through the EC2 API, not through asiaq's output.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::{config_copy, expect, text};
use asiaq_testkit::{examples_dir, AwsAccount, Moto};
use aws_sdk_ec2::types::Filter;

const OWNER: &str = "asiaq:environment";

fn asiaq(account: &AwsAccount, config: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_asiaq"));
    account
        .configure(&mut cmd)
        .stdin(Stdio::null())
        .env("ASIAQ_WAIT_SCALE", "0.01")
        .env("ASIAQ_QUIET", "1")
        .env_remove("ASIAQ_INJECT_FAULT")
        .arg("--asiaq-config")
        .arg(config);
    cmd
}

fn append(config: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(config.join("disco_vpc.ini"))
        .unwrap();
    writeln!(f, "\n{text}").unwrap();
}

struct Ec2 {
    rt: tokio::runtime::Runtime,
    client: aws_sdk_ec2::Client,
}

fn f(name: &str, values: &[&str]) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.iter().map(|v| v.to_string()).collect()))
        .build()
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
            rt,
        }
    }

    fn vpc(&self, name: &str) -> Option<aws_sdk_ec2::types::Vpc> {
        let out = self
            .rt
            .block_on(
                self.client
                    .describe_vpcs()
                    .filters(f("tag:Name", &[name]))
                    .send(),
            )
            .unwrap();
        out.vpcs().first().cloned()
    }

    fn vpc_id(&self, name: &str) -> String {
        self.vpc(name)
            .and_then(|v| v.vpc_id().map(str::to_string))
            .expect("VPC exists")
    }

    fn subnets(&self, vpc: &str) -> Vec<aws_sdk_ec2::types::Subnet> {
        self.rt
            .block_on(
                self.client
                    .describe_subnets()
                    .filters(f("vpc-id", &[vpc]))
                    .send(),
            )
            .unwrap()
            .subnets
            .unwrap_or_default()
    }

    fn route_tables(&self, vpc: &str) -> Vec<aws_sdk_ec2::types::RouteTable> {
        self.rt
            .block_on(
                self.client
                    .describe_route_tables()
                    .filters(f("vpc-id", &[vpc]))
                    .send(),
            )
            .unwrap()
            .route_tables
            .unwrap_or_default()
    }

    fn groups(&self, vpc: &str) -> Vec<aws_sdk_ec2::types::SecurityGroup> {
        self.rt
            .block_on(
                self.client
                    .describe_security_groups()
                    .filters(f("vpc-id", &[vpc]))
                    .send(),
            )
            .unwrap()
            .security_groups
            .unwrap_or_default()
    }

    fn nats(&self, vpc: &str) -> Vec<aws_sdk_ec2::types::NatGateway> {
        self.rt
            .block_on(
                self.client
                    .describe_nat_gateways()
                    .filter(f("vpc-id", &[vpc]))
                    .send(),
            )
            .unwrap()
            .nat_gateways
            .unwrap_or_default()
            .into_iter()
            .filter(|n| {
                n.state()
                    .is_some_and(|s| s.as_str() == "available" || s.as_str() == "pending")
            })
            .collect()
    }

    fn addresses(&self) -> Vec<aws_sdk_ec2::types::Address> {
        self.rt
            .block_on(self.client.describe_addresses().send())
            .unwrap()
            .addresses
            .unwrap_or_default()
    }

    fn live_peerings(&self) -> Vec<aws_sdk_ec2::types::VpcPeeringConnection> {
        self.rt
            .block_on(self.client.describe_vpc_peering_connections().send())
            .unwrap()
            .vpc_peering_connections
            .unwrap_or_default()
            .into_iter()
            .filter(|p| {
                p.status().and_then(|s| s.code()).is_some_and(|c| {
                    matches!(c.as_str(), "active" | "pending-acceptance" | "provisioning")
                })
            })
            .collect()
    }

    /// The ids of every VPC-related resource in the account, tagged or not (a create that
    /// lost its tagging leaves an untagged one that [`Ec2::owned`] cannot see).
    fn inventory(&self) -> std::collections::BTreeSet<String> {
        let c = &self.client;
        let mut out = std::collections::BTreeSet::new();
        self.rt.block_on(async {
            let r = c.describe_vpcs().send().await.unwrap();
            out.extend(
                r.vpcs()
                    .iter()
                    .filter_map(|x| x.vpc_id().map(str::to_string)),
            );
            let r = c.describe_subnets().send().await.unwrap();
            out.extend(
                r.subnets()
                    .iter()
                    .filter_map(|x| x.subnet_id().map(str::to_string)),
            );
            let r = c.describe_security_groups().send().await.unwrap();
            out.extend(
                r.security_groups()
                    .iter()
                    .filter_map(|x| x.group_id().map(str::to_string)),
            );
            let r = c.describe_route_tables().send().await.unwrap();
            out.extend(
                r.route_tables()
                    .iter()
                    .filter_map(|x| x.route_table_id().map(str::to_string)),
            );
            let r = c.describe_internet_gateways().send().await.unwrap();
            out.extend(
                r.internet_gateways()
                    .iter()
                    .filter_map(|x| x.internet_gateway_id().map(str::to_string)),
            );
            let r = c.describe_dhcp_options().send().await.unwrap();
            out.extend(
                r.dhcp_options()
                    .iter()
                    .filter_map(|x| x.dhcp_options_id().map(str::to_string)),
            );
            let r = c.describe_addresses().send().await.unwrap();
            out.extend(
                r.addresses()
                    .iter()
                    .filter_map(|x| x.allocation_id().map(str::to_string)),
            );
            let r = c.describe_nat_gateways().send().await.unwrap();
            out.extend(
                r.nat_gateways()
                    .iter()
                    .filter(|x| x.state().is_some_and(|s| s.as_str() != "deleted"))
                    .filter_map(|x| x.nat_gateway_id().map(str::to_string)),
            );
            // moto keeps a NAT gateway's interface after the gateway and its VPC are gone
            // (AWS deletes it with the gateway, and cannot delete a VPC that still has an
            // interface): an interface of a VPC that no longer exists is moto's, not a
            // leftover.
            let vpcs: std::collections::BTreeSet<String> = c
                .describe_vpcs()
                .send()
                .await
                .unwrap()
                .vpcs()
                .iter()
                .filter_map(|v| v.vpc_id().map(str::to_string))
                .collect();
            let r = c.describe_network_interfaces().send().await.unwrap();
            out.extend(
                r.network_interfaces()
                    .iter()
                    .filter(|x| x.vpc_id().is_some_and(|v| vpcs.contains(v)))
                    .filter_map(|x| x.network_interface_id().map(str::to_string)),
            );
            let r = c.describe_vpc_endpoints().send().await.unwrap();
            out.extend(
                r.vpc_endpoints()
                    .iter()
                    .filter(|x| {
                        x.state()
                            .is_some_and(|s| !matches!(s.as_str(), "deleted" | "Deleted"))
                    })
                    .filter_map(|x| x.vpc_endpoint_id().map(str::to_string)),
            );
        });
        out
    }

    /// Everything of any kind that carries the ownership tag of `name`.
    fn owned(&self, name: &str) -> Vec<String> {
        let tag = f(&format!("tag:{OWNER}"), &[name]);
        let c = &self.client;
        let mut out: Vec<String> = Vec::new();
        self.rt.block_on(async {
            let vpcs = c.describe_vpcs().filters(tag.clone()).send().await.unwrap();
            out.extend(
                vpcs.vpcs()
                    .iter()
                    .filter_map(|v| v.vpc_id().map(str::to_string)),
            );
            let s = c
                .describe_subnets()
                .filters(tag.clone())
                .send()
                .await
                .unwrap();
            out.extend(
                s.subnets()
                    .iter()
                    .filter_map(|v| v.subnet_id().map(str::to_string)),
            );
            let g = c
                .describe_security_groups()
                .filters(tag.clone())
                .send()
                .await
                .unwrap();
            out.extend(
                g.security_groups()
                    .iter()
                    .filter_map(|v| v.group_id().map(str::to_string)),
            );
            let r = c
                .describe_route_tables()
                .filters(tag.clone())
                .send()
                .await
                .unwrap();
            out.extend(
                r.route_tables()
                    .iter()
                    .filter_map(|v| v.route_table_id().map(str::to_string)),
            );
            let i = c
                .describe_internet_gateways()
                .filters(tag.clone())
                .send()
                .await
                .unwrap();
            out.extend(
                i.internet_gateways()
                    .iter()
                    .filter_map(|v| v.internet_gateway_id().map(str::to_string)),
            );
            let n = c
                .describe_nat_gateways()
                .filter(tag.clone())
                .send()
                .await
                .unwrap();
            out.extend(
                n.nat_gateways()
                    .iter()
                    .filter(|v| v.state().is_some_and(|s| s.as_str() != "deleted"))
                    .filter_map(|v| v.nat_gateway_id().map(str::to_string)),
            );
            let a = c
                .describe_addresses()
                .filters(tag.clone())
                .send()
                .await
                .unwrap();
            out.extend(
                a.addresses()
                    .iter()
                    .filter_map(|v| v.allocation_id().map(str::to_string)),
            );
            let e = c
                .describe_network_interfaces()
                .filters(tag.clone())
                .send()
                .await
                .unwrap();
            out.extend(
                e.network_interfaces()
                    .iter()
                    .filter_map(|v| v.network_interface_id().map(str::to_string)),
            );
            let d = c
                .describe_dhcp_options()
                .filters(tag.clone())
                .send()
                .await
                .unwrap();
            out.extend(
                d.dhcp_options()
                    .iter()
                    .filter_map(|v| v.dhcp_options_id().map(str::to_string)),
            );
            let d = c
                .describe_dhcp_options()
                .filters(f("tag:Name", &[name]))
                .send()
                .await
                .unwrap();
            out.extend(
                d.dhcp_options()
                    .iter()
                    .filter_map(|v| v.dhcp_options_id().map(str::to_string)),
            );
            let p = c
                .describe_vpc_peering_connections()
                .filters(tag.clone())
                .send()
                .await
                .unwrap();
            out.extend(
                p.vpc_peering_connections()
                    .iter()
                    .filter(|v| {
                        v.status()
                            .and_then(|s| s.code())
                            .is_some_and(|c| c.as_str() != "deleted")
                    })
                    .filter_map(|v| v.vpc_peering_connection_id().map(str::to_string)),
            );
        });
        out.sort();
        out.dedup();
        out
    }
}

fn tag<'a>(tags: &'a [aws_sdk_ec2::types::Tag], key: &str) -> Option<&'a str> {
    tags.iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
}

fn nat_routes(ec2: &Ec2, vpc: &str, net: &str) -> usize {
    ec2.route_tables(vpc)
        .iter()
        .filter(|t| tag(t.tags(), "meta_network") == Some(net))
        .flat_map(|t| t.routes().to_vec())
        .filter(|r| r.nat_gateway_id().is_some() && r.destination_cidr_block() == Some("0.0.0.0/0"))
        .count()
}

#[test]
fn create_show_list_destroy_sandbox() {
    let account = Moto::shared().new_account();
    let config = examples_dir().join("sandbox");
    let ec2 = Ec2::new(&account);
    let out = expect(
        asiaq(&account, &config).args([
            "vpc",
            "create",
            "--type",
            "sandbox",
            "--name",
            "demo",
            "--tag",
            "team:astro",
        ]),
        0,
    );
    let vpc = ec2.vpc("demo").expect("VPC created");
    let vpc_id = vpc.vpc_id().unwrap().to_string();
    assert_eq!(
        text(&out.stdout).trim(),
        format!("VPC demo({vpc_id}) has been created")
    );
    assert_eq!(vpc.cidr_block(), Some("10.101.0.0/16"));
    for (k, v) in [
        ("Name", "demo"),
        ("type", "sandbox"),
        ("application", "example-demo"),
        ("team", "astro"),
        (OWNER, "demo"),
    ] {
        assert_eq!(tag(vpc.tags(), k), Some(v), "tag {k}");
    }
    assert!(tag(vpc.tags(), "create_date").is_some_and(|d| d.ends_with('Z')));

    // Security groups with the fixed descriptions, and the rules of §4.4.
    let groups = ec2.groups(&vpc_id);
    let sg = |net: &str| {
        groups
            .iter()
            .find(|g| g.group_name() == Some(&format!("demo_{net}")))
            .expect(net)
            .clone()
    };
    assert_eq!(sg("intranet").description(), Some("Inter host"));
    assert_eq!(sg("dmz").description(), Some("Client facing"));
    assert_eq!(tag(sg("tunnel").tags(), "meta_network"), Some("tunnel"));
    let intranet = sg("intranet");
    let all_tcp: Vec<String> = intranet
        .ip_permissions()
        .iter()
        .filter(|p| {
            p.ip_protocol() == Some("tcp") && p.from_port() == Some(0) && p.to_port() == Some(65535)
        })
        .flat_map(|p| {
            p.user_id_group_pairs()
                .iter()
                .filter_map(|g| g.group_id().map(str::to_string))
        })
        .collect();
    for net in ["intranet", "tunnel", "dmz", "maintenance"] {
        assert!(
            all_tcp.contains(&sg(net).group_id().unwrap().to_string()),
            "intranet tcp all from {net}"
        );
    }
    // customer_ports on dmz from 0.0.0.0/0
    assert!(sg("dmz")
        .ip_permissions()
        .iter()
        .any(|p| p.from_port() == Some(443)
            && p.ip_ranges()
                .iter()
                .any(|r| r.cidr_ip() == Some("0.0.0.0/0"))));

    // 4 metanetworks x 3 AZs, tagged; one route table each.
    let subnets = ec2.subnets(&vpc_id);
    assert_eq!(subnets.len(), 12);
    let zones: std::collections::BTreeSet<&str> = subnets
        .iter()
        .filter_map(|s| s.availability_zone())
        .collect();
    assert_eq!(zones.len(), 3);
    let t = subnets
        .iter()
        .find(|s| s.cidr_block() == Some("10.101.20.0/22"))
        .expect("tunnel az-2");
    assert_eq!(tag(t.tags(), "meta_network"), Some("tunnel"));
    assert_eq!(
        tag(t.tags(), "Name"),
        Some(format!("demo_tunnel_{}", t.availability_zone().unwrap()).as_str())
    );
    let tables = ec2.route_tables(&vpc_id);
    assert_eq!(
        tables
            .iter()
            .filter(|t| tag(t.tags(), "meta_network").is_some())
            .count(),
        12
    );
    // tunnel -> IGW, intranet -> NAT of the tunnel (one per AZ).
    let igw_routes = tables
        .iter()
        .filter(|t| tag(t.tags(), "meta_network") == Some("tunnel"))
        .flat_map(|t| t.routes().to_vec())
        .filter(|r| r.gateway_id().is_some_and(|g| g.starts_with("igw-")))
        .count();
    assert_eq!(igw_routes, 3);
    assert_eq!(ec2.nats(&vpc_id).len(), 3);
    assert_eq!(nat_routes(&ec2, &vpc_id, "intranet"), 3);
    let dynamic = ec2
        .addresses()
        .iter()
        .filter(|a| tag(a.tags(), "dynamic") == Some("true"))
        .count();
    assert_eq!(dynamic, 3);

    // DHCP: NTP = tunnel base + 5; floating interfaces of mhcntp (10.101.16.5) and the
    // jump box (+10 in maintenance).
    let dopt = vpc.dhcp_options_id().unwrap().to_string();
    let d = ec2
        .rt
        .block_on(
            ec2.client
                .describe_dhcp_options()
                .dhcp_options_ids(&dopt)
                .send(),
        )
        .unwrap();
    let conf = d.dhcp_options()[0].dhcp_configurations().to_vec();
    let ntp: Vec<String> = conf
        .iter()
        .filter(|c| c.key() == Some("ntp-servers"))
        .flat_map(|c| {
            c.values()
                .iter()
                .filter_map(|v| v.value().map(str::to_string))
        })
        .collect();
    assert_eq!(ntp, vec!["10.101.16.5".to_string()]);
    let enis = ec2
        .rt
        .block_on(
            ec2.client
                .describe_network_interfaces()
                .filters(f("vpc-id", &[vpc_id.as_str()]))
                .send(),
        )
        .unwrap();
    let ips: Vec<&str> = enis
        .network_interfaces()
        .iter()
        .filter(|e| e.description() == Some("floating interface"))
        .filter_map(|e| e.private_ip_address())
        .collect();
    assert!(ips.contains(&"10.101.16.5"), "{ips:?}");
    assert!(ips.contains(&"10.101.48.10"), "{ips:?}");
    // S3 endpoint on every route table.
    let ep = ec2
        .rt
        .block_on(
            ec2.client
                .describe_vpc_endpoints()
                .filters(f("vpc-id", &[vpc_id.as_str()]))
                .send(),
        )
        .unwrap();
    assert_eq!(ep.vpc_endpoints().len(), 1);
    assert_eq!(ep.vpc_endpoints()[0].route_table_ids().len(), 12);

    // Duplicate name: exit 1, message of the original.
    let dup = expect(
        asiaq(&account, &config).args(["vpc", "create", "--type", "sandbox", "--name", "demo"]),
        1,
    );
    assert!(text(&dup.stderr).contains("VPC with same name already exists."));

    // list and show.
    let list = expect(asiaq(&account, &config).args(["vpc", "list", "--type"]), 0);
    assert!(
        text(&list.stdout).contains(&format!("{vpc_id}\tdemo           \tsandbox")),
        "{}",
        text(&list.stdout)
    );
    let show = expect(
        asiaq(&account, &config).args(["vpc", "show", "--name", "demo", "--output", "json"]),
        0,
    );
    let v: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(v["metanetworks"].as_array().unwrap().len(), 4);
    assert_eq!(v["metanetworks"][0]["subnets"].as_array().unwrap().len(), 3);

    // An update right after create changes nothing.
    let upd = expect(
        asiaq(&account, &config).args(["vpc", "update", "--name", "demo", "--dry-run"]),
        0,
    );
    assert_eq!(text(&upd.stdout).trim(), "No changes.");

    // Destroy: nothing of it remains.
    expect(
        asiaq(&account, &config).args(["vpc", "destroy", "--name", "demo"]),
        0,
    );
    assert!(ec2.vpc("demo").is_none());
    assert_eq!(ec2.owned("demo"), Vec::<String>::new());
    assert!(ec2.addresses().is_empty(), "dynamic EIPs released");
    let gone = expect(
        asiaq(&account, &config).args(["vpc", "destroy", "--name", "demo"]),
        2,
    );
    assert!(text(&gone.stderr).contains("No matching VPC found"));
}

#[test]
fn update_reconciles_each_kind_of_change() {
    let account = Moto::shared().new_account();
    let (_tmp, config) = config_copy();
    let ec2 = Ec2::new(&account);
    expect(
        asiaq(&account, &config).args(["vpc", "create", "--type", "sandbox", "--name", "stage"]),
        0,
    );
    let vpc = ec2.vpc_id("stage");
    let first_dhcp = ec2
        .vpc("stage")
        .and_then(|v| v.dhcp_options_id)
        .expect("the environment has DHCP options");
    append(
        &config,
        "[env:stage]\n\
         tunnel_sg_rules=tcp all 80, tcp maintenance 22, udp all 123, tcp 198.51.100.0/24 8443\n\
         tunnel_igw_routes=198.51.100.0/24\n\
         tunnel_nat_gateways=\n\
         nat_gateway_routes=\n\
         domain_name=stage.internal\n",
    );
    // Dry run: prints the plan, changes nothing.
    let dry = expect(
        asiaq(&account, &config).args([
            "vpc",
            "update",
            "--name",
            "stage",
            "--dry-run",
            "--output",
            "json",
        ]),
        0,
    );
    let plan: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    let steps = plan["steps"]["steps"].as_array().unwrap();
    assert!(steps
        .iter()
        .any(|s| s["action"]["action"] == "DeleteNatGateway"));
    assert_eq!(ec2.nats(&vpc).len(), 3, "dry run changed nothing");

    expect(
        asiaq(&account, &config).args(["vpc", "update", "--name", "stage"]),
        0,
    );
    // SG rule added (8443 from a CIDR) and removed (443 from all).
    let groups = ec2.groups(&vpc);
    let tunnel = groups
        .iter()
        .find(|g| g.group_name() == Some("stage_tunnel"))
        .unwrap();
    assert!(tunnel
        .ip_permissions()
        .iter()
        .any(|p| p.from_port() == Some(8443)));
    assert!(!tunnel
        .ip_permissions()
        .iter()
        .any(|p| p.from_port() == Some(443)));
    // Routes: IGW route moved from 0.0.0.0/0 to 198.51.100.0/24.
    let tunnel_routes: Vec<String> = ec2
        .route_tables(&vpc)
        .iter()
        .filter(|t| tag(t.tags(), "meta_network") == Some("tunnel"))
        .flat_map(|t| t.routes().to_vec())
        .filter(|r| r.gateway_id().is_some_and(|g| g.starts_with("igw-")))
        .filter_map(|r| r.destination_cidr_block().map(str::to_string))
        .collect();
    assert_eq!(tunnel_routes, vec!["198.51.100.0/24"; 3]);
    // NAT toggled off: gateways gone, dynamic EIPs released, NAT routes gone.
    assert!(ec2.nats(&vpc).is_empty());
    assert!(ec2.addresses().is_empty());
    assert_eq!(nat_routes(&ec2, &vpc, "intranet"), 0);
    // DHCP changed.
    let v = ec2.vpc("stage").unwrap();
    let d = ec2
        .rt
        .block_on(
            ec2.client
                .describe_dhcp_options()
                .dhcp_options_ids(v.dhcp_options_id().unwrap())
                .send(),
        )
        .unwrap();
    assert!(d.dhcp_options()[0]
        .dhcp_configurations()
        .iter()
        .any(|c| c.key() == Some("domain-name")
            && c.values()
                .iter()
                .any(|x| x.value() == Some("stage.internal"))));
    // Second run: nothing left to do.
    let again = expect(
        asiaq(&account, &config).args(["vpc", "update", "--name", "stage", "--dry-run"]),
        0,
    );
    assert_eq!(text(&again.stdout).trim(), "No changes.");

    // NAT toggled back on.
    append(
        &config,
        "[env:stage]\ntunnel_nat_gateways=auto\nnat_gateway_routes=intranet/tunnel\n",
    );
    // (a repeated section is invalid INI; rewrite the file instead)
    let ini = std::fs::read_to_string(config.join("disco_vpc.ini")).unwrap();
    let cut = ini.rfind("[env:stage]\ntunnel_nat_gateways=auto").unwrap();
    let fixed = ini[..cut]
        .replace("tunnel_nat_gateways=\n", "tunnel_nat_gateways=auto\n")
        .replace(
            "nat_gateway_routes=\n",
            "nat_gateway_routes=intranet/tunnel\n",
        );
    std::fs::write(config.join("disco_vpc.ini"), fixed).unwrap();
    expect(
        asiaq(&account, &config).args(["vpc", "update", "--vpc-id", &vpc]),
        0,
    );
    assert_eq!(ec2.nats(&vpc).len(), 3);
    assert_eq!(nat_routes(&ec2, &vpc, "intranet"), 3);
    expect(
        asiaq(&account, &config).args(["vpc", "destroy", "--vpc-id", &vpc]),
        0,
    );
    // The replaced DHCP option set is the one thing moto refuses to delete (it keeps every
    // set that was ever associated "in use"; see README "Decisions"); AWS deletes it.
    let mut left = ec2.owned("stage");
    left.retain(|id| id != &first_dhcp);
    assert_eq!(left, Vec::<String>::new());
}

#[test]
fn peerings_with_wildcards_and_deletion() {
    let account = Moto::shared().new_account();
    let (_tmp, config) = config_copy();
    let ec2 = Ec2::new(&account);
    expect(
        asiaq(&account, &config).args(["vpc", "create", "--type", "sandbox", "--name", "demo"]),
        0,
    );
    // build peers with demo at creation (connection_1).
    expect(
        asiaq(&account, &config).args([
            "vpc",
            "create",
            "--type",
            "sandbox",
            "--name",
            "build",
            "--skip-enis",
        ]),
        0,
    );
    // Two dynamic VPCs peer with demo through the wildcard (connection_2).
    expect(
        asiaq(&account, &config).args([
            "vpc",
            "create",
            "--type",
            "dynamic",
            "--name",
            "dyn1",
            "--skip-enis",
        ]),
        0,
    );
    expect(
        asiaq(&account, &config).args([
            "vpc",
            "create",
            "--type",
            "dynamic",
            "--name",
            "dyn2",
            "--skip-enis",
        ]),
        0,
    );
    let (demo, build, dyn1) = (ec2.vpc_id("demo"), ec2.vpc_id("build"), ec2.vpc_id("dyn1"));
    let pairs = |ec2: &Ec2| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = ec2
            .live_peerings()
            .iter()
            .map(|p| {
                let mut x = [
                    p.requester_vpc_info()
                        .unwrap()
                        .vpc_id()
                        .unwrap()
                        .to_string(),
                    p.accepter_vpc_info().unwrap().vpc_id().unwrap().to_string(),
                ];
                x.sort();
                (x[0].clone(), x[1].clone())
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(pairs(&ec2).len(), 3, "demo-build, demo-dyn1, demo-dyn2");
    assert!(pairs(&ec2).iter().all(|(a, b)| a == &demo || b == &demo));
    // Routes both ways: demo intranet -> build tunnel, build tunnel -> demo intranet.
    let routes_to = |vpc: &str, net: &str, cidr: &str| {
        ec2.route_tables(vpc)
            .iter()
            .filter(|t| tag(t.tags(), "meta_network") == Some(net))
            .flat_map(|t| t.routes().to_vec())
            .filter(|r| {
                r.destination_cidr_block() == Some(cidr) && r.vpc_peering_connection_id().is_some()
            })
            .count()
    };
    assert_eq!(routes_to(&demo, "intranet", "10.100.16.0/20"), 3);
    assert_eq!(routes_to(&build, "tunnel", "10.101.0.0/20"), 3);
    assert_eq!(routes_to(&dyn1, "intranet", "10.101.0.0/20"), 3);

    let list = expect(
        asiaq(&account, &config).args(["vpc", "peerings", "--list", "--name", "build"]),
        0,
    );
    let line = text(&list.stdout);
    assert!(
        line.contains("active demo<->build 10.101.0.0/16<->10.100.0.0/16")
            || line.contains("active build<->demo"),
        "{line}"
    );

    // Unconfigure connection_2: updating demo deletes its peerings with dyn1/dyn2 and routes.
    let ini = std::fs::read_to_string(config.join("disco_vpc.ini")).unwrap();
    std::fs::write(
        config.join("disco_vpc.ini"),
        ini.replace("connection_2=*:dynamic/intranet demo:sandbox/intranet", ""),
    )
    .unwrap();
    expect(
        asiaq(&account, &config).args(["vpc", "update", "--name", "demo"]),
        0,
    );
    assert_eq!(pairs(&ec2).len(), 1);
    assert_eq!(routes_to(&dyn1, "intranet", "10.101.0.0/20"), 0);
    assert_eq!(
        routes_to(&demo, "intranet", "10.100.16.0/20"),
        3,
        "build's peering kept"
    );

    // --delete removes the rest with their routes; --create makes them again.
    expect(
        asiaq(&account, &config).args(["vpc", "peerings", "--delete", "--name", "demo"]),
        0,
    );
    assert!(pairs(&ec2).is_empty());
    assert_eq!(routes_to(&build, "tunnel", "10.101.0.0/20"), 0);
    expect(
        asiaq(&account, &config).args(["vpc", "peerings", "--create", "--name", "build"]),
        0,
    );
    assert_eq!(pairs(&ec2).len(), 1);
    assert_eq!(routes_to(&build, "tunnel", "10.101.0.0/20"), 3);

    // Destroying a peered environment deletes the peering and the peer's routes to it.
    expect(
        asiaq(&account, &config).args(["vpc", "destroy", "--name", "build"]),
        0,
    );
    assert!(pairs(&ec2).is_empty());
    assert_eq!(routes_to(&demo, "intranet", "10.100.16.0/20"), 0);
}

/// `peerings --delete` deletes only what asiaq made: a peering someone else made between
/// the same VPCs stays. Beyond one sandbox it asks first (no terminal: exit 2, naming
/// --yes, nothing deleted). `peerings --create` fails, changing nothing, when one
/// environment's configuration does not load.
#[test]
fn peerings_delete_only_asiaq_ones_and_create_fails_on_bad_config() {
    let account = Moto::shared().new_account();
    let (_tmp, config) = config_copy();
    let ec2 = Ec2::new(&account);
    expect(
        asiaq(&account, &config).args(["vpc", "create", "--type", "sandbox", "--name", "demo"]),
        0,
    );
    expect(
        asiaq(&account, &config).args([
            "vpc",
            "create",
            "--type",
            "sandbox",
            "--name",
            "build",
            "--skip-enis",
        ]),
        0,
    );
    assert_eq!(
        ec2.live_peerings().len(),
        1,
        "build peers with demo at creation"
    );
    let (demo, build) = (ec2.vpc_id("demo"), ec2.vpc_id("build"));
    let foreign = ec2
        .rt
        .block_on(
            ec2.client
                .create_vpc_peering_connection()
                .vpc_id(&demo)
                .peer_vpc_id(&build)
                .send(),
        )
        .unwrap()
        .vpc_peering_connection
        .and_then(|p| p.vpc_peering_connection_id)
        .unwrap();
    let live = |ec2: &Ec2| -> Vec<String> {
        let mut v: Vec<String> = ec2
            .live_peerings()
            .iter()
            .filter_map(|p| p.vpc_peering_connection_id().map(str::to_string))
            .collect();
        v.sort();
        v
    };
    assert_eq!(live(&ec2).len(), 2);

    // A broken environment configuration stops --create before any change.
    let ini = std::fs::read_to_string(config.join("disco_vpc.ini")).unwrap();
    append(&config, "[env:build]\nvpc_cidr=not-a-cidr\n");
    let out = expect(
        asiaq(&account, &config)
            .env("ASIAQ_INJECT_FAULT", "mutating:1")
            .args(["vpc", "peerings", "--create"]),
        2,
    );
    let err = text(&out.stderr);
    assert!(err.contains("build") && err.contains("not-a-cidr"), "{err}");
    assert!(!err.contains("fault injected"), "{err}");
    std::fs::write(config.join("disco_vpc.ini"), &ini).unwrap();

    // Every asiaq peering of the region: asked first; no terminal and no --yes refuses.
    let out = expect(
        asiaq(&account, &config).args(["vpc", "peerings", "--delete"]),
        2,
    );
    assert!(text(&out.stderr).contains("--yes"), "{}", text(&out.stderr));
    assert_eq!(live(&ec2).len(), 2, "nothing deleted without confirmation");
    let out = expect(
        asiaq(&account, &config).args(["vpc", "peerings", "--delete", "--yes"]),
        0,
    );
    assert!(
        text(&out.stderr).contains(&format!("{foreign}: not made by asiaq")),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        live(&ec2),
        vec![foreign.clone()],
        "only asiaq's peering deleted"
    );
}

#[test]
fn bad_input_exits_2_without_mutating() {
    let account = Moto::shared().new_account();
    let (_tmp, config) = config_copy();
    let ec2 = Ec2::new(&account);
    let bad = |args: &[&str], cfg: &Path, needle: &str| {
        let out = expect(
            asiaq(&account, cfg)
                .env("ASIAQ_INJECT_FAULT", "mutating:1")
                .args(args),
            2,
        );
        assert!(
            text(&out.stderr).contains(needle),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(!text(&out.stderr).contains("fault injected"));
    };
    bad(
        &["vpc", "create", "--type", "nosuch", "--name", "x1"],
        &config,
        "nosuch",
    );
    bad(
        &[
            "vpc", "create", "--type", "sandbox", "--name", "x1", "--tag", "novalue",
        ],
        &config,
        "--tag",
    );
    bad(
        &["vpc", "create", "--type", "sandbox", "--name", "x_1"],
        &config,
        "\"_\"",
    );
    let broken = config.join("../broken");
    std::fs::create_dir_all(&broken).unwrap();
    for e in std::fs::read_dir(&config).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), broken.join(e.file_name())).unwrap();
        }
    }
    let ini = std::fs::read_to_string(broken.join("disco_vpc.ini")).unwrap();
    std::fs::write(
        broken.join("disco_vpc.ini"),
        ini.replace(
            "tunnel_sg_rules=tcp all 80 443,",
            "tunnel_sg_rules=tcp all eighty,",
        ),
    )
    .unwrap();
    bad(
        &["vpc", "create", "--type", "sandbox", "--name", "x1"],
        &broken,
        "disco_vpc.ini:",
    );
    bad(
        &[
            "vpc", "peerings", "--list", "--name", "a", "--vpc-id", "vpc-1",
        ],
        &config,
        "cannot be used with",
    );
    let vpcs = ec2.rt.block_on(ec2.client.describe_vpcs().send()).unwrap();
    assert!(
        vpcs.vpcs().iter().all(|v| tag(v.tags(), "Name").is_none()),
        "no VPC was made"
    );
}

/// Every N over the whole create sequence: the create fails at its N-th mutating call,
/// exits 1, and leaves nothing behind: nothing tagged with the environment, and nothing
/// untagged either (a create whose tagging call failed is deleted by the id it returned).
#[test]
fn create_fault_at_every_mutating_call_rolls_back() {
    let account = Moto::shared().new_account();
    let config = examples_dir().join("sandbox");
    let ec2 = Ec2::new(&account);
    let stats = tempfile::NamedTempFile::new().unwrap();
    expect(
        asiaq(&account, &config)
            .env("ASIAQ_API_STATS", stats.path())
            .args(["vpc", "create", "--type", "dynamic", "--name", "sweep"]),
        0,
    );
    let counts: serde_json::Value =
        serde_json::from_slice(&std::fs::read(stats.path()).unwrap()).unwrap();
    let mutating: u64 = counts["operations"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(op, _)| {
            let name = op.split(':').nth(1).unwrap_or("");
            !["Describe", "List", "Get"]
                .iter()
                .any(|p| name.starts_with(p))
        })
        .map(|(_, s)| s["calls"].as_u64().unwrap())
        .sum();
    assert!(mutating > 40, "{counts}");
    expect(
        asiaq(&account, &config).args(["vpc", "destroy", "--name", "sweep", "--yes"]),
        0,
    );
    assert_eq!(ec2.owned("sweep"), Vec::<String>::new());
    let before = ec2.inventory();
    for n in 1..=mutating {
        let out = expect(
            asiaq(&account, &config)
                .env("ASIAQ_INJECT_FAULT", format!("mutating:{n}"))
                .args(["vpc", "create", "--type", "dynamic", "--name", "sweep"]),
            1,
        );
        let err = text(&out.stderr);
        assert!(
            err.contains("fault injected") && err.contains("rolled back"),
            "N={n}: {err}"
        );
        assert_eq!(
            ec2.owned("sweep"),
            Vec::<String>::new(),
            "N={n}: leftovers; {err}"
        );
        assert!(ec2.vpc("sweep").is_none(), "N={n}");
        let after = ec2.inventory();
        assert_eq!(
            after.difference(&before).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "N={n}: untagged leftovers; {err}"
        );
    }
}

#[test]
fn interrupted_destroy_can_be_rerun() {
    let account = Moto::shared().new_account();
    let config = examples_dir().join("sandbox");
    let ec2 = Ec2::new(&account);
    for n in [1, 7, 20] {
        expect(
            asiaq(&account, &config).args(["vpc", "create", "--type", "sandbox", "--name", "demo"]),
            0,
        );
        let out = expect(
            asiaq(&account, &config)
                .env("ASIAQ_INJECT_FAULT", format!("mutating:{n}"))
                .args(["vpc", "destroy", "--name", "demo"]),
            1,
        );
        assert!(text(&out.stderr).contains("run the destroy again"));
        expect(
            asiaq(&account, &config).args(["vpc", "destroy", "--name", "demo"]),
            0,
        );
        assert!(ec2.vpc("demo").is_none(), "N={n}");
        assert_eq!(ec2.owned("demo"), Vec::<String>::new(), "N={n}");
        assert!(ec2.addresses().is_empty(), "N={n}");
    }
}

/// A VPN gateway tagged with the environment's name is attached at create, routed to by
/// `<net>_vgw_routes`, and only detached (kept) at destroy.
#[test]
fn vpn_gateway_attached_routed_and_kept() {
    let account = Moto::shared().new_account();
    let (_tmp, config) = config_copy();
    let ec2 = Ec2::new(&account);
    let vgw = ec2
        .rt
        .block_on(
            ec2.client
                .create_vpn_gateway()
                .r#type(aws_sdk_ec2::types::GatewayType::Ipsec1)
                .tag_specifications(
                    aws_sdk_ec2::types::TagSpecification::builder()
                        .resource_type(aws_sdk_ec2::types::ResourceType::VpnGateway)
                        .tags(
                            aws_sdk_ec2::types::Tag::builder()
                                .key("Name")
                                .value("office")
                                .build(),
                        )
                        .build(),
                )
                .send(),
        )
        .unwrap()
        .vpn_gateway
        .and_then(|g| g.vpn_gateway_id)
        .unwrap();
    append(&config, "[env:office]\nintranet_vgw_routes=192.0.2.0/24\n");
    expect(
        asiaq(&account, &config).args(["vpc", "create", "--type", "sandbox", "--name", "office"]),
        0,
    );
    let vpc = ec2.vpc_id("office");
    let attached = |ec2: &Ec2| -> Vec<(String, String)> {
        let out = ec2
            .rt
            .block_on(
                ec2.client
                    .describe_vpn_gateways()
                    .vpn_gateway_ids(&vgw)
                    .send(),
            )
            .unwrap();
        out.vpn_gateways()[0]
            .vpc_attachments()
            .iter()
            .map(|a| {
                (
                    a.vpc_id().unwrap_or_default().to_string(),
                    a.state()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                )
            })
            .collect()
    };
    assert!(
        attached(&ec2).contains(&(vpc.clone(), "attached".to_string())),
        "{:?}",
        attached(&ec2)
    );
    let vgw_routes: Vec<String> = ec2
        .route_tables(&vpc)
        .iter()
        .filter(|t| tag(t.tags(), "meta_network") == Some("intranet"))
        .flat_map(|t| t.routes().to_vec())
        .filter(|r| r.gateway_id() == Some(vgw.as_str()))
        .filter_map(|r| r.destination_cidr_block().map(str::to_string))
        .collect();
    assert_eq!(vgw_routes, vec!["192.0.2.0/24"; 3]);
    expect(
        asiaq(&account, &config).args(["vpc", "destroy", "--name", "office"]),
        0,
    );
    assert!(ec2.vpc("office").is_none());
    assert!(
        !attached(&ec2)
            .iter()
            .any(|(v, state)| v == &vpc && state == "attached"),
        "detached"
    );
}

/// `vpc destroy` tears down what is in the environment, instances included, as the
/// original did; a non-sandbox environment needs a confirmation or --yes.
#[test]
fn destroy_takes_instances_along_and_asks_for_production() {
    let account = Moto::shared().new_account();
    let config = examples_dir().join("sandbox");
    let ec2 = Ec2::new(&account);
    expect(
        asiaq(&account, &config).args([
            "vpc",
            "create",
            "--type",
            "production",
            "--name",
            "prod",
            "--skip-enis",
        ]),
        0,
    );
    let vpc = ec2.vpc_id("prod");
    let subnet = ec2.subnets(&vpc)[0].subnet_id().unwrap().to_string();
    ec2.rt
        .block_on(
            ec2.client
                .run_instances()
                .image_id("ami-12345678")
                .min_count(1)
                .max_count(1)
                .subnet_id(&subnet)
                .send(),
        )
        .unwrap();
    // The dry run shows the instance among what goes; nothing changes.
    let dry = expect(
        asiaq(&account, &config).args(["vpc", "destroy", "--name", "prod", "--dry-run"]),
        0,
    );
    assert!(
        text(&dry.stdout).contains("terminate"),
        "{}",
        text(&dry.stdout)
    );
    // Not a sandbox: without --yes and without a terminal, it refuses (exit 2, naming
    // --yes), with or without --force, and changes nothing.
    for args in [
        &["vpc", "destroy", "--name", "prod"][..],
        &["vpc", "destroy", "--name", "prod", "--force"][..],
    ] {
        let out = expect(asiaq(&account, &config).args(args), 2);
        assert!(text(&out.stderr).contains("--yes"), "{}", text(&out.stderr));
        assert!(ec2.vpc("prod").is_some());
    }
    // Confirmed: the instance is terminated first, then the network goes (spec §4.25).
    expect(
        asiaq(&account, &config).args(["vpc", "destroy", "--name", "prod", "--yes"]),
        0,
    );
    assert!(ec2.vpc("prod").is_none());
    assert_eq!(ec2.owned("prod"), Vec::<String>::new());
}

#[test]
fn eip_allocate_list_release() {
    let account = Moto::shared().new_account();
    let config = examples_dir().join("sandbox");
    let ec2 = Ec2::new(&account);
    let a = expect(asiaq(&account, &config).args(["eip", "allocate"]), 0);
    let ip = text(&a.stdout).trim().to_string();
    let b = expect(asiaq(&account, &config).args(["eip", "allocate"]), 0);
    let ip2 = text(&b.stdout).trim().to_string();
    assert_eq!(ec2.addresses().len(), 2);
    let list = expect(asiaq(&account, &config).args(["eip", "list"]), 0);
    let lines: Vec<String> = text(&list.stdout).lines().map(str::to_string).collect();
    let mut want = vec![format!("{ip}\t-"), format!("{ip2}\t-")];
    want.sort_by_key(|l| {
        l.split('\t')
            .next()
            .unwrap()
            .parse::<std::net::Ipv4Addr>()
            .unwrap()
    });
    assert_eq!(lines, want);
    // Associate ip with an interface: release refuses without --force.
    let c = &ec2.client;
    let eni = ec2.rt.block_on(async {
        let vpc = c
            .create_vpc()
            .cidr_block("10.9.0.0/16")
            .send()
            .await
            .unwrap();
        let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
        let s = c
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block("10.9.0.0/24")
            .send()
            .await
            .unwrap();
        let s = s.subnet().unwrap().subnet_id().unwrap().to_string();
        let e = c
            .create_network_interface()
            .subnet_id(&s)
            .send()
            .await
            .unwrap();
        e.network_interface()
            .unwrap()
            .network_interface_id()
            .unwrap()
            .to_string()
    });
    let alloc = ec2
        .addresses()
        .iter()
        .find(|a| a.public_ip() == Some(&ip))
        .unwrap()
        .allocation_id()
        .unwrap()
        .to_string();
    ec2.rt
        .block_on(
            c.associate_address()
                .allocation_id(&alloc)
                .network_interface_id(&eni)
                .send(),
        )
        .unwrap();
    let refused = expect(
        asiaq(&account, &config).args(["eip", "release", "--eip", &ip]),
        1,
    );
    assert!(text(&refused.stderr).contains("--force"));
    assert_eq!(ec2.addresses().len(), 2);
    expect(
        asiaq(&account, &config).args(["eip", "release", "--eip", &ip, "--force"]),
        0,
    );
    expect(
        asiaq(&account, &config).args(["eip", "release", "--eip", &ip2]),
        0,
    );
    assert!(ec2.addresses().is_empty());
}

/// `vpc show --format html|svg|dot` of the example environment made on moto: the HTML page
/// renders in headless Chromium at 1600 px, not blank, without console messages; the SVG
/// is the page's picture; the DOT is a digraph; with `--diff`, a rule added to the
/// configuration is listed as pending and its metanetwork marked.
#[test]
fn the_picture_of_the_example_environment_renders_in_chromium() {
    let moto = Moto::shared();
    let account = moto.new_account();
    let (dir, config) = config_copy();
    expect(
        asiaq(&account, &config).args(["vpc", "create", "--name", "demo", "--type", "sandbox"]),
        0,
    );
    let page = dir.path().join("demo.html");
    let out = expect(
        asiaq(&account, &config)
            .args(["vpc", "show", "--name", "demo", "--format", "html", "--out"])
            .arg(&page),
        0,
    );
    assert!(text(&out.stdout).is_empty(), "the page goes to --out");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    for net in ["intranet", "tunnel", "dmz", "maintenance"] {
        assert!(html.contains(&format!("data-net=\"{net}\"")), "{net}");
    }
    let svg = text(
        &expect(
            asiaq(&account, &config).args(["vpc", "show", "--name", "demo", "--format", "svg"]),
            0,
        )
        .stdout,
    );
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1600\""));
    assert!(
        html.contains(svg.trim_end()),
        "the page holds the same picture"
    );
    let dot = text(
        &expect(
            asiaq(&account, &config).args(["vpc", "show", "--name", "demo", "--format", "dot"]),
            0,
        )
        .stdout,
    );
    assert!(dot.starts_with("digraph \"demo\" {"), "{dot}");
    assert_eq!(dot.matches("subgraph cluster_").count(), 4);
    // --out and --diff need a picture format.
    expect(
        asiaq(&account, &config).args(["vpc", "show", "--name", "demo", "--diff"]),
        2,
    );

    // Rendered by a browser: the size asked for, not blank, no console message.
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("headless Chromium (scripts/setup.sh installs Debian's chromium)");
    let shot = dir.path().join("demo.png");
    let run = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1600,1000",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", text(&run.stderr));
    let log = text(&run.stderr);
    assert!(
        !log.lines().any(|l| l.contains(":CONSOLE(")),
        "console messages: {log}"
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut buf).unwrap();
    assert_eq!((frame.width, frame.height), (1600, 1000));
    let pixels = &buf[..frame.buffer_size()];
    let step = frame.color_type.samples();
    let not_white = pixels
        .chunks(step)
        .filter(|p| p.iter().take(3).any(|&c| c < 235))
        .count();
    let total = (frame.width * frame.height) as usize;
    assert!(
        not_white * 20 > total,
        "the page looks blank: {not_white} of {total} pixels are not white"
    );

    // A rule added to the configuration: pending, and its metanetwork marked.
    let ini = std::fs::read_to_string(config.join("disco_vpc.ini")).unwrap();
    std::fs::write(
        config.join("disco_vpc.ini"),
        ini.replace(
            "tunnel_sg_rules=tcp all 80 443,",
            "tunnel_sg_rules=tcp all 80 443 8443,",
        ),
    )
    .unwrap();
    let diff = text(
        &expect(
            asiaq(&account, &config)
                .args(["vpc", "show", "--name", "demo", "--format", "svg", "--diff"]),
            0,
        )
        .stdout,
    );
    assert!(diff.contains("Pending changes (vpc update): "), "{diff}");
    assert!(diff.contains("8443"), "{diff}");
    assert!(diff.contains("class=\"row-box tunnel changed\""), "{diff}");
    assert!(
        !diff.contains("class=\"row-box intranet changed\""),
        "{diff}"
    );
}
