//! Fault injection for tests of rollback and resumption: fail exactly the N-th call that
//! matches a rule, before it is sent (so AWS never sees it).
//!
//! Enabled only by the environment variable `ASIAQ_INJECT_FAULT`:
//! * `mutating:N` fails the N-th mutating call (any operation that is not a
//!   `Describe*`/`List*`/`Get*`/... read), counted across all services;
//! * `<Operation>:N` (e.g. `CreateSubnet:2`) fails the N-th call of that operation.
//!
//! Tests sweep N over a whole command to prove that a failure at any point leaves nothing
//! behind. The injected error says it was injected, so it is never mistaken for AWS's.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// Environment variable that enables fault injection.
pub const INJECT_FAULT_ENV: &str = asiaq_core::env_vars::EnvVars::ASIAQ_INJECT_FAULT;

/// Prefixes of operations that only read.
const READ_PREFIXES: [&str; 8] = [
    "Describe", "List", "Get", "Head", "Lookup", "Search", "Check", "Validate",
];

/// Whether an operation only reads.
pub fn is_read_only(operation: &str) -> bool {
    READ_PREFIXES.iter().any(|p| operation.starts_with(p))
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Matcher {
    Mutating,
    Operation(String),
}

/// An interceptor that fails the N-th matching call.
#[derive(Debug, Clone)]
pub struct FaultInjector {
    matcher: Matcher,
    nth: u64,
    seen: Arc<AtomicU64>,
}

impl FaultInjector {
    /// Parses `mutating:N` or `<Operation>:N` (N >= 1).
    pub fn parse(spec: &str) -> Option<Self> {
        let (what, n) = spec.rsplit_once(':')?;
        let nth: u64 = n.trim().parse().ok().filter(|n| *n >= 1)?;
        let matcher = match what.trim() {
            "" => return None,
            "mutating" => Matcher::Mutating,
            op => Matcher::Operation(op.to_string()),
        };
        Some(FaultInjector {
            matcher,
            nth,
            seen: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The injector configured by `ASIAQ_INJECT_FAULT`, if any.
    pub fn from_env() -> Option<Self> {
        std::env::var(INJECT_FAULT_ENV)
            .ok()
            .and_then(|s| Self::parse(&s))
    }

    fn matches(&self, operation: &str) -> bool {
        match &self.matcher {
            Matcher::Mutating => !is_read_only(operation),
            Matcher::Operation(op) => op == operation,
        }
    }

    /// Counts a call of `operation`; true if it is the one to fail.
    fn should_fail(&self, operation: &str) -> bool {
        self.matches(operation) && self.seen.fetch_add(1, Ordering::SeqCst) + 1 == self.nth
    }
}

impl Intercept for FaultInjector {
    fn name(&self) -> &'static str {
        "asiaq::FaultInjector"
    }

    // Not `read_before_execution`: client-level interceptors run that hook before the
    // operation's configuration (its `Metadata`) is in the bag, so no call would ever
    // match. This hook runs once per call, after the operation is known and before
    // anything is sent.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(meta) = cfg.load::<Metadata>() else {
            return Ok(());
        };
        if self.should_fail(meta.name()) {
            return Err(format!(
                "fault injected by {INJECT_FAULT_ENV} into {}:{}",
                meta.service(),
                meta.name()
            )
            .into());
        }
        Ok(())
    }
}

/// True for an error this module injected: callers that wait and try again must not absorb
/// it, or a fault test would test nothing.
pub fn is_injected(e: &crate::error::AwsError) -> bool {
    e.to_string().contains(INJECT_FAULT_ENV)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs() {
        assert_eq!(
            FaultInjector::parse("mutating:3").unwrap().matcher,
            Matcher::Mutating
        );
        assert_eq!(
            FaultInjector::parse("CreateSubnet:2").unwrap().matcher,
            Matcher::Operation("CreateSubnet".into())
        );
        assert!(FaultInjector::parse("mutating:0").is_none());
        assert!(FaultInjector::parse("mutating").is_none());
        assert!(FaultInjector::parse(":2").is_none());
    }

    #[test]
    fn fails_exactly_the_nth_match() {
        let f = FaultInjector::parse("mutating:2").unwrap();
        assert!(!f.should_fail("DescribeVpcs"));
        assert!(!f.should_fail("CreateVpc"));
        assert!(!f.should_fail("DescribeSubnets"));
        assert!(f.should_fail("CreateSubnet"));
        assert!(!f.should_fail("CreateSubnet"));
        let g = FaultInjector::parse("CreateTags:1").unwrap();
        assert!(!g.should_fail("CreateVpc"));
        assert!(g.should_fail("CreateTags"));
    }

    #[test]
    fn read_only_names() {
        assert!(is_read_only("DescribeInstances"));
        assert!(is_read_only("GetCallerIdentity"));
        assert!(is_read_only("HeadBucket"));
        assert!(!is_read_only("CreateVpc"));
        assert!(!is_read_only("PutObject"));
        assert!(!is_read_only("AuthorizeSecurityGroupIngress"));
    }
}
