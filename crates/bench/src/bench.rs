//! One benchmark from options to summary: validate the workload, dial the connections
//! (to the leader if asked), run it, summarize.

use std::time::Duration;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::connections::Connections;
use crate::keys::{KeySpace, random_value};
use crate::leader::leader_endpoints;
use crate::put::{KeyOrder, PutWorkload};
use crate::range::{Consistency, RangeWorkload};
use crate::report::Summary;
use crate::runner::run;
use crate::txn_put::TxnPutWorkload;
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
            let end = args.end.clone().unwrap_or_default();
            Workload::Range(RangeWorkload::new(
                args.key.clone().into_bytes(),
                end.into_bytes(),
                consistency,
                args.limit,
            ))
        }
        Command::TxnPut(args) => {
            let keys = KeySpace::new(args.key_space_size, args.key_size)?;
            Workload::TxnPut(TxnPutWorkload::new(
                keys,
                args.txn_ops,
                random_value(args.val_size),
            )?)
        }
    })
}

/// Runs the benchmark `cli` describes and summarizes it.
pub async fn run_benchmark(cli: &Cli) -> Result<Summary> {
    let workload = workload(&cli.command)?;
    let dial_timeout = Some(cli.dial_timeout).filter(|timeout| *timeout > Duration::ZERO);
    let endpoints = if cli.target_leader {
        leader_endpoints(&cli.endpoints, dial_timeout).await?
    } else {
        cli.endpoints.clone()
    };
    let connections = Connections::dial_all(&endpoints, cli.conns as usize, dial_timeout).await?;
    let outcome = run(workload, &connections, cli.clients as usize, cli.total).await?;
    Ok(Summary::new(&outcome))
}
