//! What a pipeline asks to spin up (spec §4.7): each row as a provisioning request, with
//! the settings of its hostclass and the row it came from.

use asiaq_core::provision::ProvisionRequest;
use asiaq_core::spinup::SpinupRequests;
use asiaq_core::syntax::is_truthy;

use crate::aws_ini::AwsIni;
use crate::diag::Diagnostic;
use crate::error::ConfigError;
use crate::hostclass::hostclass_settings;
use crate::pipeline::{Pipeline, PipelineRow};

impl PipelineRow {
    /// The row as a request of sequence `sequence` (`testing`: blue/green testing groups).
    pub fn provision_request(&self, sequence: u32, testing: bool) -> ProvisionRequest {
        ProvisionRequest {
            hostclass: self.hostclass.clone(),
            sequence,
            ami: self.ami.clone(),
            instance_type: self.instance_type.clone(),
            extra_space: self.extra_space,
            extra_disk: self.extra_disk,
            iops: self.iops,
            smoke_test: self.smoke_test,
            min_size: self.min_size.clone(),
            desired_size: self.desired_size.clone(),
            max_size: self.max_size.clone(),
            testing,
            chaos: self.chaos.as_deref().map(is_truthy),
            termination_policies: self.termination_policies.clone(),
            spotinst: self.spotinst,
            spotinst_reserve: self.spotinst_reserve,
            create_if_exists: false,
        }
    }
}

/// Every row of `pipeline`, sequence by sequence, as a request with its hostclass's
/// settings (a hostclass without a section gets the `[disco_aws] default_*` options, as in
/// the original) and its origin `file:line`. Every problem is reported: rows without a
/// sequence, then hostclasses whose options are wrong, each naming its row.
pub fn pipeline_requests(
    aws: &AwsIni,
    pipeline: &Pipeline,
    testing: bool,
) -> Result<SpinupRequests, ConfigError> {
    let mut out = SpinupRequests {
        origins: pipeline
            .rows
            .iter()
            .map(|r| {
                let origin = format!("{}:{}", pipeline.path.display(), r.line);
                (r.hostclass.clone(), origin)
            })
            .collect(),
        ..SpinupRequests::default()
    };
    let mut problems = Vec::new();
    for (sequence, rows) in pipeline.sequences()? {
        for row in rows {
            match hostclass_settings(aws, &row.hostclass) {
                Ok(settings) => out
                    .requests
                    .push((row.provision_request(sequence, testing), settings)),
                Err(e) => problems.push(Diagnostic::error(
                    &pipeline.path,
                    Some(row.line),
                    format!("hostclass {}:\n{e}", row.hostclass),
                    None,
                )),
            }
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(ConfigError::Invalid(problems))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use asiaq_core::syntax::SizeSpec;

    use super::*;
    use crate::ini::IniFile;

    fn aws() -> AwsIni {
        let ini = "[disco_aws]\ndefault_meta_network=intranet\n[mhcapp]\nchaos=no\n\
                   [mhcbad]\nchaos=Ture\n[mhcbad2]\nchaos=Nay\npublic_ip=Yse\n";
        AwsIni::new(IniFile::parse("disco_aws.ini", ini).unwrap(), Some("demo"))
    }

    fn pipeline(text: &str) -> Pipeline {
        Pipeline::parse(Path::new("p.csv"), text, Some(&aws()))
            .unwrap()
            .0
    }

    #[test]
    fn rows_become_requests_in_sequence_order() {
        let p = pipeline(
            "sequence,hostclass,min_size,instance_type,chaos,smoke_test\n\
             2,mhcapp,2,m5.large,,yes\n1,mhcnew,1,,no,no\n",
        );
        let r = pipeline_requests(&aws(), &p, true).unwrap();
        let hostclasses: Vec<(&str, u32)> = r
            .requests
            .iter()
            .map(|(q, _)| (q.hostclass.as_str(), q.sequence))
            .collect();
        assert_eq!(hostclasses, [("mhcnew", 1), ("mhcapp", 2)]);
        let (app, settings) = &r.requests[1];
        assert!(app.testing && app.smoke_test && !app.create_if_exists);
        assert_eq!(app.min_size, SizeSpec::Fixed(2));
        assert_eq!(app.instance_type.as_deref(), Some("m5.large"));
        // No chaos column value: the hostclass option decides (here: no).
        assert_eq!(app.chaos, None);
        assert!(!settings.chaos);
        assert_eq!(r.requests[0].0.chaos, Some(false));
        assert_eq!(r.origins["mhcapp"], "p.csv:2");
        assert_eq!(r.origins["mhcnew"], "p.csv:3");
    }

    #[test]
    fn every_problem_names_its_row() {
        let p = pipeline("sequence,hostclass\n1,mhcbad\n1,mhcapp\n2,mhcbad2\n");
        let e = pipeline_requests(&aws(), &p, false)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("p.csv:2: hostclass mhcbad:\ndisco_aws.ini:6: [mhcbad] chaos"),
            "{e}"
        );
        assert!(
            e.contains("\np.csv:4: hostclass mhcbad2:\ndisco_aws.ini:9: [mhcbad2] public_ip"),
            "{e}"
        );
        let p = pipeline("hostclass\nmhcapp\n");
        let e = pipeline_requests(&aws(), &p, false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("p.csv:2: hostclass mhcapp has no sequence"),
            "{e}"
        );
    }
}
