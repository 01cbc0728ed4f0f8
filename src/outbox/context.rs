//! What a reply is about: [`ReplyContext`], the plain values its templates
//! see (the offer's reference, the donor, the items in the donor's words,
//! the message it answers).

use serde::Serialize;

use super::kinds::ReplyKind;

/// One item as the template sees it.
#[derive(Debug, Clone, Serialize)]
pub struct ItemLine {
    pub item: String,
    pub quantity: Option<f64>,
    pub unit: Option<String>,
    /// Ready to print: "2,000 N95 respirators".
    pub text: String,
}

impl ItemLine {
    /// An item as the templates see it, its text in `lang`: "2,000 N95 respirators".
    pub fn new(
        item: &str,
        quantity: Option<f64>,
        unit: Option<&str>,
        model: Option<&str>,
        lang: &str,
    ) -> ItemLine {
        ItemLine {
            item: item.to_string(),
            quantity,
            unit: unit.map(str::to_string),
            text: super::labels::item_text(item, quantity, unit, model, lang),
        }
    }
}

/// What a reply is about; every field is a plain value for the template.
#[derive(Debug, Clone)]
pub struct ReplyContext {
    pub kind: ReplyKind,
    pub offer_id: i64,
    pub reference: String,
    pub donor_email: String,
    pub donor_name: Option<String>,
    /// The donor's language; the template falls back to English.
    pub language: Option<String>,
    pub items: Vec<ItemLine>,
    pub received_subject: String,
    /// The donor message's Message-ID (for In-Reply-To and References).
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
}
