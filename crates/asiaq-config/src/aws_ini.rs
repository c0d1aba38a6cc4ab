//! `disco_aws.ini` and the original's option-lookup rules (spec §3.0), each reproduced
//! exactly: they differ in whether `@env` keys and `default_` fallbacks apply.

use crate::diag::Diagnostic;
use crate::error::ConfigError;
use crate::ini::{IniFile, Value};

/// The main section.
pub const DISCO_AWS: &str = "disco_aws";
/// Hostclass sections start with this prefix (`HOSTCLASS_PREFIX`).
pub const HOSTCLASS_PREFIX: &str = "mhc";

/// `disco_aws.ini` plus the environment its `@env` lookups use.
#[derive(Debug, Clone)]
pub struct AwsIni {
    ini: IniFile,
    environment: Option<String>,
}

/// Two candidates `[section] key`, for messages.
fn candidate(section: &str, key: &str) -> String {
    format!("[{section}] {key}")
}

impl AwsIni {
    /// `env` is the `--env` given; without it, `[disco_aws] default_environment`.
    pub fn new(ini: IniFile, env: Option<&str>) -> Self {
        let environment = env
            .map(str::to_string)
            .or_else(|| ini.get(DISCO_AWS, "default_environment").map(|v| v.text))
            .filter(|e| !e.is_empty());
        AwsIni { ini, environment }
    }

    pub fn ini(&self) -> &IniFile {
        &self.ini
    }

    /// The environment `@env` lookups use, if any.
    pub fn environment(&self) -> Option<&str> {
        self.environment.as_deref()
    }

    /// The environment, or a usage error saying how to give one.
    pub fn require_environment(&self) -> Result<&str, ConfigError> {
        self.environment().ok_or_else(|| ConfigError::NoOption {
            path: self.ini.path().to_path_buf(),
            option: "default_environment".into(),
            tried: vec!["--env".into(), candidate(DISCO_AWS, "default_environment")],
        })
    }

    /// Same file, another environment.
    pub fn with_environment(&self, env: &str) -> AwsIni {
        AwsIni {
            ini: self.ini.clone(),
            environment: Some(env.to_string()),
        }
    }

    fn at_env(&self, key: &str, env: Option<&str>) -> Option<String> {
        env.map(|e| format!("{key}@{e}"))
    }

    /// The candidates of `get_asiaq_option` in lookup order.
    fn asiaq_candidates(
        &self,
        opt: &str,
        section: &str,
        env: Option<&str>,
    ) -> Vec<(String, String)> {
        let mut c = Vec::with_capacity(4);
        if let Some(k) = self.at_env(opt, env) {
            c.push((section.to_string(), k));
        }
        c.push((section.to_string(), opt.to_string()));
        let default = format!("default_{opt}");
        if let Some(k) = self.at_env(&default, env) {
            c.push((DISCO_AWS.to_string(), k));
        }
        c.push((DISCO_AWS.to_string(), default));
        c
    }

    fn first(&self, candidates: &[(String, String)]) -> Option<Value> {
        candidates.iter().find_map(|(s, k)| self.ini.get(s, k))
    }

    fn no_option(&self, opt: &str, candidates: &[(String, String)]) -> ConfigError {
        ConfigError::NoOption {
            path: self.ini.path().to_path_buf(),
            option: opt.to_string(),
            tried: candidates.iter().map(|(s, k)| candidate(s, k)).collect(),
        }
    }

    /// `AsiaqConfig.get_asiaq_option(opt, section, environment)`: `[section] opt@ENV` →
    /// `[section] opt` → `[disco_aws] default_opt@ENV` → `[disco_aws] default_opt`.
    /// ENV is `env`, else the environment of this file.
    pub fn asiaq_option_in(&self, opt: &str, section: &str, env: Option<&str>) -> Option<Value> {
        let env = env.or(self.environment());
        self.first(&self.asiaq_candidates(opt, section, env))
    }

    /// [`Self::asiaq_option_in`] with this file's environment.
    pub fn asiaq_option(&self, opt: &str, section: &str) -> Option<Value> {
        self.asiaq_option_in(opt, section, None)
    }

    /// [`Self::asiaq_option`] for a required option (`NoOptionError` otherwise).
    pub fn require_asiaq_option(&self, opt: &str, section: &str) -> Result<Value, ConfigError> {
        let c = self.asiaq_candidates(opt, section, self.environment());
        self.first(&c).ok_or_else(|| self.no_option(opt, &c))
    }

    /// `DiscoAWS.config(opt, section)`: `[section] opt@ENV` → `[section] opt`.
    pub fn config(&self, opt: &str, section: &str) -> Option<Value> {
        let mut c = Vec::with_capacity(2);
        if let Some(k) = self.at_env(opt, self.environment()) {
            c.push((section.to_string(), k));
        }
        c.push((section.to_string(), opt.to_string()));
        self.first(&c)
    }

    /// `DiscoAWS.hostclass_option(hc, opt)`: `[hc] opt@ENV` → `[hc] opt` →
    /// `[disco_aws] default_opt@ENV` → `[disco_aws] default_opt`.
    pub fn hostclass_option(&self, hostclass: &str, opt: &str) -> Option<Value> {
        self.asiaq_option(opt, hostclass)
    }

    /// [`Self::hostclass_option`] for a required option.
    pub fn require_hostclass_option(
        &self,
        hostclass: &str,
        opt: &str,
    ) -> Result<Value, ConfigError> {
        self.require_asiaq_option(opt, hostclass)
    }

    /// `DiscoBake.hc_option(hc, key)`: `[hc] key` → `[bake] key` → `[disco_aws] default_key`.
    /// No `@env` keys.
    pub fn bake_option(&self, hostclass: &str, key: &str) -> Option<Value> {
        self.first(&self.bake_candidates(hostclass, key))
    }

    fn bake_candidates(&self, hostclass: &str, key: &str) -> Vec<(String, String)> {
        vec![
            (hostclass.to_string(), key.to_string()),
            ("bake".to_string(), key.to_string()),
            (DISCO_AWS.to_string(), format!("default_{key}")),
        ]
    }

    /// [`Self::bake_option`] for a required option.
    pub fn require_bake_option(&self, hostclass: &str, key: &str) -> Result<Value, ConfigError> {
        let c = self.bake_candidates(hostclass, key);
        self.first(&c).ok_or_else(|| self.no_option(key, &c))
    }

    /// `DiscoDeploy.hostclass_option(hc, key)`: `[hc] key` → `[test] key` →
    /// `[test] key-without-"test_"` → `[disco_aws] default_key`. No `@env` keys.
    pub fn deploy_option(&self, hostclass: &str, key: &str) -> Option<Value> {
        let mut c = vec![
            (hostclass.to_string(), key.to_string()),
            ("test".to_string(), key.to_string()),
        ];
        if let Some(short) = key.strip_prefix("test_") {
            c.push(("test".to_string(), short.to_string()));
        }
        c.push((DISCO_AWS.to_string(), format!("default_{key}")));
        self.first(&c)
    }

    /// `DiscoIAM.option(key)`: `[iam] key@ENV` → `[iam] key`, where ENV is the IAM
    /// environment (really an account type) given to `iam update`.
    pub fn iam_option(&self, key: &str, iam_env: &str) -> Option<Value> {
        self.first(&[
            ("iam".to_string(), format!("{key}@{iam_env}")),
            ("iam".to_string(), key.to_string()),
        ])
    }

    /// Hostclass sections (`[mhc...]`), in file order.
    pub fn hostclasses(&self) -> Vec<&str> {
        self.ini
            .sections()
            .map(|s| s.name.as_str())
            .filter(|n| n.starts_with(HOSTCLASS_PREFIX))
            .collect()
    }

    /// Names that cannot be used: a hostclass section (`[mhc...]`) or
    /// `[disco_aws] default_environment` that is not ASCII letters, digits, `-` and `_`
    /// (they become parts of AWS names and tags).
    pub fn check_names(&self) -> Vec<Diagnostic> {
        let mut out: Vec<Diagnostic> = self
            .ini
            .sections()
            .filter(|s| s.name.starts_with(HOSTCLASS_PREFIX))
            .filter_map(|s| {
                asiaq_core::syntax::check_name("hostclass", &s.name)
                    .err()
                    .map(|e| {
                        Diagnostic::error(
                            self.ini.path(),
                            Some(s.line),
                            format!("[{}]: {}", s.name, e.message),
                            Some(e.expected),
                        )
                    })
            })
            .collect();
        if let Some(v) = self.ini.get(DISCO_AWS, "default_environment") {
            if !v.text.trim().is_empty() {
                out.extend(
                    v.parse(|t| asiaq_core::syntax::check_name("environment", t))
                        .err(),
                );
            }
        }
        out
    }

    /// Whether `[hostclass]` has a section.
    pub fn has_hostclass(&self, hostclass: &str) -> bool {
        self.ini.has_section(hostclass)
    }

    /// `[disco_aws] project_name` (required by credential-bucket names).
    pub fn project_name(&self) -> Result<Value, ConfigError> {
        self.ini.get(DISCO_AWS, "project_name").ok_or_else(|| {
            self.no_option(
                "project_name",
                &[(DISCO_AWS.to_string(), "project_name".to_string())],
            )
        })
    }

    /// A space-separated list option of `[section]` (empty if unset).
    pub fn list(&self, section: &str, key: &str) -> Vec<String> {
        self.ini
            .get(section, key)
            .map(|v| v.text.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    }

    /// `[bake] ami_stages` (space list). The README's default when unset is
    /// `untested tested`.
    pub fn ami_stages(&self) -> Vec<String> {
        let stages = self.list("bake", "ami_stages");
        if stages.is_empty() {
            vec!["untested".into(), "tested".into()]
        } else {
            stages
        }
    }

    /// `get_asiaq_s3_bucket_name(tag)`: `<s3_bucket_base>--<tag>[--<s3_bucket_suffix>]`,
    /// both env-aware (spec §4.13).
    pub fn asiaq_s3_bucket_name(&self, tag: &str) -> Result<String, ConfigError> {
        let base = self.require_asiaq_option("s3_bucket_base", DISCO_AWS)?;
        let suffix = self
            .asiaq_option("s3_bucket_suffix", DISCO_AWS)
            .map(|v| v.text)
            .filter(|s| !s.is_empty());
        Ok(match suffix {
            Some(s) => format!("{}--{tag}--{s}", base.text),
            None => format!("{}--{tag}", base.text),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aws(text: &str, env: Option<&str>) -> AwsIni {
        AwsIni::new(IniFile::parse("disco_aws.ini", text).unwrap(), env)
    }

    const MATRIX: &str = "\
[disco_aws]
default_environment=ci
default_color=grey
default_color@production=black
default_only@ci=ci-default
[mhcfoo]
color=red
color@staging=blue
[mhcbar]
size=3
";

    #[test]
    fn asiaq_option_precedence_matrix() {
        let c = aws(MATRIX, None);
        assert_eq!(c.environment(), Some("ci"));
        // [section] opt@ENV wins.
        assert_eq!(
            c.asiaq_option_in("color", "mhcfoo", Some("staging"))
                .unwrap()
                .text,
            "blue"
        );
        // then [section] opt.
        assert_eq!(c.asiaq_option("color", "mhcfoo").unwrap().text, "red");
        assert_eq!(
            c.asiaq_option_in("color", "mhcfoo", Some("production"))
                .unwrap()
                .text,
            "red"
        );
        // then [disco_aws] default_opt@ENV.
        assert_eq!(
            c.asiaq_option_in("color", "mhcbar", Some("production"))
                .unwrap()
                .text,
            "black"
        );
        // then [disco_aws] default_opt.
        assert_eq!(c.asiaq_option("color", "mhcbar").unwrap().text, "grey");
        // default_opt@ENV with the construction-time environment.
        assert_eq!(c.asiaq_option("only", "mhcbar").unwrap().text, "ci-default");
        assert!(c.asiaq_option_in("only", "mhcbar", Some("prod")).is_none());
        // Missing section still reaches the defaults.
        assert_eq!(c.asiaq_option("color", "mhcnone").unwrap().text, "grey");
        let err = c.require_asiaq_option("nothing", "mhcbar").unwrap_err();
        assert_eq!(
            err.to_string(),
            "disco_aws.ini: option \"nothing\" is not set (looked for [mhcbar] nothing@ci, [mhcbar] nothing, [disco_aws] default_nothing@ci, [disco_aws] default_nothing)"
        );
    }

    #[test]
    fn env_argument_beats_default_environment() {
        let c = aws(MATRIX, Some("staging"));
        assert_eq!(c.hostclass_option("mhcfoo", "color").unwrap().text, "blue");
        let none = aws("[disco_aws]\n", None);
        assert_eq!(none.environment(), None);
        assert!(none.require_environment().is_err());
    }

    #[test]
    fn env_keys_are_case_insensitive_like_configparser() {
        let c = aws("[disco_aws]\n[mhcx]\nip@Build=1\n", Some("build"));
        assert_eq!(c.hostclass_option("mhcx", "ip").unwrap().text, "1");
    }

    #[test]
    fn config_has_no_default_fallback() {
        let c = aws(MATRIX, Some("staging"));
        assert_eq!(c.config("color", "mhcfoo").unwrap().text, "blue");
        assert!(c.config("size", "mhcfoo").is_none());
        assert!(c.config("color", "mhcbar").is_none());
    }

    #[test]
    fn bake_option_has_no_env_keys() {
        let c = aws(
            "[disco_aws]\ndefault_phase=9\n[bake]\nphase=2\nkey=b\n[mhcfoo]\nphase=1\nphase@ci=5\n",
            Some("ci"),
        );
        assert_eq!(c.bake_option("mhcfoo", "phase").unwrap().text, "1");
        assert_eq!(c.bake_option("mhcbar", "phase").unwrap().text, "2");
        assert_eq!(c.bake_option("mhcbar", "key").unwrap().text, "b");
        let c = aws("[disco_aws]\ndefault_phase=9\n", None);
        assert_eq!(c.bake_option("mhcbar", "phase").unwrap().text, "9");
        assert!(c.require_bake_option("mhcbar", "nope").is_err());
    }

    #[test]
    fn deploy_option_alt_key_without_test_prefix() {
        let c = aws(
            "[disco_aws]\ndefault_test_command=dflt\n[test]\nuser=tester\ntest_hostclass=mhcx\n[mhcfoo]\ntest_user=own\n",
            None,
        );
        assert_eq!(c.deploy_option("mhcfoo", "test_user").unwrap().text, "own");
        assert_eq!(
            c.deploy_option("mhcbar", "test_user").unwrap().text,
            "tester"
        );
        assert_eq!(
            c.deploy_option("mhcbar", "test_hostclass").unwrap().text,
            "mhcx"
        );
        assert_eq!(
            c.deploy_option("mhcbar", "test_command").unwrap().text,
            "dflt"
        );
        assert!(c.deploy_option("mhcbar", "deployment_strategy").is_none());
    }

    #[test]
    fn iam_option_uses_iam_environment() {
        let c = aws(
            "[disco_aws]\ndefault_environment=ci\n[iam]\nprune_empty_groups@production=True\nrole_prefix=disco\n",
            None,
        );
        assert_eq!(
            c.iam_option("prune_empty_groups", "production")
                .unwrap()
                .text,
            "True"
        );
        assert!(c.iam_option("prune_empty_groups", "dev").is_none());
        assert_eq!(c.iam_option("role_prefix", "dev").unwrap().text, "disco");
    }

    #[test]
    fn s3_bucket_names_acceptance() {
        let text = "[disco_aws]\ns3_bucket_base=bucket-base\ns3_bucket_suffix=blah\ns3_bucket_suffix@production=danger\n";
        assert_eq!(
            aws(text, Some("ci"))
                .asiaq_s3_bucket_name("foobar")
                .unwrap(),
            "bucket-base--foobar--blah"
        );
        assert_eq!(
            aws(text, Some("production"))
                .asiaq_s3_bucket_name("foobar")
                .unwrap(),
            "bucket-base--foobar--danger"
        );
        let no_suffix = "[disco_aws]\ns3_bucket_base=bucket-base\n";
        assert_eq!(
            aws(no_suffix, None).asiaq_s3_bucket_name("foobar").unwrap(),
            "bucket-base--foobar"
        );
        assert!(aws("[disco_aws]\n", None)
            .asiaq_s3_bucket_name("foobar")
            .is_err());
    }

    #[test]
    fn hostclasses_are_mhc_sections_in_order() {
        let c = aws(
            "[disco_aws]\n[mhcb]\n[bake]\n[mhca]\n[centos_phase1]\n",
            None,
        );
        assert_eq!(c.hostclasses(), vec!["mhcb", "mhca"]);
        assert_eq!(c.ami_stages(), vec!["untested", "tested"]);
    }
}
