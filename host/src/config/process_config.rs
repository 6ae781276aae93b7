//! runner.yaml's `process_config:` section: how command lines are scrubbed
//! before a check, the CLI or a log sees them. The keys and their meaning
//! are the Datadog Agent's `process_config.*` settings.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::cmdline_scrub::Scrubber;

/// How command lines are scrubbed. Environment variables override the
/// file: `RUNNER_SCRUB_ARGS`, `RUNNER_CUSTOM_SENSITIVE_WORDS` (words
/// separated by spaces or commas), `RUNNER_STRIP_PROC_ARGUMENTS`.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ProcessConfig {
    /// Mask the values of sensitive arguments (`--password=********`):
    /// Datadog's default words (`*password*`, `*passwd*`, `*mysql_pwd*`,
    /// `*access_token*`, `*auth_token*`, `*api_key*`, `*apikey*`,
    /// `*secret*`, `*credentials*`, `stripetoken`) and
    /// `custom_sensitive_words`. Default: true. An instance granted
    /// `raw_command_lines: true` sees command lines unscrubbed.
    pub scrub_args: bool,
    /// More sensitive words, matched like the defaults (case-insensitive;
    /// `*` matches any characters inside an argument name). A word that
    /// cannot be used is ignored with a warning naming it.
    pub custom_sensitive_words: Vec<String>,
    /// Keep only the executable of every command line (after scrubbing):
    /// no argument reaches a check, the CLI or a log. Default: false.
    pub strip_proc_arguments: bool,
}

impl Default for ProcessConfig {
    fn default() -> Self {
        Self {
            scrub_args: true,
            custom_sensitive_words: Vec::new(),
            strip_proc_arguments: false,
        }
    }
}

impl ProcessConfig {
    /// The scrubber these settings describe; custom words it cannot use
    /// are logged as warnings (as the Agent does) and skipped.
    pub fn scrubber(&self) -> Arc<Scrubber> {
        let is_default = *self == Self::default();
        if is_default {
            return Scrubber::shared_default();
        }
        let mut scrubber = if self.scrub_args {
            Scrubber::default()
        } else {
            Scrubber::disabled()
        };
        if self.scrub_args {
            for invalid in scrubber.add_words(&self.custom_sensitive_words) {
                tracing::warn!("process_config.custom_sensitive_words: {invalid}");
            }
        }
        Arc::new(scrubber.with_strip_arguments(self.strip_proc_arguments))
    }

    /// Applies the `RUNNER_*` overrides of this section; `get` returns
    /// non-empty variables only.
    pub(super) fn apply_env(&mut self, get: &dyn Fn(&str) -> Option<String>) {
        let yes =
            |v: String| super::schema::affirmative(&serde_json::Value::String(v)) == Some(true);
        if let Some(v) = get("RUNNER_SCRUB_ARGS") {
            self.scrub_args = yes(v);
        }
        if let Some(v) = get("RUNNER_CUSTOM_SENSITIVE_WORDS") {
            self.custom_sensitive_words = v
                .split([' ', ','])
                .filter(|w| !w.is_empty())
                .map(String::from)
                .collect();
        }
        if let Some(v) = get("RUNNER_STRIP_PROC_ARGUMENTS") {
            self.strip_proc_arguments = yes(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn default_is_datadogs_and_shared() {
        let scrubber = ProcessConfig::default().scrubber();
        assert!(Arc::ptr_eq(&scrubber, &Scrubber::shared_default()));
    }

    #[test]
    fn custom_words_are_scrubbed_too() {
        let config = ProcessConfig {
            custom_sensitive_words: strings(&["token", "*db_url*"]),
            ..ProcessConfig::default()
        };
        let scrubber = config.scrubber();
        assert_eq!(
            scrubber.scrub(&strings(&[
                "app",
                "--token=abc",
                "--main_db_url",
                "postgres://u:p@h",
                "--password",
                "hunter2",
                "--tokenizer=bert",
            ])),
            strings(&[
                "app",
                "--token=********",
                "--main_db_url",
                "********",
                "--password",
                "********",
                // `token` is a whole word: `tokenizer` is another argument.
                "--tokenizer=bert",
            ])
        );
    }

    /// The forms secrets take on command lines, through the scrubber these
    /// settings build.
    #[test]
    fn tricky_forms() {
        let scrub = |config: &ProcessConfig, args: &[&str]| config.scrubber().scrub(&strings(args));
        let default = ProcessConfig::default();
        // `--password=x` and `--password x`.
        assert_eq!(
            scrub(&default, &["mysqld", "--password=x", "--db_password", "y"]),
            strings(&["mysqld", "--password=********", "--db_password", "********"])
        );
        // `password: x` inside one argument: the value is masked, the
        // argument kept whole.
        assert_eq!(
            scrub(&default, &["agent", "password: 1234"]),
            strings(&["agent", "password: ********"])
        );
        // A process title (one argument): split on spaces, as Datadog does,
        // with a quoted value masked whole.
        assert_eq!(
            scrub(&default, &["postgres: --password 'my secret' --port 5"]),
            strings(&["postgres:", "--password", "********", "--port", "5"])
        );
        assert_eq!(
            scrub(&default, &["agent password: 1234"]),
            strings(&["agent", "password:", "********"])
        );
        // A quoted value with spaces is one argument: masked whole.
        assert_eq!(
            scrub(
                &default,
                &["app", "--api_key", "two words here", "--port", "80"]
            ),
            strings(&["app", "--api_key", "********", "--port", "80"])
        );
        // A sensitive word inside a value or a path is not an argument name:
        // nothing is masked.
        assert_eq!(
            scrub(
                &default,
                &["/opt/secret-santa/bin/app", "--file=/etc/secrets/app.conf"]
            ),
            strings(&["/opt/secret-santa/bin/app", "--file=/etc/secrets/app.conf"])
        );
        // `-p x`: `p` is not a default word (mysql's `-p` is left alone, as
        // by Datadog) until it is made one.
        assert_eq!(
            scrub(&default, &["mysql", "-p", "x", "-h", "db"]),
            strings(&["mysql", "-p", "x", "-h", "db"])
        );
        let with_p = ProcessConfig {
            custom_sensitive_words: strings(&["p"]),
            ..ProcessConfig::default()
        };
        assert_eq!(
            scrub(&with_p, &["mysql", "-p", "x", "-h", "db", "--port", "1"]),
            strings(&["mysql", "-p", "********", "-h", "db", "--port", "1"])
        );
        // `-p x` in one argument: the rest of it is the value.
        assert_eq!(
            scrub(&with_p, &["mysql", "-p x", "-h", "db"]),
            strings(&["mysql", "-p ********", "-h", "db"])
        );
        assert_eq!(
            scrub(&with_p, &["mysql -p x -h db"]),
            strings(&["mysql", "-p", "********", "-h", "db"])
        );
    }

    #[test]
    fn strip_and_disable() {
        let strip = ProcessConfig {
            strip_proc_arguments: true,
            ..ProcessConfig::default()
        };
        assert_eq!(
            strip
                .scrubber()
                .scrub(&strings(&["/usr/bin/app", "--password=x", "-v"])),
            strings(&["/usr/bin/app"])
        );
        let off = ProcessConfig {
            scrub_args: false,
            ..ProcessConfig::default()
        };
        assert_eq!(
            off.scrubber().scrub(&strings(&["app", "--password=x"])),
            strings(&["app", "--password=x"])
        );
    }

    #[test]
    fn env_overrides() {
        let mut config = ProcessConfig::default();
        let env = |name: &str| match name {
            "RUNNER_CUSTOM_SENSITIVE_WORDS" => Some("token, db_url".to_string()),
            "RUNNER_STRIP_PROC_ARGUMENTS" => Some("yes".to_string()),
            "RUNNER_SCRUB_ARGS" => Some("false".to_string()),
            _ => None,
        };
        config.apply_env(&env);
        assert_eq!(config.custom_sensitive_words, ["token", "db_url"]);
        assert!(config.strip_proc_arguments);
        assert!(!config.scrub_args);
    }
}
