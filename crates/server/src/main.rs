//! `oxcd`: the server binary. Parses etcd's flags, `ETCD_*` variables and config file, sets up
//! etcd-style logging, and runs the member.

use std::collections::HashMap;

use oxcd_etcd_compat::{config, logging};
use oxcd_server::{fail_stop, run};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let env: HashMap<String, String> = std::env::vars().collect();
    match config::parse(args.iter().skip(1).cloned(), &env) {
        Ok(config::ParseOutcome::Run(cfg)) => {
            let _guard = match logging::init(&cfg.log) {
                Ok(guard) => guard,
                Err(e) => std::process::exit(logging::report_config_error(&args, &e.into())),
            };
            logging::log_startup(&args, &cfg.notices);
            fail_stop::install_panic_hook();
            let _crash_points = fail_stop::arm_crash_points();
            std::process::exit(run::run(*cfg));
        }
        Ok(config::ParseOutcome::PrintVersion(text)) => print!("{text}"),
        Ok(config::ParseOutcome::PrintHelp(help)) => {
            eprint!("{}", help.usage);
            print!("{}", help.flags);
        }
        Err(e) => std::process::exit(logging::report_config_error(&args, &e)),
    }
}
