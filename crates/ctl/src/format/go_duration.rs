//! Go's `time.Duration`: parsing flag values (`5s`, `1m30s`, `500ms`) with Go's error
//! messages, and `String()` formatting as etcdctl prints `took = 1.2ms`.

use super::go_quote::quote;
use std::time::Duration;

/// Parses a duration like Go's `time.ParseDuration` (negative values are rejected, since no
/// etcdctl duration flag can use one).
pub fn parse(text: &str) -> Result<Duration, String> {
    let invalid = || format!("time: invalid duration {}", quote(text.as_bytes()));
    let mut s = text;
    let mut negative = false;
    if let Some(first) = s.chars().next()
        && (first == '-' || first == '+')
    {
        negative = first == '-';
        s = &s[1..];
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    while !s.is_empty() {
        let first = s.as_bytes()[0];
        if !(first == b'.' || first.is_ascii_digit()) {
            return Err(invalid());
        }
        let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let whole: u128 = if int_len == 0 {
            0
        } else {
            s[..int_len].parse().map_err(|_| invalid())?
        };
        s = &s[int_len..];
        let mut fraction = 0u128;
        let mut scale = 1u128;
        let mut frac_len = 0;
        if let Some(rest) = s.strip_prefix('.') {
            frac_len = rest.bytes().take_while(u8::is_ascii_digit).count();
            for digit in rest[..frac_len].bytes().take(18) {
                fraction = fraction * 10 + u128::from(digit - b'0');
                scale *= 10;
            }
            s = &rest[frac_len..];
        }
        if int_len == 0 && frac_len == 0 {
            return Err(invalid());
        }
        let unit_len = s
            .char_indices()
            .find(|(_, c)| *c == '.' || c.is_ascii_digit())
            .map_or(s.len(), |(i, _)| i);
        let unit = &s[..unit_len];
        if unit.is_empty() {
            return Err(format!(
                "time: missing unit in duration {}",
                quote(text.as_bytes())
            ));
        }
        let nanos_per_unit: u128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    quote(unit.as_bytes()),
                    quote(text.as_bytes())
                ));
            }
        };
        s = &s[unit_len..];
        total += whole * nanos_per_unit + fraction * nanos_per_unit / scale;
        if total > i64::MAX as u128 {
            return Err(invalid());
        }
    }
    if negative && total != 0 {
        return Err(invalid());
    }
    Ok(Duration::from_nanos(total as u64))
}

/// Formats like Go's `Duration.String()`: `0s`, `850ns`, `1.5µs`, `2.74891ms`, `1m30s`.
pub fn format(duration: Duration) -> String {
    let nanos = duration.as_nanos().min(u64::MAX as u128) as u64;
    if nanos == 0 {
        return "0s".to_string();
    }
    if nanos < 1_000_000_000 {
        let (precision, unit) = if nanos < 1_000 {
            (0, "ns")
        } else if nanos < 1_000_000 {
            (3, "\u{b5}s")
        } else {
            (6, "ms")
        };
        return format!("{}{unit}", with_fraction(nanos, precision));
    }
    let seconds = with_fraction(nanos % 60_000_000_000, 9);
    let minutes = nanos / 60_000_000_000;
    match (minutes / 60, minutes % 60) {
        (0, 0) => format!("{seconds}s"),
        (0, m) => format!("{m}m{seconds}s"),
        (h, m) => format!("{h}h{m}m{seconds}s"),
    }
}

/// `value / 10^precision` with the fraction's trailing zeros (and a bare point) removed.
fn with_fraction(value: u64, precision: u32) -> String {
    let scale = 10u64.pow(precision);
    let whole = value / scale;
    let fraction = value % scale;
    if fraction == 0 {
        return whole.to_string();
    }
    let digits = format!("{fraction:0width$}", width = precision as usize);
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse(".5s"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
        assert_eq!(parse("3µs"), Ok(Duration::from_micros(3)));
    }

    #[test]
    fn reports_go_errors() {
        assert_eq!(parse("abc"), Err("time: invalid duration \"abc\"".into()));
        assert_eq!(parse(""), Err("time: invalid duration \"\"".into()));
        assert_eq!(
            parse("5"),
            Err("time: missing unit in duration \"5\"".into())
        );
        assert_eq!(
            parse("5x"),
            Err("time: unknown unit \"x\" in duration \"5x\"".into())
        );
        assert_eq!(parse("."), Err("time: invalid duration \".\"".into()));
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(format(Duration::ZERO), "0s");
        assert_eq!(format(Duration::from_nanos(850)), "850ns");
        assert_eq!(format(Duration::from_nanos(1_500)), "1.5\u{b5}s");
        assert_eq!(format(Duration::from_nanos(2_748_910)), "2.74891ms");
        assert_eq!(format(Duration::from_millis(1200)), "1.2s");
        assert_eq!(format(Duration::from_secs(90)), "1m30s");
        assert_eq!(format(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(format(Duration::from_secs(5)), "5s");
    }
}
