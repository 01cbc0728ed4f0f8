//! What the operators' file says: current needs (which weigh the queue's
//! priority) and pickup sites (offered when accepting), and with the
//! sites' hours and zones (`store::slots`) all of it loaded in one
//! transaction. Mirrors `web::operations`, which reads the file.

use sqlx::{Any, Transaction};

use super::sql::OptF64;
use super::{now_ms, QueryContext, Store, StoreError};
use crate::slots::hours::SiteSlots;
use crate::slots::zone::Zone;

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct PickupSite {
    pub name: String,
    pub address: String,
    pub notes: String,
}

/// A current need, from the operators' file or the desk's /needs page.
#[derive(Debug, Clone, PartialEq, serde::Serialize, sqlx::FromRow)]
pub struct Need {
    pub item: String,
    /// Priority per base unit offered (derived from `per_week` and
    /// `on_hand` when they are set: `web::needs::weight`).
    pub weight: f64,
    pub target: Option<f64>,
    /// Base units used per week.
    pub per_week: Option<f64>,
    /// Base units on hand.
    pub on_hand: Option<f64>,
}

/// A need as the /needs page lists it: who changed it last, and when.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct NeedRow {
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub need: Need,
    pub updated_by: Option<String>,
    pub updated_at: Option<i64>,
}

/// An offer's priority from its lines (migration 0023): base quantity, 1
/// when unknown, times the item's weight; 0 for requests and sale offers.
const PRIORITY: &str = "CASE WHEN offers.category IN ('request', 'sale') THEN 0
    ELSE COALESCE((SELECT SUM(COALESCE(i.base_quantity, 1) * n.weight)
        FROM offer_items i JOIN needs n ON n.item = i.item WHERE i.offer_id = offers.id), 0) END";

impl Store {
    /// Replaces the needs and pickup sites with those of the operators'
    /// file; needs changed on the desk since are kept (the file's are then
    /// ignored, with a warning). Returns whether the file's needs were loaded.
    pub async fn load_operations(
        &self,
        needs: &[Need],
        sites: &[PickupSite],
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let loaded = operations_in(&mut tx, needs, sites).await?;
        tx.commit().await.during("committing needs and sites")?;
        Ok(loaded)
    }

    /// Loads all the needs file sets (needs, pickup sites, their opening
    /// hours and time zones) in one transaction: all of it or, when any
    /// write fails, none of it. Returns whether the file's needs were
    /// loaded (see [`load_operations`](Self::load_operations)).
    pub async fn load_needs_file(
        &self,
        needs: &[Need],
        sites: &[PickupSite],
        slots: &[SiteSlots],
        zones: &[(String, Zone)],
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let loaded = operations_in(&mut tx, needs, sites).await?;
        super::slots::site_slots_in(&mut tx, slots).await?;
        super::slots::site_zones_in(&mut tx, zones).await?;
        tx.commit().await.during("committing the needs file")?;
        Ok(loaded)
    }

    pub async fn pickup_sites(&self) -> Result<Vec<PickupSite>, StoreError> {
        sqlx::query_as("SELECT name, address, notes FROM pickup_sites ORDER BY name")
            .fetch_all(&self.reader)
            .await
            .during("reading pickup sites")
    }
}

/// Replaces the needs (unless changed on the desk) and pickup sites
/// inside `tx`; whether the needs were replaced.
async fn operations_in(
    tx: &mut Transaction<'static, Any>,
    needs: &[Need],
    sites: &[PickupSite],
) -> Result<bool, StoreError> {
    // Any change on the desk, even removing the last need, is in the history.
    let edited: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT 1 FROM audit_events WHERE offer_id IS NULL
           AND action IN ('need_changed', 'need_removed') LIMIT 1) AS edits",
    )
    .fetch_one(&mut **tx)
    .await
    .during("reading needs")?;
    if edited == 0 {
        sqlx::query("DELETE FROM needs")
            .execute(&mut **tx)
            .await
            .during("clearing needs")?;
        for n in needs {
            insert_need(tx, n).await?;
        }
        // Priorities are stored per offer: new weights change them all.
        // `IS DISTINCT FROM`: SQLite's `IS NOT` with a NULL-safe meaning,
        // which PostgreSQL spells only this way.
        sqlx::query(&format!(
            "UPDATE offers SET priority = {PRIORITY} WHERE priority IS DISTINCT FROM {PRIORITY}"
        ))
        .execute(&mut **tx)
        .await
        .during("recomputing offer priorities")?;
    }
    sqlx::query("DELETE FROM pickup_sites")
        .execute(&mut **tx)
        .await
        .during("clearing sites")?;
    for s in sites {
        sqlx::query(
            "INSERT INTO pickup_sites (name, address, notes) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET address = excluded.address, notes = excluded.notes",
        )
        .bind(&s.name)
        .bind(&s.address)
        .bind(&s.notes)
        .execute(&mut **tx)
        .await
        .during("loading pickup sites")?;
    }
    Ok(edited == 0)
}

async fn insert_need(tx: &mut Transaction<'static, Any>, n: &Need) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO needs (item, weight, target, per_week, on_hand) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (item) DO UPDATE SET weight = excluded.weight, target = excluded.target,
           per_week = excluded.per_week, on_hand = excluded.on_hand, updated_by = NULL,
           updated_at = NULL",
    )
    .bind(&n.item)
    .bind(n.weight)
    .bind(OptF64(n.target))
    .bind(OptF64(n.per_week))
    .bind(OptF64(n.on_hand))
    .execute(&mut **tx)
    .await
    .during("loading needs")?;
    Ok(())
}

/// A need as the audit history reads it: "1000/week, 2000 on hand, target 50000".
fn need_text(n: &Need) -> String {
    let q = |v: Option<f64>| super::fmt_qty(v);
    let mut text = match (n.per_week, n.on_hand) {
        (Some(w), h) => format!("{}/week, {} on hand", q(Some(w)), q(h)),
        _ => format!("weight {}", q(Some(n.weight))),
    };
    if let Some(t) = n.target {
        text.push_str(&format!(", target {}", q(Some(t))));
    }
    text
}

impl Store {
    /// Every current need with who changed it last.
    pub async fn needs(&self) -> Result<Vec<NeedRow>, StoreError> {
        sqlx::query_as(
            "SELECT item, CAST(weight AS DOUBLE PRECISION) AS weight, CAST(target AS DOUBLE PRECISION) AS target,
                    CAST(per_week AS DOUBLE PRECISION) AS per_week, CAST(on_hand AS DOUBLE PRECISION) AS on_hand,
                    updated_by, updated_at
             FROM needs ORDER BY item",
        )
        .fetch_all(&self.reader)
        .await
        .during("reading needs")
    }

    /// Sets one need as staff typed it, recomputes the priority of every
    /// offer of that item and writes the change in the audit history.
    pub async fn set_need(&self, actor: &str, need: &Need) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let old: Option<Need> = sqlx::query_as(
            "SELECT item, CAST(weight AS DOUBLE PRECISION) AS weight, CAST(target AS DOUBLE PRECISION) AS target,
                    CAST(per_week AS DOUBLE PRECISION) AS per_week, CAST(on_hand AS DOUBLE PRECISION) AS on_hand
             FROM needs WHERE item = $1",
        )
        .bind(&need.item)
        .fetch_optional(&mut *tx)
        .await
        .during("reading a need")?;
        insert_need(&mut tx, need).await?;
        sqlx::query("UPDATE needs SET updated_by = $1, updated_at = $2 WHERE item = $3")
            .bind(actor)
            .bind(now_ms())
            .bind(&need.item)
            .execute(&mut *tx)
            .await
            .during("marking a need as changed")?;
        reprioritise(&mut tx, &need.item).await?;
        let detail = match &old {
            Some(old) => format!("{}: {} → {}", need.item, need_text(old), need_text(need)),
            None => format!("{}: {}", need.item, need_text(need)),
        };
        Self::audit_in(&mut tx, actor, None, None, "need_changed", &detail).await?;
        tx.commit().await.during("committing a need")
    }

    /// Removes one need (its item no longer weighs on priority).
    pub async fn remove_need(&self, actor: &str, item: &str) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let old: Need = sqlx::query_as(
            "DELETE FROM needs WHERE item = $1 RETURNING item, CAST(weight AS DOUBLE PRECISION) AS weight,
                CAST(target AS DOUBLE PRECISION) AS target, CAST(per_week AS DOUBLE PRECISION) AS per_week,
                CAST(on_hand AS DOUBLE PRECISION) AS on_hand",
        )
        .bind(item)
        .fetch_optional(&mut *tx)
        .await
        .during("removing a need")?
        .ok_or(StoreError::NotFound("need"))?;
        reprioritise(&mut tx, item).await?;
        let detail = format!("{item}: was {}", need_text(&old));
        Self::audit_in(&mut tx, actor, None, None, "need_removed", &detail).await?;
        tx.commit().await.during("committing a need removal")
    }

    /// The history of the needs list, newest first.
    pub async fn needs_history(&self, limit: i64) -> Result<Vec<super::AuditEvent>, StoreError> {
        sqlx::query_as(
            "SELECT at, actor, action, detail, message_id FROM audit_events
             WHERE offer_id IS NULL AND action IN ('need_changed', 'need_removed')
             ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.reader)
        .await
        .during("reading the needs' history")
    }
}

/// Recomputes the priority of every offer with a line of `item`.
async fn reprioritise(tx: &mut Transaction<'static, Any>, item: &str) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "UPDATE offers SET priority = {PRIORITY}
         WHERE id IN (SELECT offer_id FROM offer_items WHERE item = $1)"
    ))
    .bind(item)
    .execute(&mut **tx)
    .await
    .during("recomputing offer priorities")?;
    Ok(())
}
