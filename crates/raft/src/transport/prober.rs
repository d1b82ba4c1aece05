//! The round trip to each peer, measured as etcd's prober measures it: every 4 s a small
//! request over a connection kept for probing alone (here the `Members` call, which every
//! member version serves and which touches nothing but the peer URL table), its latency
//! recorded as `etcd_network_peer_round_trip_time_seconds`. A failed probe records nothing and
//! the next one dials again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tonic::transport::Channel;

use super::context::PeerContext;
use super::proto::MembersRequest;
use super::proto::raft_peer_client::RaftPeerClient;

/// etcd probes every `ConnReadTimeout - 1 s`.
const PROBE_INTERVAL: Duration = Duration::from_secs(4);
/// A probe slower than this counts as failed.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Probes `to` until aborted.
pub(super) async fn run(ctx: Arc<PeerContext>, to: u64) {
    let mut channel: Option<Channel> = None;
    let mut ticker = tokio::time::interval(PROBE_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if channel.is_none() {
            channel = ctx.connect(to).await.ok();
        }
        let Some(open) = channel.clone() else {
            continue;
        };
        let mut client = RaftPeerClient::new(open);
        let started = Instant::now();
        let answered = tokio::time::timeout(PROBE_TIMEOUT, client.members(MembersRequest {})).await;
        match answered {
            Ok(Ok(_)) => ctx.metrics.peer(to).record_round_trip(started.elapsed()),
            Ok(Err(_)) | Err(_) => channel = None,
        }
    }
}
