//! `runner status`: ask the running daemon (its `/status` at runner.yaml's
//! `listen` address) and print, as `agent status` does, every check
//! instance with its state, runs, submissions, execution times and last
//! error, then loading and configuration errors.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, UNIX_EPOCH};

use clap::Args;
use http_body_util::BodyExt as _;

use crate::config::RunnerConfig;
use crate::status::{InstanceState, InstanceStatus, StatusReport, Tally};

/// How long to wait for the daemon's answer.
const TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print the daemon's JSON report instead of the text.
    #[arg(long)]
    pub json: bool,
    /// Ask the daemon at this address instead of runner.yaml's `listen`.
    #[arg(long, value_name = "ADDRESS")]
    pub listen: Option<SocketAddr>,
}

pub async fn execute(runner: &RunnerConfig, args: &StatusArgs) -> i32 {
    let Some(address) = args.listen.or(runner.listen) else {
        eprintln!(
            "Error: `listen` is empty, so the daemon serves no status to ask\n  \
             hint: set `listen` in runner.yaml (or RUNNER_LISTEN), or pass --listen ADDRESS"
        );
        return 1;
    };
    let token = runner.access_token.as_ref().map(|t| t.expose());
    let body = match tokio::time::timeout(TIMEOUT, fetch(address, "/status", token)).await {
        Ok(Ok(body)) => body,
        Ok(Err(e)) if e == UNAUTHORIZED => {
            let which = if token.is_some() {
                "refused this access token"
            } else {
                "wants an access token"
            };
            eprintln!(
                "Error: the daemon at {address} {which}\n  \
                 hint: set the daemon's `access_token` in this runner.yaml too \
                 (or RUNNER_ACCESS_TOKEN)"
            );
            return 1;
        }
        Ok(Err(e)) => {
            eprintln!(
                "Error: no runner daemon answers at {address} ({e})\n  \
                 hint: start it with `runner run`; if it listens elsewhere, pass --listen \
                 or set `listen` in runner.yaml (RUNNER_LISTEN)"
            );
            return 1;
        }
        Err(_) => {
            eprintln!("Error: the daemon at {address} did not answer within {TIMEOUT:?}");
            return 1;
        }
    };
    if args.json {
        let _ = super::write_stdout(&format!("{body}\n"));
        return 0;
    }
    match serde_json::from_str::<StatusReport>(&body) {
        Ok(report) => {
            let _ = super::write_stdout(&render(&report));
            0
        }
        Err(e) => {
            eprintln!("Error: {address} answered, but not with a runner status report: {e}");
            1
        }
    }
}

/// What [`fetch`] says when the daemon answers 401.
const UNAUTHORIZED: &str = "HTTP 401 Unauthorized";

/// GET `path` from `address` over HTTP/1.1, with `token` as a bearer
/// token when given.
async fn fetch(address: SocketAddr, path: &str, token: Option<&str>) -> Result<String, String> {
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let mut request = http::Request::get(path).header(http::header::HOST, address.to_string());
    if let Some(token) = token {
        request = request.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = request
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    if response.status() == http::StatusCode::UNAUTHORIZED {
        return Err(UNAUTHORIZED.to_string());
    }
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    String::from_utf8(body.to_vec()).map_err(|e| e.to_string())
}

/// The report as text, in the Agent's layout. Strings in it were escaped
/// by the daemon; they are escaped again here in case the answer came
/// from something else.
pub fn render(report: &StatusReport) -> String {
    let esc = |s: &str| crate::escape::for_terminal(s).into_owned();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}",
        banner(&format!("Runner ({})", esc(&report.version)))
    );
    let _ = writeln!(out, "  Status date: {}", date(report.now));
    let _ = writeln!(out, "  Runner start: {}", date(report.started_at));
    let _ = writeln!(out, "  Pid: {}", report.pid);
    let _ = writeln!(out, "  Hostname: {}", esc(&report.hostname));
    let _ = writeln!(out, "  conf.d: {}", esc(&report.conf_d));
    let _ = writeln!(out, "  checks.d: {}", esc(&report.checks_d));
    if let Some(listen) = &report.listen {
        let _ = writeln!(out, "  Metrics: http://{}/metrics", esc(listen));
    }
    let _ = writeln!(
        out,
        "  Check runners: {}, flush interval: {}s, flushes: {}",
        report.check_runners, report.flush_interval_secs, report.flushes
    );
    let reload = &report.reload;
    if reload.count > 0 {
        let state = if reload.last_ok { "OK" } else { "ERROR" };
        let _ = writeln!(
            out,
            "  Reloads: {} (last: {} [{state}])",
            reload.count,
            reload.last_at.map(date).unwrap_or_default()
        );
        if let Some(error) = &reload.last_error {
            let _ = writeln!(out, "    Error: {}", esc(error));
        }
    }
    let _ = writeln!(out, "\n{}", banner("Collector"));
    let _ = writeln!(out, "  Running Checks\n  ==============");
    if report.instances.is_empty() {
        let _ = writeln!(out, "\n    No checks have run yet");
    }
    let mut current_check = None;
    for instance in &report.instances {
        if current_check != Some(&instance.check) {
            let title = esc(&instance.check);
            let _ = writeln!(
                out,
                "\n    {title}\n    {}",
                "-".repeat(title.chars().count())
            );
            current_check = Some(&instance.check);
        }
        write_instance(&mut out, instance);
    }
    if !report.loading_errors.is_empty() {
        let _ = writeln!(out, "\n  Loading Errors\n  ==============");
        for problem in &report.loading_errors {
            let check = problem.check.as_deref().unwrap_or("?");
            let _ = writeln!(
                out,
                "    {}\n    {}",
                esc(check),
                "-".repeat(check.chars().count())
            );
            let _ = writeln!(
                out,
                "      Core Check Loader:\n        {}\n",
                esc(&problem.message)
            );
        }
    }
    if !report.config_errors.is_empty() {
        let _ = writeln!(out, "\n  Config Errors\n  ==============");
        for problem in &report.config_errors {
            let _ = writeln!(out, "    {}", esc(&problem.message));
        }
    }
    if !report.config_warnings.is_empty() {
        let _ = writeln!(out, "\n  Config Warnings\n  ===============");
        for problem in &report.config_warnings {
            let _ = writeln!(out, "    {}", esc(&problem.message));
        }
    }
    out
}

fn write_instance(out: &mut String, i: &InstanceStatus) {
    let esc = |s: &str| crate::escape::for_terminal(s).into_owned();
    let state = match i.state {
        InstanceState::Pending => "PENDING",
        InstanceState::Ok => "OK",
        InstanceState::Warning => "WARNING",
        InstanceState::Error => "ERROR",
    };
    let tally = |t: &Tally| format!("Last Run: {}, Total: {}", t.last, t.total);
    let _ = writeln!(out, "      Instance ID: {} [{state}]", esc(&i.id));
    let _ = writeln!(out, "      Configuration Source: file:{}", esc(&i.source));
    let _ = writeln!(out, "      Total Runs: {}", i.total_runs);
    let _ = writeln!(out, "      Metric Samples: {}", tally(&i.metric_samples));
    let _ = writeln!(out, "      Events: {}", tally(&i.events));
    let _ = writeln!(out, "      Service Checks: {}", tally(&i.service_checks));
    let _ = writeln!(
        out,
        "      Average Execution Time : {}",
        millis(i.average_execution_ms)
    );
    let _ = writeln!(
        out,
        "      Last Execution Date : {}",
        i.last_run.map(date).unwrap_or_else(|| "Never".into())
    );
    let _ = writeln!(
        out,
        "      Last Successful Execution Date : {}",
        i.last_success.map(date).unwrap_or_else(|| "Never".into())
    );
    if i.skipped_runs > 0 {
        let _ = writeln!(
            out,
            "      Skipped Runs: {} (the previous run was still going)",
            i.skipped_runs
        );
    }
    let version = i.metadata.get("version.raw");
    if let Some(version) = version {
        let _ = writeln!(
            out,
            "      metadata:\n        version.raw: {}",
            esc(version)
        );
    }
    if let (InstanceState::Error, Some(error)) = (i.state, &i.last_error) {
        let _ = writeln!(out, "      Error: {}", esc(error));
    }
    for warning in &i.last_warnings {
        let _ = writeln!(out, "      Warning: {}", esc(warning));
    }
    out.push('\n');
}

fn banner(title: &str) -> String {
    let line = "=".repeat(title.chars().count());
    format!("{line}\n{title}\n{line}")
}

/// `123ms`, or `1.234s` from one second up, as the Agent prints durations.
fn millis(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.3}s", ms / 1000.0)
    } else {
        format!("{}ms", ms.round() as u64)
    }
}

/// The Agent's date: `2026-11-24 10:00:00 UTC (1795000000000)`.
fn date(unix: f64) -> String {
    let time = UNIX_EPOCH + Duration::from_secs_f64(unix.max(0.0));
    let text = humantime::format_rfc3339_seconds(time).to_string();
    let millis = time
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    format!(
        "{} UTC ({millis})",
        text.trim_end_matches('Z').replacen('T', " ", 1)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_durations_as_the_agent_prints_them() {
        assert_eq!(
            date(1_700_000_000.25),
            "2023-11-14 22:13:20 UTC (1700000000250)"
        );
        assert_eq!(millis(3.4), "3ms");
        assert_eq!(millis(1234.5), "1.234s");
    }
}
