//! Reads the ASCII tables etcdctl prints with `-w table`:
//!
//! ```text
//! +----------------+------------------+
//! |    ENDPOINT    |        ID        |
//! +----------------+------------------+
//! | 127.0.0.1:2379 | 8e9e05c52164694d |
//! +----------------+------------------+
//! ```

use anyhow::{Result, bail};

/// A parsed table: the header cells and the body rows, each cell trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsciiTable {
    /// Column titles, left to right.
    pub header: Vec<String>,
    /// Body rows; each has as many cells as the header.
    pub rows: Vec<Vec<String>>,
}

impl AsciiTable {
    /// Parses `text`, which must hold exactly one table (lines outside it are ignored).
    pub fn parse(text: &str) -> Result<AsciiTable> {
        let mut cell_lines = text
            .lines()
            .map(str::trim)
            .filter(|line| line.starts_with('|') && line.ends_with('|'))
            .map(cells);
        let Some(header) = cell_lines.next() else {
            bail!("no table in:\n{text}");
        };
        let rows: Vec<Vec<String>> = cell_lines.collect();
        if let Some(row) = rows.iter().find(|row| row.len() != header.len()) {
            bail!("row {row:?} does not match header {header:?}");
        }
        Ok(AsciiTable { header, rows })
    }

    /// The cells of column `title`.
    pub fn column(&self, title: &str) -> Result<Vec<&str>> {
        let Some(index) = self.header.iter().position(|h| h == title) else {
            bail!("no column {title:?} in {:?}", self.header);
        };
        Ok(self.rows.iter().map(|row| row[index].as_str()).collect())
    }
}

fn cells(line: &str) -> Vec<String> {
    line.trim_matches('|')
        .split('|')
        .map(|cell| cell.trim().to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
+----------------+------------------+-----------+
|    ENDPOINT    |        ID        | IS LEADER |
+----------------+------------------+-----------+
| 127.0.0.1:2379 | 8e9e05c52164694d |      true |
| 127.0.0.1:3379 | 91bc3c398fb3c146 |     false |
+----------------+------------------+-----------+
";

    #[test]
    fn parses_header_and_rows() {
        let table = AsciiTable::parse(SAMPLE).unwrap();
        assert_eq!(table.header, ["ENDPOINT", "ID", "IS LEADER"]);
        assert_eq!(table.rows.len(), 2);
        assert_eq!(table.column("IS LEADER").unwrap(), ["true", "false"]);
        assert!(table.column("NOPE").is_err());
    }

    #[test]
    fn rejects_text_without_a_table_and_ragged_rows() {
        assert!(AsciiTable::parse("Error: context deadline exceeded").is_err());
        assert!(AsciiTable::parse("| A | B |\n| 1 |\n").is_err());
    }
}
