//! `etcdctl check perf`: for 60 s, as many clients as the load names put 1 KiB values under
//! random 256-byte keys at the load's rate; the cluster passes when it keeps over 90 % of
//! that rate with no errors, no put slower than 500 ms and a standard deviation under 100 ms.

use super::progress_bar::ProgressBar;
use super::workload::{
    MAINTENANCE_TIMEOUT, clients, compact, defrag_all, delete_prefix, model, put_all, random_key,
    require_empty_prefix,
};
use crate::cli::exit::{EXIT_ERROR, Stop};
use crate::cli::global::Context;
use crate::out::Out;
use oxcd_api::etcdserverpb::PutRequest;
use oxcd_client::Client;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Puts per second, clients, and seconds of one load.
struct Load {
    rate: u32,
    clients: usize,
    seconds: u64,
}

fn load(model: &str) -> Load {
    let (rate, clients) = match model {
        "s" => (150, 50),
        "m" => (1000, 200),
        "l" => (8000, 500),
        _ => (15000, 1000),
    };
    Load {
        rate,
        clients,
        seconds: 60,
    }
}

const KEY_SIZE: usize = 256;
const VALUE_SIZE: usize = 1024;

/// `etcdctl check perf`.
pub async fn run(ctx: &mut Context) -> Result<(), Stop> {
    let load = load(model(&ctx.flags.string("load"))?);
    let prefix = ctx.flags.string("prefix");
    let (config, _) = ctx.client_config(true)?;
    let clients = clients(&config, load.clients).await?;
    let deadline = Instant::now() + Duration::from_secs(load.seconds);
    require_empty_prefix(
        &clients[0],
        &prefix,
        &format!("Delete with 'etcdctl del --prefix {prefix}' first"),
    )
    .await?;

    ctx.out.flush();
    let bar = ProgressBar::start(load.seconds as i64);
    let (tx, rx) = mpsc::channel(load.clients);
    let generator = tokio::spawn(generate(prefix.clone(), load.rate, deadline, tx));
    let ticker = tokio::spawn(tick(bar.counter(), load.seconds));
    let stats = put_all(&clients, rx, std::sync::Arc::default()).await;
    // An interrupt ends the run early; the bar then stops where it is.
    if generator.await.unwrap_or(true) {
        ticker.abort();
    }
    let _ = ticker.await;
    bar.finish().await;

    attempt_cleanup(
        &clients[0],
        &prefix,
        ctx.flags.bool("auto-compact"),
        &mut ctx.out,
    )
    .await?;
    if ctx.flags.bool("auto-defrag") {
        defrag_all(&clients[0], &config.endpoints, &mut ctx.out).await?;
    }

    let mut ok = true;
    let out = &mut ctx.out;
    if !stats.errors.is_empty() {
        out.line("FAIL: too many errors");
        for (message, count) in &stats.errors {
            out.line(&format!("FAIL: ERROR({message}) -> {count}"));
        }
        ok = false;
    }
    let writes = stats.rps as i64 + 1;
    if stats.rps / f64::from(load.rate) <= 0.9 {
        out.line(&format!("FAIL: Throughput too low: {writes} writes/s"));
        ok = false;
    } else {
        out.line(&format!("PASS: Throughput is {writes} writes/s"));
    }
    if stats.slowest > 0.5 {
        out.line(&format!(
            "Slowest request took too long: {:.6}s",
            stats.slowest
        ));
        ok = false;
    } else {
        out.line(&format!("PASS: Slowest request took {:.6}s", stats.slowest));
    }
    if stats.stddev > 0.1 {
        out.line(&format!("Stddev too high: {:.6}s", stats.stddev));
        ok = false;
    } else {
        out.line(&format!("PASS: Stddev is {:.6}s", stats.stddev));
    }
    if ok {
        out.line("PASS");
        Ok(())
    } else {
        out.line("FAIL");
        Err(Stop::Exit(EXIT_ERROR))
    }
}

/// Feeds puts at `rate` per second until the deadline or an interrupt, then closes the
/// channel; returns whether it was interrupted. Like etcdctl's limiter (a burst of one) it
/// does not catch up after a stall, but it keeps the small lateness of each timer wake-up
/// (tokio's timers have millisecond resolution) from lowering the rate.
async fn generate(
    prefix: String,
    rate: u32,
    deadline: Instant,
    tx: mpsc::Sender<PutRequest>,
) -> bool {
    let period = Duration::from_secs(1) / rate;
    let mut next = Instant::now();
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = tokio::time::sleep_until(deadline) => return false,
            _ = &mut interrupted => return true,
        }
        let put = PutRequest {
            key: random_key(&prefix, KEY_SIZE),
            value: vec![0; VALUE_SIZE],
            ..Default::default()
        };
        let sent = tokio::select! {
            sent = tx.send(put) => sent,
            _ = tokio::time::sleep_until(deadline) => return false,
            _ = &mut interrupted => return true,
        };
        if sent.is_err() {
            return false;
        }
        next += period;
        let now = Instant::now();
        if next + period < now {
            next = now;
        }
    }
}

/// Advances the bar once a second for the length of the run.
async fn tick(counter: std::sync::Arc<std::sync::atomic::AtomicI64>, seconds: u64) {
    for _ in 0..seconds {
        tokio::time::sleep(Duration::from_secs(1)).await;
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// etcdctl's `attemptCleanup`: a failed delete is reported and the check goes on.
async fn attempt_cleanup(
    client: &Client,
    prefix: &str,
    auto_compact: bool,
    out: &mut Out,
) -> Result<(), Stop> {
    match delete_prefix(client, prefix, Some(MAINTENANCE_TIMEOUT)).await {
        Ok(response) => {
            if auto_compact {
                let revision = response.header.map_or(0, |h| h.revision);
                compact(client, revision, out).await?;
            }
        }
        Err(error) => out.line(&format!(
            "FAIL: Cleanup failed during key deletion: ERROR({error})"
        )),
    }
    Ok(())
}
