//! One result row per scenario level, target and repetition: printed to stdout as one
//! JSON line (and appended to `--out`), and gathered into a human table on stderr with
//! the median of the repetitions and the ratio to the reference relay.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    pub scenario: String,
    /// "duet", "prev", "refrelay", or "duet-sqlite"/"duet-postgres" in the persistence
    /// scenario.
    pub target: String,
    pub rep: u32,
    /// What the level varies ("conns", "rooms", "offered_msg_per_s", ...) and its value.
    pub param_name: String,
    pub param: f64,
    /// Correctness: no loss, no errors, no failures.
    pub ok: bool,
    pub metrics: BTreeMap<String, f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Row {
    pub fn new(scenario: &str, target: &str, rep: u32, param_name: &str, param: f64) -> Row {
        Row {
            scenario: scenario.into(),
            target: target.into(),
            rep,
            param_name: param_name.into(),
            param,
            ok: true,
            metrics: BTreeMap::new(),
            note: None,
        }
    }

    pub fn set(&mut self, key: &str, value: f64) -> &mut Row {
        self.metrics.insert(key.into(), value);
        self
    }

    pub fn get(&self, key: &str) -> Option<f64> {
        self.metrics.get(key).copied()
    }
}

/// Collects the rows of one invocation.
#[derive(Default)]
pub struct Recorder {
    out: Option<PathBuf>,
    pub rows: Vec<Row>,
}

impl Recorder {
    pub fn new(out: Option<PathBuf>) -> Recorder {
        Recorder { out, rows: Vec::new() }
    }

    pub fn emit(&mut self, row: Row) {
        let line = serde_json::to_string(&row).expect("rows serialise");
        println!("{line}");
        if let Some(path) = &self.out {
            let file = std::fs::OpenOptions::new().create(true).append(true).open(path);
            if let Ok(mut file) = file {
                let _ = writeln!(file, "{line}");
            }
        }
        if !row.ok {
            eprintln!(
                "FAILED: {} {} {}={}: {:?}",
                row.scenario, row.target, row.param_name, row.param, row.note
            );
        }
        self.rows.push(row);
    }

    /// Prints the human table of `scenario` to stderr.
    pub fn table(&self, scenario: &str, columns: &[&str]) {
        eprintln!("\n{}", markdown(&self.rows, scenario, columns));
    }

    pub fn all_ok(&self) -> bool {
        self.rows.iter().all(|r| r.ok)
    }
}

pub fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// Median of `metric` over the repetitions of one scenario, target and level.
pub fn median_of(rows: &[Row], scenario: &str, target: &str, param: f64, metric: &str) -> Option<f64> {
    let values: Vec<f64> = rows
        .iter()
        .filter(|r| r.scenario == scenario && r.target == target && r.param == param)
        .filter_map(|r| r.get(metric))
        .collect();
    (!values.is_empty()).then(|| median(values))
}

/// A Markdown table of one scenario: per level and target the median of each column
/// over the repetitions, with, for targets other than the relay, the ratio of the
/// first column to the relay's in the same run.
pub fn markdown(rows: &[Row], scenario: &str, columns: &[&str]) -> String {
    let mine: Vec<&Row> = rows.iter().filter(|r| r.scenario == scenario).collect();
    let Some(first) = mine.first() else {
        return format!("({scenario}: no results)\n");
    };
    let mut params: Vec<f64> = mine.iter().map(|r| r.param).collect();
    params.sort_by(|a, b| a.total_cmp(b));
    params.dedup();
    let mut targets: Vec<String> = Vec::new();
    for r in &mine {
        if !targets.contains(&r.target) {
            targets.push(r.target.clone());
        }
    }
    let has_relay = targets.iter().any(|t| t == "refrelay");
    let mut out = format!("| {} | target | reps |", first.param_name);
    for c in columns {
        out.push_str(&format!(" {c} |"));
    }
    if has_relay {
        out.push_str(&format!(" {} ratio to refrelay |", columns[0]));
    }
    out.push_str(" ok |\n|---:|---|---:|");
    for _ in columns {
        out.push_str("---:|");
    }
    if has_relay {
        out.push_str("---:|");
    }
    out.push_str("---|\n");
    for &p in &params {
        for t in &targets {
            let reps: Vec<&&Row> = mine.iter().filter(|r| r.param == p && &r.target == t).collect();
            if reps.is_empty() {
                continue;
            }
            let ok = reps.iter().all(|r| r.ok);
            out.push_str(&format!("| {} | {t} | {} |", fmt(p), reps.len()));
            let owned: Vec<Row> = reps.iter().map(|r| (**r).clone()).collect();
            for c in columns {
                let v = median_of(&owned, scenario, t, p, c);
                out.push_str(&format!(" {} |", v.map(fmt).unwrap_or_else(|| "–".into())));
            }
            if has_relay {
                let mine = median_of(rows, scenario, t, p, columns[0]);
                let relay = median_of(rows, scenario, "refrelay", p, columns[0]);
                match (mine, relay) {
                    (Some(a), Some(b)) if b != 0.0 && t != "refrelay" => {
                        out.push_str(&format!(" {:.2}x |", a / b))
                    }
                    _ => out.push_str(" |"),
                }
            }
            out.push_str(if ok { " yes |\n" } else { " **NO** |\n" });
        }
    }
    out
}

/// Numbers for tables: integers without decimals, small values with two.
pub fn fmt(v: f64) -> String {
    if v.is_nan() {
        "–".into()
    } else if v.fract() == 0.0 || v.abs() >= 100.0 {
        format!("{:.0}", v)
    } else {
        format!("{:.2}", v)
    }
}
