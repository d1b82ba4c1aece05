//! Campaigns for leadership of an election, proclaims a heartbeat value while leading, and
//! prints every leader change it observes; Ctrl-C resigns. Run two to watch leadership pass
//! from one to the other:
//!
//! ```text
//! cargo run -p oxcd-client --example election -- --endpoints 127.0.0.1:2379 --name demo-election --value node-a
//! ```

use oxcd_client::concurrency::{Election, Session, observe_election};
use oxcd_client::{Client, ConnectOptions};
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
    let name = arg("--name", "demo-election");
    let value = arg("--value", &format!("pid-{}", std::process::id()));

    let client = Client::connect(&endpoints, ConnectOptions::default()).await?;
    // The observer follows leaders across reconnects and member failures.
    let mut leaders = observe_election(&client, &name);
    tokio::spawn(async move {
        while let Some(Ok(change)) = leaders.next().await {
            if let Some(leader) = change.kvs.first() {
                println!(
                    "observed leader: {}",
                    String::from_utf8_lossy(&leader.value)
                );
            }
        }
    });

    let session = Session::new(&client, 10).await?;
    let mut election = Election::new(&session, &name);
    println!("{value}: campaigning for {name} ...");
    tokio::select! {
        won = election.campaign(&value) => won?,
        _ = tokio::signal::ctrl_c() => return Ok(()),
    }
    println!(
        "{value}: elected (key {})",
        String::from_utf8_lossy(election.key())
    );

    let mut beat = 0u64;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(2)) => {
                beat += 1;
                election.proclaim(format!("{value} beat {beat}")).await?;
            }
            _ = session.done() => {
                println!("{value}: session lost, no longer leader");
                return Ok(());
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    election.resign().await?;
    println!("{value}: resigned");
    session.close().await?;
    Ok(())
}
