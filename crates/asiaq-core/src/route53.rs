//! DNS records as asiaq writes them (`asiaq route53`, and the CNAMEs of load balancers and
//! managed services): record types and the values each accepts, name normalisation, zone
//! matching, and the plan of a record change.
//!
//! Route53 treats names case-insensitively and with or without their final dot; asiaq
//! compares names in that normal form (lower case, final dot), and writes them as given plus
//! a final dot.

pub mod text;

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use crate::plan::{Change, Plan, PlanAction, PlanBuilder, Resource};

/// The TTL of every record asiaq writes (the original's).
pub const RECORD_TTL: i64 = 5;

/// The record types `route53 create-record` and `delete-record` accept.
pub const RECORD_TYPES: [&str; 10] = [
    "A", "AAAA", "CAA", "CNAME", "MX", "NS", "PTR", "SPF", "SRV", "TXT",
];

/// `name` with a final dot.
pub fn fqdn(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.'))
}

/// `name` as Route53 compares it: lower case, with a final dot.
pub fn normal(name: &str) -> String {
    fqdn(name).to_ascii_lowercase()
}

/// Whether `a` and `b` name the same zone or record.
pub fn same_name(a: &str, b: &str) -> bool {
    normal(a) == normal(b)
}

/// Whether `name` is `zone` or inside it.
pub fn in_zone(name: &str, zone: &str) -> bool {
    let (name, zone) = (normal(name), normal(zone));
    name == zone || name.ends_with(&format!(".{zone}"))
}

/// A record type, upper-cased; anything else is an error naming the accepted ones.
pub fn record_type(text: &str) -> Result<String, String> {
    let t = text.trim().to_ascii_uppercase();
    if RECORD_TYPES.contains(&t.as_str()) {
        Ok(t)
    } else {
        Err(format!(
            "{text:?} is not a record type asiaq writes (expected one of {})",
            RECORD_TYPES.join(", ")
        ))
    }
}

/// Whether `name` is a DNS name: dot-separated labels of letters, digits, `-` and `_` (a
/// leading `*` label is a wildcard), each 1 to 63 characters, 253 in all.
pub fn is_dns_name(name: &str) -> bool {
    let name = name.trim_end_matches('.');
    if name.is_empty() || name.len() > 253 {
        return false;
    }
    name.split('.').enumerate().all(|(i, label)| {
        (i == 0 && label == "*")
            || (!label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                && !label.starts_with('-')
                && !label.ends_with('-'))
    })
}

/// The value of a `rtype` record as Route53 takes it, or why `value` does not fit the type.
/// TXT and SPF values are quoted when they are not already (Route53 requires the quotes).
pub fn record_value(rtype: &str, value: &str) -> Result<String, String> {
    let v = value.trim();
    let bad = |expected: &str| {
        Err(format!(
            "{value:?} is not a {rtype} value (expected {expected})"
        ))
    };
    let numbers_then_name = |numbers: usize, expected: &str| {
        let parts: Vec<&str> = v.split_whitespace().collect();
        let ok = parts.len() == numbers + 1
            && parts[..numbers].iter().all(|p| p.parse::<u16>().is_ok())
            && is_dns_name(parts[numbers]);
        if ok {
            Ok(parts.join(" "))
        } else {
            bad(expected)
        }
    };
    match rtype {
        "A" => v
            .parse::<Ipv4Addr>()
            .map(|ip| ip.to_string())
            .or_else(|_| bad("an IPv4 address")),
        "AAAA" => v
            .parse::<Ipv6Addr>()
            .map(|ip| ip.to_string())
            .or_else(|_| bad("an IPv6 address")),
        "CNAME" | "NS" | "PTR" => {
            if is_dns_name(v) {
                Ok(v.to_string())
            } else {
                bad("a DNS name")
            }
        }
        "MX" => numbers_then_name(1, "PRIORITY HOST, e.g. \"10 mail.example.com\""),
        "SRV" => numbers_then_name(3, "PRIORITY WEIGHT PORT HOST"),
        "CAA" => {
            let parts: Vec<&str> = v.splitn(3, ' ').collect();
            if parts.len() == 3 && parts[0].parse::<u8>().is_ok() && !parts[1].is_empty() {
                Ok(v.to_string())
            } else {
                bad("FLAGS TAG VALUE, e.g. 0 issue \"amazon.com\"")
            }
        }
        "TXT" | "SPF" => {
            if v.is_empty() || v.len() > 4000 {
                bad("1 to 4000 characters")
            } else if v.starts_with('"') && v.ends_with('"') && v.len() >= 2 {
                Ok(v.to_string())
            } else {
                Ok(format!("\"{}\"", v.replace('"', "\\\"")))
            }
        }
        _ => Err(record_type(rtype)
            .err()
            .unwrap_or_else(|| format!("{rtype}: no value rule"))),
    }
}

/// Checks the ZONE and NAME arguments: both DNS names, the name inside the zone.
pub fn check_record_name(zone: &str, name: &str) -> Result<(), String> {
    if !is_dns_name(zone) {
        return Err(format!("ZONE: {zone:?} is not a DNS name"));
    }
    if !is_dns_name(name) {
        return Err(format!("NAME: {name:?} is not a DNS name"));
    }
    if !in_zone(name, zone) {
        return Err(format!("NAME: {name} is not in the zone {}", fqdn(zone)));
    }
    Ok(())
}

/// Which of the zones named `name` (their ids, `found`) a command means: the only one, or
/// why none can be chosen (none, or a public and a private zone of one name).
pub fn choose_zone(name: &str, found: &[String]) -> Result<usize, String> {
    match found.len() {
        1 => Ok(0),
        0 => Err(format!("there is no hosted zone {}", fqdn(name))),
        n => Err(format!(
            "{} names {n} hosted zones ({}); asiaq cannot tell which one is meant",
            fqdn(name),
            found.join(", ")
        )),
    }
}

/// What a record command did, one line per change (`written: …` / `deleted: …`), or that
/// nothing needed to change.
pub fn outcome_lines(plan: &Plan<RecordAction>) -> Vec<String> {
    if plan.is_empty() {
        return vec!["no change: the record is already so".to_string()];
    }
    plan.steps
        .iter()
        .map(|s| {
            let verb = if s.action.change().is_delete() {
                "deleted"
            } else {
                "written"
            };
            format!("{verb}: {}", s.action)
        })
        .collect()
}

/// A record set as observed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordSet {
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: String,
    pub ttl: Option<i64>,
    pub values: Vec<String>,
    /// The target of an alias record (no TTL or values then).
    pub alias: Option<String>,
}

impl RecordSet {
    /// The set as `list-records` prints it: `zone name type ttl values` (`ALIAS target`
    /// for an alias, `-` for no TTL).
    pub fn line(&self, zone: &str) -> String {
        let value = match &self.alias {
            Some(target) => format!("ALIAS {target}"),
            None => self.values.join(","),
        };
        let ttl = self.ttl.map_or_else(|| "-".to_string(), |t| t.to_string());
        format!("{zone} {} {} {ttl} {value}", self.name, self.rtype)
    }

    /// Whether this set is exactly the single-value record asiaq would write.
    pub fn is(&self, rtype: &str, ttl: i64, value: &str) -> bool {
        self.rtype == rtype
            && self.ttl == Some(ttl)
            && self.alias.is_none()
            && self.values.len() == 1
            && self.values[0].trim_end_matches('.') == value.trim_end_matches('.')
    }
}

/// One change of `route53 create-record` / `delete-record`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action")]
pub enum RecordAction {
    /// Writes the single-value record (Route53's UPSERT: creates it, or replaces the set of
    /// that name and type).
    UpsertRecord {
        zone: String,
        zone_id: String,
        name: String,
        #[serde(rename = "type")]
        rtype: String,
        ttl: i64,
        value: String,
        /// The set it replaces, when there is one.
        before: Option<String>,
    },
    /// Deletes the record set as observed (Route53 needs its exact TTL and values).
    DeleteRecord {
        zone: String,
        zone_id: String,
        set: RecordSet,
    },
}

fn set_text(s: &RecordSet) -> String {
    match (&s.alias, s.ttl) {
        (Some(target), _) => format!("alias {target}"),
        (None, Some(ttl)) => format!("{} (TTL {ttl})", s.values.join(", ")),
        (None, None) => s.values.join(", "),
    }
}

impl fmt::Display for RecordAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordAction::UpsertRecord {
                name,
                rtype,
                ttl,
                value,
                before,
                ..
            } => match before {
                Some(b) => write!(f, "{rtype} {name}: {b} -> {value} (TTL {ttl})"),
                None => write!(f, "{rtype} {name} -> {value} (TTL {ttl})"),
            },
            RecordAction::DeleteRecord { set, .. } => {
                write!(f, "{} {} ({})", set.rtype, set.name, set_text(set))
            }
        }
    }
}

impl PlanAction for RecordAction {
    fn resource(&self) -> Resource {
        match self {
            RecordAction::UpsertRecord {
                zone, name, rtype, ..
            } => Resource::new("DNS record", format!("{rtype} {name} in {zone}")),
            RecordAction::DeleteRecord { zone, set, .. } => Resource::new(
                "DNS record",
                format!("{} {} in {zone}", set.rtype, set.name),
            ),
        }
    }

    fn change(&self) -> Change {
        match self {
            RecordAction::UpsertRecord { before: None, .. } => Change::Create,
            RecordAction::UpsertRecord {
                before: Some(b),
                value,
                ..
            } => Change::Update {
                before: Some(b.clone()),
                after: Some(value.clone()),
            },
            RecordAction::DeleteRecord { .. } => Change::Delete,
        }
    }
}

/// The zone a record change goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneRef {
    pub id: String,
    pub name: String,
}

/// The plan of `create-record`: nothing when the record is already exactly this one (so a
/// second run makes no change), else one UPSERT.
pub fn upsert_plan(
    zone: &ZoneRef,
    name: &str,
    rtype: &str,
    value: &str,
    existing: Option<&RecordSet>,
) -> Plan<RecordAction> {
    let mut b = PlanBuilder::new();
    if !existing.is_some_and(|s| s.is(rtype, RECORD_TTL, value)) {
        b.add(
            RecordAction::UpsertRecord {
                zone: zone.name.clone(),
                zone_id: zone.id.clone(),
                name: fqdn(name),
                rtype: rtype.to_string(),
                ttl: RECORD_TTL,
                value: value.to_string(),
                before: existing.map(set_text),
            },
            &[],
        );
    }
    b.build()
}

/// The plan of `delete-record`: the observed set, deleted.
pub fn delete_plan(zone: &ZoneRef, set: &RecordSet) -> Plan<RecordAction> {
    let mut b = PlanBuilder::new();
    b.add(
        RecordAction::DeleteRecord {
            zone: zone.name.clone(),
            zone_id: zone.id.clone(),
            set: set.clone(),
        },
        &[],
    );
    b.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compare_without_case_or_final_dot() {
        assert_eq!(fqdn("a.example.com"), "a.example.com.");
        assert_eq!(fqdn("a.example.com."), "a.example.com.");
        assert!(same_name("Example.COM", "example.com."));
        assert!(in_zone("www.Example.com", "example.com."));
        assert!(in_zone("example.com", "example.com"));
        assert!(!in_zone("www.example.org", "example.com"));
        assert!(!in_zone("badexample.com", "example.com"));
    }

    #[test]
    fn record_types_are_checked_and_upper_cased() {
        assert_eq!(record_type("cname").unwrap(), "CNAME");
        let e = record_type("CNAMES").unwrap_err();
        assert!(e.contains("expected one of A, AAAA"), "{e}");
    }

    #[test]
    fn values_must_fit_their_type() {
        assert_eq!(record_value("A", " 10.0.0.1 ").unwrap(), "10.0.0.1");
        assert!(record_value("A", "10.0.0.256")
            .unwrap_err()
            .contains("expected an IPv4 address"));
        assert!(record_value("AAAA", "10.0.0.1").is_err());
        assert_eq!(record_value("AAAA", "::1").unwrap(), "::1");
        assert_eq!(
            record_value("CNAME", "elb-1.us-west-2.elb.amazonaws.com").unwrap(),
            "elb-1.us-west-2.elb.amazonaws.com"
        );
        assert!(record_value("CNAME", "not a name").is_err());
        assert!(record_value("CNAME", "-bad.example.com").is_err());
        assert_eq!(
            record_value("MX", "10  mail.example.com").unwrap(),
            "10 mail.example.com"
        );
        assert!(record_value("MX", "mail.example.com").is_err());
        assert!(record_value("SRV", "1 2 443 svc.example.com").is_ok());
        assert!(record_value("SRV", "1 2 svc.example.com").is_err());
        assert_eq!(
            record_value("TXT", "hello world").unwrap(),
            "\"hello world\""
        );
        assert_eq!(record_value("TXT", "\"quoted\"").unwrap(), "\"quoted\"");
        assert!(record_value("CAA", "0 issue \"amazon.com\"").is_ok());
        assert!(record_value("CAA", "issue amazon.com").is_err());
        assert!(is_dns_name("*.example.com"));
        assert!(!is_dns_name("a.*.example.com"));
    }

    fn zone() -> ZoneRef {
        ZoneRef {
            id: "Z1".into(),
            name: "example.com.".into(),
        }
    }

    fn set(value: &str, ttl: i64) -> RecordSet {
        RecordSet {
            name: "www.example.com.".into(),
            rtype: "CNAME".into(),
            ttl: Some(ttl),
            values: vec![value.into()],
            alias: None,
        }
    }

    #[test]
    fn an_upsert_of_the_same_record_is_no_change() {
        let same = set("elb.example.net", 5);
        assert!(upsert_plan(
            &zone(),
            "www.example.com",
            "CNAME",
            "elb.example.net",
            Some(&same)
        )
        .is_empty());
        // Another TTL, another value, or no record: one upsert.
        for existing in [
            Some(set("elb.example.net", 300)),
            Some(set("x.example.net", 5)),
        ] {
            let plan = upsert_plan(
                &zone(),
                "www.example.com",
                "CNAME",
                "elb.example.net",
                existing.as_ref(),
            );
            assert_eq!(plan.len(), 1);
            assert!(matches!(
                plan.steps[0].action.change(),
                Change::Update { .. }
            ));
        }
        let plan = upsert_plan(&zone(), "www.example.com", "CNAME", "elb.example.net", None);
        assert_eq!(plan.steps[0].action.change(), Change::Create);
        assert_eq!(
            plan.steps[0].action.to_string(),
            "CNAME www.example.com. -> elb.example.net (TTL 5)"
        );
    }

    #[test]
    fn zones_and_names_are_chosen_or_refused() {
        assert_eq!(choose_zone("example.com", &["Z1".into()]), Ok(0));
        assert_eq!(
            choose_zone("example.com", &[]).unwrap_err(),
            "there is no hosted zone example.com."
        );
        assert!(choose_zone("example.com", &["Z1".into(), "Z2".into()])
            .unwrap_err()
            .contains("names 2 hosted zones (Z1, Z2)"));
        assert!(check_record_name("example.com", "a.example.com").is_ok());
        assert_eq!(
            check_record_name("example.com", "a.example.org").unwrap_err(),
            "NAME: a.example.org is not in the zone example.com."
        );
        assert!(check_record_name("ex ample.com", "a.example.com").is_err());
        let mut alias = set("x", 5);
        alias.alias = Some("d.elb.example.net".into());
        alias.ttl = None;
        assert_eq!(
            alias.line("example.com."),
            "example.com. www.example.com. CNAME - ALIAS d.elb.example.net"
        );
        assert_eq!(
            outcome_lines(&upsert_plan(&zone(), "www.example.com", "CNAME", "x", None)),
            ["written: CNAME www.example.com. -> x (TTL 5)"]
        );
        assert_eq!(
            outcome_lines(&delete_plan(&zone(), &set("x", 5))),
            ["deleted: CNAME www.example.com. (x (TTL 5))"]
        );
    }

    #[test]
    fn a_delete_names_the_set_it_removes() {
        let plan = delete_plan(&zone(), &set("elb.example.net", 5));
        assert_eq!(
            plan.steps[0].action.to_string(),
            "CNAME www.example.com. (elb.example.net (TTL 5))"
        );
        assert!(plan.steps[0].action.change().is_delete());
    }
}
