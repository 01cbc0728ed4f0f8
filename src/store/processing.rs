//! One transaction for a batch of processed messages: thread lookups, the
//! per-sender reply count, new offers with their items and replies, joined
//! replies and failures all happen inside it, so later messages of the
//! batch see what earlier ones wrote, and the batch costs one commit.
//! The batch's audit rows wait in memory and go in together just before
//! the commit (two fewer round trips a new offer), in the order they
//! happened: a step that writes an audit row of its own through another
//! store module (a reschedule, `store::slots`) first writes those kept so
//! far ([`ProcessingBatch::write_audit`]).
//! With several `serve` on PostgreSQL, one processing transaction runs at a
//! time (the reply limits count what is queued), and a batch commits only
//! while its run still holds every claim in it.

use sqlx::{Any, Transaction};

use super::audit::PendingAudit;
use super::offers::{insert_items, insert_offer, MessageFacts, NewOffer, OfferItemRow};
use super::outbox::NewReply;
use super::search;
use super::{now_ms, Engine, QueryBuilder, QueryContext, Store, StoreError};
use crate::outbox::recipient::normalised_address;
use crate::state::{MessageState, ReplyState};
use crate::values::OfferRef;

/// An open processing transaction. Dropped without [`commit`](Self::commit), it rolls back.
pub struct ProcessingBatch {
    pub(super) tx: Transaction<'static, Any>,
    engine: Engine,
    /// Audit rows not yet written, oldest first.
    audit: Vec<PendingAudit>,
}

/// The PostgreSQL advisory lock that processing transactions take in turn.
const PROCESSING_LOCK: i64 = 0x5355_5050_4c59_0001;

impl Store {
    /// Starts a processing transaction (holding the write lock until commit).
    /// On PostgreSQL it first waits for the processing transactions of other
    /// `serve` to end: the per-sender, per-domain and hourly reply limits
    /// count the replies already queued, so two transactions at once could
    /// both pass one limit.
    pub async fn begin_processing(&self) -> Result<ProcessingBatch, StoreError> {
        let mut tx = self.write().await?;
        if self.engine == Engine::Postgres {
            sqlx::query("SELECT CAST(1 AS BIGINT) FROM pg_advisory_xact_lock($1)")
                .bind(PROCESSING_LOCK)
                .execute(&mut *tx)
                .await
                .during("waiting for other serves' processing")?;
        }
        Ok(ProcessingBatch {
            tx,
            engine: self.engine,
            audit: Vec::new(),
        })
    }

    /// [`Store::begin_processing`] for messages this run claimed (`ids`):
    /// fails with [`StoreError::ClaimLost`] unless every one is still
    /// claimed by this run, and keeps them claimed until the commit. A run
    /// that paused past its claims so cannot complete a message another
    /// run has taken over.
    pub async fn begin_processing_claimed(
        &self,
        ids: &[i64],
    ) -> Result<ProcessingBatch, StoreError> {
        let mut batch = self.begin_processing().await?;
        let mut keep = QueryBuilder::new(self.engine, "UPDATE messages SET claim_expires_at = ");
        keep.push_bind(self.lease.expiry())
            .push(" WHERE claimed_by = ")
            .push_bind(self.lease.run_id.clone())
            .push(" AND state = ")
            .push_bind(MessageState::Processing)
            .push(" AND id IN (");
        for (i, id) in ids.iter().enumerate() {
            keep.push(if i == 0 { "" } else { ", " }).push_bind(*id);
        }
        keep.push(")");
        let kept = keep
            .build()
            .execute(&mut *batch.tx)
            .await
            .during("checking the batch's claims")?
            .rows_affected();
        if kept != ids.len() as u64 {
            return Err(StoreError::ClaimLost {
                lost: ids.len() - kept as usize,
            });
        }
        Ok(batch)
    }
}

/// The offer a message belongs to, by its thread or reference.
#[derive(Debug, Clone)]
pub struct ThreadMatch {
    pub offer_id: i64,
    pub donor_email: String,
    /// It answers a Message-ID of one of our replies (which only the
    /// people we wrote to know), not the reference or the donor's own mail.
    pub answers_our_mail: bool,
}

impl ProcessingBatch {
    pub async fn commit(mut self) -> Result<(), StoreError> {
        self.write_audit().await?;
        self.tx
            .commit()
            .await
            .during("committing processed messages")
    }

    /// Writes the audit rows kept so far; due before the commit and before
    /// any step that writes an audit row itself, so the history keeps the
    /// order of events.
    pub(super) async fn write_audit(&mut self) -> Result<(), StoreError> {
        let audit = std::mem::take(&mut self.audit);
        Store::audit_all_in(&mut self.tx, self.engine, &audit).await
    }

    fn audit(
        &mut self,
        actor: &'static str,
        offer_id: Option<i64>,
        message_id: Option<i64>,
        action: &'static str,
        detail: impl Into<String>,
    ) {
        let event = PendingAudit::new(actor, offer_id, message_id, action, detail);
        self.audit.push(event);
    }

    /// Completes a message into a new offer with its items and, when
    /// `reply` gives one for the new offer id, its reply.
    pub async fn complete_with_offer(
        &mut self,
        message_id: i64,
        facts: &MessageFacts,
        offer: &NewOffer,
        held: Option<&str>,
        reply: impl FnOnce(i64) -> Option<NewReply>,
    ) -> Result<i64, StoreError> {
        let tx = &mut self.tx;
        let offer_id = insert_offer(tx, message_id, offer).await?;
        insert_items(tx, self.engine, offer_id, &offer.items).await?;
        search::insert_row(tx, offer_id, offer.phone().as_deref(), &facts.text).await?;
        set_processed(tx, message_id, facts, Some(offer_id)).await?;
        let (offer, message) = (Some(offer_id), Some(message_id));
        self.audit("system", offer, message, "offer_created", &facts.category);
        if let Some(reply) = reply(offer_id) {
            let (tx, now) = (&mut self.tx, now_ms());
            let queued =
                Store::insert_reply_unaudited(tx, Some(offer_id), &reply, held, now).await?;
            self.audit.extend(queued);
        }
        Ok(offer_id)
    }

    /// Records on a new offer why it got no automatic reply, for its history.
    pub fn note_no_reply(&mut self, offer_id: i64, reason: &str) {
        self.audit("system", Some(offer_id), None, "no_reply", reason);
    }

    /// Completes a donor's reply into the offer it answers; nothing is sent.
    pub async fn complete_joined(
        &mut self,
        message_id: i64,
        facts: &MessageFacts,
        offer_id: i64,
    ) -> Result<(), StoreError> {
        let tx = &mut self.tx;
        set_processed(tx, message_id, facts, Some(offer_id)).await?;
        search::append_text(tx, offer_id, &facts.text).await?;
        sqlx::query("UPDATE offers SET updated_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(offer_id)
            .execute(&mut **tx)
            .await
            .during("touching an offer")?;
        let (offer, message) = (Some(offer_id), Some(message_id));
        self.audit("donor", offer, message, "donor_reply", &facts.subject);
        Ok(())
    }

    /// Completes a message about an offer from someone other than its donor
    /// (it names the offer's reference, or answers the donor's own mail):
    /// kept with the offer and shown as from someone else; it proposes nothing.
    pub async fn complete_from_someone_else(
        &mut self,
        message_id: i64,
        facts: &MessageFacts,
        offer_id: i64,
    ) -> Result<(), StoreError> {
        let tx = &mut self.tx;
        set_processed(tx, message_id, facts, Some(offer_id)).await?;
        search::append_text(tx, offer_id, &facts.text).await?;
        let from = facts.from_address.as_deref().unwrap_or("an unknown sender");
        let detail = format!("from {from}, not the donor; its items are not proposed");
        let action = "message_from_someone_else";
        self.audit("system", Some(offer_id), Some(message_id), action, detail);
        Ok(())
    }

    /// Completes a donor's reply that states items: joined to the offer, and
    /// the items kept as a proposal for staff (the offer itself is unchanged).
    pub async fn complete_joined_with_proposal(
        &mut self,
        message_id: i64,
        facts: &MessageFacts,
        offer_id: i64,
        items: &[OfferItemRow],
        summary: &str,
    ) -> Result<(), StoreError> {
        self.complete_joined(message_id, facts, offer_id).await?;
        let json = serde_json::to_string(items).unwrap_or_else(|_| "[]".into());
        sqlx::query("INSERT INTO item_proposals (offer_id, message_id, items_json, created_at) VALUES ($1, $2, $3, $4)")
            .bind(offer_id)
            .bind(message_id)
            .bind(json)
            .bind(now_ms())
            .execute(&mut *self.tx)
            .await
            .during("recording a donor's proposed items")?;
        let (offer, message) = (Some(offer_id), Some(message_id));
        self.audit("donor", offer, message, "items_proposed", summary);
        Ok(())
    }

    /// Records what a bounce of a reply to `address` does to the address
    /// (see `store::suppressions`).
    pub async fn record_bounce(
        &mut self,
        address: &str,
        severity: crate::mail::dsn::Severity,
        reason: &str,
        dsn_message: i64,
        soft_limit: u32,
    ) -> Result<super::BounceEffect, StoreError> {
        Store::record_bounce_in(
            &mut self.tx,
            address,
            severity,
            reason,
            dsn_message,
            soft_limit,
        )
        .await
    }

    /// The reply of ours that a bounce names, as (outbox id, offer id,
    /// the address it went to).
    pub async fn find_bounced_reply(
        &mut self,
        message_ids: &[String],
    ) -> Result<Option<(i64, Option<i64>, String)>, StoreError> {
        for id in message_ids.iter().take(50) {
            let found: Option<(i64, Option<i64>, String)> = sqlx::query_as(
                "SELECT id, offer_id, to_address FROM outbox WHERE rfc_message_id = $1",
            )
            .bind(id)
            .fetch_optional(&mut *self.tx)
            .await
            .during("matching a bounce to a reply")?;
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// Completes a bounce of one of our replies: the reply is marked bounced
    /// and the offer's donor address undeliverable.
    pub async fn complete_bounce(
        &mut self,
        message_id: i64,
        facts: &MessageFacts,
        outbox_id: i64,
        offer_id: Option<i64>,
    ) -> Result<(), StoreError> {
        set_processed(&mut self.tx, message_id, facts, offer_id).await?;
        sqlx::query(
            "UPDATE outbox SET state = $1, last_error = 'bounced: see message ' || $2 WHERE id = $3",
        )
        .bind(ReplyState::Bounced)
        .bind(message_id)
        .bind(outbox_id)
        .execute(&mut *self.tx)
        .await
        .during("marking a reply bounced")?;
        if let Some(offer_id) = offer_id {
            sqlx::query("UPDATE offers SET donor_undeliverable = 1, updated_at = $1 WHERE id = $2")
                .bind(now_ms())
                .bind(offer_id)
                .execute(&mut *self.tx)
                .await
                .during("marking a donor address undeliverable")?;
        }
        let message = Some(message_id);
        self.audit("system", offer_id, message, "reply_bounced", &facts.subject);
        Ok(())
    }

    /// Completes a message that makes no offer (automatic mail, bounces).
    pub async fn complete_without_offer(
        &mut self,
        message_id: i64,
        facts: &MessageFacts,
    ) -> Result<(), StoreError> {
        set_processed(&mut self.tx, message_id, facts, None).await
    }

    /// Marks a message failed with its reason; it stays stored and can be retried.
    pub async fn fail_message(&mut self, id: i64, reason: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE messages SET state = $1, error = $2, processed_at = $3 WHERE id = $4")
            .bind(MessageState::Failed)
            .bind(reason)
            .bind(now_ms())
            .bind(id)
            .execute(&mut *self.tx)
            .await
            .during("marking a message failed")?;
        self.audit("system", None, Some(id), "message_failed", reason);
        Ok(())
    }

    /// The offer a message belongs to: first by a Message-ID of ours that it
    /// answers, then by the donor's earlier messages it answers, then by a
    /// reference in its subject. The caller decides what a match by the last
    /// two means when the sender is not the donor.
    pub async fn find_offer_for_reply(
        &mut self,
        thread_ids: &[String],
        subject: &str,
    ) -> Result<Option<ThreadMatch>, StoreError> {
        for id in thread_ids.iter().take(50) {
            let ours: Option<Option<i64>> =
                sqlx::query_scalar("SELECT offer_id FROM outbox WHERE rfc_message_id = $1")
                    .bind(id)
                    .fetch_optional(&mut *self.tx)
                    .await
                    .during("looking up a thread")?;
            if let Some(Some(offer_id)) = ours {
                return self.thread_match(offer_id, true).await;
            }
        }
        for id in thread_ids.iter().take(50) {
            let donors: Option<i64> = sqlx::query_scalar(
                "SELECT offer_id FROM messages WHERE message_id = $1 AND offer_id IS NOT NULL LIMIT 1",
            )
            .bind(id)
            .fetch_optional(&mut *self.tx)
            .await
            .during("looking up a thread")?;
            if let Some(offer_id) = donors {
                return self.thread_match(offer_id, false).await;
            }
        }
        match OfferRef::find_in(subject) {
            Some(reference) => self.thread_match(reference.id(), false).await,
            None => Ok(None),
        }
    }

    async fn thread_match(
        &mut self,
        offer_id: i64,
        answers_our_mail: bool,
    ) -> Result<Option<ThreadMatch>, StoreError> {
        let donor: Option<String> =
            sqlx::query_scalar("SELECT donor_email FROM offers WHERE id = $1")
                .bind(offer_id)
                .fetch_optional(&mut *self.tx)
                .await
                .during("looking up an offer's donor")?;
        Ok(donor.map(|donor_email| ThreadMatch {
            offer_id,
            donor_email,
            answers_our_mail,
        }))
    }

    /// How many automatic replies went (or wait to go) to `address`, as
    /// normalised for limits, since `since_ms`.
    pub async fn automatic_replies_since(
        &mut self,
        address: &str,
        since_ms: i64,
    ) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE recipient_key = $1 AND automatic = 1 AND created_at >= $2")
            .bind(normalised_address(address))
            .bind(since_ms)
            .fetch_one(&mut *self.tx)
            .await
            .during("counting recent replies")
    }

    /// Automatic replies to `domain` since `since_ms` that went or will go
    /// out on their own (held and discarded ones are not counted).
    pub async fn automatic_replies_to_domain_since(
        &mut self,
        domain: &str,
        since_ms: i64,
    ) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM outbox WHERE recipient_domain = $1 AND automatic = 1
             AND created_at >= $2 AND state NOT IN ($3, $4)",
        )
        .bind(domain)
        .bind(since_ms)
        .bind(ReplyState::Held)
        .bind(ReplyState::Discarded)
        .fetch_one(&mut *self.tx)
        .await
        .during("counting recent replies to a domain")
    }

    /// Automatic replies to anyone since `since_ms`, counted as
    /// [`automatic_replies_to_domain_since`](Self::automatic_replies_to_domain_since) does.
    pub async fn automatic_replies_in_all_since(
        &mut self,
        since_ms: i64,
    ) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM outbox WHERE automatic = 1 AND created_at >= $1 AND state NOT IN ($2, $3)",
        )
        .bind(since_ms)
        .bind(ReplyState::Held)
        .bind(ReplyState::Discarded)
        .fetch_one(&mut *self.tx)
        .await
        .during("counting recent replies")
    }
}

async fn set_processed(
    tx: &mut Transaction<'static, Any>,
    message_id: i64,
    facts: &MessageFacts,
    offer_id: Option<i64>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE messages SET state = $1, error = NULL, category = $2, from_address = $3,
         subject = $4, offer_id = $5, processed_at = $6 WHERE id = $7",
    )
    .bind(MessageState::Processed)
    .bind(&facts.category)
    .bind(&facts.from_address)
    .bind(&facts.subject)
    .bind(offer_id)
    .bind(now_ms())
    .bind(message_id)
    .execute(&mut **tx)
    .await
    .during("marking a message processed")?;
    Ok(())
}
