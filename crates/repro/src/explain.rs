//! `repro explain`: a scenario's lesson, for a terminal.
//!
//! The text lives with the scenario: its `README.md` (the story, the
//! mechanism, the fix, commands to try) and its `scenario.toml` (what each
//! runtime and interpreter must do, and the upstream change behind each
//! exception). Nothing here is specific to a scenario.

use crate::exit::{self, RunError, Usage};
use crate::output::Out;
use crate::registry;
use harness::spec::Spec;
use std::io::IsTerminal;

/// The width everything is wrapped to.
const WIDTH: usize = 80;

pub fn exec(id: &str, out: &mut Out) -> Result<u8, RunError> {
    let scenarios = registry::load().map_err(|e| RunError::Usage(Usage(e.to_string())))?;
    let Some(sc) = scenarios.iter().find(|s| s.spec.id == id) else {
        let known: Vec<&str> = scenarios.iter().map(|s| s.spec.id.as_str()).collect();
        return Err(RunError::Usage(Usage(format!(
            "unknown scenario {id:?} (valid: {})",
            known.join(", ")
        ))));
    };
    let bold = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    for line in lesson_lines(sc.def.lesson, sc.def.dir) {
        out.line(&heading(&line, bold))?;
    }
    out.line("")?;
    for line in status_lines(&sc.spec) {
        out.line(&heading(&line, bold))?;
    }
    Ok(exit::OK)
}

fn heading(line: &str, bold: bool) -> String {
    if bold && line.starts_with('#') {
        format!("\x1b[1m{line}\x1b[0m")
    } else {
        line.to_owned()
    }
}

/// The README for a terminal: the Mermaid diagram becomes a pointer to the
/// file (the step list above it says the same), code fences are dropped.
fn lesson_lines(lesson: &str, dir: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut in_mermaid = false;
    for line in lesson.lines() {
        match line.trim() {
            "```mermaid" => {
                in_mermaid = true;
                lines.push(format!("(The sequence diagram is in {dir}/README.md.)"));
            }
            "```" if in_mermaid => in_mermaid = false,
            _ if in_mermaid => {}
            t if t.starts_with("```") => {}
            _ => lines.push(line.to_owned()),
        }
    }
    lines
}

/// What each variant must do, by runtime and interpreter, from
/// scenario.toml, wrapped to [`WIDTH`].
fn status_lines(spec: &Spec) -> Vec<String> {
    let mut lines = vec![
        "## Expected, by runtime and interpreter (scenario.toml)".to_owned(),
        String::new(),
    ];
    for v in &spec.variants {
        let (runtimes, expect) = (v.runtime_names(), v.expect_text());
        lines.extend(wrap(
            &format!("{} [{}]: {expect}. {}", v.id, runtimes.join(", "), v.about),
            "- ",
            "  ",
        ));
        for o in &v.when {
            let mut scope = Vec::new();
            if let Some(r) = o.runtime {
                scope.push(r.to_string());
            }
            if let Some(p) = &o.python {
                scope.push(format!("python {p}"));
            }
            let expect = match &o.symptom {
                Some(s) => format!("{} ({s})", o.expect),
                None => o.expect.to_string(),
            };
            lines.extend(wrap(
                &format!("but {}: {expect}, because {}", scope.join(", "), o.because),
                "    ",
                "      ",
            ));
        }
    }
    lines.push(String::new());
    lines.push("## Upstream".to_owned());
    lines.push(String::new());
    for u in &spec.upstream {
        lines.extend(wrap(u, "- ", "  "));
    }
    lines
}

/// Word-wraps `text` to [`WIDTH`]: `first` before the first line, `rest`
/// before the others. A word longer than a line (a URL) gets a line alone.
fn wrap(text: &str, first: &str, rest: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = first.to_owned();
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.len() + 1 + word.len() > WIDTH {
            lines.push(line);
            line = rest.to_owned();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    lines.push(line);
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_with_hanging_indent() {
        let text = "word ".repeat(40);
        let lines = wrap(&text, "- ", "  ");
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| l.len() <= WIDTH));
        assert!(lines[0].starts_with("- word") && lines[1].starts_with("  word"));
    }

    #[test]
    fn mermaid_becomes_a_pointer() {
        let lines = lesson_lines(
            "a\n```mermaid\nP->>C: x\n```\n```\nrepro run x\n```\n",
            "d/x",
        );
        assert_eq!(
            lines,
            [
                "a",
                "(The sequence diagram is in d/x/README.md.)",
                "repro run x"
            ]
        );
    }
}
