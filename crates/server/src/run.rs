//! Starting and stopping a member: bind the listeners (so a port in use fails fast), bootstrap
//! the data dir, start raft and the apply loop, publish this member, then serve clients until
//! SIGINT/SIGTERM.

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use oxcd_raft::{PeerUrls, RaftConfig, RaftNode};

use crate::apply::ApplyLoop;
use crate::bootstrap::{BootstrapError, bootstrap};
use crate::config::{ServerConfig, Url};
use crate::lease::{self, Lessor};
use crate::logging::{self, Field, go_io_error_text};
use crate::metrics::{ServerMetrics, serve_metrics};
use crate::serve::serve_clients;
use crate::server::{EtcdServer, ServerSettings};
use crate::state::ServerState;
use crate::wait::WaitRegistry;

/// Largest raft message batch sent to a follower at once (etcd's default).
const MAX_SIZE_PER_MSG: u64 = 1024 * 1024;
/// Unacknowledged append messages in flight per follower (etcd's default).
const MAX_INFLIGHT_MSGS: usize = 4096 / 8;

/// etcd's minimum lease TTL: 1.5 election timeouts (in whole heartbeats), rounded up to
/// seconds, so a lease cannot expire during a leader election.
fn min_lease_ttl(cfg: &ServerConfig) -> i64 {
    let ticks = cfg.election_ticks().saturating_mul(3) / 2;
    let min = cfg
        .heartbeat_interval
        .saturating_mul(u32::try_from(ticks).unwrap_or(u32::MAX));
    min.as_secs_f64().ceil() as i64
}

/// Why a member could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A listener could not be bound (`listen tcp 127.0.0.1:2379: bind: address already in use`).
    #[error("listen tcp {address}: {reason}")]
    Listen {
        /// The address.
        address: String,
        /// Go-style text of the failure.
        reason: String,
    },
    /// The data dir or initial cluster is unusable.
    #[error(transparent)]
    Bootstrap(#[from] BootstrapError),
    /// The state machine could not be opened.
    #[error("{0}")]
    State(String),
    /// Raft could not start.
    #[error("{0}")]
    Raft(String),
}

/// Runs a member to completion and returns the process exit code.
pub fn run(cfg: ServerConfig) -> i32 {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("oxcd")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return logging::report_start_failure(&e),
    };
    match runtime.block_on(start_and_serve(cfg)) {
        Ok(()) => 0,
        Err(e) => logging::report_start_failure(&e),
    }
}

fn bind_all(urls: &[Url]) -> Result<Vec<TcpListener>, StartError> {
    urls.iter()
        .map(|url| {
            let address = url.host().to_string();
            let listen_error = |reason: String| StartError::Listen {
                address: address.clone(),
                reason,
            };
            let addrs: Vec<SocketAddr> = address
                .to_socket_addrs()
                .map_err(|e| listen_error(format!("lookup: {}", go_io_error_text(&e))))?
                .collect();
            let addr = addrs
                .first()
                .ok_or_else(|| listen_error("no address".to_string()))?;
            TcpListener::bind(addr)
                .map_err(|e| listen_error(format!("bind: {}", go_io_error_text(&e))))
        })
        .collect()
}

fn url_strings(urls: &[Url]) -> Vec<String> {
    urls.iter().map(ToString::to_string).collect()
}

async fn start_and_serve(cfg: ServerConfig) -> Result<(), StartError> {
    tracing::info!(listen_peer_urls = ?logging::strings(&cfg.listen_peer_urls), "configuring peer listeners");
    let peer_listeners = bind_all(&cfg.listen_peer_urls)?;
    tracing::info!(listen_client_urls = ?logging::strings(&cfg.listen_client_urls), "configuring client listeners");
    let client_listeners = bind_all(&cfg.listen_client_urls)?;
    let metrics_listeners = bind_all(&cfg.listen_metrics_urls)?;

    let boot = bootstrap(&cfg)?;
    let identity = boot.identity;
    tracing::info!(
        name = %cfg.name,
        data_dir = %cfg.data_dir.display(),
        member_dir = %cfg.member_dir.display(),
        local_member_id = %format!("{:x}", identity.member_id),
        cluster_id = %format!("{:x}", identity.cluster_id),
        restarted = boot.restarted,
        "starting an etcd server"
    );
    // oxcd always checkpoints leases (etcd 3.5 only with --experimental-enable-lease-checkpoint)
    // and stores the checkpoints, so lease TTLs survive leader changes and restarts.
    let lessor = Lessor::new(
        min_lease_ttl(&cfg),
        cfg.experimental.lease_checkpoint_interval,
    );
    let state = Arc::new(
        ServerState::open(&boot.backend_path, lessor)
            .map_err(|e| StartError::State(e.to_string()))?,
    );

    let raft_cfg = RaftConfig {
        id: identity.member_id,
        cluster_id: identity.cluster_id,
        initial_voters: boot.initial_voters,
        wal_dir: cfg.wal_dir.clone(),
        snap_dir: cfg.snap_dir.clone(),
        tick_interval: cfg.heartbeat_interval,
        election_ticks: usize::try_from(cfg.election_ticks()).unwrap_or(usize::MAX),
        snapshot_count: cfg.snapshot_count,
        snapshot_catchup_entries: cfg.snapshot_catchup_entries,
        max_size_per_msg: MAX_SIZE_PER_MSG,
        max_inflight_msgs: MAX_INFLIGHT_MSGS,
        peer_listeners,
        unsafe_no_fsync: cfg.unsafe_no_fsync,
        max_wals: usize::try_from(cfg.max_wals).unwrap_or(usize::MAX),
    };
    let (raft, apply_rx) =
        RaftNode::start(raft_cfg, PeerUrls::from_map(boot.peer_urls), state.clone())
            .map_err(|e| StartError::Raft(e.to_string()))?;

    let (applied_tx, applied_rx) = watch::channel(state.applied_index());
    let waits = Arc::new(WaitRegistry::default());
    let metrics = Arc::new(ServerMetrics::default());
    let apply_loop = ApplyLoop::new(
        state.clone(),
        waits.clone(),
        raft.clone(),
        applied_tx,
        tokio::runtime::Handle::current(),
        metrics.clone(),
    );
    std::thread::Builder::new()
        .name("apply".into())
        .spawn(move || {
            if let Err(e) = apply_loop.run(apply_rx) {
                logging::fatal("failed to apply committed entries", vec![Field::error(&e)]);
            }
        })
        .map_err(|e| StartError::State(format!("starting the apply thread: {e}")))?;

    let settings = ServerSettings {
        name: cfg.name.clone(),
        advertise_client_urls: url_strings(&cfg.advertise_client_urls),
        max_request_bytes: usize::try_from(cfg.max_request_bytes).unwrap_or(usize::MAX),
        max_txn_ops: usize::try_from(cfg.max_txn_ops).unwrap_or(usize::MAX),
        request_timeout: Duration::from_secs(5) + 2 * cfg.election_timeout,
        leader_change_grace: 5 * cfg.heartbeat_interval,
        election_timeout: cfg.election_timeout,
        watch_progress_notify_interval: cfg.experimental.watch_progress_notify_interval,
    };
    let server = Arc::new(EtcdServer::new(
        settings,
        state,
        raft.clone(),
        waits,
        applied_rx,
        metrics,
    ));
    lease::primary::spawn(server.clone(), cfg.election_timeout);
    if !metrics_listeners.is_empty() {
        let urls = url_strings(&cfg.listen_metrics_urls);
        tracing::info!(listen_metrics_urls = ?urls, "serving metrics");
        let served = serve_metrics(metrics_listeners, server.clone());
        tokio::spawn(async move {
            if let Err(e) = served.await {
                tracing::error!(listen_metrics_urls = ?urls, error = %e, "metrics listener failed");
            }
        });
    }
    tracing::info!(
        local_member_id = %format!("{:x}", identity.member_id),
        initial_advertise_peer_urls = ?logging::strings(&cfg.initial_advertise_peer_urls),
        listen_peer_urls = ?logging::strings(&cfg.listen_peer_urls),
        advertise_client_urls = ?logging::strings(&cfg.advertise_client_urls),
        listen_client_urls = ?logging::strings(&cfg.listen_client_urls),
        "now serving peer/client/metrics"
    );

    tokio::select! {
        () = server.publish() => {}
        () = shutdown_signal() => {
            raft.stop().await;
            return Ok(());
        }
    }
    tracing::info!("ready to serve client requests");
    for url in &cfg.listen_client_urls {
        tracing::info!(address = %url.host(), "serving client traffic insecurely; this is strongly discouraged!");
    }
    let result = tokio::select! {
        served = serve_clients(client_listeners, server) => served.map_err(|e| StartError::Listen {
            address: url_strings(&cfg.listen_client_urls).join(","),
            reason: go_io_error_text(&e),
        }),
        () = shutdown_signal() => Ok(()),
    };
    tracing::info!(name = %cfg.name, "closing etcd server");
    raft.stop().await;
    tracing::info!(name = %cfg.name, "closed etcd server");
    result
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    tracing::info!("received signal; shutting down");
}
