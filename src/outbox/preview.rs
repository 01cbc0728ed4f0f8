//! What `supplyline templates preview KIND --offer ID` shows: the reply of
//! that kind for a stored offer, rendered and built exactly as it would be
//! enqueued, with the offer's own values where it has them and samples
//! elsewhere.
//!
//! Owns: building a [`ReplyContext`] from the store (as the process stage
//! does for the acknowledgement and the web for decisions) and choosing the
//! extra values. Does not own: sending or enqueueing anything.

use std::collections::BTreeMap;

use super::compose::{extra_keys, sample_extra, ItemLine, KINDS};
use super::needs;
use super::{Composer, ReplyContext, TemplateError};
use crate::store::{NewReply, Store, StoreError};

/// A preview that cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    #[error("no reply kind {0:?}; the kinds are {kinds}", kinds = KINDS.join(", "))]
    UnknownKind(String),
    #[error("a {kind} reply gets no value {key:?}; it gets: {known}")]
    UnknownValue {
        kind: String,
        key: String,
        known: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Template(#[from] TemplateError),
}

/// The whole reply of `kind` for offer `offer_id`, in `lang` if given (else
/// the donor's), with `set` overriding the extra values.
pub async fn preview(
    store: &Store,
    composer: &Composer,
    kind: &str,
    offer_id: i64,
    lang: Option<&str>,
    set: &[(String, String)],
) -> Result<NewReply, PreviewError> {
    if !KINDS.contains(&kind) {
        return Err(PreviewError::UnknownKind(kind.into()));
    }
    let ctx = offer_context(store, offer_id, kind, lang).await?;
    let mut extra = offer_values(store, offer_id, kind).await?;
    let known = extra_keys(kind);
    for (key, value) in set {
        if !known.contains(&key.as_str()) {
            return Err(PreviewError::UnknownValue {
                kind: kind.into(),
                key: key.clone(),
                known: if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                },
            });
        }
        extra.insert(key.clone(), value.clone());
    }
    Ok(composer.compose_kind(&ctx, &extra)?)
}

/// The reply context of a stored offer, as process and the web build it.
pub async fn offer_context(
    store: &Store,
    offer_id: i64,
    kind: &str,
    lang: Option<&str>,
) -> Result<ReplyContext, StoreError> {
    let detail = store.offer(offer_id).await?;
    let o = detail.offer;
    let lang = lang
        .map(str::to_string)
        .or(o.language)
        .unwrap_or_else(|| "en".into());
    let original = store.decision(offer_id).await?.message_id;
    let items = detail
        .items
        .iter()
        .map(|it| {
            ItemLine::new(
                &it.item,
                it.quantity,
                it.unit.as_deref(),
                it.model.as_deref(),
                &lang,
            )
        })
        .collect();
    Ok(ReplyContext {
        kind: kind.into(),
        offer_id,
        reference: o.reference.to_string(),
        donor_email: o.donor_email,
        donor_name: o.donor_name,
        language: Some(lang),
        items,
        received_subject: o.subject,
        in_reply_to: store.rfc_message_id(original).await?,
        references: Vec::new(),
    })
}

/// The samples for `kind`, replaced by what the offer knows: the pickup
/// site and window staff chose, the decline reason, what is missing.
async fn offer_values(
    store: &Store,
    offer_id: i64,
    kind: &str,
) -> Result<BTreeMap<String, String>, StoreError> {
    let mut extra = sample_extra(kind);
    let decision = store.decision(offer_id).await?;
    let mut known = Vec::new();
    if let (Some(site), Some(window)) = (decision.pickup_site, decision.pickup_window) {
        if let Some(s) = store
            .pickup_sites()
            .await?
            .into_iter()
            .find(|s| s.name == site)
        {
            known.push(("pickup_address", s.address));
            known.push(("pickup_notes", s.notes));
        }
        known.push(("pickup_site", site));
        known.push(("pickup_window", window));
    }
    if let Some(reason) = decision.decline_reason {
        known.push(("decline_reason", reason));
    }
    if kind == "needs_info" {
        let detail = store.offer(offer_id).await?;
        let pickup = needs::pickup_from_json(detail.pickup_json.as_deref());
        let missing = needs::missing(detail.items.iter().map(|i| i.quantity), pickup.as_ref());
        extra.extend(needs::extra_values(&missing));
    }
    for (key, value) in known {
        if extra.contains_key(key) {
            extra.insert(key.to_string(), value);
        }
    }
    Ok(extra)
}
