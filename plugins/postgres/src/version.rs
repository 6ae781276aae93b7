//! The server's version: `SHOW server_version` as Datadog parses it, for
//! choosing queries and for the version metadata.

/// A parsed `server_version`, e.g. `15.14 (Debian 15.14-0+deb12u1)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerVersion {
    pub raw: String,
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
    /// `beta.1` for `17beta1`, as Datadog's parser names it.
    pub release: Option<String>,
}

impl ServerVersion {
    /// Parses like Datadog's `parse_version`: `MAJOR.MINOR[.PATCH][-pre]`
    /// semver first, else the first word's dotted numbers (`15.14 (Debian
    /// ...)`, `10.0`), else a development version `17beta1`. None for
    /// anything else.
    pub fn parse(raw: &str) -> Option<ServerVersion> {
        let raw_owned = raw.to_string();
        let word = raw.split(' ').next().unwrap_or_default();
        // Strict semver (with a pre-release) first.
        if let Some((core, pre)) = word.split_once('-')
            && let Some([major, minor, patch]) = numbers::<3>(core)
            && !pre.is_empty()
        {
            return Some(ServerVersion {
                raw: raw_owned,
                major,
                minor,
                patch,
                release: Some(pre.to_string()),
            });
        }
        let parts: Vec<&str> = word.split('.').collect();
        if (1..=3).contains(&parts.len()) {
            let parsed: Option<Vec<u32>> = parts.iter().map(|p| p.parse().ok()).collect();
            if let Some(mut n) = parsed {
                n.resize(3, 0);
                return Some(ServerVersion {
                    raw: raw_owned,
                    major: n[0],
                    minor: n[1],
                    patch: n[2],
                    release: None,
                });
            }
        }
        // `17beta1`, `16rc2`: digits, letters, digits.
        let digits_end = raw.find(|c: char| !c.is_ascii_digit())?;
        let (major, rest) = raw.split_at(digits_end);
        let letters_end = rest.find(|c: char| !c.is_ascii_alphabetic())?;
        let (stage, rest) = rest.split_at(letters_end);
        let number_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let number = &rest[..number_end];
        if major.is_empty() || stage.is_empty() || number.is_empty() {
            return None;
        }
        Some(ServerVersion {
            raw: raw_owned,
            major: major.parse().ok()?,
            minor: 0,
            patch: 0,
            release: Some(format!("{stage}.{number}")),
        })
    }

    /// As `server_version_num`: 90624 for 9.6.24, 150014 for 15.14.
    pub fn num(&self) -> u32 {
        if self.major >= 10 {
            self.major * 10_000 + self.minor
        } else {
            self.major * 10_000 + self.minor * 100 + self.patch
        }
    }

    /// At least `major.minor` (minor ignored from 10 on, as Postgres
    /// numbers its releases).
    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }

    /// The version metadata Datadog sends (`version.raw`, `.scheme`,
    /// `.major`, `.minor`, `.patch`, and `.release` when there is one).
    pub fn metadata(&self) -> Vec<(&'static str, String)> {
        let mut entries = vec![
            ("version.raw", self.raw.clone()),
            ("version.scheme", "semver".to_string()),
            ("version.major", self.major.to_string()),
            ("version.minor", self.minor.to_string()),
            ("version.patch", self.patch.to_string()),
        ];
        if let Some(release) = &self.release {
            entries.push(("version.release", release.clone()));
        }
        entries
    }
}

fn numbers<const N: usize>(text: &str) -> Option<[u32; N]> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() != N {
        return None;
    }
    let mut out = [0; N];
    for (slot, part) in out.iter_mut().zip(parts) {
        *slot = part.parse().ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_and_plain_versions() {
        let v = ServerVersion::parse("15.14 (Debian 15.14-0+deb12u1)").unwrap();
        assert_eq!((v.major, v.minor, v.patch), (15, 14, 0));
        assert_eq!(v.num(), 150014);
        assert_eq!(v.raw, "15.14 (Debian 15.14-0+deb12u1)");
        assert!(v.at_least(9, 6) && v.at_least(15, 0) && !v.at_least(16, 0));
        assert_eq!(
            v.metadata(),
            [
                ("version.raw", "15.14 (Debian 15.14-0+deb12u1)".to_string()),
                ("version.scheme", "semver".to_string()),
                ("version.major", "15".to_string()),
                ("version.minor", "14".to_string()),
                ("version.patch", "0".to_string()),
            ]
        );
        let v = ServerVersion::parse("9.6.24").unwrap();
        assert_eq!(v.num(), 90624);
        assert!(v.at_least(9, 6) && !v.at_least(10, 0));
        assert_eq!(ServerVersion::parse("10.0").unwrap().num(), 100000);
        assert_eq!(ServerVersion::parse("17").unwrap().num(), 170000);
    }

    #[test]
    fn development_and_prerelease_versions() {
        let v = ServerVersion::parse("17beta1").unwrap();
        assert_eq!((v.major, v.minor, v.patch), (17, 0, 0));
        assert_eq!(v.release.as_deref(), Some("beta.1"));
        let v = ServerVersion::parse("16.1.0-rc1").unwrap();
        assert_eq!(v.release.as_deref(), Some("rc1"));
        assert_eq!(ServerVersion::parse("unknown"), None);
        assert_eq!(ServerVersion::parse(""), None);
    }
}
