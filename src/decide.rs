//! The decide stage: what staff decide about an offer, for the web desk and
//! the command line alike. Accept with a pickup slot ([`accept`]), decline
//! ([`decline`]), spam ([`spam`]), merge a duplicate ([`merge`]), record
//! what arrived ([`received`]), write to the donor ([`reply`], or in
//! staff's own words: [`write_to_donor`]), and send on
//! or discard a reply held for approval ([`send_held`], [`discard_held`]).
//!
//! Owns: which decision is allowed when (asked of
//! [`OfferStatus::can_become`] inside the decision's transaction, so two
//! people deciding at once cannot both win), what each writes (the offer
//! change, the audit row by the [`Desk`]'s actor, and the email the donor
//! gets, all in one [`DecisionTx`]), and the email's values. Does not own:
//! SQL (`store::deciding`), rendering (`outbox`), reading forms or
//! arguments (`web`, `main`).

use std::collections::BTreeMap;

use crate::outbox::kinds::{ReplyKind, DECISION_VALUES};
use crate::outbox::{Composer, ReplyContext, TemplateError};
use crate::state::{OfferStatus, ReplyState};
use crate::store::{fmt_qty, DecisionTx, NewReply, Store, StoreError};
use crate::values::OfferRef;

/// A decision staff make about an offer, as its audit row and its undo
/// window name it (`accepted`, `declined`, ...), and the status it leaves
/// the offer in: one place for both, so the desk's Undo, its confirmation
/// and the history agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decided {
    Accepted,
    Declined,
    MarkedSpam,
    MergedInto,
    Received,
}

impl Decided {
    /// The audit action (and undo window action).
    pub fn action(self) -> &'static str {
        match self {
            Decided::Accepted => "accepted",
            Decided::Declined => "declined",
            Decided::MarkedSpam => "marked_spam",
            Decided::MergedInto => "merged_into",
            Decided::Received => "received",
        }
    }

    /// The status the decision leaves the offer in.
    pub fn status_after(self) -> OfferStatus {
        match self {
            Decided::Accepted => OfferStatus::Scheduled,
            Decided::Declined => OfferStatus::Declined,
            Decided::MarkedSpam => OfferStatus::Spam,
            Decided::MergedInto => OfferStatus::Merged,
            Decided::Received => OfferStatus::Received,
        }
    }
}

/// Who decides, and with what: the store, the composer of the donor's
/// emails, and the name written in the audit rows (a staff email address,
/// or `cli:<user>`).
#[derive(Clone, Copy)]
pub struct Desk<'a> {
    pub store: &'a Store,
    pub composer: &'a Composer,
    pub actor: &'a str,
}

/// A pickup slot: one of the configured sites (by name), a window as the
/// donor will read it, and notes for the donor (the site's own when `None`).
#[derive(Debug, Clone)]
pub struct Pickup {
    pub site: String,
    pub window: String,
    pub notes: Option<String>,
}

/// Why a decision was not made.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    #[error("no {0} with that id")]
    NotFound(&'static str),
    #[error("this offer is {0} and cannot be changed")]
    Closed(OfferStatus),
    #[error("an offer cannot be merged into itself")]
    SelfMerge,
    #[error("{0} is {1} and cannot take another offer")]
    MergeTargetClosed(OfferRef, OfferStatus),
    #[error("no pickup site is named {0:?}; choose a pickup site")]
    UnknownSite(String),
    #[error("this reply is {0}, not held")]
    NotHeld(ReplyState),
    #[error("the donor's address {0:?} cannot receive email; decide without emailing")]
    Undeliverable(String),
    #[error("rendering the {kind} email")]
    Template {
        kind: ReplyKind,
        #[source]
        source: TemplateError,
    },
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for DecideError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => DecideError::NotFound(what),
            other => DecideError::Store(other),
        }
    }
}

/// Accepts an offer with a pickup site and a free-text window, booking no
/// slot, and queues the pickup email. The desk and the command line book a
/// slot through `crate::slots` instead.
pub async fn accept(desk: Desk<'_>, offer: OfferRef, pickup: &Pickup) -> Result<(), DecideError> {
    let email = pickup_email(desk, offer, pickup).await?;
    let id = offer.id();
    let mut tx = begin(desk, offer, OfferStatus::Scheduled, None).await?;
    tx.set_pickup(id, &pickup.site, &pickup.window).await?;
    let detail = format!("{}, {}", pickup.site, pickup.window);
    tx.audit(desk.actor, Some(id), Decided::Accepted.action(), &detail)
        .await?;
    tx.enqueue(id, &email).await?;
    Ok(tx.commit().await?)
}

/// The pickup email for `pickup`, as [`accept`] queues it.
async fn pickup_email(
    desk: Desk<'_>,
    offer: OfferRef,
    pickup: &Pickup,
) -> Result<NewReply, DecideError> {
    let site = desk
        .store
        .pickup_sites()
        .await?
        .into_iter()
        .find(|s| s.name == pickup.site)
        .ok_or_else(|| DecideError::UnknownSite(pickup.site.clone()))?;
    let notes = pickup.notes.as_deref().unwrap_or(&site.notes);
    let values = [
        ("pickup_site", site.name.as_str()),
        ("pickup_address", &site.address),
        ("pickup_window", &pickup.window),
        ("pickup_notes", notes),
    ];
    staff_email(desk, offer, ReplyKind::Pickup, &values).await
}

/// Declines an offer for `reason`; the donor is told when `notify`.
pub async fn decline(
    desk: Desk<'_>,
    offer: OfferRef,
    reason: &str,
    notify: bool,
) -> Result<(), DecideError> {
    Ok(decline_tx(desk, offer, reason, notify, None)
        .await?
        .commit()
        .await?)
}

/// The email a decline for `reason` sends (the desk shows it first).
pub async fn decline_email(
    desk: Desk<'_>,
    offer: OfferRef,
    reason: &str,
) -> Result<NewReply, DecideError> {
    staff_email(
        desk,
        offer,
        ReplyKind::Decline,
        &[("decline_reason", reason)],
    )
    .await
}

/// [`decline`], left uncommitted, its email due at `hold`.
pub async fn decline_tx(
    desk: Desk<'_>,
    offer: OfferRef,
    reason: &str,
    notify: bool,
    hold: Option<i64>,
) -> Result<DecisionTx, DecideError> {
    let email = match notify {
        true => Some(decline_email(desk, offer, reason).await?),
        false => None,
    };
    let id = offer.id();
    let mut tx = begin(desk, offer, OfferStatus::Declined, hold).await?;
    tx.set_decline_reason(id, reason).await?;
    tx.audit(desk.actor, Some(id), Decided::Declined.action(), reason)
        .await?;
    if let Some(email) = &email {
        tx.enqueue(id, email).await?;
    }
    Ok(tx)
}

/// Marks an offer as spam; nothing is sent.
pub async fn spam(desk: Desk<'_>, offer: OfferRef) -> Result<(), DecideError> {
    Ok(spam_tx(desk, offer).await?.commit().await?)
}

/// [`spam`], left uncommitted.
pub async fn spam_tx(desk: Desk<'_>, offer: OfferRef) -> Result<DecisionTx, DecideError> {
    let id = offer.id();
    let mut tx = begin(desk, offer, OfferStatus::Spam, None).await?;
    tx.audit(desk.actor, Some(id), Decided::MarkedSpam.action(), "")
        .await?;
    Ok(tx)
}

/// Merges a duplicate into another open offer: its messages join that
/// offer's thread, and it is closed as `merged`. Nothing is sent.
pub async fn merge(desk: Desk<'_>, offer: OfferRef, into: OfferRef) -> Result<(), DecideError> {
    Ok(merge_tx(desk, offer, into).await?.commit().await?)
}

/// [`merge`], left uncommitted.
pub async fn merge_tx(
    desk: Desk<'_>,
    offer: OfferRef,
    into: OfferRef,
) -> Result<DecisionTx, DecideError> {
    if offer == into {
        return Err(DecideError::SelfMerge);
    }
    let mut tx = begin(desk, offer, OfferStatus::Merged, None).await?;
    let target = tx.offer_status(into.id()).await?;
    if !target.can_take_merge() {
        return Err(DecideError::MergeTargetClosed(into, target));
    }
    tx.fold_into(offer.id(), into.id()).await?;
    let (from_ref, into_ref) = (offer.to_string(), into.to_string());
    tx.audit(
        desk.actor,
        Some(offer.id()),
        Decided::MergedInto.action(),
        &into_ref,
    )
    .await?;
    tx.audit(desk.actor, Some(into.id()), "merged_from", &from_ref)
        .await?;
    Ok(tx)
}

/// Records what arrived per item line (`(item id, quantity)`; lines not of
/// this offer are ignored), closes the offer as `received`, and queues the
/// thank-you.
pub async fn received(
    desk: Desk<'_>,
    offer: OfferRef,
    quantities: &[(i64, f64)],
) -> Result<(), DecideError> {
    Ok(received_tx(desk, offer, quantities, None)
        .await?
        .commit()
        .await?)
}

/// [`received`], left uncommitted, the thank-you due at `hold`.
pub async fn received_tx(
    desk: Desk<'_>,
    offer: OfferRef,
    quantities: &[(i64, f64)],
    hold: Option<i64>,
) -> Result<DecisionTx, DecideError> {
    let thanks = staff_email(desk, offer, ReplyKind::Thanks, &[]).await?;
    let id = offer.id();
    let mut tx = begin(desk, offer, OfferStatus::Received, hold).await?;
    let mut detail = Vec::new();
    for &(item_id, quantity) in quantities {
        if let Some(item) = tx.set_received(id, item_id, quantity).await? {
            detail.push(format!("{item} × {}", fmt_qty(Some(quantity))));
        }
    }
    tx.audit(
        desk.actor,
        Some(id),
        Decided::Received.action(),
        &detail.join(", "),
    )
    .await?;
    tx.enqueue(id, &thanks).await?;
    Ok(tx)
}

/// Writes to the donor: a reply of `kind` with the template values
/// `values`, queued with an audit row; the offer's status is unchanged.
/// False when the very same reply was queued before.
pub async fn reply(
    desk: Desk<'_>,
    offer: OfferRef,
    kind: ReplyKind,
    values: &[(&str, &str)],
) -> Result<bool, DecideError> {
    let email = staff_email(desk, offer, kind, values).await?;
    let id = offer.id();
    let mut tx = desk.store.begin_decision().await?;
    let queued = tx.enqueue(id, &email).await?;
    if queued {
        tx.audit(desk.actor, Some(id), "replied", kind.as_str())
            .await?;
    }
    tx.commit().await?;
    Ok(queued)
}

/// The email of a reply staff wrote (`body`, as typed) to the offer's
/// donor, in the donor's language, answering the donor's latest message of
/// the thread: what the desk previews and what [`write_to_donor`] queues,
/// byte for byte.
pub async fn message_email(
    desk: Desk<'_>,
    offer: OfferRef,
    body: &str,
) -> Result<NewReply, DecideError> {
    let kind = ReplyKind::Message;
    let mut ctx = ReplyContext::for_offer(desk.store, offer.id(), kind, None).await?;
    if let Some((parent, references)) = latest_from_donor(desk.store, &ctx).await? {
        ctx.in_reply_to = Some(parent);
        ctx.references = references;
    }
    let extra = BTreeMap::from([(
        crate::outbox::kinds::MESSAGE_BODY.to_string(),
        body.to_string(),
    )]);
    compose_staff(desk, &ctx, &extra)
}

/// The Message-ID and References of the donor's latest message in the
/// offer's thread, when it is not the first and has a Message-ID.
async fn latest_from_donor(
    store: &Store,
    ctx: &ReplyContext,
) -> Result<Option<(String, Vec<String>)>, DecideError> {
    let Some(id) = store
        .latest_message_from(ctx.offer_id, &ctx.donor_email)
        .await?
    else {
        return Ok(None);
    };
    let raw = store.message_raw(id).await?;
    match crate::mail::parse(&raw) {
        Ok(m) => Ok(m.message_id.map(|id| (id, m.references))),
        Err(error) => {
            tracing::warn!(message = id, %error, "the donor's latest message does not parse; the reply goes out unthreaded");
            Ok(None)
        }
    }
}

/// Queues a reply staff wrote, with an audit row; the offer's status is
/// unchanged, and a request or inquiry not yet handled becomes answered.
/// False when the very same text was queued before (a resent form).
pub async fn write_to_donor(
    desk: Desk<'_>,
    offer: OfferRef,
    body: &str,
) -> Result<bool, DecideError> {
    let email = message_email(desk, offer, body).await?;
    Ok(desk
        .store
        .enqueue_staff_reply(offer.id(), desk.actor, &email)
        .await?)
}

/// Sends a held reply on: it becomes `pending`, due now.
pub async fn send_held(desk: Desk<'_>, reply_id: i64) -> Result<(), DecideError> {
    settle_held(desk, reply_id, ReplyState::Pending, "held_reply_sent").await
}

/// Discards a held reply: it is kept, as `discarded`, and never sent.
pub async fn discard_held(desk: Desk<'_>, reply_id: i64) -> Result<(), DecideError> {
    settle_held(
        desk,
        reply_id,
        ReplyState::Discarded,
        "held_reply_discarded",
    )
    .await
}

async fn settle_held(
    desk: Desk<'_>,
    reply_id: i64,
    next: ReplyState,
    action: &str,
) -> Result<(), DecideError> {
    let mut tx = desk.store.begin_decision().await?;
    let reply = tx.reply(reply_id).await?;
    if !reply.state.is_held() {
        return Err(DecideError::NotHeld(reply.state));
    }
    tx.set_reply_state(reply_id, next).await?;
    let detail = format!("reply {reply_id}");
    tx.audit(desk.actor, reply.offer_id, action, &detail)
        .await?;
    Ok(tx.commit().await?)
}

/// Starts the decision taking `offer` to `next`, when its status allows
/// ([`OfferStatus::can_become`]); the new status is written already. Its
/// replies fall due at `hold` (now when `None`).
pub(crate) async fn begin(
    desk: Desk<'_>,
    offer: OfferRef,
    next: OfferStatus,
    hold: Option<i64>,
) -> Result<DecisionTx, DecideError> {
    let mut tx = desk.store.begin_decision().await?;
    tx.hold_replies_until(hold);
    let status = tx.offer_status(offer.id()).await?;
    if !status.can_become(next) {
        return Err(DecideError::Closed(status));
    }
    tx.set_status(offer.id(), next).await?;
    Ok(tx)
}

/// The email of a staff decision: a reply of `kind` to the offer's donor,
/// with the decision's `values` (every other decision value blank), sent
/// because a person decided (not automatic).
pub(crate) async fn staff_email(
    desk: Desk<'_>,
    offer: OfferRef,
    kind: ReplyKind,
    values: &[(&str, &str)],
) -> Result<NewReply, DecideError> {
    let mut extra: BTreeMap<String, String> = DECISION_VALUES
        .iter()
        .map(|k| (k.to_string(), String::new()))
        .collect();
    for (k, v) in values {
        extra.insert(k.to_string(), v.to_string());
    }
    let ctx = ReplyContext::for_offer(desk.store, offer.id(), kind, None).await?;
    compose_staff(desk, &ctx, &extra)
}

/// Renders a reply staff caused, marked as sent because a person decided.
fn compose_staff(
    desk: Desk<'_>,
    ctx: &ReplyContext,
    extra: &BTreeMap<String, String>,
) -> Result<NewReply, DecideError> {
    let kind = ctx.kind;
    let mut email = desk
        .composer
        .compose_kind(ctx, extra)
        .map_err(|source| match source {
            TemplateError::Address(address) => DecideError::Undeliverable(address),
            source => DecideError::Template { kind, source },
        })?;
    email.automatic = false;
    Ok(email)
}
