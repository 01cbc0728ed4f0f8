//! Faults: the process killed at random moments, servers going away, the
//! IMAP connection cut in the middle of a message, the mailbox recreated.
//! Afterwards every message is stored once and every donor answered once.

use std::time::Duration;

use rand::{Rng, SeedableRng};

use supplyline::state::ReplyState;

use crate::app::{donation, eventually, terminate, unique_id, App};
use crate::common::imap::{login, Security};
use crate::common::{
    append, create_mailbox, dovecot_restart, fetch_all, mail_stack, stack_exclusive, stack_shared,
    unique_address, CutProxy,
};

async fn all_sent(app: &App, n: i64) -> bool {
    let replies = app.store.reply_counts().await.unwrap();
    replies == vec![(ReplyState::Sent, n)]
}

fn kill(child: &mut std::process::Child) {
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_loses_nothing_and_answers_everyone_once() {
    const MESSAGES: usize = 300;
    const KILLS: usize = 20;
    let _up = stack_shared().await;
    let app = App::prepare("").await;
    let seed: u64 = rand::random();
    println!("seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let donors: Vec<String> = (0..MESSAGES).map(|_| unique_address("donor")).collect();
    let log = app.path("serve.log");

    // Mail keeps arriving while serve is killed and restarted.
    let feeder = {
        let donors = donors.clone();
        let to = app.donations.clone();
        tokio::spawn(async move {
            for (i, donor) in donors.iter().enumerate() {
                let body = format!("We can donate {} N95 masks.", 100 + i);
                append(&to, "INBOX", &donation(donor, &to, &unique_id(), &body)).await;
            }
        })
    };
    for _ in 0..KILLS {
        let mut child = app.spawn_process(&log);
        tokio::time::sleep(Duration::from_millis(rng.gen_range(150..700))).await;
        kill(&mut child);
    }
    feeder.await.unwrap();

    let mut child = app.spawn_process(&log);
    eventually(Duration::from_secs(120), "every reply sent", || {
        all_sent(&app, MESSAGES as i64)
    })
    .await;
    assert!(
        terminate(&mut child).success(),
        "serve exits cleanly on SIGTERM"
    );

    assert_eq!(
        app.store.list_messages(None, 1000).await.unwrap().len(),
        MESSAGES,
        "each message stored once"
    );
    assert_eq!(
        app.store.list_offers(None, 1000).await.unwrap().len(),
        MESSAGES
    );
    let mut duplicates = 0;
    for donor in &donors {
        let acks = fetch_all(donor, "INBOX").await.len();
        assert!(acks >= 1, "{donor} was never answered");
        duplicates += acks - 1;
    }
    println!("{KILLS} kills, {MESSAGES} messages: {duplicates} duplicate acknowledgement(s)");
    // A kill between the SMTP server's 250 and our commit can repeat a
    // reply; nothing else may. Each of the 4 send workers (smtp.connections)
    // has at most two such replies at any moment: the one being sent and the
    // one before it, whose commit overlaps that send.
    const WORKERS: usize = 4;
    assert!(
        duplicates <= 2 * WORKERS * KILLS,
        "{duplicates} duplicates for {KILLS} kills"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dovecot_restarted_mid_fetch_loses_nothing() {
    const MESSAGES: usize = 120;
    let _outage = stack_exclusive().await;
    let mut app = App::prepare("").await;
    let donors: Vec<String> = (0..MESSAGES).map(|_| unique_address("donor")).collect();
    for donor in &donors {
        append(
            &app.donations,
            "INBOX",
            &donation(donor, &app.donations, &unique_id(), "12 boxes of gloves."),
        )
        .await;
    }
    app.restart().await;
    eventually(
        Duration::from_secs(30),
        "the first messages stored",
        || async { !app.store.list_messages(None, 1).await.unwrap().is_empty() },
    )
    .await;
    dovecot_restart();
    eventually(Duration::from_secs(90), "every reply sent", || {
        all_sent(&app, MESSAGES as i64)
    })
    .await;
    assert_eq!(
        app.store.list_messages(None, 1000).await.unwrap().len(),
        MESSAGES
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recreated_mailbox_with_a_new_uidvalidity_is_not_processed_twice() {
    const MAILBOX: &str = "Donations";
    let _up = stack_shared().await;
    let mut app = App::prepare_in(MAILBOX, "").await;
    create_mailbox(&app.donations, MAILBOX).await;
    app.restart().await;
    let donors: Vec<String> = (0..5).map(|_| unique_address("donor")).collect();
    let raws: Vec<Vec<u8>> = donors
        .iter()
        .map(|d| donation(d, &app.donations, &unique_id(), "3 cases of face shields."))
        .collect();
    for raw in &raws {
        append(&app.donations, MAILBOX, raw).await;
    }
    eventually(Duration::from_secs(30), "five replies", || {
        all_sent(&app, 5)
    })
    .await;
    app.stop().await;

    // The same messages in a recreated mailbox: a new UIDVALIDITY, new UIDs.
    let before = uidvalidity(&app.donations, MAILBOX).await;
    let mut session = login(&app.donations, Security::Plain).await;
    session.delete(MAILBOX).await.unwrap();
    session.logout().await.unwrap();
    // Dovecot derives UIDVALIDITY from the clock: let a second pass.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    create_mailbox(&app.donations, MAILBOX).await;
    assert_ne!(before, uidvalidity(&app.donations, MAILBOX).await);
    for raw in &raws {
        append(&app.donations, MAILBOX, raw).await;
    }
    let late = unique_address("donor");
    append(
        &app.donations,
        MAILBOX,
        &donation(&late, &app.donations, &unique_id(), "40 gowns."),
    )
    .await;
    app.restart().await;
    eventually(Duration::from_secs(30), "the new donor's reply", || {
        all_sent(&app, 6)
    })
    .await;
    app.wait_processed(6).await;
    assert_eq!(app.store.list_messages(None, 100).await.unwrap().len(), 6);
    for donor in &donors {
        assert_eq!(
            fetch_all(donor, "INBOX").await.len(),
            1,
            "{donor} answered twice"
        );
    }
    app.stop().await;
}

async fn uidvalidity(user: &str, mailbox: &str) -> Option<u32> {
    let mut session = login(user, Security::Plain).await;
    let selected = session.select(mailbox).await.unwrap();
    session.logout().await.unwrap();
    selected.uid_validity
}

/// A donation with a photo of the pallet attached: about `photo_bytes` of
/// base64 lines, so the message is one long literal in a FETCH answer.
fn donation_with_photo(from: &str, to: &str, masks: usize, photo_bytes: usize) -> Vec<u8> {
    // Random base64 text is valid base64: no encoder needed.
    const BASE64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut rng = rand::thread_rng();
    let lines: Vec<String> = (0..photo_bytes / 78)
        .map(|_| {
            (0..76)
                .map(|_| BASE64[rng.gen_range(0..BASE64.len())] as char)
                .collect()
        })
        .collect();
    format!(
        "From: Test Donor <{from}>\r\nTo: {to}\r\nSubject: Donation offer\r\n\
         Date: Mon, 23 Mar 2020 09:00:00 -0700\r\nMessage-ID: <{id}@donor.example>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"pallet\"\r\n\r\n\
         --pallet\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         We can donate {masks} N95 masks. A photo of the pallet is attached.\r\n\
         --pallet\r\nContent-Type: image/jpeg; name=\"pallet.jpg\"\r\n\
         Content-Disposition: attachment; filename=\"pallet.jpg\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{photo}\r\n--pallet--\r\n",
        id = unique_id(),
        photo = lines.join("\r\n"),
    )
    .into_bytes()
}

/// A donation whose text runs to `size` bytes of delivery notes: slow to
/// read for the rules.
fn long_text_donation(from: &str, to: &str, size: usize) -> Vec<u8> {
    let mut body = String::from("We can donate 300 N95 masks.\n\nDelivery notes:\n");
    let mut line = 0;
    while body.len() < size {
        line += 1;
        body.push_str(&format!(
            "{line:05}: boxes are sealed, dry and stacked on pallets by the loading door.\n"
        ));
    }
    donation(from, to, &unique_id(), &body)
}

/// Takes a write lock on the database while the process stage is still
/// reading a long message, so that it meets the lock when it commits; on a
/// machine that read it first, releases and tries again with another.
/// Adds each long message's donor to `donors`.
async fn lock_while_a_long_message_waits(app: &App, donors: &mut Vec<String>) -> DatabaseLock {
    for _ in 0..5 {
        let donor = unique_address("donor");
        let long = long_text_donation(&donor, &app.donations, 480 * 1024);
        donors.push(donor);
        append(&app.donations, "INBOX", &long).await;
        let stored = donors.len();
        eventually(
            Duration::from_secs(30),
            "the long message stored",
            || async { stored_count(app).await >= stored },
        )
        .await;
        let lock = DatabaseLock::take(&app.db_url).await;
        if waiting_count(app).await > 0 {
            return lock;
        }
        lock.release().await;
        eventually(
            Duration::from_secs(30),
            "the long message processed",
            || async { waiting_count(app).await == 0 },
        )
        .await;
    }
    panic!("the process stage read five long messages before a lock could be taken");
}

/// Every stored message, raw, sorted: to compare with the mailbox.
async fn stored_raws(app: &App) -> Vec<Vec<u8>> {
    let mut raws = Vec::new();
    for message in app.store.list_messages(None, 10_000).await.unwrap() {
        raws.push(app.store.message_raw(message.id).await.unwrap());
    }
    raws.sort();
    raws
}

/// Asserts the store holds exactly the mailbox's messages, byte for byte.
async fn assert_store_matches_mailbox(app: &App) {
    let mut mailbox = fetch_all(&app.donations, "INBOX").await;
    mailbox.sort();
    let stored = stored_raws(app).await;
    assert_eq!(
        stored.len(),
        mailbox.len(),
        "stored messages vs messages in the mailbox"
    );
    let differing = stored.iter().zip(&mailbox).filter(|(s, m)| s != m).count();
    assert_eq!(
        differing, 0,
        "stored messages that differ from the mailbox's"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imap_connection_cut_mid_literal_reconnects_and_loses_nothing() {
    const MESSAGES: usize = 40;
    const MESSAGE_BYTES: usize = 64 * 1024;
    // Literal bytes the client has received when each of the first four
    // connections is cut: early in the first body, then deeper each time
    // (about 2.6 MB of bodies in all). The fifth connection is left alone.
    const CUT_AFTER: [u64; 4] = [30_000, 700_000, 1_500_000, 2_500_000];
    let _up = stack_shared().await;
    let proxy = CutProxy::start(mail_stack().imap_port).await;
    let mut app = App::prepare_via(proxy.port(), "").await;
    let donors: Vec<String> = (0..MESSAGES).map(|_| unique_address("donor")).collect();
    for (i, donor) in donors.iter().enumerate() {
        let raw = donation_with_photo(donor, &app.donations, 100 + i, MESSAGE_BYTES);
        append(&app.donations, "INBOX", &raw).await;
    }
    proxy.cut_next_in_literal(&CUT_AFTER);
    let started = tokio::time::Instant::now();
    app.restart().await;
    eventually(Duration::from_secs(60), "every reply sent", || {
        all_sent(&app, MESSAGES as i64)
    })
    .await;
    println!(
        "{MESSAGES} messages stored and answered after {:?}",
        started.elapsed()
    );

    let cuts = proxy.cuts();
    println!("cuts: {cuts:#?}");
    assert_eq!(cuts.len(), CUT_AFTER.len(), "every planned cut happened");
    for cut in &cuts {
        assert!(cut.inside_literal(), "cut outside a message body: {cut:?}");
    }
    assert!(
        proxy.connections() > CUT_AFTER.len(),
        "reconnected after every cut"
    );

    // A cut while idle: the next message still arrives.
    assert_eq!(proxy.cut_all(), 1, "one live IMAP session, idling");
    let late = unique_address("donor");
    let raw = donation_with_photo(&late, &app.donations, 7, MESSAGE_BYTES);
    append(&app.donations, "INBOX", &raw).await;
    eventually(Duration::from_secs(30), "the late donor's reply", || {
        all_sent(&app, MESSAGES as i64 + 1)
    })
    .await;
    app.wait_processed(MESSAGES + 1).await;

    assert_store_matches_mailbox(&app).await;
    assert_eq!(
        app.store.list_offers(None, 1000).await.unwrap().len(),
        MESSAGES + 1
    );
    for donor in donors.iter().chain([&late]) {
        assert_eq!(
            fetch_all(donor, "INBOX").await.len(),
            1,
            "{donor}'s acknowledgements"
        );
    }
    assert!(app.serving(), "serve stopped");
    app.stop().await;
}

/// A write lock on the database held by a connection of its own, as
/// another process (a backup, an operator's `sqlite3` or `psql`) would
/// hold it.
enum DatabaseLock {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl DatabaseLock {
    /// Takes the lock; readers still read. On SQLite `BEGIN EXCLUSIVE`
    /// (WAL readers pass); on PostgreSQL every table of the database locked
    /// `IN EXCLUSIVE MODE` in a transaction (plain reads pass, writes and
    /// `FOR UPDATE` claims wait, or fail once past `lock_timeout`).
    async fn take(db_url: &str) -> DatabaseLock {
        use sqlx::Connection;
        if db_url.starts_with("sqlite:") {
            let mut connection = sqlx::SqliteConnection::connect(db_url)
                .await
                .expect("a second connection to the database");
            sqlx::query("BEGIN EXCLUSIVE")
                .execute(&mut connection)
                .await
                .expect("BEGIN EXCLUSIVE");
            return DatabaseLock::Sqlite(connection);
        }
        let mut connection = sqlx::PgConnection::connect(db_url)
            .await
            .expect("a second connection to the database");
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT quote_ident(tablename)::text FROM pg_tables \
             WHERE schemaname = current_schema() ORDER BY tablename",
        )
        .fetch_all(&mut connection)
        .await
        .expect("the database's tables");
        assert!(!tables.is_empty(), "a migrated database");
        let lock = format!("LOCK TABLE {} IN EXCLUSIVE MODE", tables.join(", "));
        // The tables are locked one after another, so a transaction of
        // serve's that holds one of them and wants another can deadlock
        // with us; PostgreSQL then cancels one side. When it is ours, we
        // try again, as an operator would.
        for _ in 0..20 {
            sqlx::query("BEGIN")
                .execute(&mut connection)
                .await
                .expect("BEGIN");
            match sqlx::query(&lock).execute(&mut connection).await {
                Ok(_) => return DatabaseLock::Postgres(connection),
                Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("40P01") => {
                    sqlx::query("ROLLBACK")
                        .execute(&mut connection)
                        .await
                        .expect("ROLLBACK");
                }
                Err(e) => panic!("LOCK TABLE: {e}"),
            }
        }
        panic!("LOCK TABLE: deadlocked with serve 20 times in a row");
    }

    async fn release(self) {
        let result = match self {
            DatabaseLock::Sqlite(mut c) => sqlx::query("COMMIT").execute(&mut c).await.map(drop),
            DatabaseLock::Postgres(mut c) => sqlx::query("COMMIT").execute(&mut c).await.map(drop),
        };
        result.expect("COMMIT releases the lock");
    }
}

/// Appends a small donation from each of `donors`, one every 100 ms.
async fn feed(to: &str, donors: &[String]) {
    for donor in donors {
        let raw = donation(donor, to, &unique_id(), "We can donate 25 boxes of gloves.");
        append(to, "INBOX", &raw).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The stored messages now (read while the lock is held: SQLite's WAL readers
/// and plain PostgreSQL reads pass).
async fn stored_count(app: &App) -> usize {
    app.store.list_messages(None, 10_000).await.unwrap().len()
}

/// Stored messages not yet processed.
async fn waiting_count(app: &App) -> i64 {
    let counts = app.store.message_counts().await.unwrap();
    counts
        .iter()
        .filter(|(state, _)| state == "received" || state == "processing")
        .map(|(_, n)| n)
        .sum()
}

/// `serve`'s log so far, without colours.
fn serve_log(app: &App) -> String {
    std::fs::read_to_string(app.path("serve.log")).unwrap_or_default()
}

/// How each stage's log lines are told apart.
const STAGES: [&str; 3] = ["supplyline::fetch", "stage=\"process\"", "stage=\"send\""];

/// Log lines of `serve` saying the database was busy, from the stage that
/// `marker` names (one of [`STAGES`]; "" for any).
fn busy_errors(log: &str, marker: &str) -> usize {
    log.lines()
        .filter(|l| l.contains("database busy") && l.contains(marker))
        .count()
}

/// After a lock: every message stored once, every donor answered once,
/// `serve` still running and stopping cleanly on SIGTERM.
async fn assert_all_answered_once(app: &App, child: &mut std::process::Child, donors: &[String]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !all_sent(app, donors.len() as i64).await {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("serve exited ({status}):\n{}", serve_log(app));
        }
        let counts = app.store.reply_counts().await.unwrap();
        assert!(
            tokio::time::Instant::now() < deadline,
            "replies after 30 s: {counts:?}\n{}",
            serve_log(app)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.wait_processed(donors.len()).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "serve is still running"
    );
    assert!(terminate(child).success(), "serve exits cleanly on SIGTERM");
    assert_store_matches_mailbox(app).await;
    assert_eq!(
        app.store.list_offers(None, 1000).await.unwrap().len(),
        donors.len()
    );
    for donor in donors {
        assert_eq!(
            fetch_all(donor, "INBOX").await.len(),
            1,
            "{donor}'s acknowledgements"
        );
    }
    assert!(!serve_log(app).contains("a stage stopped"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_locked_briefly_by_another_process_makes_work_wait() {
    // Longer than a processing batch, shorter than the busy timeout (30 s;
    // PostgreSQL's lock_timeout).
    const LOCK: Duration = Duration::from_secs(3);
    let _up = stack_shared().await;
    let app = App::prepare("").await;
    let donors: Vec<String> = (0..10).map(|_| unique_address("donor")).collect();
    let mut child = app.spawn_process(&app.path("serve.log"));
    feed(&app.donations, &donors[..5]).await;
    eventually(Duration::from_secs(30), "the first five stored", || async {
        stored_count(&app).await == 5
    })
    .await;

    let lock = DatabaseLock::take(&app.db_url).await;
    let before = stored_count(&app).await;
    feed(&app.donations, &donors[5..]).await;
    tokio::time::sleep(LOCK.saturating_sub(Duration::from_millis(500))).await;
    let during = stored_count(&app).await;
    lock.release().await;
    println!("stored: {before} when the lock was taken, {during} while it was held");
    assert_eq!(
        before, during,
        "nothing can be stored while the lock is held"
    );

    assert_all_answered_once(&app, &mut child, &donors).await;
    let log = serve_log(&app);
    assert_eq!(
        busy_errors(&log, ""),
        0,
        "a lock shorter than the busy timeout is waited out:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_locked_longer_than_the_busy_timeout_delays_work_and_loses_nothing() {
    const BUSY_TIMEOUT_SECS: u64 = 2;
    let _up = stack_shared().await;
    let app = App::prepare("").await;
    let config = std::fs::read_to_string(app.config_path()).unwrap();
    let config = config.replacen(
        "[database]\n",
        &format!("[database]\nbusy_timeout_secs = {BUSY_TIMEOUT_SECS}\n"),
        1,
    );
    std::fs::write(app.config_path(), config).unwrap();
    let mut donors: Vec<String> = (0..10).map(|_| unique_address("donor")).collect();
    let mut child = app.spawn_process(&app.path("serve.log"));

    feed(&app.donations, &donors).await;
    eventually(Duration::from_secs(30), "the first ten stored", || async {
        stored_count(&app).await == 10
    })
    .await;

    let lock = lock_while_a_long_message_waits(&app, &mut donors).await;
    let locked_at = tokio::time::Instant::now();
    let before = stored_count(&app).await;
    let late: Vec<String> = (0..9).map(|_| unique_address("donor")).collect();
    donors.extend(late.iter().cloned());
    feed(&app.donations, &late).await;
    // Held until each stage has met it and said so.
    eventually(
        Duration::from_secs(30),
        "each stage to meet the lock",
        || async {
            let log = serve_log(&app);
            STAGES.iter().all(|stage| busy_errors(&log, stage) > 0)
        },
    )
    .await;
    let during = stored_count(&app).await;
    lock.release().await;
    println!(
        "lock held {:?}; stored: {before} when it was taken, {during} while it was held",
        locked_at.elapsed()
    );
    assert_eq!(
        before, during,
        "nothing can be stored while the lock is held"
    );

    assert_all_answered_once(&app, &mut child, &donors).await;
    let log = serve_log(&app);
    let counts: Vec<String> = STAGES
        .iter()
        .map(|stage| format!("{stage} {}", busy_errors(&log, stage)))
        .collect();
    println!("'database busy' errors logged: {}", counts.join(", "));
}
