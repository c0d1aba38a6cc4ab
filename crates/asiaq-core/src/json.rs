//! Policy documents as users write them: the original's configuration directories hold
//! `.iam`, `.tr` and bucket files with trailing commas (`[1, 2,]`, `{"a": 1,}`), which AWS
//! rejects. They are read leniently (each trailing comma is reported, so it can be fixed)
//! and sent to AWS as canonical JSON.

/// `text` with every trailing comma (a comma outside a string after a value and followed,
/// after whitespace, by `]` or `}`) replaced by a space, and the 1-based line of each. Replacing keeps every
/// other character at its line and column, so errors in the result point into `text`.
pub fn strip_trailing_commas(text: &str) -> (String, Vec<usize>) {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut lines = Vec::new();
    let (mut line, mut in_string, mut escaped) = (1usize, false, false);
    // The last character kept that is not whitespace: a comma after `[`, `{` or `,` is
    // not trailing a value, and stays (an error).
    let mut last: Option<char> = None;
    for (i, &c) in chars.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        } else if c == ','
            && last.is_some_and(|l| !matches!(l, '[' | '{' | ','))
            && chars[i + 1..]
                .iter()
                .find(|n| !n.is_whitespace())
                .is_some_and(|n| *n == ']' || *n == '}')
        {
            lines.push(line);
            out.push(' ');
            continue;
        }
        if c == '\n' {
            line += 1;
        }
        if !c.is_whitespace() {
            last = Some(c);
        }
        out.push(c);
    }
    (out, lines)
}

/// A JSON document read with [`strip_trailing_commas`].
#[derive(Debug, Clone, PartialEq)]
pub struct Lenient {
    pub value: serde_json::Value,
    /// Lines of the trailing commas that were dropped.
    pub trailing_commas: Vec<usize>,
}

/// Parses `text`, tolerating trailing commas. A syntax error's line and column are those of
/// `text`.
pub fn parse_lenient(text: &str) -> Result<Lenient, serde_json::Error> {
    let (clean, trailing_commas) = strip_trailing_commas(text);
    Ok(Lenient {
        value: serde_json::from_str(&clean)?,
        trailing_commas,
    })
}

/// The warning for a trailing comma (the caller puts `file:line:` in front).
pub const TRAILING_COMMA: &str = "trailing comma (AWS rejects it; the document is sent without)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_commas_are_dropped_with_their_lines() {
        let text = "{\n  \"Statement\": [\n    {\"Effect\": \"Allow\",},\n  ],\n  \"s\": \"a,]\\\",}\",\n}\n";
        let l = parse_lenient(text).unwrap();
        assert_eq!(l.trailing_commas, vec![3, 3, 5]);
        assert_eq!(
            serde_json::to_string(&l.value).unwrap(),
            r#"{"Statement":[{"Effect":"Allow"}],"s":"a,]\",}"}"#
        );
        let (clean, none) = strip_trailing_commas(r#"{"a": [1, 2], "b": "x"}"#);
        assert!(none.is_empty());
        assert_eq!(clean, r#"{"a": [1, 2], "b": "x"}"#);
    }

    #[test]
    fn other_errors_keep_their_position() {
        let e = parse_lenient("{\n  \"a\": [1,],\n  \"b\": nope\n}").unwrap_err();
        assert_eq!((e.line(), e.column()), (3, 9));
        // A lone comma is not a trailing comma: still an error.
        assert!(parse_lenient("[,]").is_err());
        assert!(parse_lenient("[1,,]").is_err());
    }
}
