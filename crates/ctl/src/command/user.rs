//! `user add|delete|get|list|passwd|grant-role|revoke-role`.

use super::auth::read_password;
use crate::cli::exit::{CtlError, EXIT_BAD_ARGS, Stop};
use crate::cli::global::{Context, call_error};
use crate::printer::auth::Change;
use oxcd_api::authpb::UserAddOptions;
use oxcd_api::etcdserverpb::{
    AuthRoleGetRequest, AuthUserAddRequest, AuthUserChangePasswordRequest, AuthUserDeleteRequest,
    AuthUserGetRequest, AuthUserGrantRoleRequest, AuthUserListRequest, AuthUserRevokeRoleRequest,
};

fn bad_args(message: &str) -> Stop {
    CtlError::new(EXIT_BAD_ARGS, message).into()
}

/// `etcdctl user add <name[:password]>`.
pub async fn add(ctx: &mut Context) -> Result<(), Stop> {
    if ctx.args.len() != 1 {
        return Err(bad_args(
            "user add command requires user name as its argument",
        ));
    }
    let arg = ctx.args[0].clone();
    let no_password = ctx.flags.bool("no-password");
    let from_flag = ctx.flags.string("new-user-password");
    let (user, password) = if no_password {
        (arg, String::new())
    } else if !from_flag.is_empty() {
        (arg, from_flag)
    } else if let Some((user, password)) = arg.split_once(':') {
        if user.is_empty() {
            return Err(bad_args("empty user name is not allowed"));
        }
        (user.to_string(), password.to_string())
    } else {
        let password = read_password(ctx, &arg)?;
        (arg, password)
    };
    let (client, printer) = ctx.connect().await?;
    let request = AuthUserAddRequest {
        name: user.clone(),
        password,
        options: Some(UserAddOptions { no_password }),
        hashed_password: String::new(),
    };
    let response = client
        .auth()
        .user_add(request)
        .await
        .map_err(call_error)?
        .into_inner();
    printer.auth_change(
        &mut ctx.out,
        Change {
            header: response.header.as_ref(),
            message: &response,
            sentence: format!("User {user} created"),
            fields: true,
        },
    )?;
    Ok(())
}

/// `etcdctl user delete <name>`.
pub async fn delete(ctx: &mut Context) -> Result<(), Stop> {
    if ctx.args.len() != 1 {
        return Err(bad_args(
            "user delete command requires user name as its argument",
        ));
    }
    let name = ctx.args[0].clone();
    let (client, printer) = ctx.connect().await?;
    let response = client
        .auth()
        .user_delete(AuthUserDeleteRequest { name: name.clone() })
        .await
        .map_err(call_error)?
        .into_inner();
    printer.auth_change(
        &mut ctx.out,
        Change {
            header: response.header.as_ref(),
            message: &response,
            sentence: format!("User {name} deleted"),
            fields: true,
        },
    )?;
    Ok(())
}

/// `etcdctl user get <name> [--detail]`.
pub async fn get(ctx: &mut Context) -> Result<(), Stop> {
    if ctx.args.len() != 1 {
        return Err(bad_args(
            "user get command requires user name as its argument",
        ));
    }
    let name = ctx.args[0].clone();
    let (client, printer) = ctx.connect().await?;
    let mut auth = client.auth();
    let response = auth
        .user_get(AuthUserGetRequest { name: name.clone() })
        .await
        .map_err(call_error)?
        .into_inner();
    if !ctx.flags.bool("detail") {
        printer.user_get(&mut ctx.out, &name, &response)?;
        return Ok(());
    }
    ctx.out.line(&format!("User: {name}"));
    for role in &response.roles {
        ctx.out.line("");
        let detail = auth
            .role_get(AuthRoleGetRequest { role: role.clone() })
            .await
            .map_err(call_error)?
            .into_inner();
        printer.role_get(&mut ctx.out, role, &detail)?;
    }
    Ok(())
}

/// `etcdctl user list`.
pub async fn list(ctx: &mut Context) -> Result<(), Stop> {
    if !ctx.args.is_empty() {
        return Err(bad_args("user list command requires no arguments"));
    }
    let (client, printer) = ctx.connect().await?;
    let response = client
        .auth()
        .user_list(AuthUserListRequest {})
        .await
        .map_err(call_error)?
        .into_inner();
    printer.user_list(&mut ctx.out, &response)?;
    Ok(())
}

/// `etcdctl user passwd <name>`.
pub async fn passwd(ctx: &mut Context) -> Result<(), Stop> {
    if ctx.args.len() != 1 {
        return Err(bad_args(
            "user passwd command requires user name as its argument",
        ));
    }
    let name = ctx.args[0].clone();
    let password = read_password(ctx, &name)?;
    let (client, printer) = ctx.connect().await?;
    let request = AuthUserChangePasswordRequest {
        name,
        password,
        hashed_password: String::new(),
    };
    let response = client
        .auth()
        .user_change_password(request)
        .await
        .map_err(call_error)?
        .into_inner();
    printer.auth_change(
        &mut ctx.out,
        Change {
            header: response.header.as_ref(),
            message: &response,
            sentence: "Password updated".to_string(),
            fields: true,
        },
    )?;
    Ok(())
}

/// `etcdctl user grant-role <user> <role>`.
pub async fn grant_role(ctx: &mut Context) -> Result<(), Stop> {
    if ctx.args.len() != 2 {
        return Err(bad_args(
            "user grant command requires user name and role name as its argument",
        ));
    }
    let (user, role) = (ctx.args[0].clone(), ctx.args[1].clone());
    let (client, printer) = ctx.connect().await?;
    let request = AuthUserGrantRoleRequest {
        user: user.clone(),
        role: role.clone(),
    };
    let response = client
        .auth()
        .user_grant_role(request)
        .await
        .map_err(call_error)?
        .into_inner();
    printer.auth_change(
        &mut ctx.out,
        Change {
            header: response.header.as_ref(),
            message: &response,
            sentence: format!("Role {role} is granted to user {user}"),
            fields: true,
        },
    )?;
    Ok(())
}

/// `etcdctl user revoke-role <user> <role>`.
pub async fn revoke_role(ctx: &mut Context) -> Result<(), Stop> {
    if ctx.args.len() != 2 {
        return Err(bad_args(
            "user revoke-role requires user name and role name as its argument",
        ));
    }
    let (user, role) = (ctx.args[0].clone(), ctx.args[1].clone());
    let (client, printer) = ctx.connect().await?;
    let request = AuthUserRevokeRoleRequest {
        name: user.clone(),
        role: role.clone(),
    };
    let response = client
        .auth()
        .user_revoke_role(request)
        .await
        .map_err(call_error)?
        .into_inner();
    printer.auth_change(
        &mut ctx.out,
        Change {
            header: response.header.as_ref(),
            message: &response,
            sentence: format!("Role {role} is revoked from user {user}"),
            fields: true,
        },
    )?;
    Ok(())
}
