//! What `asiaq snapshot` and `asiaq purge-snapshots` say beyond their listings.

use crate::printout::Refusal;

/// `snapshot create --dry-run`: the empty volume it would snapshot.
pub fn create_dry_run(size_gb: u32, zone: &str, hostclass: &str) -> String {
    format!("would snapshot an empty {size_gb} GB volume in {zone} for {hostclass:?}")
}

/// `snapshot delete`: the snapshots not deleted because they are not tagged with the
/// environment `env` are a failure; `None` when there are none.
pub fn not_deleted(env: &str, foreign: &[String]) -> Option<Refusal> {
    (!foreign.is_empty()).then(|| {
        let foreign = foreign.join(", ");
        Refusal::failed(format!("not deleted (not tagged env={env}): {foreign}"))
    })
}

/// `snapshot update`: the group `group` now (`version`: its new launch template version)
/// or, in a dry run (`None`), would point at snapshot `id` of `size_gb`.
pub fn update_line(group: &str, id: &str, size_gb: u32, version: Option<i64>) -> String {
    match version {
        None => format!("would point {group} at {id} ({size_gb} GB)"),
        Some(v) => format!("{group} now uses {id} (launch template version {v})"),
    }
}

/// `purge-snapshots`: how many snapshots could not be deleted is a failure.
pub fn purge_failures(failures: usize) -> Option<Refusal> {
    (failures > 0).then(|| Refusal::failed(format!("{failures} snapshot(s) could not be deleted")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_failures() {
        assert_eq!(
            create_dry_run(10, "us-east-1a", "mhcweb"),
            "would snapshot an empty 10 GB volume in us-east-1a for \"mhcweb\""
        );
        assert_eq!(not_deleted("ci", &[]), None);
        assert_eq!(
            not_deleted("ci", &["snap-1".into(), "snap-2".into()])
                .unwrap()
                .message,
            "not deleted (not tagged env=ci): snap-1, snap-2"
        );
        assert_eq!(
            update_line("ci_mhcweb_1", "snap-1", 10, None),
            "would point ci_mhcweb_1 at snap-1 (10 GB)"
        );
        assert_eq!(
            update_line("ci_mhcweb_1", "snap-1", 10, Some(3)),
            "ci_mhcweb_1 now uses snap-1 (launch template version 3)"
        );
        assert_eq!(purge_failures(0), None);
        assert_eq!(
            purge_failures(2).unwrap().message,
            "2 snapshot(s) could not be deleted"
        );
    }
}
