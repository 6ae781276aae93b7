//! `runner processes [SEARCH]...`: the host's processes as a table, like
//! top or Datadog's Live Processes, or as JSON; with `--related PID`, what
//! PID is related to. Columns and JSON fields: docs/processes.md.

use std::fmt::Write as _;
use std::time::Duration;

use clap::Args;
use serde::Serialize;

use super::{report, snapshot_source, table, write_stdout};
use crate::cmdline_scrub::Scrubber;
use crate::config::RunnerConfig;
use crate::snapshot::{FieldSet, ProcessSnapshot};
use crate::views::process::{self as process_view, Listed, ProcessJson};
use crate::views::related::{Peer, Related, find_related};
use crate::views::search::{Search, SortKey, user_matches};

pub const AFTER_HELP: &str = "\
Examples:
  runner processes                     every process, busiest first
  runner processes postgres /15.       processes whose text holds both `postgres`
                                       and `/15.`, e.g. postgres 15 by its data
                                       directory or binary path
  runner processes -u www-data -s mem  www-data's processes, largest first
  runner processes -s fds -n 10        the ten with the most open files
  runner processes --related 1234      what runs the same command as 1234, and
                                       the processes it talks to over the network
  runner processes nginx --json        every field, as a JSON array

SEARCH words match, ignoring case, anywhere in a process's command line
(scrubbed), name, executable, working directory, user, uid or container id;
every word must match. `postgres /15.` is two words, quoted or not.

Columns: CPU% is over --interval, 100 = one full core; MEM% is resident
memory (RSS) of the host's total; THR threads; FDS open file descriptors;
S the state (R running, S sleeping, D disk wait, Z zombie, T stopped, I idle);
ELAPSED time since start, [[days-]hours:]minutes:seconds; CONTAINER a short
container id (shown when a listed process is in one). COMMAND is scrubbed
(values of arguments such as --password are masked) and clipped to the
terminal's width; piped, it is whole. `-` is a value that could not be read,
e.g. another user's open files when not run as root; never a 0.";

#[derive(Debug, Args)]
pub struct ProcessesArgs {
    /// Only processes whose text holds every word (see below).
    #[arg(value_name = "SEARCH")]
    pub search: Vec<String>,

    /// Only processes of this user (a name or a uid).
    #[arg(short, long, value_name = "USER")]
    pub user: Option<String>,

    /// Order of the list; unknown values go last.
    #[arg(short, long, value_enum, value_name = "KEY", default_value_t = SortKey::Cpu)]
    pub sort: SortKey,

    /// Show at most N processes (after sorting).
    #[arg(short = 'n', long, value_name = "N")]
    pub limit: Option<usize>,

    /// Show PID, the other processes running the same command, and the
    /// processes at the other end of its established connections on this
    /// host: those it talks to and those that talk to it.
    #[arg(short, long, value_name = "PID", conflicts_with_all = ["search", "user", "limit"])]
    pub related: Option<u32>,

    /// Include kernel threads.
    #[arg(short, long)]
    pub all: bool,

    /// Seconds between the two reads CPU % is measured over; 0 reads once
    /// and shows no CPU %.
    #[arg(short, long, value_name = "SECS", default_value = "0.5", value_parser = parse_interval)]
    pub interval: Duration,

    /// Print a JSON array of processes with every field (unknown values
    /// null); with --related, an object of the same sections.
    #[arg(long)]
    pub json: bool,
}

/// The longest --interval: this is a snapshot, not a monitor.
const MAX_INTERVAL_SECS: f64 = 60.0;

fn parse_interval(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !(0.0..=MAX_INTERVAL_SECS).contains(&seconds) {
        return Err(format!("expected 0 to {MAX_INTERVAL_SECS} seconds"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Run the verb; returns the process exit code.
pub fn execute(runner: &RunnerConfig, args: &ProcessesArgs) -> i32 {
    let fields = FieldSet {
        open_fds: true,
        io: true,
        cwd: true,
        connections: args.related.is_some(),
    };
    let settings = snapshot_source::settings(runner, args.all);
    let snapshot = match snapshot_source::read(settings, fields, args.interval) {
        Ok(snapshot) => snapshot,
        Err(e) => {
            report("Error", format_args!("reading the processes: {e:#}"));
            return 1;
        }
    };
    let scrubber = snapshot_source::scrubber(runner);
    let output = match args.related {
        None => list(&snapshot, args, &scrubber),
        Some(pid) => match find_related(&snapshot, pid) {
            Some(related) => show_related(&snapshot, &related, args, &scrubber),
            None => {
                let hint = if args.all {
                    ""
                } else {
                    " (kernel threads show with --all)"
                };
                report("Error", format_args!("no process {pid}{hint}"));
                return 1;
            }
        },
    };
    match write_stdout(&output) {
        Ok(()) => 0,
        Err(e) => {
            report("Error", format_args!("writing the list: {e}"));
            1
        }
    }
}

/// The processes SEARCH and --user select, sorted and limited.
fn list(snapshot: &ProcessSnapshot, args: &ProcessesArgs, scrubber: &Scrubber) -> String {
    let search = Search::new(&args.search);
    // The runner's own command line holds the words: like pgrep, a search
    // leaves the runner out.
    let me = std::process::id();
    let mut listed: Vec<Listed> = snapshot
        .processes
        .iter()
        .filter(|row| search.is_empty() || row.pid != me)
        .filter(|row| args.user.as_deref().is_none_or(|u| user_matches(row, u)))
        .map(|row| Listed::new(row, scrubber))
        .filter(|listed| search.matches(listed))
        .collect();
    args.sort.sort(&mut listed);
    if let Some(limit) = args.limit {
        listed.truncate(limit);
    }
    if args.json {
        let rows: Vec<ProcessJson> = listed
            .iter()
            .map(|l| ProcessJson::new(l.row, snapshot, scrubber))
            .collect();
        return to_json(&rows);
    }
    process_table(snapshot, &listed, None)
}

/// `--related` in `--json`.
#[derive(Serialize)]
struct RelatedJson<'a> {
    process: ProcessJson<'a>,
    same_command: Vec<ProcessJson<'a>>,
    talks_to: Vec<PeerJson<'a>>,
    talked_to_by: Vec<PeerJson<'a>>,
    /// Established connections whose other end is no process here.
    connections_elsewhere: usize,
}

#[derive(Serialize)]
struct PeerJson<'a> {
    /// Established connections between the two.
    connections: usize,
    #[serde(flatten)]
    process: ProcessJson<'a>,
}

fn show_related(
    snapshot: &ProcessSnapshot,
    related: &Related,
    args: &ProcessesArgs,
    scrubber: &Scrubber,
) -> String {
    let mut same_command: Vec<Listed> = related
        .same_command
        .iter()
        .map(|row| Listed::new(row, scrubber))
        .collect();
    args.sort.sort(&mut same_command);
    if args.json {
        return to_json(&RelatedJson {
            process: ProcessJson::new(related.process, snapshot, scrubber),
            same_command: same_command
                .iter()
                .map(|l| ProcessJson::new(l.row, snapshot, scrubber))
                .collect(),
            talks_to: peers_json(&related.talks_to, snapshot, scrubber),
            talked_to_by: peers_json(&related.talked_to_by, snapshot, scrubber),
            connections_elsewhere: related.elsewhere,
        });
    }
    let pid = related.process.pid;
    let peer_table = |peers: &[Peer]| {
        let listed: Vec<Listed> = peers
            .iter()
            .map(|peer| Listed::new(peer.process, scrubber))
            .collect();
        let counts: Vec<usize> = peers.iter().map(|peer| peer.connections).collect();
        process_table(snapshot, &listed, Some(&counts))
    };
    let mut out = format!("=== Process {pid} ===\n");
    let this = [Listed::new(related.process, scrubber)];
    out.push_str(&process_table(snapshot, &this, None));
    out.push_str("\n=== Same command ===\n");
    out.push_str(&process_table(snapshot, &same_command, None));
    writeln!(out, "\n=== Talks to (connections {pid} opened) ===").unwrap();
    out.push_str(&peer_table(&related.talks_to));
    writeln!(out, "\n=== Talked to by (connections {pid} accepted) ===").unwrap();
    out.push_str(&peer_table(&related.talked_to_by));
    if related.elsewhere > 0 {
        writeln!(
            out,
            "\n{} more established connection(s) go to other hosts or to processes \
             not readable here: `runner connections --pid {pid}` lists them.",
            related.elsewhere
        )
        .unwrap();
    }
    out
}

fn peers_json<'a>(
    peers: &[Peer<'a>],
    snapshot: &ProcessSnapshot,
    scrubber: &Scrubber,
) -> Vec<PeerJson<'a>> {
    peers
        .iter()
        .map(|peer| PeerJson {
            connections: peer.connections,
            process: ProcessJson::new(peer.process, snapshot, scrubber),
        })
        .collect()
}

/// Processes as a table fitted to the terminal; with `connections`, a
/// first CONNS column of established connections (one count per process).
fn process_table(
    snapshot: &ProcessSnapshot,
    listed: &[Listed],
    connections: Option<&[usize]>,
) -> String {
    let container = process_view::shows_container(listed);
    let mut header = process_view::header(container);
    let mut rows: Vec<Vec<String>> = listed
        .iter()
        .map(|l| process_view::cells(l, snapshot, container))
        .collect();
    if let Some(counts) = connections {
        header.insert(0, "CONNS");
        for (row, count) in rows.iter_mut().zip(counts) {
            row.insert(0, count.to_string());
        }
    }
    table::render_or_none(&header, &rows, table::stdout_width())
}

fn to_json(value: &impl Serialize) -> String {
    let mut json = serde_json::to_string_pretty(value).expect("the list serialises");
    json.push('\n');
    json
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};
    use crate::views::process::tests::{row, snapshot};

    fn parse(args: &[&str]) -> Result<ProcessesArgs, clap::Error> {
        let cli = Cli::try_parse_from(["runner", "processes"].iter().chain(args))?;
        match cli.command {
            Command::Processes(args) => Ok(args),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn flags_parse_with_their_defaults() {
        let args = parse(&["postgres", "/15."]).unwrap();
        assert_eq!(args.search, ["postgres", "/15."]);
        assert_eq!(args.sort, SortKey::Cpu);
        assert_eq!(args.interval, Duration::from_millis(500));
        let args = parse(&["-s", "rss", "-n", "5", "-i", "0", "-u", "0"]).unwrap();
        assert_eq!(args.sort, SortKey::Mem);
        assert_eq!(args.limit, Some(5));
        assert_eq!(args.interval, Duration::ZERO);
        assert!(parse(&["-i", "-1"]).is_err());
        assert!(parse(&["-i", "NaN"]).is_err());
        assert!(parse(&["--related", "1", "postgres"]).is_err());
    }

    /// Every way a process could try to break a row or drive the terminal
    /// through its command line.
    #[test]
    fn a_hostile_command_line_prints_as_one_row_of_visible_escapes() {
        let evil = row(
            66,
            &[
                "/tmp/x",
                "\u{1b}[2J\u{1b}]0;owned\u{7}",
                "line\nFAKE 1 root",
                "\u{9b}31m\u{202e}",
            ],
        );
        let snapshot = snapshot(vec![evil]);
        let args = parse(&["--interval", "0"]).unwrap();
        let out = list(&snapshot, &args, &Scrubber::default());
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
        assert!(
            lines[1].ends_with(
                "/tmp/x \\u{1b}[2J\\u{1b}]0;owned\\u{7} line\\nFAKE 1 root \\u{9b}31m\\u{202e}"
            ),
            "{}",
            lines[1]
        );
    }

    #[test]
    fn the_list_is_searched_sorted_and_limited() {
        let mut rows: Vec<_> = (1..=4)
            .map(|pid| row(pid, &["/usr/bin/postgres"]))
            .collect();
        rows[1].cmdline = vec!["/usr/bin/redis".to_string()].into();
        rows[2].rss = 1 << 30;
        rows[3].rss = 1 << 29;
        let snapshot = snapshot(rows);
        let args = parse(&["postgres", "--sort", "mem", "--limit", "2", "--json"]).unwrap();
        let out = list(&snapshot, &args, &Scrubber::default());
        let value: serde_json::Value = serde_json::from_str(&out).unwrap();
        let pids: Vec<u64> = value
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["pid"].as_u64().unwrap())
            .collect();
        assert_eq!(pids, [3, 4]);
        let none = parse(&["nothing-like-this"]).unwrap();
        assert_eq!(list(&snapshot, &none, &Scrubber::default()), "(none)\n");
    }
}
