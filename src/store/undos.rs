//! The desk's flow (#16) in SQL: a decision's undo window (what the offer
//! was before, the reply it held back, migration 0019), undoing it within
//! the window, reopening a closed offer, and an offer's neighbours in a
//! filtered queue (for "next offer" and the j/k keys).
//!
//! Undo and reopen are checked and written in one write transaction each,
//! so an undo and the sender's claim of the held reply cannot both win: the
//! claim takes only `pending` replies that are due, the undo discards only
//! a `pending` one.

use super::sql::OptF64;
use super::QueryBuilder;
use sqlx::{Any, Transaction};

use super::ownership::QueueSort;
use super::queue::{push_filter, push_from_in_order};
use super::{now_ms, search, DecisionTx, QueryContext, QueueFilter, Store, StoreError};
use crate::state::{OfferStatus, ReplyState};

/// What a decision changes of an offer, as it was before.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct OfferBefore {
    pub status: OfferStatus,
    pub pickup_site: Option<String>,
    pub pickup_window: Option<String>,
    pub decline_reason: Option<String>,
    pub merged_into: Option<i64>,
    /// The messages of its thread (a merge moves them).
    pub message_ids: Vec<i64>,
    /// (item line, received quantity) for each line.
    pub received: Vec<(i64, Option<f64>)>,
    /// Its pickup or drop-off booking (a slot it holds, the calendar
    /// event's sequence).
    #[serde(default)]
    pub booking: Option<super::Booking>,
}

/// An undo window as the desk shows it.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct UndoWindow {
    pub id: i64,
    pub offer_id: i64,
    pub actor: String,
    pub action: String,
    pub undo_until: i64,
    pub undone_at: Option<i64>,
}

/// Why an undo or a reopen was refused.
#[derive(Debug, thiserror::Error)]
pub enum UndoError {
    #[error("no such decision to undo")]
    NotFound,
    #[error("the time to undo this decision is over; reopen the offer instead")]
    Expired,
    #[error("this decision was already undone")]
    AlreadyUndone,
    #[error("the offer has changed since (it is {0}); reopen it instead")]
    Moved(OfferStatus),
    #[error("the email of this decision has already left")]
    AlreadySent,
    #[error("only a closed offer can be reopened; this one is {0}")]
    NotClosed(OfferStatus),
    #[error("this was done by {0}; only they can undo it")]
    NotYours(String),
    #[error("the offer has been assigned to {0} since; assign it again instead")]
    Reassigned(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(sqlx::FromRow)]
struct UndoRow {
    offer_id: i64,
    actor: String,
    action: String,
    status_after: OfferStatus,
    before_json: String,
    reply_id: Option<i64>,
    undo_until: i64,
    undone_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct DecisionColumns {
    status: OfferStatus,
    pickup_site: Option<String>,
    pickup_window: Option<String>,
    decline_reason: Option<String>,
    merged_into: Option<i64>,
}

impl Store {
    /// The offer as a decision about to be made would change it.
    pub async fn offer_before(&self, offer_id: i64) -> Result<OfferBefore, StoreError> {
        let c: DecisionColumns = sqlx::query_as(
            "SELECT status, pickup_site, pickup_window, decline_reason, merged_into
             FROM offers WHERE id = $1",
        )
        .bind(offer_id)
        .fetch_optional(&self.reader)
        .await
        .during("reading an offer before a decision")?
        .ok_or(StoreError::NotFound("offer"))?;
        let message_ids = sqlx::query_scalar("SELECT id FROM messages WHERE offer_id = $1")
            .bind(offer_id)
            .fetch_all(&self.reader)
            .await
            .during("reading an offer's messages")?;
        let received =
            sqlx::query_as("SELECT id, received_quantity FROM offer_items WHERE offer_id = $1")
                .bind(offer_id)
                .fetch_all(&self.reader)
                .await
                .during("reading an offer's received quantities")?;
        Ok(OfferBefore {
            status: c.status,
            pickup_site: c.pickup_site,
            pickup_window: c.pickup_window,
            decline_reason: c.decline_reason,
            merged_into: c.merged_into,
            message_ids,
            received,
            booking: self.booking(offer_id).await?,
        })
    }

    /// The undo window `id`, when there is one.
    pub async fn undo_window(&self, id: i64) -> Result<Option<UndoWindow>, StoreError> {
        sqlx::query_as(
            "SELECT id, offer_id, actor, action, undo_until, undone_at FROM decision_undos WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .during("reading an undo window")
    }

    /// Undoes the decision of window `id` for `actor`, who must be the one
    /// who made it (a colleague is refused: [`UndoError::NotYours`]): the
    /// offer gets back what it was, the reply the decision held back is
    /// discarded (so it is never sent), and the history says so. Returns
    /// the offer's id.
    pub async fn undo_decision(&self, id: i64, actor: &str) -> Result<i64, UndoError> {
        let mut tx = self.write().await?;
        let offer = undo_in(&mut tx, id, actor, now_ms(), "").await?;
        tx.commit().await.during("committing an undo")?;
        Ok(offer)
    }

    /// Reopens a closed offer: declined, spam or merged ones become `new`
    /// (a merged one takes its own message back), a received one is
    /// `scheduled` again (awaiting delivery). Returns the new status.
    pub async fn reopen_offer(&self, offer_id: i64, actor: &str) -> Result<OfferStatus, UndoError> {
        let mut tx = self.write().await?;
        let status = current_status(&mut tx, offer_id).await?;
        if !status.is_closed() {
            return Err(UndoError::NotClosed(status));
        }
        let next = match status {
            OfferStatus::Received => OfferStatus::Scheduled,
            _ => OfferStatus::New,
        };
        if status == OfferStatus::Merged {
            sqlx::query(
                "UPDATE messages SET offer_id = $1
                 WHERE id = (SELECT message_id FROM offers WHERE id = $1)",
            )
            .bind(offer_id)
            .execute(&mut *tx)
            .await
            .during("taking a merged offer's message back")?;
        }
        let clear = match next {
            OfferStatus::New => {
                ", pickup_site = NULL, pickup_window = NULL, decline_reason = NULL, merged_into = NULL"
            }
            _ => "",
        };
        sqlx::query(&format!(
            "UPDATE offers SET status = $1, updated_at = $2{clear} WHERE id = $3"
        ))
        .bind(next)
        .bind(now_ms())
        .bind(offer_id)
        .execute(&mut *tx)
        .await
        .during("reopening an offer")?;
        let detail = format!("was {status}, now {next}");
        Store::audit_in(&mut tx, actor, Some(offer_id), None, "reopened", &detail).await?;
        tx.commit().await.during("committing a reopen")?;
        Ok(next)
    }

    /// The offers before and after `offer_id` in the queue `filter`
    /// selects, in the queue's order (priority, rank with a search, or the
    /// column staff sorted by).
    pub async fn queue_neighbours(
        &self,
        filter: &QueueFilter,
        offer_id: i64,
    ) -> Result<(Option<i64>, Option<i64>), StoreError> {
        let searched = filter
            .search
            .as_deref()
            .and_then(search::fts_query)
            .is_some();
        if searched || filter.sort != QueueSort::default() {
            let ids = self.queue_ids(filter, NEIGHBOUR_SCAN).await?;
            let Some(at) = ids.iter().position(|&id| id == offer_id) else {
                return Ok((None, ids.first().copied()));
            };
            let prev = at.checked_sub(1).map(|i| ids[i]);
            return Ok((prev, ids.get(at + 1).copied()));
        }
        let priority: Option<f64> = sqlx::query_scalar("SELECT priority FROM offers WHERE id = $1")
            .bind(offer_id)
            .fetch_optional(&self.reader)
            .await
            .during("reading an offer's priority")?;
        let Some(priority) = priority else {
            return Ok((None, None));
        };
        let prev = self.neighbour(filter, offer_id, priority, false).await?;
        let next = self.neighbour(filter, offer_id, priority, true).await?;
        Ok((prev, next))
    }

    /// The offer right after (or before) `offer_id` of `priority` in the
    /// queue's order (priority descending, then id): first among its equals,
    /// then beyond, each a seek in the priority index rather than a scan.
    async fn neighbour(
        &self,
        filter: &QueueFilter,
        offer_id: i64,
        priority: f64,
        after: bool,
    ) -> Result<Option<i64>, StoreError> {
        let (id_cmp, id_order, pri_cmp, pri_order) = match after {
            true => (">", "ASC", "<", "DESC"),
            false => ("<", "DESC", ">", "ASC"),
        };
        let mut tie = QueryBuilder::new(self.engine, "SELECT o.id FROM offers o");
        push_filter(&mut tie, filter, None);
        tie.push(" AND o.priority = ")
            .push_bind(priority)
            .push(format!(" AND o.id {id_cmp} "))
            .push_bind(offer_id)
            .push(format!(" ORDER BY o.id {id_order} LIMIT 1"));
        let found = tie
            .build_query_scalar()
            .fetch_optional(&self.reader)
            .await
            .during("reading a neighbour in the queue")?;
        if found.is_some() {
            return Ok(found);
        }
        let mut beyond = QueryBuilder::new(self.engine, "SELECT o.id FROM offers o");
        push_filter(&mut beyond, filter, None);
        beyond
            .push(format!(" AND o.priority {pri_cmp} "))
            .push_bind(priority)
            .push(format!(
                " ORDER BY o.priority {pri_order}, o.id {id_order} LIMIT 1"
            ));
        beyond
            .build_query_scalar()
            .fetch_optional(&self.reader)
            .await
            .during("reading a neighbour in the queue")
    }

    /// The first offer of the queue `filter` selects other than `except`.
    pub async fn queue_first_except(
        &self,
        filter: &QueueFilter,
        except: i64,
    ) -> Result<Option<i64>, StoreError> {
        Ok(self
            .queue_ids(filter, 2)
            .await?
            .into_iter()
            .find(|&id| id != except))
    }

    /// The first `limit` offers of the queue, in its order.
    async fn queue_ids(&self, filter: &QueueFilter, limit: i64) -> Result<Vec<i64>, StoreError> {
        let fts = filter.search.as_deref().and_then(search::fts_query);
        let mut qb = QueryBuilder::new(self.engine, "SELECT o.id");
        push_from_in_order(&mut qb, filter, fts.as_deref(), limit);
        qb.push(" LIMIT ").push_bind(limit);
        qb.build_query_scalar()
            .fetch_all(&self.reader)
            .await
            .during("reading the queue's order")
    }
}

/// How far down a searched queue "next" looks for the offer shown.
const NEIGHBOUR_SCAN: i64 = 2000;

impl DecisionTx {
    /// Opens the undo window of the decision being made: `before` is what
    /// the offer was, `status_after` what the decision made it; the reply
    /// it queued (if any) is the one undo discards. Returns the window's id.
    pub async fn open_undo_window(
        &mut self,
        offer_id: i64,
        actor: &str,
        action: &str,
        status_after: OfferStatus,
        before: &OfferBefore,
        undo_until: i64,
    ) -> Result<i64, StoreError> {
        let json = serde_json::to_string(before).map_err(|e| StoreError::Query {
            what: "writing what an offer was before a decision",
            source: sqlx::Error::Encode(Box::new(e)),
        })?;
        self.insert_undo_window(offer_id, actor, action, status_after, json, undo_until)
            .await
    }

    /// Writes an undo window whose `before_json` is `json`.
    pub(super) async fn insert_undo_window(
        &mut self,
        offer_id: i64,
        actor: &str,
        action: &str,
        status_after: OfferStatus,
        json: String,
        undo_until: i64,
    ) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "INSERT INTO decision_undos (offer_id, actor, action, status_after, before_json,
                                         reply_id, created_at, undo_until)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(offer_id)
        .bind(actor)
        .bind(action)
        .bind(status_after)
        .bind(json)
        .bind(self.last_reply)
        .bind(now_ms())
        .bind(undo_until)
        .fetch_one(&mut *self.tx)
        .await
        .during("opening an undo window")
    }
}

/// Undoes the decision of window `id` inside `tx` for `actor`, who must be
/// the one who made it (checked as [`Store::undo_decision`] says, every
/// check before any write, so a refusal leaves `tx` as it was); `note`
/// ends the history's detail. A bulk assign's or set-status's window puts
/// back only that field (`undo_batches::put_back`). Returns the offer's id.
pub(super) async fn undo_in(
    tx: &mut Transaction<'static, Any>,
    id: i64,
    actor: &str,
    now: i64,
    note: &str,
) -> Result<i64, UndoError> {
    let row: UndoRow = sqlx::query_as(
        "SELECT offer_id, actor, action, status_after, before_json, reply_id, undo_until, undone_at
         FROM decision_undos WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
    .during("reading an undo window")?
    .ok_or(UndoError::NotFound)?;
    if row.actor != actor {
        return Err(UndoError::NotYours(row.actor));
    }
    if row.undone_at.is_some() {
        return Err(UndoError::AlreadyUndone);
    }
    if now >= row.undo_until {
        return Err(UndoError::Expired);
    }
    let status = current_status(tx, row.offer_id).await?;
    if status != row.status_after {
        return Err(UndoError::Moved(status));
    }
    let back_to = match super::undo_batches::Change::of(&row.action, &row.before_json)? {
        Some(change) => change.put_back(tx, row.offer_id).await?,
        None => {
            let before: OfferBefore =
                serde_json::from_str(&row.before_json).map_err(|e| StoreError::Query {
                    what: "reading what an offer was before a decision",
                    source: sqlx::Error::Decode(Box::new(e)),
                })?;
            if let Some(reply) = row.reply_id {
                discard_held_back(tx, row.offer_id, reply).await?;
            }
            restore(tx, row.offer_id, &before).await?;
            before.status.to_string()
        }
    };
    sqlx::query("UPDATE decision_undos SET undone_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await
        .during("marking a decision undone")?;
    let detail = format!("{} undone, back to {back_to}{note}", row.action);
    Store::audit_in(tx, actor, Some(row.offer_id), None, "undone", &detail).await?;
    Ok(row.offer_id)
}

async fn current_status(
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

/// Discards the reply a decision held back, unless it has left already.
async fn discard_held_back(
    tx: &mut Transaction<'static, Any>,
    offer_id: i64,
    reply: i64,
) -> Result<(), UndoError> {
    let state: Option<ReplyState> = sqlx::query_scalar("SELECT state FROM outbox WHERE id = $1")
        .bind(reply)
        .fetch_optional(&mut **tx)
        .await
        .during("reading a held-back reply")?;
    match state {
        Some(ReplyState::Pending | ReplyState::Held) => {}
        Some(ReplyState::Discarded) | None => return Ok(()),
        Some(_) => return Err(UndoError::AlreadySent),
    }
    sqlx::query("UPDATE outbox SET state = $1 WHERE id = $2")
        .bind(ReplyState::Discarded)
        .bind(reply)
        .execute(&mut **tx)
        .await
        .during("discarding an undone decision's reply")?;
    Store::audit_in(
        tx,
        "system",
        Some(offer_id),
        None,
        "reply_discarded",
        &format!("reply {reply} of an undone decision"),
    )
    .await?;
    Ok(())
}

/// Puts back the offer's decision columns, messages and received quantities.
async fn restore(
    tx: &mut Transaction<'static, Any>,
    offer_id: i64,
    b: &OfferBefore,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE offers SET status = $1, pickup_site = $2, pickup_window = $3, decline_reason = $4,
                           merged_into = $5, updated_at = $6 WHERE id = $7",
    )
    .bind(b.status)
    .bind(&b.pickup_site)
    .bind(&b.pickup_window)
    .bind(&b.decline_reason)
    .bind(b.merged_into)
    .bind(now_ms())
    .bind(offer_id)
    .execute(&mut **tx)
    .await
    .during("restoring an offer")?;
    for id in &b.message_ids {
        sqlx::query("UPDATE messages SET offer_id = $1 WHERE id = $2")
            .bind(offer_id)
            .bind(id)
            .execute(&mut **tx)
            .await
            .during("moving a message back")?;
    }
    for (item, received) in &b.received {
        sqlx::query(
            "UPDATE offer_items SET received_quantity = $1 WHERE id = $2 AND offer_id = $3",
        )
        .bind(OptF64(*received))
        .bind(item)
        .bind(offer_id)
        .execute(&mut **tx)
        .await
        .during("restoring a received quantity")?;
    }
    sqlx::query("DELETE FROM slot_bookings WHERE offer_id = $1")
        .bind(offer_id)
        .execute(&mut **tx)
        .await
        .during("taking back a booking")?;
    if let Some(booking) = &b.booking {
        super::slots::save_booking(tx, booking).await?;
    }
    Ok(())
}
