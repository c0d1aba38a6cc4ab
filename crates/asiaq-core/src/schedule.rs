//! Autoscaling group sizes and scheduled scaling (spec §4.6, §4.7).
//!
//! A pipeline size is a number or a schedule `N@cron:M@cron` ([`SizeSpec`]). The group gets
//! the minimum of `min_size`, the maximum of `max_size` and the **maximum** of
//! `desired_size`; every cron time of any of the three becomes one recurring scheduled
//! action carrying the values of each size at that time.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::syntax::SizeSpec;

/// The three sizes of a group as given (each `None` when not given).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct RequestedSizes {
    pub min: Option<u32>,
    pub desired: Option<u32>,
    pub max: Option<u32>,
}

impl RequestedSizes {
    /// Sizes of a pipeline row: min of `min_size`, max of `max_size`, max of `desired_size`
    /// (spec §4.6 "Provisioning uses these values").
    pub fn from_specs(min: &SizeSpec, desired: &SizeSpec, max: &SizeSpec) -> Self {
        RequestedSizes {
            min: min.min(),
            desired: desired.max(),
            max: max.max(),
        }
    }

    /// Sizes of a new group (spec §4.7): `MinSize = min or 0`,
    /// `MaxSize = max(min, max, desired, 0)`, `DesiredCapacity = desired or MaxSize`.
    ///
    /// The original's Python 2 `max()` with `None` sorts `None` below every integer, which
    /// is what ignoring the absent values does here.
    pub fn for_create(&self) -> GroupSizes {
        let min = self.min.unwrap_or(0);
        let max = [self.min, self.max, self.desired, Some(0)]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(0);
        let desired = self.desired.unwrap_or(max);
        GroupSizes { min, desired, max }
    }
}

/// The sizes a group is created with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GroupSizes {
    pub min: u32,
    pub desired: u32,
    pub max: u32,
}

/// One recurring scheduled action (`PutScheduledUpdateGroupAction`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduledAction {
    /// `<group>_<cron with '*' -> 'star' and ' ' -> '_'>`.
    pub name: String,
    /// The cron expression (`Recurrence`).
    pub recurrence: String,
    pub min: Option<u32>,
    pub desired: Option<u32>,
    pub max: Option<u32>,
}

/// The name of the scheduled action of `group` at `cron`.
pub fn scheduled_action_name(group: &str, cron: &str) -> String {
    format!("{group}_{}", cron.replace('*', "star").replace(' ', "_"))
}

/// `create_scaling_schedule(min, desired, max, group)` (spec §4.6): one action per cron time
/// appearing in any of the three sizes, in cron-string order, with each size's value at that
/// time (`None` when that size has no entry for it). Plain numbers contribute no action.
/// The caller first deletes every recurring action of the group, then creates these.
pub fn scaling_schedule(
    group: &str,
    min: &SizeSpec,
    desired: &SizeSpec,
    max: &SizeSpec,
) -> Vec<ScheduledAction> {
    let (mins, desireds, maxes) = (min.schedule(), desired.schedule(), max.schedule());
    let crons: BTreeSet<&String> = mins
        .keys()
        .chain(desireds.keys())
        .chain(maxes.keys())
        .collect();
    let at = |m: &BTreeMap<String, u32>, c: &str| m.get(c).copied();
    crons
        .into_iter()
        .map(|cron| ScheduledAction {
            name: scheduled_action_name(group, cron),
            recurrence: cron.clone(),
            min: at(&mins, cron),
            desired: at(&desireds, cron),
            max: at(&maxes, cron),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse_size;

    fn s(v: &str) -> SizeSpec {
        parse_size(v).unwrap()
    }

    type Triple<'a> = (&'a str, Option<u32>, Option<u32>, Option<u32>);

    fn triples(actions: &[ScheduledAction]) -> Vec<Triple<'_>> {
        actions
            .iter()
            .map(|a| (a.recurrence.as_str(), a.min, a.desired, a.max))
            .collect()
    }

    #[test]
    fn recurrence_map_acceptance() {
        // None, '' -> {"": None}; min/max None.
        assert_eq!(
            s("").as_recurrence_map(""),
            BTreeMap::from([(String::new(), None)])
        );
        assert_eq!(s("").min(), None);
        assert_eq!(s("").max(), None);
        // 5 with a sentinel.
        assert_eq!(
            s("5").as_recurrence_map("0 0 * * *"),
            BTreeMap::from([("0 0 * * *".to_string(), Some(5))])
        );
        // Two parts, and the same with a duplicated part.
        for text in [
            "2@1 0 * * *:3@6 0 * * *",
            "2@1 0 * * *:3@6 0 * * *:3@6 0 * * *",
        ] {
            let size = s(text);
            assert_eq!(
                size.as_recurrence_map(""),
                BTreeMap::from([
                    ("1 0 * * *".to_string(), Some(2)),
                    ("6 0 * * *".to_string(), Some(3))
                ])
            );
            assert_eq!((size.min(), size.max()), (Some(2), Some(3)));
        }
    }

    #[test]
    fn schedule_only_desired() {
        let a = scaling_schedule("g", &s("1"), &s("2@1 0 * * *:3@6 0 * * *"), &s("5"));
        assert_eq!(
            triples(&a),
            vec![
                ("1 0 * * *", None, Some(2), None),
                ("6 0 * * *", None, Some(3), None)
            ]
        );
    }

    #[test]
    fn schedule_none_for_plain_numbers() {
        assert!(scaling_schedule("g", &s("1"), &s("2"), &s("5")).is_empty());
        assert!(scaling_schedule("g", &s(""), &s(""), &s("")).is_empty());
    }

    #[test]
    fn schedule_overlapping() {
        let a = scaling_schedule(
            "g",
            &s("1@1 0 * * *:2@6 0 * * *"),
            &s("2@1 0 * * *:3@6 0 * * *"),
            &s("6@1 0 * * *:9@6 0 * * *"),
        );
        assert_eq!(
            triples(&a),
            vec![
                ("1 0 * * *", Some(1), Some(2), Some(6)),
                ("6 0 * * *", Some(2), Some(3), Some(9))
            ]
        );
    }

    #[test]
    fn schedule_mixed() {
        let a = scaling_schedule(
            "ci_mhcfoo_1",
            &s("1@1 0 * * *:2@7 0 * * *"),
            &s("2@1 0 * * *:3@6 0 * * *"),
            &s("6@2 0 * * *:9@6 0 * * *"),
        );
        assert_eq!(
            triples(&a),
            vec![
                ("1 0 * * *", Some(1), Some(2), None),
                ("2 0 * * *", None, None, Some(6)),
                ("6 0 * * *", None, Some(3), Some(9)),
                ("7 0 * * *", Some(2), None, None),
            ]
        );
        assert_eq!(a[0].name, "ci_mhcfoo_1_1_0_star_star_star");
    }

    #[test]
    fn group_sizes_from_pipeline_sizes() {
        let r = RequestedSizes::from_specs(
            &s("1@1 0 * * *:2@7 0 * * *"),
            &s("2@1 0 * * *:3@6 0 * * *"),
            &s("6@2 0 * * *:9@6 0 * * *"),
        );
        assert_eq!(
            r,
            RequestedSizes {
                min: Some(1),
                desired: Some(3),
                max: Some(9)
            }
        );
    }

    #[test]
    fn create_sizes_acceptance() {
        let c = |min, max, desired| RequestedSizes { min, desired, max }.for_create();
        assert_eq!(
            c(None, Some(5), Some(4)),
            GroupSizes {
                min: 0,
                desired: 4,
                max: 5
            }
        );
        assert_eq!(
            c(Some(1), None, Some(4)),
            GroupSizes {
                min: 1,
                desired: 4,
                max: 4
            }
        );
        assert_eq!(
            c(None, None, None),
            GroupSizes {
                min: 0,
                desired: 0,
                max: 0
            }
        );
        assert_eq!(
            c(Some(2), None, None),
            GroupSizes {
                min: 2,
                desired: 2,
                max: 2
            }
        );
    }
}
