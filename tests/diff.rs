//! `repro diff`: every fix of every scenario, as a diff extracted from the
//! real source, in each runtime.

use crate::util::{each_scenario, repro, spec};
use harness::record::Runtime;

#[test]
fn every_fix_has_a_diff_that_shows_it() {
    each_scenario(fixes_have_diffs);
}

fn fixes_have_diffs(id: &str) {
    let spec = spec(id);
    for rt in Runtime::ALL {
        for v in spec.variants_for(rt).filter(|v| v.id.starts_with("fixed")) {
            let ran = repro(&["diff", id, "--runtime", rt.as_str(), "--variant", &v.id]);
            assert_eq!(ran.code(), Some(0), "{}", ran.show());
            let out = ran.stdout();
            let lines: Vec<&str> = out.lines().collect();
            assert!(lines[0].starts_with("--- broken"), "{}", ran.show());
            assert!(
                lines[1].starts_with(&format!("+++ {} ({rt}, ", v.id)),
                "{}",
                ran.show()
            );
            assert!(lines[2].starts_with("@@ "), "{}", ran.show());
            // The added lines carry the fix: its FIX comment, or the
            // switch to the spawn start method.
            let added: Vec<&&str> = lines[3..].iter().filter(|l| l.starts_with('+')).collect();
            assert!(
                added
                    .iter()
                    .any(|l| l.contains("FIX") || l.contains("spawn")),
                "{id} {rt} {}: {}",
                v.id,
                ran.show()
            );
        }
    }
    // All of them at once, too.
    let ran = repro(&["diff", id]);
    assert_eq!(ran.code(), Some(0), "{}", ran.show());
}

#[test]
fn unknown_scenario_runtime_or_variant_is_a_usage_error() {
    for args in [
        vec!["diff", "nope"],
        vec!["diff", "shared-epoll", "--runtime", "jvm"],
        vec!["diff", "shared-epoll", "--variant", "fixed-nope"],
        vec![
            "diff",
            "shared-epoll",
            "--runtime",
            "rust",
            "--variant",
            "fixed-asyncio",
        ],
    ] {
        let ran = repro(&args);
        assert_eq!(ran.code(), Some(2), "{}", ran.show());
    }
}
