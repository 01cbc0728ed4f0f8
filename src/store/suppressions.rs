//! The suppression list: addresses no reply goes to. A hard bounce of any
//! reply suppresses its address at once; soft bounces are counted and
//! suppress at a limit; staff lift a suppression. Mirrors
//! `web::suppressions` and the bounce branch of `process`.
//!
//! Enforced in two places, so no path around it: a reply enqueued for a
//! suppressed address is held with the reason (the INSERT of
//! `outbox::insert_reply_unaudited` reads this list), and
//! a pending reply whose address was suppressed after it was queued is held
//! when the sender would claim it ([`hold_suppressed_in`]).

use sqlx::{Any, Transaction};

use super::{now_ms, QueryContext, Store, StoreError};
use crate::mail::dsn::Severity;
use crate::outbox::recipient::normalised_address;
use crate::state::ReplyState;

/// One address on the list (suppressed now, or counting soft bounces, or lifted).
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct Suppression {
    /// The normalised address.
    pub address: String,
    pub soft_bounces: i64,
    /// Set while suppressed.
    pub suppressed_at: Option<i64>,
    /// The status and diagnostic of the bounce that suppressed (or the last counted).
    pub reason: String,
    /// The delivery report that did it.
    pub message_id: Option<i64>,
    pub lifted_at: Option<i64>,
    pub lifted_by: Option<String>,
}

/// What one bounce did to its address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BounceEffect {
    /// The address is suppressed from now on.
    Suppressed,
    /// It was suppressed already.
    AlreadySuppressed,
    /// A soft bounce counted: this many so far, not yet at the limit.
    Counted(i64),
}

/// The reason replies to a suppressed address are held with.
pub fn held_reason(reason: &str) -> String {
    format!("address suppressed after bounces: {reason}")
}

impl Store {
    /// Records a bounce of a reply to `address` inside the caller's
    /// transaction: a hard one suppresses, a soft one counts and suppresses
    /// at `soft_limit`.
    pub(crate) async fn record_bounce_in(
        tx: &mut Transaction<'static, Any>,
        address: &str,
        severity: Severity,
        reason: &str,
        dsn_message: i64,
        soft_limit: u32,
    ) -> Result<BounceEffect, StoreError> {
        let key = normalised_address(address);
        let now = now_ms();
        let soft = i64::from(severity == Severity::Soft);
        let (count, suppressed_at): (i64, Option<i64>) = sqlx::query_as(
            "INSERT INTO suppressions (address, soft_bounces, reason, message_id, updated_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (address) DO UPDATE SET soft_bounces = suppressions.soft_bounces + $2,
               reason = CASE WHEN suppressions.suppressed_at IS NULL THEN $3
                             ELSE suppressions.reason END,
               message_id = CASE WHEN suppressions.suppressed_at IS NULL THEN $4
                                 ELSE suppressions.message_id END,
               updated_at = $5
             RETURNING soft_bounces, suppressed_at",
        )
        .bind(&key)
        .bind(soft)
        .bind(reason)
        .bind(dsn_message)
        .bind(now)
        .fetch_one(&mut **tx)
        .await
        .during("recording a bounce")?;
        if suppressed_at.is_some() {
            return Ok(BounceEffect::AlreadySuppressed);
        }
        let suppress = severity == Severity::Hard || count >= i64::from(soft_limit.max(1));
        if !suppress {
            return Ok(BounceEffect::Counted(count));
        }
        let why = match severity {
            Severity::Hard => format!("hard bounce {reason}"),
            _ => format!("{count} soft bounces, the last {reason}"),
        };
        sqlx::query("UPDATE suppressions SET suppressed_at = $1, reason = $2 WHERE address = $3")
            .bind(now)
            .bind(&why)
            .bind(&key)
            .execute(&mut **tx)
            .await
            .during("suppressing an address")?;
        Ok(BounceEffect::Suppressed)
    }

    /// The suppression of `address` in force, if any.
    pub async fn suppression(&self, address: &str) -> Result<Option<Suppression>, StoreError> {
        sqlx::query_as(
            "SELECT * FROM suppressions WHERE address = $1 AND suppressed_at IS NOT NULL",
        )
        .bind(normalised_address(address))
        .fetch_optional(&self.reader)
        .await
        .during("reading a suppression")
    }

    /// Every address on the list: suppressed first (newest first), then
    /// those counting soft bounces or lifted.
    pub async fn suppressions(&self) -> Result<Vec<Suppression>, StoreError> {
        sqlx::query_as(
            "SELECT * FROM suppressions
             ORDER BY suppressed_at IS NULL, COALESCE(suppressed_at, updated_at) DESC LIMIT 1000",
        )
        .fetch_all(&self.reader)
        .await
        .during("reading the suppression list")
    }

    /// Lifts the suppression of `address` (its soft count starts again);
    /// false when it was not suppressed. Replies held for it stay held for
    /// staff to send or discard.
    pub async fn lift_suppression(&self, address: &str, actor: &str) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let key = normalised_address(address);
        let lifted = sqlx::query(
            "UPDATE suppressions SET suppressed_at = NULL, soft_bounces = 0, lifted_at = $1,
               lifted_by = $2, updated_at = $3 WHERE address = $4 AND suppressed_at IS NOT NULL",
        )
        .bind(now_ms())
        .bind(actor)
        .bind(now_ms())
        .bind(&key)
        .execute(&mut *tx)
        .await
        .during("lifting a suppression")?
        .rows_affected()
            == 1;
        if lifted {
            Self::audit_in(&mut tx, actor, None, None, "suppression_lifted", &key).await?;
        }
        tx.commit()
            .await
            .during("committing a lifted suppression")?;
        Ok(lifted)
    }
}

/// Holds every pending reply whose address is suppressed, with the reason
/// (replies queued before the bounce arrived, or sent on by staff since).
///
/// Runs before every reply claim, so it must cost nothing when few addresses
/// are suppressed: `(state || '')` (SQLite's `+state`, which PostgreSQL
/// does not read as text) keeps SQLite from walking every pending reply by
/// `outbox_due` and makes it look up the suppressed addresses by
/// `outbox_by_recipient_key` instead (10,000 pending replies were scanned
/// for each claim of 16).
pub(crate) async fn hold_suppressed_in(
    tx: &mut Transaction<'static, Any>,
) -> Result<u64, StoreError> {
    let prefix = held_reason("");
    Ok(sqlx::query(
        "UPDATE outbox SET state = $1,
           held_reason = $3 || (SELECT reason FROM suppressions s WHERE s.address = outbox.recipient_key)
         WHERE (state || '') = $2 AND recipient_key IN
           (SELECT address FROM suppressions WHERE suppressed_at IS NOT NULL)",
    )
    .bind(ReplyState::Held)
    .bind(ReplyState::Pending)
    .bind(prefix)
    .execute(&mut **tx)
    .await
    .during("holding replies to suppressed addresses")?
    .rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("s.db").display());
        let store = Store::open(&url).await.unwrap();
        // The delivery report the bounces name.
        let mut tx = store.write().await.unwrap();
        sqlx::query(
            "INSERT INTO messages (id, dedup_key, content_hash, mailbox, size, raw, received_at)
             VALUES (1, 'dsn', 'h', 'INBOX', 1, x'00', 0)",
        )
        .execute(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
        (dir, store)
    }

    async fn bounce(store: &Store, address: &str, severity: Severity) -> BounceEffect {
        let mut tx = store.write().await.unwrap();
        let effect = Store::record_bounce_in(&mut tx, address, severity, "5.1.1", 1, 3)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        effect
    }

    #[tokio::test]
    async fn a_hard_bounce_suppresses_soft_ones_count_to_the_limit_and_staff_lift() {
        let (_dir, store) = store().await;
        assert_eq!(
            bounce(&store, "A@X.example", Severity::Hard).await,
            BounceEffect::Suppressed
        );
        assert!(store.suppression("a@x.example").await.unwrap().is_some());
        assert_eq!(
            bounce(&store, "a@x.example", Severity::Hard).await,
            BounceEffect::AlreadySuppressed
        );
        for n in 1..3 {
            assert_eq!(
                bounce(&store, "b@x.example", Severity::Soft).await,
                BounceEffect::Counted(n)
            );
        }
        assert!(store.suppression("b@x.example").await.unwrap().is_none());
        assert_eq!(
            bounce(&store, "b@x.example", Severity::Soft).await,
            BounceEffect::Suppressed
        );
        let b = store.suppression("b@x.example").await.unwrap().unwrap();
        assert!(b.reason.starts_with("3 soft bounces"), "{b:?}");
        assert!(store
            .lift_suppression("b@x.example", "admin@city")
            .await
            .unwrap());
        assert!(!store
            .lift_suppression("b@x.example", "admin@city")
            .await
            .unwrap());
        assert!(store.suppression("b@x.example").await.unwrap().is_none());
        assert_eq!(
            bounce(&store, "b@x.example", Severity::Soft).await,
            BounceEffect::Counted(1),
            "the count starts again after a lift"
        );
        assert_eq!(store.suppressions().await.unwrap().len(), 2);
    }
}
