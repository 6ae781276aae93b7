//! conf.d loading tests on real directories.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;
use tempfile::TempDir;

use super::*;

fn no_env(_: &str) -> Option<String> {
    None
}

/// An environment lookup over fixed pairs, for the loaders' `env` argument.
pub(super) fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

/// A conf.d with the given files (`(relative path, content)`).
fn conf_d(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (rel, text) in files {
        let path = dir.path().join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
    dir
}

/// `(check, path relative to conf.d)` of every loaded file.
fn loaded_files(dir: &TempDir, loaded: &LoadedConfigs) -> Vec<(String, String)> {
    loaded
        .files
        .iter()
        .map(|f| {
            let rel = f.path.strip_prefix(dir.path()).unwrap();
            (f.check.clone(), rel.display().to_string())
        })
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

const ONE: &str = "instances:\n  - {}\n";

#[test]
fn folder_and_flat_forms_name_checks() {
    let dir = conf_d(&[
        ("process.d/conf.yaml", ONE),
        ("process.d/other-name.yml", "instances:\n  - pid: 1\n"),
        ("disk.yaml", ONE),
        ("net.yml", ONE),
        ("process.d/nested/deep.yaml", ONE), // only one level is read
        ("notafolder/conf.yaml", ONE),       // folders must end in .d
    ]);
    let loaded = load_conf_d(dir.path(), &no_env);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(
        loaded_files(&dir, &loaded),
        pairs(&[
            ("disk", "disk.yaml"),
            ("net", "net.yml"),
            ("process", "process.d/conf.yaml"),
            ("process", "process.d/other-name.yml"),
        ])
    );
    let inst = &loaded.files[3].instances[0];
    assert_eq!(inst.check, "process");
    assert_eq!(inst.source, dir.path().join("process.d/other-name.yml"));
    assert_eq!(inst.index, 0);
    assert_eq!(inst.instance, json!({"pid": 1}));
    assert_eq!(inst.init_config, json!({}));
    assert_eq!(loaded.files[3].init_config, json!({}));
}

#[test]
fn example_and_other_extensions_are_ignored() {
    let dir = conf_d(&[
        ("a.d/conf.yaml.example", "broken: ["),
        ("b.yaml.example", "broken: ["),
        ("c.d/conf.json", "{}"),
        ("d.txt", "x"),
        ("e.yaml.bak", "broken: ["),
    ]);
    let loaded = load_conf_d(dir.path(), &no_env);
    assert_eq!(loaded, LoadedConfigs::default());
}

#[test]
fn default_files_only_when_alone_flat() {
    let dir = conf_d(&[
        ("cpu.yaml.default", "instances:\n  - from: default\n"),
        ("mem.yaml.default", "instances:\n  - from: default\n"),
        ("mem.yaml", "instances:\n  - from: regular\n"),
        ("io.yml.default", ONE),
    ]);
    let loaded = load_conf_d(dir.path(), &no_env);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    assert_eq!(
        loaded_files(&dir, &loaded),
        pairs(&[
            ("cpu", "cpu.yaml.default"),
            ("io", "io.yml.default"),
            ("mem", "mem.yaml"),
        ])
    );
}

#[test]
fn default_files_only_when_alone_folder() {
    let dir = conf_d(&[
        ("cpu.d/conf.yaml.default", ONE),
        ("mem.d/conf.yaml.default", ONE),
        ("mem.d/conf.yaml", "instances:\n  - from: regular\n"),
        // A flat regular file hides a folder default of the same check too.
        ("net.d/conf.yaml.default", ONE),
        ("net.yaml", ONE),
    ]);
    let loaded = load_conf_d(dir.path(), &no_env);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    assert_eq!(
        loaded_files(&dir, &loaded),
        pairs(&[
            ("cpu", "cpu.d/conf.yaml.default"),
            ("mem", "mem.d/conf.yaml"),
            ("net", "net.yaml"),
        ])
    );
}

#[test]
fn default_applies_when_the_regular_file_did_not_load() {
    // The Agent's rule: only a config that loaded hides the default.
    let dir = conf_d(&[
        ("a.d/conf.yaml.default", ONE),
        ("a.d/conf.yaml", ""),
        ("b.d/conf.yaml.default", ONE),
        ("b.d/conf.yaml", "instances: [\n"),
    ]);
    let loaded = load_conf_d(dir.path(), &no_env);
    assert_eq!(
        loaded_files(&dir, &loaded),
        pairs(&[
            ("a", "a.d/conf.yaml.default"),
            ("b", "b.d/conf.yaml.default")
        ])
    );
    assert_eq!(loaded.errors.len(), 1, "{:?}", loaded.errors);
}

#[test]
fn empty_files_are_skipped_silently() {
    let dir = conf_d(&[
        ("a.yaml", ""),
        ("b.yaml", "  \n\n"),
        (
            "c.d/conf.yaml",
            "# all commented out\n# instances:\n#   - {}\n",
        ),
    ]);
    let loaded = load_conf_d(dir.path(), &no_env);
    assert_eq!(loaded, LoadedConfigs::default());
}

#[test]
fn broken_yaml_reports_file_line_and_column() {
    let dir = conf_d(&[
        ("bad.yaml", "init_config:\ninstances:\n  - url: x: y\n"),
        ("good.yaml", ONE),
    ]);
    let loaded = load_conf_d(dir.path(), &no_env);
    assert_eq!(loaded.errors.len(), 1, "{:?}", loaded.errors);
    let e = &loaded.errors[0];
    assert_eq!(e.file, Some(dir.path().join("bad.yaml")));
    assert_eq!(e.check.as_deref(), Some("bad"));
    assert_eq!(e.line, Some(3));
    assert_eq!(e.column, Some(11));
    assert_eq!(
        e.message,
        "invalid YAML: mapping values are not allowed in this context"
    );
    // The broken file does not stop the others.
    assert_eq!(loaded_files(&dir, &loaded), pairs(&[("good", "good.yaml")]));
}

#[test]
fn no_instances_is_the_agents_error() {
    for text in [
        "init_config:\n",
        "init_config:\ninstances:\n",
        "instances: []\n",
    ] {
        let dir = conf_d(&[("x.d/conf.yaml", text)]);
        let loaded = load_conf_d(dir.path(), &no_env);
        assert!(loaded.files.is_empty());
        assert_eq!(loaded.errors.len(), 1, "{text:?}: {:?}", loaded.errors);
        let e = &loaded.errors[0];
        assert_eq!(e.message, "Configuration file contains no valid instances");
        assert_eq!(e.check.as_deref(), Some("x"));
        assert_eq!(e.file, Some(dir.path().join("x.d/conf.yaml")));
    }
}

#[test]
fn logs_only_file_is_a_warning_not_an_error() {
    let dir = conf_d(&[("nginx.d/conf.yaml", "logs:\n  - type: file\n    path: /x\n")]);
    let loaded = load_conf_d(dir.path(), &no_env);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    assert!(loaded.files.is_empty());
    assert_eq!(loaded.warnings.len(), 1);
    assert_eq!(loaded.warnings[0].key.as_deref(), Some("logs"));
    assert!(loaded.warnings[0].message.contains("not supported"));
}

#[test]
fn env_placeholders_are_substituted() {
    let dir = conf_d(&[(
        "db.yaml",
        "instances:\n  - host: \"%%env_DB_HOST%%\"\n    port: %%env_DB_PORT%%\n",
    )]);
    let env = env_of(&[("DB_HOST", "db1"), ("DB_PORT", "5432")]);
    let loaded = load_conf_d(dir.path(), &env);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    assert_eq!(
        loaded.files[0].instances[0].instance,
        json!({"host": "db1", "port": 5432})
    );
}

#[test]
fn unset_env_placeholder_is_an_error_naming_variable_file_and_line() {
    let dir = conf_d(&[(
        "db.yaml",
        "init_config:\ninstances:\n  - host: x\n    password: \"%%env_DB_PASS%%\"\n",
    )]);
    let loaded = load_conf_d(dir.path(), &no_env);
    assert!(loaded.files.is_empty());
    assert_eq!(loaded.errors.len(), 1, "{:?}", loaded.errors);
    let e = &loaded.errors[0];
    assert_eq!(e.file, Some(dir.path().join("db.yaml")));
    assert_eq!(e.line, Some(4));
    assert!(e.message.contains("`DB_PASS`"), "{e}");
    assert!(e.message.contains("not set"), "{e}");
}

fn single_id(files: &[(&str, &str)]) -> String {
    let dir = conf_d(files);
    let loaded = load_conf_d(dir.path(), &no_env);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let ids: Vec<&str> = loaded.instances().map(|i| i.id.as_str()).collect();
    assert_eq!(ids.len(), 1);
    ids[0].to_string()
}

#[test]
fn instance_ids_are_stable_and_content_based() {
    let a = single_id(&[(
        "p.d/conf.yaml",
        "init_config:\n  x: 1\ninstances:\n  - a: 1\n    b: [1, 2]\n",
    )]);
    // The Agent prints the hash with `%x`: no zero padding.
    let re = regex::Regex::new("^p:[0-9a-f]{1,16}$").unwrap();
    assert!(re.is_match(&a), "{a}");
    // Same input, another directory and file name → same ID.
    let again = single_id(&[(
        "p.d/other.yaml",
        "init_config:\n  x: 1\ninstances:\n  - a: 1\n    b: [1, 2]\n",
    )]);
    assert_eq!(a, again);
    // Key order in the YAML does not matter.
    let reordered = single_id(&[(
        "p.d/conf.yaml",
        "instances:\n  - b: [1, 2]\n    a: 1\ninit_config: {x: 1}\n",
    )]);
    assert_eq!(a, reordered);
    // A change in init_config (or the instance) does.
    let other_init = single_id(&[(
        "p.d/conf.yaml",
        "init_config:\n  x: 2\ninstances:\n  - a: 1\n    b: [1, 2]\n",
    )]);
    assert_ne!(a, other_init);
    let other_inst = single_id(&[(
        "p.d/conf.yaml",
        "init_config:\n  x: 1\ninstances:\n  - a: 1\n    b: [2, 1]\n",
    )]);
    assert_ne!(a, other_inst);
    // `name` goes into the ID.
    let named = single_id(&[("p.d/conf.yaml", "instances:\n  - name: web\n    a: 1\n")]);
    assert!(
        regex::Regex::new("^p:web:[0-9a-f]{1,16}$")
            .unwrap()
            .is_match(&named),
        "{named}"
    );
    assert_eq!(
        named,
        instance_id(
            "p",
            &json!({"name": "web", "a": 1}),
            &json!({}),
            &[json!({"name": "web", "a": 1})]
        )
    );
}

#[test]
fn identical_instances_collapse_with_a_warning() {
    // The Agent's IDs cover the whole file (its config digest), so an
    // instance repeated in one file, or two files with the same content,
    // collapse; the same instance among different siblings does not.
    let dir = conf_d(&[
        (
            "p.d/a.yaml",
            "instances:\n  - pid: 1\n  - pid: 2\n  - pid: 1\n",
        ),
        (
            "p.d/b.yaml",
            "instances:\n  - pid: 1\n  - pid: 2\n  - pid: 1\n",
        ),
        ("p.d/c.yaml", "instances:\n  - pid: 1\n"),
    ]);
    let loaded = load_conf_d(dir.path(), &no_env);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let kept: Vec<(String, usize)> = loaded
        .instances()
        .map(|i| {
            let file = i.source.file_name().unwrap().to_string_lossy().to_string();
            (file, i.index)
        })
        .collect();
    assert_eq!(
        kept,
        [
            ("a.yaml".to_string(), 0),
            ("a.yaml".to_string(), 1),
            ("c.yaml".to_string(), 0)
        ]
    );
    // b.yaml lost all its instances, so it is not listed.
    assert_eq!(loaded.files.len(), 2);
    assert_eq!(loaded.warnings.len(), 4, "{:?}", loaded.warnings);
    let w = &loaded.warnings[0];
    assert_eq!(w.file, Some(dir.path().join("p.d/a.yaml")));
    assert_eq!(w.instance, Some(2));
    let a = dir.path().join("p.d/a.yaml");
    assert!(
        w.message
            .contains(&format!("instance #0 of {}", a.display())),
        "{w}"
    );
}

#[test]
fn duplicate_names_with_different_settings_both_run() {
    // As in the Agent: the IDs differ by the settings, so both run.
    let dir = conf_d(&[
        (
            "http.d/a.yaml",
            "instances:\n  - name: web\n    url: http://a\n",
        ),
        (
            "http.d/b.yaml",
            "instances:\n  - name: web\n    url: http://b\n",
        ),
        ("tcp.yaml", "instances:\n  - name: web\n    url: http://b\n"),
    ]);
    let loaded = load_conf_d(dir.path(), &no_env);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let ids: Vec<&str> = loaded.instances().map(|i| i.id.as_str()).collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.iter().all(|id| id.contains(":web:")), "{ids:?}");
    assert_ne!(ids[0], ids[1]);
}

#[test]
fn interval_precedence_from_files() {
    let dir = conf_d(&[
        (
            "p.yaml",
            "init_config:\n  min_collection_interval: 60\n  service: shared\n\
         instances:\n  - a: 1\n  - a: 2\n    min_collection_interval: 20\n    service: own\n",
        ),
        ("q.yaml", ONE),
    ]);
    let loaded = load_conf_d(dir.path(), &no_env);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let got: Vec<(Duration, Option<&str>)> = loaded
        .instances()
        .map(|i| (i.interval, i.service.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            (Duration::from_secs(60), Some("shared")),
            (Duration::from_secs(20), Some("own")),
            (Duration::from_secs(15), None),
        ]
    );
}

#[test]
fn reserved_key_errors_drop_only_that_instance() {
    let dir = conf_d(&[(
        "process.d/conf.yaml",
        "instances:\n  - min_collection_interval: fast\n  - pid: 2\n",
    )]);
    let loaded = load_conf_d(dir.path(), &no_env);
    assert_eq!(loaded.errors.len(), 1);
    let e = &loaded.errors[0];
    let file = dir.path().join("process.d/conf.yaml");
    assert_eq!(
        e.to_string(),
        format!(
            "{}:2:5: instance #0: key `min_collection_interval`: expected number or null, \
             got string \"fast\" (fix: e.g. `min_collection_interval: 30`)",
            file.display()
        )
    );
    let indexes: Vec<usize> = loaded.instances().map(|i| i.index).collect();
    assert_eq!(indexes, [1]);
}

#[test]
fn instance_limits_override_defaults() {
    let dir = conf_d(&[(
        "p.yaml",
        "instances:\n  - limits: {timeout: 2, max_metrics: 50}\n  - limits: {memry_mib: 5}\n",
    )]);
    let loaded = load_conf_d(dir.path(), &no_env);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    // A misspelt limit is an unknown key: a warning with a suggestion.
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    assert_eq!(loaded.warnings[0].key.as_deref(), Some("limits.memry_mib"));
    assert_eq!(loaded.warnings[0].instance, Some(1));
    assert_eq!(
        loaded.warnings[0].hint.as_deref(),
        Some("did you mean `memory_mib`?")
    );
    let inst = loaded.instances().next().unwrap();
    assert_eq!(
        inst.limits,
        Limits {
            timeout: 2.0,
            max_metrics: 50,
            ..Limits::default()
        }
    );
}

#[test]
fn load_applies_runner_limits_under_instance_limits() {
    let dir = conf_d(&[("p.yaml", "instances:\n  - limits: {timeout: 2}\n  - {}\n")]);
    let runner = RunnerConfig {
        conf_d: dir.path().to_path_buf(),
        limits: Limits {
            timeout: 30.0,
            memory_mib: 16,
            max_metrics: 7,
            max_output_kib: 3,
            ..Limits::default()
        },
        ..RunnerConfig::default()
    };
    let loaded = load(&runner, &no_env);
    let limits: Vec<Limits> = loaded.instances().map(|i| i.limits).collect();
    assert_eq!(
        limits,
        [
            Limits {
                timeout: 2.0,
                ..runner.limits
            },
            runner.limits
        ]
    );
}

#[test]
fn structural_errors() {
    let dir = conf_d(&[
        ("a.yaml", "instances:\n  - {}\n  - just a string\n  - [1]\n"),
        ("b.yaml", "instances:\n  url: x\n"),
        ("c.yaml", "init_config: [1]\ninstances:\n  - {}\n"),
        ("d.yaml", "- a\n- b\n"),
    ]);
    let loaded = load_conf_d(dir.path(), &no_env);
    let got: Vec<(String, Option<usize>, Option<&str>)> = loaded
        .errors
        .iter()
        .map(|e| {
            let file = e
                .file
                .as_ref()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (file, e.instance, e.key.as_deref())
        })
        .collect();
    assert_eq!(
        got,
        [
            ("a.yaml".to_string(), Some(1), None),
            ("a.yaml".to_string(), Some(2), None),
            ("b.yaml".to_string(), None, Some("instances")),
            ("c.yaml".to_string(), None, Some("init_config")),
            ("d.yaml".to_string(), None, None),
        ]
    );
    assert_eq!(
        loaded.errors[0].message,
        "expected a mapping of settings, got \"just a string\""
    );
    assert_eq!(
        loaded.errors[2].message,
        "expected a list of mappings, got a mapping"
    );
    assert_eq!(loaded_files(&dir, &loaded), pairs(&[("a", "a.yaml")]));
}

#[test]
fn top_level_key_warnings() {
    let dir = conf_d(&[(
        "p.yaml",
        "init_config:\ninstances:\n  - {}\nlogs:\n  - type: file\nad_identifiers: [redis]\n\
         cluster_check: false\ninstance:\n  - {}\nfoo: 1\n",
    )]);
    let loaded = load_conf_d(dir.path(), &no_env);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let got: Vec<(Option<&str>, &str, Option<&str>)> = loaded
        .warnings
        .iter()
        .map(|w| (w.key.as_deref(), w.message.as_str(), w.hint.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            (
                Some("ad_identifiers"),
                "autodiscovery is not supported by the runner; ignored",
                None
            ),
            (
                Some("foo"),
                "unknown top-level key; ignored",
                Some("move it under an instance or remove it")
            ),
            (
                Some("instance"),
                "unknown top-level key; ignored",
                Some("did you mean `instances`?")
            ),
            (
                Some("logs"),
                "log collection is not supported by the runner; the section is ignored",
                None
            ),
        ]
    );
}

#[test]
fn auto_conf_is_skipped_with_a_warning() {
    let dir = conf_d(&[
        (
            "redis.d/auto_conf.yaml",
            "ad_identifiers: [redis]\ninstances:\n  - host: \"%%host%%\"\n",
        ),
        ("redis.d/conf.yaml", ONE),
        ("jmx.d/metrics.yaml", "jmx_metrics:\n  - include: {}\n"),
    ]);
    let loaded = load_conf_d(dir.path(), &no_env);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    assert_eq!(
        loaded_files(&dir, &loaded),
        pairs(&[("redis", "redis.d/conf.yaml")])
    );
    assert_eq!(loaded.warnings.len(), 2, "{:?}", loaded.warnings);
    assert!(loaded.warnings[0].message.contains("JMX"));
    let auto_conf = dir.path().join("redis.d/auto_conf.yaml");
    assert_eq!(loaded.warnings[1].file, Some(auto_conf));
    assert!(loaded.warnings[1].message.contains("auto_conf.yaml"));
    assert!(loaded.warnings[1].message.contains("not supported"));
}

#[test]
fn missing_conf_d_is_an_error() {
    let loaded = load_conf_d(Path::new("/definitely/not/here/conf.d"), &no_env);
    assert_eq!(loaded.errors.len(), 1);
    assert_eq!(loaded.errors[0].message, "conf.d directory not found");
    assert!(loaded.files.is_empty());
    // A relative path is shown as searched, absolute, with the way out.
    let loaded = load_conf_d(Path::new("no-such-conf.d"), &no_env);
    let e = &loaded.errors[0];
    let shown = e.file.as_ref().unwrap();
    assert!(shown.is_absolute(), "{e}");
    assert!(shown.ends_with("no-such-conf.d"), "{e}");
    assert!(e.hint.as_deref().unwrap().contains("--conf-d"), "{e}");
}

#[test]
fn order_is_by_path() {
    let dir = conf_d(&[
        ("z.yaml", ONE),
        ("a.d/2.yaml", ONE),
        ("a.d/1.yaml", "instances:\n  - x: 1\n"),
        ("m.yml", ONE),
    ]);
    let loaded = load_conf_d(dir.path(), &no_env);
    let paths: Vec<PathBuf> = loaded.files.iter().map(|f| f.path.clone()).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted);
    assert_eq!(paths.len(), 4);
}
