//! The dashboard's figures: per item, pledged, accepted and received
//! against the target; offers per day. Mirrors `web::dashboard`.

use super::{now_ms, QueryContext, Store, StoreError};
use crate::state::OfferStatus;

/// Per item: pledged, accepted and received against the target, in the
/// item's base unit (pieces, or litres), with what was stated beside.
/// Requests and sale offers pledge nothing (migration 0023).
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct ItemStats {
    pub item: String,
    pub pledged: f64,
    pub accepted: f64,
    pub received: f64,
    pub target: Option<f64>,
    /// piece or litre; `None` for an item the catalog does not know.
    pub base_unit: Option<String>,
    /// Pledged lines whose base quantity rests on a catalog pack size.
    pub assumed_lines: i64,
    /// Pledged lines with a quantity no pack size converts (not counted).
    pub unconverted_lines: i64,
    /// The pledged quantities as stated, per unit: "3 box, 500 each".
    #[sqlx(skip)]
    pub stated: String,
}

impl Store {
    /// Per item: pledged (open or accepted offers), accepted, received, target.
    pub async fn item_stats(&self) -> Result<Vec<ItemStats>, StoreError> {
        let turned_away = OfferStatus::sql_list(OfferStatus::is_turned_away);
        let accepted = OfferStatus::sql_list(OfferStatus::is_accepted);
        // From the running totals per item, status and unit (migration 0023).
        let mut stats: Vec<ItemStats> = sqlx::query_as(&format!(
            "WITH names AS (
               SELECT item FROM item_totals WHERE lines > 0 AND status NOT IN ({turned_away})
               UNION SELECT item FROM needs)
             SELECT names.item AS item,
               CAST(ROUND(COALESCE(SUM(CASE WHEN t.status NOT IN ({turned_away}) THEN t.base END), 0), 6) AS DOUBLE PRECISION)
                 AS pledged,
               CAST(ROUND(COALESCE(SUM(CASE WHEN t.status IN ({accepted}) THEN t.base END), 0), 6) AS DOUBLE PRECISION)
                 AS accepted,
               CAST(ROUND(COALESCE(SUM(CASE WHEN t.status NOT IN ({turned_away}) THEN t.base_received END), 0), 6) AS DOUBLE PRECISION)
                 AS received,
               CAST((SELECT target FROM needs WHERE needs.item = names.item) AS DOUBLE PRECISION) AS target,
               (SELECT base_unit FROM pack_sizes p WHERE p.item = names.item LIMIT 1) AS base_unit,
               CAST(COALESCE(SUM(CASE WHEN t.status NOT IN ({turned_away}) THEN t.assumed END), 0) AS BIGINT)
                 AS assumed_lines,
               CAST(COALESCE(SUM(CASE WHEN t.status NOT IN ({turned_away}) THEN t.unconverted END), 0) AS BIGINT)
                 AS unconverted_lines
             FROM names LEFT JOIN item_totals t ON t.item = names.item
             GROUP BY names.item ORDER BY names.item"
        ))
        .fetch_all(&self.reader)
        .await
        .during("reading item figures")?;
        let stated: Vec<(String, String, f64)> = sqlx::query_as(&format!(
            "SELECT item, unit, CAST(ROUND(SUM(quantity), 6) AS DOUBLE PRECISION) FROM item_totals
             WHERE status NOT IN ({turned_away}) GROUP BY item, unit
             HAVING SUM(lines) > 0 ORDER BY item, unit"
        ))
        .fetch_all(&self.reader)
        .await
        .during("reading stated quantities")?;
        for s in &mut stats {
            let parts: Vec<String> = stated
                .iter()
                .filter(|(item, _, q)| *item == s.item && *q != 0.0)
                .map(|(_, unit, q)| {
                    let unit = if unit.is_empty() { "each" } else { unit };
                    format!("{} {unit}", super::fmt_qty(Some(*q)))
                })
                .collect();
            s.stated = parts.join(", ");
        }
        Ok(stats)
    }

    /// Offers created per day (UTC, `YYYY-MM-DD`) over the last `days` days,
    /// days without any left out. Each day is counted between its bounds
    /// in the creation index: no date formatted per offer, no sort of
    /// every offer of the month (60,000 at 100,000 offers).
    pub async fn offers_per_day(&self, days: i64) -> Result<Vec<(String, i64)>, StoreError> {
        const DAY: i64 = 86_400_000;
        let now = now_ms();
        let since = now - days * DAY;
        let counts: Vec<(i64, i64)> = sqlx::query_as(
            "WITH RECURSIVE d(day) AS (
               SELECT $1 / $3 UNION ALL SELECT day + 1 FROM d WHERE day < $2 / $3)
             SELECT day, (SELECT COUNT(*) FROM offers
                          WHERE created_at >= CASE WHEN day * $3 > $1 THEN day * $3 ELSE $1 END
                            AND created_at < (day + 1) * $3)
             FROM d",
        )
        .bind(since)
        .bind(now)
        .bind(DAY)
        .fetch_all(&self.reader)
        .await
        .during("counting offers per day")?;
        Ok(counts
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .filter_map(|(day, n)| {
                let date = chrono::DateTime::from_timestamp_millis(day * DAY)?;
                Some((date.format("%Y-%m-%d").to_string(), n))
            })
            .collect())
    }
}
