//! Loads every key under a prefix and prints each change as it happens, and the whole
//! configuration after it; survives member failures, and reloads after a compaction. Try it
//! while running `etcdctl put app/config/log-level debug`:
//!
//! ```text
//! cargo run -p oxcd-client --example config_watch -- --endpoints 127.0.0.1:2379 --prefix app/config/
//! ```

use oxcd_client::api::mvccpb::event::EventType;
use oxcd_client::{Client, ConfigEvent, ConnectOptions};

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
    let prefix = arg("--prefix", "app/config/");

    let client = Client::connect(&endpoints, ConnectOptions::default()).await?;
    let mut config = client.watch_config(prefix.as_str());
    loop {
        let event = tokio::select! {
            event = config.next() => match event {
                Some(event) => event?,
                None => break,
            },
            _ = tokio::signal::ctrl_c() => break,
        };
        match &event {
            ConfigEvent::Loaded(snapshot) => println!("loaded at revision {}", snapshot.revision),
            ConfigEvent::Reloaded(snapshot) => {
                println!(
                    "history compacted: reloaded at revision {}",
                    snapshot.revision
                )
            }
            ConfigEvent::Changed(batch) => {
                for change in &batch.events {
                    let kv = change.kv.clone().unwrap_or_default();
                    let what = match change.r#type() {
                        EventType::Put => "set",
                        EventType::Delete => "removed",
                    };
                    println!(
                        "revision {}: {what} {}",
                        kv.mod_revision,
                        String::from_utf8_lossy(&kv.key)
                    );
                }
            }
        }
        for (key, kv) in &config.current().kvs {
            println!(
                "  {} = {}",
                String::from_utf8_lossy(key),
                String::from_utf8_lossy(&kv.value)
            );
        }
    }
    Ok(())
}
