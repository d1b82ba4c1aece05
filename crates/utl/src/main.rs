//! `oxutl`: etcdutl's counterpart for oxcd, the offline tool for a member's files. It takes
//! etcdutl 3.5.1's commands, flags and output formats: `snapshot status` and `snapshot restore`
//! (with `--bump-revision`/`--mark-compacted` as later etcdutl releases have them), `defrag`,
//! `backup` (the legacy offline copy of a stopped member, started with `--force-new-cluster`),
//! `version`, and etcdutl 3.6's `hashkv`.
//!
//! `cli` parses the command line as cobra does, `output` prints as etcdutl's printers do, and
//! each command has its own module; the backend work itself lives in `oxcd_mvcc::offline`,
//! `oxcd_server::restore` and `oxcd_server::backup`.

mod backup;
mod cli;
mod defrag;
mod dirs;
mod exit;
mod hashkv;
mod log;
mod output;
mod restore;
mod snapshot_file;
mod status;

use cli::{Action, Invocation, Parsed};
use exit::Failure;

/// The etcd release whose tools oxutl stands in for.
const ETCD_VERSION: &str = "3.5.1";
/// The API version etcdutl 3.5.1 reports.
const API_VERSION: &str = "3.5";

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let code = match cli::parse(&argv) {
        Parsed::Help(text) => {
            print!("{text}");
            0
        }
        Parsed::Refused { text, code } => {
            eprint!("{text}");
            code
        }
        Parsed::Run(inv) => match run(&inv) {
            Ok(()) => 0,
            Err(failure) => {
                eprintln!("Error: {}", failure.message);
                failure.code
            }
        },
    };
    std::process::exit(code);
}

fn run(inv: &Invocation) -> Result<(), Failure> {
    match inv.action {
        Action::SnapshotStatus => {
            print!("{}", status::run(&inv.args, &inv.write_out)?);
            Ok(())
        }
        Action::SnapshotRestore => restore::run(inv),
        Action::SnapshotSave => {
            eprintln!(
                "Command \"save\" is deprecated, Use `etcdctl snapshot save` to download snapshot"
            );
            Err(Failure::bad_args(
                "In order to download snapshot use: `etcdctl snapshot save ...`",
            ))
        }
        Action::Defrag => defrag::run(&inv.string("data-dir")),
        Action::HashKv => {
            print!(
                "{}",
                hashkv::run(&inv.args[0], inv.int("rev"), &inv.write_out)?
            );
            Ok(())
        }
        Action::Version => {
            println!("etcdutl version: {ETCD_VERSION}");
            println!("API version: {API_VERSION}");
            println!("oxutl version: {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Action::Backup => backup::run(inv),
    }
}
