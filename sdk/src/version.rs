//! Datadog-style version metadata (`version.raw`, `version.major`, …).

/// The metadata entries for a version string. `1.22.1` gives raw, scheme
/// `semver`, major 1, minor 22, patch 1; a missing patch counts as 0, as in
/// Datadog's parser. A string that does not start with `MAJOR.MINOR` only
/// gives `version.raw`.
pub fn metadata(raw: &str) -> Vec<(String, String)> {
    let mut entries = vec![("version.raw".to_string(), raw.to_string())];
    let (core, build) = match raw.split_once('+') {
        Some((core, build)) => (core, Some(build)),
        None => (raw, None),
    };
    let (core, release) = match core.split_once('-') {
        Some((core, release)) => (core, Some(release)),
        None => (core, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    let numeric = |s: &&str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if parts.len() < 2 || parts.len() > 3 || !parts.iter().all(numeric) {
        return entries;
    }
    let patch = parts.get(2).copied().unwrap_or("0");
    for (key, value) in [
        ("scheme", "semver"),
        ("major", parts[0]),
        ("minor", parts[1]),
        ("patch", patch),
    ] {
        entries.push((format!("version.{key}"), value.to_string()));
    }
    if let Some(release) = release {
        entries.push(("version.release".to_string(), release.to_string()));
    }
    if let Some(build) = build {
        entries.push(("version.build".to_string(), build.to_string()));
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::metadata;

    fn get(entries: &[(String, String)], key: &str) -> Option<String> {
        entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    #[test]
    fn semver_parts() {
        let m = metadata("1.22.1");
        assert_eq!(get(&m, "version.raw").as_deref(), Some("1.22.1"));
        assert_eq!(get(&m, "version.scheme").as_deref(), Some("semver"));
        assert_eq!(get(&m, "version.major").as_deref(), Some("1"));
        assert_eq!(get(&m, "version.minor").as_deref(), Some("22"));
        assert_eq!(get(&m, "version.patch").as_deref(), Some("1"));
    }

    #[test]
    fn two_parts_release_and_build() {
        let m = metadata("15.4-rc1+deb12");
        assert_eq!(get(&m, "version.patch").as_deref(), Some("0"));
        assert_eq!(get(&m, "version.release").as_deref(), Some("rc1"));
        assert_eq!(get(&m, "version.build").as_deref(), Some("deb12"));
    }

    #[test]
    fn non_semver_is_raw_only() {
        let m = metadata("nginx");
        assert_eq!(m, vec![("version.raw".to_string(), "nginx".to_string())]);
    }
}
