//! The queue: offers in priority order (by the operators' needs), the
//! filters staff choose, and the item lines of what the filters select for
//! export. Mirrors `web::queue`, which parses its form into a [`QueueFilter`].

use sqlx::{QueryBuilder, Sqlite};

use super::offers::{ItemFull, ITEM_COLUMNS};
use super::{QueryContext, Store, StoreError};
use crate::state::OfferStatus;
use crate::values::OfferRef;

/// Which statuses the queue shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatusFilter {
    /// Those still needing a decision ([`OfferStatus::is_open`]).
    #[default]
    Open,
    All,
    Only(OfferStatus),
}

/// What the queue is narrowed to; `None` leaves a field unfiltered.
#[derive(Debug, Clone, Default)]
pub struct QueueFilter {
    pub status: StatusFilter,
    pub category: Option<String>,
    pub item: Option<String>,
    pub language: Option<String>,
    /// The start of a postal code.
    pub postal: Option<String>,
    /// Words searched in subject, donor, items, notes and the message text
    /// (the first 8 count).
    pub search: Option<String>,
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

// CAST: SQLite gives an integer 0 when nothing matches, which sqlx will not read as f64.
const PRIORITY: &str = "CAST((SELECT COALESCE(SUM(COALESCE(i.quantity, 1) * n.weight), 0)
     FROM offer_items i JOIN needs n ON n.item = i.item WHERE i.offer_id = o.id) AS REAL)";

/// The columns of a [`QueueRow`].
const QUEUE_COLUMNS: &str = "o.id, o.donor_email, o.donor_name, o.subject, o.category, o.status,
     o.language, json_extract(o.pickup_json, '$.postal_code') AS postal_code, o.created_at";

/// An item line with the offer it belongs to, for export.
#[derive(sqlx::FromRow)]
struct ExportRow {
    offer_ref: OfferRef,
    #[sqlx(flatten)]
    item: ItemFull,
}

fn push_filter(qb: &mut QueryBuilder<'_, Sqlite>, f: &QueueFilter) {
    qb.push(" WHERE 1 = 1");
    match f.status {
        StatusFilter::Open => {
            let open = OfferStatus::sql_list(OfferStatus::is_open);
            qb.push(format!(" AND o.status IN ({open})"));
        }
        StatusFilter::All => {}
        StatusFilter::Only(status) => {
            qb.push(" AND o.status = ").push_bind(status);
        }
    }
    for (value, column) in [(&f.category, "o.category"), (&f.language, "o.language")] {
        if let Some(value) = value {
            qb.push(format!(" AND {column} = "))
                .push_bind(value.clone());
        }
    }
    if let Some(postal) = &f.postal {
        qb.push(" AND json_extract(o.pickup_json, '$.postal_code') LIKE ")
            .push_bind(format!("{}%", postal.trim()));
    }
    if let Some(item) = &f.item {
        qb.push(" AND EXISTS (SELECT 1 FROM offer_items i WHERE i.offer_id = o.id AND i.item = ")
            .push_bind(item.clone())
            .push(")");
    }
    let words = f.search.as_deref().unwrap_or_default().split_whitespace();
    for word in words.take(8) {
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
}
