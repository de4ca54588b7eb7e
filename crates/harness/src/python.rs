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
/// project's environment (`<project>/.venv/bin/python`, made by
/// `make setup`), else the first `python3` on `PATH`.
///
/// # Errors
/// A message saying what was looked for.
pub fn default_python(project: &Path) -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("REPRO_PYTHON").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let venv = project_venv_python(project);
    if is_executable_file(&venv) {
        return Ok(venv);
    }
    which(OsStr::new("python3")).ok_or_else(|| {
        "no python3 on PATH and no .venv (run make setup, or name one with --python or \
         REPRO_PYTHON)"
            .to_owned()
    })
}

/// The project's Python environment's interpreter (it may not exist).
pub fn project_venv_python(project: &Path) -> PathBuf {
    project.join(".venv").join("bin").join("python")
}

/// What `--python` names: a path as it is, or a bare name (`python3.12`,
/// `pypy3.11`, `python3.13t`) looked up where discovery looks: the
/// interpreters `make interpreters` provisioned for `project`, `PATH`
/// (pyenv shims excepted: they fail for versions pyenv has not selected),
/// pyenv versions, `/usr/bin`. Unchanged if not found (the check then says
/// so).
pub fn resolve(named: &Path, project: &Path) -> PathBuf {
    if named.components().count() != 1 || named.as_os_str().is_empty() {
        return named.to_path_buf();
    }
    let shims = pyenv_shims();
    let mut dirs: Vec<PathBuf> = vec![provisioned_dir(project).join("bin")];
    dirs.extend(
        std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .unwrap_or_default(),
    );
    dirs.retain(|d| shims.as_deref() != Some(d.as_path()));
    if let Some(root) = shims.as_deref().and_then(Path::parent) {
        let mut versions: Vec<PathBuf> = std::fs::read_dir(root.join("versions"))
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .collect();
        versions.sort();
        dirs.extend(versions);
    }
    dirs.push("/usr/bin".into());
    dirs.into_iter()
        .map(|d| d.join(named))
        .find(|p| is_executable_file(p))
        .unwrap_or_else(|| named.to_path_buf())
}

/// Where `make interpreters` (`ci/interpreters.sh`) keeps what it
/// provisioned: Debian roots, one wrapper per interpreter in `bin/`, and
/// `status.tsv`.
pub fn provisioned_dir(project: &Path) -> PathBuf {
    project.join("target").join("interpreters")
}

/// What `make interpreters` left for the canary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provisioned {
    /// Whether it ever ran here (its `status.tsv` exists).
    pub ran: bool,
    /// The wrappers that work (`bin/<name>`), by name.
    pub paths: Vec<PathBuf>,
    /// `(name, why)` for each interpreter it could not provision.
    pub missing: Vec<(String, String)>,
}

/// Reads `status.tsv` (`name <TAB> ok|missing <TAB> detail` per line): the
/// wrappers that exist for `ok` lines, and the reasons of `missing` ones.
pub fn provisioned(project: &Path) -> Provisioned {
    let dir = provisioned_dir(project);
    let Ok(text) = std::fs::read_to_string(dir.join("status.tsv")) else {
        return Provisioned::default();
    };
    let mut out = Provisioned {
        ran: true,
        ..Provisioned::default()
    };
    for line in text.lines() {
        let mut f = line.splitn(3, '\t');
        let (Some(name), Some(state)) = (f.next(), f.next()) else {
            continue;
        };
        let detail = f.next().unwrap_or("").to_owned();
        let wrapper = dir.join("bin").join(name);
        match state {
            "ok" if is_executable_file(&wrapper) => out.paths.push(wrapper),
            "ok" => out
                .missing
                .push((name.to_owned(), format!("{} is gone", wrapper.display()))),
            _ => out.missing.push((name.to_owned(), detail)),
        }
    }
    out.paths.sort();
    out
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
/// A message that starts with the path and says what is wrong with it:
/// missing, not a file, not executable, not Python, too old.
pub fn check(path: &Path) -> Result<String, String> {
    check_full(path).map(|found| found.version)
}

/// What [`check_full`] says about a candidate.
pub type Checked = Result<Found, String>;

/// [`check`], returning all that the canary needs to know: the
/// implementation (`CPython`, `PyPy`), whether it is a free-threaded build,
/// whether it is a virtual environment already.
///
/// # Errors
/// As [`check`].
pub fn check_full(path: &Path) -> Checked {
    check_cached(path, CHECKS.get().map(PathBuf::as_path))
}

/// Where [`check_full`] keeps what interpreters said ([`keep_checks_in`]).
static CHECKS: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// From now on, [`check_full`] keeps each interpreter's answer in `dir`
/// (`repro` gives it `target/checks`), and asks again only when the
/// interpreter's file changed. Asking costs one interpreter start: 7 ms of
/// CPU here, 27 ms for one that `make interpreters` runs in a Debian root,
/// and `repro` asks at every start, `cargo test` hundreds of times.
/// Failures are never kept: they are asked again, and said afresh.
pub fn keep_checks_in(dir: PathBuf) {
    let _ = CHECKS.set(dir);
}

/// What an interpreter's answer depends on, as far as a look at the files
/// can tell: the path as named and where it leads (a venv's `python` is a
/// link), each file's identity (device, inode, size, modification and
/// change times: any rewrite, copy or `chmod` changes one), and whether a
/// `pyvenv.cfg` sits where the interpreter looks for one. A wrapper script
/// is judged by its own file (`make interpreters` rewrites its wrappers,
/// and forgets every answer, when it provisions).
fn identity(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let abs = std::path::absolute(path).ok()?;
    let real = std::fs::canonicalize(path).ok()?;
    let of = |m: &std::fs::Metadata| {
        format!(
            "{} {} {} {}.{:09} {}.{:09}",
            m.dev(),
            m.ino(),
            m.size(),
            m.mtime(),
            m.mtime_nsec(),
            m.ctime(),
            m.ctime_nsec()
        )
    };
    let link = std::fs::symlink_metadata(&abs).ok()?;
    let file = std::fs::metadata(&real).ok()?;
    let dir = abs.parent()?;
    let cfg = |d: &Path| d.join("pyvenv.cfg").is_file();
    Some(format!(
        "{}\n{}\n{}\n{}\nvenv {} {}\n",
        abs.display(),
        real.display(),
        of(&link),
        of(&file),
        cfg(dir),
        dir.parent().is_some_and(cfg)
    ))
}

/// [`check_full`], keeping answers in `cache` when given.
fn check_cached(path: &Path, cache: Option<&Path>) -> Checked {
    let shown = path.display();
    let meta = path.metadata().map_err(|e| format!("{shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{shown}: not a file"));
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(format!("{shown}: not executable"));
    }
    // The entry: the identity, then the answer's line.
    let kept = cache
        .zip(identity(path))
        .map(|(dir, id)| (crate::kept::entry(dir, &id), id));
    if let Some((file, id)) = &kept
        && let Some(line) = std::fs::read_to_string(file)
            .ok()
            .and_then(|text| text.strip_prefix(id.as_str()).map(str::to_owned))
        && let Ok(found) = parse_answer(path, &line)
    {
        return Ok(found);
    }
    let mut cmd = Command::new(path);
    scrub_env(&mut cmd);
    // Python 2 and 3 alike (no print function): this runs on every
    // interpreter before it is judged, so a Python 2 is named too old
    // rather than "not a Python interpreter". With -S and no import: it
    // runs for every interpreter a command names or discovers, and a bare
    // start-up is all it needs (platform, sysconfig and site tripled it).
    // A free-threaded build has `t` in its ABI flags (PEP 703). A virtual
    // environment is told as the interpreter tells it (PEP 405): a
    // pyvenv.cfg beside its executable or one directory up. Asked of the
    // interpreter, not of `path`, which may be a wrapper that runs one
    // inside a Debian root (`make interpreters`). sys.prefix would not do:
    // before 3.11 only site (skipped by -S) moves it to the environment.
    cmd.args([
        "-S",
        "-c",
        "import os, sys; i = getattr(sys, 'implementation', None); \
         b = os.path.dirname(sys.executable or '.'); \
         sys.stdout.write('%s %d.%d.%d %d %d\\n' % \
         (((i and {'cpython': 'CPython', 'pypy': 'PyPy'}.get(i.name, i.name)) or 'CPython',) \
         + tuple(sys.version_info[:3]) + (int('t' in getattr(sys, 'abiflags', '')), \
         int(any(os.path.isfile(os.path.join(d, 'pyvenv.cfg')) for d in (b, os.path.dirname(b)))))))",
    ]);
    let finished = crate::supervisor::run(cmd, Duration::from_secs(10))
        .map_err(|e| format!("{shown}: cannot run it: {e}"))?;
    let not_python = || {
        let why = finished
            .stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| format!(" ({})", l.trim()))
            .unwrap_or_default();
        format!("{shown}: not a Python interpreter{why}")
    };
    if finished.exit != crate::supervisor::Exit::Code(0) {
        return Err(not_python());
    }
    let found = parse_answer(path, &finished.stdout).map_err(|e| e.unwrap_or_else(not_python))?;
    // Best effort: without it, the next start asks again.
    if let Some((file, id)) = kept {
        let _ = crate::kept::write_whole(&file, &(id + finished.stdout.as_str()));
    }
    Ok(found)
}

/// The probe's line (`CPython 3.11.7 0 1`): what was found, or why it is
/// refused (`None`: not an answer at all, so not a Python).
fn parse_answer(path: &Path, line: &str) -> Result<Found, Option<String>> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let parsed = words
        .get(1)
        .and_then(|v| crate::spec::parse_version(v))
        .filter(|v| v.len() == 3);
    match (words.as_slice(), parsed) {
        // The flags after the version are judged only once it is new enough.
        ([implementation, version, flags @ ..], Some(v)) => {
            if (v[0], v[1]) < MIN_VERSION {
                Err(Some(format!(
                    "{}: Python {version} is too old (pyrepro needs {}.{}+)",
                    path.display(),
                    MIN_VERSION.0,
                    MIN_VERSION.1
                )))
            } else {
                Ok(Found {
                    path: path.to_path_buf(),
                    version: (*version).to_owned(),
                    implementation: (*implementation).to_owned(),
                    free_threaded: flags.first() == Some(&"1"),
                    in_venv: flags.get(1) == Some(&"1"),
                })
            }
        }
        _ => Err(None),
    }
}

/// pyenv's shim directory: scripts that run whichever version pyenv has
/// selected, and fail for the others.
fn pyenv_shims() -> Option<PathBuf> {
    let root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".pyenv")))?;
    Some(root.join("shims"))
}

/// An interpreter that passed [`check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// How it was named (a `PATH` entry, a pyenv version, …).
    pub path: PathBuf,
    /// `major.minor.micro`.
    pub version: String,
    /// `CPython`, `PyPy`, …
    pub implementation: String,
    /// A free-threaded (`--disable-gil`) build.
    pub free_threaded: bool,
    /// A virtual environment already (a `pyvenv.cfg` where the interpreter
    /// looks for one, PEP 405): the canary uses it as
    /// its own environment.
    pub in_venv: bool,
}

impl Found {
    /// What expectations are keyed by.
    pub fn interpreter(&self) -> crate::spec::Interpreter {
        crate::spec::Interpreter {
            version: self.version.clone(),
            implementation: self.implementation.clone(),
            free_threaded: self.free_threaded,
        }
    }
}

/// A candidate that was dropped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// The candidate.
    pub path: PathBuf,
    /// Why it cannot be used (the message of [`check`], or a duplicate).
    pub why: String,
}

/// Only the interpreters in `named`, checked and deduplicated as
/// [`discover`] does.
pub fn discover_named(named: &[PathBuf]) -> (Vec<Found>, Vec<Dropped>) {
    check_candidates(named.to_vec(), named, None)
}

/// Every Python interpreter this machine has: `extra` (e.g. `--python`),
/// `$REPRO_PYTHONS` (colon-separated), every `python3.X` on `PATH`, every
/// pyenv version under `$PYENV_ROOT/versions` (or `~/.pyenv/versions`), and
/// Debian's `/usr/bin/python3.*`. Deduplicated by real path, each checked;
/// sorted by version.
pub fn discover(extra: &[PathBuf]) -> (Vec<Found>, Vec<Dropped>) {
    // Named explicitly: always checked, even a pyenv shim.
    let mut named: Vec<PathBuf> = extra.to_vec();
    if let Some(list) = std::env::var_os("REPRO_PYTHONS") {
        named.extend(std::env::split_paths(&list).filter(|p| !p.as_os_str().is_empty()));
    }
    let mut candidates: Vec<PathBuf> = named.clone();
    let versioned = |dir: &Path| -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
                name.is_some_and(|n| {
                    n.strip_prefix("python3.")
                        .is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                })
            })
            .collect();
        found.sort();
        found
    };
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            candidates.extend(versioned(&dir));
        }
    }
    if let Some(root) = pyenv_shims().and_then(|s| s.parent().map(Path::to_owned)) {
        let mut versions: Vec<PathBuf> = std::fs::read_dir(root.join("versions"))
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path().join("bin").join("python3")))
            .filter(|p| p.exists())
            .collect();
        versions.sort();
        candidates.extend(versions);
    }
    candidates.extend(versioned(Path::new("/usr/bin")));
    check_candidates(candidates, &named, pyenv_shims())
}

/// Drops shims (unless named) and duplicates, checks the rest side by side,
/// and sorts what passes by version.
fn check_candidates(
    candidates: Vec<PathBuf>,
    named: &[PathBuf],
    shims: Option<PathBuf>,
) -> (Vec<Found>, Vec<Dropped>) {
    let mut unique: Vec<(PathBuf, PathBuf)> = Vec::new(); // (real path, as named)
    let mut dropped = Vec::new();
    for path in candidates {
        let scanned = !named.contains(&path);
        if scanned && shims.as_deref().is_some_and(|dir| path.starts_with(dir)) {
            let why = "a pyenv shim (pyenv versions are found directly)".to_owned();
            dropped.push(Dropped { path, why });
            continue;
        }
        let real = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if unique.iter().any(|(_, named)| *named == path) {
            continue; // the very same name twice (say, in PATH and /usr/bin)
        }
        match unique.iter().find(|(r, _)| *r == real) {
            Some((_, first)) => {
                let why = format!("the same interpreter as {}", first.display());
                dropped.push(Dropped { path, why });
            }
            None => unique.push((real, path)),
        }
    }
    // Each check starts an interpreter: do them side by side.
    let checked: Vec<(PathBuf, Checked)> = std::thread::scope(|s| {
        let handles: Vec<_> = unique
            .into_iter()
            .map(|(_, path)| {
                s.spawn(move || {
                    let result = check_full(&path);
                    (path, result)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("check thread"))
            .collect()
    });
    let mut found: Vec<Found> = Vec::new();
    for (path, result) in checked {
        match result {
            Ok(f) => found.push(f),
            Err(why) => dropped.push(Dropped { path, why }),
        }
    }
    found.sort_by_key(|f| crate::spec::parse_version(&f.version));
    (found, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes an executable script, by a child process: a file this
    /// process had open for writing would be inherited by whatever another
    /// test thread forks in that instant, and exec'ing the script before
    /// that child execs fails with ETXTBSY ("Text file busy", seen here
    /// once in 60 runs). The child's fd dies with it, before we exec.
    fn write_script(path: &Path, text: &str) {
        use std::io::Write;
        let mut child = Command::new("sh")
            .args(["-c", "cat > \"$1\" && chmod 755 \"$1\"", "sh"])
            .arg(path)
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        assert!(
            child.wait().unwrap().success(),
            "writing {}",
            path.display()
        );
    }

    #[test]
    fn a_kept_answer_is_used_until_the_interpreter_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("checks");
        let asked = dir.path().join("asked");
        let fake = dir.path().join("python3");
        // A stand-in that answers the probe and counts how often it is asked.
        let answer = |version: &str| {
            write_script(
                &fake,
                &format!(
                    "#!/bin/sh\necho x >> '{}'\necho CPython {version} 0 0\n",
                    asked.display()
                ),
            );
        };
        let times = || std::fs::read_to_string(&asked).map_or(0, |s| s.lines().count());
        answer("3.12.1");
        for _ in 0..3 {
            assert_eq!(check_cached(&fake, Some(&cache)).unwrap().version, "3.12.1");
        }
        assert_eq!(times(), 1, "asked once, then kept");
        // Rewritten in place (the same inode): a new answer.
        answer("3.12.10");
        assert_eq!(
            check_cached(&fake, Some(&cache)).unwrap().version,
            "3.12.10"
        );
        assert_eq!(times(), 2);
        // Without a cache, every check asks.
        check_cached(&fake, None).unwrap();
        assert_eq!(times(), 3);
        // A failure is not kept.
        std::fs::write(
            &fake,
            "#!/bin/sh\necho x >> '".to_owned() + asked.to_str().unwrap() + "'\nexit 1\n",
        )
        .unwrap();
        for _ in 0..2 {
            assert!(check_cached(&fake, Some(&cache)).is_err());
        }
        assert_eq!(times(), 5);
    }

    #[test]
    fn a_venv_is_told_by_the_interpreter_even_behind_a_wrapper() {
        let default = default_python(Path::new(env!("CARGO_MANIFEST_DIR"))).expect("a python3");
        // The interpreter itself, not a launcher (pyenv's shims are scripts).
        let out = Command::new(default)
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .unwrap();
        let real = std::fs::canonicalize(String::from_utf8(out.stdout).unwrap().trim()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let python = bin.join("python");
        std::os::unix::fs::symlink(&real, &python).unwrap();
        assert!(!check_full(&python).unwrap().in_venv);
        // One directory up from bin/, as `python -m venv` writes it.
        let home = real.parent().unwrap().display().to_string();
        std::fs::write(dir.path().join("pyvenv.cfg"), format!("home = {home}\n")).unwrap();
        assert!(check_full(&python).unwrap().in_venv);
        // Behind a wrapper elsewhere (as `make interpreters` makes them, one
        // per Debian root): the interpreter's word, not the wrapper's path.
        let other = tempfile::tempdir().unwrap();
        let wrapper = other.path().join("python3.99");
        write_script(
            &wrapper,
            &format!("#!/bin/sh\nexec '{}' \"$@\"\n", python.display()),
        );
        assert!(check_full(&wrapper).unwrap().in_venv);
        // Or beside the interpreter.
        std::fs::rename(dir.path().join("pyvenv.cfg"), bin.join("pyvenv.cfg")).unwrap();
        assert!(check_full(&python).unwrap().in_venv);
    }

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

    #[test]
    fn provisioned_reads_status_and_checks_each_wrapper() {
        let project = tempfile::tempdir().unwrap();
        assert_eq!(provisioned(project.path()), Provisioned::default());
        let dir = provisioned_dir(project.path());
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        let wrapper = dir.join("bin").join("python3.14");
        write_script(&wrapper, "#!/bin/sh\n");
        std::fs::write(
            dir.join("status.tsv"),
            "python3.14\tok\tCPython 3.14.10 in Debian sid\n\
             pypy3.11\tok\tPyPy 3.11.17 in Debian sid\n\
             python3.XXt\tmissing\tthe free-threaded build failed (see its log)\n",
        )
        .unwrap();
        let p = provisioned(project.path());
        assert!(p.ran);
        assert_eq!(p.paths, vec![wrapper]);
        assert_eq!(p.missing.len(), 2, "{p:?}");
        assert!(p.missing[0].0 == "pypy3.11" && p.missing[0].1.ends_with("is gone"));
        assert_eq!(
            p.missing[1],
            (
                "python3.XXt".to_owned(),
                "the free-threaded build failed (see its log)".to_owned()
            )
        );
        // A bare name finds the provisioned wrapper first.
        assert_eq!(resolve(Path::new("python3.14"), project.path()), p.paths[0]);
    }

    #[test]
    fn discovery_deduplicates_and_explains() {
        let default = default_python(Path::new(env!("CARGO_MANIFEST_DIR"))).expect("a python3");
        let dir = tempfile::tempdir().unwrap();
        let alias = dir.path().join("python3.99");
        std::os::unix::fs::symlink(std::fs::canonicalize(&default).unwrap(), &alias).unwrap();
        let (found, dropped) = discover(&[default.clone(), default.clone(), alias.clone()]);
        assert_eq!(found.iter().filter(|f| f.path == default).count(), 1);
        assert!(!found.iter().any(|f| f.path == alias));
        let why = &dropped.iter().find(|d| d.path == alias).unwrap().why;
        assert!(why.contains("the same interpreter as"), "{why}");
        let (_, dropped) = discover(&["/bin/true".into()]);
        assert!(dropped.iter().any(|d| d.why.contains("not a Python")));
    }
}
