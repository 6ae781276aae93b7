//! `runner run` in the background for the end-to-end tests, and plain
//! HTTP GETs of its endpoint.

use std::io::Read;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::postgres::free_port;
use super::{Workspace, runner_command};

/// A `runner run` in the background, stopped on drop.
pub struct Daemon {
    pub child: Child,
    pub port: u16,
    /// The access token it was given, sent with every request.
    token: Option<String>,
}

impl Daemon {
    pub fn start(ws: &Workspace, env: &[(&str, &str)]) -> Self {
        Self::start_on(ws, "127.0.0.1", None, env)
    }

    /// Listening on `host` (and a free port), with `token` as its
    /// `access_token`.
    pub fn start_on(ws: &Workspace, host: &str, token: Option<&str>, env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let mut command = runner_command(ws.path());
        command
            .args(["run", "--conf-d"])
            .arg(ws.conf_d())
            .arg("--checks-d")
            .arg(ws.checks_d())
            .env("RUNNER_LISTEN", format!("{host}:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(token) = token {
            command.env("RUNNER_ACCESS_TOKEN", token);
        }
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command.spawn().expect("starting runner run");
        let daemon = Self {
            child,
            port,
            token: token.map(String::from),
        };
        daemon.wait_for("the endpoint", Duration::from_secs(20), |d| {
            d.get("/status").is_some()
        });
        daemon
    }

    pub fn get(&self, path: &str) -> Option<String> {
        let url = format!("http://127.0.0.1:{}{path}", self.port);
        match request(&url, None, self.token.as_deref()) {
            Some((200, body)) => Some(body),
            _ => None,
        }
    }

    pub fn status(&self) -> Value {
        serde_json::from_str(&self.get("/status").expect("/status answers")).unwrap()
    }

    pub fn instance(&self, prefix: &str) -> Option<Value> {
        self.status()["instances"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"].as_str().unwrap().starts_with(prefix))
            .cloned()
    }

    pub fn runs_of(&self, prefix: &str) -> u64 {
        self.instance(prefix)
            .map_or(0, |i| i["total_runs"].as_u64().unwrap())
    }

    pub fn wait_for(&self, what: &str, within: Duration, done: impl Fn(&Self) -> bool) {
        let start = Instant::now();
        while start.elapsed() < within {
            if done(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{what}: not seen within {within:?}");
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }

    /// SIGTERM, then the exit status, how long it took and stderr.
    pub fn stop(mut self) -> (std::process::ExitStatus, Duration, String) {
        let begun = Instant::now();
        self.signal(libc::SIGTERM);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                begun.elapsed() < Duration::from_secs(30),
                "still running 30 s after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let took = begun.elapsed();
        let mut stderr = String::new();
        let _ = self
            .child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr);
        (status, took, stderr)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn get(url: &str, accept: Option<&str>) -> Option<String> {
    match request(url, accept, None) {
        Some((200, body)) => Some(body),
        _ => None,
    }
}

/// GET `url`: the status code and body, or None when nothing answered.
pub fn request(url: &str, accept: Option<&str>, token: Option<&str>) -> Option<(u16, String)> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut request = agent.get(url);
    if let Some(accept) = accept {
        request = request.header("Accept", accept);
    }
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    let mut response = request.call().ok()?;
    let code = response.status().as_u16();
    Some((code, response.body_mut().read_to_string().ok()?))
}
