//! A real nginx for the end-to-end tests: its own prefix and config in a
//! temp dir, listening on a free loopback port, stopped when the guard is
//! dropped (test passed or not). Missing nginx fails the test loudly: CI
//! installs it (`apt-get install nginx`), and a skipped test would hide a
//! broken check.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Basic-auth user of the `/private_status` location.
pub const USER: &str = "datadog";
/// Its password.
pub const PASSWORD: &str = "s3cret-Pass";

/// One line of the access log (format `$msec $request_uri $status`).
#[derive(Debug, Clone, PartialEq)]
pub struct Access {
    /// Unix seconds (millisecond resolution) when the request ended.
    pub at: f64,
    pub uri: String,
    pub status: u16,
}

/// A running nginx, stopped on drop.
pub struct NginxServer {
    dir: tempfile::TempDir,
    binary: PathBuf,
    pub port: u16,
    /// The HTTPS port (self-signed certificate), with [`NginxServer::start_with_tls`].
    pub tls_port: Option<u16>,
    running: bool,
}

/// The nginx binary: `$NGINX`, else `nginx` on PATH, else /usr/sbin/nginx
/// (Debian's; /usr/sbin is not on every PATH). Panics when there is none.
pub fn nginx_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("NGINX") {
        return PathBuf::from(path);
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("nginx"))
            .find(|candidate| candidate.is_file())
    });
    if let Some(path) = on_path {
        return path;
    }
    for candidate in [
        "/usr/sbin/nginx",
        "/usr/local/sbin/nginx",
        "/usr/local/nginx/sbin/nginx",
    ] {
        if Path::new(candidate).is_file() {
            return PathBuf::from(candidate);
        }
    }
    panic!(
        "nginx is not installed, and the nginx check's end-to-end tests need a real one: \
         install it (`apt-get install -y nginx`, as CI does) or set NGINX=/path/to/nginx"
    );
}

impl NginxServer {
    /// Starts nginx on a free port of 127.0.0.1 and waits until it
    /// accepts connections.
    pub fn start() -> Self {
        Self::start_inner(false)
    }

    /// As [`NginxServer::start`], plus an HTTPS listener (`tls_port`) with
    /// a self-signed certificate for 127.0.0.1 made with `openssl`.
    pub fn start_with_tls() -> Self {
        Self::start_inner(true)
    }

    fn start_inner(tls: bool) -> Self {
        let binary = nginx_binary();
        let mut last_error = String::new();
        // A port picked by binding port 0 may be taken again before nginx
        // binds it: try a few.
        for _ in 0..5 {
            let dir = tempfile::Builder::new()
                .prefix("runner-nginx-test.")
                .tempdir()
                .expect("temp dir for nginx");
            let port = free_port();
            let tls_port = tls.then(|| {
                self_signed_certificate(dir.path());
                free_port()
            });
            write_config(dir.path(), port, tls_port);
            let mut server = NginxServer {
                dir,
                binary: binary.clone(),
                port,
                tls_port,
                running: false,
            };
            let output = server
                .command()
                .output()
                .unwrap_or_else(|e| panic!("running {}: {e}", binary.display()));
            if output.status.success() {
                server.running = true;
                server.wait_until_accepting();
                return server;
            }
            last_error = format!(
                "{}{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr),
                server.error_log()
            );
            if !last_error.contains("Address already in use") {
                break;
            }
        }
        panic!("nginx did not start:\n{last_error}");
    }

    /// `nginx -p DIR -c DIR/nginx.conf -e DIR/error.log`, plus `args`.
    fn command(&self) -> Command {
        let dir = self.dir.path();
        let mut command = Command::new(&self.binary);
        command
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .arg("-e")
            .arg(dir.join("error.log"));
        command
    }

    fn wait_until_accepting(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nginx started but does not accept connections on 127.0.0.1:{} after 10 s; \
                 error.log:\n{}",
                self.port,
                self.error_log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `https://127.0.0.1:TLS_PORT<path>` (needs [`NginxServer::start_with_tls`]).
    pub fn tls_url(&self, path: &str) -> String {
        let port = self.tls_port.expect("started without TLS");
        format!("https://127.0.0.1:{port}{path}")
    }

    /// `http://127.0.0.1:PORT<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The open stub_status page.
    pub fn status_url(&self) -> String {
        self.url("/nginx_status")
    }

    /// The stub_status page behind basic auth ([`USER`], [`PASSWORD`]).
    pub fn private_status_url(&self) -> String {
        self.url("/private_status")
    }

    /// A plain GET on its own connection (HTTP/1.0, so nginx closes it):
    /// the status code.
    pub fn get(&self, path: &str) -> u16 {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))
            .unwrap_or_else(|e| panic!("connecting to nginx on port {}: {e}", self.port));
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP response from nginx: {response:?}"))
    }

    /// The access log so far, oldest first.
    pub fn access_log(&self) -> Vec<Access> {
        let text = std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default();
        text.lines()
            .filter_map(|line| {
                let mut parts = line.split(' ');
                Some(Access {
                    at: parts.next()?.parse().ok()?,
                    uri: parts.next()?.to_string(),
                    status: parts.next()?.parse().ok()?,
                })
            })
            .collect()
    }

    /// Waits until the access log has a request for `uri` (at most
    /// `timeout`); false if it never came.
    pub fn wait_for_request(&self, uri: &str, count: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let seen = self.access_log().iter().filter(|a| a.uri == uri).count();
            if seen >= count {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    fn pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.dir.path().join("nginx.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Stops nginx (`-s stop`, then SIGKILL to its process group if it is
    /// still there after 5 s) and waits until the port refuses
    /// connections. Idempotent.
    pub fn stop(&mut self) {
        if !self.running {
            return;
        }
        self.running = false;
        let pid = self.pid();
        let _ = self.command().args(["-s", "stop"]).output();
        let deadline = Instant::now() + Duration::from_secs(5);
        let alive = |pid: i32| unsafe { libc::kill(pid, 0) } == 0;
        if let Some(pid) = pid {
            while alive(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if alive(pid) {
                // The daemonised master leads its own process group, with
                // its workers: kill them all.
                // SAFETY: kill has no memory-safety preconditions.
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                    libc::kill(pid, libc::SIGKILL);
                }
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(("127.0.0.1", self.port)).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for NginxServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// nginx.conf, the htpasswd file and a prefix nginx's workers can read.
fn write_config(dir: &Path, port: u16, tls_port: Option<u16>) {
    // As root, nginx's workers run as `nobody`: they must be able to
    // enter the directory and read the password file.
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let htpasswd = dir.join("htpasswd");
    std::fs::write(&htpasswd, format!("{USER}:{}\n", password_hash(PASSWORD))).unwrap();
    std::fs::set_permissions(&htpasswd, std::fs::Permissions::from_mode(0o644)).unwrap();

    let d = dir.display();
    let tls = match tls_port {
        Some(tls_port) => format!(
            "    server {{\n        listen 127.0.0.1:{tls_port} ssl;\n        \
             ssl_certificate {d}/cert.pem;\n        ssl_certificate_key {d}/key.pem;\n        \
             location = /nginx_status {{ stub_status; }}\n    }}\n"
        ),
        None => String::new(),
    };
    let config = format!(
        r#"worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log notice;
events {{ worker_connections 256; }}
http {{
    client_body_temp_path {d}/client_body_temp;
    proxy_temp_path {d}/proxy_temp;
    fastcgi_temp_path {d}/fastcgi_temp;
    uwsgi_temp_path {d}/uwsgi_temp;
    scgi_temp_path {d}/scgi_temp;
    log_format stamped '$msec $request_uri $status';
    access_log {d}/access.log stamped;
    server {{
        listen 127.0.0.1:{port};
        root {d}/html;
        location = /nginx_status {{ stub_status; }}
        location = /private_status {{
            stub_status;
            auth_basic "status";
            auth_basic_user_file {d}/htpasswd;
        }}
        location = /moved_status {{ return 301 /nginx_status; }}
        location = /page {{ default_type text/html; return 200 "<html><body><h1>Welcome to nginx!</h1><p>1 2 3</p></body></html>\n"; }}
        location = /hello {{ default_type text/plain; return 200 "hello\n"; }}
    }}
{tls}}}
"#
    );
    std::fs::write(dir.join("nginx.conf"), config).unwrap();
}

/// `cert.pem` and `key.pem` in `dir`: a self-signed certificate for
/// 127.0.0.1, valid one day. Panics without openssl.
fn self_signed_certificate(dir: &Path) {
    let output = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .output()
        .unwrap_or_else(|e| {
            panic!("openssl is needed for the HTTPS test (apt-get install -y openssl): {e}")
        });
    assert!(
        output.status.success(),
        "openssl could not make a certificate: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(dir.join("key.pem"), std::fs::Permissions::from_mode(0o644)).unwrap();
}

/// An htpasswd hash nginx accepts: `openssl passwd -apr1` when openssl is
/// there, else nginx's `{PLAIN}` scheme.
fn password_hash(password: &str) -> String {
    let hashed = Command::new("openssl")
        .args(["passwd", "-apr1", password])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|h| h.starts_with("$apr1$"));
    hashed.unwrap_or_else(|| format!("{{PLAIN}}{password}"))
}
