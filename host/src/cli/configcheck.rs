//! `runner configcheck [-v]`: validate conf.d offline and print every
//! resolved configuration in the Datadog Agent's format.
//!
//! The layout is the Agent's byte for byte (`=== <check> check ===`
//! blocks, instances re-marshalled as go-yaml writes them and scrubbed by
//! the Agent's scrubber), so tools that parse `agent configcheck` keep
//! working. What `-v` adds goes where the Agent's `-v` puts its extras:
//! warnings under `=== Resolve warnings ===`, and the runner's own
//! per-instance facts in a separate `=== Runner details ===` section after
//! all configs. The whole output goes through the scrubber once more, so
//! error messages cannot leak what the configs hide.
//!
//! Unlike `agent configcheck`, no running daemon is needed, instances are
//! checked against each plugin's schema (unknown keys are reported, not
//! silently accepted), and each check's own `configure` is called so
//! errors only it can see show up before deploy. Exit status 1 on any
//! configuration error.

use std::fmt::Write as _;

use clap::Args;

use crate::config::{ConfigError, ConfigFile, InstanceConfig, Limits, builtin};
use crate::escape;
use crate::resolve::{Environment, ResolvedInstance};
use crate::sandbox::capabilities::network::describe as describe_endpoints;
use crate::sandbox::{NetworkGrants, ProcessGrants};
use crate::scrub;

#[derive(Debug, Args)]
pub struct ConfigcheckArgs {
    /// Also print configuration warnings (under `=== Resolve warnings ===`)
    /// and, per instance, the plugin that will run it (and its sha256), the
    /// effective interval and limits, and schema warnings (under
    /// `=== Runner details ===`).
    #[arg(short, long)]
    pub verbose: bool,
}

/// Run the verb; returns the process exit code.
pub async fn execute(env: &Environment, args: &ConfigcheckArgs) -> i32 {
    let mut resolution = env.resolve(None).await;
    env.prepare(&mut resolution).await;

    let mut out = String::new();
    if !resolution.errors.is_empty() {
        out.push_str("=== Configuration errors ===\n");
        for error in &resolution.errors {
            let check = error.check.as_deref().unwrap_or("runner");
            write!(out, "\n{}\n", untrusted(&format!("{check}: {error}"))).unwrap();
        }
    }
    for file in &resolution.files {
        out.push_str(&config_block(file));
    }
    if args.verbose {
        out.push_str(&resolve_warnings(&resolution.warnings));
        out.push_str(&runner_details(&resolution.instances));
    }
    if resolution.files.is_empty() && resolution.errors.is_empty() {
        writeln!(
            out,
            "No check configurations found in {}.",
            env.runner.conf_d.display()
        )
        .unwrap();
    }
    if let Some(why) = &env.configs.builtin_default {
        // Not on stdout, whose layout is the Agent's.
        eprintln!(
            "{}: these are the runner's built-in default checks, which `runner run` \
             runs until conf.d holds a configuration file.",
            escape::for_terminal(why)
        );
    }
    // The Agent prints its buffer with Println: one more newline.
    println!("{}", scrub::scrub_text(&out));
    if !args.verbose && !resolution.warnings.is_empty() {
        eprintln!(
            "{} configuration warning(s); run `runner configcheck -v` to see them.",
            resolution.warnings.len()
        );
    }
    i32::from(!resolution.errors.is_empty())
}

/// One conf.d file as the Agent's `PrintConfig` writes it. Instances and
/// `init_config` are what the Agent's `ScrubYaml` makes of them (no final
/// newline, hence the `\n` after each); a missing or empty `init_config`
/// has no `Init Config:` part, like the Agent's empty data.
fn config_block(file: &ConfigFile) -> String {
    let mut out = String::new();
    write!(out, "\n=== {} check ===\n", file.check).unwrap();
    out.push_str("Configuration provider: file\n");
    let source = builtin::shown_source(&file.path);
    writeln!(out, "Configuration source: file:{}", source.display()).unwrap();
    for config in &file.instances {
        writeln!(out, "Config for instance ID: {}", config.id).unwrap();
        writeln!(out, "{}", scrub::scrub_yaml(&config.instance)).unwrap();
        out.push_str("~\n");
    }
    let init_absent =
        file.init_config.is_null() || file.init_config.as_object().is_some_and(|m| m.is_empty());
    if !init_absent {
        out.push_str("Init Config:\n");
        writeln!(out, "{}", scrub::scrub_yaml(&file.init_config)).unwrap();
    }
    out.push_str("===\n");
    out
}

/// Warnings grouped by check, in the Agent's `-v` warnings layout.
fn resolve_warnings(warnings: &[ConfigError]) -> String {
    if warnings.is_empty() {
        return String::new();
    }
    let mut checks: Vec<&str> = Vec::new();
    for warning in warnings {
        let check = warning.check.as_deref().unwrap_or("runner");
        if !checks.contains(&check) {
            checks.push(check);
        }
    }
    let mut out = String::from("\n=== Resolve warnings ===\n");
    for check in checks {
        write!(out, "\n{}\n", untrusted(check)).unwrap();
        for warning in warnings
            .iter()
            .filter(|w| w.check.as_deref().unwrap_or("runner") == check)
        {
            writeln!(out, "* {}", untrusted(&warning.to_string())).unwrap();
        }
    }
    out
}

/// The runner's own facts per instance: not part of the Agent's format,
/// so in a section of their own that its parsers skip.
fn runner_details(instances: &[ResolvedInstance]) -> String {
    if instances.is_empty() {
        return String::new();
    }
    let mut out = String::from("\n=== Runner details ===\n");
    for resolved in instances {
        write!(out, "\nInstance ID: {}\n", resolved.config.id).unwrap();
        out.push_str(&verbose_details(resolved));
    }
    out
}

/// What runs a Python check.
fn resolved_runtime(resolved: &ResolvedInstance) -> Option<String> {
    resolved.plugin.as_ref()?.runtime.clone()
}

/// What `-v` adds under an instance: who runs it and with what budget.
fn verbose_details(resolved: &ResolvedInstance) -> String {
    let mut out = String::new();
    let config: &InstanceConfig = &resolved.config;
    match &resolved.plugin {
        Some(plugin) => {
            // Name and version are what the check says about itself.
            let plugin = format!(
                "{} ({} {}, sha256:{})",
                plugin.origin, plugin.info.name, plugin.info.version, plugin.sha256
            );
            writeln!(out, "Plugin: {}", untrusted(&plugin)).unwrap();
            if let Some(runtime) = &resolved_runtime(resolved) {
                writeln!(out, "Runtime: {runtime} (bundled)").unwrap();
            }
        }
        None => out.push_str("Plugin: none (see Configuration errors)\n"),
    }
    writeln!(out, "Interval: {}s", config.interval.as_secs_f64()).unwrap();
    writeln!(out, "Limits: {}", describe_limits(&config.limits)).unwrap();
    writeln!(out, "Grants: {}", describe_grants(&resolved.grants)).unwrap();
    writeln!(out, "Network: {}", describe_network(&resolved.network)).unwrap();
    let status = if resolved.errors.is_empty() {
        "valid"
    } else {
        "invalid (see Configuration errors)"
    };
    writeln!(out, "Status: {status}").unwrap();
    if resolved.warnings.is_empty() {
        out.push_str("Schema warnings: none\n");
    } else {
        out.push_str("Schema warnings:\n");
        for warning in &resolved.warnings {
            writeln!(out, "  - {}", untrusted(&warning.to_string())).unwrap();
        }
    }
    out
}

/// A message that may quote a check (what its `configure` rejected or
/// warned about, its name and version) or a path, made one line of plain
/// text: scrubbed first, while its lines are still lines and its tabs still
/// white space for the scrubber's patterns, then escaped so it cannot fake
/// lines of the report or drive the terminal. The whole report is scrubbed
/// again at the end, which leaves this unchanged.
fn untrusted(text: &str) -> String {
    escape::for_terminal(&scrub::scrub_text(text)).into_owned()
}

fn describe_limits(limits: &Limits) -> String {
    format!(
        "timeout {}s, memory {} MiB; per run: {} metric samples, {} service checks, \
         {} events, {} metadata entries, {} KiB submitted, {} KiB of output; \
         {} live metric contexts",
        limits.timeout,
        limits.memory_mib,
        limits.max_metrics,
        limits.max_service_checks,
        limits.max_events,
        limits.max_metadata,
        limits.max_submission_kib,
        limits.max_output_kib,
        limits.max_contexts,
    )
}

/// What the instance's configuration lets its check see of the host.
fn describe_grants(grants: &ProcessGrants) -> String {
    let files = if grants.pid_files.is_empty() {
        "no files".to_string()
    } else {
        let paths: Vec<String> = grants
            .pid_files
            .iter()
            .map(|p| format!("{:?}", p.display().to_string()))
            .collect();
        format!("pid files {}", paths.join(", "))
    };
    let cmdlines = if grants.raw_command_lines {
        "raw command lines"
    } else {
        "scrubbed command lines"
    };
    format!("processes ({files}, {cmdlines})")
}

/// The endpoints the instance may reach: `none`, or TCP and HTTP lists.
/// Names are resolved when the check asks, so they are shown as written.
fn describe_network(network: &NetworkGrants) -> String {
    if network.is_empty() {
        return "none (every connection is denied)".into();
    }
    let mut parts = Vec::new();
    if !network.tcp.is_empty() {
        parts.push(format!("TCP {}", describe_endpoints(&network.tcp)));
    }
    if !network.http.is_empty() {
        parts.push(format!("HTTP(S) {}", describe_endpoints(&network.http)));
    }
    format!("{}; everything else is denied", parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_text_is_scrubbed_before_it_is_escaped() {
        let text = "rejected: password\t: hunter2\n\u{1b}[2Jfake line";
        assert_eq!(
            untrusted(text),
            "rejected: password\\t: \"********\"\\n\\u{1b}[2Jfake line"
        );
        // Escaped first, `\t` would no longer be white space to the
        // scrubber's `password\s*:`, and the secret would show.
        assert!(scrub::scrub_text(&escape::for_terminal(text)).contains("hunter2"));
        let error = ConfigError::new("bad\r\u{9b}31mred")
            .with_check("evil")
            .with_instance(0);
        let out = resolve_warnings(std::slice::from_ref(&error));
        assert_eq!(
            out,
            "\n=== Resolve warnings ===\n\nevil\n* evil: instance #0: bad\\r\\u{9b}31mred\n"
        );
    }
}
