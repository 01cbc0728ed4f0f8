//! Loading rule files and running them: the item catalog with synonyms,
//! numbers and units, categories, contact and pickup fields.
//!
//! Owns: the rule-file format, compiling rules into matchers once, and
//! `extract`, which turns a [`ParsedMessage`] into an [`Extraction`] whose JSON
//! form is the contract of `supplyline extract --json`.
//!
//! # Layout
//!
//! - `format`: the TOML rule-file schema, and errors with file and line.
//! - `compile`: rule files into one Aho-Corasick lexicon and regex sets.
//! - `numbers`: digits in both thousands conventions, Chinese numerals, number words.
//! - `lex`: text into tokens (items, units, small words, numbers).
//! - `grammar`: which number belongs to which item, pack sizes, negation.
//! - `fields`: contact, pickup, condition, expiry, price; lots into [`Item`]s.
//! - `vetting`: a seller's price, minimum order and approval numbers.
//! - `classify`: category scores and decision, language.
//! - `selftest`: runs each rule file's examples.
//! - `names`: item and unit names for replies, per language ([`ReplyNames`]).
//! - `explain`: the `--explain` report.

pub mod catalog;
mod classify;
mod compile;
mod explain;
mod fields;
mod format;
mod grammar;
mod lex;
mod names;
mod numbers;
mod selftest;
mod spans;
mod vetting;

use std::path::Path;

use serde::Serialize;

use crate::mail::ParsedMessage;

/// What kind of message this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Offer,
    Sale,
    Request,
    Inquiry,
    AutoReply,
    Bounce,
    Spam,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Offer => "offer",
            Category::Sale => "sale",
            Category::Request => "request",
            Category::Inquiry => "inquiry",
            Category::AutoReply => "auto_reply",
            Category::Bounce => "bounce",
            Category::Spam => "spam",
        }
    }
}

/// Where in the clean text a value was found, and by which rule.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Span {
    pub field: String,
    pub start: usize,
    pub end: usize,
    pub rule: String,
}

/// One lot offered.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Item {
    pub item: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// Evidence for the triage UI and `--explain`; not part of the JSON contract.
    #[serde(skip)]
    pub spans: Vec<Span>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Contact {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Pickup {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_deliver: Option<bool>,
}

/// Everything the rules found in one message.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Extraction {
    pub category: Category,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    pub items: Vec<Item>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<Contact>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pickup: Option<Pickup>,
    pub price_quoted: bool,
    /// For sales and offers: price per piece, minimum order and approval
    /// numbers, for staff to check (an extra field of the contract).
    #[serde(skip_serializing_if = "Vetting::is_empty")]
    pub vetting: Vetting,
}

/// A rule file that cannot be loaded: names the file, line and rule.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("{file}:{line}: {reason}")]
    Invalid {
        file: String,
        line: usize,
        reason: String,
    },
    #[error("cannot read rule file {file}: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
}

pub use compile::Rules;
pub use names::ReplyNames;
pub use selftest::{self_test, Failure};
pub use vetting::Vetting;

/// The rule files shipped in the binary: the files of `rules/`, in name order.
pub const EMBEDDED: &[(&str, &str)] = &[
    ("catalog.toml", include_str!("../../rules/catalog.toml")),
    (
        "categories.toml",
        include_str!("../../rules/categories.toml"),
    ),
    ("fields.toml", include_str!("../../rules/fields.toml")),
    ("lang-es.toml", include_str!("../../rules/lang-es.toml")),
    ("lang-ko.toml", include_str!("../../rules/lang-ko.toml")),
    (
        "lang-other.toml",
        include_str!("../../rules/lang-other.toml"),
    ),
    ("lang-tl.toml", include_str!("../../rules/lang-tl.toml")),
    ("lang-vi.toml", include_str!("../../rules/lang-vi.toml")),
    ("lang-zh.toml", include_str!("../../rules/lang-zh.toml")),
    ("languages.toml", include_str!("../../rules/languages.toml")),
    ("numbers.toml", include_str!("../../rules/numbers.toml")),
    ("units.toml", include_str!("../../rules/units.toml")),
];

/// Every `*.toml` file of `dir` as (path, text), in name order.
fn read_rule_dir(dir: &Path) -> Result<Vec<(String, String)>, RuleError> {
    let io = |e: std::io::Error| RuleError::Io {
        file: dir.display().to_string(),
        source: e,
    };
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    let mut files = Vec::with_capacity(paths.len());
    for p in paths {
        let text = std::fs::read_to_string(&p).map_err(|e| RuleError::Io {
            file: p.display().to_string(),
            source: e,
        })?;
        files.push((p.display().to_string(), text));
    }
    Ok(files)
}

impl Rules {
    /// The rule files shipped inside the binary (a copy of `rules/`).
    pub fn embedded() -> Result<Rules, RuleError> {
        let files: Vec<(String, String)> = EMBEDDED
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect();
        compile::compile(&files)
    }

    /// Loads every `*.toml` rule file in `dir`, in name order.
    pub fn load_dir(dir: &Path) -> Result<Rules, RuleError> {
        compile::compile(&read_rule_dir(dir)?)
    }

    /// These rules, reading the receiving server's spam verdict
    /// (`X-Spam-Flag`, `X-Spam-Status`, `X-Spamd-Result` above our first
    /// `Received:`) as a spam signal when `trust` is set.
    pub fn trusting_spam_headers(mut self, trust: bool) -> Rules {
        self.trust_spam_headers = trust;
        self
    }

    /// Runs the rules on one message.
    pub fn extract(&self, msg: &ParsedMessage) -> Extraction {
        let text = haystack(msg);
        let subject_lots = self.lots_in(&msg.subject);
        let body_lots = grammar::refine(self, self.lots_in(&text), &subject_lots);
        let mut items = fields::to_items(self, &text, body_lots);
        if items.is_empty() {
            items = fields::to_items(self, &msg.subject, subject_lots);
            for s in items.iter_mut().flat_map(|it| it.spans.iter_mut()) {
                s.field = format!("subject {}", s.field);
            }
        }
        let scores = classify::scores(self, msg, &text, !items.is_empty());
        let category = classify::decide(self, &scores, !items.is_empty());
        if !matches!(
            category,
            Category::Offer | Category::Sale | Category::Request
        ) {
            items.clear();
        }
        let contact_text = fields::contact_text(msg);
        let contact = fields::contact(self, msg, &contact_text);
        let pickup = fields::pickup(self, msg, &contact_text);
        let vetting = match category {
            Category::Offer | Category::Sale => vetting::vetting(self, &text),
            _ => Vetting::default(),
        };
        Extraction {
            category,
            language: classify::language(self, msg),
            items,
            contact: (contact != Contact::default()).then_some(contact),
            pickup: (pickup != Pickup::default()).then_some(pickup),
            price_quoted: fields::price_quoted(self, &text),
            vetting,
        }
    }

    /// The lots named in `text`.
    fn lots_in(&self, text: &str) -> Vec<grammar::Lot> {
        if text.is_empty() {
            return Vec::new();
        }
        grammar::lots(self, text, lex::tokenize(self, text))
    }

    /// [`explain`], followed by the category signals that fired with their
    /// weights: the report `--explain` should print when it has the rules.
    pub fn explain_full(
        &self,
        msg: &ParsedMessage,
        extraction: &Extraction,
        spans: bool,
    ) -> String {
        let mut out = explain(msg, extraction, spans);
        out.push_str("category signals:\n");
        for (name, category, weight) in self.signals(msg) {
            out.push_str(&format!("  {category} {weight:+} ← {name}\n"));
        }
        if !extraction.items.is_empty() {
            let w = self.decision.items_weight;
            out.push_str(&format!("  offer {w:+} ← items named\n"));
        }
        out
    }

    /// The category signals that fire on a message: (name, category,
    /// weight), for `--explain` and the triage UI.
    pub fn signals(&self, msg: &ParsedMessage) -> Vec<(String, String, f64)> {
        let text = haystack(msg);
        classify::fired(self, msg, &text)
    }
}

/// The text the item rules read: the clean body, then the text of each
/// inventory attachment. Spans index this text; the clean body comes first,
/// so spans within it are offsets into `clean_text` itself.
pub fn haystack(msg: &ParsedMessage) -> String {
    let mut text = msg.clean_text.clone();
    for a in &msg.attachments {
        if let Some(t) = &a.text {
            text.push_str("\n\n");
            text.push_str(t);
        }
    }
    text
}

/// A human-readable report of an extraction; with `spans`, each item and
/// field is followed by the text it came from and the rule that matched.
pub fn explain(msg: &ParsedMessage, extraction: &Extraction, spans: bool) -> String {
    explain::report(msg, extraction, spans)
}
