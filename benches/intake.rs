//! Intake benchmarks on the real mail stack (Dovecot + OpenSMTPD on loopback):
//!
//! - acknowledgement latency: from OpenSMTPD's 250 for a donor's email to our
//!   acknowledgement in the donor's mailbox (p50, p90), waiting in IDLE and
//!   woken by Dovecot's push (the new-mail hook), in the same run;
//! - backlog drain: N × 4 KiB messages fetched and stored, next to a bare
//!   `UID FETCH` download of the same mailbox; then processed and answered;
//! - peak RSS of `supplyline serve` draining messages with 20 MiB attachments.
//!
//! `BENCH_DATABASE=postgres` runs the backlog on SQLite and then on a
//! throw-away PostgreSQL (`scripts/pg-stack`, loopback) in the same run and
//! prints the ratio of their drain times (the target: PostgreSQL within
//! 1.5 × SQLite).
//!
//! `cargo bench --bench intake` runs the full sizes; without `--bench`
//! (as `cargo test --all-targets` runs it) a small smoke run checks that the
//! benchmark still works. Figures go to BENCHMARKS.md.

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use supplyline::config::Config;
use supplyline::daemon::Stages;
use supplyline::fetch::{uid_set, Fetcher};
use supplyline::store::Store;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use common::imap::{login, Security};
use common::{mail_stack, send_raw, unique_address};

struct Sizes {
    latency_samples: usize,
    backlog: usize,
    big_messages: usize,
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let sizes = if full {
        Sizes {
            latency_samples: 100,
            backlog: 10_000,
            big_messages: 5,
        }
    } else {
        Sizes {
            latency_samples: 3,
            backlog: 50,
            big_messages: 1,
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    // BENCH_ONLY=latency|backlog|rss runs one part.
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let wanted = |part: &str| only.is_empty() || only == part;
    rt.block_on(async {
        if wanted("latency") {
            latency(sizes.latency_samples, Wake::Idle).await;
            latency(sizes.latency_samples, Wake::Push).await;
        }
        if wanted("backlog") {
            let sqlite = backlog(sizes.backlog, Db::Sqlite).await;
            if std::env::var("BENCH_DATABASE").is_ok_and(|v| v == "postgres") {
                let postgres = backlog(sizes.backlog, Db::Postgres).await;
                println!(
                    "backlog of {}: PostgreSQL / SQLite: drain {:.2} × (fetch+store {:.2} ×, process {:.2} ×, send {:.2} ×); target ≤ 1.5 ×",
                    sizes.backlog,
                    postgres.total().as_secs_f64() / sqlite.total().as_secs_f64(),
                    postgres.fetched.as_secs_f64() / sqlite.fetched.as_secs_f64(),
                    postgres.processed.as_secs_f64() / sqlite.processed.as_secs_f64(),
                    postgres.sent.as_secs_f64() / sqlite.sent.as_secs_f64(),
                );
            }
        }
        if wanted("rss") {
            rss(sizes.big_messages).await;
        }
    });
}

fn config_text(dir: &std::path::Path, donations: &str, extra: &str) -> String {
    let db = format!("sqlite://{}", dir.join("db.sqlite").display());
    config_text_on(&db, donations, extra)
}

/// [`config_text`] with the database at `db`.
fn config_text_on(db: &str, donations: &str, extra: &str) -> String {
    let s = mail_stack();
    format!(
        "[database]\nurl = \"{db}\"\n\n[imap]\nhost = \"127.0.0.1\"\nport = {imap}\nsecurity = \"none\"\n\
         allow_insecure = true\nusername = \"{donations}\"\npassword = \"{pw}\"\n\
         acknowledge_since = \"2000-01-01T00:00:00Z\"\n\n\
         [smtp]\nhost = \"127.0.0.1\"\nport = {smtp}\nsecurity = \"none\"\nallow_insecure = true\n\n\
         [donations]\naddress = \"{donations}\"\nreply_window_secs = 0\n{extra}",
        imap = s.imap_port,
        smtp = s.smtp_port,
        pw = s.password,
    )
}

fn load(text: &str) -> Config {
    Config::from_str_with_env(text, std::path::Path::new("bench.toml"), std::iter::empty()).unwrap()
}

fn donation(from: &str, to: &str, body_len: usize) -> Vec<u8> {
    let mut body = String::from("Hello, we can donate 2,000 N95 masks and 40 isolation gowns.\r\n");
    while body.len() < body_len {
        body.push_str(
            "Pickup weekdays 9-5 at our warehouse loading dock, ask for the manager.\r\n",
        );
    }
    format!(
        "From: Donor <{from}>\r\nTo: {to}\r\nSubject: Donation\r\nMessage-ID: <{:016x}@bench.example>\r\n\
         Date: Mon, 23 Mar 2020 09:00:00 -0700\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}",
        rand::random::<u64>()
    )
    .into_bytes()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// How `serve` learns of new mail in a latency run.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Wake {
    /// IMAP IDLE (Dovecot notifies 500 ms after a delivery).
    Idle,
    /// IDLE, and Dovecot's push_notification calling `/hooks/new-mail`.
    Push,
}

/// Acknowledgement latency with `serve` running, woken as `wake` says.
async fn latency(samples: usize, wake: Wake) {
    let dir = tempfile::tempdir().unwrap();
    let donations = unique_address("donations");
    let stack = mail_stack();
    let web = match wake {
        Wake::Idle => String::new(),
        Wake::Push => {
            let status = std::process::Command::new("scripts/mail-stack")
                .args([
                    "push-on".as_ref(),
                    stack.dir.as_os_str(),
                    donations.as_ref(),
                ])
                .status()
                .unwrap();
            assert!(status.success(), "mail-stack push-on");
            format!(
                "\n[web]\nlisten = \"127.0.0.1:{}\"\nnew_mail_hook_secret = \"{}\"\n",
                stack.env["PUSH_PORT"], stack.env["HOOK_SECRET"]
            )
        }
    };
    let config = load(&config_text(dir.path(), &donations, &web));
    let token = CancellationToken::new();
    let serve = tokio::spawn(supplyline::daemon::serve(config, token.clone()));
    tokio::time::sleep(Duration::from_millis(500)).await; // connected and idling
    let store = Store::open(&format!(
        "sqlite://{}",
        dir.path().join("db.sqlite").display()
    ))
    .await
    .unwrap();
    let mut times = Vec::new();
    let mut ours = Vec::new();
    for _ in 0..samples {
        let donor = unique_address("donor");
        let raw = donation(&donor, &donations, 600);
        let mut watch = login(&donor, Security::Plain).await;
        send_raw(&donor, &[&donations], &raw).await;
        let accepted = Instant::now();
        loop {
            let status = watch.status("INBOX", "(MESSAGES)").await.unwrap();
            if status.exists > 0 {
                break;
            }
            assert!(
                accepted.elapsed() < Duration::from_secs(30),
                "no acknowledgement"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        times.push(accepted.elapsed());
        // Our own part: from the message stored in our database to the
        // acknowledgement in the donor's mailbox.
        let stored_at = store.list_messages(None, 1).await.unwrap()[0].received_at;
        ours.push(Duration::from_millis(
            (supplyline::store::now_ms() - stored_at).max(0) as u64,
        ));
        let _ = watch.logout().await;
    }
    token.cancel();
    serve.await.unwrap().unwrap();
    times.sort();
    ours.sort();
    println!(
        "[{wake:?}] ack latency, our part (stored -> ack in donor's mailbox): p50 {:?}  p90 {:?}",
        percentile(&ours, 0.5),
        percentile(&ours, 0.9)
    );
    println!(
        "[{wake:?}] ack latency over {samples} donations (SMTP 250 -> ack in donor's mailbox): p50 {:?}  p90 {:?}  max {:?}",
        percentile(&times, 0.5),
        percentile(&times, 0.9),
        times.last().unwrap()
    );
}

/// Fills a mailbox with `n` messages of about 4 KiB through one session.
async fn fill(user: &str, n: usize, body_len: usize) -> u64 {
    let mut session = login(user, Security::Plain).await;
    let mut bytes = 0;
    for _ in 0..n {
        let raw = donation(&unique_address("donor"), user, body_len);
        bytes += raw.len() as u64;
        session.append("INBOX", None, None, &raw).await.unwrap();
    }
    let _ = session.logout().await;
    bytes
}

/// The baseline: download every message with bare `UID FETCH` in batches of 250.
async fn bare_download(user: &str) -> (usize, Duration) {
    let started = Instant::now();
    let mut session = login(user, Security::Plain).await;
    session.select("INBOX").await.unwrap();
    let uids: Vec<u32> = {
        let list: Vec<_> = session
            .uid_fetch("1:*", "(UID)")
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        list.iter().filter_map(|f| f.uid).collect()
    };
    let mut count = 0;
    for chunk in uids.chunks(250) {
        let got: Vec<_> = session
            .uid_fetch(uid_set(chunk), "(UID BODY.PEEK[])")
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        count += got.iter().filter(|f| f.body().is_some()).count();
    }
    let _ = session.logout().await;
    (count, started.elapsed())
}

/// The database a backlog run stores into.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Db {
    Sqlite,
    /// A fresh database on the throw-away PostgreSQL of this process.
    Postgres,
}

/// How long each part of a backlog drain took.
struct Drain {
    fetched: Duration,
    processed: Duration,
    sent: Duration,
}

impl Drain {
    fn total(&self) -> Duration {
        self.fetched + self.processed + self.sent
    }
}

async fn backlog(n: usize, db: Db) -> Drain {
    let dir = tempfile::tempdir().unwrap();
    let url = match db {
        Db::Sqlite => format!("sqlite://{}", dir.path().join("db.sqlite").display()),
        Db::Postgres => common::fresh_database("backlog").await,
    };
    let donations = unique_address("donations");
    let filled = Instant::now();
    let bytes = fill(&donations, n, 4096).await;
    println!(
        "backlog: appended {n} messages ({:.1} MiB) in {:?}",
        bytes as f64 / 1048576.0,
        filled.elapsed()
    );

    let (count, bare) = bare_download(&donations).await;
    assert_eq!(count, n);
    let outbox = dir.path().join("outbox");
    let extra = format!("\n[outbox]\nwrite_to_dir = \"{}\"\n", outbox.display());
    let mut config = load(&config_text_on(&url, &donations, &extra));
    let store = Store::open(&config.database.url).await.unwrap();
    let fetcher = Fetcher::new(
        store.clone(),
        config.imap.take().unwrap(),
        Arc::new(Notify::new()),
    )
    .unwrap();
    let started = Instant::now();
    let mut session = fetcher.connect().await.unwrap();
    let report = fetcher.fetch_new(&mut session).await.unwrap();
    let fetched = started.elapsed();
    assert_eq!(report.stored, n);
    let stages = Stages::build(&config, store.clone()).await.unwrap();
    // serve's search indexer beside processing (PostgreSQL; it computes
    // the search vectors after each batch's commit).
    let indexing = CancellationToken::new();
    let indexer = tokio::spawn(index_beside(store.clone(), indexing.clone()));
    let processing = Instant::now();
    let processed = stages.process_all().await.unwrap().len();
    let processed_in = processing.elapsed();
    let sending = Instant::now();
    let written = stages.send_all().await.unwrap().len();
    let sent_in = sending.elapsed();
    indexing.cancel();
    let mut indexed = indexer.await.unwrap();
    let catching_up = Instant::now();
    indexed += store.index_all_pending().await.unwrap();
    if db == Db::Postgres {
        println!(
            "backlog of {n} on {db:?}: {indexed} search vectors computed beside processing; \
             the index caught up {:?} after the last acknowledgement was written",
            catching_up.elapsed()
        );
    }
    let mib = bytes as f64 / 1048576.0;
    println!(
        "backlog of {n} on {db:?}: bare UID FETCH {bare:?} ({:.1} MiB/s); supplyline fetch+store {fetched:?} ({:.1} MiB/s, {:.0}% of bare)",
        mib / bare.as_secs_f64(),
        mib / fetched.as_secs_f64(),
        100.0 * bare.as_secs_f64() / fetched.as_secs_f64()
    );
    println!(
        "backlog of {n} on {db:?}: processed {processed} in {processed_in:?} ({:.0}/s); {written} acknowledgements rendered and written in {sent_in:?}; drained in {:?}",
        processed as f64 / processed_in.as_secs_f64(),
        fetched + processed_in + sent_in
    );
    store.close().await;
    Drain {
        fetched,
        processed: processed_in,
        sent: sent_in,
    }
}

/// What `serve`'s search indexer does (PostgreSQL): index what processing
/// wrote, looking again every 50 ms when nothing waits, until `stop`.
async fn index_beside(store: Store, stop: CancellationToken) -> u64 {
    let mut indexed = 0;
    while !stop.is_cancelled() {
        match store.index_pending().await.unwrap() {
            0 => tokio::time::sleep(Duration::from_millis(50)).await,
            n => indexed += n,
        }
    }
    indexed
}

/// Peak RSS of `supplyline serve` draining messages with 20 MiB attachments.
async fn rss(n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let donations = unique_address("donations");
    let mut session = login(&donations, Security::Plain).await;
    let attachment = {
        let mut s = String::new();
        let line =
            "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3\r\n";
        while s.len() < 20 << 20 {
            s.push_str(line);
        }
        s
    };
    for i in 0..n {
        let raw = format!(
            "From: Donor <big{i}@example.test>\r\nTo: {donations}\r\nSubject: Inventory\r\nMessage-ID: <big{i}.{:x}@example.test>\r\n\
             MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
             We have 500 N95 masks, photos attached.\r\n--b\r\nContent-Type: image/jpeg; name=\"photo.jpg\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{attachment}--b--\r\n",
            rand::random::<u64>()
        );
        session
            .append("INBOX", None, None, raw.as_bytes())
            .await
            .unwrap();
    }
    let _ = session.logout().await;
    let outbox = dir.path().join("outbox");
    let extra = format!("\n[outbox]\nwrite_to_dir = \"{}\"\n", outbox.display());
    let config_path = dir.path().join("supplyline.toml");
    std::fs::write(&config_path, config_text(dir.path(), &donations, &extra)).unwrap();
    let exe = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/supplyline");
    let exe = if exe.exists() {
        exe
    } else {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/debug/supplyline")
    };
    let mut child = std::process::Command::new(&exe)
        .args(["--config", config_path.to_str().unwrap(), "serve"])
        .env("RUST_LOG", "warn")
        .envs(std::env::vars().filter(|(k, _)| k.starts_with("MALLOC_")))
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut peaks = std::collections::BTreeMap::<String, u64>::new();
    loop {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{}/status", child.id())) {
            for l in status.lines() {
                let mut parts = l.split_whitespace();
                if let (Some(k), Some(v)) = (parts.next(), parts.next()) {
                    if k.starts_with("Rss") {
                        let v: u64 = v.parse().unwrap_or(0);
                        let e = peaks.entry(k.to_string()).or_default();
                        *e = (*e).max(v);
                    }
                }
            }
        }
        let written = std::fs::read_dir(&outbox).map(|d| d.count()).unwrap_or(0);
        if written >= n {
            eprintln!("rss peaks sampled: {peaks:?}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "big messages not drained"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .unwrap_or("VmHWM: ?")
        .to_string();
    child.kill().unwrap();
    child.wait().unwrap();
    println!(
        "rss: {n} messages with 20 MiB attachments drained in {:?} by {}; peak {hwm}",
        started.elapsed(),
        exe.display()
    );
}
