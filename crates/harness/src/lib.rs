//! The ground every `repro` scenario stands on.
//!
//! Reproducing a concurrency bug on demand is mostly about what happens
//! around it. The scenario process forks on purpose, sometimes deadlocks on
//! purpose, and must still come back every time. Whatever it saw has to read
//! the same whether Rust, a standalone Python or an embedded Python saw it.
//! And "did it reproduce?" must be a fact observed by the process, not a
//! guess made from a clock.
//!
//! So this crate holds:
//!
//! * [`record`]: the verdict record, the one JSON line each scenario prints.
//!   The Rust type is the schema, and the Python side is checked against it.
//! * [`spec`]: `scenario.toml`, which says what each case must do on each
//!   runtime and interpreter (expectations are data).
//! * [`supervisor`]: runs one scenario process in its own process group,
//!   with a pidfd watchdog, and kills and reaps everything it left.
//! * [`case`]: turns what the supervisor saw into the case's record.
//! * [`procfs`]: the `/proc` probes that give the evidence (epoll `fdinfo`,
//!   `stat`, `wchan`, `syscall`).
//! * [`fork`]: forking inside a scenario process, with the child's life
//!   bounded, and [`fork::Event`] pipes to order the two processes.
//! * [`hang`]: deciding that a child is deadlocked, from its silence and
//!   from `/proc`, instead of waiting it out.
//! * [`scenario`]: what a Rust scenario returns, and how a verdict follows
//!   from it.
//! * [`python`]: finding and checking interpreters, and a clean environment.
//! * [`bytecode`]: `pyrepro` compiled once per interpreter, never stale.
//! * [`kept`]: the small files kept between runs (checks, stamps).
//! * [`trace`]: the timeline of a run (`repro run --trace`).
//! * [`witness`]: what `repro check` believes about a learner's copy.
//!
//! The key decision is that **no verdict is ever decided by waiting out a
//! clock**. Events are ordered with pipes and `waitpid`, and absence is
//! decided by a zero-timeout check made after the peer has acknowledged. The
//! only clock is the supervisor's deadline, and when it fires the verdict is
//! `hung`, never `behaved`.

pub mod bytecode;
pub mod case;
pub mod fork;
pub mod hang;
pub mod kept;
pub mod procfs;
pub mod python;
pub mod record;
pub mod scenario;
pub mod spec;
pub mod supervisor;
pub mod sys;
pub mod trace;
pub mod witness;

pub use record::{Expected, PythonInfo, Record, Runtime, TraceEvent, Verdict};
