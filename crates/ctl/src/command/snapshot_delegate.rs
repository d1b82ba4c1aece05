//! `snapshot status|restore`: deprecated in etcdctl 3.5, which prints a warning and runs
//! etcdutl's code. oxctl prints the same warning and runs `oxutl snapshot status|restore`
//! (the binary next to `oxctl`, else on `PATH`) with the same arguments and flags.

use crate::cli::exit::{CtlError, Stop};
use crate::cli::global::Context;
use std::path::{Path, PathBuf};

/// The offline tool that owns snapshot files.
const OXUTL: &str = "oxutl";

/// `etcdctl snapshot status <file>`.
pub fn status(ctx: &mut Context) -> Result<(), Stop> {
    delegate(ctx, "status")
}

/// `etcdctl snapshot restore <file> [options]`.
pub fn restore(ctx: &mut Context) -> Result<(), Stop> {
    delegate(ctx, "restore")
}

fn delegate(ctx: &mut Context, sub: &str) -> Result<(), Stop> {
    ctx.out.err_line(&format!(
        "Deprecated: Use `etcdutl snapshot {sub}` instead.\n"
    ));
    let oxutl = find_oxutl().ok_or_else(|| {
        CtlError::error(format!(
            "`snapshot {sub}` is run by {OXUTL}, which was found neither next to oxctl nor on PATH; install {OXUTL} or run `{OXUTL} snapshot {sub}` directly"
        ))
    })?;
    let args = forwarded_args(ctx, sub);
    ctx.out.flush();
    let status = std::process::Command::new(&oxutl)
        .args(&args)
        .status()
        .map_err(|e| CtlError::error(format!("running {}: {e}", oxutl.display())))?;
    match status.code() {
        Some(0) => Ok(()),
        Some(code) => Err(Stop::Exit(code)),
        // Killed by a signal: a failure with oxutl's own report already printed.
        None => Err(Stop::Exit(1)),
    }
}

/// `snapshot <sub>`, the command's own flags that were given, `--write-out` when given (etcdutl
/// reads it too), then the positional arguments. Client flags (`--endpoints`, ...) mean
/// nothing offline and are not passed on.
fn forwarded_args(ctx: &Context, sub: &str) -> Vec<String> {
    let mut args = vec!["snapshot".to_string(), sub.to_string()];
    let own =
        ctx.flags.specs().iter().filter(|spec| {
            spec.name != "help" && !ctx.inherited.iter().any(|i| i.name == spec.name)
        });
    for spec in own {
        if ctx.flags.changed(spec.name) {
            args.push(format!("--{}={}", spec.name, ctx.flags.display(spec.name)));
        }
    }
    if ctx.flags.changed("write-out") {
        args.push(format!("--write-out={}", ctx.flags.string("write-out")));
    }
    if !ctx.args.is_empty() {
        args.push("--".to_string());
        args.extend(ctx.args.iter().cloned());
    }
    args
}

/// `oxutl` beside the running executable, else the first on `PATH`.
fn find_oxutl() -> Option<PathBuf> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(OXUTL)))
        .filter(|path| is_executable(path));
    beside.or_else(|| {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .map(|dir| dir.join(OXUTL))
            .find(|candidate| is_executable(candidate))
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
