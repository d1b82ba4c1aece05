//! Where oxcd's server binary lives: `OXCD_BIN`, or the cargo target directory these tests were
//! built into; likewise `oxutl`, `oxadm`, the `oxctl` client and this crate's own `oxlocker`.
//! Real etcd's binaries are found by `oxcd_testkit::etcd`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Overrides the path of the `oxcd` server binary.
pub const OXCD_BIN_ENV: &str = "OXCD_BIN";

/// oxcd's server binary: `OXCD_BIN`, else `oxcd` of the profile the running executable was
/// built with, else of the other profile.
pub fn oxcd() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(OXCD_BIN_ENV) {
        let path = PathBuf::from(path);
        require_file(&path).with_context(|| format!("{OXCD_BIN_ENV} points at a missing file"))?;
        return Ok(path);
    }
    let profile = profile_dir()?;
    let target = profile
        .parent()
        .context("a profile directory has a parent")?;
    let candidates = [
        profile.join("oxcd"),
        target.join("debug").join("oxcd"),
        target.join("release").join("oxcd"),
    ];
    candidates
        .iter()
        .find(|path| path.is_file())
        .cloned()
        .with_context(|| {
            format!(
                "no oxcd binary in {} (build it with `cargo build -p oxcd-server`, or set {OXCD_BIN_ENV})",
                target.display()
            )
        })
}

/// The offline tool `oxutl`, built into the same target directory as the running test.
pub fn oxutl() -> Result<PathBuf> {
    let path = profile_dir()?.join("oxutl");
    require_file(&path)
        .context("build it with `cargo build -p oxcd-utl`")
        .map(|()| path)
}

/// This crate's lock-holder binary `oxlocker`, built next to the running test or binary
/// (Cargo builds a package's binaries for its integration tests).
pub fn oxlocker() -> Result<PathBuf> {
    let path = profile_dir()?.join("oxlocker");
    require_file(&path)
        .context("build it with `cargo build -p oxcd-tests --bin oxlocker`")
        .map(|()| path)
}

/// The `oxctl` client built into the same target directory as the running test.
pub fn oxctl() -> Result<PathBuf> {
    let path = profile_dir()?.join("oxctl");
    require_file(&path)
        .context("build it with `cargo build -p oxcd-ctl --bin oxctl`")
        .map(|()| path)
}

/// The deployment tool `oxadm`, built into the same target directory as the running test
/// (beside the `oxcd` and `oxctl` it runs).
pub fn oxadm() -> Result<PathBuf> {
    let path = profile_dir()?.join("oxadm");
    require_file(&path)
        .context("build it with `cargo build -p oxcd-adm --bin oxadm`")
        .map(|()| path)
}

/// The cargo profile directory (`<target>/debug`, `<target>/release`) of the running
/// executable: test executables live in `<profile>/deps/`, binaries in `<profile>/`.
fn profile_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("locating the running executable")?;
    let in_deps = exe
        .ancestors()
        .find(|dir| dir.file_name().is_some_and(|name| name == "deps"))
        .and_then(Path::parent);
    in_deps
        .or_else(|| exe.parent())
        // cargo marks its target directory with this file.
        .filter(|profile| {
            profile
                .parent()
                .is_some_and(|target| target.join("CACHEDIR.TAG").is_file())
        })
        .map(Path::to_path_buf)
        .with_context(|| {
            format!(
                "{} is not inside a cargo target directory; set {OXCD_BIN_ENV}",
                exe.display()
            )
        })
}

fn require_file(path: &Path) -> Result<()> {
    if path.is_file() {
        Ok(())
    } else {
        bail!("{} does not exist", path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_dir_is_an_ancestor_of_the_test_executable() {
        let profile = profile_dir().expect("profile dir");
        let target = profile.parent().expect("target dir");
        let exe = std::env::current_exe().expect("current exe");
        assert!(exe.starts_with(target), "{exe:?} not under {target:?}");
        assert!(target.join("debug").is_dir() || target.join("release").is_dir());
    }
}
