//! `discoroot/acfg.metadata` (spec §3.9): modes and owners of the files the overlay installs.

use std::path::Path;

use serde::Serialize;

use crate::diag::Diagnostic;

/// One line: `<absolute path>[~hostclass] <octal mode> <owner> <group>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetadataEntry {
    /// The installed path (without the `~hostclass` suffix).
    pub path: String,
    /// The hostclass variant this entry applies to, if any.
    pub hostclass: Option<String>,
    pub mode: u32,
    pub owner: String,
    pub group: String,
    pub line: usize,
}

/// Splits `name~hostclass` into the name and the variant.
pub fn split_variant(name: &str) -> (&str, Option<&str>) {
    match name.rsplit_once('~') {
        Some((base, hc)) if !base.is_empty() && !hc.is_empty() && !hc.contains('/') => {
            (base, Some(hc))
        }
        _ => (name, None),
    }
}

/// Parses the file's text. Every bad line is reported (the original raised ValueError on
/// the first).
pub fn parse_metadata(path: &Path, text: &str) -> Result<Vec<MetadataEntry>, Vec<Diagnostic>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let content = raw.split('#').next().unwrap_or_default().trim();
        if content.is_empty() {
            continue;
        }
        let fields: Vec<&str> = content.split_whitespace().collect();
        let expected = "<absolute path>[~hostclass] <octal mode> <owner> <group>";
        if fields.len() != 4 {
            errors.push(Diagnostic::error(
                path,
                Some(line),
                format!("{} fields instead of 4", fields.len()),
                Some(expected.into()),
            ));
            continue;
        }
        if !fields[0].starts_with('/') {
            errors.push(Diagnostic::error(
                path,
                Some(line),
                format!("{:?} is not an absolute path", fields[0]),
                Some(expected.into()),
            ));
            continue;
        }
        let mode = match u32::from_str_radix(fields[1], 8) {
            Ok(m) if m <= 0o7777 => m,
            _ => {
                errors.push(Diagnostic::error(
                    path,
                    Some(line),
                    format!("{:?} is not an octal file mode", fields[1]),
                    Some("an octal mode like 0644 or 755".into()),
                ));
                continue;
            }
        };
        let (file, hostclass) = split_variant(fields[0]);
        out.push(MetadataEntry {
            path: file.to_string(),
            hostclass: hostclass.map(str::to_string),
            mode,
            owner: fields[2].to_string(),
            group: fields[3].to_string(),
            line,
        });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sample_lines() {
        let text = "# c\n/etc/sudoers 0440 root root\n\n/home/jenkins/.ssh/id_rsa~mhcdiscojenkins 0600 jenkins jenkins\n/opt/wgen/bin/take_snapshot.sh 555 snapshot snapshot # trailing\n";
        let e = parse_metadata(Path::new("m"), text).unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].mode, 0o440);
        assert_eq!(e[1].path, "/home/jenkins/.ssh/id_rsa");
        assert_eq!(e[1].hostclass.as_deref(), Some("mhcdiscojenkins"));
        assert_eq!(e[2].mode, 0o555);
        assert_eq!(e[2].line, 5);
    }

    #[test]
    fn bad_lines() {
        let errs = parse_metadata(
            Path::new("m"),
            "/a 0644 root\netc/x 0644 a b\n/b 0999 a b\n",
        )
        .unwrap_err();
        let lines: Vec<_> = errs.iter().map(|d| d.line).collect();
        assert_eq!(lines, vec![Some(1), Some(2), Some(3)]);
        assert!(errs[0].to_string().contains("3 fields instead of 4"));
    }

    #[test]
    fn variants() {
        assert_eq!(
            split_variant("httpd.conf~mhcweb"),
            ("httpd.conf", Some("mhcweb"))
        );
        assert_eq!(split_variant("plain"), ("plain", None));
        assert_eq!(split_variant("~x"), ("~x", None));
    }
}
