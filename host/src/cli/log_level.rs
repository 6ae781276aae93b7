//! `--log-level` (and RUST_LOG) parsing. Accepts the Datadog Agent's level
//! names and the runner's `target=level` directives, and rejects anything
//! else: tracing's own parser takes any bare word as a target name, so a
//! typo like `--log-level verbose` would silently log nothing.

/// The level names accepted, as they appear in messages.
pub const ACCEPTED: &str = "trace, debug, info, warn (or warning), error, critical, off";

/// Turns a filter such as `info`, `WARNING` or `warn,check=debug` into
/// tracing directives (`critical` becomes `error`, `warning` `warn`).
/// The error names the offending part.
pub fn parse(filter: &str) -> Result<String, String> {
    if filter.trim().is_empty() {
        return Err(format!("it is empty; use a level ({ACCEPTED})"));
    }
    let mut directives = Vec::new();
    for part in filter.split(',').map(str::trim) {
        let directive = match part.split_once('=') {
            Some((target, level)) => {
                let target = target.trim();
                if target.is_empty() || target.contains(char::is_whitespace) {
                    return Err(format!(
                        "`{part}` has no valid target before `=` (e.g. `check=debug`)"
                    ));
                }
                format!("{target}={}", level_name(level.trim())?)
            }
            None => level_name(part)?.to_string(),
        };
        directives.push(directive);
    }
    Ok(directives.join(","))
}

/// A level name (any case) as tracing spells it.
fn level_name(level: &str) -> Result<&'static str, String> {
    Ok(match level.to_ascii_lowercase().as_str() {
        "trace" => "trace",
        "debug" => "debug",
        "info" => "info",
        "warn" | "warning" => "warn",
        "error" | "critical" => "error",
        "off" => "off",
        _ => {
            return Err(format!(
                "unknown level `{level}`; accepted: {ACCEPTED}, or `target=level` \
                 directives such as `warn,check=debug`"
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_levels_and_directives() {
        assert_eq!(parse("info").unwrap(), "info");
        assert_eq!(parse("WARNING").unwrap(), "warn");
        assert_eq!(parse("critical").unwrap(), "error");
        assert_eq!(parse("off").unwrap(), "off");
        assert_eq!(parse("warn, check=Debug").unwrap(), "warn,check=debug");
        assert_eq!(
            parse("runner::sandbox=trace").unwrap(),
            "runner::sandbox=trace"
        );
    }

    #[test]
    fn anything_else_is_an_error_naming_it() {
        let e = parse("verbose").unwrap_err();
        assert!(e.contains("unknown level `verbose`"), "{e}");
        assert!(e.contains("critical"), "{e}");
        assert!(parse("check=loud").unwrap_err().contains("`loud`"));
        assert!(parse("=debug").unwrap_err().contains("no valid target"));
        assert!(parse("").is_err());
        assert!(parse("info,").is_err());
    }
}
