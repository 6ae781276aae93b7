//! Which processes `runner processes` lists, and in what order: the SEARCH
//! words, `--user` and `--sort`. The Live Processes page searches with the
//! same [`Search`].

use std::cmp::Ordering;

use clap::ValueEnum;

use crate::snapshot::ProcessRow;
use crate::views::process::Listed;

/// SEARCH: words that must all occur, case-insensitively, somewhere in a
/// process's text: its (scrubbed) command line, name, executable, working
/// directory, user and container id.
pub struct Search {
    /// Lower-cased.
    words: Vec<String>,
}

impl Search {
    /// The words of `args`; an argument holding spaces (quoted on the
    /// command line) gives several words.
    pub fn new(args: &[String]) -> Self {
        let words = args
            .iter()
            .flat_map(|arg| arg.split_whitespace())
            .map(str::to_lowercase)
            .collect();
        Self { words }
    }

    /// True when there are no words: everything matches.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    pub fn matches(&self, listed: &Listed) -> bool {
        if self.words.is_empty() {
            return true;
        }
        let text = searched_text(listed).to_lowercase();
        self.words.iter().all(|word| text.contains(word.as_str()))
    }
}

/// The fields a word can match, one per line so that no word matches
/// across two of them.
fn searched_text(listed: &Listed) -> String {
    let row = listed.row;
    let uid = row.uid.map(|uid| uid.to_string());
    [
        Some(listed.command.as_str()),
        Some(&*row.name),
        row.exe.as_deref(),
        row.cwd.as_deref(),
        row.user.as_deref(),
        uid.as_deref(),
        row.container_id.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join("\n")
}

/// `--user`: a user name, or a uid.
pub fn user_matches(row: &ProcessRow, user: &str) -> bool {
    row.user.as_deref() == Some(user) || user.parse::<u32>().is_ok_and(|uid| row.uid == Some(uid))
}

/// `--sort`: the order of the list. Processes whose value is unknown come
/// last; ties go by pid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SortKey {
    /// CPU %, busiest first.
    Cpu,
    /// Resident memory, largest first.
    #[value(alias = "rss")]
    Mem,
    /// Virtual memory, largest first.
    Vms,
    /// Open file descriptors, most first.
    Fds,
    /// Bytes read and written to storage, most first.
    Io,
    /// Threads, most first.
    Threads,
    /// Start time, newest first.
    Start,
    /// Process id, lowest first.
    Pid,
}

impl SortKey {
    pub fn sort(self, listed: &mut [Listed]) {
        listed.sort_by(|a, b| self.compare(a.row, b.row));
    }

    fn compare(self, a: &ProcessRow, b: &ProcessRow) -> Ordering {
        let by_value = match (self.value(a), self.value(b)) {
            (Some(x), Some(y)) if self == SortKey::Pid => x.total_cmp(&y),
            (Some(x), Some(y)) => y.total_cmp(&x),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        by_value.then(a.pid.cmp(&b.pid))
    }

    fn value(self, row: &ProcessRow) -> Option<f64> {
        match self {
            SortKey::Cpu => row.cpu_percent.map(|cpu| cpu.total),
            SortKey::Mem => Some(row.rss as f64),
            SortKey::Vms => Some(row.vms as f64),
            SortKey::Fds => row.open_fds.map(f64::from),
            SortKey::Io => row.io.map(|io| (io.read_bytes + io.write_bytes) as f64),
            SortKey::Threads => Some(f64::from(row.threads)),
            SortKey::Start => Some(row.start_time),
            SortKey::Pid => Some(f64::from(row.pid)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmdline_scrub::Scrubber;
    use crate::views::process::tests::row;

    fn search(words: &[&str], row: &ProcessRow) -> bool {
        let args: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        Search::new(&args).matches(&Listed::new(row, &Scrubber::default()))
    }

    #[test]
    fn every_word_must_match_somewhere() {
        let mut postgres = row(10, &["/usr/lib/postgresql/15/bin/postgres", "-D", "/data"]);
        postgres.cwd = Some("/var/lib/postgresql/15.4/main".into());
        postgres.user = Some("postgres".into());
        assert!(search(&["postgres", "/15."], &postgres));
        assert!(search(&["POSTGRES", "Main"], &postgres));
        assert!(
            search(&["postgres /15."], &postgres),
            "a quoted phrase is two words"
        );
        assert!(!search(&["postgres", "/16."], &postgres));
        assert!(search(&[], &postgres));
    }

    #[test]
    fn user_uid_name_exe_and_container_are_searched() {
        let mut row = row(10, &["nginx: worker process"]);
        row.exe = Some("/usr/sbin/nginx".into());
        row.user = Some("www-data".into());
        row.uid = Some(33);
        row.container_id = Some("3f4e5d6c7b8a".repeat(5).into());
        assert!(search(&["www-data"], &row));
        assert!(search(&["/usr/sbin/"], &row));
        assert!(search(&["3F4E5D"], &row));
        assert!(search(&["33"], &row));
        let mut kernel = crate::views::process::tests::row(2, &[]);
        kernel.name = "kworker/0:1".into();
        assert!(search(&["kworker"], &kernel));
    }

    #[test]
    fn words_do_not_match_across_fields_nor_scrubbed_secrets() {
        let mut row = row(10, &["app", "--password=hunter2"]);
        row.cwd = Some("/srv".into());
        assert!(!search(&["hunter2"], &row));
        assert!(search(&["--password=****"], &row));
        // Run together, the command line's end and the cwd would read
        // `********/srv`.
        assert!(!search(&["*/srv"], &row));
    }

    #[test]
    fn users_match_by_name_or_uid() {
        let mut row = row(10, &["x"]);
        row.user = Some("postgres".into());
        row.uid = Some(999);
        assert!(user_matches(&row, "postgres"));
        assert!(user_matches(&row, "999"));
        assert!(!user_matches(&row, "root"));
        row.user = None;
        assert!(user_matches(&row, "999"));
        row.uid = None;
        assert!(!user_matches(&row, "999"));
    }

    fn sorted(key: SortKey, rows: &[ProcessRow]) -> Vec<u32> {
        let scrubber = Scrubber::default();
        let mut listed: Vec<Listed> = rows.iter().map(|r| Listed::new(r, &scrubber)).collect();
        key.sort(&mut listed);
        listed.iter().map(|l| l.row.pid).collect()
    }

    #[test]
    fn sorting_puts_the_most_first_and_unknowns_last() {
        let mut rows: Vec<ProcessRow> = (1..=5).map(|pid| row(pid, &["x"])).collect();
        for (row, cpu) in rows
            .iter_mut()
            .zip([Some(5.0), None, Some(50.0), Some(5.0), None])
        {
            row.cpu_percent = cpu.map(|total| crate::snapshot::CpuPercent {
                user: total,
                system: 0.0,
                total,
            });
        }
        assert_eq!(sorted(SortKey::Cpu, &rows), [3, 1, 4, 2, 5]);

        rows[0].open_fds = None;
        rows[4].open_fds = Some(100);
        assert_eq!(sorted(SortKey::Fds, &rows), [5, 2, 3, 4, 1]);

        rows[1].rss = 1;
        rows[3].rss = 1 << 30;
        assert_eq!(sorted(SortKey::Mem, &rows), [4, 1, 3, 5, 2]);

        rows[2].start_time = 5_000.0;
        assert_eq!(sorted(SortKey::Start, &rows)[0], 3);
        rows.reverse();
        assert_eq!(sorted(SortKey::Pid, &rows), [1, 2, 3, 4, 5]);
    }

    #[test]
    fn io_sorts_by_bytes_read_and_written() {
        let mut rows: Vec<ProcessRow> = (1..=3).map(|pid| row(pid, &["x"])).collect();
        rows[0].io = None;
        rows[1].io = Some(crate::snapshot::IoCounters {
            read_bytes: 10,
            write_bytes: 10,
            ..Default::default()
        });
        rows[2].io = Some(crate::snapshot::IoCounters {
            write_bytes: 15,
            ..Default::default()
        });
        assert_eq!(sorted(SortKey::Io, &rows), [2, 3, 1]);
    }
}
