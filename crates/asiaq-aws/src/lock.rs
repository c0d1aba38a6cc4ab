//! The environment lease in DynamoDB (`asiaq_core::lock`): the table, acquiring with a
//! conditional PutItem, renewing from a heartbeat, releasing, listing and breaking.
//!
//! The lease has a DynamoDB client of its own: its calls are counted apart from the
//! command's (so a command's call counts and its "no mutating call on a second run" stay
//! its own) and never meet the fault injector or the lease guard.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use asiaq_core::lock::{Holder, ACQUIRE_CONDITION, KEY, OWN_CONDITION, RENEW_CONDITION, TABLE};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ReturnValue,
    ScalarAttributeType, TableStatus,
};

use crate::accounting::{ApiCallStats, RequestCounter};
use crate::context::AwsContext;
use crate::error::AwsError;

/// The lease's own DynamoDB client and call counter.
#[derive(Clone)]
pub struct LeaseClient {
    client: aws_sdk_dynamodb::Client,
    counter: RequestCounter,
}

impl LeaseClient {
    pub fn new(ctx: &AwsContext) -> Self {
        let counter = RequestCounter::new();
        let conf = aws_sdk_dynamodb::config::Builder::from(ctx.sdk_config())
            .interceptor(counter.clone())
            .retry_partition(crate::context::retry_partition("lease"))
            .build();
        LeaseClient {
            client: aws_sdk_dynamodb::Client::from_conf(conf),
            counter,
        }
    }

    /// The calls the lease made so far.
    pub fn stats(&self) -> ApiCallStats {
        self.counter.snapshot()
    }
}

fn err<E>(operation: &'static str) -> impl FnOnce(crate::error::CallError<E>) -> AwsError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    move |e| AwsError::call("dynamodb", operation, e)
}

/// Makes the table unless it exists, and waits until it is active. Two first users making
/// it at once both succeed (the loser's `ResourceInUseException` means it is there).
pub async fn ensure_table(lease: &LeaseClient) -> Result<(), AwsError> {
    let db = &lease.client;
    for attempt in 0..60 {
        match db.describe_table().table_name(TABLE).send().await {
            Ok(out) => {
                if out.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
                    return Ok(());
                }
            }
            Err(e) => {
                let e = err("DescribeTable")(e);
                if e.code() != Some("ResourceNotFoundException") {
                    return Err(e);
                }
                if attempt == 0 {
                    create_table(lease).await?;
                    continue;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(AwsError::State(format!(
        "the lease table {TABLE} did not become active in 30 s"
    )))
}

async fn create_table(lease: &LeaseClient) -> Result<(), AwsError> {
    let made = lease
        .client
        .create_table()
        .table_name(TABLE)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(KEY)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| AwsError::State(e.to_string()))?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(KEY)
                .key_type(KeyType::Hash)
                .build()
                .map_err(|e| AwsError::State(e.to_string()))?,
        )
        .send()
        .await
        .map_err(err("CreateTable"));
    // Made by another first user at the same time: it is there.
    done_unless(made, "ResourceInUseException").map(drop)
}

/// `Ok(true)` when the call went through, `Ok(false)` when it failed with `code` (an
/// expected refusal, such as a condition that no longer holds), else the error.
fn done_unless<T>(result: Result<T, AwsError>, code: &str) -> Result<bool, AwsError> {
    match result {
        Ok(_) => Ok(true),
        Err(e) if e.code() == Some(code) => Ok(false),
        Err(e) => Err(e),
    }
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn holder(item: &HashMap<String, AttributeValue>) -> Holder {
    let text = |k: &str| {
        item.get(k)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default()
    };
    let num = |k: &str| {
        item.get(k)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or_default()
    };
    Holder {
        environment: text(KEY),
        arn: text("arn"),
        who: text("who"),
        command: text("command"),
        started_at: num("started_at"),
        expires_at: num("expires_at"),
        generation: num("generation"),
    }
}

/// The lease of `environment`, if anybody has it (expired or not).
pub async fn current(lease: &LeaseClient, environment: &str) -> Result<Option<Holder>, AwsError> {
    let out = lease
        .client
        .get_item()
        .table_name(TABLE)
        .key(KEY, s(environment))
        .consistent_read(true)
        .send()
        .await
        .map_err(err("GetItem"))?;
    Ok(out.item().map(holder))
}

/// What trying to acquire gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquired {
    /// The lease is ours, as this holder (its generation).
    Held(Holder),
    /// Somebody else holds it.
    Busy(Holder),
}

/// Tries once to take the lease of `want.environment` for `ttl` from `now`, in one round
/// trip: an UpdateItem, conditional on nobody holding the lease or its holder's time having
/// run out, that writes the holder and adds one to the generation (so it is one more than
/// the last holder's). Without the table yet, makes it and tries again. Only when the lease
/// is taken is it read, to say by whom.
pub async fn try_acquire(
    lease: &LeaseClient,
    want: Holder,
    ttl: Duration,
    now: i64,
) -> Result<Acquired, AwsError> {
    for first in [true, false] {
        let out = lease
            .client
            .update_item()
            .table_name(TABLE)
            .key(KEY, s(&want.environment))
            .update_expression(
                "SET arn = :arn, who = :who, command = :command, started_at = :now, expires_at = :expires ADD generation :one",
            )
            .condition_expression(ACQUIRE_CONDITION)
            .expression_attribute_values(":arn", s(&want.arn))
            .expression_attribute_values(":who", s(&want.who))
            .expression_attribute_values(":command", s(&want.command))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":expires", n(now + ttl.as_secs() as i64))
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match out {
            Ok(o) => {
                return Ok(Acquired::Held(
                    o.attributes().map(holder).unwrap_or(want.clone()),
                ))
            }
            Err(e) => {
                let e = err("UpdateItem")(e);
                match e.code() {
                    Some("ResourceNotFoundException") if first => ensure_table(lease).await?,
                    Some("ConditionalCheckFailedException") => {
                        return match current(lease, &want.environment).await? {
                            Some(h) => Ok(Acquired::Busy(h)),
                            // Given back between the write and the read: try again.
                            None => continue,
                        };
                    }
                    _ => return Err(e),
                }
            }
        }
    }
    Err(AwsError::State(format!(
        "the lease of {} could not be taken; try again",
        want.environment
    )))
}

/// Moves the lease's expiry to `now + ttl`, if it is still this holder's. `Ok(false)`: it
/// was broken or taken over.
pub async fn renew(
    lease: &LeaseClient,
    held: &Holder,
    ttl: Duration,
    now: i64,
) -> Result<bool, AwsError> {
    let out = lease
        .client
        .update_item()
        .table_name(TABLE)
        .key(KEY, s(&held.environment))
        .update_expression("SET expires_at = :expires")
        .condition_expression(RENEW_CONDITION)
        .expression_attribute_values(":expires", n(now + ttl.as_secs() as i64))
        .expression_attribute_values(":generation", n(held.generation))
        .expression_attribute_values(":now", n(now))
        .send()
        .await
        .map_err(err("UpdateItem"));
    done_unless(out, "ConditionalCheckFailedException")
}

/// Records the holder's ARN on its lease (once the lease is held: the lookup then runs
/// beside the command's first calls instead of before them).
pub async fn record_arn(lease: &LeaseClient, held: &Holder, arn: &str) -> Result<(), AwsError> {
    let out = lease
        .client
        .update_item()
        .table_name(TABLE)
        .key(KEY, s(&held.environment))
        .update_expression("SET arn = :arn")
        .condition_expression(OWN_CONDITION)
        .expression_attribute_values(":arn", s(arn))
        .expression_attribute_values(":generation", n(held.generation))
        .send()
        .await
        .map_err(err("UpdateItem"));
    // Broken or taken over meanwhile: the heartbeat says so.
    done_unless(out, "ConditionalCheckFailedException").map(drop)
}

/// Gives the lease back, if it is still this holder's (a lease taken over stays the new
/// holder's).
pub async fn release(lease: &LeaseClient, held: &Holder) -> Result<(), AwsError> {
    let out = lease
        .client
        .delete_item()
        .table_name(TABLE)
        .key(KEY, s(&held.environment))
        .condition_expression(OWN_CONDITION)
        .expression_attribute_values(":generation", n(held.generation))
        .send()
        .await
        .map_err(err("DeleteItem"));
    done_unless(out, "ConditionalCheckFailedException").map(drop)
}

/// Every lease of the table (none when there is no table yet), by environment.
pub async fn list(lease: &LeaseClient) -> Result<Vec<Holder>, AwsError> {
    let mut out = Vec::new();
    let mut pages = lease
        .client
        .scan()
        .table_name(TABLE)
        .consistent_read(true)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        match page {
            Ok(p) => out.extend(p.items().iter().map(holder)),
            Err(e) => {
                let e = err("Scan")(e);
                if e.code() == Some("ResourceNotFoundException") {
                    return Ok(Vec::new());
                }
                return Err(e);
            }
        }
    }
    out.sort_by(|a, b| a.environment.cmp(&b.environment));
    Ok(out)
}

/// Breaks the lease of `environment` whoever holds it (`lock break`): it expires at 0 and
/// keeps its generation, so the holder's next renewal fails and it stops before its next
/// change, and the next run takes the next generation.
pub async fn break_lease(lease: &LeaseClient, environment: &str) -> Result<(), AwsError> {
    lease
        .client
        .update_item()
        .table_name(TABLE)
        .key(KEY, s(environment))
        .update_expression("SET expires_at = :zero")
        .condition_expression("attribute_exists(environment)")
        .expression_attribute_values(":zero", n(0))
        .send()
        .await
        .map_err(err("UpdateItem"))?;
    Ok(())
}

/// Renews `held` every `every` until `stop` is set. When a renewal finds the lease broken or
/// taken over, or the lease runs out because renewals failed, it sets `lost` and returns:
/// the command's next mutating call then fails (see [`crate::guard`]).
pub async fn heartbeat(
    lease: LeaseClient,
    held: Holder,
    ttl: Duration,
    every: Duration,
    lost: Arc<AtomicBool>,
    stop: Arc<tokio::sync::Notify>,
    now: impl Fn() -> i64,
) {
    let mut expires_at = held.expires_at;
    loop {
        tokio::select! {
            _ = stop.notified() => return,
            _ = tokio::time::sleep(every) => {}
        }
        let t = now();
        match renew(&lease, &held, ttl, t).await {
            Ok(true) => expires_at = t + ttl.as_secs() as i64,
            Ok(false) => {
                asiaq_engine::report::warn(format!(
                    "the lease of environment {} was broken or taken over: stopping before the next change",
                    held.environment
                ));
                lost.store(true, Ordering::SeqCst);
                return;
            }
            Err(e) if t > expires_at => {
                asiaq_engine::report::warn(format!(
                    "the lease of environment {} ran out (renewing failed: {e}): stopping before the next change",
                    held.environment
                ));
                lost.store(true, Ordering::SeqCst);
                return;
            }
            Err(e) => asiaq_engine::report::warn(format!(
                "renewing the lease of environment {} failed ({e}); trying again",
                held.environment
            )),
        }
    }
}
