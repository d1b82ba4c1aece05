//! The gRPC connections a run shares among its requesters: `--conns` channels dialled
//! round-robin over the endpoints, handed to requesters round-robin in turn; over TLS as etcd's
//! benchmark tool dials (its clientv3 rules: `https://` always, `host:port` when `--cacert`,
//! `--cert` or `--key` is given, `http://` never). With `--user` every request of the run
//! carries the token one `Authenticate` gave, in the `token` metadata as clientv3 sends it.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use oxcd_api::etcdserverpb::AuthenticateRequest;
use oxcd_api::etcdserverpb::auth_client::AuthClient;
use oxcd_api::etcdserverpb::kv_client::KvClient;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use crate::cli::Cli;

/// How an endpoint as users write it is dialled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `host:port`.
    pub authority: String,
    /// `https://`, or TLS implied by no scheme.
    pub scheme: Scheme,
}

/// The scheme an endpoint was written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `http://`: plain text, whatever the TLS options.
    Http,
    /// `https://`: TLS, with the system's roots when no CA bundle is given.
    Https,
    /// `host:port`: TLS exactly when TLS options are given.
    Unspecified,
}

/// Splits an endpoint as users write it (`host:port`, `http://host:port`, `https://host:port`).
pub fn parse_endpoint(endpoint: &str) -> Result<Target> {
    let endpoint = endpoint.trim();
    if endpoint.is_empty() {
        bail!("empty endpoint");
    }
    let (scheme, authority) = if let Some(rest) = endpoint.strip_prefix("http://") {
        (Scheme::Http, rest)
    } else if let Some(rest) = endpoint.strip_prefix("https://") {
        (Scheme::Https, rest)
    } else if endpoint.contains("://") {
        bail!(
            "endpoint {endpoint}: unsupported scheme (use host:port, http://host:port or https://host:port)"
        );
    } else {
        (Scheme::Unspecified, endpoint)
    };
    let authority = authority.trim_end_matches('/');
    if authority.is_empty() {
        bail!("endpoint {endpoint}: missing host");
    }
    Ok(Target {
        authority: authority.to_string(),
        scheme,
    })
}

/// A connection of the run: every request on it carries the run's token, if it has one.
pub type BenchChannel = InterceptedService<Channel, TokenHeader>;

/// Puts the run's token (from `--user`) in every request's metadata.
#[derive(Clone, Debug, Default)]
pub struct TokenHeader(Option<MetadataValue<Ascii>>);

impl Interceptor for TokenHeader {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(token) = &self.0 {
            request.metadata_mut().insert("token", token.clone());
        }
        Ok(request)
    }
}

/// Dials endpoints with the run's dial timeout and TLS settings.
#[derive(Clone, Debug, Default)]
pub struct Dialer {
    timeout: Option<Duration>,
    /// From `--cacert --cert --key`, when any is given.
    tls: Option<Arc<rustls::ClientConfig>>,
    /// From `--user name:password`.
    user: Option<(String, String)>,
}

impl Dialer {
    /// The dialer `cli` describes; unusable TLS files are reported as etcd's benchmark tool
    /// reports them (`bad tls config: ...`).
    pub fn from_cli(cli: &Cli) -> Result<Dialer> {
        let settings = oxcd_tls::ClientTlsSettings {
            ca_file: cli.cacert.clone(),
            cert_file: cli.cert.clone(),
            key_file: cli.key.clone(),
            insecure_skip_verify: false,
        };
        let tls = if settings == oxcd_tls::ClientTlsSettings::default() {
            None
        } else {
            Some(oxcd_tls::client_config(&settings).map_err(|e| anyhow!("bad tls config: {e}"))?)
        };
        let user = match cli.user.as_deref() {
            None => None,
            Some(text) => match text.split_once(':') {
                Some((name, password)) => Some((name.to_string(), password.to_string())),
                None => bail!("--user needs name:password (oxbench does not prompt for it)"),
            },
        };
        Ok(Dialer {
            timeout: Some(cli.dial_timeout).filter(|timeout| *timeout > Duration::ZERO),
            tls,
            user,
        })
    }

    /// The token the run's requests carry: `Authenticate` on `channel` with `--user`, none
    /// without it.
    async fn token(&self, channel: &Channel) -> Result<TokenHeader> {
        let Some((name, password)) = &self.user else {
            return Ok(TokenHeader::default());
        };
        let token = AuthClient::new(channel.clone())
            .authenticate(AuthenticateRequest {
                name: name.clone(),
                password: password.clone(),
            })
            .await
            .context("authenticating --user")?
            .into_inner()
            .token;
        Ok(TokenHeader(Some(token.parse().context("the token")?)))
    }

    /// Opens one connection to `endpoint`, failing after the dial timeout when there is one.
    pub async fn dial(&self, endpoint: &str) -> Result<Channel> {
        let target = parse_endpoint(endpoint)?;
        let tls = match (target.scheme, &self.tls) {
            (Scheme::Http, _) | (Scheme::Unspecified, None) => None,
            (_, Some(config)) => Some(config.clone()),
            (Scheme::Https, None) => Some(
                oxcd_tls::client_config(&oxcd_tls::ClientTlsSettings::default())
                    .map_err(|e| anyhow!("bad tls config: {e}"))?,
            ),
        };
        // tonic always gets an http:// URI: TLS, when wanted, is the connector's.
        let uri = format!("http://{}", target.authority);
        let mut builder = Endpoint::from_shared(uri)
            .with_context(|| format!("endpoint {endpoint}: invalid URI"))?
            .tcp_nodelay(true);
        if let Some(timeout) = self.timeout {
            builder = builder.connect_timeout(timeout);
        }
        let shown = match tls {
            Some(_) => format!("https://{}", target.authority),
            None => format!("http://{}", target.authority),
        };
        let connected = match tls {
            Some(config) => {
                let connector = oxcd_tls::TlsConnector::new(config, None)?;
                builder.connect_with_connector(connector).await
            }
            None => builder.connect().await,
        };
        connected.with_context(|| format!("dial {shown}"))
    }
}

/// Established gRPC connections, shared by all requesters of a run.
#[derive(Clone, Debug)]
pub struct Connections {
    channels: Vec<BenchChannel>,
}

impl Connections {
    /// Dials `count` connections, the i-th to `endpoints[i % endpoints.len()]`, all before the
    /// run starts so connection setup never counts as request latency.
    pub async fn dial_all(endpoints: &[String], count: usize, dialer: &Dialer) -> Result<Self> {
        if endpoints.is_empty() {
            bail!("no endpoints given");
        }
        if count == 0 {
            bail!("expected positive --conns, got (0)");
        }
        let mut channels = Vec::with_capacity(count);
        let mut token = None;
        for endpoint in endpoints.iter().cycle().take(count) {
            let channel = dialer.dial(endpoint).await?;
            if token.is_none() {
                token = Some(dialer.token(&channel).await?);
            }
            let header = token.clone().unwrap_or_default();
            channels.push(InterceptedService::new(channel, header));
        }
        Ok(Self { channels })
    }

    /// Connection number `i % len`.
    pub fn channel(&self, i: usize) -> BenchChannel {
        self.channels[i % self.channels.len()].clone()
    }

    /// The KV client of requester number `requester`, on connection `requester % len`.
    pub fn kv_client(&self, requester: usize) -> KvClient<BenchChannel> {
        KvClient::new(self.channels[requester % self.channels.len()].clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_keep_their_scheme() {
        let bare = parse_endpoint("127.0.0.1:2379").unwrap();
        assert_eq!(bare.authority, "127.0.0.1:2379");
        assert_eq!(bare.scheme, Scheme::Unspecified);
        assert_eq!(parse_endpoint(" http://h:1 ").unwrap().scheme, Scheme::Http);
        let https = parse_endpoint("https://h:1/").unwrap();
        assert_eq!(
            (https.authority.as_str(), https.scheme),
            ("h:1", Scheme::Https)
        );
    }

    #[test]
    fn unsupported_endpoints_are_rejected() {
        assert!(parse_endpoint("unix://sock").is_err());
        assert!(parse_endpoint("http://").is_err());
        assert!(parse_endpoint("").is_err());
    }
}
