//! The credential bucket of an environment (spec §4.13): finding it, and reading and
//! writing its objects for `creds`, `app-auth` and `accounts`.
//!
//! Values are secrets: they travel as bytes or [`Secret`]s and never appear in errors.
//! Every write uses S3 server-side encryption (AES256) and is checked afterwards: the
//! object's length must be the length written (the original's `check_written_s3`).

use std::collections::BTreeMap;

use asiaq_core::secret::Secret;
use aws_sdk_ec2::types::Filter;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;

use crate::context::AwsContext;
use crate::error::AwsError;

/// The `type` tag of the VPC tagged `Name=<name>`, or `None` when there is no such VPC.
/// (The original's `fetch_environment`: the first match; a VPC without a type tag has
/// the empty type.)
pub async fn environment_type(ctx: &AwsContext, name: &str) -> Result<Option<String>, AwsError> {
    let out = ctx
        .ec2()
        .describe_vpcs()
        .filters(Filter::builder().name("tag:Name").values(name).build())
        .send()
        .await
        .map_err(|e| AwsError::call("ec2", "DescribeVpcs", e))?;
    Ok(out.vpcs().first().map(|vpc| {
        crate::tags::ec2_tag(vpc.tags(), "type")
            .unwrap_or_default()
            .to_string()
    }))
}

/// The `type` of environment `name` ([`environment_type`]); refused (bad input) when it
/// does not exist, saying how to go on.
pub async fn require_environment_type(
    ctx: &AwsContext,
    name: &str,
) -> Result<String, crate::FlowError> {
    let missing = || {
        asiaq_core::printout::Refusal::usage(format!(
            "environment {name} does not exist (no VPC tagged Name={name})"
        ))
        .with_hint("create it with `asiaq vpc create`, or name the bucket with --bucket")
    };
    Ok(environment_type(ctx, name).await?.ok_or_else(missing)?)
}

/// One bucket's objects.
#[derive(Debug, Clone, Copy)]
pub struct Bucket<'a> {
    ctx: &'a AwsContext,
    name: &'a str,
}

impl<'a> Bucket<'a> {
    pub fn new(ctx: &'a AwsContext, name: &'a str) -> Self {
        Bucket { ctx, name }
    }

    pub fn name(&self) -> &str {
        self.name
    }

    fn call<E>(operation: &'static str) -> impl FnOnce(crate::error::CallError<E>) -> AwsError
    where
        E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    {
        move |e| AwsError::call("s3", operation, e)
    }

    /// Fails with a clear message when the bucket does not exist or is not reachable.
    pub async fn check(&self) -> Result<(), AwsError> {
        self.ctx
            .s3()
            .head_bucket()
            .bucket(self.name)
            .send()
            .await
            .map(drop)
            .map_err(|e| {
                let e = Self::call("HeadBucket")(e);
                match e.code() {
                    Some("NotFound") | Some("NoSuchBucket") | Some("404") => {
                        AwsError::State(format!("bucket {} does not exist", self.name))
                    }
                    _ => e,
                }
            })
    }

    /// The keys starting with `prefix`, in S3's (lexicographic) order.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, AwsError> {
        let mut keys = Vec::new();
        let mut pages = self
            .ctx
            .s3()
            .list_objects_v2()
            .bucket(self.name)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(Self::call("ListObjectsV2"))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
        }
        Ok(keys)
    }

    /// The names after `prefix` of the keys under it (the prefix itself left out).
    pub async fn names(&self, prefix: &str) -> Result<Vec<String>, AwsError> {
        Ok(self
            .list(prefix)
            .await?
            .into_iter()
            .map(|k| k.trim_start_matches(prefix).to_string())
            .filter(|n| !n.is_empty())
            .collect())
    }

    /// The objects under `prefix` as (name after the prefix, text), one call per object
    /// after the listing (the account records of `asiaq accounts`).
    pub async fn texts(&self, prefix: &str) -> Result<Vec<(String, String)>, AwsError> {
        let mut out = Vec::new();
        for key in self.list(prefix).await? {
            let name = key.trim_start_matches(prefix).to_string();
            if name.is_empty() {
                continue;
            }
            if let Some(bytes) = self.get(&key).await? {
                out.push((name, String::from_utf8_lossy(&bytes).into_owned()));
            }
        }
        Ok(out)
    }

    /// The object's bytes, or `None` when the key does not exist.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, AwsError> {
        let out = match self
            .ctx
            .s3()
            .get_object()
            .bucket(self.name)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                let no_such_key = e.as_service_error().is_some_and(|s| s.is_no_such_key());
                if no_such_key {
                    return Ok(None);
                }
                return Err(Self::call("GetObject")(e));
            }
        };
        let bytes = out.body.collect().await.map_err(|e| AwsError::Call {
            service: "s3",
            operation: "GetObject",
            code: None,
            detail: format!("reading the body of {key}: {e}"),
        })?;
        Ok(Some(bytes.into_bytes().to_vec()))
    }

    /// The object as a secret string (invalid UTF-8 is replaced).
    pub async fn get_secret(&self, key: &str) -> Result<Option<Secret>, AwsError> {
        Ok(self
            .get(key)
            .await?
            .map(|b| Secret::new(String::from_utf8_lossy(&b).into_owned())))
    }

    /// The values of those of `keys` that exist, as secrets, one call per key.
    pub async fn secrets(&self, keys: &[&str]) -> Result<BTreeMap<String, Secret>, AwsError> {
        let mut out = BTreeMap::new();
        for key in keys {
            if let Some(v) = self.get_secret(key).await? {
                out.insert(key.to_string(), v);
            }
        }
        Ok(out)
    }

    /// Writes the object with SSE (AES256), then checks its length.
    pub async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), AwsError> {
        let len = value.len() as i64;
        self.ctx
            .s3()
            .put_object()
            .bucket(self.name)
            .key(key)
            .server_side_encryption(ServerSideEncryption::Aes256)
            .body(ByteStream::from(value))
            .send()
            .await
            .map_err(Self::call("PutObject"))?;
        let head = self
            .ctx
            .s3()
            .head_object()
            .bucket(self.name)
            .key(key)
            .send()
            .await
            .map_err(Self::call("HeadObject"))?;
        match head.content_length() {
            Some(n) if n == len => Ok(()),
            other => Err(AwsError::State(format!(
                "s3://{}/{key} holds {} bytes after writing {len}",
                self.name,
                other.map_or_else(|| "an unknown number of".to_string(), |n| n.to_string())
            ))),
        }
    }

    /// [`Self::put`] of a secret.
    pub async fn put_secret(&self, key: &str, value: &Secret) -> Result<(), AwsError> {
        self.put(key, value.expose().as_bytes().to_vec()).await
    }

    /// Deletes the object (deleting a missing key is not an error in S3).
    pub async fn delete(&self, key: &str) -> Result<(), AwsError> {
        self.ctx
            .s3()
            .delete_object()
            .bucket(self.name)
            .key(key)
            .send()
            .await
            .map(drop)
            .map_err(Self::call("DeleteObject"))
    }
}

/// The account records of `asiaq accounts` live in the bucket.
impl asiaq_core::accounts::RecordStore for Bucket<'_> {
    type Error = AwsError;

    fn name(&self) -> &str {
        Bucket::name(self)
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, AwsError> {
        Bucket::get(self, key).await
    }

    async fn texts(&self, prefix: &str) -> Result<Vec<(String, String)>, AwsError> {
        Bucket::texts(self, prefix).await
    }
}
