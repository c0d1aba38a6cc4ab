//! What `asiaq dynamodb list` and `list-backups` print.

use super::{BackupSummary, TableRow};
use crate::printout::{table_lines, Printout};

/// `list`: `TABLE_NAME ENV_NAME` (the table padded to 20), after a header with `header`;
/// JSON: the rows.
pub fn tables(rows: &[TableRow], header: bool) -> Printout {
    let head = header.then(|| format!("{:<20} ENV_NAME", "TABLE_NAME"));
    let lines = head
        .into_iter()
        .chain(
            rows.iter()
                .map(|r| format!("{:<20} {}", r.table, r.environment)),
        )
        .collect();
    Printout::new(&rows, lines)
}

/// `list-backups`: created, table, name, status and ARN in aligned columns; JSON: the
/// backups.
pub fn backups(backups: &[BackupSummary]) -> Printout {
    let rows: Vec<Vec<String>> = backups
        .iter()
        .map(|b| [&b.created, &b.table, &b.name, &b.status, &b.arn])
        .map(|row| row.map(String::clone).to_vec())
        .collect();
    Printout::new(&backups, table_lines(&rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_lines_with_and_without_header() {
        let rows = vec![TableRow {
            table: "Users".into(),
            environment: "ci".into(),
            name: "Users_ci".into(),
        }];
        assert_eq!(
            tables(&rows, true).lines,
            ["TABLE_NAME           ENV_NAME", "Users                ci"]
        );
        assert_eq!(tables(&rows, false).lines, ["Users                ci"]);
        assert_eq!(tables(&rows, false).json[0]["name"], "Users_ci");
    }

    #[test]
    fn backup_columns() {
        let b = |name: &str| BackupSummary {
            table: "Users_ci".into(),
            name: name.into(),
            arn: "arn:b".into(),
            created: "2024-01-01T00:00:00Z".into(),
            status: "AVAILABLE".into(),
            size_bytes: None,
            backup_type: "USER".into(),
        };
        let p = backups(&[b("one"), b("three")]);
        assert_eq!(
            p.lines,
            [
                "2024-01-01T00:00:00Z  Users_ci  one    AVAILABLE  arn:b",
                "2024-01-01T00:00:00Z  Users_ci  three  AVAILABLE  arn:b"
            ]
        );
        assert_eq!(p.json[1]["name"], "three");
    }
}
