//! `app-auth update` as a plan: one write per key of the credential bucket. The values are
//! secrets and never part of the plan; the executor takes them from the writes beside it.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Change, Plan, PlanAction, PlanBuilder, Resource};
use crate::app_auth::Write;

/// One write of `app-auth update`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action")]
pub enum AppAuthAction {
    /// Write the secret at `key`; `reason` says why (`literal`, `generated`, `passwd`).
    PutSecret { key: String, reason: String },
}

impl AppAuthAction {
    pub fn key(&self) -> &str {
        let AppAuthAction::PutSecret { key, .. } = self;
        key
    }
}

impl fmt::Display for AppAuthAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let AppAuthAction::PutSecret { key, reason } = self;
        write!(f, "write {key} ({reason})")
    }
}

impl PlanAction for AppAuthAction {
    fn resource(&self) -> Resource {
        Resource::new("object", self.key())
    }

    fn change(&self) -> Change {
        // A secret's value is never compared or shown: every write is an update of the key.
        Change::update()
    }
}

/// The writes as a plan of independent steps, in the order [`crate::app_auth::plan`] gave.
pub fn plan(writes: &[Write]) -> Plan<AppAuthAction> {
    let mut b = PlanBuilder::new();
    for w in writes {
        b.add(
            AppAuthAction::PutSecret {
                key: w.key.clone(),
                reason: w.reason.to_string(),
            },
            &[],
        );
    }
    b.build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    #[test]
    fn one_independent_write_per_key_and_no_value_anywhere() {
        let writes = vec![
            Write {
                key: "app_auth/app/alice".into(),
                value: Secret::new("hunter2-secret".to_string()),
                reason: "generated",
            },
            Write {
                key: "app_auth/app/passwd".into(),
                value: Secret::new("alice:hunter2-secret".to_string()),
                reason: "passwd",
            },
        ];
        let p = plan(&writes);
        assert_eq!(p.len(), 2);
        assert!(p.steps.iter().all(|s| s.after.is_empty()));
        assert_eq!(
            p.steps[1].action.to_string(),
            "write app_auth/app/passwd (passwd)"
        );
        let json =
            serde_json::to_string(&p.steps.iter().map(|s| &s.action).collect::<Vec<_>>()).unwrap();
        assert!(!json.contains("hunter2"), "{json}");
        assert!(!crate::plan::render::text(&p).contains("hunter2"));
    }
}
