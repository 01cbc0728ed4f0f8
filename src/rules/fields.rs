//! Fields around the items: turning lots into contract [`Item`]s (with
//! condition and expiry read from the same sentence), the contact (name,
//! organization, phone) and the pickup (address, postal code, delivery),
//! and whether a price is quoted. Patterns come from `rules/fields.toml`;
//! contact and pickup read the clean body and the signature cut from it.

use std::collections::HashSet;

use super::compile::{candidates, Rules};
use super::grammar::Lot;
use super::lex::{is_cjk, lower_tail};
use super::{Contact, Item, Pickup, Span};
use crate::mail::ParsedMessage;

/// Lots into items: generic names need a quantity, and a name without a
/// quantity is dropped when the same item also appears with one.
pub fn to_items(rules: &Rules, text: &str, lots: Vec<Lot>) -> Vec<Item> {
    let with_qty: HashSet<usize> = lots
        .iter()
        .filter(|l| l.qty.is_some())
        .map(|l| l.hit.item)
        .collect();
    let mut bare_seen: HashSet<usize> = HashSet::new();
    // (item, value, unit): the value by its bits, which tell values apart
    // as their decimal form did (NaN aside, which is one).
    let mut counted_seen: HashSet<(usize, u64, usize)> = HashSet::new();
    let mut items = Vec::new();
    for lot in lots {
        if let Some(q) = &lot.qty {
            let bits = match q.value.is_nan() {
                true => f64::NAN.to_bits(),
                false => q.value.to_bits(),
            };
            let key = (lot.hit.item, bits, q.unit);
            if counted_seen.contains(&key) && refers_back(text, q.start) {
                continue;
            }
            counted_seen.insert(key);
        }
        if lot.qty.is_none() {
            let accessory = lot.hit.generic && accessory_context(text, lot.start);
            if accessory || with_qty.contains(&lot.hit.item) || bare_seen.contains(&lot.hit.item) {
                continue;
            }
            bare_seen.insert(lot.hit.item);
        }
        items.push(to_item(rules, text, lot));
    }
    items
}

/// A vague name in an accessory phrase ("machines with tubing and masks"),
/// talked about rather than offered ("a question about masks", "the
/// shortage of masks"), or naming what the sender is ("a mask factory",
/// "口罩生产企业"): not a lot.
fn accessory_context(text: &str, at: usize) -> bool {
    let mut from = at.saturating_sub(60);
    while !text.is_char_boundary(from) {
        from -= 1;
    }
    let clause = text[from..at]
        .rsplit([',', '.', ';', '\n', '。', '，'])
        .next()
        .unwrap_or("")
        .to_lowercase();
    let after: String = text[at..]
        .chars()
        .take(12)
        .collect::<String>()
        .to_lowercase();
    let accessory = [
        " with ",
        "with ",
        " including ",
        " incl",
        " con ",
        " plus ",
        "accessor",
        "about ",
        "question",
        "shortage",
        "short on",
        "heard",
        "news",
        "article",
        "sobre ",
    ]
    .iter()
    .any(|w| clause.contains(w));
    let maker = [
        "factory",
        "manufactur",
        "maker",
        "company",
        "生产",
        "厂",
        "企业",
        "공장",
        "fábrica",
    ]
    .iter()
    .any(|w| after.contains(w));
    accessory || maker
}

/// "the 500 N95s", "those 20 boxes": a lot already stated, named again.
fn refers_back(text: &str, at: usize) -> bool {
    let head = lower_tail(text, at, 8);
    [
        "the", "these", "those", "all", "los", "las", "esos", "esas", "estos", "estas",
    ]
    .iter()
    .any(|w| head.ends_with(w) && !head[..head.len() - w.len()].ends_with(char::is_alphanumeric))
}

fn to_item(rules: &Rules, text: &str, lot: Lot) -> Item {
    let (s, e) = sentence(text, lot.start, lot.end);
    let mut spans = lot.spans;
    // Most sentences state no condition or expiry: one search says so.
    let stated = rules.sentence_gate.is_match(&text[s..e]);
    let condition = ["condition_expired", "condition_used", "condition_new"]
        .iter()
        .filter(|_| stated)
        .find_map(|f| {
            find(rules, f, text, s, e).map(|(sp, _)| (f["condition_".len()..].to_string(), sp))
        });
    let expires = match stated {
        true => find(rules, "expires", text, s, e),
        false => None,
    };
    if let Some((c, sp)) = &condition {
        spans.push(Span {
            field: format!("condition={c}"),
            ..sp.clone()
        });
    }
    if let Some((sp, _)) = &expires {
        spans.push(sp.clone());
    }
    Item {
        item: rules.items[lot.hit.item].clone(),
        quantity: lot.qty.as_ref().map(|q| q.value),
        unit: lot.qty.as_ref().map(|q| rules.units[q.unit].0.clone()),
        model: lot.hit.model.clone(),
        condition: condition.map(|(c, _)| c),
        expires: expires.map(|(_, v)| v),
        spans,
    }
}

/// The longest reach of a sentence on either side of a span: condition and
/// expiry are read nearby, and a long text without full stops must not make
/// every item read all of it.
const SENTENCE_REACH: usize = 400;

/// The sentence (or line) around a span, at most [`SENTENCE_REACH`] bytes
/// either side of it.
fn sentence(text: &str, s: usize, e: usize) -> (usize, usize) {
    let is_end = |c: char| matches!(c, '.' | '!' | '?' | '\n' | '。' | '|');
    let (window_start, window_end) = reach(text, s, e);
    let start = text[window_start..s]
        .char_indices()
        .rev()
        .find(|&(_, c)| is_end(c) && c != '|')
        .map_or(window_start, |(i, c)| window_start + i + c.len_utf8());
    let end = text[e..window_end]
        .find(|c: char| is_end(c) && c != '.')
        .map_or(window_end, |i| e + i);
    let end = text[e..end].find(". ").map_or(end, |i| e + i);
    (start, end)
}

/// The bytes at most [`SENTENCE_REACH`] either side of `s..e`, cut at
/// whitespace where there is some, so no word is read in part ("unused"
/// must not become "used").
fn reach(text: &str, s: usize, e: usize) -> (usize, usize) {
    let mut start = s.saturating_sub(SENTENCE_REACH);
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    if start > 0 {
        if let Some((i, c)) = text[start..s]
            .char_indices()
            .find(|(_, c)| c.is_whitespace())
        {
            start += i + c.len_utf8();
        }
    }
    let mut end = (e + SENTENCE_REACH).min(text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    if end < text.len() {
        if let Some((i, _)) = text[e..end]
            .char_indices()
            .rfind(|(_, c)| c.is_whitespace())
        {
            end = e + i;
        }
    }
    (start, end)
}

/// The first match of a field's patterns in `text[s..e]`: its span, and
/// its value (the first capture group, else the whole match).
fn find(rules: &Rules, field: &str, text: &str, s: usize, e: usize) -> Option<(Span, String)> {
    let hay = &text[s..e];
    let group = rules.field_sets.get(field)?;
    // A group of patterns (postal codes) is searched once for all of
    // them first: most texts have none.
    if group.1.len() > 1 && !group.0.is_match(hay) {
        return None;
    }
    candidates(group, hay)
        .iter()
        .map(|&i| &rules.fields[i])
        .filter_map(|(f, p)| {
            let c = p.re.captures(hay)?;
            let m = c.get(1).or_else(|| c.get(0))?;
            let span = Span {
                field: f.clone(),
                start: s + m.start(),
                end: s + m.end(),
                rule: p.name.clone(),
            };
            Some((span, m.as_str().trim().to_string()))
        })
        .min_by_key(|(sp, _)| sp.start)
}

/// Clean body and signature: where contact and pickup details are.
pub fn contact_text(msg: &ParsedMessage) -> String {
    [msg.clean_text.as_str(), &msg.signature].join("\n\n")
}

/// Whether any pattern of `field` matches.
fn any(rules: &Rules, field: &str, text: &str) -> bool {
    rules
        .field_sets
        .get(field)
        .is_some_and(|(set, _)| set.is_match(text))
}

/// Name, organization and phone of the sender: the signature first (it is
/// how people sign), then the From header's display name. `text` is
/// [`contact_text`].
pub fn contact(rules: &Rules, msg: &ParsedMessage, text: &str) -> Contact {
    let phone = phone(rules, text).or_else(|| phone(rules, &msg.body_text));
    let lines: Vec<&str> = msg
        .signature
        .lines()
        .chain(msg.clean_text.lines().rev().take(3))
        .map(str::trim)
        .collect();
    let is_org = |l: &str| any(rules, "organization", l);
    let person = |l: &str| is_person_name(l) && !is_org(l) && !is_role(l);
    let head = |l: &str| strip_titles(l.split([',', '|']).next().unwrap_or(""));
    let name_at = lines.iter().position(|l| person(&head(l)));
    let mut name = name_at.map(|i| head(lines[i]));
    let mut organization = lines
        .iter()
        .find(|l| is_org(l) && l.chars().count() <= 60 && !is_role(l))
        .map(|l| org_part(l));
    if organization.is_none() {
        organization = name_at
            .and_then(|i| lines.get(i + 1))
            .filter(|l| looks_like_org_line(l) && !is_role(l))
            .map(|l| l.to_string());
    }
    if let Some(from) = msg.from.as_ref().and_then(|f| f.name.as_deref()) {
        let from = strip_titles(from);
        if name.is_none() && person(&from) {
            name = Some(from);
        } else if organization.is_none() && is_org(&from) && !is_role(&from) {
            organization = Some(from);
        }
    }
    Contact {
        name,
        organization,
        phone,
    }
}

/// The organization part of a signature line: before " | " and before an
/// address (", 1450 N Lake Ave").
fn org_part(line: &str) -> String {
    let l = line.split(" | ").next().unwrap_or(line);
    let cut = l
        .match_indices(", ")
        .find(|(i, _)| l[i + 2..].starts_with(|c: char| c.is_ascii_digit()))
        .map_or(l.len(), |(i, _)| i);
    l[..cut].trim().trim_end_matches(',').to_string()
}

/// Job titles and mailbox roles, which are neither a name nor an organization.
fn is_role(s: &str) -> bool {
    const ROLES: &[&str] = &[
        "manager",
        "office",
        "officer",
        "director",
        "administrator",
        "administration",
        "coordinator",
        "president",
        "owner",
        "sales",
        "dept",
        "support",
        "team",
        "admin",
        "info",
        "donations",
        "customer",
        "assistant",
        "supervisor",
        "nurse",
        "service",
        "desk",
        "system",
        "subsystem",
    ];
    // ASCII words (nearly all) are compared without a lower-cased copy.
    s.split(|c: char| !c.is_alphanumeric())
        .any(|w| match w.is_ascii() {
            true => ROLES.iter().any(|r| r.eq_ignore_ascii_case(w)),
            false => ROLES.contains(&w.to_lowercase().as_str()),
        })
}

/// Two to five capitalised words with no digits: "Limpiezas Ramírez".
fn looks_like_org_line(s: &str) -> bool {
    let words: Vec<&str> = s.split_whitespace().collect();
    (2..=5).contains(&words.len())
        && !s.chars().any(|c| c.is_ascii_digit())
        && words
            .iter()
            .all(|w| w.starts_with(char::is_uppercase) || w.len() <= 3)
}

fn phone(rules: &Rules, text: &str) -> Option<String> {
    let mut found: Vec<(usize, String)> = Vec::new();
    for (f, p) in &rules.fields {
        if f != "phone" {
            continue;
        }
        for m in p.re.find_iter(text) {
            let mut from = m.start().saturating_sub(8);
            while !text.is_char_boundary(from) {
                from -= 1;
            }
            if !any(rules, "fax", &text[from..m.start()]) {
                found.push((m.start(), m.as_str().trim().to_string()));
            }
        }
    }
    found.into_iter().min_by_key(|(s, _)| *s).map(|(_, p)| p)
}

fn strip_titles(name: &str) -> String {
    let mut n = name.trim().trim_matches('"').trim();
    for t in ["Dr. ", "Dr ", "Pastor ", "Mr. ", "Mrs. ", "Ms. ", "Prof. "] {
        n = n.strip_prefix(t).unwrap_or(n);
    }
    n.trim().to_string()
}

/// "Amy Chen", "王建国", "김민수": two or three capitalised words, or two to
/// four CJK characters.
fn is_person_name(s: &str) -> bool {
    let s = s.trim();
    if !s.is_empty() && s.chars().all(is_cjk) {
        return (2..=4).contains(&s.chars().count());
    }
    (2..=3).contains(&s.split_whitespace().count())
        && s.split_whitespace().all(|w| {
            let mut cs = w.chars();
            cs.next().is_some_and(char::is_uppercase)
                && cs.clone().any(char::is_lowercase)
                && cs.all(|c| c.is_alphabetic() || c == '\'' || c == '-' || c == '.')
        })
}

/// Pickup address, postal code and whether the donor can deliver. `text`
/// is [`contact_text`].
pub fn pickup(rules: &Rules, msg: &ParsedMessage, text: &str) -> Pickup {
    // An earlier message of the thread ("Same pickup address.") may hold the
    // address: the whole body is the fallback.
    let whole = &msg.body_text;
    // Most messages name no place: one search for the address and postal
    // code patterns together says so for each text.
    let in_text = rules.place_gate.is_match(text);
    let in_whole = std::cell::OnceCell::new();
    let in_whole = || *in_whole.get_or_init(|| rules.place_gate.is_match(whole));
    let place = |field: &str| {
        in_text
            .then(|| find(rules, field, text, 0, text.len()))
            .flatten()
            .or_else(|| {
                in_whole()
                    .then(|| find(rules, field, whole, 0, whole.len()))
                    .flatten()
            })
            .map(|(_, v)| v)
    };
    let address = place("address");
    let postal_code = place("postal_code");
    let can_deliver = if any(rules, "deliver", &msg.clean_text) {
        Some(true)
    } else if any(rules, "pickup", &msg.clean_text) {
        Some(false)
    } else {
        None
    };
    Pickup {
        address,
        postal_code,
        can_deliver,
    }
}

/// Whether the text quotes a price.
pub fn price_quoted(rules: &Rules, text: &str) -> bool {
    any(rules, "price", text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_sentence_is_cut_at_whitespace_not_inside_a_word() {
        let before = "word ".repeat(100) + "unused";
        let text = format!("{before} gloves {}", "unused ".repeat(100));
        let at = text.find("gloves").unwrap();
        let (s, e) = sentence(&text, at, at + "gloves".len());
        assert!(s > 0 && e < text.len(), "the window is bounded");
        assert!(text[..s].ends_with(' '), "starts after a space");
        assert!(text[e..].starts_with(' '), "ends before a space");
    }
}
