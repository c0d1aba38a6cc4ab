//! The value kinds of INI options and their checks, shared by every file's validation.

use asiaq_core::syntax;

use crate::diag::Diagnostic;
use crate::ini::Value;

/// What an option's value must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Any text.
    Text,
    /// Text that must not be empty.
    NonEmpty,
    /// A truthy/falsy word ([`syntax::parse_bool`]). The original read anything else as
    /// false; here it is an error.
    Bool,
    /// A whole number in an inclusive range.
    Int { min: i64, max: i64 },
    /// A non-negative whole number.
    Count,
    /// intranet, tunnel, dmz or maintenance.
    MetaNetwork,
    /// Static IPs and `+N`/`-N` offsets, space-separated.
    StaticIps,
    /// One IPv4 address (or `None`: no address).
    Ipv4,
    /// `k:v,k2:v2`.
    Tags,
    /// Comma-separated ports.
    PortList,
    /// Comma-separated load-balancer protocols.
    ElbProtocols,
    /// One of a fixed set of words (case-sensitive).
    OneOf(&'static [&'static str]),
    /// `ami-` followed by hex digits.
    AmiId,
    /// Space-separated 12-digit AWS account ids (may be empty).
    AccountIds,
    /// An absolute path.
    AbsolutePath,
    /// An URL path starting with `/`.
    UrlPath,
    /// A float between 0 and 1.
    Fraction,
    /// `ddd:hh:mm-ddd:hh:mm`.
    MaintenanceWindow,
    /// `hh:mm-hh:mm`.
    TimeWindow,
    /// Space-separated IPv4 addresses or CIDRs.
    IpOrCidrList,
    /// A `N%` or `N` Spotinst reserve.
    SpotinstReserve,
    /// A pipeline size (`N` or `N@cron:...`).
    Size,
}

const MAINTENANCE_EXPECTED: &str = "ddd:hh:mm-ddd:hh:mm like sat:05:00-sat:06:00";

/// Checks `value` against `kind`; `None` when it fits.
pub fn check(kind: Kind, value: &Value) -> Option<Diagnostic> {
    let t = value.text.trim();
    let fail =
        |message: String, expected: &str| Some(value.error(message, Some(expected.to_string())));
    match kind {
        Kind::Text => None,
        Kind::NonEmpty if t.is_empty() => fail("is empty".into(), "a value"),
        Kind::NonEmpty => None,
        Kind::Bool if t.is_empty() => None,
        Kind::Bool => syntax::parse_bool(t).err().map(|e| value.syntax_error(e)),
        Kind::Int { min, max } => match t.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => None,
            Ok(n) => fail(
                format!("{n} is out of range"),
                &format!("a whole number from {min} to {max}"),
            ),
            Err(_) => fail(
                format!("{t:?} is not a whole number"),
                &format!("a whole number from {min} to {max}"),
            ),
        },
        Kind::Count if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit()) => None,
        Kind::Count => fail(
            format!("{t:?} is not a whole number"),
            "a whole number (digits only) like 90",
        ),
        Kind::MetaNetwork => t
            .parse::<syntax::MetaNetworkName>()
            .err()
            .map(|e| value.syntax_error(e)),
        Kind::StaticIps => syntax::parse_ip_addresses(t)
            .err()
            .map(|e| value.syntax_error(e)),
        // `None` is the original's spelling of "no address" (as for ssh_key_name).
        Kind::Ipv4 if t.is_empty() || t == "None" || t.parse::<std::net::Ipv4Addr>().is_ok() => {
            None
        }
        Kind::Ipv4 => fail(
            format!("{t:?} is not an IPv4 address"),
            "an address like 52.1.2.3",
        ),
        Kind::Tags => syntax::parse_tags(t).err().map(|e| value.syntax_error(e)),
        Kind::PortList => t
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .find(|p| !p.parse::<u16>().is_ok_and(|n| n > 0))
            .and_then(|p| {
                fail(
                    format!("{p:?} is not a port"),
                    "comma-separated ports like 80, 443",
                )
            }),
        Kind::ElbProtocols => t
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .find(|p| !["HTTP", "HTTPS", "TCP", "SSL"].contains(&p.to_ascii_uppercase().as_str()))
            .and_then(|p| {
                fail(
                    format!("{p:?} is not a load balancer protocol"),
                    "comma-separated HTTP, HTTPS, TCP or SSL",
                )
            }),
        Kind::OneOf(words) if words.contains(&t) => None,
        Kind::OneOf(words) => fail(
            format!("{t:?} is not allowed"),
            &format!("one of {}", words.join(", ")),
        ),
        Kind::AmiId => {
            let ok = t
                .strip_prefix("ami-")
                .is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()));
            (!ok).then(|| {
                value.error(
                    format!("{t:?} is not an AMI id"),
                    Some("an id like ami-0abc1234".into()),
                )
            })
        }
        Kind::AccountIds => t
            .split_whitespace()
            .find(|a| a.len() != 12 || !a.chars().all(|c| c.is_ascii_digit()))
            .and_then(|a| {
                fail(
                    format!("{a:?} is not an AWS account id"),
                    "space-separated 12-digit account ids",
                )
            }),
        Kind::AbsolutePath if t.starts_with('/') => None,
        Kind::AbsolutePath => fail(
            format!("{t:?} is not an absolute path"),
            "a path starting with /",
        ),
        Kind::UrlPath if t.starts_with('/') => None,
        Kind::UrlPath => fail(
            format!("{t:?} is not a URL path"),
            "a path starting with /, like /health",
        ),
        Kind::Fraction => match t.parse::<f64>() {
            Ok(f) if (0.0..=1.0).contains(&f) => None,
            _ => fail(
                format!("{t:?} is not a fraction"),
                "a number between 0 and 1, like 0.8",
            ),
        },
        Kind::MaintenanceWindow => (!is_maintenance_window(t)).then(|| {
            value.error(
                format!("{t:?} is not a maintenance window"),
                Some(MAINTENANCE_EXPECTED.into()),
            )
        }),
        Kind::TimeWindow => {
            let ok = t
                .split_once('-')
                .is_some_and(|(a, b)| is_hh_mm(a) && is_hh_mm(b));
            (!ok).then(|| {
                value.error(
                    format!("{t:?} is not a time window"),
                    Some("hh:mm-hh:mm like 03:00-04:00".into()),
                )
            })
        }
        Kind::IpOrCidrList => t
            .split_whitespace()
            .find(|p| p.parse::<std::net::Ipv4Addr>().is_err() && syntax::parse_cidr(p).is_err())
            .and_then(|p| {
                fail(
                    format!("{p:?} is neither an IPv4 address nor a CIDR"),
                    "space-separated addresses or CIDRs",
                )
            }),
        Kind::SpotinstReserve => syntax::parse_spotinst_reserve(t)
            .err()
            .map(|e| value.syntax_error(e)),
        Kind::Size => syntax::parse_size(t).err().map(|e| value.syntax_error(e)),
    }
}

fn is_hh_mm(s: &str) -> bool {
    let Some((h, m)) = s.split_once(':') else {
        return false;
    };
    h.len() == 2
        && m.len() == 2
        && h.parse::<u8>().is_ok_and(|h| h < 24)
        && m.parse::<u8>().is_ok_and(|m| m < 60)
}

fn is_maintenance_window(s: &str) -> bool {
    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let part = |p: &str| {
        p.split_once(':')
            .is_some_and(|(d, hm)| DAYS.contains(&d.to_ascii_lowercase().as_str()) && is_hh_mm(hm))
    };
    s.split_once('-').is_some_and(|(a, b)| part(a) && part(b))
}

/// Checks each `(key, kind)` of a table against a section's options, including `key@env`
/// variants. Returns the diagnostics; unknown keys are not reported here.
pub fn check_section(
    ini: &crate::ini::IniFile,
    section: &str,
    table: &[(&str, Kind)],
) -> Vec<Diagnostic> {
    let Some(sect) = ini.section(section) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, _) in sect.entries() {
        let base = key.split('@').next().unwrap_or(key);
        if let Some((_, kind)) = table.iter().find(|(k, _)| *k == base) {
            if let Some(v) = ini.get(section, key) {
                out.extend(check(*kind, &v));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Value {
        Value {
            text: text.into(),
            path: "f.ini".into(),
            section: "s".into(),
            key: "k".into(),
            line: 3,
        }
    }

    #[test]
    fn kinds() {
        assert!(check(Kind::Bool, &v("True")).is_none());
        assert!(check(Kind::Bool, &v("")).is_none());
        let e = check(Kind::Bool, &v("Ture")).unwrap();
        assert!(e.is_error());
        assert_eq!(e.to_string(), "f.ini:3: [s] k: \"Ture\" is not a boolean (expected true or false (also yes/no, t/f, y/n, aye/nay, 1/0, any case))");
        assert!(check(Kind::Int { min: 1, max: 5 }, &v("6"))
            .unwrap()
            .is_error());
        assert!(check(Kind::Int { min: 1, max: 5 }, &v("x")).is_some());
        assert!(check(Kind::PortList, &v("80, 443")).is_none());
        assert!(check(Kind::PortList, &v("80, http")).is_some());
        assert!(check(Kind::ElbProtocols, &v("http, HTTPS")).is_none());
        assert!(check(Kind::ElbProtocols, &v("UDP")).is_some());
        assert!(check(Kind::AmiId, &v("ami-785db401")).is_none());
        assert!(check(Kind::AmiId, &v("785db401")).is_some());
        assert!(check(Kind::AccountIds, &v("123456789012 210987654321")).is_none());
        assert!(check(Kind::AccountIds, &v("12345")).is_some());
        assert!(check(Kind::MaintenanceWindow, &v("sat:05:00-sat:06:00")).is_none());
        assert!(check(Kind::MaintenanceWindow, &v("sat 5-6")).is_some());
        assert!(check(Kind::TimeWindow, &v("03:00-04:00")).is_none());
        assert!(check(Kind::Fraction, &v("1.5")).is_some());
        assert!(check(Kind::IpOrCidrList, &v("1.2.3.4 10.0.0.0/8")).is_none());
        assert!(check(Kind::MetaNetwork, &v("dmz")).is_none());
        assert!(check(Kind::MetaNetwork, &v("public")).is_some());
    }
}
