//! IAM sync (spec §4.8): the desired state from the `iam/` tree and the `[iam]` options,
//! the state observed in the account, and the plan of actions between them.
//!
//! The original recreated everything on every run (new timestamped policies, a new SAML
//! provider) and deleted every group, and every user, that the configuration did not name.
//! This module keeps its naming and its outcome for what it manages, with two deliberate
//! differences (recorded in the README's Decisions, "Identity and secrets"):
//!
//! * **Nothing unchanged is rewritten.** A policy whose document equals the configured one
//!   (as JSON values, so formatting does not matter) is kept, whatever its timestamp; a
//!   second run of an unchanged configuration plans nothing.
//! * **Deletions are scoped to what asiaq owns** unless `[iam] delete_unmanaged=true`:
//!   groups named `disco_*`; roles named `<role_prefix>_*` or `instance_*`, or tagged
//!   [`MANAGED_TAG_KEY`]` = `[`MANAGED_TAG_VALUE`] (that is how naked roles are recognised);
//!   users tagged the same way (asiaq tags the users it creates); the SAML provider named
//!   `saml_provider_name`. Everything else is left alone and listed as a note in the plan.
//!   With `delete_unmanaged=true` the original's reach is restored: every group not
//!   configured, every role starting with `role_prefix` (no underscore required, as in the
//!   original), every unfederated `instance*` role, every user not in a `.grp` file and every
//!   other SAML provider. AWS service-linked roles (path `/aws-service-role/`) are never
//!   touched: AWS refuses to delete them anyway.
//!
//! Time is a parameter (`now`, see [`policy_timestamp`]); nothing here does I/O.

pub mod text;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::plan::{Change, Plan, PlanAction, PlanBuilder, Resource};
use serde_json::Value;

/// IAM groups of user policies are `disco_<policy>` (a constant, not `role_prefix`).
pub const GROUP_PREFIX: &str = "disco_";
/// Instance roles and their instance profiles are `instance_<policy>`.
pub const INSTANCE_PREFIX: &str = "instance_";
/// The tag asiaq puts on the users, roles, instance profiles and SAML providers it creates.
pub const MANAGED_TAG_KEY: &str = "managed-by";
/// The value of [`MANAGED_TAG_KEY`].
pub const MANAGED_TAG_VALUE: &str = "asiaq";
/// Path of AWS service-linked roles, which are never touched.
pub const SERVICE_LINKED_PATH: &str = "/aws-service-role/";

/// The IAM group of policy `policy`.
pub fn group_name(policy: &str) -> String {
    format!("{GROUP_PREFIX}{policy}")
}

/// The instance role (and instance profile) of instance policy `policy`.
pub fn instance_role_name(policy: &str) -> String {
    format!("{INSTANCE_PREFIX}{policy}")
}

/// The trust role of user policy `policy` (`_create_role_name`): the policy itself if it
/// is a naked role, else `<role_prefix>_<env>_<policy>` with empty parts left out.
pub fn trust_role_name(
    role_prefix: Option<&str>,
    env: &str,
    policy: &str,
    naked_roles: &BTreeSet<String>,
) -> String {
    if naked_roles.contains(policy) {
        return policy.to_string();
    }
    [role_prefix.unwrap_or_default(), env, policy]
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("_")
}

/// The name of a policy put in this run: `<policy>_<now>`.
pub fn policy_name(policy: &str, now: &str) -> String {
    format!("{policy}_{now}")
}

/// The original's `datetime.utcnow().isoformat('T').replace(':', '.')` for a UTC instant
/// given as seconds since the epoch plus microseconds: `2024-03-01T12.05.09.123456`
/// (the fraction is left out when it is zero, as Python does).
pub fn policy_timestamp(unix_seconds: i64, micros: u32) -> String {
    let base = jiff::Timestamp::from_second(unix_seconds)
        .map(|t| t.strftime("%Y-%m-%dT%H.%M.%S").to_string())
        .unwrap_or_default();
    if micros == 0 {
        base
    } else {
        format!("{base}.{micros:06}")
    }
}

/// "Federated" means the trust document's `Statement[0].Principal` has a `Federated` key.
pub fn is_federated(trust: &Value) -> bool {
    trust
        .pointer("/Statement/0/Principal")
        .and_then(Value::as_object)
        .is_some_and(|p| p.contains_key("Federated"))
}

/// The federation trust document with `Statement[0].Principal.Federated` set to the SAML
/// provider's ARN.
pub fn federation_document(template: &Value, provider_arn: &str) -> Value {
    let mut doc = template.clone();
    if let Some(principal) = doc
        .pointer_mut("/Statement/0/Principal")
        .and_then(Value::as_object_mut)
    {
        principal.insert("Federated".into(), Value::String(provider_arn.into()));
    }
    doc
}

/// The trust document of roles created without one: EC2 may assume them. This is what
/// boto 2's `create_role` used when the original passed no document (instance roles, and
/// trust roles with neither a `.tr` file nor a federation document).
pub fn ec2_trust_document() -> Value {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": ["ec2.amazonaws.com"]},
            "Action": ["sts:AssumeRole"]
        }]
    })
}

/// A policy document as sent to AWS: JSON indented by four spaces, as the original sent it.
#[allow(
    clippy::expect_used,
    reason = "serializing a JSON value into memory cannot fail, and serde_json writes UTF-8"
)]
pub fn render_document(doc: &Value) -> String {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    // Serializing a Value into memory cannot fail.
    doc.serialize(&mut ser).expect("a JSON value serializes");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

// ---------------------------------------------------------------------------------------
// Desired state
// ---------------------------------------------------------------------------------------

/// The `[iam]` options (each looked up with `@<iam env>` first).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IamOptions {
    pub role_prefix: Option<String>,
    pub naked_roles: BTreeSet<String>,
    pub policy_blacklist: BTreeSet<String>,
    pub prune_empty_groups: bool,
    /// Restores the original's deletion of resources asiaq did not create.
    pub delete_unmanaged: bool,
}

/// The SAML provider to have (`saml_provider_name` with the metadata fetched from
/// `saml_provider_url`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlDesired {
    pub name: String,
    pub metadata: String,
}

/// Everything the configuration asks for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Desired {
    /// The IAM environment (really an account type) of `iam update --environment`.
    pub environment: String,
    /// `user_policies/<name>.iam`.
    pub user_policies: BTreeMap<String, Value>,
    /// `user_policies/<name>.tr`.
    pub trust_documents: BTreeMap<String, Value>,
    /// `instance_policies/<name>.iam`.
    pub instance_policies: BTreeMap<String, Value>,
    /// `federation/AssumeRolePolicyDocument.iam`.
    pub federation: Option<Value>,
    /// `group_membership/<env>/<user>.grp` as user -> group short names; `None` when the
    /// tree has no `group_membership/` directory at all (then users and memberships are
    /// left alone).
    pub membership: Option<BTreeMap<String, BTreeSet<String>>>,
    pub saml: Option<SamlDesired>,
    pub options: IamOptions,
}

/// What a trust role's trust document is made from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrustSource {
    /// `user_policies/<policy>.tr`.
    TrustFile,
    /// The federation document with the configured SAML provider's ARN.
    Federation,
    /// The federation document as written (no SAML provider is configured).
    FederationAsWritten,
    /// No document: an existing role keeps its trust; a new one trusts EC2.
    None,
}

#[derive(Debug, Clone, PartialEq)]
struct DesiredRole {
    policy: String,
    document: Value,
    trust: Option<Value>,
    source: TrustSource,
    instance: bool,
}

impl Desired {
    /// The users of the `.grp` files.
    pub fn users(&self) -> BTreeSet<String> {
        self.membership
            .as_ref()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Desired members of each group that has any.
    fn members(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (user, groups) in self.membership.iter().flatten() {
            for g in groups {
                out.entry(group_name(g)).or_default().insert(user.clone());
            }
        }
        out
    }

    /// The groups to have: `disco_<policy>` for every user policy, without the empty ones
    /// when `prune_empty_groups` is set (and memberships are managed), with their policy.
    pub fn groups(&self) -> BTreeMap<String, (String, Value)> {
        let members = self.members();
        self.user_policies
            .iter()
            .map(|(p, doc)| (group_name(p), (p.clone(), doc.clone())))
            .filter(|(g, _)| {
                !(self.options.prune_empty_groups
                    && self.membership.is_some()
                    && !members.contains_key(g))
            })
            .collect()
    }

    fn provider_arn(&self, arn_prefix: &str) -> Option<String> {
        self.saml
            .as_ref()
            .map(|s| format!("{arn_prefix}:saml-provider/{}", s.name))
    }

    fn roles(&self, arn_prefix: &str) -> BTreeMap<String, DesiredRole> {
        let mut out = BTreeMap::new();
        let provider = self.provider_arn(arn_prefix);
        for (policy, doc) in &self.user_policies {
            if self.options.policy_blacklist.contains(policy) {
                continue;
            }
            let name = trust_role_name(
                self.options.role_prefix.as_deref(),
                &self.environment,
                policy,
                &self.options.naked_roles,
            );
            let (trust, source) = if let Some(tr) = self.trust_documents.get(policy) {
                (Some(tr.clone()), TrustSource::TrustFile)
            } else if let Some(fed) = &self.federation {
                match &provider {
                    Some(arn) => (Some(federation_document(fed, arn)), TrustSource::Federation),
                    None => (Some(fed.clone()), TrustSource::FederationAsWritten),
                }
            } else {
                (None, TrustSource::None)
            };
            out.insert(
                name,
                DesiredRole {
                    policy: policy.clone(),
                    document: doc.clone(),
                    trust,
                    source,
                    instance: false,
                },
            );
        }
        for (policy, doc) in &self.instance_policies {
            out.insert(
                instance_role_name(policy),
                DesiredRole {
                    policy: policy.clone(),
                    document: doc.clone(),
                    trust: None,
                    source: TrustSource::None,
                    instance: true,
                },
            );
        }
        out
    }

    /// The names of the roles to have (trust roles and instance roles).
    pub fn role_names(&self) -> BTreeSet<String> {
        self.roles("").into_keys().collect()
    }
}

// ---------------------------------------------------------------------------------------
// Observed state
// ---------------------------------------------------------------------------------------

/// A SAML provider of the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObservedSamlProvider {
    pub arn: String,
    /// Its metadata document; observed only for the configured provider.
    #[serde(skip)]
    pub metadata: Option<String>,
}

impl ObservedSamlProvider {
    /// The provider name: the last component of its ARN.
    pub fn name(&self) -> &str {
        self.arn.rsplit('/').next().unwrap_or_default()
    }
}

/// An IAM group. Members and policies are observed for the configured groups only.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ObservedGroup {
    pub members: BTreeSet<String>,
    pub policies: BTreeMap<String, Value>,
}

/// An IAM role. Inline policies are observed for the configured roles only; `managed` (the
/// asiaq tag) only for roles that the naming rules do not already classify.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObservedRole {
    pub path: String,
    pub trust: Value,
    pub policies: BTreeMap<String, Value>,
    pub managed: bool,
}

/// An IAM user; `managed` is observed for users not in the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ObservedUser {
    pub managed: bool,
}

/// The account as seen before the sync.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Observed {
    /// `arn:<partition>:iam::<account>`, to name SAML providers before they exist.
    pub arn_prefix: String,
    pub saml_providers: Vec<ObservedSamlProvider>,
    pub groups: BTreeMap<String, ObservedGroup>,
    pub roles: BTreeMap<String, ObservedRole>,
    /// Instance profile -> the roles in it.
    pub instance_profiles: BTreeMap<String, BTreeSet<String>>,
    pub users: BTreeMap<String, ObservedUser>,
}

/// How a role is owned, judged by its name and path alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameOwnership {
    /// asiaq owns it whatever its tags.
    Owned,
    /// Never touched (service-linked).
    Never,
    /// Owned only if tagged (or with `delete_unmanaged`): look its tags up.
    ByTag,
}

impl IamOptions {
    /// Whether a role of this name and path is asiaq's by name.
    pub fn role_ownership(&self, name: &str, path: &str) -> NameOwnership {
        if path.starts_with(SERVICE_LINKED_PATH) {
            return NameOwnership::Never;
        }
        let prefixed = self
            .role_prefix
            .as_deref()
            .filter(|p| !p.is_empty())
            .is_some_and(|p| name.starts_with(&format!("{p}_")));
        if prefixed || name.starts_with(INSTANCE_PREFIX) {
            NameOwnership::Owned
        } else {
            NameOwnership::ByTag
        }
    }

    /// Whether an observed role that is not configured gets deleted.
    fn deletes_role(&self, name: &str, role: &ObservedRole) -> bool {
        match self.role_ownership(name, &role.path) {
            NameOwnership::Never => false,
            NameOwnership::Owned => true,
            NameOwnership::ByTag => {
                role.managed
                    || (self.delete_unmanaged
                        && (name.starts_with(self.role_prefix.as_deref().unwrap_or_default())
                            || (name.starts_with("instance") && !is_federated(&role.trust))))
            }
        }
    }

    /// Whether an IAM group that is not configured gets deleted.
    pub fn deletes_group(&self, name: &str) -> bool {
        self.delete_unmanaged || name.starts_with(GROUP_PREFIX)
    }
}

// ---------------------------------------------------------------------------------------
// The plan
// ---------------------------------------------------------------------------------------

/// One change to the account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum IamAction {
    CreateSamlProvider {
        name: String,
        #[serde(skip)]
        metadata: String,
    },
    UpdateSamlProvider {
        arn: String,
        #[serde(skip)]
        metadata: String,
    },
    DeleteSamlProvider {
        arn: String,
    },
    CreateUser {
        name: String,
    },
    CreateGroup {
        name: String,
    },
    PutGroupPolicy {
        group: String,
        policy_name: String,
        document: Value,
    },
    DeleteGroupPolicy {
        group: String,
        policy_name: String,
    },
    CreateRole {
        name: String,
        trust: Value,
        trust_source: TrustSource,
    },
    UpdateAssumeRolePolicy {
        role: String,
        trust: Value,
        trust_source: TrustSource,
    },
    PutRolePolicy {
        role: String,
        policy_name: String,
        document: Value,
    },
    DeleteRolePolicy {
        role: String,
        policy_name: String,
    },
    CreateInstanceProfile {
        name: String,
    },
    RemoveRoleFromInstanceProfile {
        profile: String,
        role: String,
    },
    AddRoleToInstanceProfile {
        profile: String,
        role: String,
    },
    AddUserToGroup {
        group: String,
        user: String,
    },
    RemoveUserFromGroup {
        group: String,
        user: String,
    },
    /// Deletes the role after its inline and attached policies, and removes it from its
    /// instance profiles, deleting those (as the original did). `replaced`: a federated
    /// instance role deleted to be created again in the same run.
    DeleteRole {
        name: String,
        replaced: bool,
    },
    /// Deletes the group after removing its members and policies.
    DeleteGroup {
        name: String,
    },
    /// Deletes the user after its access keys, login profile, policies, MFA devices,
    /// signing certificates, SSH keys and group memberships.
    DeleteUser {
        name: String,
    },
}

impl IamAction {
    /// Actions run stage by stage; the actions of one stage are independent of each other.
    pub fn stage(&self) -> u8 {
        use IamAction::*;
        match self {
            DeleteRole { replaced: true, .. } | CreateSamlProvider { .. } => 0,
            UpdateSamlProvider { .. } | RemoveRoleFromInstanceProfile { .. } => 0,
            CreateUser { .. } | CreateGroup { .. } | CreateRole { .. } => 1,
            CreateInstanceProfile { .. } => 1,
            PutGroupPolicy { .. } | PutRolePolicy { .. } | UpdateAssumeRolePolicy { .. } => 2,
            AddRoleToInstanceProfile { .. } | AddUserToGroup { .. } => 2,
            DeleteGroupPolicy { .. } | DeleteRolePolicy { .. } | RemoveUserFromGroup { .. } => 3,
            DeleteRole {
                replaced: false, ..
            }
            | DeleteGroup { .. }
            | DeleteUser { .. } => 4,
            DeleteSamlProvider { .. } => 5,
        }
    }

    /// True for deletions.
    pub fn is_deletion(&self) -> bool {
        use IamAction::*;
        matches!(
            self,
            DeleteSamlProvider { .. }
                | DeleteGroupPolicy { .. }
                | DeleteRolePolicy { .. }
                | RemoveRoleFromInstanceProfile { .. }
                | RemoveUserFromGroup { .. }
                | DeleteRole { .. }
                | DeleteGroup { .. }
                | DeleteUser { .. }
        )
    }

    fn sort_key(&self) -> (u8, String) {
        (self.stage(), self.to_string())
    }
}

impl fmt::Display for IamAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use IamAction::*;
        match self {
            CreateSamlProvider { name, metadata } => write!(
                f,
                "create SAML provider {name} ({} bytes of metadata)",
                metadata.len()
            ),
            UpdateSamlProvider { arn, metadata } => write!(
                f,
                "update the metadata of SAML provider {arn} ({} bytes)",
                metadata.len()
            ),
            DeleteSamlProvider { arn } => write!(f, "delete SAML provider {arn}"),
            CreateUser { name } => write!(f, "create user {name}"),
            CreateGroup { name } => write!(f, "create group {name}"),
            PutGroupPolicy {
                group, policy_name, ..
            } => write!(f, "put policy {policy_name} on group {group}"),
            DeleteGroupPolicy { group, policy_name } => {
                write!(f, "delete policy {policy_name} of group {group}")
            }
            CreateRole {
                name, trust_source, ..
            } => write!(f, "create role {name} (trust: {})", trust_source.describe()),
            UpdateAssumeRolePolicy {
                role, trust_source, ..
            } => write!(
                f,
                "update the trust policy of role {role} (trust: {})",
                trust_source.describe()
            ),
            PutRolePolicy {
                role, policy_name, ..
            } => write!(f, "put policy {policy_name} on role {role}"),
            DeleteRolePolicy { role, policy_name } => {
                write!(f, "delete policy {policy_name} of role {role}")
            }
            CreateInstanceProfile { name } => write!(f, "create instance profile {name}"),
            RemoveRoleFromInstanceProfile { profile, role } => {
                write!(f, "remove role {role} from instance profile {profile}")
            }
            AddRoleToInstanceProfile { profile, role } => {
                write!(f, "add role {role} to instance profile {profile}")
            }
            AddUserToGroup { group, user } => write!(f, "add user {user} to group {group}"),
            RemoveUserFromGroup { group, user } => {
                write!(f, "remove user {user} from group {group}")
            }
            DeleteRole {
                name,
                replaced: true,
            } => write!(
                f,
                "delete federated role {name} with its policies and instance profiles (created again as an instance role)"
            ),
            DeleteRole {
                name,
                replaced: false,
            } => write!(
                f,
                "delete role {name} with its policies and instance profiles"
            ),
            DeleteGroup { name } => {
                write!(f, "delete group {name} after removing its members and policies")
            }
            DeleteUser { name } => write!(
                f,
                "delete user {name} with its access keys, login profile, policies and memberships"
            ),
        }
    }
}

/// The one plan printer and the engine see an IAM change as a step on one user, group,
/// role, instance profile or SAML provider.
impl PlanAction for IamAction {
    fn resource(&self) -> Resource {
        use IamAction::*;
        match self {
            CreateSamlProvider { name, .. } => Resource::new("SAML provider", name),
            UpdateSamlProvider { arn, .. } | DeleteSamlProvider { arn } => {
                Resource::new("SAML provider", arn)
            }
            CreateUser { name } | DeleteUser { name } => Resource::new("user", name),
            CreateGroup { name } | DeleteGroup { name } => Resource::new("group", name),
            PutGroupPolicy { group, .. } | DeleteGroupPolicy { group, .. } => {
                Resource::new("group", group)
            }
            AddUserToGroup { group, .. } | RemoveUserFromGroup { group, .. } => {
                Resource::new("group", group)
            }
            CreateRole { name, .. } | DeleteRole { name, .. } => Resource::new("role", name),
            UpdateAssumeRolePolicy { role, .. }
            | PutRolePolicy { role, .. }
            | DeleteRolePolicy { role, .. } => Resource::new("role", role),
            CreateInstanceProfile { name } => Resource::new("instance profile", name),
            RemoveRoleFromInstanceProfile { profile, .. }
            | AddRoleToInstanceProfile { profile, .. } => {
                Resource::new("instance profile", profile)
            }
        }
    }

    fn change(&self) -> Change {
        use IamAction::*;
        match self {
            CreateSamlProvider { .. }
            | CreateUser { .. }
            | CreateGroup { .. }
            | CreateRole { .. }
            | CreateInstanceProfile { .. }
            | PutGroupPolicy { .. }
            | PutRolePolicy { .. }
            | AddRoleToInstanceProfile { .. }
            | AddUserToGroup { .. } => Change::Create,
            UpdateSamlProvider { .. } | UpdateAssumeRolePolicy { .. } => Change::update(),
            _ => Change::Delete,
        }
    }
}

impl IamPlan {
    /// The sync as an engine plan: the actions of a stage depend on every action of the
    /// stage before (a policy goes on a group once the group exists, a user is deleted
    /// once removed from its groups).
    pub fn to_plan(&self) -> Plan<IamAction> {
        let mut b = PlanBuilder::new();
        let mut previous: Vec<usize> = Vec::new();
        for stage in self.stages() {
            let ids: Vec<usize> = stage
                .into_iter()
                .map(|a| b.add(a.clone(), &previous))
                .collect();
            previous = ids;
        }
        b.build()
    }
}

impl TrustSource {
    fn describe(self) -> &'static str {
        match self {
            TrustSource::TrustFile => "its .tr file",
            TrustSource::Federation => "federation with the SAML provider",
            TrustSource::FederationAsWritten => "the federation document as written",
            TrustSource::None => "EC2",
        }
    }
}

/// The actions of one sync, in stage order, plus notes on what was deliberately left
/// alone.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IamPlan {
    pub actions: Vec<IamAction>,
    pub notes: Vec<String>,
}

impl IamPlan {
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// The text of an applied `iam update`: that nothing changed, or each action with its
    /// sign; then the notes.
    pub fn update_lines(&self) -> Vec<String> {
        let in_sync = "IAM is in sync with the configuration: nothing to change";
        let in_sync = self.is_empty().then(|| in_sync.to_string());
        let actions = self
            .actions
            .iter()
            .map(|a| format!("{} {a}", a.change().sign()));
        let notes = self.notes.iter().map(|n| format!("note: {n}"));
        in_sync.into_iter().chain(actions).chain(notes).collect()
    }

    /// The actions grouped by stage, in order.
    pub fn stages(&self) -> Vec<Vec<&IamAction>> {
        let mut stages: BTreeMap<u8, Vec<&IamAction>> = BTreeMap::new();
        for a in &self.actions {
            stages.entry(a.stage()).or_default().push(a);
        }
        stages.into_values().collect()
    }
}

/// Keeps the first policy of `observed` named `<policy>_*` whose document equals `doc`;
/// otherwise puts `<policy>_<now>`. Returns (name to put, if any; names to delete).
fn sync_policies(
    observed: &BTreeMap<String, Value>,
    policy: &str,
    doc: &Value,
    now: &str,
) -> (Option<String>, Vec<String>) {
    let prefix = format!("{policy}_");
    let keep = observed
        .iter()
        .rev()
        .find(|(name, d)| name.starts_with(&prefix) && *d == doc)
        .map(|(name, _)| name.clone());
    let put = match keep {
        Some(_) => None,
        None => Some(policy_name(policy, now)),
    };
    let keep_name = keep.or_else(|| put.clone());
    let delete = observed
        .keys()
        .filter(|n| Some(*n) != keep_name.as_ref())
        .cloned()
        .collect();
    (put, delete)
}

/// Computes the actions that bring the account from `observed` to `desired`. `now` is the
/// policy timestamp of this run ([`policy_timestamp`]).
pub fn plan(desired: &Desired, observed: &Observed, now: &str) -> IamPlan {
    let opts = &desired.options;
    let mut actions = Vec::new();
    let mut notes = Vec::new();

    // SAML provider.
    for p in &observed.saml_providers {
        let configured = desired.saml.as_ref().is_some_and(|s| s.name == p.name());
        if configured {
            continue;
        }
        if opts.delete_unmanaged {
            actions.push(IamAction::DeleteSamlProvider { arn: p.arn.clone() });
        } else {
            notes.push(format!(
                "SAML provider {} is not saml_provider_name: left alone ([iam] delete_unmanaged=true deletes it)",
                p.arn
            ));
        }
    }
    if let Some(s) = &desired.saml {
        match observed.saml_providers.iter().find(|p| p.name() == s.name) {
            None => actions.push(IamAction::CreateSamlProvider {
                name: s.name.clone(),
                metadata: s.metadata.clone(),
            }),
            Some(p) => {
                if p.metadata.as_deref().map(str::trim) != Some(s.metadata.trim()) {
                    actions.push(IamAction::UpdateSamlProvider {
                        arn: p.arn.clone(),
                        metadata: s.metadata.clone(),
                    });
                }
            }
        }
    }

    // Users.
    let users = desired.users();
    let mut deleted_users = BTreeSet::new();
    if desired.membership.is_some() {
        for u in &users {
            if !observed.users.contains_key(u) {
                actions.push(IamAction::CreateUser { name: u.clone() });
            }
        }
        for (u, seen) in &observed.users {
            if users.contains(u) {
                continue;
            }
            if seen.managed || opts.delete_unmanaged {
                deleted_users.insert(u.clone());
                actions.push(IamAction::DeleteUser { name: u.clone() });
            } else {
                notes.push(format!(
                    "user {u} is in no .grp file but was not created by asiaq: left alone ([iam] delete_unmanaged=true deletes it)"
                ));
            }
        }
    } else {
        notes.push(
            "no iam/group_membership directory: users and group memberships are left alone".into(),
        );
    }

    // Groups, their policies and members.
    let groups = desired.groups();
    let members = desired.members();
    for (g, (policy, doc)) in &groups {
        let seen = observed.groups.get(g);
        if seen.is_none() {
            actions.push(IamAction::CreateGroup { name: g.clone() });
        }
        let empty = ObservedGroup::default();
        let seen = seen.unwrap_or(&empty);
        let (put, delete) = sync_policies(&seen.policies, policy, doc, now);
        if let Some(policy_name) = put {
            actions.push(IamAction::PutGroupPolicy {
                group: g.clone(),
                policy_name,
                document: doc.clone(),
            });
        }
        for policy_name in delete {
            actions.push(IamAction::DeleteGroupPolicy {
                group: g.clone(),
                policy_name,
            });
        }
        if desired.membership.is_some() {
            let want = members.get(g).cloned().unwrap_or_default();
            for u in want.difference(&seen.members) {
                actions.push(IamAction::AddUserToGroup {
                    group: g.clone(),
                    user: u.clone(),
                });
            }
            for u in seen.members.difference(&want) {
                if !deleted_users.contains(u) {
                    actions.push(IamAction::RemoveUserFromGroup {
                        group: g.clone(),
                        user: u.clone(),
                    });
                }
            }
        }
    }
    for g in observed.groups.keys() {
        if groups.contains_key(g) {
            continue;
        }
        if opts.deletes_group(g) {
            actions.push(IamAction::DeleteGroup { name: g.clone() });
        } else {
            notes.push(format!(
                "group {g} is not a disco_ group: left alone ([iam] delete_unmanaged=true deletes it)"
            ));
        }
    }

    // Roles and instance profiles.
    let roles = desired.roles(&observed.arn_prefix);
    if desired.saml.is_none()
        && roles
            .values()
            .any(|r| r.source == TrustSource::FederationAsWritten)
    {
        notes.push(
            "no SAML provider is configured: federated roles trust the Federated principal written in iam/federation/AssumeRolePolicyDocument.iam"
                .into(),
        );
    }
    // Profiles that lose their role to a deletion in this run (and are deleted with it).
    let mut deleted_profiles = BTreeSet::new();
    for (name, role) in &roles {
        let seen = observed.roles.get(name);
        let replaced = role.instance && seen.is_some_and(|r| is_federated(&r.trust));
        if replaced {
            actions.push(IamAction::DeleteRole {
                name: name.clone(),
                replaced: true,
            });
            deleted_profiles.extend(profiles_of(observed, name));
        }
        let seen = if replaced { None } else { seen };
        match seen {
            None => actions.push(IamAction::CreateRole {
                name: name.clone(),
                trust: role.trust.clone().unwrap_or_else(ec2_trust_document),
                trust_source: role.source,
            }),
            Some(r) => {
                if let Some(trust) = &role.trust {
                    if *trust != r.trust {
                        actions.push(IamAction::UpdateAssumeRolePolicy {
                            role: name.clone(),
                            trust: trust.clone(),
                            trust_source: role.source,
                        });
                    }
                }
            }
        }
        let no_policies = BTreeMap::new();
        let seen_policies = seen.map(|r| &r.policies).unwrap_or(&no_policies);
        let (put, delete) = sync_policies(seen_policies, &role.policy, &role.document, now);
        if let Some(policy_name) = put {
            actions.push(IamAction::PutRolePolicy {
                role: name.clone(),
                policy_name,
                document: role.document.clone(),
            });
        }
        for policy_name in delete {
            actions.push(IamAction::DeleteRolePolicy {
                role: name.clone(),
                policy_name,
            });
        }
    }
    for (name, role) in &observed.roles {
        if !roles.contains_key(name) && opts.deletes_role(name, role) {
            actions.push(IamAction::DeleteRole {
                name: name.clone(),
                replaced: false,
            });
        }
    }
    for (name, role) in &roles {
        if !role.instance {
            continue;
        }
        let existing = observed
            .instance_profiles
            .get(name)
            .filter(|_| !deleted_profiles.contains(name));
        match existing {
            None => {
                actions.push(IamAction::CreateInstanceProfile { name: name.clone() });
                actions.push(IamAction::AddRoleToInstanceProfile {
                    profile: name.clone(),
                    role: name.clone(),
                });
            }
            Some(in_profile) => {
                if !in_profile.contains(name) {
                    for other in in_profile {
                        actions.push(IamAction::RemoveRoleFromInstanceProfile {
                            profile: name.clone(),
                            role: other.clone(),
                        });
                    }
                    actions.push(IamAction::AddRoleToInstanceProfile {
                        profile: name.clone(),
                        role: name.clone(),
                    });
                }
            }
        }
    }

    actions.sort_by_key(IamAction::sort_key);
    IamPlan { actions, notes }
}

fn profiles_of<'a>(observed: &'a Observed, role: &'a str) -> impl Iterator<Item = String> + 'a {
    observed
        .instance_profiles
        .iter()
        .filter(move |(_, roles)| roles.contains(role))
        .map(|(p, _)| p.clone())
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_empty_update_says_it_is_in_sync_and_keeps_its_notes() {
        let plan = IamPlan {
            actions: Vec::new(),
            notes: vec!["user root left alone".into()],
        };
        assert_eq!(
            plan.update_lines(),
            [
                "IAM is in sync with the configuration: nothing to change",
                "note: user root left alone"
            ]
        );
    }

    use super::*;
    use serde_json::json;

    const NOW: &str = "2024-03-01T12.00.00";
    const ARN: &str = "arn:aws:iam::123456789012";

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn policy(action: &str) -> Value {
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]})
    }

    fn federation() -> Value {
        json!({"Statement": [{"Effect": "Allow", "Principal": {"Federated": "placeholder"}, "Action": "sts:AssumeRoleWithSAML"}]})
    }

    /// The example tree: admin, billing (with .tr, naked), readonly; instance policy
    /// common; alice in admin+readonly, bob in readonly+billing.
    fn desired() -> Desired {
        let mut membership = BTreeMap::new();
        membership.insert("alice".to_string(), set(&["admin", "readonly"]));
        membership.insert("bob".to_string(), set(&["readonly", "billing"]));
        Desired {
            environment: "demo".into(),
            user_policies: [
                ("admin".to_string(), policy("*")),
                ("billing".to_string(), policy("ce:Get*")),
                ("readonly".to_string(), policy("ec2:Describe*")),
            ]
            .into(),
            trust_documents: [(
                "billing".to_string(),
                json!({"Statement": [{"Principal": {"AWS": "arn:aws:iam::111122223333:root"}}]}),
            )]
            .into(),
            instance_policies: [("common".to_string(), policy("s3:GetObject"))].into(),
            federation: Some(federation()),
            membership: Some(membership),
            saml: None,
            options: IamOptions {
                role_prefix: Some("example".into()),
                naked_roles: set(&["billing"]),
                prune_empty_groups: true,
                ..IamOptions::default()
            },
        }
    }

    fn empty_account() -> Observed {
        Observed {
            arn_prefix: ARN.into(),
            ..Observed::default()
        }
    }

    /// The account after applying `plan` to `observed` (a model of IAM good enough to
    /// check convergence: applying the plan then planning again plans nothing).
    fn apply(observed: &Observed, plan: &IamPlan) -> Observed {
        let mut o = observed.clone();
        for a in &plan.actions {
            match a {
                IamAction::CreateSamlProvider { name, metadata } => {
                    o.saml_providers.push(ObservedSamlProvider {
                        arn: format!("{}:saml-provider/{name}", o.arn_prefix),
                        metadata: Some(metadata.clone()),
                    })
                }
                IamAction::UpdateSamlProvider { arn, metadata } => {
                    for p in &mut o.saml_providers {
                        if &p.arn == arn {
                            p.metadata = Some(metadata.clone());
                        }
                    }
                }
                IamAction::DeleteSamlProvider { arn } => o.saml_providers.retain(|p| &p.arn != arn),
                IamAction::CreateUser { name } => {
                    o.users.insert(name.clone(), ObservedUser { managed: true });
                }
                IamAction::CreateGroup { name } => {
                    o.groups.insert(name.clone(), ObservedGroup::default());
                }
                IamAction::PutGroupPolicy {
                    group,
                    policy_name,
                    document,
                } => {
                    o.groups
                        .get_mut(group)
                        .unwrap()
                        .policies
                        .insert(policy_name.clone(), document.clone());
                }
                IamAction::DeleteGroupPolicy { group, policy_name } => {
                    o.groups
                        .get_mut(group)
                        .unwrap()
                        .policies
                        .remove(policy_name);
                }
                IamAction::CreateRole { name, trust, .. } => {
                    o.roles.insert(
                        name.clone(),
                        ObservedRole {
                            path: "/".into(),
                            trust: trust.clone(),
                            policies: BTreeMap::new(),
                            managed: true,
                        },
                    );
                }
                IamAction::UpdateAssumeRolePolicy { role, trust, .. } => {
                    o.roles.get_mut(role).unwrap().trust = trust.clone();
                }
                IamAction::PutRolePolicy {
                    role,
                    policy_name,
                    document,
                } => {
                    o.roles
                        .get_mut(role)
                        .unwrap()
                        .policies
                        .insert(policy_name.clone(), document.clone());
                }
                IamAction::DeleteRolePolicy { role, policy_name } => {
                    o.roles.get_mut(role).unwrap().policies.remove(policy_name);
                }
                IamAction::CreateInstanceProfile { name } => {
                    assert!(o
                        .instance_profiles
                        .insert(name.clone(), BTreeSet::new())
                        .is_none());
                }
                IamAction::RemoveRoleFromInstanceProfile { profile, role } => {
                    o.instance_profiles.get_mut(profile).unwrap().remove(role);
                }
                IamAction::AddRoleToInstanceProfile { profile, role } => {
                    let p = o.instance_profiles.get_mut(profile).unwrap();
                    assert!(p.is_empty(), "an instance profile holds one role");
                    p.insert(role.clone());
                }
                IamAction::AddUserToGroup { group, user } => {
                    assert!(o.users.contains_key(user));
                    o.groups
                        .get_mut(group)
                        .unwrap()
                        .members
                        .insert(user.clone());
                }
                IamAction::RemoveUserFromGroup { group, user } => {
                    o.groups.get_mut(group).unwrap().members.remove(user);
                }
                IamAction::DeleteRole { name, .. } => {
                    o.roles.remove(name).unwrap();
                    o.instance_profiles.retain(|_, roles| !roles.contains(name));
                }
                IamAction::DeleteGroup { name } => {
                    o.groups.remove(name).unwrap();
                }
                IamAction::DeleteUser { name } => {
                    o.users.remove(name).unwrap();
                    for g in o.groups.values_mut() {
                        g.members.remove(name);
                    }
                }
            }
        }
        o
    }

    /// The plan as `iam update` prints it: the change's sign, then the action.
    fn lines(plan: &IamPlan) -> Vec<String> {
        plan.actions
            .iter()
            .map(|a| format!("{} {a}", a.change().sign()))
            .collect()
    }

    #[test]
    fn the_engine_plan_runs_stage_after_stage() {
        let d = desired();
        let o = apply(&empty_account(), &plan(&d, &empty_account(), NOW));
        let mut d2 = d.clone();
        d2.options.policy_blacklist = set(&["admin"]);
        let sync = plan(&d, &empty_account(), NOW);
        let p = sync.to_plan();
        assert_eq!(p.len(), sync.actions.len());
        for step in &p.steps {
            for other in &p.steps {
                if other.action.stage() < step.action.stage() {
                    assert!(
                        p.depends_on(step.id, other.id),
                        "{} runs after {}",
                        step.action,
                        other.action
                    );
                }
                if other.id != step.id && other.action.stage() == step.action.stage() {
                    assert!(!p.depends_on(step.id, other.id));
                }
            }
        }
        // Every action names its resource and kind of change, and round-trips as the plan
        // document's JSON.
        let deletes = plan(&d2, &o, "T2").to_plan();
        for s in deletes.steps.iter().chain(p.steps.iter()) {
            let json = serde_json::to_value(&s.action).unwrap();
            let back: IamAction = serde_json::from_value(json).unwrap();
            assert_eq!(back.resource(), s.action.resource());
            assert_eq!(back.change(), s.action.change());
        }
        assert!(deletes.steps.iter().all(|s| s.action.change().is_delete()));
    }

    #[test]
    fn names_follow_the_original() {
        let naked = set(&["SecurityMonkey"]);
        assert_eq!(
            trust_role_name(Some("disco"), "dev", "billviewer", &naked),
            "disco_dev_billviewer"
        );
        assert_eq!(
            trust_role_name(None, "dev", "billviewer", &naked),
            "dev_billviewer"
        );
        assert_eq!(trust_role_name(Some(""), "", "x", &naked), "x");
        assert_eq!(
            trust_role_name(Some("disco"), "dev", "SecurityMonkey", &naked),
            "SecurityMonkey"
        );
        assert_eq!(group_name("iamuser"), "disco_iamuser");
        assert_eq!(instance_role_name("disco_common"), "instance_disco_common");
        assert_eq!(policy_name("admin", NOW), "admin_2024-03-01T12.00.00");
    }

    #[test]
    fn timestamps_are_pythons_isoformat_with_dots() {
        assert_eq!(policy_timestamp(0, 0), "1970-01-01T00.00.00");
        assert_eq!(
            policy_timestamp(1_709_294_709, 123_456),
            "2024-03-01T12.05.09.123456"
        );
        assert_eq!(
            policy_timestamp(951_782_400, 5),
            "2000-02-29T00.00.00.000005"
        );
        assert_eq!(policy_timestamp(4_102_444_799, 0), "2099-12-31T23.59.59");
    }

    #[test]
    fn federation_is_statement_zero_principal() {
        assert!(is_federated(&federation()));
        assert!(!is_federated(&ec2_trust_document()));
        assert!(!is_federated(&json!({"Statement": []})));
        assert!(!is_federated(&json!({"Statement": [{"Principal": "*"}]})));
        let doc = federation_document(&federation(), "arn:x");
        assert_eq!(doc["Statement"][0]["Principal"]["Federated"], "arn:x");
        assert!(render_document(&json!({"a": [1]})).contains("\n    \"a\": [\n        1"));
    }

    #[test]
    fn first_run_creates_everything_in_dependency_order() {
        let p = plan(&desired(), &empty_account(), NOW);
        let l = lines(&p);
        for expected in [
            "+ create user alice",
            "+ create user bob",
            "+ create group disco_admin",
            "+ create group disco_billing",
            "+ create group disco_readonly",
            "+ put policy admin_2024-03-01T12.00.00 on group disco_admin",
            "+ create role example_demo_admin (trust: the federation document as written)",
            "+ create role example_demo_readonly (trust: the federation document as written)",
            "+ create role billing (trust: its .tr file)",
            "+ create role instance_common (trust: EC2)",
            "+ create instance profile instance_common",
            "+ add role instance_common to instance profile instance_common",
            "+ put policy common_2024-03-01T12.00.00 on role instance_common",
            "+ add user alice to group disco_admin",
            "+ add user bob to group disco_billing",
        ] {
            assert!(
                l.contains(&expected.to_string()),
                "{expected} missing from {l:#?}"
            );
        }
        assert_eq!(l.len(), 2 + 3 + 3 + 4 + 4 + 1 + 1 + 4, "{l:#?}");
        assert!(p.actions.iter().all(|a| !a.is_deletion()));
        // Creations come before the things that need them.
        let pos = |s: &str| l.iter().position(|x| x == s).unwrap();
        assert!(pos("+ create user alice") < pos("+ add user alice to group disco_admin"));
        assert!(
            pos("+ create instance profile instance_common")
                < pos("+ add role instance_common to instance profile instance_common")
        );
        assert!(p.notes.iter().any(|n| n.contains("no SAML provider")));
    }

    #[test]
    fn second_run_is_empty() {
        let d = desired();
        let first = plan(&d, &empty_account(), NOW);
        let after = apply(&empty_account(), &first);
        let second = plan(&d, &after, "2024-03-02T00.00.00");
        assert!(second.is_empty(), "{:#?}", lines(&second));
    }

    #[test]
    fn reformatted_documents_and_old_timestamps_are_kept() {
        let d = desired();
        let mut o = apply(&empty_account(), &plan(&d, &empty_account(), NOW));
        // What the original left behind: same document, another timestamp.
        let g = o.groups.get_mut("disco_admin").unwrap();
        let doc = g.policies.remove("admin_2024-03-01T12.00.00").unwrap();
        let reparsed: Value = serde_json::from_str(&render_document(&doc)).unwrap();
        g.policies
            .insert("admin_2016-01-01T00.00.00.000001".into(), reparsed);
        assert!(plan(&d, &o, "later").is_empty());
    }

    #[test]
    fn changed_policy_is_put_under_a_new_name_and_the_old_one_deleted() {
        let mut d = desired();
        let o = apply(&empty_account(), &plan(&d, &empty_account(), NOW));
        d.user_policies
            .insert("readonly".into(), policy("s3:List*"));
        let p = plan(&d, &o, "T2");
        assert_eq!(
            lines(&p),
            vec![
                "+ put policy readonly_T2 on group disco_readonly",
                "+ put policy readonly_T2 on role example_demo_readonly",
                "- delete policy readonly_2024-03-01T12.00.00 of group disco_readonly",
                "- delete policy readonly_2024-03-01T12.00.00 of role example_demo_readonly",
            ]
        );
        assert!(plan(&d, &apply(&o, &p), "T3").is_empty());
    }

    #[test]
    fn user_removed_and_group_emptied() {
        let mut d = desired();
        let o = apply(&empty_account(), &plan(&d, &empty_account(), NOW));
        // bob leaves: disco_billing has no member left and is pruned; bob is deleted with
        // his memberships (no separate removal).
        d.membership.as_mut().unwrap().remove("bob");
        let p = plan(&d, &o, "T2");
        assert_eq!(
            lines(&p),
            vec![
                "- delete group disco_billing after removing its members and policies",
                "- delete user bob with its access keys, login profile, policies and memberships",
            ],
        );
        // The role of the pruned group's policy stays: roles are not memberships.
        let after = apply(&o, &p);
        assert!(after.roles.contains_key("billing"));
        assert!(plan(&d, &after, "T3").is_empty());
    }

    #[test]
    fn without_pruning_empty_groups_stay() {
        let mut d = desired();
        d.options.prune_empty_groups = false;
        d.membership.as_mut().unwrap().remove("bob");
        let p = plan(&d, &empty_account(), NOW);
        assert!(lines(&p).contains(&"+ create group disco_billing".to_string()));
    }

    #[test]
    fn users_not_created_by_asiaq_are_kept_unless_delete_unmanaged() {
        let mut d = desired();
        let mut o = apply(&empty_account(), &plan(&d, &empty_account(), NOW));
        o.users
            .insert("carol".into(), ObservedUser { managed: false });
        let p = plan(&d, &o, "T2");
        assert!(p.is_empty(), "{:#?}", lines(&p));
        assert!(p.notes.iter().any(|n| n.starts_with("user carol ")));
        d.options.delete_unmanaged = true;
        assert_eq!(
            lines(&plan(&d, &o, "T2")),
            vec![
                "- delete user carol with its access keys, login profile, policies and memberships"
            ]
        );
    }

    #[test]
    fn blacklisted_policy_keeps_its_group_and_loses_its_role() {
        let mut d = desired();
        let o = apply(&empty_account(), &plan(&d, &empty_account(), NOW));
        d.options.policy_blacklist = set(&["admin"]);
        let p = plan(&d, &o, "T2");
        assert_eq!(
            lines(&p),
            vec!["- delete role example_demo_admin with its policies and instance profiles"]
        );
    }

    #[test]
    fn unrelated_groups_and_roles_survive() {
        let d = desired();
        let mut o = empty_account();
        o.groups
            .insert("Developers".into(), ObservedGroup::default());
        o.groups
            .insert("disco_stale".into(), ObservedGroup::default());
        let role = |path: &str, managed: bool| ObservedRole {
            path: path.into(),
            trust: ec2_trust_document(),
            policies: BTreeMap::new(),
            managed,
        };
        o.roles.insert("ci-deployer".into(), role("/", false));
        o.roles.insert("example_demo_old".into(), role("/", false));
        o.roles.insert("instance_old".into(), role("/", false));
        o.roles.insert("oldnaked".into(), role("/", true));
        o.roles.insert(
            "AWSServiceRoleForSupport".into(),
            role("/aws-service-role/support.amazonaws.com/", false),
        );
        let l = lines(&plan(&d, &o, NOW));
        let deletions: Vec<&String> = l.iter().filter(|l| l.starts_with('-')).collect();
        assert_eq!(
            deletions,
            vec![
                "- delete group disco_stale after removing its members and policies",
                "- delete role example_demo_old with its policies and instance profiles",
                "- delete role instance_old with its policies and instance profiles",
                "- delete role oldnaked with its policies and instance profiles",
            ]
        );
        // The original's reach: every group, every role starting with role_prefix.
        let mut d = d;
        d.options.delete_unmanaged = true;
        o.roles.insert("exampleX".into(), role("/", false));
        let l = lines(&plan(&d, &o, NOW));
        assert!(l.contains(
            &"- delete group Developers after removing its members and policies".to_string()
        ));
        assert!(l.contains(
            &"- delete role exampleX with its policies and instance profiles".to_string()
        ));
        assert!(!l
            .iter()
            .any(|l| l.contains("ci-deployer") || l.contains("AWSServiceRole")));
    }

    #[test]
    fn saml_provider_is_created_once_and_used_by_federated_roles() {
        let mut d = desired();
        d.saml = Some(SamlDesired {
            name: "okta".into(),
            metadata: "<md/>".into(),
        });
        let o = empty_account();
        let p = plan(&d, &o, NOW);
        assert_eq!(
            p.actions[0].to_string(),
            "create SAML provider okta (5 bytes of metadata)"
        );
        let trust = p
            .actions
            .iter()
            .find_map(|a| match a {
                IamAction::CreateRole { name, trust, .. } if name == "example_demo_admin" => {
                    Some(trust.clone())
                }
                _ => None,
            })
            .unwrap();
        assert_eq!(
            trust["Statement"][0]["Principal"]["Federated"],
            "arn:aws:iam::123456789012:saml-provider/okta"
        );
        let mut after = apply(&o, &p);
        assert!(plan(&d, &after, "T2").is_empty());
        // New metadata is an update, not a delete and create.
        d.saml.as_mut().unwrap().metadata = "<md2/>".into();
        assert_eq!(
            lines(&plan(&d, &after, "T2")),
            vec!["~ update the metadata of SAML provider arn:aws:iam::123456789012:saml-provider/okta (6 bytes)"]
        );
        // Another provider is left alone unless delete_unmanaged.
        after.saml_providers.push(ObservedSamlProvider {
            arn: format!("{ARN}:saml-provider/other"),
            metadata: None,
        });
        d.saml.as_mut().unwrap().metadata = "<md/>".into();
        let p = plan(&d, &after, "T2");
        assert!(p.is_empty());
        assert!(p.notes[0].contains("saml-provider/other"));
        d.options.delete_unmanaged = true;
        assert_eq!(
            lines(&plan(&d, &after, "T2")),
            vec!["- delete SAML provider arn:aws:iam::123456789012:saml-provider/other"]
        );
    }

    #[test]
    fn changed_trust_is_updated() {
        let mut d = desired();
        let o = apply(&empty_account(), &plan(&d, &empty_account(), NOW));
        d.trust_documents.insert(
            "billing".into(),
            json!({"Statement": [{"Principal": {"AWS": "arn:aws:iam::444455556666:root"}}]}),
        );
        assert_eq!(
            lines(&plan(&d, &o, "T2")),
            vec!["~ update the trust policy of role billing (trust: its .tr file)"]
        );
    }

    #[test]
    fn trust_roles_without_any_document_keep_their_trust() {
        let mut d = desired();
        d.federation = None;
        let mut o = apply(&empty_account(), &plan(&d, &empty_account(), NOW));
        assert_eq!(o.roles["example_demo_admin"].trust, ec2_trust_document());
        o.roles.get_mut("example_demo_admin").unwrap().trust = json!({"custom": true});
        assert!(plan(&d, &o, "T2").is_empty());
    }

    #[test]
    fn federated_instance_role_is_replaced_with_its_profile() {
        let d = desired();
        let mut o = empty_account();
        o.roles.insert(
            "instance_common".into(),
            ObservedRole {
                path: "/".into(),
                trust: federation(),
                policies: [("common_old".to_string(), policy("x"))].into(),
                managed: false,
            },
        );
        o.instance_profiles
            .insert("instance_common".into(), set(&["instance_common"]));
        let p = plan(&d, &o, NOW);
        let l: Vec<String> = lines(&p)
            .into_iter()
            .filter(|l| l.contains("instance_common"))
            .collect();
        assert_eq!(
            l,
            vec![
                "- delete federated role instance_common with its policies and instance profiles (created again as an instance role)",
                "+ create instance profile instance_common",
                "+ create role instance_common (trust: EC2)",
                "+ add role instance_common to instance profile instance_common",
                "+ put policy common_2024-03-01T12.00.00 on role instance_common",
            ]
        );
        let after = apply(&o, &p);
        assert!(plan(&d, &after, "T2").is_empty());
    }

    #[test]
    fn instance_profile_missing_or_holding_another_role_is_repaired() {
        let d = desired();
        let mut o = apply(&empty_account(), &plan(&d, &empty_account(), NOW));
        o.instance_profiles.remove("instance_common");
        assert_eq!(
            lines(&plan(&d, &o, "T2")),
            vec![
                "+ create instance profile instance_common",
                "+ add role instance_common to instance profile instance_common",
            ]
        );
        o.instance_profiles
            .insert("instance_common".into(), set(&["someone_else"]));
        let p = plan(&d, &o, "T2");
        assert_eq!(
            lines(&p),
            vec![
                "- remove role someone_else from instance profile instance_common",
                "+ add role instance_common to instance profile instance_common",
            ]
        );
        assert!(plan(&d, &apply(&o, &p), "T3").is_empty());
    }

    #[test]
    fn without_group_membership_users_are_left_alone() {
        let mut d = desired();
        d.membership = None;
        let mut o = empty_account();
        o.users.insert("x".into(), ObservedUser { managed: true });
        let p = plan(&d, &o, NOW);
        assert!(!lines(&p).iter().any(|l| l.contains("user")));
        // No membership: nothing is known to be empty, so nothing is pruned.
        assert!(lines(&p).contains(&"+ create group disco_billing".to_string()));
        assert!(p.notes.iter().any(|n| n.contains("group_membership")));
    }

    #[test]
    fn stages_group_independent_actions() {
        let p = plan(&desired(), &empty_account(), NOW);
        let stages = p.stages();
        assert_eq!(stages.len(), 2);
        assert!(stages[0].iter().all(|a| matches!(
            a,
            IamAction::CreateUser { .. }
                | IamAction::CreateGroup { .. }
                | IamAction::CreateRole { .. }
                | IamAction::CreateInstanceProfile { .. }
        )));
    }

    #[test]
    fn ownership_by_name() {
        let o = IamOptions {
            role_prefix: Some("disco".into()),
            ..IamOptions::default()
        };
        assert_eq!(o.role_ownership("disco_dev_x", "/"), NameOwnership::Owned);
        assert_eq!(o.role_ownership("discovery", "/"), NameOwnership::ByTag);
        assert_eq!(o.role_ownership("instance_x", "/"), NameOwnership::Owned);
        assert_eq!(
            o.role_ownership("instance_x", "/aws-service-role/x/"),
            NameOwnership::Never
        );
        let none = IamOptions::default();
        assert_eq!(none.role_ownership("dev_x", "/"), NameOwnership::ByTag);
        assert!(none.deletes_group("disco_x"));
        assert!(!none.deletes_group("Admins"));
    }
}
