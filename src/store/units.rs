//! The catalog's conversions in the database (`pack_sizes`, migration
//! 0023): triggers normalise every item line written with them, and when
//! the catalog's pack sizes change, [`Store::load_pack_sizes`] applies the
//! new ones to the stored lines (their priority and totals follow through
//! the triggers of `base_quantity`).

use std::collections::BTreeMap;

use super::sql::Flag;
use super::{QueryContext, Store, StoreError};
use crate::rules::catalog::PackSize;

/// One line's base quantity, unit and assumption from `pack_sizes`, as the
/// triggers of migration 0023 compute them (for `offer_items` rows).
const NORMALISE_SET: &str = "
    base_quantity = quantity * (SELECT per_unit FROM pack_sizes p
        WHERE p.item = offer_items.item AND p.unit = COALESCE(offer_items.unit, 'each')),
    base_unit = (SELECT base_unit FROM pack_sizes p WHERE p.item = offer_items.item LIMIT 1),
    pack_assumed = CASE WHEN quantity IS NOT NULL AND COALESCE((SELECT assumed FROM pack_sizes p
        WHERE p.item = offer_items.item AND p.unit = COALESCE(offer_items.unit, 'each')), 0) <> 0
        THEN 1 ELSE 0 END";

type Conversions = BTreeMap<(String, String), (String, f64, bool)>;

impl Store {
    /// Makes `pack_sizes` the catalog's `rows`; the stored lines of every
    /// item whose conversions changed are normalised again. Returns how
    /// many items changed (none on an ordinary start). On PostgreSQL the
    /// table is locked first, so serve started side by side take turns
    /// (both deleting and inserting the rows broke the second's insert).
    pub async fn load_pack_sizes(&self, rows: &[PackSize]) -> Result<usize, StoreError> {
        let wanted: Conversions = rows
            .iter()
            .map(|p| {
                (
                    (p.item.clone(), p.unit.clone()),
                    (p.base_unit.as_str().to_string(), p.per_unit, p.assumed),
                )
            })
            .collect();
        let mut tx = self.write().await?;
        if self.engine == super::Engine::Postgres {
            // Several serve starting at once on one database: one loads,
            // the others wait and then find nothing changed.
            sqlx::query("LOCK TABLE pack_sizes IN EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await
                .during("locking pack sizes")?;
        }
        let stored: Vec<(String, String, String, f64, Flag)> =
            sqlx::query_as("SELECT item, unit, base_unit, per_unit, assumed FROM pack_sizes")
                .fetch_all(&mut *tx)
                .await
                .during("reading pack sizes")?;
        let stored: Conversions = stored
            .into_iter()
            .map(|(i, u, b, n, a)| ((i, u), (b, n, a.0)))
            .collect();
        let mut changed: Vec<&String> = wanted
            .iter()
            .filter(|(k, v)| stored.get(*k) != Some(v))
            .chain(stored.iter().filter(|(k, _)| !wanted.contains_key(*k)))
            .map(|((item, _), _)| item)
            .collect();
        changed.sort();
        changed.dedup();
        if changed.is_empty() {
            return Ok(0);
        }
        sqlx::query("DELETE FROM pack_sizes")
            .execute(&mut *tx)
            .await
            .during("clearing pack sizes")?;
        for ((item, unit), (base_unit, per_unit, assumed)) in &wanted {
            sqlx::query(
                "INSERT INTO pack_sizes (item, unit, base_unit, per_unit, assumed) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(item)
            .bind(unit)
            .bind(base_unit)
            .bind(per_unit)
            .bind(i64::from(*assumed))
            .execute(&mut *tx)
            .await
            .during("loading pack sizes")?;
        }
        for item in &changed {
            sqlx::query(&format!(
                "UPDATE offer_items SET {NORMALISE_SET} WHERE item = $1"
            ))
            .bind(item)
            .execute(&mut *tx)
            .await
            .during("normalising stored item lines")?;
        }
        tx.commit().await.during("committing pack sizes")?;
        Ok(changed.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::catalog::Catalog;
    use crate::store::{ItemEdit, MessageFacts, Need, NewOffer, OfferItemRow, StoreOutcome};

    fn line(item: &str, quantity: Option<f64>, unit: Option<&str>) -> OfferItemRow {
        OfferItemRow {
            item: item.into(),
            quantity,
            unit: unit.map(str::to_string),
            model: None,
            condition: None,
            expires: None,
            spans_json: "[]".into(),
            source: "extracted".into(),
        }
    }

    async fn offer(store: &Store, n: u32, category: &str, items: Vec<OfferItemRow>) -> i64 {
        let raw = format!("Message-ID: <{n}@x>\r\nSubject: s\r\n\r\nbody\r\n");
        let StoreOutcome::Stored(message) =
            store.store_local("INBOX", raw.as_bytes()).await.unwrap()
        else {
            panic!("duplicate")
        };
        let facts = MessageFacts {
            category: category.into(),
            from_address: Some("d@x.example".into()),
            subject: "s".into(),
            text: String::new(),
        };
        let new = NewOffer {
            donor_email: "d@x.example".into(),
            donor_name: None,
            subject: "s".into(),
            category: category.into(),
            language: None,
            contact_json: None,
            pickup_json: None,
            price_quoted: false,
            vetting_json: None,
            items,
        };
        store
            .complete_with_offer(message, &facts, &new, |_| None)
            .await
            .unwrap()
    }

    async fn priority(store: &Store, id: i64) -> f64 {
        sqlx::query_scalar(
            "SELECT CAST(ROUND(priority, 6) AS DOUBLE PRECISION) FROM offers WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&store.reader)
        .await
        .unwrap()
    }

    fn need(item: &str, weight: f64) -> Need {
        Need {
            item: item.into(),
            weight,
            target: None,
            per_week: None,
            on_hand: None,
        }
    }

    #[tokio::test]
    async fn lines_are_normalised_and_priority_counts_base_units_of_supply_offers_only() {
        let store = Store::open("sqlite::memory:").await.unwrap();
        let catalog = Catalog::embedded().unwrap();
        assert!(store.load_pack_sizes(&catalog.pack_sizes()).await.unwrap() > 0);
        assert_eq!(
            store.load_pack_sizes(&catalog.pack_sizes()).await.unwrap(),
            0
        );
        store
            .load_operations(&[need("exam_gloves", 0.5)], &[])
            .await
            .unwrap();
        let gloves = vec![line("exam_gloves", Some(3.0), Some("box"))];
        let donation = offer(&store, 1, "offer", gloves.clone()).await;
        let request = offer(&store, 2, "request", gloves.clone()).await;
        let sale = offer(&store, 3, "sale", gloves).await;
        let items = store.items_full(donation).await.unwrap();
        assert_eq!(items[0].base_quantity, Some(300.0));
        assert_eq!(items[0].base_unit.as_deref(), Some("piece"));
        assert!(items[0].pack_assumed);
        assert_eq!(priority(&store, donation).await, 150.0);
        assert_eq!(priority(&store, request).await, 0.0);
        assert_eq!(priority(&store, sale).await, 0.0);

        // Staff state the count: no assumption any more, priority follows.
        let id = items[0].id;
        let edit = ItemEdit {
            item: "exam_gloves".into(),
            quantity: Some(500.0),
            unit: Some("each".into()),
        };
        store.update_item(donation, id, "t@x", &edit).await.unwrap();
        let items = store.items_full(donation).await.unwrap();
        assert_eq!(
            (items[0].base_quantity, items[0].pack_assumed),
            (Some(500.0), false)
        );
        assert_eq!(priority(&store, donation).await, 250.0);

        // The dashboard counts the donation alone, in pieces, beside what was stated.
        let stats = store.item_stats().await.unwrap();
        let g = stats.iter().find(|s| s.item == "exam_gloves").unwrap();
        assert_eq!(g.pledged, 500.0);
        assert_eq!(g.stated, "500 each");

        // An operator's bigger box: stored lines follow at the next start.
        let mut rows = catalog.pack_sizes();
        rows.iter_mut()
            .filter(|p| p.item == "exam_gloves" && p.unit == "box")
            .for_each(|p| p.per_unit = 250.0);
        let more = offer(
            &store,
            4,
            "offer",
            vec![line("exam_gloves", Some(2.0), Some("box"))],
        )
        .await;
        assert_eq!(priority(&store, more).await, 100.0);
        assert_eq!(store.load_pack_sizes(&rows).await.unwrap(), 1);
        assert_eq!(priority(&store, more).await, 250.0);
        let stats = store.item_stats().await.unwrap();
        let g = stats.iter().find(|s| s.item == "exam_gloves").unwrap();
        assert_eq!(g.pledged, 1000.0);
        assert_eq!(g.assumed_lines, 1);
    }

    #[tokio::test]
    async fn a_desk_change_to_a_need_reprioritises_is_audited_and_outlives_the_file() {
        let store = Store::open("sqlite::memory:").await.unwrap();
        let catalog = Catalog::embedded().unwrap();
        store.load_pack_sizes(&catalog.pack_sizes()).await.unwrap();
        store
            .load_operations(&[need("n95_respirator", 1.0)], &[])
            .await
            .unwrap();
        let id = offer(
            &store,
            1,
            "offer",
            vec![line("n95_respirator", Some(2.0), Some("box"))],
        )
        .await;
        assert_eq!(priority(&store, id).await, 40.0);
        let mut changed = need("n95_respirator", 0.5);
        changed.per_week = Some(700.0);
        changed.on_hand = Some(1200.0);
        store.set_need("admin@x", &changed).await.unwrap();
        assert_eq!(priority(&store, id).await, 20.0);
        let history = store.needs_history(10).await.unwrap();
        assert_eq!(history[0].action, "need_changed");
        assert!(
            history[0]
                .detail
                .contains("weight 1 → 700/week, 1200 on hand"),
            "{}",
            history[0].detail
        );
        // The file at the next start does not undo the desk's change.
        let loaded = store
            .load_operations(&[need("n95_respirator", 1.0)], &[])
            .await
            .unwrap();
        assert!(!loaded);
        assert_eq!(priority(&store, id).await, 20.0);
        store
            .remove_need("admin@x", "n95_respirator")
            .await
            .unwrap();
        assert_eq!(priority(&store, id).await, 0.0);
        assert_eq!(
            store.needs_history(10).await.unwrap()[0].action,
            "need_removed"
        );
    }
}
