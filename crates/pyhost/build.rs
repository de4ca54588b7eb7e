//! Records, at build time, which interpreter pyo3 linked against, so that the
//! running binary can check it really got that one (see `BUILT_FOR`).

fn main() {
    let config = pyo3_build_config::get();
    let version = format!("{}.{}", config.version().major, config.version().minor);
    println!("cargo:rustc-env=PYHOST_PYTHON_VERSION={version}");
    println!(
        "cargo:rustc-env=PYHOST_PYTHON_EXECUTABLE={}",
        config.executable().unwrap_or("")
    );
    println!(
        "cargo:rustc-env=PYHOST_PYTHON_LIBDIR={}",
        config.lib_dir().unwrap_or("")
    );
    println!(
        "cargo:rustc-env=PYHOST_PYTHON_FREE_THREADED={}",
        if config.is_free_threaded() { "1" } else { "" }
    );
    // For this crate's own test binary; the root package's build script
    // adds the same rpath for `repro-embedded`.
    pyo3_build_config::add_libpython_rpath_link_args();
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    println!("cargo:rerun-if-env-changed=PYO3_CONFIG_FILE");
}
