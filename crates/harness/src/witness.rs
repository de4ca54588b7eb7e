//! What `repro check` believes about a learner's copy: the facts the
//! witness (`pyrepro/witness.py`, which the copy does not contain) wrote
//! while the copy ran, held to the scenario's `[[exercise.witness]]` and
//! `[[exercise.symptom]]` rules.
//!
//! A fact is one JSON object per line: `fact` (its kind), `pid`, `who`
//! (`parent` or `child`) and fields of its kind. A rule is met by the first
//! fact of its kind whose fields hold every value the rule's `with` gives,
//! and, with `after`, that comes after the fact that met the rule so named.
//! The facts are in the order they were written (one file, `O_APPEND`), so
//! "after" is real order, across processes.
//!
//! The Rust side of the witness is here too, for the Rust exercises: the
//! scenarios take the primitives whose use shows the bug from this module
//! ([`Mutex`], [`kill`], [`sigaction`]; forks from [`crate::fork`]), which
//! behave exactly as `std` and `nix` do and, when `$REPRO_WITNESS` names a
//! file ([`init_from_env`]), write the same facts as the Python witness.
//! The learner's copy cannot see or change what they write; a copy that
//! swaps them for the raw primitives leaves the witness blind, and the
//! check says which step it did not see. Off (the corpus's own runs), each
//! costs one atomic load.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI32, Ordering};

/// The kinds of fact the witness writes (a rule naming another is a load
/// error, not a rule that can never be met).
pub const KINDS: &[&str] = &[
    "fork",
    "child",
    "lock-acquire",
    "signal",
    "handler-ran",
    "wakeup-fd",
    "kill",
    "spawn",
    "epoll-register",
    "epoll-poll",
    "gc",
    "switch",
    "stdio-text",
    "stdio-write",
    "random-draw",
];

/// The kind the witness writes when the copy took one of its wrappers away.
pub const TAMPERED: &str = "tampered";

/// One thing the run must show, as the witness saw it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// A name, for another rule's `after`.
    #[serde(default)]
    pub id: Option<String>,
    /// The kind of fact (one of [`KINDS`]).
    pub fact: String,
    /// Field values the fact must have (`who = "child"`, `signum = 15`).
    #[serde(default)]
    pub with: BTreeMap<String, Value>,
    /// Only a fact written after the one that met this rule (its `id`).
    #[serde(default)]
    pub after: Option<String>,
    /// What it means, for the learner: "the child takes LOCK".
    pub says: String,
}

/// Checks a list of rules: known kinds, `after` naming an earlier rule.
///
/// # Errors
/// The first problem, naming the rule.
pub fn check_rules(key: &str, rules: &[Rule]) -> Result<(), String> {
    for (i, r) in rules.iter().enumerate() {
        if !KINDS.contains(&r.fact.as_str()) {
            return Err(format!(
                "key `{key}`: fact {:?} is not one the witness writes (known: {})",
                r.fact,
                KINDS.join(", ")
            ));
        }
        if let Some(after) = &r.after {
            if !rules[..i].iter().any(|e| e.id.as_deref() == Some(after)) {
                return Err(format!(
                    "key `{key}`: `after = {after:?}` names no earlier rule's id"
                ));
            }
        }
    }
    Ok(())
}

/// Parses the witness's file: one JSON object per line.
///
/// # Errors
/// A line that is not a JSON object with a `fact`.
pub fn parse(text: &str) -> Result<Vec<Map<String, Value>>, String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| match serde_json::from_str::<Value>(l) {
            Ok(Value::Object(m)) if m.get("fact").is_some_and(Value::is_string) => Ok(m),
            _ => Err(format!("witness line {}: not a fact: {l:?}", i + 1)),
        })
        .collect()
}

/// For each rule, the index of the fact that met it, or None.
#[must_use]
pub fn meet(rules: &[Rule], facts: &[Map<String, Value>]) -> Vec<Option<usize>> {
    let mut met: Vec<Option<usize>> = Vec::with_capacity(rules.len());
    for r in rules {
        let from = match &r.after {
            None => Some(0),
            Some(after) => rules
                .iter()
                .zip(&met)
                .find(|(e, _)| e.id.as_deref() == Some(after))
                .and_then(|(_, at)| at.map(|at| at + 1)),
        };
        let found = from.and_then(|from| {
            facts
                .iter()
                .enumerate()
                .skip(from)
                .find(|(_, f)| matches(r, f))
                .map(|(i, _)| i)
        });
        met.push(found);
    }
    met
}

fn matches(rule: &Rule, fact: &Map<String, Value>) -> bool {
    fact.get("fact").and_then(Value::as_str) == Some(rule.fact.as_str())
        && rule
            .with
            .iter()
            .all(|(k, want)| fact.get(k).is_some_and(|got| same(got, want)))
}

/// JSON equality, with numbers compared by value (TOML's `15` and
/// Python's `15` may arrive as different number kinds).
fn same(got: &Value, want: &Value) -> bool {
    match (got.as_f64(), want.as_f64()) {
        (Some(a), Some(b)) => a == b,
        _ => got == want,
    }
}

/// What the copy took away from the witness (its `tampered` facts).
#[must_use]
pub fn tampered(facts: &[Map<String, Value>]) -> Vec<String> {
    facts
        .iter()
        .filter(|f| f.get("fact").and_then(Value::as_str) == Some(TAMPERED))
        .flat_map(|f| {
            f.get("what")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|w| w.as_str().unwrap_or("?").to_owned())
        })
        .collect()
}

static FD: AtomicI32 = AtomicI32::new(-1);
static ROOT: AtomicI32 = AtomicI32::new(0);

/// Turns the Rust witness on if `$REPRO_WITNESS` names a file (what `repro
/// check --runtime rust` sets), and takes the variable out of the
/// environment. Call first thing in `main`, while single-threaded.
pub fn init_from_env() {
    let Some(path) = std::env::var_os("REPRO_WITNESS") else {
        return;
    };
    // SAFETY: called at the start of main, before any other thread exists
    // (this function's contract), so nothing reads the environment now.
    unsafe { std::env::remove_var("REPRO_WITNESS") };
    let file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path);
    if let Ok(file) = file {
        ROOT.store(std::process::id() as i32, Ordering::SeqCst);
        // Kept open for the life of the process (and its forks): O_APPEND,
        // O_CLOEXEC (std opens with it), one write per fact.
        FD.store(std::os::fd::IntoRawFd::into_raw_fd(file), Ordering::SeqCst);
    }
}

/// Whether the witness is on in this process.
#[must_use]
pub fn on() -> bool {
    FD.load(Ordering::Relaxed) >= 0
}

/// A field value of a fact.
#[derive(Clone, Copy, Debug)]
pub enum Val<'a> {
    /// A string.
    Str(&'a str),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
}

/// A fixed buffer that formats without allocating: a forked child of a
/// threaded parent must not touch the allocator.
struct Line {
    buf: [u8; 1024],
    len: usize,
}

impl std::fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

fn json_str(line: &mut Line, s: &str) -> std::fmt::Result {
    use std::fmt::Write as _;
    line.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => line.write_str("\\\"")?,
            '\\' => line.write_str("\\\\")?,
            c if (c as u32) < 0x20 => write!(line, "\\u{:04x}", c as u32)?,
            c => line.write_char(c)?,
        }
    }
    line.write_char('"')
}

/// Writes one fact (`fact`, `pid`, `who` and `fields`) if the witness is
/// on: one `write(2)` of one line, without allocating (safe in a forked
/// child). A fact too long for the buffer is dropped, never cut.
pub fn emit(fact: &str, fields: &[(&str, Val<'_>)]) {
    use std::fmt::Write as _;
    let fd = FD.load(Ordering::Relaxed);
    if fd < 0 {
        return;
    }
    let pid = std::process::id() as i32;
    let who = if pid == ROOT.load(Ordering::Relaxed) {
        "parent"
    } else {
        "child"
    };
    let mut line = Line {
        buf: [0; 1024],
        len: 0,
    };
    let mut body = || -> std::fmt::Result {
        line.write_str("{\"fact\": ")?;
        json_str(&mut line, fact)?;
        write!(line, ", \"pid\": {pid}, \"who\": \"{who}\"")?;
        for (k, v) in fields {
            line.write_str(", ")?;
            json_str(&mut line, k)?;
            line.write_str(": ")?;
            match v {
                Val::Str(s) => json_str(&mut line, s)?,
                Val::Int(n) => write!(line, "{n}")?,
                Val::Bool(b) => write!(line, "{b}")?,
            }
        }
        line.write_str("}\n")
    };
    if body().is_err() {
        return;
    }
    // SAFETY: write(2) of a buffer we own to the witness's fd.
    unsafe { libc::write(fd, line.buf.as_ptr().cast(), line.len) };
}

/// The caller's thread, as the witness names it: `main` or `other`.
fn thread() -> &'static str {
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    if tid == std::process::id() as i32 {
        "main"
    } else {
        "other"
    }
}

/// `std::sync::Mutex`, watched: each `lock` writes a `lock-acquire` fact
/// (its name, the thread) before it takes the lock, which may never come.
#[derive(Debug)]
pub struct Mutex<T> {
    name: &'static str,
    inner: std::sync::Mutex<T>,
}

impl<T> Mutex<T> {
    /// A mutex the witness knows as `name` (the static's own name).
    pub const fn named(name: &'static str, value: T) -> Mutex<T> {
        Mutex {
            name,
            inner: std::sync::Mutex::new(value),
        }
    }

    /// As [`std::sync::Mutex::lock`].
    ///
    /// # Errors
    /// As [`std::sync::Mutex::lock`]: poisoned.
    pub fn lock(&self) -> std::sync::LockResult<std::sync::MutexGuard<'_, T>> {
        emit(
            "lock-acquire",
            &[
                ("lock", Val::Str(self.name)),
                ("thread", Val::Str(thread())),
            ],
        );
        self.inner.lock()
    }
}

fn ppid_and_children(pid: i32) -> (Option<i32>, bool) {
    let ppid_of = |stat: &str| -> Option<i32> {
        stat.rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    let ppid = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| ppid_of(&s));
    let children = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
                && std::fs::read_to_string(e.path().join("stat"))
                    .ok()
                    .and_then(|s| ppid_of(&s))
                    == Some(pid)
        });
    (ppid, children)
}

/// As [`nix::sys::signal::kill`], watched: a `kill` fact (the signal,
/// whether the target is the caller's child and has children of its own),
/// read from `/proc` before the signal is sent. Not for a forked child of
/// a threaded parent (it reads `/proc`, which allocates).
///
/// # Errors
/// As [`nix::sys::signal::kill`].
pub fn kill<T: Into<Option<nix::sys::signal::Signal>>>(
    pid: nix::unistd::Pid,
    signal: T,
) -> nix::Result<()> {
    let signal = signal.into();
    if on() && pid.as_raw() > 0 {
        let (ppid, children) = ppid_and_children(pid.as_raw());
        emit(
            "kill",
            &[
                ("signum", Val::Int(signal.map_or(0, |s| s as i64))),
                (
                    "target_is_child",
                    Val::Bool(ppid == Some(std::process::id() as i32)),
                ),
                ("target_has_children", Val::Bool(children)),
            ],
        );
    }
    nix::sys::signal::kill(pid, signal)
}

/// As [`nix::sys::signal::sigaction`], watched: a `signal` fact (the
/// signal; `handler`, `default` or `ignore`). No allocation.
///
/// # Errors
/// As [`nix::sys::signal::sigaction`].
///
/// # Safety
/// As [`nix::sys::signal::sigaction`].
pub unsafe fn sigaction(
    signal: nix::sys::signal::Signal,
    action: &nix::sys::signal::SigAction,
) -> nix::Result<nix::sys::signal::SigAction> {
    use nix::sys::signal::SigHandler;
    let kind = match action.handler() {
        SigHandler::SigDfl => "default",
        SigHandler::SigIgn => "ignore",
        _ => "handler",
    };
    emit(
        "signal",
        &[
            ("signum", Val::Int(signal as i64)),
            ("action", Val::Str(kind)),
        ],
    );
    // SAFETY: forwarded to the caller.
    unsafe { nix::sys::signal::sigaction(signal, action) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(toml_text: &str) -> Rule {
        toml::from_str(toml_text).unwrap()
    }

    fn facts(lines: &str) -> Vec<Map<String, Value>> {
        parse(lines).unwrap()
    }

    const RUN: &str = r#"
{"fact": "fork", "pid": 1, "who": "parent", "held": ["LOCK"]}
{"fact": "epoll-register", "pid": 2, "who": "child", "inherited": true}
{"fact": "lock-acquire", "pid": 2, "who": "child", "lock": "LOCK", "thread": "main"}
{"fact": "epoll-poll", "pid": 1, "who": "parent", "foreign": true}
{"fact": "kill", "pid": 1, "who": "parent", "signum": 15, "target_is_child": true}
"#;

    #[test]
    fn a_rule_is_met_by_a_fact_with_every_value_it_names() {
        let f = facts(RUN);
        let child_lock =
            rule("fact = 'lock-acquire'\nwith = { who = 'child', lock = 'LOCK' }\nsays = 'x'");
        let parent_lock = rule("fact = 'lock-acquire'\nwith = { who = 'parent' }\nsays = 'x'");
        let sigterm = rule("fact = 'kill'\nwith = { signum = 15.0 }\nsays = 'x'");
        let sigkill = rule("fact = 'kill'\nwith = { signum = 9 }\nsays = 'x'");
        let absent_field = rule("fact = 'fork'\nwith = { threads = 2 }\nsays = 'x'");
        assert_eq!(
            meet(
                &[child_lock, parent_lock, sigterm, sigkill, absent_field],
                &f
            ),
            vec![Some(2), None, Some(4), None, None]
        );
    }

    #[test]
    fn after_means_later_in_the_file() {
        let f = facts(RUN);
        let reg = rule("id = 'reg'\nfact = 'epoll-register'\nsays = 'x'");
        let poll_after = rule("fact = 'epoll-poll'\nafter = 'reg'\nsays = 'x'");
        let fork_after = rule("fact = 'fork'\nafter = 'reg'\nsays = 'x'");
        assert_eq!(
            meet(&[reg.clone(), poll_after, fork_after], &f),
            vec![Some(1), Some(3), None]
        );
        // Unmet, so nothing can come after it.
        let never = rule("id = 'reg'\nfact = 'spawn'\nsays = 'x'");
        let poll_after = rule("fact = 'epoll-poll'\nafter = 'reg'\nsays = 'x'");
        assert_eq!(meet(&[never, poll_after], &f), vec![None, None]);
    }

    #[test]
    fn rules_are_checked_on_load() {
        let typo = rule("fact = 'forks'\nsays = 'x'");
        assert!(check_rules("w", &[typo]).unwrap_err().contains("\"forks\""));
        let dangling = rule("fact = 'fork'\nafter = 'nope'\nsays = 'x'");
        assert!(check_rules("w", &[dangling]).unwrap_err().contains("nope"));
        let ok = [
            rule("id = 'a'\nfact = 'fork'\nsays = 'x'"),
            rule("fact = 'child'\nafter = 'a'\nsays = 'x'"),
        ];
        assert_eq!(check_rules("w", &ok), Ok(()));
    }

    #[test]
    fn garbage_is_an_error_and_tampering_is_reported() {
        assert!(parse("{\"fact\": \"fork\"}\nnot json\n").is_err());
        assert!(parse("[1, 2]\n").is_err());
        let f = facts("{\"fact\": \"tampered\", \"what\": [\"select.epoll\", \"gc.callbacks\"]}\n");
        assert_eq!(tampered(&f), vec!["select.epoll", "gc.callbacks"]);
        assert!(tampered(&facts(RUN)).is_empty());
    }
}
