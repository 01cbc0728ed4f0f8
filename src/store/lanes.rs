//! Requests and inquiries, the two kinds of message that are not offers
//! but are kept in offer rows (their `category` says which): their queues,
//! what staff did with each (`offer_handled`: handled, forwarded,
//! answered), and a free-form reply written by staff, enqueued with its
//! audit row in one transaction. Mirrors `web::inquiries`.

use super::outbox::NewReply;
use super::{now_ms, QueryContext, Store, StoreError};
use crate::rules::Category;
use crate::state::OfferStatus;
use crate::values::OfferRef;

/// A queue of its own beside the offers'.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lane {
    /// A facility asks for supplies.
    Request,
    /// A donor or someone else asks a question.
    Inquiry,
}

impl Lane {
    pub const ALL: [Lane; 2] = [Lane::Request, Lane::Inquiry];

    /// The `offers.category` of its rows.
    pub fn category(self) -> &'static str {
        match self {
            Lane::Request => Category::Request.as_str(),
            Lane::Inquiry => Category::Inquiry.as_str(),
        }
    }

    /// The lane of a row of `category`, if it has one.
    pub fn of_category(category: &str) -> Option<Lane> {
        Lane::ALL.into_iter().find(|l| l.category() == category)
    }

    /// Its pages' path: `requests`, `inquiries`.
    pub fn path(self) -> &'static str {
        match self {
            Lane::Request => "requests",
            Lane::Inquiry => "inquiries",
        }
    }
}

/// The categories that are not offers, as a quoted SQL list for `IN (…)`;
/// fixed names, safe to write into SQL.
pub fn lane_categories_sql() -> String {
    Lane::ALL
        .iter()
        .map(|l| format!("'{}'", l.category()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What staff did with a request or inquiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "TEXT", rename_all = "snake_case")]
pub enum Outcome {
    /// Dealt with (supplies sent, question settled) without a reply here.
    Handled,
    /// Passed on to someone else (the detail says whom).
    Forwarded,
    /// Answered with a reply from the desk.
    Answered,
}

crate::any_text_type!(Outcome);

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Handled => "handled",
            Outcome::Forwarded => "forwarded",
            Outcome::Answered => "answered",
        }
    }
}

/// What became of one request or inquiry.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct Handling {
    pub outcome: Outcome,
    pub detail: String,
    pub actor: String,
    pub at: i64,
}

/// Which rows of a lane are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LaneShow {
    /// Not handled yet, and not closed (spam, merged…).
    #[default]
    Open,
    /// Handled, forwarded or answered.
    Done,
    All,
}

/// One line of a request or inquiry queue.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct LaneRow {
    pub id: i64,
    #[sqlx(rename = "id")]
    pub reference: OfferRef,
    pub donor_email: String,
    pub donor_name: Option<String>,
    pub organization: Option<String>,
    pub subject: String,
    pub status: OfferStatus,
    pub language: Option<String>,
    pub created_at: i64,
    /// "exam_gloves × 10, isolation_gown" (no quantity: no number).
    pub items: String,
    pub outcome: Option<Outcome>,
    /// The subject and the messages' clean text, as the search index has
    /// them (for what the page reads out of them).
    #[serde(skip)]
    pub text: String,
}

/// How many of each lane wait for staff.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct LaneCounts {
    pub requests: i64,
    pub inquiries: i64,
}

const LANE_COLUMNS: &str = "o.id, o.donor_email, o.donor_name,
     json_extract(o.contact_json, '$.organization') AS organization, o.subject, o.status,
     o.language, o.created_at, h.outcome,
     COALESCE((SELECT s.subject || '\n' || s.text FROM offer_search s WHERE s.rowid = o.id), '') AS text,
     COALESCE((SELECT group_concat(line, ', ') FROM (
        SELECT i.item || CASE WHEN i.quantity IS NULL THEN '' ELSE ' × ' || printf('%.15g', i.quantity) END AS line
        FROM offer_items i WHERE i.offer_id = o.id ORDER BY i.position, i.id) AS lines), '') AS items";

/// The condition of [`LaneShow`] on `offers o LEFT JOIN offer_handled h`.
fn show_sql(show: LaneShow) -> String {
    let open = OfferStatus::sql_list(OfferStatus::is_open);
    match show {
        LaneShow::Open => format!("h.offer_id IS NULL AND o.status IN ({open})"),
        LaneShow::Done => "h.offer_id IS NOT NULL".into(),
        LaneShow::All => "1 = 1".into(),
    }
}

impl Store {
    /// One page of a lane, oldest first (who asked first is answered
    /// first), and how many rows it has.
    pub async fn lane(
        &self,
        lane: Lane,
        show: LaneShow,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<LaneRow>, i64), StoreError> {
        let from = format!(
            "FROM offers o LEFT JOIN offer_handled h ON h.offer_id = o.id
             WHERE o.category = $1 AND {}",
            show_sql(show)
        );
        let rows = sqlx::query_as(&format!(
            "SELECT {LANE_COLUMNS} {from} ORDER BY o.created_at, o.id LIMIT $2 OFFSET $3"
        ))
        .bind(lane.category())
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.reader)
        .await
        .during("reading a request or inquiry queue")?;
        let total = sqlx::query_scalar(&format!("SELECT COUNT(*) {from}"))
            .bind(lane.category())
            .fetch_one(&self.reader)
            .await
            .during("counting a request or inquiry queue")?;
        Ok((rows, total))
    }

    /// How many requests and inquiries are open.
    pub async fn lane_counts(&self) -> Result<LaneCounts, StoreError> {
        let mut counts = [0; 2];
        for (slot, lane) in counts.iter_mut().zip(Lane::ALL) {
            *slot = sqlx::query_scalar(&format!(
                "SELECT COUNT(*) FROM offers o LEFT JOIN offer_handled h ON h.offer_id = o.id
                 WHERE o.category = $1 AND {}",
                show_sql(LaneShow::Open)
            ))
            .bind(lane.category())
            .fetch_one(&self.reader)
            .await
            .during("counting open requests and inquiries")?;
        }
        Ok(LaneCounts {
            requests: counts[0],
            inquiries: counts[1],
        })
    }

    /// What staff did with a request or inquiry, if anything yet.
    pub async fn handling(&self, offer_id: i64) -> Result<Option<Handling>, StoreError> {
        sqlx::query_as("SELECT outcome, detail, actor, at FROM offer_handled WHERE offer_id = $1")
            .bind(offer_id)
            .fetch_optional(&self.reader)
            .await
            .during("reading how a request was handled")
    }

    /// Records that `actor` handled or forwarded a request or inquiry (a
    /// later outcome replaces an earlier one), with its audit row.
    pub async fn mark_handled(
        &self,
        offer_id: i64,
        actor: &str,
        outcome: Outcome,
        detail: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let found: Option<i64> = sqlx::query_scalar("SELECT id FROM offers WHERE id = $1")
            .bind(offer_id)
            .fetch_optional(&mut *tx)
            .await
            .during("reading an offer")?;
        found.ok_or(StoreError::NotFound("offer"))?;
        sqlx::query(
            "INSERT INTO offer_handled (offer_id, outcome, detail, actor, at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (offer_id) DO UPDATE SET outcome = excluded.outcome,
                 detail = excluded.detail, actor = excluded.actor, at = excluded.at",
        )
        .bind(offer_id)
        .bind(outcome)
        .bind(detail)
        .bind(actor)
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .during("recording how a request was handled")?;
        Self::audit_in(
            &mut tx,
            actor,
            Some(offer_id),
            None,
            outcome.as_str(),
            detail,
        )
        .await?;
        tx.commit()
            .await
            .during("committing how a request was handled")
    }

    /// Puts a handled request or inquiry back in its open queue, with an
    /// audit row; false when it was not handled.
    pub async fn reopen_handled(&self, offer_id: i64, actor: &str) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let was: Option<Outcome> =
            sqlx::query_scalar("DELETE FROM offer_handled WHERE offer_id = $1 RETURNING outcome")
                .bind(offer_id)
                .fetch_optional(&mut *tx)
                .await
                .during("reopening a request")?;
        let Some(was) = was else {
            return Ok(false);
        };
        Self::audit_in(
            &mut tx,
            actor,
            Some(offer_id),
            None,
            "reopened",
            was.as_str(),
        )
        .await?;
        tx.commit().await.during("committing a reopened request")?;
        Ok(true)
    }

    /// The latest message of an offer's thread from `address` (its donor),
    /// the one a reply answers.
    pub async fn latest_message_from(
        &self,
        offer_id: i64,
        address: &str,
    ) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar(
            "SELECT id FROM messages WHERE offer_id = $1 AND from_address = $2 COLLATE NOCASE
             ORDER BY id DESC LIMIT 1",
        )
        .bind(offer_id)
        .bind(address)
        .fetch_optional(&self.reader)
        .await
        .during("reading the donor's latest message")
    }

    /// Enqueues a reply staff wrote about `offer_id`, with its audit row; a
    /// request or inquiry not handled yet becomes answered. False (and
    /// nothing written) when the very same reply was queued before.
    pub async fn enqueue_staff_reply(
        &self,
        offer_id: i64,
        actor: &str,
        reply: &NewReply,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        if !Self::enqueue_in(&mut tx, Some(offer_id), reply).await? {
            return Ok(false);
        }
        Self::audit_in(
            &mut tx,
            actor,
            Some(offer_id),
            None,
            "replied",
            &reply.subject,
        )
        .await?;
        sqlx::query(&format!(
            "INSERT INTO offer_handled (offer_id, outcome, detail, actor, at)
             SELECT id, $1, '', $2, $3 FROM offers WHERE id = $4 AND category IN ({})
             ON CONFLICT (offer_id) DO NOTHING",
            lane_categories_sql()
        ))
        .bind(Outcome::Answered)
        .bind(actor)
        .bind(now_ms())
        .bind(offer_id)
        .execute(&mut *tx)
        .await
        .during("marking a request answered")?;
        tx.commit().await.during("committing a staff reply")?;
        Ok(true)
    }
}
