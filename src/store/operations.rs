//! What the operators' file says: current needs (which weigh the queue's
//! priority) and pickup sites (offered when accepting). Mirrors
//! `web::operations`, which reads the file.

use super::{QueryContext, Store, StoreError};

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

impl Store {
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
        // Priorities are stored per offer: new weights change them all.
        sqlx::query(
            "UPDATE offers SET priority = COALESCE((SELECT SUM(COALESCE(i.quantity, 1) * n.weight)
               FROM offer_items i JOIN needs n ON n.item = i.item WHERE i.offer_id = offers.id), 0)
             WHERE priority IS NOT COALESCE((SELECT SUM(COALESCE(i.quantity, 1) * n.weight)
               FROM offer_items i JOIN needs n ON n.item = i.item WHERE i.offer_id = offers.id), 0)",
        )
        .execute(&mut *tx)
        .await
        .during("recomputing offer priorities")?;
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
}
