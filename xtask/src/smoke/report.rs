//! Outcomes of smoke steps and the summary table printed at the end.

use std::fmt::Write as _;

/// How one step went.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub ok: bool,
    pub seconds: f64,
    pub note: String,
}

impl Outcome {
    pub fn passed(seconds: f64) -> Outcome {
        Outcome {
            ok: true,
            seconds,
            note: String::new(),
        }
    }

    pub fn failed(seconds: f64, note: &str) -> Outcome {
        Outcome {
            ok: false,
            seconds,
            note: note.to_owned(),
        }
    }
}

/// One line of the table: a variant (or the rename, or the e2e run) and its steps.
#[derive(Debug, Clone)]
pub struct Row {
    label: String,
    steps: Vec<(&'static str, Outcome)>,
}

impl Row {
    pub fn new(label: String) -> Row {
        Row {
            label,
            steps: Vec::new(),
        }
    }

    pub fn record(&mut self, step: &'static str, outcome: Outcome) {
        self.steps.push((step, outcome));
    }

    pub fn failed(&self) -> bool {
        self.steps.iter().any(|(_, o)| !o.ok)
    }
}

/// The columns, in order.
const COLUMNS: [&str; 9] = [
    "generate", "checks", "rename", "build", "test", "clippy", "fmt", "e2e", "total",
];

/// The summary table, then one line per failure.
pub fn table(rows: &[Row]) -> String {
    let label_width = rows
        .iter()
        .map(|r| r.label.chars().count())
        .max()
        .unwrap_or(7)
        .max(7);
    let mut out = String::new();
    let _ = write!(out, "{:<label_width$}", "variant");
    for column in COLUMNS {
        let _ = write!(out, "  {column:>9}");
    }
    out.push('\n');
    for row in rows {
        let _ = write!(out, "{:<label_width$}", row.label);
        for column in COLUMNS {
            let cell = if column == "total" {
                let total: f64 = row.steps.iter().map(|(_, o)| o.seconds).sum();
                format!("{total:.1}s")
            } else {
                match row.steps.iter().find(|(step, _)| *step == column) {
                    None => "-".to_owned(),
                    Some((_, outcome)) if outcome.ok => format!("{:.1}s", outcome.seconds),
                    Some(_) => "FAILED".to_owned(),
                }
            };
            let _ = write!(out, "  {cell:>9}");
        }
        out.push('\n');
    }
    for row in rows {
        for (step, outcome) in &row.steps {
            if !outcome.ok {
                let _ = writeln!(out, "FAILED {} {step}: {}", row.label, outcome.note);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_shows_times_failures_and_missing_steps() {
        let mut ok = Row::new("AWS/gardener".into());
        ok.record("generate", Outcome::passed(0.5));
        ok.record("build", Outcome::passed(100.0));
        let mut bad = Row::new("x/y".into());
        bad.record("build", Outcome::failed(3.0, "exited with 101"));
        let text = table(&[ok.clone(), bad.clone()]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("variant"));
        assert!(
            lines[1].contains("0.5s") && lines[1].contains("100.0s") && lines[1].contains("100.5s")
        );
        assert!(lines[1].contains(" -"), "steps not run show as -");
        assert!(lines[2].contains("FAILED"));
        assert_eq!(lines[3], "FAILED x/y build: exited with 101");
        assert!(!ok.failed());
        assert!(bad.failed());
    }
}
