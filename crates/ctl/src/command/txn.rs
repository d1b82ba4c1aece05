//! `txn [-i]`: compares, success and failure requests from standard input, in one
//! transaction.

use super::txn_input::{TxnReader, read_compares, read_ops};
use crate::cli::exit::{CtlError, EXIT_BAD_ARGS, Stop};
use crate::cli::global::{Context, call_error};
use oxcd_api::etcdserverpb::TxnRequest;

/// `etcdctl txn`.
pub async fn run(ctx: &mut Context) -> Result<(), Stop> {
    if !ctx.args.is_empty() {
        return Err(CtlError::new(EXIT_BAD_ARGS, "txn command does not accept argument").into());
    }
    let (client, printer) = ctx.connect().await?;
    let interactive = ctx.flags.bool("interactive");
    let mut input = TxnReader::new(std::io::stdin());
    let prompt = |ctx: &mut Context, text: &str| {
        if interactive {
            ctx.out.line(text);
            ctx.out.flush();
        }
    };
    prompt(ctx, "compares:");
    let compare = read_compares(&mut input)?;
    prompt(ctx, "success requests (get, put, del):");
    let success = read_ops(&mut input)?;
    prompt(ctx, "failure requests (get, put, del):");
    let failure = read_ops(&mut input)?;
    // etcdctl commits without a deadline.
    let response = client
        .kv()
        .txn(TxnRequest {
            compare,
            success,
            failure,
        })
        .await
        .map_err(call_error)?
        .into_inner();
    printer.txn(&mut ctx.out, &response)?;
    Ok(())
}
