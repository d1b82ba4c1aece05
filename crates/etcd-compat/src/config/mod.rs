//! etcd-compatible configuration: flags, `ETCD_*` variables and the YAML config file, read
//! with etcd 3.5.1's names, defaults, precedence, validation and messages.
//!
//! [`parse`] is the entry point. On the command line Go's flag syntax applies; `ETCD_*`
//! variables fill the flags the command line did not give (a variable for a flag that *was*
//! given is a fatal conflict, as in etcd); with `--config-file` (or `ETCD_CONFIG_FILE`) the
//! file alone decides and other flags and variables are ignored. Errors carry etcd's text,
//! how etcd reports them and its exit code; [`crate::logging::report_config_error`] prints
//! them exactly as etcd does. A flag oxcd accepts but cannot honour yet (TLS, `https://`
//! URLs, auth, ...) is refused when set to anything but etcd's default,
//! naming the flag, whichever of the three sources set it; `flag_table.rs` lists the few
//! flags that are accepted and ignored, and what becomes of the etcd flags oxcd leaves out.
//!
//! This is what `oxcd`'s `main` does:
//!
//! ```no_run
//! use std::collections::HashMap;
//! use oxcd_etcd_compat::{config, logging};
//!
//! let args: Vec<String> = std::env::args().collect();
//! let env: HashMap<String, String> = std::env::vars().collect();
//! match config::parse(args.iter().skip(1).cloned(), &env) {
//!     Ok(config::ParseOutcome::Run(cfg)) => {
//!         let _guard = match logging::init(&cfg.log) {
//!             Ok(guard) => guard,
//!             Err(e) => std::process::exit(logging::report_config_error(&args, &e.into())),
//!         };
//!         logging::log_startup(&args, &cfg.notices);
//!         // oxcd then installs its panic hook and runs the member with `*cfg`; a failed
//!         // start (such as `cfg.bootstrap_cluster()` rejecting the initial cluster) is
//!         // reported with `logging::report_start_failure` and exits with its code.
//!     }
//!     Ok(config::ParseOutcome::PrintVersion(text)) => print!("{text}"),
//!     Ok(config::ParseOutcome::PrintHelp(help)) => {
//!         eprint!("{}", help.usage);
//!         print!("{}", help.flags);
//!     }
//!     Err(e) => std::process::exit(logging::report_config_error(&args, &e)),
//! }
//! ```

mod bootstrap;
mod command_line;
mod env;
mod error;
mod flag_spec;
mod flag_table;
mod go_url;
pub(crate) mod help;
mod ids;
mod initial_cluster;
mod log_config;
mod server_config;
mod settings;
mod unsupported;
mod validate;
mod version;
mod yaml_file;

use std::collections::HashMap;

pub use bootstrap::BootstrapCluster;
pub use error::{ConfigError, ErrorReport, Notice, NoticeStage};
pub use go_url::Url;
pub use ids::added_member_id;
pub use initial_cluster::{InitialCluster, InitialMember};
pub use log_config::{LogConfig, LogOutput};
pub use server_config::{
    AutoCompaction, ClusterState, ExperimentalConfig, ServerConfig, TlsConfig,
};
use version::version_text;

use command_line::Scan;
use settings::{MIN_RAFT_CONN_TIMEOUT_NANOS, Settings};

use crate::gotext::zap::{Field, Level};

/// What the command line asks for.
#[derive(Debug)]
pub enum ParseOutcome {
    /// Start the server with this configuration.
    Run(Box<ServerConfig>),
    /// `--version`: print this text on stdout and exit 0.
    PrintVersion(String),
    /// `-h` / `--help`: print `usage` on stderr and `flags` on stdout, then exit 0.
    PrintHelp(HelpText),
}

/// The two parts of `--help`, which etcd writes to different streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelpText {
    /// The usage summary (etcd writes it to stderr).
    pub usage: String,
    /// The flag reference (etcd writes it to stdout).
    pub flags: String,
}

/// The variable that names a config file when `--config-file` is not given.
const CONFIG_FILE_VAR: &str = "ETCD_CONFIG_FILE";

/// Reads the server configuration from `args` (the arguments after the program name) and
/// the process environment `env`, exactly as etcd 3.5.1 would.
pub fn parse(
    args: impl IntoIterator<Item = String>,
    env: &HashMap<String, String>,
) -> Result<ParseOutcome, ConfigError> {
    let args: Vec<String> = args.into_iter().collect();
    let mut settings = Settings::flag_defaults();
    let mut line = match command_line::scan(&args, &mut settings)? {
        Scan::Help => {
            return Ok(ParseOutcome::PrintHelp(HelpText {
                usage: help::usage(),
                flags: help::flags(),
            }));
        }
        Scan::Flags(line) => line,
    };
    if let Some(first) = line.positional.first() {
        return Err(ConfigError::verify(
            format!("'{first}' is not a valid flag"),
            None,
        ));
    }
    if settings.print_version {
        return Ok(ParseOutcome::PrintVersion(version_text()));
    }

    let config_file = match settings.config_file.as_str() {
        "" => env.get(CONFIG_FILE_VAR).cloned().unwrap_or_default(),
        given => given.to_string(),
    };
    let (settings, log, notices) = if config_file.is_empty() {
        let mut notices = Vec::new();
        env::apply(env, &mut settings, &mut line, &mut notices)?;
        raise_raft_timeouts(&mut settings, &mut notices);
        let advertise_cleared =
            line.is_set("listen-client-urls") && !line.is_set("advertise-client-urls");
        match validate::validate(&settings, advertise_cleared) {
            Ok(log) => (settings, log, notices),
            Err(e) => return Err(e.with_notices(notices)),
        }
    } else {
        let loaded = yaml_file::load(&config_file)?;
        let loaded_notice = Notice::new(
            NoticeStage::ConfigLoaded,
            Level::Info,
            "loaded server configuration, other configuration command line flags and environment variables will be ignored if provided",
            vec![Field::str("path", config_file.clone())],
        );
        let mut notices = vec![loaded_notice];
        notices.extend(loaded.notices);
        match validate::validate(&loaded.settings, false) {
            Ok(log) => (loaded.settings, log, notices),
            // etcd validates the file into a configuration it then discards, so the logger
            // set up on the way is lost: the failure goes to its bootstrap logger and the
            // "loaded" line is never written.
            Err(e) => {
                notices.remove(0);
                let e = match e.report() {
                    ErrorReport::VerifyFlags { .. } => ConfigError::verify(e.message(), None),
                    _ => e,
                };
                return Err(e.with_notices(notices));
            }
        }
    };
    let cfg = server_config::resolve(settings, log, notices)?;
    if let Err(message) = unsupported::refuse_unsupported(&cfg) {
        return Err(ConfigError::verify(message, Some(cfg.log.clone())).with_notices(cfg.notices));
    }
    Ok(ParseOutcome::Run(Box::new(cfg)))
}

/// etcd raises peer connection timeouts below 5s to 5s, saying so.
fn raise_raft_timeouts(settings: &mut Settings, notices: &mut Vec<Notice>) {
    for (name, value) in [
        ("raft-read-timeout", &mut settings.raft_read_timeout),
        ("raft-write-timeout", &mut settings.raft_write_timeout),
    ] {
        if *value < MIN_RAFT_CONN_TIMEOUT_NANOS {
            *value = MIN_RAFT_CONN_TIMEOUT_NANOS;
            notices.push(Notice::new(
                NoticeStage::FlagParsing,
                Level::Info,
                format!("{name} increased to minimum value: 5s"),
                Vec::new(),
            ));
        }
    }
}

#[cfg(test)]
mod etcd_oracle_tests;
#[cfg(test)]
mod flag_table_tests;
#[cfg(test)]
mod tests;
