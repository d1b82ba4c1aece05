//! The commands oxctl runs, one file per etcdctl command family.

pub mod compaction;
pub mod endpoint;
pub mod kv;
pub mod kv_ops;
pub mod lease;
pub mod maintenance;
pub mod member;
pub mod txn;
pub mod txn_input;

use crate::cli::command_tree::Action;
use crate::cli::exit::Stop;
use crate::cli::global::Context;
use crate::cli::usage::{API_VERSION, VERSION};

/// Runs a command's action.
pub async fn run(action: Action, ctx: &mut Context) -> Result<(), Stop> {
    match action {
        Action::Get => kv::get(ctx).await,
        Action::Put => kv::put(ctx).await,
        Action::Del => kv::del(ctx).await,
        Action::Txn => txn::run(ctx).await,
        Action::Compaction => compaction::run(ctx).await,
        Action::MemberAdd => member::add(ctx).await,
        Action::MemberRemove => member::remove(ctx).await,
        Action::MemberUpdate => member::update(ctx).await,
        Action::MemberList => member::list(ctx).await,
        Action::MemberPromote => member::promote(ctx).await,
        Action::EndpointHealth => endpoint::health(ctx).await,
        Action::EndpointStatus => endpoint::status(ctx).await,
        Action::EndpointHashKv => endpoint::hashkv(ctx).await,
        Action::LeaseGrant => lease::grant(ctx).await,
        Action::LeaseRevoke => lease::revoke(ctx).await,
        Action::LeaseTimeToLive => lease::timetolive(ctx).await,
        Action::LeaseList => lease::list(ctx).await,
        Action::LeaseKeepAlive => lease::keep_alive(ctx).await,
        Action::AlarmList => maintenance::alarm_list(ctx).await,
        Action::AlarmDisarm => maintenance::alarm_disarm(ctx).await,
        Action::Defrag => maintenance::defrag(ctx).await,
        Action::MoveLeader => maintenance::move_leader(ctx).await,
        Action::Version => {
            ctx.out.line(&format!("etcdctl version: {VERSION}"));
            ctx.out.line(&format!("API version: {API_VERSION}"));
            Ok(())
        }
        // Help is handled before any action runs.
        Action::Help => Ok(()),
    }
}
