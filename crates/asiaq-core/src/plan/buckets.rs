//! The changes of `buckets update` as the one plan printer shows them (`--dry-run
//! --output json`): buckets first, then the audit bucket's ACL (S3 accepts logging into a
//! bucket only once the log delivery group may write to it), then every bucket's logging,
//! then the other settings (a target bucket's policy is what S3 checks logging against).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Change, Plan, PlanAction, PlanBuilder, Resource};

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
}
