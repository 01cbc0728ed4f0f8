//! Golden test: every labelled donation email in `tests/fixtures/donations/`
//! and `tests/fixtures/donations-extra/`
//! is extracted, with LF and with CRLF line ends, and scored like
//! `score-extraction` does (items micro-F1, category accuracy). On a
//! mismatch the actual output is written beside the message as `NAME.failed`.

use std::path::{Path, PathBuf};

use serde_json::Value;
use supplyline::{mail, rules::Rules};

#[derive(Default)]
struct Score {
    tp: usize,
    fp: usize,
    fn_: usize,
    cat_ok: usize,
    n: usize,
}

impl Score {
    fn f1(&self) -> f64 {
        let p = self.tp as f64 / (self.tp + self.fp).max(1) as f64;
        let r = self.tp as f64 / (self.tp + self.fn_).max(1) as f64;
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }

    fn accuracy(&self) -> f64 {
        self.cat_ok as f64 / self.n.max(1) as f64
    }
}

fn same_lot(gold: &Value, pred: &Value) -> bool {
    if gold["item"] != pred["item"] {
        return false;
    }
    let Some(gq) = gold["quantity"].as_f64() else {
        return true;
    };
    let unit = |v: &Value| v["unit"].as_str().unwrap_or("each").to_string();
    pred["quantity"].as_f64() == Some(gq) && unit(gold) == unit(pred)
}

/// One-to-one matching, gold entries with a quantity first: (tp, fn, fp).
fn match_items(gold: &[Value], pred: &[Value]) -> (usize, usize, usize) {
    let mut left: Vec<&Value> = pred.iter().collect();
    let mut gold: Vec<&Value> = gold.iter().collect();
    gold.sort_by_key(|g| g["quantity"].is_null());
    let mut missed = 0;
    for g in gold.iter() {
        match left.iter().position(|p| same_lot(g, p)) {
            Some(i) => {
                left.remove(i);
            }
            None => missed += 1,
        }
    }
    (gold.len() - missed, missed, left.len())
}

/// The labelled sets: the shared development corpus, and a second set
/// written independently to the same contract (`donations-extra`).
fn corpus() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut files: Vec<PathBuf> = ["donations", "donations-extra"]
        .iter()
        .flat_map(|set| std::fs::read_dir(root.join(set)).expect("fixture dir"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml") && p.with_extension("json").exists())
        .collect();
    files.sort();
    files
}

/// The message with LF line ends, or CRLF ones; bytes, so 8-bit charsets survive.
fn with_line_ends(raw: &[u8], crlf: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 40);
    for &b in raw.iter().filter(|&&b| b != b'\r') {
        if b == b'\n' && crlf {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

fn score_one(rules: &Rules, path: &Path, raw: &[u8], score: &mut Score) {
    let gold: Value =
        serde_json::from_str(&std::fs::read_to_string(path.with_extension("json")).expect("json"))
            .expect("gold json");
    let msg = mail::parse(raw).expect("fixture parses");
    let pred = serde_json::to_value(rules.extract(&msg)).expect("serialise");
    let empty = Vec::new();
    let (tp, fn_, fp) = match_items(
        gold["items"].as_array().unwrap_or(&empty),
        pred["items"].as_array().unwrap_or(&empty),
    );
    let cat_ok = gold["category"] == pred["category"];
    score.tp += tp;
    score.fn_ += fn_;
    score.fp += fp;
    score.cat_ok += usize::from(cat_ok);
    score.n += 1;
    let failed = path.with_extension("failed");
    if fn_ + fp > 0 || !cat_ok {
        let pretty = serde_json::to_string_pretty(&pred).unwrap_or_default();
        let _ = std::fs::write(&failed, pretty);
    } else {
        let _ = std::fs::remove_file(&failed);
    }
}

#[test]
fn donations_corpus_scores_above_the_bar() {
    let rules = Rules::embedded().expect("embedded rules load");
    let files = corpus();
    assert!(
        files.len() >= 80,
        "found only {} labelled messages",
        files.len()
    );
    for crlf in [false, true] {
        let mut score = Score::default();
        for path in &files {
            let raw = with_line_ends(&std::fs::read(path).expect("read"), crlf);
            score_one(&rules, path, &raw, &mut score);
        }
        let (f1, acc) = (score.f1(), score.accuracy());
        println!(
            "crlf={crlf}: items F1 {f1:.3}, category accuracy {acc:.3}, n {}",
            score.n
        );
        assert!(
            f1 >= 0.95,
            "items F1 {f1:.3} < 0.95 (crlf={crlf}); see *.failed"
        );
        assert!(
            acc >= 0.95,
            "category accuracy {acc:.3} < 0.95 (crlf={crlf}); see *.failed"
        );
    }
}
