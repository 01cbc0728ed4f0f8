//! Ownership and overview of the queue (#16): who an offer is assigned to
//! (with its audit row in the same transaction), the staff it can be
//! assigned to, each person's saved views, and how the queue is sorted and
//! narrowed to an owner ([`QueueSort`], [`Owner`], used by `store::queue`).
//! Mirrors `web::ownership`.

use super::QueryBuilder;

use super::{now_ms, QueryContext, Store, StoreError};
use crate::state::Role;

/// Whose offers the queue shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// Offers nobody is assigned to.
    Nobody,
    /// Offers assigned to this staff email.
    Person(String),
}

/// A column the queue can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    /// Highest priority first (the default).
    #[default]
    Priority,
    /// By reference, lowest first.
    Reference,
    /// By donor address.
    Donor,
    /// Oldest first: longest waiting at the top.
    Received,
    Status,
    /// By assignee, unassigned first.
    Assignee,
}

impl SortKey {
    pub const ALL: [SortKey; 6] = [
        SortKey::Priority,
        SortKey::Reference,
        SortKey::Donor,
        SortKey::Received,
        SortKey::Status,
        SortKey::Assignee,
    ];

    /// The name in the URL (`sort=received`).
    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Priority => "priority",
            SortKey::Reference => "ref",
            SortKey::Donor => "donor",
            SortKey::Received => "received",
            SortKey::Status => "status",
            SortKey::Assignee => "assignee",
        }
    }

    /// The ORDER BY terms in this key's natural direction; each ends with
    /// `o.id` so pages never overlap. Written as the indexes of migrations
    /// 0017 and 0020 are, so the queue reads them in order.
    fn terms(self) -> &'static [(&'static str, bool)] {
        // (column, descending)
        match self {
            SortKey::Priority => &[("o.priority", true), ("o.id", false)],
            SortKey::Reference => &[("o.id", false)],
            SortKey::Donor => &[("o.donor_email", false), ("o.id", false)],
            SortKey::Received => &[("o.created_at", false), ("o.id", false)],
            SortKey::Status => &[("o.status", false), ("o.priority", true), ("o.id", false)],
            SortKey::Assignee => &[
                ("o.assigned_to", false),
                ("o.priority", true),
                ("o.id", false),
            ],
        }
    }
}

/// A sort the queue was asked for: a column, forwards or reversed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueSort {
    pub key: SortKey,
    pub reversed: bool,
}

/// A `sort=` value that names no column.
#[derive(Debug, thiserror::Error)]
#[error("no queue column is sorted as {0:?}; expected one of priority, ref, donor, received, status, assignee (with - before it to reverse)")]
pub struct UnknownSort(pub String);

impl std::str::FromStr for QueueSort {
    type Err = UnknownSort;

    /// `received`, or `-received` for the reverse; empty is the default.
    fn from_str(text: &str) -> Result<QueueSort, UnknownSort> {
        let (reversed, name) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        if name.is_empty() && !reversed {
            return Ok(QueueSort::default());
        }
        let key = SortKey::ALL
            .into_iter()
            .find(|k| k.as_str() == name)
            .ok_or_else(|| UnknownSort(text.to_string()))?;
        Ok(QueueSort { key, reversed })
    }
}

impl QueueSort {
    /// `received` or `-received`, as the URL has it.
    pub fn as_param(self) -> String {
        let sign = if self.reversed { "-" } else { "" };
        format!("{sign}{}", self.key.as_str())
    }

    /// The ORDER BY list (without the keywords).
    pub fn order_by(self) -> String {
        self.key
            .terms()
            .iter()
            .map(|(column, desc)| {
                let dir = if *desc != self.reversed {
                    "DESC"
                } else {
                    "ASC"
                };
                format!("{column} {dir}")
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The index the open queue is read through, in order, for a sort other
/// than priority: without statistics SQLite otherwise reads the open rows
/// by status and sorts them all (61 to 146 ms at 100,000 offers). None
/// when the planner's own choice is right: another status filter, or one
/// person's offers (few, through `offers_by_assignee`).
pub(crate) fn open_sort_index(f: &super::QueueFilter) -> Option<&'static str> {
    if f.status != super::StatusFilter::Open || matches!(f.owner, Some(Owner::Person(_))) {
        return None;
    }
    match f.sort.key {
        SortKey::Received => Some("offers_open_by_created"),
        SortKey::Donor => Some("offers_open_by_donor"),
        SortKey::Assignee => Some("offers_open_by_assignee"),
        SortKey::Priority if f.language.is_some() => Some(OPEN_BY_LANGUAGE),
        SortKey::Priority | SortKey::Reference | SortKey::Status => None,
    }
}

/// The open offers of one language, by category and priority (migration
/// 0027): the planner's own choice, `offers_by_language`, reads every
/// offer of that language and its row (up to 84 ms p50 with an item
/// filter besides, at 100,000 offers).
const OPEN_BY_LANGUAGE: &str = "offers_open_by_language";

/// The index the open queue of an owner (or of nobody) is counted
/// through: the planner's own choice, `offers_by_assignee`, checks the
/// status row by row over every offer of that owner, closed ones too
/// (0.5 s for "unassigned" at 100,000 offers, cold); of one language,
/// [`OPEN_BY_LANGUAGE`]. None otherwise.
pub(crate) fn open_count_index(f: &super::QueueFilter) -> Option<&'static str> {
    let searching = f.search.as_deref().is_some_and(|s| !s.trim().is_empty());
    if f.status != super::StatusFilter::Open || searching {
        return None;
    }
    match (&f.owner, &f.language) {
        (Some(_), _) => Some("offers_open_by_assignee"),
        (None, Some(_)) => Some(OPEN_BY_LANGUAGE),
        (None, None) => None,
    }
}

/// Adds the owner condition to a queue query that already has a WHERE.
pub(crate) fn push_owner(qb: &mut QueryBuilder, owner: &Option<Owner>) {
    match owner {
        None => {}
        Some(Owner::Nobody) => {
            qb.push(" AND o.assigned_to IS NULL");
        }
        Some(Owner::Person(email)) => {
            qb.push(" AND o.assigned_to = ").push_bind(email.clone());
        }
    }
}

/// A person's saved queue view.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct SavedView {
    pub id: i64,
    pub name: String,
    /// The query string of its filters and sort, without `?`.
    pub query: String,
}

impl Store {
    /// Assigns an offer to `to` (None: to nobody), with an audit row by
    /// `actor`; nothing is written when it already is. NotFound when there
    /// is no such offer.
    pub async fn assign(
        &self,
        offer_id: i64,
        actor: &str,
        to: Option<&str>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let now: Option<String> =
            sqlx::query_scalar("SELECT assigned_to FROM offers WHERE id = $1")
                .bind(offer_id)
                .fetch_optional(&mut *tx)
                .await
                .during("reading an offer's assignee")?
                .ok_or(StoreError::NotFound("offer"))?;
        if now.as_deref() == to {
            return Ok(false);
        }
        sqlx::query("UPDATE offers SET assigned_to = $1, updated_at = $2 WHERE id = $3")
            .bind(to)
            .bind(now_ms())
            .bind(offer_id)
            .execute(&mut *tx)
            .await
            .during("assigning an offer")?;
        let detail = match to {
            Some(email) => format!("to {email}"),
            None => "to nobody".to_string(),
        };
        Store::audit_in(&mut tx, actor, Some(offer_id), None, "assigned", &detail).await?;
        tx.commit().await.during("assigning an offer")?;
        Ok(true)
    }

    /// Who an offer is assigned to.
    pub async fn assignee(&self, offer_id: i64) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT assigned_to FROM offers WHERE id = $1")
            .bind(offer_id)
            .fetch_optional(&self.reader)
            .await
            .during("reading an offer's assignee")?
            .ok_or(StoreError::NotFound("offer"))
    }

    /// The emails of enabled accounts that can work on offers (triagers and
    /// admins), by email: whom an offer can be assigned to.
    pub async fn assignable_staff(&self) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT email FROM users WHERE disabled_at IS NULL AND role IN ($1, $2) ORDER BY email",
        )
        .bind(Role::Triager)
        .bind(Role::Admin)
        .fetch_all(&self.reader)
        .await
        .during("listing staff")
    }

    /// Saves (or, under a name already used, replaces) a view of `user_id`.
    pub async fn save_view(&self, user_id: i64, name: &str, query: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO saved_views (user_id, name, query, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (user_id, name) DO UPDATE SET query = excluded.query",
        )
        .bind(user_id)
        .bind(name)
        .bind(query)
        .bind(now_ms())
        .execute(&self.writer)
        .await
        .during("saving a view")?;
        Ok(())
    }

    /// The views `user_id` saved, by name.
    pub async fn saved_views(&self, user_id: i64) -> Result<Vec<SavedView>, StoreError> {
        sqlx::query_as("SELECT id, name, query FROM saved_views WHERE user_id = $1 ORDER BY name")
            .bind(user_id)
            .fetch_all(&self.reader)
            .await
            .during("reading saved views")
    }

    /// Deletes a view of `user_id` (another person's is left alone).
    /// False when there was none.
    pub async fn delete_view(&self, user_id: i64, view_id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM saved_views WHERE id = $1 AND user_id = $2")
            .bind(view_id)
            .bind(user_id)
            .execute(&self.writer)
            .await
            .during("deleting a view")?;
        Ok(done.rows_affected() > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_parse_and_reverse_every_term() {
        let s: QueueSort = "-received".parse().unwrap();
        assert_eq!(s.key, SortKey::Received);
        assert_eq!(s.order_by(), "o.created_at DESC, o.id DESC");
        assert_eq!(s.as_param(), "-received");
        let d = QueueSort::default();
        assert_eq!(d.order_by(), "o.priority DESC, o.id ASC");
        assert_eq!("".parse::<QueueSort>().unwrap(), d);
        for k in SortKey::ALL {
            let s: QueueSort = k.as_str().parse().unwrap();
            assert_eq!(s.key, k);
        }
        let err = "age; DROP".parse::<QueueSort>().unwrap_err().to_string();
        assert!(
            err.contains("\"age; DROP\"") && err.contains("received"),
            "{err}"
        );
        assert!("-".parse::<QueueSort>().is_err());
    }

    #[tokio::test]
    async fn views_belong_to_their_person() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("views.db").display());
        let store = Store::open(&url).await.unwrap();
        store
            .upsert_user("a@x.example", "h", Role::Triager)
            .await
            .unwrap();
        store
            .upsert_user("b@x.example", "h", Role::Viewer)
            .await
            .unwrap();
        store
            .save_view(1, "old first", "sort=received&")
            .await
            .unwrap();
        store
            .save_view(1, "old first", "sort=-received&")
            .await
            .unwrap();
        let views = store.saved_views(1).await.unwrap();
        assert_eq!(views.len(), 1);
        assert_eq!(views[0].query, "sort=-received&");
        assert!(store.saved_views(2).await.unwrap().is_empty());
        assert!(!store.delete_view(2, views[0].id).await.unwrap());
        assert!(store.delete_view(1, views[0].id).await.unwrap());
        assert_eq!(store.assignable_staff().await.unwrap(), ["a@x.example"]);
    }
}
