//! Autoscaling groups: naming, which groups belong to an environment and a hostclass, the
//! choice among existing groups, default scaling policies and the `createpolicy` argument
//! grammar (spec §2.6, §4.7).

use serde::Serialize;

/// The name of a new group (and of its launch template): `<env>_<hostclass>_<epoch>`.
pub fn group_name(env: &str, hostclass: &str, epoch: u64) -> String {
    format!("{env}_{hostclass}_{epoch}")
}

/// The hostclass of a group or launch template name: `'_'.join(name.split('_')[1:-1])`,
/// so hostclasses may contain `_`. Names with fewer than three parts give `""`.
pub fn hostclass_of_group(name: &str) -> String {
    let parts: Vec<&str> = name.split('_').collect();
    if parts.len() < 3 {
        return String::new();
    }
    parts[1..parts.len() - 1].join("_")
}

/// Whether a group or launch template name belongs to `env` (starts with `<env>_`).
pub fn belongs_to_env(name: &str, env: &str) -> bool {
    name.strip_prefix(env)
        .is_some_and(|rest| rest.starts_with('_'))
}

/// `get_existing_groups`: the names of `env`'s groups of `hostclass`, newest first (name
/// descending, as the original sorted).
pub fn groups_of_hostclass<'a>(names: &[&'a str], env: &str, hostclass: &str) -> Vec<&'a str> {
    let mut out: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| belongs_to_env(n, env) && hostclass_of_group(n) == hostclass)
        .collect();
    out.sort_by(|a, b| b.cmp(a));
    out
}

/// More groups of one hostclass than a command can work with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("hostclass {hostclass} has {} autoscaling groups ({}); expected at most {allowed}", groups.len(), groups.join(", "))]
pub struct TooManyGroups {
    pub hostclass: String,
    pub groups: Vec<String>,
    pub allowed: usize,
}

/// `get_existing_group` (spec §4.7): no group → `None`; one → it; two → the newest when
/// `allow_two` (a blue/green deploy in progress), otherwise [`TooManyGroups`]; three or
/// more → [`TooManyGroups`]. `names` are already the hostclass's groups.
pub fn existing_group<'a>(
    names: &[&'a str],
    hostclass: &str,
    allow_two: bool,
) -> Result<Option<&'a str>, TooManyGroups> {
    let mut sorted = names.to_vec();
    sorted.sort_by(|a, b| b.cmp(a));
    match sorted.len() {
        0 => Ok(None),
        1 => Ok(Some(sorted[0])),
        2 if allow_two => Ok(Some(sorted[0])),
        _ => Err(TooManyGroups {
            hostclass: hostclass.to_string(),
            groups: sorted.iter().map(|s| s.to_string()).collect(),
            allowed: if allow_two { 2 } else { 1 },
        }),
    }
}

/// The termination policies of a group: as given, else `OldestLaunchTemplate`.
///
/// Decision: groups use launch templates (AWS is retiring launch configurations), so the
/// original's default `OldestLaunchConfiguration` becomes `OldestLaunchTemplate`, and a
/// pipeline's `OldestLaunchConfiguration` is translated to it (the same intent: replace
/// instances of older configurations first; the configuration-based policy would do nothing
/// on a launch-template group).
pub fn termination_policies(given: &[String]) -> Vec<String> {
    if given.is_empty() {
        return vec!["OldestLaunchTemplate".to_string()];
    }
    let mut out: Vec<String> = Vec::new();
    for p in given {
        let p = if p == "OldestLaunchConfiguration" {
            "OldestLaunchTemplate".to_string()
        } else {
            p.clone()
        };
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// A step of a StepScaling policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepAdjustment {
    pub lower_bound: Option<f64>,
    pub upper_bound: Option<f64>,
    pub scaling_adjustment: i32,
}

/// A scaling policy to put on a group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScalingPolicySpec {
    pub name: String,
    /// `SimpleScaling` or `StepScaling`.
    pub policy_type: String,
    /// `ChangeInCapacity`, `ExactCapacity` or `PercentChangeInCapacity`.
    pub adjustment_type: String,
    pub scaling_adjustment: Option<i32>,
    pub min_adjustment_magnitude: Option<i32>,
    /// SimpleScaling only.
    pub cooldown: Option<i32>,
    /// StepScaling only.
    pub metric_aggregation_type: Option<String>,
    pub step_adjustments: Vec<StepAdjustment>,
    /// StepScaling only.
    pub estimated_instance_warmup: Option<i32>,
}

impl ScalingPolicySpec {
    /// The policy as its type takes it (`createpolicy`): StepScaling needs step
    /// adjustments and keeps the warmup, not the scaling adjustment or cooldown;
    /// SimpleScaling needs a scaling adjustment and keeps the cooldown, not the warmup. The
    /// error names the flag missing.
    pub fn for_its_type(mut self) -> Result<Self, String> {
        if self.policy_type == "StepScaling" {
            if self.step_adjustments.is_empty() {
                return Err(
                    "--policy-type StepScaling needs at least one --step-adjustments".into(),
                );
            }
            self.scaling_adjustment = None;
            self.cooldown = None;
        } else {
            if self.scaling_adjustment.is_none() {
                return Err("--policy-type SimpleScaling needs --scaling-adjustment".into());
            }
            self.estimated_instance_warmup = None;
        }
        Ok(self)
    }
}

/// The two policies every create or update upserts (spec §4.7): `up` +10% and `down` -10%,
/// SimpleScaling, PercentChangeInCapacity, MinAdjustmentMagnitude 1, Cooldown 600.
pub fn default_policies() -> Vec<ScalingPolicySpec> {
    [("up", 10), ("down", -10)]
        .into_iter()
        .map(|(name, adj)| ScalingPolicySpec {
            name: name.to_string(),
            policy_type: "SimpleScaling".to_string(),
            adjustment_type: "PercentChangeInCapacity".to_string(),
            scaling_adjustment: Some(adj),
            min_adjustment_magnitude: Some(1),
            cooldown: Some(600),
            metric_aggregation_type: None,
            step_adjustments: Vec::new(),
            estimated_instance_warmup: None,
        })
        .collect()
}

/// A `--step-adjustments` value that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("step adjustment {text:?}: {problem} (expected MetricIntervalLowerBound=N,MetricIntervalUpperBound=N,ScalingAdjustment=N with any of the bounds left out)")]
pub struct StepAdjustmentError {
    pub text: String,
    pub problem: String,
}

/// Parses one `--step-adjustments` value of `createpolicy`:
/// `MetricIntervalLowerBound=..,MetricIntervalUpperBound=..,ScalingAdjustment=..`. Any other
/// key is an error, as in the original; `ScalingAdjustment` is required.
pub fn parse_step_adjustment(text: &str) -> Result<StepAdjustment, StepAdjustmentError> {
    let fail = |problem: String| StepAdjustmentError {
        text: text.to_string(),
        problem,
    };
    let mut out = StepAdjustment {
        lower_bound: None,
        upper_bound: None,
        scaling_adjustment: 0,
    };
    let mut adjustment = None;
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| fail(format!("{part:?} is not key=value")))?;
        let (k, v) = (k.trim(), v.trim());
        let number = |v: &str| {
            v.parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .ok_or_else(|| fail(format!("{k}: {v:?} is not a number")))
        };
        match k {
            "MetricIntervalLowerBound" => out.lower_bound = Some(number(v)?),
            "MetricIntervalUpperBound" => out.upper_bound = Some(number(v)?),
            "ScalingAdjustment" => {
                adjustment =
                    Some(v.parse::<i32>().map_err(|_| {
                        fail(format!("ScalingAdjustment: {v:?} is not a whole number"))
                    })?)
            }
            other => return Err(fail(format!("unknown key {other:?}"))),
        }
    }
    out.scaling_adjustment =
        adjustment.ok_or_else(|| fail("ScalingAdjustment is missing".to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_hostclass_of_group() {
        assert_eq!(
            group_name("ci", "mhcfoo", 1_700_000_000),
            "ci_mhcfoo_1700000000"
        );
        assert_eq!(hostclass_of_group("ci_mhcfoo_1700000000"), "mhcfoo");
        assert_eq!(hostclass_of_group("ci_mhc_foo_bar_17"), "mhc_foo_bar");
        assert_eq!(hostclass_of_group("ci_17"), "");
        assert!(belongs_to_env("ci_mhcfoo_1", "ci"));
        assert!(!belongs_to_env("cix_mhcfoo_1", "ci"));
        assert!(!belongs_to_env("ci", "ci"));
    }

    #[test]
    fn groups_of_a_hostclass_newest_first() {
        let names = [
            "ci_mhcfoo_100",
            "ci_mhcfoo_200",
            "ci_mhcfoo_bar_300",
            "prod_mhcfoo_400",
        ];
        assert_eq!(
            groups_of_hostclass(&names, "ci", "mhcfoo"),
            vec!["ci_mhcfoo_200", "ci_mhcfoo_100"]
        );
        assert_eq!(
            groups_of_hostclass(&names, "ci", "mhcfoo_bar"),
            vec!["ci_mhcfoo_bar_300"]
        );
    }

    #[test]
    fn existing_group_semantics() {
        assert_eq!(existing_group(&[], "h", false), Ok(None));
        assert_eq!(existing_group(&["e_h_1"], "h", false), Ok(Some("e_h_1")));
        assert_eq!(
            existing_group(&["e_h_1", "e_h_2"], "h", true),
            Ok(Some("e_h_2"))
        );
        let err = existing_group(&["e_h_1", "e_h_2"], "h", false).unwrap_err();
        assert_eq!(err.groups, vec!["e_h_2", "e_h_1"]);
        assert!(existing_group(&["e_h_1", "e_h_2", "e_h_3"], "h", true).is_err());
    }

    #[test]
    fn termination_policy_default_and_translation() {
        assert_eq!(termination_policies(&[]), vec!["OldestLaunchTemplate"]);
        assert_eq!(
            termination_policies(&[
                "OldestLaunchConfiguration".into(),
                "OldestInstance".into(),
                "OldestLaunchTemplate".into()
            ]),
            vec!["OldestLaunchTemplate", "OldestInstance"]
        );
    }

    #[test]
    fn default_up_and_down_policies() {
        let p = default_policies();
        assert_eq!(p.len(), 2);
        assert_eq!(
            (p[0].name.as_str(), p[0].scaling_adjustment),
            ("up", Some(10))
        );
        assert_eq!(
            (p[1].name.as_str(), p[1].scaling_adjustment),
            ("down", Some(-10))
        );
        for x in &p {
            assert_eq!(x.policy_type, "SimpleScaling");
            assert_eq!(x.adjustment_type, "PercentChangeInCapacity");
            assert_eq!(x.min_adjustment_magnitude, Some(1));
            assert_eq!(x.cooldown, Some(600));
        }
    }

    #[test]
    fn step_adjustments() {
        assert_eq!(
            parse_step_adjustment(
                "MetricIntervalLowerBound=0,MetricIntervalUpperBound=10.5,ScalingAdjustment=2"
            )
            .unwrap(),
            StepAdjustment {
                lower_bound: Some(0.0),
                upper_bound: Some(10.5),
                scaling_adjustment: 2
            }
        );
        assert_eq!(
            parse_step_adjustment("ScalingAdjustment=-1")
                .unwrap()
                .scaling_adjustment,
            -1
        );
        assert!(parse_step_adjustment("Cooldown=5,ScalingAdjustment=1").is_err());
        assert!(parse_step_adjustment("MetricIntervalLowerBound=1").is_err());
        assert!(parse_step_adjustment("ScalingAdjustment=x").is_err());
    }

    #[test]
    fn policies_as_their_type_takes_them() {
        let spec = |policy_type: &str| ScalingPolicySpec {
            name: "up".into(),
            policy_type: policy_type.into(),
            adjustment_type: "ChangeInCapacity".into(),
            scaling_adjustment: Some(2),
            min_adjustment_magnitude: None,
            cooldown: Some(600),
            metric_aggregation_type: None,
            step_adjustments: vec![],
            estimated_instance_warmup: Some(300),
        };
        let simple = spec("SimpleScaling").for_its_type().unwrap();
        assert_eq!(
            (
                simple.scaling_adjustment,
                simple.cooldown,
                simple.estimated_instance_warmup
            ),
            (Some(2), Some(600), None)
        );
        assert_eq!(
            ScalingPolicySpec {
                scaling_adjustment: None,
                ..spec("SimpleScaling")
            }
            .for_its_type()
            .unwrap_err(),
            "--policy-type SimpleScaling needs --scaling-adjustment"
        );
        assert!(spec("StepScaling").for_its_type().is_err());
        let step = ScalingPolicySpec {
            step_adjustments: vec![parse_step_adjustment("ScalingAdjustment=1").unwrap()],
            ..spec("StepScaling")
        }
        .for_its_type()
        .unwrap();
        assert_eq!(
            (
                step.scaling_adjustment,
                step.cooldown,
                step.estimated_instance_warmup
            ),
            (None, None, Some(300))
        );
    }
}
