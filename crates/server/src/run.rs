//! Starting and stopping a member: bind the listeners (so a port in use fails fast), bootstrap
//! the data dir, start raft and the apply loop, publish this member, then serve clients until
//! SIGINT/SIGTERM.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use oxcd_raft::{PeerListener, RaftConfig, RaftHandle, RaftNode};

use crate::apply::{ApplyLoop, Ended};
use crate::auth::Tokens;
use crate::auto_compaction;
use crate::bootstrap::{BootstrapError, bootstrap};
use crate::corruption;
use crate::fail_stop;
use crate::grpc_health;
use crate::learner_promotion;
use crate::lease::Lessor;
use crate::lease_leader::primary;
use crate::listeners::{self, ListenerError};
use crate::membership::Identity;
use crate::metrics::ServerMetrics;
use crate::peer_dial::peer_dial_tls;
use crate::proposal::Waiters;
use crate::quota::BackendQuota;
use crate::serve::{serve_clients, serve_metrics};
use crate::server::{EtcdServer, ServerSettings};
use crate::state::ServerState;
use oxcd_etcd_compat::config::{ServerConfig, Url};
use oxcd_etcd_compat::gotext::io_error::go_io_error_text;
use oxcd_etcd_compat::logging::{self, Field};

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
pub(crate) enum StartError {
    /// A listener could not be bound (`listen tcp 127.0.0.1:2379: bind: address already in use`).
    #[error("listen tcp {address}: {reason}")]
    Listen {
        /// The address.
        address: String,
        /// Go-style text of the failure.
        reason: String,
    },
    /// A listener could not be set up (a port in use, unusable TLS settings).
    #[error(transparent)]
    Listeners(#[from] ListenerError),
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
        // The LIFO slot stays on (a worker runs the task a task just woke next, without
        // waking another worker to steal it): without it every such wake-up unparks the idle
        // worker, and one serializable read cost 4.4 context switches and 144 us of member
        // CPU instead of 1.3 and 104 (docs/benchmarks.md). Responses still leave in batches:
        // `CoalescedWrites` makes a connection's task wait one turn before it writes while
        // other calls of the connection are in progress.
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return logging::report_start_failure(&e),
    };
    let outcome = runtime.block_on(start_and_serve(cfg));
    // Work still on the blocking pool (a range being encoded for a client that left) must not
    // keep a stopping member alive.
    runtime.shutdown_timeout(RUNTIME_STOP_WITHIN);
    match outcome {
        Ok(()) => 0,
        // Like a member whose removal reaches it while it runs, it stops without an error
        // status: restarting it cannot help, and a supervisor must not keep trying.
        Err(StartError::Bootstrap(removed @ BootstrapError::Removed { .. })) => {
            tracing::warn!(error = %removed, "the member has been permanently removed from the cluster; not starting");
            0
        }
        Err(e) => logging::report_start_failure(&e),
    }
}

fn url_strings(urls: &[Url]) -> Vec<String> {
    urls.iter().map(ToString::to_string).collect()
}

/// The raft member's settings from the server configuration.
fn raft_config(
    cfg: &ServerConfig,
    identity: Identity,
    initial_voters: Vec<u64>,
    peer_listeners: Vec<PeerListener>,
    peer_tls: Option<Arc<rustls::ClientConfig>>,
) -> RaftConfig {
    let count = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    RaftConfig {
        id: identity.member_id,
        cluster_id: identity.cluster_id,
        initial_voters,
        wal_dir: cfg.wal_dir.clone(),
        snap_dir: cfg.snap_dir.clone(),
        tick_interval: cfg.heartbeat_interval,
        election_ticks: count(cfg.election_ticks()),
        snapshot_count: cfg.snapshot_count,
        snapshot_catchup_entries: cfg.snapshot_catchup_entries,
        max_size_per_msg: MAX_SIZE_PER_MSG,
        max_inflight_msgs: MAX_INFLIGHT_MSGS,
        pre_vote: cfg.pre_vote,
        max_snapshots: count(cfg.max_snapshots),
        max_wals: count(cfg.max_wals),
        unsafe_no_fsync: cfg.unsafe_no_fsync,
        max_apply_backlog_bytes: RaftConfig::DEFAULT_MAX_APPLY_BACKLOG_BYTES,
        peer_listeners,
        peer_tls,
        force_new_cluster: cfg.force_new_cluster,
    }
}

async fn start_and_serve(cfg: ServerConfig) -> Result<(), StartError> {
    tracing::info!(listen_peer_urls = ?logging::strings(&cfg.listen_peer_urls), "configuring peer listeners");
    let peer_listeners = listeners::bind_peers(&cfg)?;
    tracing::info!(listen_client_urls = ?logging::strings(&cfg.listen_client_urls), "configuring client listeners");
    let client_tls = listeners::client_tls(&cfg)?;
    let client_listeners =
        listeners::bind_serving(&cfg.listen_client_urls, client_tls.as_ref(), false)?;
    let metrics_listeners =
        listeners::bind_serving(&cfg.listen_metrics_urls, client_tls.as_ref(), true)?;
    let peer_tls = peer_dial_tls(&cfg.peer_tls).map_err(StartError::Raft)?;

    // A storage engine may panic on a damaged file without naming it: the fatal line does.
    let opening_data = format!(
        "opening the data dir {} (backend database {}); if it is damaged, restore the member from a backup, or remove it from the cluster and add it back with an empty data directory",
        cfg.data_dir.display(),
        cfg.backend_path().display()
    );
    let boot = {
        let _doing = fail_stop::doing(opening_data.clone());
        bootstrap(&cfg, peer_tls.clone()).await?
    };
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
    let tokens = Tokens::from_flag(&cfg.auth_token, cfg.auth_token_ttl)
        .map_err(|e| StartError::State(format!("failed to create token provider: {e}")))?;
    let state = {
        let _doing = fail_stop::doing(opening_data);
        Arc::new(
            ServerState::open(&boot.backend_path, lessor, tokens)
                .map_err(|e| StartError::State(e.to_string()))?,
        )
    };

    // The initial corruption check compares the state as stored, before the log is replayed.
    let stored_hash = if cfg.experimental.initial_corrupt_check {
        let hash = state.kv().hash_kv(0).map_err(|e| {
            StartError::State(format!(
                "{:x} failed to fetch hash ({})",
                identity.member_id,
                e.message()
            ))
        })?;
        Some(hash)
    } else {
        None
    };

    let raft_cfg = raft_config(
        &cfg,
        identity,
        boot.initial_voters,
        peer_listeners,
        peer_tls,
    );
    let peer_urls = state.membership().peer_urls().clone();
    let (raft, apply_rx) = RaftNode::start(raft_cfg, peer_urls, state.clone())
        .map_err(|e| StartError::Raft(e.to_string()))?;

    let raft_watch = raft.clone();
    tokio::spawn(async move {
        let error = raft_watch.failed().await;
        if matches!(*error, oxcd_raft::RaftError::Removed) {
            // Its removal reached it through a peer before (or instead of) its own log: it
            // ends as a member whose removal it applied does.
            tracing::warn!(error = %error, "server error");
            std::process::exit(0);
        }
        logging::fatal(
            "raft stopped on an unrecoverable error",
            vec![Field::error(&error)],
        );
    });

    let (applied_tx, applied_rx) = watch::channel(state.applied_index());
    let waiters = Arc::new(Waiters::default());
    let metrics = Arc::new(ServerMetrics::default());
    if cfg.metrics == "extensive" {
        metrics.grpc().enable_handling_histograms();
    }
    let observing = metrics.clone();
    state.observe_compactions(Arc::new(move |report| {
        observing.store().record_compaction(report);
    }));
    let apply_loop = ApplyLoop::new(
        state.clone(),
        waiters.clone(),
        raft.clone(),
        applied_tx,
        metrics.clone(),
    );
    let (removed_tx, removed_rx) = tokio::sync::oneshot::channel();
    let apply_thread = std::thread::Builder::new()
        .name("apply".into())
        .spawn(move || match apply_loop.run(apply_rx) {
            Ok(Ended::Removed) => {
                let _ = removed_tx.send(());
            }
            Ok(Ended::RaftStopped) => {}
            Err(e) => {
                logging::fatal("failed to apply committed entries", vec![Field::error(&e)]);
            }
        })
        .map_err(|e| StartError::State(format!("starting the apply thread: {e}")))?;

    log_backend_quota(cfg.quota_backend_bytes, cfg.backend_quota());
    let settings = ServerSettings {
        name: cfg.name.clone(),
        advertise_client_urls: url_strings(&cfg.advertise_client_urls),
        max_request_bytes: usize::try_from(cfg.max_request_bytes).unwrap_or(usize::MAX),
        max_txn_ops: usize::try_from(cfg.max_txn_ops).unwrap_or(usize::MAX),
        max_concurrent_streams: cfg.max_concurrent_streams,
        range_buffer_bytes: usize::try_from(cfg.range_buffer_bytes).unwrap_or(usize::MAX),
        enable_grpc_gateway: cfg.enable_grpc_gateway,
        request_timeout: Duration::from_secs(5) + 2 * cfg.election_timeout,
        leader_change_grace: 5 * cfg.heartbeat_interval,
        election_timeout: cfg.election_timeout,
        watch_progress_notify_interval: cfg.experimental.watch_progress_notify_interval,
        quota: BackendQuota::new(cfg.quota_backend_bytes, cfg.backend_quota()),
        strict_reconfig_check: cfg.strict_reconfig_check,
        advertise_peer_urls: url_strings(&cfg.initial_advertise_peer_urls),
        bcrypt_cost: u32::try_from(cfg.bcrypt_cost).unwrap_or(u32::MAX),
        client_cert_auth: cfg.client_tls.client_cert_auth,
    };
    let server = Arc::new(EtcdServer::new(
        settings,
        state,
        raft.clone(),
        waiters,
        applied_rx,
        metrics,
    ));
    primary::spawn(server.clone(), cfg.election_timeout);
    grpc_health::follow_leader(server.grpc_health().clone(), server.leader_changes());
    auto_compaction::spawn(server.clone(), cfg.auto_compaction);
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    crate::memory_trim::spawn();
    if cfg.auto_promote_learners {
        learner_promotion::spawn_automatic(server.clone());
    }
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

    if let Some(stored) = stored_hash {
        corruption::initial_check(&server, stored)
            .await
            .map_err(StartError::State)?;
    }
    if let Some(every) = cfg.experimental.corrupt_check_time {
        corruption::spawn_monitor(server.clone(), every);
    }
    // etcd stops a removed member after ten heartbeats, so the commit of its removal
    // reaches the others first.
    let stop = stop_requested(removed_rx, cfg.heartbeat_interval * 10);
    tokio::pin!(stop);
    tokio::select! {
        () = server.publish() => {}
        () = &mut stop => {
            stop_raft_and_apply(&raft, apply_thread).await;
            return Ok(());
        }
    }
    tracing::info!("ready to serve client requests");
    for bound in &client_listeners {
        if bound.mode.plain {
            tracing::info!(address = %bound.address, "serving client traffic insecurely; this is strongly discouraged!");
        }
        if bound.mode.tls.is_some() {
            tracing::info!(address = %bound.address, "serving client traffic securely");
        }
    }
    let result = tokio::select! {
        served = serve_clients(client_listeners, server.clone()) => served.map_err(|e| StartError::Listen {
            address: url_strings(&cfg.listen_client_urls).join(","),
            reason: go_io_error_text(&e),
        }),
        () = &mut stop => Ok(()),
    };
    tracing::info!(name = %cfg.name, "closing etcd server");
    server.grpc_health().stopping().await;
    stop_raft_and_apply(&raft, apply_thread).await;
    tracing::info!(name = %cfg.name, "closed etcd server");
    result
}

/// How long a stopping member waits for tasks still running once it has stopped serving.
const RUNTIME_STOP_WITHIN: Duration = Duration::from_secs(5);

/// How long a stopping member waits for the apply loop to finish its batch and sync.
const APPLY_STOP_WITHIN: Duration = Duration::from_secs(10);
/// How often it looks.
const APPLY_STOP_POLL: Duration = Duration::from_millis(5);

/// Stops raft, which closes the apply loop's channel, then waits for the apply loop to apply
/// what it was handed and make it durable: exiting first would leave the restart to apply it
/// again from the WAL.
async fn stop_raft_and_apply(raft: &RaftHandle, apply_thread: std::thread::JoinHandle<()>) {
    raft.stop().await;
    // Polled rather than joined on the blocking pool: a join that never returns would hold
    // the runtime's shutdown, and the process, for ever.
    let deadline = tokio::time::Instant::now() + APPLY_STOP_WITHIN;
    while !apply_thread.is_finished() {
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(
                timeout = ?APPLY_STOP_WITHIN,
                "the apply loop did not finish in time; its last batches are applied again at restart"
            );
            return;
        }
        tokio::time::sleep(APPLY_STOP_POLL).await;
    }
    if apply_thread.join().is_err() {
        tracing::warn!("the apply thread panicked while stopping");
    }
}

/// Resolves when the member must stop: on SIGINT/SIGTERM, or `delay` after the apply loop
/// applied this member's removal from the cluster.
async fn stop_requested(removed: tokio::sync::oneshot::Receiver<()>, delay: Duration) {
    let removed = async {
        if removed.await.is_ok() {
            tracing::warn!("the member has been permanently removed from the cluster; stopping");
            tokio::time::sleep(delay).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = removed => {}
        () = shutdown_signal() => {}
    }
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

/// etcd's largest recommended quota (8 GiB); a larger one is accepted with a warning.
const MAX_RECOMMENDED_QUOTA: u64 = 8 * 1024 * 1024 * 1024;

/// Logs the backend quota in force, with etcd's messages.
fn log_backend_quota(flag: i64, quota: Option<u64>) {
    use oxcd_etcd_compat::gotext::humanize;
    const NAME: &str = "v3-applier";
    match quota {
        None => tracing::info!(
            quota_name = NAME,
            quota_size_bytes = flag,
            "disabled backend quota"
        ),
        Some(bytes) if flag == 0 => tracing::info!(
            quota_name = NAME,
            quota_size_bytes = bytes,
            quota_size = %humanize::bytes(bytes),
            "enabled backend quota with default value"
        ),
        Some(bytes) => {
            if bytes > MAX_RECOMMENDED_QUOTA {
                tracing::warn!(
                    quota_name = NAME,
                    quota_size_bytes = bytes,
                    quota_size = %humanize::bytes(bytes),
                    quota_maximum_size_bytes = MAX_RECOMMENDED_QUOTA,
                    quota_maximum_size = %humanize::bytes(MAX_RECOMMENDED_QUOTA),
                    "quota exceeds the maximum value"
                );
            }
            tracing::info!(
                quota_name = NAME,
                quota_size_bytes = bytes,
                quota_size = %humanize::bytes(bytes),
                "enabled backend quota"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use oxcd_etcd_compat::config::{self, ParseOutcome};

    fn parsed(args: &[&str]) -> ServerConfig {
        let args = args.iter().map(ToString::to_string);
        match config::parse(args, &HashMap::new()) {
            Ok(ParseOutcome::Run(cfg)) => *cfg,
            other => panic!("expected a configuration, got {other:?}"),
        }
    }

    #[test]
    fn raft_settings_follow_the_flags() {
        let identity = Identity {
            cluster_id: 1,
            member_id: 2,
        };
        let defaults = raft_config(&parsed(&[]), identity, vec![2], Vec::new(), None);
        assert!(defaults.pre_vote);
        assert_eq!(defaults.max_snapshots, 5);
        assert_eq!(defaults.max_wals, 5);
        assert!(!defaults.unsafe_no_fsync);
        assert_eq!(defaults.election_ticks, 10);

        let set = raft_config(
            &parsed(&[
                "--pre-vote=false",
                "--max-snapshots=0",
                "--max-wals=3",
                "--unsafe-no-fsync",
            ]),
            identity,
            vec![2],
            Vec::new(),
            None,
        );
        assert!(!set.pre_vote);
        assert_eq!(set.max_snapshots, 0, "0 keeps every snapshot");
        assert_eq!(set.max_wals, 3);
        assert!(set.unsafe_no_fsync);
        assert_eq!((set.id, set.cluster_id), (2, 1));
    }
}
