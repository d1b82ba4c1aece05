//! The text `--help` prints and flag errors end with, in etcd's layout: a usage summary (on
//! stderr) and the flag list generated from the flag table (on stdout).

use std::fmt::Write as _;

use super::flag_spec::Section;
use super::flag_table::FLAGS;

/// The usage summary: etcd prints it on stderr for `--help` and after every flag error.
pub(crate) fn usage() -> String {
    "Usage:

  oxcd [flags]
    Start an oxcd server (etcd v3.5 compatible).

  oxcd --version
    Show the version of oxcd.

  oxcd -h | --help
    Show the help information about oxcd.

  oxcd --config-file
    Read every setting from a YAML configuration file; command-line flags and environment variables are then ignored.
"
    .to_string()
}

/// The flag reference etcd prints on stdout for `--help`, listing every flag oxcd accepts
/// with its default.
pub(crate) fn flags() -> String {
    let mut out = String::from("\n");
    for (section, heading) in Section::LISTED {
        let _ = writeln!(out, "{heading}:");
        for flag in FLAGS.iter().filter(|f| f.section == section) {
            let _ = writeln!(out, "  --{} '{}'", flag.name, flag.default);
            let _ = writeln!(out, "    {}", flag.help);
        }
        out.push('\n');
    }
    out.push_str(
        "Every flag can also be set with an ETCD_* environment variable (e.g. ETCD_DATA_DIR for --data-dir).\n\
         Unsafe flags can break the guarantees of the consensus protocol: use them with care!\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_starts_like_etcds() {
        assert!(usage().starts_with("Usage:\n\n  oxcd [flags]\n"));
    }

    #[test]
    fn every_listed_flag_appears_once_with_its_default() {
        let text = flags();
        assert!(text.contains("\nMember:\n  --"));
        assert!(text.contains("  --name 'default'\n    "));
        assert!(text.contains("  --data-dir '${name}.etcd'\n"));
        assert!(text.contains("  --initial-cluster 'default=http://localhost:2380'\n"));
        assert!(text.contains("  --max-request-bytes '1572864'\n"));
        for flag in FLAGS.iter().filter(|f| f.section != Section::Hidden) {
            let needle = format!("  --{} '", flag.name);
            assert_eq!(text.matches(&needle).count(), 1, "{}", flag.name);
        }
        assert!(
            !text.contains("--cluster-active-size"),
            "ignored flags are not advertised"
        );
    }
}
