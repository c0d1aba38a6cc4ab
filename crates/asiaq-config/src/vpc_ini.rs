//! `disco_vpc.ini`: `[envtype:<type>]`, `[env:<name>]` and `[peerings]` (spec §3.2), and
//! the typed description of one environment's network.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use asiaq_core::syntax::{
    self, MetaNetworkCidr, MetaNetworkName, NatGatewaySpec, PeeringEndpoint, PortRange, SgRuleSpec,
    SgSource, StaticIp,
};
use ipnet::Ipv4Net;
use serde::Serialize;

use crate::diag::Diagnostic;
use crate::ini::{IniFile, Value};

/// `disco_vpc.ini`.
#[derive(Debug, Clone)]
pub struct VpcIni {
    ini: IniFile,
}

/// Where a value was written, for errors found later (e.g. while applying).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Origin {
    pub path: std::path::PathBuf,
    pub line: usize,
    pub section: String,
    pub key: String,
}

impl Origin {
    fn of(v: &Value) -> Self {
        Origin {
            path: v.path.clone(),
            line: v.line,
            section: v.section.clone(),
            key: v.key.clone(),
        }
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: [{}] {}",
            self.path.display(),
            self.line,
            self.section,
            self.key
        )
    }
}

/// How the VPC CIDR is chosen (spec §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum VpcCidrSpec {
    /// `vpc_cidr`.
    Static(Ipv4Net),
    /// `ip_space` + `vpc_cidr_size`: a random free block.
    Random { ip_space: Ipv4Net, size: u8 },
}

/// Everything configured for one metanetwork of an environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetaNetworkSpec {
    pub name: MetaNetworkName,
    pub cidr: MetaNetworkCidr,
    pub sg_rules: Vec<SgRuleSpec>,
    pub igw_routes: Vec<Ipv4Net>,
    pub vgw_routes: Vec<Ipv4Net>,
    pub nat_gateways: NatGatewaySpec,
}

/// DHCP options of an environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DhcpSpec {
    pub internal_dns: Option<String>,
    pub external_dns: Option<String>,
    pub domain_name: Option<String>,
    /// `ntp_server`: up to four IPs or hostnames.
    pub ntp_servers: Vec<String>,
    /// `ntp_server_metanetwork` + `ntp_server_offset`, used only without `ntp_server`.
    pub ntp_by_offset: Option<(MetaNetworkName, StaticIp)>,
}

/// One environment's network, resolved from `[env:<name>]` then `[envtype:<type>]` then
/// `[peerings]` (the original's `DiscoVPC.get_config`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvironmentSpec {
    pub name: String,
    pub env_type: String,
    pub vpc_cidr: VpcCidrSpec,
    /// Configured metanetworks, in the fixed order intranet, tunnel, dmz, maintenance.
    pub metanetworks: Vec<MetaNetworkSpec>,
    pub customer_ports: Vec<PortRange>,
    pub customer_cidrs: Vec<Ipv4Net>,
    pub nat_gateway_routes: Vec<(MetaNetworkName, MetaNetworkName)>,
    pub dhcp: DhcpSpec,
    /// `ami_stage`: comma list, best first.
    pub ami_stages: Vec<String>,
    pub credential_buckets: Vec<String>,
    pub application: Option<String>,
    /// Where each option used was written (`option name -> origin`).
    pub origins: BTreeMap<String, Origin>,
}

impl EnvironmentSpec {
    pub fn metanetwork(&self, name: MetaNetworkName) -> Option<&MetaNetworkSpec> {
        self.metanetworks.iter().find(|m| m.name == name)
    }

    /// Where option `key` of this environment was written, as `file:line: [section] key`,
    /// or `disco_vpc.ini` defaults when it was not.
    pub fn origin(&self, key: &str) -> String {
        self.origins
            .get(key)
            .map(ToString::to_string)
            .unwrap_or_else(|| format!("{key} (not set)"))
    }

    /// Credential bucket names (spec §4.13): `{region}.{project}.credentials.{postfix}` in
    /// us-west-2, `{region}--{project}--credentials--{postfix}` elsewhere.
    pub fn credential_bucket_names(&self, region: &str, project: &str) -> Vec<String> {
        self.credential_buckets
            .iter()
            .map(|postfix| credential_bucket_name(region, project, postfix))
            .collect()
    }
}

/// One credential bucket name (spec §4.13).
pub fn credential_bucket_name(region: &str, project: &str, postfix: &str) -> String {
    if region == "us-west-2" {
        format!("{region}.{project}.credentials.{postfix}")
    } else {
        format!("{region}--{project}--credentials--{postfix}")
    }
}

/// One `[peerings] connection_N`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeeringConnectionSpec {
    pub key: String,
    pub a: PeeringEndpoint,
    pub b: PeeringEndpoint,
    pub origin: Origin,
}

/// Options an environment may set; anything else in an `env:`/`envtype:` section is
/// reported as a warning (a typo would otherwise be silently ignored).
fn is_known_env_option(key: &str) -> bool {
    const PLAIN: [&str; 17] = [
        "vpc_cidr",
        "ip_space",
        "vpc_cidr_size",
        "customer_ports",
        "customer_cidr",
        "nat_gateway_routes",
        "internal_dns",
        "external_dns",
        "domain_name",
        "ntp_server",
        "ntp_server_metanetwork",
        "ntp_server_offset",
        "ami_stage",
        "credential_buckets",
        "application",
        "tunnel_key",
        "environment_class",
    ];
    const PER_NET: [&str; 5] = [
        "_cidr",
        "_sg_rules",
        "_igw_routes",
        "_vgw_routes",
        "_nat_gateways",
    ];
    PLAIN.contains(&key)
        || MetaNetworkName::ALL.iter().any(|n| {
            key.strip_prefix(n.as_str())
                .is_some_and(|rest| PER_NET.contains(&rest))
        })
}

impl VpcIni {
    pub fn new(ini: IniFile) -> Self {
        VpcIni { ini }
    }

    pub fn ini(&self) -> &IniFile {
        &self.ini
    }

    /// `DiscoVPC.get_config(opt)`: `[env:<name>] opt` → `[envtype:<type>] opt` →
    /// `[peerings] opt`.
    pub fn get(&self, name: &str, env_type: &str, opt: &str) -> Option<Value> {
        self.ini
            .get(&format!("env:{name}"), opt)
            .or_else(|| self.ini.get(&format!("envtype:{env_type}"), opt))
            .or_else(|| self.ini.get("peerings", opt))
    }

    /// The `envtype:` names, in file order.
    pub fn env_types(&self) -> Vec<&str> {
        self.ini
            .sections()
            .filter_map(|s| s.name.strip_prefix("envtype:"))
            .collect()
    }

    /// The `env:` names, in file order.
    pub fn env_names(&self) -> Vec<&str> {
        self.ini
            .sections()
            .filter_map(|s| s.name.strip_prefix("env:"))
            .collect()
    }

    pub fn has_env_type(&self, env_type: &str) -> bool {
        self.ini.has_section(&format!("envtype:{env_type}"))
    }

    /// Resolves and checks the network of environment `name` of type `env_type`. Every
    /// problem is reported, each at the line of the value at fault.
    pub fn environment(
        &self,
        name: &str,
        env_type: &str,
    ) -> Result<EnvironmentSpec, Vec<Diagnostic>> {
        self.resolve(Some(name), env_type)
    }

    /// [`Self::environment`] for an environment `name` (`None`: the envtype on its own, as
    /// `check` validates it, with no `[env:]` overrides).
    fn resolve(
        &self,
        name: Option<&str>,
        env_type: &str,
    ) -> Result<EnvironmentSpec, Vec<Diagnostic>> {
        let subject = match name {
            Some(n) => format!("environment {n:?} (type {env_type})"),
            None => format!("environment type {env_type}"),
        };
        let lookup = |opt: &str| match name {
            Some(n) => self.get(n, env_type, opt),
            None => self
                .ini
                .get(&format!("envtype:{env_type}"), opt)
                .or_else(|| self.ini.get("peerings", opt)),
        };
        let mut errors = Vec::new();
        let mut origins = BTreeMap::new();
        if !self.has_env_type(env_type) {
            errors.push(Diagnostic::error(
                self.ini.path(),
                None,
                format!("environment type {env_type:?} has no [envtype:{env_type}] section"),
                Some(format!("one of: {}", self.env_types().join(", "))),
            ));
            return Err(errors);
        }
        let mut get = |opt: &str| {
            let v = lookup(opt);
            if let Some(v) = &v {
                origins.insert(opt.to_string(), Origin::of(v));
            }
            v
        };
        fn parse<T>(
            v: Option<&Value>,
            errors: &mut Vec<Diagnostic>,
            f: impl FnOnce(&str) -> Result<T, syntax::SyntaxError>,
        ) -> Option<T> {
            let v = v?;
            match v.parse(f) {
                Ok(t) => Some(t),
                Err(d) => {
                    errors.push(d);
                    None
                }
            }
        }

        let vpc_cidr_v = get("vpc_cidr");
        let ip_space_v = get("ip_space");
        let size_v = get("vpc_cidr_size");
        let vpc_cidr = match (&vpc_cidr_v, &ip_space_v, &size_v) {
            (Some(v), _, _) => {
                parse(Some(v), &mut errors, syntax::parse_network_cidr).map(VpcCidrSpec::Static)
            }
            (None, Some(space), Some(size)) => {
                let space = parse(Some(space), &mut errors, syntax::parse_cidr).map(|n| n.trunc());
                let size_n = parse(Some(size), &mut errors, |t| {
                    t.trim()
                        .parse::<u8>()
                        .ok()
                        .filter(|n| *n <= 28)
                        .ok_or_else(|| {
                            syntax::SyntaxError::new(
                                format!("{t:?} is not a prefix length"),
                                "a prefix length between 16 and 28, like 20",
                            )
                        })
                });
                match (space, size_n) {
                    (Some(s), Some(n)) if n < s.prefix_len() => {
                        errors.push(size.error(
                            format!("/{n} is larger than ip_space {s}"),
                            Some(format!("a prefix length of at least {}", s.prefix_len())),
                        ));
                        None
                    }
                    (Some(ip_space), Some(size)) => Some(VpcCidrSpec::Random { ip_space, size }),
                    _ => None,
                }
            }
            _ => {
                // Spec §7.3 #9: the original's guard only fired for "no ip_space but a
                // size"; any missing piece is an error here.
                let missing = match (&ip_space_v, &size_v) {
                    (None, None) => "vpc_cidr (or ip_space and vpc_cidr_size)",
                    (None, Some(_)) => "ip_space",
                    _ => "vpc_cidr_size",
                };
                errors.push(Diagnostic::error(
                    self.ini.path(),
                    self.ini
                        .section(&format!("envtype:{env_type}"))
                        .map(|s| s.line),
                    format!("{subject} has no {missing}"),
                    Some("vpc_cidr, or ip_space together with vpc_cidr_size".into()),
                ));
                None
            }
        };

        let mut metanetworks = Vec::new();
        for net in MetaNetworkName::ALL {
            let n = net.as_str();
            let Some(cidr_v) = get(&format!("{n}_cidr")) else {
                continue;
            };
            let cidr = parse(Some(&cidr_v), &mut errors, syntax::parse_metanetwork_cidr);
            let sg_rules_v = get(&format!("{n}_sg_rules"));
            let sg_rules =
                parse(sg_rules_v.as_ref(), &mut errors, syntax::parse_sg_rules).unwrap_or_default();
            let igw_routes = parse(
                get(&format!("{n}_igw_routes")).as_ref(),
                &mut errors,
                syntax::parse_cidr_list,
            )
            .unwrap_or_default();
            let vgw_routes = parse(
                get(&format!("{n}_vgw_routes")).as_ref(),
                &mut errors,
                syntax::parse_cidr_list,
            )
            .unwrap_or_default();
            let nat_gateways = parse(
                get(&format!("{n}_nat_gateways")).as_ref(),
                &mut errors,
                syntax::parse_nat_gateways,
            )
            .unwrap_or(NatGatewaySpec::None);
            if let Some(cidr) = cidr {
                metanetworks.push((
                    MetaNetworkSpec {
                        name: net,
                        cidr,
                        sg_rules,
                        igw_routes,
                        vgw_routes,
                        nat_gateways,
                    },
                    sg_rules_v,
                ));
            }
        }
        if metanetworks.is_empty() && errors.is_empty() {
            errors.push(Diagnostic::error(
                self.ini.path(),
                self.ini
                    .section(&format!("envtype:{env_type}"))
                    .map(|s| s.line),
                format!("{subject} has no metanetwork"),
                Some(
                    "at least one of intranet_cidr, tunnel_cidr, dmz_cidr, maintenance_cidr".into(),
                ),
            ));
        }
        // Rules may only name metanetworks this environment has (the original failed with
        // a KeyError half-way through creating the security groups).
        // Networks whose <net>_cidr is set, even to a bad value (already reported): other
        // options may name them without a second, consequential error.
        let present: Vec<MetaNetworkName> = MetaNetworkName::ALL
            .into_iter()
            .filter(|n| lookup(&format!("{n}_cidr")).is_some())
            .collect();
        for (m, v) in &metanetworks {
            for rule in &m.sg_rules {
                if let SgSource::MetaNetwork(src) = rule.source {
                    if !present.contains(&src) {
                        if let Some(v) = v {
                            errors.push(v.error(
                                format!("rule source {src} is not a metanetwork of this environment"),
                                Some(format!(
                                    "\"all\", a CIDR, or one of {}",
                                    present.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")
                                )),
                            ));
                        }
                    }
                }
            }
        }
        // Static metanetwork CIDRs must sit inside a static VPC CIDR, without overlaps.
        if let Some(VpcCidrSpec::Static(vpc)) = vpc_cidr {
            let statics: Vec<(MetaNetworkName, Ipv4Net)> = metanetworks
                .iter()
                .filter_map(|(m, _)| match m.cidr {
                    MetaNetworkCidr::Static(c) => Some((m.name, c)),
                    MetaNetworkCidr::Auto => None,
                })
                .collect();
            for (i, (n, c)) in statics.iter().enumerate() {
                let Some(v) = get(&format!("{n}_cidr")) else {
                    continue;
                };
                if !vpc.contains(c) {
                    errors.push(v.error(
                        format!("{c} is not inside the VPC CIDR {vpc}"),
                        Some(format!("a block inside {vpc}")),
                    ));
                }
                for (m, d) in &statics[i + 1..] {
                    if c.contains(d) || d.contains(c) {
                        errors.push(v.error(
                            format!("{c} overlaps {m}_cidr {d}"),
                            Some("metanetwork CIDRs that do not overlap".into()),
                        ));
                    }
                }
            }
        }

        let customer_ports = parse(
            get("customer_ports").as_ref(),
            &mut errors,
            syntax::parse_port_list,
        )
        .unwrap_or_default();
        let customer_cidrs = parse(
            get("customer_cidr").as_ref(),
            &mut errors,
            syntax::parse_cidr_list,
        )
        .unwrap_or_default();
        let routes_v = get("nat_gateway_routes");
        let nat_gateway_routes = parse(
            routes_v.as_ref(),
            &mut errors,
            syntax::parse_nat_gateway_routes,
        )
        .unwrap_or_default();
        if let Some(v) = &routes_v {
            for (src, dst) in &nat_gateway_routes {
                for net in [src, dst] {
                    if !present.contains(net) {
                        errors.push(v.error(
                            format!("{net} is not a metanetwork of this environment"),
                            Some("metanetworks that have a <net>_cidr".into()),
                        ));
                    }
                }
                let dst_has_nat = lookup(&format!("{dst}_nat_gateways"))
                    .is_some_and(|v| !v.text.trim().is_empty());
                if present.contains(dst) && !dst_has_nat {
                    errors.push(v.error(
                        format!("{src}/{dst} routes through {dst}, which has no NAT gateways"),
                        Some(format!("{dst}_nat_gateways set to auto or a list of EIPs")),
                    ));
                }
            }
        }

        let text = |v: Option<Value>| v.map(|v| v.text).filter(|t| !t.is_empty());
        let ntp_v = get("ntp_server");
        let ntp_servers: Vec<String> = ntp_v
            .as_ref()
            .map(|v| v.text.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();
        if let Some(v) = &ntp_v {
            if ntp_servers.len() > 4 {
                errors.push(v.error(
                    format!("{} NTP servers given", ntp_servers.len()),
                    Some("at most four IP addresses or host names".into()),
                ));
            }
        }
        let ntp_net_v = get("ntp_server_metanetwork");
        let ntp_off_v = get("ntp_server_offset");
        let ntp_by_offset = match (&ntp_net_v, &ntp_off_v) {
            (Some(n), Some(o)) => {
                let net = parse(Some(n), &mut errors, |t| {
                    t.trim().parse::<MetaNetworkName>()
                });
                let off = parse(Some(o), &mut errors, |t| t.parse::<StaticIp>());
                if let Some(net) = net {
                    if !present.contains(&net) {
                        errors.push(n.error(
                            format!("{net} is not a metanetwork of this environment"),
                            Some("a metanetwork that has a <net>_cidr".into()),
                        ));
                    }
                }
                net.zip(off)
            }
            (Some(v), None) | (None, Some(v)) => {
                errors.push(v.error(
                    "ntp_server_metanetwork and ntp_server_offset must be given together",
                    Some("both options, or neither".into()),
                ));
                None
            }
            (None, None) => None,
        };
        let dhcp = DhcpSpec {
            internal_dns: text(get("internal_dns")),
            external_dns: text(get("external_dns")),
            domain_name: text(get("domain_name")),
            ntp_servers,
            ntp_by_offset,
        };
        let ami_stages = get("ami_stage")
            .map(|v| {
                v.text
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let credential_buckets = get("credential_buckets")
            .map(|v| v.text.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();
        let application = text(get("application"));

        match (errors.is_empty(), vpc_cidr) {
            (true, Some(vpc_cidr)) => Ok(EnvironmentSpec {
                name: name.unwrap_or(env_type).to_string(),
                env_type: env_type.to_string(),
                vpc_cidr,
                metanetworks: metanetworks.into_iter().map(|(m, _)| m).collect(),
                customer_ports,
                customer_cidrs,
                nat_gateway_routes,
                dhcp,
                ami_stages,
                credential_buckets,
                application,
                origins,
            }),
            _ => Err(errors),
        }
    }

    /// All `[peerings] connection_*` entries.
    pub fn peerings(&self) -> Result<Vec<PeeringConnectionSpec>, Vec<Diagnostic>> {
        let Some(section) = self.ini.section("peerings") else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let mut errors = Vec::new();
        for (key, _) in section.entries() {
            if !key.starts_with("connection_") {
                continue;
            }
            let Some(v) = self.ini.get("peerings", key) else {
                continue;
            };
            match v.parse(syntax::parse_peering_connection) {
                Ok((a, b)) => {
                    for end in [&a, &b] {
                        if !self.has_env_type(&end.vpc_type) {
                            errors.push(v.error(
                                format!("endpoint {end} names VPC type {:?}, which has no [envtype:{}] section", end.vpc_type, end.vpc_type),
                                Some(format!("one of: {}", self.env_types().join(", "))),
                            ));
                        }
                    }
                    if a == b {
                        errors.push(v.error(
                            format!("connects {a} to itself"),
                            Some("two different endpoints".into()),
                        ));
                    }
                    out.push(PeeringConnectionSpec {
                        key: key.to_string(),
                        a,
                        b,
                        origin: Origin::of(&v),
                    });
                }
                Err(d) => errors.push(d),
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    /// Problems that do not depend on one environment: unknown options, each envtype's
    /// network (checked under a placeholder name), `env:` sections, peerings.
    pub fn check(&self) -> Vec<Diagnostic> {
        let mut out = self.ini.interpolation_problems();
        for section in self.ini.sections() {
            let known_section = section.name.starts_with("envtype:")
                || section.name.starts_with("env:")
                || section.name == "peerings";
            if !known_section {
                out.push(Diagnostic::warning(
                    self.ini.path(),
                    Some(section.line),
                    format!("section [{}] is not read by asiaq", section.name),
                    Some("[envtype:<type>], [env:<vpc name>] or [peerings]".into()),
                ));
                continue;
            }
            if section.name == "peerings" {
                continue;
            }
            for (key, entry) in section.entries() {
                if !is_known_env_option(key) {
                    out.push(Diagnostic::warning(
                        self.ini.path(),
                        Some(entry.line),
                        format!("[{}] {}: unknown option (ignored)", section.name, entry.key),
                        None,
                    ));
                }
            }
        }
        for env_type in self.env_types() {
            if let Err(errs) = self.resolve(None, env_type) {
                out.extend(errs);
            }
        }
        for name in self.env_names() {
            let line = self.ini.section(&format!("env:{name}")).map(|s| s.line);
            if let Err(e) = asiaq_core::syntax::check_name("environment", name) {
                out.push(Diagnostic::error(
                    self.ini.path(),
                    line,
                    e.message,
                    Some(e.expected),
                ));
            } else if name.contains('_') {
                out.push(Diagnostic::error(
                    self.ini.path(),
                    line,
                    format!("environment name {name:?} contains \"_\""),
                    Some("a VPC name without \"_\" (alarm names are split on it)".into()),
                ));
            }
        }
        if let Err(errs) = self.peerings() {
            out.extend(errs);
        }
        out
    }

    /// A check of the static EIP list of a metanetwork against the subnet count, used by
    /// the environment code once it knows how many AZ subnets the network has.
    pub fn static_nat_eips(spec: &MetaNetworkSpec) -> Option<&[Ipv4Addr]> {
        match &spec.nat_gateways {
            NatGatewaySpec::Static(ips) => Some(ips),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vpc(text: &str) -> VpcIni {
        VpcIni::new(IniFile::parse("disco_vpc.ini", text).unwrap())
    }

    const SAMPLE: &str = "\
[envtype:sandbox]
vpc_cidr=10.101.0.0/16
intranet_cidr=10.101.0.0/20
tunnel_cidr=10.101.16.0/20
dmz_cidr=10.101.32.0/20
maintenance_cidr=10.101.48.0/20
application=test
tunnel_sg_rules=tcp all 80 443, tcp maintenance 22, udp all 123
tunnel_igw_routes=0.0.0.0/0
intranet_sg_rules=tcp all 0:65535, udp intranet 0:65535, tcp dmz 2181
dmz_sg_rules=tcp maintenance 22 3212
maintenance_sg_rules=tcp maintenance 22, tcp 54.201.1.1/32 0:65535
ntp_server=10.101.16.5
internal_dns=AmazonProvidedDNS
external_dns=AmazonProvidedDNS
domain_name=us-west-2.compute.internal
ami_stage=tested
customer_ports=80 443
customer_cidr=0.0.0.0/0
credential_buckets=ci shared
[env:ci]
application=ci-app
[envtype:dynamic]
ip_space=10.0.0.0/16
vpc_cidr_size=20
intranet_cidr=auto
tunnel_cidr=auto
tunnel_nat_gateways=auto
nat_gateway_routes=intranet/tunnel
[peerings]
connection_1=build/tunnel ci/intranet
";

    #[test]
    fn lookup_env_then_envtype_then_peerings() {
        let v = vpc(&SAMPLE.replace(
            "connection_1=build/tunnel ci/intranet",
            "connection_1=ci:sandbox/intranet other:sandbox/tunnel\nshared=from-peerings",
        ));
        assert_eq!(
            v.get("ci", "sandbox", "application").unwrap().text,
            "ci-app"
        );
        assert_eq!(v.get("qa", "sandbox", "application").unwrap().text, "test");
        assert_eq!(
            v.get("qa", "sandbox", "shared").unwrap().text,
            "from-peerings"
        );
        assert!(v.get("qa", "sandbox", "nothing").is_none());
    }

    #[test]
    fn sandbox_environment_resolves() {
        let v = vpc(SAMPLE);
        let e = v.environment("ci", "sandbox").unwrap();
        assert_eq!(
            e.vpc_cidr,
            VpcCidrSpec::Static("10.101.0.0/16".parse().unwrap())
        );
        assert_eq!(e.metanetworks.len(), 4);
        let tunnel = e.metanetwork(MetaNetworkName::Tunnel).unwrap();
        assert_eq!(tunnel.sg_rules.len(), 3);
        assert_eq!(
            tunnel.igw_routes,
            vec!["0.0.0.0/0".parse::<Ipv4Net>().unwrap()]
        );
        assert_eq!(e.application.as_deref(), Some("ci-app"));
        assert_eq!(e.ami_stages, vec!["tested"]);
        assert_eq!(e.dhcp.ntp_servers, vec!["10.101.16.5"]);
        assert_eq!(e.customer_ports.len(), 2);
        assert!(e.origin("application").contains("[env:ci] application"));
    }

    #[test]
    fn dynamic_environment_resolves() {
        let v = vpc(SAMPLE);
        let e = v.environment("x", "dynamic").unwrap();
        assert_eq!(
            e.vpc_cidr,
            VpcCidrSpec::Random {
                ip_space: "10.0.0.0/16".parse().unwrap(),
                size: 20
            }
        );
        assert_eq!(
            e.nat_gateway_routes,
            vec![(MetaNetworkName::Intranet, MetaNetworkName::Tunnel)]
        );
    }

    #[test]
    fn credential_bucket_naming_region_rule() {
        let e = vpc(SAMPLE).environment("ci", "sandbox").unwrap();
        assert_eq!(
            e.credential_bucket_names("us-west-2", "sample_project"),
            vec![
                "us-west-2.sample_project.credentials.ci",
                "us-west-2.sample_project.credentials.shared"
            ]
        );
        assert_eq!(
            e.credential_bucket_names("us-east-1", "p"),
            vec![
                "us-east-1--p--credentials--ci",
                "us-east-1--p--credentials--shared"
            ]
        );
    }

    fn errors(text: &str, name: &str, ty: &str) -> Vec<String> {
        vpc(text)
            .environment(name, ty)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn missing_ip_space_or_size_is_an_error() {
        let e = errors(
            "[envtype:d]\nvpc_cidr_size=20\nintranet_cidr=auto\n",
            "x",
            "d",
        );
        assert_eq!(e, vec!["disco_vpc.ini:1: environment \"x\" (type d) has no ip_space (expected vpc_cidr, or ip_space together with vpc_cidr_size)"]);
        let e = errors(
            "[envtype:d]\nip_space=10.0.0.0/16\nintranet_cidr=auto\n",
            "x",
            "d",
        );
        assert!(e[0].contains("has no vpc_cidr_size"), "{e:?}");
    }

    #[test]
    fn bad_values_name_their_lines() {
        let e = errors(
            "[envtype:d]\nvpc_cidr=10.0.0.0/16\nintranet_cidr=10.0.0.0/33\ndmz_cidr=10.0.16.0/20\ndmz_sg_rules=tcp bogus 22\n",
            "x",
            "d",
        );
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(
            e[0].starts_with("disco_vpc.ini:3: [envtype:d] intranet_cidr:"),
            "{e:?}"
        );
        assert!(
            e[1].starts_with("disco_vpc.ini:5: [envtype:d] dmz_sg_rules: unknown source \"bogus\""),
            "{e:?}"
        );
    }

    #[test]
    fn rule_source_must_be_a_present_metanetwork() {
        let e = errors(
            "[envtype:d]\nvpc_cidr=10.0.0.0/16\nintranet_cidr=10.0.0.0/20\nintranet_sg_rules=tcp dmz 22\n",
            "x",
            "d",
        );
        assert_eq!(e.len(), 1);
        assert!(e[0].contains(":4: [envtype:d] intranet_sg_rules: rule source dmz is not a metanetwork of this environment"), "{e:?}");
    }

    #[test]
    fn static_cidr_outside_vpc_and_overlap() {
        let e = errors(
            "[envtype:d]\nvpc_cidr=10.0.0.0/16\nintranet_cidr=10.1.0.0/20\ndmz_cidr=10.0.0.0/20\ntunnel_cidr=10.0.0.0/21\n",
            "x",
            "d",
        );
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].contains("intranet_cidr: 10.1.0.0/20 is not inside the VPC CIDR 10.0.0.0/16"));
        assert!(
            e[1].contains("tunnel_cidr: 10.0.0.0/21 overlaps dmz_cidr 10.0.0.0/20"),
            "{e:?}"
        );
    }

    #[test]
    fn nat_route_needs_nat_gateways_at_destination() {
        let e = errors(
            "[envtype:d]\nvpc_cidr=10.0.0.0/16\nintranet_cidr=10.0.0.0/20\ntunnel_cidr=10.0.16.0/20\nnat_gateway_routes=intranet/tunnel\n",
            "x",
            "d",
        );
        assert_eq!(e.len(), 1);
        assert!(e[0].contains(":5: [envtype:d] nat_gateway_routes: intranet/tunnel routes through tunnel, which has no NAT gateways"), "{e:?}");
    }

    #[test]
    fn unknown_envtype() {
        let e = errors(SAMPLE, "x", "nope");
        assert!(e[0].contains("environment type \"nope\" has no [envtype:nope] section (expected one of: sandbox, dynamic)"), "{e:?}");
    }

    #[test]
    fn peerings_parse_and_check_types() {
        let v = vpc(SAMPLE);
        let errs: Vec<String> = v
            .peerings()
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        // build and ci are not envtypes in SAMPLE: the type defaults to the name.
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs[0].contains("endpoint build:build/tunnel names VPC type \"build\""));
        let ok = vpc(&SAMPLE.replace(
            "build/tunnel ci/intranet",
            "*:dynamic/intranet ci:sandbox/intranet",
        ));
        let p = ok.peerings().unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].a.to_string(), "*:dynamic/intranet");
        assert_eq!(p[0].origin.line, 31);
    }

    #[test]
    fn check_warns_on_unknown_options() {
        let v = vpc("[envtype:d]\nvpc_cidr=10.0.0.0/16\nintranet_cidr=10.0.0.0/20\nintranet_sg_rule=tcp all 22\n[bogus]\n");
        let d: Vec<String> = v.check().iter().map(ToString::to_string).collect();
        assert!(
            d.iter()
                .any(|m| m.contains(":4: warning: [envtype:d] intranet_sg_rule: unknown option")),
            "{d:?}"
        );
        assert!(
            d.iter()
                .any(|m| m.contains(":5: warning: section [bogus] is not read")),
            "{d:?}"
        );
    }
}
