//! `asiaq buckets update --account A` (new; the original's
//! `jenkins/disco_bucket_update.sh REGION ACCOUNT`): create and configure the buckets of
//! `iam/s3/<account>/`, the audit bucket (which the others log into) first.

use std::collections::BTreeMap;
use std::io::Write;

use asiaq_aws::buckets::{self as aws_buckets, Setting};
use asiaq_config::ConfigDir;
use asiaq_core::buckets::{bucket_specs, is_empty_document, substitute, Kind, Vars};
use asiaq_core::json::{strip_trailing_commas, TRAILING_COMMA};
use asiaq_core::plan::buckets::{update_plan, BucketAction};
use asiaq_engine::report as progress;
use serde::Serialize;

use crate::cli::{GlobalArgs, OutputFormat};
use crate::commands::aws_session;
use crate::exit::CliError;
use crate::output::emit;

#[derive(Debug, clap::Subcommand)]
pub enum BucketsCommand {
    /// Create the buckets of iam/s3/ACCOUNT/ that do not exist and apply their lifecycle,
    /// policy, ACL, versioning, website and logging files (default.* when a bucket has none;
    /// an empty file of its own means none of that setting)
    Update {
        /// The directory name under iam/s3/ (an account id or name, e.g. dev, prod, audit)
        #[arg(long, value_name = "ACCOUNT")]
        account: String,
        /// Print the plan and change nothing
        #[arg(long)]
        dry_run: bool,
    },
}

/// One bucket of the account directory, its files parsed.
struct Bucket {
    name: String,
    exists: bool,
    is_audit: bool,
    settings: Vec<(Kind, Setting)>,
}

#[derive(Serialize)]
struct Step {
    bucket: String,
    action: String,
}

pub fn run(global: &GlobalArgs, cmd: &BucketsCommand) -> Result<(), CliError> {
    let BucketsCommand::Update { account, dry_run } = cmd;
    if account.is_empty() || account.contains('/') || account.starts_with('.') {
        return Err(CliError::usage(format!(
            "--account {account:?}: expected a directory name under iam/s3/"
        )));
    }
    let dir = ConfigDir::new(&global.asiaq_config);
    dir.check()?;
    let aws = dir.aws(global.env.as_deref())?;
    let project = aws.project_name()?.text;
    let audit = |key: &str| {
        aws.ini()
            .get("audit", key)
            .map(|v| v.text)
            .unwrap_or_default()
    };
    let (dev_id, prod_id) = (audit("dev_canonical_id"), audit("prod_canonical_id"));
    let account_dir = dir.existing(format!("iam/s3/{account}"))?;
    let mut files: Vec<String> = std::fs::read_dir(&account_dir)
        .map_err(|e| CliError::usage(format!("cannot read {}: {e}", account_dir.display())))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    files.sort();
    aws_session::run(global, |ctx| async move {
        let region = ctx.region().to_string();
        let specs = bucket_specs(&files, &region, &project)
            .map_err(|e| CliError::usage(format!("{}: {e}", account_dir.display())))?;
        let existing = aws_buckets::observe(&ctx).await?;
        let vars = Vars {
            account: account.clone(),
            region: region.clone(),
            project: project.clone(),
            canonical_id: existing.canonical_id.clone(),
            dev_canonical_id: dev_id,
            prod_canonical_id: prod_id,
        };
        // Every file is read, substituted and parsed before the first change.
        let mut problems = Vec::new();
        let mut empty = Vec::new();
        let mut work: Vec<Bucket> = Vec::new();
        for spec in &specs {
            let mut settings = Vec::new();
            for (kind, file) in &spec.files {
                let path = account_dir.join(file);
                let text = match std::fs::read_to_string(&path) {
                    Ok(t) => t,
                    Err(e) => {
                        problems.push(format!("{}: cannot read: {e}", path.display()));
                        continue;
                    }
                };
                if is_empty_document(&text) {
                    empty.push(format!(
                        "{}: no {} ({file} is empty)",
                        spec.name,
                        kind.describe()
                    ));
                    continue;
                }
                let (text, commas) = strip_trailing_commas(&substitute(&text, &vars, &spec.name));
                for line in commas {
                    progress::warn(format!("{}:{line}: {TRAILING_COMMA}", path.display()));
                }
                match aws_buckets::parse(*kind, &text) {
                    Ok(s) => settings.push((*kind, s)),
                    Err(e) => problems.push(format!("{}: {e}", path.display())),
                }
            }
            let exists = existing.buckets.contains(&spec.name);
            work.push(Bucket {
                name: spec.name.clone(),
                exists,
                is_audit: spec.audit,
                settings,
            });
        }
        if !problems.is_empty() {
            return Err(CliError::usage(problems.join("\n")));
        }
        // Buckets elsewhere cannot be configured from this region; logging needs its
        // target in the same region (the script skipped such logging with a message).
        let planned: std::collections::BTreeSet<&str> =
            work.iter().map(|w| w.name.as_str()).collect();
        let mut creates = Vec::new();
        let mut audit_acls = Vec::new();
        let mut loggings: Vec<(&str, &Setting)> = Vec::new();
        let mut others: Vec<(&str, Kind, &Setting)> = Vec::new();
        let mut skipped = empty;
        for Bucket {
            name,
            exists,
            is_audit,
            settings,
        } in &work
        {
            if *exists {
                let r = aws_buckets::bucket_region(&ctx, name).await?;
                if r != region {
                    return Err(CliError::usage(format!(
                        "bucket {name} is in {r}, not {region}; run with --region {r}"
                    )));
                }
            } else {
                creates.push(name.as_str());
            }
            if *is_audit {
                let own = settings.iter().find_map(|(_, s)| match s {
                    Setting::Acl(a) => Some(a),
                    _ => None,
                });
                audit_acls.push((
                    name.as_str(),
                    Setting::Acl(aws_buckets::with_log_delivery(own, &existing.canonical_id)?),
                ));
            }
            for (kind, setting) in settings {
                if *is_audit && *kind == Kind::Acl {
                    continue;
                }
                let Setting::Logging(wanted) = setting else {
                    others.push((name.as_str(), *kind, setting));
                    continue;
                };
                if let Some(target) = setting.log_target() {
                    let same_region = if planned.contains(target) {
                        true
                    } else if existing.buckets.contains(target) {
                        aws_buckets::bucket_region(&ctx, target).await? == region
                    } else {
                        false
                    };
                    if !same_region {
                        skipped.push(format!(
                            "{name}: logging to {target} skipped (the target is not a bucket of {region})"
                        ));
                        continue;
                    }
                }
                // Logging that is already as wanted is left alone: one call fewer per
                // bucket on every run, and no needless change event in CloudTrail.
                if *exists
                    && aws_buckets::logging_matches(
                        wanted,
                        aws_buckets::current_logging(&ctx, name).await?.as_ref(),
                    )
                {
                    continue;
                }
                loggings.push((name.as_str(), setting));
            }
        }
        // The order of the changes: buckets first, then the audit bucket's ACL (S3 accepts
        // logging into a bucket only once the log delivery group may write to it), then the
        // logging of every bucket before any other setting. Bucket policies come after
        // logging because a target bucket's policy is what S3 checks logging against.
        let mut steps = Vec::new();
        let step = |bucket: &str, action: String| Step {
            bucket: bucket.to_string(),
            action,
        };
        steps.extend(creates.iter().map(|b| step(b, "create".into())));
        steps.extend(audit_acls.iter().map(|(b, _)| {
            step(
                b,
                "put ACL (with write and read-ACP for log delivery)".into(),
            )
        }));
        steps.extend(
            loggings
                .iter()
                .map(|(b, _)| step(b, format!("put {}", Kind::Logging.describe()))),
        );
        steps.extend(
            others
                .iter()
                .map(|(b, kind, _)| step(b, format!("put {}", kind.describe()))),
        );
        // The same plan is printed (JSON dry run) and applied, stage after stage.
        let put = |b: &str, kind: Kind| BucketAction::PutSetting {
            bucket: b.to_string(),
            setting: kind.describe().to_string(),
        };
        let plan = update_plan(vec![
            creates
                .iter()
                .map(|b| BucketAction::CreateBucket {
                    bucket: b.to_string(),
                })
                .collect(),
            audit_acls
                .iter()
                .map(|(b, _)| BucketAction::PutAuditAcl {
                    bucket: b.to_string(),
                })
                .collect(),
            loggings
                .iter()
                .map(|(b, _)| put(b, Kind::Logging))
                .collect(),
            others.iter().map(|(b, kind, _)| put(b, *kind)).collect(),
        ]);
        if *dry_run && global.output == OutputFormat::Json {
            return crate::output::print_plan(global, "buckets update", &plan, &skipped, true);
        }
        if !*dry_run {
            let mut settings: BTreeMap<(String, String), Setting> = BTreeMap::new();
            for (name, acl) in &audit_acls {
                settings.insert(
                    (name.to_string(), Kind::Acl.describe().to_string()),
                    (*acl).clone(),
                );
            }
            for (name, setting) in &loggings {
                settings.insert(
                    (name.to_string(), Kind::Logging.describe().to_string()),
                    (*setting).clone(),
                );
            }
            for (name, kind, setting) in &others {
                settings.insert(
                    (name.to_string(), kind.describe().to_string()),
                    (*setting).clone(),
                );
            }
            aws_buckets::apply_plan(&ctx, &plan, &settings).await?;
        }
        #[derive(Serialize)]
        struct Report<'a> {
            account: &'a str,
            dry_run: bool,
            steps: &'a [Step],
            skipped: &'a [String],
        }
        emit(
            global.output,
            &Report {
                account,
                dry_run: *dry_run,
                steps: &steps,
                skipped: &skipped,
            },
            |out: &mut dyn Write| {
                for s in &steps {
                    writeln!(out, "{} {}", s.bucket, s.action)?;
                }
                for s in &skipped {
                    writeln!(out, "note: {s}")?;
                }
                Ok(())
            },
        )
    })
}
