//! One benchmark from options to summary: validate the workload, dial the connections
//! (to the leader if asked), run it (a request workload, or a watch workload), summarize.

use anyhow::{Context, Result};

use crate::cli::{Cli, Command};
use crate::connections::{Connections, Dialer};
use crate::keys::{KeySpace, random_value};
use crate::leader::leader_endpoints;
use crate::lock::LockWorkload;
use crate::mixed::MixedWorkload;
use crate::put::{KeyOrder, PutWorkload};
use crate::range::{Consistency, RangeWorkload};
use crate::report::Summary;
use crate::runner::run;
use crate::txn_put::TxnPutWorkload;
use crate::watch::{self, WatchShape};
use crate::workload::Workload;

/// The workload `command` describes, with its options validated.
pub fn workload(command: &Command) -> Result<Workload> {
    Ok(match command {
        Command::Put(args) => {
            let keys = KeySpace::new(args.key_space_size, args.key_size)?;
            let order = if args.sequential_keys {
                KeyOrder::Sequential
            } else {
                KeyOrder::Random
            };
            Workload::Put(PutWorkload::new(keys, order, random_value(args.val_size)))
        }
        Command::Range(args) => {
            let consistency = Consistency::parse(&args.consistency).ok_or_else(|| {
                anyhow::anyhow!("expected --consistency l or s, got {:?}", args.consistency)
            })?;
            let (key, end) = if args.all_keys {
                (vec![0], vec![0])
            } else {
                (
                    args.key.clone().unwrap_or_default().into_bytes(),
                    args.end.clone().unwrap_or_default().into_bytes(),
                )
            };
            Workload::Range(RangeWorkload::new(key, end, consistency, args.limit))
        }
        Command::TxnPut(args) => {
            let keys = KeySpace::new(args.key_space_size, args.key_size)?;
            Workload::TxnPut(TxnPutWorkload::new(
                keys,
                args.txn_ops,
                random_value(args.val_size),
            )?)
        }
        Command::Mixed(args) => {
            let consistency = Consistency::parse(&args.consistency).ok_or_else(|| {
                anyhow::anyhow!("expected --consistency l or s, got {:?}", args.consistency)
            })?;
            Workload::Mixed(MixedWorkload::new(
                KeySpace::new(args.keys.key_space_size, args.keys.key_size)?,
                args.write_ratio,
                random_value(args.keys.val_size),
                consistency,
            )?)
        }
        Command::LeaseGrant(args) => Workload::LeaseGrant(args.ttl),
        Command::LeaseKeepalive(args) => Workload::LeaseKeepAlive(args.ttl),
        Command::Lock(args) => Workload::Lock(LockWorkload::new(args.names, args.ttl)?),
        Command::WatchFanout(_) | Command::WatchHold(_) | Command::DefragStall(_) => {
            anyhow::bail!("watch and defrag-stall benchmarks are not request workloads")
        }
    })
}

/// Runs the benchmark `cli` describes and summarizes it.
pub async fn run_benchmark(cli: &Cli) -> Result<Summary> {
    // Bad options fail before anything is dialled.
    let requests = match &cli.command {
        Command::WatchFanout(_) | Command::WatchHold(_) => None,
        Command::DefragStall(_) => anyhow::bail!("defrag-stall has its own report"),
        command => Some(workload(command)?),
    };
    let dialer = Dialer::from_cli(cli)?;
    let endpoints = if cli.target_leader {
        leader_endpoints(&cli.endpoints, &dialer).await?
    } else {
        cli.endpoints.clone()
    };
    let connections = Connections::dial_all(&endpoints, cli.conns as usize, &dialer).await?;
    let outcome = match &cli.command {
        Command::WatchFanout(args) => {
            let shape = WatchShape {
                watchers: args.watchers,
                streams: args.streams,
            };
            watch::fanout(
                &connections,
                shape,
                cli.clients as usize,
                cli.total,
                args.val_size,
            )
            .await?
        }
        Command::WatchHold(args) => {
            let shape = WatchShape {
                watchers: args.watchers,
                streams: args.streams,
            };
            let created_in = watch::hold(&connections, shape, args.hold).await?;
            eprintln!("created {} watchers in {created_in:?}", args.watchers);
            return Ok(Summary::new(&crate::runner::RunOutcome {
                elapsed: created_in,
                latencies: crate::latency::LatencyRecorder::new(),
            }));
        }
        _ => {
            let workload = requests.context("a request workload")?;
            run(workload, &connections, cli.clients as usize, cli.total).await?
        }
    };
    Ok(Summary::new(&outcome))
}
