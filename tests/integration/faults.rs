//! Faults: the process killed at random moments, servers going away, the
//! mailbox recreated. Afterwards every message is stored once and every
//! donor answered once.

use std::time::Duration;

use rand::{Rng, SeedableRng};

use crate::app::{donation, unique_id, App};
use crate::common::imap::{login, Security};
use crate::common::{
    append, create_mailbox, dovecot_restart, fetch_all, stack_exclusive, stack_shared,
    unique_address,
};

/// Polls until `check` is true, at most `limit`.
async fn eventually<F: std::future::Future<Output = bool>>(
    limit: Duration,
    what: &str,
    mut check: impl FnMut() -> F,
) {
    let deadline = tokio::time::Instant::now() + limit;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn all_sent(app: &App, n: i64) -> bool {
    let replies = app.store.reply_counts().await.unwrap();
    replies == vec![("sent".to_string(), n)]
}

fn kill(child: &mut std::process::Child) {
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

fn terminate(child: &mut std::process::Child) -> std::process::ExitStatus {
    let pid = child.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    child.wait().unwrap()
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
    // A kill between the SMTP server's 250 and our commit can repeat one
    // reply; nothing else may.
    assert!(
        duplicates <= KILLS,
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
