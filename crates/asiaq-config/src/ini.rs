//! INI files read exactly as Python 2's `ConfigParser` reads them, keeping line numbers.
//!
//! The original read every `disco_*.ini` with `ConfigParser`, so an existing configuration
//! directory depends on its quirks:
//! * `key=value` and `key: value`; the key ends at the first `=` or `:`;
//! * whole-line comments start with `#` or `;` (and the old `rem` form); an inline comment
//!   is `;` preceded by whitespace (`a=b ; note`), while `#` inside a value is kept;
//! * a line starting with whitespace continues the previous value (joined with `\n`);
//! * option names are case-insensitive (stored lowercased), section names are not;
//! * a repeated section is merged into the first, a repeated option overwrites;
//! * `[DEFAULT]` supplies options to every section;
//! * `%(name)s` interpolation from the same section (and `[DEFAULT]`), applied only when
//!   the value contains `%(` — so values like `%MemFree` are taken as they are.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::diag::Diagnostic;

/// The value of one option, with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The raw value (continuation lines joined with `\n`), before interpolation.
    pub raw: String,
    /// 1-based line of the `key=value` line.
    pub line: usize,
    /// The key as written (before lowercasing), for messages.
    pub key: String,
}

/// One `[section]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    /// Line of the (first) header; 0 for `[DEFAULT]` when absent.
    pub line: usize,
    /// Options in file order, keyed by lowercased name.
    entries: Vec<(String, Entry)>,
}

impl Section {
    fn set(&mut self, key: String, entry: Entry) {
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = entry,
            None => self.entries.push((key, entry)),
        }
    }

    /// The entry of `key` (case-insensitive), without `[DEFAULT]`.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        let key = key.to_ascii_lowercase();
        self.entries.iter().find(|(k, _)| *k == key).map(|(_, e)| e)
    }

    /// Option names (lowercased) in file order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    /// `(lowercased key, entry)` pairs in file order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.entries.iter().map(|(k, e)| (k.as_str(), e))
    }
}

/// A value looked up in an INI file: the interpolated text and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    pub text: String,
    pub path: PathBuf,
    pub section: String,
    /// The key as written in the file (e.g. `default_domain_name@production`).
    pub key: String,
    pub line: usize,
}

impl Value {
    /// A diagnostic pointing at this value's line, prefixed with `[section] key`.
    pub fn error(&self, message: impl std::fmt::Display, expected: Option<String>) -> Diagnostic {
        Diagnostic::error(
            &self.path,
            Some(self.line),
            format!("[{}] {}: {message}", self.section, self.key),
            expected,
        )
    }

    /// Like [`Value::error`] for a grammar error of `asiaq_core::syntax`.
    pub fn syntax_error(&self, err: asiaq_core::syntax::SyntaxError) -> Diagnostic {
        self.error(err.message, Some(err.expected))
    }

    /// A warning pointing at this value's line.
    pub fn warning(&self, message: impl std::fmt::Display, expected: Option<String>) -> Diagnostic {
        Diagnostic::warning(
            &self.path,
            Some(self.line),
            format!("[{}] {}: {message}", self.section, self.key),
            expected,
        )
    }

    /// Parses the text with `parse`, turning its error into a diagnostic at this line.
    pub fn parse<T>(
        &self,
        parse: impl FnOnce(&str) -> Result<T, asiaq_core::syntax::SyntaxError>,
    ) -> Result<T, Diagnostic> {
        parse(&self.text).map_err(|e| self.syntax_error(e))
    }
}

const DEFAULT_SECTION: &str = "DEFAULT";
const MAX_INTERPOLATION_DEPTH: usize = 10;

/// A parsed INI file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniFile {
    /// The path shown in messages (the config dir as given, joined with the file name).
    path: PathBuf,
    defaults: Section,
    sections: Vec<Section>,
}

impl IniFile {
    /// An empty file (for optional files that do not exist).
    pub fn empty(path: impl Into<PathBuf>) -> Self {
        IniFile {
            path: path.into(),
            defaults: Section {
                name: DEFAULT_SECTION.into(),
                ..Section::default()
            },
            sections: Vec::new(),
        }
    }

    /// Parses `text`. Like ConfigParser, reading continues after a bad line so that every
    /// problem is reported at once; any problem makes the result an error.
    pub fn parse(path: impl Into<PathBuf>, text: &str) -> Result<Self, Vec<Diagnostic>> {
        let mut file = IniFile::empty(path);
        let mut errors = Vec::new();
        // Index into `sections`, or None for [DEFAULT]; outer None before any header.
        let mut current: Option<Option<usize>> = None;
        let mut last_key: Option<String> = None;

        for (idx, raw_line) in text.lines().enumerate() {
            let lineno = idx + 1;
            let line = raw_line.trim_end_matches('\r');
            let stripped = line.trim();
            if stripped.is_empty() || stripped.starts_with('#') || stripped.starts_with(';') {
                continue;
            }
            if is_rem_comment(line) {
                continue;
            }
            // Continuation line.
            if line.starts_with(char::is_whitespace) {
                if let (Some(sect), Some(key)) = (current, last_key.as_ref()) {
                    let section = file.section_mut(sect);
                    if let Some((_, entry)) = section.entries.iter_mut().find(|(k, _)| k == key) {
                        entry.raw.push('\n');
                        entry.raw.push_str(stripped);
                    }
                    continue;
                }
            }
            if let Some(header) = section_header(line) {
                last_key = None;
                if header == DEFAULT_SECTION {
                    if file.defaults.line == 0 {
                        file.defaults.line = lineno;
                    }
                    current = Some(None);
                } else {
                    let idx = match file.sections.iter().position(|s| s.name == header) {
                        Some(i) => i,
                        None => {
                            file.sections.push(Section {
                                name: header.to_string(),
                                line: lineno,
                                entries: Vec::new(),
                            });
                            file.sections.len() - 1
                        }
                    };
                    current = Some(Some(idx));
                }
                continue;
            }
            let Some(sect) = current else {
                errors.push(Diagnostic::error(
                    &file.path,
                    Some(lineno),
                    format!("option line before any [section] header: {stripped:?}"),
                    Some("a [section] header first".into()),
                ));
                continue;
            };
            match option_line(line) {
                Some((key, value)) => {
                    let lower = key.to_ascii_lowercase();
                    file.section_mut(sect).set(
                        lower.clone(),
                        Entry {
                            raw: value,
                            line: lineno,
                            key: key.to_string(),
                        },
                    );
                    last_key = Some(lower);
                }
                None => {
                    errors.push(Diagnostic::error(
                        &file.path,
                        Some(lineno),
                        format!("cannot parse line {stripped:?}"),
                        Some("`key = value`, `key: value`, a [section] header or a comment".into()),
                    ));
                    last_key = None;
                }
            }
        }
        if errors.is_empty() {
            Ok(file)
        } else {
            Err(errors)
        }
    }

    /// Reads and parses the file at `fs_path`, reporting it as `shown_path`.
    pub fn read(fs_path: &Path, shown_path: &Path) -> Result<Self, crate::ConfigError> {
        let text = std::fs::read_to_string(fs_path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                crate::ConfigError::NotFound {
                    path: shown_path.to_path_buf(),
                }
            } else {
                crate::ConfigError::Io {
                    path: shown_path.to_path_buf(),
                    message: e.to_string(),
                }
            }
        })?;
        IniFile::parse(shown_path, &text).map_err(crate::ConfigError::Invalid)
    }

    fn section_mut(&mut self, which: Option<usize>) -> &mut Section {
        match which {
            None => &mut self.defaults,
            Some(i) => &mut self.sections[i],
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sections in file order (without `[DEFAULT]`).
    pub fn sections(&self) -> impl Iterator<Item = &Section> {
        self.sections.iter()
    }

    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }

    pub fn has_section(&self, name: &str) -> bool {
        self.section(name).is_some()
    }

    /// `has_option`: the key in the section or in `[DEFAULT]` (case-insensitive key). A
    /// missing section has no options.
    pub fn has_option(&self, section: &str, key: &str) -> bool {
        self.raw_entry(section, key).is_some()
    }

    fn raw_entry(&self, section: &str, key: &str) -> Option<(&Entry, &str)> {
        let sect = self.section(section)?;
        sect.entry(key)
            .map(|e| (e, sect.name.as_str()))
            .or_else(|| self.defaults.entry(key).map(|e| (e, DEFAULT_SECTION)))
    }

    /// `ConfigParser.get(section, key)` with interpolation; `None` if not set.
    pub fn get(&self, section: &str, key: &str) -> Option<Value> {
        let (entry, found_in) = self.raw_entry(section, key)?;
        let text = self.interpolate(section, &entry.raw);
        Some(Value {
            text,
            path: self.path.clone(),
            section: found_in.to_string(),
            key: entry.key.clone(),
            line: entry.line,
        })
    }

    /// `%(name)s` interpolation, Python 2 `ConfigParser._interpolate`: only when the value
    /// contains `%(`; then `%%` becomes `%`. A reference to a missing option, or one nested
    /// too deep, is left as written (the validator reports it).
    fn interpolate(&self, section: &str, raw: &str) -> String {
        let mut value = raw.to_string();
        for _ in 0..MAX_INTERPOLATION_DEPTH {
            if !value.contains("%(") {
                break;
            }
            match self.interpolate_once(section, &value) {
                Some(next) => value = next,
                None => break,
            }
        }
        value
    }

    fn interpolate_once(&self, section: &str, value: &str) -> Option<String> {
        let mut out = String::with_capacity(value.len());
        let mut rest = value;
        while let Some(pos) = rest.find('%') {
            out.push_str(&rest[..pos]);
            let after = &rest[pos + 1..];
            if let Some(stripped) = after.strip_prefix('%') {
                out.push('%');
                rest = stripped;
            } else if let Some(body) = after.strip_prefix('(') {
                let close = body.find(")s")?;
                let name = &body[..close];
                let (entry, _) = self.raw_entry(section, name)?;
                out.push_str(&entry.raw);
                rest = &body[close + 2..];
            } else {
                // A lone `%x` makes Python's `%` formatting fail; keep it literally.
                out.push('%');
                rest = after;
            }
        }
        out.push_str(rest);
        Some(out)
    }

    /// Unresolvable `%(name)s` references: `(section, key, line, name)`.
    pub fn interpolation_problems(&self) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for sect in std::iter::once(&self.defaults).chain(self.sections.iter()) {
            for (_, entry) in sect.entries() {
                if !entry.raw.contains("%(") {
                    continue;
                }
                let text = self.interpolate(&sect.name, &entry.raw);
                if text.contains("%(") {
                    out.push(Diagnostic::error(
                        &self.path,
                        Some(entry.line),
                        format!(
                            "[{}] {}: %(name)s reference cannot be resolved in {:?}",
                            sect.name, entry.key, entry.raw
                        ),
                        Some(
                            "%(option)s naming an option of the same section or [DEFAULT]; write %% for a literal %"
                                .into(),
                        ),
                    ));
                }
            }
        }
        out
    }
}

/// `rem` comments of ConfigParser: a line whose first word is `rem` (any case), starting
/// with `r`/`R` in column 1.
fn is_rem_comment(line: &str) -> bool {
    line.starts_with(['r', 'R'])
        && line
            .split_whitespace()
            .next()
            .is_some_and(|w| w.eq_ignore_ascii_case("rem"))
}

/// `\[(?P<header>[^]]+)\]` matched at the start of the line.
fn section_header(line: &str) -> Option<&str> {
    let rest = line.strip_prefix('[')?;
    let end = rest.find(']')?;
    (end > 0).then(|| &rest[..end])
}

/// `(?P<option>[^:=\s][^:=]*)\s*(?P<vi>[:=])\s*(?P<value>.*)$`, then the inline-comment and
/// `""` rules of ConfigParser.
fn option_line(line: &str) -> Option<(&str, String)> {
    let first = line.chars().next()?;
    if first == ':' || first == '=' || first.is_whitespace() {
        return None;
    }
    let sep = line.find([':', '='])?;
    let key = line[..sep].trim_end();
    let mut value = &line[sep + 1..];
    if let Some(pos) = value.find(';') {
        if pos > 0 && value[..pos].ends_with(char::is_whitespace) {
            value = &value[..pos];
        }
    }
    let value = value.trim();
    let value = if value == "\"\"" { "" } else { value };
    Some((key, value.to_string()))
}

/// All options of all sections as `section -> key -> raw`, for tests and `--output json`.
pub fn to_map(file: &IniFile) -> BTreeMap<String, BTreeMap<String, String>> {
    file.sections()
        .map(|s| {
            (
                s.name.clone(),
                s.entries()
                    .map(|(k, e)| (k.to_string(), e.raw.clone()))
                    .collect(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> IniFile {
        IniFile::parse("t.ini", text).expect("parses")
    }

    #[test]
    fn equals_and_colon_separators() {
        let f = parse("[a]\nx=1\ny: 2\nz = three = 3\n");
        assert_eq!(f.get("a", "x").unwrap().text, "1");
        assert_eq!(f.get("a", "y").unwrap().text, "2");
        // The key ends at the first separator; the rest is the value.
        assert_eq!(f.get("a", "z").unwrap().text, "three = 3");
    }

    #[test]
    fn first_separator_wins_even_if_colon() {
        let f = parse("[a]\ntags=team:core,tier:app\nk:v=w\n");
        assert_eq!(f.get("a", "tags").unwrap().text, "team:core,tier:app");
        assert_eq!(f.get("a", "k").unwrap().text, "v=w");
    }

    #[test]
    fn comments_whole_line_and_inline_semicolon_only() {
        let f = parse(
            "# top\n; also\n[a]\nsrc=..  ; rsync'd\nhash=a#b\nsemi=a;b\nrem nothing\nREM x\n",
        );
        assert_eq!(f.get("a", "src").unwrap().text, "..");
        assert_eq!(f.get("a", "hash").unwrap().text, "a#b");
        assert_eq!(f.get("a", "semi").unwrap().text, "a;b");
        assert!(!f.has_option("a", "rem"));
    }

    #[test]
    fn continuation_lines_join_with_newline() {
        let f = parse("[a]\nsync=one two\n  three four\n\tfive\nnext=1\n");
        assert_eq!(
            f.get("a", "sync").unwrap().text,
            "one two\nthree four\nfive"
        );
        assert_eq!(f.get("a", "next").unwrap().line, 5);
    }

    #[test]
    fn keys_case_insensitive_sections_case_sensitive() {
        let f = parse("[Mhc]\nPublic_IP=True\n[mhc]\nx=1\n");
        assert_eq!(f.get("Mhc", "public_ip").unwrap().text, "True");
        assert_eq!(f.get("Mhc", "PUBLIC_IP").unwrap().key, "Public_IP");
        assert!(f.get("mhc", "public_ip").is_none());
        assert_eq!(f.sections().count(), 2);
    }

    #[test]
    fn repeated_section_merges_repeated_option_overwrites() {
        let f = parse("[a]\nx=1\n[b]\n[a]\nx=2\ny=3\n");
        assert_eq!(f.sections().count(), 2);
        let x = f.get("a", "x").unwrap();
        assert_eq!((x.text.as_str(), x.line), ("2", 5));
        assert_eq!(f.get("a", "y").unwrap().text, "3");
    }

    #[test]
    fn default_section_applies_everywhere() {
        let f = parse("[DEFAULT]\nregion=us-west-2\n[a]\nx=%(region)s-1\n");
        assert_eq!(f.get("a", "region").unwrap().text, "us-west-2");
        assert_eq!(f.get("a", "region").unwrap().section, "DEFAULT");
        assert_eq!(f.get("a", "x").unwrap().text, "us-west-2-1");
        assert!(f.get("missing", "region").is_none());
    }

    #[test]
    fn interpolation_only_when_percent_paren() {
        let f = parse("[a]\nm=%MemFree\nn=50%% of %(m)s\no=%(nope)s\np=100%\n");
        assert_eq!(f.get("a", "m").unwrap().text, "%MemFree");
        assert_eq!(f.get("a", "n").unwrap().text, "50% of %MemFree");
        assert_eq!(f.get("a", "p").unwrap().text, "100%");
        assert_eq!(f.get("a", "o").unwrap().text, "%(nope)s");
        let problems = f.interpolation_problems();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, Some(4));
    }

    #[test]
    fn empty_quotes_mean_empty() {
        let f = parse("[a]\nx=\"\"\ny=\n");
        assert_eq!(f.get("a", "x").unwrap().text, "");
        assert_eq!(f.get("a", "y").unwrap().text, "");
    }

    #[test]
    fn errors_name_every_bad_line() {
        let errs =
            IniFile::parse("bad.ini", "x=1\n[a]\nno separator here\n=v\n[b]\nok=1\n").unwrap_err();
        let lines: Vec<_> = errs.iter().map(|d| d.line).collect();
        assert_eq!(lines, vec![Some(1), Some(3), Some(4)]);
        assert!(errs[0]
            .to_string()
            .starts_with("bad.ini:1: option line before any"));
    }

    #[test]
    fn crlf_line_endings() {
        let f = parse("[a]\r\nx=1\r\n");
        assert_eq!(f.get("a", "x").unwrap().text, "1");
    }
}
