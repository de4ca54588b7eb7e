//! Finding and checking Python interpreters, and giving them a clean
//! environment.
//!
//! A scenario's result must not depend on what the user's shell exported:
//! `PYTHONUNBUFFERED` changes which locks exist (bug 03's stdout lock),
//! `PYTHONWARNINGS` can turn a warning into an error, `PYTHONPATH` can shadow
//! a module. [`scrub_env`] removes every `PYTHON*` variable; each caller then
//! sets exactly what its scenario needs.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The oldest interpreter `pyrepro` supports.
pub const MIN_VERSION: (u32, u32) = (3, 6);

/// Removes every `PYTHON*` variable the caller's environment would pass on.
pub fn scrub_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PYTHON") {
            cmd.env_remove(key);
        }
    }
}

/// The interpreter to use when none is named: `$REPRO_PYTHON`, else the
/// first `python3` on `PATH`.
///
/// # Errors
/// A message saying what was looked for.
pub fn default_python() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("REPRO_PYTHON").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    which(OsStr::new("python3"))
        .ok_or_else(|| "no python3 on PATH (name one with --python or REPRO_PYTHON)".to_owned())
}

/// The first executable named `name` on `PATH`.
pub fn which(name: &OsStr) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| is_executable_file(p))
}

fn is_executable_file(p: &Path) -> bool {
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Checks that `path` is a Python interpreter this project supports and
/// returns its `major.minor.micro` version.
///
/// # Errors
/// A message that names the path and what is wrong with it: missing, not a
/// file, not executable, not Python, too old.
pub fn check(path: &Path) -> Result<String, String> {
    let shown = path.display();
    let meta = path
        .metadata()
        .map_err(|e| format!("--python {shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("--python {shown}: not a file"));
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(format!("--python {shown}: not executable"));
    }
    let mut cmd = Command::new(path);
    scrub_env(&mut cmd);
    cmd.args(["-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"]);
    let finished = crate::supervisor::run(cmd, Duration::from_secs(10))
        .map_err(|e| format!("--python {shown}: cannot run it: {e}"))?;
    let version = finished.stdout.trim();
    let parsed = crate::spec::parse_version(version).filter(|v| v.len() == 3);
    match (finished.exit, parsed) {
        (crate::supervisor::Exit::Code(0), Some(v)) => {
            if (v[0], v[1]) < MIN_VERSION {
                Err(format!(
                    "--python {shown}: Python {version} is too old (pyrepro needs {}.{}+)",
                    MIN_VERSION.0, MIN_VERSION.1
                ))
            } else {
                Ok(version.to_owned())
            }
        }
        _ => Err(format!("--python {shown}: not a Python interpreter")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_names_what_is_wrong() {
        let e = check(Path::new("/nonexistent/python")).unwrap_err();
        assert!(
            e.contains("/nonexistent/python") && e.contains("No such file"),
            "{e}"
        );
        assert!(check(Path::new("/")).unwrap_err().contains("not a file"));
        assert!(
            check(Path::new("/etc/passwd"))
                .unwrap_err()
                .contains("not executable")
        );
        assert!(
            check(Path::new("/bin/true"))
                .unwrap_err()
                .contains("not a Python")
        );
    }
}
