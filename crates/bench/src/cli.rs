//! Command line of `oxbench`: the global options of etcd's benchmark tool and one
//! subcommand per workload, with the same names, spellings and defaults.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// A low-level benchmark tool for etcd v3 servers (oxcd and etcd alike).
///
/// It speaks the KV, Lease, Watch and Lock gRPC services directly over raw connections, without a
/// client library.
#[derive(Clone, Debug, Parser)]
#[command(name = "oxbench", version)]
pub struct Cli {
    /// gRPC endpoints, comma separated (host:port, http://host:port or https://host:port).
    #[arg(
        long,
        global = true,
        value_delimiter = ',',
        default_value = "127.0.0.1:2379"
    )]
    pub endpoints: Vec<String>,

    /// Total number of gRPC connections; the clients share them round-robin.
    #[arg(long, global = true, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub conns: u32,

    /// Total number of concurrent clients (requesters).
    #[arg(long, global = true, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub clients: u32,

    /// Total number of requests.
    #[arg(long, global = true, default_value_t = 10_000)]
    pub total: u64,

    /// Connect only to the leader member.
    #[arg(long, global = true)]
    pub target_leader: bool,

    /// Dial timeout for client connections (e.g. 5s, 500ms; 0 waits for the OS).
    #[arg(long, global = true, default_value = "0", value_parser = parse_duration)]
    pub dial_timeout: Duration,

    /// Identify HTTPS client using this SSL certificate file.
    #[arg(long, global = true)]
    pub cert: Option<PathBuf>,

    /// Identify HTTPS client using this SSL key file.
    // Its own id: `range` has a positional argument named `key`.
    #[arg(long = "key", id = "tls_key", value_name = "KEY_FILE", global = true)]
    pub key: Option<PathBuf>,

    /// Verify certificates of HTTPS-enabled servers using this CA bundle.
    #[arg(long, global = true)]
    pub cacert: Option<PathBuf>,

    /// Authenticate as username:password (every request carries the token).
    #[arg(long, global = true)]
    pub user: Option<String>,

    /// Print the summary as one JSON object instead of the text report.
    #[arg(long, global = true)]
    pub json: bool,

    /// The workload to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The workloads.
#[derive(Clone, Debug, Subcommand)]
pub enum Command {
    /// Benchmark put.
    Put(PutArgs),
    /// Benchmark range.
    Range(RangeArgs),
    /// Benchmark txn-put.
    TxnPut(TxnPutArgs),
    /// Benchmark lease grants (`--total` grants).
    LeaseGrant(LeaseArgs),
    /// Benchmark lease keep-alives: one lease and keep-alive stream per client.
    LeaseKeepalive(LeaseArgs),
    /// Benchmark watch fan-out: events delivered per second to many watchers of one key
    /// while `--total` puts of it are made, `--clients` at a time.
    WatchFanout(WatchArgs),
    /// Create watchers, print `ready` when all are confirmed, keep them for `--hold`.
    WatchHold(WatchHoldArgs),
    /// Benchmark lock acquire/release cycles (`--total` cycles): every client is one contender
    /// with its own lease; latency is the acquire's.
    Lock(LockArgs),
    /// Benchmark a mix of reads and writes of random keys of the key space.
    Mixed(MixedArgs),
    /// Measure how long puts stall while one member defragments: `--clients` put in a loop,
    /// `Maintenance.Defragment` is called on the leader (or a follower) in the middle.
    DefragStall(DefragStallArgs),
}

/// The keys and values of the workloads that pick loaded keys at random (`mixed`,
/// `defrag-stall`).
#[derive(Clone, Debug, Args)]
pub struct LoadedKeysArgs {
    /// Key size of the requests.
    #[arg(long, default_value_t = 8)]
    pub key_size: usize,
    /// Value size of the puts.
    #[arg(long, default_value_t = 8)]
    pub val_size: usize,
    /// Keys the requests pick from at random (the loaded key space).
    #[arg(long, default_value_t = 1)]
    pub key_space_size: u64,
}

/// Options of `defrag-stall`.
#[derive(Clone, Debug, Args)]
pub struct DefragStallArgs {
    /// The keys the puts write.
    #[command(flatten)]
    pub keys: LoadedKeysArgs,
    /// The member to defragment.
    #[arg(long, default_value = "leader", value_parser = ["leader", "follower"])]
    pub member: String,
    /// Steady load before the defragmentation, and again after it.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub settle: Duration,
    /// First delete half of the loaded keys and compact, so there is space to give back.
    #[arg(long)]
    pub thin: bool,
}

/// Options of `lock`.
#[derive(Clone, Debug, Args)]
pub struct LockArgs {
    /// Lock names the clients share round-robin (1: all contend for one lock).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub names: u64,
    /// TTL of each contender's lease, in seconds.
    #[arg(long, default_value_t = 60)]
    pub ttl: i64,
}

/// Options of `lease-grant` and `lease-keepalive`.
#[derive(Clone, Debug, Args)]
pub struct LeaseArgs {
    /// TTL of the leases, in seconds.
    #[arg(long, default_value_t = 60)]
    pub ttl: i64,
}

/// Options of `watch-fanout`.
#[derive(Clone, Debug, Args)]
pub struct WatchArgs {
    /// Watchers in all.
    #[arg(long, default_value_t = 1000)]
    pub watchers: usize,
    /// Watch streams they are spread over (each on one of the `--conns` connections).
    #[arg(long, default_value_t = 10)]
    pub streams: usize,
    /// Value size of the puts.
    #[arg(long, default_value_t = 64)]
    pub val_size: usize,
}

/// Options of `watch-hold`.
#[derive(Clone, Debug, Args)]
pub struct WatchHoldArgs {
    /// Watchers in all.
    #[arg(long, default_value_t = 100_000)]
    pub watchers: usize,
    /// Watch streams they are spread over.
    #[arg(long, default_value_t = 1000)]
    pub streams: usize,
    /// How long to keep them once created.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub hold: Duration,
}

/// Options of `put`.
#[derive(Clone, Debug, Args)]
pub struct PutArgs {
    /// Key size of put request.
    #[arg(long, default_value_t = 8)]
    pub key_size: usize,
    /// Value size of put request.
    #[arg(long, default_value_t = 8)]
    pub val_size: usize,
    /// Maximum possible keys.
    #[arg(long, default_value_t = 1)]
    pub key_space_size: u64,
    /// Use sequential keys.
    #[arg(long)]
    pub sequential_keys: bool,
}

/// Options of `range`.
#[derive(Clone, Debug, Args)]
pub struct RangeArgs {
    /// The key to read, or the start of the range.
    #[arg(required_unless_present = "all_keys")]
    pub key: Option<String>,
    /// The exclusive end of the range.
    pub end: Option<String>,
    /// Read every key (the range from "\0" to "\0") instead of KEY [END]: the whole-keyspace
    /// read whose memory cost the huge-range benchmark measures.
    #[arg(long, conflicts_with_all = ["key", "end"])]
    pub all_keys: bool,
    /// Linearizable(l) or Serializable(s).
    #[arg(long, default_value = "l", value_parser = ["l", "s"])]
    pub consistency: String,
    /// Maximum number of keys returned per request (0 is no limit).
    #[arg(long, default_value_t = 0)]
    pub limit: i64,
}

/// Options of `mixed`.
#[derive(Clone, Debug, Args)]
pub struct MixedArgs {
    /// The share of requests that are puts, from 0 to 1; the others are ranges of one key.
    #[arg(long)]
    pub write_ratio: f64,
    /// The keys the requests read and write.
    #[command(flatten)]
    pub keys: LoadedKeysArgs,
    /// Linearizable(l) or Serializable(s) reads.
    #[arg(long, default_value = "l", value_parser = ["l", "s"])]
    pub consistency: String,
}

/// Options of `txn-put`.
#[derive(Clone, Debug, Args)]
pub struct TxnPutArgs {
    /// Key size of txn put.
    #[arg(long, default_value_t = 8)]
    pub key_size: usize,
    /// Value size of txn put.
    #[arg(long, default_value_t = 8)]
    pub val_size: usize,
    /// Number of puts per txn.
    #[arg(long, default_value_t = 1)]
    pub txn_ops: u64,
    /// Maximum possible keys.
    #[arg(long, default_value_t = 1)]
    pub key_space_size: u64,
}

/// Parses a duration written as Go does for a single unit: `1.5s`, `500ms`, `2m`, `0`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("missing unit in duration {text:?}"))?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("invalid number in duration {text:?}"))?;
    let unit_secs = match unit {
        "ns" => 1e-9,
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("unknown unit {unit:?} in duration {text:?}")),
    };
    Duration::try_from_secs_f64(number * unit_secs).map_err(|err| format!("{text:?}: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("s").is_err());
    }

    #[test]
    fn global_options_are_accepted_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "oxbench",
            "put",
            "--total",
            "5",
            "--clients",
            "3",
            "--endpoints",
            "a:1,b:2",
        ])
        .unwrap();
        assert_eq!(cli.total, 5);
        assert_eq!(cli.clients, 3);
        assert_eq!(cli.endpoints, vec!["a:1", "b:2"]);
        assert!(matches!(cli.command, Command::Put(_)));
    }

    #[test]
    fn defaults_match_etcd_benchmark() {
        let cli = Cli::try_parse_from(["oxbench", "txn-put"]).unwrap();
        assert_eq!(cli.endpoints, vec!["127.0.0.1:2379"]);
        assert_eq!((cli.conns, cli.clients, cli.total), (1, 1, 10_000));
        let Command::TxnPut(args) = cli.command else {
            panic!("expected txn-put");
        };
        assert_eq!((args.key_size, args.val_size), (8, 8));
        assert_eq!((args.txn_ops, args.key_space_size), (1, 1));
    }

    #[test]
    fn bad_options_are_rejected() {
        assert!(Cli::try_parse_from(["oxbench", "put", "--clients", "0"]).is_err());
        assert!(Cli::try_parse_from(["oxbench", "range"]).is_err());
        assert!(Cli::try_parse_from(["oxbench", "range", "k", "--consistency", "x"]).is_err());
        assert!(Cli::try_parse_from(["oxbench", "range", "a", "b", "c"]).is_err());
    }
}
