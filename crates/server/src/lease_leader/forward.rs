//! Taking lease requests only the leader can answer — keep-alives and TTL queries — from a
//! follower to the leader. The follower calls the leader's own Lease service on a client URL
//! the leader published, marking the call as forwarded so that a member that is no longer the
//! leader refuses it instead of forwarding again; the follower then retries with the new
//! leader until the request timeout, as etcd's follower does over its peer HTTP endpoint.

use std::collections::HashMap;
use std::time::Duration;

use parking_lot::Mutex;
use tokio_stream::StreamExt;
use tonic::transport::{Channel, Endpoint};

use oxcd_api::EtcdError;
use oxcd_api::etcdserverpb::lease_client::LeaseClient;
use oxcd_api::etcdserverpb::{
    LeaseKeepAliveRequest, LeaseTimeToLiveRequest, LeaseTimeToLiveResponse,
};

use crate::server::EtcdServer;

/// The metadata key marking a forwarded call.
pub(crate) const FORWARDED: &str = "oxcd-forwarded";
/// Pause between attempts while the leader is changing (etcd: 50 ms).
const RETRY: Duration = Duration::from_millis(50);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Connections to the leaders this member has forwarded to, by member id.
#[derive(Default)]
pub(crate) struct LeaderForwarder {
    channels: Mutex<HashMap<u64, Channel>>,
}

impl LeaderForwarder {
    /// Renews lease `id` on the leader; returns its TTL.
    pub(crate) async fn keep_alive(&self, server: &EtcdServer, id: i64) -> Result<i64, EtcdError> {
        self.retry(server, |mut client| async move {
            let request = forwarded(tokio_stream::iter([LeaseKeepAliveRequest { id }]));
            let mut responses = client.lease_keep_alive(request).await?.into_inner();
            match responses.next().await {
                Some(Ok(response)) if response.ttl == 0 => Err(EtcdError::LeaseNotFound.into()),
                Some(Ok(response)) => Ok(response.ttl),
                Some(Err(status)) => Err(status),
                None => Err(tonic::Status::unavailable("leader closed the keep-alive")),
            }
        })
        .await
    }

    /// Asks the leader for lease `request.id`'s remaining TTL.
    pub(crate) async fn time_to_live(
        &self,
        server: &EtcdServer,
        request: LeaseTimeToLiveRequest,
    ) -> Result<LeaseTimeToLiveResponse, EtcdError> {
        self.retry(server, |mut client| async move {
            Ok(client
                .lease_time_to_live(forwarded(request))
                .await?
                .into_inner())
        })
        .await
    }

    async fn retry<T, F, Fut>(&self, server: &EtcdServer, call: F) -> Result<T, EtcdError>
    where
        F: Fn(LeaseClient<Channel>) -> Fut,
        Fut: std::future::Future<Output = Result<T, tonic::Status>>,
    {
        let deadline = tokio::time::Instant::now() + server.settings().request_timeout;
        loop {
            let attempt = async {
                let leader = server.wait_for_leader().await?;
                let client = self.client(server, leader)?;
                call(client).await.map_err(|status| {
                    match EtcdError::from_message(status.message()) {
                        Some(e @ (EtcdError::LeaseNotFound | EtcdError::LeaseTtlTooLarge)) => {
                            Attempt::Final(e)
                        }
                        _ => {
                            // The connection may point at a dead member; reconnect next time.
                            self.channels.lock().remove(&leader);
                            Attempt::Retry
                        }
                    }
                })
            };
            match tokio::time::timeout_at(deadline, attempt).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(Attempt::Final(e))) => return Err(e),
                Ok(Err(Attempt::Retry)) => {}
                Err(_) => return Err(EtcdError::Timeout),
            }
            if tokio::time::Instant::now() + RETRY >= deadline {
                return Err(EtcdError::Timeout);
            }
            tokio::time::sleep(RETRY).await;
        }
    }

    fn client(&self, server: &EtcdServer, leader: u64) -> Result<LeaseClient<Channel>, Attempt> {
        let mut channels = self.channels.lock();
        if let Some(channel) = channels.get(&leader) {
            return Ok(LeaseClient::new(channel.clone()));
        }
        let member = server
            .state()
            .membership()
            .member(leader)
            .ok_or(Attempt::Retry)?;
        let url = member.client_ur_ls.first().ok_or(Attempt::Retry)?;
        let channel = Endpoint::from_shared(url.clone())
            .map_err(|_| Attempt::Retry)?
            .connect_timeout(CONNECT_TIMEOUT)
            .connect_lazy();
        channels.insert(leader, channel.clone());
        Ok(LeaseClient::new(channel))
    }
}

/// How one attempt ended.
enum Attempt {
    /// The leader answered with an error the client must see.
    Final(EtcdError),
    /// No leader, or it could not be reached or refused: try again.
    Retry,
}

impl From<EtcdError> for Attempt {
    fn from(_: EtcdError) -> Self {
        Attempt::Retry
    }
}

fn forwarded<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert(FORWARDED, tonic::metadata::MetadataValue::from_static("1"));
    request
}

/// Whether a call was forwarded by another member.
pub(crate) fn is_forwarded<T>(request: &tonic::Request<T>) -> bool {
    request.metadata().contains_key(FORWARDED)
}
