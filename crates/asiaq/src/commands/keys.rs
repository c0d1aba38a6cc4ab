//! `asiaq keys rotate` (the original's `disco_keys_rotate.sh`): new SSH key pairs for an
//! environment in its first credential bucket (`private_keys/ssh/<name>.key`,
//! `public_keys/ssh/<name>.pub`), the `bake` key also as the EC2 key pair of that name, and
//! the SSL keys and certificates the host files ask the bucket for.

use std::io::Write;
use std::path::Path;

use asiaq_aws::credentials::Bucket;
use asiaq_aws::keys as aws_keys;
use asiaq_config::ConfigDir;
use asiaq_core::keys::{default_ssh_keys, parse_key_list, plan, select, ssl_references};
use serde::Serialize;

use crate::cli::GlobalArgs;
use crate::commands::{aws_session, cred_bucket};
use crate::exit::CliError;
use crate::output::emit;

#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// Make new SSH key pairs for the environment's keys ([keys] ssh_keys@ENV in
    /// disco_aws.ini; by default bake for build, none for deploy, test smoketest snapshot
    /// dashboard jenkins otherwise) and store them in its credential bucket; bake also
    /// becomes the EC2 key pair bake
    Rotate {
        /// Rotate only this key of the environment
        #[arg(long, value_name = "NAME")]
        only: Option<String>,
        /// Print the plan and change nothing
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Serialize)]
struct Ssl {
    key: String,
    set: bool,
}

#[derive(Serialize)]
struct Report<'a> {
    environment: &'a str,
    bucket: &'a str,
    rotated: Vec<String>,
    ssl: Vec<Ssl>,
}

/// Every file's text under `dir` (lossy), for the `{s3cred://...}` references.
fn texts(dir: &Path, out: &mut Vec<String>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            texts(&p, out);
        } else if let Ok(bytes) = std::fs::read(&p) {
            out.push(String::from_utf8_lossy(&bytes).into_owned());
        }
    }
}

pub fn run(global: &GlobalArgs, cmd: &KeysCommand) -> Result<(), CliError> {
    let KeysCommand::Rotate { only, dry_run } = cmd;
    let dir = ConfigDir::new(&global.asiaq_config);
    dir.check()?;
    let aws = dir.aws(global.env.as_deref())?;
    let env = aws
        .require_environment()
        .map_err(|e| CliError::from(e).with_hint("give --env ENV"))?
        .to_string();
    let table = match aws.config("ssh_keys", "keys") {
        Some(v) => parse_key_list(&v.text)
            .map_err(|e| CliError::usage(format!("[keys] ssh_keys of {env}: {e}")))?,
        None => default_ssh_keys(&env),
    };
    let names = select(&table, only.as_deref()).map_err(CliError::usage)?;
    let mut files = Vec::new();
    texts(&dir.path("discoroot"), &mut files);
    let ssl_refs = ssl_references(files.iter().map(String::as_str));
    let config = cred_bucket::config_for(global, None, Some(&env))?;
    let plan = plan(&names);
    aws_session::run(global, |ctx| async move {
        let name = cred_bucket::resolve(&ctx, None, config.as_ref()).await?;
        let bucket = Bucket::new(&ctx, &name);
        bucket.check().await?;
        let present = bucket.list("private_keys/ssl/").await?;
        let ssl: Vec<Ssl> = ssl_refs
            .iter()
            .map(|k| Ssl {
                key: k.clone(),
                set: present.contains(k),
            })
            .collect();
        let notes: Vec<String> = ssl
            .iter()
            .filter(|s| !s.set)
            .map(|s| {
                format!(
                    "SSL: s3://{name}/{} is not set (discoroot/ asks for it)",
                    s.key
                )
            })
            .collect();
        if *dry_run {
            return crate::output::print_plan(global, "keys rotate", &plan, &notes, true);
        }
        let keys = crate::keygen::generate(&names, &env)?;
        aws_keys::apply_plan(&ctx, &name, &plan, &keys).await?;
        let report = Report {
            environment: &env,
            bucket: &name,
            rotated: names.clone(),
            ssl,
        };
        emit(global.output, &report, |out: &mut dyn Write| {
            for s in &plan.steps {
                writeln!(out, "rotated: {}", s.action)?;
            }
            if report.ssl.is_empty() {
                writeln!(
                    out,
                    "SSL: no {{s3cred://private_keys/ssl/...}} in discoroot/"
                )?;
            }
            for s in &report.ssl {
                let state = if s.set {
                    "set"
                } else {
                    "NOT SET: set it with `asiaq creds setfile`"
                };
                writeln!(out, "SSL: s3://{name}/{}: {state}", s.key)?;
            }
            Ok(())
        })
    })
}
