//! The supervisor's guarantees, each by name, through the hidden `fixture`
//! scenario (REPRO_FIXTURES=1): a process that hangs, crashes, leaks a child
//! or prints garbage is reported as such, and nothing is left behind.

use crate::util::{Ran, alive, repro_env};
use harness::record::{Record, Verdict};

fn fixture(variant: &str, timeout: &str) -> Ran {
    repro_env(
        &[
            "run",
            "fixture",
            "--runtime",
            "rust",
            "--variant",
            variant,
            "--json",
            "--timeout",
            timeout,
        ],
        &[("REPRO_FIXTURES", "1")],
    )
}

/// The pids the supervisor reported under `key` ("hung" or "leaked").
fn reported_pids(r: &Record, key: &str) -> Vec<i64> {
    r.evidence
        .iter()
        .filter_map(|e| e.get(key)?.get("pid")?.as_i64())
        .collect()
}

#[test]
fn hung_group_is_reported_hung_killed_and_reaped() {
    let ran = fixture("hang", "0.5");
    let r = ran.record();
    let show = ran.show();
    assert_eq!(r.verdict, Verdict::Hung, "{show}");
    assert_eq!(ran.code(), Some(3), "{show}");
    // It waited for the deadline it was given (0.5 s), not the default
    // (10 s).
    let wall = r.wall_ms.unwrap();
    assert!((500.0..5000.0).contains(&wall), "wall {wall} ms{show}");
    // Both the scenario process and its forked child were caught blocked...
    let pids = reported_pids(&r, "hung");
    assert_eq!(pids.len(), 2, "{show}");
    for e in &r.evidence {
        if let Some(s) = e.get("hung") {
            assert_eq!(s["state"], "S", "blocked, not running{show}");
        }
    }
    // ...and neither is left, not even as a zombie.
    for pid in pids {
        assert!(!alive(pid), "pid {pid} left behind{show}");
    }
}

#[test]
fn death_by_signal_is_reported_crashed() {
    let ran = fixture("crash", "10");
    let r = ran.record();
    assert_eq!(r.verdict, Verdict::Crashed, "{}", ran.show());
    assert_eq!(
        r.reason.as_deref(),
        Some("killed by SIGABRT"),
        "{}",
        ran.show()
    );
    assert_eq!(ran.code(), Some(3));
}

#[test]
fn child_left_behind_is_a_reported_leak_and_is_reaped() {
    let ran = fixture("leak", "10");
    let r = ran.record();
    let show = ran.show();
    assert_eq!(r.verdict, Verdict::Error, "{show}");
    assert!(
        r.reason
            .as_deref()
            .unwrap()
            .contains("left 1 process(es) behind"),
        "{show}"
    );
    let pids = reported_pids(&r, "leaked");
    assert_eq!(pids.len(), 1, "{show}");
    assert!(!alive(pids[0]), "{show}");
}

#[test]
fn output_that_is_not_a_record_is_an_error() {
    let ran = fixture("garbage", "10");
    let r = ran.record();
    assert_eq!(r.verdict, Verdict::Error, "{}", ran.show());
    assert!(r.reason.unwrap().contains("not a verdict record"));
    assert_eq!(ran.code(), Some(3));
}

#[test]
fn fixtures_are_hidden_by_default() {
    let ran = repro_env(&["list"], &[]);
    assert!(!ran.stdout().contains("fixture"), "{}", ran.show());
    let ran = repro_env(&["run", "fixture"], &[]);
    assert_eq!(ran.code(), Some(2), "{}", ran.show());
}

/// Kills `repro` while its scenario (and the scenario's child) hang; neither
/// may survive it: PDEATHSIG takes them down, generation by generation.
#[rstest::rstest]
#[case::sigkill(nix::sys::signal::Signal::SIGKILL)]
#[case::sigterm(nix::sys::signal::Signal::SIGTERM)]
#[case::sigint(nix::sys::signal::Signal::SIGINT)]
fn killed_repro_leaves_no_scenario_process_behind(#[case] signal: nix::sys::signal::Signal) {
    use crate::util::sample_until;
    use std::time::Duration;
    let mut repro = std::process::Command::new(env!("CARGO_BIN_EXE_repro"))
        .args(["run", "fixture", "--runtime", "rust", "--variant", "hang"])
        .args(["--timeout", "60"])
        .env("REPRO_FIXTURES", "1")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let repro_pid = repro.id() as i32;
    // The scenario process (repro's child) and its own child, once both exist.
    let tree = || -> Vec<i32> {
        let mut pids = harness::procfs::children(repro_pid).unwrap_or_default();
        let grandchildren: Vec<i32> = pids
            .iter()
            .flat_map(|&p| harness::procfs::children(p).unwrap_or_default())
            .collect();
        pids.extend(grandchildren);
        pids
    };
    sample_until(
        "the scenario and its child",
        Duration::from_secs(10),
        || tree().len() >= 2,
    );
    let pids = tree();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(repro_pid), signal).unwrap();
    repro.wait().unwrap();
    // Caught (SIGTERM, SIGINT), repro reaps what it started before it
    // exits: each pid must be gone. Killed, it reaps nothing: its dead
    // child is reparented as a zombie, and reaping it is the new parent's
    // business (init here reaps about once a second), so dead is enough.
    let killed = signal == nix::sys::signal::Signal::SIGKILL;
    let gone = |pid: i32| match harness::procfs::stat(pid) {
        Err(_) => true,
        Ok(s) => killed && s.state == 'Z',
    };
    for pid in pids {
        sample_until(
            &format!("pid {pid} to be gone"),
            Duration::from_secs(5),
            || gone(pid),
        );
    }
}

/// pyrepro's give-up (`proc.GIVE_UP_AFTER`) is half the watchdog's deadline
/// the supervisor passes (`REPRO_DEADLINE_S`), as `harness::hang`'s is, and
/// 5 s without one: a slow platform given `--timeout 60` is watched for 30 s.
#[test]
fn pyrepro_gives_up_at_half_the_deadline() {
    let root = env!("CARGO_MANIFEST_DIR");
    let py = harness::python::default_python(std::path::Path::new(root)).unwrap();
    let give_up = |deadline: Option<&str>| {
        let mut cmd = std::process::Command::new(&py);
        cmd.args(["-c", "import pyrepro.proc as p; print(p.GIVE_UP_AFTER)"])
            .env("PYTHONPATH", root)
            .env_remove("REPRO_DEADLINE_S");
        if let Some(d) = deadline {
            cmd.env("REPRO_DEADLINE_S", d);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(give_up(Some("60.000")), "30.0");
    assert_eq!(give_up(None), "5.0");
    assert_eq!(give_up(Some("nonsense")), "5.0");
}
