//! Wording helpers shared by every config module: did-you-mean suggestions
//! for misspelt keys and short descriptions of the value a user wrote.

use serde_json::Value;

/// The candidate closest to `word`, when it is close enough to be a likely
/// typo: Jaro-Winkler >= 0.85, or one edit (3+ letters), or two edits
/// (4+ letters), a swap of neighbouring letters counting as one edit.
pub(crate) fn did_you_mean<'a, I>(word: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    let lower = word.to_ascii_lowercase();
    let mut best: Option<(f64, &str)> = None;
    for candidate in candidates {
        if candidate == word {
            continue;
        }
        let cand_lower = candidate.to_ascii_lowercase();
        let score = strsim::jaro_winkler(&lower, &cand_lower);
        // Optimal string alignment counts a swap of neighbours as one edit.
        let edits = strsim::osa_distance(&lower, &cand_lower);
        let shorter = lower.len().min(cand_lower.len());
        let close = score >= 0.85 || (edits <= 1 && shorter >= 3) || (edits <= 2 && shorter >= 4);
        if close && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, c)| c.to_string())
}

/// "did you mean `x`?" when a close candidate exists.
pub(crate) fn did_you_mean_hint<'a, I>(word: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    did_you_mean(word, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// The value as a user would recognise it: strings quoted, scalars as
/// written, containers by kind (they can be long).
pub(crate) fn show_value(value: &Value) -> String {
    match value {
        Value::String(s) => {
            let shown: String = s.chars().take(60).collect();
            let ellipsis = if shown.len() < s.len() { "..." } else { "" };
            format!("{:?}", format!("{shown}{ellipsis}"))
        }
        Value::Array(_) => "a list".to_string(),
        Value::Object(_) => "a mapping".to_string(),
        other => other.to_string(),
    }
}

/// JSON Schema type name of a value (`integer` for whole numbers).
pub(crate) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// `type value`, e.g. `string "abc"`, `integer 3`, `array` — what schema
/// errors say they got.
pub(crate) fn show_typed(value: &Value) -> String {
    match value {
        Value::Array(_) | Value::Object(_) | Value::Null => json_type(value).to_string(),
        _ => format!("{} {}", json_type(value), show_value(value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn suggests_close_words_only() {
        let keys = ["conf_d", "checks_d", "cache_dir", "hostname"];
        assert_eq!(did_you_mean("cachedir", keys).as_deref(), Some("cache_dir"));
        assert_eq!(did_you_mean("hostnme", keys).as_deref(), Some("hostname"));
        assert_eq!(did_you_mean("zzz", keys), None);
        assert_eq!(did_you_mean("pdi", ["pid", "name"]).as_deref(), Some("pid"));
    }

    #[test]
    fn shows_values() {
        assert_eq!(show_value(&json!("fast")), "\"fast\"");
        assert_eq!(show_value(&json!(1.5)), "1.5");
        assert_eq!(show_value(&json!([1])), "a list");
        assert_eq!(show_typed(&json!("abc")), "string \"abc\"");
        assert_eq!(show_typed(&json!(3)), "integer 3");
        assert_eq!(show_typed(&json!({})), "object");
        let long = "x".repeat(100);
        assert!(show_value(&json!(long)).ends_with("...\""));
    }
}
