//! The database: migrations, connection setup, and one module per table family.
//!
//! Owns: every SQL statement in supplyline. Callers see [`Store`] methods in
//! the language of the flow (store a fetched message, claim one to process,
//! complete it with its offer and reply…), never SQL, so a PostgreSQL backend
//! can sit behind the same methods.
//!
//! SQLite is the embedded default: WAL journal, `synchronous=FULL`, writes
//! through one writer connection with `BEGIN IMMEDIATE` (a deferred
//! transaction that reads then writes fails at once with `SQLITE_BUSY`),
//! reads through a separate pool. A write that waits longer than the busy
//! timeout for a lock another process holds fails with an error that
//! [`StoreError::is_busy`] recognises; the stages retry those.
//!
//! # Layout
//!
//! - `messages`, `processing`, `cursors`, `first_reads`: intake (fetch and
//!   process), and what a mailbox held when first read; `imports`: imported
//!   messages and how far each import got.
//! - `offers`: the `offers` and `offer_items` tables.
//! - `outbox`: replies and their delivery.
//! - `queue`, `decisions`, `operations`, `dashboard`: what the triage desk
//!   reads and changes, one module per page family of `web/`.
//! - `deciding`: one staff decision's transaction, the writing side of
//!   `crate::decide`.
//! - `search`: the full-text index of offers (FTS5) and what staff type into it.
//! - `audit`, `users`: history, accounts and sessions.
//! - `leases`: who owns a claim and until when, and the one `serve` per
//!   database (the instance row).
//! - `health`: what monitoring reads (queues by state, a write probe).
//! - `suppressions`: addresses no reply goes to after bounces.
//! - `units`: the catalog's pack sizes, which normalise item lines.
//! - `lanes`, `snippets`: requests and inquiries (queues of their own, how
//!   each was handled, staff replies), and the reply snippets staff insert.
//!
//! States are bound as their types (`crate::state`), never as string literals.

mod audit;
mod cursors;
mod dashboard;
mod deciding;
mod decisions;
mod first_reads;
mod health;
mod imports;
mod lanes;
mod leases;
mod messages;
mod offers;
mod operations;
mod outbox;
mod ownership;
mod processing;
mod queue;
mod search;
mod slots;
mod snippets;
mod suppressions;
mod undo_batches;
mod undos;
mod units;
mod users;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};

pub use audit::AuditEvent;
pub use cursors::Cursor;
pub use dashboard::ItemStats;
pub use deciding::{DecisionTx, ReplyStanding};
pub use decisions::{fmt_qty, Decision, ItemEdit, Note};
pub use first_reads::FirstRead;
pub use health::QueueFigures;
pub use imports::{ImportProgress, IMPORTED};
pub use lanes::{lane_categories_sql, Handling, Lane, LaneCounts, LaneRow, LaneShow, Outcome};
pub use leases::{InstanceClaim, InstanceHolder, Lease, DEFAULT_LEASE};
pub use messages::{
    message_identity, ClaimedMessage, FetchedMessage, MessageSummary, StoreOutcome,
};
pub use offers::{ItemFull, MessageFacts, NewOffer, OfferDetail, OfferItemRow, OfferSummary};
pub use operations::{Need, PickupSite};
pub use outbox::{HeldReply, NewReply, OutboxRow, OutboxSummary};
pub use ownership::{Owner, QueueSort, SavedView, SortKey, UnknownSort};
pub use processing::{ProcessingBatch, ThreadMatch};
pub use queue::{ExportOffer, QueueFilter, QueueRow, StatusFilter};
pub use search::{fts_query, phone_tokens, ranked_part};
pub use slots::{BadSiteHours, Booking, BookingMode, BookingState, Shortfall, StoredHours};
pub use snippets::{Snippet, SnippetEdit};
pub use suppressions::{BounceEffect, Suppression};
pub use undo_batches::{who, BatchUndone, Change, UndoBatch, ASSIGNED, STATUS_SET};
pub use undos::{OfferBefore, UndoError, UndoWindow};
pub use users::{FailedLogins, LoginSlot, SessionRow, User, UserListing};

/// A database failure, with what was being done.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {url}: {source}")]
    Open {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("database migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{what}: {source}")]
    Query {
        what: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("only sqlite:// databases are supported by this build so far, not {0}")]
    Unsupported(String),
    #[error("no {0} with that id")]
    NotFound(&'static str),
}

impl StoreError {
    /// True when the database was locked by another connection or process
    /// for longer than the busy timeout (or the one writer connection stayed
    /// taken as long): the same work can succeed later.
    pub fn is_busy(&self) -> bool {
        let source = match self {
            StoreError::Open { source, .. } | StoreError::Query { source, .. } => source,
            _ => return false,
        };
        match source {
            sqlx::Error::PoolTimedOut => true,
            sqlx::Error::Database(e) => e
                .try_downcast_ref::<sqlx::sqlite::SqliteError>()
                .and_then(sqlx::error::DatabaseError::code)
                .and_then(|code| code.parse::<i32>().ok())
                // The primary code is the low byte of an extended one.
                .is_some_and(|code| matches!(code & 0xff, SQLITE_BUSY | SQLITE_LOCKED)),
            _ => false,
        }
    }
}

const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;

/// How long a write waits for a lock held elsewhere, unless configured
/// (`database.busy_timeout_secs`).
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Attaches what was being done to a sqlx error.
pub(crate) trait QueryContext<T> {
    fn during(self, what: &'static str) -> Result<T, StoreError>;
}

impl<T> QueryContext<T> for Result<T, sqlx::Error> {
    fn during(self, what: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Query { what, source })
    }
}

/// The handle every stage shares. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    /// One connection: every write goes through it, so writers queue here
    /// instead of failing with SQLITE_BUSY.
    writer: SqlitePool,
    /// Reads never block writes in WAL mode.
    reader: SqlitePool,
    /// See [`Store::large_message_turn`].
    large_message: Arc<tokio::sync::Mutex<()>>,
    /// The run id this store's claims carry, and how long they last.
    lease: Arc<Lease>,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("src/store/migrations/sqlite");

impl Store {
    /// Opens (creating when missing) the database at `url` and runs migrations.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        Self::open_with(url, DEFAULT_BUSY_TIMEOUT).await
    }

    /// Like [`Store::open`], with writes waiting at most `busy_timeout` for a
    /// lock another connection or process holds.
    pub async fn open_with(url: &str, busy_timeout: Duration) -> Result<Store, StoreError> {
        if !url.starts_with("sqlite:") {
            return Err(StoreError::Unsupported(url.to_string()));
        }
        let open_err = |source| StoreError::Open {
            url: url.to_string(),
            source,
        };
        let options = SqliteConnectOptions::from_str(url)
            .map_err(open_err)?
            .create_if_missing(true)
            .busy_timeout(busy_timeout)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            // Reads map the file instead of copying pages through read():
            // the desk's pages at 100,000 offers spent much of their time there.
            .pragma("mmap_size", "1073741824")
            .pragma("cache_size", "-16384");
        // Created owner-only before SQLite opens it: its -wal and -shm take its mode.
        if let Some(file) = crate::files::sqlite_file(url) {
            crate::files::create_private_file(&file).or_else(|e| match e.kind() {
                // A missing folder: SQLite's own error says it best.
                std::io::ErrorKind::NotFound => Ok(()),
                _ => Err(open_err(sqlx::Error::Io(e))),
            })?;
        }
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            // Waiting for the writer is waiting out the busy timeout of the
            // stage holding it, and a little more.
            .acquire_timeout(busy_timeout + Duration::from_secs(5))
            // A COMMIT that fails on a full disk or an I/O error is rolled
            // back by SQLite, so the ROLLBACK sqlx then sends fails too and
            // sqlx keeps counting an open transaction: every later write on
            // that connection would fail ("non-zero transaction depth").
            // Such a connection is closed (after the pool's ping, which runs
            // behind any rollback still queued) and a fresh one opened.
            .before_acquire(|conn, _| {
                Box::pin(async move { Ok(!sqlx::Connection::is_in_transaction(conn)) })
            })
            .connect_with(options.clone())
            .await
            .map_err(open_err)?;
        MIGRATOR.run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await
            .map_err(open_err)?;
        Ok(Store {
            writer,
            reader,
            large_message: Arc::default(),
            lease: Arc::new(Lease::new(DEFAULT_LEASE)),
        })
    }

    /// Large messages take turns: the fetch and process stages hold this
    /// while a large message is in their memory, so two are never held at
    /// once and peak memory stays near one large message, not two.
    pub async fn large_message_turn(&self) -> tokio::sync::OwnedMutexGuard<()> {
        self.large_message.clone().lock_owned().await
    }

    /// Runs `sql`, whose parameters are an id and this store's run id (the
    /// claim's owner), for each of `ids`, in one write transaction.
    pub(crate) async fn update_each_owned(
        &self,
        sql: &str,
        ids: &[i64],
        what: &'static str,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        for id in ids {
            sqlx::query(sql)
                .bind(id)
                .bind(&self.lease.run_id)
                .execute(&mut *tx)
                .await
                .during(what)?;
        }
        tx.commit().await.during(what)
    }

    /// Starts a write transaction that holds the write lock from its first statement.
    pub(crate) async fn write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .during("starting a write transaction")
    }

    /// Closes both pools, waiting for queries in flight.
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}

/// Milliseconds since the Unix epoch: the time format of every column.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::MessageState;
    use sqlx::Connection;

    #[tokio::test]
    async fn a_write_blocked_past_the_busy_timeout_fails_busy_and_succeeds_after() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("busy.db").display());
        let store = Store::open_with(&url, Duration::from_millis(100))
            .await
            .unwrap();
        let mut other = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query("BEGIN EXCLUSIVE")
            .execute(&mut other)
            .await
            .unwrap();
        let raw = b"Message-ID: <busy@x>\r\n\r\nbody\r\n";
        let err = store.store_local("INBOX", raw).await.unwrap_err();
        assert!(err.is_busy(), "{err}");
        assert_eq!(store.message_counts().await.unwrap(), vec![]);
        sqlx::query("COMMIT").execute(&mut other).await.unwrap();
        store.store_local("INBOX", raw).await.unwrap();
        assert!(!StoreError::NotFound("offer").is_busy());
    }

    #[tokio::test]
    async fn released_claims_are_back_in_the_queue() {
        let store = Store::open("sqlite::memory:").await.unwrap();
        store
            .store_local("INBOX", b"Message-ID: <a@x>\r\n\r\nbody\r\n")
            .await
            .unwrap();
        let claimed = store.claim_received_batch(10, i64::MAX).await.unwrap();
        assert_eq!(claimed.len(), 1);
        assert!(store
            .claim_received_batch(10, i64::MAX)
            .await
            .unwrap()
            .is_empty());
        store.release_claimed(&[claimed[0].id]).await.unwrap();
        assert_eq!(
            store.message_counts().await.unwrap(),
            vec![(MessageState::Received, 1)]
        );
    }
}
