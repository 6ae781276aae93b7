//! Text from a check, made safe to print on a terminal.
//!
//! Whatever a check submits (metric names, tags, messages, errors) is
//! untrusted: printed raw, a newline would fake table rows or log lines,
//! `ESC [2J` (or the one-character C1 CSI, U+009B) would clear or colour the
//! screen, and a bidi override would make text read in another order than it
//! is stored (Trojan Source). [`for_terminal`] writes every such character
//! as a visible Rust-style escape instead.

use std::borrow::Cow;

/// `text` with every character that can move the cursor, drive the
/// terminal or reorder what is shown written as a visible escape: `\n`,
/// `\r`, `\t`, `\0`, and `\u{1b}`-style escapes for the rest.
///
/// Escaped are the C0 controls (U+0000–U+001F), DEL (U+007F), the C1
/// controls (U+0080–U+009F, including U+009B CSI and U+0085 NEL), the line
/// and paragraph separators U+2028 and U+2029, and the bidi embeddings,
/// overrides and isolates U+202A–U+202E and U+2066–U+2069 (the set rustc's
/// `text_direction_codepoint_in_literal` lint refuses). Everything else,
/// backslashes and quotes included, is kept, so escaping twice changes
/// nothing more than escaping once.
///
/// Borrows `text` when it has nothing to escape, which is the usual case.
pub fn for_terminal(text: &str) -> Cow<'_, str> {
    let Some(first) = text.find(needs_escape) else {
        return Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(text.len() + 8);
    out.push_str(&text[..first]);
    for c in text[first..].chars() {
        if !needs_escape(c) {
            out.push(c);
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            _ => out.extend(c.escape_unicode()),
        }
    }
    Cow::Owned(out)
}

/// `text` escaped with [`for_terminal`] and cut to at most `max` characters
/// (an ellipsis marks the cut): for one-line summaries of long messages.
pub fn truncate_chars(text: &str, max: usize) -> String {
    let escaped = for_terminal(text);
    match escaped.char_indices().nth(max) {
        None => escaped.into_owned(),
        Some((end, _)) => format!("{}…", &escaped[..end]),
    }
}

/// True for the characters [`for_terminal`] escapes.
fn needs_escape(c: char) -> bool {
    c.is_control() // C0, DEL and C1
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_summaries_are_escaped_and_cut() {
        assert_eq!(truncate_chars("short", 10), "short");
        assert_eq!(truncate_chars("a\nbcdef", 4), "a\\nb…");
        assert_eq!(truncate_chars("ééé", 2), "éé…");
    }

    #[test]
    fn plain_text_is_borrowed() {
        for text in [
            "",
            "system.processes.number",
            "env:prod, é, 日本, \\n \"q\"",
        ] {
            assert!(
                matches!(for_terminal(text), Cow::Borrowed(t) if t == text),
                "{text:?}"
            );
        }
    }

    #[test]
    fn controls_become_visible_escapes() {
        assert_eq!(
            for_terminal("a\u{1b}[31mred\r\nb\tc \u{9b}é\"\\\0"),
            "a\\u{1b}[31mred\\r\\nb\\tc \\u{9b}é\"\\\\0"
        );
        assert_eq!(
            for_terminal("\u{7f}\u{85}\u{1}\u{1f}"),
            "\\u{7f}\\u{85}\\u{1}\\u{1f}"
        );
        assert_eq!(for_terminal("x\u{7}"), "x\\u{7}");
    }

    #[test]
    fn every_control_is_escaped_and_its_neighbours_are_not() {
        for c in ('\0'..='\u{1f}').chain('\u{7f}'..='\u{9f}') {
            let out = for_terminal(&c.to_string()).into_owned();
            assert!(out.starts_with('\\') && out.len() > 1, "{c:?} -> {out:?}");
        }
        for c in [
            ' ', '~', '\u{a0}', '\u{2027}', '\u{202f}', '\u{2065}', '\u{206a}',
        ] {
            assert_eq!(for_terminal(&c.to_string()), c.to_string(), "{c:?}");
        }
    }

    #[test]
    fn separators_and_bidi_controls_are_escaped() {
        assert_eq!(for_terminal("a\u{2028}b\u{2029}c"), "a\\u{2028}b\\u{2029}c");
        let bidi: String = ('\u{202a}'..='\u{202e}')
            .chain('\u{2066}'..='\u{2069}')
            .collect();
        assert_eq!(
            for_terminal(&bidi),
            "\\u{202a}\\u{202b}\\u{202c}\\u{202d}\\u{202e}\
             \\u{2066}\\u{2067}\\u{2068}\\u{2069}"
        );
    }

    #[test]
    fn escaping_twice_is_escaping_once() {
        let text = "m\n\u{1b}[2J\u{9b}1m\u{202e}x";
        let once = for_terminal(text).into_owned();
        assert!(matches!(for_terminal(&once), Cow::Borrowed(_)));
        assert!(!once.chars().any(needs_escape));
    }
}
