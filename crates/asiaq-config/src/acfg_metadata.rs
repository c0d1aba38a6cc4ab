//! `discoroot/acfg.metadata` (spec §3.9): modes and owners of the files the overlay installs.

use std::path::{Path, PathBuf};

use asiaq_core::acfg::{self, Action, IdEntry, MetadataRule};
use serde::Serialize;

use crate::diag::Diagnostic;
use crate::ConfigError;

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

fn io_error(path: &Path, e: std::io::Error) -> ConfigError {
    ConfigError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// The rules of `source/acfg.metadata`, each name checked and split at its first `~`
/// (see `asiaq_core::acfg`); `None` when the file does not exist.
pub fn read_metadata(source: &Path) -> Result<Option<Vec<MetadataRule>>, ConfigError> {
    let path = source.join(acfg::METADATA_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(&path, e)),
    };
    let entries = parse_metadata(&path, &text).map_err(ConfigError::Invalid)?;
    let mut bad = Vec::new();
    for e in &entries {
        for name in [&e.owner, &e.group] {
            if !acfg::valid_account_name(name) {
                bad.push(Diagnostic::error(
                    &path,
                    Some(e.line),
                    format!("{name:?} is not a valid user or group name"),
                    Some("letters, digits, _ - . (not starting with -)".into()),
                ));
            }
        }
    }
    if !bad.is_empty() {
        return Err(ConfigError::Invalid(bad));
    }
    Ok(Some(
        entries
            .into_iter()
            .map(|e| {
                let joined = match &e.hostclass {
                    Some(hc) => format!("{}~{hc}", e.path),
                    None => e.path.clone(),
                };
                let (path, hostclass) = acfg::split_variant(&joined);
                MetadataRule {
                    path: path.to_string(),
                    hostclass: hostclass.map(str::to_string),
                    mode: e.mode,
                    owner: e.owner,
                    group: e.group,
                    line: e.line,
                }
            })
            .collect(),
    ))
}

/// What overlaying `source` onto `dest` does, in the original's `os.walk` top-down order:
/// in each directory, first every subdirectory is made, then the chosen files (of
/// `hostclasses`' variants) are copied; then each subdirectory is walked. Symbolic links to
/// directories are made as directories but not followed (as `os.walk`); links to files are
/// copied as files. Only reads `source`.
pub fn walk(
    source: &Path,
    dest: &Path,
    hostclasses: &[String],
) -> Result<Vec<Action>, ConfigError> {
    let mut actions = Vec::new();
    walk_into(source, dest, hostclasses, &mut actions)?;
    Ok(actions)
}

fn walk_into(
    source: &Path,
    dest: &Path,
    hostclasses: &[String],
    actions: &mut Vec<Action>,
) -> Result<(), ConfigError> {
    let mut dirs: Vec<(String, PathBuf)> = Vec::new();
    let mut files: Vec<String> = Vec::new();
    for entry in std::fs::read_dir(source).map_err(|e| io_error(source, e))? {
        let entry = entry.map_err(|e| io_error(source, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| io_error(&path, e))?;
        if kind.is_dir() || (kind.is_symlink() && path.is_dir()) {
            dirs.push((name, path));
        } else {
            files.push(name);
        }
    }
    dirs.sort();
    for (name, spath) in &dirs {
        actions.push(Action::MakeDirectory {
            path: dest.join(name).display().to_string(),
            source: spath.display().to_string(),
        });
    }
    let chosen = acfg::select_files(&files, hostclasses);
    for s in &chosen.skipped {
        actions.push(Action::Skip {
            source: source.join(s).display().to_string(),
        });
    }
    for c in &chosen.install {
        actions.push(Action::Copy {
            source: source.join(&c.source).display().to_string(),
            dest: dest.join(&c.dest).display().to_string(),
        });
    }
    for (name, spath) in &dirs {
        let is_link = std::fs::symlink_metadata(spath)
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(false);
        if !is_link {
            walk_into(spath, &dest.join(name), hostclasses, actions)?;
        }
    }
    Ok(())
}

/// The entries of an account file (`/etc/passwd`, `/etc/group`); none when it is absent.
pub fn read_ids(file: &Path) -> Result<Vec<IdEntry>, ConfigError> {
    match std::fs::read_to_string(file) {
        Ok(t) => Ok(acfg::parse_id_file(&t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(io_error(file, e)),
    }
}

/// The hostclasses whose `~variants` apply: those `given` (`--hostclass`), else the first
/// line of `file` (the host's `/opt/wgen/etc/hostclass`); why not, when neither says.
pub fn hostclasses(given: &[String], file: &Path) -> Result<Vec<String>, String> {
    if !given.is_empty() {
        return Ok(given.to_vec());
    }
    let shown = file.display();
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("no --hostclass given and cannot read {shown}: {e}"))?;
    let first = acfg::hostclass_from_file(&text).ok_or_else(|| format!("{shown} is empty"))?;
    Ok(vec![first])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostclasses_given_or_from_the_host_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hostclass");
        let given = vec!["mhcweb".to_string()];
        assert_eq!(hostclasses(&given, &file), Ok(given.clone()));
        let err = hostclasses(&[], &file).unwrap_err();
        assert!(err.starts_with(&format!(
            "no --hostclass given and cannot read {}: ",
            file.display()
        )));
        std::fs::write(&file, "").unwrap();
        assert_eq!(
            hostclasses(&[], &file),
            Err(format!("{} is empty", file.display()))
        );
        std::fs::write(&file, "mhcapp\nother\n").unwrap();
        assert_eq!(hostclasses(&[], &file), Ok(vec!["mhcapp".to_string()]));
    }

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

    #[test]
    fn read_metadata_checks_names_and_splits_variants() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(read_metadata(d.path()).unwrap(), None);
        std::fs::write(
            d.path().join("acfg.metadata"),
            "/etc/a~mhcweb 0644 root wheel\n/etc/b 0600 -bad root\n",
        )
        .unwrap();
        let err = read_metadata(d.path()).unwrap_err();
        assert!(
            err.to_string()
                .contains(":2: \"-bad\" is not a valid user or group name"),
            "{err}"
        );
        std::fs::write(
            d.path().join("acfg.metadata"),
            "/etc/a~mhcweb 0644 root wheel\n",
        )
        .unwrap();
        let rules = read_metadata(d.path()).unwrap().unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].path, "/etc/a");
        assert_eq!(rules[0].hostclass.as_deref(), Some("mhcweb"));
        assert_eq!((rules[0].mode, rules[0].line), (0o644, 1));
    }

    #[test]
    fn walk_makes_directories_then_copies_then_descends() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        std::fs::create_dir_all(src.join("etc/sub")).unwrap();
        std::fs::create_dir_all(src.join("opt")).unwrap();
        std::fs::write(src.join("top"), "").unwrap();
        std::fs::write(src.join("etc/conf"), "").unwrap();
        std::fs::write(src.join("etc/conf~mhcweb"), "").unwrap();
        std::fs::write(src.join("etc/conf~mhcother"), "").unwrap();
        std::fs::write(src.join("etc/sub/x"), "").unwrap();
        let actions = walk(&src, Path::new("/dest"), &["mhcweb".to_string()]).unwrap();
        let text: Vec<String> = actions
            .iter()
            .map(|a| a.to_string().replace(&src.display().to_string(), "S"))
            .collect();
        assert_eq!(
            text,
            [
                "make directory /dest/etc",
                "make directory /dest/opt",
                "copy S/top to /dest/top",
                "make directory /dest/etc/sub",
                "skip S/etc/conf",
                "skip S/etc/conf~mhcother",
                "copy S/etc/conf~mhcweb to /dest/etc/conf",
                "copy S/etc/sub/x to /dest/etc/sub/x",
            ]
        );
        let Action::MakeDirectory { source, .. } = &actions[0] else {
            panic!("{:?}", actions[0]);
        };
        assert_eq!(source, &src.join("etc").display().to_string());
        assert!(matches!(
            walk(&d.path().join("nothing"), Path::new("/d"), &[]),
            Err(ConfigError::Io { .. })
        ));
    }

    #[test]
    fn read_ids_of_a_missing_file_is_empty() {
        let d = tempfile::tempdir().unwrap();
        assert!(read_ids(&d.path().join("passwd")).unwrap().is_empty());
        std::fs::write(d.path().join("group"), "wheel:x:10:\nbad line\n").unwrap();
        let ids = read_ids(&d.path().join("group")).unwrap();
        assert_eq!(acfg::lookup_id(&ids, "wheel"), Some(10));
    }
}
