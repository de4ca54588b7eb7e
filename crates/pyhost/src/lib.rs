//! # pyhost: a pyrepro scenario inside an embedded CPython
//!
//! The Python scenarios run in two ways: as `python -m pyrepro` on a
//! standalone interpreter, and here, inside a CPython that a Rust program
//! embeds through pyo3. The second is how a Rust service that hosts Python
//! meets these bugs. It is also where bug 03 has a form of its own: a native
//! `fork()` that CPython never hears of.
//!
//! ## Why it is harder than `Python::attach`
//!
//! A binary linked against one libpython can silently run another. The
//! dynamic loader finds `libpython3.11.so.1.0` by *soname*, so a binary built
//! against pyenv's 3.11.7 will happily load Debian's 3.11.2 from
//! `/usr/lib` if nothing points it elsewhere. Then CPython computes its
//! prefix from the program name (`python3`, looked up on `PATH`), and can
//! pair one version's libpython with another's standard library. A canary
//! that tests a different Python than it claims is worthless. So:
//!
//! 1. the `repro-embedded` binary carries an rpath to the build interpreter's
//!    `LIBDIR` (its build script), so the loader finds the right library;
//! 2. [`initialize`] sets `PyConfig.program_name` to the build interpreter's
//!    executable, so CPython finds the matching standard library;
//! 3. [`check_interpreter`] verifies both at run time, from `sys.version_info`
//!    and from the libpython that `/proc/self/maps` shows mapped, and the case
//!    is an `error` naming both versions if either differs;
//! 4. [`initialize`] turns `site` off, and [`start_checked`] makes the
//!    project's environment (`.venv`) the only site directory, as it is for
//!    that environment's own interpreter: with `site`, the build
//!    interpreter's own site-packages came first, and a package installed
//!    there shadowed the version the project pins (pexpect 4.8 for 4.9).

use harness::record::{PythonInfo, Record, Runtime, Verdict};
use harness::scenario::RustRun;
use pyo3::ffi;
use pyo3::prelude::*;
use std::ffi::CString;
use std::path::{Path, PathBuf};

/// The interpreter this crate was built against.
#[derive(Debug, Clone, Copy)]
pub struct BuiltFor {
    /// `major.minor`.
    pub version: &'static str,
    /// Its executable (empty if pyo3 was configured without one).
    pub executable: &'static str,
    /// The directory holding its libpython (empty for a static build).
    pub lib_dir: &'static str,
    /// A free-threaded (`Py_GIL_DISABLED`) build.
    pub free_threaded: bool,
}

impl BuiltFor {
    /// What expectations are keyed by, for a case that could not say it
    /// itself (an `error` decided by the supervisor): `major.minor` only.
    pub fn interpreter(&self) -> harness::spec::Interpreter {
        harness::spec::Interpreter {
            version: self.version.to_owned(),
            implementation: "CPython".to_owned(),
            free_threaded: self.free_threaded,
        }
    }
}

/// What pyo3 linked against, recorded by the build script.
pub const BUILT_FOR: BuiltFor = BuiltFor {
    version: env!("PYHOST_PYTHON_VERSION"),
    executable: env!("PYHOST_PYTHON_EXECUTABLE"),
    lib_dir: env!("PYHOST_PYTHON_LIBDIR"),
    free_threaded: !env!("PYHOST_PYTHON_FREE_THREADED").is_empty(),
};

/// Starts the embedded interpreter the way [`BUILT_FOR`] needs, then
/// releases the GIL so that `Python::attach` can take it.
///
/// Signal handlers are not installed (like pyo3's own initialisation): the
/// embedding program owns its signals.
///
/// Safe to call from anywhere, any number of times: CPython's own
/// preconditions are enforced here, not left to the caller. It runs once
/// (later calls, and calls racing it, get the first one's result), only on
/// the process's main thread (elsewhere: an error), and before any other
/// Python API use (pyo3 refuses to attach to an interpreter that is not
/// initialised, so none can come first).
///
/// # Errors
/// CPython's message if initialisation fails; a call from another thread
/// than the main one.
pub fn initialize() -> Result<(), String> {
    static ONCE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    if u32::try_from(tid).ok() != Some(std::process::id()) {
        return Err("the embedded interpreter starts on the main thread only".into());
    }
    ONCE.get_or_init(|| {
        // SAFETY: once (the OnceLock), on the main thread (checked above),
        // before any other Python API use (see above). The config struct is
        // initialised by CPython before use and cleared after.
        unsafe { initialize_once() }
    })
    .clone()
}

/// [`initialize`]'s work.
///
/// # Safety
/// Once per process, on its main thread, before any other Python API use.
unsafe fn initialize_once() -> Result<(), String> {
    // SAFETY: the caller's contract; the config struct is initialised by
    // CPython before use and cleared after.
    unsafe {
        if ffi::Py_IsInitialized() != 0 {
            return Ok(());
        }
        let mut config = std::mem::MaybeUninit::<ffi::PyConfig>::zeroed();
        ffi::PyConfig_InitPythonConfig(config.as_mut_ptr());
        let mut config = config.assume_init();
        config.install_signal_handlers = 0;
        // No `site` at start-up, like the Python runtime's `-S`: the site
        // directories are set in `start_checked` (the project's
        // environment only), or by pyrepro for the variants that need them.
        config.site_import = 0;
        let mut result = Ok(());
        if !BUILT_FOR.executable.is_empty() {
            let name = CString::new(BUILT_FOR.executable).map_err(|e| e.to_string())?;
            let status =
                ffi::PyConfig_SetBytesString(&mut config, &mut config.program_name, name.as_ptr());
            result = status_to_result(status, "PyConfig_SetBytesString");
        }
        if result.is_ok() {
            result = status_to_result(
                ffi::Py_InitializeFromConfig(&config),
                "Py_InitializeFromConfig",
            );
        }
        ffi::PyConfig_Clear(&mut config);
        result?;
        ffi::PyEval_SaveThread();
    }
    Ok(())
}

/// # Safety
/// `status` must come from a CPython initialisation call.
unsafe fn status_to_result(status: ffi::PyStatus, what: &str) -> Result<(), String> {
    // SAFETY: forwarded.
    if unsafe { ffi::PyStatus_Exception(status) } == 0 {
        return Ok(());
    }
    let msg = if status.err_msg.is_null() {
        "unknown error".to_owned()
    } else {
        // SAFETY: CPython's error messages are static C strings.
        unsafe { std::ffi::CStr::from_ptr(status.err_msg) }
            .to_string_lossy()
            .into_owned()
    };
    Err(format!("{what}: {msg}"))
}

/// The libpython this process has mapped, from `/proc/self/maps`.
pub fn mapped_libpython() -> Option<PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| {
            Path::new(p)
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("libpython"))
        })
        .map(PathBuf::from)
}

/// Checks that the running interpreter is the one [`BUILT_FOR`] names: same
/// `major.minor`, and libpython mapped from the build interpreter's LIBDIR.
///
/// # Errors
/// A message naming what was intended and what runs.
pub fn check_interpreter(running_version: &str, library: Option<&Path>) -> Result<(), String> {
    let major_minor: String = running_version
        .split('.')
        .take(2)
        .collect::<Vec<_>>()
        .join(".");
    if major_minor != BUILT_FOR.version {
        return Err(format!(
            "built for Python {} ({}), but Python {running_version} runs",
            BUILT_FOR.version, BUILT_FOR.executable
        ));
    }
    if BUILT_FOR.lib_dir.is_empty() {
        return Ok(());
    }
    let want = std::fs::canonicalize(BUILT_FOR.lib_dir).ok();
    let got = library.and_then(|l| std::fs::canonicalize(l.parent()?).ok());
    if want.is_none() || want != got {
        return Err(format!(
            "built against the libpython in {}, but {} is mapped (Python {running_version})",
            BUILT_FOR.lib_dir,
            library.map_or("no libpython".into(), |l| l.display().to_string()),
        ));
    }
    Ok(())
}

/// Starts the interpreter, puts `root` (the directory holding `pyrepro`) on
/// `sys.path`, and checks that it is the interpreter this binary was built
/// for. Returns its description for the record.
///
/// # Errors
/// Why it cannot be used: initialisation failed, or another interpreter
/// runs than the one intended.
pub fn start_checked(root: &Path) -> Result<PythonInfo, String> {
    initialize().map_err(|e| format!("cannot start the embedded interpreter: {e}"))?;
    let library = mapped_libpython();
    let (version, free_threaded, gil_enabled) = Python::attach(|py| -> PyResult<_> {
        py.import("sys")?
            .getattr("path")?
            .call_method1("insert", (0, root.to_string_lossy().as_ref()))?;
        // As pyrepro.record writes it (what platform.python_version()
        // says), without importing platform (re, and a few ms of each case).
        let version: String = py
            .import("sys")?
            .getattr("version")?
            .call_method0("split")?
            .get_item(0)?
            .extract()?;
        // The project's environment is the only site directory, as for
        // its own interpreter: the base installation's site-packages would
        // come first otherwise (it held pexpect 4.8 here, the project pins
        // 4.9). Without an environment for this version, pyrepro runs
        // `site` when a variant needs a package.
        if let Some(site) = project_site_packages(root, &version) {
            py.import("pyrepro.runner")?
                .call_method1("site_from", (site.to_string_lossy().as_ref(),))?;
        }
        // The flags as pyrepro writes them for a standalone interpreter.
        let flags = py
            .import("pyrepro.record")?
            .call_method0("free_threading")?;
        let free_threaded: Option<bool> = flags
            .get_item("free_threaded")
            .ok()
            .map(|v| v.extract())
            .transpose()?;
        let gil_enabled: Option<bool> = flags
            .get_item("gil_enabled")
            .ok()
            .map(|v| v.extract())
            .transpose()?;
        Ok((version, free_threaded.unwrap_or(false), gil_enabled))
    })
    .map_err(|e| format!("python raised: {e}"))?;
    check_interpreter(&version, library.as_deref())?;
    Ok(PythonInfo {
        version,
        implementation: "CPython".to_owned(),
        executable: std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        library: library.map(|l| l.display().to_string()),
        free_threaded,
        gil_enabled,
    })
}

/// The project environment's site-packages (`.venv`, made by `make setup`),
/// if that environment is for this interpreter's `major.minor`: its
/// packages (gevent) are then importable in the embedded interpreter too.
fn project_site_packages(root: &Path, running_version: &str) -> Option<PathBuf> {
    let cfg = std::fs::read_to_string(root.join(".venv").join("pyvenv.cfg")).ok()?;
    let venv_version = cfg.lines().find_map(|l| {
        let (key, value) = l.split_once('=')?;
        matches!(key.trim(), "version" | "version_info").then(|| value.trim().to_owned())
    })?;
    let major_minor = |v: &str| v.split('.').take(2).collect::<Vec<_>>().join(".");
    if major_minor(&venv_version) != major_minor(running_version) {
        return None;
    }
    let site = root
        .join(".venv")
        .join("lib")
        .join(format!("python{}", major_minor(running_version)))
        .join("site-packages");
    site.is_dir().then_some(site)
}

/// An embedded case that gave no verdict: an `error` record with `reason`.
pub fn error_record(scenario: &str, variant: &str, reason: String) -> Record {
    Record::supervisor(
        scenario,
        Runtime::Embedded,
        variant,
        Verdict::Error,
        reason,
        Vec::new(),
    )
}

/// Runs one pyrepro case in the embedded interpreter and returns its record.
///
/// `root` is the directory holding the `pyrepro` package. Errors, from
/// initialisation to a Python exception, become an `error` record: the
/// caller always gets a record to print.
pub fn run_case(root: &Path, scenario: &str, variant: &str) -> Record {
    let info = match start_checked(root) {
        Ok(info) => info,
        Err(e) => return error_record(scenario, variant, e),
    };
    let line = Python::attach(|py| -> PyResult<String> {
        let interpreter = pyo3::types::PyDict::new(py);
        interpreter.set_item("executable", &info.executable)?;
        interpreter.set_item("library", &info.library)?;
        py.import("pyrepro.runner")?
            .call_method1(
                "run_case_json",
                (scenario, variant, "embedded", interpreter),
            )?
            .extract()
    });
    let line = match line {
        Ok(line) => line,
        Err(e) => return error_record(scenario, variant, format!("python raised: {e}")),
    };
    match Record::from_json_line(&line) {
        Ok(r) => r,
        Err(e) => error_record(scenario, variant, e.to_string()),
    }
}

/// Runs an embedded variant written in Rust (a scenario's
/// [`harness::scenario::NativeRun`]) with the interpreter started and
/// checked, and returns its record.
pub fn run_native(root: &Path, scenario: &str, variant: &str, run: RustRun) -> Record {
    let info = match start_checked(root) {
        Ok(info) => info,
        Err(e) => return error_record(scenario, variant, e),
    };
    let start = std::time::Instant::now();
    let outcome = run(variant);
    harness::scenario::record(
        scenario,
        Runtime::Embedded,
        variant,
        Some(info),
        start,
        outcome,
    )
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_version_is_refused_with_both_named() {
        let e = check_interpreter("2.7.18", None).unwrap_err();
        assert!(e.contains("2.7.18") && e.contains(BUILT_FOR.version), "{e}");
    }

    #[test]
    fn same_version_from_another_directory_is_refused() {
        if BUILT_FOR.lib_dir.is_empty() {
            return; // a static libpython cannot be swapped at load time
        }
        let running = format!("{}.0", BUILT_FOR.version);
        let elsewhere = Path::new("/nonexistent/libpython.so");
        let e = check_interpreter(&running, Some(elsewhere)).unwrap_err();
        assert!(e.contains("/nonexistent/libpython.so"), "{e}");
        assert!(e.contains(BUILT_FOR.lib_dir), "{e}");
    }
    /// A test runs on a thread of the harness, never the main one: the
    /// interpreter refuses to start there, instead of racing CPython's
    /// main-thread assumptions.
    #[test]
    fn initialize_refuses_a_thread_other_than_the_main_one() {
        let err = super::initialize().unwrap_err();
        assert!(err.contains("main thread"), "{err}");
    }
}
