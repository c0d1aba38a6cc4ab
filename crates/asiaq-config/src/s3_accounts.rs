//! `iam/s3/<account>/`: the account directories that `buckets update` configures and
//! `account cloudtrail` finds the audit bucket in, and the `[audit]` ids of disco_aws.ini.

use std::path::Path;

use crate::aws_ini::AwsIni;

/// The names of the files of `account_dir` (in the directory's order); an unreadable
/// directory is refused with its path.
pub fn bucket_files(account_dir: &Path) -> Result<Vec<String>, String> {
    let entries = std::fs::read_dir(account_dir)
        .map_err(|e| format!("cannot read {}: {e}", account_dir.display()))?;
    Ok(entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect())
}

/// `[audit] dev_canonical_id` and `prod_canonical_id` (empty when not set).
pub fn audit_canonical_ids(aws: &AwsIni) -> (String, String) {
    let audit = |key: &str| {
        aws.ini()
            .get("audit", key)
            .map(|v| v.text)
            .unwrap_or_default()
    };
    (audit("dev_canonical_id"), audit("prod_canonical_id"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ini::IniFile;

    #[test]
    fn files_only_and_unreadable_directories_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.lifecycle"), "").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        assert_eq!(bucket_files(dir.path()).unwrap(), ["a.lifecycle"]);
        let missing = dir.path().join("missing");
        let err = bucket_files(&missing).unwrap_err();
        assert!(err.starts_with(&format!("cannot read {}: ", missing.display())));
    }

    #[test]
    fn canonical_ids_default_to_empty() {
        let text = "[audit]\ndev_canonical_id=abc\n";
        let aws = AwsIni::new(IniFile::parse("disco_aws.ini", text).unwrap(), None);
        assert_eq!(
            audit_canonical_ids(&aws),
            ("abc".to_string(), String::new())
        );
    }
}
