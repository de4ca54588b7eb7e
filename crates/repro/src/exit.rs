//! The exit codes of `repro`, documented in README.md, and why a command
//! stops: every subcommand returns `Result<u8, RunError>`, and `main` maps
//! it to one of these codes.

use harness::record::Record;

/// Every case gave the verdict its `scenario.toml` expects.
pub const OK: u8 = 0;
/// At least one case gave a verdict, and not the expected one: a broken
/// variant that behaved, a fixed one that misbehaved, another symptom.
pub const NOT_AS_EXPECTED: u8 = 1;
/// The command line is wrong: unknown scenario, runtime or variant, an
/// unusable `--python`. Nothing was run.
pub const USAGE: u8 = 2;
/// Every verdict that came back was as expected, but some case could not
/// give one: it hung, crashed, errored, or was skipped where its
/// `scenario.toml` does not expect a skip.
pub const COULD_NOT_RUN: u8 = 3;

/// A usage error: the message says what was wrong and what is valid.
#[derive(Debug)]
pub struct Usage(pub String);

/// Why a command stopped before its verdicts.
#[derive(Debug)]
pub enum RunError {
    /// Nothing ran: the command line was wrong.
    Usage(Usage),
    /// Writing the report failed.
    Io(std::io::Error),
}

impl From<std::io::Error> for RunError {
    fn from(e: std::io::Error) -> Self {
        RunError::Io(e)
    }
}

/// The exit code for a set of records.
pub fn exit_code(records: &[Record]) -> u8 {
    let wrong = records
        .iter()
        .any(|r| r.verdict.is_conclusive() && r.as_expected == Some(false));
    // A skip that scenario.toml expects (an interpreter without the API a
    // variant needs) is as expected; any other verdict-less case is not.
    let inconclusive = records
        .iter()
        .any(|r| !r.verdict.is_conclusive() && r.as_expected != Some(true));
    if wrong {
        NOT_AS_EXPECTED
    } else if inconclusive {
        COULD_NOT_RUN
    } else {
        OK
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use harness::record::{Runtime, Verdict};

    fn record(verdict: Verdict, as_expected: Option<bool>) -> Record {
        let mut r = Record::supervisor("s", Runtime::Python, "v", verdict, "", Vec::new());
        r.as_expected = as_expected;
        r
    }

    #[test]
    fn the_code_says_the_worst_that_happened() {
        use Verdict::{Behaved, Hung, Misbehaved, Skipped};
        let ok = record(Misbehaved, Some(true));
        // A skip scenario.toml expects is as expected.
        let expected_skip = record(Skipped, Some(true));
        let other_skip = record(Skipped, None);
        let wrong = record(Behaved, Some(false));
        let hung = record(Hung, Some(false));
        assert_eq!(exit_code(&[ok.clone(), expected_skip.clone()]), OK);
        assert_eq!(exit_code(&[ok.clone(), other_skip]), COULD_NOT_RUN);
        assert_eq!(exit_code(&[ok.clone(), hung.clone()]), COULD_NOT_RUN);
        assert_eq!(exit_code(&[hung, wrong, ok]), NOT_AS_EXPECTED);
        assert_eq!(exit_code(&[expected_skip]), OK);
    }
}
