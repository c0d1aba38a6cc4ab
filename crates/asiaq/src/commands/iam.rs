//! `asiaq iam` (disco_iam.py): sync IAM with the `iam/` tree, list groups, users, keys,
//! roles and providers, and manage access keys.

use asiaq_aws::iam as aws_iam;
use asiaq_aws::saml;
use asiaq_config::iam_tree::desired_state;
use asiaq_config::ConfigDir;
use asiaq_core::iam::{policy_timestamp, text};
use asiaq_core::printout::Printout;

use crate::cli::GlobalArgs;
use crate::commands::aws_session;
use crate::exit::CliError;
use crate::output::{emit, print, write_lines};

#[derive(Debug, clap::Subcommand)]
pub enum IamCommand {
    /// Sync groups, roles, instance profiles, users and the SAML provider with iam/ for an
    /// IAM environment (an account type such as dev or prod): --environment ENV
    Update {
        /// Print the plan and change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// List IAM groups
    Listgroups,
    /// List the inline policies of a group
    Listgrouppolicies {
        #[arg(long = "group_name", alias = "group-name", value_name = "GROUP")]
        group_name: String,
    },
    /// Print an inline policy of a group
    Getgrouppolicy {
        #[arg(long = "group_name", alias = "group-name", value_name = "GROUP")]
        group_name: String,
        #[arg(long = "policy_name", alias = "policy-name", value_name = "POLICY")]
        policy_name: String,
    },
    /// List users with their groups
    Listusers,
    /// List the groups of a user
    Listusergroups {
        #[arg(long = "user_name", alias = "user-name", value_name = "USER")]
        user_name: String,
    },
    /// List the access keys of a user
    Listkeys {
        #[arg(long = "user_name", alias = "user-name", value_name = "USER")]
        user_name: String,
    },
    /// Create an access key for a user and print it (the only command that prints a secret key)
    Createkey {
        #[arg(long = "user_name", alias = "user-name", value_name = "USER")]
        user_name: String,
        /// Say what would be done and do nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Delete an access key of a user
    Removekey(KeyArgs),
    /// Activate an access key of a user
    Activatekey(KeyArgs),
    /// Deactivate an access key of a user
    Deactivatekey(KeyArgs),
    /// List instance profiles
    Listinstanceprofiles,
    /// List roles, optionally with whether they are federated
    Listroles {
        /// Append "federated" or "unfederated" to each role
        #[arg(long)]
        federation: bool,
    },
    /// List the inline policies of a role
    Listrolepolicies {
        #[arg(long = "role_name", alias = "role-name", value_name = "ROLE")]
        role_name: String,
    },
    /// Decode an encoded authorization failure message (STS)
    Decode {
        #[arg(long, value_name = "MESSAGE")]
        message: String,
    },
    /// List SAML providers
    Listproviders,
}

#[derive(Debug, clap::Args)]
pub struct KeyArgs {
    #[arg(long = "user_name", alias = "user-name", value_name = "USER")]
    pub user_name: String,
    #[arg(long = "access_key_id", alias = "access-key-id", value_name = "KEY")]
    pub access_key_id: String,
    /// Say what would be done and do nothing
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(global: &GlobalArgs, cmd: &IamCommand) -> Result<(), CliError> {
    match cmd {
        IamCommand::Update { dry_run } => update(global, *dry_run),
        IamCommand::Listgroups => names(
            global,
            |ctx| async move { aws_iam::list_groups(&ctx).await },
        ),
        IamCommand::Listgrouppolicies { group_name } => names(global, |ctx| async move {
            aws_iam::list_group_policies(&ctx, group_name).await
        }),
        IamCommand::Getgrouppolicy {
            group_name,
            policy_name,
        } => aws_session::run(global, |ctx| async move {
            let doc = aws_iam::get_group_policy(&ctx, group_name, policy_name).await?;
            print(global, text::policy_document(&doc))
        }),
        IamCommand::Listusers => aws_session::run(global, |ctx| async move {
            let users = aws_iam::list_users(&ctx).await?;
            let lines = aws_iam::user_lines(&users);
            emit(global.output, &users, |out| write_lines(out, lines))
        }),
        IamCommand::Listusergroups { user_name } => names(global, |ctx| async move {
            aws_iam::list_user_groups(&ctx, user_name).await
        }),
        IamCommand::Listkeys { user_name } => aws_session::run(global, |ctx| async move {
            let keys = aws_iam::list_access_keys(&ctx, user_name).await?;
            let lines = keys.iter().map(aws_iam::AccessKeyInfo::line).collect();
            emit(global.output, &keys, |out| write_lines(out, lines))
        }),
        IamCommand::Createkey { user_name, dry_run } => {
            if *dry_run {
                let would = format!("would create an access key for user {user_name}");
                return print(global, text::dry_run(&would));
            }
            aws_session::run(global, |ctx| async move {
                let (id, secret) = aws_iam::create_access_key(&ctx, user_name).await?;
                print(global, text::created_key(user_name, &id, secret.expose()))
            })
        }
        IamCommand::Removekey(k) => key_change(global, k, "delete", |ctx, u, id| async move {
            aws_iam::delete_access_key(&ctx, &u, &id).await
        }),
        IamCommand::Activatekey(k) => key_change(global, k, "activate", |ctx, u, id| async move {
            aws_iam::set_access_key_active(&ctx, &u, &id, true).await
        }),
        IamCommand::Deactivatekey(k) => {
            key_change(global, k, "deactivate", |ctx, u, id| async move {
                aws_iam::set_access_key_active(&ctx, &u, &id, false).await
            })
        }
        IamCommand::Listinstanceprofiles => names(global, |ctx| async move {
            aws_iam::list_instance_profiles(&ctx).await
        }),
        IamCommand::Listroles { federation } => aws_session::run(global, |ctx| async move {
            let roles = aws_iam::list_roles(&ctx).await?;
            let lines = roles.iter().map(|r| r.line(*federation)).collect();
            emit(global.output, &roles, |out| write_lines(out, lines))
        }),
        IamCommand::Listrolepolicies { role_name } => names(global, |ctx| async move {
            aws_iam::list_role_policies(&ctx, role_name).await
        }),
        IamCommand::Decode { message } => aws_session::run(global, |ctx| async move {
            let decoded = aws_iam::decode_message(&ctx, message).await?;
            print(global, text::decoded_message(&decoded))
        }),
        IamCommand::Listproviders => names(global, |ctx| async move {
            aws_iam::list_saml_providers(&ctx).await
        }),
    }
}

/// A listing of names, one per line (JSON: an array).
fn names<F, Fut>(global: &GlobalArgs, list: F) -> Result<(), CliError>
where
    F: FnOnce(std::sync::Arc<asiaq_aws::AwsContext>) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<String>, asiaq_aws::AwsError>>,
{
    aws_session::run(global, |ctx| async move {
        let names = list(ctx).await?;
        print(global, Printout::names(&names))
    })
}

fn key_change<F, Fut>(global: &GlobalArgs, k: &KeyArgs, verb: &str, f: F) -> Result<(), CliError>
where
    F: FnOnce(std::sync::Arc<asiaq_aws::AwsContext>, String, String) -> Fut,
    Fut: std::future::Future<Output = Result<(), asiaq_aws::AwsError>>,
{
    let what = text::key_change(verb, &k.access_key_id, &k.user_name);
    if k.dry_run {
        return print(global, text::dry_run(&format!("would {what}")));
    }
    aws_session::run(global, |ctx| async move {
        f(ctx, k.user_name.clone(), k.access_key_id.clone()).await?;
        asiaq_engine::report::note(format!("done: {what}"));
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------
// iam update
// ---------------------------------------------------------------------------------------

pub fn now_timestamp() -> String {
    let now = jiff::Timestamp::now();
    policy_timestamp(now.as_second(), now.subsec_microsecond().unsigned_abs())
}

fn update(global: &GlobalArgs, dry_run: bool) -> Result<(), CliError> {
    let env = text::update_environment(global.env.as_deref())?;
    let dir = ConfigDir::new(&global.asiaq_config);
    dir.check()?;
    let aws = dir.aws(Some(env))?;
    let mut warnings = Vec::new();
    let desired = desired_state(&dir.path("iam"), &aws, env, &mut warnings);
    for w in warnings {
        asiaq_engine::report::warn(w.located());
    }
    let (desired, saml_url) = desired?;
    if let Some(url) = &saml_url {
        saml::check_url(url)
            .map_err(|e| CliError::usage(format!("{}: [iam] {e}", aws.ini().path().display())))?;
    }
    aws_session::run(global, |ctx| async move {
        let plan =
            aws_iam::plan_update(&ctx, desired, saml_url.as_deref(), &now_timestamp()).await?;
        if dry_run {
            // The one plan printer (text, or the asiaq.plan/1 JSON document).
            return crate::output::print_plan(
                global,
                "iam update",
                &plan.to_plan(),
                &plan.notes,
                true,
            );
        }
        if plan.is_empty() {
            return print(global, text::update_report(env, &plan, 0));
        }
        asiaq_engine::report::note(format!(
            "applying {} change(s) to IAM for environment {env}",
            plan.actions.len()
        ));
        let report = aws_iam::apply(&ctx, &plan)
            .await
            .map_err(text::sync_stopped)?;
        print(global, text::update_report(env, &plan, report.applied))
    })
}
