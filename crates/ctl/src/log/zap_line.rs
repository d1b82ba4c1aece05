//! One zap JSON log line: `{"level":..,"ts":..,["logger":..,]"caller":..,"msg":..,...}` with
//! either the production logger's epoch timestamp or clientv3's ISO-8601 one.

use crate::format::go_json::push_string;
use std::time::{SystemTime, UNIX_EPOCH};

/// How the timestamp is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeStyle {
    /// Seconds since the epoch as a float (`zap.NewProduction`).
    Epoch,
    /// `2006-01-02T15:04:05.000Z` (clientv3's default logger).
    Iso8601,
}

/// A field value.
pub enum Value {
    /// A JSON string.
    Text(String),
    /// A JSON number.
    Number(u64),
}

/// Renders a log line (without the trailing newline).
pub fn render(
    level: &str,
    style: TimeStyle,
    logger: Option<&str>,
    caller: &str,
    message: &str,
    fields: &[(&str, Value)],
) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut out = String::from("{\"level\":");
    push_string(&mut out, level.as_bytes());
    out.push_str(",\"ts\":");
    match style {
        TimeStyle::Epoch => out.push_str(&format!("{}", now.as_secs_f64())),
        TimeStyle::Iso8601 => push_string(&mut out, iso8601(now.as_millis()).as_bytes()),
    }
    if let Some(logger) = logger {
        out.push_str(",\"logger\":");
        push_string(&mut out, logger.as_bytes());
    }
    out.push_str(",\"caller\":");
    push_string(&mut out, caller.as_bytes());
    out.push_str(",\"msg\":");
    push_string(&mut out, message.as_bytes());
    for (key, value) in fields {
        out.push(',');
        push_string(&mut out, key.as_bytes());
        out.push(':');
        match value {
            Value::Text(text) => push_string(&mut out, text.as_bytes()),
            Value::Number(n) => out.push_str(&n.to_string()),
        }
    }
    out.push('}');
    out
}

/// UTC `YYYY-MM-DDTHH:MM:SS.mmmZ` for milliseconds since the epoch.
fn iso8601(millis: u128) -> String {
    let secs = (millis / 1000) as i64;
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3600,
        (of_day % 3600) / 60,
        of_day % 60,
        millis % 1000
    )
}

/// Converts days since 1970-01-01 to a proleptic Gregorian date.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_795_606_237_156), "2026-11-25T11:30:37.156Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn field_order_matches_zap() {
        let line = render(
            "warn",
            TimeStyle::Iso8601,
            Some("etcd-client"),
            "v3/retry_interceptor.go:62",
            "retrying of unary invoker failed",
            &[
                ("target", Value::Text("etcd-endpoints://0xc000/a".into())),
                ("attempt", Value::Number(0)),
            ],
        );
        assert!(line.starts_with("{\"level\":\"warn\",\"ts\":\""));
        assert!(line.ends_with(",\"logger\":\"etcd-client\",\"caller\":\"v3/retry_interceptor.go:62\",\"msg\":\"retrying of unary invoker failed\",\"target\":\"etcd-endpoints://0xc000/a\",\"attempt\":0}"));
    }
}
