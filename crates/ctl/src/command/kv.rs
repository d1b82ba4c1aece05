//! `get`, `put` and `del`.

use super::kv_ops::{del_op, get_op, put_op};
use crate::cli::exit::{CtlError, EXIT_BAD_ARGS, Stop};
use crate::cli::global::{Context, call_error, with_timeout};
use crate::printer::Format;

/// `etcdctl get`.
pub async fn get(ctx: &mut Context) -> Result<(), Stop> {
    let request = get_op(&ctx.flags, &ctx.args)?;
    let timeout = ctx.command_timeout();
    let (client, mut printer) = ctx.connect().await?;
    let response = client
        .kv()
        .range(with_timeout(request, timeout))
        .await
        .map_err(call_error)?
        .into_inner();
    // etcdctl checks these only after the call.
    if ctx.flags.bool("count-only") && printer.format != Format::Fields {
        return Err(CtlError::new(
            EXIT_BAD_ARGS,
            "--count-only is only for `--write-out=fields`",
        )
        .into());
    }
    if ctx.flags.bool("print-value-only") {
        if printer.format != Format::Simple {
            return Err(CtlError::new(
                EXIT_BAD_ARGS,
                "print-value-only is only for `--write-out=simple`",
            )
            .into());
        }
        printer.value_only = true;
    }
    printer.get(&mut ctx.out, &response)?;
    Ok(())
}

/// `etcdctl put`.
pub async fn put(ctx: &mut Context) -> Result<(), Stop> {
    let request = put_op(&ctx.flags, &ctx.args, &mut std::io::stdin())?;
    let timeout = ctx.command_timeout();
    let (client, printer) = ctx.connect().await?;
    let response = client
        .kv()
        .put(with_timeout(request, timeout))
        .await
        .map_err(call_error)?
        .into_inner();
    printer.put(&mut ctx.out, &response)?;
    Ok(())
}

/// `etcdctl del`.
pub async fn del(ctx: &mut Context) -> Result<(), Stop> {
    let request = del_op(&ctx.flags, &ctx.args)?;
    let timeout = ctx.command_timeout();
    let (client, printer) = ctx.connect().await?;
    let response = client
        .kv()
        .delete_range(with_timeout(request, timeout))
        .await
        .map_err(call_error)?
        .into_inner();
    printer.del(&mut ctx.out, &response)?;
    Ok(())
}
