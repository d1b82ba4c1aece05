//! `oxadm down`: stops every member of a cluster file on its host — its supervisor gets
//! SIGTERM and stops oxcd gracefully (SIGKILL after a grace period) — and leaves the data.

use anyhow::{Context, Result};
use futures::future::join_all;

use crate::cluster_file::ClusterFile;
use crate::host::{Host, quote};

/// Seconds a supervisor may take to stop its member before both are killed.
const STOP_GRACE_SECONDS: u32 = 20;

/// Stops every member of `file`; `file_dir` is where relative local paths start.
pub async fn down(file: &ClusterFile, file_dir: &std::path::Path) -> Result<()> {
    let stops = file.members.iter().map(|member| async move {
        let host = Host::of(member, &file.ssh_options);
        let base = match host {
            Host::Ssh(_) => ".".to_owned(),
            Host::Local => file_dir.to_string_lossy().into_owned(),
        };
        let script = stop_script(&base, &file.home, &member.name);
        let said = host
            .run(&script, b"")
            .await
            .with_context(|| format!("stopping {} on {}", member.name, host.describe()))?;
        println!("{}: {} ({})", member.name, said.trim(), host.describe());
        Ok::<(), anyhow::Error>(())
    });
    join_all(stops)
        .await
        .into_iter()
        .collect::<Result<Vec<()>>>()?;
    Ok(())
}

/// Prints `stopped` or `not running`.
fn stop_script(base: &str, home: &str, name: &str) -> String {
    format!(
        r#"cd {base} && cd {home} 2>/dev/null && cd {name} 2>/dev/null || {{ echo "not running"; exit 0; }}
running() {{ [ -r /proc/$1/stat ] && [ "$(awk '{{print $3}}' /proc/$1/stat)" != Z ]; }}
pid=$(cat supervisor.pid 2>/dev/null || true)
if [ -z "$pid" ] || ! running "$pid" || ! tr '\0' ' ' < /proc/$pid/cmdline | grep -q supervise; then echo "not running"; exit 0; fi
kill -TERM "$pid"
i=0
while running "$pid" && [ $i -lt {ticks} ]; do sleep 0.1; i=$((i + 1)); done
if running "$pid"; then kill -KILL "$pid"; echo "killed after {STOP_GRACE_SECONDS}s"; else echo stopped; fi
"#,
        base = quote(base),
        home = quote(home),
        name = quote(name),
        ticks = STOP_GRACE_SECONDS * 10,
    )
}
