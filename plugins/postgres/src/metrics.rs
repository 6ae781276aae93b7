//! What the check asks the server, by server version, and how result rows
//! become samples: Datadog's postgres queries (util.py, metrics_cache.py)
//! and custom queries, over plain data so they are tested natively.

use crate::config::{ColumnKind, Query, Settings};
use crate::version::ServerVersion;
use crate::wire::ResultSet;

/// How a sample is aggregated (the SDK's metric types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    Count,
    MonotonicCount,
    Rate,
    Histogram,
}

/// One metric sample to submit.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub kind: Kind,
    pub value: f64,
    pub tags: Vec<String>,
}

/// The tags of one run: Datadog's `tags_without_db` (server, port,
/// version) and `tags` (those plus `db:<dbname>`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunTags {
    pub without_db: Vec<String>,
    pub with_db: Vec<String>,
}

impl RunTags {
    /// `extra`: `postgresql_version:` (once known) and
    /// `replication_role:`.
    pub fn new(settings: &Settings, extra: &[String]) -> RunTags {
        let mut without_db = settings.base_tags.clone();
        without_db.extend(extra.iter().cloned());
        let mut with_db = settings.base_tags.clone();
        with_db.push(format!("db:{}", settings.target.dbname));
        with_db.extend(extra.iter().cloned());
        RunTags {
            without_db,
            with_db,
        }
    }
}

/// How a scope's rows become samples beyond the column mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mapping {
    /// Leading descriptor columns become tags, the others metrics.
    Columns,
    /// As `Columns`, plus `db.count`: the number of rows.
    PerDatabase,
    /// `SHOW data_checksums`: `checksums.enabled` with `enabled:true|false`.
    Checksums,
}

/// One of the built-in queries ("scopes" in Datadog's code).
#[derive(Debug, Clone, PartialEq)]
pub struct Scope {
    /// Named in warnings when the query fails.
    pub name: &'static str,
    pub sql: String,
    /// Tag names of the leading columns (`db`, `schema`, ...).
    pub descriptors: Vec<&'static str>,
    /// Metric names (without `postgresql.`) and types of the other
    /// columns, in order.
    pub metrics: Vec<(&'static str, Kind)>,
    /// Tagged with the instance's `db:<dbname>` (Datadog's
    /// `use_global_db_tag`), else only with the descriptors' `db:`.
    pub with_db_tag: bool,
    pub mapping: Mapping,
}

/// The metric namespace of the built-in metrics.
pub const NAMESPACE: &str = "postgresql";

/// SQL string literal: `'...'` with quotes doubled.
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `pg_stat_database` joined to `pg_database`, one row per database.
pub fn per_database(settings: &Settings, version: &ServerVersion) -> Scope {
    use Kind::*;
    let mut columns: Vec<(&str, &'static str, Kind)> = vec![
        ("numbackends", "connections", Gauge),
        ("xact_commit", "commits", Rate),
        ("xact_rollback", "rollbacks", Rate),
        ("blks_read", "disk_read", Rate),
        ("blks_hit", "buffer_hit", Rate),
        ("tup_returned", "rows_returned", Rate),
        ("tup_fetched", "rows_fetched", Rate),
        ("tup_inserted", "rows_inserted", Rate),
        ("tup_updated", "rows_updated", Rate),
        ("tup_deleted", "rows_deleted", Rate),
        ("2^31 - age(datfrozenxid)", "before_xid_wraparound", Gauge),
    ];
    if version.at_least(9, 2) {
        columns.extend([
            ("deadlocks", "deadlocks", Rate),
            // Datadog's separate pg_stat_database query, from the same row.
            ("deadlocks", "deadlocks.count", MonotonicCount),
            ("temp_bytes", "temp_bytes", Rate),
            ("temp_files", "temp_files", Rate),
            ("blk_read_time", "blk_read_time", MonotonicCount),
            ("blk_write_time", "blk_write_time", MonotonicCount),
        ]);
    }
    if version.at_least(14, 0) {
        columns.extend([
            ("session_time", "sessions.session_time", MonotonicCount),
            ("active_time", "sessions.active_time", MonotonicCount),
            (
                "idle_in_transaction_time",
                "sessions.idle_in_transaction_time",
                MonotonicCount,
            ),
            ("sessions", "sessions.count", MonotonicCount),
            ("sessions_abandoned", "sessions.abandoned", MonotonicCount),
            ("sessions_fatal", "sessions.fatal", MonotonicCount),
            ("sessions_killed", "sessions.killed", MonotonicCount),
        ]);
    }
    if settings.collect_database_size_metrics {
        columns.push(("pg_database_size(psd.datname)", "database_size", Gauge));
    }
    if settings.collect_checksum_metrics && version.at_least(12, 0) {
        columns.push((
            "checksum_failures",
            "checksums.checksum_failures",
            MonotonicCount,
        ));
    }
    let select: Vec<&str> = columns.iter().map(|c| c.0).collect();
    let mut sql = format!(
        "SELECT psd.datname, {} FROM pg_stat_database psd \
         JOIN pg_database pd ON psd.datname = pd.datname",
        select.join(", ")
    );
    let mut conditions: Vec<String> = settings
        .ignore_databases
        .iter()
        .map(|db| format!("psd.datname NOT ILIKE {}", literal(db)))
        .collect();
    if settings.dbstrict {
        conditions.push(format!(
            "psd.datname IN ({})",
            literal(&settings.target.dbname)
        ));
    }
    if !conditions.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
    }
    Scope {
        name: "pg_stat_database",
        sql,
        descriptors: vec!["db"],
        metrics: columns.iter().map(|c| (c.1, c.2)).collect(),
        with_db_tag: false,
        mapping: Mapping::PerDatabase,
    }
}

/// The built-in queries for this server, in the order they run.
pub fn scopes(settings: &Settings, version: &ServerVersion) -> Vec<Scope> {
    use Kind::*;
    let mut scopes = vec![per_database(settings, version)];
    let plain = |name, sql: &str, metrics: Vec<(&'static str, Kind)>| Scope {
        name,
        sql: sql.to_string(),
        descriptors: Vec::new(),
        metrics,
        with_db_tag: false,
        mapping: Mapping::Columns,
    };
    if version.at_least(17, 0) {
        // PostgreSQL 17 moved the checkpoint counters to
        // pg_stat_checkpointer and dropped buffers_backend(_fsync).
        scopes.push(plain(
            "pg_stat_bgwriter",
            "SELECT cp.num_timed, cp.num_requested, cp.buffers_written, bg.buffers_clean, \
             bg.maxwritten_clean, bg.buffers_alloc, cp.write_time, cp.sync_time \
             FROM pg_stat_bgwriter bg, pg_stat_checkpointer cp",
            vec![
                ("bgwriter.checkpoints_timed", MonotonicCount),
                ("bgwriter.checkpoints_requested", MonotonicCount),
                ("bgwriter.buffers_checkpoint", MonotonicCount),
                ("bgwriter.buffers_clean", MonotonicCount),
                ("bgwriter.maxwritten_clean", MonotonicCount),
                ("bgwriter.buffers_alloc", MonotonicCount),
                ("bgwriter.write_time", MonotonicCount),
                ("bgwriter.sync_time", MonotonicCount),
            ],
        ));
    } else {
        scopes.push(plain(
            "pg_stat_bgwriter",
            "SELECT checkpoints_timed, checkpoints_req, buffers_checkpoint, buffers_clean, \
             maxwritten_clean, buffers_backend, buffers_alloc, buffers_backend_fsync, \
             checkpoint_write_time, checkpoint_sync_time FROM pg_stat_bgwriter",
            vec![
                ("bgwriter.checkpoints_timed", MonotonicCount),
                ("bgwriter.checkpoints_requested", MonotonicCount),
                ("bgwriter.buffers_checkpoint", MonotonicCount),
                ("bgwriter.buffers_clean", MonotonicCount),
                ("bgwriter.maxwritten_clean", MonotonicCount),
                ("bgwriter.buffers_backend", MonotonicCount),
                ("bgwriter.buffers_alloc", MonotonicCount),
                ("bgwriter.buffers_backend_fsync", MonotonicCount),
                ("bgwriter.write_time", MonotonicCount),
                ("bgwriter.sync_time", MonotonicCount),
            ],
        ));
    }
    if version.at_least(9, 4) {
        scopes.push(plain(
            "pg_stat_archiver",
            "SELECT archived_count, failed_count FROM pg_stat_archiver",
            vec![
                ("archiver.archived_count", MonotonicCount),
                ("archiver.failed_count", MonotonicCount),
            ],
        ));
    }
    if settings.collect_checksum_metrics && version.at_least(12, 0) {
        scopes.push(Scope {
            mapping: Mapping::Checksums,
            ..plain("data_checksums", "SHOW data_checksums", Vec::new())
        });
    }
    if settings.collect_activity_metrics {
        scopes.push(activity(settings, version));
    }
    scopes.push(plain(
        "connections",
        "WITH max_con AS (SELECT setting::float FROM pg_settings WHERE name = 'max_connections') \
         SELECT MAX(setting) AS max_connections, SUM(numbackends)/MAX(setting) AS pct_connections \
         FROM pg_stat_database, max_con",
        vec![
            ("max_connections", Gauge),
            ("percent_usage_connections", Gauge),
        ],
    ));
    if settings.collect_count_metrics {
        scopes.push(Scope {
            name: "table count",
            sql: "SELECT N.nspname AS schemaname, count(*) FROM \
                  (SELECT C.relnamespace FROM pg_class C WHERE C.relkind IN ('r', 'p')) AS subquery \
                  LEFT JOIN pg_namespace N ON (N.oid = relnamespace) \
                  WHERE N.nspname NOT IN ('pg_catalog', 'information_schema') \
                  GROUP BY N.nspname"
                .to_string(),
            descriptors: vec!["schema"],
            metrics: vec![("table.count", Gauge)],
            with_db_tag: true,
            mapping: Mapping::Columns,
        });
    }
    // Standbys only: the WHERE makes it return no row on a primary.
    let replication = if version.at_least(10, 0) {
        "SELECT CASE WHEN exists(SELECT * FROM pg_stat_wal_receiver) \
         AND (pg_last_wal_receive_lsn() IS NULL OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()) \
         THEN 0 ELSE GREATEST(0, EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())) END, \
         abs(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())) \
         WHERE (SELECT pg_is_in_recovery())"
    } else {
        "SELECT CASE WHEN pg_last_xlog_receive_location() IS NULL \
         OR pg_last_xlog_receive_location() = pg_last_xlog_replay_location() \
         THEN 0 ELSE GREATEST(0, EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())) END, \
         abs(pg_xlog_location_diff(pg_last_xlog_receive_location(), pg_last_xlog_replay_location())) \
         WHERE (SELECT pg_is_in_recovery())"
    };
    scopes.push(plain(
        "replication",
        replication,
        vec![
            ("replication_delay", Gauge),
            ("replication_delay_bytes", Gauge),
        ],
    ));
    scopes.push(plain(
        "uptime",
        "SELECT FLOOR(EXTRACT(EPOCH FROM current_timestamp - pg_postmaster_start_time()))",
        vec![("uptime", Gauge)],
    ));
    scopes
}

/// `pg_stat_activity` grouped by database, user and application.
fn activity(settings: &Settings, version: &ServerVersion) -> Scope {
    use Kind::Gauge;
    let user = settings.username.replace('\'', "''");
    let metrics: Vec<String> = if version.at_least(10, 0) {
        vec![
            "SUM(CASE WHEN xact_start IS NOT NULL THEN 1 ELSE 0 END)".into(),
            "SUM(CASE WHEN state = 'idle in transaction' THEN 1 ELSE 0 END)".into(),
            format!(
                "COUNT(CASE WHEN state = 'active' AND (usename NOT IN ('postgres', '{user}')) \
                 THEN 1 ELSE null END)"
            ),
            "COUNT(CASE WHEN wait_event is NOT NULL THEN 1 ELSE null END)".into(),
            "COUNT(CASE WHEN wait_event is NOT NULL AND state = 'active' THEN 1 ELSE null END)"
                .into(),
            "max(EXTRACT(EPOCH FROM (clock_timestamp() - xact_start)))".into(),
            "max(age(backend_xid))".into(),
            "max(age(backend_xmin))".into(),
        ]
    } else {
        vec![
            "SUM(CASE WHEN xact_start IS NOT NULL THEN 1 ELSE 0 END)".into(),
            "SUM(CASE WHEN state = 'idle in transaction' THEN 1 ELSE 0 END)".into(),
            format!(
                "COUNT(CASE WHEN state = 'active' AND (query !~* '^vacuum ' AND query !~ '^autovacuum:' \
                 AND usename NOT IN ('postgres', '{user}')) THEN 1 ELSE null END)"
            ),
            "COUNT(CASE WHEN wait_event is NOT NULL AND query !~* '^vacuum ' AND query !~ '^autovacuum:' \
             THEN 1 ELSE null END)"
                .into(),
            "COUNT(CASE WHEN wait_event is NOT NULL AND query !~* '^vacuum ' AND query !~ '^autovacuum:' \
             AND state = 'active' THEN 1 ELSE null END)"
                .into(),
            "max(EXTRACT(EPOCH FROM (clock_timestamp() - xact_start)))".into(),
            "max(age(backend_xid))".into(),
            "max(age(backend_xmin))".into(),
        ]
    };
    let all = [
        ("application_name", "app"),
        ("datname", "db"),
        ("usename", "user"),
    ];
    let kept: Vec<(&str, &'static str)> = all
        .into_iter()
        .filter(|(column, _)| {
            *column == "datname" || !settings.activity_excluded.iter().any(|e| e == column)
        })
        .collect();
    let group: Vec<&str> = kept.iter().map(|k| k.0).collect();
    let filter = if version.at_least(10, 0) {
        " WHERE backend_type = 'client backend' AND query !~* '^vacuum '"
    } else {
        ""
    };
    let sql = format!(
        "SELECT {}, {} FROM pg_stat_activity{filter} GROUP BY datid, {}",
        group.join(", "),
        metrics.join(", "),
        group.join(", ")
    );
    Scope {
        name: "pg_stat_activity",
        sql,
        descriptors: kept.iter().map(|k| k.1).collect(),
        metrics: vec![
            ("transactions.open", Gauge),
            ("transactions.idle_in_transaction", Gauge),
            ("active_queries", Gauge),
            ("waiting_queries", Gauge),
            ("active_waiting_queries", Gauge),
            ("activity.xact_start_age", Gauge),
            ("activity.backend_xid_age", Gauge),
            ("activity.backend_xmin_age", Gauge),
        ],
        with_db_tag: false,
        mapping: Mapping::Columns,
    }
}

/// A text value as a number: numbers, and booleans as 1 / 0. None for
/// NULL, text and non-finite values (nothing is sent for them).
pub fn number(value: Option<&str>) -> Option<f64> {
    let value = value?.trim();
    match value {
        "t" | "true" => return Some(1.0),
        "f" | "false" => return Some(0.0),
        _ => {}
    }
    value.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// The samples of one built-in scope's result. Err: the result does not
/// have the columns the scope expects.
pub fn scope_samples(
    scope: &Scope,
    set: &ResultSet,
    tags: &RunTags,
) -> Result<Vec<Sample>, String> {
    let mut samples = Vec::new();
    if scope.mapping == Mapping::Checksums {
        if let Some(value) = set.rows.first().and_then(|r| r.first()).cloned().flatten() {
            let enabled = if value == "on" { "true" } else { "false" };
            let mut tags = tags.without_db.clone();
            tags.push(format!("enabled:{enabled}"));
            samples.push(Sample {
                name: format!("{NAMESPACE}.checksums.enabled"),
                kind: Kind::Count,
                value: 1.0,
                tags,
            });
        }
        return Ok(samples);
    }
    let expected = scope.descriptors.len() + scope.metrics.len();
    for row in &set.rows {
        if row.len() != expected {
            return Err(format!(
                "expected {expected} columns ({} descriptors + {} metrics), got {}",
                scope.descriptors.len(),
                scope.metrics.len(),
                row.len()
            ));
        }
        let mut row_tags = if scope.with_db_tag {
            tags.with_db.clone()
        } else {
            tags.without_db.clone()
        };
        for (name, value) in scope.descriptors.iter().zip(row) {
            if let Some(value) = value {
                row_tags.push(format!("{name}:{value}"));
            }
        }
        for ((name, kind), value) in scope.metrics.iter().zip(&row[scope.descriptors.len()..]) {
            if let Some(value) = number(value.as_deref()) {
                samples.push(Sample {
                    name: format!("{NAMESPACE}.{name}"),
                    kind: *kind,
                    value,
                    tags: row_tags.clone(),
                });
            }
        }
    }
    if scope.mapping == Mapping::PerDatabase && !set.rows.is_empty() {
        samples.push(Sample {
            name: format!("{NAMESPACE}.db.count"),
            kind: Kind::Gauge,
            value: set.rows.len() as f64,
            tags: tags.without_db.clone(),
        });
    }
    Ok(samples)
}

/// The samples of a custom query: the rows of the last statement that
/// returned rows, tagged with the instance's tags (`db:<dbname>`
/// included), the query's `tags` and its tag columns. Err: rows whose
/// width is not the number of `columns` (they are skipped).
pub fn custom_samples(
    query: &Query,
    sets: &[ResultSet],
    tags: &RunTags,
) -> (Vec<Sample>, Option<String>) {
    let mut samples = Vec::new();
    let Some(set) = sets.iter().rev().find(|s| !s.columns.is_empty()) else {
        return (samples, None);
    };
    let mut problem = None;
    for row in &set.rows {
        if row.len() != query.columns.len() {
            let n = query.columns.len();
            problem = Some(format!(
                "{} expected {n} column{}, got {}",
                query.name,
                if n == 1 { "" } else { "s" },
                row.len()
            ));
            continue;
        }
        let mut row_tags = tags.with_db.clone();
        row_tags.extend(query.tags.iter().cloned());
        for (column, value) in query.columns.iter().zip(row) {
            let Some(column) = column else { continue };
            match column.kind {
                ColumnKind::Tag { boolean } => {
                    let text = match (value.as_deref(), boolean) {
                        (value, true) => affirmative(value).to_string(),
                        (Some(value), false) => value.to_string(),
                        // Datadog formats a Python None.
                        (None, false) => "None".to_string(),
                    };
                    row_tags.push(format!("{}:{text}", column.name));
                }
                ColumnKind::TagNotNull => {
                    if let Some(value) = value {
                        row_tags.push(format!("{}:{value}", column.name));
                    }
                }
                ColumnKind::TagList => {
                    for item in tag_list(value.as_deref()) {
                        row_tags.push(format!("{}:{item}", column.name));
                    }
                }
                _ => {}
            }
        }
        for (column, value) in query.columns.iter().zip(row) {
            let Some(column) = column else { continue };
            let kind = match column.kind {
                ColumnKind::Gauge => Kind::Gauge,
                ColumnKind::Count => Kind::Count,
                ColumnKind::MonotonicCount => Kind::MonotonicCount,
                ColumnKind::Rate => Kind::Rate,
                ColumnKind::Histogram => Kind::Histogram,
                ColumnKind::MonotonicGauge => {
                    if let Some(value) = number(value.as_deref()) {
                        samples.push(Sample {
                            name: format!("{}.total", column.name),
                            kind: Kind::Gauge,
                            value,
                            tags: row_tags.clone(),
                        });
                        samples.push(Sample {
                            name: format!("{}.count", column.name),
                            kind: Kind::MonotonicCount,
                            value,
                            tags: row_tags.clone(),
                        });
                    }
                    continue;
                }
                _ => continue,
            };
            if let Some(value) = number(value.as_deref()) {
                samples.push(Sample {
                    name: column.name.clone(),
                    kind,
                    value,
                    tags: row_tags.clone(),
                });
            }
        }
    }
    (samples, problem)
}

/// Datadog's `is_affirmative`, with Postgres' boolean text `t`.
fn affirmative(value: Option<&str>) -> bool {
    let Some(value) = value else { return false };
    let value = value.trim().to_ascii_lowercase();
    if matches!(value.as_str(), "t" | "yes" | "true" | "1" | "y" | "on") {
        return true;
    }
    value.parse::<f64>().is_ok_and(|v| v != 0.0)
}

/// A `tag_list` value: a Postgres array (`{a,b}`) or a comma-separated
/// string.
fn tag_list(value: Option<&str>) -> Vec<String> {
    let Some(value) = value else {
        return Vec::new();
    };
    let inner = value
        .strip_prefix('{')
        .and_then(|v| v.strip_suffix('}'))
        .unwrap_or(value);
    inner
        .split(',')
        .map(|item| item.trim().trim_matches('"').to_string())
        .filter(|item| !item.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, InitConfig};
    use runner_sdk::serde_json::{self, Value, json};

    fn settings(instance: Value) -> Settings {
        let config: Config = serde_json::from_value(instance).unwrap();
        Settings::new(config, &InitConfig::default()).unwrap()
    }

    fn version(raw: &str) -> ServerVersion {
        ServerVersion::parse(raw).unwrap()
    }

    fn set(columns: &[&str], rows: &[&[Option<&str>]]) -> ResultSet {
        ResultSet {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: rows
                .iter()
                .map(|r| r.iter().map(|v| v.map(str::to_string)).collect())
                .collect(),
            tag: format!("SELECT {}", rows.len()),
        }
    }

    fn run_tags(s: &Settings) -> RunTags {
        RunTags::new(s, &["postgresql_version:15.14".to_string()])
    }

    #[test]
    fn per_database_query_follows_the_version_and_options() {
        let s = settings(json!({"username": "dd", "ignore_databases": ["template%", "it's"]}));
        let v15 = per_database(&s, &version("15.14"));
        assert!(v15.sql.starts_with(
            "SELECT psd.datname, numbackends, xact_commit, xact_rollback, blks_read, blks_hit, "
        ));
        assert!(v15.sql.contains("sessions_killed"));
        assert!(v15.sql.contains("pg_database_size(psd.datname)"));
        assert!(v15.sql.ends_with(
            "WHERE psd.datname NOT ILIKE 'template%' AND psd.datname NOT ILIKE 'it''s'"
        ));
        assert_eq!(v15.descriptors, ["db"]);
        // One column per metric, after the datname.
        assert_eq!(v15.metrics.len(), v15.sql.matches(", ").count());

        let v96 = per_database(&s, &version("9.6.24"));
        assert!(!v96.sql.contains("session_time"));
        assert!(v96.sql.contains("temp_bytes"));

        let s = settings(json!({
            "username": "dd", "ignore_databases": [], "dbstrict": true, "dbname": "app",
            "collect_database_size_metrics": false, "collect_checksum_metrics": true,
        }));
        let scope = per_database(&s, &version("13.1"));
        assert!(scope.sql.ends_with(" WHERE psd.datname IN ('app')"));
        assert!(!scope.sql.contains("pg_database_size"));
        assert!(scope.sql.contains("checksum_failures"));
    }

    #[test]
    fn scopes_by_version() {
        let s = settings(json!({"username": "dd"}));
        let names = |v: &str| -> Vec<&'static str> {
            scopes(&s, &version(v)).iter().map(|s| s.name).collect()
        };
        assert_eq!(
            names("15.14"),
            [
                "pg_stat_database",
                "pg_stat_bgwriter",
                "pg_stat_archiver",
                "connections",
                "table count",
                "replication",
                "uptime"
            ]
        );
        let v17 = scopes(&s, &version("17.2"));
        assert!(v17[1].sql.contains("pg_stat_checkpointer"));
        assert_eq!(v17[1].metrics.len(), 8);
        let v15 = scopes(&s, &version("15.14"));
        assert!(v15[1].sql.contains("buffers_backend_fsync"));
        assert!(v15[5].sql.contains("pg_last_wal_receive_lsn"));
        let v96 = scopes(&s, &version("9.6.24"));
        assert!(v96[5].sql.contains("pg_last_xlog_receive_location"));

        let s = settings(json!({
            "username": "o'dd", "collect_activity_metrics": true, "collect_count_metrics": false,
            "activity_metrics_excluded_aggregations": ["application_name", "datname"],
        }));
        let all = scopes(&s, &version("16.0"));
        let activity = all.iter().find(|s| s.name == "pg_stat_activity").unwrap();
        assert_eq!(activity.descriptors, ["db", "user"]);
        assert!(activity.sql.starts_with("SELECT datname, usename, SUM("));
        assert!(activity.sql.contains("'o''dd'"));
        assert!(activity.sql.ends_with("GROUP BY datid, datname, usename"));
        assert!(!all.iter().any(|s| s.name == "table count"));
    }

    #[test]
    fn per_database_rows_become_tagged_samples() {
        let s = settings(json!({"username": "dd", "host": "127.0.0.1"}));
        let v = version("15.14");
        let scope = per_database(&s, &v);
        let width = scope.metrics.len();
        let mut app: Vec<Option<&str>> = vec![Some("app")];
        let values: Vec<String> = (0..width).map(|i| i.to_string()).collect();
        app.extend(values.iter().map(|v| Some(v.as_str())));
        let mut empty: Vec<Option<&str>> = vec![Some("empty")];
        empty.extend(std::iter::repeat_n(None, width));
        let result = set(&[], &[&app, &empty]);
        let samples = scope_samples(&scope, &result, &run_tags(&s)).unwrap();
        let tags = [
            "server:127.0.0.1",
            "port:5432",
            "postgresql_version:15.14",
            "db:app",
        ];
        let connections = &samples[0];
        assert_eq!(connections.name, "postgresql.connections");
        assert_eq!(connections.kind, Kind::Gauge);
        assert_eq!(connections.value, 0.0);
        assert_eq!(connections.tags, tags);
        let inserted = samples
            .iter()
            .find(|s| s.name == "postgresql.rows_inserted")
            .unwrap();
        assert_eq!((inserted.kind, inserted.value), (Kind::Rate, 7.0));
        let deadlocks = samples
            .iter()
            .find(|s| s.name == "postgresql.deadlocks.count")
            .unwrap();
        assert_eq!(deadlocks.kind, Kind::MonotonicCount);
        // NULLs send nothing; the two rows count as two databases.
        assert_eq!(samples.len(), width + 1);
        let count = samples.last().unwrap();
        assert_eq!(count.name, "postgresql.db.count");
        assert_eq!(count.value, 2.0);
        assert_eq!(
            count.tags,
            ["server:127.0.0.1", "port:5432", "postgresql_version:15.14"]
        );
        let short = set(&[], &[&[Some("x"), Some("1")]]);
        assert!(
            scope_samples(&scope, &short, &run_tags(&s))
                .unwrap_err()
                .starts_with(&format!("expected {} columns", width + 1))
        );
    }

    #[test]
    fn table_count_has_the_instance_db_and_schema() {
        let s = settings(json!({"username": "dd", "dbname": "app"}));
        let all = scopes(&s, &version("15.14"));
        let scope = all.iter().find(|s| s.name == "table count").unwrap();
        let result = set(&["schemaname", "count"], &[&[Some("public"), Some("3")]]);
        let samples = scope_samples(scope, &result, &run_tags(&s)).unwrap();
        assert_eq!(
            samples,
            [Sample {
                name: "postgresql.table.count".into(),
                kind: Kind::Gauge,
                value: 3.0,
                tags: vec![
                    "server:localhost".into(),
                    "port:5432".into(),
                    "db:app".into(),
                    "postgresql_version:15.14".into(),
                    "schema:public".into()
                ],
            }]
        );
        let connections = all.iter().find(|s| s.name == "connections").unwrap();
        let result = set(&["a", "b"], &[&[Some("100"), Some("0.07")]]);
        let samples = scope_samples(connections, &result, &run_tags(&s)).unwrap();
        assert_eq!(samples[0].name, "postgresql.max_connections");
        assert_eq!(samples[1].name, "postgresql.percent_usage_connections");
        assert_eq!(samples[1].value, 0.07);
        assert!(!samples[1].tags.iter().any(|t| t.starts_with("db:")));
    }

    #[test]
    fn checksums() {
        let s = settings(json!({"username": "dd", "collect_checksum_metrics": true}));
        let all = scopes(&s, &version("15.14"));
        let scope = all.iter().find(|s| s.name == "data_checksums").unwrap();
        let samples = scope_samples(
            scope,
            &set(&["data_checksums"], &[&[Some("off")]]),
            &run_tags(&s),
        )
        .unwrap();
        assert_eq!(samples[0].name, "postgresql.checksums.enabled");
        assert_eq!(samples[0].kind, Kind::Count);
        assert!(samples[0].tags.contains(&"enabled:false".to_string()));
    }

    #[test]
    fn numbers() {
        assert_eq!(number(Some("42")), Some(42.0));
        assert_eq!(number(Some("-1.5e3")), Some(-1500.0));
        assert_eq!(number(Some("t")), Some(1.0));
        assert_eq!(number(Some("f")), Some(0.0));
        assert_eq!(number(Some("abc")), None);
        assert_eq!(number(Some("NaN")), None);
        assert_eq!(number(None), None);
    }

    #[test]
    fn custom_query_rows() {
        let s = settings(json!({
            "username": "dd", "dbname": "app",
            "custom_queries": [{
                "query": "SELECT ...",
                "columns": [
                    {"name": "kind", "type": "tag"},
                    {},
                    {"name": "rows", "type": "gauge"},
                    {"name": "seen", "type": "monotonic_gauge"},
                    {"name": "alive", "type": "tag", "boolean": true},
                    {"name": "labels", "type": "tag_list"},
                    {"name": "owner", "type": "tag_not_null"},
                    {"name": "raw", "type": "source"},
                ],
                "tags": ["team:db"],
            }],
        }));
        let query = &s.queries[0];
        let tags = RunTags::new(&s, &[]);
        let rows = set(
            &[
                "kind", "skip", "rows", "seen", "alive", "labels", "owner", "raw",
            ],
            &[
                &[
                    Some("a"),
                    Some("x"),
                    Some("12"),
                    Some("5"),
                    Some("t"),
                    Some("{eu,primary}"),
                    None,
                    Some("r"),
                ],
                &[
                    None,
                    None,
                    None,
                    Some("1"),
                    Some("0"),
                    None,
                    Some("bob"),
                    None,
                ],
                &[Some("short")],
            ],
        );
        // A statement before the SELECT (no rows) is not the result.
        let before = ResultSet {
            tag: "SET".into(),
            ..ResultSet::default()
        };
        let (samples, problem) = custom_samples(query, &[rows, before], &tags);
        assert_eq!(
            problem.as_deref(),
            Some("custom query #1 expected 8 columns, got 1")
        );
        let first_tags: Vec<String> = [
            "server:localhost",
            "port:5432",
            "db:app",
            "team:db",
            "kind:a",
            "alive:true",
            "labels:eu",
            "labels:primary",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            samples[0],
            Sample {
                name: "postgresql.rows".into(),
                kind: Kind::Gauge,
                value: 12.0,
                tags: first_tags.clone()
            }
        );
        assert_eq!(samples[1].name, "postgresql.seen.total");
        assert_eq!(samples[2].name, "postgresql.seen.count");
        assert_eq!(samples[2].kind, Kind::MonotonicCount);
        // Second row: NULL rows → no gauge; NULL tag → `kind:None`.
        assert_eq!(samples.len(), 5);
        assert_eq!(samples[3].name, "postgresql.seen.total");
        assert!(samples[3].tags.contains(&"kind:None".to_string()));
        assert!(samples[3].tags.contains(&"alive:false".to_string()));
        assert!(samples[3].tags.contains(&"owner:bob".to_string()));

        // Statements that return no rows: nothing, no problem.
        let (samples, problem) = custom_samples(query, &[ResultSet::default()], &tags);
        assert!(samples.is_empty() && problem.is_none());
    }

    #[test]
    fn tag_lists() {
        assert_eq!(tag_list(Some("{a,\"b c\"}")), ["a", "b c"]);
        assert_eq!(tag_list(Some("x, y")), ["x", "y"]);
        assert!(tag_list(None).is_empty());
        assert!(tag_list(Some("{}")).is_empty());
    }
}
