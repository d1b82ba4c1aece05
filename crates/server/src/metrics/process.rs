//! The standard `process_*` metrics, read from `/proc/self` at scrape time the way Prometheus's
//! Go process collector reads them (CPU ticks at the fixed user HZ of 100). Off Linux, or if
//! `/proc` is unreadable, the values that cannot be read are left out.

use std::fs;

use super::text::{Exposition, Kind};

/// Linux reports CPU times in ticks of 1/100 s to user space, whatever the kernel's HZ.
const USER_HZ: f64 = 100.0;

/// Adds every process metric that can be read.
pub(crate) fn collect(out: &mut Exposition) {
    if let Some(stat) = ProcStat::read() {
        out.single(
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
            Kind::Counter,
            stat.cpu_seconds,
        );
        out.single(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            Kind::Gauge,
            stat.virtual_bytes,
        );
        out.single(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            Kind::Gauge,
            stat.resident_bytes,
        );
        if let Some(boot) = boot_time_seconds() {
            out.single(
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                Kind::Gauge,
                boot + stat.start_ticks / USER_HZ,
            );
        }
    }
    if let Ok(fds) = fs::read_dir("/proc/self/fd") {
        let open = fds.count() as f64;
        out.single(
            "process_open_fds",
            "Number of open file descriptors.",
            Kind::Gauge,
            open,
        );
        // etcd reports them again under its own name.
        out.single(
            "os_fd_used",
            "The number of used file descriptors.",
            Kind::Gauge,
            open,
        );
    }
    if let Ok(limits) = fs::read_to_string("/proc/self/limits") {
        if let Some(max) = soft_limit(&limits, "Max open files") {
            out.single(
                "process_max_fds",
                "Maximum number of open file descriptors.",
                Kind::Gauge,
                max,
            );
            out.single(
                "os_fd_limit",
                "The file descriptor limit.",
                Kind::Gauge,
                max,
            );
        }
        if let Some(max) = soft_limit(&limits, "Max address space") {
            out.single(
                "process_virtual_memory_max_bytes",
                "Maximum amount of virtual memory available in bytes.",
                Kind::Gauge,
                max,
            );
        }
    }
}

/// The fields of `/proc/self/stat` the metrics need.
struct ProcStat {
    cpu_seconds: f64,
    start_ticks: f64,
    virtual_bytes: f64,
    resident_bytes: f64,
}

impl ProcStat {
    fn read() -> Option<ProcStat> {
        let stat = fs::read_to_string("/proc/self/stat").ok()?;
        let status = fs::read_to_string("/proc/self/status").ok()?;
        Self::parse(&stat, &status)
    }

    fn parse(stat: &str, status: &str) -> Option<ProcStat> {
        // The command name may hold spaces and parentheses; fields resume after the last ')'.
        let rest = &stat[stat.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // `rest` starts at field 3 (state), so field N of proc(5) is fields[N - 3].
        let field = |n: usize| fields.get(n - 3)?.parse::<f64>().ok();
        let resident_kib = resident_kib(status)?;
        Some(ProcStat {
            cpu_seconds: (field(14)? + field(15)?) / USER_HZ,
            start_ticks: field(22)?,
            virtual_bytes: field(23)?,
            resident_bytes: resident_kib * 1024.0,
        })
    }
}

/// The resident set size, in KiB, from the text of `/proc/<pid>/status`.
pub(crate) fn resident_kib(status: &str) -> Option<f64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
}

fn boot_time_seconds() -> Option<f64> {
    fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// The soft limit of a `/proc/self/limits` row; "unlimited" is reported as the largest u64,
/// as the Go collector does.
fn soft_limit(limits: &str, row: &str) -> Option<f64> {
    let line = limits.lines().find(|l| l.starts_with(row))?;
    let soft = line[row.len()..].split_whitespace().next()?;
    if soft == "unlimited" {
        Some(u64::MAX as f64)
    } else {
        soft.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_awkward_command_names() {
        let stat = "1234 (my (odd) cmd) S 1 1234 1234 0 -1 4194560 100 0 0 0 150 50 0 0 20 0 \
                    8 0 4242 11482640384 7000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1";
        let status = "Name:\tx\nVmRSS:\t   27948 kB\n";
        let s = ProcStat::parse(stat, status).expect("parses");
        assert_eq!(s.cpu_seconds, 2.0);
        assert_eq!(s.start_ticks, 4242.0);
        assert_eq!(s.virtual_bytes, 11_482_640_384.0);
        assert_eq!(s.resident_bytes, 27948.0 * 1024.0);
    }

    #[test]
    fn reads_soft_limits() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            20000                20000                files\n\
                      Max address space         unlimited            unlimited            bytes\n";
        assert_eq!(soft_limit(limits, "Max open files"), Some(20000.0));
        assert_eq!(
            soft_limit(limits, "Max address space"),
            Some(u64::MAX as f64)
        );
    }

    #[test]
    fn collects_this_process_on_linux() {
        let mut e = Exposition::default();
        collect(&mut e);
        let text = e.render();
        for name in [
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_open_fds",
            "process_start_time_seconds",
            "process_max_fds",
        ] {
            assert!(
                text.contains(&format!("\n{name} ")),
                "{name} missing:\n{text}"
            );
        }
    }
}
