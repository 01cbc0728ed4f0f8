//! A safe first start (#12): mail already in the mailbox when supplyline
//! first reads it is stored and queued, never acknowledged; mail arriving
//! from then on is acknowledged once. `check-config` says in one line what
//! the first start will do.

use std::time::Duration;

use supplyline::state::ReplyState;

use crate::app::{donation, eventually, unique_id, App};
use crate::common::imap::{login, Security};
use crate::common::{append, fetch_all, stack_shared, unique_address};

/// Appends each of `raws` to INBOX of `user` in one session, with `flags`
/// (like `(\Seen)`) and INTERNALDATE `date` (a quoted IMAP date-time) when given.
async fn append_each(user: &str, raws: &[Vec<u8>], flags: Option<&str>, date: Option<&str>) {
    let mut session = login(user, Security::Plain).await;
    for raw in raws {
        tokio::time::timeout(
            Duration::from_secs(20),
            session.append("INBOX", flags, date, raw),
        )
        .await
        .expect("APPEND in time")
        .expect("APPEND");
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), session.logout()).await;
}

/// The app's config without the tests' `acknowledge_since`, plus `imap_keys`.
fn set_acknowledge_since(app: &App, value: Option<&str>) {
    let text = std::fs::read_to_string(app.config_path()).unwrap();
    let line = "acknowledge_since = \"2000-01-01T00:00:00Z\"";
    assert!(text.contains(line), "the test config sets it");
    let new = value
        .map(|v| format!("acknowledge_since = \"{v}\""))
        .unwrap_or_default();
    std::fs::write(app.config_path(), text.replace(line, &new)).unwrap();
}

fn check_config(app: &App) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_supplyline"))
        .arg("--config")
        .arg(app.config_path())
        .arg("check-config")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// Donations from new donors, one each.
fn donations(app: &App, n: usize) -> (Vec<String>, Vec<Vec<u8>>) {
    let donors: Vec<String> = (0..n).map(|_| unique_address("donor")).collect();
    let raws = donors
        .iter()
        .map(|d| {
            donation(
                d,
                &app.donations,
                &unique_id(),
                "We can donate 40 boxes of gloves.",
            )
        })
        .collect();
    (donors, raws)
}

async fn sent_replies(app: &App, n: i64) -> bool {
    app.store.reply_counts().await.unwrap() == vec![(ReplyState::Sent, n)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_already_in_the_mailbox_is_queued_unanswered_and_new_mail_is_acknowledged_once() {
    const OLD: usize = 200;
    const NEW: usize = 20;
    let _up = stack_shared().await;
    let mut app = App::prepare("").await;
    set_acknowledge_since(&app, None);
    let (old_donors, old) = donations(&app, OLD);
    append_each(&app.donations, &old[..OLD / 2], None, None).await;
    append_each(&app.donations, &old[OLD / 2..], Some("(\\Seen)"), None).await;
    let said = check_config(&app);
    assert!(
        said.contains(
            "200 messages already in INBOX will be stored and queued without acknowledgement"
        ),
        "{said}"
    );

    app.restart().await;
    eventually(
        Duration::from_secs(30),
        "the first read recorded",
        || async { app.store.first_read("INBOX").await.unwrap().is_some() },
    )
    .await;
    // New mail from the moment of the first read, while its first pass runs.
    let (new_donors, new) = donations(&app, NEW);
    for raw in &new {
        append(&app.donations, "INBOX", raw).await;
    }
    app.wait_processed(OLD + NEW).await;
    eventually(
        Duration::from_secs(60),
        "the new donors' replies sent",
        || sent_replies(&app, NEW as i64),
    )
    .await;
    app.stop().await;

    assert_eq!(
        app.store.list_offers(None, 1000).await.unwrap().len(),
        OLD + NEW,
        "every message is in the queue"
    );
    for donor in &new_donors {
        assert_eq!(
            fetch_all(donor, "INBOX").await.len(),
            1,
            "{donor} answered once"
        );
    }
    for donor in &old_donors {
        assert!(
            app.replies_to(donor).await.is_empty(),
            "{donor} got no reply"
        );
        assert!(
            fetch_all(donor, "INBOX").await.is_empty(),
            "{donor}'s mailbox"
        );
    }
    let first = app.store.first_read("INBOX").await.unwrap().unwrap();
    assert_eq!(first.existing, OLD as i64);
    let said = check_config(&app);
    assert!(said.contains("INBOX was first read at"), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_acknowledge_since_older_mail_and_mail_handled_by_hand_are_not_answered() {
    let _up = stack_shared().await;
    let mut app = App::prepare("").await;
    let since = chrono::Utc::now() - chrono::Duration::hours(1);
    let since = since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    set_acknowledge_since(&app, Some(&since));
    let (_, before) = donations(&app, 5);
    append_each(
        &app.donations,
        &before,
        None,
        Some("\"01-Jan-2020 10:00:00 +0000\""),
    )
    .await;
    let (answered_donors, answered) = donations(&app, 3);
    for (raw, flags) in answered
        .iter()
        .zip(["(\\Answered)", "(\\Seen)", "(\\Answered \\Seen)"])
    {
        append_each(&app.donations, std::slice::from_ref(raw), Some(flags), None).await;
    }
    let (new_donors, new) = donations(&app, 3);
    append_each(&app.donations, &new, None, None).await;
    let said = check_config(&app);
    assert!(
        said.contains(&format!(
            "8 messages in INBOX (received before {since}, or already answered or seen) will be stored"
        )),
        "{said}"
    );

    app.restart().await;
    app.wait_processed(11).await;
    eventually(Duration::from_secs(60), "three replies sent", || {
        sent_replies(&app, 3)
    })
    .await;
    app.stop().await;
    assert_eq!(app.store.list_offers(None, 100).await.unwrap().len(), 11);
    for donor in &new_donors {
        assert_eq!(app.replies_to(donor).await.len(), 1, "{donor}");
    }
    for donor in &answered_donors {
        assert!(
            app.replies_to(donor).await.is_empty(),
            "{donor} was answered by hand"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mailbox_read_by_an_earlier_version_keeps_acknowledging_mail_that_arrived_since() {
    use sqlx::Connection;
    let _up = stack_shared().await;
    let mut app = App::prepare("").await;
    set_acknowledge_since(&app, None);
    app.restart().await;
    eventually(
        Duration::from_secs(30),
        "the first read recorded",
        || async { app.store.first_read("INBOX").await.unwrap().is_some() },
    )
    .await;
    let (_, first) = donations(&app, 2);
    append_each(&app.donations, &first, None, None).await;
    eventually(Duration::from_secs(60), "two replies sent", || {
        sent_replies(&app, 2)
    })
    .await;
    app.stop().await;
    // A database as an earlier version left it: a cursor, no first read.
    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(&app.db_url).await.unwrap();
    sqlx::query("DELETE FROM mailbox_first_reads")
        .execute(&mut db)
        .await
        .unwrap();
    db.close().await.unwrap();
    // Mail that arrives while it is being upgraded is new mail all the same.
    let (donors, later) = donations(&app, 3);
    append_each(&app.donations, &later, None, None).await;
    assert!(check_config(&app).contains("INBOX was read before"));
    app.restart().await;
    app.wait_processed(5).await;
    eventually(Duration::from_secs(60), "five replies sent", || {
        sent_replies(&app, 5)
    })
    .await;
    app.stop().await;
    for donor in &donors {
        assert_eq!(app.replies_to(donor).await.len(), 1, "{donor}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_start_says_in_one_line_what_it_will_do() {
    let _up = stack_shared().await;
    let app = App::prepare("").await;
    set_acknowledge_since(&app, None);
    let (_, old) = donations(&app, 3);
    append_each(&app.donations, &old, None, None).await;
    let log = app.path("serve.log");
    let mut child = app.spawn_process(&log);
    let line =
        "first read: 3 messages already in INBOX will be stored and queued without acknowledgement";
    eventually(
        Duration::from_secs(30),
        "the first start's line",
        || async {
            std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains(line)
        },
    )
    .await;
    app.wait_processed(3).await;
    assert!(crate::app::terminate(&mut child).success());
    assert_eq!(app.store.reply_counts().await.unwrap(), vec![]);
}
