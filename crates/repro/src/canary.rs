//! `repro canary`: every scenario on every interpreter, each verdict held to
//! its `scenario.toml` expectation, drift reported.
//!
//! The question a CI job asks when a new CPython or kernel comes out is
//! "did any bug start or stop reproducing?". The canary answers it in one
//! exit code and three reports (`matrix.md`, `matrix.json`, `junit.xml`).
//!
//! * **Columns**: `rust` once; one per discovered interpreter
//!   (`harness::python::discover`, plus what `make interpreters`
//!   provisioned), labelled by implementation, version and free-threading
//!   (`py3.14.10`, `py3.13.5t`, `pypy3.11.17`), run in a per-interpreter
//!   environment with `pyrepro/requirements.txt` where its wheels exist
//!   (cached under `target/canary-envs/`; a provisioned interpreter is a
//!   virtual environment already, and is its own), else as it is, and the
//!   cases that need a package report `skipped` with the reason;
//!   `emb<version>` for the interpreter this binary embeds. Embedding other
//!   interpreters means rebuilding with `PYO3_PYTHON` (see `ci/canary.sh`).
//!   What `make interpreters` could not provision is listed in the reports,
//!   with the reason.
//! * **Drift**: a verdict that is not the expected one, named by kind
//!   ([`drift`]). Skips are reported, never counted as drift.

use crate::cli::CanaryArgs;
use crate::exit::{self, RunError, Usage};
use crate::output::Out;
use crate::registry::{self, Scenario};
use crate::run::{PythonChoice, run_case};
use harness::python;
use harness::record::{Record, Runtime, Verdict};
use serde_json::json;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// One column of the matrix.
struct Column {
    /// `rust`, `py3.11.7`, `emb3.11.7`.
    label: String,
    runtime: Runtime,
    python: PythonChoice,
    /// What the column's environment lacks (for the report).
    note: Option<String>,
}

/// One cell: a case in a column, its record and its drift.
pub(crate) struct Cell {
    pub row: String,
    pub column: usize,
    pub record: Record,
    pub drift: Option<&'static str>,
}

/// The kind of drift a record shows, or `None` when it is as expected (or
/// skipped: a case that could not run is reported, not counted as drift).
pub fn drift(r: &Record) -> Option<&'static str> {
    if r.as_expected == Some(true) {
        return None;
    }
    let expected = r.expected.as_ref().map(|e| e.verdict);
    Some(match (r.verdict, expected) {
        (Verdict::Skipped, _) => return None,
        (Verdict::Hung, _) => "unexpected-hang",
        (Verdict::Crashed, _) => "unexpected-crash",
        (Verdict::Error, _) => "unexpected-error",
        (Verdict::Behaved, Some(Verdict::Misbehaved)) => "stopped-reproducing",
        (Verdict::Misbehaved, Some(Verdict::Behaved)) if r.variant.starts_with("fixed") => {
            "fix-broken"
        }
        (Verdict::Misbehaved, Some(Verdict::Behaved)) => "started-reproducing",
        (Verdict::Misbehaved, Some(Verdict::Misbehaved)) => "new-symptom",
        _ => "unexpected-verdict",
    })
}

/// A per-interpreter environment with `pyrepro/requirements.txt`, kept
/// under `target/canary-envs/`: its python and what could not be installed
/// there (`pyrepro/requirements.py` installs each line on its own, so one
/// without a wheel for this interpreter does not take the others with it,
/// and reinstalls when the requirements change), or why there is no
/// environment at all.
pub(crate) fn environment(
    root: &Path,
    found: &python::Found,
) -> Result<(PathBuf, Option<String>), String> {
    if found.in_venv {
        // A virtual environment already (each interpreter `make
        // interpreters` provisions is one, inside its root): its own.
        return requirements(root, &found.path).map(|missing| (found.path.clone(), missing));
    }
    let dir = environment_dir(root, found);
    let py = dir.join("bin").join("python");
    if let Ok(why) = std::fs::read_to_string(dir.join("failed")) {
        return Err(why);
    }
    if !py.exists() {
        let venv = Command::new(&found.path)
            .args(["-m", "venv", "--clear"])
            .arg(&dir)
            .output()
            .map_err(|e| e.to_string())?;
        if !venv.status.success() {
            let why = format!("python -m venv failed: {}", last_line(&venv.stderr));
            let _ = std::fs::create_dir_all(&dir);
            let _ = std::fs::write(dir.join("failed"), &why);
            return Err(why);
        }
    }
    requirements(root, &py).map(|missing| (py, missing))
}

/// Where [`environment`] keeps an interpreter's environment: one per
/// interpreter (its real path's hash), under `target/canary-envs/`.
fn environment_dir(root: &Path, found: &python::Found) -> PathBuf {
    let real = std::fs::canonicalize(&found.path).unwrap_or_else(|_| found.path.clone());
    let key = real
        .to_string_lossy()
        .bytes()
        .fold(0xcbf29ce484222325, |h: u64, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
        });
    root.join("target")
        .join("canary-envs")
        .join(format!("{}-{key:016x}", found.version))
}

/// The python an interpreter's cases run with outside the canary: its
/// environment, if [`environment`] made one (and it did not fail), else
/// itself. Nothing is made here.
fn existing_environment(root: &Path, found: &python::Found) -> PathBuf {
    let dir = environment_dir(root, found);
    let py = dir.join("bin").join("python");
    if !found.in_venv && py.exists() && !dir.join("failed").exists() {
        py
    } else {
        found.path.clone()
    }
}

/// Runs `pyrepro/requirements.py` with the environment's `py`: what it
/// could not install, if anything. Quick when nothing changed since a run
/// that installed every line (its stamp); lines that failed are tried again.
fn requirements(root: &Path, py: &Path) -> Result<Option<String>, String> {
    let install = Command::new(py)
        .arg(root.join("pyrepro").join("requirements.py"))
        .output()
        .map_err(|e| e.to_string())?;
    let report: serde_json::Value =
        serde_json::from_str(&last_line(&install.stdout)).map_err(|_| {
            format!(
                "pyrepro/requirements.py failed: {}",
                last_line(&install.stderr)
            )
        })?;
    let missing: Vec<&str> = report["missing"]
        .as_array()
        .map(|a| a.iter().filter_map(|m| m.as_str()).collect())
        .unwrap_or_default();
    Ok(Some(missing.join("; ")).filter(|m| !m.is_empty()))
}

fn last_line(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let last = text.lines().rev().find(|l| !l.trim().is_empty());
    last.unwrap_or("").trim().to_owned()
}

/// The columns, and what `make interpreters` did not provision (`name: why`).
fn columns(
    root: &Path,
    args: &CanaryArgs,
    log: &mut dyn Write,
) -> Result<(Vec<Column>, Vec<String>), Usage> {
    let named: Vec<PathBuf> = args
        .python
        .iter()
        .map(|p| python::resolve(p, root))
        .collect();
    for p in &named {
        python::check(p).map_err(|e| Usage(format!("--python {e}")))?;
    }
    let mut not_provisioned = Vec::new();
    let (found, dropped) = if args.no_discover {
        python::discover_named(&named)
    } else {
        // Those `make interpreters` provisioned, as if named.
        let provisioned = python::provisioned(root);
        let mut extra = named.clone();
        extra.extend(provisioned.paths.iter().cloned());
        let found = python::discover(&extra);
        let _ = writeln!(log, "{}", provisioned_summary(&provisioned));
        not_provisioned = provisioned
            .missing
            .iter()
            .map(|(name, why)| format!("{name}: {why}"))
            .collect();
        found
    };
    let _ = writeln!(log, "interpreters: {} found", found.len());
    for f in &found {
        let _ = writeln!(
            log,
            "  + {} {} {}",
            f.interpreter().label(),
            f.implementation,
            f.path.display()
        );
    }
    for d in &dropped {
        let _ = writeln!(log, "  - {}: {}", d.path.display(), d.why);
    }
    let envs: Vec<Result<(PathBuf, Option<String>), String>> = if args.no_envs {
        found
            .iter()
            .map(|f| {
                // A virtual environment is its own environment: nothing
                // installed into it, nothing missing to report.
                if f.in_venv {
                    Ok((f.path.clone(), None))
                } else {
                    Err("--no-envs: run as it is".to_owned())
                }
            })
            .collect()
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = found
                .iter()
                .map(|f| s.spawn(move || environment(root, f)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("env thread"))
                .collect()
        })
    };
    let mut cols = vec![Column {
        label: "rust".into(),
        runtime: Runtime::Rust,
        python: PythonChoice {
            path: Err("rust".into()),
            interpreter: None,
        },
        note: None,
    }];
    for (f, env) in found.iter().zip(envs) {
        let (path, note) = match env {
            Ok((py, None)) => (py, None),
            Ok((py, Some(missing))) => {
                let _ = writeln!(log, "  ! {}: {missing}", f.version);
                (py, Some(missing))
            }
            Err(why) => {
                let _ = writeln!(log, "  ! {}: no environment ({why})", f.version);
                (f.path.clone(), Some(why))
            }
        };
        cols.push(Column {
            label: f.interpreter().label(),
            runtime: Runtime::Python,
            python: PythonChoice {
                path: Ok(path),
                interpreter: Some(f.interpreter()),
            },
            note,
        });
    }
    cols.push(Column {
        label: format!("emb{}", pyhost::BUILT_FOR.version),
        runtime: Runtime::Embedded,
        python: PythonChoice {
            path: Err("embedded".into()),
            interpreter: None,
        },
        note: Some(format!("built for {}", pyhost::BUILT_FOR.executable)),
    });
    Ok((cols, not_provisioned))
}

/// One line on what `make interpreters` provisioned, or how to get more.
fn provisioned_summary(p: &python::Provisioned) -> String {
    if !p.ran {
        return "provisioned: none (`make interpreters` brings CPython 3.14+, a free-threaded \
                build and PyPy into target/interpreters/)"
            .to_owned();
    }
    let mut line = format!("provisioned: {} (target/interpreters/)", p.paths.len());
    for (name, why) in &p.missing {
        line.push_str(&format!("\n  - {name}: not provisioned: {why}"));
    }
    line
}

/// Runs `repro canary` and returns the exit code.
///
/// # Errors
/// A usage error before anything ran, or an I/O error writing the reports.
pub fn exec(args: &CanaryArgs, out: &mut Out) -> Result<u8, RunError> {
    let start = Instant::now();
    let scenarios = registry::load_with(&args.scenario_toml)
        .map_err(|e| RunError::Usage(Usage(e.to_string())))?;
    let selected: Vec<&Scenario> = scenarios
        .iter()
        .filter(|s| s.spec.id != "fixture")
        .filter(|s| args.scenario.as_ref().is_none_or(|id| *id == s.spec.id))
        .collect();
    if selected.is_empty() {
        let known: Vec<&str> = scenarios.iter().map(|s| s.spec.id.as_str()).collect();
        return Err(RunError::Usage(Usage(format!(
            "unknown scenario {:?} (valid: {})",
            args.scenario.as_deref().unwrap_or(""),
            known.join(", ")
        ))));
    }
    let out_dir = crate::output::out_dir(args.out.as_deref(), "canary").map_err(RunError::Usage)?;
    let root = registry::root();
    let mut log = std::io::stderr();
    let runtimes = crate::run::runtimes(&args.runtime).map_err(RunError::Usage)?;
    let (mut cols, not_provisioned) = if runtimes.contains(&Runtime::Python) {
        columns(&root, args, &mut log).map_err(RunError::Usage)?
    } else {
        // No interpreter to find, no environment to make.
        let no_python = CanaryArgs {
            no_discover: true,
            no_envs: true,
            python: Vec::new(),
            ..args.clone()
        };
        columns(&root, &no_python, &mut log).map_err(RunError::Usage)?
    };
    cols.retain(|c| runtimes.contains(&c.runtime));
    let timeout = Duration::from_secs_f64(args.timeout);

    let mut work = Vec::new();
    for sc in &selected {
        for v in &sc.spec.variants {
            for (ci, col) in cols.iter().enumerate() {
                if v.runtimes.contains(&col.runtime) {
                    work.push((*sc, v, ci));
                }
            }
        }
    }
    let tty = std::io::stderr().is_terminal();
    let jobs = args.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |n| n as usize,
    );
    let mut cells = Vec::with_capacity(work.len());
    crate::run::in_order(
        &work,
        jobs,
        |(sc, v, ci)| run_case(sc, cols[*ci].runtime, v, &cols[*ci].python, timeout),
        |i, record| {
            let (sc, v, ci) = &work[i];
            if tty {
                let _ = write!(
                    log,
                    "\r\x1b[K[{:>4}/{}] {} {} {}",
                    i + 1,
                    work.len(),
                    sc.spec.id,
                    v.id,
                    cols[*ci].label
                );
            }
            let drift = drift(&record);
            cells.push(Cell {
                row: format!("{} / {}", sc.spec.id, v.id),
                column: *ci,
                record,
                drift,
            });
            if !tty && (i + 1) % 25 == 0 {
                let _ = writeln!(log, "[{:>4}/{}] cases run", i + 1, work.len());
            }
            Ok(())
        },
    )
    .map_err(RunError::Io)?;
    if tty {
        let _ = write!(log, "\r\x1b[K");
    }
    let elapsed = start.elapsed();
    write_reports(&out_dir, &cols, &cells, &not_provisioned, elapsed).map_err(RunError::Io)?;
    summarize(out, &out_dir, &cells, elapsed)
}

fn summarize(
    out: &mut Out,
    out_dir: &Path,
    cells: &[Cell],
    elapsed: Duration,
) -> Result<u8, RunError> {
    let drifted: Vec<&Cell> = cells.iter().filter(|c| c.drift.is_some()).collect();
    let skipped = cells
        .iter()
        .filter(|c| c.record.verdict == Verdict::Skipped && c.drift.is_none())
        .filter(|c| c.record.as_expected != Some(true))
        .count();
    let ok = cells
        .iter()
        .filter(|c| c.record.as_expected == Some(true))
        .count();
    out.line(&format!(
        "canary: {} cells in {:.1} s: {ok} as expected, {} drift, {skipped} skipped",
        cells.len(),
        elapsed.as_secs_f64(),
        drifted.len()
    ))?;
    for c in &drifted {
        let r = &c.record;
        let got = r.symptom.as_deref().unwrap_or(r.verdict.as_str());
        let want = r.expected.as_ref().map_or("?".to_owned(), |e| {
            e.symptom.clone().unwrap_or_else(|| e.verdict.to_string())
        });
        let py = r
            .python
            .as_ref()
            .map_or(String::new(), |p| format!(" python {}", p.version));
        out.line(&format!(
            "DRIFT {}: {} [{}{py}]: expected {want}, got {got}",
            c.drift.unwrap_or("?"),
            c.row,
            r.runtime
        ))?;
    }
    out.line(&format!(
        "reports: {}/matrix.md, matrix.json, junit.xml",
        out_dir.display()
    ))?;
    Ok(if !drifted.is_empty() {
        exit::NOT_AS_EXPECTED
    } else if ok == 0 {
        exit::COULD_NOT_RUN
    } else {
        exit::OK
    })
}

pub(crate) fn machine() -> String {
    let u = nix::sys::utsname::uname().ok();
    let field = |f: fn(&nix::sys::utsname::UtsName) -> &std::ffi::OsStr| {
        u.as_ref()
            .map_or("?".into(), |u| f(u).to_string_lossy().into_owned())
    };
    format!(
        "{} {} {} ({} cores)",
        field(|u| u.sysname()),
        field(|u| u.release()),
        field(|u| u.machine()),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    )
}

fn write_reports(
    dir: &Path,
    cols: &[Column],
    cells: &[Cell],
    not_provisioned: &[String],
    elapsed: Duration,
) -> std::io::Result<()> {
    let json = json!({
        "kernel": harness::sys::kernel_release(),
        "machine": machine(),
        "elapsed_s": elapsed.as_secs_f64(),
        "columns": cols.iter().map(|c| json!({
            "label": c.label, "runtime": c.runtime, "python": c.python.interpreter.as_ref().map(|i| &i.version), "note": c.note,
        })).collect::<Vec<_>>(),
        "not_provisioned": not_provisioned,
        "cells": cells.iter().map(|c| json!({
            "row": c.row, "column": cols[c.column].label, "drift": c.drift, "record": c.record,
        })).collect::<Vec<_>>(),
    });
    std::fs::write(
        dir.join("matrix.json"),
        serde_json::to_string_pretty(&json)? + "\n",
    )?;
    let mut md = markdown(cols, cells, elapsed);
    if !not_provisioned.is_empty() {
        md.push_str("\nNot provisioned by `make interpreters`:\n\n");
        for line in not_provisioned {
            md.push_str(&format!("- {line}\n"));
        }
    }
    std::fs::write(dir.join("matrix.md"), md)?;
    let labels: Vec<&str> = cols.iter().map(|c| c.label.as_str()).collect();
    std::fs::write(
        dir.join("junit.xml"),
        junit("repro canary", &labels, cells, elapsed),
    )
}

fn cell_text(c: &Cell) -> String {
    let r = &c.record;
    match (c.drift, r.verdict, r.as_expected) {
        (Some(kind), _, _) => format!(
            "✗ {kind}: {}",
            r.symptom.as_deref().unwrap_or(r.verdict.as_str())
        ),
        (None, Verdict::Skipped, Some(true)) => "– skipped (expected)".into(),
        (None, Verdict::Skipped, _) => "– skipped".into(),
        (None, _, _) => format!("✓ {}", r.symptom.as_deref().unwrap_or(r.verdict.as_str())),
    }
}

fn markdown(cols: &[Column], cells: &[Cell], elapsed: Duration) -> String {
    let mut md = format!(
        "# repro canary\n\nKernel `{}` on {}; {} cells in {:.1} s.\n\n",
        harness::sys::kernel_release(),
        machine(),
        cells.len(),
        elapsed.as_secs_f64()
    );
    let labels: Vec<&str> = cols.iter().map(|c| c.label.as_str()).collect();
    md.push_str(&table("scenario / variant", &labels, cells));
    let notes: Vec<String> = cols
        .iter()
        .filter_map(|c| c.note.as_ref().map(|n| format!("- `{}`: {n}", c.label)))
        .collect();
    if !notes.is_empty() {
        md.push_str("\nColumns:\n\n");
        md.push_str(&notes.join("\n"));
        md.push('\n');
    }
    md
}

/// A Markdown table: one row per distinct `row` (in first-seen order), one
/// column per label, and the legend.
pub(crate) fn table(corner: &str, labels: &[&str], cells: &[Cell]) -> String {
    let mut rows: Vec<&str> = Vec::new();
    for c in cells {
        if !rows.contains(&c.row.as_str()) {
            rows.push(&c.row);
        }
    }
    let mut md = format!("| {corner} |");
    for l in labels {
        md.push_str(&format!(" {l} |"));
    }
    md.push_str("\n|---|");
    md.push_str(&"---|".repeat(labels.len()));
    md.push('\n');
    for row in rows {
        md.push_str(&format!("| {row} |"));
        for ci in 0..labels.len() {
            let cell = cells.iter().find(|c| c.row == row && c.column == ci);
            md.push_str(&format!(" {} |", cell.map_or(String::new(), cell_text)));
        }
        md.push('\n');
    }
    md.push_str(
        "\nLegend: ✓ as `scenario.toml` expects (the symptom, or `behaved`); \
         ✗ drift, with its kind (`stopped-reproducing`, `started-reproducing`, `fix-broken`, \
         `new-symptom`, `unexpected-hang`/`-crash`/`-error`) and what was seen; \
         – skipped (see `matrix.json` for the reason); empty: the variant does not exist \
         for that runtime.\n",
    );
    md
}

fn xml_escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '&' => "&amp;".into(),
            '<' => "&lt;".into(),
            '>' => "&gt;".into(),
            '"' => "&quot;".into(),
            '\'' => "&apos;".into(),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => " ".into(),
            c => c.to_string(),
        })
        .collect()
}

/// The JUnit XML of `cells` (one test case each, named by variant and
/// column label), as one suite called `name`.
pub(crate) fn junit(name: &str, labels: &[&str], cells: &[Cell], elapsed: Duration) -> String {
    let failures = cells.iter().filter(|c| c.drift.is_some()).count();
    let skipped = cells
        .iter()
        .filter(|c| c.drift.is_none() && c.record.verdict == Verdict::Skipped)
        .count();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.push_str(&format!(
        "<testsuites name=\"{name}\" tests=\"{}\" failures=\"{failures}\" time=\"{:.3}\">\n",
        cells.len(),
        elapsed.as_secs_f64()
    ));
    xml.push_str(&format!(
        "  <testsuite name=\"{name}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" \
         skipped=\"{skipped}\" time=\"{:.3}\">\n",
        cells.len(),
        elapsed.as_secs_f64()
    ));
    for c in cells {
        let r = &c.record;
        xml.push_str(&format!(
            "    <testcase classname=\"{}\" name=\"{} [{}]\" time=\"{:.3}\">",
            xml_escape(&r.scenario),
            xml_escape(&r.variant),
            xml_escape(labels[c.column]),
            r.wall_ms.unwrap_or(0.0) / 1000.0
        ));
        if let Some(kind) = c.drift {
            let detail = serde_json::to_string_pretty(r).unwrap_or_default();
            xml.push_str(&format!(
                "\n      <failure message=\"{}\" type=\"{kind}\">{}</failure>\n    ",
                xml_escape(&cell_text(c)),
                xml_escape(&detail)
            ));
        } else if r.verdict == Verdict::Skipped {
            xml.push_str(&format!(
                "<skipped message=\"{}\"/>",
                xml_escape(r.reason.as_deref().unwrap_or("skipped"))
            ));
        }
        xml.push_str("</testcase>\n");
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

/// `repro interpreters`: what discovery finds, and why it dropped the rest;
/// with `embeddable`, only the paths `ci/canary.sh` rebuilds the embedded
/// runtime for; with `environments`, each with the python its cases run
/// with outside the canary (`ci/bench-interpreters.sh`).
pub fn interpreters(embeddable: bool, environments: bool, out: &mut Out) -> Result<u8, RunError> {
    let (found, dropped) = python::discover(&[]);
    if environments {
        let root = crate::registry::root();
        for f in &found {
            out.line(&format!(
                "{} {} {}",
                f.implementation,
                f.version,
                existing_environment(&root, f).display()
            ))?;
        }
        return Ok(exit::OK);
    }
    if !embeddable {
        for f in &found {
            out.line(&format!(
                "{} {} {}",
                f.implementation,
                f.version,
                f.path.display()
            ))?;
        }
        for d in &dropped {
            out.line(&format!("dropped {}: {}", d.path.display(), d.why))?;
        }
        return Ok(exit::OK);
    }
    let built = std::fs::canonicalize(pyhost::BUILT_FOR.executable).ok();
    for f in &found {
        let real = std::fs::canonicalize(&f.path).ok();
        let version = harness::spec::parse_version(&f.version).unwrap_or_default();
        if f.implementation != "CPython" || version < vec![3, 9] || real == built {
            continue;
        }
        let shared = Command::new(&f.path)
            .args(["-c", "import sysconfig, sys; sys.exit(0 if sysconfig.get_config_var('Py_ENABLE_SHARED') else 1)"])
            .status()
            .is_ok_and(|s| s.success());
        if shared {
            out.line(&f.path.display().to_string())?;
        }
    }
    Ok(exit::OK)
}
