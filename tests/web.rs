//! The Live Processes page of `runner run`, in a real browser: Debian's
//! chromium, headless, driven over the DevTools protocol. The test spawns
//! a TCP listener with a unique command line, a sibling running the same
//! command and three clients, then finds them through the page: the
//! table, the search box, the keyboard, the Connections and Related tabs,
//! the Checks view with a failing instance, and the login a non-loopback
//! daemon asks for. The JSON endpoints behind the page are checked on
//! their own too.
//!
//! Screenshots of each view go to `$CARGO_TARGET_TMPDIR/screenshots`;
//! with `RUNNER_UPDATE_SCREENSHOTS=1` they also replace docs/screenshots.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Workspace;
use common::daemon::{Daemon, request};
use headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption;
use headless_chrome::protocol::cdp::types::Event;
use headless_chrome::types::Bounds;
use headless_chrome::{Browser, LaunchOptions, Tab};
use serde_json::Value;

/// Accepts connections on 127.0.0.1 and holds them; prints its port.
const LISTENER: &str = "import socket, sys
s = socket.socket()
s.bind(('127.0.0.1', 0))
s.listen(16)
print(s.getsockname()[1], flush=True)
held = []
while True:
    held.append(s.accept()[0])
";

/// The browser window's height: a laptop screen's, less the browser's bars.
const WINDOW_HEIGHT: u32 = 860;

/// A child process, killed on drop.
struct Spawned(Child);

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Spawned {
    fn pid(&self) -> u32 {
        self.0.id()
    }
}

/// The processes the test finds through the page: a listener whose
/// command line holds `marker`, a sibling running the same command (same
/// executable) without it, and three clients connected to the listener.
struct Scene {
    marker: String,
    listener: Spawned,
    port: u16,
    sibling: Spawned,
    clients: Vec<Spawned>,
}

impl Scene {
    fn new() -> Self {
        // Unique among the tests of this binary, which run at once.
        static SCENES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = SCENES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let marker = format!("web-test-marker-{}-{n}", std::process::id());
        let (listener, port) = listen(&marker);
        let (sibling, _) = listen("sibling");
        let clients = (0..3)
            .map(|_| {
                let script = format!("exec 3<>/dev/tcp/127.0.0.1/{port}; exec sleep 600");
                Spawned(
                    Command::new("bash")
                        .args(["-c", &script])
                        .stdin(Stdio::null())
                        .spawn()
                        .unwrap(),
                )
            })
            .collect();
        Self {
            marker,
            listener,
            port,
            sibling,
            clients,
        }
    }

    fn client_pids(&self) -> BTreeSet<u32> {
        self.clients.iter().map(Spawned::pid).collect()
    }
}

/// A process whose command line holds markup, a right-to-left override
/// and a password, and the marker to find it by.
fn hostile() -> (Spawned, String) {
    static HOSTILE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = HOSTILE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let marker = format!("hostile{}x{n}", std::process::id());
    let child = Command::new("sh")
        .args(["-c", "sleep 600; :"])
        .arg(format!("<img src=x onerror=alert(1)>{marker}\u{202e}"))
        .arg("--password=hunter2")
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    (Spawned(child), marker)
}

/// `python3 -c LISTENER <tag>`, and the port it listens on. Debian's
/// python3, not a version manager's shim that would exec another name.
fn listen(tag: &str) -> (Spawned, u16) {
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", LISTENER, tag])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().parse().expect("the listener's port");
    (Spawned(child), port)
}

/// A headless chromium with its own empty profile.
struct Headless {
    browser: Browser,
    _profile: tempfile::TempDir,
}

impl Headless {
    fn launch() -> Self {
        let profile = tempfile::tempdir().unwrap();
        // Without the background-networking flags chromium tries to reach
        // Google's hosts at every start.
        let args: Vec<&std::ffi::OsStr> = [
            "--disable-gpu",
            "--disable-quic",
            "--disable-component-update",
            "--no-default-browser-check",
        ]
        .iter()
        .map(std::ffi::OsStr::new)
        .collect();
        let options = LaunchOptions::default_builder()
            .path(Some(PathBuf::from("/usr/bin/chromium")))
            .headless(true)
            .sandbox(false)
            .window_size(Some((1366, WINDOW_HEIGHT)))
            .user_data_dir(Some(profile.path().to_path_buf()))
            .args(args)
            .idle_browser_timeout(Duration::from_secs(120))
            .build()
            .unwrap();
        let browser = Browser::new(options).expect("chromium (Debian package chromium)");
        Self {
            browser,
            _profile: profile,
        }
    }

    /// A new tab whose console errors and uncaught exceptions are
    /// collected in the returned list.
    fn tab(&self) -> (Arc<Tab>, Arc<Mutex<Vec<String>>>) {
        let tab = self.browser.new_tab().unwrap();
        tab.set_default_timeout(Duration::from_secs(15));
        let errors = Arc::new(Mutex::new(Vec::new()));
        let sink = errors.clone();
        tab.enable_log().unwrap();
        tab.enable_runtime().unwrap();
        tab.add_event_listener(Arc::new(move |event: &Event| {
            let error = match event {
                Event::RuntimeExceptionThrown(e) => {
                    Some(format!("exception: {:?}", e.params.exception_details))
                }
                Event::RuntimeConsoleAPICalled(e)
                    if format!("{:?}", e.params.Type).to_lowercase() == "error" =>
                {
                    Some(format!("console.error: {:?}", e.params.args))
                }
                Event::LogEntryAdded(e)
                    if format!("{:?}", e.params.entry.level).to_lowercase() == "error" =>
                {
                    Some(format!("log: {}", e.params.entry.text))
                }
                _ => None,
            };
            if let Some(error) = error {
                sink.lock().unwrap().push(error);
            }
        }))
        .unwrap();
        (tab, errors)
    }
}

/// Evaluate `expression` in the page and return its value as JSON.
fn eval(tab: &Tab, expression: &str) -> Value {
    let wrapped = format!("JSON.stringify(({expression}))");
    let result = tab.evaluate(&wrapped, false).unwrap();
    match result.value {
        Some(Value::String(json)) => serde_json::from_str(&json).unwrap(),
        other => panic!("{expression}: {other:?}"),
    }
}

/// Poll `expression` until `done` holds for its value; returns it.
fn wait_until(tab: &Tab, what: &str, expression: &str, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    let mut last = Value::Null;
    while start.elapsed() < Duration::from_secs(20) {
        last = eval(tab, expression);
        if done(&last) {
            return last;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what}: not seen within 20 s; last value {last}");
}

/// The pids of the rows `selector` matches.
fn pids_in(tab: &Tab, selector: &str) -> BTreeSet<u32> {
    let expression =
        format!("[...document.querySelectorAll('{selector}')].map(e => Number(e.dataset.pid))");
    serde_json::from_value(eval(tab, &expression)).unwrap()
}

/// The page as a PNG, the window made `height` pixels tall for it (the
/// page scrolls inside its own panes, so a full-page capture would not
/// show more).
fn screenshot(tab: &Tab, name: &str, height: u32) {
    let resize = |height: u32| {
        tab.set_bounds(Bounds::Normal {
            left: None,
            top: None,
            width: Some(1366.0),
            height: Some(f64::from(height)),
        })
        .unwrap();
        std::thread::sleep(Duration::from_millis(400));
    };
    resize(height);
    let png = tab
        .capture_screenshot(CaptureScreenshotFormatOption::Png, None, None, true)
        .unwrap();
    resize(WINDOW_HEIGHT);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), &png).unwrap();
    if std::env::var_os("RUNNER_UPDATE_SCREENSHOTS").is_some() {
        let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::write(docs.join(format!("{name}.png")), &png).unwrap();
    }
}

/// A conf.d with every process and one instance that always fails.
fn workspace() -> Workspace {
    let ws = Workspace::new();
    ws.write(
        "conf.d/process.yaml",
        "instances:\n  - {name: everything, search_string: [All], min_collection_interval: 2}\n",
    );
    ws.install_misbehave("misbehave");
    ws.write(
        "conf.d/misbehave.yaml",
        "instances:\n  - {mode: error, min_collection_interval: 2}\n",
    );
    ws
}

#[test]
fn the_page_finds_a_process_its_connections_its_relatives_and_a_failing_check() {
    let scene = Scene::new();
    let ws = workspace();
    let daemon = Daemon::start(&ws, &[("RUNNER_TAGS", "env:test")]);
    let chromium = Headless::launch();
    let (tab, errors) = chromium.tab();
    let base = format!("http://127.0.0.1:{}", daemon.port);
    tab.navigate_to(&format!("{base}/")).unwrap();
    tab.wait_until_navigated().unwrap();

    // The table lists the listener, with its scrubbed command line.
    let listener = scene.listener.pid();
    let row = format!("#processes tbody tr[data-pid=\"{listener}\"]");
    tab.wait_for_element(&row).unwrap();
    let text = eval(
        &tab,
        &format!("document.querySelector('{row}').textContent"),
    );
    assert!(
        text.as_str().unwrap().contains(&scene.marker),
        "the row shows the command line: {text}"
    );
    let rows = pids_in(&tab, "#processes tbody tr[data-pid]");
    assert!(rows.len() > 10, "every process is listed: {rows:?}");
    assert!(rows.contains(&scene.sibling.pid()));
    screenshot(&tab, "processes", WINDOW_HEIGHT);

    // `/` goes to the search box; typing part of the listener's command
    // line leaves only it, and the URL keeps the search.
    // (Focus somewhere that is no row and no input first.)
    tab.wait_for_element("#count").unwrap().click().unwrap();
    assert_eq!(eval(&tab, "location.hash.startsWith('#/process/')"), false);
    tab.press_key("/").unwrap();
    assert_eq!(eval(&tab, "document.activeElement.id"), "search");
    tab.type_str(&scene.marker[4..]).unwrap();
    wait_until(
        &tab,
        "only the listener left",
        "[...document.querySelectorAll('#processes tbody tr[data-pid]')].map(e => Number(e.dataset.pid))",
        |pids| pids == &serde_json::json!([listener]),
    );
    let hash = eval(&tab, "location.hash");
    assert!(
        hash.as_str().unwrap().contains(&scene.marker[4..]),
        "the URL keeps the search: {hash}"
    );
    screenshot(&tab, "search", 420);

    // Down from the search box selects the row; Enter opens it.
    tab.press_key("ArrowDown").unwrap();
    tab.press_key("Enter").unwrap();
    let listening = format!("#listening tr[data-port=\"{}\"]", scene.port);
    tab.wait_for_element(&listening).unwrap();
    assert_eq!(eval(&tab, "location.hash"), format!("#/process/{listener}"));
    let title = eval(&tab, "document.querySelector('#process-title').textContent");
    assert!(title.as_str().unwrap().contains(&listener.to_string()));

    // Its three clients, grouped under their address and our port, each
    // linked to its process.
    let clients = scene.client_pids();
    let group = "#established tr[data-remote=\"127.0.0.1\"]";
    let found = wait_until(
        &tab,
        "the three clients",
        &format!(
            "[...document.querySelectorAll('{group} a[data-pid]')].map(a => Number(a.dataset.pid)).sort()"
        ),
        |pids| pids.as_array().is_some_and(|p| p.len() == 3),
    );
    let found: BTreeSet<u32> = serde_json::from_value(found).unwrap();
    assert_eq!(found, clients);
    let cells = eval(
        &tab,
        &format!("[...document.querySelector('{group}').cells].map(c => c.textContent)"),
    );
    let cells: Vec<String> = serde_json::from_value(cells).unwrap();
    assert!(cells.iter().any(|c| c == "3"), "count 3: {cells:?}");
    assert!(
        cells.iter().any(|c| c.contains(&scene.port.to_string())),
        "our port: {cells:?}"
    );
    screenshot(&tab, "connections", 1000);

    // Related: the sibling runs the same command; the clients talk to it.
    tab.wait_for_element("#tab-related")
        .unwrap()
        .click()
        .unwrap();
    let sibling = format!("#same-command tr[data-pid=\"{}\"]", scene.sibling.pid());
    tab.wait_for_element(&sibling).unwrap();
    let callers = pids_in(&tab, "#talked-to-by tr[data-pid]");
    assert_eq!(callers, clients);
    screenshot(&tab, "related", 1300);

    // Checks: the failing instance with its error.
    tab.wait_for_element("#nav-checks")
        .unwrap()
        .click()
        .unwrap();
    let failing = "#checks tr[data-instance^=\"misbehave:\"]";
    let error = wait_until(
        &tab,
        "the failing instance's error",
        &format!("document.querySelector('{failing} td.last-error')?.textContent ?? ''"),
        |text| {
            text.as_str()
                .is_some_and(|t| t.contains("mode error fails run"))
        },
    );
    assert!(error.as_str().unwrap().contains("mode error fails run"));
    let state = eval(
        &tab,
        &format!("document.querySelector('{failing} .state').textContent"),
    );
    assert_eq!(state.as_str().unwrap().to_lowercase(), "error");
    let process_row = "#checks tr[data-instance^=\"process:everything:\"]";
    tab.wait_for_element(process_row).unwrap();
    screenshot(&tab, "checks", 420);

    // A hostile command line shows as text, escaped and scrubbed.
    let (shell, hostile_marker) = hostile();
    tab.navigate_to(&format!("{base}/#/processes?q={hostile_marker}"))
        .unwrap();
    let hostile_row = format!("#processes tbody tr[data-pid=\"{}\"]", shell.pid());
    tab.wait_for_element(&hostile_row).unwrap();
    let command = eval(
        &tab,
        &format!("document.querySelector('{hostile_row}').lastElementChild.textContent"),
    );
    assert_eq!(
        command.as_str().unwrap(),
        format!(
            "sh -c sleep 600; : <img src=x onerror=alert(1)>{hostile_marker}\\u{{202e}} --password=********"
        )
    );
    assert_eq!(eval(&tab, "document.querySelectorAll('img').length"), 0);
    assert_eq!(
        eval(&tab, "document.body.textContent.includes('hunter2')"),
        false
    );

    // The refresh keeps going, and pausing stops it.
    let renders = |tab: &Tab| eval(tab, "window.runnerPage.renders").as_u64().unwrap();
    let before = renders(&tab);
    wait_until(&tab, "another refresh", "window.runnerPage.renders", |n| {
        n.as_u64().unwrap() > before
    });
    tab.wait_for_element("#pause").unwrap().click().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let paused = renders(&tab);
    std::thread::sleep(Duration::from_millis(4500));
    assert_eq!(renders(&tab), paused, "no refresh while paused");

    // Dark mode renders too.
    tab.call_method(
        headless_chrome::protocol::cdp::Emulation::SetEmulatedMedia {
            media: None,
            features: Some(vec![
                headless_chrome::protocol::cdp::Emulation::MediaFeature {
                    name: "prefers-color-scheme".into(),
                    value: "dark".into(),
                },
            ]),
        },
    )
    .unwrap();
    // A fresh load: the whole list again, by memory.
    tab.navigate_to(&format!("{base}/#/processes?sort=rss&dir=desc"))
        .unwrap();
    tab.reload(true, None).unwrap();
    tab.wait_for_element(&row).unwrap();
    screenshot(&tab, "processes-dark", WINDOW_HEIGHT);

    let errors = errors.lock().unwrap().clone();
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    daemon.stop();
}

/// Beyond loopback the page asks for the token: 401 with a login form;
/// the right token opens the page, a wrong one does not.
#[test]
fn beyond_loopback_the_page_needs_the_access_token() {
    const TOKEN: &str = "web-token-8d2f4c19a7e3";
    let scene = Scene::new();
    let ws = workspace();
    let daemon = Daemon::start_on(&ws, "0.0.0.0", Some(TOKEN), &[]);
    let chromium = Headless::launch();
    let (tab, _errors) = chromium.tab();
    let base = format!("http://127.0.0.1:{}", daemon.port);

    tab.navigate_to(&format!("{base}/")).unwrap();
    tab.wait_until_navigated().unwrap();
    let status = "performance.getEntriesByType('navigation')[0].responseStatus";
    assert_eq!(eval(&tab, status), 401);
    tab.wait_for_element("form input#token").unwrap();
    let (code, _) = request(&format!("{base}/api/processes"), None, None).unwrap();
    assert_eq!(code, 401);

    // A wrong token: the form again, with 401.
    tab.wait_for_element("#token").unwrap().click().unwrap();
    tab.type_str("not-the-token-000000").unwrap();
    tab.wait_for_element("#login").unwrap().click().unwrap();
    wait_until(
        &tab,
        "the refusal",
        "document.querySelector('.login-error')?.textContent ?? ''",
        |t| {
            t.as_str()
                .is_some_and(|t| t.contains("not this runner's access token"))
        },
    );
    assert_eq!(eval(&tab, status), 401);

    // The token: the page, and its data.
    tab.wait_for_element("#token").unwrap().click().unwrap();
    tab.type_str(TOKEN).unwrap();
    tab.wait_for_element("#login").unwrap().click().unwrap();
    let row = format!("#processes tbody tr[data-pid=\"{}\"]", scene.listener.pid());
    tab.wait_for_element(&row).unwrap();
    let cookies = tab.get_cookies().unwrap();
    let session = cookies.iter().find(|c| c.name == "runner_session").unwrap();
    assert!(session.http_only);
    assert!(!session.value.contains(TOKEN), "the cookie holds a digest");

    let (_, _, stderr) = daemon.stop();
    assert!(!stderr.contains(TOKEN), "the token was logged: {stderr}");
    assert!(stderr.contains("wrong access token"), "{stderr}");
}

/// The JSON behind the page: the search and facets of the list, one
/// process's sockets and relatives, 404 for a process that is gone.
#[test]
fn the_json_behind_the_page_has_the_processes_connections_and_relatives() {
    let scene = Scene::new();
    let ws = workspace();
    let daemon = Daemon::start(&ws, &[("RUNNER_TAGS", "env:test,team:web")]);
    let api = |path: &str| -> Value {
        serde_json::from_str(&daemon.get(path).unwrap_or_else(|| panic!("{path}"))).unwrap()
    };
    let listener = scene.listener.pid();

    let list = api(&format!("/api/processes?q=python3+{}", scene.marker));
    assert_eq!(list["matched"], 1, "{list:#}");
    let row = &list["processes"][0];
    assert_eq!(row["pid"], listener);
    assert_eq!(row["name"], "python3");
    assert!(row["command"].as_str().unwrap().ends_with(&scene.marker));
    assert_eq!(row["threads"], 1);
    assert!(row["open_fds"].as_u64().unwrap() >= 4, "{row}");
    assert!(row["rss"].as_u64().unwrap() > 1 << 20);
    assert_eq!(
        list["host_tags"],
        serde_json::json!(["env:test", "team:web"])
    );
    let user = row["user"].as_str().unwrap().to_string();
    assert_eq!(
        list["facets"]["user"],
        serde_json::json!([{"value": user, "count": 1}])
    );
    assert_eq!(
        list["facets"]["tag"][0],
        serde_json::json!({"value": "env:test", "count": 1})
    );
    // Command lines are scrubbed, and secrets cannot be searched for.
    let (shell, hostile_marker) = hostile();
    let query = format!("/api/processes?q={hostile_marker}");
    // Spawned after the cached snapshot was read, perhaps.
    daemon.wait_for("the hostile process", Duration::from_secs(10), |_| {
        api(&query)["matched"] == 1
    });
    let found = api(&query);
    assert_eq!(found["processes"][0]["pid"], shell.pid());
    assert_eq!(
        found["processes"][0]["command"],
        format!(
            "sh -c sleep 600; : <img src=x onerror=alert(1)>{hostile_marker}\u{202e} --password=********"
        )
    );
    let detail = api(&format!("/api/processes/{}", shell.pid()));
    assert_eq!(detail["process"]["cmdline"][4], "--password=********");
    assert!(!detail.to_string().contains("hunter2"));
    assert_eq!(
        api(&format!("/api/processes?q={hostile_marker}+hunter2"))["matched"],
        0
    );

    let everything = api("/api/processes");
    assert!(everything["matched"].as_u64().unwrap() > 10);
    assert_eq!(everything["matched"], everything["total"]);
    let other_user = api(&format!(
        "/api/processes?q={}&user=nobody-here",
        scene.marker
    ));
    assert_eq!(other_user["matched"], 0);
    let other_tag = api(&format!("/api/processes?q={}&tag=env:prod", scene.marker));
    assert_eq!(other_tag["matched"], 0);

    // The clients' server ends are accepted by now; wait for all three.
    let path = format!("/api/processes/{listener}");
    daemon.wait_for("three accepted clients", Duration::from_secs(20), |_| {
        api(&path)["connections"][0]["count"] == 3
    });
    let detail = api(&path);
    assert_eq!(detail["process"]["pid"], listener);
    assert_eq!(detail["process"]["cmdline"][3], scene.marker);
    assert_eq!(
        detail["listening"],
        serde_json::json!([{"protocol": "tcp", "local": format!("127.0.0.1:{}", scene.port), "port": scene.port}])
    );
    let group = &detail["connections"][0];
    assert_eq!(group["remote"], "127.0.0.1");
    assert_eq!(group["direction"], "incoming");
    assert_eq!(group["local_ports"], serde_json::json!([scene.port]));
    assert_eq!(group["elsewhere"], 0);
    let peers: BTreeSet<u32> = group["remote_processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert_eq!(p["connections"], 1);
            assert_eq!(p["name"], "sleep");
            p["pid"].as_u64().unwrap() as u32
        })
        .collect();
    assert_eq!(peers, scene.client_pids());
    let related = &detail["related"];
    let same: BTreeSet<u64> = related["same_command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["pid"].as_u64().unwrap())
        .collect();
    assert!(
        same.contains(&u64::from(scene.sibling.pid())),
        "{related:#}"
    );
    let callers: BTreeSet<u32> = related["talked_to_by"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["process"]["pid"].as_u64().unwrap() as u32)
        .collect();
    assert_eq!(callers, scene.client_pids());

    let (code, body) = request(
        &format!("http://127.0.0.1:{}/api/processes/4294967295", daemon.port),
        None,
        None,
    )
    .unwrap();
    assert_eq!(code, 404);
    assert!(
        body.contains("no process 4294967295 on this host"),
        "{body}"
    );
}

/// Without a token the daemon answers only requests addressed to an IP
/// address or localhost: a page whose own name was rebound to 127.0.0.1
/// gets 403, not the host's command lines.
#[test]
fn a_rebound_host_name_is_refused() {
    let ws = workspace();
    let daemon = Daemon::start(&ws, &[]);
    let get_as = |host: &str| {
        let mut stream = TcpStream::connect(("127.0.0.1", daemon.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        write!(
            stream,
            "GET /api/processes HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    };
    let refused = get_as("attacker.example:80");
    assert!(refused.starts_with("HTTP/1.1 403"), "{refused}");
    assert!(!refused.contains("\"processes\""));
    let local = get_as(&format!("localhost:{}", daemon.port));
    assert!(local.starts_with("HTTP/1.1 200"), "{local}");
}
