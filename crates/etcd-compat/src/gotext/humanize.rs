//! `go-humanize`'s `Bytes`: SI units (base 1000) with one decimal below 10, as etcdctl
//! prints DB sizes ("20 kB") and etcd logs its quota ("2.1 GB"); and its `Time` for a moment
//! in the past ("now", "3 seconds ago"), as `etcdctl snapshot save` logs how long it took.

/// Formats a byte count like `humanize.Bytes`.
pub fn bytes(size: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    if size < 10 {
        return format!("{size} B");
    }
    let size = size as f64;
    let exponent = (size.ln() / 1000f64.ln()).floor();
    let unit = UNITS[(exponent as usize).min(UNITS.len() - 1)];
    let value = (size / 1000f64.powf(exponent) * 10.0 + 0.5).floor() / 10.0;
    if value < 10.0 {
        format!("{value:.1} {unit}")
    } else {
        format!("{value:.0} {unit}")
    }
}

/// Formats how long ago something happened like `humanize.Time` (its default magnitudes).
pub fn time_ago(elapsed: std::time::Duration) -> String {
    const SECOND: u64 = 1;
    const MINUTE: u64 = 60;
    const HOUR: u64 = 60 * MINUTE;
    const DAY: u64 = 24 * HOUR;
    const WEEK: u64 = 7 * DAY;
    const MONTH: u64 = 30 * DAY;
    const YEAR: u64 = 12 * MONTH;
    const LONG_TIME: u64 = 37 * YEAR;
    // (below this many seconds, text, divisor); `{}` takes the count.
    const MAGNITUDES: [(u64, &str, u64); 16] = [
        (SECOND, "now", 1),
        (2 * SECOND, "1 second ago", 1),
        (MINUTE, "{} seconds ago", SECOND),
        (2 * MINUTE, "1 minute ago", 1),
        (HOUR, "{} minutes ago", MINUTE),
        (2 * HOUR, "1 hour ago", 1),
        (DAY, "{} hours ago", HOUR),
        (2 * DAY, "1 day ago", 1),
        (WEEK, "{} days ago", DAY),
        (2 * WEEK, "1 week ago", 1),
        (MONTH, "{} weeks ago", WEEK),
        (2 * MONTH, "1 month ago", 1),
        (YEAR, "{} months ago", MONTH),
        (18 * MONTH, "1 year ago", 1),
        (2 * YEAR, "2 years ago", 1),
        (LONG_TIME, "{} years ago", YEAR),
    ];
    let seconds = elapsed.as_secs();
    MAGNITUDES
        .iter()
        .find(|(below, _, _)| seconds < *below)
        .map_or_else(
            || "a long while ago".to_string(),
            |(_, text, divisor)| text.replace("{}", &(seconds / divisor).to_string()),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_go_humanize() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(9), "9 B");
        assert_eq!(bytes(10), "10 B");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(1000), "1.0 kB");
        assert_eq!(bytes(16384), "16 kB");
        assert_eq!(bytes(20480), "20 kB");
        assert_eq!(bytes(24576), "25 kB");
        assert_eq!(bytes(2_500_000), "2.5 MB");
        assert_eq!(bytes(1_048_576), "1.0 MB");
    }

    #[test]
    fn time_matches_go_humanize() {
        use std::time::Duration;
        assert_eq!(time_ago(Duration::from_millis(999)), "now");
        assert_eq!(time_ago(Duration::from_millis(1500)), "1 second ago");
        assert_eq!(time_ago(Duration::from_secs(59)), "59 seconds ago");
        assert_eq!(time_ago(Duration::from_secs(61)), "1 minute ago");
        assert_eq!(time_ago(Duration::from_secs(3599)), "59 minutes ago");
        assert_eq!(time_ago(Duration::from_secs(3 * 86400)), "3 days ago");
    }
}
