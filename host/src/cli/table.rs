//! Plain aligned text tables for terminal output.

use std::borrow::Cow;

use crate::escape;

/// Render rows under a header with columns padded to their widest cell.
/// The last column is never padded, so long tag lists do not add trailing
/// spaces.
///
/// Cells are printed through [`escape::for_terminal`]: they hold what
/// checks submitted, and a newline or escape sequence in one must show as
/// text, not break the row or drive the terminal.
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let columns = header.len();
    let header: Vec<Cow<str>> = header.iter().map(|h| escape::for_terminal(h)).collect();
    let rows: Vec<Vec<Cow<str>>> = rows
        .iter()
        .map(|row| row.iter().map(|cell| escape::for_terminal(cell)).collect())
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate().take(columns) {
            if i + 1 == columns {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A metric value the way a person reads it: integers without decimals,
/// others with up to four.
pub fn value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        let text = format!("{v:.4}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_last_is_not_padded() {
        let out = render(
            &["NAME", "TYPE", "TAGS"],
            &[
                vec!["a.long.name".into(), "gauge".into(), "x:1".into()],
                vec!["b".into(), "monotonic".into(), "".into()],
            ],
        );
        assert_eq!(
            out,
            "NAME         TYPE       TAGS\n\
             a.long.name  gauge      x:1\n\
             b            monotonic\n"
        );
    }

    #[test]
    fn cells_are_escaped_and_aligned_as_printed() {
        let out = render(
            &["NAME", "TAGS"],
            &[
                vec!["a\nfake  row".into(), "x:1\u{1b}[2J".into()],
                vec!["b".into(), "\u{9b}31m\r".into()],
            ],
        );
        assert_eq!(
            out,
            "NAME          TAGS\n\
             a\\nfake  row  x:1\\u{1b}[2J\n\
             b             \\u{9b}31m\\r\n"
        );
    }

    #[test]
    fn values_are_readable() {
        assert_eq!(value(3.0), "3");
        assert_eq!(value(0.1 + 0.2), "0.3");
        assert_eq!(value(12.34567), "12.3457");
        assert_eq!(value(-2.5), "-2.5");
    }
}
