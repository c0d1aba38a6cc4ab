//! Which service and operation a request is, and how that service's protocol spells an error.
//!
//! The service comes from the SigV4 credential scope (`Credential=AKID/date/region/SERVICE/
//! aws4_request`), which every signed SDK request carries; the operation from the protocol:
//! `Action=` of the query protocols (form body or URL query), `X-Amz-Target` of the JSON
//! protocols, and method plus path shape for the REST protocols (S3 and Route53 by name).

use asiaq_core::ec2_limits::QueryRequest;
use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use hyper::{Method, StatusCode, Uri};

/// The wire protocol of a request, which decides the shape of error answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// EC2's own query protocol: `<Response><Errors><Error>`.
    Ec2Query,
    /// awsQuery (autoscaling, IAM, STS, ELB, RDS, ...): `<ErrorResponse><Error>`.
    AwsQuery,
    /// awsJson 1.0/1.1 (DynamoDB, SSM, CloudWatch Logs, ACM): `__type` and
    /// `x-amzn-ErrorType`.
    AwsJson,
    /// restXml (S3, Route53).
    RestXml,
    /// restJson (OpenSearch, ...).
    RestJson,
}

impl Protocol {
    /// The name used in the request log.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Ec2Query => "ec2-query",
            Protocol::AwsQuery => "aws-query",
            Protocol::AwsJson => "aws-json",
            Protocol::RestXml => "rest-xml",
            Protocol::RestJson => "rest-json",
        }
    }
}

/// What the proxy knows about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestInfo {
    /// The SigV4 signing name (`ec2`, `autoscaling`, `monitoring`, `es`, ...), or `unknown`
    /// for an unsigned request.
    pub service: String,
    pub operation: String,
    pub protocol: Protocol,
    /// The parsed parameters of a query-protocol request.
    pub query: Option<QueryRequest>,
}

impl RequestInfo {
    /// `service:Operation`, the key of summaries, limits and fault rules.
    pub fn key(&self) -> String {
        format!("{}:{}", self.service, self.operation)
    }
}

/// Identifies a request from its head and (buffered) body.
pub fn identify(method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> RequestInfo {
    let service = signing_service(headers, uri).unwrap_or_else(|| "unknown".to_string());
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        let operation = target.rsplit('.').next().unwrap_or(target).to_string();
        return RequestInfo {
            service,
            operation,
            protocol: Protocol::AwsJson,
            query: None,
        };
    }
    let form = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    let query = form
        .then(|| QueryRequest::parse(body))
        .flatten()
        .or_else(|| uri.query().and_then(|q| QueryRequest::parse(q.as_bytes())));
    if let Some(query) = query {
        let protocol = if service == "ec2" {
            Protocol::Ec2Query
        } else {
            Protocol::AwsQuery
        };
        return RequestInfo {
            service,
            operation: query.action.clone(),
            protocol,
            query: Some(query),
        };
    }
    let (operation, protocol) = match service.as_str() {
        "s3" => (s3_operation(method, uri, headers), Protocol::RestXml),
        "route53" => (route53_operation(method, uri.path()), Protocol::RestXml),
        _ => (path_shape(method, uri.path()), Protocol::RestJson),
    };
    RequestInfo {
        service,
        operation,
        protocol,
        query: None,
    }
}

/// The service of the SigV4 credential scope, from the Authorization header or, for
/// presigned URLs, the `X-Amz-Credential` query parameter.
fn signing_service(headers: &HeaderMap, uri: &Uri) -> Option<String> {
    let scope_from = |credential: &str| {
        // AKID/20240101/us-west-2/ec2/aws4_request
        let parts: Vec<&str> = credential.split('/').collect();
        (parts.len() >= 5 && parts[parts.len() - 1] == "aws4_request")
            .then(|| parts[parts.len() - 2].to_string())
    };
    if let Some(auth) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let credential = auth
            .split([' ', ','])
            .find_map(|part| part.trim().strip_prefix("Credential="))?;
        return scope_from(credential);
    }
    let query = uri.query()?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "X-Amz-Credential")
        .and_then(|(_, v)| scope_from(&v))
}

fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

fn verb(method: &Method) -> &'static str {
    match *method {
        Method::GET => "Get",
        Method::PUT => "Put",
        Method::DELETE => "Delete",
        Method::HEAD => "Head",
        Method::POST => "Post",
        _ => "Other",
    }
}

/// S3 operations of path-style requests (`/bucket/key?subresource`).
fn s3_operation(method: &Method, uri: &Uri, headers: &HeaderMap) -> String {
    let segs = segments(uri.path());
    let keys: Vec<String> = uri
        .query()
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, _)| k.into_owned())
                .collect()
        })
        .unwrap_or_default();
    let has = |k: &str| keys.iter().any(|key| key == k);
    const BUCKET_SUBRESOURCES: &[&str] = &[
        "tagging",
        "policy",
        "versioning",
        "acl",
        "lifecycle",
        "encryption",
        "cors",
        "website",
        "notification",
        "logging",
        "replication",
        "location",
        "publicAccessBlock",
        "ownershipControls",
        "accelerate",
        "requestPayment",
        "object-lock",
    ];
    match segs.len() {
        0 => match *method {
            Method::GET => "ListBuckets".into(),
            _ => format!("{method} /"),
        },
        1 => {
            if let Some(sub) = BUCKET_SUBRESOURCES.iter().find(|s| has(s)) {
                let name: String = sub.split('-').map(capitalize).collect();
                return format!("{}Bucket{name}", verb(method));
            }
            match *method {
                Method::GET if has("uploads") => "ListMultipartUploads".into(),
                Method::GET if has("versions") => "ListObjectVersions".into(),
                Method::GET if has("list-type") => "ListObjectsV2".into(),
                Method::GET => "ListObjects".into(),
                Method::POST if has("delete") => "DeleteObjects".into(),
                Method::PUT => "CreateBucket".into(),
                Method::DELETE => "DeleteBucket".into(),
                Method::HEAD => "HeadBucket".into(),
                _ => format!("{method} /{{bucket}}"),
            }
        }
        _ => {
            if has("tagging") {
                return format!("{}ObjectTagging", verb(method));
            }
            match *method {
                Method::POST if has("uploads") => "CreateMultipartUpload".into(),
                Method::POST if has("uploadId") => "CompleteMultipartUpload".into(),
                Method::PUT if has("partNumber") => "UploadPart".into(),
                Method::DELETE if has("uploadId") => "AbortMultipartUpload".into(),
                Method::GET if has("uploadId") => "ListParts".into(),
                Method::PUT if headers.contains_key("x-amz-copy-source") => "CopyObject".into(),
                Method::PUT => "PutObject".into(),
                Method::GET => "GetObject".into(),
                Method::HEAD => "HeadObject".into(),
                Method::DELETE => "DeleteObject".into(),
                _ => format!("{method} /{{bucket}}/{{key}}"),
            }
        }
    }
}

/// Route53 operations (`/2013-04-01/hostedzone/Z123/rrset`, ...).
fn route53_operation(method: &Method, path: &str) -> String {
    let segs = segments(path);
    let rest: Vec<&str> = segs.iter().skip(1).copied().collect();
    let op = match (method, rest.as_slice()) {
        (&Method::GET, ["hostedzone"]) => "ListHostedZones",
        (&Method::POST, ["hostedzone"]) => "CreateHostedZone",
        (&Method::GET, ["hostedzone", _]) => "GetHostedZone",
        (&Method::DELETE, ["hostedzone", _]) => "DeleteHostedZone",
        (&Method::POST, ["hostedzone", _]) => "UpdateHostedZoneComment",
        (&Method::GET, ["hostedzone", _, "rrset"]) => "ListResourceRecordSets",
        (&Method::POST, ["hostedzone", _, "rrset"]) => "ChangeResourceRecordSets",
        (&Method::POST, ["hostedzone", _, "associatevpc"]) => "AssociateVPCWithHostedZone",
        (&Method::POST, ["hostedzone", _, "disassociatevpc"]) => "DisassociateVPCFromHostedZone",
        (&Method::GET, ["hostedzonesbyname"]) => "ListHostedZonesByName",
        (&Method::GET, ["hostedzonesbyvpc"]) => "ListHostedZonesByVPC",
        (&Method::GET, ["hostedzonecount"]) => "GetHostedZoneCount",
        (&Method::GET, ["change", _]) => "GetChange",
        (&Method::GET, ["tags", _, _]) => "ListTagsForResource",
        (&Method::POST, ["tags", _, _]) => "ChangeTagsForResource",
        (&Method::GET, ["healthcheck"]) => "ListHealthChecks",
        (&Method::POST, ["healthcheck"]) => "CreateHealthCheck",
        (&Method::GET, ["healthcheck", _]) => "GetHealthCheck",
        (&Method::POST, ["healthcheck", _]) => "UpdateHealthCheck",
        (&Method::DELETE, ["healthcheck", _]) => "DeleteHealthCheck",
        _ => return path_shape(method, path),
    };
    op.to_string()
}

/// `METHOD /word/{}/word`: path segments that look like identifiers become `{}`, so that a
/// summary groups the calls of one REST operation.
fn path_shape(method: &Method, path: &str) -> String {
    let shape: Vec<String> = segments(path)
        .iter()
        .enumerate()
        .map(|(i, seg)| {
            let word = seg.len() <= 24
                && seg.chars().all(|c| {
                    c.is_ascii_lowercase() || (i == 0 && (c.is_ascii_digit() || c == '-'))
                });
            if word {
                seg.to_string()
            } else {
                "{}".to_string()
            }
        })
        .collect();
    format!("{method} /{}", shape.join("/"))
}

/// An error answer: status, headers and body as the real service would send them.
#[derive(Debug, Clone)]
pub struct ErrorAnswer {
    pub status: StatusCode,
    pub headers: Vec<(&'static str, HeaderValue)>,
    pub body: Bytes,
}

/// The throttling answer of the request's protocol and service.
pub fn throttle_answer(info: &RequestInfo, request_id: &str) -> ErrorAnswer {
    match (info.protocol, info.service.as_str()) {
        (Protocol::Ec2Query, _) => error_answer(
            info,
            StatusCode::SERVICE_UNAVAILABLE,
            "RequestLimitExceeded",
            "Request limit exceeded.",
            request_id,
        ),
        (Protocol::RestXml, "s3") => error_answer(
            info,
            StatusCode::SERVICE_UNAVAILABLE,
            "SlowDown",
            "Please reduce your request rate.",
            request_id,
        ),
        (Protocol::AwsJson, _) => error_answer(
            info,
            StatusCode::BAD_REQUEST,
            "ThrottlingException",
            "Rate exceeded",
            request_id,
        ),
        (Protocol::RestJson, _) => error_answer(
            info,
            StatusCode::TOO_MANY_REQUESTS,
            "ThrottlingException",
            "Rate exceeded",
            request_id,
        ),
        (Protocol::AwsQuery | Protocol::RestXml, _) => error_answer(
            info,
            StatusCode::BAD_REQUEST,
            "Throttling",
            "Rate exceeded",
            request_id,
        ),
    }
}

/// An error answer with the given status and AWS error code, in the request's protocol.
pub fn error_answer(
    info: &RequestInfo,
    status: StatusCode,
    code: &str,
    message: &str,
    request_id: &str,
) -> ErrorAnswer {
    let xml = |body: String| ErrorAnswer {
        status,
        headers: vec![
            (
                "content-type",
                HeaderValue::from_static("text/xml;charset=UTF-8"),
            ),
            request_id_header(request_id),
        ],
        body: Bytes::from(body),
    };
    let (xml_code, xml_message) = (xml_escape(code), xml_escape(message));
    // awsQuery and Route53 say whose fault it is; 5xx are the server's.
    let fault_type = if status.is_server_error() {
        "Receiver"
    } else {
        "Sender"
    };
    match info.protocol {
        Protocol::Ec2Query => xml(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{xml_code}</Code><Message>{xml_message}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
        )),
        Protocol::RestXml if info.service == "s3" => xml(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{xml_code}</Code><Message>{xml_message}</Message><RequestId>{request_id}</RequestId></Error>"
        )),
        Protocol::AwsQuery | Protocol::RestXml => xml(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse><Error><Type>{fault_type}</Type><Code>{xml_code}</Code><Message>{xml_message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )),
        Protocol::AwsJson | Protocol::RestJson => {
            let body = match info.protocol {
                Protocol::AwsJson => serde_json::json!({"__type": code, "message": message}),
                _ => serde_json::json!({"message": message}),
            };
            let content_type = if info.protocol == Protocol::AwsJson {
                "application/x-amz-json-1.1"
            } else {
                "application/json"
            };
            ErrorAnswer {
                status,
                headers: vec![
                    ("content-type", HeaderValue::from_static(content_type)),
                    (
                        "x-amzn-errortype",
                        HeaderValue::from_str(code).unwrap_or(HeaderValue::from_static("Unknown")),
                    ),
                    request_id_header(request_id),
                ],
                body: Bytes::from(body.to_string()),
            }
        }
    }
}

fn request_id_header(request_id: &str) -> (&'static str, HeaderValue) {
    (
        "x-amzn-requestid",
        HeaderValue::from_str(request_id).unwrap_or(HeaderValue::from_static("0")),
    )
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(service: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-west-2/{service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc"
            ))
            .unwrap(),
        );
        h
    }

    fn form(service: &str) -> HeaderMap {
        let mut h = signed(service);
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        h
    }

    fn id(method: Method, uri: &str, headers: &HeaderMap, body: &str) -> RequestInfo {
        identify(&method, &uri.parse().unwrap(), headers, body.as_bytes())
    }

    #[test]
    fn query_protocols_are_named_by_action() {
        let info = id(
            Method::POST,
            "/",
            &form("ec2"),
            "Action=DescribeVpcs&Version=2016-11-15",
        );
        assert_eq!(info.key(), "ec2:DescribeVpcs");
        assert_eq!(info.protocol, Protocol::Ec2Query);
        let info = id(
            Method::POST,
            "/",
            &form("autoscaling"),
            "Action=DescribeAutoScalingGroups&Version=2011-01-01",
        );
        assert_eq!(info.key(), "autoscaling:DescribeAutoScalingGroups");
        assert_eq!(info.protocol, Protocol::AwsQuery);
        let info = id(
            Method::GET,
            "/?Action=ListRoles&Version=2010-05-08",
            &signed("iam"),
            "",
        );
        assert_eq!(info.key(), "iam:ListRoles");
    }

    #[test]
    fn json_protocols_are_named_by_target() {
        let mut h = signed("dynamodb");
        h.insert(
            "x-amz-target",
            HeaderValue::from_static("DynamoDB_20120810.ListTables"),
        );
        let info = id(Method::POST, "/", &h, "{}");
        assert_eq!(info.key(), "dynamodb:ListTables");
        assert_eq!(info.protocol, Protocol::AwsJson);
    }

    #[test]
    fn rest_protocols_are_named_by_method_and_path() {
        let s3 = signed("s3");
        assert_eq!(id(Method::GET, "/", &s3, "").operation, "ListBuckets");
        assert_eq!(
            id(Method::PUT, "/my-bucket", &s3, "").operation,
            "CreateBucket"
        );
        assert_eq!(
            id(Method::GET, "/my-bucket?list-type=2&prefix=a", &s3, "").operation,
            "ListObjectsV2"
        );
        assert_eq!(
            id(Method::PUT, "/my-bucket?tagging", &s3, "").operation,
            "PutBucketTagging"
        );
        assert_eq!(
            id(Method::GET, "/my-bucket/a/b.txt", &s3, "").operation,
            "GetObject"
        );
        assert_eq!(
            id(Method::PUT, "/my-bucket/a?partNumber=1&uploadId=x", &s3, "").operation,
            "UploadPart"
        );
        let r53 = signed("route53");
        assert_eq!(
            id(Method::GET, "/2013-04-01/hostedzone", &r53, "").operation,
            "ListHostedZones"
        );
        assert_eq!(
            id(
                Method::POST,
                "/2013-04-01/hostedzone/Z1ABC/rrset/",
                &r53,
                ""
            )
            .operation,
            "ChangeResourceRecordSets"
        );
        assert_eq!(
            id(Method::GET, "/2013-04-01/change/C2XYZ", &r53, "").operation,
            "GetChange"
        );
        let info = id(
            Method::GET,
            "/2021-01-01/opensearch/domain/Abc-123",
            &signed("es"),
            "",
        );
        assert_eq!(info.operation, "GET /2021-01-01/opensearch/domain/{}");
        assert_eq!(info.protocol, Protocol::RestJson);
    }

    #[test]
    fn unsigned_requests_have_an_unknown_service() {
        let info = id(Method::GET, "/moto-api/data.json", &HeaderMap::new(), "");
        assert_eq!(info.service, "unknown");
        let info = id(
            Method::GET,
            "/bucket/key?X-Amz-Credential=AKID%2F20240101%2Fus-west-2%2Fs3%2Faws4_request&X-Amz-Signature=x",
            &HeaderMap::new(),
            "",
        );
        assert_eq!(info.key(), "s3:GetObject");
    }

    #[test]
    fn error_bodies_follow_each_protocol() {
        let ec2 = id(Method::POST, "/", &form("ec2"), "Action=RunInstances");
        let a = throttle_answer(&ec2, "r-1");
        assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
        let body = String::from_utf8(a.body.to_vec()).unwrap();
        assert!(body.contains("<Response><Errors><Error><Code>RequestLimitExceeded</Code>"));

        let asg = id(Method::POST, "/", &form("autoscaling"), "Action=X");
        let a = throttle_answer(&asg, "r-1");
        assert_eq!(a.status, StatusCode::BAD_REQUEST);
        let body = String::from_utf8(a.body.to_vec()).unwrap();
        assert!(body.contains("<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"));

        let mut h = signed("logs");
        h.insert("x-amz-target", HeaderValue::from_static("Logs_20140328.X"));
        let logs = id(Method::POST, "/", &h, "{}");
        let a = error_answer(
            &logs,
            StatusCode::INTERNAL_SERVER_ERROR,
            "Boom<&>",
            "m",
            "r",
        );
        assert!(a
            .headers
            .iter()
            .any(|(k, v)| *k == "x-amzn-errortype" && v == "Boom<&>"));
        let json: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
        assert_eq!(json["__type"], "Boom<&>");

        let a = error_answer(&asg, StatusCode::INTERNAL_SERVER_ERROR, "A&B", "m", "r");
        let body = String::from_utf8(a.body.to_vec()).unwrap();
        assert!(body.contains("<Type>Receiver</Type><Code>A&amp;B</Code>"));
    }
}
