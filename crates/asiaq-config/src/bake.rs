//! The `[bake]` section of `disco_aws.ini` and what `asiaq bake` takes from it (spec §4.9,
//! the original's `DiscoBake.option`/`hc_option`): the settings of a bake, the account
//! lists, the image stages, the new hostclass script of `bake create`.
//!
//! What comes from the process (environment variables, the OS user, the clock, the
//! executable, git) is gathered by the caller into a [`BakeProcess`], so everything here
//! is a function of the files and its arguments.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use asiaq_core::ami::{self, BakeIdentityInputs, BakeSettings, BakeSource, DEFAULT_LOGIN_USERS};
use asiaq_core::env_vars::EnvVars;
use asiaq_core::ssh::SshOptions;
use asiaq_core::storage::StorageOptions;

use crate::aws_ini::AwsIni;
use crate::dir::{files, ConfigDir};
use crate::{ConfigError, Diagnostic, Value};

/// `[bake]` options that an environment variable `ASIAQ_BAKE_<KEY>` (upper-cased)
/// overrides; set but empty, it unsets the option.
pub const OVERRIDABLE: [&str; 4] = [
    "ssh_proxy_command",
    "ssh_jump_host",
    "ssh_user",
    "asiaq_binary",
];

/// What a bake takes from the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BakeRequest {
    /// `--hostclass` (none: the phase-1 base image).
    pub hostclass: Option<String>,
    /// `--stage` (default: the first of `[bake] ami_stages`).
    pub stage: Option<String>,
    pub source_ami: Option<String>,
    /// `--tag KEY:VALUE`, parsed.
    pub extra_tags: Vec<(String, String)>,
    pub private: bool,
    /// `--identity` (or `ASIAQ_SSH_IDENTITY`): the private key for the ssh logins.
    pub identity: Option<PathBuf>,
    pub use_local_ip: bool,
    pub no_destroy: bool,
}

/// What a bake takes from the process, gathered by the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BakeProcess {
    /// Those of the [`process_variables`] that are set (valid UTF-8), by name.
    pub vars: BTreeMap<String, String>,
    /// The running executable: the asiaq installed on the instance when `[bake]
    /// asiaq_binary` is not set.
    pub current_exe: Option<PathBuf>,
    /// The OS user (tag `baker`).
    pub user: String,
    /// Tag `version-asiaq` ([`version_tag`]).
    pub version: String,
    pub now_unix: u64,
    /// A fresh `asiaq_core::ami::bake_id`.
    pub bake_id: String,
}

impl BakeProcess {
    /// What the running process gives a bake: the [`process_variables`] that are set, the
    /// executable, the OS user ([`os_user`]), the [`version_tag`] of the configuration
    /// checkout `dir` (`fallback_version` without one), `now_unix` and a fresh `bake_id`.
    pub fn current(dir: &Path, fallback_version: &str, now_unix: u64, bake_id: String) -> Self {
        let var = |k: &str| std::env::var(k).ok();
        BakeProcess {
            vars: process_variables()
                .into_iter()
                .filter_map(|k| var(&k).map(|v| (k, v)))
                .collect(),
            current_exe: std::env::current_exe().ok(),
            user: os_user(var),
            version: version_tag(dir, fallback_version),
            now_unix,
            bake_id,
        }
    }
}

/// The OS user as Python's `getpass.getuser()` finds it: the first of `LOGNAME`, `USER`,
/// `LNAME`, `USERNAME` set and not empty (`var` reads one), else `unknown`.
pub fn os_user(var: impl Fn(&str) -> Option<String>) -> String {
    ["LOGNAME", "USER", "LNAME", "USERNAME"]
        .iter()
        .find_map(|k| var(k).filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "unknown".to_string())
}

/// The environment variables a bake reads: `ASIAQ_BAKE_<KEY>` of [`OVERRIDABLE`] and
/// `ASIAQ_SSH_CONFIG`.
pub fn process_variables() -> Vec<String> {
    OVERRIDABLE
        .iter()
        .map(|k| override_variable(k))
        .chain(std::iter::once(EnvVars::ASIAQ_SSH_CONFIG.to_string()))
        .collect()
}

fn override_variable(key: &str) -> String {
    format!("{}{}", EnvVars::ASIAQ_BAKE_PREFIX, key.to_ascii_uppercase())
}

/// `[bake] key`, required and not blank.
pub fn bake_required(aws: &AwsIni, key: &str) -> Result<Value, ConfigError> {
    aws.ini()
        .get("bake", key)
        .filter(|v| !v.text.trim().is_empty())
        .ok_or_else(|| ConfigError::NoOption {
            path: aws.ini().path().to_path_buf(),
            option: key.to_string(),
            tried: vec![format!("[bake] {key}")],
        })
}

/// A space list of 12-digit account ids from `[bake] key` (empty when unset); each bad id
/// is an error at the option's line.
pub fn account_ids(aws: &AwsIni, key: &str) -> Result<Vec<String>, ConfigError> {
    let Some(v) = aws.ini().get("bake", key) else {
        return Ok(Vec::new());
    };
    let ids: Vec<String> = v.text.split_whitespace().map(str::to_string).collect();
    let bad: Vec<Diagnostic> = ids
        .iter()
        .filter(|id| id.len() != 12 || !id.chars().all(|c| c.is_ascii_digit()))
        .map(|id| {
            v.error(
                format!("{id:?} is not an AWS account id"),
                Some("a space list of 12-digit account ids".into()),
            )
        })
        .collect();
    if bad.is_empty() {
        Ok(ids)
    } else {
        Err(ConfigError::Invalid(bad))
    }
}

/// `[bake] trusted_account_ids`: whose images are visible besides this account's.
pub fn trusted_accounts(aws: &AwsIni) -> Result<Vec<String>, ConfigError> {
    account_ids(aws, "trusted_account_ids")
}

/// The accounts of a listing: the trusted ones, and with `in_prod` (a Production column)
/// the prod ones (`[bake] prod_account_ids`, maybe none).
pub fn listing_accounts(
    aws: &AwsIni,
    in_prod: bool,
) -> Result<(Vec<String>, Vec<String>), ConfigError> {
    let trusted = trusted_accounts(aws)?;
    let prod = if in_prod {
        account_ids(aws, "prod_account_ids")?
    } else {
        Vec::new()
    };
    Ok((trusted, prod))
}

/// `[bake] prod_account_ids`, which must not be empty (there is something to share with).
pub fn prod_accounts(aws: &AwsIni) -> Result<Vec<String>, ConfigError> {
    let ids = account_ids(aws, "prod_account_ids")?;
    if ids.is_empty() {
        return Err(option_error(
            aws,
            "prod_account_ids",
            "[bake] prod_account_ids is empty: there is no prod account to share with".into(),
            None,
        ));
    }
    Ok(ids)
}

/// `bake promote --stage STAGE [--promote-to-prod]`: the stage must be one of `[bake]
/// ami_stages`; the prod accounts to share with ([`prod_accounts`]) when `to_prod`, else
/// none.
pub fn promotion_accounts(
    aws: &AwsIni,
    stage: &str,
    to_prod: bool,
) -> Result<Vec<String>, ConfigError> {
    check_stage(aws, stage)?;
    if to_prod {
        prod_accounts(aws)
    } else {
        Ok(Vec::new())
    }
}

/// An error at the line of `[bake] key` when it is set, else at the file.
fn option_error(aws: &AwsIni, key: &str, message: String, expected: Option<String>) -> ConfigError {
    let line = aws.ini().get("bake", key).map(|v| v.line);
    ConfigError::invalid(Diagnostic::error(aws.ini().path(), line, message, expected))
}

/// `stage` must be one of `[bake] ami_stages`.
pub fn check_stage(aws: &AwsIni, stage: &str) -> Result<(), ConfigError> {
    let stages = aws.ami_stages();
    if stages.iter().any(|s| s == stage) {
        return Ok(());
    }
    Err(option_error(
        aws,
        "ami_stages",
        format!("unknown image stage {stage:?}"),
        Some(format!(
            "one of [bake] ami_stages: \"{}\"",
            stages.join(" ")
        )),
    ))
}

/// The last of `[bake] ami_stages`: the stage phase-2 sources and prod images come from.
pub fn final_stage(aws: &AwsIni) -> String {
    aws.ami_stages().last().cloned().unwrap_or_default()
}

/// What `aws promoterunning` shares: images of the [`final_stage`] made by `[bake]
/// prod_baker` (tag `baker`; none set matches images without the tag), with `[bake]
/// prod_account_ids` (maybe none): `(final stage, prod baker, prod accounts)`.
pub fn running_promotion(aws: &AwsIni) -> (String, Option<String>, Vec<String>) {
    let prod_baker = aws.ini().get("bake", "prod_baker").map(|v| v.text.clone());
    (
        final_stage(aws),
        prod_baker,
        aws.list("bake", "prod_account_ids"),
    )
}

/// `liststragglers`: the stage that counts as promoted (`--stage`, checked, else the
/// second of `[bake] ami_stages` as the original), and the first stage.
pub fn straggler_stages(
    aws: &AwsIni,
    stage: Option<&str>,
) -> Result<(String, String), ConfigError> {
    let all = aws.ami_stages();
    let first = all.first().cloned().unwrap_or_default();
    let promoted = match stage {
        Some(s) => {
            check_stage(aws, s)?;
            s.to_string()
        }
        None => all.get(1).cloned().ok_or_else(|| {
            option_error(
                aws,
                "ami_stages",
                "[bake] ami_stages needs at least two stages for liststragglers (or pass --stage)"
                    .into(),
                None,
            )
        })?,
    };
    Ok((promoted, first))
}

/// `listrepo`: `[bake] bakery_environment` and `[bake] repo_hostclass`.
pub fn repo_settings(aws: &AwsIni) -> Result<(String, String), ConfigError> {
    let env = bake_required(aws, "bakery_environment")?
        .text
        .trim()
        .to_string();
    let hostclass = bake_required(aws, "repo_hostclass")?
        .text
        .trim()
        .to_string();
    Ok((env, hostclass))
}

/// `version-asiaq`: `<branch>-<short hash>` of the git checkout at `dir` (the configuration
/// directory the bake copies), as the original's `git rev-parse` in its working directory;
/// else `asiaq-<fallback_version>`. Runs git.
pub fn version_tag(dir: &Path, fallback_version: &str) -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|s| !s.is_empty())
    };
    match (
        git(&["rev-parse", "--abbrev-ref", "HEAD"]),
        git(&["rev-parse", "--short", "HEAD"]),
    ) {
        (Some(branch), Some(hash)) => format!("{branch}-{hash}"),
        _ => format!("asiaq-{fallback_version}"),
    }
}

/// An option of the bake rule (`[hc] key` -> `[bake] key` -> `[disco_aws] default_key`),
/// overridden by `ASIAQ_BAKE_<KEY>` for the keys of [`OVERRIDABLE`]; blank is unset.
fn bake_text(aws: &AwsIni, process: &BakeProcess, hostclass: &str, key: &str) -> Option<String> {
    if OVERRIDABLE.contains(&key) {
        if let Some(v) = process.vars.get(&override_variable(key)) {
            return Some(v.clone()).filter(|v| !v.trim().is_empty());
        }
    }
    aws.bake_option(hostclass, key)
        .map(|v| v.text)
        .filter(|v| !v.trim().is_empty())
}

/// The value of a lookup, or `None` with its problems added to `errors`.
fn take(errors: &mut Vec<Diagnostic>, r: Result<Value, ConfigError>) -> Option<Value> {
    r.map_err(|e| errors.extend(e.diagnostics())).ok()
}

/// Everything of a bake that comes from configuration, the command line and the process,
/// and the ssh options of its logins. Every problem is reported at once (before any AWS
/// call), at its file and line where it has one.
pub fn bake_settings(
    dir: &ConfigDir,
    aws: &AwsIni,
    req: &BakeRequest,
    process: &BakeProcess,
) -> Result<(BakeSettings, SshOptions), ConfigError> {
    let mut errors: Vec<Diagnostic> = Vec::new();
    let environment = take(&mut errors, bake_required(aws, "bakery_environment"));
    let key_name = take(&mut errors, bake_required(aws, "bake_key"));
    let instance_type = take(&mut errors, bake_required(aws, "bakery_instance_type"));
    let destination = take(&mut errors, bake_required(aws, "data_destination"));
    let config_source = take(&mut errors, bake_required(aws, "config_data_source"));
    let asiaq_source = take(&mut errors, bake_required(aws, "asiaq_data_source"));
    let bake_phase1_name = take(&mut errors, bake_required(aws, "phase1_ami_name"));
    let phase1_hostclass = take(&mut errors, bake_required(aws, "phase1_hostclass"));
    let hostclass = req.hostclass.as_deref();
    if let Some(hc) = hostclass {
        if !aws.has_hostclass(hc) {
            errors.push(Diagnostic::error(
                aws.ini().path(),
                None,
                format!("--hostclass {hc}: there is no [{hc}] section"),
                Some("a hostclass (or phase-1 image) section of disco_aws.ini".into()),
            ));
        }
    }
    let hostclass_phase = hostclass
        .and_then(|hc| take(&mut errors, aws.require_bake_option(hc, "phase")))
        .and_then(|v| match v.text.trim().parse::<u32>() {
            Ok(p) if p >= 1 => Some(p),
            _ => {
                errors.push(v.error(
                    format!("{:?} is not a phase number", v.text),
                    Some("1, 2, ...".into()),
                ));
                None
            }
        });
    let text = |v: &Option<Value>| {
        v.as_ref()
            .map(|v| v.text.trim().to_string())
            .unwrap_or_default()
    };
    let hostclass_phase1_name = hostclass
        .and_then(|hc| aws.bake_option(hc, "phase1_ami_name"))
        .map(|v| v.text)
        .or_else(|| bake_phase1_name.as_ref().map(|v| v.text.clone()))
        .unwrap_or_default();
    let identity = ami::bake_identity(&BakeIdentityInputs {
        hostclass,
        hostclass_phase,
        bake_phase1_ami_name: &text(&bake_phase1_name),
        hostclass_phase1_ami_name: hostclass_phase1_name.trim(),
        phase1_hostclass: &text(&phase1_hostclass),
        source_ami: req.source_ami.as_deref(),
    });
    let upstream_ami = match &identity.source {
        BakeSource::Upstream { section } => {
            take(&mut errors, aws.require_bake_option(section, "bake_ami"))
                .map(|v| v.text.trim().to_string())
        }
        _ => None,
    };
    let init_hc = identity.init_hostclass.clone();

    // Files the bake copies.
    let config_dir = config_source.as_ref().map(|v| dir.path(v.text.trim()));
    let asiaq_dir = asiaq_source.as_ref().map(|v| dir.path(v.text.trim()));
    let missing = |path: PathBuf, message: String| Diagnostic::error(path, None, message, None);
    if let Some(c) = &config_dir {
        if !c.join(files::DISCOROOT).is_dir() {
            errors.push(missing(
                c.join(files::DISCOROOT),
                "directory not found ([bake] config_data_source must hold discoroot/)".into(),
            ));
        }
        let script = c.join(format!("init/phase{}.sh", identity.phase));
        if !script.is_file() {
            errors.push(missing(
                script,
                format!("init script of phase {} not found", identity.phase),
            ));
        }
    }
    if let Some(a) = asiaq_dir.as_ref().filter(|a| !a.is_dir()) {
        errors.push(missing(
            a.clone(),
            "directory not found ([bake] asiaq_data_source)".into(),
        ));
    }

    // Stage.
    let all_stages = aws.ami_stages();
    let stage = req
        .stage
        .clone()
        .unwrap_or_else(|| all_stages.first().cloned().unwrap_or_default());
    if !all_stages.contains(&stage) {
        errors.push(Diagnostic::error(
            aws.ini().path(),
            None,
            format!(
                "--stage {stage:?} is not one of [bake] ami_stages (\"{}\")",
                all_stages.join(" ")
            ),
            None,
        ));
    }

    let enhanced_networking = crate::options::flag(
        crate::options::BAKE_OPTIONS,
        "enhanced_networking",
        aws.bake_option(&init_hc, "enhanced_networking"),
        false,
        &mut errors,
    );
    let wait_secs = match aws.bake_option(&init_hc, "ami_available_wait_time") {
        None => 600,
        Some(v) => v.text.trim().parse::<u64>().unwrap_or_else(|_| {
            errors.push(v.error(
                format!("{:?} is not a number of seconds", v.text),
                Some("seconds, e.g. 600".into()),
            ));
            600
        }),
    };

    // Remote access.
    let asiaq_binary = match bake_text(aws, process, &init_hc, "asiaq_binary") {
        Some(v) if v.trim().eq_ignore_ascii_case("none") => None,
        Some(v) => Some(dir.path(v.trim())),
        None => process.current_exe.clone(),
    };
    if let Some(b) = asiaq_binary.as_ref().filter(|b| !b.is_file()) {
        errors.push(missing(
            b.clone(),
            "asiaq executable to install on the bake instance not found ([bake] asiaq_binary)"
                .into(),
        ));
    }
    if let Some(id) = req.identity.as_ref().filter(|id| !id.is_file()) {
        errors.push(missing(
            id.clone(),
            format!(
                "private key not found (--identity / {})",
                EnvVars::ASIAQ_SSH_IDENTITY
            ),
        ));
    }
    let ssh = SshOptions {
        proxy_command: bake_text(aws, process, &init_hc, "ssh_proxy_command"),
        jump_host: bake_text(aws, process, &init_hc, "ssh_jump_host"),
        identity: req
            .identity
            .as_ref()
            .map(|p| p.to_string_lossy().into_owned()),
        config_file: process
            .vars
            .get(EnvVars::ASIAQ_SSH_CONFIG)
            .filter(|v| !v.is_empty())
            .cloned(),
        connect_timeout_secs: 10,
    };
    if let Err(e) = ssh.rsync_rsh() {
        errors.push(Diagnostic::error(
            aws.ini().path(),
            None,
            format!("[bake] ssh_proxy_command: {e}"),
            None,
        ));
    }
    let login_users = match bake_text(aws, process, &init_hc, "ssh_user") {
        Some(u) => vec![u.trim().to_string()],
        None => DEFAULT_LOGIN_USERS.iter().map(|u| u.to_string()).collect(),
    };
    let trusted = trusted_accounts(aws);
    let storage = storage_options(aws, environment.as_ref(), &init_hc, &mut errors);

    if !errors.is_empty() {
        return Err(ConfigError::Invalid(errors));
    }
    let option = |hc: &str, key: &str| {
        aws.bake_option(hc, key)
            .map(|v| v.text.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let settings = BakeSettings {
        image_name: ami::ami_name(&identity.image_base, process.now_unix),
        bake_id: process.bake_id.clone(),
        upstream_ami,
        environment: text(&environment),
        instance_type: text(&instance_type),
        storage,
        key_name: text(&key_name),
        instance_profile: option(&init_hc, "bake_instance_profile"),
        repo_hostclass: aws
            .ini()
            .get("bake", "repo_hostclass")
            .map(|v| v.text.trim().to_string())
            .filter(|v| !v.is_empty()),
        final_stage: all_stages.last().cloned().unwrap_or_default(),
        trusted_accounts: trusted?,
        stage,
        baker: process.user.clone(),
        version: process.version.clone(),
        is_private: req.private,
        product_line: option(&init_hc, "product_line"),
        extra_tags: req.extra_tags.clone(),
        enhanced_networking,
        available_timeout: Duration::from_secs(wait_secs),
        use_local_ip: req.use_local_ip,
        no_destroy: req.no_destroy,
        destination: text(&destination),
        config_source: config_dir.unwrap_or_default(),
        asiaq_source: asiaq_dir.unwrap_or_default(),
        asiaq_binary,
        login_users,
        identity,
    };
    Ok((settings, ssh))
}

/// The storage options of the bake instance (spec §4.9 step 3: "BDM from storage config
/// without the snapshot"): `extra_space`, `extra_disk` and `iops` of the hostclass whose
/// init script runs (`[bake] phase1_hostclass` for phase 1, else the hostclass), looked up
/// with the hostclass rule as provision does (`[hc] key@ENV` -> `[hc] key` ->
/// `[disco_aws] default_key@ENV` -> `[disco_aws] default_key`), ENV being the bakery
/// environment, where the instance runs. Each must be a whole number (`extra_disk` at least
/// 1 GB); problems go to `errors`.
fn storage_options(
    aws: &AwsIni,
    bakery: Option<&Value>,
    hostclass: &str,
    errors: &mut Vec<Diagnostic>,
) -> StorageOptions {
    let aws = match bakery.map(|v| v.text.trim()).filter(|e| !e.is_empty()) {
        Some(env) => aws.with_environment(env),
        None => aws.clone(),
    };
    let mut number = |key: &str, min: u32, expected: &str| {
        let v = aws.hostclass_option(hostclass, key)?;
        if v.text.trim().is_empty() {
            return None;
        }
        match v.text.trim().parse::<u32>() {
            Ok(n) if n >= min => Some(n),
            _ => {
                errors.push(v.error(
                    format!("{:?} is not {expected}", v.text.trim()),
                    Some(format!("{expected} (it sizes the bake instance's storage)")),
                ));
                None
            }
        }
    };
    StorageOptions {
        extra_space: number("extra_space", 0, "a whole number of GB"),
        extra_disk: number("extra_disk", 1, "a size in GB of at least 1"),
        iops: number("iops", 0, "a whole number of IOPS"),
    }
}

/// `bake create`: `init/<hostclass>.sh` made from `init/template.sh`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitScript {
    pub template: PathBuf,
    pub target: PathBuf,
    /// The template's permission bits (0755 when they cannot be read).
    pub mode: u32,
    pub text: String,
}

/// Reads `init/template.sh` of `dir` and renders it for `hostclass`; an unreadable
/// template is an error at its path. Whether the target exists is for the caller to check.
pub fn init_script(dir: &ConfigDir, hostclass: &str) -> Result<InitScript, ConfigError> {
    use std::os::unix::fs::PermissionsExt;
    let template = dir.path(format!("{}/template.sh", files::INIT));
    let text = std::fs::read_to_string(&template).map_err(|e| {
        ConfigError::invalid(Diagnostic::error(
            template.clone(),
            None,
            format!("cannot read the template: {e}"),
            None,
        ))
    })?;
    let mode = std::fs::metadata(&template)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0o755);
    Ok(InitScript {
        target: dir.path(format!("{}/{hostclass}.sh", files::INIT)),
        template,
        mode,
        text: ami::render_hostclass_template(&text, hostclass),
    })
}

impl InitScript {
    /// Refuses to overwrite a script that exists (`bake create`).
    pub fn refuse_existing(&self) -> Result<(), String> {
        match self.target.exists() {
            true => Err(format!(
                "{} already exists; not overwritten",
                self.target.display()
            )),
            false => Ok(()),
        }
    }

    /// What `bake create --dry-run` says it would do.
    pub fn dry_run_line(&self) -> String {
        let (target, template) = (self.target.display(), self.template.display());
        format!(
            "would write {target} (mode {:04o}) from {template}",
            self.mode
        )
    }

    /// Writes the script with the template's mode.
    pub fn write(&self) -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(&self.target, &self.text)?;
        std::fs::set_permissions(&self.target, std::fs::Permissions::from_mode(self.mode))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_user_is_the_first_set_of_the_getpass_variables() {
        let vars = |set: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                set.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(os_user(vars(&[("USER", "bob"), ("USERNAME", "x")])), "bob");
        assert_eq!(os_user(vars(&[("LOGNAME", ""), ("LNAME", "al")])), "al");
        assert_eq!(os_user(vars(&[])), "unknown");
    }

    #[test]
    fn init_script_refuses_to_overwrite_and_says_what_it_would_write() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("mhcnew.sh");
        let script = InitScript {
            template: dir.path().join("template.sh"),
            target: target.clone(),
            mode: 0o755,
            text: "#!/bin/sh\n".into(),
        };
        assert_eq!(script.refuse_existing(), Ok(()));
        assert_eq!(
            script.dry_run_line(),
            format!(
                "would write {} (mode 0755) from {}",
                target.display(),
                dir.path().join("template.sh").display()
            )
        );
        script.write().unwrap();
        assert_eq!(
            script.refuse_existing(),
            Err(format!(
                "{} already exists; not overwritten",
                target.display()
            ))
        );
    }

    const INI: &str = "\
[disco_aws]
default_environment=ci

[bake]
bakery_environment=build
bake_key=bake
bakery_instance_type=m5.large
data_destination=/opt/wgen
config_data_source=.
asiaq_data_source=asiaq
phase1_ami_name=centos7
phase1_hostclass=mhcbase
ami_stages=untested tested
trusted_account_ids=111111111111
prod_account_ids=222222222222 333333333333
repo_hostclass=mhcrepo
ssh_user=centos

[centos7]
bake_ami=ami-upstream

[mhcweb]
phase=2
extra_disk@build=20
product_line=web
";

    /// A configuration directory with `ini` as its disco_aws.ini and what a bake copies.
    struct Fixture {
        tmp: tempfile::TempDir,
        dir: ConfigDir,
    }

    impl Fixture {
        fn new(ini: &str) -> Fixture {
            let tmp = tempfile::tempdir().unwrap();
            let root = tmp.path();
            std::fs::write(root.join("disco_aws.ini"), ini).unwrap();
            for d in ["discoroot", "init", "asiaq"] {
                std::fs::create_dir_all(root.join(d)).unwrap();
            }
            for f in ["init/phase1.sh", "init/phase2.sh", "asiaq-bin"] {
                std::fs::write(root.join(f), "#!/bin/sh\n").unwrap();
            }
            let dir = ConfigDir::new(root);
            Fixture { tmp, dir }
        }

        fn aws(&self) -> AwsIni {
            self.dir.aws(None).unwrap()
        }

        fn process(&self) -> BakeProcess {
            BakeProcess {
                vars: BTreeMap::new(),
                current_exe: Some(self.tmp.path().join("asiaq-bin")),
                user: "me".into(),
                version: "main-abc1234".into(),
                now_unix: 1_700_000_000,
                bake_id: "f".repeat(32),
            }
        }

        fn settings(&self, req: &BakeRequest) -> Result<(BakeSettings, SshOptions), ConfigError> {
            bake_settings(&self.dir, &self.aws(), req, &self.process())
        }

        /// The problems of a bake that must fail, one string each.
        fn problems(&self, req: &BakeRequest) -> Vec<String> {
            match self.settings(req) {
                Ok(_) => panic!("expected a configuration error"),
                Err(e) => e.diagnostics().iter().map(ToString::to_string).collect(),
            }
        }
    }

    fn with(ini: &str, from: &str, to: &str) -> String {
        assert!(ini.contains(from), "{from:?}");
        ini.replacen(from, to, 1)
    }

    fn web() -> BakeRequest {
        BakeRequest {
            hostclass: Some("mhcweb".into()),
            ..BakeRequest::default()
        }
    }

    #[test]
    fn phase1_bake_from_the_upstream_image() {
        let f = Fixture::new(INI);
        let req = BakeRequest {
            extra_tags: vec![("team".into(), "x".into())],
            private: true,
            ..BakeRequest::default()
        };
        let (s, ssh) = f.settings(&req).unwrap();
        assert_eq!(s.identity.phase, 1);
        assert_eq!(s.identity.init_hostclass, "mhcbase");
        assert_eq!(s.image_name, "centos7 1700000000");
        assert_eq!(s.upstream_ami.as_deref(), Some("ami-upstream"));
        assert_eq!(
            (
                s.environment.as_str(),
                s.instance_type.as_str(),
                s.key_name.as_str()
            ),
            ("build", "m5.large", "bake")
        );
        assert_eq!(
            (s.stage.as_str(), s.final_stage.as_str()),
            ("untested", "tested")
        );
        assert_eq!(s.trusted_accounts, vec!["111111111111"]);
        assert_eq!(s.repo_hostclass.as_deref(), Some("mhcrepo"));
        assert_eq!(
            (s.baker.as_str(), s.version.as_str()),
            ("me", "main-abc1234")
        );
        assert_eq!(s.bake_id, "f".repeat(32));
        assert!(s.is_private);
        assert_eq!(s.extra_tags, vec![("team".to_string(), "x".to_string())]);
        assert_eq!(s.login_users, vec!["centos"]);
        assert_eq!(s.available_timeout, Duration::from_secs(600));
        assert_eq!(s.destination, "/opt/wgen");
        assert_eq!(s.config_source, f.dir.path("."));
        assert_eq!(s.asiaq_source, f.dir.path("asiaq"));
        assert_eq!(s.asiaq_binary, Some(f.tmp.path().join("asiaq-bin")));
        assert_eq!(s.storage, StorageOptions::default());
        assert!(!s.enhanced_networking);
        assert_eq!(ssh.config_file, None);
        assert_eq!(ssh.connect_timeout_secs, 10);
    }

    #[test]
    fn phase2_bake_of_a_hostclass() {
        let f = Fixture::new(INI);
        let (s, _) = f.settings(&web()).unwrap();
        assert_eq!(s.identity.phase, 2);
        assert_eq!(s.identity.init_hostclass, "mhcweb");
        assert_eq!(
            s.identity.source,
            BakeSource::LatestPhase1 {
                name: "centos7".into()
            }
        );
        assert_eq!(s.upstream_ami, None);
        assert_eq!(s.image_name, "mhcweb 1700000000");
        assert_eq!(s.product_line.as_deref(), Some("web"));
        // Storage is read in the bakery environment.
        assert_eq!(s.storage.extra_disk, Some(20));
        // --source-ami wins over the latest phase-1 image.
        let req = BakeRequest {
            source_ami: Some("ami-given".into()),
            stage: Some("tested".into()),
            ..web()
        };
        let (s, _) = f.settings(&req).unwrap();
        assert_eq!(
            s.identity.source,
            BakeSource::Given {
                ami: "ami-given".into()
            }
        );
        assert_eq!(s.stage, "tested");
    }

    #[test]
    fn each_missing_required_key_is_named() {
        for key in [
            "bakery_environment",
            "bake_key",
            "bakery_instance_type",
            "data_destination",
            "config_data_source",
            "asiaq_data_source",
            "phase1_ami_name",
            "phase1_hostclass",
        ] {
            let line = INI
                .lines()
                .find(|l| l.starts_with(&format!("{key}=")))
                .unwrap();
            let f = Fixture::new(&with(INI, &format!("{line}\n"), ""));
            let problems = f.problems(&BakeRequest::default());
            assert!(
                problems.iter().any(|p| p.contains(&format!(
                    "option {key:?} is not set (expected [bake] {key})"
                ))),
                "{key}: {problems:?}"
            );
        }
        // A blank value is as good as none.
        let f = Fixture::new(&with(INI, "bake_key=bake", "bake_key=  "));
        assert!(f.problems(&BakeRequest::default())[0].contains("\"bake_key\" is not set"));
        // The upstream image of a phase-1 bake.
        let f = Fixture::new(&with(INI, "bake_ami=ami-upstream\n", ""));
        let problems = f.problems(&BakeRequest::default());
        assert!(
            problems[0].contains("option \"bake_ami\" is not set"),
            "{problems:?}"
        );
    }

    #[test]
    fn invalid_values_are_reported_at_their_line() {
        let f = Fixture::new(&with(INI, "phase=2", "phase=two"));
        let p = f.problems(&web());
        assert!(p[0].ends_with("disco_aws.ini:23: [mhcweb] phase: \"two\" is not a phase number (expected 1, 2, ...)"), "{p:?}");
        // Without a phase, it is taken for a phase-1 image and needs its upstream image.
        assert!(p[1].contains("option \"bake_ami\" is not set"), "{p:?}");

        let f = Fixture::new(&with(
            INI,
            "ssh_user=centos",
            "ami_available_wait_time=soon",
        ));
        let p = f.problems(&BakeRequest::default());
        assert!(p[0].ends_with(":17: [bake] ami_available_wait_time: \"soon\" is not a number of seconds (expected seconds, e.g. 600)"), "{p:?}");

        let f = Fixture::new(&with(INI, "extra_disk@build=20", "extra_disk@build=0"));
        let p = f.problems(&web());
        assert!(
            p[0].contains(
                ":24: [mhcweb] extra_disk@build: \"0\" is not a size in GB of at least 1"
            ),
            "{p:?}"
        );

        let f = Fixture::new(&with(INI, "111111111111", "1111"));
        let p = f.problems(&BakeRequest::default());
        assert!(
            p[0].contains(":14: [bake] trusted_account_ids: \"1111\" is not an AWS account id"),
            "{p:?}"
        );

        let f = Fixture::new(&with(INI, "ssh_user=centos", "enhanced_networking=perhaps"));
        let p = f.problems(&BakeRequest::default());
        assert!(
            p[0].contains(":17: [bake] enhanced_networking: ") && p[0].contains("perhaps"),
            "{p:?}"
        );
    }

    #[test]
    fn an_unquotable_proxy_command_is_reported() {
        let f = Fixture::new(&with(
            INI,
            "ssh_user=centos",
            "ssh_proxy_command=sh -c 'echo \"%h\"'",
        ));
        let p = f.problems(&BakeRequest::default());
        assert!(
            p[0].contains("disco_aws.ini: [bake] ssh_proxy_command: "),
            "{p:?}"
        );
    }

    #[test]
    fn request_problems_are_all_reported() {
        let f = Fixture::new(INI);
        let req = BakeRequest {
            hostclass: Some("mhcnope".into()),
            stage: Some("bogus".into()),
            identity: Some(f.tmp.path().join("no-key")),
            ..BakeRequest::default()
        };
        let p = f.problems(&req);
        assert!(
            p.iter()
                .any(|p| p.contains("--hostclass mhcnope: there is no [mhcnope] section")),
            "{p:?}"
        );
        assert!(
            p.iter().any(|p| p.contains(
                "--stage \"bogus\" is not one of [bake] ami_stages (\"untested tested\")"
            )),
            "{p:?}"
        );
        assert!(
            p.iter()
                .any(|p| p.contains("private key not found (--identity / ASIAQ_SSH_IDENTITY)")),
            "{p:?}"
        );
    }

    #[test]
    fn missing_files_the_bake_copies() {
        let f = Fixture::new(INI);
        std::fs::remove_file(f.tmp.path().join("init/phase2.sh")).unwrap();
        std::fs::remove_dir(f.tmp.path().join("asiaq")).unwrap();
        std::fs::remove_file(f.tmp.path().join("asiaq-bin")).unwrap();
        let p = f.problems(&web());
        assert!(
            p.iter()
                .any(|p| p.contains("phase2.sh: init script of phase 2 not found")),
            "{p:?}"
        );
        assert!(
            p.iter()
                .any(|p| p.contains("asiaq: directory not found ([bake] asiaq_data_source)")),
            "{p:?}"
        );
        assert!(
            p.iter()
                .any(|p| p.contains("asiaq-bin: asiaq executable to install")),
            "{p:?}"
        );
        std::fs::remove_dir(f.tmp.path().join("discoroot")).unwrap();
        let p = f.problems(&web());
        assert!(
            p.iter()
                .any(|p| p.contains("discoroot: directory not found")),
            "{p:?}"
        );
    }

    #[test]
    fn environment_variables_override_bake_options() {
        let f = Fixture::new(INI);
        let mut process = f.process();
        let var = |k: &str| override_variable(k);
        process.vars.insert(var("ssh_user"), "admin".into());
        process.vars.insert(var("asiaq_binary"), "None".into());
        process.vars.insert(var("ssh_jump_host"), "me@jump".into());
        process
            .vars
            .insert(EnvVars::ASIAQ_SSH_CONFIG.into(), "/tmp/ssh_config".into());
        let (s, ssh) = bake_settings(&f.dir, &f.aws(), &BakeRequest::default(), &process).unwrap();
        assert_eq!(s.login_users, vec!["admin"]);
        assert_eq!(s.asiaq_binary, None);
        assert_eq!(ssh.jump_host.as_deref(), Some("me@jump"));
        assert_eq!(ssh.config_file.as_deref(), Some("/tmp/ssh_config"));
        // Set but empty: unset, whatever the file says.
        process.vars.insert(var("ssh_user"), String::new());
        let (s, _) = bake_settings(&f.dir, &f.aws(), &BakeRequest::default(), &process).unwrap();
        assert_eq!(s.login_users, DEFAULT_LOGIN_USERS.to_vec());
        assert_eq!(
            process_variables(),
            vec![
                "ASIAQ_BAKE_SSH_PROXY_COMMAND",
                "ASIAQ_BAKE_SSH_JUMP_HOST",
                "ASIAQ_BAKE_SSH_USER",
                "ASIAQ_BAKE_ASIAQ_BINARY",
                "ASIAQ_SSH_CONFIG",
            ]
        );
    }

    #[test]
    fn stage_checks() {
        let f = Fixture::new(INI);
        let aws = f.aws();
        assert!(check_stage(&aws, "tested").is_ok());
        let e = check_stage(&aws, "golden").unwrap_err().to_string();
        assert!(
            e.ends_with("disco_aws.ini:13: unknown image stage \"golden\" (expected one of [bake] ami_stages: \"untested tested\")"),
            "{e}"
        );
        assert_eq!(final_stage(&aws), "tested");
        assert_eq!(
            straggler_stages(&aws, None).unwrap(),
            ("tested".to_string(), "untested".to_string())
        );
        assert_eq!(
            straggler_stages(&aws, Some("untested")).unwrap(),
            ("untested".to_string(), "untested".to_string())
        );
        assert!(straggler_stages(&aws, Some("golden")).is_err());
        let one = Fixture::new(&with(INI, "ami_stages=untested tested", "ami_stages=only"));
        let e = straggler_stages(&one.aws(), None).unwrap_err().to_string();
        assert!(
            e.contains(":13: [bake] ami_stages needs at least two stages"),
            "{e}"
        );
        // Unset: the README's default.
        let unset = Fixture::new(&with(INI, "ami_stages=untested tested\n", ""));
        assert_eq!(unset.aws().ami_stages(), vec!["untested", "tested"]);
        assert!(check_stage(&unset.aws(), "tested").is_ok());
    }

    #[test]
    fn promotion_checks_the_stage_then_the_prod_accounts() {
        let f = Fixture::new(INI);
        let aws = f.aws();
        assert_eq!(
            promotion_accounts(&aws, "tested", false).unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(
            promotion_accounts(&aws, "tested", true).unwrap(),
            prod_accounts(&aws).unwrap()
        );
        let e = promotion_accounts(&aws, "golden", true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown image stage \"golden\""), "{e}");
        let none = Fixture::new(&with(
            INI,
            "prod_account_ids=222222222222 333333333333\n",
            "",
        ));
        assert!(promotion_accounts(&none.aws(), "tested", true).is_err());
        assert!(promotion_accounts(&none.aws(), "tested", false).is_ok());
    }

    #[test]
    fn running_promotion_reads_the_bake_section() {
        let f = Fixture::new(INI);
        let (stage, baker, accounts) = running_promotion(&f.aws());
        assert_eq!(stage, "tested");
        assert_eq!(
            baker,
            f.aws().ini().get("bake", "prod_baker").map(|v| v.text)
        );
        assert_eq!(accounts, vec!["222222222222", "333333333333"]);
    }

    #[test]
    fn account_lists() {
        let f = Fixture::new(INI);
        assert_eq!(
            prod_accounts(&f.aws()).unwrap(),
            vec!["222222222222", "333333333333"]
        );
        assert_eq!(trusted_accounts(&f.aws()).unwrap(), vec!["111111111111"]);
        let none = Fixture::new(&with(
            INI,
            "prod_account_ids=222222222222 333333333333\n",
            "",
        ));
        let e = prod_accounts(&none.aws()).unwrap_err().to_string();
        assert!(
            e.ends_with("disco_aws.ini: [bake] prod_account_ids is empty: there is no prod account to share with"),
            "{e}"
        );
        assert!(account_ids(&none.aws(), "prod_account_ids")
            .unwrap()
            .is_empty());
        let (trusted, prod) = listing_accounts(&none.aws(), true).unwrap();
        assert_eq!((trusted.len(), prod.len()), (1, 0));
        assert_eq!(listing_accounts(&f.aws(), true).unwrap().1.len(), 2);
        assert!(listing_accounts(&f.aws(), false).unwrap().1.is_empty());
        let blank = Fixture::new(&with(
            INI,
            "prod_account_ids=222222222222 333333333333",
            "prod_account_ids=",
        ));
        assert!(prod_accounts(&blank.aws())
            .unwrap_err()
            .to_string()
            .contains(":15: "));
    }

    #[test]
    fn repo_settings_are_required() {
        let f = Fixture::new(INI);
        assert_eq!(
            repo_settings(&f.aws()).unwrap(),
            ("build".to_string(), "mhcrepo".to_string())
        );
        let f = Fixture::new(&with(INI, "repo_hostclass=mhcrepo\n", ""));
        assert!(repo_settings(&f.aws())
            .unwrap_err()
            .to_string()
            .contains("repo_hostclass"));
    }

    #[test]
    fn init_script_from_the_template() {
        use std::os::unix::fs::PermissionsExt;
        let f = Fixture::new(INI);
        let e = init_script(&f.dir, "mhcfoo").unwrap_err().to_string();
        assert!(
            e.contains("init/template.sh: cannot read the template: "),
            "{e}"
        );
        let template = f.tmp.path().join("init/template.sh");
        std::fs::write(&template, "# $TEMPLATED_HOSTCLASS $TEMPLATED_NAME\n").unwrap();
        std::fs::set_permissions(&template, std::fs::Permissions::from_mode(0o750)).unwrap();
        let s = init_script(&f.dir, "mhcfoo").unwrap();
        assert_eq!(s.text, "# mhcfoo foo\n");
        assert_eq!(s.mode, 0o750);
        assert_eq!(s.target, f.dir.path("init/mhcfoo.sh"));
        s.write().unwrap();
        let written = std::fs::metadata(&s.target).unwrap();
        assert_eq!(written.permissions().mode() & 0o7777, 0o750);
    }

    #[test]
    fn version_tag_outside_git_is_the_fallback() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(version_tag(tmp.path(), "1.2.3"), "asiaq-1.2.3");
    }
}
