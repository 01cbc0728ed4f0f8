//! What `supplyline templates preview KIND --offer ID` shows: the reply of
//! that kind for a stored offer, rendered and built exactly as it would be
//! enqueued, with the offer's own values where it has them and samples
//! elsewhere.
//!
//! Owns: choosing the extra values (the offer's where it has them, samples
//! elsewhere, `--set` over both). Does not own: the reply's context
//! ([`ReplyContext::for_offer`], as for staff decisions) nor sending or
//! enqueueing anything.

use std::collections::BTreeMap;

use super::kinds::ReplyKind;
use super::needs;
use super::{Composer, ReplyContext, TemplateError};
use crate::store::{NewReply, Store, StoreError};

/// A preview that cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    #[error("a {kind} reply gets no value {key:?}; it gets: {known}")]
    UnknownValue {
        kind: ReplyKind,
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
    kind: ReplyKind,
    offer_id: i64,
    lang: Option<&str>,
    set: &[(String, String)],
) -> Result<NewReply, PreviewError> {
    let ctx = ReplyContext::for_offer(store, offer_id, kind, lang).await?;
    let mut extra = offer_values(store, offer_id, kind).await?;
    let known = kind.extra_keys();
    for (key, value) in set {
        if !known.contains(&key.as_str()) {
            return Err(PreviewError::UnknownValue {
                kind,
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

/// The samples for `kind`, replaced by what the offer knows: the pickup
/// site and window staff chose, the decline reason, what is missing.
async fn offer_values(
    store: &Store,
    offer_id: i64,
    kind: ReplyKind,
) -> Result<BTreeMap<String, String>, StoreError> {
    let mut extra = kind.sample_extra();
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
    if kind == ReplyKind::NeedsInfo {
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
