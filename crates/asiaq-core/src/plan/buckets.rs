//! The changes of `buckets update` as the one plan printer shows them (`--dry-run
//! --output json`): buckets first, then the audit bucket's ACL (S3 accepts logging into a
//! bucket only once the log delivery group may write to it), then every bucket's logging,
//! then the other settings (a target bucket's policy is what S3 checks logging against).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::future::Future;

use serde::{Deserialize, Serialize};

use super::{Change, Plan, PlanAction, PlanBuilder, Resource};
use crate::buckets::Kind;

/// One change of `buckets update`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action")]
pub enum BucketAction {
    CreateBucket {
        bucket: String,
    },
    /// The audit bucket's ACL, with write and read-ACP for log delivery.
    PutAuditAcl {
        bucket: String,
    },
    /// One setting (`lifecycle rules`, `bucket policy`, `access logging`, ...).
    PutSetting {
        bucket: String,
        setting: String,
    },
}

impl fmt::Display for BucketAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BucketAction::CreateBucket { bucket } => write!(f, "create bucket {bucket}"),
            BucketAction::PutAuditAcl { bucket } => {
                write!(
                    f,
                    "{bucket}: put ACL (with write and read-ACP for log delivery)"
                )
            }
            BucketAction::PutSetting { bucket, setting } => write!(f, "{bucket}: put {setting}"),
        }
    }
}

impl PlanAction for BucketAction {
    fn resource(&self) -> Resource {
        match self {
            BucketAction::CreateBucket { bucket }
            | BucketAction::PutAuditAcl { bucket }
            | BucketAction::PutSetting { bucket, .. } => Resource::new("bucket", bucket),
        }
    }

    fn change(&self) -> Change {
        match self {
            BucketAction::CreateBucket { .. } => Change::Create,
            _ => Change::update(),
        }
    }
}

/// The stages of an update, each after the one before.
pub fn update_plan(stages: Vec<Vec<BucketAction>>) -> Plan<BucketAction> {
    let mut b = PlanBuilder::new();
    let mut previous: Vec<usize> = Vec::new();
    for stage in stages {
        if stage.is_empty() {
            continue;
        }
        previous = stage.into_iter().map(|a| b.add(a, &previous)).collect();
    }
    b.build()
}

/// One bucket of the account directory with its files parsed (`S`: a setting as the AWS
/// layer sends it; its kind says what it configures).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketWork<S> {
    pub name: String,
    pub exists: bool,
    /// The audit bucket, which the others log into.
    pub audit: bool,
    pub settings: Vec<(Kind, S)>,
}

/// What [`plan_update`] asks of AWS, in the order the update asks it.
pub trait BucketFacts<S> {
    type Error;
    /// The region of an existing bucket.
    fn region(&self, bucket: &str) -> impl Future<Output = Result<String, Self::Error>>;
    /// True when the existing `bucket` already logs as the logging setting says.
    fn logging_unchanged(
        &self,
        bucket: &str,
        setting: &S,
    ) -> impl Future<Output = Result<bool, Self::Error>>;
    /// True when the existing `bucket` already has `setting` (any kind but logging), so
    /// putting it again can be left out. By default nothing is known to be unchanged.
    fn setting_unchanged(
        &self,
        _bucket: &str,
        _setting: &S,
    ) -> impl Future<Output = Result<bool, Self::Error>> {
        async { Ok(false) }
    }
    /// The target bucket of a logging setting (`None`: logging off).
    fn log_target<'a>(&self, setting: &'a S) -> Option<&'a str>;
    /// The audit bucket's ACL: its own ACL (if any) with log delivery's grants added.
    fn audit_acl(&self, own: Option<&S>) -> Result<S, Self::Error>;
}

/// One line of the `buckets update` report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub bucket: String,
    pub action: String,
}

/// What `buckets update` does: the plan, its report lines, what it leaves out and why, and
/// each planned setting by `(bucket, what it configures)` for the apply.
#[derive(Debug, Clone)]
pub struct UpdatePlan<S> {
    pub plan: Plan<BucketAction>,
    pub steps: Vec<Step>,
    pub skipped: Vec<String>,
    pub settings: BTreeMap<(String, String), S>,
}

/// Why `buckets update` cannot plan.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateError<E> {
    /// A bucket of the directory exists in another region (a usage error).
    #[error("bucket {bucket} is in {actual}, not {region}; run with --region {actual}")]
    WrongRegion {
        bucket: String,
        actual: String,
        region: String,
    },
    #[error(transparent)]
    Facts(E),
}

/// Plans `buckets update` in `region`: buckets first, then the audit bucket's ACL, then the
/// logging of every bucket, then every other setting. An existing bucket elsewhere stops
/// the update (it cannot be configured from this region); logging into a bucket of another
/// region is skipped (with a note), and so is logging an existing bucket already has.
/// `skipped` starts with the notes of the files read (empty documents).
pub async fn plan_update<S: Clone, F: BucketFacts<S>>(
    work: &[BucketWork<S>],
    existing: &BTreeSet<String>,
    region: &str,
    mut skipped: Vec<String>,
    facts: &F,
) -> Result<UpdatePlan<S>, UpdateError<F::Error>> {
    let planned: BTreeSet<&str> = work.iter().map(|w| w.name.as_str()).collect();
    let mut creates = Vec::new();
    let mut audit_acls = Vec::new();
    let mut loggings: Vec<(&str, &S)> = Vec::new();
    let mut others: Vec<(&str, Kind, &S)> = Vec::new();
    for w in work {
        let name = w.name.as_str();
        if w.exists {
            let actual = facts.region(name).await.map_err(UpdateError::Facts)?;
            if actual != region {
                return Err(UpdateError::WrongRegion {
                    bucket: name.to_string(),
                    actual,
                    region: region.to_string(),
                });
            }
        } else {
            creates.push(name);
        }
        if w.audit {
            let own = w
                .settings
                .iter()
                .find(|(k, _)| *k == Kind::Acl)
                .map(|(_, s)| s);
            let acl = facts.audit_acl(own).map_err(UpdateError::Facts)?;
            let unchanged = w.exists
                && facts
                    .setting_unchanged(name, &acl)
                    .await
                    .map_err(UpdateError::Facts)?;
            if !unchanged {
                audit_acls.push((name, acl));
            }
        }
        for (kind, setting) in &w.settings {
            if w.audit && *kind == Kind::Acl {
                continue;
            }
            if *kind != Kind::Logging {
                // A setting the bucket already has is left alone, as logging is below: a
                // second run makes no call that changes anything.
                let unchanged = w.exists
                    && facts
                        .setting_unchanged(name, setting)
                        .await
                        .map_err(UpdateError::Facts)?;
                if !unchanged {
                    others.push((name, *kind, setting));
                }
                continue;
            }
            if let Some(target) = facts.log_target(setting) {
                let same_region = if planned.contains(target) {
                    true
                } else if existing.contains(target) {
                    facts.region(target).await.map_err(UpdateError::Facts)? == region
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
            // Logging that is already as wanted is left alone: one call fewer per bucket on
            // every run, and no needless change event in CloudTrail.
            if w.exists
                && facts
                    .logging_unchanged(name, setting)
                    .await
                    .map_err(UpdateError::Facts)?
            {
                continue;
            }
            loggings.push((name, setting));
        }
    }
    let step = |bucket: &str, action: String| Step {
        bucket: bucket.to_string(),
        action,
    };
    let mut steps: Vec<Step> = creates.iter().map(|b| step(b, "create".into())).collect();
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
    let key = |b: &str, kind: Kind| (b.to_string(), kind.describe().to_string());
    let mut settings = BTreeMap::new();
    for (b, acl) in audit_acls {
        settings.insert(key(b, Kind::Acl), acl);
    }
    for (b, s) in loggings {
        settings.insert(key(b, Kind::Logging), s.clone());
    }
    for (b, kind, s) in others {
        settings.insert(key(b, kind), s.clone());
    }
    Ok(UpdatePlan {
        plan,
        steps,
        skipped,
        settings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_follow_each_other() {
        let put = |b: &str, s: &str| BucketAction::PutSetting {
            bucket: b.into(),
            setting: s.into(),
        };
        let p = update_plan(vec![
            vec![BucketAction::CreateBucket { bucket: "a".into() }],
            vec![],
            vec![put("a", "access logging"), put("b", "access logging")],
            vec![put("a", "bucket policy")],
        ]);
        assert_eq!(p.len(), 4);
        assert!(p.depends_on(1, 0) && p.depends_on(2, 0) && p.depends_on(3, 1));
        assert!(!p.depends_on(2, 1));
        let text = crate::plan::render::text(&p);
        assert!(
            text.contains("bucket a\n  + create bucket a\n  ~ a: put access logging\n"),
            "{text}"
        );
    }

    /// A setting: logging (to a target or off), an ACL, or anything else.
    #[derive(Debug, Clone, PartialEq)]
    enum Fake {
        Log(Option<&'static str>),
        Acl(String),
        Other,
    }

    struct Facts {
        regions: BTreeMap<&'static str, &'static str>,
        logging_as_wanted: BTreeSet<&'static str>,
        calls: std::cell::RefCell<Vec<String>>,
    }

    impl BucketFacts<Fake> for Facts {
        type Error = String;
        async fn region(&self, bucket: &str) -> Result<String, String> {
            self.calls.borrow_mut().push(format!("region {bucket}"));
            self.regions
                .get(bucket)
                .map(|r| r.to_string())
                .ok_or_else(|| format!("no bucket {bucket}"))
        }
        async fn logging_unchanged(&self, bucket: &str, _: &Fake) -> Result<bool, String> {
            self.calls.borrow_mut().push(format!("logging {bucket}"));
            Ok(self.logging_as_wanted.contains(bucket))
        }
        fn log_target<'a>(&self, setting: &'a Fake) -> Option<&'a str> {
            match setting {
                Fake::Log(t) => *t,
                _ => None,
            }
        }
        fn audit_acl(&self, own: Option<&Fake>) -> Result<Fake, String> {
            Ok(Fake::Acl(match own {
                Some(Fake::Acl(a)) => format!("{a}+log delivery"),
                _ => "owner+log delivery".into(),
            }))
        }
    }

    fn facts(regions: &[(&'static str, &'static str)], as_wanted: &[&'static str]) -> Facts {
        Facts {
            regions: regions.iter().copied().collect(),
            logging_as_wanted: as_wanted.iter().copied().collect(),
            calls: Default::default(),
        }
    }

    fn bucket(
        name: &str,
        exists: bool,
        audit: bool,
        settings: Vec<(Kind, Fake)>,
    ) -> BucketWork<Fake> {
        BucketWork {
            name: name.into(),
            exists,
            audit,
            settings,
        }
    }

    fn existing(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn the_planner_orders_stages_and_leaves_out_what_needs_no_call() {
        let work = vec![
            bucket(
                "audit",
                false,
                true,
                vec![
                    (Kind::Acl, Fake::Acl("own".into())),
                    (Kind::Lifecycle, Fake::Other),
                ],
            ),
            bucket(
                "app",
                true,
                false,
                vec![
                    (Kind::Policy, Fake::Other),
                    (Kind::Logging, Fake::Log(Some("audit"))),
                ],
            ),
            bucket(
                "old",
                true,
                false,
                vec![(Kind::Logging, Fake::Log(Some("audit")))],
            ),
            bucket(
                "far",
                false,
                false,
                vec![(Kind::Logging, Fake::Log(Some("elsewhere")))],
            ),
            bucket(
                "gone",
                false,
                false,
                vec![(Kind::Logging, Fake::Log(Some("nowhere")))],
            ),
        ];
        let f = facts(
            &[
                ("app", "us-west-2"),
                ("old", "us-west-2"),
                ("elsewhere", "eu-west-1"),
            ],
            &["old"],
        );
        let out = futures::executor::block_on(plan_update(
            &work,
            &existing(&["app", "old", "elsewhere"]),
            "us-west-2",
            vec!["x: no website (x.web is empty)".into()],
            &f,
        ))
        .unwrap();
        let steps: Vec<String> = out
            .steps
            .iter()
            .map(|s| format!("{} {}", s.bucket, s.action))
            .collect();
        assert_eq!(
            steps,
            [
                "audit create",
                "far create",
                "gone create",
                "audit put ACL (with write and read-ACP for log delivery)",
                "app put access logging",
                "audit put lifecycle rules",
                "app put bucket policy",
            ]
        );
        assert_eq!(
            out.skipped,
            [
                "x: no website (x.web is empty)",
                "far: logging to elsewhere skipped (the target is not a bucket of us-west-2)",
                "gone: logging to nowhere skipped (the target is not a bucket of us-west-2)",
            ]
        );
        assert_eq!(
            *f.calls.borrow(),
            [
                "region app",
                "logging app",
                "region old",
                "logging old",
                "region elsewhere"
            ]
        );
        assert_eq!(out.plan.len(), 7);
        assert!(
            out.plan.depends_on(3, 0) && out.plan.depends_on(4, 3) && out.plan.depends_on(5, 4)
        );
        assert_eq!(
            out.settings[&("audit".to_string(), Kind::Acl.describe().to_string())],
            Fake::Acl("own+log delivery".into())
        );
        assert_eq!(out.settings.len(), 4, "ACL, one logging, lifecycle, policy");
    }

    #[test]
    fn a_bucket_in_another_region_stops_the_plan() {
        let work = vec![
            bucket("audit", true, true, vec![]),
            bucket("app", true, false, vec![]),
        ];
        let f = facts(&[("audit", "us-west-2"), ("app", "eu-west-1")], &[]);
        let err = futures::executor::block_on(plan_update(
            &work,
            &existing(&["audit", "app"]),
            "us-west-2",
            Vec::new(),
            &f,
        ))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "bucket app is in eu-west-1, not us-west-2; run with --region eu-west-1"
        );
        let failing = facts(&[], &[]);
        let err = futures::executor::block_on(plan_update(
            &work,
            &existing(&["audit", "app"]),
            "us-west-2",
            Vec::new(),
            &failing,
        ))
        .unwrap_err();
        assert_eq!(err, UpdateError::Facts("no bucket audit".to_string()));
    }

    #[test]
    fn an_audit_bucket_without_an_acl_gets_the_owners_and_nothing_to_do_is_an_empty_plan() {
        let work = vec![bucket(
            "audit",
            true,
            true,
            vec![(Kind::Logging, Fake::Log(None))],
        )];
        let f = facts(&[("audit", "us-east-1")], &["audit"]);
        let out = futures::executor::block_on(plan_update(
            &work,
            &existing(&["audit"]),
            "us-east-1",
            Vec::new(),
            &f,
        ))
        .unwrap();
        assert_eq!(out.plan.len(), 1);
        assert_eq!(
            out.settings.values().collect::<Vec<_>>(),
            [&Fake::Acl("owner+log delivery".into())]
        );
        let empty = futures::executor::block_on(plan_update::<Fake, _>(
            &[],
            &BTreeSet::new(),
            "us-east-1",
            Vec::new(),
            &f,
        ))
        .unwrap();
        assert!(empty.plan.is_empty() && empty.steps.is_empty());
    }

    /// Facts that also know which settings an existing bucket has already.
    struct Knowing {
        base: Facts,
        has: Vec<(&'static str, Fake)>,
    }

    impl BucketFacts<Fake> for Knowing {
        type Error = String;
        async fn region(&self, bucket: &str) -> Result<String, String> {
            self.base.region(bucket).await
        }
        async fn logging_unchanged(&self, bucket: &str, s: &Fake) -> Result<bool, String> {
            self.base.logging_unchanged(bucket, s).await
        }
        async fn setting_unchanged(&self, bucket: &str, s: &Fake) -> Result<bool, String> {
            self.base.calls.borrow_mut().push(format!("has {bucket}"));
            Ok(self.has.iter().any(|(b, h)| *b == bucket && h == s))
        }
        fn log_target<'a>(&self, setting: &'a Fake) -> Option<&'a str> {
            self.base.log_target(setting)
        }
        fn audit_acl(&self, own: Option<&Fake>) -> Result<Fake, String> {
            self.base.audit_acl(own)
        }
    }

    #[test]
    fn settings_an_existing_bucket_already_has_are_left_out() {
        let work = vec![
            bucket(
                "audit",
                true,
                true,
                vec![(Kind::Acl, Fake::Acl("own".into()))],
            ),
            bucket(
                "app",
                true,
                false,
                vec![
                    (Kind::Policy, Fake::Other),
                    (Kind::Lifecycle, Fake::Acl("rules".into())),
                ],
            ),
            bucket("new", false, false, vec![(Kind::Policy, Fake::Other)]),
        ];
        let f = Knowing {
            base: facts(&[("audit", "us-west-2"), ("app", "us-west-2")], &[]),
            has: vec![
                ("audit", Fake::Acl("own+log delivery".into())),
                ("app", Fake::Other),
            ],
        };
        let out = futures::executor::block_on(plan_update(
            &work,
            &existing(&["audit", "app"]),
            "us-west-2",
            Vec::new(),
            &f,
        ))
        .unwrap();
        let steps: Vec<String> = out
            .steps
            .iter()
            .map(|s| format!("{} {}", s.bucket, s.action))
            .collect();
        assert_eq!(
            steps,
            [
                "new create",
                "app put lifecycle rules",
                "new put bucket policy"
            ]
        );
        // A bucket that does not exist yet is never asked about.
        assert!(!f.base.calls.borrow().iter().any(|c| c == "has new"));
    }
}
