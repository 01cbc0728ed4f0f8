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
