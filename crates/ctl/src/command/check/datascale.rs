//! `etcdctl check datascale`: as many clients as the load names put the load's number of
//! 1 KiB key-values (512-byte random keys, 512-byte values) as fast as they can, and the
//! growth of the first endpoint's `process_resident_memory_bytes` is reported; the keys are
//! deleted afterwards.

use super::memory_metric::resident_memory_bytes;
use super::progress_bar::ProgressBar;
use super::workload::{
    clients, compact, defrag_all, delete_prefix, model, put_all, random_key, require_empty_prefix,
};
use crate::cli::exit::{CtlError, EXIT_ERROR, Stop};
use crate::cli::global::Context;
use oxcd_api::etcdserverpb::PutRequest;
use tokio::sync::mpsc;

/// Key-values, bytes per key-value, and clients of one load.
struct Load {
    limit: u64,
    kv_size: usize,
    clients: usize,
}

fn load(model: &str) -> Load {
    let (limit, clients) = match model {
        "s" => (10_000, 50),
        "m" => (100_000, 200),
        "l" => (1_000_000, 500),
        // xl aims at etcd's upper bound: three versions of a million keys.
        _ => (3_000_000, 1000),
    };
    Load {
        limit,
        kv_size: 1024,
        clients,
    }
}

const KEY_SIZE: usize = 512;
const VALUE_SIZE: usize = 512;

/// `etcdctl check datascale`.
pub async fn run(ctx: &mut Context) -> Result<(), Stop> {
    let load = load(model(&ctx.flags.string("load"))?);
    let prefix = ctx.flags.string("prefix");
    let (config, _) = ctx.client_config(true)?;
    let clients = clients(&config, load.clients).await?;
    let endpoints = ctx.raw_endpoints();
    let first = endpoints.first().cloned().unwrap_or_default();
    require_empty_prefix(
        &clients[0],
        &prefix,
        &format!("Delete with etcdctl del --prefix {prefix} first"),
    )
    .await?;

    let before = resident_memory_bytes(&first, &mut ctx.out).await;
    if before == 0.0 {
        ctx.out
            .line("FAIL: Could not read process_resident_memory_bytes before the put operations.");
        return Err(Stop::Exit(EXIT_ERROR));
    }
    ctx.out.line(&format!(
        "Start data scale check for work load [{} key-value pairs, {} bytes per key-value, {} concurrent clients].",
        load.limit, load.kv_size, load.clients
    ));
    ctx.out.flush();
    let bar = ProgressBar::start(load.limit as i64);
    let (tx, rx) = mpsc::channel(load.clients);
    let limit = load.limit;
    let generator_prefix = prefix.clone();
    let generator = tokio::spawn(async move {
        for _ in 0..limit {
            let put = PutRequest {
                key: random_key(&generator_prefix, KEY_SIZE),
                value: vec![0; VALUE_SIZE],
                ..Default::default()
            };
            if tx.send(put).await.is_err() {
                return;
            }
        }
    });
    let stats = put_all(&clients, rx, bar.counter()).await;
    let _ = generator.await;
    bar.finish().await;

    let after = resident_memory_bytes(&first, &mut ctx.out).await;
    if after == 0.0 {
        ctx.out
            .line("FAIL: Could not read process_resident_memory_bytes after the put operations.");
        return Err(Stop::Exit(EXIT_ERROR));
    }
    let deleted = delete_prefix(&clients[0], &prefix, None)
        .await
        .map_err(|e| CtlError::error(e.to_string()))?;
    if ctx.flags.bool("auto-compact") {
        let revision = deleted.header.map_or(0, |h| h.revision);
        compact(&clients[0], revision, &mut ctx.out).await?;
    }
    if ctx.flags.bool("auto-defrag") {
        defrag_all(&clients[0], &config.endpoints, &mut ctx.out).await?;
    }

    let used_mb = (after - before) / (1024.0 * 1024.0);
    if !stats.errors.is_empty() {
        ctx.out.line("FAIL: too many errors");
        for (message, count) in &stats.errors {
            ctx.out.line(&format!("FAIL: ERROR({message}) -> {count}"));
        }
        return Err(Stop::Exit(EXIT_ERROR));
    }
    ctx.out.line(&format!(
        "PASS: Approximate system memory used : {used_mb:.2} MB."
    ));
    Ok(())
}
