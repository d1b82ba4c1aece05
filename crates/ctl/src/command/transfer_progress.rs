//! The progress line of `snapshot save` (bytes received and rate), drawn on stderr only when
//! stderr is a terminal: etcdctl has none, so scripted output stays byte-for-byte etcdctl's.

use oxcd_etcd_compat::gotext::humanize;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// How often the line is redrawn at most.
const REDRAW_EVERY: Duration = Duration::from_millis(200);

/// A progress line that is drawn only on a terminal.
pub struct TransferProgress {
    enabled: bool,
    started: Instant,
    last_drawn: Option<Instant>,
}

impl TransferProgress {
    /// A progress line that shows itself if stderr is a terminal.
    pub fn on_terminal() -> TransferProgress {
        TransferProgress {
            enabled: std::io::stderr().is_terminal(),
            started: Instant::now(),
            last_drawn: None,
        }
    }

    /// Shows `received` bytes so far (at most every 200 ms).
    pub fn update(&mut self, received: u64) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        if self
            .last_drawn
            .is_some_and(|at| now.duration_since(at) < REDRAW_EVERY)
        {
            return;
        }
        self.last_drawn = Some(now);
        let line = progress_text(received, now.duration_since(self.started));
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "\r\x1b[K{line}");
        let _ = stderr.flush();
    }

    /// Erases the line so that log lines that follow start on a clean line.
    pub fn finish(&mut self) {
        if self.last_drawn.take().is_some() {
            let mut stderr = std::io::stderr().lock();
            let _ = write!(stderr, "\r\x1b[K");
            let _ = stderr.flush();
        }
    }
}

/// `received 12 MB (4.0 MB/s)`.
fn progress_text(received: u64, elapsed: Duration) -> String {
    let seconds = elapsed.as_secs_f64();
    let rate = if seconds > 0.0 {
        (received as f64 / seconds) as u64
    } else {
        0
    };
    format!(
        "received {} ({}/s)",
        humanize::bytes(received),
        humanize::bytes(rate)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_size_and_rate() {
        assert_eq!(
            progress_text(8_000_000, Duration::from_secs(2)),
            "received 8.0 MB (4.0 MB/s)"
        );
        assert_eq!(progress_text(0, Duration::ZERO), "received 0 B (0 B/s)");
    }
}
