//! `supplyline migrate-db`'s SQL: copying a SQLite database into a
//! PostgreSQL one that `Store::open` has just migrated, table by table in
//! foreign-key order, in batches, ids preserved, resumable.
//!
//! The tables and columns are read at run time: the target's
//! (`information_schema`) that the source also has (`pragma_table_info`),
//! without sqlx's `_sqlx_migrations` and this copy's own tables. Each
//! value is read from SQLite cast to what the target column holds
//! (integer, float, text, bytes) and bound as that. The FTS5 index
//! `offer_search` is read through its columns (the messages' clean text is
//! only there); PostgreSQL's tsvectors are computed from them once the
//! copy is verified (`Store::index_pending`). Its shadow
//! tables (`offer_search_data`…) have no counterpart and are not copied.
//!
//! A batch is written in one target transaction with its progress
//! (`migrate_db_progress`: the last SQLite rowid copied, or, for a
//! `WITHOUT ROWID` table, the count copied as an offset in key order), so a
//! run killed at any point continues where its last batch ended and copies
//! nothing twice. Row triggers are off while a batch is written (`ALTER
//! TABLE … DISABLE TRIGGER USER`, in that transaction): what they maintain
//! (priorities, item totals, the search row's items and notes, base
//! quantities) is copied as the source has it, and running them again
//! would count it twice. A column that references its own table
//! (`offers.merged_into`) is written NULL first and set once the whole
//! table is there, since it may point at a later row.
//!
//! Owns: the SQL. Does not own: the command's checks, progress display
//! and report (`crate::migrate_db`).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Context};
use futures::TryStreamExt;
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::sql::{OptF64, OwnedBlob, QueryBuilder};
use super::{now_ms, Engine, QueryContext, Store};

/// The tables of this copy's own bookkeeping in the target.
const PROGRESS_TABLE: &str = "migrate_db_progress";
const SOURCE_TABLE: &str = "migrate_db_source";

/// What a target column holds, as far as binding a value goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Bool,
    Float,
    Text,
    Blob,
}

impl Kind {
    /// The kind of a PostgreSQL `information_schema.columns.data_type`.
    fn of_pg(data_type: &str) -> Option<Kind> {
        Some(match data_type {
            "bigint" | "integer" | "smallint" => Kind::Int,
            "boolean" => Kind::Bool,
            "double precision" | "real" | "numeric" => Kind::Float,
            "text" | "character varying" | "character" => Kind::Text,
            "bytea" => Kind::Blob,
            _ => return None,
        })
    }

    /// `column` of the source read as this kind.
    fn source_expr(self, column: &str) -> String {
        let to = match self {
            Kind::Int | Kind::Bool => "INTEGER",
            Kind::Float => "REAL",
            Kind::Text => "TEXT",
            Kind::Blob => "BLOB",
        };
        format!("CAST({column} AS {to})")
    }
}

/// One column copied.
#[derive(Debug, Clone)]
struct Column {
    name: String,
    kind: Kind,
    /// References its own table: written NULL, set after the table.
    self_ref: bool,
}

/// How a table's batches follow one another in the source.
#[derive(Debug, Clone)]
enum Key {
    /// By SQLite's rowid; progress is the last rowid copied.
    Rowid,
    /// A `WITHOUT ROWID` table, in primary-key order; progress is the
    /// number of rows copied (the next batch's offset).
    Offset(Vec<String>),
}

/// One table to copy.
#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    columns: Vec<Column>,
    key: Key,
    /// The target has row triggers on it (turned off while copying).
    triggers: bool,
    /// Identity columns of the target, whose sequences go past the max.
    identities: Vec<String>,
}

impl Table {
    /// A column named `id` and bytes beside it: its checksum is printed.
    fn checksummed(&self) -> Option<Vec<&str>> {
        let blobs: Vec<&str> = self
            .columns
            .iter()
            .filter(|c| c.kind == Kind::Blob)
            .map(|c| c.name.as_str())
            .collect();
        let has_id = self.columns.iter().any(|c| c.name == "id");
        (has_id && !blobs.is_empty()).then_some(blobs)
    }
}

/// What will be copied, in order, and what will not.
#[derive(Debug, Clone)]
pub struct Plan {
    pub tables: Vec<Table>,
    /// Source tables and columns with no place in the target.
    pub left_out: Vec<String>,
}

/// Where a table's copy stands in the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TableProgress {
    pub last_key: i64,
    pub copied: i64,
    pub done: bool,
}

/// What the target holds before the copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetState {
    /// Nothing but the empty schema.
    Empty,
    /// An earlier run of the copy from this source, finished (and
    /// verified) or not.
    Resume {
        started_at: i64,
        finished_at: Option<i64>,
    },
    /// An earlier copy from another source.
    OtherSource(String),
    /// Rows in this table, not from a copy.
    HasData(String),
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The copy plan of `source` (SQLite) into `target` (PostgreSQL).
pub async fn plan(source: &Store, target: &Store) -> anyhow::Result<Plan> {
    if source.engine != Engine::Sqlite || target.engine != Engine::Postgres {
        bail!("migrate-db copies a SQLite database (--from sqlite://…) into PostgreSQL (--to postgres://…)");
    }
    // The source's tables: name → (declared columns, primary key, rowid?).
    let source_tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, COALESCE(sql, '') FROM sqlite_master WHERE type = 'table'
         AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .fetch_all(&source.reader)
    .await
    .during("listing the source's tables")?;
    let target_tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1",
    )
    .fetch_all(&target.reader)
    .await
    .during("listing the target's tables")?;
    let target_set: BTreeSet<&str> = target_tables.iter().map(String::as_str).collect();
    let own =
        |name: &str| name == "_sqlx_migrations" || name == PROGRESS_TABLE || name == SOURCE_TABLE;
    let triggered: BTreeSet<String> = sqlx::query_scalar(
        "SELECT DISTINCT event_object_table::text FROM information_schema.triggers
         WHERE event_object_schema = current_schema()",
    )
    .fetch_all(&target.reader)
    .await
    .during("listing the target's triggers")?
    .into_iter()
    .collect();
    // Foreign keys: (table, referenced table, column).
    let fks: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text, a.attname::text
         FROM pg_constraint c
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
         WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace",
    )
    .fetch_all(&target.reader)
    .await
    .during("reading the target's foreign keys")?;

    let mut left_out = Vec::new();
    let mut tables = BTreeMap::new();
    for (name, sql) in &source_tables {
        if own(name) {
            continue;
        }
        if !target_set.contains(name.as_str()) {
            // FTS5's shadow tables are the index's own storage.
            if !source_tables
                .iter()
                .any(|(v, s)| name.starts_with(&format!("{v}_")) && is_virtual(s))
            {
                left_out.push(format!("table {name} (not in the target)"));
            }
            continue;
        }
        let source_columns: Vec<(String, i64)> =
            sqlx::query_as("SELECT name, pk FROM pragma_table_info($1) ORDER BY cid")
                .bind(name)
                .fetch_all(&source.reader)
                .await
                .during("reading a source table's columns")?;
        let target_columns: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT column_name::text, data_type::text, is_generated::text, is_identity::text
             FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind(name)
        .fetch_all(&target.reader)
        .await
        .during("reading a target table's columns")?;
        let without_rowid = sql.to_ascii_uppercase().contains("WITHOUT ROWID");
        let mut columns = Vec::new();
        let mut identities = Vec::new();
        for (column, data_type, generated, identity) in &target_columns {
            if generated == "ALWAYS" {
                continue;
            }
            let in_source = source_columns.iter().any(|(c, _)| c == column)
                // FTS5 keeps its row id in `rowid`, as the target's column.
                || (column == "rowid" && !without_rowid);
            if !in_source {
                continue;
            }
            let kind = Kind::of_pg(data_type).with_context(|| {
                format!("{name}.{column}: migrate-db cannot copy a column of type {data_type}")
            })?;
            if identity == "YES" {
                identities.push(column.clone());
            }
            let self_ref = fks
                .iter()
                .any(|(t, r, c)| t == name && r == name && c == column);
            columns.push(Column {
                name: column.clone(),
                kind,
                self_ref,
            });
        }
        for (column, _) in &source_columns {
            if !target_columns.iter().any(|(c, ..)| c == column) {
                left_out.push(format!("column {name}.{column} (not in the target)"));
            }
        }
        let key = if without_rowid {
            let mut pk: Vec<(i64, String)> = source_columns
                .iter()
                .filter(|(_, pk)| *pk > 0)
                .map(|(c, pk)| (*pk, c.clone()))
                .collect();
            pk.sort();
            Key::Offset(pk.into_iter().map(|(_, c)| c).collect())
        } else {
            Key::Rowid
        };
        tables.insert(
            name.clone(),
            Table {
                name: name.clone(),
                columns,
                key,
                triggers: triggered.contains(name),
                identities,
            },
        );
    }
    for name in &target_tables {
        if !own(name) && !source_tables.iter().any(|(s, _)| s == name) {
            left_out.push(format!("table {name} (not in the source; left empty)"));
        }
    }
    // Foreign-key order: a table after every table it references.
    let mut needs: BTreeMap<&str, BTreeSet<&str>> = tables
        .keys()
        .map(|t| (t.as_str(), BTreeSet::new()))
        .collect();
    for (t, r, _) in &fks {
        if t != r && tables.contains_key(t) && tables.contains_key(r) {
            needs
                .get_mut(t.as_str())
                .expect("listed")
                .insert(r.as_str());
        }
    }
    let mut order = Vec::new();
    while !needs.is_empty() {
        let ready: Vec<&str> = needs
            .iter()
            .filter(|(_, n)| n.is_empty())
            .map(|(t, _)| *t)
            .collect();
        if ready.is_empty() {
            bail!(
                "the target's foreign keys go round in a circle between {}",
                needs.keys().copied().collect::<Vec<_>>().join(", ")
            );
        }
        for t in ready {
            needs.remove(t);
            for n in needs.values_mut() {
                n.remove(t);
            }
            order.push(tables[t].clone());
        }
    }
    Ok(Plan {
        tables: order,
        left_out,
    })
}

fn is_virtual(sql: &str) -> bool {
    sql.trim_start()
        .to_ascii_uppercase()
        .starts_with("CREATE VIRTUAL TABLE")
}

/// A short name of the source, which the target records so that only a
/// run from the same source resumes: the SQLite file's full path.
pub fn source_name(url: &str) -> String {
    match crate::files::sqlite_file(url) {
        Some(file) => file.canonicalize().unwrap_or(file).display().to_string(),
        None => url.to_string(),
    }
}

/// Whether the target is empty, an earlier copy of `source`, or else.
pub async fn target_state(
    target: &Store,
    plan: &Plan,
    source: &str,
) -> anyhow::Result<TargetState> {
    let recorded: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(SOURCE_TABLE)
        .fetch_one(&target.reader)
        .await
        .during("looking for an earlier copy")?;
    if recorded {
        let row: Option<(String, i64, Option<i64>)> = sqlx::query_as(&format!(
            "SELECT source, started_at, finished_at FROM {SOURCE_TABLE} WHERE id = 1"
        ))
        .fetch_optional(&target.reader)
        .await
        .during("reading an earlier copy's source")?;
        match row {
            Some((s, started_at, finished_at)) if s == source => {
                return Ok(TargetState::Resume {
                    started_at,
                    finished_at,
                })
            }
            Some((s, ..)) => return Ok(TargetState::OtherSource(s)),
            None => {}
        }
    }
    for table in &plan.tables {
        let any: bool = sqlx::query_scalar(&format!(
            "SELECT EXISTS (SELECT 1 FROM {})",
            quote(&table.name)
        ))
        .fetch_one(&target.reader)
        .await
        .during("looking for rows in the target")?;
        if any {
            return Ok(TargetState::HasData(table.name.clone()));
        }
    }
    Ok(TargetState::Empty)
}

/// Records in the target that it is the copy of `source`, with a progress
/// row per table.
pub async fn begin(target: &Store, plan: &Plan, source: &str) -> anyhow::Result<()> {
    let mut tx = target.write().await?;
    for sql in [
        // Not "relation … already exists, skipping" on every later run.
        "SET LOCAL client_min_messages = warning".to_string(),
        format!(
            "CREATE TABLE IF NOT EXISTS {SOURCE_TABLE} (
               id BIGINT PRIMARY KEY CHECK (id = 1), source TEXT NOT NULL,
               started_at BIGINT NOT NULL, finished_at BIGINT)"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {PROGRESS_TABLE} (
               table_name TEXT PRIMARY KEY, last_key BIGINT NOT NULL DEFAULT 0,
               copied BIGINT NOT NULL DEFAULT 0, done BIGINT NOT NULL DEFAULT 0)"
        ),
    ] {
        sqlx::query(&sql)
            .execute(&mut *tx)
            .await
            .during("recording the copy in the target")?;
    }
    sqlx::query(&format!(
        "INSERT INTO {SOURCE_TABLE} (id, source, started_at) VALUES (1, $1, $2)
         ON CONFLICT (id) DO NOTHING"
    ))
    .bind(source)
    .bind(now_ms())
    .execute(&mut *tx)
    .await
    .during("recording the copy in the target")?;
    for table in &plan.tables {
        sqlx::query(&format!(
            "INSERT INTO {PROGRESS_TABLE} (table_name) VALUES ($1) ON CONFLICT DO NOTHING"
        ))
        .bind(&table.name)
        .execute(&mut *tx)
        .await
        .during("recording the copy in the target")?;
    }
    tx.commit()
        .await
        .during("recording the copy in the target")?;
    Ok(())
}

/// Where `table`'s copy stands.
pub async fn progress(target: &Store, table: &Table) -> anyhow::Result<TableProgress> {
    let (last_key, copied, done): (i64, i64, i64) = sqlx::query_as(&format!(
        "SELECT last_key, copied, done FROM {PROGRESS_TABLE} WHERE table_name = $1"
    ))
    .bind(&table.name)
    .fetch_one(&target.reader)
    .await
    .during("reading the copy's progress")?;
    Ok(TableProgress {
        last_key,
        copied,
        done: done != 0,
    })
}

/// Rows in `table` of `store`.
pub async fn count(store: &Store, table: &str) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {}", quote(table)))
            .fetch_one(&store.reader)
            .await
            .during("counting rows")?,
    )
}

/// One value read from the source, to bind in the target.
enum Value {
    Int(Option<i64>),
    Bool(Option<bool>),
    Float(Option<f64>),
    Text(Option<String>),
    Blob(Option<Vec<u8>>),
}

impl Value {
    fn read(row: &AnyRow, i: usize, kind: Kind) -> Result<Value, sqlx::Error> {
        Ok(match kind {
            Kind::Int => Value::Int(row.try_get(i)?),
            Kind::Bool => Value::Bool(row.try_get::<Option<i64>, _>(i)?.map(|v| v != 0)),
            Kind::Float => Value::Float(row.try_get(i)?),
            Kind::Text => Value::Text(row.try_get(i)?),
            Kind::Blob => Value::Blob(row.try_get(i)?),
        })
    }

    fn null(kind: Kind) -> Value {
        match kind {
            Kind::Int => Value::Int(None),
            Kind::Bool => Value::Bool(None),
            Kind::Float => Value::Float(None),
            Kind::Text => Value::Text(None),
            Kind::Blob => Value::Blob(None),
        }
    }

    fn size(&self) -> usize {
        match self {
            Value::Text(Some(t)) => t.len(),
            Value::Blob(Some(b)) => b.len(),
            _ => 8,
        }
    }

    fn bind(self, qb: &mut QueryBuilder<'_>) {
        match self {
            Value::Int(v) => qb.push_bind(v),
            Value::Bool(v) => qb.push_bind(v),
            // A NULL bound as float8 (see `sql::OptF64`).
            Value::Float(v) => qb.push_bind(OptF64(v)),
            Value::Text(v) => qb.push_bind(v),
            Value::Blob(Some(v)) => qb.push_bind(OwnedBlob(v)),
            Value::Blob(None) => qb.push_bind(None::<Vec<u8>>),
        };
    }
}

/// The SELECT of `table`'s next batch in the source (its key first when
/// it has a rowid), starting after `from`.
fn batch_select(table: &Table, from: &TableProgress) -> String {
    let columns: Vec<String> = table
        .columns
        .iter()
        .map(|c| {
            let name = if c.name == "rowid" {
                "rowid".to_string()
            } else {
                quote(&c.name)
            };
            c.kind.source_expr(&name)
        })
        .collect();
    let name = quote(&table.name);
    match &table.key {
        Key::Rowid => format!(
            "SELECT rowid, {} FROM {name} WHERE rowid > {} ORDER BY rowid",
            columns.join(", "),
            from.last_key
        ),
        Key::Offset(pk) => {
            let order: Vec<String> = pk.iter().map(|c| quote(c)).collect();
            let order = if order.is_empty() {
                "1".to_string()
            } else {
                order.join(", ")
            };
            format!(
                "SELECT 0, {} FROM {name} ORDER BY {order} LIMIT -1 OFFSET {}",
                columns.join(", "),
                from.copied
            )
        }
    }
}

/// Copies `table`'s next batch (at most `max_rows` rows and about
/// `max_bytes` bytes) in one target transaction with its progress; how
/// many rows (0: the table is all there).
pub async fn copy_batch(
    source: &Store,
    target: &Store,
    table: &Table,
    max_rows: usize,
    max_bytes: usize,
) -> anyhow::Result<usize> {
    let from = progress(target, table).await?;
    let select = batch_select(table, &from);
    let mut rows: Vec<Vec<Value>> = Vec::new();
    let mut last_key = from.last_key;
    {
        let mut stream = sqlx::query(&select).fetch(&source.reader);
        let mut bytes = 0;
        while rows.len() < max_rows && bytes < max_bytes {
            let Some(row) = stream
                .try_next()
                .await
                .with_context(|| format!("reading {} from the source", table.name))?
            else {
                break;
            };
            last_key = row.try_get(0)?;
            let mut values = Vec::with_capacity(table.columns.len());
            for (i, column) in table.columns.iter().enumerate() {
                let value = Value::read(&row, i + 1, column.kind).with_context(|| {
                    format!("reading {}.{} from the source", table.name, column.name)
                })?;
                bytes += value.size();
                values.push(match column.self_ref {
                    true => Value::null(column.kind),
                    false => value,
                });
            }
            rows.push(values);
        }
    }
    if rows.is_empty() {
        return Ok(0);
    }
    let n = rows.len();
    let mut tx = target.write().await?;
    let now: (i64, i64) = sqlx::query_as(&format!(
        "SELECT last_key, copied FROM {PROGRESS_TABLE} WHERE table_name = $1 FOR UPDATE"
    ))
    .bind(&table.name)
    .fetch_one(&mut *tx)
    .await
    .during("locking the copy's progress")?;
    if now != (from.last_key, from.copied) {
        bail!(
            "{}: the target's progress moved while this batch was read: is another migrate-db running on it?",
            table.name
        );
    }
    let name = quote(&table.name);
    if table.triggers {
        user_triggers(&mut tx, &name, false).await?;
    }
    let names: Vec<String> = table.columns.iter().map(|c| quote(&c.name)).collect();
    let overriding = match table.identities.is_empty() {
        true => "",
        false => " OVERRIDING SYSTEM VALUE",
    };
    // PostgreSQL takes at most 65,535 parameters in a statement.
    let per_statement = (60_000 / table.columns.len().max(1)).max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let mut qb = QueryBuilder::new(
            target.engine,
            format!(
                "INSERT INTO {name} ({}){overriding} VALUES ",
                names.join(", ")
            ),
        );
        for (r, values) in rows.by_ref().take(per_statement).enumerate() {
            qb.push(if r == 0 { "(" } else { ", (" });
            for (i, value) in values.into_iter().enumerate() {
                if i > 0 {
                    qb.push(", ");
                }
                value.bind(&mut qb);
            }
            qb.push(")");
        }
        qb.build()
            .execute(&mut *tx)
            .await
            .with_context(|| format!("writing {} into the target", table.name))?;
    }
    if table.triggers {
        user_triggers(&mut tx, &name, true).await?;
    }
    sqlx::query(&format!(
        "UPDATE {PROGRESS_TABLE} SET last_key = $1, copied = copied + $2 WHERE table_name = $3"
    ))
    .bind(last_key)
    .bind(n as i64)
    .bind(&table.name)
    .execute(&mut *tx)
    .await
    .during("recording the copy's progress")?;
    tx.commit().await.during("committing a batch")?;
    Ok(n)
}

/// Turns the user triggers of the (quoted) table `name` on or off inside
/// `tx`: what they maintain is copied, not recomputed (see the module doc).
async fn user_triggers(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    name: &str,
    on: bool,
) -> Result<(), super::StoreError> {
    let (switch, what) = match on {
        true => ("ENABLE", "turning the target's triggers back on"),
        false => ("DISABLE", "turning the target's triggers off for the copy"),
    };
    sqlx::query(&format!("ALTER TABLE {name} {switch} TRIGGER USER"))
        .execute(&mut **tx)
        .await
        .during(what)?;
    Ok(())
}

/// Sets the columns of `table` that reference the table itself, left
/// NULL by the batches, to the source's values (idempotent), and marks the
/// table done.
pub async fn finish_table(source: &Store, target: &Store, table: &Table) -> anyhow::Result<()> {
    let name = quote(&table.name);
    let mut tx = target.write().await?;
    let self_refs: Vec<&Column> = table.columns.iter().filter(|c| c.self_ref).collect();
    if !self_refs.is_empty() {
        if !table.columns.iter().any(|c| c.name == "id") {
            bail!(
                "{}: a column refers to the table itself, but there is no id column",
                table.name
            );
        }
        if table.triggers {
            user_triggers(&mut tx, &name, false).await?;
        }
        for column in self_refs {
            let col = quote(&column.name);
            let pairs: Vec<(i64, i64)> = sqlx::query_as(&format!(
                "SELECT id, {col} FROM {name} WHERE {col} IS NOT NULL ORDER BY id"
            ))
            .fetch_all(&source.reader)
            .await
            .during("reading references within a table")?;
            for (id, value) in pairs {
                sqlx::query(&format!("UPDATE {name} SET {col} = $1 WHERE id = $2"))
                    .bind(value)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .with_context(|| {
                        format!("setting {}.{} in the target", table.name, column.name)
                    })?;
            }
        }
        if table.triggers {
            user_triggers(&mut tx, &name, true).await?;
        }
    }
    sqlx::query(&format!(
        "UPDATE {PROGRESS_TABLE} SET done = 1 WHERE table_name = $1"
    ))
    .bind(&table.name)
    .execute(&mut *tx)
    .await
    .during("recording the copy's progress")?;
    tx.commit().await.during("committing a table")?;
    Ok(())
}

/// Moves every identity sequence of the copied tables past the largest id.
pub async fn reset_identities(target: &Store, plan: &Plan) -> anyhow::Result<()> {
    for table in &plan.tables {
        for column in &table.identities {
            let sql = format!(
                "SELECT setval(pg_get_serial_sequence($1, $2)::regclass,
                   COALESCE((SELECT MAX({col}) FROM {name}), 0) + 1, false)",
                col = quote(column),
                name = quote(&table.name),
            );
            sqlx::query(&sql)
                .bind(quote(&table.name))
                .bind(column)
                .execute(&target.writer)
                .await
                .during("moving an identity sequence past the copied ids")?;
        }
    }
    Ok(())
}

/// SHA-256 over (id, bytes) of every row of each table with an `id` and
/// byte columns, in id order: (table, rows hashed, hex digest).
pub async fn checksums(store: &Store, plan: &Plan) -> anyhow::Result<Vec<(String, i64, String)>> {
    let mut sums = Vec::new();
    for table in &plan.tables {
        let Some(blobs) = table.checksummed() else {
            continue;
        };
        let columns: Vec<String> = blobs.iter().map(|c| quote(c)).collect();
        let sql = format!(
            "SELECT id, {} FROM {} ORDER BY id",
            columns.join(", "),
            quote(&table.name)
        );
        let mut hasher = Sha256::new();
        let mut rows = 0i64;
        let mut stream = sqlx::query(&sql).fetch(&store.reader);
        while let Some(row) = stream.try_next().await.during("reading bytes to check")? {
            let id: i64 = row.try_get(0)?;
            hasher.update(id.to_be_bytes());
            for i in 0..blobs.len() {
                let bytes: Option<Vec<u8>> = row.try_get(i + 1)?;
                match bytes {
                    Some(b) => {
                        hasher.update([1]);
                        hasher.update((b.len() as u64).to_be_bytes());
                        hasher.update(&b);
                    }
                    None => hasher.update([0]),
                }
            }
            rows += 1;
        }
        let digest: String = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        sums.push((table.name.clone(), rows, digest));
    }
    Ok(sums)
}

/// Records that the copy finished and was verified.
pub async fn finished(target: &Store) -> anyhow::Result<()> {
    sqlx::query(&format!(
        "UPDATE {SOURCE_TABLE} SET finished_at = $1 WHERE id = 1"
    ))
    .bind(now_ms())
    .execute(&target.writer)
    .await
    .during("recording the end of the copy")?;
    Ok(())
}
