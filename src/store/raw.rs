//! The pool that reads messages' raw bytes, of the engine's own driver
//! (sqlx's `SqlitePool` or `PgPool`) rather than `Any`: the `Any` driver
//! copies every value of a row into an owned `AnyValue` before the row is
//! decoded, and decoding a `Vec<u8>` from it copies once more, so each raw
//! message read through it was in memory once or twice more than read
//! natively. With 20 MiB attachments that took the peak RSS of `serve`
//! from 135 MiB to 310 MiB (BENCHMARKS.md, Memory).
//!
//! Only reads: the writes that store raw bytes go through `Any`, in the
//! write transaction that stores the rest of the message, the fetched
//! bytes moved in as `sql::OwnedBlob` so that nothing copies them.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{ConnectOptions, PgPool, SqlitePool};

/// A native pool on the store's database, for raw bytes only.
#[derive(Clone, Debug)]
pub(super) enum RawReader {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl RawReader {
    /// Read-only connections to the SQLite database at `url` (as the `Any`
    /// readers open it), opened when first needed.
    pub(super) fn sqlite(url: &str, busy_timeout: Duration) -> Result<RawReader, sqlx::Error> {
        let options = SqliteConnectOptions::from_str(url)?
            .read_only(true)
            .busy_timeout(busy_timeout)
            // Read, not mapped: a mapped page stays resident in this
            // connection's map as long as it is open, so every raw message
            // it ever read would count in the RSS (the desk's readers map
            // the file for speed; these read each message once).
            .pragma("mmap_size", "0")
            .disable_statement_logging();
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .acquire_timeout(busy_timeout + Duration::from_secs(5))
            .connect_lazy_with(options);
        Ok(RawReader::Sqlite(pool))
    }

    /// Connections to the PostgreSQL database at `url`, opened when first
    /// needed.
    pub(super) fn postgres(url: &str, busy_timeout: Duration) -> Result<RawReader, sqlx::Error> {
        let options = PgConnectOptions::from_str(url)?.disable_statement_logging();
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(busy_timeout + Duration::from_secs(5))
            .connect_lazy_with(options);
        Ok(RawReader::Postgres(pool))
    }

    /// The raw bytes of the messages `ids` that exist, with their ids, in
    /// no particular order.
    pub(super) async fn messages(&self, ids: &[i64]) -> Result<Vec<(i64, Vec<u8>)>, sqlx::Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = (1..=ids.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT id, raw FROM messages WHERE id IN ({})",
            list.join(", ")
        );
        match self {
            RawReader::Sqlite(pool) => {
                let mut query = sqlx::query_as(&sql);
                for id in ids {
                    query = query.bind(*id);
                }
                query.fetch_all(pool).await
            }
            RawReader::Postgres(pool) => {
                let mut query = sqlx::query_as(&sql);
                for id in ids {
                    query = query.bind(*id);
                }
                query.fetch_all(pool).await
            }
        }
    }

    /// Closes the pool's connections.
    pub(super) async fn close(&self) {
        match self {
            RawReader::Sqlite(pool) => pool.close().await,
            RawReader::Postgres(pool) => pool.close().await,
        }
    }
}
