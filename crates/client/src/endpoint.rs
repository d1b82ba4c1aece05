//! Endpoint strings as etcdctl accepts them (`host:port`, `http://host:port`,
//! `https://host:port`) and their normalised form.

use crate::error::ClientError;
use std::fmt;

/// Transport security an endpoint asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain-text HTTP/2 (`http://` or no scheme).
    Http,
    /// TLS (`https://`).
    Https,
}

/// One parsed endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    original: String,
    scheme: Scheme,
    /// Whether the scheme was written out (`http://`) rather than implied (`host:port`).
    explicit_scheme: bool,
    authority: String,
}

impl Endpoint {
    /// Parses an endpoint the way clientv3 does: an optional `http://`/`https://` scheme, then
    /// `host:port`; a trailing path is ignored.
    pub fn parse(text: &str) -> Result<Endpoint, ClientError> {
        let trimmed = text.trim();
        let invalid = |reason: &str| ClientError::InvalidEndpoint {
            endpoint: text.to_string(),
            reason: reason.to_string(),
        };
        let (scheme, rest) = if let Some(rest) = trimmed.strip_prefix("http://") {
            (Scheme::Http, rest)
        } else if let Some(rest) = trimmed.strip_prefix("https://") {
            (Scheme::Https, rest)
        } else if trimmed.contains("://") {
            return Err(invalid("unsupported scheme (expected http:// or https://)"));
        } else if trimmed.starts_with("unix:") || trimmed.starts_with("unixs:") {
            return Err(invalid("unix socket endpoints are not supported"));
        } else {
            (Scheme::Http, trimmed)
        };
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.is_empty() {
            return Err(invalid("missing host"));
        }
        let uri = format!("http://{authority}/");
        let parsed: http::Uri = uri.parse().map_err(|_| invalid("not a valid host:port"))?;
        if parsed.host().is_none_or(str::is_empty) {
            return Err(invalid("missing host"));
        }
        Ok(Endpoint {
            original: trimmed.to_string(),
            scheme,
            explicit_scheme: trimmed.contains("://"),
            authority: authority.to_string(),
        })
    }

    /// The endpoint exactly as given (trimmed), as etcdctl prints it.
    pub fn as_str(&self) -> &str {
        &self.original
    }

    /// The transport security this endpoint asks for.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Whether the endpoint names its scheme: clientv3 dials a bare `host:port` with TLS when
    /// TLS settings are given, but an `http://` endpoint never.
    pub fn has_scheme(&self) -> bool {
        self.explicit_scheme
    }

    /// `host:port`, the part gRPC dials.
    pub fn authority(&self) -> &str {
        &self.authority
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_forms_etcdctl_accepts() {
        let plain = Endpoint::parse("127.0.0.1:2379").unwrap();
        assert_eq!(plain.scheme(), Scheme::Http);
        assert_eq!(plain.authority(), "127.0.0.1:2379");
        assert_eq!(plain.as_str(), "127.0.0.1:2379");

        let http = Endpoint::parse("http://localhost:2379").unwrap();
        assert_eq!(http.authority(), "localhost:2379");
        assert!(http.has_scheme() && !plain.has_scheme());

        let https = Endpoint::parse(" https://10.0.0.1:2379/ ").unwrap();
        assert_eq!(https.scheme(), Scheme::Https);
        assert_eq!(https.as_str(), "https://10.0.0.1:2379/");
        assert_eq!(https.authority(), "10.0.0.1:2379");

        let v6 = Endpoint::parse("[::1]:2379").unwrap();
        assert_eq!(v6.authority(), "[::1]:2379");
    }

    #[test]
    fn rejects_what_cannot_be_dialed() {
        for bad in ["", "http://", "ftp://x:1", "unix:///tmp/s", "a b:1"] {
            assert!(
                matches!(
                    Endpoint::parse(bad),
                    Err(ClientError::InvalidEndpoint { .. })
                ),
                "{bad:?} should be rejected"
            );
        }
    }
}
