//! Chaos: which instances to terminate (spec §4.17), with randomness injected.
//!
//! The original's selection: groups whose `chaos` tag is truthy (absent counts as true);
//! per group a random sample of `floor(desired × (1 − retainage/100))` instances is
//! eligible; `count = max(int(total × level/100), 1)` victims are drawn from all eligible
//! instances. Beyond the original: an availability-zone mode (kill every instance of the
//! environment in one zone, still keeping each group's retainage) and a hostclass filter.

use rand::seq::SliceRandom;
use rand::Rng;
use serde::Serialize;

use crate::syntax::is_truthy;

/// An instance of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChaosInstance {
    pub id: String,
    pub availability_zone: String,
}

/// A group as chaos sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChaosGroup {
    pub name: String,
    pub hostclass: String,
    pub desired_capacity: u32,
    /// The group's `chaos` tag; `None` when absent.
    pub chaos_tag: Option<String>,
    /// The hostclass's `chaos` option, used when the tag is absent (`None`: not set).
    pub chaos_option: Option<String>,
    pub instances: Vec<ChaosInstance>,
}

impl ChaosGroup {
    /// Opted in: the tag decides, else the hostclass option, else yes.
    pub fn is_chaotic(&self) -> bool {
        match (&self.chaos_tag, &self.chaos_option) {
            (Some(tag), _) => is_truthy(tag),
            (None, Some(opt)) => is_truthy(opt),
            (None, None) => true,
        }
    }

    /// How many of its instances may be killed: `floor(desired × (1 − retainage/100))`,
    /// computed in floating point exactly as the original did.
    pub fn killable(&self, retainage: f64) -> usize {
        let n = (f64::from(self.desired_capacity) * (1.0 - retainage / 100.0)).floor();
        if n <= 0.0 {
            0
        } else {
            n as usize
        }
    }
}

/// One instance to terminate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Victim {
    pub hostclass: String,
    pub group: String,
    pub instance_id: String,
    pub availability_zone: String,
}

/// What to select.
#[derive(Debug, Clone, PartialEq)]
pub struct ChaosOptions {
    /// Percent of the instances of chaotic groups to kill (default 1.0).
    pub level: f64,
    /// Percent of each group's desired capacity to keep (default 0.0).
    pub retainage: f64,
    /// Only groups of this hostclass.
    pub hostclass: Option<String>,
    /// Availability-zone mode: every instance in this zone (up to each group's killable
    /// count), instead of the level-based draw.
    pub availability_zone: Option<String>,
}

impl ChaosOptions {
    /// Checks the percentages: `level` above 0 and at most 100, `retainage` from 0 to 100.
    /// The error names the flag (`--level`, `--retainage`).
    pub fn check(&self) -> Result<(), String> {
        if !(self.level > 0.0 && self.level <= 100.0) {
            return Err(format!(
                "--level {}: expected a percentage above 0 and at most 100",
                self.level
            ));
        }
        if !(0.0..=100.0).contains(&self.retainage) {
            return Err(format!(
                "--retainage {}: expected a percentage from 0 to 100",
                self.retainage
            ));
        }
        Ok(())
    }
}

impl Default for ChaosOptions {
    fn default() -> Self {
        ChaosOptions {
            level: 1.0,
            retainage: 0.0,
            hostclass: None,
            availability_zone: None,
        }
    }
}

fn victim(g: &ChaosGroup, i: &ChaosInstance) -> Victim {
    Victim {
        hostclass: g.hostclass.clone(),
        group: g.name.clone(),
        instance_id: i.id.clone(),
        availability_zone: i.availability_zone.clone(),
    }
}

/// The groups in play: chaotic, and of the hostclass when one is given.
pub fn chaotic_groups<'a>(groups: &'a [ChaosGroup], opts: &ChaosOptions) -> Vec<&'a ChaosGroup> {
    groups
        .iter()
        .filter(|g| g.is_chaotic())
        .filter(|g| opts.hostclass.as_deref().is_none_or(|h| g.hostclass == h))
        .collect()
}

/// The eligible pool: per chaotic group, a random sample of its killable size.
pub fn eligible<R: Rng + ?Sized>(
    groups: &[ChaosGroup],
    opts: &ChaosOptions,
    rng: &mut R,
) -> Vec<Victim> {
    let mut out = Vec::new();
    for g in chaotic_groups(groups, opts) {
        let n = g.killable(opts.retainage).min(g.instances.len());
        out.extend(g.instances.choose_multiple(rng, n).map(|i| victim(g, i)));
    }
    out
}

/// `max(int(total × level/100), 1)` over the instances of the chaotic groups.
pub fn victim_count(groups: &[ChaosGroup], opts: &ChaosOptions) -> usize {
    let total: usize = chaotic_groups(groups, opts)
        .iter()
        .map(|g| g.instances.len())
        .sum();
    ((total as f64 * opts.level / 100.0) as usize).max(1)
}

/// The victims. Level mode: `min(count, eligible)` drawn at random from the eligible pool.
/// Zone mode: in each chaotic group, the instances in the zone, at most its killable count
/// (chosen at random when there are more).
pub fn select_victims<R: Rng + ?Sized>(
    groups: &[ChaosGroup],
    opts: &ChaosOptions,
    rng: &mut R,
) -> Vec<Victim> {
    if let Some(az) = &opts.availability_zone {
        let mut out = Vec::new();
        for g in chaotic_groups(groups, opts) {
            let in_zone: Vec<&ChaosInstance> = g
                .instances
                .iter()
                .filter(|i| &i.availability_zone == az)
                .collect();
            let n = g.killable(opts.retainage).min(in_zone.len());
            out.extend(in_zone.choose_multiple(rng, n).map(|i| victim(g, i)));
        }
        return out;
    }
    let pool = eligible(groups, opts, rng);
    if pool.is_empty() {
        return Vec::new();
    }
    let n = victim_count(groups, opts).min(pool.len());
    pool.choose_multiple(rng, n).cloned().collect()
}

/// The victims chosen: hostclass (padded to 20) and instance; JSON: the victims.
pub fn victims_printout(victims: &[Victim]) -> crate::printout::Printout {
    let lines = victims
        .iter()
        .map(|v| format!("{:<20} {}", v.hostclass, v.instance_id))
        .collect();
    crate::printout::Printout::new(&victims, lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn victim_lines() {
        let v = Victim {
            hostclass: "mhcweb".into(),
            group: "ci_mhcweb_1".into(),
            instance_id: "i-1".into(),
            availability_zone: "us-east-1a".into(),
        };
        let p = victims_printout(&[v]);
        assert_eq!(p.lines, [format!("{:<20} i-1", "mhcweb")]);
        assert_eq!(p.json[0]["group"], "ci_mhcweb_1");
    }
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn group(name: &str, n: usize, tag: Option<&str>) -> ChaosGroup {
        ChaosGroup {
            name: format!("ci_{name}_1"),
            hostclass: name.to_string(),
            desired_capacity: n as u32,
            chaos_tag: tag.map(str::to_string),
            chaos_option: None,
            instances: (0..n)
                .map(|i| ChaosInstance {
                    id: format!("i-{name}-{i}"),
                    availability_zone: if i % 2 == 0 {
                        "us-west-2a"
                    } else {
                        "us-west-2b"
                    }
                    .to_string(),
                })
                .collect(),
        }
    }

    fn opts(level: f64, retainage: f64) -> ChaosOptions {
        ChaosOptions {
            level,
            retainage,
            ..Default::default()
        }
    }

    #[test]
    fn eligible_acceptance() {
        let mut rng = StdRng::seed_from_u64(1);
        let one = vec![group("mhca", 3, None)];
        assert_eq!(eligible(&one, &opts(25.0, 30.0), &mut rng).len(), 2);
        assert_eq!(eligible(&one, &opts(25.0, 0.0), &mut rng).len(), 3);
        let three = vec![
            group("mhca", 30, Some("False")),
            group("mhcb", 10, None),
            group("mhcc", 10, Some("yes")),
        ];
        let pool = eligible(&three, &opts(25.0, 30.0), &mut rng);
        assert_eq!(pool.len(), 14);
        assert!(pool.iter().all(|v| v.hostclass != "mhca"));
    }

    #[test]
    fn victims_acceptance() {
        let mut rng = StdRng::seed_from_u64(2);
        let o = opts(25.0, 30.0);
        assert_eq!(
            select_victims(&[group("mhca", 3, None)], &o, &mut rng).len(),
            1
        );
        assert_eq!(select_victims(&[], &o, &mut rng).len(), 0);
        assert_eq!(
            select_victims(&[group("mhca", 100, None)], &o, &mut rng).len(),
            25
        );
    }

    #[test]
    fn victims_are_distinct_and_retainage_holds() {
        for seed in 0..50 {
            let mut rng = StdRng::seed_from_u64(seed);
            let groups = vec![group("mhca", 4, None), group("mhcb", 2, None)];
            let v = select_victims(&groups, &opts(100.0, 50.0), &mut rng);
            let mut ids: Vec<&str> = v.iter().map(|v| v.instance_id.as_str()).collect();
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), v.len());
            assert!(v.iter().filter(|x| x.hostclass == "mhca").count() <= 2);
            assert!(v.iter().filter(|x| x.hostclass == "mhcb").count() <= 1);
        }
    }

    #[test]
    fn opt_out_by_option_when_no_tag() {
        let mut g = group("mhca", 3, None);
        g.chaos_option = Some("False".into());
        assert!(!g.is_chaotic());
        g.chaos_tag = Some("True".into());
        assert!(g.is_chaotic());
    }

    #[test]
    fn zone_mode_keeps_retainage() {
        let mut rng = StdRng::seed_from_u64(3);
        // 4 instances, 2 in us-west-2a; retainage 75% -> 1 killable.
        let groups = vec![group("mhca", 4, None), group("mhcb", 2, Some("no"))];
        let o = ChaosOptions {
            availability_zone: Some("us-west-2a".into()),
            retainage: 75.0,
            ..Default::default()
        };
        let v = select_victims(&groups, &o, &mut rng);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].availability_zone, "us-west-2a");
        let o = ChaosOptions {
            availability_zone: Some("us-west-2a".into()),
            ..Default::default()
        };
        let v = select_victims(&groups, &o, &mut rng);
        assert_eq!(v.len(), 2);
        assert!(v.iter().all(|v| v.availability_zone == "us-west-2a"));
    }

    #[test]
    fn hostclass_filter() {
        let mut rng = StdRng::seed_from_u64(4);
        let groups = vec![group("mhca", 4, None), group("mhcb", 4, None)];
        let o = ChaosOptions {
            hostclass: Some("mhcb".into()),
            level: 50.0,
            ..Default::default()
        };
        let v = select_victims(&groups, &o, &mut rng);
        assert_eq!(v.len(), 2);
        assert!(v.iter().all(|v| v.hostclass == "mhcb"));
    }

    #[test]
    fn percentages_are_checked() {
        let opts = |level: f64, retainage: f64| ChaosOptions {
            level,
            retainage,
            ..ChaosOptions::default()
        };
        assert_eq!(ChaosOptions::default().check(), Ok(()));
        assert_eq!(opts(100.0, 100.0).check(), Ok(()));
        assert_eq!(
            opts(0.0, 0.0).check().unwrap_err(),
            "--level 0: expected a percentage above 0 and at most 100"
        );
        assert!(opts(100.5, 0.0).check().is_err());
        assert!(opts(f64::NAN, 0.0).check().is_err());
        assert_eq!(
            opts(1.0, -1.0).check().unwrap_err(),
            "--retainage -1: expected a percentage from 0 to 100"
        );
    }
}
