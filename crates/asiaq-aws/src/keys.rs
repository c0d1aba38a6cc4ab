//! `keys rotate`: each key written to the credential bucket (private and public) and, for
//! the bake key, imported as the EC2 key pair of that name, all or nothing: a failure part-way
//! puts back what the key had before (the objects, and the key pair from the old public
//! key), and says so, or says exactly what it could not put back.

use asiaq_core::iam::{MANAGED_TAG_KEY, MANAGED_TAG_VALUE};
use asiaq_core::keys::KeyAction;
use asiaq_core::plan::Plan;
use asiaq_core::secret::Secret;
use asiaq_engine::{Apply, ExecOptions};
use aws_sdk_ec2::primitives::Blob;
use aws_sdk_ec2::types::ResourceType;

use crate::context::AwsContext;
use crate::credentials::Bucket;
use crate::error::AwsError;
use crate::tags::ec2_tag_spec;

/// A generated key pair. The private key is a secret: never logged or printed.
pub struct NewKey {
    pub name: String,
    pub private: Secret,
    pub public: String,
}

/// Whether the EC2 key pair `name` exists.
pub async fn key_pair_exists(ctx: &AwsContext, name: &str) -> Result<bool, AwsError> {
    match ctx.ec2().describe_key_pairs().key_names(name).send().await {
        Ok(out) => Ok(!out.key_pairs().is_empty()),
        Err(e) => {
            let e = AwsError::call("ec2", "DescribeKeyPairs", e);
            if e.code() == Some("InvalidKeyPair.NotFound") {
                Ok(false)
            } else {
                Err(e)
            }
        }
    }
}

async fn import(ctx: &AwsContext, name: &str, public: &str) -> Result<(), AwsError> {
    ctx.ec2()
        .import_key_pair()
        .key_name(name)
        .public_key_material(Blob::new(public.as_bytes()))
        .tag_specifications(ec2_tag_spec(
            ResourceType::KeyPair,
            &[(MANAGED_TAG_KEY, MANAGED_TAG_VALUE)],
        ))
        .send()
        .await
        .map(drop)
        .map_err(|e| AwsError::call("ec2", "ImportKeyPair", e))
}

async fn delete_pair(ctx: &AwsContext, name: &str) -> Result<(), AwsError> {
    ctx.ec2()
        .delete_key_pair()
        .key_name(name)
        .send()
        .await
        .map(drop)
        .map_err(|e| AwsError::call("ec2", "DeleteKeyPair", e))
}

/// What a key had before its rotation.
struct Before {
    private: Option<Vec<u8>>,
    public: Option<Vec<u8>>,
    pair: bool,
}

/// The changes of one rotation, in order, so that a failure undoes what was done.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Done {
    Public,
    Private,
    PairDeleted,
}

struct KeySteps<'a> {
    ctx: &'a AwsContext,
    bucket: Bucket<'a>,
    keys: &'a [NewKey],
}

impl KeySteps<'_> {
    async fn rotate(
        &self,
        key: &NewKey,
        private_path: &str,
        public_path: &str,
        pair: Option<&str>,
        done: &mut Vec<Done>,
    ) -> Result<(), AwsError> {
        self.bucket
            .put(public_path, key.public.as_bytes().to_vec())
            .await?;
        done.push(Done::Public);
        self.bucket.put_secret(private_path, &key.private).await?;
        done.push(Done::Private);
        if let Some(pair) = pair {
            if key_pair_exists(self.ctx, pair).await? {
                delete_pair(self.ctx, pair).await?;
                done.push(Done::PairDeleted);
            }
            import(self.ctx, pair, &key.public).await?;
        }
        Ok(())
    }

    /// Puts back what `done` changed; the problems of what could not be put back.
    async fn undo(
        &self,
        before: &Before,
        done: &[Done],
        private_path: &str,
        public_path: &str,
        pair: Option<&str>,
    ) -> Vec<String> {
        let mut problems = Vec::new();
        let restore = |path: &str, old: &Option<Vec<u8>>| {
            let (b, path, old) = (self.bucket, path.to_string(), old.clone());
            async move {
                match old {
                    Some(bytes) => b.put(&path, bytes).await,
                    None => b.delete(&path).await,
                }
                .map_err(|e| format!("{path}: {e}"))
            }
        };
        if let (Some(pair), true) = (pair, done.contains(&Done::PairDeleted)) {
            // The import failed (it is the last step): the old pair comes back from the
            // old public key, which is what the pair held if the bucket was in step.
            let old = before
                .public
                .as_deref()
                .map(|b| String::from_utf8_lossy(b).into_owned());
            match old {
                Some(old) if before.pair => {
                    if let Err(e) = import(self.ctx, pair, &old).await {
                        problems.push(format!("EC2 key pair {pair}: {e}"));
                    }
                }
                _ => problems.push(format!(
                    "EC2 key pair {pair}: deleted, and there is no old public key to import again"
                )),
            }
        }
        if done.contains(&Done::Private) {
            if let Err(e) = restore(private_path, &before.private).await {
                problems.push(e);
            }
        }
        if done.contains(&Done::Public) {
            if let Err(e) = restore(public_path, &before.public).await {
                problems.push(e);
            }
        }
        problems
    }
}

impl Apply<KeyAction> for KeySteps<'_> {
    type Error = AwsError;

    async fn apply(&self, action: &KeyAction) -> Result<Option<String>, AwsError> {
        let KeyAction::RotateKey {
            name,
            private_key,
            public_key,
            ec2_key_pair,
        } = action;
        let key = self
            .keys
            .iter()
            .find(|k| &k.name == name)
            .ok_or_else(|| AwsError::State(format!("key {name}: not generated")))?;
        let pair = ec2_key_pair.as_deref();
        let before = Before {
            private: self.bucket.get(private_key).await?,
            public: self.bucket.get(public_key).await?,
            pair: match pair {
                Some(p) => key_pair_exists(self.ctx, p).await?,
                None => false,
            },
        };
        let mut done = Vec::new();
        match self
            .rotate(key, private_key, public_key, pair, &mut done)
            .await
        {
            Ok(()) => Ok(None),
            Err(e) => {
                let problems = self
                    .undo(&before, &done, private_key, public_key, pair)
                    .await;
                let state = if problems.is_empty() {
                    format!("key {name} is untouched (what was written was put back)")
                } else {
                    format!(
                        "key {name} is PARTLY ROTATED; not put back: {}",
                        problems.join("; ")
                    )
                };
                Err(AwsError::State(format!("{e}; {state}")))
            }
        }
    }

    fn unresolved(&self, action: &KeyAction, key: &str) -> AwsError {
        AwsError::State(format!("{action}: nothing created {key}"))
    }

    fn disposition(&self, _action: &KeyAction, _error: &AwsError) -> asiaq_engine::Disposition {
        // A failed rotation has already been put back (or says what is left): never
        // sent again, so that what is reported is what is.
        asiaq_engine::Disposition::Fail
    }
}

/// Rotates the plan's keys one after the other; the first failure stops the run. Returns
/// the names of the keys rotated; the error names the key that failed and its state.
pub async fn apply_plan(
    ctx: &AwsContext,
    bucket: &str,
    plan: &Plan<KeyAction>,
    keys: &[NewKey],
) -> Result<usize, AwsError> {
    let options = ExecOptions {
        max_in_flight: 1,
        retry: crate::vpc::execute::retry_policy(),
        title: "keys rotate".to_string(),
    };
    let reporter = asiaq_engine::report::current();
    asiaq_engine::execute(
        &KeySteps {
            ctx,
            bucket: Bucket::new(ctx, bucket),
            keys,
        },
        plan,
        &options,
        reporter.as_ref(),
    )
    .await
    .map(|done| done.steps_done)
    .map_err(|f| {
        let name = |id: usize| {
            plan.steps
                .iter()
                .find(|s| s.id == id)
                .map(|s| s.action.name().to_string())
                .unwrap_or_default()
        };
        let rotated: Vec<String> = f.completed.iter().map(|i| name(*i)).collect();
        let left: Vec<String> = plan
            .steps
            .iter()
            .filter(|s| s.id != f.step_id && !f.completed.contains(&s.id))
            .map(|s| s.action.name().to_string())
            .collect();
        let list = |v: &[String]| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.join(" ")
            }
        };
        AwsError::State(format!(
            "{}; rotated: {}; not started: {}",
            f.error,
            list(&rotated),
            list(&left)
        ))
    })
}
