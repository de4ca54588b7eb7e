//! `repro run`: plan the cases, run each under the supervisor, compare with
//! the expectation, print, and pick the exit code.

use crate::cli::RunArgs;
use crate::exit::{RunError, Usage};
use crate::output::{Labels, Out};
use crate::registry::{self, Scenario};
use harness::case::{Case, interpret};
use harness::record::{PythonInfo, Record, Runtime, Verdict};
use harness::spec::{Interpreter, VariantSpec};
use harness::{bytecode, python};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// One case to run.
pub(crate) struct Planned<'a> {
    pub scenario: &'a Scenario,
    pub runtime: Runtime,
    pub variant: &'a VariantSpec,
}

impl Planned<'_> {
    /// `scenario/runtime/variant`.
    pub fn label(&self) -> String {
        format!(
            "{}/{}/{}",
            self.scenario.spec.id,
            self.runtime.as_str(),
            self.variant.id
        )
    }
}

/// What to run: a scenario (or `all`), a runtime (or `all`), a variant (or
/// `all`).
/// `--runtime`: one runtime, or `all`.
pub(crate) fn runtimes(arg: &str) -> Result<Vec<Runtime>, Usage> {
    if arg == "all" {
        return Ok(Runtime::ALL.to_vec());
    }
    Runtime::parse(arg).map(|r| vec![r]).ok_or_else(|| {
        Usage(format!(
            "unknown runtime {arg:?} (valid: rust, python, embedded, all)"
        ))
    })
}

pub(crate) struct Selection<'s> {
    pub scenario: &'s str,
    pub runtime: &'s str,
    pub variant: &'s str,
}

fn plan<'a>(scenarios: &'a [Scenario], args: &RunArgs) -> Result<Vec<Planned<'a>>, Usage> {
    let selection = Selection {
        scenario: &args.scenario,
        runtime: &args.runtime,
        variant: &args.variant,
    };
    plan_cases(scenarios, &selection)
}

/// The cases a selection names, in `repro list` order.
///
/// # Errors
/// An unknown scenario, runtime or variant, or a selection with no case.
pub(crate) fn plan_cases<'a>(
    scenarios: &'a [Scenario],
    args: &Selection<'_>,
) -> Result<Vec<Planned<'a>>, Usage> {
    let selected: Vec<&Scenario> = if args.scenario == "all" {
        scenarios
            .iter()
            .filter(|s| s.spec.id != "fixture")
            .collect()
    } else {
        let hit = scenarios.iter().find(|s| s.spec.id == args.scenario);
        vec![hit.ok_or_else(|| {
            let known: Vec<&str> = scenarios.iter().map(|s| s.spec.id.as_str()).collect();
            Usage(format!(
                "unknown scenario {:?} (valid: {}, all)",
                args.scenario,
                known.join(", ")
            ))
        })?]
    };
    let runtimes = runtimes(args.runtime)?;
    let mut cases = Vec::new();
    for sc in selected {
        if args.variant != "all" && sc.spec.variant(args.variant).is_none() {
            let known: Vec<&str> = sc.spec.variants.iter().map(|v| v.id.as_str()).collect();
            return Err(Usage(format!(
                "{} has no variant {:?} (valid: {}, all)",
                sc.spec.id,
                args.variant,
                known.join(", ")
            )));
        }
        for &runtime in &runtimes {
            let variants = sc
                .spec
                .variants_for(runtime)
                .filter(|v| args.variant == "all" || v.id == args.variant);
            cases.extend(variants.map(|variant| Planned {
                scenario: sc,
                runtime,
                variant,
            }));
        }
    }
    if cases.is_empty() {
        return Err(Usage(format!(
            "no case matches: variant {:?} does not exist for runtime {}",
            args.variant, args.runtime
        )));
    }
    Ok(cases)
}

/// The interpreter for the python runtime: a named one must be usable (else
/// usage error); a default one that is missing makes its cases `error`.
pub(crate) struct PythonChoice {
    pub path: Result<PathBuf, String>,
    /// What it is, when it could be checked (for expectations when the
    /// scenario process could not say it itself).
    pub interpreter: Option<Interpreter>,
}

fn choose_python(args: &RunArgs, needed: bool) -> Result<PythonChoice, Usage> {
    python_for(args.python.as_deref(), needed)
}

/// The interpreter for the python runtime: `named` (which must be usable),
/// else the default one, if `needed`.
///
/// # Errors
/// A named interpreter that is not a usable Python.
pub(crate) fn python_for(
    named: Option<&std::path::Path>,
    needed: bool,
) -> Result<PythonChoice, Usage> {
    if let Some(named) = named {
        let path = python::resolve(named, &registry::root());
        let found = python::check_full(&path).map_err(|e| Usage(format!("--python {e}")))?;
        return Ok(PythonChoice {
            path: Ok(path),
            interpreter: Some(found.interpreter()),
        });
    }
    if !needed {
        return Ok(PythonChoice {
            path: Err("not needed".into()),
            interpreter: None,
        });
    }
    let path = python::default_python(&registry::root());
    let checked = path
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|p| python::check_full(p));
    Ok(match checked {
        Ok(found) => PythonChoice {
            path,
            interpreter: Some(found.interpreter()),
        },
        Err(e) => PythonChoice {
            path: Err(e),
            interpreter: None,
        },
    })
}

/// What `python -m pyrepro` runs, as a `-c` program (its arguments follow).
const PYREPRO_MAIN: &str =
    "import sys; from pyrepro.__main__ import main; sys.exit(main(sys.argv[1:]))";

fn command_for(case: Case<'_>, py: &PythonChoice) -> Result<Command, String> {
    let root = registry::root();
    // pyrepro's bytecode, for the interpreter that will import it. Best
    // effort: without it the case compiles pyrepro from source.
    let warm = |python: &std::path::Path| {
        let _ = bytecode::warm(python, &root.join("pyrepro"), &bytecode::stamps(&root));
    };
    let mut cmd = match case.runtime {
        Runtime::Python => {
            let python = py.path.as_ref()?;
            warm(python);
            let mut cmd = Command::new(python);
            // `python -m pyrepro run …`, without runpy's import (-m costs a
            // few ms of every case's start-up): the same main(). And with
            // -S: no `site` at start-up (about 5 ms); the variants that
            // import a package from site-packages run it themselves
            // (pyrepro.runner.with_site).
            cmd.args(["-S", "-c", PYREPRO_MAIN, "run", case.scenario, case.variant]);
            cmd
        }
        Runtime::Rust => {
            let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
            let mut cmd = Command::new(exe);
            cmd.args(["internal-run", case.scenario, "rust", case.variant]);
            cmd
        }
        Runtime::Embedded => {
            // The embedded interpreter imports pyrepro too: compiled by the
            // executable it was built against (the same cache tag).
            if !pyhost::BUILT_FOR.executable.is_empty() {
                warm(std::path::Path::new(pyhost::BUILT_FOR.executable));
            }
            let mut cmd = Command::new(embedded_exe()?);
            cmd.args([case.scenario, case.variant])
                // It runs only if it was built from the same sources
                // (crates/repro/build.rs).
                .env("REPRO_EMBEDDED_STAMP", env!("REPRO_EMBEDDED_STAMP"));
            cmd
        }
    };
    python::scrub_env(&mut cmd);
    // A backtrace setting inherited from the shell would change what a
    // crashing scenario prints (evidence), so it is not inherited either.
    cmd.env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .env("PYTHONPATH", &root)
        // Bytecode: read (pyrepro's from bytecode::warm), never written.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        // No case speaks TLS, but aiohttp 3.10+ builds its default SSL
        // contexts when imported, loading every CA certificate the system
        // has (30 to 40 ms of each aiohttp case here): an empty store.
        .env("SSL_CERT_FILE", "/dev/null")
        .env("SSL_CERT_DIR", "/dev/null")
        .env("REPRO_ROOT", &root)
        .current_dir(&root);
    Ok(cmd)
}

/// `repro-embedded`, beside this executable (cargo builds both): the
/// embedded runtime's scenario process, the one program that links
/// libpython.
fn embedded_exe() -> Result<std::path::PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let embedded = exe.with_file_name("repro-embedded");
    if embedded.is_file() {
        Ok(embedded)
    } else {
        Err(format!(
            "{} is missing: the embedded runtime runs there (cargo build builds it beside {})",
            embedded.display(),
            exe.display()
        ))
    }
}

/// A command running `program` with `cmd`'s environment changes and
/// working directory (for a wrapper: strace, a learner's build).
pub(crate) fn with_env_of(cmd: &Command, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut wrapped = Command::new(program);
    for (key, value) in cmd.get_envs() {
        match value {
            Some(v) => wrapped.env(key, v),
            None => wrapped.env_remove(key),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        wrapped.current_dir(dir);
    }
    wrapped
}

/// One supervised run of a Python case with `-X importtime` (as the
/// environment variable, which reaches the case's interpreter whatever
/// flags it gets): what it imported, as CPython printed it on stderr.
/// Empty before 3.7, which has no import profile.
///
/// # Errors
/// If the case's command cannot be made or started.
pub(crate) fn python_import_profile(
    p: &Planned<'_>,
    py: &PythonChoice,
    timeout: Duration,
) -> Result<String, String> {
    let case = Case {
        scenario: &p.scenario.spec.id,
        runtime: p.runtime,
        variant: &p.variant.id,
    };
    let mut cmd = command_for(case, py)?;
    cmd.env("PYTHONPROFILEIMPORTTIME", "1");
    let finished = harness::supervisor::run(cmd, timeout).map_err(|e| e.to_string())?;
    Ok(finished.stderr)
}

/// `program` run as a Python case's interpreter would run (the same
/// interpreter, flags, environment and working directory), in place of the
/// case: `repro bench` times its floor with it.
///
/// # Errors
/// If the case's command cannot be made.
pub(crate) fn python_like_case(
    p: &Planned<'_>,
    py: &PythonChoice,
    program: &str,
) -> Result<Command, String> {
    if p.runtime != Runtime::Python {
        return Err(format!("{}: not a Python case", p.label()));
    }
    let case = Case {
        scenario: &p.scenario.spec.id,
        runtime: p.runtime,
        variant: &p.variant.id,
    };
    let cmd = command_for(case, py)?;
    let mut like = with_env_of(&cmd, cmd.get_program());
    like.args(["-S", "-c", program]);
    Ok(like)
}

pub(crate) fn run_one(p: &Planned<'_>, py: &PythonChoice, timeout: Duration) -> Record {
    run_case(p.scenario, p.runtime, p.variant, py, timeout)
}

/// Runs one case under the supervisor and fills in its expectation.
pub(crate) fn run_case(
    scenario: &Scenario,
    runtime: Runtime,
    variant: &VariantSpec,
    py: &PythonChoice,
    timeout: Duration,
) -> Record {
    run_case_with(scenario, runtime, variant, py, timeout, &[], None)
}

/// Rewrites a case's command before it runs (`--strace`).
pub(crate) type Wrap<'a> = &'a dyn Fn(&Command) -> Command;

/// [`run_case`], with extra environment for the scenario process (`repro
/// check` names the learner's module in `REPRO_EXERCISE`).
pub(crate) fn run_case_with(
    scenario: &Scenario,
    runtime: Runtime,
    variant: &VariantSpec,
    py: &PythonChoice,
    timeout: Duration,
    env: &[(&str, &std::ffi::OsStr)],
    wrap: Option<Wrap<'_>>,
) -> Record {
    let case = Case {
        scenario: &scenario.spec.id,
        runtime,
        variant: &variant.id,
    };
    let sup_error = |reason: String| {
        Record::supervisor(
            case.scenario,
            case.runtime,
            case.variant,
            Verdict::Error,
            reason,
            vec![],
        )
    };
    let mut record = match command_for(case, py) {
        Err(e) => sup_error(e),
        Ok(mut cmd) => {
            cmd.envs(env.iter().copied());
            if let Some(wrap) = wrap {
                cmd = wrap(&cmd);
            }
            match harness::supervisor::run(cmd, timeout) {
                Ok(finished) => interpret(case, &finished),
                Err(e) => sup_error(format!("cannot start the scenario process: {e}")),
            }
        }
    };
    let interpreter = record
        .python
        .as_ref()
        .map(PythonInfo::interpreter)
        .or_else(|| match case.runtime {
            Runtime::Python => py.interpreter.clone(),
            Runtime::Embedded => Some(pyhost::BUILT_FOR.interpreter()),
            Runtime::Rust => None,
        });
    let expected = variant.expected(case.runtime, interpreter.as_ref());
    record.as_expected = Some(expected.is_met_by(&record));
    record.expected = Some(expected);
    record
}

/// Runs `repro run` and returns the exit code.
///
/// # Errors
/// A usage error before anything ran, or an I/O error writing the report.
pub fn exec(args: &RunArgs, out: &mut Out) -> Result<u8, RunError> {
    let scenarios =
        registry::load_for(&args.scenario).map_err(|e| RunError::Usage(Usage(e.to_string())))?;
    let cases = plan(&scenarios, args).map_err(RunError::Usage)?;
    // The numbers are in range: cli::numeric parsed them.
    let jobs = match args.jobs {
        Some(n) => n as usize,
        // Timings (--repeat) are cleaner alone.
        None if args.repeat > 1 => 1,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let needs_python = cases.iter().any(|c| c.runtime == Runtime::Python);
    let py = choose_python(args, needs_python).map_err(RunError::Usage)?;
    let timeout = Duration::from_secs_f64(args.timeout);
    if args.list {
        return list(&cases, &py, args.json, out);
    }

    let mut report = crate::output::Report::new(
        out,
        args.json,
        args.repeat,
        args.trace,
        &cases_labels(&cases),
    );
    if let Some(path) = &args.records {
        let file = std::fs::File::create(path)
            .map_err(|e| RunError::Usage(Usage(format!("--records {}: {e}", path.display()))))?;
        report = report.records_to(file);
    }
    report.header()?;
    let strace_bin = if args.strace {
        Some(crate::strace::available().map_err(|e| RunError::Usage(Usage(e)))?)
    } else {
        None
    };
    let pictures = match &args.svg {
        None => None,
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| RunError::Usage(Usage(format!("--svg {}: {e}", dir.display()))))?;
            Some(dir.as_path())
        }
    };
    // strace runs one case at a time: its output is read after each.
    if jobs > 1 && strace_bin.is_none() {
        run_side_by_side(&cases, &py, timeout, args.repeat, jobs, |records| {
            for r in records {
                report.record(r)?;
            }
            draw(pictures, &scenarios, records, &mut report)?;
            report.case(records)
        })?;
        return Ok(report.footer()?);
    }
    for p in &cases {
        let mut records = Vec::with_capacity(args.repeat as usize);
        for _ in 0..args.repeat {
            let Some(bin) = &strace_bin else {
                let r = run_one(p, &py, timeout);
                report.record(&r)?;
                records.push(r);
                continue;
            };
            let file = tempfile::NamedTempFile::new()?;
            let spec = p.scenario.spec.strace.as_ref();
            let wrap = |cmd: &Command| crate::strace::wrap(bin, cmd, spec, file.path());
            let r = run_case_with(
                p.scenario,
                p.runtime,
                p.variant,
                &py,
                timeout,
                &[],
                Some(&wrap),
            );
            report.record(&r)?;
            let text = std::fs::read_to_string(file.path())?;
            report.extra(&crate::strace::lines(&text, spec))?;
            records.push(r);
        }
        draw(pictures, &scenarios, &records, &mut report)?;
        report.case(&records)?;
    }
    Ok(report.footer()?)
}

/// `--list`: the cases, in plan order, and a python case's interpreter
/// (none when no usable one was found: the run would report `error`).
fn list(
    cases: &[Planned<'_>],
    py: &PythonChoice,
    json: bool,
    out: &mut Out,
) -> Result<u8, RunError> {
    for c in cases {
        let python = (c.runtime == Runtime::Python)
            .then(|| py.path.as_ref().ok())
            .flatten();
        let line = if json {
            serde_json::json!({
                "scenario": c.scenario.spec.id,
                "runtime": c.runtime.as_str(),
                "variant": c.variant.id,
                "python": python,
            })
            .to_string()
        } else {
            let python = python.map(|p| format!("  {}", p.display()));
            format!("{}{}", c.label(), python.unwrap_or_default())
        };
        out.line(&line)?;
    }
    Ok(0)
}

/// `--svg DIR`: the picture of a case's timeline (its last run's), named
/// in the report.
fn draw(
    dir: Option<&std::path::Path>,
    scenarios: &[Scenario],
    records: &[Record],
    report: &mut crate::output::Report<'_>,
) -> std::io::Result<()> {
    let (Some(dir), Some(r)) = (dir, records.last()) else {
        return Ok(());
    };
    let key = scenarios
        .iter()
        .find(|s| s.spec.id == r.scenario)
        .map(|s| crate::picture::key_steps(&s.spec, r))
        .unwrap_or_default();
    let Some(svg) = crate::picture::timeline_svg(r, &key) else {
        return report.extra(&["      picture: none (this case records no timeline)".to_owned()]);
    };
    let path = dir.join(crate::picture::file_name(r));
    std::fs::write(&path, svg)?;
    report.extra(&[format!("      picture: {}", path.display())])
}

/// Runs `cases` (each `repeat` times) on `jobs` threads, and hands each
/// case's records to `show` in plan order, as soon as it and every case
/// before it are done.
fn run_side_by_side(
    cases: &[Planned<'_>],
    py: &PythonChoice,
    timeout: Duration,
    repeat: u32,
    jobs: usize,
    mut show: impl FnMut(&[Record]) -> std::io::Result<()>,
) -> std::io::Result<()> {
    in_order(
        cases,
        jobs,
        |p| {
            (0..repeat)
                .map(|_| run_one(p, py, timeout))
                .collect::<Vec<_>>()
        },
        |_, records| show(&records),
    )
}

/// Runs `work` on every item, on up to `jobs` threads, and hands each
/// result to `show` in the items' order (with its index), as soon as it
/// and every one before it are done: side by side, reported as if one at
/// a time. `show` runs on the calling thread; an error from it stops the
/// hand-over (the items already started finish).
pub(crate) fn in_order<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    work: impl Fn(&T) -> R + Sync,
    mut show: impl FnMut(usize, R) -> std::io::Result<()>,
) -> std::io::Result<()> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, R)>();
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            let tx = tx.clone();
            let (next, work) = (&next, &work);
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(item) = items.get(i) else { break };
                    if tx.send((i, work(item))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut done: Vec<Option<R>> = (0..items.len()).map(|_| None).collect();
        let mut shown = 0;
        for (i, result) in rx {
            done[i] = Some(result);
            while let Some(result) = done.get_mut(shown).and_then(Option::take) {
                show(shown, result)?;
                shown += 1;
            }
        }
        Ok(())
    })
}

fn cases_labels<'a>(cases: &'a [Planned<'a>]) -> Vec<Labels<'a>> {
    cases
        .iter()
        .map(|c| Labels {
            scenario: &c.scenario.spec.id,
            variant: &c.variant.id,
            symptoms: c
                .variant
                .symptom
                .iter()
                .chain(c.variant.when.iter().filter_map(|o| o.symptom.as_ref()))
                .map(String::as_str)
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::in_order;
    use std::sync::{Mutex, mpsc};

    #[test]
    fn side_by_side_results_come_in_order() {
        // Item 0 finishes only after item 1 has: without the reordering,
        // 1 would be shown first.
        let (tx, rx) = mpsc::channel::<()>();
        let (tx, rx) = (Mutex::new(Some(tx)), Mutex::new(rx));
        let mut shown = Vec::new();
        in_order(
            &[0, 1, 2, 3],
            2,
            |&i| {
                match i {
                    0 => rx.lock().unwrap().recv().unwrap(),
                    1 => drop(tx.lock().unwrap().take().unwrap().send(())),
                    _ => {}
                }
                i * 10
            },
            |i, r| {
                shown.push((i, r));
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(shown, [(0, 0), (1, 10), (2, 20), (3, 30)]);
        // Nothing to do, and one job: no thread waits forever.
        in_order(&[] as &[u8], 4, |_| (), |_, ()| panic!("nothing")).unwrap();
        let mut one = Vec::new();
        in_order(
            &[7],
            1,
            |&x| x,
            |_, x| {
                one.push(x);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(one, [7]);
    }
}
