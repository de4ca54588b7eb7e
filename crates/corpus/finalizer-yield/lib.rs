//! # finalizer-yield: a finalizer that re-enters the scheduler it runs on
//!
//! The lesson (what you will see, the story, the mechanism, the fix) is
//! `README.md` beside this file: `repro explain finalizer-yield`. Here: the
//! Rust variants and how each reaches its verdict; `repro diff finalizer-yield`
//! shows each fix, read from the code marked `FIX`.
//!
//! **The Rust analogue.** A `Drop` that writes its record with
//! `futures::executor::block_on`, while the value is dropped inside a task
//! that a `LocalPool` is running. `block_on` refuses to nest: it panics with
//! "cannot execute `LocalPool` executor from within another executor", and
//! the record is lost (`broken`). If the drop happens while the task is
//! already unwinding from a panic, that second panic aborts the whole
//! process (`broken-abort`: the supervisor reports it `crashed`, SIGABRT).

use futures::StreamExt;
use futures::channel::mpsc;
use futures::executor::{LocalPool, block_on};
use futures::task::LocalSpawnExt;
use harness::scenario::Observation;
use harness::trace::Trace;
use serde_json::json;
use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

/// What the `corpus` crate registers: the Rust variants (and the embedded
/// ones written in Rust).
pub const RUNS: harness::scenario::Runs = harness::scenario::Runs { rust: Some(run) };

/// The symptom id: a destructor re-entered the executor running it.
pub const REENTERED_EXECUTOR: &str = "reentered-executor";

/// Where records end up: the log the story's finalizer was writing to.
type Log = Rc<RefCell<Vec<String>>>;

/// Writes one record; asynchronous, like a socket send.
async fn write_record(log: Log, record: String) {
    futures::future::ready(()).await;
    log.borrow_mut().push(record);
}

/// A value whose destructor writes a record ("connection closed").
struct Connection {
    log: Log,
    /// With the fix: where the destructor hands its record instead.
    deferred: Option<mpsc::UnboundedSender<String>>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        let record = "connection closed".to_owned();
        // repro:diff fixed
        if let Some(tx) = &self.deferred {
            // FIX: hand the record over; a task on the pool writes it.
            let _ = tx.unbounded_send(record);
        } else {
            block_on(write_record(self.log.clone(), record));
        }
    }
}

/// The panic message of a caught panic.
fn message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "<non-string panic>".to_owned())
}

/// Runs a Rust variant.
///
/// # Errors
/// For an unknown variant.
pub fn run(variant: &str) -> Result<Observation, String> {
    let log = Log::default();
    let mut pool = LocalPool::new();
    let mut obs = Observation::default();
    match variant {
        "broken" | "fixed" => {
            let deferred = if variant == "fixed" {
                let (tx, mut rx) = mpsc::unbounded::<String>();
                let flusher_log = log.clone();
                pool.spawner()
                    .spawn_local(async move {
                        while let Some(record) = rx.next().await {
                            write_record(flusher_log.clone(), record).await;
                        }
                    })
                    .map_err(|e| format!("spawn_local: {e}"))?;
                Some(tx)
            } else {
                None
            };
            let mut tr = Trace::new().map_err(|e| format!("pipe: {e}"))?;
            tr.event(
                "task",
                if deferred.is_some() {
                    "drop(conn) in a pool task: Drop sends the record to a channel"
                } else {
                    "drop(conn) in a pool task: Drop calls block_on(write_record)"
                },
            );
            let conn_log = log.clone();
            let task = async move {
                let conn = Connection {
                    log: conn_log,
                    deferred,
                };
                drop(conn); // the value dies inside a task the pool runs
            };
            // The default hook would print the panic; it is evidence here.
            let hook = std::panic::take_hook();
            std::panic::set_hook(Box::new(|_| {}));
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                pool.run_until(task);
                pool.run(); // the flusher, with the fix
            }));
            std::panic::set_hook(hook);
            match &outcome {
                Err(payload) => tr.event("task", format!("panic: {}", message(payload.as_ref()))),
                Ok(()) => tr.event("flusher", format!("records written: {:?}", *log.borrow())),
            }
            obs.trace = Some(tr.finish());
            if let Err(payload) = outcome {
                obs.symptom = Some(REENTERED_EXECUTOR);
                obs.note(format!(
                    "the destructor panicked inside the pool: {}",
                    message(payload.as_ref())
                ));
                obs.note("the destructor's record was lost: it never reached the log");
            }
            obs.note(json!({ "records_written": *log.borrow() }));
        }
        "broken-abort" => {
            // One line per panic on stderr (the supervisor keeps it as
            // evidence); the runtime forces a backtrace on the second.
            std::panic::set_hook(Box::new(|info| {
                let msg = message(info.payload());
                eprintln!("panicked: {msg}");
            }));
            pool.run_until(async move {
                let _conn = Connection {
                    log,
                    deferred: None,
                };
                // The request fails; unwinding drops the connection, whose
                // destructor panics again: a panic during a panic aborts.
                panic!("the request failed");
            });
            return Err("unreachable: the process should have aborted".into());
        }
        other => return Err(format!("finalizer-yield has no rust variant {other:?}")),
    }
    Ok(obs)
}
