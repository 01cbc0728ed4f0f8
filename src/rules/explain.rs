//! The `--explain` report: category, language, then each item with the
//! text span each of its values came from and the rule that matched, then
//! contact and pickup fields with where they were found.

use std::fmt::Write;

use super::{haystack, Extraction, Span};
use crate::mail::ParsedMessage;

/// A readable report of one extraction.
pub fn report(msg: &ParsedMessage, ex: &Extraction, spans: bool) -> String {
    let mut out = String::new();
    let text = haystack(msg);
    let _ = writeln!(out, "category: {}", ex.category.as_str());
    if let Some(l) = &ex.language {
        let _ = writeln!(out, "language: {l}");
    }
    let _ = writeln!(out, "items: {}", ex.items.len());
    for it in &ex.items {
        let qty = it
            .quantity
            .map(|q| format!(" {q} {}", it.unit.as_deref().unwrap_or("each")));
        let _ = write!(out, "  - {}{}", it.item, qty.unwrap_or_default());
        for (k, v) in [
            ("model", &it.model),
            ("condition", &it.condition),
            ("expires", &it.expires),
        ] {
            if let Some(v) = v {
                let _ = write!(out, " {k}={v}");
            }
        }
        out.push('\n');
        if spans {
            for s in &it.spans {
                let source = if s.field.starts_with("subject") {
                    msg.subject.as_str()
                } else {
                    text.as_str()
                };
                let _ = writeln!(out, "      {}", span_line(source, s));
            }
        }
    }
    fields(&mut out, msg, ex, spans);
    let _ = writeln!(out, "price_quoted: {}", ex.price_quoted);
    out
}

fn span_line(source: &str, s: &Span) -> String {
    let snippet = source.get(s.start..s.end).unwrap_or("?").replace('\n', " ");
    format!(
        "{} [{}..{}] {:?} ← {}",
        s.field, s.start, s.end, snippet, s.rule
    )
}

fn fields(out: &mut String, msg: &ParsedMessage, ex: &Extraction, spans: bool) {
    let contact = ex.contact.clone().unwrap_or_default();
    let pickup = ex.pickup.clone().unwrap_or_default();
    let deliver = pickup.can_deliver.map(|d| d.to_string());
    let list = [
        ("contact.name", contact.name),
        ("contact.organization", contact.organization),
        ("contact.phone", contact.phone),
        ("pickup.address", pickup.address),
        ("pickup.postal_code", pickup.postal_code),
        ("pickup.can_deliver", deliver),
    ];
    for (name, value) in list {
        let Some(v) = value else { continue };
        let _ = write!(out, "{name}: {v}");
        if spans {
            let _ = write!(out, "  ({})", locate(msg, &v));
        }
        out.push('\n');
    }
}

/// Where a field value sits: body, signature or header.
fn locate(msg: &ParsedMessage, v: &str) -> String {
    if let Some(i) = msg.clean_text.find(v) {
        format!("clean_text [{}..{}]", i, i + v.len())
    } else if let Some(i) = msg.signature.find(v) {
        format!("signature [{}..{}]", i, i + v.len())
    } else if msg
        .from
        .as_ref()
        .and_then(|f| f.name.as_deref())
        .is_some_and(|n| n.contains(v))
    {
        "From header".to_string()
    } else {
        "rule cue in clean_text".to_string()
    }
}
