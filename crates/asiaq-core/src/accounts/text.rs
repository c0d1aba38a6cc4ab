//! What `asiaq accounts` checks on its command line and prints.

use serde::Serialize;

use super::{check_name, Installed};
use crate::printout::Printout;

/// The account a command works on: `name`, else the user's own (`user`, from `$USER`);
/// it must be a valid account name.
pub fn account_name(name: Option<&str>, user: Option<String>) -> Result<String, String> {
    let name = match (name, user) {
        (Some(n), _) => n.to_string(),
        (None, Some(u)) => u,
        (None, None) => return Err("give --name NAME ($USER is not set)".to_string()),
    };
    check_name(&name).map_err(|e| e.to_string())?;
    Ok(name)
}

/// `edituser --active`: yes or no, in any case.
pub fn check_active(active: &str) -> Result<(), String> {
    match active.to_ascii_lowercase().as_str() {
        "yes" | "no" => Ok(()),
        _ => Err(format!("--active {active:?}: expected yes or no")),
    }
}

/// The records written to `bucket` (`dry_run`: that would be); JSON: bucket, keys and
/// whether it was a dry run.
pub fn written(bucket: &str, keys: Vec<String>, dry_run: bool) -> Printout {
    #[derive(Serialize)]
    struct Written<'a> {
        bucket: &'a str,
        keys: &'a [String],
        dry_run: bool,
    }
    let lines = keys
        .iter()
        .map(|k| match dry_run {
            true => format!("would write s3://{bucket}/{k} (dry run: nothing changed)"),
            false => format!("wrote s3://{bucket}/{k}"),
        })
        .collect();
    let w = Written {
        bucket,
        keys: &keys,
        dry_run,
    };
    Printout::new(&w, lines)
}

impl Installed {
    /// `install`: with `--dry-run` the commands it would run; JSON: the whole outcome.
    pub fn printout(&self) -> Printout {
        let lines = if self.dry_run {
            self.steps.clone()
        } else {
            Vec::new()
        };
        Printout::new(self, lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_name_defaults_to_the_user() {
        assert_eq!(account_name(Some("bob"), None), Ok("bob".to_string()));
        assert_eq!(account_name(None, Some("al".into())), Ok("al".to_string()));
        assert_eq!(
            account_name(None, None),
            Err("give --name NAME ($USER is not set)".to_string())
        );
        assert!(account_name(Some("-bad"), None).is_err());
    }

    #[test]
    fn active_is_yes_or_no() {
        assert_eq!(check_active("YES"), Ok(()));
        assert_eq!(check_active("no"), Ok(()));
        assert_eq!(
            check_active("maybe"),
            Err("--active \"maybe\": expected yes or no".to_string())
        );
    }

    #[test]
    fn written_lines() {
        let keys = vec!["accounts/users/bob".to_string()];
        let p = written("b", keys.clone(), true);
        assert_eq!(
            p.lines,
            ["would write s3://b/accounts/users/bob (dry run: nothing changed)"]
        );
        assert_eq!(
            serde_json::to_string(&p.json).unwrap(),
            r#"{"bucket":"b","keys":["accounts/users/bob"],"dry_run":true}"#
        );
        assert_eq!(
            written("b", keys, false).lines,
            ["wrote s3://b/accounts/users/bob"]
        );
    }

    #[test]
    fn install_prints_its_steps_in_a_dry_run_only() {
        let mut i = Installed {
            dry_run: true,
            steps: vec!["groupadd x".into()],
            problems: Vec::new(),
        };
        assert_eq!(i.printout().lines, ["groupadd x"]);
        i.dry_run = false;
        assert!(i.printout().lines.is_empty());
        assert_eq!(i.printout().json["steps"][0], "groupadd x");
    }
}
