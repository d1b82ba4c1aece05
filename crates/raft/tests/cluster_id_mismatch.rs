//! A member of another cluster is refused, and the sender reports it as an error, like etcd's
//! "request cluster ID mismatch". Its own test binary: it installs a global log capture.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::Cluster;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("capture").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sender_logs_a_cluster_id_mismatch_as_an_error() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
    let mut cluster =
        Cluster::start_with_cluster_ids(&[(1, 0xaaaa), (2, 0xbbbb)], 1_000_000, 5_000).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let logs = String::from_utf8_lossy(&capture.0.lock().expect("capture")).into_owned();
        let sender_error = logs
            .lines()
            .any(|l| l.contains("ERROR") && l.contains("request cluster ID mismatch"));
        let receiver_warning = logs
            .lines()
            .any(|l| l.contains("WARN") && l.contains("request cluster ID mismatch"));
        if sender_error && receiver_warning {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "mismatch not logged:\n{logs}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cluster.stop_all().await;
}
