//! Go's `time.Duration` text: parsing flag values (`5s`, `1m30s`, `500ms`, `.5h`) with Go's
//! error messages, and `String()` formatting (`1h0m0s`, `760.288µs`) as etcd logs durations and
//! etcdctl prints `took = 1.2ms`.

use std::fmt::Write as _;
use std::time::Duration;

use super::quote::quote;

const NANOSECOND: u64 = 1;
const MICROSECOND: u64 = 1_000 * NANOSECOND;
const MILLISECOND: u64 = 1_000 * MICROSECOND;
const SECOND: u64 = 1_000 * MILLISECOND;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;

fn duration_unit(unit: &str) -> Option<u64> {
    match unit {
        "ns" => Some(NANOSECOND),
        "us" | "\u{b5}s" | "\u{3bc}s" => Some(MICROSECOND),
        "ms" => Some(MILLISECOND),
        "s" => Some(SECOND),
        "m" => Some(MINUTE),
        "h" => Some(HOUR),
        _ => None,
    }
}

/// Parses a duration like Go's `time.ParseDuration`, returning signed nanoseconds; the error
/// is Go's message (e.g. `time: missing unit in duration "5"`).
pub(crate) fn parse_nanos(orig: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {}", quote(orig));
    let mut s = orig;
    let mut negative = false;
    if let Some(c) = s.chars().next()
        && (c == '-' || c == '+')
    {
        negative = c == '-';
        s = &s[1..];
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    const MAX: u64 = i64::MAX as u64;
    let mut total: u64 = 0;
    while !s.is_empty() {
        let first = s.as_bytes()[0];
        if !(first == b'.' || first.is_ascii_digit()) {
            return Err(invalid());
        }
        let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let mut whole: u64 = 0;
        for b in s[..int_len].bytes() {
            if whole > MAX / 10 {
                return Err(invalid());
            }
            whole = whole * 10 + u64::from(b - b'0');
            if whole > MAX {
                return Err(invalid());
            }
        }
        s = &s[int_len..];
        let mut fraction: u64 = 0;
        let mut scale: f64 = 1.0;
        let mut frac_len = 0;
        if let Some(rest) = s.strip_prefix('.') {
            s = rest;
            frac_len = s.bytes().take_while(u8::is_ascii_digit).count();
            let mut overflow = false;
            for b in s[..frac_len].bytes() {
                if overflow || fraction > MAX / 10 {
                    overflow = true;
                    continue;
                }
                let next = fraction * 10 + u64::from(b - b'0');
                if next > MAX + 1 {
                    overflow = true;
                    continue;
                }
                fraction = next;
                scale *= 10.0;
            }
            s = &s[frac_len..];
        }
        if int_len == 0 && frac_len == 0 {
            return Err(invalid());
        }
        let unit_len = s
            .char_indices()
            .find(|&(_, c)| c == '.' || c.is_ascii_digit())
            .map_or(s.len(), |(i, _)| i);
        if unit_len == 0 {
            return Err(format!("time: missing unit in duration {}", quote(orig)));
        }
        let unit_text = &s[..unit_len];
        s = &s[unit_len..];
        let unit = duration_unit(unit_text).ok_or_else(|| {
            format!(
                "time: unknown unit {} in duration {}",
                quote(unit_text),
                quote(orig)
            )
        })?;
        if whole > MAX / unit {
            return Err(invalid());
        }
        let mut value = whole * unit;
        if fraction > 0 {
            value += (fraction as f64 * (unit as f64 / scale)) as u64;
            if value > MAX {
                return Err(invalid());
            }
        }
        total += value;
        if total > MAX {
            return Err(invalid());
        }
    }
    let total = total as i64;
    Ok(if negative { -total } else { total })
}

/// Formats signed nanoseconds the way Go's `time.Duration.String` does (`1h0m0s`, `1.5s`,
/// `760.288µs`, `0s`).
pub(crate) fn format_nanos(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_string();
    }
    let negative = nanos < 0;
    let mut u = nanos.unsigned_abs();
    let mut out = String::new();
    if u < SECOND {
        let (precision, unit) = if u < MICROSECOND {
            (0, "ns")
        } else if u < MILLISECOND {
            (3, "\u{b5}s")
        } else {
            (6, "ms")
        };
        let (int_part, frac) = split_fraction(u, precision);
        let _ = write!(out, "{int_part}{frac}{unit}");
    } else {
        let (seconds_total, frac) = split_fraction(u, 9);
        u = seconds_total;
        let seconds = u % 60;
        u /= 60;
        if u > 0 {
            let minutes = u % 60;
            let hours = u / 60;
            if hours > 0 {
                let _ = write!(out, "{hours}h");
            }
            let _ = write!(out, "{minutes}m");
        }
        let _ = write!(out, "{seconds}{frac}s");
    }
    if negative {
        out.insert(0, '-');
    }
    out
}

/// Splits `v` into its integer part and a `.ddd` fraction of `precision` digits with trailing
/// zeros removed (empty when the fraction is zero), as Go's `fmtFrac` does.
fn split_fraction(v: u64, precision: u32) -> (u64, String) {
    let divisor = 10u64.pow(precision);
    let frac = v % divisor;
    if frac == 0 {
        return (v / divisor, String::new());
    }
    let digits = format!("{:0width$}", frac, width = precision as usize);
    (v / divisor, format!(".{}", digits.trim_end_matches('0')))
}

/// Parses a duration for a flag that takes no negative value, as etcdctl's duration flags are
/// used: a negative duration is reported as Go's `invalid duration`.
pub fn parse(text: &str) -> Result<Duration, String> {
    match parse_nanos(text)? {
        nanos if nanos < 0 => Err(format!("time: invalid duration {}", quote(text))),
        nanos => Ok(Duration::from_nanos(nanos.unsigned_abs())),
    }
}

/// Formats like Go's `Duration.String()`; durations beyond Go's range (about 292 years) print
/// as the largest one Go has.
pub fn format(duration: Duration) -> String {
    format_nanos(i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(parse_nanos("0"), Ok(0));
        assert_eq!(parse_nanos("5s"), Ok(5_000_000_000));
        assert_eq!(parse_nanos("1h30m"), Ok(5_400_000_000_000));
        assert_eq!(parse_nanos("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_nanos(".5ms"), Ok(500_000));
        assert_eq!(parse_nanos("-2m"), Ok(-120_000_000_000));
        assert_eq!(parse_nanos("3us"), Ok(3_000));
        assert_eq!(parse_nanos("3µs"), Ok(3_000));
        assert_eq!(parse_nanos("3μs"), Ok(3_000));
        assert_eq!(
            parse_nanos("5"),
            Err(r#"time: missing unit in duration "5""#.to_string())
        );
        assert_eq!(
            parse_nanos("5x"),
            Err(r#"time: unknown unit "x" in duration "5x""#.to_string())
        );
        assert_eq!(
            parse_nanos(""),
            Err(r#"time: invalid duration """#.to_string())
        );
        assert_eq!(
            parse_nanos("abc"),
            Err(r#"time: invalid duration "abc""#.to_string())
        );
        assert_eq!(
            parse_nanos("."),
            Err(r#"time: invalid duration ".""#.to_string())
        );
        assert!(parse_nanos("9999999999h").is_err());
    }

    #[test]
    fn durations_print_like_go() {
        assert_eq!(format_nanos(0), "0s");
        assert_eq!(format_nanos(100 * MILLISECOND as i64), "100ms");
        assert_eq!(format_nanos(SECOND as i64), "1s");
        assert_eq!(format_nanos(1_500_000_000), "1.5s");
        assert_eq!(format_nanos(760_288), "760.288µs");
        assert_eq!(format_nanos(999), "999ns");
        assert_eq!(format_nanos(2 * HOUR as i64), "2h0m0s");
        assert_eq!(format_nanos(90 * SECOND as i64), "1m30s");
        assert_eq!(format_nanos(5 * SECOND as i64), "5s");
        assert_eq!(format_nanos(20 * SECOND as i64), "20s");
        assert_eq!(format_nanos(-1_500_000), "-1.5ms");
        assert_eq!(format_nanos(10 * MINUTE as i64), "10m0s");
    }

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
