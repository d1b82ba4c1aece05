//! `alarm list|disarm`, `defrag` and `move-leader`.

use super::endpoint::endpoints_from_cluster;
use crate::cli::exit::{CtlError, EXIT_BAD_ARGS, Stop};
use crate::cli::global::{Context, call_error, with_timeout};
use oxcd_api::etcdserverpb::alarm_request::AlarmAction;
use oxcd_api::etcdserverpb::{
    AlarmRequest, AlarmResponse, AlarmType, DefragmentRequest, MoveLeaderRequest, StatusRequest,
};
use oxcd_client::{Client, ClientError};
use oxcd_etcd_compat::gotext::quote::quote;
use std::time::Duration;

/// `etcdctl alarm list`.
pub async fn alarm_list(ctx: &mut Context) -> Result<(), Stop> {
    if !ctx.args.is_empty() {
        return Err(CtlError::new(EXIT_BAD_ARGS, "alarm list command accepts no arguments").into());
    }
    let timeout = ctx.command_timeout();
    let (client, printer) = ctx.connect().await?;
    let response = list_alarms(&client, timeout).await.map_err(call_error)?;
    printer.alarm(&mut ctx.out, &response)?;
    Ok(())
}

async fn list_alarms(client: &Client, timeout: Duration) -> Result<AlarmResponse, tonic::Status> {
    let request = AlarmRequest {
        action: AlarmAction::Get as i32,
        member_id: 0,
        alarm: AlarmType::None as i32,
    };
    Ok(client
        .maintenance()
        .alarm(with_timeout(request, timeout))
        .await?
        .into_inner())
}

/// `etcdctl alarm disarm`: deactivates every raised alarm, one by one as clientv3 does.
pub async fn alarm_disarm(ctx: &mut Context) -> Result<(), Stop> {
    if !ctx.args.is_empty() {
        return Err(
            CtlError::new(EXIT_BAD_ARGS, "alarm disarm command accepts no arguments").into(),
        );
    }
    let timeout = ctx.command_timeout();
    let (client, printer) = ctx.connect().await?;
    let raised = list_alarms(&client, timeout).await.map_err(call_error)?;
    let mut combined = AlarmResponse::default();
    for alarm in raised.alarms {
        let request = AlarmRequest {
            action: AlarmAction::Deactivate as i32,
            member_id: alarm.member_id,
            alarm: alarm.alarm,
        };
        let response = client
            .maintenance()
            .alarm(with_timeout(request, timeout))
            .await
            .map_err(call_error)?
            .into_inner();
        combined.alarms.extend(response.alarms);
    }
    printer.alarm(&mut ctx.out, &combined)?;
    Ok(())
}

/// `etcdctl defrag [--cluster]`.
pub async fn defrag(ctx: &mut Context) -> Result<(), Stop> {
    if !ctx.flags.string("data-dir").is_empty() {
        ctx.out.err_line(
            "Use `etcdutl defrag` instead. The --data-dir is going to be decomissioned in v3.6.\n",
        );
        return Err(CtlError::error(
            "oxctl cannot defragment a data directory; use `oxutl defrag --data-dir`",
        )
        .into());
    }
    let (client, _, config) = ctx.connect_with_config().await?;
    let endpoints = endpoints_from_cluster(ctx, &config).await?;
    let mut failures = 0;
    for endpoint in endpoints {
        let timeout = ctx.command_timeout();
        let result = match client.for_endpoint(&endpoint).await {
            Ok(one) => one
                .maintenance()
                .defragment(with_timeout(DefragmentRequest {}, timeout))
                .await
                .map(|_| ())
                .map_err(ClientError::from),
            Err(e) => Err(e),
        };
        match result {
            // Each member's result shows as soon as it is known, as etcdctl prints it, also
            // ahead of the client's warnings about the next member.
            Ok(()) => {
                ctx.out
                    .line(&format!("Finished defragmenting etcd member[{endpoint}]"));
                ctx.out.flush();
            }
            Err(error) => {
                failures += 1;
                ctx.out.err_line(&format!(
                    "Failed to defragment etcd member[{endpoint}] ({error})"
                ));
            }
        }
    }
    if failures > 0 {
        return Err(Stop::Exit(1));
    }
    Ok(())
}

/// `etcdctl move-leader <member-id>`: finds the leader among the endpoints and asks it to
/// hand over.
pub async fn move_leader(ctx: &mut Context) -> Result<(), Stop> {
    if ctx.args.len() != 1 {
        return Err(CtlError::new(EXIT_BAD_ARGS, "move-leader command needs 1 argument").into());
    }
    let text = ctx.args[0].clone();
    let target = parse_hex_u64(&text).map_err(|e| CtlError::new(EXIT_BAD_ARGS, e))?;
    let (client, printer, config) = ctx.connect_with_config().await?;
    let timeout = ctx.command_timeout();
    let mut leader = None;
    for endpoint in &config.endpoints {
        let one = client
            .for_endpoint(endpoint)
            .await
            .map_err(|e| CtlError::error(e.to_string()))?;
        let status = one
            .maintenance()
            .status(with_timeout(StatusRequest {}, timeout))
            .await
            .map_err(call_error)?
            .into_inner();
        if status.header.map(|h| h.member_id) == Some(status.leader) {
            leader = Some((one, status.leader));
            break;
        }
    }
    let Some((leader_client, leader_id)) = leader else {
        return Err(CtlError::new(
            EXIT_BAD_ARGS,
            format!(
                "no leader endpoint given at [{}]",
                config.endpoints.join(" ")
            ),
        )
        .into());
    };
    let response = leader_client
        .maintenance()
        .move_leader(with_timeout(
            MoveLeaderRequest { target_id: target },
            timeout,
        ))
        .await
        .map_err(call_error)?
        .into_inner();
    printer.move_leader(&mut ctx.out, leader_id, target, &response)?;
    Ok(())
}

/// Go's `strconv.ParseUint(text, 16, 64)`, with its error text.
fn parse_hex_u64(text: &str) -> Result<u64, String> {
    if text.is_empty() || !text.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!(
            "strconv.ParseUint: parsing {}: invalid syntax",
            quote(text.as_bytes())
        ));
    }
    u64::from_str_radix(text, 16).map_err(|_| {
        format!(
            "strconv.ParseUint: parsing {}: value out of range",
            quote(text.as_bytes())
        )
    })
}
