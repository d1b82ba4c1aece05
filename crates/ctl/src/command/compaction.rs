//! `compaction <revision> [--physical]`.

use crate::cli::exit::{CtlError, EXIT_BAD_ARGS, Stop};
use crate::cli::global::{Context, call_error, with_timeout};
use oxcd_api::etcdserverpb::CompactionRequest;
use oxcd_etcd_compat::gotext::quote::quote;

/// `etcdctl compaction`.
pub async fn run(ctx: &mut Context) -> Result<(), Stop> {
    if ctx.args.len() != 1 {
        return Err(CtlError::new(EXIT_BAD_ARGS, "compaction command needs 1 argument").into());
    }
    let text = &ctx.args[0];
    let revision = parse_decimal(text).map_err(CtlError::error)?;
    let physical = ctx.flags.bool("physical");
    let (client, _) = ctx.connect().await?;
    let timeout = ctx.command_timeout();
    client
        .kv()
        .compact(with_timeout(
            CompactionRequest { revision, physical },
            timeout,
        ))
        .await
        .map_err(call_error)?;
    ctx.out.line(&format!("compacted revision {revision}"));
    Ok(())
}

/// Go's `strconv.ParseInt(text, 10, 64)`.
pub fn parse_decimal(text: &str) -> Result<i64, String> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "strconv.ParseInt: parsing {}: invalid syntax",
            quote(text.as_bytes())
        ));
    }
    text.parse::<i64>().map_err(|_| {
        format!(
            "strconv.ParseInt: parsing {}: value out of range",
            quote(text.as_bytes())
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_like_go() {
        assert_eq!(parse_decimal("42"), Ok(42));
        assert_eq!(parse_decimal("-7"), Ok(-7));
        assert_eq!(
            parse_decimal("abc"),
            Err("strconv.ParseInt: parsing \"abc\": invalid syntax".into())
        );
        assert_eq!(
            parse_decimal("99999999999999999999"),
            Err("strconv.ParseInt: parsing \"99999999999999999999\": value out of range".into())
        );
    }
}
