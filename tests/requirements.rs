//! pyrepro/requirements.txt: every library pinned, each pin with its reason,
//! and a malformed file refused with its file and line.

use harness::python::default_python;
use std::path::Path;
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn python() -> Command {
    let mut cmd = Command::new(default_python(Path::new(ROOT)).expect("a python3 for the tests"));
    harness::python::scrub_env(&mut cmd);
    cmd
}

#[test]
fn every_requirement_is_pinned_and_says_why() {
    let text = std::fs::read_to_string(Path::new(ROOT).join("pyrepro/requirements.txt")).unwrap();
    // The file as requirements.py reads it.
    let script = "import json, sys; sys.path.insert(0, 'pyrepro'); import requirements as r; \
                  print(json.dumps(r.parse(open('pyrepro/requirements.txt').read())))";
    let out = python()
        .current_dir(ROOT)
        .args(["-c", script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let entries: Vec<(usize, String, bool, Option<String>)> =
        serde_json::from_slice(&out.stdout).unwrap();
    assert!(entries.len() >= 4, "{entries:?}");
    let lines: Vec<&str> = text.lines().collect();
    for (n, req, _, _) in &entries {
        let name_and_pin = req.split(';').next().unwrap().trim();
        assert!(
            name_and_pin.contains("==") && !name_and_pin.contains('*'),
            "line {n}: {req:?} is not pinned to one version"
        );
        // The comment block above this line (past its sibling pins) says why.
        let above = lines[..n - 1]
            .iter()
            .rev()
            .skip_while(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .take_while(|l| l.starts_with('#'))
            .count();
        assert!(above >= 1, "line {n}: {req:?} has no comment saying why");
    }
}

#[test]
fn a_malformed_requirements_file_is_refused_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("requirements.txt");
    std::fs::write(&bad, "# why\ntornado==4.5.3\n[side=x]\n").unwrap();
    let out = python()
        .current_dir(ROOT)
        .arg("pyrepro/requirements.py")
        .arg("--file")
        .arg(&bad)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("{}: line 3", bad.display())), "{err}");
    assert!(
        out.stdout.is_empty(),
        "no report for a file it could not read"
    );
}
