//! `scenario.toml`: what a scenario is and what each of its cases must do.
//!
//! Expectations are data. Each scenario crate ships one `scenario.toml`; the
//! CLI, the integration tests and the canary all read that one file, so
//! changing an expectation (say, a CPython release that fixes the bug) is a
//! one-line edit with the upstream link beside it, not a code change.
//!
//! ```toml
//! id = "shared-epoll"
//! title = "…"
//! story = { title = "KeyError in self._handlers: …", by = "Yusuke Tsutsumi", url = "https://…" }
//! summary = "…"
//! fix = "…"
//! upstream = ["https://…"]
//!
//! [[variant]]
//! id = "broken"
//! runtimes = ["rust", "python", "embedded"]
//! expect = "misbehaved"
//! symptom = "unknown-fd-event"
//! about = "the child registers its fd in the epoll it inherited"
//!
//! [[variant.when]]          # an override, first match wins
//! python = ">=3.99"         # and/or: runtime = "embedded", kernel = ">=6.9",
//! expect = "behaved"        #   implementation = "PyPy", free_threaded = true
//! because = "what changed: https://github.com/python/cpython/issues/…"
//! ```
//!
//! Some mistakes could hide a regression, so the loader refuses them, with
//! file and line: a `broken*` variant whose default is not a misbehaviour
//! (`misbehaved`, or `crashed`), a `fixed*` variant whose default is not
//! `behaved`, an override whose link is a placeholder (`example.org`), and
//! an override that makes a broken variant behave (or a fixed one misbehave
//! or skip) without citing the upstream change that did it: an issue, a pull
//! request, a commit or a PEP.

use crate::record::{Expected, Runtime, Verdict, is_kebab_id};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A parsed `scenario.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The scenario id, e.g. `shared-epoll`.
    pub id: String,
    /// One line for `repro list`.
    pub title: String,
    /// The published story this reproduces.
    pub story: Story,
    /// What goes wrong, in a sentence or two.
    pub summary: String,
    /// The fix, in one line.
    pub fix: String,
    /// Upstream reports and discussions.
    #[serde(default)]
    pub upstream: Vec<String>,
    /// The cases.
    #[serde(rename = "variant")]
    pub variants: Vec<VariantSpec>,
    /// The exercise (`repro exercise` / `repro check`), if it has one.
    #[serde(default)]
    pub exercise: Option<ExerciseSpec>,
    /// `repro run --strace`: the syscalls that matter here.
    #[serde(default)]
    pub strace: Option<StraceSpec>,
    /// `repro run --trace`: what a timeline must show, in order (the test
    /// suite holds every scenario to its own).
    #[serde(default)]
    pub trace: Vec<Shows>,
}

/// What one case's output must show, in order: for `--trace` (`lane: what`
/// lines of its timeline) or `--strace` (its syscall lines).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shows {
    /// The case's runtime.
    pub runtime: Runtime,
    /// The case's variant (one that runtime implements).
    pub variant: String,
    /// Substrings, each found after the one before.
    pub shows: Vec<String>,
}

/// A published account of the bug, cited by title and author or site.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Story {
    /// Its title, as published.
    pub title: String,
    /// Its author, or the site that published it.
    pub by: String,
    /// Where to read it (`https://`), when a stable address is known.
    #[serde(default)]
    pub url: Option<String>,
}

/// What `repro run --strace` keeps of a scenario's syscalls.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StraceSpec {
    /// Syscalls to trace (`strace -e trace=`); process creation is always
    /// traced, to place the fork.
    pub syscalls: Vec<String>,
    /// If given, only lines containing one of these (signals, `EAGAIN`…).
    #[serde(default)]
    pub grep: Vec<String>,
    /// What the strace of some case must show, in order.
    #[serde(default)]
    pub show: Vec<Shows>,
}

/// A learner fixes the Python side of a variant; `repro check` judges it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExerciseSpec {
    /// The variant whose code path the learner fixes (`broken`).
    pub variant: String,
    /// The pyrepro module the learner edits (`shared_epoll.py`).
    pub module: String,
    /// What the run must still do, as seen by the witness
    /// (`pyrepro/witness.py`, which the copy does not contain): a "fix"
    /// that removes the fork, or fakes the step, is no fix.
    pub witness: Vec<crate::witness::Rule>,
    /// What shows the bug still happening, as seen by the witness,
    /// whatever verdict the copy itself reaches.
    #[serde(default)]
    pub symptom: Vec<crate::witness::Rule>,
    /// A nudge, for the learner who is stuck.
    pub hint: String,
    /// One real fix, as an edit of the copy (the test suite applies it).
    pub answer: Answer,
    /// "Fixes" that remove or fake the hazard: the test suite applies each
    /// and holds `repro check` to refusing it.
    #[serde(default)]
    pub fake: Vec<Fake>,
    /// The same exercise on the Rust side, if it has one (`repro exercise
    /// --runtime rust`): the learner edits a copy of the scenario's
    /// `lib.rs`, built as a small crate.
    #[serde(default)]
    pub rust: Option<RustExercise>,
}

/// `[exercise.rust]`: a Rust exercise. Its facts come from the Rust side
/// of the witness ([`crate::witness`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RustExercise {
    /// The Rust variant whose code path the learner fixes.
    pub variant: String,
    /// What the run must still do, as seen by the witness.
    pub witness: Vec<crate::witness::Rule>,
    /// What shows the bug still happening, as seen by the witness.
    #[serde(default)]
    pub symptom: Vec<crate::witness::Rule>,
    /// A nudge.
    pub hint: String,
    /// One real fix, as an edit of the copy of `lib.rs`.
    pub answer: Answer,
    /// Fake fixes `repro check` must refuse.
    #[serde(default)]
    pub fake: Vec<Fake>,
}

/// An edit of a learner's copy: the first `from` becomes `to`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    /// Text of the pristine module.
    pub from: String,
    /// What it becomes.
    pub to: String,
}

/// A fake fix: an edit of the copy that `repro check` must refuse.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fake {
    /// What the edit does, in a few words (for the test's messages).
    pub does: String,
    /// Text of the pristine module.
    pub from: String,
    /// What it becomes.
    pub to: String,
    /// A substring of the check's refusal (the step it names).
    pub refused: String,
}

fn check_exercise(
    key: &str,
    witness: &[crate::witness::Rule],
    symptom: &[crate::witness::Rule],
    fakes: &[Fake],
) -> Result<(), String> {
    crate::witness::check_rules(&format!("{key}.witness"), witness)?;
    crate::witness::check_rules(&format!("{key}.symptom"), symptom)?;
    if witness.is_empty() {
        return Err(format!(
            "key `{key}.witness`: an exercise needs at least one rule"
        ));
    }
    if fakes.len() < 2 {
        return Err(format!(
            "key `{key}.fake`: an exercise needs at least 2 fake fixes that `repro check` \
             must refuse, found {}",
            fakes.len()
        ));
    }
    Ok(())
}

/// One variant of a scenario.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantSpec {
    /// `broken`, `fixed`, or a named alternative.
    pub id: String,
    /// The runtimes that implement it.
    pub runtimes: Vec<Runtime>,
    /// The verdict it must give (unless a `when` says otherwise):
    /// `misbehaved`, `behaved`, `crashed` (the point is that the process
    /// dies) or `skipped`.
    pub expect: Verdict,
    /// The symptom it must show when it misbehaves.
    #[serde(default)]
    pub symptom: Option<String>,
    /// What this variant does, in one line.
    pub about: String,
    /// Overrides by runtime and interpreter version; the first match wins.
    #[serde(default)]
    pub when: Vec<Override>,
}

/// An expectation that holds only for some runtimes or interpreters.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    /// Only for this runtime.
    #[serde(default)]
    pub runtime: Option<Runtime>,
    /// Only for interpreter versions matching this, e.g. `>=3.8,<3.12`
    /// (the language version: PyPy 7.3.11 implements 3.9.16).
    #[serde(default)]
    pub python: Option<String>,
    /// Only for this implementation (`CPython`, `PyPy`; any case).
    #[serde(default)]
    pub implementation: Option<String>,
    /// Only for free-threaded builds (`true`) or builds with a GIL (`false`).
    #[serde(default)]
    pub free_threaded: Option<bool>,
    /// Only on kernels whose release matches this range, e.g. `>=6.6` or
    /// `>=5.10,<6.1` (compared on `uname -r`'s numbers: `6.1.0-57-amd64` is
    /// 6.1.0, `6.12.118+deb13-amd64` is 6.12.118). It holds for every
    /// runtime, the rust one included.
    #[serde(default)]
    pub kernel: Option<String>,
    /// The verdict in that case: `misbehaved`, `behaved`, or `skipped` (the
    /// case cannot run there, e.g. an API that interpreter lacks).
    pub expect: Verdict,
    /// The symptom in that case.
    #[serde(default)]
    pub symptom: Option<String>,
    /// Why: the upstream change, with its link (an `https://` URL is
    /// required: an expectation that changes without a reference is a guess).
    pub because: String,
}

/// A `scenario.toml` that cannot be used. The message names the file.
#[derive(Debug)]
pub struct SpecError {
    /// The file it came from.
    pub path: String,
    /// What is wrong, with line and key where the parser knows them.
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message.trim_end())
    }
}

impl std::error::Error for SpecError {}

impl Spec {
    /// Parses and checks a `scenario.toml`.
    ///
    /// # Errors
    /// A [`SpecError`] naming `path` and, for syntax and type errors, the
    /// line and key (from the TOML parser).
    pub fn parse(path: &str, text: &str) -> Result<Spec, SpecError> {
        let at_line = |line: Option<usize>, message: String| SpecError {
            path: match line {
                Some(n) => format!("{path}:{n}"),
                None => path.to_owned(),
            },
            message,
        };
        let spec: Spec = toml::from_str(text).map_err(|e| {
            let Some(span) = e.span() else {
                return at_line(None, e.message().to_owned());
            };
            let line = text[..span.start].matches('\n').count() + 1;
            // The key, from the line the parser points at (`key = value`).
            let source = text.lines().nth(line - 1).unwrap_or("");
            let key = source
                .split_once('=')
                .map(|(k, _)| k.trim())
                .filter(|k| !k.is_empty() && !k.starts_with('['));
            let message = match key {
                Some(k) => format!("key `{k}`: {}", e.message()),
                None => e.message().to_owned(),
            };
            at_line(Some(line), format!("{message}\n    {}", source.trim()))
        })?;
        spec.check().map_err(|message| {
            // A variant's problem: the line of its `id`.
            let line = spec.variants.iter().find_map(|v| {
                message
                    .starts_with(&format!("variant `{}`", v.id))
                    .then(|| {
                        let id_line = format!("id = \"{}\"", v.id);
                        text.lines()
                            .position(|l| l.trim() == id_line)
                            .map(|i| i + 1)
                    })?
            });
            at_line(line, message)
        })?;
        Ok(spec)
    }

    fn check(&self) -> Result<(), String> {
        if !is_kebab_id(&self.id) {
            return Err(format!("key `id`: {:?} is not a kebab-case id", self.id));
        }
        let mut seen = std::collections::HashSet::new();
        for v in &self.variants {
            let at = format!("variant `{}`", v.id);
            if !is_kebab_id(&v.id) || !seen.insert(&v.id) {
                return Err(format!("{at}: not a unique kebab-case id"));
            }
            if v.runtimes.is_empty() {
                return Err(format!("{at}: key `runtimes` is empty"));
            }
            check_expectation(&at, v.expect, v.symptom.as_deref())?;
            if !v.class().allows(v.expect) {
                return Err(format!(
                    "{at}: key `expect`: a {} variant must {} by default, not be {}; \
                     where upstream changed that, say so in a [[variant.when]] that cites \
                     the change",
                    v.class().name(),
                    v.class().must(),
                    v.expect
                ));
            }
            for o in &v.when {
                check_expectation(&at, o.expect, o.symptom.as_deref())?;
                check_reference(&at, v.class(), o)?;
                if let Some(range) = &o.python {
                    VersionRange::parse(range).map_err(|e| format!("{at}: key `python`: {e}"))?;
                }
                if let Some(range) = &o.kernel {
                    VersionRange::parse(range).map_err(|e| format!("{at}: key `kernel`: {e}"))?;
                }
            }
        }
        if self.variants.is_empty() {
            return Err("no [[variant]] tables".into());
        }
        let shows = self.trace.iter().map(|s| ("trace", s)).chain(
            self.strace
                .iter()
                .flat_map(|t| t.show.iter().map(|s| ("strace.show", s))),
        );
        for (key, s) in shows {
            let known = self
                .variant(&s.variant)
                .is_some_and(|v| v.runtimes.contains(&s.runtime));
            if !known || s.shows.is_empty() {
                return Err(format!(
                    "key `{key}`: {} / {} is not a case of this scenario, or shows nothing",
                    s.variant, s.runtime
                ));
            }
        }
        if let Some(ex) = &self.exercise {
            check_exercise("exercise", &ex.witness, &ex.symptom, &ex.fake)?;
            if let Some(rust) = &ex.rust {
                check_exercise("exercise.rust", &rust.witness, &rust.symptom, &rust.fake)?;
                let known = self
                    .variant(&rust.variant)
                    .is_some_and(|v| v.runtimes.contains(&Runtime::Rust));
                if !known {
                    return Err(format!(
                        "key `exercise.rust`: {:?} is not a rust variant of this scenario",
                        rust.variant
                    ));
                }
            }
        }
        if let Some(url) = &self.story.url {
            let found = links(url);
            if found.len() != 1 || found[0] != url.trim() || placeholder(url) {
                return Err(format!(
                    "key `story`: `url` must be the story's own https:// address, got {url:?}"
                ));
            }
        }
        Ok(())
    }

    /// The variant with this id.
    pub fn variant(&self, id: &str) -> Option<&VariantSpec> {
        self.variants.iter().find(|v| v.id == id)
    }

    /// The variants a runtime implements, in file order.
    pub fn variants_for(&self, runtime: Runtime) -> impl Iterator<Item = &VariantSpec> {
        self.variants
            .iter()
            .filter(move |v| v.runtimes.contains(&runtime))
    }
}

/// What a variant's id promises: `broken*` shows the bug, `fixed*` does
/// not; any other id promises nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// `broken`, `broken-…`: misbehaves (or, where that is the point,
    /// crashes).
    Broken,
    /// `fixed`, `fixed-…`: behaves.
    Fixed,
    /// Anything else (the supervisor's own fixtures).
    Other,
}

impl Class {
    fn of(id: &str) -> Class {
        let is = |stem: &str| id == stem || id.starts_with(&format!("{stem}-"));
        if is("broken") {
            Class::Broken
        } else if is("fixed") {
            Class::Fixed
        } else {
            Class::Other
        }
    }

    /// Whether an expectation keeps the promise.
    pub fn allows(self, expect: Verdict) -> bool {
        match self {
            Class::Broken => matches!(expect, Verdict::Misbehaved | Verdict::Crashed),
            Class::Fixed => expect == Verdict::Behaved,
            Class::Other => true,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Class::Broken => "broken",
            Class::Fixed => "fixed",
            Class::Other => "other",
        }
    }

    fn must(self) -> &'static str {
        match self {
            Class::Broken => "misbehave (or crash)",
            Class::Fixed => "behave",
            Class::Other => "do anything",
        }
    }
}

/// The `https://` links in a text, without trailing punctuation.
fn links(text: &str) -> Vec<&str> {
    text.match_indices("https://")
        .map(|(at, _)| {
            let rest = &text[at..];
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            rest[..end].trim_end_matches(['.', ',', ';', ':', ')', '"', '\''])
        })
        .collect()
}

/// A link's host, lower-case: `bugs.python.org`.
fn host(link: &str) -> String {
    let rest = link.trim_start_matches("https://");
    rest.split(['/', '?', '#'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// A host reserved for examples (RFC 2606, RFC 6761): nothing upstream.
fn placeholder(link: &str) -> bool {
    let host = host(link);
    let host = host.trim_end_matches('.');
    ["example.com", "example.org", "example.net", "localhost"]
        .iter()
        .any(|h| host == *h || host.ends_with(&format!(".{h}")))
        || [".example", ".test", ".invalid", ".localhost"]
            .iter()
            .any(|tld| host.ends_with(tld))
        || host.is_empty()
}

/// A link to one upstream change: an issue, a pull or merge request, a
/// commit, or a PEP (not a page of docs, not a project's home).
pub fn names_a_change(link: &str) -> bool {
    let host = host(link);
    let rest = link.trim_start_matches("https://");
    let path = rest.find('/').map_or("", |at| &rest[at..]);
    let number_after = |marker: &str| {
        path.split_once(marker)
            .is_some_and(|(_, rest)| rest.chars().next().is_some_and(|c| c.is_ascii_digit()))
    };
    let hex_after = |marker: &str| {
        path.split_once(marker)
            .is_some_and(|(_, rest)| rest.chars().take_while(char::is_ascii_hexdigit).count() >= 7)
    };
    !placeholder(link)
        && (number_after("/issues/")
            || number_after("/pull/")
            || number_after("/merge_requests/")
            || hex_after("/commit/")
            || hex_after("/commits/")
            || hex_after("commit/?id=")
            || (host == "git.kernel.org" && hex_after("/linus/"))
            || hex_after("/rev/")
            || (host == "bugs.python.org" && number_after("issue"))
            || (host == "peps.python.org" && number_after("pep-"))
            || (host.starts_with("bugzilla.") && number_after("show_bug.cgi?id="))
            || (host == "lore.kernel.org" && path.contains('@')))
}

/// An override's `because`: a link, never a placeholder; and when the
/// override breaks its variant's promise (a broken variant that behaves, a
/// fixed one that misbehaves or skips), a link to the upstream change.
fn check_reference(at: &str, class: Class, o: &Override) -> Result<(), String> {
    let found = links(&o.because);
    if found.is_empty() {
        return Err(format!(
            "{at}: key `because`: an override must link the upstream change that explains it \
             (an https:// URL), got {:?}",
            o.because
        ));
    }
    if let Some(fake) = found.iter().find(|l| placeholder(l)) {
        return Err(format!(
            "{at}: key `because`: {fake} is a placeholder, not an upstream reference"
        ));
    }
    if !class.allows(o.expect) && !found.iter().any(|l| names_a_change(l)) {
        return Err(format!(
            "{at}: key `because`: an override that lets a {} variant be {} must cite the \
             upstream change (an issue, pull request, commit or PEP), got {:?}",
            class.name(),
            o.expect,
            o.because
        ));
    }
    Ok(())
}

fn check_expectation(at: &str, expect: Verdict, symptom: Option<&str>) -> Result<(), String> {
    match (expect, symptom) {
        (Verdict::Misbehaved, None) => Err(format!("{at}: key `symptom` missing for misbehaved")),
        (Verdict::Misbehaved, Some(s)) if !is_kebab_id(s) => {
            Err(format!("{at}: key `symptom`: {s:?} is not a kebab-case id"))
        }
        (Verdict::Misbehaved, _) => Ok(()),
        (other @ (Verdict::Behaved | Verdict::Crashed | Verdict::Skipped), Some(_)) => {
            Err(format!("{at}: key `symptom` given for {other}"))
        }
        // crashed: the variant's point is that the process dies (an abort);
        // skipped: it cannot run there (an API the interpreter lacks).
        (Verdict::Behaved | Verdict::Crashed | Verdict::Skipped, None) => Ok(()),
        (other @ (Verdict::Hung | Verdict::Error), _) => Err(format!(
            "{at}: key `expect`: {other} is never an expectation (it means the case could not run)"
        )),
    }
}

impl VariantSpec {
    /// What its id promises.
    pub fn class(&self) -> Class {
        Class::of(&self.id)
    }

    /// Its runtimes' ids, in the usual order (`rust, python, embedded`).
    pub fn runtime_names(&self) -> Vec<&'static str> {
        Runtime::ALL
            .iter()
            .filter(|r| self.runtimes.contains(r))
            .map(|r| r.as_str())
            .collect()
    }

    /// Its default expectation, as people read it: `misbehaved (symptom)`.
    pub fn expect_text(&self) -> String {
        match &self.symptom {
            Some(s) => format!("{} ({s})", self.expect),
            None => self.expect.to_string(),
        }
    }

    /// What this variant must do on `runtime`, with `python` the interpreter
    /// for the Python runtimes, on the running kernel (a case runs on the
    /// kernel of the machine that runs it: a guest's, under `repro
    /// kernels`). An override keyed by the interpreter never matches a case
    /// without one (the rust runtime).
    pub fn expected(&self, runtime: Runtime, python: Option<&Interpreter>) -> Expected {
        static KERNEL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let kernel = KERNEL.get_or_init(crate::sys::kernel_release);
        self.expected_on(runtime, python, kernel)
    }

    /// [`Self::expected`] on the kernel of release `kernel` (`uname -r`).
    pub fn expected_on(
        &self,
        runtime: Runtime,
        python: Option<&Interpreter>,
        kernel: &str,
    ) -> Expected {
        let hit = self.when.iter().find(|o| {
            let on_kernel = o
                .kernel
                .as_ref()
                .is_none_or(|range| VersionRange::parse(range).is_ok_and(|r| r.contains(kernel)));
            let version = o.python.as_ref().is_none_or(|range| {
                python.is_some_and(|p| {
                    VersionRange::parse(range).is_ok_and(|r| r.contains(&p.version))
                })
            });
            let implementation = o.implementation.as_ref().is_none_or(|want| {
                python.is_some_and(|p| p.implementation.eq_ignore_ascii_case(want))
            });
            let free_threaded = o
                .free_threaded
                .is_none_or(|want| python.is_some_and(|p| p.free_threaded == want));
            o.runtime.is_none_or(|r| r == runtime)
                && version
                && implementation
                && free_threaded
                && on_kernel
        });
        match hit {
            Some(o) => Expected {
                verdict: o.expect,
                symptom: o.symptom.clone(),
            },
            None => Expected {
                verdict: self.expect,
                symptom: self.symptom.clone(),
            },
        }
    }
}

/// The interpreter a case ran on, as far as expectations care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpreter {
    /// The language version, `major.minor.micro`.
    pub version: String,
    /// `CPython`, `PyPy`.
    pub implementation: String,
    /// A free-threaded (`--disable-gil`) build.
    pub free_threaded: bool,
}

impl Interpreter {
    /// A CPython with a GIL, of this version.
    pub fn cpython(version: &str) -> Self {
        Interpreter {
            version: version.to_owned(),
            implementation: "CPython".to_owned(),
            free_threaded: false,
        }
    }

    /// How the canary labels its column: `py3.14.10`, `py3.13.5t`,
    /// `pypy3.11.17`.
    pub fn label(&self) -> String {
        let t = if self.free_threaded { "t" } else { "" };
        match self.implementation.as_str() {
            "CPython" => format!("py{}{t}", self.version),
            other => format!("{}{}{t}", other.to_lowercase(), self.version),
        }
    }
}

/// A conjunction of version bounds: `>=3.8,<3.12`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRange(Vec<(Cmp, Vec<u32>)>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
}

/// Parses `3.11.7` (or `3.13.0rc1`: the pre-release tail is ignored).
pub fn parse_version(v: &str) -> Option<Vec<u32>> {
    v.trim()
        .split('.')
        .map(|part| {
            let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect()
}

impl VersionRange {
    /// Parses a comma-separated list of `<`, `<=`, `>`, `>=`, `==` bounds.
    ///
    /// # Errors
    /// A message naming the bound that does not parse.
    pub fn parse(s: &str) -> Result<VersionRange, String> {
        s.split(',')
            .map(|bound| {
                let bound = bound.trim();
                let (cmp, rest) = [
                    ("<=", Cmp::Le),
                    (">=", Cmp::Ge),
                    ("==", Cmp::Eq),
                    ("<", Cmp::Lt),
                    (">", Cmp::Gt),
                ]
                .into_iter()
                .find_map(|(op, cmp)| bound.strip_prefix(op).map(|rest| (cmp, rest)))
                .ok_or_else(|| format!("bound {bound:?} must start with <, <=, >, >= or =="))?;
                let version =
                    parse_version(rest).ok_or_else(|| format!("bound {bound:?}: bad version"))?;
                Ok((cmp, version))
            })
            .collect::<Result<_, _>>()
            .map(VersionRange)
    }

    /// Whether version `v` satisfies every bound. Versions compare on the
    /// components the bound gives: `3.12.1` is `==3.12` and `<3.13`.
    pub fn contains(&self, v: &str) -> bool {
        let Some(v) = parse_version(v) else {
            return false;
        };
        self.0.iter().all(|(cmp, bound)| {
            let n = bound.len().min(v.len());
            let ord = v[..n].cmp(&bound[..n]);
            match cmp {
                Cmp::Lt => ord.is_lt(),
                Cmp::Le => ord.is_le(),
                Cmp::Gt => ord.is_gt(),
                Cmp::Ge => ord.is_ge(),
                Cmp::Eq => ord.is_eq(),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r#"
id = "demo"
title = "t"
story = { title = "t", by = "b", url = "https://blog.sample.org/t" }
summary = "s"
fix = "f"

[[variant]]
id = "broken"
runtimes = ["rust", "python"]
expect = "misbehaved"
symptom = "boom"
about = "a"

[[variant.when]]
python = ">=3.12"
expect = "behaved"
because = "fixed upstream: https://github.com/python/cpython/issues/1"

[[variant.when]]
runtime = "rust"
expect = "misbehaved"
symptom = "rust-boom"
because = "rust says it differently: https://docs.rs/x"

[[variant]]
id = "fixed"
runtimes = ["python"]
expect = "behaved"
about = "b"
"#;

    #[test]
    fn overrides_first_match_wins() {
        let spec = Spec::parse("demo.toml", SPEC).unwrap();
        let broken = spec.variant("broken").unwrap();
        let e = |rt, py: Option<&str>| broken.expected(rt, py.map(Interpreter::cpython).as_ref());
        assert_eq!(
            e(Runtime::Python, Some("3.11.7")).verdict,
            Verdict::Misbehaved
        );
        assert_eq!(e(Runtime::Python, Some("3.12.1")).verdict, Verdict::Behaved);
        assert_eq!(e(Runtime::Rust, None).symptom.as_deref(), Some("rust-boom"));
        assert_eq!(spec.variants_for(Runtime::Rust).count(), 1);
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let bad = SPEC.replace(
            "expect = \"behaved\"\nabout = \"b\"",
            "expect = \"sideways\"",
        );
        let msg = Spec::parse("crates/demo/scenario.toml", &bad)
            .unwrap_err()
            .to_string();
        let line = bad[..bad.find("sideways").unwrap()].lines().count();
        let at = format!("crates/demo/scenario.toml:{line}: key `expect`: ");
        assert!(msg.starts_with(&at), "{msg}");
        assert!(msg.contains("sideways"), "{msg}");
    }

    #[test]
    fn rejects_inconsistent_expectations() {
        let bad = SPEC.replace("symptom = \"boom\"\n", "");
        let msg = Spec::parse("x.toml", &bad).unwrap_err().to_string();
        assert!(
            msg.contains("variant `broken`: key `symptom` missing"),
            "{msg}"
        );
        // The line of that variant's id.
        let line = bad.lines().position(|l| l == "id = \"broken\"").unwrap() + 1;
        assert!(msg.starts_with(&format!("x.toml:{line}: ")), "{msg}");
    }

    #[test]
    fn an_override_without_an_upstream_link_is_refused() {
        let bad = SPEC.replace(
            "fixed upstream: https://github.com/python/cpython/issues/1",
            "trust me",
        );
        let msg = Spec::parse("x.toml", &bad).unwrap_err().to_string();
        assert!(
            msg.contains("key `because`") && msg.contains("trust me"),
            "{msg}"
        );
    }

    /// The line of `id = "<variant>"` in `text`.
    fn id_line(text: &str, variant: &str) -> usize {
        let id = format!("id = \"{variant}\"");
        text.lines().position(|l| l == id).unwrap() + 1
    }

    #[test]
    fn a_placeholder_reference_is_refused_with_file_and_line() {
        for (from, to) in [
            (
                "https://github.com/python/cpython/issues/1",
                "https://example.org/issue/1",
            ),
            ("https://docs.rs/x", "https://www.example.com/x"),
            ("https://docs.rs/x", "https://upstream.test/x"),
        ] {
            let bad = SPEC.replace(from, to);
            let msg = Spec::parse("x.toml", &bad).unwrap_err().to_string();
            let line = id_line(&bad, "broken");
            assert!(msg.starts_with(&format!("x.toml:{line}: ")), "{msg}");
            assert!(msg.contains("is a placeholder"), "{msg}");
        }
    }

    #[test]
    fn a_broken_variant_that_behaves_by_default_is_refused() {
        let bad = SPEC.replace(
            "expect = \"misbehaved\"\nsymptom = \"boom\"\nabout = \"a\"",
            "expect = \"behaved\"\nabout = \"a\"",
        );
        let msg = Spec::parse("x.toml", &bad).unwrap_err().to_string();
        let line = id_line(&bad, "broken");
        assert!(
            msg.starts_with(&format!(
                "x.toml:{line}: variant `broken`: key `expect`: a broken variant must misbehave"
            )),
            "{msg}"
        );
        // And a fixed one that misbehaves, or skips, by default.
        for expect in [
            "expect = \"misbehaved\"\nsymptom = \"x\"",
            "expect = \"skipped\"",
        ] {
            let bad = SPEC.replace(
                "expect = \"behaved\"\nabout = \"b\"",
                &format!("{expect}\nabout = \"b\""),
            );
            let msg = Spec::parse("x.toml", &bad).unwrap_err().to_string();
            let line = id_line(&bad, "fixed");
            assert!(
                msg.starts_with(&format!(
                    "x.toml:{line}: variant `fixed`: key `expect`: a fixed variant must behave"
                )),
                "{msg}"
            );
        }
    }

    #[test]
    fn breaking_the_promise_needs_an_upstream_change() {
        // The broken variant behaves from 3.12: a docs page is not enough.
        let bad = SPEC.replace(
            "https://github.com/python/cpython/issues/1",
            "https://docs.python.org/3/library/os.html",
        );
        let msg = Spec::parse("x.toml", &bad).unwrap_err().to_string();
        assert!(msg.contains("must cite the upstream change"), "{msg}");
        // Keeping the promise (misbehaving, another symptom) needs only a link.
        assert!(Spec::parse("x.toml", SPEC).is_ok());
    }

    #[test]
    fn what_names_a_change() {
        for yes in [
            "https://github.com/python/cpython/issues/66285",
            "https://github.com/python/cpython/pull/99539",
            "https://github.com/python/cpython/commit/8a0d9a6bb77a",
            "https://bugs.python.org/issue6721",
            "https://peps.python.org/pep-0703/",
            "https://git.kernel.org/linus/0123456789ab",
            "https://gitlab.gnome.org/GNOME/glib/-/merge_requests/12",
            "https://bugzilla.redhat.com/show_bug.cgi?id=123",
        ] {
            assert!(names_a_change(yes), "{yes}");
        }
        for no in [
            "https://docs.python.org/3/library/os.html#os.register_at_fork",
            "https://github.com/python/cpython",
            "https://github.com/python/cpython/issues/",
            "https://example.org/issues/1",
            "https://github.com/python/cpython/commit/abc",
        ] {
            assert!(!names_a_change(no), "{no}");
        }
    }

    #[test]
    fn overrides_by_implementation_and_free_threading() {
        let text = SPEC.replace(
            "[[variant.when]]\npython = \">=3.12\"",
            "[[variant.when]]\nimplementation = \"pypy\"\nexpect = \"skipped\"\n\
             because = \"no wheel: https://github.com/gevent/gevent/issues/1798\"\n\n\
             [[variant.when]]\nfree_threaded = true\npython = \">=3.13\"\n\
             expect = \"skipped\"\nbecause = \"no support: https://github.com/gevent/gevent/issues/2127\"\n\n\
             [[variant.when]]\npython = \">=3.12\"",
        );
        let spec = Spec::parse("demo.toml", &text).unwrap();
        let broken = spec.variant("broken").unwrap();
        let at = |implementation: &str, version: &str, free_threaded| {
            let i = Interpreter {
                version: version.into(),
                implementation: implementation.into(),
                free_threaded,
            };
            broken.expected(Runtime::Python, Some(&i)).verdict
        };
        // Case-insensitive implementation; whatever the version.
        assert_eq!(at("PyPy", "3.9.16", false), Verdict::Skipped);
        assert_eq!(at("CPython", "3.9.18", false), Verdict::Misbehaved);
        // Free-threading and version together.
        assert_eq!(at("CPython", "3.13.5", true), Verdict::Skipped);
        assert_eq!(at("CPython", "3.13.0", false), Verdict::Behaved);
        assert_eq!(at("CPython", "3.11.7", true), Verdict::Misbehaved);
        // Keyed by the interpreter: never the rust runtime's.
        assert_eq!(
            broken.expected(Runtime::Rust, None).symptom.as_deref(),
            Some("rust-boom")
        );
    }

    #[test]
    fn overrides_by_kernel_range() {
        let text = SPEC.replace(
            "[[variant.when]]\npython = \">=3.12\"",
            "[[variant.when]]\nkernel = \">=5.10,<6.1\"\nexpect = \"behaved\"\n\
             because = \"a kernel change: https://git.kernel.org/linus/0123456789ab\"\n\n\
             [[variant.when]]\npython = \">=3.12\"",
        );
        let spec = Spec::parse("demo.toml", &text).unwrap();
        let broken = spec.variant("broken").unwrap();
        let on = |kernel| broken.expected_on(Runtime::Rust, None, kernel).verdict;
        // Every runtime, the rust one included; on uname -r's numbers.
        assert_eq!(on("5.10.0-46-amd64"), Verdict::Behaved);
        assert_eq!(on("6.0.19"), Verdict::Behaved);
        assert_eq!(on("6.1.0-57-amd64"), Verdict::Misbehaved);
        assert_eq!(on("6.12.118+deb13-amd64"), Verdict::Misbehaved);
        assert_eq!(on("4.19.0-27-amd64"), Verdict::Misbehaved);
        // A range that does not parse is a load error naming the key.
        let bad = text.replace("kernel = \">=5.10,<6.1\"", "kernel = \"5.10\"");
        let msg = Spec::parse("demo.toml", &bad).unwrap_err().to_string();
        assert!(msg.contains("key `kernel`"), "{msg}");
    }

    #[test]
    fn column_labels_name_implementation_and_free_threading() {
        let mut i = Interpreter::cpython("3.14.10");
        assert_eq!(i.label(), "py3.14.10");
        i.free_threaded = true;
        assert_eq!(i.label(), "py3.14.10t");
        i.implementation = "PyPy".into();
        i.free_threaded = false;
        assert_eq!(i.label(), "pypy3.14.10");
    }

    #[test]
    fn version_ranges() {
        let r = VersionRange::parse(">=3.8, <3.12").unwrap();
        assert!(r.contains("3.8.18") && r.contains("3.11.7"));
        assert!(!r.contains("3.12.1") && !r.contains("3.7.16"));
        assert!(VersionRange::parse("==3.13").unwrap().contains("3.13.0rc1"));
        assert!(VersionRange::parse("~3").is_err());
    }
}
