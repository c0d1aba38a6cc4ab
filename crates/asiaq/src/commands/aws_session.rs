//! Runs an async AWS command: builds the runtime and the client context, and afterwards
//! reports the API calls made (`--debug`, or as JSON to the file named by `ASIAQ_API_STATS`,
//! which benchmarks read).

use std::future::Future;

use asiaq_aws::{AwsContext, ContextOptions};

use crate::cli::GlobalArgs;
use crate::exit::CliError;

/// Environment variable: write the API call counts of this run as JSON to this path.
pub const API_STATS_ENV: &str = asiaq_core::env_vars::EnvVars::ASIAQ_API_STATS;

pub fn run<F, Fut>(global: &GlobalArgs, body: F) -> Result<(), CliError>
where
    F: FnOnce(std::sync::Arc<AwsContext>) -> Fut,
    Fut: Future<Output = Result<(), CliError>>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::failed(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        let ctx = std::sync::Arc::new(
            AwsContext::load(ContextOptions {
                profile: global.profile.clone(),
                region: global.region.clone(),
                max_attempts: None,
            })
            .await?,
        );
        // A run that changes an environment holds its lease around the whole session.
        let (result, lease_stats) = match crate::lease::take() {
            Some(request) => {
                let (r, stats) = crate::lease::hold(&ctx, request, body(ctx.clone())).await;
                (r, Some(stats))
            }
            None => (body(ctx.clone()).await, None),
        };
        report_stats(global, &ctx, lease_stats.as_ref());
        result
    })
}

/// The command's calls, and apart from them the lease's (`lease` in the JSON file).
fn report_stats(global: &GlobalArgs, ctx: &AwsContext, lease: Option<&asiaq_aws::ApiCallStats>) {
    let stats = ctx.counter().snapshot();
    if let (true, Some(l)) = (global.debug, lease) {
        eprintln!("lease calls: {}", l.total_calls());
    }
    if global.debug {
        stats.debug_lines().iter().for_each(|l| eprintln!("{l}"));
    }
    if let Some(path) = std::env::var_os(API_STATS_ENV) {
        let mut value = serde_json::to_value(&stats).unwrap_or_default();
        if let (Some(lease), Some(map)) = (lease, value.as_object_mut()) {
            map.insert(
                "lease".to_string(),
                serde_json::to_value(lease).unwrap_or_default(),
            );
        }
        let json = serde_json::to_string_pretty(&value).unwrap_or_default();
        if let Err(e) = std::fs::write(&path, json) {
            tracing::warn!("cannot write API stats to {}: {e}", path.to_string_lossy());
        }
    }
}
