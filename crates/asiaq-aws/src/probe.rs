//! One read-only call per service client (`asiaq doctor`): proves that credentials, region,
//! endpoint and protocol work for every service asiaq manages, before a long command finds
//! out half-way.

use std::future::Future;
use std::pin::Pin;

use serde::Serialize;

use crate::context::AwsContext;
use crate::error::describe_sdk_error;

/// The result of probing one service.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ProbeOutcome {
    pub service: &'static str,
    pub operation: &'static str,
    pub ok: bool,
    /// What was seen (e.g. "4 availability zones"), or what went wrong.
    pub detail: String,
}

type ProbeFuture<'a> = Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>>;

fn count(n: usize, what: &str) -> String {
    format!("{n} {what}")
}

macro_rules! probe {
    ($service:literal, $operation:literal, $fut:expr, |$out:ident| $summary:expr) => {
        (
            $service,
            $operation,
            Box::pin(async move {
                match $fut.await {
                    Ok($out) => Ok($summary),
                    Err(e) => Err(describe_sdk_error(&e)),
                }
            }) as ProbeFuture<'_>,
        )
    };
}

/// Calls every service once, concurrently, and reports each outcome in a fixed order.
pub async fn probe_services(ctx: &AwsContext) -> Vec<ProbeOutcome> {
    let probes: Vec<(&'static str, &'static str, ProbeFuture<'_>)> = vec![
        probe!(
            "sts",
            "GetCallerIdentity",
            ctx.sts().get_caller_identity().send(),
            |o| format!("account {}", o.account.unwrap_or_default())
        ),
        probe!(
            "ec2",
            "DescribeAvailabilityZones",
            ctx.ec2().describe_availability_zones().send(),
            |o| count(
                o.availability_zones.unwrap_or_default().len(),
                "availability zones"
            )
        ),
        probe!(
            "autoscaling",
            "DescribeAutoScalingGroups",
            ctx.autoscaling()
                .describe_auto_scaling_groups()
                .max_records(100)
                .send(),
            |o| count(
                o.auto_scaling_groups.unwrap_or_default().len(),
                "autoscaling groups"
            )
        ),
        probe!(
            "iam",
            "ListRoles",
            ctx.iam().list_roles().max_items(100).send(),
            |o| count(o.roles.len(), "roles")
        ),
        probe!("s3", "ListBuckets", ctx.s3().list_buckets().send(), |o| {
            count(o.buckets.unwrap_or_default().len(), "buckets")
        }),
        probe!(
            "route53",
            "ListHostedZones",
            ctx.route53().list_hosted_zones().send(),
            |o| count(o.hosted_zones.len(), "hosted zones")
        ),
        probe!(
            "elasticloadbalancing",
            "DescribeLoadBalancers",
            ctx.elb().describe_load_balancers().send(),
            |o| count(
                o.load_balancer_descriptions.unwrap_or_default().len(),
                "classic load balancers"
            )
        ),
        probe!(
            "elasticloadbalancingv2",
            "DescribeTargetGroups",
            ctx.elbv2().describe_target_groups().send(),
            |o| count(o.target_groups.unwrap_or_default().len(), "target groups")
        ),
        probe!(
            "dynamodb",
            "ListTables",
            ctx.dynamodb().list_tables().send(),
            |o| count(o.table_names.unwrap_or_default().len(), "tables")
        ),
        probe!(
            "elasticache",
            "DescribeReplicationGroups",
            ctx.elasticache().describe_replication_groups().send(),
            |o| count(
                o.replication_groups.unwrap_or_default().len(),
                "replication groups"
            )
        ),
        probe!(
            "opensearch",
            "ListDomainNames",
            ctx.opensearch().list_domain_names().send(),
            |o| count(o.domain_names.unwrap_or_default().len(), "domains")
        ),
        probe!(
            "rds",
            "DescribeDBInstances",
            ctx.rds().describe_db_instances().send(),
            |o| count(
                o.db_instances.unwrap_or_default().len(),
                "database instances"
            )
        ),
        probe!(
            "cloudwatch",
            "DescribeAlarms",
            ctx.cloudwatch().describe_alarms().send(),
            |o| count(o.metric_alarms.unwrap_or_default().len(), "alarms")
        ),
        probe!(
            "logs",
            "DescribeLogGroups",
            ctx.logs().describe_log_groups().send(),
            |o| count(o.log_groups.unwrap_or_default().len(), "log groups")
        ),
        probe!("sns", "ListTopics", ctx.sns().list_topics().send(), |o| {
            count(o.topics.unwrap_or_default().len(), "topics")
        }),
        probe!(
            "ssm",
            "ListDocuments",
            ctx.ssm()
                .list_documents()
                .filters(
                    aws_sdk_ssm::types::DocumentKeyValuesFilter::builder()
                        .key("Owner")
                        .values("Self")
                        .build()
                )
                .send(),
            |o| count(
                o.document_identifiers.unwrap_or_default().len(),
                "own documents"
            )
        ),
        probe!(
            "acm",
            "ListCertificates",
            ctx.acm().list_certificates().send(),
            |o| count(
                o.certificate_summary_list.unwrap_or_default().len(),
                "certificates"
            )
        ),
    ];
    let (names, calls): (Vec<_>, Vec<_>) = probes
        .into_iter()
        .map(|(service, operation, fut)| ((service, operation), fut))
        .unzip();
    let results = futures::future::join_all(calls).await;
    names
        .into_iter()
        .zip(results)
        .map(|((service, operation), result)| {
            let (ok, detail) = match result {
                Ok(detail) => (true, detail),
                Err(detail) => (false, detail),
            };
            ProbeOutcome {
                service,
                operation,
                ok,
                detail,
            }
        })
        .collect()
}

/// `doctor`: service, operation, ok or FAILED, and what was seen, in aligned columns; JSON:
/// the outcomes.
pub fn probe_printout(outcomes: &[ProbeOutcome]) -> asiaq_core::printout::Printout {
    let rows: Vec<Vec<String>> = outcomes
        .iter()
        .map(|o| {
            let ok = if o.ok { "ok" } else { "FAILED" };
            vec![
                o.service.into(),
                o.operation.into(),
                ok.into(),
                o.detail.clone(),
            ]
        })
        .collect();
    let lines = asiaq_core::printout::table_lines(&rows);
    asiaq_core::printout::Printout::new(&outcomes, lines)
}

/// Why `doctor` fails: the services whose probe failed; `None` when none did.
pub fn probe_failure(outcomes: &[ProbeOutcome]) -> Option<String> {
    let failed: Vec<&str> = outcomes
        .iter()
        .filter(|o| !o.ok)
        .map(|o| o.service)
        .collect();
    (!failed.is_empty()).then(|| {
        let (n, of) = (failed.len(), outcomes.len());
        format!("{n} of {of} services failed: {}", failed.join(", "))
    })
}

#[cfg(test)]
mod printout_tests {
    use super::*;

    #[test]
    fn doctor_table_and_failure() {
        let outcomes = vec![
            ProbeOutcome {
                service: "ec2",
                operation: "DescribeAvailabilityZones",
                ok: true,
                detail: "4 availability zones".into(),
            },
            ProbeOutcome {
                service: "s3",
                operation: "ListBuckets",
                ok: false,
                detail: "denied".into(),
            },
        ];
        let p = probe_printout(&outcomes);
        assert_eq!(
            p.lines,
            [
                "ec2  DescribeAvailabilityZones  ok      4 availability zones",
                "s3   ListBuckets                FAILED  denied"
            ]
        );
        assert_eq!(p.json[1]["service"], "s3");
        assert_eq!(
            probe_failure(&outcomes).as_deref(),
            Some("1 of 2 services failed: s3")
        );
        assert_eq!(probe_failure(&outcomes[..1]), None);
    }
}
