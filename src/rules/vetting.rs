//! What staff check before buying or taking supplies from a seller: the
//! price per piece and its currency, the minimum order, and the approval
//! numbers a buyer verifies (NIOSH TC-84A-NNNN for N95s, FDA EUA, 510(k)
//! and registration numbers), read in sales and in offers that quote a price.
//!
//! Owns: [`Vetting`] and the one check made here, whether a NIOSH approval
//! has the form NIOSH uses (TC-84A-NNNN); the patterns that find each value
//! are `unit_price`, `minimum_order`, `niosh_approval` and `fda_number`
//! fields in `rules/fields.toml`, which operators edit.

use serde::{Deserialize, Serialize};

use super::compile::candidates;
use super::numbers::parse_digits;
use super::Rules;

/// The vetting facts a message states; empty fields are left out.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Vetting {
    /// The price per piece as a number, in `currency`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_price: Option<f64>,
    /// ISO 4217 code where the text says which ("USD", "EUR", "CNY", "GBP", "JPY").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// The smallest order the seller takes, in pieces as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_order: Option<f64>,
    /// NIOSH approval numbers of the right form, as TC-84A-NNNN.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub niosh_approvals: Vec<String>,
    /// What looked like a NIOSH approval but is not of the form TC-84A-NNNN,
    /// as written: staff should ask for the real number.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub niosh_malformed: Vec<String>,
    /// FDA EUA, 510(k) and registration numbers, as written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fda_numbers: Vec<String>,
}

impl Vetting {
    pub fn is_empty(&self) -> bool {
        *self == Vetting::default()
    }
}

/// The vetting facts stated in `text`.
pub fn vetting(rules: &Rules, text: &str) -> Vetting {
    // Most texts state none of these: one search says so.
    if !rules.vetting_gate.is_match(text) {
        return Vetting::default();
    }
    let price = all(rules, "unit_price", text).into_iter().next();
    let mut v = Vetting {
        unit_price: price.as_deref().and_then(amount),
        currency: price.as_deref().and_then(currency),
        minimum_order: all(rules, "minimum_order", text)
            .first()
            .and_then(|m| count(m)),
        fda_numbers: dedup(all(rules, "fda_number", text).iter().map(|n| squeeze(n))),
        ..Vetting::default()
    };
    for written in all(rules, "niosh_approval", text) {
        match niosh_form(&written) {
            Some(number) => v.niosh_approvals.push(number),
            None => v.niosh_malformed.push(written),
        }
    }
    v.niosh_approvals = dedup(v.niosh_approvals.into_iter());
    v.niosh_malformed = dedup(v.niosh_malformed.into_iter());
    v
}

/// Every value of `field` in `text`, in the order they appear: each
/// match's first capture group, else the match.
fn all(rules: &Rules, field: &str, text: &str) -> Vec<String> {
    let Some(group) = rules.field_sets.get(field) else {
        return Vec::new();
    };
    let mut found: Vec<(usize, String)> = candidates(group, text)
        .iter()
        .flat_map(|&i| rules.fields[i].1.re.captures_iter(text))
        .filter_map(|c| c.get(1).or_else(|| c.get(0)))
        .map(|m| (m.start(), m.as_str().trim().to_string()))
        .collect();
    found.sort_by_key(|(at, _)| *at);
    found.into_iter().map(|(_, v)| v).collect()
}

/// The approval as NIOSH writes it, when `written` is TC-84A-NNNN with at
/// most spacing or dash variants ("TC 84A 7348" → "TC-84A-7348").
fn niosh_form(written: &str) -> Option<String> {
    let compact: String = written
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-' && *c != '–')
        .collect::<String>()
        .to_ascii_uppercase();
    let digits = compact.strip_prefix("TC84A")?;
    (digits.len() == 4 && digits.chars().all(|c| c.is_ascii_digit()))
        .then(|| format!("TC-84A-{digits}"))
}

/// The number in a price ("$1.25" → 1.25, "USD 0,85" → 0.85).
fn amount(price: &str) -> Option<f64> {
    let start = price.find(|c: char| c.is_ascii_digit())?;
    let end = price[start..]
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
        .map_or(price.len(), |e| start + e);
    parse_digits(&price[start..end])
}

/// The currency a price names, as an ISO 4217 code.
fn currency(price: &str) -> Option<String> {
    let p = price.to_ascii_lowercase();
    let code = if p.contains("us$") || p.contains("usd") || p.contains('$') || p.contains("dollar")
    {
        "USD"
    } else if p.contains('€') || p.contains("eur") {
        "EUR"
    } else if p.contains('£') {
        "GBP"
    } else if p.contains("rmb") || p.contains("cny") || price.contains('元') || price.contains('￥')
    {
        "CNY"
    } else if price.contains('¥') {
        "JPY"
    } else {
        return None;
    };
    Some(code.to_string())
}

/// A minimum order as a count: "10,000", "50k", "1 million", "5万".
fn count(text: &str) -> Option<f64> {
    let lower = text.to_lowercase();
    let digits: String = lower
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',' || *c == '.')
        .collect();
    let n = parse_digits(digits.trim_end_matches(['.', ',']))?;
    let rest = lower[digits.len()..].trim();
    let factor = match rest {
        r if r.starts_with("million") || r == "m" => 1_000_000.0,
        r if r.starts_with("thousand") || r == "k" => 1_000.0,
        "万" => 10_000.0,
        _ => 1.0,
    };
    Some(n * factor)
}

fn squeeze(number: &str) -> String {
    number.split_whitespace().collect::<Vec<_>>().join("")
}

fn dedup(values: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Vetting {
        vetting(&Rules::embedded().unwrap(), text)
    }

    #[test]
    fn a_sellers_quote_gives_price_currency_minimum_and_approvals() {
        let v = read(
            "We supply 3M 1860 N95 at USD 1.85/piece, MOQ 50k. NIOSH approval TC-84A-0006. \
             FDA registration number: 3012345678. Our KN95 has EUA 200123.",
        );
        assert_eq!(v.unit_price, Some(1.85));
        assert_eq!(v.currency.as_deref(), Some("USD"));
        assert_eq!(v.minimum_order, Some(50_000.0));
        assert_eq!(v.niosh_approvals, vec!["TC-84A-0006"]);
        assert!(v.niosh_malformed.is_empty());
        assert_eq!(v.fda_numbers, vec!["3012345678", "EUA200123"]);
    }

    #[test]
    fn a_niosh_number_of_the_wrong_form_is_flagged() {
        let v = read("Certified, NIOSH TC-84A-73481 and also TC 84A 7348, see TC-21C-0123.");
        assert_eq!(v.niosh_approvals, vec!["TC-84A-7348"]);
        assert_eq!(v.niosh_malformed, vec!["TC-84A-73481", "TC-21C-0123"]);
    }

    #[test]
    fn euro_and_chinese_prices_and_minimums() {
        let v = read("Precio unitario: 0,45 EUR, pedido mínimo 10.000 unidades.");
        assert_eq!(v.unit_price, Some(0.45));
        assert_eq!(v.currency.as_deref(), Some("EUR"));
        assert_eq!(v.minimum_order, Some(10_000.0));
        let v = read("KN95口罩 单价：2.5元，最低起订量5万只。");
        assert_eq!(v.unit_price, Some(2.5));
        assert_eq!(v.currency.as_deref(), Some("CNY"));
        assert_eq!(v.minimum_order, Some(50_000.0));
    }

    #[test]
    fn a_donation_without_a_price_has_nothing_to_vet() {
        assert!(read("We can donate 200 N95 masks, pickup in Torrance 90501.").is_empty());
    }
}
