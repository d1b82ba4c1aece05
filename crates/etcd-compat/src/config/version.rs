//! What `--version` prints: etcd's four lines, so scripts that grep `etcd Version: 3.5.1`
//! keep working, with oxcd's own build in place of etcd's Git SHA and Go toolchain.

/// The etcd release whose API and behaviour oxcd implements.
pub(super) const ETCD_VERSION: &str = "3.5.1";

/// oxcd's own version.
pub(super) const OXCD_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The `--version` output: etcd's line layout with oxcd's identity
/// (`Git SHA: oxcd-<version>`, `Go Version: rust (oxcd <version>)`) and Go's names for the
/// platform (`linux/amd64`).
pub(super) fn version_text() -> String {
    format!(
        "etcd Version: {ETCD_VERSION}\nGit SHA: oxcd-{OXCD_VERSION}\nGo Version: rust (oxcd {OXCD_VERSION})\nGo OS/Arch: {}/{}\n",
        std::env::consts::OS,
        go_arch(std::env::consts::ARCH)
    )
}

/// Go's `GOARCH` name for a Rust target architecture.
fn go_arch(arch: &str) -> &str {
    match arch {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_lines_in_etcds_order() {
        let text = version_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0], "etcd Version: 3.5.1");
        assert!(lines[1].starts_with("Git SHA: oxcd-"));
        assert!(lines[2].starts_with("Go Version: "));
        assert!(lines[3].starts_with("Go OS/Arch: "));
        assert_eq!(go_arch("x86_64"), "amd64");
        assert_eq!(go_arch("aarch64"), "arm64");
    }
}
