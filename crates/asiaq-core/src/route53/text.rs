//! What `asiaq route53` prints and refuses.

use serde::Serialize;

use super::{fqdn, outcome_lines, RecordAction, RecordSet};
use crate::plan::Plan;
use crate::printout::{Printout, Refusal};

/// `list-records`: a line per record set `(zone, set)`; JSON: each set with its zone.
pub fn records(rows: &[(String, RecordSet)]) -> Printout {
    #[derive(Serialize)]
    struct Row<'a> {
        zone: &'a str,
        #[serde(flatten)]
        set: &'a RecordSet,
    }
    let json: Vec<Row> = rows.iter().map(|(zone, set)| Row { zone, set }).collect();
    let lines = rows.iter().map(|(z, set)| set.line(z)).collect();
    Printout::new(&json, lines)
}

/// No zone to choose (`why`) is bad input: exit 2, nothing changed.
pub fn no_zone(why: String) -> Refusal {
    Refusal::usage(why).with_hint("`asiaq route53 list-zones` lists them")
}

/// `delete-record` of a record that is not there.
pub fn no_record(rtype: &str, name: &str, zone: &str) -> Refusal {
    let name = fqdn(name);
    Refusal::failed(format!("there is no {rtype} record {name} in {zone}"))
}

/// What a change did ([`outcome_lines`]); JSON: the same lines.
pub fn outcome(plan: &Plan<RecordAction>) -> Printout {
    let lines = outcome_lines(plan);
    Printout::new(&lines, lines.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_carry_their_zone() {
        let set = RecordSet {
            name: "a.example.com.".into(),
            rtype: "A".into(),
            ttl: Some(5),
            values: vec!["10.0.0.1".into()],
            alias: None,
        };
        let rows = vec![("example.com.".to_string(), set.clone())];
        let p = records(&rows);
        assert_eq!(p.lines, [set.line("example.com.")]);
        assert_eq!(
            serde_json::to_string(&p.json).unwrap(),
            r#"[{"zone":"example.com.","name":"a.example.com.","type":"A","ttl":5,"values":["10.0.0.1"],"alias":null}]"#
        );
    }

    #[test]
    fn refusals() {
        let r = no_zone("no zone x".into());
        assert!(r.usage && r.hint.is_some());
        let r = no_record("A", "a.example.com", "example.com.");
        assert!(!r.usage);
        assert_eq!(
            r.message,
            format!(
                "there is no A record {} in example.com.",
                fqdn("a.example.com")
            )
        );
        let p = outcome(&Plan::default());
        assert_eq!(p.lines, outcome_lines(&Plan::default()));
    }
}
