//! The progress bar `etcdctl check` draws on stdout (cheggaaa/pb v1.0.28 with the format
//! `Bom !`): ` current / total ` and the percentage, the bar itself only when the controlling
//! terminal has a width, the estimated time left while running and the elapsed time at the
//! end; redrawn every 200 ms after a carriage return.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often the bar is redrawn.
const REFRESH: Duration = Duration::from_millis(200);

/// A running progress bar.
pub struct ProgressBar {
    current: Arc<AtomicI64>,
    total: i64,
    started: Instant,
    stop: watch::Sender<bool>,
    refresher: Option<JoinHandle<()>>,
}

impl ProgressBar {
    /// Draws the bar at 0 of `total` and starts redrawing it.
    pub fn start(total: i64) -> ProgressBar {
        let current = Arc::new(AtomicI64::new(0));
        let started = Instant::now();
        print_line(&render(
            0,
            total,
            Timing::default(),
            false,
            terminal_width(),
        ));
        let (stop, mut stopped) = watch::channel(false);
        let shared = current.clone();
        let refresher = tokio::spawn(async move {
            let (mut previous, mut changed_at) = (0, started);
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(REFRESH) => {}
                    _ = stopped.changed() => return,
                }
                let now = shared.load(Ordering::Relaxed);
                // The estimate runs from the last redraw that saw the value change.
                if now != previous {
                    previous = now;
                    changed_at = Instant::now();
                }
                let timing = Timing {
                    elapsed: started.elapsed(),
                    until_change: changed_at.duration_since(started),
                    since_change: changed_at.elapsed(),
                };
                print_line(&render(now, total, timing, false, terminal_width()));
            }
        });
        ProgressBar {
            current,
            total,
            started,
            stop,
            refresher: Some(refresher),
        }
    }

    /// A handle that only counts, for the tasks doing the work.
    pub fn counter(&self) -> Arc<AtomicI64> {
        self.current.clone()
    }

    /// Stops redrawing, draws the final state with the elapsed time and ends the line.
    pub async fn finish(mut self) {
        let _ = self.stop.send(true);
        if let Some(refresher) = self.refresher.take() {
            let _ = refresher.await;
        }
        let now = self.current.load(Ordering::Relaxed);
        let timing = Timing {
            elapsed: self.started.elapsed(),
            ..Timing::default()
        };
        let line = render(now, self.total, timing, true, terminal_width());
        print_line(&format!("{line}\n"));
    }
}

fn print_line(line: &str) {
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    let _ = write!(lock, "\r{line}");
    let _ = lock.flush();
}

/// When a drawing happens, relative to the start and to the last change of the value.
#[derive(Debug, Clone, Copy, Default)]
struct Timing {
    elapsed: Duration,
    until_change: Duration,
    since_change: Duration,
}

/// One drawing of the bar (without the leading carriage return). The time left is the rate
/// up to the last change applied to what remains, less the time since that change.
fn render(current: i64, total: i64, timing: Timing, finished: bool, width: usize) -> String {
    let percent = current as f64 / (total as f64 / 100.0);
    let percent_box = format!(" {percent:6.2}%");
    let counters_box = format!(" {current} / {total} ");
    let time_box = if finished {
        format!(" {}", go_whole_seconds(timing.elapsed))
    } else if current > 0 {
        let per_entry = timing.until_change.as_nanos() / current as u128;
        let left = Duration::from_nanos((per_entry * (total - current).max(0) as u128) as u64)
            .saturating_sub(timing.since_change);
        if left.as_secs() == 0 {
            String::new()
        } else {
            format!(" {}", minutes_seconds(Duration::from_secs(left.as_secs())))
        }
    } else {
        String::new()
    };
    let fixed = counters_box.chars().count() + 2 + percent_box.len() + time_box.len();
    let mut bar = String::new();
    if width > fixed {
        let size = width - fixed;
        let filled = ((current as f64 / total as f64) * size as f64).ceil() as usize;
        let filled = filled.min(size);
        let empty = size - filled;
        bar.push('B');
        if empty == 0 {
            bar.push_str(&"o".repeat(filled));
        } else if filled > 0 {
            bar.push_str(&"o".repeat(filled - 1));
            bar.push('m');
        }
        bar.push_str(&" ".repeat(empty));
        bar.push('!');
    }
    let out = format!("{counters_box}{bar}{percent_box}{time_box}");
    let used = out.chars().count();
    if used < width {
        format!("{out}{}", " ".repeat(width - used))
    } else {
        out
    }
}

/// pb's time-left format: `00m09s`, with hours and days in front when there are any.
fn minutes_seconds(left: Duration) -> String {
    let mut seconds = left.as_secs();
    let mut out = String::new();
    const DAY: u64 = 86_400;
    if seconds > DAY {
        out.push_str(&format!("{}d", seconds / DAY));
        seconds %= DAY;
    }
    if seconds > 3600 {
        out.push_str(&format!("{}h", seconds / 3600));
        seconds %= 3600;
    }
    out.push_str(&format!("{:02}m{:02}s", seconds / 60, seconds % 60));
    out
}

/// Go's `time.Duration.String()` of a duration truncated to whole seconds (`1m0s`, `5s`).
fn go_whole_seconds(elapsed: Duration) -> String {
    let total = elapsed.as_secs();
    let (hours, minutes, seconds) = (total / 3600, (total / 60) % 60, total % 60);
    if hours > 0 {
        format!("{hours}h{minutes}m{seconds}s")
    } else if minutes > 0 {
        format!("{minutes}m{seconds}s")
    } else {
        format!("{seconds}s")
    }
}

/// The width of the controlling terminal (pb asks `/dev/tty`, else stdin); 0 without one,
/// which leaves the bar out.
fn terminal_width() -> usize {
    use std::os::fd::AsRawFd;
    let tty = std::fs::File::open("/dev/tty");
    let fd = match &tty {
        Ok(file) => file.as_raw_fd(),
        Err(_) => std::io::stdin().as_raw_fd(),
    };
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `winsize` into the struct we own; `fd` stays open.
    let result = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut size) };
    if result == -1 {
        0
    } else {
        usize::from(size.ws_col)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(elapsed_ms: u64, change_ms: u64) -> Timing {
        Timing {
            elapsed: Duration::from_millis(elapsed_ms),
            until_change: Duration::from_millis(change_ms),
            since_change: Duration::from_millis(elapsed_ms - change_ms),
        }
    }

    #[test]
    fn without_a_terminal_matches_etcdctl() {
        assert_eq!(render(0, 10000, at(0, 0), false, 0), " 0 / 10000    0.00%");
        assert_eq!(
            render(1451, 10000, at(400, 400), false, 0),
            " 1451 / 10000   14.51% 00m02s"
        );
        assert_eq!(
            render(50, 60, at(50_200, 50_200), false, 0),
            " 50 / 60   83.33% 00m10s"
        );
        assert_eq!(
            render(50, 60, at(51_000, 50_200), false, 0),
            " 50 / 60   83.33% 00m09s"
        );
        assert_eq!(
            render(59, 60, at(59_400, 59_200), false, 0),
            " 59 / 60   98.33%"
        );
        assert_eq!(
            render(60, 60, at(60_200, 60_200), true, 0),
            " 60 / 60  100.00% 1m0s"
        );
    }

    #[test]
    fn on_a_terminal_the_bar_fills_the_width() {
        let line = render(5, 10, at(5000, 5000), false, 60);
        assert_eq!(line.chars().count(), 60);
        assert!(line.contains("Booo"));
        assert!(line.contains("m ") && line.contains('!'));
    }
}
