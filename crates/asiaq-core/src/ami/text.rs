//! What the image commands of `asiaq bake` print: listings with their header on stderr (as
//! the original), the cleanup's selection, stragglers.

use super::{AmiRow, Straggler};
use crate::printout::Printout;

/// `listamis` / `listlatestami`: the table of `rows` (with a Production column when
/// `in_prod`, the tags when `show_tags`); its header on stderr, its rows on stdout; JSON:
/// the rows.
pub fn listing(rows: &[AmiRow], in_prod: bool, show_tags: bool) -> Printout {
    let mut lines = AmiRow::table(rows, in_prod, show_tags);
    let header = if lines.is_empty() {
        Vec::new()
    } else {
        vec![lines.remove(0)]
    };
    Printout::new(&rows, lines).with_text_notes(header)
}

/// `cleanupamis`: the images deleted (`dry_run`: that would be), announced on stderr,
/// listed on stdout without the table's header; JSON: `{dry_run, images}`.
pub fn cleanup(rows: &[AmiRow], dry_run: bool) -> Printout {
    let json = serde_json::json!({ "dry_run": dry_run, "images": rows });
    let lines = AmiRow::table(rows, false, false)
        .into_iter()
        .skip(1)
        .collect();
    let doing = if dry_run { "would delete" } else { "deleting" };
    let notes = match rows.len() {
        0 => Vec::new(),
        n => vec![format!("{doing} {n} image(s):")],
    };
    Printout::new(&json, lines).with_text_notes(notes)
}

/// `liststragglers`: a line per hostclass; JSON: the rows.
pub fn stragglers(rows: &[Straggler]) -> Printout {
    Printout::new(&rows, rows.iter().map(Straggler::line).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str) -> AmiRow {
        AmiRow {
            id: id.into(),
            created: None,
            name: "mhcweb".into(),
            state: "available".into(),
            stage: Some("ci".into()),
            product_line: None,
            age_hours: Some(2),
            tags: None,
            in_prod: None,
        }
    }

    #[test]
    fn listing_header_goes_to_stderr() {
        let rows = vec![row("ami-1")];
        let p = listing(&rows, false, false);
        let table = AmiRow::table(&rows, false, false);
        assert_eq!(p.text_notes, [table[0].clone()]);
        assert_eq!(p.lines, [table[1].clone()]);
        assert_eq!(p.json[0]["id"], "ami-1");
        assert_eq!(listing(&[], false, false).lines.len(), 0);
    }

    #[test]
    fn cleanup_announces_what_it_deletes() {
        let rows = vec![row("ami-1"), row("ami-2")];
        let p = cleanup(&rows, true);
        assert_eq!(p.text_notes, ["would delete 2 image(s):"]);
        assert_eq!(p.lines.len(), 2);
        assert!(p.lines[0].starts_with("ami-1"));
        assert_eq!(p.json["dry_run"], true);
        assert_eq!(cleanup(&rows, false).text_notes, ["deleting 2 image(s):"]);
        let none = cleanup(&[], false);
        assert!(none.text_notes.is_empty() && none.lines.is_empty());
        assert_eq!(none.json["images"], serde_json::json!([]));
    }

    #[test]
    fn straggler_lines() {
        let rows = vec![Straggler {
            hostclass: "mhcweb".into(),
            latest_unpromoted: None,
        }];
        assert_eq!(stragglers(&rows).lines, ["mhcweb\t-"]);
    }
}
