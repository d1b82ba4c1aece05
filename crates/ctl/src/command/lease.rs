//! `lease grant|revoke|timetolive|list|keep-alive`.

use crate::cli::exit::{CtlError, EXIT_BAD_ARGS, EXIT_BAD_CONNECTION, Stop};
use crate::cli::global::{Context, with_timeout};
use crate::command::kv_ops::parse_hex_lease;
use crate::printer::Format;
use oxcd_api::EtcdError;
use oxcd_api::etcdserverpb::{
    LeaseGrantRequest, LeaseKeepAliveRequest, LeaseLeasesRequest, LeaseRevokeRequest,
    LeaseTimeToLiveRequest,
};
use oxcd_client::{Client, ClientError};
use std::time::{Duration, Instant};

/// A lease ID argument in hex (`leaseFromArgs`).
fn lease_from_arg(text: &str) -> Result<i64, CtlError> {
    parse_hex_lease(text).map_err(|e| {
        CtlError::new(
            EXIT_BAD_ARGS,
            format!("bad lease ID arg ({e}), expecting ID in Hex"),
        )
    })
}

/// `etcdctl lease grant <ttl>`.
pub async fn grant(ctx: &mut Context) -> Result<(), Stop> {
    if ctx.args.len() != 1 {
        return Err(CtlError::new(EXIT_BAD_ARGS, "lease grant command needs TTL argument").into());
    }
    let ttl = super::compaction::parse_decimal(&ctx.args[0])
        .map_err(|e| CtlError::new(EXIT_BAD_ARGS, format!("bad TTL ({e})")))?;
    let timeout = ctx.command_timeout();
    let (client, printer) = ctx.connect().await?;
    let response = client
        .lease()
        .lease_grant(with_timeout(LeaseGrantRequest { ttl, id: 0 }, timeout))
        .await
        .map_err(|s| CtlError::error(format!("failed to grant lease ({})", ClientError::from(s))))?
        .into_inner();
    printer.lease_grant(&mut ctx.out, &response)?;
    Ok(())
}

/// `etcdctl lease revoke <id>`.
pub async fn revoke(ctx: &mut Context) -> Result<(), Stop> {
    if ctx.args.len() != 1 {
        return Err(CtlError::new(EXIT_BAD_ARGS, "lease revoke command needs 1 argument").into());
    }
    let id = lease_from_arg(&ctx.args[0])?;
    let timeout = ctx.command_timeout();
    let (client, printer) = ctx.connect().await?;
    let response = client
        .lease()
        .lease_revoke(with_timeout(LeaseRevokeRequest { id }, timeout))
        .await
        .map_err(|s| CtlError::error(format!("failed to revoke lease ({})", ClientError::from(s))))?
        .into_inner();
    printer.lease_revoke(&mut ctx.out, id, &response)?;
    Ok(())
}

/// `etcdctl lease timetolive <id> [--keys]`.
pub async fn timetolive(ctx: &mut Context) -> Result<(), Stop> {
    if ctx.args.len() != 1 {
        return Err(CtlError::new(
            EXIT_BAD_ARGS,
            "lease timetolive command needs lease ID as argument",
        )
        .into());
    }
    let keys = ctx.flags.bool("keys");
    let id = lease_from_arg(&ctx.args[0])?;
    let (client, printer) = ctx.connect().await?;
    // etcdctl asks without a deadline.
    let response = client
        .lease()
        .lease_time_to_live(LeaseTimeToLiveRequest { id, keys })
        .await
        .map_err(|s| CtlError::new(EXIT_BAD_CONNECTION, ClientError::from(s).to_string()))?
        .into_inner();
    printer.lease_timetolive(&mut ctx.out, &response, keys)?;
    Ok(())
}

/// `etcdctl lease list`.
pub async fn list(ctx: &mut Context) -> Result<(), Stop> {
    let (client, printer) = ctx.connect().await?;
    let response = client
        .lease()
        .lease_leases(LeaseLeasesRequest {})
        .await
        .map_err(|s| CtlError::new(EXIT_BAD_CONNECTION, ClientError::from(s).to_string()))?
        .into_inner();
    printer.lease_list(&mut ctx.out, &response)?;
    Ok(())
}

/// `etcdctl lease keep-alive [--once] <id>`: renews until the lease is gone.
pub async fn keep_alive(ctx: &mut Context) -> Result<(), Stop> {
    if ctx.args.len() != 1 {
        return Err(CtlError::new(
            EXIT_BAD_ARGS,
            "lease keep-alive command needs lease ID as argument",
        )
        .into());
    }
    let id = lease_from_arg(&ctx.args[0])?;
    let once = ctx.flags.bool("once");
    let (client, printer) = ctx.connect().await?;
    let bad_connection = |e: String| Stop::from(CtlError::new(EXIT_BAD_CONNECTION, e));
    if once {
        let response = keep_alive_once(&client, id).await.map_err(bad_connection)?;
        printer.lease_keepalive(&mut ctx.out, &response)?;
        return Ok(());
    }
    // Like clientv3: renew every third of the TTL; a lease that stops answering is given up
    // once its last known TTL has run out.
    let mut expires = Instant::now() + Duration::from_secs(5);
    loop {
        match keep_alive_once(&client, id).await {
            Ok(response) => {
                printer.lease_keepalive(&mut ctx.out, &response)?;
                ctx.out.flush();
                let ttl = Duration::from_secs(response.ttl.max(0) as u64);
                expires = Instant::now() + ttl;
                tokio::time::sleep((ttl / 3).max(Duration::from_millis(500))).await;
            }
            Err(_) if Instant::now() < expires => {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(_) => break,
        }
    }
    if printer.format == Format::Simple {
        ctx.out
            .line(&format!("lease {id:016x} expired or revoked."));
    }
    Ok(())
}

/// Sends one keepalive on a fresh stream; a lease the server no longer has is an error.
async fn keep_alive_once(
    client: &Client,
    id: i64,
) -> Result<oxcd_api::etcdserverpb::LeaseKeepAliveResponse, String> {
    let requests = tokio_stream_once(LeaseKeepAliveRequest { id });
    let mut responses = client
        .lease()
        .lease_keep_alive(requests)
        .await
        .map_err(|s| ClientError::from(s).to_string())?
        .into_inner();
    let response = responses
        .message()
        .await
        .map_err(|s| ClientError::from(s).to_string())?
        .ok_or_else(|| EtcdError::LeaseNotFound.message().to_string())?;
    if response.ttl <= 0 {
        return Err(EtcdError::LeaseNotFound.message().to_string());
    }
    Ok(response)
}

/// A request stream of one message that stays open until the answer is read (closing it
/// early would end the call before the server replies).
fn tokio_stream_once(
    request: LeaseKeepAliveRequest,
) -> impl tonic::codegen::tokio_stream::Stream<Item = LeaseKeepAliveRequest> + Send + 'static {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    // The receiver is alive here, so the send cannot fail.
    let _ = tx.try_send(request);
    ReceiverStream { rx, _keep_open: tx }
}

/// Adapts an mpsc receiver to a stream, holding its sender so the stream does not end.
struct ReceiverStream<T> {
    rx: tokio::sync::mpsc::Receiver<T>,
    _keep_open: tokio::sync::mpsc::Sender<T>,
}

impl<T> tonic::codegen::tokio_stream::Stream for ReceiverStream<T> {
    type Item = T;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<T>> {
        self.rx.poll_recv(cx)
    }
}
