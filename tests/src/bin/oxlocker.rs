//! `oxlocker`: one lock holder or election campaigner as its own process, so that tests can
//! kill, pause or cut it off (`oxcd_tests::locks::holders` starts and reads it).
//!
//! ```text
//! oxlocker --id N --endpoints URL[,URL...] --name NAME [--ttl 2] [--rounds 4]
//!          [--interval-ms 200] [--elect] [--unguarded]
//! ```
//!
//! Lock mode, forever: a new session with lease TTL `--ttl`, lock the mutex `NAME`, then
//! `--rounds` guarded writes (each one transaction, applied only while the lock key still
//! exists: a unique history key and the shared resource key, both holding
//! `<id> <token> <seq>`), then unlock. A refused write ends the tenure without unlocking. With
//! `--elect`: campaign for `NAME`, proclaim `--rounds` times while leading, resign. Every step
//! is printed on stdout as an `oxcd_tests::locks::event::Event` line; a failed call is printed
//! and the loop starts over with a new session. `--unguarded` makes the same writes without
//! the compare on the lock key — the mistake the checker must catch once a holder is paused.

use std::time::Duration;

use anyhow::{Result, bail};
use oxcd_client::api::etcdserverpb::{PutRequest, RequestOp, TxnRequest, request_op};
use oxcd_client::concurrency::{ConcurrencyError, Election, GuardedTxn, Mutex, Session};
use oxcd_client::{Client, ConnectOptions};
use oxcd_tests::cli_flags::flags;
use oxcd_tests::locks::event::{Event, WriteRecord, history_key, resource_key};

/// Pause before starting over after a failed call, so a holder cut off does not spin.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

struct Options {
    id: u64,
    endpoints: Vec<String>,
    name: String,
    ttl: i64,
    rounds: u64,
    interval: Duration,
    elect: bool,
    unguarded: bool,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut options = Options {
        id: 0,
        endpoints: Vec::new(),
        name: String::new(),
        ttl: 2,
        rounds: 4,
        interval: Duration::from_millis(200),
        elect: false,
        unguarded: false,
    };
    for flag in flags(args, &["--elect", "--unguarded"]) {
        let flag = flag?;
        match flag.name {
            "--elect" => options.elect = true,
            "--unguarded" => options.unguarded = true,
            "--id" => options.id = flag.number()?,
            "--endpoints" => options.endpoints = flag.value.split(',').map(str::to_owned).collect(),
            "--name" => options.name = flag.value.to_string(),
            "--ttl" => options.ttl = flag.number()? as i64,
            "--rounds" => options.rounds = flag.number()?,
            "--interval-ms" => options.interval = Duration::from_millis(flag.number()?),
            name => bail!("unknown option {name}"),
        }
    }
    if options.endpoints.is_empty() || options.name.is_empty() {
        bail!("--endpoints and --name are required");
    }
    Ok(options)
}

fn report(event: Event) {
    println!("{event}");
}

fn put(key: String, value: &str) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestPut(PutRequest {
            key: key.into_bytes(),
            value: value.as_bytes().to_vec(),
            ..PutRequest::default()
        })),
    }
}

/// One tenure: lock, guarded writes, unlock (unless a write was refused).
async fn hold(client: &Client, options: &Options) -> Result<(), ConcurrencyError> {
    let session = Session::new(client, options.ttl).await?;
    let mut mutex = Mutex::new(&session, &options.name);
    mutex.lock().await?;
    let token = mutex.fencing_token();
    report(Event::Acquired { token });
    for seq in 0..options.rounds {
        tokio::time::sleep(options.interval).await;
        let record = WriteRecord {
            holder: options.id,
            token,
            seq,
        }
        .to_string();
        let ops = vec![
            put(history_key(&options.name, token, seq), &record),
            put(resource_key(&options.name), &record),
        ];
        let answer = if options.unguarded {
            unguarded_txn(client, ops).await?
        } else {
            mutex.guarded_txn(ops).await?
        };
        if !answer.held {
            report(Event::Refused { token, seq });
            return Ok(());
        }
        report(Event::Wrote {
            token,
            seq,
            revision: answer.header.revision,
        });
    }
    mutex.unlock().await?;
    report(Event::Released { token });
    session.close().await
}

/// The writes of a guarded transaction without its compare: they always apply.
async fn unguarded_txn(
    client: &Client,
    ops: Vec<RequestOp>,
) -> Result<GuardedTxn, ConcurrencyError> {
    let answer = client
        .kv()
        .txn(TxnRequest {
            compare: Vec::new(),
            success: ops,
            failure: Vec::new(),
        })
        .await?
        .into_inner();
    Ok(GuardedTxn {
        held: answer.succeeded,
        responses: answer.responses,
        header: answer.header.unwrap_or_default(),
    })
}

/// One leadership: campaign, proclamations, resignation (unless deposed).
async fn lead(client: &Client, options: &Options) -> Result<(), ConcurrencyError> {
    let session = Session::new(client, options.ttl).await?;
    let mut election = Election::new(&session, &options.name);
    election.campaign(options.id.to_string()).await?;
    let revision = election.revision();
    report(Event::Leading { revision });
    for round in 0..options.rounds {
        tokio::time::sleep(options.interval).await;
        match election.proclaim(format!("{} {round}", options.id)).await {
            Ok(()) => report(Event::Proclaimed { revision, round }),
            Err(ConcurrencyError::NotLeader) => {
                report(Event::Deposed { revision });
                return Ok(());
            }
            Err(error) => return Err(error),
        }
    }
    election.resign().await?;
    report(Event::Resigned { revision });
    session.close().await
}

async fn run(options: Options) -> Result<()> {
    // Calls fail within a TTL instead of hanging on a member that was cut off.
    let connect = ConnectOptions {
        request_timeout: Some(Duration::from_secs(options.ttl.max(1) as u64)),
        ..ConnectOptions::default()
    };
    let client = Client::connect(&options.endpoints, connect).await?;
    loop {
        let outcome = if options.elect {
            lead(&client, &options).await
        } else {
            hold(&client, &options).await
        };
        if let Err(error) = outcome {
            report(Event::Failed {
                what: error.to_string(),
            });
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse(&args) {
        Ok(options) => options,
        Err(error) => {
            eprintln!("oxlocker: {error:#}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(error) = runtime.block_on(run(options)) {
        eprintln!("oxlocker: {error:#}");
        std::process::exit(1);
    }
}
