//! gRPC connections to one member: the raw tonic clients generated in `oxcd-api`, with message
//! size limits lifted (tests send and read oversized messages on purpose) and every request
//! bounded by a timeout.

use std::time::Duration;

use anyhow::{Context, Result};
use oxcd_api::etcdserverpb::auth_client::AuthClient;
use oxcd_api::etcdserverpb::cluster_client::ClusterClient;
use oxcd_api::etcdserverpb::kv_client::KvClient;
use oxcd_api::etcdserverpb::lease_client::LeaseClient;
use oxcd_api::etcdserverpb::maintenance_client::MaintenanceClient;
use oxcd_api::etcdserverpb::watch_client::WatchClient;
use oxcd_api::etcdserverpb::{
    DeleteRangeRequest, LeaseGrantRequest, Member, MemberListRequest, PutRequest, RangeRequest,
    StatusRequest,
};
use oxcd_api::mvccpb::KeyValue;
use oxcd_api::v3electionpb::election_client::ElectionClient;
use oxcd_api::v3lockpb::lock_client::LockClient;
use tonic::transport::{Channel, Endpoint};

/// How long establishing a connection may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Default bound on a single request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The clients of one member's services, sharing one HTTP/2 connection.
#[derive(Clone)]
pub struct Clients {
    /// `etcdserverpb.KV`.
    pub kv: KvClient<Channel>,
    /// `etcdserverpb.Maintenance` (Status, HashKV, ...).
    pub maintenance: MaintenanceClient<Channel>,
    /// `etcdserverpb.Cluster` (membership).
    pub cluster: ClusterClient<Channel>,
    /// `etcdserverpb.Watch`.
    pub watch: WatchClient<Channel>,
    /// `etcdserverpb.Lease`.
    pub lease: LeaseClient<Channel>,
    /// `v3lockpb.Lock`.
    pub lock: LockClient<Channel>,
    /// `v3electionpb.Election`.
    pub election: ElectionClient<Channel>,
    /// `etcdserverpb.Auth`.
    pub auth: AuthClient<Channel>,
}

impl Clients {
    /// Every live key (one linearizable range over the whole keyspace) and the revision the
    /// read was served at.
    pub async fn all_keys(&mut self) -> Result<(Vec<KeyValue>, i64)> {
        let response = self
            .kv
            .range(RangeRequest {
                key: vec![0],
                range_end: vec![0],
                ..Default::default()
            })
            .await
            .context("range over the whole keyspace")?
            .into_inner();
        let revision = response.header.context("range response header")?.revision;
        Ok((response.kvs, revision))
    }

    /// Deletes `key`; the revision of the deletion.
    pub async fn delete(&mut self, key: &str) -> Result<i64> {
        let response = self
            .kv
            .delete_range(DeleteRangeRequest {
                key: key.as_bytes().to_vec(),
                ..Default::default()
            })
            .await
            .with_context(|| format!("delete {key}"))?
            .into_inner();
        Ok(response.header.context("delete response header")?.revision)
    }

    /// Grants a lease of `ttl` seconds; its id.
    pub async fn grant(&mut self, ttl: i64) -> Result<i64> {
        let request = LeaseGrantRequest {
            ttl,
            ..Default::default()
        };
        Ok(self
            .lease
            .lease_grant(request)
            .await
            .context("lease grant")?
            .into_inner()
            .id)
    }

    /// Puts `key` = `value` on `lease` (0: none); the revision it was written at.
    pub async fn put(&mut self, key: &str, value: &str, lease: i64) -> Result<i64> {
        let response = self
            .kv
            .put(PutRequest {
                key: key.as_bytes().to_vec(),
                value: value.as_bytes().to_vec(),
                lease,
                ..Default::default()
            })
            .await
            .with_context(|| format!("put {key}"))?
            .into_inner();
        Ok(response.header.context("put response header")?.revision)
    }

    /// The id of the member these clients talk to, as its `Status` header gives it.
    pub async fn member_id(&mut self) -> Result<u64> {
        Ok(self
            .maintenance
            .status(StatusRequest {})
            .await
            .context("status")?
            .into_inner()
            .header
            .context("status header")?
            .member_id)
    }

    /// The cluster's members, as a linearizable `MemberList` gives them.
    pub async fn members(&mut self) -> Result<Vec<Member>> {
        Ok(self
            .cluster
            .member_list(MemberListRequest { linearizable: true })
            .await
            .context("member list")?
            .into_inner()
            .members)
    }
}

/// Connects to `endpoint` (`http://host:port`) with the default request timeout.
pub async fn connect(endpoint: &str) -> Result<Clients> {
    connect_with_timeout(endpoint, REQUEST_TIMEOUT).await
}

/// Connects to `endpoint`; every request on the result fails after `request_timeout`.
pub async fn connect_with_timeout(endpoint: &str, request_timeout: Duration) -> Result<Clients> {
    let channel = Endpoint::from_shared(endpoint.to_owned())
        .with_context(|| format!("invalid endpoint {endpoint:?}"))?
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(request_timeout)
        .connect()
        .await
        .with_context(|| format!("connecting to {endpoint}"))?;
    Ok(clients(channel))
}

/// The clients of every service over `channel`.
pub(crate) fn clients(channel: Channel) -> Clients {
    Clients {
        kv: KvClient::new(channel.clone())
            .max_decoding_message_size(usize::MAX)
            .max_encoding_message_size(usize::MAX),
        maintenance: MaintenanceClient::new(channel.clone())
            .max_decoding_message_size(usize::MAX)
            .max_encoding_message_size(usize::MAX),
        cluster: ClusterClient::new(channel.clone()),
        watch: WatchClient::new(channel.clone()).max_decoding_message_size(usize::MAX),
        lease: LeaseClient::new(channel.clone()),
        lock: LockClient::new(channel.clone()),
        election: ElectionClient::new(channel.clone()),
        auth: AuthClient::new(channel),
    }
}

/// `message` as a request carrying `token` in its metadata, as etcd's clients send it.
pub fn with_token<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("token", token.parse().expect("a token is ASCII"));
    request
}

/// Opens a watch stream for `token`, creates one watcher over `[key, range_end)` and returns the
/// stream's first answer (its creation, or its refusal).
pub async fn first_watch_answer(
    c: &mut Clients,
    token: &str,
    key: &[u8],
    range_end: &[u8],
) -> Result<oxcd_api::etcdserverpb::WatchResponse> {
    use oxcd_api::etcdserverpb::watch_request::RequestUnion;
    use oxcd_api::etcdserverpb::{WatchCreateRequest, WatchRequest};
    use tokio_stream::StreamExt;
    let create = WatchRequest {
        request_union: Some(RequestUnion::CreateRequest(WatchCreateRequest {
            key: key.to_vec(),
            range_end: range_end.to_vec(),
            ..Default::default()
        })),
    };
    let requests = tokio_stream::iter(vec![create]).chain(tokio_stream::pending());
    let mut responses = c
        .watch
        .watch(with_token(requests, token))
        .await?
        .into_inner();
    tokio::time::timeout(REQUEST_TIMEOUT, responses.message())
        .await
        .context("the watch did not answer")??
        .context("the watch stream ended")
}
