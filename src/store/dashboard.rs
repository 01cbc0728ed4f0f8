//! The dashboard's figures: per item, pledged, accepted and received
//! against the target; offers per day. Mirrors `web::dashboard`.

use super::{now_ms, QueryContext, Store, StoreError};
use crate::state::OfferStatus;

/// Per item: pledged, accepted and received against the target.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct ItemStats {
    pub item: String,
    pub pledged: f64,
    pub accepted: f64,
    pub received: f64,
    pub target: Option<f64>,
}

impl Store {
    /// Per item: pledged (open or accepted offers), accepted, received, target.
    pub async fn item_stats(&self) -> Result<Vec<ItemStats>, StoreError> {
        let turned_away = OfferStatus::sql_list(OfferStatus::is_turned_away);
        let accepted = OfferStatus::sql_list(OfferStatus::is_accepted);
        // From the running totals per item and status (migration 0017).
        sqlx::query_as(&format!(
            "WITH names AS (
               SELECT item FROM item_totals WHERE lines > 0 AND status NOT IN ({turned_away})
               UNION SELECT item FROM needs)
             SELECT names.item AS item,
               CAST(ROUND(COALESCE(SUM(CASE WHEN t.status NOT IN ({turned_away}) THEN t.quantity END), 0), 6) AS REAL)
                 AS pledged,
               CAST(ROUND(COALESCE(SUM(CASE WHEN t.status IN ({accepted}) THEN t.quantity END), 0), 6) AS REAL)
                 AS accepted,
               CAST(ROUND(COALESCE(SUM(CASE WHEN t.status NOT IN ({turned_away}) THEN t.received END), 0), 6) AS REAL)
                 AS received,
               CAST((SELECT target FROM needs WHERE needs.item = names.item) AS REAL) AS target
             FROM names LEFT JOIN item_totals t ON t.item = names.item
             GROUP BY names.item ORDER BY names.item"
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
