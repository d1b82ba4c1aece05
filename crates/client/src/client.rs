//! [`Client`]: endpoints, options and the generated service clients on one shared channel.

use crate::auth_token::AuthToken;
use crate::balanced_channel::{BalancedChannel, Member};
use crate::endpoint::{Endpoint, Scheme};
use crate::error::ClientError;
use crate::options::{ConnectOptions, TlsOptions};
use oxcd_api::{etcdserverpb, v3electionpb, v3lockpb};
use std::sync::Arc;

/// The KV service client on a [`BalancedChannel`].
pub type KvClient = etcdserverpb::kv_client::KvClient<BalancedChannel>;
/// The Watch service client on a [`BalancedChannel`].
pub type WatchClient = etcdserverpb::watch_client::WatchClient<BalancedChannel>;
/// The Lease service client on a [`BalancedChannel`].
pub type LeaseClient = etcdserverpb::lease_client::LeaseClient<BalancedChannel>;
/// The Cluster service client on a [`BalancedChannel`].
pub type ClusterClient = etcdserverpb::cluster_client::ClusterClient<BalancedChannel>;
/// The Maintenance service client on a [`BalancedChannel`].
pub type MaintenanceClient = etcdserverpb::maintenance_client::MaintenanceClient<BalancedChannel>;
/// The Auth service client on a [`BalancedChannel`].
pub type AuthClient = etcdserverpb::auth_client::AuthClient<BalancedChannel>;
/// The Lock service client on a [`BalancedChannel`].
pub type LockClient = v3lockpb::lock_client::LockClient<BalancedChannel>;
/// The Election service client on a [`BalancedChannel`].
pub type ElectionClient = v3electionpb::election_client::ElectionClient<BalancedChannel>;

/// A connection to an etcd cluster. Cheap to clone; clones share connections.
#[derive(Debug, Clone)]
pub struct Client {
    channel: BalancedChannel,
    options: Arc<ConnectOptions>,
    /// The TLS configuration built from `options.tls`, shared by every connection.
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl Client {
    /// Prepares connections to `endpoints` (etcdctl forms: `host:port`, `http://host:port`,
    /// `https://host:port`).
    ///
    /// As in clientv3, the first endpoint's scheme decides the transport of all of them:
    /// `https://` dials TLS (with `options.tls`, or the system's roots when it is `None`),
    /// `http://` plain text even when `options.tls` is set, and no scheme TLS exactly when
    /// `options.tls` is set. Connections are made lazily, as clientv3 does, so an unreachable
    /// endpoint or a failed handshake shows up when a call is made; with credentials set, the
    /// client authenticates first. Must be called inside a Tokio runtime.
    pub async fn connect(
        endpoints: &[String],
        options: ConnectOptions,
    ) -> Result<Client, ClientError> {
        if endpoints.is_empty() {
            return Err(ClientError::NoEndpoints);
        }
        if options.max_send_msg_size > options.max_recv_msg_size {
            return Err(ClientError::InvalidOptions(format!(
                "gRPC message recv limit ({} bytes) must be greater than send limit ({} bytes)",
                options.max_recv_msg_size, options.max_send_msg_size
            )));
        }
        let endpoints = endpoints
            .iter()
            .map(|text| Endpoint::parse(text))
            .collect::<Result<Vec<_>, _>>()?;
        let tls = options.tls.as_ref().map(tls_config).transpose()?;
        let dial_tls = dial_config(&endpoints[0], tls.as_ref())?;
        let members = endpoints
            .into_iter()
            .map(|ep| member_for(ep, &options, dial_tls.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        let auth = AuthToken::new(options.credentials.clone());
        let channel = BalancedChannel::new(members, options.request_timeout, auth, None);
        channel.authenticate().await?;
        Ok(Client {
            channel,
            options: Arc::new(options),
            tls,
        })
    }

    /// A client that sends every call to `endpoint` only (as `etcdctl endpoint status` needs),
    /// reusing this client's connection to it when there is one, and its auth token.
    pub async fn for_endpoint(&self, endpoint: &str) -> Result<Client, ClientError> {
        let endpoint = Endpoint::parse(endpoint)?;
        let existing = self
            .channel
            .members()
            .iter()
            .find(|m| {
                m.endpoint().authority() == endpoint.authority()
                    && m.endpoint().scheme() == endpoint.scheme()
            })
            .cloned();
        let member = match existing {
            Some(member) => member,
            None => {
                let dial_tls = dial_config(&endpoint, self.tls.as_ref())?;
                member_for(endpoint, &self.options, dial_tls.as_ref())?
            }
        };
        let channel = BalancedChannel::new(
            vec![member],
            self.options.request_timeout,
            self.channel.auth().clone(),
            Some(self.channel.log_target().to_string()),
        );
        Ok(Client {
            channel,
            options: self.options.clone(),
            tls: self.tls.clone(),
        })
    }

    /// The endpoints this client spreads calls over, in the order given.
    pub fn endpoints(&self) -> Vec<Endpoint> {
        self.channel
            .members()
            .iter()
            .map(|m| m.endpoint().clone())
            .collect()
    }

    /// The options the client was created with.
    pub fn options(&self) -> &ConnectOptions {
        &self.options
    }

    /// The shared channel, for building other generated clients.
    pub fn channel(&self) -> BalancedChannel {
        self.channel.clone()
    }

    /// The KV service: Range, Put, DeleteRange, Txn, Compact.
    pub fn kv(&self) -> KvClient {
        let o = &self.options;
        KvClient::new(self.channel())
            .max_encoding_message_size(o.max_send_msg_size)
            .max_decoding_message_size(o.max_recv_msg_size)
    }

    /// The Watch service.
    pub fn watch(&self) -> WatchClient {
        let o = &self.options;
        WatchClient::new(self.channel())
            .max_encoding_message_size(o.max_send_msg_size)
            .max_decoding_message_size(o.max_recv_msg_size)
    }

    /// The Lease service.
    pub fn lease(&self) -> LeaseClient {
        let o = &self.options;
        LeaseClient::new(self.channel())
            .max_encoding_message_size(o.max_send_msg_size)
            .max_decoding_message_size(o.max_recv_msg_size)
    }

    /// The Cluster service (membership).
    pub fn cluster(&self) -> ClusterClient {
        let o = &self.options;
        ClusterClient::new(self.channel())
            .max_encoding_message_size(o.max_send_msg_size)
            .max_decoding_message_size(o.max_recv_msg_size)
    }

    /// The Maintenance service: Status, HashKV, Alarm, Defragment, Snapshot, ...
    pub fn maintenance(&self) -> MaintenanceClient {
        let o = &self.options;
        MaintenanceClient::new(self.channel())
            .max_encoding_message_size(o.max_send_msg_size)
            .max_decoding_message_size(o.max_recv_msg_size)
    }

    /// The Auth service.
    pub fn auth(&self) -> AuthClient {
        let o = &self.options;
        AuthClient::new(self.channel())
            .max_encoding_message_size(o.max_send_msg_size)
            .max_decoding_message_size(o.max_recv_msg_size)
    }

    /// The Lock service (`v3lockpb`).
    pub fn lock(&self) -> LockClient {
        let o = &self.options;
        LockClient::new(self.channel())
            .max_encoding_message_size(o.max_send_msg_size)
            .max_decoding_message_size(o.max_recv_msg_size)
    }

    /// The Election service (`v3electionpb`).
    pub fn election(&self) -> ElectionClient {
        let o = &self.options;
        ElectionClient::new(self.channel())
            .max_encoding_message_size(o.max_send_msg_size)
            .max_decoding_message_size(o.max_recv_msg_size)
    }
}

/// Shortest keepalive interval used, as grpc-go enforces: etcd servers answer more frequent
/// pings (below `--grpc-keepalive-min-time`, 5s by default) by closing the connection.
const MIN_KEEPALIVE_TIME: std::time::Duration = std::time::Duration::from_secs(10);

/// The rustls configuration `options` describe.
fn tls_config(options: &TlsOptions) -> Result<Arc<rustls::ClientConfig>, ClientError> {
    let settings = oxcd_tls::ClientTlsSettings {
        ca_file: options.ca_file.clone(),
        cert_file: options.cert_file.clone(),
        key_file: options.key_file.clone(),
        insecure_skip_verify: options.insecure_skip_verify,
    };
    oxcd_tls::client_config(&settings).map_err(|e| ClientError::Tls(e.to_string()))
}

/// The TLS configuration connections led by `first` use, if any (clientv3's
/// `credentialsForEndpoint`).
fn dial_config(
    first: &Endpoint,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> Result<Option<Arc<rustls::ClientConfig>>, ClientError> {
    Ok(match (first.scheme(), first.has_scheme(), tls) {
        (Scheme::Http, true, _) => None,
        (_, _, Some(config)) => Some(config.clone()),
        (Scheme::Https, _, None) => Some(tls_config(&TlsOptions::default())?),
        (Scheme::Http, false, None) => None,
    })
}

/// Creates the lazily connected channel for one endpoint, over TLS when `tls` is given.
fn member_for(
    endpoint: Endpoint,
    options: &ConnectOptions,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> Result<Arc<Member>, ClientError> {
    // tonic is handed an `http://` URI even for TLS: the connector below does the TLS, and an
    // `https://` URI would make tonic look for TLS support of its own.
    let uri = format!("http://{}", endpoint.authority());
    let mut builder = tonic::transport::Endpoint::from_shared(uri)
        .map_err(|e| ClientError::InvalidEndpoint {
            endpoint: endpoint.as_str().to_string(),
            reason: e.to_string(),
        })?
        .connect_timeout(options.dial_timeout)
        .tcp_nodelay(true);
    if let Some(interval) = options.keepalive_time {
        builder = builder
            .http2_keep_alive_interval(interval.max(MIN_KEEPALIVE_TIME))
            .keep_alive_timeout(options.keepalive_timeout)
            .keep_alive_while_idle(options.keepalive_without_calls);
    }
    let channel = match tls {
        Some(config) => {
            let server_name = options.tls.as_ref().and_then(|t| t.server_name.as_deref());
            let connector = oxcd_tls::TlsConnector::new(config.clone(), server_name)
                .map_err(|e| ClientError::Tls(e.to_string()))?;
            builder.connect_with_connector_lazy(connector)
        }
        None => builder.connect_lazy(),
    };
    Ok(Arc::new(Member::new(endpoint, channel)))
}
