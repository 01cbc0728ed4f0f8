//! Bulk decisions with Undo (#16), in Chromium as staff use them: several
//! offers ticked in the queue and declined at once show one confirmation
//! with one Undo; pressing it puts every offer back and no donor's real
//! mailbox (Dovecot) ever gets the decline, while a batch that is kept
//! reaches every donor exactly once when its undo time is over. The
//! history shows the decline and the undo of each offer.

use std::time::Duration;

use supplyline::config::WebConfig;

use crate::app::{item, offer, TestApp};
use crate::browser::Browser;
use crate::common;
use crate::http::press_for;
use crate::pages::signed_in;

/// Seeds one offer of masks from each of `n` new donors; returns
/// (donor, offer id) pairs.
async fn seed_donors(app: &TestApp, tag: &str, n: usize) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for k in 0..n {
        let donor = common::unique_address(&format!("{tag}{k}"));
        let subject = format!("masks {tag} {k}");
        let raw = format!(
            "From: Donor {k} <{donor}>\nSubject: {subject}\nMessage-ID: <{tag}-{k}-{donor}>\n\nWe have {k}00 masks.\n"
        );
        let items = vec![item("n95_respirator", 100.0, "each", &[])];
        let made = offer(&donor, &format!("Donor {k}"), &subject, "90501", items);
        out.push((donor, app.seed(raw.as_bytes(), made).await));
    }
    out
}

/// On the queue, ticks the offers `ids` and declines them with `reason`,
/// telling the donors.
async fn bulk_decline(b: &Browser, app: &TestApp, ids: &[i64], reason: &str) {
    b.goto(&app.url("/")).await;
    for id in ids {
        b.wait_for(&format!("input[name=ids][value='{id}']"))
            .await
            .click()
            .await
            .unwrap();
    }
    b.wait_for("form#bulk input[name=reason]")
        .await
        .send_keys(reason)
        .await
        .unwrap();
    b.click_through("button[name=action][value=decline]").await;
}

/// Waits until every reply queued so far is due.
async fn wait_until_due(app: &TestApp) {
    while let Some(due) = app.store.next_reply_due().await.unwrap() {
        let wait = due - supplyline::store::now_ms();
        if wait <= 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(wait as u64 + 50)).await;
    }
}

async fn status(app: &TestApp, id: i64) -> String {
    app.store.offer(id).await.unwrap().offer.status.to_string()
}

#[tokio::test]
async fn a_bulk_decline_undone_puts_every_offer_back_and_no_donor_gets_the_decline() {
    let _stack = common::stack_shared().await;
    // The default undo time (10 s).
    let app = TestApp::start_with(WebConfig::default()).await;
    let donors = seed_donors(&app, "batch-undone", 4).await;
    let (undone, control) = donors.split_at(3);
    let ids: Vec<i64> = undone.iter().map(|(_, id)| *id).collect();
    let b = signed_in(&app.url("/"), "triager@city.example").await;

    // Three of the four ticked and declined: one confirmation, one Undo.
    bulk_decline(&b, &app, &ids, "No masks needed now").await;
    let banner = b.wait_for("#undo-banner").await.text().await.unwrap();
    b.screenshot("batch-undo.png").await;
    assert!(banner.contains("3 offers declined"), "{banner}");
    assert!(!b.text().await.contains("Done: 3 offers."));
    for &id in &ids {
        assert_eq!(status(&app, id).await, "declined");
    }
    assert_eq!(status(&app, control[0].1).await, "new");

    b.click_through("#undo-batch").await;
    let said = b.wait_for("#undone-batch").await.text().await.unwrap();
    assert!(said.contains("3 offers back as they were"), "{said}");
    for &id in &ids {
        assert_eq!(status(&app, id).await, "new");
        let replies = app.store.offer(id).await.unwrap().replies;
        assert!(
            replies.iter().all(|r| r.state == "discarded"),
            "{replies:?}"
        );
        let history = app.store.offer_history(id).await.unwrap();
        let actions: Vec<&str> = history.iter().map(|h| h.action.as_str()).collect();
        assert!(actions.contains(&"declined"), "{actions:?}");
        assert!(
            history
                .iter()
                .any(|h| h.action == "undone" && h.detail.contains("one of 3 undone together")),
            "{actions:?}"
        );
    }
    // The history on the offer page shows both.
    b.goto(&app.url(&format!("/offers/{}", ids[0]))).await;
    let history = b.wait_for("ol.history").await.text().await.unwrap();
    assert!(history.contains("declined"), "{history}");
    assert!(
        history.contains("undone: declined undone, back to new"),
        "{history}"
    );

    // A second batch, kept, of the fourth offer: its decline arrives when
    // its time is over, after the undone ones would have been due.
    let (control_donor, control_id) = &control[0];
    bulk_decline(&b, &app, &[*control_id], "No masks needed now").await;
    assert!(b.text().await.contains("1 offer declined"));
    b.close().await;
    wait_until_due(&app).await;
    let got = app.send_all_to_mailbox(control_donor, 1).await;
    assert_eq!(got.len(), 1);
    assert!(got[0].contains("No masks needed now"), "{}", got[0]);
    for (donor, _) in undone {
        assert!(
            common::fetch_all(donor, "INBOX").await.is_empty(),
            "{donor} got a decline that was undone"
        );
    }
}

#[tokio::test]
async fn a_bulk_decline_kept_reaches_every_donor_exactly_once_after_the_undo_time() {
    let _stack = common::stack_shared().await;
    let app = TestApp::start_with(WebConfig::default()).await;
    let donors = seed_donors(&app, "batch-kept", 3).await;
    let ids: Vec<i64> = donors.iter().map(|(_, id)| *id).collect();
    let b = signed_in(&app.url("/"), "triager@city.example").await;
    bulk_decline(&b, &app, &ids, "We have enough masks").await;
    let banner = b.wait_for("#undo-banner").await.text().await.unwrap();
    assert!(banner.contains("3 offers declined"), "{banner}");
    assert!(b
        .client
        .find(fantoccini::Locator::Id("undo-batch"))
        .await
        .is_ok());
    b.close().await;

    // Within the window nothing is due: the emails wait in the outbox.
    let due = app.store.next_reply_due().await.unwrap().unwrap();
    assert!(due > supplyline::store::now_ms());
    wait_until_due(&app).await;
    for (donor, id) in &donors {
        let mail = app.send_all_to_mailbox(donor, 1).await;
        assert_eq!(mail.len(), 1, "{donor} got one email");
        assert!(mail[0].contains("We have enough masks"), "{}", mail[0]);
        assert_eq!(status(&app, *id).await, "declined");
    }
    // Sending again sends nothing more.
    for (donor, _) in &donors {
        let again = app.send_all_to_mailbox(donor, 1).await;
        assert_eq!(again.len(), 1, "{donor} got exactly one email");
    }
    // Once the time is over the batch cannot be undone.
    let (cookie, csrf) = crate::http::login_http(&app, "triager@city.example").await;
    let batch = first_batch(&app).await;
    let (status_code, location, _) =
        press_for(&app, &format!("/undo-batch/{batch}"), &cookie, &csrf).await;
    assert!(status_code.is_redirection(), "{status_code}");
    assert!(location.contains("undo_refused=expired"), "{location}");
    for &id in &ids {
        assert_eq!(status(&app, id).await, "declined");
    }
}

/// The id of the first batch of decisions.
async fn first_batch(app: &TestApp) -> i64 {
    use sqlx::Connection;
    let mut db = sqlx::SqliteConnection::connect(&app.db_url())
        .await
        .unwrap();
    sqlx::query_scalar("SELECT MIN(batch_id) FROM decision_undos")
        .fetch_one(&mut db)
        .await
        .unwrap()
}

const ME: &str = "triager@city.example";
const COLLEAGUE: &str = "colleague@city.example";

/// A second triager.
async fn add_colleague(app: &TestApp) {
    let hash = supplyline::web::auth::hash_password(crate::app::PASSWORD).unwrap();
    app.store
        .upsert_user(COLLEAGUE, &hash, supplyline::state::Role::Triager)
        .await
        .unwrap();
}

/// On the queue, ticks the offers `ids` and presses the bulk button `css`
/// after choosing `value` in the `<select>` `select`.
async fn bulk_choose(
    b: &Browser,
    app: &TestApp,
    ids: &[i64],
    select: &str,
    value: &str,
    css: &str,
) {
    b.goto(&app.url("/")).await;
    for id in ids {
        b.wait_for(&format!("input[name=ids][value='{id}']"))
            .await
            .click()
            .await
            .unwrap();
    }
    b.wait_for(select)
        .await
        .select_by_value(value)
        .await
        .unwrap();
    b.click_through(css).await;
}

/// The offer page's history, as staff read it.
async fn history_shown(b: &Browser, app: &TestApp, id: i64) -> String {
    b.goto(&app.url(&format!("/offers/{id}"))).await;
    b.wait_for("ol.history").await.text().await.unwrap()
}

#[tokio::test]
async fn a_bulk_assign_and_a_bulk_set_status_are_each_undone_with_one_undo() {
    let _stack = common::stack_shared().await;
    // The default undo time (10 s).
    let app = TestApp::start_with(WebConfig::default()).await;
    add_colleague(&app).await;
    let donors = seed_donors(&app, "batch-own", 3).await;
    let ids: Vec<i64> = donors.iter().map(|(_, id)| *id).collect();
    // One of them was the colleague's before.
    app.store
        .assign(ids[2], COLLEAGUE, Some(COLLEAGUE))
        .await
        .unwrap();
    let b = signed_in(&app.url("/"), "triager@city.example").await;

    // All three assigned to me: one confirmation, one Undo.
    bulk_choose(&b, &app, &ids, "#bulk-assign-to", ME, "#bulk-assign").await;
    let banner = b.wait_for("#undo-banner").await.text().await.unwrap();
    assert!(banner.contains("3 offers assigned"), "{banner}");
    assert!(!banner.contains("emails wait"), "{banner}");
    for &id in &ids {
        assert_eq!(app.store.assignee(id).await.unwrap().as_deref(), Some(ME));
    }
    b.click_through("#undo-batch").await;
    let said = b.wait_for("#undone-batch").await.text().await.unwrap();
    assert!(said.contains("3 offers back as they were."), "{said}");
    assert!(!said.contains("email"), "{said}");
    // Each has its own previous assignee back.
    assert_eq!(app.store.assignee(ids[0]).await.unwrap(), None);
    assert_eq!(app.store.assignee(ids[1]).await.unwrap(), None);
    assert_eq!(
        app.store.assignee(ids[2]).await.unwrap().as_deref(),
        Some(COLLEAGUE)
    );
    let history = history_shown(&b, &app, ids[2]).await;
    assert!(
        history.contains(&format!("{ME} assigned: to {ME}")),
        "{history}"
    );
    assert!(
        history.contains(&format!(
            "undone: assigned undone, back to {COLLEAGUE} (one of 3 undone together)"
        )),
        "{history}"
    );

    // Two set to needs_info: one Undo puts both back to new.
    let two = &ids[..2];
    bulk_choose(
        &b,
        &app,
        two,
        "#bulk-status",
        "needs_info",
        "#bulk-set-status",
    )
    .await;
    let banner = b.wait_for("#undo-banner").await.text().await.unwrap();
    assert!(banner.contains("2 offers set to needs_info"), "{banner}");
    for &id in two {
        assert_eq!(status(&app, id).await, "needs_info");
    }
    b.click_through("#undo-batch").await;
    let said = b.wait_for("#undone-batch").await.text().await.unwrap();
    assert!(said.contains("2 offers back as they were."), "{said}");
    for &id in two {
        assert_eq!(status(&app, id).await, "new");
    }
    assert_eq!(status(&app, ids[2]).await, "new");
    let history = history_shown(&b, &app, ids[0]).await;
    assert!(
        history.contains("status_set: new → needs_info"),
        "{history}"
    );
    assert!(
        history.contains("undone: status_set undone, back to new"),
        "{history}"
    );
    b.close().await;

    // Nothing of it was sent: no reply queued, no donor's mailbox got mail.
    for (donor, id) in &donors {
        assert!(app.store.offer(*id).await.unwrap().replies.is_empty());
        assert!(
            common::fetch_all(donor, "INBOX").await.is_empty(),
            "{donor}"
        );
    }
}

#[tokio::test]
async fn a_bulk_assign_changed_since_is_left_as_it_is_by_its_undo() {
    let app = TestApp::start_with(WebConfig::default()).await;
    add_colleague(&app).await;
    let donors = seed_donors(&app, "batch-moved", 2).await;
    let ids: Vec<i64> = donors.iter().map(|(_, id)| *id).collect();
    let (cookie, csrf) = crate::http::login_http(&app, ME).await;
    let form = format!(
        "csrf={csrf}&ids={}&ids={}&action=assign&to={ME}",
        ids[0], ids[1]
    );
    let (code, location, _) =
        crate::http::call(&app, crate::http::post("/bulk", &cookie, &form)).await;
    assert!(code.is_redirection(), "{code}");
    assert!(location.contains("undo_batch="), "{location}");
    // Meanwhile the colleague takes the second one.
    app.store
        .assign(ids[1], COLLEAGUE, Some(COLLEAGUE))
        .await
        .unwrap();
    let batch = first_batch(&app).await;
    let (_, location, _) = press_for(&app, &format!("/undo-batch/{batch}"), &cookie, &csrf).await;
    assert!(location.contains("undone_batch=1&kept=1"), "{location}");
    assert_eq!(app.store.assignee(ids[0]).await.unwrap(), None);
    assert_eq!(
        app.store.assignee(ids[1]).await.unwrap().as_deref(),
        Some(COLLEAGUE)
    );
}
