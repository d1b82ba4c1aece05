//! The one table of the server flags oxcd accepts — etcd 3.5's, and in a section of their own
//! the few extensions etcd does not have — and nothing else: each row names the
//! flag, the [`Settings`] field it writes (a [`Target`], defined with the other row types in
//! `flag_spec.rs`), its YAML key and its help text, so the command line, `ETCD_*` variables,
//! the config file and `--help` can never disagree.
//!
//! What happens to each kind of etcd 3.5 flag:
//! - Flags of features oxcd leaves out (the v2 API and v2 proxy, discovery services, log
//!   rotation, distributed tracing and a few `--experimental-*` switches: `--enable-v2`,
//!   `--discovery*`, `--proxy*`, `--log-rotation-config-json`, ...) are not rows. On the
//!   command line they fail as any unknown flag fails in etcd (`flag provided but not
//!   defined`); as an `ETCD_*` variable one draws the "unrecognized environment variable"
//!   warning and as a config-file key the "ignoring unsupported configuration file key"
//!   warning, and is otherwise ignored (etcd would honour both).
//! - Rows for features oxcd does not have yet (keepalive tuning, Host checks, ...) parse like
//!   etcd's; the member refuses to start when one is not etcd's default (`unsupported.rs`).
//! - Three rows are accepted and have no effect whatever their value:
//!   `--experimental-enable-lease-checkpoint` (oxcd always checkpoints leases),
//!   `--initial-election-tick-advance` and `--socket-reuse-address`.
//! - `Target::Ignored` rows are the legacy flags etcd 3.5 itself accepts and ignores.

use super::flag_spec::{FlagSpec, Section, Target, YamlKey};
use super::settings::{Settings, TlsSettings};
/// Looks up a flag by name.
pub(crate) fn lookup(name: &str) -> Option<&'static FlagSpec> {
    FLAGS.iter().find(|f| f.name == name)
}

fn client_tls(s: &mut Settings) -> &mut TlsSettings {
    &mut s.client_tls
}

fn peer_tls(s: &mut Settings) -> &mut TlsSettings {
    &mut s.peer_tls
}

const CLIENT_SEC: &str = "client-transport-security";
const PEER_SEC: &str = "peer-transport-security";

macro_rules! flag {
    ($name:literal, $target:expr, $yaml:expr, $section:ident, $default:literal, $help:literal) => {
        FlagSpec {
            name: $name,
            target: $target,
            yaml: $yaml,
            section: Section::$section,
            default: $default,
            help: $help,
        }
    };
}

macro_rules! ignored {
    ($name:literal) => {
        flag!($name, Target::Ignored, YamlKey::None, Hidden, "", "")
    };
}

use Target::{Bool, Choice, Duration, Int, Str, Strings, Uint, UniqueStrings, Urls};
use YamlKey::{Nested, Top};

/// Every flag oxcd accepts, sorted by name (etcd applies `ETCD_*` variables in this order).
pub(crate) static FLAGS: &[FlagSpec] = &[
    flag!(
        "advertise-client-urls",
        Urls(|s| &mut s.advertise_client_urls),
        Top("advertise-client-urls"),
        Clustering,
        "http://localhost:2379",
        "This member's client URLs, published to clients and the rest of the cluster."
    ),
    flag!(
        "auth-token",
        Str(|s| &mut s.auth_token),
        Top("auth-token"),
        Auth,
        "simple",
        "The v3 auth token type and its options ('simple' or 'jwt,...')."
    ),
    flag!(
        "auth-token-ttl",
        Uint(|s| &mut s.auth_token_ttl, "uint"),
        Top("auth-token-ttl"),
        Auth,
        "300",
        "How long (in seconds) a simple auth token stays valid."
    ),
    flag!(
        "auto-compaction-mode",
        Str(|s| &mut s.auto_compaction_mode),
        Top("auto-compaction-mode"),
        Clustering,
        "periodic",
        "How to read --auto-compaction-retention: 'periodic' (a duration, hours when no unit is given) or 'revision' (a number of revisions)."
    ),
    flag!(
        "auto-compaction-retention",
        Str(|s| &mut s.auto_compaction_retention),
        Top("auto-compaction-retention"),
        Clustering,
        "0",
        "How much history auto compaction keeps; 0 turns auto compaction off."
    ),
    flag!(
        "auto-promote-learners",
        Bool(|s| &mut s.auto_promote_learners),
        Top("auto-promote-learners"),
        Extensions,
        "false",
        "While this member leads, promote every learner to a voting member once it has caught up with the leader."
    ),
    flag!(
        "auto-tls",
        Bool(|s| &mut client_tls(s).auto_tls),
        Nested(CLIENT_SEC, "auto-tls"),
        Security,
        "false",
        "Serve clients over TLS with a generated self-signed certificate."
    ),
    flag!(
        "backend-batch-interval",
        Duration(|s| &mut s.backend_batch_interval),
        Top("backend-batch-interval"),
        Member,
        "",
        "The longest time a backend write transaction stays open before it is committed."
    ),
    flag!(
        "backend-batch-limit",
        Int(|s| &mut s.backend_batch_limit, "int"),
        Top("backend-batch-limit"),
        Member,
        "0",
        "The most operations a backend write transaction collects before it is committed."
    ),
    flag!(
        "backend-bbolt-freelist-type",
        Str(|s| &mut s.backend_freelist_type),
        Top("backend-bbolt-freelist-type"),
        Member,
        "map",
        "bbolt's freelist type; oxcd's backend has no freelist, so only 'map' is accepted."
    ),
    flag!(
        "bcrypt-cost",
        Uint(|s| &mut s.bcrypt_cost, "uint"),
        Top("bcrypt-cost"),
        Auth,
        "10",
        "The bcrypt cost factor used to hash auth passwords (4 to 31)."
    ),
    flag!(
        "cert-file",
        Str(|s| &mut client_tls(s).cert_file),
        Nested(CLIENT_SEC, "cert-file"),
        Security,
        "",
        "The TLS certificate served to clients."
    ),
    flag!(
        "cipher-suites",
        Strings(|s| &mut s.cipher_suites),
        Top("cipher-suites"),
        Security,
        "",
        "Comma-separated TLS cipher suites for client and peer connections (empty means the TLS library's defaults)."
    ),
    flag!(
        "client-cert-allowed-hostname",
        Str(|s| &mut client_tls(s).allowed_hostname),
        YamlKey::None,
        Security,
        "",
        "Only accept client certificates valid for this host name."
    ),
    flag!(
        "client-cert-auth",
        Bool(|s| &mut client_tls(s).client_cert_auth),
        Nested(CLIENT_SEC, "client-cert-auth"),
        Security,
        "false",
        "Require clients to present a certificate signed by --trusted-ca-file."
    ),
    flag!(
        "client-cert-file",
        Str(|s| &mut client_tls(s).client_cert_file),
        Nested(CLIENT_SEC, "client-cert-file"),
        Security,
        "",
        "The certificate this member presents when it is itself a client (defaults to --cert-file)."
    ),
    flag!(
        "client-crl-file",
        Str(|s| &mut client_tls(s).crl_file),
        YamlKey::None,
        Security,
        "",
        "A certificate revocation list checked against client certificates."
    ),
    flag!(
        "client-key-file",
        Str(|s| &mut client_tls(s).client_key_file),
        Nested(CLIENT_SEC, "client-key-file"),
        Security,
        "",
        "The key for --client-cert-file (defaults to --key-file)."
    ),
    ignored!("cluster-active-size"),
    ignored!("cluster-remove-delay"),
    ignored!("cluster-sync-interval"),
    ignored!("config"),
    flag!(
        "config-file",
        Str(|s| &mut s.config_file),
        YamlKey::None,
        Hidden,
        "",
        "Path to a YAML configuration file; when given, other flags and environment variables are ignored."
    ),
    flag!(
        "cors",
        Target::Cors(|s| &mut s.cors),
        Top("cors"),
        Security,
        "*",
        "Comma-separated origins allowed for CORS requests (empty or * allows all)."
    ),
    flag!(
        "data-dir",
        Str(|s| &mut s.dir),
        Top("data-dir"),
        Member,
        "${name}.etcd",
        "The data directory."
    ),
    flag!(
        "election-timeout",
        Uint(|s| &mut s.election_ms, "uint"),
        Top("election-timeout"),
        Member,
        "1000",
        "Milliseconds a follower waits without hearing from a leader before starting an election."
    ),
    flag!(
        "enable-grpc-gateway",
        Bool(|s| &mut s.enable_grpc_gateway),
        Top("enable-grpc-gateway"),
        Monitoring,
        "true",
        "Serve the JSON gateway (/v3/...) on the client URLs."
    ),
    flag!(
        "enable-pprof",
        Bool(|s| &mut s.enable_pprof),
        Top("enable-pprof"),
        Monitoring,
        "false",
        "Serve runtime profiling data at the client URL + \"/debug/pprof/\"."
    ),
    flag!(
        "experimental-compaction-batch-limit",
        Int(|s| &mut s.experimental_compaction_batch_limit, "int"),
        Top("experimental-compaction-batch-limit"),
        Experimental,
        "1000",
        "The most revisions deleted in one compaction batch (0 means 1000)."
    ),
    flag!(
        "experimental-corrupt-check-time",
        Duration(|s| &mut s.experimental_corrupt_check_time),
        Top("experimental-corrupt-check-time"),
        Experimental,
        "0s",
        "Time between two cluster-wide corruption checks (0 disables them)."
    ),
    flag!(
        "experimental-enable-lease-checkpoint",
        Bool(|s| &mut s.experimental_enable_lease_checkpoint),
        Top("experimental-enable-lease-checkpoint"),
        Experimental,
        "false",
        "Persist leases' remaining TTL so a leader change does not renew them."
    ),
    flag!(
        "experimental-initial-corrupt-check",
        Bool(|s| &mut s.experimental_initial_corrupt_check),
        Top("experimental-initial-corrupt-check"),
        Experimental,
        "false",
        "Compare this member's data with its peers before serving any traffic."
    ),
    flag!(
        "experimental-lease-checkpoint-interval",
        Duration(|s| &mut s.experimental_lease_checkpoint_interval),
        Top("experimental-lease-checkpoint-interval"),
        Experimental,
        "5m",
        "How often the leader records the remaining TTL of long leases (etcd 3.6's flag)."
    ),
    flag!(
        "experimental-peer-skip-client-san-verification",
        Bool(|s| &mut peer_tls(s).skip_client_san_verification),
        YamlKey::None,
        Experimental,
        "false",
        "Do not check that a peer's client certificate names the address it connects from."
    ),
    flag!(
        "experimental-warning-apply-duration",
        Duration(|s| &mut s.experimental_warning_apply_duration),
        Top("experimental-warning-apply-duration"),
        Experimental,
        "100ms",
        "Log a warning for requests whose apply takes longer than this."
    ),
    flag!(
        "experimental-watch-progress-notify-interval",
        Duration(|s| &mut s.experimental_watch_progress_notify_interval),
        Top("experimental-watch-progress-notify-interval"),
        Experimental,
        "10m",
        "Time between progress notifications sent to watchers that asked for them."
    ),
    ignored!("force"),
    flag!(
        "force-new-cluster",
        Bool(|s| &mut s.force_new_cluster),
        Top("force-new-cluster"),
        Unsafe,
        "false",
        "Restart this member as a one-member cluster, discarding the others."
    ),
    flag!(
        "grpc-keepalive-interval",
        Duration(|s| &mut s.grpc_keepalive_interval),
        Top("grpc-keepalive-interval"),
        Member,
        "2h",
        "How often the server pings an idle client connection (0 disables)."
    ),
    flag!(
        "grpc-keepalive-min-time",
        Duration(|s| &mut s.grpc_keepalive_min_time),
        Top("grpc-keepalive-min-time"),
        Member,
        "5s",
        "The shortest interval a client may ping the server at."
    ),
    flag!(
        "grpc-keepalive-timeout",
        Duration(|s| &mut s.grpc_keepalive_timeout),
        Top("grpc-keepalive-timeout"),
        Member,
        "20s",
        "How long to wait for a ping reply before closing the connection (0 disables)."
    ),
    flag!(
        "heartbeat-interval",
        Uint(|s| &mut s.tick_ms, "uint"),
        Top("heartbeat-interval"),
        Member,
        "100",
        "Milliseconds between leader heartbeats."
    ),
    flag!(
        "host-whitelist",
        UniqueStrings(|s| &mut s.host_whitelist, false),
        Top("host-whitelist"),
        Security,
        "*",
        "Host names accepted in HTTP requests when the server is not using TLS (empty or * allows all)."
    ),
    flag!(
        "initial-advertise-peer-urls",
        Urls(|s| &mut s.initial_advertise_peer_urls),
        Top("initial-advertise-peer-urls"),
        Clustering,
        "http://localhost:2380",
        "This member's peer URLs, published to the rest of the cluster."
    ),
    flag!(
        "initial-cluster",
        Str(|s| &mut s.initial_cluster),
        Top("initial-cluster"),
        Clustering,
        "default=http://localhost:2380",
        "The cluster to bootstrap: name=peer-url pairs, comma-separated."
    ),
    flag!(
        "initial-cluster-state",
        Choice(|s| &mut s.initial_cluster_state, &["new", "existing"]),
        Top("initial-cluster-state"),
        Clustering,
        "new",
        "'new' to bootstrap a new cluster, 'existing' to join a running one."
    ),
    flag!(
        "initial-cluster-token",
        Str(|s| &mut s.initial_cluster_token),
        Top("initial-cluster-token"),
        Clustering,
        "etcd-cluster",
        "A token unique to this cluster; it keeps member and cluster IDs distinct between clusters bootstrapped with the same URLs."
    ),
    flag!(
        "initial-election-tick-advance",
        Bool(|s| &mut s.initial_election_tick_advance),
        Top("initial-election-tick-advance"),
        Member,
        "true",
        "Fast-forward election ticks at boot so a leader is elected sooner."
    ),
    flag!(
        "key-file",
        Str(|s| &mut client_tls(s).key_file),
        Nested(CLIENT_SEC, "key-file"),
        Security,
        "",
        "The key for --cert-file."
    ),
    flag!(
        "listen-client-urls",
        Urls(|s| &mut s.listen_client_urls),
        Top("listen-client-urls"),
        Member,
        "http://localhost:2379",
        "URLs to accept client traffic on."
    ),
    flag!(
        "listen-metrics-urls",
        Urls(|s| &mut s.listen_metrics_urls),
        Top("listen-metrics-urls"),
        Monitoring,
        "",
        "Extra URLs serving only /metrics and /health."
    ),
    flag!(
        "listen-peer-urls",
        Urls(|s| &mut s.listen_peer_urls),
        Top("listen-peer-urls"),
        Member,
        "http://localhost:2380",
        "URLs to accept peer traffic on."
    ),
    flag!(
        "log-level",
        Str(|s| &mut s.log_level),
        Top("log-level"),
        Logging,
        "info",
        "The lowest level logged: debug, info, warn, error, panic or fatal."
    ),
    flag!(
        "log-outputs",
        UniqueStrings(|s| &mut s.log_outputs, true),
        Top("log-outputs"),
        Logging,
        "default",
        "Where logs go: 'stderr', 'stdout', file paths, or 'default' (stderr); comma-separated."
    ),
    flag!(
        "logger",
        Str(|s| &mut s.logger),
        Top("logger"),
        Logging,
        "zap",
        "The logger; only 'zap' (structured JSON lines) is supported."
    ),
    flag!(
        "max-concurrent-streams",
        Uint(|s| &mut s.max_concurrent_streams, "uint32"),
        Top("max-concurrent-streams"),
        Member,
        "4294967295",
        "How many gRPC streams one client connection may have open at once."
    ),
    flag!(
        "max-request-bytes",
        Uint(|s| &mut s.max_request_bytes, "uint"),
        Top("max-request-bytes"),
        Member,
        "1572864",
        "The largest client request, in bytes, the server accepts."
    ),
    ignored!("max-result-buffer"),
    ignored!("max-retry-attempts"),
    flag!(
        "max-snapshots",
        Uint(|s| &mut s.max_snap_files, "uint"),
        Top("max-snapshots"),
        Member,
        "5",
        "How many snapshot files to keep (0 keeps all)."
    ),
    flag!(
        "max-txn-ops",
        Uint(|s| &mut s.max_txn_ops, "uint"),
        Top("max-txn-ops"),
        Member,
        "128",
        "The most operations one transaction may contain."
    ),
    flag!(
        "max-wals",
        Uint(|s| &mut s.max_wal_files, "uint"),
        Top("max-wals"),
        Member,
        "5",
        "How many WAL files to keep (0 keeps all)."
    ),
    flag!(
        "metrics",
        Str(|s| &mut s.metrics),
        Top("metrics"),
        Monitoring,
        "basic",
        "Metrics detail: 'basic', or 'extensive' to add per-RPC latency histograms."
    ),
    flag!(
        "name",
        Str(|s| &mut s.name),
        Top("name"),
        Member,
        "default",
        "This member's human-readable name."
    ),
    flag!(
        "peer-auto-tls",
        Bool(|s| &mut peer_tls(s).auto_tls),
        Nested(PEER_SEC, "auto-tls"),
        Security,
        "false",
        "Use a generated self-signed certificate for peer traffic when no peer certificate is given."
    ),
    flag!(
        "peer-cert-allowed-cn",
        Str(|s| &mut peer_tls(s).allowed_cn),
        YamlKey::None,
        Security,
        "",
        "Only accept peer certificates with this common name."
    ),
    flag!(
        "peer-cert-allowed-hostname",
        Str(|s| &mut peer_tls(s).allowed_hostname),
        YamlKey::None,
        Security,
        "",
        "Only accept peer certificates valid for this host name."
    ),
    flag!(
        "peer-cert-file",
        Str(|s| &mut peer_tls(s).cert_file),
        Nested(PEER_SEC, "cert-file"),
        Security,
        "",
        "The TLS certificate for peer traffic."
    ),
    flag!(
        "peer-client-cert-auth",
        Bool(|s| &mut peer_tls(s).client_cert_auth),
        Nested(PEER_SEC, "client-cert-auth"),
        Security,
        "false",
        "Require peers to present a certificate signed by --peer-trusted-ca-file."
    ),
    flag!(
        "peer-client-cert-file",
        Str(|s| &mut peer_tls(s).client_cert_file),
        Nested(PEER_SEC, "client-cert-file"),
        Security,
        "",
        "The certificate presented when dialing peers (defaults to --peer-cert-file)."
    ),
    flag!(
        "peer-client-key-file",
        Str(|s| &mut peer_tls(s).client_key_file),
        Nested(PEER_SEC, "client-key-file"),
        Security,
        "",
        "The key for --peer-client-cert-file (defaults to --peer-key-file)."
    ),
    flag!(
        "peer-crl-file",
        Str(|s| &mut peer_tls(s).crl_file),
        YamlKey::None,
        Security,
        "",
        "A certificate revocation list checked against peer certificates."
    ),
    ignored!("peer-election-timeout"),
    ignored!("peer-heartbeat-interval"),
    flag!(
        "peer-key-file",
        Str(|s| &mut peer_tls(s).key_file),
        Nested(PEER_SEC, "key-file"),
        Security,
        "",
        "The key for --peer-cert-file."
    ),
    flag!(
        "peer-trusted-ca-file",
        Str(|s| &mut peer_tls(s).trusted_ca_file),
        Nested(PEER_SEC, "trusted-ca-file"),
        Security,
        "",
        "The CA bundle peer certificates must chain to."
    ),
    flag!(
        "pre-vote",
        Bool(|s| &mut s.pre_vote),
        Top("pre-vote"),
        Clustering,
        "true",
        "Run raft's pre-vote phase so a rejoining member cannot disrupt a healthy leader."
    ),
    flag!(
        "quota-backend-bytes",
        Int(|s| &mut s.quota_backend_bytes, "int64"),
        Top("quota-backend-bytes"),
        Member,
        "0",
        "Raise the NOSPACE alarm when the backend grows past this size (0 means 2 GiB, negative disables)."
    ),
    flag!(
        "raft-read-timeout",
        Duration(|s| &mut s.raft_read_timeout),
        YamlKey::None,
        Member,
        "5s",
        "Read timeout on peer connections (at least 5s)."
    ),
    flag!(
        "raft-write-timeout",
        Duration(|s| &mut s.raft_write_timeout),
        YamlKey::None,
        Member,
        "5s",
        "Write timeout on peer connections (at least 5s)."
    ),
    flag!(
        "range-buffer-bytes",
        Uint(|s| &mut s.range_buffer_bytes, "uint64"),
        Top("range-buffer-bytes"),
        Extensions,
        "4194304",
        "Range responses whose key-value pairs encode to more bytes than this are read from a snapshot and sent in pieces, so a member's memory does not grow with the response."
    ),
    ignored!("retry-interval"),
    flag!(
        "self-signed-cert-validity",
        Uint(|s| &mut s.self_signed_cert_validity, "uint"),
        Top("self-signed-cert-validity"),
        Security,
        "1",
        "Validity, in years, of certificates generated by --auto-tls and --peer-auto-tls."
    ),
    ignored!("snapshot"),
    flag!(
        "snapshot-count",
        Uint(|s| &mut s.snapshot_count, "uint64"),
        Top("snapshot-count"),
        Member,
        "100000",
        "Committed entries between two snapshots of the raft log."
    ),
    flag!(
        "socket-reuse-address",
        Bool(|s| &mut s.socket_reuse_address),
        YamlKey::None,
        Member,
        "false",
        "Set SO_REUSEADDR on listeners (bind to an address still in TIME_WAIT)."
    ),
    flag!(
        "socket-reuse-port",
        Bool(|s| &mut s.socket_reuse_port),
        YamlKey::None,
        Member,
        "false",
        "Set SO_REUSEPORT on listeners (bind a port another socket already uses)."
    ),
    flag!(
        "strict-reconfig-check",
        Bool(|s| &mut s.strict_reconfig_check),
        Top("strict-reconfig-check"),
        Clustering,
        "true",
        "Reject membership changes that would lose quorum."
    ),
    ignored!("test.coverprofile"),
    ignored!("test.outputdir"),
    flag!(
        "trusted-ca-file",
        Str(|s| &mut client_tls(s).trusted_ca_file),
        Nested(CLIENT_SEC, "trusted-ca-file"),
        Security,
        "",
        "The CA bundle client certificates must chain to."
    ),
    flag!(
        "unsafe-no-fsync",
        Bool(|s| &mut s.unsafe_no_fsync),
        Top("unsafe-no-fsync"),
        Unsafe,
        "false",
        "Never fsync: fast, and loses data on a crash."
    ),
    ignored!("v"),
    flag!(
        "version",
        Bool(|s| &mut s.print_version),
        YamlKey::None,
        Hidden,
        "false",
        "Print the version and exit."
    ),
    ignored!("vv"),
    flag!(
        "wal-dir",
        Str(|s| &mut s.wal_dir),
        Top("wal-dir"),
        Member,
        "",
        "A dedicated directory for the write-ahead log (default: <data-dir>/member/wal)."
    ),
];
