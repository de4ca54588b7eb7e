//! The verdict record: the one JSON line every scenario process prints.
//!
//! This type *is* the schema. Rust scenarios build it directly; the Python
//! side (`pyrepro/_record.py`) builds the same object, and
//! [`Record::from_json_line`] is what both are held to: unknown fields are
//! rejected, ids must be kebab-case, and the invariants in
//! [`Record::validate`] must hold. The integration tests feed every Python
//! record through it, so the two sides cannot drift apart silently.
//!
//! A scenario process only ever reports [`Verdict::Misbehaved`] or
//! [`Verdict::Behaved`]. The supervisor adds the other four when the process
//! could not give a verdict of its own, and fills `expected`/`as_expected`
//! from the scenario's `scenario.toml`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Which runtime ran the scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Runtime {
    /// The Rust-native variant, in the `repro` binary itself
    /// (`repro internal-run`).
    Rust,
    /// `python -m pyrepro run …` on a standalone interpreter.
    Python,
    /// The same pyrepro code inside a CPython embedded by `pyhost`.
    Embedded,
}

impl Runtime {
    /// Every runtime, in display order.
    pub const ALL: [Runtime; 3] = [Runtime::Rust, Runtime::Python, Runtime::Embedded];

    /// The stable id (`rust`, `python`, `embedded`).
    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::Rust => "rust",
            Runtime::Python => "python",
            Runtime::Embedded => "embedded",
        }
    }

    /// Parses a stable id.
    pub fn parse(s: &str) -> Option<Runtime> {
        Runtime::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether this runtime runs Python code (and so reports an interpreter).
    pub fn is_python(self) -> bool {
        !matches!(self, Runtime::Rust)
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of one case. The ids are stable: tests, the canary and
/// dashboards match on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The bug happened: the scenario observed the symptom.
    Misbehaved,
    /// The scenario ran to the point where the bug would show, and it did not.
    Behaved,
    /// Supervisor only: the scenario process did not finish before the
    /// watchdog's deadline; its process group was killed and reaped.
    Hung,
    /// Supervisor only: the scenario process died by a signal or exited
    /// without printing a verdict.
    Crashed,
    /// Supervisor or scenario: the case cannot run here (a missing module, an
    /// interpreter too old); `reason` says why.
    Skipped,
    /// Supervisor or scenario: the scenario could not do its job (a setup
    /// step failed, the record did not parse); `reason` says why.
    Error,
}

impl Verdict {
    /// The stable id (`misbehaved`, `behaved`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Misbehaved => "misbehaved",
            Verdict::Behaved => "behaved",
            Verdict::Hung => "hung",
            Verdict::Crashed => "crashed",
            Verdict::Skipped => "skipped",
            Verdict::Error => "error",
        }
    }

    /// Whether the scenario itself reached a verdict on the bug.
    pub fn is_conclusive(self) -> bool {
        matches!(self, Verdict::Misbehaved | Verdict::Behaved)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The interpreter a Python case ran on, as the interpreter itself reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PythonInfo {
    /// `platform.python_version()`, e.g. `3.11.7`.
    pub version: String,
    /// `platform.python_implementation()`, e.g. `CPython`.
    pub implementation: String,
    /// `sys.executable` (standalone) or the embedding binary (embedded).
    pub executable: String,
    /// Embedded only: the libpython the process actually mapped, from
    /// `/proc/self/maps`. This is the proof that the embedded interpreter is
    /// the one the binary was built for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub library: Option<String>,
    /// A free-threaded build (`Py_GIL_DISABLED`, CPython's `--disable-gil`);
    /// written only when true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub free_threaded: bool,
    /// On a free-threaded build: whether the GIL is on all the same
    /// (`sys._is_gil_enabled()`: an extension module that does not declare
    /// free-threading support turns it back on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gil_enabled: Option<bool>,
}

impl PythonInfo {
    /// What an expectation can be keyed by (`scenario.toml` overrides).
    pub fn interpreter(&self) -> crate::spec::Interpreter {
        crate::spec::Interpreter {
            version: self.version.clone(),
            implementation: self.implementation.clone(),
            free_threaded: self.free_threaded,
        }
    }
}

/// One event of a run's timeline (`repro run --trace`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceEvent {
    /// Milliseconds relative to the fork (negative before it).
    pub t_ms: f64,
    /// Who did it: `parent`, `child`, or a greenlet's name.
    pub lane: String,
    /// What it did, in a few words (`epoll_ctl(ADD, 7) on inherited fd 3`).
    pub what: String,
}

/// What `scenario.toml` expects of one case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    /// `misbehaved` or `behaved`.
    pub verdict: Verdict,
    /// The symptom id a misbehaving case must show, if any.
    #[serde(default)]
    pub symptom: Option<String>,
}

impl Expected {
    /// Whether `record` matches this expectation: same verdict and, when a
    /// symptom is expected, the same symptom.
    pub fn is_met_by(&self, record: &Record) -> bool {
        record.verdict == self.verdict && (self.symptom.is_none() || self.symptom == record.symptom)
    }
}

/// The verdict record. Field order is the printed order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// Scenario id, e.g. `shared-epoll`.
    pub scenario: String,
    /// Which runtime ran it.
    pub runtime: Runtime,
    /// Variant id: `broken`, `fixed`, or a named alternative (`fixed-spawn`).
    pub variant: String,
    /// The outcome.
    pub verdict: Verdict,
    /// A stable kebab-case id of what went wrong (`unknown-fd-event`,
    /// `busy-loop`), or null when nothing did.
    pub symptom: Option<String>,
    /// What was seen that proves the verdict: short strings or small objects.
    pub evidence: Vec<serde_json::Value>,
    /// Why the case was skipped or errored (null otherwise).
    #[serde(default)]
    pub reason: Option<String>,
    /// The interpreter, for the Python runtimes; null for `rust`.
    pub python: Option<PythonInfo>,
    /// `uname -r`.
    pub kernel: String,
    /// Scenario start to verdict, measured inside the scenario process
    /// (interpreter start-up excluded).
    pub elapsed_ms: f64,
    /// Supervisor: process spawn to verdict, start-up included.
    #[serde(default)]
    pub wall_ms: Option<f64>,
    /// The timeline (`repro run --trace`), where the scenario records one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<Vec<TraceEvent>>,
    /// Supervisor: what `scenario.toml` expects of this case.
    #[serde(default)]
    pub expected: Option<Expected>,
    /// Supervisor: whether the verdict met the expectation.
    #[serde(default)]
    pub as_expected: Option<bool>,
}

/// Why a line is not a valid verdict record.
#[derive(Debug)]
pub enum SchemaError {
    /// Not JSON, or JSON of the wrong shape (unknown field, wrong type).
    Json(serde_json::Error),
    /// Valid JSON of the right shape that breaks an invariant.
    Invariant(String),
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchemaError::Json(e) => write!(f, "not a verdict record: {e}"),
            SchemaError::Invariant(m) => write!(f, "invalid verdict record: {m}"),
        }
    }
}

impl std::error::Error for SchemaError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SchemaError::Json(e) => Some(e),
            SchemaError::Invariant(_) => None,
        }
    }
}

/// Whether `s` is a stable id: lowercase ASCII words joined by single dashes.
pub fn is_kebab_id(s: &str) -> bool {
    !s.is_empty()
        && s.split('-').all(|w| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

impl Record {
    /// The interpreter it ran on, as expectations are keyed
    /// ([`crate::spec::VariantSpec::expected`]); `None` for the rust runtime.
    pub fn interpreter(&self) -> Option<crate::spec::Interpreter> {
        self.python.as_ref().map(PythonInfo::interpreter)
    }

    /// A record for an outcome the supervisor decided (`hung`, `crashed`,
    /// `skipped`, `error`): no symptom, the given reason and evidence.
    pub fn supervisor(
        scenario: &str,
        runtime: Runtime,
        variant: &str,
        verdict: Verdict,
        reason: impl Into<String>,
        evidence: Vec<serde_json::Value>,
    ) -> Record {
        Record {
            scenario: scenario.to_owned(),
            runtime,
            variant: variant.to_owned(),
            verdict,
            symptom: None,
            evidence,
            reason: Some(reason.into()),
            python: None,
            kernel: crate::sys::kernel_release(),
            elapsed_ms: 0.0,
            wall_ms: None,
            trace: None,
            expected: None,
            as_expected: None,
        }
    }

    /// Parses and validates one line printed by a scenario process.
    ///
    /// # Errors
    /// [`SchemaError::Json`] if the line is not a record of this shape;
    /// [`SchemaError::Invariant`] if it breaks a rule of [`Record::validate`].
    pub fn from_json_line(line: &str) -> Result<Record, SchemaError> {
        let record: Record = serde_json::from_str(line).map_err(SchemaError::Json)?;
        record.validate().map_err(SchemaError::Invariant)?;
        Ok(record)
    }

    /// The rules a record must follow beyond its shape.
    ///
    /// # Errors
    /// A message naming the first rule broken.
    pub fn validate(&self) -> Result<(), String> {
        if !is_kebab_id(&self.scenario) {
            return Err(format!(
                "scenario {:?} is not a kebab-case id",
                self.scenario
            ));
        }
        if !is_kebab_id(&self.variant) {
            return Err(format!("variant {:?} is not a kebab-case id", self.variant));
        }
        match (&self.symptom, self.verdict) {
            (Some(s), _) if !is_kebab_id(s) => {
                return Err(format!("symptom {s:?} is not a kebab-case id"));
            }
            (None, Verdict::Misbehaved) => {
                return Err("a misbehaved verdict must name its symptom".into());
            }
            (Some(s), Verdict::Behaved) => {
                return Err(format!("a behaved verdict cannot carry symptom {s:?}"));
            }
            _ => {}
        }
        if self.verdict.is_conclusive() && self.evidence.is_empty() {
            return Err(format!("a {} verdict needs evidence", self.verdict));
        }
        if matches!(self.verdict, Verdict::Skipped | Verdict::Error) && self.reason.is_none() {
            return Err(format!("a {} verdict needs a reason", self.verdict));
        }
        if self.runtime.is_python() != self.python.is_some() && self.verdict.is_conclusive() {
            return Err(format!(
                "runtime {} must {}report the interpreter",
                self.runtime,
                if self.runtime.is_python() { "" } else { "not " }
            ));
        }
        if self.kernel.is_empty() {
            return Err("kernel is empty".into());
        }
        if !(self.elapsed_ms.is_finite() && self.elapsed_ms >= 0.0) {
            return Err(format!("elapsed_ms {} is not a duration", self.elapsed_ms));
        }
        Ok(())
    }

    /// The record as one JSON line (no trailing newline).
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).expect("a record always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> Record {
        Record {
            scenario: "shared-epoll".into(),
            runtime: Runtime::Rust,
            variant: "broken".into(),
            verdict: Verdict::Misbehaved,
            symptom: Some("unknown-fd-event".into()),
            evidence: vec!["fd 7".into()],
            reason: None,
            python: None,
            kernel: "6.1.0".into(),
            elapsed_ms: 1.5,
            wall_ms: None,
            trace: None,
            expected: None,
            as_expected: None,
        }
    }

    #[test]
    fn round_trips() {
        let r = good();
        assert_eq!(Record::from_json_line(&r.to_json_line()).unwrap(), r);
    }

    #[test]
    fn rejects_unknown_fields() {
        let mut v: serde_json::Value = serde_json::from_str(&good().to_json_line()).unwrap();
        v["surprise"] = 1.into();
        assert!(matches!(
            Record::from_json_line(&v.to_string()),
            Err(SchemaError::Json(_))
        ));
    }

    #[test]
    fn misbehaved_needs_a_symptom_and_behaved_has_none() {
        let mut r = good();
        r.symptom = None;
        assert!(r.validate().unwrap_err().contains("symptom"));
        let mut r = good();
        r.verdict = Verdict::Behaved;
        assert!(r.validate().unwrap_err().contains("cannot carry"));
    }

    #[test]
    fn ids_are_kebab_case() {
        assert!(is_kebab_id("fixed-spawn"));
        assert!(is_kebab_id("busy-loop"));
        for bad in ["", "Fixed", "fixed_spawn", "-x", "x-", "a--b", "a b"] {
            assert!(!is_kebab_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn python_runtimes_report_the_interpreter() {
        let mut r = good();
        r.runtime = Runtime::Python;
        assert!(r.validate().unwrap_err().contains("interpreter"));
    }

    #[test]
    fn expectation_checks_verdict_and_symptom() {
        let r = good();
        let want = |v, s: Option<&str>| Expected {
            verdict: v,
            symptom: s.map(str::to_owned),
        };
        assert!(want(Verdict::Misbehaved, Some("unknown-fd-event")).is_met_by(&r));
        assert!(want(Verdict::Misbehaved, None).is_met_by(&r));
        assert!(!want(Verdict::Misbehaved, Some("busy-loop")).is_met_by(&r));
        assert!(!want(Verdict::Behaved, None).is_met_by(&r));
    }
}
