//! etcdutl's printers for what oxutl reports: `-w simple|json|table|fields` (protobuf and any
//! other name are refused as etcdutl refuses them), with etcdutl's field names, order and
//! number formats.

use oxcd_etcd_compat::gotext::humanize;

use crate::exit::Failure;

/// An output format `-w` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values on one line.
    Simple,
    /// One JSON object.
    Json,
    /// A tablewriter table.
    Table,
    /// `"Name" : value` lines.
    Fields,
    /// Accepted as a name, refused when something is printed (as etcdutl does).
    Protobuf,
}

impl Format {
    /// The printer for `-w name`; a name etcdutl has no printer for is refused.
    pub fn parse(name: &str) -> Result<Format, Failure> {
        match name {
            "simple" => Ok(Format::Simple),
            "json" => Ok(Format::Json),
            "table" => Ok(Format::Table),
            "fields" => Ok(Format::Fields),
            "protobuf" => Ok(Format::Protobuf),
            _ => Err(Failure::bad_feature("unsupported output format")),
        }
    }
}

fn protobuf_unsupported() -> Failure {
    Failure::bad_feature("protobuf not supported as output format")
}

/// `snapshot status`'s report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotStatus {
    /// The content hash.
    pub hash: u32,
    /// The store's revision.
    pub revision: i64,
    /// Rows in all tables.
    pub total_keys: u64,
    /// Bytes of the database.
    pub total_size: u64,
}

/// Renders a snapshot status as etcdutl 3.5.1 does.
pub fn snapshot_status(format: Format, s: &SnapshotStatus) -> Result<String, Failure> {
    Ok(match format {
        Format::Protobuf => return Err(protobuf_unsupported()),
        Format::Simple => format!(
            "{:x}, {}, {}, {}\n",
            s.hash,
            s.revision,
            s.total_keys,
            humanize::bytes(s.total_size)
        ),
        Format::Json => format!(
            "{{\"hash\":{},\"revision\":{},\"totalKey\":{},\"totalSize\":{}}}\n",
            s.hash, s.revision, s.total_keys, s.total_size
        ),
        Format::Table => table(
            &["hash", "revision", "total keys", "total size"],
            &[
                format!("{:x}", s.hash),
                s.revision.to_string(),
                s.total_keys.to_string(),
                humanize::bytes(s.total_size),
            ],
        ),
        Format::Fields => format!(
            "\"Hash\" : {}\n\"Revision\" : {}\n\"Keys\" : {}\n\"Size\" : {}\n",
            s.hash, s.revision, s.total_keys, s.total_size
        ),
    })
}

/// `hashkv`'s report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashKv {
    /// The KV history hash.
    pub hash: u32,
    /// The revision it covers.
    pub hash_revision: i64,
    /// The store's compaction revision.
    pub compact_revision: i64,
}

/// Renders a hashkv report as etcdutl 3.6 does.
pub fn hash_kv(format: Format, h: &HashKv) -> Result<String, Failure> {
    Ok(match format {
        Format::Protobuf => return Err(protobuf_unsupported()),
        Format::Simple => format!("{}, {}, {}\n", h.hash, h.hash_revision, h.compact_revision),
        Format::Json => format!(
            "{{\"hash\":{},\"hashRevision\":{},\"compactRevision\":{}}}\n",
            h.hash, h.hash_revision, h.compact_revision
        ),
        Format::Table => table(
            &["hash", "hash revision", "compact revision"],
            &[
                h.hash.to_string(),
                h.hash_revision.to_string(),
                h.compact_revision.to_string(),
            ],
        ),
        Format::Fields => format!(
            "\"Hash\" : {}\n\"Hash revision\" : {}\n\"Compact revision\" : {}\n",
            h.hash, h.hash_revision, h.compact_revision
        ),
    })
}

/// A one-row table as etcdutl's tablewriter draws it: upper-case headers centred, cells
/// right-aligned, one space of padding.
fn table(header: &[&str], row: &[String]) -> String {
    let widths: Vec<usize> = header
        .iter()
        .zip(row)
        .map(|(h, c)| h.len().max(c.len()))
        .collect();
    let rule: String = widths
        .iter()
        .map(|w| format!("{}+", "-".repeat(w + 2)))
        .fold("+".to_owned(), |acc, part| acc + &part);
    let mut out = format!("{rule}\n|");
    for (h, w) in header.iter().zip(&widths) {
        let gap = w - h.len();
        let left = gap / 2;
        out.push_str(&format!(
            " {}{}{} |",
            " ".repeat(left),
            h.to_uppercase(),
            " ".repeat(gap - left)
        ));
    }
    out.push_str(&format!("\n{rule}\n|"));
    for (c, w) in row.iter().zip(&widths) {
        out.push_str(&format!(" {c:>w$} |"));
    }
    out.push_str(&format!("\n{rule}\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What etcdutl 3.5.1 printed for a snapshot of a small etcd.
    const ETCD: SnapshotStatus = SnapshotStatus {
        hash: 0xb9091052,
        revision: 4,
        total_keys: 10,
        total_size: 20480,
    };

    fn status(format: Format) -> String {
        snapshot_status(format, &ETCD).unwrap()
    }

    #[test]
    fn status_formats_are_etcdutls() {
        assert_eq!(status(Format::Simple), "b9091052, 4, 10, 20 kB\n");
        assert_eq!(
            status(Format::Json),
            "{\"hash\":3104378962,\"revision\":4,\"totalKey\":10,\"totalSize\":20480}\n"
        );
        assert_eq!(
            status(Format::Table),
            "+----------+----------+------------+------------+\n\
             |   HASH   | REVISION | TOTAL KEYS | TOTAL SIZE |\n\
             +----------+----------+------------+------------+\n\
             | b9091052 |        4 |         10 |      20 kB |\n\
             +----------+----------+------------+------------+\n"
        );
        assert_eq!(
            status(Format::Fields),
            "\"Hash\" : 3104378962\n\"Revision\" : 4\n\"Keys\" : 10\n\"Size\" : 20480\n"
        );
    }

    #[test]
    fn unknown_formats_are_refused_with_etcdutls_words() {
        assert_eq!(
            snapshot_status(Format::Protobuf, &ETCD)
                .unwrap_err()
                .message,
            "protobuf not supported as output format"
        );
        assert_eq!(
            Format::parse("yaml").unwrap_err().message,
            "unsupported output format"
        );
    }
}
