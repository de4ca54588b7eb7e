//! `repro list`: the scenarios, their variants and expectations.

use crate::exit::{self, RunError, Usage};
use crate::output::Out;
use crate::registry;

pub fn exec(json: bool, out: &mut Out) -> Result<u8, RunError> {
    let scenarios = registry::load().map_err(|e| RunError::Usage(Usage(e.to_string())))?;
    if json {
        let specs: Vec<_> = scenarios.iter().map(|s| &s.spec).collect();
        out.line(&serde_json::to_string(&specs).expect("specs serialise"))?;
        return Ok(exit::OK);
    }
    for sc in &scenarios {
        let s = &sc.spec;
        out.line(&format!("{}  {}", s.id, s.title))?;
        out.line(&format!("    fix: {}", s.fix))?;
        for v in &s.variants {
            let (runtimes, expect) = (v.runtime_names(), v.expect_text());
            out.line(&format!(
                "    {:16} {:22} {:30} {}",
                v.id,
                runtimes.join(","),
                expect,
                v.about
            ))?;
        }
    }
    Ok(exit::OK)
}
