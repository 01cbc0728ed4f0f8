//! `supplyline import`: old mail into the store, processed, never answered.
//!
//! A source is an mbox file, a Maildir, a folder of `.eml` files, or
//! another folder of the configured IMAP account. It is read in batches;
//! each batch is stored with the import's position in one transaction
//! (`store::imports`), so an import stopped by Ctrl-C or killed resumes
//! where its last batch ended. Messages get the dedup key of live intake,
//! so one message is one row whichever way it came first, and carry a
//! reason never to be answered. Bad input (a truncated message, a file
//! that is not an email) is named and skipped. Then the waiting messages
//! are processed (claims with this run's lease, kept by a heartbeat).
//!
//! Owns: choosing the reader, the batch loop, the summary. Does not own:
//! reading formats (`files`, `imap_folder`), the SQL (`store::imports`).

pub mod files;
mod imap_folder;
pub mod progress;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::outbox::ReplyPolicy;
use crate::process::{Processor, BATCH_MESSAGES};
use crate::store::Store;
use files::{Batch, FolderReader, MboxReader};
use imap_folder::ImapFolderReader;
use progress::Progress;

/// What to import.
#[derive(Debug, Clone)]
pub enum Source {
    Mbox(PathBuf),
    Maildir(PathBuf),
    EmlFolder(PathBuf),
    ImapFolder(String),
}

impl Source {
    /// The source `path` is: a Maildir (a folder with `cur/` and `new/`), a
    /// folder of `.eml` files, or an mbox file.
    pub fn from_path(path: &Path) -> anyhow::Result<Source> {
        let path = path
            .canonicalize()
            .with_context(|| format!("{}: cannot open", path.display()))?;
        Ok(if path.is_dir() {
            if path.join("cur").is_dir() && path.join("new").is_dir() {
                Source::Maildir(path)
            } else {
                Source::EmlFolder(path)
            }
        } else {
            Source::Mbox(path)
        })
    }

    /// The key its progress is kept under.
    fn key(&self) -> String {
        match self {
            Source::Mbox(p) => format!("mbox:{}", p.display()),
            Source::Maildir(p) => format!("maildir:{}", p.display()),
            Source::EmlFolder(p) => format!("eml:{}", p.display()),
            Source::ImapFolder(f) => format!("imap:{f}"),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Source::Mbox(_) => "mbox",
            Source::Maildir(_) => "maildir",
            Source::EmlFolder(_) => "eml",
            Source::ImapFolder(_) => "imap",
        }
    }

    /// What the `mailbox` column of its messages says.
    fn mailbox(&self) -> String {
        match self {
            Source::ImapFolder(f) => f.clone(),
            Source::Mbox(p) | Source::Maildir(p) | Source::EmlFolder(p) => {
                format!("import:{}", p.display())
            }
        }
    }

    fn name(&self) -> String {
        match self {
            Source::ImapFolder(f) => format!("IMAP folder {f}"),
            Source::Mbox(p) | Source::Maildir(p) | Source::EmlFolder(p) => p.display().to_string(),
        }
    }
}

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub stored: usize,
    pub duplicates: usize,
    /// Bad inputs, each named with why (this run's).
    pub skipped: Vec<String>,
    /// Messages processed after storing.
    pub processed: usize,
    /// Stopped by Ctrl-C or SIGTERM before the end.
    pub interrupted: bool,
    /// The import's counts over every run, this one included.
    pub in_all: Option<crate::store::ImportProgress>,
}

/// One of the readers.
enum Reader {
    Mbox(MboxReader),
    Folder(FolderReader),
    Imap(ImapFolderReader),
}

impl Reader {
    async fn next_batch(&mut self) -> anyhow::Result<Option<Batch>> {
        Ok(match self {
            Reader::Mbox(r) => r.next_batch()?,
            Reader::Folder(r) => r.next_batch()?,
            Reader::Imap(r) => r.next_batch().await?,
        })
    }
}

/// Imports `source` into the database of `config`, then processes what
/// waits, until done or `shutdown`. Prints progress on stderr.
pub async fn run(
    config: &Config,
    source: &Source,
    shutdown: CancellationToken,
) -> anyhow::Result<ImportReport> {
    let store = crate::daemon::open_store(config).await?;
    let heartbeat = tokio::spawn(keep_claims(store.clone(), shutdown.child_token()));
    let result = import_and_process(config, &store, source, &shutdown).await;
    heartbeat.abort();
    store.close().await;
    result
}

async fn import_and_process(
    config: &Config,
    store: &Store,
    source: &Source,
    shutdown: &CancellationToken,
) -> anyhow::Result<ImportReport> {
    let key = source.key();
    let before = store.start_import(&key, source.kind()).await?;
    if before.done() > 0 {
        eprintln!(
            "resuming the import of {}: {} messages were dealt with before",
            source.name(),
            before.done()
        );
    }
    let (mut reader, total) = open_reader(config, source, &before.position, before.done()).await?;
    let mut progress = Progress::new("imported", total, before.done() as u64);
    let mut report = ImportReport::default();
    let mailbox = source.mailbox();
    while !shutdown.is_cancelled() {
        let Some(batch) = reader.next_batch().await? else {
            store.finish_import(&key).await?;
            break;
        };
        for name in &batch.skipped {
            progress.say(&format!("skipped {name}"));
        }
        let (stored, duplicates) = store
            .store_imported(
                &key,
                &mailbox,
                &batch.messages,
                &batch.position,
                batch.skipped.len(),
            )
            .await?;
        report.stored += stored;
        report.duplicates += duplicates;
        progress.advance((batch.messages.len() + batch.skipped.len()) as u64);
        report.skipped.extend(batch.skipped);
    }
    progress.finish();
    if let Reader::Imap(r) = reader {
        r.close().await;
    }
    report.interrupted = shutdown.is_cancelled();
    if !report.interrupted {
        report.processed = process_waiting(config, store, shutdown).await?;
        report.interrupted = shutdown.is_cancelled();
    }
    report.in_all = Some(store.start_import(&key, source.kind()).await?);
    Ok(report)
}

/// The reader for `source` from `position`, and how many messages it has
/// in all (those dealt with before included).
async fn open_reader(
    config: &Config,
    source: &Source,
    position: &str,
    done: i64,
) -> anyhow::Result<(Reader, u64)> {
    let done = done.max(0) as u64;
    Ok(match source {
        Source::Mbox(path) => {
            let offset = position.parse().unwrap_or(0);
            let total = MboxReader::count_messages(path)?;
            (Reader::Mbox(MboxReader::open(path, offset, done)?), total)
        }
        Source::Maildir(path) => {
            let r = FolderReader::maildir(path, position)?;
            let total = done + r.remaining();
            (Reader::Folder(r), total)
        }
        Source::EmlFolder(path) => {
            let r = FolderReader::eml(path, position)?;
            let total = done + r.remaining();
            (Reader::Folder(r), total)
        }
        Source::ImapFolder(folder) => {
            let imap = config
                .imap
                .as_ref()
                .context("--imap-folder needs an [imap] section (the account to read)")?;
            if folder == &imap.mailbox {
                anyhow::bail!(
                    "--imap-folder {folder} is imap.mailbox, the folder serve reads and answers: \
                     import another folder (its mail would never be acknowledged)"
                );
            }
            let r = ImapFolderReader::open(imap, folder, position)
                .await
                .with_context(|| format!("reading the IMAP folder {folder}"))?;
            let total = done + r.remaining();
            (Reader::Imap(r), total)
        }
    })
}

/// Processes every waiting message (imported ones get no reply); how many.
async fn process_waiting(
    config: &Config,
    store: &Store,
    shutdown: &CancellationToken,
) -> anyhow::Result<usize> {
    let processor = Processor::new(
        store.clone(),
        Arc::new(crate::daemon::load_rules(config)?),
        Arc::new(crate::daemon::load_composer(config)?),
        ReplyPolicy::from(&config.donations),
    );
    // Imported offers in base units, as serve's (before any serve ran).
    crate::daemon::load_pack_sizes(config, store).await?;
    // Claims of a run that ended (an import killed while processing) once they ran out.
    store.release_abandoned_claims(None).await?;
    let waiting = store.waiting_messages().await?.max(0) as u64;
    let mut progress = Progress::new("processed", waiting, 0);
    let mut processed = 0;
    while !shutdown.is_cancelled() {
        let batch = match processor.process_batch(BATCH_MESSAGES).await {
            Ok(batch) => batch,
            // Another writer held what the batch needed (PostgreSQL: a
            // deadlock or a lock timeout): its messages go back in the
            // queue with the next call.
            Err(e) if e.is_busy() => {
                tracing::warn!(error = %e, "processing waited on another writer; trying again");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        if batch.is_empty() {
            break;
        }
        processed += batch.len();
        progress.advance(batch.len() as u64);
    }
    progress.finish();
    progress::index_search(store, shutdown).await?;
    Ok(processed)
}

/// Extends this run's claims every third of the lease (no instance row:
/// an import runs beside `serve`).
async fn keep_claims(store: Store, stop: CancellationToken) {
    let every = store.lease().duration / 3;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.cancelled() => return,
        }
        if let Err(e) = store.extend_claims().await {
            tracing::warn!(error = %e, "could not extend the import's claims; trying again");
        }
    }
}

/// The summary printed at the end.
pub fn summary(source: &Source, report: &ImportReport) -> String {
    let mut text = format!(
        "{}: {} stored, {} already stored, {} skipped, {} processed (imported mail is never answered)",
        source.name(),
        report.stored,
        report.duplicates,
        report.skipped.len(),
        report.processed
    );
    for name in &report.skipped {
        text.push_str(&format!("\n  skipped {name}"));
    }
    if let Some(all) = report
        .in_all
        .as_ref()
        .filter(|all| all.done() as usize > report.stored)
    {
        text.push_str(&format!(
            "\nin all runs of this import: {} stored, {} already stored, {} skipped",
            all.stored, all.duplicates, all.skipped
        ));
    }
    if report.interrupted {
        text.push_str("\ninterrupted: run the same command again to resume");
    }
    text
}
