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
