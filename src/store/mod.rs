//! The database: migrations, connection setup, and one module per table family.
//!
//! Owns: every SQL statement in supplyline. Callers see [`Store`] methods in
//! the language of the flow (store a fetched message, claim one to process,
//! complete it with its offer and reply…), never SQL, so a PostgreSQL backend
//! can sit behind the same methods.
//!
//! Both engines run through sqlx's `Any` driver with one set of SQL (see
//! `sql` for how: `$N` placeholders, 0/1 flags, text enums; the few places
//! where the text must differ match on [`Engine`]). Migrations are kept
//! side by side: `migrations/sqlite` and `migrations/postgres` (0024 is the
//! whole schema of SQLite's 0001-0024; later ones mirror SQLite's numbers).
//!
//! PostgreSQL (`database.url = "postgres://…"`): one pool for reads and
//! writes, plain `BEGIN`, `lock_timeout` set to the busy timeout. TLS as
//! the URL's `sslmode` asks (rustls), failures explained by `pg_tls`.
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
//! - `migrate`: copying a SQLite database into PostgreSQL (`migrate-db`).
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
mod fetch_leases;
mod first_reads;
mod health;
mod imports;
mod lanes;
mod leases;
mod messages;
pub mod migrate;
mod offers;
mod operations;
mod outbox;
mod ownership;
pub mod pg_tls;
mod processing;
mod queue;
mod raw;
mod search;
mod slots;
mod snippets;
mod sql;
mod suppressions;
mod undo_batches;
mod undos;
mod units;
mod users;

use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, ConnectOptions, Executor, Transaction};

pub use audit::AuditEvent;
pub use cursors::Cursor;
pub use dashboard::ItemStats;
pub use deciding::{DecisionTx, ReplyStanding};
pub use decisions::{fmt_qty, Decision, ItemEdit, Note};
pub use fetch_leases::{FetchLease, FetchLeaseClaim};
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
pub use search::{fts_query, pg_tsquery, phone_tokens, ranked_part};
pub use slots::{BadSiteHours, Booking, BookingMode, BookingState, Shortfall, StoredHours};
pub use snippets::{Snippet, SnippetEdit};
pub use sql::{Engine, QueryBuilder};
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
    /// TLS to PostgreSQL failed; `detail` says what to check.
    #[error("cannot open the database {url}: {detail}")]
    Tls { url: String, detail: String },
    #[error("database migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{what}: {source}")]
    Query {
        what: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("database.url must start with sqlite: or postgres://, not {0}")]
    Unsupported(String),
    #[error("no {0} with that id")]
    NotFound(&'static str),
    /// Another `serve` took the mailbox over (this one paused past its
    /// fetch lease): the batch was not stored and nothing will be flagged.
    #[error("another serve took over fetching {mailbox} (this run's fetch lease {token} is stale); nothing stored")]
    FetchLeaseLost { mailbox: String, token: i64 },
    /// This run's claim on work ran out and another run took it over (this
    /// one paused longer than `database.lease_secs`): nothing was written.
    #[error("{lost} claimed messages were taken over by another run (this one paused past database.lease_secs); nothing written")]
    ClaimLost { lost: usize },
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
            sqlx::Error::Database(e) => match e.try_downcast_ref::<sqlx::sqlite::SqliteError>() {
                Some(e) => sqlx::error::DatabaseError::code(e)
                    .and_then(|code| code.parse::<i32>().ok())
                    // The primary code is the low byte of an extended one.
                    .is_some_and(|code| matches!(code & 0xff, SQLITE_BUSY | SQLITE_LOCKED)),
                // PostgreSQL: a serialization failure, a deadlock, a lock
                // not granted in time, or the server going away.
                None => e.code().is_some_and(|code| {
                    matches!(&*code, "40001" | "40P01" | "55P03" | "57P01" | "57P03")
                        || code.starts_with("08")
                }),
            },
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
    /// Every write goes through it. SQLite: one connection, so writers queue
    /// here instead of failing with SQLITE_BUSY; PostgreSQL: a few.
    writer: AnyPool,
    /// SQLite: reads never block writes in WAL mode. PostgreSQL: the same
    /// pool as `writer`.
    reader: AnyPool,
    /// Which SQL dialect the pools speak.
    engine: Engine,
    /// Reads raw message bytes without `Any`'s copies (see `raw`).
    raw: raw::RawReader,
    /// See [`Store::large_message_turn`].
    large_message: Arc<tokio::sync::Mutex<()>>,
    /// The run id this store's claims carry, and how long they last.
    lease: Arc<Lease>,
}

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("src/store/migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("src/store/migrations/postgres");

impl Store {
    /// Opens (creating when missing) the database at `url` and runs migrations.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        Self::open_with(url, DEFAULT_BUSY_TIMEOUT).await
    }

    /// Like [`Store::open`], with writes waiting at most `busy_timeout` for a
    /// lock another connection or process holds.
    pub async fn open_with(url: &str, busy_timeout: Duration) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let engine =
            Engine::of_url(url).ok_or_else(|| StoreError::Unsupported(Engine::shown_url(url)))?;
        let (writer, reader, raw) = match engine {
            Engine::Sqlite => open_sqlite(url, busy_timeout).await?,
            Engine::Postgres => open_postgres(url, busy_timeout).await?,
        };
        Ok(Store {
            writer,
            reader,
            engine,
            raw,
            large_message: Arc::default(),
            lease: Arc::new(Lease::new(DEFAULT_LEASE)),
        })
    }

    /// The engine behind this store.
    pub fn engine(&self) -> Engine {
        self.engine
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
    pub(crate) async fn write(&self) -> Result<Transaction<'static, Any>, StoreError> {
        let begin = match self.engine {
            Engine::Sqlite => "BEGIN IMMEDIATE",
            // Rows are locked as statements reach them; claims say FOR UPDATE.
            Engine::Postgres => "BEGIN",
        };
        self.writer
            .begin_with(begin)
            .await
            .during("starting a write transaction")
    }

    /// Closes the pools, waiting for queries in flight.
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
        self.raw.close().await;
    }
}

/// The URL with `param` added to its query string.
fn with_param(url: &str, param: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{param}")
}

/// The SQLite writer (one connection) and reader pools, WAL journal,
/// `synchronous=FULL`, and the schema migrated.
async fn open_sqlite(
    url: &str,
    busy_timeout: Duration,
) -> Result<(AnyPool, AnyPool, raw::RawReader), StoreError> {
    let open_err = |source| StoreError::Open {
        url: Engine::shown_url(url),
        source,
    };
    // `sqlite::memory:` would be a new database on every connection: a
    // named shared in-memory one is the same for the writer and readers.
    let base = if url.contains(":memory:") {
        format!(
            "sqlite:file:supplyline-{:016x}?mode=memory",
            rand::random::<u64>()
        )
    } else {
        url.to_string()
    };
    // Created owner-only before SQLite opens it: its -wal and -shm take its mode.
    if let Some(file) = crate::files::sqlite_file(url) {
        crate::files::create_private_file(&file).or_else(|e| match e.kind() {
            // A missing folder: SQLite's own error says it best.
            std::io::ErrorKind::NotFound => Ok(()),
            _ => Err(open_err(sqlx::Error::Io(e))),
        })?;
    }
    let pragmas = format!(
        "PRAGMA busy_timeout = {}; PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;
         PRAGMA mmap_size = 1073741824; PRAGMA cache_size = -16384;",
        busy_timeout.as_millis()
    );
    let writer_options: AnyConnectOptions = with_param(&base, "mode=rwc")
        .parse::<AnyConnectOptions>()
        .map_err(open_err)?
        .disable_statement_logging();
    // The writer reads through its page cache, not a map of the file: every
    // write to a message rewrites its whole row, raw bytes included, and a
    // mapped page stays resident while the connection is open, so each
    // large message it ever wrote counted in the RSS (20 MiB attachments:
    // 121 MiB of the file mapped at the peak). Only the readers map it.
    let writer_pragmas = format!("PRAGMA journal_mode = WAL; {pragmas} PRAGMA mmap_size = 0;");
    let writer = AnyPoolOptions::new()
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
        .after_connect(move |conn, _| {
            let pragmas = writer_pragmas.clone();
            Box::pin(async move { conn.execute(pragmas.as_str()).await.map(drop) })
        })
        .connect_with(writer_options)
        .await
        .map_err(open_err)?;
    SQLITE_MIGRATOR.run(&writer).await?;
    let reader_url = with_param(&base, "mode=ro");
    let raw = raw::RawReader::sqlite(&reader_url, busy_timeout).map_err(open_err)?;
    let reader_options: AnyConnectOptions = reader_url
        .parse::<AnyConnectOptions>()
        .map_err(open_err)?
        .disable_statement_logging();
    let reader = AnyPoolOptions::new()
        .max_connections(4)
        .after_connect(move |conn, _| {
            let pragmas = pragmas.clone();
            Box::pin(async move { conn.execute(pragmas.as_str()).await.map(drop) })
        })
        .connect_with(reader_options)
        .await
        .map_err(open_err)?;
    Ok((writer, reader, raw))
}

/// One PostgreSQL pool for writes and reads, and the schema migrated.
/// A TLS failure says what to check (`pg_tls`).
async fn open_postgres(
    given_url: &str,
    busy_timeout: Duration,
) -> Result<(AnyPool, AnyPool, raw::RawReader), StoreError> {
    let url = &pg_tls::libpq_compatible(given_url);
    let tls = pg_tls::PgTls::of_url(url);
    let tls_err = |detail| StoreError::Tls {
        url: Engine::shown_url(given_url),
        detail,
    };
    if let Some(tls) = &tls {
        pg_tls::check_root_cert(tls).map_err(tls_err)?;
    }
    let open_err = |source| match tls.as_ref().and_then(|t| pg_tls::explain(&source, t)) {
        Some(detail) => tls_err(detail),
        None => StoreError::Open {
            url: Engine::shown_url(given_url),
            source,
        },
    };
    let options: AnyConnectOptions = url
        .parse::<AnyConnectOptions>()
        .map_err(open_err)?
        .disable_statement_logging();
    // A statement waits at most the busy timeout for a row lock.
    let lock_timeout = format!("SET lock_timeout = {}", busy_timeout.as_millis());
    let pool = AnyPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(busy_timeout + Duration::from_secs(5))
        .after_connect(move |conn, _| {
            let set = lock_timeout.clone();
            Box::pin(async move { conn.execute(set.as_str()).await.map(drop) })
        })
        .connect_with(options)
        .await
        .map_err(open_err)?;
    POSTGRES_MIGRATOR.run(&pool).await?;
    let raw = raw::RawReader::postgres(url, busy_timeout).map_err(open_err)?;
    Ok((pool.clone(), pool, raw))
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
        let mut other = sqlx::AnyConnection::connect(&url).await.unwrap();
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
