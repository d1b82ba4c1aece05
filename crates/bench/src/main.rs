//! `oxbench`: parses the command line, runs the benchmark on a multi-threaded tokio runtime
//! and prints the report (text, or JSON with `--json`); `defrag-stall` has a report of its own.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use oxcd_bench::bench::run_benchmark;
use oxcd_bench::cli::{Cli, Command};
use oxcd_bench::defrag_stall;
use oxcd_bench::range::Consistency;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match execute(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("oxbench: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn execute(cli: &Cli) -> Result<()> {
    if !cli.json
        && let Command::Range(args) = &cli.command
        && let Some(consistency) = Consistency::parse(&args.consistency)
    {
        println!("{}", consistency.banner());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    if let Command::DefragStall(args) = &cli.command {
        let report = runtime.block_on(defrag_stall::run(cli, args))?;
        if cli.json {
            println!(
                "{}",
                serde_json::to_string(&report).context("encoding the report")?
            );
        } else {
            println!("{}", report.to_text());
        }
        return Ok(());
    }
    let summary = runtime.block_on(run_benchmark(cli))?;
    if cli.json {
        println!("{}", summary.to_json().context("encoding the summary")?);
    } else {
        println!("{}", summary.to_text());
    }
    Ok(())
}
