//! Takes a distributed lock, writes under it with its fencing token, holds it a while and
//! releases it. Run two at once to see the second wait for the first:
//!
//! ```text
//! cargo run -p oxcd-client --example lock -- --endpoints 127.0.0.1:2379 --name demo-lock --hold 5
//! ```

use oxcd_client::concurrency::{Mutex, Session};
use oxcd_client::{Client, ConnectOptions, Op, PutOptions};
use std::time::Duration;

/// `--flag value` pairs, with defaults.
fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let endpoints: Vec<String> = arg("--endpoints", "127.0.0.1:2379")
        .split(',')
        .map(str::to_string)
        .collect();
    let name = arg("--name", "demo-lock");
    let hold: u64 = arg("--hold", "5").parse()?;

    let client = Client::connect(&endpoints, ConnectOptions::default()).await?;
    // The session's lease keeps the lock; if this process dies, the lock goes with the TTL.
    let session = Session::new(&client, 10).await?;
    let mut mutex = Mutex::new(&session, &name);
    println!("waiting for {name} ...");
    mutex.lock().await?;
    let token = mutex.fencing_token();
    println!(
        "locked {name} as {} (fencing token {token})",
        String::from_utf8_lossy(mutex.key())
    );

    // Writes guarded by the lock: applied only while our lock key still exists.
    let record = format!("pid {} token {token}", std::process::id());
    let write = Op::put(format!("{name}-holder"), record.clone(), PutOptions::new());
    let written = mutex.guarded_txn(vec![write.0]).await?;
    println!("guarded write of {record:?}: applied = {}", written.held);

    tokio::select! {
        _ = tokio::time::sleep(Duration::from_secs(hold)) => {}
        _ = session.done() => println!("session lost: the lock is no longer ours"),
        _ = tokio::signal::ctrl_c() => {}
    }
    mutex.unlock().await?;
    println!("unlocked {name}");
    session.close().await?;
    Ok(())
}
