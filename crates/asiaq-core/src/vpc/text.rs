//! What `vpc create`, `update`, `destroy` and `peerings` print and ask once they are done
//! or before they go on.

use serde::Serialize;

use crate::printout::{Printout, Refusal};

/// `vpc create`: the environment made.
pub fn created(name: &str, vpc_id: &str) -> Printout {
    #[derive(Serialize)]
    struct Created<'a> {
        name: &'a str,
        vpc_id: &'a str,
    }
    let line = format!("VPC {name}({vpc_id}) has been created");
    Printout::new(&Created { name, vpc_id }, vec![line])
}

/// `vpc update`: the environment updated with `changes` steps.
pub fn updated(name: &str, vpc_id: &str, changes: usize) -> Printout {
    let json = serde_json::json!({"vpc_id": vpc_id, "name": name, "changes": changes});
    let line = format!("VPC {name}({vpc_id}) has been updated ({changes} change(s))");
    Printout::new(&json, vec![line])
}

/// `vpc destroy`: the environment destroyed.
pub fn destroyed(name: &str, vpc_id: &str) -> Printout {
    let json = serde_json::json!({"vpc_id": vpc_id, "name": name, "destroyed": true});
    Printout::new(
        &json,
        vec![format!("VPC {name}({vpc_id}) has been destroyed")],
    )
}

/// The question `vpc destroy` asks first; `None` for a sandbox.
pub fn destroy_question(name: &str, vpc_id: &str, env_type: Option<&str>) -> Option<String> {
    if env_type == Some("sandbox") {
        return None;
    }
    let env_type = env_type.unwrap_or("unknown");
    Some(format!(
        "Destroy environment {name} ({vpc_id}, type {env_type})?"
    ))
}

/// The question `vpc peerings --delete` asks before deleting `count` peerings of the
/// environment `target` (`(name, type)`), or of every environment; `None` for a sandbox's
/// own peerings.
pub fn delete_peerings_question(
    target: Option<(&str, Option<&str>)>,
    count: usize,
) -> Option<String> {
    let scope = match target {
        Some((_, Some("sandbox"))) => return None,
        Some((name, _)) => format!("of {name}"),
        None => "of every asiaq environment in the region".to_string(),
    };
    Some(format!(
        "Delete {count} peering(s) {scope} and their routes?"
    ))
}

/// The environment's type, which says which `[envtype:]` configures it (`vpc update`).
pub fn required_type<'a>(vpc_id: &str, env_type: Option<&'a str>) -> Result<&'a str, Refusal> {
    env_type.ok_or_else(|| {
        Refusal::usage(format!(
            "VPC {vpc_id} has no `type` tag; cannot tell which [envtype:] configures it"
        ))
    })
}

/// An update stopped part-way: it finishes when run again.
pub fn update_failed(error: impl std::fmt::Display) -> Refusal {
    Refusal::failed(error.to_string())
        .with_hint("run the update again: it starts from what exists and finishes the rest")
}

/// A destroy stopped part-way: it finishes when run again.
pub fn destroy_failed(error: impl std::fmt::Display) -> Refusal {
    Refusal::failed(error.to_string())
        .with_hint("run the destroy again: it starts from what is left and finishes the job")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn done_lines_and_json() {
        let c = created("ci", "vpc-1");
        assert_eq!(c.lines, ["VPC ci(vpc-1) has been created"]);
        assert_eq!(
            serde_json::to_string(&c.json).unwrap(),
            r#"{"name":"ci","vpc_id":"vpc-1"}"#
        );
        let u = updated("ci", "vpc-1", 3);
        assert_eq!(u.lines, ["VPC ci(vpc-1) has been updated (3 change(s))"]);
        assert_eq!(
            serde_json::to_string(&u.json).unwrap(),
            r#"{"vpc_id":"vpc-1","name":"ci","changes":3}"#
        );
        let d = destroyed("ci", "vpc-1");
        assert_eq!(d.lines, ["VPC ci(vpc-1) has been destroyed"]);
        assert_eq!(d.json["destroyed"], true);
    }

    #[test]
    fn questions_spare_sandboxes() {
        assert_eq!(destroy_question("s", "vpc-1", Some("sandbox")), None);
        assert_eq!(
            destroy_question("ci", "vpc-1", None).as_deref(),
            Some("Destroy environment ci (vpc-1, type unknown)?")
        );
        assert_eq!(
            delete_peerings_question(Some(("s", Some("sandbox"))), 2),
            None
        );
        assert_eq!(
            delete_peerings_question(Some(("ci", Some("ci"))), 2).as_deref(),
            Some("Delete 2 peering(s) of ci and their routes?")
        );
        assert_eq!(
            delete_peerings_question(None, 1).as_deref(),
            Some("Delete 1 peering(s) of every asiaq environment in the region and their routes?")
        );
    }

    #[test]
    fn update_needs_a_type() {
        assert_eq!(required_type("vpc-1", Some("ci")), Ok("ci"));
        let r = required_type("vpc-1", None).unwrap_err();
        assert!(r.usage && r.message.starts_with("VPC vpc-1 has no `type` tag"));
        let f = update_failed("boom");
        assert!(!f.usage && f.hint.unwrap().starts_with("run the update again"));
        assert!(destroy_failed("x")
            .hint
            .unwrap()
            .starts_with("run the destroy again"));
    }
}
