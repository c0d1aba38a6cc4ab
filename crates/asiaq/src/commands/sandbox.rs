//! `asiaq sandbox NAME` (the original's `asiaq sandbox` / `asiaq_sandbox`): sync the
//! sandbox's files, create or update its environment, spin up its pipeline; `--destroy`
//! takes it down ([`asiaq_aws::sandbox`], [`asiaq_core::plan::sandbox`]).

use asiaq_aws::hosts::env::EnvironmentNetwork;
use asiaq_aws::hosts::spinup::SpinupOptions;
use asiaq_aws::sandbox::{self, Contents, SandboxInputs};
use asiaq_aws::vpc::Extras;
use asiaq_config::hosts::HostsConfig;
use asiaq_config::sandbox::{load_sandbox, Sandbox};
use asiaq_config::vpc_env::{environment_inputs, peering_config};
use asiaq_core::plan::sandbox::environment_type;
use asiaq_core::vpc::check_vpc_name;
use clap::Args;

use crate::cli::GlobalArgs;
use crate::commands::aws::DEFAULT_MAX_PARALLEL;
use crate::commands::{aws_session, hosts_env};
use crate::confirm::confirm;
use crate::exit::CliError;
use crate::output::{emit, print_plan, write_lines};

#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// The sandbox: the environment (VPC) to create or update, and sandboxes/NAME/
    pub name: String,
    /// Take the pipeline and files from sandboxes/DIR/ instead of sandboxes/NAME/ (also
    /// --reference-name, as the original's README called it)
    #[arg(long, value_name = "DIR", visible_alias = "reference-name")]
    pub config_dir: Option<String>,
    /// Print the plan of the whole sequence and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Spin down and destroy the sandbox, and delete its files from the bucket (asks
    /// first, or --yes)
    #[arg(long)]
    pub destroy: bool,
}

pub fn run(global: &GlobalArgs, a: &SandboxArgs) -> Result<(), CliError> {
    check_vpc_name(&a.name).map_err(CliError::usage)?;
    if let Some(env) = global.env.as_deref().filter(|e| *e != a.name) {
        return Err(CliError::usage(format!(
            "--env {env}: the sandbox's environment is its NAME ({})",
            a.name
        )));
    }
    let cfg = HostsConfig::load(&global.asiaq_config, Some(&a.name))?;
    let sb = load_sandbox(&cfg.dir, &cfg.aws, &a.name, a.config_dir.as_deref())?;
    if a.destroy {
        return destroy(global, &sb, a.dry_run);
    }
    let requests = hosts_env::warned(cfg.pipeline_requests(&sb.pipeline_file, false)?);
    let vpc_ini = cfg.dir.vpc()?;
    peering_config(&vpc_ini)?;
    let contents: Contents = sb
        .files
        .iter()
        .map(|f| (f.key.clone(), f.bytes.clone()))
        .collect();
    let trusted = cfg.aws.list("bake", "trusted_account_ids");
    let pipeline = sb.pipeline.display().to_string();
    let tags: Vec<(String, String)> = sb
        .product_line
        .iter()
        .map(|p| ("productline".to_string(), p.clone()))
        .collect();
    aws_session::run(global, |ctx| async move {
        let inputs = SandboxInputs {
            name: &sb.name,
            bucket: sb.bucket.as_deref(),
            contents: &contents,
            pipeline: &pipeline,
            requests: &requests,
            trusted_account_ids: &trusted,
        };
        let env_config = |existing: Option<Option<&str>>| {
            let t =
                environment_type(&sb.name, existing).map_err(|e| CliError::usage(e.to_string()))?;
            let i = environment_inputs(&cfg.dir, &vpc_ini, &sb.name, t, tags, true)?;
            Ok::<_, CliError>((i.config, Extras::now(i.static_ips, i.peerings)))
        };
        let configure = |network: &EnvironmentNetwork| {
            hosts_env::environment_settings(&cfg, network, ctx.region(), None)
        };
        let prepared = sandbox::prepare(&ctx, &inputs, env_config, configure).await?;
        print_plan(
            global,
            "sandbox",
            &prepared.plan(),
            &prepared.notes,
            a.dry_run,
        )?;
        if a.dry_run {
            return Ok(());
        }
        let opts = SpinupOptions {
            no_smoke_test: false,
            max_parallel: DEFAULT_MAX_PARALLEL,
            keep_on_failure: false,
        };
        let report = sandbox::apply(&ctx, &prepared, &inputs, configure, &opts).await?;
        emit(global.output, &report, |w| write_lines(w, report.lines()))?;
        match report.spinup.failure() {
            None => Ok(()),
            Some(f) => Err(CliError::failed(f).with_hint(format!(
                "the environment stays; run `asiaq sandbox {}` again to finish the spinup",
                sb.name
            ))),
        }
    })
}

fn destroy(global: &GlobalArgs, sb: &Sandbox, dry_run: bool) -> Result<(), CliError> {
    let keys: Vec<String> = sb.files.iter().map(|f| f.key.clone()).collect();
    aws_session::run(global, |ctx| async move {
        let prepared =
            sandbox::prepare_destroy(&ctx, &sb.name, sb.bucket.as_deref(), &keys).await?;
        if let Some(e) = &prepared.environment {
            environment_type(&sb.name, Some(e.env_type.as_deref()))
                .map_err(|e| CliError::usage(e.to_string()))?;
        }
        let plan = prepared.plan();
        print_plan(global, "sandbox --destroy", &plan, &[], dry_run)?;
        if dry_run || plan.is_empty() {
            if plan.is_empty() && !dry_run {
                eprintln!("sandbox {}: nothing to destroy", sb.name);
            }
            return Ok(());
        }
        let what = match &prepared.environment {
            Some(e) => format!(
                "environment {} ({}, type {})",
                e.name,
                e.vpc_id,
                e.env_type.as_deref().unwrap_or("unknown")
            ),
            None => format!("the files of sandbox {}", sb.name),
        };
        confirm(global, &format!("Spin down and destroy {what}?"))?;
        sandbox::apply_destroy(&ctx, &prepared).await.map_err(|e| {
            CliError::from(e).with_hint(format!(
                "run `asiaq sandbox {} --destroy` again: it starts from what is left",
                sb.name
            ))
        })?;
        emit(
            global.output,
            &serde_json::json!({"name": sb.name, "destroyed": true, "steps": plan.len()}),
            |w| {
                writeln!(
                    w,
                    "sandbox {} has been destroyed ({} step(s))",
                    sb.name,
                    plan.len()
                )
            },
        )
    })
}
