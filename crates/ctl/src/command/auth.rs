//! `auth enable|disable|status`.

use crate::cli::exit::{CtlError, EXIT_BAD_ARGS, Stop};
use crate::cli::global::{Context, call_error, with_timeout};
use oxcd_api::EtcdError;
use oxcd_api::etcdserverpb::{
    AuthDisableRequest, AuthEnableRequest, AuthRoleAddRequest, AuthStatusRequest,
    AuthUserGrantRoleRequest,
};
use oxcd_client::ClientError;

fn no_arguments(ctx: &Context, command: &str) -> Result<(), Stop> {
    if ctx.args.is_empty() {
        return Ok(());
    }
    Err(CtlError::new(
        EXIT_BAD_ARGS,
        format!("auth {command} command does not accept any arguments"),
    )
    .into())
}

/// `etcdctl auth status`.
pub async fn status(ctx: &mut Context) -> Result<(), Stop> {
    no_arguments(ctx, "status")?;
    let timeout = ctx.command_timeout();
    let (client, printer) = ctx.connect().await?;
    let response = client
        .auth()
        .auth_status(with_timeout(AuthStatusRequest {}, timeout))
        .await
        .map_err(call_error)?
        .into_inner();
    printer.auth_status(&mut ctx.out, &response)?;
    Ok(())
}

/// `etcdctl auth enable`: creates the root role and grants it to root when missing.
pub async fn enable(ctx: &mut Context) -> Result<(), Stop> {
    no_arguments(ctx, "enable")?;
    let timeout = ctx.command_timeout();
    let (client, _) = ctx.connect().await?;
    let mut auth = client.auth();
    loop {
        let status = match auth
            .auth_enable(with_timeout(AuthEnableRequest {}, timeout))
            .await
        {
            Ok(_) => break,
            Err(status) => status,
        };
        if ClientError::from(status.clone()).etcd_error() != Some(EtcdError::RootRoleNotExist) {
            return Err(call_error(status).into());
        }
        auth.role_add(with_timeout(
            AuthRoleAddRequest {
                name: "root".into(),
            },
            timeout,
        ))
        .await
        .map_err(call_error)?;
        let grant = AuthUserGrantRoleRequest {
            user: "root".into(),
            role: "root".into(),
        };
        auth.user_grant_role(with_timeout(grant, timeout))
            .await
            .map_err(call_error)?;
    }
    ctx.out.line("Authentication Enabled");
    Ok(())
}

/// `etcdctl auth disable`.
pub async fn disable(ctx: &mut Context) -> Result<(), Stop> {
    no_arguments(ctx, "disable")?;
    let timeout = ctx.command_timeout();
    let (client, _) = ctx.connect().await?;
    client
        .auth()
        .auth_disable(with_timeout(AuthDisableRequest {}, timeout))
        .await
        .map_err(call_error)?;
    ctx.out.line("Authentication Disabled");
    Ok(())
}

/// Reads a password as etcdctl does: prompted twice on a terminal, or one word from
/// standard input with `--interactive=false`.
pub fn read_password(ctx: &mut Context, name: &str) -> Result<String, Stop> {
    let read_line = || -> Result<String, Stop> {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| CtlError::new(EXIT_BAD_ARGS, format!("failed to ask password: {e}")))?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    };
    if !ctx.flags.bool("interactive") {
        let line = read_line()?;
        return Ok(line
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string());
    }
    ctx.out.text(&format!("Password of {name}: "));
    ctx.out.flush();
    let first = read_line()?;
    ctx.out.line("");
    if first.is_empty() {
        return Err(CtlError::new(EXIT_BAD_ARGS, "empty password").into());
    }
    ctx.out
        .text(&format!("Type password of {name} again for confirmation: "));
    ctx.out.flush();
    let second = read_line()?;
    ctx.out.line("");
    if first != second {
        return Err(CtlError::new(EXIT_BAD_ARGS, "given passwords are different").into());
    }
    Ok(first)
}
