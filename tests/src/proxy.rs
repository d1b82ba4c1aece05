//! A fault-injecting TCP proxy in front of a member's peer port, for what iptables cannot do
//! on this kernel (no `netem`): every connection other members open to the member passes
//! through it, and it can add latency with jitter, reset connections at random (the raft
//! messages in flight on them are lost, as with a lossy link that finally breaks the
//! connection), or blackhole the member (connections refused and dropped until healed).
//!
//! Bytes are never reordered or dropped inside a connection: over TCP that would only
//! corrupt the HTTP/2 stream. Reordering between messages happens the way it does on a real
//! network, across connections and reconnects.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use oxcd_testkit::rng::SeededRng;
use std::sync::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// What the proxy currently does to traffic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkFaults {
    /// Latency added to every chunk of data, each way.
    pub delay: Duration,
    /// Up to this much more, drawn per chunk.
    pub jitter: Duration,
    /// Chance, in percent, that a chunk resets its connection instead of being delivered.
    pub reset_percent: u64,
    /// Refuse and drop every connection.
    pub blackhole: bool,
}

/// A proxy from a listening port on 127.0.0.1 to a target port there; stops when dropped.
pub struct PeerProxy {
    port: u16,
    faults: watch::Sender<LinkFaults>,
    acceptor: JoinHandle<()>,
}

impl PeerProxy {
    /// Listens on `port` and forwards to `target`. `seed` drives the jitter and resets.
    pub async fn start(port: u16, target: u16, seed: u64) -> Result<PeerProxy> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
            .await
            .with_context(|| format!("proxy listening on port {port}"))?;
        let (faults, watching) = watch::channel(LinkFaults::default());
        let rng = Arc::new(Mutex::new(SeededRng::new(seed)));
        let target = SocketAddr::from((Ipv4Addr::LOCALHOST, target));
        let acceptor = tokio::spawn(accept_loop(listener, target, watching, rng));
        Ok(PeerProxy {
            port,
            faults,
            acceptor,
        })
    }

    /// The port members are told to connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Applies `faults` to current and future connections.
    pub fn set(&self, faults: LinkFaults) {
        self.faults.send_replace(faults);
    }

    /// Back to a clean link.
    pub fn heal(&self) {
        self.set(LinkFaults::default());
    }
}

impl Drop for PeerProxy {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    target: SocketAddr,
    faults: watch::Receiver<LinkFaults>,
    rng: Arc<Mutex<SeededRng>>,
) {
    // Connections die with the acceptor: their tasks are aborted when it is.
    let mut connections = tokio::task::JoinSet::new();
    while let Ok((inbound, _)) = listener.accept().await {
        if faults.borrow().blackhole {
            drop(inbound);
            continue;
        }
        let (faults, rng) = (faults.clone(), rng.clone());
        connections.spawn(async move {
            let Ok(outbound) = TcpStream::connect(target).await else {
                return;
            };
            let _ = inbound.set_nodelay(true);
            let _ = outbound.set_nodelay(true);
            let (in_read, in_write) = inbound.into_split();
            let (out_read, out_write) = outbound.into_split();
            // Either direction failing (or a fault resetting it) ends both.
            tokio::select! {
                () = pump(in_read, out_write, faults.clone(), rng.clone()) => {}
                () = pump(out_read, in_write, faults, rng) => {}
            }
        });
        while connections.try_join_next().is_some() {}
    }
}

/// Copies one direction of a connection, applying the current faults to each chunk.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut faults: watch::Receiver<LinkFaults>,
    rng: Arc<Mutex<SeededRng>>,
) {
    // Chunks travel to the writer with the time they are due, so a delay is latency, not a
    // cap on throughput: each chunk waits its own delay, never behind the sum of earlier ones.
    // `None` aborts the connection with whatever is still queued.
    let (queue, mut due) = mpsc::unbounded_channel::<Option<(Instant, Vec<u8>)>>();
    let reader = async move {
        let mut buffer = vec![0u8; 64 * 1024];
        let mut last_due = Instant::now();
        loop {
            let read = tokio::select! {
                read = from.read(&mut buffer) => read,
                // A blackhole also cuts connections that are already open.
                _ = faults.wait_for(|f| f.blackhole) => {
                    let _ = queue.send(None);
                    return;
                }
            };
            let n = match read {
                // End of input: the writer delivers what is queued, then stops.
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let current = *faults.borrow();
            let (extra, reset) = {
                let mut rng = rng.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                let jitter_ms = current.jitter.as_millis() as u64;
                let extra = if jitter_ms > 0 {
                    Duration::from_millis(rng.below(jitter_ms + 1))
                } else {
                    Duration::ZERO
                };
                (
                    extra,
                    current.reset_percent > 0 && rng.percent(current.reset_percent),
                )
            };
            if reset {
                let _ = queue.send(None);
                return;
            }
            // Bytes keep their order: a chunk is never due before the one ahead of it.
            last_due = last_due.max(Instant::now() + current.delay + extra);
            if queue.send(Some((last_due, buffer[..n].to_vec()))).is_err() {
                return;
            }
        }
    };
    let writer = async move {
        while let Some(Some((at, chunk))) = due.recv().await {
            tokio::time::sleep_until(at.into()).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
    };
    tokio::join!(reader, writer);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    async fn echo_server() -> (u16, JoinHandle<()>) {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buffer = [0u8; 1024];
                    while let Ok(n) = stream.read(&mut buffer).await {
                        if n == 0 || stream.write_all(&buffer[..n]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (port, task)
    }

    async fn round_trip(port: u16) -> Result<Duration> {
        let started = Instant::now();
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await?;
        stream.write_all(b"ping").await?;
        let mut reply = [0u8; 4];
        tokio::time::timeout(Duration::from_secs(2), stream.read_exact(&mut reply)).await??;
        anyhow::ensure!(&reply == b"ping", "got {reply:?}");
        Ok(started.elapsed())
    }

    #[tokio::test]
    async fn forwards_delays_and_blackholes() {
        let (target, _server) = echo_server().await;
        let port = oxcd_testkit::ports::free_port();
        let proxy = PeerProxy::start(port, target, 1).await.unwrap();
        round_trip(port).await.expect("a clean link forwards");

        proxy.set(LinkFaults {
            delay: Duration::from_millis(100),
            ..LinkFaults::default()
        });
        let slow = round_trip(port).await.unwrap();
        assert!(
            slow >= Duration::from_millis(200),
            "both ways delayed: {slow:?}"
        );

        proxy.set(LinkFaults {
            blackhole: true,
            ..LinkFaults::default()
        });
        assert!(round_trip(port).await.is_err(), "a blackhole refuses");

        proxy.set(LinkFaults {
            reset_percent: 100,
            ..LinkFaults::default()
        });
        assert!(round_trip(port).await.is_err(), "every chunk resets");

        proxy.heal();
        round_trip(port).await.expect("healed");
    }
}
