//! `oxctl`: the etcdctl-compatible command-line client. It accepts etcdctl 3.5's commands,
//! flags and `ETCDCTL_*` variables, and prints the same output, errors and exit codes.

mod cli;
mod command;
mod format;
mod log;
mod out;
mod printer;

use cli::command::Action;
use cli::command_path::{CommandPath, find, strip_flags};
use cli::command_tree::tree;
use cli::exit::Stop;
use cli::global::Context;
use cli::suggest::suggestion_text;
use oxcd_etcd_compat::gotext::quote::quote;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

fn main() {
    std::process::exit(run());
}

/// Runs oxctl with the process's arguments and environment; returns the exit code.
fn run() -> i32 {
    let api = std::env::var("ETCDCTL_API").unwrap_or_default();
    if !api.is_empty() && api != "3" {
        eprintln!("unsupported API version: {api}");
        return 1;
    }
    let environ: Vec<(String, String)> = std::env::vars_os()
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            )
        })
        .filter(|(k, _)| k != "ETCDCTL_API")
        .collect();
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let _ = tracing_subscriber::registry()
        .with(log::client_warnings::ClientWarnings)
        .try_init();

    let root = tree();
    let (path, rest) = find(&root, &args);
    if path.is_root() {
        let words = strip_flags(&rest, &path.flag_set());
        if let Some(first) = words.first() {
            let message = format!(
                "unknown command {} for {}{}",
                quote(first.as_bytes()),
                quote(path.command_path().as_bytes()),
                suggestion_text(&root, first)
            );
            eprintln!("Error: {message}");
            eprintln!("Run 'etcdctl --help' for usage.");
            eprintln!("Error: {message}");
            return 1;
        }
    }

    let mut flags = path.flag_set();
    let positional = match flags.parse(&rest) {
        Ok(positional) => positional,
        Err(error) => {
            eprintln!("Error: {error}");
            show(&cli::usage::render(&path));
            eprintln!();
            eprintln!("Error: {error}");
            return 1;
        }
    };
    let command = path.command();
    let action = match command.action {
        Some(action) if !flags.bool("help") => action,
        _ => {
            show(&cli::usage::render(&path));
            return 0;
        }
    };
    if action == Action::Help {
        return help(&root, &positional);
    }

    let inherited = path.inherited_flags();
    let mut ctx = Context::new(flags, inherited, positional, environ, args.clone());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("Error: {error}");
            return 1;
        }
    };
    let result = runtime.block_on(command::run(action, &mut ctx));
    ctx.out.flush();
    match result {
        Ok(()) => 0,
        Err(Stop::Exit(code)) => code,
        Err(Stop::Fail(error)) => {
            eprintln!("Error: {}", error.message);
            error.code
        }
    }
}

/// `etcdctl help [command]`.
fn help(root: &cli::command::Command, topic: &[String]) -> i32 {
    let (path, rest) = find(root, topic);
    let unknown = path.is_root() && !strip_flags(&rest, &path.flag_set()).is_empty();
    if unknown {
        let words: Vec<String> = topic.iter().map(|t| format!("`{t}`")).collect();
        eprintln!("Unknown help topic [{}]", words.join(" "));
        show(&cli::usage::render(&CommandPath::root(root)));
    } else {
        show(&cli::usage::render(&path));
    }
    0
}

/// Writes usage text to stdout; a closed stdout is ignored, as with etcdctl.
fn show(text: &str) {
    let mut out = out::Out::default();
    out.text(text);
    out.flush();
}
