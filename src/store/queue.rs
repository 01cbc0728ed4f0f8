//! The queue: offers in priority order (by the operators' needs, stored
//! per offer), the filters staff choose, search through `store::search`,
//! and the offers and item lines the filters select, streamed for export. Mirrors `web::queue`, which parses its form into a [`QueueFilter`].

use super::{Engine, QueryBuilder};
use futures::StreamExt;
use tokio::sync::mpsc;

use super::offers::{ItemFull, ITEM_COLUMNS};
use super::ownership::{open_count_index, open_sort_index, push_owner, Owner, QueueSort};
use super::{search, QueryContext, Store, StoreError};
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
    /// What staff typed in the search box ([`super::fts_query`]): searched
    /// in reference, donor, subject, phone, pickup place, items, notes and
    /// the messages' clean text.
    pub search: Option<String>,
    /// Whose offers ([`super::ownership`]); None: anyone's.
    pub owner: Option<Owner>,
    /// The order; with a search and the default sort, best match first.
    pub sort: QueueSort,
    /// Leaves out requests and inquiries (they have queues of their own,
    /// `store::lanes`) unless `category` names one: the desk's main queue.
    pub offers_only: bool,
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
    /// "n95_respirator × 2000, exam_gloves × 3, face_shield" (no quantity: no number)
    pub items: String,
    /// The staff email it is assigned to.
    pub assigned_to: Option<String>,
}

/// One offer as the CSV export has it: every field staff see.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExportOffer {
    #[sqlx(flatten)]
    pub row: QueueRow,
    pub phone: Option<String>,
    pub organization: Option<String>,
    pub pickup_address: Option<String>,
    pub pickup_site: Option<String>,
    pub pickup_window: Option<String>,
    pub decline_reason: Option<String>,
    pub merged_into: Option<i64>,
    /// Every note, oldest first, separated by blank lines.
    pub notes: String,
    pub updated_at: i64,
}

/// The columns of a [`QueueRow`], for `FROM offers o`. An item without a
/// quantity shows without a number (`printf` would make NULL a 0).
const QUEUE_COLUMNS: &str = "o.id, o.donor_email, o.donor_name, o.subject, o.category, o.status,
     o.language, json_extract(o.pickup_json, '$.postal_code') AS postal_code, o.created_at,
     CAST(ROUND(o.priority, 6) AS DOUBLE PRECISION) AS priority, o.assigned_to,
     COALESCE((SELECT group_concat(line, ', ') FROM (
        SELECT i.item || CASE WHEN i.quantity IS NULL THEN '' ELSE ' × ' || printf('%.15g', i.quantity) END AS line
        FROM offer_items i WHERE i.offer_id = o.id ORDER BY i.position, i.id) AS lines), '') AS items";

/// The columns an [`ExportOffer`] adds to a [`QueueRow`].
const EXPORT_COLUMNS: &str = "json_extract(o.contact_json, '$.phone') AS phone,
     json_extract(o.contact_json, '$.organization') AS organization,
     json_extract(o.pickup_json, '$.address') AS pickup_address,
     o.pickup_site, o.pickup_window, o.decline_reason, o.merged_into, o.updated_at,
     COALESCE((SELECT group_concat(body, '\n' || '\n') FROM (
        SELECT n.body FROM notes n WHERE n.offer_id = o.id ORDER BY n.id) AS bodies), '') AS notes";

/// An item line with the offer it belongs to, for export.
#[derive(sqlx::FromRow)]
struct ExportRow {
    offer_ref: OfferRef,
    #[sqlx(flatten)]
    item: ItemFull,
}

/// The filters besides search. `search` is the FTS5 query, when there is
/// one and the caller does not join the index itself.
pub(super) fn push_filter(qb: &mut QueryBuilder, f: &QueueFilter, search: Option<&str>) {
    qb.push(" WHERE 1 = 1");
    match f.status {
        StatusFilter::Open => {
            // Written as migration 0017's partial index is, which it then uses.
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
    if f.offers_only && f.category.is_none() {
        let lanes = super::lane_categories_sql();
        qb.push(format!(" AND o.category NOT IN ({lanes})"));
    }
    if let Some(postal) = &f.postal {
        qb.push(" AND json_extract(o.pickup_json, '$.postal_code') LIKE ")
            .push_bind(format!("{}%", postal.trim()));
    }
    if let Some(item) = &f.item {
        qb.push(" AND o.id IN (SELECT i.offer_id FROM offer_items i WHERE i.item = ")
            .push_bind(item.clone())
            .push(")");
    }
    push_owner(qb, &f.owner);
    if let Some(search) = search {
        qb.push(" AND o.id IN (SELECT rowid");
        search::push_from_matches(qb, search);
        qb.push(")");
    }
}

/// `offers o`, read through `index` on SQLite (PostgreSQL's planner has
/// statistics and takes no hints).
fn offers_indexed_by(engine: Engine, index: Option<&str>) -> String {
    match (engine, index) {
        (Engine::Sqlite, Some(index)) => format!("offers o INDEXED BY {index}"),
        _ => "offers o".to_string(),
    }
}

/// The table a queue count reads: with the index that counts an owner's
/// open offers alone, when there is one for `filter`.
fn count_from(engine: Engine, filter: &QueueFilter) -> String {
    offers_indexed_by(engine, open_count_index(filter))
}

impl QueueFilter {
    /// The search as an FTS5 query; None when there is nothing to search.
    fn fts(&self) -> Option<String> {
        self.search.as_deref().and_then(search::fts_query)
    }
}

/// The FROM, WHERE and ORDER BY of the queue `filter` selects, in the
/// order its page shows (priority, best match with a search and the
/// default sort, or the column staff sorted by); `fts` is its search, and
/// `window` how many rows from the top the caller reads at most (a page's
/// offset and length).
pub(super) fn push_from_in_order(
    qb: &mut QueryBuilder,
    filter: &QueueFilter,
    fts: Option<&str>,
    window: i64,
) {
    match fts {
        Some(query) if search::ranks_alone(filter) => {
            search::push_ranked_window(qb, filter, query, window);
        }
        Some(query) => {
            // The index first (CROSS JOIN keeps that order): it names the few rows.
            let join = match qb.engine() {
                Engine::Sqlite => "CROSS JOIN",
                Engine::Postgres => "JOIN",
            };
            qb.push(" FROM ");
            search::push_source(qb, query);
            qb.push(format!(" {join} offers o ON o.id = offer_search.rowid"));
            push_filter(qb, filter, None);
            qb.push(" AND ");
            search::push_match(qb, query);
            if filter.sort == QueueSort::default() {
                qb.push(" ORDER BY ");
                search::push_score(qb, query);
                qb.push(", o.id");
            } else {
                qb.push(format!(" ORDER BY {}", filter.sort.order_by()));
            }
        }
        None => {
            let from = offers_indexed_by(qb.engine(), open_sort_index(filter));
            qb.push(format!(" FROM {from}"));
            push_filter(qb, filter, None);
            qb.push(format!(" ORDER BY {}", filter.sort.order_by()));
        }
    }
}

impl Store {
    /// One page of the queue and the total count: highest priority first,
    /// or, with a search, best match first.
    pub async fn queue(
        &self,
        filter: &QueueFilter,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<QueueRow>, i64), StoreError> {
        let fts = filter.fts();
        if let Some(query) = fts.as_deref().filter(|_| search::ranks_alone(filter)) {
            return self.ranked_page(filter, query, offset, limit).await;
        }
        let mut qb = QueryBuilder::new(self.engine, format!("SELECT {QUEUE_COLUMNS}"));
        push_from_in_order(&mut qb, filter, fts.as_deref(), offset + limit);
        qb.push(" LIMIT ")
            .push_bind(limit)
            .push(" OFFSET ")
            .push_bind(offset);
        // The page and the count on two reader connections at once.
        let rows = async {
            qb.build_query_as()
                .fetch_all(&self.reader)
                .await
                .during("reading the queue")
        };
        let (rows, total) = tokio::try_join!(rows, self.total(filter, fts.as_deref()))?;
        Ok((rows, total))
    }

    /// One page of a search [`search::ranks_alone`] answers, and its total:
    /// the page's ids ranked and counted in the index, then only its rows
    /// read from `offers`.
    async fn ranked_page(
        &self,
        filter: &QueueFilter,
        query: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<QueueRow>, i64), StoreError> {
        let ids = search::ranked_ids(self, filter, query, offset + limit);
        let total = search::count_alone(self, filter, query);
        let (ids, total) = tokio::try_join!(ids, total)?;
        let page: Vec<i64> = ids
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(0))
            .collect();
        if page.is_empty() {
            return Ok((Vec::new(), total));
        }
        let mut qb = QueryBuilder::new(
            self.engine,
            format!("SELECT {QUEUE_COLUMNS} FROM offers o WHERE o.id IN ("),
        );
        for (i, id) in page.iter().enumerate() {
            qb.push(if i == 0 { "" } else { ", " }).push_bind(*id);
        }
        qb.push(")");
        let mut rows: Vec<QueueRow> = qb
            .build_query_as()
            .fetch_all(&self.reader)
            .await
            .during("reading the queue")?;
        rows.sort_by_key(|r| page.iter().position(|id| *id == r.id));
        Ok((rows, total))
    }

    /// How many offers the queue `filter` selects. The main queue is
    /// everything less the requests and inquiries: both counts read an
    /// index alone, where leaving them out row by row reads rows.
    async fn total(&self, filter: &QueueFilter, fts: Option<&str>) -> Result<i64, StoreError> {
        if !(filter.offers_only && filter.category.is_none()) {
            return self
                .count(filter, fts, &count_from(self.engine, filter), "")
                .await;
        }
        let everything = QueueFilter {
            offers_only: false,
            ..filter.clone()
        };
        let lanes = format!(" AND o.category IN ({})", super::lane_categories_sql());
        // Walked from the few lane rows, whatever else filters.
        let from_lanes = offers_indexed_by(self.engine, Some("offers_by_category_status"));
        let from_all = count_from(self.engine, &everything);
        let all = self.count(&everything, fts, &from_all, "");
        let in_lanes = self.count(&everything, fts, &from_lanes, &lanes);
        let (all, in_lanes) = tokio::try_join!(all, in_lanes)?;
        Ok(all - in_lanes)
    }

    /// How many offers `filter` (and the SQL condition `and`) selects,
    /// read `from` (`offers o`, or with the index to walk).
    async fn count(
        &self,
        filter: &QueueFilter,
        fts: Option<&str>,
        from: &str,
        and: &str,
    ) -> Result<i64, StoreError> {
        let mut count = QueryBuilder::new(self.engine, format!("SELECT COUNT(*) FROM {from}"));
        push_filter(&mut count, filter, fts);
        count.push(and);
        count
            .build_query_scalar()
            .fetch_one(&self.reader)
            .await
            .during("counting the queue")
    }

    /// Every offer the filters select, oldest first, as rows arrive from
    /// the database: the channel holds a few, so memory stays flat however
    /// many there are.
    pub fn export_offers(
        &self,
        filter: &QueueFilter,
    ) -> mpsc::Receiver<Result<ExportOffer, StoreError>> {
        let filter = filter.clone();
        let engine = self.engine;
        self.stream(
            move || {
                let mut qb = QueryBuilder::new(
                    engine,
                    format!("SELECT {QUEUE_COLUMNS}, {EXPORT_COLUMNS} FROM offers o"),
                );
                push_filter(&mut qb, &filter, filter.fts().as_deref());
                qb.push(" ORDER BY o.id");
                qb
            },
            "exporting offers",
        )
    }

    /// Every item line of the offers matching `filter`, for CSV export,
    /// streamed as [`Store::export_offers`] is.
    pub fn export_items(
        &self,
        filter: &QueueFilter,
    ) -> mpsc::Receiver<Result<(OfferRef, ItemFull), StoreError>> {
        let filter = filter.clone();
        let engine = self.engine;
        let (tx, rx) = mpsc::channel(EXPORT_BUFFER);
        let rows = self.stream::<ExportRow>(
            move || {
                let mut qb = QueryBuilder::new(
                    engine,
                    format!(
                        "SELECT o.id AS offer_ref, {ITEM_COLUMNS}
                 FROM offer_items i JOIN offers o ON o.id = i.offer_id"
                    ),
                );
                push_filter(&mut qb, &filter, filter.fts().as_deref());
                qb.push(" ORDER BY o.id, i.position, i.id");
                qb
            },
            "exporting items",
        );
        tokio::spawn(forward(rows, tx, |r: ExportRow| (r.offer_ref, r.item)));
        rx
    }

    /// Runs the query `build` makes on a task of its own and sends its rows
    /// into a small channel as they come.
    fn stream<T>(
        &self,
        build: impl FnOnce() -> QueryBuilder<'static> + Send + 'static,
        what: &'static str,
    ) -> mpsc::Receiver<Result<T, StoreError>>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin + 'static,
    {
        let (tx, rx) = mpsc::channel(EXPORT_BUFFER);
        let reader = self.reader.clone();
        tokio::spawn(async move {
            let mut qb = build();
            let mut rows = qb.build_query_as::<T>().fetch(&reader);
            while let Some(row) = rows.next().await {
                let failed = row.is_err();
                // The receiver hung up: the download was cancelled.
                if tx.send(row.during(what)).await.is_err() || failed {
                    break;
                }
            }
        });
        rx
    }

    /// The distinct values the queue's filter menus offer: each read by
    /// hopping along its index, a few lookups per value, not a scan.
    pub async fn filter_choices(&self) -> Result<[Vec<String>; 3], StoreError> {
        let mut out: [Vec<String>; 3] = Default::default();
        let columns = [
            ("offers", "category"),
            ("offer_items", "item"),
            ("offers", "language"),
        ];
        for (slot, (table, column)) in out.iter_mut().zip(columns) {
            *slot = sqlx::query_scalar(&format!(
                "WITH RECURSIVE v(x) AS (
                   SELECT (SELECT MIN({column}) FROM {table})
                   UNION ALL
                   SELECT (SELECT MIN({column}) FROM {table} WHERE {column} > v.x) FROM v WHERE v.x IS NOT NULL)
                 SELECT x FROM v WHERE x IS NOT NULL"
            ))
            .fetch_all(&self.reader)
            .await
            .during("reading filter choices")?;
        }
        Ok(out)
    }
}

/// How many exported rows wait between the database and the response.
const EXPORT_BUFFER: usize = 64;

async fn forward<A, B>(
    mut from: mpsc::Receiver<Result<A, StoreError>>,
    to: mpsc::Sender<Result<B, StoreError>>,
    map: impl Fn(A) -> B,
) {
    while let Some(row) = from.recv().await {
        if to.send(row.map(&map)).await.is_err() {
            break;
        }
    }
}
