//! `oxbench`: parses the command line, runs the benchmark on a multi-threaded tokio runtime
//! and prints the report (text, or JSON with `--json`).

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use oxcd_bench::bench::run_benchmark;
use oxcd_bench::cli::{Cli, Command};
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
    let summary = runtime.block_on(run_benchmark(cli))?;
    if cli.json {
        println!("{}", summary.to_json().context("encoding the summary")?);
    } else {
        println!("{}", summary.to_text());
    }
    Ok(())
}
