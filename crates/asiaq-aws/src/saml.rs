//! Fetching a SAML identity provider's metadata (`[iam] saml_provider_url`).
//!
//! The metadata decides who may sign in to the account, so it is fetched over HTTPS only
//! (rustls, with the platform's trust store). Plain `http://` is accepted for loopback
//! addresses alone (a local test server, or a local proxy the operator runs).

use std::time::Duration;

/// Why the metadata could not be had.
#[derive(Debug, thiserror::Error)]
pub enum SamlMetadataError {
    /// The URL is not one asiaq fetches from (a configuration error).
    #[error("saml_provider_url {url:?}: {why}")]
    BadUrl { url: String, why: String },
    /// The server could not be reached or answered an error.
    #[error("cannot fetch the SAML metadata from {url}: {why}")]
    Fetch { url: String, why: String },
}

/// Checks that `url` is https, or http to a loopback address.
pub fn check_url(url: &str) -> Result<reqwest::Url, SamlMetadataError> {
    let bad = |why: &str| SamlMetadataError::BadUrl {
        url: url.to_string(),
        why: why.to_string(),
    };
    let parsed = reqwest::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" => {
            let loopback = match parsed.host() {
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            };
            if loopback {
                Ok(parsed)
            } else {
                Err(bad(
                    "plain http is accepted only for loopback addresses; use https",
                ))
            }
        }
        other => Err(bad(&format!("unsupported scheme {other}; use https"))),
    }
}

/// GETs the metadata document.
pub async fn fetch_metadata(url: &str) -> Result<String, SamlMetadataError> {
    let parsed = check_url(url)?;
    let fetch = |why: String| SamlMetadataError::Fetch {
        url: url.to_string(),
        why,
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| fetch(e.to_string()))?;
    let response = client
        .get(parsed)
        .send()
        .await
        .map_err(|e| fetch(e.to_string()))?;
    let status = response.status();
    if !status.is_success() {
        return Err(fetch(format!("HTTP {status}")));
    }
    let text = response.text().await.map_err(|e| fetch(e.to_string()))?;
    if text.trim().is_empty() {
        return Err(fetch("empty document".into()));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http() {
        assert!(check_url("https://idp.example.com/metadata.xml").is_ok());
        assert!(check_url("http://127.0.0.1:8080/m.xml").is_ok());
        assert!(check_url("http://localhost/m.xml").is_ok());
        assert!(check_url("http://[::1]/m.xml").is_ok());
        let e = check_url("http://idp.example.com/m.xml").unwrap_err();
        assert!(e.to_string().contains("only for loopback"), "{e}");
        assert!(check_url("ftp://x/y").is_err());
        assert!(check_url("not a url").is_err());
    }
}
