//! `runner check postgres` against a real PostgreSQL started by the test
//! (tests/common/postgres.rs): per-database rates between the two runs of
//! `--check-rate`, instance-wide metrics, custom queries, tags, version
//! metadata and `postgres.can_connect`; CRITICAL with a clear message for
//! a wrong password and a stopped server; md5, SCRAM and cleartext
//! authentication; `query_timeout` on a slow custom query.
//!
//! PostgreSQL must be installed (CI installs it): without it these tests
//! fail, they do not skip.

mod common;

use std::time::{Duration, Instant};

use common::postgres::PostgresServer;
use common::{Workspace, all_series, service_checks, stderr, tags};
use serde_json::Value;

/// The series `metric` whose tags include all of `with`: exactly one.
fn series_tagged<'a>(report: &'a Value, metric: &str, with: &[&str]) -> &'a Value {
    let found: Vec<&Value> = all_series(report)
        .into_iter()
        .filter(|s| s["metric"] == metric)
        .filter(|s| with.iter().all(|t| tags(s).iter().any(|st| st == t)))
        .collect();
    assert_eq!(found.len(), 1, "{metric} {with:?}: {found:#?}");
    found[0]
}

/// The last value of the series `metric` tagged with all of `with`.
fn value_tagged(report: &Value, metric: &str, with: &[&str]) -> f64 {
    let points = series_tagged(report, metric, with)["points"]
        .as_array()
        .unwrap();
    points.last().unwrap()[1].as_f64().unwrap()
}

/// The only `postgres.can_connect` of the report.
fn can_connect(report: &Value) -> &Value {
    let found = service_checks(report, "postgres.can_connect");
    assert!(!found.is_empty(), "no postgres.can_connect in {report:#}");
    found.last().unwrap()
}

/// conf.d/postgres.d/conf.yaml with one instance: the server's address
/// and `extra` YAML lines (indented under the instance).
fn conf(server: &PostgresServer, user: &str, password: &str, extra: &str) -> String {
    let mut yaml = format!(
        "init_config:\ninstances:\n  - host: {}\n    port: {}\n    username: {user}\n    password: \"{password}\"\n",
        server.host, server.port
    );
    for line in extra.lines() {
        yaml.push_str("    ");
        yaml.push_str(line);
        yaml.push('\n');
    }
    yaml
}

#[test]
fn metrics_rates_custom_queries_and_the_service_check() {
    let server = PostgresServer::start();
    server.create_database("appdb");
    server.psql(
        "appdb",
        "CREATE TABLE events (id serial, kind text) WITH (autovacuum_enabled = false); \
         INSERT INTO events (kind) SELECT CASE WHEN g % 3 = 0 THEN 'red' ELSE 'blue' END \
         FROM generate_series(1, 9) g; \
         GRANT SELECT, INSERT ON events TO datadog; GRANT USAGE ON SEQUENCE events_id_seq TO datadog;",
    );
    let ws = Workspace::new();
    // The first custom query inserts 100 rows on each run: between the
    // two samples of --check-rate exactly 100 rows are inserted in appdb.
    ws.write(
        "conf.d/postgres.d/conf.yaml",
        conf(
            &server,
            &server.user,
            &server.password,
            "dbname: appdb\n\
             tags: [env:test]\n\
             custom_queries:\n\
             \x20 - metric_prefix: e2e\n\
             \x20   query: WITH i AS (INSERT INTO events (kind) SELECT 'green' FROM generate_series(1, 100) RETURNING 1) SELECT count(*) FROM i\n\
             \x20   columns:\n\
             \x20     - {name: inserted, type: gauge}\n\
             \x20 - query: SELECT kind, count(*) FROM events WHERE kind <> 'green' GROUP BY kind\n\
             \x20   columns:\n\
             \x20     - {name: kind, type: tag}\n\
             \x20     - {name: events, type: gauge}\n\
             \x20   tags: [source:e2e]",
        ),
    );
    const PAUSE: f64 = 2.5;
    let (report, output) = ws.check_json("postgres", &["--check-rate", "--pause", "2500"]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));

    let sc = can_connect(&report);
    assert_eq!(sc["status"], 0, "{sc:#}");
    let sc_tags = tags(sc);
    let port = format!("port:{}", server.port);
    for tag in ["server:127.0.0.1", port.as_str(), "db:appdb", "env:test"] {
        assert!(sc_tags.iter().any(|t| t == tag), "{tag} not in {sc_tags:?}");
    }
    let version_tag = sc_tags
        .iter()
        .find(|t| t.starts_with("postgresql_version:"))
        .expect("postgresql_version tag on the service check")
        .clone();
    assert!(
        version_tag.starts_with("postgresql_version:15"),
        "{version_tag}"
    );

    // Every series carries the version tag and the instance's tags.
    for series in all_series(&report) {
        let t = tags(series);
        assert!(t.contains(&version_tag), "{series:#}");
        assert!(t.iter().any(|x| x == "env:test"), "{series:#}");
    }

    // The rate: 100 rows between two samples at least PAUSE apart (and
    // less than two seconds more).
    let appdb = ["db:appdb", "server:127.0.0.1", port.as_str()];
    let rows = series_tagged(&report, "postgresql.rows_inserted", &appdb);
    assert_eq!(rows["type"], "gauge", "a rate is sent as a gauge: {rows:#}");
    let rate = value_tagged(&report, "postgresql.rows_inserted", &appdb);
    assert!(
        (100.0 / (PAUSE + 2.0)..=100.0 / PAUSE + 1e-9).contains(&rate),
        "rows_inserted rate {rate}/s for 100 rows over ~{PAUSE} s"
    );
    assert!(value_tagged(&report, "postgresql.connections", &appdb) >= 1.0);
    assert!(value_tagged(&report, "postgresql.database_size", &appdb) > 1e6);
    // Other databases have their own series; templates are ignored.
    value_tagged(&report, "postgresql.commits", &["db:postgres"]);
    assert!(
        all_series(&report)
            .iter()
            .all(|s| !tags(s).iter().any(|t| t.starts_with("db:template")))
    );

    // Instance-wide: no db tag.
    let running = series_tagged(&report, "postgresql.running", &["server:127.0.0.1"]);
    assert!(!tags(running).iter().any(|t| t.starts_with("db:")));
    assert_eq!(value_tagged(&report, "postgresql.running", &[]), 1.0);
    assert_eq!(value_tagged(&report, "postgresql.db.count", &[]), 2.0);
    assert_eq!(
        value_tagged(&report, "postgresql.max_connections", &[]),
        100.0
    );
    assert!(value_tagged(&report, "postgresql.uptime", &[]) >= 0.0);
    series_tagged(&report, "postgresql.bgwriter.buffers_alloc", &[]);
    assert_eq!(
        value_tagged(
            &report,
            "postgresql.table.count",
            &["db:appdb", "schema:public"]
        ),
        1.0
    );

    // Custom queries: the value, prefix, query tags and tag columns.
    assert_eq!(
        value_tagged(&report, "e2e.inserted", &["db:appdb", "env:test"]),
        100.0
    );
    assert_eq!(
        value_tagged(&report, "postgresql.events", &["kind:red", "source:e2e"]),
        3.0
    );
    assert_eq!(
        value_tagged(&report, "postgresql.events", &["kind:blue", "source:e2e"]),
        6.0
    );

    // Version metadata.
    let inventories = report[0]["inventories"].as_object().unwrap();
    let metadata = inventories.values().next().expect("version metadata");
    assert_eq!(metadata["version.major"], "15", "{metadata:#}");
    assert_eq!(metadata["version.scheme"], "semver");
    assert_eq!(
        format!(
            "postgresql_version:{}",
            metadata["version.raw"].as_str().unwrap()
        ),
        version_tag
    );
}

#[test]
fn a_wrong_password_is_critical_with_the_servers_message() {
    let server = PostgresServer::start();
    let ws = Workspace::new();
    ws.write(
        "conf.d/postgres.d/conf.yaml",
        conf(&server, &server.user, "not-the-password", ""),
    );
    let (report, output) = ws.check_json("postgres", &[]);
    assert!(!output.status.success(), "a failed run exits non-zero");
    let sc = can_connect(&report);
    assert_eq!(sc["status"], 2, "{sc:#}");
    let message = sc["message"].as_str().unwrap();
    assert_eq!(
        message,
        format!(
            "127.0.0.1:{}/postgres: FATAL: password authentication failed for user \"datadog\" \
             [SQLSTATE 28P01] while connecting",
            server.port
        )
    );
    let sc_tags = tags(sc);
    assert!(sc_tags.iter().any(|t| t == "db:postgres"), "{sc_tags:?}");
    assert_eq!(
        report[0]["runner"]["LastError"].as_str().unwrap(),
        message,
        "the run's error is the same message"
    );
    assert!(all_series(&report).is_empty());
}

#[test]
fn a_stopped_server_is_connection_refused() {
    let mut server = PostgresServer::start();
    server.stop();
    let ws = Workspace::new();
    ws.write(
        "conf.d/postgres.d/conf.yaml",
        conf(
            &server,
            &server.user,
            &server.password,
            "dbname: appdb\nreported_hostname: pg-main",
        ),
    );
    let (report, output) = ws.check_json("postgres", &[]);
    assert!(!output.status.success());
    let sc = can_connect(&report);
    assert_eq!(sc["status"], 2, "{sc:#}");
    assert_eq!(
        sc["message"].as_str().unwrap(),
        format!("127.0.0.1:{}/appdb: connection refused", server.port)
    );
    // Under `reported_hostname`, as the metrics would be.
    assert_eq!(sc["host_name"], "pg-main", "{sc:#}");
}

#[test]
fn md5_scram_and_cleartext_passwords() {
    let server = PostgresServer::start();
    server.create_user("md5_user", "md5-pass", "md5");
    for method in ["md5", "password", "scram-sha-256"] {
        server.set_auth(method);
        let ws = Workspace::new();
        // md5_user's password is stored as md5 (SCRAM cannot use it);
        // datadog's as SCRAM (with `md5` in pg_hba the server asks SCRAM).
        let mut yaml = conf(
            &server,
            &server.user,
            &server.password,
            "name: scram_stored",
        );
        if method != "scram-sha-256" {
            yaml.push_str(&format!(
                "  - host: {}\n    port: {}\n    username: md5_user\n    password: md5-pass\n    name: md5_stored\n",
                server.host, server.port
            ));
        }
        ws.write("conf.d/postgres.d/conf.yaml", yaml);
        let (report, output) = ws.check_json("postgres", &[]);
        assert!(
            output.status.success(),
            "{method}: stderr: {}\n{report:#}",
            stderr(&output)
        );
        let found = service_checks(&report, "postgres.can_connect");
        let expected = if method == "scram-sha-256" { 1 } else { 2 };
        assert_eq!(found.len(), expected, "{method}: {found:#?}");
        for sc in found {
            assert_eq!(sc["status"], 0, "{method}: {sc:#}");
        }
    }
}

#[test]
fn query_timeout_cancels_a_slow_custom_query() {
    let server = PostgresServer::start();
    let ws = Workspace::new();
    ws.write(
        "conf.d/postgres.d/conf.yaml",
        conf(
            &server,
            &server.user,
            &server.password,
            "query_timeout: 500\n\
             custom_queries:\n\
             \x20 - query: SELECT pg_sleep(5), 1\n\
             \x20   columns: [{}, {name: slow, type: gauge}]\n\
             \x20 - query: SELECT 7\n\
             \x20   columns: [{name: fast, type: gauge}]",
        ),
    );
    let started = Instant::now();
    let (report, output) = ws.check_json("postgres", &[]);
    let took = started.elapsed();
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    assert!(took < Duration::from_secs(4), "the run took {took:?}");
    // As in Datadog: the canceled query is logged, the others run and the
    // service check is OK.
    let log = stderr(&output);
    assert!(
        log.contains(
            "Error querying custom query #1: ERROR: canceling statement due to statement timeout \
             [SQLSTATE 57014] (query_timeout is 500 ms)"
        ),
        "stderr: {log}"
    );
    assert_eq!(can_connect(&report)["status"], 0);
    assert!(
        all_series(&report)
            .iter()
            .all(|s| s["metric"] != "postgresql.slow")
    );
    assert_eq!(value_tagged(&report, "postgresql.fast", &[]), 7.0);
}
