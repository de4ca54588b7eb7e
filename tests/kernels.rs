//! `repro kernels` (the canary inside other kernels, in QEMU) and the one
//! time factor every deadline scales with.
//!
//! The boots need a kernel `ci/kernels.sh` prepared (`.ci/run` prepares the
//! smallest line, bullseye's 5.10); where none is, those tests say so and
//! pass, as the provisioned-interpreter tests do. Each boot runs only the
//! rust cases of one scenario: seconds under TCG.

use crate::util::{assert_nothing_left, leak_tag, repro, repro_env, tagged};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The prepared kernel with the smallest image (the quickest to boot), or
/// `None`, with the reason printed.
fn a_kernel() -> Option<PathBuf> {
    let ready = Path::new(ROOT).join("target/kernels/ready");
    let Ok(text) = std::fs::read_to_string(&ready) else {
        eprintln!(
            "no kernel prepared ({} is missing): ci/kernels.sh",
            ready.display()
        );
        return None;
    };
    let kernels: Vec<PathBuf> = text.lines().map(PathBuf::from).collect();
    assert!(
        !kernels.is_empty(),
        "{} exists but lists no kernel: ci/kernels.sh failed?",
        ready.display()
    );
    kernels
        .into_iter()
        .min_by_key(|k| std::fs::metadata(k.join("vmlinuz")).map_or(u64::MAX, |m| m.len()))
}

#[test]
fn bad_input_is_refused_before_anything_boots() {
    let r = repro(&["kernels", "--kernel", "/nonexistent/kernel"]);
    assert_eq!(r.code(), Some(2), "{}", r.show());
    assert!(
        r.stderr().contains("not a kernel ci/kernels.sh prepared"),
        "{}",
        r.show()
    );
    // The numeric flags are tests/usage.rs's table; --accel is checked
    // once a kernel is named.
    for (flag, value, says) in [(
        "--accel",
        "fast",
        "--accel \"fast\" (valid: auto, kvm, tcg)",
    )] {
        let Some(k) = a_kernel() else {
            // Without a kernel the refusal is about the kernel first; the
            // flags' own checks come before it.
            let r = repro(&["kernels", &format!("{flag}={value}")]);
            if flag != "--accel" {
                assert_eq!(r.code(), Some(2), "{}", r.show());
                assert!(r.stderr().contains(says), "{}", r.show());
            }
            continue;
        };
        let k = k.to_string_lossy().into_owned();
        let arg = format!("{flag}={value}");
        let out = tempfile::tempdir().unwrap();
        let out = format!("--out={}", out.path().display());
        let r = repro(&["kernels", "--kernel", &k, "--runtime", "rust", &out, &arg]);
        assert_eq!(r.code(), Some(2), "{}", r.show());
        assert!(r.stderr().contains(says), "{}", r.show());
    }
    // An unusable time factor stops every command, rather than being
    // ignored.
    let r = repro_env(&["list"], &[("REPRO_TIME_FACTOR", "fast")]);
    assert_eq!(r.code(), Some(2), "{}", r.show());
    assert!(
        r.stderr()
            .contains("REPRO_TIME_FACTOR=\"fast\": not a number above 0 and at most 1000"),
        "{}",
        r.show()
    );
}

#[test]
fn the_time_factor_scales_the_watchdog_and_the_give_up() {
    // The fixture's `hang` variant blocks forever: only the watchdog ends
    // it. At --timeout 0.1, a factor of 6 must make it 0.6 s.
    let run = |factor: &str| {
        let r = repro_env(
            &[
                "run",
                "fixture",
                "--runtime",
                "rust",
                "--variant",
                "hang",
                "--timeout",
                "0.1",
                "--json",
            ],
            &[("REPRO_TIME_FACTOR", factor), ("REPRO_FIXTURES", "1")],
        );
        r.record()
    };
    let slow = run("6");
    assert_eq!(slow.verdict.as_str(), "hung", "{slow:?}");
    let wall = slow.wall_ms.unwrap();
    assert!(
        (600.0..4000.0).contains(&wall),
        "watchdog at {wall} ms, not 6 x 100 ms"
    );
    let fast = run("1");
    assert_eq!(fast.verdict.as_str(), "hung", "{fast:?}");
    let wall = fast.wall_ms.unwrap();
    assert!(wall < 600.0, "watchdog at {wall} ms with factor 1");
}

/// Spawns `repro kernels` with stderr piped, under a leak tag.
fn spawn_kernels(args: &[&str], tag: &str, tmp: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_repro"))
        .arg("kernels")
        .args(args)
        .env("TMPDIR", tmp)
        .env("REPRO_LEAK_TAG", tag)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn repro kernels")
}

/// After an interrupted run: no qemu (or anything else) of this run alive,
/// no share left in `out`, nothing mounted from it.
fn assert_clean(tag: &str, tmp: &Path, out: &Path, show: &str) {
    assert_nothing_left(tag, tmp, show);
    let qemus: Vec<i32> = tagged(tag);
    assert!(qemus.is_empty(), "left running: {qemus:?}{show}");
    let left: Vec<String> = std::fs::read_dir(out)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.ends_with(".partial") || n.starts_with(".kvm-probe"))
        .collect();
    assert!(left.is_empty(), "left in the out directory: {left:?}{show}");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(&*out.to_string_lossy()),
        "a mount left under {}{show}",
        out.display()
    );
}

#[test]
fn an_interrupted_run_leaves_no_vm_no_share_and_no_mount() {
    let Some(kernel) = a_kernel() else { return };
    let kernel = kernel.to_string_lossy().into_owned();
    // SIGINT while the kernel boots, then while a case runs in the guest.
    for (moment, wait_for) in [("during the boot", "booting"), ("during a case", ": up")] {
        let tmp = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let tag = leak_tag();
        let args = [
            "--kernel",
            &kernel,
            "--runtime",
            "rust",
            "--accel",
            "tcg",
            "--out",
            &out.path().to_string_lossy(),
        ];
        let mut child = spawn_kernels(&args, &tag, tmp.path());
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut seen = String::new();
        loop {
            let mut line = String::new();
            let n = err.read_line(&mut line).unwrap();
            assert!(n > 0, "repro kernels ended before {wait_for:?}: {seen}");
            seen.push_str(&line);
            if line.contains(wait_for) {
                break;
            }
        }
        // The VM is running now: its share exists.
        let share_exists = std::fs::read_dir(out.path()).unwrap().any(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".partial")
        });
        assert!(share_exists, "{moment}: no share while the VM runs: {seen}");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGINT,
        )
        .unwrap();
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
        let status = child.wait().unwrap();
        let show = format!("\n{moment}: {seen}{rest}");
        assert_eq!(status.code(), Some(130), "{show}");
        assert!(rest.contains("SIGINT: stopped"), "{show}");
        assert_clean(&tag, tmp.path(), out.path(), &show);
    }
}

#[test]
fn a_kernel_keyed_expectation_changed_on_purpose_is_exactly_the_drift() {
    let Some(kernel) = a_kernel() else { return };
    let release = std::fs::read_to_string(kernel.join("release")).unwrap();
    let release = release.trim();
    let major_minor: Vec<&str> = release.split('.').take(2).collect();
    let (major, minor) = (major_minor[0], major_minor[1]);
    // A copy of shared-epoll's scenario.toml whose `fixed` variant is said
    // to misbehave on exactly the guest's kernel line (never the host's,
    // unless they are the same line).
    let toml =
        std::fs::read_to_string(Path::new(ROOT).join("crates/corpus/shared-epoll/scenario.toml"))
            .unwrap();
    let fixed = "id = \"fixed\"";
    let at = toml.find(fixed).expect("a fixed variant");
    let next = toml[at..]
        .find("[[variant]]")
        .map_or(toml.len(), |n| at + n);
    let changed = format!(
        "{}\n[[variant.when]]\nkernel = \"=={major}.{minor}\"\nexpect = \"misbehaved\"\n\
         symptom = \"unknown-fd-event\"\nbecause = \"on purpose, for a test: \
         https://git.kernel.org/linus/0123456789ab\"\n\n{}",
        toml[..next].trim_end(),
        &toml[next..]
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("scenario.toml");
    std::fs::write(&file, changed).unwrap();
    let out = tempfile::tempdir().unwrap();
    let r = repro(&[
        "kernels",
        "--kernel",
        &kernel.to_string_lossy(),
        "--runtime",
        "rust",
        "--scenario",
        "shared-epoll",
        "--scenario-toml",
        &file.to_string_lossy(),
        "--out",
        &out.path().to_string_lossy(),
    ]);
    assert_eq!(r.code(), Some(1), "drift is exit 1{}", r.show());
    let stdout = r.stdout();
    let drift: Vec<&str> = stdout.lines().filter(|l| l.starts_with("DRIFT")).collect();
    assert_eq!(
        drift,
        [format!(
            "DRIFT stopped-reproducing: shared-epoll / fixed [rust] on {release}: expected \
             unknown-fd-event, got behaved"
        )
        .as_str()],
        "{}",
        r.show()
    );
    assert!(stdout.contains("0 failed boot(s)"), "{}", r.show());
    // The report over kernels: the guest's kernel in each record, the
    // same drift in matrix.json, matrix.md and junit.xml.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("matrix.json")).unwrap())
            .unwrap();
    let cells = json["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 2, "{json}");
    for c in cells {
        assert_eq!(c["record"]["kernel"], release, "{c}");
        assert_eq!(c["kernel"], release, "{c}");
        let is_fixed = c["record"]["variant"] == "fixed";
        assert_eq!(c["drift"].is_string(), is_fixed, "{c}");
    }
    assert_eq!(json["kernels"][0]["rounds"][0]["uname"], release, "{json}");
    let md = std::fs::read_to_string(out.path().join("matrix.md")).unwrap();
    assert!(
        md.contains("| shared-epoll / fixed / rust | ✗ stopped-reproducing: behaved |"),
        "{md}"
    );
    let junit = std::fs::read_to_string(out.path().join("junit.xml")).unwrap();
    assert_eq!(junit.matches("<failure ").count(), 1, "{junit}");
    // The same copy on the host: its kernel is another line, no drift.
    if !harness::sys::kernel_release().starts_with(&format!("{major}.{minor}.")) {
        let host = repro(&[
            "canary",
            "--runtime",
            "rust",
            "--scenario",
            "shared-epoll",
            "--scenario-toml",
            &file.to_string_lossy(),
            "--out",
            &out.path().join("host").to_string_lossy(),
        ]);
        assert_eq!(host.code(), Some(0), "{}", host.show());
    }
}
