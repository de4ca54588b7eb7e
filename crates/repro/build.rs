//! The `repro` binary embeds CPython (through pyhost). Point the loader at
//! the libpython pyo3 linked against, with an rpath, so that another
//! interpreter's library of the same soname is never picked up instead.

fn main() {
    pyo3_build_config::add_libpython_rpath_link_args();
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    println!("cargo:rerun-if-env-changed=PYO3_CONFIG_FILE");
}
