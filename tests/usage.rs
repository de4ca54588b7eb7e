//! Every usage error: a message that says what was wrong and what is valid,
//! and exit code 2, with nothing run.

use crate::util::{Ran, repro};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn assert_usage(ran: &Ran, needles: &[&str]) {
    assert_eq!(ran.code(), Some(2), "{}", ran.show());
    assert!(ran.stdout().is_empty(), "nothing ran{}", ran.show());
    for n in needles {
        assert!(ran.stderr().contains(n), "stderr lacks {n:?}{}", ran.show());
    }
}

#[test]
fn unknown_scenario_lists_the_valid_ones() {
    assert_usage(
        &repro(&["run", "shared-epol"]),
        &["unknown scenario \"shared-epol\"", "shared-epoll", "all"],
    );
}

#[test]
fn unknown_runtime_lists_the_valid_ones() {
    assert_usage(
        &repro(&["run", "all", "--runtime", "jython"]),
        &["unknown runtime \"jython\"", "rust, python, embedded, all"],
    );
}

#[test]
fn unknown_variant_lists_the_valid_ones() {
    assert_usage(
        &repro(&["run", "shared-epoll", "--variant", "fixd"]),
        &[
            "no variant \"fixd\"",
            "broken, fixed, broken-asyncio, fixed-asyncio",
        ],
    );
}

#[test]
fn variant_missing_from_the_runtime() {
    assert_usage(
        &repro(&[
            "run",
            "shared-epoll",
            "--runtime",
            "rust",
            "--variant",
            "broken-asyncio",
        ]),
        &["no case matches", "broken-asyncio", "rust"],
    );
}

#[test]
fn python_that_does_not_exist() {
    assert_usage(
        &repro(&["run", "shared-epoll", "--python", "/nonexistent/python3"]),
        &["--python /nonexistent/python3", "No such file"],
    );
}

fn script(dir: &Path, name: &str, body: &str, mode: u32) -> String {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path.display().to_string()
}

#[test]
fn python_that_is_not_executable_not_python_or_too_old() {
    let dir = tempfile::tempdir().unwrap();
    let plain = script(dir.path(), "plain", "", 0o644);
    assert_usage(
        &repro(&["run", "shared-epoll", "--python", &plain]),
        &[&plain, "not executable"],
    );
    let not_python = script(dir.path(), "notpy", "#!/bin/sh\necho hello\n", 0o755);
    assert_usage(
        &repro(&["run", "shared-epoll", "--python", &not_python]),
        &[&not_python, "not a Python interpreter"],
    );
    let old = script(
        dir.path(),
        "python3.5",
        "#!/bin/sh\necho CPython 3.5.10\n",
        0o755,
    );
    assert_usage(
        &repro(&["run", "shared-epoll", "--python", &old]),
        &[&old, "Python 3.5.10 is too old", "3.6+"],
    );
    assert_usage(
        &repro(&[
            "run",
            "shared-epoll",
            "--python",
            dir.path().to_str().unwrap(),
        ]),
        &["not a file"],
    );
}

/// A real Python 2 (where one is installed: pyenv's, or python2 on PATH)
/// is named too old, with its version, not "not a Python interpreter".
#[test]
fn python_2_is_too_old_by_name() {
    let pyenv = std::env::var("PYENV_ROOT")
        .unwrap_or_else(|_| format!("{}/.pyenv", std::env::var("HOME").unwrap_or_default()));
    let candidates = std::fs::read_dir(Path::new(&pyenv).join("versions"))
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("2."))
        .map(|e| e.path().join("bin/python"))
        .chain(
            std::env::var_os("PATH")
                .into_iter()
                .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
                .map(|d| d.join("python2")),
        );
    let Some(py2) = candidates.into_iter().find(|p| p.is_file()) else {
        eprintln!("skipped: no Python 2 here (pyenv versions, python2 on PATH)");
        return;
    };
    let py2 = py2.to_str().unwrap();
    assert_usage(
        &repro(&["run", "shared-epoll", "--python", py2]),
        &[py2, "Python 2.", "is too old", "3.6+"],
    );
}

/// Every numeric flag of every subcommand, refused alike before anything
/// runs: zero, negative, huge, not a number. None may panic (exit 101),
/// become a verdict (`hung`, exit 3) or drift (exit 1).
#[test]
fn every_numeric_flag_refuses_zero_negative_huge_and_words() {
    const SECONDS: &[&str] = &["0", "-1", "1e30", "soon", "nan", "inf", "0.0001"];
    const COUNT: &[&str] = &["0", "-1", "1e30", "many", "4294967296", "2.5"];
    const FACTOR: &[&str] = &["0", "-1", "1e30", "fast", "nan"];
    let table: &[(&[&str], &str, &[&str], &str)] = &[
        (&["run", "all"], "--timeout", SECONDS, "seconds"),
        (&["run", "all"], "--repeat", COUNT, "whole number"),
        (&["run", "all"], "--jobs", COUNT, "whole number"),
        (&["stress"], "--timeout", SECONDS, "seconds"),
        (&["stress"], "--rounds", COUNT, "whole number"),
        (&["canary"], "--timeout", SECONDS, "seconds"),
        (
            &["check", "fork-held-lock"],
            "--timeout",
            SECONDS,
            "seconds",
        ),
        (&["bench"], "--runs", COUNT, "whole number"),
        (&["kernels"], "--timeout", SECONDS, "seconds"),
        (&["kernels"], "--vm-timeout", SECONDS, "seconds"),
        (&["kernels"], "--time-factor", FACTOR, "above 0"),
        (&["kernels"], "--memory", COUNT, "whole number"),
        (&["kernels"], "--rounds", COUNT, "whole number"),
    ];
    let failed: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = table
            .iter()
            .flat_map(|(cmd, flag, values, says)| values.iter().map(move |v| (cmd, flag, v, says)))
            .map(|(cmd, flag, v, says)| {
                s.spawn(move || {
                    let arg = format!("{flag}={v}");
                    let mut args = cmd.to_vec();
                    args.push(&arg);
                    let ran = repro(&args);
                    let quoted = format!("invalid value '{v}' for '{flag} <");
                    let ok = ran.code() == Some(2)
                        && ran.stdout().is_empty()
                        && ran.stderr().contains(&quoted)
                        && ran.stderr().contains(says);
                    (!ok).then(|| ran.show())
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(
        failed.is_empty(),
        "{} refused wrongly:{}",
        failed.len(),
        failed.join("\n")
    );
}

#[test]
fn no_subcommand_or_unknown_flag() {
    assert_usage(&repro(&[]), &["Usage"]);
    assert_usage(&repro(&["run", "all", "--jsonn"]), &["--jsonn"]);
}

#[test]
fn an_unwritable_out_is_refused_before_anything_runs() {
    // A path under a regular file: unwritable even for root.
    let file = tempfile::NamedTempFile::new().unwrap();
    let out = file.path().join("reports");
    let out = out.to_str().unwrap();
    for cmd in [
        &["canary", "--no-discover", "--no-envs", "--out", out][..],
        &["bench", "sigterm-zombie", "--out", out][..],
        &["stress", "sigterm-zombie", "--out", out][..],
    ] {
        assert_usage(&repro(cmd), &[&format!("--out {out}"), "Not a directory"]);
    }
}

#[test]
fn a_broken_scenario_toml_is_named_by_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let real = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crates/corpus/sigterm-zombie/scenario.toml"
    );
    let text = std::fs::read_to_string(real).unwrap();
    let anchor = "symptom = \"zombie-grandchild\"\n";
    let line = text[..text.find(anchor).unwrap()].lines().count() + 1;
    let copy = dir.path().join("scenario.toml");
    std::fs::write(&copy, text.replacen(anchor, "symptom = 42\n", 1)).unwrap();
    let copy = copy.to_str().unwrap();
    assert_usage(
        &repro(&[
            "canary",
            "--no-discover",
            "--no-envs",
            "--scenario-toml",
            copy,
        ]),
        &[&format!("{copy}:{line}: key `symptom`: invalid type")],
    );
}

#[test]
fn a_python_without_gevent_skips_the_gevent_cases_with_the_reason() {
    // The default interpreter, with gevent made unimportable: a
    // sitecustomize (which `site` runs, also when a case starts it late:
    // pyrepro.runner.with_site) puts None in sys.modules["gevent"].
    let dir = tempfile::tempdir().unwrap();
    let python = harness::python::default_python(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
    let hide = dir.path().join("hide");
    std::fs::create_dir(&hide).unwrap();
    std::fs::write(
        hide.join("sitecustomize.py"),
        "import sys\nsys.modules['gevent'] = None\n",
    )
    .unwrap();
    let bare = script(
        dir.path(),
        "python3-nogevent",
        &format!(
            "#!/bin/sh\nPYTHONPATH=\"{}:$PYTHONPATH\" exec {} \"$@\"\n",
            hide.display(),
            python.display()
        ),
        0o755,
    );
    let args = [
        "run",
        "finalizer-yield",
        "--runtime",
        "python",
        "--variant",
        "broken",
    ];
    let ran = repro(&[&args[..], &["--json", "--python", &bare]].concat());
    assert_eq!(
        ran.code(),
        Some(3),
        "could not run, not wrong{}",
        ran.show()
    );
    let r = ran.record();
    assert_eq!(
        r.verdict,
        harness::record::Verdict::Skipped,
        "{}",
        ran.show()
    );
    let reason = r.reason.unwrap_or_default();
    // The hint fits where the case ran: the project's .venv (make setup),
    // another environment (make test-nonroot's), or a bare interpreter.
    assert!(
        reason.contains("gevent is not installed for this interpreter")
            && (reason.contains("make setup") || reason.contains("this environment (")),
        "{}",
        ran.show()
    );
}

/// README's command synopsis names every subcommand `repro --help` lists,
/// and no other: a new subcommand cannot go undocumented.
#[test]
fn the_readme_synopsis_names_every_subcommand() {
    let help = repro(&["--help"]).stdout();
    let listed: Vec<String> = help
        .split("Commands:")
        .nth(1)
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_owned)
        .collect();
    assert!(listed.len() >= 12, "{help}");
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let synopsis: Vec<String> = readme
        .lines()
        .filter_map(|l| l.strip_prefix("repro "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    for c in &listed {
        assert!(synopsis.contains(c), "README's synopsis lacks `repro {c}`");
    }
    for c in &synopsis {
        assert!(
            listed.contains(c),
            "README's synopsis names `repro {c}`, which --help does not list"
        );
    }
}

/// Every flag of every subcommand is in README's synopsis for it (a flag
/// added to the command line without its line in the README fails here).
#[test]
fn the_readme_synopsis_names_every_flag() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let usage = readme
        .split("## Usage")
        .nth(1)
        .and_then(|u| u.split("```").nth(1))
        .expect("README's Usage block");
    // Each subcommand's lines: `repro <c> ...` and the indented ones after.
    let mut blocks: Vec<(String, String)> = Vec::new();
    for line in usage.lines() {
        if let Some(rest) = line.strip_prefix("repro ") {
            let c = rest.split_whitespace().next().unwrap_or_default();
            blocks.push((c.to_owned(), line.to_owned()));
        } else if let Some((_, block)) = blocks.last_mut() {
            block.push_str(line);
        }
    }
    assert!(blocks.len() >= 12, "{usage}");
    let mut missing = Vec::new();
    for (c, block) in &blocks {
        let help = repro(&[c, "--help"]);
        assert_eq!(help.code(), Some(0), "{}", help.show());
        for line in help.stdout().lines() {
            let t = line.trim_start();
            let t = t
                .strip_prefix('-')
                .filter(|r| !r.starts_with('-'))
                .map_or(t, |r| r.split_once(", ").map_or(r, |(_, long)| long));
            let Some(flag) = t.strip_prefix("--") else {
                continue;
            };
            let flag: String = flag
                .chars()
                .take_while(|ch| ch.is_ascii_alphanumeric() || *ch == '-')
                .collect();
            if flag != "help" && !block.contains(&format!("--{flag}")) {
                missing.push(format!("repro {c} --{flag}"));
            }
        }
    }
    assert!(missing.is_empty(), "not in README's synopsis: {missing:?}");
}
