//! Small files `repro` keeps between runs under `target/` (what an
//! interpreter said it is, what was byte-compiled): named by a hash of
//! what they are about, written whole.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

/// The file in `dir` for `key`: its name is a hash of `key` (a cache miss,
/// never a wrong answer, if the hash changes between Rust releases: each
/// file holds what it was made for, and its readers compare).
pub fn entry(dir: &Path, key: &impl Hash) -> PathBuf {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    dir.join(format!("{:016x}", h.finish()))
}

/// Writes `text` to `file` whole: into a temporary file beside it, then
/// renamed, so a reader running side by side sees all of it or none.
///
/// # Errors
/// The directory cannot be made or written to.
pub fn write_whole(file: &Path, text: &str) -> std::io::Result<()> {
    let dir = file.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::fs::write(tmp.path(), text)?;
    tmp.persist(file).map_err(|e| e.error)?;
    Ok(())
}
