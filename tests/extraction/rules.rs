//! The rule files' own examples all hold, and a malformed rule file is
//! refused with its name, line and reason.

use supplyline::rules::{self, RuleError, Rules};

#[test]
fn embedded_rule_examples_pass() {
    let rules = Rules::embedded().expect("embedded rules load");
    let failures = rules::self_test(&rules);
    let report: Vec<String> = failures.iter().map(|f| f.to_string()).collect();
    assert!(
        failures.is_empty(),
        "{} failing examples:\n{}",
        failures.len(),
        report.join("\n")
    );
}

#[test]
fn rules_folder_matches_embedded() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let rules = Rules::load_dir(&dir).expect("rules/ loads");
    assert!(rules::self_test(&rules).is_empty());
}

fn load_one(text: &str) -> Result<Rules, RuleError> {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("bad.toml"), text).expect("write");
    Rules::load_dir(dir.path())
}

#[test]
fn malformed_file_names_file_and_line() {
    let err = load_one("[[item]]\nid = \"x\"\nterms = [\n").unwrap_err();
    let RuleError::Invalid { file, line, .. } = err else {
        panic!("not Invalid")
    };
    assert!(file.ends_with("bad.toml"));
    assert!(line >= 3, "line {line}");
}

#[test]
fn bad_regex_is_refused_with_its_line() {
    let err = load_one("[[never]]\nname = \"x\"\npattern = '(unclosed'\n").unwrap_err();
    match err {
        RuleError::Invalid { line, reason, .. } => {
            assert_eq!(line, 3);
            assert!(reason.contains("bad pattern"), "{reason}");
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn unknown_unit_and_key_are_refused() {
    let err = load_one("[[unit]]\nid = \"bushel\"\n[unit.terms]\nen = [\"bushel\"]\n").unwrap_err();
    assert!(matches!(err, RuleError::Invalid { line: 2, .. }), "{err}");
    let err = load_one("[[item]]\nid = \"x\"\ncolour = \"red\"\n").unwrap_err();
    assert!(matches!(err, RuleError::Invalid { .. }), "{err}");
}

#[test]
fn explain_names_spans_and_signals() {
    let rules = Rules::embedded().expect("rules");
    let text = "We have 3 boxes of N95 masks (20 per box). Call 310-555-0100.".to_string();
    let msg = supplyline::mail::ParsedMessage {
        subject: "Donation".into(),
        body_text: text.clone(),
        clean_text: text,
        ..Default::default()
    };
    let ex = rules.extract(&msg);
    let report = rules.explain_full(&msg, &ex, true);
    assert!(report.contains("n95_respirator 60 each"), "{report}");
    assert!(report.contains("container × pack size"), "{report}");
    assert!(report.contains("contact.phone: 310-555-0100"), "{report}");
    assert!(report.contains("offer +2 ← donate"), "{report}");
}

/// The receiving server's verdict (X-Spam-Flag above our Received header)
/// makes a message spam only when the operator trusts it, and a forged
/// header further down never does.
#[test]
fn spam_verdict_counts_only_when_trusted_and_ours() {
    let offer = "Subject: Masks\r\nFrom: a@b.example\r\n\r\nWe have 200 N95 masks to donate.\r\n";
    let ours = format!("X-Spam-Flag: YES\r\nReceived: from x by mx\r\n{offer}");
    let forged = format!("Received: from x by mx\r\nX-Spam-Flag: YES\r\n{offer}");
    let trusting = Rules::embedded()
        .expect("rules")
        .trusting_spam_headers(true);
    let plain = Rules::embedded().expect("rules");
    let category = |rules: &Rules, raw: &str| {
        let msg = supplyline::mail::parse(raw.as_bytes()).expect("parse");
        rules.extract(&msg).category.as_str()
    };
    assert_eq!(category(&trusting, &ours), "spam");
    assert_eq!(category(&plain, &ours), "offer");
    assert_eq!(category(&trusting, &forged), "offer");
}
