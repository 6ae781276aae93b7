//! `runner processes` and `runner connections` against real processes and
//! sockets, `ps` and `ss`, and another user.

mod common;

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{AS_NOBODY, Processes, runner_command_via, stderr, stdout};
use serde_json::Value;

/// `runner <args>` run through `wrapper` (nothing, or [`AS_NOBODY`]) from
/// a directory anyone may enter.
fn run(wrapper: &[&str], args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    runner_command_via(wrapper, dir.path())
        .args(args)
        .output()
        .expect("running the runner binary")
}

/// `runner <args>` (which include --json), parsed.
fn json(wrapper: &[&str], args: &[&str]) -> Value {
    let output = run(wrapper, args);
    assert!(
        output.status.success(),
        "runner {args:?} failed: {}",
        stderr(&output)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "runner {args:?} did not print JSON ({e}):\n{}",
            stdout(&output)
        )
    })
}

fn array(value: &Value) -> &Vec<Value> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value:#}"))
}

fn pids_of(rows: &[Value]) -> BTreeSet<u32> {
    rows.iter()
        .map(|p| p["pid"].as_u64().unwrap() as u32)
        .collect()
}

/// `runner processes <args> --json` without CPU %: one read is enough.
fn processes(wrapper: &[&str], args: &[&str]) -> Vec<Value> {
    let mut all = vec!["processes", "--json", "--interval", "0"];
    all.extend_from_slice(args);
    array(&json(wrapper, &all)).clone()
}

fn user_name() -> String {
    let output = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

fn uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

#[test]
fn search_finds_exactly_the_marked_processes_with_their_fields() {
    let sleepers = Processes::marked_sleepers(&[], 3);
    let marker = sleepers.name.as_str();
    let found = processes(&[], &[marker]);
    assert_eq!(pids_of(&found), sleepers.pids().into_iter().collect());
    let cwd = std::env::current_dir().unwrap();
    for p in &found {
        let pid = p["pid"].as_u64().unwrap();
        assert_eq!(p["ppid"], std::process::id(), "{p:#}");
        assert_eq!(p["name"], "sleep");
        assert_eq!(p["cmdline"], serde_json::json!(["sleep", marker]));
        assert_eq!(p["user"], user_name());
        assert_eq!(p["uid"], uid());
        assert_eq!(p["state"], "S");
        assert_eq!(p["threads"], 1);
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
        assert_eq!(p["exe"], exe.to_str().unwrap());
        assert_eq!(p["cwd"], cwd.to_str().unwrap());
        // stdin, stdout and stderr at least.
        assert!(p["open_fds"].as_u64().unwrap() >= 3, "{p:#}");
        assert!(p["io"]["read_bytes"].is_u64(), "{p:#}");
        assert!(p["rss"].as_u64().unwrap() > 0);
        assert!(p["vms"].as_u64().unwrap() > p["rss"].as_u64().unwrap());
        assert!(p["cpu_percent"].is_null(), "one read has no CPU %");
        let age = now() - p["start_time"].as_f64().unwrap();
        assert!((0.0..120.0).contains(&age), "started {age} s ago");
    }

    // Every word must match, each anywhere in a process's text.
    assert_eq!(processes(&[], &["SLEEP", marker]).len(), 3);
    assert_eq!(processes(&[], &[&format!("sleep {marker}")]).len(), 3);
    assert!(processes(&[], &[marker, "no-such-word"]).is_empty());
    // --user and --limit narrow it.
    assert_eq!(processes(&[], &[marker, "--user", &user_name()]).len(), 3);
    assert_eq!(
        processes(&[], &[marker, "--user", &uid().to_string()]).len(),
        3
    );
    assert!(processes(&[], &[marker, "--user", "no-such-user"]).is_empty());
    assert_eq!(processes(&[], &[marker, "--limit", "2"]).len(), 2);
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[test]
fn the_table_has_one_whole_row_per_process() {
    let sleepers = Processes::marked_sleepers(&[], 2);
    let output = run(&[], &["processes", &sleepers.name, "--interval", "0"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&output);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        [
            "PID", "PPID", "USER", "CPU%", "MEM%", "RSS", "THR", "FDS", "S", "ELAPSED", "COMMAND"
        ]
    );
    // Without CPU %, ties go by pid.
    let mut pids = sleepers.pids();
    pids.sort_unstable();
    for (line, pid) in lines[1..].iter().zip(pids) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cells[0], pid.to_string(), "{out}");
        assert_eq!(cells[1], std::process::id().to_string());
        assert_eq!(cells[2], user_name());
        // No CPU % from a single read: unknown, not 0.
        assert_eq!(cells[3], "-");
        assert_eq!(cells[6], "1");
        // Piped, the command is whole.
        assert_eq!(cells[10..], ["sleep", sleepers.name.as_str()]);
    }
}

#[test]
fn cpu_percent_is_measured_over_the_interval() {
    let spinner = Processes::spinners(1);
    let sleeper = Processes::marked_sleepers(&[], 1);
    let spinning = json(
        &[],
        &["processes", &spinner.name, "--interval", "1", "--json"],
    );
    let spinning = array(&spinning);
    assert_eq!(spinning.len(), 1);
    let cpu = spinning[0]["cpu_percent"].as_f64().unwrap();
    // A busy loop on a busy 2-core machine: well above idle, at most a core.
    assert!((20.0..=110.0).contains(&cpu), "cpu {cpu}");
    let user = spinning[0]["cpu_user_percent"].as_f64().unwrap();
    let system = spinning[0]["cpu_system_percent"].as_f64().unwrap();
    assert!(
        (user + system - cpu).abs() < 0.01,
        "{user} + {system} != {cpu}"
    );

    let sleeping = json(&[], &["processes", &sleeper.name, "--json"]);
    let sleeping = array(&sleeping);
    assert_eq!(sleeping[0]["cpu_percent"], 0.0);
}

#[test]
fn hostile_command_lines_are_escaped_and_secrets_scrubbed() {
    let marker = format!("m{}x", std::process::id());
    let hostile = format!("{marker}\u{1b}[2J\nFAKE 1 root");
    let shell = Spawned::new(
        Command::new("sh")
            .args(["-c", "sleep 600; :"])
            .arg(&hostile)
            .arg("--password=hunter2"),
    );
    shell.wait_for_child("sleep");
    let output = run(&[], &["processes", &marker, "--interval", "0"]);
    let out = stdout(&output);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
    assert!(
        lines[1].ends_with(&format!(
            "sh -c sleep 600; : {marker}\\u{{1b}}[2J\\nFAKE 1 root --password=********"
        )),
        "{}",
        lines[1]
    );
    assert!(!out.contains("hunter2"));

    let found = processes(&[], &[&marker]);
    assert_eq!(pids_of(&found), [shell.0.id()].into());
    // The scrubber keeps the process's own arguments (Datadog's would split
    // them on spaces).
    assert_eq!(
        found[0]["cmdline"],
        serde_json::json!([
            "sh",
            "-c",
            "sleep 600; :",
            format!("{marker}\u{1b}[2J\nFAKE 1 root"),
            "--password=********"
        ])
    );
    // Secrets cannot be searched for.
    assert!(processes(&[], &[&marker, "hunter2"]).is_empty());
}

#[test]
fn the_pid_set_agrees_with_ps() {
    let before = ps();
    let all = pids_of(&processes(&[], &["--all"]));
    let user_space = pids_of(&processes(&[], &[]));
    let after = ps();

    // Alive through both ps runs: alive while the runner read.
    let stable: BTreeSet<u32> = before
        .keys()
        .filter(|p| after.contains_key(p))
        .copied()
        .collect();
    let missing: Vec<&u32> = stable.difference(&all).collect();
    assert!(
        missing.is_empty(),
        "ps saw, runner --all did not: {missing:?}"
    );
    // Seen by the runner alone: started after the first ps and gone before
    // the second (the runner itself, for one).
    for pid in all.difference(&before.keys().chain(after.keys()).copied().collect()) {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "runner saw {pid}, ps did not, and it still runs"
        );
    }

    // Without --all: the same, less kernel threads (kthreadd and its children).
    let kernel = |pid: &u32| *pid == 2 || before.get(pid) == Some(&2);
    assert!(stable.iter().any(kernel), "no kernel thread to test with");
    assert!(!user_space.iter().any(kernel));
    let missing: Vec<&u32> = stable
        .iter()
        .filter(|p| !kernel(p) && !user_space.contains(*p))
        .collect();
    assert!(missing.is_empty(), "ps saw, runner did not: {missing:?}");
}

/// Every process `ps` sees, with its parent.
fn ps() -> std::collections::BTreeMap<u32, u32> {
    let output = Command::new("ps")
        .args(["-e", "-o", "pid=,ppid="])
        .output()
        .unwrap();
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let mut numbers = line.split_whitespace().map(|n| n.parse().unwrap());
            (numbers.next().unwrap(), numbers.next().unwrap())
        })
        .collect()
}

/// A child process, killed on drop.
struct Spawned(Child);

impl Spawned {
    fn new(command: &mut Command) -> Self {
        Self(
            command
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
                .unwrap(),
        )
    }
}

impl Spawned {
    /// Wait (at most 10 s) until the shell's child has become `program`:
    /// between its fork and its exec, the child still carries the shell's
    /// command line, and a snapshot taken then lists it too.
    fn wait_for_child(&self, program: &str) {
        let children = format!("/proc/{0}/task/{0}/children", self.0.id());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            let pids = std::fs::read_to_string(&children).unwrap_or_default();
            let exec_done = pids.split_whitespace().any(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .is_ok_and(|comm| comm.trim() == program)
            });
            if exec_done {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("the shell {} never started {program}", self.0.id());
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A connection from the test to itself over loopback: the listener, the
/// client end and the accepted end.
fn loopback(address: &str) -> Option<(TcpListener, TcpStream, TcpStream)> {
    let listener = TcpListener::bind(address).ok()?;
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    Some((listener, client, server))
}

/// The one socket of `rows` from `local` to `remote`.
fn socket<'a>(rows: &'a [Value], local: SocketAddr, remote: &str) -> &'a Value {
    let remote: SocketAddr = remote.parse().unwrap();
    let at = |c: &Value, side: &str, a: SocketAddr| {
        c[format!("{side}_address")] == a.ip().to_string() && c[format!("{side}_port")] == a.port()
    };
    let found: Vec<&Value> = rows
        .iter()
        .filter(|c| at(c, "local", local) && at(c, "remote", remote))
        .collect();
    assert_eq!(found.len(), 1, "{local} -> {remote} in {rows:#?}");
    found[0]
}

#[test]
fn the_tests_own_sockets_show_with_their_ports_states_and_pid() {
    let me = std::process::id();
    let (listener, client, server) = loopback("127.0.0.1:0").unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let v6 = loopback("[::1]:0");
    let rows = array(&json(
        &[],
        &["connections", "--pid", &me.to_string(), "--json"],
    ))
    .clone();

    let port = listener.local_addr().unwrap();
    let listening = socket(&rows, port, "0.0.0.0:0");
    assert_eq!(listening["protocol"], "tcp");
    assert_eq!(listening["state"], "LISTEN");
    assert_eq!(listening["direction"], "listening");
    assert_eq!(listening["processes"][0]["pid"], me, "{listening:#}");
    assert_eq!(listening["processes"][0]["user"], user_name());
    assert_eq!(listening["uid"], uid());

    let (near, far) = (client.local_addr().unwrap(), server.local_addr().unwrap());
    let outgoing = socket(&rows, near, &far.to_string());
    assert_eq!(outgoing["state"], "ESTAB");
    assert_eq!(outgoing["direction"], "outgoing");
    assert_eq!(outgoing["processes"][0]["pid"], me);
    let incoming = socket(&rows, far, &near.to_string());
    assert_eq!(incoming["state"], "ESTAB");
    assert_eq!(incoming["direction"], "incoming");

    let udp_row = socket(&rows, udp.local_addr().unwrap(), "0.0.0.0:0");
    assert_eq!(udp_row["protocol"], "udp");
    assert_eq!(udp_row["state"], "UNCONN");

    if let Some((listener6, client6, _server6)) = &v6 {
        let listening6 = listener6.local_addr().unwrap();
        let row = socket(&rows, listening6, "[::]:0");
        assert_eq!(row["local_address"], "::1");
        assert_eq!(row["state"], "LISTEN");
        let row = socket(
            &rows,
            client6.local_addr().unwrap(),
            &listening6.to_string(),
        );
        assert_eq!(row["state"], "ESTAB");
    }

    // The filters, host-side.
    let port_arg = port.port().to_string();
    let only = |extra: &[&str]| {
        let mut args = vec!["connections", "--json", "--port", &port_arg];
        args.extend_from_slice(extra);
        array(&json(&[], &args)).clone()
    };
    assert_eq!(only(&[]).len(), 3);
    let listeners = only(&["--listening"]);
    assert_eq!(listeners.len(), 1);
    assert_eq!(listeners[0]["state"], "LISTEN");
    assert_eq!(only(&["--state", "established"]).len(), 2);
    assert_eq!(only(&["--direction", "incoming"]).len(), 1);
    assert!(only(&["--udp"]).is_empty());

    // The table, like ss: one row per socket, the process as name(pid),user.
    let output = run(&[], &["connections", "--port", &port_arg, "--listening"]);
    let out = stdout(&output);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with("Netid  State"), "{out}");
    let cells: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(cells[..2], ["tcp", "LISTEN"]);
    assert_eq!(cells[4], port.to_string());
    assert_eq!(cells[5], "0.0.0.0:*");
    let name = listening["processes"][0]["name"].as_str().unwrap();
    assert_eq!(cells[6], format!("{name}({me}),{}", user_name()));
}

#[test]
fn listening_sockets_agree_with_ss() {
    let before = ss_listening();
    let rows = array(&json(
        &[],
        &["connections", "--listening", "--tcp", "--json"],
    ))
    .clone();
    let after = ss_listening();
    let ours: BTreeSet<(String, u16)> = rows
        .iter()
        .map(|c| {
            let address = c["local_address"].as_str().unwrap().to_string();
            (address, c["local_port"].as_u64().unwrap() as u16)
        })
        .collect();
    let missing: Vec<_> = before
        .intersection(&after)
        .filter(|s| !ours.contains(s))
        .collect();
    assert!(missing.is_empty(), "ss listed, runner did not: {missing:?}");
}

/// `ss -tln`'s local addresses, without the `%interface` of sockets bound
/// to a device.
fn ss_listening() -> BTreeSet<(String, u16)> {
    let output = Command::new("ss")
        .args(["-H", "-t", "-l", "-n"])
        .output()
        .unwrap();
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let local = line.split_whitespace().nth(3).unwrap();
            let (host, port) = local.rsplit_once(':').unwrap();
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let host = host.split('%').next().unwrap();
            let host = if host == "*" { "0.0.0.0" } else { host };
            (host.to_string(), port.parse().unwrap())
        })
        .collect()
}

/// Waits up to 10 s for a connection on a non-blocking `listener`.
fn accept_within(listener: &TcpListener) -> TcpStream {
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match listener.accept() {
            Ok((stream, _)) => return stream,
            Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => panic!("no connection: {e}"),
        }
    }
}

#[test]
fn related_shows_the_same_command_and_the_peers() {
    let twins = Processes::sleepers(2);
    let [first, second] = twins.pids()[..] else {
        panic!("two sleepers");
    };
    let related = json(
        &[],
        &[
            "processes",
            "--related",
            &first.to_string(),
            "--json",
            "-i",
            "0",
        ],
    );
    assert_eq!(related["process"]["pid"], first);
    assert_eq!(pids_of(array(&related["same_command"])), [second].into());

    // A client process connected to a listener of this test.
    let me = std::process::id();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let client = Spawned::new(Command::new("bash").args([
        "-c",
        &format!("exec 3<>/dev/tcp/127.0.0.1/{port}; exec sleep 600"),
    ]));
    let _accepted = accept_within(&listener);
    let client_pid = client.0.id();

    let of_client = json(
        &[],
        &[
            "processes",
            "--related",
            &client_pid.to_string(),
            "--json",
            "-i",
            "0",
        ],
    );
    let talks_to = array(&of_client["talks_to"]);
    assert_eq!(pids_of(talks_to), [me].into(), "{of_client:#}");
    assert_eq!(talks_to[0]["connections"], 1);
    assert!(array(&of_client["talked_to_by"]).is_empty());
    assert_eq!(of_client["connections_elsewhere"], 0);

    let of_me = json(
        &[],
        &[
            "processes",
            "--related",
            &me.to_string(),
            "--json",
            "-i",
            "0",
        ],
    );
    let callers = array(&of_me["talked_to_by"]);
    let caller = callers.iter().find(|p| p["pid"] == client_pid);
    assert_eq!(
        caller.map(|p| &p["connections"]),
        Some(&1.into()),
        "{of_me:#}"
    );

    // The table has the sections, the peer with its connection count.
    let output = run(
        &[],
        &["processes", "--related", &client_pid.to_string(), "-i", "0"],
    );
    let out = stdout(&output);
    assert!(
        out.starts_with(&format!("=== Process {client_pid} ===\n")),
        "{out}"
    );
    let talks = out.split("=== Talks to").nth(1).unwrap();
    let peer_row = talks.lines().nth(2).unwrap();
    let cells: Vec<&str> = peer_row.split_whitespace().collect();
    assert_eq!(cells[..2], ["1", &me.to_string()], "{out}");

    let unknown = run(&[], &["processes", "--related", "4294967295"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(stderr(&unknown).contains("no process 4294967295"));
}

#[test]
fn another_users_process_shows_its_user() {
    let nobody = Processes::marked_sleepers(&AS_NOBODY, 1);
    let found = processes(&[], &[&nobody.name]);
    assert_eq!(pids_of(&found), nobody.pids().into_iter().collect());
    assert_eq!(found[0]["user"], "nobody");
    assert_eq!(found[0]["uid"], 65534);
    assert_eq!(found[0]["name"], "sleep");
    // Searching by user name finds it too.
    assert_eq!(processes(&[], &[&nobody.name, "nobody"]).len(), 1);
}

#[test]
fn an_unprivileged_runner_shows_root_processes_with_unknown_privileged_fields() {
    assert_eq!(
        uid(),
        0,
        "this test runs as root, to run the runner as nobody"
    );
    let root = Processes::marked_sleepers(&[], 1);
    let found = processes(&AS_NOBODY, &[&root.name]);
    assert_eq!(pids_of(&found), root.pids().into_iter().collect());
    let p = &found[0];
    assert_eq!(p["user"], "root", "{p:#}");
    assert_eq!(p["uid"], 0);
    assert_eq!(p["cmdline"], serde_json::json!(["sleep", root.name]));
    for field in ["io", "cwd", "exe"] {
        assert!(p[field].is_null(), "{field} should be unknown: {p:#}");
    }
    // Since Linux 6.2 anyone may count another process's open files (the
    // size of its fd directory); before, that is unknown too. Never 0.
    let pid = root.pids()[0];
    let open_fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count();
    assert!(
        p["open_fds"].is_null() || p["open_fds"] == open_fds,
        "open_fds: {p:#}"
    );
    // What /proc shows everyone is known.
    assert!(p["rss"].as_u64().unwrap() > 0);
    assert_eq!(p["threads"], 1);

    // The table shows what is known.
    let output = run(&AS_NOBODY, &["processes", &root.name, "-i", "0"]);
    let out = stdout(&output);
    let row: Vec<&str> = out.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(row[0], pid.to_string(), "{out}");
    assert_eq!(row[2], "root", "{out}");

    // Sockets of root's processes are listed, but not who holds them.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let rows = array(&json(
        &AS_NOBODY,
        &["connections", "--port", &port, "--json"],
    ))
    .clone();
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["uid"], 0);
    assert_eq!(rows[0]["processes"], serde_json::json!([]));
    let table = run(&AS_NOBODY, &["connections", "--port", &port]);
    assert!(
        stderr(&table).contains("run as root to see them"),
        "{}",
        stderr(&table)
    );
}
