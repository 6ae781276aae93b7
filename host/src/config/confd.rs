//! conf.d discovery and parsing, following the Datadog Agent's rules so an
//! existing conf.d works unchanged:
//!
//! - `conf.d/<check>.d/*.yaml|*.yml` (one level; file names don't matter) and
//!   `conf.d/<check>.yaml|.yml` (check = file stem);
//! - `*.yaml.default`/`*.yml.default` only when no regular config for that
//!   check loaded; `*.example` and other extensions never;
//! - `auto_conf.yaml` (autodiscovery templates) skipped with a warning;
//! - every file is its own config, every instance its own scheduled instance.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use serde_yaml::Value as Yaml;

use super::agent_id;
use super::env_vars::substitute_env;
use super::error::ConfigError;
use super::generic::Findings;
use super::instance::{build_instance, dedupe, parse_init_config};
use super::suggest::{did_you_mean_hint, show_value};
use super::yaml::{parse_yaml, to_json};
use super::{ConfigFile, LoadedConfigs, Positions};

/// The Agent's message for a file without instances (users search for it).
pub const NO_INSTANCES: &str = "Configuration file contains no valid instances";

/// Top-level keys of a conf.d file that the runner uses.
const SUPPORTED_KEYS: &[&str] = &["init_config", "instances"];

/// Top-level keys the Agent knows that the runner accepts but ignores, and
/// why (said once per file as a warning, so nobody expects them to work).
const UNSUPPORTED_KEYS: &[(&str, &str)] = &[
    (
        "logs",
        "log collection is not supported by the runner; the section is ignored",
    ),
    (
        "ad_identifiers",
        "autodiscovery is not supported by the runner; ignored",
    ),
    (
        "advanced_ad_identifiers",
        "autodiscovery is not supported by the runner; ignored",
    ),
    (
        "cel_selector",
        "autodiscovery is not supported by the runner; ignored",
    ),
    (
        "docker_images",
        "autodiscovery is not supported by the runner; ignored",
    ),
    (
        "ignore_autodiscovery_tags",
        "autodiscovery is not supported by the runner; ignored",
    ),
    (
        "cluster_check",
        "cluster checks are not supported by the runner; these instances run on this host",
    ),
    (
        "jmx_metrics",
        "JMX checks are not supported by the runner; ignored",
    ),
    (
        "check_tag_cardinality",
        "per-check tag cardinality is not supported by the runner; ignored",
    ),
];

/// Loads every check configuration under `dir` (a conf.d directory).
///
/// Never stops at the first problem: files that load are returned with all
/// errors and warnings, so `runner configcheck` can show everything at once
/// and the scheduler can still run the healthy checks. Instances use the
/// built-in default limits; [`super::load`] applies runner.yaml's.
/// `env` resolves `%%env_NAME%%` placeholders.
pub fn load_conf_d(dir: &Path, env: &dyn Fn(&str) -> Option<String>) -> LoadedConfigs {
    let mut out = LoadedConfigs::default();
    let candidates = match discover(dir) {
        Ok(c) => c,
        Err(e) => {
            out.errors.push(e);
            return out;
        }
    };
    let mut results: Vec<FileResult> = Vec::new();
    let mut configured: HashSet<String> = HashSet::new();
    for c in &candidates {
        match c.kind {
            Kind::Regular => {
                let (result, counts) = parse_file(&c.check, &c.path, env);
                if counts {
                    configured.insert(c.check.clone());
                }
                results.push(result);
            }
            Kind::Skipped(reason) => results.push(FileResult {
                path: c.path.clone(),
                positions: Positions::default(),
                file: None,
                errors: Vec::new(),
                warnings: vec![
                    ConfigError::new(reason)
                        .with_check(&c.check)
                        .with_file(&c.path),
                ],
            }),
            Kind::Default => {}
        }
    }
    // Like the Agent: a default applies only when no regular config for the
    // check loaded (a broken or empty one does not count).
    for c in candidates
        .iter()
        .filter(|c| matches!(c.kind, Kind::Default))
    {
        if !configured.contains(&c.check) {
            results.push(parse_file(&c.check, &c.path, env).0);
        }
    }
    gather(results, &mut out);
    out
}

/// Loads configuration files given as text (the runner's built-in
/// default), as if they were found in a conf.d: `(check, path, text)`.
pub fn load_texts(
    files: &[(&str, PathBuf, &str)],
    env: &dyn Fn(&str) -> Option<String>,
) -> LoadedConfigs {
    let mut out = LoadedConfigs::default();
    let results = files
        .iter()
        .map(|(check, path, text)| parse_text(check, path, Ok(text.to_string()), env).0)
        .collect();
    gather(results, &mut out);
    out
}

/// True when `dir` holds at least one file the loader reads (a regular,
/// default or recognised-but-skipped configuration).
pub fn has_config_files(dir: &Path) -> bool {
    discover(dir).is_ok_and(|found| !found.is_empty())
}

/// Adds every file's outcome to `out`, in path order.
fn gather(mut results: Vec<FileResult>, out: &mut LoadedConfigs) {
    results.sort_by(|a, b| a.path.cmp(&b.path));
    for r in results {
        out.errors.extend(r.errors);
        out.warnings.extend(r.warnings);
        out.files.extend(r.file);
    }
    dedupe(&mut out.files, &mut out.warnings);
}

/// How a discovered file is treated.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Regular,
    Default,
    /// Recognised but unsupported; the reason becomes a warning.
    Skipped(&'static str),
}

#[derive(Debug)]
struct Candidate {
    check: String,
    path: PathBuf,
    kind: Kind,
}

/// Outcome of one file, kept together so output follows path order.
struct FileResult {
    path: PathBuf,
    /// Where each key of the file is written (empty until it is read).
    positions: Positions,
    file: Option<ConfigFile>,
    errors: Vec<ConfigError>,
    warnings: Vec<ConfigError>,
}

/// Lists the config files under `dir`, sorted by path.
fn discover(dir: &Path) -> Result<Vec<Candidate>, ConfigError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            // Name the directory as searched: a relative default means
            // little when the runner was started from elsewhere.
            let searched = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
            let message = if e.kind() == std::io::ErrorKind::NotFound {
                "conf.d directory not found".to_string()
            } else {
                format!("cannot read conf.d directory: {e}")
            };
            return Err(ConfigError::new(message).with_file(searched).with_hint(
                "pass `--conf-d DIR`, set `conf_d` in runner.yaml, or RUNNER_CONF_D \
                 (this repository's examples are in examples/conf.d)",
            ));
        }
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(String::from) else {
            continue;
        };
        // Follow symlinks (ConfigMap mounts, shared folders).
        let Ok(meta) = fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            if let Some(check) = name.strip_suffix(".d").filter(|c| !c.is_empty()) {
                collect_folder(check, &path, &mut out);
            }
        } else if meta.is_file()
            // Devices, FIFOs and sockets named like a config are skipped:
            // reading one could block or never end.
            && let Some((check, kind)) = classify(&name, None)
        {
            out.push(Candidate { check, path, kind });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// Largest config file read. Agent configs are a few KiB; this only stops
/// a file that would take the loader's memory with it.
const MAX_FILE_BYTES: u64 = 4 << 20;

/// The file's bytes, or an error when it is larger than [`MAX_FILE_BYTES`].
fn read_capped(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    fs::File::open(path)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {} MiB",
            MAX_FILE_BYTES >> 20
        )));
    }
    Ok(bytes)
}

/// Adds the config files of one `<check>.d` folder (not its subfolders).
fn collect_folder(check: &str, dir: &Path, out: &mut Vec<Candidate>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(String::from) else {
            continue;
        };
        if fs::metadata(&path).is_ok_and(|m| m.is_file())
            && let Some((check, kind)) = classify(&name, Some(check))
        {
            out.push(Candidate { check, path, kind });
        }
    }
}

/// Decides what a file named `name` is; `folder_check` is the check of the
/// enclosing `<check>.d` folder, if any. `None` means "not a config file".
fn classify(name: &str, folder_check: Option<&str>) -> Option<(String, Kind)> {
    let (stem, default) = match name.strip_suffix(".default") {
        Some(rest) => (rest, true),
        None => (name, false),
    };
    let stem = stem
        .strip_suffix(".yaml")
        .or_else(|| stem.strip_suffix(".yml"))?;
    let check = folder_check.unwrap_or(stem).to_string();
    if check.is_empty() {
        return None;
    }
    let kind = if stem == "auto_conf" {
        Kind::Skipped(
            "autodiscovery templates (auto_conf.yaml) are not supported by the runner; file skipped",
        )
    } else if stem == "metrics" {
        // The Agent ignores a metrics file outside a folder.
        folder_check?;
        Kind::Skipped("JMX metric files are not supported by the runner; file skipped")
    } else if default {
        Kind::Default
    } else {
        Kind::Regular
    };
    Some((check, kind))
}

/// Parses one file. The flag says whether it counts as a configuration for
/// its check (parsed, with a non-empty `instances` list), which hides that
/// check's `.default` files.
fn parse_file(
    check: &str,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> (FileResult, bool) {
    let text = match read_capped(path).map(String::from_utf8) {
        Ok(Ok(text)) => Ok(text),
        Ok(Err(_)) => Err(ConfigError::new("cannot read: not UTF-8 text")),
        Err(e) => Err(ConfigError::new(format!("cannot read: {e}"))),
    };
    parse_text(check, path, text, env)
}

/// Parses a file's text (or records why it could not be read), naming
/// `check` and `path` in every problem found.
fn parse_text(
    check: &str,
    path: &Path,
    text: Result<String, ConfigError>,
    env: &dyn Fn(&str) -> Option<String>,
) -> (FileResult, bool) {
    let mut r = FileResult {
        path: path.to_path_buf(),
        positions: Positions::default(),
        file: None,
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let counts = match text {
        Ok(text) => parse_into(check, path, &text, env, &mut r),
        Err(e) => {
            r.errors.push(e);
            false
        }
    };
    for e in r.errors.iter_mut().chain(r.warnings.iter_mut()) {
        r.positions.place(e);
        if e.check.is_none() {
            e.check = Some(check.to_string());
        }
        if e.file.is_none() {
            e.file = Some(path.to_path_buf());
        }
    }
    (r, counts)
}

/// Parses one file's `text`; true when the file counts as a configuration
/// of `check` (so a `.default` of it does not apply).
fn parse_into(
    check: &str,
    path: &Path,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
    r: &mut FileResult,
) -> bool {
    let text = match substitute_env(text, path, env) {
        Ok(text) => text,
        Err(errors) => {
            r.errors.extend(errors);
            return false;
        }
    };
    let doc = match parse_yaml(&text, path) {
        Ok(Some(doc)) => doc,
        Ok(None) => return false, // empty file: skipped silently
        Err(e) => {
            r.errors.push(e);
            return false;
        }
    };
    r.positions = Positions::of(&text);
    let Yaml::Mapping(mapping) = doc else {
        r.errors.push(
            ConfigError::new(format!(
                "expected a mapping with `init_config` and `instances` at the top level, got {}",
                yaml_kind(&doc)
            ))
            .with_hint("start the file with `init_config:` and `instances:`"),
        );
        return false;
    };
    // Each top-level section is converted on its own, and each instance
    // too: a value that cannot be used spoils only what holds it.
    let mut top: Map<String, Value> = Map::new();
    let mut items: Option<&Yaml> = None;
    for (key, value) in &mapping {
        let key = match key {
            Yaml::String(s) => s.clone(),
            other => yaml_kind(other),
        };
        if key == "instances" {
            items = Some(value);
            continue;
        }
        let mut notes = Vec::new();
        match to_json(value, &key, &mut notes) {
            Ok(json) => {
                r.warnings.extend(notes.into_iter().map(note_to_warning));
                top.insert(key, json);
            }
            Err((at, message)) => r.errors.push(ConfigError::new(message).with_key(at)),
        }
    }
    top_level_warnings(&top, &mut r.warnings);

    let init_config = match top.get("init_config") {
        None | Some(Value::Null) => Some(Map::new()),
        Some(Value::Object(map)) => Some(map.clone()),
        Some(other) => {
            r.errors.push(
                ConfigError::new(format!(
                    "expected a mapping (or nothing), got {}",
                    show_value(other)
                ))
                .with_key("init_config")
                .with_hint("e.g. `init_config: {}` or `init_config:` with nothing after it"),
            );
            None
        }
    };
    let items: &[Yaml] = match items {
        None | Some(Yaml::Null) => &[],
        Some(Yaml::Sequence(items)) => items,
        Some(other) => {
            r.errors.push(
                ConfigError::new(format!(
                    "expected a list of mappings, got {}",
                    yaml_kind(other)
                ))
                .with_key("instances")
                .with_hint("start each instance with `- `, e.g. `instances:\\n  - url: ...`"),
            );
            return false;
        }
    };
    if items.is_empty() {
        // A logs-only file is a valid Agent config; its `logs` warning said
        // why nothing runs.
        if !top.get("logs").is_none_or(is_empty) {
            return false;
        }
        r.errors.push(
            ConfigError::new(NO_INSTANCES)
                .with_hint("add at least one instance, e.g. `instances: [{}]`"),
        );
        return false;
    }
    // init_config is shared: when it is unusable, so is every instance.
    let Some(mut init_config) = init_config else {
        return true;
    };
    // IDs are computed from the file as written, as the Agent does,
    // before lenient values are rewritten.
    let init_written = Value::Object(init_config.clone());
    let mut findings = Findings::default();
    let init = parse_init_config(check, path, &mut init_config, &mut findings);
    if !findings.errors.is_empty() {
        r.errors.extend(findings.errors);
        r.warnings.extend(findings.warnings);
        return true;
    }
    let init_config = Value::Object(init_config);
    let mut converted: Vec<Option<Value>> = Vec::with_capacity(items.len());
    for (index, raw) in items.iter().enumerate() {
        let at = |e: ConfigError| e.with_check(check).with_file(path).with_instance(index);
        let mut notes = Vec::new();
        match to_json(raw, "", &mut notes) {
            Ok(value) => {
                findings
                    .warnings
                    .extend(notes.into_iter().map(|n| at(note_to_warning(n))));
                converted.push(Some(value));
            }
            Err((key, message)) => {
                let e = at(ConfigError::new(message));
                findings
                    .errors
                    .push(if key.is_empty() { e } else { e.with_key(key) });
                converted.push(None);
            }
        }
    }
    let digest = agent_id::config_digest(check, converted.iter().flatten(), &init_written);
    let mut instances = Vec::new();
    for (index, raw) in converted.into_iter().enumerate() {
        let Some(raw) = raw else { continue };
        let id = agent_id::instance_id_with_digest(check, &raw, &init_written, digest);
        if let Some(inst) = build_instance(
            check,
            path,
            index,
            raw,
            id,
            &init_config,
            &init,
            &mut findings,
        ) {
            instances.push(inst);
        }
    }
    r.errors.extend(findings.errors);
    r.warnings.extend(findings.warnings);
    if !instances.is_empty() {
        r.file = Some(ConfigFile {
            check: check.to_string(),
            path: path.to_path_buf(),
            init_config,
            instances,
            positions: r.positions.clone(),
        });
    }
    true
}

/// A `(key, message)` note of the YAML conversion as a warning.
fn note_to_warning((key, message): (String, String)) -> ConfigError {
    let e = ConfigError::new(message);
    if key.is_empty() { e } else { e.with_key(key) }
}

/// What kind of YAML value this is, for messages.
fn yaml_kind(value: &Yaml) -> String {
    match value {
        Yaml::Null => "nothing (null)".to_string(),
        Yaml::Bool(b) => b.to_string(),
        Yaml::Number(n) => n.to_string(),
        Yaml::String(s) => format!("{s:?}"),
        Yaml::Sequence(_) => "a list".to_string(),
        Yaml::Mapping(_) => "a mapping".to_string(),
        Yaml::Tagged(t) => yaml_kind(&t.value),
    }
}

/// null, false, `[]` and `{}` do nothing, so deserve no warning.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null | Value::Bool(false) => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Warnings for unsupported and unknown top-level keys.
fn top_level_warnings(top: &Map<String, Value>, warnings: &mut Vec<ConfigError>) {
    for (key, value) in top {
        if SUPPORTED_KEYS.contains(&key.as_str()) {
            continue;
        }
        if let Some((_, why)) = UNSUPPORTED_KEYS.iter().find(|(k, _)| k == key) {
            if !is_empty(value) {
                warnings.push(ConfigError::new(*why).with_key(key.clone()));
            }
            continue;
        }
        let known = SUPPORTED_KEYS
            .iter()
            .copied()
            .chain(UNSUPPORTED_KEYS.iter().map(|(k, _)| *k));
        warnings.push(
            ConfigError::new("unknown top-level key; ignored")
                .with_key(key.clone())
                .with_hint(
                    did_you_mean_hint(key, known)
                        .unwrap_or_else(|| "move it under an instance or remove it".to_string()),
                ),
        );
    }
}
