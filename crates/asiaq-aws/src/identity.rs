//! Who the credentials belong to (`asiaq whoami`).

use serde::Serialize;

use crate::context::AwsContext;
use crate::error::AwsError;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Identity {
    pub account: String,
    pub arn: String,
    pub user_id: String,
    pub region: String,
    /// `None` when talking to the real AWS endpoints.
    pub endpoint: Option<String>,
}

impl Identity {
    pub async fn fetch(ctx: &AwsContext) -> Result<Self, AwsError> {
        let out = ctx
            .sts()
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| AwsError::call("sts", "GetCallerIdentity", e))?;
        let missing = |field| AwsError::MissingField {
            service: "sts",
            operation: "GetCallerIdentity",
            field,
        };
        Ok(Identity {
            account: out.account.ok_or_else(|| missing("Account"))?,
            arn: out.arn.ok_or_else(|| missing("Arn"))?,
            user_id: out.user_id.ok_or_else(|| missing("UserId"))?,
            region: ctx.region().to_string(),
            endpoint: ctx.endpoint_override(),
        })
    }
}
