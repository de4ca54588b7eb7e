//! `repro new <id>`: a new scenario, from the templates in
//! `crates/repro/templates/new/`: a working broken/fixed pair in every
//! runtime (a fork child keeping a pipe's write end open), with its lesson,
//! exercise, trace and strace expectations. It writes the scenario's own
//! directory and its pyrepro module, nothing else: the corpus crate and
//! pyrepro find them, and the test suite covers them with no other edit.
//! `CONTRIBUTING.md` says what to change next.

use crate::exit::{self, RunError, Usage};
use crate::output::Out;
use crate::registry;
use harness::record::is_kebab_id;
use std::path::Path;

/// The templates, compiled in: (file in the scenario's directory, or the
/// pyrepro module; text).
const TEMPLATES: &[(&str, &str)] = &[
    (
        "scenario.toml",
        include_str!("../templates/new/scenario.toml"),
    ),
    ("README.md", include_str!("../templates/new/README.md")),
    ("lib.rs", include_str!("../templates/new/lib.rs")),
    ("module.py", include_str!("../templates/new/module.py")),
];

/// `repro new <id>`, in the checkout at [`registry::root`].
pub fn exec(id: &str, out: &mut Out) -> Result<u8, RunError> {
    let usage = |m: String| RunError::Usage(Usage(m));
    if !is_kebab_id(id) {
        return Err(usage(format!(
            "{id:?} is not a kebab-case id (lower-case words joined by '-', e.g. inherited-pipe)"
        )));
    }
    let root = registry::root();
    let module = id.replace('-', "_");
    let dir = root.join("crates").join("corpus").join(id);
    let py = root.join("pyrepro").join(format!("{module}.py"));
    if !root.join("crates").join("corpus").is_dir() || !root.join("pyrepro").is_dir() {
        return Err(usage(format!(
            "{} is not a repro checkout (no crates/corpus or pyrepro): set REPRO_ROOT",
            root.display()
        )));
    }
    for taken in [&dir, &py] {
        if taken.exists() {
            return Err(usage(format!(
                "{} already exists: scenario {id:?} is taken",
                taken.display()
            )));
        }
    }
    let fill = |text: &str| text.replace("__ID__", id).replace("__MODULE__", &module);
    let io = |path: &Path, e: std::io::Error| usage(format!("{}: {e}", path.display()));
    std::fs::create_dir(&dir).map_err(|e| io(&dir, e))?;
    let mut written = Vec::new();
    for (name, text) in TEMPLATES {
        let path = if *name == "module.py" {
            py.clone()
        } else {
            dir.join(name)
        };
        std::fs::write(&path, fill(text)).map_err(|e| io(&path, e))?;
        written.push(path);
    }
    for path in &written {
        let shown = path.strip_prefix(&root).unwrap_or(path);
        out.line(&format!("wrote {}", shown.display()))?;
    }
    out.line(&format!(
        "\n{id}: a working broken/fixed pair (a fork child keeps a pipe's write end open),\n\
         in the rust, python and embedded runtimes. Try it:\n\n    \
         cargo build && target/debug/repro run {id}\n    target/debug/repro explain {id}\n\n\
         Then make it your scenario: CONTRIBUTING.md, step by step."
    ))?;
    Ok(exit::OK)
}
