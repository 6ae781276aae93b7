//! `%%env_NAME%%` placeholders in conf.d files, as the Datadog Agent
//! supports them, so secrets and per-host values can stay out of the files.

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

use super::error::ConfigError;

static PLACEHOLDER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"%%env_([^%\s]+)%%").expect("valid regex"));

/// Replaces every `%%env_NAME%%` in `text` with the value of `NAME`.
///
/// Substitution is textual and happens before YAML parsing, so a value is
/// read as YAML where it lands (quote the placeholder to keep a string).
/// Lines that are entirely comments are left alone: the Agent never sees
/// comments, so a placeholder in an example line must not break the file.
/// Every unset variable is reported (with its line), not only the first.
pub(crate) fn substitute_env(
    text: &str,
    file: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, Vec<ConfigError>> {
    let mut out = String::with_capacity(text.len());
    let mut errors = Vec::new();
    for (index, line) in text.split_inclusive('\n').enumerate() {
        if line.trim_start().starts_with('#') || !line.contains("%%env_") {
            out.push_str(line);
            continue;
        }
        let mut last = 0;
        for caps in PLACEHOLDER.captures_iter(line) {
            let whole = caps.get(0).expect("group 0 always matches");
            let name = &caps[1];
            out.push_str(&line[last..whole.start()]);
            match env(name) {
                Some(value) => out.push_str(&value),
                None => {
                    errors.push(
                        ConfigError::new(format!(
                            "environment variable `{name}` is not set (used as `%%env_{name}%%`)"
                        ))
                        .with_file(file)
                        .at(index + 1, Some(whole.start() + 1))
                        .with_hint(format!(
                            "set `{name}` in the runner's environment, or remove the placeholder"
                        )),
                    );
                    out.push_str(whole.as_str());
                }
            }
            last = whole.end();
        }
        out.push_str(&line[last..]);
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::env_of;

    #[test]
    fn replaces_every_placeholder() {
        let env = env_of(&[("HOST", "db1"), ("PORT", "5432")]);
        let text = "instances:\n  - url: \"%%env_HOST%%:%%env_PORT%%\"\n    port: %%env_PORT%%\n";
        let out = substitute_env(text, Path::new("f.yaml"), &env).unwrap();
        assert_eq!(out, "instances:\n  - url: \"db1:5432\"\n    port: 5432\n");
    }

    #[test]
    fn unset_variable_is_an_error_with_line() {
        let env = env_of(&[("A", "1")]);
        let text = "a: %%env_A%%\n\nb: %%env_MISSING%%\n";
        let errors = substitute_env(text, Path::new("conf.d/x.yaml"), &env).unwrap_err();
        assert_eq!(errors.len(), 1);
        let e = &errors[0];
        assert_eq!(e.line, Some(3));
        assert_eq!(e.column, Some(4));
        assert_eq!(e.file.as_deref(), Some(Path::new("conf.d/x.yaml")));
        assert!(e.message.contains("`MISSING`"), "{e}");
    }

    #[test]
    fn comment_lines_are_untouched() {
        let env = env_of(&[]);
        let text = "# password: %%env_SECRET%%\na: 1\n";
        assert_eq!(substitute_env(text, Path::new("f"), &env).unwrap(), text);
    }
}
