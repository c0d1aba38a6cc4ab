//! An environment's configuration as the VPC planner wants it: the `disco_vpc.ini`
//! environment spec as an [`EnvConfig`], the static IPs of `disco_aws.ini` hostclasses,
//! and the `[peerings]` pairs.

use asiaq_core::sg_rules::CustomerAccess;
use asiaq_core::syntax::{self, MetaNetworkName, PeeringEndpoint};
use asiaq_core::vpc::reconcile::{DhcpConfig, EnvConfig, NetConfig, StaticIpRequest, VpcCidr};

use crate::dir::files;
use crate::vpc_ini::{EnvironmentSpec, VpcCidrSpec};
use crate::{AwsIni, ConfigDir, ConfigError, Diagnostic, VpcIni};

/// The environment's configuration as the planner wants it, with `extra_tags` on the VPC.
pub fn env_config(spec: &EnvironmentSpec, extra_tags: Vec<(String, String)>) -> EnvConfig {
    EnvConfig {
        name: spec.name.clone(),
        env_type: spec.env_type.clone(),
        vpc_cidr: match spec.vpc_cidr {
            VpcCidrSpec::Static(c) => VpcCidr::Static(c),
            VpcCidrSpec::Random { ip_space, size } => VpcCidr::Random { ip_space, size },
        },
        nets: spec
            .metanetworks
            .iter()
            .map(|m| NetConfig {
                name: m.name,
                cidr: m.cidr,
                sg_rules: m.sg_rules.clone(),
                igw_routes: m.igw_routes.clone(),
                vgw_routes: m.vgw_routes.clone(),
                nat_gateways: m.nat_gateways.clone(),
            })
            .collect(),
        customer: CustomerAccess {
            ports: spec.customer_ports.clone(),
            cidrs: spec.customer_cidrs.clone(),
        },
        nat_gateway_routes: spec.nat_gateway_routes.clone(),
        dhcp: DhcpConfig {
            internal_dns: spec.dhcp.internal_dns.clone(),
            external_dns: spec.dhcp.external_dns.clone(),
            domain_name: spec.dhcp.domain_name.clone(),
            ntp_servers: spec.dhcp.ntp_servers.clone(),
            ntp_by_offset: spec.dhcp.ntp_by_offset,
        },
        application: spec.application.clone(),
        extra_tags,
        notifications: Vec::new(),
    }
}

/// The planner's configuration of environment `name` of type `env_type` (no extra tags),
/// or its problems on one line (for the peerings of many environments).
pub fn config_of(vpc_ini: &VpcIni, name: &str, env_type: &str) -> Result<EnvConfig, String> {
    vpc_ini
        .environment(name, env_type)
        .map(|spec| env_config(&spec, Vec::new()))
        .map_err(|diags| {
            diags
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        })
}

/// The hostclasses of `aws` with an `ip_address` (looked up for its environment, so
/// `@env` keys count), each address in its `meta_network` (default intranet).
pub fn static_ips(aws: &AwsIni) -> Result<Vec<StaticIpRequest>, Vec<Diagnostic>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for hc in aws.hostclasses() {
        let Some(v) = aws.hostclass_option(hc, "ip_address") else {
            continue;
        };
        if v.text.trim().is_empty() {
            continue;
        }
        let ips = match v.parse(syntax::parse_ip_addresses) {
            Ok(ips) => ips,
            Err(d) => {
                errors.push(d);
                continue;
            }
        };
        let net = match aws.hostclass_option(hc, "meta_network") {
            Some(m) => match m.parse(|t| t.trim().parse::<MetaNetworkName>()) {
                Ok(n) => n,
                Err(d) => {
                    errors.push(d);
                    continue;
                }
            },
            None => MetaNetworkName::Intranet,
        };
        out.extend(ips.into_iter().map(|ip| StaticIpRequest {
            hostclass: hc.to_string(),
            metanetwork: net,
            ip,
        }));
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// [`static_ips`] of environment `name` from the directory's `disco_aws.ini` (none when
/// the file is absent).
pub fn env_static_ips(dir: &ConfigDir, name: &str) -> Result<Vec<StaticIpRequest>, ConfigError> {
    let aws = AwsIni::new(dir.optional_ini(files::DISCO_AWS)?, Some(name));
    static_ips(&aws).map_err(ConfigError::Invalid)
}

/// The `[peerings]` of `disco_vpc.ini` as endpoint pairs.
pub fn peering_config(
    vpc_ini: &VpcIni,
) -> Result<Vec<(PeeringEndpoint, PeeringEndpoint)>, ConfigError> {
    Ok(vpc_ini
        .peerings()
        .map_err(ConfigError::Invalid)?
        .into_iter()
        .map(|p| (p.a, p.b))
        .collect())
}

/// What `vpc create` and `vpc update` apply to an environment: its configuration, the
/// `[peerings]` of disco_vpc.ini, and the static IPs of disco_aws.ini's hostclasses.
#[derive(Debug, Clone)]
pub struct EnvironmentInputs {
    pub config: EnvConfig,
    pub peerings: Vec<(PeeringEndpoint, PeeringEndpoint)>,
    pub static_ips: Vec<StaticIpRequest>,
}

/// The [`EnvironmentInputs`] of environment `name` of type `env_type` (with `extra_tags`;
/// no static IPs unless `with_enis`), each file checked in that order.
pub fn environment_inputs(
    dir: &ConfigDir,
    vpc_ini: &VpcIni,
    name: &str,
    env_type: &str,
    extra_tags: Vec<(String, String)>,
    with_enis: bool,
) -> Result<EnvironmentInputs, ConfigError> {
    let spec = vpc_ini
        .environment(name, env_type)
        .map_err(ConfigError::Invalid)?;
    let peerings = peering_config(vpc_ini)?;
    let static_ips = if with_enis {
        env_static_ips(dir, name)?
    } else {
        Vec::new()
    };
    // The environment's SNS topics (disco_alarms.ini, which may be absent).
    let (alarms, _) = crate::alarms::AlarmsIni::load(dir)?;
    let mut config = env_config(&spec, extra_tags);
    config.notifications = alarms.desired_topics(name);
    Ok(EnvironmentInputs {
        config,
        peerings,
        static_ips,
    })
}

/// What names an environment's credential bucket (spec §4.13), read before any AWS call:
/// the environment, `[disco_aws] project_name` and disco_vpc.ini.
pub struct BucketConfig {
    pub env: String,
    pub project: String,
    pub vpc: VpcIni,
}

impl BucketConfig {
    /// The first credential bucket of the environment, once its type (the `type` tag of
    /// its VPC) is known, in `region`.
    pub fn first_bucket(&self, env_type: &str, region: &str) -> Result<String, ConfigError> {
        let spec = self
            .vpc
            .environment(&self.env, env_type)
            .map_err(ConfigError::Invalid)?;
        let first = spec
            .credential_bucket_names(region, &self.project)
            .into_iter()
            .next();
        first.ok_or_else(|| {
            ConfigError::invalid(Diagnostic::error(
                self.vpc.ini().path(),
                None,
                format!(
                    "environment {} (type {env_type}) has no credential_buckets",
                    self.env
                ),
                None,
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IniFile;

    fn aws(text: &str, env: &str) -> AwsIni {
        AwsIni::new(IniFile::parse("disco_aws.ini", text).unwrap(), Some(env))
    }

    #[test]
    fn static_ips_by_hostclass_with_env_overrides_and_default_network() {
        let a = aws(
            "[mhcnat]\nip_address=10.0.0.5 10.0.0.6\nmeta_network=tunnel\n\
             [mhcdns]\nip_address@ci=10.0.0.9\n[mhcweb]\nip_address=\n[mhcother]\nx=1\n",
            "ci",
        );
        let mut ips = static_ips(&a).unwrap();
        ips.sort_by(|x, y| x.hostclass.cmp(&y.hostclass));
        let got: Vec<(String, MetaNetworkName)> = ips
            .iter()
            .map(|r| (r.hostclass.clone(), r.metanetwork))
            .collect();
        assert_eq!(
            got,
            [
                ("mhcdns".to_string(), MetaNetworkName::Intranet),
                ("mhcnat".to_string(), MetaNetworkName::Tunnel),
                ("mhcnat".to_string(), MetaNetworkName::Tunnel),
            ]
        );
        // Another environment does not see the @ci address.
        assert_eq!(
            static_ips(&aws("[mhcdns]\nip_address@ci=10.0.0.9\n", "qa"))
                .unwrap()
                .len(),
            0
        );
    }

    #[test]
    fn the_first_credential_bucket_of_the_environment_type() {
        let vpc = |text: &str| VpcIni::new(IniFile::parse("disco_vpc.ini", text).unwrap());
        let base = "vpc_cidr=10.101.0.0/16\nintranet_cidr=10.101.0.0/20\n";
        let config = |text: String| BucketConfig {
            env: "ci".into(),
            project: "proj".into(),
            vpc: vpc(&text),
        };
        let with = config(format!(
            "[envtype:sandbox]\n{base}credential_buckets=one two\n[envtype:bare]\n{base}"
        ));
        assert_eq!(
            with.first_bucket("sandbox", "us-west-2").unwrap(),
            "us-west-2.proj.credentials.one"
        );
        assert_eq!(
            with.first_bucket("bare", "us-west-2")
                .unwrap_err()
                .to_string(),
            "disco_vpc.ini: environment ci (type bare) has no credential_buckets"
        );
        assert!(matches!(
            with.first_bucket("nothing", "us-west-2"),
            Err(ConfigError::Invalid(_))
        ));
    }

    #[test]
    fn static_ips_report_every_bad_value() {
        let errs = static_ips(&aws(
            "[mhca]\nip_address=not-an-ip\n[mhcb]\nip_address=10.0.0.1\nmeta_network=nowhere\n",
            "ci",
        ))
        .unwrap_err();
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs.iter().all(|d| d.is_error()));
    }

    #[test]
    fn env_config_and_peerings_from_disco_vpc_ini() {
        let vpc = VpcIni::new(
            IniFile::parse(
                "disco_vpc.ini",
                "[envtype:sandbox]\nvpc_cidr=10.101.0.0/16\nintranet_cidr=10.101.0.0/20\n\
                 tunnel_cidr=10.101.16.0/20\napplication=test\ncustomer_ports=80 443\n\
                 customer_cidr=0.0.0.0/0\n\
                 [peerings]\nconnection_1=ci:sandbox/intranet other:sandbox/tunnel\n",
            )
            .unwrap(),
        );
        let spec = vpc.environment("ci", "sandbox").unwrap();
        let cfg = env_config(&spec, vec![("team".into(), "astro".into())]);
        assert_eq!(cfg.name, "ci");
        assert_eq!(cfg.env_type, "sandbox");
        assert_eq!(
            cfg.vpc_cidr,
            VpcCidr::Static("10.101.0.0/16".parse().unwrap())
        );
        assert_eq!(cfg.nets.len(), spec.metanetworks.len());
        assert_eq!(cfg.customer.ports, spec.customer_ports);
        assert_eq!(cfg.application.as_deref(), Some("test"));
        assert_eq!(cfg.extra_tags, [("team".to_string(), "astro".to_string())]);
        assert_eq!(peering_config(&vpc).unwrap().len(), 1);
        assert_eq!(config_of(&vpc, "ci", "sandbox").unwrap().extra_tags, []);
        let err = config_of(&vpc, "ci", "nosuchtype").unwrap_err();
        assert!(err.contains("nosuchtype"), "{err}");
        let bad = VpcIni::new(
            IniFile::parse("disco_vpc.ini", "[peerings]\nconnection_1=nonsense\n").unwrap(),
        );
        assert!(matches!(peering_config(&bad), Err(ConfigError::Invalid(_))));
    }
}
