//! The built-in default: what the runner runs when conf.d has no check
//! configuration at all (a fresh install, a clone of this repository), so
//! `runner run` is useful out of the box. It reads like any conf.d file
//! and is replaced as a whole as soon as conf.d holds one.

use std::path::{Path, PathBuf};

use super::LoadedConfigs;
use super::confd::{has_config_files, load_texts};

/// Where built-in files say they come from, in reports and instance
/// sources (no file by that name exists).
pub const BUILTIN_SOURCE: &str = "<built-in>";

/// The default's files: `(check, text)`.
const FILES: &[(&str, &str)] = &[
    ("connections", include_str!("builtin/connections.yaml")),
    ("process", include_str!("builtin/process.yaml")),
];

/// Why the built-in default applies to conf.d `dir`, or None when `dir`
/// holds a configuration file (even a broken one: its errors are shown,
/// not papered over).
pub fn reason(dir: &Path) -> Option<String> {
    if has_config_files(dir) {
        return None;
    }
    let shown = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    Some(if dir.is_dir() {
        format!("{} has no check configuration", shown.display())
    } else {
        format!("{} does not exist", shown.display())
    })
}

/// The built-in default's files, loaded.
pub fn load(env: &dyn Fn(&str) -> Option<String>) -> LoadedConfigs {
    let files: Vec<(&str, PathBuf, &str)> = FILES
        .iter()
        .map(|(check, text)| {
            (
                *check,
                Path::new(BUILTIN_SOURCE).join(format!("{check}.yaml")),
                *text,
            )
        })
        .collect();
    load_texts(&files, env)
}

/// One line naming what the default runs, e.g.
/// `process (all, runner), connections (runner)`.
pub fn describe(loaded: &LoadedConfigs) -> String {
    loaded
        .files
        .iter()
        .map(|file| {
            let names: Vec<&str> = file
                .instances
                .iter()
                .filter_map(|i| i.name.as_deref())
                .collect();
            format!("{} ({})", file.check, names.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A configuration file's path as reports show it: absolute, except a
/// built-in file's, which has no place on disk.
pub fn shown_source(path: &Path) -> PathBuf {
    if path.starts_with(BUILTIN_SOURCE) {
        return path.to_path_buf();
    }
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_loads_without_problems() {
        let loaded = load(&|_| None);
        assert_eq!(loaded.errors, vec![]);
        assert_eq!(loaded.warnings, vec![]);
        assert_eq!(
            describe(&loaded),
            "connections (runner), process (all, runner)"
        );
        let source = &loaded.files[1].instances[0].source;
        assert_eq!(source, Path::new("<built-in>/process.yaml"));
        assert_eq!(
            shown_source(source),
            PathBuf::from("<built-in>/process.yaml")
        );
    }

    #[test]
    fn applies_only_when_conf_d_has_no_configuration_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("conf.d");
        assert!(reason(&missing).unwrap().ends_with("conf.d does not exist"));
        std::fs::create_dir_all(missing.join("nginx.d")).unwrap();
        std::fs::write(missing.join("nginx.d/conf.yaml.example"), "instances: [{}]").unwrap();
        assert!(
            reason(&missing)
                .unwrap()
                .ends_with("conf.d has no check configuration")
        );
        // A broken file is conf.d's configuration: its error is shown.
        std::fs::write(missing.join("nginx.d/conf.yaml"), "instances: [").unwrap();
        assert_eq!(reason(&missing), None);
    }
}
