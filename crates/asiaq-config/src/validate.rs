//! `asiaq config validate`: loads every file of a configuration directory and reports every
//! problem, each at its file and line. No AWS call.

use std::path::{Path, PathBuf};

use asiaq_core::syntax::{self, MetaNetworkCidr, StaticIp};

use crate::acfg_metadata::parse_metadata;
use crate::alarms::AlarmsIni;
use crate::app_auth::read_app_auth;
use crate::aws_ini::{AwsIni, DISCO_AWS};
use crate::diag::{sort_diagnostics, Diagnostic};
use crate::dir::{files, ConfigDir};
use crate::error::ConfigError;
use crate::iam_tree::IamTree;
use crate::ini::IniFile;
use crate::kinds::{check_section, Kind};
use crate::options::{
    BAKE_OPTIONS, DISCO_AWS_OPTIONS, HOSTCLASS_OPTIONS, IAM_OPTIONS, TEST_OPTIONS,
};
use crate::pipeline::Pipeline;
use crate::services;
use crate::ssm_documents::read_ssm_documents;
use crate::vpc_ini::VpcIni;

/// What to validate.
#[derive(Debug, Clone, Default)]
pub struct ValidateOptions {
    /// `--env`: also resolve everything as this environment would see it.
    pub env: Option<String>,
    /// `--type`: the environment type of `env` (needed to check its network).
    pub env_type: Option<String>,
    /// Extra pipeline files (besides `pipelines/*.csv`).
    pub pipelines: Vec<PathBuf>,
}

/// Every problem of a configuration directory, sorted by file and line.
pub fn validate(dir: &ConfigDir, opts: &ValidateOptions) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if let Err(e) = dir.check() {
        return e.diagnostics();
    }
    // Read without `ConfigDir::aws`'s name check, which is reported with the rest.
    let aws = match dir.ini(files::DISCO_AWS) {
        Ok(f) => Some(AwsIni::new(f, opts.env.as_deref())),
        Err(e) => {
            out.extend(e.diagnostics());
            None
        }
    };
    if let Some(aws) = &aws {
        out.extend(check_aws_ini(dir, aws));
    }
    let vpc = match dir.vpc() {
        Ok(v) => {
            out.extend(v.check());
            Some(v)
        }
        Err(e) => {
            out.extend(e.diagnostics());
            None
        }
    };
    if let (Some(aws), Some(vpc)) = (&aws, &vpc) {
        out.extend(check_environment(aws, vpc, opts));
    }
    out.extend(check_pipelines(dir, aws.as_ref(), &opts.pipelines));
    out.extend(check_optional_inis(dir));
    out.extend(check_trees(dir, aws.as_ref()));
    sort_diagnostics(&mut out);
    out
}

fn check_aws_ini(dir: &ConfigDir, aws: &AwsIni) -> Vec<Diagnostic> {
    let ini = aws.ini();
    let path = ini.path();
    let mut out = ini.interpolation_problems();
    out.extend(aws.check_names());
    if !ini.has_section(DISCO_AWS) {
        out.push(Diagnostic::error(
            path,
            None,
            "section [disco_aws] is missing",
            Some("a [disco_aws] section".into()),
        ));
        return out;
    }
    if let Err(e) = aws.project_name() {
        out.extend(e.diagnostics());
    }
    if aws.environment().is_none() {
        out.push(Diagnostic::warning(
            path,
            ini.section(DISCO_AWS).map(|s| s.line),
            "[disco_aws] has no default_environment: every command needs --env",
            None,
        ));
    }
    // [disco_aws]: its own options, then default_<hostclass option>.
    out.extend(check_section(ini, DISCO_AWS, DISCO_AWS_OPTIONS));
    let defaults: Vec<(String, Kind)> = HOSTCLASS_OPTIONS
        .iter()
        .map(|(k, kind)| (format!("default_{k}"), *kind))
        .collect();
    let defaults_ref: Vec<(&str, Kind)> = defaults
        .iter()
        .map(|(k, kind)| (k.as_str(), *kind))
        .collect();
    out.extend(check_section(ini, DISCO_AWS, &defaults_ref));
    out.extend(check_section(ini, "bake", BAKE_OPTIONS));
    out.extend(check_section(ini, "test", TEST_OPTIONS));
    out.extend(check_section(ini, "iam", IAM_OPTIONS));

    for hc in aws.hostclasses() {
        out.extend(check_section(ini, hc, HOSTCLASS_OPTIONS));
        let Some(sect) = ini.section(hc) else {
            // A pipeline hostclass without a section: nothing of its own to check.
            continue;
        };
        for (key, entry) in sect.entries() {
            let base = key.split('@').next().unwrap_or(key);
            if !HOSTCLASS_OPTIONS.iter().any(|(k, _)| *k == base) {
                out.push(Diagnostic::warning(
                    path,
                    Some(entry.line),
                    format!("[{hc}] {}: unknown hostclass option (ignored)", entry.key),
                    None,
                ));
            }
        }
        if let Some(v) = ini.get(hc, "phase1_ami_name") {
            out.extend(require_image_section(aws, &v));
        }
    }
    // Hostclass references.
    for key in [
        "jump_box_hostclasses",
        "http_proxy_hostclass",
        "zookeeper_hostclass",
        "logger_hostclass",
        "logforwarder_hostclass",
    ] {
        if let Some(v) = ini.get(DISCO_AWS, key) {
            for hc in v.text.split_whitespace() {
                if !aws.has_hostclass(hc) {
                    out.push(v.warning(format!("hostclass {hc} has no [{hc}] section"), None));
                }
            }
        }
    }
    if ini.has_section("bake") {
        if let Some(v) = ini.get("bake", "phase1_ami_name") {
            out.extend(require_image_section(aws, &v));
        }
        for key in ["config_data_source", "asiaq_data_source"] {
            if let Some(v) = ini.get("bake", key) {
                let p = dir.path(v.text.trim());
                if !p.is_dir() {
                    out.push(v.error(
                        format!("{} is not a directory", p.display()),
                        Some("a directory relative to the configuration directory".into()),
                    ));
                }
            }
        }
        if let Some(v) = ini.get("bake", "ami_stages") {
            let stages: Vec<&str> = v.text.split_whitespace().collect();
            if let Some(dup) = stages
                .iter()
                .enumerate()
                .find(|(i, s)| stages[..*i].contains(s))
            {
                out.push(v.error(
                    format!("stage {} appears twice", dup.1),
                    Some("distinct stage names".into()),
                ));
            }
        }
        if let Some(v) = ini.get("bake", "repo_hostclass") {
            let hc = v.text.trim();
            if !hc.is_empty() && !aws.has_hostclass(hc) {
                out.push(v.warning(format!("hostclass {hc} has no [{hc}] section"), None));
            }
        }
    }
    out
}

/// A phase-1 image name must have its own section with `bake_ami`.
fn require_image_section(aws: &AwsIni, v: &crate::ini::Value) -> Vec<Diagnostic> {
    let name = v.text.trim();
    if !aws.ini().has_section(name) {
        return vec![v.error(
            format!("phase-1 image {name} has no [{name}] section"),
            Some(format!("a [{name}] section with bake_ami=<ami id>")),
        )];
    }
    match aws.bake_option(name, "bake_ami") {
        None => vec![Diagnostic::error(
            aws.ini().path(),
            aws.ini().section(name).map(|s| s.line),
            format!("[{name}] has no bake_ami"),
            Some("bake_ami=<upstream ami id>".into()),
        )],
        Some(ami) => crate::kinds::check(Kind::AmiId, &ami).into_iter().collect(),
    }
}

/// With `--env`: the environment's network, and every hostclass option as that environment
/// resolves it.
fn check_environment(aws: &AwsIni, vpc: &VpcIni, opts: &ValidateOptions) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let Some(env) = opts.env.as_deref() else {
        return out;
    };
    if env.contains('_') {
        out.push(Diagnostic::error(
            aws.ini().path(),
            None,
            format!("environment name {env:?} contains \"_\""),
            Some("a name without \"_\" (alarm and group names are split on it)".into()),
        ));
    }
    let env_type = opts
        .env_type
        .clone()
        .or_else(|| vpc.has_env_type(env).then(|| env.to_string()));
    let spec = match env_type.as_deref() {
        Some(t) => match vpc.environment(env, t) {
            Ok(s) => Some(s),
            Err(e) => {
                out.extend(e);
                None
            }
        },
        None => None,
    };
    for hc in aws.hostclasses() {
        let meta = aws.hostclass_option(hc, "meta_network");
        let net = match &meta {
            None => {
                out.push(Diagnostic::error(
                    aws.ini().path(),
                    aws.ini().section(hc).map(|s| s.line),
                    format!("[{hc}] has no meta_network in environment {env}"),
                    Some("meta_network in the section, or [disco_aws] default_meta_network".into()),
                ));
                None
            }
            Some(v) => v
                .parse(|t| t.trim().parse::<syntax::MetaNetworkName>())
                .ok(),
        };
        let (Some(spec), Some(net), Some(meta)) = (&spec, net, &meta) else {
            continue;
        };
        let Some(m) = spec.metanetwork(net) else {
            out.push(meta.error(
                format!(
                    "environment {env} (type {}) has no {net} metanetwork",
                    spec.env_type
                ),
                Some("a metanetwork the environment type defines".into()),
            ));
            continue;
        };
        if let (MetaNetworkCidr::Static(cidr), Some(ip)) =
            (m.cidr, aws.hostclass_option(hc, "ip_address"))
        {
            if let Ok(ips) = syntax::parse_ip_addresses(&ip.text) {
                for entry in ips {
                    if let StaticIp::Absolute(a) = entry {
                        if !cidr.contains(&a) {
                            out.push(ip.error(
                                format!("{a} is not inside {env}'s {net} metanetwork {cidr}"),
                                Some(format!("an address inside {cidr}, or an offset like +10")),
                            ));
                        }
                    }
                }
            }
        }
    }
    out
}

fn check_pipelines(dir: &ConfigDir, aws: Option<&AwsIni>, extra: &[PathBuf]) -> Vec<Diagnostic> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir.path(files::PIPELINES))
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("csv"))
                .collect()
        })
        .unwrap_or_default();
    paths.sort();
    paths.extend(extra.iter().map(|p| dir.pipeline_path(p)));
    let mut out = Vec::new();
    for p in paths {
        match Pipeline::read(&p, aws) {
            Ok((_, warnings)) => out.extend(warnings),
            Err(e) => out.extend(e.diagnostics()),
        }
    }
    out
}

fn read_optional(dir: &ConfigDir, name: &str, out: &mut Vec<Diagnostic>) -> Option<IniFile> {
    match dir.optional_ini(name) {
        Ok(f) => Some(f),
        Err(e) => {
            out.extend(e.diagnostics());
            None
        }
    }
}

fn check_optional_inis(dir: &ConfigDir) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if let Some(f) = read_optional(dir, files::DISCO_ALARMS, &mut out) {
        out.extend(AlarmsIni::new(f).check());
    }
    if let Some(f) = read_optional(dir, files::DISCO_LOG_METRICS, &mut out) {
        out.extend(services::check_log_metrics(&f));
    }
    if let Some(f) = read_optional(dir, files::DISCO_ELASTICACHE, &mut out) {
        out.extend(services::check_elasticache(&f));
    }
    if let Some(f) = read_optional(dir, files::DISCO_ELASTICSEARCH, &mut out) {
        out.extend(services::check_elasticsearch(&f));
    }
    if let Some(f) = read_optional(dir, files::DISCO_RDS, &mut out) {
        let engine = services::read_engine_specific(&dir.path(files::RDS_ENGINE_SPECIFIC));
        out.extend(services::check_rds(&f, &engine));
    }
    out
}

fn check_trees(dir: &ConfigDir, aws: Option<&AwsIni>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    match IamTree::load(&dir.path(files::IAM)) {
        Ok((_, warnings)) => out.extend(warnings),
        Err(e) => out.extend(e),
    }
    let metadata = dir.path(files::ACFG_METADATA);
    if let Ok(text) = std::fs::read_to_string(&metadata) {
        match parse_metadata(&metadata, &text) {
            Ok(entries) => {
                for e in entries {
                    if let (Some(hc), Some(aws)) = (&e.hostclass, aws) {
                        if !aws.has_hostclass(hc) && !is_phase1_hostclass(aws, hc) {
                            out.push(Diagnostic::warning(
                                &metadata,
                                Some(e.line),
                                format!("hostclass {hc} has no [{hc}] section"),
                                None,
                            ));
                        }
                    }
                }
            }
            Err(e) => out.extend(e),
        }
    }
    let app_auth = dir.path(files::APP_AUTH);
    for env_dir in sorted_dirs(&app_auth) {
        let env = env_dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if let Err(e) = read_app_auth(&app_auth, &env) {
            out.extend(e);
        }
    }
    match read_ssm_documents(&dir.path(files::SSM_DOCUMENTS)) {
        Ok((_, warnings)) => out.extend(warnings),
        Err(e) => out.extend(e),
    }
    out
}

fn is_phase1_hostclass(aws: &AwsIni, hc: &str) -> bool {
    aws.ini()
        .get("bake", "phase1_hostclass")
        .is_some_and(|v| v.text.trim() == hc)
}

fn sorted_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Loads and validates a pipeline for a command that is about to act on it: any error
/// comes back as one `ConfigError`; warnings (such as a hostclass without a section, which
/// runs on the `[disco_aws] default_*` options) come back with the pipeline.
pub fn load_pipeline(
    dir: &ConfigDir,
    aws: &AwsIni,
    given: &Path,
) -> Result<(Pipeline, Vec<Diagnostic>), ConfigError> {
    let path = dir.pipeline_path(given);
    Pipeline::read(&path, Some(aws))
}
