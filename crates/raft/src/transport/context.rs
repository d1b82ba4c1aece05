//! What every part of the peer transport shares: this member's identity, the peer URLs and
//! snapshot store, the way back to the ready loop, and the wire conventions (metadata keys,
//! HTTP/2 windows) both ends of a peer connection agree on.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tonic::metadata::MetadataMap;
use tonic::transport::Channel;

use super::activity::PeerActivity;
use super::dial::{PeerTls, dial};
use crate::metrics::RaftMetrics;
use crate::node::event::Control;
use crate::peers::PeerUrls;
use crate::snap::SnapStore;

/// Metadata key carrying the sender's cluster ID (hex).
pub(super) const CLUSTER_ID_HEADER: &str = "x-oxcd-cluster-id";
/// Metadata key carrying the sender's member ID (hex).
pub(super) const FROM_HEADER: &str = "x-oxcd-from";
/// Metadata key carrying the recipient's member ID (hex).
pub(super) const TO_HEADER: &str = "x-oxcd-to";
/// The status message a receiver answers a foreign cluster with.
pub(super) const CLUSTER_MISMATCH: &str = "cluster ID mismatch";

/// The status message a receiver answers a removed member with.
pub(super) const MEMBER_REMOVED: &str = "the member has been permanently removed from the cluster";

/// HTTP/2 flow-control windows: large, so a stream of append batches is never throttled by
/// the default 64 KiB window on a low-latency link.
pub(super) const STREAM_WINDOW: u32 = 8 * 1024 * 1024;
pub(super) const CONNECTION_WINDOW: u32 = 16 * 1024 * 1024;

/// What peer tasks share.
pub(crate) struct PeerContext {
    pub id: u64,
    pub cluster_id: u64,
    pub peers: PeerUrls,
    pub activity: PeerActivity,
    pub snaps: SnapStore,
    pub feedback: mpsc::UnboundedSender<Control>,
    /// How `https://` peers are dialled.
    pub tls: PeerTls,
    /// Where each peer's traffic is counted.
    pub metrics: Arc<RaftMetrics>,
}

impl PeerContext {
    /// Tells the ready loop that a peer refused us as a removed member.
    pub(super) fn report_removed(&self) {
        let _ = self.feedback.send(Control::Removed);
    }

    pub(super) fn report_unreachable(&self, to: u64) {
        let _ = self.feedback.send(Control::Unreachable(to));
    }

    /// Adds our identity and the recipient to a request's metadata.
    pub(super) fn stamp(&self, meta: &mut MetadataMap, to: u64) {
        for (key, value) in [
            (CLUSTER_ID_HEADER, self.cluster_id),
            (FROM_HEADER, self.id),
            (TO_HEADER, to),
        ] {
            if let Ok(v) = format!("{value:x}").parse() {
                meta.insert(key, v);
            }
        }
    }

    /// Connects to `to` at its first peer URL (over TLS for `https://`).
    pub(super) async fn connect(&self, to: u64) -> Result<Channel, String> {
        let url = self
            .peers
            .get(to)
            .and_then(|urls| urls.into_iter().next())
            .ok_or_else(|| format!("no peer URL known for member {to:x}"))?;
        dial(&url, &self.tls, |endpoint| {
            endpoint
                .connect_timeout(Duration::from_secs(1))
                .tcp_nodelay(true)
                .initial_stream_window_size(STREAM_WINDOW)
                .initial_connection_window_size(CONNECTION_WINDOW)
                .http2_keep_alive_interval(Duration::from_secs(2))
                .keep_alive_timeout(Duration::from_secs(6))
                .keep_alive_while_idle(true)
        })
        .await
    }
}
