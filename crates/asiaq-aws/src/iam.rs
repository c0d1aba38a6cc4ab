//! IAM: observe the account for `iam update`, apply its plan, and the listing and access-key
//! commands of `asiaq iam`.
//!
//! Observation is scoped to what the plan needs: inline policy documents only of the
//! configured groups and roles, tags only of the roles and users whose ownership the name
//! alone does not decide. Independent calls run concurrently with a bound.

use std::collections::BTreeMap;
use std::time::Duration;

use asiaq_core::iam::{
    is_federated, render_document, Desired, IamAction, IamPlan, NameOwnership, Observed,
    ObservedGroup, ObservedRole, ObservedSamlProvider, ObservedUser, MANAGED_TAG_KEY,
    MANAGED_TAG_VALUE,
};
use asiaq_core::secret::Secret;
use aws_sdk_iam::types::{StatusType, Tag};
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use serde_json::Value;

use crate::context::AwsContext;
use crate::error::AwsError;
use crate::wait::{wait_for, Backoff, Poll};
use asiaq_engine::{report, Apply, ExecOptions};

/// How many IAM calls run at once.
const CONCURRENCY: usize = 6;

fn err<E>(operation: &'static str) -> impl FnOnce(crate::error::CallError<E>) -> AwsError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    move |e| AwsError::call("iam", operation, e)
}

/// A policy document as IAM returns it: URL-encoded JSON (moto returns it plain).
pub fn decode_document(text: &str) -> Value {
    serde_json::from_str(text)
        .or_else(|_| {
            let decoded = percent_encoding::percent_decode_str(text).decode_utf8_lossy();
            serde_json::from_str(&decoded)
        })
        .unwrap_or(Value::Null)
}

/// The same, as text (for `getgrouppolicy`).
pub fn decode_document_text(text: &str) -> String {
    if serde_json::from_str::<Value>(text).is_ok() {
        text.to_string()
    } else {
        percent_encoding::percent_decode_str(text)
            .decode_utf8_lossy()
            .into_owned()
    }
}

fn managed_tag() -> Result<Tag, AwsError> {
    AwsError::built(
        "the managed-by tag",
        Tag::builder()
            .key(MANAGED_TAG_KEY)
            .value(MANAGED_TAG_VALUE)
            .build(),
    )
}

fn is_managed(tags: &[Tag]) -> bool {
    tags.iter()
        .any(|t| t.key() == MANAGED_TAG_KEY && t.value() == MANAGED_TAG_VALUE)
}

/// Runs `f` over `items` with bounded concurrency, keeping the input order.
async fn bounded<I, T, F, Fut>(items: I, f: F) -> Result<Vec<T>, AwsError>
where
    I: IntoIterator,
    F: FnMut(I::Item) -> Fut,
    Fut: std::future::Future<Output = Result<T, AwsError>>,
{
    futures::stream::iter(items)
        .map(f)
        .buffered(CONCURRENCY)
        .try_collect()
        .await
}

/// `arn:<partition>:iam::<account>` of the caller.
pub async fn arn_prefix(ctx: &AwsContext) -> Result<String, AwsError> {
    let id = ctx
        .sts()
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| AwsError::call("sts", "GetCallerIdentity", e))?;
    let arn = id.arn().unwrap_or_default();
    let partition = arn
        .split(':')
        .nth(1)
        .filter(|p| !p.is_empty())
        .unwrap_or("aws");
    let account = id.account().ok_or(AwsError::MissingField {
        service: "sts",
        operation: "GetCallerIdentity",
        field: "Account",
    })?;
    Ok(format!("arn:{partition}:iam::{account}"))
}

/// Why `iam update` could not make its plan.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The SAML provider's metadata could not be had.
    #[error(transparent)]
    Saml(#[from] crate::saml::SamlMetadataError),
    #[error(transparent)]
    Aws(#[from] AwsError),
}

/// The plan of `iam update`: fetches the SAML provider's metadata from `saml_url` (when
/// set) into `desired`, observes IAM, and plans with `now` as the policies' timestamp.
pub async fn plan_update(
    ctx: &AwsContext,
    mut desired: Desired,
    saml_url: Option<&str>,
    now: &str,
) -> Result<IamPlan, PlanError> {
    if let Some(url) = saml_url {
        let metadata = crate::saml::fetch_metadata(url).await?;
        if let Some(s) = desired.saml.as_mut() {
            s.metadata = metadata;
        }
    }
    let observed = observe(ctx, &desired).await?;
    Ok(asiaq_core::iam::plan(&desired, &observed, now))
}

/// Reads what `desired`'s plan depends on.
pub async fn observe(ctx: &AwsContext, desired: &Desired) -> Result<Observed, AwsError> {
    let iam = ctx.iam();
    let (prefix, providers, groups, roles, users, profiles) = futures::try_join!(
        arn_prefix(ctx),
        async {
            iam.list_saml_providers()
                .send()
                .await
                .map_err(err("ListSAMLProviders"))
        },
        async {
            iam.list_groups()
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(err("ListGroups"))
        },
        async {
            iam.list_roles()
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(err("ListRoles"))
        },
        async {
            iam.list_users()
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(err("ListUsers"))
        },
        async {
            iam.list_instance_profiles()
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(err("ListInstanceProfiles"))
        },
    )?;

    let mut observed = Observed {
        arn_prefix: prefix,
        ..Observed::default()
    };
    let wanted_provider = desired.saml.as_ref().map(|s| s.name.as_str());
    for p in providers.saml_provider_list() {
        let Some(arn) = p.arn() else { continue };
        let mut provider = ObservedSamlProvider {
            arn: arn.to_string(),
            metadata: None,
        };
        if Some(provider.name()) == wanted_provider {
            let got = iam
                .get_saml_provider()
                .saml_provider_arn(arn)
                .send()
                .await
                .map_err(err("GetSAMLProvider"))?;
            provider.metadata = got.saml_metadata_document().map(str::to_string);
        }
        observed.saml_providers.push(provider);
    }

    // Groups: members and policies of the configured ones.
    let wanted_groups = desired.groups();
    let group_names: Vec<String> = groups.iter().map(|g| g.group_name().to_string()).collect();
    let details = bounded(group_names.iter().cloned(), |g| {
        let wanted = wanted_groups.contains_key(&g);
        async move {
            if !wanted {
                return Ok((g, ObservedGroup::default()));
            }
            let (members, policies) = futures::try_join!(
                async {
                    iam.get_group()
                        .group_name(&g)
                        .into_paginator()
                        .items()
                        .send()
                        .try_collect()
                        .await
                        .map_err(err("GetGroup"))
                },
                group_policies(ctx, &g)
            )?;
            let members = members.iter().map(|u| u.user_name().to_string()).collect();
            Ok((g, ObservedGroup { members, policies }))
        }
    })
    .await?;
    observed.groups = details.into_iter().collect();

    // Roles: policies of the configured ones, tags of the ones only tags can claim.
    let wanted_roles = desired.role_names();
    let role_details = bounded(roles, |r| {
        let name = r.role_name().to_string();
        let wanted = wanted_roles.contains(&name);
        let by_tag = desired.options.role_ownership(&name, r.path()) == NameOwnership::ByTag;
        async move {
            let trust = decode_document(r.assume_role_policy_document().unwrap_or("null"));
            let policies = if wanted {
                role_policies(ctx, &name).await?
            } else {
                BTreeMap::new()
            };
            let managed = if !wanted && by_tag {
                let tags = iam
                    .list_role_tags()
                    .role_name(&name)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(err("ListRoleTags"))?;
                is_managed(&tags)
            } else {
                false
            };
            Ok((
                name,
                ObservedRole {
                    path: r.path().to_string(),
                    trust,
                    policies,
                    managed,
                },
            ))
        }
    })
    .await?;
    observed.roles = role_details.into_iter().collect();

    for p in &profiles {
        observed.instance_profiles.insert(
            p.instance_profile_name().to_string(),
            p.roles()
                .iter()
                .map(|r| r.role_name().to_string())
                .collect(),
        );
    }

    // Users: tags of the ones not in the configuration (candidates for deletion).
    let wanted_users = desired.users();
    let manage_users = desired.membership.is_some();
    let user_details = bounded(users, |u| {
        let name = u.user_name().to_string();
        let check = manage_users && !wanted_users.contains(&name);
        async move {
            let managed = if check {
                let tags = iam
                    .list_user_tags()
                    .user_name(&name)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(err("ListUserTags"))?;
                is_managed(&tags)
            } else {
                false
            };
            Ok((name, ObservedUser { managed }))
        }
    })
    .await?;
    observed.users = user_details.into_iter().collect();
    Ok(observed)
}

async fn group_policies(
    ctx: &AwsContext,
    group: &str,
) -> Result<BTreeMap<String, Value>, AwsError> {
    let iam = ctx.iam();
    let names: Vec<String> = iam
        .list_group_policies()
        .group_name(group)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(err("ListGroupPolicies"))?;
    let docs = bounded(names, |name| async move {
        let out = iam
            .get_group_policy()
            .group_name(group)
            .policy_name(&name)
            .send()
            .await
            .map_err(err("GetGroupPolicy"))?;
        Ok((name, decode_document(out.policy_document())))
    })
    .await?;
    Ok(docs.into_iter().collect())
}

async fn role_policies(ctx: &AwsContext, role: &str) -> Result<BTreeMap<String, Value>, AwsError> {
    let iam = ctx.iam();
    let names: Vec<String> = iam
        .list_role_policies()
        .role_name(role)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(err("ListRolePolicies"))?;
    let docs = bounded(names, |name| async move {
        let out = iam
            .get_role_policy()
            .role_name(role)
            .policy_name(&name)
            .send()
            .await
            .map_err(err("GetRolePolicy"))?;
        Ok((name, decode_document(out.policy_document())))
    })
    .await?;
    Ok(docs.into_iter().collect())
}

/// Treats "does not exist" as done (deletions are re-runnable and may race each other).
fn ignore_missing(result: Result<(), AwsError>) -> Result<(), AwsError> {
    match result {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

/// Retries an action that depends on something just created while IAM's eventual
/// consistency still answers "not found" (up to 30 s, scaled by `ASIAQ_WAIT_SCALE`).
async fn after_create<F, Fut>(what: &str, mut f: F) -> Result<(), AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), AwsError>>,
{
    let backoff = Backoff::new(
        Duration::from_secs(1),
        Duration::from_secs(5),
        Duration::from_secs(30),
    );
    wait_for(what, backoff, || {
        let attempt = f();
        async move {
            match attempt.await {
                Ok(()) => Ok(Poll::Ready(())),
                Err(e) if e.is_not_found() => Ok(Poll::Pending(e.to_string())),
                Err(e) => Err(e),
            }
        }
    })
    .await
}

/// What `apply` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ApplyReport {
    pub applied: usize,
}

/// The IAM calls of a sync, for the plan/apply engine.
struct IamSteps<'a> {
    ctx: &'a AwsContext,
}

impl Apply<IamAction> for IamSteps<'_> {
    type Error = AwsError;

    async fn apply(&self, action: &IamAction) -> Result<Option<String>, AwsError> {
        apply_one(self.ctx, action).await.map(|()| None)
    }

    fn unresolved(&self, action: &IamAction, key: &str) -> AwsError {
        AwsError::State(format!("{action}: nothing created {key}"))
    }
}

/// Runs the plan through the engine, stage after stage (see [`IamPlan::to_plan`]), up to
/// six calls at once. A user or group just created that IAM does not show yet is waited
/// for; throttling is sent again. Stops at the first failure: everything done so far stays
/// done, and running the sync again finishes the job, since it plans from what exists.
pub async fn apply(ctx: &AwsContext, plan: &IamPlan) -> Result<ApplyReport, AwsError> {
    let options = ExecOptions {
        max_in_flight: CONCURRENCY,
        retry: crate::vpc::execute::retry_policy(),
        title: "iam update".to_string(),
    };
    let reporter = report::current();
    match asiaq_engine::execute(
        &IamSteps { ctx },
        &plan.to_plan(),
        &options,
        reporter.as_ref(),
    )
    .await
    {
        Ok(done) => Ok(ApplyReport {
            applied: done.steps_done,
        }),
        Err(failure) => Err(failure.error),
    }
}

async fn apply_one(ctx: &AwsContext, action: &IamAction) -> Result<(), AwsError> {
    let iam = ctx.iam();
    match action {
        IamAction::CreateSamlProvider { name, metadata } => iam
            .create_saml_provider()
            .name(name)
            .saml_metadata_document(metadata)
            .tags(managed_tag()?)
            .send()
            .await
            .map(drop)
            .map_err(err("CreateSAMLProvider")),
        IamAction::UpdateSamlProvider { arn, metadata } => iam
            .update_saml_provider()
            .saml_provider_arn(arn)
            .saml_metadata_document(metadata)
            .send()
            .await
            .map(drop)
            .map_err(err("UpdateSAMLProvider")),
        IamAction::DeleteSamlProvider { arn } => ignore_missing(
            iam.delete_saml_provider()
                .saml_provider_arn(arn)
                .send()
                .await
                .map(drop)
                .map_err(err("DeleteSAMLProvider")),
        ),
        IamAction::CreateUser { name } => iam
            .create_user()
            .user_name(name)
            .tags(managed_tag()?)
            .send()
            .await
            .map(drop)
            .map_err(err("CreateUser")),
        IamAction::CreateGroup { name } => iam
            .create_group()
            .group_name(name)
            .send()
            .await
            .map(drop)
            .map_err(err("CreateGroup")),
        IamAction::PutGroupPolicy {
            group,
            policy_name,
            document,
        } => {
            after_create(&format!("group {group} to exist"), || async move {
                iam.put_group_policy()
                    .group_name(group)
                    .policy_name(policy_name)
                    .policy_document(render_document(document))
                    .send()
                    .await
                    .map(drop)
                    .map_err(err("PutGroupPolicy"))
            })
            .await
        }
        IamAction::DeleteGroupPolicy { group, policy_name } => ignore_missing(
            iam.delete_group_policy()
                .group_name(group)
                .policy_name(policy_name)
                .send()
                .await
                .map(drop)
                .map_err(err("DeleteGroupPolicy")),
        ),
        IamAction::CreateRole { name, trust, .. } => iam
            .create_role()
            .role_name(name)
            .assume_role_policy_document(render_document(trust))
            .tags(managed_tag()?)
            .send()
            .await
            .map(drop)
            .map_err(err("CreateRole")),
        IamAction::UpdateAssumeRolePolicy { role, trust, .. } => iam
            .update_assume_role_policy()
            .role_name(role)
            .policy_document(render_document(trust))
            .send()
            .await
            .map(drop)
            .map_err(err("UpdateAssumeRolePolicy")),
        IamAction::PutRolePolicy {
            role,
            policy_name,
            document,
        } => {
            after_create(&format!("role {role} to exist"), || async move {
                iam.put_role_policy()
                    .role_name(role)
                    .policy_name(policy_name)
                    .policy_document(render_document(document))
                    .send()
                    .await
                    .map(drop)
                    .map_err(err("PutRolePolicy"))
            })
            .await
        }
        IamAction::DeleteRolePolicy { role, policy_name } => ignore_missing(
            iam.delete_role_policy()
                .role_name(role)
                .policy_name(policy_name)
                .send()
                .await
                .map(drop)
                .map_err(err("DeleteRolePolicy")),
        ),
        IamAction::CreateInstanceProfile { name } => iam
            .create_instance_profile()
            .instance_profile_name(name)
            .tags(managed_tag()?)
            .send()
            .await
            .map(drop)
            .map_err(err("CreateInstanceProfile")),
        IamAction::RemoveRoleFromInstanceProfile { profile, role } => ignore_missing(
            iam.remove_role_from_instance_profile()
                .instance_profile_name(profile)
                .role_name(role)
                .send()
                .await
                .map(drop)
                .map_err(err("RemoveRoleFromInstanceProfile")),
        ),
        IamAction::AddRoleToInstanceProfile { profile, role } => {
            after_create(
                &format!("role {role} and instance profile {profile} to exist"),
                || async move {
                    iam.add_role_to_instance_profile()
                        .instance_profile_name(profile)
                        .role_name(role)
                        .send()
                        .await
                        .map(drop)
                        .map_err(err("AddRoleToInstanceProfile"))
                },
            )
            .await
        }
        IamAction::AddUserToGroup { group, user } => {
            after_create(
                &format!("user {user} and group {group} to exist"),
                || async move {
                    iam.add_user_to_group()
                        .group_name(group)
                        .user_name(user)
                        .send()
                        .await
                        .map(drop)
                        .map_err(err("AddUserToGroup"))
                },
            )
            .await
        }
        IamAction::RemoveUserFromGroup { group, user } => ignore_missing(
            iam.remove_user_from_group()
                .group_name(group)
                .user_name(user)
                .send()
                .await
                .map(drop)
                .map_err(err("RemoveUserFromGroup")),
        ),
        IamAction::DeleteRole { name, .. } => delete_role(ctx, name).await,
        IamAction::DeleteGroup { name } => delete_group(ctx, name).await,
        IamAction::DeleteUser { name } => delete_user(ctx, name).await,
    }
}

/// Deletes a role after its inline and attached policies, removing it from its instance
/// profiles and deleting those (the original's `removerole`).
pub async fn delete_role(ctx: &AwsContext, name: &str) -> Result<(), AwsError> {
    let iam = ctx.iam();
    let (inline, attached, profiles) = futures::try_join!(
        async {
            iam.list_role_policies()
                .role_name(name)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(err("ListRolePolicies"))
        },
        async {
            iam.list_attached_role_policies()
                .role_name(name)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(err("ListAttachedRolePolicies"))
        },
        async {
            iam.list_instance_profiles_for_role()
                .role_name(name)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(err("ListInstanceProfilesForRole"))
        },
    )
    .or_else(|e| {
        if e.is_not_found() {
            Ok(Default::default())
        } else {
            Err(e)
        }
    })?;
    for p in inline {
        ignore_missing(
            iam.delete_role_policy()
                .role_name(name)
                .policy_name(p)
                .send()
                .await
                .map(drop)
                .map_err(err("DeleteRolePolicy")),
        )?;
    }
    for p in attached {
        if let Some(arn) = p.policy_arn() {
            ignore_missing(
                iam.detach_role_policy()
                    .role_name(name)
                    .policy_arn(arn)
                    .send()
                    .await
                    .map(drop)
                    .map_err(err("DetachRolePolicy")),
            )?;
        }
    }
    for p in profiles {
        let profile = p.instance_profile_name();
        ignore_missing(
            iam.remove_role_from_instance_profile()
                .instance_profile_name(profile)
                .role_name(name)
                .send()
                .await
                .map(drop)
                .map_err(err("RemoveRoleFromInstanceProfile")),
        )?;
        ignore_missing(
            iam.delete_instance_profile()
                .instance_profile_name(profile)
                .send()
                .await
                .map(drop)
                .map_err(err("DeleteInstanceProfile")),
        )?;
    }
    ignore_missing(
        iam.delete_role()
            .role_name(name)
            .send()
            .await
            .map(drop)
            .map_err(err("DeleteRole")),
    )
}

/// Deletes a group after removing its members and its inline and attached policies.
pub async fn delete_group(ctx: &AwsContext, name: &str) -> Result<(), AwsError> {
    let iam = ctx.iam();
    let (members, inline, attached) = futures::try_join!(
        async {
            iam.get_group()
                .group_name(name)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(err("GetGroup"))
        },
        async {
            iam.list_group_policies()
                .group_name(name)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(err("ListGroupPolicies"))
        },
        async {
            iam.list_attached_group_policies()
                .group_name(name)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(err("ListAttachedGroupPolicies"))
        },
    )
    .or_else(|e| {
        if e.is_not_found() {
            Ok(Default::default())
        } else {
            Err(e)
        }
    })?;
    for u in members {
        ignore_missing(
            iam.remove_user_from_group()
                .group_name(name)
                .user_name(u.user_name())
                .send()
                .await
                .map(drop)
                .map_err(err("RemoveUserFromGroup")),
        )?;
    }
    for p in inline {
        ignore_missing(
            iam.delete_group_policy()
                .group_name(name)
                .policy_name(p)
                .send()
                .await
                .map(drop)
                .map_err(err("DeleteGroupPolicy")),
        )?;
    }
    for p in attached {
        if let Some(arn) = p.policy_arn() {
            ignore_missing(
                iam.detach_group_policy()
                    .group_name(name)
                    .policy_arn(arn)
                    .send()
                    .await
                    .map(drop)
                    .map_err(err("DetachGroupPolicy")),
            )?;
        }
    }
    ignore_missing(
        iam.delete_group()
            .group_name(name)
            .send()
            .await
            .map(drop)
            .map_err(err("DeleteGroup")),
    )
}

/// Deletes a user after everything IAM requires gone first: access keys, login profile,
/// inline and attached policies, group memberships, MFA devices, signing certificates and
/// SSH public keys.
pub async fn delete_user(ctx: &AwsContext, name: &str) -> Result<(), AwsError> {
    let iam = ctx.iam();
    let listed = futures::try_join!(
        async {
            iam.list_access_keys()
                .user_name(name)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(err("ListAccessKeys"))
        },
        async {
            iam.list_user_policies()
                .user_name(name)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(err("ListUserPolicies"))
        },
        async {
            iam.list_attached_user_policies()
                .user_name(name)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(err("ListAttachedUserPolicies"))
        },
        async {
            iam.list_groups_for_user()
                .user_name(name)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(err("ListGroupsForUser"))
        },
        async {
            iam.list_mfa_devices()
                .user_name(name)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(err("ListMFADevices"))
        },
        async {
            iam.list_signing_certificates()
                .user_name(name)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(err("ListSigningCertificates"))
        },
        async {
            iam.list_ssh_public_keys()
                .user_name(name)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(err("ListSSHPublicKeys"))
        },
    );
    let (keys, inline, attached, groups, mfas, certs, ssh_keys) = match listed {
        Ok(l) => l,
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e),
    };
    for k in keys {
        if let Some(id) = k.access_key_id() {
            ignore_missing(
                iam.delete_access_key()
                    .user_name(name)
                    .access_key_id(id)
                    .send()
                    .await
                    .map(drop)
                    .map_err(err("DeleteAccessKey")),
            )?;
        }
    }
    ignore_missing(
        iam.delete_login_profile()
            .user_name(name)
            .send()
            .await
            .map(drop)
            .map_err(err("DeleteLoginProfile")),
    )?;
    for p in inline {
        ignore_missing(
            iam.delete_user_policy()
                .user_name(name)
                .policy_name(p)
                .send()
                .await
                .map(drop)
                .map_err(err("DeleteUserPolicy")),
        )?;
    }
    for p in attached {
        if let Some(arn) = p.policy_arn() {
            ignore_missing(
                iam.detach_user_policy()
                    .user_name(name)
                    .policy_arn(arn)
                    .send()
                    .await
                    .map(drop)
                    .map_err(err("DetachUserPolicy")),
            )?;
        }
    }
    for g in groups {
        ignore_missing(
            iam.remove_user_from_group()
                .group_name(g.group_name())
                .user_name(name)
                .send()
                .await
                .map(drop)
                .map_err(err("RemoveUserFromGroup")),
        )?;
    }
    for m in mfas {
        ignore_missing(
            iam.deactivate_mfa_device()
                .user_name(name)
                .serial_number(m.serial_number())
                .send()
                .await
                .map(drop)
                .map_err(err("DeactivateMFADevice")),
        )?;
    }
    for c in certs {
        ignore_missing(
            iam.delete_signing_certificate()
                .user_name(name)
                .certificate_id(c.certificate_id())
                .send()
                .await
                .map(drop)
                .map_err(err("DeleteSigningCertificate")),
        )?;
    }
    for k in ssh_keys {
        ignore_missing(
            iam.delete_ssh_public_key()
                .user_name(name)
                .ssh_public_key_id(k.ssh_public_key_id())
                .send()
                .await
                .map(drop)
                .map_err(err("DeleteSSHPublicKey")),
        )?;
    }
    ignore_missing(
        iam.delete_user()
            .user_name(name)
            .send()
            .await
            .map(drop)
            .map_err(err("DeleteUser")),
    )
}

// ---------------------------------------------------------------------------------------
// Listing and key commands
// ---------------------------------------------------------------------------------------

/// Every IAM group name, sorted.
pub async fn list_groups(ctx: &AwsContext) -> Result<Vec<String>, AwsError> {
    let groups: Vec<_> = ctx
        .iam()
        .list_groups()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(err("ListGroups"))?;
    let mut names: Vec<String> = groups.iter().map(|g| g.group_name().to_string()).collect();
    names.sort();
    Ok(names)
}

/// Inline policy names of a group, sorted.
pub async fn list_group_policies(ctx: &AwsContext, group: &str) -> Result<Vec<String>, AwsError> {
    let mut names: Vec<String> = ctx
        .iam()
        .list_group_policies()
        .group_name(group)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(err("ListGroupPolicies"))?;
    names.sort();
    Ok(names)
}

/// One inline policy of a group, URL-decoded.
pub async fn get_group_policy(
    ctx: &AwsContext,
    group: &str,
    policy: &str,
) -> Result<String, AwsError> {
    let out = ctx
        .iam()
        .get_group_policy()
        .group_name(group)
        .policy_name(policy)
        .send()
        .await
        .map_err(err("GetGroupPolicy"))?;
    Ok(decode_document_text(out.policy_document()))
}

/// A user and the groups it is in.
#[derive(Debug, Clone, Serialize)]
pub struct UserGroups {
    pub user: String,
    pub groups: Vec<String>,
}

/// The lines of `iam listusers`: each user, padded to the longest name, then its groups
/// (comma-separated).
pub fn user_lines(users: &[UserGroups]) -> Vec<String> {
    let width = users.iter().map(|u| u.user.len()).max().unwrap_or(0);
    users
        .iter()
        .map(|u| format!("{:<width$} {}", u.user, u.groups.join(",")))
        .collect()
}

/// Every user with its groups, both sorted by name.
pub async fn list_users(ctx: &AwsContext) -> Result<Vec<UserGroups>, AwsError> {
    let users: Vec<_> = ctx
        .iam()
        .list_users()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(err("ListUsers"))?;
    bounded(users, |u| async move {
        let user = u.user_name().to_string();
        let groups = list_user_groups(ctx, &user).await?;
        Ok(UserGroups { user, groups })
    })
    .await
    .map(|mut users| {
        users.sort_by(|a, b| a.user.cmp(&b.user));
        users
    })
}

/// The groups of a user, sorted.
pub async fn list_user_groups(ctx: &AwsContext, user: &str) -> Result<Vec<String>, AwsError> {
    let groups: Vec<_> = ctx
        .iam()
        .list_groups_for_user()
        .user_name(user)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(err("ListGroupsForUser"))?;
    let mut names: Vec<String> = groups.iter().map(|g| g.group_name().to_string()).collect();
    names.sort();
    Ok(names)
}

/// An access key, without its secret.
#[derive(Debug, Clone, Serialize)]
pub struct AccessKeyInfo {
    pub user: String,
    pub access_key_id: String,
    pub status: String,
    pub create_date: String,
}

impl AccessKeyInfo {
    /// The line of `iam listkeys`: user (padded to 30), key id, status (padded to 8), date,
    /// separated by tabs.
    pub fn line(&self) -> String {
        format!(
            "{:<30}\t{}\t{:<8}\t{}",
            self.user, self.access_key_id, self.status, self.create_date
        )
    }
}

/// The access keys of a user.
pub async fn list_access_keys(
    ctx: &AwsContext,
    user: &str,
) -> Result<Vec<AccessKeyInfo>, AwsError> {
    let keys: Vec<_> = ctx
        .iam()
        .list_access_keys()
        .user_name(user)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(err("ListAccessKeys"))?;
    Ok(keys
        .iter()
        .map(|k| AccessKeyInfo {
            user: k.user_name().unwrap_or(user).to_string(),
            access_key_id: k.access_key_id().unwrap_or_default().to_string(),
            status: k
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            create_date: k
                .create_date()
                .and_then(|d| d.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
                .unwrap_or_default(),
        })
        .collect())
}

/// Creates an access key; the secret is returned as a [`Secret`].
pub async fn create_access_key(ctx: &AwsContext, user: &str) -> Result<(String, Secret), AwsError> {
    let out = ctx
        .iam()
        .create_access_key()
        .user_name(user)
        .send()
        .await
        .map_err(err("CreateAccessKey"))?;
    let key = out.access_key().ok_or(AwsError::MissingField {
        service: "iam",
        operation: "CreateAccessKey",
        field: "AccessKey",
    })?;
    Ok((
        key.access_key_id().to_string(),
        Secret::new(key.secret_access_key()),
    ))
}

/// Deletes an access key.
pub async fn delete_access_key(ctx: &AwsContext, user: &str, key: &str) -> Result<(), AwsError> {
    ctx.iam()
        .delete_access_key()
        .user_name(user)
        .access_key_id(key)
        .send()
        .await
        .map(drop)
        .map_err(err("DeleteAccessKey"))
}

/// Activates or deactivates an access key.
pub async fn set_access_key_active(
    ctx: &AwsContext,
    user: &str,
    key: &str,
    active: bool,
) -> Result<(), AwsError> {
    ctx.iam()
        .update_access_key()
        .user_name(user)
        .access_key_id(key)
        .status(if active {
            StatusType::Active
        } else {
            StatusType::Inactive
        })
        .send()
        .await
        .map(drop)
        .map_err(err("UpdateAccessKey"))
}

/// Every instance profile name, sorted.
pub async fn list_instance_profiles(ctx: &AwsContext) -> Result<Vec<String>, AwsError> {
    let profiles: Vec<_> = ctx
        .iam()
        .list_instance_profiles()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(err("ListInstanceProfiles"))?;
    let mut names: Vec<String> = profiles
        .iter()
        .map(|p| p.instance_profile_name().to_string())
        .collect();
    names.sort();
    Ok(names)
}

/// A role and whether its trust is federated.
#[derive(Debug, Clone, Serialize)]
pub struct RoleInfo {
    pub role: String,
    pub federated: bool,
}

impl RoleInfo {
    /// The line of `iam listroles`: the role, with `federation` a tab and "federated" or
    /// "unfederated".
    pub fn line(&self, federation: bool) -> String {
        match (federation, self.federated) {
            (false, _) => self.role.clone(),
            (true, true) => format!("{}\tfederated", self.role),
            (true, false) => format!("{}\tunfederated", self.role),
        }
    }
}

/// Every role, sorted by name (IAM promises no order; moto's changes from run to run).
pub async fn list_roles(ctx: &AwsContext) -> Result<Vec<RoleInfo>, AwsError> {
    let roles: Vec<_> = ctx
        .iam()
        .list_roles()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(err("ListRoles"))?;
    let mut roles: Vec<RoleInfo> = roles
        .iter()
        .map(|r| RoleInfo {
            role: r.role_name().to_string(),
            federated: is_federated(&decode_document(
                r.assume_role_policy_document().unwrap_or("null"),
            )),
        })
        .collect();
    roles.sort_by(|a, b| a.role.cmp(&b.role));
    Ok(roles)
}

/// Inline policy names of a role, sorted.
pub async fn list_role_policies(ctx: &AwsContext, role: &str) -> Result<Vec<String>, AwsError> {
    let mut names: Vec<String> = ctx
        .iam()
        .list_role_policies()
        .role_name(role)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(err("ListRolePolicies"))?;
    names.sort();
    Ok(names)
}

/// The ARNs of the account's SAML providers, sorted.
pub async fn list_saml_providers(ctx: &AwsContext) -> Result<Vec<String>, AwsError> {
    let out = ctx
        .iam()
        .list_saml_providers()
        .send()
        .await
        .map_err(err("ListSAMLProviders"))?;
    let mut arns: Vec<String> = out
        .saml_provider_list()
        .iter()
        .filter_map(|p| p.arn().map(str::to_string))
        .collect();
    arns.sort();
    Ok(arns)
}

/// STS DecodeAuthorizationMessage.
pub async fn decode_message(ctx: &AwsContext, message: &str) -> Result<String, AwsError> {
    let out = ctx
        .sts()
        .decode_authorization_message()
        .encoded_message(message)
        .send()
        .await
        .map_err(|e| AwsError::call("sts", "DecodeAuthorizationMessage", e))?;
    Ok(out.decoded_message().unwrap_or_default().to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn listing_lines_pad_and_mark_as_the_original() {
        let users = [
            UserGroups {
                user: "al".into(),
                groups: vec!["dev".into(), "ops".into()],
            },
            UserGroups {
                user: "bobby".into(),
                groups: vec![],
            },
        ];
        assert_eq!(user_lines(&users), ["al    dev,ops", "bobby "]);
        let key = AccessKeyInfo {
            user: "al".into(),
            access_key_id: "AKIA1".into(),
            status: "Active".into(),
            create_date: "2024-01-01".into(),
        };
        assert_eq!(
            key.line(),
            format!("{:<30}\tAKIA1\tActive  \t2024-01-01", "al")
        );
        let role = RoleInfo {
            role: "r".into(),
            federated: false,
        };
        assert_eq!([role.line(false), role.line(true)], ["r", "r\tunfederated"]);
    }

    use super::*;

    #[test]
    fn documents_decode_plain_or_url_encoded() {
        let plain = r#"{"Statement":[{"Effect":"Allow"}]}"#;
        assert_eq!(decode_document(plain)["Statement"][0]["Effect"], "Allow");
        let encoded = "%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%7D%5D%7D";
        assert_eq!(decode_document(encoded)["Statement"][0]["Effect"], "Allow");
        assert_eq!(decode_document_text(encoded), plain);
        assert_eq!(decode_document("not json"), Value::Null);
    }
}
