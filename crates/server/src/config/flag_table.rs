//! The one table of etcd 3.5 server flags oxcd accepts. Each row names the flag, the
//! [`Settings`] field it writes with Go's value semantics, its YAML key and its help text, so
//! the command line, `ETCD_*` variables, the config file and `--help` can never disagree.
//!
//! Flags of etcd 3.5 features that are gone or out of scope (the v2 API and v2 proxy,
//! discovery services, log rotation, distributed tracing and most `--experimental-*`
//! switches) are absent, so they fail the way any unknown flag fails in etcd. Flags listed
//! here for features oxcd does not have yet (TLS, auto compaction, quotas, ...) parse like
//! etcd's, and the member then refuses to start when one is set to anything but etcd's
//! default (see `unsupported.rs`). `Target::Ignored` rows are the legacy flags etcd 3.5
//! itself accepts and ignores.

use super::go_values::{parse_bool, parse_duration, parse_int, parse_uint};
use super::settings::{Settings, TlsSettings, UrlFlag};

/// How a flag's text becomes a value: one variant per Go `flag.Value` type etcd uses.
#[derive(Clone, Copy)]
pub(crate) enum Target {
    /// `flag.StringVar`.
    Str(fn(&mut Settings) -> &mut String),
    /// `flag.BoolVar`: may be given without a value.
    Bool(fn(&mut Settings) -> &mut bool),
    /// `flag.UintVar` / `Uint64Var`; the string is the Go type name used in YAML errors.
    Uint(fn(&mut Settings) -> &mut u64, &'static str),
    /// `flag.IntVar` / `Int64Var`; the string is the Go type name used in YAML errors.
    Int(fn(&mut Settings) -> &mut i64, &'static str),
    /// `flag.DurationVar`, stored as nanoseconds.
    Duration(fn(&mut Settings) -> &mut i64),
    /// etcd's `UniqueURLs` (comma-separated URLs, sorted).
    Urls(fn(&mut Settings) -> &mut UrlFlag),
    /// etcd's `--cors` value: URLs, or `*`.
    Cors(fn(&mut Settings) -> &mut Vec<String>),
    /// etcd's `UniqueStringsValue` (comma-separated, deduplicated, sorted). In YAML the value
    /// is a list when the flag is `true`, otherwise one comma-separated string.
    UniqueStrings(fn(&mut Settings) -> &mut Vec<String>, bool),
    /// etcd's `StringsValue` (comma-separated, order kept); a list in YAML.
    Strings(fn(&mut Settings) -> &mut Vec<String>),
    /// etcd's `SelectiveStringValue`: one of a fixed set.
    Choice(fn(&mut Settings) -> &mut String, &'static [&'static str]),
    /// A flag from older etcd releases that is accepted and ignored, like a boolean.
    Ignored,
}

impl Target {
    /// Whether the flag may appear without a value (`--flag` means `--flag=true`).
    pub fn is_bool(self) -> bool {
        matches!(self, Target::Bool(_) | Target::Ignored)
    }

    /// Sets the flag from text, with Go's `flag.Value.Set` semantics. The error is the text
    /// Go's flag package appends after the flag name (`parse error`, `invalid value`, ...).
    pub fn set(self, settings: &mut Settings, value: &str) -> Result<(), String> {
        match self {
            Target::Str(field) => *field(settings) = value.to_string(),
            Target::Bool(field) => {
                *field(settings) = parse_bool(value).ok_or("parse error")?;
            }
            Target::Uint(field, _) => {
                *field(settings) = parse_uint(value, 64).map_err(|e| e.flag_text())?;
            }
            Target::Int(field, _) => {
                *field(settings) = parse_int(value, 64).map_err(|e| e.flag_text())?;
            }
            Target::Duration(field) => {
                *field(settings) = parse_duration(value).map_err(|_| "parse error")?;
            }
            Target::Urls(field) => field(settings).set(value)?,
            Target::Cors(field) => set_cors(field(settings), value)?,
            Target::UniqueStrings(field, _) => *field(settings) = unique_sorted(value),
            Target::Strings(field) => {
                *field(settings) = value.split(',').map(str::to_string).collect();
            }
            Target::Choice(field, choices) => {
                if !choices.contains(&value) {
                    return Err("invalid value".to_string());
                }
                *field(settings) = value.to_string();
            }
            Target::Ignored => {}
        }
        Ok(())
    }
}

/// Splits a comma-separated list into a sorted set, as etcd's `UniqueStringsValue` does.
pub(crate) fn unique_sorted(value: &str) -> Vec<String> {
    let mut items: Vec<String> = value.split(',').map(str::to_string).collect();
    items.sort();
    items.dedup();
    items
}

/// etcd's `--cors` value: `*` is added to the set, anything else must be a URL list that
/// replaces it.
pub(crate) fn set_cors(cors: &mut Vec<String>, value: &str) -> Result<(), String> {
    if cors.iter().any(|v| v == value) {
        return Ok(());
    }
    if value == "*" {
        cors.push(value.to_string());
        cors.sort();
        return Ok(());
    }
    let urls = super::go_url::parse_url_list(value)?;
    let mut values: Vec<String> = urls.iter().map(ToString::to_string).collect();
    values.sort();
    values.dedup();
    *cors = values;
    Ok(())
}

/// Where a flag lives in the YAML config file.
#[derive(Clone, Copy)]
pub(crate) enum YamlKey {
    /// Not settable from the file (etcd's config struct has no field for it).
    None,
    /// A top-level key.
    Top(&'static str),
    /// A key inside `client-transport-security` or `peer-transport-security`.
    Nested(&'static str, &'static str),
}

/// The `--help` sections, in the order etcd prints them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Section {
    Member,
    Clustering,
    Security,
    Auth,
    Monitoring,
    Logging,
    Experimental,
    Unsafe,
    /// Not listed in `--help` (`--version`, `--config-file` and ignored legacy flags, which
    /// the usage text covers or which do nothing).
    Hidden,
}

impl Section {
    /// Sections as printed by `--help`, with their headings.
    pub const LISTED: [(Section, &'static str); 8] = [
        (Section::Member, "Member"),
        (Section::Clustering, "Clustering"),
        (Section::Security, "Security"),
        (Section::Auth, "Auth"),
        (Section::Monitoring, "Profiling and Monitoring"),
        (Section::Logging, "Logging"),
        (Section::Experimental, "Experimental feature"),
        (Section::Unsafe, "Unsafe feature"),
    ];
}

/// One accepted flag.
pub(crate) struct FlagSpec {
    /// The flag name without dashes; also the `ETCD_*` variable after upper-casing.
    pub name: &'static str,
    /// How its value is parsed and stored.
    pub target: Target,
    /// Its YAML key.
    pub yaml: YamlKey,
    /// The help section it is listed under.
    pub section: Section,
    /// The default as shown by `--help`.
    pub default: &'static str,
    /// The help description.
    pub help: &'static str,
}

impl FlagSpec {
    /// The environment variable etcd reads for this flag (`ETCD_` + upper-case, `-` → `_`).
    pub fn env_var(&self) -> String {
        env_var_for(self.name)
    }
}

/// The environment variable name for a flag name, as etcd's `flags.FlagToEnv("ETCD", name)`.
pub(crate) fn env_var_for(name: &str) -> String {
    format!("ETCD_{}", name.replace('-', "_").to_ascii_uppercase())
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        for pair in FLAGS.windows(2) {
            assert!(
                pair[0].name < pair[1].name,
                "{} must sort before {}",
                pair[0].name,
                pair[1].name
            );
        }
    }

    #[test]
    fn listed_flags_have_help_and_hidden_ones_are_special() {
        for f in FLAGS {
            if f.section == Section::Hidden {
                assert!(
                    matches!(f.target, Target::Ignored)
                        || f.name == "version"
                        || f.name == "config-file",
                    "{} is hidden",
                    f.name
                );
            } else {
                assert!(!f.help.is_empty(), "{} needs help text", f.name);
            }
        }
    }

    #[test]
    fn required_etcd_flags_are_present() {
        for name in [
            "name",
            "data-dir",
            "wal-dir",
            "initial-advertise-peer-urls",
            "listen-peer-urls",
            "advertise-client-urls",
            "listen-client-urls",
            "initial-cluster",
            "initial-cluster-state",
            "initial-cluster-token",
            "heartbeat-interval",
            "election-timeout",
            "snapshot-count",
            "max-request-bytes",
            "max-txn-ops",
            "quota-backend-bytes",
            "log-level",
            "logger",
            "log-outputs",
            "config-file",
            "version",
            "listen-metrics-urls",
            "enable-pprof",
            "auto-compaction-mode",
            "auto-compaction-retention",
            "enable-grpc-gateway",
            "strict-reconfig-check",
            "force-new-cluster",
            "cert-file",
            "key-file",
            "trusted-ca-file",
            "client-cert-auth",
            "peer-cert-file",
            "peer-key-file",
            "peer-trusted-ca-file",
            "peer-client-cert-auth",
        ] {
            assert!(lookup(name).is_some(), "{name} missing");
        }
        assert!(lookup("enable-v2").is_none());
        assert!(lookup("experimental-enable-distributed-tracing").is_none());
    }

    #[test]
    fn env_names_follow_etcd() {
        assert_eq!(env_var_for("data-dir"), "ETCD_DATA_DIR");
        assert_eq!(env_var_for("test.coverprofile"), "ETCD_TEST.COVERPROFILE");
    }

    #[test]
    fn setters_follow_go_flag_values() {
        let mut s = Settings::flag_defaults();
        let set = |s: &mut Settings, name: &str, v: &str| {
            lookup(name).expect("known flag").target.set(s, v)
        };
        set(&mut s, "snapshot-count", "0x10").expect("hex");
        assert_eq!(s.snapshot_count, 16);
        assert_eq!(
            set(&mut s, "snapshot-count", "-1"),
            Err("parse error".to_string())
        );
        assert_eq!(
            set(&mut s, "snapshot-count", "99999999999999999999"),
            Err("value out of range".to_string())
        );
        assert_eq!(
            set(&mut s, "initial-cluster-state", "bogus"),
            Err("invalid value".to_string())
        );
        set(&mut s, "initial-cluster-state", "existing").expect("valid");
        assert_eq!(s.initial_cluster_state, "existing");
        set(&mut s, "log-outputs", "stdout,/tmp/a,stdout").expect("valid");
        assert_eq!(s.log_outputs, vec!["/tmp/a", "stdout"]);
        set(&mut s, "cipher-suites", "b,a").expect("valid");
        assert_eq!(s.cipher_suites, vec!["b", "a"]);
        set(&mut s, "grpc-keepalive-timeout", "1m").expect("valid");
        assert_eq!(s.grpc_keepalive_timeout, 60_000_000_000);
        assert_eq!(
            set(&mut s, "grpc-keepalive-timeout", "60"),
            Err("parse error".to_string())
        );
        set(&mut s, "cors", "http://b:1,http://a:1").expect("valid");
        assert_eq!(s.cors, vec!["http://a:1", "http://b:1"]);
        set(&mut s, "cors", "*").expect("valid");
        assert_eq!(s.cors, vec!["*", "http://a:1", "http://b:1"]);
        set(&mut s, "quota-backend-bytes", "-1").expect("valid");
        assert_eq!(s.quota_backend_bytes, -1);
        set(&mut s, "peer-client-cert-auth", "T").expect("valid");
        assert!(s.peer_tls.client_cert_auth);
        set(&mut s, "cluster-active-size", "anything").expect("ignored");
    }
}
