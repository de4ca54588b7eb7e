//! What `repro check` believes about a learner's copy: the facts the
//! witness (`pyrepro/witness.py`, which the copy does not contain) wrote
//! while the copy ran, held to the scenario's `[[exercise.witness]]` and
//! `[[exercise.symptom]]` rules.
//!
//! A fact is one JSON object per line: `fact` (its kind), `pid`, `who`
//! (`parent` or `child`) and fields of its kind. A rule is met by the first
//! fact of its kind whose fields hold every value the rule's `with` gives,
//! and, with `after`, that comes after the fact that met the rule so named.
//! The facts are in the order they were written (one file, `O_APPEND`), so
//! "after" is real order, across processes.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The kinds of fact the witness writes (a rule naming another is a load
/// error, not a rule that can never be met).
pub const KINDS: &[&str] = &[
    "fork",
    "child",
    "lock-acquire",
    "signal",
    "handler-ran",
    "wakeup-fd",
    "kill",
    "spawn",
    "epoll-register",
    "epoll-poll",
    "gc",
    "switch",
];

/// The kind the witness writes when the copy took one of its wrappers away.
pub const TAMPERED: &str = "tampered";

/// One thing the run must show, as the witness saw it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// A name, for another rule's `after`.
    #[serde(default)]
    pub id: Option<String>,
    /// The kind of fact (one of [`KINDS`]).
    pub fact: String,
    /// Field values the fact must have (`who = "child"`, `signum = 15`).
    #[serde(default)]
    pub with: BTreeMap<String, Value>,
    /// Only a fact written after the one that met this rule (its `id`).
    #[serde(default)]
    pub after: Option<String>,
    /// What it means, for the learner: "the child takes LOCK".
    pub says: String,
}

/// Checks a list of rules: known kinds, `after` naming an earlier rule.
///
/// # Errors
/// The first problem, naming the rule.
pub fn check_rules(key: &str, rules: &[Rule]) -> Result<(), String> {
    for (i, r) in rules.iter().enumerate() {
        if !KINDS.contains(&r.fact.as_str()) {
            return Err(format!(
                "key `{key}`: fact {:?} is not one the witness writes (known: {})",
                r.fact,
                KINDS.join(", ")
            ));
        }
        if let Some(after) = &r.after {
            if !rules[..i].iter().any(|e| e.id.as_deref() == Some(after)) {
                return Err(format!(
                    "key `{key}`: `after = {after:?}` names no earlier rule's id"
                ));
            }
        }
    }
    Ok(())
}

/// Parses the witness's file: one JSON object per line.
///
/// # Errors
/// A line that is not a JSON object with a `fact`.
pub fn parse(text: &str) -> Result<Vec<Map<String, Value>>, String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| match serde_json::from_str::<Value>(l) {
            Ok(Value::Object(m)) if m.get("fact").is_some_and(Value::is_string) => Ok(m),
            _ => Err(format!("witness line {}: not a fact: {l:?}", i + 1)),
        })
        .collect()
}

/// For each rule, the index of the fact that met it, or None.
#[must_use]
pub fn meet(rules: &[Rule], facts: &[Map<String, Value>]) -> Vec<Option<usize>> {
    let mut met: Vec<Option<usize>> = Vec::with_capacity(rules.len());
    for r in rules {
        let from = match &r.after {
            None => Some(0),
            Some(after) => rules
                .iter()
                .zip(&met)
                .find(|(e, _)| e.id.as_deref() == Some(after))
                .and_then(|(_, at)| at.map(|at| at + 1)),
        };
        let found = from.and_then(|from| {
            facts
                .iter()
                .enumerate()
                .skip(from)
                .find(|(_, f)| matches(r, f))
                .map(|(i, _)| i)
        });
        met.push(found);
    }
    met
}

fn matches(rule: &Rule, fact: &Map<String, Value>) -> bool {
    fact.get("fact").and_then(Value::as_str) == Some(rule.fact.as_str())
        && rule
            .with
            .iter()
            .all(|(k, want)| fact.get(k).is_some_and(|got| same(got, want)))
}

/// JSON equality, with numbers compared by value (TOML's `15` and
/// Python's `15` may arrive as different number kinds).
fn same(got: &Value, want: &Value) -> bool {
    match (got.as_f64(), want.as_f64()) {
        (Some(a), Some(b)) => a == b,
        _ => got == want,
    }
}

/// What the copy took away from the witness (its `tampered` facts).
#[must_use]
pub fn tampered(facts: &[Map<String, Value>]) -> Vec<String> {
    facts
        .iter()
        .filter(|f| f.get("fact").and_then(Value::as_str) == Some(TAMPERED))
        .flat_map(|f| {
            f.get("what")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|w| w.as_str().unwrap_or("?").to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(toml_text: &str) -> Rule {
        toml::from_str(toml_text).unwrap()
    }

    fn facts(lines: &str) -> Vec<Map<String, Value>> {
        parse(lines).unwrap()
    }

    const RUN: &str = r#"
{"fact": "fork", "pid": 1, "who": "parent", "held": ["LOCK"]}
{"fact": "epoll-register", "pid": 2, "who": "child", "inherited": true}
{"fact": "lock-acquire", "pid": 2, "who": "child", "lock": "LOCK", "thread": "main"}
{"fact": "epoll-poll", "pid": 1, "who": "parent", "foreign": true}
{"fact": "kill", "pid": 1, "who": "parent", "signum": 15, "target_is_child": true}
"#;

    #[test]
    fn a_rule_is_met_by_a_fact_with_every_value_it_names() {
        let f = facts(RUN);
        let child_lock =
            rule("fact = 'lock-acquire'\nwith = { who = 'child', lock = 'LOCK' }\nsays = 'x'");
        let parent_lock = rule("fact = 'lock-acquire'\nwith = { who = 'parent' }\nsays = 'x'");
        let sigterm = rule("fact = 'kill'\nwith = { signum = 15.0 }\nsays = 'x'");
        let sigkill = rule("fact = 'kill'\nwith = { signum = 9 }\nsays = 'x'");
        let absent_field = rule("fact = 'fork'\nwith = { threads = 2 }\nsays = 'x'");
        assert_eq!(
            meet(
                &[child_lock, parent_lock, sigterm, sigkill, absent_field],
                &f
            ),
            vec![Some(2), None, Some(4), None, None]
        );
    }

    #[test]
    fn after_means_later_in_the_file() {
        let f = facts(RUN);
        let reg = rule("id = 'reg'\nfact = 'epoll-register'\nsays = 'x'");
        let poll_after = rule("fact = 'epoll-poll'\nafter = 'reg'\nsays = 'x'");
        let fork_after = rule("fact = 'fork'\nafter = 'reg'\nsays = 'x'");
        assert_eq!(
            meet(&[reg.clone(), poll_after, fork_after], &f),
            vec![Some(1), Some(3), None]
        );
        // Unmet, so nothing can come after it.
        let never = rule("id = 'reg'\nfact = 'spawn'\nsays = 'x'");
        let poll_after = rule("fact = 'epoll-poll'\nafter = 'reg'\nsays = 'x'");
        assert_eq!(meet(&[never, poll_after], &f), vec![None, None]);
    }

    #[test]
    fn rules_are_checked_on_load() {
        let typo = rule("fact = 'forks'\nsays = 'x'");
        assert!(check_rules("w", &[typo]).unwrap_err().contains("\"forks\""));
        let dangling = rule("fact = 'fork'\nafter = 'nope'\nsays = 'x'");
        assert!(check_rules("w", &[dangling]).unwrap_err().contains("nope"));
        let ok = [
            rule("id = 'a'\nfact = 'fork'\nsays = 'x'"),
            rule("fact = 'child'\nafter = 'a'\nsays = 'x'"),
        ];
        assert_eq!(check_rules("w", &ok), Ok(()));
    }

    #[test]
    fn garbage_is_an_error_and_tampering_is_reported() {
        assert!(parse("{\"fact\": \"fork\"}\nnot json\n").is_err());
        assert!(parse("[1, 2]\n").is_err());
        let f = facts("{\"fact\": \"tampered\", \"what\": [\"select.epoll\", \"gc.callbacks\"]}\n");
        assert_eq!(tampered(&f), vec!["select.epoll", "gc.callbacks"]);
        assert!(tampered(&facts(RUN)).is_empty());
    }
}
