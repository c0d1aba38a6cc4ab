//! Errors of the AWS layer, carrying the service, the operation and AWS's own code.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;

/// The error of one SDK call, as every generated client returns it.
pub type CallError<E> = SdkError<E, HttpResponse>;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// The credential chain found nothing usable.
    #[error("no AWS credentials found: {0}")]
    NoCredentials(String),
    /// An asiaq setting (environment variable) has a value we cannot use.
    #[error("{name}={value:?} is not valid: expected {expected}")]
    InvalidSetting {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
    /// No region was configured anywhere.
    #[error("no AWS region configured (set AWS_REGION, AWS_DEFAULT_REGION or a profile region)")]
    NoRegion,
    /// A call failed; `detail` is AWS's code and message, or the transport problem.
    #[error("{service}:{operation} failed: {detail}")]
    Call {
        service: &'static str,
        operation: &'static str,
        /// AWS's error code (`InvalidVpcID.NotFound`, ...), when the service answered.
        code: Option<String>,
        detail: String,
    },
    /// A wait ran out of time.
    #[error("timed out after {waited} waiting for {what} (last state: {last_state})")]
    Timeout {
        what: String,
        waited: String,
        last_state: String,
    },
    /// AWS is not in a state the command can work with (e.g. two VPCs with one name).
    #[error("{0}")]
    State(String),
    /// A later call of a step failed after an earlier one had created `created` (a create
    /// whose tagging or wait failed): the id is kept so the rollback can delete it.
    #[error("{error} (after creating {created})")]
    AfterCreate {
        created: String,
        error: Box<AwsError>,
    },
    /// A response lacked a field that AWS documents as always present.
    #[error("{service}:{operation} returned no {field}")]
    MissingField {
        service: &'static str,
        operation: &'static str,
        field: &'static str,
    },
}

/// How a command's flow in this crate ends when it does not succeed: refused (bad input,
/// or a failure it explains, [`asiaq_core::printout::Refusal`]) or an AWS error.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error(transparent)]
    Refused(#[from] asiaq_core::printout::Refusal),
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl From<asiaq_core::spinup::SpinupError> for FlowError {
    /// The configuration at fault: refused (exit 2); something missing (an image): failed.
    fn from(e: asiaq_core::spinup::SpinupError) -> Self {
        use asiaq_core::printout::Refusal;
        match e {
            asiaq_core::spinup::SpinupError::Config(m) => Refusal::usage(m).into(),
            asiaq_core::spinup::SpinupError::Missing(m) => Refusal::failed(m).into(),
        }
    }
}

impl AwsError {
    /// Wraps an SDK error of one call.
    pub fn call<E>(service: &'static str, operation: &'static str, err: CallError<E>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let code = match &err {
            SdkError::ServiceError(service) => service.err().code().map(str::to_string),
            _ => None,
        };
        AwsError::Call {
            service,
            operation,
            code,
            detail: describe_sdk_error(&err),
        }
    }

    /// An SDK builder that refused to build `what` (a required field missing: a bug here,
    /// reported as an error rather than a panic).
    pub fn built<T, E: std::fmt::Display>(what: &str, result: Result<T, E>) -> Result<T, Self> {
        result.map_err(|e| AwsError::State(format!("cannot build {what}: {e}")))
    }

    /// This error, as the failure of a step that had already created `id`.
    pub fn after_creating(self, id: &str) -> Self {
        AwsError::AfterCreate {
            created: id.to_string(),
            error: Box::new(self),
        }
    }

    /// AWS's error code of a failed call.
    pub fn code(&self) -> Option<&str> {
        match self {
            AwsError::Call { code, .. } => code.as_deref(),
            AwsError::AfterCreate { error, .. } => error.code(),
            _ => None,
        }
    }

    /// True when AWS refused the call for its rate (`RequestLimitExceeded`, `Throttling`,
    /// ...), after the SDK's own retries: the call may be made again later, unchanged. The
    /// codes are the SDK's own list, so both agree on what throttling is.
    pub fn is_throttling(&self) -> bool {
        self.code()
            .is_some_and(|c| aws_runtime::retries::classifiers::THROTTLING_ERRORS.contains(&c))
    }

    /// True when AWS said the resource does not exist (`*.NotFound`, `NoSuch*`,
    /// `*NotFound*`): deletes treat it as already done.
    pub fn is_not_found(&self) -> bool {
        self.code().is_some_and(|c| {
            c.ends_with("NotFound") || c.starts_with("NoSuch") || c.contains("NotFoundException")
        })
    }
}

/// One line that says what went wrong: AWS's error code and message when the service
/// answered, otherwise the transport or credential problem (the SDK's `Display` alone only
/// says "service error", which is the opaque kind of message operators complain about).
pub fn describe_sdk_error<E>(err: &CallError<E>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err {
        SdkError::ServiceError(service) => {
            let inner = service.err();
            match (inner.code(), inner.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_string(),
                // No code: the service (or something in front of it) answered with a body
                // the SDK could not read as an error, and `inner` only says "unhandled
                // error". Its status and the start of the body are what an operator needs.
                _ => unparsed_answer(service.raw()),
            }
        }
        SdkError::TimeoutError(_) => "timed out waiting for AWS".to_string(),
        SdkError::DispatchFailure(failure) => {
            if let Some(connector) = failure.as_connector_error() {
                format!("could not reach AWS: {}", error_chain(connector))
            } else {
                format!("could not send the request: {}", error_chain(err))
            }
        }
        SdkError::ResponseError(_) => format!("unreadable response: {}", error_chain(err)),
        SdkError::ConstructionFailure(_) => {
            format!("could not build the request: {}", error_chain(err))
        }
        _ => error_chain(err),
    }
}

/// `HTTP <status>: <first 200 characters of the body>`, on one line. Error bodies carry
/// no request data, so nothing secret is echoed.
fn unparsed_answer(raw: &HttpResponse) -> String {
    const SHOWN: usize = 200;
    let body = raw
        .body()
        .bytes()
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    let body = body.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut shown: String = body.chars().take(SHOWN).collect();
    if shown.len() < body.len() {
        shown.push_str("...");
    }
    if shown.is_empty() {
        format!("HTTP {} with an empty body", raw.status().as_u16())
    } else {
        format!("HTTP {}: {shown}", raw.status().as_u16())
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// What the plan/apply engine needs to know of an AWS error.
impl asiaq_engine::StepError for AwsError {
    fn is_throttling(&self) -> bool {
        AwsError::is_throttling(self)
    }

    fn is_not_found(&self) -> bool {
        AwsError::is_not_found(self)
    }

    fn is_injected(&self) -> bool {
        crate::fault::is_injected(self)
    }

    fn created_before_failure(&self) -> Option<&str> {
        match self {
            AwsError::AfterCreate { created, .. } => Some(created),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AwsError;

    fn call_error(code: &str) -> AwsError {
        AwsError::Call {
            service: "ec2",
            operation: "DeleteNatGateway",
            code: Some(code.to_string()),
            detail: format!("{code}: ..."),
        }
    }

    #[test]
    fn throttling_codes_of_every_protocol_are_recognised() {
        for code in [
            "RequestLimitExceeded",
            "Throttling",
            "ThrottlingException",
            "SlowDown",
        ] {
            assert!(call_error(code).is_throttling(), "{code}");
        }
        for code in [
            "DependencyViolation",
            "InvalidVpcID.NotFound",
            "UnauthorizedOperation",
        ] {
            assert!(!call_error(code).is_throttling(), "{code}");
        }
    }

    #[test]
    fn an_answer_without_an_error_code_shows_its_status_and_body_start() {
        use aws_smithy_runtime_api::http::StatusCode;
        use aws_smithy_types::body::SdkBody;

        let page = format!(
            "<html>\n  <title>500 Internal Server Error</title>{}</html>",
            "x".repeat(300)
        );
        let raw = super::HttpResponse::new(StatusCode::try_from(500).unwrap(), SdkBody::from(page));
        let text = super::unparsed_answer(&raw);
        assert!(
            text.starts_with("HTTP 500: <html> <title>500 Internal Server Error</title>xx"),
            "{text}"
        );
        assert!(text.ends_with("..."), "{text}");
        assert!(text.len() < 220, "{text}");
        let empty = super::HttpResponse::new(StatusCode::try_from(403).unwrap(), SdkBody::empty());
        assert_eq!(
            super::unparsed_answer(&empty),
            "HTTP 403 with an empty body"
        );
    }
}
