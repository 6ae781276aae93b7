//! Why a run failed, in words that name the cause and, where there is one,
//! the setting. Wasm backtraces are logged at debug level only.

use std::fmt;

use super::limits::LimitHit;

/// Most characters of a check's own error message that are kept: the rest
/// is cut with a note, so a hostile check cannot flood logs through it.
pub const MAX_ERROR_CHARS: usize = 4096;

/// Why a run failed.
#[derive(Debug, Clone, PartialEq)]
pub enum RunError {
    /// The component could not be instantiated.
    Instantiate(String),
    /// `configure` rejected the instance's configuration (the check's
    /// message, escaped and capped).
    Configure(String),
    /// The check's `run` returned an error (its message, escaped and
    /// capped).
    Check(String),
    /// A sandbox limit stopped the run.
    Limit(LimitHit),
    /// The time limit ended a run that had contacted a network endpoint:
    /// blocked waiting on it (`waiting`: a peer that accepted and then sent
    /// nothing), or still busy after it (a peer that trickles bytes).
    OnNetwork {
        hit: LimitHit,
        endpoint: String,
        waiting: bool,
    },
    /// The guest trapped: a panic, a stack overflow, an invalid operation,
    /// a call to `exit`, a malformed string.
    Crashed(String),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Instantiate(e) => write!(f, "could not instantiate the check: {e}"),
            RunError::Configure(e) => write!(f, "configuration rejected by the check: {e}"),
            RunError::Check(e) => write!(f, "{e}"),
            RunError::Limit(hit) => write!(f, "{hit}"),
            RunError::OnNetwork {
                hit,
                endpoint,
                waiting: true,
            } => write!(f, "{hit} while waiting on the network ({endpoint})"),
            RunError::OnNetwork {
                hit,
                endpoint,
                waiting: false,
            } => write!(
                f,
                "{hit}; the network endpoint it contacted last: {endpoint}"
            ),
            RunError::Crashed(e) => write!(f, "check crashed: {e}"),
        }
    }
}

impl RunError {
    /// Whether the store was thrown away (the next run rebuilds it).
    pub fn rebuilds_instance(&self) -> bool {
        !matches!(self, RunError::Check(_))
    }

    /// Whether the instance never got configured (it is retried with
    /// back-off rather than on every tick).
    pub fn before_configured(&self) -> bool {
        matches!(self, RunError::Instantiate(_) | RunError::Configure(_))
    }
}

/// A message written by the check, made safe to print: control characters
/// escaped, at most [`MAX_ERROR_CHARS`] characters.
pub fn check_message(message: &str) -> String {
    let escaped = crate::escape::for_terminal(message);
    match escaped.char_indices().nth(MAX_ERROR_CHARS) {
        None => escaped.into_owned(),
        Some((cut, _)) => format!(
            "{}… ({} more bytes cut)",
            &escaped[..cut],
            escaped.len() - cut
        ),
    }
}

/// Name what stopped the guest: a limit we enforced, or the trap itself.
/// `output` is what the guest wrote to stderr, for a panic's message.
pub(super) fn classify_trap(
    trap: &wasmtime::Error,
    hit: Option<LimitHit>,
    output: &str,
    hostcall_fuel: usize,
) -> RunError {
    tracing::debug!(target: "check", "guest trap: {trap:?}");
    if let Some(hit) = hit {
        return RunError::Limit(hit);
    }
    if let Some(exit) = trap.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return RunError::Crashed(format!(
            "it called exit({}) instead of returning; a check must return from \
             `configure` and `run` (an error is returned as `Err`)",
            exit.0
        ));
    }
    for cause in trap.chain() {
        if cause.downcast_ref::<std::str::Utf8Error>().is_some() {
            return RunError::Crashed(format!(
                "it passed a string that is not valid UTF-8 to the runner ({cause})"
            ));
        }
        if let Some(wasmtime::component::ResourceTableError::Full) =
            cause.downcast_ref::<wasmtime::component::ResourceTableError>()
        {
            return RunError::Limit(LimitHit::Resources(super::store::MAX_RESOURCES));
        }
        if cause
            .to_string()
            .contains("fuel allocated for hostcalls has been exhausted")
        {
            return RunError::Limit(LimitHit::HostcallBytes(hostcall_fuel));
        }
    }
    if let Some(panic) = panic_message(output) {
        return RunError::Crashed(format!("panicked: {}", check_message(&panic)));
    }
    let cause = match trap.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::StackOverflow) => {
            "stack overflow (unbounded recursion?): the guest stack limit was reached".into()
        }
        Some(trap) => trap.to_string(),
        // The root cause, without wasmtime's "error while executing at
        // wasm backtrace:" preamble (logged at debug level above).
        None => check_message(&trap.root_cause().to_string()),
    };
    match last_words(output) {
        Some(words) => RunError::Crashed(format!("{cause}; it last wrote: {words}")),
        None => RunError::Crashed(cause),
    }
}

/// What a guest wrote before it trapped that says why: an interpreter's
/// fatal error (`Fatal Python error: ...`), else its last line.
fn last_words(output: &str) -> Option<String> {
    let mut lines = output.lines().map(str::trim).filter(|l| !l.is_empty());
    let fatal = output
        .lines()
        .find(|l| l.starts_with("Fatal Python error:"));
    let line = fatal.or_else(|| lines.next_back())?;
    Some(check_message(
        line.chars().take(500).collect::<String>().as_str(),
    ))
}

/// The panic message Rust's default hook printed to stderr:
/// `thread '<unnamed>' panicked at src/lib.rs:10:5:\n<message>`.
fn panic_message(output: &str) -> Option<String> {
    let at = output.rfind("panicked at ")?;
    let rest = &output[at + "panicked at ".len()..];
    let (location, message) = rest.split_once('\n').unwrap_or((rest, ""));
    let message = message
        .lines()
        .take_while(|l| !l.starts_with("note:"))
        .collect::<Vec<_>>()
        .join(" ");
    let location = location.trim_end_matches(':');
    Some(format!("{} (at {location})", message.trim()))
}

#[cfg(test)]
mod tests {
    use super::{MAX_ERROR_CHARS, check_message, panic_message};

    #[test]
    fn panic_message_is_extracted_from_stderr() {
        let stderr = "hello\nthread '<unnamed>' panicked at src/lib.rs:84:27:\n\
                      misbehave panicked on purpose (run 1)\n\
                      note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(
            panic_message(stderr).as_deref(),
            Some("misbehave panicked on purpose (run 1) (at src/lib.rs:84:27)")
        );
        assert_eq!(panic_message("no panic here"), None);
    }

    #[test]
    fn check_messages_are_escaped_and_capped() {
        assert_eq!(check_message("bad\nERROR fake"), "bad\\nERROR fake");
        let long = "x".repeat(MAX_ERROR_CHARS + 10);
        let kept = check_message(&long);
        assert!(kept.starts_with(&"x".repeat(MAX_ERROR_CHARS)));
        assert!(kept.ends_with("… (10 more bytes cut)"), "{kept}");
    }
}
