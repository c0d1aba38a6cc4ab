//! `asiaq account init --account A`: reads what every step needs, asks
//! `asiaq_aws::account_init` to run (or plan) the steps, and prints what they did.

use std::io::Write;

use asiaq_aws::account_init::{self as init, AccountInputs, EnvInputs, InitError, InitOptions};
use asiaq_config::account::{
    account_environments, account_files, environment_files, iam_environments,
};
use asiaq_config::iam_tree::desired_state;
use asiaq_config::s3_accounts::audit_canonical_ids;
use asiaq_config::ConfigDir;
use asiaq_core::account::{document, iam_environment, partial_text, text};
use serde::Serialize;

use crate::cli::GlobalArgs;
use crate::commands::aws_session;
use crate::exit::CliError;
use crate::output::emit;

pub fn run(
    global: &GlobalArgs,
    account: &str,
    iam_env: Option<&str>,
    rotate_keys: bool,
    dry_run: bool,
) -> Result<(), CliError> {
    let dir = ConfigDir::new(&global.asiaq_config);
    dir.check()?;
    let (account_dir, files) = account_files(&dir, account)?;
    let aws = dir.aws(None)?;
    let project = aws.project_name()?.text;
    let iam_environment =
        iam_environment(iam_env, account, &iam_environments(&dir)).map_err(CliError::usage)?;
    let mut warnings = Vec::new();
    let desired = desired_state(
        &dir.path("iam"),
        &dir.aws(Some(&iam_environment))?,
        &iam_environment,
        &mut warnings,
    );
    for w in warnings {
        asiaq_engine::report::warn(w.located());
    }
    let (iam_desired, saml_url) = desired?;
    if let Some(url) = &saml_url {
        asiaq_aws::saml::check_url(url)
            .map_err(|e| CliError::usage(format!("{}: [iam] {e}", aws.ini().path().display())))?;
    }
    let vpc = dir.vpc()?;
    let inputs = AccountInputs {
        account: account.to_string(),
        account_dir,
        files,
        project: project.clone(),
        audit_ids: audit_canonical_ids(&aws),
        iam_environment,
        iam_desired,
        saml_url,
    };
    aws_session::run(global, |ctx| async move {
        let buckets =
            init::account_buckets(&ctx, &inputs).map_err(|e| CliError::usage(e.to_string()))?;
        let live: Vec<(String, String)> = init::live_environments(&ctx)
            .await?
            .into_iter()
            .map(|e| (e.name, e.env_type))
            .collect();
        let only = global.env.as_deref();
        let envs = account_environments(&vpc, &project, ctx.region(), &live, &buckets, only)?;
        if envs.is_empty() {
            asiaq_engine::report::note(format!(
                "no environment of account {account} exists in {} yet: after `asiaq vpc create`, run this again for its app_auth, keys and app_conf",
                ctx.region()
            ));
        }
        let mut env_inputs = Vec::new();
        for (name, bucket) in envs {
            let f = environment_files(&dir, &name, only.is_some())?;
            for n in &f.notes {
                asiaq_engine::report::note(n.clone());
            }
            env_inputs.push(EnvInputs {
                name,
                bucket,
                app_auth: f.app_auth,
                app_conf: f.app_conf,
                ssh_keys: f.ssh_keys,
            });
        }
        let keygen = |names: &[String], env: &str| crate::keygen::generate(names, env);
        let options = InitOptions {
            dry_run,
            rotate_keys,
            now: crate::commands::iam::now_timestamp(),
            keygen: &keygen,
        };
        match init::run(&ctx, &inputs, &env_inputs, &options).await {
            Ok(outcomes) => {
                if dry_run {
                    let doc = document(&outcomes, true);
                    return emit(global.output, &doc, |w: &mut dyn Write| {
                        write!(w, "{}", text(&outcomes, true))
                    });
                }
                #[derive(Serialize)]
                struct Report<'a> {
                    account: &'a str,
                    stages: &'a [asiaq_core::account::StageOutcome],
                }
                let report = Report {
                    account,
                    stages: &outcomes,
                };
                emit(global.output, &report, |w: &mut dyn Write| {
                    write!(w, "{}", text(&outcomes, false))
                })
            }
            Err(InitError::Config(m)) => Err(CliError::usage(m)),
            Err(InitError::Failed {
                stage,
                message,
                done,
                changed,
            }) => {
                if !done.is_empty() {
                    eprint!("{}", partial_text(&done));
                }
                let hint = if changed {
                    "what the steps before it did stays done; run `asiaq account init` again to finish"
                } else {
                    "nothing was changed"
                };
                Err(CliError::failed(format!(
                    "account init stopped at `asiaq {stage}`: {message}"
                ))
                .with_hint(hint))
            }
        }
    })
}
