//! One schema on both sides. Every record the tests see is parsed with the
//! strict Rust type (util::Ran::records); here, the Python side's own checks
//! and the agreement between pyrepro and scenario.toml.

use harness::python::default_python;
use harness::record::Runtime;
use harness::spec::Spec;
use std::process::Command;

fn python() -> Command {
    let mut cmd = Command::new(
        default_python(std::path::Path::new(env!("CARGO_MANIFEST_DIR")))
            .expect("a python3 for the tests"),
    );
    harness::python::scrub_env(&mut cmd);
    cmd.env("PYTHONPATH", env!("CARGO_MANIFEST_DIR"))
        .env("PYTHONDONTWRITEBYTECODE", "1");
    cmd
}

#[test]
fn pyrepro_variants_are_the_specs_python_variants() {
    let out = python()
        .args(["-m", "pyrepro", "list", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crates/corpus/shared-epoll/scenario.toml"
    );
    let spec = Spec::parse(path, &std::fs::read_to_string(path).unwrap()).unwrap();
    let from_spec: Vec<&str> = spec
        .variants_for(Runtime::Python)
        .map(|v| v.id.as_str())
        .collect();
    let from_python: Vec<&str> = listed["shared-epoll"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(from_python, from_spec);
}

#[test]
fn python_side_rejects_what_the_rust_side_rejects() {
    let script = r#"
from pyrepro import record
bad = [
    dict(observation=None, verdict="misbehaved"),           # no symptom
    dict(observation=None, verdict="hung"),                 # supervisor-only verdict
    dict(observation=None, verdict="error"),                # no reason
]
for kw in bad:
    try:
        record.build("shared-epoll", "python", "broken", 1.0, **kw)
    except ValueError as e:
        print("rejected:", e)
    else:
        print("ACCEPTED", kw)
obs = record.Observation()
obs.symptom = "Not_Kebab"
obs.note("x")
try:
    record.build("shared-epoll", "python", "broken", 1.0, observation=obs)
except ValueError as e:
    print("rejected:", e)
"#;
    let out = python().args(["-c", script]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(text.matches("rejected:").count(), 4, "{text}");
    assert!(!text.contains("ACCEPTED"), "{text}");
}

/// pyrepro's deadlock rule (`proc.observe`, `proc.in_futex_wait`) is
/// harness::hang's, sample for sample: the same runs of futex waits, the
/// same wake-ups that do not break a run, the same budget.
#[test]
fn pyrepro_calls_a_deadlock_where_the_harness_does() {
    let script = r#"
from pyrepro import proc
nr = proc.syscalls("futex")[0]
wait = "%d 0x7f884774e6f0 0x89 0x0 0x0 0x7ffd 0x0 0x7ffd 0x7f12" % nr
other = "%d 0x7f884774e6f4 0x89 0x0 0x0 0x7ffd 0x0 0x7ffd 0x7f12" % nr
def at(state, syscall, cpu_us, wchan=""):
    return {"quiet_ms": 0, "state": state, "syscall": syscall, "wchan": wchan,
            "cpu_ns": None if cpu_us is None else cpu_us * 1000}
def run(samples):
    stable, out = [], []
    for s in samples:
        stable = proc.observe(stable, s)
        out.append(len(stable) >= proc.STABLE_SAMPLES)
    return "".join("D" if d else "." for d in out)
print("budget", proc.WAKE_CPU_BUDGET_NS)
print(run([at("S", wait, 100), at("R", "running", 130), at("S", wait, 160),
           at("R", "running", 190), at("S", wait, 220)]))
print(run([at("S", wait, 100), at("S", wait, 110), at("R", "running", 2110),
           at("S", wait, 2120), at("S", wait, 2130), at("S", wait, 2140)]))
print(run([at("S", wait, 100), at("S", wait, 110), at("S", other, 120),
           at("S", other, 130), at("R", "running", None), at("S", other, None),
           at("S", other, None), at("S", other, None)]))
print(proc.in_futex_wait(at("S", "running", 0, "futex_do_wait")),
      proc.in_futex_wait(at("S", "", 0, "futex_do_wait")))
"#;
    let out = python().args(["-c", script]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let budget = harness::hang::WAKE_CPU_BUDGET.as_nanos();
    // The same sequences as harness::hang's unit test, the same answers.
    assert_eq!(
        text,
        format!("budget {budget}\n....D\n.....D\n.......D\nFalse True\n")
    );
}

/// pyrepro's lone-waiter proof (`proc.lone_waiter`,
/// `proc.in_untimed_private_wait`, `proc.look_after`) is harness::hang's,
/// on the same looks as its unit tests: each line's answer is compared
/// with the harness's own, computed here.
#[test]
fn pyrepro_proves_a_lone_waiter_where_the_harness_does() {
    use harness::hang::{Sample, lone_waiter, look_after};
    use std::time::Duration;
    let nr = libc::SYS_futex;
    // (op, timeout, state, cpu µs of the second look, threads)
    let cases: &[(u64, u64, &str, Option<u64>, u64)] = &[
        (0x189, 0, "S", Some(500), 1),
        (0x89, 0, "S", Some(500), 1),
        (0x80, 0, "S", Some(500), 1),
        (0x189, 0x7ffd_1000, "S", Some(500), 1),
        (0x109, 0, "S", Some(500), 1),
        (0x86, 0, "S", Some(500), 1),
        (0x81, 0, "S", Some(500), 1),
        (0x189, 0, "R", Some(500), 1),
        (0x189, 0, "S", Some(501), 1),
        (0x189, 0, "S", Some(500), 2),
        (0x189, 0, "S", None, 1),
    ];
    let line = |op: u64, timeout: u64| {
        format!("{nr} 0x55d5c0a0 {op:#x} 0x0 {timeout:#x} 0x0 0xffffffff 0x7ffd 0x7f12")
    };
    let look = |op, timeout, state: &str, cpu_us: Option<u64>, threads| Sample {
        quiet_ms: 0,
        state: state.into(),
        syscall: line(op, timeout),
        wchan: String::new(),
        cpu: cpu_us.map(Duration::from_micros),
        threads,
    };
    let mut script = String::from(
        "from pyrepro import proc\n\
         def look(op, timeout, state, cpu_us, threads):\n\
         \x20   line = '%d 0x55d5c0a0 %#x 0x0 %#x 0x0 0xffffffff 0x7ffd 0x7f12' % (\n\
         \x20       proc.syscalls('futex_op')[0], op, timeout)\n\
         \x20   return {'quiet_ms': 0, 'state': state, 'syscall': line, 'wchan': '',\n\
         \x20           'cpu_ns': None if cpu_us is None else cpu_us * 1000, 'threads': threads}\n",
    );
    let mut want = String::new();
    for &(op, timeout, state, cpu, threads) in cases {
        let before = look(op, timeout, state, cpu.map(|_| 500), 1);
        let now = look(op, timeout, state, cpu, threads);
        let py_cpu = cpu.map_or("None".to_owned(), |c| c.to_string());
        let py_before = if cpu.is_some() { "500" } else { "None" };
        script.push_str(&format!(
            "print(proc.lone_waiter(look({op}, {timeout}, {state:?}, {py_before}, 1), \
             look({op}, {timeout}, {state:?}, {py_cpu}, {threads})))\n"
        ));
        want.push_str(if lone_waiter(&before, &now) {
            "True\n"
        } else {
            "False\n"
        });
    }
    for ms in [0u64, 6, 1000] {
        script.push_str(&format!(
            "print(round(proc.look_after({ms} / 1000.0) * 1e6))\n"
        ));
        let micros = look_after(Duration::from_millis(ms)).as_micros();
        want.push_str(&format!("{micros}\n"));
    }
    let out = python().args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), want, "{script}");
    // Not every answer the same: the cases tell the proofs apart.
    assert_eq!(want.matches("True").count(), 3, "{want}");
}

#[test]
fn scenario_environment_is_controlled() {
    // What the user's shell exports must not reach the scenario process.
    let ran = crate::util::repro_env(
        &[
            "run",
            "shared-epoll",
            "--runtime",
            "python",
            "--variant",
            "broken",
            "--json",
        ],
        &[
            ("PYTHONWARNINGS", "error"),
            ("PYTHONPATH", "/nonexistent"),
            ("PYTHONHOME", "/nonexistent"),
        ],
    );
    let r = ran.record();
    assert_eq!(r.as_expected, Some(true), "{}", ran.show());
}

#[test]
fn embedded_refuses_a_libpython_it_was_not_built_for() {
    // Find the libpython an embedded run maps, copy it elsewhere, and make
    // the loader prefer the copy (LD_LIBRARY_PATH outranks the rpath): the
    // same bytes, from a directory the binary was not built for.
    let args = [
        "run",
        "shared-epoll",
        "--runtime",
        "embedded",
        "--variant",
        "fixed",
        "--json",
    ];
    let good = crate::util::repro(&args).record();
    let lib = std::path::PathBuf::from(good.python.unwrap().library.expect("library"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&lib, dir.path().join(lib.file_name().unwrap())).unwrap();
    let ld = dir.path().to_str().unwrap();
    let ran = crate::util::repro_env(&args, &[("LD_LIBRARY_PATH", ld)]);
    let r = ran.record();
    assert_eq!(r.verdict, harness::record::Verdict::Error, "{}", ran.show());
    let reason = r.reason.unwrap_or_default();
    assert!(
        reason.contains(ld) && reason.contains("built against"),
        "{}",
        ran.show()
    );
    assert_eq!(ran.code(), Some(3), "{}", ran.show());
}

/// Only `repro-embedded` links libpython: `repro` (the CLI, and the scenario
/// process of every Rust case) starts without loading it, which saves every
/// start the relocation of a 20 MB library. The dynamic loader says what
/// it loads (`LD_DEBUG=files`); the embedded program is the control that
/// shows the check sees a libpython where there is one.
#[test]
fn only_the_embedded_program_loads_libpython() {
    let loads = |exe: &str, args: &[&str]| -> String {
        let out = Command::new(exe)
            .args(args)
            .env("LD_DEBUG", "files")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter_map(|l| l.split("file=").nth(1))
            .filter_map(|f| f.split_whitespace().next())
            .map(str::to_owned)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let cli = loads(env!("CARGO_BIN_EXE_repro"), &["--version"]);
    assert!(cli.contains("libc.so"), "LD_DEBUG shows no load: {cli}");
    assert!(!cli.contains("libpython"), "repro loads {cli}");
    let embedded = loads(env!("CARGO_BIN_EXE_repro-embedded"), &[]);
    assert!(
        embedded.contains("libpython"),
        "repro-embedded loads {embedded}"
    );
}

/// An embedded case needs `repro-embedded` beside `repro`; without it, the
/// case's record says which file is missing, and nothing else fails.
#[test]
fn an_embedded_case_without_its_program_names_it() {
    // A copy (a symbolic link would resolve back to target/, a hard link
    // needs a writable directory there, which test-nonroot's user lacks):
    // its own path, as /proc/self/exe gives it, with no sibling.
    let alone = tempfile::tempdir().unwrap();
    let repro = alone.path().join("repro");
    std::fs::copy(env!("CARGO_BIN_EXE_repro"), &repro).unwrap();
    let run = |runtime: &str| {
        let out = Command::new(&repro)
            .args([
                "run",
                "shared-epoll",
                "--runtime",
                runtime,
                "--variant",
                "fixed",
                "--json",
            ])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = run("embedded");
    assert_eq!(code, Some(3), "{out}");
    let missing = alone.path().join("repro-embedded");
    assert!(
        out.contains(&format!("{} is missing", missing.display())) && out.contains("\"error\""),
        "{out}"
    );
    let (code, out) = run("rust");
    assert_eq!(code, Some(0), "{out}");
}

/// `cargo run` rebuilds `repro` only: a `repro-embedded` built from other
/// sources (another stamp, crates/repro/build.rs) refuses the case with a
/// record that says so, rather than run stale code; with `repro`'s stamp,
/// the same case runs.
#[test]
fn an_embedded_program_from_other_sources_refuses_the_case() {
    let run = |stamp: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_repro-embedded"))
            .args(["shared-epoll", "fixed"])
            .env("REPRO_EMBEDDED_STAMP", stamp)
            .env("REPRO_ROOT", env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(0), "{text}");
        let record = harness::record::Record::from_json_line(text.trim()).unwrap();
        (record, text)
    };
    let (r, text) = run("0123456789abcdef");
    assert_eq!(r.verdict, harness::record::Verdict::Error, "{text}");
    let reason = r.reason.unwrap_or_default();
    assert!(
        reason.contains("built from other sources") && reason.contains("\"0123456789abcdef\""),
        "{text}"
    );
    let (r, text) = run(env!("REPRO_EMBEDDED_STAMP"));
    assert_eq!(r.verdict, harness::record::Verdict::Behaved, "{text}");
}

/// pyrepro writes its records without the json package (its import is a
/// share of every case's start-up): the same text as `json.dumps` for
/// everything a record holds, and refusal of what json refuses.
#[test]
fn pyrepro_writes_json_exactly_as_json_dumps() {
    let program = r#"
import json, sys
from pyrepro.record import dumps, is_kebab
samples = [None, True, False, 0, -7, 2**70, 1.5, 0.1, 1e-7, 3e300, float("nan"),
           float("inf"), float("-inf"), "", "plain", "quote \" backslash \\ tab \t nl \n",
           "\x00\x1f\x7f", "é ✓ 🐍 \ud800", [], [1, [2, {}]], (1, "t"),
           {"a": 1, "b": [None, {"c": "d"}], "": 0.25},
           {"scenario": "shared-epoll", "evidence": [{"tfds": [6, 13]}, "x"]}]
bad = 0
for s in samples:
    if dumps(s) != json.dumps(s):
        print("differs: %r: %s vs %s" % (s, dumps(s), json.dumps(s)))
        bad += 1
try:
    dumps({"x": object()})
    print("an object was written"); bad += 1
except TypeError:
    pass
for ok in ["a", "shared-epoll", "a1-b2-c3"]:
    bad += not is_kebab(ok)
for no in ["", "-a", "a-", "a--b", "A", "a_b", "a b", None, 3]:
    if is_kebab(no):
        print("kebab: %r" % (no,)); bad += 1
print("checked %d" % len(samples))
sys.exit(1 if bad else 0)
"#;
    let out = python().args(["-c", program]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("checked 23"), "{text}");
}
