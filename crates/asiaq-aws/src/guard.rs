//! The lease guard: once the environment's lease is lost (broken by `lock break`, or run out
//! while renewals failed), every mutating call of the command fails before it is sent, so a
//! run that no longer holds the environment stops before its next change.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// What every guarded error says, so callers can tell it apart.
pub const LEASE_LOST: &str = "the environment's lease was lost";

/// An interceptor that refuses mutating calls once `lost` is set.
#[derive(Debug, Clone, Default)]
pub struct LeaseGuard {
    lost: Arc<AtomicBool>,
}

impl LeaseGuard {
    /// The flag the heartbeat sets when the lease is lost.
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.lost.clone()
    }
}

impl Intercept for LeaseGuard {
    fn name(&self) -> &'static str {
        "asiaq::LeaseGuard"
    }

    // The hook the fault injector uses too: the operation is known, nothing is sent yet.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if !self.lost.load(Ordering::SeqCst) {
            return Ok(());
        }
        match cfg.load::<Metadata>() {
            Some(meta) if !crate::fault::is_read_only(meta.name()) => {
                Err(format!("{LEASE_LOST}: {}:{} not sent", meta.service(), meta.name()).into())
            }
            _ => Ok(()),
        }
    }
}
