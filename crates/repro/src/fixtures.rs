//! A scenario that misbehaves *as a process*, to test the supervisor's
//! guarantees end to end: hidden unless `REPRO_FIXTURES=1`.
//!
//! * `hang`: forks a child; parent and child both block forever.
//! * `crash`: aborts (SIGABRT) before printing a verdict.
//! * `leak`: forks a child that blocks forever, then prints a valid verdict
//!   and exits, leaving the child behind.
//! * `garbage`: prints a line that is not a verdict record.

use harness::fork::{Event, fork_child};
use harness::scenario::{Observation, Runs, ScenarioDef};

pub const SCENARIO: ScenarioDef = ScenarioDef {
    id: "fixture",
    dir: "crates/repro/src",
    spec_path: concat!(file!(), " (fixture)"),
    spec_toml: r#"
id = "fixture"
title = "supervisor fixtures (REPRO_FIXTURES=1)"
story = { title = "none", by = "the supervisor's own tests" }
summary = "processes that hang, crash, leak or print garbage"
fix = "none"

[[variant]]
id = "hang"
runtimes = ["rust"]
expect = "behaved"
about = "parent and child block forever"

[[variant]]
id = "crash"
runtimes = ["rust"]
expect = "behaved"
about = "aborts before printing a verdict"

[[variant]]
id = "leak"
runtimes = ["rust"]
expect = "behaved"
about = "exits with a verdict, leaving a child behind"

[[variant]]
id = "hang-escaped"
runtimes = ["rust"]
expect = "behaved"
about = "blocks forever; its child left the group (setsid) and the parent-death signal"

[[variant]]
id = "temp-litter"
runtimes = ["rust"]
expect = "behaved"
about = "exits with a verdict, leaving a file in its TMPDIR"

[[variant]]
id = "garbage"
runtimes = ["rust"]
expect = "behaved"
about = "prints a line that is not a verdict record"
"#,
    lesson: "# fixture\n\nProcesses that hang, crash, leak or print garbage.\n",
    runs: Runs { rust: Some(run) },
};

/// Blocks the calling thread forever: it reads from a socket whose other end
/// it holds and never writes.
fn block_forever() {
    if let Ok((mut r, _w)) = std::os::unix::net::UnixStream::pair() {
        let _ = std::io::Read::read(&mut r, &mut [0u8]);
    }
}

/// A child that blocks forever. It dies with its process group, and with its
/// parent unless `outlive_parent` clears the PDEATHSIG that `fork_child`
/// set (as a scenario that forks without the helper would).
fn blocked_child(outlive_parent: bool) -> Result<harness::fork::ForkedChild, String> {
    blocked_child_in(outlive_parent, false)
}

/// [`blocked_child`], optionally in a session (and process group) of its own,
/// out of reach of the supervisor's group kill.
fn blocked_child_in(
    outlive_parent: bool,
    own_session: bool,
) -> Result<harness::fork::ForkedChild, String> {
    let mut started = Event::new("child_started").map_err(|e| e.to_string())?;
    // SAFETY: the fixture process is single-threaded.
    let child = unsafe {
        fork_child(|| {
            if outlive_parent {
                libc::prctl(libc::PR_SET_PDEATHSIG, 0);
            }
            if own_session {
                libc::setsid();
            }
            started.notify().expect("notify");
            block_forever();
            0
        })
    }
    .map_err(|e| e.to_string())?;
    started.wait().map_err(|e| e.to_string())?;
    Ok(child)
}

fn run(variant: &str) -> Result<Observation, String> {
    match variant {
        "hang" => {
            let _child = blocked_child(false)?;
            block_forever();
            Err("unreachable: block_forever returned".into())
        }
        "hang-escaped" => {
            let _child = blocked_child_in(true, true)?;
            block_forever();
            Err("unreachable: block_forever returned".into())
        }
        "temp-litter" => {
            let litter = std::env::temp_dir().join("litter.txt");
            std::fs::write(&litter, "left behind").map_err(|e| e.to_string())?;
            let mut obs = Observation::default();
            obs.note("left a file in TMPDIR on purpose");
            Ok(obs)
        }
        "crash" => std::process::abort(),
        "leak" => {
            let child = blocked_child(true)?;
            std::mem::forget(child);
            let mut obs = Observation::default();
            obs.note("left a child behind on purpose");
            Ok(obs)
        }
        "garbage" => {
            println!("this is not a verdict record");
            std::process::exit(0)
        }
        other => Err(format!("fixture has no variant {other:?}")),
    }
}
