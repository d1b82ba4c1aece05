//! Registers one instance of a service and prints the set of live instances every time it
//! changes; Ctrl-C deregisters. Start several with different ids, kill one with `kill -9`, and
//! see it leave the set when its lease expires:
//!
//! ```text
//! cargo run -p oxcd-client --example service_discovery -- --endpoints 127.0.0.1:2379 --service web --id web-1 --addr 10.0.0.1:8080
//! ```

use oxcd_client::discovery::{discover, register};
use oxcd_client::{Client, ConnectOptions};

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
    let service = arg("--service", "demo-service");
    let id = arg("--id", &format!("instance-{}", std::process::id()));
    let addr = arg("--addr", "127.0.0.1:8080");

    let client = Client::connect(&endpoints, ConnectOptions::default()).await?;
    // A 5-second lease: a crashed instance disappears within 5 s. A lost session is replaced
    // and the instance registered again under the same key.
    let me = register(&client, &service, &id, addr.as_str(), 5).await?;
    println!("registered {} = {addr}", me.key());

    let mut instances = discover(&client, &service);
    loop {
        tokio::select! {
            snapshot = instances.next() => {
                let Some(snapshot) = snapshot else { break };
                let snapshot = snapshot?;
                println!("live instances of {service} at revision {}:", snapshot.revision);
                for (id, value) in &snapshot.instances {
                    println!("  {id} -> {}", String::from_utf8_lossy(value));
                }
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    me.deregister().await;
    println!("deregistered {id}");
    Ok(())
}
