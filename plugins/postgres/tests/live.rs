//! The wire client against a real PostgreSQL server, natively over a
//! plain `TcpStream`: each authentication method, queries, errors that
//! keep the session and errors that end it, and `statement_timeout`.
//! (The check itself, through the runner, is tested in the workspace's
//! tests/postgres_check.rs.)

#[path = "../../../tests/common/postgres.rs"]
mod pg;

use std::net::TcpStream;
use std::time::Duration;

use pg::PostgresServer;
use postgres::wire::{Client, Error, Startup};

fn connect(
    server: &PostgresServer,
    user: &str,
    password: Option<&str>,
) -> Result<Client<TcpStream>, Error> {
    let stream = TcpStream::connect((server.host.as_str(), server.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    Client::connect(
        stream,
        &Startup {
            user,
            database: "postgres",
            application_name: "datadog-agent",
            password,
        },
    )
}

fn one_value(client: &mut Client<TcpStream>, sql: &str) -> Option<String> {
    let sets = client.simple_query(sql).unwrap();
    sets.last().unwrap().rows[0][0].clone()
}

#[test]
fn every_password_method_and_the_errors_people_see() {
    let server = PostgresServer::start();
    server.create_user("md5_user", "md5-pass", "md5");

    // SCRAM-SHA-256 (initdb's default and the monitoring user's).
    let mut client = connect(&server, &server.user, Some(&server.password)).unwrap();
    assert!(
        client
            .parameter("server_version")
            .unwrap()
            .starts_with(|c: char| c.is_ascii_digit())
    );
    assert_eq!(
        one_value(
            &mut client,
            "SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()"
        ),
        Some("datadog-agent".to_string())
    );
    // Several statements: one result each; NULL comes back as None.
    let sets = client
        .simple_query(
            "SET statement_timeout = 5000; SELECT 1 AS a, NULL::int AS b UNION ALL SELECT 2, 3",
        )
        .unwrap();
    assert_eq!(sets.len(), 2);
    assert_eq!(sets[0].tag, "SET");
    assert_eq!(sets[1].columns, ["a", "b"]);
    assert_eq!(
        sets[1].rows,
        [
            vec![Some("1".to_string()), None],
            vec![Some("2".to_string()), Some("3".to_string())]
        ]
    );
    // An ERROR keeps the session usable.
    match client.simple_query("SELECT * FROM no_such_table") {
        Err(Error::Server(e)) => {
            assert_eq!(e.code, "42P01");
            assert_eq!(e.severity, "ERROR");
            assert!(e.message.contains("no_such_table"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        one_value(&mut client, "SELECT 40 + 2"),
        Some("42".to_string())
    );
    // statement_timeout cancels, and the session goes on.
    client.simple_query("SET statement_timeout = 200").unwrap();
    match client.simple_query("SELECT pg_sleep(5)") {
        Err(Error::Server(e)) => assert!(e.is_canceled(), "{e}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        one_value(&mut client, "SELECT 'still here'"),
        Some("still here".to_string())
    );
    drop(client);

    // A wrong password: the server's FATAL, as people know it.
    match connect(&server, &server.user, Some("wrong")) {
        Err(Error::Server(e)) => {
            assert_eq!(e.code, "28P01");
            assert_eq!(
                e.to_string(),
                format!(
                    "FATAL: password authentication failed for user \"{}\" [SQLSTATE 28P01]",
                    server.user
                )
            );
        }
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("a wrong password was accepted"),
    }
    // No password configured.
    match connect(&server, &server.user, None) {
        Err(Error::Auth(message)) => assert!(message.contains("none is configured"), "{message}"),
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("no password was accepted"),
    }

    // md5 (the method, and a password stored as md5).
    server.set_auth("md5");
    let mut client = connect(&server, "md5_user", Some("md5-pass")).unwrap();
    assert_eq!(
        one_value(&mut client, "SELECT current_user"),
        Some("md5_user".to_string())
    );
    drop(client);
    // md5 in pg_hba with a SCRAM-stored password: the server asks SCRAM.
    let mut client = connect(&server, &server.user, Some(&server.password)).unwrap();
    assert_eq!(one_value(&mut client, "SELECT 1"), Some("1".to_string()));
    drop(client);
    assert!(matches!(
        connect(&server, "md5_user", Some("nope")),
        Err(Error::Server(e)) if e.code == "28P01"
    ));

    // Cleartext.
    server.set_auth("password");
    let mut client = connect(&server, &server.user, Some(&server.password)).unwrap();
    assert_eq!(one_value(&mut client, "SELECT 1"), Some("1".to_string()));
    drop(client);

    // A session the server ends: FATAL, and the client says it is done.
    let mut client = connect(&server, &server.user, Some(&server.password)).unwrap();
    server.psql(
        "postgres",
        &format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{}'",
            server.user
        ),
    );
    let error = client.simple_query("SELECT 1").unwrap_err();
    assert!(error.is_fatal(), "{error}");
    assert!(matches!(
        client.simple_query("SELECT 1"),
        Err(Error::Closed)
    ));
}

mod collection {
    //! The whole collection (PostgresCheck::collect) against a real
    //! server, over a native TcpStream instead of the runner's.

    use super::pg::PostgresServer;
    use postgres::PostgresCheck;
    use postgres::config::{Config, InitConfig, Settings};
    use postgres::metrics::{Kind, Sample};
    use runner_sdk::net::{ConnectError, ConnectErrorKind};
    use runner_sdk::serde_json::{self, Value, json};
    use std::io;
    use std::net::{TcpStream, ToSocketAddrs};
    use std::time::Duration;

    fn std_connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, ConnectError> {
        let error = |e: io::Error| ConnectError {
            endpoint: format!("{host}:{port}"),
            kind: match e.kind() {
                io::ErrorKind::ConnectionRefused => ConnectErrorKind::Refused,
                io::ErrorKind::TimedOut => ConnectErrorKind::Timeout,
                _ => ConnectErrorKind::Other,
            },
            detail: e.to_string(),
        };
        let address = (host, port)
            .to_socket_addrs()
            .map_err(error)?
            .next()
            .unwrap();
        let stream = TcpStream::connect_timeout(&address, timeout).map_err(error)?;
        stream.set_read_timeout(Some(timeout)).unwrap();
        Ok(stream)
    }

    fn check(server: &PostgresServer, extra: Value) -> PostgresCheck {
        let mut instance = json!({
            "host": server.host, "port": server.port,
            "username": server.user, "password": server.password,
        });
        for (key, value) in extra.as_object().unwrap() {
            instance[key] = value.clone();
        }
        let config: Config = serde_json::from_value(instance).unwrap();
        let settings = Settings::new(config, &InitConfig::default()).unwrap();
        PostgresCheck::new(settings, std_connect)
    }

    fn find<'a>(samples: &'a [Sample], name: &str, tags: &[&str]) -> Vec<&'a Sample> {
        samples
            .iter()
            .filter(|s| s.name == name && tags.iter().all(|t| s.tags.iter().any(|st| st == t)))
            .collect()
    }

    fn one<'a>(samples: &'a [Sample], name: &str, tags: &[&str]) -> &'a Sample {
        let found = find(samples, name, tags);
        assert_eq!(found.len(), 1, "{name} {tags:?}: {found:#?}");
        found[0]
    }

    #[test]
    fn a_run_against_a_real_server() {
        let mut server = PostgresServer::start();
        server.create_database("appdb");
        server.psql(
            "appdb",
            "CREATE TABLE items (id int, kind text); CREATE SCHEMA extra; \
             CREATE TABLE extra.t1 (x int); CREATE TABLE extra.t2 (x int); \
             INSERT INTO items SELECT g, CASE WHEN g % 2 = 0 THEN 'even' ELSE 'odd' END \
             FROM generate_series(1, 7) g; GRANT SELECT ON items TO datadog;",
        );
        let mut pg = check(
            &server,
            json!({
                "dbname": "appdb",
                "collect_activity_metrics": true,
                "custom_queries": [{
                    "query": "SELECT kind, count(*) FROM items GROUP BY kind",
                    "columns": [{"name": "kind", "type": "tag"}, {"name": "items", "type": "gauge"}],
                    "tags": ["source:test"],
                }],
            }),
        );
        let report = pg.collect();
        assert_eq!(report.failure, None, "{:?}", report.logs);
        assert!(report.logs.is_empty(), "{:?}", report.logs);
        let samples = &report.samples;
        let raw = report
            .metadata
            .iter()
            .find(|(k, _)| *k == "version.raw")
            .unwrap()
            .1
            .clone();
        let version_tag = format!("postgresql_version:{raw}");
        let port_tag = format!("port:{}", server.port);
        let base = ["server:127.0.0.1", port_tag.as_str(), version_tag.as_str()];

        // Per database, every database but the templates.
        let conn = one(
            samples,
            "postgresql.connections",
            &[&base[..], &["db:appdb"]].concat(),
        );
        // This check's own session.
        assert_eq!(conn.kind, Kind::Gauge);
        assert!(conn.value >= 1.0, "{conn:?}");
        one(samples, "postgresql.connections", &["db:postgres"]);
        assert!(find(samples, "postgresql.connections", &["db:template1"]).is_empty());
        let inserted = one(samples, "postgresql.rows_inserted", &["db:appdb"]);
        assert_eq!(inserted.kind, Kind::Rate);
        assert!(inserted.value >= 7.0, "{inserted:?}");
        assert!(one(samples, "postgresql.database_size", &["db:appdb"]).value > 1e6);
        assert!(one(samples, "postgresql.before_xid_wraparound", &["db:appdb"]).value > 1e9);
        assert_eq!(one(samples, "postgresql.db.count", &base).value, 2.0);
        assert!(find(samples, "postgresql.db.count", &["db:appdb"]).is_empty());
        // Instance-wide: no db tag.
        assert_eq!(one(samples, "postgresql.running", &base).value, 1.0);
        let max = one(samples, "postgresql.max_connections", &base);
        assert_eq!(max.value, 100.0);
        assert!(!max.tags.iter().any(|t| t.starts_with("db:")));
        let pct = one(samples, "postgresql.percent_usage_connections", &base).value;
        assert!(pct > 0.0 && pct < 1.0, "{pct}");
        assert!(one(samples, "postgresql.uptime", &base).value >= 0.0);
        assert_eq!(
            one(samples, "postgresql.bgwriter.checkpoints_timed", &base).kind,
            Kind::MonotonicCount
        );
        one(samples, "postgresql.archiver.archived_count", &base);
        // A primary: no replication delay.
        assert!(find(samples, "postgresql.replication_delay", &[]).is_empty());
        // Tables per schema of dbname, with its db tag.
        let db_tags = [&base[..], &["db:appdb"]].concat();
        assert_eq!(
            one(
                samples,
                "postgresql.table.count",
                &[&db_tags[..], &["schema:public"]].concat()
            )
            .value,
            1.0
        );
        assert_eq!(
            one(samples, "postgresql.table.count", &["schema:extra"]).value,
            2.0
        );
        // Activity: this session, as datadog-agent.
        let open = find(
            samples,
            "postgresql.transactions.open",
            &["app:datadog-agent", "db:appdb"],
        );
        assert_eq!(open.len(), 1, "{samples:#?}");
        // Custom query: instance tags, db:dbname, the query's tags.
        let odd = one(
            samples,
            "postgresql.items",
            &[&db_tags[..], &["kind:odd", "source:test"]].concat(),
        );
        assert_eq!((odd.kind, odd.value), (Kind::Gauge, 4.0));
        assert_eq!(one(samples, "postgresql.items", &["kind:even"]).value, 3.0);
        // The service check's tags.
        let mut sc_tags = report.service_check_tags.clone();
        sc_tags.sort();
        let mut expected = db_tags.clone();
        expected.sort();
        assert_eq!(sc_tags, expected);

        // The session is kept; a server restart between runs is not a
        // failure: the dead session is replaced.
        server.stop();
        server.start_again();
        let report = pg.collect();
        assert_eq!(report.failure, None, "{:?}", report.logs);

        // Stopped: connection refused, named with host:port/db.
        server.stop();
        let report = pg.collect();
        assert_eq!(
            report.failure.as_deref(),
            Some(format!("127.0.0.1:{}/appdb: connection refused", server.port).as_str())
        );
        assert!(report.samples.is_empty());
        // Without the version, the service check has the base tags only.
        assert_eq!(
            report.service_check_tags,
            ["server:127.0.0.1", port_tag.as_str(), "db:appdb"]
        );
    }

    #[test]
    fn wrong_password_and_query_timeout() {
        let server = PostgresServer::start();
        let mut pg = check(&server, json!({"password": "not-it"}));
        let report = pg.collect();
        let message = report.failure.unwrap();
        assert_eq!(
            message,
            format!(
                "127.0.0.1:{}/postgres: FATAL: password authentication failed for user \"datadog\" \
                 [SQLSTATE 28P01] while connecting",
                server.port
            )
        );

        let mut pg = check(
            &server,
            json!({
                "query_timeout": 300,
                "custom_queries": [
                    {"query": "SELECT pg_sleep(3), 1", "columns": [{}, {"name": "slow", "type": "gauge"}]},
                    {"query": "SELECT 5", "columns": [{"name": "fast", "type": "gauge"}]},
                ],
            }),
        );
        let started = std::time::Instant::now();
        let report = pg.collect();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        // As Datadog: the canceled query is logged, the run goes on.
        assert_eq!(report.failure, None);
        let logs: Vec<&str> = report.logs.iter().map(|(_, m)| m.as_str()).collect();
        assert_eq!(
            logs,
            [
                "Error querying custom query #1: ERROR: canceling statement due to statement timeout \
              [SQLSTATE 57014] (query_timeout is 300 ms)"
            ]
        );
        assert!(find(&report.samples, "postgresql.slow", &[]).is_empty());
        assert_eq!(one(&report.samples, "postgresql.fast", &[]).value, 5.0);
    }
}
