//! Bounces suppress the address (#12): delivery status notifications of
//! several MTAs (tests/fixtures/dsn, the recipient and Message-ID replaced
//! by the real ones) delivered to the donations mailbox; the next reply to
//! the address, automatic or from staff, is held with the reason.

use std::time::Duration;

use supplyline::decide::{self, Desk};
use supplyline::outbox::Composer;
use supplyline::state::ReplyState;
use supplyline::values::OfferRef;

use crate::app::{donation, unique_id, App};
use crate::common::{append, stack_shared, unique_address, wait_for_count};

const WAIT: Duration = Duration::from_secs(30);

/// A fixture DSN returning the reply `ack_id` sent to `donor`, from the
/// mailer daemon to `to`.
fn dsn(
    fixture: &str,
    fixture_rcpt: &str,
    fixture_id: &str,
    donor: &str,
    ack_id: &str,
    to: &str,
) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/dsn/{fixture}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = String::from_utf8(std::fs::read(path).unwrap()).unwrap();
    assert!(
        text.contains(fixture_rcpt) && text.contains(fixture_id),
        "{fixture}"
    );
    // A fresh Message-ID of its own, so each delivery is a new message.
    let own = format!("Message-ID: <{}@mx.example.test>\r\n", unique_id());
    format!(
        "{own}{}",
        text.replace(fixture_rcpt, donor)
            .replace(fixture_id, ack_id)
    )
    .replace("donations@city.example", to)
    .replacen("Message-Id: <", "X-Original-Id: <", 1)
    .into_bytes()
}

/// The Message-ID of a raw message, without its angle brackets.
fn message_id(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let line = text
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
        .expect("a Message-ID header");
    line[11..].trim().trim_matches(['<', '>']).to_string()
}

/// A donation from `donor`; waits for its acknowledgement and returns the ack's Message-ID.
async fn donate_and_get_ack(app: &App, donor: &str, acks_before: usize) -> String {
    let raw = donation(
        donor,
        &app.donations,
        &unique_id(),
        "We have 30 boxes of gloves.",
    );
    append(&app.donations, "INBOX", &raw).await;
    let mut acks = wait_for_count(donor, "INBOX", acks_before + 1, WAIT).await;
    message_id(&acks.remove(acks_before))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hard_bounce_suppresses_the_address_and_later_replies_are_held_with_the_reason() {
    let _up = stack_shared().await;
    // No per-sender window: the donor's second offer would get an
    // acknowledgement, were the address not suppressed.
    let mut app = App::prepare_donations("reply_window_secs = 0").await;
    app.restart().await;
    let donor = unique_address("bouncing-donor");
    let ack_id = donate_and_get_ack(&app, &donor, 0).await;

    let gmail = dsn(
        "gmail-hard.eml",
        "sewing.circle.maria@gmail.com",
        "SL-ack-5.9f8e7d@donations.city.example",
        &donor,
        &ack_id,
        &app.donations,
    );
    append(&app.donations, "INBOX", &gmail).await;
    app.wait_processed(2).await;
    let suppression = app.store.suppression(&donor).await.unwrap();
    let suppression = suppression.expect("the address is suppressed");
    assert!(
        suppression.reason.contains("hard bounce 5.1.1") && suppression.reason.contains("550"),
        "{suppression:?}"
    );

    // The donor writes again: the acknowledgement is held, saying why.
    let raw = donation(&donor, &app.donations, &unique_id(), "And 500 N95 masks.");
    append(&app.donations, "INBOX", &raw).await;
    app.wait_processed(3).await;
    // A staff reply on the first offer is held too.
    let offers = app.store.list_offers(None, 10).await.unwrap();
    assert_eq!(offers.len(), 2, "the bounce is no offer");
    let composer = Composer::new(None, &app.donations, "Test Donations Desk", None).unwrap();
    let store = app.store.clone();
    let desk = Desk {
        store: &store,
        composer: &composer,
        actor: "triager@city.example",
    };
    let first = OfferRef::from(offers.iter().map(|o| o.id).min().unwrap());
    decide::decline(desk, first, "We have enough gloves.", true)
        .await
        .unwrap();
    app.stop().await;
    let drained = app.drain().await;
    assert_eq!(
        drained.replies_sent(),
        0,
        "nothing goes to the address: {drained:?}"
    );

    let replies = app.replies_to(&donor).await;
    let states: Vec<_> = replies.iter().map(|r| (r.kind.as_str(), r.state)).collect();
    assert_eq!(replies.len(), 3, "{replies:#?}");
    let bounced = states.iter().filter(|s| s.1 == ReplyState::Bounced).count();
    assert_eq!(bounced, 1, "the first automatic reply bounced: {states:?}");
    assert!(
        states.contains(&("decline", ReplyState::Held)),
        "{states:?}"
    );
    let held = states.iter().filter(|s| s.1 == ReplyState::Held).count();
    assert_eq!(
        held, 2,
        "the second offer's automatic reply is held too: {states:?}"
    );
    for held in replies.iter().filter(|r| r.state == ReplyState::Held) {
        let reason = held.held_reason.as_deref().unwrap_or("");
        assert!(
            reason.contains("address suppressed") && reason.contains("5.1.1"),
            "{reason}"
        );
    }
    assert_eq!(wait_for_count(&donor, "INBOX", 1, WAIT).await.len(), 1);

    // Lifted, a held reply sent on by staff goes out.
    assert!(app
        .store
        .lift_suppression(&donor, "triager@city.example")
        .await
        .unwrap());
    let held = replies.iter().find(|r| r.kind == "decline").unwrap();
    decide::send_held(desk, held.id).await.unwrap();
    let drained = app.drain().await;
    assert_eq!(drained.replies_sent(), 1, "{drained:?}");
    wait_for_count(&donor, "INBOX", 2, WAIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soft_bounces_count_and_suppress_at_the_limit_and_delay_warnings_do_not() {
    let _up = stack_shared().await;
    let mut app = App::prepare_donations("soft_bounces_to_suppress = 2").await;
    app.restart().await;
    let donor = unique_address("full-mailbox");
    let ack_id = donate_and_get_ack(&app, &donor, 0).await;
    let soft = |fixture: &str, rcpt: &str, id: &str| {
        dsn(fixture, rcpt, id, &donor, &ack_id, &app.donations)
    };
    let delayed = soft(
        "postfix-delayed.eml",
        "orders@supplies.example",
        "SL-ack-2.71aa03@donations.city.example",
    );
    append(&app.donations, "INBOX", &delayed).await;
    app.wait_processed(2).await;
    assert!(
        app.store.suppressions().await.unwrap().is_empty(),
        "a warning is no bounce"
    );
    let replies = app.replies_to(&donor).await;
    assert_eq!(replies[0].state, ReplyState::Sent, "{replies:?}");

    for (n, (fixture, rcpt, id)) in [
        (
            "postfix-soft-gave-up.eml",
            "orders@supplies.example",
            "SL-ack-2.71aa03@donations.city.example",
        ),
        (
            "opensmtpd-soft-expired.eml",
            "info@shop.example",
            "SL-ack-7.5a4b3c@donations.city.example",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        append(&app.donations, "INBOX", &soft(fixture, rcpt, id)).await;
        app.wait_processed(3 + n).await;
        let listed = app.store.suppressions().await.unwrap();
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(listed[0].soft_bounces, n as i64 + 1);
        assert_eq!(listed[0].suppressed_at.is_some(), n == 1, "{listed:?}");
    }
    let suppression = app.store.suppression(&donor).await.unwrap().unwrap();
    assert!(
        suppression.reason.starts_with("2 soft bounces"),
        "{suppression:?}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_mtas_hard_bounce_suppresses_its_address() {
    let _up = stack_shared().await;
    let mut app = App::start().await;
    let fixtures = [
        (
            "postfix-hard-user-unknown.eml",
            "jdoe@clinic.example",
            "SL-ack-1.5f2c9d@donations.city.example",
            "5.1.1",
        ),
        (
            "exim-two-recipients.eml",
            "warehouse@depot.example",
            "SL-ack-3.0b9e44@donations.city.example",
            "5.0.0",
        ),
        (
            "exchange-o365-hard.eml",
            "procurement@hospital.example",
            "SL-ack-4.c4d2e1@donations.city.example",
            "5.1.10",
        ),
        (
            "gmail-hard.eml",
            "sewing.circle.maria@gmail.com",
            "SL-ack-5.9f8e7d@donations.city.example",
            "5.1.1",
        ),
        (
            "opensmtpd-hard.eml",
            "pantry@foodbank.example",
            "SL-ack-6.3e2d1c@donations.city.example",
            "5.1.1",
        ),
    ];
    let mut donors = Vec::new();
    for (fixture, rcpt, id, _) in fixtures {
        let donor = unique_address("mta");
        let ack_id = donate_and_get_ack(&app, &donor, 0).await;
        append(
            &app.donations,
            "INBOX",
            &dsn(fixture, rcpt, id, &donor, &ack_id, &app.donations),
        )
        .await;
        donors.push(donor);
    }
    app.wait_processed(2 * fixtures.len()).await;
    for ((fixture, _, _, status), donor) in fixtures.iter().zip(&donors) {
        let s = app.store.suppression(donor).await.unwrap();
        let s = s.unwrap_or_else(|| panic!("{fixture}: {donor} not suppressed"));
        assert!(
            s.reason.contains(&format!("hard bounce {status}")),
            "{fixture}: {s:?}"
        );
    }
    app.stop().await;
}
