//! The rule-file format: what an operator writes in `rules/*.toml`.
//!
//! Every file has the same shape and may hold any of the sections below; a
//! rule set is all files of a folder, merged in name order. Each file carries
//! its own `[[example]]` cases, run by [`super::self_test`]. Loading refuses a
//! malformed file with its name, line and reason ([`RuleError::Invalid`]).

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::RuleError;

/// Terms per language tag: `{ en = [...], es = [...] }`.
pub type Terms = BTreeMap<String, Vec<String>>;

/// What donors read, per language tag: `{ en = "exam gloves", es = "guantes de examen" }`.
pub type Names = BTreeMap<String, String>;

/// One rule file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    /// Catalog items: the words and model numbers that name them.
    #[serde(default)]
    pub item: Vec<ItemRule>,
    /// Units and containers ("box", "cajas", "箱").
    #[serde(default)]
    pub unit: Vec<UnitRule>,
    /// Small words with a grammatical role ("of", "per", "each").
    #[serde(default)]
    pub word: Vec<WordRule>,
    /// Number words and multipliers per language.
    #[serde(default)]
    pub number: Vec<NumberRule>,
    /// Text that is never a quantity (phones, years, sizes, prices...).
    #[serde(default)]
    pub never: Vec<PatternRule>,
    /// Negation cues: items in their scope are not offered.
    #[serde(default)]
    pub negation: Vec<NegationRule>,
    /// Category signals with weights.
    #[serde(default)]
    pub signal: Vec<SignalRule>,
    /// Patterns for contact, pickup, condition and expiry fields.
    #[serde(default)]
    pub field: Vec<FieldRule>,
    /// Stop words for language detection.
    #[serde(default)]
    pub language: Vec<LanguageRule>,
    /// How signal scores become one category.
    pub decision: Option<Decision>,
    /// Worked examples: input text and what the rules must find.
    #[serde(default)]
    pub example: Vec<Example>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemRule {
    pub id: Spanned<String>,
    /// Specific names: count with or without a quantity.
    #[serde(default)]
    pub terms: Terms,
    /// Vague names ("masks", "口罩"): count only with a quantity, and give
    /// way to a specific name next to them ("N95 masks", "KN95口罩").
    #[serde(default)]
    pub generic: Terms,
    /// Regexes for model names; the matched text becomes `model`.
    #[serde(default)]
    pub models: Vec<Spanned<String>>,
    /// Items that make a generic name of this one precise: "200 masks"
    /// becomes N95s when the message names N95s without a count elsewhere.
    #[serde(default)]
    pub refined_by: Vec<Spanned<String>>,
    /// The item's name in replies, per language (plural, as in "2,000 N95
    /// respirators"); a language without one uses English, then the id.
    #[serde(default)]
    pub names: Names,
    /// What quantities are normalised to: "piece" (the default) or "litre"
    /// ([`super::catalog`]).
    #[serde(default)]
    pub base_unit: Option<Spanned<String>>,
    /// Base units in one container when the email does not say
    /// (`{ box = 100, case = 1000 }`): a default, marked as assumed.
    #[serde(default)]
    pub packs: BTreeMap<String, Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitRule {
    /// The contract unit: each, pair, box, case, pallet, bottle, gallon, liter, roll, kit.
    pub id: Spanned<String>,
    /// A container holds pieces: "3 boxes (50 per box)" is 150 each.
    #[serde(default)]
    pub container: bool,
    pub terms: Terms,
    /// How a count of this unit reads in replies, per language: the words
    /// between the number and the item ("boxes of", "cajas de"), or the
    /// counter after the number in Chinese and Korean ("盒", "상자").
    #[serde(default)]
    pub names: Names,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WordRule {
    /// of, per, each.
    pub role: Spanned<String>,
    pub terms: Terms,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumberRule {
    /// Which language the words are; documentation for operators.
    #[allow(dead_code)]
    pub lang: String,
    /// Words that add their value: one = 1, twenty = 20, doscientos = 200.
    #[serde(default)]
    pub values: BTreeMap<String, f64>,
    /// Words that multiply what precedes: hundred, thousand, mil, 万.
    #[serde(default)]
    pub multipliers: BTreeMap<String, f64>,
    /// Articles that mean one only right before an item or unit ("a box
    /// of", "un termómetro"); before a number word they mean nothing ("a dozen").
    #[serde(default)]
    pub articles: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatternRule {
    pub name: String,
    pub pattern: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NegationRule {
    pub name: String,
    pub pattern: Spanned<String>,
    /// "right" (English "we don't have N95s"), "left" (Korean "마스크는 없습니다")
    /// or "match" (the cue's own text: "a church donated 500 masks to us").
    #[serde(default = "right")]
    pub scope: String,
}

fn right() -> String {
    "right".to_string()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalRule {
    pub name: String,
    pub category: Spanned<String>,
    pub weight: f64,
    /// subject, body, text (subject and body), from, headers.
    #[serde(rename = "in")]
    pub scope: Spanned<String>,
    pub pattern: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldRule {
    pub name: String,
    /// phone, fax, postal_code, address, deliver, pickup, price,
    /// condition_new, condition_used, condition_expired, expires, organization.
    pub field: Spanned<String>,
    pub pattern: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LanguageRule {
    pub lang: String,
    pub words: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// Minimum score per category for it to win.
    pub threshold: BTreeMap<String, f64>,
    /// Added to the offer score when the message names items.
    pub items_weight: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Example {
    /// The rule (or behaviour) this example checks.
    pub rule: Spanned<String>,
    pub text: String,
    #[serde(default)]
    pub subject: String,
    /// Items as "id quantity unit" or "id" alone; exactly these must be found.
    #[serde(default)]
    pub expect: Option<Vec<String>>,
    pub category: Option<String>,
    pub phone: Option<String>,
    pub postal_code: Option<String>,
    pub language: Option<String>,
    pub can_deliver: Option<bool>,
}

/// Parses one file's text; `file` names it in errors.
pub fn parse_file(file: &str, text: &str) -> Result<RuleFile, RuleError> {
    toml::from_str(text).map_err(|e| RuleError::Invalid {
        file: file.to_string(),
        line: e.span().map_or(0, |s| line_of(text, s.start)),
        reason: e.message().to_string(),
    })
}

use crate::error_text::line_of;

/// An error about a value at `span` in `file`.
pub fn invalid(file: &str, text: &str, span: std::ops::Range<usize>, reason: String) -> RuleError {
    RuleError::Invalid {
        file: file.to_string(),
        line: line_of(text, span.start),
        reason,
    }
}
