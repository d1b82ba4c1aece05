//! `lock <lockname> [exec-command arg1 arg2 ...]`: etcdctl's lock on clientv3's mutex recipe
//! (`oxcd_client::concurrency`), so it excludes Go lockers of the same name. Holds the lock
//! until SIGINT/SIGTERM, or runs a command while holding it and exits with its status.

use super::signals::Interrupts;
use crate::cli::exit::{CtlError, EXIT_BAD_ARGS, Stop};
use crate::cli::global::{Context, call_error};
use oxcd_api::etcdserverpb::RangeRequest;
use oxcd_client::concurrency::{Mutex, Session};
use oxcd_etcd_compat::gotext::quote::quote;

/// `etcdctl lock`.
pub async fn run(ctx: &mut Context) -> Result<(), Stop> {
    let Some((name, command)) = ctx.args.split_first() else {
        return Err(CtlError::new(
            EXIT_BAD_ARGS,
            "lock takes a lock name argument and an optional command to execute",
        )
        .into());
    };
    let (name, command) = (name.clone(), command.to_vec());
    let ttl = ctx.flags.int("ttl");
    let (client, printer) = ctx.connect().await?;
    let session = Session::new(&client, ttl)
        .await
        .map_err(|e| CtlError::error(e.to_string()))?;
    let mut interrupts = Interrupts::install()?;
    let mut mutex = Mutex::new(&session, name.as_bytes());

    let locked = tokio::select! {
        locked = mutex.lock() => locked.map_err(|e| CtlError::error(e.to_string())),
        _ = interrupts.next() => Err(CtlError::error("context canceled")),
    };
    if let Err(error) = locked {
        // As etcdctl does, the key of an abandoned wait is deleted before exiting.
        let _ = mutex.unlock().await;
        session.orphan();
        return Err(error.into());
    }

    if !command.is_empty() {
        let ran = run_locked(&command, &mutex).await;
        let unlocked = mutex.unlock().await;
        session.orphan();
        ran?;
        return unlocked.map_err(|e| CtlError::error(e.to_string()).into());
    }

    let held = client
        .kv()
        .range(RangeRequest {
            key: mutex.key().to_vec(),
            ..Default::default()
        })
        .await
        .map_err(call_error)?
        .into_inner();
    if held.kvs.is_empty() {
        session.orphan();
        return Err(CtlError::error("lock lost on init").into());
    }
    printer.get(&mut ctx.out, &held)?;
    ctx.out.flush();

    tokio::select! {
        _ = interrupts.next() => {
            let unlocked = mutex.unlock().await;
            // etcdctl leaves its session's lease to expire; so does oxctl.
            session.orphan();
            unlocked.map_err(|e| CtlError::error(e.to_string()).into())
        }
        _ = session.done() => {
            session.orphan();
            Err(CtlError::error("session expired").into())
        }
    }
}

/// Runs `command` with the lock's key and revision in its environment (standard input from
/// /dev/null, output shared), as etcdctl's exec mode does; fails with the command's exit status.
async fn run_locked(command: &[String], mutex: &Mutex) -> Result<(), Stop> {
    let Some(program) = look_path(&command[0]) else {
        return Err(CtlError::error(format!(
            "exec: {}: executable file not found in $PATH",
            quote(command[0].as_bytes())
        ))
        .into());
    };
    let mut child = tokio::process::Command::new(program);
    // The program sees the name it was given as argv[0], as Go passes it.
    child
        .arg0(&command[0])
        .args(&command[1..])
        .stdin(std::process::Stdio::null());
    // Go lists these before the inherited environment, whose values win on a clash.
    let revision = mutex.header().revision.to_string();
    let key = String::from_utf8_lossy(mutex.key()).into_owned();
    for (name, value) in [("ETCD_LOCK_KEY", key), ("ETCD_LOCK_REV", revision)] {
        if std::env::var_os(name).is_none() {
            child.env(name, value);
        }
    }
    let status = match child.status().await {
        Ok(status) => status,
        Err(e) => {
            return Err(CtlError::error(format!(
                "fork/exec {}: {}",
                command[0],
                go_errno_text(&e)
            ))
            .into());
        }
    };
    if status.success() {
        return Ok(());
    }
    Err(exit_error(status).into())
}

/// Where Go's `exec.LookPath` finds `name`: as given if it has a slash, else the first
/// executable file of that name in a `PATH` directory (an empty entry is the current
/// directory); no `PATH`, no search — unlike the C library's fallback to `/bin:/usr/bin`.
fn look_path(name: &str) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    if name.contains('/') {
        return Some(name.into());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find_map(|dir| {
        let dir = if dir.as_os_str().is_empty() {
            std::path::PathBuf::from(".")
        } else {
            dir
        };
        let candidate = dir.join(name);
        let meta = std::fs::metadata(&candidate).ok()?;
        (meta.is_file() && meta.permissions().mode() & 0o111 != 0).then_some(candidate)
    })
}

/// etcdctl's error for a command that failed: Go's `ExitError` text, and the command's exit
/// status as etcdctl's own (-1, so 255, when a signal ended it).
fn exit_error(status: std::process::ExitStatus) -> CtlError {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => CtlError::new(code, format!("exit status {code}")),
        (None, Some(signal)) => CtlError::new(255, format!("signal: {}", signal_name(signal))),
        (None, None) => CtlError::new(255, "exit status -1"),
    }
}

/// Go's `syscall.Signal.String()` for the signals a command is commonly ended by.
fn signal_name(signal: i32) -> String {
    match signal {
        1 => "hangup".to_string(),
        2 => "interrupt".to_string(),
        3 => "quit".to_string(),
        6 => "aborted".to_string(),
        9 => "killed".to_string(),
        11 => "segmentation fault".to_string(),
        13 => "broken pipe".to_string(),
        15 => "terminated".to_string(),
        other => format!("signal {other}"),
    }
}

/// The text Go gives an errno (`no such file or directory`), which is the C library's in lower
/// case.
fn go_errno_text(error: &std::io::Error) -> String {
    let text = error.to_string();
    let text = text.split(" (os error").next().unwrap_or(&text);
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}
