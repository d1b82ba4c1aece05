//! Go's `text/tabwriter` with the settings cobrautl uses for usage text (minwidth 0,
//! tabwidth 8, padding 1, pad with tabs): tab-terminated cells in consecutive lines form
//! columns, each padded with tabs to a common tab stop.

const TAB_WIDTH: usize = 8;
const PADDING: usize = 1;

/// One line split into its cells; the last cell is the text after the final tab.
struct Line {
    cells: Vec<String>,
}

/// Aligns `text` like Go's tabwriter configured as `Init(w, 0, 8, 1, '\t', 0)`.
pub fn align(text: &str) -> String {
    let mut raw_lines: Vec<&str> = text.split('\n').collect();
    // Text after the last newline is a final line without a newline.
    let trailing = raw_lines.pop().unwrap_or_default();
    let mut lines: Vec<Line> = raw_lines
        .iter()
        .map(|l| Line {
            cells: l.split('\t').map(str::to_string).collect(),
        })
        .collect();
    lines.push(Line {
        cells: trailing.split('\t').map(str::to_string).collect(),
    });
    let mut out = String::new();
    let mut widths = Vec::new();
    format_block(&lines, 0, lines.len(), &mut widths, &mut out);
    out
}

/// Formats lines `[start, end)`, recursively finding column blocks like Go's `format`.
fn format_block(
    lines: &[Line],
    start: usize,
    end: usize,
    widths: &mut Vec<usize>,
    out: &mut String,
) {
    let column = widths.len();
    let mut line0 = start;
    let mut this = start;
    while this < end {
        if column + 1 >= lines[this].cells.len() {
            this += 1;
            continue;
        }
        // A column block starts here: print the lines before it.
        write_lines(lines, line0, this, widths, out);
        line0 = this;
        let mut width = 0;
        while this < end && column + 1 < lines[this].cells.len() {
            let cell_width = lines[this].cells[column].chars().count() + PADDING;
            width = width.max(cell_width);
            this += 1;
        }
        widths.push(width);
        format_block(lines, line0, this, widths, out);
        widths.pop();
        line0 = this;
    }
    write_lines(lines, line0, end, widths, out);
}

fn write_lines(lines: &[Line], start: usize, end: usize, widths: &[usize], out: &mut String) {
    for (index, line) in lines.iter().enumerate().take(end).skip(start) {
        for (j, cell) in line.cells.iter().enumerate() {
            out.push_str(cell);
            if j < widths.len() && j + 1 < line.cells.len() {
                let cell_width = widths[j].div_ceil(TAB_WIDTH) * TAB_WIDTH;
                let text_width = cell.chars().count();
                let tabs = (cell_width - text_width).div_ceil(TAB_WIDTH);
                out.extend(std::iter::repeat_n('\t', tabs));
            }
        }
        if index + 1 < lines.len() {
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_cells_to_a_shared_tab_stop() {
        let text = "  --a=1\tfirst\n  --longer-flag=\"x\"\tsecond\n";
        assert_eq!(
            align(text),
            "  --a=1\t\t\tfirst\n  --longer-flag=\"x\"\tsecond\n"
        );
    }

    #[test]
    fn lines_without_tabs_break_blocks() {
        let text = "A:\n\tx\ty\n\nB:\n\tlonger-name\tz\n";
        assert_eq!(align(text), "A:\n\tx\ty\n\nB:\n\tlonger-name\tz\n");
    }

    #[test]
    fn a_cell_exactly_on_a_stop_gets_one_more_tab() {
        assert_eq!(align("1234567\ta\n"), "1234567\ta\n");
        assert_eq!(align("12345678\ta\nb\tc\n"), "12345678\ta\nb\t\tc\n");
    }
}
