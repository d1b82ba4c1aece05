//! `go-humanize`'s `Bytes`: SI units (base 1000) with one decimal below 10, as etcdctl
//! prints DB sizes ("20 kB") and etcd logs its quota ("2.1 GB").

/// Formats a byte count like `humanize.Bytes`.
pub fn bytes(size: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    if size < 10 {
        return format!("{size} B");
    }
    let size = size as f64;
    let exponent = (size.ln() / 1000f64.ln()).floor();
    let unit = UNITS[(exponent as usize).min(UNITS.len() - 1)];
    let value = (size / 1000f64.powf(exponent) * 10.0 + 0.5).floor() / 10.0;
    if value < 10.0 {
        format!("{value:.1} {unit}")
    } else {
        format!("{value:.0} {unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_go_humanize() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(9), "9 B");
        assert_eq!(bytes(10), "10 B");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(1000), "1.0 kB");
        assert_eq!(bytes(16384), "16 kB");
        assert_eq!(bytes(20480), "20 kB");
        assert_eq!(bytes(24576), "25 kB");
        assert_eq!(bytes(2_500_000), "2.5 MB");
        assert_eq!(bytes(1_048_576), "1.0 MB");
    }
}
