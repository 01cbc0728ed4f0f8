//! `supplyline migrate-db --from sqlite://… --to postgres://…`: moves an
//! installation from SQLite to PostgreSQL.
//!
//! The source is opened as every command opens it (its migrations run, no
//! claims are taken) and refused while a `serve` holds it; the target is
//! opened with `Store::open`, which creates the PostgreSQL schema, and
//! refused when it holds rows that are not an earlier run of this same
//! copy. Every table is copied in foreign-key order, in batches, each in
//! one transaction with its progress, so a run that was killed is run again
//! and continues where it stopped. At the end the identity sequences go
//! past the copied ids, and the row counts of every table and a SHA-256 of
//! the raw messages (and of the outbox's raw replies) are compared between
//! the two: a difference names the table and fails the command. Last,
//! the offers' search vectors are computed (a `serve` would do it too).
//!
//! Owns: the order of the steps, the checks, the progress display and the
//! report. Does not own: the SQL (`store::migrate`).

use std::time::Instant;

use anyhow::{bail, Context};

use crate::import::progress::Progress;
use crate::instance::running_serve;
use crate::store::migrate::{self, TargetState};
use crate::store::{Engine, Store};

/// Rows per batch unless `--batch` says otherwise.
pub const DEFAULT_BATCH_ROWS: usize = 500;

/// A batch stops growing at about this many bytes (raw messages can be
/// tens of MiB each).
const BATCH_BYTES: usize = 32 << 20;

/// What to copy where.
#[derive(Debug, Clone)]
pub struct Options {
    pub from: String,
    pub to: String,
    pub batch_rows: usize,
}

/// Runs the copy and prints its report; an error names what differed.
pub async fn run(options: &Options) -> anyhow::Result<()> {
    let started = Instant::now();
    if Engine::of_url(&options.from) != Some(Engine::Sqlite) {
        bail!(
            "--from must be a SQLite database (sqlite://PATH), not {}",
            Engine::shown_url(&options.from)
        );
    }
    if Engine::of_url(&options.to) != Some(Engine::Postgres) {
        bail!("--to must be a PostgreSQL database (postgres://…)");
    }
    match crate::files::sqlite_file(&options.from) {
        Some(file) if file.is_file() => {}
        Some(file) => bail!("no SQLite database at {}", file.display()),
        None => bail!("--from must name a SQLite file, not an in-memory database"),
    }
    let source = Store::open(&options.from)
        .await
        .context("opening the source database")?;
    if let Some(serve) = running_serve(&source).await? {
        bail!("the source database is in use: {serve}");
    }
    let target = Store::open(&options.to)
        .await
        .context("opening the target database")?;
    let plan = migrate::plan(&source, &target).await?;
    for note in &plan.left_out {
        println!("not copied: {note}");
    }
    let source_name = migrate::source_name(&options.from);
    match migrate::target_state(&target, &plan, &source_name).await? {
        TargetState::Empty => {}
        TargetState::Resume {
            finished_at: Some(at),
            ..
        } => println!(
            "the copy of {source_name} finished at {}; checking it again",
            time_text(at)
        ),
        TargetState::Resume { started_at, .. } => println!(
            "continuing the copy of {source_name} started at {}",
            time_text(started_at)
        ),
        TargetState::OtherSource(other) => bail!(
            "the target database is a copy of {other}, not of {source_name}; \
             migrate into an empty database"
        ),
        TargetState::HasData(table) => bail!(
            "the target database already holds data (table {table}) that is not from \
             migrate-db of {source_name}; migrate into an empty database"
        ),
    }
    migrate::begin(&target, &plan, &source_name).await?;

    let mut sizes = Vec::new();
    let (mut total, mut done) = (0u64, 0u64);
    for table in &plan.tables {
        let rows = migrate::count(&source, &table.name).await?;
        let at = migrate::progress(&target, table).await?;
        total += rows as u64;
        done += at.copied.min(rows) as u64;
        sizes.push(rows);
    }
    let before = done;
    let mut progress = Progress::counting("copied", "rows", total, done);
    for (table, rows) in plan.tables.iter().zip(&sizes) {
        let at = migrate::progress(&target, table).await?;
        if at.done {
            continue;
        }
        match at.copied {
            0 if *rows > 0 => progress.say(&format!("copying {} ({rows} rows)", table.name)),
            0 => {}
            there => progress.say(&format!(
                "copying {} ({rows} rows, {there} there already)",
                table.name
            )),
        }
        loop {
            let n = migrate::copy_batch(&source, &target, table, options.batch_rows, BATCH_BYTES)
                .await?;
            if n == 0 {
                break;
            }
            done += n as u64;
            progress.advance(n as u64);
        }
        migrate::finish_table(&source, &target, table).await?;
    }
    progress.finish();
    migrate::reset_identities(&target, &plan).await?;
    let copied_secs = started.elapsed().as_secs_f64();

    println!("{:<24} {:>10} {:>10}", "table", "source", "target");
    let mut differ = Vec::new();
    for table in &plan.tables {
        let (s, t) = (
            migrate::count(&source, &table.name).await?,
            migrate::count(&target, &table.name).await?,
        );
        let mark = if s == t { "" } else { "  DIFFERS" };
        println!("{:<24} {s:>10} {t:>10}{mark}", table.name);
        if s != t {
            differ.push(format!(
                "{} (rows: {s} in the source, {t} in the target)",
                table.name
            ));
        }
    }
    // Both sides at once: each is mostly reading and hashing.
    let (from_sums, to_sums) = tokio::try_join!(
        migrate::checksums(&source, &plan),
        migrate::checksums(&target, &plan)
    )?;
    for ((table, rows, s), (_, _, t)) in from_sums.iter().zip(&to_sums) {
        let verdict = if s == t { "same" } else { "DIFFERS" };
        println!("sha256 of {table} raw ({rows} rows): source {s}, target {t}: {verdict}");
        if s != t {
            differ.push(format!("{table} (the checksum of its raw bytes)"));
        }
    }
    if !differ.is_empty() {
        bail!("the copy differs from the source: {}", differ.join(", "));
    }
    let no_stop = tokio_util::sync::CancellationToken::new();
    crate::import::progress::index_search(&target, &no_stop).await?;
    migrate::finished(&target).await?;
    source.close().await;
    target.close().await;
    println!(
        "migrated {total} rows ({} this run) in {copied_secs:.1} s, verified in {:.1} s; \
         point database.url at the PostgreSQL database",
        done - before,
        started.elapsed().as_secs_f64() - copied_secs
    );
    Ok(())
}

/// A time in ms since the epoch, as RFC 3339 in UTC.
fn time_text(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}
