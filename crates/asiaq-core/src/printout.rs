//! What a command prints, built by the libraries and written by the binary's one printer:
//! the result as JSON (`--output json`) or as text lines on stdout, and the lines that go
//! to stderr (headers and progress that are not the result). Also the error a library
//! gives a command: bad input (exit 2) or a failure (exit 1), each with an optional hint.

use serde::Serialize;

/// A command's result, in both forms.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Printout {
    /// The result as JSON.
    pub json: serde_json::Value,
    /// The result as text: one line each on stdout.
    pub lines: Vec<String>,
    /// Lines on stderr with text output only (a table's header, what was done).
    pub text_notes: Vec<String>,
    /// Lines on stderr whatever the output (what is worth knowing besides the result).
    pub notes: Vec<String>,
}

impl Printout {
    /// `value` as the JSON result, `lines` as the text result.
    pub fn new(value: &impl Serialize, lines: Vec<String>) -> Self {
        Self {
            json: serde_json::to_value(value).unwrap_or(serde_json::Value::Null),
            lines,
            text_notes: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// A list of names: one per line, or a JSON array.
    pub fn names(names: &[String]) -> Self {
        Self::new(&names, names.to_vec())
    }

    /// The same, with `notes` on stderr when the output is text.
    pub fn with_text_notes(mut self, notes: Vec<String>) -> Self {
        self.text_notes = notes;
        self
    }

    /// The same, with `notes` on stderr whatever the output.
    pub fn with_notes(mut self, notes: Vec<String>) -> Self {
        self.notes = notes;
        self
    }
}

/// Rows as aligned columns: each column padded to its widest cell plus two spaces, the
/// last cell as it is, trailing spaces trimmed.
pub fn table_lines(rows: &[Vec<String>]) -> Vec<String> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|row| {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                if c + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(&format!("{cell:<width$}  ", width = widths[c]));
                }
            }
            line.trim_end().to_string()
        })
        .collect()
}

/// Why a command cannot go on, as a library tells it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    /// Bad input or configuration (exit 2, nothing changed) rather than a failure (exit 1).
    pub usage: bool,
    pub message: String,
    pub hint: Option<String>,
}

impl Refusal {
    /// Bad input or configuration: exit 2.
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            usage: true,
            message: message.into(),
            hint: None,
        }
    }

    /// The operation failed: exit 1.
    pub fn failed(message: impl Into<String>) -> Self {
        Self {
            usage: false,
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Row {
        b: u32,
        a: &'static str,
    }

    #[test]
    fn json_keeps_the_field_order_of_the_value() {
        let p = Printout::new(&Row { b: 1, a: "x" }, vec!["line".into()]);
        assert_eq!(
            serde_json::to_string(&p.json).unwrap(),
            r#"{"b":1,"a":"x"}"#
        );
        assert_eq!(p.lines, ["line"]);
        assert!(p.text_notes.is_empty() && p.notes.is_empty());
        let p = p
            .with_notes(vec!["n".into()])
            .with_text_notes(vec!["t".into()]);
        assert_eq!(
            (p.notes, p.text_notes),
            (vec!["n".into()], vec!["t".into()])
        );
    }

    #[test]
    fn table_pads_columns_to_widest_cell() {
        let rows = vec![
            vec!["a".to_string(), "bb".to_string(), "c".to_string()],
            vec!["aaa".to_string(), "b".to_string(), "".to_string()],
        ];
        let out = table_lines(&rows).join("\n") + "\n";
        assert_eq!(out, "a    bb  c\naaa  b\n");
        assert!(table_lines(&[]).is_empty());
    }

    #[test]
    fn names_are_lines_and_an_array() {
        let p = Printout::names(&["a".to_string(), "b".to_string()]);
        assert_eq!(p.lines, ["a", "b"]);
        assert_eq!(p.json, serde_json::json!(["a", "b"]));
    }

    #[test]
    fn refusals_say_their_exit_kind_and_hint() {
        let r = Refusal::usage("bad").with_hint("do this");
        assert!(r.usage);
        assert_eq!(r.to_string(), "bad");
        assert_eq!(r.hint.as_deref(), Some("do this"));
        assert!(!Refusal::failed("broke").usage);
    }
}
