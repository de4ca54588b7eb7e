//! `repro run --strace`: the syscalls that give each bug away, labelled and
//! timed from the fork; and a clear word when strace cannot be used.

use crate::util::{each_scenario, repro, repro_env};

#[test]
fn strace_shows_the_syscalls_that_matter() {
    each_scenario(strace_shows);
}

fn strace_shows(id: &str) {
    let spec = crate::util::spec(id);
    let strace = spec
        .strace
        .unwrap_or_else(|| panic!("{id}: no [strace] in its scenario.toml"));
    assert!(!strace.show.is_empty(), "{id}: no [[strace.show]]");
    for show in &strace.show {
        let args = [
            "run",
            id,
            "--runtime",
            show.runtime.as_str(),
            "--variant",
            &show.variant,
            "--strace",
        ];
        let ran = repro(&args);
        if harness::python::which("strace".as_ref()).is_none() {
            assert_eq!(ran.code(), Some(2), "{}", ran.show());
            assert!(
                ran.stderr().contains("strace is not installed"),
                "{}",
                ran.show()
            );
            return;
        }
        assert_eq!(ran.code(), Some(0), "{}", ran.show());
        let out = ran.stdout();
        let lines: String = out
            .lines()
            .skip_while(|l| !l.contains("syscall (strace)"))
            .collect::<Vec<_>>()
            .join("\n");
        let expected: Vec<&str> = show.shows.iter().map(String::as_str).collect();
        crate::util::assert_in_order(&lines, &expected, &ran.show());
        assert!(lines.lines().all(|l| l.chars().count() <= 80), "{lines}");
    }
}

#[test]
fn strace_missing_is_a_clear_usage_error() {
    let ran = repro_env(
        &["run", "shared-epoll", "--runtime", "rust", "--strace"],
        &[("PATH", "/nonexistent")],
    );
    assert_eq!(ran.code(), Some(2), "{}", ran.show());
    assert!(
        ran.stderr().contains("strace is not installed"),
        "{}",
        ran.show()
    );
    assert!(
        ran.stderr().contains("apt-get install strace"),
        "{}",
        ran.show()
    );
}
