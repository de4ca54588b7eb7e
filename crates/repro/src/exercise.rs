//! `repro exercise` and `repro check`: fix the bug yourself.
//!
//! `exercise` copies a scenario's Python module (the broken code path and
//! all) into a folder the learner edits. `check` runs the learner's copy
//! through the same supervisor as every other case, and judges it by the
//! real verdict. It also requires the steps the scenario must still perform,
//! from its `[exercise] must` list in `scenario.toml`, matched against the
//! run's trace. A "fix" that deletes the fork, or skips the collection,
//! still behaves, but it no longer shows the bug, so it is refused.

use crate::exit::{self, RunError, Usage};
use crate::output::{Out, evidence_text, trace_lines};
use crate::registry::{self, Scenario};
use crate::run::{PythonChoice, run_case_with};
use harness::python;
use harness::record::{Runtime, Verdict};
use harness::spec::ExerciseSpec;
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
         no longer misbehaves.\nThe scenario must still do what shows the bug; `repro check` \
         looks for these\nsteps in its trace:\n\n{must}\n\nHint: {hint}\n\nCheck your \
         work:\n\n    repro check {id} {shown}\n",
        title = sc.spec.title,
        summary = sc.spec.summary.trim(),
        module = ex.module,
        variant = ex.variant,
        must = ex
            .must
            .iter()
            .map(|m| format!("- `{m}`"))
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
    let r = run_case_with(
        &sc,
        Runtime::Python,
        variant,
        &choice,
        Duration::from_secs_f64(timeout),
        &[("REPRO_EXERCISE", file.as_os_str())],
        None,
    );
    let steps: Vec<String> = r
        .trace
        .iter()
        .flatten()
        .map(|e| format!("{}: {}", e.lane, e.what))
        .collect();
    let missing: Vec<&String> = ex
        .must
        .iter()
        .filter(|m| !steps.iter().any(|s| s.contains(m.as_str())))
        .collect();
    let (code, verdict) = match r.verdict {
        v if !v.is_conclusive() => (
            exit::COULD_NOT_RUN,
            format!(
                "your version did not run to a verdict ({v}): {}",
                r.reason.as_deref().unwrap_or("")
            ),
        ),
        _ if !missing.is_empty() => (
            exit::NOT_AS_EXPECTED,
            format!(
                "not a fix: the scenario no longer does what shows the bug; missing from \
                 its trace: {}",
                missing
                    .iter()
                    .map(|m| format!("`{m}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        Verdict::Misbehaved => (
            exit::NOT_AS_EXPECTED,
            format!(
                "still broken: {}",
                r.symptom.as_deref().unwrap_or("misbehaved")
            ),
        ),
        _ => (
            exit::OK,
            "fixed: the bug is gone, and the scenario still does what shows it".to_owned(),
        ),
    };
    out.line(&format!("{id} ({}): {verdict}", file.display()))?;
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
