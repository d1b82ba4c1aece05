//! cobra's help and usage texts, as etcdutl prints them: the usage line, the subcommands, and
//! the flags aligned as pflag aligns them, then the global `-w` flag.

use super::tree::{Kind, PROGRAM, WRITE_OUT_USAGE, name_of, spec};

/// cobra's usage text of the command at `path`, which is also its help (etcdutl's commands
/// print no description above it).
pub(super) fn usage(path: &str) -> String {
    let s = spec(path);
    let full = if path.is_empty() {
        PROGRAM.to_owned()
    } else {
        format!("{PROGRAM} {path}")
    };
    let mut out = String::from("Usage:\n");
    if s.children.is_empty() {
        let mut line = format!("  {full}");
        if !s.use_args.is_empty() {
            line.push(' ');
            line.push_str(s.use_args);
        }
        line.push_str(" [flags]");
        out.push_str(&line);
        out.push('\n');
    } else {
        out.push_str(&format!("  {full} [command]\n"));
        out.push_str("\nAvailable Commands:\n");
        for child in s.children.iter().filter(|c| !spec(c).hidden) {
            out.push_str(&format!("  {:<11} {}\n", name_of(child), spec(child).short));
        }
    }
    let help_line = (
        "-h, --help".to_owned(),
        format!("help for {}", name_of(&full)),
    );
    let mut lines: Vec<(String, String)> = Vec::new();
    for f in s.flags {
        let kind = match f.kind {
            Kind::Str => " string",
            Kind::Bool => "",
            Kind::Uint => " uint",
            Kind::Int => " int",
        };
        let default = match f.kind {
            Kind::Str if !f.default.is_empty() => format!(" (default \"{}\")", f.default),
            Kind::Bool if f.default == "true" => " (default true)".to_owned(),
            _ => String::new(),
        };
        lines.push((
            format!("    --{}{kind}", f.name),
            format!("{}{default}", f.usage),
        ));
    }
    if path.is_empty() {
        lines.push(help_line);
        lines.push((
            "-w, --write-out string".to_owned(),
            WRITE_OUT_USAGE.to_owned(),
        ));
    } else {
        lines.push(help_line);
    }
    lines.sort_by(|a, b| flag_sort_key(&a.0).cmp(flag_sort_key(&b.0)));
    out.push_str("\nFlags:\n");
    out.push_str(&flag_lines(&lines));
    if !path.is_empty() {
        out.push_str("\nGlobal Flags:\n");
        out.push_str(&flag_lines(&[(
            "-w, --write-out string".to_owned(),
            WRITE_OUT_USAGE.to_owned(),
        )]));
    }
    if !s.children.is_empty() {
        out.push_str(&format!(
            "\nUse \"{full} [command] --help\" for more information about a command.\n"
        ));
    }
    out
}

/// Flags sort by long name, as pflag lists them.
fn flag_sort_key(line: &str) -> &str {
    line.split("--").nth(1).unwrap_or(line)
}

/// pflag's `FlagUsages`: names padded to the longest, then three spaces and the usage.
fn flag_lines(lines: &[(String, String)]) -> String {
    let width = lines.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    lines
        .iter()
        .map(|(name, text)| format!("  {name:<width$}   {text}\n"))
        .collect()
}
