//! Running the examples each rule file carries: the text goes through the
//! same `extract` as a message's clean body, and every stated expectation
//! (items, category, phone, postal code, language, delivery) must hold.
//! `supplyline rules test` prints the failures; a cargo test asserts none.

use super::compile::Rules;
use super::format::Example;
use super::{Extraction, Item};
use crate::mail::ParsedMessage;

/// One example that did not come out as its rule file says.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub file: String,
    pub line: usize,
    /// The example's `rule`: which rule or behaviour it checks.
    pub rule: String,
    pub message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: [{}] {}",
            self.file, self.line, self.rule, self.message
        )
    }
}

/// Runs every example of every rule file; returns the ones that fail.
pub fn self_test(rules: &Rules) -> Vec<Failure> {
    let mut failures = Vec::new();
    for (file, line, ex) in &rules.examples {
        let msg = ParsedMessage {
            subject: ex.subject.clone(),
            body_text: ex.text.clone(),
            clean_text: ex.text.clone(),
            ..ParsedMessage::default()
        };
        let got = rules.extract(&msg);
        for message in mismatches(ex, &got) {
            failures.push(Failure {
                file: file.clone(),
                line: *line,
                rule: ex.rule.get_ref().clone(),
                message,
            });
        }
    }
    failures
}

/// "n95_respirator 60 each", or the id alone when no quantity was read.
pub fn item_key(it: &Item) -> String {
    match (it.quantity, &it.unit) {
        (Some(q), Some(u)) => format!("{} {} {}", it.item, q, u),
        (Some(q), None) => format!("{} {} each", it.item, q),
        _ => it.item.clone(),
    }
}

fn normalise_expect(e: &str) -> String {
    let parts: Vec<&str> = e.split_whitespace().collect();
    match parts.as_slice() {
        [id, q, unit] => match q.parse::<f64>() {
            Ok(q) => format!("{id} {q} {unit}"),
            Err(_) => e.to_string(),
        },
        [id, q] => match q.parse::<f64>() {
            Ok(q) => format!("{id} {q} each"),
            Err(_) => e.to_string(),
        },
        _ => e.trim().to_string(),
    }
}

fn mismatches(ex: &Example, got: &Extraction) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(expect) = &ex.expect {
        let mut want: Vec<String> = expect.iter().map(|e| normalise_expect(e)).collect();
        let mut have: Vec<String> = got.items.iter().map(item_key).collect();
        want.sort();
        have.sort();
        if want != have {
            out.push(format!("items: expected {want:?}, found {have:?}"));
        }
    }
    let check = |out: &mut Vec<String>, what: &str, want: &Option<String>, have: Option<String>| {
        if let Some(w) = want {
            if have.as_deref() != Some(w.as_str()) {
                out.push(format!("{what}: expected {w:?}, found {have:?}"));
            }
        }
    };
    check(
        &mut out,
        "category",
        &ex.category,
        Some(got.category.as_str().to_string()),
    );
    let contact = got.contact.clone().unwrap_or_default();
    let pickup = got.pickup.clone().unwrap_or_default();
    check(&mut out, "phone", &ex.phone, contact.phone);
    check(&mut out, "postal_code", &ex.postal_code, pickup.postal_code);
    check(&mut out, "language", &ex.language, got.language.clone());
    if ex.can_deliver.is_some() && ex.can_deliver != pickup.can_deliver {
        out.push(format!(
            "can_deliver: expected {:?}, found {:?}",
            ex.can_deliver, pickup.can_deliver
        ));
    }
    out
}
