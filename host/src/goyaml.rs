//! YAML text exactly as the Datadog Agent writes it: `yaml.Marshal` of
//! go-yaml v2 (gopkg.in/yaml.v2 v2.4.0, the Agent's YAML library) applied
//! to a value decoded from a conf.d file.
//!
//! Two things depend on these bytes: instance IDs (the Agent hashes the
//! re-marshalled instance, see `config::agent_id`) and `configcheck`, which
//! prints them. So this follows go-yaml's encoder and its libyaml-derived
//! emitter rule by rule for the value kinds JSON can hold: block mappings
//! with go-yaml's key order, indentless sequences under keys, `{}`/`[]` for
//! empty collections, `null`, booleans, integers, Go's shortest `%g`
//! floats, and strings in plain, single-quoted, double-quoted or literal
//! style, wrapped at 80 columns like the emitter does.
//!
//! Why our own emitter: the bytes must be go-yaml v2's, and no Rust crate
//! writes them (serde_yaml and saphyr quote, indent and wrap differently:
//! `- a` under a key, `'yes'`, `"1.0"` and line wrapping all differ), so
//! an ID computed from their output would never match the Agent's.
//!
//! Known gaps (none reachable from a typical conf.d): keys longer than 128
//! characters (go-yaml writes them as `? key`), non-string keys (conf.d
//! loading turns `1:` into the string `"1"`), and Unicode letter/digit
//! classes beyond ASCII in key ordering (Rust's and Go's tables differ
//! slightly).

use std::cmp::Ordering;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Number, Value};

/// The emitter's preferred line width (libyaml's `best_width`).
const BEST_WIDTH: usize = 80;
/// Spaces per nesting level (libyaml's `best_indent`).
const BEST_INDENT: usize = 2;

/// `yaml.Marshal(value)` as go-yaml v2 writes it.
///
/// The conf.d loader stores YAML `.inf` / `-.inf` as `±f64::MAX` (JSON has
/// no infinities); those are written back as `.inf` / `-.inf`.
pub fn marshal(value: &Value) -> String {
    let mut e = Emitter::default();
    match value {
        Value::Object(map) if !map.is_empty() => e.mapping(map, 0),
        Value::Array(items) if !items.is_empty() => e.sequence(items, 0),
        scalar => {
            e.scalar(scalar, BEST_INDENT, false);
            e.end_line();
        }
    }
    e.out
}

/// go-yaml v2's order of two string map keys (`keyList.Less`): letters
/// compare by code point, a non-letter sorts before a letter, and runs of
/// digits compare as numbers, so `a2` < `a10` and `a_b` < `ab`.
pub fn key_less(a: &str, b: &str) -> bool {
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    for i in 0..ar.len().min(br.len()) {
        if ar[i] == br[i] {
            continue;
        }
        let (al, bl) = (ar[i].is_alphabetic(), br[i].is_alphabetic());
        if al && bl {
            return ar[i] < br[i];
        }
        if al || bl {
            return bl;
        }
        // Both non-letters: compare the digit runs starting here. A run that
        // continues non-zero digits before it counts from 1, as in go-yaml.
        let (mut an, mut bn) = (0i64, 0i64);
        if ar[i] == '0' || br[i] == '0' {
            for j in (0..i).rev() {
                if !ar[j].is_numeric() {
                    break;
                }
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let (ai, an) = digit_run(&ar, i, an);
        let (bi, bn) = digit_run(&br, i, bn);
        if an != bn {
            return an < bn;
        }
        if ai != bi {
            return ai < bi;
        }
        return ar[i] < br[i];
    }
    ar.len() < br.len()
}

/// Accumulates the digits from `start` (wrapping like Go's int64); returns
/// the index after the run and the number.
fn digit_run(chars: &[char], start: usize, mut n: i64) -> (usize, i64) {
    let mut i = start;
    while i < chars.len() && chars[i].is_numeric() {
        n = n
            .wrapping_mul(10)
            .wrapping_add(i64::from(chars[i] as u32) - i64::from('0' as u32));
        i += 1;
    }
    (i, n)
}

fn sorted_keys(map: &Map<String, Value>) -> Vec<&String> {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort_by(|a, b| {
        if key_less(a, b) {
            Ordering::Less
        } else if key_less(b, a) {
            Ordering::Greater
        } else {
            Ordering::Equal
        }
    });
    keys
}

/// How a string scalar is written.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
}

/// The emitter's state that matters for layout: the current column, and
/// whether the last thing written was whitespace / indentation.
struct Emitter {
    out: String,
    column: usize,
    whitespace: bool,
    indention: bool,
}

impl Default for Emitter {
    /// A fresh stream: at the start of a line, which counts as indented.
    fn default() -> Self {
        Self {
            out: String::new(),
            column: 0,
            whitespace: true,
            indention: true,
        }
    }
}

impl Emitter {
    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_str(&mut self, s: &str) {
        for c in s.chars() {
            self.put(c);
        }
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    /// Ends the line a scalar is on; a literal block that ended with its
    /// own line break already did.
    fn end_line(&mut self) {
        if self.column > 0 {
            self.put_break();
        }
        self.indention = true;
        self.whitespace = true;
    }

    /// libyaml's `write_indent`: a new line (unless already at the indent
    /// on a fresh line) padded to `indent`.
    fn write_indent(&mut self, indent: usize) {
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    /// A block mapping whose keys sit at `indent`. The first key goes on
    /// the current line when it is already indented there (after `- `).
    fn mapping(&mut self, map: &Map<String, Value>, indent: usize) {
        for key in sorted_keys(map) {
            self.write_indent(indent);
            self.string(key, indent + BEST_INDENT, true);
            self.put(':');
            self.whitespace = false;
            self.indention = false;
            match &map[key.as_str()] {
                Value::Object(inner) if !inner.is_empty() => {
                    self.mapping(inner, indent + BEST_INDENT)
                }
                // go-yaml v2 does not indent a sequence under a mapping key.
                Value::Array(items) if !items.is_empty() => self.sequence(items, indent),
                scalar => {
                    self.scalar(scalar, indent + BEST_INDENT, false);
                    self.end_line();
                }
            }
        }
    }

    /// A block sequence whose `-` sit at `indent`.
    fn sequence(&mut self, items: &[Value], indent: usize) {
        for item in items {
            self.write_indent(indent);
            self.put('-');
            self.put(' ');
            self.whitespace = true;
            // `- ` counts as indentation, so a nested collection starts inline.
            self.indention = true;
            match item {
                Value::Object(inner) if !inner.is_empty() => {
                    self.mapping(inner, indent + BEST_INDENT)
                }
                Value::Array(inner) if !inner.is_empty() => {
                    self.sequence(inner, indent + BEST_INDENT)
                }
                scalar => {
                    self.indention = false;
                    self.scalar(scalar, indent + BEST_INDENT, false);
                    self.end_line();
                }
            }
        }
    }

    /// A scalar or an empty collection after `key:` / `- ` (or at the
    /// root). `indent` is where continuation lines of a long or multi-line
    /// string start.
    fn scalar(&mut self, value: &Value, indent: usize, simple_key: bool) {
        let text = match value {
            Value::String(s) => return self.string(s, indent, simple_key),
            Value::Null => "null".to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => number(n),
            Value::Object(_) => "{}".to_string(),
            Value::Array(_) => "[]".to_string(),
        };
        if !self.whitespace {
            self.put(' ');
        }
        self.put_str(&text);
        self.whitespace = false;
        self.indention = false;
    }

    fn string(&mut self, s: &str, indent: usize, simple_key: bool) {
        match style(s, simple_key) {
            Style::Plain => self.plain(s, indent, !simple_key),
            Style::SingleQuoted => self.single_quoted(s, indent, !simple_key),
            Style::DoubleQuoted => self.double_quoted(s, indent, !simple_key),
            Style::Literal => self.literal(s, indent),
        }
        self.whitespace = false;
        self.indention = false;
    }

    fn plain(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        if !self.whitespace {
            self.put(' ');
        }
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                let next_is_space = chars.get(i + 1) == Some(&' ');
                if allow_breaks && !spaces && self.column > BEST_WIDTH && !next_is_space {
                    self.write_indent(indent);
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                self.indention = false;
                spaces = false;
            }
        }
    }

    fn single_quoted(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        if !self.whitespace {
            self.put(' ');
        }
        self.put('\'');
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                let next_is_space = chars.get(i + 1) == Some(&' ');
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i != 0
                    && i != chars.len() - 1
                    && !next_is_space
                {
                    self.write_indent(indent);
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                if c == '\'' {
                    self.put('\'');
                }
                self.put(c);
                self.indention = false;
                spaces = false;
            }
        }
        self.put('\'');
    }

    fn double_quoted(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        if !self.whitespace {
            self.put(' ');
        }
        self.put('"');
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if !is_printable(c) || c == '\u{feff}' || is_break(c) || c == '"' || c == '\\' {
                self.put_str(&escape(c));
                spaces = false;
            } else if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i != 0
                    && i != chars.len() - 1
                {
                    self.write_indent(indent);
                    // A space that would be lost at the line start is escaped.
                    if chars.get(i + 1) == Some(&' ') {
                        self.put('\\');
                    }
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.put('"');
    }

    fn literal(&mut self, s: &str, indent: usize) {
        if !self.whitespace {
            self.put(' ');
        }
        self.put('|');
        let chars: Vec<char> = s.chars().collect();
        if chars.first().is_some_and(|&c| c == ' ' || is_break(c)) {
            self.put_str(&BEST_INDENT.to_string());
        }
        // Chomping: `-` when there is no final line break, `+` when the
        // final break is the whole value or follows another break.
        let n = chars.len();
        if n == 0 || !is_break(chars[n - 1]) {
            self.put('-');
        } else if n == 1 || is_break(chars[n - 2]) {
            self.put('+');
        }
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for &c in &chars {
            if is_break(c) {
                self.out.push(c);
                self.column = 0;
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent(indent);
                }
                self.put(c);
                self.indention = false;
                breaks = false;
            }
        }
    }
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)` as go-yaml uses it, with
/// `±f64::MAX` standing for the infinities conf.d loading replaced.
fn number(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    let f = n.as_f64().unwrap_or(f64::NAN);
    if f == f64::MAX {
        return ".inf".to_string();
    }
    if f == f64::MIN {
        return "-.inf".to_string();
    }
    go_float(f)
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)`: the shortest digits that
/// round-trip, in `%e` form (`1e+06`, `1.5e-05`) when the decimal exponent
/// is below -4 or at least 6 (Go fixes 6 for the shortest form), else in
/// `%f` form without trailing zeros.
pub fn go_float(f: f64) -> String {
    if f.is_nan() {
        return ".nan".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.to_string();
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "1.2345e6".
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponent is an integer");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let digits = if digits.chars().all(|c| c == '0') {
        "0".to_string()
    } else {
        digits
    };
    let sign = if f.is_sign_negative() { "-" } else { "" };
    let nd = digits.len() as i32;
    let dp = exp + 1; // digits before the decimal point
    if !(-4..6).contains(&exp) {
        let mut m = digits[..1].to_string();
        if nd > 1 {
            m.push('.');
            m.push_str(&digits[1..]);
        }
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{m}e{esign}{:02}", exp.abs());
    }
    let text = if dp <= 0 {
        format!("0.{}{digits}", "0".repeat((-dp) as usize))
    } else if dp >= nd {
        format!("{digits}{}", "0".repeat((dp - nd) as usize))
    } else {
        format!("{}.{}", &digits[..dp as usize], &digits[dp as usize..])
    };
    format!("{sign}{text}")
}

/// The style go-yaml's encoder asks for, after the emitter's checks.
fn style(s: &str, simple_key: bool) -> Style {
    let requested = if s.contains('\n') {
        Style::Literal
    } else if resolves_to_string(s) {
        Style::Plain
    } else {
        Style::DoubleQuoted
    };
    let a = analyze(s);
    let mut style = requested;
    if simple_key && a.multiline {
        style = Style::DoubleQuoted;
    }
    if style == Style::Plain && (!a.block_plain_allowed || (s.is_empty() && simple_key)) {
        style = Style::SingleQuoted;
    }
    if style == Style::SingleQuoted && !a.single_quoted_allowed {
        style = Style::DoubleQuoted;
    }
    if style == Style::Literal && (!a.block_allowed || simple_key) {
        style = Style::DoubleQuoted;
    }
    style
}

static INT_LIKE: LazyLock<Regex> = LazyLock::new(|| {
    // strconv.ParseInt/ParseUint with base 0 after removing `_`: optional
    // sign, then decimal, 0x hex, 0o / leading-0 octal or 0b binary.
    Regex::new(r"^[-+]?(0[xX][0-9a-fA-F]+|0[oO]?[0-7]*|0[bB][01]+|[1-9][0-9]*)$").expect("valid")
});
static FLOAT_LIKE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$").expect("valid")
});
static BASE60_FLOAT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$").expect("valid")
});
static TIMESTAMP: LazyLock<Regex> = LazyLock::new(|| {
    // The forms go-yaml v2 tries (after its "starts with YYYY-" check):
    // a date, optionally with a time (`T`, `t` or space) and fraction/zone.
    Regex::new(
        r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(([Tt][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(\.[0-9]+)?(Z|[-+][0-9]{2}:[0-9]{2}))|( [0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(\.[0-9]+)?))?$",
    )
    .expect("valid")
});

/// True when go-yaml would read `s` back as a string if written unquoted
/// (its `resolve` plus `isBase60Float`); otherwise it double-quotes it.
fn resolves_to_string(s: &str) -> bool {
    const SPECIAL: &[&str] = &[
        "", "~", "null", "Null", "NULL", "y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true",
        "True", "TRUE", "n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE",
        ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
        "-.Inf", "-.INF", "<<",
    ];
    if SPECIAL.contains(&s) {
        return false;
    }
    let first = s.as_bytes()[0];
    match first {
        // Go's ParseFloat, like Rust's, reads `.5`, `.5e3`.
        b'.' => s.parse::<f64>().is_err(),
        b'+' | b'-' | b'0'..=b'9' => {
            if TIMESTAMP.is_match(s) {
                return false;
            }
            let plain = s.replace('_', "");
            !(INT_LIKE.is_match(&plain)
                || FLOAT_LIKE.is_match(&plain)
                || BASE60_FLOAT.is_match(s)
                || plain.starts_with("0b")
                || plain.starts_with("-0b"))
        }
        _ => true,
    }
}

/// What libyaml's `analyze_scalar` concludes about a string.
struct Analysis {
    multiline: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            multiline: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let chars: Vec<char> = s.chars().collect();
    let mut block_indicators = s.starts_with("---") || s.starts_with("...");
    let (mut leading_space, mut leading_break) = (false, false);
    let (mut trailing_space, mut trailing_break) = (false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let (mut line_breaks, mut special_characters) = (false, false);
    let mut preceded_by_whitespace = true;
    let last = chars.len() - 1;
    for (i, &c) in chars.iter().enumerate() {
        let followed_by_whitespace = chars.get(i + 1).is_none_or(|&n| n == ' ' || n == '\t');
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => block_indicators = true,
                '?' | ':' | '-' if followed_by_whitespace => block_indicators = true,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_by_whitespace => block_indicators = true,
                '#' if preceded_by_whitespace => block_indicators = true,
                _ => {}
            }
        }
        if !is_printable(c) {
            special_characters = true;
        }
        if c == ' ' {
            leading_space |= i == 0;
            trailing_space |= i == last;
            break_space |= previous_break;
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            line_breaks = true;
            leading_break |= i == 0;
            trailing_break |= i == last;
            space_break |= previous_space;
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = c == ' ' || c == '\t' || is_break(c);
    }
    let mut a = Analysis {
        multiline: line_breaks,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.block_plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || special_characters {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
        a.block_allowed = false;
    }
    if line_breaks || block_indicators {
        a.block_plain_allowed = false;
    }
    a
}

/// libyaml's printable set (with Unicode output on, as go-yaml sets it).
fn is_printable(c: char) -> bool {
    matches!(c as u32, 0x0A | 0x20..=0x7E | 0xA0..=0xD7FF | 0xE000..=0xFFFD) && c != '\u{feff}'
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// A double-quoted escape, as the emitter writes it.
fn escape(c: char) -> String {
    let named = match c {
        '\0' => "0",
        '\u{7}' => "a",
        '\u{8}' => "b",
        '\t' => "t",
        '\n' => "n",
        '\u{b}' => "v",
        '\u{c}' => "f",
        '\r' => "r",
        '\u{1b}' => "e",
        '"' => "\"",
        '\\' => "\\",
        '\u{85}' => "N",
        '\u{a0}' => "_",
        '\u{2028}' => "L",
        '\u{2029}' => "P",
        _ => "",
    };
    if !named.is_empty() {
        return format!("\\{named}");
    }
    let v = c as u32;
    if v <= 0xFF {
        format!("\\x{v:02X}")
    } else if v <= 0xFFFF {
        format!("\\u{v:04X}")
    } else {
        format!("\\U{v:08X}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn mappings_sequences_and_scalars() {
        let v = json!({
            "name": "web",
            "port": 8080,
            "ratio": 0.5,
            "enabled": true,
            "nothing": null,
            "tags": ["env:prod", "team:a"],
            "empty_map": {},
            "empty_list": [],
            // `y` is a YAML 1.1 boolean to go-yaml v2: quoted as a key too.
            "nested": {"b": 1, "a": [{"x": 1, "y": "z"}, [1, 2]]}
        });
        assert_eq!(
            marshal(&v),
            "empty_list: []\n\
             empty_map: {}\n\
             enabled: true\n\
             name: web\n\
             nested:\n  \
               a:\n  \
               - x: 1\n    \
                 \"y\": z\n  \
               - - 1\n    \
                 - 2\n  \
               b: 1\n\
             nothing: null\n\
             port: 8080\n\
             ratio: 0.5\n\
             tags:\n\
             - env:prod\n\
             - team:a\n"
        );
    }

    #[test]
    fn empty_roots() {
        assert_eq!(marshal(&json!({})), "{}\n");
        assert_eq!(marshal(&json!([])), "[]\n");
    }

    #[test]
    fn strings_that_would_read_back_as_other_types_are_double_quoted() {
        for (s, want) in [
            ("", "\"\""),
            ("true", "\"true\""),
            ("yes", "\"yes\""),
            ("Off", "\"Off\""),
            ("~", "\"~\""),
            ("null", "\"null\""),
            ("123", "\"123\""),
            ("-1.5", "\"-1.5\""),
            ("1e3", "\"1e3\""),
            ("0x1F", "\"0x1F\""),
            ("1_000", "\"1_000\""),
            ("1:20", "\"1:20\""),
            ("2024-01-02", "\"2024-01-02\""),
            (".inf", "\".inf\""),
            ("<<", "\"<<\""),
        ] {
            let got = marshal(&json!({ "k": s }));
            assert_eq!(got, format!("k: {want}\n"), "{s:?}");
        }
    }

    #[test]
    fn indicators_force_single_quotes() {
        for (s, want) in [
            ("%%env_HOST%%", "'%%env_HOST%%'"),
            ("*.log", "'*.log'"),
            ("- x", "'- x'"),
            ("a: b", "'a: b'"),
            ("a #b", "'a #b'"),
            (" lead", "' lead'"),
            ("trail ", "'trail '"),
            ("it's: x", "'it''s: x'"),
            ("{x}", "'{x}'"),
            ("@home", "'@home'"),
            ("---x", "'---x'"),
        ] {
            assert_eq!(marshal(&json!({ "k": s })), format!("k: {want}\n"), "{s:?}");
        }
    }

    #[test]
    fn plain_strings_stay_plain() {
        for s in [
            "http://user:pw@host:80/x?y=1#z",
            "a-b",
            "a:b",
            "a#b",
            "-x",
            "it's",
            "héllo",
            "1.2.3",
            "C:\\path",
            "1e",
        ] {
            assert_eq!(marshal(&json!({ "k": s })), format!("k: {s}\n"), "{s:?}");
        }
    }

    #[test]
    fn special_characters_are_escaped_in_double_quotes() {
        assert_eq!(marshal(&json!({"k": "a\tb"})), "k: \"a\\tb\"\n");
        assert_eq!(marshal(&json!({"k": "a\rb"})), "k: \"a\\rb\"\n");
        assert_eq!(marshal(&json!({"k": "\u{1}"})), "k: \"\\x01\"\n");
        assert_eq!(marshal(&json!({"k": "😀"})), "k: \"\\U0001F600\"\n");
        assert_eq!(marshal(&json!({"k": "q\"\t"})), "k: \"q\\\"\\t\"\n");
    }

    #[test]
    fn multi_line_strings_are_literal_blocks() {
        assert_eq!(
            marshal(&json!({"q": "SELECT 1\nFROM t"})),
            "q: |-\n  SELECT 1\n  FROM t\n"
        );
        assert_eq!(
            marshal(&json!({"q": "SELECT 1\nFROM t\n"})),
            "q: |\n  SELECT 1\n  FROM t\n"
        );
        assert_eq!(
            marshal(&json!({"q": "a\n\nb\n\n"})),
            "q: |+\n  a\n\n  b\n\n"
        );
        assert_eq!(marshal(&json!({"q": " a\nb"})), "q: |2-\n   a\n  b\n");
        assert_eq!(marshal(&json!({"l": ["x\ny"]})), "l:\n- |-\n  x\n  y\n");
        // A trailing space rules out a block: double quotes instead.
        assert_eq!(marshal(&json!({"q": "a \nb"})), "q: \"a \\nb\"\n");
    }

    #[test]
    fn long_plain_strings_wrap_after_column_80() {
        let words = ["word"; 30].join(" ");
        let got = marshal(&json!({ "k": words }));
        // "k: " + 16 words of 5 columns reach column 83 > 80 at a space.
        let first: Vec<&str> = got.lines().collect();
        assert_eq!(first[0], format!("k: {}", ["word"; 16].join(" ")));
        assert_eq!(first[1], format!("  {}", ["word"; 14].join(" ")));
        assert_eq!(first.len(), 2);
        // Same breaks as libyaml's emitter (cross-checked with PyYAML's
        // port of it): never inside a run of spaces, continuation lines
        // indented under the key.
        let spaced = format!("{} aa  bb cc dd ee ff gg hh ii jj kk", "x".repeat(70));
        assert_eq!(
            marshal(&json!({ "k": spaced })),
            format!(
                "k: {} aa  bb cc\n  dd ee ff gg hh ii jj kk\n",
                "x".repeat(70)
            )
        );
        assert_eq!(
            marshal(&json!({"a": { "k": words }})),
            format!(
                "a:\n  k: {}\n    {}\n",
                ["word"; 16].join(" "),
                ["word"; 14].join(" ")
            )
        );
        // Words without spaces never wrap.
        let url = format!("http://h/{}", "x".repeat(100));
        assert_eq!(marshal(&json!({ "k": url })), format!("k: {url}\n"));
    }

    #[test]
    fn key_order_is_go_yamls() {
        let mut keys = vec!["b", "a10", "a2", "a_b", "ab", "B", "_x", "a", "x1y", "x01y"];
        keys.sort_by(|a, b| {
            if key_less(a, b) {
                Ordering::Less
            } else if key_less(b, a) {
                Ordering::Greater
            } else {
                Ordering::Equal
            }
        });
        // Upper case before lower (code points); a non-letter before a
        // letter; two non-letters by their digit runs, a run-less `_`
        // counting as 0 (so `a_b` < `a2` < `a10`); equal runs by length.
        assert_eq!(
            keys,
            vec!["_x", "B", "a", "a_b", "a2", "a10", "ab", "b", "x1y", "x01y"]
        );
    }

    #[test]
    fn floats_format_like_go() {
        for (f, want) in [
            (0.5, "0.5"),
            (1.0, "1"),
            (-2.25, "-2.25"),
            (100000.0, "100000"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e21, "1e+21"),
            (123456.5, "123456.5"),
            (0.0, "0"),
        ] {
            assert_eq!(go_float(f), want, "{f}");
        }
        assert_eq!(
            marshal(&json!({"a": f64::MAX, "b": f64::MIN})),
            "a: .inf\nb: -.inf\n"
        );
    }
}
