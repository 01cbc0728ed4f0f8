//! The kinds of reply and what each is given: which extra values its
//! templates may use beyond the ones every template gets, and realistic
//! samples of them for checking templates at start and for
//! `templates preview`.
//!
//! Owns: the list of kinds and the extra values. Does not own: the
//! templates themselves ([`super::templates`]) nor deciding which kind an
//! offer gets (the process stage and the web's decisions).

use std::collections::BTreeMap;

/// The kinds of reply there are templates for.
pub const KINDS: &[&str] = &["ack", "needs_info", "pickup", "decline", "thanks"];

/// The values staff decisions add for `pickup` and `decline` templates; every
/// template is checked at start with these set to samples.
pub const DECISION_VALUES: &[&str] = &[
    "pickup_site",
    "pickup_address",
    "pickup_window",
    "pickup_notes",
    "decline_reason",
];

/// Extra values given as comma-separated text that templates see as a list:
/// `missing` (see [`needs`](super::needs)).
pub const LIST_VALUES: &[&str] = &["missing"];

/// The extra values a kind of reply is given when it is sent: what its
/// templates may use, and all they are checked with at start, so a template
/// that uses another kind's value fails at start, not at send time.
/// An unknown kind (a template an operator added) gets every value.
pub fn extra_keys(kind: &str) -> Vec<&'static str> {
    match kind {
        "ack" | "thanks" => vec![],
        "needs_info" => vec!["missing"],
        "pickup" | "decline" => DECISION_VALUES.to_vec(),
        _ => DECISION_VALUES.iter().chain(LIST_VALUES).copied().collect(),
    }
}

/// Realistic samples of the extra values `kind` gets: what templates are
/// checked with at start and what `templates preview` shows by default.
pub fn sample_extra(kind: &str) -> BTreeMap<String, String> {
    let sample = |key: &str| match key {
        "pickup_site" => "Central depot",
        "pickup_address" => "100 Main St, Torrance CA 90501",
        "pickup_window" => "Friday 1 May 2026 09:00–11:00",
        "pickup_notes" => "Loading dock B; ring the bell.",
        "decline_reason" => "We have enough isolation gowns for the coming weeks.",
        "missing" => "quantity,pickup_address",
        _ => "sample",
    };
    extra_keys(kind)
        .into_iter()
        .map(|k| (k.to_string(), sample(k).to_string()))
        .collect()
}
