//! A surge of acknowledgements through the real OpenSMTPD, which ends a
//! session after 100 messages ("452 4.5.3 Too many messages sent"): every
//! donor answered once, and the session limit costs no reply an attempt.

use std::time::Duration;

use supplyline::state::ReplyState;

use crate::app::{donation, eventually, plain_smtp_section, unique_id, App};
use crate::common::{append, fetch_all, stack_shared, unique_address, wait_for_count};

/// More than two of OpenSMTPD's 100-message sessions.
const DONORS: usize = 250;

/// Queues an offer from each of `DONORS` new donors, then runs `serve`
/// with `smtp` appended to its `[smtp]` section until every
/// acknowledgement is sent; returns the app (stopped) and the donors.
async fn surge(smtp: &str) -> (App, Vec<String>) {
    let smtp = format!("{}{smtp}", plain_smtp_section());
    let mut app = App::prepare_with_smtp(&smtp, "").await;
    let donors: Vec<String> = (0..DONORS).map(|_| unique_address("donor")).collect();
    for (i, donor) in donors.iter().enumerate() {
        let body = format!("We can donate {} N95 masks.", 100 + i);
        let raw = donation(donor, &app.donations, &unique_id(), &body);
        append(&app.donations, "INBOX", &raw).await;
    }
    app.restart().await;
    eventually(
        Duration::from_secs(120),
        "every acknowledgement sent",
        || async {
            app.store.reply_counts().await.unwrap() == vec![(ReplyState::Sent, DONORS as i64)]
        },
    )
    .await;
    app.stop().await;
    (app, donors)
}

/// Every donor's mailbox holds exactly one acknowledgement.
async fn assert_each_answered_once(donors: &[String]) {
    for donor in donors {
        wait_for_count(donor, "INBOX", 1, Duration::from_secs(60)).await;
    }
    for donor in donors {
        let acks = fetch_all(donor, "INBOX").await.len();
        assert_eq!(acks, 1, "{donor}'s acknowledgements");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_surge_through_one_session_at_a_time_opens_new_sessions_without_backoff() {
    let _up = stack_shared().await;
    // One connection, and no limit of our own: the server's 452 ends each session.
    let (app, donors) = surge("connections = 1\nmax_messages_per_session = 1000\n").await;
    assert_each_answered_once(&donors).await;
    let replies = app.replies().await;
    assert_eq!(replies.len(), DONORS);
    for reply in replies {
        assert_eq!(
            (reply.attempts, reply.last_error.as_deref()),
            (1, None),
            "the reply to {} was sent on its first attempt, without error",
            reply.to_address
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_surge_through_four_connections_answers_each_donor_once() {
    let _up = stack_shared().await;
    let (app, donors) = surge("connections = 4\n").await;
    assert_each_answered_once(&donors).await;
    let mut replies = app.replies().await;
    replies.sort_by(|a, b| a.to_address.cmp(&b.to_address));
    let mut expected = donors.clone();
    expected.sort();
    let addressed: Vec<&String> = replies.iter().map(|r| &r.to_address).collect();
    assert_eq!(
        addressed,
        expected.iter().collect::<Vec<_>>(),
        "one reply per donor"
    );
    assert!(replies.iter().all(|r| r.attempts == 1), "{replies:?}");
}
