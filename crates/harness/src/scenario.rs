//! What a Rust scenario hands back, and how it becomes a verdict record.
//!
//! A scenario never states its verdict. It returns an [`Observation`]: the
//! symptom it saw (if any) and the evidence. The verdict follows from that
//! alone (`misbehaved` iff a symptom was seen), so a verdict cannot be
//! hard-coded apart from what was observed.

use crate::record::{PythonInfo, Record, Runtime, TraceEvent, Verdict};
use crate::sys::kernel_release;
use serde_json::Value;
use std::time::Instant;

/// What a scenario saw.
#[derive(Debug, Clone, Default)]
pub struct Observation {
    /// The symptom id, if the bug showed.
    pub symptom: Option<&'static str>,
    /// Short strings or small objects proving it either way.
    pub evidence: Vec<Value>,
    /// The timeline (`crate::trace::Trace::finish`), if recorded.
    pub trace: Option<Vec<TraceEvent>>,
}

impl Observation {
    /// Adds one piece of evidence.
    pub fn note(&mut self, evidence: impl Into<Value>) -> &mut Self {
        self.evidence.push(evidence.into());
        self
    }
}

/// A Rust scenario's entry point: runs `variant` (already known to exist)
/// and reports what it saw, or why it could not run.
pub type RustRun = fn(variant: &str) -> Result<Observation, String>;

/// Embedded-runtime variants written in Rust: code that drives the embedded
/// interpreter itself (say, a native `fork()` while a Python thread holds
/// the GIL), run through `pyhost::run_native`. A scenario's `native.rs`
/// declares `pub const NATIVE: NativeRun`; it is compiled into
/// `repro-embedded` only, the one program that links libpython.
#[derive(Debug, Clone, Copy)]
pub struct NativeRun {
    /// The variant ids this handles; other embedded variants run pyrepro.
    pub variants: &'static [&'static str],
    /// Runs one of them; the interpreter is initialised and checked.
    pub run: RustRun,
}

/// What a scenario runs in Rust: its Rust variants, if it has any. A
/// scenario's `lib.rs` declares `pub const RUNS: Runs`; one without a
/// `lib.rs` has [`Runs::NONE`]. (Its embedded variants written in Rust are
/// a [`NativeRun`], apart.)
#[derive(Debug, Clone, Copy)]
pub struct Runs {
    /// The Rust-native variants, if it has any.
    pub rust: Option<RustRun>,
}

impl Runs {
    /// A scenario with no Rust code: its cases are all pyrepro's.
    pub const NONE: Runs = Runs { rust: None };
}

/// One scenario as the `repro` binary knows it: its directory's files,
/// compiled in (the `corpus` crate's build script writes one per directory).
#[derive(Debug, Clone, Copy)]
pub struct ScenarioDef {
    /// Its id: the name of its directory, and its `scenario.toml`'s `id`.
    pub id: &'static str,
    /// Its directory, from the checkout's root (`crates/corpus/<id>`).
    pub dir: &'static str,
    /// Its `scenario.toml`, from the checkout's root, for messages.
    pub spec_path: &'static str,
    /// The text of its `scenario.toml`.
    pub spec_toml: &'static str,
    /// Its lesson, its `README.md` (`repro explain`).
    pub lesson: &'static str,
    /// Its Rust code.
    pub runs: Runs,
}

/// Builds the record for a run of `variant` that started at `start`.
pub fn record(
    scenario: &str,
    runtime: Runtime,
    variant: &str,
    python: Option<PythonInfo>,
    start: Instant,
    outcome: Result<Observation, String>,
) -> Record {
    let elapsed_ms = start.elapsed().as_secs_f64() * 1000.0;
    let (verdict, symptom, evidence, reason, trace) = match outcome {
        Ok(obs) => (
            if obs.symptom.is_some() {
                Verdict::Misbehaved
            } else {
                Verdict::Behaved
            },
            obs.symptom.map(str::to_owned),
            obs.evidence,
            None,
            obs.trace,
        ),
        Err(why) => (Verdict::Error, None, Vec::new(), Some(why), None),
    };
    Record {
        scenario: scenario.to_owned(),
        runtime,
        variant: variant.to_owned(),
        verdict,
        symptom,
        evidence,
        reason,
        python,
        kernel: kernel_release(),
        elapsed_ms,
        wall_ms: None,
        trace,
        expected: None,
        as_expected: None,
    }
}
