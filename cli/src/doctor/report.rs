//! How `mb doctor` says what it found: one line per check, and under every failure or warning
//! the line that says what to do.

pub struct Report {
    failed: bool,
}

impl Report {
    pub fn new() -> Report {
        Report { failed: false }
    }

    pub fn ok(&mut self, check: &str, found: &str) {
        println!("ok    {check:<13} {found}");
    }

    pub fn warn(&mut self, check: &str, found: &str, fix: &str) {
        println!("warn  {check:<13} {found}");
        println!("      fix: {fix}");
    }

    pub fn fail(&mut self, check: &str, found: &str, fix: &str) {
        self.failed = true;
        println!("FAIL  {check:<13} {found}");
        println!("      fix: {fix}");
    }

    /// A check that cannot run because an earlier one failed, or was not asked for.
    pub fn skip(&mut self, check: &str, why: &str) {
        println!("skip  {check:<13} {why}");
    }

    pub fn failed(&self) -> bool {
        self.failed
    }
}
