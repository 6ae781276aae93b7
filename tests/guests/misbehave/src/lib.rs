//! A check that misbehaves on purpose, chosen by its `mode`, so the tests
//! can prove that the sandbox contains each failure.

use runner_sdk::bindings::runner::check::{metrics, reporting};
use runner_sdk::{
    AlertType, Check, ConnectionQuery, Context, EndpointKey, Error, Event, EventPriority, Level,
    Metric, MetricType, NoInitConfig, ProcessFields, ProcessQuery, QueryError, Status,
};
use schemars::JsonSchema;
use serde::Deserialize;

/// Text that tries to fake lines and drive the terminal: a newline and a
/// fake log line, a carriage return, a screen clear, a window title.
const INJECTION: &str =
    "inj\n2024-01-01T00:00:00Z ERROR runner: fake line\r\u{1b}[2J\u{1b}]0;owned\u{7}";

#[derive(Deserialize, JsonSchema, Clone, Copy, PartialEq)]
#[serde(rename_all = "snake_case")]
enum Mode {
    /// Behave: one gauge and an OK service check.
    Ok,
    /// Do nothing at all in `run` and submit nothing (measures the host's
    /// own per-run overhead).
    Idle,
    /// Spin forever (the time limit must stop it).
    Loop,
    /// Allocate without bound (the memory cap must stop it).
    Memory,
    /// Submit metrics without end (the per-run metric cap must stop it).
    Flood,
    /// Write to stdout without end (the output cap must stop it).
    Stdout,
    /// Panic in `run`.
    Panic,
    /// Recurse without bound (the stack limit must stop it).
    Recurse,
    /// Return an error from `run`.
    Error,
    /// Fail in `configure`.
    BadConfig,
    /// Spin in `configure` (the time limit must stop it; the scheduler
    /// must not wait for it before running other instances).
    SlowConfigure,
    /// Sleep inside a host call (WASI's clock poll): epochs cannot
    /// interrupt it, the outer timeout must.
    Sleep,
    /// Ask for 1 GiB at once, three times (the memory cap must refuse
    /// the first).
    AllocGib,
    /// Submit one metric with a 15 MiB name per host call, again and again.
    HugeName,
    /// Submit service checks without end, 100 per host call.
    ServiceCheckFlood,
    /// Submit events with 1 MiB texts without end, one per host call.
    EventFlood,
    /// Submit `count` rate samples per run, each of a new series (its tags
    /// name the run), so the runner would keep ever more contexts.
    NewTags,
    /// Log without end.
    LogFlood,
    /// Return an error of `count` bytes (default 10 MiB).
    LongError,
    /// Call `exit(3)`.
    Exit,
    /// Submit a metric whose name is not valid UTF-8.
    BadUtf8,
    /// Put newlines, carriage returns and escape sequences in everything
    /// it submits, logs, prints and returns.
    Inject,
    /// Query `target` as a pid file (a path the configuration need not
    /// grant); the run fails with what the runner answered.
    Spy,
    /// Report the command line of process `pid` as an OK service check's
    /// message.
    Cmdline,
    /// Query the host's connections for `count` pids (default 1,000,000):
    /// far more than the runner accepts; the run fails with what the
    /// runner answered.
    ManyPids,
    /// Try each of `probes` in turn and report each as the
    /// `misbehave.probe` service check tagged `probe:<probe>`: OK, or
    /// CRITICAL with the error. The network granted is `host` + `port`
    /// (TCP) and `url` (HTTP). Probes:
    /// - `connect:HOST:PORT`: the SDK's way (the runner resolves, then TCP);
    /// - `raw:IP:PORT`: a plain TCP connect to an address, no resolve;
    /// - `dns:NAME`: the guest's own name lookup;
    /// - `udp:IP:PORT`: a UDP datagram;
    /// - `listen:IP:PORT`: a listening TCP socket;
    /// - `http:URL`: an HTTP GET through wasi:http;
    /// - `hang:HOST:PORT`: connect and read until the peer closes;
    /// - `hold:HOST:PORT`: connect again and again, keeping every
    ///   connection open, until something says no.
    Network,
}

#[derive(Deserialize, JsonSchema)]
struct Config {
    /// What to do on each run.
    mode: Mode,
    /// A granted pid file (declared in `FILE_KEYS`), for `spy`.
    #[serde(default)]
    #[allow(dead_code)] // only the runner reads it, to grant the path
    pid_file: Option<String>,
    /// The path `spy` asks for.
    #[serde(default)]
    target: Option<String>,
    /// The process `cmdline` reports.
    #[serde(default)]
    pid: Option<u32>,
    /// How many: series a `new_tags` run makes (default 20000), bytes of
    /// the `long_error` error (default 10 MiB).
    #[serde(default)]
    count: Option<u64>,
    /// The TCP endpoint granted (`network`).
    #[serde(default)]
    #[allow(dead_code)] // only the runner reads them, to grant them
    host: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    port: Option<u16>,
    /// The HTTP endpoint granted (`network`).
    #[serde(default)]
    #[allow(dead_code)]
    url: Option<String>,
    /// What `network` tries.
    #[serde(default)]
    probes: Vec<String>,
}

struct Misbehave {
    mode: Mode,
    runs: u64,
    target: Option<String>,
    pid: Option<u32>,
    count: u64,
    probes: Vec<String>,
}

impl Check for Misbehave {
    type Config = Config;
    type InitConfig = NoInitConfig;
    const NAME: &'static str = "misbehave";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const FILE_KEYS: &'static [&'static str] = &["pid_file"];
    const ENDPOINT_KEYS: &'static [EndpointKey] = &[
        EndpointKey::HostPort {
            host: "host",
            port: "port",
            default_host: None,
            default_port: None,
        },
        EndpointKey::Url("url"),
    ];

    fn configure(_init: NoInitConfig, config: Config) -> Result<Self, Error> {
        match config.mode {
            Mode::BadConfig => return Err("mode bad_config always fails to configure".into()),
            Mode::SlowConfigure => spin(),
            _ => {}
        }
        Ok(Misbehave {
            mode: config.mode,
            runs: 0,
            target: config.target,
            pid: config.pid,
            probes: config.probes,
            count: config.count.unwrap_or(match config.mode {
                Mode::LongError => 10 << 20,
                Mode::ManyPids => 1_000_000,
                _ => 20_000,
            }),
        })
    }

    fn run(&mut self, ctx: &mut Context) -> Result<(), Error> {
        self.runs += 1;
        match self.mode {
            Mode::Ok => {
                ctx.gauge("misbehave.runs", self.runs as f64, &[]);
                ctx.service_check("misbehave.ok", Status::Ok, &[], "");
            }
            Mode::Idle => {}
            Mode::Loop => spin(),
            Mode::Memory => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            Mode::Flood => {
                // Before flooding, one sample that proves partial results survive.
                ctx.gauge("misbehave.before_flood", 1.0, &[]);
                for i in 0.. {
                    ctx.gauge("misbehave.flood", i as f64, &[format!("i:{i}")]);
                }
            }
            Mode::Stdout => loop {
                println!(
                    "{}",
                    "all work and no play makes jack a dull boy ".repeat(20)
                );
            },
            Mode::Panic => panic!("misbehave panicked on purpose (run {})", self.runs),
            Mode::Recurse => {
                ctx.gauge("misbehave.depth", recurse(0) as f64, &[]);
            }
            Mode::Error => return Err(format!("mode error fails run {}", self.runs).into()),
            Mode::BadConfig | Mode::SlowConfigure => {
                unreachable!("configure refuses or never finishes this mode")
            }
            Mode::Sleep => std::thread::sleep(std::time::Duration::from_secs(3600)),
            Mode::AllocGib => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                for _ in 0..3 {
                    hoard.push(vec![1u8; 1 << 30]);
                    std::hint::black_box(&hoard);
                }
            }
            Mode::HugeName => {
                let name = "n".repeat(15 << 20);
                loop {
                    metrics::submit_metrics(&[metric(&name, MetricType::Gauge, vec![])]);
                }
            }
            Mode::ServiceCheckFlood => {
                let batch: Vec<_> = (0..100)
                    .map(|i| reporting::ServiceCheck {
                        name: "misbehave.flood".into(),
                        status: Status::Ok,
                        message: format!("flood {i}"),
                        tags: vec![],
                        hostname: None,
                    })
                    .collect();
                loop {
                    reporting::submit_service_checks(&batch);
                }
            }
            Mode::EventFlood => {
                let event = Event {
                    title: "flood".into(),
                    text: "t".repeat(1 << 20),
                    timestamp: None,
                    priority: EventPriority::Normal,
                    alert_type: AlertType::Info,
                    tags: vec![],
                    aggregation_key: None,
                    hostname: None,
                };
                loop {
                    reporting::submit_events(std::slice::from_ref(&event));
                }
            }
            Mode::NewTags => {
                let pad = format!("pad:{}", "p".repeat(500));
                for i in 0..self.count {
                    let tags = [format!("series:{}-{i}", self.runs), pad.clone()];
                    ctx.rate("misbehave.churn", i as f64, &tags);
                }
            }
            Mode::LogFlood => {
                let line = "all work and no play makes jack a dull boy ".repeat(20);
                loop {
                    runner_sdk::log(Level::Info, &line);
                }
            }
            Mode::LongError => return Err("E".repeat(self.count as usize).into()),
            Mode::Exit => std::process::exit(3),
            Mode::BadUtf8 => {
                // SAFETY: not safe at all, on purpose: the runner must
                // refuse the string rather than trust it.
                let name = unsafe { String::from_utf8_unchecked(b"bad\xff\xfe.name".to_vec()) };
                metrics::submit_metrics(&[metric(&name, MetricType::Gauge, vec![])]);
            }
            Mode::Inject => {
                let tags = [format!("t:{INJECTION}")];
                ctx.gauge(&format!("misbehave.{INJECTION}"), 1.0, &tags);
                ctx.service_check("misbehave.inject", Status::Critical, &tags, INJECTION);
                ctx.info_event(INJECTION, INJECTION, &tags);
                ctx.info(INJECTION);
                ctx.warn(INJECTION);
                println!("stdout {INJECTION}");
                eprintln!("stderr {INJECTION}");
                return Err(format!("failed: {INJECTION}").into());
            }
            Mode::Spy => {
                let query = ProcessQuery {
                    pid_file: self.target.clone(),
                    ..ProcessQuery::default()
                };
                return match ctx.processes(&query) {
                    Ok(snapshot) => Err(format!(
                        "the runner read {:?}: {} processes",
                        self.target,
                        snapshot.processes.len()
                    )
                    .into()),
                    Err(e) => Err(format!("{}: {e}", kind(&e)).into()),
                };
            }
            Mode::ManyPids => {
                let count = self.count.min(10_000_000) as u32;
                let query = ConnectionQuery {
                    pids: Some((0..count).collect()),
                    ..ConnectionQuery::default()
                };
                return match ctx.connections(&query) {
                    Ok(rows) => {
                        Err(format!("the runner answered {} connections", rows.len()).into())
                    }
                    Err(e) => Err(e.to_string().into()),
                };
            }
            Mode::Network => {
                for probe in &self.probes {
                    let (status, message) = match network_probe(probe) {
                        Ok(message) => (Status::Ok, message),
                        Err(message) => (Status::Critical, message),
                    };
                    let tags = [format!("probe:{probe}")];
                    ctx.service_check("misbehave.probe", status, &tags, &message);
                }
            }
            Mode::Cmdline => {
                let query = ProcessQuery {
                    pids: self.pid.into_iter().collect(),
                    fields: ProcessFields::CMDLINE,
                    ..ProcessQuery::default()
                };
                let snapshot = ctx.processes(&query)?;
                let process = snapshot
                    .processes
                    .first()
                    .ok_or(format!("no process {:?}", self.pid))?;
                let message = process.cmdline.as_deref().unwrap_or_default().join(" ");
                ctx.service_check("misbehave.cmdline", Status::Ok, &[], &message);
            }
        }
        Ok(())
    }
}

/// One probe of mode `network`: what happened, in words.
fn network_probe(probe: &str) -> Result<String, String> {
    use std::io::{Read, Write};
    use std::net::{TcpListener, ToSocketAddrs, UdpSocket};
    use std::time::Duration;

    let (kind, target) = probe.split_once(':').ok_or("probe without a target")?;
    let host_port = || -> Result<(String, u16), String> {
        let (host, port) = target.rsplit_once(':').ok_or("target without a port")?;
        Ok((host.to_string(), port.parse().map_err(|_| "bad port")?))
    };
    let timeout = Duration::from_secs(2);
    match kind {
        "connect" => {
            let (host, port) = host_port()?;
            let mut stream =
                runner_sdk::net::connect(&host, port, timeout).map_err(|e| e.to_string())?;
            stream.write_all(b"hello\n").map_err(|e| e.to_string())?;
            Ok("connected".into())
        }
        "raw" => {
            let address = target.parse().map_err(|_| "bad address")?;
            runner_sdk::net::connect_addr(&address, timeout).map_err(|e| e.to_string())?;
            Ok("connected".into())
        }
        "dns" => {
            let found: Vec<_> = (target, 80)
                .to_socket_addrs()
                .map_err(|e| e.to_string())?
                .collect();
            Ok(format!("resolved to {found:?}"))
        }
        "udp" => {
            let socket = UdpSocket::bind("0.0.0.0:0").map_err(|e| e.to_string())?;
            socket
                .send_to(b"hello", target)
                .map_err(|e| e.to_string())?;
            Ok("sent".into())
        }
        "listen" => {
            let listener = TcpListener::bind(target).map_err(|e| e.to_string())?;
            Ok(format!("listening on {:?}", listener.local_addr()))
        }
        "http" => {
            let response = runner_sdk::http::Request::get(target)
                .timeout(timeout)
                .send()
                .map_err(|e| e.to_string())?;
            Ok(format!("HTTP {}", response.status))
        }
        "hang" => {
            let (host, port) = host_port()?;
            let long = Duration::from_secs(3600);
            let mut stream =
                runner_sdk::net::connect(&host, port, long).map_err(|e| e.to_string())?;
            let mut sink = Vec::new();
            stream.read_to_end(&mut sink).map_err(|e| e.to_string())?;
            Ok(format!("read {} bytes", sink.len()))
        }
        "hold" => {
            let (host, port) = host_port()?;
            let mut held = Vec::new();
            loop {
                match runner_sdk::net::connect(&host, port, timeout) {
                    Ok(stream) => held.push(stream),
                    Err(e) => return Err(format!("held {} connections, then: {e}", held.len())),
                }
                if held.len() >= 100_000 {
                    return Ok(format!("held {} connections", held.len()));
                }
            }
        }
        other => Err(format!("unknown probe kind {other}")),
    }
}

/// Spin until the runner's time limit stops it.
fn spin() -> ! {
    let mut x: u64 = 0;
    loop {
        x = std::hint::black_box(x.wrapping_add(1));
    }
}

fn metric(name: &str, kind: MetricType, tags: Vec<String>) -> Metric {
    Metric {
        name: name.to_string(),
        kind,
        value: 1.0,
        tags,
        hostname: None,
    }
}

/// The WIT case of a query error, as its name.
fn kind(error: &QueryError) -> &'static str {
    match error {
        QueryError::InvalidQuery(_) => "invalid-query",
        QueryError::PidFileNotGranted(_) => "pid-file-not-granted",
        QueryError::PidFileUnreadable(_) => "pid-file-unreadable",
        QueryError::PidFileWithoutPid(_) => "pid-file-without-pid",
        QueryError::SnapshotUnavailable(_) => "snapshot-unavailable",
    }
}

#[allow(unconditional_recursion)] // the point: only the stack limit ends it
fn recurse(depth: u64) -> u64 {
    let pad = std::hint::black_box([depth; 64]);
    recurse(depth + 1) + pad[(depth % 64) as usize]
}

runner_sdk::export_check!(Misbehave);
