//! The `site_slots` and `slot_bookings` tables: each site's opening hours
//! and capacity (from the needs file), and the one booking an accepted
//! offer holds, with its calendar event's UID and SEQUENCE. Also the
//! shortfalls: items that arrived short of what was pledged. And each
//! site's time zone (`site_zones`), for sites the needs file names one for.
//! Mirrors `crate::slots`, which says what may be booked when.

use chrono::NaiveDateTime;
use sqlx::{Any, Transaction};

use super::sql::{DateTimeText, Flag};
use super::{now_ms, DecisionTx, ProcessingBatch, QueryContext, Store, StoreError};
use crate::slots::hours::SiteSlots;
use crate::slots::zone::Zone;
use crate::state::OfferStatus;

/// Where the donation changes hands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum BookingMode {
    /// The donor brings it to the site.
    Dropoff,
    /// We collect it at the donor's address.
    Pickup,
}

crate::any_text_type!(BookingMode);

/// Whether a booking still holds its slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum BookingState {
    Booked,
    Cancelled,
}

crate::any_text_type!(BookingState);

/// An offer's booking: one per offer, updated in place when rescheduled.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, sqlx::FromRow)]
pub struct Booking {
    pub offer_id: i64,
    pub site: String,
    #[sqlx(try_from = "DateTimeText")]
    pub starts_at: NaiveDateTime,
    #[sqlx(try_from = "DateTimeText")]
    pub ends_at: NaiveDateTime,
    pub mode: BookingMode,
    /// The donor's address, for a pickup there.
    pub address: Option<String>,
    /// The calendar event's UID, the same for the booking's whole life.
    pub uid: String,
    /// The calendar event's SEQUENCE: raised by every change.
    pub sequence: i64,
    pub state: BookingState,
    #[sqlx(try_from = "Flag")]
    pub overbooked: bool,
}

/// An item that arrived short of what was pledged.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct Shortfall {
    pub offer_id: i64,
    pub item: String,
    pub pledged: f64,
    pub received: f64,
    pub unit: Option<String>,
}

/// A site whose opening hours are stored but cannot be read (or, when
/// loading, cannot be written): which site, which value, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, thiserror::Error)]
#[error("the opening hours of {site:?} are invalid ({problem}): {value:?}; reload the needs file to fix them")]
pub struct BadSiteHours {
    pub site: String,
    /// The value as stored (cut to 200 characters).
    pub value: String,
    pub problem: String,
}

impl BadSiteHours {
    fn new(site: &str, value: &str, problem: impl ToString) -> BadSiteHours {
        BadSiteHours {
            site: site.to_string(),
            value: value.chars().take(200).collect(),
            problem: problem.to_string(),
        }
    }
}

/// Every site's opening hours as stored: those that read, and those that
/// do not (never dropped: the desk says which site is wrong).
#[derive(Debug, Clone, Default)]
pub struct StoredHours {
    pub sites: Vec<SiteSlots>,
    pub invalid: Vec<BadSiteHours>,
}

impl StoredHours {
    /// The hours of `site`: None when it has none, an error when they are
    /// stored but cannot be read.
    pub fn of(&self, site: &str) -> Result<Option<&SiteSlots>, BadSiteHours> {
        if let Some(bad) = self.invalid.iter().find(|b| b.site == site) {
            return Err(bad.clone());
        }
        Ok(self.sites.iter().find(|s| s.site == site))
    }
}

/// Writes `b` as its offer's booking (replacing the one there was).
pub(super) async fn save_booking(
    tx: &mut Transaction<'static, Any>,
    b: &Booking,
) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "INSERT INTO slot_bookings ({BOOKING_COLUMNS}, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (offer_id) DO UPDATE SET site = excluded.site,
           starts_at = excluded.starts_at, ends_at = excluded.ends_at, mode = excluded.mode,
           address = excluded.address, uid = excluded.uid, sequence = excluded.sequence,
           state = excluded.state, overbooked = excluded.overbooked,
           updated_at = excluded.updated_at"
    ))
    .bind(b.offer_id)
    .bind(&b.site)
    .bind(DateTimeText(b.starts_at))
    .bind(DateTimeText(b.ends_at))
    .bind(b.mode)
    .bind(&b.address)
    .bind(&b.uid)
    .bind(b.sequence)
    .bind(b.state)
    .bind(i64::from(b.overbooked))
    .bind(now_ms())
    .execute(&mut **tx)
    .await
    .during("saving a booking")?;
    Ok(())
}

/// Replaces every site's hours and capacity inside `tx`.
pub(super) async fn site_slots_in(
    tx: &mut Transaction<'static, Any>,
    sites: &[SiteSlots],
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM site_slots")
        .execute(&mut **tx)
        .await
        .during("clearing site hours")?;
    for s in sites {
        let hours = serde_json::to_string(&s.hours).map_err(|e| StoreError::Query {
            what: "writing site hours",
            source: sqlx::Error::Encode(Box::new(BadSiteHours::new(
                &s.site,
                &format!("{:?}", s.hours),
                e,
            ))),
        })?;
        sqlx::query(
            "INSERT INTO site_slots (site, hours_json, capacity) VALUES ($1, $2, $3)
             ON CONFLICT (site) DO UPDATE SET hours_json = excluded.hours_json,
               capacity = excluded.capacity",
        )
        .bind(&s.site)
        .bind(hours)
        .bind(i64::from(s.capacity))
        .execute(&mut **tx)
        .await
        .during("loading site hours")?;
    }
    Ok(())
}

/// Replaces every site's time zone inside `tx`.
pub(super) async fn site_zones_in(
    tx: &mut Transaction<'static, Any>,
    zones: &[(String, Zone)],
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM site_zones")
        .execute(&mut **tx)
        .await
        .during("clearing site time zones")?;
    for (site, zone) in zones {
        let Some(name) = zone.name() else { continue };
        sqlx::query(
            "INSERT INTO site_zones (site, timezone) VALUES ($1, $2)
             ON CONFLICT (site) DO UPDATE SET timezone = excluded.timezone",
        )
        .bind(site)
        .bind(name)
        .execute(&mut **tx)
        .await
        .during("loading site time zones")?;
    }
    Ok(())
}

const BOOKING_COLUMNS: &str =
    "offer_id, site, starts_at, ends_at, mode, address, uid, sequence, state, overbooked";

impl Store {
    /// Replaces every site's hours and capacity with those of the needs file.
    pub async fn load_site_slots(&self, sites: &[SiteSlots]) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        site_slots_in(&mut tx, sites).await?;
        tx.commit().await.during("committing site hours")
    }

    /// Replaces every site's time zone with those of the needs file.
    pub async fn load_site_zones(&self, zones: &[(String, Zone)]) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        site_zones_in(&mut tx, zones).await?;
        tx.commit().await.during("committing site time zones")
    }

    /// The zone `site` is in: the server's when the needs file names none
    /// (or, never expected, a name this build does not know).
    pub async fn site_zone(&self, site: &str) -> Result<Zone, StoreError> {
        let name: Option<String> =
            sqlx::query_scalar("SELECT timezone FROM site_zones WHERE site = $1")
                .bind(site)
                .fetch_optional(&self.reader)
                .await
                .during("reading a site's time zone")?;
        Ok(match name.as_deref().map(Zone::parse) {
            Some(Ok(zone)) => zone,
            Some(Err(problem)) => {
                tracing::warn!(
                    site,
                    problem,
                    "site time zone not known: using the server's"
                );
                Zone::Server
            }
            None => Zone::Server,
        })
    }

    /// Every site's hours and capacity (sites without hours are not
    /// listed); a stored value that cannot be read is in `invalid`, with
    /// its site and value.
    pub async fn site_slots(&self) -> Result<StoredHours, StoreError> {
        let rows: Vec<(String, String, i64)> =
            sqlx::query_as("SELECT site, hours_json, capacity FROM site_slots ORDER BY site")
                .fetch_all(&self.reader)
                .await
                .during("reading site hours")?;
        let mut out = StoredHours::default();
        for (site, json, capacity) in rows {
            // A capacity is written from a u32; read back as PostgreSQL's
            // BIGINT, one out of range is as unreadable as bad hours.
            let capacity = match u32::try_from(capacity) {
                Ok(capacity) => capacity,
                Err(e) => {
                    let value = format!("capacity {capacity}");
                    out.invalid.push(BadSiteHours::new(&site, &value, e));
                    continue;
                }
            };
            match serde_json::from_str(&json) {
                Ok(hours) => out.sites.push(SiteSlots {
                    site,
                    hours,
                    capacity,
                }),
                Err(e) => out.invalid.push(BadSiteHours::new(&site, &json, e)),
            }
        }
        Ok(out)
    }

    /// The windows booked at `site` between `from` and `to`, but `except`'s.
    pub async fn site_bookings(
        &self,
        site: &str,
        (from, to): (NaiveDateTime, NaiveDateTime),
        except: i64,
    ) -> Result<Vec<(NaiveDateTime, NaiveDateTime)>, StoreError> {
        let mut conn = self.reader.acquire().await.during("reading bookings")?;
        bookings_in(&mut conn, site, (from, to), except).await
    }

    /// The offer's booking, booked or cancelled.
    pub async fn booking(&self, offer_id: i64) -> Result<Option<Booking>, StoreError> {
        sqlx::query_as(&format!(
            "SELECT {BOOKING_COLUMNS} FROM slot_bookings WHERE offer_id = $1"
        ))
        .bind(offer_id)
        .fetch_optional(&self.reader)
        .await
        .during("reading a booking")
    }

    /// The items of `offer_id` received short of their pledge.
    pub async fn shortfalls(&self, offer_id: i64) -> Result<Vec<Shortfall>, StoreError> {
        sqlx::query_as(&format!("{SHORTFALLS} AND i.offer_id = $1 ORDER BY i.id"))
            .bind(offer_id)
            .fetch_all(&self.reader)
            .await
            .during("reading an offer's shortfalls")
    }

    /// The latest shortfalls over every offer, newest offers first.
    pub async fn recent_shortfalls(&self, limit: i64) -> Result<Vec<Shortfall>, StoreError> {
        sqlx::query_as(&format!(
            "{SHORTFALLS} ORDER BY i.offer_id DESC, i.id LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.reader)
        .await
        .during("reading shortfalls")
    }
}

const SHORTFALLS: &str =
    "SELECT i.offer_id, i.item, CAST(i.quantity AS DOUBLE PRECISION) AS pledged,
       CAST(i.received_quantity AS DOUBLE PRECISION) AS received, i.unit
  FROM offer_items i
 WHERE i.received_quantity IS NOT NULL AND i.quantity IS NOT NULL
   AND i.received_quantity < i.quantity";

async fn bookings_in(
    conn: &mut sqlx::AnyConnection,
    site: &str,
    (from, to): (NaiveDateTime, NaiveDateTime),
    except: i64,
) -> Result<Vec<(NaiveDateTime, NaiveDateTime)>, StoreError> {
    let rows: Vec<(DateTimeText, DateTimeText)> = sqlx::query_as(
        "SELECT starts_at, ends_at FROM slot_bookings
          WHERE site = $1 AND state = 'booked' AND starts_at < $2 AND ends_at > $3 AND offer_id <> $4
            AND offer_id NOT IN (SELECT id FROM offers WHERE status IN ($5, $6, $7))",
    )
    .bind(site)
    .bind(DateTimeText(to))
    .bind(DateTimeText(from))
    .bind(except)
    // A declined, spam or merged offer no longer holds its slot.
    .bind(OfferStatus::Declined)
    .bind(OfferStatus::Spam)
    .bind(OfferStatus::Merged)
    .fetch_all(conn)
    .await
    .during("reading bookings")?;
    Ok(rows.into_iter().map(|(a, b)| (a.0, b.0)).collect())
}

impl DecisionTx {
    /// The offer's booking, read under the decision's lock.
    pub async fn booking(&mut self, offer_id: i64) -> Result<Option<Booking>, StoreError> {
        sqlx::query_as(&format!(
            "SELECT {BOOKING_COLUMNS} FROM slot_bookings WHERE offer_id = $1"
        ))
        .bind(offer_id)
        .fetch_optional(&mut *self.tx)
        .await
        .during("reading a booking")
    }

    /// Like [`Store::site_bookings`], under the decision's lock, so two
    /// people cannot both take the last place in a slot.
    pub async fn site_bookings(
        &mut self,
        site: &str,
        window: (NaiveDateTime, NaiveDateTime),
        except: i64,
    ) -> Result<Vec<(NaiveDateTime, NaiveDateTime)>, StoreError> {
        bookings_in(&mut self.tx, site, window, except).await
    }

    /// Writes the offer's booking (new, or replacing the one it had).
    pub async fn save_booking(&mut self, b: &Booking) -> Result<(), StoreError> {
        save_booking(&mut self.tx, b).await
    }

    /// Forgets the offer's pickup site and window (its pickup was cancelled).
    pub async fn clear_pickup(&mut self, offer_id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE offers SET pickup_site = NULL, pickup_window = NULL WHERE id = $1")
            .bind(offer_id)
            .execute(&mut *self.tx)
            .await
            .during("clearing a pickup slot")?;
        Ok(())
    }
}

impl ProcessingBatch {
    /// A donor's reply that asks for another time: a scheduled offer with a
    /// booking goes back to `new` for staff (the booking keeps its slot
    /// until staff choose another). True when it was reopened.
    pub async fn reopen_for_reschedule(
        &mut self,
        offer_id: i64,
        message_id: i64,
    ) -> Result<bool, StoreError> {
        self.write_audit().await?;
        reopen(&mut self.tx, offer_id, message_id).await
    }
}

async fn reopen(
    tx: &mut Transaction<'static, Any>,
    offer_id: i64,
    message_id: i64,
) -> Result<bool, StoreError> {
    let reopened = sqlx::query(
        "UPDATE offers SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4
            AND EXISTS (SELECT 1 FROM slot_bookings b WHERE b.offer_id = offers.id AND b.state = 'booked')",
    )
    .bind(OfferStatus::New)
    .bind(now_ms())
    .bind(offer_id)
    .bind(OfferStatus::Scheduled)
    .execute(&mut **tx)
    .await
    .during("reopening an offer for a reschedule")?
    .rows_affected()
        > 0;
    if reopened {
        let detail = "the donor asks for another time; choose a new slot";
        Store::audit_in(
            tx,
            "donor",
            Some(offer_id),
            Some(message_id),
            "reschedule_asked",
            detail,
        )
        .await?;
    }
    Ok(reopened)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unreadable_stored_hours_are_named_with_their_site_and_value_not_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("hours.db").display());
        let store = Store::open(&url).await.unwrap();
        let good = SiteSlots {
            site: "Depot".into(),
            hours: Default::default(),
            capacity: 2,
        };
        let bad = SiteSlots {
            site: "Clinic".into(),
            ..good.clone()
        };
        store.load_site_slots(&[good, bad]).await.unwrap();
        sqlx::query("UPDATE site_slots SET hours_json = 'mon 9-5' WHERE site = 'Clinic'")
            .execute(&store.writer)
            .await
            .unwrap();
        let stored = store.site_slots().await.unwrap();
        assert_eq!(stored.sites.len(), 1);
        assert!(stored.of("Depot").unwrap().is_some());
        assert!(stored.of("Nowhere").unwrap().is_none());
        let err = stored.of("Clinic").unwrap_err();
        assert_eq!(
            (err.site.as_str(), err.value.as_str()),
            ("Clinic", "mon 9-5")
        );
        let text = err.to_string();
        assert!(
            text.contains("\"Clinic\"") && text.contains("mon 9-5"),
            "{text}"
        );
    }
}
