//! The Prometheus text exposition format (version 0.0.4), written the way Go's client library
//! writes it — families sorted by name, `# HELP`/`# TYPE` lines, numbers formatted like Go's
//! `strconv.FormatFloat(v, 'g', -1, 64)` — so that a scrape of oxcd reads like a scrape of etcd.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use oxcd_raft::metrics::HistogramSnapshot;

/// The `Content-Type` of a text-format scrape.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A metric family's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Only ever goes up.
    Counter,
    /// Goes up and down.
    Gauge,
    /// Bucketed observations.
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// Collects metric families and renders them sorted by name.
#[derive(Debug, Default)]
pub(crate) struct Exposition {
    families: BTreeMap<&'static str, String>,
}

impl Exposition {
    /// Starts (or continues) the family `name`; returns the text to append its samples to.
    fn family(&mut self, name: &'static str, help: &str, kind: Kind) -> &mut String {
        self.families.entry(name).or_insert_with(|| {
            let mut header = String::new();
            let _ = writeln!(header, "# HELP {name} {}", escape_help(help));
            let _ = writeln!(header, "# TYPE {name} {}", kind.as_str());
            header
        })
    }

    /// A family with one unlabelled sample.
    pub(crate) fn single(&mut self, name: &'static str, help: &str, kind: Kind, value: f64) {
        let out = self.family(name, help, kind);
        write_sample(out, name, &[], value);
    }

    /// A family of labelled samples; they are written sorted by their label values, as Go's
    /// client does.
    pub(crate) fn labelled(
        &mut self,
        name: &'static str,
        help: &str,
        kind: Kind,
        mut samples: Vec<(Vec<(&str, &str)>, f64)>,
    ) {
        samples.sort_by(|a, b| {
            let values = |s: &[(&str, &str)]| s.iter().map(|(_, v)| v.to_string()).collect();
            let (a, b): (Vec<String>, Vec<String>) = (values(&a.0), values(&b.0));
            a.cmp(&b)
        });
        let out = self.family(name, help, kind);
        for (labels, value) in samples {
            write_sample(out, name, &labels, value);
        }
    }

    /// A histogram family: cumulative `_bucket` lines, `+Inf`, `_sum` and `_count`.
    pub(crate) fn histogram(&mut self, name: &'static str, help: &str, h: &HistogramSnapshot) {
        let out = self.family(name, help, Kind::Histogram);
        let bucket = format!("{name}_bucket");
        for (bound, count) in &h.buckets {
            write_sample(out, &bucket, &[("le", &go_float(*bound))], *count as f64);
        }
        write_sample(out, &bucket, &[("le", "+Inf")], h.count as f64);
        write_sample(out, &format!("{name}_sum"), &[], h.sum);
        write_sample(out, &format!("{name}_count"), &[], h.count as f64);
    }

    /// A family of labelled histograms, sorted by their label values as Go's client writes
    /// them; `le` comes after the labels.
    pub(crate) fn labelled_histograms(
        &mut self,
        name: &'static str,
        help: &str,
        mut histograms: Vec<(Vec<(&str, &str)>, HistogramSnapshot)>,
    ) {
        histograms.sort_by(|a, b| {
            let values = |s: &[(&str, &str)]| s.iter().map(|(_, v)| v.to_string()).collect();
            let (a, b): (Vec<String>, Vec<String>) = (values(&a.0), values(&b.0));
            a.cmp(&b)
        });
        let out = self.family(name, help, Kind::Histogram);
        let bucket = format!("{name}_bucket");
        for (labels, h) in histograms {
            for (bound, count) in &h.buckets {
                let le = go_float(*bound);
                let mut with_le = labels.clone();
                with_le.push(("le", &le));
                write_sample(out, &bucket, &with_le, *count as f64);
            }
            let mut with_le = labels.clone();
            with_le.push(("le", "+Inf"));
            write_sample(out, &bucket, &with_le, h.count as f64);
            write_sample(out, &format!("{name}_sum"), &labels, h.sum);
            write_sample(out, &format!("{name}_count"), &labels, h.count as f64);
        }
    }

    /// The whole scrape body.
    pub(crate) fn render(self) -> String {
        self.families.into_values().collect()
    }
}

fn write_sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (label, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{label}=\"{}\"", escape_label(v));
        }
        out.push('}');
    }
    out.push(' ');
    out.push_str(&go_float(value));
    out.push('\n');
}

fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Formats like Go's `strconv.FormatFloat(v, 'g', -1, 64)`: the shortest digits that read back
/// exactly, in exponent form when the decimal exponent is below -4 or at least 6
/// (`2.8618752e+07`), plain otherwise (`1536`, `0.041`).
pub(crate) fn go_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    if v == 0.0 {
        return "0".to_string();
    }
    let scientific = format!("{v:e}");
    let Some((mantissa, exponent)) = scientific.split_once('e') else {
        return format!("{v}");
    };
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if (-4..6).contains(&exponent) {
        format!("{v}")
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_format_like_go() {
        for (value, go) in [
            (0.0, "0"),
            (1.0, "1"),
            (1536.0, "1536"),
            (999_999.0, "999999"),
            (1_000_000.0, "1e+06"),
            (28_618_752.0, "2.8618752e+07"),
            (1_795_609_284.02, "1.79560928402e+09"),
            (18_446_744_073_709_551_615.0, "1.8446744073709552e+19"),
            (0.041052280999999996, "0.041052280999999996"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (8.192, "8.192"),
            (-1.0, "-1"),
            (f64::INFINITY, "+Inf"),
        ] {
            assert_eq!(go_float(value), go, "{value}");
        }
    }

    #[test]
    fn families_render_sorted_with_help_type_and_escaped_labels() {
        let mut e = Exposition::default();
        e.single("b_total", "B things.", Kind::Counter, 3.0);
        e.labelled(
            "a_info",
            "Line one\nline two \\ end.",
            Kind::Gauge,
            vec![(vec![("x", "z\"q")], 1.0), (vec![("x", "y\\n")], 2.0)],
        );
        let h = HistogramSnapshot {
            buckets: vec![(0.001, 1), (0.002, 3)],
            sum: 0.0045,
            count: 4,
        };
        e.histogram("c_seconds", "C latency.", &h);
        let expected = "\
# HELP a_info Line one\\nline two \\\\ end.
# TYPE a_info gauge
a_info{x=\"y\\\\n\"} 2
a_info{x=\"z\\\"q\"} 1
# HELP b_total B things.
# TYPE b_total counter
b_total 3
# HELP c_seconds C latency.
# TYPE c_seconds histogram
c_seconds_bucket{le=\"0.001\"} 1
c_seconds_bucket{le=\"0.002\"} 3
c_seconds_bucket{le=\"+Inf\"} 4
c_seconds_sum 0.0045
c_seconds_count 4
";
        assert_eq!(e.render(), expected);
    }
}
