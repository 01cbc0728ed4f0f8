//! What a reply is about: [`ReplyContext`], the plain values its templates
//! see (the offer's reference, the donor, the items in the donor's words,
//! the message it answers).
//!
//! Owns: the one way a context is made, [`ReplyContext::new`], from an
//! offer's items and the donor message it answers, whether the offer is
//! being stored (the process stage's acknowledgement) or is stored already
//! ([`ReplyContext::for_offer`]: staff decisions, `templates preview`).

use serde::Serialize;

use super::kinds::ReplyKind;
use super::labels::item_text;
use super::recipient::greeting_name;
use crate::rules::ReplyNames;
use crate::store::{OfferItemRow, Store, StoreError};
use crate::values::OfferRef;

/// One item of the offer as stored: what a reply's item list is made of.
#[derive(Debug, Clone)]
pub struct ReplyItem {
    pub item: String,
    pub quantity: Option<f64>,
    pub unit: Option<String>,
    /// As the donor wrote it; it only ever enters a template as a value.
    pub model: Option<String>,
}

impl From<&OfferItemRow> for ReplyItem {
    fn from(row: &OfferItemRow) -> ReplyItem {
        ReplyItem {
            item: row.item.clone(),
            quantity: row.quantity,
            unit: row.unit.clone(),
            model: row.model.clone(),
        }
    }
}

/// One item as the template sees it, in the language of the template.
#[derive(Debug, Clone, Serialize)]
pub struct ItemLine {
    pub item: String,
    pub quantity: Option<f64>,
    pub unit: Option<String>,
    /// Ready to print: "2,000 N95 respirators".
    pub text: String,
}

impl ItemLine {
    /// `item` as the templates see it, its text in `lang`: "2,000 N95 respirators".
    pub fn new(item: &ReplyItem, names: &ReplyNames, lang: &str) -> ItemLine {
        let (unit, model) = (item.unit.as_deref(), item.model.as_deref());
        ItemLine {
            item: item.item.clone(),
            quantity: item.quantity,
            unit: item.unit.clone(),
            text: item_text(names, &item.item, item.quantity, unit, model, lang),
        }
    }
}

/// The donor's message a reply answers: where the reply goes, who to greet,
/// and the thread it joins. Its subject is not kept: no donor free text that
/// could carry a link goes into our mail.
#[derive(Debug, Clone)]
pub struct DonorMessage {
    pub email: String,
    pub name: Option<String>,
    /// Its Message-ID, for In-Reply-To and References.
    pub message_id: Option<String>,
    /// Its own References, kept in ours.
    pub references: Vec<String>,
}

/// What a reply is about; every field is a plain value for the template.
#[derive(Debug, Clone)]
pub struct ReplyContext {
    pub kind: ReplyKind,
    pub offer_id: i64,
    pub reference: String,
    pub donor_email: String,
    /// The name to greet the donor by: only one that looks like a name
    /// ([`greeting_name`]), else none and a neutral greeting.
    pub donor_name: Option<String>,
    /// The donor's language; the template falls back to English.
    pub language: Option<String>,
    /// Named in the language of the template chosen ([`ItemLine`]).
    pub items: Vec<ReplyItem>,
    /// The donor message's Message-ID (for In-Reply-To and References).
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
}

impl ReplyContext {
    /// A reply of `kind` about offer `offer_id` and its `items`, answering
    /// `donor`, in `language` (English when not known).
    pub fn new(
        kind: ReplyKind,
        offer_id: i64,
        items: &[OfferItemRow],
        donor: DonorMessage,
        language: Option<&str>,
    ) -> ReplyContext {
        let language = language.unwrap_or("en").to_string();
        ReplyContext {
            kind,
            offer_id,
            reference: OfferRef::from(offer_id).to_string(),
            donor_email: donor.email,
            donor_name: greeting_name(donor.name.as_deref()),
            items: items.iter().map(ReplyItem::from).collect(),
            language: Some(language),
            in_reply_to: donor.message_id,
            references: donor.references,
        }
    }

    /// A reply of `kind` about a stored offer, to its donor, answering the
    /// message that made the offer; in `language` if given, else the donor's.
    pub async fn for_offer(
        store: &Store,
        offer_id: i64,
        kind: ReplyKind,
        language: Option<&str>,
    ) -> Result<ReplyContext, StoreError> {
        let detail = store.offer(offer_id).await?;
        let original = store.decision(offer_id).await?.message_id;
        let offer = detail.offer;
        let donor = DonorMessage {
            email: offer.donor_email,
            name: offer.donor_name,
            message_id: store.rfc_message_id(original).await?,
            references: Vec::new(),
        };
        let language = language.or(offer.language.as_deref());
        Ok(ReplyContext::new(
            kind,
            offer_id,
            &detail.items,
            donor,
            language,
        ))
    }
}
