//! The `offers` and `offer_items` tables: reading an offer with its item
//! lines, and completing a processed message into them in one transaction
//! with its reply.

use sqlx::{Any, Transaction};

use super::messages::{MessageSummary, MESSAGE_COLUMNS};
use super::outbox::{NewReply, OutboxSummary};
use super::sql::{Flag, OptF64};
use super::{now_ms, AuditEvent, Engine, QueryBuilder, QueryContext, Store, StoreError};
use crate::rules::Vetting;
use crate::state::OfferStatus;
use crate::values::OfferRef;

/// What processing found out about a message, whatever becomes of it.
#[derive(Debug, Clone)]
pub struct MessageFacts {
    pub category: String,
    pub from_address: Option<String>,
    pub subject: String,
    /// The message's clean text (quotes, signatures and disclaimers cut),
    /// for the search index.
    pub text: String,
}

/// An offer to create from a message.
#[derive(Debug, Clone)]
pub struct NewOffer {
    pub donor_email: String,
    pub donor_name: Option<String>,
    pub subject: String,
    pub category: String,
    pub language: Option<String>,
    pub contact_json: Option<String>,
    pub pickup_json: Option<String>,
    pub price_quoted: bool,
    /// [`crate::rules::Vetting`] as JSON, when the message states any.
    pub vetting_json: Option<String>,
    pub items: Vec<OfferItemRow>,
}

impl NewOffer {
    /// The contact's phone number, when the rules found one.
    pub fn phone(&self) -> Option<String> {
        let contact: serde_json::Value =
            serde_json::from_str(self.contact_json.as_deref()?).ok()?;
        Some(contact.get("phone")?.as_str()?.to_string())
    }
}

/// One item line of an offer.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct OfferItemRow {
    pub item: String,
    pub quantity: Option<f64>,
    pub unit: Option<String>,
    pub model: Option<String>,
    pub condition: Option<String>,
    pub expires: Option<String>,
    pub spans_json: String,
    pub source: String,
}

/// An offer as listed in the queue.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct OfferSummary {
    pub id: i64,
    #[sqlx(rename = "id")]
    pub reference: OfferRef,
    pub donor_email: String,
    pub donor_name: Option<String>,
    pub subject: String,
    pub category: String,
    pub status: OfferStatus,
    pub language: Option<String>,
    pub created_at: i64,
}

/// Everything known about one offer.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OfferDetail {
    pub offer: OfferSummary,
    pub contact_json: Option<String>,
    pub pickup_json: Option<String>,
    pub price_quoted: bool,
    /// A seller's price, minimum order and approval numbers, for review.
    pub vetting: Option<Vetting>,
    /// A reply of ours to this donor bounced.
    pub donor_undeliverable: bool,
    pub items: Vec<OfferItemRow>,
    /// Other offers from the same address, newest first.
    pub donor_offers: Vec<i64>,
    pub messages: Vec<MessageSummary>,
    pub replies: Vec<OutboxSummary>,
    pub history: Vec<AuditEvent>,
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
    /// The quantity in the item's base unit (migration 0023), when the
    /// catalog can say it.
    pub base_quantity: Option<f64>,
    /// piece or litre.
    pub base_unit: Option<String>,
    /// The base quantity rests on a catalog pack size, not the email.
    #[sqlx(try_from = "Flag")]
    pub pack_assumed: bool,
    /// The line counts as pledged supply: its offer is not a request nor a sale.
    #[sqlx(try_from = "Flag")]
    pub pledges: bool,
}

/// The columns of an [`ItemFull`], for `FROM offer_items i`.
pub(super) const ITEM_COLUMNS: &str =
    "i.id, i.item, CAST(i.quantity AS DOUBLE PRECISION) AS quantity, i.unit, i.model,
     i.condition, i.spans_json, i.source, CAST(i.received_quantity AS DOUBLE PRECISION) AS received_quantity,
     CAST(i.base_quantity AS DOUBLE PRECISION) AS base_quantity, i.base_unit, i.pack_assumed,
     COALESCE((SELECT CASE WHEN category NOT IN ('request', 'sale') THEN 1 ELSE 0 END
       FROM offers WHERE id = i.offer_id), 0) AS pledges";

/// The columns of an [`OfferSummary`], for `SELECT … FROM offers`.
const OFFER_COLUMNS: &str =
    "id, donor_email, donor_name, subject, category, status, language, created_at";

/// The `offers` row behind an [`OfferDetail`].
#[derive(sqlx::FromRow)]
struct OfferRow {
    #[sqlx(flatten)]
    offer: OfferSummary,
    contact_json: Option<String>,
    pickup_json: Option<String>,
    #[sqlx(try_from = "Flag")]
    price_quoted: bool,
    vetting_json: Option<String>,
    #[sqlx(try_from = "Flag")]
    donor_undeliverable: bool,
}

impl Store {
    /// Completes a message into a new offer with its items and, when
    /// `reply` gives one for the new offer id, its reply: one transaction.
    pub async fn complete_with_offer(
        &self,
        message_id: i64,
        facts: &MessageFacts,
        offer: &NewOffer,
        reply: impl FnOnce(i64) -> Option<NewReply>,
    ) -> Result<i64, StoreError> {
        let mut batch = self.begin_processing().await?;
        let offer_id = batch
            .complete_with_offer(message_id, facts, offer, None, reply)
            .await?;
        batch.commit().await?;
        Ok(offer_id)
    }

    /// Offers, newest first, optionally only those with `status`.
    pub async fn list_offers(
        &self,
        status: Option<OfferStatus>,
        limit: i64,
    ) -> Result<Vec<OfferSummary>, StoreError> {
        sqlx::query_as(&format!(
            "SELECT {OFFER_COLUMNS} FROM offers
             WHERE ($1 IS NULL OR status = $1) ORDER BY id DESC LIMIT $2"
        ))
        .bind(status)
        .bind(limit)
        .fetch_all(&self.reader)
        .await
        .during("listing offers")
    }

    /// One offer with its items, messages, replies and history.
    pub async fn offer(&self, id: i64) -> Result<OfferDetail, StoreError> {
        let row: OfferRow = sqlx::query_as(&format!(
            "SELECT {OFFER_COLUMNS}, contact_json, pickup_json, price_quoted, vetting_json,
                    donor_undeliverable
             FROM offers WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .during("reading an offer")?
        .ok_or(StoreError::NotFound("offer"))?;
        Ok(OfferDetail {
            donor_offers: self.donor_offers(id, &row.offer.donor_email).await?,
            offer: row.offer,
            contact_json: row.contact_json,
            pickup_json: row.pickup_json,
            price_quoted: row.price_quoted,
            // Written by us from a `Vetting`; anything unreadable shows as nothing.
            vetting: row
                .vetting_json
                .as_deref()
                .and_then(|j| serde_json::from_str(j).ok()),
            donor_undeliverable: row.donor_undeliverable,
            items: self.offer_items(id).await?,
            messages: self.offer_messages(id).await?,
            replies: self.offer_replies(id).await?,
            history: self.offer_history(id).await?,
        })
    }

    /// The donor's other offers: a second offer in a new thread is a new
    /// offer, linked to the earlier ones through the address.
    async fn donor_offers(&self, id: i64, donor_email: &str) -> Result<Vec<i64>, StoreError> {
        sqlx::query_scalar("SELECT id FROM offers WHERE donor_email = $1 COLLATE NOCASE AND id != $2 ORDER BY id DESC LIMIT 50")
            .bind(donor_email)
            .bind(id)
            .fetch_all(&self.reader)
            .await
            .during("reading a donor's other offers")
    }

    /// The item lines of one offer, in order.
    pub async fn offer_items(&self, offer_id: i64) -> Result<Vec<OfferItemRow>, StoreError> {
        sqlx::query_as(
            "SELECT item, quantity, unit, model, condition, expires, spans_json, source
             FROM offer_items WHERE offer_id = $1 ORDER BY position",
        )
        .bind(offer_id)
        .fetch_all(&self.reader)
        .await
        .during("reading offer items")
    }

    /// Item lines with their ids and received quantities.
    pub async fn items_full(&self, offer_id: i64) -> Result<Vec<ItemFull>, StoreError> {
        sqlx::query_as(&format!(
            "SELECT {ITEM_COLUMNS} FROM offer_items i WHERE i.offer_id = $1 ORDER BY i.position, i.id"
        ))
        .bind(offer_id)
        .fetch_all(&self.reader)
        .await
        .during("reading offer items")
    }

    async fn offer_messages(&self, offer_id: i64) -> Result<Vec<MessageSummary>, StoreError> {
        sqlx::query_as(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE offer_id = $1 ORDER BY id"
        ))
        .bind(offer_id)
        .fetch_all(&self.reader)
        .await
        .during("reading an offer's messages")
    }
}

pub(super) async fn insert_offer(
    tx: &mut Transaction<'static, Any>,
    message_id: i64,
    o: &NewOffer,
) -> Result<i64, StoreError> {
    let now = now_ms();
    sqlx::query_scalar(
        "INSERT INTO offers (message_id, donor_email, donor_name, subject, category, language,
                             contact_json, pickup_json, price_quoted, vetting_json,
                             created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
    )
    .bind(message_id)
    .bind(&o.donor_email)
    .bind(&o.donor_name)
    .bind(&o.subject)
    .bind(&o.category)
    .bind(&o.language)
    .bind(&o.contact_json)
    .bind(&o.pickup_json)
    .bind(i64::from(o.price_quoted))
    .bind(&o.vetting_json)
    .bind(now)
    .bind(now)
    .fetch_one(&mut **tx)
    .await
    .during("creating an offer")
}

/// An offer's item lines, in order, in as few statements as the engines'
/// bind limits allow: on PostgreSQL what depends on the lines (search
/// text, priority, dashboard totals) is updated once per statement.
pub(super) async fn insert_items(
    tx: &mut Transaction<'static, Any>,
    engine: Engine,
    offer_id: i64,
    items: &[OfferItemRow],
) -> Result<(), StoreError> {
    // 10 values a line. Binding costs SQLite (through sqlx, which looks up
    // each placeholder's name in a list) the square of a statement's
    // values: 1,000 lines a statement made an email of 30,000 lines take
    // 34 s in a debug build; PostgreSQL binds by position.
    let lines_per_statement = match engine {
        Engine::Sqlite => 64,
        Engine::Postgres => 1_000,
    };
    for (chunk_index, chunk) in items.chunks(lines_per_statement).enumerate() {
        let mut insert = QueryBuilder::new(
            engine,
            "INSERT INTO offer_items (offer_id, position, item, quantity, unit, model, condition, expires, spans_json, source) VALUES ",
        );
        for (i, item) in chunk.iter().enumerate() {
            let position = (chunk_index * lines_per_statement + i) as i64;
            insert.push(if i == 0 { "(" } else { ", (" });
            insert
                .push_bind(offer_id)
                .push(", ")
                .push_bind(position)
                .push(", ")
                .push_bind(item.item.as_str())
                .push(", ")
                .push_bind(OptF64(item.quantity))
                .push(", ")
                .push_bind(item.unit.as_deref())
                .push(", ")
                .push_bind(item.model.as_deref())
                .push(", ")
                .push_bind(item.condition.as_deref())
                .push(", ")
                .push_bind(item.expires.as_deref())
                .push(", ")
                .push_bind(item.spans_json.as_str())
                .push(", ")
                .push_bind(item.source.as_str())
                .push(")");
        }
        insert
            .build()
            .execute(&mut **tx)
            .await
            .during("adding an offer's items")?;
    }
    Ok(())
}
