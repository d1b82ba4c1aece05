//! `endpoint health|status|hashkv [--cluster]`: each endpoint is asked on its own.

use crate::cli::exit::{CtlError, Stop};
use crate::cli::global::{ClientConfig, Context, connect, with_timeout};
use crate::printer::{EpHashKv, EpHealth, EpStatus};
use oxcd_api::EtcdError;
use oxcd_api::etcdserverpb::{
    AlarmRequest, AlarmType, HashKvRequest, MemberListRequest, RangeRequest, StatusRequest,
    alarm_request::AlarmAction,
};
use oxcd_client::ClientError;
use oxcd_etcd_compat::gotext::duration as go_duration;
use std::time::Instant;

/// The endpoints to check: `--endpoints` as given, or with `--cluster` every client URL in
/// the member list (etcdctl's `endpointsFromCluster`).
pub async fn endpoints_from_cluster(
    ctx: &mut Context,
    config: &ClientConfig,
) -> Result<Vec<String>, Stop> {
    if !ctx.flags.bool("cluster") {
        return Ok(ctx.raw_endpoints());
    }
    // The member list needs no authentication, so none is asked for.
    let mut options = config.options.clone();
    options.credentials = None;
    let client = connect(&config.endpoints, &options)
        .await
        .map_err(|e| CtlError::error(e.message))?;
    let timeout = ctx.command_timeout();
    let members = client
        .cluster()
        .member_list(with_timeout(
            MemberListRequest { linearizable: true },
            timeout,
        ))
        .await
        .map_err(|status| {
            CtlError::error(format!(
                "failed to fetch endpoints from etcd cluster member list: {}",
                ClientError::from(status)
            ))
        })?
        .into_inner();
    Ok(members
        .members
        .into_iter()
        .flat_map(|m| m.client_ur_ls)
        .collect())
}

/// `etcdctl endpoint health`.
pub async fn health(ctx: &mut Context) -> Result<(), Stop> {
    crate::log::client_warnings::use_production_style();
    let (config, printer) = ctx.client_config(false)?;
    let endpoints = endpoints_from_cluster(ctx, &config).await?;
    let timeout = ctx.command_timeout();
    // Endpoints are checked concurrently, as etcdctl does; results keep the given order.
    let tasks: Vec<_> = endpoints
        .into_iter()
        .map(|endpoint| {
            let options = config.options.clone();
            tokio::spawn(check_health(endpoint, options, timeout))
        })
        .collect();
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        let health = task
            .await
            .map_err(|e| CtlError::error(format!("health check failed: {e}")))?;
        results.push(health);
    }
    printer.endpoint_health(&mut ctx.out, &results)?;
    if results.iter().any(|h| !h.error.is_empty()) {
        return Err(CtlError::error("unhealthy cluster").into());
    }
    Ok(())
}

async fn check_health(
    endpoint: String,
    options: oxcd_client::ConnectOptions,
    timeout: std::time::Duration,
) -> EpHealth {
    let client = match connect(std::slice::from_ref(&endpoint), &options).await {
        Ok(client) => client,
        Err(e) => {
            return EpHealth {
                endpoint,
                health: false,
                took: String::new(),
                error: e.message,
            };
        }
    };
    let started = Instant::now();
    let deadline = started + timeout;
    let remaining = || deadline.saturating_duration_since(Instant::now());
    let result = client
        .kv()
        .range(with_timeout(
            RangeRequest {
                key: b"health".to_vec(),
                ..Default::default()
            },
            timeout,
        ))
        .await;
    let mut health = EpHealth {
        endpoint,
        health: false,
        took: go_duration::format(started.elapsed()),
        error: String::new(),
    };
    match result {
        Ok(_) => health.health = true,
        Err(status) => {
            let error = ClientError::from(status);
            // Permission denied still proves the request went through consensus.
            if error.etcd_error() == Some(EtcdError::PermissionDenied) {
                health.health = true;
            } else {
                health.error = error.to_string();
            }
        }
    }
    if health.health {
        let alarms = client
            .maintenance()
            .alarm(with_timeout(
                AlarmRequest {
                    action: AlarmAction::Get as i32,
                    member_id: 0,
                    alarm: AlarmType::None as i32,
                },
                remaining(),
            ))
            .await;
        match alarms {
            Ok(response) => {
                let alarms = response.into_inner().alarms;
                if !alarms.is_empty() {
                    health.health = false;
                    let mut text = String::from("Active Alarm(s): ");
                    for alarm in alarms {
                        text.push_str(match AlarmType::try_from(alarm.alarm) {
                            Ok(AlarmType::Nospace) => "NOSPACE ",
                            Ok(AlarmType::Corrupt) => "CORRUPT ",
                            _ => "UNKNOWN ",
                        });
                    }
                    health.error = text;
                }
            }
            Err(_) => {
                health.health = false;
                health.error = "Unable to fetch the alarm list".to_string();
            }
        }
    }
    health
}

/// `etcdctl endpoint status`.
pub async fn status(ctx: &mut Context) -> Result<(), Stop> {
    let (client, printer, config) = ctx.connect_with_config().await?;
    let endpoints = endpoints_from_cluster(ctx, &config).await?;
    let mut list = Vec::new();
    let mut failed = false;
    for endpoint in endpoints {
        let timeout = ctx.command_timeout();
        let result = match client.for_endpoint(&endpoint).await {
            Ok(one) => one
                .maintenance()
                .status(with_timeout(StatusRequest {}, timeout))
                .await
                .map(|r| r.into_inner())
                .map_err(ClientError::from),
            Err(e) => Err(e),
        };
        match result {
            Ok(status) => list.push(EpStatus { endpoint, status }),
            Err(error) => {
                failed = true;
                ctx.out.err_line(&format!(
                    "Failed to get the status of endpoint {endpoint} ({error})"
                ));
            }
        }
    }
    printer.endpoint_status(&mut ctx.out, &list)?;
    if failed {
        return Err(Stop::Exit(1));
    }
    Ok(())
}

/// `etcdctl endpoint hashkv [--rev]`.
pub async fn hashkv(ctx: &mut Context) -> Result<(), Stop> {
    let (client, printer, config) = ctx.connect_with_config().await?;
    let endpoints = endpoints_from_cluster(ctx, &config).await?;
    let revision = ctx.flags.int("rev");
    let mut list = Vec::new();
    let mut last_error = None;
    for endpoint in endpoints {
        let timeout = ctx.command_timeout();
        let result = match client.for_endpoint(&endpoint).await {
            Ok(one) => one
                .maintenance()
                .hash_kv(with_timeout(HashKvRequest { revision }, timeout))
                .await
                .map(|r| r.into_inner())
                .map_err(ClientError::from),
            Err(e) => Err(e),
        };
        match result {
            Ok(hash) => list.push(EpHashKv { endpoint, hash }),
            Err(error) => {
                ctx.out.err_line(&format!(
                    "Failed to get the hash of endpoint {endpoint} ({error})"
                ));
                last_error = Some(error.to_string());
            }
        }
    }
    printer.endpoint_hashkv(&mut ctx.out, &list)?;
    if let Some(error) = last_error {
        return Err(CtlError::error(error).into());
    }
    Ok(())
}
