//! # fork-cow-gc: the Rust variants
//!
//! The lesson is `README.md` beside this file (`repro explain fork-cow-gc`).
//! Rust has no collector; its twin of a collection that writes to every
//! object is reference counting: cloning an `Arc` writes its count, in the
//! same allocation as the value, so a worker that clones each `Arc` of the
//! state it shares copies every page of it, as CPython's refcounts and
//! collector do.
//!
//! ## How the verdict is reached, without a clock
//!
//! 1. The service builds its state, [`OBJECTS`] `Arc`s, and measures its own
//!    Rss growth: the size of what the fork will share.
//! 2. It forks a worker; reads the worker's `Private_Dirty`
//!    (`/proc/<pid>/smaps_rollup`) once the worker is up, lets it work, and
//!    reads it again once the worker is done (ordered by pipes).
//! 3. Growth above half the state is the symptom.

use harness::fork::{Event, describe, fork_child};
use harness::scenario::Observation;
use harness::trace::Trace;
use serde_json::json;
use std::sync::Arc;

/// What the `corpus` crate registers: the Rust variants.
pub const RUNS: harness::scenario::Runs = harness::scenario::Runs { rust: Some(run) };

/// The symptom id: the worker made the shared pages its own.
pub const PAGES_COPIED: &str = "pages-copied";

/// The values the service keeps, each in an `Arc` of its own.
pub const OBJECTS: u64 = 200_000;

/// One field of `/proc/<pid>/smaps_rollup`, in kB.
fn smaps_kb(pid: i32, field: &str) -> Result<u64, String> {
    let path = format!("/proc/{pid}/smaps_rollup");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("{path} has no {field}"))
}

/// Runs the `broken` or `fixed` variant.
///
/// # Errors
/// A message if a setup step (pipe, fork, /proc) fails, or for an unknown
/// variant.
pub fn run(variant: &str) -> Result<Observation, String> {
    let read_only = match variant {
        "broken" => false,
        "fixed" => true,
        other => return Err(format!("fork-cow-gc has no rust variant {other:?}")),
    };
    let mut tr = Trace::new().map_err(|e| format!("pipe: {e}"))?;
    let me = nix::unistd::getpid().as_raw();
    let rss_before = smaps_kb(me, "Rss")?;
    let state: Vec<Arc<u64>> = (0..OBJECTS).map(Arc::new).collect();
    let shared_kb = smaps_kb(me, "Rss")?.saturating_sub(rss_before);
    tr.event(
        "parent",
        format!("built the service's state: {OBJECTS} Arc<u64>, Rss +{shared_kb} kB"),
    );
    let mut forked = Event::new("forked").map_err(|e| format!("pipe: {e}"))?;
    let mut go = Event::new("go").map_err(|e| format!("pipe: {e}"))?;
    let mut worked = Event::new("worked").map_err(|e| format!("pipe: {e}"))?;
    let mut done = Event::new("done").map_err(|e| format!("pipe: {e}"))?;
    let ct = tr.child();
    let worker = || {
        forked.notify().expect("notify forked");
        go.wait().expect("wait go");
        // repro:diff fixed
        let sum: u64 = if read_only {
            // FIX: read through &u64: no count is written, the pages stay
            // shared.
            state.iter().map(|a| **a).sum()
        } else {
            // Each clone writes the count beside the value (and the drop
            // writes it back).
            state.iter().map(|a| *Arc::clone(a)).sum()
        };
        ct.event(format_args!(
            "{} {OBJECTS} values: sum {sum}",
            if read_only { "read" } else { "cloned" }
        ));
        worked.notify().expect("notify worked");
        let _ = done.wait();
        0
    };
    tr.fork();
    // SAFETY: the scenario process is single-threaded.
    let child = unsafe { fork_child(worker) }.map_err(|e| format!("fork: {e}"))?;
    let pid = child.pid().as_raw();
    forked.wait().map_err(|e| format!("wait forked: {e}"))?;
    let at_fork = smaps_kb(pid, "Private_Dirty")?;
    go.notify().map_err(|e| format!("notify go: {e}"))?;
    worked.wait().map_err(|e| format!("wait worked: {e}"))?;
    let after = smaps_kb(pid, "Private_Dirty")?;
    done.notify().map_err(|e| format!("notify done: {e}"))?;
    let status = child.wait().map_err(|e| format!("waitpid: {e}"))?;
    drop(state);
    let dirtied = after.saturating_sub(at_fork);
    tr.event(
        "parent",
        format!(
            "worker {pid} Private_Dirty: {at_fork} kB after the fork, {after} kB after its \
             work: +{dirtied} kB of {shared_kb} kB shared"
        ),
    );
    let mut obs = Observation::default();
    obs.note(json!({
        "state_kb": shared_kb,
        "private_dirty_at_fork_kb": at_fork,
        "private_dirty_after_collect_kb": after,
        "dirtied_kb": dirtied,
        "line_kb": shared_kb / 2,
    }));
    obs.note(format!("child {pid} (the worker): {}", describe(status)));
    if dirtied > shared_kb / 2 {
        obs.symptom = Some(PAGES_COPIED);
        tr.event(
            "parent",
            format!("the count writes copied the shared pages: +{dirtied} kB"),
        );
        obs.note(format!(
            "the worker's Arc clones made {dirtied} kB private (/proc/{pid}/smaps_rollup): \
             {}% of the {shared_kb} kB of state it shared with the service at the fork",
            100 * dirtied / shared_kb.max(1)
        ));
    } else {
        obs.note(format!(
            "the worker's reads made {dirtied} kB private: the {shared_kb} kB of state stay \
             shared"
        ));
    }
    obs.trace = Some(tr.finish());
    Ok(obs)
}
