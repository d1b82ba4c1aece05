//! The raw configuration that flags, `ETCD_*` variables and the YAML file write into, field
//! for field what etcd's `embed.Config` holds, before defaults are derived and values are
//! validated and typed into a [`ServerConfig`](super::ServerConfig).

use super::go_url::{Url, parse_url_list};

/// A URL-list flag: the parsed URLs plus the set of texts etcd's `UniqueURLs` value keeps,
/// which decides whether a repeated `Set` is a no-op.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct UrlFlag {
    pub urls: Vec<Url>,
    values: Vec<String>,
}

impl UrlFlag {
    /// A flag holding `default` (a valid comma-separated list, or empty for none).
    pub(super) fn with_default(default: &str) -> UrlFlag {
        let mut flag = UrlFlag::default();
        if !default.is_empty() {
            // The defaults are literals in this crate, so a failure here is caught by tests.
            let _ = flag.set(default);
        }
        flag
    }

    /// Applies a flag value with etcd's `UniqueURLs.Set` rules: an empty value and a value
    /// equal to one already held change nothing; anything else replaces the list.
    pub(super) fn set(&mut self, s: &str) -> Result<(), String> {
        if s.is_empty() || self.values.iter().any(|v| v == s) {
            if s.is_empty() && !self.values.iter().any(String::is_empty) {
                self.values.push(String::new());
            }
            return Ok(());
        }
        let urls = parse_url_list(s)?;
        self.values = urls.iter().map(Url::to_string).collect();
        self.urls = urls;
        Ok(())
    }

    /// Replaces the list with already parsed URLs (the YAML file path).
    pub(super) fn replace(&mut self, urls: Vec<Url>) {
        self.values = urls.iter().map(Url::to_string).collect();
        self.urls = urls;
    }
}

/// One side's TLS settings (client-facing or peer), as etcd's `transport.TLSInfo` plus the
/// auto-TLS switch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TlsSettings {
    pub cert_file: String,
    pub key_file: String,
    pub client_cert_file: String,
    pub client_key_file: String,
    pub client_cert_auth: bool,
    pub trusted_ca_file: String,
    pub crl_file: String,
    pub allowed_cn: String,
    pub allowed_hostname: String,
    pub auto_tls: bool,
    pub skip_client_san_verification: bool,
}

/// Every value etcd 3.5's server flags can set, in etcd's own representation (durations in
/// nanoseconds, numbers at Go's widths, strings unvalidated).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Settings {
    pub config_file: String,
    pub print_version: bool,

    pub name: String,
    pub dir: String,
    pub wal_dir: String,
    pub snapshot_count: u64,
    pub max_snap_files: u64,
    pub max_wal_files: u64,
    pub tick_ms: u64,
    pub election_ms: u64,
    pub initial_election_tick_advance: bool,
    pub quota_backend_bytes: i64,
    pub backend_freelist_type: String,
    pub backend_batch_interval: i64,
    pub backend_batch_limit: i64,
    pub max_txn_ops: u64,
    pub max_request_bytes: u64,
    pub max_concurrent_streams: u64,
    pub grpc_keepalive_min_time: i64,
    pub grpc_keepalive_interval: i64,
    pub grpc_keepalive_timeout: i64,
    pub socket_reuse_port: bool,
    pub socket_reuse_address: bool,
    pub raft_read_timeout: i64,
    pub raft_write_timeout: i64,

    pub listen_peer_urls: UrlFlag,
    pub listen_client_urls: UrlFlag,
    pub listen_metrics_urls: UrlFlag,
    pub initial_advertise_peer_urls: UrlFlag,
    pub advertise_client_urls: UrlFlag,

    pub initial_cluster: String,
    pub initial_cluster_state: String,
    pub initial_cluster_token: String,
    pub strict_reconfig_check: bool,
    pub auto_promote_learners: bool,
    pub range_buffer_bytes: u64,
    pub pre_vote: bool,
    pub auto_compaction_retention: String,
    pub auto_compaction_mode: String,

    pub client_tls: TlsSettings,
    pub peer_tls: TlsSettings,
    pub self_signed_cert_validity: u64,
    pub cipher_suites: Vec<String>,
    pub cors: Vec<String>,
    pub host_whitelist: Vec<String>,

    pub auth_token: String,
    pub bcrypt_cost: u64,
    pub auth_token_ttl: u64,

    pub enable_pprof: bool,
    pub metrics: String,

    pub logger: String,
    pub log_level: String,
    pub log_outputs: Vec<String>,

    pub enable_grpc_gateway: bool,
    pub force_new_cluster: bool,
    pub unsafe_no_fsync: bool,

    pub experimental_initial_corrupt_check: bool,
    pub experimental_corrupt_check_time: i64,
    pub experimental_enable_lease_checkpoint: bool,
    pub experimental_lease_checkpoint_interval: i64,
    pub experimental_compaction_batch_limit: i64,
    pub experimental_watch_progress_notify_interval: i64,
    pub experimental_warning_apply_duration: i64,
}

/// etcd's default member name.
pub(crate) const DEFAULT_NAME: &str = "default";
/// etcd's default peer URL (listen and advertise).
pub(crate) const DEFAULT_PEER_URL: &str = "http://localhost:2380";
/// etcd's default client URL (listen and advertise).
pub(crate) const DEFAULT_CLIENT_URL: &str = "http://localhost:2379";
/// etcd's default `--initial-cluster`, derived from the default name and peer URL.
pub(crate) const DEFAULT_INITIAL_CLUSTER: &str = "default=http://localhost:2380";
/// The minimum raft connection read/write timeout etcd enforces (5s).
pub(crate) const MIN_RAFT_CONN_TIMEOUT_NANOS: i64 = 5_000_000_000;

const SECOND: i64 = 1_000_000_000;

impl Settings {
    /// The values etcd's `embed.NewConfig` starts from; a YAML config file overlays these.
    pub(super) fn embed_defaults() -> Settings {
        Settings {
            config_file: String::new(),
            print_version: false,
            name: DEFAULT_NAME.to_string(),
            dir: String::new(),
            wal_dir: String::new(),
            snapshot_count: 100_000,
            max_snap_files: 5,
            max_wal_files: 5,
            tick_ms: 100,
            election_ms: 1000,
            initial_election_tick_advance: true,
            quota_backend_bytes: 0,
            backend_freelist_type: String::new(),
            backend_batch_interval: 0,
            backend_batch_limit: 0,
            max_txn_ops: 128,
            max_request_bytes: 1_572_864,
            max_concurrent_streams: u64::from(u32::MAX),
            grpc_keepalive_min_time: 5 * SECOND,
            grpc_keepalive_interval: 2 * 3600 * SECOND,
            grpc_keepalive_timeout: 20 * SECOND,
            socket_reuse_port: false,
            socket_reuse_address: false,
            raft_read_timeout: MIN_RAFT_CONN_TIMEOUT_NANOS,
            raft_write_timeout: MIN_RAFT_CONN_TIMEOUT_NANOS,
            listen_peer_urls: UrlFlag::with_default(DEFAULT_PEER_URL),
            listen_client_urls: UrlFlag::with_default(DEFAULT_CLIENT_URL),
            listen_metrics_urls: UrlFlag::default(),
            initial_advertise_peer_urls: UrlFlag::with_default(DEFAULT_PEER_URL),
            advertise_client_urls: UrlFlag::with_default(DEFAULT_CLIENT_URL),
            initial_cluster: DEFAULT_INITIAL_CLUSTER.to_string(),
            initial_cluster_state: "new".to_string(),
            initial_cluster_token: "etcd-cluster".to_string(),
            strict_reconfig_check: true,
            auto_promote_learners: false,
            range_buffer_bytes: 4 * 1024 * 1024,
            pre_vote: true,
            auto_compaction_retention: String::new(),
            auto_compaction_mode: String::new(),
            client_tls: TlsSettings::default(),
            peer_tls: TlsSettings::default(),
            self_signed_cert_validity: 0,
            cipher_suites: Vec::new(),
            cors: vec!["*".to_string()],
            host_whitelist: vec!["*".to_string()],
            auth_token: "simple".to_string(),
            bcrypt_cost: 10,
            auth_token_ttl: 300,
            enable_pprof: false,
            metrics: "basic".to_string(),
            logger: "zap".to_string(),
            log_level: "info".to_string(),
            log_outputs: vec!["default".to_string()],
            enable_grpc_gateway: true,
            force_new_cluster: false,
            unsafe_no_fsync: false,
            experimental_initial_corrupt_check: false,
            experimental_corrupt_check_time: 0,
            experimental_enable_lease_checkpoint: false,
            experimental_lease_checkpoint_interval: 0,
            experimental_compaction_batch_limit: 0,
            experimental_watch_progress_notify_interval: 0,
            experimental_warning_apply_duration: 100_000_000,
        }
    }

    /// The values the command line starts from: etcd registers a few flags with defaults
    /// that differ from `embed.NewConfig` (compaction mode and retention, cert validity).
    pub(super) fn flag_defaults() -> Settings {
        Settings {
            auto_compaction_retention: "0".to_string(),
            auto_compaction_mode: "periodic".to_string(),
            self_signed_cert_validity: 1,
            ..Settings::embed_defaults()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_defaults_parse() {
        let s = Settings::embed_defaults();
        assert_eq!(s.listen_peer_urls.urls.len(), 1);
        assert_eq!(s.listen_client_urls.urls[0].to_string(), DEFAULT_CLIENT_URL);
        assert!(s.listen_metrics_urls.urls.is_empty());
    }

    #[test]
    fn url_flag_set_follows_unique_urls_rules() {
        let mut f = UrlFlag::with_default("http://a:1,http://b:2");
        // A value equal to one already held is a no-op, even though it names fewer URLs.
        f.set("http://a:1").expect("valid");
        assert_eq!(f.urls.len(), 2);
        // An empty value keeps the current list.
        f.set("").expect("valid");
        assert_eq!(f.urls.len(), 2);
        f.set("http://c:3").expect("valid");
        assert_eq!(f.urls.len(), 1);
        assert!(f.set("c:3").is_err());
        assert_eq!(
            f.urls[0].to_string(),
            "http://c:3",
            "failed set keeps the old value"
        );
    }
}
