//! `pyrepro`'s bytecode, compiled once per interpreter and never stale.
//!
//! A scenario process imports `pyrepro` (its package, the runner, the
//! scenario's module: about a thousand lines). Compiled from source on every
//! run, that was 7 ms of a 27 ms case here. Written by the interpreter as it
//! imports (the default), the bytecode would be checked against the
//! source's modification time in whole seconds and its size: an edit in the
//! same second that keeps the size (a mutation test turning `1` into `2`, a
//! workshop fake written right after another) would run the old code. So
//! the cases never write bytecode (`PYTHONDONTWRITEBYTECODE`), and [`warm`]
//! compiles the package into its `__pycache__` (ignored by git) as
//! *checked-hash* pycs (PEP 552, Python 3.7+): the interpreter hashes the
//! source on every import and, if it changed, compiles it again in memory.
//! The cache can be slow, never stale. (`PYTHONPYCACHEPREFIX` would keep it
//! out of the tree, but an interpreter given one reads the standard
//! library's bytecode from there only: every case would compile asyncio.)

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Where [`warm`] keeps its stamps: `<project>/target/bytecode`.
pub fn stamps(project: &Path) -> PathBuf {
    project.join("target").join("bytecode")
}

/// What `package`'s sources are now: each `.py` file's name, size and
/// modification time in nanoseconds, sorted. The stamp [`warm`] compares.
fn fingerprint(package: &Path) -> std::io::Result<String> {
    let mut files: Vec<(String, u64, i64, i64)> = Vec::new();
    for entry in std::fs::read_dir(package)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "py") {
            let meta = path.metadata()?;
            let name = path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            files.push((name, meta.len(), meta.mtime(), meta.mtime_nsec()));
        }
    }
    files.sort();
    Ok(files
        .iter()
        .map(|(name, len, s, ns)| format!("{name} {len} {s}.{ns:09}\n"))
        .collect())
}

/// The stamp file for `python` and `package`: what it compiled is named by
/// the interpreter's cache tag (`cpython-311`, `pypy39`), so one per
/// interpreter path.
fn stamp_path(stamps: &Path, python: &Path, package: &Path) -> PathBuf {
    crate::kept::entry(stamps, &(python, package))
}

/// Byte-compiles `package` (its `.py` files, not subpackages) with `python`,
/// unless its stamp in `stamps` says that was done for these very sources
/// (then it costs a directory listing). Python 3.6, which has no
/// checked-hash pycs, compiles nothing: only the stamp is written, so it is
/// not tried again. Best effort: where the tree is read-only the cases
/// compile from source, as before.
///
/// # Errors
/// What went wrong, for whoever wants to say so; the cases run anyway.
pub fn warm(python: &Path, package: &Path, stamps: &Path) -> Result<(), String> {
    let now = fingerprint(package).map_err(|e| format!("{}: {e}", package.display()))?;
    let stamp = stamp_path(stamps, python, package);
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == now) {
        return Ok(());
    }
    // Tried once per process: where nothing can be written (an
    // unprivileged user in root's checkout), every case would try again.
    static TRIED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    {
        let mut tried = TRIED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if tried.contains(&stamp) {
            return Ok(());
        }
        tried.push(stamp.clone());
    }
    let mut cmd = Command::new(python);
    crate::python::scrub_env(&mut cmd);
    // force: a timestamp pyc that a manual run left would otherwise stay
    // (compileall keeps one whose timestamp matches).
    cmd.args([
        "-S",
        "-c",
        "import sys\n\
         if sys.version_info >= (3, 7):\n    \
             import compileall, py_compile\n    \
             ok = compileall.compile_dir(sys.argv[1], maxlevels=0, quiet=2, force=True, \
             invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)\n    \
             sys.exit(0 if ok else 1)",
    ]);
    cmd.arg(package);
    let finished =
        crate::supervisor::run(cmd, Duration::from_secs(60)).map_err(|e| e.to_string())?;
    if finished.exit != crate::supervisor::Exit::Code(0) {
        return Err(format!(
            "{}: compileall failed: {}",
            python.display(),
            finished.stderr.trim()
        ));
    }
    // A change to the sources while this compiled shows in the next
    // fingerprint (this one was taken before).
    crate::kept::write_whole(&stamp, &now).map_err(|e| format!("{}: {e}", stamp.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    /// The interpreter's own verdict: the cache is read, and an edit the
    /// fingerprint and a timestamp pyc could not see (same size, same
    /// modification time) is still seen.
    #[test]
    fn the_cache_is_read_and_never_stale() {
        let python = crate::python::default_python(Path::new(env!("CARGO_MANIFEST_DIR")))
            .expect("a python3");
        let dir = tempfile::tempdir().unwrap();
        let package = dir.path().join("pkg");
        std::fs::create_dir(&package).unwrap();
        let module = package.join("m.py");
        std::fs::write(&module, "X = 1\n").unwrap();
        let mtime = module.metadata().unwrap().modified().unwrap();
        warm(&python, &package, &dir.path().join("stamps")).unwrap();
        let import = || {
            let mut cmd = Command::new(&python);
            crate::python::scrub_env(&mut cmd);
            cmd.env("PYTHONDONTWRITEBYTECODE", "1")
                .env("PYTHONPATH", &package)
                .args(["-S", "-v", "-c", "import m; print(m.X)"]);
            crate::supervisor::run(cmd, Duration::from_secs(30)).unwrap()
        };
        let first = import();
        assert_eq!(first.stdout.trim(), "1", "{}", first.stderr);
        assert!(
            first
                .stderr
                .lines()
                .any(|l| l.starts_with("# code object from")
                    && l.contains("__pycache__")
                    && l.contains("m.")),
            "m was not read from the cache:\n{}",
            first.stderr
        );
        std::fs::write(&module, "X = 2\n").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&module)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        let second = import();
        assert_eq!(
            second.stdout.trim(),
            "2",
            "stale bytecode ran:\n{}",
            second.stderr
        );
    }

    #[test]
    fn the_fingerprint_sees_a_same_size_edit_in_the_same_second() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("m.py");
        let at = |ns: u64| {
            let t = SystemTime::UNIX_EPOCH + Duration::from_nanos(1_700_000_000_000_000_000 + ns);
            std::fs::File::options()
                .write(true)
                .open(&file)
                .unwrap()
                .set_modified(t)
                .unwrap();
        };
        std::fs::write(&file, "x = 1\n").unwrap();
        at(1);
        let before = fingerprint(dir.path()).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not python").unwrap();
        assert_eq!(
            fingerprint(dir.path()).unwrap(),
            before,
            "only .py files count"
        );
        std::fs::write(&file, "x = 2\n").unwrap();
        at(2);
        assert_ne!(fingerprint(dir.path()).unwrap(), before);
    }
}
