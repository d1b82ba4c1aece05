//! `oxrobust`: long robustness runs on demand (the default test suite runs short ones).
//!
//! ```text
//! oxrobust [--server oxcd|etcd] [--members 3] [--duration 300] [--runs 1] [--seed N]
//!          [--faults kill,pause,isolate-leader,split-minority,bridge,rolling-restart]
//!          (or link faults, not mixable with partitions: slow-peers,lossy-peers,blackhole-peer)
//!          (crash-point: oxcd built with `--features oxcd-server/failpoints`; disk-full:
//!          root, each member's data dir on a 160 MiB tmpfs)
//!          [--clients 8] [--keys 6] [--snapshot-count N] [--unsafe] [--summary FILE]
//! oxrobust --workload locks [--server oxcd|etcd] [--members 3] [--duration 300] [--runs 1]
//!          [--seed N] [--holders 4] [--campaigners 3] [--unsafe] [--summary FILE]
//!          [--faults kill-holder,pause-holder,isolate-holder,kill-leader,kill-campaigner]
//! ```
//!
//! `--workload locks` runs `oxlocker` processes instead of the KV clients: holders contending
//! for a lock (each in a network namespace of its own) and campaigners for an election, while
//! the current holder is killed, paused or cut off, the leader member or the leading
//! campaigner killed. Each fault must be followed by a new holder within TTL + election
//! timeout (+ slack), and the guarded writes read back must never interleave. There `--unsafe`
//! makes the holders write without the guard, to see the checks catch a paused or cut-off
//! holder writing after it lost the lock.
//!
//! Each run uses seed `N + run`; the summary (printed, and written to `--summary`) gives per
//! run and in total the operations checked, faults injected by kind and every violation with
//! its minimal failing history. `--unsafe` counts serializable reads as linearizable, to see
//! the checker catch their staleness. Exits 1 if any run found a violation, 2 if a run could
//! not be carried out.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use oxcd_tests::Server;
use oxcd_tests::cli_flags::flags;
use oxcd_tests::locks::run::{self as lock_run, LockFault, LockRunSpec};
use oxcd_tests::robustness::checker::ReadPolicy;
use oxcd_tests::robustness::faults::FaultKind;
use oxcd_tests::robustness::runner::{self, RunSpec};

struct Options {
    spec: RunSpec,
    runs: u64,
    summary: Option<String>,
}

/// Options of `--workload locks`.
struct LockOptions {
    spec: LockRunSpec,
    runs: u64,
    summary: Option<String>,
}

/// The workload a command line asks for.
enum Workload {
    Kv(Options),
    Locks(LockOptions),
}

fn parse_workload(args: &[String]) -> Result<Workload> {
    match args.iter().position(|arg| arg == "--workload") {
        None => parse(args).map(Workload::Kv),
        Some(at) => {
            let value = args.get(at + 1).context("--workload needs a value")?;
            let rest: Vec<String> = args[..at].iter().chain(&args[at + 2..]).cloned().collect();
            match value.as_str() {
                "kv" => parse(&rest).map(Workload::Kv),
                "locks" => parse_locks(&rest).map(Workload::Locks),
                _ => bail!("unknown workload {value:?} (kv or locks)"),
            }
        }
    }
}

fn parse_locks(args: &[String]) -> Result<LockOptions> {
    let mut spec = LockRunSpec::new(Server::Oxcd, 3, Duration::from_secs(300), 1);
    let mut runs = 1;
    let mut summary = None;
    for flag in flags(args, &["--unsafe"]) {
        let flag = flag?;
        match flag.name {
            "--unsafe" => spec.unguarded = true,
            "--server" => spec.server = flag.value.parse()?,
            "--members" => spec.members = flag.number()? as usize,
            "--duration" => spec.duration = Duration::from_secs(flag.number()?),
            "--runs" => runs = flag.number()?,
            "--seed" => spec.seed = flag.number()?,
            "--holders" => spec.holders = flag.number()? as usize,
            "--campaigners" => spec.campaigners = flag.number()? as usize,
            "--faults" => {
                spec.faults = flag
                    .value
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<Vec<LockFault>>>()?
            }
            "--summary" => summary = Some(flag.value.to_string()),
            name => bail!("{name} is not an option of --workload locks"),
        }
    }
    if spec.holders < 2 || spec.campaigners < 2 {
        bail!("--holders and --campaigners must be at least 2 (a fault needs a successor)");
    }
    Ok(LockOptions {
        spec,
        runs,
        summary,
    })
}

async fn run_locks(options: &LockOptions) -> Result<(String, bool)> {
    let mut text = String::new();
    let mut all_passed = true;
    for run in 0..options.runs {
        let mut spec = options.spec.clone();
        spec.seed = options.spec.seed.wrapping_add(run);
        let summary = lock_run::run(spec)
            .await
            .with_context(|| format!("run {} of {}", run + 1, options.runs))?;
        let rendered = summary.render();
        println!("{rendered}");
        text.push_str(&rendered);
        text.push('\n');
        all_passed &= summary.passed();
    }
    Ok((text, all_passed))
}

fn parse(args: &[String]) -> Result<Options> {
    let mut spec = RunSpec::new(Server::Oxcd, 3, Duration::from_secs(300), 1);
    let mut runs = 1;
    let mut summary = None;
    for flag in flags(args, &["--unsafe"]) {
        let flag = flag?;
        match flag.name {
            "--unsafe" => spec.reads = ReadPolicy::IncludeSerializable,
            "--server" => spec.server = flag.value.parse()?,
            "--members" => spec.members = flag.number()? as usize,
            "--duration" => spec.duration = Duration::from_secs(flag.number()?),
            "--runs" => runs = flag.number()?,
            "--seed" => spec.seed = flag.number()?,
            "--clients" => spec.clients = flag.number()? as usize,
            "--keys" => spec.keys = flag.number()? as usize,
            "--snapshot-count" => {
                spec.server_args = vec!["--snapshot-count".into(), flag.number()?.to_string()]
            }
            "--faults" => {
                spec.faults = flag
                    .value
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<Vec<FaultKind>>>()?
            }
            "--summary" => summary = Some(flag.value.to_string()),
            name => bail!("unknown option {name}"),
        }
    }
    if spec.keys < 2 {
        bail!("--keys must be at least 2 (multi-key txns need two)");
    }
    Ok(Options {
        spec,
        runs,
        summary,
    })
}

async fn run_all(options: &Options) -> Result<(String, bool)> {
    let mut text = String::new();
    let mut all_passed = true;
    let (mut checked, mut violations) = (0, 0);
    let mut injected: BTreeMap<FaultKind, usize> = BTreeMap::new();
    let mut stopped = 0;
    for run in 0..options.runs {
        let mut spec = options.spec.clone();
        spec.seed = options.spec.seed.wrapping_add(run);
        let summary = runner::run(spec)
            .await
            .with_context(|| format!("run {} of {}", run + 1, options.runs))?;
        let rendered = summary.render();
        println!("{rendered}");
        text.push_str(&rendered);
        text.push('\n');
        all_passed &= summary.passed();
        checked += summary.checked;
        violations += summary.violations.len() + summary.broken.len();
        for (kind, n) in &summary.injected {
            *injected.entry(*kind).or_insert(0) += n;
        }
        stopped += summary.stops.values().map(|(hit, _)| hit).sum::<usize>();
    }
    let faults: Vec<String> = injected.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let total = format!(
        "total: {} runs, {checked} operations checked, faults injected: {}, {stopped} members stopped by crash points or full disks; {violations} violations\n",
        options.runs,
        faults.join(", ")
    );
    println!("{total}");
    text.push_str(&total);
    Ok((text, all_passed))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let workload = match parse_workload(&args) {
        Ok(workload) => workload,
        Err(error) => {
            eprintln!("oxrobust: {error:#}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let (outcome, summary) = match &workload {
        Workload::Kv(options) => (runtime.block_on(run_all(options)), &options.summary),
        Workload::Locks(options) => (runtime.block_on(run_locks(options)), &options.summary),
    };
    match outcome {
        Ok((text, passed)) => {
            if let Some(path) = summary
                && let Err(error) = std::fs::write(path, text)
            {
                eprintln!("oxrobust: writing {path}: {error}");
                std::process::exit(2);
            }
            std::process::exit(if passed { 0 } else { 1 });
        }
        Err(error) => {
            eprintln!("oxrobust: {error:#}");
            std::process::exit(2);
        }
    }
}
