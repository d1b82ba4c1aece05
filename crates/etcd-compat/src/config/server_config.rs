//! [`ServerConfig`]: the fully resolved, typed server configuration, and the step that
//! derives it from validated settings with etcd's defaulting rules (initial cluster from the
//! member name, data directory from the name, WAL and snapshot directories, effective
//! backend and compaction values).

use std::path::PathBuf;
use std::time::Duration;

use super::error::{ConfigError, ErrorReport, Notice, NoticeStage};
use super::go_url::Url;
use super::initial_cluster::InitialCluster;
use super::log_config::LogConfig;
use super::settings::{DEFAULT_INITIAL_CLUSTER, DEFAULT_NAME, Settings, TlsSettings};
use crate::gotext::duration::parse_nanos as parse_duration;
use crate::gotext::zap::{Field, Level};

/// etcd's default backend quota (2 GiB), used when `--quota-backend-bytes` is 0.
pub(super) const DEFAULT_QUOTA_BYTES: u64 = 2 * 1024 * 1024 * 1024;
/// Raft log entries kept after a snapshot so slow followers can catch up without one.
pub(super) const SNAPSHOT_CATCHUP_ENTRIES: u64 = 5000;

const DEFAULT_BACKEND_BATCH_INTERVAL: Duration = Duration::from_millis(100);
const DEFAULT_BACKEND_BATCH_LIMIT: u64 = 10_000;
const DEFAULT_COMPACTION_BATCH_LIMIT: u64 = 1000;
const DEFAULT_WATCH_PROGRESS_NOTIFY_INTERVAL: Duration = Duration::from_secs(600);
const MIN_WATCH_PROGRESS_NOTIFY_INTERVAL: Duration = Duration::from_millis(100);

/// `--initial-cluster-state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClusterState {
    /// Bootstrap a new cluster from `--initial-cluster`.
    New,
    /// Join a cluster that is already running.
    Existing,
}

impl ClusterState {
    /// The flag value (`new` / `existing`).
    pub fn as_str(self) -> &'static str {
        match self {
            ClusterState::New => "new",
            ClusterState::Existing => "existing",
        }
    }
}

/// What automatic compaction does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AutoCompaction {
    /// Off (retention 0).
    Disabled,
    /// Keep this much history by time (`--auto-compaction-mode periodic`).
    Periodic(Duration),
    /// Keep this many revisions (`--auto-compaction-mode revision`).
    Revision(u64),
}

/// One side's TLS settings (client-facing or peer). The client side is served; the peer side
/// is still refused at startup (see `unsupported.rs`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// The certificate served (`--cert-file` / `--peer-cert-file`).
    pub cert_file: Option<PathBuf>,
    /// Its key.
    pub key_file: Option<PathBuf>,
    /// The certificate presented when this member dials out (defaults to `cert_file`).
    pub client_cert_file: Option<PathBuf>,
    /// Its key.
    pub client_key_file: Option<PathBuf>,
    /// Whether connecting parties must present a certificate.
    pub client_cert_auth: bool,
    /// The CA bundle their certificates must chain to.
    pub trusted_ca_file: Option<PathBuf>,
    /// A revocation list.
    pub crl_file: Option<PathBuf>,
    /// Required common name of peer certificates (peer side only).
    pub allowed_cn: Option<String>,
    /// Required host name of connecting certificates.
    pub allowed_hostname: Option<String>,
    /// Generate a self-signed certificate when none is given.
    pub auto_tls: bool,
    /// Accept client certificates that do not name the connecting address (peer side only:
    /// `--experimental-peer-skip-client-san-verification`).
    pub skip_client_san_verification: bool,
}

impl TlsConfig {
    /// Whether no certificate is configured (etcd's `TLSInfo.Empty`).
    pub fn is_empty(&self) -> bool {
        self.cert_file.is_none() && self.key_file.is_none()
    }

    fn from_settings(tls: &TlsSettings) -> TlsConfig {
        let path = |s: &str| (!s.is_empty()).then(|| PathBuf::from(s));
        let text = |s: &str| (!s.is_empty()).then(|| s.to_string());
        TlsConfig {
            cert_file: path(&tls.cert_file),
            key_file: path(&tls.key_file),
            client_cert_file: path(&tls.client_cert_file),
            client_key_file: path(&tls.client_key_file),
            client_cert_auth: tls.client_cert_auth,
            trusted_ca_file: path(&tls.trusted_ca_file),
            crl_file: path(&tls.crl_file),
            allowed_cn: text(&tls.allowed_cn),
            allowed_hostname: text(&tls.allowed_hostname),
            auto_tls: tls.auto_tls,
            skip_client_san_verification: tls.skip_client_san_verification,
        }
    }
}

/// etcd's lease checkpoint interval.
const DEFAULT_LEASE_CHECKPOINT_INTERVAL: Duration = Duration::from_secs(300);

/// The `--experimental-*` settings oxcd accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExperimentalConfig {
    /// Check data against peers before serving.
    pub initial_corrupt_check: bool,
    /// Time between periodic corruption checks; `None` disables them.
    pub corrupt_check_time: Option<Duration>,
    /// Persist leases' remaining TTL (accepted; oxcd always checkpoints).
    pub enable_lease_checkpoint: bool,
    /// How often the leader checkpoints leases with more than this left (default 5m).
    pub lease_checkpoint_interval: Duration,
    /// Revisions deleted per compaction batch (etcd's default 1000 when unset).
    pub compaction_batch_limit: u64,
    /// Interval of watch progress notifications (default 10m, at least 100ms).
    pub watch_progress_notify_interval: Duration,
    /// Applies slower than this are logged as warnings.
    pub warning_apply_duration: Duration,
}

/// The resolved configuration of one oxcd member: every etcd 3.5 server flag oxcd accepts,
/// typed, with etcd's defaults and derived values filled in.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerConfig {
    /// The config file the values came from, if any.
    pub config_file: Option<PathBuf>,
    /// `--name`.
    pub name: String,
    /// `--data-dir` (defaults to `<name>.etcd`).
    pub data_dir: PathBuf,
    /// The WAL directory: `--wal-dir`, or `<data-dir>/member/wal`.
    pub wal_dir: PathBuf,
    /// Whether `--wal-dir` named a dedicated WAL directory.
    pub dedicated_wal_dir: bool,
    /// `<data-dir>/member`.
    pub member_dir: PathBuf,
    /// `<data-dir>/member/snap`, where snapshots and the backend database live.
    pub snap_dir: PathBuf,
    /// `--listen-peer-urls`, sorted.
    pub listen_peer_urls: Vec<Url>,
    /// `--listen-client-urls`, sorted.
    pub listen_client_urls: Vec<Url>,
    /// `--listen-metrics-urls`, sorted.
    pub listen_metrics_urls: Vec<Url>,
    /// `--initial-advertise-peer-urls`, sorted.
    pub initial_advertise_peer_urls: Vec<Url>,
    /// `--advertise-client-urls`, sorted.
    pub advertise_client_urls: Vec<Url>,
    /// `--initial-cluster` as text (etcd only parses it when bootstrapping; see
    /// [`ServerConfig::bootstrap_cluster`]).
    pub initial_cluster: String,
    /// `--initial-cluster-state`.
    pub initial_cluster_state: ClusterState,
    /// `--initial-cluster-token`.
    pub initial_cluster_token: String,
    /// `--heartbeat-interval`: the raft tick.
    pub heartbeat_interval: Duration,
    /// `--election-timeout`.
    pub election_timeout: Duration,
    /// `--initial-election-tick-advance`.
    pub initial_election_tick_advance: bool,
    /// `--snapshot-count`.
    pub snapshot_count: u64,
    /// Entries kept after a snapshot for slow followers (etcd's fixed 5000).
    pub snapshot_catchup_entries: u64,
    /// `--max-snapshots` (0 keeps all).
    pub max_snapshots: u64,
    /// `--max-wals` (0 keeps all).
    pub max_wals: u64,
    /// `--quota-backend-bytes` as given (0 means default, negative disables); see
    /// [`ServerConfig::backend_quota`].
    pub quota_backend_bytes: i64,
    /// `--backend-bbolt-freelist-type`; oxcd's backend has no freelist, so only what etcd
    /// reads as its default `map` (anything but `array`) is accepted.
    pub backend_freelist_type: String,
    /// `--backend-batch-interval`, or etcd's default 100ms.
    pub backend_batch_interval: Duration,
    /// `--backend-batch-limit`, or etcd's default 10000.
    pub backend_batch_limit: u64,
    /// `--max-txn-ops`.
    pub max_txn_ops: u64,
    /// `--max-request-bytes`.
    pub max_request_bytes: u64,
    /// `--max-concurrent-streams`: HTTP/2 streams one client connection may hold open.
    pub max_concurrent_streams: u32,
    /// `--grpc-keepalive-min-time`.
    pub grpc_keepalive_min_time: Duration,
    /// `--grpc-keepalive-interval` (zero disables).
    pub grpc_keepalive_interval: Duration,
    /// `--grpc-keepalive-timeout` (zero disables).
    pub grpc_keepalive_timeout: Duration,
    /// `--socket-reuse-port`.
    pub socket_reuse_port: bool,
    /// `--socket-reuse-address`.
    pub socket_reuse_address: bool,
    /// `--raft-read-timeout` (at least 5s).
    pub raft_read_timeout: Duration,
    /// `--raft-write-timeout` (at least 5s).
    pub raft_write_timeout: Duration,
    /// `--strict-reconfig-check`.
    pub strict_reconfig_check: bool,
    /// `--auto-promote-learners` (an oxcd extension): the leader promotes each learner once
    /// it has caught up.
    pub auto_promote_learners: bool,
    /// `--range-buffer-bytes` (an oxcd extension): ranges whose key-value pairs encode to more
    /// bytes than this are sent in pieces instead of being built whole in memory.
    pub range_buffer_bytes: u64,
    /// `--pre-vote`.
    pub pre_vote: bool,
    /// `--auto-compaction-mode` as given (etcd logs it).
    pub auto_compaction_mode: String,
    /// The resolved automatic compaction.
    pub auto_compaction: AutoCompaction,
    /// Client-facing TLS.
    pub client_tls: TlsConfig,
    /// Peer TLS.
    pub peer_tls: TlsConfig,
    /// `--self-signed-cert-validity`, in years.
    pub self_signed_cert_validity_years: u64,
    /// `--cipher-suites`.
    pub cipher_suites: Vec<String>,
    /// `--cors` origins (`*` allows all).
    pub cors: Vec<String>,
    /// `--host-whitelist` (`*` allows all).
    pub host_whitelist: Vec<String>,
    /// `--auth-token`.
    pub auth_token: String,
    /// `--bcrypt-cost`.
    pub bcrypt_cost: u64,
    /// `--auth-token-ttl`.
    pub auth_token_ttl: Duration,
    /// `--enable-pprof`.
    pub enable_pprof: bool,
    /// `--metrics` (`basic` or `extensive`).
    pub metrics: String,
    /// `--enable-grpc-gateway`.
    pub enable_grpc_gateway: bool,
    /// `--force-new-cluster`.
    pub force_new_cluster: bool,
    /// `--unsafe-no-fsync`.
    pub unsafe_no_fsync: bool,
    /// The accepted `--experimental-*` settings.
    pub experimental: ExperimentalConfig,
    /// `--logger`, `--log-level` and `--log-outputs`, ready for [`crate::logging::init`].
    pub log: LogConfig,
    /// Messages etcd logs about the configuration; pass them to
    /// [`crate::logging::log_startup`].
    pub notices: Vec<Notice>,
}

impl ServerConfig {
    /// Raft election ticks: election timeout over heartbeat interval.
    pub fn election_ticks(&self) -> u64 {
        let tick = self.heartbeat_interval.as_millis().max(1);
        u64::try_from(self.election_timeout.as_millis() / tick).unwrap_or(u64::MAX)
    }

    /// The backend quota in bytes, or `None` when quotas are disabled (negative flag).
    pub fn backend_quota(&self) -> Option<u64> {
        match self.quota_backend_bytes {
            0 => Some(DEFAULT_QUOTA_BYTES),
            q if q < 0 => None,
            q => Some(q.unsigned_abs()),
        }
    }

    /// The backend database file, `<data-dir>/member/snap/db`.
    pub fn backend_path(&self) -> PathBuf {
        self.snap_dir.join("db")
    }

    /// Whether this member bootstraps a new cluster.
    pub fn is_new_cluster(&self) -> bool {
        self.initial_cluster_state == ClusterState::New
    }
}

/// Derives the resolved configuration, as etcd does between flag parsing and server start.
pub(crate) fn resolve(
    mut settings: Settings,
    log: LogConfig,
    mut notices: Vec<Notice>,
) -> Result<ServerConfig, ConfigError> {
    // etcd rebuilds the default initial cluster when only the name was changed
    // (`etcd --name abc` bootstraps `abc=<advertised peer URLs>`).
    if settings.name != DEFAULT_NAME && settings.initial_cluster == DEFAULT_INITIAL_CLUSTER {
        settings.initial_cluster =
            InitialCluster::from_name(&settings.name, &settings.initial_advertise_peer_urls.urls);
    }
    if settings.dir.is_empty() {
        settings.dir = format!("{}.etcd", settings.name);
        notices.push(Notice::new(
            NoticeStage::Startup,
            Level::Warn,
            "'data-dir' was empty; using default",
            vec![Field::str("data-dir", settings.dir.clone())],
        ));
    }
    let auto_compaction = auto_compaction(
        &settings.auto_compaction_mode,
        &settings.auto_compaction_retention,
    )
    .map_err(|message| {
        ConfigError::new(
            message,
            ErrorReport::StartFailed {
                log: Some(log.clone()),
            },
        )
        .with_notices(notices.clone())
    })?;

    let data_dir = PathBuf::from(&settings.dir);
    let member_dir = data_dir.join("member");
    let dedicated_wal_dir = !settings.wal_dir.is_empty();
    let wal_dir = if dedicated_wal_dir {
        PathBuf::from(&settings.wal_dir)
    } else {
        member_dir.join("wal")
    };
    let watch_interval = match non_negative(settings.experimental_watch_progress_notify_interval) {
        d if d.is_zero() => DEFAULT_WATCH_PROGRESS_NOTIFY_INTERVAL,
        d => d.max(MIN_WATCH_PROGRESS_NOTIFY_INTERVAL),
    };
    let cluster_state = if settings.initial_cluster_state == "existing" {
        ClusterState::Existing
    } else {
        ClusterState::New
    };

    Ok(ServerConfig {
        config_file: (!settings.config_file.is_empty())
            .then(|| PathBuf::from(&settings.config_file)),
        name: settings.name,
        snap_dir: member_dir.join("snap"),
        member_dir,
        data_dir,
        wal_dir,
        dedicated_wal_dir,
        listen_peer_urls: settings.listen_peer_urls.urls,
        listen_client_urls: settings.listen_client_urls.urls,
        listen_metrics_urls: settings.listen_metrics_urls.urls,
        initial_advertise_peer_urls: settings.initial_advertise_peer_urls.urls,
        advertise_client_urls: settings.advertise_client_urls.urls,
        initial_cluster: settings.initial_cluster,
        initial_cluster_state: cluster_state,
        initial_cluster_token: settings.initial_cluster_token,
        heartbeat_interval: Duration::from_millis(settings.tick_ms),
        election_timeout: Duration::from_millis(settings.election_ms),
        initial_election_tick_advance: settings.initial_election_tick_advance,
        snapshot_count: settings.snapshot_count,
        snapshot_catchup_entries: SNAPSHOT_CATCHUP_ENTRIES,
        max_snapshots: settings.max_snap_files,
        max_wals: settings.max_wal_files,
        quota_backend_bytes: settings.quota_backend_bytes,
        backend_freelist_type: settings.backend_freelist_type,
        backend_batch_interval: match non_negative(settings.backend_batch_interval) {
            d if d.is_zero() => DEFAULT_BACKEND_BATCH_INTERVAL,
            d => d,
        },
        backend_batch_limit: match settings.backend_batch_limit {
            n if n <= 0 => DEFAULT_BACKEND_BATCH_LIMIT,
            n => n.unsigned_abs(),
        },
        max_txn_ops: settings.max_txn_ops,
        max_request_bytes: settings.max_request_bytes,
        // The flag and the file parse it as a uint32.
        max_concurrent_streams: u32::try_from(settings.max_concurrent_streams).unwrap_or(u32::MAX),
        grpc_keepalive_min_time: non_negative(settings.grpc_keepalive_min_time),
        grpc_keepalive_interval: non_negative(settings.grpc_keepalive_interval),
        grpc_keepalive_timeout: non_negative(settings.grpc_keepalive_timeout),
        socket_reuse_port: settings.socket_reuse_port,
        socket_reuse_address: settings.socket_reuse_address,
        raft_read_timeout: non_negative(settings.raft_read_timeout),
        raft_write_timeout: non_negative(settings.raft_write_timeout),
        strict_reconfig_check: settings.strict_reconfig_check,
        auto_promote_learners: settings.auto_promote_learners,
        range_buffer_bytes: settings.range_buffer_bytes,
        pre_vote: settings.pre_vote,
        auto_compaction_mode: settings.auto_compaction_mode,
        auto_compaction,
        client_tls: TlsConfig::from_settings(&settings.client_tls),
        peer_tls: TlsConfig::from_settings(&settings.peer_tls),
        self_signed_cert_validity_years: settings.self_signed_cert_validity,
        cipher_suites: settings.cipher_suites,
        cors: settings.cors,
        host_whitelist: settings.host_whitelist,
        auth_token: settings.auth_token,
        bcrypt_cost: settings.bcrypt_cost,
        auth_token_ttl: Duration::from_secs(settings.auth_token_ttl),
        enable_pprof: settings.enable_pprof,
        metrics: settings.metrics,
        enable_grpc_gateway: settings.enable_grpc_gateway,
        force_new_cluster: settings.force_new_cluster,
        unsafe_no_fsync: settings.unsafe_no_fsync,
        experimental: ExperimentalConfig {
            initial_corrupt_check: settings.experimental_initial_corrupt_check,
            corrupt_check_time: Some(non_negative(settings.experimental_corrupt_check_time))
                .filter(|d| !d.is_zero()),
            enable_lease_checkpoint: settings.experimental_enable_lease_checkpoint,
            lease_checkpoint_interval: match non_negative(
                settings.experimental_lease_checkpoint_interval,
            ) {
                d if d.is_zero() => DEFAULT_LEASE_CHECKPOINT_INTERVAL,
                d => d,
            },
            compaction_batch_limit: match settings.experimental_compaction_batch_limit {
                n if n <= 0 => DEFAULT_COMPACTION_BATCH_LIMIT,
                n => n.unsigned_abs(),
            },
            watch_progress_notify_interval: watch_interval,
            warning_apply_duration: non_negative(settings.experimental_warning_apply_duration),
        },
        log,
        notices,
    })
}

/// A Go duration in nanoseconds as a `Duration`; negative values mean zero.
fn non_negative(nanos: i64) -> Duration {
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(0))
}

/// etcd's `parseCompactionRetention` plus its compactor's mode check: a bare non-negative
/// integer is hours (periodic) or revisions, anything else must be a Go duration.
fn auto_compaction(mode: &str, retention: &str) -> Result<AutoCompaction, String> {
    let retention = if retention.is_empty() { "0" } else { retention };
    let amount: i64 = match retention.parse::<i64>() {
        Ok(n) if n >= 0 => match mode {
            "revision" => n,
            "periodic" => n.saturating_mul(3_600_000_000_000),
            _ => 0,
        },
        _ => parse_duration(retention)
            .map_err(|e| format!("error parsing CompactionRetention: {e}"))?,
    };
    if amount == 0 {
        return Ok(AutoCompaction::Disabled);
    }
    match mode {
        "periodic" => Ok(if amount > 0 {
            AutoCompaction::Periodic(non_negative(amount))
        } else {
            AutoCompaction::Disabled
        }),
        // etcd passes the parsed value through as a revision count, even a duration.
        "revision" => Ok(if amount > 0 {
            AutoCompaction::Revision(amount.unsigned_abs())
        } else {
            AutoCompaction::Disabled
        }),
        other => Err(format!("unsupported compaction mode {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(settings: Settings) -> ServerConfig {
        resolve(settings, LogConfig::default(), Vec::new()).expect("resolves")
    }

    #[test]
    fn defaults_resolve_like_etcd() {
        let c = resolved(Settings::flag_defaults());
        assert_eq!(c.name, "default");
        assert_eq!(c.data_dir, PathBuf::from("default.etcd"));
        assert_eq!(c.wal_dir, PathBuf::from("default.etcd/member/wal"));
        assert_eq!(c.snap_dir, PathBuf::from("default.etcd/member/snap"));
        assert_eq!(
            c.backend_path(),
            PathBuf::from("default.etcd/member/snap/db")
        );
        assert!(!c.dedicated_wal_dir);
        assert_eq!(c.initial_cluster, "default=http://localhost:2380");
        assert_eq!(c.election_ticks(), 10);
        assert_eq!(c.backend_quota(), Some(DEFAULT_QUOTA_BYTES));
        assert_eq!(c.backend_batch_interval, Duration::from_millis(100));
        assert_eq!(c.backend_batch_limit, 10_000);
        assert_eq!(c.auto_compaction, AutoCompaction::Disabled);
        assert_eq!(c.max_request_bytes, 1_572_864);
        assert_eq!(c.max_txn_ops, 128);
        assert_eq!(c.grpc_keepalive_interval, Duration::from_secs(7200));
        assert_eq!(
            c.experimental.watch_progress_notify_interval,
            Duration::from_secs(600)
        );
        assert_eq!(c.experimental.compaction_batch_limit, 1000);
        assert_eq!(c.experimental.corrupt_check_time, None);
        assert!(c.client_tls.is_empty());
        assert_eq!(c.notices.len(), 1);
        assert_eq!(c.notices[0].msg, "'data-dir' was empty; using default");
        assert_eq!(
            c.notices[0].fields,
            vec![Field::str("data-dir", "default.etcd")]
        );
    }

    #[test]
    fn name_alone_rebuilds_the_initial_cluster() {
        let mut s = Settings::flag_defaults();
        s.name = "infra1".to_string();
        s.initial_advertise_peer_urls =
            super::super::settings::UrlFlag::with_default("http://127.0.0.1:2380");
        let c = resolved(s.clone());
        assert_eq!(c.initial_cluster, "infra1=http://127.0.0.1:2380");
        assert_eq!(c.data_dir, PathBuf::from("infra1.etcd"));
        s.initial_cluster = "other=http://h:1".to_string();
        assert_eq!(resolved(s).initial_cluster, "other=http://h:1");
    }

    #[test]
    fn dedicated_wal_dir_is_used() {
        let mut s = Settings::flag_defaults();
        s.dir = "/data".to_string();
        s.wal_dir = "/wal".to_string();
        let c = resolved(s);
        assert_eq!(c.wal_dir, PathBuf::from("/wal"));
        assert!(c.dedicated_wal_dir);
        assert_eq!(c.snap_dir, PathBuf::from("/data/member/snap"));
        assert!(c.notices.is_empty(), "no data-dir default notice");
    }

    #[test]
    fn quotas() {
        let mut s = Settings::flag_defaults();
        s.quota_backend_bytes = -1;
        assert_eq!(resolved(s.clone()).backend_quota(), None);
        s.quota_backend_bytes = 1024;
        assert_eq!(resolved(s).backend_quota(), Some(1024));
    }

    #[test]
    fn compaction_retention_follows_etcd() {
        assert_eq!(
            auto_compaction("periodic", "1"),
            Ok(AutoCompaction::Periodic(Duration::from_secs(3600)))
        );
        assert_eq!(
            auto_compaction("periodic", "30m"),
            Ok(AutoCompaction::Periodic(Duration::from_secs(1800)))
        );
        assert_eq!(
            auto_compaction("revision", "1000"),
            Ok(AutoCompaction::Revision(1000))
        );
        assert_eq!(
            auto_compaction("periodic", "0"),
            Ok(AutoCompaction::Disabled)
        );
        assert_eq!(
            auto_compaction("periodic", ""),
            Ok(AutoCompaction::Disabled)
        );
        // A config file without a mode: a bare number means nothing, a duration is an error.
        assert_eq!(auto_compaction("", "5"), Ok(AutoCompaction::Disabled));
        assert_eq!(
            auto_compaction("", "1h"),
            Err("unsupported compaction mode ".to_string())
        );
        assert_eq!(
            auto_compaction("periodic", "abc"),
            Err("error parsing CompactionRetention: time: invalid duration \"abc\"".to_string())
        );
        assert_eq!(
            auto_compaction("periodic", "1.5"),
            Err(
                "error parsing CompactionRetention: time: missing unit in duration \"1.5\""
                    .to_string()
            )
        );
    }

    #[test]
    fn bad_retention_is_a_start_failure() {
        let mut s = Settings::flag_defaults();
        s.auto_compaction_retention = "abc".to_string();
        let err = resolve(s, LogConfig::default(), Vec::new()).expect_err("fails");
        assert_eq!(
            err.report(),
            &ErrorReport::StartFailed {
                log: Some(LogConfig::default())
            }
        );
        assert_eq!(err.notices().len(), 1, "the data-dir notice comes first");
    }

    #[test]
    fn watch_progress_interval_has_a_floor() {
        let mut s = Settings::flag_defaults();
        s.experimental_watch_progress_notify_interval = 1_000_000;
        assert_eq!(
            resolved(s).experimental.watch_progress_notify_interval,
            Duration::from_millis(100)
        );
    }
}
