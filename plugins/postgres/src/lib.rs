//! The postgres check: Datadog's postgres integration over the Postgres
//! wire protocol. Per-database activity from `pg_stat_database` (commits,
//! rows, blocks, deadlocks, sizes), connections against
//! `max_connections`, background writer and archiver counters, uptime,
//! tables per schema, replication delay on standbys, optionally
//! `pg_stat_activity`, and custom queries; the `postgres.can_connect`
//! service check and the server's version as metadata.
//!
//! Layout: [`config`] parses the instance, [`wire`] is the protocol client
//! (startup, password/md5/SCRAM authentication, simple queries),
//! [`metrics`] holds the queries per server version and turns rows into
//! samples, [`version`] parses `server_version`. `run` keeps one session
//! open between runs and reconnects when it breaks.

pub mod config;
pub mod metrics;
pub mod version;
pub mod wire;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use runner_sdk::bindings::runner::check::reporting;
use runner_sdk::net::{ConnectError, ConnectErrorKind};
use runner_sdk::{Check, Context, EndpointKey, Error, Level, Metric, MetricType, Status};

use config::{Config, InitConfig, Settings};
use metrics::{Kind, RunTags, Sample, Scope};
use version::ServerVersion;
use wire::{Client, ResultSet, Startup};

/// The service check, as Datadog names it.
pub const SERVICE_CHECK: &str = "postgres.can_connect";

/// Opens the TCP connection: the runner's [`runner_sdk::net::connect`]
/// in the sandbox; native tests pass their own.
pub type Connector = fn(&str, u16, Duration) -> Result<TcpStream, ConnectError>;

/// One configured instance, and its session with the server.
pub struct PostgresCheck {
    settings: Settings,
    connector: Connector,
    client: Option<Client<TcpStream>>,
    /// When each custom query last ran (for `collection_interval`).
    custom_last_run: Vec<Option<Instant>>,
}

/// What one run gathered, before it is handed to the runner: plain data,
/// so the whole collection can be tested natively.
#[derive(Debug, Default)]
pub struct Report {
    pub samples: Vec<Sample>,
    /// `version.*` entries.
    pub metadata: Vec<(&'static str, String)>,
    /// Log lines (warnings about skipped queries, custom query errors).
    pub logs: Vec<(Level, String)>,
    /// `postgres.can_connect`: its tags, and the failure message (None:
    /// OK).
    pub service_check_tags: Vec<String>,
    pub failure: Option<String>,
}

/// Why a run failed. [`Failure::describe`] is the cause; the service
/// check and the run error prefix it with `host:port/dbname`.
#[derive(Debug)]
pub enum Failure {
    /// No TCP connection.
    Connect(ConnectError),
    /// The session failed: authentication refused, the server gone or
    /// silent, or an error that ends the session.
    Session {
        /// What was going on: `connecting`, `running the pg_stat_database
        /// query`, ...
        during: String,
        error: wire::Error,
        /// The wait that ran out, for timeouts.
        timeout: Duration,
    },
    /// `server_version` does not parse.
    Version(String),
}

impl Failure {
    /// The cause, for people: `connection refused`, `FATAL: password
    /// authentication failed for user "x" [SQLSTATE 28P01] while
    /// connecting`, `no answer from the server within 6000 ms while ...`.
    pub fn describe(&self) -> String {
        match self {
            Failure::Connect(error) => match error.kind {
                ConnectErrorKind::Refused => "connection refused".to_string(),
                ConnectErrorKind::Timeout => "timed out connecting".to_string(),
                ConnectErrorKind::Resolve => format!("cannot resolve the host: {}", error.detail),
                ConnectErrorKind::Denied => {
                    format!("connection denied by the runner: {}", error.detail)
                }
                ConnectErrorKind::Other => format!("cannot connect: {}", error.detail),
            },
            Failure::Session {
                during,
                error,
                timeout,
            } => {
                if error.is_timeout() {
                    format!(
                        "no answer from the server within {} ms while {during}",
                        timeout.as_millis()
                    )
                } else {
                    format!("{error} while {during}")
                }
            }
            Failure::Version(raw) => format!("cannot determine which version is {raw}"),
        }
    }
}

impl Check for PostgresCheck {
    type Config = Config;
    type InitConfig = InitConfig;
    const NAME: &'static str = "postgres";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    /// The runner grants TCP to `host:port` (and only there).
    const ENDPOINT_KEYS: &'static [EndpointKey] = &[EndpointKey::HostPort {
        host: "host",
        port: "port",
        default_host: Some("localhost"),
        default_port: Some(5432),
    }];

    fn configure(init_config: InitConfig, config: Config) -> Result<Self, Error> {
        let settings = Settings::new(config, &init_config)?;
        // Logged here, the runner reports them as configuration warnings.
        for warning in &settings.warnings {
            runner_sdk::log(Level::Warn, warning);
        }
        Ok(PostgresCheck::new(settings, runner_sdk::net::connect))
    }

    fn run(&mut self, ctx: &mut Context) -> Result<(), Error> {
        let report = self.collect();
        for (level, message) in &report.logs {
            ctx.log(*level, message);
        }
        for (key, value) in &report.metadata {
            ctx.set_metadata(key, value);
        }
        for sample in &report.samples {
            self.submit(ctx, sample);
        }
        let (status, message) = match &report.failure {
            None => (Status::Ok, ""),
            Some(message) => (Status::Critical, message.as_str()),
        };
        self.service_check(ctx, status, &report.service_check_tags, message);
        match report.failure {
            None => Ok(()),
            Some(message) => Err(message.into()),
        }
    }
}

impl PostgresCheck {
    /// An instance that connects with `connector`.
    pub fn new(settings: Settings, connector: Connector) -> PostgresCheck {
        PostgresCheck {
            custom_last_run: vec![None; settings.queries.len()],
            settings,
            connector,
            client: None,
        }
    }

    /// One run: everything to submit, and the service check. A failed
    /// session is dropped; the next run reconnects.
    pub fn collect(&mut self) -> Report {
        let mut report = Report::default();
        let mut extra_tags = Vec::new();
        let result = self.collect_into(&mut report, &mut extra_tags);
        report.service_check_tags = RunTags::new(&self.settings, &extra_tags).with_db;
        if let Err(failure) = result {
            self.client = None;
            report.failure = Some(format!(
                "{}: {}",
                self.settings.target.describe(),
                failure.describe()
            ));
        }
        report
    }

    /// The collection proper. `extra_tags` gets `postgresql_version:`
    /// (and `replication_role:`) as soon as they are known, for the
    /// service check too.
    fn collect_into(
        &mut self,
        report: &mut Report,
        extra_tags: &mut Vec<String>,
    ) -> Result<(), Failure> {
        let raw = self.server_version()?;
        let version = ServerVersion::parse(&raw).ok_or_else(|| Failure::Version(raw.clone()))?;
        report.metadata = version.metadata();
        extra_tags.push(format!("postgresql_version:{raw}"));
        if self.settings.tag_replication_role {
            let sets = self.query("SELECT pg_is_in_recovery()", "reading the replication role")?;
            if let Some(Some(standby)) = first_value(&sets) {
                let role = if standby == "t" { "standby" } else { "master" };
                extra_tags.push(format!("replication_role:{role}"));
            }
        }
        let tags = RunTags::new(&self.settings, extra_tags);
        report.samples.push(Sample {
            name: format!("{}.running", metrics::NAMESPACE),
            kind: Kind::Gauge,
            value: 1.0,
            tags: tags.without_db.clone(),
        });
        if !self.settings.only_custom_queries {
            let scopes = metrics::scopes(&self.settings, &version);
            let results = self.run_scopes(report, &scopes)?;
            for (scope, result) in scopes.iter().zip(results) {
                let Some(set) = result else { continue };
                match metrics::scope_samples(scope, &set, &tags) {
                    Ok(samples) => report.samples.extend(samples),
                    Err(problem) => report.logs.push((
                        Level::Warn,
                        format!(
                            "the {} query returned unexpected rows ({problem}); its metrics are \
                             not sent",
                            scope.name
                        ),
                    )),
                }
            }
        }
        self.custom_queries(report, &tags)
    }

    /// `SHOW server_version`, the first query of every run (as Datadog's
    /// smoke test). A session kept from an earlier run that turns out to
    /// be dead (server restarted, connection dropped) is replaced once.
    fn server_version(&mut self) -> Result<String, Failure> {
        const SQL: &str = "SHOW server_version";
        const DURING: &str = "reading the server version";
        if self.client.is_some() {
            match self.query(SQL, DURING) {
                Ok(sets) => return version_value(&sets),
                Err(Failure::Session { error, .. }) if error.is_fatal() => self.client = None,
                Err(other) => return Err(other),
            }
        }
        self.client = Some(self.connect()?);
        let sets = self.query(SQL, DURING)?;
        version_value(&sets)
    }

    /// A new session: TCP through the runner, startup and
    /// authentication, then `SET statement_timeout` as Datadog does.
    fn connect(&self) -> Result<Client<TcpStream>, Failure> {
        let settings = &self.settings;
        let timeout = settings.io_timeout();
        let target = &settings.target;
        let stream =
            (self.connector)(&target.host, target.port, timeout).map_err(Failure::Connect)?;
        let startup = Startup {
            user: &settings.username,
            database: &target.dbname,
            application_name: &settings.application_name,
            password: settings.password.as_deref(),
        };
        let mut client = Client::connect(stream, &startup).map_err(|error| Failure::Session {
            during: "connecting".to_string(),
            error,
            timeout,
        })?;
        let set_timeout = format!("SET statement_timeout = {}", settings.query_timeout);
        client
            .simple_query(&set_timeout)
            .map_err(|error| Failure::Session {
                during: "setting statement_timeout".to_string(),
                error,
                timeout,
            })?;
        Ok(client)
    }

    /// Run `sql` on the session. Any error is a [`Failure`]: use it where
    /// an error ends the run.
    fn query(&mut self, sql: &str, during: &str) -> Result<Vec<ResultSet>, Failure> {
        let timeout = self.settings.io_timeout();
        let client = self.client.as_mut().ok_or_else(|| Failure::Session {
            during: during.to_string(),
            error: wire::Error::Closed,
            timeout,
        })?;
        client.simple_query(sql).map_err(|error| Failure::Session {
            during: during.to_string(),
            error,
            timeout,
        })
    }

    /// The built-in queries, in one round trip when they all succeed.
    /// When one fails (a view the user may not read, a function missing
    /// on this server), each runs on its own and the failing ones are
    /// logged and skipped, as Datadog does. Errors that end the session
    /// end the run.
    fn run_scopes(
        &mut self,
        report: &mut Report,
        scopes: &[Scope],
    ) -> Result<Vec<Option<ResultSet>>, Failure> {
        let batch: Vec<&str> = scopes.iter().map(|s| s.sql.as_str()).collect();
        match self.query(&batch.join(";\n"), "running the metric queries") {
            Ok(sets) if sets.len() == scopes.len() => {
                return Ok(sets.into_iter().map(Some).collect());
            }
            Ok(_) => {}
            Err(Failure::Session { error, .. }) if !error.is_fatal() => {}
            Err(other) => return Err(other),
        }
        let mut results = Vec::with_capacity(scopes.len());
        for scope in scopes {
            let during = format!("running the {} query", scope.name);
            match self.query(&scope.sql, &during) {
                Ok(mut sets) => results.push(sets.pop()),
                Err(Failure::Session { error, .. }) if !error.is_fatal() => {
                    report.logs.push((
                        Level::Warn,
                        format!(
                            "Not all metrics may be available: the {} query failed: {error}",
                            scope.name
                        ),
                    ));
                    results.push(None);
                }
                Err(other) => return Err(other),
            }
        }
        Ok(results)
    }

    /// Custom queries due this run. A query the server rejects (or
    /// cancels at `query_timeout`) is logged and skipped, as Datadog
    /// does; the others still run.
    fn custom_queries(&mut self, report: &mut Report, tags: &RunTags) -> Result<(), Failure> {
        let now = Instant::now();
        for index in 0..self.settings.queries.len() {
            let query = &self.settings.queries[index];
            if let (Some(interval), Some(last)) = (query.interval, self.custom_last_run[index])
                && now.duration_since(last) < interval
            {
                continue;
            }
            self.custom_last_run[index] = Some(now);
            let (name, sql) = (query.name.clone(), query.sql.clone());
            let sets = match self.query(&sql, &format!("running {name}")) {
                Ok(sets) => sets,
                Err(Failure::Session { error, .. }) if !error.is_fatal() => {
                    let why = match &error {
                        wire::Error::Server(e) if e.is_canceled() => format!(
                            "{error} (query_timeout is {} ms)",
                            self.settings.query_timeout
                        ),
                        _ => error.to_string(),
                    };
                    report
                        .logs
                        .push((Level::Error, format!("Error querying {name}: {why}")));
                    continue;
                }
                Err(other) => return Err(other),
            };
            let query = &self.settings.queries[index];
            let (samples, problem) = metrics::custom_samples(query, &sets, tags);
            if let Some(problem) = problem {
                report.logs.push((Level::Error, format!("Query {problem}")));
            }
            report.samples.extend(samples);
        }
        Ok(())
    }

    fn submit(&self, ctx: &mut Context, sample: &Sample) {
        let kind = match sample.kind {
            Kind::Gauge => MetricType::Gauge,
            Kind::Count => MetricType::Count,
            Kind::MonotonicCount => MetricType::MonotonicCount,
            Kind::Rate => MetricType::Rate,
            Kind::Histogram => MetricType::Histogram,
        };
        ctx.submit(Metric {
            name: sample.name.clone(),
            kind,
            value: sample.value,
            tags: sample.tags.clone(),
            hostname: self.settings.hostname.clone(),
        });
    }

    /// `postgres.can_connect`, under the metrics' host name.
    fn service_check(&self, ctx: &mut Context, status: Status, tags: &[String], message: &str) {
        match &self.settings.hostname {
            None => ctx.service_check(SERVICE_CHECK, status, tags, message),
            // The SDK's helper has no host name: submit the record itself.
            Some(hostname) => reporting::submit_service_checks(&[reporting::ServiceCheck {
                name: SERVICE_CHECK.to_string(),
                status,
                message: message.to_string(),
                tags: tags.to_vec(),
                hostname: Some(hostname.clone()),
            }]),
        }
    }
}

/// The first column of the first row of the last result.
fn first_value(sets: &[ResultSet]) -> Option<Option<String>> {
    sets.last()?.rows.first()?.first().cloned()
}

fn version_value(sets: &[ResultSet]) -> Result<String, Failure> {
    match first_value(sets) {
        Some(Some(raw)) => Ok(raw),
        _ => Err(Failure::Version(
            "(no answer to SHOW server_version)".to_string(),
        )),
    }
}

runner_sdk::export_check!(PostgresCheck);

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    fn session(error: wire::Error, during: &str) -> String {
        Failure::Session {
            during: during.to_string(),
            error,
            timeout: Duration::from_millis(6000),
        }
        .describe()
    }

    #[test]
    fn failures_name_the_cause() {
        let refused = Failure::Connect(ConnectError {
            endpoint: "127.0.0.1:5432".into(),
            kind: ConnectErrorKind::Refused,
            detail: "Connection refused (os error 111)".into(),
        });
        assert_eq!(refused.describe(), "connection refused");
        let denied = Failure::Connect(ConnectError {
            endpoint: "db:5432".into(),
            kind: ConnectErrorKind::Resolve,
            detail: "db:5432 is not granted".into(),
        });
        assert_eq!(
            denied.describe(),
            "cannot resolve the host: db:5432 is not granted"
        );
        let auth = wire::Error::Server(Box::new(wire::DbError {
            severity: "FATAL".into(),
            code: "28P01".into(),
            message: "password authentication failed for user \"dd\"".into(),
            ..wire::DbError::default()
        }));
        assert_eq!(
            session(auth, "connecting"),
            "FATAL: password authentication failed for user \"dd\" [SQLSTATE 28P01] while connecting"
        );
        let timeout = wire::Error::Io(io::Error::new(io::ErrorKind::WouldBlock, "would block"));
        assert_eq!(
            session(timeout, "running custom query #1"),
            "no answer from the server within 6000 ms while running custom query #1"
        );
        assert_eq!(
            session(wire::Error::Closed, "reading the server version"),
            "the server closed the connection while reading the server version"
        );
        assert_eq!(
            Failure::Version("weird".into()).describe(),
            "cannot determine which version is weird"
        );
    }

    #[test]
    fn version_comes_from_show() {
        let sets = vec![ResultSet {
            columns: vec!["server_version".into()],
            rows: vec![vec![Some("15.14 (Debian 15.14-0+deb12u1)".into())]],
            tag: "SHOW".into(),
        }];
        assert_eq!(
            version_value(&sets).unwrap(),
            "15.14 (Debian 15.14-0+deb12u1)"
        );
        assert!(version_value(&[]).is_err());
    }
}
