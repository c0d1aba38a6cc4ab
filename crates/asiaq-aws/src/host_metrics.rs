//! `asiaq metrics upload`, run on an instance: the instance's identity from its metadata
//! (the SDK's IMDS client, so `AWS_EC2_METADATA_SERVICE_ENDPOINT` points it elsewhere), the
//! texts of `/proc`, `df` and `rabbitmqctl`, and the PutMetricData calls of a plan of
//! `asiaq_core::host_metrics`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use asiaq_core::host_metrics::{parse_userdata, region_of_zone, MetricsAction};
use asiaq_core::plan::Plan;
use asiaq_engine::{Apply, ExecReport};
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use rand::Rng;

use crate::context::AwsContext;
use crate::engine::run_forward;
use crate::error::AwsError;

/// Who the instance is: its region (of its availability zone), environment and hostclass
/// (`environment_name="..."` and `hostclass="..."` of its user data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceIdentity {
    pub region: String,
    pub env: String,
    pub hostclass: String,
}

fn imds_error(what: &str, e: impl std::fmt::Display) -> AwsError {
    AwsError::State(format!(
        "cannot read {what} from the instance metadata: {e} (`metrics upload` runs on an instance; --dummy runs anywhere)"
    ))
}

/// Reads the instance's identity from its metadata.
pub async fn instance_identity() -> Result<InstanceIdentity, AwsError> {
    let imds = aws_config::imds::Client::builder()
        .max_attempts(2)
        .connect_timeout(Duration::from_secs(2))
        .read_timeout(Duration::from_secs(2))
        .build();
    let zone = imds
        .get("/latest/meta-data/placement/availability-zone")
        .await
        .map_err(|e| imds_error("the availability zone", e))?;
    let userdata = imds
        .get("/latest/user-data")
        .await
        .map_err(|e| imds_error("the user data", e))?;
    let info = parse_userdata(userdata.as_ref());
    let field = |k: &str| {
        info.get(k)
            .cloned()
            .ok_or_else(|| imds_error(k, format!("the user data has no {k}=\"...\" line")))
    };
    Ok(InstanceIdentity {
        region: region_of_zone(zone.as_ref()).to_string(),
        env: field("environment_name")?,
        hostclass: field("hostclass")?,
    })
}

/// The texts the values are computed from; a source that cannot be read is `None` (and
/// its values are left out, as the original did).
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub meminfo: Option<String>,
    pub stat: Option<String>,
    pub df: Option<String>,
    pub rabbit_queues: Option<String>,
}

fn command_output(program: &Path, args: &[&str]) -> Option<String> {
    match std::process::Command::new(program).args(args).output() {
        Ok(out) if out.status.success() => Some(String::from_utf8_lossy(&out.stdout).into()),
        Ok(out) => {
            tracing::warn!(
                "{} {}: exit {:?}; its values are left out",
                program.display(),
                args.join(" "),
                out.status.code()
            );
            None
        }
        Err(e) => {
            tracing::warn!("{}: {e}; its values are left out", program.display());
            None
        }
    }
}

fn on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// Reads `meminfo` and `stat` from `proc_root`, runs `df` and, when it is installed,
/// `rabbitmqctl list_queues`.
pub fn read_sources(proc_root: &Path) -> Sources {
    let read = |name: &str| {
        let path = proc_root.join(name);
        std::fs::read_to_string(&path)
            .map_err(|e| tracing::warn!("{}: {e}; its values are left out", path.display()))
            .ok()
    };
    let rabbit_queues = match on_path("rabbitmqctl") {
        Some(p) => command_output(&p, &["list_queues"]),
        None => {
            tracing::debug!("rabbitmqctl is not installed: no RabbitMQ queue metrics");
            None
        }
    };
    Sources {
        meminfo: read("meminfo"),
        stat: read("stat"),
        df: on_path("df").and_then(|p| command_output(&p, &[])),
        rabbit_queues,
    }
}

/// Waits a random time of up to `seconds` (spreading the uploads of many instances).
pub async fn jitter(seconds: u64) {
    if seconds > 0 {
        let ms = rand::thread_rng().gen_range(0..=seconds * 1000);
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

struct MetricsCalls<'a> {
    ctx: &'a AwsContext,
}

impl Apply<MetricsAction> for MetricsCalls<'_> {
    type Error = AwsError;

    async fn apply(&self, action: &MetricsAction) -> Result<Option<String>, AwsError> {
        let MetricsAction::PutMetricData {
            namespace,
            dimension,
            timestamp,
            data,
        } = action;
        let dim = Dimension::builder()
            .name(&dimension.0)
            .value(&dimension.1)
            .build();
        let datums: Vec<MetricDatum> = data
            .iter()
            .map(|d| {
                MetricDatum::builder()
                    .metric_name(&d.name)
                    .value(d.value)
                    .unit(StandardUnit::from(d.unit.as_str()))
                    .timestamp(DateTime::from_secs(*timestamp))
                    .dimensions(dim.clone())
                    .build()
            })
            .collect();
        self.ctx
            .cloudwatch()
            .put_metric_data()
            .namespace(namespace)
            .set_metric_data(Some(datums))
            .send()
            .await
            .map_err(|e| AwsError::call("cloudwatch", "PutMetricData", e))?;
        Ok(None)
    }

    fn unresolved(&self, action: &MetricsAction, key: &str) -> AwsError {
        AwsError::State(format!("{action}: nothing created {key}"))
    }
}

/// Sends the values, one call per namespace, up to four at once.
pub async fn upload(ctx: &AwsContext, plan: &Plan<MetricsAction>) -> Result<ExecReport, AwsError> {
    run_forward(&MetricsCalls { ctx }, plan, 4, "metrics upload").await
}
