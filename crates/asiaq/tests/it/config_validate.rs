//! `asiaq config validate` against the example configuration and a corpus of broken ones.
//!
//! Each `tests/fixtures/broken/<name>.case` breaks one thing in a copy of
//! `tests/fixtures/config-base/` and lists the exact error lines validate must print
//! (`file:line: what is wrong (expected ...)`), always with exit 2. The case format:
//!
//! ```text
//! # comment
//! file: <path>            the file the next replace/append applies to
//! replace: <exact line>   ...replaced by the next `with:` (empty `with:` deletes the line)
//! with: <new line>
//! append: <line>
//! write: <path>           the following lines, up to `end`, become the file
//! expect: <line>          an error line validate must print (one or more)
//! ```

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Applies a case to a configuration directory; returns the expected error lines.
fn apply_case(case: &Path, dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(case).unwrap();
    let mut lines = text.lines();
    let mut file: Option<PathBuf> = None;
    let mut pending_replace: Option<String> = None;
    let mut expects = Vec::new();
    let name = case.display();
    while let Some(line) = lines.next() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (directive, arg) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("{name}: bad line {line:?}"));
        let arg = arg.strip_prefix(' ').unwrap_or(arg);
        match directive {
            "file" => file = Some(dir.join(arg)),
            "replace" => pending_replace = Some(arg.to_string()),
            "with" => {
                let old = pending_replace
                    .take()
                    .unwrap_or_else(|| panic!("{name}: with: without replace:"));
                let path = file
                    .as_ref()
                    .unwrap_or_else(|| panic!("{name}: replace before file:"));
                let content = std::fs::read_to_string(path).unwrap();
                let mut found = false;
                let replaced: Vec<&str> = content
                    .lines()
                    .filter_map(|l| {
                        if !found && l == old {
                            found = true;
                            (!arg.is_empty()).then_some(arg)
                        } else {
                            Some(l)
                        }
                    })
                    .collect();
                assert!(
                    found,
                    "{name}: line {old:?} not found in {}",
                    path.display()
                );
                std::fs::write(path, replaced.join("\n") + "\n").unwrap();
            }
            "append" => {
                let path = file
                    .as_ref()
                    .unwrap_or_else(|| panic!("{name}: append before file:"));
                let mut content = std::fs::read_to_string(path).unwrap();
                content.push_str(arg);
                content.push('\n');
                std::fs::write(path, content).unwrap();
            }
            "write" => {
                let path = dir.join(arg);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                let body: Vec<&str> = lines.by_ref().take_while(|l| *l != "end").collect();
                std::fs::write(path, body.join("\n") + "\n").unwrap();
            }
            "expect" => expects.push(arg.to_string()),
            other => panic!("{name}: unknown directive {other:?}"),
        }
    }
    assert!(pending_replace.is_none(), "{name}: replace: without with:");
    expects
}

fn validate(dir: &Path) -> (i32, String, String) {
    let out = Command::cargo_bin("asiaq")
        .unwrap()
        .current_dir(dir)
        .env_remove("ASIAQ_CONFIG")
        .args(["config", "validate", "--asiaq-config", "."])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn the_base_of_the_corpus_is_valid() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&fixtures().join("config-base"), tmp.path());
    let (code, stdout, stderr) = validate(tmp.path());
    assert_eq!((code, stdout.as_str()), (0, ""), "{stderr}");
    assert!(stderr.contains("0 errors, 0 warnings"), "{stderr}");
}

/// A configuration the original accepted, using its leniencies (empty bucket files, a
/// pipeline hostclass without a section, trailing commas in policy documents): exit 0, and
/// a warning for each leniency that is probably a slip (none for an empty bucket file,
/// which is how a bucket opts out of a default).
#[test]
fn the_originals_leniencies_are_warnings() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&fixtures().join("config-compat"), tmp.path());
    let (code, stdout, stderr) = validate(tmp.path());
    assert_eq!(code, 0, "{stdout}{stderr}");
    let comma = "warning: trailing comma (AWS rejects it; the document is sent without)";
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        vec![
            format!("iam/s3/123456789012/REGION.PROJECT.credentials.ci.iam:8: {comma}"),
            format!("iam/user_policies/admin.iam:7: {comma}"),
            format!("iam/user_policies/admin.iam:8: {comma}"),
            format!("iam/user_policies/admin.tr:9: {comma}"),
            "pipelines/ci.csv:5: warning: hostclass: mhcbatch has no [mhcbatch] section in disco_aws.ini; the [disco_aws] default_* options apply".to_string(),
        ],
        "{stdout}"
    );
    assert!(stderr.contains("0 errors, 5 warnings"), "{stderr}");
}

#[test]
fn the_example_configuration_is_valid_for_every_environment() {
    let examples = asiaq_testkit::examples_dir().join("sandbox");
    for args in [
        vec![],
        vec!["--env", "demo", "--type", "sandbox"],
        vec!["--env", "build", "--type", "sandbox"],
        vec!["--env", "production"],
        vec!["--env", "scratch", "--type", "dynamic"],
    ] {
        let out = Command::cargo_bin("asiaq")
            .unwrap()
            .env_remove("ASIAQ_CONFIG")
            .args(["config", "validate", "--asiaq-config"])
            .arg(&examples)
            .args(&args)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stdout}");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
    }
}

#[test]
fn every_broken_configuration_names_file_and_line_and_exits_2() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(fixtures().join("broken"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "case"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 40, "the corpus has {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let tmp = tempfile::tempdir().unwrap();
        copy_dir(&fixtures().join("config-base"), tmp.path());
        let expects = apply_case(case, tmp.path());
        let (code, stdout, _) = validate(tmp.path());
        let errors: Vec<&str> = stdout
            .lines()
            .filter(|l| !l.contains(": warning: "))
            .collect();
        let name = case.file_stem().unwrap().to_string_lossy();
        if expects.is_empty() {
            failures.push(format!(
                "{name}: no expect: lines; validate printed:\n{stdout}"
            ));
        } else if code != 2 || errors != expects {
            failures.push(format!(
                "{name}: exit {code}\n  expected:\n    {}\n  got:\n    {}",
                expects.join("\n    "),
                errors.join("\n    ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn json_output_lists_each_diagnostic_with_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&fixtures().join("config-base"), tmp.path());
    apply_case(&fixtures().join("broken/vpc-bad-vpc-cidr.case"), tmp.path());
    let out = Command::cargo_bin("asiaq")
        .unwrap()
        .current_dir(tmp.path())
        .env_remove("ASIAQ_CONFIG")
        .args([
            "--output",
            "json",
            "config",
            "validate",
            "--asiaq-config",
            ".",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["errors"], 1);
    assert_eq!(report["diagnostics"][0]["path"], "disco_vpc.ini");
    assert_eq!(report["diagnostics"][0]["line"], 2);
    assert_eq!(report["diagnostics"][0]["severity"], "error");
}

#[test]
fn a_missing_configuration_directory_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, stdout, _) = validate(&tmp.path().join("."));
    assert_eq!(code, 2);
    assert_eq!(stdout.trim(), "disco_aws.ini: file not found");
}

/// Environment and hostclass names given as arguments are checked like those of the
/// files (they end up in AWS names and tags): exit 2 before anything is read.
#[test]
fn names_given_as_arguments_are_checked_when_parsed() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&fixtures().join("config-base"), tmp.path());
    for (args, expected) in [
        (
            vec!["--env", "démo", "config", "validate"],
            "invalid value 'démo' for '--env <ENV>': environment name \"démo\" contains 'é' (expected ASCII letters, digits, \"-\" and \"_\")",
        ),
        (
            vec!["aws", "listhosts", "--hostclass", "mhc web"],
            "invalid value 'mhc web' for '--hostclass <HOSTCLASS>': hostclass name \"mhc web\" contains ' '",
        ),
    ] {
        let out = Command::cargo_bin("asiaq")
            .unwrap()
            .current_dir(tmp.path())
            .env_remove("ASIAQ_CONFIG")
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}
