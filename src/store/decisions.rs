//! What staff change on an offer's page besides deciding: item
//! corrections and notes, each with its audit row in the same transaction;
//! and what the page reads of the decisions made (the decision columns,
//! notes). Mirrors `web::offer`. The decisions themselves are written
//! through [`super::DecisionTx`] (`store::deciding`), by `crate::decide`.

use sqlx::{Any, Transaction};

use super::sql::OptF64;
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

impl Store {
    /// The decision columns of one offer.
    pub async fn decision(&self, offer_id: i64) -> Result<Decision, StoreError> {
        sqlx::query_as(
            "SELECT pickup_site, pickup_window, decline_reason, merged_into,
                    json_extract(pickup_json, '$.postal_code') AS postal_code, message_id
             FROM offers WHERE id = $1",
        )
        .bind(offer_id)
        .fetch_optional(&self.reader)
        .await
        .during("reading a decision")?
        .ok_or(StoreError::NotFound("offer"))
    }

    pub async fn notes(&self, offer_id: i64) -> Result<Vec<Note>, StoreError> {
        sqlx::query_as("SELECT author, body, created_at FROM notes WHERE offer_id = $1 ORDER BY id")
            .bind(offer_id)
            .fetch_all(&self.reader)
            .await
            .during("reading notes")
    }

    pub async fn add_note(&self, offer_id: i64, actor: &str, body: &str) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        offer_status(&mut tx, offer_id).await?;
        sqlx::query(
            "INSERT INTO notes (offer_id, author, body, created_at) VALUES ($1, $2, $3, $4)",
        )
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
             VALUES ($1, (SELECT COALESCE(MAX(position), -1) + 1 FROM offer_items WHERE offer_id = $1),
                     $2, $3, $4, 'staff')",
        )
        .bind(offer_id)
        .bind(&e.item)
        .bind(OptF64(e.quantity))
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
            "SELECT item, quantity, unit FROM offer_items WHERE id = $1 AND offer_id = $2",
        )
        .bind(item_id)
        .bind(offer_id)
        .fetch_optional(&mut *tx)
        .await
        .during("reading an item")?
        .ok_or(StoreError::NotFound("item"))?;
        sqlx::query(
            "UPDATE offer_items SET item = $1, quantity = $2, unit = $3, source = 'staff' WHERE id = $4",
        )
        .bind(&e.item)
        .bind(OptF64(e.quantity))
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
            "DELETE FROM offer_items WHERE id = $1 AND offer_id = $2 RETURNING item",
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
    tx: &mut Transaction<'static, Any>,
    offer_id: i64,
) -> Result<OfferStatus, StoreError> {
    sqlx::query_scalar("SELECT status FROM offers WHERE id = $1")
        .bind(offer_id)
        .fetch_optional(&mut **tx)
        .await
        .during("reading an offer's status")?
        .ok_or(StoreError::NotFound("offer"))
}

async fn touch(tx: &mut Transaction<'static, Any>, offer_id: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE offers SET updated_at = $1 WHERE id = $2")
        .bind(now_ms())
        .bind(offer_id)
        .execute(&mut **tx)
        .await
        .during("touching an offer")?;
    Ok(())
}
