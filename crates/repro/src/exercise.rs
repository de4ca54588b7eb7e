//! `repro exercise` and `repro check`: fix the bug yourself.
//!
//! `exercise` copies a scenario's broken code path into a folder the
//! learner edits: its Python module, or with `--runtime rust` its `lib.rs`
//! as a small crate (`src/scenario.rs`; `Cargo.toml` and `src/main.rs` are
//! generated, and rewritten by every check). `check` runs the learner's
//! copy through the same supervisor as every other case, with the witness
//! watching the real primitives: `pyrepro/witness.py` for Python, which
//! the copy does not contain, and [`harness::witness`] for Rust, whose
//! watched `Mutex`, `kill`, `sigaction` and forks the scenario code uses.
//! The copy's own trace and verdict are its claims; the witness's facts
//! are the evidence.
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
use crate::run::{PythonChoice, run_case_with, with_env_of};
use harness::python;
use harness::record::Record;
use harness::record::{Runtime, Verdict};
use harness::witness::{self, Rule};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// One exercise, in one runtime: what the learner fixes, and what the
/// witness must see.
struct Task {
    variant: String,
    witness: Vec<Rule>,
    symptom: Vec<Rule>,
    hint: String,
    /// Python: the module the learner edits.
    module: Option<String>,
}

fn usage(message: String) -> RunError {
    RunError::Usage(Usage(message))
}

fn find(id: &str, runtime: Runtime) -> Result<(Scenario, Task), RunError> {
    let scenarios = registry::load_for(id).map_err(|e| usage(e.to_string()))?;
    let task = |s: &Scenario| -> Option<Task> {
        let ex = s.spec.exercise.as_ref()?;
        match runtime {
            Runtime::Rust => ex.rust.as_ref().map(|r| Task {
                variant: r.variant.clone(),
                witness: r.witness.clone(),
                symptom: r.symptom.clone(),
                hint: r.hint.clone(),
                module: None,
            }),
            _ => Some(Task {
                variant: ex.variant.clone(),
                witness: ex.witness.clone(),
                symptom: ex.symptom.clone(),
                hint: ex.hint.clone(),
                module: Some(ex.module.clone()),
            }),
        }
    };
    let Some(found) = scenarios.iter().find(|s| s.spec.id == id).and_then(task) else {
        // Every scenario, for the list of those that have one.
        let scenarios = registry::load().map_err(|e| usage(e.to_string()))?;
        let known: Vec<&str> = scenarios
            .iter()
            .filter(|s| task(s).is_some())
            .map(|s| s.spec.id.as_str())
            .collect();
        return Err(usage(format!(
            "no {} exercise {id:?} (valid: {})",
            runtime.as_str(),
            known.join(", ")
        )));
    };
    let sc = scenarios
        .into_iter()
        .find(|s| s.spec.id == id)
        .expect("found above");
    Ok((sc, found))
}

/// How a command names the exercise's runtime (python is the default).
fn runtime_flag(runtime: Runtime) -> &'static str {
    if runtime == Runtime::Rust {
        " --runtime rust"
    } else {
        ""
    }
}

fn default_dir(id: &str, runtime: Runtime) -> PathBuf {
    match runtime {
        Runtime::Rust => PathBuf::from(format!("repro-exercise-{id}-rust")),
        _ => PathBuf::from(format!("repro-exercise-{id}")),
    }
}

/// The file the learner edits, in `dir`.
fn work_file(task: &Task, dir: &Path) -> PathBuf {
    match &task.module {
        Some(module) => dir.join(module),
        None => dir.join("src").join("scenario.rs"),
    }
}

/// `repro exercise <scenario> [DIR] [--runtime python|rust]`.
pub fn exercise(
    id: &str,
    dir: Option<&Path>,
    runtime: Runtime,
    out: &mut Out,
) -> Result<u8, RunError> {
    let (sc, task) = find(id, runtime)?;
    let dir = dir.map_or_else(|| default_dir(id, runtime), Path::to_path_buf);
    let dest = work_file(&task, &dir);
    if dest.exists() {
        return Err(usage(format!(
            "{} already exists: your work is kept (remove it to start over)",
            dest.display()
        )));
    }
    let fail = |e: std::io::Error| usage(format!("{}: {e}", dir.display()));
    std::fs::create_dir_all(dest.parent().expect("a file in dir")).map_err(fail)?;
    let root = registry::root();
    let (source, edit) = match &task.module {
        Some(module) => {
            let source = root.join("pyrepro").join(module);
            std::fs::copy(&source, &dest).map_err(fail)?;
            (format!("pyrepro/{module}"), module.clone())
        }
        None => {
            let scenario_dir = root.join(sc.def.dir);
            std::fs::copy(scenario_dir.join("lib.rs"), &dest).map_err(fail)?;
            // Its other modules (`mod <name>;` in lib.rs), where a non-mod.rs
            // file's submodules go: src/scenario/<name>.rs.
            for entry in std::fs::read_dir(&scenario_dir).map_err(fail)? {
                let path = entry.map_err(fail)?.path();
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                // native.rs is repro-embedded's (pyo3), not the Rust
                // variants'.
                if name.ends_with(".rs") && name != "lib.rs" && name != "native.rs" {
                    let sub = dir.join("src").join("scenario");
                    std::fs::create_dir_all(&sub).map_err(fail)?;
                    std::fs::copy(&path, sub.join(name)).map_err(fail)?;
                }
            }
            write_crate(id, &dir).map_err(fail)?;
            (
                format!("{}/lib.rs", sc.def.dir),
                "src/scenario.rs".to_owned(),
            )
        }
    };
    let shown = dir.display();
    let flag = runtime_flag(runtime);
    let text = format!(
        "# Exercise: {title}\n\n{summary}\n\nEdit {edit} so that its `{variant}` variant \
         no longer misbehaves.\nThe scenario must still do what shows the bug. `repro check` \
         watches the real\nlocks, forks, signals, epolls and collections of your run \
         (not its trace), and\nlooks for these steps:\n\n{must}\n\nHint: {hint}\n\nCheck your \
         work:\n\n    repro check {id} {shown}{flag}\n",
        title = sc.spec.title,
        summary = sc.spec.summary.trim(),
        variant = task.variant,
        must = task
            .witness
            .iter()
            .map(|m| format!("- {}", m.says))
            .collect::<Vec<_>>()
            .join("\n"),
        hint = task.hint,
    );
    std::fs::write(dir.join("EXERCISE.md"), text).map_err(fail)?;
    out.line(&format!("copied {source} to {}", dest.display()))?;
    out.line(&format!("instructions: {shown}/EXERCISE.md"))?;
    out.line(&format!(
        "fix the `{}` variant, then run: repro check {id} {shown}{flag}",
        task.variant
    ))?;
    Ok(exit::OK)
}

/// The Rust exercise's crate around the learner's `src/scenario.rs`:
/// `Cargo.toml` (the corpus crate's dependencies, resolved) and
/// `src/main.rs`, which runs one variant and prints its record. Written by
/// `exercise` and again by every `check`, so that only the learner's file
/// is the learner's.
fn write_crate(id: &str, dir: &Path) -> std::io::Result<()> {
    let root = registry::root();
    let bad = |e: String| std::io::Error::other(e);
    let read = |p: PathBuf| -> std::io::Result<toml::Table> {
        let text = std::fs::read_to_string(&p)?;
        text.parse::<toml::Table>()
            .map_err(|e| bad(format!("{}: {e}", p.display())))
    };
    let workspace = read(root.join("Cargo.toml"))?;
    let corpus = read(root.join("crates/corpus/Cargo.toml"))?;
    let shared = workspace
        .get("workspace")
        .and_then(|w| w.get("dependencies"))
        .and_then(toml::Value::as_table)
        .ok_or_else(|| bad("Cargo.toml: no [workspace.dependencies]".into()))?;
    let mut deps = String::new();
    for (name, spec) in corpus
        .get("dependencies")
        .and_then(toml::Value::as_table)
        .into_iter()
        .flatten()
    {
        let from_workspace = spec.get("workspace").and_then(toml::Value::as_bool) == Some(true);
        let mut spec = if from_workspace {
            shared
                .get(name)
                .cloned()
                .ok_or_else(|| bad(format!("{name}: not in [workspace.dependencies]")))?
        } else {
            spec.clone()
        };
        if let Some(t) = spec.as_table_mut() {
            if let Some(path) = t.get("path").and_then(toml::Value::as_str) {
                let abs = root.join(path).display().to_string();
                t.insert("path".into(), toml::Value::String(abs));
            }
        }
        // A value's Display is TOML's inline form: `nix = { version = ... }`.
        deps.push_str(&format!("{name} = {spec}\n"));
    }
    let manifest = format!(
        "# Written by `repro exercise {id} --runtime rust`, and again by every\n\
         # `repro check`: edit src/scenario.rs, not this.\n\
         [package]\nname = \"repro-exercise-{id}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\
         publish = false\n\n# Not part of any workspace around it.\n[workspace]\n\n\
         [dependencies]\n{deps}"
    );
    std::fs::write(dir.join("Cargo.toml"), manifest)?;
    let main = format!(
        "//! Written by `repro exercise {id} --runtime rust`, and again by every\n\
         //! `repro check`: runs one variant of your src/scenario.rs (the first\n\
         //! argument; `broken` by default) and prints its verdict record.\n\n\
         #[allow(dead_code)]\nmod scenario;\n\n\
         fn main() {{\n    \
         harness::witness::init_from_env();\n    \
         let variant = std::env::args().nth(1).unwrap_or_else(|| \"broken\".to_owned());\n    \
         let run = scenario::RUNS.rust.expect(\"the scenario has rust variants\");\n    \
         let start = std::time::Instant::now();\n    \
         let outcome = run(&variant);\n    \
         let record = harness::scenario::record(\n        \"{id}\",\n        \
         harness::record::Runtime::Rust,\n        &variant,\n        None,\n        \
         start,\n        outcome,\n    );\n    \
         println!(\"{{}}\", record.to_json_line());\n}}\n"
    );
    std::fs::write(dir.join("src").join("main.rs"), main)
}

/// Builds the learner's crate (into `target/exercise`, shared by every
/// Rust exercise, so the dependencies build once) and copies the binary to
/// `keep` (two copies of one exercise build to the same path: the build
/// and the copy happen under one lock). Returns the binary, or the
/// compiler's complaint.
fn build_crate(id: &str, dir: &Path, keep: &Path) -> Result<Result<PathBuf, String>, RunError> {
    write_crate(id, dir).map_err(|e| usage(format!("{}: {e}", dir.display())))?;
    let target = registry::root().join("target").join("exercise");
    let fail = |e: std::io::Error| usage(format!("{}: {e}", target.display()));
    std::fs::create_dir_all(&target).map_err(fail)?;
    let lock = std::fs::File::create(target.join(".repro-check.lock")).map_err(fail)?;
    // SAFETY: flock on an fd we own; released when `lock` is dropped.
    if unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) } != 0 {
        return Err(fail(std::io::Error::last_os_error()));
    }
    eprintln!(
        "check: building {} (cargo build; the first build of the dependencies takes a minute)",
        dir.display()
    );
    let built = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["build", "--quiet", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .map_err(|e| usage(format!("cannot run cargo: {e}")))?;
    if !built.status.success() {
        return Ok(Err(String::from_utf8_lossy(&built.stderr).into_owned()));
    }
    let bin = keep.join(format!("repro-exercise-{id}"));
    std::fs::copy(
        target.join("debug").join(format!("repro-exercise-{id}")),
        &bin,
    )
    .map_err(fail)?;
    drop(lock);
    Ok(Ok(bin))
}

/// `repro check <scenario> [DIR] [--runtime python|rust]`.
pub fn check(
    id: &str,
    dir: Option<&Path>,
    runtime: Runtime,
    timeout: f64,
    out: &mut Out,
) -> Result<u8, RunError> {
    let (sc, task) = find(id, runtime)?;
    let dir = dir.map_or_else(|| default_dir(id, runtime), Path::to_path_buf);
    let file = work_file(&task, &dir);
    if !file.is_file() {
        let flag = runtime_flag(runtime);
        return Err(usage(format!(
            "{} not found (start with: repro exercise {id}{flag})",
            file.display()
        )));
    }
    let file = std::fs::canonicalize(&file).map_err(|e| usage(e.to_string()))?;
    let variant = sc.spec.variant(&task.variant).expect("checked by the spec");
    let witness_dir = tempfile::Builder::new()
        .prefix("repro-witness-")
        .tempdir()
        .map_err(|e| usage(format!("a temporary directory: {e}")))?;
    let witness_file = witness_dir.path().join("facts.jsonl");
    let r = if runtime == Runtime::Rust {
        let dir = std::fs::canonicalize(&dir).map_err(|e| usage(e.to_string()))?;
        let bin = match build_crate(id, &dir, witness_dir.path())? {
            Ok(bin) => bin,
            Err(complaint) => {
                out.line(&format!(
                    "{id} ({}): your version does not build:",
                    file.display()
                ))?;
                for l in complaint.lines() {
                    out.line(&format!("    {l}"))?;
                }
                return Ok(exit::COULD_NOT_RUN);
            }
        };
        let wrap = |cmd: &Command| {
            let mut c = with_env_of(cmd, &bin);
            c.arg(&task.variant);
            c
        };
        run_case_with(
            &sc,
            Runtime::Rust,
            variant,
            &PythonChoice {
                path: Err("no python in a rust exercise".into()),
                interpreter: None,
            },
            Duration::from_secs_f64(timeout),
            &[("REPRO_WITNESS", witness_file.as_os_str())],
            Some(&wrap),
        )
    } else {
        let py = python::default_python(&registry::root()).map_err(usage)?;
        let interpreter = python::check_full(&py).ok().map(|f| f.interpreter());
        let choice = PythonChoice {
            path: Ok(py),
            interpreter,
        };
        run_case_with(
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
        )
    };
    let facts = match std::fs::read_to_string(&witness_file) {
        Ok(text) => witness::parse(&text),
        Err(e) => Err(format!("{}: {e}", witness_file.display())),
    };
    let judged = judge(&task, &r, facts);
    out.line(&format!("{id} ({}): {}", file.display(), judged.verdict))?;
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
    if judged.code != exit::OK {
        out.line(&format!("hint: {}", task.hint))?;
    }
    Ok(judged.code)
}

/// The check's answer: its exit code, its sentence, and each step of the
/// hazard with whether the witness saw it.
struct Judged<'a> {
    code: u8,
    verdict: String,
    steps: Vec<(&'a Rule, bool)>,
}

fn judge<'a>(
    ex: &'a Task,
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
