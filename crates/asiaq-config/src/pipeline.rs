//! Pipeline CSV files (`pipelines/*.csv`, `sandboxes/<name>/pipeline.csv`), spec §3.8.
//!
//! Read like Python's `csv.DictReader`: the header row names the columns, so their order
//! does not matter, and unknown columns are ignored. Every row is checked before anything is
//! done with the file, and every problem names the file and the row's line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use asiaq_core::syntax::{self, SizeSpec, SpotinstReserve};
use serde::Serialize;

use crate::aws_ini::{AwsIni, HOSTCLASS_PREFIX};
use crate::diag::Diagnostic;
use crate::error::ConfigError;

/// Columns the original reads (anything else is ignored, with a warning from `validate`).
pub const KNOWN_COLUMNS: [&str; 17] = [
    "sequence",
    "hostclass",
    "min_size",
    "desired_size",
    "max_size",
    "instance_type",
    "extra_space",
    "extra_disk",
    "iops",
    "smoke_test",
    "ami",
    "deployable",
    "integration_test",
    "termination_policies",
    "chaos",
    "spotinst",
    "spotinst_reserve",
];

/// Termination policies AWS accepts.
pub const TERMINATION_POLICIES: [&str; 7] = [
    "OldestInstance",
    "NewestInstance",
    "OldestLaunchConfiguration",
    "ClosestToNextInstanceHour",
    "Default",
    "OldestLaunchTemplate",
    "AllocationStrategy",
];

/// One row of a pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PipelineRow {
    /// Line of the row in the file (1-based).
    pub line: usize,
    /// `sequence`; `None` when the column is absent or empty (spinup requires it).
    pub sequence: Option<u32>,
    pub hostclass: String,
    pub min_size: SizeSpec,
    pub desired_size: SizeSpec,
    pub max_size: SizeSpec,
    /// `instance_type`, possibly a colon list for spot (`m4.large:m4.xlarge`).
    pub instance_type: Option<String>,
    pub extra_space: Option<u32>,
    pub extra_disk: Option<u32>,
    pub iops: Option<u32>,
    pub smoke_test: bool,
    pub ami: Option<String>,
    /// `deployable` as written (truthy-parsed by whoever needs it).
    pub deployable: Option<String>,
    pub integration_test: Option<String>,
    pub termination_policies: Vec<String>,
    /// `chaos` as written; `None` means the hostclass option decides.
    pub chaos: Option<String>,
    pub spotinst: bool,
    pub spotinst_reserve: Option<SpotinstReserve>,
    /// Every column of the row as written (for columns asiaq does not interpret).
    pub columns: BTreeMap<String, String>,
}

impl PipelineRow {
    /// The first instance type of the colon list.
    pub fn primary_instance_type(&self) -> Option<&str> {
        self.instance_type
            .as_deref()
            .and_then(|t| t.split(':').next())
            .filter(|t| !t.is_empty())
    }
}

/// A parsed pipeline file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pipeline {
    pub path: PathBuf,
    pub columns: Vec<String>,
    pub rows: Vec<PipelineRow>,
}

impl Pipeline {
    /// Reads and checks a pipeline file. Without `aws`, hostclass names are only checked
    /// for form; with it, a hostclass without a section in disco_aws.ini is a warning.
    pub fn read(
        path: &Path,
        aws: Option<&AwsIni>,
    ) -> Result<(Pipeline, Vec<Diagnostic>), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ConfigError::NotFound {
                    path: path.to_path_buf(),
                }
            } else {
                ConfigError::Io {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                }
            }
        })?;
        Pipeline::parse(path, &text, aws)
    }

    /// Parses pipeline text. Errors make the result `Err(Invalid)`; warnings come back with
    /// the pipeline.
    pub fn parse(
        path: &Path,
        text: &str,
        aws: Option<&AwsIni>,
    ) -> Result<(Pipeline, Vec<Diagnostic>), ConfigError> {
        let mut diags = Vec::new();
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let headers: Vec<String> = match reader.headers() {
            Ok(h) => h.iter().map(str::to_string).collect(),
            Err(e) => return Err(ConfigError::invalid(Diagnostic::error(
                path,
                Some(1),
                format!("cannot read the header row: {e}"),
                Some(
                    "a CSV header row such as sequence,hostclass,min_size,desired_size,max_size"
                        .into(),
                ),
            ))),
        };
        if headers.iter().all(|h| h.is_empty()) {
            return Err(ConfigError::invalid(Diagnostic::error(
                path,
                Some(1),
                "the file has no header row",
                Some(
                    "a CSV header row such as sequence,hostclass,min_size,desired_size,max_size"
                        .into(),
                ),
            )));
        }
        if !headers.iter().any(|h| h == "hostclass") {
            return Err(ConfigError::invalid(Diagnostic::error(
                path,
                Some(1),
                format!(
                    "the header row has no hostclass column (columns: {})",
                    headers.join(",")
                ),
                Some("a hostclass column".into()),
            )));
        }
        for (i, h) in headers.iter().enumerate() {
            if headers[..i].contains(h) {
                diags.push(Diagnostic::error(
                    path,
                    Some(1),
                    format!("column {h:?} appears twice"),
                    Some("each column once".into()),
                ));
            } else if !h.is_empty() && !KNOWN_COLUMNS.contains(&h.as_str()) {
                diags.push(Diagnostic::warning(
                    path,
                    Some(1),
                    format!("column {h:?} is not read by asiaq"),
                    Some(format!("columns among: {}", KNOWN_COLUMNS.join(","))),
                ));
            }
        }

        let mut rows = Vec::new();
        for record in reader.records() {
            let record = match record {
                Ok(r) => r,
                Err(e) => {
                    let line = e.position().map(|p| p.line() as usize);
                    diags.push(Diagnostic::error(
                        path,
                        line,
                        format!("unreadable row: {e}"),
                        None,
                    ));
                    continue;
                }
            };
            let line = record.position().map(|p| p.line() as usize).unwrap_or(0);
            if record.iter().all(str::is_empty) {
                continue;
            }
            if record.len() > headers.len() {
                diags.push(Diagnostic::error(
                    path,
                    Some(line),
                    format!(
                        "row has {} fields but the header has {} columns",
                        record.len(),
                        headers.len()
                    ),
                    Some(format!("at most {} fields", headers.len())),
                ));
                continue;
            }
            let columns: BTreeMap<String, String> = headers
                .iter()
                .zip(record.iter())
                .map(|(h, v)| (h.clone(), v.to_string()))
                .collect();
            if let Some(row) = parse_row(path, line, columns, aws, &mut diags) {
                rows.push(row);
            }
        }
        if rows.is_empty() && !diags.iter().any(Diagnostic::is_error) {
            diags.push(Diagnostic::error(
                path,
                None,
                "the pipeline has no rows",
                Some("at least one hostclass row".into()),
            ));
        }
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for row in &rows {
            if let Some(first) = seen.insert(&row.hostclass, row.line) {
                diags.push(Diagnostic::error(
                    path,
                    Some(row.line),
                    format!("hostclass {} is already on line {first}", row.hostclass),
                    Some("each hostclass once per pipeline".into()),
                ));
            }
        }
        if diags.iter().any(Diagnostic::is_error) {
            return Err(ConfigError::Invalid(diags));
        }
        Ok((
            Pipeline {
                path: path.to_path_buf(),
                columns: headers,
                rows,
            },
            diags,
        ))
    }

    /// Rows grouped by sequence, ascending. Rows without a sequence are an error for
    /// commands that need one (spinup); this reports them.
    pub fn sequences(&self) -> Result<BTreeMap<u32, Vec<&PipelineRow>>, ConfigError> {
        let missing: Vec<Diagnostic> = self
            .rows
            .iter()
            .filter(|r| r.sequence.is_none())
            .map(|r| {
                Diagnostic::error(
                    &self.path,
                    Some(r.line),
                    format!("hostclass {} has no sequence", r.hostclass),
                    Some("a sequence column with a number (rows with the same number start together)".into()),
                )
            })
            .collect();
        if !missing.is_empty() {
            return Err(ConfigError::Invalid(missing));
        }
        let mut out: BTreeMap<u32, Vec<&PipelineRow>> = BTreeMap::new();
        // Every row has a sequence here (checked just above).
        for r in &self.rows {
            if let Some(sequence) = r.sequence {
                out.entry(sequence).or_default().push(r);
            }
        }
        Ok(out)
    }

    /// The row of a hostclass.
    pub fn row(&self, hostclass: &str) -> Option<&PipelineRow> {
        self.rows.iter().find(|r| r.hostclass == hostclass)
    }
}

fn parse_row(
    path: &Path,
    line: usize,
    columns: BTreeMap<String, String>,
    aws: Option<&AwsIni>,
    diags: &mut Vec<Diagnostic>,
) -> Option<PipelineRow> {
    let errors_before = diags.iter().filter(|d| d.is_error()).count();
    let get = |c: &str| columns.get(c).map(String::as_str).filter(|v| !v.is_empty());
    let mut error = |column: &str, message: String, expected: &str| {
        diags.push(Diagnostic::error(
            path,
            Some(line),
            format!("{column}: {message}"),
            Some(expected.to_string()),
        ));
    };

    let hostclass = get("hostclass").unwrap_or_default().to_string();
    if hostclass.is_empty() {
        error(
            "hostclass",
            "is empty".into(),
            "a hostclass name like mhcweb",
        );
    } else if let Err(e) = syntax::check_name("hostclass", &hostclass) {
        error("hostclass", e.message, &e.expected);
    } else if !hostclass.starts_with(HOSTCLASS_PREFIX) {
        error(
            "hostclass",
            format!("{hostclass:?} does not start with \"{HOSTCLASS_PREFIX}\""),
            "a hostclass name starting with \"mhc\", like mhcweb",
        );
    }
    // The original looked every option up with `[disco_aws] default_<opt>` as the fallback,
    // so a hostclass without a section runs on the defaults. A command that needs something
    // the defaults do not give (an image, a meta_network) says so, with this row, before it
    // changes anything.
    let no_section = aws
        .filter(|aws| {
            hostclass.starts_with(HOSTCLASS_PREFIX)
                && syntax::check_name("hostclass", &hostclass).is_ok()
                && !aws.has_hostclass(&hostclass)
        })
        .map(|aws| {
            Diagnostic::warning(
                path,
                Some(line),
                format!(
                    "hostclass: {hostclass} has no [{hostclass}] section in {}; the [disco_aws] default_* options apply",
                    aws.ini().path().display()
                ),
                None,
            )
        });

    let sequence = match get("sequence") {
        None => None,
        Some(s) => match s.parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                error(
                    "sequence",
                    format!("{s:?} is not a number"),
                    "a whole number like 1",
                );
                None
            }
        },
    };

    diags.extend(no_section);

    let mut size = |column: &str| match get(column) {
        None => SizeSpec::Unset,
        Some(v) => match syntax::parse_size(v) {
            Ok(s) => s,
            Err(e) => {
                diags.push(Diagnostic::error(
                    path,
                    Some(line),
                    format!("{column}: {}", e.message),
                    Some(e.expected),
                ));
                SizeSpec::Unset
            }
        },
    };
    let min_size = size("min_size");
    let desired_size = size("desired_size");
    let max_size = size("max_size");

    let mut error = |column: &str, message: String, expected: &str| {
        diags.push(Diagnostic::error(
            path,
            Some(line),
            format!("{column}: {message}"),
            Some(expected.to_string()),
        ));
    };
    // The sizes the autoscaling group gets (spec §4.7): min = min(min_size) or 0,
    // desired = max(desired_size) or max; AWS refuses desired < min.
    let min = min_size.min().unwrap_or(0);
    let max = max_size.max();
    let desired = desired_size.max().or(max);
    if let Some(d) = desired {
        if d < min {
            error(
                "desired_size",
                format!("desired size {d} is below the minimum size {min}"),
                "min_size <= desired_size <= max_size",
            );
        }
    }
    if let (Some(m), Some(lo)) = (max, min_size.min()) {
        if lo > m && max_size.schedule().is_empty() && min_size.schedule().is_empty() {
            error(
                "max_size",
                format!("maximum size {m} is below the minimum size {lo}"),
                "min_size <= max_size",
            );
        }
    }

    let instance_type = get("instance_type").map(str::to_string);
    if let Some(t) = &instance_type {
        for part in t.split(':') {
            let ok = part.split_once('.').is_some_and(|(family, size)| {
                !family.is_empty()
                    && !size.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            });
            if !ok {
                error(
                    "instance_type",
                    format!("{part:?} is not an instance type"),
                    "an EC2 instance type like t3.small, or a colon list like m4.large:m4.xlarge",
                );
                break;
            }
        }
    }
    let mut number = |column: &str, expected: &str| match get(column) {
        None => None,
        Some(v) => match v.parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                error(column, format!("{v:?} is not a whole number"), expected);
                None
            }
        },
    };
    let extra_space = number("extra_space", "a size in GB");
    let extra_disk = number("extra_disk", "a size in GB");
    let iops = number("iops", "a number of provisioned IOPS");
    if iops.is_some() && get("extra_disk").is_none() {
        diags.push(Diagnostic::warning(
            path,
            Some(line),
            "iops: applies only to the extra_disk volume, and extra_disk is empty",
            None,
        ));
    }
    let termination_policies: Vec<String> = get("termination_policies")
        .map(|v| v.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    for p in &termination_policies {
        if !TERMINATION_POLICIES.contains(&p.as_str()) {
            diags.push(Diagnostic::error(
                path,
                Some(line),
                format!("termination_policies: unknown policy {p:?}"),
                Some(format!(
                    "space-separated among: {}",
                    TERMINATION_POLICIES.join(" ")
                )),
            ));
        }
    }
    let spotinst_reserve = match get("spotinst_reserve") {
        None => None,
        Some(v) => match syntax::parse_spotinst_reserve(v) {
            Ok(r) => Some(r),
            Err(e) => {
                diags.push(Diagnostic::error(
                    path,
                    Some(line),
                    format!("spotinst_reserve: {}", e.message),
                    Some(e.expected),
                ));
                None
            }
        },
    };
    // The original read these with `is_truthy`, so a misspelt `yes` silently meant no.
    let mut flag = |column: &str| match get(column) {
        None => false,
        Some(v) => match syntax::parse_bool(v) {
            Ok(b) => b,
            Err(e) => {
                diags.push(Diagnostic::error(
                    path,
                    Some(line),
                    format!("{column}: {}", e.message),
                    Some(e.expected),
                ));
                false
            }
        },
    };
    let smoke_test = flag("smoke_test");
    let spotinst = flag("spotinst");
    flag("deployable");
    flag("chaos");

    let row = PipelineRow {
        line,
        sequence,
        hostclass,
        min_size,
        desired_size,
        max_size,
        instance_type,
        extra_space,
        extra_disk,
        iops,
        smoke_test,
        ami: get("ami").map(str::to_string),
        deployable: get("deployable").map(str::to_string),
        integration_test: get("integration_test").map(str::to_string),
        termination_policies,
        chaos: get("chaos").map(str::to_string),
        spotinst,
        spotinst_reserve,
        columns,
    };
    let errors_after = diags.iter().filter(|d| d.is_error()).count();
    (errors_after == errors_before).then_some(row)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ini::IniFile;

    fn aws() -> AwsIni {
        AwsIni::new(
            IniFile::parse(
                "disco_aws.ini",
                "[disco_aws]\n[mhcweb]\n[mhcapp]\n[mhcntp]\n",
            )
            .unwrap(),
            None,
        )
    }

    fn ok(text: &str) -> Pipeline {
        Pipeline::parse(Path::new("p.csv"), text, Some(&aws()))
            .expect("valid")
            .0
    }

    fn bad(text: &str) -> Vec<String> {
        match Pipeline::parse(Path::new("p.csv"), text, Some(&aws())) {
            Err(ConfigError::Invalid(d)) => d
                .iter()
                .filter(|d| d.is_error())
                .map(ToString::to_string)
                .collect(),
            other => panic!("expected errors, got {other:?}"),
        }
    }

    #[test]
    fn columns_by_header_in_any_order() {
        let p = ok("hostclass,desired_size,sequence,min_size,instance_type,extra_disk,iops,smoke_test\nmhcweb,2,1,1,t2.nano,50,1000,yes\n");
        let r = &p.rows[0];
        assert_eq!(r.hostclass, "mhcweb");
        assert_eq!(r.sequence, Some(1));
        assert_eq!(r.desired_size, SizeSpec::Fixed(2));
        assert_eq!(r.max_size, SizeSpec::Unset);
        assert_eq!((r.extra_disk, r.iops), (Some(50), Some(1000)));
        assert!(r.smoke_test);
        assert_eq!(r.line, 2);
    }

    #[test]
    fn scheduled_sizes_and_sequences() {
        let p = ok("sequence,hostclass,min_size,desired_size,max_size\n2,mhcapp,0,2@0 8 * * 1-5:0@0 20 * * 1-5,2\n1,mhcweb,1,1,1\n");
        let seqs = p.sequences().unwrap();
        assert_eq!(seqs.keys().copied().collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(p.row("mhcapp").unwrap().desired_size.max(), Some(2));
    }

    #[test]
    fn missing_sequence_is_reported_when_needed() {
        let p = ok("hostclass\nmhcweb\n");
        let err = p.sequences().unwrap_err().to_string();
        assert_eq!(err, "p.csv:2: hostclass mhcweb has no sequence (expected a sequence column with a number (rows with the same number start together))");
    }

    #[test]
    fn bad_rows_name_line_and_column() {
        let e = bad("sequence,hostclass,min_size,desired_size,max_size,instance_type\n1,mhcweb,1,1,1,t2.micro\nx,mhcnope,1,lots,1,t2micro\n");
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(
            e[0].starts_with("p.csv:3: sequence: \"x\" is not a number"),
            "{e:?}"
        );
        assert!(e[1].starts_with("p.csv:3: desired_size:"), "{e:?}");
        assert!(
            e[2].starts_with("p.csv:3: instance_type: \"t2micro\" is not an instance type"),
            "{e:?}"
        );
    }

    #[test]
    fn a_hostclass_without_a_section_is_a_warning() {
        let (p, warnings) = Pipeline::parse(
            Path::new("p.csv"),
            "sequence,hostclass\n1,mhcweb\n2,mhcnope\n",
            Some(&aws()),
        )
        .unwrap();
        assert_eq!(p.rows[1].hostclass, "mhcnope");
        let w: Vec<String> = warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            w,
            vec!["p.csv:3: warning: hostclass: mhcnope has no [mhcnope] section in disco_aws.ini; the [disco_aws] default_* options apply"]
        );
    }

    #[test]
    fn booleans_and_names_are_errors_with_their_row() {
        let e =
            bad("sequence,hostclass,smoke_test,deployable\n1,mhcweb,Ture,yes\n1,mhcapp,no,nope\n");
        assert_eq!(
            e,
            vec![
                "p.csv:2: smoke_test: \"Ture\" is not a boolean (expected true or false (also yes/no, t/f, y/n, aye/nay, 1/0, any case))",
                "p.csv:3: deployable: \"nope\" is not a boolean (expected true or false (also yes/no, t/f, y/n, aye/nay, 1/0, any case))",
            ]
        );
        let e = bad("sequence,hostclass\n1,mhcwéb\n");
        assert_eq!(
            e,
            vec!["p.csv:2: hostclass: hostclass name \"mhcwéb\" contains 'é' (expected ASCII letters, digits, \"-\" and \"_\")"]
        );
    }

    #[test]
    fn bad_cron_in_size() {
        let e = bad("sequence,hostclass,desired_size\n1,mhcweb,2@61 * * * *\n");
        assert_eq!(e.len(), 1);
        assert!(e[0].starts_with("p.csv:2: desired_size:"), "{e:?}");
    }

    #[test]
    fn desired_below_min() {
        let e = bad("sequence,hostclass,min_size,desired_size,max_size\n1,mhcweb,3,1,5\n");
        assert!(
            e[0].contains("desired size 1 is below the minimum size 3"),
            "{e:?}"
        );
    }

    #[test]
    fn no_hostclass_column_and_duplicates() {
        let e = bad("sequence,name\n1,mhcweb\n");
        assert!(
            e[0].starts_with("p.csv:1: the header row has no hostclass column"),
            "{e:?}"
        );
        let e = bad("sequence,hostclass\n1,mhcweb\n2,mhcweb\n");
        assert!(
            e[0].starts_with("p.csv:3: hostclass mhcweb is already on line 2"),
            "{e:?}"
        );
    }

    #[test]
    fn too_many_fields_and_bad_policy() {
        let e = bad("sequence,hostclass\n1,mhcweb,extra\n");
        assert!(
            e[0].starts_with("p.csv:2: row has 3 fields but the header has 2 columns"),
            "{e:?}"
        );
        let e = bad("sequence,hostclass,termination_policies\n1,mhcweb,OldestInstance Newest\n");
        assert!(
            e[0].contains("termination_policies: unknown policy \"Newest\""),
            "{e:?}"
        );
    }

    #[test]
    fn multiline_quoted_field_keeps_row_lines() {
        let p = ok("sequence,hostclass,integration_test\n1,mhcweb,\"a\nb\"\n1,mhcapp,\n");
        assert_eq!(p.rows[1].line, 4);
    }
}
