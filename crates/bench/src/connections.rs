//! The gRPC connections a run shares among its requesters: `--conns` channels dialled
//! round-robin over the endpoints, handed to requesters round-robin in turn.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use oxcd_api::etcdserverpb::kv_client::KvClient;
use tonic::transport::{Channel, Endpoint};

/// Turns an endpoint as users write it (`host:port` or `http://host:port`) into a URI.
pub fn endpoint_uri(endpoint: &str) -> Result<String> {
    let endpoint = endpoint.trim();
    if endpoint.is_empty() {
        bail!("empty endpoint");
    }
    if endpoint.starts_with("https://") || endpoint.starts_with("unixs://") {
        bail!("endpoint {endpoint}: TLS is not supported by oxbench");
    }
    if endpoint.starts_with("http://") {
        Ok(endpoint.to_string())
    } else if endpoint.contains("://") {
        bail!("endpoint {endpoint}: unsupported scheme (use host:port or http://host:port)");
    } else {
        Ok(format!("http://{endpoint}"))
    }
}

/// Opens one connection to `endpoint`, failing after `timeout` when it is given.
pub async fn dial(endpoint: &str, timeout: Option<Duration>) -> Result<Channel> {
    let uri = endpoint_uri(endpoint)?;
    let mut target = Endpoint::from_shared(uri.clone())
        .with_context(|| format!("endpoint {endpoint}: invalid URI"))?
        .tcp_nodelay(true);
    if let Some(timeout) = timeout {
        target = target.connect_timeout(timeout);
    }
    target
        .connect()
        .await
        .with_context(|| format!("dial {uri}"))
}

/// Established gRPC connections, shared by all requesters of a run.
#[derive(Clone, Debug)]
pub struct Connections {
    channels: Vec<Channel>,
}

impl Connections {
    /// Dials `count` connections, the i-th to `endpoints[i % endpoints.len()]`, all before the
    /// run starts so connection setup never counts as request latency.
    pub async fn dial_all(
        endpoints: &[String],
        count: usize,
        timeout: Option<Duration>,
    ) -> Result<Self> {
        if endpoints.is_empty() {
            bail!("no endpoints given");
        }
        if count == 0 {
            bail!("expected positive --conns, got (0)");
        }
        let mut channels = Vec::with_capacity(count);
        for endpoint in endpoints.iter().cycle().take(count) {
            channels.push(dial(endpoint, timeout).await?);
        }
        Ok(Self { channels })
    }

    /// Connection number `i % len`.
    pub fn channel(&self, i: usize) -> Channel {
        self.channels[i % self.channels.len()].clone()
    }

    /// The KV client of requester number `requester`, on connection `requester % len`.
    pub fn kv_client(&self, requester: usize) -> KvClient<Channel> {
        KvClient::new(self.channels[requester % self.channels.len()].clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_without_scheme_default_to_plain_http() {
        assert_eq!(
            endpoint_uri("127.0.0.1:2379").unwrap(),
            "http://127.0.0.1:2379"
        );
        assert_eq!(endpoint_uri(" http://h:1 ").unwrap(), "http://h:1");
    }

    #[test]
    fn unsupported_endpoints_are_rejected() {
        assert!(endpoint_uri("https://h:1").is_err());
        assert!(endpoint_uri("unix://sock").is_err());
        assert!(endpoint_uri("").is_err());
    }
}
