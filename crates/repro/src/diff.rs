//! `repro diff`: the fix, as a unified diff, extracted from the real source.
//!
//! The fixes are written so that they can be read back. A comment
//! `repro:diff <variant>…` stands right before an `if` whose if-arm is the
//! fixed code and whose else-arm (possibly absent) is the broken code, as in
//! `crates/corpus/shared-epoll/lib.rs`. The diff shows the else-arm as removed
//! and the if-arm as added, with the lines around the block as context.
//! Where a fix is a whole other code path (the `spawn` start method, forking
//! in another order), there is no marker. The diff then compares the
//! variant's own entry with its broken twin's: its line in a pyrepro
//! module's `VARIANTS`, or its arm of the `match variant` in Rust. Nothing is
//! copied, so the diff cannot drift from what runs.

use crate::exit::{self, RunError, Usage};
use crate::output::Out;
use crate::registry::{self, Scenario};
use harness::record::Runtime;
use std::path::{Path, PathBuf};

/// Lines of context around a marked block.
const CONTEXT: usize = 2;

/// One source file, as lines.
struct Source {
    path: String,
    lines: Vec<String>,
}

fn load(root: &Path, path: PathBuf) -> Option<Source> {
    let text = std::fs::read_to_string(&path).ok()?;
    let shown = path
        .strip_prefix(root)
        .unwrap_or(&path)
        .display()
        .to_string();
    Some(Source {
        path: shown,
        lines: text.lines().map(str::to_owned).collect(),
    })
}

fn sources(sc: &Scenario, runtime: Runtime) -> Vec<Source> {
    let root = registry::root();
    let mut out = Vec::new();
    if runtime != Runtime::Rust {
        // The scenario's module, then its helpers (`<module>_*.py`, such as
        // signal_wakeup_fd_aiohttp.py), in name order.
        let stem = sc.spec.id.replace('-', "_");
        out.extend(load(&root, root.join("pyrepro").join(format!("{stem}.py"))));
        let mut helpers: Vec<PathBuf> = std::fs::read_dir(root.join("pyrepro"))
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("{stem}_")) && n.ends_with(".py"))
            })
            .collect();
        helpers.sort();
        out.extend(helpers.into_iter().filter_map(|p| load(&root, p)));
    }
    if runtime != Runtime::Python {
        let dir = root.join(sc.def.dir);
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "rs"))
            .collect();
        files.sort();
        out.extend(files.into_iter().filter_map(|p| load(&root, p)));
    }
    out
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The braces a line opens minus those it closes, outside string literals.
fn brace_balance(line: &str) -> i32 {
    let (mut depth, mut in_str, mut escaped) = (0, false, false);
    for c in line.chars() {
        match (in_str, escaped, c) {
            (true, true, _) => escaped = false,
            (true, false, '\\') => escaped = true,
            (true, false, '"') => in_str = false,
            (false, _, '"') => in_str = true,
            (false, _, '/') if line.trim_start().starts_with("//") => break,
            (false, _, '{') => depth += 1,
            (false, _, '}') => depth -= 1,
            _ => {}
        }
    }
    depth
}

/// A marked block: the `if` line, its arms, and where the block ends.
struct Block {
    marker: usize,
    fixed: Vec<String>,
    broken: Vec<String>,
    end: usize,
}

fn python_block(lines: &[String], marker: usize) -> Option<Block> {
    let head = marker + 1;
    let base = indent(lines.get(head)?);
    let arm = |from: usize| -> (Vec<String>, usize) {
        let mut k = from;
        let mut body = Vec::new();
        while k < lines.len() && (lines[k].trim().is_empty() || indent(&lines[k]) > base) {
            body.push(lines[k].clone());
            k += 1;
        }
        // Blank lines after the arm belong to what follows.
        while body.last().is_some_and(|l| l.trim().is_empty()) {
            body.pop();
            k -= 1;
        }
        (body, k)
    };
    let (fixed, mut k) = arm(head + 1);
    let mut broken = Vec::new();
    if lines
        .get(k)
        .is_some_and(|l| indent(l) == base && l.trim() == "else:")
    {
        let (body, next) = arm(k + 1);
        broken = body;
        k = next;
    }
    Some(Block {
        marker,
        fixed,
        broken,
        end: k,
    })
}

fn rust_block(lines: &[String], marker: usize) -> Option<Block> {
    let head = marker + 1;
    let mut depth = brace_balance(lines.get(head)?);
    let (mut fixed, mut broken) = (Vec::new(), Vec::new());
    let mut in_else = false;
    let mut k = head + 1;
    while k < lines.len() && depth > 0 {
        let line = &lines[k];
        let trimmed = line.trim();
        if depth == 1 && trimmed.starts_with("} else {") {
            in_else = true;
        } else {
            let after = depth + brace_balance(line);
            if after > 0 {
                if in_else { &mut broken } else { &mut fixed }.push(line.clone());
            }
        }
        depth += brace_balance(line);
        k += 1;
    }
    Some(Block {
        marker,
        fixed,
        broken,
        end: k,
    })
}

/// The line diff of `a` into `b` (longest common subsequence), as
/// `(' '|'-'|'+', line)`.
fn line_diff<'a>(a: &'a [String], b: &'a [String]) -> Vec<(char, &'a str)> {
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i].trim() == b[j].trim() {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < n || j < m {
        if i < n && j < m && a[i].trim() == b[j].trim() {
            out.push((' ', b[j].as_str()));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push(('-', a[i].as_str()));
            i += 1;
        } else {
            out.push(('+', b[j].as_str()));
            j += 1;
        }
    }
    out
}

/// The hunk for `variant` from a `repro:diff` marker in any source, else
/// from its own entry; with the source it came from.
fn find_hunk(srcs: &[Source], variant: &str, twin: &str) -> Option<(String, (usize, Vec<String>))> {
    let rust = |src: &Source| src.path.ends_with(".rs");
    let marked = srcs
        .iter()
        .find_map(|src| marked_hunk(src, variant, rust(src)).map(|h| (src.path.clone(), h)));
    marked.or_else(|| {
        srcs.iter().find_map(|src| {
            entry_hunk(src, variant, twin, rust(src)).map(|h| (src.path.clone(), h))
        })
    })
}

/// The hunk for `variant` from a `repro:diff` marker in `src`.
fn marked_hunk(src: &Source, variant: &str, rust: bool) -> Option<(usize, Vec<String>)> {
    let lines = &src.lines;
    let marked = lines.iter().position(|l| {
        let t = l.trim_start();
        let rest = t
            .strip_prefix("# repro:diff ")
            .or_else(|| t.strip_prefix("// repro:diff "));
        rest.is_some_and(|r| r.split_whitespace().any(|v| v == variant))
    });
    if let Some(m) = marked {
        let b = if rust {
            rust_block(lines, m)?
        } else {
            python_block(lines, m)?
        };
        let from = b.marker.saturating_sub(CONTEXT);
        let mut out: Vec<String> = lines[from..b.marker]
            .iter()
            .map(|l| format!(" {l}"))
            .collect();
        out.push(format!(" {}", lines[b.marker + 1]));
        for (tag, l) in line_diff(&b.broken, &b.fixed) {
            out.push(format!("{tag}{l}"));
        }
        let to = (b.end + CONTEXT).min(lines.len());
        out.extend(lines[b.end..to].iter().map(|l| format!(" {l}")));
        return Some((b.marker + 1, out));
    }
    None
}

/// No marker: the variant's own entry against its twin's.
fn entry_hunk(src: &Source, variant: &str, twin: &str, rust: bool) -> Option<(usize, Vec<String>)> {
    let lines = &src.lines;
    let entry = |v: &str| -> Option<(usize, Vec<String>)> {
        let key = format!("\"{v}\"");
        let at = lines.iter().position(|l| {
            l.contains(&key)
                && if rust {
                    l.contains("=>")
                } else {
                    l.trim_start().starts_with(&key)
                }
        })?;
        if !rust || !lines[at].trim_end().ends_with('{') {
            return Some((at, vec![lines[at].clone()]));
        }
        let mut depth = brace_balance(&lines[at]);
        let mut k = at + 1;
        let mut body = vec![lines[at].clone()];
        while k < lines.len() && depth > 0 {
            depth += brace_balance(&lines[k]);
            body.push(lines[k].clone());
            k += 1;
        }
        Some((at, body))
    };
    let (at, fixed) = entry(variant)?;
    let (_, broken) = entry(twin)?;
    let out = line_diff(&broken, &fixed)
        .into_iter()
        .map(|(tag, l)| format!("{tag}{l}"))
        .collect();
    Some((at + 1, out))
}

/// The broken variant a fixed one is the twin of.
fn twin(sc: &Scenario, runtime: Runtime, variant: &str) -> String {
    let candidate = variant.replacen("fixed", "broken", 1);
    let exists = sc.spec.variants_for(runtime).any(|v| v.id == candidate);
    if exists {
        candidate
    } else {
        "broken".to_owned()
    }
}

pub fn exec(
    id: &str,
    runtime: Option<&str>,
    variant: Option<&str>,
    out: &mut Out,
) -> Result<u8, RunError> {
    let usage = |m: String| RunError::Usage(Usage(m));
    let scenarios = registry::load().map_err(|e| usage(e.to_string()))?;
    let sc = scenarios.iter().find(|s| s.spec.id == id).ok_or_else(|| {
        let known: Vec<&str> = scenarios.iter().map(|s| s.spec.id.as_str()).collect();
        usage(format!(
            "unknown scenario {id:?} (valid: {})",
            known.join(", ")
        ))
    })?;
    let runtimes: Vec<Runtime> = match runtime {
        None | Some("all") => Runtime::ALL.to_vec(),
        Some(r) => vec![Runtime::parse(r).ok_or_else(|| {
            usage(format!(
                "unknown runtime {r:?} (valid: rust, python, embedded, all)"
            ))
        })?],
    };
    let mut shown = 0;
    for rt in runtimes {
        let fixed: Vec<&str> = sc
            .spec
            .variants_for(rt)
            .map(|v| v.id.as_str())
            .filter(|v| v.starts_with("fixed") && variant.is_none_or(|want| want == *v))
            .collect();
        for v in fixed {
            // The embedded runtime runs the Python code: with every runtime
            // asked for, show that once, under python.
            let same_as_python = sc.spec.variants_for(Runtime::Python).any(|p| p.id == v);
            if rt == Runtime::Embedded && runtime.is_none_or(|r| r == "all") && same_as_python {
                continue;
            }
            let twin = twin(sc, rt, v);
            // The embedded runtime runs the Python code, but for its native
            // variants, which are Rust.
            let found = find_hunk(&sources(sc, rt), v, &twin);
            let Some((path, (line, hunk))) = found else {
                continue;
            };
            out.line(&format!("--- {twin} ({rt}, {path})"))?;
            out.line(&format!("+++ {v} ({rt}, {path})"))?;
            out.line(&format!("@@ {path}:{line} @@"))?;
            for l in hunk {
                out.line(l.trim_end())?;
            }
            out.line("")?;
            shown += 1;
        }
    }
    if shown == 0 {
        return Err(usage(format!(
            "{id}: no fixed variant {}for {} (see repro list)",
            variant.map_or(String::new(), |v| format!("{v:?} ")),
            runtime.unwrap_or("any runtime")
        )));
    }
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<String> {
        s.lines().map(str::to_owned).collect()
    }

    #[test]
    fn python_if_else_arms() {
        let src = lines(
            "def f():\n    # repro:diff fixed\n    if fixed:\n        return a()\n    else:\n        return b\n    x = 1\n",
        );
        let b = python_block(&src, 1).unwrap();
        assert_eq!(b.fixed, ["        return a()"]);
        assert_eq!(b.broken, ["        return b"]);
        assert_eq!(src[b.end], "    x = 1");
    }

    #[test]
    fn rust_if_else_arms_ignore_braces_in_strings() {
        let src = lines(
            "    // repro:diff fixed\n    let l = if fixed {\n        own(\"{x}\")\n    } else {\n        &mut p\n    };\n    next();\n",
        );
        let b = rust_block(&src, 0).unwrap();
        assert_eq!(b.fixed, ["        own(\"{x}\")"]);
        assert_eq!(b.broken, ["        &mut p"]);
        assert_eq!(src[b.end], "    next();");
    }

    #[test]
    fn diff_keeps_common_lines_as_context() {
        let a = lines("a\nb\nc");
        let b = lines("a\nx\nc");
        let d: Vec<String> = line_diff(&a, &b)
            .iter()
            .map(|(t, l)| format!("{t}{l}"))
            .collect();
        assert_eq!(d, [" a", "-b", "+x", " c"]);
        let d: Vec<String> = line_diff(&lines("p"), &lines("q\nr"))
            .iter()
            .map(|(t, l)| format!("{t}{l}"))
            .collect();
        assert_eq!(d, ["-p", "+q", "+r"]);
    }
}
