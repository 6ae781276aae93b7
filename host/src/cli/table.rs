//! Plain aligned text tables for terminal output.

use std::borrow::Cow;
use std::io::IsTerminal;

use crate::escape;

/// The narrowest the last column is clipped to, however narrow the
/// terminal: a command clipped to nothing tells nothing.
const MIN_LAST_COLUMN: usize = 20;

/// Render rows under a header with columns padded to their widest cell.
/// The last column is never padded, so long tag lists do not add trailing
/// spaces; given a `width` (see [`stdout_width`]), it is clipped (ending in
/// `…`) so that each line fits in it.
///
/// Cells are printed through [`escape::for_terminal`]: they hold what
/// checks submitted, and a newline or escape sequence in one must show as
/// text, not break the row or drive the terminal.
pub fn render(header: &[&str], rows: &[Vec<String>], width: Option<usize>) -> String {
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
    let last_width = width.map(|width| {
        let before: usize = widths.iter().take(columns - 1).map(|w| w + 2).sum();
        width.saturating_sub(before).max(MIN_LAST_COLUMN)
    });
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate().take(columns) {
            if i + 1 == columns {
                line.push_str(&clip(cell, last_width));
            } else {
                line.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// As [`render`], or `(none)` when there are no rows.
pub fn render_or_none(header: &[&str], rows: &[Vec<String>], width: Option<usize>) -> String {
    if rows.is_empty() {
        "(none)\n".to_string()
    } else {
        render(header, rows, width)
    }
}

/// `cell` cut to `width` characters, the last one `…`, when it is longer.
fn clip(cell: &str, width: Option<usize>) -> Cow<'_, str> {
    match width.and_then(|width| cell.char_indices().nth(width.max(1) - 1)) {
        Some((end, _)) if cell[end..].chars().nth(1).is_some() => {
            Cow::Owned(format!("{}…", &cell[..end]))
        }
        _ => Cow::Borrowed(cell),
    }
}

/// The terminal's width when stdout is one; `None` when it is piped or
/// redirected, where lines are written whole.
pub fn stdout_width() -> Option<usize> {
    let stdout = std::io::stdout();
    if !stdout.is_terminal() {
        return None;
    }
    terminal_size::terminal_size_of(stdout).map(|(width, _)| usize::from(width.0))
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
            None,
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
            None,
        );
        assert_eq!(
            out,
            "NAME          TAGS\n\
             a\\nfake  row  x:1\\u{1b}[2J\n\
             b             \\u{9b}31m\\r\n"
        );
    }

    #[test]
    fn the_last_column_is_clipped_to_the_width() {
        let rows = vec![
            vec!["1".into(), "short".into()],
            vec![
                "22".into(),
                "a command line longer than the room left".into(),
            ],
        ];
        // 4 characters go to the first column and its gap: 24 - 4 = 20.
        assert_eq!(
            render(&["ID", "COMMAND"], &rows, Some(24)),
            "ID  COMMAND\n\
             1   short\n\
             22  a command line long…\n"
        );
        // A cell that fits exactly is kept whole.
        let exact = vec![vec!["1".into(), "x".repeat(20)]];
        assert!(render(&["ID", "C"], &exact, Some(24)).ends_with(&format!("{}\n", "x".repeat(20))));
        // However narrow the terminal, the last column keeps 20 characters.
        assert!(render(&["ID", "COMMAND"], &rows, Some(5)).contains("a command line long…\n"));
        assert!(render(&["ID", "COMMAND"], &rows, None).contains("the room left\n"));
    }

    #[test]
    fn clipping_counts_escapes_as_printed() {
        let rows = vec![vec!["1".into(), format!("ab\n{}", "c".repeat(30))]];
        let out = render(&["ID", "COMMAND"], &rows, Some(24));
        assert_eq!(out.lines().nth(1), Some("1   ab\\nccccccccccccccc…"));
    }

    #[test]
    fn values_are_readable() {
        assert_eq!(value(3.0), "3");
        assert_eq!(value(0.1 + 0.2), "0.3");
        assert_eq!(value(12.34567), "12.3457");
        assert_eq!(value(-2.5), "-2.5");
    }
}
