//! `role add|delete|get|list|grant-permission|revoke-permission`.

use crate::cli::exit::{CtlError, EXIT_BAD_ARGS, Stop};
use crate::cli::global::{Context, call_error};
use crate::printer::auth::Change;
use oxcd_api::authpb::Permission;
use oxcd_api::authpb::permission::Type as PermissionType;
use oxcd_api::etcdserverpb::{
    AuthRoleAddRequest, AuthRoleDeleteRequest, AuthRoleGetRequest, AuthRoleGrantPermissionRequest,
    AuthRoleListRequest, AuthRoleRevokePermissionRequest,
};
use oxcd_api::key_range::prefix_end;

fn bad_args(message: impl Into<String>) -> Stop {
    CtlError::new(EXIT_BAD_ARGS, message).into()
}

/// `etcdctl role add <name>`.
pub async fn add(ctx: &mut Context) -> Result<(), Stop> {
    if ctx.args.len() != 1 {
        return Err(bad_args(
            "role add command requires role name as its argument",
        ));
    }
    let name = ctx.args[0].clone();
    let (client, printer) = ctx.connect().await?;
    let response = client
        .auth()
        .role_add(AuthRoleAddRequest { name: name.clone() })
        .await
        .map_err(call_error)?
        .into_inner();
    printer.auth_change(
        &mut ctx.out,
        Change {
            header: response.header.as_ref(),
            message: &response,
            sentence: format!("Role {name} created"),
            fields: true,
        },
    )?;
    Ok(())
}

/// `etcdctl role delete <name>`.
pub async fn delete(ctx: &mut Context) -> Result<(), Stop> {
    if ctx.args.len() != 1 {
        return Err(bad_args(
            "role delete command requires role name as its argument",
        ));
    }
    let name = ctx.args[0].clone();
    let (client, printer) = ctx.connect().await?;
    let response = client
        .auth()
        .role_delete(AuthRoleDeleteRequest { role: name.clone() })
        .await
        .map_err(call_error)?
        .into_inner();
    printer.auth_change(
        &mut ctx.out,
        Change {
            header: response.header.as_ref(),
            message: &response,
            sentence: format!("Role {name} deleted"),
            fields: true,
        },
    )?;
    Ok(())
}

/// `etcdctl role get <name>`.
pub async fn get(ctx: &mut Context) -> Result<(), Stop> {
    if ctx.args.len() != 1 {
        return Err(bad_args(
            "role get command requires role name as its argument",
        ));
    }
    let name = ctx.args[0].clone();
    let (client, printer) = ctx.connect().await?;
    let response = client
        .auth()
        .role_get(AuthRoleGetRequest { role: name.clone() })
        .await
        .map_err(call_error)?
        .into_inner();
    printer.role_get(&mut ctx.out, &name, &response)?;
    Ok(())
}

/// `etcdctl role list`.
pub async fn list(ctx: &mut Context) -> Result<(), Stop> {
    if !ctx.args.is_empty() {
        return Err(bad_args("role list command requires no arguments"));
    }
    let (client, printer) = ctx.connect().await?;
    let response = client
        .auth()
        .role_list(AuthRoleListRequest {})
        .await
        .map_err(call_error)?
        .into_inner();
    printer.role_list(&mut ctx.out, &response)?;
    Ok(())
}

/// The key range a permission command names (etcdctl's `permRange`).
fn permission_range(ctx: &Context, args: &[String]) -> Result<(Vec<u8>, Vec<u8>), Stop> {
    let prefix = ctx.flags.bool("prefix");
    let from_key = ctx.flags.bool("from-key");
    let exclusive = "--from-key and --prefix flags are mutually exclusive";
    let key = args[0].as_bytes().to_vec();
    if key.is_empty() {
        if prefix && from_key {
            return Err(bad_args(exclusive));
        }
        let range_end = if prefix || from_key {
            vec![0]
        } else {
            Vec::new()
        };
        return Ok((vec![0], range_end));
    }
    if args.len() == 1 {
        let range_end = match (prefix, from_key) {
            (true, true) => return Err(bad_args(exclusive)),
            (true, false) => prefix_end(&key),
            (false, true) => vec![0],
            (false, false) => Vec::new(),
        };
        return Ok((key, range_end));
    }
    if prefix {
        return Err(bad_args("unexpected endkey argument with --prefix flag"));
    }
    if from_key {
        return Err(bad_args("unexpected endkey argument with --from-key flag"));
    }
    Ok((key, args[1].as_bytes().to_vec()))
}

/// `etcdctl role grant-permission <role> <read|write|readwrite> <key> [end]`.
pub async fn grant_permission(ctx: &mut Context) -> Result<(), Stop> {
    if ctx.args.len() < 3 {
        return Err(bad_args(
            "role grant command requires role name, permission type, and key [endkey] as its argument",
        ));
    }
    let role = ctx.args[0].clone();
    let perm_type = PermissionType::from_str_name(&ctx.args[1].to_uppercase())
        .ok_or_else(|| bad_args(format!("invalid permission type: {}", ctx.args[1])))?;
    let (key, range_end) = permission_range(ctx, &ctx.args[2..])?;
    let (client, printer) = ctx.connect().await?;
    let request = AuthRoleGrantPermissionRequest {
        name: role.clone(),
        perm: Some(Permission {
            perm_type: perm_type as i32,
            key,
            range_end,
        }),
    };
    let response = client
        .auth()
        .role_grant_permission(request)
        .await
        .map_err(call_error)?
        .into_inner();
    printer.auth_change(
        &mut ctx.out,
        Change {
            header: response.header.as_ref(),
            message: &response,
            sentence: format!("Role {role} updated"),
            fields: true,
        },
    )?;
    Ok(())
}

/// `etcdctl role revoke-permission <role> <key> [end]`.
pub async fn revoke_permission(ctx: &mut Context) -> Result<(), Stop> {
    if ctx.args.len() < 2 {
        return Err(bad_args(
            "role revoke-permission command requires role name and key [endkey] as its argument",
        ));
    }
    let role = ctx.args[0].clone();
    let given_key = ctx.args[1].clone();
    let (key, range_end) = permission_range(ctx, &ctx.args[1..])?;
    let (client, printer) = ctx.connect().await?;
    let request = AuthRoleRevokePermissionRequest {
        role: role.clone(),
        key,
        range_end: range_end.clone(),
    };
    let response = client
        .auth()
        .role_revoke_permission(request)
        .await
        .map_err(call_error)?
        .into_inner();
    let end = String::from_utf8_lossy(&range_end);
    let sentence = if range_end.is_empty() {
        format!("Permission of key {given_key} is revoked from role {role}")
    } else if range_end != [0] {
        format!("Permission of range [{given_key}, {end}) is revoked from role {role}")
    } else {
        format!("Permission of range [{given_key}, <open ended> is revoked from role {role}")
    };
    printer.auth_change(
        &mut ctx.out,
        Change {
            header: response.header.as_ref(),
            message: &response,
            sentence,
            fields: true,
        },
    )?;
    Ok(())
}
