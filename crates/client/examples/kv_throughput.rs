//! Measures what one `Client` sustains against a running server: sequential and concurrent
//! puts and ranges over the balanced channel, and the same over a bare tonic channel to
//! show what failover costs.
//!
//! `cargo run --release -p oxcd-client --example kv_throughput -- 127.0.0.1:2379 [ops] [tasks]`

use oxcd_api::etcdserverpb::kv_client::KvClient;
use oxcd_api::etcdserverpb::{PutRequest, RangeRequest};
use oxcd_client::{Client, ConnectOptions};
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let endpoints: Vec<String> = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:2379".into())
        .split(',')
        .map(str::to_string)
        .collect();
    let ops: usize = args.next().map_or(Ok(5000), |a| a.parse())?;
    let tasks: usize = args.next().map_or(Ok(32), |a| a.parse())?;
    let client = Client::connect(&endpoints, ConnectOptions::default()).await?;
    let bare = tonic::transport::Endpoint::from_shared(format!("http://{}", endpoints[0]))?
        .connect()
        .await?;

    for (name, concurrency) in [("sequential", 1), ("concurrent", tasks)] {
        for write in [true, false] {
            let op = if write { "put" } else { "range" };
            let started = Instant::now();
            run(|| client.kv(), ops, concurrency, write).await?;
            report(
                &format!("{op} {name} x{concurrency}"),
                ops,
                started.elapsed(),
            );
            let started = Instant::now();
            run(|| KvClient::new(bare.clone()), ops, concurrency, write).await?;
            report(
                &format!("{op} {name} x{concurrency} bare"),
                ops,
                started.elapsed(),
            );
        }
    }
    Ok(())
}

/// Runs `ops` puts or ranges spread over `concurrency` tasks, each with its own client.
async fn run<T>(
    make: impl Fn() -> KvClient<T>,
    ops: usize,
    concurrency: usize,
    write: bool,
) -> Result<(), Box<dyn std::error::Error>>
where
    T: tonic::client::GrpcService<tonic::body::Body> + Send + 'static,
    T::Future: Send,
    T::Error: Into<tonic::codegen::StdError>,
    T::ResponseBody: tonic::codegen::Body<Data = tonic::codegen::Bytes> + Send + 'static,
    <T::ResponseBody as tonic::codegen::Body>::Error: Into<tonic::codegen::StdError> + Send,
{
    let per_task = ops / concurrency;
    let mut handles = Vec::new();
    for task in 0..concurrency {
        let mut kv = make();
        handles.push(tokio::spawn(async move {
            for i in 0..per_task {
                let key = format!("bench/{task}/{}", i % 100).into_bytes();
                if write {
                    kv.put(PutRequest {
                        key,
                        value: vec![b'x'; 256],
                        ..Default::default()
                    })
                    .await?;
                } else {
                    kv.range(RangeRequest {
                        key,
                        ..Default::default()
                    })
                    .await?;
                }
            }
            Ok::<(), tonic::Status>(())
        }));
    }
    for handle in handles {
        handle.await??;
    }
    Ok(())
}

fn report(name: &str, ops: usize, elapsed: Duration) {
    println!(
        "{name:<24} {ops:>7} ops in {:>8.3}s = {:>9.0} ops/s",
        elapsed.as_secs_f64(),
        ops as f64 / elapsed.as_secs_f64()
    );
}
