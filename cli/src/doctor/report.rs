//! How `mb doctor` says what it found: one line per check, and under every failure or warning
//! the line that says what to do. Lines are printed as they come, and kept for the unit tests.

pub struct Report {
    failed: bool,
    lines: Vec<String>,
}

impl Report {
    pub fn new() -> Report {
        Report {
            failed: false,
            lines: Vec::new(),
        }
    }

    pub fn ok(&mut self, check: &str, found: &str) {
        self.line(format!("ok    {check:<13} {found}"));
    }

    pub fn warn(&mut self, check: &str, found: &str, fix: &str) {
        self.line(format!("warn  {check:<13} {found}"));
        self.line(format!("      fix: {fix}"));
    }

    pub fn fail(&mut self, check: &str, found: &str, fix: &str) {
        self.failed = true;
        self.line(format!("FAIL  {check:<13} {found}"));
        self.line(format!("      fix: {fix}"));
    }

    /// A check that cannot run because an earlier one failed, or was not asked for.
    pub fn skip(&mut self, check: &str, why: &str) {
        self.line(format!("skip  {check:<13} {why}"));
    }

    pub fn failed(&self) -> bool {
        self.failed
    }

    #[cfg(test)]
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    fn line(&mut self, line: String) {
        println!("{line}");
        self.lines.push(line);
    }
}
