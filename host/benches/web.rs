//! The Live Processes page with 2,000 extra processes on the host
//! (docs/BENCHMARKS.md §8):
//! - the JSON behind one refresh of the table (`GET /api/processes`):
//!   its size, and its time with a fresh /proc read and from the cached
//!   snapshot (the JSON build alone, plus loopback HTTP);
//! - the browser's time to render one refresh, as the page measures it
//!   (`window.runnerPage.lastRenderMs`, read over the DevTools protocol
//!   from Debian's headless chromium);
//! - the daemon's CPU while a page is open, next to the same daemon with
//!   no page open, in the same run (and `top` refreshing every 2 s, for
//!   scale).
//!
//! `cargo bench -p runner --bench web`; `RUNNER_BENCH_EXTRA_PROCS` (2000)
//! and `RUNNER_BENCH_SECONDS` (60, per CPU window) change the load and the
//! windows. Results go to stdout and target/bench-web/results.md. Nothing
//! here asserts on time.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use headless_chrome::{Browser, LaunchOptions};

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Children killed on drop.
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// User plus system CPU seconds of `pid` so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name, which is in parentheses.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn get(agent: &ureq::Agent, url: &str) -> (Duration, usize) {
    let begun = Instant::now();
    let mut response = agent.get(url).call().unwrap();
    let body = response.body_mut().read_to_vec().unwrap();
    (begun.elapsed(), body.len())
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn p95(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[(values.len() * 95 / 100).min(values.len() - 1)]
}

fn main() {
    // `cargo bench` passes --bench; a plain `cargo test` of benches does not run us.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let extra = env_number("RUNNER_BENCH_EXTRA_PROCS", 2000) as usize;
    let window = Duration::from_secs(env_number("RUNNER_BENCH_SECONDS", 60));
    let sleepers = Children(
        (0..extra)
            .map(|_| {
                Command::new("sleep")
                    .arg("86400")
                    .spawn()
                    .expect("starting sleep")
            })
            .collect(),
    );
    let processes = std::fs::read_dir("/proc")
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        })
        .count();

    // The daemon on its built-in default (an empty conf.d).
    let scratch = tempfile::tempdir().unwrap();
    std::fs::create_dir(scratch.path().join("conf.d")).unwrap();
    let port = free_port();
    let daemon = Children(vec![
        Command::new(env!("CARGO_BIN_EXE_runner"))
            .args(["run", "--conf-d"])
            .arg(scratch.path().join("conf.d"))
            .current_dir(scratch.path())
            .env("RUNNER_LISTEN", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("runner run"),
    ]);
    let daemon_pid = daemon.0[0].id();
    let base = format!("http://127.0.0.1:{port}");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let started = Instant::now();
    while agent.get(format!("{base}/status")).call().is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "the daemon");
        std::thread::sleep(Duration::from_millis(100));
    }

    // The daemon alone first, before anything asks the page's endpoints
    // (the fields a page asks for are read by every refresh for the next
    // 10 minutes, a cost the page-open window then includes).
    std::thread::sleep(Duration::from_secs(2));
    let cpu_before = cpu_seconds(daemon_pid);
    std::thread::sleep(window);
    let alone = cpu_seconds(daemon_pid) - cpu_before;

    // The JSON of one refresh: fresh (the cached snapshot is older than
    // its 500 ms), then at once again from the cache.
    let (mut fresh, mut cached, mut sizes) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..20 {
        std::thread::sleep(Duration::from_millis(700));
        let (took, size) = get(&agent, &format!("{base}/api/processes"));
        fresh.push(took.as_secs_f64() * 1e3);
        sizes.push(size as f64);
        let (took, _) = get(&agent, &format!("{base}/api/processes"));
        cached.push(took.as_secs_f64() * 1e3);
    }
    let (detail, detail_size) = get(&agent, &format!("{base}/api/processes/{daemon_pid}"));

    let profile = tempfile::tempdir().unwrap();
    let args: Vec<&std::ffi::OsStr> = [
        "--disable-gpu",
        "--disable-quic",
        "--disable-component-update",
    ]
    .iter()
    .map(std::ffi::OsStr::new)
    .collect();
    let browser = Browser::new(
        LaunchOptions::default_builder()
            .path(Some(PathBuf::from("/usr/bin/chromium")))
            .sandbox(false)
            .window_size(Some((1366, 860)))
            .user_data_dir(Some(profile.path().to_path_buf()))
            .args(args)
            .idle_browser_timeout(window * 2)
            .build()
            .unwrap(),
    )
    .expect("chromium (Debian package chromium)");
    let tab = browser.new_tab().unwrap();
    tab.navigate_to(&format!("{base}/")).unwrap();
    tab.wait_for_element("#processes tbody tr[data-pid]")
        .unwrap();
    let read = |expression: &str| -> f64 {
        tab.evaluate(expression, false)
            .unwrap()
            .value
            .and_then(|v| v.as_f64())
            .unwrap_or(f64::NAN)
    };
    let cpu_before = cpu_seconds(daemon_pid);
    let begun = Instant::now();
    let first_render = read("window.runnerPage.renders");
    let (mut renders, mut fetches) = (Vec::new(), Vec::new());
    let mut last_count = first_render;
    while begun.elapsed() < window {
        std::thread::sleep(Duration::from_millis(250));
        let count = read("window.runnerPage.renders");
        if count > last_count {
            last_count = count;
            renders.push(read("window.runnerPage.lastRenderMs"));
            fetches.push(read("window.runnerPage.lastFetchMs"));
        }
    }
    let with_page = cpu_seconds(daemon_pid) - cpu_before;
    let refreshes = last_count - first_render;
    drop(tab);
    drop(browser);

    // For scale: `top` showing the same processes every 2 s (it reads no
    // fds, cwd or sockets), measured alone over the same window.
    let top = Children(vec![
        Command::new("top")
            .args(["-b", "-d", "2", "-w", "512"])
            .stdout(Stdio::null())
            .spawn()
            .expect("top (Debian package procps)"),
    ]);
    let top_pid = top.0[0].id();
    std::thread::sleep(Duration::from_secs(1));
    let top_before = cpu_seconds(top_pid);
    std::thread::sleep(window);
    let top_cpu = cpu_seconds(top_pid) - top_before;
    drop(top);
    drop(daemon);
    drop(sleepers);

    let per_minute = |seconds: f64| seconds * 60.0 / window.as_secs_f64();
    let mut out = String::new();
    writeln!(
        out,
        "Processes on the host: {processes} ({extra} extra `sleep`)\n"
    )
    .unwrap();
    writeln!(out, "| Measure | Median | p95 |").unwrap();
    writeln!(out, "|---|---|---|").unwrap();
    writeln!(
        out,
        "| `/api/processes` size | {:.0} KiB | {:.0} KiB |",
        median(&mut sizes) / 1024.0,
        p95(&mut sizes) / 1024.0
    )
    .unwrap();
    writeln!(
        out,
        "| `/api/processes`, fresh /proc read | {:.1} ms | {:.1} ms |",
        median(&mut fresh),
        p95(&mut fresh)
    )
    .unwrap();
    writeln!(
        out,
        "| `/api/processes`, cached snapshot (JSON build + HTTP) | {:.1} ms | {:.1} ms |",
        median(&mut cached),
        p95(&mut cached)
    )
    .unwrap();
    writeln!(
        out,
        "| `/api/processes/{{pid}}` (one, all fields) | {:.1} ms, {} KiB | |",
        detail.as_secs_f64() * 1e3,
        detail_size / 1024
    )
    .unwrap();
    writeln!(
        out,
        "| browser: fetch of one refresh (page's own timing) | {:.1} ms | {:.1} ms |",
        median(&mut fetches),
        p95(&mut fetches)
    )
    .unwrap();
    writeln!(
        out,
        "| browser: render of one refresh (JSON parsed → DOM updated) | {:.1} ms | {:.1} ms |",
        median(&mut renders),
        p95(&mut renders)
    )
    .unwrap();
    writeln!(
        out,
        "\n| Daemon CPU over {} s | CPU-s per minute | Ratio |",
        window.as_secs()
    )
    .unwrap();
    writeln!(out, "|---|---|---|").unwrap();
    writeln!(out, "| no page open | {:.3} | 1.00× |", per_minute(alone)).unwrap();
    writeln!(
        out,
        "| one page open ({refreshes:.0} refreshes) | {:.3} | {:.2}× |",
        per_minute(with_page),
        with_page / alone
    )
    .unwrap();
    writeln!(
        out,
        "| for scale: `top -b -d 2` alone | {:.3} | {:.2}× |",
        per_minute(top_cpu),
        top_cpu / alone
    )
    .unwrap();
    print!("{out}");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-web");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("results.md"), out).unwrap();
}
