//! `member add|remove|update|list|promote`.

use crate::cli::exit::{CtlError, EXIT_BAD_ARGS, Stop};
use crate::cli::global::{Context, call_error, with_timeout};
use crate::printer::Format;
use oxcd_api::etcdserverpb::{
    MemberAddRequest, MemberListRequest, MemberPromoteRequest, MemberRemoveRequest,
    MemberUpdateRequest,
};

/// `etcdctl member list`.
pub async fn list(ctx: &mut Context) -> Result<(), Stop> {
    let timeout = ctx.command_timeout();
    let (client, printer) = ctx.connect().await?;
    let response = client
        .cluster()
        .member_list(with_timeout(
            MemberListRequest { linearizable: true },
            timeout,
        ))
        .await
        .map_err(call_error)?
        .into_inner();
    printer.member_list(&mut ctx.out, &response)?;
    Ok(())
}

/// `etcdctl member add <name> --peer-urls=... [--learner]`.
pub async fn add(ctx: &mut Context) -> Result<(), Stop> {
    if ctx.args.is_empty() {
        return Err(CtlError::new(EXIT_BAD_ARGS, "member name not provided").into());
    }
    if ctx.args.len() > 1 {
        let mut message = String::from("too many arguments");
        for arg in &ctx.args {
            if arg.to_lowercase().starts_with("http") {
                message.push_str(&format!(", did you mean --peer-urls={arg}"));
            }
        }
        return Err(CtlError::new(EXIT_BAD_ARGS, message).into());
    }
    let name = ctx.args[0].clone();
    let peer_urls_text = ctx.flags.string("peer-urls");
    if peer_urls_text.is_empty() {
        return Err(CtlError::new(EXIT_BAD_ARGS, "member peer urls not provided").into());
    }
    let peer_urls: Vec<String> = peer_urls_text.split(',').map(str::to_string).collect();
    let timeout = ctx.command_timeout();
    let (client, printer) = ctx.connect().await?;
    let request = MemberAddRequest {
        peer_ur_ls: peer_urls,
        is_learner: ctx.flags.bool("learner"),
    };
    let response = client
        .cluster()
        .member_add(with_timeout(request, timeout))
        .await
        .map_err(call_error)?
        .into_inner();
    printer.member_add(&mut ctx.out, &response)?;
    if printer.format == Format::Simple {
        let new_id = response.member.as_ref().map_or(0, |m| m.id);
        let mut conf = Vec::new();
        for member in &response.members {
            for url in &member.peer_ur_ls {
                let member_name = if member.id == new_id {
                    &name
                } else {
                    &member.name
                };
                conf.push(format!("{member_name}={url}"));
            }
        }
        let q = |s: &str| oxcd_etcd_compat::gotext::quote::quote(s.as_bytes());
        ctx.out.line("");
        ctx.out.line(&format!("ETCD_NAME={}", q(&name)));
        ctx.out
            .line(&format!("ETCD_INITIAL_CLUSTER={}", q(&conf.join(","))));
        ctx.out.line(&format!(
            "ETCD_INITIAL_ADVERTISE_PEER_URLS={}",
            q(&peer_urls_text)
        ));
        ctx.out.line("ETCD_INITIAL_CLUSTER_STATE=\"existing\"");
    }
    Ok(())
}

/// Parses the member ID argument shared by remove, update and promote.
fn member_id(ctx: &Context) -> Result<u64, CtlError> {
    if ctx.args.len() != 1 {
        return Err(CtlError::new(EXIT_BAD_ARGS, "member ID is not provided"));
    }
    let text = &ctx.args[0];
    let digits = text.strip_prefix('+').unwrap_or(text);
    let parsed = if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_hexdigit()) {
        u64::from_str_radix(digits, 16).map_err(|_| "value out of range")
    } else {
        Err("invalid syntax")
    };
    parsed.map_err(|reason| {
        CtlError::new(
            EXIT_BAD_ARGS,
            format!(
                "bad member ID arg (strconv.ParseUint: parsing {}: {reason}), expecting ID in Hex",
                oxcd_etcd_compat::gotext::quote::quote(text.as_bytes())
            ),
        )
    })
}

/// `etcdctl member remove <id>`.
pub async fn remove(ctx: &mut Context) -> Result<(), Stop> {
    let id = member_id(ctx)?;
    let timeout = ctx.command_timeout();
    let (client, printer) = ctx.connect().await?;
    let response = client
        .cluster()
        .member_remove(with_timeout(MemberRemoveRequest { id }, timeout))
        .await
        .map_err(call_error)?
        .into_inner();
    printer.member_remove(&mut ctx.out, id, &response)?;
    Ok(())
}

/// `etcdctl member update <id> --peer-urls=...`.
pub async fn update(ctx: &mut Context) -> Result<(), Stop> {
    let id = member_id(ctx)?;
    let peer_urls = ctx.flags.string("peer-urls");
    if peer_urls.is_empty() {
        return Err(CtlError::new(EXIT_BAD_ARGS, "member peer urls not provided").into());
    }
    let timeout = ctx.command_timeout();
    let (client, printer) = ctx.connect().await?;
    let request = MemberUpdateRequest {
        id,
        peer_ur_ls: peer_urls.split(',').map(str::to_string).collect(),
    };
    let response = client
        .cluster()
        .member_update(with_timeout(request, timeout))
        .await
        .map_err(call_error)?
        .into_inner();
    printer.member_update(&mut ctx.out, id, &response)?;
    Ok(())
}

/// `etcdctl member promote <id>`.
pub async fn promote(ctx: &mut Context) -> Result<(), Stop> {
    let id = member_id(ctx)?;
    let timeout = ctx.command_timeout();
    let (client, printer) = ctx.connect().await?;
    let response = client
        .cluster()
        .member_promote(with_timeout(MemberPromoteRequest { id }, timeout))
        .await
        .map_err(call_error)?
        .into_inner();
    printer.member_promote(&mut ctx.out, id, &response)?;
    Ok(())
}
