//! The commands oxctl runs, one file per etcdctl command family.

pub mod auth;
pub mod check;
pub mod compaction;
pub mod elect;
pub mod endpoint;
pub mod kv;
pub mod kv_ops;
pub mod lease;
pub mod lock;
pub mod maintenance;
pub mod make_mirror;
pub mod member;
pub mod role;
pub mod signals;
pub mod snapshot;
pub mod snapshot_delegate;
pub mod transfer_progress;
pub mod txn;
pub mod txn_input;
pub mod user;
pub mod watch;
pub mod watch_args;

use crate::cli::command::Action;
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
        Action::AuthEnable => auth::enable(ctx).await,
        Action::AuthDisable => auth::disable(ctx).await,
        Action::AuthStatus => auth::status(ctx).await,
        Action::UserAdd => user::add(ctx).await,
        Action::UserDelete => user::delete(ctx).await,
        Action::UserGet => user::get(ctx).await,
        Action::UserList => user::list(ctx).await,
        Action::UserPasswd => user::passwd(ctx).await,
        Action::UserGrantRole => user::grant_role(ctx).await,
        Action::UserRevokeRole => user::revoke_role(ctx).await,
        Action::RoleAdd => role::add(ctx).await,
        Action::RoleDelete => role::delete(ctx).await,
        Action::RoleGet => role::get(ctx).await,
        Action::RoleList => role::list(ctx).await,
        Action::RoleGrantPermission => role::grant_permission(ctx).await,
        Action::RoleRevokePermission => role::revoke_permission(ctx).await,
        Action::Watch => watch::run(ctx).await,
        Action::Lock => lock::run(ctx).await,
        Action::Elect => elect::run(ctx).await,
        Action::SnapshotSave => snapshot::save(ctx).await,
        Action::SnapshotStatus => snapshot_delegate::status(ctx),
        Action::SnapshotRestore => snapshot_delegate::restore(ctx),
        Action::CheckPerf => check::perf::run(ctx).await,
        Action::CheckDatascale => check::datascale::run(ctx).await,
        Action::MakeMirror => make_mirror::run(ctx).await,
        Action::Version => {
            ctx.out.line(&format!("etcdctl version: {VERSION}"));
            ctx.out.line(&format!("API version: {API_VERSION}"));
            Ok(())
        }
        // Help is handled before any action runs.
        Action::Help => Ok(()),
    }
}
