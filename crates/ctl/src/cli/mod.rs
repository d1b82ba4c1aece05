//! Command-line handling with cobra's and pflag's exact behaviour: the command tree, flag
//! parsing and its error messages, usage text, `ETCDCTL_*` environment variables, exit codes.

pub mod command;
pub mod command_path;
pub mod command_tree;
pub mod default_usage;
pub mod env;
pub mod exit;
pub mod flag;
pub mod global;
mod maintenance_commands;
pub mod suggest;
pub mod usage;
