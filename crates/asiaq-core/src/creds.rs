//! What `asiaq creds` prints (never a value, but for `get`).

use serde::Serialize;

use crate::printout::Printout;

/// `set`, `setfile` and `delete`: what was done to `s3://bucket/key` (`action`, e.g. `set`
/// or `would delete`; `bytes` written). Only a dry run prints a line (the change itself is
/// reported on stderr as it happens); JSON: the whole.
pub fn done(bucket: &str, key: &str, action: &str, bytes: usize, dry_run: bool) -> Printout {
    #[derive(Serialize)]
    struct Done<'a> {
        bucket: &'a str,
        key: &'a str,
        action: &'a str,
        bytes: usize,
        dry_run: bool,
    }
    let d = Done {
        bucket,
        key,
        action,
        bytes,
        dry_run,
    };
    let lines = match dry_run {
        true => vec![format!(
            "{action} s3://{bucket}/{key} (dry run: nothing changed)"
        )],
        false => Vec::new(),
    };
    Printout::new(&d, lines)
}

/// `get`: the key and its value (as text) for JSON; the text output is the raw value.
pub fn got(key: &str, value: &[u8]) -> serde_json::Value {
    serde_json::json!({"key": key, "value": String::from_utf8_lossy(value)})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_dry_runs_print_a_line() {
        let p = done("b", "k", "would set", 3, true);
        assert_eq!(p.lines, ["would set s3://b/k (dry run: nothing changed)"]);
        assert_eq!(
            serde_json::to_string(&p.json).unwrap(),
            r#"{"bucket":"b","key":"k","action":"would set","bytes":3,"dry_run":true}"#
        );
        assert!(done("b", "k", "set", 3, false).lines.is_empty());
    }

    #[test]
    fn got_is_key_then_value() {
        assert_eq!(
            serde_json::to_string(&got("k", b"v\n")).unwrap(),
            r#"{"key":"k","value":"v\n"}"#
        );
    }
}
