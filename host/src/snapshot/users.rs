//! uid → user name, cached.
//!
//! By default through the system's name service (`getpwuid_r`, so NSS
//! modules such as systemd, sssd or LDAP answer too); in a container
//! watching the host, from the host's passwd file mounted somewhere.

use std::collections::HashMap;
use std::ffi::CStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a name (or the lack of one) is trusted: a renamed or new user
/// shows within this time.
const TTL: Duration = Duration::from_secs(300);

/// User names by uid.
#[derive(Debug)]
pub(super) struct Users {
    /// `None`: the name service.
    passwd_file: Option<PathBuf>,
    names: HashMap<u32, Option<Arc<str>>>,
    /// When `names` is dropped (and the passwd file read again).
    expires: Instant,
}

impl Users {
    pub fn new(passwd_file: Option<PathBuf>) -> Self {
        Self {
            passwd_file,
            names: HashMap::new(),
            expires: Instant::now(),
        }
    }

    /// The name of `uid`, `None` when it has none.
    pub fn name(&mut self, uid: u32) -> Option<Arc<str>> {
        if self.expires <= Instant::now() {
            self.names = match &self.passwd_file {
                Some(path) => load_passwd(path),
                None => HashMap::new(),
            };
            self.expires = Instant::now() + TTL;
        }
        if let Some(name) = self.names.get(&uid) {
            return name.clone();
        }
        if self.passwd_file.is_some() {
            // The file was read whole: no entry means no name.
            return None;
        }
        let name = lookup(uid).map(Arc::from);
        self.names.insert(uid, name.clone());
        name
    }
}

/// `getpwuid_r`, growing the buffer while the entry does not fit.
fn lookup(uid: u32) -> Option<String> {
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: plain old data, filled in by getpwuid_r.
        let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the call and `buf.len()` is
        // the size of `buf`.
        let rc = unsafe {
            libc::getpwuid_r(
                uid,
                &mut entry,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut found,
            )
        };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 || found.is_null() || entry.pw_name.is_null() {
            return None;
        }
        // SAFETY: on success pw_name points to a NUL-terminated string in
        // `buf`, alive here.
        let name = unsafe { CStr::from_ptr(entry.pw_name) };
        return Some(name.to_string_lossy().into_owned());
    }
}

/// uid → name from a passwd file; the first entry of a uid wins. A missing
/// or unreadable file gives an empty map (rows then have no user).
fn load_passwd(path: &Path) -> HashMap<u32, Option<Arc<str>>> {
    match std::fs::read(path) {
        Ok(raw) => parse_passwd(&String::from_utf8_lossy(&raw)),
        Err(e) => {
            tracing::debug!(path = %path.display(), error = %e, "no user names for processes");
            HashMap::new()
        }
    }
}

fn parse_passwd(text: &str) -> HashMap<u32, Option<Arc<str>>> {
    let mut users = HashMap::new();
    for line in text.lines() {
        let mut parts = line.split(':');
        let (Some(name), Some(_password), Some(uid)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if name.is_empty() || name.starts_with(['#', '+', '-']) {
            continue;
        }
        if let Ok(uid) = uid.trim().parse::<u32>() {
            users.entry(uid).or_insert_with(|| Some(name.into()));
        }
    }
    users
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_maps_uids_to_first_name() {
        let users = parse_passwd(
            "root:x:0:0:root:/root:/bin/bash\n\
             # comment\n\
             \n\
             daemon:x:1:1::/:/usr/sbin/nologin\n\
             toor:x:0:0::/root:/bin/sh\n\
             +nis::::::\n\
             broken-line\n\
             bad:x:notanumber:0::/:/bin/sh\n",
        );
        assert_eq!(users.get(&0), Some(&Some("root".into())));
        assert_eq!(users.get(&1), Some(&Some("daemon".into())));
        assert_eq!(users.len(), 2);
        assert!(load_passwd(Path::new("/nonexistent/passwd")).is_empty());
    }

    #[test]
    fn names_from_a_passwd_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("passwd");
        std::fs::write(
            &path,
            "hostroot:x:0:0::/:/bin/sh\nalice:x:4242:4242::/:/bin/sh\n",
        )
        .unwrap();
        let mut users = Users::new(Some(path.clone()));
        assert_eq!(users.name(4242).as_deref(), Some("alice"));
        assert_eq!(users.name(0).as_deref(), Some("hostroot"));
        assert_eq!(users.name(7), None);
        // Cached: a change of the file shows only after the TTL.
        std::fs::write(&path, "bob:x:4242:4242::/:/bin/sh\n").unwrap();
        assert_eq!(users.name(4242).as_deref(), Some("alice"));
        users.expires = Instant::now();
        assert_eq!(users.name(4242).as_deref(), Some("bob"));
        assert_eq!(users.name(0), None);
    }

    #[test]
    fn names_from_the_name_service() {
        // Independently of the code under test: `id -un` asks NSS too.
        let out = std::process::Command::new("id")
            .arg("-un")
            .output()
            .unwrap();
        let me = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        // SAFETY: getuid cannot fail.
        let uid = unsafe { libc::getuid() };
        let mut users = Users::new(None);
        assert_eq!(users.name(uid).as_deref(), Some(me.as_str()));
        // A uid nobody has.
        assert_eq!(users.name(3_999_999_999), None);
        assert_eq!(users.names.get(&3_999_999_999), Some(&None));
    }
}
