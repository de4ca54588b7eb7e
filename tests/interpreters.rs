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

/// A fork child of pyrepro's `fork_child` dies with its parent
/// (PR_SET_PDEATHSIG, through the C library `pyrepro.proc` reaches without
/// the ctypes package on CPython): its parent SIGKILLed while both block, it
/// is gone too. This is what takes a scenario's children down when `repro`
/// itself is killed (`supervisor::killed_repro_leaves_no_scenario_process_behind`
/// shows it for the Rust side).
#[test]
fn a_python_fork_child_dies_with_its_parent() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    use std::io::BufRead;
    let py = harness::python::default_python(Path::new(ROOT)).unwrap();
    // The child says it is ready once past die_with_parent; then both block
    // on a pipe no one writes to.
    let script = r#"
import os, sys
sys.path.insert(0, sys.argv[1])
from pyrepro.proc import fork_child
r, w = os.pipe()
ready_r, ready_w = os.pipe()
child = fork_child(lambda: (os.write(ready_w, b"!"), os.read(r, 1)))
os.read(ready_r, 1)
os.write(1, b"%d\n" % child.pid)
os.read(r, 1)
"#;
    // stderr to a file, stdout read for one line only: the child inherits
    // both, so reading either to its end would wait for the child.
    let mut errors = tempfile::tempfile().unwrap();
    let mut parent = Command::new(&py)
        .args(["-S", "-c", script, ROOT])
        .stdout(std::process::Stdio::piped())
        .stderr(errors.try_clone().unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(parent.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = parent.kill();
    parent.wait().unwrap();
    let child: i32 = line.trim().parse().unwrap_or_else(|_| {
        use std::io::{Read, Seek};
        let mut text = String::new();
        errors.rewind().unwrap();
        errors.read_to_string(&mut text).unwrap();
        panic!("no child pid from the parent: {line:?}\n{text}")
    });
    // Its exit, as an event (a pidfd), or gone already (reaped by init):
    // either way, dead. Still running after 10 s: killed, and the test fails.
    let limit = std::time::Duration::from_secs(10);
    let survived = match harness::supervisor::exited_within(child, limit) {
        Ok(exited) => !exited,
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => false,
        Err(e) => panic!("a pidfd for child {child}: {e}"),
    };
    if survived {
        let _ = kill(Pid::from_raw(child), Signal::SIGKILL);
    }
    assert!(!survived, "child {child} outlived its SIGKILLed parent");
}

/// Each provisioned interpreter (none on a machine that never ran `make
/// interpreters`: then this says so and checks nothing else) runs the
/// cases its column of the canary stands on: a zombie seen through waitid
/// (PyPy's fallback), a lock held across fork, the same with the default
/// start method (forkserver since 3.14: behaved there), and gevent's
/// finalizer (an expected skip on PyPy and free-threaded builds), each as
/// `scenario.toml` expects for that interpreter.
#[test]
#[ignore = "four cases on each provisioned interpreter, each in its Debian root (7 s, 11 s of CPU where make interpreters ran; the small canary still runs one scenario on each); make test runs it"]
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
