//! `asiaq sandbox NAME` (spec §2.26): one plan for the whole sequence, which the dry run
//! prints: the configuration files to put in the sandbox bucket (only those that differ),
//! then the environment's create (type `sandbox`) or update, then the spinup of the
//! sandbox's pipeline. Each part is planned by its own module (`app_conf`'s object plan, the
//! VPC plan, the hosts plan); this module joins them, in order, into one plan to show.
//!
//! The spinup of an environment that does not exist yet cannot be planned in detail (its
//! subnets and security groups are not there to look at): it shows as one step naming the
//! pipeline and its hostclasses, planned in full once the environment exists. In an
//! existing sandbox only the hostclasses without a group are spun up ([`missing_only`]):
//! a re-run finishes what a failed run left, and a second run changes nothing.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::app_conf::AppConfAction;
use super::hosts::HostsAction;
use super::{Change, Plan, PlanAction, Resource, Step};
use crate::provision::{GroupAction, HostclassPlan};
use crate::vpc::plan::Action as VpcAction;

/// The environment type a sandbox is made with.
pub const SANDBOX_TYPE: &str = "sandbox";

/// One step of a sandbox's plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "part", rename_all = "snake_case")]
pub enum SandboxAction {
    /// A configuration file to put in (or, when destroying, take out of) the bucket.
    Sync { bucket: String, step: AppConfAction },
    /// A step of the environment's create, update or destroy.
    Environment { step: VpcAction },
    /// A step of the pipeline's spinup.
    Spinup { step: HostsAction },
    /// The spinup of a pipeline in an environment still to be created.
    SpinupPipeline {
        pipeline: String,
        hostclasses: Vec<String>,
    },
}

impl fmt::Display for SandboxAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SandboxAction::Sync { bucket, step } => write!(f, "{step} in s3://{bucket}"),
            SandboxAction::Environment { step } => write!(f, "{step}"),
            SandboxAction::Spinup { step } => write!(f, "{step}"),
            SandboxAction::SpinupPipeline {
                pipeline,
                hostclasses,
            } => write!(
                f,
                "spin up {pipeline} ({}), planned in full once the environment exists",
                hostclasses.join(", ")
            ),
        }
    }
}

impl PlanAction for SandboxAction {
    fn resource(&self) -> Resource {
        match self {
            SandboxAction::Sync { bucket, step } => {
                Resource::new("object", format!("s3://{bucket}/{}", step.key()))
            }
            SandboxAction::Environment { step } => step.resource(),
            SandboxAction::Spinup { step } => step.resource(),
            SandboxAction::SpinupPipeline { pipeline, .. } => {
                Resource::new("pipeline", pipeline.clone())
            }
        }
    }

    fn change(&self) -> Change {
        match self {
            SandboxAction::Sync { step, .. } => step.change(),
            SandboxAction::Environment { step } => step.change(),
            SandboxAction::Spinup { step } => step.change(),
            SandboxAction::SpinupPipeline { .. } => Change::Create,
        }
    }

    fn creates(&self) -> Option<&str> {
        match self {
            SandboxAction::Environment { step } => step.creates(),
            SandboxAction::Spinup { step } => step.creates(),
            SandboxAction::Sync { .. } | SandboxAction::SpinupPipeline { .. } => None,
        }
    }

    fn name(&self) -> String {
        match self {
            SandboxAction::Sync { step, .. } => step.name(),
            SandboxAction::Environment { step } => step.name(),
            SandboxAction::Spinup { step } => step.name(),
            SandboxAction::SpinupPipeline { .. } => "spinup_pipeline".into(),
        }
    }
}

/// The same plan with each action wrapped by `wrap` (steps and their order unchanged).
pub fn wrap_plan<A, B>(plan: Plan<A>, wrap: impl Fn(A) -> B) -> Plan<B> {
    Plan {
        steps: plan
            .steps
            .into_iter()
            .map(|s| Step {
                id: s.id,
                action: wrap(s.action),
                after: s.after,
            })
            .collect(),
    }
}

/// The spinup part of a sandbox's plan.
#[derive(Debug, Clone)]
pub enum SpinupPart {
    /// Planned against the existing environment.
    Planned(Plan<HostsAction>),
    /// The environment does not exist yet.
    Later {
        pipeline: String,
        hostclasses: Vec<String>,
    },
}

/// The sandbox's plan: the bucket's uploads, then the environment's steps, then the spinup;
/// each part after every step of the one before.
pub fn sandbox_plan(
    bucket: Option<&str>,
    sync: Plan<AppConfAction>,
    environment: Plan<VpcAction>,
    spinup: SpinupPart,
) -> Plan<SandboxAction> {
    let sync = wrap_plan(sync, |step| SandboxAction::Sync {
        bucket: bucket.unwrap_or_default().to_string(),
        step,
    });
    let env = wrap_plan(environment, |step| SandboxAction::Environment { step });
    let spinup = match spinup {
        SpinupPart::Planned(p) => wrap_plan(p, |step| SandboxAction::Spinup { step }),
        SpinupPart::Later {
            pipeline,
            hostclasses,
        } => Plan {
            steps: vec![Step {
                id: 0,
                action: SandboxAction::SpinupPipeline {
                    pipeline,
                    hostclasses,
                },
                after: vec![],
            }],
        },
    };
    sync.then(env).then(spinup)
}

/// The destruction of a sandbox: the environment's destroy plan (which takes its
/// autoscaling groups, instances and load balancers down first), then the sandbox's files
/// in the bucket.
pub fn destroy_plan(
    bucket: Option<&str>,
    environment: Plan<VpcAction>,
    files: Plan<AppConfAction>,
) -> Plan<SandboxAction> {
    let env = wrap_plan(environment, |step| SandboxAction::Environment { step });
    let files = wrap_plan(files, |step| SandboxAction::Sync {
        bucket: bucket.unwrap_or_default().to_string(),
        step,
    });
    env.then(files)
}

/// The spinup plans of hostclasses that have no group yet, and a note for each one that
/// has one (left as it is).
pub fn missing_only(
    plans: Vec<HostclassPlan>,
    env: &str,
    pipeline: &str,
) -> (Vec<HostclassPlan>, Vec<String>) {
    let (missing, existing): (Vec<_>, Vec<_>) = plans
        .into_iter()
        .partition(|p| matches!(p.action, GroupAction::Create { .. }));
    let notes = existing
        .iter()
        .map(|p| {
            format!(
                "{}: group {} exists and is left as it is (to provision it again: asiaq --env {env} aws spinup --pipeline {pipeline})",
                p.hostclass, p.group_name
            )
        })
        .collect();
    (missing, notes)
}

/// Why `asiaq sandbox NAME` refuses an existing environment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment {name} exists and is of type {}, not a sandbox: `asiaq sandbox` only creates and updates sandboxes (use `asiaq vpc update` and `asiaq aws spinup` for it)", env_type.as_deref().unwrap_or("unknown (no type tag)"))]
pub struct NotASandbox {
    pub name: String,
    pub env_type: Option<String>,
}

/// The environment type to plan `name` with: `sandbox` for a new environment, and for an
/// existing one its own type, which must be `sandbox`.
pub fn environment_type(
    name: &str,
    existing: Option<Option<&str>>,
) -> Result<&'static str, NotASandbox> {
    match existing {
        None | Some(Some(SANDBOX_TYPE)) => Ok(SANDBOX_TYPE),
        Some(other) => Err(NotASandbox {
            name: name.to_string(),
            env_type: other.map(str::to_string),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::PlanBuilder;

    fn uploads(keys: &[&str]) -> Plan<AppConfAction> {
        let mut b = PlanBuilder::new();
        for k in keys {
            b.add(
                AppConfAction::Upload {
                    key: k.to_string(),
                    new: true,
                },
                &[],
            );
        }
        b.build()
    }

    #[test]
    fn parts_follow_each_other() {
        let plan = sandbox_plan(
            Some("sandboxes.example"),
            uploads(&["zk/bob", "fw/bob"]),
            Plan::default(),
            SpinupPart::Later {
                pipeline: "sandboxes/bob/pipeline.csv".into(),
                hostclasses: vec!["mhcntp".into(), "mhcapp".into()],
            },
        );
        assert_eq!(plan.len(), 3);
        let texts: Vec<String> = plan.steps.iter().map(|s| s.action.to_string()).collect();
        assert_eq!(
            texts,
            [
                "upload zk/bob in s3://sandboxes.example",
                "upload fw/bob in s3://sandboxes.example",
                "spin up sandboxes/bob/pipeline.csv (mhcntp, mhcapp), planned in full once the environment exists"
            ]
        );
        // The spinup waits for both uploads.
        assert_eq!(plan.steps[2].after, vec![0, 1]);
        assert_eq!(
            plan.steps[0].action.resource(),
            Resource::new("object", "s3://sandboxes.example/zk/bob")
        );
        assert_eq!(plan.steps[2].action.change(), Change::Create);
        assert_eq!(plan.steps[0].action.name(), "Upload");
        // JSON round trip (the engine's reference resolution goes through it).
        let v = serde_json::to_value(&plan.steps[0].action).unwrap();
        assert_eq!(v["part"], "sync");
        let back: SandboxAction = serde_json::from_value(v).unwrap();
        assert_eq!(back, plan.steps[0].action);
    }

    #[test]
    fn nothing_to_do_is_an_empty_plan() {
        let plan = sandbox_plan(
            None,
            Plan::default(),
            Plan::default(),
            SpinupPart::Planned(Plan::default()),
        );
        assert!(plan.is_empty());
        let d = destroy_plan(None, Plan::default(), Plan::default());
        assert!(d.is_empty());
        let d = destroy_plan(
            Some("b"),
            Plan::default(),
            wrap_plan(uploads(&["k"]), |a| match a {
                AppConfAction::Upload { key, .. } => AppConfAction::Delete { key },
                other => other,
            }),
        );
        assert_eq!(d.steps[0].action.to_string(), "delete k in s3://b");
    }

    #[test]
    fn only_hostclasses_without_a_group_are_spun_up() {
        use crate::provision::tests::{env, observed, request, settings};
        use crate::provision::{plan_hostclass, ExistingGroup, HostclassObservation};
        use crate::syntax::MetaNetworkName;
        let plan = |hc: &str, existing: Option<ExistingGroup>| {
            let seen = HostclassObservation {
                existing,
                ..observed()
            };
            plan_hostclass(
                &request(hc),
                &settings(hc, MetaNetworkName::Intranet),
                &env(),
                &seen,
                1,
            )
            .unwrap()
        };
        let group = ExistingGroup {
            name: "bob_mhcntp_1".into(),
            launch_template_id: Some("lt-1".into()),
            launch_template_name: Some("bob_mhcntp_1".into()),
            launch_configuration: None,
            instance_type: Some("t2.micro".into()),
            load_balancers: vec![],
            target_group_arns: vec![],
        };
        let (missing, notes) = missing_only(
            vec![plan("mhcntp", Some(group)), plan("mhcapp", None)],
            "bob",
            "sandboxes/bob/pipeline.csv",
        );
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].hostclass, "mhcapp");
        assert_eq!(
            notes,
            ["mhcntp: group bob_mhcntp_1 exists and is left as it is (to provision it again: asiaq --env bob aws spinup --pipeline sandboxes/bob/pipeline.csv)"]
        );
    }

    #[test]
    fn only_sandboxes_are_touched() {
        assert_eq!(environment_type("bob", None), Ok("sandbox"));
        assert_eq!(
            environment_type("bob", Some(Some("sandbox"))),
            Ok("sandbox")
        );
        let err = environment_type("ci", Some(Some("production"))).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("environment ci exists and is of type production, not a sandbox"));
        assert!(environment_type("ci", Some(None))
            .unwrap_err()
            .to_string()
            .contains("unknown (no type tag)"));
    }
}
