//! `repro bench`: how fast and how reliably every case reaches its verdict.
//!
//! For every scenario × runtime × variant, N runs (30 by default): how often
//! it gave the expected verdict, the median and p95 time to verdict measured
//! inside the scenario process (`elapsed_ms`: interpreter start-up and
//! imports such as gevent's excluded), the start-up itself (the supervisor's
//! spawn-to-exit time minus that), and for hang cases the time from the
//! child blocking to the verdict. Also, when Python cases are benched, the
//! bare start-up of every interpreter found here (`python -c pass`) and the
//! ratio of each Python case's whole run to it; each Python case's imports
//! (`-X importtime`) and its floor: the same interpreter importing what the
//! case imported and nothing else, so that the ratio of the whole run to the
//! floor is what pyrepro and the scenario's own work cost; and, with
//! `--cargo-test`, the wall and CPU time of the whole `cargo test` with a
//! warm build.
//!
//! Targets (from issue 9): a hang verdict within 150 ms of the child
//! blocking, every other verdict within 100 ms, both medians; `cargo test`
//! under 15 s. The report marks each; a miss is reported, not hidden.
//!
//! Writes `target/bench/report.md` and `report.json` (or `--out`).

use crate::cli::BenchArgs;
use crate::exit::{self, RunError, Usage};
use crate::output::{Out, percentile};
use crate::registry;
use crate::run::{
    Planned, Selection, plan_cases, python_for, python_import_profile, python_like_case, run_one,
};
use harness::python;
use harness::record::{Record, Runtime};
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Median time to a hang verdict, from the child blocking (ms), on a
/// platform of time factor 1 (`REPRO_TIME_FACTOR` scales it: [`target_ms`]).
const HANG_TARGET_MS: f64 = 150.0;
/// Median time to any other verdict (ms), scaled the same way.
const VERDICT_TARGET_MS: f64 = 100.0;

/// A target scaled by the time factor, as every deadline is.
fn target_ms(ms: f64) -> f64 {
    harness::hang::scaled(Duration::from_secs_f64(ms / 1000.0)).as_secs_f64() * 1000.0
}
/// `cargo test`, warm build (s).
const CARGO_TEST_TARGET_S: f64 = 10.0;
/// Its CPU time (user + system, every process it ran), on this 2-core
/// machine's budget.
const CARGO_TEST_CPU_TARGET_S: f64 = 15.0;

/// The warm `cargo test --workspace`: wall and CPU seconds.
#[derive(Clone, Copy)]
struct SuiteTime {
    wall_s: f64,
    cpu_s: f64,
}

/// User + system seconds of this process's waited-for descendants so far.
fn children_cpu_s() -> f64 {
    // SAFETY: getrusage only writes the struct we pass, which is plain
    // data and zeroed.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut u);
        u
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// A median and a p95, in ms.
#[derive(Debug, Clone, Copy)]
struct Stat {
    median: f64,
    p95: f64,
}

impl Stat {
    fn of(mut xs: Vec<f64>) -> Option<Stat> {
        if xs.is_empty() {
            return None;
        }
        Some(Stat {
            median: percentile(&mut xs, 0.5),
            p95: percentile(&mut xs, 0.95),
        })
    }

    fn json(self) -> Value {
        json!({ "median": round(self.median), "p95": round(self.p95) })
    }
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// One case's figures.
struct CaseBench {
    label: String,
    runtime: Runtime,
    expected: String,
    runs: usize,
    as_expected: usize,
    verdicts: Vec<String>,
    elapsed: Option<Stat>,
    wall: Option<Stat>,
    startup: Option<Stat>,
    blocked_to_verdict: Option<Stat>,
    /// A Python case's imports, from one run with `-X importtime`.
    imports: Option<Imports>,
    /// A Python case's bare start-up (`python -c pass`) and its floor
    /// ([`floor_program`]), each run after each of the case's runs.
    bare: Option<Stat>,
    floor: Option<Stat>,
}

/// What a Python case imported (`-X importtime`, one run): the total of
/// every module's own time, the heaviest top-level imports with their
/// cumulative time, in ms, and what its floor imports ([`floor_program`]).
#[derive(Debug, Clone, PartialEq)]
struct Imports {
    total_ms: f64,
    heaviest: Vec<(String, f64)>,
    /// The case's own imports, in the order it began them: each top-level
    /// import, and in place of each of pyrepro's modules, what that module
    /// imported (an import brings its own nested imports in with it).
    own: Vec<String>,
    /// Whether the case ran `site` (pyrepro.runner.with_site).
    site: bool,
}

/// An import and the imports nested in it, as `-X importtime` shows them.
struct Imported {
    name: String,
    nested: Vec<Imported>,
}

impl Imports {
    /// Parses CPython's `import time: self [us] | cumulative | name` lines.
    /// A line comes when its import finishes, after the imports nested in
    /// it, which are indented two more spaces. None when there are none
    /// (before 3.7, or on an interpreter without the profile).
    fn parse(stderr: &str) -> Option<Imports> {
        let mut total_us = 0.0;
        let mut top: Vec<(String, f64)> = Vec::new();
        // finished[d]: the imports finished at depth d whose importer (at
        // depth d - 1) has not finished yet.
        let mut finished: Vec<Vec<Imported>> = vec![Vec::new()];
        for line in stderr.lines() {
            let Some(rest) = line.strip_prefix("import time:") else {
                continue;
            };
            let mut cols = rest.split('|');
            let (Some(own), Some(cumulative), Some(name)) = (cols.next(), cols.next(), cols.next())
            else {
                continue;
            };
            let (Ok(own), Ok(cumulative)) =
                (own.trim().parse::<f64>(), cumulative.trim().parse::<f64>())
            else {
                continue; // the header line
            };
            total_us += own;
            // One space after the bar, then two per level.
            let depth = (name.len() - name.trim_start().len()).saturating_sub(1) / 2;
            if depth == 0 {
                top.push((name.trim().to_owned(), cumulative / 1000.0));
            }
            if finished.len() < depth + 2 {
                finished.resize_with(depth + 2, Vec::new);
            }
            let nested = std::mem::take(&mut finished[depth + 1]);
            finished[depth].push(Imported {
                name: name.trim().to_owned(),
                nested,
            });
        }
        if total_us == 0.0 {
            return None;
        }
        top.sort_by(|a, b| b.1.total_cmp(&a.1));
        top.truncate(3);
        let mut own = Vec::new();
        let mut site = false;
        for i in &finished[0] {
            i.own_imports(&mut own, &mut site);
        }
        Some(Imports {
            total_ms: total_us / 1000.0,
            heaviest: top,
            own,
            site,
        })
    }

    fn text(&self) -> String {
        self.heaviest
            .iter()
            .map(|(n, ms)| format!("{n} {ms:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Imported {
    /// This import, or, for one of pyrepro's modules (or `site`), what it
    /// imported, in the order begun.
    fn own_imports(&self, own: &mut Vec<String>, site: &mut bool) {
        let n = self.name.as_str();
        if n == "site" {
            *site = true;
        }
        if n == "site" || n == "pyrepro" || n.starts_with("pyrepro.") {
            for i in &self.nested {
                i.own_imports(own, site);
            }
        } else if !own.iter().any(|m| m == n) {
            own.push(n.to_owned());
        }
    }
}

/// A Python case's floor: its interpreter, started as the case's is (`-S`),
/// importing what the case imported (`site`'s set-up first when the case
/// ran it), and doing nothing else. pyrepro's own modules are left out:
/// what the case costs beyond its floor is pyrepro and the scenario's own
/// work (its fork, its child, a deadlock's detection, a second interpreter
/// for `spawn`). An import that fails fails as it did in the case (a
/// platform's optional module), and the rest go on.
fn floor_program(imports: &Imports) -> String {
    let mut program = String::new();
    if imports.site {
        program.push_str("import site; site.main()\n");
    }
    let list: String = imports
        .own
        .iter()
        .filter(|m| {
            m.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        })
        .map(|m| format!("'{m}', "))
        .collect();
    program.push_str(&format!(
        "for m in ({list}):\n    try:\n        __import__(m)\n    except BaseException:\n        pass\n"
    ));
    program
}

impl CaseBench {
    /// A Python case's median whole run over its floor's median.
    fn over_floor(&self) -> Option<f64> {
        let floor = self.floor.filter(|f| f.median > 0.0)?;
        Some(self.wall?.median / floor.median)
    }

    /// A Python case's median whole run, and its median start-up, each over
    /// the median bare start-up of its interpreter taken beside it (`None`
    /// for the other runtimes, or without those figures).
    fn over_bare(&self) -> (Option<f64>, Option<f64>) {
        let Some(bare) = self.bare.filter(|b| b.median > 0.0) else {
            return (None, None);
        };
        let over = |s: Option<Stat>| s.map(|s| s.median / bare.median);
        (over(self.wall), over(self.startup))
    }

    fn from_records(p: &Planned<'_>, records: &[Record]) -> CaseBench {
        let concluded: Vec<&Record> = records
            .iter()
            .filter(|r| r.verdict.is_conclusive())
            .collect();
        let elapsed: Vec<f64> = concluded.iter().map(|r| r.elapsed_ms).collect();
        let wall: Vec<f64> = concluded.iter().filter_map(|r| r.wall_ms).collect();
        let startup: Vec<f64> = concluded
            .iter()
            .filter_map(|r| r.wall_ms.map(|w| (w - r.elapsed_ms).max(0.0)))
            .collect();
        let blocked: Vec<f64> = concluded
            .iter()
            .filter_map(|r| {
                r.evidence
                    .iter()
                    .find_map(|e| e.get("blocked_to_verdict_ms")?.as_f64())
            })
            .collect();
        let mut verdicts: Vec<String> = Vec::new();
        for r in records {
            let v = r.verdict.to_string();
            if !verdicts.contains(&v) {
                verdicts.push(v);
            }
        }
        CaseBench {
            label: p.label(),
            runtime: p.runtime,
            expected: records
                .first()
                .and_then(|r| r.expected.as_ref())
                .map_or_else(|| "?".into(), |e| e.verdict.to_string()),
            runs: records.len(),
            as_expected: records
                .iter()
                .filter(|r| r.as_expected == Some(true))
                .count(),
            verdicts,
            elapsed: Stat::of(elapsed),
            wall: Stat::of(wall),
            startup: Stat::of(startup),
            blocked_to_verdict: Stat::of(blocked),
            imports: None,
            bare: None,
            floor: None,
        }
    }

    /// The target this case is held to, and whether it met it.
    fn target(&self) -> Option<(&'static str, f64, bool)> {
        if let Some(b) = self.blocked_to_verdict {
            return Some((
                "hang: blocked to verdict",
                target_ms(HANG_TARGET_MS),
                b.median < target_ms(HANG_TARGET_MS),
            ));
        }
        let e = self.elapsed?;
        Some((
            "verdict",
            target_ms(VERDICT_TARGET_MS),
            e.median < target_ms(VERDICT_TARGET_MS),
        ))
    }
}

/// A command timed run by run, spawn to exit, each run to succeed.
struct Timed {
    cmd: Command,
    /// Each run's time (ms); None once a run failed.
    ms: Option<Vec<f64>>,
}

impl Timed {
    /// `cmd`, with no input and its output discarded.
    fn new(mut cmd: Command) -> Timed {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        Timed {
            cmd,
            ms: Some(Vec::new()),
        }
    }

    /// `python -c pass`.
    fn bare(py: &Path) -> Timed {
        let mut cmd = Command::new(py);
        cmd.args(["-c", "pass"]);
        python::scrub_env(&mut cmd);
        Timed::new(cmd)
    }

    fn run(&mut self) {
        let t = Instant::now();
        let ok = self.cmd.status().is_ok_and(|s| s.success());
        match (ok, self.ms.as_mut()) {
            (true, Some(xs)) => xs.push(t.elapsed().as_secs_f64() * 1000.0),
            _ => self.ms = None,
        }
    }

    fn stat(self) -> Option<Stat> {
        Stat::of(self.ms?)
    }
}

/// `python -c pass`, N times.
fn bare_startup(py: &Path, runs: usize) -> Option<Stat> {
    let mut bare = Timed::bare(py);
    for _ in 0..runs {
        bare.run();
    }
    bare.stat()
}

/// The wall and CPU time of the whole `cargo test`, after a build that
/// makes it warm.
fn cargo_test(root: &Path, log: &mut dyn Write) -> Result<SuiteTime, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let _ = writeln!(
        log,
        "bench: cargo test --workspace --no-run (warming the build)"
    );
    let warm = Command::new(&cargo)
        .args(["test", "--workspace", "--quiet", "--no-run"])
        .current_dir(root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("cargo: {e}"))?;
    if !warm.success() {
        return Err("cargo test --no-run failed".into());
    }
    let _ = writeln!(log, "bench: cargo test --workspace (timed)");
    // As from a shell: orphans of the tests go to init, not to this
    // process (a subreaper), where tests that watch them die would find
    // them as our zombies.
    harness::supervisor::set_subreaper(false);
    let cpu = children_cpu_s();
    let t = Instant::now();
    let ran = Command::new(&cargo)
        .args(["test", "--workspace", "--quiet"])
        .current_dir(root)
        .stdin(Stdio::null())
        .output();
    let secs = t.elapsed().as_secs_f64();
    let cpu_s = children_cpu_s() - cpu;
    harness::supervisor::set_subreaper(true);
    let ran = ran.map_err(|e| format!("cargo: {e}"))?;
    if !ran.status.success() {
        let out = String::from_utf8_lossy(&ran.stdout);
        let failed: Vec<&str> = out
            .lines()
            .filter(|l| l.contains("FAILED") || l.contains("panicked"))
            .take(5)
            .collect();
        return Err(format!(
            "cargo test failed ({secs:.1} s): {}",
            failed.join("; ")
        ));
    }
    Ok(SuiteTime {
        wall_s: secs,
        cpu_s,
    })
}

/// Runs `repro bench` and returns the exit code: 0 when every run was as
/// expected (a missed speed target is reported, not an error), 1 otherwise.
///
/// # Errors
/// A usage error before anything ran, or an I/O error writing the report.
pub fn exec(args: &BenchArgs, out: &mut Out) -> Result<u8, RunError> {
    let usage = |m: String| RunError::Usage(Usage(m));
    let scenarios = registry::load().map_err(|e| usage(e.to_string()))?;
    let selection = Selection {
        scenario: &args.scenario,
        runtime: &args.runtime,
        variant: "all",
    };
    let cases = plan_cases(&scenarios, &selection).map_err(RunError::Usage)?;
    let needs_python = cases.iter().any(|c| c.runtime == Runtime::Python);
    let py = python_for(args.python.as_deref(), needs_python).map_err(RunError::Usage)?;
    let dir = crate::output::out_dir(args.out.as_deref(), "bench").map_err(RunError::Usage)?;
    let timeout = Duration::from_secs(10);
    let runs = args.runs as usize;
    let root = registry::root();
    let mut log = std::io::stderr();
    let started = Instant::now();

    // Interpreter start-up: every interpreter found here, and the one the
    // python runtime uses; only beside Python cases, whose ratios need it
    // (a bench of Rust cases alone starts no interpreter).
    let found = if needs_python {
        python::discover(&[]).0
    } else {
        Vec::new()
    };
    let mut interpreters: Vec<(String, PathBuf, Option<Stat>)> = Vec::new();
    let mut all: Vec<(String, PathBuf)> = found
        .iter()
        .map(|f| {
            (
                format!("{} {}", f.implementation, f.version),
                f.path.clone(),
            )
        })
        .collect();
    if let (Ok(path), Some(i)) = (&py.path, &py.interpreter) {
        all.insert(0, (format!("python runtime: {}", i.version), path.clone()));
    }
    for (name, path) in all {
        let _ = writeln!(
            log,
            "bench: start-up of {} ({runs} x python -c pass)",
            path.display()
        );
        let s = bare_startup(&path, runs);
        interpreters.push((name, path, s));
    }
    let runtime_bare = interpreters
        .first()
        .and_then(|(n, _, s)| n.starts_with("python runtime").then_some(*s).flatten());

    let mut benches = Vec::with_capacity(cases.len());
    for (i, p) in cases.iter().enumerate() {
        // A Python case's bare start-up and floor run after each of its
        // runs, so that the ratios are taken side by side.
        let python = p.runtime == Runtime::Python;
        let imports = python
            .then(|| python_import_profile(p, &py, timeout).ok())
            .flatten()
            .and_then(|stderr| Imports::parse(&stderr));
        let mut bare = py
            .path
            .as_ref()
            .ok()
            .filter(|_| python)
            .map(|py| Timed::bare(py));
        let mut floor = imports
            .as_ref()
            .and_then(|i| python_like_case(p, &py, &floor_program(i)).ok())
            .map(Timed::new);
        let records: Vec<Record> = (0..runs)
            .map(|_| {
                let record = run_one(p, &py, timeout);
                for side in [bare.as_mut(), floor.as_mut()].into_iter().flatten() {
                    side.run();
                }
                record
            })
            .collect();
        let mut b = CaseBench::from_records(p, &records);
        b.imports = imports;
        b.bare = bare.and_then(Timed::stat);
        b.floor = floor.and_then(Timed::stat);
        let _ = writeln!(
            log,
            "bench: [{:>3}/{}] {:<45} {}/{} as expected, median {} ms",
            i + 1,
            cases.len(),
            b.label,
            b.as_expected,
            b.runs,
            b.elapsed.map_or("-".into(), |s| format!("{:.1}", s.median))
        );
        benches.push(b);
    }

    let cargo_test_s = if args.cargo_test {
        Some(cargo_test(&root, &mut log))
    } else {
        None
    };

    let md = markdown(
        args,
        &interpreters,
        &benches,
        cargo_test_s.as_ref(),
        started.elapsed(),
    );
    std::fs::write(dir.join("report.md"), &md)?;
    let doc = json_report(
        args,
        &interpreters,
        runtime_bare,
        &benches,
        cargo_test_s.as_ref(),
    );
    std::fs::write(
        dir.join("report.json"),
        serde_json::to_string_pretty(&doc).map_err(std::io::Error::from)? + "\n",
    )?;
    for line in md.lines() {
        out.line(line)?;
    }
    out.line(&format!(
        "reports: {}, report.json",
        dir.join("report.md").display()
    ))?;
    let all_expected = benches.iter().all(|b| b.as_expected == b.runs);
    let tests_ok = !matches!(cargo_test_s, Some(Err(_)));
    Ok(if all_expected && tests_ok {
        exit::OK
    } else {
        exit::NOT_AS_EXPECTED
    })
}

fn ms(s: Option<Stat>, f: impl Fn(Stat) -> f64) -> String {
    s.map_or_else(|| "-".into(), |s| format!("{:.1}", f(s)))
}

fn markdown(
    args: &BenchArgs,
    interpreters: &[(String, PathBuf, Option<Stat>)],
    benches: &[CaseBench],
    cargo_test_s: Option<&Result<SuiteTime, String>>,
    took: Duration,
) -> String {
    let mut md = String::new();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    md.push_str(&format!(
        "# repro bench\n\n{} run(s) per case; kernel {}; {cores} core(s); {:.0} s in all.\n\
         Times in ms. `verdict`: inside the scenario process, start-up and imports \
         excluded; `start-up`: the rest of the supervisor's spawn-to-exit time; \
         `x bare`: a Python case's whole run over `python -c pass` (run after each of \
         the case's runs, side by side), and its start-up alone (what the case costs \
         beyond the scenario's own work: a deadlock's detection, say).\n\n",
        args.runs,
        harness::sys::kernel_release(),
        took.as_secs_f64()
    ));
    if !interpreters.is_empty() {
        md.push_str("## Interpreter start-up (`python -c pass`)\n\n| interpreter | path | median | p95 |\n|---|---|---|---|\n");
        for (name, path, s) in interpreters {
            md.push_str(&format!(
                "| {name} | `{}` | {} | {} |\n",
                path.display(),
                ms(*s, |s| s.median),
                ms(*s, |s| s.p95)
            ));
        }
        md.push('\n');
    }
    md.push_str("## Cases\n\n| case | expected | as expected | verdict median | p95 | start-up median | x bare | start-up x bare | target |\n|---|---|---|---|---|---|---|---|---|\n");
    for b in benches {
        let (whole, startup) = b.over_bare();
        let ratio = whole.map_or_else(|| "-".into(), |r| format!("{r:.1}"));
        let startup_ratio = startup.map_or_else(|| "-".into(), |r| format!("{r:.1}"));
        let target = b.target().map_or_else(
            || "-".into(),
            |(what, limit, met)| {
                let mark = if met { "✓" } else { "✗" };
                format!("{mark} {what} < {limit:.0}")
            },
        );
        let rate = if b.as_expected == b.runs {
            format!("{}/{}", b.as_expected, b.runs)
        } else {
            format!(
                "**{}/{}** ({})",
                b.as_expected,
                b.runs,
                b.verdicts.join(", ")
            )
        };
        md.push_str(&format!(
            "| {} | {} | {rate} | {} | {} | {} | {ratio} | {startup_ratio} | {target} |\n",
            b.label,
            b.expected,
            ms(b.elapsed, |s| s.median),
            ms(b.elapsed, |s| s.p95),
            ms(b.startup, |s| s.median),
        ));
    }
    let profiled: Vec<&CaseBench> = benches.iter().filter(|b| b.imports.is_some()).collect();
    if !profiled.is_empty() {
        md.push_str(
            "\n## Python imports per case (`-X importtime`, one run), and each case's floor\n\n\
             Every module's own import time, summed, and the heaviest imports at top \
             level (cumulative): part of `start-up` above. `floor`: the case's \
             interpreter, started as the case's is, importing every module the case \
             imported but pyrepro's, and doing nothing else (the same number of runs, \
             timed as a bare start-up); `x floor`: the case's whole run over it, what \
             pyrepro and the scenario's own work (fork, child, detection) add.\n\n\
             | case | imports | heaviest | floor median | x floor |\n|---|---|---|---|---|\n",
        );
        for b in &profiled {
            let i = b.imports.as_ref().expect("filtered");
            md.push_str(&format!(
                "| {} | {:.1} | {} | {} | {} |\n",
                b.label,
                i.total_ms,
                i.text(),
                ms(b.floor, |s| s.median),
                b.over_floor()
                    .map_or_else(|| "-".into(), |r| format!("{r:.1}")),
            ));
        }
    }
    md.push_str(&ratios(benches));
    let hangs: Vec<&CaseBench> = benches
        .iter()
        .filter(|b| b.blocked_to_verdict.is_some())
        .collect();
    if !hangs.is_empty() {
        md.push_str(&format!(
            "\n## Hang verdicts: from the child blocking to the verdict\n\n\
             For comparison: CPython's own fork tests poll up to 7 s for a deadlock and \
             give a test 30 s before calling it hung.\n\n\
             | case | median | p95 | target: median < {:.0} |\n|---|---|---|---|\n",
            target_ms(HANG_TARGET_MS)
        ));
        for b in hangs {
            let s = b.blocked_to_verdict.expect("filtered");
            let mark = if s.median < target_ms(HANG_TARGET_MS) {
                "✓"
            } else {
                "✗"
            };
            md.push_str(&format!(
                "| {} | {:.1} | {:.1} | {mark} |\n",
                b.label, s.median, s.p95
            ));
        }
    }
    let missed: Vec<String> = benches
        .iter()
        .filter_map(|b| {
            let (what, limit, met) = b.target()?;
            (!met).then(|| {
                let got = if what.starts_with("hang") {
                    b.blocked_to_verdict
                } else {
                    b.elapsed
                };
                format!(
                    "{}: {what} median {} ms (target < {limit:.0})",
                    b.label,
                    ms(got, |s| s.median)
                )
            })
        })
        .collect();
    md.push_str("\n## Targets\n\n");
    if missed.is_empty() {
        md.push_str("Every case met its target.\n");
    } else {
        for m in &missed {
            md.push_str(&format!("- missed: {m}\n"));
        }
    }
    match cargo_test_s {
        Some(Ok(t)) => {
            let mark = |met: bool| if met { "✓" } else { "✗" };
            md.push_str(&format!(
                "\n`cargo test --workspace`, warm build: {:.1} s wall ({} target < {CARGO_TEST_TARGET_S:.0} s), \
                 {:.1} s CPU ({} target < {CARGO_TEST_CPU_TARGET_S:.0} s)\n",
                t.wall_s,
                mark(t.wall_s < CARGO_TEST_TARGET_S),
                t.cpu_s,
                mark(t.cpu_s < CARGO_TEST_CPU_TARGET_S),
            ));
        }
        Some(Err(e)) => md.push_str(&format!("\n`cargo test --workspace`: {e}\n")),
        None => md.push_str("\n`cargo test`: not timed (`--cargo-test`)\n"),
    }
    md
}

/// How many Python cases' whole runs are at most twice a bare start-up,
/// and at most twice their floor, and which are not: of the cases that
/// ran (a skipped case has no whole run), and that have a floor (none
/// before 3.7, which has no import profile).
fn ratios(benches: &[CaseBench]) -> String {
    let ran: Vec<&CaseBench> = benches
        .iter()
        .filter(|b| b.runtime == Runtime::Python && b.wall.is_some())
        .collect();
    if ran.is_empty() {
        return String::new();
    }
    let within = |r: f64| r <= 2.0;
    let bare: Vec<f64> = ran.iter().filter_map(|b| b.over_bare().0).collect();
    let floor: Vec<(&str, f64)> = ran
        .iter()
        .filter_map(|b| Some((b.label.as_str(), b.over_floor()?)))
        .collect();
    let mut md = format!(
        "\n## Python cases: whole run over a bare start-up, and over the floor\n\n\
         - at most 2 x a bare start-up: {} of {}\n",
        bare.iter().filter(|r| within(**r)).count(),
        bare.len()
    );
    if floor.is_empty() {
        md.push_str("- at most 2 x its floor: no floor (no `-X importtime` profile here)\n");
        return md;
    }
    md.push_str(&format!(
        "- at most 2 x its floor: {} of {}\n",
        floor.iter().filter(|(_, r)| within(*r)).count(),
        floor.len()
    ));
    let over: Vec<String> = floor
        .iter()
        .filter(|(_, r)| !within(*r))
        .map(|(label, r)| format!("{label} {r:.1}"))
        .collect();
    if !over.is_empty() {
        md.push_str(&format!("- over 2 x its floor: {}\n", over.join(", ")));
    }
    md
}

fn json_report(
    args: &BenchArgs,
    interpreters: &[(String, PathBuf, Option<Stat>)],
    runtime_bare: Option<Stat>,
    benches: &[CaseBench],
    cargo_test_s: Option<&Result<SuiteTime, String>>,
) -> Value {
    json!({
        "runs_per_case": args.runs,
        "kernel": harness::sys::kernel_release(),
        "targets_ms": { "hang_blocked_to_verdict": target_ms(HANG_TARGET_MS), "verdict": target_ms(VERDICT_TARGET_MS),
                        "cargo_test_s": CARGO_TEST_TARGET_S, "cargo_test_cpu_s": CARGO_TEST_CPU_TARGET_S },
        "interpreters": interpreters.iter().map(|(name, path, s)| json!({
            "name": name, "path": path, "startup_ms": s.map(Stat::json),
        })).collect::<Vec<_>>(),
        "python_runtime_bare_startup_ms": runtime_bare.map(Stat::json),
        "cases": benches.iter().map(|b| { let (wall_over_bare, startup_over_bare) = b.over_bare(); json!({
            "case": b.label,
            "expected": b.expected,
            "runs": b.runs,
            "as_expected": b.as_expected,
            "verdicts": b.verdicts,
            "verdict_ms": b.elapsed.map(Stat::json),
            "wall_ms": b.wall.map(Stat::json),
            "startup_ms": b.startup.map(Stat::json),
            "bare_ms": b.bare.map(Stat::json),
            "wall_over_bare": wall_over_bare.map(round),
            "startup_over_bare": startup_over_bare.map(round),
            "blocked_to_verdict_ms": b.blocked_to_verdict.map(Stat::json),
            "import_ms": b.imports.as_ref().map(|i| round(i.total_ms)),
            "floor_ms": b.floor.map(Stat::json),
            "wall_over_floor": b.over_floor().map(round),
            "heaviest_imports": b.imports.as_ref().map(|i| i.heaviest.iter()
                .map(|(n, ms)| json!({ "module": n, "ms": round(*ms) })).collect::<Vec<_>>()),
            "target_met": b.target().map(|(_, _, met)| met),
        })}).collect::<Vec<_>>(),
        "cargo_test_s": cargo_test_s.map(|r| match r {
            Ok(t) => json!(round(t.wall_s)),
            Err(e) => json!({ "error": e }),
        }),
        "cargo_test_cpu_s": cargo_test_s.and_then(|r| r.as_ref().ok()).map(|t| round(t.cpu_s)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_import_profile_sums_own_times_and_ranks_top_level_imports() {
        let stderr = "import time: self [us] | cumulative | imported package\n\
                      import time:       500 |        500 |   _json\n\
                      import time:      1000 |       1500 | pyrepro.record\n\
                      import time:      2000 |       2000 | socket\n\
                      import time:       300 |       6300 |     enum\n\
                      import time:      4000 |       4300 | pyrepro.proc\n\
                      a line of the case's own\n";
        let i = Imports::parse(stderr).unwrap();
        assert!((i.total_ms - 7.8).abs() < 1e-9, "{i:?}");
        assert_eq!(
            i.heaviest,
            vec![
                ("pyrepro.proc".to_owned(), 4.3),
                ("socket".to_owned(), 2.0),
                ("pyrepro.record".to_owned(), 1.5)
            ]
        );
        assert_eq!(Imports::parse("no profile here\n"), None);
    }

    fn python_case(label: &str, wall: f64, bare: f64, floor: Option<f64>) -> CaseBench {
        let stat = |median| {
            Some(Stat {
                median,
                p95: median,
            })
        };
        CaseBench {
            label: label.into(),
            runtime: Runtime::Python,
            expected: "behaved".into(),
            runs: 1,
            as_expected: 1,
            verdicts: vec!["behaved".into()],
            elapsed: stat(1.0),
            wall: stat(wall),
            startup: stat(wall - 1.0),
            blocked_to_verdict: None,
            imports: None,
            bare: stat(bare),
            floor: floor.and_then(stat),
        }
    }

    #[test]
    fn the_ratios_count_the_cases_within_two_and_name_those_over_their_floor() {
        let md = ratios(&[
            python_case("a/python/quick", 15.0, 10.0, Some(12.0)),
            python_case("a/python/slow", 50.0, 10.0, Some(20.0)),
            python_case("a/python/asyncio", 60.0, 10.0, Some(50.0)),
        ]);
        assert!(
            md.contains("- at most 2 x a bare start-up: 1 of 3\n"),
            "{md}"
        );
        assert!(md.contains("- at most 2 x its floor: 2 of 3\n"), "{md}");
        assert!(
            md.contains("- over 2 x its floor: a/python/slow 2.5\n"),
            "{md}"
        );
        // No import profile (3.6): no floor, said so; a skipped case (no
        // whole run) counts nowhere.
        let mut skipped = python_case("a/python/skipped", 1.0, 10.0, None);
        skipped.wall = None;
        let md = ratios(&[python_case("a/python/quick", 15.0, 10.0, None), skipped]);
        assert!(
            md.contains("- at most 2 x a bare start-up: 1 of 1\n"),
            "{md}"
        );
        assert!(md.contains("- at most 2 x its floor: no floor"), "{md}");
        assert!(!md.contains("over 2 x"), "{md}");
    }

    #[test]
    fn a_floor_imports_what_the_case_began_pyrepros_own_modules_replaced_by_their_imports() {
        // As CPython prints them: each import when it finishes, after the
        // imports nested in it (two more spaces each). Then `site`, run
        // late (with_site), a package from site-packages, and a fork
        // child's import of what its parent had.
        let stderr = "import time: self [us] | cumulative | imported package\n\
                      import time:       100 |        100 |     os\n\
                      import time:       100 |        200 |   pyrepro.proc\n\
                      import time:       100 |        100 |       enum\n\
                      import time:       100 |        200 |     selectors\n\
                      import time:       100 |        300 |   socket\n\
                      import time:       100 |        600 | pyrepro.shared_epoll\n\
                      import time:       100 |        100 | site\n\
                      import time:       100 |        100 |   gevent._config\n\
                      import time:       100 |        200 | gevent\n\
                      import time:       100 |        100 | x;y\n\
                      import time:       100 |        100 | os\n";
        let i = Imports::parse(stderr).unwrap();
        assert_eq!(i.own, ["os", "socket", "gevent", "x;y"]);
        assert!(i.site);
        assert_eq!(
            floor_program(&i),
            "import site; site.main()\n\
             for m in ('os', 'socket', 'gevent', ):\n    try:\n        __import__(m)\n    \
             except BaseException:\n        pass\n"
        );
        let no_site = Imports::parse(&stderr.replace("| site", "| sys")).unwrap();
        assert!(!no_site.site);
        assert!(floor_program(&no_site).starts_with("for m in ('os', 'socket', 'sys', 'gevent', "));
    }
}
