//! Helpers: run `repro`, parse its JSON records strictly, and on failure
//! show the command, the status, stdout and stderr.

use harness::record::{Record, Runtime};
use harness::spec::Spec;
use std::process::Output;

/// A finished `repro` invocation.
pub struct Ran {
    pub cmd: String,
    pub output: Output,
}

impl Ran {
    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Everything, for an assertion message.
    pub fn show(&self) -> String {
        format!(
            "\n--- command\n{}\n--- status\n{}\n--- stdout\n{}\n--- stderr\n{}",
            self.cmd,
            self.output.status,
            self.stdout(),
            self.stderr()
        )
    }

    /// Every stdout line parsed as a record, with the strict schema check.
    pub fn records(&self) -> Vec<Record> {
        self.stdout()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                Record::from_json_line(l)
                    .unwrap_or_else(|e| panic!("{e}\nline: {l}{}", self.show()))
            })
            .collect()
    }

    /// The one record of a one-case run.
    pub fn record(&self) -> Record {
        let mut all = self.records();
        assert_eq!(all.len(), 1, "expected one record{}", self.show());
        all.remove(0)
    }
}

/// Runs `repro` with `args` and extra environment `env`.
///
/// Every run is also a leak check: `repro` gets a TMPDIR of its own and a
/// unique `REPRO_LEAK_TAG` in its environment (which every descendant
/// inherits). Once it has exited, the TMPDIR must be empty and no process
/// may carry the tag.
pub fn repro_env(args: &[&str], env: &[(&str, &str)]) -> Ran {
    let tmp = tempfile::tempdir().expect("a TMPDIR for repro");
    let tag = leak_tag();
    let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_repro"));
    cmd.args(args)
        .env("TMPDIR", tmp.path())
        .env("REPRO_LEAK_TAG", &tag);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let output = cmd.output().expect("spawn repro");
    let ran = Ran {
        cmd: format!("{env:?} repro {}", args.join(" ")),
        output,
    };
    assert_nothing_left(&tag, tmp.path(), &ran.show());
    ran
}

/// A tag no other run uses.
pub fn leak_tag() -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("{}-{n}", std::process::id())
}

/// The live processes whose environment has `REPRO_LEAK_TAG=<tag>`.
pub fn tagged(tag: &str) -> Vec<i32> {
    let needle = format!("REPRO_LEAK_TAG={tag}");
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|kv| kv == needle.as_bytes()))
        })
        .collect()
}

/// After a `repro` run: no process left with `tag`, nothing left in `tmp`.
pub fn assert_nothing_left(tag: &str, tmp: &std::path::Path, show: &str) {
    let left = tagged(tag);
    let what: Vec<_> = left
        .iter()
        .filter_map(|&p| harness::procfs::snapshot(p))
        .collect();
    // Killed before the test fails: a leak must not outlive the test that
    // found it (nor carry its tag into a later run's pid).
    for &pid in &left {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    assert!(
        left.is_empty(),
        "processes left behind: {left:?} {what:?}{show}"
    );
    let files: Vec<_> = std::fs::read_dir(tmp)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.file_name())).collect())
        .unwrap_or_default();
    assert!(files.is_empty(), "left in TMPDIR: {files:?}{show}");
}

/// Runs `repro` with `args`.
pub fn repro(args: &[&str]) -> Ran {
    repro_env(args, &[])
}

/// Runs `repro` with `args` in the working directory `dir` (with the leak
/// check of [`repro_env`]).
pub fn repro_in(dir: &std::path::Path, args: &[&str]) -> Ran {
    let tmp = tempfile::tempdir().expect("a TMPDIR for repro");
    let tag = leak_tag();
    let output = assert_cmd::Command::new(env!("CARGO_BIN_EXE_repro"))
        .args(args)
        .current_dir(dir)
        .env("TMPDIR", tmp.path())
        .env("REPRO_LEAK_TAG", &tag)
        .output()
        .expect("spawn repro");
    let ran = Ran {
        cmd: format!("(in {}) repro {}", dir.display(), args.join(" ")),
        output,
    };
    assert_nothing_left(&tag, tmp.path(), &ran.show());
    ran
}

/// The fd lists the shared-epoll evidence names, by key.
pub fn evidence_list(r: &Record, key: &str) -> Vec<i64> {
    r.evidence
        .iter()
        .find_map(|e| e.get(key))
        .and_then(|v| v.as_array())
        .unwrap_or_else(|| panic!("no {key} in the evidence of {r:#?}"))
        .iter()
        .map(|v| v.as_i64().expect("an fd"))
        .collect()
}

/// The first evidence object that has `key` (a scenario's structured
/// evidence: the one JSON object among its notes).
pub fn evidence_with<'r>(r: &'r Record, key: &str) -> &'r serde_json::Value {
    r.evidence
        .iter()
        .find(|e| e.get(key).is_some())
        .unwrap_or_else(|| panic!("no {key} in the evidence of {r:#?}"))
}

/// Whether any evidence string contains `needle`.
pub fn evidence_says(r: &Record, needle: &str) -> bool {
    r.evidence
        .iter()
        .any(|e| e.as_str().is_some_and(|s| s.contains(needle)))
}

/// Whether a process with this pid exists (zombies included).
pub fn alive(pid: i64) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Every scenario id `repro list` knows, in its order: the cross-cutting
/// tests iterate this, so a scenario is covered the day its directory lands.
/// `$REPRO_SCENARIOS` (comma-separated) narrows it, for the scaffold test
/// that runs the suite on one new scenario in a copy of the tree; each id it
/// names must exist.
pub fn scenario_ids() -> Vec<String> {
    let ran = repro(&["list", "--json"]);
    assert_eq!(ran.code(), Some(0), "{}", ran.show());
    let specs: Vec<Spec> = serde_json::from_str(ran.stdout().trim()).expect("repro list --json");
    let all: Vec<String> = specs.into_iter().map(|s| s.id).collect();
    match narrowed_to() {
        Some(only) => {
            for id in &only {
                assert!(
                    all.contains(id),
                    "REPRO_SCENARIOS names {id:?}, not in {all:?}"
                );
            }
            only
        }
        None => all,
    }
}

/// The scenarios `$REPRO_SCENARIOS` narrows the tests to, if it does.
pub fn narrowed_to() -> Option<Vec<String>> {
    std::env::var("REPRO_SCENARIOS")
        .ok()
        .filter(|only| !only.is_empty())
        .map(|only| only.split(',').map(str::to_owned).collect())
}

/// Runs `test` on every scenario ([`scenario_ids`]), side by side, and
/// fails naming each scenario whose test panicked (its message is above).
pub fn each_scenario(test: impl Fn(&str) + Sync) {
    let ids = scenario_ids();
    let failed: Vec<&String> = std::thread::scope(|s| {
        let handles: Vec<_> = ids.iter().map(|id| (id, s.spawn(|| test(id)))).collect();
        handles
            .into_iter()
            .filter_map(|(id, h)| h.join().is_err().then_some(id))
            .collect()
    });
    assert!(failed.is_empty(), "failed for: {failed:?}");
}

/// A scenario's parsed `scenario.toml`.
pub fn spec(id: &str) -> Spec {
    let path = format!(
        "{}/crates/corpus/{id}/scenario.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    Spec::parse(&path, &std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// A scenario's matrix, from its scenario.toml: (runtime, variant) for
/// every case, sorted.
pub fn matrix(id: &str) -> Vec<(String, String)> {
    let spec = spec(id);
    let mut cases: Vec<(String, String)> = Runtime::ALL
        .iter()
        .flat_map(|&rt| {
            spec.variants_for(rt)
                .map(move |v| (rt.as_str().to_owned(), v.id.clone()))
        })
        .collect();
    cases.sort();
    cases
}

/// Hands each case of scenario `id` (from the book: [`crate::book`]) to
/// `check`, with what to show on failure, and checks its timeline; first,
/// that what ran is exactly its scenario.toml's matrix, and last, that
/// every case was as expected; fails naming every case whose check
/// panicked (each message is above). The matrix is declared once, in
/// scenario.toml: a variant added there is checked here with no other edit.
pub fn each_case(id: &str, check: impl Fn(&str, &Record)) {
    let book = crate::book::book();
    let records = book.scenario(id);
    let mut ran_cases: Vec<(String, String)> = records
        .iter()
        .map(|r| (r.runtime.as_str().to_owned(), r.variant.clone()))
        .collect();
    ran_cases.sort();
    assert_eq!(
        ran_cases,
        matrix(id),
        "{id}: what ran is not its scenario.toml"
    );
    // Every case: its own check, and a timeline (but from a process that
    // died before it could report one, `crashed`).
    let failed: Vec<String> = records
        .iter()
        .filter(|r| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                check(&book.show(r), r);
                if r.verdict != harness::record::Verdict::Crashed {
                    assert_trace(r);
                }
            }))
            .is_err()
        })
        .map(|r| format!("{} {}", r.runtime.as_str(), r.variant))
        .collect();
    assert!(failed.is_empty(), "{id}: failed cases: {failed:?}");
    for r in &records {
        assert_eq!(
            r.as_expected,
            Some(true),
            "{id}: as expected{}",
            book.show(r)
        );
    }
}

/// A number the evidence names, by key.
pub fn evidence_number(r: &Record, key: &str) -> i64 {
    r.evidence
        .iter()
        .find_map(|e| e.get(key)?.as_i64())
        .unwrap_or_else(|| panic!("no number {key} in the evidence of {r:#?}"))
}

/// Samples `condition` until it holds, at most `limit`: for waiting on
/// process-tree facts in /proc that no event announces. The sleep is the
/// sampling interval, not a guess at how long something takes.
pub fn sample_until(what: &str, limit: std::time::Duration, condition: impl Fn() -> bool) {
    let start = std::time::Instant::now();
    while !condition() {
        assert!(
            start.elapsed() < limit,
            "gave up after {limit:?} waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// The pids of the children the evidence names ("child 1234 ...").
pub fn child_pids(r: &Record) -> Vec<i64> {
    r.evidence
        .iter()
        .filter_map(|e| {
            let rest = e.as_str()?.strip_prefix("child ")?;
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect()
}

/// The interpreters the tests hold expectations and history against:
/// every one discovered here, and the CPython builds with a GIL that `make
/// interpreters` provisioned (3.14, 3.15: versions no other source here
/// has). The provisioned PyPy and free-threaded builds have a test of
/// their own (`interpreters::provisioned_interpreters_run_as_expected`);
/// every case on each of them is `make canary`'s.
pub fn test_interpreters() -> &'static [harness::python::Found] {
    static FOUND: std::sync::OnceLock<Vec<harness::python::Found>> = std::sync::OnceLock::new();
    FOUND.get_or_init(|| {
        keep_checks();
        let provisioned = provisioned_paths();
        let (found, _) = harness::python::discover(provisioned);
        found
            .into_iter()
            .filter(|f| {
                !provisioned.contains(&f.path)
                    || (f.implementation == "CPython" && !f.free_threaded)
            })
            .collect()
    })
}

/// What `python` is, as `repro` would say (its check kept in
/// `target/checks`, as `repro` keeps it).
pub fn checked(python: &std::path::Path) -> harness::python::Found {
    keep_checks();
    harness::python::check_full(python).unwrap_or_else(|e| panic!("{e}"))
}

/// From now on, this process keeps what interpreters said in
/// `target/checks`, as `repro` does: asked again only when an
/// interpreter's file changes (harness::python::keep_checks_in), not at
/// each discovery (7 ms per interpreter, 27 ms per provisioned one).
fn keep_checks() {
    harness::python::keep_checks_in(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target")
            .join("checks"),
    );
}

/// The wrappers `make interpreters` left (none before it ran).
pub fn provisioned_paths() -> &'static [std::path::PathBuf] {
    static PATHS: std::sync::OnceLock<Vec<std::path::PathBuf>> = std::sync::OnceLock::new();
    PATHS.get_or_init(|| {
        harness::python::provisioned(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))).paths
    })
}

/// Every python case of `scenario` on each of [`expectation_pythons`]
/// (each from the book: [`crate::book::on_python`]). So every expectation
/// is held against a real interpreter in `cargo test`, without running the
/// same expectations on ten of them; the full sweep, every interpreter, is
/// `make canary`. Each comes with what to show on failure and its records,
/// one per python variant (checked here).
pub fn on_each_expectation(scenario: &str) -> Vec<(String, Vec<Record>)> {
    let pythons = expectation_pythons(scenario);
    std::thread::scope(|s| {
        let handles: Vec<_> = pythons
            .iter()
            .map(|py| s.spawn(move || crate::book::on_python(scenario, py)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                let (show, records) = h.join().unwrap();
                let n = python_variant_count(scenario);
                assert_eq!(records.len(), n, "one record per variant{show}");
                (show, records)
            })
            .collect()
    })
}

/// The interpreters [`on_each_expectation`] runs `scenario`'s python cases
/// on: the default one, and for each other set of expectations
/// `scenario.toml` gives by interpreter version (say, "before 3.12" and
/// "3.12+" when the default is 3.11), the newest interpreter that has it among
/// [`test_interpreters`], a provisioned one only for a set no other has.
/// Another test that needs one of these cases on one of these interpreters
/// takes its record from the same run ([`crate::book::on_python`]).
pub fn expectation_pythons(scenario: &str) -> Vec<String> {
    let found = test_interpreters().to_vec();
    let default = harness::python::default_python(std::path::Path::new(env!("CARGO_MANIFEST_DIR")))
        .expect("a python3");
    let spec = spec(scenario);
    let expectations = |f: &harness::python::Found| -> String {
        let per_variant: Vec<String> = spec
            .variants_for(Runtime::Python)
            .map(|v| format!("{:?}", v.expected(Runtime::Python, Some(&f.interpreter()))))
            .collect();
        format!("{} {}", f.implementation, per_variant.join(" "))
    };
    // Newest first, so each group's first member is its newest; the
    // provisioned ones after all others, as each starts in its root (14 ms
    // more): one stands for a group only no other interpreter has.
    let mut found = found;
    let provisioned = provisioned_paths();
    found.sort_by_key(|f| {
        (
            provisioned.contains(&f.path),
            std::cmp::Reverse(harness::spec::parse_version(&f.version)),
        )
    });
    // The default interpreter's set is held by the book's run already.
    let mut seen: Vec<String> = vec![expectations(&checked(&default))];
    let mut pythons: Vec<String> = vec![default.display().to_string()];
    for f in &found {
        let key = expectations(f);
        if !seen.contains(&key) {
            seen.push(key);
            pythons.push(f.path.display().to_string());
        }
    }
    pythons
}

/// Every case records its timeline: events in time order, a fork at 0 when
/// there was one.
pub fn assert_trace(r: &Record) {
    let trace = r
        .trace
        .as_ref()
        .unwrap_or_else(|| panic!("no trace in {r:#?}"));
    assert!(!trace.is_empty(), "empty trace in {r:#?}");
    assert!(
        trace.windows(2).all(|w| w[0].t_ms <= w[1].t_ms),
        "trace out of order: {trace:#?}"
    );
}

/// Asserts that each of `expected` occurs in `text`, in this order (each
/// after the end of the one before); `show` is appended on failure.
pub fn assert_in_order(text: &str, expected: &[&str], show: &str) {
    let mut from = 0;
    for want in expected {
        let at = text[from..]
            .find(want)
            .unwrap_or_else(|| panic!("{want:?} not found (in order) in:\n{text}{show}"));
        from += at + want.len();
    }
}

/// How many variants `scenario` has for the python runtime (from its spec).
pub fn python_variant_count(scenario: &str) -> usize {
    spec(scenario).variants_for(Runtime::Python).count()
}

/// The directory where one test run keeps what its tests share (the book,
/// the small canary): `target/tmp/shared/<run>`, where `<run>` is
/// `REPRO_TEST_RUN` (`make test` names one run for its two `cargo test`
/// invocations, so the second reads the book the first ran), nextest's
/// `NEXTEST_RUN_ID` (under nextest each test is a process), or this
/// process's pid (`cargo test`: one process). A run's directory older than
/// an hour is removed when another run starts.
pub fn run_dir() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let base = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("shared");
        // One test process (cargo test) is one run: its pid, and its start
        // time, since a pid comes back (within the hour a run's directory
        // is kept, here: a later run would have read an earlier one's).
        let named = std::env::var("REPRO_TEST_RUN").or_else(|_| std::env::var("NEXTEST_RUN_ID"));
        let run = named.unwrap_or_else(|_| {
            let pid = std::process::id();
            let stat = harness::procfs::stat(pid as i32).expect("/proc/self/stat");
            format!("pid-{pid}-{}", stat.starttime)
        });
        let hour = std::time::Duration::from_secs(3600);
        for old in std::fs::read_dir(&base).into_iter().flatten().flatten() {
            let stale = old
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > hour));
            if stale && old.file_name() != run.as_str() {
                let _ = std::fs::remove_dir_all(old.path());
            }
        }
        let dir = base.join(run);
        std::fs::create_dir_all(&dir).expect("target/tmp/shared");
        dir
    })
}

/// `path` (created if need be), locked exclusively until the returned
/// guard is dropped: what one test process makes, another waits for.
pub fn locked(path: &std::path::Path) -> nix::fcntl::Flock<std::fs::File> {
    let file = std::fs::File::create(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .unwrap_or_else(|e| panic!("flock {}: {e}", path.display()))
}

/// Runs `make` once per test run, in a directory of its own, and hands its
/// directory and run to every test that asks for `name`: within one
/// process, and across nextest's processes (the first one runs it under a
/// file lock, and saves the run; the others read it).
pub fn once_per_run(
    name: &str,
    make: impl FnOnce(&std::path::Path) -> Ran,
) -> &'static (std::path::PathBuf, Ran) {
    use std::collections::HashMap;
    use std::os::unix::process::ExitStatusExt;
    use std::sync::{Mutex, OnceLock};
    type Slot = OnceLock<(std::path::PathBuf, Ran)>;
    static SLOTS: OnceLock<Mutex<HashMap<String, &'static Slot>>> = OnceLock::new();
    let slot: &'static Slot = SLOTS
        .get_or_init(Default::default)
        .lock()
        .unwrap()
        .entry(name.to_owned())
        // Once per name and run: it lives as long as the tests.
        .or_insert_with(|| Box::leak(Box::default()));
    slot.get_or_init(|| {
        let dir = run_dir().join(name);
        let _held = locked(&run_dir().join(format!("{name}.lock")));
        let file = |f: &str| dir.join(".run").join(f);
        if let Ok(done) = std::fs::read(file("status")) {
            let raw = String::from_utf8_lossy(&done).trim().parse().unwrap();
            let ran = Ran {
                cmd: std::fs::read_to_string(file("cmd")).unwrap(),
                output: std::process::Output {
                    status: std::process::ExitStatus::from_raw(raw),
                    stdout: std::fs::read(file("stdout")).unwrap(),
                    stderr: std::fs::read(file("stderr")).unwrap(),
                },
            };
            return (dir, ran);
        }
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join(".run")).unwrap();
        let ran = make(&dir);
        std::fs::write(file("cmd"), &ran.cmd).unwrap();
        std::fs::write(file("stdout"), &ran.output.stdout).unwrap();
        std::fs::write(file("stderr"), &ran.output.stderr).unwrap();
        // Last: its presence says the run is complete.
        std::fs::write(file("status"), ran.output.status.into_raw().to_string()).unwrap();
        (dir, ran)
    })
}
