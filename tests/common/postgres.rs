//! A real PostgreSQL server for a test: `initdb` in a temp directory (as
//! the `postgres` user: initdb refuses root), `pg_ctl start` on a free
//! loopback port, a password user for the check, and `pg_ctl -m fast
//! stop` when the guard drops, pass or fail.
//!
//! Needs only std and tempfile, so the postgres plugin's own live tests
//! include it too (`#[path]`). PostgreSQL must be installed (Debian's
//! `postgresql` package; CI installs it): without it the tests fail,
//! they do not skip.

#![allow(dead_code)] // each test binary uses a different part

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The user the servers run as (the Debian package creates it).
const OS_USER: &str = "postgres";
/// The superuser inside the cluster, used for test setup with psql.
pub const SUPERUSER: &str = "postgres";
const SUPERUSER_PASSWORD: &str = "super-secret-for-tests";

/// A running server, stopped on drop.
pub struct PostgresServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub host: String,
    pub port: u16,
    /// The monitoring user (`pg_monitor`), password auth.
    pub user: String,
    pub password: String,
    running: bool,
}

/// The `bin` directory of the newest installed PostgreSQL
/// (`/usr/lib/postgresql/<major>/bin`). Panics, loudly, when none is.
pub fn bin_dir() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((major, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "PostgreSQL is not installed: no /usr/lib/postgresql/*/bin/initdb. These tests \
             run a real server; install it with `apt-get install -y postgresql` (CI does)."
        ),
    }
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn id_of(flag: &str) -> u32 {
    let out = Command::new("id").args([flag, OS_USER]).output().unwrap();
    assert!(
        out.status.success(),
        "no `{OS_USER}` user: install Debian's postgresql package"
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// Run `command`, panicking with its output when it fails.
fn run(command: &mut Command, what: &str) -> Output {
    let out = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl PostgresServer {
    /// initdb (SCRAM passwords), start on a free port, and create the
    /// monitoring user `datadog` with a SCRAM password and `pg_monitor`.
    pub fn start() -> PostgresServer {
        let bin = bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("runner-pg-")
            .tempdir()
            .unwrap();
        let (uid, gid) = (id_of("-u"), id_of("-g"));
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let pwfile = dir.path().join("pwfile");
        std::fs::write(&pwfile, SUPERUSER_PASSWORD).unwrap();
        std::os::unix::fs::chown(&pwfile, Some(uid), Some(gid)).unwrap();
        let data = dir.path().join("data");
        run(
            Command::new("runuser")
                .args(["-u", OS_USER, "--"])
                .arg(bin.join("initdb"))
                .arg("-D")
                .arg(&data)
                .args(["-U", SUPERUSER, "--auth=scram-sha-256", "-E", "UTF8"])
                .args(["--locale=C", "--no-sync"])
                .arg(format!("--pwfile={}", pwfile.display())),
            "initdb",
        );
        let mut server = PostgresServer {
            dir,
            bin,
            host: "127.0.0.1".to_string(),
            port: 0,
            user: "datadog".to_string(),
            password: "dd-password-1".to_string(),
            running: false,
        };
        // A port can be taken between picking and binding: retry.
        let mut last = String::new();
        for _ in 0..5 {
            server.port = free_port();
            let out = server.pg_ctl_start();
            if out.status.success() {
                server.running = true;
                break;
            }
            last = format!(
                "{}{}\nlog:\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                server.log()
            );
        }
        assert!(server.running, "pg_ctl start failed:\n{last}");
        server.psql(
            "postgres",
            &format!(
                "CREATE ROLE {} LOGIN PASSWORD '{}'; GRANT pg_monitor TO {};",
                server.user, server.password, server.user
            ),
        );
        server
    }

    fn pg_ctl_start(&self) -> Output {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        Command::new("runuser")
            .args(["-u", OS_USER, "--"])
            .arg(self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.data_dir())
            .arg("-o")
            .arg(options)
            .arg("-l")
            .arg(self.dir.path().join("log"))
            .args(["-w", "-t", "60", "start"])
            .stdin(Stdio::null())
            .output()
            .expect("running pg_ctl")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    /// Run `sql` in `database` as the superuser with psql; its output
    /// (unaligned, tuples only).
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let out = run(
            Command::new("psql")
                .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
                .args(["-h", &self.host, "-p", &self.port.to_string()])
                .args(["-U", SUPERUSER, "-d", database, "-c", sql])
                .env("PGPASSWORD", SUPERUSER_PASSWORD)
                .env_remove("PGSERVICE"),
            &format!("psql {sql:?}"),
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Create a database owned by the superuser.
    pub fn create_database(&self, name: &str) {
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
    }

    /// Create a login user with `password` stored as `encryption`
    /// (`md5` or `scram-sha-256`), member of `pg_monitor`.
    pub fn create_user(&self, name: &str, password: &str, encryption: &str) {
        self.psql(
            "postgres",
            &format!(
                "SET password_encryption = '{encryption}'; \
                 CREATE ROLE {name} LOGIN PASSWORD '{password}'; GRANT pg_monitor TO {name};"
            ),
        );
    }

    /// Rewrite pg_hba.conf so TCP clients other than the superuser
    /// authenticate with `method` (`scram-sha-256`, `md5`, `password`,
    /// `trust`), and reload.
    pub fn set_auth(&self, method: &str) {
        let hba = format!(
            "local all all trust\n\
             host all {SUPERUSER} 127.0.0.1/32 scram-sha-256\n\
             host all all 127.0.0.1/32 {method}\n"
        );
        let path = self.data_dir().join("pg_hba.conf");
        std::fs::write(&path, hba).unwrap();
        std::os::unix::fs::chown(&path, Some(id_of("-u")), Some(id_of("-g"))).unwrap();
        self.reload();
    }

    /// Reload the configuration, and wait until the server has (it logs
    /// the SIGHUP), so that new connections see it.
    pub fn reload(&self) {
        const RELOADED: &str = "reloading configuration files";
        let before = self.log().matches(RELOADED).count();
        self.psql("postgres", "SELECT pg_reload_conf()");
        for _ in 0..100 {
            if self.log().matches(RELOADED).count() > before {
                std::thread::sleep(std::time::Duration::from_millis(50));
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!(
            "the server did not reload its configuration:\n{}",
            self.log()
        );
    }

    /// Start a stopped server again, on the same port.
    pub fn start_again(&mut self) {
        if self.running {
            return;
        }
        let out = self.pg_ctl_start();
        assert!(
            out.status.success(),
            "pg_ctl start (again) failed: {}\nlog:\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        self.running = true;
    }

    /// `pg_ctl -m fast stop`; nothing when already stopped.
    pub fn stop(&mut self) {
        if !self.running {
            return;
        }
        self.running = false;
        let _ = Command::new("runuser")
            .args(["-u", OS_USER, "--"])
            .arg(self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.data_dir())
            .args(["-m", "fast", "-w", "stop"])
            .stdin(Stdio::null())
            .output();
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        self.stop();
    }
}
