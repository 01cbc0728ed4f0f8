//! Replies held for approval: listed with their reason on the offer's page
//! and on the list the queue links to; Send lets the sender deliver one,
//! Discard takes one off the list for good.

use axum::http::StatusCode;
use supplyline::outbox::kinds::ReplyKind;
use supplyline::outbox::ReplyContext;
use supplyline::state::ReplyState;

use crate::app::{seed_two, TestApp};
use crate::browser::Browser;
use crate::http::{call, login_http, post, press};
use crate::pages::{HeldRepliesPage, LoginPage, OfferPage};

const UNAUTHENTICATED: &str = "sender not authenticated by the receiving server";
const OVER_LIMIT: &str = "over the hourly limit for gloves.example";

/// Holds an acknowledgement of `offer` for `reason`, as the relay would;
/// returns its id.
async fn hold_ack(app: &TestApp, offer: i64, reason: &str) -> i64 {
    let ctx = ReplyContext::for_offer(&app.store, offer, ReplyKind::Ack, None)
        .await
        .unwrap();
    let reply = app.state.composer.compose(&ctx).unwrap();
    assert!(app
        .store
        .hold_reply(Some(offer), &reply, reason)
        .await
        .unwrap());
    let replies = app.store.offer(offer).await.unwrap().replies;
    replies.last().unwrap().id
}

async fn reply_state(app: &TestApp, offer: i64, id: i64) -> ReplyState {
    let replies = app.store.offer(offer).await.unwrap().replies;
    replies.iter().find(|r| r.id == id).unwrap().state
}

#[tokio::test]
async fn held_replies_are_shown_with_their_reason_then_sent_or_discarded() {
    let app = TestApp::start().await;
    let (dentist, gloves) = seed_two(&app).await;
    let to_send = hold_ack(&app, dentist, UNAUTHENTICATED).await;
    let to_discard = hold_ack(&app, gloves, OVER_LIMIT).await;
    assert!(app.send_all().await.is_empty(), "held replies are not sent");

    let b = Browser::start().await;
    let queue = LoginPage::open(&b, &app.url("/"))
        .await
        .login_as("triager@city.example")
        .await;
    assert!(queue.held_notice().await.contains("2 replies held"));
    let held = queue.open_held_replies().await;
    let rows = held.rows().await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(
        rows[0].contains(&format!("SL-{dentist:06}"))
            && rows[0].contains("ana@dentist.example")
            && rows[0].contains(UNAUTHENTICATED),
        "{rows:?}"
    );
    assert!(rows[1].contains(OVER_LIMIT), "{rows:?}");
    b.screenshot("held.png").await;

    // On the offer's page: the reply, its reason, and Send.
    let offer = OfferPage::open(&b, &app.url(&format!("/offers/{dentist}"))).await;
    let line = offer.reply_line(to_send).await;
    assert!(
        line.contains("held") && line.contains(UNAUTHENTICATED),
        "{line}"
    );
    let offer = offer.send_held(to_send).await;
    assert!(offer.reply_line(to_send).await.contains("pending"));
    assert_eq!(
        reply_state(&app, dentist, to_send).await,
        ReplyState::Pending
    );
    let sent = app.send_all().await;
    assert_eq!(sent.len(), 1, "the sender delivers what was sent on");
    let reference = format!("SL-{dentist:06}");
    assert!(
        sent[0].contains("ana@dentist.example") && sent[0].contains(&reference),
        "{}",
        sent[0]
    );
    assert_eq!(reply_state(&app, dentist, to_send).await, ReplyState::Sent);

    // On the list: Discard takes it off for good.
    let held = HeldRepliesPage::open(&b, &app.url("/replies/held")).await;
    assert_eq!(held.rows().await.len(), 1);
    let held = held.discard(to_discard).await;
    assert!(held.rows().await.is_empty());
    assert_eq!(
        reply_state(&app, gloves, to_discard).await,
        ReplyState::Discarded
    );
    assert_eq!(
        app.send_all().await.len(),
        1,
        "a discarded reply is never sent"
    );
    b.close().await;
}

#[tokio::test]
async fn only_a_triager_sends_a_held_reply_and_it_returns_only_to_this_site() {
    let app = TestApp::start().await;
    let (dentist, _) = seed_two(&app).await;
    let id = hold_ack(&app, dentist, UNAUTHENTICATED).await;
    let send = format!("/replies/{id}/send");
    let (cookie, csrf) = login_http(&app, "viewer@city.example").await;
    assert_eq!(
        press(&app, &send, &cookie, &csrf).await,
        StatusCode::FORBIDDEN
    );
    let (cookie, csrf) = login_http(&app, "triager@city.example").await;
    assert_eq!(press(&app, &send, &cookie, "").await, StatusCode::FORBIDDEN);
    assert_eq!(reply_state(&app, dentist, id).await, ReplyState::Held);
    let form = format!("csrf={csrf}&back=https%3A%2F%2Fevil.example%2F");
    let (status, location, _) = call(&app, post(&send, &cookie, &form)).await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/replies/held")
    );
    assert_eq!(reply_state(&app, dentist, id).await, ReplyState::Pending);
    // Once sent on, it is no longer held: a second press is refused.
    let (status, _, page) = call(&app, post(&send, &cookie, &form)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{page}");
    assert!(page.contains("this reply is pending, not held"), "{page}");
}

/// Puts `address` on the suppression list as a hard bounce would (no page
/// does that).
async fn suppress(app: &TestApp, address: &str, reason: &str) {
    use sqlx::Connection;
    let mut db = sqlx::SqliteConnection::connect(&app.db_url())
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO suppressions (address, suppressed_at, reason, updated_at) VALUES (?, 1585069331000, ?, 0)",
    )
    .bind(address)
    .bind(reason)
    .execute(&mut db)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_suppressed_address_is_shown_on_its_offer_and_listed_and_a_triager_lifts_it() {
    const WHY: &str = "hard bounce 5.1.1 (smtp; 550 5.1.1 user unknown)";
    let app = TestApp::start().await;
    let (dentist, _) = seed_two(&app).await;
    suppress(&app, "ana@dentist.example", WHY).await;
    // A reply queued now is held with the reason, and nothing is sent.
    let id = {
        let ctx = ReplyContext::for_offer(&app.store, dentist, ReplyKind::Ack, None)
            .await
            .unwrap();
        let reply = app.state.composer.compose(&ctx).unwrap();
        let mut tx = app.store.begin_decision().await.unwrap();
        assert!(tx.enqueue(dentist, &reply).await.unwrap());
        tx.commit().await.unwrap();
        app.store
            .offer(dentist)
            .await
            .unwrap()
            .replies
            .last()
            .unwrap()
            .id
    };
    assert_eq!(reply_state(&app, dentist, id).await, ReplyState::Held);
    assert!(app.send_all().await.is_empty());

    // A viewer cannot lift it.
    let (cookie, csrf) = login_http(&app, "viewer@city.example").await;
    let form = format!("csrf={csrf}&address=ana%40dentist.example");
    let (status, _, _) = call(&app, post("/suppressions/lift", &cookie, &form)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let b = Browser::start().await;
    LoginPage::open(&b, &app.url(&format!("/offers/{dentist}")))
        .await
        .sign_in("triager@city.example")
        .await;
    let offer = OfferPage::loaded(&b).await;
    let notice = b.wait_for("p.suppressed").await.text().await.unwrap();
    assert!(
        notice.contains("No reply goes to ana@dentist.example") && notice.contains(WHY),
        "{notice}"
    );
    let line = offer.reply_line(id).await;
    assert!(line.contains("held") && line.contains(WHY), "{line}");
    b.goto(&app.url("/suppressions")).await;
    let row = b.wait_for("tr.suppression").await.text().await.unwrap();
    assert!(
        row.contains("ana@dentist.example") && row.contains("suppressed") && row.contains(WHY),
        "{row}"
    );
    b.screenshot("suppressions.png").await;
    b.wait_for("tr.suppression button.lift-suppression")
        .await
        .click()
        .await
        .unwrap();
    b.wait_for("h1").await;
    let row = b.wait_for("tr.suppression").await.text().await.unwrap();
    assert!(row.contains("lifted by triager@city.example"), "{row}");
    assert!(app
        .store
        .suppression("ana@dentist.example")
        .await
        .unwrap()
        .is_none());
    b.close().await;
}
