//! Hostile and broken input through the whole process stage: every message
//! is stored whole and ends processed or failed with a reason; nothing
//! panics, nothing is lost, memory and time stay bounded.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use supplyline::config::Config;
use supplyline::daemon::{open_store, Stages};
use supplyline::process::ProcessOutcome;
use supplyline::store::{message_identity, StoreOutcome};

/// Stages over a fresh database (SQLite, or PostgreSQL with
/// `TEST_DATABASE=postgres`), replies written to a folder.
async fn stages(dir: &Path) -> Stages {
    let mut config = Config::default();
    config.database.url = crate::app::test_database_url(dir).await;
    config.outbox.write_to_dir = Some(dir.join("outbox"));
    let store = open_store(&config).await.unwrap();
    Stages::build(&config, store).await.unwrap()
}

/// Stores and processes each message; returns the outcomes.
async fn run_all(messages: &[Vec<u8>]) -> (Vec<ProcessOutcome>, Stages, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let stages = stages(dir.path()).await;
    for raw in messages {
        stages.store.store_local("test", raw).await.unwrap();
    }
    let outcomes = stages.process_all().await.unwrap();
    (outcomes, stages, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mime_corpus_message_is_kept_and_processed_or_failed_with_a_reason() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mime/messages");
    let mut files: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() > 50,
        "the corpus is there: {} files",
        files.len()
    );
    let raws: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    let mut keys: Vec<String> = raws.iter().map(|r| message_identity(r).1).collect();
    keys.sort();
    keys.dedup();

    let (outcomes, stages, _dir) = run_all(&raws).await;
    let stored = stages.store.list_messages(None, 10_000).await.unwrap();
    assert_eq!(
        stored.len(),
        keys.len(),
        "one row per distinct message, none lost"
    );
    assert_eq!(outcomes.len(), stored.len(), "every message was processed");
    for m in &stored {
        match m.state.as_str() {
            "processed" => {}
            "failed" => assert!(
                m.error.as_deref().is_some_and(|e| !e.is_empty()),
                "message {} failed without a reason",
                m.id
            ),
            other => panic!("message {} ended in state {other}", m.id),
        }
        let raw = stages.store.message_raw(m.id).await.unwrap();
        assert!(raws.contains(&raw), "message {} is kept whole", m.id);
    }
    let failed = stored.iter().filter(|m| m.state == "failed").count();
    println!(
        "{} messages: {} processed, {failed} failed with a reason",
        stored.len(),
        stored.len() - failed
    );
}

fn headers(subject: &str, content_type: &str) -> String {
    format!(
        "From: Tester <tester@example.org>\r\nTo: donations@example.org\r\nSubject: {subject}\r\n\
         Message-ID: <{:016x}@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: {content_type}\r\n\r\n",
        rand::random::<u64>()
    )
}

fn deep_nesting(levels: usize) -> Vec<u8> {
    let mut out = headers("deep", "multipart/mixed; boundary=\"b0\"");
    for i in 1..levels {
        out.push_str(&format!(
            "--b{}\r\nContent-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n",
            i - 1
        ));
    }
    out.push_str(&format!(
        "--b{}\r\nContent-Type: text/plain\r\n\r\n10 N95 masks\r\n",
        levels - 1
    ));
    for i in (0..levels).rev() {
        out.push_str(&format!("--b{i}--\r\n"));
    }
    out.into_bytes()
}

fn single_line(bytes: usize) -> Vec<u8> {
    let mut out = headers("one long line", "text/plain; charset=utf-8").into_bytes();
    out.extend(std::iter::repeat_n(b'7', bytes));
    out.extend_from_slice(b"\r\n");
    out
}

/// A body of `bytes` that names items and quantities everywhere and never
/// ends a sentence: every lot, number and sentence lookup runs at once
/// (found by fuzzing: such a body once took 15 s for 380 KB, quadratic).
fn dense_items(bytes: usize) -> Vec<u8> {
    let mut out = headers("masks gloves gowns", "text/plain; charset=utf-8").into_bytes();
    let start = out.len();
    let mut i = 0;
    while out.len() - start < bytes {
        let lot = format!(
            "{} boxes of N95 masks, {} gloves and {}k gowns ",
            i,
            i * 7 + 1,
            i % 90 + 1
        );
        out.extend_from_slice(lot.as_bytes());
        i += 1;
    }
    out.extend_from_slice(b"\r\n");
    out
}

fn invalid_charsets() -> Vec<u8> {
    let mut out = headers(
        "=?x-no-such-charset?B?//79?= bad",
        "text/plain; charset=\"x-no-such-charset\"",
    )
    .into_bytes();
    out.extend_from_slice(b"We have \xff\xfe\x80 200 gowns \xc3\x28 and \xe2\x82 masks\r\n");
    out
}

/// An XLSX whose one sheet inflates to `inflated` bytes of zeros.
fn xlsx_bomb(inflated: usize) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("xl/worksheets/sheet1.xml", opts).unwrap();
        let chunk = vec![b'0'; 1 << 20];
        for _ in 0..inflated / chunk.len() {
            zip.write_all(&chunk).unwrap();
        }
        zip.finish().unwrap();
    }
    let b64 = base64_lines(&buf.into_inner());
    let mut out = headers("inventory", "multipart/mixed; boundary=\"x\"");
    out.push_str("--x\r\nContent-Type: text/plain\r\n\r\nSee the attached inventory.\r\n");
    out.push_str("--x\r\nContent-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet; name=\"bomb.xlsx\"\r\n");
    out.push_str("Content-Disposition: attachment; filename=\"bomb.xlsx\"\r\nContent-Transfer-Encoding: base64\r\n\r\n");
    out.push_str(&b64);
    out.push_str("--x--\r\n");
    out.into_bytes()
}

fn base64_lines(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for (i, chunk) in data.chunks(3).enumerate() {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for j in 0..4 {
            if j <= chunk.len() {
                out.push(T[(n >> (18 - 6 * j) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
        if i % 19 == 18 {
            out.push_str("\r\n");
        }
    }
    out.push_str("\r\n");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_have_clear_outcomes_and_bounded_cost() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("deep MIME nesting", deep_nesting(2_000)),
        ("a 10 MB single-line body", single_line(10 << 20)),
        ("a 500 KB body dense with items", dense_items(500 << 10)),
        ("invalid charsets", invalid_charsets()),
        ("an XLSX bomb", xlsx_bomb(128 << 20)),
    ];
    for (name, raw) in cases {
        let started = Instant::now();
        let (outcomes, stages, _dir) = run_all(std::slice::from_ref(&raw)).await;
        let took = started.elapsed();
        assert_eq!(outcomes.len(), 1, "{name}: processed once");
        let stored = stages.store.list_messages(None, 10).await.unwrap();
        assert_eq!(stored.len(), 1, "{name}: stored");
        assert!(
            stored[0].state == "processed"
                || (stored[0].state == "failed" && stored[0].error.is_some()),
            "{name}: {:?}",
            stored[0]
        );
        assert_eq!(
            stages.store.message_raw(stored[0].id).await.unwrap(),
            raw,
            "{name}: kept whole"
        );
        // A generous bound that only a runaway (unbounded inflation, quadratic scan) breaks.
        assert!(took < Duration::from_secs(30), "{name}: took {took:?}");
        println!("{name}: {} in {took:?}", stored[0].state);
    }
}

#[tokio::test]
async fn storing_the_same_message_twice_is_one_row() {
    let dir = tempfile::tempdir().unwrap();
    let stages = stages(dir.path()).await;
    let raw = single_line(100);
    let first = stages.store.store_local("t", &raw).await.unwrap();
    assert!(matches!(first, StoreOutcome::Stored(_)));
    assert_eq!(
        stages.store.store_local("t", &raw).await.unwrap(),
        StoreOutcome::Duplicate
    );
}
