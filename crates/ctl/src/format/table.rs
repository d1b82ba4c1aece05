//! The table etcdctl draws with `olekukonko/tablewriter` v0.0.5 (as configured by
//! `printer_table.go`): auto-formatted upper-case headers centred, cells right-aligned,
//! text wrapped at 30 columns on spaces.

/// Widest a cell grows before its text is wrapped.
const WRAP_WIDTH: usize = 30;

/// Renders `header` and `rows` exactly as etcdctl's table printer does.
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let columns = header.len();
    let mut widths = vec![0usize; columns];
    let header_cells: Vec<Vec<String>> = header
        .iter()
        .enumerate()
        .map(|(i, h)| fit(h, &mut widths[i]))
        .collect();
    let body: Vec<Vec<Vec<String>>> = rows
        .iter()
        .map(|row| {
            row.iter()
                .enumerate()
                .take(columns)
                .map(|(i, cell)| fit(cell, &mut widths[i]))
                .collect()
        })
        .collect();

    let mut out = String::new();
    let rule = |out: &mut String| {
        out.push('+');
        for w in &widths {
            out.push_str(&"-".repeat(w + 2));
            out.push('+');
        }
        out.push('\n');
    };
    rule(&mut out);
    let header_height = header_cells.iter().map(Vec::len).max().unwrap_or(0);
    for line in 0..header_height {
        out.push('|');
        for (i, cell) in header_cells.iter().enumerate() {
            let text = title(cell.get(line).map_or("", String::as_str));
            out.push(' ');
            out.push_str(&center(&text, widths[i]));
            out.push_str(" |");
        }
        out.push('\n');
    }
    rule(&mut out);
    for row in &body {
        let height = row.iter().map(Vec::len).max().unwrap_or(0);
        for line in 0..height {
            out.push('|');
            for (i, cell) in row.iter().enumerate() {
                // Shorter cells are filled with two-space lines, as tablewriter does.
                let text = cell.get(line).map_or("  ", String::as_str);
                out.push(' ');
                out.push_str(&" ".repeat(widths[i].saturating_sub(display_width(text))));
                out.push_str(text);
                out.push_str(" |");
            }
            out.push('\n');
        }
    }
    rule(&mut out);
    out
}

/// Splits a cell into display lines and widens its column to fit (tablewriter's
/// `parseDimension` with auto-wrap and reflow).
fn fit(text: &str, column_width: &mut usize) -> Vec<String> {
    let raw: Vec<&str> = text.split('\n').collect();
    let max_width = raw.iter().map(|l| display_width(l)).max().unwrap_or(0);
    let limit = max_width.min(WRAP_WIDTH);
    let lines = wrap(&raw.join(" "), limit);
    let width = lines
        .iter()
        .map(|l| display_width(l))
        .max()
        .unwrap_or(0)
        .max(limit);
    *column_width = (*column_width).max(width);
    lines
}

/// tablewriter's `WrapString`: minimal-raggedness line breaking on single spaces.
fn wrap(text: &str, limit: usize) -> Vec<String> {
    let words: Vec<&str> = text.split(' ').collect();
    let limit = words
        .iter()
        .map(|w| display_width(w))
        .fold(limit, usize::max);
    let n = words.len();
    let widths: Vec<usize> = words.iter().map(|w| display_width(w)).collect();
    let span = |i: usize, j: usize| -> usize { widths[i..=j].iter().sum::<usize>() + (j - i) };
    let penalty = 100_000i64;
    let mut cost = vec![i64::from(i32::MAX); n];
    let mut next_break = vec![n; n];
    for i in (0..n).rev() {
        if span(i, n - 1) <= limit {
            cost[i] = 0;
            next_break[i] = n;
            continue;
        }
        for j in i + 1..n {
            let length = span(i, j - 1);
            let gap = limit as i64 - length as i64;
            let mut c = gap * gap + cost[j];
            if length > limit {
                c += penalty;
            }
            if c < cost[i] {
                cost[i] = c;
                next_break[i] = j;
            }
        }
    }
    let mut lines = Vec::new();
    let mut i = 0;
    while i < n {
        lines.push(words[i..next_break[i]].join(" "));
        i = next_break[i];
    }
    lines
}

/// tablewriter's `Title`: underscores (and dots not between digits) become spaces,
/// trimmed, upper-cased.
fn title(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let num_or_space = |c: char| c.is_ascii_digit() || c == ' ';
    let replaced: String = chars
        .iter()
        .enumerate()
        .map(|(i, &c)| match c {
            '_' => ' ',
            '.' if (i != 0 && !num_or_space(chars[i - 1]))
                || (i + 1 != chars.len() && !num_or_space(chars[i + 1])) =>
            {
                ' '
            }
            c => c,
        })
        .collect();
    let trimmed = replaced.trim();
    if trimmed.is_empty() && !name.is_empty() {
        return " ".to_string();
    }
    trimmed.to_uppercase()
}

/// Centres `text` in `width`, extra space on the right (tablewriter's `Pad`).
fn center(text: &str, width: usize) -> String {
    let gap = width.saturating_sub(display_width(text));
    let left = gap / 2;
    format!("{}{text}{}", " ".repeat(left), " ".repeat(gap - left))
}

/// Terminal columns a string takes (East Asian wide characters count double).
fn display_width(text: &str) -> usize {
    text.chars()
        .map(|c| {
            let u = c as u32;
            if matches!(u, 0x1100..=0x115f | 0x2e80..=0xa4cf | 0xac00..=0xd7a3 | 0xf900..=0xfaff | 0xfe30..=0xfe4f | 0xff00..=0xff60 | 0xffe0..=0xffe6 | 0x20000..=0x3fffd)
            {
                2
            } else {
                1
            }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_etcdctl_member_table() {
        let rows = vec![vec![
            "bdae9bbc11dd390d".to_string(),
            "started".into(),
            "t".into(),
            "http://127.0.0.1:23801".into(),
            "http://127.0.0.1:23791".into(),
            "false".into(),
        ]];
        let expected = "\
+------------------+---------+------+------------------------+------------------------+------------+
|        ID        | STATUS  | NAME |       PEER ADDRS       |      CLIENT ADDRS      | IS LEARNER |
+------------------+---------+------+------------------------+------------------------+------------+
| bdae9bbc11dd390d | started |    t | http://127.0.0.1:23801 | http://127.0.0.1:23791 |      false |
+------------------+---------+------+------------------------+------------------------+------------+
";
        assert_eq!(
            render(
                &[
                    "ID",
                    "Status",
                    "Name",
                    "Peer Addrs",
                    "Client Addrs",
                    "Is Learner"
                ],
                &rows
            ),
            expected
        );
    }

    #[test]
    fn long_text_wraps_at_thirty_columns() {
        let rows = vec![vec![
            "ep".to_string(),
            "rpc error: code = Unavailable desc = connection refused".into(),
        ]];
        let table = render(&["endpoint", "error"], &rows);
        let expected = "\
+----------+--------------------------------+
| ENDPOINT |             ERROR              |
+----------+--------------------------------+
|       ep |  rpc error: code = Unavailable |
|          |      desc = connection refused |
+----------+--------------------------------+
";
        assert_eq!(table, expected, "\n{table}");
    }

    #[test]
    fn titles_like_tablewriter() {
        assert_eq!(title("raft applied index"), "RAFT APPLIED INDEX");
        assert_eq!(title("db_size"), "DB SIZE");
        assert_eq!(title("v1.2"), "V1.2");
        assert_eq!(title("a.b"), "A B");
        assert_eq!(title("1.2"), "1.2");
    }
}
