//! Value grammars of the asiaq configuration files (`disco_aws.ini`, `disco_vpc.ini`,
//! pipeline CSVs and CLI arguments).
//!
//! Every parser takes the raw option text (as read from the INI file, after `@env` lookup)
//! and returns a typed value or a [`SyntaxError`] that says what was wrong and what was
//! expected. The config crate adds file and line information.
//!
//! Where the original Python code and its README disagree about separators (spec §7.3 #3
//! and #4), the parsers here accept both spellings; each such decision is documented on
//! the function.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use ipnet::Ipv4Net;
use serde::Serialize;

/// A value that does not match its grammar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyntaxError {
    /// What is wrong, naming the offending text.
    pub message: String,
    /// What the grammar expects, in a form a user can copy.
    pub expected: String,
}

impl SyntaxError {
    /// Builds an error from a message and the expected form.
    pub fn new(message: impl Into<String>, expected: impl Into<String>) -> Self {
        SyntaxError {
            message: message.into(),
            expected: expected.into(),
        }
    }

    /// Prefixes the message with more context, e.g. `in size "..."`.
    #[must_use]
    pub fn context(mut self, ctx: impl fmt::Display) -> Self {
        self.message = format!("{ctx}: {}", self.message);
        self
    }
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (expected {})", self.message, self.expected)
    }
}

impl std::error::Error for SyntaxError {}

fn err<T>(message: impl Into<String>, expected: impl Into<String>) -> Result<T, SyntaxError> {
    Err(SyntaxError::new(message, expected))
}

/// Splits on whitespace and commas, dropping empty pieces.
fn split_ws_commas(v: &str) -> impl Iterator<Item = &str> {
    v.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
}

// ---------------------------------------------------------------------------------------
// Booleans
// ---------------------------------------------------------------------------------------

/// Values accepted as "true" (compared case-insensitively).
pub const TRUTHY: [&str; 6] = ["true", "yes", "t", "y", "aye", "1"];
/// Values the original defines as "false". Only a constant there; anything not truthy is
/// false.
pub const FALSY: [&str; 6] = ["false", "no", "f", "n", "nay", "0"];

/// The original's `is_truthy`: non-empty and one of `true yes t y aye 1`, case-insensitive.
/// Surrounding whitespace is ignored.
pub fn is_truthy(v: &str) -> bool {
    let v = v.trim();
    !v.is_empty() && TRUTHY.iter().any(|t| t.eq_ignore_ascii_case(v))
}

/// What a boolean option accepts, for messages.
pub const BOOLEAN_EXPECTED: &str = "true or false (also yes/no, t/f, y/n, aye/nay, 1/0, any case)";

/// A boolean option: one of [`TRUTHY`] or [`FALSY`], case-insensitive, surrounding
/// whitespace ignored. The original read any other word as false (`Ture` turned a feature
/// off without a word); here it is an error. `on`/`off` are not among them: the original
/// read `on` as false, so accepting it as true would change what a configuration does.
pub fn parse_bool(v: &str) -> Result<bool, SyntaxError> {
    let t = v.trim();
    if TRUTHY.iter().any(|w| w.eq_ignore_ascii_case(t)) {
        Ok(true)
    } else if FALSY.iter().any(|w| w.eq_ignore_ascii_case(t)) {
        Ok(false)
    } else {
        Err(SyntaxError::new(
            format!("{t:?} is not a boolean"),
            BOOLEAN_EXPECTED,
        ))
    }
}

// ---------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------

/// What environment and hostclass names are made of, for messages.
pub const NAME_EXPECTED: &str = "ASCII letters, digits, \"-\" and \"_\"";

/// An environment or hostclass name (`what` says which, for the message). These names go
/// into group, load balancer, security group and DNS names and into tags; restricting them
/// to ASCII letters, digits, `-` and `_` keeps every one of those valid (and every length
/// computed on them a count of characters).
pub fn check_name(what: &str, name: &str) -> Result<(), SyntaxError> {
    if name.is_empty() {
        return Err(SyntaxError::new(
            format!("{what} name is empty"),
            NAME_EXPECTED,
        ));
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        None => Ok(()),
        Some(c) => Err(SyntaxError::new(
            format!("{what} name {name:?} contains {c:?}"),
            NAME_EXPECTED,
        )),
    }
}

// ---------------------------------------------------------------------------------------
// Metanetworks
// ---------------------------------------------------------------------------------------

/// The four fixed metanetworks of a VPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MetaNetworkName {
    Intranet,
    Tunnel,
    Dmz,
    Maintenance,
}

impl MetaNetworkName {
    /// All metanetworks, in the deterministic order the rewrite uses everywhere
    /// (intranet, tunnel, dmz, maintenance).
    pub const ALL: [MetaNetworkName; 4] = [
        MetaNetworkName::Intranet,
        MetaNetworkName::Tunnel,
        MetaNetworkName::Dmz,
        MetaNetworkName::Maintenance,
    ];

    /// The lowercase name used in config keys and tags.
    pub fn as_str(self) -> &'static str {
        match self {
            MetaNetworkName::Intranet => "intranet",
            MetaNetworkName::Tunnel => "tunnel",
            MetaNetworkName::Dmz => "dmz",
            MetaNetworkName::Maintenance => "maintenance",
        }
    }

    /// The fixed security-group description of the original.
    pub fn sg_description(self) -> &'static str {
        match self {
            MetaNetworkName::Intranet => "Inter host",
            MetaNetworkName::Tunnel => "internet http proxy",
            MetaNetworkName::Dmz => "Client facing",
            MetaNetworkName::Maintenance => "Admin jump box",
        }
    }
}

impl fmt::Display for MetaNetworkName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const METANETWORK_EXPECTED: &str = "one of intranet, tunnel, dmz, maintenance";

impl FromStr for MetaNetworkName {
    type Err = SyntaxError;

    /// Exact lowercase names, as the original compares them.
    fn from_str(s: &str) -> Result<Self, SyntaxError> {
        match s {
            "intranet" => Ok(MetaNetworkName::Intranet),
            "tunnel" => Ok(MetaNetworkName::Tunnel),
            "dmz" => Ok(MetaNetworkName::Dmz),
            "maintenance" => Ok(MetaNetworkName::Maintenance),
            _ => err(format!("unknown metanetwork \"{s}\""), METANETWORK_EXPECTED),
        }
    }
}

// ---------------------------------------------------------------------------------------
// CIDRs
// ---------------------------------------------------------------------------------------

const CIDR_EXPECTED: &str = "an IPv4 CIDR like 10.0.0.0/16";

/// An IPv4 CIDR `a.b.c.d/n`. Host bits may be set (`54.201.1.1/32`, `10.1.0.5/16`); the
/// prefix length is required.
pub fn parse_cidr(v: &str) -> Result<Ipv4Net, SyntaxError> {
    let t = v.trim();
    if !t.contains('/') {
        return err(
            format!("\"{t}\" is not a CIDR: the /<prefix length> is missing"),
            CIDR_EXPECTED,
        );
    }
    t.parse::<Ipv4Net>()
        .or_else(|_| err(format!("\"{t}\" is not a valid IPv4 CIDR"), CIDR_EXPECTED))
}

/// A network CIDR: like [`parse_cidr`], but the host bits must be zero (`10.0.0.1/16` is
/// rejected, with the corrected network in the message).
pub fn parse_network_cidr(v: &str) -> Result<Ipv4Net, SyntaxError> {
    let net = parse_cidr(v)?;
    if net.trunc() != net {
        return err(
            format!(
                "\"{}\" has host bits set; did you mean {}?",
                v.trim(),
                net.trunc()
            ),
            "a network CIDR whose address is the first of its block",
        );
    }
    Ok(net)
}

/// Value of `<net>_cidr` in disco_vpc.ini.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum MetaNetworkCidr {
    /// `auto`: a free block of the VPC is chosen when the VPC is created.
    Auto,
    /// A fixed network CIDR.
    Static(Ipv4Net),
}

/// `auto` (case-insensitive) or a network CIDR (no host bits).
pub fn parse_metanetwork_cidr(v: &str) -> Result<MetaNetworkCidr, SyntaxError> {
    let t = v.trim();
    if t.eq_ignore_ascii_case("auto") {
        return Ok(MetaNetworkCidr::Auto);
    }
    parse_network_cidr(t)
        .map(MetaNetworkCidr::Static)
        .map_err(|e| SyntaxError::new(e.message, "\"auto\" or a network CIDR like 10.0.0.0/20"))
}

/// A whitespace- (and comma-) separated list of CIDRs, e.g. `customer_cidr`,
/// `<net>_igw_routes`, `<net>_vgw_routes`. Host bits are allowed. Empty text is an empty list.
pub fn parse_cidr_list(v: &str) -> Result<Vec<Ipv4Net>, SyntaxError> {
    split_ws_commas(v).map(parse_cidr).collect()
}

// ---------------------------------------------------------------------------------------
// Ports and security-group rules
// ---------------------------------------------------------------------------------------

/// An inclusive port range. `-1` means "any" (ICMP type or code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct PortRange {
    pub from: i32,
    pub to: i32,
}

impl PortRange {
    /// A single port.
    pub fn single(port: i32) -> Self {
        PortRange {
            from: port,
            to: port,
        }
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.from == self.to {
            write!(f, "{}", self.from)
        } else {
            write!(f, "{}:{}", self.from, self.to)
        }
    }
}

const PORT_EXPECTED: &str = "a port 0-65535 (or -1 for icmp), or a range <from>:<to>";

fn parse_port_number(p: &str, whole: &str) -> Result<i32, SyntaxError> {
    match p.trim().parse::<i32>() {
        Ok(n) if n == -1 || (0..=65535).contains(&n) => Ok(n),
        Ok(n) => err(
            format!("port {n} in \"{whole}\" is out of range"),
            PORT_EXPECTED,
        ),
        Err(_) => err(format!("\"{whole}\" is not a port"), PORT_EXPECTED),
    }
}

impl FromStr for PortRange {
    type Err = SyntaxError;

    /// `a` or `a:b`. Each number is `-1` or in `0..=65535`, and `from <= to`. The only
    /// exception to the ordering is `to == -1` (ICMP "type N, any code", e.g. `8:-1`).
    fn from_str(s: &str) -> Result<Self, SyntaxError> {
        let s = s.trim();
        let (from, to) = match s.split_once(':') {
            Some((a, b)) => (parse_port_number(a, s)?, parse_port_number(b, s)?),
            None => {
                let n = parse_port_number(s, s)?;
                (n, n)
            }
        };
        if from > to && to != -1 {
            return err(
                format!("port range \"{s}\" runs backwards"),
                "<from>:<to> with from <= to",
            );
        }
        Ok(PortRange { from, to })
    }
}

/// The source of a security-group rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum SgSource {
    /// `all`: every metanetwork of the VPC, including the target itself.
    All,
    /// A CIDR block.
    Cidr(Ipv4Net),
    /// The security group of a metanetwork.
    MetaNetwork(MetaNetworkName),
}

impl fmt::Display for SgSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SgSource::All => f.write_str("all"),
            SgSource::Cidr(c) => write!(f, "{c}"),
            SgSource::MetaNetwork(n) => write!(f, "{n}"),
        }
    }
}

/// One rule of `<net>_sg_rules`: `<protocol> <source> <port>...`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct SgRuleSpec {
    /// Passed through to AWS (`tcp`, `udp`, `icmp`, `-1`, ...).
    pub protocol: String,
    pub source: SgSource,
    pub ports: Vec<PortRange>,
}

const SG_RULE_EXPECTED: &str = "\"<protocol> <source> <port>[:<port>]...\"";

fn parse_sg_source(tok: &str, rule: &str) -> Result<SgSource, SyntaxError> {
    if tok.eq_ignore_ascii_case("all") {
        Ok(SgSource::All)
    } else if tok.contains('/') {
        parse_cidr(tok)
            .map(SgSource::Cidr)
            .map_err(|e| e.context(format!("in security group rule \"{rule}\"")))
    } else {
        tok.parse::<MetaNetworkName>()
            .map(SgSource::MetaNetwork)
            .map_err(|_| {
                SyntaxError::new(
                    format!("unknown source \"{tok}\" in security group rule \"{rule}\""),
                    "\"all\", a CIDR, or one of intranet, tunnel, dmz, maintenance",
                )
            })
    }
}

/// Parses `<net>_sg_rules` (spec §4.4): comma-separated rules, each
/// `<protocol> <source> <port>[:<port>]...` where source is `all` (any case), a CIDR, or a
/// metanetwork name. Blank text is an empty list; an empty rule between commas is an
/// error, as in the original.
pub fn parse_sg_rules(v: &str) -> Result<Vec<SgRuleSpec>, SyntaxError> {
    if v.trim().is_empty() {
        return Ok(Vec::new());
    }
    v.split(',')
        .map(|raw| {
            let rule = raw.trim();
            let toks: Vec<&str> = rule.split_whitespace().collect();
            if toks.len() < 3 {
                return err(
                    format!("cannot make heads or tails of security group rule \"{rule}\""),
                    SG_RULE_EXPECTED,
                );
            }
            let source = parse_sg_source(toks[1], rule)?;
            let ports = toks[2..]
                .iter()
                .map(|p| {
                    p.parse::<PortRange>()
                        .map_err(|e| e.context(format!("in security group rule \"{rule}\"")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(SgRuleSpec {
                protocol: toks[0].to_string(),
                source,
                ports,
            })
        })
        .collect()
}

/// Parses `customer_ports`: port specs separated by whitespace **and/or commas**.
///
/// Spec §7.3 #3 decision: the README documents `customer_ports=443,80` while the code
/// splits on whitespace (`80 443` in the sample). Both are unambiguous, so both are accepted.
pub fn parse_port_list(v: &str) -> Result<Vec<PortRange>, SyntaxError> {
    split_ws_commas(v).map(str::parse).collect()
}

// ---------------------------------------------------------------------------------------
// Sizes and cron
// ---------------------------------------------------------------------------------------

/// A pipeline size (`min_size`, `desired_size`, `max_size`), spec §4.6.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum SizeSpec {
    /// Empty: not given.
    Unset,
    /// A plain number.
    Fixed(u32),
    /// `N@cron:M@cron`: cron expression → size. Duplicate crons: the last one wins.
    Scheduled(BTreeMap<String, u32>),
}

impl SizeSpec {
    /// `size_as_minimum_int_or_none`.
    pub fn min(&self) -> Option<u32> {
        match self {
            SizeSpec::Unset => None,
            SizeSpec::Fixed(n) => Some(*n),
            SizeSpec::Scheduled(m) => m.values().copied().min(),
        }
    }

    /// `size_as_maximum_int_or_none`.
    pub fn max(&self) -> Option<u32> {
        match self {
            SizeSpec::Unset => None,
            SizeSpec::Fixed(n) => Some(*n),
            SizeSpec::Scheduled(m) => m.values().copied().max(),
        }
    }

    /// The original's `size_as_recurrence_map(size, sentinel)`: `Unset` → `{sentinel: None}`,
    /// `Fixed(n)` → `{sentinel: Some(n)}`, `Scheduled` → its map.
    pub fn as_recurrence_map(&self, sentinel: &str) -> BTreeMap<String, Option<u32>> {
        match self {
            SizeSpec::Unset => BTreeMap::from([(sentinel.to_string(), None)]),
            SizeSpec::Fixed(n) => BTreeMap::from([(sentinel.to_string(), Some(*n))]),
            SizeSpec::Scheduled(m) => m.iter().map(|(k, v)| (k.clone(), Some(*v))).collect(),
        }
    }

    /// The scheduled entries (empty unless `Scheduled`).
    pub fn schedule(&self) -> BTreeMap<String, u32> {
        match self {
            SizeSpec::Scheduled(m) => m.clone(),
            _ => BTreeMap::new(),
        }
    }
}

const SIZE_EXPECTED: &str =
    "a number, or <n>@<cron>[:<n>@<cron>]... like \"2@0 8 * * 1-5:0@0 20 * * *\"";

/// Parses a pipeline size (spec §4.6 `size_as_recurrence_map`): `""` → `Unset`, digits →
/// `Fixed`, otherwise `:`-separated `N@CRON` parts (each cron validated with
/// [`validate_cron`]; surrounding whitespace of the cron is trimmed).
pub fn parse_size(v: &str) -> Result<SizeSpec, SyntaxError> {
    let t = v.trim();
    if t.is_empty() {
        return Ok(SizeSpec::Unset);
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        return t
            .parse::<u32>()
            .map(SizeSpec::Fixed)
            .or_else(|_| err(format!("size \"{t}\" is too large"), SIZE_EXPECTED));
    }
    let mut map = BTreeMap::new();
    for part in t.split(':') {
        let Some((n, cron)) = part.split_once('@') else {
            return err(
                format!("size \"{t}\": part \"{part}\" is not <n>@<cron>"),
                SIZE_EXPECTED,
            );
        };
        let n = n.trim();
        let size = if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
            n.parse::<u32>().ok()
        } else {
            None
        };
        let Some(size) = size else {
            return err(
                format!("size \"{t}\": \"{n}\" in part \"{part}\" is not a non-negative number"),
                SIZE_EXPECTED,
            );
        };
        let cron = cron.trim();
        validate_cron(cron).map_err(|e| e.context(format!("size \"{t}\"")))?;
        map.insert(cron.to_string(), size);
    }
    Ok(SizeSpec::Scheduled(map))
}

const CRON_EXPECTED: &str =
    "5 fields \"<minute> <hour> <day-of-month> <month> <day-of-week>\" like \"30 0 1 1,6,12 *\"";

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

struct CronField {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    /// Value of the first entry of `names`.
    names_base: u32,
}

const CRON_FIELDS: [CronField; 5] = [
    CronField {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
        names_base: 0,
    },
    CronField {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
        names_base: 0,
    },
    CronField {
        name: "day-of-month",
        min: 1,
        max: 31,
        names: &[],
        names_base: 0,
    },
    CronField {
        name: "month",
        min: 1,
        max: 12,
        names: &MONTHS,
        names_base: 1,
    },
    CronField {
        name: "day-of-week",
        min: 0,
        max: 7,
        names: &DAYS,
        names_base: 0,
    },
];

fn cron_value(tok: &str, field: &CronField) -> Option<u32> {
    if !tok.is_empty() && tok.bytes().all(|b| b.is_ascii_digit()) {
        return tok
            .parse::<u32>()
            .ok()
            .filter(|n| (field.min..=field.max).contains(n));
    }
    field
        .names
        .iter()
        .position(|n| n.eq_ignore_ascii_case(tok))
        .map(|i| i as u32 + field.names_base)
}

fn validate_cron_item(item: &str, field: &CronField) -> bool {
    let (range, step) = match item.split_once('/') {
        Some((r, s)) => (r, Some(s)),
        None => (item, None),
    };
    if let Some(step) = step {
        match step.parse::<u32>() {
            Ok(s) if s >= 1 && step.bytes().all(|b| b.is_ascii_digit()) => {}
            _ => return false,
        }
    }
    if range == "*" {
        return true;
    }
    match range.split_once('-') {
        Some((a, b)) => matches!(
            (cron_value(a, field), cron_value(b, field)),
            (Some(a), Some(b)) if a <= b
        ),
        None => cron_value(range, field).is_some(),
    }
}

/// Validates a 5-field Unix cron expression as the AWS autoscaling `Recurrence` parameter
/// accepts it: minute (0-59), hour (0-23), day-of-month (1-31), month (1-12 or JAN-DEC),
/// day-of-week (0-7 or SUN-SAT, 0 and 7 are Sunday). Each field is a comma list of `*`,
/// `N`, `A-B`, optionally followed by `/STEP`. Names are case-insensitive. Quartz
/// extensions (`?`, `L`, `W`, `#`), `@hourly`-style macros and seconds fields are rejected.
pub fn validate_cron(expr: &str) -> Result<(), SyntaxError> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    if fields.len() != 5 {
        return err(
            format!(
                "cron expression \"{}\" has {} field{}",
                expr.trim(),
                fields.len(),
                if fields.len() == 1 { "" } else { "s" }
            ),
            CRON_EXPECTED,
        );
    }
    for (tok, field) in fields.iter().zip(CRON_FIELDS.iter()) {
        let ok = tok.split(',').all(|item| validate_cron_item(item, field));
        if !ok {
            let names = if field.names.is_empty() {
                String::new()
            } else {
                format!(
                    " or {}-{}",
                    field.names[0].to_uppercase(),
                    field.names[field.names.len() - 1].to_uppercase()
                )
            };
            return err(
                format!(
                    "cron expression \"{}\": bad {} field \"{tok}\"",
                    expr.trim(),
                    field.name
                ),
                format!(
                    "{} values {}-{}{names}, as *, N, A-B, or a comma list of those, each optionally /STEP",
                    field.name, field.min, field.max
                ),
            );
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// NAT gateways
// ---------------------------------------------------------------------------------------

/// Value of `<net>_nat_gateways`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum NatGatewaySpec {
    /// Empty: the metanetwork has no NAT gateways (existing ones are deleted).
    None,
    /// `auto`: one NAT per subnet with a dynamically allocated EIP.
    Auto,
    /// Static EIPs, one per subnet (AZ), in subnet order.
    Static(Vec<Ipv4Addr>),
}

/// Parses `<net>_nat_gateways`: empty, `auto` (case-insensitive) or a list of EIPs.
///
/// Spec §7.3 #4 decision: the README separates static EIPs with spaces, the code splits on
/// commas; both (and mixtures) are accepted.
pub fn parse_nat_gateways(v: &str) -> Result<NatGatewaySpec, SyntaxError> {
    let t = v.trim();
    if t.is_empty() {
        return Ok(NatGatewaySpec::None);
    }
    if t.eq_ignore_ascii_case("auto") {
        return Ok(NatGatewaySpec::Auto);
    }
    split_ws_commas(t)
        .map(|ip| {
            ip.parse::<Ipv4Addr>().or_else(|_| {
                err(
                    format!("\"{ip}\" in NAT gateways \"{t}\" is not an IPv4 address"),
                    "\"auto\" or a list of elastic IPs like \"52.1.2.3, 52.1.2.4\"",
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(NatGatewaySpec::Static)
}

/// Parses `nat_gateway_routes`: `src/dest` pairs separated by whitespace (commas are also
/// accepted), e.g. `intranet/tunnel dmz/tunnel`: traffic from `src` leaves through the NAT
/// gateways of `dest`.
///
/// Decisions beyond the original (which would silently misroute): a pair routing a
/// network to itself is rejected, and so is a source that appears twice with different
/// destinations (a subnet has one default route). Exact duplicates are dropped.
pub fn parse_nat_gateway_routes(
    v: &str,
) -> Result<Vec<(MetaNetworkName, MetaNetworkName)>, SyntaxError> {
    const EXPECTED: &str = "space-separated <source>/<destination> metanetwork pairs like \"intranet/tunnel dmz/tunnel\"";
    let mut out: Vec<(MetaNetworkName, MetaNetworkName)> = Vec::new();
    for pair in split_ws_commas(v) {
        let Some((a, b)) = pair.split_once('/') else {
            return err(
                format!("NAT gateway route \"{pair}\" has no \"/\""),
                EXPECTED,
            );
        };
        let src: MetaNetworkName = a
            .parse()
            .map_err(|e: SyntaxError| e.context(format!("in NAT gateway route \"{pair}\"")))?;
        let dst: MetaNetworkName = b
            .parse()
            .map_err(|e: SyntaxError| e.context(format!("in NAT gateway route \"{pair}\"")))?;
        if src == dst {
            return err(
                format!("NAT gateway route \"{pair}\" routes {src} to itself"),
                EXPECTED,
            );
        }
        if let Some((_, other)) = out.iter().find(|(s, _)| *s == src) {
            if *other == dst {
                continue;
            }
            return err(
                format!("NAT gateway routes send {src} to both {other} and {dst}"),
                "at most one destination per source metanetwork",
            );
        }
        out.push((src, dst));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Static IPs
// ---------------------------------------------------------------------------------------

/// One entry of a hostclass `ip_address`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum StaticIp {
    /// A literal address.
    Absolute(Ipv4Addr),
    /// An offset into the metanetwork (spec §4.3): `>= 0` from the first address of the
    /// lowest AZ subnet, `< 0` from the last address of the highest one.
    Offset(i64),
}

impl fmt::Display for StaticIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StaticIp::Absolute(ip) => write!(f, "{ip}"),
            StaticIp::Offset(n) if *n >= 0 => write!(f, "+{n}"),
            StaticIp::Offset(n) => write!(f, "{n}"),
        }
    }
}

impl FromStr for StaticIp {
    type Err = SyntaxError;

    /// A dotted-quad address, or an integer offset with optional sign (`+5`, `5`, `-10`),
    /// as `int()` accepts it in the original's `ip_by_offset`.
    fn from_str(s: &str) -> Result<Self, SyntaxError> {
        let s = s.trim();
        if let Ok(ip) = s.parse::<Ipv4Addr>() {
            return Ok(StaticIp::Absolute(ip));
        }
        let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(n) = s.parse::<i64>() {
                return Ok(StaticIp::Offset(n));
            }
        }
        err(
            format!("\"{s}\" is neither an IPv4 address nor an offset"),
            "an IPv4 address like 10.0.0.5 or an offset like +5 or -10",
        )
    }
}

/// Parses a hostclass `ip_address` (and `ntp_server_offset`-like values): entries
/// separated by whitespace (commas are also accepted).
pub fn parse_ip_addresses(v: &str) -> Result<Vec<StaticIp>, SyntaxError> {
    split_ws_commas(v).map(str::parse).collect()
}

// ---------------------------------------------------------------------------------------
// Peering
// ---------------------------------------------------------------------------------------

/// One end of a `[peerings]` connection: `name[:type]/metanetwork` (spec §4.11).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct PeeringEndpoint {
    /// VPC name; `None` means `*` (every VPC of `vpc_type`).
    pub name: Option<String>,
    /// VPC type; defaults to the name.
    pub vpc_type: String,
    pub metanetwork: MetaNetworkName,
}

impl fmt::Display for PeeringEndpoint {
    /// The canonical `name:type/net` form (`*` for a wildcard name).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}/{}",
            self.name.as_deref().unwrap_or("*"),
            self.vpc_type,
            self.metanetwork
        )
    }
}

const PEERING_ENDPOINT_EXPECTED: &str =
    "<vpc name>[:<vpc type>]/<metanetwork>, like \"ci/intranet\" or \"*:sandbox/intranet\"";

/// Parses `name[:type]/metanetwork`. `type` defaults to `name`; `name` may be `*`, `type`
/// may not (so `*/intranet` needs an explicit type).
pub fn parse_peering_endpoint(v: &str) -> Result<PeeringEndpoint, SyntaxError> {
    let t = v.trim();
    let Some((vpc, net)) = t.split_once('/') else {
        return err(
            format!("peering endpoint \"{t}\" has no \"/<metanetwork>\""),
            PEERING_ENDPOINT_EXPECTED,
        );
    };
    let metanetwork: MetaNetworkName = net
        .parse()
        .map_err(|e: SyntaxError| e.context(format!("in peering endpoint \"{t}\"")))?;
    let (name, vpc_type) = match vpc.split_once(':') {
        Some((n, ty)) => (n, ty),
        None => (vpc, vpc),
    };
    if name.is_empty() || vpc_type.is_empty() || vpc_type.contains(':') {
        return err(
            format!("cannot read VPC name and type of peering endpoint \"{t}\""),
            PEERING_ENDPOINT_EXPECTED,
        );
    }
    if vpc_type == "*" {
        return err(
            format!("peering endpoint \"{t}\" has a wildcard VPC type"),
            "a wildcard only in the VPC name, with an explicit type: \"*:<vpc type>/<metanetwork>\"",
        );
    }
    Ok(PeeringEndpoint {
        name: (name != "*").then(|| name.to_string()),
        vpc_type: vpc_type.to_string(),
        metanetwork,
    })
}

/// Parses a `[peerings] connection_N` value: exactly two whitespace-separated endpoints.
pub fn parse_peering_connection(
    v: &str,
) -> Result<(PeeringEndpoint, PeeringEndpoint), SyntaxError> {
    let parts: Vec<&str> = v.split_whitespace().collect();
    if parts.len() != 2 {
        return err(
            format!(
                "peering connection \"{}\" has {} endpoint{}",
                v.trim(),
                parts.len(),
                if parts.len() == 1 { "" } else { "s" }
            ),
            "exactly two endpoints like \"build/tunnel ci/intranet\"",
        );
    }
    Ok((
        parse_peering_endpoint(parts[0])?,
        parse_peering_endpoint(parts[1])?,
    ))
}

// ---------------------------------------------------------------------------------------
// Tags
// ---------------------------------------------------------------------------------------

fn parse_one_tag(tag: &str, whole: &str, expected: &str) -> Result<(String, String), SyntaxError> {
    let Some((k, v)) = tag.split_once(':') else {
        return err(
            format!("tag \"{tag}\" in \"{whole}\" has no \":\""),
            expected,
        );
    };
    let k = k.trim();
    if k.is_empty() {
        return err(
            format!("tag \"{tag}\" in \"{whole}\" has an empty key"),
            expected,
        );
    }
    Ok((k.to_string(), v.trim().to_string()))
}

/// Parses a hostclass `tags` option: `k:v,k2:v2`. Keys and values are trimmed; the value
/// is everything after the first `:` (so it may contain `:`) and may be empty. Blank text
/// is no tags.
pub fn parse_tags(v: &str) -> Result<Vec<(String, String)>, SyntaxError> {
    const EXPECTED: &str = "comma-separated <key>:<value> pairs like \"team:astro,cost:low\"";
    if v.trim().is_empty() {
        return Ok(Vec::new());
    }
    v.split(',')
        .map(|tag| parse_one_tag(tag, v.trim(), EXPECTED))
        .collect()
}

/// Parses a CLI `--tag key:value` (the value is everything after the first `:`).
pub fn parse_tag_arg(v: &str) -> Result<(String, String), SyntaxError> {
    parse_one_tag(v, v, "<key>:<value>")
}

/// Every `--tag key:value` of a command line ([`parse_tag_arg`]); the first bad one is
/// refused as `--tag "<it>": why`.
pub fn parse_tag_args(args: &[String]) -> Result<Vec<(String, String)>, String> {
    args.iter()
        .map(|t| parse_tag_arg(t).map_err(|e| format!("--tag {t:?}: {e}")))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Spotinst
// ---------------------------------------------------------------------------------------

/// Pipeline `spotinst_reserve` (spec §4.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum SpotinstReserve {
    /// Spotinst `risk`: percentage of spot instances (`100 - N` for `N%`).
    Risk(u32),
    /// Spotinst `onDemandCount`.
    OnDemandCount(u32),
}

/// `N%` → `Risk(100 - N)` (N in 0..=100), `N` → `OnDemandCount(N)`, empty → `Risk(100)`.
pub fn parse_spotinst_reserve(v: &str) -> Result<SpotinstReserve, SyntaxError> {
    const EXPECTED: &str = "a percentage like \"30%\" or an on-demand instance count like \"2\"";
    let t = v.trim();
    if t.is_empty() {
        return Ok(SpotinstReserve::Risk(100));
    }
    let is_num = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(p) = t.strip_suffix('%') {
        let p = p.trim();
        return match p.parse::<u32>() {
            Ok(n) if is_num(p) && n <= 100 => Ok(SpotinstReserve::Risk(100 - n)),
            _ => err(
                format!("spotinst reserve \"{t}\" is not a percentage between 0% and 100%"),
                EXPECTED,
            ),
        };
    }
    match t.parse::<u32>() {
        Ok(n) if is_num(t) => Ok(SpotinstReserve::OnDemandCount(n)),
        _ => err(format!("cannot read spotinst reserve \"{t}\""), EXPECTED),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_args_are_all_parsed_or_the_bad_one_named() {
        let args = vec!["a:b".to_string(), "c:d:e".to_string()];
        assert_eq!(
            parse_tag_args(&args),
            Ok(vec![("a".into(), "b".into()), ("c".into(), "d:e".into())])
        );
        let bad = vec!["a:b".to_string(), "nocolon".to_string()];
        let err = parse_tag_args(&bad).unwrap_err();
        let why = parse_tag_arg("nocolon").unwrap_err();
        assert_eq!(err, format!("--tag \"nocolon\": {why}"));
        assert_eq!(parse_tag_args(&[]), Ok(vec![]));
    }

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn truthy() {
        for v in ["true", "Yes", "T", "y", "AYE", "1", " true "] {
            assert!(is_truthy(v), "{v}");
        }
        for v in ["", "false", "no", "0", "2", "tru", "None", "nay"] {
            assert!(!is_truthy(v), "{v}");
        }
    }

    #[test]
    fn booleans_are_the_originals_words_and_nothing_else() {
        for v in ["true", "Yes", "T", "y", "AYE", "1", " TRUE "] {
            assert_eq!(parse_bool(v), Ok(true), "{v}");
        }
        for v in ["false", "No", "F", "n", "nay", "0", " False"] {
            assert_eq!(parse_bool(v), Ok(false), "{v}");
        }
        for v in ["Ture", "on", "off", "", "2", "None"] {
            let e = parse_bool(v).unwrap_err();
            assert!(e.message.ends_with("is not a boolean"), "{v}: {e}");
        }
        assert_eq!(
            parse_bool("Ture").unwrap_err().to_string(),
            format!("\"Ture\" is not a boolean (expected {BOOLEAN_EXPECTED})")
        );
    }

    #[test]
    fn names_are_ascii_letters_digits_dash_underscore() {
        assert!(check_name("hostclass", "mhc_web-2").is_ok());
        let e = check_name("hostclass", "mhcwéb").unwrap_err();
        assert_eq!(
            e.to_string(),
            "hostclass name \"mhcwéb\" contains 'é' (expected ASCII letters, digits, \"-\" and \"_\")"
        );
        assert!(check_name("environment", "ci env").is_err());
        assert!(check_name("environment", "").is_err());
    }

    #[test]
    fn metanetwork_names() {
        for n in MetaNetworkName::ALL {
            assert_eq!(n.to_string().parse::<MetaNetworkName>().unwrap(), n);
        }
        let e = "Intranet".parse::<MetaNetworkName>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown metanetwork \"Intranet\" (expected one of intranet, tunnel, dmz, maintenance)"
        );
        assert_eq!(
            MetaNetworkName::ALL.map(|n| n.as_str()),
            ["intranet", "tunnel", "dmz", "maintenance"]
        );
    }

    #[test]
    fn cidrs() {
        assert_eq!(parse_cidr("10.0.0.0/16").unwrap(), net("10.0.0.0/16"));
        assert_eq!(parse_cidr(" 54.201.1.1/32 ").unwrap(), net("54.201.1.1/32"));
        assert_eq!(
            parse_cidr("10.0.0.1/16").unwrap().to_string(),
            "10.0.0.1/16"
        );
        assert!(parse_cidr("10.0.0.0")
            .unwrap_err()
            .message
            .contains("missing"));
        assert!(parse_cidr("10.0.0.0/33").is_err());
        assert!(parse_cidr("10.0.0/8").is_err());
        assert!(parse_cidr("banana/8").is_err());
        assert_eq!(
            parse_network_cidr("10.0.0.0/16").unwrap(),
            net("10.0.0.0/16")
        );
        let e = parse_network_cidr("10.0.0.1/16").unwrap_err();
        assert!(e.message.contains("did you mean 10.0.0.0/16"), "{e}");
        assert_eq!(
            parse_metanetwork_cidr("auto").unwrap(),
            MetaNetworkCidr::Auto
        );
        assert_eq!(
            parse_metanetwork_cidr("AUTO").unwrap(),
            MetaNetworkCidr::Auto
        );
        assert_eq!(
            parse_metanetwork_cidr("10.101.0.0/20").unwrap(),
            MetaNetworkCidr::Static(net("10.101.0.0/20"))
        );
        assert!(parse_metanetwork_cidr("10.101.0.1/20").is_err());
        assert!(parse_metanetwork_cidr("").is_err());
        assert_eq!(
            parse_cidr_list("0.0.0.0/0  10.1.0.0/16,1.2.3.4/32").unwrap(),
            vec![net("0.0.0.0/0"), net("10.1.0.0/16"), net("1.2.3.4/32")]
        );
        assert_eq!(parse_cidr_list("").unwrap(), vec![]);
        assert!(parse_cidr_list("0.0.0.0/0 nope").is_err());
    }

    #[test]
    fn ports() {
        assert_eq!("80".parse::<PortRange>().unwrap(), PortRange::single(80));
        assert_eq!(
            "0:65535".parse::<PortRange>().unwrap(),
            PortRange { from: 0, to: 65535 }
        );
        assert_eq!("-1".parse::<PortRange>().unwrap(), PortRange::single(-1));
        assert_eq!(
            "8:-1".parse::<PortRange>().unwrap(),
            PortRange { from: 8, to: -1 }
        );
        assert!("65536".parse::<PortRange>().is_err());
        assert!("-2".parse::<PortRange>().is_err());
        assert!("443:80"
            .parse::<PortRange>()
            .unwrap_err()
            .message
            .contains("backwards"));
        assert!("http".parse::<PortRange>().is_err());
        assert!("1:2:3".parse::<PortRange>().is_err());
        assert!(":80".parse::<PortRange>().is_err());
        assert_eq!(PortRange { from: 1, to: 2 }.to_string(), "1:2");
        assert_eq!(PortRange::single(22).to_string(), "22");
    }

    #[test]
    fn port_lists_accept_spaces_and_commas() {
        let want = vec![PortRange::single(80), PortRange::single(443)];
        assert_eq!(parse_port_list("80 443").unwrap(), want);
        assert_eq!(parse_port_list("443,80").unwrap(), vec![want[1], want[0]]);
        assert_eq!(parse_port_list(" 80, 443 ").unwrap(), want);
        assert_eq!(parse_port_list("").unwrap(), vec![]);
        assert!(parse_port_list("80 x").is_err());
    }

    #[test]
    fn sg_rules_sample() {
        let rules = parse_sg_rules(
            "tcp intranet 514, tcp maintenance 22 3212, tcp dmz 0:65535, icmp 10.1.0.0/16 -1, tcp 0.0.0.0/0 80 443",
        )
        .unwrap();
        assert_eq!(rules.len(), 5);
        assert_eq!(
            rules[1],
            SgRuleSpec {
                protocol: "tcp".into(),
                source: SgSource::MetaNetwork(MetaNetworkName::Maintenance),
                ports: vec![PortRange::single(22), PortRange::single(3212)],
            }
        );
        assert_eq!(rules[3].source, SgSource::Cidr(net("10.1.0.0/16")));
        assert_eq!(rules[3].ports, vec![PortRange::single(-1)]);
        assert_eq!(rules[4].ports.len(), 2);
        let all = parse_sg_rules("tcp ALL 80").unwrap();
        assert_eq!(all[0].source, SgSource::All);
        assert_eq!(parse_sg_rules("  ").unwrap(), vec![]);
    }

    #[test]
    fn sg_rule_errors() {
        let e = parse_sg_rules("tcp all").unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot make heads or tails of security group rule \"tcp all\" (expected \"<protocol> <source> <port>[:<port>]...\")"
        );
        let e = parse_sg_rules("tcp all 80,, udp all 53").unwrap_err();
        assert!(e.message.contains("rule \"\""), "{e}");
        let e = parse_sg_rules("tcp all 80, udp nowhere 53").unwrap_err();
        assert!(e.message.contains("unknown source \"nowhere\""), "{e}");
        assert!(e.message.contains("\"udp nowhere 53\""), "{e}");
        let e = parse_sg_rules("tcp all 80, udp 10.0.0.0/99 53").unwrap_err();
        assert!(e.message.contains("\"udp 10.0.0.0/99 53\""), "{e}");
        let e = parse_sg_rules("tcp all 80:x").unwrap_err();
        assert!(
            e.message
                .contains("in security group rule \"tcp all 80:x\""),
            "{e}"
        );
    }

    #[test]
    fn sizes_recurrence_map_acceptance() {
        // spec §4.6 acceptance cases
        assert_eq!(parse_size("").unwrap(), SizeSpec::Unset);
        assert_eq!(
            parse_size("").unwrap().as_recurrence_map(""),
            BTreeMap::from([(String::new(), None)])
        );
        assert_eq!(parse_size("").unwrap().min(), None);
        assert_eq!(parse_size("").unwrap().max(), None);
        let five = parse_size("5").unwrap();
        assert_eq!(five, SizeSpec::Fixed(5));
        assert_eq!(
            five.as_recurrence_map("0 0 * * *"),
            BTreeMap::from([("0 0 * * *".to_string(), Some(5))])
        );
        assert_eq!(parse_size("0").unwrap(), SizeSpec::Fixed(0));
        let want = BTreeMap::from([("1 0 * * *".to_string(), 2), ("6 0 * * *".to_string(), 3)]);
        for v in [
            "2@1 0 * * *:3@6 0 * * *",
            "2@1 0 * * *:3@6 0 * * *:3@6 0 * * *",
        ] {
            let s = parse_size(v).unwrap();
            assert_eq!(s, SizeSpec::Scheduled(want.clone()));
            assert_eq!(s.min(), Some(2));
            assert_eq!(s.max(), Some(3));
        }
        // last duplicate wins
        assert_eq!(
            parse_size("2@1 0 * * *:4@1 0 * * *").unwrap(),
            SizeSpec::Scheduled(BTreeMap::from([("1 0 * * *".to_string(), 4)]))
        );
    }

    #[test]
    fn size_errors() {
        assert!(parse_size("-1").is_err());
        assert!(parse_size("2@1 0 * *")
            .unwrap_err()
            .message
            .contains("4 fields"));
        assert!(parse_size("x@1 0 * * *").is_err());
        assert!(parse_size("2@1 0 * * *:").is_err());
        assert!(parse_size("2 0 * * *").is_err());
        assert!(parse_size("99999999999").is_err());
        let e = parse_size("2@61 0 * * *").unwrap_err();
        assert!(e.message.contains("bad minute field \"61\""), "{e}");
    }

    #[test]
    fn crons() {
        for ok in [
            "0 0 * * *",
            "30 0 1 1,6,12 *",
            "*/15 8-17 * * MON-FRI",
            "0 20 * * 1-5",
            "0 0 1-31/2 jan-jun sun,sat",
            "59 23 31 12 7",
            "5 4 * * 0",
        ] {
            validate_cron(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "",
            "* * * *",
            "0 0 * * * *",
            "60 0 * * *",
            "0 24 * * *",
            "0 0 0 * *",
            "0 0 * 13 *",
            "0 0 * * 8",
            "0 0 ? * *",
            "0 0 L * *",
            "0 0 * * 5-1",
            "*/0 * * * *",
            "@hourly",
            "0 0 * * MON#2",
            "a b c d e",
            "0,,1 * * * *",
        ] {
            assert!(validate_cron(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn nat_gateways() {
        assert_eq!(parse_nat_gateways("").unwrap(), NatGatewaySpec::None);
        assert_eq!(parse_nat_gateways(" auto ").unwrap(), NatGatewaySpec::Auto);
        let two =
            NatGatewaySpec::Static(vec![Ipv4Addr::new(52, 1, 2, 3), Ipv4Addr::new(52, 1, 2, 4)]);
        assert_eq!(parse_nat_gateways("52.1.2.3,52.1.2.4").unwrap(), two);
        assert_eq!(parse_nat_gateways("52.1.2.3 52.1.2.4").unwrap(), two);
        assert_eq!(parse_nat_gateways("52.1.2.3, 52.1.2.4").unwrap(), two);
        assert!(parse_nat_gateways("52.1.2.3 auto").is_err());
    }

    #[test]
    fn nat_routes() {
        use MetaNetworkName::*;
        assert_eq!(
            parse_nat_gateway_routes("intranet/tunnel dmz/tunnel maintenance/tunnel").unwrap(),
            vec![(Intranet, Tunnel), (Dmz, Tunnel), (Maintenance, Tunnel)]
        );
        assert_eq!(parse_nat_gateway_routes("").unwrap(), vec![]);
        assert_eq!(
            parse_nat_gateway_routes("dmz/tunnel dmz/tunnel").unwrap(),
            vec![(Dmz, Tunnel)]
        );
        assert!(parse_nat_gateway_routes("intranet").is_err());
        assert!(parse_nat_gateway_routes("intranet/nowhere").is_err());
        assert!(parse_nat_gateway_routes("tunnel/tunnel").is_err());
        assert!(parse_nat_gateway_routes("dmz/tunnel dmz/intranet").is_err());
    }

    #[test]
    fn ip_addresses() {
        assert_eq!(
            parse_ip_addresses("10.0.0.5 +5 -10 5").unwrap(),
            vec![
                StaticIp::Absolute(Ipv4Addr::new(10, 0, 0, 5)),
                StaticIp::Offset(5),
                StaticIp::Offset(-10),
                StaticIp::Offset(5),
            ]
        );
        assert_eq!(parse_ip_addresses("").unwrap(), vec![]);
        assert!(parse_ip_addresses("10.0.0").is_err());
        assert!(parse_ip_addresses("++5").is_err());
        assert!(parse_ip_addresses("+-5").is_err());
        assert!(parse_ip_addresses("ten").is_err());
        assert_eq!(StaticIp::Offset(5).to_string(), "+5");
        assert_eq!(StaticIp::Offset(-5).to_string(), "-5");
    }

    #[test]
    fn peering_endpoints() {
        let e = parse_peering_endpoint("ci/intranet").unwrap();
        assert_eq!(
            e,
            PeeringEndpoint {
                name: Some("ci".into()),
                vpc_type: "ci".into(),
                metanetwork: MetaNetworkName::Intranet
            }
        );
        assert_eq!(e.to_string(), "ci:ci/intranet");
        let w = parse_peering_endpoint("*:sandbox/tunnel").unwrap();
        assert_eq!(w.name, None);
        assert_eq!(w.vpc_type, "sandbox");
        assert_eq!(w.to_string(), "*:sandbox/tunnel");
        assert!(parse_peering_endpoint("*/intranet").is_err());
        assert!(parse_peering_endpoint("ci:*/intranet").is_err());
        assert!(parse_peering_endpoint("ci").is_err());
        assert!(parse_peering_endpoint("ci/nowhere").is_err());
        assert!(parse_peering_endpoint(":ci/intranet").is_err());
        assert!(parse_peering_endpoint("a:b:c/intranet").is_err());
        let (a, b) = parse_peering_connection("build/tunnel ci/intranet").unwrap();
        assert_eq!(a.name.as_deref(), Some("build"));
        assert_eq!(b.metanetwork, MetaNetworkName::Intranet);
        let e = parse_peering_connection("build/tunnel").unwrap_err();
        assert!(e.message.contains("1 endpoint"), "{e}");
        assert!(parse_peering_connection("a/dmz b/dmz c/dmz").is_err());
    }

    #[test]
    fn tags() {
        assert_eq!(
            parse_tags("k:v, k2 : v2,url:http://x").unwrap(),
            vec![
                ("k".into(), "v".into()),
                ("k2".into(), "v2".into()),
                ("url".into(), "http://x".into())
            ]
        );
        assert_eq!(parse_tags("").unwrap(), vec![]);
        assert_eq!(parse_tags("k:").unwrap(), vec![("k".into(), String::new())]);
        assert!(parse_tags("k").is_err());
        assert!(parse_tags(":v").is_err());
        assert!(parse_tags("a:b,").is_err());
        assert_eq!(
            parse_tag_arg("owner:me:you").unwrap(),
            ("owner".into(), "me:you".into())
        );
        assert!(parse_tag_arg("owner").is_err());
    }

    #[test]
    fn spotinst_reserve_acceptance() {
        assert_eq!(
            parse_spotinst_reserve("53%").unwrap(),
            SpotinstReserve::Risk(47)
        );
        assert_eq!(
            parse_spotinst_reserve("20").unwrap(),
            SpotinstReserve::OnDemandCount(20)
        );
        assert_eq!(
            parse_spotinst_reserve("").unwrap(),
            SpotinstReserve::Risk(100)
        );
        assert_eq!(
            parse_spotinst_reserve("0%").unwrap(),
            SpotinstReserve::Risk(100)
        );
        assert_eq!(
            parse_spotinst_reserve("100%").unwrap(),
            SpotinstReserve::Risk(0)
        );
        assert!(parse_spotinst_reserve("101%").is_err());
        assert!(parse_spotinst_reserve("-1").is_err());
        assert!(parse_spotinst_reserve("x%").is_err());
        assert!(parse_spotinst_reserve("+3").is_err());
    }

    #[test]
    fn error_display() {
        let e = SyntaxError::new("bad", "good");
        assert_eq!(e.to_string(), "bad (expected good)");
        let _: &dyn std::error::Error = &e;
    }
}
