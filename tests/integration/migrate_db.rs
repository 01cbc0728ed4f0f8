//! `supplyline migrate-db` (#13): a SQLite installation with offers, a
//! merge, a decline (outbox) and their history copied into PostgreSQL,
//! where the desk's commands show the same and `serve` keeps going; a copy
//! killed mid-way and run again; and the refusals (a `serve` holding the
//! source, a target with other data). Always on a real PostgreSQL (started
//! by tests/common), whatever `TEST_DATABASE` says: the source is SQLite.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use sqlx::Connection;
use supplyline::store::Store;

use crate::app::{cli, db_number, donation, unique_id, App};
use crate::common::{append, fresh_database, stack_shared, unique_address};

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn migrate(config: &Path, from: &str, to: &str, extra: &[&str]) -> Output {
    let mut args = vec!["migrate-db", "--from", from, "--to", to];
    args.extend_from_slice(extra);
    cli(config, &args)
}

/// `config` with its database.url replaced by `url`.
fn point_at(config: &Path, url: &str) {
    let text = std::fs::read_to_string(config).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("url = "))
        .expect("a database url")
        .to_string();
    let text = text.replacen(&line, &format!("url = \"{url}\""), 1);
    std::fs::write(config, text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_db_copies_a_sqlite_installation_that_serve_then_runs_on() {
    let _up = stack_shared().await;
    let mut app = App::prepare("").await;
    let config = app.config_path();
    let sqlite = format!("sqlite://{}", app.path("source.db").display());
    point_at(&config, &sqlite);

    // Old mail: five donations and a request, imported and processed.
    let eml = app.path("old");
    std::fs::create_dir(&eml).unwrap();
    for i in 1..=6 {
        let body = match i {
            6 => "We need 40 N95 masks for our clinic, can you help?".to_string(),
            _ => format!(
                "We can donate {} N95 masks and {i} boxes of gloves.",
                10 * i
            ),
        };
        let from = format!("donor{i}@old.example");
        let raw = donation(&from, &app.donations, &format!("old-{i}"), &body);
        std::fs::write(eml.join(format!("{i}.eml")), raw).unwrap();
    }
    let out = cli(&config, &["import", eml.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    // A merge into a later offer (a column pointing at its own table) and
    // a decline with its email queued.
    let out = cli(
        &config,
        &["offers", "merge", "SL-000001", "--into", "SL-000004"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = cli(
        &config,
        &[
            "offers",
            "decline",
            "SL-000002",
            "--reason",
            "No storage left",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let list_before = cli(&config, &["offers", "list"]);
    assert!(list_before.status.success(), "{}", text(&list_before));
    let offers = app_offer_ids(&sqlite).await;
    assert!(offers.len() >= 5, "{offers:?}");
    let mut shown_before = Vec::new();
    for id in &offers {
        shown_before.push(cli(&config, &["offers", "show", &id.to_string()]).stdout);
    }

    let pg = fresh_database("migrate").await;
    let out = migrate(&config, &sqlite, &pg, &[]);
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    for table in [
        "messages",
        "offers",
        "offer_items",
        "outbox",
        "audit_events",
        "offer_search",
    ] {
        let line = report
            .lines()
            .find(|l| l.split_whitespace().next() == Some(table))
            .unwrap_or_else(|| panic!("no count of {table}:\n{report}"));
        let n: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(n.len(), 3, "{line}");
        assert_eq!(n[1], n[2], "{line}");
        assert_ne!(n[1], "0", "{table} has rows: {line}");
    }
    assert!(
        report.contains("sha256 of messages raw (6 rows)") && report.contains(": same"),
        "{report}"
    );
    assert!(!report.contains("DIFFERS"), "{report}");

    // The desk's commands on PostgreSQL show what they showed on SQLite:
    // the same offers, items, priorities, history and replies.
    point_at(&config, &pg);
    let list_after = cli(&config, &["offers", "list"]);
    assert!(list_after.status.success(), "{}", text(&list_after));
    assert_eq!(
        String::from_utf8_lossy(&list_after.stdout),
        String::from_utf8_lossy(&list_before.stdout)
    );
    for (id, before) in offers.iter().zip(&shown_before) {
        let after = cli(&config, &["offers", "show", &id.to_string()]).stdout;
        assert_eq!(
            String::from_utf8_lossy(&after),
            String::from_utf8_lossy(before),
            "offer {id}"
        );
    }
    // The search index came along (with the messages' text).
    let found = db_number(
        &pg,
        "SELECT COUNT(*) FROM offer_search WHERE tsv @@ to_tsquery('simple', 'donate')",
    )
    .await
    .unwrap();
    assert!(found >= 4, "{found} offers found by their text");

    // A second run finds nothing to copy and verifies again.
    let out = migrate(&config, &sqlite, &pg, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("(0 this run)"), "{}", text(&out));

    // serve on PostgreSQL: a new donation becomes an offer after the old ones.
    app.db_url = pg.clone();
    app.store = Store::open(&pg).await.unwrap();
    app.restart().await;
    let raw = donation(
        &unique_address("donor"),
        &app.donations,
        &unique_id(),
        "We can donate 12 face shields.",
    );
    append(&app.donations, "INBOX", &raw).await;
    app.wait_processed(7).await;
    let newest = app.store.list_offers(None, 1).await.unwrap();
    let max_old = *offers.iter().max().unwrap();
    assert!(
        newest[0].id > max_old,
        "the new offer {} comes after {max_old}",
        newest[0].id
    );
    app.stop().await;
}

/// Offer ids of the SQLite database at `url`.
async fn app_offer_ids(url: &str) -> Vec<i64> {
    let mut db = sqlx::SqliteConnection::connect(url).await.unwrap();
    let ids = sqlx::query_scalar("SELECT id FROM offers ORDER BY id")
        .fetch_all(&mut db)
        .await
        .unwrap();
    db.close().await.unwrap();
    ids
}

/// A SQLite database of `n` stored messages (and an audit row each).
async fn big_source(dir: &Path, n: usize) -> String {
    let url = format!("sqlite://{}", dir.join("big.db").display());
    Store::open(&url).await.unwrap().close().await;
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let mut tx = db.begin().await.unwrap();
    for i in 1..=n as i64 {
        let raw = format!(
            "Message-ID: <big-{i}@x>\r\nSubject: {i}\r\n\r\n{}\r\n",
            "masks ".repeat(200 + (i % 50) as usize)
        );
        sqlx::query(
            "INSERT INTO messages (dedup_key, message_id, content_hash, mailbox, size, raw, received_at)
             VALUES ($1, $2, $3, 'INBOX', $4, $5, $6)",
        )
        .bind(format!("big-{i}"))
        .bind(format!("<big-{i}@x>"))
        .bind(format!("hash-{i}"))
        .bind(raw.len() as i64)
        .bind(raw.as_bytes())
        .bind(1_700_000_000_000 + i)
        .execute(&mut *tx)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO audit_events (at, actor, message_id, action) VALUES ($1, 'test', $2, 'stored')",
        )
        .bind(1_700_000_000_000 + i)
        .bind(i)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    db.close().await.unwrap();
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_db_killed_mid_way_continues_and_copies_nothing_twice() {
    const MESSAGES: usize = 6000;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("none.toml");
    let sqlite = big_source(dir.path(), MESSAGES).await;
    let pg = fresh_database("migrate_kill").await;
    let copied = async || {
        db_number(
            &pg,
            "SELECT copied FROM migrate_db_progress WHERE table_name = 'messages'",
        )
        .await
        .unwrap_or(0)
    };

    let log = std::fs::File::create(dir.path().join("first.log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_supplyline"))
        .arg("--config")
        .arg(&config)
        .args([
            "migrate-db",
            "--from",
            &sqlite,
            "--to",
            &pg,
            "--batch",
            "50",
        ])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut progressed = false;
    for _ in 0..1200 {
        if copied().await > 0 {
            progressed = true;
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "migrate-db ended before copying messages: {}",
            std::fs::read_to_string(dir.path().join("first.log")).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(progressed, "no messages copied in 30 s");
    child.kill().unwrap();
    child.wait().unwrap();
    let first = copied().await as usize;
    assert!(
        first > 0 && first < MESSAGES,
        "killed mid-way: {first} of {MESSAGES} messages copied"
    );
    let in_target = db_number(&pg, "SELECT COUNT(*) FROM messages")
        .await
        .unwrap();
    assert_eq!(
        in_target as usize, first,
        "the progress is what the target holds"
    );

    let out = migrate(&config, &sqlite, &pg, &[]);
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    assert!(report.contains("continuing the copy"), "{report}");
    assert!(!report.contains("DIFFERS"), "{report}");
    for (sql, n) in [
        ("SELECT COUNT(*) FROM messages", MESSAGES),
        ("SELECT COUNT(DISTINCT dedup_key) FROM messages", MESSAGES),
        ("SELECT COUNT(*) FROM audit_events", MESSAGES),
        ("SELECT MAX(id) FROM messages", MESSAGES),
    ] {
        assert_eq!(db_number(&pg, sql).await.unwrap() as usize, n, "{sql}");
    }
    assert!(
        report.contains(&format!("sha256 of messages raw ({MESSAGES} rows)")),
        "{report}"
    );
    // The identity sequence is past the copied ids.
    let target = Store::open(&pg).await.unwrap();
    let new = target
        .store_local("INBOX", b"Message-ID: <after@x>\r\n\r\nnew\r\n")
        .await
        .unwrap();
    let new_id = db_number(&pg, "SELECT MAX(id) FROM messages")
        .await
        .unwrap();
    assert_eq!(new_id as usize, MESSAGES + 1, "{new:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_db_refuses_a_source_in_use_and_a_target_with_other_data() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("none.toml");
    let sqlite = big_source(dir.path(), 3).await;

    // A serve elsewhere holds the source, its lease running.
    let mut db = sqlx::SqliteConnection::connect(&sqlite).await.unwrap();
    let until = chrono::Utc::now().timestamp_millis() + 60_000;
    sqlx::query(
        "INSERT INTO instances (role, run_id, host, pid, started_at, expires_at)
         VALUES ('serve', 'r1', 'elsewhere.example', 4242, 0, $1)",
    )
    .bind(until)
    .execute(&mut db)
    .await
    .unwrap();
    let pg = fresh_database("migrate_refuse").await;
    let out = migrate(&config, &sqlite, &pg, &[]);
    assert!(!out.status.success());
    let said = text(&out);
    assert!(
        said.contains("in use") && said.contains("pid 4242 on elsewhere.example"),
        "{said}"
    );
    sqlx::query("DELETE FROM instances")
        .execute(&mut db)
        .await
        .unwrap();
    db.close().await.unwrap();

    // A target that already has an installation's data.
    let other = Store::open(&pg).await.unwrap();
    other
        .store_local("INBOX", b"Message-ID: <other@x>\r\n\r\nmine\r\n")
        .await
        .unwrap();
    other.close().await;
    let out = migrate(&config, &sqlite, &pg, &[]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("already holds data (table messages)"),
        "{}",
        text(&out)
    );
    assert_eq!(
        db_number(&pg, "SELECT COUNT(*) FROM messages")
            .await
            .unwrap(),
        1
    );

    // A copy of another source is not continued from this one.
    let copy = fresh_database("migrate_refuse").await;
    let out = migrate(&config, &sqlite, &copy, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let second = tempfile::tempdir().unwrap();
    let other_source = big_source(second.path(), 2).await;
    let out = migrate(&config, &other_source, &copy, &[]);
    assert!(!out.status.success());
    assert!(text(&out).contains("is a copy of"), "{}", text(&out));
}
