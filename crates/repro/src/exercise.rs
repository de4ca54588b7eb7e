//! `repro exercise` and `repro check`: fix the bug yourself.
//!
//! `exercise` copies a scenario's Python module (the broken code path and
//! all) into a folder the learner edits. `check` runs the learner's copy
//! through the same supervisor as every other case, with the witness
//! (`pyrepro/witness.py`, not in the copy) watching the real primitives:
//! locks, fork, signals, epoll, the collector. The copy's own trace and
//! verdict are its claims; the witness's facts are the evidence.
//!
//! The judgement, in order: the copy took a wrapper away from the witness:
//! refused. The witness saw the bug (`[[exercise.symptom]]`), or the copy
//! itself misbehaved: still broken. The witness did not see every step of
//! the hazard (`[[exercise.witness]]`): not a fix, with the missing steps
//! named (a "fix" that deletes the fork, or fakes the child's step, still
//! behaves, but it no longer shows the bug). Otherwise: fixed.

use crate::exit::{self, RunError, Usage};
use crate::output::{Out, evidence_text, trace_lines};
use crate::registry::{self, Scenario};
use crate::run::{PythonChoice, run_case_with};
use harness::python;
use harness::record::Record;
use harness::record::{Runtime, Verdict};
use harness::spec::ExerciseSpec;
use harness::witness::{self, Rule};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn find(id: &str) -> Result<(Scenario, ExerciseSpec), RunError> {
    let scenarios = registry::load().map_err(|e| RunError::Usage(Usage(e.to_string())))?;
    let known: Vec<String> = scenarios
        .iter()
        .filter(|s| s.spec.exercise.is_some())
        .map(|s| s.spec.id.clone())
        .collect();
    let sc = scenarios
        .into_iter()
        .find(|s| s.spec.id == id && s.spec.exercise.is_some())
        .ok_or_else(|| {
            RunError::Usage(Usage(format!(
                "no exercise {id:?} (valid: {})",
                known.join(", ")
            )))
        })?;
    let ex = sc.spec.exercise.clone().expect("filtered");
    Ok((sc, ex))
}

fn default_dir(id: &str) -> PathBuf {
    PathBuf::from(format!("repro-exercise-{id}"))
}

/// `repro exercise <scenario> [DIR]`.
pub fn exercise(id: &str, dir: Option<&Path>, out: &mut Out) -> Result<u8, RunError> {
    let (sc, ex) = find(id)?;
    let dir = dir.map_or_else(|| default_dir(id), Path::to_path_buf);
    let dest = dir.join(&ex.module);
    if dest.exists() {
        return Err(RunError::Usage(Usage(format!(
            "{} already exists: your work is kept (remove it to start over)",
            dest.display()
        ))));
    }
    let usage = |e: std::io::Error| RunError::Usage(Usage(format!("{}: {e}", dir.display())));
    std::fs::create_dir_all(&dir).map_err(usage)?;
    let source = registry::root().join("pyrepro").join(&ex.module);
    std::fs::copy(&source, &dest).map_err(usage)?;
    let shown = dir.display();
    let text = format!(
        "# Exercise: {title}\n\n{summary}\n\nEdit {module} so that its `{variant}` variant \
         no longer misbehaves.\nThe scenario must still do what shows the bug. `repro check` \
         watches the real\nlocks, forks, signals, epolls and collections of your run \
         (not its trace), and\nlooks for these steps:\n\n{must}\n\nHint: {hint}\n\nCheck your \
         work:\n\n    repro check {id} {shown}\n",
        title = sc.spec.title,
        summary = sc.spec.summary.trim(),
        module = ex.module,
        variant = ex.variant,
        must = ex
            .witness
            .iter()
            .map(|m| format!("- {}", m.says))
            .collect::<Vec<_>>()
            .join("\n"),
        hint = ex.hint,
    );
    std::fs::write(dir.join("EXERCISE.md"), text).map_err(usage)?;
    out.line(&format!(
        "copied pyrepro/{} to {}",
        ex.module,
        dest.display()
    ))?;
    out.line(&format!("instructions: {}/EXERCISE.md", shown))?;
    out.line(&format!(
        "fix the `{}` variant, then run: repro check {id} {shown}",
        ex.variant
    ))?;
    Ok(exit::OK)
}

/// `repro check <scenario> [DIR]`.
pub fn check(id: &str, dir: Option<&Path>, timeout: f64, out: &mut Out) -> Result<u8, RunError> {
    let (sc, ex) = find(id)?;
    let dir = dir.map_or_else(|| default_dir(id), Path::to_path_buf);
    let file = dir.join(&ex.module);
    if !file.is_file() {
        return Err(RunError::Usage(Usage(format!(
            "{} not found (start with: repro exercise {id})",
            file.display()
        ))));
    }
    let file = std::fs::canonicalize(&file).map_err(|e| RunError::Usage(Usage(e.to_string())))?;
    let variant = sc.spec.variant(&ex.variant).expect("checked by the spec");
    let py = python::default_python(&registry::root()).map_err(|e| RunError::Usage(Usage(e)))?;
    let interpreter = python::check_full(&py).ok().map(|f| f.interpreter());
    let choice = PythonChoice {
        path: Ok(py),
        interpreter,
    };
    let witness_dir = tempfile::Builder::new()
        .prefix("repro-witness-")
        .tempdir()
        .map_err(|e| RunError::Usage(Usage(format!("a temporary directory: {e}"))))?;
    let witness_file = witness_dir.path().join("facts.jsonl");
    let r = run_case_with(
        &sc,
        Runtime::Python,
        variant,
        &choice,
        Duration::from_secs_f64(timeout),
        &[
            ("REPRO_EXERCISE", file.as_os_str()),
            ("REPRO_WITNESS", witness_file.as_os_str()),
        ],
        None,
    );
    let facts = match std::fs::read_to_string(&witness_file) {
        Ok(text) => witness::parse(&text),
        Err(e) => Err(format!("{}: {e}", witness_file.display())),
    };
    let judged = judge(&ex, &r, facts);
    let (code, verdict) = (judged.code, judged.verdict);
    out.line(&format!("{id} ({}): {verdict}", file.display()))?;
    for (rule, seen) in &judged.steps {
        let mark = if *seen { "seen" } else { "NOT seen" };
        out.line(&format!("      witness: {mark}: {}", rule.says))?;
    }
    for e in &r.evidence {
        out.line(&format!("      · {}", evidence_text(e)))?;
    }
    if let Some(trace) = &r.trace {
        for l in trace_lines(trace) {
            out.line(&l)?;
        }
    }
    if code != exit::OK {
        out.line(&format!("hint: {}", ex.hint))?;
    }
    Ok(code)
}

/// The check's answer: its exit code, its sentence, and each step of the
/// hazard with whether the witness saw it.
struct Judged<'a> {
    code: u8,
    verdict: String,
    steps: Vec<(&'a Rule, bool)>,
}

fn judge<'a>(
    ex: &'a ExerciseSpec,
    r: &Record,
    facts: Result<Vec<Map<String, Value>>, String>,
) -> Judged<'a> {
    let not_run = |why: String| Judged {
        code: exit::COULD_NOT_RUN,
        verdict: format!(
            "your version did not run to a verdict ({}): {why}",
            r.verdict
        ),
        steps: Vec::new(),
    };
    if !r.verdict.is_conclusive() {
        return not_run(r.reason.clone().unwrap_or_default());
    }
    let facts = match facts {
        Ok(f) => f,
        Err(e) => return not_run(format!("the witness's record is unreadable: {e}")),
    };
    let met = witness::meet(&ex.witness, &facts);
    let steps: Vec<(&Rule, bool)> = ex
        .witness
        .iter()
        .zip(met.iter().map(Option::is_some))
        .collect();
    let refused = |verdict: String| Judged {
        code: exit::NOT_AS_EXPECTED,
        verdict,
        steps: steps.clone(),
    };
    let taken = witness::tampered(&facts);
    if !taken.is_empty() {
        return refused(format!(
            "refused: your copy took the witness's watch off {}; leave them in place",
            taken.join(", ")
        ));
    }
    let symptoms: Vec<&str> = ex
        .symptom
        .iter()
        .zip(witness::meet(&ex.symptom, &facts))
        .filter(|(_, m)| m.is_some())
        .map(|(s, _)| s.says.as_str())
        .collect();
    if !symptoms.is_empty() {
        return refused(format!(
            "still broken: the witness saw it: {} (whatever your copy reports: {})",
            symptoms.join("; "),
            r.verdict
        ));
    }
    if r.verdict == Verdict::Misbehaved {
        return refused(format!(
            "still broken: {}",
            r.symptom.as_deref().unwrap_or("misbehaved")
        ));
    }
    let missing: Vec<&str> = steps
        .iter()
        .filter(|(_, seen)| !seen)
        .map(|(rule, _)| rule.says.as_str())
        .collect();
    if !missing.is_empty() {
        return refused(format!(
            "not a fix: the scenario no longer does what shows the bug; the witness did \
             not see: {}",
            missing.join("; ")
        ));
    }
    Judged {
        code: exit::OK,
        verdict: "fixed: the bug is gone, and the witness saw the scenario still do what \
                  shows it"
            .to_owned(),
        steps,
    }
}
