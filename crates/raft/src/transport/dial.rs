//! Dialling a peer URL: plain HTTP/2 for `http://`, TLS for `https://` with the member's peer
//! client configuration (`--peer-trusted-ca-file`, and `--peer-client-cert-file` or
//! `--peer-cert-file` presented), or, as Go's HTTP client does when a member has no peer TLS
//! settings, the system's roots.

use std::sync::Arc;

use tonic::transport::{Channel, Endpoint};

/// The TLS configuration peers are dialled with; `None` when the member has no peer TLS
/// settings.
pub(crate) type PeerTls = Option<Arc<rustls::ClientConfig>>;

/// Connects to `url`, with `tune` applied to the endpoint (timeouts, windows, keepalive).
pub(super) async fn dial(
    url: &str,
    tls: &PeerTls,
    tune: impl FnOnce(Endpoint) -> Endpoint,
) -> Result<Channel, String> {
    let (authority, secure) = if let Some(rest) = url.strip_prefix("https://") {
        (rest, true)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (rest, false)
    } else {
        return Err(format!(
            "invalid peer URL {url}: expected http:// or https://"
        ));
    };
    let authority = authority.split('/').next().unwrap_or_default();
    // tonic gets an http:// URI either way: TLS, when wanted, is the connector's.
    let endpoint = Endpoint::from_shared(format!("http://{authority}"))
        .map_err(|e| format!("invalid peer URL {url}: {e}"))?;
    let endpoint = tune(endpoint);
    let connected = if secure {
        let config = match tls {
            Some(config) => config.clone(),
            None => oxcd_tls::client_config(&oxcd_tls::ClientTlsSettings::default())
                .map_err(|e| e.to_string())?,
        };
        let connector = oxcd_tls::TlsConnector::new(config, None).map_err(|e| e.to_string())?;
        endpoint.connect_with_connector(connector).await
    } else {
        endpoint.connect().await
    };
    connected.map_err(|e| format!("connect to {url}: {}", with_causes(&e)))
}

/// An error with its chain of causes, so a failed handshake says why.
fn with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
