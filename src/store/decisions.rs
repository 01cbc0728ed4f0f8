//! What staff do on an offer's page: item corrections, notes, and the
//! decisions (schedule a pickup, decline, spam, merge, received), each
//! allowed only as [`OfferStatus::can_become`] says. Mirrors `web::offer`.
//!
//! Every change writes its audit row, and where the donor must hear of it
//! its outbox row, in the same transaction as the change itself.

use sqlx::{Sqlite, Transaction};

use super::outbox::NewReply;
use super::{now_ms, QueryContext, Store, StoreError};
use crate::state::OfferStatus;
use crate::values::OfferRef;

/// An item as staff typed it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ItemEdit {
    pub item: String,
    pub quantity: Option<f64>,
    pub unit: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct Note {
    pub author: String,
    pub body: String,
    pub created_at: i64,
}

/// What staff decided about one offer so far.
#[derive(Debug, Clone, Default, serde::Serialize, sqlx::FromRow)]
pub struct Decision {
    /// The message the offer was made from (its items' spans point into it).
    pub message_id: i64,
    pub pickup_site: Option<String>,
    pub pickup_window: Option<String>,
    pub decline_reason: Option<String>,
    pub merged_into: Option<OfferRef>,
    pub postal_code: Option<String>,
}

/// Why a decision cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum DecisionError {
    #[error("this offer is {0} and cannot be changed")]
    Closed(OfferStatus),
    #[error("an offer cannot be merged into itself")]
    SelfMerge,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// The decision columns of one offer.
    pub async fn decision(&self, offer_id: i64) -> Result<Decision, StoreError> {
        sqlx::query_as(
            "SELECT pickup_site, pickup_window, decline_reason, merged_into,
                    json_extract(pickup_json, '$.postal_code') AS postal_code, message_id
             FROM offers WHERE id = ?",
        )
        .bind(offer_id)
        .fetch_optional(&self.reader)
        .await
        .during("reading a decision")?
        .ok_or(StoreError::NotFound("offer"))
    }

    pub async fn notes(&self, offer_id: i64) -> Result<Vec<Note>, StoreError> {
        sqlx::query_as("SELECT author, body, created_at FROM notes WHERE offer_id = ? ORDER BY id")
            .bind(offer_id)
            .fetch_all(&self.reader)
            .await
            .during("reading notes")
    }

    pub async fn add_note(&self, offer_id: i64, actor: &str, body: &str) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        offer_status(&mut tx, offer_id).await?;
        sqlx::query("INSERT INTO notes (offer_id, author, body, created_at) VALUES (?, ?, ?, ?)")
            .bind(offer_id)
            .bind(actor)
            .bind(body)
            .bind(now_ms())
            .execute(&mut *tx)
            .await
            .during("adding a note")?;
        Self::audit_in(&mut tx, actor, Some(offer_id), None, "note_added", "").await?;
        tx.commit().await.during("committing a note")
    }

    /// Adds an item line typed by staff.
    pub async fn add_item(
        &self,
        offer_id: i64,
        actor: &str,
        e: &ItemEdit,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        offer_status(&mut tx, offer_id).await?;
        sqlx::query(
            "INSERT INTO offer_items (offer_id, position, item, quantity, unit, source)
             VALUES (?1, (SELECT COALESCE(MAX(position), -1) + 1 FROM offer_items WHERE offer_id = ?1),
                     ?2, ?3, ?4, 'staff')",
        )
        .bind(offer_id)
        .bind(&e.item)
        .bind(e.quantity)
        .bind(&e.unit)
        .execute(&mut *tx)
        .await
        .during("adding an item")?;
        let detail = format!("{} × {}", e.item, fmt_qty(e.quantity));
        Self::audit_in(&mut tx, actor, Some(offer_id), None, "item_added", &detail).await?;
        touch(&mut tx, offer_id).await?;
        tx.commit().await.during("committing an item")
    }

    /// Changes one item line; the audit row says what it was and what it is.
    pub async fn update_item(
        &self,
        offer_id: i64,
        item_id: i64,
        actor: &str,
        e: &ItemEdit,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let old: ItemEdit = sqlx::query_as(
            "SELECT item, quantity, unit FROM offer_items WHERE id = ? AND offer_id = ?",
        )
        .bind(item_id)
        .bind(offer_id)
        .fetch_optional(&mut *tx)
        .await
        .during("reading an item")?
        .ok_or(StoreError::NotFound("item"))?;
        sqlx::query(
            "UPDATE offer_items SET item = ?, quantity = ?, unit = ?, source = 'staff' WHERE id = ?",
        )
        .bind(&e.item)
        .bind(e.quantity)
        .bind(&e.unit)
        .bind(item_id)
        .execute(&mut *tx)
        .await
        .during("changing an item")?;
        let detail = format!(
            "{} × {} {} → {} × {} {}",
            old.item,
            fmt_qty(old.quantity),
            old.unit.unwrap_or_default(),
            e.item,
            fmt_qty(e.quantity),
            e.unit.clone().unwrap_or_default()
        );
        Self::audit_in(
            &mut tx,
            actor,
            Some(offer_id),
            None,
            "item_changed",
            detail.trim(),
        )
        .await?;
        touch(&mut tx, offer_id).await?;
        tx.commit().await.during("committing an item change")
    }

    pub async fn remove_item(
        &self,
        offer_id: i64,
        item_id: i64,
        actor: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let item: String = sqlx::query_scalar(
            "DELETE FROM offer_items WHERE id = ? AND offer_id = ? RETURNING item",
        )
        .bind(item_id)
        .bind(offer_id)
        .fetch_optional(&mut *tx)
        .await
        .during("removing an item")?
        .ok_or(StoreError::NotFound("item"))?;
        Self::audit_in(&mut tx, actor, Some(offer_id), None, "item_removed", &item).await?;
        touch(&mut tx, offer_id).await?;
        tx.commit().await.during("committing an item removal")
    }

    /// Accepts an offer with a pickup slot and enqueues the instructions.
    pub async fn schedule_pickup(
        &self,
        offer_id: i64,
        actor: &str,
        site: &str,
        window: &str,
        reply: &NewReply,
    ) -> Result<(), DecisionError> {
        let mut tx = self.write().await?;
        let next = allowed(&mut tx, offer_id, OfferStatus::Scheduled).await?;
        sqlx::query(
            "UPDATE offers SET status = ?, pickup_site = ?, pickup_window = ?, updated_at = ? WHERE id = ?",
        )
        .bind(next)
        .bind(site)
        .bind(window)
        .bind(now_ms())
        .bind(offer_id)
        .execute(&mut *tx)
        .await
        .during("scheduling a pickup")?;
        let detail = format!("{site}, {window}");
        Self::audit_in(&mut tx, actor, Some(offer_id), None, "accepted", &detail).await?;
        Self::enqueue_in(&mut tx, Some(offer_id), reply).await?;
        tx.commit().await.during("committing a pickup")?;
        Ok(())
    }

    /// Declines an offer, telling the donor when `reply` is given.
    pub async fn decline(
        &self,
        offer_id: i64,
        actor: &str,
        reason: &str,
        reply: Option<&NewReply>,
    ) -> Result<(), DecisionError> {
        let mut tx = self.write().await?;
        let next = allowed(&mut tx, offer_id, OfferStatus::Declined).await?;
        sqlx::query(
            "UPDATE offers SET status = ?, decline_reason = ?, updated_at = ? WHERE id = ?",
        )
        .bind(next)
        .bind(reason)
        .bind(now_ms())
        .bind(offer_id)
        .execute(&mut *tx)
        .await
        .during("declining an offer")?;
        Self::audit_in(&mut tx, actor, Some(offer_id), None, "declined", reason).await?;
        if let Some(reply) = reply {
            Self::enqueue_in(&mut tx, Some(offer_id), reply).await?;
        }
        tx.commit().await.during("committing a decline")?;
        Ok(())
    }

    /// Marks an offer as spam; nothing is sent.
    pub async fn mark_spam(&self, offer_id: i64, actor: &str) -> Result<(), DecisionError> {
        let mut tx = self.write().await?;
        let next = allowed(&mut tx, offer_id, OfferStatus::Spam).await?;
        set_status(&mut tx, offer_id, next).await?;
        Self::audit_in(&mut tx, actor, Some(offer_id), None, "marked_spam", "").await?;
        tx.commit().await.during("committing spam")?;
        Ok(())
    }

    /// Merges a duplicate into another offer: its messages join the other
    /// offer's thread, and it is closed as `merged`.
    pub async fn merge(&self, offer_id: i64, into: i64, actor: &str) -> Result<(), DecisionError> {
        if offer_id == into {
            return Err(DecisionError::SelfMerge);
        }
        let mut tx = self.write().await?;
        let next = allowed(&mut tx, offer_id, OfferStatus::Merged).await?;
        let target = offer_status(&mut tx, into).await?;
        if !target.can_take_merge() {
            return Err(DecisionError::Closed(target));
        }
        sqlx::query("UPDATE offers SET status = ?, merged_into = ?, updated_at = ? WHERE id = ?")
            .bind(next)
            .bind(into)
            .bind(now_ms())
            .bind(offer_id)
            .execute(&mut *tx)
            .await
            .during("merging an offer")?;
        sqlx::query("UPDATE messages SET offer_id = ? WHERE offer_id = ?")
            .bind(into)
            .bind(offer_id)
            .execute(&mut *tx)
            .await
            .during("moving a merged offer's messages")?;
        let from_ref = OfferRef::from(offer_id).to_string();
        let into_ref = OfferRef::from(into).to_string();
        Self::audit_in(
            &mut tx,
            actor,
            Some(offer_id),
            None,
            "merged_into",
            &into_ref,
        )
        .await?;
        Self::audit_in(&mut tx, actor, Some(into), None, "merged_from", &from_ref).await?;
        tx.commit().await.during("committing a merge")?;
        Ok(())
    }

    /// Records what actually arrived, per item line, and closes the offer as
    /// `received`; the thank-you to the donor, if given, is enqueued with it.
    pub async fn mark_received(
        &self,
        offer_id: i64,
        actor: &str,
        quantities: &[(i64, f64)],
        thanks: Option<&NewReply>,
    ) -> Result<(), DecisionError> {
        let mut tx = self.write().await?;
        let next = allowed(&mut tx, offer_id, OfferStatus::Received).await?;
        let mut detail = Vec::new();
        for (item_id, qty) in quantities {
            let item: Option<String> = sqlx::query_scalar(
                "UPDATE offer_items SET received_quantity = ? WHERE id = ? AND offer_id = ? RETURNING item",
            )
            .bind(qty)
            .bind(item_id)
            .bind(offer_id)
            .fetch_optional(&mut *tx)
            .await
            .during("recording a received quantity")?;
            if let Some(item) = item {
                detail.push(format!("{item} × {}", fmt_qty(Some(*qty))));
            }
        }
        set_status(&mut tx, offer_id, next).await?;
        Self::audit_in(
            &mut tx,
            actor,
            Some(offer_id),
            None,
            "received",
            &detail.join(", "),
        )
        .await?;
        if let Some(reply) = thanks {
            Self::enqueue_in(&mut tx, Some(offer_id), reply).await?;
        }
        tx.commit().await.during("committing a receipt")?;
        Ok(())
    }
}

/// A quantity as staff read it: `2000`, `2.5`, `?`.
pub fn fmt_qty(q: Option<f64>) -> String {
    match q {
        Some(q) if q.fract() == 0.0 => format!("{q:.0}"),
        Some(q) => format!("{q}"),
        None => "?".into(),
    }
}

async fn offer_status(
    tx: &mut Transaction<'static, Sqlite>,
    offer_id: i64,
) -> Result<OfferStatus, StoreError> {
    sqlx::query_scalar("SELECT status FROM offers WHERE id = ?")
        .bind(offer_id)
        .fetch_optional(&mut **tx)
        .await
        .during("reading an offer's status")?
        .ok_or(StoreError::NotFound("offer"))
}

/// `next`, when the offer's status may become it
/// ([`OfferStatus::can_become`]); else why not.
async fn allowed(
    tx: &mut Transaction<'static, Sqlite>,
    offer_id: i64,
    next: OfferStatus,
) -> Result<OfferStatus, DecisionError> {
    let status = offer_status(tx, offer_id).await?;
    if !status.can_become(next) {
        return Err(DecisionError::Closed(status));
    }
    Ok(next)
}

async fn set_status(
    tx: &mut Transaction<'static, Sqlite>,
    offer_id: i64,
    status: OfferStatus,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE offers SET status = ?, updated_at = ? WHERE id = ?")
        .bind(status)
        .bind(now_ms())
        .bind(offer_id)
        .execute(&mut **tx)
        .await
        .during("changing an offer's status")?;
    Ok(())
}

async fn touch(tx: &mut Transaction<'static, Sqlite>, offer_id: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE offers SET updated_at = ? WHERE id = ?")
        .bind(now_ms())
        .bind(offer_id)
        .execute(&mut **tx)
        .await
        .during("touching an offer")?;
    Ok(())
}
