//! The interpreters `make interpreters` provisions (ci/interpreters.sh):
//! its refusals, the root entry's, the PyPy fallbacks on any interpreter,
//! and, where they were provisioned, every one of them running cases as
//! `scenario.toml` expects (an addition: nothing here needs them).

use crate::util::spec;
use std::path::Path;
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn provisioning_names_a_bad_option_before_doing_anything() {
    let out = Command::new(Path::new(ROOT).join("ci/interpreters.sh"))
        .arg("--bogus")
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("unknown option --bogus") && err.contains("--no-build"),
        "{err}"
    );
}

#[test]
fn entering_an_incomplete_root_is_refused_with_its_name() {
    // A root whose build did not finish has no .repro-root stamp.
    let project = tempfile::tempdir().unwrap();
    let roots = project.path().join("target/interpreters/roots");
    std::fs::create_dir_all(roots.join("half")).unwrap();
    let enter = roots.join("half.enter");
    std::fs::copy(Path::new(ROOT).join("ci/enter.sh"), &enter).unwrap();
    let out = Command::new(&enter).arg("true").output().unwrap();
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(127), "{err}");
    assert!(
        err.contains("half") && err.contains("is not a complete root"),
        "{err}"
    );
}

/// sigterm-zombie's `waitid(P_ALL, WEXITED | WNOWAIT)` without `os.waitid`
/// (PyPy has none): the libc call through ctypes, on this interpreter with
/// `os.waitid` taken away. A child that exited is reported and left a
/// zombie; with no child left, None at once.
#[test]
fn waitid_without_os_waitid_sees_an_exited_child_unreaped() {
    let py = harness::python::default_python(Path::new(ROOT)).unwrap();
    let script = r#"
import os, sys
sys.path.insert(0, sys.argv[1])
del os.waitid
from pyrepro.proc import wait_exited_nowait, proc_stat
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    os._exit(0)
os.close(w)
os.read(r, 1)  # EOF: the child is gone, or going
got = wait_exited_nowait()
state = proc_stat(pid)
os.waitpid(pid, 0)
print(got == pid, state[0] if state else None, wait_exited_nowait())
"#;
    let out = Command::new(&py)
        .args(["-c", script, ROOT])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(text.trim(), "True Z None", "{}", stderr_of(&out));
}

/// Each provisioned interpreter (none on a machine that never ran `make
/// interpreters`: then this says so and checks nothing else) runs the
/// cases its column of the canary stands on: a zombie seen through waitid
/// (PyPy's fallback), a lock held across fork, the same with the default
/// start method (forkserver since 3.14: behaved there), and gevent's
/// finalizer (an expected skip on PyPy and free-threaded builds), each as
/// `scenario.toml` expects for that interpreter.
#[test]
fn provisioned_interpreters_run_as_expected() {
    let p = harness::python::provisioned(Path::new(ROOT));
    if !p.ran {
        eprintln!("no provisioned interpreters (make interpreters): nothing to run");
        return;
    }
    // It ran: then it must have provisioned something, or said why not.
    assert!(
        !p.paths.is_empty(),
        "make interpreters ran but provisioned nothing: {:?}",
        p.missing
    );
    for path in &p.paths {
        let found = crate::util::checked(path);
        let shown = path.display().to_string();
        for (scenario, variant) in [
            ("sigterm-zombie", "broken"),
            ("fork-held-lock", "broken"),
            ("fork-held-lock", "broken-mp-default"),
            ("finalizer-yield", "broken"),
        ] {
            let (r, show) = crate::book::case_on(scenario, variant, &shown);
            let want = spec(scenario)
                .variant(variant)
                .unwrap()
                .expected(r.runtime, Some(&found.interpreter()));
            assert!(
                want.is_met_by(&r),
                "{shown} {scenario} {variant}: expected {want:?}{show}"
            );
            let py = r.python.as_ref().expect("the interpreter it ran on");
            assert_eq!(
                (py.implementation.as_str(), py.free_threaded),
                (found.implementation.as_str(), found.free_threaded),
                "{show}"
            );
        }
    }
}
