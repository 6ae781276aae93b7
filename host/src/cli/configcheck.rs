//! `runner configcheck [-v]`: validate conf.d offline and print every
//! resolved configuration in the Datadog Agent's format.
//!
//! Unlike `agent configcheck`, no running daemon is needed, instances are
//! checked against each plugin's schema (unknown keys are reported, not
//! silently accepted), and each check's own `configure` is called so
//! errors only it can see show up before deploy. Exit status 1 on any
//! configuration error.

use std::fmt::Write as _;

use clap::Args;

use crate::config::{InstanceConfig, Limits, mask_secrets};
use crate::resolve::{Environment, ResolvedInstance};

#[derive(Debug, Args)]
pub struct ConfigcheckArgs {
    /// Also show, per instance, the plugin that will run it (and its
    /// sha256), the effective interval and limits, and schema warnings;
    /// and a section with all warnings.
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
            write!(out, "\n{check}: {error}\n").unwrap();
        }
    }
    if args.verbose && !resolution.warnings.is_empty() {
        out.push_str("\n=== Configuration warnings ===\n");
        for warning in &resolution.warnings {
            let check = warning.check.as_deref().unwrap_or("runner");
            write!(out, "\n{check}: {warning}\n").unwrap();
        }
    }
    for file in &resolution.files {
        write!(out, "\n=== {} check ===\n", file.check).unwrap();
        out.push_str("Configuration provider: file\n");
        writeln!(out, "Configuration source: file:{}", file.path.display()).unwrap();
        for config in &file.instances {
            writeln!(out, "Config for instance ID: {}", config.id).unwrap();
            out.push_str(&yaml(&mask_secrets(&config.instance)));
            if args.verbose
                && let Some(resolved) = resolution
                    .instances
                    .iter()
                    .find(|r| r.config.id == config.id)
            {
                out.push_str(&verbose_details(resolved));
            }
            out.push_str("~\n");
        }
        out.push_str("Init Config:\n");
        out.push_str(&yaml(&mask_secrets(&file.init_config)));
        out.push_str("===\n");
    }
    if resolution.files.is_empty() && resolution.errors.is_empty() {
        writeln!(
            out,
            "No check configurations found in {}.",
            env.runner.conf_d.display()
        )
        .unwrap();
    }
    print!("{out}");
    if !args.verbose && !resolution.warnings.is_empty() {
        eprintln!(
            "{} configuration warning(s); run `runner configcheck -v` to see them.",
            resolution.warnings.len()
        );
    }
    i32::from(!resolution.errors.is_empty())
}

/// What `-v` adds under an instance: who runs it and with what budget.
fn verbose_details(resolved: &ResolvedInstance) -> String {
    let mut out = String::new();
    let config: &InstanceConfig = &resolved.config;
    match &resolved.plugin {
        Some(plugin) => writeln!(
            out,
            "Plugin: {} ({} {}, sha256:{})",
            plugin.source, plugin.info.name, plugin.info.version, plugin.sha256
        )
        .unwrap(),
        None => out.push_str("Plugin: none (see Configuration errors)\n"),
    }
    writeln!(out, "Interval: {}s", config.interval.as_secs_f64()).unwrap();
    writeln!(out, "Limits: {}", describe_limits(&config.limits)).unwrap();
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
            writeln!(out, "  - {warning}").unwrap();
        }
    }
    out
}

fn describe_limits(limits: &Limits) -> String {
    format!(
        "timeout {}s, memory {} MiB, {} metric samples per run, {} KiB of output per run",
        limits.timeout, limits.memory_mib, limits.max_metrics, limits.max_output_kib
    )
}

/// A JSON value as block YAML, the way the Agent prints instances.
fn yaml(value: &serde_json::Value) -> String {
    let empty = value.as_object().is_some_and(|m| m.is_empty()) || value.is_null();
    if empty {
        return "{}\n".to_string();
    }
    serde_yaml::to_string(value).unwrap_or_else(|e| format!("<unprintable: {e}>\n"))
}
