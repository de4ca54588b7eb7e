// One integration-test binary. Every test spawns `repro` (or an
// interpreter); none forks inside the test process.

// Running repro, parsing its records, showing everything on failure.
mod util;

// The case book: every case run once, shared by the tests that assert on it.
mod book;

// The corpus: one set of scenario directories, seen alike by the binary,
// pyrepro and the scenario.toml files.
mod corpus;

// How each scenario behaves across CPython releases, from the history of
// upstream fixes, asserted independently of scenario.toml.
mod history;

// shared-epoll: runtime x variant, verdict, symptom and evidence.
mod shared_epoll;

// signal-wakeup-fd: the same, with expectations by interpreter version.
mod signal_wakeup_fd;

// fork-held-lock: deadlocks detected from /proc, in three runtimes and natively.
mod fork_held_lock;

// finalizer-yield: gevent (from make setup's .venv) and a Rust executor.
mod finalizer_yield;

// sigterm-zombie: the worker's child, orphaned, a zombie in /proc.
mod sigterm_zombie;

// pool-worker-raise: terminate() deadlocks when a worker's handler raises.
mod pool_worker_raise;

// fork-stdio-duplicate: a line printed before a fork, twice in the stream.
mod fork_stdio_duplicate;

// fork-rng: forked workers draw the same numbers; the random module's
// generator reseeded at fork since 3.7.
mod fork_rng;

// signal-reentrant-print: a handler's print on top of a blocked write.
mod signal_reentrant_print;

// fork-cow-gc: a worker's collection copies the pages the fork shared.
mod fork_cow_gc;

// repro new: a scaffolded scenario, in a copy of the tree, covered by the
// suite with no other edit (ignored in a plain cargo test; make test runs it).
mod scaffold;

// make interpreters: its refusals, PyPy's fallbacks, the provisioned ones.
mod interpreters;

// repro kernels: a kernel booted in QEMU, its drift, its interruption; the
// one time factor.
mod kernels;

// repro run --trace: each timeline tells its story, in every runtime.
mod trace;

// repro run --strace: the syscalls that give each bug away.
mod strace;

// repro diff: every fix, extracted from the real source.
mod diff;

// repro exercise / check: the real verdict on a learner's copy, judged by
// what the witness saw; fake fixes refused.
mod exercise;

// repro run --svg, repro report, Mermaid diagrams: parsed, and seen in
// headless Chromium.
mod pictures;

// repro explain: the lessons are complete, 80 columns, and their commands run.
mod explain;

// The canary: drift named exactly (on a copy of a scenario.toml), reports valid.
mod canary;

// The supervisor's guarantees, end to end: hung, crashed, leaked, garbage.
mod supervisor;

// Nothing left behind, even when repro is interrupted mid-deadlock.
mod leaks;

// repro bench: figures from the runs, hang detection times.
mod bench;

// repro stress: rounds, and every kind of problem counted.
mod stress;

// Every usage error: message and exit code 2.
mod usage;

// One schema on both sides; pyrepro and scenario.toml agree.
mod schema;

// pyrepro/requirements.txt: pinned, each pin with its reason.
mod requirements;
