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
    /// `whoami`: account, ARN, user id, region and endpoint, a line each in two columns;
    /// JSON: the identity.
    pub fn printout(&self) -> asiaq_core::printout::Printout {
        let endpoint = self
            .endpoint
            .as_deref()
            .unwrap_or("AWS (default endpoints)");
        let rows: Vec<Vec<String>> = [
            ("account", self.account.as_str()),
            ("arn", &self.arn),
            ("user id", &self.user_id),
            ("region", &self.region),
            ("endpoint", endpoint),
        ]
        .iter()
        .map(|(k, v)| vec![k.to_string(), v.to_string()])
        .collect();
        let lines = asiaq_core::printout::table_lines(&rows);
        asiaq_core::printout::Printout::new(self, lines)
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whoami_lines() {
        let id = Identity {
            account: "123".into(),
            arn: "arn:aws:iam::123:user/me".into(),
            user_id: "AID".into(),
            region: "us-east-1".into(),
            endpoint: None,
        };
        let p = id.printout();
        assert_eq!(
            p.lines,
            [
                "account   123",
                "arn       arn:aws:iam::123:user/me",
                "user id   AID",
                "region    us-east-1",
                "endpoint  AWS (default endpoints)"
            ]
        );
        assert_eq!(p.json["account"], "123");
    }
}
