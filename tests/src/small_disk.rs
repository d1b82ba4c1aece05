//! A member's own small disk: a size-limited tmpfs mounted on its data directory (the tests
//! run as root), which a test fills to make the member run out of space, then frees again.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Name of the file that takes up the space in [`SmallDisk::fill`].
const FILLER: &str = "oxt-filler";

/// A tmpfs of a fixed size mounted on a directory; unmounted when dropped.
#[derive(Debug)]
pub struct SmallDisk {
    path: PathBuf,
}

impl SmallDisk {
    /// Creates `path` and mounts a tmpfs of `bytes` on it.
    pub fn mount(path: &Path, bytes: u64) -> Result<SmallDisk> {
        std::fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))?;
        let output = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={bytes},mode=0700"),
                "oxt-small-disk",
            ])
            .arg(path)
            .output()
            .context("running mount (small disks need root)")?;
        if !output.status.success() {
            bail!(
                "mounting a {bytes}-byte tmpfs on {}: {}",
                path.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(SmallDisk {
            path: path.to_path_buf(),
        })
    }

    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes still free.
    pub fn free_bytes(&self) -> Result<u64> {
        let path = CString::new(self.path.as_os_str().as_bytes())?;
        // SAFETY: statvfs(3) on a NUL-terminated path, writing into a zeroed struct we own.
        let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("statvfs {}", self.path.display()));
        }
        Ok(stat.f_bavail as u64 * stat.f_frsize as u64)
    }

    /// Takes all free space but `leave` bytes with a file of real (allocated) blocks.
    ///
    /// The member keeps writing while this runs, so space measured free may be gone by the
    /// time it is allocated: a refused step is retried smaller until less than a page is left.
    pub fn fill(&self, leave: u64) -> Result<()> {
        const PAGE: u64 = 4096;
        let path = self.path.join(FILLER);
        let file =
            std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        use std::os::fd::AsRawFd;
        let mut allocated = 0u64;
        let mut largest_step = u64::MAX;
        loop {
            let wanted = self.free_bytes()?.saturating_sub(leave);
            if wanted < PAGE {
                return Ok(());
            }
            let step = wanted.min(largest_step);
            // SAFETY: posix_fallocate(3) on a file descriptor we own.
            let status = unsafe {
                libc::posix_fallocate(
                    file.as_raw_fd(),
                    allocated as libc::off_t,
                    step as libc::off_t,
                )
            };
            match status {
                0 => allocated += step,
                libc::ENOSPC if step > PAGE => largest_step = step / 2,
                libc::ENOSPC => return Ok(()),
                _ => {
                    return Err(std::io::Error::from_raw_os_error(status))
                        .with_context(|| format!("allocating {step} bytes in {}", path.display()));
                }
            }
        }
    }

    /// Gives back the space [`SmallDisk::fill`] took.
    pub fn free(&self) -> Result<()> {
        let path = self.path.join(FILLER);
        std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        unmount(&self.path);
    }
}

/// Lazily unmounts `path` (a process that still holds a file there does not keep it busy).
pub fn unmount(path: &Path) {
    let _ = Command::new("umount").arg("-l").arg(path).output();
}

/// The mount points at or under `dir`, from `/proc/mounts`.
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(mounts) = std::fs::read_to_string("/proc/mounts") else {
        return Vec::new();
    };
    mounts
        .lines()
        .filter_map(|line| line.split_whitespace().nth(1))
        .map(PathBuf::from)
        .filter(|mount| mount.starts_with(dir))
        .collect()
}
