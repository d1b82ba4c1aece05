//! The flags oxcd accepts because they are etcd's, but cannot honour yet. Left at etcd's
//! default they change nothing and pass; set to anything else, the member refuses to start
//! and names the flag, since running without what the operator asked for (TLS above all)
//! would be worse than not running. The check reads the resolved configuration, so it is
//! the same whether a value came from the command line, an `ETCD_*` variable or the file.
//! (The flags accepted and ignored instead are listed in `flag_table.rs`.) TLS is served on
//! client and peer listeners alike; its files and their combinations are checked when the
//! listeners are set up, where etcd checks them.

use std::time::Duration;

use super::go_url::Url;
use super::server_config::ServerConfig;

const NO_UNIX_SOCKETS: &str =
    "oxcd listens only on TCP, refusing to start rather than listen elsewhere than asked";

/// etcd's defaults for the settings oxcd does not honour.
const DEFAULT_BACKEND_BATCH_INTERVAL: Duration = Duration::from_millis(100);
const DEFAULT_BACKEND_BATCH_LIMIT: u64 = 10_000;
const DEFAULT_COMPACTION_BATCH_LIMIT: u64 = 1000;
const DEFAULT_WARNING_APPLY_DURATION: Duration = Duration::from_millis(100);
const DEFAULT_GRPC_KEEPALIVE_MIN_TIME: Duration = Duration::from_secs(5);
const DEFAULT_GRPC_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(2 * 3600);
const DEFAULT_GRPC_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);
/// etcd raises shorter peer timeouts to this, so it is also the default.
const DEFAULT_RAFT_TIMEOUT: Duration = Duration::from_secs(5);

/// Returns the error for the first flag `cfg` sets to something oxcd cannot do: URLs first,
/// then the rest in flag order.
pub(crate) fn refuse_unsupported(cfg: &ServerConfig) -> Result<(), String> {
    check_urls(cfg)?;
    check_behaviour(cfg)
}

fn refuse_if(set: bool, flag: &str, reason: &str) -> Result<(), String> {
    if set {
        Err(format!("{flag} is not supported yet: {reason}"))
    } else {
        Ok(())
    }
}

fn check_urls(cfg: &ServerConfig) -> Result<(), String> {
    let listeners: [(&str, &[Url]); 3] = [
        ("--listen-client-urls", &cfg.listen_client_urls),
        ("--listen-peer-urls", &cfg.listen_peer_urls),
        ("--listen-metrics-urls", &cfg.listen_metrics_urls),
    ];
    for (flag, urls) in listeners {
        for url in urls {
            // Bound as TCP, a unix:// URL would listen on a port instead of a socket file.
            refuse_if(url.is_unix(), &format!("{flag}={url}"), NO_UNIX_SOCKETS)?;
        }
    }
    Ok(())
}

/// etcd's `*`-or-nothing lists (`--cors`, `--host-whitelist`) allow everything.
fn allows_all(list: &[String]) -> bool {
    list.iter().all(String::is_empty) || list.iter().any(|v| v == "*")
}

fn check_behaviour(cfg: &ServerConfig) -> Result<(), String> {
    refuse_if(
        cfg.backend_batch_interval != DEFAULT_BACKEND_BATCH_INTERVAL,
        &format!("--backend-batch-interval={:?}", cfg.backend_batch_interval),
        "oxcd's backend commit schedule cannot be tuned yet",
    )?;
    refuse_if(
        cfg.backend_batch_limit != DEFAULT_BACKEND_BATCH_LIMIT,
        &format!("--backend-batch-limit={}", cfg.backend_batch_limit),
        "oxcd's backend commit schedule cannot be tuned yet",
    )?;
    refuse_if(
        cfg.backend_freelist_type == "array",
        "--backend-bbolt-freelist-type=array",
        "oxcd's backend is not bbolt and has no freelist types",
    )?;
    refuse_if(
        !allows_all(&cfg.cors),
        &format!("--cors={}", cfg.cors.join(",")),
        "oxcd does not restrict CORS origins yet, refusing to start rather than allow every origin",
    )?;
    refuse_if(
        cfg.enable_pprof,
        "--enable-pprof",
        "oxcd has no Go runtime profiles to serve at /debug/pprof/",
    )?;
    let experimental = &cfg.experimental;
    refuse_if(
        experimental.compaction_batch_limit != DEFAULT_COMPACTION_BATCH_LIMIT,
        &format!(
            "--experimental-compaction-batch-limit={}",
            experimental.compaction_batch_limit
        ),
        "oxcd's compaction batch size cannot be tuned yet",
    )?;
    refuse_if(
        experimental.warning_apply_duration != DEFAULT_WARNING_APPLY_DURATION,
        &format!(
            "--experimental-warning-apply-duration={:?}",
            experimental.warning_apply_duration
        ),
        "oxcd does not warn about slow applies yet",
    )?;
    let keepalive = "oxcd's gRPC server does not send or police keepalive pings yet";
    refuse_if(
        cfg.grpc_keepalive_interval != DEFAULT_GRPC_KEEPALIVE_INTERVAL,
        &format!(
            "--grpc-keepalive-interval={:?}",
            cfg.grpc_keepalive_interval
        ),
        keepalive,
    )?;
    refuse_if(
        cfg.grpc_keepalive_min_time != DEFAULT_GRPC_KEEPALIVE_MIN_TIME,
        &format!(
            "--grpc-keepalive-min-time={:?}",
            cfg.grpc_keepalive_min_time
        ),
        keepalive,
    )?;
    refuse_if(
        cfg.grpc_keepalive_timeout != DEFAULT_GRPC_KEEPALIVE_TIMEOUT,
        &format!("--grpc-keepalive-timeout={:?}", cfg.grpc_keepalive_timeout),
        keepalive,
    )?;
    refuse_if(
        !allows_all(&cfg.host_whitelist),
        &format!("--host-whitelist={}", cfg.host_whitelist.join(",")),
        "oxcd does not check HTTP Host headers yet, refusing to start rather than accept every host",
    )?;
    let peer_timeouts = "oxcd's peer transport has fixed timeouts";
    refuse_if(
        cfg.raft_read_timeout != DEFAULT_RAFT_TIMEOUT,
        &format!("--raft-read-timeout={:?}", cfg.raft_read_timeout),
        peer_timeouts,
    )?;
    refuse_if(
        cfg.raft_write_timeout != DEFAULT_RAFT_TIMEOUT,
        &format!("--raft-write-timeout={:?}", cfg.raft_write_timeout),
        peer_timeouts,
    )?;
    refuse_if(
        cfg.socket_reuse_port,
        "--socket-reuse-port",
        "oxcd does not set SO_REUSEPORT on its listeners yet",
    )
}
