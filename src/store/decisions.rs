//! What staff do with offers: the prioritised queue with its filters, item
//! corrections, notes, decisions (schedule a pickup, decline, spam, merge,
//! received), the operators' needs and pickup sites, and dashboard figures.
//!
//! Every change writes its audit row, and where the donor must hear of it
//! its outbox row, in the same transaction as the change itself.

use sqlx::{QueryBuilder, Sqlite, Transaction};

use super::messages::{MessageSummary, MESSAGE_COLUMNS};
use super::outbox::NewReply;
use super::{now_ms, QueryContext, Store, StoreError};
use crate::state::OfferStatus;
use crate::values::OfferRef;

/// The filters of the queue, as typed in the page's form.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct QueueFilter {
    /// `open` (the default: needing a decision), `all`, or one status.
    pub status: String,
    pub category: String,
    pub item: String,
    pub language: String,
    pub postal: String,
    /// Words searched in subject, donor, items, notes and the message text.
    pub q: String,
}

/// One line of the queue.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct QueueRow {
    pub id: i64,
    #[sqlx(rename = "id")]
    pub reference: OfferRef,
    pub donor_email: String,
    pub donor_name: Option<String>,
    pub subject: String,
    pub category: String,
    pub status: OfferStatus,
    pub language: Option<String>,
    pub postal_code: Option<String>,
    pub created_at: i64,
    pub priority: f64,
    /// "n95_respirator × 2000, exam_gloves × 3"
    pub items: String,
}

/// One item line with its row id and what arrived.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct ItemFull {
    pub id: i64,
    pub item: String,
    pub quantity: Option<f64>,
    pub unit: Option<String>,
    pub model: Option<String>,
    pub condition: Option<String>,
    pub spans_json: String,
    pub source: String,
    pub received_quantity: Option<f64>,
}

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

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct PickupSite {
    pub name: String,
    pub address: String,
    pub notes: String,
}

/// A current need, from the operators' file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Need {
    pub item: String,
    pub weight: f64,
    pub target: Option<f64>,
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

/// Per item: pledged, accepted and received against the target.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct ItemStats {
    pub item: String,
    pub pledged: f64,
    pub accepted: f64,
    pub received: f64,
    pub target: Option<f64>,
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

// CAST: SQLite gives an integer 0 when nothing matches, which sqlx will not read as f64.
const PRIORITY: &str = "CAST((SELECT COALESCE(SUM(COALESCE(i.quantity, 1) * n.weight), 0)
     FROM offer_items i JOIN needs n ON n.item = i.item WHERE i.offer_id = o.id) AS REAL)";

/// The columns of a [`QueueRow`].
const QUEUE_COLUMNS: &str = "o.id, o.donor_email, o.donor_name, o.subject, o.category, o.status,
     o.language, json_extract(o.pickup_json, '$.postal_code') AS postal_code, o.created_at";

/// The columns of an [`ItemFull`], for `FROM offer_items i`.
const ITEM_COLUMNS: &str = "i.id, i.item, CAST(i.quantity AS REAL) AS quantity, i.unit, i.model,
     i.condition, i.spans_json, i.source, CAST(i.received_quantity AS REAL) AS received_quantity";

/// An item line with the offer it belongs to, for export.
#[derive(sqlx::FromRow)]
struct ExportRow {
    offer_ref: OfferRef,
    #[sqlx(flatten)]
    item: ItemFull,
}

fn push_filter(qb: &mut QueryBuilder<'_, Sqlite>, f: &QueueFilter) {
    qb.push(" WHERE 1 = 1");
    match f.status.as_str() {
        "" | "open" => {
            let open = OfferStatus::sql_list(OfferStatus::is_open);
            qb.push(format!(" AND o.status IN ({open})"));
        }
        "all" => {}
        s => {
            qb.push(" AND o.status = ").push_bind(s.to_string());
        }
    }
    for (value, column) in [(&f.category, "o.category"), (&f.language, "o.language")] {
        if !value.is_empty() {
            qb.push(format!(" AND {column} = "))
                .push_bind(value.clone());
        }
    }
    if !f.postal.is_empty() {
        qb.push(" AND json_extract(o.pickup_json, '$.postal_code') LIKE ")
            .push_bind(format!("{}%", f.postal.trim()));
    }
    if !f.item.is_empty() {
        qb.push(" AND EXISTS (SELECT 1 FROM offer_items i WHERE i.offer_id = o.id AND i.item = ")
            .push_bind(f.item.clone())
            .push(")");
    }
    for word in f.q.split_whitespace().take(8) {
        let like = format!("%{}%", word.replace(['%', '_'], ""));
        qb.push(" AND (o.subject LIKE ").push_bind(like.clone());
        qb.push(" OR o.donor_email LIKE ").push_bind(like.clone());
        qb.push(" OR COALESCE(o.donor_name, '') LIKE ")
            .push_bind(like.clone());
        qb.push(" OR EXISTS (SELECT 1 FROM offer_items i WHERE i.offer_id = o.id AND i.item LIKE ")
            .push_bind(like.clone());
        qb.push(") OR EXISTS (SELECT 1 FROM notes n WHERE n.offer_id = o.id AND n.body LIKE ")
            .push_bind(like.clone());
        qb.push(") OR EXISTS (SELECT 1 FROM messages m WHERE m.offer_id = o.id AND CAST(m.raw AS TEXT) LIKE ")
            .push_bind(like);
        qb.push("))");
    }
}

impl Store {
    /// One page of the queue, highest priority first, and the total count.
    pub async fn queue(
        &self,
        filter: &QueueFilter,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<QueueRow>, i64), StoreError> {
        let mut qb = QueryBuilder::new(format!(
            "SELECT {QUEUE_COLUMNS}, {PRIORITY} AS priority,
               COALESCE((SELECT group_concat(i.item || COALESCE(' × ' || printf('%.15g', i.quantity), ''), ', ')
                FROM offer_items i WHERE i.offer_id = o.id), '') AS items FROM offers o"
        ));
        push_filter(&mut qb, filter);
        qb.push(" ORDER BY priority DESC, o.id ASC LIMIT ")
            .push_bind(limit)
            .push(" OFFSET ")
            .push_bind(offset);
        let rows = qb
            .build_query_as()
            .fetch_all(&self.reader)
            .await
            .during("reading the queue")?;
        let mut count = QueryBuilder::new("SELECT COUNT(*) FROM offers o");
        push_filter(&mut count, filter);
        let total: i64 = count
            .build_query_scalar()
            .fetch_one(&self.reader)
            .await
            .during("counting the queue")?;
        Ok((rows, total))
    }

    /// Every item line of the offers matching `filter`, for CSV export.
    pub async fn export_items(
        &self,
        filter: &QueueFilter,
    ) -> Result<Vec<(OfferRef, ItemFull)>, StoreError> {
        let mut qb = QueryBuilder::new(format!(
            "SELECT o.id AS offer_ref, {ITEM_COLUMNS}
             FROM offer_items i JOIN offers o ON o.id = i.offer_id"
        ));
        push_filter(&mut qb, filter);
        qb.push(" ORDER BY o.id, i.position");
        let rows: Vec<ExportRow> = qb
            .build_query_as()
            .fetch_all(&self.reader)
            .await
            .during("exporting items")?;
        Ok(rows.into_iter().map(|r| (r.offer_ref, r.item)).collect())
    }

    /// The distinct values the queue's filter menus offer.
    pub async fn filter_choices(&self) -> Result<[Vec<String>; 3], StoreError> {
        let mut out: [Vec<String>; 3] = Default::default();
        let queries = [
            "SELECT DISTINCT category FROM offers ORDER BY 1",
            "SELECT DISTINCT item FROM offer_items ORDER BY 1",
            "SELECT DISTINCT language FROM offers WHERE language IS NOT NULL ORDER BY 1",
        ];
        for (slot, sql) in out.iter_mut().zip(queries) {
            *slot = sqlx::query_scalar(sql)
                .fetch_all(&self.reader)
                .await
                .during("reading filter choices")?;
        }
        Ok(out)
    }

    /// Item lines with their ids and received quantities.
    pub async fn items_full(&self, offer_id: i64) -> Result<Vec<ItemFull>, StoreError> {
        sqlx::query_as(&format!(
            "SELECT {ITEM_COLUMNS} FROM offer_items i WHERE i.offer_id = ? ORDER BY i.position, i.id"
        ))
        .bind(offer_id)
        .fetch_all(&self.reader)
        .await
        .during("reading offer items")
    }

    /// The Message-ID header of a stored message, for threading a reply to it.
    pub async fn rfc_message_id(&self, message_id: i64) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT message_id FROM messages WHERE id = ?")
            .bind(message_id)
            .fetch_optional(&self.reader)
            .await
            .during("reading a Message-ID")
            .map(Option::flatten)
    }

    /// One message's summary.
    pub async fn message_summary(&self, id: i64) -> Result<MessageSummary, StoreError> {
        sqlx::query_as(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .during("reading a message")?
        .ok_or(StoreError::NotFound("message"))
    }

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

    /// Replaces the needs and pickup sites with those of the operators' file.
    pub async fn load_operations(
        &self,
        needs: &[Need],
        sites: &[PickupSite],
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query("DELETE FROM needs")
            .execute(&mut *tx)
            .await
            .during("clearing needs")?;
        for n in needs {
            sqlx::query("INSERT OR REPLACE INTO needs (item, weight, target) VALUES (?, ?, ?)")
                .bind(&n.item)
                .bind(n.weight)
                .bind(n.target)
                .execute(&mut *tx)
                .await
                .during("loading needs")?;
        }
        sqlx::query("DELETE FROM pickup_sites")
            .execute(&mut *tx)
            .await
            .during("clearing sites")?;
        for s in sites {
            sqlx::query(
                "INSERT OR REPLACE INTO pickup_sites (name, address, notes) VALUES (?, ?, ?)",
            )
            .bind(&s.name)
            .bind(&s.address)
            .bind(&s.notes)
            .execute(&mut *tx)
            .await
            .during("loading pickup sites")?;
        }
        tx.commit().await.during("committing needs and sites")
    }

    pub async fn pickup_sites(&self) -> Result<Vec<PickupSite>, StoreError> {
        sqlx::query_as("SELECT name, address, notes FROM pickup_sites ORDER BY name")
            .fetch_all(&self.reader)
            .await
            .during("reading pickup sites")
    }

    /// Per item: pledged (open or accepted offers), accepted, received, target.
    pub async fn item_stats(&self) -> Result<Vec<ItemStats>, StoreError> {
        let turned_away = OfferStatus::sql_list(OfferStatus::is_turned_away);
        let accepted = OfferStatus::sql_list(OfferStatus::is_accepted);
        sqlx::query_as(&format!(
            "WITH lines AS (
               SELECT i.item, COALESCE(i.quantity, 0) AS q, COALESCE(i.received_quantity, 0) AS r, o.status
               FROM offer_items i JOIN offers o ON o.id = i.offer_id
               WHERE o.status NOT IN ({turned_away})),
             names AS (SELECT item FROM lines UNION SELECT item FROM needs)
             SELECT names.item AS item,
               CAST((SELECT COALESCE(SUM(q), 0) FROM lines WHERE lines.item = names.item) AS REAL)
                 AS pledged,
               CAST((SELECT COALESCE(SUM(q), 0) FROM lines WHERE lines.item = names.item
                  AND status IN ({accepted})) AS REAL) AS accepted,
               CAST((SELECT COALESCE(SUM(r), 0) FROM lines WHERE lines.item = names.item) AS REAL)
                 AS received,
               CAST((SELECT target FROM needs WHERE needs.item = names.item) AS REAL) AS target
             FROM names ORDER BY names.item"
        ))
        .fetch_all(&self.reader)
        .await
        .during("reading item figures")
    }

    /// Offers created per day (UTC, `YYYY-MM-DD`) over the last `days` days.
    pub async fn offers_per_day(&self, days: i64) -> Result<Vec<(String, i64)>, StoreError> {
        let since = now_ms() - days * 86_400_000;
        sqlx::query_as(
            "SELECT date(created_at / 1000, 'unixepoch') AS d, COUNT(*) FROM offers
             WHERE created_at >= ? GROUP BY d ORDER BY d",
        )
        .bind(since)
        .fetch_all(&self.reader)
        .await
        .during("counting offers per day")
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
