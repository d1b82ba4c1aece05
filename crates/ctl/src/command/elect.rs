//! `elect <election-name> [proposal]`: etcdctl's leader election on clientv3's recipe
//! (`oxcd_client::concurrency`): `--listen` prints each leader as it changes; with a proposal
//! it campaigns, prints its key once elected, and resigns on SIGINT/SIGTERM.

use super::signals::Interrupts;
use crate::cli::exit::{CtlError, EXIT_BAD_ARGS, Stop};
use crate::cli::global::{Context, call_error};
use crate::printer::Printer;
use oxcd_api::etcdserverpb::RangeRequest;
use oxcd_client::Client;
use oxcd_client::concurrency::{DEFAULT_SESSION_TTL, Election, Session};

/// `etcdctl elect`.
pub async fn run(ctx: &mut Context) -> Result<(), Stop> {
    if ctx.args.is_empty() || ctx.args.len() > 2 {
        return Err(CtlError::new(
            EXIT_BAD_ARGS,
            "elect takes one election name argument and an optional proposal argument",
        )
        .into());
    }
    let args = ctx.args.clone();
    let listen = ctx.flags.bool("listen");
    let (client, printer) = ctx.connect().await?;
    let name = &args[0];
    match args.get(1) {
        None if !listen => {
            Err(CtlError::new(EXIT_BAD_ARGS, "no proposal argument but -l not set").into())
        }
        None => observe(ctx, &client, &printer, name).await,
        Some(_) if listen => {
            Err(CtlError::new(EXIT_BAD_ARGS, "proposal given but -l is set").into())
        }
        Some(proposal) => campaign(ctx, &client, &printer, name, proposal).await,
    }
}

/// Prints the leader and every change of it until interrupted.
async fn observe(
    ctx: &mut Context,
    client: &Client,
    printer: &Printer,
    name: &str,
) -> Result<(), Stop> {
    // etcdctl opens a session (a lease) even to observe.
    let session = Session::new(client, DEFAULT_SESSION_TTL)
        .await
        .map_err(|e| CtlError::error(e.to_string()))?;
    let mut interrupts = Interrupts::install()?;
    let election = Election::new(&session, name.as_bytes());
    let mut changes = election.observe();
    loop {
        tokio::select! {
            change = changes.next() => match change {
                Some(Ok(leader)) => {
                    printer.get(&mut ctx.out, &leader)?;
                    ctx.out.flush();
                }
                Some(Err(_)) | None => {
                    session.orphan();
                    return Err(CtlError::error("elect: observer lost").into());
                }
            },
            _ = interrupts.next() => {
                session.orphan();
                return Ok(());
            }
        }
    }
}

/// Campaigns with `proposal`, prints the key once elected, and resigns when interrupted.
async fn campaign(
    ctx: &mut Context,
    client: &Client,
    printer: &Printer,
    name: &str,
    proposal: &str,
) -> Result<(), Stop> {
    let session = Session::new(client, DEFAULT_SESSION_TTL)
        .await
        .map_err(|e| CtlError::error(e.to_string()))?;
    let mut interrupts = Interrupts::install()?;
    let mut election = Election::new(&session, name.as_bytes());
    let elected = tokio::select! {
        elected = election.campaign(proposal) => elected.map_err(|e| CtlError::error(e.to_string())),
        _ = interrupts.next() => Err(CtlError::error("context canceled")),
    };
    if let Err(error) = elected {
        // A cancelled campaign resigns, as clientv3's does.
        let _ = election.resign().await;
        session.orphan();
        return Err(error.into());
    }
    let mine = client
        .kv()
        .range(RangeRequest {
            key: election.key().to_vec(),
            ..Default::default()
        })
        .await
        .map_err(call_error)?
        .into_inner();
    printer.get(&mut ctx.out, &mine)?;
    ctx.out.flush();
    tokio::select! {
        _ = interrupts.next() => {
            let resigned = election.resign().await;
            session.orphan();
            resigned.map_err(|e| CtlError::error(e.to_string()).into())
        }
        _ = session.done() => {
            session.orphan();
            Err(CtlError::error("elect: session expired").into())
        }
    }
}
